"""Work orders: made from a ticket's concern, dispatched to a partner, visited, completed and rated.

The ticket stays open while the work order runs: it is moved to ``open`` if it was in a status that pauses
its SLA (or solved), so the resolution clock keeps running across the hand-off, and it gets an internal
note and the tag ``work-order``. ``due_at`` is the ticket's running resolution target (:mod:`ombud.sla`),
or, without one, the creation time plus ``DEFAULT_DUE`` for the kind.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from ombud.accounts.models import User
from ombud.accounts.schemas import SYSTEM, Principal
from ombud.customers import service as customers
from ombud.errors import Conflict, Forbidden, InvalidInput, NotFound
from ombud.pagination import cursor_id, decode_cursor, encode_cursor
from ombud.partners import access, core, dispatch, notices, photos, scheduling
from ombud.partners.models import (
    Partner,
    Technician,
    WorkOrder,
    WorkOrderKind,
    WorkOrderStatus,
    WorkOrderUpdate,
)
from ombud.partners.schemas import (
    PartUsed,
    VisitView,
    WorkOrderCreate,
    WorkOrderCustomerView,
    WorkOrderPage,
    WorkOrderPublic,
)
from ombud.people import shield
from ombud.sla import clocks as sla
from ombud.storage.base import utcnow
from ombud.tickets import service as tickets
from ombud.tickets.models import Concern, Status, Ticket
from ombud.tickets.schemas import TicketUpdate

S = WorkOrderStatus
TAG = "work-order"
DEFAULT_DUE = {
    WorkOrderKind.repair: dt.timedelta(days=3),
    WorkOrderKind.install: dt.timedelta(days=7),
    WorkOrderKind.inspection: dt.timedelta(days=5),
    WorkOrderKind.replacement_delivery: dt.timedelta(days=2),
}
# Staff may set these through set_status; the others have their own actions (accept, confirm_slot...).
STATUS_ACTIONS = (S.en_route, S.on_site, S.completed, S.closed, S.cancelled)
free_slots = scheduling.free_slots
photos_of = photos.photos_of
photo_of = photos.photo_of
add_photo = photos.add_photo
decode_photo = photos.decode_photo
MAX_PHOTO_BYTES = photos.MAX_PHOTO_BYTES
PHOTO_TYPES = photos.PHOTO_TYPES
offer_slots = scheduling.offer_slots
confirm_slot = scheduling.confirm_slot


# -- reading -------------------------------------------------------------------------------------------------
def access_work_order(*, session: Session, principal: Principal, work_order_id: int) -> WorkOrder:
    found = session.get(WorkOrder, work_order_id)
    return access.check_work_order(
        session=session, principal=principal, work_order=found, work_order_id=work_order_id
    )


def list_work_orders(
    *,
    session: Session,
    principal: Principal,
    status: WorkOrderStatus | None = None,
    partner_id: int | None = None,
    ticket_id: int | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> WorkOrderPage:
    """Newest first; staff see all, a partner user only their partner's (other filters still apply)."""
    access.check_partner_or_staff(principal)
    if not 1 <= limit <= 200:
        raise InvalidInput("limit must be between 1 and 200", code="invalid_limit")
    query = select(WorkOrder).order_by(WorkOrder.id.desc()).limit(limit + 1)
    if not principal.is_staff:
        query = query.where(
            WorkOrder.partner_id == access.own_partner_id(session=session, principal=principal)
        )
    if status is not None:
        query = query.where(WorkOrder.status == status)
    if partner_id is not None:
        query = query.where(WorkOrder.partner_id == partner_id)
    if ticket_id is not None:
        query = query.where(WorkOrder.ticket_id == ticket_id)
    if cursor is not None:
        query = query.where(WorkOrder.id < cursor_id(decode_cursor(cursor, required=("id",))))
    rows = list(session.scalars(query).all())
    more = len(rows) > limit
    rows = rows[:limit]
    return WorkOrderPage(
        items=[public_view(principal=principal, work_order=r) for r in rows],
        next_cursor=encode_cursor({"id": rows[-1].id}) if more and rows else None,
    )


