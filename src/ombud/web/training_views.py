"""What the trainer's pages and the ticket page's "Make a training scenario" panel show (no routes here: the
ticket page's panel list imports this module, so it must not import ombud.web.workspace)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ombud.accounts.schemas import Principal
from ombud.people import scenarios, training
from ombud.people.training_llm import CustomerModel
from ombud.people.training_models import Persona, Scenario
from ombud.people.training_schemas import ReplyResult, SuggestionPage
from ombud.runtime import Runtime
from ombud.tickets.models import Ticket

PERSONA_CHOICES = [(p.value, scenarios.PERSONA_WORDS[p]) for p in Persona]


def panel(*, session: Session, principal: Principal, ticket: Ticket) -> dict[str, Any]:
    """Whether the viewer may turn this ticket into a scenario, and the scenarios already made from it."""
    if not scenarios.can_manage(principal) or principal.kind != "user":
        return {"can_make": False}
    made = session.scalars(
        select(Scenario).where(Scenario.source_ticket_id == ticket.id).order_by(Scenario.id)
    ).all()
    return {
        "can_make": True,
        "eligible": scenarios.eligible(session=session, ticket=ticket),
        "personas": PERSONA_CHOICES,
        "made": [{"id": s.id, "title": s.title, "active": s.active} for s in made],
    }


def suggestions(*, runtime: Runtime, principal: Principal) -> SuggestionPage:
    """The caller's suggested scenarios, in a write transaction of its own: a scenario for an open advocacy
    case is built the first time it is suggested, while the page itself is a GET that only reads."""
    with runtime.database.session() as session:
        page = training.suggestions(session=session, principal=principal)
        session.commit()
        return page


def customer_model(runtime: Runtime) -> CustomerModel | None:
    """The OpenAI-compatible endpoint that plays the customer, when OMBUD_TRAINING_LLM_URL is set."""
    settings = runtime.settings
    if not settings.training_llm_url:
        return None
    return CustomerModel(
        url=settings.training_llm_url, key=settings.training_llm_key, model=settings.training_llm_model
    )


def reply(
    *, session: Session, principal: Principal, session_id: int, text: str, runtime: Runtime
) -> ReplyResult:
    """Record a trainee's reply (the caller commits). With a model playing the customer, the transaction
    ends while it answers: it may take seconds, and an open write transaction would hold SQLite's one
    writer (or a pooled PostgreSQL connection) meanwhile."""
    model = customer_model(runtime)
    planned = training.plan_reply(session=session, principal=principal, session_id=session_id, text=text)
    if model is not None:
        session.rollback()
        training.speak(planned, model)
    return training.record_reply(session=session, principal=principal, planned=planned)
