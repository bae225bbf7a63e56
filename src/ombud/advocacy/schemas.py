"""What the themes service returns and accepts: a theme's figures, themes and members as the API shows them,
advocates' edits, spike alerts."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from ombud.advocacy.models import SpikeState, ThemeState
from ombud.validation import CleanText

BigId = Annotated[int, Field(ge=1, le=2**63 - 1)]


class MoneyTotal(BaseModel):
    """A sum in one currency, exact: ``amount_minor`` in the currency's minor units (cents), ``amount``
    the same as a decimal string."""

    currency: str
    amount_minor: int
    amount: str


class SegmentShare(BaseModel):
    value: str
    count: int


class DayCount(BaseModel):
    day: dt.date
    count: int


class Quote(BaseModel):
    concern_id: int
    text: str


class ThemeFigures(BaseModel):
    """What a theme amounts to over a window: volume, who is affected, what it costs and feels like."""

    theme_id: int
    since: dt.datetime
    until: dt.datetime
    concerns: int = Field(description="Concerns of the theme written in the window.")
    daily: list[DayCount] = Field(description="Concerns per UTC day in the window (days with none are 0).")
    customers_affected: int
    tickets: int
    ticket_ids: list[int] = Field(description="The most recent tickets (at most 200).")
    segments: dict[str, list[SegmentShare]] = Field(
        description="Top values (at most 5) per product, region, tier, channel and language."
    )
    mean_frustration: float = Field(description="0..1")
    emotions: dict[str, int]
    concession_cost: list[MoneyTotal] = Field(
        description="Applied concessions on the members' concerns (or their tickets when a concession names "
        "no concern), per currency."
    )
    value_at_risk: list[MoneyTotal] = Field(
        description="What the affected customers bought in the 12 months before ``until``, per currency."
    )
    quotes: list[Quote]
    first_seen_at: dt.datetime | None
    last_seen_at: dt.datetime | None
    last_7_days: int
    previous_7_days: int
    growth: float = Field(description="(last 7 days - the 7 before) / max(the 7 before, 1)")


class ThemePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    state: ThemeState
    title: str = Field(description="The advocate's name if renamed, else the machine's label.")
    label: str
    name: str | None
    key_phrases: list[str]
    quotes: list[Quote]
    size: int
    merged_into_id: int | None
    split_from_id: int | None
    first_seen_at: dt.datetime
    last_seen_at: dt.datetime
    # Over the last 7 days against the 7 before, from the hourly counts.
    last_7_days: int = 0
    previous_7_days: int = 0
    growth: float = 0.0
    mean_frustration: float = 0.0
    cost: list[MoneyTotal] = Field(default_factory=list, description="Concession cost, all time.")
    daily: list[int] = Field(default_factory=list, description="Concerns per day over the last 14 days.")


class ThemePage(BaseModel):
    items: list[ThemePublic]
    next_cursor: str | None


class ThemeDetail(BaseModel):
    theme: ThemePublic
    figures: ThemeFigures
    open_cases: list[dict[str, Any]] = Field(
        description="Open advocacy cases of the theme: id, title, status."
    )
    spikes: list[SpikePublic]


class MemberPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    concern_id: int
    theme_id: int | None
    ticket_id: int
    customer_id: int
    text: str
    similarity: float
    pinned: bool
    intent: str | None
    channel: str
    product: str | None
    tier: str
    region: str | None
    language: str | None
    emotion: str | None
    frustration: float
    concern_at: dt.datetime


class MemberPage(BaseModel):
    items: list[MemberPublic]
    next_cursor: str | None


ThemeName = Annotated[CleanText, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class ThemeRename(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: ThemeName


class ThemeMerge(BaseModel):
    model_config = ConfigDict(extra="forbid")
    source_ids: list[BigId] = Field(
        min_length=1, max_length=50, description="Themes merged into this one (they become 'merged')."
    )


class ThemeSplit(BaseModel):
    model_config = ConfigDict(extra="forbid")
    concern_ids: list[BigId] | None = Field(
        None,
        max_length=10_000,
        description="Members to split off into a new theme; leave out to split the theme by sub-clustering.",
    )
    name: ThemeName | None = Field(None, description="A name for the new theme (with concern_ids).")


class MemberMove(BaseModel):
    model_config = ConfigDict(extra="forbid")
    theme_id: BigId = Field(description="The theme the member moves to; it stays there (pinned).")


class EditResult(BaseModel):
    """What an edit changed: the themes it touched (a split lists the new ones)."""

    kind: str
    theme_ids: list[int]
    moved: int


class ReclusterOutcome(BaseModel):
    kept: int
    new: int
    retired: int
    members: int
    moved: int
    backfilled: int


class ThemeChoice(BaseModel):
    """A theme to pick in a form: its id, title and size."""

    id: int
    title: str
    size: int


class SpikePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    theme_id: int
    theme_title: str = ""
    segment: str
    metric: str
    state: SpikeState
    started_at: dt.datetime
    detected_at: dt.datetime
    count: float
    baseline: float
    growth: float
    evidence: dict[str, Any]
    case_id: int | None


class SpikePage(BaseModel):
    items: list[SpikePublic]
    next_cursor: str | None


class SpikeStateChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    state: Literal["acknowledged", "dismissed", "open"]


ThemeDetail.model_rebuild()
