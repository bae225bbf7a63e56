"""Publish events in the transaction of a change, and hand them to the consumers after it commits.

Consumers are the workflow domains (SLA clocks, routing, automations, reports, outbound webhooks). They
are plain functions ``fn(*, session, event)``, listed once at the composition root (``ombud.runtime``) in
the order they run; each sees every event, in id order, in the dispatch job's transaction, inside its own
savepoint. A consumer that raises is logged and recorded on the event, and the others still run: one
failure must not stop SLA clocks for everyone. The failed consumer tries that event again later (a sweep
finds the due retries), a few times with growing waits. Consumers never call outside systems: they
record what to do, and a job of their own does it (webhook deliveries, survey emails).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import insert, select, text
from sqlalchemy.orm import Session

from ombud.events.models import Event
from ombud.storage.base import utcnow
from ombud.storage.queue import Busy, defer

log = logging.getLogger(__name__)

DISPATCH_JOB = "events.dispatch"
RETRY_JOB = "events.retry"
# A consumer that fails on an event tries it again after these waits (4 attempts in all); then the
# error stays on the event for an admin to see.
RETRY_AFTER = (dt.timedelta(minutes=1), dt.timedelta(minutes=5), dt.timedelta(minutes=30))
MAX_ATTEMPTS = len(RETRY_AFTER) + 1
DISPATCH_LOCK = 0x6F6D627564  # "ombud": the advisory lock that keeps dispatchers one at a time
_INSERT = insert(Event.__table__)  # type: ignore[arg-type]  # a Table; the stubs say FromClause


@dataclass(frozen=True)
class EventRecord:
    """One event as consumers see it (never an ORM object: consumers may not change the outbox)."""

    id: int
    kind: str
    ticket_id: int | None
    customer_id: int | None
    entity_type: str
    entity_id: int
    actor_type: str
    actor_id: int | None
    payload: dict[str, Any]
    created_at: dt.datetime


class Consumer(Protocol):
    def __call__(self, *, session: Session, event: EventRecord) -> None: ...


@dataclass(frozen=True)
class NamedConsumer:
    name: str
    handle: Consumer


def emit(
    *,
    session: Session,
    kind: str,
    entity_type: str,
    entity_id: int,
    actor_type: str,
    actor_id: int | None,
    ticket_id: int | None = None,
    customer_id: int | None = None,
    payload: dict[str, Any] | None = None,
    at: dt.datetime | None = None,
) -> None:
    """Write one event in the caller's transaction; the consumers see it after the commit."""
    session.connection().execute(
        _INSERT,
        {
            "kind": kind,
            "ticket_id": ticket_id,
            "customer_id": customer_id,
            "entity_type": entity_type,
            "entity_id": entity_id,
            "actor_type": actor_type,
            "actor_id": actor_id,
            "payload": payload or {},
            "created_at": at or utcnow(),
        },
    )
    defer(session, DISPATCH_JOB, event_id=0)


def undispatched_ids(*, session: Session, limit: int) -> Sequence[int]:
    """Return the ids of events the consumers have not seen yet, oldest first."""
    query = select(Event.id).where(Event.dispatched_at.is_(None)).order_by(Event.id).limit(limit)
    return [int(i) for i in session.scalars(query).all()]


def retry_due_ids(*, session: Session, limit: int) -> Sequence[int]:
    """Return the ids of events whose failed consumers are due to try them again, oldest due first."""
    query = select(Event.id).where(Event.retry_at <= utcnow()).order_by(Event.retry_at).limit(limit)
    return [int(i) for i in session.scalars(query).all()]


def _one_dispatcher(session: Session) -> None:
    """Let one dispatcher at a time hand out events, so every consumer sees them in id order.

    SQLite writers are already one at a time (BEGIN IMMEDIATE). On PostgreSQL two dispatch jobs on two
    workers would otherwise take two batches at once and a consumer could see a ticket's later event
    first. The second one does not wait for the transaction-scoped advisory lock: it raises Busy and comes
    back a second later. Waiting held a worker thread per job, and under a burst every thread of a worker
    ended up waiting on one slow dispatch while triage starved.
    """
    if session.get_bind().dialect.name == "postgresql" and not session.scalar(
        text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": DISPATCH_LOCK}
    ):
        raise Busy("another dispatcher is handing out events")


