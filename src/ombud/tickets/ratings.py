"""Customers' ratings of how their tickets were handled: rate (a new rating replaces the old) from the
portal, the API or a satisfaction survey (ombud.tickets.surveys), read one, and a customer's satisfaction
history."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import exists, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ombud.accounts.schemas import Principal
from ombud.audit import service as audit
from ombud.errors import Forbidden, InvalidInput, NotFound
from ombud.storage.base import utcnow
from ombud.storage.db import race_savepoint
from ombud.tickets.models import AuthorType, Message, Ticket, TicketRating
from ombud.validation import CleanText

MIN_SCORE, MAX_SCORE = 1, 5
MIN_NPS, MAX_NPS = 0, 10  # "How likely are you to recommend us?"
MAX_COMMENT = 2000


# The shapes live beside the service (not in tickets/schemas.py) while that module is being reworked.
class RatingCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Not bounded here: the service says `invalid_rating`, the same to the API and to any other caller.
    score: int = Field(description="1 (poor) to 5 (excellent).")
    comment: CleanText = Field(default="", description=f"At most {MAX_COMMENT} characters.")


class RatingPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    ticket_id: int
    customer_id: int
    score: int
    comment: str
    created_at: dt.datetime


class SatisfactionEntry(BaseModel):
    ticket_id: int
    subject: str
    score: int
    comment: str
    created_at: dt.datetime


class SatisfactionHistory(BaseModel):
    """The customer's latest ratings (newest first) and, over all their ratings, how many and the mean."""

    ratings: list[SatisfactionEntry]
    count: int
    average: float | None


def rate_ticket(
    *, session: Session, principal: Principal, ticket_id: int, score: int, comment: str
) -> TicketRating:
    """Store the ticket's customer's rating, replacing an earlier one; audited."""
    if not principal.is_customer:
        raise Forbidden("only the ticket's customer may rate it", code="role_forbidden")
    ticket = session.get(Ticket, ticket_id)
    if ticket is None or ticket.customer_id != principal.id:
        # Customers cannot tell another customer's ticket from a missing one.
        raise NotFound(f"no ticket with id {ticket_id}", code="ticket_not_found")
    return store_rating(session=session, ticket=ticket, score=score, comment=comment, actor=principal)


def store_rating(
    *,
    session: Session,
    ticket: Ticket,
    score: int,
    comment: str,
    actor: Principal,
    source: str = "portal",
    nps: int | None = None,
    with_nps: bool = False,
) -> TicketRating:
    """Store the customer's rating of ``ticket`` (replacing an earlier one) after checking it; audited as
    ``ticket.rated`` with the ``source`` (portal, api, survey) and, when ``with_nps``, the NPS answer."""
    if isinstance(score, bool) or not MIN_SCORE <= score <= MAX_SCORE:
        raise InvalidInput(f"score must be {MIN_SCORE} to {MAX_SCORE}", code="invalid_rating")
    if with_nps and nps is not None and (isinstance(nps, bool) or not MIN_NPS <= nps <= MAX_NPS):
        raise InvalidInput(f"nps must be {MIN_NPS} to {MAX_NPS}", code="invalid_rating")
    comment = comment.strip()
    if len(comment) > MAX_COMMENT:
        raise InvalidInput(f"comment must be at most {MAX_COMMENT} characters", code="invalid_rating")
    answered = session.scalar(
        select(
            exists().where(
                Message.ticket_id == ticket.id,
                Message.author_type == AuthorType.agent,
                Message.internal.is_(False),
            )
        )
    )
    if not answered:
        # Nobody has served the customer yet: there is nothing of ours to rate.
        raise InvalidInput("the ticket has no reply to rate yet", code="nothing_to_rate")

    rating = rating_for(session=session, ticket_id=ticket.id)
    before = None if rating is None else {"score": rating.score, "comment": rating.comment}
    if rating is None:
        rating = TicketRating(
            ticket_id=ticket.id, customer_id=ticket.customer_id, score=score, comment=comment
        )
        try:
            # Two tabs rating at once (PostgreSQL): the second replaces what the first stored.
            with race_savepoint(session):
                session.add(rating)
                session.flush()
        except IntegrityError:
            found = rating_for(session=session, ticket_id=ticket.id)
            assert found is not None
            rating = found
    rating.score, rating.comment, rating.created_at = score, comment, utcnow()
    session.flush()
    after: dict[str, object] = {"score": score, "comment": comment, "source": source}
    if with_nps:
        after["nps"] = nps
    audit.record(
        session=session,
        actor=actor,
        action="ticket.rated",
        entity_type="ticket",
        entity_id=ticket.id,
        customer_id=ticket.customer_id,
        ticket_id=ticket.id,
        before=before,
        after=after,
    )
    return rating


def rating_for(*, session: Session, ticket_id: int) -> TicketRating | None:
    """Return the ticket's rating, or None if its customer has not rated it."""
    return session.scalar(select(TicketRating).where(TicketRating.ticket_id == ticket_id))


def satisfaction_history(*, session: Session, customer_id: int, limit: int = 20) -> SatisfactionHistory:
    """Return the customer's ``limit`` latest ratings with each ticket's subject, newest first, and the
    count and mean of all their ratings (one query: window functions count the rows the limit drops)."""
    rows = session.execute(
        select(
            TicketRating.ticket_id,
            Ticket.subject,
            TicketRating.score,
            TicketRating.comment,
            TicketRating.created_at,
            func.count().over().label("total"),
            func.avg(TicketRating.score).over().label("mean"),
        )
        .join(Ticket, Ticket.id == TicketRating.ticket_id)
        .where(TicketRating.customer_id == customer_id)
        .order_by(TicketRating.created_at.desc(), TicketRating.id.desc())
        .limit(limit)
    ).all()
    return SatisfactionHistory(
        ratings=[
            SatisfactionEntry(
                ticket_id=row.ticket_id,
                subject=row.subject,
                score=row.score,
                comment=row.comment,
                created_at=row.created_at,
            )
            for row in rows
        ],
        count=int(rows[0].total) if rows else 0,
        average=round(float(rows[0].mean), 2) if rows else None,
    )
