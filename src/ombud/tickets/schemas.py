"""Shapes of tickets and messages in the API."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from ombud.customers.schemas import CustomerRef
from ombud.tickets.models import AuthorType, Channel, DeliveryState, Priority, Status
from ombud.validation import CleanText, Subject, check_text

ExternalId = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), AfterValidator(check_text)
]
TagName = Annotated[str, StringConstraints(max_length=100), AfterValidator(check_text)]
Id = Annotated[int, Field(ge=1, le=2**63 - 1)]


class AttachmentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    filename: Annotated[CleanText, StringConstraints(min_length=1, max_length=255)]
    # RFC 6838 names, ASCII only: the value is sent back as a header.
    content_type: Annotated[
        str, StringConstraints(pattern=r"^[A-Za-z0-9!#$&^_.+-]+/[A-Za-z0-9!#$&^_.+-]+$", max_length=255)
    ] = "application/octet-stream"
    content_base64: str = Field(description="The file's bytes, base64-encoded.")


class MessageCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    body: Annotated[CleanText, StringConstraints(min_length=1)]
    internal: bool = Field(default=False, description="An internal note, never shown to the customer.")
    body_html: CleanText | None = Field(default=None, description="HTML version; sanitised before storing.")
    attachments: list[AttachmentIn] = Field(default_factory=list)


class TicketCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    customer: CustomerRef | None = Field(
        default=None, description="Who wrote in. Required for staff; a customer's own token implies it."
    )
    channel: Channel = Channel.api
    subject: Subject
    body: Annotated[CleanText, StringConstraints(min_length=1)] = Field(
        description="The customer's first message."
    )
    body_html: CleanText | None = None
    external_id: ExternalId | None = Field(
        default=None, description="Idempotency key: the same external_id always gives the same ticket."
    )
    priority: Priority | None = None
    tags: list[TagName] = Field(default_factory=list, max_length=50)
    attachments: list[AttachmentIn] = Field(default_factory=list)


class TicketUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    subject: Subject | None = None
    status: Status | None = None
    priority: Priority | None = None
    assignee_id: Id | None = Field(default=None, description="A user id; null unassigns.")
    team_id: Id | None = Field(default=None, description="A team id; null removes the team.")
    tags: list[TagName] | None = Field(default=None, max_length=50, description="Replaces all tags.")


class AttachmentPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    filename: str
    content_type: str
    size: int


class MessagePublic(BaseModel):
    # Read from ORM objects by alias (body_text), or built by field name.
    model_config = ConfigDict(from_attributes=True, validate_by_name=True, validate_by_alias=True)
    id: int
    ticket_id: int
    author_type: AuthorType
    author_user_id: int | None
    channel: Channel
    internal: bool
    body: str = Field(validation_alias="body_text")
    body_html: str | None
    created_at: dt.datetime
    attachments: list[AttachmentPublic]
    channel_meta: dict[str, Any] = Field(
        default_factory=dict,
        description="What the channel said about the message: for an email from, to, cc, subject, "
        "message_id, auto_reply, dropped_attachments.",
    )
    delivery_state: DeliveryState | None = Field(
        default=None,
        description="For a public agent reply: pending, sent, failed, bounced, or none (the channel has no "
        "outbound side). Null on everything else.",
    )
    triage: dict[str, Any] | None = Field(
        default=None,
        description="The message's triage (see POST /api/v1/triage for its shape); null until the background "
        "job has done it, for agents' messages, and always for customers.",
    )


class TicketPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True, validate_by_name=True, validate_by_alias=True)
    id: int
    subject: str
    status: Status
    priority: Priority
    channel: Channel
    customer_id: int
    assignee_id: int | None
    team_id: int | None
    tags: list[str] = Field(validation_alias="tag_names")
    external_id: str | None
    follow_up_of_id: int | None = Field(
        default=None, description="The closed ticket this one continues (the customer wrote again)."
    )
    created_at: dt.datetime
    updated_at: dt.datetime
    first_response_at: dt.datetime | None
    resolved_at: dt.datetime | None


class TicketDetail(TicketPublic):
    messages: list[MessagePublic]


class TicketPage(BaseModel):
    items: list[TicketPublic]
    next_cursor: str | None


class TicketFilters(BaseModel):
    status: list[Status] = Field(default_factory=list)
    assignee_id: int | None = None
    unassigned: bool = False
    customer_id: int | None = None
    team_id: int | None = None
    tag: str | None = None
    channel: Channel | None = None
    q: str | None = None
