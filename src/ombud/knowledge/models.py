"""What the knowledge base keeps: categories, articles and every version of them, the passages search
reads (with their embeddings, stored once per distinct content), feedback, suggestions made for customer
concerns, and the self-service assistant's conversations."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import (
    Boolean,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from ombud.knowledge.schemas import ArticleStatus, Audience
from ombud.storage.base import Base, Id, Json, UTCDateTime, utcnow


def _enum(cls: type[enum.Enum]) -> Enum:
    return Enum(cls, native_enum=False, length=20, validate_strings=True)


class Category(Base):
    __tablename__ = "kb_categories"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Article(Base):
    """The current version of an article. ``indexed_hash`` is the content hash its passages were built
    from: when it differs from ``content_hash`` the index job still has work to do."""

    __tablename__ = "kb_articles"
    __table_args__ = (Index("ix_kb_articles_status_audience", "status", "audience"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    slug: Mapped[str] = mapped_column(String(120), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    audience: Mapped[Audience] = mapped_column(_enum(Audience), default=Audience.public)
    status: Mapped[ArticleStatus] = mapped_column(_enum(ArticleStatus), default=ArticleStatus.draft)
    product: Mapped[str | None] = mapped_column(String(100))
    language: Mapped[str] = mapped_column(String(12), default="en")
    category_id: Mapped[int | None] = mapped_column(Id, ForeignKey("kb_categories.id", ondelete="SET NULL"))
    tags: Mapped[list[str]] = mapped_column(Json, default=list)
    example_questions: Mapped[list[str]] = mapped_column(Json, default=list)
    version: Mapped[int] = mapped_column(Integer, default=1)
    content_hash: Mapped[str] = mapped_column(String(64))
    indexed_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    author_id: Mapped[int | None] = mapped_column(Id, ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    published_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    helpful: Mapped[int] = mapped_column(Integer, default=0)
    not_helpful: Mapped[int] = mapped_column(Integer, default=0)


class ArticleVersion(Base):
    __tablename__ = "kb_article_versions"
    __table_args__ = (UniqueConstraint("article_id", "version"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    article_id: Mapped[int] = mapped_column(Id, ForeignKey("kb_articles.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[ArticleStatus] = mapped_column(_enum(ArticleStatus))
    audience: Mapped[Audience] = mapped_column(_enum(Audience))
    tags: Mapped[list[str]] = mapped_column(Json, default=list)
    example_questions: Mapped[list[str]] = mapped_column(Json, default=list)
    author_id: Mapped[int | None] = mapped_column(Id, ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class PassageKind(enum.StrEnum):
    article_title = "title"
    question = "question"
    section = "section"


class Passage(Base):
    """A piece of an article that search matches: its title, one of its example questions, or a section
    of its body. Never updated: a changed article gets new passages (new ids) and loses the old ones."""

    __tablename__ = "kb_passages"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    article_id: Mapped[int] = mapped_column(Id, ForeignKey("kb_articles.id", ondelete="CASCADE"), index=True)
    ordinal: Mapped[int] = mapped_column(Integer)
    kind: Mapped[PassageKind] = mapped_column(_enum(PassageKind))
    heading: Mapped[str | None] = mapped_column(String(300))
    text: Mapped[str] = mapped_column(Text)
    vector_hash: Mapped[str] = mapped_column(String(64))


class Vector(Base):
    """An embedding, keyed by the hash of the model and the text it embeds: a text already embedded (an
    unchanged section of an edited article, a question two articles share) is never embedded again."""

    __tablename__ = "kb_vectors"

    hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    vector: Mapped[bytes] = mapped_column(LargeBinary)


class IndexState(Base):
    """One row: ``generation`` moves whenever passages are added or removed, so every process knows
    when its in-memory vector index must catch up."""

    __tablename__ = "kb_index_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    generation: Mapped[int] = mapped_column(Integer, default=0)


class Feedback(Base):
    __tablename__ = "kb_feedback"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    article_id: Mapped[int] = mapped_column(Id, ForeignKey("kb_articles.id", ondelete="CASCADE"), index=True)
    helpful: Mapped[bool] = mapped_column(Boolean)
    source: Mapped[str] = mapped_column(String(20))  # customer | agent | assistant
    user_id: Mapped[int | None] = mapped_column(Id, ForeignKey("users.id", ondelete="SET NULL"))
    customer_id: Mapped[int | None] = mapped_column(Id, ForeignKey("customers.id", ondelete="SET NULL"))
    ticket_id: Mapped[int | None] = mapped_column(Id, ForeignKey("tickets.id", ondelete="SET NULL"))
    comment: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Suggestion(Base):
    """An article suggested for one concern of a customer message (concern -1: the whole message),
    with the passage that matched. ``score`` is kept for the weak ones too: they are how gaps are found."""

    __tablename__ = "kb_suggestions"
    __table_args__ = (
        # One set per message: a second job that raced the first fails instead of doubling it.
        UniqueConstraint("message_id", "concern_index", "rank"),
        Index("ix_kb_suggestions_article_id_created_at", "article_id", "created_at"),
        Index("ix_kb_suggestions_ticket_id", "ticket_id"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    message_id: Mapped[int] = mapped_column(Id, ForeignKey("messages.id", ondelete="CASCADE"))
    ticket_id: Mapped[int] = mapped_column(Id, ForeignKey("tickets.id", ondelete="CASCADE"))
    customer_id: Mapped[int] = mapped_column(Id, ForeignKey("customers.id", ondelete="CASCADE"))
    concern_index: Mapped[int] = mapped_column(Integer)
    concern_text: Mapped[str] = mapped_column(Text)
    intent: Mapped[str | None] = mapped_column(String(100))
    rank: Mapped[int] = mapped_column(Integer)
    article_id: Mapped[int | None] = mapped_column(Id, ForeignKey("kb_articles.id", ondelete="CASCADE"))
    passage: Mapped[str | None] = mapped_column(Text)
    score: Mapped[float] = mapped_column(Float)
    vector_hash: Mapped[str | None] = mapped_column(String(64))  # the concern's embedding, for gaps
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class ConversationState(enum.StrEnum):
    bot = "bot"  # the assistant answers
    handed_over = "handed_over"  # a person answers, for good


class Outcome(enum.StrEnum):
    confirmed = "confirmed"  # the customer said the answer solved it
    assumed = "assumed"  # the customer left after an answer without saying
    handover = "handover"  # a person took over


class Conversation(Base):
    __tablename__ = "assistant_conversations"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    public_id: Mapped[str] = mapped_column(String(64), unique=True)
    channel: Mapped[str] = mapped_column(String(20))  # api | chat | portal
    customer_id: Mapped[int | None] = mapped_column(Id, ForeignKey("customers.id", ondelete="SET NULL"))
    ticket_id: Mapped[int | None] = mapped_column(Id, ForeignKey("tickets.id", ondelete="SET NULL"))
    state: Mapped[ConversationState] = mapped_column(_enum(ConversationState), default=ConversationState.bot)
    handover_reason: Mapped[str | None] = mapped_column(String(40))
    outcome: Mapped[Outcome | None] = mapped_column(_enum(Outcome))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_turn_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    ended_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class Turn(Base):
    __tablename__ = "assistant_turns"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(
        Id, ForeignKey("assistant_conversations.id", ondelete="CASCADE"), index=True
    )
    question: Mapped[str] = mapped_column(Text)
    answer: Mapped[str] = mapped_column(Text)
    article_ids: Mapped[list[int]] = mapped_column(Json, default=list)
    confidence: Mapped[float] = mapped_column(Float)
    handover: Mapped[bool] = mapped_column(Boolean, default=False)
    failed: Mapped[bool] = mapped_column(
        Boolean, default=False
    )  # the customer said, or showed, it did not help
    reason: Mapped[str | None] = mapped_column(String(40))
    triage: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    vector_hash: Mapped[str | None] = mapped_column(String(64))  # the question's embedding, for gaps
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
