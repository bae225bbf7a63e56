"""A theme's figures: how many concerns, over time, from whom (customers, segments), how they feel, what
the concessions on them cost and what the affected customers are worth (value at risk).

Everything is read from the advocacy tables (members carry their segments and feelings, hourly counts
carry the series) plus two sums across domains: applied concessions (resolutions) and purchases. Money is
summed exactly, in minor units per currency, never converted.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session

from ombud.advocacy.models import Theme, ThemeCount, ThemeMember
from ombud.advocacy.schemas import DayCount, MoneyTotal, Quote, SegmentShare, ThemeFigures
from ombud.customers.models import Purchase
from ombud.errors import InvalidInput, NotFound
from ombud.resolutions import currencies
from ombud.resolutions.models import Resolution, ResolutionStatus
from ombud.storage.base import utcnow

SEGMENT_COLUMNS = ("product", "region", "tier", "channel", "language")
TOP_SEGMENTS = 5
MAX_TICKET_IDS = 200
VALUE_WINDOW = dt.timedelta(days=365)
WEEK = dt.timedelta(days=7)
MAX_WINDOW = dt.timedelta(days=3 * 366)
# Times a window may start and end at: far enough from datetime's limits (year 1 and 9999) that the
# arithmetic on them (two weeks before, a year of purchases before) never overflows.
EARLIEST = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
LATEST = dt.datetime(9000, 1, 1, tzinfo=dt.UTC)


def money(totals: dict[str, int]) -> list[MoneyTotal]:
    """Return per-currency totals in minor units as MoneyTotal rows, largest first."""
    return [
        MoneyTotal(currency=code, amount_minor=value, amount=str(currencies.from_minor(value, code)))
        for code, value in sorted(totals.items(), key=lambda item: (-item[1], item[0]))
    ]


def window(
    since: dt.datetime | None, until: dt.datetime | None, *, default: dt.timedelta = dt.timedelta(days=90)
) -> tuple[dt.datetime, dt.datetime]:
    """Check a [since, until) window (until: now; since: ``default`` before until) before any arithmetic on
    it; InvalidInput "invalid_window" when it is not one."""
    until = until or utcnow()
    if (since is not None and since.tzinfo is None) or until.tzinfo is None:
        raise InvalidInput("since and until need a time zone (…Z or +01:00)", code="invalid_window")
    for field, value in (("since", since), ("until", until)):
        if value is not None and not EARLIEST <= value <= LATEST:
            raise InvalidInput(
                f"{field} must be between {EARLIEST:%Y-%m-%d} and {LATEST:%Y-%m-%d}",
                code="invalid_window",
                details={"field": field},
            )
    since = since if since is not None else until - default
    if since >= until:
        raise InvalidInput("since must be before until", code="invalid_window")
    if until - since > MAX_WINDOW:
        raise InvalidInput("the window may be at most three years long", code="invalid_window")
    return since, until


def _members(theme_id: int, since: dt.datetime, until: dt.datetime) -> Any:
    return and_(
        ThemeMember.theme_id == theme_id,
        ThemeMember.concern_at >= since,
        ThemeMember.concern_at < until,
    )


def concession_cost(*, session: Session, where: Any) -> dict[str, int]:
    """Sum the applied concessions of the members matching ``where``, per currency (minor units).

    A concession that names its concern counts for that concern's theme only; one that names none counts
    for the themes of its ticket.
    """
    concern_ids = select(ThemeMember.concern_id).where(where)
    ticket_ids = select(ThemeMember.ticket_id).where(where)
    rows = session.execute(
        select(Resolution.currency, func.sum(Resolution.amount_minor))
        .where(
            Resolution.status == ResolutionStatus.applied,
            or_(
                Resolution.concern_id.in_(concern_ids),
                and_(Resolution.concern_id.is_(None), Resolution.ticket_id.in_(ticket_ids)),
            ),
        )
        .group_by(Resolution.currency)
    ).all()
    return {str(code): int(total or 0) for code, total in rows}


def value_at_risk(*, session: Session, where: Any, until: dt.datetime) -> dict[str, int]:
    """Sum what the customers of the members matching ``where`` bought in the 12 months before ``until``,
    per currency in minor units. Purchases store a float: each is rounded to whole minor units by the
    database before summing (19.99 is 1999 cents, not 1998), so the sum is exact."""
    customer_ids = select(ThemeMember.customer_id).where(where)
    odd = {code: 10**exponent for code, exponent in currencies.CURRENCIES.items() if exponent != 2}
    scale: Any = case(odd, value=Purchase.currency, else_=100) if odd else 100
    minor = func.round(Purchase.amount * scale)
    rows = session.execute(
        select(Purchase.currency, func.sum(minor))
        .where(
            Purchase.customer_id.in_(customer_ids),
            Purchase.purchased_at >= until - VALUE_WINDOW,
            Purchase.purchased_at < until,
            Purchase.amount > 0,
            Purchase.currency.in_(list(currencies.CURRENCIES)),
        )
        .group_by(Purchase.currency)
    ).all()
    return {str(code): round(float(total)) for code, total in rows if total}


def hourly(
    *, session: Session, theme_ids: Sequence[int], since: dt.datetime, until: dt.datetime, segment: str = ""
) -> dict[int, dict[dt.datetime, int]]:
    """Return each theme's non-zero hourly counts in [since, until) for ``segment``."""
    found: dict[int, dict[dt.datetime, int]] = {theme_id: {} for theme_id in theme_ids}
    if not theme_ids:
        return found
    rows = session.execute(
        select(ThemeCount.theme_id, ThemeCount.hour, ThemeCount.count).where(
            ThemeCount.theme_id.in_(list(theme_ids)),
            ThemeCount.segment == segment,
            ThemeCount.hour >= since,
            ThemeCount.hour < until,
        )
    ).all()
    for theme_id, hour, count in rows:
        found[int(theme_id)][hour] = int(count)
    return found


