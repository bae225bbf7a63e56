"""The agent workspace through its pages: sign-in, the inbox (order, views, paging, bulk actions, saved
views), the ticket page (triage, corrections, macros, notes with @mentions, presence) and escaping."""

from __future__ import annotations

import base64
import re

from fastapi.testclient import TestClient
from sqlalchemy import event, select

from ombud.accounts import sessions
from ombud.runtime import Runtime
from ombud.tickets.models import Mention, Ticket
from ombud.triage.models import TriageCorrection
from tests.conftest import Personas, new_ticket
from tests.web.workspace import PASSWORD, form_csrf, set_password, sign_in

ANGRY = (
    "This is the third time I'm writing!! You charged me twice for order A-55120 and nobody answers. "
    "Also my new card still hasn't arrived after two weeks. Fix this today or I cancel everything."
)


def _rows(html: str) -> list[int]:
    return [int(n) for n in re.findall(r'<tr data-ticket="(\d+)"', html)]


def test_sign_in_sets_a_safe_cookie_and_refuses_a_wrong_password(
    client: TestClient, runtime: Runtime, people: Personas
) -> None:
    set_password(runtime, "agent@desk.test")
    form = client.get("/login")
    csrf = form_csrf(form.text)
    wrong = client.post(
        "/login", data={"email": "agent@desk.test", "password": "not the password", "csrf_token": csrf}
    )
    assert wrong.status_code == 401
    assert "wrong email or password" in wrong.text
    unknown = client.post(
        "/login", data={"email": "nobody@desk.test", "password": PASSWORD, "csrf_token": csrf}
    )
    assert unknown.status_code == 401  # the same answer: addresses cannot be probed
    forged = client.post("/login", data={"email": "agent@desk.test", "password": PASSWORD, "csrf_token": "x"})
    assert forged.status_code == 403 and "csrf_failed" in forged.text
    good = client.post(
        "/login",
        data={"email": "agent@desk.test", "password": PASSWORD, "csrf_token": csrf, "next": "/agent/macros"},
        follow_redirects=False,
    )
    assert good.status_code == 303 and good.headers["location"] == "/agent/macros"
    cookie = good.headers["set-cookie"]
    assert "ombud_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert client.get("/agent/macros").status_code == 200
    # Signing out ends the session on the server, not only in the browser.
    token = client.cookies.get("ombud_session")
    page = client.get("/agent/inbox")
    assert (
        client.post("/logout", data={"csrf_token": form_csrf(page.text)}, follow_redirects=False).status_code
        == 303
    )
    client.cookies.set("ombud_session", token or "")
    assert client.get("/agent/inbox", follow_redirects=False).status_code == 303


def test_pages_send_strangers_to_sign_in_and_back_but_never_off_site(
    client: TestClient, runtime: Runtime, people: Personas
) -> None:
    away = client.get("/agent/tickets/5?view=all", follow_redirects=False)
    assert away.status_code == 303
    assert away.headers["location"] == "/login?next=%2Fagent%2Ftickets%2F5%3Fview%3Dall"
    set_password(runtime, "agent@desk.test")
    csrf = form_csrf(client.get("/login").text)
    off_site = client.post(
        "/login",
        data={
            "email": "agent@desk.test",
            "password": PASSWORD,
            "csrf_token": csrf,
            "next": "//evil.example/x",
        },
        follow_redirects=False,
    )
    assert off_site.headers["location"] == "/agent"


def test_sign_in_attempts_are_limited(client: TestClient, runtime: Runtime, people: Personas) -> None:
    set_password(runtime, "agent@desk.test")
    csrf = form_csrf(client.get("/login").text)
    limit = runtime.settings.login_rate_limit
    for _ in range(limit):
        bad = client.post(
            "/login", data={"email": "agent@desk.test", "password": "guess-guess", "csrf_token": csrf}
        )
        assert bad.status_code == 401
    # Even the right password waits now: the limit is on attempts, not on failures alone.
    blocked = client.post(
        "/login", data={"email": "agent@desk.test", "password": PASSWORD, "csrf_token": csrf}
    )
    assert blocked.status_code == 429
    assert "too many" in blocked.text


