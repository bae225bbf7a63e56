"""/api/v1/sla: business calendars and SLA policies (admins change, leads read), and each ticket's SLA
clocks at /api/v1/tickets/{id}/sla."""

from __future__ import annotations

from fastapi import APIRouter, Response

from ombud.errors import Forbidden
from ombud.sla import clocks
from ombud.sla import service as sla
from ombud.sla.schemas import (
    CalendarCreate,
    CalendarPublic,
    CalendarUpdate,
    PolicyCreate,
    PolicyOrder,
    PolicyPublic,
    PolicyUpdate,
    TeamCalendarSet,
    TicketSlaPublic,
)
from ombud.tickets import service as tickets
from ombud.web.api.common import IdPath
from ombud.web.deps import CurrentPrincipal, ReadSession, WriteSession

router = APIRouter(prefix="/sla", tags=["sla"])
ticket_router = APIRouter(prefix="/tickets", tags=["sla"])


@router.get("/calendars", response_model=list[CalendarPublic])
def list_calendars(session: ReadSession, principal: CurrentPrincipal) -> list[CalendarPublic]:
    """Every business calendar, with the teams that work by it."""
    return sla.list_calendars(session=session, actor=principal)


@router.post("/calendars", status_code=201, response_model=CalendarPublic)
def create_calendar(
    data: CalendarCreate, session: WriteSession, principal: CurrentPrincipal
) -> CalendarPublic:
    """Add a calendar: time zone, weekly hours, holidays (admin)."""
    calendar = sla.create_calendar(session=session, data=data, actor=principal)
    session.commit()
    return sla.get_calendar_public(session=session, calendar=calendar)


@router.get("/calendars/{calendar_id}", response_model=CalendarPublic)
def read_calendar(calendar_id: IdPath, session: ReadSession, principal: CurrentPrincipal) -> CalendarPublic:
    calendar = sla.access_calendar(session=session, actor=principal, calendar_id=calendar_id)
    return sla.get_calendar_public(session=session, calendar=calendar)


@router.patch("/calendars/{calendar_id}", response_model=CalendarPublic)
def update_calendar(
    calendar_id: IdPath, changes: CalendarUpdate, session: WriteSession, principal: CurrentPrincipal
) -> CalendarPublic:
    """Change a calendar (admin); open tickets on it get new due times, keeping the time counted."""
    calendar = sla.access_calendar(session=session, actor=principal, calendar_id=calendar_id)
    sla.update_calendar(session=session, calendar=calendar, changes=changes, actor=principal)
    session.commit()
    return sla.get_calendar_public(session=session, calendar=calendar)


@router.delete("/calendars/{calendar_id}", status_code=204)
def delete_calendar(calendar_id: IdPath, session: WriteSession, principal: CurrentPrincipal) -> Response:
    """Remove a calendar (admin); its teams fall back to the default calendar."""
    calendar = sla.access_calendar(session=session, actor=principal, calendar_id=calendar_id)
    sla.delete_calendar(session=session, calendar=calendar, actor=principal)
    session.commit()
    return Response(status_code=204)


@router.put("/teams/{team_id}/calendar", status_code=204)
def set_team_calendar(
    team_id: IdPath, data: TeamCalendarSet, session: WriteSession, principal: CurrentPrincipal
) -> Response:
    """Choose the calendar a team's tickets run on (null: the default calendar) (admin)."""
    sla.set_team_calendar(session=session, team_id=team_id, calendar_id=data.calendar_id, actor=principal)
    session.commit()
    return Response(status_code=204)


@router.get("/policies", response_model=list[PolicyPublic])
def list_policies(session: ReadSession, principal: CurrentPrincipal) -> list[PolicyPublic]:
    """Every policy in the order they are checked; the first that matches a ticket applies."""
    return [sla.policy_public(p) for p in sla.list_policies(session=session, actor=principal)]


@router.post("/policies", status_code=201, response_model=PolicyPublic)
def create_policy(data: PolicyCreate, session: WriteSession, principal: CurrentPrincipal) -> PolicyPublic:
    """Add a policy: conditions, targets in business minutes, paused statuses, warning, escalation (admin)."""
    policy = sla.create_policy(session=session, data=data, actor=principal)
    session.commit()
    return sla.policy_public(policy)


@router.put("/policies/order", response_model=list[PolicyPublic])
def reorder_policies(
    data: PolicyOrder, session: WriteSession, principal: CurrentPrincipal
) -> list[PolicyPublic]:
    """Set the order the policies are checked in: every policy id, first checked first (admin)."""
    policies = sla.reorder_policies(session=session, policy_ids=data.policy_ids, actor=principal)
    session.commit()
    return [sla.policy_public(p) for p in policies]


@router.get("/policies/{policy_id}", response_model=PolicyPublic)
def read_policy(policy_id: IdPath, session: ReadSession, principal: CurrentPrincipal) -> PolicyPublic:
    return sla.policy_public(sla.access_policy(session=session, actor=principal, policy_id=policy_id))


@router.patch("/policies/{policy_id}", response_model=PolicyPublic)
def update_policy(
    policy_id: IdPath, changes: PolicyUpdate, session: WriteSession, principal: CurrentPrincipal
) -> PolicyPublic:
    """Change a policy (admin); open tickets are re-evaluated, keeping the time counted."""
    policy = sla.access_policy(session=session, actor=principal, policy_id=policy_id)
    sla.update_policy(session=session, policy=policy, changes=changes, actor=principal)
    session.commit()
    return sla.policy_public(policy)


@router.delete("/policies/{policy_id}", status_code=204)
def delete_policy(policy_id: IdPath, session: WriteSession, principal: CurrentPrincipal) -> Response:
    policy = sla.access_policy(session=session, actor=principal, policy_id=policy_id)
    sla.delete_policy(session=session, policy=policy, actor=principal)
    session.commit()
    return Response(status_code=204)


@ticket_router.get("/{ticket_id}/sla", response_model=TicketSlaPublic)
def ticket_sla(ticket_id: IdPath, session: ReadSession, principal: CurrentPrincipal) -> TicketSlaPublic:
    """The ticket's SLA clocks: each metric's target, due time, time left, paused, breached or achieved."""
    if not principal.is_staff:
        raise Forbidden("only staff may read SLA clocks", code="role_forbidden")
    ticket = tickets.access_ticket(session=session, principal=principal, ticket_id=ticket_id)
    return clocks.ticket_sla(session=session, ticket=ticket)
