"""Spike alerts: checked for a theme (and each of its segments) whenever concerns join it, opened when
volume or frustration rises beyond the theme's seasonal baseline (:mod:`ombud.advocacy.spikes`), with the
evidence an advocate needs; advocates and the owning department are told (a note @mentioning them, and an
email to the department's ``notify_email``: :mod:`ombud.advocacy.alert_jobs`), and they acknowledge or
dismiss.

At most one alert is live per theme, segment and metric: while one is open or acknowledged (or was
dismissed within the last day, the same episode), the spike updates it instead of opening another. An
episode ends (state "ended") once detection has not fired for QUIET hours, or when its theme is merged or
retired; a later spike opens a new alert and tells people again.
"""

from __future__ import annotations

import datetime as dt
import math
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ombud.accounts.models import Role, User
from ombud.accounts.schemas import SYSTEM, Principal
from ombud.advocacy import access, spikes
from ombud.advocacy.models import (
    AdvocacyCase,
    Department,
    SpikeAlert,
    SpikeState,
    Theme,
    ThemeCount,
    ThemeMember,
)
from ombud.audit import service as audit
from ombud.customers.models import Purchase
from ombud.errors import InvalidInput, NotFound
from ombud.events import service as events
from ombud.pagination import cursor_id, decode_cursor, encode_cursor
from ombud.storage.base import utcnow
from ombud.storage.queue import defer
from ombud.tickets import inbox
from ombud.tickets import service as tickets
from ombud.tickets.models import Ticket

SPIKE_EVENT = "advocacy.spike"
# The job that emails the owning department's notify_email about alerts just opened
# (:mod:`ombud.advocacy.alert_jobs`); its outcome is kept in the alert's evidence under EMAIL_KEY.
EMAIL_JOB = "advocacy.spike_email"
EMAIL_KEY = "emailed"
HISTORY_HOURS = spikes.LEVEL_HOURS + spikes.GAP_HOURS + 24
EVIDENCE_HOURS = 72
SAMPLES = 5
EPISODE = dt.timedelta(hours=24)
MAX_PAGE = 200
LIVE = (SpikeState.open, SpikeState.acknowledged)
# An open or acknowledged alert is tested (and its evidence refreshed) at most this often while its spike
# goes on.
REFRESH = dt.timedelta(minutes=10)
# An open or acknowledged alert whose detection has not fired for this long has ended.
QUIET = dt.timedelta(hours=6)
SEGMENT_CHARS = 120


