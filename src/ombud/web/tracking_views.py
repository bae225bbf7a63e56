"""What the ticket page's tracking panels show (concerns; links, merge and split; follow-up reminders) and
the form parsing of their routes. Imports nothing of ombud.web.workspace (which imports the panels)."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.orm import Session

from ombud.accounts import service as accounts
from ombud.accounts.schemas import STAFF_ROLES, Principal
from ombud.errors import InvalidInput
from ombud.tickets import concerns, links, merge, reminders
from ombud.tickets.models import (
    OPEN_CONCERN_STATUSES,
    AuthorType,
    ConcernStatus,
    Message,
    ReminderState,
    Ticket,
)

CONCERN_WORDS = {
    ConcernStatus.open: "Open",
    ConcernStatus.in_progress: "In progress",
    ConcernStatus.resolved: "Resolved",
    ConcernStatus.wont_fix: "Won't fix",
}
LINK_KINDS = {"duplicate_of": "Duplicate of", "related_to": "Related to", "caused_by": "Caused by"}


def _staff(session: Session) -> list[Any]:
    return [u for u in accounts.list_users(session=session) if u.active and u.role in STAFF_ROLES]


def concerns_panel(*, session: Session, principal: Principal, ticket: Ticket) -> dict[str, Any]:
    found = concerns.list_concerns(session=session, principal=principal, ticket=ticket)
    linked = concerns.message_ids(session=session, concern_ids=[c.id for c in found])
    users = _staff(session)
    names = {u.id: u.name for u in users}
    return {
        "concerns": [
            {
                "item": c,
                "owner": names.get(c.owner_id) if c.owner_id else None,
                "messages": linked.get(c.id, []),
                "is_open": c.status in OPEN_CONCERN_STATUSES,
            }
            for c in found
        ],
        "open_count": sum(1 for c in found if c.status in OPEN_CONCERN_STATUSES),
        "statuses": CONCERN_WORDS,
        "users": users,
        "can_change": principal.can_serve,
    }


def links_panel(*, session: Session, principal: Principal, ticket: Ticket) -> dict[str, Any]:
    customer_messages = session.execute(
        select(Message.id, Message.body_text)
        .where(
            Message.ticket_id == ticket.id,
            Message.author_type == AuthorType.customer,
            Message.internal.is_(False),
        )
        .order_by(Message.id)
    ).all()
    merges = merge.list_merges(session=session, principal=principal, ticket=ticket)
    return {
        "links": links.list_links(session=session, principal=principal, ticket=ticket),
        "kinds": LINK_KINDS,
        "merges": [m for m in merges if m.undone_at is None],
        "split_messages": [
            {"id": int(row[0]), "excerpt": " ".join(str(row[1]).split())[:80]} for row in customer_messages
        ]
        if len(customer_messages) > 1
        else [],
        "split_concerns": concerns.list_concerns(session=session, principal=principal, ticket=ticket),
        "can_change": principal.can_serve,
    }


def reminders_panel(*, session: Session, principal: Principal, ticket: Ticket) -> dict[str, Any]:
    users = _staff(session)
    names = {u.id: u.name for u in users}
    found = reminders.list_for_ticket(session=session, principal=principal, ticket=ticket)
    return {
        "reminders": [{"item": r, "user": names.get(r.user_id, f"User {r.user_id}")} for r in found],
        "users": users,
        "me": principal.id,
    }


def followups_context(*, session: Session, principal: Principal) -> dict[str, Any]:
    """The agent's follow-ups page: due ones first, then the scheduled ones, with their tickets."""
    mine = reminders.list_mine(session=session, principal=principal)
    ids = {r.ticket_id for r in mine}
    subjects = (
        {t.id: t.subject for t in session.scalars(select(Ticket).where(Ticket.id.in_(ids)))} if ids else {}
    )
    return {
        state.value: [{"item": r, "subject": subjects.get(r.ticket_id, "")} for r in mine if r.state == state]
        for state in (ReminderState.due, ReminderState.scheduled)
    }


def parse_local_time(value: str, tz: str) -> dt.datetime:
    """A workspace datetime-local value ("2026-12-08T09:30") in the browser's time zone, as an aware time.

    A local time the zone skips (02:30 on the night summer time starts) is refused; one it repeats (the
    night summer time ends) is taken at its first occurrence (``fold=0``, the earlier UTC time)."""
    try:
        zone = ZoneInfo(tz or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(f"unknown time zone {tz!r}", code="invalid_time_zone") from None
    try:
        naive = dt.datetime.fromisoformat(value.strip())
    except ValueError:
        raise InvalidInput(
            "give the date and time as 2026-12-08T09:30", code="invalid_due_at", details={"field": "due_at"}
        ) from None
    if naive.tzinfo is not None:
        return naive
    local = naive.replace(tzinfo=zone, fold=0)
    try:
        back = local.astimezone(dt.UTC).astimezone(zone).replace(tzinfo=None)
    except OverflowError:
        raise InvalidInput(
            f"{naive:%Y-%m-%d %H:%M} is out of range: choose a time between year 1 and 9999",
            code="invalid_due_at",
            details={"field": "due_at"},
        ) from None
    # A time in a gap comes back from UTC with another wall time (02:30 becomes 03:30).
    if back != naive:
        raise InvalidInput(
            f"{naive:%Y-%m-%d %H:%M} does not exist in {zone.key} (the clocks skip it when summer time "
            "starts): choose another time",
            code="invalid_due_at",
            details={"field": "due_at"},
        )
    return local
