"""Reports: fold ticket events into per-ticket facts and daily sums as they happen, and read reports
(first response and resolution times, SLA attainment, volume, CSAT and NPS, concessions, concerns) from
those sums; the backlog is the one report read from the tickets themselves, because it is current state.

How a ticket is counted is one pure function of its facts (:func:`contributions`): when an event changes
the facts, the difference between what the old and the new facts contribute is added to ``report_counts``
with one atomic upsert per changed cell. Every cell is an integer (a count, whole seconds, a score, or money
in the currency's minor units: cents, fils), so moving a ticket between cells leaves no rounding residue
and sums of money are exact. Medians and 90th percentiles come from histogram buckets kept
beside the sums (:data:`BUCKETS`), so no report ever reads single tickets or messages.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import Table, delete, func, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ombud.accounts import service as accounts
from ombud.accounts.schemas import Principal
from ombud.errors import Forbidden, InvalidInput
from ombud.events import service as events
from ombud.events.service import EventRecord
from ombud.reports.models import ReportCount, ReportTicket
from ombud.reports.schemas import Dimension, Grouping, ReportName, ReportQuery, ReportTable
from ombud.resolutions import currencies as money
from ombud.storage.base import utcnow
from ombud.storage.db import race_savepoint
from ombud.tickets.models import Ticket, TicketRating

# Histogram bucket upper bounds in minutes (the last bucket is open): 5 min ... 30 days.
BUCKETS: tuple[int, ...] = (5, 15, 30, 60, 120, 240, 480, 1440, 2880, 4320, 7200, 10080, 20160, 43200)
OPEN_STATUSES = frozenset({"new", "open", "pending", "on_hold"})
DONE_STATUSES = frozenset({"solved", "closed"})
HANDLED = frozenset(
    {
        "ticket.created",
        "ticket.updated",
        "message.added",
        "message.triaged",
        "ticket.rated",
        "sla.achieved",
        "sla.breached",
        "resolution.applied",
        "concern.created",
    }
)
MAX_DAYS = 366 * 3
MAX_LABEL = 40
# Backlog age buckets: (label, upper bound in hours; None = open).
AGE_BUCKETS: tuple[tuple[str, float | None], ...] = (
    ("under 4h", 4),
    ("4-24h", 24),
    ("1-3d", 72),
    ("3-7d", 168),
    ("7-30d", 720),
    ("over 30d", None),
)

Cell = tuple[dt.date, str, int, str, int, str]  # day, channel, team, intent, agent, measure


# -- facts ----------------------------------------------------------------------------------------------
def _iso(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).isoformat()


def _at(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value)


def _day(value: str) -> str:
    return _at(value).date().isoformat()


def _label(value: Any) -> str:
    return str(value or "").strip()[:MAX_LABEL]


def bucket_of(minutes: float) -> int:
    """Return the index of the histogram bucket ``minutes`` falls in."""
    for index, bound in enumerate(BUCKETS):
        if minutes <= bound:
            return index
    return len(BUCKETS)


def fold(facts: dict[str, Any], event: EventRecord) -> dict[str, Any]:
    """Return ``facts`` with ``event`` folded in (a new dict; facts are JSON-ready)."""
    facts = copy.deepcopy(facts)
    at = _iso(event.created_at)
    payload = event.payload or {}
    after = payload.get("after") or {}
    kind = event.kind
    if kind == "ticket.created":
        facts.setdefault("created", at)
        facts["channel"] = after.get("channel") or facts.get("channel") or ""
        _change(facts, after, at)
    elif kind == "ticket.updated":
        _change(facts, after, at)
    elif kind == "message.added":
        _change(facts, after.get("ticket") or {}, at)
        # A staff member's public reply; the system's messages (a survey link) are no response.
        if event.actor_type == "user" and not facts.get("first_response"):
            facts["first_response"] = at
    elif kind == "message.triaged":
        intents = payload.get("intents") or []
        if intents and not facts.get("intent"):
            facts["intent"] = _label(intents[0])
    elif kind == "ticket.rated":
        if after.get("score") is not None:
            facts["rating"] = [at, int(after["score"])]
        if "nps" in after:
            facts["nps"] = None if after["nps"] is None else [at, int(after["nps"])]
    elif kind in ("sla.achieved", "sla.breached"):
        _sla_outcome(facts, kind, after or payload, at)
    elif kind == "resolution.applied":
        currency = _label(after.get("currency")).upper()
        facts.setdefault("concessions", []).append(
            [
                at,
                _label(after.get("reason") or after.get("kind") or "unspecified"),
                currency,
                _minor_of(after, currency),
            ]
        )
    elif kind == "concern.created":
        facts["concerns"] = [*facts.get("concerns", []), at]
    return facts


def _decimals(currency: str) -> int:
    return money.CURRENCIES.get(currency, 2)


def _minor_of(after: dict[str, Any], currency: str) -> int:
    """Return the concession's amount in minor units: ``amount_minor`` as the resolution publishes it, else
    the ``amount`` (a JSON number) converted exactly with the currency's decimals; 0 when there is none."""
    minor = after.get("amount_minor")
    if isinstance(minor, int) and not isinstance(minor, bool):
        return minor
    amount = after.get("amount")
    if isinstance(amount, bool) or not isinstance(amount, int | float | str):
        return 0
    try:
        # str() first: the decimal a JSON number was written as, not its binary float (1.235, not 1.23499..).
        exact = Decimal(str(amount)).scaleb(_decimals(currency)).to_integral_value()
    except (InvalidOperation, ValueError):
        return 0
    return int(exact) if exact.is_finite() else 0


