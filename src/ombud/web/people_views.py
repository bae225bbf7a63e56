"""What the people pages and the ticket's help panel show: help requests with names, the break offer
banner, the agent's own figures."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ombud.accounts.models import Role, Team, User
from ombud.accounts.schemas import Principal
from ombud.people import help, load, wellbeing
from ombud.people.models import HelpRequest, RecoveryBreak
from ombud.tickets.models import Ticket


def user_names(*, session: Session) -> dict[int, str]:
    return {u.id: u.name for u in session.scalars(select(User))}


def team_names(*, session: Session) -> dict[int, str]:
    return {t.id: t.name for t in session.scalars(select(Team).order_by(Team.name))}


def colleagues(*, session: Session, principal: Principal) -> list[User]:
    """Who an agent may ask by name: active agents, leads and admins other than themself."""
    rows = session.scalars(
        select(User)
        .where(
            User.active.is_(True), User.role.in_([Role.agent, Role.lead, Role.admin]), User.id != principal.id
        )
        .order_by(User.name)
    )
    return list(rows)


def help_rows(*, session: Session, principal: Principal, requests: list[HelpRequest]) -> list[dict[str, Any]]:
    """Each request with what the caller may do about it."""
    out = []
    for request in requests:
        public = help.to_public(session=session, request=request)
        is_open = public.state.value == "open"
        mine = principal.id == request.requester_id
        out.append(
            {
                "item": public,
                "can_join": is_open
                and principal.id not in public.helper_ids
                and help.can_help(session=session, principal=principal, request=request),
                "joined": principal.id in public.helper_ids,
                "can_close": is_open and (mine or principal.role in (Role.lead, Role.admin)),
            }
        )
    return out


def banner(*, session: Session, principal: Principal) -> RecoveryBreak | None:
    """The break offer waiting for the agent's answer, if any (shown as a banner)."""
    if principal.kind != "user" or principal.id is None or not principal.can_serve:
        return None
    return wellbeing.open_offer(session=session, user_id=principal.id)


def panel(*, session: Session, principal: Principal, ticket: Ticket) -> dict[str, Any]:
    """The ticket page's help panel: its help requests, the ask form, and the break offer banner."""
    if not principal.can_serve:
        return {"requests": [], "can_ask": False, "offer": None}
    found = list(help.for_ticket(session=session, principal=principal, ticket_id=ticket.id))
    return {
        "requests": help_rows(session=session, principal=principal, requests=found),
        "can_ask": ticket.is_open,
        "colleagues": colleagues(session=session, principal=principal),
        "teams": team_names(session=session),
        "names": user_names(session=session),
        "offer": banner(session=session, principal=principal),
    }


def my_load(*, session: Session, principal: Principal) -> dict[str, Any]:
    """The agent's own figures: emotional load, recent hard contacts, recovery breaks."""
    assert principal.id is not None
    figures = wellbeing.agent_load(session=session, principal=principal, user_id=principal.id)
    contacts = load.contacts_of(session=session, user_id=principal.id)
    subjects = {
        t.id: t.subject
        for t in session.scalars(select(Ticket).where(Ticket.id.in_({c.ticket_id for c in contacts})))
    }
    return {
        "figures": figures,
        "contacts": [{"item": c, "subject": subjects.get(c.ticket_id, "")} for c in contacts],
        "breaks": wellbeing.my_breaks(session=session, principal=principal),
        "offer": banner(session=session, principal=principal),
        "window_hours": int(load.WINDOW.total_seconds() // 3600),
    }
