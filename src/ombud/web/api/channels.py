"""/api/v1/channels: the quarantine of what could not be taken in; a message's source and delivery."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import Response

from ombud.channels import service as channels
from ombud.channels.email import service as email_channel
from ombud.channels.models import QuarantineState
from ombud.channels.schemas import DeliveryPublic, QuarantinedPublic, QuarantinePage, ReceivedPublic
from ombud.channels.social import service as social
from ombud.errors import Conflict, Forbidden, NotFound
from ombud.tickets import feeds
from ombud.tickets import service as tickets
from ombud.web.api.common import IdPath
from ombud.web.deps import CurrentPrincipal, ReadSession, RuntimeDep, WriteSession

router = APIRouter(tags=["channels"])
EML: dict[int | str, dict[str, Any]] = {
    200: {"content": {"message/rfc822": {}}, "description": "The message exactly as it arrived."}
}


@router.get("/channels/quarantine", response_model=QuarantinePage)
def list_quarantine(
    session: ReadSession,
    principal: CurrentPrincipal,
    state: QuarantineState | None = QuarantineState.held,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> QuarantinePage:
    """What channels received but did not take in (no sender, a bounce, a mail loop, a flood), newest
    first, with the reason (admins)."""
    items, next_cursor = channels.list_quarantine(
        session=session, principal=principal, state=state, limit=limit, cursor=cursor
    )
    return QuarantinePage(items=[QuarantinedPublic.model_validate(i) for i in items], next_cursor=next_cursor)


@router.get("/channels/quarantine/{item_id}/source", response_class=Response, responses=EML)
def quarantined_source(item_id: IdPath, session: ReadSession, principal: CurrentPrincipal) -> Response:
    """The quarantined message exactly as it arrived (admins)."""
    item = channels.access_quarantined(session=session, principal=principal, item_id=item_id)
    raw = channels.raw_source(session=session, sha256=item.raw_sha256) or b""
    return Response(raw, media_type="message/rfc822")


@router.post("/channels/quarantine/{item_id}/release", response_model=ReceivedPublic)
def release(
    item_id: IdPath, session: WriteSession, principal: CurrentPrincipal, runtime: RuntimeDep
) -> ReceivedPublic:
    """Take a quarantined email or platform message in after all: it threads or opens a ticket as if it
    had just arrived (the flood, loop and bounce checks waived). Other items can only be discarded."""
    item = channels.access_quarantined(session=session, principal=principal, item_id=item_id)
    if item.channel == "social":
        taken = social.release(session=session, item=item, actor=principal, limits=runtime.limits)
        session.commit()
        return ReceivedPublic(
            outcome=taken.outcome,
            ticket_id=taken.ticket_id,
            message_id=taken.message_id,
            quarantine_id=item.id,
            reason=taken.reason,
        )
    if item.channel != "email":
        raise Conflict(
            f"quarantined item {item_id} ({item.reason_code}) cannot be taken in; discard it instead",
            code="quarantine_wrong_channel",
        )
    received = email_channel.release(session=session, item_id=item_id, actor=principal, config=runtime.email)
    session.commit()
    return ReceivedPublic(**asdict(received))


@router.post("/channels/quarantine/{item_id}/discard", response_model=QuarantinedPublic)
def discard(item_id: IdPath, session: WriteSession, principal: CurrentPrincipal) -> QuarantinedPublic:
    """Keep a quarantined message out for good (its source stays for the record)."""
    item = channels.access_quarantined(session=session, principal=principal, item_id=item_id)
    channels.resolve_quarantined(session=session, item=item, state=QuarantineState.discarded, actor=principal)
    session.commit()
    return QuarantinedPublic.model_validate(item)


@router.get("/messages/{message_id}/source", response_class=Response, responses=EML)
def message_source(message_id: IdPath, session: ReadSession, principal: CurrentPrincipal) -> Response:
    """The email a message came from, exactly as it arrived (staff)."""
    _staff_message(session, principal, message_id)
    raw = email_channel.email_source(session=session, message_id=message_id)
    if raw is None:
        raise NotFound(f"message {message_id} did not come by email", code="source_not_found")
    return Response(raw, media_type="message/rfc822")


@router.get("/messages/{message_id}/delivery", response_model=DeliveryPublic)
def delivery(message_id: IdPath, session: ReadSession, principal: CurrentPrincipal) -> DeliveryPublic:
    """How an agent's reply is getting to the customer: attempts, next retry, last error (staff)."""
    _staff_message(session, principal, message_id)
    found = channels.delivery_of(session=session, message_id=message_id)
    if found is None:
        raise NotFound(f"message {message_id} has no delivery yet", code="delivery_not_found")
    return DeliveryPublic.model_validate(found)


@router.post("/messages/{message_id}/delivery/retry", response_model=DeliveryPublic)
def retry(message_id: IdPath, session: WriteSession, principal: CurrentPrincipal) -> DeliveryPublic:
    """Send a failed or bounced reply again (after fixing the relay setting or the address)."""
    _staff_message(session, principal, message_id)
    found = channels.retry_delivery(session=session, message_id=message_id, actor=principal)
    session.commit()
    return DeliveryPublic.model_validate(found)


def _staff_message(session: ReadSession, principal: CurrentPrincipal, message_id: int) -> None:
    if not principal.is_staff:
        raise Forbidden("only staff may read a message's source and delivery", code="role_forbidden")
    ticket_id = feeds.ticket_of_message(session=session, message_id=message_id)
    tickets.access_ticket(session=session, principal=principal, ticket_id=ticket_id)
