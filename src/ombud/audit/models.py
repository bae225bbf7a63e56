"""The audit trail: one event for every change, with who, what, before/after and when."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from ombud.storage.base import Base, Id, Json, UTCDateTime, utcnow


class AuditEvent(Base):
    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_customer_id_created_at", "customer_id", "created_at"),
        Index("ix_audit_events_entity", "entity_type", "entity_id"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor_type: Mapped[str] = mapped_column(String(20))  # user | customer | system
    actor_id: Mapped[int | None] = mapped_column(Id)
    action: Mapped[str] = mapped_column(String(100))  # e.g. ticket.created, ticket.updated
    entity_type: Mapped[str] = mapped_column(String(50))
    entity_id: Mapped[int] = mapped_column(Id)
    # Which customer's timeline shows this event (None for events about staff, teams, settings).
    customer_id: Mapped[int | None] = mapped_column(Id)
    ticket_id: Mapped[int | None] = mapped_column(Id, index=True)
    before: Mapped[dict[str, Any] | None] = mapped_column(Json)
    after: Mapped[dict[str, Any] | None] = mapped_column(Json)
