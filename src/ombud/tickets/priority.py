"""The inbox order: one score per ticket from its priority, what triage found in the customer's latest
message (urgency, frustration, abuse), how close its nearest SLA target is, how long the customer has
been waiting, and what the customer is worth, kept with its parts so the workspace can say why a ticket
is where it is.

Two parts grow as time passes ("sla" and "waiting"). They move in steps (buckets), so a ticket's score
changes only at a few known instants: :func:`next_change` gives the next one, the SLA domain stores it
(``sla_tickets.rerank_at``) and its sweep re-ranks just the tickets whose instant has come, instead of
every open ticket every minute."""

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
# Time left to the nearest running SLA target (real time, not business time: what the agent sees) and
# the points for it; a breached target gets the most. Ordered from the nearest.
SLA_BREACHED_POINTS = 30.0
SLA_STEPS = (
    (dt.timedelta(minutes=30), 22.0),
    (dt.timedelta(hours=1), 16.0),
    (dt.timedelta(hours=2), 12.0),
    (dt.timedelta(hours=4), 8.0),
    (dt.timedelta(hours=8), 4.0),
    (dt.timedelta(hours=24), 2.0),
)
# How long the customer has waited since their first message after our last public reply. Ordered
# from the longest.
WAITING_STEPS = (
    (dt.timedelta(hours=72), 15.0),
    (dt.timedelta(hours=24), 12.0),
    (dt.timedelta(hours=8), 8.0),
    (dt.timedelta(hours=4), 5.0),
    (dt.timedelta(hours=1), 2.0),
)

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


def _instant(value: Any) -> dt.datetime | None:
    if not value:
        return None
    moment = dt.datetime.fromisoformat(str(value))
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def sla_points(due_at: dt.datetime | None, now: dt.datetime) -> float:
    """Return the points for the nearest running SLA target being due at ``due_at``."""
    if due_at is None:
        return 0.0
    if due_at <= now:
        return SLA_BREACHED_POINTS
    left = due_at - now
    return next((points for limit, points in SLA_STEPS if left <= limit), 0.0)


def waiting_points(since: dt.datetime | None, now: dt.datetime) -> float:
    """Return the points for a customer waiting since ``since``."""
    if since is None:
        return 0.0
    waited = now - since
    return next((points for limit, points in WAITING_STEPS if waited >= limit), 0.0)


def next_change(parts: dict[str, Any], now: dt.datetime) -> dt.datetime | None:
    """Return the next instant after ``now`` at which the time-based parts change, if any."""
    moments = []
    due_at = _instant(parts.get("sla_due_at"))
    if due_at is not None and due_at > now:
        moments += [due_at - limit for limit, _ in SLA_STEPS] + [due_at]
    since = _instant(parts.get("waiting_since"))
    if since is not None:
        moments += [since + limit for limit, _ in WAITING_STEPS]
    return min((m for m in moments if m > now), default=None)


def compute(
    parts: dict[str, Any], priority: Priority, now: dt.datetime | None = None
) -> tuple[float, dict[str, Any]]:
    """Return (score, parts with each part's points) for a ticket's facts as of ``now``."""
    now = now or utcnow()
    points = {
        "priority": PRIORITY_POINTS[priority],
        "urgency": URGENCY_POINTS.get(str(parts.get("urgency") or "normal"), 5.0),
        "frustration": round(FRUSTRATION_POINTS * float(parts.get("frustration") or 0.0), 2),
        "sla": sla_points(_instant(parts.get("sla_due_at")), now),
        "waiting": waiting_points(_instant(parts.get("waiting_since")), now),
        "customer_value": round(
            min(VALUE_POINTS_MAX, VALUE_POINTS_PER_DECADE * math.log10(1 + float(parts.get("value") or 0.0))),
            2,
        ),
    }
    return round(sum(points.values()), 2), {**parts, "points": points}


def refresh(
    *, ticket: Ticket, customer_value: float | None = None, now: dt.datetime | None = None, **facts: Any
) -> None:
    """Recompute ``ticket``'s score after ``facts`` changed (urgency, frustration, emotion, intents,
    abusive: triage of its latest customer message; value: what the customer is worth; sla_due_at,
    waiting_since: its SLA clocks, as ISO instants or None) or time passed."""
    parts = dict(ticket.priority_parts or {})
    parts.pop("points", None)
    parts.update(facts)
    if customer_value is not None:
        parts["value"] = round(customer_value, 2)
    ticket.priority_score, ticket.priority_parts = compute(parts, ticket.priority, now)
    ticket.queue_rank = queue_rank(ticket.priority_score, ticket.created_at or utcnow())


def set_time_facts(
    *,
    session: Session,
    ticket_id: int,
    sla_due_at: dt.datetime | None,
    waiting_since: dt.datetime | None,
    now: dt.datetime,
) -> dt.datetime | None:
    """Re-rank the ticket with its nearest running SLA target and since when its customer waits; return
    the next instant its score changes by itself (None: not before another change)."""
    ticket = session.get(Ticket, ticket_id)
    if ticket is None:
        return None
    refresh(
        ticket=ticket,
        now=now,
        sla_due_at=sla_due_at.isoformat() if sla_due_at else None,
        waiting_since=waiting_since.isoformat() if waiting_since else None,
    )
    return next_change(ticket.priority_parts, now) if ticket.is_open else None


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
