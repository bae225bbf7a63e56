"""Recovery breaks after an abusive conversation, and each team's well-being policy.

An abusive conversation, for an agent: they send a public reply on, or solve, a ticket on which they had a
hostile contact (an abusive customer message that arrived while the ticket was theirs, or the abusive latest
message of a ticket handed to them: :mod:`ombud.people.load`), and no break was offered to them for that
ticket yet (one per agent and ticket). What happens then is the policy of the ticket's team (or, when the
agent is not in it, of their first team; no row: the defaults):

- ``off``: nothing;
- ``offer``: a break is offered (a banner on the agent's pages: take it or not now); an offer nobody
  answered expires after ``OFFER_TTL``;
- ``schedule``: the break starts by itself (state ``scheduled``), when the agent is online: their routing
  status is set to on a break until its end, through ``ombud.routing.service`` as the system (audited). An
  agent who is away or offline is offered the break instead: the routing sweep that ends breaks would
  otherwise bring them online.

Routing assigns nothing to an agent on a break, and the routing sweep brings them back online at its end.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ombud.accounts import service as accounts
from ombud.accounts.models import Role, Team
from ombud.accounts.schemas import SYSTEM, Principal
from ombud.audit import service as audit
from ombud.errors import Conflict, Forbidden, NotFound
from ombud.events.service import EventRecord
from ombud.people import access, help, load
from ombud.people.models import BreakState, HardContact, HardKind, RecoveryBreak, RecoveryMode, TeamWellbeing
from ombud.people.schemas import (
    ChannelLoad,
    LoadPublic,
    MemberStanding,
    TeamStanding,
    WellbeingPublic,
    WellbeingUpdate,
)
from ombud.routing import service as routing
from ombud.routing.models import AgentStatus, Availability
from ombud.routing.schemas import AvailabilityUpdate
from ombud.storage.base import utcnow
from ombud.storage.db import race_savepoint
from ombud.tickets.models import AuthorType, Message, Ticket

OFFER_TTL = dt.timedelta(minutes=30)
DEFAULT_MODE = RecoveryMode.offer
DEFAULT_MINUTES = 10


# -- team policies ------------------------------------------------------------------------------------------
def policy_of(*, session: Session, team_id: int | None) -> TeamWellbeing:
    """Return the team's policy, or the defaults (unsaved) when it has none."""
    row = session.get(TeamWellbeing, team_id) if team_id is not None else None
    if row is None:
        return TeamWellbeing(
            team_id=team_id,
            recovery_mode=DEFAULT_MODE,
            recovery_minutes=DEFAULT_MINUTES,
            max_hostile_in_a_row=load.DEFAULT_MAX_HOSTILE_IN_A_ROW,
        )
    return row


def _team(session: Session, team_id: int) -> None:
    if session.get(Team, team_id) is None:
        raise NotFound(f"no team with id {team_id}", code="team_not_found")


def get_policy(*, session: Session, principal: Principal, team_id: int) -> WellbeingPublic:
    """Return the team's well-being policy (staff)."""
    if not principal.is_staff:
        raise Forbidden("only staff read team policies", code="role_forbidden")
    _team(session, team_id)
    return WellbeingPublic.model_validate(policy_of(session=session, team_id=team_id))


def can_edit_policy(*, session: Session, principal: Principal, team_id: int) -> bool:
    """Admins edit every team's policy; a lead edits the policies of the teams they are in."""
    if principal.is_admin:
        return True
    if principal.kind != "user" or principal.role != Role.lead or principal.id is None:
        return False
    return team_id in {t.id for t in accounts.access_user(session=session, user_id=principal.id).teams}


def update_policy(
    *, session: Session, principal: Principal, team_id: int, data: WellbeingUpdate
) -> WellbeingPublic:
    """Set the team's recovery mode, break length and hostile-in-a-row limit (admins; leads of the team)."""
    _team(session, team_id)
    if not can_edit_policy(session=session, principal=principal, team_id=team_id):
        raise Forbidden("only admins and the team's leads set its well-being policy", code="role_forbidden")
    row = session.get(TeamWellbeing, team_id, with_for_update=True, populate_existing=True)
    if row is None:
        fresh = policy_of(session=session, team_id=team_id)
        try:
            with race_savepoint(session):
                session.add(fresh)
                session.flush()
            row = fresh
        except IntegrityError:
            # A first policy saved for the team at the same moment: this change applies over it.
            row = session.get(TeamWellbeing, team_id, with_for_update=True, populate_existing=True)
            assert row is not None
    before = _policy_dict(row)
    row.recovery_mode = data.recovery_mode
    row.recovery_minutes = data.recovery_minutes
    row.max_hostile_in_a_row = data.max_hostile_in_a_row
    row.updated_by_id = principal.id
    row.updated_at = utcnow()
    session.flush()
    audit.record(
        session=session,
        actor=principal,
        action="people.wellbeing_updated",
        entity_type="team",
        entity_id=team_id,
        before=before,
        after=_policy_dict(row),
    )
    return WellbeingPublic.model_validate(row)