def test_customers_and_partners_do_not_get_the_workspace(
    client: TestClient, runtime: Runtime, people: Personas
) -> None:
    with runtime.database.session() as session:
        signed = sessions.start_session(session=session, customer_id=people.customer.id)
        session.commit()
    client.cookies.set("ombud_session", signed.token)
    assert client.get("/agent/inbox", follow_redirects=False).status_code == 303
    client.cookies.clear()
    set_password(runtime, "partner@desk.test")
    csrf = form_csrf(client.get("/login").text)
    client.post("/login", data={"email": "partner@desk.test", "password": PASSWORD, "csrf_token": csrf})
    assert client.get("/agent/inbox").status_code == 403


def test_cookie_requests_need_the_csrf_token(client: TestClient, runtime: Runtime, people: Personas) -> None:
    csrf = sign_in(client, runtime, "agent@desk.test")
    ticket = new_ticket(client, people.agent)
    url = f"/agent/tickets/{ticket['id']}/reply"
    assert client.post(url, data={"body": "Hello"}).status_code == 403
    assert (
        client.post(url, data={"body": "Hello", "csrf_token": csrf}, follow_redirects=False).status_code
        == 303
    )
    # The JSON API accepts the session cookie too, with the token in X-CSRF-Token for anything unsafe.
    api = f"/api/v1/tickets/{ticket['id']}/messages"
    assert client.post(api, json={"body": "Again", "internal": True}).status_code == 403
    sent = client.post(api, json={"body": "Again", "internal": True}, headers={"X-CSRF-Token": csrf})
    assert sent.status_code == 201, sent.text
    assert client.get(f"/api/v1/tickets/{ticket['id']}").status_code == 200


def test_the_inbox_puts_the_most_pressing_first_and_pages_without_gaps(
    client: TestClient, runtime: Runtime, people: Personas
) -> None:
    calm = [
        new_ticket(client, people.agent, subject=f"Question {i}", body="How do I change my PIN?")
        for i in range(54)
    ]
    urgent = new_ticket(client, people.agent, subject="Account hacked", body=ANGRY)
    client.patch(f"/api/v1/tickets/{urgent['id']}", json={"priority": "urgent"}, headers=people.agent.headers)
    low = calm[0]
    client.patch(f"/api/v1/tickets/{low['id']}", json={"priority": "low"}, headers=people.agent.headers)
    sign_in(client, runtime, "agent@desk.test")
    first = client.get("/agent/inbox?view=all")
    assert first.status_code == 200
    rows = _rows(first.text)
    assert len(rows) == 50 and rows[0] == urgent["id"]
    assert 'data-count="all">55<' in first.text and 'data-count="unassigned">55<' in first.text
    cursor = re.search(r'rel="next" href="[^"]*cursor=([^"&]+)"', first.text)
    assert cursor is not None
    second = client.get(f"/agent/inbox?view=all&cursor={cursor.group(1)}")
    rest = _rows(second.text)
    assert len(rest) == 5 and rest[-1] == low["id"]
    assert set(rows).isdisjoint(rest) and len(set(rows) | set(rest)) == 55
    # The score's parts are on the row, so an agent can see why a ticket is where it is.
    assert "urgency" in first.text and "frustration" in first.text
    # A solved ticket leaves the open views and is found under Solved.
    client.patch(
        f"/api/v1/tickets/{urgent['id']}",
        json={"status": "solved", "confirm": True},
        headers=people.agent.headers,
    )
    assert urgent["id"] not in _rows(client.get("/agent/inbox?view=all").text)
    assert _rows(client.get("/agent/inbox?view=solved").text) == [urgent["id"]]
    assert client.get("/agent/inbox?view=nonsense").status_code == 422


