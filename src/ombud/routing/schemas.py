"""Shapes of routing in the API: skills, availability and capacity, team settings, the queue, decisions."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from ombud.routing.models import Availability, QueueState, SkillKind
from ombud.tickets.models import Channel
from ombud.validation import check_text

Id = Annotated[int, Field(ge=1, le=2**63 - 1)]
SkillValue = Annotated[
    str,
    StringConstraints(strip_whitespace=True, to_lower=True, min_length=1, max_length=100),
    AfterValidator(check_text),
]
Capacity = Annotated[int, Field(ge=0, le=1000)]


class SkillIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: SkillKind
    value: SkillValue = Field(description="An intent label, a language code (en), a product or a channel.")
    level: int = Field(default=3, ge=1, le=5, description="1 (can help) to 5 (expert).")


class SkillsUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    skills: list[SkillIn] = Field(max_length=200, description="Replaces all of the agent's skills.")


class CapacityUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    capacity: dict[Channel, Capacity] = Field(
        description="Active tickets at once per channel (0: never routed tickets of that channel); "
        "channels left out keep their current value."
    )


class AvailabilityUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: Availability
    until: dt.datetime | None = Field(
        default=None, description="Only with status break: when the break ends (the agent is online again)."
    )


class SkillPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    kind: SkillKind
    value: str
    level: int


class AgentRouting(BaseModel):
    user_id: int
    name: str
    role: str
    active: bool
    status: Availability
    break_until: dt.datetime | None
    status_changed_at: dt.datetime | None
    capacity: dict[str, int]
    load: dict[str, int]
    skills: list[SkillPublic]
    team_ids: list[int]


class TeamRules(BaseModel):
    model_config = ConfigDict(extra="forbid")

    channels: list[Channel] = Field(default_factory=list, max_length=20)
    intents: list[SkillValue] = Field(default_factory=list, max_length=200)
    languages: list[SkillValue] = Field(default_factory=list, max_length=100)
    products: list[SkillValue] = Field(default_factory=list, max_length=200)
    tiers: list[SkillValue] = Field(default_factory=list, max_length=20)


class TeamRoutingUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rules: TeamRules | None = Field(
        default=None,
        description="Which new tickets the team takes (an empty list: any); null: none by rules.",
    )
    position: int | None = Field(default=None, ge=0, le=10_000, description="Lower wins a tie between teams.")
    auto_assign: bool | None = Field(default=None, description="Assign to agents automatically (admin only).")
    overflow_team_id: Id | None = Field(default=None, description="Where waiting tickets go; null for none.")
    overflow_after_minutes: int | None = Field(default=None, ge=1, le=7 * 24 * 60)


class TeamRoutingPublic(BaseModel):
    team_id: int
    name: str
    rules: TeamRules
    takes_new_tickets: bool = Field(description="Whether the team takes new tickets by its rules.")
    position: int
    auto_assign: bool
    overflow_team_id: int | None
    overflow_after_minutes: int | None
    configured: bool


class QueuedTicketPublic(BaseModel):
    ticket_id: int
    subject: str
    priority: str
    channel: str
    team_id: int | None
    state: QueueState
    reason: str
    needs: dict[str, Any]
    enqueued_at: dt.datetime
    waited_seconds: int
    overflow_at: dt.datetime | None


class TeamQueue(BaseModel):
    team_id: int | None
    name: str
    count: int
    oldest_enqueued_at: dt.datetime | None
    oldest_wait_seconds: int


class QueueListing(BaseModel):
    teams: list[TeamQueue]
    tickets: list[QueuedTicketPublic]


class DecisionPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    ticket_id: int
    trigger: str
    outcome: str
    team_id: int | None
    user_id: int | None
    reason: str
    needs: dict[str, Any]
    candidates: list[dict[str, Any]]
    created_at: dt.datetime
