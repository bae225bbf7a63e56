"""Import runs, the keys that make an import idempotent, and what a run skipped and why."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ombud.storage.base import Base, Id, Json, UTCDateTime, utcnow


class ImportRun(Base):
    """One `ombud import`: where from, how far it got and what it counted (created, already there, skipped
    per reason). A run killed half-way stays "running"; the next run of the same source carries on."""

    __tablename__ = "import_runs"
    __table_args__ = (Index("ix_import_runs_source_started_at", "source", "started_at"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    # "ombud", "zendesk" or "helpdesk": also the namespace of its keys.
    source: Mapped[str] = mapped_column(String(20))
    # The file, folder or database the run read (a database URL without its password).
    location: Mapped[str] = mapped_column(Text)
    # running, finished or failed.
    status: Mapped[str] = mapped_column(String(20), default="running")
    options: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    # {"tickets": n, "messages": n, "customers": n, "organisations": n, "already_imported": n,
    #  "skipped": {reason: n}}, updated with every committed batch.
    counts: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class ImportKey(Base):
    """A record of the other desk (a user, an organisation) and the ombud row it became, so a second run
    finds it again even when it has no email address or phone number to be found by."""

    __tablename__ = "import_keys"
    __table_args__ = (UniqueConstraint("source", "kind", "key"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    source: Mapped[str] = mapped_column(String(20))
    # "customer" or "organisation".
    kind: Mapped[str] = mapped_column(String(20))
    key: Mapped[str] = mapped_column(String(200))
    target_id: Mapped[int] = mapped_column(Id)
    run_id: Mapped[int | None] = mapped_column(Id, ForeignKey("import_runs.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class ImportSkip(Base):
    """One thing a run did not import (a ticket, a message, an identity) with a stable reason code."""

    __tablename__ = "import_skips"
    __table_args__ = (Index("ix_import_skips_run_id_reason", "run_id", "reason"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    run_id: Mapped[int] = mapped_column(Id, ForeignKey("import_runs.id", ondelete="CASCADE"))
    # "ticket", "message", "identity", "customer" or "row".
    kind: Mapped[str] = mapped_column(String(20))
    # Where it is in the source: the ticket's id, "ticket 12 comment 3", "line 8".
    ref: Mapped[str] = mapped_column(String(300))
    reason: Mapped[str] = mapped_column(String(50))
    detail: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
