"""Personal development goals: set by the agent or by their lead, measured from data (ombud.people.growth),
marked achieved or archived. Only the agent and a lead who shares a team with them see or change them.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ombud.accounts.models import Role, User
from ombud.accounts.schemas import Principal
from ombud.audit import service as audit
from ombud.errors import Conflict, Forbidden, InvalidInput, NotFound
from ombud.people import growth
from ombud.people.access import SERVING_ROLES, check_figures, team_of_lead
from ombud.people.growth_schemas import (
    FINDING_CODES,
    FINDING_WORDS,
    GoalCreate,
    GoalProgress,
    GoalUpdate,
    KindWords,
    ReplyCheckSummary,
)
from ombud.people.models import Goal, GoalKind, GoalState
from ombud.people.training_models import Persona
from ombud.storage.base import utcnow
from ombud.validation import normalise_tag

MAX_ACTIVE = 20  # goals a person works on at once; more is a list nobody reads
_ALLOWED = {
    GoalKind.finding: ({"code", "max_rate"}, {"code", "max_rate"}),
    GoalKind.product: ({"product"}, {"product", "min_tickets", "min_csat"}),
    GoalKind.csat: ({"min_score"}, {"min_score"}),
    GoalKind.training: ({"min_score"}, {"min_score", "persona"}),
}


def _bad(message: str) -> InvalidInput:
    return InvalidInput(message, code="invalid_goal_target")


def _number(target: dict[str, Any], key: str, low: float, high: float) -> float:
    value = target[key]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _bad(f"{key} must be a number from {low:g} to {high:g}")
    try:
        value = float(value)
    except OverflowError:  # an integer too large for a float is out of every range
        value = math.inf
    if not math.isfinite(value):
        raise _bad(f"{key} must be a number from {low:g} to {high:g}")
    if not low <= value <= high:
        raise _bad(f"{key} must be from {low:g} to {high:g}, not {value:g}")
    return float(value)


def _product_target(target: dict[str, Any]) -> dict[str, Any]:
    product = target["product"]
    if not isinstance(product, str):
        raise _bad("product must be a product name (its product: tag)")
    try:
        tag = normalise_tag(f"product:{product.strip().removeprefix('product:')}")
    except InvalidInput:
        raise _bad("product must be 1-90 characters without spaces or commas (its product: tag)") from None
    if tag == "product:":
        raise _bad("product must not be empty")
    cleaned: dict[str, Any] = {"product": tag.removeprefix("product:")}
    if target.get("min_tickets") is not None:
        cleaned["min_tickets"] = round(_number(target, "min_tickets", 1, 10_000))
    if target.get("min_csat") is not None:
        cleaned["min_csat"] = _number(target, "min_csat", 1, 5)
    return cleaned


def _training_target(target: dict[str, Any]) -> dict[str, Any]:
    cleaned: dict[str, Any] = {"min_score": round(_number(target, "min_score", 0, 100))}
    persona = target.get("persona")
    if persona is not None:
        if not isinstance(persona, str) or persona not in {p.value for p in Persona}:
            raise _bad(f"persona must be one of {', '.join(p.value for p in Persona)}")
        cleaned["persona"] = persona
    return cleaned


def clean_target(kind: GoalKind, target: dict[str, Any]) -> dict[str, Any]:
    """Return ``target`` checked and normalised for a goal of ``kind`` (422 ``invalid_goal_target``)."""
    if not isinstance(target, dict):
        raise _bad("target must be an object")
    required, allowed = _ALLOWED[kind]
    missing = sorted(required - set(target))
    if missing:
        raise _bad(f"a {kind.value} goal's target needs {', '.join(missing)}")
    unknown = sorted(set(target) - allowed)
    if unknown:
        takes = ", ".join(sorted(allowed))
        raise _bad(f"a {kind.value} goal's target has no {', '.join(unknown)} (it takes {takes})")
    if kind is GoalKind.finding:
        if target["code"] not in FINDING_CODES:
            raise _bad(f"code must be one of the reply check's findings: {', '.join(FINDING_CODES)}")
        return {"code": target["code"], "max_rate": _number(target, "max_rate", 0, 1)}
    if kind is GoalKind.csat:
        return {"min_score": _number(target, "min_score", 1, 5)}
    if kind is GoalKind.training:
        return _training_target(target)
    return _product_target(target)


def default_title(kind: GoalKind, target: dict[str, Any]) -> str:
    if kind is GoalKind.finding:
        return f"Fewer replies with {FINDING_WORDS[target['code']]}"
    if kind is GoalKind.product:
        return f"Grow in {target['product']}"
    if kind is GoalKind.csat:
        return f"Average satisfaction of {target['min_score']:g} or more"
    persona = f" with {target['persona']} customers" if target.get("persona") else ""
    return f"Training score of {target['min_score']} or more{persona}"


def _subject(*, session: Session, viewer: Principal, user_id: int) -> User:
    """The person whose goals these are, once ``viewer`` may see their figures."""
    if viewer.kind != "user":
        raise Forbidden("development goals are for staff", code="role_forbidden")
    check_figures(session=session, viewer=viewer, user_id=user_id)
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("no such user", code="user_not_found")
    if user.role not in SERVING_ROLES:
        raise Forbidden("only people who serve customers have development goals", code="role_forbidden")
    return user


def check_person(*, session: Session, viewer: Principal, user_id: int) -> User:
    """Return user ``user_id`` if ``viewer`` may see their growth figures (themself or their lead)."""
    return _subject(session=session, viewer=viewer, user_id=user_id)


def can_set_for(*, session: Session, viewer: Principal, user_id: int) -> bool:
    """Whether ``viewer`` may see and set ``user_id``'s goals (themself or their lead)."""
    try:
        _subject(session=session, viewer=viewer, user_id=user_id)
    except (Forbidden, NotFound):
        return False
    return True


