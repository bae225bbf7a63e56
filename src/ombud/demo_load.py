"""Demo well-being data: the Support team's recovery-break policy, and an open help request from the demo
agent on one of their tickets, so /agent/help, the ticket's help panel and /agent/team/wellbeing have
something to show."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from ombud.accounts import service as accounts
from ombud.accounts.models import User
from ombud.accounts.schemas import Principal
from ombud.people import help, wellbeing
from ombud.people.models import RecoveryMode
from ombud.people.schemas import HelpCreate, WellbeingUpdate
from ombud.tickets.models import Status, Ticket
from ombud.tickets.service import Limits


def load_load(*, session: Session, users: dict[str, User]) -> None:
    """Set the Support team's policy (offer a 10-minute break; at most 2 hostile tickets in a row) and ask
    for help on the demo agent's oldest open ticket."""
    admin = users["admin"]
    as_admin = Principal(kind="user", id=admin.id, role=admin.role)
    support = accounts.ensure_team(session=session, name="Support")
    wellbeing.update_policy(
        session=session,
        principal=as_admin,
        team_id=support.id,
        data=WellbeingUpdate(recovery_mode=RecoveryMode.offer, recovery_minutes=10, max_hostile_in_a_row=2),
    )
    agent = users["agent"]
    ticket_id = session.scalar(
        select(Ticket.id)
        .where(Ticket.assignee_id == agent.id, Ticket.status.in_((Status.new, Status.open)))
        .order_by(Ticket.id)
        .limit(1)
    )
    if ticket_id is None or not agent.teams:
        return
    help.ask(
        session=session,
        principal=Principal(kind="user", id=agent.id, role=agent.role),
        ticket_id=ticket_id,
        data=HelpCreate(
            question="The customer asks for a refund past the 30 days: has anyone had this before?"
        ),
        limits=Limits(),
    )
