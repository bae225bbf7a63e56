"""Tickets and messages: create, read with permissions, list with filters, update, reply."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from ombud.accounts import service as accounts
from ombud.accounts.schemas import SYSTEM, Principal
from ombud.audit import service as audit
from ombud.customers import blocks
from ombud.customers import service as customers
from ombud.errors import Conflict, Forbidden, InvalidInput, NotFound, PayloadTooLarge
from ombud.html import sanitise_html
from ombud.pagination import cursor_id, decode_cursor, encode_cursor
from ombud.search import service as search
from ombud.storage.base import utcnow
from ombud.storage.queue import defer
from ombud.tickets import inbox, priority
from ombud.tickets.models import (
    OPEN_CONCERN_STATUSES,
    Attachment,
    AttachmentBlob,
    AuthorType,
    Channel,
    Concern,
    DeliveryState,
    Message,
    Priority,
    Status,
    Ticket,
    TicketTag,
)
from ombud.tickets.schemas import AttachmentIn, MessageCreate, TicketCreate, TicketFilters, TicketUpdate
from ombud.validation import normalise_tag

INDEX_JOB = "search.index_message"
TRIAGE_JOB = "triage.message"
# Suggests knowledge base articles for each concern triage found; registered by ombud.knowledge.
SUGGEST_JOB = "knowledge.suggest"
# Sends a public agent reply out on the ticket's channel; registered by ombud.channels.
DELIVER_JOB = "channels.deliver"
# Works out the customer 360's suggested offer after a resolution; registered by ombud.customers.
OFFER_JOB = "customers.refresh_offer"
MAX_PAGE = 200


@dataclass(frozen=True)
class Limits:
    """Size limits from the settings, passed down by the caller."""

    max_body_chars: int = 200_000
    max_attachment_bytes: int = 10 * 1024 * 1024
    max_attachments: int = 20


@dataclass(frozen=True)
class NewAttachment:
    """An attachment's decoded content, as the API or a channel received it."""

    filename: str
    content_type: str
    content: bytes


# -- reading ----------------------------------------------------------------------------------------------


def access_ticket(*, session: Session, principal: Principal, ticket_id: int) -> Ticket:
    """Return the ticket if ``principal`` may read it; raise NotFound or Forbidden otherwise."""
    if not (principal.is_staff or principal.is_customer):
        raise Forbidden("your role may not read tickets", code="role_forbidden")
    ticket = session.get(Ticket, ticket_id)
    if ticket is None or (principal.is_customer and ticket.customer_id != principal.id):
        # Customers cannot tell another customer's ticket from a missing one.
        raise NotFound(f"no ticket with id {ticket_id}", code="ticket_not_found")
    return ticket


def list_messages(*, session: Session, ticket: Ticket, principal: Principal) -> Sequence[Message]:
    """Return the ticket's messages, oldest first; customers never see internal notes."""
    query = (
        select(Message)
        .where(Message.ticket_id == ticket.id)
        .options(selectinload(Message.attachments))
        .order_by(Message.id)
    )
    if principal.is_customer:
        query = query.where(Message.internal.is_(False))
    return session.scalars(query).all()


def list_tickets(
    *,
    session: Session,
    principal: Principal,
    filters: TicketFilters,
    limit: int = 50,
    cursor: str | None = None,
) -> tuple[Sequence[Ticket], str | None]:
    """Return one page of tickets, newest first, and the cursor of the next page (None at the end).

    Keyset pagination on the id: every page costs the same whether it is the first or the ten-thousandth.
    """
    if not (principal.is_staff or principal.is_customer):
        raise Forbidden("your role may not list tickets", code="role_forbidden")
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInput(f"limit must be between 1 and {MAX_PAGE}", code="invalid_limit")
    query: Select[Ticket] = select(Ticket)
    if principal.is_customer:
        query = query.where(Ticket.customer_id == principal.id)
    query = _apply_filters(session=session, query=query, filters=filters, principal=principal)
    if cursor is not None:
        position = decode_cursor(cursor, required=("id",))
        query = query.where(Ticket.id < cursor_id(position))
    rows = session.scalars(query.order_by(Ticket.id.desc()).limit(limit + 1)).all()
    items = rows[:limit]
    next_cursor = encode_cursor({"id": items[-1].id}) if len(rows) > limit else None
    return items, next_cursor


