"""Record and read audit events."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import and_, insert, or_, select
from sqlalchemy.orm import Session

from ombud.accounts.schemas import Principal
from ombud.audit.models import AuditEvent
from ombud.events import service as events
from ombud.storage.base import utcnow

_INSERT = insert(AuditEvent.__table__)  # type: ignore[arg-type]  # a Table; the stubs say FromClause


def record(
    *,
    session: Session,
    actor: Principal,
    action: str,
    entity_type: str,
    entity_id: int,
    customer_id: int | None = None,
    ticket_id: int | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    at: dt.datetime | None = None,
    publish: bool | None = None,
) -> None:
    """Write one audit event in the transaction of the change it describes.

    Changes to tickets (``ticket_id`` given) are also published to the workflow consumers
    (:mod:`ombud.events`) under the same name; ``publish`` overrides that either way.
    """
    at = at or utcnow()
    # A Core insert on the table, on the session's connection: audit rows are written on every change and
    # never read back in the same request, and they point at nothing (no foreign keys), so they need
    # neither the unit of work nor a flush of what is pending. One statement, compiled once.
    session.connection().execute(
        _INSERT,
        {
            "created_at": at,
            "actor_type": actor.kind,
            "actor_id": actor.id,
            "action": action,
            "entity_type": entity_type,
            "entity_id": entity_id,
            "customer_id": customer_id,
            "ticket_id": ticket_id,
            "before": before,
            "after": after,
        },
    )
    if publish if publish is not None else ticket_id is not None:
        events.emit(
            session=session,
            kind=action,
            entity_type=entity_type,
            entity_id=entity_id,
            actor_type=actor.kind,
            actor_id=actor.id,
            ticket_id=ticket_id,
            customer_id=customer_id,
            payload={"before": before, "after": after},
            at=at,
        )


def list_for_customer(
    *,
    session: Session,
    customer_id: int,
    before: tuple[dt.datetime, int] | None,
    limit: int,
    exclude_actions: tuple[str, ...] = (),
) -> Sequence[AuditEvent]:
    """Return the customer's events, newest first, strictly older than ``before`` (created_at, id)."""
    query = select(AuditEvent).where(AuditEvent.customer_id == customer_id)
    if exclude_actions:
        query = query.where(AuditEvent.action.not_in(exclude_actions))
    if before is not None:
        at, event_id = before
        query = query.where(
            or_(AuditEvent.created_at < at, and_(AuditEvent.created_at == at, AuditEvent.id < event_id))
        )
    query = query.order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc()).limit(limit)
    return session.scalars(query).all()


def list_for_ticket(*, session: Session, ticket_id: int) -> Sequence[AuditEvent]:
    """Return every event about one ticket and its messages, oldest first."""
    return session.scalars(
        select(AuditEvent).where(AuditEvent.ticket_id == ticket_id).order_by(AuditEvent.id)
    ).all()