def _sla_outcome(facts: dict[str, Any], kind: str, body: dict[str, Any], at: str) -> None:
    """Count one outcome per SLA clock: a clock that breached (``sla.breached``, on the day it did) and is
    later met (``sla.achieved`` with ``breached`` true) counts once, as breached."""
    metric = _label(body.get("metric") or "sla")
    waiting = facts.setdefault("sla_breached_open", {})
    if kind == "sla.breached":
        waiting[metric] = True
        facts.setdefault("sla", []).append([at, metric, True])
        return
    breached = bool(body.get("breached", False))
    if waiting.pop(metric, False) and breached:
        return  # the breach was counted when it happened
    facts.setdefault("sla", []).append([at, metric, breached])


def _change(facts: dict[str, Any], changed: dict[str, Any], at: str) -> None:
    if "team_id" in changed:
        facts["team_id"] = changed["team_id"]
    if "assignee_id" in changed:
        facts["agent_id"] = changed["assignee_id"]
    status = changed.get("status")
    if status in DONE_STATUSES and not facts.get("solved"):
        facts["solved"] = at
    elif status in OPEN_STATUSES and facts.get("solved"):
        facts["solved"] = None
        facts["reopens"] = [*facts.get("reopens", []), at]


def contributions(facts: dict[str, Any]) -> dict[Cell, int]:
    """Return what a ticket with ``facts`` adds to each cell of ``report_counts`` (integers only: times in
    whole seconds, money in minor units)."""
    out: dict[Cell, int] = defaultdict(int)
    created = facts.get("created")
    if not created:
        return out
    dims = (
        str(facts.get("channel") or ""),
        int(facts.get("team_id") or 0),
        str(facts.get("intent") or ""),
        int(facts.get("agent_id") or 0),
    )

    def add(when: str, measure: str, value: int = 1) -> None:
        out[(_at(when).date(), *dims, measure)] += value

    add(created, "created")
    start = _at(created)
    first = facts.get("first_response")
    if first:
        seconds = max((_at(first) - start).total_seconds(), 0.0)
        add(first, "frt_n")
        add(first, "frt_sec", round(seconds))
        add(first, f"frt_b{bucket_of(seconds / 60)}")
    solved = facts.get("solved")
    if solved:
        seconds = max((_at(solved) - start).total_seconds(), 0.0)
        add(solved, "solved")
        add(solved, "res_sec", round(seconds))
        add(solved, f"res_b{bucket_of(seconds / 60)}")
    for when in facts.get("reopens", []):
        add(when, "reopened")
    for when in facts.get("concerns", []):
        add(when, "concerns")
    for when, metric, breached in facts.get("sla", []):
        add(when, f"sla_{'breached' if breached else 'met'}:{metric}")
    rating = facts.get("rating")
    if rating:
        when, score = rating
        add(when, "csat_n")
        add(when, "csat_sum", int(score))
        add(when, f"csat_s{score}")
    nps = facts.get("nps")
    if nps:
        when, score = nps
        add(when, "nps_n")
        add(when, "nps_promoters" if score >= 9 else "nps_detractors" if score <= 6 else "nps_passives")
    for when, reason, currency, minor in facts.get("concessions", []):
        add(when, f"conc_n:{reason}")
        add(when, f"conc_minor:{currency}:{reason}", int(minor))
    return out


