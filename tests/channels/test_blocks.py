"""Sender blocks: a blocked sender's messages are dropped before anything is stored, on every channel
(the real SMTP receiver, the web form, the chat, the portal API), counted on the block; blocks expire and
can be lifted; only leads and admins block."""

from __future__ import annotations

import datetime as dt
import smtplib
from email.message import EmailMessage
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from ombud.channels.email.imap import ImapMailbox
from ombud.channels.email.smtp import SmtpReceiver
from ombud.channels.models import Quarantined, RawSource
from ombud.customers.models import Identity, SenderBlock
from ombud.runtime import Runtime
from ombud.tickets.models import Message, Ticket
from tests.channels.conftest import SUPPORT
from tests.channels.dovecot import DovecotServer
from tests.channels.test_imap import PASSWORD, USER, poll, server_state
from tests.channels.test_phone import _call
from tests.channels.test_social import _endpoint, _message, _post
from tests.conftest import Persona, Personas
from tests.web.workspace import form_csrf, sign_in

ABUSER = "rage.keller@grumpy-mail.example"
ABUSIVE = "You useless idiots, my AirBrew 2 has leaked for a week and nobody answers. Answer me NOW."


def mail(body: str, *, sender: str, message_id: str, subject: str = "AirBrew 2 leaking") -> bytes:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = f"Northwind Support <{SUPPORT}>"
    message["Subject"] = subject
    message["Message-ID"] = f"<{message_id}>"
    message.set_content(body)
    return bytes(message)


def send(receiver: SmtpReceiver, raw: bytes, envelope_from: str) -> None:
    """Send over real SMTP; smtplib raises unless the receiver answered 250."""
    with smtplib.SMTP("127.0.0.1", receiver.port, timeout=10) as client:
        refused = client.sendmail(envelope_from, [SUPPORT], raw)
    assert refused == {}


def block(api: TestClient, who: Persona, **fields: Any) -> dict[str, Any]:
    payload = {"reason": "Repeated insults towards agents on three tickets", **fields}
    response = api.post("/api/v1/blocks", json=payload, headers=who.headers)
    assert response.status_code == 201, response.text
    found: dict[str, Any] = response.json()
    return found


def the_block(api: TestClient, who: Persona, block_id: int) -> dict[str, Any]:
    response = api.get(f"/api/v1/blocks/{block_id}", headers=who.headers)
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


def counts(runtime: Runtime) -> dict[str, int]:
    with runtime.database.session(write=False) as session:
        return {
            "tickets": session.scalar(select(func.count()).select_from(Ticket)) or 0,
            "messages": session.scalar(select(func.count()).select_from(Message)) or 0,
            "raw": session.scalar(select(func.count()).select_from(RawSource)) or 0,
            "quarantined": session.scalar(select(func.count()).select_from(Quarantined)) or 0,
            "identities": session.scalar(select(func.count()).select_from(Identity)) or 0,
        }


def has_identity(runtime: Runtime, value: str) -> bool:
    with runtime.database.session(write=False) as session:
        return session.scalar(select(Identity.id).where(Identity.value == value)) is not None


def test_a_blocked_email_sender_is_dropped_before_anything_is_stored(
    api: TestClient, cast: Personas, receiver: SmtpReceiver, mail_runtime: Runtime
) -> None:
    made = block(api, cast.lead, kind="email", value=ABUSER.upper())
    assert made["value"] == ABUSER
    assert made["state"] == "active"
    before = counts(mail_runtime)

    send(receiver, mail(ABUSIVE, sender=f"Rage Keller <{ABUSER}>", message_id="r1@grumpy"), ABUSER)
    send(receiver, mail("Still waiting!!", sender=ABUSER, message_id="r2@grumpy"), ABUSER)

    # Not a ticket, not a message, not the raw source, not a quarantined copy, not a customer.
    assert counts(mail_runtime) == before
    assert not has_identity(mail_runtime, ABUSER)
    counted = the_block(api, cast.agent, made["id"])
    assert counted["dropped_count"] == 2
    assert counted["last_dropped_at"] is not None

    # Anyone else still gets through the same receiver.
    send(
        receiver,
        mail("My AirBrew 2 leaks too.", sender="ann@example.com", message_id="a1@x"),
        "ann@example.com",
    )
    assert counts(mail_runtime)["tickets"] == before["tickets"] + 1


