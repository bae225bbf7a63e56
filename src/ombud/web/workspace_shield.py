"""The workspace's abuse shielding and sender blocks: reveal a shielded message (audited), the conduct
reply, escalation to a lead, "Block this sender" on the ticket page, and the blocks list."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal, cast

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from ombud.customers import blocks
from ombud.errors import InvalidInput
from ombud.people import shield
from ombud.storage.base import utcnow
from ombud.tickets import inbox
from ombud.web import shield_views
from ombud.web import workspace_views as views
from ombud.web.api.common import IdPath
from ombud.web.deps import ReadSession, RuntimeDep, WriteSession
from ombud.web.workspace import CurrentAgent, _render

router = APIRouter(include_in_schema=False)
Csrf = Annotated[str, Form(max_length=100)]

# Ticket page notices of this module (the ticket page shows the ones it knows by key).
views.NOTICES.update(
    {
        "conduct_sent": "Conduct reply sent. It goes out on the customer's channel in a moment.",
        "escalated": "Escalated: your leads were mentioned in an internal note; the ticket is tagged "
        "abuse-escalated.",
        "already_escalated": "Already escalated to a lead; nothing new was sent.",
        "blocked": "Sender blocked: their next messages are dropped before anything is stored.",
    }
)
BLOCK_NOTICES = {"lifted": "Block lifted: their next message is taken in as usual."}
STATES = ("active", "lifted", "expired")


@router.post("/agent/tickets/{ticket_id}/messages/{message_id}/reveal", response_class=HTMLResponse)
def reveal(
    ticket_id: IdPath,
    message_id: IdPath,
    request: Request,
    session: WriteSession,
    runtime: RuntimeDep,
    agent: CurrentAgent,
    csrf_token: Csrf = "",
    view: Annotated[str, Form(max_length=20)] = "mine",
) -> HTMLResponse:
    """Record that the agent chose to read a shielded message, then show the ticket with it revealed."""
    agent.check_form(request, csrf_token)
    shield.reveal(session=session, actor=agent.principal, ticket_id=ticket_id, message_id=message_id)
    session.commit()
    context = views.ticket_context(
        session=session, runtime=runtime, agent=agent, ticket_id=ticket_id, view=inbox.parse_view(view)
    )
    notice = (
        "The message is shown below; your reading of it is recorded. It is hidden again on your next visit."
    )
    return _render("workspace/ticket.html", notice=notice, revealed=[message_id], **context)


@router.post("/agent/tickets/{ticket_id}/conduct-reply")
def conduct_reply(
    ticket_id: IdPath,
    request: Request,
    session: WriteSession,
    runtime: RuntimeDep,
    agent: CurrentAgent,
    csrf_token: Csrf = "",
) -> RedirectResponse:
    """Post the conduct policy reply in the customer's language."""
    agent.check_form(request, csrf_token)
    shield.conduct_reply(
        session=session,
        actor=agent.principal,
        ticket_id=ticket_id,
        limits=runtime.limits,
        policy_url=runtime.settings.conduct_policy_url,
    )
    session.commit()
    return views.with_notice(f"/agent/tickets/{ticket_id}", "conduct_sent")


@router.post("/agent/tickets/{ticket_id}/escalate-abuse")
def escalate(
    ticket_id: IdPath,
    request: Request,
    session: WriteSession,
    runtime: RuntimeDep,
    agent: CurrentAgent,
    csrf_token: Csrf = "",
) -> RedirectResponse:
    """Mention the agent's leads in an internal note and tag the ticket abuse-escalated (once)."""
    agent.check_form(request, csrf_token)
    done = shield.escalate(session=session, actor=agent.principal, ticket_id=ticket_id, limits=runtime.limits)
    session.commit()
    return views.with_notice(
        f"/agent/tickets/{ticket_id}", "already_escalated" if done.already else "escalated"
    )


def _expires_at(expiry: str) -> dt.datetime | None:
    if expiry not in shield_views.EXPIRY_CHOICES:
        raise InvalidInput("choose how long the block lasts", code="invalid_expiry")
    hours = shield_views.EXPIRY_CHOICES[expiry]
    return utcnow() + dt.timedelta(hours=hours) if hours else None


@router.post("/agent/tickets/{ticket_id}/block")
def block_sender(
    ticket_id: IdPath,
    request: Request,
    session: WriteSession,
    agent: CurrentAgent,
    target: Annotated[str, Form(max_length=400)] = "customer",
    reason: Annotated[str, Form(max_length=2000)] = "",
    expiry: Annotated[str, Form(max_length=20)] = "7d",
    csrf_token: Csrf = "",
) -> RedirectResponse:
    """Block the ticket's customer, or one of their addresses, numbers or handles (leads and admins)."""
    agent.check_form(request, csrf_token)
    shield.block_sender(
        session=session,
        actor=agent.principal,
        ticket_id=ticket_id,
        target=target,
        reason=reason,
        expires_at=_expires_at(expiry),
    )
    session.commit()
    return views.with_notice(f"/agent/tickets/{ticket_id}", "blocked")


@router.get("/agent/blocks", response_class=HTMLResponse)
def blocks_page(
    session: ReadSession,
    agent: CurrentAgent,
    state: Annotated[str, Query(max_length=20)] = "active",
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    notice: Annotated[str | None, Query(max_length=40)] = None,
) -> HTMLResponse:
    """Sender blocks, newest first, filtered by state; leads and admins lift them here."""
    chosen = state if state in STATES else None
    page = blocks.list_blocks(
        session=session,
        principal=agent.principal,
        state=cast(Literal["active", "lifted", "expired"] | None, chosen),
        cursor=cursor,
    )
    return _render(
        "workspace/blocks.html",
        agent=agent,
        me=views.me(session=session, agent=agent),
        page=page,
        state=chosen or "all",
        states=STATES,
        can_lift=blocks.can_block(agent.principal),
        notice=BLOCK_NOTICES.get(notice or ""),
    )


@router.post("/agent/blocks/{block_id}/lift")
def lift(
    block_id: IdPath, request: Request, session: WriteSession, agent: CurrentAgent, csrf_token: Csrf = ""
) -> RedirectResponse:
    """Lift a block (leads and admins); the row stays with its drop count."""
    agent.check_form(request, csrf_token)
    blocks.lift_block(session=session, actor=agent.principal, block_id=block_id)
    session.commit()
    return RedirectResponse("/agent/blocks?notice=lifted", status_code=303)