def _apply(session: Session, delta: dict[Cell, int]) -> None:
    """Add ``delta`` to the counts, one atomic upsert per cell (concurrent workers never lose an update)."""
    cells = [(cell, value) for cell, value in delta.items() if value]
    if not cells:
        return
    table: Table = ReportCount.__table__  # type: ignore[assignment]
    dialect = session.get_bind().dialect.name
    maker = postgresql.insert if dialect == "postgresql" else sqlite.insert
    keys = ["day", "channel", "team_id", "intent", "agent_id", "measure"]
    for cell, value in cells:
        statement = maker(table).values(**dict(zip(keys, cell, strict=True)), value=value)
        statement = statement.on_conflict_do_update(
            index_elements=keys, set_={"value": table.c.value + statement.excluded.value}
        )
        session.execute(statement)


def _difference(old: dict[str, Any], new: dict[str, Any]) -> dict[Cell, int]:
    delta: dict[Cell, int] = defaultdict(int)
    for cell, value in contributions(new).items():
        delta[cell] += value
    for cell, value in contributions(old).items():
        delta[cell] -= value
    return delta


# -- the consumer ---------------------------------------------------------------------------------------
def on_event(*, session: Session, event: EventRecord) -> None:
    """Fold one ticket event into the ticket's facts and the daily counts (the ``reports`` consumer)."""
    if event.kind not in HANDLED or event.ticket_id is None:
        return
    row = _fact_row(session, event.ticket_id)
    if row is None:
        seeded = (
            {} if event.kind == "ticket.created" else seed_facts(session=session, ticket_id=event.ticket_id)
        )
        if seeded is None:
            return  # a ticket that no longer exists
        row = _insert_fact_row(session, event.ticket_id, seeded)
    if event.id <= row.last_event_id:
        return
    old = dict(row.facts or {})
    new = fold(old, event)
    _apply(session, _difference(old, new))
    row.facts = new
    row.last_event_id = event.id
    row.updated_at = utcnow()
    session.flush()


def _fact_row(session: Session, ticket_id: int) -> ReportTicket | None:
    query = select(ReportTicket).where(ReportTicket.ticket_id == ticket_id)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    return session.scalar(query)


def _insert_fact_row(session: Session, ticket_id: int, facts: dict[str, Any]) -> ReportTicket:
    row = ReportTicket(ticket_id=ticket_id, facts=facts, last_event_id=0, updated_at=utcnow())
    try:
        with race_savepoint(session):
            session.add(row)
            session.flush()
            _apply(session, contributions(facts))
    except IntegrityError:
        found = _fact_row(session, ticket_id)
        assert found is not None
        return found
    return row


def seed_facts(*, session: Session, ticket_id: int) -> dict[str, Any] | None:
    """Return the facts the tickets table holds about a ticket the consumer has not seen created (one from
    before reports existed): when it was created, answered and solved, where it sits, and its rating."""
    ticket = session.get(Ticket, ticket_id)
    if ticket is None:
        return None
    rating = session.scalar(select(TicketRating).where(TicketRating.ticket_id == ticket_id))
    return _facts_of(ticket, rating)