def count_open_assigned(*, session: Session, user_id: int) -> int:
    """How many open tickets are assigned to ``user_id`` (before deactivating someone who left)."""
    query = select(func.count()).select_from(Ticket).where(Ticket.assignee_id == user_id, Ticket.is_open)
    return int(session.scalar(query) or 0)


def _apply_filters(
    *, session: Session, query: Select[Ticket], filters: TicketFilters, principal: Principal
) -> Select[Ticket]:
    if filters.status:
        query = query.where(Ticket.status.in_(filters.status))
    if filters.unassigned:
        query = query.where(Ticket.assignee_id.is_(None))
    elif filters.assignee_id is not None:
        query = query.where(Ticket.assignee_id == filters.assignee_id)
    if filters.customer_id is not None:
        query = query.where(Ticket.customer_id == filters.customer_id)
    if filters.team_id is not None:
        query = query.where(Ticket.team_id == filters.team_id)
    if filters.channel is not None:
        query = query.where(Ticket.channel == filters.channel)
    if filters.tag:
        tag = normalise_tag(filters.tag)
        query = query.where(Ticket.id.in_(select(TicketTag.ticket_id).where(TicketTag.tag == tag)))
    if filters.q is not None and filters.q.strip():
        ids = search.matching_ticket_ids(
            session=session, text=filters.q, include_internal=not principal.is_customer
        )
        query = query.where(Ticket.id.in_(ids))
    return query


# -- creating ---------------------------------------------------------------------------------------------
def create_ticket(
    *, session: Session, data: TicketCreate, actor: Principal, limits: Limits
) -> tuple[Ticket, bool]:
    """Return (ticket, created). With an ``external_id`` already used, return that ticket unchanged.

    The body is the customer's first message, whoever makes the call (an agent logging a phone call, an
    integration forwarding a web form, or the customer through the portal).
    """
    if not (actor.can_serve or actor.is_customer):
        raise Forbidden("your role may not create tickets", code="role_forbidden")
    if actor.is_customer:
        blocks.refuse_if_blocked(session=session, channel="api", customer_id=actor.id)
    _check_body(data.body, limits)
    if data.external_id is not None:
        existing = _by_external_id(session=session, external_id=data.external_id, actor=actor)
        if existing is not None:
            return existing, False

    customer_id = _customer_for_new_ticket(session=session, data=data, actor=actor)
    now = utcnow()
    ticket = Ticket(
        subject=data.subject,
        status=Status.new,
        priority=data.priority or Priority.normal,
        channel=data.channel,
        customer_id=customer_id,
        external_id=data.external_id,
        created_at=now,
        updated_at=now,
    )
    priority.refresh(ticket=ticket)
    ticket.tags = [TicketTag(tag=tag) for tag in _clean_tags(data.tags)]
    if data.external_id is None:
        session.add(ticket)
        session.flush()
    else:
        try:
            # Two requests with the same key at once (PostgreSQL): the loser returns the winner's ticket.
            with session.begin_nested():
                session.add(ticket)
        except IntegrityError:
            existing = _by_external_id(session=session, external_id=data.external_id, actor=actor)
            if existing is None:
                raise
            return existing, False

    _add_message(
        session=session,
        ticket=ticket,
        author_type=AuthorType.customer,
        author_user_id=None,
        body=data.body,
        body_html=data.body_html,
        internal=False,
        attachments=decode_attachments(data.attachments, limits),
        at=now,
    )
    _record_created(session=session, actor=actor, ticket=ticket)
    return ticket, True


def open_ticket(
    *,
    session: Session,
    customer_id: int,
    subject: str,
    channel: Channel,
    body: str,
    body_html: str | None,
    attachments: Sequence[NewAttachment],
    channel_meta: dict[str, Any],
    actor: Principal,
    follow_up_of_id: int | None = None,
    triage: bool = True,
) -> tuple[Ticket, Message]:
    """Open a ticket from a message a channel received; return it and its first message.

    For channel adapters, which have found the customer and checked the sizes themselves. ``triage`` False
    keeps an auto-reply out of triage.
    """
    now = utcnow()
    ticket = _insert_ticket(
        session=session,
        subject=subject,
        status=Status.new,
        priority=Priority.normal,
        channel=channel,
        customer_id=customer_id,
        follow_up_of_id=follow_up_of_id,
        created_at=now,
    )
    message = _add_message(
        session=session,
        ticket=ticket,
        author_type=AuthorType.customer,
        author_user_id=None,
        body=body,
        body_html=body_html,
        internal=False,
        attachments=attachments,
        at=now,
        channel_meta=channel_meta,
        triage=triage,
    )
    _record_created(session=session, actor=actor, ticket=ticket)
    return ticket, message


