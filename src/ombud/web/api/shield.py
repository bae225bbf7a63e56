"""Abuse shielding and sender blocks over the API: reveal a shielded message (audited), the conduct reply,
escalation to a lead; list, create and lift sender blocks."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from ombud.customers import blocks
from ombud.people import shield
from ombud.tickets.schemas import MessagePublic
from ombud.triage import service as triage
from ombud.web.api.common import IdPath
from ombud.web.deps import CurrentPrincipal, ReadSession, RuntimeDep, WriteSession

router = APIRouter(tags=["shield"])


class EscalationPublic(BaseModel):
    ticket_id: int
    note_id: int | None = Field(
        description="The internal note that mentions the leads; null when already escalated."
    )
    lead_ids: list[int]
    already: bool = Field(description="True: the open ticket was escalated before; nothing new was written.")


@router.post("/tickets/{ticket_id}/messages/{message_id}/reveal", response_model=MessagePublic)
def reveal(
    ticket_id: IdPath, message_id: IdPath, session: WriteSession, principal: CurrentPrincipal
) -> MessagePublic:
    """The message in full, after recording that the caller chose to read it (audit `message.revealed`).
    Staff who serve customers only."""
    message = shield.reveal(session=session, actor=principal, ticket_id=ticket_id, message_id=message_id)
    session.commit()
    result = triage.results_for(session=session, message_ids=[message.id]).get(message.id)
    return MessagePublic.model_validate(message).model_copy(update={"triage": result})


@router.post("/tickets/{ticket_id}/conduct-reply", status_code=201, response_model=MessagePublic)
def conduct_reply(
    ticket_id: IdPath, session: WriteSession, principal: CurrentPrincipal, runtime: RuntimeDep
) -> MessagePublic:
    """Post the conduct policy reply as the caller: public, in the customer's language (en, de, fr, es),
    naming their concern; it goes out on the ticket's channel like any reply."""
    message = shield.conduct_reply(
        session=session,
        actor=principal,
        ticket_id=ticket_id,
        limits=runtime.limits,
        policy_url=runtime.settings.conduct_policy_url,
    )
    session.commit()
    return MessagePublic.model_validate(message)


@router.post("/tickets/{ticket_id}/escalate-abuse", response_model=EscalationPublic)
def escalate_abuse(
    ticket_id: IdPath, session: WriteSession, principal: CurrentPrincipal, runtime: RuntimeDep
) -> EscalationPublic:
    """Mention the caller's leads (all active leads when they have none) in an internal note and tag the
    ticket `abuse-escalated`; once per ticket while it is open."""
    done = shield.escalate(session=session, actor=principal, ticket_id=ticket_id, limits=runtime.limits)
    session.commit()
    return EscalationPublic(
        ticket_id=done.ticket_id, note_id=done.note_id, lead_ids=done.lead_ids, already=done.already
    )


@router.get("/blocks", response_model=blocks.BlockPage)
def list_blocks(
    session: ReadSession,
    principal: CurrentPrincipal,
    state: blocks.BlockState | None = None,
    customer_id: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> blocks.BlockPage:
    """Sender blocks, newest first (staff)."""
    return blocks.list_blocks(
        session=session, principal=principal, state=state, customer_id=customer_id, limit=limit, cursor=cursor
    )


@router.post("/blocks", status_code=201, response_model=blocks.BlockPublic)
def create_block(
    data: blocks.BlockCreate, session: WriteSession, principal: CurrentPrincipal
) -> blocks.BlockPublic:
    """Block a customer or one value (leads and admins; 403 `role_forbidden` for others, 409
    `block_exists` when the same block is active, 404 `ticket_not_found` for a `ticket_id` the caller
    cannot see)."""
    block = shield.create_block(session=session, actor=principal, data=data)
    session.commit()
    return blocks.public(block)


@router.get("/blocks/{block_id}", response_model=blocks.BlockPublic)
def get_block(block_id: IdPath, session: ReadSession, principal: CurrentPrincipal) -> blocks.BlockPublic:
    """One sender block (staff)."""
    return blocks.public(blocks.access_block(session=session, principal=principal, block_id=block_id))


@router.post("/blocks/{block_id}/lift", response_model=blocks.BlockPublic)
def lift_block(block_id: IdPath, session: WriteSession, principal: CurrentPrincipal) -> blocks.BlockPublic:
    """Lift a block (leads and admins; 409 `block_not_active` when lifted or expired already)."""
    block = blocks.lift_block(session=session, actor=principal, block_id=block_id)
    session.commit()
    return blocks.public(block)
