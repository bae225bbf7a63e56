"""Tables of the role-play trainer: scenarios built from the company's own tickets (anonymised), training
sessions and their turns."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import Boolean, Enum, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ombud.storage.base import Base, Id, Json, UTCDateTime, utcnow


def _enum(kind: type[enum.Enum]) -> Enum:
    return Enum(kind, native_enum=False, length=20)


class Persona(enum.StrEnum):
    angry = "angry"
    confused = "confused"
    vague = "vague"  # vague, with several concerns
    pushy = "pushy"  # pushes for a bigger concession


class Scenario(Base):
    """A practice conversation built from a resolved or escalated ticket. Everything personal in it was
    replaced consistently (the same real name is the same fake name throughout); the source ticket is kept
    only for staff to trace where it came from, and is never shown to the trainee."""

    __tablename__ = "training_scenarios"
    __table_args__ = (Index("ix_training_scenarios_active", "active", "created_at"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    persona: Mapped[Persona] = mapped_column(_enum(Persona))
    source_ticket_id: Mapped[int | None] = mapped_column(Id, ForeignKey("tickets.id", ondelete="SET NULL"))
    # An open advocacy case the scenario prepares for ("practise explaining the outage credit").
    advocacy_case_id: Mapped[int | None] = mapped_column(
        Id, ForeignKey("advocacy_cases.id", ondelete="SET NULL")
    )
    intent: Mapped[str | None] = mapped_column(String(100))
    product: Mapped[str | None] = mapped_column(String(100))
    language: Mapped[str] = mapped_column(String(10), default="en")
    customer_name: Mapped[str] = mapped_column(String(200))
    # The anonymised customer messages of the ticket, in order: [{"body": str}], the first one opens.
    messages: Mapped[list[dict[str, Any]]] = mapped_column(Json, default=list)
    # The concerns the trainee must address: [{"text": str, "intent": str | None}].
    concerns: Mapped[list[dict[str, Any]]] = mapped_column(Json, default=list)
    # The known right outcome: {"article_ids": [...], "article_titles": [...], "resolution": {"kind",
    # "amount_minor", "currency"} | None, "notes": str}.
    expected: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    # The consistent replacements' kinds and counts (never the real values): {"name": 2, "email": 1...}.
    replaced: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by_id: Mapped[int | None] = mapped_column(Id, ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class SessionState(enum.StrEnum):
    active = "active"
    finished = "finished"
    abandoned = "abandoned"


class TrainingSession(Base):
    """One trainee's run through a scenario. Nothing in it is ever sent to anyone."""

    __tablename__ = "training_sessions"
    __table_args__ = (Index("ix_training_sessions_user_started", "user_id", "started_at"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    scenario_id: Mapped[int] = mapped_column(Id, ForeignKey("training_scenarios.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(Id, ForeignKey("users.id", ondelete="CASCADE"))
    state: Mapped[SessionState] = mapped_column(_enum(SessionState), default=SessionState.active)
    # "rules" (the built-in simulated customer) or "llm" (an OpenAI-compatible endpoint plays it).
    mode: Mapped[str] = mapped_column(String(10), default="rules")
    # The simulated customer's frustration now, 0..1.
    frustration: Mapped[float] = mapped_column(Float, default=0.5)
    # Where the customer is in the ticket's real messages (the next one to use).
    script_position: Mapped[int] = mapped_column(Integer, default=1)
    # The final scores: {"overall", "reply_check", "resolution", "policy", "deescalation", "feedback"}.
    score: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class TrainingTurn(Base):
    """One turn: the simulated customer's message or the trainee's reply with its feedback."""

    __tablename__ = "training_turns"
    __table_args__ = (UniqueConstraint("session_id", "position"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    session_id: Mapped[int] = mapped_column(Id, ForeignKey("training_sessions.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    role: Mapped[str] = mapped_column(String(10))  # "customer" or "trainee"
    body: Mapped[str] = mapped_column(Text)
    frustration: Mapped[float] = mapped_column(Float, default=0.5)  # the customer's, after this turn
    # For a trainee turn: {"findings": [...], "grade", "addressed": [...], "missed": [...], "policy": ...,
    # "notes": [...]}.
    feedback: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
