"""Routing settings and what leads see: agents' skills, capacity and availability, teams' routing rules,
the queue of waiting tickets and the decisions per ticket. The engine itself is ``ombud.routing.assign``.

Who may do what: admins and leads set skills, capacity and team rules (only an admin turns automatic
assignment on or off); every agent sets their own availability and reads their own skills and capacity;
leads and admins may set anyone's availability (the agent who went home without signing off).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from ombud.accounts import service as accounts
from ombud.accounts.models import Role, User
from ombud.accounts.schemas import Principal
from ombud.audit import service as audit
from ombud.errors import Forbidden, InvalidInput, NotFound
from ombud.routing import assign
from ombud.routing.models import (
    AgentSkill,
    AgentStatus,
    Availability,
    QueuedTicket,
    QueueState,
    RoutingDecision,
    TeamRouting,
)
from ombud.routing.schemas import (
    AgentRouting,
    AvailabilityUpdate,
    CapacityUpdate,
    DecisionPublic,
    QueuedTicketPublic,
    QueueListing,
    SkillPublic,
    SkillsUpdate,
    TeamQueue,
    TeamRoutingPublic,
    TeamRoutingUpdate,
    TeamRules,
)
from ombud.storage.base import utcnow
from ombud.tickets import service as tickets
from ombud.tickets.models import Ticket

LEAD_ROLES = frozenset({Role.admin, Role.lead})
MAX_BREAK = dt.timedelta(hours=12)
QUEUE_PAGE = 500


# -- permissions -------------------------------------------------------------------------------------------
def is_lead(principal: Principal) -> bool:
    return principal.kind == "system" or (principal.kind == "user" and principal.role in LEAD_ROLES)


def require_lead(principal: Principal, what: str) -> None:
    if not is_lead(principal):
        raise Forbidden(f"only leads and admins may {what}", code="role_forbidden")


def _require_self_or_lead(principal: Principal, user_id: int, what: str) -> None:
    if is_lead(principal):
        return
    if principal.kind == "user" and principal.id == user_id and principal.is_staff:
        return
    raise Forbidden(
        f"you may {what} only for yourself; leads and admins may for anyone", code="role_forbidden"
    )


def _routable_user(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"no user with id {user_id}", code="user_not_found")
    if user.role not in assign.ROUTABLE_ROLES:
        raise InvalidInput(
            f"user {user_id} is a {user.role.value}: only agents, leads and admins take routed tickets",
            code="not_routable",
        )
    return user


# -- reading agents ----------------------------------------------------------------------------------------
def _agent_views(session: Session, users: Sequence[User]) -> list[AgentRouting]:
    ids = [u.id for u in users]
    statuses = {
        s.user_id: s for s in session.scalars(select(AgentStatus).where(AgentStatus.user_id.in_(ids)))
    }
    skills: dict[int, list[SkillPublic]] = {uid: [] for uid in ids}
    rows = session.scalars(
        select(AgentSkill).where(AgentSkill.user_id.in_(ids)).order_by(AgentSkill.kind, AgentSkill.value)
    )
    for skill in rows:
        skills[skill.user_id].append(SkillPublic.model_validate(skill))
    load = assign.loads(session=session, user_ids=ids)
    out = []
    for user in users:
        status = statuses.get(user.id)
        out.append(
            AgentRouting(
                user_id=user.id,
                name=user.name,
                role=user.role.value,
                active=user.active,
                status=status.status if status is not None else Availability.offline,
                break_until=status.break_until if status is not None else None,
                status_changed_at=status.changed_at if status is not None else None,
                capacity={c: assign.capacity_of(status, c) for c in assign.DEFAULT_CAPACITY},
                load={c: load[user.id].get(c, 0) for c in assign.DEFAULT_CAPACITY},
                skills=skills[user.id],
                team_ids=sorted(t.id for t in user.teams),
            )
        )
    return out


def list_agents(*, session: Session, principal: Principal) -> list[AgentRouting]:
    """Return every user who takes routed tickets, with status, load and capacity per channel, skills."""
    require_lead(principal, "see every agent's routing")
    users = session.scalars(
        select(User).where(User.role.in_(assign.ROUTABLE_ROLES), User.active.is_(True)).order_by(User.name)
    ).all()
    return _agent_views(session, users)


def get_agent(*, session: Session, principal: Principal, user_id: int) -> AgentRouting:
    """Return one agent's routing (their own, or anyone's for a lead)."""
    _require_self_or_lead(principal, user_id, "read routing settings")
    return _agent_views(session, [_routable_user(session, user_id)])[0]


# -- changing agents ---------------------------------------------------------------------------------------
def set_skills(*, session: Session, principal: Principal, user_id: int, data: SkillsUpdate) -> AgentRouting:
    """Replace the agent's skills."""
    require_lead(principal, "set skills")
    _routable_user(session, user_id)
    seen: dict[tuple[str, str], int] = {}
    for skill in data.skills:
        seen[(skill.kind.value, skill.value)] = skill.level
    before = [f"{s.kind.value}:{s.value}:{s.level}" for s in _skills(session, user_id)]
    session.execute(delete(AgentSkill).where(AgentSkill.user_id == user_id))
    for (kind, value), level in sorted(seen.items()):
        session.add(AgentSkill(user_id=user_id, kind=kind, value=value, level=level))
    session.flush()
    after = [f"{kind}:{value}:{level}" for (kind, value), level in sorted(seen.items())]
    if before != after:
        audit.record(
            session=session,
            actor=principal,
            action="routing.skills_changed",
            entity_type="user",
            entity_id=user_id,
            before={"skills": before},
            after={"skills": after},
        )
    return get_agent(session=session, principal=principal, user_id=user_id)


