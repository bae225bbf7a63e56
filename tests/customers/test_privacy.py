"""Customer data export and erasure: a person seeded through the real paths (email over SMTP with an
attachment, the API, the portal with a sign-in link, live chat, a rating, a purchase, a resolution, a
block, a merge, webhooks, triage and themes in the background), then erased; a scan of every column of
every table (the full-text index included) must find nothing of theirs, and nothing of anyone else's may
go."""

from __future__ import annotations

import contextlib
import json
import smtplib
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, inspect, select, text

from ombud.accounts.schemas import SYSTEM
from ombud.channels.email.smtp import SmtpReceiver
from ombud.cli.main import main
from ombud.customers import privacy
from ombud.runtime import Runtime
from ombud.storage.models import metadata
from tests.channels.conftest import Relay, free_port, running_relay
from tests.conftest import Personas
from tests.mail_fixtures import (  # the receiver, api and cast fixtures: shared with tests/channels
    api_fixture,  # noqa: F401
    cast_fixture,  # noqa: F401
    mail_settings,
    receiver_fixture,  # noqa: F401
    running_runtime,
)
from tests.resolutions.helpers import propose, upload
from tests.web.test_portal import DESK as SUPPORT
from tests.web.test_portal import ask_for_link, csrf_of, link_in, use_link

NAME = "Philippa Quennell-Ashbury"
EMAIL = "p.quennell@erasure-test.example"
EMAIL2 = "philippa.q@another-mail.example"
PHONE = "+447700900123"
ORDER = "QA-7781-PQ"
FILE_BYTES = b"%PDF-1.4 receipt-bytes-pq-9931"
# Words only this person ever wrote (and the agents' replies quoting them): none may survive anywhere.
PHRASES = ["zebra-striped toaster", "marmalade catapult", "kumquat harvester", "heliotrope cardigan"]
PHRASES += ["quince juggler", "receipt-bytes-pq-9931"]
NEEDLES = [n.lower() for n in [NAME, "quennell", EMAIL, EMAIL2, PHONE, "7700900123", ORDER, *PHRASES]]
OTHER_TEXT = "my neighbour's walrus-shaped kettle is fine"


@pytest.fixture
def relay() -> Iterator[Relay]:
    with running_relay() as found:
        yield found


@pytest.fixture
def mail_runtime(tmp_path: Path, database_url: str, relay: Relay) -> Iterator[Runtime]:
    with running_runtime(mail_settings(tmp_path, database_url, relay, email_address=SUPPORT)) as built:
        yield built


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def send_email(receiver: SmtpReceiver) -> None:
    message = EmailMessage()
    message["From"] = f"{NAME} <{EMAIL}>"
    message["To"] = SUPPORT
    message["Subject"] = "My zebra-striped toaster sparks"
    message["Message-ID"] = "<pq-1@erasure-test.example>"
    message.set_content(f"Hello, my zebra-striped toaster sparks. Call me on {PHONE}. Regards, {NAME}")
    message.add_attachment(FILE_BYTES, maintype="application", subtype="pdf", filename="receipt-quennell.pdf")
    with smtplib.SMTP("127.0.0.1", receiver.port, timeout=120) as client:
        assert client.sendmail(EMAIL, [SUPPORT], bytes(message)) == {}


