"""The shapes of growth: development goals, their progress, kind words and the reply-check summary.

Every figure here belongs to one agent and is shown only to them and their lead (ombud.people.access).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ombud.people.models import GoalKind, GoalState
from ombud.validation import CleanText

# The finding codes the production reply check produces (listed in ombud.assist.check's docstring; a test
# keeps the two in step). A "finding" goal names one of them.
FINDING_CODES = (
    "concern_unaddressed",
    "negative_phrasing",
    "jargon",
    "readability",
    "empathy_missing",
    "promise_without_date",
    "wrong_name",
    "wrong_detail",
    "voice_avoid",
)
# What each code means in a sentence ("3 of 40 replies had jargon").
FINDING_WORDS = {
    "concern_unaddressed": "an unanswered concern",
    "negative_phrasing": "negative phrasing",
    "jargon": "jargon",
    "readability": "hard-to-read text",
    "empathy_missing": "no acknowledgement of an upset customer",
    "promise_without_date": "a promise without a date",
    "wrong_name": "a name problem",
    "wrong_detail": "a detail not in the conversation",
    "voice_avoid": "a phrase the style guide avoids",
}


class GoalCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: GoalKind
    title: CleanText = Field(default="", max_length=200, description="Empty: a title from the target.")
    target: dict[str, Any] = Field(
        description=(
            'finding: {"code", "max_rate" 0..1}; product: {"product", "min_tickets"?, "min_csat"?}; '
            'csat: {"min_score" 1..5}; training: {"min_score" 0..100, "persona"?}.'
        )
    )
    due_on: dt.date | None = None


class GoalUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: CleanText | None = Field(default=None, max_length=200)
    target: dict[str, Any] | None = None
    state: GoalState | None = None


class GoalPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    user_id: int
    kind: GoalKind
    title: str
    target: dict[str, Any]
    baseline: dict[str, Any]
    state: GoalState
    due_on: dt.datetime | None
    created_by_id: int | None
    created_at: dt.datetime
    updated_at: dt.datetime


class GoalPage(BaseModel):
    items: list[GoalPublic]


class Figures(BaseModel):
    """One goal's figures over a period: ``value`` is the measured figure (a rate of replies with the
    finding, a mean satisfaction or training score, a number of tickets), None without data; ``count``
    and ``total`` what it was measured from (3 of 40 replies; 12 ratings)."""

    value: float | None
    count: int
    total: int
    # A product goal's other figures: "csat", "ratings", "sessions", "training".
    detail: dict[str, float | None] = Field(default_factory=dict)


class WeekPoint(BaseModel):
    week_start: dt.date
    value: float | None
    total: int


class GoalProgress(BaseModel):
    goal_id: int
    kind: GoalKind
    days: int = Field(description="The period of ``current`` (the last days).")
    current: Figures
    baseline: Figures
    series: list[WeekPoint]
    met: bool
    summary: str


class GoalWithProgress(BaseModel):
    goal: GoalPublic
    progress: GoalProgress


class KindWord(BaseModel):
    source: str = Field(description='"rating" (a satisfaction comment) or "message" (a customer wrote).')
    ticket_id: int
    quote: str
    at: dt.datetime
    score: int | None = None


class KindWords(BaseModel):
    user_id: int
    days: int
    items: list[KindWord]


class CodeCount(BaseModel):
    code: str
    replies: int
    rate: float


class ReplyCheckSummary(BaseModel):
    user_id: int
    days: int
    replies: int
    average_grade: float | None
    average_words: float | None
    codes: list[CodeCount] = Field(description="Finding codes seen in the period, by code.")
    series: list[WeekPoint] = Field(description="Per week: the share of replies with any finding.")
