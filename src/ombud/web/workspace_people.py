"""The workspace's people pages: the agent's own load and breaks, the lead's "who is overloaded now" view,
team well-being policies, help requests (the open list, asking from the ticket's panel, joining, closing)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError

from ombud.accounts import service as accounts
from ombud.errors import InvalidInput
from ombud.people import help, wellbeing
from ombud.people.models import HelpState, RecoveryMode
from ombud.people.schemas import HelpCreate, WellbeingUpdate
from ombud.web import people_views
from ombud.web import workspace_views as views
from ombud.web.api.common import IdPath
from ombud.web.deps import ReadSession, RuntimeDep, WriteSession
from ombud.web.workspace import CurrentAgent, _render

router = APIRouter(include_in_schema=False)
Csrf = Annotated[str, Form(max_length=100)]


def _back(target: str, fallback: str) -> str:
    return target if target.startswith("/agent/") and not target.startswith("/agent//") else fallback


# -- the agent's own figures and breaks ---------------------------------------------------------------------
@router.get("/agent/me/load", response_class=HTMLResponse)
def my_load_page(session: WriteSession, agent: CurrentAgent) -> HTMLResponse:
    """The agent's own emotional load, recent hard conversations and recovery breaks (only they see it).
    A write session: listing the breaks expires offers past their time, which a read transaction on SQLite
    could not upgrade to while another request writes."""
    page = _render(
        "workspace/people_me.html",
        agent=agent,
        me=views.me(session=session, agent=agent),
        **people_views.my_load(session=session, principal=agent.principal),
    )
    session.commit()
    return page


@router.get("/agent/me/breaks/banner", response_class=HTMLResponse)
def banner(session: ReadSession, agent: CurrentAgent) -> HTMLResponse:
    """The break offer banner alone (the workspace's pages load it into their top)."""
    return _render(
        "workspace/people_banner.html",
        agent=agent,
        offer=people_views.banner(session=session, principal=agent.principal),
        back="/agent/inbox",
    )


@router.post("/agent/me/breaks/{break_id}/{action}")
def answer_break(
    break_id: IdPath,
    action: Annotated[str, Path(pattern="^(take|decline)$")],
    request: Request,
    session: WriteSession,
    agent: CurrentAgent,
    back: Annotated[str, Form(max_length=500)] = "",
    csrf_token: Csrf = "",
) -> RedirectResponse:
    """Take the offered break now, or not now."""
    agent.check_form(request, csrf_token)
    if action == "take":
        wellbeing.take(session=session, principal=agent.principal, break_id=break_id)
    else:
        wellbeing.decline(session=session, principal=agent.principal, break_id=break_id)
    session.commit()
    return RedirectResponse(_back(back, "/agent/me/load"), status_code=303)


# -- the lead's view and team policies -------------------------------------------------------------------
@router.get("/agent/team", response_class=HTMLResponse)
def team_page(session: ReadSession, agent: CurrentAgent) -> HTMLResponse:
    """Who in the lead's teams is overloaded right now (sorted by name, never ranked)."""
    standing = wellbeing.team_standing(session=session, principal=agent.principal)
    return _render(
        "workspace/people_team.html",
        agent=agent,
        me=views.me(session=session, agent=agent),
        members=standing.members,
    )


@router.get("/agent/team/wellbeing", response_class=HTMLResponse)
def policies_page(session: ReadSession, agent: CurrentAgent, saved: bool = False) -> HTMLResponse:
    """Each team's well-being policy; leads edit their teams', admins every team's."""
    teams = [
        {
            "team": t,
            "policy": wellbeing.get_policy(session=session, principal=agent.principal, team_id=t.id),
            "can_edit": wellbeing.can_edit_policy(session=session, principal=agent.principal, team_id=t.id),
        }
        for t in accounts.list_teams(session=session)
    ]
    return _render(
        "workspace/people_wellbeing.html",
        agent=agent,
        me=views.me(session=session, agent=agent),
        teams=teams,
        modes=[m.value for m in RecoveryMode],
        saved=saved,
    )


@router.post("/agent/teams/{team_id}/wellbeing")
def save_policy(
    team_id: IdPath,
    request: Request,
    session: WriteSession,
    agent: CurrentAgent,
    recovery_mode: Annotated[str, Form(max_length=20)],
    recovery_minutes: Annotated[str, Form(max_length=5)],
    max_hostile_in_a_row: Annotated[str, Form(max_length=5)],
    csrf_token: Csrf = "",
) -> RedirectResponse:
    """Save a team's well-being policy from the form."""
    agent.check_form(request, csrf_token)
    try:
        data = WellbeingUpdate(
            recovery_mode=recovery_mode,
            recovery_minutes=recovery_minutes,
            max_hostile_in_a_row=max_hostile_in_a_row,
        )
    except ValidationError as error:
        first = error.errors()[0]
        raise InvalidInput(
            f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}", code="invalid_policy"
        ) from None
    wellbeing.update_policy(session=session, principal=agent.principal, team_id=team_id, data=data)
    session.commit()
    return RedirectResponse("/agent/team/wellbeing?saved=true", status_code=303)


