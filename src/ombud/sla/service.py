"""SLA policies, business calendars and the per-ticket clocks.

A ticket's clocks start when the ticket is created (first response, resolution) and when the customer
writes after an agent's public reply (next response). A clock counts business time of the ticket's
calendar (its team's, else the default one, else 24/7) while the ticket is in a status its policy does
not pause in. Every change that could choose another policy or calendar (priority, team, triage's
intents, the admin editing policies) re-evaluates the clocks and keeps the time already counted.

The consumer (:func:`handle_event`) keeps the clocks in step with ticket events; the job
(:func:`check`), found by the sweep through ``sla_tickets.next_check_at``, warns, breaches, escalates and
re-ranks the ticket in the inbox as time passes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from ombud.accounts import service as accounts
from ombud.accounts.models import Role
from ombud.accounts.schemas import Principal
from ombud.audit import service as audit
from ombud.customers import service as customers
from ombud.errors import Conflict, Forbidden, InvalidInput, NotFound
from ombud.sla import hours
from ombud.sla.models import Calendar, Metric, Policy, TeamCalendar, TicketSla
from ombud.sla.schemas import (
    CalendarCreate,
    CalendarPublic,
    CalendarUpdate,
    Conditions,
    Escalation,
    PolicyCreate,
    PolicyPublic,
    PolicyUpdate,
)
from ombud.storage.base import utcnow
from ombud.tickets.models import Priority, Ticket

PRIORITY_STEPS = (Priority.low, Priority.normal, Priority.high, Priority.urgent)
METRIC_WORDS = {
    Metric.first_response: "first response",
    Metric.next_response: "next response",
    Metric.resolution: "resolution",
}


# -- who may ---------------------------------------------------------------------------------------------
def _require_admin(actor: Principal) -> None:
    if not actor.is_admin:
        raise Forbidden("only admins may change SLA policies and calendars", code="role_forbidden")


def _require_reader(actor: Principal) -> None:
    if not (actor.is_admin or (actor.kind == "user" and actor.role == Role.lead)):
        raise Forbidden("only admins and leads may read SLA policies and calendars", code="role_forbidden")


def _invalid(exc: ValidationError) -> InvalidInput:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"])
    message = str(first["msg"]).removeprefix("Value error, ")
    return InvalidInput(f"{where}: {message}" if where else message, code="invalid_input")


# -- calendars -------------------------------------------------------------------------------------------
def to_hours(calendar: Calendar | None) -> hours.Calendar:
    """Return the arithmetic calendar for a stored one (None: 24/7 in UTC)."""
    if calendar is None:
        return hours.ALWAYS
    weekly = {
        hours.WEEKDAYS.index(day): tuple(
            (hours.parse_hhmm(start), hours.parse_hhmm(end)) for start, end in spans
        )
        for day, spans in (calendar.hours or {}).items()
    }
    holidays = frozenset(dt.date.fromisoformat(str(h["date"])) for h in calendar.holidays or [])
    return hours.Calendar(time_zone=calendar.time_zone, weekly=weekly, holidays=holidays)


def list_calendars(*, session: Session, actor: Principal) -> list[CalendarPublic]:
    """Return every calendar with the teams that work by it."""
    _require_reader(actor)
    teams: dict[int, list[int]] = {}
    for row in session.scalars(select(TeamCalendar).order_by(TeamCalendar.team_id)):
        teams.setdefault(row.calendar_id, []).append(row.team_id)
    return [
        _calendar_public(calendar, teams.get(calendar.id, []))
        for calendar in session.scalars(select(Calendar).order_by(Calendar.name))
    ]


def _calendar_public(calendar: Calendar, team_ids: list[int]) -> CalendarPublic:
    return CalendarPublic.model_validate(
        {
            "id": calendar.id,
            "name": calendar.name,
            "time_zone": calendar.time_zone,
            "hours": calendar.hours,
            "holidays": calendar.holidays,
            "is_default": calendar.is_default,
            "team_ids": team_ids,
            "created_at": calendar.created_at,
            "updated_at": calendar.updated_at,
        }
    )


def access_calendar(*, session: Session, actor: Principal, calendar_id: int) -> Calendar:
    _require_reader(actor)
    calendar = session.get(Calendar, calendar_id)
    if calendar is None:
        raise NotFound(f"no SLA calendar with id {calendar_id}", code="calendar_not_found")
    return calendar


def get_calendar_public(*, session: Session, calendar: Calendar) -> CalendarPublic:
    team_ids = list(
        session.scalars(select(TeamCalendar.team_id).where(TeamCalendar.calendar_id == calendar.id))
    )
    return _calendar_public(calendar, sorted(team_ids))


def _unique_name(
    session: Session, model: type[Calendar] | type[Policy], name: str, own_id: int | None
) -> None:
    found = session.scalar(select(model.id).where(func.lower(model.name) == name.lower()))
    if found is not None and found != own_id:
        kind = "calendar" if model is Calendar else "policy"
        raise Conflict(f"an SLA {kind} named {name!r} exists; choose another name", code="name_taken")


def create_calendar(*, session: Session, data: CalendarCreate, actor: Principal) -> Calendar:
    """Add a business calendar (made the default one if ``data.is_default``)."""
    _require_admin(actor)
    _unique_name(session, Calendar, data.name, None)
    now = utcnow()
    if data.is_default:
        session.execute(update(Calendar).values(is_default=False))
    calendar = Calendar(
        name=data.name,
        time_zone=data.time_zone,
        hours=data.hours,
        holidays=[h.model_dump(mode="json") for h in sorted(data.holidays, key=lambda h: h.date)],
        is_default=data.is_default,
        created_at=now,
        updated_at=now,
    )
    session.add(calendar)
    session.flush()
    _audit_config(session, actor, "sla.calendar_created", "sla_calendar", calendar.id, None, data.name)
    _mark_stale(session, now)
    return calendar


def update_calendar(
    *, session: Session, calendar: Calendar, changes: CalendarUpdate | dict[str, Any], actor: Principal
) -> Calendar:
    """Apply the given fields; tickets on this calendar are re-evaluated by the sweep."""
    _require_admin(actor)
    if isinstance(changes, dict):
        try:
            changes = CalendarUpdate.model_validate(changes)
        except ValidationError as exc:
            raise _invalid(exc) from None
    fields = changes.model_dump(exclude_unset=True, exclude_none=True, mode="json")
    if "name" in fields:
        _unique_name(session, Calendar, fields["name"], calendar.id)
    if fields.get("is_default"):
        session.execute(update(Calendar).where(Calendar.id != calendar.id).values(is_default=False))
    if "holidays" in fields:
        fields["holidays"] = sorted(fields["holidays"], key=lambda h: h["date"])
    for name, value in fields.items():
        setattr(calendar, name, value)
    calendar.updated_at = utcnow()
    session.flush()
    _audit_config(session, actor, "sla.calendar_updated", "sla_calendar", calendar.id, None, fields)
    _mark_stale(session, calendar.updated_at)
    return calendar


def delete_calendar(*, session: Session, calendar: Calendar, actor: Principal) -> None:
    """Remove a calendar; its teams fall back to the default calendar."""
    _require_admin(actor)
    _audit_config(session, actor, "sla.calendar_deleted", "sla_calendar", calendar.id, calendar.name, None)
    session.delete(calendar)
    session.flush()
    _mark_stale(session, utcnow())


def set_team_calendar(*, session: Session, team_id: int, calendar_id: int | None, actor: Principal) -> None:
    """Make ``team_id`` work by ``calendar_id`` (None: the default calendar)."""
    _require_admin(actor)
    accounts.access_team(session=session, team_id=team_id)
    if calendar_id is not None:
        access_calendar(session=session, actor=actor, calendar_id=calendar_id)
    session.execute(delete(TeamCalendar).where(TeamCalendar.team_id == team_id))
    if calendar_id is not None:
        session.add(TeamCalendar(team_id=team_id, calendar_id=calendar_id))
    session.flush()
    _audit_config(
        session, actor, "sla.team_calendar_set", "team", team_id, None, {"calendar_id": calendar_id}
    )
    _mark_stale(session, utcnow())


def calendar_for_team(*, session: Session, team_id: int | None) -> Calendar | None:
    """Return the stored calendar a ticket of ``team_id`` runs on (None: 24/7)."""
    if team_id is not None:
        found = session.scalar(
            select(Calendar)
            .join(TeamCalendar, TeamCalendar.calendar_id == Calendar.id)
            .where(TeamCalendar.team_id == team_id)
        )
        if found is not None:
            return found
    return session.scalar(select(Calendar).where(Calendar.is_default.is_(True)).limit(1))


# -- policies --------------------------------------------------------------------------------------------
def policy_public(policy: Policy) -> PolicyPublic:
    targets = {
        metric.value: minutes
        for metric, minutes in (
            (Metric.first_response, policy.first_response_minutes),
            (Metric.next_response, policy.next_response_minutes),
            (Metric.resolution, policy.resolution_minutes),
        )
        if minutes is not None
    }
    return PolicyPublic(
        id=policy.id,
        name=policy.name,
        position=policy.position,
        active=policy.active,
        conditions=Conditions.model_validate(policy.conditions or {}),
        targets=targets,
        paused_statuses=list(policy.paused_statuses or []),
        warn_before_minutes=policy.warn_before_minutes,
        warn_fraction=policy.warn_fraction,
        escalation=Escalation.model_validate(policy.escalation or {}),
        created_at=policy.created_at,
        updated_at=policy.updated_at,
    )


def list_policies(*, session: Session, actor: Principal) -> Sequence[Policy]:
    """Return every policy in the order they are checked."""
    _require_reader(actor)
    return session.scalars(select(Policy).order_by(Policy.position, Policy.id)).all()


def access_policy(*, session: Session, actor: Principal, policy_id: int) -> Policy:
    _require_reader(actor)
    policy = session.get(Policy, policy_id)
    if policy is None:
        raise NotFound(f"no SLA policy with id {policy_id}", code="policy_not_found")
    return policy


def _check_teams(session: Session, conditions: Conditions, escalation: Escalation) -> None:
    for team_id in [*conditions.team_ids, *([escalation.team_id] if escalation.team_id else [])]:
        accounts.access_team(session=session, team_id=team_id)


def _apply_targets(policy: Policy, targets: dict[str, int]) -> None:
    policy.first_response_minutes = targets.get(Metric.first_response.value)
    policy.next_response_minutes = targets.get(Metric.next_response.value)
    policy.resolution_minutes = targets.get(Metric.resolution.value)


def create_policy(*, session: Session, data: PolicyCreate, actor: Principal) -> Policy:
    """Add a policy at ``data.position`` (default: checked last)."""
    _require_admin(actor)
    _unique_name(session, Policy, data.name, None)
    _check_teams(session, data.conditions, data.escalation)
    existing = list(session.scalars(select(Policy).order_by(Policy.position, Policy.id)))
    now = utcnow()
    policy = Policy(
        name=data.name,
        position=0,
        active=data.active,
        conditions=data.conditions.model_dump(mode="json"),
        paused_statuses=data.paused_statuses,
        warn_before_minutes=data.warn_before_minutes,
        warn_fraction=data.warn_fraction,
        escalation=data.escalation.model_dump(mode="json"),
        created_at=now,
        updated_at=now,
    )
    _apply_targets(policy, data.targets)
    index = len(existing) if data.position is None else min(data.position - 1, len(existing))
    existing.insert(index, policy)
    session.add(policy)
    for position, item in enumerate(existing, start=1):
        item.position = position
    session.flush()
    _audit_config(session, actor, "sla.policy_created", "sla_policy", policy.id, None, data.name)
    _mark_stale(session, now)
    return policy


def update_policy(
    *, session: Session, policy: Policy, changes: PolicyUpdate | dict[str, Any], actor: Principal
) -> Policy:
    """Apply the given fields; open tickets are re-evaluated by the sweep, keeping their counted time."""
    _require_admin(actor)
    if isinstance(changes, dict):
        try:
            changes = PolicyUpdate.model_validate(changes)
        except ValidationError as exc:
            raise _invalid(exc) from None
    fields = changes.model_dump(exclude_unset=True)
    before = policy_public(policy).model_dump(mode="json")
    if fields.get("name") is not None:
        _unique_name(session, Policy, fields["name"], policy.id)
        policy.name = fields["name"]
    conditions = changes.conditions or Conditions.model_validate(policy.conditions or {})
    escalation = changes.escalation or Escalation.model_validate(policy.escalation or {})
    _check_teams(session, conditions, escalation)
    policy.conditions = conditions.model_dump(mode="json")
    policy.escalation = escalation.model_dump(mode="json")
    if changes.active is not None:
        policy.active = changes.active
    if changes.targets is not None:
        _apply_targets(policy, changes.targets)
    if changes.paused_statuses is not None:
        policy.paused_statuses = changes.paused_statuses
    # These two may be set to null on purpose (no warning by minutes, or by fraction).
    if "warn_before_minutes" in fields:
        policy.warn_before_minutes = changes.warn_before_minutes
    if "warn_fraction" in fields:
        policy.warn_fraction = changes.warn_fraction
    policy.updated_at = utcnow()
    session.flush()
    after = policy_public(policy).model_dump(mode="json")
    changed = sorted(k for k in after if after[k] != before[k] and k != "updated_at")
    _audit_config(
        session,
        actor,
        "sla.policy_updated",
        "sla_policy",
        policy.id,
        {k: before[k] for k in changed},
        {k: after[k] for k in changed},
    )
    _mark_stale(session, policy.updated_at)
    return policy


def delete_policy(*, session: Session, policy: Policy, actor: Principal) -> None:
    """Remove a policy; its tickets are re-evaluated (another policy may match them)."""
    _require_admin(actor)
    _audit_config(session, actor, "sla.policy_deleted", "sla_policy", policy.id, policy.name, None)
    session.delete(policy)
    session.flush()
    for position, item in enumerate(session.scalars(select(Policy).order_by(Policy.position, Policy.id)), 1):
        item.position = position
    session.flush()
    _mark_stale(session, utcnow())


def reorder_policies(*, session: Session, policy_ids: Sequence[int], actor: Principal) -> Sequence[Policy]:
    """Check the policies in the order of ``policy_ids`` (which must name every policy once)."""
    _require_admin(actor)
    policies = {p.id: p for p in session.scalars(select(Policy))}
    if sorted(policy_ids) != sorted(policies):
        missing = sorted(set(policies) - set(policy_ids))
        extra = sorted(set(policy_ids) - set(policies))
        raise InvalidInput(
            "list every policy id exactly once"
            + (f"; missing: {missing}" if missing else "")
            + (f"; unknown: {extra}" if extra else "")
            + ("; repeated ids" if len(policy_ids) != len(set(policy_ids)) else ""),
            code="invalid_policy_order",
        )
    for position, policy_id in enumerate(policy_ids, start=1):
        policies[policy_id].position = position
    session.flush()
    _audit_config(session, actor, "sla.policies_reordered", "sla_policy", 0, None, list(policy_ids))
    _mark_stale(session, utcnow())
    return [policies[i] for i in policy_ids]


def _audit_config(  # noqa: PLR0917 - one private helper, called the same way everywhere
    session: Session, actor: Principal, action: str, entity_type: str, entity_id: int, before: Any, after: Any
) -> None:
    audit.record(
        session=session,
        actor=actor,
        action=action,
        entity_type=entity_type,
        entity_id=entity_id,
        before=None if before is None else {"value": before},
        after=None if after is None else {"value": after},
    )


def _mark_stale(session: Session, now: dt.datetime) -> None:
    """Have the sweep re-evaluate every open ticket's policy and calendar (the configuration changed)."""
    open_ids = select(Ticket.id).where(Ticket.is_open.is_(True))
    session.execute(
        update(TicketSla).where(TicketSla.ticket_id.in_(open_ids)).values(stale=True, next_check_at=now)
    )


def matches(policy: Policy, *, ticket: Ticket, tier: str, intents: Sequence[str]) -> bool:
    """Return whether ``policy``'s conditions hold for the ticket."""
    conditions = policy.conditions or {}
    checks = (
        ("channels", ticket.channel.value),
        ("tiers", tier),
        ("priorities", ticket.priority.value),
        ("team_ids", ticket.team_id),
    )
    for key, value in checks:
        allowed = conditions.get(key) or []
        if allowed and value not in allowed:
            return False
    wanted = conditions.get("intents") or []
    return not wanted or any(intent in wanted for intent in intents)


def policy_for(*, session: Session, ticket: Ticket, intents: Sequence[str]) -> Policy | None:
    """Return the first active policy whose conditions match the ticket."""
    tier = customers.tier_of(session=session, customer_id=ticket.customer_id)
    query = select(Policy).where(Policy.active.is_(True)).order_by(Policy.position, Policy.id)
    return next(
        (p for p in session.scalars(query) if matches(p, ticket=ticket, tier=tier, intents=intents)), None
    )
