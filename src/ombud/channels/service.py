"""What every channel shares: raw sources, the ids a channel knows messages by, flood control, the
quarantine, and the delivery of agents' replies with retries and backoff."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from sqlalchemy import delete, func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ombud.accounts.schemas import SYSTEM, Principal
from ombud.audit import service as audit
from ombud.channels.models import (
    ChannelRef,
    Delivery,
    Direction,
    Quarantined,
    QuarantineState,
    RateHit,
    RawSource,
)
from ombud.channels.registry import Channels, Outbound, TryLater, Undeliverable
from ombud.customers import blocks
from ombud.errors import Conflict, Forbidden, InvalidInput, NotFound, TooManyRequests
from ombud.pagination import cursor_id, decode_cursor, encode_cursor
from ombud.storage.base import utcnow
from ombud.storage.db import race_savepoint
from ombud.storage.queue import defer
from ombud.tickets import feeds
from ombud.tickets import service as tickets
from ombud.tickets.models import Channel, DeliveryState, Message, Status, Ticket
from ombud.tickets.service import DELIVER_JOB, NewAttachment

T = TypeVar("T")
MAX_REF_CHARS = 255
FLOOD_WINDOW = dt.timedelta(minutes=10)
# The advisory lock namespace of rate counting on PostgreSQL (with the key's hash as the second half).
RATE_LOCK = 0x72617465  # "rate"
# Backoff between delivery attempts: 30 s, 1 min, 2 min ... capped at an hour; then it has failed.
MAX_ATTEMPTS = 8
FIRST_RETRY = dt.timedelta(seconds=30)
MAX_RETRY = dt.timedelta(hours=1)


# -- raw sources and channel ids ------------------------------------------------------------------------
def store_raw(*, session: Session, data: bytes) -> str:
    """Store ``data`` once (by SHA-256) and return its digest."""
    digest = hashlib.sha256(data).hexdigest()
    if session.get(RawSource, digest) is None:
        session.add(RawSource(sha256=digest, size=len(data), data=data))
        session.flush()
    return digest


def raw_source(*, session: Session, sha256: str) -> bytes | None:
    row = session.get(RawSource, sha256)
    return row.data if row is not None else None


def normalise_ref(ref: str) -> str:
    """Return ``ref`` as stored: itself, or a digest when it is longer than the column."""
    ref = ref.strip()
    if len(ref) <= MAX_REF_CHARS:
        return ref
    return "sha256:" + hashlib.sha256(ref.encode("utf-8", "surrogateescape")).hexdigest()


def find_ref(*, session: Session, channel: str, ref: str) -> ChannelRef | None:
    return session.scalar(
        select(ChannelRef).where(ChannelRef.channel == channel, ChannelRef.ref == normalise_ref(ref))
    )


def find_refs(*, session: Session, channel: str, refs: Sequence[str]) -> dict[str, ChannelRef]:
    """Return the known ones of ``refs``, keyed by the ref as given."""
    wanted = {normalise_ref(ref): ref for ref in refs if ref.strip()}
    if not wanted:
        return {}
    rows = session.scalars(
        select(ChannelRef).where(ChannelRef.channel == channel, ChannelRef.ref.in_(list(wanted)))
    )
    return {wanted[row.ref]: row for row in rows}


def record_ref(
    *,
    session: Session,
    channel: str,
    ref: str,
    direction: Direction,
    message_id: int,
    ticket_id: int,
    customer_id: int,
    known_new: bool = False,
) -> None:
    """Remember that ``channel`` knows ``message_id`` as ``ref`` (nothing if it already does; a caller
    that looked the ref up in this transaction passes ``known_new``)."""
    if not known_new and find_ref(session=session, channel=channel, ref=ref) is not None:
        return
    session.add(
        ChannelRef(
            channel=channel,
            ref=normalise_ref(ref),
            direction=direction,
            message_id=message_id,
            ticket_id=ticket_id,
            customer_id=customer_id,
        )
    )
    session.flush()


def ticket_refs(*, session: Session, channel: str, ticket_id: int, limit: int = 20) -> list[ChannelRef]:
    """Return the ticket's last ``limit`` channel ids, oldest first (an email's References)."""
    rows = session.scalars(
        select(ChannelRef)
        .where(ChannelRef.channel == channel, ChannelRef.ticket_id == ticket_id)
        .order_by(ChannelRef.id.desc())
        .limit(limit)
    ).all()
    return list(reversed(rows))


def inbound_count_since(*, session: Session, customer_id: int, since: dt.datetime) -> int:
    """Return how many messages the customer sent in through any channel since ``since``."""
    return (
        session.scalar(
            select(func.count())
            .select_from(ChannelRef)
            .where(
                ChannelRef.customer_id == customer_id,
                ChannelRef.direction == Direction.inbound,
                ChannelRef.created_at >= since,
            )
        )
        or 0
    )


# -- inbound --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Incoming:
    """A customer message a channel received, ready to store: what it says and how it was sent."""

    customer_id: int
    channel: Channel
    subject: str
    body: str
    channel_meta: dict[str, Any]
    body_html: str | None = None
    attachments: Sequence[NewAttachment] = ()
    triage: bool = True
    reopen: bool = True
    # False for what staff record themselves (an outbound call): a block stops a sender reaching the
    # team, not the team reaching a customer.
    blockable: bool = True
    # The id the channel knows the message by (channel, ref), looked up as new in this transaction: it
    # is recorded, so the same message delivered again is found, and inbound messages are counted.
    ref: tuple[str, str] | None = None


def take_in(*, session: Session, ticket: Ticket | None, incoming: Incoming) -> tuple[str, Ticket, Message]:
    """Add ``incoming`` to ``ticket`` (the conversation it continues), or open a ticket when there is none,
    or a follow-up when that ticket is closed. Return (outcome, ticket, message); outcome is "threaded",
    "created" or "follow_up". The last safety net of sender blocks: an adapter that forgot to drop a
    blocked sender's message earlier gets SenderBlocked here, before anything is stored."""
    if incoming.blockable:
        blocks.refuse_if_blocked(
            session=session, channel=incoming.channel.value, customer_id=incoming.customer_id
        )
    if ticket is not None and ticket.status is not Status.closed:
        message = tickets.add_customer_message(
            session=session,
            ticket=ticket,
            body=incoming.body,
            body_html=incoming.body_html,
            attachments=incoming.attachments,
            channel_meta=incoming.channel_meta,
            actor=SYSTEM,
            triage=incoming.triage,
            reopen=incoming.reopen,
        )
        _record_inbound(session, incoming, ticket, message)
        return "threaded", ticket, message
    opened, message = tickets.open_ticket(
        session=session,
        customer_id=incoming.customer_id,
        subject=incoming.subject,
        channel=incoming.channel,
        body=incoming.body,
        body_html=incoming.body_html,
        attachments=incoming.attachments,
        channel_meta=incoming.channel_meta,
        actor=SYSTEM,
        follow_up_of_id=ticket.id if ticket is not None else None,
        triage=incoming.triage,
    )
    _record_inbound(session, incoming, opened, message)
    return ("created" if ticket is None else "follow_up"), opened, message