def without_insults(text: str) -> str:
    """``text`` without abuse cues and insults (:func:`ombud.people.shield.scrub`), or as written when there
    were none (the scrub also trims edge punctuation, which a clean text keeps)."""
    cleaned = shield.scrub(text)
    return text.strip() if _letters(cleaned) == _letters(text) else cleaned


def _letters(text: str) -> str:
    return "".join(ch for ch in text.lower() if ch.isalnum())


def public_view(*, principal: Principal, work_order: WorkOrder) -> WorkOrderPublic:
    """The whole record for staff; a partner gets it without what is not theirs: which other companies
    declined, the dispatch reasoning, and the customer's rating comment with any insults taken out."""
    view = WorkOrderPublic.model_validate(work_order)
    if principal.is_staff:
        return view
    return view.model_copy(
        update={
            "declined_by": [],
            "dispatch_reason": "",
            "rating_comment": without_insults(view.rating_comment),
        }
    )


def check_can_plan(*, session: Session, principal: Principal, work_order_id: int) -> WorkOrder:
    """Staff and the work order's partner see the technician's calendar; customers do not."""
    found = access_work_order(session=session, principal=principal, work_order_id=work_order_id)
    if principal.is_customer:
        raise NotFound(f"no work order with id {work_order_id}", code="work_order_not_found")
    return found


def for_ticket(*, session: Session, principal: Principal, ticket_id: int) -> list[WorkOrder]:
    """The ticket's work orders, for staff and for the ticket's own customer (partners never see tickets)."""
    tickets.access_ticket(session=session, principal=principal, ticket_id=ticket_id)
    return list(
        session.scalars(select(WorkOrder).where(WorkOrder.ticket_id == ticket_id).order_by(WorkOrder.id))
    )


def customer_view(*, session: Session, work_order: WorkOrder) -> WorkOrderCustomerView:
    partner = session.get(Partner, work_order.partner_id) if work_order.partner_id else None
    return WorkOrderCustomerView(
        id=work_order.id,
        ticket_id=work_order.ticket_id,
        kind=work_order.kind,
        status=work_order.status,
        summary=work_order.summary,
        offered_slots=scheduling.offered_slots(work_order),
        slot_start=work_order.slot_start,
        slot_end=work_order.slot_end,
        outcome=work_order.outcome,
        rating=work_order.rating,
        rating_comment=work_order.rating_comment,
        technician_first_name=scheduling.first_name(session, work_order.technician_id),
        partner_name=partner.name if partner else None,
    )


def visit_view(*, session: Session, principal: Principal, work_order_id: int) -> VisitView:
    """What a partner may see for the visit: the work order and the customer details the visit needs."""
    work_order = access_work_order(session=session, principal=principal, work_order_id=work_order_id)
    if principal.is_customer:
        raise NotFound(f"no work order with id {work_order_id}", code="work_order_not_found")
    names = customers.names_of(session=session, customer_ids=[work_order.customer_id])
    concern = session.get(Concern, work_order.concern_id) if work_order.concern_id else None
    partner = session.get(Partner, work_order.partner_id) if work_order.partner_id else None
    technician = session.get(User, work_order.technician_id) if work_order.technician_id else None
    return VisitView(
        work_order=public_view(principal=principal, work_order=work_order),
        customer_name=names.get(work_order.customer_id, ""),
        contact_phone=work_order.contact_phone,
        address=work_order.address,
        postcode=work_order.postcode,
        region=work_order.region,
        # A concern may quote an abusive message: the partner reads what is needed, not the insults.
        concern_summary=without_insults(concern.text) if concern else work_order.summary,
        partner_name=partner.name if partner else None,
        technician_name=technician.name if technician else None,
    )