def seed_person(api: TestClient, cast: Personas, receiver: SmtpReceiver, relay: Relay) -> dict[str, Any]:
    """Everything a busy customer leaves behind, through the paths they really take."""
    admin, agent = cast.admin, cast.agent
    # A webhook subscriber: every ticket event of theirs becomes a delivery with a payload.
    hook = {"name": "CRM", "url": f"http://127.0.0.1:{free_port()}/hook", "events": ["ticket.created"]}
    ok(api.post("/api/v1/webhooks", json=hook, headers=admin.headers), 201)

    send_email(receiver)
    by_email = ok(api.get("/api/v1/tickets", params={"q": "toaster"}, headers=agent.headers))["items"]
    assert len(by_email) == 1, by_email
    customer_id = int(by_email[0]["customer_id"])
    first = ok(api.get(f"/api/v1/tickets/{by_email[0]['id']}", headers=agent.headers))
    assert first["messages"][0]["attachments"], first
    ok(
        api.post(
            f"/api/v1/tickets/{first['id']}/messages",
            json={"body": f"Hello {NAME}, sorry about the zebra-striped toaster. A new one is on its way."},
            headers=agent.headers,
        ),
        201,
    )
    ok(
        api.post(
            f"/api/v1/tickets/{first['id']}/messages",
            json={
                "body": f"Internal: {NAME} called twice about the toaster, phone {PHONE}",
                "internal": True,
            },
            headers=agent.headers,
        ),
        201,
    )
    # The API with a phone, then a profile edit with notes.
    second = ok(
        api.post(
            "/api/v1/tickets",
            json={
                "customer": {"email": EMAIL, "phone": PHONE, "name": NAME},
                "channel": "phone",
                "subject": "Marmalade catapult jammed",
                "body": "The marmalade catapult I bought jammed after a day. I want my money back.",
            },
            headers=agent.headers,
        ),
        201,
    )
    assert second["customer_id"] == customer_id
    ok(
        api.patch(
            f"/api/v1/customers/{customer_id}",
            json={"notes": f"{NAME} prefers calls after six", "preferences": {"language": "en"}},
            headers=agent.headers,
        )
    )
    purchase = ok(
        api.post(
            f"/api/v1/customers/{customer_id}/purchases",
            json={
                "product": "Marmalade catapult",
                "order_number": ORDER,
                "amount": 40,
                "currency": "EUR",
                "purchased_at": "2026-11-01T10:00:00+00:00",
            },
            headers=agent.headers,
        ),
        201,
    )
    upload(api, cast)
    propose(api, agent, second["id"], purchase_id=purchase["id"], note=f"Refund for {NAME}, order {ORDER}")

    # The portal: a sign-in link by email, a reply, a rating.
    assert ask_for_link(api, EMAIL).status_code == 200
    assert use_link(api, link_in(relay, EMAIL)).status_code == 303
    page = api.get(f"/portal/tickets/{second['id']}")
    assert page.status_code == 200, page.text
    posted = api.post(
        f"/portal/tickets/{second['id']}/reply",
        data={"body": "Also the kumquat harvester attachment is missing.", "csrf_token": csrf_of(page)},
    )
    assert posted.status_code in (200, 303), posted.text
    rated = api.post(
        f"/portal/tickets/{first['id']}/rating",
        data={"score": 4, "comment": "The heliotrope cardigan agent was lovely", "csrf_token": csrf_of(page)},
    )
    assert rated.status_code in (200, 303), rated.text
    api.cookies.clear()

    # Live chat, by email, as the same person.
    token = ok(api.post("/chat/api/visitors", json={"name": NAME, "email": EMAIL}), 201)["token"]
    line = ok(
        api.post(
            "/chat/api/messages",
            json={"text": "My quince juggler broke, can you help?", "client_id": "pq-1"},
            headers={"X-Chat-Token": token},
        ),
        201,
    )
    # A second record of the same person (another address), merged into the first.
    twin = ok(
        api.post(
            "/api/v1/tickets",
            json={
                "customer": {"email": EMAIL2, "name": NAME},
                "channel": "email",
                "subject": "Quince juggler",
                "body": "Writing from my other address about the quince juggler.",
            },
            headers=agent.headers,
        ),
        201,
    )
    ok(
        api.post(
            f"/api/v1/customers/{customer_id}/merge",
            json={"source_id": twin["customer_id"]},
            headers=admin.headers,
        ),
        201,
    )
    # The widget's address is the visitor's unverified word, so the chat made a customer of its own: the
    # agent recognises the person and merges it too (an erasure takes only what is linked to the customer).
    chat = ok(api.get(f"/api/v1/tickets/{line['ticket_id']}", headers=agent.headers))
    if chat["customer_id"] != customer_id:
        merged = api.post(
            f"/api/v1/customers/{customer_id}/merge",
            json={"source_id": chat["customer_id"]},
            headers=admin.headers,
        )
        ok(merged, 201)
    # A block of one of their addresses (a value block, no customer id on the row).
    ok(
        api.post(
            "/api/v1/blocks",
            json={"kind": "email", "value": EMAIL2, "reason": f"{NAME} spammed us"},
            headers=cast.lead.headers,
        ),
        201,
    )
    return {
        "customer_id": customer_id,
        "twin_id": twin["customer_id"],
        "chat_customer_id": chat["customer_id"],
        "chat_ticket": line["ticket_id"],
    }