def _record_inbound(session: Session, incoming: Incoming, ticket: Ticket, message: Message) -> None:
    if incoming.ref is not None:
        channel, ref = incoming.ref
        record_ref(
            session=session,
            channel=channel,
            ref=ref,
            direction=Direction.inbound,
            message_id=message.id,
            ticket_id=ticket.id,
            customer_id=incoming.customer_id,
            known_new=True,
        )


def first_wins(session: Session, work: Callable[[], T], stored: Callable[[], T | None]) -> T:
    """Run ``work``; if a concurrent transaction stored the same message first (a unique channel id or
    call id: a platform retrying while its first request still runs), return ``stored()`` instead.

    The unique index decides, and only the savepoint (PostgreSQL; SQLite has one writer) is lost.
    """
    try:
        with race_savepoint(session):
            return work()
    except IntegrityError:
        found = stored()
        if found is None:
            raise
        return found


def check_rate(*, session: Session, key: str, limit: int, now: dt.datetime | None = None) -> None:
    """Count one use of ``key``; refuse it when ``limit`` uses fell in the last FLOOD_WINDOW."""
    now = now or utcnow()
    since = now - FLOOD_WINDOW
    if session.get_bind().dialect.name == "postgresql":
        # Count and insert one at a time per key: two servers (or two threads) asked at the same moment
        # would both count the same hits under READ COMMITTED and both let one more through. SQLite's
        # writers are one at a time already.
        session.execute(
            text("SELECT pg_advisory_xact_lock(CAST(:space AS integer), hashtext(:key))"),
            {"space": RATE_LOCK, "key": key},
        )
    session.execute(delete(RateHit).where(RateHit.key == key, RateHit.at < since))
    used = session.scalar(select(func.count()).select_from(RateHit).where(RateHit.key == key)) or 0
    if used >= limit:
        oldest = session.scalar(select(func.min(RateHit.at)).where(RateHit.key == key)) or now
        retry_after = max(1, int((oldest + FLOOD_WINDOW - now).total_seconds()) + 1)
        raise TooManyRequests(
            f"too many submissions from your address; try again in {retry_after} seconds",
            details={"retry_after": retry_after},
        )
    session.add(RateHit(key=key, at=now))
    session.flush()


