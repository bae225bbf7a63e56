"""Background triage of every customer message, whatever channel it came through."""

from __future__ import annotations

import functools

from sqlalchemy.orm import Session

from ombud.storage.db import Database
from ombud.storage.queue import JobQueue, SweepSource, defer
from ombud.tickets import concerns, feeds
from ombud.tickets import service as tickets
from ombud.triage import service as triage
from ombud.triage.engine import Triage

TRIAGE_MESSAGE = tickets.TRIAGE_JOB
BATCH = 64


def triage_message(*, session: Session, engine: Triage, database: Database, message_id: int) -> None:
    """Triage ``message_id`` and up to BATCH other waiting messages in one pipeline call. A full batch
    continues in a new job. Idempotent: a message another worker stored meanwhile is skipped."""
    # Read and run the models holding no lock (SQLite has one writer; on PostgreSQL a row lock held
    # through inference would make the search index job skip those messages), then write briefly.
    with database.session(write=False) as reader:
        prepared = triage.prepare_batch(session=reader, engine=engine, first_id=message_id, limit=BATCH)
    if triage.save_batch(session=session, prepared=prepared) and any(not p.quiet for p in prepared):
        defer(session, tickets.SUGGEST_JOB, message_id=message_id)
    for item in prepared:
        if item.quiet and item.result is not None:
            # Imported history publishes no event: its concerns are tracked here, quietly, and themed
            # by the advocacy sweep.
            concerns.track_message(session=session, message_id=item.message_id, quiet=True)
    if len(prepared) == BATCH:
        defer(session, TRIAGE_MESSAGE, message_id=message_id)


def register(queue: JobQueue, engine: Triage, database: Database) -> None:
    queue.register(
        TRIAGE_MESSAGE,
        functools.partial(triage_message, engine=engine, database=database),
        coalesce=True,
        # Routing, SLA policies and the agent's view wait for triage: ahead of reviews, reply checks,
        # suggestions and themes (which, under a load, had filled the queue ahead of it for minutes).
        priority=2,
    )
    queue.register_sweep(
        SweepSource(job=TRIAGE_MESSAGE, id_arg="message_id", find=feeds.untriaged_message_ids)
    )
