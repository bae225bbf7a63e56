"""The side panels workflow domains add to the workspace's ticket page (SLA clock, concerns,
resolutions...), each a template and a function that reads what it shows.

A panel's template sees the page's context (``ticket``, ``agent`` with its CSRF token) and its own
``panel`` dict. Panels only read; their forms post to routes of their own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy.orm import Session

from ombud.accounts.schemas import Principal
from ombud.tickets.models import Ticket
from ombud.web import (
    advocacy_case_views,
    automations_views,
    partners_views,
    people_views,
    reports_views,
    resolutions_views,
    routing_views,
    shield_views,
    sla_views,
    tracking_views,
    training_views,
)


class PanelContext(Protocol):
    def __call__(self, *, session: Session, principal: Principal, ticket: Ticket) -> dict[str, Any]: ...


@dataclass(frozen=True)
class TicketPanel:
    name: str
    template: str
    context: PanelContext


# In the order they appear, below the ticket's properties.
TICKET_PANELS: list[TicketPanel] = [
    # Concerns first: what the customer asked, before what was done about it.
    TicketPanel("concerns", "workspace/panels/concerns.html", tracking_views.concerns_panel),
]
# Abuse shielding (conduct reply, escalation, sender blocks); the message loop reads its shields too.
TICKET_PANELS.insert(0, TicketPanel("shield", "workspace/shield_panel.html", shield_views.panel))
# A known problem (an open advocacy case) and its workaround, right after what the customer asked.
TICKET_PANELS.append(TicketPanel("advocacy", "workspace/panels/advocacy.html", advocacy_case_views.panel))
TICKET_PANELS.append(TicketPanel("resolutions", "workspace/panels/resolutions.html", resolutions_views.panel))
# Field visits follow the remedies: a work order is how a repair or an installation is resolved.
TICKET_PANELS.append(TicketPanel("work_orders", "workspace/panels/work_orders.html", partners_views.panel))
TICKET_PANELS.append(TicketPanel("links", "workspace/panels/links.html", tracking_views.links_panel))
TICKET_PANELS.append(
    TicketPanel("reminders", "workspace/panels/reminders.html", tracking_views.reminders_panel)
)
TICKET_PANELS.append(TicketPanel("routing", "workspace/routing-panel.html", routing_views.panel_context))
# Help from teammates (and a recovery break offered to the agent), next to who has the ticket.
TICKET_PANELS.append(TicketPanel("help", "workspace/panels/help.html", people_views.panel))
TICKET_PANELS.append(TicketPanel("sla", "workspace/panels/sla.html", sla_views.panel))
TICKET_PANELS.append(
    TicketPanel("satisfaction", "workspace/panels/satisfaction.html", reports_views.satisfaction_panel)
)
TICKET_PANELS.append(TicketPanel("automations", "workspace/automation-panel.html", automations_views.panel))
# Leads, advocates and admins turn a resolved or escalated ticket into a role-play scenario.
TICKET_PANELS.append(TicketPanel("training", "workspace/panels/training.html", training_views.panel))


def render_context(
    *, session: Session, principal: Principal, ticket: Ticket
) -> list[tuple[str, dict[str, Any]]]:
    """Return (template, panel context) for every panel, in order."""
    return [
        (panel.template, panel.context(session=session, principal=principal, ticket=ticket))
        for panel in TICKET_PANELS
    ]
