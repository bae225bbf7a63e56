"""What the ticket page's satisfaction panel shows: the survey's state (or why none went out) and the
customer's rating. Kept apart from ombud.web.workspace, which imports the panels."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from ombud.accounts.schemas import Principal
from ombud.tickets import ratings, surveys
from ombud.tickets.models import Ticket

REASONS = {
    "opted_out": "the customer opted out of surveys",
    "abusive": "the customer wrote abusively on this ticket",
    "spam_sender": "the sender's address was quarantined as spam or a flood",
    "auto_reply": "the last message came from an auto-responder",
    "nothing_to_rate": "nobody replied to the customer",
    "channel_cannot_carry_link": "the channel cannot carry a link",
    "no_address": "the customer has no email address",
    "disabled": "surveys were turned off",
    "ticket_closed": "the ticket was closed before it went out",
    "reopened": "the ticket reopened",
    "undeliverable": "it could not be delivered",
}


def satisfaction_panel(*, session: Session, principal: Principal, ticket: Ticket) -> dict[str, Any]:
    survey = surveys.survey_for(session=session, ticket_id=ticket.id)
    rating = ratings.rating_for(session=session, ticket_id=ticket.id)
    return {
        "survey": survey,
        "why": REASONS.get(survey.reason, survey.reason) if survey is not None else "",
        "rating": rating,
    }
