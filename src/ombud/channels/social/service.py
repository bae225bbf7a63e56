"""Social and messaging platforms through one generic signed webhook.

In: the platform (or a small bridge in front of it) POSTs each customer message to
``/api/v1/webhooks/social/{endpoint}``, signed with the endpoint's secret (see signing.py). A request
with a bad signature or an old timestamp is refused; a message id seen before is taken once. The handle
becomes an identity, namespaced by the endpoint ("whatsapp:+4915…", "instagram:@ann"), and the message
continues the customer's latest conversation on that endpoint.

Out: agents' public replies are POSTed to the endpoint's callback URL, signed the same way, by the
delivery job with retries and backoff.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from dataclasses import dataclass
from typing import Any

import httpx
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from ombud.accounts.schemas import SYSTEM, Principal
from ombud.audit import service as audit
from ombud.channels import service as channels
from ombud.channels.models import ChannelRef, Direction, Quarantined, QuarantineState, SocialEndpoint
from ombud.channels.registry import Outbound, TryLater, Undeliverable
from ombud.channels.social.schemas import EndpointCreate, EndpointUpdate, SocialMessageIn
from ombud.channels.social.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign, signature_problem
from ombud.customers import blocks
from ombud.customers import service as customers
from ombud.customers.schemas import CustomerRef
from ombud.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthorized
from ombud.storage.base import utcnow
from ombud.tickets import feeds
from ombud.tickets import service as tickets
from ombud.tickets.models import Channel, Ticket

CHANNEL = "social"
SEND_TIMEOUT = 10.0


# -- endpoints (admins) -----------------------------------------------------------------------------------
def _check_admin(actor: Principal) -> None:
    if not actor.is_admin:
        raise Forbidden("only admins may manage social endpoints", code="role_forbidden")


def create_endpoint(*, session: Session, data: EndpointCreate, actor: Principal) -> SocialEndpoint:
    _check_admin(actor)
    if session.scalar(select(SocialEndpoint).where(SocialEndpoint.name == data.name)) is not None:
        raise Conflict(f"a social endpoint named {data.name!r} exists", code="endpoint_exists")
    endpoint = SocialEndpoint(
        name=data.name,
        platform=data.platform,
        secret=secrets.token_urlsafe(32),
        callback_url=data.callback_url,
        active=True,
    )
    session.add(endpoint)
    session.flush()
    audit.record(
        session=session,
        actor=actor,
        action="social_endpoint.created",
        entity_type="social_endpoint",
        entity_id=endpoint.id,
        after={"name": endpoint.name, "platform": endpoint.platform, "callback_url": endpoint.callback_url},
    )
    return endpoint


def list_endpoints(*, session: Session, actor: Principal) -> list[SocialEndpoint]:
    _check_admin(actor)
    return list(session.scalars(select(SocialEndpoint).order_by(SocialEndpoint.name)))


def access_endpoint(*, session: Session, actor: Principal, name: str) -> SocialEndpoint:
    _check_admin(actor)
    endpoint = _endpoint(session, name)
    if endpoint is None:
        raise NotFound(f"no social endpoint named {name!r}", code="endpoint_not_found")
    return endpoint


def update_endpoint(
    *, session: Session, endpoint: SocialEndpoint, changes: EndpointUpdate, actor: Principal
) -> SocialEndpoint:
    _check_admin(actor)
    fields = changes.model_dump(exclude_unset=True)
    before = {name: getattr(endpoint, name) for name in fields}
    for name, value in fields.items():
        if name == "active" and value is None:
            raise InvalidInput("active must be true or false", code="invalid_input")
        setattr(endpoint, name, value)
    session.flush()
    audit.record(
        session=session,
        actor=actor,
        action="social_endpoint.updated",
        entity_type="social_endpoint",
        entity_id=endpoint.id,
        before=before,
        after=fields,
    )
    return endpoint


def rotate_secret(*, session: Session, endpoint: SocialEndpoint, actor: Principal) -> SocialEndpoint:
    _check_admin(actor)
    endpoint.secret = secrets.token_urlsafe(32)
    session.flush()
    audit.record(
        session=session,
        actor=actor,
        action="social_endpoint.secret_rotated",
        entity_type="social_endpoint",
        entity_id=endpoint.id,
    )
    return endpoint


def _endpoint(session: Session, name: str) -> SocialEndpoint | None:
    return session.scalar(select(SocialEndpoint).where(SocialEndpoint.name == name))


# -- inbound ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Taken:
    outcome: str  # created, threaded, follow_up, duplicate, quarantined, dropped
    ticket_id: int | None
    message_id: int | None
    reason: str = ""


def authenticate(*, session: Session, name: str, headers: dict[str, str], body: bytes) -> SocialEndpoint:
    """Return the endpoint the request is for, if it is active and the request is signed by it."""
    endpoint = _endpoint(session, name)
    if endpoint is None or not endpoint.active:
        raise NotFound(f"no active social endpoint named {name!r}", code="endpoint_not_found")
    problem = signature_problem(
        endpoint.secret,
        headers.get(TIMESTAMP_HEADER.lower()),
        headers.get(SIGNATURE_HEADER.lower()),
        body,
        time.time(),
    )
    if problem:
        raise Unauthorized(problem, code="bad_signature")
    return endpoint


def receive(
    *,
    session: Session,
    endpoint: SocialEndpoint,
    data: SocialMessageIn,
    raw: bytes,
    limits: tickets.Limits,
    flood_limit: int | None,
) -> Taken:
    """Take in one authenticated message: once per platform message id, into the customer's conversation."""
    ref = f"{endpoint.name}:{data.id}"
    known = _duplicate(session, ref)
    if known is not None:
        return known
    handle = f"{endpoint.name}:{data.sender.handle}"
    # A blocked sender's message is dropped before anything is kept (the platform is told "dropped").
    if blocks.drop_if_blocked(session=session, channel=CHANNEL, handle=handle):
        return Taken("dropped", None, None, "sender_blocked")
    if not data.text.strip() and not data.attachments:
        raise InvalidInput("the message has neither text nor attachments", code="empty_message")
    attachments = tickets.decode_attachments(data.attachments, limits)
    customer, _ = customers.resolve_customer(
        session=session, ref=CustomerRef(handle=handle, name=data.sender.name), actor=SYSTEM
    )
    since = utcnow() - channels.FLOOD_WINDOW
    if (
        flood_limit is not None
        and channels.inbound_count_since(session=session, customer_id=customer.id, since=since) >= flood_limit
    ):
        item = channels.quarantine(
            session=session,
            channel=CHANNEL,
            source=f"social:{endpoint.name}",
            raw_sha256=channels.store_raw(session=session, data=raw),
            reason_code="flood",
            reason=f"more than {flood_limit} messages from {handle} in {channels.FLOOD_WINDOW}",
            sender=handle,
            subject=data.text[:100],
        )
        return Taken("quarantined", None, None, item.reason)
    body = data.text.strip() or "(attachment)"
    if len(body) > limits.max_body_chars:
        raise InvalidInput(
            f"the text is longer than {limits.max_body_chars} characters", code="body_too_long"
        )
    meta: dict[str, Any] = {
        "endpoint": endpoint.name,
        "platform": endpoint.platform,
        "handle": data.sender.handle,
        "platform_message_id": data.id,
        "conversation_id": data.conversation_id,
        "sent_at": data.sent_at.isoformat() if data.sent_at else None,
    }
    incoming = channels.Incoming(
        customer_id=customer.id,
        channel=Channel.social,
        subject=_subject(body, endpoint.platform),
        body=body,
        channel_meta=meta,
        attachments=attachments,
        triage=bool(data.text.strip()),
        ref=(CHANNEL, ref),
    )

    def store() -> Taken:
        outcome, ticket, message = channels.take_in(
            session=session,
            ticket=_conversation(session=session, endpoint=endpoint.name, customer_id=customer.id),
            incoming=incoming,
        )
        return Taken(outcome, ticket.id, message.id)

    return channels.first_wins(session, store, lambda: _duplicate(session, ref))