def updates_of(*, session: Session, principal: Principal, work_order_id: int) -> list[WorkOrderUpdate]:
    """Every update, oldest first; a customer gets only those they were told about; a partner the creation
    and what happened from the last offer (to them) on, never another company's decline and its reason."""
    access_work_order(session=session, principal=principal, work_order_id=work_order_id)
    query = select(WorkOrderUpdate).where(WorkOrderUpdate.work_order_id == work_order_id)
    if principal.is_customer:
        query = query.where(WorkOrderUpdate.customer_told.is_(True))
    rows = list(session.scalars(query.order_by(WorkOrderUpdate.id)))
    if principal.is_staff or principal.is_customer:
        return rows
    offers = [i for i, u in enumerate(rows) if u.status_to == S.offered.value]
    cut = offers[-1] if offers else 0
    return [_for_partner(u) for i, u in enumerate(rows) if i >= cut or u.kind == "created"]


def _for_partner(update: WorkOrderUpdate) -> WorkOrderUpdate:
    """A rating quotes the customer: a detached copy with the insults taken out (the row stays as it is)."""
    if update.kind != "rating":
        return update
    score, _, comment = update.body.partition(": ")
    return WorkOrderUpdate(
        id=update.id,
        work_order_id=update.work_order_id,
        author_user_id=update.author_user_id,
        kind=update.kind,
        status_from=update.status_from,
        status_to=update.status_to,
        body=f"{score}: {without_insults(comment)}" if comment else score,
        customer_told=update.customer_told,
        created_at=update.created_at,
    )


# -- creating ------------------------------------------------------------------------------------------------
def due_for(*, session: Session, ticket: Ticket, kind: WorkOrderKind, now: dt.datetime) -> dt.datetime:
    """The ticket's running resolution target if its SLA has one, else now + the kind's default."""
    for clock in sla.ticket_sla(session=session, ticket=ticket, now=now).clocks:
        if clock.metric.value == "resolution" and clock.due_at is not None and clock.achieved_at is None:
            return clock.due_at
    return now + DEFAULT_DUE[kind]


def create_work_order(
    *, session: Session, actor: Principal, ticket_id: int, data: WorkOrderCreate
) -> WorkOrder:
    """Make a work order from the ticket's concern and dispatch it at once (it waits as ``new`` with the
    reason when no partner fits)."""
    access.check_server(actor)
    ticket = tickets.access_ticket(session=session, principal=actor, ticket_id=ticket_id)
    if ticket.status == Status.closed:
        raise Conflict(f"ticket {ticket_id} is closed", code="ticket_closed")
    if data.concern_id is not None:
        concern = session.get(Concern, data.concern_id)
        if concern is None or concern.ticket_id != ticket.id:
            raise NotFound(f"ticket {ticket_id} has no concern {data.concern_id}", code="concern_not_found")
    repeat_of = None
    if data.repeat_of_id is not None:
        repeat_of = session.get(WorkOrder, data.repeat_of_id)
        if repeat_of is None or repeat_of.ticket_id != ticket.id:
            raise NotFound(
                f"ticket {ticket_id} has no work order {data.repeat_of_id}", code="work_order_not_found"
            )
    now = utcnow()
    known = ticket_customer_details(session=session, customer_id=ticket.customer_id)
    phones = customers.identity_values(session=session, customer_id=ticket.customer_id, kind="phone")
    # The partner reads the summary; it is often a concern's words, which may quote an abusive message.
    summary = without_insults(data.summary) or f"{data.kind.value.replace('_', ' ').capitalize()} visit"
    work_order = WorkOrder(
        ticket_id=ticket.id,
        customer_id=ticket.customer_id,
        concern_id=data.concern_id
        if data.concern_id is not None
        else (repeat_of.concern_id if repeat_of else None),
        kind=data.kind,
        status=S.new,
        skill=(data.skill or data.kind.value).lower(),
        summary=summary,
        address=data.address if data.address is not None else known.get("address", ""),
        postcode=data.postcode if data.postcode is not None else known.get("postcode", ""),
        region=data.region if data.region is not None else known.get("region", ""),
        contact_phone=data.contact_phone
        if data.contact_phone is not None
        else (phones[0] if phones else None),
        repeat_of_id=repeat_of.id if repeat_of else None,
        created_by_id=actor.id if actor.kind == "user" else None,
        created_at=now,
        updated_at=now,
        declined_by=[],
        offered_slots=[],
        parts_used=[],
    )
    session.add(work_order)
    session.flush()
    _keep_ticket_running(session=session, actor=actor, ticket=ticket)
    # The clocks as they stand with the ticket running again (a pending ticket's clock was paused).
    sla.refresh_ticket(session=session, ticket_id=ticket.id, now=now)
    work_order.due_at = due_for(session=session, ticket=ticket, kind=data.kind, now=now)
    _note_on_ticket(session=session, ticket=ticket, work_order=work_order)
    core.record(
        session=session,
        actor=actor,
        work_order=work_order,
        kind="created",
        body=summary,
        details={
            "kind": data.kind.value,
            "due_at": work_order.due_at.isoformat() if work_order.due_at else None,
        },
    )
    dispatch.dispatch(session=session, work_order=work_order, actor=actor)
    return work_order


