"""Resolutions (concessions granted to fix what went wrong) and the versions of the concession policy."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import BigInteger, Boolean, Enum, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ombud.storage.base import Base, Id, Json, UTCDateTime, utcnow


class ResolutionStatus(enum.StrEnum):
    proposed = "proposed"  # offered, not yet applied (the customer may still choose)
    pending_approval = "pending_approval"  # outside the proposer's limits: waits for the named approver
    approved = "approved"  # approved, to be applied by the proposer
    applied = "applied"  # granted
    rejected = "rejected"
    cancelled = "cancelled"


OPEN_STATUSES = (ResolutionStatus.proposed, ResolutionStatus.pending_approval, ResolutionStatus.approved)


class ConcessionPolicy(Base):
    """One accepted version of the concession policy (refused ones are never stored); one is active."""

    __tablename__ = "concession_policies"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    version: Mapped[int] = mapped_column(Integer, unique=True)
    source: Mapped[str] = mapped_column(Text)
    comment: Mapped[str] = mapped_column(String(500), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    uploaded_by_id: Mapped[int | None] = mapped_column(Id, ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Resolution(Base):
    """A concession on a ticket (and optionally one of its concerns): what, how much, why, who granted."""

    __tablename__ = "resolutions"
    __table_args__ = (
        # The customer's concessions over the policy's period, and the ledger per customer.
        Index("ix_resolutions_customer_id_created_at", "customer_id", "created_at"),
        Index("ix_resolutions_ticket_id_id", "ticket_id", "id"),
        # An approver's queue.
        Index("ix_resolutions_approver_id_status", "approver_id", "status"),
        Index("ix_resolutions_status_created_at", "status", "created_at"),
        # "Did the customer come back with the same concern?" when a message is triaged.
        Index("ix_resolutions_customer_id_intent_applied_at", "customer_id", "intent", "applied_at"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(Id, ForeignKey("tickets.id", ondelete="CASCADE"))
    concern_id: Mapped[int | None] = mapped_column(Id, ForeignKey("concerns.id", ondelete="SET NULL"))
    customer_id: Mapped[int] = mapped_column(Id, ForeignKey("customers.id", ondelete="CASCADE"))
    purchase_id: Mapped[int | None] = mapped_column(Id, ForeignKey("purchases.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(30))
    # In the currency's minor units (cents): exact on every backend.
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    # The same in the policy's base currency at the time (what per-period limits add up), in cents.
    base_minor: Mapped[int] = mapped_column(BigInteger)
    base_currency: Mapped[str] = mapped_column(String(3))
    reason: Mapped[str] = mapped_column(String(50))
    intent: Mapped[str | None] = mapped_column(String(100))
    note: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[ResolutionStatus] = mapped_column(
        Enum(ResolutionStatus, native_enum=False, length=20, validate_strings=True)
    )
    # Returns: the RMA number we generate and the carrier's label or reference.
    rma_number: Mapped[str | None] = mapped_column(String(40), unique=True)
    reference: Mapped[str | None] = mapped_column(String(200))
    policy_version: Mapped[int | None] = mapped_column(Integer)
    # What the policy said when it was proposed, and the context an approver sees.
    policy_check: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    proposed_by_id: Mapped[int | None] = mapped_column(Id, ForeignKey("users.id", ondelete="SET NULL"))
    approver_id: Mapped[int | None] = mapped_column(Id, ForeignKey("users.id", ondelete="SET NULL"))
    decided_by_id: Mapped[int | None] = mapped_column(Id, ForeignKey("users.id", ondelete="SET NULL"))
    decision_comment: Mapped[str] = mapped_column(Text, default="")
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    applied_by_id: Mapped[int | None] = mapped_column(Id, ForeignKey("users.id", ondelete="SET NULL"))
    applied_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # Set when the customer wrote again with the same intent within the policy's came_back_days.
    came_back_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    came_back_ticket_id: Mapped[int | None] = mapped_column(Id)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