def _facts_of(ticket: Ticket, rating: TicketRating | None) -> dict[str, Any]:
    facts: dict[str, Any] = {
        "created": _iso(ticket.created_at),
        "channel": ticket.channel.value,
        "team_id": ticket.team_id,
        "agent_id": ticket.assignee_id,
        "first_response": _iso(ticket.first_response_at) if ticket.first_response_at else None,
        "solved": _iso(ticket.resolved_at) if ticket.resolved_at and not ticket.is_open else None,
    }
    if rating is not None:
        facts["rating"] = [_iso(rating.created_at), rating.score]
    return facts


# -- rebuild --------------------------------------------------------------------------------------------
REPLAYED_ON_REBUILD = (
    "message.triaged",
    "sla.achieved",
    "sla.breached",
    "resolution.applied",
    "concern.created",
)


def rebuild(*, session: Session, batch: int = 1000) -> int:
    """Recompute every fact and count (after an upgrade, or to repair them); return the tickets counted.

    A ticket whose whole history is in the event outbox (its ``ticket.created`` is there) is folded from
    its events exactly as the consumer did. An older ticket starts from what the tickets table holds
    (created, first response, solved, team, agent, rating); what only the outbox records (intent, SLA
    outcomes, concessions, concerns, NPS answers) is then replayed from it, in order.
    """
    from ombud.events.models import Event  # the outbox is read here only, for a rebuild

    session.execute(delete(ReportCount))
    session.execute(delete(ReportTicket))
    full = set(
        session.scalars(
            select(Event.ticket_id)
            .where(Event.kind == "ticket.created", Event.ticket_id.is_not(None))
            .distinct()
        )
    )
    facts: dict[int, dict[str, Any]] = {}
    last_id = 0
    while True:
        tickets = session.scalars(
            select(Ticket).where(Ticket.id > last_id).order_by(Ticket.id).limit(batch)
        ).all()
        if not tickets:
            break
        ids = [t.id for t in tickets]
        ratings = {
            r.ticket_id: r
            for r in session.scalars(select(TicketRating).where(TicketRating.ticket_id.in_(ids)))
        }
        for ticket in tickets:
            facts[ticket.id] = {} if ticket.id in full else _facts_of(ticket, ratings.get(ticket.id))
        last_id = ids[-1]
        session.expunge_all()
    cursor = 0
    while True:
        rows = session.scalars(
            select(Event)
            .where(Event.id > cursor, Event.ticket_id.is_not(None), Event.kind.in_(sorted(HANDLED)))
            .order_by(Event.id)
            .limit(batch)
        ).all()
        if not rows:
            break
        for row in rows:
            cursor = row.id
            ticket_id = int(row.ticket_id or 0)
            ticket_facts = facts.get(ticket_id)
            if ticket_facts is None:
                continue
            record = events.record_of(row)
            replayed = record if ticket_id in full else _outbox_only(record)
            if replayed is not None:
                facts[ticket_id] = fold(ticket_facts, replayed)
        session.expunge_all()
    last_event = session.scalar(select(func.max(Event.id))) or 0
    total: dict[Cell, int] = defaultdict(int)
    for ticket_id, ticket_facts in facts.items():
        session.add(ReportTicket(ticket_id=ticket_id, facts=ticket_facts, last_event_id=last_event))
        for cell, value in contributions(ticket_facts).items():
            total[cell] += value
    session.flush()
    _apply(session, total)
    session.flush()
    return len(facts)


def _outbox_only(record: EventRecord) -> EventRecord | None:
    """Return the part of ``record`` the tickets table does not hold (None if it holds all of it)."""
    if record.kind == "ticket.rated":
        # The rating itself comes from the table; only the NPS answer from the event.
        after = record.payload.get("after") or {}
        return (
            dataclasses.replace(record, payload={"after": {"nps": after["nps"]}}) if "nps" in after else None
        )
    return record if record.kind in REPLAYED_ON_REBUILD else None


