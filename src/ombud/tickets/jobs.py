"""Background work of ticket tracking: follow-up reminders coming due."""

from __future__ import annotations

from sqlalchemy.orm import Session

from ombud.storage.queue import JobQueue, SweepSource
from ombud.tickets import reminders


def remind(*, session: Session, reminder_id: int) -> None:
    """Post a due reminder's note on its ticket and mention its user (idempotent)."""
    reminders.come_due(session=session, reminder_id=reminder_id)


def register(queue: JobQueue) -> None:
    queue.register(reminders.REMIND_JOB, remind)
    # Due reminders are found every minute over the indexed due time: nothing waits in memory.
    queue.register_sweep(SweepSource(job=reminders.REMIND_JOB, id_arg="reminder_id", find=reminders.due_ids))
