"""What the SLA API reads and returns: calendars, policies and a ticket's clocks."""

from __future__ import annotations

import datetime as dt
import itertools
from functools import cache
from typing import Annotated, Any
from zoneinfo import available_timezones

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

from ombud.sla import hours
from ombud.sla.models import Metric
from ombud.tickets.models import Channel, Priority, Status

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Id = Annotated[int, Field(ge=1, le=2**63 - 1)]
Minutes = Annotated[int, Field(ge=1, le=366 * 24 * 60, description="Business minutes (at most a year).")]
# Solved and closed stop the clocks; these are the statuses a policy may choose to pause in.
PAUSABLE = (Status.new.value, Status.open.value, Status.pending.value, Status.on_hold.value)
DEFAULT_PAUSED = [Status.pending.value, Status.on_hold.value]


@cache
def _zones() -> frozenset[str]:
    return frozenset(available_timezones())


def check_time_zone(value: str) -> str:
    if value not in _zones():
        raise ValueError(f"unknown time zone {value!r}; use an IANA name such as Europe/Berlin or UTC")
    return value


def check_hours(value: dict[str, list[list[str]]]) -> dict[str, list[list[str]]]:
    """Return weekly hours with days in order and intervals sorted; raise ValueError naming the problem."""
    cleaned: dict[str, list[list[str]]] = {}
    unknown = sorted(set(value) - set(hours.WEEKDAYS))
    if unknown:
        raise ValueError(f"unknown weekday {unknown[0]!r}; use {', '.join(hours.WEEKDAYS)}")
    for day in hours.WEEKDAYS:
        spans = []
        for interval in value.get(day, []):
            if len(interval) != 2:
                raise ValueError(f'{day}: write each interval as [start, end], e.g. ["09:00", "17:30"]')
            start, end = hours.parse_hhmm(interval[0]), hours.parse_hhmm(interval[1])
            if end <= start:
                raise ValueError(
                    f"{day}: {interval[0]}-{interval[1]} ends before it starts; split a night shift at "
                    "midnight (22:00-24:00, then 00:00-06:00 the next day)"
                )
            spans.append((start, end))
        spans.sort()
        for (_, end), (start, _) in itertools.pairwise(spans):
            if start < end:
                raise ValueError(
                    f"{day}: intervals overlap at {hours.format_hhmm(start)}; merge them into one"
                )
        if spans:
            cleaned[day] = [[hours.format_hhmm(s), hours.format_hhmm(e)] for s, e in spans]
    if not cleaned:
        raise ValueError("give business hours for at least one weekday")
    return cleaned


class Holiday(BaseModel):
    model_config = ConfigDict(extra="forbid")
    date: dt.date
    name: str = Field(default="", max_length=200)


Hours = dict[str, list[list[str]]]
HOURS_EXAMPLE = {day: [["09:00", "17:30"]] for day in hours.WEEKDAYS[:5]}


class CalendarCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    time_zone: str = Field(description="An IANA time zone, e.g. Europe/Berlin.")
    hours: Hours = Field(
        description='Weekly hours: weekday (mon..sun) to intervals ["HH:MM", "HH:MM"]; '
        "missing days are closed.",
        examples=[HOURS_EXAMPLE],
    )
    holidays: list[Holiday] = Field(default_factory=list, max_length=1000)
    is_default: bool = Field(default=False, description="The calendar of tickets whose team has none.")

    _zone = field_validator("time_zone")(check_time_zone)
    _hours = field_validator("hours")(check_hours)


class CalendarUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    time_zone: str | None = None
    hours: Hours | None = None
    holidays: list[Holiday] | None = Field(default=None, max_length=1000)
    is_default: bool | None = None

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        return None if value is None else check_time_zone(value)

    @field_validator("hours")
    @classmethod
    def _hours(cls, value: Hours | None) -> Hours | None:
        return None if value is None else check_hours(value)


class CalendarPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    time_zone: str
    hours: Hours
    holidays: list[Holiday]
    is_default: bool
    team_ids: list[int] = Field(default_factory=list)
    created_at: dt.datetime
    updated_at: dt.datetime


class TeamCalendarSet(BaseModel):
    model_config = ConfigDict(extra="forbid")
    calendar_id: Id | None = Field(description="The team's calendar; null: the default calendar.")


