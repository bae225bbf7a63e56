"""Who may see an agent's personal figures (emotional load, goals, growth, training results).

They are private to the agent and their lead: the agent themself, and a user with the lead role who
shares a team with them. Nobody else, not an admin and not another agent: these figures help a person
grow and rest; they are never a ranking and never a performance review.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from ombud.accounts.models import Role, User, team_members
from ombud.accounts.schemas import Principal
from ombud.errors import Forbidden, NotFound

# Roles that serve customers and so have personal figures.
SERVING_ROLES = frozenset({Role.admin, Role.lead, Role.agent})
# Roles that may ask about someone's figures at all (and then only their own, or a lead their team's).
STAFF_VIEWERS = frozenset({Role.admin, Role.lead, Role.agent, Role.advocate})


def leads_of(*, session: Session, user_id: int) -> Sequence[int]:
    """Return the ids of active leads who share a team with ``user_id`` (not the user themself)."""
    mine = select(team_members.c.team_id).where(team_members.c.user_id == user_id)
    return session.scalars(
        select(User.id)
        .join(team_members, team_members.c.user_id == User.id)
        .where(
            team_members.c.team_id.in_(mine),
            User.role == Role.lead,
            User.active.is_(True),
            User.id != user_id,
        )
        .distinct()
        .order_by(User.id)
    ).all()


def team_of_lead(*, session: Session, lead_id: int) -> Sequence[int]:
    """Return the ids of the users who share a team with the lead ``lead_id`` (the lead excluded)."""
    mine = select(team_members.c.team_id).where(team_members.c.user_id == lead_id)
    return session.scalars(
        select(User.id)
        .join(team_members, team_members.c.user_id == User.id)
        .where(team_members.c.team_id.in_(mine), User.id != lead_id)
        .distinct()
        .order_by(User.id)
    ).all()


def can_see_figures(*, session: Session, viewer: Principal, user_id: int) -> bool:
    """True when ``viewer`` is the agent ``user_id`` or a lead who shares a team with them."""
    if viewer.kind != "user" or viewer.id is None:
        return False
    if viewer.id == user_id:
        return True
    return viewer.role == Role.lead and viewer.id in leads_of(session=session, user_id=user_id)


def check_figures(*, session: Session, viewer: Principal, user_id: int) -> None:
    """Raise unless ``viewer`` may see ``user_id``'s personal figures. A customer, a partner or the system
    gets 403 ``role_forbidden`` whoever is asked about (they may not learn which user ids exist); staff get
    404 ``user_not_found`` for a user who does not exist and 403 ``figures_private`` otherwise."""
    if not (viewer.kind == "user" and viewer.role in STAFF_VIEWERS):
        raise Forbidden("personal figures are for the agent and their lead", code="role_forbidden")
    if session.get(User, user_id) is None:
        raise NotFound("no such user", code="user_not_found")
    if not can_see_figures(session=session, viewer=viewer, user_id=user_id):
        raise Forbidden(
            "these figures are private to the agent and their lead (a lead who shares a team with them)",
            code="figures_private",
        )
