"""Per-ticket SLA clocks through the API and the sweep: start, achieve, pause, warn, breach and escalate,
next response cycles, reopening, and re-evaluation when the priority or the team changes mid-clock (on
business hours, across DST)."""

from __future__ import annotations

import datetime as dt

from fastapi.testclient import TestClient
from sqlalchemy import select

from ombud.runtime import Runtime
from ombud.sla.models import TicketSla
from ombud.tickets.models import Message, Ticket
from tests.conftest import Personas, new_ticket
from tests.sla.conftest import (
    FakeClock,
    clock_of,
    create_calendar,
    create_policy,
    instant,
    sla_events,
    sla_of,
)


def _reply(client: TestClient, who: object, ticket_id: object, body: str = "Looking into it now.") -> None:
    response = client.post(
        f"/api/v1/tickets/{ticket_id}/messages",
        json={"body": body},
        headers=who.headers,  # type: ignore[attr-defined]
    )
    assert response.status_code == 201, response.text


def _patch(client: TestClient, who: object, ticket_id: object, **fields: object) -> None:
    response = client.patch(f"/api/v1/tickets/{ticket_id}", json=fields, headers=who.headers)  # type: ignore[attr-defined]
    assert response.status_code == 200, response.text


def test_first_response_starts_with_the_ticket_and_is_achieved_by_a_public_reply(
    runtime: Runtime, client: TestClient, people: Personas, clock: FakeClock
) -> None:
    create_policy(client, people.admin)
    ticket = new_ticket(client, people.agent)
    state = sla_of(client, people.agent, ticket["id"])
    assert state["policy"]["name"] == "Standard"
    assert state["calendar"]["name"] == "24/7"
    first = clock_of(client, people.agent, ticket["id"], "first_response")
    assert first["state"] == "running"
    assert instant(first["due_at"]) == clock.now + dt.timedelta(minutes=60)
    assert first["minutes_left"] == 60.0

    clock.advance(minutes=20)
    # An internal note is no answer to the customer.
    client.post(
        f"/api/v1/tickets/{ticket['id']}/messages",
        json={"body": "checking the ledger", "internal": True},
        headers=people.agent.headers,
    )
    assert clock_of(client, people.agent, ticket["id"], "first_response")["state"] == "running"
    _reply(client, people.agent, ticket["id"])
    first = clock_of(client, people.agent, ticket["id"], "first_response")
    assert first["state"] == "achieved" and not first["breached"]
    assert first["elapsed_minutes"] == 20.0
    achieved = [p for k, p in sla_events(runtime, ticket["id"]) if k == "sla.achieved"]
    assert achieved == [
        {
            "metric": "first_response",
            "due_at": (clock.now + dt.timedelta(minutes=40)).isoformat(),
            "at": clock.now.isoformat(),
            "breached": False,
            "business_minutes": 20.0,
            "target_minutes": 60,
        }
    ]
    # Resolution keeps running until the ticket is solved.
    assert clock_of(client, people.agent, ticket["id"], "resolution")["state"] == "running"


