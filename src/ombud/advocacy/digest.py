"""The weekly digest per department: its top and rising themes, its open cases, quotes, what the
concessions cost and how many customers are affected, as data (:func:`build_digest`; the shapes are in
:mod:`ombud.advocacy.digest_schemas`, the HTML, text and CSV in :mod:`ombud.advocacy.digest_render`).

A department's themes are those whose concerns carry one of its ``intents`` and those of its cases.

Sending: each department has a ``Schedule`` row ``digest:<department id>`` whose ``due_at`` says when its
next digest goes out (the setting's weekday and hour, UTC). The sweep finds due rows (and departments with
no row yet, whose row the job creates for the next slot without sending) and runs :data:`DIGEST_JOB`,
which claims the row (so two workers never send the same digest), sends one multipart email (plain text
and HTML) to the department's ``notify_email`` and to each active owner through the SMTP relay, then
records the outcome on the row and moves ``due_at`` to the next week. A relay that says "try later" is
tried again with backoff (only the recipients not yet served); one that refuses is recorded and the digest
waits for next week. "Send now" (:func:`request_send`) makes the row due at once.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import and_, case, func, select, update
from sqlalchemy.orm import Session

from ombud.accounts import service as accounts
from ombud.accounts.schemas import SYSTEM, Principal
from ombud.advocacy import cases, departments, stats
from ombud.advocacy.access import check_advocate
from ombud.advocacy.digest_render import render_html, render_text, subject
from ombud.advocacy.digest_schemas import SPARK_DAYS, Digest, DigestCase, DigestTheme, theme_url
from ombud.advocacy.models import (
    AdvocacyCase,
    Department,
    Schedule,
    Theme,
    ThemeCount,
    ThemeMember,
    ThemeState,
)
from ombud.audit import service as audit
from ombud.channels.email.service import EmailAdapter, EmailConfig
from ombud.channels.registry import Channels, TryLater, Undeliverable
from ombud.errors import Conflict, InvalidInput
from ombud.storage.base import utcnow
from ombud.storage.db import Database
from ombud.storage.queue import JobQueue, SweepSource, defer, defer_in

log = logging.getLogger(__name__)

DIGEST_JOB = "advocacy.digest"
SCHEDULE_PREFIX = "digest:"
WEEK = dt.timedelta(days=7)
# Top themes: the most concerns in the last 7 days. Rising: at least RISING_MIN concerns in the last 7
# days and RISING_GROWTH more than the 7 before (0.5: +50 %), the largest increase first.
TOP_THEMES = 5
RISING_MIN = 3
RISING_GROWTH = 0.5
MAX_RISING = 5
QUOTES_PER_THEME = 2
MAX_CASES = 50
# The relay said "try later": again after these waits, then give up until next week.
RETRY_WAITS = (
    dt.timedelta(minutes=5),
    dt.timedelta(minutes=20),
    dt.timedelta(hours=1),
    dt.timedelta(hours=3),
)
# A claimed row is left alone for this long: a worker that died mid-send is taken over after it. The
# claim is kept in the row's outcome under CLAIM_KEY ({"until", "token"}) until the run records its outcome.
CLAIM = dt.timedelta(minutes=15)
CLAIM_KEY = "claim"


# -- building ------------------------------------------------------------------------------------------------
def linked_theme_ids(*, session: Session, department: Department) -> list[int]:
    """Return the active themes of ``department``: those with concerns of its intents, and its cases'."""
    ids: set[int] = set()
    if department.intents:
        ids.update(
            t
            for t in session.scalars(
                select(ThemeMember.theme_id)
                .distinct()
                .where(ThemeMember.intent.in_(list(department.intents)), ThemeMember.theme_id.is_not(None))
            )
            if t is not None
        )
    ids.update(
        t
        for t in session.scalars(
            select(AdvocacyCase.theme_id).where(
                AdvocacyCase.department_id == department.id, AdvocacyCase.theme_id.is_not(None)
            )
        )
        if t is not None
    )
    if not ids:
        return []
    return sorted(
        session.scalars(select(Theme.id).where(Theme.id.in_(sorted(ids)), Theme.state == ThemeState.active))
    )