def test_a_blocked_domain_drops_every_address_there(
    api: TestClient, cast: Personas, receiver: SmtpReceiver, mail_runtime: Runtime
) -> None:
    made = block(api, cast.admin, kind="domain", value="Grumpy-Mail.example")
    assert made["value"] == "@grumpy-mail.example"
    send(receiver, mail(ABUSIVE, sender="someone.else@grumpy-mail.example", message_id="d1@g"), "x@y.example")
    assert counts(mail_runtime)["tickets"] == 0
    assert the_block(api, cast.agent, made["id"])["dropped_count"] == 1
    # A look-alike domain is someone else.
    send(receiver, mail("Hello", sender="ann@not-grumpy-mail.example", message_id="d2@g"), "ann@x.example")
    assert counts(mail_runtime)["tickets"] == 1


def test_blocking_a_customer_blocks_their_address_and_shows_on_their_timeline(
    api: TestClient, cast: Personas, receiver: SmtpReceiver, mail_runtime: Runtime
) -> None:
    send(receiver, mail(ABUSIVE, sender=ABUSER, message_id="c1@g"), ABUSER)
    [opened] = api.get("/api/v1/tickets", headers=cast.agent.headers).json()["items"]
    customer_id = opened["customer_id"]
    made = block(api, cast.lead, customer_id=customer_id, ticket_id=opened["id"])
    assert made["kind"] == "customer"

    send(
        receiver,
        mail("Answer me!", sender=ABUSER, message_id="c2@g", subject=f"Re: x [#{opened['id']}]"),
        ABUSER,
    )
    detail = api.get(f"/api/v1/tickets/{opened['id']}", headers=cast.agent.headers).json()
    assert len(detail["messages"]) == 1
    assert the_block(api, cast.agent, made["id"])["dropped_count"] == 1
    timeline = api.get(f"/api/v1/customers/{customer_id}/timeline", headers=cast.agent.headers).json()
    assert "sender.blocked" in [item.get("action") for item in timeline["items"]]


def test_an_expired_block_no_longer_blocks(
    api: TestClient, cast: Personas, receiver: SmtpReceiver, mail_runtime: Runtime
) -> None:
    soon = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).isoformat()
    made = block(api, cast.lead, kind="email", value=ABUSER, expires_at=soon)
    send(receiver, mail(ABUSIVE, sender=ABUSER, message_id="e1@g"), ABUSER)
    assert counts(mail_runtime)["tickets"] == 0
    # The day passes.
    with mail_runtime.database.session() as session:
        session.execute(
            update(SenderBlock)
            .where(SenderBlock.id == made["id"])
            .values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1))
        )
        session.commit()
    send(receiver, mail("My AirBrew 2 still leaks.", sender=ABUSER, message_id="e2@g"), ABUSER)
    assert counts(mail_runtime)["tickets"] == 1
    expired = api.get("/api/v1/blocks", params={"state": "expired"}, headers=cast.agent.headers).json()
    assert [b["id"] for b in expired["items"]] == [made["id"]]
    assert (
        api.get("/api/v1/blocks", params={"state": "active"}, headers=cast.agent.headers).json()["items"]
        == []
    )


def test_lifting_a_block_lets_the_next_message_in_and_keeps_the_row(
    api: TestClient, cast: Personas, receiver: SmtpReceiver, mail_runtime: Runtime
) -> None:
    made = block(api, cast.lead, kind="email", value=ABUSER)
    send(receiver, mail(ABUSIVE, sender=ABUSER, message_id="l1@g"), ABUSER)
    lifted = api.post(f"/api/v1/blocks/{made['id']}/lift", headers=cast.lead.headers)
    assert lifted.status_code == 200, lifted.text
    assert lifted.json()["state"] == "lifted"
    assert lifted.json()["lifted_by_id"] == cast.lead.id
    assert lifted.json()["dropped_count"] == 1
    again = api.post(f"/api/v1/blocks/{made['id']}/lift", headers=cast.lead.headers)
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "block_not_active"

    send(
        receiver,
        mail("Sorry for my tone. My AirBrew 2 still leaks.", sender=ABUSER, message_id="l2@g"),
        ABUSER,
    )
    assert counts(mail_runtime)["tickets"] == 1
    listed = api.get("/api/v1/blocks", params={"state": "lifted"}, headers=cast.agent.headers).json()
    assert [b["id"] for b in listed["items"]] == [made["id"]]


