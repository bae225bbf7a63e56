"""The advocacy dashboard's numbers: concerns over time, the top and rising themes of the week, open spikes
and the cases board by status. Read by every staff member (themes and cases are internal, not secret)."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, Field
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ombud.accounts.schemas import Principal
from ombud.advocacy import cases, digest, stats
from ombud.advocacy.access import check_read
from ombud.advocacy.digest_schemas import DigestTheme, theme_url
from ombud.advocacy.models import (
    AdvocacyCase,
    CaseStatus,
    SpikeAlert,
    SpikeState,
    Theme,
    ThemeMember,
    ThemeState,
)
from ombud.errors import InvalidInput
from ombud.storage.base import utcnow

SERIES_DAYS = 28
MAX_SPIKES = 10
# The hourly counts of theme 0 are those of every concern.
ALL_CONCERNS = 0


class DayValue(BaseModel):
    day: dt.date
    count: int


class SpikeLine(BaseModel):
    spike_id: int
    theme_id: int
    theme_label: str
    theme_url: str
    segment: str
    metric: str
    state: SpikeState
    detected_at: dt.datetime
    count: float
    baseline: float
    growth: float


class Overview(BaseModel):
    until: dt.datetime
    active_themes: int
    concerns_7_days: int
    previous_7_days: int
    customers_7_days: int
    daily: list[DayValue] = Field(description=f"Concerns per UTC day, the last {SERIES_DAYS} days.")
    top_themes: list[DigestTheme]
    rising_themes: list[DigestTheme]
    open_spikes: int = Field(description="Open spike alerts: one per theme, segment and metric.")
    spiking_themes: int = Field(
        description="Themes with an open spike alert (one burst often alerts in several segments at once)."
    )
    spikes: list[SpikeLine]
    cases_by_status: dict[str, int] = Field(description="Every status, 0 when none.")
    open_cases: int


def overview(*, session: Session, principal: Principal, until: dt.datetime | None = None) -> Overview:
    """Return the dashboard's figures as of ``until`` (default now); staff only. A fixed number of
    queries: the series and the weekly totals come from the hourly counts (theme 0 counts every concern),
    the themes are ranked in SQL and only the few shown are read in detail."""
    check_read(principal)
    until = until or utcnow()
    if until.tzinfo is None:
        raise InvalidInput("give the time with a time zone", code="invalid_window")
    last_day = (until - dt.timedelta(microseconds=1)).astimezone(dt.UTC).date()
    first = dt.datetime.combine(last_day - dt.timedelta(days=SERIES_DAYS - 1), dt.time(), tzinfo=dt.UTC)
    counts = stats.hourly(session=session, theme_ids=[ALL_CONCERNS], since=first, until=until)[ALL_CONCERNS]
    last, previous = stats.weekly(counts, until)
    customers = session.scalar(
        select(func.count(func.distinct(ThemeMember.customer_id))).where(
            ThemeMember.concern_at >= until - digest.WEEK, ThemeMember.concern_at < until
        )
    )
    top, rising = digest.top_and_rising_lines(session=session, until=until)
    spikes = session.scalars(
        select(SpikeAlert)
        .where(SpikeAlert.state == SpikeState.open)
        .order_by(SpikeAlert.detected_at.desc(), SpikeAlert.id.desc())
        .limit(MAX_SPIKES)
    ).all()
    labels = _labels(session=session, theme_ids={s.theme_id for s in spikes})
    by_status = {
        str(status): int(n)
        for status, n in session.execute(
            select(AdvocacyCase.status, func.count()).group_by(AdvocacyCase.status)
        ).all()
    }
    cases_by_status = {s.value: by_status.get(s.value, by_status.get(str(s), 0)) for s in CaseStatus}
    return Overview(
        until=until,
        active_themes=int(
            session.scalar(select(func.count()).select_from(Theme).where(Theme.state == ThemeState.active))
            or 0
        ),
        concerns_7_days=last,
        previous_7_days=previous,
        customers_7_days=int(customers or 0),
        daily=[DayValue(day=d.day, count=d.count) for d in stats.daily_counts(counts, first, until)],
        top_themes=top,
        rising_themes=rising,
        open_spikes=int(
            session.scalar(
                select(func.count()).select_from(SpikeAlert).where(SpikeAlert.state == SpikeState.open)
            )
            or 0
        ),
        spiking_themes=int(
            session.scalar(
                select(func.count(func.distinct(SpikeAlert.theme_id))).where(
                    SpikeAlert.state == SpikeState.open
                )
            )
            or 0
        ),
        spikes=[
            SpikeLine(
                spike_id=s.id,
                theme_id=s.theme_id,
                theme_label=labels.get(s.theme_id, f"Theme {s.theme_id}"),
                theme_url=theme_url(s.theme_id),
                segment=s.segment,
                metric=s.metric,
                state=s.state,
                detected_at=s.detected_at,
                count=s.count,
                baseline=s.baseline,
                growth=s.growth,
            )
            for s in spikes
        ],
        cases_by_status=cases_by_status,
        open_cases=sum(cases_by_status[s.value] for s in cases.OPEN_STATES),
    )


def _labels(*, session: Session, theme_ids: set[int]) -> dict[int, str]:
    if not theme_ids:
        return {}
    return {
        t.id: t.name or t.label or f"Theme {t.id}"
        for t in session.scalars(select(Theme).where(Theme.id.in_(sorted(theme_ids))))
    }
