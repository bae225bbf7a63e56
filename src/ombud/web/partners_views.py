"""What the partner network's pages show, gathered from ``ombud.partners``: the partner portal's lists and
visit page, the workspace's work order pages, the ticket panel and the customer portal's appointments.

No routes here: the ticket page's panel list imports this module, so it must not import
ombud.web.workspace. Times are shown in the technician's time zone, named beside them.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.orm import Session

from ombud.accounts import service as accounts
from ombud.accounts.schemas import Principal
from ombud.errors import InvalidInput
from ombud.partners import feedback, scheduling, work_orders
from ombud.partners import service as partners
from ombud.partners.models import WorkOrderKind, WorkOrderStatus
from ombud.people import shield
from ombud.storage.base import utcnow
from ombud.tickets import concerns
from ombud.tickets.models import Ticket

STATUS_WORDS = {
    WorkOrderStatus.new: "Waiting for a partner",
    WorkOrderStatus.offered: "Offered",
    WorkOrderStatus.accepted: "Accepted",
    WorkOrderStatus.scheduled: "Scheduled",
    WorkOrderStatus.en_route: "On the way",
    WorkOrderStatus.on_site: "On site",
    WorkOrderStatus.completed: "Completed",
    WorkOrderStatus.closed: "Closed",
    WorkOrderStatus.cancelled: "Cancelled",
}
KIND_WORDS = {
    WorkOrderKind.install: "Installation",
    WorkOrderKind.repair: "Repair",
    WorkOrderKind.inspection: "Inspection",
    WorkOrderKind.replacement_delivery: "Replacement delivery",
}
OPEN = frozenset(
    {
        WorkOrderStatus.new,
        WorkOrderStatus.offered,
        WorkOrderStatus.accepted,
        WorkOrderStatus.scheduled,
        WorkOrderStatus.en_route,
        WorkOrderStatus.on_site,
    }
)
UPDATE_WORDS = {
    "status": "Status",
    "note": "Visit note",
    "parts": "Parts used",
    "photo": "Photo",
    "schedule": "Appointment",
    "dispatch": "Dispatch",
    "rating": "Customer's rating",
}
RECENT_DAYS = 14


def zone(name: str | None) -> dt.tzinfo:
    try:
        return ZoneInfo(name) if name else dt.UTC
    except (ZoneInfoNotFoundError, ValueError):
        return dt.UTC


def when(moment: dt.datetime | None, tz: str | None = None) -> str:
    """A moment for people in ``tz`` (a technician's zone), the zone named: "Mon 07 Dec 2026, 09:00 UTC"."""
    if moment is None:
        return "—"
    local = moment.astimezone(zone(tz))
    return local.strftime("%a %d %b %Y, %H:%M ") + (local.tzname() or "UTC")


def window(start: dt.datetime | None, end: dt.datetime | None, tz: str | None = None) -> str:
    """An appointment window: "Mon 07 Dec 2026, 09:00-11:00 CET (Europe/Berlin)" (with an en dash)."""
    if start is None:
        return "not set yet"
    first = start.astimezone(zone(tz))
    text = first.strftime("%a %d %b %Y, %H:%M")
    if end is not None:
        text += "\u2013" + end.astimezone(zone(tz)).strftime("%H:%M")
    label = first.tzname() or "UTC"
    if tz and tz not in (label, "UTC"):
        label += f" ({tz})"
    return f"{text} {label}"


def is_late(order: Any, now: dt.datetime | None = None) -> bool:
    """Whether an open work order is past its due time (the SLA carried over from the ticket)."""
    due = order.due_at
    return bool(due is not None and order.status in OPEN and due < (now or utcnow()))


def user_names(*, session: Session) -> dict[int, str]:
    return {u.id: u.name for u in accounts.list_users(session=session)}


def feedback_context(*, session: Session, principal: Principal, feedback_id: int) -> dict[str, Any]:
    """A feedback request's page (its partner's and staff's): the request, its replies, who wrote them."""
    return {
        "item": feedback.access_feedback(session=session, principal=principal, feedback_id=feedback_id),
        "replies": feedback.replies_of(session=session, principal=principal, feedback_id=feedback_id),
        "names": user_names(session=session),
    }


def first_name(name: str | None) -> str | None:
    return name.split()[0] if name and name.split() else None


def timezones(*, session: Session, partner_id: int | None) -> dict[int, str]:
    """The time zone of each of a partner's technicians, by user id."""
    if partner_id is None:
        return {}
    return {t.user_id: t.timezone for t in partners.technicians_of(session=session, partner_id=partner_id)}


def zone_of(order: Any, zones: dict[int, str], fallback: str | None = None) -> str | None:
    return zones.get(order.technician_id or 0) or fallback


def parse_parts(parts: list[str], quantities: list[str]) -> list[dict[str, Any]]:
    """The filled rows of the parts form as [{"part", "quantity"}]; raise naming a bad quantity."""
    rows = []
    for index, part in enumerate(parts):
        name = part.strip()
        if not name:
            continue
        raw = quantities[index].strip() if index < len(quantities) else ""
        if raw and not (raw.isascii() and raw.isdigit() and len(raw) <= 5 and 1 <= int(raw) <= 10000):
            raise InvalidInput(f"quantity of {name!r}: a whole number from 1 to 10000", code="invalid_input")
        rows.append({"part": name, "quantity": int(raw) if raw else 1})
    if not rows:
        raise InvalidInput("name at least one part", code="invalid_input")
    return rows


def parse_local(value: str, tz: str | None) -> dt.datetime:
    """A ``datetime-local`` form value read in the technician's zone, as UTC."""
    try:
        naive = dt.datetime.fromisoformat(value.strip())
    except ValueError:
        raise InvalidInput("give the date and time as YYYY-MM-DDTHH:MM", code="invalid_input") from None
    if naive.tzinfo is None:
        naive = naive.replace(tzinfo=zone(tz))
    return naive.astimezone(dt.UTC)


def parse_instant(value: str) -> dt.datetime:
    """An ISO moment echoed by a slot button (always with its offset), as UTC."""
    try:
        moment = dt.datetime.fromisoformat(value.strip())
    except ValueError:
        raise InvalidInput("that is not a time this page offered", code="invalid_input") from None
    if moment.tzinfo is None:
        raise InvalidInput("that is not a time this page offered", code="invalid_input")
    return moment.astimezone(dt.UTC)


# -- the partner portal ------------------------------------------------------------------------------------
def partner_home(*, session: Session, principal: Principal, partner_id: int) -> dict[str, Any]:
    """The partner's work orders in the groups a technician works through, with their counts."""
    found = work_orders.list_work_orders(session=session, principal=principal, limit=200).items
    since = utcnow() - dt.timedelta(days=RECENT_DAYS)
    far = dt.datetime.max.replace(tzinfo=dt.UTC)
    groups: dict[str, list[Any]] = {"offered": [], "upcoming": [], "in_progress": [], "completed": []}
    for order in found:
        if order.status is WorkOrderStatus.offered:
            groups["offered"].append(order)
        elif order.status in (WorkOrderStatus.accepted, WorkOrderStatus.scheduled):
            groups["upcoming"].append(order)
        elif order.status in (WorkOrderStatus.en_route, WorkOrderStatus.on_site):
            groups["in_progress"].append(order)
        elif order.status in (WorkOrderStatus.completed, WorkOrderStatus.closed) and (
            (order.completed_at or order.updated_at) >= since
        ):
            groups["completed"].append(order)
    groups["upcoming"].sort(key=lambda o: (o.slot_start or far, o.id))
    groups["completed"].sort(key=lambda o: o.completed_at or o.updated_at, reverse=True)
    zones = timezones(session=session, partner_id=partner_id)
    return {
        "groups": groups,
        "counts": {name: len(items) for name, items in groups.items()},
        "zones": zones,
        "technicians": partners.list_technicians(session=session, principal=principal, partner_id=partner_id),
        "names": user_names(session=session),
    }


def visit_context(*, session: Session, principal: Principal, work_order_id: int) -> dict[str, Any]:
    """Everything the visit page shows: only what the partner may see (``VisitView``), its history and
    photos, the partner's technicians and, once accepted, the next free slots."""
    visit = work_orders.visit_view(session=session, principal=principal, work_order_id=work_order_id)
    order = visit.work_order
    zones = timezones(session=session, partner_id=order.partner_id)
    mine = zones.get(principal.id or 0)
    tz = zone_of(order, zones, mine)
    slots = []
    if order.status in (WorkOrderStatus.accepted, WorkOrderStatus.scheduled):
        slots = work_orders.free_slots(session=session, work_order_id=order.id)
    return {
        "visit": visit,
        "order": order,
        "tz": tz or "UTC",
        "overdue": is_late(order),
        "updates": since_offered(
            work_orders.updates_of(session=session, principal=principal, work_order_id=order.id)
        ),
        "photos": work_orders.photos_of(session=session, principal=principal, work_order_id=order.id),
        "technicians": partners.list_technicians(
            session=session, principal=principal, partner_id=order.partner_id
        )
        if order.partner_id is not None
        else [],
        "free_slots": slots,
        "names": user_names(session=session),
    }


def since_offered(updates: list[Any]) -> list[Any]:
    """The updates from the last offer to a partner on: what happened while it was offered to another
    company (their decline and its reason) is not this partner's to read."""
    offers = [i for i, u in enumerate(updates) if u.status_to == WorkOrderStatus.offered.value]
    return updates[offers[-1] :] if offers else updates


# -- the ticket panel and the workspace --------------------------------------------------------------------
def panel(*, session: Session, principal: Principal, ticket: Ticket) -> dict[str, Any]:
    """The ticket's work orders and what the "Create a work order" form is prefilled with."""
    if not principal.is_staff:
        return {"orders": [], "concerns": [], "can_create": False}
    orders = work_orders.for_ticket(session=session, principal=principal, ticket_id=ticket.id)
    partner_names = {p.id: p.name for p in partners.list_partners(session=session, principal=principal)}
    return {
        "orders": orders,
        "slots": {o.id: scheduling.offered_slots(o) for o in orders},
        # Without insults: a concern may quote an abusive message, and its text can become a partner's
        # work order summary.
        "concerns": [
            {"id": c.id, "text": shield.scrub(c.text)}
            for c in concerns.list_concerns(session=session, principal=principal, ticket=ticket)
        ],
        "partner_names": partner_names,
        "names": user_names(session=session),
        "kinds": KIND_WORDS,
        "can_create": principal.can_serve,
        "open": OPEN,
    }


def percent(rate: float | None) -> str:
    """A rate 0..1 for people ("83 %"), or a dash when there is nothing to count yet."""
    return "—" if rate is None else f"{round(rate * 100)} %"
