"""Background work of the search index."""

from __future__ import annotations

from sqlalchemy.orm import Session

from ombud.search import service as search
from ombud.storage.base import utcnow
from ombud.storage.queue import JobQueue, SweepSource
from ombud.tickets import service as tickets

INDEX_MESSAGE = tickets.INDEX_JOB


def index_message(*, session: Session, message_id: int) -> None:
    """Write the message's index entry and mark it indexed; a no-op if that is already done."""
    found = tickets.message_for_index(session=session, message_id=message_id)
    if found is None:
        search.remove_entry(session=session, message_id=message_id)
        return
    message, subject = found
    if message.indexed_at is not None:
        return
    search.write_entry(
        session=session,
        message_id=message.id,
        ticket_id=message.ticket_id,
        internal=message.internal,
        subject=subject,
        body=message.body_text,
    )
    message.indexed_at = utcnow()


def register(queue: JobQueue) -> None:
    queue.register(INDEX_MESSAGE, index_message)
    queue.register_sweep(
        SweepSource(job=INDEX_MESSAGE, id_arg="message_id", find=tickets.unindexed_message_ids)
    )
