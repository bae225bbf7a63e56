"""The triage contract: what ``ombud triage analyze`` prints and ``POST /api/v1/triage`` returns."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from ombud.validation import CleanText


class IntentScore(BaseModel):
    label: str
    confidence: float = Field(description="0..1")


class ConcernOut(BaseModel):
    text: str = Field(description="The concern's words (card and account numbers masked).")
    start: int = Field(description="Where the concern starts in the message text.")
    intents: list[IntentScore] = Field(description="Best first; empty when none of the intents fits.")


class EmotionOut(BaseModel):
    label: str
    scores: dict[str, float]


class UrgencyOut(BaseModel):
    level: Literal["low", "normal", "high", "urgent"]
    reasons: list[str] = Field(
        description="Any of deadline, money_at_stake, service_down, safety, legal_threat, fraud_or_security, "
        "high_frustration."
    )


class EntityOut(BaseModel):
    type: str = Field(
        description="order_number, amount, date, email, phone, product, card_number, account_number"
    )
    value: str = Field(description="Card and account numbers are always masked to their last four digits.")
    start: int
    end: int
    currency: str | None = None
    amount: float | None = None


class UnspokenOut(BaseModel):
    concern: str
    reason: str
    source: Literal["history", "intent", "message"]


class TriageResult(BaseModel):
    concerns: list[ConcernOut]
    out_of_scope: bool = Field(description="True when no concern matches any of the company's intents.")
    emotion: EmotionOut
    sentiment: float = Field(description="-1 (negative) .. 1 (positive)")
    frustration: float = Field(description="0..1, from cues, tone and the customer's history")
    urgency: UrgencyOut
    entities: list[EntityOut]
    language: str = Field(
        description="py3langid's code: ISO 639-1 for languages; very short or symbol-only text gets its "
        "best guess."
    )
    abusive: bool = Field(description="Insults, threats or harassment aimed at the agent.")
    unspoken: list[UnspokenOut] = Field(description="Concerns the customer likely has but did not write.")
    explanations: dict[str, Any] = Field(description="Why: cue words, nearest examples, history facts.")


class TriageRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: CleanText = Field(min_length=1, max_length=20_000)


CorrectionField = Literal["intents", "emotion", "sentiment", "urgency", "abusive"]
EMOTIONS = ("anger", "joy", "optimism", "sadness")


class CorrectionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    field: CorrectionField
    value: Any = Field(
        description="intents: a list of labels ([] = none fits); emotion: a label; sentiment: -1..1; "
        "urgency: low|normal|high|urgent; abusive: true|false."
    )
    concern_index: int | None = Field(default=None, ge=0, le=50, description="For intents: which concern.")

    @model_validator(mode="after")
    def _value_fits_field(self) -> CorrectionCreate:
        value, ok = self.value, False
        if self.field == "intents":
            ok = (
                isinstance(value, list)
                and len(value) <= 10
                and all(isinstance(v, str) and 0 < len(v) <= 100 and "\x00" not in v for v in value)
            )
        elif self.field == "emotion":
            ok = value in EMOTIONS
        elif self.field == "sentiment":
            ok = isinstance(value, int | float) and not isinstance(value, bool) and -1 <= value <= 1
        elif self.field == "urgency":
            ok = value in ("low", "normal", "high", "urgent")
        elif self.field == "abusive":
            ok = isinstance(value, bool)
        if not ok:
            raise ValueError(f"value does not fit field {self.field!r}: see the field's description")
        return self


class CorrectionPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    message_id: int
    field: str
    concern_index: int | None
    before: Any
    after: Any
    created_at: dt.datetime


class Catalogue(BaseModel):
    model_config = ConfigDict(extra="forbid")
    products: list[Annotated[CleanText, StringConstraints(max_length=200)]] = Field(
        max_length=5000, description="Product names entity recognition looks for."
    )