def _record_created(*, session: Session, actor: Principal, ticket: Ticket) -> None:
    audit.record(
        session=session,
        actor=actor,
        action="ticket.created",
        entity_type="ticket",
        entity_id=ticket.id,
        customer_id=ticket.customer_id,
        ticket_id=ticket.id,
        at=ticket.created_at,
        # The channel too: SLA policies, routing and reports choose by it.
        after={
            **_snapshot(ticket),
            "channel": ticket.channel.value,
            "follow_up_of_id": ticket.follow_up_of_id,
        }
        if ticket.follow_up_of_id
        else {**_snapshot(ticket), "channel": ticket.channel.value},
    )


def _by_external_id(*, session: Session, external_id: str, actor: Principal) -> Ticket | None:
    ticket = session.scalar(select(Ticket).where(Ticket.external_id == external_id))
    if ticket is not None and actor.is_customer and ticket.customer_id != actor.id:
        raise Conflict("this external_id is already used; choose another", code="external_id_taken")
    return ticket


def _customer_for_new_ticket(*, session: Session, data: TicketCreate, actor: Principal) -> int:
    if actor.is_customer:
        assert actor.id is not None
        return actor.id
    if data.customer is None:
        raise InvalidInput(
            "say who the ticket is from: customer.email, customer.phone, customer.handle or customer.visitor",
            code="customer_required",
        )
    customer, _ = customers.resolve_customer(session=session, ref=data.customer, actor=actor)
    return customer.id


# -- changing ---------------------------------------------------------------------------------------------
def update_ticket(*, session: Session, ticket: Ticket, changes: TicketUpdate, actor: Principal) -> Ticket:
    """Apply the fields given in ``changes``; record one audit event with before and after."""
    if not actor.can_serve:
        raise Forbidden("your role may not change tickets", code="role_forbidden")
    fields = changes.model_dump(exclude_unset=True)
    confirmed = bool(fields.pop("confirm", False))
    if not fields:
        return ticket
    if ticket.status == Status.closed:
        raise Conflict(
            f"ticket {ticket.id} is closed and cannot change; open a new ticket instead",
            code="ticket_closed",
        )
    left_open: list[Concern] = []
    if ticket.is_open and fields.get("status") in (Status.solved, Status.closed):
        left_open = _check_open_concerns(session=session, ticket=ticket, actor=actor, confirmed=confirmed)
    before = _snapshot(ticket)
    for name in ("subject", "status", "priority"):
        if fields.get(name) is None and name in fields:
            raise InvalidInput(f"{name} cannot be null", code="invalid_input", details={"field": name})
    if "subject" in fields and fields["subject"] != ticket.subject:
        ticket.subject = fields["subject"]
        _reindex_first_message(session=session, ticket=ticket)
    if "status" in fields:
        was_open = ticket.is_open
        _set_status(ticket, fields["status"])
        if was_open and not ticket.is_open:
            # A resolved concern may make the customer 360's suggestion worth offering now.
            defer(session, OFFER_JOB, customer_id=ticket.customer_id)
    if "priority" in fields and fields["priority"] != ticket.priority:
        ticket.priority = fields["priority"]
        priority.refresh(ticket=ticket)
    _apply_assignment(session=session, ticket=ticket, fields=fields)
    after = _snapshot(ticket)
    changed = {key for key in after if after[key] != before[key]}
    if changed:
        ticket.updated_at = utcnow()
        session.flush()
        audit.record(
            session=session,
            actor=actor,
            action="ticket.updated",
            entity_type="ticket",
            entity_id=ticket.id,
            customer_id=ticket.customer_id,
            ticket_id=ticket.id,
            before={key: before[key] for key in sorted(changed)},
            after={key: after[key] for key in sorted(changed)},
        )
    if left_open and not ticket.is_open:
        # Reports count the concerns a ticket was solved without; they stay open (see docs/tracking.md).
        audit.record(
            session=session,
            actor=actor,
            action="ticket.solved_with_open_concerns",
            entity_type="ticket",
            entity_id=ticket.id,
            customer_id=ticket.customer_id,
            ticket_id=ticket.id,
            after={"status": ticket.status.value, "concern_ids": [c.id for c in left_open]},
        )
    return ticket


