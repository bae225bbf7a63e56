"""What the channels keep beside tickets and messages: raw sources, the ids each channel knows a message
by, outbound deliveries and their retries, and the quarantine of what could not be taken in."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Enum,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from ombud.storage.base import Base, Id, Json, UTCDateTime, utcnow


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


class MailboxCursor(Base):
    """How far IMAP polling has read one mailbox: the folder's UIDVALIDITY and the last UID taken in.

    A changed UIDVALIDITY means the server renumbered the folder: polling starts over from the first UID
    and the Message-ID check keeps what was taken in already from coming in twice.
    """

    __tablename__ = "mailbox_cursors"

    mailbox: Mapped[str] = mapped_column(String(200), primary_key=True)
    uidvalidity: Mapped[int] = mapped_column(BigInteger)
    last_uid: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class SocialEndpoint(Base):
    """One social or messaging platform connected through the signed webhook.

    The platform (or the bridge in front of it) signs every request with ``secret``; replies go to
    ``callback_url``, signed the same way. Handles are kept per endpoint ("@jane" on two platforms may be
    two people).
    """

    __tablename__ = "social_endpoints"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    name: Mapped[str] = mapped_column(String(50), unique=True)
    platform: Mapped[str] = mapped_column(String(50))
    secret: Mapped[str] = mapped_column(String(128))
    callback_url: Mapped[str | None] = mapped_column(String(2000))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class CallDirection(enum.StrEnum):
    inbound = "inbound"
    outbound = "outbound"


class CallOutcome(enum.StrEnum):
    answered = "answered"
    missed = "missed"
    voicemail = "voicemail"
    abandoned = "abandoned"
    busy = "busy"
    failed = "failed"


class Call(Base):
    """A phone call: who called whom, when, how it ended, and the transcript as speaker-labelled turns.

    The customer's turns are the body of ``message_id`` (so triage reads what the customer said); the
    whole transcript stays here.
    """

    __tablename__ = "calls"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    external_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    message_id: Mapped[int] = mapped_column(Id, ForeignKey("messages.id", ondelete="CASCADE"), unique=True)
    ticket_id: Mapped[int] = mapped_column(Id, ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    customer_id: Mapped[int] = mapped_column(Id, ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    direction: Mapped[CallDirection] = mapped_column(_enum(CallDirection))
    caller: Mapped[str] = mapped_column(String(32))
    callee: Mapped[str] = mapped_column(String(32))
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    duration_seconds: Mapped[int] = mapped_column(Integer)
    outcome: Mapped[CallOutcome] = mapped_column(_enum(CallOutcome))
    agent_user_id: Mapped[int | None] = mapped_column(Id, ForeignKey("users.id", ondelete="SET NULL"))
    recording_ref: Mapped[str | None] = mapped_column(String(2000))
    transcript: Mapped[list[dict[str, Any]]] = mapped_column(Json, default=list)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class ChatVisitor(Base):
    """A browser that opened the chat widget: its secret token (kept as a digest), its customer, its
    current conversation, and whether the conversation goes on by email (nobody was there to answer)."""

    __tablename__ = "chat_visitors"

    token_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    public_id: Mapped[str] = mapped_column(String(40), unique=True)
    customer_id: Mapped[int] = mapped_column(Id, ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    ticket_id: Mapped[int | None] = mapped_column(Id, ForeignKey("tickets.id", ondelete="SET NULL"))
    by_email: Mapped[bool] = mapped_column(Boolean, default=False)
    email: Mapped[str | None] = mapped_column(String(320))
    # The newest message of the visitor an agent has read (the widget shows its lines as read).
    read_up_to: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class RateHit(Base):
    """One use of something rate-limited (a web form post from one address), for a sliding window that
    holds across processes."""

    __tablename__ = "rate_hits"
    __table_args__ = (Index("ix_rate_hits_key_at", "key", "at"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    key: Mapped[str] = mapped_column(String(200))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