# -- reading --------------------------------------------------------------------------------------------
REPORT_ROLES = frozenset({"admin", "lead", "advocate"})
TITLES = {
    ReportName.volume: "Volume: tickets created, solved and reopened",
    ReportName.response_times: "First response and resolution times (minutes)",
    ReportName.sla: "SLA attainment",
    ReportName.csat: "Customer satisfaction (CSAT 1-5, NPS)",
    ReportName.concessions: "Concessions by reason",
    ReportName.concerns: "Concerns and tickets",
    ReportName.backlog: "Open tickets by age (now)",
}


def scope_of(principal: Principal) -> int | None:
    """Return None when ``principal`` sees everyone's figures, or the agent id whose figures they see."""
    if principal.kind == "system" or (principal.kind == "user" and str(principal.role) in REPORT_ROLES):
        return None
    if principal.kind == "user" and str(principal.role) == "agent" and principal.id is not None:
        return principal.id
    raise Forbidden("reports are for staff who serve customers", code="role_forbidden")


def check_query(query: ReportQuery) -> None:
    if query.end < query.start:
        raise InvalidInput("the range ends before it starts: give start <= end", code="invalid_range")
    if (query.end - query.start).days > MAX_DAYS:
        raise InvalidInput(f"a report covers at most {MAX_DAYS} days; narrow the range", code="invalid_range")


def report(*, session: Session, principal: Principal, name: ReportName, query: ReportQuery) -> ReportTable:
    """Return report ``name`` over ``query``'s range, by period and breakdown; agents get their own only."""
    agent = scope_of(principal)
    check_query(query)
    if name is ReportName.backlog:
        return _backlog(session, query, agent)
    prefixes = _MEASURES[name]
    sums = _sums(session, query, agent, prefixes)
    labels = _labels(session, query.by, {key[1] for key in sums})
    columns, rows = _BUILDERS[name](sums, labels, query)
    return ReportTable(
        name=name,
        title=TITLES[name],
        start=query.start,
        end=query.end,
        group=query.group,
        by=query.by,
        scope="all" if agent is None else f"agent:{agent}",
        columns=columns,
        rows=rows,
        notes=_NOTES.get(name, []),
    )


_MEASURES: dict[ReportName, tuple[str, ...]] = {
    ReportName.volume: ("created", "solved", "reopened"),
    ReportName.response_times: ("frt_", "res_", "solved"),
    ReportName.sla: ("sla_",),
    ReportName.csat: ("csat_", "nps_"),
    ReportName.concessions: ("conc_",),
    ReportName.concerns: ("created", "concerns"),
}
_NOTES = {
    ReportName.response_times: [
        "Calendar minutes from the ticket's creation; medians and 90th percentiles are estimated within "
        "histogram buckets (5, 15, 30, 60 minutes, 2, 4, 8 hours, 1-30 days)."
    ],
    ReportName.sla: ["From the SLA clocks' sla.achieved and sla.breached events, by the day they happened."],
}

Sums = dict[tuple[str, str], dict[str, int]]  # (period, group) -> measure -> value


def _period(day: dt.date, query: ReportQuery) -> str:
    if query.group is Grouping.day:
        return day.isoformat()
    if query.group is Grouping.week:
        year, week, _ = day.isocalendar()
        return f"{year}-W{week:02d}"
    if query.group is Grouping.month:
        return f"{day.year}-{day.month:02d}"
    return f"{query.start.isoformat()}..{query.end.isoformat()}"


