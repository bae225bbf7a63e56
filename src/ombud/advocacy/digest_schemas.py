"""What the weekly digest holds (ombud.advocacy.digest builds it, ombud.advocacy.digest_render renders it)."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, Field

from ombud.advocacy.models import CaseStatus
from ombud.advocacy.schemas import MoneyTotal

SPARK_DAYS = 14


class DigestTheme(BaseModel):
    theme_id: int
    label: str
    url: str
    last_7_days: int
    previous_7_days: int
    growth: float = Field(description="(last - previous) / max(previous, 1).")
    customers: int = Field(description="Customers with a concern of the theme in the last 7 days.")
    daily: list[int] = Field(description=f"Concerns per UTC day, the last {SPARK_DAYS} days, oldest first.")
    quotes: list[str]
    cost: list[MoneyTotal] = Field(description="Applied concessions on the theme's concerns, all time.")


class DigestCase(BaseModel):
    case_id: int
    title: str
    status: CaseStatus
    url: str
    opened_at: dt.datetime
    tickets: int
    customers: int
    theme_id: int | None
    theme_label: str | None


class Digest(BaseModel):
    department_id: int
    department_name: str
    department_kind: str
    since: dt.datetime
    until: dt.datetime
    themes_linked: int
    concerns: int = Field(description="Concerns of the department's themes in the week.")
    customers_affected: int
    cost_week: list[MoneyTotal] = Field(description="Concessions on the week's concerns of its themes.")
    cost_total: list[MoneyTotal] = Field(description="Concessions on its themes' concerns, all time.")
    top_themes: list[DigestTheme]
    rising_themes: list[DigestTheme]
    open_cases: list[DigestCase]
    cases_by_status: dict[str, int]


def theme_url(theme_id: int) -> str:
    return f"/agent/advocacy/themes/{theme_id}"
