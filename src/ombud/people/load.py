"""Emotional load: the hard customer messages an agent had to take, recorded from the workflow events, and
each agent's standing read from them.

A hard contact is a customer message triage marked abusive (kind ``hostile``) or with a frustration of at
least ``HARD_FRUSTRATION`` (kind ``frustrated``) on a ticket assigned to the agent: when it arrives, or when
the ticket is given to them (the latest hard customer message of the ticket). At most one row per agent and
message, so an event seen twice records nothing new.

The emotional load (0..100) over the last ``WINDOW`` (8 hours)::

    raw  = sum(weight(kind) * (1 - age / WINDOW))   for every hard contact younger than WINDOW
    load = min(100, round(100 * raw / SATURATION))

with weight 3 for hostile and 1 for frustrated, so a contact weighs its full weight when it arrives and
nothing 8 hours later; ``SATURATION`` (12) is four fresh hostile conversations (or twelve fresh frustrated
ones) — a full load.

``hostile_in_a_row``: how many of the tickets most recently given to the agent (by routing or by a person:
the routing decisions ``assigned`` and ``manual`` naming them, newest first) were hostile for them, counted
from the newest until the first one that was not. A ticket is hostile for the agent when a hostile contact
of theirs is on it. Reading the assignments rather than the hard contacts alone is what makes a calm ticket
in between break the run.

These figures are personal: only the agent and a lead who shares a team with them may see them
(:mod:`ombud.people.access`); routing uses them without ever showing them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from ombud.events.service import EventRecord
from ombud.people.models import HardContact, HardKind, TeamWellbeing
from ombud.routing.models import RoutingDecision
from ombud.storage.base import utcnow
from ombud.tickets.models import AuthorType, Message, Ticket
from ombud.triage import service as triage

HARD_FRUSTRATION = 0.7
WINDOW = dt.timedelta(hours=8)
WEIGHTS = {HardKind.hostile: 3.0, HardKind.frustrated: 1.0}
SATURATION = 12.0
# How far back the run of hostile assignments is read (a longer run is reported as this many).
RUN_LOOKBACK = 20
HIGH_LOAD = 60
ASSIGNED_OUTCOMES = ("assigned", "manual")
# A team without a well-being policy: calmer tickets first after this many hostile ones in a row.
DEFAULT_MAX_HOSTILE_IN_A_ROW = 2


@dataclass(frozen=True)
class Standing:
    """One agent's emotional load now, and the hard conversations behind it."""

    user_id: int
    load: int  # 0..100
    hostile_recent: int  # hostile contacts in the last WINDOW
    frustrated_recent: int  # frustrated contacts in the last WINDOW
    hostile_in_a_row: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "user_id": self.user_id,
            "load": self.load,
            "hostile_recent": self.hostile_recent,
            "frustrated_recent": self.frustrated_recent,
            "hostile_in_a_row": self.hostile_in_a_row,
        }


def kind_of(result: dict[str, Any] | None) -> HardKind | None:
    """Return the hard kind of a triage result or a message.triaged payload (None: not hard)."""
    if not result:
        return None
    if result.get("abusive"):
        return HardKind.hostile
    frustration = result.get("frustration")
    if isinstance(frustration, int | float) and frustration >= HARD_FRUSTRATION:
        return HardKind.frustrated
    return None


def load_of(contacts: Sequence[tuple[HardKind, dt.datetime]], now: dt.datetime) -> int:
    """Return the emotional load (0..100) of hard contacts given as (kind, when)."""
    raw = 0.0
    for kind, at in contacts:
        age = now - _aware(at)
        if dt.timedelta(0) <= age < WINDOW:
            raw += WEIGHTS[kind] * (1 - age / WINDOW)
    return min(100, round(100 * raw / SATURATION))


def _aware(at: dt.datetime) -> dt.datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=dt.UTC)


def max_hostile_in_a_row(*, session: Session, team_id: int | None) -> int:
    """The team's limit (its well-being policy, or the default): routing gives an agent who has had this
    many hostile tickets in a row calmer ones first."""
    row = session.get(TeamWellbeing, team_id) if team_id is not None else None
    return row.max_hostile_in_a_row if row is not None else DEFAULT_MAX_HOSTILE_IN_A_ROW


# -- recording ----------------------------------------------------------------------------------------------
def latest_hard_message(*, session: Session, ticket_id: int) -> tuple[int, HardKind, float] | None:
    """Return (message id, kind, frustration) of the ticket's latest customer message when it is hard."""
    message_id = session.scalar(
        select(Message.id)
        .where(
            Message.ticket_id == ticket_id,
            Message.author_type == AuthorType.customer,
            Message.internal.is_(False),
        )
        .order_by(Message.id.desc())
        .limit(1)
    )
    if message_id is None:
        return None
    result = triage.results_for(session=session, message_ids=[message_id]).get(message_id)
    kind = kind_of(result)
    if kind is None or result is None:
        return None
    return message_id, kind, float(result.get("frustration") or 0.0)


def ticket_hardness(
    *, session: Session, ticket_id: int, triaged: dict[str, Any] | None = None
) -> HardKind | None:
    """Return how hard the ticket is now: from ``triaged`` (a message.triaged payload) when given, else from
    the stored triage of its latest customer message."""
    if triaged is not None:
        return kind_of(triaged)
    found = latest_hard_message(session=session, ticket_id=ticket_id)
    return found[1] if found else None


