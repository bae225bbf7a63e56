"""Follow-up reminders: "call back on Tuesday" on a ticket, for one staff member (by default whoever sets
it). When it comes due a sweep finds it (an indexed due time, never a timer in memory), an internal note
is posted on the ticket mentioning the user (so it shows in their @Mentions inbox view with its count),
and it waits, due, until they mark it done, snooze it or cancel it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ombud.accounts import service as accounts
from ombud.accounts.schemas import STAFF_ROLES, SYSTEM, Principal
from ombud.audit import service as audit
from ombud.errors import Conflict, Forbidden, InvalidInput, NotFound
from ombud.storage.base import utcnow
from ombud.tickets import inbox
from ombud.tickets import service as tickets
from ombud.tickets.models import Reminder, ReminderState, Ticket
from ombud.tickets.schemas import ReminderCreate, ReminderSnooze

REMIND_JOB = "tickets.remind"
MAX_AHEAD = dt.timedelta(days=2 * 366)
ACTIVE_STATES = (ReminderState.scheduled, ReminderState.due)


def _check_staff(principal: Principal) -> int:
    if principal.kind != "user" or not principal.is_staff or principal.id is None:
        raise Forbidden("reminders are for staff members", code="role_forbidden")
    return principal.id


def _check_time(value: dt.datetime, field: str = "due_at") -> dt.datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidInput(
            f"{field} needs a time zone (2026-12-08T09:30:00+01:00 or ...Z)",
            code="naive_datetime",
            details={"field": field},
        )
    try:
        value = value.astimezone(dt.UTC)
    except OverflowError:
        # 9999-12-31T23:59:59-14:00 or 0001-01-01T00:00:00+14:00: no such time in UTC.
        raise InvalidInput(
            f"{field} is out of range: give a time between year 1 and 9999 in UTC",
            code="invalid_time",
            details={"field": field},
        ) from None
    if value > utcnow() + MAX_AHEAD:
        raise InvalidInput(
            f"{field} is more than two years ahead", code="invalid_due_at", details={"field": field}
        )
    return value


def _snapshot(reminder: Reminder) -> dict[str, Any]:
    return {
        "user_id": reminder.user_id,
        "due_at": reminder.due_at.isoformat(),
        "state": reminder.state.value,
        "note": reminder.note,
    }


def _record(
    session: Session,
    actor: Principal,
    action: str,
    reminder: Reminder,
    ticket: Ticket,
    *,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    audit.record(
        session=session,
        actor=actor,
        action=action,
        entity_type="reminder",
        entity_id=reminder.id,
        customer_id=ticket.customer_id,
        ticket_id=ticket.id,
        before=before,
        after=after,
    )


def create_reminder(*, session: Session, ticket: Ticket, data: ReminderCreate, actor: Principal) -> Reminder:
    """Set a reminder on ``ticket``; emits ``reminder.created``. A time already past comes due at the next
    sweep (within a minute)."""
    me = _check_staff(actor)
    user_id = data.user_id or me
    user = accounts.access_user(session=session, user_id=user_id)
    if not user.active or user.role not in STAFF_ROLES:
        raise InvalidInput(
            f"user {user_id} cannot be reminded: choose an active staff member",
            code="invalid_reminder_user",
            details={"field": "user_id"},
        )
    now = utcnow()
    reminder = Reminder(
        ticket_id=ticket.id,
        user_id=user_id,
        created_by_id=me,
        due_at=_check_time(data.due_at),
        note=data.note,
        state=ReminderState.scheduled,
        created_at=now,
        updated_at=now,
    )
    session.add(reminder)
    session.flush()
    _record(session, actor, "reminder.created", reminder, ticket, after=_snapshot(reminder))
    return reminder


def list_for_ticket(*, session: Session, principal: Principal, ticket: Ticket) -> Sequence[Reminder]:
    """The ticket's reminders, soonest first (done and cancelled ones last)."""
    _check_staff(principal)
    return session.scalars(
        select(Reminder)
        .where(Reminder.ticket_id == ticket.id)
        .order_by(Reminder.state.in_(ACTIVE_STATES).desc(), Reminder.due_at, Reminder.id)
    ).all()


def list_mine(
    *,
    session: Session,
    principal: Principal,
    states: Sequence[ReminderState] = ACTIVE_STATES,
    limit: int = 200,
) -> Sequence[Reminder]:
    """The caller's reminders in ``states``, soonest first."""
    me = _check_staff(principal)
    return session.scalars(
        select(Reminder)
        .where(Reminder.user_id == me, Reminder.state.in_(states))
        .order_by(Reminder.due_at, Reminder.id)
        .limit(limit)
    ).all()


def count_due(*, session: Session, user_id: int) -> int:
    """How many of the user's reminders have come due and wait for them."""
    return int(
        session.scalar(
            select(func.count(Reminder.id)).where(
                Reminder.user_id == user_id, Reminder.state == ReminderState.due
            )
        )
        or 0
    )


