"""/api/v1/routing: agents' skills, capacity and availability, teams' routing, the queue, decisions."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from ombud.accounts.schemas import Principal
from ombud.errors import InvalidInput
from ombud.routing import service as routing
from ombud.routing.schemas import (
    AgentRouting,
    AvailabilityUpdate,
    CapacityUpdate,
    DecisionPublic,
    QueueListing,
    SkillsUpdate,
    TeamRoutingPublic,
    TeamRoutingUpdate,
)
from ombud.web.api.common import IdPath
from ombud.web.deps import CurrentPrincipal, ReadSession, WriteSession

router = APIRouter(prefix="/routing", tags=["routing"])
UserRef = Annotated[str, Path(max_length=20, description="A user id, or 'me'.")]


def _user_id(value: str, principal: Principal) -> int:
    if value == "me":
        if principal.kind != "user" or principal.id is None:
            raise InvalidInput("'me' needs a user's token", code="invalid_user")
        return principal.id
    if value.isascii() and value.isdigit() and 1 <= int(value) < 2**63:
        return int(value)
    raise InvalidInput("give a user id or 'me'", code="invalid_user")


@router.get("/agents", response_model=list[AgentRouting])
def list_agents(session: ReadSession, principal: CurrentPrincipal) -> list[AgentRouting]:
    """Every agent with availability, load and capacity per channel, and skills (leads and admins)."""
    return routing.list_agents(session=session, principal=principal)


@router.get("/agents/{user}", response_model=AgentRouting)
def get_agent(user: UserRef, session: ReadSession, principal: CurrentPrincipal) -> AgentRouting:
    """One agent's routing: an agent reads their own, leads and admins anyone's."""
    return routing.get_agent(session=session, principal=principal, user_id=_user_id(user, principal))


@router.put("/agents/{user}/skills", response_model=AgentRouting)
def set_skills(
    user: UserRef, data: SkillsUpdate, session: WriteSession, principal: CurrentPrincipal
) -> AgentRouting:
    """Replace the agent's skills: intents, languages, products and channels, each with a level 1-5."""
    result = routing.set_skills(
        session=session, principal=principal, user_id=_user_id(user, principal), data=data
    )
    session.commit()
    return result


@router.put("/agents/{user}/capacity", response_model=AgentRouting)
def set_capacity(
    user: UserRef, data: CapacityUpdate, session: WriteSession, principal: CurrentPrincipal
) -> AgentRouting:
    """Set how many active tickets per channel the agent takes at once (leads and admins)."""
    result = routing.set_capacity(
        session=session, principal=principal, user_id=_user_id(user, principal), data=data
    )
    session.commit()
    return result


@router.put("/agents/{user}/availability", response_model=AgentRouting)
def set_availability(
    user: UserRef, data: AvailabilityUpdate, session: WriteSession, principal: CurrentPrincipal
) -> AgentRouting:
    """Go online, away, on a break (optionally until a time) or offline; coming online hands you the
    waiting tickets you can take. Leads and admins may set anyone's."""
    result = routing.set_availability(
        session=session, principal=principal, user_id=_user_id(user, principal), data=data
    )
    session.commit()
    return result


@router.get("/teams", response_model=list[TeamRoutingPublic])
def list_teams(session: ReadSession, principal: CurrentPrincipal) -> list[TeamRoutingPublic]:
    """Every team's routing rules, automatic assignment and overflow (staff)."""
    return routing.list_teams(session=session, principal=principal)


@router.patch("/teams/{team_id}", response_model=TeamRoutingPublic)
def update_team(
    team_id: IdPath, data: TeamRoutingUpdate, session: WriteSession, principal: CurrentPrincipal
) -> TeamRoutingPublic:
    """Change a team's rules, position or overflow (leads and admins) or automatic assignment (admins)."""
    result = routing.update_team(session=session, principal=principal, team_id=team_id, data=data)
    session.commit()
    return result


@router.get("/queue", response_model=QueueListing)
def get_queue(
    session: ReadSession,
    principal: CurrentPrincipal,
    team: Annotated[int | None, Query(ge=1, le=2**63 - 1, description="Only this team's tickets.")] = None,
) -> QueueListing:
    """The tickets waiting for an agent, most urgent then oldest first, with counts and the oldest wait
    per team (leads and admins)."""
    return routing.queue(session=session, principal=principal, team_id=team)


@router.get("/tickets/{ticket_id}/decisions", response_model=list[DecisionPublic])
def decisions(ticket_id: IdPath, session: ReadSession, principal: CurrentPrincipal) -> list[DecisionPublic]:
    """Why the ticket went where it went: each routing decision with the candidates considered."""
    return routing.decisions(session=session, principal=principal, ticket_id=ticket_id)


@router.post("/tickets/{ticket_id}/route", response_model=DecisionPublic | None)
def route_now(ticket_id: IdPath, session: WriteSession, principal: CurrentPrincipal) -> DecisionPublic | None:
    """Route an unassigned ticket again now (leads and admins); null when it is assigned or solved."""
    result = routing.route_now(session=session, principal=principal, ticket_id=ticket_id)
    session.commit()
    return result
