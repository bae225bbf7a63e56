"""What the routing pages and the ticket page's routing panel show (no import of ombud.web.workspace,
which imports the panels)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.orm import Session

from ombud.accounts import service as accounts
from ombud.accounts.schemas import Principal
from ombud.errors import InvalidInput
from ombud.routing import service as routing
from ombud.routing.models import Availability
from ombud.routing.schemas import AvailabilityUpdate
from ombud.storage.base import utcnow
from ombud.tickets.models import Ticket

STATUS_WORDS = {"online": "Online", "away": "Away", "break": "On a break", "offline": "Offline"}
# The channels the lead's board shows load for, in this order.
BOARD_CHANNELS = ("email", "chat", "phone", "social", "web")
MAX_BREAK_MINUTES = 12 * 60


def wait_words(seconds: int) -> str:
    """Return a short human wait: 45 s, 12 min, 3 h 5 min, 2 d 4 h."""
    if seconds < 60:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


def panel_context(*, session: Session, principal: Principal, ticket: Ticket) -> dict[str, Any]:
    """The ticket page's routing panel: the latest decision, and the ticket's place in the queue."""
    found = routing.decisions(session=session, principal=principal, ticket_id=ticket.id)
    entry = routing.queued_entry(session=session, ticket_id=ticket.id)
    names = {u.id: u.name for u in accounts.list_users(session=session)}
    teams = {t.id: t.name for t in accounts.list_teams(session=session)}
    latest = found[0] if found else None
    queue_team = "No team"
    waited = ""
    if entry is not None:
        queue_team = teams.get(entry.team_id, "No team") if entry.team_id else "No team"
        waited = wait_words(int((utcnow() - entry.enqueued_at).total_seconds()))
    return {
        "latest": latest,
        "agent_name": names.get(latest.user_id) if latest and latest.user_id else None,
        "team_name": teams.get(latest.team_id) if latest and latest.team_id else None,
        "count": len(found),
        "queued": entry is not None,
        "queue_state": entry.state.value if entry is not None else None,
        "queue_team": queue_team,
        "waited": waited,
        "can_route": routing.is_lead(principal),
    }


def page_context(*, session: Session, principal: Principal) -> dict[str, Any]:
    """The routing page: my availability and load; for leads, every agent and the queues."""
    me = None
    if principal.kind == "user" and principal.id is not None:
        try:
            me = routing.get_agent(session=session, principal=principal, user_id=principal.id)
        except InvalidInput:
            me = None  # an advocate: not routed tickets
    lead = routing.is_lead(principal)
    context: dict[str, Any] = {
        "mine": me,
        "lead": lead,
        "statuses": [(s.value, STATUS_WORDS[s.value]) for s in Availability],
        "status_words": STATUS_WORDS,
        "channels": BOARD_CHANNELS,
        "wait_words": wait_words,
    }
    if lead:
        context["agents"] = routing.list_agents(session=session, principal=principal)
        context["queue"] = routing.queue(session=session, principal=principal)
        context["team_names"] = {t.id: t.name for t in accounts.list_teams(session=session)}
        context["teams"] = routing.list_teams(session=session, principal=principal)
    return context


def availability_change(status: str, minutes: str) -> AvailabilityUpdate:
    """Return the change a workspace form asks for (status, and a break's length in minutes)."""
    if status not in STATUS_WORDS:
        raise InvalidInput(f"choose one of {', '.join(STATUS_WORDS)}", code="invalid_status")
    until = None
    if minutes.strip():
        if status != Availability.on_break.value:
            raise InvalidInput("a length goes only with a break", code="until_without_break")
        if not minutes.strip().isdigit() or not 1 <= int(minutes) <= MAX_BREAK_MINUTES:
            raise InvalidInput(f"a break lasts 1 to {MAX_BREAK_MINUTES} minutes", code="invalid_break")
        until = utcnow() + dt.timedelta(minutes=int(minutes))
    return AvailabilityUpdate(status=Availability(status), until=until)
