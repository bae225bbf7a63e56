"""Shapes of social endpoints and of the messages platforms post to the webhook."""

from __future__ import annotations

import datetime as dt

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from ombud.tickets.schemas import AttachmentIn
from ombud.validation import CleanText

ENDPOINT_NAME = r"^[a-z0-9][a-z0-9_-]{0,49}$"


class EndpointCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=ENDPOINT_NAME, description="Short unique name; part of the webhook URL.")
    platform: CleanText = Field(min_length=1, max_length=50, description="e.g. whatsapp, instagram, x.")
    callback_url: str | None = Field(
        default=None, max_length=2000, pattern=r"^https?://\S+$", description="Where replies are POSTed."
    )


class EndpointUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    callback_url: str | None = Field(default=None, max_length=2000, pattern=r"^https?://\S+$")
    active: bool | None = None


class EndpointPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str
    platform: str
    callback_url: str | None
    active: bool
    created_at: dt.datetime


class EndpointWithSecret(EndpointPublic):
    secret: str = Field(description="Shown when created or rotated, never again.")


class Sender(BaseModel):
    model_config = ConfigDict(extra="forbid")

    handle: CleanText = Field(min_length=1, max_length=80, pattern=r"^\S+$")
    name: CleanText | None = Field(default=None, max_length=200)


class SocialMessageIn(BaseModel):
    """One message a customer sent on the platform."""

    model_config = ConfigDict(extra="forbid")

    id: CleanText = Field(min_length=1, max_length=200, description="The platform's message id.")
    sender: Sender = Field(alias="from")
    text: CleanText = Field(default="", max_length=20_000)
    conversation_id: CleanText | None = Field(default=None, max_length=200)
    sent_at: AwareDatetime | None = None
    attachments: list[AttachmentIn] = Field(default_factory=list)
