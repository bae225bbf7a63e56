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


class PanelContext(Protocol):
    def __call__(self, *, session: Session, principal: Principal, ticket: Ticket) -> dict[str, Any]: ...


@dataclass(frozen=True)
class TicketPanel:
    name: str
    template: str
    context: PanelContext


# In the order they appear, below the ticket's properties.
TICKET_PANELS: list[TicketPanel] = []


def render_context(
    *, session: Session, principal: Principal, ticket: Ticket
) -> list[tuple[str, dict[str, Any]]]:
    """Return (template, panel context) for every panel, in order."""
    return [
        (panel.template, panel.context(session=session, principal=principal, ticket=ticket))
        for panel in TICKET_PANELS
    ]