def list_goals(
    *, session: Session, viewer: Principal, user_id: int, state: GoalState | None = None
) -> Sequence[Goal]:
    """The person's goals: active first, then newest first."""
    _subject(session=session, viewer=viewer, user_id=user_id)
    query = select(Goal).where(Goal.user_id == user_id)
    if state is not None:
        query = query.where(Goal.state == state)
    rows = session.scalars(query.order_by(Goal.created_at.desc(), Goal.id.desc())).all()
    return sorted(rows, key=lambda g: g.state is not GoalState.active)


def access_goal(*, session: Session, viewer: Principal, goal_id: int) -> Goal:
    """Return goal ``goal_id`` if ``viewer`` may see it; 404 ``goal_not_found`` to anyone else, so goals
    of others cannot be counted by trying ids."""
    goal = session.get(Goal, goal_id)
    if goal is None or viewer.kind != "user":
        raise NotFound(f"no goal with id {goal_id}", code="goal_not_found")
    try:
        _subject(session=session, viewer=viewer, user_id=goal.user_id)
    except (Forbidden, NotFound):
        raise NotFound(f"no goal with id {goal_id}", code="goal_not_found") from None
    return goal


def _due(value: dt.date | None) -> dt.datetime | None:
    return None if value is None else dt.datetime.combine(value, dt.time(23, 59), tzinfo=dt.UTC)


def create_goal(*, session: Session, actor: Principal, user_id: int, data: GoalCreate) -> Goal:
    """Set a goal for ``user_id`` (the agent themself or their lead) with its baseline: the same figures
    over the 30 days before now."""
    _subject(session=session, viewer=actor, user_id=user_id)
    target = clean_target(data.kind, data.target)
    active = session.scalars(
        select(Goal.id).where(Goal.user_id == user_id, Goal.state == GoalState.active)
    ).all()
    if len(active) >= MAX_ACTIVE:
        raise Conflict(f"at most {MAX_ACTIVE} active goals; archive one first", code="too_many_goals")
    now = utcnow()
    goal = Goal(
        user_id=user_id,
        kind=data.kind,
        title=data.title.strip() or default_title(data.kind, target),
        target=target,
        baseline=growth.baseline_for(session=session, user_id=user_id, kind=data.kind, target=target, at=now),
        state=GoalState.active,
        due_on=_due(data.due_on),
        created_by_id=actor.id,
        created_at=now,
        updated_at=now,
    )
    session.add(goal)
    session.flush()
    # Audited without a customer or ticket: a personal figure stays out of every timeline and event feed.
    audit.record(
        session=session,
        actor=actor,
        action="goal.created",
        entity_type="goal",
        entity_id=goal.id,
        after={"user_id": user_id, "kind": goal.kind.value},
    )
    return goal


