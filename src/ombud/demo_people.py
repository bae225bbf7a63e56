"""Demo growth goals: the demo agent works on fewer jargon findings (their own goal) and on warmer
satisfaction (set by their lead), so /agent/growth has something to show."""

from __future__ import annotations

from sqlalchemy.orm import Session

from ombud.accounts.models import User
from ombud.accounts.schemas import Principal
from ombud.people import goals
from ombud.people.growth_schemas import GoalCreate
from ombud.people.models import GoalKind


def load_people(*, session: Session, users: dict[str, User]) -> None:
    """Create the demo agent's goals: one they set themself and, when the lead leads them, one by the lead."""
    agent = users["agent"]
    own = Principal(kind="user", id=agent.id, role=agent.role)
    goals.create_goal(
        session=session,
        actor=own,
        user_id=agent.id,
        data=GoalCreate(
            kind=GoalKind.finding,
            title="Fewer jargon findings",
            target={"code": "jargon", "max_rate": 0.1},
        ),
    )
    lead = users["lead"]
    by_lead = Principal(kind="user", id=lead.id, role=lead.role)
    if goals.can_set_for(session=session, viewer=by_lead, user_id=agent.id):
        goals.create_goal(
            session=session,
            actor=by_lead,
            user_id=agent.id,
            data=GoalCreate(kind=GoalKind.csat, title="Happy customers", target={"min_score": 4.5}),
        )
    session.flush()
