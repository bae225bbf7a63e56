"""Appointments: free 2-hour slots from the technician's calendar, offering them to the customer,
confirming one, and the reminder the day before.

Free slots come from the technician's working hours in their time zone, cut into 2-hour windows from the
start of each span, minus time off and visits already booked, on days with visits booked below the
capacity per day, starting at least ``LEAD_TIME`` from now.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from ombud.accounts.models import User
from ombud.accounts.schemas import SYSTEM, Principal
from ombud.errors import Conflict, Forbidden, InvalidInput, NotFound
from ombud.partners import access, core, notices
from ombud.partners.dispatch import booked_per_day
from ombud.partners.models import Technician, TechnicianTimeOff, WorkOrder, WorkOrderStatus
from ombud.partners.schemas import Slot
from ombud.storage.base import utcnow
from ombud.storage.queue import defer_in

WINDOW = dt.timedelta(hours=2)
LEAD_TIME = dt.timedelta(hours=2)
REMIND_BEFORE = dt.timedelta(hours=24)
REMIND_JOB = "partners.remind"
MAX_DAYS = 60


def _technician(session: Session, work_order: WorkOrder) -> Technician:
    technician = session.get(Technician, work_order.technician_id) if work_order.technician_id else None
    if technician is None:
        raise Conflict(
            f"work order {work_order.id} has no technician yet; the partner accepts it first",
            code="no_technician",
        )
    return technician


def _overlaps(start: dt.datetime, end: dt.datetime, spans: Sequence[tuple[dt.datetime, dt.datetime]]) -> bool:
    return any(s < end and start < e for s, e in spans)


def calendar_slots(
    *,
    session: Session,
    technician: Technician,
    days: int = 14,
    limit: int = 6,
    now: dt.datetime | None = None,
    exclude_work_order_id: int | None = None,
) -> list[Slot]:
    """Return up to ``limit`` free 2-hour windows of the technician over the next ``days`` days."""
    if not 1 <= days <= MAX_DAYS:
        raise InvalidInput(f"days must be between 1 and {MAX_DAYS}", code="invalid_days")
    if not 1 <= limit <= 50:
        raise InvalidInput("limit must be between 1 and 50", code="invalid_limit")
    now = now or utcnow()
    earliest = now + LEAD_TIME
    zone = ZoneInfo(technician.timezone)
    horizon = now + dt.timedelta(days=days)
    off = [
        (o.starts_at, o.ends_at)
        for o in session.scalars(
            select(TechnicianTimeOff).where(
                TechnicianTimeOff.user_id == technician.user_id, TechnicianTimeOff.ends_at > now
            )
        )
    ]
    booked_query = select(WorkOrder.slot_start, WorkOrder.slot_end).where(
        WorkOrder.technician_id == technician.user_id,
        WorkOrder.status.in_(core.BOOKED),
        WorkOrder.slot_end > now,
    )
    if exclude_work_order_id is not None:
        booked_query = booked_query.where(WorkOrder.id != exclude_work_order_id)
    booked = [(s, e) for s, e in session.execute(booked_query).all() if s is not None and e is not None]
    per_day = booked_per_day(session=session, technician=technician, since=now)
    found: list[Slot] = []
    today = now.astimezone(zone).date()
    for offset in range(days + 1):
        day = today + dt.timedelta(days=offset)
        if per_day.get(day, 0) >= technician.capacity_per_day:
            continue
        for span in (technician.working_hours or {}).get(core.WEEKDAYS[day.weekday()], []):
            span_start = dt.datetime.combine(day, dt.time.fromisoformat(span[0]), zone)
            span_end = (
                dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), zone)
                if span[1] == "24:00"
                else dt.datetime.combine(day, dt.time.fromisoformat(span[1]), zone)
            )
            # Stepped in UTC: aware arithmetic in the zone is wall-clock time, which makes a window 1 or
            # 3 real hours across a daylight-saving change.
            utc_start, last = span_start.astimezone(dt.UTC), span_end.astimezone(dt.UTC)
            while utc_start + WINDOW <= last:
                utc_end = utc_start + WINDOW
                if (
                    utc_start >= earliest
                    and utc_start < horizon
                    and not _overlaps(utc_start, utc_end, off + booked)
                ):
                    found.append(Slot(start=utc_start, end=utc_end))
                    if len(found) >= limit:
                        return found
                utc_start = utc_end
    return found


def free_slots(*, session: Session, work_order_id: int, days: int = 14, limit: int = 6) -> list[Slot]:
    """The next free slots of the work order's technician (no access check: callers check first)."""
    work_order = session.get(WorkOrder, work_order_id)
    if work_order is None:
        raise NotFound(f"no work order with id {work_order_id}", code="work_order_not_found")
    technician = _technician(session, work_order)
    return calendar_slots(
        session=session, technician=technician, days=days, limit=limit, exclude_work_order_id=work_order.id
    )


