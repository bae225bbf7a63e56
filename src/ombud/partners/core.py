"""What every work order change shares: loading and locking, the allowed status moves, and the record of
each change (a WorkOrderUpdate row and an audit row with the ticket and customer, so it shows in the
customer's timeline and is published as an event)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.orm import Session

from ombud.accounts.schemas import Principal
from ombud.audit import service as audit
from ombud.errors import Conflict, Forbidden, InvalidInput
from ombud.partners import access
from ombud.partners.models import WorkOrder, WorkOrderStatus, WorkOrderUpdate
from ombud.storage.base import utcnow

S = WorkOrderStatus
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
OPEN = (S.new, S.offered, S.accepted, S.scheduled, S.en_route, S.on_site)
# Booked on a technician's calendar.
BOOKED = (S.scheduled, S.en_route, S.on_site)
FINISHED = (S.completed, S.closed, S.cancelled)
MOVES: dict[WorkOrderStatus, frozenset[WorkOrderStatus]] = {
    S.new: frozenset({S.offered, S.cancelled}),
    S.offered: frozenset({S.accepted, S.new, S.offered, S.cancelled}),
    S.accepted: frozenset({S.scheduled, S.cancelled}),
    S.scheduled: frozenset({S.scheduled, S.en_route, S.on_site, S.cancelled}),
    S.en_route: frozenset({S.on_site, S.cancelled}),
    S.on_site: frozenset({S.completed, S.cancelled}),
    S.completed: frozenset({S.closed}),
    S.closed: frozenset(),
    S.cancelled: frozenset(),
}


def utc(value: dt.datetime, what: str = "time") -> dt.datetime:
    """Return an aware time in UTC, or 422: naive (``naive_datetime``) or out of range (``invalid_time``)."""
    if value.tzinfo is None:
        raise InvalidInput(f"give the {what} with a time zone offset", code="naive_datetime")
    try:
        moved = value.astimezone(dt.UTC)
    except (OverflowError, ValueError):
        raise InvalidInput(f"the {what} is out of range", code="invalid_time") from None
    if not 2000 <= moved.year <= 2200:
        raise InvalidInput(f"the {what} must be between the years 2000 and 2200", code="invalid_time")
    return moved


def lock(*, session: Session, principal: Principal, work_order_id: int) -> WorkOrder:
    """Return the work order re-read and locked for a change (FOR UPDATE on PostgreSQL), if visible."""
    locking = session.get_bind().dialect.name == "postgresql"
    found = session.get(WorkOrder, work_order_id, with_for_update=locking or None, populate_existing=True)
    return access.check_work_order(
        session=session, principal=principal, work_order=found, work_order_id=work_order_id
    )


def check_move(work_order: WorkOrder, to: WorkOrderStatus) -> None:
    if to not in MOVES[work_order.status]:
        raise Conflict(
            f"work order {work_order.id} is {work_order.status.value}; it cannot become {to.value}",
            code="invalid_transition",
            details={"status": work_order.status.value, "to": to.value},
        )


def check_actor(*, session: Session, actor: Principal, work_order: WorkOrder) -> None:
    """The partner it is dispatched to, or staff who can serve (acting for the partner, recorded as
    themselves). Advocates read but do not act."""
    if access.is_partner(actor):
        return  # visibility (lock) already proved it is their partner's
    if not actor.can_serve:
        raise Forbidden("only the partner or agents, leads and admins may do this", code="role_forbidden")


def check_not_finished(work_order: WorkOrder) -> None:
    if work_order.status in FINISHED and work_order.status != S.completed:
        raise Conflict(f"work order {work_order.id} is {work_order.status.value}", code="work_order_finished")


def record(
    *,
    session: Session,
    actor: Principal,
    work_order: WorkOrder,
    kind: str,
    body: str = "",
    status_from: WorkOrderStatus | None = None,
    status_to: WorkOrderStatus | None = None,
    customer_told: bool = False,
    details: dict[str, Any] | None = None,
    at: dt.datetime | None = None,
) -> WorkOrderUpdate:
    at = at or utcnow()
    update = WorkOrderUpdate(
        work_order_id=work_order.id,
        author_user_id=actor.id if actor.kind == "user" else None,
        kind=kind,
        status_from=status_from.value if status_from else None,
        status_to=status_to.value if status_to else None,
        body=body,
        customer_told=customer_told,
        created_at=at,
    )
    session.add(update)
    work_order.updated_at = at
    session.flush()
    action = f"work_order.{status_to.value}" if status_to and kind == "status" else f"work_order.{kind}"
    after: dict[str, Any] = {
        "kind": kind,
        "status": work_order.status.value,
        "partner_id": work_order.partner_id,
        "update_id": update.id,
    }
    if body and kind not in ("note", "decline"):
        # Visit notes and decline reasons are internal: the event names the change, not its text.
        after["body"] = body[:500]
    if details:
        after.update(details)
    audit.record(
        session=session,
        actor=actor,
        action=action,
        entity_type="work_order",
        entity_id=work_order.id,
        customer_id=work_order.customer_id,
        ticket_id=work_order.ticket_id,
        before={"status": status_from.value} if status_from else None,
        after=after,
        at=at,
    )
    return update


def move(
    *,
    session: Session,
    actor: Principal,
    work_order: WorkOrder,
    to: WorkOrderStatus,
    body: str = "",
    kind: str = "status",
    customer_told: bool = False,
    details: dict[str, Any] | None = None,
) -> WorkOrderUpdate:
    check_move(work_order, to)
    before = work_order.status
    work_order.status = to
    return record(
        session=session,
        actor=actor,
        work_order=work_order,
        kind=kind,
        body=body,
        status_from=before,
        status_to=to,
        customer_told=customer_told,
        details=details,
    )