def test_the_web_form_refuses_a_blocked_sender(
    api: TestClient, cast: Personas, mail_runtime: Runtime
) -> None:
    made = block(api, cast.lead, kind="email", value=ABUSER)
    before = counts(mail_runtime)
    response = api.post(
        "/api/v1/forms/contact",
        json={"name": "Rage Keller", "email": ABUSER, "subject": "AirBrew", "message": ABUSIVE},
    )
    assert response.status_code == 403, response.text
    error = response.json()["error"]
    assert error["code"] == "sender_blocked"
    # Neutral: nothing an abuser could use to work around the block.
    assert error["message"] == "we cannot accept messages from this sender"
    assert counts(mail_runtime) == before
    assert the_block(api, cast.agent, made["id"])["dropped_count"] == 1


def test_the_chat_refuses_a_blocked_sender(api: TestClient, cast: Personas, mail_runtime: Runtime) -> None:
    block(api, cast.lead, kind="email", value=ABUSER)
    refused = api.post("/chat/api/visitors", json={"name": "Rage", "email": ABUSER})
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "sender_blocked"

    # A visitor who started anonymously and is then blocked as a customer.
    started = api.post("/chat/api/visitors", json={"name": "Anon"})
    assert started.status_code == 201, started.text
    token = started.json()["token"]
    first = api.post(
        "/chat/api/messages", json={"text": "hello?", "client_id": "b-1"}, headers={"X-Chat-Token": token}
    )
    assert first.status_code in (200, 201), first.text
    customer_id = api.get(f"/api/v1/tickets/{first.json()['ticket_id']}", headers=cast.agent.headers).json()[
        "customer_id"
    ]
    made = block(api, cast.lead, customer_id=customer_id)
    before = counts(mail_runtime)
    second = api.post(
        "/chat/api/messages", json={"text": ABUSIVE, "client_id": "b-2"}, headers={"X-Chat-Token": token}
    )
    assert second.status_code == 403
    assert second.json()["error"]["code"] == "sender_blocked"
    assert counts(mail_runtime) == before
    assert the_block(api, cast.agent, made["id"])["dropped_count"] == 1


def test_a_blocked_portal_customer_cannot_open_or_add_to_tickets(
    api: TestClient, cast: Personas, mail_runtime: Runtime
) -> None:
    opened = api.post(
        "/api/v1/tickets",
        json={"channel": "web", "subject": "AirBrew 2", "body": "My AirBrew 2 leaks."},
        headers=cast.customer.headers,
    )
    assert opened.status_code == 201, opened.text
    made = block(api, cast.lead, kind="email", value="maria@example.com")
    before = counts(mail_runtime)
    refused = api.post(
        "/api/v1/tickets",
        json={"channel": "web", "subject": "Again", "body": ABUSIVE},
        headers=cast.customer.headers,
    )
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "sender_blocked"
    message = api.post(
        f"/api/v1/tickets/{opened.json()['id']}/messages",
        json={"body": ABUSIVE},
        headers=cast.customer.headers,
    )
    assert message.status_code == 403
    assert message.json()["error"]["code"] == "sender_blocked"
    assert counts(mail_runtime) == before
    assert the_block(api, cast.agent, made["id"])["dropped_count"] == 2
    # Another customer is not affected.
    other = api.post(
        "/api/v1/tickets",
        json={"channel": "web", "subject": "Hello", "body": "Where is my order?"},
        headers=cast.other_customer.headers,
    )
    assert other.status_code == 201


@pytest.mark.parametrize("who", ["agent", "advocate", "partner", "customer"])
def test_only_leads_and_admins_block_and_lift(api: TestClient, cast: Personas, who: str) -> None:
    made = block(api, cast.lead, kind="email", value=ABUSER)
    persona: Persona = getattr(cast, who)
    refused = api.post(
        "/api/v1/blocks",
        json={"kind": "domain", "value": "@x.example", "reason": "spam"},
        headers=persona.headers,
    )
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "role_forbidden"
    lift = api.post(f"/api/v1/blocks/{made['id']}/lift", headers=persona.headers)
    assert lift.status_code == 403
    listed = api.get("/api/v1/blocks", headers=persona.headers)
    # Every staff member may look; partners and customers may not.
    assert listed.status_code == (200 if who in ("agent", "advocate") else 403)
    assert the_block(api, cast.lead, made["id"])["state"] == "active"


