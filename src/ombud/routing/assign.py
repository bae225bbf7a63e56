"""The routing engine: choose the team and the agent for an unassigned ticket, or queue it; give waiting
tickets to agents who become free; move tickets that waited too long to the overflow team.

How an agent is chosen, within the team: only active agents, leads and admins who are online and have
free capacity on the ticket's channel are candidates. The best skill score wins (the ticket's intents,
language, products and channel against the agent's skills, partial matches scored); then the lowest load
on that channel, then the lowest load overall; among equals, round-robin (the next one after whoever got
the team's last ticket). A hard ticket (its latest customer message abusive or highly frustrated) is
spread fairly: agents who already had the team's limit of hostile tickets in a row come after everyone
else eligible (still taking it when nobody else is free), and among equal skill the one with the lower
emotional load wins before channel load (``ombud.people.load``; the figures are private, so decisions
say only that hard conversations were spread, never anyone's load). Every decision is recorded with
the candidates and why each was or was not eligible, so a lead can see why a ticket went where it went.

Routing only ever assigns unassigned tickets: it never takes a ticket from anyone, so an assignment made
by a person always stands. Assignments go through ``tickets.service.update_ticket`` as the system, so they
are audited and published like any other change.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ombud.accounts import service as accounts
from ombud.accounts.models import Role, User
from ombud.accounts.schemas import SYSTEM
from ombud.customers import service as customers
from ombud.events import service as events
from ombud.people import load as emotional
from ombud.routing.models import (
    AgentSkill,
    AgentStatus,
    Availability,
    QueuedTicket,
    QueueState,
    RoutingDecision,
    SkillKind,
    TeamRouting,
)
from ombud.storage.base import utcnow
from ombud.tickets import service as tickets
from ombud.tickets.models import AuthorType, Message, Status, Ticket
from ombud.tickets.schemas import TicketUpdate
from ombud.triage import service as triage

# Roles that take tickets; advocates and partner technicians are never routed customer tickets.
ROUTABLE_ROLES = frozenset({Role.admin, Role.lead, Role.agent})
# Tickets that count toward an agent's load: pending and on-hold ones wait on someone else.
ACTIVE_STATUSES = (Status.new, Status.open)
# Active tickets at once per channel when an agent's capacity does not say (a chat or a call needs the
# agent's full attention; emails can be juggled).
DEFAULT_CAPACITY = {"chat": 3, "phone": 1, "social": 5, "email": 10, "web": 10, "api": 10}
PRIORITY_RANK = {"low": 0, "normal": 1, "high": 2, "urgent": 3}
PRODUCT_TAG = "product:"
# The trigger of a lead's "route now": always recorded, even when nothing changed.
LEAD_TRIGGER = "lead.route_now"
MAX_CANDIDATES = 50
# Why a hard ticket went where it went, the same words whoever got it: routing decisions are shown to all
# staff, and naming who had fewer hard conversations (or a run of hostile ones) would compare private
# figures (emotional load is the agent's and their lead's only, and never a ranking).
HARD_REASON = "a hard conversation, spread fairly over the team"
DRAIN_MAX = 100
STATUS_WORDS = {
    Availability.online: "online",
    Availability.away: "away",
    Availability.on_break: "on a break",
    Availability.offline: "offline",
}


@dataclass(frozen=True)
class RoutingConfig:
    """From the settings: how long a new ticket waits for triage before it is routed without it."""

    triage_wait: dt.timedelta = dt.timedelta(seconds=120)


@dataclass
class Needs:
    """What a ticket needs from its agent."""

    channel: str
    intents: list[str] = field(default_factory=list)
    language: str | None = None
    products: list[str] = field(default_factory=list)
    tier: str = "standard"

    def as_dict(self) -> dict[str, Any]:
        return {
            "channel": self.channel,
            "intents": self.intents,
            "language": self.language,
            "products": self.products,
            "tier": self.tier,
        }


@dataclass
class Candidate:
    user_id: int
    name: str
    status: Availability
    load: int  # active tickets on the ticket's channel
    total_load: int
    capacity: int
    score: float
    eligible: bool
    why: str
    # For a hard ticket only (else 0 and False): private figures, never written into the decision.
    emotional_load: int = 0
    held_back: bool = False  # had the team's limit of hostile tickets in a row

    def rank(self, hard: bool) -> tuple[Any, ...]:
        """The order among eligible candidates, best first (ties go round-robin)."""
        if hard:
            return (self.held_back, -self.score, self.emotional_load, self.load, self.total_load)
        return (-self.score, self.load, self.total_load)

    def as_dict(self) -> dict[str, Any]:
        return {
            "user_id": self.user_id,
            "name": self.name,
            "status": self.status.value,
            "load": self.load,
            "capacity": self.capacity,
            "score": self.score,
            "eligible": self.eligible,
            "why": self.why,
        }


# -- what a ticket needs ---------------------------------------------------------------------------------
def needs_of(*, session: Session, ticket: Ticket, triaged: dict[str, Any] | None = None) -> Needs:
    """Return what ``ticket`` needs: its channel and tier, its products (``product:`` tags), and the intents
    and language triage found (from ``triaged``, a message.triaged payload, or the latest stored triage)."""
    needs = Needs(
        channel=ticket.channel.value,
        products=sorted(t.removeprefix(PRODUCT_TAG) for t in ticket.tag_names if t.startswith(PRODUCT_TAG)),
        tier=customers.tier_of(session=session, customer_id=ticket.customer_id),
    )
    if triaged is None:
        triaged = _latest_triage(session=session, ticket_id=ticket.id)
    if triaged:
        needs.intents = [str(i).lower() for i in triaged.get("intents", []) if i]
        language = triaged.get("language")
        needs.language = str(language).lower() if language else None
    return needs


def _latest_triage(*, session: Session, ticket_id: int) -> dict[str, Any] | None:
    message_ids = session.scalars(
        select(Message.id)
        .where(Message.ticket_id == ticket_id, Message.author_type == AuthorType.customer)
        .order_by(Message.id.desc())
        .limit(5)
    ).all()
    results = triage.results_for(session=session, message_ids=list(message_ids))
    for message_id in message_ids:
        result = results.get(message_id)
        if result:
            return {
                "intents": [c["intents"][0]["label"] for c in result.get("concerns", []) if c.get("intents")],
                "language": result.get("language"),
            }
    return None


def awaits_triage(*, session: Session, ticket_id: int) -> bool:
    waiting = session.scalar(
        select(func.count())
        .select_from(Message)
        .where(
            Message.ticket_id == ticket_id,
            Message.author_type == AuthorType.customer,
            Message.triaged_at.is_(None),
        )
    )
    return bool(waiting)


# -- choosing the team -------------------------------------------------------------------------------------
def rules_match(rules: dict[str, Any], needs: Needs) -> int | None:
    """Return how many of a team's rules ``needs`` meets (None: a rule it does not meet)."""
    wanted: list[tuple[str, list[str]]] = [
        ("channels", [needs.channel]),
        ("intents", needs.intents),
        ("languages", [needs.language] if needs.language else []),
        ("products", needs.products),
        ("tiers", [needs.tier]),
    ]
    met = 0
    for key, have in wanted:
        allowed = {str(v).lower() for v in rules.get(key) or []}
        if not allowed:
            continue
        if not allowed & {h.lower() for h in have}:
            return None
        met += 1
    return met