def _check_can_schedule(actor: Principal) -> None:
    if not (access.is_partner(actor) or actor.can_serve):
        raise Forbidden("only the partner or agents, leads and admins may offer slots", code="role_forbidden")


def offer_slots(
    *, session: Session, actor: Principal, work_order_id: int, slots: Sequence[Slot] | None = None
) -> WorkOrder:
    """Offer appointment slots to the customer (by default the technician's next free ones): a public
    message on the ticket in their language, linking to the portal page where they confirm one."""
    work_order = core.lock(session=session, principal=actor, work_order_id=work_order_id)
    _check_can_schedule(actor)
    if work_order.status not in (WorkOrderStatus.accepted, WorkOrderStatus.scheduled):
        raise Conflict(
            f"work order {work_order.id} is {work_order.status.value}; slots are offered once it is accepted",
            code="invalid_transition",
        )
    technician = _technician(session, work_order)
    now = utcnow()
    if slots is None:
        chosen = calendar_slots(session=session, technician=technician, exclude_work_order_id=work_order.id)
        if not chosen:
            raise Conflict("the technician has no free slot in the next 14 days", code="no_free_slots")
    else:
        chosen = []
        for given in slots:
            slot = Slot(start=core.utc(given.start, "slot start"), end=core.utc(given.end, "slot end"))
            if slot.end <= slot.start or slot.end - slot.start > dt.timedelta(hours=12):
                raise InvalidInput("a slot ends after it starts, within 12 hours", code="invalid_slot")
            if slot.start <= now:
                raise InvalidInput("slots must be in the future", code="slot_in_past")
            chosen.append(slot)
        if not chosen:
            raise InvalidInput("offer at least one slot", code="invalid_slot")
    work_order.offered_slots = [{"start": s.start.isoformat(), "end": s.end.isoformat()} for s in chosen]
    lines = "\n".join(f"- {notices.format_slot(s.start, s.end, technician.timezone)}" for s in chosen)
    told = notices.tell(
        session=session,
        ticket_id=work_order.ticket_id,
        key="slots_offered",
        values={"summary": work_order.summary, "slots": lines},
    )
    core.record(
        session=session,
        actor=actor,
        work_order=work_order,
        kind="schedule",
        body=f"{len(chosen)} slots offered to the customer",
        customer_told=told,
        details={"slots": work_order.offered_slots},
    )
    return work_order


def offered_slots(work_order: WorkOrder) -> list[Slot]:
    """The times offered to the customer, as slots (the row keeps them as ISO strings in JSON)."""
    return [Slot.model_validate(raw) for raw in work_order.offered_slots or []]


def _offered(work_order: WorkOrder, start: dt.datetime) -> Slot | None:
    return next((slot for slot in offered_slots(work_order) if slot.start == start), None)


def confirm_slot(*, session: Session, actor: Principal, work_order_id: int, start: dt.datetime) -> WorkOrder:
    """Book the visit: the customer picks an offered slot (portal), staff or the partner an offered or a
    free one. The customer is told the time (a new time when it was booked already)."""
    work_order = core.lock(session=session, principal=actor, work_order_id=work_order_id)
    if not (actor.is_customer or access.is_partner(actor) or actor.can_serve):
        raise Forbidden("your role may not book visits", code="role_forbidden")
    start = core.utc(start, "start")
    if work_order.status not in (WorkOrderStatus.accepted, WorkOrderStatus.scheduled):
        core.check_move(work_order, WorkOrderStatus.scheduled)
    technician = _technician(session, work_order)
    if session.get_bind().dialect.name == "postgresql":
        # Two customers confirming the same technician's slot at once: the second waits here, then
        # sees the first booking in is_free (the work order lock alone does not cover the calendar).
        session.get(Technician, technician.user_id, with_for_update=True, populate_existing=True)
    slot = _offered(work_order, start)
    if slot is None and not actor.is_customer:
        free = calendar_slots(
            session=session,
            technician=technician,
            days=MAX_DAYS,
            limit=50,
            exclude_work_order_id=work_order.id,
        )
        slot = next((s for s in free if s.start == start), None)
    if slot is None:
        raise Conflict("that time is not one of the offered or free slots", code="slot_not_available")
    if slot.start <= utcnow():
        raise Conflict("that slot has passed; offer new ones", code="slot_not_available")
    if not is_free(session=session, technician=technician, slot=slot, exclude_work_order_id=work_order.id):
        raise Conflict("the technician is booked or off at that time now", code="slot_not_available")
    again = work_order.status == WorkOrderStatus.scheduled
    work_order.slot_start, work_order.slot_end = slot.start, slot.end
    work_order.reminded_at = None
    work_order.offered_slots = []
    when = notices.format_slot(slot.start, slot.end, technician.timezone)
    told = notices.tell(
        session=session,
        ticket_id=work_order.ticket_id,
        key="rescheduled" if again else "scheduled",
        values={"slot": when, "address": work_order.address or work_order.postcode},
    )
    core.move(
        session=session,
        actor=actor,
        work_order=work_order,
        to=WorkOrderStatus.scheduled,
        kind="schedule",
        body=f"visit booked for {when}",
        customer_told=told,
        details={"slot_start": slot.start.isoformat(), "slot_end": slot.end.isoformat()},
    )
    remind_at = slot.start - REMIND_BEFORE
    defer_in(session, REMIND_JOB, max(remind_at - utcnow(), dt.timedelta(0)), work_order_id=work_order.id)
    return work_order