@pytest.mark.parametrize(
    ("payload", "status", "code"),
    [
        ({"kind": "email", "value": "not an address"}, 422, "invalid_email"),
        ({"kind": "domain", "value": "@"}, 422, "invalid_domain"),
        ({"kind": "domain", "value": "@b\u00fc cher.example"}, 422, "invalid_domain"),
        ({"kind": "phone", "value": "030 1234"}, 422, "invalid_phone"),
        ({"customer_id": 1, "kind": "email", "value": ABUSER}, 422, "invalid_block"),
        ({}, 422, "invalid_block"),
        ({"customer_id": 987654}, 404, "customer_not_found"),
        ({"kind": "email", "value": ABUSER, "expires_at": "2001-01-01T00:00:00Z"}, 422, "invalid_expiry"),
    ],
)
def test_bad_blocks_are_refused_clearly(
    api: TestClient, cast: Personas, payload: dict[str, Any], status: int, code: str
) -> None:
    response = api.post("/api/v1/blocks", json={"reason": "abuse", **payload}, headers=cast.lead.headers)
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code


def test_the_same_active_block_twice_is_a_conflict(api: TestClient, cast: Personas) -> None:
    first = block(api, cast.lead, kind="email", value=ABUSER)
    again = api.post(
        "/api/v1/blocks",
        json={"kind": "email", "value": ABUSER, "reason": "again"},
        headers=cast.admin.headers,
    )
    assert again.status_code == 409
    assert again.json()["error"]["details"]["block_id"] == first["id"]


def test_a_lead_blocks_from_the_ticket_page_and_lifts_on_the_blocks_page(
    api: TestClient, cast: Personas, receiver: SmtpReceiver, mail_runtime: Runtime
) -> None:
    send(receiver, mail(ABUSIVE, sender=ABUSER, message_id="p1@g"), ABUSER)
    [opened] = api.get("/api/v1/tickets", headers=cast.agent.headers).json()["items"]
    sign_in(api, mail_runtime, "lead@desk.test")
    page = api.get(f"/agent/tickets/{opened['id']}")
    assert "Block this sender" in page.text
    assert 'value="domain:@grumpy-mail.example"' in page.text
    csrf = form_csrf(page.text)
    done = api.post(
        f"/agent/tickets/{opened['id']}/block",
        data={
            "csrf_token": csrf,
            "target": f"email:{ABUSER}",
            "reason": "Insults on every message",
            "expiry": "24h",
        },
        follow_redirects=False,
    )
    assert done.status_code == 303, done.text
    [made] = api.get("/api/v1/blocks", headers=cast.agent.headers).json()["items"]
    assert made["value"] == ABUSER and made["ticket_id"] == opened["id"]
    expires = dt.datetime.fromisoformat(made["expires_at"])
    assert dt.timedelta(hours=23) < expires - dt.datetime.now(dt.UTC) <= dt.timedelta(hours=24)

    listing = api.get("/agent/blocks")
    assert listing.status_code == 200
    assert ABUSER in listing.text and "Lift" in listing.text
    lifted = api.post(f"/agent/blocks/{made['id']}/lift", data={"csrf_token": csrf}, follow_redirects=False)
    assert lifted.status_code == 303
    assert the_block(api, cast.agent, made["id"])["state"] == "lifted"


def test_an_agent_sees_blocks_but_no_block_form_or_lift_button(
    api: TestClient, cast: Personas, receiver: SmtpReceiver, mail_runtime: Runtime
) -> None:
    send(receiver, mail(ABUSIVE, sender=ABUSER, message_id="g1@g"), ABUSER)
    [opened] = api.get("/api/v1/tickets", headers=cast.agent.headers).json()["items"]
    block(api, cast.lead, kind="domain", value="@elsewhere.example")
    csrf = sign_in(api, mail_runtime, "agent@desk.test")
    assert "Block this sender" not in api.get(f"/agent/tickets/{opened['id']}").text
    listing = api.get("/agent/blocks")
    assert "@elsewhere.example" in listing.text
    assert ">Lift<" not in listing.text
    refused = api.post(
        f"/agent/tickets/{opened['id']}/block",
        data={"csrf_token": csrf, "target": "customer", "reason": "x", "expiry": "7d"},
        follow_redirects=False,
    )
    assert refused.status_code == 403
    # A form an agent got wrong is still "not your role", before anything about the form.
    wrong = api.post(
        f"/agent/tickets/{opened['id']}/block",
        data={"csrf_token": csrf, "target": "email:not-an-address", "reason": "", "expiry": "7d"},
        follow_redirects=False,
    )
    assert wrong.status_code == 403


