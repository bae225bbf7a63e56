"""Shapes of the quarantine and of deliveries in the API."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict

from ombud.channels.models import QuarantineState


class QuarantinedPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    channel: str
    source: str
    sender: str
    subject: str
    reason_code: str
    reason: str
    state: QuarantineState
    message_id: int | None
    created_at: dt.datetime
    resolved_at: dt.datetime | None


class QuarantinePage(BaseModel):
    items: list[QuarantinedPublic]
    next_cursor: str | None


class ReceivedPublic(BaseModel):
    """What became of an inbound message."""

    outcome: str
    ticket_id: int | None
    message_id: int | None
    quarantine_id: int | None
    reason: str


class DeliveryPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    message_id: int
    channel: str
    state: str
    recipient: str
    ref: str | None
    attempts: int
    next_attempt_at: dt.datetime
    last_error: str
    sent_at: dt.datetime | None