def choose_team(*, session: Session, needs: Needs) -> tuple[TeamRouting | None, str]:
    """Return the team whose rules fit ``needs`` best (the most rules met, then the lowest position), and
    why; a team without rules takes what no other team takes."""
    best: tuple[int, int, int] | None = None
    chosen: TeamRouting | None = None
    for row in session.scalars(select(TeamRouting)).all():
        if row.rules is None:  # (a JSON null: the team takes no new tickets by rules)
            continue
        met = rules_match(row.rules, needs)
        if met is None:
            continue
        key = (met, -row.position, -row.team_id)
        if best is None or key > best:
            best, chosen = key, row
    if chosen is None:
        return None, "no team's rules take this ticket"
    if best is not None and best[0] == 0:
        return chosen, "the team that takes every ticket no other team's rules take"
    return chosen, f"the team's rules match ({best[0] if best else 0} met)"


def team_settings(*, session: Session, team_id: int) -> TeamRouting:
    """Return the team's routing row, or the default (automatic assignment on, taking no new tickets by
    rules) unsaved."""
    row = session.get(TeamRouting, team_id)
    if row is None:
        row = TeamRouting(team_id=team_id, rules=None, position=100, auto_assign=True)
    return row


# -- choosing the agent ------------------------------------------------------------------------------------
def skill_score(skills: Sequence[AgentSkill], needs: Needs) -> float:
    """Return 0..1: how well the skills cover what the ticket needs (each need weighs the same; a skill's
    level 1..5 counts as a fifth each; a need the ticket does not have is left out)."""
    have: dict[tuple[str, str], int] = {(s.kind.value, s.value): s.level for s in skills}
    wanted: list[tuple[str, list[str]]] = [
        (SkillKind.channel.value, [needs.channel]),
        (SkillKind.intent.value, needs.intents),
        (SkillKind.language.value, [needs.language] if needs.language else []),
        (SkillKind.product.value, needs.products),
    ]
    parts: list[float] = []
    for kind, values in wanted:
        for value in values:
            parts.append(have.get((kind, value.lower()), 0) / 5)
    return round(sum(parts) / len(parts), 3) if parts else 0.0


