"""Shapes of customers and identities in the API."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ombud.customers.models import IdentityKind
from ombud.validation import CleanText, JsonDocument, Name


class CustomerRef(BaseModel):
    """How a request names a customer: at least one identity; found by it, or created."""

    model_config = ConfigDict(extra="forbid")

    email: CleanText | None = Field(default=None, max_length=320)
    phone: CleanText | None = Field(default=None, max_length=40)
    handle: CleanText | None = Field(default=None, max_length=200)
    visitor: CleanText | None = Field(default=None, max_length=100)
    name: Name | None = None

    @model_validator(mode="after")
    def _needs_identity(self) -> CustomerRef:
        if not any((self.email, self.phone, self.handle, self.visitor)):
            raise ValueError("give at least one of email, phone, handle or visitor")
        return self

    def identities(self) -> list[tuple[IdentityKind, str]]:
        """Return the identities in the order they are tried: email, phone, handle, visitor."""
        pairs = [
            (IdentityKind.email, self.email),
            (IdentityKind.phone, self.phone),
            (IdentityKind.handle, self.handle),
            (IdentityKind.visitor, self.visitor),
        ]
        return [(kind, value) for kind, value in pairs if value]


class IdentityPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    kind: IdentityKind
    value: str
    created_at: dt.datetime


class OrganisationPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str
    domain: str | None


class CustomerPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str
    organisation: OrganisationPublic | None
    preferences: dict[str, Any]
    notes: str
    identities: list[IdentityPublic]
    merged_into_id: int | None = None
    created_at: dt.datetime
    updated_at: dt.datetime


class MergeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source_id: int = Field(ge=1, le=2**62, description="The customer to merge into this one.")


class MergePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    target_id: int
    source_id: int
    moved: dict[str, Any] = Field(
        description="rows: the ids moved, by table; filled: target fields taken over"
    )
    merged_by_id: int | None
    created_at: dt.datetime
    undone_at: dt.datetime | None


class CustomerUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    notes: CleanText | None = Field(default=None, max_length=20_000)
    preferences: JsonDocument | None = None
    organisation: Name | None = Field(default=None, description="Organisation name; created if new.")


class TimelineItem(BaseModel):
    """One entry of a customer's timeline: a message or an event."""

    type: str  # "message" | "event"
    id: int
    at: dt.datetime
    ticket_id: int | None
    channel: str | None = None
    author_type: str | None = None
    internal: bool | None = None
    body: str | None = None
    action: str | None = None
    actor_type: str | None = None
    actor_id: int | None = None
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None


class TimelinePage(BaseModel):
    items: list[TimelineItem]
    next_cursor: str | None