def _sums(session: Session, query: ReportQuery, agent: int | None, prefixes: Sequence[str]) -> Sums:
    column = {
        Dimension.channel: ReportCount.channel,
        Dimension.team: ReportCount.team_id,
        Dimension.intent: ReportCount.intent,
        Dimension.agent: ReportCount.agent_id,
    }.get(query.by)
    wanted = or_(
        *[
            ReportCount.measure.startswith(p) if p.endswith("_") else ReportCount.measure == p
            for p in prefixes
        ]
    )
    statement = select(
        ReportCount.day,
        column.label("grp") if column is not None else func.min("").label("grp"),
        ReportCount.measure,
        func.sum(ReportCount.value),
    ).where(ReportCount.day >= query.start, ReportCount.day <= query.end, wanted)
    if agent is not None:
        statement = statement.where(ReportCount.agent_id == agent)
    group_by: list[Any] = [ReportCount.day, ReportCount.measure]
    if column is not None:
        group_by.insert(1, column)
    statement = statement.group_by(*group_by)
    sums: Sums = defaultdict(lambda: defaultdict(int))
    for day, group, measure, value in session.execute(statement):
        sums[(_period(day, query), "" if column is None else str(group))][measure] += int(value or 0)
    return sums


def _labels(session: Session, by: Dimension, keys: Iterable[str]) -> dict[str, str]:
    keys = set(keys)
    if by is Dimension.team:
        names = {str(t.id): t.name for t in accounts.list_teams(session=session)}
        return {k: names.get(k, "no team" if k == "0" else f"team {k}") for k in keys}
    if by is Dimension.agent:
        names = {str(u.id): u.name or u.email for u in accounts.list_users(session=session)}
        return {k: names.get(k, "unassigned" if k == "0" else f"user {k}") for k in keys}
    if by is Dimension.intent:
        return {k: k or "not triaged" for k in keys}
    return {k: k for k in keys}


def _base(period: str, group: str, labels: dict[str, str], query: ReportQuery) -> dict[str, Any]:
    row: dict[str, Any] = {"period": period}
    if query.by is not Dimension.none:
        row[query.by.value] = labels.get(group, group)
    return row


def _lead(query: ReportQuery) -> list[str]:
    return ["period"] + ([] if query.by is Dimension.none else [query.by.value])


def _ordered(sums: Sums, labels: dict[str, str]) -> list[tuple[str, str, dict[str, int]]]:
    return sorted(
        ((p, g, m) for (p, g), m in sums.items()), key=lambda item: (item[0], labels.get(item[1], item[1]))
    )


def percentile(hist: Sequence[float], q: float) -> float | None:
    """Return the ``q`` quantile (0..1) estimated from bucket counts ``hist`` (linear within a bucket;
    the open last bucket answers its lower bound). None when empty."""
    total = sum(hist)
    if total <= 0:
        return None
    target = q * total
    seen = 0.0
    for index, count in enumerate(hist):
        if count <= 0:
            continue
        if seen + count >= target:
            lower = 0.0 if index == 0 else float(BUCKETS[index - 1])
            if index >= len(BUCKETS):
                return lower
            upper = float(BUCKETS[index])
            return round(lower + (upper - lower) * (target - seen) / count, 1)
        seen += count
    return float(BUCKETS[-1])


def _hist(measures: dict[str, int], family: str) -> list[float]:
    return [float(measures.get(f"{family}_b{i}", 0)) for i in range(len(BUCKETS) + 1)]


def _ratio(part: float, whole: float, scale: float = 1.0) -> float | None:
    return round(scale * part / whole, 2) if whole else None


def _volume(sums: Sums, labels: dict[str, str], query: ReportQuery) -> tuple[list[str], list[dict[str, Any]]]:
    rows = []
    for period, group, m in _ordered(sums, labels):
        created, solved = int(m.get("created", 0)), int(m.get("solved", 0))
        rows.append(
            {
                **_base(period, group, labels, query),
                "created": created,
                "solved": solved,
                "reopened": int(m.get("reopened", 0)),
                "backlog_change": created - solved,
            }
        )
    return [*_lead(query), "created", "solved", "reopened", "backlog_change"], rows


