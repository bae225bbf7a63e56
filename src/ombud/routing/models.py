"""Routing tables: agents' skills, availability and capacity, teams' routing settings, the queue of
tickets waiting for an agent, and the record of every routing decision."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import Boolean, Enum, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ombud.storage.base import Base, Id, Json, UTCDateTime, utcnow


class SkillKind(enum.StrEnum):
    intent = "intent"
    language = "language"
    product = "product"
    channel = "channel"


class Availability(enum.StrEnum):
    online = "online"
    away = "away"
    on_break = "break"
    offline = "offline"


class QueueState(enum.StrEnum):
    triage = "triage"  # a new ticket waits (briefly) for triage to say what it needs
    waiting = "waiting"  # nobody in the team is free: it waits for the first one who is


def _enum(cls: type[enum.Enum]) -> Enum:
    return Enum(cls, native_enum=False, length=20, validate_strings=True, values_callable=_values)


def _values(cls: type[enum.Enum]) -> list[str]:
    return [str(member.value) for member in cls]


class AgentSkill(Base):
    __tablename__ = "agent_skills"

    user_id: Mapped[int] = mapped_column(Id, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    kind: Mapped[SkillKind] = mapped_column(_enum(SkillKind), primary_key=True)
    value: Mapped[str] = mapped_column(String(100), primary_key=True)
    # 1 (can help) .. 5 (expert): a better level wins among agents who otherwise match as well.
    level: Mapped[int] = mapped_column(Integer, default=3)


class AgentStatus(Base):
    """An agent's availability and capacity per channel; no row means offline with the default capacity."""

    __tablename__ = "agent_status"
    __table_args__ = (
        # The sweep's question: whose break is over?
        Index("ix_agent_status_break_until", "break_until"),
    )

    user_id: Mapped[int] = mapped_column(Id, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    status: Mapped[Availability] = mapped_column(_enum(Availability), default=Availability.offline)
    # When a break ends by itself (the agent is back online then); NULL for an open-ended break.
    break_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # {channel: how many active tickets at once}; a channel not listed has the default capacity.
    capacity: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    changed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class TeamRouting(Base):
    """How a team takes tickets: its rules (which tickets), automatic assignment on or off, overflow, and
    who got the last ticket (the round-robin pointer)."""

    __tablename__ = "team_routing"

    team_id: Mapped[int] = mapped_column(Id, ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True)
    # {"channels": [...], "intents": [...], "languages": [...], "tiers": [...], "products": [...]}; an
    # empty or missing list means any, so {} takes what no other team takes. NULL: the team takes no new
    # tickets by rules (only those given to it by a person or by overflow).
    rules: Mapped[dict[str, Any] | None] = mapped_column(Json)
    # Lower first when two teams' rules match a ticket equally well.
    position: Mapped[int] = mapped_column(Integer, default=100)
    auto_assign: Mapped[bool] = mapped_column(Boolean, default=True)
    overflow_team_id: Mapped[int | None] = mapped_column(Id, ForeignKey("teams.id", ondelete="SET NULL"))
    overflow_after_minutes: Mapped[int | None] = mapped_column(Integer)
    last_assigned_user_id: Mapped[int | None] = mapped_column(Id, ForeignKey("users.id", ondelete="SET NULL"))
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class QueuedTicket(Base):
    """A ticket waiting for an agent, in its team's queue (team NULL: no team's rules take it)."""

    __tablename__ = "routing_queue"
    __table_args__ = (
        # The drain's question: the most urgent, then the oldest, waiting ticket of a team.
        Index("ix_routing_queue_team_id_rank", "team_id", "priority_rank", "enqueued_at"),
        # The sweep's questions: whose wait for triage is over, which tickets overflow now?
        Index("ix_routing_queue_route_at", "route_at"),
        Index("ix_routing_queue_overflow_at", "overflow_at"),
    )

    ticket_id: Mapped[int] = mapped_column(Id, ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True)
    team_id: Mapped[int | None] = mapped_column(Id, ForeignKey("teams.id", ondelete="CASCADE"))
    state: Mapped[QueueState] = mapped_column(_enum(QueueState), default=QueueState.waiting)
    # The ticket's priority as a number (urgent 3 .. low 0): higher is served first.
    priority_rank: Mapped[int] = mapped_column(Integer, default=1)
    channel: Mapped[str] = mapped_column(String(20))
    # What the ticket needs: {"intents": [...], "language": "en", "products": [...], "tier": "gold"}.
    needs: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    reason: Mapped[str] = mapped_column(String(500), default="")
    enqueued_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Route now even without triage (set while state is triage).
    route_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # Move to the team's overflow team (set while waiting in a team that has one).
    overflow_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # Teams it overflowed from, so a ring of overflow teams stops instead of cycling.
    overflowed_from: Mapped[list[int]] = mapped_column(Json, default=list)


class RoutingDecision(Base):
    """Why a ticket went where it went: the team, the agent or the queue, and every candidate considered."""

    __tablename__ = "routing_decisions"
    __table_args__ = (
        Index("ix_routing_decisions_ticket_id_id", "ticket_id", "id"),
        # Fair routing of hard tickets reads each candidate's latest assignments (ombud.people.load).
        Index("ix_routing_decisions_user_id_id", "user_id", "id"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(Id, ForeignKey("tickets.id", ondelete="CASCADE"))
    trigger: Mapped[str] = mapped_column(String(100))
    # assigned | queued | overflowed | manual | skipped
    outcome: Mapped[str] = mapped_column(String(20))
    team_id: Mapped[int | None] = mapped_column(Id, ForeignKey("teams.id", ondelete="SET NULL"))
    user_id: Mapped[int | None] = mapped_column(Id, ForeignKey("users.id", ondelete="SET NULL"))
    reason: Mapped[str] = mapped_column(Text)
    needs: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    # [{"user_id", "name", "status", "load", "capacity", "score", "eligible", "why"}...]
    candidates: Mapped[list[dict[str, Any]]] = mapped_column(Json, default=list)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
