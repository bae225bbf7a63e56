"""What the customer portal reads: the customer's own tickets, newest activity first, and one conversation
as the customer may see it (no internal notes) with its rating."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from ombud.accounts.schemas import Principal
from ombud.errors import Forbidden
from ombud.pagination import cursor_id, damaged, decode_cursor, encode_cursor
from ombud.tickets import ratings
from ombud.tickets import service as tickets
from ombud.tickets.models import AuthorType, Message, Ticket, TicketRating

PAGE = 20


@dataclass(frozen=True)
class Conversation:
    ticket: Ticket
    messages: Sequence[Message]
    rating: TicketRating | None
    # The customer may rate the ticket once someone of ours has answered in public.
    answered: bool


def customer_tickets(
    *, session: Session, principal: Principal, cursor: str | None = None, limit: int = PAGE
) -> tuple[Sequence[Ticket], str | None]:
    """Return one page of the customer's tickets, most recently active first, and the next page's cursor
    (None at the end). Keyset on (updated_at, id), so a reply moving a ticket up never repeats a row."""
    if not principal.is_customer:
        raise Forbidden("only customers have a portal", code="role_forbidden")
    query = select(Ticket).where(Ticket.customer_id == principal.id)
    if cursor is not None:
        position = decode_cursor(cursor, required=("at", "id"))
        try:
            at = dt.datetime.fromisoformat(str(position["at"]))
        except ValueError:
            at = None
        if at is None or at.tzinfo is None:
            raise damaged()
        last_id = cursor_id(position)
        query = query.where(or_(Ticket.updated_at < at, and_(Ticket.updated_at == at, Ticket.id < last_id)))
    rows = session.scalars(query.order_by(Ticket.updated_at.desc(), Ticket.id.desc()).limit(limit + 1)).all()
    items = rows[:limit]
    next_cursor = (
        encode_cursor({"at": items[-1].updated_at.isoformat(), "id": items[-1].id})
        if len(rows) > limit
        else None
    )
    return items, next_cursor


def conversation(*, session: Session, principal: Principal, ticket_id: int) -> Conversation:
    """Return the customer's ticket with its public messages and rating; NotFound for anyone else's."""
    if not principal.is_customer:
        raise Forbidden("only customers have a portal", code="role_forbidden")
    ticket = tickets.access_ticket(session=session, principal=principal, ticket_id=ticket_id)
    # list_messages drops internal notes for customers; filtered again here as a second guard.
    messages = [
        message
        for message in tickets.list_messages(session=session, ticket=ticket, principal=principal)
        if not message.internal
    ]
    return Conversation(
        ticket=ticket,
        messages=messages,
        rating=ratings.rating_for(session=session, ticket_id=ticket.id),
        answered=any(message.author_type is AuthorType.agent for message in messages),
    )