def daily_counts(counts: dict[dt.datetime, int], since: dt.datetime, until: dt.datetime) -> list[DayCount]:
    """Return the hourly counts added up per UTC day from ``since``'s day to ``until``'s (0 when none)."""
    per_day: dict[dt.date, int] = defaultdict(int)
    for hour, count in counts.items():
        per_day[hour.astimezone(dt.UTC).date()] += count
    first = since.astimezone(dt.UTC).date()
    last = (until - dt.timedelta(microseconds=1)).astimezone(dt.UTC).date()
    days = (last - first).days + 1
    return [
        DayCount(day=first + dt.timedelta(days=i), count=per_day.get(first + dt.timedelta(days=i), 0))
        for i in range(days)
    ]


def growth(last: int, previous: int) -> float:
    return round((last - previous) / max(previous, 1), 4)


def weekly(counts: dict[dt.datetime, int], until: dt.datetime) -> tuple[int, int]:
    """Return (last 7 days, the 7 before) from hourly counts."""
    last = sum(c for hour, c in counts.items() if until - WEEK <= hour < until)
    previous = sum(c for hour, c in counts.items() if until - 2 * WEEK <= hour < until - WEEK)
    return last, previous


def theme_figures(
    *, session: Session, theme_id: int, since: dt.datetime, until: dt.datetime | None = None
) -> ThemeFigures:
    """Return the figures of theme ``theme_id`` over [since, until) (until: now). NotFound if no theme."""
    since, until = window(since, until)
    theme = session.get(Theme, theme_id)
    if theme is None:
        raise NotFound(f"no theme with id {theme_id}", code="theme_not_found")
    where = _members(theme_id, since, until)
    concerns, customers, tickets, frustration = session.execute(
        select(
            func.count(),
            func.count(func.distinct(ThemeMember.customer_id)),
            func.count(func.distinct(ThemeMember.ticket_id)),
            func.avg(ThemeMember.frustration),
        ).where(where)
    ).one()
    segments: dict[str, list[SegmentShare]] = {}
    for name in SEGMENT_COLUMNS:
        column = getattr(ThemeMember, name)
        rows = session.execute(
            select(column, func.count().label("n"))
            .where(where, column.is_not(None), column != "")
            .group_by(column)
            .order_by(func.count().desc(), column)
            .limit(TOP_SEGMENTS)
        ).all()
        segments[name] = [SegmentShare(value=str(value), count=int(n)) for value, n in rows]
    emotions = {
        str(label): int(n)
        for label, n in session.execute(
            select(ThemeMember.emotion, func.count())
            .where(where, ThemeMember.emotion.is_not(None))
            .group_by(ThemeMember.emotion)
        ).all()
    }
    ticket_ids = [
        int(t)
        for t in session.scalars(
            select(ThemeMember.ticket_id)
            .where(where)
            .group_by(ThemeMember.ticket_id)
            .order_by(func.max(ThemeMember.concern_at).desc(), ThemeMember.ticket_id.desc())
            .limit(MAX_TICKET_IDS)
        )
    ]
    counts = hourly(session=session, theme_ids=[theme_id], since=min(since, until - 2 * WEEK), until=until)[
        theme_id
    ]
    last, previous = weekly(counts, until)
    in_window = {hour: c for hour, c in counts.items() if hour >= since}
    return ThemeFigures(
        theme_id=theme_id,
        since=since,
        until=until,
        concerns=int(concerns),
        daily=daily_counts(in_window, since, until),
        customers_affected=int(customers),
        tickets=int(tickets),
        ticket_ids=ticket_ids,
        segments=segments,
        mean_frustration=round(float(frustration or 0.0), 4),
        emotions=emotions,
        concession_cost=money(concession_cost(session=session, where=where)),
        value_at_risk=money(value_at_risk(session=session, where=where, until=until)),
        quotes=[Quote.model_validate(q) for q in theme.quotes or []],
        first_seen_at=theme.first_seen_at,
        last_seen_at=theme.last_seen_at,
        last_7_days=last,
        previous_7_days=previous,
        growth=growth(last, previous),
    )