def _policy_dict(row: TeamWellbeing) -> dict[str, object]:
    return {
        "recovery_mode": RecoveryMode(row.recovery_mode).value,
        "recovery_minutes": row.recovery_minutes,
        "max_hostile_in_a_row": row.max_hostile_in_a_row,
    }


def policy_for(*, session: Session, user_id: int, ticket: Ticket) -> TeamWellbeing:
    """The policy that applies to the agent on this ticket: the ticket's team when they are in it, else
    their first team (by id)."""
    teams = sorted(t.id for t in accounts.access_user(session=session, user_id=user_id).teams)
    team_id = ticket.team_id if ticket.team_id in teams else (teams[0] if teams else None)
    return policy_of(session=session, team_id=team_id)


# -- after an abusive conversation ------------------------------------------------------------------------
def on_event(*, session: Session, event: EventRecord) -> None:
    """The second half of the "people" consumer: an agent's public reply or solve ends an abusive
    conversation for them (see the module's text)."""
    if event.ticket_id is None or event.actor_type != "user" or event.actor_id is None:
        return
    if event.kind == "message.added":
        message = session.get(Message, event.entity_id)
        if message is None or message.internal or message.author_type != AuthorType.agent:
            return
    elif event.kind == "ticket.updated":
        after = event.payload.get("after") or {}
        if after.get("status") != "solved":
            return
    else:
        return
    after_abusive(session=session, user_id=event.actor_id, ticket_id=event.ticket_id)


def after_abusive(*, session: Session, user_id: int, ticket_id: int) -> RecoveryBreak | None:
    """Offer (or start) a recovery break when the agent just ended an abusive conversation on the ticket;
    return the break (None: nothing due)."""
    hostile = session.scalar(
        select(HardContact.id).where(
            HardContact.user_id == user_id,
            HardContact.ticket_id == ticket_id,
            HardContact.kind == HardKind.hostile,
        )
    )
    ticket = session.get(Ticket, ticket_id)
    if hostile is None or ticket is None:
        return None
    already = session.scalar(
        select(RecoveryBreak.id).where(RecoveryBreak.user_id == user_id, RecoveryBreak.ticket_id == ticket_id)
    )
    if already is not None:
        return None
    policy = policy_for(session=session, user_id=user_id, ticket=ticket)
    mode = RecoveryMode(policy.recovery_mode)
    if mode == RecoveryMode.off:
        return None
    now = utcnow()
    row = RecoveryBreak(
        user_id=user_id,
        ticket_id=ticket_id,
        state=BreakState.offered,
        minutes=policy.recovery_minutes,
        reason=f"after an abusive conversation on ticket #{ticket_id}",
        created_at=now,
    )
    session.add(row)
    session.flush()
    status = session.get(AgentStatus, user_id)
    if mode == RecoveryMode.schedule and status is not None and status.status == Availability.online:
        row.state = BreakState.scheduled
        row.answered_at = now
        _start(session=session, actor=SYSTEM, row=row)
        audit.record(
            session=session,
            actor=SYSTEM,
            action="people.break_scheduled",
            entity_type="user",
            entity_id=user_id,
            after={"break_id": row.id, "minutes": row.minutes, "ticket_id": ticket_id},
        )
    return row


def _start(*, session: Session, actor: Principal, row: RecoveryBreak) -> None:
    row.ends_at = utcnow() + dt.timedelta(minutes=row.minutes)
    session.flush()
    routing.set_availability(
        session=session,
        principal=actor,
        user_id=row.user_id,
        data=AvailabilityUpdate(status=Availability.on_break, until=row.ends_at),
    )


# -- the agent's answer --------------------------------------------------------------------------------------
def expire_offers(*, session: Session, user_id: int | None = None) -> int:
    """Mark offers nobody answered within ``OFFER_TTL`` expired; return how many."""
    statement = update(RecoveryBreak).where(
        RecoveryBreak.state == BreakState.offered, RecoveryBreak.created_at <= utcnow() - OFFER_TTL
    )
    if user_id is not None:
        statement = statement.where(RecoveryBreak.user_id == user_id)
    result = session.execute(statement.values(state=BreakState.expired, answered_at=utcnow()))
    return int(getattr(result, "rowcount", 0) or 0)


def my_breaks(*, session: Session, principal: Principal, limit: int = 20) -> Sequence[RecoveryBreak]:
    """The caller's recovery breaks, newest first (offers past their time are expired first)."""
    user_id = _serving_user(principal)
    expire_offers(session=session, user_id=user_id)
    return session.scalars(
        select(RecoveryBreak)
        .where(RecoveryBreak.user_id == user_id)
        .order_by(RecoveryBreak.created_at.desc(), RecoveryBreak.id.desc())
        .limit(limit)
    ).all()


