"""What the people API reads and writes about emotional load, recovery breaks, team well-being policies and
help requests."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field

from ombud.people.models import BreakState, HelpState, RecoveryMode
from ombud.routing.models import Availability


class LoadPublic(BaseModel):
    """One agent's emotional load now (private to the agent and their lead)."""

    user_id: int
    load: int = Field(ge=0, le=100, description="0..100: hard contacts of the last 8 hours, weighted")
    hostile_recent: int = Field(description="Hostile contacts in the last 8 hours")
    frustrated_recent: int = Field(description="Highly frustrated (not abusive) contacts in the last 8 hours")
    hostile_in_a_row: int = Field(
        description="How many of the latest tickets given to them in a row were hostile"
    )


class ChannelLoad(BaseModel):
    channel: str
    active: int
    capacity: int


class MemberStanding(BaseModel):
    """One member of the lead's teams as the lead sees them now: no ranking, plain flags."""

    user_id: int
    name: str
    status: Availability
    break_until: dt.datetime | None
    channels: list[ChannelLoad]
    standing: LoadPublic
    open_help_requests: int
    flags: list[str]


class TeamStanding(BaseModel):
    members: list[MemberStanding]


class WellbeingPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    team_id: int
    recovery_mode: RecoveryMode
    recovery_minutes: int
    max_hostile_in_a_row: int
    updated_by_id: int | None = None
    updated_at: dt.datetime | None = None


class WellbeingUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    recovery_mode: RecoveryMode
    recovery_minutes: int = Field(ge=1, le=60)
    max_hostile_in_a_row: int = Field(ge=1, le=20)


class BreakPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    user_id: int
    ticket_id: int | None
    state: BreakState
    minutes: int
    reason: str
    created_at: dt.datetime
    answered_at: dt.datetime | None
    ends_at: dt.datetime | None


class HelpCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question: str = Field(min_length=1, max_length=2000)
    user_id: int | None = Field(default=None, ge=1, le=2**63 - 1, description="Ask one named colleague")
    team_id: int | None = Field(default=None, ge=1, le=2**63 - 1, description="Ask everyone in a team")


class HelpPublic(BaseModel):
    id: int
    ticket_id: int
    ticket_subject: str
    requester_id: int
    requester_name: str
    asked_user_id: int | None
    asked_team_id: int | None
    question: str
    state: HelpState
    created_at: dt.datetime
    closed_at: dt.datetime | None
    closed_by_id: int | None
    helper_ids: list[int]
    note_ids: list[int] = Field(description="Internal notes helpers added on the ticket since the request")


class HelpPage(BaseModel):
    items: list[HelpPublic]