def test_bulk_actions_and_views(client: TestClient, runtime: Runtime, people: Personas) -> None:
    one = new_ticket(client, people.agent, subject="Card not arrived")
    two = new_ticket(client, people.agent, subject="Refund please", channel="chat")
    csrf = sign_in(client, runtime, "agent@desk.test")
    assert _rows(client.get("/agent/inbox?view=mine").text) == []
    bulk = client.post(
        "/agent/inbox/bulk",
        data={
            "csrf_token": csrf,
            "action": "assign_me",
            "ticket_ids": [one["id"], two["id"]],
            "back": "/agent/inbox?view=mine",
        },
        follow_redirects=False,
    )
    assert bulk.status_code == 303 and bulk.headers["location"] == "/agent/inbox?view=mine"
    assert sorted(_rows(client.get("/agent/inbox?view=mine").text)) == sorted([one["id"], two["id"]])
    assert _rows(client.get("/agent/inbox?view=unassigned").text) == []
    assert _rows(client.get("/agent/inbox?view=mine&channel=chat").text) == [two["id"]]
    bad = client.post(
        "/agent/inbox/bulk", data={"csrf_token": csrf, "action": "explode", "ticket_ids": [one["id"]]}
    )
    assert bad.status_code == 422 and "invalid_bulk_action" in bad.text
    # Saved view: the filter comes back by name, for this agent only.
    saved = client.post(
        "/agent/views",
        data={"csrf_token": csrf, "name": "My chats", "view": "mine", "channel": "chat"},
        follow_redirects=False,
    )
    location = saved.headers["location"]
    page = client.get(location)
    assert "★ My chats" in page.text and _rows(page.text) == [two["id"]]
    view_id = int(location.rsplit("=", 1)[1])
    other = TestClient(client.app)
    sign_in(other, runtime, "agent2@desk.test")
    assert other.get(location).status_code == 404
    client.post(f"/agent/views/{view_id}/delete", data={"csrf_token": csrf})
    assert client.get(location).status_code == 404
    # Live updates: the newest message id moves when a message arrives.
    latest = client.get("/agent/inbox/latest").json()["latest"]
    new_ticket(client, people.agent, subject="Another one")
    assert client.get("/agent/inbox/latest").json()["latest"] > latest


def test_the_ticket_page_shows_triage_and_takes_corrections(
    client: TestClient, runtime: Runtime, people: Personas
) -> None:
    ticket = new_ticket(client, people.agent, subject="Charged twice and no card", body=ANGRY)
    csrf = sign_in(client, runtime, "agent@desk.test")
    page = client.get(f"/agent/tickets/{ticket['id']}?view=all")
    assert page.status_code == 200
    text = page.text
    assert "Triage: 2 concerns" in text or "Triage: 3 concerns" in text
    assert "anger" in text and "urgency" in text
    assert "A-55120" in text  # the order number entity
    assert "María López" in text  # the customer 360 beside the ticket
    message_id = ticket["messages"][0]["id"]  # type: ignore[index]
    corrected = client.post(
        f"/agent/tickets/{ticket['id']}/correct",
        data={"csrf_token": csrf, "message_id": message_id, "field": "urgency", "value": "urgent"},
        follow_redirects=False,
    )
    assert corrected.status_code == 303
    assert "correction is recorded" in client.get(corrected.headers["location"]).text
    with runtime.database.session() as session:
        row = session.scalars(select(TriageCorrection).where(TriageCorrection.message_id == message_id)).one()
        assert (row.field, row.after) == ("urgency", "urgent")
    bad = client.post(
        f"/agent/tickets/{ticket['id']}/correct",
        data={"csrf_token": csrf, "message_id": message_id, "field": "emotion", "value": "glee"},
    )
    assert bad.status_code == 422


