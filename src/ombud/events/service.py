"""Publish events in the transaction of a change, and hand them to the consumers after it commits.

Consumers are the workflow domains (SLA clocks, routing, automations, reports, outbound webhooks). They
are plain functions ``fn(*, session, event)``, listed once at the composition root (``ombud.runtime``) in
the order they run; each sees every event, in id order, in the dispatch job's transaction, inside its own
savepoint. A consumer that raises is logged and recorded on the event, and the others still run: one bug
must not stop SLA clocks for everyone. Consumers never call outside systems: they record what to do, and
a job of their own does it (webhook deliveries, survey emails).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from ombud.events.models import Event
from ombud.storage.base import utcnow
from ombud.storage.queue import defer

log = logging.getLogger(__name__)

DISPATCH_JOB = "events.dispatch"
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


def dispatch(*, session: Session, consumers: Sequence[NamedConsumer], limit: int) -> int:
    """Hand up to ``limit`` waiting events to every consumer, oldest first; return how many were handed.

    On PostgreSQL the rows are locked (SKIP LOCKED), so two workers never hand out the same event.
    """
    query = select(Event).where(Event.dispatched_at.is_(None)).order_by(Event.id).limit(limit)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    rows = session.scalars(query).all()
    now = utcnow()
    for row in rows:
        record = EventRecord(
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
        errors: dict[str, str] = {}
        for consumer in consumers:
            try:
                with session.begin_nested():
                    consumer.handle(session=session, event=record)
            except Exception as exc:
                log.exception("event consumer %s failed on event %s (%s)", consumer.name, row.id, row.kind)
                errors[consumer.name] = f"{type(exc).__name__}: {exc}"[:500]
        row.dispatched_at = now
        row.errors = errors or None
    session.flush()
    return len(rows)


def history(*, session: Session, ticket_id: int, kinds: Sequence[str] = ()) -> Sequence[Event]:
    """Return a ticket's events, oldest first (optionally only ``kinds``)."""
    query = select(Event).where(Event.ticket_id == ticket_id)
    if kinds:
        query = query.where(Event.kind.in_(kinds))
    return session.scalars(query.order_by(Event.id)).all()
