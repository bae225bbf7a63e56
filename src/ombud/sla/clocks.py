"""The per-ticket SLA clocks: kept in step with ticket events, and checked as time passes.

A clock counts business seconds (``elapsed_seconds``) up to ``counted_at``; while it runs, ``due_at`` is
the instant the rest of its target runs out on the ticket's calendar. Re-evaluating (another priority,
team, intent or policy) first counts the time so far on the old calendar, then computes a new due time
from the new target on the new calendar, so time already counted is never lost or counted twice.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ombud.accounts import service as accounts
from ombud.accounts.models import Role
from ombud.accounts.schemas import SYSTEM
from ombud.events import service as events
from ombud.events.service import EventRecord
from ombud.sla import hours
from ombud.sla.models import Calendar, Clock, ClockState, Metric, Policy, TicketSla
from ombud.sla.schemas import ClockPublic, Escalation, TicketSlaPublic
from ombud.sla.service import METRIC_WORDS, PRIORITY_STEPS, calendar_for_team, policy_for, to_hours
from ombud.storage.base import utcnow
from ombud.tickets import priority
from ombud.tickets import service as tickets
from ombud.tickets.inbox import mention_handle
from ombud.tickets.models import AuthorType, Message, Status, Ticket
from ombud.tickets.schemas import TicketUpdate

ACTIVE = (ClockState.running.value, ClockState.paused.value)
CHECK_JOB = "sla.check"


@dataclass
class Setting:
    """What a ticket's clocks run by: its policy (None: no targets) and its calendar."""

    policy: Policy | None
    calendar_id: int | None
    calendar: hours.Calendar


def _setting(session: Session, ticket: Ticket, row: TicketSla) -> Setting:
    stored = calendar_for_team(session=session, team_id=ticket.team_id)
    return Setting(
        policy=policy_for(session=session, ticket=ticket, intents=row.intents or []),
        calendar_id=stored.id if stored else None,
        calendar=to_hours(stored),
    )


def _calendar_of(session: Session, row: TicketSla) -> hours.Calendar:
    """The calendar the clocks were last counted on (24/7 if it was deleted since)."""
    if row.calendar_id is None:
        return hours.ALWAYS
    return to_hours(session.get(Calendar, row.calendar_id))


def _clocks(session: Session, ticket_id: int) -> dict[str, Clock]:
    return {c.metric: c for c in session.scalars(select(Clock).where(Clock.ticket_id == ticket_id))}


def _advance(clock: Clock, calendar: hours.Calendar, now: dt.datetime) -> None:
    """Count the business time since ``counted_at`` if the clock runs (paused time never counts)."""
    if now <= clock.counted_at:
        return
    if clock.state == ClockState.running:
        clock.elapsed_seconds += hours.between(calendar, clock.counted_at, now).total_seconds()
    clock.counted_at = now


def _target(policy: Policy | None, metric: str) -> int | None:
    if policy is None:
        return None
    minutes: int | None = getattr(policy, f"{metric}_minutes")
    return minutes


def _warn_seconds(policy: Policy | None, target_seconds: float) -> float | None:
    """Return how many business seconds into the target the warning falls (the earlier setting wins)."""
    if policy is None:
        return None
    candidates = []
    if policy.warn_fraction is not None:
        candidates.append(target_seconds * policy.warn_fraction)
    if policy.warn_before_minutes is not None:
        candidates.append(max(0.0, target_seconds - policy.warn_before_minutes * 60))
    return min(candidates, default=None)


def _schedule(clock: Clock, policy: Policy | None, calendar: hours.Calendar) -> None:
    """Compute due_at and warn_at of a running clock from what it has counted."""
    if clock.state != ClockState.running:
        if clock.state != ClockState.achieved:
            clock.due_at = clock.warn_at = None
        return
    target = clock.target_minutes * 60.0
    remaining = target - clock.elapsed_seconds
    if remaining > 0:
        clock.due_at = hours.add(calendar, clock.counted_at, dt.timedelta(seconds=remaining))
    elif clock.due_at is None or clock.due_at > clock.counted_at:
        clock.due_at = clock.counted_at  # already over its target (a shorter one applies now)
    warn = _warn_seconds(policy, target)
    clock.warn_at = (
        None
        if warn is None
        else hours.add(
            calendar, clock.counted_at, dt.timedelta(seconds=max(0.0, warn - clock.elapsed_seconds))
        )
    )


def _emit(session: Session, ticket: Ticket, kind: str, payload: dict[str, Any], at: dt.datetime) -> None:
    events.emit(
        session=session,
        kind=kind,
        entity_type="ticket",
        entity_id=ticket.id,
        actor_type="system",
        actor_id=None,
        ticket_id=ticket.id,
        customer_id=ticket.customer_id,
        payload=payload,
        at=at,
    )


