"""A partner's scorecard over the last ``days`` days (work orders created in the period; completions,
arrivals and ratings counted on those work orders):

- first-time fix rate: completed visits with outcome fixed and no repeat visit (a work order whose
  ``repeat_of_id`` points at it) created within 30 days of its completion / completed visits;
- on-time rate: visits arrived at (``arrived_at``) no later than the confirmed slot's end / visits
  arrived at with a confirmed slot;
- visit satisfaction: the mean of the customers' ratings (1..5), with their count;
- repeat visits: completed visits that got a repeat visit within 30 days, and their share of completed;
- declined: work orders this partner declined; late: completed after ``due_at``, or still open past it;
- average hours from creation to completion.

Staff see every partner's scorecard; a partner user only their own (others: 404).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from ombud.accounts.schemas import Principal
from ombud.errors import InvalidInput
from ombud.partners import core
from ombud.partners import service as partners
from ombud.partners.models import WorkOrder, WorkOrderStatus
from ombud.partners.schemas import Scorecard
from ombud.storage.base import utcnow

REPEAT_WINDOW = dt.timedelta(days=30)
MAX_DAYS = 730


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def scorecard(
    *, session: Session, principal: Principal, partner_id: int, days: int = 90, now: dt.datetime | None = None
) -> Scorecard:
    partner = partners.access_partner(session=session, principal=principal, partner_id=partner_id)
    if not 1 <= days <= MAX_DAYS:
        raise InvalidInput(f"days must be between 1 and {MAX_DAYS}", code="invalid_days")
    now = now or utcnow()
    since = now - dt.timedelta(days=days)
    orders = list(
        session.scalars(
            select(WorkOrder).where(WorkOrder.partner_id == partner_id, WorkOrder.created_at >= since)
        )
    )
    completed = [
        o
        for o in orders
        if o.completed_at is not None and o.status in (WorkOrderStatus.completed, WorkOrderStatus.closed)
    ]
    ids = [o.id for o in completed]
    repeats: dict[int, list[dt.datetime]] = {}
    if ids:
        for repeat_of, created in session.execute(
            select(WorkOrder.repeat_of_id, WorkOrder.created_at).where(WorkOrder.repeat_of_id.in_(ids))
        ):
            repeats.setdefault(int(repeat_of or 0), []).append(created)

    def repeated(order: WorkOrder) -> bool:
        assert order.completed_at is not None
        return any(c <= order.completed_at + REPEAT_WINDOW for c in repeats.get(order.id, []))

    fixed = [o for o in completed if o.outcome == "fixed"]
    first_time = [o for o in fixed if not repeated(o)]
    repeated_count = sum(1 for o in completed if repeated(o))
    arrivals = [o for o in orders if o.arrived_at is not None and o.slot_end is not None]
    on_time = [
        o
        for o in arrivals
        if o.arrived_at is not None and o.slot_end is not None and o.arrived_at <= o.slot_end
    ]
    ratings = [o.rating for o in orders if o.rating is not None]
    declined = sum(
        1
        for o in session.scalars(select(WorkOrder).where(WorkOrder.created_at >= since))
        if partner_id in (o.declined_by or [])
    )
    late = sum(
        1
        for o in orders
        if o.due_at is not None
        and (
            (o.completed_at is not None and o.completed_at > o.due_at)
            or (o.completed_at is None and o.status in core.OPEN and o.due_at < now)
        )
    )
    durations = [(o.completed_at - o.created_at).total_seconds() / 3600 for o in completed if o.completed_at]
    return Scorecard(
        partner_id=partner.id,
        partner_name=partner.name,
        days=days,
        since=since,
        completed=len(completed),
        fixed=len(fixed),
        first_time_fix_rate=_rate(len(first_time), len(completed)),
        on_time_rate=_rate(len(on_time), len(arrivals)),
        on_time=len(on_time),
        arrivals=len(arrivals),
        visit_satisfaction=round(sum(ratings) / len(ratings), 2) if ratings else None,
        ratings=len(ratings),
        repeat_visits=repeated_count,
        repeat_rate=_rate(repeated_count, len(completed)),
        declined=declined,
        late=late,
        average_hours_to_complete=round(sum(durations) / len(durations), 1) if durations else None,
        open_work_orders=sum(1 for o in orders if o.status in core.OPEN),
    )