def test_a_blocked_social_handle_is_dropped_and_the_platform_told_dropped(
    api: TestClient, cast: Personas, mail_runtime: Runtime
) -> None:
    secret = _endpoint(api, cast, None)["secret"]
    made = block(api, cast.lead, kind="handle", value="whatsapp:+4915199999999")
    before = counts(mail_runtime)
    dropped = _post(api, secret, _message("wamid.b1", ABUSIVE, handle="+4915199999999"))
    assert dropped.status_code == 200, dropped.text
    assert dropped.json()["outcome"] == "dropped"
    assert dropped.json()["ticket_id"] is None
    assert counts(mail_runtime) == before
    assert the_block(api, cast.agent, made["id"])["dropped_count"] == 1
    taken = _post(api, secret, _message("wamid.b2", "My AirBrew 2 leaks.", handle="+4915100000000"))
    assert taken.json()["outcome"] == "created"


def test_an_inbound_call_from_a_blocked_number_is_not_recorded(
    api: TestClient, cast: Personas, mail_runtime: Runtime
) -> None:
    block(api, cast.lead, kind="phone", value="+44 20 7946 0958")
    before = counts(mail_runtime)
    refused = api.post("/api/v1/calls", json=_call(), headers=cast.agent.headers)
    assert refused.status_code == 403, refused.text
    assert refused.json()["error"]["code"] == "sender_blocked"
    assert counts(mail_runtime) == before
    other = api.post(
        "/api/v1/calls",
        json=_call(external_id="pbx-2", caller="+44 20 7946 0111"),
        headers=cast.agent.headers,
    )
    assert other.status_code == 201, other.text


def test_a_sub_address_and_a_subdomain_are_no_way_around_a_block(
    api: TestClient, cast: Personas, receiver: SmtpReceiver, mail_runtime: Runtime
) -> None:
    by_address = block(api, cast.lead, kind="email", value=ABUSER)
    by_domain = block(api, cast.lead, kind="domain", value="@spite.example")
    send(receiver, mail(ABUSIVE, sender="Rage.Keller+2@Grumpy-Mail.example", message_id="s1@g"), ABUSER)
    send(receiver, mail(ABUSIVE, sender="x@mail.eu.spite.example", message_id="s2@g"), "x@y.example")
    assert counts(mail_runtime)["tickets"] == 0
    assert the_block(api, cast.agent, by_address["id"])["dropped_count"] == 1
    assert the_block(api, cast.agent, by_domain["id"])["dropped_count"] == 1
    # A domain that merely ends the same way, and another mailbox at the blocked address's domain, get in.
    send(receiver, mail("Hello", sender="ann@notspite.example", message_id="s3@g"), "ann@x.example")
    send(
        receiver, mail("Hello", sender="rage.kellerin@grumpy-mail.example", message_id="s4@g"), "a@x.example"
    )
    assert counts(mail_runtime)["tickets"] == 2


def test_a_block_that_names_an_unknown_ticket_is_not_found(api: TestClient, cast: Personas) -> None:
    response = api.post(
        "/api/v1/blocks",
        json={"kind": "email", "value": ABUSER, "reason": "abuse", "ticket_id": 987654},
        headers=cast.lead.headers,
    )
    assert response.status_code == 404, response.text
    assert response.json()["error"]["code"] == "ticket_not_found"
    assert api.get("/api/v1/blocks", headers=cast.lead.headers).json()["items"] == []
    # An agent still hears that agents may not block, whatever the ticket.
    refused = api.post(
        "/api/v1/blocks",
        json={"kind": "email", "value": ABUSER, "reason": "abuse", "ticket_id": 987654},
        headers=cast.agent.headers,
    )
    assert refused.status_code == 403


