"""Background work of reports and satisfaction: sending due surveys (with retries and backoff), and the
two event consumers (``reports`` keeps the aggregates, ``surveys`` schedules surveys after a solve)."""

from __future__ import annotations

import email.policy as email_policy
import functools
import logging

from sqlalchemy.orm import Session

from ombud.channels.email.service import EmailConfig
from ombud.channels.registry import Channels, Outbound, TryLater, Undeliverable
from ombud.events.service import NamedConsumer
from ombud.reports import service as reports
from ombud.storage.db import Database
from ombud.storage.queue import JobQueue, SweepSource, defer_in
from ombud.tickets import surveys

log = logging.getLogger(__name__)


def send_survey(
    *,
    session: Session,
    database: Database,
    channels: Channels,
    email: EmailConfig,
    base_url: str,
    survey_id: int,
) -> None:
    """Send the due survey ``survey_id`` (or record why not). Idempotent: a survey already sent, or not
    due yet, is left alone. The email goes out with no database lock held; the outcome is written after."""
    with database.session(write=False) as reader:
        plan = surveys.plan_send(
            session=reader, survey_id=survey_id, base_url=base_url, sender=(email.display_name, email.address)
        )
    if plan is None:
        return
    error, retry = "", False
    if plan.email is not None:
        adapter = channels.for_ticket_channel("email")
        try:
            if adapter is None or not email.relay_host:
                raise Undeliverable("no SMTP relay is configured: set OMBUD_SMTP_RELAY to host:port")
            # CRLF line ends (SMTP policy): smtplib sends bytes as they are, and relays refuse bare LFs.
            payload = plan.email.as_bytes(policy=email_policy.SMTP)
            adapter.send(Outbound(message_id=0, recipient=plan.recipient, ref=None, payload=payload))
        except Undeliverable as exc:
            error = str(exc) or type(exc).__name__
        except TryLater as exc:
            error, retry = str(exc) or type(exc).__name__, True
    wait = surveys.record_send(session=session, plan=plan, error=error, retry=retry)
    if wait is not None:
        log.info("survey %s could not be sent (%s); retrying in %s", survey_id, error, wait)
        defer_in(session, surveys.SEND_JOB, wait, survey_id=survey_id)


def register(
    queue: JobQueue,
    consumers: list[NamedConsumer],
    *,
    database: Database,
    channels: Channels,
    email: EmailConfig,
    base_url: str,
) -> None:
    queue.register(
        surveys.SEND_JOB,
        functools.partial(send_survey, database=database, channels=channels, email=email, base_url=base_url),
        # Retries are scheduled by the job itself with backoff and recorded in the database.
        retries=0,
    )
    queue.register_sweep(SweepSource(job=surveys.SEND_JOB, id_arg="survey_id", find=surveys.due_survey_ids))
    consumers.append(NamedConsumer("surveys", surveys.on_event))


def register_reports_consumer(consumers: list[NamedConsumer]) -> None:
    """Append the ``reports`` consumer: after every other workflow consumer (it counts what they decided),
    and before outbound webhooks, which are appended after it."""
    consumers.append(NamedConsumer("reports", reports.on_event))