def record_of(row: Event) -> EventRecord:
    """Return the consumers' view of a stored event."""
    return EventRecord(
        id=row.id,
        kind=row.kind,
        ticket_id=row.ticket_id,
        customer_id=row.customer_id,
        entity_type=row.entity_type,
        entity_id=row.entity_id,
        actor_type=row.actor_type,
        actor_id=row.actor_id,
        payload=dict(row.payload or {}),
        created_at=row.created_at,
    )


def _run(session: Session, consumer: NamedConsumer, record: EventRecord) -> str | None:
    """Hand ``record`` to ``consumer`` in a savepoint; return the error, or None when it succeeded."""
    try:
        with session.begin_nested():
            consumer.handle(session=session, event=record)
    except Exception as exc:
        log.exception("event consumer %s failed on event %s (%s)", consumer.name, record.id, record.kind)
        return f"{type(exc).__name__}: {exc}"[:500]
    return None


def _next_retry(errors: dict[str, Any], now: dt.datetime) -> dt.datetime | None:
    waiting = [
        e["attempts"] for e in errors.values() if not e.get("recovered_at") and e["attempts"] < MAX_ATTEMPTS
    ]
    return now + RETRY_AFTER[min(waiting) - 1] if waiting else None


def dispatch(*, session: Session, consumers: Sequence[NamedConsumer], limit: int) -> int:
    """Hand up to ``limit`` waiting events to every consumer, oldest first; return how many were handed.

    A consumer that fails on an event is recorded on it and tries it again later (``retry``), up to
    MAX_ATTEMPTS times in all; the others are not held up.
    """
    _one_dispatcher(session)
    query = select(Event).where(Event.dispatched_at.is_(None)).order_by(Event.id).limit(limit)
    rows = session.scalars(query).all()
    now = utcnow()
    for row in rows:
        record = record_of(row)
        errors: dict[str, Any] = {}
        for consumer in consumers:
            error = _run(session, consumer, record)
            if error is not None:
                errors[consumer.name] = {"error": error, "attempts": 1}
        row.dispatched_at = now
        row.errors = errors or None
        row.retry_at = _next_retry(errors, now)
    session.flush()
    return len(rows)


def retry(*, session: Session, consumers: Sequence[NamedConsumer], event_id: int) -> None:
    """Hand event ``event_id`` again to the consumers that failed on it, if their retry is due (Busy while
    a dispatcher is at work on PostgreSQL: the sweep brings the retry back)."""
    _one_dispatcher(session)
    row = session.get(Event, event_id, populate_existing=True)
    now = utcnow()
    if row is None or row.retry_at is None or row.retry_at > now:
        return
    record = record_of(row)
    errors = {name: dict(value) for name, value in (row.errors or {}).items()}
    for consumer in consumers:
        entry = errors.get(consumer.name)
        if entry is None or entry.get("recovered_at") or entry["attempts"] >= MAX_ATTEMPTS:
            continue
        error = _run(session, consumer, record)
        if error is None:
            entry["recovered_at"] = now.isoformat()
        else:
            entry.update(error=error, attempts=entry["attempts"] + 1)
    row.errors = errors
    row.retry_at = _next_retry(errors, now)
    session.flush()


def history(*, session: Session, ticket_id: int, kinds: Sequence[str] = ()) -> Sequence[Event]:
    """Return a ticket's events, oldest first (optionally only ``kinds``)."""
    query = select(Event).where(Event.ticket_id == ticket_id)
    if kinds:
        query = query.where(Event.kind.in_(kinds))
    return session.scalars(query.order_by(Event.id)).all()