def rank_themes(
    *, session: Session, until: dt.datetime, theme_ids: Sequence[int] | None = None
) -> tuple[list[int], list[int]]:
    """Return the ids of the top and of the rising active themes (of ``theme_ids``, default all) in the
    two weeks before ``until``: two GROUP BY queries over the hourly counts (segment "" is the whole
    theme), at most TOP_THEMES and MAX_RISING ids, so only those few are read in detail."""
    if theme_ids is not None and not theme_ids:
        return [], []
    week = until - WEEK
    last = func.sum(case((ThemeCount.hour >= week, ThemeCount.count), else_=0))
    previous = func.sum(case((ThemeCount.hour < week, ThemeCount.count), else_=0))
    grouped = (
        select(ThemeCount.theme_id)
        .join(Theme, Theme.id == ThemeCount.theme_id)
        .where(
            ThemeCount.theme_id != 0,
            ThemeCount.segment == "",
            ThemeCount.hour >= until - 2 * WEEK,
            ThemeCount.hour < until,
            Theme.state == ThemeState.active,
        )
        .group_by(ThemeCount.theme_id)
    )
    if theme_ids is not None:
        grouped = grouped.where(ThemeCount.theme_id.in_(sorted(set(theme_ids))))
    top = session.scalars(
        grouped.having(last > 0).order_by(last.desc(), ThemeCount.theme_id).limit(TOP_THEMES)
    ).all()
    # The SQL form of stats.growth(last, previous) >= RISING_GROWTH.
    floor = case((previous > 1, previous), else_=1)
    rising = session.scalars(
        grouped.having(last >= RISING_MIN, (last - previous) >= RISING_GROWTH * floor)
        .order_by((last - previous).desc(), ThemeCount.theme_id)
        .limit(MAX_RISING)
    ).all()
    return [int(t) for t in top], [int(t) for t in rising]


def theme_lines(*, session: Session, theme_ids: Sequence[int], until: dt.datetime) -> list[DigestTheme]:
    """Return each theme's week (for a few themes: a fixed number of queries, whatever their number):
    concerns in the 7 days before ``until`` and the 7 before (from the hourly counts), customers, the
    daily series of the last two weeks, quotes and all-time concession cost."""
    ids = sorted(set(theme_ids))
    if not ids:
        return []
    since = until - WEEK
    themes = {t.id: t for t in session.scalars(select(Theme).where(Theme.id.in_(ids)))}
    counts = stats.hourly(session=session, theme_ids=ids, since=until - 2 * WEEK, until=until)
    customers = {
        int(theme_id or 0): int(n)
        for theme_id, n in session.execute(
            select(ThemeMember.theme_id, func.count(func.distinct(ThemeMember.customer_id)))
            .where(
                ThemeMember.theme_id.in_(ids), ThemeMember.concern_at >= since, ThemeMember.concern_at < until
            )
            .group_by(ThemeMember.theme_id)
        ).all()
    }
    quotes = _quotes(session=session, themes=themes, since=since, until=until)
    costs = stats.cost_by_theme(session=session, theme_ids=ids)
    last_day = (until - dt.timedelta(microseconds=1)).astimezone(dt.UTC).date()
    first_day = dt.datetime.combine(last_day - dt.timedelta(days=SPARK_DAYS - 1), dt.time(), tzinfo=dt.UTC)
    lines: list[DigestTheme] = []
    for theme_id in ids:
        theme = themes.get(theme_id)
        if theme is None:
            continue
        last, previous = stats.weekly(counts[theme_id], until)
        lines.append(
            DigestTheme(
                theme_id=theme_id,
                label=theme.name or theme.label or f"Theme {theme_id}",
                url=theme_url(theme_id),
                last_7_days=last,
                previous_7_days=previous,
                growth=stats.growth(last, previous),
                customers=customers.get(theme_id, 0),
                daily=[d.count for d in stats.daily_counts(counts[theme_id], first_day, until)],
                quotes=quotes.get(theme_id, []),
                cost=stats.money(costs.get(theme_id, {})),
            )
        )
    return lines


def top_and_rising(lines: Sequence[DigestTheme]) -> tuple[list[DigestTheme], list[DigestTheme]]:
    """Return the top themes (most concerns in the week) and the rising ones (see RISING_*)."""
    top = sorted((t for t in lines if t.last_7_days > 0), key=lambda t: (-t.last_7_days, t.theme_id))
    rising = sorted(
        (t for t in lines if t.last_7_days >= RISING_MIN and t.growth >= RISING_GROWTH),
        key=lambda t: (-(t.last_7_days - t.previous_7_days), t.theme_id),
    )
    return top[:TOP_THEMES], rising[:MAX_RISING]


