"""Links between tickets: duplicate of, related to, caused by (set by agents), merged into and split from
(set by merges and splits). Each is stored once, from one ticket to the other, and shown on both.

"Related to" has no direction, so A related to B and B related to A are the same link. Staff only:
customers and partners never see links (the other ticket may be another customer's).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from ombud.accounts.schemas import Principal
from ombud.audit import service as audit
from ombud.errors import Conflict, Forbidden, InvalidInput, NotFound
from ombud.tickets import service as tickets
from ombud.tickets.models import LinkKind, Ticket, TicketLink
from ombud.tickets.schemas import LinkPublic

# How a link reads from each end: (from the "from" ticket, from the "to" ticket).
LABELS = {
    LinkKind.duplicate_of: ("Duplicate of", "Has duplicate"),
    LinkKind.related_to: ("Related to", "Related to"),
    LinkKind.caused_by: ("Caused by", "Caused"),
    LinkKind.merged_into: ("Merged into", "Merged from"),
    LinkKind.split_from: ("Split from", "Split into"),
}
# Only merges and splits make these: removing one by hand would lie about what happened.
SYSTEM_KINDS = frozenset({LinkKind.merged_into, LinkKind.split_from})


def _check_read(principal: Principal) -> None:
    if not principal.is_staff:
        raise Forbidden("ticket links are internal; your role may not read them", code="role_forbidden")


def _check_write(principal: Principal) -> None:
    if not principal.can_serve:
        raise Forbidden("your role may not link tickets", code="role_forbidden")


def list_links(*, session: Session, principal: Principal, ticket: Ticket) -> list[LinkPublic]:
    """Return every link of the ticket, either way, as it reads from this ticket; oldest first."""
    _check_read(principal)
    rows: Sequence[TicketLink] = session.scalars(
        select(TicketLink)
        .where((TicketLink.from_ticket_id == ticket.id) | (TicketLink.to_ticket_id == ticket.id))
        .order_by(TicketLink.id)
    ).all()
    others = {row.to_ticket_id if row.from_ticket_id == ticket.id else row.from_ticket_id for row in rows}
    found = {t.id: t for t in session.scalars(select(Ticket).where(Ticket.id.in_(others)))} if others else {}
    public = []
    for row in rows:
        outgoing = row.from_ticket_id == ticket.id
        other = found[row.to_ticket_id if outgoing else row.from_ticket_id]
        public.append(
            LinkPublic(
                id=row.id,
                kind=row.kind,
                direction="outgoing" if outgoing else "incoming",
                label=LABELS[row.kind][0 if outgoing else 1],
                ticket_id=other.id,
                subject=other.subject,
                status=other.status,
                created_by_id=row.created_by_id,
                created_at=row.created_at,
            )
        )
    return public


def link_tickets(
    *, session: Session, principal: Principal, ticket: Ticket, other_id: int, kind: LinkKind
) -> TicketLink:
    """Link ``ticket`` to ticket ``other_id`` ("ticket is <kind> other"); emits ``ticket.linked`` on both."""
    _check_write(principal)
    if kind in SYSTEM_KINDS:
        raise InvalidInput(
            f"{kind.value} links are made by merging or splitting tickets", code="invalid_link_kind"
        )
    if other_id == ticket.id:
        raise InvalidInput("a ticket cannot be linked to itself", code="link_self")
    try:
        other = tickets.access_ticket(session=session, principal=principal, ticket_id=other_id)
    except NotFound:
        raise InvalidInput(
            f"no ticket with id {other_id} to link to",
            code="link_target_not_found",
            details={"field": "ticket_id"},
        ) from None
    pairs = [(ticket.id, other.id)]
    if kind == LinkKind.related_to:
        pairs.append((other.id, ticket.id))
    for from_id, to_id in pairs:
        existing = session.scalar(
            select(TicketLink.id).where(
                TicketLink.from_ticket_id == from_id,
                TicketLink.to_ticket_id == to_id,
                TicketLink.kind == kind,
            )
        )
        if existing is not None:
            raise Conflict(
                f"ticket {ticket.id} is already linked to ticket {other.id} as {kind.value} "
                f"(link {existing})",
                code="link_exists",
            )
    if kind != LinkKind.related_to:
        # A duplicate of B while B is a duplicate of A (or caused by each other) says nothing.
        reverse = session.scalar(
            select(TicketLink.id).where(
                TicketLink.from_ticket_id == other.id,
                TicketLink.to_ticket_id == ticket.id,
                TicketLink.kind == kind,
            )
        )
        if reverse is not None:
            raise Conflict(
                f"ticket {other.id} is already {kind.value} ticket {ticket.id}; remove that link first",
                code="link_reversed",
            )
    link = TicketLink(
        from_ticket_id=ticket.id,
        to_ticket_id=other.id,
        kind=kind,
        created_by_id=principal.id if principal.kind == "user" else None,
    )
    session.add(link)
    session.flush()
    _record(session, principal, "ticket.linked", link, ticket=ticket, other=other)
    return link


def unlink(*, session: Session, principal: Principal, ticket: Ticket, link_id: int) -> None:
    """Remove one of the ticket's links; emits ``ticket.unlinked`` on both tickets."""
    _check_write(principal)
    link = session.get(TicketLink, link_id)
    if link is None or ticket.id not in (link.from_ticket_id, link.to_ticket_id):
        raise NotFound(f"ticket {ticket.id} has no link with id {link_id}", code="link_not_found")
    if link.kind in SYSTEM_KINDS:
        raise Conflict(
            f"a {link.kind.value} link goes with its merge or split; undo the merge instead",
            code="link_managed",
        )
    other = session.get(
        Ticket, link.to_ticket_id if link.from_ticket_id == ticket.id else link.from_ticket_id
    )
    assert other is not None
    _record(session, principal, "ticket.unlinked", link, ticket=ticket, other=other)
    session.delete(link)
    session.flush()


def _record(
    session: Session, principal: Principal, action: str, link: TicketLink, *, ticket: Ticket, other: Ticket
) -> None:
    detail = {
        "link_id": link.id,
        "kind": link.kind.value,
        "from_ticket_id": link.from_ticket_id,
        "to_ticket_id": link.to_ticket_id,
    }
    for each in (ticket, other):
        audit.record(
            session=session,
            actor=principal,
            action=action,
            entity_type="ticket_link",
            entity_id=link.id,
            customer_id=each.customer_id,
            ticket_id=each.id,
            after=detail,
        )