def _times(sums: Sums, labels: dict[str, str], query: ReportQuery) -> tuple[list[str], list[dict[str, Any]]]:
    rows = []
    for period, group, m in _ordered(sums, labels):
        frt, res = _hist(m, "frt"), _hist(m, "res")
        n_frt, n_res = m.get("frt_n", 0), m.get("solved", 0)
        if not n_frt and not n_res:
            continue
        rows.append(
            {
                **_base(period, group, labels, query),
                "first_responses": int(n_frt),
                "first_response_mean": _ratio(m.get("frt_sec", 0), n_frt, 1 / 60),
                "first_response_median": percentile(frt, 0.5),
                "first_response_p90": percentile(frt, 0.9),
                "resolutions": int(n_res),
                "resolution_mean": _ratio(m.get("res_sec", 0), n_res, 1 / 60),
                "resolution_median": percentile(res, 0.5),
                "resolution_p90": percentile(res, 0.9),
            }
        )
    columns = [
        "first_responses",
        "first_response_mean",
        "first_response_median",
        "first_response_p90",
        "resolutions",
        "resolution_mean",
        "resolution_median",
        "resolution_p90",
    ]
    return [*_lead(query), *columns], rows


def _sla(sums: Sums, labels: dict[str, str], query: ReportQuery) -> tuple[list[str], list[dict[str, Any]]]:
    rows = []
    for period, group, m in _ordered(sums, labels):
        metrics = sorted({key.partition(":")[2] for key in m})
        for metric in metrics:
            met, breached = m.get(f"sla_met:{metric}", 0.0), m.get(f"sla_breached:{metric}", 0.0)
            rows.append(
                {
                    **_base(period, group, labels, query),
                    "metric": metric,
                    "met": int(met),
                    "breached": int(breached),
                    "attainment_pct": _ratio(met, met + breached, 100),
                }
            )
    return [*_lead(query), "metric", "met", "breached", "attainment_pct"], rows


def _csat(sums: Sums, labels: dict[str, str], query: ReportQuery) -> tuple[list[str], list[dict[str, Any]]]:
    rows = []
    for period, group, m in _ordered(sums, labels):
        n, nps_n = m.get("csat_n", 0.0), m.get("nps_n", 0.0)
        if not n and not nps_n:
            continue
        good = m.get("csat_s4", 0.0) + m.get("csat_s5", 0.0)
        promoters, detractors = m.get("nps_promoters", 0.0), m.get("nps_detractors", 0.0)
        row = {
            **_base(period, group, labels, query),
            "ratings": int(n),
            "average": _ratio(m.get("csat_sum", 0.0), n),
            "satisfied_pct": _ratio(good, n, 100),
        }
        row |= {f"score_{s}": int(m.get(f"csat_s{s}", 0)) for s in range(1, 6)}
        row |= {
            "nps_responses": int(nps_n),
            "nps": round(100 * (promoters - detractors) / nps_n, 1) if nps_n else None,
        }
        rows.append(row)
    columns = [
        "ratings",
        "average",
        "satisfied_pct",
        *[f"score_{s}" for s in range(1, 6)],
        "nps_responses",
        "nps",
    ]
    return [*_lead(query), *columns], rows


def _concessions(
    sums: Sums, labels: dict[str, str], query: ReportQuery
) -> tuple[list[str], list[dict[str, Any]]]:
    rows = []
    for period, group, m in _ordered(sums, labels):
        # Money in minor units (exact integers), shown with the currency's own decimals (KWD has 3).
        amounts: dict[tuple[str, str], int] = defaultdict(int)
        counts: dict[str, int] = defaultdict(int)
        for key, value in m.items():
            if key.startswith("conc_n:"):
                counts[key.partition(":")[2]] += value
            elif key.startswith("conc_minor:"):
                currency, _, reason = key.partition(":")[2].partition(":")
                amounts[(reason, currency)] += value
        for reason in sorted(counts):
            if not counts[reason] and not any(v for (r, _), v in amounts.items() if r == reason):
                continue  # every concession of this cell moved elsewhere (another team or agent)
            currencies = sorted(c for r, c in amounts if r == reason) or [""]
            for currency in currencies:
                rows.append(
                    {
                        **_base(period, group, labels, query),
                        "reason": reason,
                        "currency": currency,
                        "count": counts[reason] if currency == currencies[0] else 0,
                        "amount": _amount(amounts.get((reason, currency), 0), currency),
                    }
                )
    return [*_lead(query), "reason", "currency", "count", "amount"], rows