def test_macros_replies_notes_mentions_and_presence(
    client: TestClient, runtime: Runtime, people: Personas
) -> None:
    ticket = new_ticket(
        client, people.agent, subject="Charged twice", body="I was charged twice for order A-10293."
    )
    lead = TestClient(client.app)
    lead_csrf = sign_in(lead, runtime, "lead@desk.test")
    made = lead.post(
        "/agent/macros",
        data={
            "csrf_token": lead_csrf,
            "name": "Duplicate charge",
            "body": "Hi {{customer.first_name}}, I've refunded the duplicate charge on "
            "{{ticket.order_number}}. {{agent.first_name}}",
            "status": "pending",
            "tags": "refund, billing",
        },
        follow_redirects=False,
    )
    assert made.status_code == 303, made.text
    broken = lead.post(
        "/agent/macros", data={"csrf_token": lead_csrf, "name": "Bad", "body": "Hi {{customer.age}}"}
    )
    assert broken.status_code == 422 and "unknown placeholder" in broken.text
    csrf = sign_in(client, runtime, "agent@desk.test")
    # Agents use macros but do not write them.
    assert (
        client.post("/agent/macros", data={"csrf_token": csrf, "name": "X", "body": "Y"}).status_code == 403
    )
    macro_id = int(
        re.findall(
            r'<option value="(\d+)">Duplicate charge', client.get(f"/agent/tickets/{ticket['id']}").text
        )[0]
    )
    filled = client.get(f"/agent/tickets/{ticket['id']}/macros/{macro_id}").json()
    assert filled["text"] == "Hi María, I've refunded the duplicate charge on A-10293. Agent"
    sent = client.post(
        f"/agent/tickets/{ticket['id']}/reply",
        data={"csrf_token": csrf, "body": filled["text"], "kind": "reply", "macro_id": macro_id},
        follow_redirects=False,
    )
    assert sent.status_code == 303
    after = client.get(f"/api/v1/tickets/{ticket['id']}", headers=people.agent.headers).json()
    assert after["status"] == "pending" and {"refund", "billing"} <= set(after["tags"])
    assert after["messages"][-1]["body"] == filled["text"] and not after["messages"][-1]["internal"]
    # A note that @mentions a colleague shows up in their @Mentions view until they open the ticket.
    client.post(
        f"/agent/tickets/{ticket['id']}/reply",
        data={"csrf_token": csrf, "body": "@agent2 can you check the refund went through?", "kind": "note"},
    )
    colleague = TestClient(client.app)
    colleague_csrf = sign_in(colleague, runtime, "agent2@desk.test")
    assert _rows(colleague.get("/agent/inbox?view=mentions").text) == [ticket["id"]]
    # Presence: each sees the other on the ticket; typing shows as typing.
    assert client.post(
        f"/agent/tickets/{ticket['id']}/presence", data={"csrf_token": csrf, "typing": "true"}
    ).json() == {"others": []}
    seen = colleague.post(f"/agent/tickets/{ticket['id']}/presence", data={"csrf_token": colleague_csrf})
    assert seen.json() == {"others": [{"name": "Agent", "typing": True}]}
    assert _rows(colleague.get("/agent/inbox?view=mentions").text) == []  # opened: read
    with runtime.database.session() as session:
        assert session.scalars(select(Mention.read_at)).one() is not None
    client.post(f"/agent/tickets/{ticket['id']}/presence", data={"csrf_token": csrf, "leaving": "true"})
    assert colleague.post(
        f"/agent/tickets/{ticket['id']}/presence", data={"csrf_token": colleague_csrf}
    ).json() == {"others": []}


def test_customer_content_is_shown_as_text_on_every_workspace_page(
    client: TestClient, runtime: Runtime, people: Personas
) -> None:
    script = "<script>alert(1)</script>"
    ticket = new_ticket(
        client,
        people.agent,
        subject=f"Help {script}",
        body=f"My name is {script} and this is my order",
        customer={"email": "mallory@example.com", "name": f"Mallory {script}"},
        attachments=[
            {
                "filename": f"{script}.txt",
                "content_type": "text/plain",
                "content_base64": base64.b64encode(b"hi").decode(),
            }
        ],
    )
    sign_in(client, runtime, "agent@desk.test")
    for url in (
        f"/agent/tickets/{ticket['id']}",
        "/agent/inbox?view=all",
        "/agent/inbox?view=all&fragment=1",
    ):
        html = client.get(url).text
        assert script not in html, url
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html, url
    with runtime.database.session() as session:
        assert session.get(Ticket, ticket["id"]) is not None