def open_concerns(*, session: Session, ticket_id: int) -> Sequence[Concern]:
    """Return the ticket's concerns that still need work (open or in progress), oldest first."""
    return session.scalars(
        select(Concern)
        .where(Concern.ticket_id == ticket_id, Concern.status.in_(OPEN_CONCERN_STATUSES))
        .order_by(Concern.id)
    ).all()


def _check_open_concerns(
    *, session: Session, ticket: Ticket, actor: Principal, confirmed: bool
) -> list[Concern]:
    """Return the open concerns a solve leaves open; raise Conflict when a person has not confirmed it.

    Automations (the system) are not asked: their rule is the confirmation.
    """
    left = list(open_concerns(session=session, ticket_id=ticket.id))
    if left and not confirmed and actor.kind != "system":
        listed = "; ".join(f"#{c.id} {c.text[:80]!r}" for c in left[:5])
        raise Conflict(
            f"ticket {ticket.id} has {len(left)} open concern(s): {listed}. Resolve them, or solve anyway "
            "with confirm: true",
            code="open_concerns",
            details={
                "concerns": [
                    {"id": c.id, "text": c.text, "intent": c.intent, "status": c.status.value} for c in left
                ]
            },
        )
    return left


def start_ticket(
    *,
    session: Session,
    customer_id: int,
    subject: str,
    channel: Channel,
    ticket_priority: Priority,
    team_id: int | None,
    actor: Principal,
) -> Ticket:
    """Create an open ticket with no message yet (a split moves one into it) and record its creation."""
    ticket = _insert_ticket(
        session=session,
        subject=subject,
        status=Status.open,
        priority=ticket_priority,
        channel=channel,
        customer_id=customer_id,
        team_id=team_id,
        created_at=utcnow(),
    )
    _record_created(session=session, actor=actor, ticket=ticket)
    return ticket


def _insert_ticket(*, session: Session, subject: str, created_at: dt.datetime, **fields: Any) -> Ticket:
    """Insert a ticket without tags, ranked for the inbox; return it with its id."""
    ticket = Ticket(
        subject=subject[:500] or "(no subject)", created_at=created_at, updated_at=created_at, **fields
    )
    priority.refresh(ticket=ticket)
    ticket.tags = []
    session.add(ticket)
    session.flush()
    return ticket


def add_system_note(*, session: Session, ticket: Ticket, body: str) -> Message:
    """Add an internal note written by ombud itself (a reminder that came due); @handles in it become
    mentions. Works on closed tickets too: the note is for staff only."""
    message = _append(
        session=session,
        ticket=ticket,
        actor=SYSTEM,
        author_type=AuthorType.system,
        body=body,
        body_html=None,
        internal=True,
        attachments=(),
        channel_meta={},
        triage=False,
        reopen=False,
    )
    inbox.record_mentions(session=session, message=message)
    return message


def _apply_assignment(*, session: Session, ticket: Ticket, fields: dict[str, Any]) -> None:
    """Apply assignee, team and tags from a ticket update, checking the ids exist."""
    if "assignee_id" in fields:
        if fields["assignee_id"] is not None:
            accounts.access_user(session=session, user_id=fields["assignee_id"])
        ticket.assignee_id = fields["assignee_id"]
    if "team_id" in fields:
        if fields["team_id"] is not None:
            accounts.access_team(session=session, team_id=fields["team_id"])
        ticket.team_id = fields["team_id"]
    if "tags" in fields and fields["tags"] is not None:
        wanted = _clean_tags(fields["tags"])
        if wanted != ticket.tag_names:
            ticket.tags = [TicketTag(tag=tag) for tag in wanted]


def _set_status(ticket: Ticket, status: Status) -> None:
    if status == ticket.status:
        return
    ticket.status = status
    if status in (Status.solved, Status.closed):
        ticket.resolved_at = ticket.resolved_at or utcnow()
    else:
        ticket.resolved_at = None


