"""The SLA check job: warnings, breaches, escalation and inbox re-ranking as time passes.

Nothing is scheduled in the queue for a future instant: each ticket's next due moment (a warning, a
breach, a change of its inbox points) is stored in ``sla_tickets.next_check_at``, and the sweep enqueues
the check of every ticket whose moment has come. A lost job is found again by the next sweep.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from ombud.events.service import NamedConsumer
from ombud.sla import clocks
from ombud.storage.queue import JobQueue, SweepSource

CONSUMER = NamedConsumer("sla", clocks.handle_event)


def check(*, session: Session, ticket_id: int) -> None:
    """Check one ticket's clocks (the sweep enqueues it when ``next_check_at`` has come)."""
    clocks.check(session=session, ticket_id=ticket_id)


def register(queue: JobQueue) -> None:
    queue.register(clocks.CHECK_JOB, check, priority=3)
    queue.register_sweep(SweepSource(job=clocks.CHECK_JOB, id_arg="ticket_id", find=clocks.find_due))
