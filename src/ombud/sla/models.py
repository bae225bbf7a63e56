"""Business calendars, SLA policies and the per-ticket SLA state (one clock per ticket per metric)."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from ombud.storage.base import Base, Id, Json, UTCDateTime, utcnow


class Metric(enum.StrEnum):
    first_response = "first_response"
    next_response = "next_response"
    resolution = "resolution"


class ClockState(enum.StrEnum):
    running = "running"  # counting business time towards due_at
    paused = "paused"  # the ticket is in a status the policy pauses in: no due_at, time does not count
    achieved = "achieved"  # the target was met (or missed: breached_at says so) and the clock stopped
    idle = "idle"  # next response: waiting for the customer's next message after an agent reply


class Calendar(Base):
    """Business hours: a time zone, weekly hours and holidays."""

    __tablename__ = "sla_calendars"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    time_zone: Mapped[str] = mapped_column(String(64))
    # {"mon": [["09:00", "17:30"]], ...}: weekdays without an entry are closed.
    hours: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    # [{"date": "2026-12-25", "name": "Christmas Day"}]
    holidays: Mapped[list[dict[str, Any]]] = mapped_column(Json, default=list)
    # The calendar of tickets whose team has none (at most one; without one the clock runs 24/7 in UTC).
    is_default: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class TeamCalendar(Base):
    """Which calendar a team works by."""

    __tablename__ = "sla_team_calendars"

    team_id: Mapped[int] = mapped_column(Id, ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True)
    calendar_id: Mapped[int] = mapped_column(Id, ForeignKey("sla_calendars.id", ondelete="CASCADE"))


class Policy(Base):
    """Targets for the tickets its conditions match; the first matching policy (by position) wins."""

    __tablename__ = "sla_policies"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    position: Mapped[int] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"))
    # {"channels": [...], "tiers": [...], "priorities": [...], "intents": [...], "team_ids": [...]}:
    # every non-empty list must contain the ticket's value (intents: any of the ticket's intents).
    conditions: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    # Targets in business minutes; None: the policy sets no target for that metric.
    first_response_minutes: Mapped[int | None] = mapped_column(Integer)
    next_response_minutes: Mapped[int | None] = mapped_column(Integer)
    resolution_minutes: Mapped[int | None] = mapped_column(Integer)
    paused_statuses: Mapped[list[str]] = mapped_column(Json, default=list)
    # Warn this many business minutes before the target, or at this fraction of it (the earlier wins).
    warn_before_minutes: Mapped[int | None] = mapped_column(Integer)
    warn_fraction: Mapped[float | None] = mapped_column(Float)
    # {"notify": bool, "raise_priority": bool, "team_id": int | None, "unassign": bool}
    escalation: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class TicketSla(Base):
    """A ticket's SLA facts: its policy and calendar, what triage found, since when the customer waits,
    and when the sweep must look at it next (a warning, a breach, or its inbox points changing)."""

    __tablename__ = "sla_tickets"
    __table_args__ = (Index("ix_sla_tickets_next_check_at", "next_check_at"),)

    ticket_id: Mapped[int] = mapped_column(Id, ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True)
    policy_id: Mapped[int | None] = mapped_column(Id, ForeignKey("sla_policies.id", ondelete="SET NULL"))
    calendar_id: Mapped[int | None] = mapped_column(Id, ForeignKey("sla_calendars.id", ondelete="SET NULL"))
    intents: Mapped[list[str]] = mapped_column(Json, default=list)
    # The customer's first message after the last public agent reply (None: nobody waits for us).
    waiting_since: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # The next instant the inbox points change (an SLA or waiting bucket boundary).
    rerank_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # min(rerank_at, the next warning or breach): what the sweep looks for.
    next_check_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # Set when the policies or calendars changed: the next check re-evaluates which policy applies.
    stale: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Clock(Base):
    """One SLA metric of one ticket; business time counts while it runs."""

    __tablename__ = "sla_clocks"
    __table_args__ = (UniqueConstraint("ticket_id", "metric"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(Id, ForeignKey("tickets.id", ondelete="CASCADE"))
    metric: Mapped[str] = mapped_column(String(20))
    state: Mapped[str] = mapped_column(String(20))
    target_minutes: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    # Business seconds counted up to counted_at (time paused or outside hours does not count).
    elapsed_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    counted_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    due_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    warn_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    warned_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    breached_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    achieved_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
