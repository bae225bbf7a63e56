"""Background work of routing: a new ticket whose wait for triage is over, a waiting ticket that overflows
to another team, an agent whose break has ended. The due times live in indexed columns (the queue's
``route_at`` and ``overflow_at``, the agent's ``break_until``); the sweep finds what is due every minute."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from ombud.events.service import NamedConsumer
from ombud.routing import reactions
from ombud.routing.assign import RoutingConfig
from ombud.storage.queue import JobQueue, SweepSource

REVIEW_JOB = "routing.review"
BREAK_JOB = "routing.end_break"


def review(*, session: Session, ticket_id: int) -> None:
    """Route a queued ticket whose wait for triage is over, or overflow it (idempotent: nothing due, nothing
    done)."""
    reactions.review(session=session, ticket_id=ticket_id)


def end_break(*, session: Session, user_id: int) -> None:
    """Bring an agent back online when their break is over (idempotent)."""
    reactions.end_break(session=session, user_id=user_id)


def register(queue: JobQueue, consumers: list[NamedConsumer], *, triage_wait_seconds: int) -> None:
    """Register routing's jobs and sweeps, and append its consumer of ticket events to ``consumers``."""
    config = RoutingConfig(triage_wait=dt.timedelta(seconds=triage_wait_seconds))
    consumers.append(NamedConsumer("routing", reactions.RoutingConsumer(config)))
    queue.register(REVIEW_JOB, review)
    queue.register(BREAK_JOB, end_break)
    queue.register_sweep(SweepSource(job=REVIEW_JOB, id_arg="ticket_id", find=reactions.due_ticket_ids))
    queue.register_sweep(SweepSource(job=BREAK_JOB, id_arg="user_id", find=reactions.breaks_over))