def add_message(
    *, session: Session, ticket: Ticket, data: MessageCreate, actor: Principal, limits: Limits
) -> Message:
    """Add a reply or an internal note from the caller and move the ticket's status the way it should."""
    if actor.is_customer:
        if data.internal:
            raise Forbidden("customers cannot write internal notes", code="internal_forbidden")
        blocks.refuse_if_blocked(session=session, channel="api", customer_id=actor.id)
        author_type = AuthorType.customer
    elif actor.can_serve:
        author_type = AuthorType.agent
    elif actor.is_staff:
        if not data.internal:
            raise Forbidden(
                "your role may add internal notes only; set internal to true", code="public_reply_forbidden"
            )
        author_type = AuthorType.agent
    else:
        raise Forbidden("your role may not write on tickets", code="role_forbidden")
    if ticket.status == Status.closed:
        raise Conflict(f"ticket {ticket.id} is closed; open a new ticket instead", code="ticket_closed")
    _check_body(data.body, limits)
    message = _append(
        session=session,
        ticket=ticket,
        actor=actor,
        author_type=author_type,
        body=data.body,
        body_html=data.body_html,
        internal=data.internal,
        attachments=decode_attachments(data.attachments, limits),
        channel_meta={},
        triage=True,
        reopen=True,
    )
    if message.internal:
        inbox.record_mentions(session=session, message=message)
    return message


def add_customer_message(
    *,
    session: Session,
    ticket: Ticket,
    body: str,
    body_html: str | None,
    attachments: Sequence[NewAttachment],
    channel_meta: dict[str, Any],
    actor: Principal,
    triage: bool = True,
    reopen: bool = True,
) -> Message:
    """Add a message a channel received from the ticket's customer (the ticket must not be closed).

    ``reopen`` False leaves a solved ticket solved (an out-of-office reply is no new question).
    """
    if ticket.status == Status.closed:
        raise Conflict(f"ticket {ticket.id} is closed; open a new ticket instead", code="ticket_closed")
    return _append(
        session=session,
        ticket=ticket,
        actor=actor,
        author_type=AuthorType.customer,
        body=body,
        body_html=body_html,
        internal=False,
        attachments=attachments,
        channel_meta=channel_meta,
        triage=triage,
        reopen=reopen,
    )


def _append(
    *,
    session: Session,
    ticket: Ticket,
    actor: Principal,
    author_type: AuthorType,
    body: str,
    body_html: str | None,
    internal: bool,
    attachments: Sequence[NewAttachment],
    channel_meta: dict[str, Any],
    triage: bool,
    reopen: bool,
) -> Message:
    before = _snapshot(ticket)
    now = utcnow()
    message = _add_message(
        session=session,
        ticket=ticket,
        author_type=author_type,
        author_user_id=actor.id if actor.kind == "user" else None,
        body=body,
        body_html=body_html,
        internal=internal,
        attachments=attachments,
        at=now,
        channel_meta=channel_meta,
        triage=triage,
    )
    if (
        author_type == AuthorType.customer
        and reopen
        and ticket.status in (Status.pending, Status.on_hold, Status.solved)
    ):
        _set_status(ticket, Status.open)
    elif author_type == AuthorType.agent and not internal:
        ticket.first_response_at = ticket.first_response_at or now
        if ticket.status == Status.new:
            ticket.status = Status.open
    ticket.updated_at = now
    after = _snapshot(ticket)
    changed = sorted(key for key in after if after[key] != before[key])
    audit.record(
        session=session,
        actor=actor,
        action="note.added" if internal else "message.added",
        entity_type="message",
        entity_id=message.id,
        customer_id=ticket.customer_id,
        ticket_id=ticket.id,
        at=now,
        before={key: before[key] for key in changed} or None,
        after={"ticket": {key: after[key] for key in changed}} if changed else None,
    )
    return message


def _add_message(
    *,
    session: Session,
    ticket: Ticket,
    author_type: AuthorType,
    author_user_id: int | None,
    body: str,
    body_html: str | None,
    internal: bool,
    attachments: Sequence[NewAttachment],
    at: Any,
    channel_meta: dict[str, Any] | None = None,
    triage: bool = True,
) -> Message:
    stored = []
    for item in attachments:
        digest = hashlib.sha256(item.content).hexdigest()
        if session.get(AttachmentBlob, digest) is None:
            session.add(AttachmentBlob(sha256=digest, size=len(item.content), data=item.content))
            session.flush()  # the blob row must exist before the attachment that points at it
        stored.append(
            Attachment(
                filename=item.filename, content_type=item.content_type, size=len(item.content), sha256=digest
            )
        )
    needs_triage = author_type is AuthorType.customer and not internal and triage
    public_reply = author_type is AuthorType.agent and not internal
    message = Message(
        ticket_id=ticket.id,
        customer_id=ticket.customer_id,
        author_type=author_type,
        author_user_id=author_user_id,
        channel=ticket.channel,
        internal=internal,
        body_text=body,
        body_html=sanitise_html(body_html) if body_html else None,
        channel_meta=channel_meta or {},
        created_at=at,
        triaged_at=None if needs_triage else at,
        delivery_state=DeliveryState.pending if public_reply else None,
        # Given here, before the first flush, so showing the new message needs no second read.
        attachments=stored,
    )
    session.add(message)
    session.flush()
    defer(session, INDEX_JOB, message_id=message.id)
    if needs_triage:
        defer(session, TRIAGE_JOB, message_id=message.id)
    if public_reply:
        defer(session, DELIVER_JOB, message_id=message.id)
    return message


