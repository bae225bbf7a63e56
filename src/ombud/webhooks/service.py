"""Outbound webhooks: endpoints (admin), the event consumer that records what each endpoint is owed, and
the delivery of one attempt, signed, with its answer recorded.

A delivery is made in the transaction of the event's dispatch and sent by a job after it commits, never
inside a request. The HTTP call happens outside any database transaction: the job first claims the
delivery (a lease on ``next_attempt_at``, committed), then calls, then records the attempt. A worker that
dies mid-call loses nothing: when the lease runs out the sweep finds the delivery due again. Delivery is
at least once; receivers tell repeats apart by ``event.id`` (or the Ombud-Delivery header).

The signature (Stripe's scheme): ``Ombud-Signature: t=<unix time>,v1=<hex HMAC-SHA256>`` of
``"<t>." + body`` with the endpoint's secret.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import re
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session

from ombud import __version__
from ombud.accounts.schemas import SYSTEM, Principal
from ombud.audit import service as audit
from ombud.errors import Forbidden, InvalidInput, NotFound, OmbudError
from ombud.events.service import EventRecord
from ombud.pagination import cursor_id, decode_cursor, encode_cursor
from ombud.storage.base import utcnow
from ombud.storage.db import Database
from ombud.storage.queue import defer, defer_in
from ombud.tickets import service as tickets
from ombud.webhooks.models import DeliveryState, WebhookAttempt, WebhookDelivery, WebhookEndpoint

DELIVER_JOB = "webhooks.deliver"
TEST_KIND = "webhook.test"
MAX_ENDPOINTS = 100
MAX_PAGE = 200
EXCERPT_CHARS = 2000
MAX_RESPONSE_BYTES = 64 * 1024
MAX_BACKOFF = dt.timedelta(hours=6)
EVENT_PATTERN = re.compile(r"^(\*|[a-z][a-z_]*(\.[a-z][a-z_]*)*(\.\*)?)$")


@dataclass(frozen=True)
class WebhookConfig:
    """Delivery settings, from the runtime's settings."""

    timeout_seconds: float = 10.0
    max_attempts: int = 8
    retry_seconds: int = 30

    def backoff(self, attempts: int) -> dt.timedelta:
        """Return the wait after ``attempts`` failed attempts: doubling from retry_seconds, capped."""
        return min(dt.timedelta(seconds=self.retry_seconds * 2 ** max(attempts - 1, 0)), MAX_BACKOFF)


def require_admin(principal: Principal) -> None:
    if not principal.is_admin:
        raise Forbidden("only admins manage webhooks", code="role_forbidden")


# -- endpoints --------------------------------------------------------------------------------------------
def check_url(url: str) -> str:
    """Return ``url`` if it is an absolute http(s) URL, or raise naming what is wrong."""
    clean = url.strip()
    try:
        parts = urlsplit(clean)
        port_ok = parts.port is None or parts.port > 0
    except ValueError:
        parts, port_ok = None, False
    if parts is None or parts.scheme not in ("http", "https"):
        raise InvalidInput(
            f"url must start with http:// or https://, not {clean[:50]!r}", code="invalid_webhook_url"
        )
    if not parts.hostname or not port_ok or any(ch.isspace() for ch in clean):
        raise InvalidInput(
            "url needs a host name, e.g. https://orders.example.com/hooks", code="invalid_webhook_url"
        )
    return clean


def check_events(patterns: Sequence[str]) -> list[str]:
    """Return the subscribed event kinds, or raise naming the bad one."""
    cleaned: list[str] = []
    for i, pattern in enumerate(patterns):
        value = pattern.strip()
        if not EVENT_PATTERN.match(value):
            raise InvalidInput(
                f"events[{i}]: {pattern!r} is not an event kind; use ticket.created, a prefix like ticket.* "
                "or * for every event",
                code="invalid_webhook_events",
                details={"path": f"events[{i}]"},
            )
        if value not in cleaned:
            cleaned.append(value)
    return cleaned


def subscribed(patterns: Sequence[str], kind: str) -> bool:
    """Return whether an endpoint subscribed to ``patterns`` wants events of ``kind``."""
    return any(p in ("*", kind) or (p.endswith(".*") and kind.startswith(p[:-1])) for p in patterns)


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def list_endpoints(*, session: Session, principal: Principal) -> Sequence[WebhookEndpoint]:
    require_admin(principal)
    return session.scalars(select(WebhookEndpoint).order_by(WebhookEndpoint.id)).all()


