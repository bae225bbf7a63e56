"""Shapes of tickets and messages in the API."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from ombud.customers.schemas import CustomerRef
from ombud.tickets.models import (
    AuthorType,
    Channel,
    ConcernStatus,
    DeliveryState,
    LinkKind,
    Priority,
    ReminderState,
    Status,
)
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
    confirm: bool = Field(
        default=False,
        description="Solve or close although concerns are still open (otherwise 409 open_concerns).",
    )


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


# -- tracking: concerns, links, merges, splits, reminders ---------------------------------------------------
ConcernText = Annotated[CleanText, StringConstraints(strip_whitespace=True, min_length=1, max_length=5000)]
IntentName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Reference = Annotated[CleanText, StringConstraints(strip_whitespace=True, max_length=200)]


class ConcernCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: ConcernText
    intent: IntentName | None = None
    owner_id: Id | None = Field(default=None, description="A staff user who owns the concern.")
    message_id: Id | None = Field(default=None, description="A message of the ticket the concern came from.")


class ConcernUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: ConcernText | None = None
    intent: IntentName | None = None
    status: ConcernStatus | None = None
    owner_id: Id | None = Field(default=None, description="A staff user; null removes the owner.")
    article_id: Id | None = Field(default=None, description="A knowledge article; null removes it.")
    resolution_ref: Reference | None = Field(
        default=None, description="A resolution id or a free reference (RMA 4411); null or '' removes it."
    )


class ConcernPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    ticket_id: int
    text: str
    intent: str | None
    status: ConcernStatus
    source: str = Field(description="triage (found in a customer message) or agent (added by hand).")
    owner_id: int | None
    article_id: int | None
    resolution_ref: str | None
    message_ids: list[int] = Field(default_factory=list, description="The messages it came from.")
    created_by_id: int | None
    created_at: dt.datetime
    updated_at: dt.datetime
    resolved_at: dt.datetime | None


class LinkCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["duplicate_of", "related_to", "caused_by"] = Field(
        description="This ticket is a duplicate of / related to / caused by the other."
    )
    ticket_id: Id = Field(description="The other ticket.")


class LinkPublic(BaseModel):
    id: int
    kind: LinkKind
    direction: Literal["outgoing", "incoming"] = Field(
        description="outgoing: this ticket is <kind> the other; incoming: the other is <kind> this one."
    )
    label: str = Field(description="How the link reads from this ticket: 'Duplicate of', 'Has duplicate'...")
    ticket_id: int = Field(description="The other ticket.")
    subject: str
    status: Status
    created_by_id: int | None
    created_at: dt.datetime


class MergeCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    target_id: Id = Field(description="The ticket this one is merged into.")


class MergePublic(BaseModel):
    id: int
    source_id: int
    target_id: int
    same_customer: bool
    moved_messages: int
    moved_concerns: int
    added_tags: list[str]
    merged_by_id: int | None
    created_at: dt.datetime
    undone_at: dt.datetime | None
    undone_by_id: int | None


class SplitCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    message_id: Id | None = Field(default=None, description="Move this message to a new ticket...")
    concern_id: Id | None = Field(default=None, description="...or open a new ticket for this concern.")
    subject: Subject | None = Field(default=None, description="Default: taken from the message or concern.")


class ReminderCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    due_at: dt.datetime = Field(description="When, with a time zone (ISO 8601).")
    note: Annotated[CleanText, StringConstraints(strip_whitespace=True, max_length=2000)] = ""
    user_id: Id | None = Field(default=None, description="Whom to remind; default: the caller.")


class ReminderSnooze(BaseModel):
    model_config = ConfigDict(extra="forbid")

    due_at: dt.datetime | None = Field(default=None, description="The new time...")
    minutes: Annotated[int, Field(ge=1, le=60 * 24 * 365)] | None = Field(
        default=None, description="...or this many minutes from now."
    )


class ReminderPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    ticket_id: int
    user_id: int
    created_by_id: int | None
    due_at: dt.datetime
    note: str
    state: ReminderState
    message_id: int | None = Field(description="The internal note posted when it came due.")
    created_at: dt.datetime
    updated_at: dt.datetime
