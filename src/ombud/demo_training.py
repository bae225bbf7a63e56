"""The demo's role-play scenarios: four of the demo's resolved and escalated tickets, anonymised, each with a
different persona.

Run after the demo's tickets exist (the demo's loader calls :func:`load_training` at its end). The demo's
messages are triaged by a job after the demo's transaction commits, so these scenarios are built from what
exists at load time: the customers' messages (their sentences stand for the concerns until triage has run)
and the concessions applied. Scenarios built later from the same tickets (``ombud training build``, the
ticket page's panel) use triage's and the agents' tracked concerns too.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from ombud.accounts.models import Role, User
from ombud.accounts.schemas import Principal
from ombud.errors import Conflict, NotFound
from ombud.people import scenarios
from ombud.people.training_models import Persona, Scenario
from ombud.tickets.models import Ticket

# (subject of a demo ticket, the persona its customer plays)
SCENARIOS = (
    ("THIRD time writing - router still dropping connection", Persona.angry),
    ("Charged twice for order #A-10293", Persona.pushy),
    ("Wifi drops in the bedroom", Persona.confused),
    ("Invoice address wrong", Persona.vague),
)


def load_training(*, session: Session, users: dict[str, User]) -> None:
    """Build the demo's scenarios (once: nothing happens when they exist already)."""
    if session.scalar(select(Scenario.id).limit(1)) is not None:
        return
    lead = users["lead"]
    actor = Principal(kind="user", id=lead.id, role=Role.lead)
    for subject, persona in SCENARIOS:
        ticket_id = session.scalar(select(Ticket.id).where(Ticket.subject == subject).order_by(Ticket.id))
        if ticket_id is None:
            continue
        try:
            with session.begin_nested():
                scenarios.build_from_ticket(
                    session=session, actor=actor, ticket_id=ticket_id, persona=persona
                )
        except (Conflict, NotFound):
            continue  # the demo changed: a missing or unresolved ticket is no reason to fail loading it