def _skills(session: Session, user_id: int) -> Sequence[AgentSkill]:
    return session.scalars(
        select(AgentSkill).where(AgentSkill.user_id == user_id).order_by(AgentSkill.kind, AgentSkill.value)
    ).all()


def _status_row(session: Session, user_id: int) -> AgentStatus:
    row = session.get(AgentStatus, user_id)
    if row is None:
        row = AgentStatus(user_id=user_id, status=Availability.offline, capacity={}, changed_at=utcnow())
        session.add(row)
    return row


def set_capacity(
    *, session: Session, principal: Principal, user_id: int, data: CapacityUpdate
) -> AgentRouting:
    """Set how many active tickets per channel the agent takes at once; give them waiting tickets if they
    now have room."""
    require_lead(principal, "set capacity")
    _routable_user(session, user_id)
    row = _status_row(session, user_id)
    before = dict(row.capacity or {})
    row.capacity = {**before, **{channel.value: limit for channel, limit in data.capacity.items()}}
    session.flush()
    if row.capacity != before:
        audit.record(
            session=session,
            actor=principal,
            action="routing.capacity_changed",
            entity_type="user",
            entity_id=user_id,
            before={"capacity": before},
            after={"capacity": row.capacity},
        )
        assign.drain_agent(session=session, user_id=user_id, trigger="capacity.changed")
    return get_agent(session=session, principal=principal, user_id=user_id)


def set_availability(
    *, session: Session, principal: Principal, user_id: int, data: AvailabilityUpdate
) -> AgentRouting:
    """Set the agent online, away, on a break (optionally until a time) or offline; an agent who comes
    online gets the waiting tickets they can take at once."""
    _require_self_or_lead(principal, user_id, "set availability")
    user = _routable_user(session, user_id)
    if not user.active:
        raise InvalidInput(f"user {user_id} is not active", code="inactive_user")
    until = data.until
    if until is not None:
        if data.status != Availability.on_break:
            raise InvalidInput("an end time goes only with status break", code="until_without_break")
        if until.tzinfo is None:
            raise InvalidInput(
                "give the break's end with a time zone, e.g. 2026-05-01T14:30:00Z", code="naive_time"
            )
        now = utcnow()
        if until <= now:
            raise InvalidInput("the break's end must be in the future", code="break_in_past")
        if until - now > MAX_BREAK:
            raise InvalidInput(
                "a break lasts at most 12 hours; set away or offline instead", code="break_too_long"
            )
        until = until.astimezone(dt.UTC)
    row = _status_row(session, user_id)
    before = {"status": row.status.value, "until": row.break_until.isoformat() if row.break_until else None}
    row.status = data.status
    row.break_until = until
    row.changed_at = utcnow()
    session.flush()
    after = {"status": row.status.value, "until": until.isoformat() if until else None}
    if before != after:
        audit.record(
            session=session,
            actor=principal,
            action="routing.availability_changed",
            entity_type="user",
            entity_id=user_id,
            before=before,
            after=after,
        )
    if data.status == Availability.online:
        assign.drain_agent(session=session, user_id=user_id, trigger="agent.online")
    return get_agent(session=session, principal=principal, user_id=user_id)


