"""What the ticket page's automations panel shows: the rules that acted on the ticket and, for admins,
the webhook deliveries of its events. (Kept apart from ombud.web.workspace: panels must not import it.)"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from ombud.accounts.models import Role
from ombud.accounts.schemas import Principal
from ombud.automations import service as automations
from ombud.tickets.models import Ticket
from ombud.webhooks import service as webhooks


def panel(*, session: Session, principal: Principal, ticket: Ticket) -> dict[str, Any]:
    runs = automations.runs_for_ticket(session=session, ticket_id=ticket.id, limit=10)
    deliveries = (
        webhooks.deliveries_for_ticket(session=session, ticket_id=ticket.id, limit=10)
        if principal.is_admin
        else []
    )
    return {
        "runs": [{"run": run, "rule": name} for run, name in runs],
        "deliveries": deliveries,
        "can_open_rules": principal.is_admin or principal.role == Role.lead,
        "can_open_webhooks": principal.is_admin,
    }