def seed_bystander(api: TestClient, cast: Personas) -> dict[str, Any]:
    """Another customer whose message happens to quote the person's address."""
    return ok(
        api.post(
            "/api/v1/tickets",
            json={
                "customer": {"email": "tom@example.org", "name": "Tom Bystander"},
                "channel": "email",
                "subject": "Walrus kettle",
                "body": f"{OTHER_TEXT}; please also write to {EMAIL}",
            },
            headers=cast.agent.headers,
        ),
        201,
    )


def _engine(runtime: Runtime) -> Engine:
    return create_engine(runtime.settings.effective_database_url)


def scan(runtime: Runtime, needles: list[str]) -> list[str]:
    """Every occurrence of a needle in any column of any table (virtual and shadow tables of the full-text
    index included; binary columns read as text; JSON read as stored and decoded)."""
    engine = _engine(runtime)
    found = []
    try:
        with engine.connect() as conn:
            for table in inspect(conn).get_table_names():
                rows = conn.execute(text(f'SELECT * FROM "{table}"')).mappings().all()
                for row in rows:
                    for column, value in row.items():
                        if value is None or isinstance(value, int | float | bool):
                            continue
                        if isinstance(value, bytes | memoryview):
                            haystack = bytes(value).decode("utf-8", "ignore").lower()
                        elif isinstance(value, dict | list):
                            haystack = json.dumps(value, ensure_ascii=False).lower()
                        else:
                            haystack = str(value).lower()
                            if haystack[:1] in "[{":
                                with contextlib.suppress(ValueError):
                                    haystack += json.dumps(json.loads(haystack), ensure_ascii=False).lower()
                        found += [f"{table}.{column}: {n}" for n in needles if n in haystack]
    finally:
        engine.dispose()
    return sorted(set(found))


def counts(runtime: Runtime) -> dict[str, int]:
    engine = _engine(runtime)
    try:
        with engine.connect() as conn:
            return {
                t.name: int(conn.execute(select(text("count(*)")).select_from(t)).scalar_one())
                for t in metadata.sorted_tables
            }
    finally:
        engine.dispose()


