"""Tickets and messages: create, read with permissions, list with filters, update, reply."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, and_, case, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from ombud.accounts import service as accounts
from ombud.accounts.schemas import Principal
from ombud.audit import service as audit
from ombud.customers import service as customers
from ombud.errors import Conflict, Forbidden, InvalidInput, NotFound, PayloadTooLarge
from ombud.html import sanitise_html
from ombud.pagination import cursor_id, decode_cursor, encode_cursor
from ombud.search import service as search
from ombud.storage.base import utcnow
from ombud.storage.queue import defer
from ombud.tickets.models import (
    Attachment,
    AttachmentBlob,
    AuthorType,
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
MAX_PAGE = 200


@dataclass(frozen=True)
class Limits:
    """Size limits from the settings, passed down by the caller."""

    max_body_chars: int = 200_000
    max_attachment_bytes: int = 10 * 1024 * 1024
    max_attachments: int = 20


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
        attachments=data.attachments,
        limits=limits,
        at=now,
    )
    audit.record(
        session=session,
        actor=actor,
        action="ticket.created",
        entity_type="ticket",
        entity_id=ticket.id,
        customer_id=customer_id,
        ticket_id=ticket.id,
        at=now,
        after=_snapshot(ticket),
    )
    return ticket, True


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
    if not fields:
        return ticket
    if ticket.status == Status.closed:
        raise Conflict(
            f"ticket {ticket.id} is closed and cannot change; open a new ticket instead",
            code="ticket_closed",
        )
    before = _snapshot(ticket)
    for name in ("subject", "status", "priority"):
        if fields.get(name) is None and name in fields:
            raise InvalidInput(f"{name} cannot be null", code="invalid_input", details={"field": name})
    if "subject" in fields and fields["subject"] != ticket.subject:
        ticket.subject = fields["subject"]
        _reindex_first_message(session=session, ticket=ticket)
    if "status" in fields:
        _set_status(ticket, fields["status"])
    if "priority" in fields:
        ticket.priority = fields["priority"]
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
    return ticket


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
    before = _snapshot(ticket)
    now = utcnow()
    message = _add_message(
        session=session,
        ticket=ticket,
        author_type=author_type,
        author_user_id=actor.id if actor.kind == "user" else None,
        body=data.body,
        body_html=data.body_html,
        internal=data.internal,
        attachments=data.attachments,
        limits=limits,
        at=now,
    )
    if author_type == AuthorType.customer and ticket.status in (
        Status.pending,
        Status.on_hold,
        Status.solved,
    ):
        _set_status(ticket, Status.open)
    elif author_type == AuthorType.agent and not data.internal:
        ticket.first_response_at = ticket.first_response_at or now
        if ticket.status == Status.new:
            ticket.status = Status.open
    ticket.updated_at = now
    after = _snapshot(ticket)
    changed = sorted(key for key in after if after[key] != before[key])
    audit.record(
        session=session,
        actor=actor,
        action="note.added" if data.internal else "message.added",
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
    attachments: list[AttachmentIn],
    limits: Limits,
    at: Any,
) -> Message:
    stored = []
    for item, content in _decode_attachments(attachments, limits):
        digest = hashlib.sha256(content).hexdigest()
        if session.get(AttachmentBlob, digest) is None:
            session.add(AttachmentBlob(sha256=digest, size=len(content), data=content))
            session.flush()  # the blob row must exist before the attachment that points at it
        stored.append(
            Attachment(
                filename=item.filename, content_type=item.content_type, size=len(content), sha256=digest
            )
        )
    needs_triage = author_type is AuthorType.customer and not internal
    message = Message(
        ticket_id=ticket.id,
        customer_id=ticket.customer_id,
        author_type=author_type,
        author_user_id=author_user_id,
        channel=ticket.channel,
        internal=internal,
        body_text=body,
        body_html=sanitise_html(body_html) if body_html else None,
        channel_meta={},
        created_at=at,
        triaged_at=None if needs_triage else at,
        # Given here, before the first flush, so showing the new message needs no second read.
        attachments=stored,
    )
    session.add(message)
    session.flush()
    defer(session, INDEX_JOB, message_id=message.id)
    if needs_triage:
        defer(session, TRIAGE_JOB, message_id=message.id)
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


def _decode_attachments(items: list[AttachmentIn], limits: Limits) -> list[tuple[AttachmentIn, bytes]]:
    if len(items) > limits.max_attachments:
        raise PayloadTooLarge(
            f"{len(items)} attachments; at most {limits.max_attachments} per message",
            code="too_many_attachments",
        )
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
        if len(content) > limits.max_attachment_bytes:
            raise PayloadTooLarge(
                f"attachment {item.filename!r} has {len(content)} bytes; "
                f"the limit is {limits.max_attachment_bytes}",
                code="attachment_too_large",
                details={"index": position},
            )
        decoded.append((item, content))
    return decoded


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


# -- for the search index ---------------------------------------------------------------------------------
def unindexed_for_search(*, session: Session, first_id: int, limit: int) -> Sequence[Any]:
    """Return rows (id, ticket_id, internal, body_text, subject) of messages waiting for the index:
    ``first_id`` first, then the oldest others. ``subject`` is set only on a ticket's first message."""
    earliest = (
        select(func.min(Message.id)).where(Message.ticket_id == Ticket.id).correlate(Ticket).scalar_subquery()
    )
    query = (
        select(
            Message.id,
            Message.ticket_id,
            Message.internal,
            Message.body_text,
            case((Message.id == earliest, Ticket.subject), else_=None).label("subject"),
        )
        .join(Ticket, Ticket.id == Message.ticket_id)
        .where(Message.indexed_at.is_(None))
        .order_by((Message.id != first_id), Message.id)
        .limit(limit)
        # Two workers on PostgreSQL take disjoint batches; SQLite's write lock already serialises them.
        .with_for_update(of=Message, skip_locked=True)
    )
    return session.execute(query).all()


