"""Customers, their organisations, and the identities (email, phone, handle, chat visitor) that find them."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import Enum, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ombud.storage.base import Base, Id, Json, UTCDateTime, utcnow


class IdentityKind(enum.StrEnum):
    email = "email"
    phone = "phone"
    handle = "handle"
    visitor = "visitor"


class Organisation(Base):
    __tablename__ = "organisations"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    domain: Mapped[str | None] = mapped_column(String(253), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Customer(Base):
    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    organisation_id: Mapped[int | None] = mapped_column(
        Id, ForeignKey("organisations.id", ondelete="SET NULL"), index=True
    )
    preferences: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    notes: Mapped[str] = mapped_column(Text, default="")
    # The service level the company sells this customer ("standard", "premium", "vip"...): SLA policies,
    # routing rules and the concession policy choose by it.
    tier: Mapped[str] = mapped_column(String(40), default="standard", server_default=text("'standard'"))
    # Set when an admin merged this customer into another; undoing the merge clears it.
    merged_into_id: Mapped[int | None] = mapped_column(Id, ForeignKey("customers.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    # Loaded when read (the profile page), not every time a ticket resolves its customer.
    organisation: Mapped[Organisation | None] = relationship()
    identities: Mapped[list[Identity]] = relationship(back_populates="customer", order_by="Identity.id")


class Identity(Base):
    """One way to reach a customer. (kind, value) is unique: it resolves to exactly one customer."""

    __tablename__ = "identities"
    __table_args__ = (UniqueConstraint("kind", "value"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    customer_id: Mapped[int] = mapped_column(Id, ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    kind: Mapped[IdentityKind] = mapped_column(Enum(IdentityKind, native_enum=False, length=20))
    value: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    customer: Mapped[Customer] = relationship(back_populates="identities")


class CustomerMerge(Base):
    """An admin's merge of ``source_id`` into ``target_id``: the rows it moved, by table, so that undoing it
    moves exactly those back."""

    __tablename__ = "customer_merges"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    target_id: Mapped[int] = mapped_column(Id, ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    source_id: Mapped[int] = mapped_column(Id, ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    moved: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    merged_by_id: Mapped[int | None] = mapped_column(Id, ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    undone_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class Purchase(Base):
    """Something the customer bought or subscribes to: a product they own, an order, a plan."""

    __tablename__ = "purchases"
    __table_args__ = (
        Index("ix_purchases_customer_id_purchased_at", "customer_id", "purchased_at"),
        Index("ix_purchases_product", "product"),
        UniqueConstraint("customer_id", "order_number", "product"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    customer_id: Mapped[int] = mapped_column(Id, ForeignKey("customers.id", ondelete="CASCADE"))
    product: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20), default="product")  # product, plan or service
    order_number: Mapped[str | None] = mapped_column(String(100))
    amount: Mapped[float | None] = mapped_column(Float)
    currency: Mapped[str | None] = mapped_column(String(3))
    purchased_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class CustomerOffer(Base):
    """The suggestion worked out for a customer by a background job (it reads many similar customers, too
    much for a page view), kept until their next resolved ticket or purchase asks for it again."""

    __tablename__ = "customer_offers"

    customer_id: Mapped[int] = mapped_column(
        Id, ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True
    )
    offer: Mapped[dict[str, Any] | None] = mapped_column(Json)
    reason: Mapped[str] = mapped_column(String(30))
    computed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class SenderBlock(Base):
    """A blocked sender: their messages are dropped by every channel before anything else happens (not
    stored, not triaged, no ticket). It names a customer (every identity of theirs) or one identity value
    (an email address, ``@domain``, a phone number or a social handle), with a reason and an optional
    expiry; lifting it keeps the row (who blocked, who lifted, how many messages were dropped)."""

    __tablename__ = "sender_blocks"
    __table_args__ = (
        Index("ix_sender_blocks_value", "identity_kind", "value"),
        Index("ix_sender_blocks_customer_id", "customer_id"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    customer_id: Mapped[int | None] = mapped_column(Id, ForeignKey("customers.id", ondelete="CASCADE"))
    # "email", "domain", "phone", "handle" with a normalised value; both NULL for a whole-customer block.
    identity_kind: Mapped[str | None] = mapped_column(String(20))
    value: Mapped[str | None] = mapped_column(String(320))
    reason: Mapped[str] = mapped_column(Text)
    # The ticket whose messages led to the block, for the record.
    ticket_id: Mapped[int | None] = mapped_column(Id, ForeignKey("tickets.id", ondelete="SET NULL"))
    created_by_id: Mapped[int | None] = mapped_column(Id, ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    lifted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    lifted_by_id: Mapped[int | None] = mapped_column(Id, ForeignKey("users.id", ondelete="SET NULL"))
    dropped_count: Mapped[int] = mapped_column(Integer, default=0)
    last_dropped_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
