"""Background work of advocacy cases: the notice jobs that close the loop, the check that moves a fixed
case to customers_told, the verification after the fix, and the two event consumers (tickets joining open
cases; case events to the department's tracker)."""

from __future__ import annotations

import functools

from sqlalchemy.orm import Session

from ombud.advocacy import cases, loop, tracker
from ombud.events.service import NamedConsumer
from ombud.storage.queue import JobQueue, SweepSource


def told(*, session: Session, case_id: int, verify_days: int) -> None:
    loop.check_told(session=session, case_id=case_id, verify_days=verify_days)


def register(queue: JobQueue, *, verify_days: int) -> None:
    """Register the jobs and their sweeps (state lives in the database: ``retry_at``, ``verify_due_at``)."""
    # retries=0: a notice's retries are its own (retry_at, with backoff), not huey's.
    queue.register(loop.NOTICE_JOB, functools.partial(loop.send_notice, verify_days=verify_days), retries=0)
    queue.register_sweep(SweepSource(job=loop.NOTICE_JOB, id_arg="notice_id", find=loop.due_notice_ids))
    queue.register(loop.TOLD_JOB, functools.partial(told, verify_days=verify_days))
    queue.register_sweep(SweepSource(job=loop.TOLD_JOB, id_arg="case_id", find=loop.untold_case_ids))
    queue.register(loop.VERIFY_JOB, functools.partial(loop.verify_case, verify_days=verify_days), retries=0)
    queue.register_sweep(SweepSource(job=loop.VERIFY_JOB, id_arg="case_id", find=loop.due_verify_ids))


def register_consumers(consumers: list[NamedConsumer], *, base_url: str = "") -> None:
    """Tickets join open cases as their concerns are themed; appended after ``webhooks`` so the
    department's endpoint is only given what the subscriptions did not already give it (with the
    issue's link made absolute with ``base_url``)."""
    consumers.append(NamedConsumer("advocacy-cases", cases.on_concern_themed))
    consumers.append(
        NamedConsumer("advocacy-tracker", functools.partial(tracker.deliver_to_department, base_url=base_url))
    )