def _amount(minor: int, currency: str) -> float:
    """Return minor units as a JSON number with the currency's decimals (1235 KWD fils: 1.235)."""
    return float(money.from_minor(minor, currency)) if currency else 0.0


def _concerns(
    sums: Sums, labels: dict[str, str], query: ReportQuery
) -> tuple[list[str], list[dict[str, Any]]]:
    rows = []
    for period, group, m in _ordered(sums, labels):
        created, concerns = m.get("created", 0.0), m.get("concerns", 0.0)
        rows.append(
            {
                **_base(period, group, labels, query),
                "tickets": int(created),
                "concerns": int(concerns),
                "concerns_per_ticket": _ratio(concerns, created),
            }
        )
    return [*_lead(query), "tickets", "concerns", "concerns_per_ticket"], rows


_BUILDERS = {
    ReportName.volume: _volume,
    ReportName.response_times: _times,
    ReportName.sla: _sla,
    ReportName.csat: _csat,
    ReportName.concessions: _concessions,
    ReportName.concerns: _concerns,
}


def _backlog(session: Session, query: ReportQuery, agent: int | None) -> ReportTable:
    """Open tickets now, by age: current state, so read from the tickets table through its
    (is_open, queue_rank, id) index rather than from the daily sums."""
    column = {
        Dimension.channel: Ticket.channel,
        Dimension.team: Ticket.team_id,
        Dimension.agent: Ticket.assignee_id,
    }.get(query.by)
    statement = select(Ticket.created_at, column if column is not None else Ticket.id).where(
        Ticket.is_open.is_(True)
    )
    if agent is not None:
        statement = statement.where(Ticket.assignee_id == agent)
    now = utcnow()
    counts: Counter[tuple[str, str]] = Counter()
    for created_at, group in session.execute(statement):
        hours = (now - created_at).total_seconds() / 3600
        label = next(name for name, bound in AGE_BUCKETS if bound is None or hours < bound)
        key = "" if column is None else str(getattr(group, "value", group) or 0)
        counts[(key, label)] += 1
    by = query.by if column is not None else Dimension.none
    labels = _labels(session, by, {key for key, _ in counts})
    groups = sorted({key for key, _ in counts}, key=lambda k: labels.get(k, k)) or [""]
    rows = []
    for key in groups:
        row: dict[str, Any] = {"period": now.date().isoformat()}
        if by is not Dimension.none:
            row[by.value] = labels.get(key, key)
        row |= {name: counts[(key, name)] for name, _ in AGE_BUCKETS}
        row["open"] = sum(counts[(key, name)] for name, _ in AGE_BUCKETS)
        rows.append(row)
    lead = ["period"] + ([] if by is Dimension.none else [by.value])
    notes = ["Current state (the range does not apply), read from the open tickets' index."]
    if query.by is Dimension.intent:
        notes.append("The backlog has no intent breakdown; shown without one.")
    return ReportTable(
        name=ReportName.backlog,
        title=TITLES[ReportName.backlog],
        start=query.start,
        end=query.end,
        group=query.group,
        by=by,
        scope="all" if agent is None else f"agent:{agent}",
        columns=[*lead, *[name for name, _ in AGE_BUCKETS], "open"],
        rows=rows,
        notes=notes,
    )


def to_csv(table: ReportTable) -> str:
    """Return the report as CSV (a header row, then one line per row; empty cells for no value)."""
    import csv
    import io

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(table.columns)
    for row in table.rows:
        writer.writerow(["" if row.get(c) is None else _csv_cell(row.get(c)) for c in table.columns])
    return out.getvalue()


def _csv_cell(value: Any) -> str:
    text = str(value)
    # Spreadsheets run cells that start like a formula: a team or intent name must stay text.
    return "'" + text if text[:1] in ("=", "+", "-", "@") and not _is_number(text) else text


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