def _duplicate(session: Session, ref: str) -> Taken | None:
    known = channels.find_ref(session=session, channel=CHANNEL, ref=ref)
    if known is None:
        return None
    return Taken("duplicate", known.ticket_id, known.message_id, "this message id was taken in before")


def release(*, session: Session, item: Quarantined, actor: Principal, limits: tickets.Limits) -> Taken:
    """Take a quarantined platform message in after all (an admin's decision; the flood limit is waived)."""
    name = item.source.removeprefix("social:")
    endpoint = _endpoint(session, name)
    if endpoint is None:
        raise Conflict(
            f"the social endpoint {name!r} no longer exists; discard the item", code="quarantine_unreleasable"
        )
    raw = channels.raw_source(session=session, sha256=item.raw_sha256) or b""
    try:
        data = SocialMessageIn.model_validate_json(raw)
    except ValidationError:
        raise Conflict(
            f"quarantined item {item.id} is not a readable message", code="quarantine_unreleasable"
        ) from None
    taken = receive(session=session, endpoint=endpoint, data=data, raw=raw, limits=limits, flood_limit=None)
    channels.resolve_quarantined(
        session=session, item=item, state=QuarantineState.released, actor=actor, message_id=taken.message_id
    )
    return taken


def _subject(body: str, platform: str) -> str:
    first = body.splitlines()[0] if body.splitlines() else body
    return first[:80] + ("…" if len(first) > 80 else "") if first else f"Message on {platform}"