def top_and_rising_lines(
    *, session: Session, until: dt.datetime, theme_ids: Sequence[int] | None = None
) -> tuple[list[DigestTheme], list[DigestTheme]]:
    """Rank the themes in SQL (:func:`rank_themes`), then read the details of the chosen few only."""
    top_ids, rising_ids = rank_themes(session=session, until=until, theme_ids=theme_ids)
    lines = theme_lines(session=session, theme_ids=[*top_ids, *rising_ids], until=until)
    return top_and_rising(lines)


def build_digest(
    *, session: Session, principal: Principal, department_id: int, until: dt.datetime | None = None
) -> Digest:
    """Return the digest of the week before ``until`` (default now) for department ``department_id``
    (advocates, leads, admins; NotFound for no such department)."""
    check_advocate(principal)
    department = departments.access_department(
        session=session, principal=principal, department_id=department_id
    )
    until = until or utcnow()
    if until.tzinfo is None:
        raise InvalidInput("give the time with a time zone", code="invalid_window")
    since = until - WEEK
    theme_ids = linked_theme_ids(session=session, department=department)
    costs = stats.cost_by_theme(session=session, theme_ids=theme_ids)
    top, rising = top_and_rising_lines(session=session, until=until, theme_ids=theme_ids)
    week = and_(
        ThemeMember.theme_id.in_(theme_ids), ThemeMember.concern_at >= since, ThemeMember.concern_at < until
    )
    concerns, affected = (0, 0)
    cost_week: dict[str, int] = {}
    if theme_ids:
        concerns, affected = session.execute(
            select(func.count(), func.count(func.distinct(ThemeMember.customer_id))).where(week)
        ).one()
        cost_week = stats.concession_cost(session=session, where=week)
    total: Counter[str] = Counter()
    for by_currency in costs.values():
        total.update(by_currency)
    open_cases, by_status = _cases(session=session, department_id=department.id)
    return Digest(
        department_id=department.id,
        department_name=department.name,
        department_kind=department.kind,
        since=since,
        until=until,
        themes_linked=len(theme_ids),
        concerns=int(concerns),
        customers_affected=int(affected),
        cost_week=stats.money(cost_week),
        cost_total=stats.money(dict(total)),
        top_themes=top,
        rising_themes=rising,
        open_cases=open_cases,
        cases_by_status=by_status,
    )


def _quotes(
    *, session: Session, themes: dict[int, Theme], since: dt.datetime, until: dt.datetime
) -> dict[int, list[str]]:
    """Return each theme's quotes: its stored ones, topped up from the week's closest members (one query
    for all the themes short of quotes)."""
    found = {
        theme_id: [str(q.get("text", "")) for q in theme.quotes or [] if q.get("text")][:QUOTES_PER_THEME]
        for theme_id, theme in themes.items()
    }
    short = sorted(theme_id for theme_id, quotes in found.items() if len(quotes) < QUOTES_PER_THEME)
    if short:
        rank = (
            func.row_number()
            .over(
                partition_by=ThemeMember.theme_id,
                order_by=(ThemeMember.similarity.desc(), ThemeMember.concern_at.desc()),
            )
            .label("rank")
        )
        ranked = (
            select(ThemeMember.theme_id, ThemeMember.text, rank)
            .where(
                ThemeMember.theme_id.in_(short),
                ThemeMember.concern_at >= since,
                ThemeMember.concern_at < until,
            )
            .subquery()
        )
        for theme_id, text in session.execute(
            select(ranked.c.theme_id, ranked.c.text)
            .where(ranked.c.rank <= QUOTES_PER_THEME * 2)
            .order_by(ranked.c.theme_id, ranked.c.rank)
        ).all():
            quotes = found[int(theme_id)]
            if text not in quotes and len(quotes) < QUOTES_PER_THEME:
                quotes.append(text)
    return {
        theme_id: [q if len(q) <= 300 else q[:299] + "…" for q in quotes]
        for theme_id, quotes in found.items()
    }