# -- quarantine -------------------------------------------------------------------------------------------
def quarantine(
    *,
    session: Session,
    channel: str,
    source: str,
    raw_sha256: str,
    reason_code: str,
    reason: str,
    sender: str | None = None,
    subject: str = "",
) -> Quarantined:
    """Keep something a channel received but did not take in, with the reason, for an admin to see."""
    item = Quarantined(
        channel=channel,
        source=source[:200],
        sender=(sender or "")[:320],
        subject=subject[:500],
        reason_code=reason_code,
        reason=reason,
        raw_sha256=raw_sha256,
        state=QuarantineState.held,
    )
    session.add(item)
    session.flush()
    return item


def _check_admin(principal: Principal) -> None:
    if not principal.is_admin:
        raise Forbidden("only admins may see and act on the quarantine", code="role_forbidden")


def list_quarantine(
    *,
    session: Session,
    principal: Principal,
    state: QuarantineState | None,
    limit: int = 50,
    cursor: str | None = None,
) -> tuple[Sequence[Quarantined], str | None]:
    """Return a page of quarantined items, newest first, and the next page's cursor."""
    _check_admin(principal)
    if not 1 <= limit <= 200:
        raise InvalidInput("limit must be between 1 and 200", code="invalid_limit")
    query = select(Quarantined)
    if state is not None:
        query = query.where(Quarantined.state == state)
    if cursor is not None:
        query = query.where(Quarantined.id < cursor_id(decode_cursor(cursor, required=("id",))))
    rows = session.scalars(query.order_by(Quarantined.id.desc()).limit(limit + 1)).all()
    items = rows[:limit]
    return items, encode_cursor({"id": items[-1].id}) if len(rows) > limit else None


def access_quarantined(*, session: Session, principal: Principal, item_id: int) -> Quarantined:
    _check_admin(principal)
    item = session.get(Quarantined, item_id)
    if item is None:
        raise NotFound(f"no quarantined item with id {item_id}", code="quarantine_not_found")
    return item


def resolve_quarantined(
    *,
    session: Session,
    item: Quarantined,
    state: QuarantineState,
    actor: Principal,
    message_id: int | None = None,
) -> Quarantined:
    """Mark a held item released (taken in as ``message_id``) or discarded; record who did it."""
    if item.state is not QuarantineState.held:
        raise Conflict(
            f"quarantined item {item.id} is already {item.state.value}", code="quarantine_resolved"
        )
    item.state = state
    item.message_id = message_id
    item.resolved_at = utcnow()
    session.flush()
    audit.record(
        session=session,
        actor=actor,
        action=f"quarantine.{state.value}",
        entity_type="quarantine",
        entity_id=item.id,
        after={"reason_code": item.reason_code, "message_id": message_id},
    )
    return item


# -- delivery ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Plan:
    """What the delivery job will do for one reply: send ``outbound``, or record ``final`` at once."""

    message_id: int
    ticket_id: int
    customer_id: int
    ticket_channel: str
    channel: str
    outbound: Outbound | None = None
    final: DeliveryState | None = None
    error: str = ""
    attempts: int = 0


def plan_delivery(*, session: Session, channels: Channels, message_id: int, now: dt.datetime) -> Plan | None:
    """Return what to do for ``message_id`` now; None when there is nothing to do (delivered, not a
    public reply, or its next retry is not due)."""
    found = feeds.reply_to_deliver(session=session, message_id=message_id)
    if found is None:
        return None
    _, ticket = found
    delivery = session.get(Delivery, message_id)
    if delivery is not None and delivery.next_attempt_at > now:
        return None
    attempts = delivery.attempts if delivery is not None else 0
    adapter = channels.for_ticket_channel(ticket.channel.value)
    plan = Plan(
        message_id=message_id,
        ticket_id=ticket.id,
        customer_id=ticket.customer_id,
        ticket_channel=ticket.channel.value,
        channel=ticket.channel.value,
    )
    if adapter is None:
        return replace(plan, final=DeliveryState.none)
    try:
        outbound = adapter.prepare(session=session, message_id=message_id)
    except Undeliverable as error:
        return replace(plan, channel=adapter.name, final=DeliveryState.failed, error=str(error))
    return replace(plan, channel=adapter.name, outbound=outbound, attempts=attempts)


