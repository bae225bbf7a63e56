"""Workspace pages of routing: every agent sets their availability; leads see the agents (status, load
per channel against capacity) and the queues per team with the oldest waiting, and route by hand."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from ombud.routing import service as routing
from ombud.web import routing_views as views
from ombud.web import workspace_views
from ombud.web.api.common import IdPath
from ombud.web.deps import ReadSession, WriteSession
from ombud.web.workspace import CurrentAgent, _render

router = APIRouter(include_in_schema=False)
NOTICES = {
    "saved": "Your availability is saved.",
    "saved_other": "The agent's availability is saved.",
}


@router.get("/agent/routing", response_class=HTMLResponse)
def routing_page(
    session: ReadSession, agent: CurrentAgent, notice: Annotated[str | None, Query(max_length=40)] = None
) -> HTMLResponse:
    """My availability; for leads, the agents' board and the queues."""
    return _render(
        "workspace/routing.html",
        agent=agent,
        me=workspace_views.me(session=session, agent=agent),
        notice=NOTICES.get(notice or ""),
        **views.page_context(session=session, principal=agent.principal),
    )


@router.post("/agent/routing/availability")
def set_availability(
    request: Request,
    session: WriteSession,
    agent: CurrentAgent,
    status: Annotated[str, Form(max_length=20)] = "",
    minutes: Annotated[str, Form(max_length=10)] = "",
    user_id: Annotated[int | None, Form(ge=1, le=2**63 - 1)] = None,
    csrf_token: Annotated[str, Form(max_length=100)] = "",
) -> RedirectResponse:
    """Set my availability (or, for a lead, another agent's)."""
    agent.check_form(request, csrf_token)
    target = user_id or agent.id
    routing.set_availability(
        session=session,
        principal=agent.principal,
        user_id=target,
        data=views.availability_change(status, minutes),
    )
    session.commit()
    notice = "saved" if target == agent.id else "saved_other"
    return RedirectResponse(f"/agent/routing?notice={notice}", status_code=303)


@router.post("/agent/routing/tickets/{ticket_id}/route")
def route_now(
    ticket_id: IdPath,
    request: Request,
    session: WriteSession,
    agent: CurrentAgent,
    csrf_token: Annotated[str, Form(max_length=100)] = "",
) -> RedirectResponse:
    """Route an unassigned ticket again now (leads)."""
    agent.check_form(request, csrf_token)
    routing.route_now(session=session, principal=agent.principal, ticket_id=ticket_id)
    session.commit()
    return RedirectResponse(f"/agent/tickets/{ticket_id}?notice=updated", status_code=303)
