"""Tables of triage: each customer message's result, agents' corrections, the live intent model and the
product catalogue that entity recognition looks for."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ombud.storage.base import Base, Id, Json, UTCDateTime, utcnow


class MessageTriage(Base):
    __tablename__ = "message_triage"
    __table_args__ = (Index("ix_message_triage_ticket_id", "ticket_id"),)

    message_id: Mapped[int] = mapped_column(
        Id, ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True
    )
    ticket_id: Mapped[int] = mapped_column(Id, ForeignKey("tickets.id", ondelete="CASCADE"))
    customer_id: Mapped[int] = mapped_column(Id, ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    result: Mapped[dict[str, Any]] = mapped_column(Json)
    # Copied out of the result so routing, reports and advocacy can filter on them with an index.
    intents: Mapped[list[str]] = mapped_column(Json, default=list)
    language: Mapped[str | None] = mapped_column(String(10))
    urgency: Mapped[str] = mapped_column(String(10))
    frustration: Mapped[float] = mapped_column(Float)
    sentiment: Mapped[float] = mapped_column(Float)
    abusive: Mapped[bool] = mapped_column(Boolean)
    out_of_scope: Mapped[bool] = mapped_column(Boolean)
    intent_model: Mapped[str] = mapped_column(String(80))
    # When the message was written: history windows count from here, not from when triage ran.
    message_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class TriageCorrection(Base):
    """An agent's correction of one triage answer; ``ombud triage train`` learns from the intent ones."""

    __tablename__ = "triage_corrections"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    message_id: Mapped[int] = mapped_column(Id, ForeignKey("messages.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int | None] = mapped_column(Id, ForeignKey("users.id", ondelete="SET NULL"))
    field: Mapped[str] = mapped_column(String(20))
    concern_index: Mapped[int | None] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    before: Mapped[Any] = mapped_column(Json, nullable=True)
    after: Mapped[Any] = mapped_column(Json)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class IntentModel(Base):
    """A trained intent model, stored in the database so every server and worker can load the live one."""

    __tablename__ = "intent_models"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    version: Mapped[str] = mapped_column(String(80), unique=True)
    active: Mapped[bool] = mapped_column(Boolean, default=False)
    labels: Mapped[int] = mapped_column(Integer)
    meta: Mapped[dict[str, Any]] = mapped_column(Json)
    archive: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class CatalogueItem(Base):
    __tablename__ = "catalogue_items"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
