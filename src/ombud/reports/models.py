"""Report aggregates, kept up to date by the ``reports`` event consumer as things happen.

Two tables. ``report_tickets`` holds, per ticket, the facts the reports count (when it was created,
answered and solved, its channel, team, agent and intent, its SLA outcomes, rating, concessions and
concerns). ``report_counts`` holds the sums: one row per (day, channel, team, intent, agent, measure).
When an event changes a ticket's facts, the consumer subtracts what the old facts contributed and adds
what the new ones do, so a ticket that moves team or gets its intent late is counted where it now belongs,
and reports read only the sums, never the messages.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import BigInteger, Date, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from ombud.storage.base import Base, Id, Json, UTCDateTime, utcnow


class ReportTicket(Base):
    __tablename__ = "report_tickets"

    # No foreign key, like the event outbox: the facts are rebuilt from it and outlive nothing.
    ticket_id: Mapped[int] = mapped_column(Id, primary_key=True)
    facts: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    # The last event folded in: an event handed twice (a rebuild racing the dispatcher) counts once.
    last_event_id: Mapped[int] = mapped_column(Id, default=0)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class ReportCount(Base):
    __tablename__ = "report_counts"
    __table_args__ = (
        # Every report reads a date range of a few measures.
        Index("ix_report_counts_measure_day", "measure", "day"),
    )

    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)  # a UTC day
    channel: Mapped[str] = mapped_column(String(20), primary_key=True)
    team_id: Mapped[int] = mapped_column(Id, primary_key=True)  # 0: no team
    intent: Mapped[str] = mapped_column(String(100), primary_key=True)  # "": not triaged (yet)
    agent_id: Mapped[int] = mapped_column(Id, primary_key=True)  # 0: unassigned
    # created, solved, frt_sec, frt_b3 (a histogram bucket), csat_sum, sla_met:first_response,
    # conc_minor:KWD:damaged...
    measure: Mapped[str] = mapped_column(String(120), primary_key=True)
    # An integer, always: counts, whole seconds, scores, money in minor units (exact, never a float sum).
    value: Mapped[int] = mapped_column(BigInteger, default=0)