# -- teams ------------------------------------------------------------------------------------------------
def _team_view(row: TeamRouting, name: str, configured: bool) -> TeamRoutingPublic:
    return TeamRoutingPublic(
        team_id=row.team_id,
        name=name,
        rules=TeamRules.model_validate(row.rules or {}),
        takes_new_tickets=row.rules is not None,
        position=row.position,
        auto_assign=row.auto_assign,
        overflow_team_id=row.overflow_team_id,
        overflow_after_minutes=row.overflow_after_minutes,
        configured=configured,
    )


def list_teams(*, session: Session, principal: Principal) -> list[TeamRoutingPublic]:
    """Return every team's routing settings (defaults for a team never configured)."""
    if not principal.is_staff:
        raise Forbidden("only staff may read team routing", code="role_forbidden")
    rows = {r.team_id: r for r in session.scalars(select(TeamRouting))}
    out = []
    for team in accounts.list_teams(session=session):
        row = rows.get(team.id)
        out.append(
            _team_view(
                row or assign.team_settings(session=session, team_id=team.id), team.name, row is not None
            )
        )
    return out


def update_team(
    *, session: Session, principal: Principal, team_id: int, data: TeamRoutingUpdate
) -> TeamRoutingPublic:
    """Change the fields given of a team's routing; then try again to assign its waiting tickets."""
    require_lead(principal, "change team routing")
    team = accounts.access_team(session=session, team_id=team_id)
    fields = data.model_fields_set
    if "auto_assign" in fields and not principal.is_admin:
        raise Forbidden("only admins turn automatic assignment on or off", code="admin_only")
    row = session.get(TeamRouting, team_id)
    if row is None:
        row = TeamRouting(team_id=team_id, rules=None, position=100, auto_assign=True, updated_at=utcnow())
        session.add(row)
    before = _settings_dict(row)
    if "rules" in fields:
        row.rules = data.rules.model_dump(mode="json") if data.rules is not None else None
    if "position" in fields:
        row.position = data.position if data.position is not None else 100
    if "auto_assign" in fields:
        if data.auto_assign is None:
            raise InvalidInput("auto_assign is true or false", code="invalid_input")
        row.auto_assign = data.auto_assign
    _apply_overflow(session, row, data)
    row.updated_at = utcnow()
    session.flush()
    after = _settings_dict(row)
    if after != before:
        audit.record(
            session=session,
            actor=principal,
            action="routing.team_changed",
            entity_type="team",
            entity_id=team_id,
            before=before,
            after=after,
        )
        _reschedule_overflow(session, row)
        if row.auto_assign:
            assign.drain_team(session=session, team_id=team_id, trigger="team.changed")
    return _team_view(row, team.name, True)


def _apply_overflow(session: Session, row: TeamRouting, data: TeamRoutingUpdate) -> None:
    fields = data.model_fields_set
    if "overflow_team_id" in fields:
        if data.overflow_team_id is not None:
            accounts.access_team(session=session, team_id=data.overflow_team_id)
            if data.overflow_team_id == row.team_id:
                raise InvalidInput("a team cannot overflow to itself", code="overflow_to_itself")
        row.overflow_team_id = data.overflow_team_id
    if "overflow_after_minutes" in fields:
        row.overflow_after_minutes = data.overflow_after_minutes
    if (row.overflow_team_id is None) != (row.overflow_after_minutes is None):
        raise InvalidInput(
            "give both overflow_team_id and overflow_after_minutes, or neither", code="overflow_incomplete"
        )


def _settings_dict(row: TeamRouting) -> dict[str, Any]:
    return {
        "rules": row.rules,
        "position": row.position,
        "auto_assign": row.auto_assign,
        "overflow_team_id": row.overflow_team_id,
        "overflow_after_minutes": row.overflow_after_minutes,
    }