def get_attachment(*, session: Session, principal: Principal, attachment_id: int) -> tuple[Attachment, bytes]:
    """Return an attachment and its bytes if the caller may read the message it belongs to."""
    attachment = session.get(Attachment, attachment_id)
    message = session.get(Message, attachment.message_id) if attachment is not None else None
    if attachment is None or message is None:
        raise NotFound(f"no attachment with id {attachment_id}", code="attachment_not_found")
    access_ticket(session=session, principal=principal, ticket_id=message.ticket_id)
    if principal.is_customer and message.internal:
        raise NotFound(f"no attachment with id {attachment_id}", code="attachment_not_found")
    blob = session.get(AttachmentBlob, attachment.sha256)
    assert blob is not None
    return attachment, blob.data


def store_blob(*, session: Session, content: bytes) -> str:
    """Store ``content`` once among the attachment blobs (by its SHA-256) and return the digest; other
    domains' files (work order photos) share the table and its deduplication."""
    digest = hashlib.sha256(content).hexdigest()
    if session.get(AttachmentBlob, digest) is None:
        session.add(AttachmentBlob(sha256=digest, size=len(content), data=content))
        session.flush()
    return digest


def blob_data(*, session: Session, sha256: str) -> bytes:
    blob = session.get(AttachmentBlob, sha256)
    if blob is None:
        raise NotFound("the file is gone", code="blob_not_found")
    return blob.data


def decode_attachments(items: list[AttachmentIn], limits: Limits) -> list[NewAttachment]:
    check_attachment_count(len(items), limits)
    decoded = []
    for position, item in enumerate(items):
        try:
            content = base64.b64decode(item.content_base64, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidInput(
                f"attachment {position} ({item.filename!r}) is not valid base64",
                code="invalid_attachment",
                details={"index": position},
            ) from None
        check_attachment_size(item.filename, len(content), position, limits)
        decoded.append(NewAttachment(filename=item.filename, content_type=item.content_type, content=content))
    return decoded


def check_attachment_count(count: int, limits: Limits) -> None:
    if count > limits.max_attachments:
        raise PayloadTooLarge(
            f"{count} attachments; at most {limits.max_attachments} per message", code="too_many_attachments"
        )


def check_attachment_size(filename: str, size: int, position: int, limits: Limits) -> None:
    if size > limits.max_attachment_bytes:
        raise PayloadTooLarge(
            f"attachment {filename!r} has {size} bytes; the limit is {limits.max_attachment_bytes}",
            code="attachment_too_large",
            details={"index": position},
        )


def _check_body(body: str, limits: Limits) -> None:
    if len(body) > limits.max_body_chars:
        raise PayloadTooLarge(
            f"the body has {len(body)} characters; the limit is {limits.max_body_chars}",
            code="body_too_large",
        )


def _clean_tags(tags: list[str]) -> list[str]:
    return sorted({normalise_tag(tag) for tag in tags})


def _reindex_first_message(*, session: Session, ticket: Ticket) -> None:
    first = session.scalar(
        select(Message).where(Message.ticket_id == ticket.id).order_by(Message.id).limit(1)
    )
    if first is not None:
        first.indexed_at = None
        defer(session, INDEX_JOB, message_id=first.id)


def _snapshot(ticket: Ticket) -> dict[str, Any]:
    return {
        "subject": ticket.subject,
        "status": ticket.status.value,
        "priority": ticket.priority.value,
        "assignee_id": ticket.assignee_id,
        "team_id": ticket.team_id,
        "tags": ticket.tag_names,
    }