@pytest.mark.slow  # seeds through SMTP, the portal, chat and the background jobs: 15-30 s per engine
def test_erasure_leaves_nothing_of_the_person_and_everything_of_others(
    api: TestClient, cast: Personas, receiver: SmtpReceiver, relay: Relay, mail_runtime: Runtime
) -> None:
    person = seed_person(api, cast, receiver, relay)
    tom = seed_bystander(api, cast)
    maria = ok(
        api.post(
            "/api/v1/tickets",
            json={
                "customer": {"email": "maria@example.com"},
                "channel": "email",
                "subject": "Lamp",
                "body": "My lamp flickers.",
            },
            headers=cast.agent.headers,
        ),
        201,
    )
    before = counts(mail_runtime)
    # The seeding reached the places the erasure must clean: if a path stops writing, this says so.
    for table in (
        "raw_sources",
        "inbound_emails",
        "attachment_blobs",
        "message_triage",
        "concerns",
        "login_links",
        "rate_hits",
        "chat_visitors",
        "ticket_ratings",
        "purchases",
        "resolutions",
        "webhook_deliveries",
        "sender_blocks",
        "customer_merges",
        "deliveries",
        "events",
    ):
        assert before[table] > 0, table
    assert scan(mail_runtime, NEEDLES), "the seeding wrote none of the person's data"

    # The twin was merged away: erasing it is refused with a way forward, and nothing changes.
    refused = api.post(f"/api/v1/customers/{person['twin_id']}/erase", headers=cast.admin.headers)
    assert refused.status_code == 409, refused.text
    assert refused.json()["error"]["code"] == "customer_merged"
    assert f"customer {person['customer_id']}" in refused.json()["error"]["message"]

    engine = _engine(mail_runtime)
    with engine.connect() as conn:
        theirs = conn.execute(
            text("SELECT count(*) FROM tickets WHERE customer_id IN (:a, :b, :c)"),
            {"a": person["customer_id"], "b": person["twin_id"], "c": person["chat_customer_id"]},
        ).scalar_one()
    engine.dispose()
    assert theirs == 4  # email, API, chat and the twin's
    report = ok(api.post(f"/api/v1/customers/{person['customer_id']}/erase", headers=cast.admin.headers))
    print(json.dumps(report, indent=1))
    everyone = sorted({person["customer_id"], person["twin_id"], person["chat_customer_id"]})
    assert report["customer_ids"] == everyone
    assert report["deleted"]["tickets"] == theirs and report["deleted"]["customers"] == len(everyone)
    assert report["deleted"]["sender_blocks"] == 1 and report["deleted"]["raw_sources"] == 1

    leftovers = scan(mail_runtime, NEEDLES)
    assert leftovers == [], "\n".join(leftovers)

    # Nobody else lost anything: Tom's ticket keeps its words (only the person's address is gone from it),
    # Maria's ticket is whole, and the full-text search still finds them.
    tom_now = ok(api.get(f"/api/v1/tickets/{tom['id']}", headers=cast.agent.headers))
    assert tom_now["messages"][0]["body"] == f"{OTHER_TEXT}; please also write to {privacy.ERASED}"
    maria_now = ok(api.get(f"/api/v1/tickets/{maria['id']}", headers=cast.agent.headers))
    assert maria_now["messages"][0]["body"] == "My lamp flickers."
    for query, ticket_id in (("walrus", tom["id"]), ("lamp", maria["id"])):
        hits = ok(api.get("/api/v1/tickets", params={"q": query}, headers=cast.agent.headers))["items"]
        assert [h["id"] for h in hits] == [ticket_id]
    after = counts(mail_runtime)
    assert after["users"] == before["users"] and after["teams"] == before["teams"]
    assert after["customers"] == before["customers"] - len(everyone)
    assert after["tickets"] == before["tickets"] - theirs
    for gone in everyone:
        assert api.get(f"/api/v1/customers/{gone}", headers=cast.admin.headers).status_code == 404

    # The audit keeps that it happened, by whom, and the counts: and no detail of the person.
    engine = _engine(mail_runtime)
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT actor_type, actor_id, after FROM audit_events WHERE action = 'customer.erased'")
        ).all()
    engine.dispose()
    assert len(rows) == 1 and rows[0][0] == "user" and rows[0][1] == cast.admin.id
    recorded = rows[0][2] if isinstance(rows[0][2], dict) else json.loads(rows[0][2])
    assert recorded["deleted"]["tickets"] == theirs
    # Erasing again: the customer is gone.
    again = api.post(f"/api/v1/customers/{person['customer_id']}/erase", headers=cast.admin.headers)
    assert again.status_code == 404 and again.json()["error"]["code"] == "customer_not_found"


