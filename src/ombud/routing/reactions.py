"""What routing does when something happens or comes due: the event consumer (new, triaged and changed
tickets), the end of a new ticket's wait for triage, overflow to another team, and the end of a break."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ombud.accounts.schemas import SYSTEM
from ombud.events import service as events
from ombud.events.service import EventRecord
from ombud.routing.assign import (
    PRIORITY_RANK,
    RoutingConfig,
    awaits_triage,
    decide,
    drain_agent,
    needs_of,
    overflow_time,
    route,
    status_of,
    team_settings,
    wait_for_triage,
)
from ombud.routing.models import AgentStatus, Availability, QueuedTicket, QueueState
from ombud.storage.base import utcnow
from ombud.tickets import service as tickets
from ombud.tickets.models import Ticket
from ombud.tickets.schemas import TicketUpdate


# -- time: the wait for triage, overflow, breaks -----------------------------------------------------------
def review(*, session: Session, ticket_id: int) -> None:
    """Do what is due for a queued ticket: route it once its wait for triage is over, or overflow it."""
    entry = session.get(QueuedTicket, ticket_id)
    if entry is None:
        return
    now = utcnow()
    if entry.state == QueueState.triage:
        if entry.route_at is not None and entry.route_at <= now:
            route(session=session, ticket_id=ticket_id, trigger="triage.timeout")
        return
    if entry.overflow_at is not None and entry.overflow_at <= now:
        overflow(session=session, entry=entry)


def overflow(*, session: Session, entry: QueuedTicket) -> None:
    """Move a ticket that waited too long to its team's overflow team, and route it there."""
    ticket = session.get(Ticket, entry.ticket_id)
    if ticket is None or not ticket.is_open or ticket.assignee_id is not None:
        session.delete(entry)
        session.flush()
        return
    source = team_settings(session=session, team_id=entry.team_id) if entry.team_id is not None else None
    target_id = source.overflow_team_id if source is not None else None
    seen = list(entry.overflowed_from or [])
    if source is None or target_id is None or target_id in seen or target_id == source.team_id:
        # No overflow team (any more), or one it already came from: it stays, still visible in the queue.
        entry.overflow_at = None
        session.flush()
        return
    waited = int((utcnow() - entry.enqueued_at).total_seconds()) // 60
    entry.overflowed_from = [*seen, source.team_id]
    target = team_settings(session=session, team_id=target_id)
    entry.team_id = target_id
    entry.overflow_at = overflow_time(target, utcnow())
    tickets.update_ticket(
        session=session, ticket=ticket, changes=TicketUpdate(team_id=target_id), actor=SYSTEM
    )
    session.flush()
    decide(
        session,
        ticket,
        trigger="overflow",
        outcome="overflowed",
        reason=f"waited {waited} min in team {source.team_id} "
        f"(overflow after {source.overflow_after_minutes} min)",
        team_id=target_id,
    )
    events.emit(
        session=session,
        kind="routing.overflowed",
        entity_type="ticket",
        entity_id=ticket.id,
        actor_type="system",
        actor_id=None,
        ticket_id=ticket.id,
        customer_id=ticket.customer_id,
        payload={"from_team_id": source.team_id, "team_id": target_id, "waited_minutes": waited},
    )
    route(session=session, ticket_id=ticket.id, trigger="overflow")


def due_ticket_ids(*, session: Session, limit: int) -> list[int]:
    """Return queued tickets with something due: the wait for triage is over, or they overflow now."""
    now = utcnow()
    triage_due = session.scalars(
        select(QueuedTicket.ticket_id)
        .where(QueuedTicket.route_at <= now)
        .order_by(QueuedTicket.route_at)
        .limit(limit)
    ).all()
    overflow_due = session.scalars(
        select(QueuedTicket.ticket_id)
        .where(QueuedTicket.overflow_at <= now)
        .order_by(QueuedTicket.overflow_at)
        .limit(limit)
    ).all()
    return sorted({int(i) for i in [*triage_due, *overflow_due]})[:limit]