def loads(*, session: Session, user_ids: Sequence[int]) -> dict[int, dict[str, int]]:
    """Return {user: {channel: active assigned tickets}}."""
    out: dict[int, dict[str, int]] = {uid: {} for uid in user_ids}
    if not user_ids:
        return out
    rows = session.execute(
        select(Ticket.assignee_id, Ticket.channel, func.count())
        .where(Ticket.assignee_id.in_(user_ids), Ticket.status.in_(ACTIVE_STATUSES))
        .group_by(Ticket.assignee_id, Ticket.channel)
    ).all()
    for user_id, channel, count in rows:
        if user_id is not None:
            out[user_id][channel.value] = int(count)
    return out


def capacity_of(status: AgentStatus | None, channel: str) -> int:
    if status is not None and channel in (status.capacity or {}):
        return int(status.capacity[channel])
    return DEFAULT_CAPACITY.get(channel, 10)


def status_of(session: Session, user_id: int) -> AgentStatus | None:
    return session.get(AgentStatus, user_id)


def candidates(
    *, session: Session, members: Sequence[User], needs: Needs, hard: bool = False, max_in_a_row: int = 2
) -> list[Candidate]:
    """Return every member with their standing for this ticket, the eligible ones first, best first
    (``hard``: spreading hard conversations, see the module's text)."""
    ids = [u.id for u in members]
    statuses = {
        s.user_id: s for s in session.scalars(select(AgentStatus).where(AgentStatus.user_id.in_(ids)))
    }
    skills: dict[int, list[AgentSkill]] = {uid: [] for uid in ids}
    for skill in session.scalars(select(AgentSkill).where(AgentSkill.user_id.in_(ids))):
        skills[skill.user_id].append(skill)
    load = loads(session=session, user_ids=ids)
    standing = emotional.standing(session=session, user_ids=ids) if hard else {}
    out: list[Candidate] = []
    for user in members:
        status = statuses.get(user.id)
        availability = status.status if status is not None else Availability.offline
        capacity = capacity_of(status, needs.channel)
        on_channel = load[user.id].get(needs.channel, 0)
        why = ""
        if not user.active:
            why = "inactive user"
        elif user.role not in ROUTABLE_ROLES:
            why = f"the {user.role.value} role does not take tickets"
        elif availability != Availability.online:
            why = STATUS_WORDS[availability]
        elif capacity == 0:
            why = f"does not take {needs.channel} tickets (capacity 0)"
        elif on_channel >= capacity:
            why = f"full on {needs.channel} ({on_channel}/{capacity})"
        out.append(
            Candidate(
                user_id=user.id,
                name=user.name,
                status=availability,
                load=on_channel,
                total_load=sum(load[user.id].values()),
                capacity=capacity,
                score=skill_score(skills[user.id], needs),
                eligible=not why,
                why=why or "available",
                emotional_load=standing[user.id].load if user.id in standing else 0,
                held_back=user.id in standing and standing[user.id].hostile_in_a_row >= max_in_a_row,
            )
        )
    out.sort(key=lambda c: (not c.eligible, *c.rank(hard), c.user_id))
    return out


