"""Reply-check records: every public reply an agent sent, checked after it was sent with the production
reply check (ombud.assist), kept as the evidence for goals such as "fewer jargon findings".

The ``people-checks`` consumer asks for the check when a ``message.added`` event of a user arrives; the
check itself runs in a job (it may embed text, which must not happen in the dispatcher's transaction).
What still needs doing lives in the database: an agent's public reply of the last WINDOW without a record
is pending, and the sweep finds it, so a lost job is recovered.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import exists, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ombud.accounts.models import User
from ombud.accounts.schemas import SYSTEM, Principal
from ombud.assist import service as assist
from ombud.assist.check import check_reply
from ombud.assist.schemas import ReplyContext
from ombud.errors import OmbudError
from ombud.events.service import EventRecord
from ombud.people.access import SERVING_ROLES
from ombud.people.models import ReplyCheckRecord
from ombud.storage.base import utcnow
from ombud.storage.db import Database, race_savepoint
from ombud.storage.queue import JobQueue, SweepSource, defer
from ombud.tickets.models import AuthorType, Message, Ticket

log = logging.getLogger(__name__)

CHECK_JOB = "people.check_reply"
CONSUMER_NAME = "people-checks"
# Older replies are not checked again by the sweep: the goals look at the last 30 days and their baseline.
WINDOW = dt.timedelta(days=30)


def on_event(*, session: Session, event: EventRecord) -> None:
    """The ``people-checks`` consumer: a user's new public message is checked by a job after commit."""
    if event.kind == "message.added" and event.actor_type == "user" and event.entity_type == "message":
        defer(session, CHECK_JOB, message_id=event.entity_id)


def _is_agent_reply(message: Message) -> bool:
    return (
        message.author_type is AuthorType.agent
        and not message.internal
        and message.author_user_id is not None
    )


def pending_reply_ids(*, session: Session, limit: int) -> Sequence[int]:
    """Return agents' public replies of the last WINDOW that have no reply-check record, oldest first."""
    query = (
        select(Message.id)
        .where(
            Message.author_type == AuthorType.agent,
            Message.internal.is_(False),
            Message.author_user_id.is_not(None),
            Message.created_at >= utcnow() - WINDOW,
            ~exists().where(ReplyCheckRecord.message_id == Message.id),
        )
        .order_by(Message.id)
        .limit(limit)
    )
    return [int(i) for i in session.scalars(query).all()]


def _checker(user: User | None) -> Principal:
    """The reply is checked as its author would have seen the check (their name for the sign-off), or as
    the system when the author can no longer serve."""
    if user is not None and user.active and user.role in SERVING_ROLES:
        return Principal(kind="user", id=user.id, role=user.role)
    return SYSTEM


def _context_before(session: Session, message: Message, context: ReplyContext) -> ReplyContext:
    """The context as it stood when the reply was sent: the conversation up to it, not the reply itself
    (whose own order numbers would otherwise vouch for themselves) nor what came after."""
    ticket = session.get(Ticket, message.ticket_id)
    earlier = session.execute(
        select(Message.author_type, Message.body_text)
        .where(Message.ticket_id == message.ticket_id, Message.internal.is_(False), Message.id < message.id)
        .order_by(Message.id)
    ).all()
    subject = ticket.subject if ticket is not None else ""
    return context.model_copy(
        update={
            "conversation": "\n\n".join([subject, *(body for _, body in earlier)]),
            "customer_text": "\n\n".join(
                [subject, *(body for kind, body in earlier if kind is AuthorType.customer)]
            ),
        }
    )


def _context(session: Session, message: Message, user: User | None) -> ReplyContext:
    """The reply's context as its author would have had it, or as the system sees it when the author can
    no longer see the ticket (moved to another team), or, failing both, the bare conversation."""
    for principal in dict.fromkeys((_checker(user), SYSTEM)):
        try:
            context = assist.reply_context(session=session, principal=principal, ticket_id=message.ticket_id)
        except OmbudError as error:
            log.info("reply check of message %s as %s: %s", message.id, principal.kind, error)
            continue
        if user is not None and not context.agent_name:
            context.agent_name = user.name
        return context
    return ReplyContext(ticket_id=message.ticket_id, agent_name=user.name if user is not None else "")


@dataclass(frozen=True)
class Prepared:
    message_id: int
    user_id: int
    ticket_id: int
    findings: list[str]
    grade: float | None
    words: int
    sent_at: dt.datetime


def prepare(*, session: Session, message_id: int) -> Prepared | None:
    """Run the reply check on agent reply ``message_id`` (reads only); None when it is no agent's public
    reply or already has its record."""
    if session.get(ReplyCheckRecord, message_id) is not None:
        return None
    message = session.get(Message, message_id)
    if message is None or not _is_agent_reply(message) or message.author_user_id is None:
        return None
    user = session.get(User, message.author_user_id)
    result = check_reply(
        message.body_text,
        _context_before(session, message, _context(session, message, user)),
        glossary=assist.list_glossary(session=session, principal=SYSTEM),
        voice=assist.list_voice(session=session, principal=SYSTEM),
    )
    return Prepared(
        message_id=message.id,
        user_id=message.author_user_id,
        ticket_id=message.ticket_id,
        findings=[f.code for f in result.findings],
        grade=result.grade,
        words=result.words,
        sent_at=message.created_at,
    )


def save(*, session: Session, prepared: Prepared) -> ReplyCheckRecord:
    """Store the prepared check (idempotent: a record already there stands)."""
    found = session.get(ReplyCheckRecord, prepared.message_id)
    if found is not None:
        return found
    record = ReplyCheckRecord(
        message_id=prepared.message_id,
        user_id=prepared.user_id,
        ticket_id=prepared.ticket_id,
        findings=prepared.findings,
        grade=prepared.grade,
        words=prepared.words,
        created_at=prepared.sent_at,
    )
    try:
        with race_savepoint(session):
            session.add(record)
            session.flush()
    except IntegrityError:
        # A second job (the sweep's) checked the same reply at the same time: theirs stands.
        found = session.get(ReplyCheckRecord, prepared.message_id)
        assert found is not None
        return found
    return record


def record_check(*, session: Session, message_id: int) -> ReplyCheckRecord | None:
    """Check agent reply ``message_id`` and store its record in ``session``; return the record (None: not an
    agent's public reply). Idempotent."""
    prepared = prepare(session=session, message_id=message_id)
    if prepared is None:
        return session.get(ReplyCheckRecord, message_id)
    return save(session=session, prepared=prepared)


def check_reply_job(*, session: Session, database: Database, message_id: int) -> None:
    """The ``people.check_reply`` job: check with no write lock held (the check may embed text), then
    write the record briefly."""
    with database.session(write=False) as reader:
        prepared = prepare(session=reader, message_id=message_id)
    if prepared is not None:
        save(session=session, prepared=prepared)


def register(queue: JobQueue, *, database: Database) -> None:
    """Register the check job and the sweep that finds replies still unchecked."""
    queue.register(
        CHECK_JOB, functools.partial(check_reply_job, database=database), retries=3, retry_delay=30
    )
    queue.register_sweep(SweepSource(job=CHECK_JOB, id_arg="message_id", find=pending_reply_ids))