def _cases(*, session: Session, department_id: int) -> tuple[list[DigestCase], dict[str, int]]:
    rows = session.scalars(
        select(AdvocacyCase)
        .where(AdvocacyCase.department_id == department_id, AdvocacyCase.status.in_(list(cases.OPEN_STATES)))
        .order_by(AdvocacyCase.opened_at, AdvocacyCase.id)
        .limit(MAX_CASES)
    ).all()
    counted = cases.counts_of(session=session, case_ids=[c.id for c in rows])
    theme_ids = sorted({c.theme_id for c in rows if c.theme_id is not None})
    labels = {
        theme_id: name or label
        for theme_id, name, label in session.execute(
            select(Theme.id, Theme.name, Theme.label).where(Theme.id.in_(theme_ids))
        ).all()
    }
    by_status = Counter(str(c.status.value) for c in rows)
    return [
        DigestCase(
            case_id=c.id,
            title=c.title,
            status=c.status,
            url=cases.case_path(c.id),
            opened_at=c.opened_at,
            tickets=counted.get(c.id, (0, 0))[0],
            customers=counted.get(c.id, (0, 0))[1],
            theme_id=c.theme_id,
            theme_label=labels.get(c.theme_id) if c.theme_id is not None else None,
        )
        for c in rows
    ], dict(by_status)


# -- schedule and sending -----------------------------------------------------------------------------------
def schedule_name(department_id: int) -> str:
    return f"{SCHEDULE_PREFIX}{department_id}"


def next_due(after: dt.datetime, *, weekday: int, hour: int) -> dt.datetime:
    """Return the first ``weekday`` (0 Monday) at ``hour``:00 UTC strictly after ``after``."""
    at = after.astimezone(dt.UTC)
    slot = at.replace(hour=hour, minute=0, second=0, microsecond=0) + dt.timedelta(
        days=(weekday - at.weekday()) % 7
    )
    return slot if slot > at else slot + WEEK


def recipients(*, session: Session, department: Department) -> list[str]:
    """Return who receives the department's digest: its ``notify_email`` and its active owners."""
    found: list[str] = []
    if department.notify_email:
        found.append(department.notify_email.strip().lower())
    owners = set(department.owner_ids or [])
    for user in accounts.list_users(session=session):
        if user.id in owners and user.active and user.email.lower() not in found:
            found.append(user.email.lower())
    return found


def get_schedule(*, session: Session, department_id: int) -> Schedule | None:
    return session.get(Schedule, schedule_name(department_id))


def _claim_of(row: Schedule, now: dt.datetime) -> dict[str, Any] | None:
    """Return the run's claim on ``row`` while it holds (a run is sending the digest), else None."""
    claim = (row.outcome or {}).get(CLAIM_KEY)
    if isinstance(claim, dict) and dt.datetime.fromisoformat(str(claim.get("until"))) > now:
        return claim
    return None


def request_send(*, session: Session, principal: Principal, department_id: int) -> Schedule:
    """Make the department's digest due now ("send now"); the job sends it after the caller commits.
    Conflict while a run is sending it (its claim holds): that run's recipients must not get it twice."""
    check_advocate(principal)
    department = departments.access_department(
        session=session, principal=principal, department_id=department_id
    )
    if not recipients(session=session, department=department):
        raise InvalidInput(
            "the department has no notify email and no active owner to send the digest to; add one first",
            code="no_recipients",
        )
    now = utcnow()
    busy = Conflict(
        "the digest is being sent right now; wait for that run's outcome before sending it again",
        code="digest_sending",
    )
    row = get_schedule(session=session, department_id=department.id)
    if row is None:
        row = Schedule(name=schedule_name(department.id), due_at=now, outcome={})
        session.add(row)
        session.flush()
    else:
        if _claim_of(row, now) is not None:
            raise busy
        # A retry in progress is for an older week: this run starts afresh.
        outcome = {k: v for k, v in (row.outcome or {}).items() if k not in ("pending", CLAIM_KEY)}
        # Compare-and-set on the due time seen: a run that claimed the row meanwhile moved it.
        moved = session.execute(
            update(Schedule)
            .where(Schedule.name == row.name, Schedule.due_at == row.due_at)
            .values(due_at=now, outcome=outcome)
            .execution_options(synchronize_session=False)
        )
        if not getattr(moved, "rowcount", 0):
            raise busy
        session.refresh(row)
    audit.record(
        session=session,
        actor=principal,
        action="advocacy.digest.requested",
        entity_type="advocacy_department",
        entity_id=department.id,
        after={"due_at": now.isoformat()},
    )
    defer(session, DIGEST_JOB, department_id=department.id)
    return row


