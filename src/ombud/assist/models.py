"""The company's glossary (internal terms and their plain words) and voice (phrases to prefer or avoid),
set by admins and used by the reply check."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ombud.storage.base import Base, Id, UTCDateTime, utcnow


class GlossaryTerm(Base):
    """An internal or technical term customers may not know, with the plain words to use instead."""

    __tablename__ = "glossary_terms"
    __table_args__ = (UniqueConstraint("term"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    term: Mapped[str] = mapped_column(String(200))
    plain: Mapped[str] = mapped_column(String(500))
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class VoiceRule(Base):
    """A line of the company's style guide: a phrase to avoid and what to say instead (``prefer``)."""

    __tablename__ = "voice_rules"
    __table_args__ = (UniqueConstraint("avoid"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    avoid: Mapped[str] = mapped_column(String(200))
    prefer: Mapped[str] = mapped_column(String(500), default="")
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