def access_reminder(*, session: Session, principal: Principal, reminder_id: int) -> Reminder:
    """Return the reminder: any staff member may read it; its user, its creator, leads and admins change
    it."""
    _check_staff(principal)
    reminder = session.get(Reminder, reminder_id)
    if reminder is None:
        raise NotFound(f"no reminder with id {reminder_id}", code="reminder_not_found")
    return reminder


def _check_change(principal: Principal, reminder: Reminder) -> None:
    me = _check_staff(principal)
    if me not in (reminder.user_id, reminder.created_by_id) and principal.role not in ("admin", "lead"):
        raise Forbidden(
            "only the reminder's owner, its creator, a lead or an admin may change it", code="not_yours"
        )


def _finish(
    session: Session, principal: Principal, reminder: Reminder, state: ReminderState, action: str
) -> Reminder:
    _check_change(principal, reminder)
    if reminder.state not in ACTIVE_STATES:
        raise Conflict(f"reminder {reminder.id} is already {reminder.state.value}", code="reminder_finished")
    before = _snapshot(reminder)
    reminder.state = state
    reminder.updated_at = utcnow()
    session.flush()
    ticket = session.get(Ticket, reminder.ticket_id)
    assert ticket is not None
    _record(session, principal, action, reminder, ticket, before=before, after=_snapshot(reminder))
    return reminder


def mark_done(*, session: Session, principal: Principal, reminder: Reminder) -> Reminder:
    """Mark the reminder done (the call was made); emits ``reminder.done``."""
    return _finish(session, principal, reminder, ReminderState.done, "reminder.done")


def cancel(*, session: Session, principal: Principal, reminder: Reminder) -> Reminder:
    """Cancel the reminder; emits ``reminder.cancelled``."""
    return _finish(session, principal, reminder, ReminderState.cancelled, "reminder.cancelled")


def snooze(*, session: Session, principal: Principal, reminder: Reminder, data: ReminderSnooze) -> Reminder:
    """Move the reminder to a later time (it is scheduled again); emits ``reminder.snoozed``."""
    _check_change(principal, reminder)
    if reminder.state not in ACTIVE_STATES:
        raise Conflict(f"reminder {reminder.id} is already {reminder.state.value}", code="reminder_finished")
    if (data.due_at is None) == (data.minutes is None):
        raise InvalidInput("give either due_at or minutes", code="snooze_when")
    due = (
        _check_time(data.due_at)
        if data.due_at is not None
        else utcnow() + dt.timedelta(minutes=data.minutes or 0)
    )
    if due <= utcnow():
        raise InvalidInput(
            "snooze to a time in the future", code="invalid_due_at", details={"field": "due_at"}
        )
    before = _snapshot(reminder)
    reminder.due_at = due
    reminder.state = ReminderState.scheduled
    reminder.updated_at = utcnow()
    session.flush()
    ticket = session.get(Ticket, reminder.ticket_id)
    assert ticket is not None
    _record(
        session, principal, "reminder.snoozed", reminder, ticket, before=before, after=_snapshot(reminder)
    )
    return reminder


# -- coming due -------------------------------------------------------------------------------------------
def due_ids(*, session: Session, limit: int) -> Sequence[int]:
    """Ids of scheduled reminders whose time has come, oldest first (for the sweep)."""
    return [
        int(i)
        for i in session.scalars(
            select(Reminder.id)
            .where(Reminder.state == ReminderState.scheduled, Reminder.due_at <= utcnow())
            .order_by(Reminder.due_at)
            .limit(limit)
        )
    ]


def come_due(*, session: Session, reminder_id: int) -> bool:
    """Post the reminder's note on its ticket, mentioning its user, and mark it due; return whether it
    did. Idempotent: a reminder that is not scheduled, or not due yet (snoozed meanwhile), is left alone."""
    query = select(Reminder).where(Reminder.id == reminder_id)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    reminder = session.scalar(query)
    if reminder is None or reminder.state != ReminderState.scheduled or reminder.due_at > utcnow():
        return False
    ticket = session.get(Ticket, reminder.ticket_id)
    user = accounts.access_user(session=session, user_id=reminder.user_id)
    assert ticket is not None
    body = f"Follow-up reminder for @{inbox.mention_handle(user.email)}"
    body += f": {reminder.note}" if reminder.note else "."
    message = tickets.add_system_note(session=session, ticket=ticket, body=body)
    before = _snapshot(reminder)
    reminder.state = ReminderState.due
    reminder.message_id = message.id
    reminder.updated_at = utcnow()
    session.flush()
    _record(session, SYSTEM, "reminder.due", reminder, ticket, before=before, after=_snapshot(reminder))
    return True
