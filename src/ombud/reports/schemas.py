"""The shapes of reports: a table of rows (one per period and group) that the API returns as JSON or CSV
and the workspace draws."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from pydantic import BaseModel, Field


class ReportName(enum.StrEnum):
    volume = "volume"
    response_times = "response_times"
    sla = "sla"
    csat = "csat"
    concessions = "concessions"
    concerns = "concerns"
    backlog = "backlog"


class Grouping(enum.StrEnum):
    day = "day"
    week = "week"  # ISO weeks, starting on Monday
    month = "month"
    total = "total"  # the whole range as one period


class Dimension(enum.StrEnum):
    none = "none"
    channel = "channel"
    team = "team"
    intent = "intent"
    agent = "agent"


class ReportQuery(BaseModel):
    """What to report on: a range of UTC days (both ends included), periods, and a breakdown."""

    start: dt.date
    end: dt.date
    group: Grouping = Grouping.day
    by: Dimension = Dimension.none


class ReportTable(BaseModel):
    name: ReportName
    title: str
    start: dt.date
    end: dt.date
    group: Grouping
    by: Dimension
    # Restricted to the caller's own figures (agents), or everyone's.
    scope: str = Field(description='"all", or "agent:<id>" when an agent sees their own figures only.')
    columns: list[str]
    rows: list[dict[str, Any]]
    notes: list[str] = Field(default_factory=list)