def is_free(*, session: Session, technician: Technician, slot: Slot, exclude_work_order_id: int) -> bool:
    """Whether the slot clashes with no time off or booked visit, on a day with capacity left."""
    off = session.scalar(
        select(TechnicianTimeOff.id).where(
            TechnicianTimeOff.user_id == technician.user_id,
            TechnicianTimeOff.starts_at < slot.end,
            TechnicianTimeOff.ends_at > slot.start,
        )
    )
    if off is not None:
        return False
    rows = session.execute(
        select(WorkOrder.slot_start, WorkOrder.slot_end).where(
            WorkOrder.technician_id == technician.user_id,
            WorkOrder.status.in_(core.BOOKED),
            WorkOrder.id != exclude_work_order_id,
        )
    ).all()
    if _overlaps(slot.start, slot.end, [(s, e) for s, e in rows if s is not None and e is not None]):
        return False
    zone = ZoneInfo(technician.timezone)
    day = slot.start.astimezone(zone).date()
    same_day = sum(1 for s, _ in rows if s is not None and s.astimezone(zone).date() == day)
    return same_day < technician.capacity_per_day


def first_name(session: Session, user_id: int | None) -> str | None:
    user = session.get(User, user_id) if user_id else None
    return user.name.split()[0] if user and user.name.strip() else None


def due_reminder_ids(*, session: Session, limit: int) -> Sequence[int]:
    """The sweep's finder: booked visits starting within 24 hours whose reminder did not go yet."""
    now = utcnow()
    query = (
        select(WorkOrder.id)
        .where(
            WorkOrder.status == WorkOrderStatus.scheduled,
            WorkOrder.reminded_at.is_(None),
            WorkOrder.slot_start <= now + REMIND_BEFORE,
            WorkOrder.slot_start > now,
        )
        .order_by(WorkOrder.slot_start)
        .limit(limit)
    )
    return [int(i) for i in session.scalars(query).all()]


def remind(*, session: Session, work_order_id: int) -> None:
    """The reminder job: tell the customer the window and the technician's first name, once. A job run
    too early (the visit moved) does nothing; the sweep finds it when it is due."""
    locking = session.get_bind().dialect.name == "postgresql"
    work_order = session.get(
        WorkOrder, work_order_id, with_for_update=locking or None, populate_existing=True
    )
    now = utcnow()
    if (
        work_order is None
        or work_order.status != WorkOrderStatus.scheduled
        or work_order.reminded_at is not None
        or work_order.slot_start is None
        or work_order.slot_end is None
        or work_order.slot_start <= now
        or work_order.slot_start - REMIND_BEFORE > now + dt.timedelta(minutes=1)
    ):
        return
    technician = session.get(Technician, work_order.technician_id) if work_order.technician_id else None
    zone = technician.timezone if technician else "UTC"
    values = {"slot": notices.format_slot(work_order.slot_start, work_order.slot_end, zone)}
    name = first_name(session, work_order.technician_id)
    if name:
        values["technician"] = name
    told = notices.tell(session=session, ticket_id=work_order.ticket_id, key="reminder", values=values)
    work_order.reminded_at = now
    core.record(
        session=session,
        actor=SYSTEM,
        work_order=work_order,
        kind="reminder",
        body="reminder sent",
        customer_told=told,
    )