def ticket_customer_details(*, session: Session, customer_id: int) -> dict[str, str]:
    """Address, postcode and region from the customer's preferences, where the record has them."""
    customer = customers.access_customer(session=session, principal=SYSTEM, customer_id=customer_id)
    prefs = customer.preferences or {}
    return {
        key: str(prefs[key]) for key in ("address", "postcode", "region") if isinstance(prefs.get(key), str)
    }


def _keep_ticket_running(*, session: Session, actor: Principal, ticket: Ticket) -> None:
    """The SLA continues across the hand-off: a ticket in a pausing status (pending, on hold) or solved
    goes back to open, and it gets the tag."""
    changes: dict[str, object] = {}
    if ticket.status not in (Status.new, Status.open):
        changes["status"] = Status.open
    if TAG not in ticket.tag_names:
        changes["tags"] = [*ticket.tag_names, TAG]
    if changes:
        tickets.update_ticket(
            session=session, ticket=ticket, changes=TicketUpdate.model_validate(changes), actor=actor
        )


def _note_on_ticket(*, session: Session, ticket: Ticket, work_order: WorkOrder) -> None:
    due = work_order.due_at.isoformat(timespec="minutes") if work_order.due_at else "none"
    tickets.add_system_note(
        session=session,
        ticket=ticket,
        body=f"Work order #{work_order.id} ({work_order.kind.value}, skill {work_order.skill}) created; "
        f"due {due}.",
    )


# -- the partner's answer ------------------------------------------------------------------------------------
def accept(
    *, session: Session, actor: Principal, work_order_id: int, technician_id: int | None = None
) -> WorkOrder:
    """The partner takes the offered work order with one of its technicians (default: the caller, or for
    staff acting for the partner the best fitting technician)."""
    work_order = core.lock(session=session, principal=actor, work_order_id=work_order_id)
    core.check_actor(session=session, actor=actor, work_order=work_order)
    core.check_move(work_order, S.accepted)
    assert work_order.partner_id is not None
    if technician_id is None:
        if access.is_partner(actor):
            technician_id = actor.id
        else:
            fits, _ = dispatch.candidates(session=session, work_order=work_order)
            mine = [f for f in fits if f.partner.id == work_order.partner_id]
            if mine:
                technician_id = mine[0].technician.user_id
            else:
                first = next(iter(_technicians(session, work_order.partner_id)), None)
                technician_id = first.user_id if first else None
    technician = session.get(Technician, technician_id) if technician_id else None
    if technician is None or technician.partner_id != work_order.partner_id or not technician.active:
        raise InvalidInput("choose an active technician of the partner", code="invalid_technician")
    work_order.technician_id = technician.user_id
    work_order.accepted_at = utcnow()
    core.move(
        session=session,
        actor=actor,
        work_order=work_order,
        to=S.accepted,
        body=f"accepted for technician #{technician.user_id}"
        + ("" if access.is_partner(actor) else " by staff"),
        details={"technician_id": technician.user_id, "by_staff": not access.is_partner(actor)},
    )
    return work_order


def _technicians(session: Session, partner_id: int) -> Sequence[Technician]:
    return session.scalars(
        select(Technician)
        .where(Technician.partner_id == partner_id, Technician.active.is_(True))
        .order_by(Technician.user_id)
    ).all()


