"""/api/v1/tickets: create, list, read, change, reply, rate."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from ombud.audit import service as audit
from ombud.customers.blocks import SenderBlocked
from ombud.errors import Forbidden, InvalidInput, NotFound
from ombud.tickets import ratings
from ombud.tickets import service as tickets
from ombud.tickets.models import Channel, Status, Ticket
from ombud.tickets.ratings import RatingCreate, RatingPublic
from ombud.tickets.schemas import (
    MessageCreate,
    MessagePublic,
    TicketCreate,
    TicketDetail,
    TicketFilters,
    TicketPage,
    TicketPublic,
    TicketUpdate,
)
from ombud.triage import service as triage
from ombud.web.api.common import AuditEventPublic, IdPath
from ombud.web.deps import CurrentPrincipal, ReadSession, RuntimeDep, WriteSession

router = APIRouter(prefix="/tickets", tags=["tickets"])


def _detail(session: ReadSession | WriteSession, ticket: Ticket, principal: CurrentPrincipal) -> TicketDetail:
    messages = tickets.list_messages(session=session, ticket=ticket, principal=principal)
    results = (
        {}
        if not principal.is_staff
        else triage.results_for(session=session, message_ids=[m.id for m in messages])
    )
    return TicketDetail.model_validate(
        {
            **TicketPublic.model_validate(ticket).model_dump(),
            "messages": [
                MessagePublic.model_validate(m).model_copy(update={"triage": results.get(m.id)})
                for m in messages
            ],
        }
    )


@router.post(
    "",
    status_code=201,
    response_model=TicketDetail,
    responses={200: {"description": "Replay: a ticket with this external_id already exists."}},
)
def create_ticket(
    data: TicketCreate,
    session: WriteSession,
    principal: CurrentPrincipal,
    runtime: RuntimeDep,
    response: Response,
) -> TicketDetail:
    """Open a ticket with the customer's first message; the customer is found by identity or created."""
    try:
        ticket, created = tickets.create_ticket(
            session=session, data=data, actor=principal, limits=runtime.limits
        )
    except SenderBlocked:
        session.commit()  # refused before anything was written: only the drop is counted on the block
        raise
    session.commit()
    if not created:
        response.status_code = 200
    return _detail(session, ticket, principal)