def send_planned(*, channels: Channels, plan: Plan) -> tuple[DeliveryState, str]:
    """Send what ``plan`` holds (network only, no database); return the state to record and the error."""
    adapter = channels.for_ticket_channel(plan.ticket_channel)
    if plan.outbound is None or adapter is None:
        return plan.final or DeliveryState.failed, plan.error
    try:
        adapter.send(plan.outbound)
    except Undeliverable as error:
        return DeliveryState.failed, str(error) or type(error).__name__
    except TryLater as error:
        return DeliveryState.pending, str(error) or type(error).__name__
    return DeliveryState.sent, ""


def record_delivery(
    *, session: Session, plan: Plan, state: DeliveryState, error: str, now: dt.datetime
) -> dt.timedelta | None:
    """Record the outcome; return how long until the next retry (None when there is none)."""
    delivery = session.get(Delivery, plan.message_id)
    if delivery is None:
        delivery = Delivery(message_id=plan.message_id, channel=plan.channel, state="pending", attempts=0)
        session.add(delivery)
    outbound = plan.outbound
    if outbound is not None:
        delivery.recipient = outbound.recipient[:500]
        delivery.ref = outbound.ref
        if outbound.ref:
            # Known before the customer answers, so the answer threads into this ticket.
            record_ref(
                session=session,
                channel=outbound.channel or plan.channel,
                ref=outbound.ref,
                direction=Direction.outbound,
                message_id=plan.message_id,
                ticket_id=plan.ticket_id,
                customer_id=plan.customer_id,
            )
    delivery.channel = plan.channel
    delivery.updated_at = now
    delivery.last_error = error[:2000]
    retry_in: dt.timedelta | None = None
    if outbound is not None:
        delivery.attempts += 1
    if state is DeliveryState.pending:
        if delivery.attempts >= MAX_ATTEMPTS:
            state = DeliveryState.failed
            delivery.last_error = f"gave up after {delivery.attempts} attempts: {error}"[:2000]
        else:
            retry_in = min(FIRST_RETRY * 2 ** (delivery.attempts - 1), MAX_RETRY)
            delivery.next_attempt_at = now + retry_in
    if state is DeliveryState.sent:
        delivery.sent_at = now
    delivery.state = state.value
    feeds.set_delivery_state(session=session, message_id=plan.message_id, state=state)
    session.flush()
    return retry_in


def delivery_of(*, session: Session, message_id: int) -> Delivery | None:
    return session.get(Delivery, message_id)


def retry_delivery(*, session: Session, message_id: int, actor: Principal) -> Delivery:
    """Put a failed or bounced reply back in the queue (after fixing the relay or the address)."""
    if not actor.can_serve:
        raise Forbidden("your role may not resend replies", code="role_forbidden")
    delivery = session.get(Delivery, message_id)
    if delivery is None or delivery.state not in (DeliveryState.failed.value, DeliveryState.bounced.value):
        raise Conflict(f"message {message_id} has no failed delivery to retry", code="delivery_not_failed")
    delivery.state = DeliveryState.pending.value
    delivery.attempts = 0
    delivery.next_attempt_at = utcnow()
    feeds.set_delivery_state(session=session, message_id=message_id, state=DeliveryState.pending)
    session.flush()
    defer(session, DELIVER_JOB, message_id=message_id)
    return delivery


def mark_bounced(*, session: Session, channel: str, ref: str, reason: str) -> int | None:
    """Mark the reply the channel knows as ``ref`` bounced; return its message id (None if not ours)."""
    row = find_ref(session=session, channel=channel, ref=ref)
    if row is None or row.direction is not Direction.outbound:
        return None
    delivery = session.get(Delivery, row.message_id)
    if delivery is not None:
        delivery.state = DeliveryState.bounced.value
        delivery.last_error = reason[:2000]
        delivery.updated_at = utcnow()
    feeds.set_delivery_state(session=session, message_id=row.message_id, state=DeliveryState.bounced)
    session.flush()
    return row.message_id