def update_goal(*, session: Session, actor: Principal, goal_id: int, data: GoalUpdate) -> Goal:
    """Change a goal's title, target or state. A goal is marked achieved only once its progress meets the
    target (409 ``goal_not_met``); a new target measures the baseline again from when the goal was set."""
    goal = access_goal(session=session, viewer=actor, goal_id=goal_id)
    if data.title is not None:
        if not data.title.strip():
            raise InvalidInput("title must not be empty", code="invalid_goal")
        goal.title = data.title.strip()
    if data.target is not None:
        target = clean_target(goal.kind, data.target)
        if target != goal.target:
            goal.target = target
            goal.baseline = growth.baseline_for(
                session=session, user_id=goal.user_id, kind=goal.kind, target=target, at=goal.created_at
            )
    if data.state is not None and data.state is not goal.state:
        if data.state is GoalState.achieved and not growth.progress(session=session, goal=goal).met:
            raise Conflict("the goal's target is not met yet", code="goal_not_met")
        goal.state = data.state
    goal.updated_at = utcnow()
    session.flush()
    audit.record(
        session=session,
        actor=actor,
        action="goal.updated",
        entity_type="goal",
        entity_id=goal.id,
        after={"state": goal.state.value},
    )
    return goal


def progress_of(*, session: Session, viewer: Principal, goal_id: int) -> GoalProgress:
    """Goal ``goal_id``'s progress, for the person or their lead."""
    return growth.progress(session=session, goal=access_goal(session=session, viewer=viewer, goal_id=goal_id))


def kind_words_of(*, session: Session, viewer: Principal, user_id: int) -> KindWords:
    """The kind words customers wrote about ``user_id``, for them or their lead."""
    _subject(session=session, viewer=viewer, user_id=user_id)
    return growth.kind_words(session=session, user_id=user_id)


def reply_checks_of(*, session: Session, viewer: Principal, user_id: int) -> ReplyCheckSummary:
    """``user_id``'s reply-check summary of the last 30 days, for them or their lead."""
    _subject(session=session, viewer=viewer, user_id=user_id)
    return growth.reply_check_summary(session=session, user_id=user_id)


@dataclass(frozen=True)
class Overview:
    """One person's growth page: their goals with progress, kind words, the reply-check trend and, on a
    lead's own page, the names of the people they lead (names only: no figures side by side)."""

    user: User
    goals: list[tuple[Goal, GoalProgress]]
    kind_words: KindWords
    checks: ReplyCheckSummary
    team: list[tuple[int, str]]


def overview(*, session: Session, viewer: Principal, user_id: int) -> Overview:
    """Everything the growth page shows about ``user_id``, for them or their lead."""
    user = _subject(session=session, viewer=viewer, user_id=user_id)
    rows = list_goals(session=session, viewer=viewer, user_id=user_id)
    team: list[tuple[int, str]] = []
    if viewer.id == user_id and viewer.role is Role.lead:
        ids = team_of_lead(session=session, lead_id=user_id)
        people = session.execute(
            select(User.id, User.name).where(
                User.id.in_(ids), User.role.in_(SERVING_ROLES), User.active.is_(True)
            )
        ).all()
        team = sorted(((int(i), str(n)) for i, n in people), key=lambda p: (p[1].casefold(), p[0]))
    return Overview(
        user=user,
        goals=[
            (g, growth.progress(session=session, goal=g)) for g in rows if g.state is not GoalState.archived
        ]
        + [(g, growth.progress(session=session, goal=g)) for g in rows if g.state is GoalState.archived][:10],
        kind_words=growth.kind_words(session=session, user_id=user_id, limit=10),
        checks=growth.reply_check_summary(session=session, user_id=user_id),
        team=team,
    )
