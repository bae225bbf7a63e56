"""Choosing the partner for a work order.

A technician fits when they are active, their partner is active and has not declined this work order, and

1. skill: their skills include the work order's skill or its kind;
2. area: one of their areas is a prefix of the postcode (the longest prefix wins over shorter ones and
   over a region), or equals the region name;
3. capacity: on some day of the next ``CAPACITY_DAYS`` days they work and have fewer visits booked than
   their capacity per day.

Among the partners with a fitting technician, the best area match wins, then the fewest open work orders
(the load). The reason is recorded on the work order (``dispatch_reason``) and as a ``dispatch`` update.
No fit: the work order stays ``new`` with the reason, and the sweep tries again (:func:`waiting_ids`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ombud.accounts.schemas import SYSTEM, Principal
from ombud.partners import core
from ombud.partners.models import Partner, Technician, TechnicianTimeOff, WorkOrder, WorkOrderStatus
from ombud.storage.base import utcnow

CAPACITY_DAYS = 14
# How often the sweep looks again at a work order no partner fits (it finds those not tried lately).
RETRY_EVERY = dt.timedelta(minutes=15)


@dataclass(frozen=True)
class Fit:
    partner: Partner
    technician: Technician
    area: str
    area_score: int
    load: int


def clean_postcode(value: str) -> str:
    return "".join(value.split()).lower()


def area_score(technician: Technician, *, postcode: str, region: str) -> tuple[int, str]:
    """Return (score, area): a postcode prefix scores its length + 1 000, a region 1; no match 0."""
    code = clean_postcode(postcode)
    wanted_region = region.strip().lower()
    best, best_area = 0, ""
    for raw in technician.areas or []:
        area = clean_postcode(str(raw))
        if code and area and code.startswith(area) and 1000 + len(area) > best:
            best, best_area = 1000 + len(area), str(raw)
        elif wanted_region and str(raw).strip().lower() == wanted_region and best < 1:
            best, best_area = 1, str(raw)
    return best, best_area


def has_skill(technician: Technician, work_order: WorkOrder) -> bool:
    skills = {str(s).lower() for s in technician.skills or []}
    return work_order.skill.lower() in skills or work_order.kind.value in skills


def booked_per_day(*, session: Session, technician: Technician, since: dt.datetime) -> dict[dt.date, int]:
    zone = ZoneInfo(technician.timezone)
    rows = session.scalars(
        select(WorkOrder.slot_start).where(
            WorkOrder.technician_id == technician.user_id,
            WorkOrder.slot_start >= since - dt.timedelta(days=1),
            WorkOrder.status.in_(core.BOOKED),
        )
    ).all()
    counts: dict[dt.date, int] = {}
    for start in rows:
        if start is not None:
            day = start.astimezone(zone).date()
            counts[day] = counts.get(day, 0) + 1
    return counts


def has_capacity(*, session: Session, technician: Technician, now: dt.datetime) -> bool:
    """Whether the technician works, not on time off the whole day, with room, on some coming day."""
    zone = ZoneInfo(technician.timezone)
    booked = booked_per_day(session=session, technician=technician, since=now)
    off = session.scalars(
        select(TechnicianTimeOff).where(
            TechnicianTimeOff.user_id == technician.user_id, TechnicianTimeOff.ends_at > now
        )
    ).all()
    today = now.astimezone(zone).date()
    for offset in range(CAPACITY_DAYS):
        day = today + dt.timedelta(days=offset)
        if not (technician.working_hours or {}).get(core.WEEKDAYS[day.weekday()]):
            continue
        if booked.get(day, 0) >= technician.capacity_per_day:
            continue
        start = dt.datetime.combine(day, dt.time(0), zone)
        end = start + dt.timedelta(days=1)
        if any(o.starts_at <= start and o.ends_at >= end for o in off):
            continue
        return True
    return False


def open_load(*, session: Session, partner_ids: Sequence[int]) -> dict[int, int]:
    if not partner_ids:
        return {}
    rows = session.execute(
        select(WorkOrder.partner_id, func.count())
        .where(WorkOrder.partner_id.in_(list(partner_ids)), WorkOrder.status.in_(core.OPEN))
        .group_by(WorkOrder.partner_id)
    ).all()
    return {int(row[0] or 0): int(row[1]) for row in rows}


def candidates(
    *, session: Session, work_order: WorkOrder, now: dt.datetime | None = None
) -> tuple[list[Fit], str]:
    """Return the fitting technicians, best first, and why none fits when the list is empty."""
    now = now or utcnow()
    declined = set(work_order.declined_by or [])
    rows = session.execute(
        select(Technician, Partner)
        .join(Partner, Partner.id == Technician.partner_id)
        .where(Technician.active.is_(True), Partner.active.is_(True))
        .order_by(Technician.user_id)
    ).all()
    pool = [(t, p) for t, p in rows if p.id not in declined]
    if not pool:
        return [], "no active partner left" + (" (all others declined)" if declined else "")
    skilled = [(t, p) for t, p in pool if has_skill(t, work_order)]
    if not skilled:
        return [], f"no technician has the skill {work_order.skill!r}"
    scored = [
        (t, p, *area_score(t, postcode=work_order.postcode, region=work_order.region)) for t, p in skilled
    ]
    in_area = [row for row in scored if row[2] > 0]
    if not in_area:
        where = work_order.postcode or work_order.region or "no postcode or region"
        return [], f"no technician with the skill covers {where}"
    free = [row for row in in_area if has_capacity(session=session, technician=row[0], now=now)]
    if not free:
        return [], f"no capacity in the next {CAPACITY_DAYS} days"
    load = open_load(session=session, partner_ids=[p.id for _, p, _, _ in free])
    fits = [Fit(partner=p, technician=t, area=a, area_score=s, load=load.get(p.id, 0)) for t, p, s, a in free]
    fits.sort(key=lambda f: (-f.area_score, f.load, f.partner.id, f.technician.user_id))
    return fits, ""


def dispatch(*, session: Session, work_order: WorkOrder, actor: Principal = SYSTEM) -> bool:
    """Offer the work order to the best fitting partner (True), or leave it ``new`` with the reason."""
    if work_order.status not in (WorkOrderStatus.new, WorkOrderStatus.offered):
        return False
    fits, why = candidates(session=session, work_order=work_order)
    if not fits:
        reason = f"waiting: {why}"
        changed = reason != work_order.dispatch_reason or work_order.status != WorkOrderStatus.new
        work_order.dispatch_reason = reason
        work_order.partner_id = None
        work_order.technician_id = None
        if work_order.status != WorkOrderStatus.new:
            core.move(
                session=session,
                actor=actor,
                work_order=work_order,
                to=WorkOrderStatus.new,
                body=reason,
                kind="dispatch",
            )
        elif changed:
            core.record(session=session, actor=actor, work_order=work_order, kind="dispatch", body=reason)
        work_order.updated_at = utcnow()
        return False
    best = fits[0]
    match = "postcode" if best.area_score >= 1000 else "region"
    reason = (
        f"offered to {best.partner.name}: skill {work_order.skill}, {match} {best.area}, "
        f"{best.load} open work orders, e.g. technician #{best.technician.user_id}"
    )
    work_order.partner_id = best.partner.id
    work_order.technician_id = None
    work_order.dispatch_reason = reason
    core.move(
        session=session,
        actor=actor,
        work_order=work_order,
        to=WorkOrderStatus.offered,
        body=reason,
        kind="dispatch",
        details={"partner_id": best.partner.id},
    )
    return True


def waiting_ids(*, session: Session, limit: int) -> Sequence[int]:
    """The sweep's finder: work orders still ``new`` that were not looked at in the last RETRY_EVERY."""
    query = (
        select(WorkOrder.id)
        .where(WorkOrder.status == WorkOrderStatus.new, WorkOrder.updated_at <= utcnow() - RETRY_EVERY)
        .order_by(WorkOrder.updated_at)
        .limit(limit)
    )
    return [int(i) for i in session.scalars(query).all()]


def retry(*, session: Session, work_order_id: int) -> None:
    """The dispatch job: try again to find a partner for a waiting work order."""
    locking = session.get_bind().dialect.name == "postgresql"
    work_order = session.get(
        WorkOrder, work_order_id, with_for_update=locking or None, populate_existing=True
    )
    if work_order is None or work_order.status != WorkOrderStatus.new:
        return
    dispatch(session=session, work_order=work_order)