def _reschedule_overflow(session: Session, row: TeamRouting) -> None:
    """Waiting tickets overflow by the team's new setting, counted from when they started waiting."""
    for entry in session.scalars(select(QueuedTicket).where(QueuedTicket.team_id == row.team_id)):
        if entry.state == QueueState.waiting:
            entry.overflow_at = assign.overflow_time(row, entry.enqueued_at)
    session.flush()


# -- the queue and the decisions ---------------------------------------------------------------------------
def queue(*, session: Session, principal: Principal, team_id: int | None = None) -> QueueListing:
    """Return the waiting tickets (most urgent, then oldest, first) and per team the count and the oldest."""
    require_lead(principal, "see the routing queue")
    now = utcnow()
    names = {t.id: t.name for t in accounts.list_teams(session=session)}
    counts = session.execute(
        select(QueuedTicket.team_id, func.count(), func.min(QueuedTicket.enqueued_at)).group_by(
            QueuedTicket.team_id
        )
    ).all()
    teams = [
        TeamQueue(
            team_id=tid,
            name=names.get(tid, "?") if tid is not None else "No team",
            count=int(count),
            oldest_enqueued_at=oldest,
            oldest_wait_seconds=_seconds(now, oldest),
        )
        for tid, count, oldest in counts
    ]
    teams.sort(key=lambda t: (-t.oldest_wait_seconds, t.name))
    query = (
        select(QueuedTicket, Ticket.subject, Ticket.priority)
        .join(Ticket, Ticket.id == QueuedTicket.ticket_id)
        .order_by(QueuedTicket.priority_rank.desc(), QueuedTicket.enqueued_at, QueuedTicket.ticket_id)
        .limit(QUEUE_PAGE)
    )
    if team_id is not None:
        query = query.where(QueuedTicket.team_id == team_id)
    listed = [
        QueuedTicketPublic(
            ticket_id=entry.ticket_id,
            subject=subject,
            priority=priority.value,
            channel=entry.channel,
            team_id=entry.team_id,
            state=entry.state,
            reason=entry.reason,
            needs=entry.needs or {},
            enqueued_at=entry.enqueued_at,
            waited_seconds=_seconds(now, entry.enqueued_at),
            overflow_at=entry.overflow_at,
        )
        for entry, subject, priority in session.execute(query).all()
    ]
    return QueueListing(teams=teams, tickets=listed)


def _seconds(now: dt.datetime, then: Any) -> int:
    if then is None:
        return 0
    if isinstance(then, dt.datetime) and then.tzinfo is None:
        # SQLite's MIN() hands back the stored naive UTC time (or a string).
        then = then.replace(tzinfo=dt.UTC)
    elif isinstance(then, str):
        then = dt.datetime.fromisoformat(then).replace(tzinfo=dt.UTC)
    return max(0, int((now - then).total_seconds()))


def decisions(*, session: Session, principal: Principal, ticket_id: int) -> list[DecisionPublic]:
    """Return the ticket's routing decisions, newest first (staff only)."""
    if not principal.is_staff:
        raise Forbidden("only staff may read routing decisions", code="role_forbidden")
    tickets.access_ticket(session=session, principal=principal, ticket_id=ticket_id)
    rows = session.scalars(
        select(RoutingDecision)
        .where(RoutingDecision.ticket_id == ticket_id)
        .order_by(RoutingDecision.id.desc())
    ).all()
    return [DecisionPublic.model_validate(r) for r in rows]


def queued_entry(*, session: Session, ticket_id: int) -> QueuedTicket | None:
    return session.get(QueuedTicket, ticket_id)


def route_now(*, session: Session, principal: Principal, ticket_id: int) -> DecisionPublic | None:
    """Route an unassigned ticket again now (a lead after changing rules or staffing)."""
    require_lead(principal, "route tickets by hand")
    tickets.access_ticket(session=session, principal=principal, ticket_id=ticket_id)
    decision = assign.route(session=session, ticket_id=ticket_id, trigger=assign.LEAD_TRIGGER)
    return DecisionPublic.model_validate(decision) if decision is not None else None
