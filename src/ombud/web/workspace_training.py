"""The workspace's role-play trainer: suggested and active scenarios, past sessions, a session's conversation
with the simulated customer in the real composer (nothing is sent), and making a scenario from a ticket."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy.orm import Session

from ombud.errors import InvalidInput
from ombud.people import scenarios, training
from ombud.people.access import check_figures
from ombud.people.training_models import Persona
from ombud.people.training_schemas import MAX_REPLY
from ombud.web import training_views
from ombud.web import workspace_views as views
from ombud.web.api.common import IdPath
from ombud.web.deps import ReadSession, RuntimeDep, WriteSession
from ombud.web.workspace import CurrentAgent, _render

router = APIRouter(include_in_schema=False)
Csrf = Annotated[str, Form(max_length=100)]


def _saved(session: Session, url: str) -> RedirectResponse:
    """Commit the form's change and go on to ``url`` (303)."""
    session.commit()
    return RedirectResponse(url, status_code=303)


@router.get("/agent/training", response_class=HTMLResponse)
def trainer(
    session: ReadSession,
    agent: CurrentAgent,
    runtime: RuntimeDep,
    user: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
    all: bool = False,
) -> HTMLResponse:
    """Suggested scenarios with why, all active ones, and past sessions (a lead may look at a team member's
    with ``?user=``; nobody else)."""
    scenarios.check_trainee(agent.principal)
    who = user or agent.id
    check_figures(session=session, viewer=agent.principal, user_id=who)
    mine = who == agent.id
    return _render(
        "workspace/training.html",
        agent=agent,
        me=views.me(session=session, agent=agent),
        suggestions=training_views.suggestions(runtime=runtime, principal=agent.principal).items
        if mine
        else [],
        scenarios=[
            scenarios.to_public(s, principal=agent.principal)
            for s in scenarios.list_scenarios(
                session=session, principal=agent.principal, include_inactive=all
            )
        ],
        results=training.results_of(session=session, principal=agent.principal, user_id=who),
        mine=mine,
        can_manage=scenarios.can_manage(agent.principal),
        show_all=all,
        words=scenarios.PERSONA_WORDS,
    )


@router.post("/agent/training/sessions")
def start(
    request: Request,
    session: WriteSession,
    agent: CurrentAgent,
    runtime: RuntimeDep,
    scenario_id: Annotated[str, Form(max_length=20)],
    csrf_token: Csrf = "",
) -> RedirectResponse:
    agent.check_form(request, csrf_token)
    found = views.form_id(scenario_id, "scenario_id")
    if found is None:
        raise InvalidInput("choose a scenario", code="invalid_input")
    started = training.start_session(
        session=session,
        principal=agent.principal,
        scenario_id=found,
        model=training_views.customer_model(runtime),
    )
    return _saved(session, f"/agent/training/sessions/{started.id}")


@router.get("/agent/training/sessions/{session_id}", response_class=HTMLResponse)
def session_page(session_id: IdPath, session: ReadSession, agent: CurrentAgent) -> HTMLResponse:
    """The conversation with the simulated customer, the composer with the live reply check, per-turn
    feedback and, once finished, the scorecard."""
    found = training.access_session(session=session, principal=agent.principal, session_id=session_id)
    return _render(
        "workspace/training_session.html",
        agent=agent,
        me=views.me(session=session, agent=agent),
        s=training.to_public(session=session, training=found),
        mine=found.user_id == agent.id,
        max_reply=MAX_REPLY,
    )


@router.post("/agent/training/sessions/{session_id}/reply")
def reply(
    session_id: IdPath,
    request: Request,
    session: WriteSession,
    agent: CurrentAgent,
    runtime: RuntimeDep,
    body: Annotated[str, Form(max_length=MAX_REPLY)],
    csrf_token: Csrf = "",
) -> RedirectResponse:
    agent.check_form(request, csrf_token)
    if not body.strip():
        raise InvalidInput("write a reply first", code="invalid_input")
    training_views.reply(
        session=session, principal=agent.principal, session_id=session_id, text=body, runtime=runtime
    )
    return _saved(session, f"/agent/training/sessions/{session_id}#latest")


@router.post("/agent/training/sessions/{session_id}/finish")
def finish(
    session_id: IdPath, request: Request, session: WriteSession, agent: CurrentAgent, csrf_token: Csrf = ""
) -> RedirectResponse:
    agent.check_form(request, csrf_token)
    training.finish(session=session, principal=agent.principal, session_id=session_id)
    return _saved(session, f"/agent/training/sessions/{session_id}#scorecard")


@router.post("/agent/training/scenarios")
def make_scenario(
    request: Request,
    session: WriteSession,
    agent: CurrentAgent,
    ticket_id: Annotated[str, Form(max_length=20)],
    persona: Annotated[str, Form(max_length=20)] = "",
    csrf_token: Csrf = "",
) -> RedirectResponse:
    """The ticket panel's "Make a training scenario"."""
    agent.check_form(request, csrf_token)
    ticket = views.form_id(ticket_id, "ticket_id")
    if ticket is None:
        raise InvalidInput("which ticket?", code="invalid_input")
    if persona and persona not in Persona.__members__:
        raise InvalidInput(f"unknown persona {persona!r}", code="invalid_persona")
    scenarios.build_from_ticket(
        session=session,
        actor=agent.principal,
        ticket_id=ticket,
        persona=Persona(persona) if persona else None,
    )
    return _saved(session, f"/agent/tickets/{ticket}#training")


@router.post("/agent/training/scenarios/{scenario_id}/deactivate")
def deactivate(
    scenario_id: IdPath, request: Request, session: WriteSession, agent: CurrentAgent, csrf_token: Csrf = ""
) -> RedirectResponse:
    agent.check_form(request, csrf_token)
    scenarios.deactivate(session=session, principal=agent.principal, scenario_id=scenario_id)
    return _saved(session, "/agent/training?all=true")