def cost_by_theme(*, session: Session, theme_ids: Sequence[int]) -> dict[int, dict[str, int]]:
    """Return each theme's applied concession cost, all time, per currency (for lists: one query)."""
    found: dict[int, dict[str, int]] = {theme_id: {} for theme_id in theme_ids}
    if not theme_ids:
        return found
    ids = list(theme_ids)
    by_concern = (
        select(ThemeMember.theme_id, Resolution.currency, Resolution.amount_minor)
        .join(Resolution, Resolution.concern_id == ThemeMember.concern_id)
        .where(ThemeMember.theme_id.in_(ids), Resolution.status == ResolutionStatus.applied)
    )
    by_ticket = (
        select(ThemeMember.theme_id, Resolution.currency, Resolution.amount_minor)
        .distinct()
        .join(Resolution, Resolution.ticket_id == ThemeMember.ticket_id)
        .where(
            ThemeMember.theme_id.in_(ids),
            Resolution.status == ResolutionStatus.applied,
            Resolution.concern_id.is_(None),
        )
        .add_columns(Resolution.id)
    )
    for theme_id, code, amount in session.execute(by_concern).all():
        bucket = found[int(theme_id or 0)]
        bucket[code] = bucket.get(code, 0) + int(amount)
    for theme_id, code, amount, _ in session.execute(by_ticket).all():
        bucket = found[int(theme_id or 0)]
        bucket[code] = bucket.get(code, 0) + int(amount)
    return found


def frustration_by_theme(*, session: Session, theme_ids: Sequence[int]) -> dict[int, float]:
    if not theme_ids:
        return {}
    rows = session.execute(
        select(ThemeMember.theme_id, func.avg(ThemeMember.frustration))
        .where(ThemeMember.theme_id.in_(list(theme_ids)))
        .group_by(ThemeMember.theme_id)
    ).all()
    return {int(theme_id): round(float(mean or 0.0), 4) for theme_id, mean in rows}
