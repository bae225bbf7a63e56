"""Shapes of webhook endpoints, deliveries and attempts in the API."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ombud.webhooks.models import DeliveryState


class EndpointIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    url: str = Field(min_length=1, max_length=2000, description="http:// or https:// only.")
    events: list[str] = Field(
        min_length=1,
        max_length=50,
        description="Event kinds: exact (ticket.created), a prefix (resolution.*) or * for every event.",
    )
    enabled: bool = True


class EndpointUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    url: str | None = Field(default=None, min_length=1, max_length=2000)
    events: list[str] | None = Field(default=None, min_length=1, max_length=50)
    enabled: bool | None = None


class EndpointPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    url: str
    events: list[str]
    enabled: bool
    secret_hint: str = Field(description="The secret's last four characters, to tell secrets apart.")
    created_at: dt.datetime
    updated_at: dt.datetime


class EndpointWithSecret(EndpointPublic):
    secret: str = Field(description="Shown only now: store it to verify the Ombud-Signature header.")


class AttemptPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    number: int
    started_at: dt.datetime
    duration_ms: int
    status_code: int | None
    response_excerpt: str
    error: str | None


class DeliveryPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    endpoint_id: int
    event_id: int | None
    event_kind: str
    ticket_id: int | None
    entity_type: str | None
    entity_id: int | None
    state: DeliveryState
    attempts: int
    next_attempt_at: dt.datetime | None
    last_status: int | None
    last_error: str | None
    redelivery_of_id: int | None
    created_at: dt.datetime
    finished_at: dt.datetime | None


class DeliveryDetail(DeliveryPublic):
    payload: dict[str, Any]
    attempt_log: list[AttemptPublic]


class DeliveryPage(BaseModel):
    items: list[DeliveryPublic]
    next_cursor: str | None
