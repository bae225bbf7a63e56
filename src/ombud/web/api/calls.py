"""/api/v1/calls: phone calls, posted by the telephony system after each call or logged by an agent."""

from __future__ import annotations

from fastapi import APIRouter, Response

from ombud.channels.phone import service as phone
from ombud.channels.phone.schemas import CallIn, CallPublic
from ombud.web.api.common import IdPath
from ombud.web.deps import CurrentPrincipal, ReadSession, WriteSession

router = APIRouter(tags=["calls"])


@router.post("/calls", response_model=CallPublic, status_code=201)
def record_call(
    body: CallIn, response: Response, session: WriteSession, principal: CurrentPrincipal
) -> CallPublic:
    """Record a call: the caller is found by number (or created), the call lands on a new ticket or on
    ``ticket_id``, and the customer's turns are triaged. The same ``external_id`` again returns the first
    record with 200."""
    call, created = phone.record_call(session=session, data=body, actor=principal)
    session.commit()
    if not created:
        response.status_code = 200
    return CallPublic.model_validate(call)


@router.get("/calls/{call_id}", response_model=CallPublic)
def get_call(call_id: IdPath, session: ReadSession, principal: CurrentPrincipal) -> CallPublic:
    """One call with its whole transcript."""
    return CallPublic.model_validate(phone.access_call(session=session, principal=principal, call_id=call_id))


@router.get("/tickets/{ticket_id}/calls", response_model=list[CallPublic])
def ticket_calls(ticket_id: IdPath, session: ReadSession, principal: CurrentPrincipal) -> list[CallPublic]:
    """The calls logged on a ticket, oldest first."""
    rows = phone.ticket_calls(session=session, principal=principal, ticket_id=ticket_id)
    return [CallPublic.model_validate(row) for row in rows]