def record(
    *,
    session: Session,
    user_id: int,
    ticket_id: int,
    message_id: int,
    kind: HardKind,
    frustration: float,
    at: dt.datetime | None = None,
) -> HardContact | None:
    """Record a hard contact once per agent and message; return it (None: it was recorded before)."""
    exists = session.scalar(
        select(HardContact.id).where(HardContact.user_id == user_id, HardContact.message_id == message_id)
    )
    if exists is not None:
        return None
    row = HardContact(
        user_id=user_id,
        ticket_id=ticket_id,
        message_id=message_id,
        kind=kind,
        frustration=frustration,
        at=at or utcnow(),
    )
    session.add(row)
    session.flush()
    return row


def on_event(*, session: Session, event: EventRecord) -> None:
    """The workflow consumer "people": record hard contacts as messages are triaged and tickets change
    hands (then offer a recovery break where one is due: :mod:`ombud.people.wellbeing`)."""
    if event.ticket_id is None:
        return
    if event.kind == "message.triaged":
        _triaged(session, event)
    elif event.kind == "ticket.updated":
        after: dict[str, Any] = event.payload.get("after") or {}
        if after.get("assignee_id") is not None:
            _reassigned(session, event.ticket_id, int(after["assignee_id"]))


def _triaged(session: Session, event: EventRecord) -> None:
    assert event.ticket_id is not None
    kind = kind_of(event.payload)
    ticket = session.get(Ticket, event.ticket_id)
    message = session.get(Message, event.entity_id)
    if kind is None or ticket is None or ticket.assignee_id is None or message is None:
        return
    if message.author_type != AuthorType.customer:
        return
    record(
        session=session,
        user_id=ticket.assignee_id,
        ticket_id=ticket.id,
        message_id=message.id,
        kind=kind,
        frustration=float(event.payload.get("frustration") or 0.0),
    )


def _reassigned(session: Session, ticket_id: int, user_id: int) -> None:
    found = latest_hard_message(session=session, ticket_id=ticket_id)
    if found is None:
        return
    message_id, kind, frustration = found
    record(
        session=session,
        user_id=user_id,
        ticket_id=ticket_id,
        message_id=message_id,
        kind=kind,
        frustration=frustration,
    )


# -- reading ------------------------------------------------------------------------------------------------
def standing(
    *, session: Session, user_ids: Sequence[int], now: dt.datetime | None = None
) -> dict[int, Standing]:
    """Return each agent's emotional load, recent hard contacts and hostile run (see the module's text)."""
    now = now or utcnow()
    ids = sorted(set(user_ids))
    if not ids:
        return {}
    contacts: dict[int, list[tuple[HardKind, dt.datetime]]] = {uid: [] for uid in ids}
    rows = session.execute(
        select(HardContact.user_id, HardContact.kind, HardContact.at).where(
            HardContact.user_id.in_(ids), HardContact.at > now - WINDOW
        )
    ).all()
    for user_id, kind, at in rows:
        contacts[int(user_id)].append((kind, at))
    runs = hostile_runs(session=session, user_ids=ids)
    return {
        uid: Standing(
            user_id=uid,
            load=load_of(contacts[uid], now),
            hostile_recent=sum(1 for kind, _ in contacts[uid] if kind == HardKind.hostile),
            frustrated_recent=sum(1 for kind, _ in contacts[uid] if kind == HardKind.frustrated),
            hostile_in_a_row=runs[uid],
        )
        for uid in ids
    }


def hostile_runs(*, session: Session, user_ids: Sequence[int]) -> dict[int, int]:
    """Return, per agent, how many of the tickets most recently given to them in a row were hostile."""
    out = dict.fromkeys(user_ids, 0)
    for user_id in user_ids:
        recent = session.execute(
            select(RoutingDecision.ticket_id, func.max(RoutingDecision.id).label("last"))
            .where(RoutingDecision.user_id == user_id, RoutingDecision.outcome.in_(ASSIGNED_OUTCOMES))
            .group_by(RoutingDecision.ticket_id)
            .order_by(func.max(RoutingDecision.id).desc())
            .limit(RUN_LOOKBACK)
        ).all()
        ticket_ids = [int(r[0]) for r in recent]
        if not ticket_ids:
            continue
        hostile = set(
            session.scalars(
                select(HardContact.ticket_id).where(
                    and_(
                        HardContact.user_id == user_id,
                        HardContact.kind == HardKind.hostile,
                        HardContact.ticket_id.in_(ticket_ids),
                    )
                )
            ).all()
        )
        run = 0
        for ticket_id in ticket_ids:
            if ticket_id not in hostile:
                break
            run += 1
        out[user_id] = run
    return out


def contacts_of(*, session: Session, user_id: int, now: dt.datetime | None = None) -> Sequence[HardContact]:
    """Return the agent's hard contacts of the last WINDOW, newest first (for the agent's own page)."""
    now = now or utcnow()
    return session.scalars(
        select(HardContact)
        .where(HardContact.user_id == user_id, HardContact.at > now - WINDOW)
        .order_by(HardContact.at.desc(), HardContact.id.desc())
    ).all()