def test_pages_cost_a_fixed_number_of_queries(client: TestClient, runtime: Runtime, people: Personas) -> None:
    """The inbox and the ticket page read the same number of statements however much data there is (the
    speed at a million tickets is in benchmarks/bench_workspace.py; this is the property behind it)."""
    first = new_ticket(client, people.agent, subject="First", body=ANGRY)
    sign_in(client, runtime, "agent@desk.test")

    def count(url: str) -> int:
        seen: list[str] = []

        def listen(conn: object, cursor: object, statement: str, *args: object) -> None:
            seen.append(statement)

        event.listen(runtime.database.engine, "before_cursor_execute", listen)
        try:
            assert client.get(url).status_code == 200
        finally:
            event.remove(runtime.database.engine, "before_cursor_execute", listen)
        return len(seen)

    pages = ("/agent/inbox?view=all", f"/agent/tickets/{first['id']}?view=all")
    before = [count(url) for url in pages]
    for n in range(12):
        new_ticket(client, people.agent, subject=f"More {n}", body=ANGRY)
        client.post(
            f"/api/v1/tickets/{first['id']}/messages",
            json={"body": f"Reply {n} with more to say", "internal": n % 2 == 0},
            headers=people.agent.headers,
        )
        client.post(
            f"/api/v1/tickets/{first['id']}/messages", json={"body": ANGRY}, headers=people.customer.headers
        )
    after = [count(url) for url in pages]
    assert after == before


def test_admins_set_the_glossary_and_voice_the_check_uses(
    client: TestClient, runtime: Runtime, people: Personas
) -> None:
    ticket = new_ticket(client, people.agent)
    admin = TestClient(client.app)
    csrf = sign_in(admin, runtime, "admin@desk.test")
    bad = admin.post("/agent/voice", data={"csrf_token": csrf, "glossary": "chargeback without arrow"})
    assert bad.status_code == 422 and "glossary line 1" in bad.text
    saved = admin.post(
        "/agent/voice",
        data={
            "csrf_token": csrf,
            "glossary": "chargeback => a refund your bank makes",
            "voice": "no problem => happy to help",
        },
        follow_redirects=False,
    )
    assert saved.status_code == 303
    assert "chargeback =&gt; a refund your bank makes" in admin.get("/agent/voice").text
    agent_csrf = sign_in(client, runtime, "agent@desk.test")
    assert "readonly" in client.get("/agent/voice").text
    assert client.post("/agent/voice", data={"csrf_token": agent_csrf, "glossary": ""}).status_code == 403
    checked = client.post(
        f"/api/v1/tickets/{ticket['id']}/check",
        json={"text": "Hi María, no problem: I have opened a chargeback for order A-10293."},
        headers={"X-CSRF-Token": agent_csrf},
    ).json()
    codes = {f["code"] for f in checked["findings"]}
    assert {"jargon", "voice_avoid"} <= codes


def test_bad_form_and_url_values_get_clear_answers(
    client: TestClient, runtime: Runtime, people: Personas
) -> None:
    ticket = new_ticket(client, people.agent)
    long_search = "x" * 480
    away = client.get(f"/agent/inbox?view=all&q={long_search}", follow_redirects=False)
    assert away.headers["location"] == "/login?next=%2Fagent%2Finbox"  # not a 422 after sign-in
    csrf = sign_in(client, runtime, "agent@desk.test")
    for cursor in ("eyJzY29yZSI6IngiLCJpZCI6MX0", "eyJzY29yZSI6MSwiaWQiOjFlMzB9", "nonsense"):
        damaged = client.get(f"/agent/inbox?view=all&cursor={cursor}")
        assert damaged.status_code == 422 and "invalid_cursor" in damaged.text
    before = client.get(f"/api/v1/tickets/{ticket['id']}").json()
    bad_view = client.post(
        f"/agent/tickets/{ticket['id']}/reply", data={"csrf_token": csrf, "body": "Hello", "view": "nowhere"}
    )
    assert bad_view.status_code == 422 and "invalid_view" in bad_view.text
    after = client.get(f"/api/v1/tickets/{ticket['id']}").json()
    assert len(after["messages"]) == len(before["messages"])  # refused before anything was sent
    empty = client.post(f"/agent/tickets/{ticket['id']}/reply", data={"csrf_token": csrf, "body": "  "})
    assert empty.status_code == 422
    assignee = client.post(
        f"/agent/tickets/{ticket['id']}/update", data={"csrf_token": csrf, "assignee": "0"}
    )
    assert assignee.status_code == 422