def due_department_ids(*, session: Session, limit: int) -> list[int]:
    """Return departments whose digest is due, and those with no schedule yet (the job makes one)."""
    now = utcnow()
    due = session.scalars(
        select(Schedule.name)
        .where(Schedule.name.like(f"{SCHEDULE_PREFIX}%"), Schedule.due_at <= now)
        .order_by(Schedule.due_at)
        .limit(limit)
    ).all()
    ids = [int(name[len(SCHEDULE_PREFIX) :]) for name in due if name[len(SCHEDULE_PREFIX) :].isdigit()]
    if len(ids) < limit:
        scheduled = set(
            session.scalars(select(Schedule.name).where(Schedule.name.like(f"{SCHEDULE_PREFIX}%")))
        )
        for department_id in session.scalars(select(Department.id).order_by(Department.id)):
            if len(ids) >= limit:
                break
            if schedule_name(department_id) not in scheduled:
                ids.append(department_id)
    return ids


def _claim(
    *, database: Database, department_id: int, now: dt.datetime, weekday: int, hour: int
) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """Take the department's due schedule row for this run; return its outcome so far and this run's claim
    (kept on the row under CLAIM_KEY until the outcome is recorded), or None when there is nothing to send
    (not due, claimed by another run, no department; a missing row is made for the next slot). Committed at
    once, in its own transaction, so no lock is held while the emails go out."""
    name = schedule_name(department_id)
    with database.session() as claim:
        department = claim.get(Department, department_id)
        row = claim.get(Schedule, name)
        if department is None or row is None:
            if department is None and row is not None:
                claim.delete(row)  # the department is gone: so is its digest
            elif department is not None:
                claim.add(Schedule(name=name, due_at=next_due(now, weekday=weekday, hour=hour), outcome={}))
            claim.commit()
            return None
        # Compare-and-set: of two runs that both saw the row due, one moves due_at and the other finds 0 rows.
        taken = claim.execute(
            update(Schedule)
            .where(Schedule.name == name, Schedule.due_at <= now)
            .values(due_at=now + CLAIM)
            .execution_options(synchronize_session=False)
        )
        if not getattr(taken, "rowcount", 0):
            claim.commit()
            return None
        claim.refresh(row)  # the row is ours now: read its outcome as it is
        previous = {k: v for k, v in (row.outcome or {}).items() if k != CLAIM_KEY}
        mine = {"until": (now + CLAIM).isoformat(), "token": uuid.uuid4().hex}
        row.outcome = {**previous, CLAIM_KEY: mine}
        claim.commit()
        return previous, mine


def _record_sent(
    *, database: Database, department_id: int, claim: dict[str, Any], progress: dict[str, Any], address: str
) -> bool:
    """Record at once (own short transaction) that ``address`` got the digest, so a run that dies later
    serves only the rest; False when this run lost its claim (then it stops sending)."""
    with database.session() as recording:
        row = recording.get(Schedule, schedule_name(department_id), with_for_update=True)
        if row is None or (row.outcome or {}).get(CLAIM_KEY) != claim:
            recording.rollback()
            return False
        pending = {**(row.outcome.get("pending") or {}), **progress, "state": "sending"}
        pending["sent"] = [*(pending.get("sent") or []), address]
        row.outcome = {**row.outcome, "pending": pending}
        recording.commit()
    return True


