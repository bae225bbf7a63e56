"""Merging a ticket into another, undoing it, and splitting a message or a concern into a new ticket.

A merge records exactly what it moved (messages, concerns, the tags it added, the source's status) so
undoing it puts everything back; what reached the target after the merge stays with the target.

Visibility across customers: a source of the *same* customer gives its messages to the target (the
customer sees one conversation). A source of *another* customer (a duplicate report of the same outage)
keeps its messages: each customer only ever sees their own words. Staff see both through the
``merged_into`` link, and the source's concerns and tags are carried over either way.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Table, delete, select, update
from sqlalchemy.orm import Session

from ombud.accounts.schemas import SYSTEM, Principal
from ombud.audit import service as audit
from ombud.errors import Conflict, Forbidden, InvalidInput, NotFound
from ombud.storage.base import utcnow
from ombud.storage.models import metadata
from ombud.storage.queue import defer
from ombud.tickets import service as tickets
from ombud.tickets.models import (
    AuthorType,
    Concern,
    ConcernMessage,
    LinkKind,
    Message,
    Status,
    Ticket,
    TicketLink,
    TicketMerge,
    TicketTag,
)
from ombud.tickets.schemas import MergePublic, TicketUpdate


def _check_serve(actor: Principal) -> None:
    if not actor.can_serve:
        raise Forbidden("your role may not merge or split tickets", code="role_forbidden")


def _message_tables() -> list[Table]:
    """Tables whose rows belong to a message and repeat its ticket (triage, channel ids, calls,
    suggestions, mentions): their ticket_id follows the message when it moves."""
    return [
        table
        for table in metadata.sorted_tables
        if "message_id" in table.c and "ticket_id" in table.c and table.name != "messages"
    ]


def _move_messages(session: Session, message_ids: list[int], to_ticket_id: int) -> None:
    for start in range(0, len(message_ids), 500):
        chunk = message_ids[start : start + 500]
        session.execute(
            update(Message)
            .where(Message.id.in_(chunk))
            .values(ticket_id=to_ticket_id, indexed_at=None)
            .execution_options(synchronize_session=False)
        )
        for table in _message_tables():
            session.execute(update(table).where(table.c.message_id.in_(chunk)).values(ticket_id=to_ticket_id))
    if message_ids:
        # The search index answers "which tickets match": it learns the new ticket from the index job.
        defer(session, tickets.INDEX_JOB, message_id=min(message_ids))


def _move_concerns(session: Session, concern_ids: list[int], to_ticket_id: int) -> None:
    if concern_ids:
        session.execute(
            update(Concern)
            .where(Concern.id.in_(concern_ids))
            .values(ticket_id=to_ticket_id)
            .execution_options(synchronize_session=False)
        )


def merge_tickets(*, session: Session, source: Ticket, target: Ticket, actor: Principal) -> TicketMerge:
    """Merge ``source`` into ``target``; the source is closed with a ``merged_into`` link. Return the
    record of what moved."""
    _check_serve(actor)
    if source.id == target.id:
        raise InvalidInput("a ticket cannot be merged into itself", code="merge_same_ticket")
    # Both rows locked in id order (PostgreSQL): A into B and B into A at once cannot both pass.
    session.scalars(
        select(Ticket)
        .where(Ticket.id.in_(sorted({source.id, target.id})))
        .order_by(Ticket.id)
        .with_for_update()
    ).all()
    for ticket, role in ((source, "source"), (target, "target")):
        if ticket.status == Status.closed:
            raise Conflict(
                f"the {role} ticket {ticket.id} is closed; closed tickets cannot be merged",
                code="ticket_closed",
            )
    same_customer = source.customer_id == target.customer_id
    moved_messages: list[int] = []
    if same_customer:
        moved_messages = [
            int(i) for i in session.scalars(select(Message.id).where(Message.ticket_id == source.id))
        ]
        _move_messages(session, moved_messages, target.id)
    moved_concerns = [
        int(i) for i in session.scalars(select(Concern.id).where(Concern.ticket_id == source.id))
    ]
    _move_concerns(session, moved_concerns, target.id)
    added_tags = sorted(set(source.tag_names) - set(target.tag_names))
    if added_tags:
        target.tags = [*target.tags, *(TicketTag(tag=tag) for tag in added_tags)]
    previous = {
        "status": source.status.value,
        "resolved_at": source.resolved_at.isoformat() if source.resolved_at else None,
    }
    now = utcnow()
    source.status = Status.closed
    source.resolved_at = source.resolved_at or now
    source.updated_at = target.updated_at = now
    link = TicketLink(
        from_ticket_id=source.id,
        to_ticket_id=target.id,
        kind=LinkKind.merged_into,
        created_by_id=actor.id if actor.kind == "user" else None,
        created_at=now,
    )
    session.add(link)
    session.flush()
    merge = TicketMerge(
        source_id=source.id,
        target_id=target.id,
        moved={
            "same_customer": same_customer,
            "messages": moved_messages,
            "concerns": moved_concerns,
            "tags": added_tags,
            "source": previous,
            "link_id": link.id,
        },
        merged_by_id=actor.id if actor.kind == "user" else None,
        created_at=now,
    )
    session.add(merge)
    session.flush()
    # The session may hold moved messages and concerns with their old ticket.
    session.expire_all()
    summary = {
        "merge_id": merge.id,
        "source_id": source.id,
        "target_id": target.id,
        "same_customer": same_customer,
        "messages": len(moved_messages),
        "concerns": len(moved_concerns),
        "tags": added_tags,
    }
    _record_status(session, actor, source, str(previous["status"]), Status.closed.value)
    for ticket in (target, source):
        audit.record(
            session=session,
            actor=actor,
            action="ticket.merged",
            entity_type="ticket",
            entity_id=ticket.id,
            customer_id=ticket.customer_id,
            ticket_id=ticket.id,
            before={"status": previous["status"]} if ticket is source else None,
            after={**summary, **({"status": Status.closed.value} if ticket is source else {})},
        )
    return merge


def undo_merge(*, session: Session, merge: TicketMerge, actor: Principal) -> TicketMerge:
    """Put back what ``merge`` moved (what is still on the target) and reopen the source as it was."""
    _check_serve(actor)
    if merge.undone_at is not None:
        raise Conflict(f"merge {merge.id} was already undone", code="merge_undone")
    source, target = session.get(Ticket, merge.source_id), session.get(Ticket, merge.target_id)
    assert source is not None
    assert target is not None
    later = session.scalar(
        select(TicketMerge.id).where(TicketMerge.source_id == target.id, TicketMerge.undone_at.is_(None))
    )
    if later is not None:
        raise Conflict(
            f"ticket {target.id} was since merged into another ticket (merge {later}); undo that merge first",
            code="target_merged",
        )
    moved: dict[str, Any] = merge.moved
    messages = [
        int(i)
        for i in session.scalars(
            select(Message.id).where(
                Message.id.in_(moved.get("messages", [])), Message.ticket_id == target.id
            )
        )
    ]
    _move_messages(session, messages, source.id)
    concerns = [
        int(i)
        for i in session.scalars(
            select(Concern.id).where(
                Concern.id.in_(moved.get("concerns", [])), Concern.ticket_id == target.id
            )
        )
    ]
    _move_concerns(session, concerns, source.id)
    # A tag the merge added goes, unless the source did not have it either (then someone added it since).
    removed = set(moved.get("tags", []))
    if removed:
        target.tags = [t for t in target.tags if t.tag not in removed]
    previous = moved.get("source", {})
    source.status = Status(previous.get("status", Status.open.value))
    resolved = previous.get("resolved_at")
    source.resolved_at = None if resolved is None else dt.datetime.fromisoformat(resolved)
    now = utcnow()
    source.updated_at = target.updated_at = now
    session.execute(delete(TicketLink).where(TicketLink.id == moved.get("link_id")))
    merge.undone_at = now
    merge.undone_by_id = actor.id if actor.kind == "user" else None
    session.flush()
    session.expire_all()
    summary = {"merge_id": merge.id, "source_id": merge.source_id, "target_id": merge.target_id}
    _record_status(session, actor, source, Status.closed.value, source.status.value)
    for ticket_id, customer_id in (
        (merge.target_id, target.customer_id),
        (merge.source_id, source.customer_id),
    ):
        audit.record(
            session=session,
            actor=actor,
            action="ticket.merge_undone",
            entity_type="ticket",
            entity_id=ticket_id,
            customer_id=customer_id,
            ticket_id=ticket_id,
            before={"status": Status.closed.value} if ticket_id == merge.source_id else None,
            after={**summary, **({"status": previous.get("status")} if ticket_id == merge.source_id else {})},
        )
    return merge


def _record_status(session: Session, actor: Principal, ticket: Ticket, before: str, after: str) -> None:
    """The source's status change as the ``ticket.updated`` every consumer already follows (SLA clocks,
    backlog reports)."""
    if before != after:
        audit.record(
            session=session,
            actor=actor,
            action="ticket.updated",
            entity_type="ticket",
            entity_id=ticket.id,
            customer_id=ticket.customer_id,
            ticket_id=ticket.id,
            before={"status": before},
            after={"status": after},
        )


def access_merge(*, session: Session, principal: Principal, merge_id: int) -> TicketMerge:
    if not principal.is_staff:
        raise Forbidden("your role may not read ticket merges", code="role_forbidden")
    merge = session.get(TicketMerge, merge_id)
    if merge is None:
        raise NotFound(f"no ticket merge with id {merge_id}", code="merge_not_found")
    return merge


def list_merges(*, session: Session, principal: Principal, ticket: Ticket) -> list[TicketMerge]:
    """Return the merges into or out of the ticket, newest first."""
    if not principal.is_staff:
        raise Forbidden("your role may not read ticket merges", code="role_forbidden")
    return list(
        session.scalars(
            select(TicketMerge)
            .where((TicketMerge.source_id == ticket.id) | (TicketMerge.target_id == ticket.id))
            .order_by(TicketMerge.id.desc())
        )
    )


def merge_public(merge: TicketMerge) -> MergePublic:
    moved = merge.moved or {}
    return MergePublic(
        id=merge.id,
        source_id=merge.source_id,
        target_id=merge.target_id,
        same_customer=bool(moved.get("same_customer")),
        moved_messages=len(moved.get("messages", [])),
        moved_concerns=len(moved.get("concerns", [])),
        added_tags=list(moved.get("tags", [])),
        merged_by_id=merge.merged_by_id,
        created_at=merge.created_at,
        undone_at=merge.undone_at,
        undone_by_id=merge.undone_by_id,
    )


# -- split ------------------------------------------------------------------------------------------------
def split_ticket(
    *,
    session: Session,
    ticket: Ticket,
    actor: Principal,
    message_id: int | None = None,
    concern_id: int | None = None,
    subject: str | None = None,
) -> Ticket:
    """Open a new ticket for the same customer from one message (it moves, with the concerns that came
    only from it) or one concern (it moves; the customer messages it came from are quoted as the new
    ticket's messages, and a concern no customer message backs becomes an internal note, never a customer
    message); the new ticket is linked ``split_from`` the old one. Return the new ticket."""
    _check_serve(actor)
    if (message_id is None) == (concern_id is None):
        raise InvalidInput("give either message_id or concern_id", code="split_what")
    if ticket.status == Status.closed:
        raise Conflict(f"ticket {ticket.id} is closed and cannot be split", code="ticket_closed")
    if message_id is not None:
        new = _split_message(
            session=session, ticket=ticket, actor=actor, message_id=message_id, subject=subject
        )
    else:
        assert concern_id is not None
        new = _split_concern(
            session=session, ticket=ticket, actor=actor, concern_id=concern_id, subject=subject
        )
    link = TicketLink(
        from_ticket_id=new.id,
        to_ticket_id=ticket.id,
        kind=LinkKind.split_from,
        created_by_id=actor.id if actor.kind == "user" else None,
    )
    session.add(link)
    ticket.updated_at = utcnow()
    session.flush()
    for changed in (ticket, new):
        audit.record(
            session=session,
            actor=actor,
            action="ticket.split",
            entity_type="ticket",
            entity_id=changed.id,
            customer_id=changed.customer_id,
            ticket_id=changed.id,
            after={
                "from_ticket_id": ticket.id,
                "new_ticket_id": new.id,
                "message_id": message_id,
                "concern_id": concern_id,
            },
        )
    return new


def _split_message(
    *, session: Session, ticket: Ticket, actor: Principal, message_id: int, subject: str | None
) -> Ticket:
    message = session.get(Message, message_id)
    if message is None or message.ticket_id != ticket.id:
        raise InvalidInput(
            f"message {message_id} is not on ticket {ticket.id}",
            code="message_not_on_ticket",
            details={"field": "message_id"},
        )
    if message.internal or message.author_type != AuthorType.customer:
        raise InvalidInput("only a customer's message can be split off", code="split_customer_message")
    count = session.scalar(
        select(Message.id).where(Message.ticket_id == ticket.id, Message.id != message_id).limit(1)
    )
    if count is None:
        raise Conflict(
            f"message {message_id} is the only message of ticket {ticket.id}: nothing would be left",
            code="split_only_message",
        )
    new = tickets.start_ticket(
        session=session,
        customer_id=ticket.customer_id,
        subject=subject or _subject_from(message.body_text),
        channel=ticket.channel,
        ticket_priority=ticket.priority,
        team_id=ticket.team_id,
        actor=actor,
    )
    _move_messages(session, [message_id], new.id)
    # Concerns found only in this message go with it; a concern other messages also raised stays.
    linked = session.execute(
        select(ConcernMessage.concern_id, ConcernMessage.message_id).where(
            ConcernMessage.concern_id.in_(
                select(ConcernMessage.concern_id).where(ConcernMessage.message_id == message_id)
            )
        )
    ).all()
    concern_ids = {int(row[0]) for row in linked}
    shared = {int(row[0]) for row in linked if int(row[1]) != message_id}
    _move_concerns(session, sorted(concern_ids - shared), new.id)
    session.expire(message)
    return new


def _split_concern(
    *, session: Session, ticket: Ticket, actor: Principal, concern_id: int, subject: str | None
) -> Ticket:
    concern = session.get(Concern, concern_id)
    if concern is None or concern.ticket_id != ticket.id:
        raise InvalidInput(
            f"concern {concern_id} is not on ticket {ticket.id}",
            code="concern_not_on_ticket",
            details={"field": "concern_id"},
        )
    # The customer's own messages the concern came from (never another customer's: a merged duplicate
    # carries its concerns over, not its messages).
    quoted = list(
        session.scalars(
            select(Message)
            .join(ConcernMessage, ConcernMessage.message_id == Message.id)
            .where(
                ConcernMessage.concern_id == concern.id,
                Message.author_type == AuthorType.customer,
                Message.internal.is_(False),
                Message.customer_id == ticket.customer_id,
            )
            .order_by(Message.id)
        )
    )
    if quoted:
        # Quoted, not moved: the message may carry other concerns that stay on this ticket.
        first, *rest = quoted
        new, _ = tickets.open_ticket(
            session=session,
            customer_id=ticket.customer_id,
            subject=subject or _subject_from(concern.text),
            channel=ticket.channel,
            body=first.body_text,
            body_html=first.body_html,
            attachments=(),
            channel_meta={"split_from_ticket_id": ticket.id, "quoted_message_id": first.id},
            actor=actor,
            # Already triaged: the concern it came from is what this ticket is about.
            triage=False,
        )
        for message in rest:
            # Copied by ombud (no staff member is the author of a customer's words).
            tickets.add_customer_message(
                session=session,
                ticket=new,
                body=message.body_text,
                body_html=message.body_html,
                attachments=(),
                channel_meta={"split_from_ticket_id": ticket.id, "quoted_message_id": message.id},
                actor=SYSTEM,
                triage=False,
                reopen=False,
            )
        # Recorded as a change (ticket.updated), so routing and SLA clocks see the same ticket staff see.
        tickets.update_ticket(
            session=session,
            ticket=new,
            changes=TicketUpdate(status=Status.open, priority=ticket.priority, team_id=ticket.team_id),
            actor=actor,
        )
    else:
        # Staff wrote the concern (or triage summarised it): it is no message of the customer's, so the new
        # ticket starts without one and the text is an internal note.
        new = tickets.start_ticket(
            session=session,
            customer_id=ticket.customer_id,
            subject=subject or _subject_from(concern.text),
            channel=ticket.channel,
            ticket_priority=ticket.priority,
            team_id=ticket.team_id,
            actor=actor,
        )
        tickets.add_system_note(
            session=session, ticket=new, body=f"Split from ticket #{ticket.id}, concern: {concern.text}"
        )
    concern.ticket_id = new.id
    concern.updated_at = utcnow()
    return new


def _subject_from(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= 120 else line[:117].rstrip() + "..."
