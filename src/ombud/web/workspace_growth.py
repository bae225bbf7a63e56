"""The workspace's growth pages: my goals with progress, kind words and my reply-check trend
(/agent/growth), and a lead's view of one person they lead (/agent/people/{user_id}/growth)."""

from __future__ import annotations

import math
from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from ombud.errors import InvalidInput
from ombud.people import goals
from ombud.people.growth import weekly_values
from ombud.people.growth_schemas import FINDING_CODES, FINDING_WORDS, GoalCreate, GoalUpdate
from ombud.people.models import GoalKind, GoalState
from ombud.people.training_models import Persona
from ombud.web import workspace_views as views
from ombud.web.advocacy_charts import sparkline
from ombud.web.api.common import IdPath
from ombud.web.deps import ReadSession, WriteSession
from ombud.web.workspace import CurrentAgent, _render

router = APIRouter(include_in_schema=False)
Field = Annotated[str, Form(max_length=200)]


def _page_of(user_id: int, agent_id: int) -> str:
    return "/agent/growth" if user_id == agent_id else f"/agent/people/{user_id}/growth"


def _render_page(session: ReadSession, agent: CurrentAgent, user_id: int, notice: str) -> HTMLResponse:
    found = goals.overview(session=session, viewer=agent.principal, user_id=user_id)
    return _render(
        "workspace/growth.html",
        agent=agent,
        me=views.me(session=session, agent=agent),
        view=found,
        own=user_id == agent.id,
        action=f"/agent/people/{user_id}/goals",
        back=_page_of(user_id, agent.id),
        notice=notice,
        kinds=[k.value for k in GoalKind],
        codes=[(c, FINDING_WORDS[c]) for c in FINDING_CODES],
        words=FINDING_WORDS,
        personas=[p.value for p in Persona],
        sparkline=sparkline,
        weekly=weekly_values,
    )


@router.get("/agent/growth", response_class=HTMLResponse)
def my_growth(session: ReadSession, agent: CurrentAgent, notice: str = "") -> HTMLResponse:
    """My goals with their progress, the kind words customers wrote, and my reply-check trend."""
    return _render_page(session, agent, agent.id, notice)


@router.get("/agent/people/{user_id}/growth", response_class=HTMLResponse)
def person_growth(
    user_id: IdPath, session: ReadSession, agent: CurrentAgent, notice: str = ""
) -> HTMLResponse:
    """A lead's view of one person they lead (403 to anyone else)."""
    return _render_page(session, agent, user_id, notice)


def _number(value: str, field: str, *, scale: float = 1.0) -> float | None:
    value = value.strip().replace(",", ".").rstrip("%").strip()
    if not value:
        return None
    try:
        number = float(value)
    except ValueError:
        raise InvalidInput(f"{field} must be a number", code="invalid_goal_target") from None
    if not math.isfinite(number):
        raise InvalidInput(f"{field} must be a number", code="invalid_goal_target")
    return number / scale


def _target(kind: GoalKind, form: dict[str, str]) -> dict[str, Any]:
    """The goal's target from the add-goal form (the fields of the chosen kind; max rate in percent)."""
    values: dict[str, Any]
    if kind is GoalKind.finding:
        values = {"code": form["code"], "max_rate": _number(form["max_rate"], "max rate", scale=100)}
    elif kind is GoalKind.product:
        values = {
            "product": form["product"],
            "min_tickets": _number(form["min_tickets"], "tickets"),
            "min_csat": _number(form["min_csat"], "satisfaction"),
        }
    elif kind is GoalKind.csat:
        values = {"min_score": _number(form["min_csat"], "satisfaction")}
    else:
        values = {
            "min_score": _number(form["min_score"], "training score"),
            "persona": form["persona"] or None,
        }
    return {k: v for k, v in values.items() if v is not None and v != ""}


@router.post("/agent/people/{user_id}/goals")
def add_goal(
    user_id: IdPath,
    request: Request,
    session: WriteSession,
    agent: CurrentAgent,
    kind: Annotated[str, Form(max_length=20)],
    title: Field = "",
    code: Field = "",
    max_rate: Field = "",
    product: Field = "",
    min_tickets: Field = "",
    min_csat: Field = "",
    min_score: Field = "",
    persona: Field = "",
    csrf_token: Annotated[str, Form(max_length=100)] = "",
) -> RedirectResponse:
    """Add a goal from the form on the growth page (the person themself, or their lead)."""
    agent.check_form(request, csrf_token)
    if kind not in {k.value for k in GoalKind}:
        raise InvalidInput(f"kind must be one of {', '.join(k.value for k in GoalKind)}", code="invalid_goal")
    fields = {
        "code": code,
        "max_rate": max_rate,
        "product": product,
        "min_tickets": min_tickets,
        "min_csat": min_csat,
        "min_score": min_score,
        "persona": persona,
    }
    data = views.checked_form(
        GoalCreate, {"kind": kind, "title": title, "target": _target(GoalKind(kind), fields)}
    )
    goals.create_goal(session=session, actor=agent.principal, user_id=user_id, data=data)
    session.commit()
    return views.with_notice(_page_of(user_id, agent.id), "goal-added")


@router.post("/agent/goals/{goal_id}/{state}")
def set_state(
    goal_id: IdPath,
    state: Annotated[str, Path(pattern="^(active|achieved|archived)$")],
    request: Request,
    session: WriteSession,
    agent: CurrentAgent,
    csrf_token: Annotated[str, Form(max_length=100)] = "",
) -> RedirectResponse:
    """Mark a goal achieved (once met), archive it, or make it active again."""
    agent.check_form(request, csrf_token)
    goal = goals.update_goal(
        session=session, actor=agent.principal, goal_id=goal_id, data=GoalUpdate(state=GoalState(state))
    )
    session.commit()
    return views.with_notice(_page_of(goal.user_id, agent.id), f"goal-{state}")
