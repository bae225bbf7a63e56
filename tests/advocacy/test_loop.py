"""Closing the loop end to end: a case is fixed and every affected customer hears it personally on the
channel they used (email through a real SMTP relay, a social platform's callback, the chat), in their
language, with delivery tracked and failures retried; customers who must not be contacted are skipped with
a reason; customers of the segment who never wrote in get a new email ticket; then the case is verified
when its theme stops growing, or flagged when it does not."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from ombud.accounts.schemas import SYSTEM
from ombud.advocacy import loop
from ombud.advocacy.models import (
    AdvocacyCase,
    CaseNotice,
    CaseStatus,
    NoticeState,
    Theme,
    ThemeMember,
    ThemeState,
)
from ombud.channels.models import Delivery
from ombud.channels.social.signing import sign as social_sign
from ombud.customers import service as customers
from ombud.customers.models import Customer
from ombud.customers.schemas import CustomerRef
from ombud.events.models import Event
from ombud.runtime import Runtime, build_runtime
from ombud.settings import Settings
from ombud.storage.base import utcnow
from ombud.tickets.models import DeliveryState, Message, Status, Ticket
from tests.advocacy.cases_helpers import (
    Tracker,
    add_member,
    get_case,
    make_theme,
    move,
    open_case,
    running_tracker,
)
from tests.channels.conftest import SUPPORT, Relay
from tests.conftest import Personas, app_for, make_people, new_ticket
from tests.web.workspace import plain_text


@pytest.fixture
def platform() -> Iterator[Tracker]:
    with running_tracker() as found:
        yield found


@pytest.fixture
def runtime(tmp_path: Path, database_url: str, relay: Relay) -> Iterator[Runtime]:
    settings = Settings(
        home=tmp_path,
        database_url=database_url,
        smtp_relay=f"127.0.0.1:{relay.port}",
        email_address=SUPPORT,
        email_name="Northwind Support",
    )
    built = build_runtime(settings, queue_url="memory://")
    yield built
    built.close()


@pytest.fixture
def client(runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(app_for(runtime), raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def people(runtime: Runtime) -> Personas:
    return make_people(runtime)


class Clock:
    """Moves the loop's idea of now forward (retry waits, the verification date), without sleeping."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.offset = dt.timedelta()
        monkeypatch.setattr(loop, "utcnow", lambda: utcnow() + self.offset)

    def advance(self, **delta: float) -> None:
        self.offset += dt.timedelta(**delta)


def _email_ticket(client: TestClient, people: Personas, email: str, name: str, body: str) -> dict[str, Any]:
    return new_ticket(
        client, people.agent, customer={"email": email, "name": name}, subject="Card declined", body=body
    )


def _social_ticket(client: TestClient, people: Personas, platform: Tracker) -> dict[str, Any]:
    endpoint = client.post(
        "/api/v1/channels/social",
        json={"name": "whatsapp", "platform": "whatsapp", "callback_url": platform.url},
        headers=people.admin.headers,
    ).json()
    body = json.dumps(
        {
            "id": "wamid.1",
            "from": {"handle": "+4915112345678", "name": "Jonas Weber"},
            "text": "My card is declined at checkout, again.",
            "conversation_id": "c-1",
        }
    ).encode()
    now = int(time.time())
    received = client.post(
        "/api/v1/webhooks/social/whatsapp",
        content=body,
        headers={
            "Content-Type": "application/json",
            "X-Ombud-Timestamp": str(now),
            "X-Ombud-Signature": social_sign(endpoint["secret"], now, body),
        },
    )
    assert received.status_code == 200, received.text
    ticket: dict[str, Any] = client.get(
        f"/api/v1/tickets/{received.json()['ticket_id']}", headers=people.agent.headers
    ).json()
    return ticket


def _chat_ticket(client: TestClient, people: Personas) -> dict[str, Any]:
    token = client.post("/chat/api/visitors", json={"name": "Lea Chat"}).json()["token"]
    line = client.post(
        "/chat/api/messages",
        json={"text": "The card payment fails at checkout", "client_id": "c-1"},
        headers={"X-Chat-Token": token},
    )
    assert line.status_code == 201, line.text
    ticket: dict[str, Any] = client.get(
        f"/api/v1/tickets/{line.json()['ticket_id']}", headers=people.agent.headers
    ).json()
    return ticket


