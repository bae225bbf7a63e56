"""Shapes of a call record in the API."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from ombud.channels.models import CallDirection, CallOutcome
from ombud.validation import CleanText


class Turn(BaseModel):
    """One speaker's turn in the transcript."""

    model_config = ConfigDict(extra="forbid")

    speaker: Literal["customer", "agent", "other"]
    text: CleanText = Field(min_length=1, max_length=20_000)
    offset_seconds: float | None = Field(default=None, ge=0, le=86_400, description="From the call's start.")


class CallIn(BaseModel):
    """A call to record: from the telephony system after the call, or logged by an agent by hand."""

    model_config = ConfigDict(extra="forbid")

    external_id: CleanText | None = Field(
        default=None,
        max_length=255,
        description="The telephony system's call id; posting the same id again returns the first record.",
    )
    direction: CallDirection
    caller: CleanText = Field(max_length=40, description="The calling number, with country code.")
    callee: CleanText = Field(max_length=40, description="The called number, with country code.")
    started_at: AwareDatetime
    duration_seconds: int = Field(ge=0, le=86_400)
    outcome: CallOutcome
    agent_id: int | None = Field(default=None, ge=1, le=2**62, description="The agent on the call.")
    recording_ref: CleanText | None = Field(default=None, max_length=2000)
    transcript: list[Turn] = Field(default_factory=list, max_length=5000)
    ticket_id: int | None = Field(
        default=None, ge=1, le=2**62, description="Log the call on this ticket instead of a new one."
    )
    subject: CleanText | None = Field(default=None, max_length=500)
    customer_name: CleanText | None = Field(default=None, max_length=200)


class CallPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    external_id: str | None
    ticket_id: int
    message_id: int
    customer_id: int
    direction: CallDirection
    caller: str
    callee: str
    started_at: dt.datetime
    duration_seconds: int
    outcome: CallOutcome
    agent_user_id: int | None
    recording_ref: str | None
    transcript: list[Turn]
    created_at: dt.datetime