def _iso(moment: dt.datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _achieve(
    session: Session, ticket: Ticket, clock: Clock, calendar: hours.Calendar, at: dt.datetime
) -> None:
    """Stop the clock: its target was met at ``at`` (or missed: then it is also marked breached)."""
    _advance(clock, calendar, at)
    if clock.breached_at is None and clock.elapsed_seconds >= clock.target_minutes * 60:
        clock.breached_at = clock.due_at or at  # missed before the sweep noticed
    clock.state = ClockState.achieved.value
    clock.achieved_at = at
    clock.warn_at = None
    _emit(
        session,
        ticket,
        "sla.achieved",
        {
            "metric": clock.metric,
            "due_at": _iso(clock.due_at),
            "at": at.isoformat(),
            "breached": clock.breached_at is not None,
            "business_minutes": round(clock.elapsed_seconds / 60, 2),
            "target_minutes": clock.target_minutes,
        },
        at,
    )


def _start(clock: Clock | None, ticket_id: int, metric: str, at: dt.datetime) -> Clock:
    """Return ``clock`` restarted at ``at`` (or a new one): nothing counted, nothing warned or breached."""
    clock = clock or Clock(ticket_id=ticket_id, metric=metric, target_minutes=0)
    clock.state = ClockState.running.value
    clock.started_at = clock.counted_at = at
    clock.elapsed_seconds = 0.0
    clock.due_at = clock.warn_at = clock.warned_at = clock.breached_at = clock.achieved_at = None
    return clock


def _start_of(metric: str, ticket: Ticket, row: TicketSla) -> dt.datetime | None:
    """When a clock that a (new) policy asks for began, or None if it does not apply now."""
    if not ticket.is_open:
        return None
    if metric == Metric.first_response:
        return ticket.created_at if ticket.first_response_at is None else None
    if metric == Metric.resolution:
        return ticket.created_at
    return row.waiting_since if ticket.first_response_at is not None else None


def sync(*, session: Session, ticket: Ticket, row: TicketSla, now: dt.datetime) -> dict[str, Clock]:
    """Bring the ticket's clocks in line with its status, policy and calendar as of ``now``."""
    clocks = _clocks(session, ticket.id)
    old = _calendar_of(session, row)
    for counted in clocks.values():
        _advance(counted, old, now)
    setting = _setting(session, ticket, row)
    row.policy_id = setting.policy.id if setting.policy else None
    row.calendar_id = setting.calendar_id
    row.stale = False
    paused = ticket.status.value in ((setting.policy.paused_statuses or []) if setting.policy else [])
    for metric in Metric:
        clock = clocks.get(metric.value)
        target = _target(setting.policy, metric.value)
        if target is None:
            if clock is not None and clock.state != ClockState.achieved:
                session.delete(clock)  # the policy in force no longer promises this
                del clocks[metric.value]
            continue
        if clock is None:
            start = _start_of(metric.value, ticket, row)
            if start is None:
                continue
            clock = _start(None, ticket.id, metric.value, start)
            session.add(clock)
            clocks[metric.value] = clock
            _advance(clock, setting.calendar, now)
        clock.target_minutes = target
        if not ticket.is_open:
            if clock.state in ACTIVE:
                _schedule(clock, setting.policy, setting.calendar)
                _achieve(session, ticket, clock, setting.calendar, now)
            continue
        if metric == Metric.resolution and clock.state == ClockState.achieved:
            clock.achieved_at = None  # reopened: the resolution clock goes on from where it stopped
            clock.state = ClockState.running.value
        if clock.state in ACTIVE:
            clock.state = (ClockState.paused if paused else ClockState.running).value
        _schedule(clock, setting.policy, setting.calendar)
    if not ticket.is_open:
        row.waiting_since = None
    session.flush()
    settle(session=session, ticket=ticket, row=row, clocks=clocks, now=now)
    return clocks


def settle(
    *, session: Session, ticket: Ticket, row: TicketSla, clocks: dict[str, Clock], now: dt.datetime
) -> None:
    """Re-rank the ticket for its nearest running target and its waiting customer; set when the sweep
    must look at it next."""
    running = [c for c in clocks.values() if c.state == ClockState.running and c.due_at is not None]
    nearest = min((c.due_at for c in running if c.due_at is not None), default=None)
    row.rerank_at = priority.set_time_facts(
        session=session,
        ticket_id=ticket.id,
        sla_due_at=nearest,
        waiting_since=row.waiting_since if ticket.is_open else None,
        now=now,
    )
    moments = [row.rerank_at] if row.rerank_at else []
    for clock in running:
        if clock.breached_at is None and clock.due_at is not None:
            moments.append(clock.due_at)
            if clock.warned_at is None and clock.warn_at is not None:
                moments.append(clock.warn_at)
    row.next_check_at = min(moments, default=None)
    row.updated_at = now


def _row(session: Session, ticket: Ticket) -> TicketSla:
    row = session.get(TicketSla, ticket.id)
    if row is None:
        row = TicketSla(ticket_id=ticket.id, intents=[], waiting_since=ticket.created_at, stale=False)
        session.add(row)
        session.flush()
    return row


# -- the consumer ----------------------------------------------------------------------------------------
def handle_event(*, session: Session, event: EventRecord) -> None:
    """Keep the ticket's clocks in step with a ticket event (the ``sla`` consumer)."""
    if event.ticket_id is None or event.kind not in (
        "ticket.created",
        "ticket.updated",
        "message.added",
        "message.triaged",
    ):
        return
    ticket = session.get(Ticket, event.ticket_id)
    if ticket is None:
        return
    at = event.created_at
    row = _row(session, ticket)
    if event.kind == "message.triaged":
        row.intents = [str(i) for i in event.payload.get("intents") or []][:10]
    elif event.kind == "message.added":
        _on_message(session, ticket, row, event.entity_id, at)
    sync(session=session, ticket=ticket, row=row, now=at)


def _on_message(session: Session, ticket: Ticket, row: TicketSla, message_id: int, at: dt.datetime) -> None:
    message = session.get(Message, message_id)
    if message is None or message.internal:
        return
    clocks = _clocks(session, ticket.id)
    calendar = _calendar_of(session, row)
    if message.author_type == AuthorType.customer:
        row.waiting_since = row.waiting_since or message.created_at
        nxt = clocks.get(Metric.next_response.value)
        if ticket.first_response_at is not None and (nxt is None or nxt.state not in ACTIVE):
            # The customer wrote after our reply: a new next-response cycle (sync sets its target).
            policy = session.get(Policy, row.policy_id) if row.policy_id else None
            if _target(policy, Metric.next_response.value) is not None:
                session.add(_start(nxt, ticket.id, Metric.next_response.value, at))
    elif message.author_type == AuthorType.agent:
        row.waiting_since = None
        for metric in (Metric.first_response, Metric.next_response):
            clock = clocks.get(metric.value)
            if clock is not None and clock.state in ACTIVE:
                _achieve(session, ticket, clock, calendar, at)
    session.flush()


# -- the job ---------------------------------------------------------------------------------------------
def find_due(*, session: Session, limit: int) -> Sequence[int]:
    """Return the tickets whose next SLA check has come (the sweep's question), most overdue first."""
    query = (
        select(TicketSla.ticket_id)
        .where(TicketSla.next_check_at <= utcnow())
        .order_by(TicketSla.next_check_at)
        .limit(limit)
    )
    return [int(i) for i in session.scalars(query)]


def check(*, session: Session, ticket_id: int, now: dt.datetime | None = None) -> None:
    """Warn, breach and escalate what has come due on the ticket, and re-rank it. Idempotent: a warning
    or breach is recorded once, and a check with nothing due only re-ranks."""
    now = now or utcnow()
    row = session.get(TicketSla, ticket_id)
    ticket = session.get(Ticket, ticket_id)
    if row is None or ticket is None:
        return
    if row.stale:
        clocks = sync(session=session, ticket=ticket, row=row, now=now)
    else:
        clocks = _clocks(session, ticket.id)
    policy = session.get(Policy, row.policy_id) if row.policy_id else None
    escalation = Escalation.model_validate((policy.escalation if policy else None) or {})
    breached: list[Clock] = []
    warned: list[Clock] = []
    for clock in sorted(clocks.values(), key=lambda c: c.metric):
        if clock.state != ClockState.running or clock.due_at is None:
            continue
        if clock.breached_at is None and clock.due_at <= now:
            clock.breached_at = clock.due_at
            clock.warned_at = clock.warned_at or now
            breached.append(clock)
            _emit(
                session, ticket, "sla.breached", {"metric": clock.metric, "due_at": _iso(clock.due_at)}, now
            )
        elif clock.warned_at is None and clock.warn_at is not None and clock.warn_at <= now:
            clock.warned_at = now
            warned.append(clock)
            _emit(session, ticket, "sla.warning", {"metric": clock.metric, "due_at": _iso(clock.due_at)}, now)
    session.flush()
    if warned:
        _notify(session, ticket, warned, breach=False, now=now)
    if breached:
        _escalate(session, ticket, breached, escalation, now)
    settle(session=session, ticket=ticket, row=row, clocks=_clocks(session, ticket.id), now=now)


def _leads(session: Session, team_id: int | None) -> list[str]:
    """The @handles of the ticket team's leads (every lead when the team has none, then the admins)."""
    if team_id is not None:
        team = accounts.access_team(session=session, team_id=team_id)
        found = [u for u in team.members if u.active and u.role == Role.lead]
        if found:
            return sorted(mention_handle(u.email) for u in found)
    users = [u for u in accounts.list_users(session=session) if u.active]
    for role in (Role.lead, Role.admin):
        found = [u for u in users if u.role == role]
        if found:
            return sorted(mention_handle(u.email) for u in found)
    return []


def _notify(session: Session, ticket: Ticket, clocks: list[Clock], *, breach: bool, now: dt.datetime) -> None:
    if breach or ticket.assignee_id is None:
        handles = _leads(session, ticket.team_id)
    else:
        handles = [mention_handle(accounts.access_user(session=session, user_id=ticket.assignee_id).email)]
    lines = []
    for clock in clocks:
        words = METRIC_WORDS[Metric(clock.metric)]
        due = clock.due_at.strftime("%Y-%m-%d %H:%M UTC") if clock.due_at else "?"
        if breach:
            lines.append(
                f"SLA breached: the {words} target ({clock.target_minutes} business minutes) was due {due}."
            )
        else:
            left = int(((clock.due_at or now) - now).total_seconds() // 60)
            lines.append(f"SLA warning: the {words} target is due {due} (in {left} min).")
    mentions = " ".join(f"@{h}" for h in handles)
    tickets.add_system_note(
        session=session, ticket=ticket, body="\n".join(lines) + (f"\n{mentions}" if mentions else "")
    )


def _escalate(
    session: Session, ticket: Ticket, clocks: list[Clock], escalation: Escalation, now: dt.datetime
) -> None:
    """Apply the policy's escalation once for the targets breached in this check."""
    if escalation.notify:
        _notify(session, ticket, clocks, breach=True, now=now)
    if ticket.status == Status.closed:
        return
    fields: dict[str, Any] = {}
    if escalation.raise_priority and ticket.priority != PRIORITY_STEPS[-1]:
        fields["priority"] = PRIORITY_STEPS[PRIORITY_STEPS.index(ticket.priority) + 1]
    if escalation.team_id is not None and escalation.team_id != ticket.team_id:
        fields["team_id"] = escalation.team_id
    if escalation.unassign and ticket.assignee_id is not None:
        fields["assignee_id"] = None
    if fields:
        tickets.update_ticket(session=session, ticket=ticket, changes=TicketUpdate(**fields), actor=SYSTEM)


# -- reading ---------------------------------------------------------------------------------------------
def ticket_sla(*, session: Session, ticket: Ticket, now: dt.datetime | None = None) -> TicketSlaPublic:
    """Return the ticket's SLA state: its policy, calendar and each clock as of ``now``."""
    now = now or utcnow()
    row = session.get(TicketSla, ticket.id)
    policy = session.get(Policy, row.policy_id) if row and row.policy_id else None
    stored = session.get(Calendar, row.calendar_id) if row and row.calendar_id else None
    calendar = to_hours(stored)
    order = {m.value: i for i, m in enumerate(Metric)}
    clocks = sorted(_clocks(session, ticket.id).values(), key=lambda c: order.get(c.metric, 9))
    return TicketSlaPublic(
        ticket_id=ticket.id,
        policy={"id": policy.id, "name": policy.name} if policy else None,
        calendar={
            "id": stored.id if stored else None,
            "name": stored.name if stored else "24/7",
            "time_zone": calendar.time_zone,
        },
        waiting_since=row.waiting_since if row else None,
        clocks=[_clock_public(c, calendar, now) for c in clocks],
    )


def _clock_public(clock: Clock, calendar: hours.Calendar, now: dt.datetime) -> ClockPublic:
    elapsed = clock.elapsed_seconds
    if clock.state == ClockState.running and now > clock.counted_at:
        elapsed += hours.between(calendar, clock.counted_at, now).total_seconds()
    running = clock.state == ClockState.running
    return ClockPublic(
        metric=Metric(clock.metric),
        state=clock.state,
        target_minutes=clock.target_minutes,
        elapsed_minutes=round(elapsed / 60, 1),
        started_at=clock.started_at,
        due_at=clock.due_at,
        minutes_left=round((clock.due_at - now).total_seconds() / 60, 1)
        if running and clock.due_at
        else None,
        paused=clock.state == ClockState.paused,
        breached=clock.breached_at is not None
        or (running and clock.due_at is not None and clock.due_at <= now),
        breached_at=clock.breached_at,
        achieved_at=clock.achieved_at,
        warned_at=clock.warned_at,
    )


def refresh_ticket(*, session: Session, ticket_id: int, now: dt.datetime | None = None) -> None:
    """Re-evaluate one ticket's clocks now (after an outside change the events do not carry)."""
    ticket = session.get(Ticket, ticket_id)
    if ticket is not None:
        sync(session=session, ticket=ticket, row=_row(session, ticket), now=now or utcnow())
