"""The event outbox: ticket changes are published in their own transaction, every consumer sees each
committed event once and in order, a failing consumer neither stops the others nor loses the event, and
the sweep dispatches events whose job was lost."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ombud.events import service as events
from ombud.events.models import Event
from ombud.runtime import Runtime
from ombud.storage.base import utcnow
from tests.conftest import Personas, new_ticket


def _recorder(seen: list[tuple[str, int | None]]) -> events.NamedConsumer:
    def handle(*, session: Session, event: events.EventRecord) -> None:
        seen.append((event.kind, event.ticket_id))

    return events.NamedConsumer("recorder", handle)


def test_ticket_changes_reach_every_consumer_once_in_order(
    runtime: Runtime, client: TestClient, people: Personas
) -> None:
    seen: list[tuple[str, int | None]] = []
    runtime.consumers.append(_recorder(seen))
    ticket = new_ticket(client, people.agent)
    reply = client.post(
        f"/api/v1/tickets/{ticket['id']}/messages",
        json={"body": "Refunded the duplicate charge.", "internal": False},
        headers=people.agent.headers,
    )
    assert reply.status_code == 201, reply.text
    client.patch(
        f"/api/v1/tickets/{ticket['id']}",
        json={"status": "solved", "confirm": True},
        headers=people.agent.headers,
    )

    mine = [kind for kind, ticket_id in seen if ticket_id == ticket["id"]]
    assert mine[0] == "ticket.created"
    assert mine.count("message.added") == 1
    # The solve, then the concerns triage found that it left open.
    assert mine[-2:] == ["ticket.updated", "ticket.solved_with_open_concerns"]
    # The customer message was triaged: routing and SLA policies choose by what triage found.
    assert "message.triaged" in mine
    with runtime.database.session(write=False) as session:
        rows = session.scalars(select(Event).where(Event.ticket_id == ticket["id"]).order_by(Event.id)).all()
        assert all(row.dispatched_at is not None for row in rows)
        solved = rows[-2]
        assert solved.payload["after"]["status"] == "solved"
        triaged = next(row for row in rows if row.kind == "message.triaged")
        assert triaged.payload["intents"] and 0.0 <= triaged.payload["frustration"] <= 1.0


def test_a_failing_consumer_is_recorded_and_the_others_still_run(runtime: Runtime, people: Personas) -> None:
    seen: list[tuple[str, int | None]] = []

    def broken(*, session: Session, event: events.EventRecord) -> None:
        session.execute(update(Event).where(Event.id == event.id).values(kind="tampered"))
        raise RuntimeError("consumer bug")

    with runtime.database.session() as session:
        events.emit(
            session=session,
            kind="ticket.updated",
            entity_type="ticket",
            entity_id=7,
            actor_type="system",
            actor_id=None,
            ticket_id=7,
            payload={"after": {"status": "open"}},
        )
        handed = events.dispatch(
            session=session,
            consumers=[events.NamedConsumer("broken", broken), _recorder(seen)],
            limit=10,
        )
        session.commit()
    assert handed == 1
    assert seen == [("ticket.updated", 7)]
    with runtime.database.session(write=False) as session:
        row = session.scalars(select(Event)).one()
        # The broken consumer's own writes were rolled back with its savepoint.
        assert row.kind == "ticket.updated"
        assert row.dispatched_at is not None
        assert row.errors == {"broken": {"error": "RuntimeError: consumer bug", "attempts": 1}}
        assert row.retry_at is not None  # the broken consumer tries again later


def test_a_consumer_that_failed_tries_the_event_again_and_only_it(runtime: Runtime) -> None:
    seen: list[tuple[str, int | None]] = []
    failures = [RuntimeError("database was restarting")]

    def flaky(*, session: Session, event: events.EventRecord) -> None:
        if failures:
            raise failures.pop()
        seen.append(("flaky:" + event.kind, event.ticket_id))

    runtime.consumers.extend([events.NamedConsumer("flaky", flaky), _recorder(seen)])
    with runtime.database.session() as session:
        events.emit(
            session=session,
            kind="ticket.updated",
            entity_type="ticket",
            entity_id=5,
            actor_type="system",
            actor_id=None,
            ticket_id=5,
        )
        session.commit()
    assert seen == [("ticket.updated", 5)]
    # Not due yet: the sweep leaves it alone.
    assert runtime.queue.sweep()[events.RETRY_JOB] == 0
    with runtime.database.session() as session:
        session.execute(update(Event).values(retry_at=utcnow() - dt.timedelta(seconds=1)))
        session.commit()
    assert runtime.queue.sweep()[events.RETRY_JOB] == 1
    # Only the consumer that failed saw the event again.
    assert seen == [("ticket.updated", 5), ("flaky:ticket.updated", 5)]
    with runtime.database.session(write=False) as session:
        row = session.scalars(select(Event)).one()
        assert row.retry_at is None
        assert row.errors is not None and row.errors["flaky"]["recovered_at"]
    assert runtime.queue.sweep()[events.RETRY_JOB] == 0


def test_a_consumer_that_keeps_failing_gives_up_after_the_last_attempt(runtime: Runtime) -> None:
    attempts = []

    def broken(*, session: Session, event: events.EventRecord) -> None:
        attempts.append(event.id)
        raise ValueError("bad payload")

    runtime.consumers.append(events.NamedConsumer("broken", broken))
    with runtime.database.session() as session:
        events.emit(
            session=session,
            kind="ticket.updated",
            entity_type="ticket",
            entity_id=9,
            actor_type="system",
            actor_id=None,
            ticket_id=9,
        )
        session.commit()
    for _ in range(events.MAX_ATTEMPTS + 2):
        with runtime.database.session() as session:
            session.execute(
                update(Event)
                .where(Event.retry_at.is_not(None))
                .values(retry_at=utcnow() - dt.timedelta(seconds=1))
            )
            session.commit()
        runtime.queue.sweep()
    assert len(attempts) == events.MAX_ATTEMPTS
    with runtime.database.session(write=False) as session:
        row = session.scalars(select(Event)).one()
        assert row.retry_at is None
        assert row.errors == {"broken": {"error": "ValueError: bad payload", "attempts": events.MAX_ATTEMPTS}}


def test_the_sweep_dispatches_events_whose_job_was_lost(runtime: Runtime) -> None:
    seen: list[tuple[str, int | None]] = []
    with runtime.database.session() as session:
        events.emit(
            session=session,
            kind="ticket.updated",
            entity_type="ticket",
            entity_id=3,
            actor_type="system",
            actor_id=None,
            ticket_id=3,
        )
        session.info.clear()  # the enqueue after commit is lost (a crash, Redis down)
        session.commit()
    runtime.consumers.append(_recorder(seen))
    assert seen == []
    counts: dict[str, Any] = runtime.queue.sweep()
    assert counts[events.DISPATCH_JOB] == 1
    assert seen == [("ticket.updated", 3)]
    with runtime.database.session(write=False) as session:
        assert events.undispatched_ids(session=session, limit=10) == []