def access_endpoint(*, session: Session, principal: Principal, endpoint_id: int) -> WebhookEndpoint:
    require_admin(principal)
    endpoint = session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None:
        raise NotFound(f"no webhook endpoint with id {endpoint_id}", code="webhook_not_found")
    return endpoint


def create_endpoint(
    *,
    session: Session,
    principal: Principal,
    name: str,
    url: str,
    events: Sequence[str],
    enabled: bool = True,
) -> WebhookEndpoint:
    """Add an endpoint with a fresh secret (its ``secret`` is shown to the caller once)."""
    require_admin(principal)
    clean_name = " ".join(name.split())
    if not clean_name:
        raise InvalidInput("name: an endpoint needs a name", code="invalid_input")
    if len(list_endpoints(session=session, principal=principal)) >= MAX_ENDPOINTS:
        raise InvalidInput(f"at most {MAX_ENDPOINTS} webhook endpoints", code="too_many_webhooks")
    now = utcnow()
    endpoint = WebhookEndpoint(
        name=clean_name,
        url=check_url(url),
        secret=new_secret(),
        events=check_events(events),
        enabled=enabled,
        created_by_id=principal.id if principal.kind == "user" else None,
        created_at=now,
        updated_at=now,
    )
    session.add(endpoint)
    session.flush()
    _audit(session, principal, endpoint, "webhook.created")
    return endpoint


def update_endpoint(
    *, session: Session, principal: Principal, endpoint_id: int, changes: dict[str, Any]
) -> WebhookEndpoint:
    """Change the given fields (name, url, events, enabled)."""
    endpoint = access_endpoint(session=session, principal=principal, endpoint_id=endpoint_id)
    for key in ("name", "url", "events", "enabled"):
        if key in changes and changes[key] is None:
            raise InvalidInput(f"{key} cannot be null", code="invalid_input", details={"field": key})
    if "name" in changes:
        if not " ".join(changes["name"].split()):
            raise InvalidInput("name: an endpoint needs a name", code="invalid_input")
        endpoint.name = " ".join(changes["name"].split())
    if "url" in changes:
        endpoint.url = check_url(changes["url"])
    if "events" in changes:
        endpoint.events = check_events(changes["events"])
    if "enabled" in changes:
        endpoint.enabled = bool(changes["enabled"])
    endpoint.updated_at = utcnow()
    session.flush()
    _audit(session, principal, endpoint, "webhook.updated")
    return endpoint


def rotate_secret(*, session: Session, principal: Principal, endpoint_id: int) -> WebhookEndpoint:
    """Replace the endpoint's secret; deliveries from now on (retries too) are signed with the new one."""
    endpoint = access_endpoint(session=session, principal=principal, endpoint_id=endpoint_id)
    endpoint.secret = new_secret()
    endpoint.updated_at = utcnow()
    session.flush()
    _audit(session, principal, endpoint, "webhook.secret_rotated")
    return endpoint


def delete_endpoint(*, session: Session, principal: Principal, endpoint_id: int) -> None:
    endpoint = access_endpoint(session=session, principal=principal, endpoint_id=endpoint_id)
    _audit(session, principal, endpoint, "webhook.deleted")
    session.delete(endpoint)
    session.flush()


def _audit(session: Session, principal: Principal, endpoint: WebhookEndpoint, action: str) -> None:
    audit.record(
        session=session,
        actor=principal,
        action=action,
        entity_type="webhook_endpoint",
        entity_id=endpoint.id,
        after={
            "name": endpoint.name,
            "url": endpoint.url,
            "events": endpoint.events,
            "enabled": endpoint.enabled,
        },
    )


# -- recording deliveries ---------------------------------------------------------------------------------
def ticket_snapshot(*, session: Session, ticket_id: int) -> dict[str, Any] | None:
    """Return the ticket as it is now, for a delivery's body (None if it is gone)."""
    try:
        ticket = tickets.access_ticket(session=session, principal=SYSTEM, ticket_id=ticket_id)
    except OmbudError:
        return None

    def iso(value: dt.datetime | None) -> str | None:
        return value.isoformat() if value is not None else None

    return {
        "id": ticket.id,
        "subject": ticket.subject,
        "status": ticket.status.value,
        "priority": ticket.priority.value,
        "channel": ticket.channel.value,
        "customer_id": ticket.customer_id,
        "assignee_id": ticket.assignee_id,
        "team_id": ticket.team_id,
        "tags": ticket.tag_names,
        "created_at": iso(ticket.created_at),
        "updated_at": iso(ticket.updated_at),
        "first_response_at": iso(ticket.first_response_at),
        "resolved_at": iso(ticket.resolved_at),
    }