def breaks_over(*, session: Session, limit: int) -> list[int]:
    """Return agents whose break has ended."""
    rows = session.scalars(
        select(AgentStatus.user_id)
        .where(AgentStatus.break_until <= utcnow(), AgentStatus.status == Availability.on_break)
        .order_by(AgentStatus.break_until)
        .limit(limit)
    ).all()
    return [int(i) for i in rows]


def end_break(*, session: Session, user_id: int) -> None:
    """Bring an agent whose break is over back online, and give them waiting tickets."""
    status = status_of(session, user_id)
    if status is None or status.status != Availability.on_break:
        return
    if status.break_until is None or status.break_until > utcnow():
        return
    status.status = Availability.online
    status.break_until = None
    status.changed_at = utcnow()
    session.flush()
    drain_agent(session=session, user_id=user_id, trigger="break.over")


# -- the event consumer ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RoutingConsumer:
    """Reacts to ticket events: route new and triaged tickets, free capacity, respect people's choices."""

    config: RoutingConfig

    def __call__(self, *, session: Session, event: EventRecord) -> None:
        if event.ticket_id is None:
            return
        if event.kind == "ticket.created":
            self._created(session, event.ticket_id)
        elif event.kind == "message.triaged":
            self._triaged(session, event)
        elif event.kind == "ticket.updated":
            updated(session=session, event=event)

    def _triaged(self, session: Session, event: EventRecord) -> None:
        assert event.ticket_id is not None
        ticket = session.get(Ticket, event.ticket_id)
        if ticket is None or not ticket.is_open or ticket.assignee_id is not None:
            return
        entry = session.get(QueuedTicket, ticket.id)
        if entry is not None and entry.state == QueueState.waiting:
            # Already routed and waiting in its team's queue: keep its place, know what it needs now.
            entry.needs = needs_of(session=session, ticket=ticket, triaged=event.payload).as_dict()
            session.flush()
            return
        route(session=session, ticket_id=ticket.id, trigger="message.triaged", triaged=event.payload)

    def _created(self, session: Session, ticket_id: int) -> None:
        ticket = session.get(Ticket, ticket_id)
        if ticket is None or not ticket.is_open or ticket.assignee_id is not None:
            return
        if awaits_triage(session=session, ticket_id=ticket_id):
            wait_for_triage(session=session, ticket=ticket, config=self.config)
        else:
            route(session=session, ticket_id=ticket_id, trigger="ticket.created")


def updated(*, session: Session, event: EventRecord) -> None:
    """React to a ticket change: an assignment ends its wait; a solved, pending or reassigned ticket frees
    its agent's capacity; an unassigned or reopened ticket is routed again; a priority change reorders."""
    assert event.ticket_id is not None
    before: dict[str, Any] = event.payload.get("before") or {}
    after: dict[str, Any] = event.payload.get("after") or {}
    ticket = session.get(Ticket, event.ticket_id)
    if ticket is None:
        return
    entry = session.get(QueuedTicket, ticket.id)
    freed: set[int] = set()
    if "assignee_id" in after:
        if before.get("assignee_id") is not None:
            freed.add(int(before["assignee_id"]))
        if after["assignee_id"] is not None and event.actor_type == "user":
            decide(
                session,
                ticket,
                trigger="ticket.updated",
                outcome="manual",
                reason="assigned by a person; routing leaves it with them",
                team_id=ticket.team_id,
                user_id=int(after["assignee_id"]),
            )
    if "status" in after and ticket.assignee_id is not None:
        # Solved, pending or on hold: the agent has room for a waiting ticket.
        freed.add(ticket.assignee_id)
    if ticket.assignee_id is not None or not ticket.is_open:
        if entry is not None:
            session.delete(entry)
            session.flush()
    elif entry is None or entry.team_id != ticket.team_id:
        if entry is None or entry.state == QueueState.waiting:
            # Unassigned, reopened or moved to another team by someone: route it again.
            route(session=session, ticket_id=ticket.id, trigger="ticket.updated")
    elif "priority" in after:
        entry.priority_rank = PRIORITY_RANK.get(ticket.priority.value, 1)
        session.flush()
    for user_id in sorted(freed):
        drain_agent(session=session, user_id=user_id, trigger="capacity.freed")
