"""The neutral shape every source is read into: one ticket with its customer and its messages, or a record
the source could not turn into one (a skip, with a stable reason code)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

# Stable reason codes of skipped records (docs/import.md lists them with what to fix).
SKIP_REASONS = {
    "invalid_json": "the line or file is not valid JSON",
    "invalid_record": "a required field is missing or has the wrong type",
    "invalid_timestamp": "a timestamp is not ISO 8601",
    "invalid_status": "the status is not one ombud knows (or maps from the source)",
    "invalid_priority": "the priority is not one ombud knows (or maps from the source)",
    "invalid_channel": "the channel is not one ombud knows",
    "invalid_identity": "an email address, phone number or handle of the customer is not valid (dropped)",
    "identity_taken": "an identity already belongs to another customer than the one it came with (dropped)",
    "no_customer": "the ticket names no customer ombud can find or create",
    "no_messages": "the ticket has no message with text",
    "empty_message": "a message or comment has no text (a status change, an empty note)",
    "duplicate_in_source": "the same ticket id appears twice in the source",
    "split_ticket_rows": "a CSV ticket's rows are not consecutive",
    "body_too_large": "a message is over the OMBUD_MAX_BODY_CHARS limit (cut, not dropped)",
    "unknown_ticket": "a comment or follow-up points at a ticket the source does not have",
}


@dataclass
class CustomerIn:
    """Who a ticket is from. ``key`` is the source's own id of the person (found again on a rerun)."""

    key: str | None = None
    name: str = ""
    email: str | None = None
    phone: str | None = None
    handle: str | None = None
    organisation: str | None = None


@dataclass
class MessageIn:
    body_text: str
    created_at: dt.datetime
    author: str = "customer"  # customer, agent or system
    internal: bool = False
    body_html: str | None = None
    author_email: str | None = None
    author_name: str | None = None
    ref: str | None = None  # the source's id of the message, kept in channel_meta


@dataclass
class TicketIn:
    external_id: str
    subject: str
    status: str
    priority: str
    channel: str
    created_at: dt.datetime
    customer: CustomerIn
    messages: list[MessageIn]
    updated_at: dt.datetime | None = None
    resolved_at: dt.datetime | None = None
    tags: list[str] = field(default_factory=list)
    assignee_email: str | None = None


@dataclass
class Skip:
    kind: str
    ref: str
    reason: str
    detail: str = ""


# What a source yields: a ticket (with the skips found while reading it), or a record it could not read.
@dataclass
class Read:
    ticket: TicketIn | None
    skips: list[Skip] = field(default_factory=list)
