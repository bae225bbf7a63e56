"""The automations' jobs: time rules due on a ticket, found every minute by the sweep."""

from __future__ import annotations

import functools

from sqlalchemy.orm import Session

from ombud.automations import engine
from ombud.storage.queue import JobQueue, SweepSource
from ombud.tickets.service import Limits


def time_rules(*, session: Session, limits: Limits, ticket_id: int) -> None:
    """Fire the time rules due on ``ticket_id`` (idempotent: each fires once per period)."""
    engine.run_time_rules(session=session, ticket_id=ticket_id, limits=limits)


def register(queue: JobQueue, limits: Limits) -> None:
    queue.register(engine.TIME_JOB, functools.partial(time_rules, limits=limits))
    queue.register_sweep(SweepSource(job=engine.TIME_JOB, id_arg="ticket_id", find=engine.due_ticket_ids))
