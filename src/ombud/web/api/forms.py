"""/api/v1/forms/contact: the public web form as JSON, for a company's own site or portal (no token)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from ombud.channels.form import service as form_channel
from ombud.customers.blocks import SenderBlocked
from ombud.runtime import Runtime
from ombud.tickets.schemas import AttachmentIn
from ombud.tickets.service import NewAttachment, decode_attachments
from ombud.web.deps import RuntimeDep

router = APIRouter(tags=["forms"])


class ContactIn(form_channel.ContactForm):
    attachments: list[AttachmentIn] = Field(default_factory=list)


class ContactOut(BaseModel):
    ticket_id: int
    reference: str = Field(description='The ticket reference to show the customer, e.g. "#42".')


@router.post("/forms/contact", response_model=ContactOut, status_code=201)
async def contact(body: ContactIn, request: Request, runtime: RuntimeDep) -> ContactOut:
    """Open a ticket from the web form. Anyone may post; `website` is a honeypot that must stay empty
    (422 `spam_suspected`), and one client address may post OMBUD_FORM_RATE_LIMIT times in 10 minutes
    (429 `rate_limited` with Retry-After); a blocked sender gets 403 `sender_blocked`."""
    attachments = decode_attachments(body.attachments, runtime.limits)
    form = form_channel.ContactForm.model_validate(body.model_dump(exclude={"attachments"}))
    client = request.client.host if request.client else "unknown"
    submitted = await run_in_threadpool(submit_form, runtime, form, attachments, client)
    return ContactOut(ticket_id=submitted.ticket_id, reference=submitted.reference)


def submit_form(
    runtime: Runtime, form: form_channel.ContactForm, attachments: list[NewAttachment], client: str
) -> form_channel.Submitted:
    """Submit in a transaction of its own (the form page and the JSON route share it)."""
    with runtime.database.session(write=True) as session:
        try:
            submitted = form_channel.submit(
                session=session,
                form=form,
                attachments=attachments,
                client=client,
                rate_limit=runtime.settings.form_rate_limit,
                flood_limit=runtime.settings.email_flood_limit,
            )
        except (form_channel.SpamSuspected, SenderBlocked):
            session.commit()  # the quarantined copy stays for an admin to look at; the drop is counted
            raise
        session.commit()
        return submitted
