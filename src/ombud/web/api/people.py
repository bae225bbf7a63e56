"""/api/v1/people, team well-being policies and help requests: emotional load (private to the agent and
their lead), the lead's view of their team, recovery breaks and help on tickets."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy.orm import Session

from ombud.people import help, wellbeing
from ombud.people.models import HelpRequest, HelpState, RecoveryBreak
from ombud.people.schemas import (
    BreakPublic,
    HelpCreate,
    HelpPage,
    HelpPublic,
    LoadPublic,
    TeamStanding,
    WellbeingPublic,
    WellbeingUpdate,
)
from ombud.web.api.common import IdPath
from ombud.web.deps import CurrentPrincipal, ReadSession, RuntimeDep, WriteSession

router = APIRouter(tags=["people"])


def _saved_break(session: Session, row: RecoveryBreak) -> BreakPublic:
    """The break as answered, then the change committed."""
    out = BreakPublic.model_validate(row)
    session.commit()
    return out


def _saved_help(session: Session, row: HelpRequest) -> HelpPublic:
    """The help request as answered, then the change committed."""
    out = help.to_public(session=session, request=row)
    session.commit()
    return out


@router.get("/people/team", response_model=TeamStanding)
def team(session: ReadSession, principal: CurrentPrincipal) -> TeamStanding:
    """For a lead: the members of their teams now (status, tickets against capacity, emotional load, hostile
    run, open help requests), sorted by name, never ranked."""
    return wellbeing.team_standing(session=session, principal=principal)


@router.get("/people/me/breaks", response_model=list[BreakPublic])
def my_breaks(session: WriteSession, principal: CurrentPrincipal) -> list[BreakPublic]:
    """The caller's recovery breaks, newest first (offers past 30 minutes are expired)."""
    rows = wellbeing.my_breaks(session=session, principal=principal)
    out = [BreakPublic.model_validate(r) for r in rows]
    session.commit()
    return out


@router.post("/people/me/breaks/{break_id}/take", response_model=BreakPublic)
def take_break(break_id: IdPath, session: WriteSession, principal: CurrentPrincipal) -> BreakPublic:
    """Take an offered break now: on a break (nothing is routed to you) until it ends."""
    return _saved_break(session, wellbeing.take(session=session, principal=principal, break_id=break_id))


@router.post("/people/me/breaks/{break_id}/decline", response_model=BreakPublic)
def decline_break(break_id: IdPath, session: WriteSession, principal: CurrentPrincipal) -> BreakPublic:
    """Not now: close the offer."""
    return _saved_break(session, wellbeing.decline(session=session, principal=principal, break_id=break_id))


@router.get("/people/{user_id}/load", response_model=LoadPublic)
def agent_load(user_id: IdPath, session: ReadSession, principal: CurrentPrincipal) -> LoadPublic:
    """An agent's emotional load: only the agent and a lead who shares a team with them (403 otherwise)."""
    return wellbeing.agent_load(session=session, principal=principal, user_id=user_id)


@router.get("/teams/{team_id}/wellbeing", response_model=WellbeingPublic)
def get_policy(team_id: IdPath, session: ReadSession, principal: CurrentPrincipal) -> WellbeingPublic:
    """The team's well-being policy (the defaults when none was set)."""
    return wellbeing.get_policy(session=session, principal=principal, team_id=team_id)


@router.put("/teams/{team_id}/wellbeing", response_model=WellbeingPublic)
def put_policy(
    team_id: IdPath, data: WellbeingUpdate, session: WriteSession, principal: CurrentPrincipal
) -> WellbeingPublic:
    """Set the team's recovery mode, break length and hostile-in-a-row limit (admins; the team's leads)."""
    out = wellbeing.update_policy(session=session, principal=principal, team_id=team_id, data=data)
    session.commit()
    return out


@router.get("/tickets/{ticket_id}/help-requests", response_model=HelpPage)
def ticket_help(ticket_id: IdPath, session: ReadSession, principal: CurrentPrincipal) -> HelpPage:
    """The ticket's help requests, newest first."""
    rows = help.for_ticket(session=session, principal=principal, ticket_id=ticket_id)
    return HelpPage(items=[help.to_public(session=session, request=r) for r in rows])


@router.post("/tickets/{ticket_id}/help-requests", status_code=201, response_model=HelpPublic)
def ask_help(
    ticket_id: IdPath,
    data: HelpCreate,
    session: WriteSession,
    principal: CurrentPrincipal,
    runtime: RuntimeDep,
) -> HelpPublic:
    """Ask for help on the ticket: a note with @mentions of everyone asked."""
    row = help.ask(
        session=session, principal=principal, ticket_id=ticket_id, data=data, limits=runtime.limits
    )
    return _saved_help(session, row)


@router.get("/help-requests", response_model=HelpPage)
def list_help(
    session: ReadSession,
    principal: CurrentPrincipal,
    state: Annotated[HelpState | None, Query(description="Default open")] = HelpState.open,
) -> HelpPage:
    """Help requests the caller can help with, or asked themself, newest first."""
    rows = help.listing(session=session, principal=principal, state=state)
    return HelpPage(items=[help.to_public(session=session, request=r) for r in rows])


def _closing(
    request_id: int, session: WriteSession, principal: CurrentPrincipal, state: HelpState
) -> HelpPublic:
    return _saved_help(
        session, help.close(session=session, principal=principal, request_id=request_id, state=state)
    )


@router.post("/help-requests/{request_id}/join", response_model=HelpPublic)
def join_help(request_id: IdPath, session: WriteSession, principal: CurrentPrincipal) -> HelpPublic:
    """Join as a helper; then help with internal notes on the ticket."""
    return _saved_help(session, help.join(session=session, principal=principal, request_id=request_id))


@router.post("/help-requests/{request_id}/resolve", response_model=HelpPublic)
def resolve_help(request_id: IdPath, session: WriteSession, principal: CurrentPrincipal) -> HelpPublic:
    """Resolve the request (the requester, a lead or an admin)."""
    return _closing(request_id, session, principal, HelpState.resolved)


@router.post("/help-requests/{request_id}/cancel", response_model=HelpPublic)
def cancel_help(request_id: IdPath, session: WriteSession, principal: CurrentPrincipal) -> HelpPublic:
    """Cancel the request (the requester, a lead or an admin)."""
    return _closing(request_id, session, principal, HelpState.cancelled)