class Conditions(BaseModel):
    """Which tickets a policy applies to: each non-empty list must contain the ticket's value."""

    model_config = ConfigDict(extra="forbid")

    channels: list[Channel] = Field(default_factory=list)
    tiers: list[Annotated[str, StringConstraints(strip_whitespace=True, to_lower=True, max_length=40)]] = (
        Field(default_factory=list)
    )
    priorities: list[Priority] = Field(default_factory=list)
    intents: list[Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)]] = Field(
        default_factory=list, description="Matches when triage found any of these intents."
    )
    team_ids: list[Id] = Field(default_factory=list)


class Escalation(BaseModel):
    """What happens when a target is breached (warnings always notify the assignee)."""

    model_config = ConfigDict(extra="forbid")

    notify: bool = Field(default=True, description="An internal note mentioning the team's leads.")
    raise_priority: bool = Field(default=False, description="Raise the priority one step.")
    team_id: Id | None = Field(default=None, description="Move the ticket to this team.")
    unassign: bool = Field(default=False, description="Put the ticket back in the queue.")


def check_targets(value: dict[str, int]) -> dict[str, int]:
    unknown = sorted(set(value) - {m.value for m in Metric})
    if unknown:
        raise ValueError(f"unknown metric {unknown[0]!r}; use {', '.join(m.value for m in Metric)}")
    return value


def check_paused(value: list[str]) -> list[str]:
    wrong = [s for s in value if s not in PAUSABLE]
    if wrong:
        raise ValueError(f"cannot pause in {wrong[0]!r}; choose from {', '.join(PAUSABLE)}")
    return sorted(set(value), key=PAUSABLE.index)


class PolicyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    active: bool = True
    conditions: Conditions = Field(default_factory=Conditions)
    targets: dict[str, Minutes] = Field(
        description="Business minutes per metric: first_response, next_response, resolution.",
        examples=[{"first_response": 60, "next_response": 240, "resolution": 1440}],
    )
    paused_statuses: list[str] = Field(default_factory=lambda: list(DEFAULT_PAUSED))
    warn_before_minutes: int | None = Field(default=None, ge=0, le=366 * 24 * 60)
    warn_fraction: float | None = Field(
        default=0.8, gt=0, lt=1, description="Warn when this fraction of the target has passed."
    )
    escalation: Escalation = Field(default_factory=Escalation)
    position: int | None = Field(default=None, ge=1, description="1 = checked first; default: last.")

    _targets = field_validator("targets")(check_targets)
    _paused = field_validator("paused_statuses")(check_paused)

    @model_validator(mode="after")
    def _needs_target(self) -> PolicyCreate:
        if not self.targets:
            raise ValueError("give at least one target (first_response, next_response or resolution)")
        return self


class PolicyUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    active: bool | None = None
    conditions: Conditions | None = None
    targets: dict[str, Minutes] | None = None
    paused_statuses: list[str] | None = None
    warn_before_minutes: int | None = Field(default=None, ge=0, le=366 * 24 * 60)
    warn_fraction: float | None = Field(default=None, gt=0, lt=1)
    escalation: Escalation | None = None

    @field_validator("targets")
    @classmethod
    def _targets(cls, value: dict[str, int] | None) -> dict[str, int] | None:
        if value is not None and not value:
            raise ValueError("give at least one target (first_response, next_response or resolution)")
        return None if value is None else check_targets(value)

    @field_validator("paused_statuses")
    @classmethod
    def _paused(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else check_paused(value)


class PolicyPublic(BaseModel):
    id: int
    name: str
    position: int
    active: bool
    conditions: Conditions
    targets: dict[str, int]
    paused_statuses: list[str]
    warn_before_minutes: int | None
    warn_fraction: float | None
    escalation: Escalation
    created_at: dt.datetime
    updated_at: dt.datetime


class PolicyOrder(BaseModel):
    model_config = ConfigDict(extra="forbid")
    policy_ids: list[Id] = Field(description="Every policy id, in the order they are checked.")


class ClockPublic(BaseModel):
    metric: Metric
    state: str
    target_minutes: int
    elapsed_minutes: float
    started_at: dt.datetime
    due_at: dt.datetime | None
    minutes_left: float | None = Field(description="Real minutes until due_at; negative once breached.")
    paused: bool
    breached: bool
    breached_at: dt.datetime | None
    achieved_at: dt.datetime | None
    warned_at: dt.datetime | None


class TicketSlaPublic(BaseModel):
    ticket_id: int
    policy: dict[str, Any] | None = Field(description="The policy in force: id and name (null: none).")
    calendar: dict[str, Any] = Field(description="The business calendar: id (null: 24/7), name, time_zone.")
    waiting_since: dt.datetime | None
    clocks: list[ClockPublic]