def test_warning_then_breach_escalates_once(
    runtime: Runtime, client: TestClient, people: Personas, clock: FakeClock
) -> None:
    create_policy(
        client,
        people.admin,
        targets={"first_response": 60},
        warn_fraction=0.75,
        escalation={"notify": True, "raise_priority": True, "team_id": people.team_id, "unassign": True},
    )
    ticket = new_ticket(client, people.agent)
    _patch(client, people.agent, ticket["id"], assignee_id=people.agent2.id)

    clock.advance(minutes=30)
    runtime.queue.sweep()
    assert sla_events(runtime, ticket["id"]) == []  # nothing due yet

    clock.advance(minutes=16)  # 46 min: past 75%
    runtime.queue.sweep()
    assert [k for k, _ in sla_events(runtime, ticket["id"])] == ["sla.warning"]
    notes = _notes(runtime, ticket["id"])
    assert len(notes) == 1 and "SLA warning" in notes[0] and "@agent2" in notes[0]

    clock.advance(minutes=15)  # 61 min: breached
    runtime.queue.sweep()
    runtime.queue.sweep()  # a second sweep finds nothing new
    kinds = [k for k, _ in sla_events(runtime, ticket["id"])]
    assert kinds == ["sla.warning", "sla.breached"]
    breached = sla_events(runtime, ticket["id"], "sla.breached")[0][1]
    assert breached == {
        "metric": "first_response",
        "due_at": (clock.now - dt.timedelta(minutes=1)).isoformat(),
    }
    notes = _notes(runtime, ticket["id"])
    assert len(notes) == 2 and "SLA breached" in notes[1] and "@lead" in notes[1]
    detail = client.get(f"/api/v1/tickets/{ticket['id']}", headers=people.agent.headers).json()
    assert detail["priority"] == "high"
    assert detail["team_id"] == people.team_id
    assert detail["assignee_id"] is None
    first = clock_of(client, people.agent, ticket["id"], "first_response")
    assert first["breached"] and first["state"] == "running" and first["minutes_left"] == -1.0

    # Answered late: achieved, and the report event says it was breached.
    _reply(client, people.agent, ticket["id"])
    achieved = sla_events(runtime, ticket["id"], "sla.achieved")[0][1]
    assert achieved["breached"] is True and achieved["business_minutes"] == 61.0


def _notes(runtime: Runtime, ticket_id: object) -> list[str]:
    with runtime.database.session(write=False) as session:
        rows = session.scalars(
            select(Message)
            .where(Message.ticket_id == ticket_id, Message.internal.is_(True))
            .order_by(Message.id)
        ).all()
        return [m.body_text for m in rows]


def test_paused_statuses_stop_the_clock(
    runtime: Runtime, client: TestClient, people: Personas, clock: FakeClock
) -> None:
    create_policy(client, people.admin, targets={"resolution": 240})
    ticket = new_ticket(client, people.agent)
    created = clock.now
    clock.advance(minutes=30)
    _patch(client, people.agent, ticket["id"], status="pending")
    resolution = clock_of(client, people.agent, ticket["id"], "resolution")
    assert resolution["paused"] and resolution["due_at"] is None and resolution["elapsed_minutes"] == 30.0

    clock.advance(hours=5)  # pending for five hours: not counted, no breach
    runtime.queue.sweep()
    assert sla_events(runtime, ticket["id"], "sla.breached") == []
    _patch(client, people.agent, ticket["id"], status="open")
    resolution = clock_of(client, people.agent, ticket["id"], "resolution")
    assert resolution["state"] == "running" and resolution["elapsed_minutes"] == 30.0
    assert instant(resolution["due_at"]) == created + dt.timedelta(hours=5, minutes=240)


def test_solving_achieves_resolution_and_reopening_continues_it(
    runtime: Runtime, client: TestClient, people: Personas, clock: FakeClock
) -> None:
    create_policy(client, people.admin, targets={"first_response": 60, "resolution": 600})
    ticket = new_ticket(client, people.agent)
    clock.advance(minutes=10)
    _reply(client, people.agent, ticket["id"])
    clock.advance(minutes=50)
    _patch(client, people.agent, ticket["id"], status="solved", confirm=True)
    resolution = clock_of(client, people.agent, ticket["id"], "resolution")
    assert resolution["state"] == "achieved" and resolution["elapsed_minutes"] == 60.0
    assert [p["metric"] for _, p in sla_events(runtime, ticket["id"], "sla.achieved")] == [
        "first_response",
        "resolution",
    ]

    clock.advance(hours=3)  # solved time does not count
    _reply(client, people.customer, ticket["id"], "It happened again, please check.")
    resolution = clock_of(client, people.agent, ticket["id"], "resolution")
    assert resolution["state"] == "running" and resolution["achieved_at"] is None
    assert resolution["elapsed_minutes"] == 60.0
    assert instant(resolution["due_at"]) == clock.now + dt.timedelta(minutes=540)


