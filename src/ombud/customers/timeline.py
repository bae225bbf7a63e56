"""A customer's timeline: every message and every event, across tickets and channels, newest first."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from ombud.audit import service as audit
from ombud.customers.schemas import TimelineItem, TimelinePage
from ombud.errors import InvalidInput
from ombud.pagination import cursor_id, damaged, decode_cursor, encode_cursor
from ombud.tickets import feeds


def customer_timeline(
    *, session: Session, customer_id: int, include_internal: bool, limit: int = 50, cursor: str | None = None
) -> TimelinePage:
    """Return one page of the timeline; the cursor continues exactly where the page ended.

    Messages and events are two ordered streams merged by (time, kind, id); the cursor holds the last
    key shown, so each stream resumes strictly after it.
    """
    if not 1 <= limit <= 200:
        raise InvalidInput("limit must be between 1 and 200", code="invalid_limit")
    position = None
    if cursor is not None:
        raw = decode_cursor(cursor, required=("at", "kind", "id"))
        if raw["kind"] not in (0, 1) or isinstance(raw["kind"], bool) or not isinstance(raw["at"], str):
            raise damaged()
        try:
            at = dt.datetime.fromisoformat(raw["at"])
            if at.tzinfo is None:
                raise damaged()
            at = at.astimezone(dt.UTC)  # year 1 or 9999 with an offset overflows here
        except (ValueError, OverflowError):
            raise damaged() from None
        position = (at, int(raw["kind"]), cursor_id(raw))

    # kind 1 = message, 0 = event; within one instant a message sorts before the events it caused.
    message_after = _resume(position, kind=1)
    event_after = _resume(position, kind=0)
    messages = feeds.customer_messages(
        session=session,
        customer_id=customer_id,
        before=message_after,
        limit=limit + 1,
        include_internal=include_internal,
    )
    events = audit.list_for_customer(
        session=session,
        customer_id=customer_id,
        before=event_after,
        limit=limit + 1,
        exclude_actions=() if include_internal else ("note.added",),
    )
    merged: list[tuple[tuple[dt.datetime, int, int], TimelineItem]] = []
    for message in messages:
        merged.append(
            (
                (message.created_at, 1, message.id),
                TimelineItem(
                    type="message",
                    id=message.id,
                    at=message.created_at,
                    ticket_id=message.ticket_id,
                    channel=message.channel.value,
                    author_type=message.author_type.value,
                    internal=message.internal,
                    body=message.body_text,
                ),
            )
        )
    for event in events:
        merged.append(
            (
                (event.created_at, 0, event.id),
                TimelineItem(
                    type="event",
                    id=event.id,
                    at=event.created_at,
                    ticket_id=event.ticket_id,
                    action=event.action,
                    actor_type=event.actor_type,
                    actor_id=event.actor_id,
                    before=event.before if include_internal else None,
                    after=event.after if include_internal else None,
                ),
            )
        )
    merged.sort(key=lambda pair: pair[0], reverse=True)
    page = merged[:limit]
    next_cursor = None
    if len(merged) > limit:
        at, kind, item_id = page[-1][0]
        next_cursor = encode_cursor({"at": at.isoformat(), "kind": kind, "id": item_id})
    return TimelinePage(items=[item for _, item in page], next_cursor=next_cursor)


def _resume(position: tuple[dt.datetime, int, int] | None, *, kind: int) -> tuple[dt.datetime, int] | None:
    """Translate the merged cursor into a (time, id) bound for one stream."""
    if position is None:
        return None
    at, last_kind, last_id = position
    if kind < last_kind:
        # This stream sorts after the cursor's kind at the same instant: all of that instant remains.
        return at, 2**63 - 1
    if kind > last_kind:
        # This stream sorts before it at that instant: nothing of that instant remains.
        return at, 0
    return at, last_id
