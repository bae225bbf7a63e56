"""Webhook endpoints, the deliveries owed to them and every attempt made."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import Boolean, Enum, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ombud.storage.base import Base, Id, Json, UTCDateTime, utcnow


class DeliveryState(enum.StrEnum):
    pending = "pending"  # waiting for its next attempt (next_attempt_at)
    delivered = "delivered"  # the endpoint answered 2xx
    failed = "failed"  # gave up after the last attempt, or the endpoint was removed or disabled


class WebhookEndpoint(Base):
    __tablename__ = "webhook_endpoints"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    url: Mapped[str] = mapped_column(String(2000))
    # Kept readable: every delivery is signed with it. Shown once, when made or rotated.
    secret: Mapped[str] = mapped_column(String(100))
    # Event kinds, exact ("ticket.created") or a prefix ("ticket.*"), or "*" for all.
    events: Mapped[list[str]] = mapped_column(Json, default=list)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by_id: Mapped[int | None] = mapped_column(Id, ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class WebhookDelivery(Base):
    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        Index("ix_webhook_deliveries_endpoint_id_id", "endpoint_id", "id"),
        # The sweep's question: which pending deliveries are due? (NULL once delivered or failed.)
        Index("ix_webhook_deliveries_next_attempt_at", "next_attempt_at"),
        Index("ix_webhook_deliveries_event_id", "event_id"),
        Index("ix_webhook_deliveries_ticket_id_id", "ticket_id", "id"),
        Index("ix_webhook_deliveries_entity", "entity_type", "entity_id"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    endpoint_id: Mapped[int] = mapped_column(Id, ForeignKey("webhook_endpoints.id", ondelete="CASCADE"))
    # The event it carries (None for a test delivery); no foreign key, like the outbox itself.
    event_id: Mapped[int | None] = mapped_column(Id)
    event_kind: Mapped[str] = mapped_column(String(100))
    ticket_id: Mapped[int | None] = mapped_column(Id)
    entity_type: Mapped[str | None] = mapped_column(String(50))
    entity_id: Mapped[int | None] = mapped_column(Id)
    # The JSON body, fixed when the delivery is made: a redelivery sends the same document.
    payload: Mapped[dict[str, Any]] = mapped_column(Json)
    state: Mapped[DeliveryState] = mapped_column(
        Enum(DeliveryState, native_enum=False, length=20, validate_strings=True),
        default=DeliveryState.pending,
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_status: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(String(500))
    redelivery_of_id: Mapped[int | None] = mapped_column(Id)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class WebhookAttempt(Base):
    __tablename__ = "webhook_attempts"
    __table_args__ = (Index("ix_webhook_attempts_delivery_id_id", "delivery_id", "id"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    delivery_id: Mapped[int] = mapped_column(Id, ForeignKey("webhook_deliveries.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    duration_ms: Mapped[int] = mapped_column(Integer)
    # None when no answer came (timeout, refused connection): ``error`` says why.
    status_code: Mapped[int | None] = mapped_column(Integer)
    response_excerpt: Mapped[str] = mapped_column(Text, default="")
    error: Mapped[str | None] = mapped_column(String(500))