def _customer(runtime: Runtime, *, email: str | None, phone: str | None, tier: str, **prefs: Any) -> int:
    with runtime.database.session() as session:
        found, _ = customers.resolve_customer(
            session=session, ref=CustomerRef(email=email, phone=phone, name="Quiet Customer"), actor=SYSTEM
        )
        found.tier = tier
        found.preferences = prefs
        session.commit()
        return found.id


def _notices(client: TestClient, people: Personas, case_id: int) -> dict[int, dict[str, Any]]:
    return {n["customer_id"]: n for n in get_case(client, people.agent, case_id)["notices"]}


def test_fixing_a_case_tells_every_affected_customer_on_their_channel(
    runtime: Runtime,
    client: TestClient,
    people: Personas,
    relay: Relay,
    platform: Tracker,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = Clock(monkeypatch)
    ana = _email_ticket(client, people, "ana@example.net", "Ana Pérez", "My card is declined at checkout.")
    solved = client.patch(
        f"/api/v1/tickets/{ana['id']}",
        json={"status": "solved", "confirm": True},
        headers=people.agent.headers,
    )
    assert solved.status_code == 200, solved.text
    ana_again = _email_ticket(client, people, "ana@example.net", "Ana Pérez", "Still declined today.")
    jonas = _social_ticket(client, people, platform)
    lea = _chat_ticket(client, people)
    quiet = _email_ticket(client, people, "optout@example.net", "Otto Out", "Card declined.")
    caller: dict[str, Any] = new_ticket(
        client,
        people.agent,
        customer={"phone": "+49301234567", "name": "Carl Caller"},
        channel="phone",
        subject="Card declined",
        body="Called: card declined at checkout.",
    )
    with runtime.database.session() as session:
        customer = session.get(Customer, quiet["customer_id"])
        assert customer is not None
        customer.preferences = {"advocacy_notices": False}
        session.commit()
    # Premium customers who never wrote in: one can be emailed, one cannot.
    gina = _customer(runtime, email="gina@example.net", phone=None, tier="premium")
    hugo = _customer(runtime, email=None, phone="+49309999999", tier="premium")

    theme_id = make_theme(runtime, [ana, ana_again, jonas, lea, quiet, caller])
    case = open_case(
        client,
        people.advocate,
        theme_id=theme_id,
        title="Card payments declined",
        notify_segment=True,
        segment={"tier": "premium"},
    )
    platform.script = [400]  # the platform refuses the first attempt
    fixed = move(client, people.advocate, case["id"], "fixed", fix_note="Visa cards are accepted again.")
    assert fixed.status_code == 200, fixed.text

    notices = _notices(client, people, case["id"])
    assert set(notices) == {
        ana["customer_id"],
        jonas["customer_id"],
        lea["customer_id"],
        quiet["customer_id"],
        caller["customer_id"],
        gina,
        hugo,
    }  # one per customer: Ana wrote twice
    assert notices[ana["customer_id"]]["state"] == "sent"
    assert notices[ana["customer_id"]]["ticket_id"] == ana_again["id"]  # their most recent ticket
    assert notices[lea["customer_id"]]["state"] == "sent" and notices[lea["customer_id"]]["channel"] == "chat"
    assert notices[quiet["customer_id"]]["state"] == "skipped"
    assert notices[quiet["customer_id"]]["reason"] == "opted_out"
    assert notices[caller["customer_id"]]["reason"] == "channel_cannot_carry_message"
    assert (notices[hugo]["state"], notices[hugo]["reason"]) == ("skipped", "no_email_address")
    assert notices[gina]["state"] == "sent" and notices[gina]["channel"] == "email"
    outbound = client.get(f"/api/v1/tickets/{notices[gina]['ticket_id']}", headers=people.agent.headers)
    assert outbound.json()["status"] == "solved"  # nothing to answer: not left open in the inbox
    # The new ticket is the notice's, not one of the case's (it is no concern of the customer's).
    assert get_case(client, people.agent, case["id"])["ticket_count"] == 6
    social = notices[jonas["customer_id"]]
    assert social["state"] == "pending" and social["reason"].startswith("retrying: ")
    assert "400" in social["reason"] and social["retry_at"] is not None
    assert get_case(client, people.agent, case["id"])["status"] == "fixed"  # not everyone told yet

    by_recipient = {str(m["To"]): m for m in relay.received}
    assert set(by_recipient) == {"ana@example.net", "gina@example.net"}
    to_ana = plain_text(by_recipient["ana@example.net"])
    assert "Hello Ana Pérez," in to_ana and f"(ticket #{ana_again['id']})" in to_ana
    assert "Visa cards are accepted again." in to_ana
    to_gina = plain_text(by_recipient["gina@example.net"])
    assert "Hello Quiet Customer," in to_gina and "Card payments declined" in to_gina

    # Ana's tickets: noted and tagged; the solved one stays solved.
    first = client.get(f"/api/v1/tickets/{ana['id']}", headers=people.agent.headers).json()
    assert first["status"] == "solved" and f"advocacy-case-{case['id']}" in first["tags"]
    assert any(m["internal"] and f"Advocacy case #{case['id']}" in m["body"] for m in first["messages"])

    # A ticket added to the fixed case: its customer is told; those told already are not told twice.
    late = _email_ticket(client, people, "late@example.net", "Lena Late", "Declined for me too.")
    added = client.post(
        f"/api/v1/advocacy/cases/{case['id']}/tickets",
        json={"ticket_ids": [late["id"]]},
        headers=people.advocate.headers,
    )
    assert added.status_code == 200, added.text
    assert sorted(str(m["To"]) for m in relay.received) == [
        "ana@example.net",
        "gina@example.net",
        "late@example.net",
    ]

    # The wait is over: the sweep puts the reply back to the platform, which takes it now.
    clock.advance(minutes=10)
    runtime.queue.sweep()
    notices = _notices(client, people, case["id"])
    assert notices[jonas["customer_id"]]["state"] == "sent" and notices[jonas["customer_id"]]["attempts"] == 2
    texts = [json.loads(r.body)["text"] for r in platform.received]
    assert len(texts) == 2 and "Hello Jonas Weber," in texts[-1] and "Visa cards" in texts[-1]

    told = get_case(client, people.agent, case["id"])
    assert told["status"] == "customers_told" and told["notice_counts"] == {
        "pending": 0,
        "sent": 5,
        "failed": 0,
        "skipped": 3,
    }
    due = dt.datetime.fromisoformat(told["verify_due_at"]) - dt.datetime.fromisoformat(told["told_at"])
    assert due == dt.timedelta(days=7)


def test_the_message_speaks_the_customers_language(
    runtime: Runtime, client: TestClient, people: Personas, relay: Relay
) -> None:
    jana = _email_ticket(
        client,
        people,
        "jana@example.de",
        "Jana Schmidt",
        "Meine Kreditkarte wird beim Bezahlen immer abgelehnt. Können Sie mir bitte helfen? Ich habe es "
        "schon dreimal versucht und bekomme jedes Mal eine Fehlermeldung.",
    )
    theme_id = make_theme(runtime, [jana])
    case = open_case(client, people.advocate, theme_id=theme_id)
    move(client, people.advocate, case["id"], "fixed", fix_note="Kreditkarten funktionieren wieder.")
    [mail] = relay.received
    text = plain_text(mail)
    assert "Hallo Jana Schmidt," in text and "Kreditkarten funktionieren wieder." in text


def test_undeliverable_notices_fail_with_the_reason_after_the_retries(
    runtime: Runtime, client: TestClient, people: Personas, platform: Tracker, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Clock(monkeypatch)
    jonas = _social_ticket(client, people, platform)
    case = open_case(client, people.advocate, title="Declines", ticket_ids=[jonas["id"]])
    platform.script = [400] * 10
    move(client, people.advocate, case["id"], "fixed", fix_note="Fixed.")
    for _ in range(loop.MAX_ATTEMPTS):
        clock.advance(hours=7)
        runtime.queue.sweep()
    [notice] = get_case(client, people.agent, case["id"])["notices"]
    assert notice["state"] == "failed" and notice["attempts"] == loop.MAX_ATTEMPTS
    assert (
        notice["reason"].startswith(f"gave up after {loop.MAX_ATTEMPTS} attempts")
        and "400" in notice["reason"]
    )
    assert len(platform.received) == loop.MAX_ATTEMPTS
    assert get_case(client, people.agent, case["id"])["status"] == "customers_told"


def test_verified_when_the_theme_stops_growing_and_flagged_when_it_does_not(
    runtime: Runtime, client: TestClient, people: Personas, relay: Relay, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Clock(monkeypatch)
    tickets = [
        _email_ticket(client, people, f"c{i}@example.net", f"Customer {i}", "Card declined at checkout.")
        for i in range(4)
    ]
    hours = [utcnow() - dt.timedelta(days=d) for d in (1, 2, 3, 4)]
    stops = make_theme(runtime, tickets[:2], at=hours[:2])
    grows = make_theme(runtime, tickets[2:], label="parcel lost", at=hours[2:])
    stopped = open_case(client, people.advocate, theme_id=stops)
    growing = open_case(client, people.advocate, theme_id=grows)
    for case in (stopped, growing):
        assert move(client, people.advocate, case["id"], "fixed", fix_note="Fixed.").status_code == 200
        assert get_case(client, people.agent, case["id"])["status"] == "customers_told"

    # After the fix, the second theme goes on: five more concerns.
    with runtime.database.session() as session:
        for i in range(5):
            add_member(session, grows, tickets[2], at=utcnow() + dt.timedelta(days=1, hours=i))
        session.commit()
    clock.advance(days=3)
    runtime.queue.sweep()
    assert get_case(client, people.agent, stopped["id"])["status"] == "customers_told"  # not due yet

    clock.advance(days=5)
    runtime.queue.sweep()
    verified = get_case(client, people.agent, stopped["id"])
    assert verified["status"] == "verified" and verified["verified_at"] is not None
    assert verified["evidence"]["verification"]["result"] == "verified"
    flagged = get_case(client, people.agent, growing["id"])
    assert flagged["status"] == "customers_told"
    check = flagged["evidence"]["verification"]
    assert check["result"] == "still_growing" and check["per_day_after"] > check["per_day_before"] * 0.5
    assert dt.datetime.fromisoformat(flagged["verify_due_at"]) > utcnow() + dt.timedelta(days=14)
    with runtime.database.session(write=False) as session:
        alerts = session.scalars(select(Event).where(Event.kind == "advocacy.case.still_growing")).all()
    assert [a.entity_id for a in alerts] == [growing["id"]]

    # It came back: reopened, and once fixed again the customers are told again.
    assert move(client, people.advocate, growing["id"], "in_progress").status_code == 200
    again = move(client, people.advocate, growing["id"], "fixed", fix_note="Fixed for real now.")
    assert again.status_code == 200
    renewed = get_case(client, people.agent, growing["id"])
    assert renewed["status"] == "customers_told" and {n["state"] for n in renewed["notices"]} == {"sent"}
    told_again = [m for m in relay.received if "Fixed for real now." in plain_text(m)]
    assert sorted(str(m["To"]) for m in told_again) == ["c2@example.net", "c3@example.net"]


def test_a_fix_taken_back_drops_the_notices_not_yet_sent(
    runtime: Runtime, client: TestClient, people: Personas, platform: Tracker, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Clock(monkeypatch)
    jonas = _social_ticket(client, people, platform)
    case = open_case(client, people.advocate, title="Declines", ticket_ids=[jonas["id"]])
    platform.script = [400]
    move(client, people.advocate, case["id"], "fixed", fix_note="Fixed.")
    assert move(client, people.advocate, case["id"], "in_progress").status_code == 200
    clock.advance(hours=1)
    runtime.queue.sweep()
    [notice] = get_case(client, people.agent, case["id"])["notices"]
    assert (notice["state"], notice["reason"]) == ("skipped", "case_reopened")
    assert len(platform.received) == 1  # the refused first attempt only: nothing was sent again
    assert get_case(client, people.agent, case["id"])["status"] == "in_progress"


def test_a_second_fix_writes_on_the_customers_own_ticket_and_notes_a_closed_one_once(
    runtime: Runtime, client: TestClient, people: Personas, relay: Relay
) -> None:
    """After a reopen and a second fix, the customer's own ticket is still theirs (not the "Fixed: …" ticket
    of the first notice), the case's counts hold no outbound tickets, and a closed ticket (which cannot be
    tagged) gets the case's note once, not once per fix."""
    closed = _email_ticket(client, people, "cleo@example.net", "Cleo Closed", "Card declined.")
    shut = client.patch(
        f"/api/v1/tickets/{closed['id']}",
        json={"status": "closed", "confirm": True},
        headers=people.agent.headers,
    )
    assert shut.status_code == 200, shut.text
    case = open_case(client, people.advocate, title="Declines", ticket_ids=[closed["id"]])
    for _ in range(2):
        assert move(client, people.advocate, case["id"], "fixed", fix_note="Fixed.").status_code == 200
        detail = get_case(client, people.agent, case["id"])
        assert detail["status"] == "customers_told" and detail["ticket_count"] == 1
        assert [t["ticket_id"] for t in detail["tickets"]] == [closed["id"]]
        assert move(client, people.advocate, case["id"], "in_progress").status_code == 200
    assert [str(m["To"]) for m in relay.received] == ["cleo@example.net", "cleo@example.net"]
    messages = client.get(f"/api/v1/tickets/{closed['id']}", headers=people.agent.headers).json()["messages"]
    assert sum(f"Advocacy case #{case['id']}" in m["body"] for m in messages) == 1
    with runtime.database.session(write=False) as session:
        outbound = session.scalars(
            select(Ticket.id).where(Ticket.customer_id == closed["customer_id"], Ticket.id != closed["id"])
        ).all()
        states = session.scalars(select(Ticket.status).where(Ticket.id.in_(outbound))).all()
    assert len(outbound) == 2 and set(states) == {Status.solved}


def test_tickets_added_after_the_customers_were_told_are_told_too(
    runtime: Runtime, client: TestClient, people: Personas, relay: Relay
) -> None:
    first = _email_ticket(client, people, "first@example.net", "First", "Card declined.")
    case = open_case(client, people.advocate, title="Declines", ticket_ids=[first["id"]])
    move(client, people.advocate, case["id"], "fixed", fix_note="Fixed.")
    assert get_case(client, people.agent, case["id"])["status"] == "customers_told"
    late = _email_ticket(client, people, "late@example.net", "Late", "Declined too.")
    added = client.post(
        f"/api/v1/advocacy/cases/{case['id']}/tickets",
        json={"ticket_ids": [late["id"]]},
        headers=people.advocate.headers,
    )
    assert added.status_code == 200, added.text
    assert sorted(str(m["To"]) for m in relay.received) == ["first@example.net", "late@example.net"]
    assert get_case(client, people.agent, case["id"])["notice_counts"]["sent"] == 2


def test_a_notice_whose_posting_breaks_ends_failed_and_the_case_moves_on(
    runtime: Runtime, client: TestClient, people: Personas, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Clock(monkeypatch)
    ticket = _email_ticket(client, people, "poison@example.net", "Poison", "Card declined.")
    case = open_case(client, people.advocate, title="Declines", ticket_ids=[ticket["id"]])

    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("the template exploded")

    monkeypatch.setattr(loop, "compose", broken)
    assert move(client, people.advocate, case["id"], "fixed", fix_note="Fixed.").status_code == 200
    [notice] = get_case(client, people.agent, case["id"])["notices"]
    assert notice["state"] == "pending" and notice["attempts"] == 1 and "exploded" in notice["reason"]
    for _ in range(loop.MAX_ATTEMPTS):
        clock.advance(hours=7)
        runtime.queue.sweep()
    [notice] = get_case(client, people.agent, case["id"])["notices"]
    assert notice["state"] == "failed" and notice["attempts"] == loop.MAX_ATTEMPTS
    assert "the template exploded" in notice["reason"]
    assert get_case(client, people.agent, case["id"])["status"] == "customers_told"


def test_a_reply_that_never_leaves_fails_after_a_bounded_time(
    runtime: Runtime, client: TestClient, people: Personas, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A reply that stays on its way (the channel neither sends it nor gives up) is not polled for ever:
    after MAX_IN_FLIGHT the notice fails with the reason and the case moves on."""
    clock = Clock(monkeypatch)
    ticket = _email_ticket(client, people, "stuck@example.net", "Stuck", "Card declined.")
    case = open_case(client, people.advocate, title="Declines", ticket_ids=[ticket["id"]])
    move(client, people.advocate, case["id"], "fixed", fix_note="Fixed.")
    # Make the reply look stuck in the channel's queue, and the case as it was before it was sent.
    with runtime.database.session() as session:
        notice = session.scalars(select(CaseNotice).where(CaseNotice.case_id == case["id"])).one()
        notice.state, notice.retry_at, notice.sent_at = NoticeState.pending, utcnow(), None
        session.execute(
            update(Message)
            .where(Message.id == notice.message_id)
            .values(delivery_state=DeliveryState.pending)
        )
        session.execute(
            update(Delivery)
            .where(Delivery.message_id == notice.message_id)
            .values(state="pending", next_attempt_at=utcnow() + dt.timedelta(days=365))
        )
        session.execute(
            update(AdvocacyCase).where(AdvocacyCase.id == case["id"]).values(status=CaseStatus.fixed)
        )
        session.commit()
    clock.advance(minutes=5)
    runtime.queue.sweep()
    [seen] = get_case(client, people.agent, case["id"])["notices"]
    assert seen["state"] == "pending"  # looked at, still on its way
    clock.advance(days=3)
    runtime.queue.sweep()
    [seen] = get_case(client, people.agent, case["id"])["notices"]
    assert seen["state"] == "failed" and "did not send it within 2 days" in seen["reason"]
    assert get_case(client, people.agent, case["id"])["status"] == "customers_told"


def test_a_merged_theme_is_measured_where_it_went_and_a_retired_one_is_not_verified(
    runtime: Runtime, client: TestClient, people: Personas, relay: Relay, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Clock(monkeypatch)
    tickets = [
        _email_ticket(client, people, f"m{i}@example.net", f"Merged {i}", "Card declined at checkout.")
        for i in range(3)
    ]
    earlier = [utcnow() - dt.timedelta(days=d) for d in (1, 2)]
    merged = make_theme(runtime, tickets[:2], at=earlier)
    target = make_theme(runtime, [tickets[2]], label="checkout fails", at=[utcnow() - dt.timedelta(days=3)])
    retired = make_theme(runtime, [tickets[2]], label="old", at=[utcnow() - dt.timedelta(days=3)])
    moved_case = open_case(client, people.advocate, theme_id=merged)
    gone_case = open_case(client, people.advocate, theme_id=retired)
    for case in (moved_case, gone_case):
        move(client, people.advocate, case["id"], "fixed", fix_note="Fixed.")
    # The case's theme is merged into another whose concerns go on after the fix; the other is retired.
    with runtime.database.session() as session:
        session.execute(
            update(Theme).where(Theme.id == merged).values(state=ThemeState.merged, merged_into_id=target)
        )
        session.execute(update(ThemeMember).where(ThemeMember.theme_id == merged).values(theme_id=target))
        session.execute(update(Theme).where(Theme.id == retired).values(state=ThemeState.retired))
        for i in range(6):
            add_member(session, target, tickets[2], at=utcnow() + dt.timedelta(days=1, hours=i))
        session.commit()
    clock.advance(days=8)
    runtime.queue.sweep()
    flagged = get_case(client, people.agent, moved_case["id"])
    check = flagged["evidence"]["verification"]
    assert flagged["status"] == "customers_told" and check["result"] == "still_growing"
    assert check["theme_id"] == target
    unverifiable = get_case(client, people.agent, gone_case["id"])
    assert unverifiable["status"] == "customers_told" and unverifiable["verify_due_at"] is None
    assert unverifiable["evidence"]["verification"]["result"] == "cannot_verify"
    with runtime.database.session(write=False) as session:
        kinds = session.scalars(select(Event.kind).where(Event.entity_id == gone_case["id"])).all()
    assert "advocacy.case.cannot_verify" in kinds