def pick(ranked: Sequence[Candidate], last_user_id: int | None, hard: bool = False) -> Candidate | None:
    """Return the best eligible candidate; among equals (same score and loads), the next one after
    ``last_user_id`` in id order, wrapping around (round-robin)."""
    eligible = [c for c in ranked if c.eligible]
    if not eligible:
        return None
    top = eligible[0]
    equals = sorted((c for c in eligible if c.rank(hard) == top.rank(hard)), key=lambda c: c.user_id)
    if last_user_id is not None:
        for candidate in equals:
            if candidate.user_id > last_user_id:
                return candidate
    return equals[0]


# -- routing one ticket ------------------------------------------------------------------------------------
def route(
    *, session: Session, ticket_id: int, trigger: str, triaged: dict[str, Any] | None = None
) -> RoutingDecision | None:
    """Assign the unassigned open ticket to the best free agent of its team, or queue it; return the
    recorded decision (None when there was nothing to route: assigned, solved or gone)."""
    ticket = session.get(Ticket, ticket_id)
    entry = session.get(QueuedTicket, ticket_id)
    if ticket is None or not ticket.is_open or ticket.assignee_id is not None:
        if entry is not None:
            session.delete(entry)
            session.flush()
        return None
    needs = needs_of(session=session, ticket=ticket, triaged=triaged)
    team: TeamRouting | None
    if ticket.team_id is not None:
        team, team_reason = team_settings(session=session, team_id=ticket.team_id), "the ticket's team"
    else:
        team, team_reason = choose_team(session=session, needs=needs)
    if team is None:
        return _queue_up(
            session, ticket, team=None, needs=needs, reason=team_reason, trigger=trigger, listed=[]
        )
    if not team.auto_assign:
        reason = f"{team_reason}; automatic assignment is off for this team"
        return _queue_up(session, ticket, team=team, needs=needs, reason=reason, trigger=trigger, listed=[])
    members = accounts.access_team(session=session, team_id=team.team_id).members
    hard = emotional.ticket_hardness(session=session, ticket_id=ticket.id, triaged=triaged) is not None
    ranked = candidates(
        session=session,
        members=members,
        needs=needs,
        hard=hard,
        max_in_a_row=emotional.max_hostile_in_a_row(session=session, team_id=team.team_id),
    )
    chosen_agent = pick(ranked, team.last_assigned_user_id, hard)
    # Listed in the order of a calm ticket: the order of a hard one would rank people by emotional load.
    shown = sorted(ranked, key=lambda c: (not c.eligible, *c.rank(False), c.user_id))
    listed = [c.as_dict() for c in shown[:MAX_CANDIDATES]]
    if chosen_agent is None:
        reason = f"{team_reason}; nobody is free" if members else f"{team_reason}; the team has no members"
        return _queue_up(
            session, ticket, team=team, needs=needs, reason=reason, trigger=trigger, listed=listed
        )
    key = chosen_agent.rank(hard)
    ties = sum(1 for c in ranked if c.eligible and c.rank(hard) == key)
    if hard:
        reason = f"{team_reason}; {chosen_agent.name} is online; {HARD_REASON}"
    else:
        reason = (
            f"{team_reason}; {chosen_agent.name} is online with the best skill match "
            f"({chosen_agent.score:.2f}) and the lowest load ({chosen_agent.load}/{chosen_agent.capacity} "
            f"on {needs.channel})" + (f"; their turn among {ties} equals (round-robin)" if ties > 1 else "")
        )
    _assign(session=session, ticket=ticket, team=team, user_id=chosen_agent.user_id)
    return decide(
        session,
        ticket,
        trigger=trigger,
        outcome="assigned",
        reason=reason,
        team_id=team.team_id,
        user_id=chosen_agent.user_id,
        needs=needs,
        listed=listed,
    )