def test_each_customer_message_after_a_reply_starts_a_next_response_cycle(
    runtime: Runtime, client: TestClient, people: Personas, clock: FakeClock
) -> None:
    create_policy(client, people.admin, targets={"first_response": 60, "next_response": 120})
    ticket = new_ticket(client, people.agent)
    assert [c["metric"] for c in sla_of(client, people.agent, ticket["id"])["clocks"]] == ["first_response"]
    clock.advance(minutes=5)
    _reply(client, people.agent, ticket["id"])
    clock.advance(minutes=30)
    _reply(client, people.customer, ticket["id"], "Thanks, but the second charge is still there.")
    nxt = clock_of(client, people.agent, ticket["id"], "next_response")
    assert nxt["state"] == "running" and instant(nxt["due_at"]) == clock.now + dt.timedelta(minutes=120)
    clock.advance(minutes=10)
    _reply(client, people.customer, ticket["id"], "Any news?")  # the same cycle goes on
    assert instant(clock_of(client, people.agent, ticket["id"], "next_response")["started_at"]) == (
        clock.now - dt.timedelta(minutes=10)
    )
    clock.advance(minutes=15)
    _reply(client, people.agent, ticket["id"])
    nxt = clock_of(client, people.agent, ticket["id"], "next_response")
    assert nxt["state"] == "achieved" and nxt["elapsed_minutes"] == 25.0
    clock.advance(minutes=60)
    _reply(client, people.customer, ticket["id"], "One more question.")
    nxt = clock_of(client, people.agent, ticket["id"], "next_response")
    assert nxt["state"] == "running" and nxt["elapsed_minutes"] == 0.0 and not nxt["breached"]
    assert [p["metric"] for _, p in sla_events(runtime, ticket["id"], "sla.achieved")] == [
        "first_response",
        "next_response",
    ]


def test_a_priority_change_mid_clock_applies_the_new_target_keeping_elapsed_time(
    runtime: Runtime, client: TestClient, people: Personas, clock: FakeClock
) -> None:
    create_policy(
        client,
        people.admin,
        name="Urgent",
        conditions={"priorities": ["urgent"]},
        targets={"first_response": 30},
    )
    create_policy(client, people.admin, name="Everything else", targets={"first_response": 240})
    ticket = new_ticket(client, people.agent)
    assert sla_of(client, people.agent, ticket["id"])["policy"]["name"] == "Everything else"
    clock.advance(minutes=20)
    _patch(client, people.agent, ticket["id"], priority="urgent")
    state = sla_of(client, people.agent, ticket["id"])
    assert state["policy"]["name"] == "Urgent"
    first = state["clocks"][0]
    assert first["target_minutes"] == 30 and first["elapsed_minutes"] == 20.0
    assert instant(first["due_at"]) == clock.now + dt.timedelta(minutes=10)

    # Lowered again after 25 minutes in all: the long target, still counting from the start.
    clock.advance(minutes=5)
    _patch(client, people.agent, ticket["id"], priority="normal")
    first = clock_of(client, people.agent, ticket["id"], "first_response")
    assert first["target_minutes"] == 240 and first["elapsed_minutes"] == 25.0
    assert instant(first["due_at"]) == clock.now + dt.timedelta(minutes=215)

    # Urgent once more, now past its 30 minutes: breached by the sweep at once.
    clock.advance(minutes=10)
    _patch(client, people.agent, ticket["id"], priority="urgent")
    runtime.queue.sweep()
    assert [k for k, _ in sla_events(runtime, ticket["id"], "sla.breached")] == ["sla.breached"]


