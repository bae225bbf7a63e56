"""Tickets, their messages (public replies and internal notes), attachments and tags."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import (
    Boolean,
    Enum,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ombud.storage.base import Base, Id, Json, UTCDateTime, utcnow


class Status(enum.StrEnum):
    new = "new"
    open = "open"
    pending = "pending"
    on_hold = "on_hold"
    solved = "solved"
    closed = "closed"


class Priority(enum.StrEnum):
    low = "low"
    normal = "normal"
    high = "high"
    urgent = "urgent"


class Channel(enum.StrEnum):
    email = "email"
    chat = "chat"
    phone = "phone"
    social = "social"
    web = "web"
    api = "api"


class DeliveryState(enum.StrEnum):
    """Where a public agent reply is on its way to the customer's channel."""

    pending = "pending"  # waiting for the delivery job (or its next retry)
    sent = "sent"  # handed to the channel (the relay accepted the email, the platform took the message)
    failed = "failed"  # gave up after the retries, or cannot be sent (no relay, no address): see deliveries
    bounced = "bounced"  # sent, then the recipient's server reported it undeliverable
    none = "none"  # the channel has no outbound side (a phone call record, an API ticket)


class AuthorType(enum.StrEnum):
    customer = "customer"
    agent = "agent"
    system = "system"


def _enum(cls: type[enum.Enum]) -> Enum:
    return Enum(cls, native_enum=False, length=20, validate_strings=True)


class Ticket(Base):
    __tablename__ = "tickets"
    __table_args__ = (
        # The inbox filters that must stay fast at a million tickets, each ending in id for keyset paging.
        Index("ix_tickets_status_id", "status", "id"),
        Index("ix_tickets_assignee_id_id", "assignee_id", "id"),
        Index("ix_tickets_customer_id_id", "customer_id", "id"),
        Index("ix_tickets_team_id_id", "team_id", "id"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    subject: Mapped[str] = mapped_column(String(500))
    status: Mapped[Status] = mapped_column(_enum(Status), default=Status.new)
    priority: Mapped[Priority] = mapped_column(_enum(Priority), default=Priority.normal)
    channel: Mapped[Channel] = mapped_column(_enum(Channel))
    customer_id: Mapped[int] = mapped_column(Id, ForeignKey("customers.id", ondelete="RESTRICT"))
    assignee_id: Mapped[int | None] = mapped_column(Id, ForeignKey("users.id", ondelete="SET NULL"))
    team_id: Mapped[int | None] = mapped_column(Id, ForeignKey("teams.id", ondelete="SET NULL"))
    external_id: Mapped[str | None] = mapped_column(String(200), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    first_response_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    resolved_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # A customer who writes again on a closed ticket starts a new one that points back at it.
    follow_up_of_id: Mapped[int | None] = mapped_column(Id, ForeignKey("tickets.id", ondelete="SET NULL"))

    tags: Mapped[list[TicketTag]] = relationship(
        cascade="all, delete-orphan", order_by="TicketTag.tag", lazy="selectin"
    )
    messages: Mapped[list[Message]] = relationship(
        back_populates="ticket", order_by="Message.id", lazy="raise_on_sql"
    )

    @property
    def tag_names(self) -> list[str]:
        return [t.tag for t in self.tags]


class TicketTag(Base):
    __tablename__ = "ticket_tags"
    __table_args__ = (Index("ix_ticket_tags_tag_ticket_id", "tag", "ticket_id"),)

    ticket_id: Mapped[int] = mapped_column(Id, ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True)
    tag: Mapped[str] = mapped_column(String(100), primary_key=True)


class Message(Base):
    __tablename__ = "messages"
    __table_args__ = (
        Index("ix_messages_ticket_id_id", "ticket_id", "id"),
        Index("ix_messages_customer_id_created_at", "customer_id", "created_at"),
        # The sweep's question: which messages still wait for the search index?
        Index(
            "ix_messages_unindexed",
            "id",
            sqlite_where=text("indexed_at IS NULL"),
            postgresql_where=text("indexed_at IS NULL"),
        ),
        # The triage sweep's question: which customer messages still wait for triage?
        # The delivery sweep's question: which agent replies still wait to go out?
        Index(
            "ix_messages_undelivered",
            "id",
            sqlite_where=text("delivery_state = 'pending'"),
            postgresql_where=text("delivery_state = 'pending'"),
        ),
        Index(
            "ix_messages_untriaged",
            "id",
            sqlite_where=text("triaged_at IS NULL"),
            postgresql_where=text("triaged_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(Id, ForeignKey("tickets.id", ondelete="CASCADE"))
    # The ticket's customer, copied here so the customer's timeline is one indexed range scan.
    customer_id: Mapped[int] = mapped_column(Id, ForeignKey("customers.id", ondelete="CASCADE"))
    author_type: Mapped[AuthorType] = mapped_column(_enum(AuthorType))
    author_user_id: Mapped[int | None] = mapped_column(Id, ForeignKey("users.id", ondelete="SET NULL"))
    channel: Mapped[Channel] = mapped_column(_enum(Channel))
    internal: Mapped[bool] = mapped_column(Boolean, default=False)
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str | None] = mapped_column(Text)
    channel_meta: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    # NULL until the search index holds this message; the sweep finds what the job has not done yet.
    indexed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # NULL while a customer message waits for triage; set at once on messages that are not triaged (agents').
    triaged_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # Set on public agent replies only (None on everything else).
    delivery_state: Mapped[DeliveryState | None] = mapped_column(_enum(DeliveryState))

    ticket: Mapped[Ticket] = relationship(back_populates="messages")
    attachments: Mapped[list[Attachment]] = relationship(order_by="Attachment.id", lazy="raise_on_sql")


class AttachmentBlob(Base):
    """Attachment content, stored once per distinct content (SHA-256), in the database so every server
    process and worker sees it."""

    __tablename__ = "attachment_blobs"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class Attachment(Base):
    __tablename__ = "attachments"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    message_id: Mapped[int] = mapped_column(Id, ForeignKey("messages.id", ondelete="CASCADE"), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64), ForeignKey("attachment_blobs.sha256"))