@router.get("", response_model=TicketPage)
def list_tickets(
    session: ReadSession,
    principal: CurrentPrincipal,
    status: Annotated[list[str], Query(description="One or more statuses (repeat or comma-separate).")] = [],  # noqa: B006
    assignee: Annotated[str | None, Query(description="A user id, 'me' or 'none'.")] = None,
    customer: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
    team: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
    tag: Annotated[str | None, Query(max_length=100)] = None,
    channel: Channel | None = None,
    q: Annotated[str | None, Query(max_length=500, description="Words that must all appear.")] = None,
    limit: Annotated[int, Query(ge=1, le=tickets.MAX_PAGE)] = 50,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> TicketPage:
    """List tickets, newest first, with filters and a cursor to the next page."""
    filters = TicketFilters(
        status=_statuses(status),
        customer_id=customer,
        team_id=team,
        tag=tag,
        channel=channel,
        q=q,
        **_assignee(assignee, principal.id if principal.kind == "user" else None),
    )
    items, next_cursor = tickets.list_tickets(
        session=session, principal=principal, filters=filters, limit=limit, cursor=cursor
    )
    return TicketPage(items=[TicketPublic.model_validate(t) for t in items], next_cursor=next_cursor)


def _statuses(values: list[str]) -> list[Status]:
    wanted = [part.strip() for value in values for part in value.split(",") if part.strip()]
    try:
        return [Status(value) for value in wanted]
    except ValueError:
        raise InvalidInput(
            f"unknown status in {wanted}; use {', '.join(s.value for s in Status)}", code="invalid_status"
        ) from None


def _assignee(value: str | None, me: int | None) -> dict[str, int | bool | None]:
    if value is None:
        return {}
    if value == "none":
        return {"unassigned": True}
    if value == "me":
        if me is None:
            raise InvalidInput("assignee=me needs a user's token", code="invalid_assignee")
        return {"assignee_id": me}
    if value.isascii() and value.isdigit() and 1 <= int(value) < 2**63:
        return {"assignee_id": int(value)}
    raise InvalidInput("assignee must be a user id, 'me' or 'none'", code="invalid_assignee")


@router.get("/{ticket_id}", response_model=TicketDetail)
def get_ticket(ticket_id: IdPath, session: ReadSession, principal: CurrentPrincipal) -> TicketDetail:
    """One ticket with its messages (customers never see internal notes)."""
    ticket = tickets.access_ticket(session=session, principal=principal, ticket_id=ticket_id)
    return _detail(session, ticket, principal)


@router.patch("/{ticket_id}", response_model=TicketDetail)
def update_ticket(
    ticket_id: IdPath, changes: TicketUpdate, session: WriteSession, principal: CurrentPrincipal
) -> TicketDetail:
    """Change status, priority, assignee, team, tags or subject; every change is audited."""
    ticket = tickets.access_ticket(session=session, principal=principal, ticket_id=ticket_id)
    tickets.update_ticket(session=session, ticket=ticket, changes=changes, actor=principal)
    session.commit()
    return _detail(session, ticket, principal)


@router.post("/{ticket_id}/messages", status_code=201, response_model=MessagePublic)
def add_message(
    ticket_id: IdPath,
    data: MessageCreate,
    session: WriteSession,
    principal: CurrentPrincipal,
    runtime: RuntimeDep,
) -> MessagePublic:
    """Add a public reply or an internal note as the caller."""
    ticket = tickets.access_ticket(session=session, principal=principal, ticket_id=ticket_id)
    try:
        message = tickets.add_message(
            session=session, ticket=ticket, data=data, actor=principal, limits=runtime.limits
        )
    except SenderBlocked:
        session.commit()  # refused before anything was written: only the drop is counted on the block
        raise
    session.commit()
    return MessagePublic.model_validate(message)


@router.get("/{ticket_id}/events", response_model=list[AuditEventPublic])
def ticket_events(
    ticket_id: Annotated[int, Path(ge=1, le=2**63 - 1)], session: ReadSession, principal: CurrentPrincipal
) -> list[AuditEventPublic]:
    """The ticket's audit trail, oldest first (staff only)."""
    if not principal.is_staff:
        raise Forbidden("only staff may read the audit trail", code="role_forbidden")
    tickets.access_ticket(session=session, principal=principal, ticket_id=ticket_id)
    events = audit.list_for_ticket(session=session, ticket_id=ticket_id)
    return [AuditEventPublic.model_validate(e) for e in events]


@router.put("/{ticket_id}/rating", response_model=RatingPublic)
def rate_ticket(
    ticket_id: IdPath, data: RatingCreate, session: WriteSession, principal: CurrentPrincipal
) -> RatingPublic:
    """The customer rates how the ticket was handled (1-5, optional comment); again replaces it."""
    rating = ratings.rate_ticket(
        session=session, principal=principal, ticket_id=ticket_id, score=data.score, comment=data.comment
    )
    session.commit()
    return RatingPublic.model_validate(rating)


@router.get("/{ticket_id}/rating", response_model=RatingPublic)
def get_rating(ticket_id: IdPath, session: ReadSession, principal: CurrentPrincipal) -> RatingPublic:
    """The ticket's rating (its customer, or staff); 404 ``rating_not_found`` until it is rated."""
    tickets.access_ticket(session=session, principal=principal, ticket_id=ticket_id)
    rating = ratings.rating_for(session=session, ticket_id=ticket_id)
    if rating is None:
        raise NotFound(f"ticket {ticket_id} has no rating yet", code="rating_not_found")
    return RatingPublic.model_validate(rating)
