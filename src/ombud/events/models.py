"""The event outbox: every change workflow consumers react to (SLA clocks, routing, automations, reports,
webhooks), written in the transaction of the change and dispatched by a job after it commits."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from ombud.storage.base import Base, Id, Json, UTCDateTime, utcnow


class Event(Base):
    __tablename__ = "events"
    __table_args__ = (
        # The dispatcher's and the sweep's question: which events have the consumers not seen yet?
        Index(
            "ix_events_undispatched",
            "id",
            sqlite_where=text("dispatched_at IS NULL"),
            postgresql_where=text("dispatched_at IS NULL"),
        ),
        Index("ix_events_ticket_id_id", "ticket_id", "id"),
        # The sweep's other question: which failed consumers are due to try an event again?
        Index(
            "ix_events_retry_at",
            "retry_at",
            sqlite_where=text("retry_at IS NOT NULL"),
            postgresql_where=text("retry_at IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    # The audit action it comes from (ticket.created, message.added...) or a workflow kind
    # (message.triaged, sla.breached...).
    kind: Mapped[str] = mapped_column(String(100))
    # No foreign keys, like the audit trail: an event outlives what it describes.
    ticket_id: Mapped[int | None] = mapped_column(Id)
    customer_id: Mapped[int | None] = mapped_column(Id)
    entity_type: Mapped[str] = mapped_column(String(50))
    entity_id: Mapped[int] = mapped_column(Id)
    actor_type: Mapped[str] = mapped_column(String(20))  # user | customer | system
    actor_id: Mapped[int | None] = mapped_column(Id)
    payload: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    # NULL until every consumer has seen it.
    dispatched_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # {consumer: {"error", "attempts", "recovered_at"}} for consumers that failed on this event.
    errors: Mapped[dict[str, Any] | None] = mapped_column(Json)
    # When the consumers that failed try this event again (NULL: none left to retry).
    retry_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