def mark_indexed(*, session: Session, message_ids: list[int], at: Any) -> None:
    if message_ids:
        session.execute(update(Message).where(Message.id.in_(message_ids)).values(indexed_at=at))


def unindexed_message_ids(*, session: Session, limit: int) -> Sequence[int]:
    """Return ids of messages the search index does not hold yet (for the sweep)."""
    return session.scalars(
        select(Message.id).where(Message.indexed_at.is_(None)).order_by(Message.id).limit(limit)
    ).all()


def customer_messages(
    *, session: Session, customer_id: int, before: tuple[Any, int] | None, limit: int, include_internal: bool
) -> Sequence[Message]:
    """Return the customer's messages across all tickets, newest first, older than ``before``."""
    query = select(Message).where(Message.customer_id == customer_id)
    if not include_internal:
        query = query.where(Message.internal.is_(False))
    if before is not None:
        at, message_id = before
        query = query.where(
            (Message.created_at < at) | and_(Message.created_at == at, Message.id < message_id)
        )
    return session.scalars(query.order_by(Message.created_at.desc(), Message.id.desc()).limit(limit)).all()


# -- for triage -------------------------------------------------------------------------------------------
OPEN_STATUSES = (Status.new, Status.open, Status.pending, Status.on_hold)
CHAT_MERGE_LINES = 10
CHAT_MERGE_WINDOW = dt.timedelta(minutes=30)


def untriaged_for_triage(*, session: Session, first_id: int, limit: int) -> Sequence[Message]:
    """Return customer messages waiting for triage, ``first_id`` first, then the oldest others (read
    without locking: the models run on them before anything is written)."""
    query = (
        select(Message)
        .where(Message.triaged_at.is_(None))
        .order_by((Message.id != first_id), Message.id)
        .limit(limit)
    )
    return session.scalars(query).all()


