"""/api/v1 growth: one person's development goals and their progress, kind words and reply-check summary.

Each endpoint answers for one person, seen by them or their lead only (403 ``figures_private`` to anyone
else); nothing here lists several people's figures.
"""

from __future__ import annotations

from fastapi import APIRouter

from ombud.people import goals
from ombud.people.growth_schemas import (
    GoalCreate,
    GoalPage,
    GoalProgress,
    GoalPublic,
    GoalUpdate,
    KindWords,
    ReplyCheckSummary,
)
from ombud.people.models import GoalState
from ombud.web.api.common import IdPath
from ombud.web.deps import CurrentPrincipal, ReadSession, WriteSession

router = APIRouter(tags=["growth"])


@router.get("/people/{user_id}/goals", response_model=GoalPage)
def list_goals(
    user_id: IdPath, session: ReadSession, principal: CurrentPrincipal, state: GoalState | None = None
) -> GoalPage:
    """The person's development goals, active first."""
    found = goals.list_goals(session=session, viewer=principal, user_id=user_id, state=state)
    return GoalPage(items=[GoalPublic.model_validate(g) for g in found])


@router.post("/people/{user_id}/goals", status_code=201, response_model=GoalPublic)
def create_goal(
    user_id: IdPath, data: GoalCreate, session: WriteSession, principal: CurrentPrincipal
) -> GoalPublic:
    """Set a goal for the person (themself, or their lead); its baseline is stored with it."""
    goal = goals.create_goal(session=session, actor=principal, user_id=user_id, data=data)
    session.commit()
    return GoalPublic.model_validate(goal)


@router.patch("/goals/{goal_id}", response_model=GoalPublic)
def update_goal(
    goal_id: IdPath, data: GoalUpdate, session: WriteSession, principal: CurrentPrincipal
) -> GoalPublic:
    """Change a goal's title, target or state (achieved once met, archived, active again)."""
    goal = goals.update_goal(session=session, actor=principal, goal_id=goal_id, data=data)
    session.commit()
    return GoalPublic.model_validate(goal)


@router.get("/goals/{goal_id}/progress", response_model=GoalProgress)
def goal_progress(goal_id: IdPath, session: ReadSession, principal: CurrentPrincipal) -> GoalProgress:
    """The goal's progress: the last 30 days against its baseline, per week, met or not, in words."""
    return goals.progress_of(session=session, viewer=principal, goal_id=goal_id)


@router.get("/people/{user_id}/kind-words", response_model=KindWords)
def kind_words(user_id: IdPath, session: ReadSession, principal: CurrentPrincipal) -> KindWords:
    """What customers wrote about the person's help (satisfaction comments, thanks after their replies)."""
    return goals.kind_words_of(session=session, viewer=principal, user_id=user_id)


@router.get("/people/{user_id}/reply-checks/summary", response_model=ReplyCheckSummary)
def reply_checks(user_id: IdPath, session: ReadSession, principal: CurrentPrincipal) -> ReplyCheckSummary:
    """The person's reply-check findings of the last 30 days, by code and per week."""
    return goals.reply_checks_of(session=session, viewer=principal, user_id=user_id)
