"""Automation rules, their run log, each ticket's time-rule clock and the chain guard."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ombud.storage.base import Base, Id, Json, UTCDateTime, utcnow


class AutomationRule(Base):
    __tablename__ = "automation_rules"
    __table_args__ = (Index("ix_automation_rules_position", "position", "id"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    # Rules run in this order (lower first); ties by id.
    position: Mapped[int] = mapped_column(Integer, default=0)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # "event": runs when one of ``events`` happens; "time": runs when ``hours`` have passed since ``since``.
    trigger: Mapped[str] = mapped_column(String(10))
    events: Mapped[list[str]] = mapped_column(Json, default=list)
    since: Mapped[str | None] = mapped_column(String(30))
    hours: Mapped[float | None] = mapped_column(Float)
    # {"all": [...]} or {"any": [...]} of {"field", "op", "value"} conditions and nested groups.
    conditions: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    # [{"type": "set_status", "value": "solved"}, ...], applied in order.
    actions: Mapped[list[dict[str, Any]]] = mapped_column(Json, default=list)
    created_by_id: Mapped[int | None] = mapped_column(Id, ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class AutomationRun(Base):
    """One firing of a rule on a ticket: what it did, or why it could not."""

    __tablename__ = "automation_runs"
    __table_args__ = (
        Index("ix_automation_runs_rule_id_id", "rule_id", "id"),
        Index("ix_automation_runs_ticket_id_id", "ticket_id", "id"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    rule_id: Mapped[int] = mapped_column(Id, ForeignKey("automation_rules.id", ondelete="CASCADE"))
    # No foreign key, like the audit trail: the log outlives what it describes.
    ticket_id: Mapped[int] = mapped_column(Id)
    event_id: Mapped[int | None] = mapped_column(Id)
    event_kind: Mapped[str] = mapped_column(String(100))
    # "event:<event id>" or "<since>:<time it started>": a rule fires at most once per ticket per period.
    period: Mapped[str] = mapped_column(String(100))
    applied: Mapped[list[dict[str, Any]]] = mapped_column(Json, default=list)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class AutomationClock(Base):
    """A ticket's time-rule clock: when its status last changed, when each side last wrote, and when a time
    rule could next fire (the sweep reads only ``due_at``, never all tickets)."""

    __tablename__ = "automation_clocks"
    __table_args__ = (Index("ix_automation_clocks_due_at", "due_at"),)

    ticket_id: Mapped[int] = mapped_column(Id, ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    status_changed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    customer_message_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    agent_reply_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # When the time rules were last evaluated; a change to the ticket clears it so that rules whose time
    # has passed but whose conditions did not hold are looked at again.
    checked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    due_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class AutomationOrigin(Base):
    """Events caused by automations, each with the outside change its cascade started from (the root event)
    and the rule that caused it: in one cascade a rule fires at most once (so its own changes never trigger
    it again) and at most MAX_DEPTH rules fire in all."""

    __tablename__ = "automation_origins"
    __table_args__ = (Index("ix_automation_origins_root_event_id", "root_event_id"),)

    event_id: Mapped[int] = mapped_column(Id, primary_key=True)
    root_event_id: Mapped[int] = mapped_column(Id)
    rule_id: Mapped[int] = mapped_column(Id)
