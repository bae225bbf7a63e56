"""History for the fairness, digest and dashboard tests, written straight into the tables: weeks of tickets,
concerns, themes, concessions, ratings and feelings that would take far too long to make through the API
(and whose themes and intents must not depend on what the models make of the text)."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import Engine, event
from sqlalchemy.orm import Session

from ombud.accounts.schemas import SYSTEM
from ombud.advocacy import assignment
from ombud.advocacy.models import Theme, ThemeMember
from ombud.customers import service as customers
from ombud.customers.schemas import CustomerRef
from ombud.resolutions.models import Resolution, ResolutionStatus
from ombud.tickets.models import (
    AuthorType,
    Channel,
    Concern,
    ConcernStatus,
    Message,
    Status,
    Ticket,
    TicketRating,
)
from ombud.triage.models import MessageTriage

NOW = dt.datetime.now(dt.UTC)


def ago(days: float = 0, hours: float = 0) -> dt.datetime:
    return NOW - dt.timedelta(days=days, hours=hours)


def customer(session: Session, email: str, name: str = "") -> int:
    found, _ = customers.resolve_customer(
        session=session, ref=CustomerRef(email=email, name=name), actor=SYSTEM
    )
    return found.id


def theme(session: Session, label: str) -> int:
    vector = np.zeros(384, dtype=np.float32)
    vector[hash(label) % 384] = 1.0
    row = Theme(label=label, centroid=vector.tobytes(), dimensions=384, size=0)
    session.add(row)
    session.flush()
    return row.id


@dataclass
class Made:
    ticket_id: int
    concern_id: int
    message_id: int
    customer_id: int


def ticket(
    session: Session,
    *,
    customer_id: int,
    at: dt.datetime,
    text: str = "My order arrived broken",
    theme_id: int | None = None,
    intent: str | None = "damaged_item",
    solved: bool = True,
    concern_status: ConcernStatus = ConcernStatus.open,
    frustration: float = 0.1,
    subject: str = "Help",
) -> Made:
    """A ticket from ``customer_id`` written at ``at``: its first message (triaged), one concern, and the
    concern in ``theme_id`` when given."""
    row = Ticket(
        subject=subject,
        channel=Channel.email,
        customer_id=customer_id,
        status=Status.solved if solved else Status.open,
        created_at=at,
        updated_at=at,
    )
    session.add(row)
    session.flush()
    first = message(
        session, ticket_id=row.id, customer_id=customer_id, at=at, text=text, frustration=frustration
    )
    concern = Concern(
        ticket_id=row.id, text=text, intent=intent, status=concern_status, source="triage", created_at=at
    )
    session.add(concern)
    session.flush()
    if theme_id is not None:
        member = ThemeMember(
            concern_id=concern.id,
            theme_id=theme_id,
            ticket_id=row.id,
            customer_id=customer_id,
            text=text,
            vector=np.zeros(384, dtype=np.float32).tobytes(),
            similarity=0.9,
            intent=intent,
            channel="email",
            frustration=frustration,
            concern_at=at,
        )
        session.add(member)
        session.flush()  # the column defaults (tier) are set
        # The hourly counts the dashboard and digest read, kept as online assignment keeps them.
        assignment.add_counts(session, assignment.member_deltas([member]))
        session.flush()
    return Made(ticket_id=row.id, concern_id=concern.id, message_id=first, customer_id=customer_id)


def message(
    session: Session,
    *,
    ticket_id: int,
    customer_id: int,
    at: dt.datetime,
    text: str,
    author: AuthorType = AuthorType.customer,
    frustration: float | None = 0.1,
    internal: bool = False,
) -> int:
    row = Message(
        ticket_id=ticket_id,
        customer_id=customer_id,
        author_type=author,
        channel=Channel.email,
        internal=internal,
        body_text=text,
        created_at=at,
        indexed_at=at,
        triaged_at=at if author == AuthorType.customer else None,
    )
    session.add(row)
    session.flush()
    if author == AuthorType.customer and frustration is not None:
        session.add(
            MessageTriage(
                message_id=row.id,
                ticket_id=ticket_id,
                customer_id=customer_id,
                result={"frustration": frustration},
                intents=[],
                language="en",
                urgency="low",
                frustration=frustration,
                sentiment=0.0,
                abusive=False,
                out_of_scope=False,
                intent_model="test",
                message_at=at,
            )
        )
        session.flush()
    return row.id


def concession(
    session: Session,
    made: Made,
    *,
    minor: int,
    currency: str = "EUR",
    kind: str = "refund",
    status: ResolutionStatus = ResolutionStatus.applied,
    per_concern: bool = True,
) -> int:
    row = Resolution(
        ticket_id=made.ticket_id,
        concern_id=made.concern_id if per_concern else None,
        customer_id=made.customer_id,
        kind=kind,
        amount_minor=minor,
        currency=currency,
        base_minor=minor,
        base_currency=currency,
        reason="damaged",
        intent="damaged_item",
        status=status,
        applied_at=NOW if status == ResolutionStatus.applied else None,
    )
    session.add(row)
    session.flush()
    return row.id


def rating(session: Session, made: Made, score: int) -> None:
    session.add(TicketRating(ticket_id=made.ticket_id, customer_id=made.customer_id, score=score))
    session.flush()


@contextlib.contextmanager
def statements(engine: Engine) -> Iterator[list[str]]:
    """Collect the SQL statements sent to ``engine`` meanwhile."""
    seen: list[str] = []

    def listen(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", listen)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", listen)
