"""Background work of the people domain: the workflow consumer "people" (hard contacts, recovery breaks
due after an abusive conversation) and the sweep that expires break offers nobody answered."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from ombud.events.service import NamedConsumer
from ombud.people import wellbeing
from ombud.people.models import BreakState, RecoveryBreak
from ombud.storage.base import utcnow
from ombud.storage.queue import JobQueue, SweepSource

EXPIRE_JOB = "people.expire_break_offer"


def expire_offer(*, session: Session, break_id: int) -> None:
    """Expire one offer past its time (idempotent: an answered or fresh offer is left alone)."""
    row = session.get(RecoveryBreak, break_id)
    if row is None or row.state != BreakState.offered:
        return
    if row.created_at > utcnow() - wellbeing.OFFER_TTL:
        return
    row.state = BreakState.expired
    row.answered_at = utcnow()
    session.flush()


def due_offers(*, session: Session, limit: int) -> list[int]:
    rows = session.scalars(
        select(RecoveryBreak.id)
        .where(
            RecoveryBreak.state == BreakState.offered,
            RecoveryBreak.created_at <= utcnow() - wellbeing.OFFER_TTL,
        )
        .order_by(RecoveryBreak.id)
        .limit(limit)
    ).all()
    return [int(i) for i in rows]


def register(queue: JobQueue, consumers: list[NamedConsumer]) -> None:
    """Append the "people" consumer to ``consumers`` and register the offer expiry sweep."""
    consumers.append(NamedConsumer("people", wellbeing.load_consumer))
    queue.register(EXPIRE_JOB, expire_offer)
    queue.register_sweep(SweepSource(job=EXPIRE_JOB, id_arg="break_id", find=due_offers))
