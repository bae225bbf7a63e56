"""Workspace pages of SLAs: leads read, admins edit the business calendars (time zone, weekly hours,
holidays, which team works by which) and the SLA policies (conditions, targets, pauses, warnings,
escalation, order)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from ombud.errors import Forbidden
from ombud.sla import service as sla
from ombud.sla.schemas import CalendarCreate, CalendarUpdate, PolicyCreate, PolicyUpdate
from ombud.web import sla_views as views
from ombud.web import workspace_views
from ombud.web.api.common import IdPath
from ombud.web.deps import ReadSession, WriteSession
from ombud.web.workspace import CurrentAgent, _render

router = APIRouter(include_in_schema=False)
NOTICES = {
    "calendar_saved": "The calendar is saved; open tickets get new due times within a minute.",
    "calendar_deleted": "The calendar is deleted; its teams use the default calendar.",
    "team_saved": "The team's calendar is saved.",
    "policy_saved": "The policy is saved; open tickets are re-evaluated within a minute.",
    "policy_deleted": "The policy is deleted.",
    "policy_moved": "The order is saved.",
}
Text = Annotated[str, Form(max_length=20_000)]
Short = Annotated[str, Form(max_length=200)]
Choices = Annotated[list[str], Form()]
Csrf = Annotated[str, Form(max_length=100)]


@router.get("/agent/sla", response_class=HTMLResponse)
def sla_page(
    session: ReadSession, agent: CurrentAgent, notice: Annotated[str | None, Query(max_length=40)] = None
) -> HTMLResponse:
    """The calendars and the policies in the order they are checked."""
    if not views.can_read(agent.principal):
        raise Forbidden("only admins and leads may see the SLA settings", code="role_forbidden")
    return _render(
        "workspace/sla.html",
        agent=agent,
        me=workspace_views.me(session=session, agent=agent),
        notice=NOTICES.get(notice or ""),
        **views.page_context(session=session, principal=agent.principal),
    )


def _done(notice: str) -> RedirectResponse:
    return RedirectResponse(f"/agent/sla?notice={notice}", status_code=303)


@router.post("/agent/sla/calendars")
def save_calendar(
    request: Request,
    session: WriteSession,
    agent: CurrentAgent,
    name: Short = "",
    time_zone: Short = "",
    hours: Text = "",
    holidays: Text = "",
    is_default: Short = "",
    calendar_id: Annotated[int | None, Form(ge=1, le=2**63 - 1)] = None,
    csrf_token: Csrf = "",
) -> RedirectResponse:
    """Add a calendar, or change the one named by ``calendar_id``."""
    agent.check_form(request, csrf_token)
    data = views.calendar_data(
        name=name, time_zone=time_zone, hours=hours, holidays=holidays, is_default=bool(is_default)
    )
    if calendar_id is None:
        sla.create_calendar(session=session, data=CalendarCreate.model_validate(data), actor=agent.principal)
    else:
        calendar = sla.access_calendar(session=session, actor=agent.principal, calendar_id=calendar_id)
        sla.update_calendar(
            session=session,
            calendar=calendar,
            changes=CalendarUpdate.model_validate(data),
            actor=agent.principal,
        )
    session.commit()
    return _done("calendar_saved")


@router.post("/agent/sla/calendars/{calendar_id}/delete")
def delete_calendar(
    calendar_id: IdPath, request: Request, session: WriteSession, agent: CurrentAgent, csrf_token: Csrf = ""
) -> RedirectResponse:
    agent.check_form(request, csrf_token)
    calendar = sla.access_calendar(session=session, actor=agent.principal, calendar_id=calendar_id)
    sla.delete_calendar(session=session, calendar=calendar, actor=agent.principal)
    session.commit()
    return _done("calendar_deleted")


@router.post("/agent/sla/teams/{team_id}/calendar")
def set_team_calendar(
    team_id: IdPath,
    request: Request,
    session: WriteSession,
    agent: CurrentAgent,
    calendar_id: Short = "",
    csrf_token: Csrf = "",
) -> RedirectResponse:
    """Choose a team's calendar (empty: the default one)."""
    agent.check_form(request, csrf_token)
    chosen = views.form_id(calendar_id, "calendar")
    sla.set_team_calendar(session=session, team_id=team_id, calendar_id=chosen, actor=agent.principal)
    session.commit()
    return _done("team_saved")


@router.post("/agent/sla/policies")
def save_policy(
    request: Request,
    session: WriteSession,
    agent: CurrentAgent,
    name: Short = "",
    active: Short = "",
    channels: Choices = [],  # noqa: B006 - FastAPI copies form defaults
    priorities: Choices = [],  # noqa: B006
    team_ids: Choices = [],  # noqa: B006
    tiers: Short = "",
    intents: Text = "",
    target_first_response: Short = "",
    target_next_response: Short = "",
    target_resolution: Short = "",
    paused: Choices = [],  # noqa: B006
    warn_percent: Short = "",
    warn_before_minutes: Short = "",
    notify: Short = "",
    raise_priority: Short = "",
    escalate_team_id: Short = "",
    unassign: Short = "",
    policy_id: Annotated[int | None, Form(ge=1, le=2**63 - 1)] = None,
    csrf_token: Csrf = "",
) -> RedirectResponse:
    """Add a policy (checked last), or change the one named by ``policy_id``."""
    agent.check_form(request, csrf_token)
    form: dict[str, Any] = {
        key: value
        for key, value in locals().items()
        if key not in {"request", "session", "agent", "csrf_token"}
    }
    data = views.policy_data(form)
    if policy_id is None:
        sla.create_policy(session=session, data=PolicyCreate.model_validate(data), actor=agent.principal)
    else:
        policy = sla.access_policy(session=session, actor=agent.principal, policy_id=policy_id)
        sla.update_policy(
            session=session, policy=policy, changes=PolicyUpdate.model_validate(data), actor=agent.principal
        )
    session.commit()
    return _done("policy_saved")


@router.post("/agent/sla/policies/{policy_id}/delete")
def delete_policy(
    policy_id: IdPath, request: Request, session: WriteSession, agent: CurrentAgent, csrf_token: Csrf = ""
) -> RedirectResponse:
    agent.check_form(request, csrf_token)
    policy = sla.access_policy(session=session, actor=agent.principal, policy_id=policy_id)
    sla.delete_policy(session=session, policy=policy, actor=agent.principal)
    session.commit()
    return _done("policy_deleted")


@router.post("/agent/sla/policies/{policy_id}/move")
def move_policy(
    policy_id: IdPath,
    request: Request,
    session: WriteSession,
    agent: CurrentAgent,
    direction: Short = "up",
    csrf_token: Csrf = "",
) -> RedirectResponse:
    """Check a policy one place earlier (up) or later (down)."""
    agent.check_form(request, csrf_token)
    ids = [p.id for p in sla.list_policies(session=session, actor=agent.principal)]
    ids = workspace_views.moved(ids, policy_id, direction)
    sla.reorder_policies(session=session, policy_ids=ids, actor=agent.principal)
    session.commit()
    return _done("policy_moved")
