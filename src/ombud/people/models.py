"""Tables of the people domain: hard contacts (the emotional load), team well-being policies and recovery
breaks, help requests, reply-check records and development goals.

The training tables (scenarios, sessions, turns) are in :mod:`ombud.people.training_models`.
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import Enum, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ombud.storage.base import Base, Id, Json, UTCDateTime, utcnow


def _enum(kind: type[enum.Enum]) -> Enum:
    return Enum(kind, native_enum=False, length=20)


class HardKind(enum.StrEnum):
    hostile = "hostile"  # triage marked the customer's message abusive
    frustrated = "frustrated"  # frustration at or above the load threshold, not abusive


class HardContact(Base):
    """One hard customer message an agent had to take: an abusive or highly frustrated message on a ticket
    assigned to them (when it arrived, or when the ticket was given to them). The emotional load is read
    from these rows, weighted by kind and by how long ago."""

    __tablename__ = "people_hard_contacts"
    __table_args__ = (
        UniqueConstraint("user_id", "message_id"),
        Index("ix_people_hard_contacts_user_at", "user_id", "at"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    user_id: Mapped[int] = mapped_column(Id, ForeignKey("users.id", ondelete="CASCADE"))
    ticket_id: Mapped[int] = mapped_column(Id, ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    message_id: Mapped[int] = mapped_column(Id, ForeignKey("messages.id", ondelete="CASCADE"))
    kind: Mapped[HardKind] = mapped_column(_enum(HardKind))
    frustration: Mapped[float] = mapped_column(Float, default=0.0)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class RecoveryMode(enum.StrEnum):
    off = "off"
    offer = "offer"  # the agent is offered a break and chooses
    schedule = "schedule"  # the break starts by itself (team policy)


class TeamWellbeing(Base):
    """A team's well-being policy; no row means the defaults (offer a 10-minute break, at most 2 hostile
    conversations in a row)."""

    __tablename__ = "people_team_policies"

    team_id: Mapped[int] = mapped_column(Id, ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True)
    recovery_mode: Mapped[RecoveryMode] = mapped_column(_enum(RecoveryMode), default=RecoveryMode.offer)
    recovery_minutes: Mapped[int] = mapped_column(Integer, default=10)
    # Routing avoids giving an agent another hostile conversation once this many came in a row.
    max_hostile_in_a_row: Mapped[int] = mapped_column(Integer, default=2)
    updated_by_id: Mapped[int | None] = mapped_column(Id, ForeignKey("users.id", ondelete="SET NULL"))
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class BreakState(enum.StrEnum):
    offered = "offered"
    taken = "taken"
    declined = "declined"
    scheduled = "scheduled"  # started by the team's policy, not by the agent
    expired = "expired"  # an offer nobody answered in time


class RecoveryBreak(Base):
    """A recovery break offered (or scheduled) after an abusive conversation; at most one per agent and
    ticket."""

    __tablename__ = "people_recovery_breaks"
    __table_args__ = (
        UniqueConstraint("user_id", "ticket_id"),
        Index("ix_people_recovery_breaks_user_state", "user_id", "state"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    user_id: Mapped[int] = mapped_column(Id, ForeignKey("users.id", ondelete="CASCADE"))
    ticket_id: Mapped[int | None] = mapped_column(Id, ForeignKey("tickets.id", ondelete="SET NULL"))
    state: Mapped[BreakState] = mapped_column(_enum(BreakState), default=BreakState.offered)
    minutes: Mapped[int] = mapped_column(Integer, default=10)
    reason: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    answered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    ends_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class HelpState(enum.StrEnum):
    open = "open"
    resolved = "resolved"
    cancelled = "cancelled"


class HelpRequest(Base):
    """An agent asks teammates for help on a ticket: a named colleague, or everyone in a team."""

    __tablename__ = "people_help_requests"
    __table_args__ = (Index("ix_people_help_requests_state", "state", "created_at"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(Id, ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    requester_id: Mapped[int] = mapped_column(Id, ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # Who is asked: one colleague, or a team (both NULL: the requester's teams).
    asked_user_id: Mapped[int | None] = mapped_column(Id, ForeignKey("users.id", ondelete="SET NULL"))
    asked_team_id: Mapped[int | None] = mapped_column(Id, ForeignKey("teams.id", ondelete="SET NULL"))
    question: Mapped[str] = mapped_column(Text)
    state: Mapped[HelpState] = mapped_column(_enum(HelpState), default=HelpState.open)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    closed_by_id: Mapped[int | None] = mapped_column(Id, ForeignKey("users.id", ondelete="SET NULL"))


class HelpHelper(Base):
    """A teammate who joined a help request (their notes are internal notes on the ticket)."""

    __tablename__ = "people_help_helpers"

    request_id: Mapped[int] = mapped_column(
        Id, ForeignKey("people_help_requests.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(Id, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    joined_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class ReplyCheckRecord(Base):
    """The reply check of one public reply an agent sent (run after it was sent), the evidence for goals
    such as "fewer jargon findings"."""

    __tablename__ = "people_reply_checks"
    __table_args__ = (Index("ix_people_reply_checks_user_at", "user_id", "created_at"),)

    message_id: Mapped[int] = mapped_column(
        Id, ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(Id, ForeignKey("users.id", ondelete="CASCADE"))
    ticket_id: Mapped[int] = mapped_column(Id, ForeignKey("tickets.id", ondelete="CASCADE"))
    # The finding codes (one entry per finding: "jargon", "negative", "readability"...).
    findings: Mapped[list[str]] = mapped_column(Json, default=list)
    grade: Mapped[float | None] = mapped_column(Float)
    words: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class GoalKind(enum.StrEnum):
    finding = "finding"  # fewer reply-check findings of one code (target: {"code", "max_rate"})
    product = "product"  # grow in one product (target: {"product"}): tickets, CSAT and training on it
    csat = "csat"  # satisfaction on their tickets (target: {"min_score"})
    training = "training"  # role-play results (target: {"min_score", "persona"?})


class GoalState(enum.StrEnum):
    active = "active"
    achieved = "achieved"
    archived = "archived"


class Goal(Base):
    """A personal development goal, seen only by the agent and their lead."""

    __tablename__ = "people_goals"
    __table_args__ = (Index("ix_people_goals_user_state", "user_id", "state"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    user_id: Mapped[int] = mapped_column(Id, ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[GoalKind] = mapped_column(_enum(GoalKind))
    title: Mapped[str] = mapped_column(String(200))
    target: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    # Where the agent stood when the goal was set (the same figures progress is measured with).
    baseline: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    state: Mapped[GoalState] = mapped_column(_enum(GoalState), default=GoalState.active)
    due_on: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_by_id: Mapped[int | None] = mapped_column(Id, ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
