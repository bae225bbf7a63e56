"""Tickets, their messages (public replies and internal notes), attachments and tags."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

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
        # The workspace inbox: open tickets in queue order (highest rank first), per view.
        Index("ix_tickets_open_rank", "is_open", "queue_rank", "id"),
        Index("ix_tickets_assignee_open_rank", "assignee_id", "is_open", "queue_rank", "id"),
        Index("ix_tickets_team_open_rank", "team_id", "is_open", "queue_rank", "id"),
        Index("ix_tickets_status_rank", "status", "queue_rank", "id"),
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
    # Not solved or closed: kept beside the status so the inbox reads one index range, not several.
    is_open: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"))
    # The inbox order (higher first) and its parts (urgency, frustration, customer value, priority),
    # recomputed when triage finishes or the priority changes.
    priority_score: Mapped[float] = mapped_column(Float, default=0.0, server_default=text("0"))
    priority_parts: Mapped[dict[str, Any]] = mapped_column(Json, default=dict, server_default=text("'{}'"))
    # The inbox's order in one column: the score, then the longest waiting (ombud.tickets.priority).
    queue_rank: Mapped[int] = mapped_column(BigInteger, default=0, server_default=text("0"))

    tags: Mapped[list[TicketTag]] = relationship(
        cascade="all, delete-orphan", order_by="TicketTag.tag", lazy="selectin"
    )
    messages: Mapped[list[Message]] = relationship(
        back_populates="ticket", order_by="Message.id", lazy="raise_on_sql"
    )

    @property
    def tag_names(self) -> list[str]:
        return [t.tag for t in self.tags]

    @validates("status")
    def _keep_is_open(self, _key: str, status: Status) -> Status:
        self.is_open = Status(status) not in (Status.solved, Status.closed)
        return status


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
        # The delivery sweep's question: which agent replies still wait to go out?
        Index(
            "ix_messages_undelivered",
            "id",
            sqlite_where=text("delivery_state = 'pending'"),
            postgresql_where=text("delivery_state = 'pending'"),
        ),
        # The triage sweep's question: which customer messages still wait for triage, live ones first?
        Index(
            "ix_messages_untriaged",
            "imported",
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
    # History brought in by `ombud import` (details in channel_meta["imported"]): triaged after every live
    # message, quietly, and never given article suggestions.
    imported: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))

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


class TicketRating(Base):
    """The customer's rating of how a ticket was handled (1-5, with an optional comment); a new rating
    replaces the previous one."""

    __tablename__ = "ticket_ratings"
    __table_args__ = (
        UniqueConstraint("ticket_id"),
        CheckConstraint("score BETWEEN 1 AND 5", name="score_range"),
        Index("ix_ticket_ratings_customer_id_created_at", "customer_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(Id, ForeignKey("tickets.id", ondelete="CASCADE"))
    customer_id: Mapped[int] = mapped_column(Id, ForeignKey("customers.id", ondelete="CASCADE"))
    score: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Mention(Base):
    """A staff member @mentioned in an internal note; unread until they open the ticket."""

    __tablename__ = "mentions"
    __table_args__ = (
        UniqueConstraint("message_id", "user_id"),
        Index("ix_mentions_user_id_read_at", "user_id", "read_at"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    message_id: Mapped[int] = mapped_column(Id, ForeignKey("messages.id", ondelete="CASCADE"))
    ticket_id: Mapped[int] = mapped_column(Id, ForeignKey("tickets.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(Id, ForeignKey("users.id", ondelete="CASCADE"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    read_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class Macro(Base):
    """A canned reply with placeholders ({{customer.name}}, {{ticket.order_number}}, {{agent.name}})."""

    __tablename__ = "macros"
    __table_args__ = (UniqueConstraint("name"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    # What using it also does to the ticket: {"status": "pending"}, {"tags": ["refund"]}.
    actions: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    created_by_id: Mapped[int | None] = mapped_column(Id, ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class SavedView(Base):
    """An agent's saved inbox filter."""

    __tablename__ = "saved_views"
    __table_args__ = (UniqueConstraint("user_id", "name"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    user_id: Mapped[int] = mapped_column(Id, ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    filters: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class TicketPresence(Base):
    """Who has a ticket open in the workspace right now, and whether they are typing a reply; a row older
    than a few seconds means they left."""

    __tablename__ = "ticket_presence"

    ticket_id: Mapped[int] = mapped_column(Id, ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(Id, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    typing: Mapped[bool] = mapped_column(Boolean, default=False)
    seen_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


# -- tracking: concerns, links between tickets, merges, follow-up reminders ---------------------------------
class ConcernStatus(enum.StrEnum):
    open = "open"
    in_progress = "in_progress"
    resolved = "resolved"
    wont_fix = "wont_fix"


# A concern in one of these still needs work: solving its ticket asks for confirmation.
OPEN_CONCERN_STATUSES = (ConcernStatus.open, ConcernStatus.in_progress)


class Concern(Base):
    """One thing the customer asked for on a ticket (found by triage or added by an agent), tracked on its
    own until it is resolved."""

    __tablename__ = "concerns"
    __table_args__ = (
        Index("ix_concerns_ticket_id_status", "ticket_id", "status"),
        # Reports count concerns by intent and status over time.
        Index("ix_concerns_intent_created_at", "intent", "created_at"),
        Index("ix_concerns_owner_id_status", "owner_id", "status"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(Id, ForeignKey("tickets.id", ondelete="CASCADE"))
    text: Mapped[str] = mapped_column(Text)
    intent: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[ConcernStatus] = mapped_column(_enum(ConcernStatus), default=ConcernStatus.open)
    source: Mapped[str] = mapped_column(String(20), default="agent")  # "triage" or "agent"
    owner_id: Mapped[int | None] = mapped_column(Id, ForeignKey("users.id", ondelete="SET NULL"))
    article_id: Mapped[int | None] = mapped_column(Id, ForeignKey("kb_articles.id", ondelete="SET NULL"))
    # A resolution's id or a free reference ("RMA 4411", "refund R-88").
    resolution_ref: Mapped[str | None] = mapped_column(String(200))
    created_by_id: Mapped[int | None] = mapped_column(Id, ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    resolved_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class ConcernMessage(Base):
    """A message a concern came from; ``concern_index`` is its position in the message's triage (None when
    an agent linked it), which makes the triage consumer idempotent."""

    __tablename__ = "concern_messages"
    __table_args__ = (
        Index("ix_concern_messages_message_id_concern_index", "message_id", "concern_index", unique=True),
    )

    concern_id: Mapped[int] = mapped_column(
        Id, ForeignKey("concerns.id", ondelete="CASCADE"), primary_key=True
    )
    message_id: Mapped[int] = mapped_column(
        Id, ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True
    )
    concern_index: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class LinkKind(enum.StrEnum):
    duplicate_of = "duplicate_of"  # from is a duplicate of to
    related_to = "related_to"  # no direction
    caused_by = "caused_by"  # from was caused by to
    merged_into = "merged_into"  # set by a merge, removed by its undo
    split_from = "split_from"  # set by a split


class TicketLink(Base):
    __tablename__ = "ticket_links"
    __table_args__ = (
        UniqueConstraint("from_ticket_id", "to_ticket_id", "kind"),
        CheckConstraint("from_ticket_id <> to_ticket_id", name="not_self"),
        Index("ix_ticket_links_to_ticket_id", "to_ticket_id"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    from_ticket_id: Mapped[int] = mapped_column(Id, ForeignKey("tickets.id", ondelete="CASCADE"))
    to_ticket_id: Mapped[int] = mapped_column(Id, ForeignKey("tickets.id", ondelete="CASCADE"))
    kind: Mapped[LinkKind] = mapped_column(_enum(LinkKind))
    created_by_id: Mapped[int | None] = mapped_column(Id, ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class TicketMerge(Base):
    """One merge of a source ticket into a target and exactly what it moved, so it can be undone."""

    __tablename__ = "ticket_merges"
    __table_args__ = (
        Index("ix_ticket_merges_source_id", "source_id"),
        Index("ix_ticket_merges_target_id", "target_id"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    source_id: Mapped[int] = mapped_column(Id, ForeignKey("tickets.id", ondelete="CASCADE"))
    target_id: Mapped[int] = mapped_column(Id, ForeignKey("tickets.id", ondelete="CASCADE"))
    # {"messages": [...], "concerns": [...], "tags": [...], "source": {status, resolved_at}, "link_id": n}
    moved: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    merged_by_id: Mapped[int | None] = mapped_column(Id, ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    undone_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    undone_by_id: Mapped[int | None] = mapped_column(Id, ForeignKey("users.id", ondelete="SET NULL"))


class ReminderState(enum.StrEnum):
    scheduled = "scheduled"  # waiting for its time
    due = "due"  # its time came: the note is on the ticket and the user was mentioned
    done = "done"
    cancelled = "cancelled"


class Reminder(Base):
    """A follow-up reminder ("call back on Tuesday") on a ticket, for one staff member."""

    __tablename__ = "reminders"
    __table_args__ = (
        # The sweep's question: which scheduled reminders are due?
        Index(
            "ix_reminders_scheduled_due_at",
            "due_at",
            sqlite_where=text("state = 'scheduled'"),
            postgresql_where=text("state = 'scheduled'"),
        ),
        Index("ix_reminders_user_id_state_due_at", "user_id", "state", "due_at"),
        Index("ix_reminders_ticket_id", "ticket_id"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(Id, ForeignKey("tickets.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(Id, ForeignKey("users.id", ondelete="CASCADE"))
    created_by_id: Mapped[int | None] = mapped_column(Id, ForeignKey("users.id", ondelete="SET NULL"))
    due_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    note: Mapped[str] = mapped_column(Text, default="")
    state: Mapped[ReminderState] = mapped_column(_enum(ReminderState), default=ReminderState.scheduled)
    # The internal note posted when it came due (the latest one, after a snooze).
    message_id: Mapped[int | None] = mapped_column(Id, ForeignKey("messages.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
