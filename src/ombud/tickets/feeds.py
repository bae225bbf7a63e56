"""What background work reads from tickets and messages: the search index's and triage's queues, the
customer timeline's messages, and the history triage looks at."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, and_, case, func, select, update
from sqlalchemy.orm import Session

from ombud.errors import NotFound
from ombud.tickets.models import (
    Attachment,
    AttachmentBlob,
    AuthorType,
    Channel,
    DeliveryState,
    Message,
    Status,
    Ticket,
    TicketRating,
)


# -- for the search index ------------------------------------------------------------------------------------
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


# -- for triage ----------------------------------------------------------------------------------------------
OPEN_STATUSES = (Status.new, Status.open, Status.pending, Status.on_hold)
CHAT_MERGE_LINES = 10
CHAT_MERGE_WINDOW = dt.timedelta(minutes=30)


def untriaged_for_triage(*, session: Session, first_id: int, limit: int) -> Sequence[Message]:
    """Return customer messages waiting for triage: ``first_id`` first, then the oldest live others, then
    imported history (read without locking: the models run on them before anything is written).

    Both reads walk the partial index ``ix_messages_untriaged`` (imported, id) in order, so a backlog of
    a million imported messages costs each batch no more than an empty one."""
    first = session.scalars(select(Message).where(Message.id == first_id, Message.triaged_at.is_(None))).all()
    others = session.scalars(
        select(Message)
        .where(Message.triaged_at.is_(None), Message.id != first_id)
        .order_by(Message.imported, Message.id)
        .limit(limit - len(first))
    ).all()
    return [*first, *others]


def live_only(statement: Select[Any], message_id: Any, *, from_id: int = 0) -> Select[Any]:
    """Restrict ``statement`` to rows whose ``message_id`` column is a live message, not imported history
    (``from_id``: the statement's own lower bound, repeated so the join starts there too)."""
    return statement.join(Message, Message.id == message_id).where(
        Message.imported.is_(False), Message.id >= from_id
    )


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
    """Return ids of customer messages triage has not done yet, live ones first (for the sweep)."""
    return session.scalars(
        select(Message.id)
        .where(Message.triaged_at.is_(None))
        .order_by(Message.imported, Message.id)
        .limit(limit)
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


# -- for channel delivery ------------------------------------------------------------------------------------
def undelivered_message_ids(*, session: Session, limit: int) -> Sequence[int]:
    """Return ids of public agent replies still waiting to go out (for the sweep)."""
    return session.scalars(
        select(Message.id)
        .where(Message.delivery_state == DeliveryState.pending)
        .order_by(Message.id)
        .limit(limit)
    ).all()


def reply_to_deliver(*, session: Session, message_id: int) -> tuple[Message, Ticket] | None:
    """Return the reply and its ticket if ``message_id`` is a public agent reply still to be delivered."""
    message = session.get(Message, message_id)
    if message is None or message.delivery_state is not DeliveryState.pending:
        return None
    return message, message.ticket


def set_delivery_state(*, session: Session, message_id: int, state: DeliveryState) -> None:
    session.execute(update(Message).where(Message.id == message_id).values(delivery_state=state))


def attachment_contents(*, session: Session, message_id: int) -> list[tuple[str, str, bytes]]:
    """Return (filename, content type, bytes) of every attachment of ``message_id``."""
    rows = session.execute(
        select(Attachment.filename, Attachment.content_type, AttachmentBlob.data)
        .join(AttachmentBlob, AttachmentBlob.sha256 == Attachment.sha256)
        .where(Attachment.message_id == message_id)
        .order_by(Attachment.id)
    ).all()
    return [(row.filename, row.content_type, row.data) for row in rows]


def latest_customer_meta(*, session: Session, ticket_id: int, channel: Channel) -> dict[str, Any]:
    """Return the channel_meta of the customer's latest message on ``channel`` in the ticket ({} if none)."""
    meta = session.scalar(
        select(Message.channel_meta)
        .where(
            Message.ticket_id == ticket_id,
            Message.author_type == AuthorType.customer,
            Message.channel == channel,
        )
        .order_by(Message.id.desc())
        .limit(1)
    )
    return dict(meta or {})


# -- for the knowledge base's learning loop ------------------------------------------------------------------
def ticket_outcomes(*, session: Session, ticket_ids: Sequence[int]) -> dict[int, bool]:
    """Return {ticket id: whether it is solved or closed} for each of ``ticket_ids`` that exists."""
    if not ticket_ids:
        return {}
    rows = session.execute(select(Ticket.id, Ticket.status).where(Ticket.id.in_(list(ticket_ids)))).all()
    return {int(row[0]): row[1] in (Status.solved, Status.closed) for row in rows}


def resolving_replies(*, session: Session, ticket_ids: Sequence[int], limit: int) -> list[tuple[int, str]]:
    """Return (ticket id, body) of the last public agent reply on each solved or closed ticket of
    ``ticket_ids``, at most ``limit``: what agents wrote when they resolved such a concern."""
    if not ticket_ids:
        return []
    last = (
        select(func.max(Message.id))
        .join(Ticket, Ticket.id == Message.ticket_id)
        .where(
            Message.ticket_id.in_(list(ticket_ids)),
            Message.author_type == AuthorType.agent,
            Message.internal.is_(False),
            Ticket.status.in_([Status.solved, Status.closed]),
        )
        .group_by(Message.ticket_id)
    )
    rows = session.execute(
        select(Message.ticket_id, Message.body_text)
        .where(Message.id.in_(last))
        .order_by(Message.id.desc())
        .limit(limit)
    ).all()
    return [(int(row[0]), row[1]) for row in rows]


# -- for the customer 360 ------------------------------------------------------------------------------------
def customer_tickets(*, session: Session, customer_id: int, limit: int) -> list[dict[str, Any]]:
    """Return the customer's latest ``limit`` tickets, newest first, with their rating (None if unrated):
    id, subject, channel, status, created_at, resolved_at, rating."""
    rows = session.execute(
        select(
            Ticket.id,
            Ticket.subject,
            Ticket.channel,
            Ticket.status,
            Ticket.created_at,
            Ticket.resolved_at,
            TicketRating.score,
        )
        .outerjoin(TicketRating, TicketRating.ticket_id == Ticket.id)
        .where(Ticket.customer_id == customer_id)
        .order_by(Ticket.id.desc())
        .limit(limit)
    ).all()
    return [
        {
            "id": int(row.id),
            "subject": row.subject,
            "channel": str(row.channel),
            "status": str(row.status),
            "created_at": row.created_at,
            "resolved_at": row.resolved_at,
            "rating": row.score,
        }
        for row in rows
    ]


def ticket_counts(*, session: Session, customer_id: int, since: dt.datetime) -> tuple[int, int, int]:
    """Return how many tickets the customer has open, opened since ``since``, and in all (one query)."""
    row = session.execute(
        select(
            func.coalesce(func.sum(case((Ticket.is_open.is_(True), 1), else_=0)), 0),
            func.coalesce(func.sum(case((Ticket.created_at >= since, 1), else_=0)), 0),
            func.count(),
        ).where(Ticket.customer_id == customer_id)
    ).one()
    return int(row[0]), int(row[1]), int(row[2])
