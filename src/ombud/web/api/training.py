"""/api/v1/training: the role-play trainer's scenarios, sessions, live check and suggestions, and
/api/v1/people/{user_id}/training: an agent's results (private to them and their lead)."""

from __future__ import annotations

from fastapi import APIRouter

from ombud.assist.schemas import CheckResult
from ombud.people import scenarios, training
from ombud.people.training_schemas import (
    DraftCheck,
    ReplyIn,
    ReplyResult,
    ScenarioCreate,
    ScenarioPage,
    ScenarioPublic,
    SessionPublic,
    SessionStart,
    SuggestionPage,
    TrainingResults,
)
from ombud.web import training_views
from ombud.web.api.assist import OnlyReads, ReaderPrincipal
from ombud.web.api.common import IdPath
from ombud.web.deps import CurrentPrincipal, ReadSession, RuntimeDep, WriteSession

router = APIRouter(tags=["training"])


@router.get("/training/scenarios", response_model=ScenarioPage)
def list_scenarios(session: ReadSession, principal: CurrentPrincipal, all: bool = False) -> ScenarioPage:
    """Active scenarios, newest first (``all``: deactivated ones too, for leads, advocates and admins)."""
    found = scenarios.list_scenarios(session=session, principal=principal, include_inactive=all)
    return ScenarioPage(items=[scenarios.to_public(s, principal=principal) for s in found])


@router.post("/training/scenarios", status_code=201, response_model=ScenarioPublic)
def create_scenario(
    data: ScenarioCreate, session: WriteSession, principal: CurrentPrincipal
) -> ScenarioPublic:
    """Build a scenario from a resolved or escalated ticket, anonymised (leads, advocates and admins)."""
    scenario = scenarios.build_from_ticket(
        session=session,
        actor=principal,
        ticket_id=data.ticket_id,
        persona=data.persona,
        advocacy_case_id=data.advocacy_case_id,
    )
    session.commit()
    return scenarios.to_public(scenario, principal=principal)


@router.get("/training/scenarios/{scenario_id}", response_model=ScenarioPublic)
def get_scenario(scenario_id: IdPath, session: ReadSession, principal: CurrentPrincipal) -> ScenarioPublic:
    scenario = scenarios.access_scenario(session=session, principal=principal, scenario_id=scenario_id)
    return scenarios.to_public(scenario, principal=principal)


@router.post("/training/scenarios/{scenario_id}/deactivate", response_model=ScenarioPublic)
def deactivate_scenario(
    scenario_id: IdPath, session: WriteSession, principal: CurrentPrincipal
) -> ScenarioPublic:
    """Take a scenario out of the trainees' list (its past sessions stay)."""
    scenario = scenarios.deactivate(session=session, principal=principal, scenario_id=scenario_id)
    session.commit()
    return scenarios.to_public(scenario, principal=principal)


@router.post("/training/sessions", status_code=201, response_model=SessionPublic)
def start_session(
    data: SessionStart, session: WriteSession, principal: CurrentPrincipal, runtime: RuntimeDep
) -> SessionPublic:
    """Start practising a scenario: the simulated customer's first message opens the session."""
    found = training.start_session(
        session=session,
        principal=principal,
        scenario_id=data.scenario_id,
        model=training_views.customer_model(runtime),
    )
    session.commit()
    return training.to_public(session=session, training=found)


@router.get("/training/sessions/{session_id}", response_model=SessionPublic)
def get_session(session_id: IdPath, session: ReadSession, principal: CurrentPrincipal) -> SessionPublic:
    """A session with its turns and feedback (the trainee, or a lead who shares a team with them)."""
    found = training.access_session(session=session, principal=principal, session_id=session_id)
    return training.to_public(session=session, training=found)


@router.post("/training/sessions/{session_id}/replies", response_model=ReplyResult)
def reply(
    session_id: IdPath, body: ReplyIn, session: WriteSession, principal: CurrentPrincipal, runtime: RuntimeDep
) -> ReplyResult:
    """The trainee's reply: its feedback and the simulated customer's answer. Nothing is sent."""
    result = training_views.reply(
        session=session, principal=principal, session_id=session_id, text=body.text, runtime=runtime
    )
    session.commit()
    return result


@router.post("/training/sessions/{session_id}/check", response_model=CheckResult)
def check(
    session_id: IdPath, body: DraftCheck, session: OnlyReads, principal: ReaderPrincipal
) -> CheckResult:
    """The production reply check on a draft reply in the session, live while typing (nothing is stored)."""
    return training.check_draft(
        session=session, principal=principal, session_id=session_id, text=body.text, dismissed=body.dismissed
    )


@router.post("/training/sessions/{session_id}/finish", response_model=SessionPublic)
def finish(session_id: IdPath, session: WriteSession, principal: CurrentPrincipal) -> SessionPublic:
    """End the session and score it (a finished one is returned as it is)."""
    found = training.finish(session=session, principal=principal, session_id=session_id)
    session.commit()
    return training.to_public(session=session, training=found)


@router.get("/training/suggestions", response_model=SuggestionPage)
def suggestions(principal: CurrentPrincipal, runtime: RuntimeDep) -> SuggestionPage:
    """Scenarios suggested to the caller from their weakest areas and open advocacy cases, with why."""
    return training_views.suggestions(runtime=runtime, principal=principal)


@router.get("/people/{user_id}/training", response_model=TrainingResults)
def results(user_id: IdPath, session: ReadSession, principal: CurrentPrincipal) -> TrainingResults:
    """An agent's training sessions and average scores: only the agent and a lead who shares a team with
    them (403 ``figures_private``)."""
    return training.results_of(session=session, principal=principal, user_id=user_id)