@pytest.mark.slow  # the same seeding as above
def test_export_holds_what_the_person_gave_and_not_the_internal_notes(
    api: TestClient, cast: Personas, receiver: SmtpReceiver, relay: Relay
) -> None:
    person = seed_person(api, cast, receiver, relay)
    document = ok(api.get(f"/api/v1/customers/{person['customer_id']}/export", headers=cast.admin.headers))
    assert document["format"] == "ombud.customer-export" and document["version"] == 1
    assert {c["id"] for c in document["customers"]} == {
        person["customer_id"],
        person["twin_id"],
        person["chat_customer_id"],
    }
    assert {(i["kind"], i["value"]) for i in document["identities"]} >= {
        ("email", EMAIL),
        ("email", EMAIL2),
        ("phone", PHONE),
    }
    assert len(document["tickets"]) == 4
    bodies = [m["body_text"] for t in document["tickets"] for m in t["messages"]]
    assert any("zebra-striped toaster" in b for b in bodies) and any("kumquat" in b for b in bodies)
    assert not any(b.startswith("Internal:") for b in bodies), "internal notes are not exported"
    files = [a for t in document["tickets"] for m in t["messages"] for a in m["attachments"]]
    assert [f["filename"] for f in files] == ["receipt-quennell.pdf"] and "data" not in files[0]
    assert any(m.get("triage") for t in document["tickets"] for m in t["messages"])
    assert [r["comment"] for r in document["ratings"]] == ["The heliotrope cardigan agent was lovely"]
    assert [p["order_number"] for p in document["purchases"]] == [ORDER]
    assert len(document["resolutions"]) == 1 and "note" not in document["resolutions"][0]
    assert document["chat_visitors"][0]["email"] == EMAIL
    assert document["portal_access"]["sign_in_links"][0]["email"] == EMAIL
    assert "token_hash" not in json.dumps(document)
    assert any(e["action"] == "ticket.created" for e in document["timeline"])
    # A merged-away customer is refused with the customer to ask for instead.
    twin = api.get(f"/api/v1/customers/{person['twin_id']}/export", headers=cast.admin.headers)
    assert twin.status_code == 409 and twin.json()["error"]["code"] == "customer_merged"


def person_ticket(client: TestClient, people: Personas, subject: str, body: str) -> dict[str, Any]:
    """A ticket of the person (by email, with their name) opened by the agent through the API."""
    return ok(
        client.post(
            "/api/v1/tickets",
            json={
                "customer": {"email": EMAIL, "name": NAME},
                "channel": "email",
                "subject": subject,
                "body": body,
            },
            headers=people.agent.headers,
        ),
        201,
    )


@pytest.mark.parametrize("role", ["lead", "agent", "advocate", "partner", "customer", None])
def test_only_admins_export_or_erase(client: TestClient, people: Personas, role: str | None) -> None:
    customer_id = people.customer.id
    headers = getattr(people, role).headers if role else {}
    for method, path in (("GET", "export"), ("POST", "erase")):
        response = client.request(method, f"/api/v1/customers/{customer_id}/{path}", headers=headers)
        if role is None:
            assert response.status_code == 401, response.text
        else:
            assert (response.status_code, response.json()["error"]["code"]) == (403, "role_forbidden")
    assert client.get(f"/api/v1/customers/{customer_id}", headers=people.admin.headers).status_code == 200