def _conversation(*, session: Session, endpoint: str, customer_id: int) -> Ticket | None:
    """The ticket of the customer's latest message on this endpoint (one conversation per person, as
    messaging apps show it)."""
    row = session.scalar(
        select(ChannelRef)
        .where(
            ChannelRef.customer_id == customer_id,
            ChannelRef.channel == CHANNEL,
            ChannelRef.direction == Direction.inbound,
            ChannelRef.ref.startswith(f"{endpoint}:", autoescape=True),
        )
        .order_by(ChannelRef.id.desc())
        .limit(1)
    )
    return session.get(Ticket, row.ticket_id) if row is not None else None


# -- outbound ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Callback:
    url: str
    secret: str
    body: bytes


class SocialAdapter:
    """POSTs agents' replies to the endpoint's callback URL, signed with its secret."""

    name = CHANNEL

    def __init__(self, client: httpx.Client | None = None) -> None:
        self._client = client or httpx.Client(timeout=SEND_TIMEOUT, follow_redirects=False)

    def prepare(self, *, session: Session, message_id: int) -> Outbound:
        found = feeds.reply_to_deliver(session=session, message_id=message_id)
        if found is None:
            raise Undeliverable(f"message {message_id} is not a reply waiting to be sent")
        message, ticket = found
        last = session.scalar(
            select(ChannelRef)
            .where(ChannelRef.ticket_id == ticket.id, ChannelRef.channel == CHANNEL)
            .where(ChannelRef.direction == Direction.inbound)
            .order_by(ChannelRef.id.desc())
            .limit(1)
        )
        if last is None:
            raise Undeliverable("the ticket has no message from a social platform to answer")
        endpoint_name, _, platform_id = last.ref.partition(":")
        endpoint = _endpoint(session, endpoint_name)
        if endpoint is None or not endpoint.active:
            raise Undeliverable(f"the social endpoint {endpoint_name!r} is gone or switched off")
        if not endpoint.callback_url:
            raise Undeliverable(f"the social endpoint {endpoint_name!r} has no callback URL for replies")
        meta = feeds.latest_customer_meta(session=session, ticket_id=ticket.id, channel=Channel.social)
        handle = str(meta.get("handle") or "")
        payload = {
            "id": f"ombud-{message.id}",
            "to": {"handle": handle},
            "text": message.body_text,
            "in_reply_to": platform_id,
            "conversation_id": meta.get("conversation_id"),
            "ticket_id": ticket.id,
            "attachments": [
                {"filename": name, "content_type": kind, "content_base64": base64.b64encode(data).decode()}
                for name, kind, data in feeds.attachment_contents(session=session, message_id=message.id)
            ],
        }
        return Outbound(
            message_id=message.id,
            recipient=f"{endpoint.name}:{handle}",
            ref=f"{endpoint.name}:ombud-{message.id}",
            payload=Callback(
                url=endpoint.callback_url,
                secret=endpoint.secret,
                body=json.dumps(payload, ensure_ascii=False).encode(),
            ),
        )

    def send(self, outbound: Outbound) -> None:
        callback: Callback = outbound.payload
        timestamp = int(time.time())
        headers = {
            "Content-Type": "application/json",
            TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_HEADER: sign(callback.secret, timestamp, callback.body),
            # The same on every attempt: the platform side can drop a resend it already took.
            "Idempotency-Key": outbound.ref or str(outbound.message_id),
        }
        try:
            response = self._client.post(callback.url, content=callback.body, headers=headers)
        except httpx.HTTPError as error:
            raise TryLater(f"{type(error).__name__}: {error}") from None
        if response.is_success:
            return
        detail = f"the callback answered {response.status_code}: {response.text[:200]}"
        if response.status_code in (408, 425, 429) or response.status_code >= 500:
            raise TryLater(detail)
        raise Undeliverable(detail)