def test_a_team_change_mid_clock_moves_to_the_team_calendar_keeping_elapsed_time(
    runtime: Runtime, client: TestClient, people: Personas, clock: FakeClock
) -> None:
    calendar = create_calendar(client, people.admin)
    response = client.put(
        f"/api/v1/sla/teams/{people.team_id}/calendar",
        json={"calendar_id": calendar["id"]},
        headers=people.admin.headers,
    )
    assert response.status_code == 204, response.text
    create_policy(client, people.admin, targets={"first_response": 120})
    clock.set(dt.datetime(2026, 12, 4, 16, 0, tzinfo=dt.UTC))  # Friday 17:00 in Berlin
    ticket = new_ticket(client, people.agent)
    assert instant(clock_of(client, people.agent, ticket["id"], "first_response")["due_at"]) == (
        clock.now + dt.timedelta(minutes=120)  # no team: 24/7
    )
    clock.advance(minutes=60)  # 18:00 in Berlin, after hours
    _patch(client, people.agent, ticket["id"], team_id=people.team_id)
    state = sla_of(client, people.agent, ticket["id"])
    assert state["calendar"]["name"] == "Berlin office"
    first = state["clocks"][0]
    assert first["elapsed_minutes"] == 60.0
    # The remaining 60 business minutes: Monday 09:00-10:00 in Berlin.
    assert instant(first["due_at"]) == dt.datetime(2026, 12, 7, 9, 0, tzinfo=dt.UTC)

    # Over the weekend nothing counts and nothing breaches.
    clock.set(dt.datetime(2026, 12, 6, 12, 0, tzinfo=dt.UTC))
    runtime.queue.sweep()
    assert clock_of(client, people.agent, ticket["id"], "first_response")["elapsed_minutes"] == 60.0
    assert sla_events(runtime, ticket["id"], "sla.breached") == []
    clock.set(dt.datetime(2026, 12, 7, 9, 0, tzinfo=dt.UTC))
    runtime.queue.sweep()
    assert len(sla_events(runtime, ticket["id"], "sla.breached")) == 1


def test_due_times_on_business_hours_are_right_across_dst(
    runtime: Runtime, client: TestClient, people: Personas, clock: FakeClock
) -> None:
    create_calendar(client, people.admin, is_default=True)
    create_policy(client, people.admin, targets={"first_response": 120})
    # Friday 27 March 2026, 16:00 in Berlin (CET, UTC+1); the clocks go forward on Sunday.
    clock.set(dt.datetime(2026, 3, 27, 15, 0, tzinfo=dt.UTC))
    ticket = new_ticket(client, people.agent)
    first = clock_of(client, people.agent, ticket["id"], "first_response")
    # 90 minutes on Friday, 30 on Monday from 09:00 CEST (UTC+2): 07:30 UTC.
    assert instant(first["due_at"]) == dt.datetime(2026, 3, 30, 7, 30, tzinfo=dt.UTC)
    assert sla_of(client, people.agent, ticket["id"])["calendar"]["time_zone"] == "Europe/Berlin"


def test_policies_match_on_channel_tier_intent_and_team(
    runtime: Runtime, client: TestClient, people: Personas, clock: FakeClock
) -> None:
    create_policy(
        client, people.admin, name="VIP", conditions={"tiers": ["vip"]}, targets={"first_response": 15}
    )
    create_policy(
        client, people.admin, name="Chat", conditions={"channels": ["chat"]}, targets={"first_response": 5}
    )
    create_policy(
        client,
        people.admin,
        name="Refunds",
        conditions={"intents": ["refund"]},
        targets={"first_response": 45},
    )
    create_policy(
        client,
        people.admin,
        name="Team",
        conditions={"team_ids": [people.team_id]},
        targets={"resolution": 99},
    )
    ticket = new_ticket(
        client, people.agent, channel="phone", subject="A question", body="How do I export my data?"
    )
    name = sla_of(client, people.agent, ticket["id"])["policy"]
    assert name is None or name["name"] in ("Refunds",)  # triage may have found a refund intent
    _events_triaged(runtime, int(ticket["id"]), ["refund"])  # type: ignore[call-overload]
    assert sla_of(client, people.agent, ticket["id"])["policy"]["name"] == "Refunds"
    _events_triaged(runtime, int(ticket["id"]), ["how_to"])  # type: ignore[call-overload]
    assert sla_of(client, people.agent, ticket["id"])["policy"] is None
    _patch(client, people.agent, ticket["id"], team_id=people.team_id)
    assert sla_of(client, people.agent, ticket["id"])["policy"]["name"] == "Team"

    response = client.patch(
        f"/api/v1/customers/{people.customer.id}", json={"tier": "vip"}, headers=people.admin.headers
    )
    assert response.status_code == 200, response.text
    vip = new_ticket(client, people.agent)
    assert sla_of(client, people.agent, vip["id"])["policy"]["name"] == "VIP"


