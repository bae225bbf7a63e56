"""The inbox order: one score per ticket from its priority, what triage found in the customer's latest
message (urgency, frustration, abuse), and what the customer is worth, kept with its parts so the
workspace can say why a ticket is where it is."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from sqlalchemy.orm import Session

from ombud.storage.base import utcnow
from ombud.tickets.models import Priority, Ticket

# Points per part; the parts add up to the score (0..~120). The set priority leads, an urgent message
# from a furious customer can overtake a "high" ticket, and customer value only breaks near-ties.
PRIORITY_POINTS = {Priority.low: 0.0, Priority.normal: 10.0, Priority.high: 25.0, Priority.urgent: 40.0}
URGENCY_POINTS = {"low": 0.0, "normal": 5.0, "high": 20.0, "urgent": 35.0}
FRUSTRATION_POINTS = 30.0
VALUE_POINTS_PER_DECADE = 3.0  # 10 points for a customer worth 10,000 (log scale)
VALUE_POINTS_MAX = 10.0

# The queue order in one integer: the score to a tenth of a point, then the longest waiting first. Minutes
# since 2020 fit in 10**8 for 190 years; a score of 120 makes 1.2 * 10**11, far inside 64 bits. One
# column ordered one way lets the inbox and next/previous seek straight to a position in the index.
RANK_EPOCH = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
RANK_MINUTES = 10**8


def queue_rank(score: float, created_at: dt.datetime) -> int:
    """Return the ticket's place in the queue (higher first): its score, then the older first."""
    minutes = int((created_at - RANK_EPOCH).total_seconds() // 60)
    minutes = min(max(minutes, 0), RANK_MINUTES - 1)
    return round(score * 10) * RANK_MINUTES + (RANK_MINUTES - 1 - minutes)


def compute(parts: dict[str, Any], priority: Priority) -> tuple[float, dict[str, Any]]:
    """Return (score, parts with each part's points) for a ticket's facts."""
    points = {
        "priority": PRIORITY_POINTS[priority],
        "urgency": URGENCY_POINTS.get(str(parts.get("urgency") or "normal"), 5.0),
        "frustration": round(FRUSTRATION_POINTS * float(parts.get("frustration") or 0.0), 2),
        "customer_value": round(
            min(VALUE_POINTS_MAX, VALUE_POINTS_PER_DECADE * math.log10(1 + float(parts.get("value") or 0.0))),
            2,
        ),
    }
    return round(sum(points.values()), 2), {**parts, "points": points}


def refresh(*, ticket: Ticket, customer_value: float | None = None, **facts: Any) -> None:
    """Recompute ``ticket``'s score after ``facts`` changed (urgency, frustration, emotion, intents,
    abusive: triage of its latest customer message; value: what the customer is worth)."""
    parts = dict(ticket.priority_parts or {})
    parts.pop("points", None)
    parts.update(facts)
    if customer_value is not None:
        parts["value"] = round(customer_value, 2)
    ticket.priority_score, ticket.priority_parts = compute(parts, ticket.priority)
    ticket.queue_rank = queue_rank(ticket.priority_score, ticket.created_at or utcnow())


def after_triage(
    *, session: Session, ticket_id: int, message_id: int, result: dict[str, Any], customer_value: float
) -> None:
    """Re-rank the ticket after triage of its customer message ``message_id`` (an older message's triage,
    finishing late, does not overwrite a newer one's)."""
    ticket = session.get(Ticket, ticket_id)
    if ticket is None or int((ticket.priority_parts or {}).get("message_id") or 0) > message_id:
        return
    intents = [c["intents"][0]["label"] for c in result.get("concerns", []) if c.get("intents")]
    refresh(
        ticket=ticket,
        customer_value=customer_value,
        message_id=message_id,
        urgency=result["urgency"]["level"],
        frustration=round(float(result["frustration"]), 3),
        emotion=result["emotion"]["label"],
        abusive=bool(result["abusive"]),
        intents=intents[:5],
        concerns=len(result.get("concerns", [])),
    )
