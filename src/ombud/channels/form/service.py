"""A customer opens a ticket through the public web form (or the JSON API behind it).

Spam protection, cheapest first: a honeypot field people never see (a bot that fills it is refused and
kept in the quarantine for an admin to look at), a rate limit per client address that holds across
processes (rate_hits in the database), and the flood limit per customer every channel has. The answer
carries the ticket reference, and replies go out by email, threaded by the same reference.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from ombud.accounts.schemas import SYSTEM
from ombud.channels import service as channels
from ombud.customers import blocks
from ombud.customers import service as customers
from ombud.customers.schemas import CustomerRef
from ombud.errors import InvalidInput, TooManyRequests
from ombud.storage.base import utcnow
from ombud.tickets.models import Channel
from ombud.tickets.service import NewAttachment
from ombud.validation import CleanText, Name, Subject

CHANNEL = "web"
HONEYPOT = "website"


class ContactForm(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    email: CleanText = Field(min_length=3, max_length=320)
    subject: Subject
    message: CleanText = Field(min_length=1, max_length=20_000)
    website: str = Field(default="", max_length=500, description="Leave empty (the honeypot).")


class SpamSuspected(InvalidInput):
    """The honeypot was filled in: refused, and a copy kept in the quarantine (commit it)."""

    code = "spam_suspected"


@dataclass(frozen=True)
class Submitted:
    ticket_id: int
    reference: str


def submit(
    *,
    session: Session,
    form: ContactForm,
    attachments: list[NewAttachment],
    client: str,
    rate_limit: int,
    flood_limit: int,
) -> Submitted:
    """Open a ticket from the form; raise InvalidInput (honeypot), TooManyRequests (rate, flood) or
    SenderBlocked (403 ``sender_blocked``: commit, the drop is counted)."""
    # The limit first: a bot that fills the honeypot cannot fill the quarantine either.
    channels.check_rate(session=session, key=f"form:{client}", limit=rate_limit)
    if form.website.strip():
        channels.quarantine(
            session=session,
            channel=CHANNEL,
            source=f"form:{client}",
            raw_sha256=channels.store_raw(session=session, data=_as_json(form, client)),
            reason_code="honeypot",
            reason="the hidden website field was filled in, as bots do",
            sender=form.email,
            subject=form.subject,
        )
        raise SpamSuspected(
            "this form looks filled in by a program: leave the field marked 'leave empty' empty"
        )
    # Before the customer is found or created: a blocked sender leaves nothing behind.
    blocks.refuse_if_blocked(session=session, channel=CHANNEL, email=form.email)
    customer, _ = customers.resolve_customer(
        session=session, ref=CustomerRef(email=form.email, name=form.name), actor=SYSTEM
    )
    since = utcnow() - channels.FLOOD_WINDOW
    if channels.inbound_count_since(session=session, customer_id=customer.id, since=since) >= flood_limit:
        raise TooManyRequests(
            f"{form.email} sent more than {flood_limit} messages in 10 minutes; please wait",
            details={"retry_after": int(channels.FLOOD_WINDOW.total_seconds())},
        )
    _, ticket, _ = channels.take_in(
        session=session,
        ticket=None,
        incoming=channels.Incoming(
            customer_id=customer.id,
            channel=Channel.web,
            subject=form.subject,
            body=form.message.strip(),
            channel_meta={"form": "contact", "client": client, "from": form.email},
            attachments=attachments,
            # Counted like any inbound message: a form flood meets the same limit as an email flood.
            ref=(CHANNEL, f"form:{uuid.uuid4().hex}"),
        ),
    )
    return Submitted(ticket_id=ticket.id, reference=f"#{ticket.id}")


def _as_json(form: ContactForm, client: str) -> bytes:
    data: dict[str, Any] = {**form.model_dump(), "client": client}
    return json.dumps(data, ensure_ascii=False, sort_keys=True).encode()