def handle_event(*, session: Session, event: EventRecord) -> None:
    """The event consumer: record a delivery of ``event`` for every enabled endpoint subscribed to it; a
    job sends each once this transaction commits."""
    endpoints = [
        e
        for e in session.scalars(select(WebhookEndpoint).where(WebhookEndpoint.enabled.is_(True))).all()
        if subscribed(e.events, event.kind)
    ]
    if not endpoints:
        return
    if session.scalar(select(WebhookDelivery.id).where(WebhookDelivery.event_id == event.id).limit(1)):
        return  # recorded before a crash stopped the dispatch from being marked
    payload = event_payload(session=session, event=event)
    for endpoint in endpoints:
        _deliver(session, endpoint, event, payload)


def event_payload(
    *, session: Session, event: EventRecord, data: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Return the body every endpoint receives for ``event`` (``data`` replaces the event's payload)."""
    return {
        "event": {
            "id": event.id,
            "kind": event.kind,
            "created_at": event.created_at.isoformat(),
            "ticket_id": event.ticket_id,
            "customer_id": event.customer_id,
            "entity_type": event.entity_type,
            "entity_id": event.entity_id,
            "actor_type": event.actor_type,
            "actor_id": event.actor_id,
            "data": event.payload if data is None else data,
        },
        "ticket": ticket_snapshot(session=session, ticket_id=event.ticket_id) if event.ticket_id else None,
    }


def deliver_event(
    *, session: Session, endpoint: WebhookEndpoint, event: EventRecord, data: dict[str, Any] | None = None
) -> WebhookDelivery:
    """Record a delivery of ``event`` to ``endpoint`` whatever it subscribed to (for other domains that
    route their own events, e.g. an advocacy department's tracker); a job sends it after the commit."""
    return _deliver(session, endpoint, event, event_payload(session=session, event=event, data=data))


def _deliver(
    session: Session, endpoint: WebhookEndpoint, event: EventRecord, payload: dict[str, Any]
) -> WebhookDelivery:
    return _new_delivery(
        session,
        endpoint,
        payload,
        kind=event.kind,
        event_id=event.id,
        ticket_id=event.ticket_id,
        entity=(event.entity_type, event.entity_id),
    )


def _new_delivery(
    session: Session,
    endpoint: WebhookEndpoint,
    payload: dict[str, Any],
    *,
    kind: str,
    event_id: int | None,
    ticket_id: int | None,
    entity: tuple[str | None, int | None],
    redelivery_of_id: int | None = None,
) -> WebhookDelivery:
    now = utcnow()
    delivery = WebhookDelivery(
        endpoint_id=endpoint.id,
        event_id=event_id,
        event_kind=kind,
        ticket_id=ticket_id,
        entity_type=entity[0],
        entity_id=entity[1],
        payload=payload,
        state=DeliveryState.pending,
        attempts=0,
        next_attempt_at=now,
        redelivery_of_id=redelivery_of_id,
        created_at=now,
    )
    session.add(delivery)
    session.flush()
    defer(session, DELIVER_JOB, delivery_id=delivery.id)
    return delivery


def send_test(*, session: Session, principal: Principal, endpoint_id: int) -> WebhookDelivery:
    """Record a test delivery (kind webhook.test) to the endpoint, enabled or not; a job sends it."""
    endpoint = access_endpoint(session=session, principal=principal, endpoint_id=endpoint_id)
    payload = {
        "event": {
            "id": None,
            "kind": TEST_KIND,
            "created_at": utcnow().isoformat(),
            "ticket_id": None,
            "customer_id": None,
            "entity_type": "webhook_endpoint",
            "entity_id": endpoint.id,
            "actor_type": principal.kind,
            "actor_id": principal.id,
            "data": {"message": f"A test from ombud to the endpoint {endpoint.name!r}."},
        },
        "ticket": None,
    }
    return _new_delivery(
        session,
        endpoint,
        payload,
        kind=TEST_KIND,
        event_id=None,
        ticket_id=None,
        entity=("webhook_endpoint", endpoint.id),
    )


def redeliver(*, session: Session, principal: Principal, delivery_id: int) -> WebhookDelivery:
    """Send a delivery's body again as a new delivery (with its own attempts), whatever became of it."""
    original = access_delivery(session=session, principal=principal, delivery_id=delivery_id)
    endpoint = access_endpoint(session=session, principal=principal, endpoint_id=original.endpoint_id)
    return _new_delivery(
        session,
        endpoint,
        dict(original.payload),
        kind=original.event_kind,
        event_id=original.event_id,
        ticket_id=original.ticket_id,
        entity=(original.entity_type, original.entity_id),
        redelivery_of_id=original.id,
    )


# -- reading deliveries -----------------------------------------------------------------------------------
def access_delivery(*, session: Session, principal: Principal, delivery_id: int) -> WebhookDelivery:
    require_admin(principal)
    delivery = session.get(WebhookDelivery, delivery_id)
    if delivery is None:
        raise NotFound(f"no webhook delivery with id {delivery_id}", code="delivery_not_found")
    return delivery


def list_deliveries(
    *, session: Session, principal: Principal, endpoint_id: int, limit: int = 50, cursor: str | None = None
) -> tuple[Sequence[WebhookDelivery], str | None]:
    """Return one page of the endpoint's deliveries, newest first, and the next page's cursor."""
    access_endpoint(session=session, principal=principal, endpoint_id=endpoint_id)
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInput(f"limit must be between 1 and {MAX_PAGE}", code="invalid_limit")
    query = select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint_id)
    if cursor is not None:
        query = query.where(WebhookDelivery.id < cursor_id(decode_cursor(cursor, required=("id",))))
    rows = session.scalars(query.order_by(WebhookDelivery.id.desc()).limit(limit + 1)).all()
    items = rows[:limit]
    return items, encode_cursor({"id": items[-1].id}) if len(rows) > limit else None


def attempts_of(*, session: Session, delivery_id: int) -> Sequence[WebhookAttempt]:
    return session.scalars(
        select(WebhookAttempt).where(WebhookAttempt.delivery_id == delivery_id).order_by(WebhookAttempt.id)
    ).all()


def deliveries_for_event(*, session: Session, event_id: int) -> Sequence[WebhookDelivery]:
    """Return the deliveries of one event (to every endpoint, redeliveries too), oldest first."""
    return session.scalars(
        select(WebhookDelivery).where(WebhookDelivery.event_id == event_id).order_by(WebhookDelivery.id)
    ).all()


def deliveries_for_entity(*, session: Session, entity_type: str, entity_id: int) -> Sequence[WebhookDelivery]:
    """Return the deliveries of every event about one entity (a resolution's callouts), oldest first."""
    return session.scalars(
        select(WebhookDelivery)
        .where(WebhookDelivery.entity_type == entity_type, WebhookDelivery.entity_id == entity_id)
        .order_by(WebhookDelivery.id)
    ).all()


def deliveries_for_ticket(*, session: Session, ticket_id: int, limit: int = 10) -> Sequence[WebhookDelivery]:
    """Return the latest deliveries of events about one ticket, newest first."""
    return session.scalars(
        select(WebhookDelivery)
        .where(WebhookDelivery.ticket_id == ticket_id)
        .order_by(WebhookDelivery.id.desc())
        .limit(limit)
    ).all()


def due_delivery_ids(*, session: Session, limit: int) -> Sequence[int]:
    """Return pending deliveries whose next attempt is due (the sweep's finder), soonest first."""
    query = (
        select(WebhookDelivery.id)
        .where(WebhookDelivery.next_attempt_at <= utcnow())
        .order_by(WebhookDelivery.next_attempt_at)
        .limit(limit)
    )
    return [int(i) for i in session.scalars(query).all()]


# -- sending ----------------------------------------------------------------------------------------------
def sign(secret: str, timestamp: int, body: bytes) -> str:
    """Return the Ombud-Signature header for ``body`` sent at ``timestamp``."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify(secret: str, header: str, body: bytes, *, tolerance: int = 300, now: float | None = None) -> bool:
    """Return whether ``header`` is a valid signature of ``body`` made within ``tolerance`` seconds (what a
    receiver does; here for tests and for receivers written in Python)."""
    parts = dict(item.split("=", 1) for item in header.split(",") if "=" in item)
    try:
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs((now if now is not None else time.time()) - timestamp) > tolerance:
        return False
    expected = sign(secret, timestamp, body).split("v1=", 1)[1]
    return hmac.compare_digest(expected, parts.get("v1", ""))


@dataclass(frozen=True)
class Claimed:
    delivery_id: int
    attempt: int
    url: str
    secret: str
    kind: str
    body: bytes


@dataclass(frozen=True)
class Outcome:
    started_at: dt.datetime
    duration_ms: int
    status_code: int | None
    excerpt: str
    error: str | None

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def claim(*, database: Database, delivery_id: int, config: WebhookConfig) -> Claimed | None:
    """Take the delivery for one attempt if it is due, in a short transaction of its own: the lease keeps
    the sweep off it while the call runs, and runs out if this worker dies. None: nothing to do now."""
    with database.session(write=True) as session:
        query = select(WebhookDelivery).where(WebhookDelivery.id == delivery_id)
        if session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        delivery = session.scalar(query)
        now = utcnow()
        if (
            delivery is None
            or delivery.state != DeliveryState.pending
            or delivery.next_attempt_at is None
            or delivery.next_attempt_at > now + dt.timedelta(seconds=1)
        ):
            return None
        endpoint = session.get(WebhookEndpoint, delivery.endpoint_id)
        assert endpoint is not None  # deliveries go with their endpoint
        if not endpoint.enabled and delivery.event_kind != TEST_KIND:
            delivery.state, delivery.next_attempt_at = DeliveryState.failed, None
            delivery.last_error, delivery.finished_at = "the endpoint is disabled", now
            session.commit()
            return None
        delivery.next_attempt_at = now + dt.timedelta(seconds=config.timeout_seconds + 60)
        claimed = Claimed(
            delivery_id=delivery.id,
            attempt=delivery.attempts + 1,
            url=endpoint.url,
            secret=endpoint.secret,
            kind=delivery.event_kind,
            body=json.dumps(delivery.payload, separators=(",", ":"), sort_keys=True).encode(),
        )
        session.commit()
        return claimed


def send(claimed: Claimed, *, config: WebhookConfig) -> Outcome:
    """POST the claimed delivery, signed; return what came back (never raises for network trouble)."""
    headers = {
        "Content-Type": "application/json",
        "User-Agent": f"ombud-webhooks/{__version__}",
        "Ombud-Event": claimed.kind,
        "Ombud-Delivery": str(claimed.delivery_id),
        "Ombud-Attempt": str(claimed.attempt),
        "Ombud-Signature": sign(claimed.secret, int(time.time()), claimed.body),
    }
    started = utcnow()
    clock = time.monotonic()
    status: int | None = None
    excerpt, error = "", None
    try:
        with (
            httpx.Client(timeout=config.timeout_seconds, follow_redirects=False) as client,
            client.stream("POST", claimed.url, content=claimed.body, headers=headers) as response,
        ):
            status = response.status_code
            received = bytearray()
            for chunk in response.iter_bytes():
                received.extend(chunk)
                if len(received) >= MAX_RESPONSE_BYTES:
                    break
            excerpt = received.decode("utf-8", "replace")[:EXCERPT_CHARS]
            if not 200 <= status < 300:
                error = f"the endpoint answered {status}"
    except httpx.TimeoutException:
        error = f"no answer within {config.timeout_seconds:g} seconds"
    except httpx.HTTPError as exc:
        error = f"{type(exc).__name__}: {exc}"[:500]
    duration = int((time.monotonic() - clock) * 1000)
    return Outcome(started_at=started, duration_ms=duration, status_code=status, excerpt=excerpt, error=error)


def record(
    *, session: Session, claimed: Claimed, outcome: Outcome, config: WebhookConfig
) -> WebhookDelivery | None:
    """Record the attempt; mark the delivery delivered, schedule the next try with backoff, or give up."""
    delivery = session.get(WebhookDelivery, claimed.delivery_id)
    if delivery is None:
        return None  # the endpoint was deleted meanwhile
    session.add(
        WebhookAttempt(
            delivery_id=delivery.id,
            number=claimed.attempt,
            started_at=outcome.started_at,
            duration_ms=outcome.duration_ms,
            status_code=outcome.status_code,
            response_excerpt=outcome.excerpt,
            error=outcome.error,
        )
    )
    delivery.attempts = max(delivery.attempts, claimed.attempt)
    delivery.last_status = outcome.status_code
    delivery.last_error = outcome.error
    now = utcnow()
    if outcome.ok:
        delivery.state, delivery.next_attempt_at, delivery.finished_at = DeliveryState.delivered, None, now
    elif delivery.attempts >= config.max_attempts:
        delivery.state, delivery.next_attempt_at, delivery.finished_at = DeliveryState.failed, None, now
    else:
        wait = config.backoff(delivery.attempts)
        delivery.next_attempt_at = now + wait
        defer_retry(session, delivery.id, wait)
    session.flush()
    return delivery


def defer_retry(session: Session, delivery_id: int, wait: dt.timedelta) -> None:
    # The queue holds the timer; next_attempt_at holds the truth, so the sweep retries if the timer is lost.
    defer_in(session, DELIVER_JOB, wait, delivery_id=delivery_id)
