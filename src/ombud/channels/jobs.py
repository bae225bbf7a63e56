"""Background delivery of agents' public replies on the ticket's channel, with retries and backoff."""

from __future__ import annotations

import functools
import logging

from sqlalchemy.orm import Session

from ombud.channels import service as channels_service
from ombud.channels.registry import Channels
from ombud.storage.base import utcnow
from ombud.storage.db import Database
from ombud.storage.queue import JobQueue, SweepSource, defer_in
from ombud.tickets import feeds
from ombud.tickets.service import DELIVER_JOB

log = logging.getLogger(__name__)


def deliver_message(*, session: Session, channels: Channels, database: Database, message_id: int) -> None:
    """Send the reply ``message_id`` out, or schedule its next attempt. Idempotent: a reply already
    delivered, or not due yet, is left alone.

    The send happens with no database lock held (the network can take seconds); the outcome is written
    after. A crash between the two sends the reply again on the next attempt, with the same Message-ID,
    so the customer's mail client shows it once.
    """
    now = utcnow()
    with database.session(write=False) as reader:
        plan = channels_service.plan_delivery(
            session=reader, channels=channels, message_id=message_id, now=now
        )
    if plan is None:
        return
    state, error = channels_service.send_planned(channels=channels, plan=plan)
    if feeds.reply_to_deliver(session=session, message_id=message_id) is None:
        return  # another worker finished it meanwhile
    retry_in = channels_service.record_delivery(
        session=session, plan=plan, state=state, error=error, now=utcnow()
    )
    if retry_in is not None:
        log.info("delivery of message %s failed (%s); retrying in %s", message_id, error, retry_in)
        defer_in(session, DELIVER_JOB, retry_in, message_id=message_id)


def register(queue: JobQueue, channels: Channels, database: Database) -> None:
    queue.register(
        DELIVER_JOB,
        functools.partial(deliver_message, channels=channels, database=database),
        # Retries are scheduled by the job itself with backoff and recorded in the database.
        retries=0,
        # Someone is waiting for this reply (in a chat, right now): ahead of triage and indexing.
        priority=10,
    )
    queue.register_sweep(
        SweepSource(job=DELIVER_JOB, id_arg="message_id", find=feeds.undelivered_message_ids)
    )