def test_staff_still_reach_a_blocked_customer(api: TestClient, cast: Personas, mail_runtime: Runtime) -> None:
    """A block stops the sender reaching the team, not the team reaching them: an agent may open a ticket
    for the customer and record an outbound call to their number."""
    block(api, cast.lead, kind="phone", value="+44 20 7946 0958")
    block(api, cast.lead, kind="email", value=ABUSER)
    opened = api.post(
        "/api/v1/tickets",
        json={
            "channel": "email",
            "subject": "Your refund",
            "body": "Logged by the agent after the customer's letter.",
            "customer": {"email": ABUSER, "name": "Rage Keller"},
        },
        headers=cast.agent.headers,
    )
    assert opened.status_code == 201, opened.text
    called = api.post(
        "/api/v1/calls",
        json=_call(
            external_id="pbx-out-1",
            direction="outbound",
            caller="+44 20 7946 0000",
            callee="+44 20 7946 0958",
        ),
        headers=cast.agent.headers,
    )
    assert called.status_code == 201, called.text


def test_a_customer_block_follows_a_merge(api: TestClient, cast: Personas, mail_runtime: Runtime) -> None:
    first = api.post(
        "/api/v1/tickets",
        json={"channel": "email", "subject": "A", "body": "One", "customer": {"email": ABUSER}},
        headers=cast.agent.headers,
    ).json()
    second = api.post(
        "/api/v1/tickets",
        json={"channel": "email", "subject": "B", "body": "Two", "customer": {"email": "rk@other.example"}},
        headers=cast.agent.headers,
    ).json()
    made = block(api, cast.lead, customer_id=first["customer_id"])
    merged = api.post(
        f"/api/v1/customers/{second['customer_id']}/merge",
        json={"source_id": first["customer_id"]},
        headers=cast.admin.headers,
    )
    assert merged.status_code == 201, merged.text
    assert the_block(api, cast.agent, made["id"])["customer_id"] == second["customer_id"]
    # The merged person's other address is blocked now too.
    response = api.post(
        "/api/v1/forms/contact",
        json={"name": "R K", "email": "rk@other.example", "subject": "Hi", "message": ABUSIVE},
    )
    assert response.status_code == 403, response.text


def test_the_imap_poller_drops_a_blocked_sender_and_moves_past_the_email(
    api: TestClient,
    cast: Personas,
    mail_runtime: Runtime,
    dovecot_server: DovecotServer,
) -> None:
    mailbox = ImapMailbox(
        name="support",
        host=dovecot_server.host,
        port=dovecot_server.port,
        username=USER,
        password=PASSWORD,
        security="none",
        poll_seconds=3600,
    )
    made = block(api, cast.lead, kind="email", value=ABUSER)
    before = counts(mail_runtime)
    dovecot_server.append(USER, PASSWORD, mail(ABUSIVE, sender=f"Rage <{ABUSER}>", message_id="i1@g"))
    dovecot_server.append(
        USER, PASSWORD, mail("My kettle leaks.", sender="ann@example.com", message_id="i2@g")
    )
    assert poll(mail_runtime, mailbox) == 2
    after = counts(mail_runtime)
    # Only the other sender's email is kept (its raw source, its ticket and message, its customer).
    assert after["tickets"] == before["tickets"] + 1
    assert after["raw"] == before["raw"] + 1
    assert after["quarantined"] == before["quarantined"]
    assert not has_identity(mail_runtime, ABUSER)
    assert the_block(api, cast.agent, made["id"])["dropped_count"] == 1
    # The cursor moved past the dropped email: the next pass does not count it again.
    assert all(server_state(dovecot_server)[1].values())
    assert poll(mail_runtime, mailbox) == 0
    assert the_block(api, cast.agent, made["id"])["dropped_count"] == 1


def test_an_idn_domain_is_blocked_as_mail_carries_it(
    api: TestClient, cast: Personas, receiver: SmtpReceiver, mail_runtime: Runtime
) -> None:
    made = block(api, cast.lead, kind="domain", value="@B\u00fccher.example")
    assert made["value"] == "@xn--bcher-kva.example"
    send(receiver, mail(ABUSIVE, sender="wut@xn--bcher-kva.example", message_id="n1@g"), "x@y.example")
    assert counts(mail_runtime)["tickets"] == 0
    assert the_block(api, cast.agent, made["id"])["dropped_count"] == 1