def _assign(*, session: Session, ticket: Ticket, team: TeamRouting, user_id: int) -> None:
    tickets.update_ticket(
        session=session,
        ticket=ticket,
        changes=TicketUpdate(assignee_id=user_id, team_id=team.team_id),
        actor=SYSTEM,
    )
    if session.get(TeamRouting, team.team_id) is None:
        session.add(team)
    team.last_assigned_user_id = user_id
    entry = session.get(QueuedTicket, ticket.id)
    if entry is not None:
        session.delete(entry)
    session.flush()


def _queue_up(
    session: Session,
    ticket: Ticket,
    *,
    team: TeamRouting | None,
    needs: Needs,
    reason: str,
    trigger: str,
    listed: list[dict[str, Any]],
) -> RoutingDecision:
    """Queue the ticket and record why, once: a ticket tried again that still waits in the same queue keeps
    its place and adds no decision (unless a lead asked); the queue entry's reason is brought up to date."""
    team_id = team.team_id if team is not None else None
    entry = session.get(QueuedTicket, ticket.id)
    newly_waiting = entry is None or entry.state != QueueState.waiting or entry.team_id != team_id
    _enqueue(session=session, ticket=ticket, team=team, needs=needs, reason=reason)
    if newly_waiting:
        # For the other workflow consumers (reports of queue waits, automations, webhooks).
        events.emit(
            session=session,
            kind="routing.queued",
            entity_type="ticket",
            entity_id=ticket.id,
            actor_type="system",
            actor_id=None,
            ticket_id=ticket.id,
            customer_id=ticket.customer_id,
            payload={"team_id": team_id, "reason": reason, "needs": needs.as_dict()},
        )
    return decide(
        session,
        ticket,
        trigger=trigger,
        outcome="queued",
        reason=reason,
        team_id=team_id,
        needs=needs,
        listed=listed,
        record=newly_waiting or trigger == LEAD_TRIGGER,
    )


def _enqueue(
    *, session: Session, ticket: Ticket, team: TeamRouting | None, needs: Needs, reason: str
) -> None:
    """Put the ticket in its team's queue (keeping its place if it already waits there)."""
    now = utcnow()
    team_id = team.team_id if team is not None else None
    entry = session.get(QueuedTicket, ticket.id)
    if entry is None:
        entry = QueuedTicket(ticket_id=ticket.id, enqueued_at=now, overflowed_from=[])
        session.add(entry)
        entry.team_id = None
    if entry.team_id != team_id or entry.state != QueueState.waiting or entry.overflow_at is None:
        entry.overflow_at = overflow_time(team, now)
    entry.team_id = team_id
    entry.state = QueueState.waiting
    entry.route_at = None
    entry.priority_rank = PRIORITY_RANK.get(ticket.priority.value, 1)
    entry.channel = ticket.channel.value
    entry.needs = needs.as_dict()
    entry.reason = reason[:500]
    if team_id is not None and ticket.team_id != team_id:
        # The team sees the ticket in its inbox while it waits.
        tickets.update_ticket(
            session=session, ticket=ticket, changes=TicketUpdate(team_id=team_id), actor=SYSTEM
        )
    session.flush()


def overflow_time(team: TeamRouting | None, start: dt.datetime) -> dt.datetime | None:
    if team is None or team.overflow_team_id is None or not team.overflow_after_minutes:
        return None
    return start + dt.timedelta(minutes=team.overflow_after_minutes)


def decide(
    session: Session,
    ticket: Ticket,
    *,
    trigger: str,
    outcome: str,
    reason: str,
    team_id: int | None = None,
    user_id: int | None = None,
    needs: Needs | None = None,
    listed: list[dict[str, Any]] | None = None,
    record: bool = True,
) -> RoutingDecision:
    """Record why the ticket went where it went (or waits), with the candidates considered (``record``
    False: return the decision without storing it)."""
    decision = RoutingDecision(
        ticket_id=ticket.id,
        trigger=trigger,
        outcome=outcome,
        team_id=team_id,
        user_id=user_id,
        reason=reason,
        needs=needs.as_dict() if needs is not None else {},
        candidates=listed or [],
        created_at=utcnow(),
    )
    if record:
        session.add(decision)
        session.flush()
    return decision


