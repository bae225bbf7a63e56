"""Shapes of reply assistance: the facts a reply is written from (``ReplyContext``), the reply check's
findings, the draft, tone rewrites, and the glossary and voice that admins set."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ombud.validation import CleanText

Severity = Literal["info", "warning"]
Tone = Literal["friendlier", "formal", "simpler"]
MAX_REPLY = 20_000


# -- the facts a reply is drafted from and checked against ------------------------------------------------
class Concern(BaseModel):
    """One concern triage found in a customer message the reply should answer."""

    text: str
    message_id: int = 0
    index: int = 0  # the concern's position in its message's triage (suggestions are keyed by it)
    intents: list[str] = Field(default_factory=list)


class Passage(BaseModel):
    """A help article suggested for a concern, with the part of it that matched."""

    article_id: int
    title: str
    slug: str
    passage: str
    score: float = 0.0

    @property
    def url(self) -> str:
        return f"/help/{self.slug}"


class History(BaseModel):
    """What the customer's past says that a reply may use."""

    customer_since: dt.datetime | None = None
    recent_tickets: int = 0  # tickets opened in the last 90 days, this one included
    repeat_contact: bool = False  # they have written to us about the same thing before
    other_open: list[str] = Field(default_factory=list)  # subjects of their other unresolved tickets
    products: list[str] = Field(default_factory=list)


class ReplyContext(BaseModel):
    """Everything the drafter and the reply check know about the conversation being answered."""

    ticket_id: int = 0
    customer_name: str = ""
    agent_name: str = ""
    concerns: list[Concern] = Field(default_factory=list)
    emotion: str | None = None
    emotion_score: float = 0.0
    frustration: float = 0.0
    urgency: str = "normal"
    urgency_reasons: list[str] = Field(default_factory=list)
    # Every entity triage found in the customer's messages of this ticket ({"type", "value", "amount"?}).
    entities: list[dict[str, object]] = Field(default_factory=list)
    # The public conversation's text (the customer's and agents' messages): details the reply repeats must
    # come from here or from a suggested passage.
    conversation: str = ""
    customer_text: str = ""  # the customer's own words only: terms they used are not jargon to them
    suggestions: dict[int, list[Passage]] = Field(default_factory=dict)  # concern position -> best first
    history: History = Field(default_factory=History)

    @property
    def first_name(self) -> str:
        name = self.customer_name.strip()
        if not name or "@" in name:
            return ""
        return name.split()[0]

    @property
    def upset(self) -> bool:
        """Whether the customer is upset enough that a reply must acknowledge it. The emotion label alone
        is not enough: on a calm one-line question the model's top label is often a weak "anger"."""
        strong_emotion = self.emotion in {"anger", "sadness"} and self.emotion_score >= 0.5
        return self.frustration >= 0.5 or strong_emotion


# -- the reply check -------------------------------------------------------------------------------------
class Finding(BaseModel):
    id: str = Field(description="Stable for the same code and matched text: a dismissal survives re-checks.")
    code: str
    severity: Severity
    message: str = Field(description="Why this matters, in plain English.")
    start: int | None = Field(
        description="Where the matched text starts in the reply (None: the whole reply)."
    )
    end: int | None
    excerpt: str
    suggestion: str | None = Field(description="A concrete replacement or action, when there is one.")


class CheckResult(BaseModel):
    findings: list[Finding]
    grade: float | None = Field(description="Flesch-Kincaid grade of the reply (None for an empty reply).")
    words: int


class CheckRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: CleanText = Field(max_length=MAX_REPLY)
    dismissed: list[str] = Field(
        default_factory=list, max_length=500, description="Finding ids to leave out."
    )


# -- the draft -------------------------------------------------------------------------------------------
class DraftParagraph(BaseModel):
    text: str
    concern_index: int | None = Field(description="Which concern (position in `concerns`) this answers.")
    concern: str | None
    article_id: int | None


class Draft(BaseModel):
    text: str
    paragraphs: list[DraftParagraph]
    article_ids: list[int]
    source: Literal["template", "model"]


# -- tone rewrites ---------------------------------------------------------------------------------------
class RewriteRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: CleanText = Field(min_length=1, max_length=MAX_REPLY)
    tone: Tone


class RewriteResult(BaseModel):
    text: str


# -- glossary and voice ----------------------------------------------------------------------------------
# Rows are plain strings here; what makes a row bad (blank, too long, a duplicate) is checked by the
# service, so the error can name the row with one stable code (invalid_glossary / invalid_voice).
class GlossaryTermIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    term: CleanText
    plain: CleanText
    note: CleanText = ""


class GlossaryTermPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    term: str
    plain: str
    note: str


class Glossary(BaseModel):
    model_config = ConfigDict(extra="forbid")
    terms: list[GlossaryTermIn] = Field(max_length=2000)


class GlossaryPublic(BaseModel):
    terms: list[GlossaryTermPublic]


class VoiceRuleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    avoid: CleanText
    prefer: CleanText = ""
    note: CleanText = ""


class VoiceRulePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    avoid: str
    prefer: str
    note: str


class Voice(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rules: list[VoiceRuleIn] = Field(max_length=2000)


class VoicePublic(BaseModel):
    rules: list[VoiceRulePublic]
