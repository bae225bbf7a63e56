"""Tables of advocacy: themes and their members, hourly counts, spike alerts, departments, advocacy cases,
the tickets a case covers and the notices that close the loop with each affected customer."""

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
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from ombud.storage.base import Base, Id, Json, UTCDateTime, utcnow


def _enum(kind: type[enum.Enum]) -> Enum:
    return Enum(kind, native_enum=False, length=20)


class ThemeState(enum.StrEnum):
    active = "active"
    merged = "merged"  # merged into another theme (merged_into_id): kept for its history and links
    retired = "retired"  # re-clustering found no members left for it


class Theme(Base):
    """A group of concerns that are about the same thing, across customers.

    ``label`` is written by the machine (key phrases) and changes as the theme grows; ``name`` is an
    advocate's rename and always wins. The centroid is the mean of the members' unit vectors (float32,
    ``dimensions`` long), kept with ``size`` so online assignment can update it incrementally.
    """

    __tablename__ = "advocacy_themes"
    __table_args__ = (
        Index("ix_advocacy_themes_state_size", "state", "size"),
        # Online assignment asks "did any theme change since I cached the centroids?" before each batch.
        Index("ix_advocacy_themes_updated_at", "updated_at"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    state: Mapped[ThemeState] = mapped_column(_enum(ThemeState), default=ThemeState.active)
    label: Mapped[str] = mapped_column(String(200), default="")
    name: Mapped[str | None] = mapped_column(String(200))
    key_phrases: Mapped[list[str]] = mapped_column(Json, default=list)
    # [{"concern_id": int, "text": str}], the members closest to the centroid.
    quotes: Mapped[list[dict[str, Any]]] = mapped_column(Json, default=list)
    centroid: Mapped[bytes] = mapped_column(LargeBinary)
    dimensions: Mapped[int] = mapped_column(Integer)
    size: Mapped[int] = mapped_column(Integer, default=0)
    merged_into_id: Mapped[int | None] = mapped_column(
        Id, ForeignKey("advocacy_themes.id", ondelete="SET NULL")
    )
    split_from_id: Mapped[int | None] = mapped_column(
        Id, ForeignKey("advocacy_themes.id", ondelete="SET NULL")
    )
    first_seen_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class ThemeMember(Base):
    """One concern in one theme, with what advocacy aggregates over copied in (segments, feelings), so the
    theme's figures are one indexed query, not a join across five domains."""

    __tablename__ = "advocacy_theme_members"
    __table_args__ = (
        Index("ix_advocacy_theme_members_theme_id_at", "theme_id", "concern_at"),
        Index("ix_advocacy_theme_members_customer_id", "customer_id"),
        Index("ix_advocacy_theme_members_ticket_id", "ticket_id"),
    )

    concern_id: Mapped[int] = mapped_column(
        Id, ForeignKey("concerns.id", ondelete="CASCADE"), primary_key=True
    )
    theme_id: Mapped[int | None] = mapped_column(Id, ForeignKey("advocacy_themes.id", ondelete="SET NULL"))
    ticket_id: Mapped[int] = mapped_column(Id, ForeignKey("tickets.id", ondelete="CASCADE"))
    customer_id: Mapped[int] = mapped_column(Id, ForeignKey("customers.id", ondelete="CASCADE"))
    text: Mapped[str] = mapped_column(Text)
    vector: Mapped[bytes] = mapped_column(LargeBinary)
    similarity: Mapped[float] = mapped_column(Float, default=0.0)
    # An advocate moved it here by hand: re-clustering keeps it where it was put.
    pinned: Mapped[bool] = mapped_column(Boolean, default=False)
    intent: Mapped[str | None] = mapped_column(String(100))
    channel: Mapped[str] = mapped_column(String(20), default="")
    product: Mapped[str | None] = mapped_column(String(200))
    tier: Mapped[str] = mapped_column(String(40), default="standard")
    region: Mapped[str | None] = mapped_column(String(100))
    language: Mapped[str | None] = mapped_column(String(10))
    emotion: Mapped[str | None] = mapped_column(String(20))
    frustration: Mapped[float] = mapped_column(Float, default=0.0)
    # When the customer wrote it (the concern's first message), not when it was themed.
    concern_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class ThemeEdit(Base):
    """An advocate's edit of the themes (rename, merge, split, move), kept so re-clustering honours it."""

    __tablename__ = "advocacy_theme_edits"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))  # rename, merge, split, move
    theme_id: Mapped[int] = mapped_column(
        Id, ForeignKey("advocacy_themes.id", ondelete="CASCADE"), index=True
    )
    payload: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    user_id: Mapped[int | None] = mapped_column(Id, ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class ThemeCount(Base):
    """Concerns per theme, segment and hour: the series that charts and spike baselines read.

    ``segment`` is "" for all of the theme, else "channel:email", "tier:gold", "product:…", "region:…".
    ``theme_id`` 0 counts every concern (the all-themes background, for contact rates).
    """

    __tablename__ = "advocacy_theme_counts"

    theme_id: Mapped[int] = mapped_column(Id, primary_key=True)
    segment: Mapped[str] = mapped_column(String(120), primary_key=True)
    hour: Mapped[dt.datetime] = mapped_column(UTCDateTime, primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)
    frustration_sum: Mapped[float] = mapped_column(Float, default=0.0)


class SpikeState(enum.StrEnum):
    open = "open"
    acknowledged = "acknowledged"
    dismissed = "dismissed"
    ended = "ended"  # the spike is over (quiet for hours, or its theme was merged or retired)


class SpikeAlert(Base):
    __tablename__ = "advocacy_spikes"
    __table_args__ = (Index("ix_advocacy_spikes_theme_id_detected_at", "theme_id", "detected_at"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    theme_id: Mapped[int] = mapped_column(Id, ForeignKey("advocacy_themes.id", ondelete="CASCADE"))
    segment: Mapped[str] = mapped_column(String(120), default="")
    metric: Mapped[str] = mapped_column(String(20))  # volume, frustration, contact_rate
    state: Mapped[SpikeState] = mapped_column(_enum(SpikeState), default=SpikeState.open)
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    detected_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    count: Mapped[float] = mapped_column(Float)
    baseline: Mapped[float] = mapped_column(Float)
    growth: Mapped[float] = mapped_column(Float, default=0.0)
    # {"series": [[hour, count, baseline], ...], "samples": [{"concern_id", "text"}], ...}
    evidence: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    case_id: Mapped[int | None] = mapped_column(Id, ForeignKey("advocacy_cases.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Department(Base):
    """A part of the company that can fix a cause: product, engineering, billing, logistics, policy,
    partner network... Owners are users; alerts and digests go to ``notify_email`` and, for an outside
    tracker, to the department's webhook endpoint (signed, issue-tracker payload)."""

    __tablename__ = "advocacy_departments"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    kind: Mapped[str] = mapped_column(String(40), default="product")
    description: Mapped[str] = mapped_column(Text, default="")
    owner_ids: Mapped[list[int]] = mapped_column(Json, default=list)
    notify_email: Mapped[str | None] = mapped_column(String(320))
    webhook_endpoint_id: Mapped[int | None] = mapped_column(
        Id, ForeignKey("webhook_endpoints.id", ondelete="SET NULL")
    )
    # Verifies the outside tracker's status callbacks (HMAC, like outbound deliveries). Shown once.
    inbound_secret: Mapped[str] = mapped_column(String(100))
    # The signatures of the callbacks accepted within the timestamp tolerance: a replay of one is refused.
    inbound_seen: Mapped[list[str]] = mapped_column(Json, default=list)
    # Themes whose concerns carry these intents suggest this department when a case is opened.
    intents: Mapped[list[str]] = mapped_column(Json, default=list)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class CaseStatus(enum.StrEnum):
    open = "open"
    acknowledged = "acknowledged"
    in_progress = "in_progress"
    fixed = "fixed"
    customers_told = "customers_told"
    verified = "verified"
    closed = "closed"  # closed without a fix (won't fix, not a fault): nobody is told


class AdvocacyCase(Base):
    __tablename__ = "advocacy_cases"
    __table_args__ = (Index("ix_advocacy_cases_status", "status"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    summary: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[CaseStatus] = mapped_column(_enum(CaseStatus), default=CaseStatus.open)
    theme_id: Mapped[int | None] = mapped_column(Id, ForeignKey("advocacy_themes.id", ondelete="SET NULL"))
    department_id: Mapped[int | None] = mapped_column(
        Id, ForeignKey("advocacy_departments.id", ondelete="SET NULL")
    )
    owner_id: Mapped[int | None] = mapped_column(Id, ForeignKey("users.id", ondelete="SET NULL"))
    # What agents tell a customer meanwhile, and what changed with the fix (goes into every notice).
    workaround: Mapped[str] = mapped_column(Text, default="")
    fix_note: Mapped[str] = mapped_column(Text, default="")
    # Also tell customers in the affected segment who never wrote in.
    notify_segment: Mapped[bool] = mapped_column(Boolean, default=False)
    segment: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    # The evidence pack as it was when the case was opened (and refreshed on demand).
    evidence: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    external_ref: Mapped[str | None] = mapped_column(String(200), index=True)
    external_url: Mapped[str | None] = mapped_column(String(2000))
    created_by_id: Mapped[int | None] = mapped_column(Id, ForeignKey("users.id", ondelete="SET NULL"))
    opened_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    fixed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # When an advocate confirmed the fix note and the customers started to be told (None while a fix
    # reported by the tracker awaits that confirmation).
    tell_started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    told_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    verified_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # When the sweep should check whether the theme stopped growing after the fix.
    verify_due_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, index=True)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class CaseTicket(Base):
    # A surrogate id, so a customer merge moves these rows like every other table with a customer_id.
    __tablename__ = "advocacy_case_tickets"
    __table_args__ = (
        UniqueConstraint("case_id", "ticket_id"),
        Index("ix_advocacy_case_tickets_ticket_id", "ticket_id"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    case_id: Mapped[int] = mapped_column(Id, ForeignKey("advocacy_cases.id", ondelete="CASCADE"))
    ticket_id: Mapped[int] = mapped_column(Id, ForeignKey("tickets.id", ondelete="CASCADE"))
    customer_id: Mapped[int] = mapped_column(Id, ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    via: Mapped[str] = mapped_column(String(20), default="theme")  # theme, manual, segment
    joined_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class NoticeState(enum.StrEnum):
    pending = "pending"
    sent = "sent"
    failed = "failed"
    skipped = "skipped"


class CaseNotice(Base):
    """The personal "it is fixed" message to one affected customer, sent by a job, its delivery tracked."""

    __tablename__ = "advocacy_case_notices"
    __table_args__ = (
        # A constraint, not a unique index: a customer merge knows to leave a clashing notice behind.
        UniqueConstraint("case_id", "customer_id"),
        Index(
            "ix_advocacy_case_notices_retry_at",
            "retry_at",
            sqlite_where=text("retry_at IS NOT NULL"),
            postgresql_where=text("retry_at IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    case_id: Mapped[int] = mapped_column(Id, ForeignKey("advocacy_cases.id", ondelete="CASCADE"))
    customer_id: Mapped[int] = mapped_column(Id, ForeignKey("customers.id", ondelete="CASCADE"))
    ticket_id: Mapped[int | None] = mapped_column(Id, ForeignKey("tickets.id", ondelete="SET NULL"))
    channel: Mapped[str] = mapped_column(String(20), default="email")
    state: Mapped[NoticeState] = mapped_column(_enum(NoticeState), default=NoticeState.pending)
    reason: Mapped[str] = mapped_column(String(200), default="")
    message_id: Mapped[int | None] = mapped_column(Id, ForeignKey("messages.id", ondelete="SET NULL"))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    retry_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Schedule(Base):
    """Periodic advocacy work, found by the sweep on ``due_at``: "recluster", "digest:<department id>"."""

    __tablename__ = "advocacy_schedules"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    due_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    last_run_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # What the last run found (re-clustering: themes kept, new, retired; digest: recipients).
    outcome: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
