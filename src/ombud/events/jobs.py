"""The dispatch job: hands committed events to the workflow consumers."""

from __future__ import annotations

import functools
from collections.abc import Sequence

from sqlalchemy.orm import Session

from ombud.events import service as events
from ombud.storage.queue import JobQueue, SweepSource, defer

BATCH = 200


def dispatch(*, session: Session, consumers: Sequence[events.NamedConsumer], event_id: int = 0) -> None:
    """Dispatch up to BATCH waiting events (``event_id`` only names the job for the sweep); a full batch
    continues in a fresh transaction. Idempotent: dispatched events are never handed out again."""
    if events.dispatch(session=session, consumers=consumers, limit=BATCH) == BATCH:
        defer(session, events.DISPATCH_JOB, event_id=0)


def retry(*, session: Session, consumers: Sequence[events.NamedConsumer], event_id: int) -> None:
    """Try event ``event_id`` again with the consumers that failed on it (when due). Idempotent."""
    events.retry(session=session, consumers=consumers, event_id=event_id)


def register(queue: JobQueue, consumers: Sequence[events.NamedConsumer]) -> None:
    """Register the dispatcher of ``consumers`` (the runtime's list, read at each dispatch)."""
    queue.register(
        events.DISPATCH_JOB, functools.partial(dispatch, consumers=consumers), coalesce=True, priority=5
    )
    queue.register_sweep(
        SweepSource(job=events.DISPATCH_JOB, id_arg="event_id", find=events.undispatched_ids)
    )
    queue.register(events.RETRY_JOB, functools.partial(retry, consumers=consumers))
    queue.register_sweep(SweepSource(job=events.RETRY_JOB, id_arg="event_id", find=events.retry_due_ids))