def _series(
    session: Session, theme_id: int, segment: str, first: dt.datetime, hours: int
) -> tuple[np.ndarray, np.ndarray]:
    counts = np.zeros(hours)
    frustration = np.zeros(hours)
    rows = session.execute(
        select(ThemeCount.hour, ThemeCount.count, ThemeCount.frustration_sum).where(
            ThemeCount.theme_id == theme_id,
            ThemeCount.segment == segment,
            ThemeCount.hour >= first,
            ThemeCount.hour < first + dt.timedelta(hours=hours),
        )
    ).all()
    for hour, count, total in rows:
        index = int((hour - first).total_seconds() // 3600)
        if 0 <= index < hours:
            counts[index] += count
            frustration[index] += total
    return counts, frustration


def _busy_segments(
    session: Session, theme_id: int, segments: Sequence[str], now: dt.datetime
) -> dict[str, int]:
    """The segments with enough concerns in the last few hours to be a spike at all (one cheap query)."""
    since = now.replace(minute=0, second=0, microsecond=0) - dt.timedelta(hours=max(spikes.WINDOWS) - 1)
    rows = session.execute(
        select(ThemeCount.segment, func.sum(ThemeCount.count))
        .where(
            ThemeCount.theme_id == theme_id,
            ThemeCount.segment.in_(list(segments)),
            ThemeCount.hour >= since,
        )
        .group_by(ThemeCount.segment)
    ).all()
    return {str(segment): int(total) for segment, total in rows if (total or 0) >= spikes.MIN_COUNT}


# When each theme+segment was last tested, and its recent total then: per process, in memory (a lost entry
# only means one test more). A segment is tested again once its recent total grew by RETEST_GROWTH (at
# least one concern) or RETEST passed, so a busy theme is not fully re-tested for every batch.
RETEST = dt.timedelta(minutes=5)
RETEST_GROWTH = 0.1
MAX_TESTED = 100_000
_TESTED: dict[tuple[str, int, str], tuple[dt.datetime, int]] = {}
_TESTED_LOCK = threading.Lock()


def _due_for_test(session: Session, theme_id: int, busy: dict[str, int], now: dt.datetime) -> list[str]:
    url = str(session.get_bind().engine.url)
    due = []
    with _TESTED_LOCK:
        for segment, total in sorted(busy.items()):
            last = _TESTED.get((url, theme_id, segment))
            if last is not None:
                at, seen = last
                step = max(1, math.ceil(seen * RETEST_GROWTH))
                if at <= now < at + RETEST and seen <= total < seen + step:
                    continue
            due.append(segment)
    return due


def _tested(
    session: Session, theme_id: int, busy: dict[str, int], segments: Sequence[str], now: dt.datetime
) -> None:
    url = str(session.get_bind().engine.url)
    with _TESTED_LOCK:
        if len(_TESTED) > MAX_TESTED:
            _TESTED.clear()
        for segment in segments:
            _TESTED[(url, theme_id, segment)] = (now, busy[segment])


def _live(session: Session, theme_id: int, now: dt.datetime) -> dict[tuple[str, str], SpikeAlert]:
    """The theme's live alerts by (segment, metric): open or acknowledged (and not quiet: those end now), or
    dismissed within the last day."""
    rows = session.scalars(
        select(SpikeAlert)
        .where(
            SpikeAlert.theme_id == theme_id,
            (SpikeAlert.state.in_(LIVE))
            | ((SpikeAlert.state == SpikeState.dismissed) & (SpikeAlert.detected_at >= now - EPISODE)),
        )
        .order_by(SpikeAlert.id)
    ).all()
    quiet = [a for a in rows if a.state in LIVE and fired_at(a) < now - QUIET]
    _end(session, quiet, now=now, reason="quiet")
    return {(a.segment, a.metric): a for a in rows if a not in quiet}


def fired_at(alert: SpikeAlert) -> dt.datetime:
    """When the alert's detection last fired (its evidence says; its detection time for older alerts)."""
    raw = (alert.evidence or {}).get("fired_at")
    try:
        found = dt.datetime.fromisoformat(str(raw)) if raw else None
    except ValueError:
        found = None
    return max(found, alert.detected_at) if found is not None else alert.detected_at


def _end(session: Session, alerts: Sequence[SpikeAlert], *, now: dt.datetime, reason: str) -> None:
    for alert in alerts:
        before = alert.state
        alert.state = SpikeState.ended
        audit.record(
            session=session,
            actor=SYSTEM,
            action="advocacy.spike.ended",
            entity_type="advocacy_spike",
            entity_id=alert.id,
            before={"state": before.value},
            after={"state": SpikeState.ended.value, "reason": reason},
            at=now,
        )
    if alerts:
        session.flush()


_ENDED_AT: dict[str, dt.datetime] = {}


def end_quiet(*, session: Session, now: dt.datetime | None = None, every: dt.timedelta = REFRESH) -> int:
    """End every open or acknowledged alert whose detection has not fired for QUIET (a theme that went
    quiet is never checked again by itself); return how many. Called with online assignment's writes, at
    most ``every`` per process (remembered in memory)."""
    now = now or utcnow()
    url = str(session.get_bind().engine.url)
    with _TESTED_LOCK:
        last = _ENDED_AT.get(url)
        if last is not None and last <= now < last + every:
            return 0
        _ENDED_AT[url] = now
    rows = session.scalars(
        select(SpikeAlert).where(SpikeAlert.state.in_(LIVE), SpikeAlert.detected_at < now - QUIET)
    ).all()
    quiet = [a for a in rows if fired_at(a) < now - QUIET]
    _end(session, quiet, now=now, reason="quiet")
    return len(quiet)


def end_theme_alerts(*, session: Session, theme_ids: Sequence[int], reason: str) -> None:
    """End the live alerts of themes merged away or retired."""
    if not theme_ids:
        return
    rows = session.scalars(
        select(SpikeAlert).where(SpikeAlert.theme_id.in_(list(theme_ids)), SpikeAlert.state.in_(LIVE))
    ).all()
    _end(session, rows, now=utcnow(), reason=reason)


def _settled(alert: SpikeAlert | None, now: dt.datetime) -> bool:
    """Whether a live alert needs no test now: dismissed, or tested lately (a burst of concerns must not run
    the whole test for every one of them)."""
    if alert is None:
        return False
    if alert.state not in LIVE:
        return True
    refreshed = alert.evidence.get("refreshed_at") if alert.evidence else None
    try:
        return refreshed is not None and dt.datetime.fromisoformat(str(refreshed)) > now - REFRESH
    except ValueError:
        return False


def check_theme(
    *, session: Session, theme_id: int, segments: Sequence[str], now: dt.datetime | None = None
) -> list[SpikeAlert]:
    """Test the theme's volume (per segment) and frustration against their baselines; open or update the
    alerts; return the alerts opened now."""
    now = now or utcnow()
    busy = _busy_segments(session, theme_id, segments, now)
    due = _due_for_test(session, theme_id, busy, now)
    if not due:
        return []
    live = _live(session, theme_id, now)
    wanted = [
        (segment, metric)
        for segment in due
        for metric in (("volume", "frustration", "contact_rate") if segment == "" else ("volume",))
        if not _settled(live.get((segment, metric)), now)
    ]
    if not wanted:
        return []
    _tested(session, theme_id, busy, sorted({s for s, _ in wanted}), now)
    current = now.replace(minute=0, second=0, microsecond=0)
    first = current - dt.timedelta(hours=HISTORY_HOURS - 1)
    fraction = max((now - current).total_seconds() / 3600.0, 1 / 60)
    reference, _ = _series(session, 0, "", first, HISTORY_HOURS)
    opened: list[SpikeAlert] = []
    for segment in sorted({s for s, _ in wanted}):
        counts, frustration = _series(session, theme_id, segment, first, HISTORY_HOURS)
        model = spikes.baseline(counts, first_hour=first, reference=reference)

        def evidence(
            started_at: dt.datetime,
            segment: str = segment,
            counts: Any = counts,
            expected: Any = model.expected,
        ) -> dict[str, Any]:
            return _evidence(
                session,
                theme_id=theme_id,
                segment=segment,
                first=first,
                counts=counts,
                expected=expected,
                started_at=started_at,
                now=now,
            )

        found = (
            spikes.detect(counts, first_hour=first, last_fraction=fraction, reference=reference)
            if (segment, "volume") in wanted
            else None
        )
        if found is not None:
            alert = _raise(
                session,
                live.get((segment, "volume")),
                theme_id=theme_id,
                segment=segment,
                metric="volume",
                started_at=found.started_at,
                count=found.count,
                baseline=found.baseline,
                growth=found.growth,
                evidence={
                    **evidence(found.started_at),
                    "p_value": found.p_value,
                    "window_hours": found.window_hours,
                },
                now=now,
            )
            if alert is not None:
                opened.append(alert)
        shift = (
            spikes.detect_mean(frustration, counts, first_hour=first, last_fraction=fraction)
            if (segment, "frustration") in wanted
            else None
        )
        if shift is not None:
            alert = _raise(
                session,
                live.get((segment, "frustration")),
                theme_id=theme_id,
                segment=segment,
                metric="frustration",
                started_at=shift.started_at,
                count=round(shift.mean, 4),
                baseline=round(shift.baseline, 4),
                growth=round(shift.mean / shift.baseline - 1.0, 4) if shift.baseline > 0 else 0.0,
                evidence={**evidence(shift.started_at), "z": round(shift.z, 2), "concerns": shift.count},
                now=now,
            )
            if alert is not None:
                opened.append(alert)
        if (segment, "contact_rate") in wanted:
            alert = _contact_rate(
                session,
                live.get((segment, "contact_rate")),
                theme_id=theme_id,
                counts=counts,
                first=first,
                fraction=fraction,
                evidence=evidence,
                now=now,
            )
            if alert is not None:
                opened.append(alert)
    if opened:
        department = owning_department(session=session, theme_id=opened[0].theme_id)
        _tell(session, opened, department)
        if department is not None and department.notify_email and not live:
            # One email per theme episode (none when the theme already had a live alert, e.g. a segment
            # crossing a little after the whole theme): the alerts opened together, after the commit.
            defer(session, EMAIL_JOB, spike_id=opened[0].id)
    return opened


def _orders(session: Session, first: dt.datetime, hours: int) -> np.ndarray:
    """Purchases (orders) per hour from ``first``: the exposure of the contact rate (counted per hour by
    the database)."""
    if session.get_bind().dialect.name == "postgresql":
        bucket: Any = func.to_char(func.timezone("UTC", Purchase.purchased_at), "YYYY-MM-DD HH24")
    else:
        bucket = func.substr(Purchase.purchased_at, 1, 13)  # SQLite stores "YYYY-MM-DD HH:MM:SS…" (UTC)
    orders = np.zeros(hours)
    rows = session.execute(
        select(bucket, func.count())
        .where(
            Purchase.purchased_at >= first,
            Purchase.purchased_at < first + dt.timedelta(hours=hours),
        )
        .group_by(bucket)
    ).all()
    for text, count in rows:
        try:
            at = dt.datetime.strptime(str(text), "%Y-%m-%d %H").replace(tzinfo=dt.UTC)
        except ValueError:
            continue
        index = int((at - first).total_seconds() // 3600)
        if 0 <= index < hours:
            orders[index] += int(count)
    return orders


def _contact_rate(
    session: Session,
    existing: SpikeAlert | None,
    *,
    theme_id: int,
    counts: np.ndarray,
    first: dt.datetime,
    fraction: float,
    evidence: Any,
    now: dt.datetime,
) -> SpikeAlert | None:
    """Concerns per order against the theme's usual rate (where the company records orders at all)."""
    orders = _orders(session, first, counts.size)
    if orders[: -spikes.GAP_HOURS].sum() < spikes.MIN_COUNT:
        return None  # too few orders recorded to know a usual rate
    found = spikes.detect_rate(counts, orders, first_hour=first, last_fraction=fraction)
    if found is None:
        return None
    window = orders[-found.window_hours :].sum()
    return _raise(
        session,
        existing,
        theme_id=theme_id,
        segment="",
        metric="contact_rate",
        started_at=found.started_at,
        count=found.count,
        baseline=found.baseline,
        growth=found.growth,
        evidence={
            **evidence(found.started_at),
            "orders": int(window),
            "p_value": found.p_value,
            "window_hours": found.window_hours,
        },
        now=now,
    )


def _evidence(
    session: Session,
    *,
    theme_id: int,
    segment: str,
    first: dt.datetime,
    counts: np.ndarray,
    expected: np.ndarray,
    started_at: dt.datetime,
    now: dt.datetime,
) -> dict[str, Any]:
    theme = session.get(Theme, theme_id)
    tail = range(max(0, counts.size - EVIDENCE_HOURS), counts.size)
    series = [
        [(first + dt.timedelta(hours=i)).isoformat(), int(counts[i]), round(float(expected[i]), 3)]
        for i in tail
    ]
    query = select(ThemeMember.concern_id, ThemeMember.text, ThemeMember.ticket_id).where(
        ThemeMember.theme_id == theme_id, ThemeMember.concern_at >= started_at
    )
    if segment:
        kind, _, value = segment.partition(":")
        column = {"channel": ThemeMember.channel, "tier": ThemeMember.tier}.get(kind) or getattr(
            ThemeMember, kind
        )
        # Segments are cut at 120 characters (the product column holds 200): a cut one matches by prefix.
        query = query.where(
            func.substr(column, 1, len(value)) == value if len(segment) >= SEGMENT_CHARS else column == value
        )
    samples = session.execute(query.order_by(ThemeMember.concern_at.desc()).limit(SAMPLES)).all()
    return {
        "series": series,
        "first_seen_at": theme.first_seen_at.isoformat() if theme else None,
        "samples": [{"concern_id": c, "text": t[:300], "ticket_id": k} for c, t, k in samples],
        "refreshed_at": now.isoformat(),
    }


def _raise(
    session: Session,
    existing: SpikeAlert | None,
    *,
    theme_id: int,
    segment: str,
    metric: str,
    started_at: dt.datetime,
    count: float,
    baseline: float,
    growth: float,
    evidence: dict[str, Any],
    now: dt.datetime,
) -> SpikeAlert | None:
    """Open an alert, or update the live one of the same theme, segment and metric; return it if new."""
    evidence = {**evidence, "fired_at": now.isoformat()}
    if existing is not None:
        if existing.state in LIVE:
            existing.count = max(existing.count, count)
            existing.baseline = baseline
            existing.growth = growth
            # A refresh keeps the email's outcome (so the email job stays idempotent).
            kept = (existing.evidence or {}).get(EMAIL_KEY)
            existing.evidence = {**evidence, EMAIL_KEY: kept} if kept is not None else evidence
        return None
    alert = SpikeAlert(
        theme_id=theme_id,
        segment=segment,
        metric=metric,
        state=SpikeState.open,
        started_at=started_at,
        detected_at=now,
        count=count,
        baseline=baseline,
        growth=growth,
        evidence=evidence,
        created_at=now,
    )
    session.add(alert)
    session.flush()
    events.emit(
        session=session,
        kind=SPIKE_EVENT,
        entity_type="advocacy_spike",
        entity_id=alert.id,
        actor_type="system",
        actor_id=None,
        payload={
            "spike_id": alert.id,
            "theme_id": theme_id,
            "segment": segment,
            "metric": metric,
            "count": count,
            "baseline": baseline,
            "started_at": started_at.isoformat(),
        },
        at=now,
    )
    audit.record(
        session=session,
        actor=SYSTEM,
        action="advocacy.spike.opened",
        entity_type="advocacy_spike",
        entity_id=alert.id,
        after={
            "theme_id": theme_id,
            "segment": segment,
            "metric": metric,
            "count": count,
            "baseline": baseline,
        },
        at=now,
    )
    return alert


def owning_department(*, session: Session, theme_id: int) -> Department | None:
    """The department of an open case on the theme, else the one the departments' rule suggests for the
    theme's intents (:func:`ombud.advocacy.departments.suggest_for_intents`)."""
    from ombud.advocacy import cases, departments

    found = session.scalar(
        select(Department)
        .join(AdvocacyCase, AdvocacyCase.department_id == Department.id)
        .where(AdvocacyCase.theme_id == theme_id, AdvocacyCase.status.in_(list(cases.OPEN_STATES)))
        .order_by(AdvocacyCase.id.desc())
        .limit(1)
    )
    if found is not None:
        return found
    intents = [
        str(intent)
        for intent, _ in session.execute(
            select(ThemeMember.intent, func.count())
            .where(ThemeMember.theme_id == theme_id, ThemeMember.intent.is_not(None))
            .group_by(ThemeMember.intent)
            .order_by(func.count().desc(), ThemeMember.intent)
            .limit(5)
        )
    ]
    return departments.suggest_for_intents(session=session, intents=intents)


_WHAT = {"volume": "concerns", "frustration": "mean frustration", "contact_rate": "concerns per order"}


def _quiet(text: str) -> str:
    """Machine text (a label, a segment's product) put in a note: its '@'s must not mention anyone."""
    return text.replace("@", "\uff20")


def _tell(session: Session, opened: Sequence[SpikeAlert], department: Department | None) -> None:
    """Tell the advocates and the owning department's owners about the alerts just opened on one theme:
    one internal note on the latest sample's ticket, @mentioning them (it shows in their @Mentions view)."""
    first = opened[0]
    samples = (first.evidence or {}).get("samples") or []
    ticket = session.get(Ticket, samples[0]["ticket_id"]) if samples else None
    if ticket is None:
        return
    owners = [int(i) for i in (department.owner_ids or [])] if department else []
    emails = session.scalars(
        select(User.email)
        .where(User.active.is_(True), (User.role == Role.advocate) | (User.id.in_(owners or [0])))
        .order_by(User.id)
    ).all()
    if not emails:
        return
    theme = session.get(Theme, first.theme_id)
    name = _quiet((theme.name or theme.label) if theme else f"theme {first.theme_id}")
    handles = " ".join(f"@{inbox.mention_handle(email)}" for email in emails)
    lines = [f"{handles} Spike in theme \u201c{name}\u201d (this ticket is one of its concerns):"]
    for alert in opened:
        where = f" in {_quiet(alert.segment)}" if alert.segment else ""
        lines.append(
            f"- {_WHAT.get(alert.metric, alert.metric)}{where}: {alert.count:g} since "
            f"{alert.started_at:%Y-%m-%d %H:%M} UTC against {alert.baseline:.2f} expected (spike #{alert.id})"
        )
    lines.append(
        "See /agent/advocacy/spikes" + (f"; department: {_quiet(department.name)}" if department else "")
    )
    tickets.add_system_note(session=session, ticket=ticket, body="\n".join(lines))


# -- reading and deciding -----------------------------------------------------------------------------
def list_spikes(
    *,
    session: Session,
    principal: Principal,
    state: SpikeState | None = None,
    theme_id: int | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> tuple[list[SpikeAlert], str | None]:
    """Return spike alerts, newest first, with the cursor to the next page (None at the end)."""
    access.check_read(principal)
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInput(f"limit must be 1..{MAX_PAGE}", code="invalid_limit")
    query = select(SpikeAlert)
    if state is not None:
        query = query.where(SpikeAlert.state == state)
    if theme_id is not None:
        query = query.where(SpikeAlert.theme_id == theme_id)
    if cursor:
        query = query.where(SpikeAlert.id < cursor_id(decode_cursor(cursor, required=("id",))))
    rows = list(session.scalars(query.order_by(SpikeAlert.id.desc()).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, encode_cursor({"id": rows[-1].id}) if more and rows else None


def access_spike(*, session: Session, principal: Principal, spike_id: int) -> SpikeAlert:
    access.check_read(principal)
    alert = session.get(SpikeAlert, spike_id)
    if alert is None:
        raise NotFound(f"no spike alert with id {spike_id}", code="spike_not_found")
    return alert


def set_spike_state(
    *, session: Session, principal: Principal, spike_id: int, state: SpikeState | str
) -> SpikeAlert:
    """Acknowledge, dismiss or reopen a spike alert (advocates, leads, admins); audited."""
    access.check_advocate(principal)
    try:
        wanted = SpikeState(state)
        if wanted == SpikeState.ended:
            raise ValueError(state)  # the detection ends an episode, not a person
    except ValueError:
        raise InvalidInput(
            "state must be one of open, acknowledged, dismissed",
            code="invalid_state",
            details={"field": "state"},
        ) from None
    alert = access_spike(session=session, principal=principal, spike_id=spike_id)
    before = alert.state
    if before == wanted:
        return alert
    alert.state = wanted
    session.flush()
    audit.record(
        session=session,
        actor=principal,
        action=f"advocacy.spike.{wanted.value}",
        entity_type="advocacy_spike",
        entity_id=alert.id,
        before={"state": before.value},
        after={"state": wanted.value},
    )
    return alert
