"""Background work of the partner network: the dispatch retry of work orders no partner fitted yet, and
the appointment reminders the day before. Both are found again by the sweep (the state is in the
database: ``status = new`` with ``updated_at``, and ``reminded_at`` still empty)."""

from __future__ import annotations

from ombud.partners import dispatch, notices, scheduling
from ombud.storage.queue import JobQueue, SweepSource

DISPATCH_JOB = "partners.dispatch"


def register(queue: JobQueue, *, base_url: str = "") -> None:
    notices.configure(base_url=base_url)
    queue.register(DISPATCH_JOB, dispatch.retry)
    queue.register_sweep(SweepSource(job=DISPATCH_JOB, id_arg="work_order_id", find=dispatch.waiting_ids))
    queue.register(scheduling.REMIND_JOB, scheduling.remind)
    queue.register_sweep(
        SweepSource(job=scheduling.REMIND_JOB, id_arg="work_order_id", find=scheduling.due_reminder_ids)
    )