def decline(*, session: Session, actor: Principal, work_order_id: int, reason: str) -> WorkOrder:
    """The partner declines: never offered to them again; dispatched to the next fit (or waits)."""
    work_order = core.lock(session=session, principal=actor, work_order_id=work_order_id)
    core.check_actor(session=session, actor=actor, work_order=work_order)
    if work_order.status != S.offered:
        raise Conflict(
            f"work order {work_order.id} is {work_order.status.value}; only an offered one can be declined",
            code="invalid_transition",
        )
    if not reason.strip():
        raise InvalidInput("say why you decline", code="reason_required")
    partner_id = work_order.partner_id
    assert partner_id is not None
    work_order.declined_by = sorted({*(work_order.declined_by or []), partner_id})
    core.record(
        session=session,
        actor=actor,
        work_order=work_order,
        kind="decline",
        body=reason.strip(),
        details={"declined_partner_id": partner_id},
    )
    dispatch.dispatch(session=session, work_order=work_order, actor=actor)
    return work_order


# -- the visit -----------------------------------------------------------------------------------------------
def set_status(
    *,
    session: Session,
    actor: Principal,
    work_order_id: int,
    status: WorkOrderStatus,
    note: str = "",
    outcome: str | None = None,
) -> WorkOrder:
    """Move the visit on: en route, on site, completed (with the outcome), closed, cancelled."""
    if status == S.closed:
        return close(session=session, actor=actor, work_order_id=work_order_id, reason=note)
    if status == S.cancelled:
        return cancel(session=session, actor=actor, work_order_id=work_order_id, reason=note)
    if status not in STATUS_ACTIONS:
        raise InvalidInput(
            f"{status.value} has its own action (accept, decline, slots, confirm)", code="status_needs_action"
        )
    work_order = core.lock(session=session, principal=actor, work_order_id=work_order_id)
    core.check_actor(session=session, actor=actor, work_order=work_order)
    core.check_move(work_order, status)
    now = utcnow()
    told = False
    if status == S.en_route:
        name = scheduling.first_name(session, work_order.technician_id)
        told = notices.tell(
            session=session,
            ticket_id=work_order.ticket_id,
            key="en_route",
            values={"technician": name} if name else {},
        )
    elif status == S.on_site:
        work_order.arrived_at = now
    elif status == S.completed:
        if outcome not in ("fixed", "not_fixed"):
            raise InvalidInput("say whether it is fixed: outcome fixed or not_fixed", code="outcome_required")
        work_order.outcome = outcome
        work_order.completed_at = now
        key = "completed_fixed" if outcome == "fixed" else "completed_not_fixed"
        told = notices.tell(
            session=session, ticket_id=work_order.ticket_id, key=key, values={"note": note.strip()}
        )
    core.move(
        session=session,
        actor=actor,
        work_order=work_order,
        to=status,
        body=note.strip() or (f"outcome: {outcome}" if outcome else ""),
        customer_told=told,
        details={"outcome": outcome} if outcome else None,
    )
    return work_order


def repeat_visit(*, session: Session, actor: Principal, work_order_id: int, summary: str = "") -> WorkOrder:
    """A follow-up visit for a completed visit that did not fix it (``repeat_of_id``), dispatched anew."""
    work_order = access_work_order(session=session, principal=actor, work_order_id=work_order_id)
    access.check_server(actor)
    if work_order.status not in (S.completed, S.closed) or work_order.outcome != "not_fixed":
        raise Conflict(
            "only a completed visit that did not fix it gets a repeat visit", code="invalid_transition"
        )
    data = WorkOrderCreate(
        kind=work_order.kind,
        skill=work_order.skill,
        summary=summary.strip() or f"Repeat visit: {work_order.summary}"[:5000],
        concern_id=work_order.concern_id,
        address=work_order.address,
        postcode=work_order.postcode,
        region=work_order.region,
        contact_phone=work_order.contact_phone,
        repeat_of_id=work_order.id,
    )
    return create_work_order(session=session, actor=actor, ticket_id=work_order.ticket_id, data=data)


