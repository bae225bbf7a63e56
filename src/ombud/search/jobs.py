"""Background work of the search index."""

from __future__ import annotations

from sqlalchemy.orm import Session

from ombud.search import service as search
from ombud.storage.base import utcnow
from ombud.storage.queue import JobQueue, SweepSource, defer
from ombud.tickets import feeds
from ombud.tickets import service as tickets

INDEX_MESSAGE = tickets.INDEX_JOB
BATCH = 200


def index_message(*, session: Session, message_id: int) -> None:
    """Index ``message_id`` and, in the same transaction, up to BATCH other messages still waiting.

    Under a burst of new messages one job indexes the backlog in one commit, and a job whose message is
    already done finds nothing waiting. A full batch continues in a new job. Idempotent.
    """
    rows = feeds.unindexed_for_search(session=session, first_id=message_id, limit=BATCH)
    for row in rows:
        search.write_entry(
            session=session,
            message_id=row.id,
            ticket_id=row.ticket_id,
            internal=row.internal,
            subject=row.subject,
            body=row.body_text,
        )
    feeds.mark_indexed(session=session, message_ids=[row.id for row in rows], at=utcnow())
    if len(rows) == BATCH:
        # More may wait: continue in a fresh transaction (short ones keep SQLite's writer free).
        defer(session, INDEX_MESSAGE, message_id=rows[-1].id)


def register(queue: JobQueue) -> None:
    # A message should be findable within seconds: ahead of the slower background work, like triage.
    queue.register(INDEX_MESSAGE, index_message, coalesce=True, priority=2)
    queue.register_sweep(
        SweepSource(job=INDEX_MESSAGE, id_arg="message_id", find=feeds.unindexed_message_ids)
    )
