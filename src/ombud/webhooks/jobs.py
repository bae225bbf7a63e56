"""The webhook delivery job: one attempt per run, retried with backoff; the sweep finds lost retries."""

from __future__ import annotations

import functools

from sqlalchemy.orm import Session

from ombud.storage.db import Database
from ombud.storage.queue import JobQueue, SweepSource
from ombud.webhooks import service as webhooks


def deliver(
    *, session: Session, database: Database, config: webhooks.WebhookConfig, delivery_id: int
) -> None:
    """Make one attempt at ``delivery_id`` if it is due (idempotent: not due, nothing happens).

    The call is made between two short transactions and inside none: ``session`` (the job's) is first
    used to record the attempt, after the answer came, so no database lock waits on a slow endpoint.
    """
    claimed = webhooks.claim(database=database, delivery_id=delivery_id, config=config)
    if claimed is None:
        return
    outcome = webhooks.send(claimed, config=config)
    webhooks.record(session=session, claimed=claimed, outcome=outcome, config=config)


def register(queue: JobQueue, database: Database, config: webhooks.WebhookConfig) -> None:
    # retries=0: a failed attempt is recorded and retried by our own backoff, not huey's.
    queue.register(
        webhooks.DELIVER_JOB, functools.partial(deliver, database=database, config=config), retries=0
    )
    queue.register_sweep(
        SweepSource(job=webhooks.DELIVER_JOB, id_arg="delivery_id", find=webhooks.due_delivery_ids)
    )