def open_offer(*, session: Session, user_id: int) -> RecoveryBreak | None:
    """The agent's newest offer still waiting for an answer (read-only: an expired one is skipped)."""
    return session.scalar(
        select(RecoveryBreak)
        .where(
            RecoveryBreak.user_id == user_id,
            RecoveryBreak.state == BreakState.offered,
            RecoveryBreak.created_at > utcnow() - OFFER_TTL,
        )
        .order_by(RecoveryBreak.id.desc())
        .limit(1)
    )


def _serving_user(principal: Principal) -> int:
    if principal.kind != "user" or principal.id is None or not principal.can_serve:
        raise Forbidden("recovery breaks are for agents, leads and admins", code="role_forbidden")
    return principal.id


def _own_offer(session: Session, principal: Principal, break_id: int) -> RecoveryBreak:
    user_id = _serving_user(principal)
    row = session.get(RecoveryBreak, break_id)
    if row is None or row.user_id != user_id:
        raise NotFound(f"no break {break_id} of yours", code="break_not_found")
    expire_offers(session=session, user_id=user_id)
    # Locked until commit: a double click's second answer waits for the first and then finds it answered.
    session.refresh(row, with_for_update=True)
    if row.state == BreakState.expired:
        raise Conflict(
            "this offer expired; set yourself on a break from the status menu", code="break_expired"
        )
    if row.state != BreakState.offered:
        raise Conflict(f"this break was already {row.state.value}", code="break_answered")
    return row


def take(*, session: Session, principal: Principal, break_id: int) -> RecoveryBreak:
    """Take the offered break now: the agent is on a break (routing gives them nothing) until it ends."""
    row = _own_offer(session, principal, break_id)
    row.state = BreakState.taken
    row.answered_at = utcnow()
    _start(session=session, actor=principal, row=row)
    return row


def decline(*, session: Session, principal: Principal, break_id: int) -> RecoveryBreak:
    """Not now: the offer is closed and nothing changes."""
    row = _own_offer(session, principal, break_id)
    row.state = BreakState.declined
    row.answered_at = utcnow()
    session.flush()
    return row


def load_consumer(*, session: Session, event: EventRecord) -> None:
    """The workflow consumer "people": record hard contacts, then offer breaks that are due."""
    load.on_event(session=session, event=event)
    on_event(session=session, event=event)


# -- reading the figures ------------------------------------------------------------------------------------
def load_public(standing: load.Standing) -> LoadPublic:
    return LoadPublic(**standing.as_dict())


def agent_load(*, session: Session, principal: Principal, user_id: int) -> LoadPublic:
    """One agent's emotional load (the agent themself, or a lead who shares a team with them)."""
    access.check_figures(session=session, viewer=principal, user_id=user_id)
    return load_public(load.standing(session=session, user_ids=[user_id])[user_id])


def team_standing(*, session: Session, principal: Principal) -> TeamStanding:
    """Who in the lead's teams is overloaded right now: status, active tickets against capacity, emotional
    load, hostile run and open help requests, with plain flags; sorted by name, never ranked."""
    if principal.kind != "user" or principal.id is None or principal.role != Role.lead:
        raise Forbidden("this view is for leads, about the members of their teams", code="role_forbidden")
    ids = list(access.team_of_lead(session=session, lead_id=principal.id))
    users = [accounts.access_user(session=session, user_id=uid) for uid in ids]
    users = [u for u in users if u.active and u.role in access.SERVING_ROLES]
    figures = load.standing(session=session, user_ids=[u.id for u in users])
    asked = help.open_count(session=session, user_ids=[u.id for u in users])
    members = []
    for user in sorted(users, key=lambda u: (u.name.lower(), u.id)):
        agent = routing.get_agent(session=session, principal=SYSTEM, user_id=user.id)
        channels = [
            ChannelLoad(channel=c, active=agent.load.get(c, 0), capacity=agent.capacity.get(c, 0))
            for c in sorted(agent.capacity)
            if agent.load.get(c, 0) > 0
        ]
        standing = figures[user.id]
        flags = [f"at capacity on {c.channel}" for c in channels if c.capacity and c.active >= c.capacity]
        limit = min(
            [load.max_hostile_in_a_row(session=session, team_id=t.id) for t in user.teams]
            or [load.DEFAULT_MAX_HOSTILE_IN_A_ROW]
        )
        if standing.hostile_in_a_row >= limit:
            flags.append(f"{standing.hostile_in_a_row} hostile in a row")
        if standing.load >= load.HIGH_LOAD:
            flags.append("high emotional load")
        if asked[user.id]:
            flags.append("asked for help")
        members.append(
            MemberStanding(
                user_id=user.id,
                name=user.name,
                status=agent.status,
                break_until=agent.break_until,
                channels=channels,
                standing=load_public(standing),
                open_help_requests=asked[user.id],
                flags=flags,
            )
        )
    return TeamStanding(members=members)