def mark_triaged(*, session: Session, message_ids: list[int], at: Any) -> None:
    if message_ids:
        session.execute(update(Message).where(Message.id.in_(message_ids)).values(triaged_at=at))


def still_untriaged(*, session: Session, message_ids: list[int]) -> Sequence[int]:
    """Return which of ``message_ids`` still wait for triage, locked until the caller commits (a second
    worker that triaged the same message waits here, then finds it done)."""
    if not message_ids:
        return []
    return session.scalars(
        select(Message.id)
        .where(Message.id.in_(message_ids), Message.triaged_at.is_(None))
        .order_by(Message.id)
        .with_for_update()
    ).all()


def untriaged_message_ids(*, session: Session, limit: int) -> Sequence[int]:
    """Return ids of customer messages triage has not done yet (for the sweep)."""
    return session.scalars(
        select(Message.id).where(Message.triaged_at.is_(None)).order_by(Message.id).limit(limit)
    ).all()


def chat_lines_before(*, session: Session, message: Message) -> list[str]:
    """Return the customer's chat lines sent just before ``message`` in its ticket, with no agent reply in
    between and within CHAT_MERGE_WINDOW: the start of what ``message`` continues."""
    rows = session.execute(
        select(Message.author_type, Message.internal, Message.body_text, Message.created_at)
        .where(Message.ticket_id == message.ticket_id, Message.id < message.id)
        .order_by(Message.id.desc())
        .limit(CHAT_MERGE_LINES * 2)
    ).all()
    lines: list[str] = []
    last = message.created_at
    for author_type, internal, body, created_at in rows:
        if internal:
            continue
        if author_type is not AuthorType.customer or last - created_at > CHAT_MERGE_WINDOW:
            break
        lines.append(body)
        last = created_at
        if len(lines) == CHAT_MERGE_LINES:
            break
    return list(reversed(lines))


def open_tickets_of(
    *, session: Session, customer_id: int, before: dt.datetime, limit: int = 5
) -> Sequence[Any]:
    """Return (id, subject, status) of the customer's unresolved tickets opened before ``before``, newest
    first."""
    return session.execute(
        select(Ticket.id, Ticket.subject, Ticket.status)
        .where(
            Ticket.customer_id == customer_id, Ticket.status.in_(OPEN_STATUSES), Ticket.created_at <= before
        )
        .order_by(Ticket.id.desc())
        .limit(limit)
    ).all()


def tickets_since(*, session: Session, customer_id: int, since: dt.datetime, until: dt.datetime) -> int:
    """Return how many tickets the customer opened between ``since`` and ``until``."""
    return (
        session.scalar(
            select(func.count())
            .select_from(Ticket)
            .where(Ticket.customer_id == customer_id, Ticket.created_at >= since, Ticket.created_at <= until)
        )
        or 0
    )


def waiting_since(*, session: Session, message: Message) -> dt.datetime:
    """Return when the customer started waiting: their first message after the last public agent reply."""
    last_reply = session.scalar(
        select(func.max(Message.id)).where(
            Message.ticket_id == message.ticket_id,
            Message.id < message.id,
            Message.author_type == AuthorType.agent,
            Message.internal.is_(False),
        )
    )
    first_unanswered = session.scalar(
        select(func.min(Message.created_at)).where(
            Message.ticket_id == message.ticket_id,
            Message.id > (last_reply or 0),
            Message.author_type == AuthorType.customer,
        )
    )
    return first_unanswered or message.created_at


def ticket_of_message(*, session: Session, message_id: int) -> int:
    """Return the ticket id of ``message_id``; NotFound if there is no such message."""
    ticket_id = session.scalar(select(Message.ticket_id).where(Message.id == message_id))
    if ticket_id is None:
        raise NotFound(f"Message {message_id} does not exist.", code="message_not_found")
    return ticket_id