def wait_for_triage(*, session: Session, ticket: Ticket, config: RoutingConfig) -> None:
    """Hold a new ticket for triage (at most ``config.triage_wait``) before routing it."""
    entry = session.get(QueuedTicket, ticket.id)
    if entry is None:
        entry = QueuedTicket(ticket_id=ticket.id, enqueued_at=utcnow(), overflowed_from=[], needs={})
        session.add(entry)
    entry.team_id = ticket.team_id
    entry.state = QueueState.triage
    entry.route_at = utcnow() + config.triage_wait
    entry.priority_rank = PRIORITY_RANK.get(ticket.priority.value, 1)
    entry.channel = ticket.channel.value
    entry.reason = "waiting for triage to say what the ticket needs"
    session.flush()


# -- giving waiting tickets to free agents ---------------------------------------------------------------
def drain_agent(*, session: Session, user_id: int, trigger: str) -> int:
    """Give the agent the most urgent, then oldest, waiting tickets of their teams while they are online
    and have free capacity on the ticket's channel; return how many they got."""
    user = session.get(User, user_id)
    status = status_of(session, user_id)
    if user is None or not user.active or user.role not in ROUTABLE_ROLES:
        return 0
    if status is None or status.status != Availability.online:
        return 0
    team_ids = [t.id for t in user.teams if team_settings(session=session, team_id=t.id).auto_assign]
    given = 0
    while team_ids and given < DRAIN_MAX:
        load = loads(session=session, user_ids=[user_id])[user_id]
        free = [c for c in DEFAULT_CAPACITY if load.get(c, 0) < capacity_of(status, c)]
        if not free:
            break
        query = (
            select(QueuedTicket)
            .where(
                QueuedTicket.team_id.in_(team_ids),
                QueuedTicket.state == QueueState.waiting,
                QueuedTicket.channel.in_(free),
            )
            .order_by(QueuedTicket.priority_rank.desc(), QueuedTicket.enqueued_at, QueuedTicket.ticket_id)
            .limit(1)
        )
        if session.get_bind().dialect.name == "postgresql":
            # Two workers draining at once never hand out the same waiting ticket.
            query = query.with_for_update(skip_locked=True)
        entry = session.scalar(query)
        if entry is None:
            break
        ticket = session.get(Ticket, entry.ticket_id)
        if ticket is None or not ticket.is_open or ticket.assignee_id is not None:
            session.delete(entry)
            session.flush()
            continue
        assert entry.team_id is not None
        team = team_settings(session=session, team_id=entry.team_id)
        needs = Needs(**{k: v for k, v in (entry.needs or {}).items() if k in Needs.__dataclass_fields__})
        needs.channel = entry.channel
        waited = int((utcnow() - entry.enqueued_at).total_seconds())
        _assign(session=session, ticket=ticket, team=team, user_id=user_id)
        decide(
            session,
            ticket,
            trigger=trigger,
            outcome="assigned",
            reason=f"{user.name} became free and this was the most urgent, longest waiting ticket they "
            f"can take (waited {waited // 60} min)",
            team_id=team.team_id,
            user_id=user_id,
            needs=needs,
        )
        given += 1
    return given


def drain_team(*, session: Session, team_id: int, trigger: str) -> int:
    """Try again to assign every waiting ticket of the team, most urgent and oldest first; return how many
    were assigned."""
    entries = session.scalars(
        select(QueuedTicket.ticket_id)
        .where(QueuedTicket.team_id == team_id, QueuedTicket.state == QueueState.waiting)
        .order_by(QueuedTicket.priority_rank.desc(), QueuedTicket.enqueued_at, QueuedTicket.ticket_id)
        .limit(DRAIN_MAX)
    ).all()
    assigned = 0
    for ticket_id in entries:
        decision = route(session=session, ticket_id=ticket_id, trigger=trigger)
        if decision is not None and decision.outcome == "assigned":
            assigned += 1
    return assigned