def _events_triaged(runtime: Runtime, ticket_id: int, intents: list[str]) -> None:
    from ombud.events import service as events

    with runtime.database.session() as session:
        events.emit(
            session=session,
            kind="message.triaged",
            entity_type="message",
            entity_id=0,
            actor_type="system",
            actor_id=None,
            ticket_id=ticket_id,
            payload={"intents": intents},
        )
        session.commit()


def test_editing_a_policy_re_evaluates_open_tickets_from_the_sweep(
    runtime: Runtime, client: TestClient, people: Personas, clock: FakeClock
) -> None:
    policy = create_policy(client, people.admin, targets={"first_response": 60})
    ticket = new_ticket(client, people.agent)
    clock.advance(minutes=10)
    response = client.patch(
        f"/api/v1/sla/policies/{policy['id']}",
        json={"targets": {"first_response": 30, "resolution": 300}},
        headers=people.admin.headers,
    )
    assert response.status_code == 200, response.text
    runtime.queue.sweep()
    state = sla_of(client, people.agent, ticket["id"])
    first, resolution = state["clocks"]
    assert first["target_minutes"] == 30 and first["elapsed_minutes"] == 10.0
    assert instant(first["due_at"]) == clock.now + dt.timedelta(minutes=20)
    # A metric the policy now promises starts from the ticket's creation.
    assert resolution["metric"] == "resolution" and resolution["elapsed_minutes"] == 10.0
    with runtime.database.session(write=False) as session:
        row = session.get(TicketSla, ticket["id"])
        assert row is not None and not row.stale


def test_the_inbox_score_gains_sla_and_waiting_points_as_time_passes(
    runtime: Runtime, client: TestClient, people: Personas, clock: FakeClock
) -> None:
    create_policy(client, people.admin, targets={"first_response": 240})
    ticket = new_ticket(client, people.agent)

    def points() -> dict[str, float]:
        with runtime.database.session(write=False) as session:
            found = session.get(Ticket, ticket["id"])
            assert found is not None
            return dict(found.priority_parts["points"])

    def rank() -> int:
        with runtime.database.session(write=False) as session:
            found = session.get(Ticket, ticket["id"])
            assert found is not None
            return found.queue_rank

    start = points()
    assert start["sla"] == 8.0 and start["waiting"] == 0.0  # due in 4h: the "4 hours or less" step
    with runtime.database.session(write=False) as session:
        row = session.get(TicketSla, ticket["id"])
        assert row is not None
        # The next change: the customer has waited an hour (before the SLA's 2h-left boundary).
        assert row.rerank_at == clock.now + dt.timedelta(hours=1)
    before = rank()
    clock.advance(minutes=61)
    runtime.queue.sweep()
    assert points()["waiting"] == 2.0 and rank() > before
    clock.advance(minutes=120)  # 3h01 in: under an hour left
    runtime.queue.sweep()
    assert points()["sla"] == 16.0
    clock.advance(minutes=60)  # breached
    runtime.queue.sweep()
    assert points()["sla"] == 30.0
    _reply(client, people.agent, ticket["id"])
    after = points()
    assert after["sla"] == 0.0 and after["waiting"] == 0.0