def add_note(*, session: Session, actor: Principal, work_order_id: int, body: str) -> WorkOrderUpdate:
    """A visit note: internal (partner and staff), never told to the customer."""
    work_order = core.lock(session=session, principal=actor, work_order_id=work_order_id)
    core.check_actor(session=session, actor=actor, work_order=work_order)
    core.check_not_finished(work_order)
    if not body.strip():
        raise InvalidInput("the note is empty", code="empty_note")
    return core.record(session=session, actor=actor, work_order=work_order, kind="note", body=body.strip())


def add_parts(
    *, session: Session, actor: Principal, work_order_id: int, parts: Sequence[PartUsed]
) -> WorkOrder:
    work_order = core.lock(session=session, principal=actor, work_order_id=work_order_id)
    core.check_actor(session=session, actor=actor, work_order=work_order)
    core.check_not_finished(work_order)
    if not parts:
        raise InvalidInput("list at least one part", code="invalid_parts")
    added = [{"part": p.part, "quantity": p.quantity} for p in parts]
    work_order.parts_used = [*(work_order.parts_used or []), *added]
    core.record(
        session=session,
        actor=actor,
        work_order=work_order,
        kind="parts",
        body=", ".join(f"{p['quantity']} \u00d7 {p['part']}" for p in added),
    )
    return work_order


# -- the end -------------------------------------------------------------------------------------------------
def close(*, session: Session, actor: Principal, work_order_id: int, reason: str = "") -> WorkOrder:
    """Close a completed visit (the partner or staff)."""
    work_order = core.lock(session=session, principal=actor, work_order_id=work_order_id)
    core.check_actor(session=session, actor=actor, work_order=work_order)
    core.check_move(work_order, S.closed)
    work_order.closed_at = utcnow()
    core.move(session=session, actor=actor, work_order=work_order, to=S.closed, body=reason.strip())
    return work_order


def cancel(*, session: Session, actor: Principal, work_order_id: int, reason: str) -> WorkOrder:
    """Staff cancel an open work order; the customer is told when a visit was offered or booked."""
    work_order = core.lock(session=session, principal=actor, work_order_id=work_order_id)
    if not actor.can_serve:
        raise Forbidden("only agents, leads and admins cancel work orders", code="role_forbidden")
    core.check_move(work_order, S.cancelled)
    if not reason.strip():
        raise InvalidInput("say why it is cancelled", code="reason_required")
    told = False
    if work_order.status in (S.scheduled, S.en_route, S.on_site) or work_order.offered_slots:
        told = notices.tell(
            session=session,
            ticket_id=work_order.ticket_id,
            key="cancelled",
            values={"summary": work_order.summary, "note": reason.strip()},
        )
    work_order.closed_at = utcnow()
    core.move(
        session=session,
        actor=actor,
        work_order=work_order,
        to=S.cancelled,
        body=reason.strip(),
        customer_told=told,
    )
    return work_order


def rate_visit(
    *, session: Session, actor: Principal, work_order_id: int, score: int, comment: str = ""
) -> WorkOrder:
    """The ticket's customer rates the completed visit 1..5, once."""
    work_order = core.lock(session=session, principal=actor, work_order_id=work_order_id)
    if not actor.is_customer:
        raise Forbidden("only the customer rates the visit", code="role_forbidden")
    if work_order.status not in (S.completed, S.closed):
        raise Conflict("the visit is not completed yet", code="visit_not_completed")
    if work_order.rating is not None:
        raise Conflict("the visit is rated already", code="already_rated")
    if not 1 <= score <= 5:
        raise InvalidInput("rate from 1 to 5", code="invalid_rating")
    work_order.rating = score
    work_order.rating_comment = comment.strip()[:5000]
    core.record(
        session=session,
        actor=actor,
        work_order=work_order,
        kind="rating",
        body=f"{score}/5" + (f": {work_order.rating_comment}" if work_order.rating_comment else ""),
        details={"rating": score},
    )
    return work_order