def send_digest(
    *,
    session: Session,
    database: Database,
    channels: Channels,
    email: EmailConfig,
    base_url: str,
    weekday: int,
    hour: int,
    department_id: int,
) -> None:
    """Send department ``department_id``'s digest if it is due (the job). Idempotent: a row not due, or
    claimed by another run, is left alone; a department with no row gets one for the next slot. Emails
    go out with no database lock held; each recipient served is recorded at once, the outcome after."""
    now = utcnow()
    name = schedule_name(department_id)
    claimed = _claim(database=database, department_id=department_id, now=now, weekday=weekday, hour=hour)
    if claimed is None:
        return
    previous, claim = claimed
    pending = previous.get("pending") or {}
    until = dt.datetime.fromisoformat(pending["until"]) if pending.get("until") else now
    done = list(pending.get("sent") or [])
    attempts = int(pending.get("attempts") or 0) + 1
    with database.session(write=False) as reader:
        digest = build_digest(session=reader, principal=SYSTEM, department_id=department_id, until=until)
        department = reader.get(Department, department_id)
        everyone = recipients(session=reader, department=department) if department is not None else []
        to = [a for a in everyone if a not in done]
    progress = {"until": until.isoformat(), "attempts": attempts - 1}

    def record(address: str) -> bool:
        return _record_sent(
            database=database, department_id=department_id, claim=claim, progress=progress, address=address
        )

    sent, errors, later, lost = _send_all(
        digest, to=to, adapter=channels.for_ticket_channel("email"), base_url=base_url, record=record
    )
    row = session.get(Schedule, name)
    if row is not None:
        session.refresh(row)
    if row is None or (row.outcome or {}).get(CLAIM_KEY) != claim or lost:
        # The department was deleted meanwhile, or this run outlived its claim and another took over.
        log.warning(
            "digest of department %s: the run lost its claim; its outcome is not recorded", department_id
        )
        return
    outcome: dict[str, Any] = {
        "until": until.isoformat(),
        "sent": done + sent,
        "errors": errors,
        "attempts": attempts,
        "at": now.isoformat(),
    }
    if later and attempts <= len(RETRY_WAITS):
        wait = RETRY_WAITS[attempts - 1]
        outcome.update(state="retrying", retry_in_seconds=int(wait.total_seconds()))
        row.outcome = {**previous, "pending": outcome}
        row.due_at = now + wait
        defer_in(session, DIGEST_JOB, wait, department_id=department_id)
        log.info(
            "digest of department %s: relay said try later (%s); again in %s", department_id, errors, wait
        )
    else:
        if not done + to:
            outcome.update(state="no_recipients", errors={"": "no notify email and no active owner"})
        else:
            outcome.update(state="sent" if not errors else "partly_sent" if done + sent else "failed")
        row.outcome = outcome
        row.last_run_at = now
        row.due_at = next_due(now, weekday=weekday, hour=hour)
    session.flush()
    audit.record(
        session=session,
        actor=SYSTEM,
        action="advocacy.digest.sent" if sent else "advocacy.digest.failed",
        entity_type="advocacy_department",
        entity_id=department_id,
        after={
            "recipients": sent,
            "errors": errors,
            "state": outcome["state"],
        },
    )


def _send_all(
    digest: Digest,
    *,
    to: Sequence[str],
    adapter: object,
    base_url: str,
    record: Callable[[str], bool],
) -> tuple[list[str], dict[str, str], bool, bool]:
    """Send the digest (plain text and HTML) to each address, recording each one served; return (sent,
    errors per address, whether to try again later, whether the run lost its claim and stopped)."""
    sent: list[str] = []
    errors: dict[str, str] = {}
    later = False
    text, html = render_text(digest, base_url=base_url), render_html(digest, base_url=base_url)
    for address in to:
        try:
            if not isinstance(adapter, EmailAdapter):
                raise Undeliverable("the email channel is not set up: set OMBUD_SMTP_RELAY to host:port")
            adapter.send_notice(to=address, subject=subject(digest), text=text, html=html)
        except Undeliverable as exc:
            errors[address] = str(exc) or type(exc).__name__
            continue
        except TryLater as exc:
            errors[address] = str(exc) or type(exc).__name__
            later = True
            continue
        sent.append(address)
        if not record(address):
            return sent, errors, later, True
    return sent, errors, later, False


def register(
    queue: JobQueue,
    *,
    database: Database,
    channels: Channels,
    email: EmailConfig,
    base_url: str,
    weekday: int,
    hour: int,
) -> None:
    queue.register(
        DIGEST_JOB,
        functools.partial(
            send_digest,
            database=database,
            channels=channels,
            email=email,
            base_url=base_url,
            weekday=weekday,
            hour=hour,
        ),
        # Retries are scheduled by the job itself with backoff and recorded on the schedule row.
        retries=0,
    )
    queue.register_sweep(SweepSource(job=DIGEST_JOB, id_arg="department_id", find=due_department_ids))