def test_erasure_is_all_or_nothing(
    client: TestClient, people: Personas, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    ticket = person_ticket(client, people, "Zebra-striped toaster", "The zebra-striped toaster again.")
    before = counts(runtime)

    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("disk on fire")

    # The last step fails after every delete ran: the request's transaction must undo all of it.
    monkeypatch.setattr(privacy, "_sweep_identifiers", broken)
    failed = client.post(f"/api/v1/customers/{ticket['customer_id']}/erase", headers=people.admin.headers)
    assert failed.status_code == 500
    assert counts(runtime) == before
    hits = ok(client.get("/api/v1/tickets", params={"q": "toaster"}, headers=people.agent.headers))["items"]
    assert [h["id"] for h in hits] == [ticket["id"]]


def test_cli_export_and_erase(runtime: Runtime, people: Personas, tmp_path: Path) -> None:
    url = runtime.settings.effective_database_url
    with runtime.database.session() as session:
        assert privacy.find_customer_id(session=session, ref="maria@example.com") == people.customer.id
    runner = CliRunner()
    out = tmp_path / "maria.json"
    exported = runner.invoke(
        main, ["customer", "export", "MARIA@example.com", "--out", str(out), "--database", url]
    )
    assert exported.exit_code == 0, exported.output
    assert json.loads(out.read_text())["identities"][0]["value"] == "maria@example.com"
    unconfirmed = runner.invoke(main, ["customer", "erase", "maria@example.com", "--database", url])
    assert unconfirmed.exit_code == 1 and "confirmation_required" in unconfirmed.output
    unknown = runner.invoke(main, ["customer", "erase", "nobody@example.com", "--yes", "--database", url])
    assert unknown.exit_code == 1 and "customer_not_found" in unknown.output
    erased = runner.invoke(main, ["customer", "erase", str(people.customer.id), "--yes", "--database", url])
    assert erased.exit_code == 0, erased.output
    assert f"erased customer {people.customer.id}" in erased.output and "deleted 1 customers" in erased.output
    with runtime.database.session() as session:
        with pytest.raises(privacy.NotFound):
            privacy.people_of(session=session, customer_id=people.customer.id)
        # The other customer is untouched.
        assert privacy.people_of(session=session, customer_id=people.other_customer.id) == [
            people.other_customer.id
        ]
    assert SYSTEM.is_admin


def _sign_in(client: TestClient, email: str) -> None:
    from ombud.accounts import service as accounts  # noqa: F401 (the personas have passwords set below)

    form = client.get("/login")
    response = client.post(
        "/login",
        data={"email": email, "password": "correct horse battery", "csrf_token": csrf_of(form)},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text


def test_workspace_buttons(client: TestClient, people: Personas, runtime: Runtime) -> None:
    from ombud.accounts import service as accounts
    from ombud.accounts import sessions

    with runtime.database.session() as session:
        for email in ("admin@desk.test", "agent@desk.test"):
            user = accounts.get_user_by_email(session=session, email=email)
            assert user is not None
            sessions.set_password(session=session, user=user, password="correct horse battery")
        session.commit()
    ticket = person_ticket(client, people, "Toaster", "The zebra-striped toaster sparks.")
    customer_id = ticket["customer_id"]
    _sign_in(client, "agent@desk.test")
    page = client.get(f"/agent/tickets/{ticket['id']}")
    assert page.status_code == 200 and f"/agent/customers/{customer_id}/erase" not in page.text
    refused = client.post(
        f"/agent/customers/{customer_id}/erase",
        data={"csrf_token": csrf_of(page), "confirm": f"erase customer {customer_id}"},
    )
    assert refused.status_code == 403
    client.cookies.clear()

    _sign_in(client, "admin@desk.test")
    page = client.get(f"/agent/tickets/{ticket['id']}")
    assert f"/agent/customers/{customer_id}/erase" in page.text
    csrf = csrf_of(page)
    no_csrf = client.post(
        f"/agent/customers/{customer_id}/erase", data={"confirm": f"erase customer {customer_id}"}
    )
    assert no_csrf.status_code == 403
    download = client.post(f"/agent/customers/{customer_id}/export", data={"csrf_token": csrf})
    assert download.status_code == 200 and "attachment" in download.headers["content-disposition"]
    assert download.json()["identities"][0]["value"] == EMAIL
    wrong = client.post(
        f"/agent/customers/{customer_id}/erase", data={"csrf_token": csrf, "confirm": "erase customer 1"}
    )
    assert wrong.status_code == 422 and "erase customer" in wrong.text
    assert client.get(f"/api/v1/tickets/{ticket['id']}", headers=people.agent.headers).status_code == 200
    done = client.post(
        f"/agent/customers/{customer_id}/erase",
        data={"csrf_token": csrf, "confirm": f"Erase customer {customer_id}"},
    )
    assert done.status_code == 200 and f"Customer #{customer_id} erased" in done.text
    assert client.get(f"/api/v1/tickets/{ticket['id']}", headers=people.agent.headers).status_code == 404


def test_every_table_is_decided() -> None:
    """A new table must be reached by the erasure (a customer_id, a cascading key) or be listed as holding
    no customer's rows in privacy.NOT_ABOUT_A_CUSTOMER: whoever adds it decides, here."""
    assert privacy.unclassified_tables() == []
    # And the walk really reaches the person's tables, not only the lists above.
    reached = (
        set(metadata.tables) - privacy.SCRUBBED - privacy.NOT_ABOUT_A_CUSTOMER - set(privacy.CONTENT_STORES)
    )
    assert {"tickets", "messages", "identities", "chat_visitors", "training_scenarios", "events"} <= reached
    assert {"webhook_deliveries", "rate_hits", "sender_blocks", "login_links", "quarantine"} <= reached
