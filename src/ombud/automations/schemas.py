"""Shapes of automation rules, their runs and dry runs in the API (the rule language: ``rules``)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Trigger = Literal["event", "time"]


class RuleIn(BaseModel):
    """A rule to save or to try. The conditions and actions are checked by ``ombud.automations.rules``,
    whose errors name the bad condition or action by its path."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    enabled: bool = True
    position: int | None = Field(
        default=None, ge=0, le=1_000_000, description="Order among rules (lower runs first); default last."
    )
    trigger: Trigger = Field(description="event: when an event happens; time: when time has passed.")
    events: list[str] = Field(
        default_factory=list,
        max_length=20,
        description="For event rules: event kinds (ticket.created, message.added, sla.breached...) or "
        "prefixes (sla.*).",
    )
    since: str | None = Field(
        default=None,
        description="For time rules: created, status_changed, customer_message or agent_reply.",
    )
    hours: float | None = Field(default=None, description="For time rules: hours after `since`.")
    conditions: dict[str, Any] = Field(
        default_factory=dict, description='{"all": [...]} or {"any": [...]} of {field, op, value}.'
    )
    actions: list[Any] = Field(default_factory=list, max_length=20)


class RuleUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    enabled: bool | None = None
    position: int | None = Field(default=None, ge=0, le=1_000_000)
    trigger: Trigger | None = None
    events: list[str] | None = Field(default=None, max_length=20)
    since: str | None = None
    hours: float | None = None
    conditions: dict[str, Any] | None = None
    actions: list[Any] | None = Field(default=None, max_length=20)


class RulePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    position: int
    enabled: bool
    trigger: Trigger
    events: list[str]
    since: str | None
    hours: float | None
    conditions: dict[str, Any]
    actions: list[dict[str, Any]]
    created_at: dt.datetime
    updated_at: dt.datetime


class RuleOrder(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ids: list[int] = Field(min_length=1, max_length=1000, description="Every rule id, in the new order.")


class RunPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    rule_id: int
    ticket_id: int
    event_id: int | None
    event_kind: str
    applied: list[dict[str, Any]]
    error: str | None
    created_at: dt.datetime


class RunPage(BaseModel):
    items: list[RunPublic]
    next_cursor: str | None


class DryRunItem(BaseModel):
    ticket_id: int
    subject: str
    status: str
    changes: list[dict[str, Any]] = Field(
        description="What the rule would do: {action, from, to} for fields, {action, text} for messages."
    )


class DryRunPage(BaseModel):
    items: list[DryRunItem]
    scanned: int = Field(description="How many tickets this page looked at.")
    not_checked: list[str] = Field(
        description="Conditions that depend on the event and were taken as met (the actor, what changed)."
    )
    next_cursor: str | None = Field(description="Pass as cursor to look at the next, older tickets.")
