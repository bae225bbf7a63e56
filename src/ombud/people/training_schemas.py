"""What the role-play trainer's API takes and gives."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ombud.assist.schemas import Finding
from ombud.people.training_models import Persona, SessionState
from ombud.validation import CleanText

MAX_REPLY = 20000


class ScenarioCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ticket_id: int = Field(ge=1, le=2**63 - 1)
    persona: Persona | None = Field(default=None, description="Chosen from the ticket when left out.")
    advocacy_case_id: int | None = Field(default=None, ge=1, le=2**63 - 1)


class ExpectedResolution(BaseModel):
    kind: str
    amount_minor: int
    currency: str


class Expected(BaseModel):
    article_ids: list[int] = Field(default_factory=list)
    article_titles: list[str] = Field(default_factory=list)
    resolution: ExpectedResolution | None = None
    notes: str = ""


class ScenarioPublic(BaseModel):
    id: int
    title: str
    persona: Persona
    intent: str | None
    product: str | None
    language: str
    customer_name: str
    opening: str = Field(description="The customer's first message (anonymised).")
    concerns: list[str]
    expected: Expected
    replaced: dict[str, int] = Field(
        description="Kinds and counts of the values replaced (never the values)."
    )
    active: bool
    advocacy_case_id: int | None
    # Only those who manage scenarios (leads, advocates, admins) see where one came from; never a trainee's
    # session view.
    source_ticket_id: int | None = None
    created_at: dt.datetime


class ScenarioPage(BaseModel):
    items: list[ScenarioPublic]


class SessionStart(BaseModel):
    model_config = ConfigDict(extra="forbid")

    scenario_id: int = Field(ge=1, le=2**63 - 1)


class ReplyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: CleanText = Field(min_length=1, max_length=MAX_REPLY)


class DraftCheck(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: CleanText = Field(max_length=MAX_REPLY)
    dismissed: list[str] = Field(default_factory=list, max_length=200)


class PolicyNote(BaseModel):
    offered: list[str] = Field(default_factory=list, description="Amounts the reply offers, as written.")
    over_policy: bool = False
    over_expected: bool = False
    message: str = ""


class TurnFeedback(BaseModel):
    findings: list[Finding] = Field(default_factory=list)
    grade: float | None = None
    addressed: list[str] = Field(default_factory=list, description="Concerns this reply answered.")
    missed: list[str] = Field(default_factory=list, description="Concerns still unanswered after it.")
    empathy: bool = False
    outcome: bool = Field(default=False, description="It proposes the known right outcome.")
    next_step: bool = False
    dismissive: bool = False
    policy: PolicyNote = Field(default_factory=PolicyNote)
    notes: list[str] = Field(default_factory=list)
    frustration_before: float = 0.0
    frustration_after: float = 0.0
    source: Literal["script", "persona", "llm", "closing", ""] = Field(
        default="", description="Where the customer's answer came from."
    )


class TurnPublic(BaseModel):
    position: int
    role: Literal["customer", "trainee"]
    body: str
    frustration: float
    mood: str
    feedback: TurnFeedback | None = None
    created_at: dt.datetime


class Score(BaseModel):
    overall: int = Field(ge=0, le=100)
    reply_check: int = Field(ge=0, le=100)
    resolution: int = Field(ge=0, le=100)
    policy: int = Field(ge=0, le=100)
    deescalation: int = Field(ge=0, le=100)
    feedback: list[str] = Field(default_factory=list)


class SessionPublic(BaseModel):
    id: int
    scenario_id: int
    scenario_title: str
    persona: Persona
    user_id: int
    state: SessionState
    mode: str
    frustration: float
    mood: str
    customer_name: str
    concerns: list[str]
    turns: list[TurnPublic]
    trainee_turns: int
    max_turns: int
    score: Score | None = None
    started_at: dt.datetime
    finished_at: dt.datetime | None


class ReplyResult(BaseModel):
    feedback: TurnFeedback
    customer: TurnPublic | None = Field(description="The simulated customer's answer (None once finished).")
    session: SessionPublic


class SessionSummary(BaseModel):
    id: int
    scenario_id: int
    scenario_title: str
    persona: Persona
    state: SessionState
    score: Score | None = None
    started_at: dt.datetime
    finished_at: dt.datetime | None


class TrainingResults(BaseModel):
    user_id: int
    sessions: list[SessionSummary]
    averages: dict[str, int] = Field(description="Average of each score over finished sessions.")


class SuggestionPublic(BaseModel):
    scenario: ScenarioPublic
    why: str
    kind: Literal["weak_area", "advocacy", "goal", "score", "new"]


class SuggestionPage(BaseModel):
    items: list[SuggestionPublic]


class BuildOutcome(BaseModel):
    built: list[int]
    skipped: int
