"""What the channels keep beside tickets and messages: raw sources, the ids each channel knows a message
by, outbound deliveries and their retries, and the quarantine of what could not be taken in."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import Enum, ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from ombud.storage.base import Base, Id, UTCDateTime, utcnow


def _enum(cls: type[enum.Enum]) -> Enum:
    return Enum(cls, native_enum=False, length=20, validate_strings=True)


class Direction(enum.StrEnum):
    inbound = "inbound"
    outbound = "outbound"


class RawSource(Base):
    """A message exactly as it arrived (an email's RFC 5322 bytes), stored once per distinct content."""

    __tablename__ = "raw_sources"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class ChannelRef(Base):
    """An id a channel knows a message by (an email's Message-ID, a platform's message id).

    Unique per channel: a message delivered twice is taken in once, and a reply that names one of these
    ids threads into its ticket.
    """

    __tablename__ = "channel_refs"
    __table_args__ = (
        UniqueConstraint("channel", "ref"),
        # Flood control: how many messages did this customer send in the last minutes?
        Index("ix_channel_refs_customer_id_created_at", "customer_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    channel: Mapped[str] = mapped_column(String(20))
    ref: Mapped[str] = mapped_column(String(255))
    direction: Mapped[Direction] = mapped_column(_enum(Direction))
    message_id: Mapped[int] = mapped_column(Id, ForeignKey("messages.id", ondelete="CASCADE"), index=True)
    ticket_id: Mapped[int] = mapped_column(Id, ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    customer_id: Mapped[int] = mapped_column(Id, ForeignKey("customers.id", ondelete="CASCADE"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class InboundEmail(Base):
    """What an email message keeps beyond its new text: the raw source and the full plain text."""

    __tablename__ = "inbound_emails"

    message_id: Mapped[int] = mapped_column(
        Id, ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True
    )
    raw_sha256: Mapped[str] = mapped_column(String(64), ForeignKey("raw_sources.sha256"))
    full_text: Mapped[str] = mapped_column(Text)


class Delivery(Base):
    """One public agent reply on its way out: attempts, the next retry, the last error."""

    __tablename__ = "deliveries"
    __table_args__ = (
        Index(
            "ix_deliveries_due",
            "next_attempt_at",
            sqlite_where=text("state = 'pending'"),
            postgresql_where=text("state = 'pending'"),
        ),
    )

    message_id: Mapped[int] = mapped_column(
        Id, ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True
    )
    channel: Mapped[str] = mapped_column(String(20))
    state: Mapped[str] = mapped_column(String(20))
    recipient: Mapped[str] = mapped_column(String(500), default="")
    ref: Mapped[str | None] = mapped_column(String(255))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_error: Mapped[str] = mapped_column(Text, default="")
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class QuarantineState(enum.StrEnum):
    held = "held"
    released = "released"
    discarded = "discarded"


class Quarantined(Base):
    """Something a channel received but did not turn into a message, kept whole with the reason."""

    __tablename__ = "quarantine"
    __table_args__ = (Index("ix_quarantine_state_id", "state", "id"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    channel: Mapped[str] = mapped_column(String(20))
    source: Mapped[str] = mapped_column(String(200))
    sender: Mapped[str] = mapped_column(String(320), default="")
    subject: Mapped[str] = mapped_column(String(500), default="")
    reason_code: Mapped[str] = mapped_column(String(50))
    reason: Mapped[str] = mapped_column(Text)
    raw_sha256: Mapped[str] = mapped_column(String(64), ForeignKey("raw_sources.sha256"))
    state: Mapped[QuarantineState] = mapped_column(_enum(QuarantineState), default=QuarantineState.held)
    message_id: Mapped[int | None] = mapped_column(Id, ForeignKey("messages.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    resolved_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