# -- help requests ----------------------------------------------------------------------------------------
@router.get("/agent/help", response_class=HTMLResponse)
def help_page(session: ReadSession, agent: CurrentAgent) -> HTMLResponse:
    """Open help requests the agent can help with (their teams'), and their own."""
    found = list(help.listing(session=session, principal=agent.principal, state=HelpState.open))
    return _render(
        "workspace/people_help.html",
        agent=agent,
        me=views.me(session=session, agent=agent),
        requests=people_views.help_rows(session=session, principal=agent.principal, requests=found),
        names=people_views.user_names(session=session),
        teams=people_views.team_names(session=session),
    )


@router.post("/agent/tickets/{ticket_id}/help")
def ask(
    ticket_id: IdPath,
    request: Request,
    session: WriteSession,
    agent: CurrentAgent,
    runtime: RuntimeDep,
    question: Annotated[str, Form(max_length=2000)] = "",
    user_id: Annotated[str, Form(max_length=20)] = "",
    team_id: Annotated[str, Form(max_length=20)] = "",
    csrf_token: Csrf = "",
) -> RedirectResponse:
    """Ask for help from the ticket's panel."""
    agent.check_form(request, csrf_token)
    try:
        data = HelpCreate(
            question=question,
            user_id=views.optional_id(user_id, "colleague"),
            team_id=views.optional_id(team_id, "team"),
        )
    except ValidationError:
        raise InvalidInput("write the question you need help with", code="invalid_help_request") from None
    help.ask(
        session=session, principal=agent.principal, ticket_id=ticket_id, data=data, limits=runtime.limits
    )
    session.commit()
    return RedirectResponse(f"/agent/tickets/{ticket_id}#help", status_code=303)


@router.post("/agent/help/{request_id}/{action}")
def act(
    request_id: IdPath,
    action: Annotated[str, Path(pattern="^(join|resolve|cancel)$")],
    request: Request,
    session: WriteSession,
    agent: CurrentAgent,
    back: Annotated[str, Form(max_length=500)] = "",
    csrf_token: Csrf = "",
) -> RedirectResponse:
    """Join, resolve or cancel a help request; back to the page it came from."""
    agent.check_form(request, csrf_token)
    who = agent.principal
    if action == "join":
        row = help.join(session=session, principal=who, request_id=request_id)
    elif action == "resolve":
        row = help.close(session=session, principal=who, request_id=request_id, state=HelpState.resolved)
    else:
        row = help.close(session=session, principal=who, request_id=request_id, state=HelpState.cancelled)
    session.commit()
    return RedirectResponse(_back(back, f"/agent/tickets/{row.ticket_id}#help"), status_code=303)
