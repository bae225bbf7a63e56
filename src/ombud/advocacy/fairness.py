"""Fairness and consistency: three lists an advocate can act on, each row with links to the tickets and
customers concerned and the evidence.

- **Unequal treatment** (:func:`unequal_treatment`): similar concerns whose tickets received very different
  concessions. Concerns are "similar" when they are in the same theme; a concern no theme holds (yet) falls
  back to its intent. Amounts come from the resolutions ledger (applied resolutions only), compared in each
  currency's exact minor units, never converted.
- **Repeat contacts** (:func:`repeat_contacts`): customers who contacted us three or more times about the
  same theme (or intent) without a resolution.
- **Policy that no longer fits** (:mod:`ombud.advocacy.fairness_policy`): themes where agents' replies
  cite policy while the customers stay dissatisfied (a low rating, or a frustrated next message).

All three read concerns written in a window (default the last :data:`WINDOW` days), at most
:data:`MAX_SCAN` of the newest, and page their result with ``offset``/``limit`` (the shapes are in
:mod:`ombud.advocacy.fairness_schemas`). The thresholds are named constants; docs/advocacy.md
explains each.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from ombud.accounts.schemas import Principal
from ombud.advocacy.access import check_advocate
from ombud.advocacy.digest_schemas import theme_url
from ombud.advocacy.fairness_schemas import (
    ContactTicket,
    CurrencySpread,
    FairnessPage,
    Group,
    RepeatContact,
    TicketFinding,
    UnequalGroup,
)
from ombud.advocacy.models import Theme, ThemeMember
from ombud.customers import service as customers
from ombud.errors import InvalidInput
from ombud.resolutions import currencies as money
from ombud.resolutions.models import Resolution, ResolutionStatus
from ombud.storage.base import utcnow
from ombud.tickets.models import (
    OPEN_CONCERN_STATUSES,
    AuthorType,
    Concern,
    ConcernStatus,
    Message,
    Ticket,
)

# -- thresholds ----------------------------------------------------------------------------------------------
# The window the lists look at, by the concerns' creation time, and how many concerns at most (newest first).
WINDOW = dt.timedelta(days=90)
MAX_WINDOW = dt.timedelta(days=3 * 366)
MAX_SCAN = 50_000
DEFAULT_LIMIT, MAX_LIMIT = 20, 100
# IN (...) lists are sent in chunks: SQLite caps the number of bound parameters.
CHUNK = 500

# Unequal treatment. A group (theme or intent) is compared once it has this many settled tickets (closed,
# or granted something): fewer are anecdotes.
MIN_GROUP_TICKETS = 5
# "Got nothing while most got something": at least this share of the group's settled tickets got a
# concession, and this one (closed) got none.
MOST_GOT_SOMETHING = 0.6
# Amounts are compared with the group's median in the same currency once that many tickets got an amount.
MIN_AMOUNT_PEERS = 3
# Far above: at least 3 times the median; far below: at most a third of it.
FAR_ABOVE = Fraction(3)
FAR_BELOW = Fraction(1, 3)
MAX_OUTLIERS = 20  # per group shown (the count says how many there are)

# Repeat contacts: a contact is a customer message on a distinct UTC day of one ticket (so two tickets the
# same day are two contacts, three messages on one ticket the same day are one).
REPEAT_MIN_CONTACTS = 3


# -- reading concerns ----------------------------------------------------------------------------------------
@dataclass
class _Row:
    concern_id: int
    ticket_id: int
    customer_id: int
    intent: str | None
    status: ConcernStatus
    created_at: dt.datetime
    ticket_open: bool
    ticket_status: str
    subject: str
    ticket_created_at: dt.datetime
    theme_id: int | None


@dataclass
class _Scan:
    rows: list[_Row]
    groups: dict[tuple[str, Any], Group]
    key_of: dict[int, tuple[str, Any]]  # concern id -> group key
    tickets: dict[int, _Row] = field(default_factory=dict)  # ticket id -> one of its rows


def chunks(values: Iterable[int]) -> Iterator[list[int]]:
    items = sorted(set(values))
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]


def ticket_url(ticket_id: int) -> str:
    return f"/agent/tickets/{ticket_id}"


def customer_url(ticket_id: int) -> str:
    """The customer's page in the workspace: their 360 beside one of their tickets (there is no page of
    its own for a customer)."""
    return f"{ticket_url(ticket_id)}#c360-title"


def window(since: dt.datetime | None, until: dt.datetime | None) -> tuple[dt.datetime, dt.datetime]:
    """Return the (since, until) to read: defaults to the last :data:`WINDOW`; 422 when it is backwards or
    longer than three years."""
    until = until or utcnow()
    if (since is not None and since.tzinfo is None) or until.tzinfo is None:
        raise InvalidInput("give times with a time zone (e.g. 2026-01-01T00:00:00Z)", code="invalid_window")
    try:
        since = (since or until - WINDOW).astimezone(dt.UTC)
        until = until.astimezone(dt.UTC)
    except OverflowError:
        raise InvalidInput("give times between the years 1 and 9999", code="invalid_window") from None
    if since >= until:
        raise InvalidInput("since must be before until", code="invalid_window")
    if until - since > MAX_WINDOW:
        raise InvalidInput("the window may span at most three years", code="invalid_window")
    return since, until


def page_args(offset: int, limit: int) -> None:
    if offset < 0:
        raise InvalidInput("offset must be 0 or more", code="invalid_page")
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"limit must be between 1 and {MAX_LIMIT}", code="invalid_page")


def scan_concerns(*, session: Session, since: dt.datetime, until: dt.datetime) -> _Scan:
    query = (
        select(
            Concern.id,
            Concern.ticket_id,
            Ticket.customer_id,
            Concern.intent,
            Concern.status,
            Concern.created_at,
            Ticket.is_open,
            Ticket.status,
            Ticket.subject,
            Ticket.created_at,
            ThemeMember.theme_id,
        )
        .join(Ticket, Ticket.id == Concern.ticket_id)
        .outerjoin(ThemeMember, ThemeMember.concern_id == Concern.id)
        .where(Concern.created_at >= since, Concern.created_at < until)
        .order_by(Concern.id.desc())
        .limit(MAX_SCAN)
    )
    rows = [
        _Row(
            concern_id=r[0],
            ticket_id=r[1],
            customer_id=r[2],
            intent=r[3] or None,
            status=r[4],
            created_at=r[5],
            ticket_open=bool(r[6]),
            ticket_status=str(r[7].value if hasattr(r[7], "value") else r[7]),
            subject=r[8],
            ticket_created_at=r[9],
            theme_id=r[10],
        )
        for r in session.execute(query)
    ]
    themes = _themes(session=session, ids={r.theme_id for r in rows if r.theme_id is not None})
    groups: dict[tuple[str, Any], Group] = {}
    key_of: dict[int, tuple[str, Any]] = {}
    scan = _Scan(rows=rows, groups=groups, key_of=key_of)
    for row in rows:
        scan.tickets.setdefault(row.ticket_id, row)
        if row.theme_id is not None and row.theme_id in themes:
            theme_id, label = themes[row.theme_id]
            key: tuple[str, Any] = ("theme", theme_id)
            groups.setdefault(
                key, Group(kind="theme", theme_id=theme_id, label=label, url=theme_url(theme_id))
            )
        elif row.intent:
            key = ("intent", row.intent)
            groups.setdefault(
                key, Group(kind="intent", intent=row.intent, label=row.intent.replace("_", " "))
            )
        else:
            continue
        key_of[row.concern_id] = key
    return scan


def _themes(*, session: Session, ids: set[int]) -> dict[int, tuple[int, str]]:
    """Return theme id -> (the theme it counts under, its label): a merged theme counts under the theme it
    was merged into."""
    found: dict[int, Theme] = {}
    wanted = set(ids)
    for _ in range(3):  # merged into a theme that was merged again: follow a few steps
        missing = wanted - set(found)
        if not missing:
            break
        for chunk in chunks(missing):
            for loaded in session.scalars(select(Theme).where(Theme.id.in_(chunk))):
                found[loaded.id] = loaded
        wanted |= {t.merged_into_id for t in found.values() if t.merged_into_id is not None}
    out: dict[int, tuple[int, str]] = {}
    for theme_id in ids:
        theme = found.get(theme_id)
        steps = 0
        while theme is not None and theme.merged_into_id is not None and steps < 3:
            theme = found.get(theme.merged_into_id) or theme
            steps += 1
        if theme is not None:
            out[theme_id] = (theme.id, theme.name or theme.label or f"Theme {theme.id}")
    return out


def _applied(*, session: Session, ticket_ids: Iterable[int]) -> list[Resolution]:
    found: list[Resolution] = []
    for chunk in chunks(ticket_ids):
        found.extend(
            session.scalars(
                select(Resolution).where(
                    Resolution.ticket_id.in_(chunk), Resolution.status == ResolutionStatus.applied
                )
            )
        )
    return found


T = TypeVar("T")


def paged(items: list[T], *, offset: int, limit: int) -> list[T]:
    return items[offset : offset + limit]


def share(part: int, whole: int) -> float:
    return round(part / whole, 3) if whole else 0.0


# -- unequal treatment ---------------------------------------------------------------------------------------
def unequal_treatment(
    *,
    session: Session,
    principal: Principal,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    offset: int = 0,
    limit: int = DEFAULT_LIMIT,
) -> FairnessPage[UnequalGroup]:
    """Return the groups of similar concerns whose tickets got very different concessions, with the
    tickets that stand out (nothing while most got something; far above or below the median) and the
    spread per currency; most outliers first (advocates, leads, admins)."""
    check_advocate(principal)
    page_args(offset, limit)
    since, until = window(since, until)
    scan = scan_concerns(session=session, since=since, until=until)
    # group -> ticket -> concerns of the group on it
    members: dict[tuple[str, Any], dict[int, set[int]]] = defaultdict(lambda: defaultdict(set))
    for row in scan.rows:
        key = scan.key_of.get(row.concern_id)
        if key is not None:
            members[key][row.ticket_id].add(row.concern_id)
    grants = _grants(session=session, scan=scan, members=members)
    names = customers.names_of(
        session=session, customer_ids=[row.customer_id for row in scan.tickets.values()]
    )
    items = [
        found
        for key, tickets in members.items()
        if (found := _unequal_group(key, set(tickets), grants, scan, names)) is not None
    ]
    items.sort(key=lambda g: (-g.outliers_total, -g.tickets_settled, g.group.label))
    return FairnessPage[UnequalGroup](
        items=paged(items, offset=offset, limit=limit),
        total=len(items),
        offset=offset,
        limit=limit,
        since=since,
        until=until,
        thresholds={
            "min_group_tickets": MIN_GROUP_TICKETS,
            "most_got_something": MOST_GOT_SOMETHING,
            "min_amount_peers": MIN_AMOUNT_PEERS,
            "far_above": float(FAR_ABOVE),
            "far_below": round(float(FAR_BELOW), 3),
        },
    )


@dataclass
class _Grants:
    # group -> ticket -> currency -> minor units granted; and the kinds granted per (group, ticket)
    amounts: dict[tuple[str, Any], dict[int, Counter[str]]]
    kinds: dict[tuple[tuple[str, Any], int], set[str]]


def _grants(*, session: Session, scan: _Scan, members: dict[tuple[str, Any], dict[int, set[int]]]) -> _Grants:
    """Add up the applied resolutions per group and ticket: one for a concern counts for that concern's
    group; one for the whole ticket counts for every group the ticket is in."""
    ticket_groups: dict[int, set[tuple[str, Any]]] = defaultdict(set)
    for key, tickets in members.items():
        for ticket_id in tickets:
            ticket_groups[ticket_id].add(key)
    grants = _Grants(amounts=defaultdict(lambda: defaultdict(Counter)), kinds=defaultdict(set))
    for resolution in _applied(session=session, ticket_ids=ticket_groups):
        if resolution.concern_id is None:
            keys = ticket_groups.get(resolution.ticket_id, set())
        elif resolution.concern_id in scan.key_of:
            keys = {scan.key_of[resolution.concern_id]}
        else:
            continue  # for a concern outside the window or without a group
        for key in keys:
            grants.amounts[key][resolution.ticket_id][resolution.currency] += resolution.amount_minor
            grants.kinds[(key, resolution.ticket_id)].add(resolution.kind)
    return grants


def _unequal_group(
    key: tuple[str, Any], tickets: set[int], grants: _Grants, scan: _Scan, names: dict[int, str]
) -> UnequalGroup | None:
    """Return the group with the tickets that stand out, or None when it is too small or consistent."""
    got = grants.amounts.get(key, {})
    settled = sorted(t for t in tickets if t in got or not scan.tickets[t].ticket_open)
    if len(settled) < MIN_GROUP_TICKETS:
        return None
    with_concession = [t for t in settled if t in got]

    def finding(ticket_id: int, **extra: Any) -> TicketFinding:
        row = scan.tickets[ticket_id]
        return TicketFinding(
            ticket_id=ticket_id,
            ticket_url=ticket_url(ticket_id),
            subject=row.subject,
            customer_id=row.customer_id,
            customer_name=names.get(row.customer_id, ""),
            customer_url=customer_url(ticket_id),
            kinds=sorted(grants.kinds.get((key, ticket_id), set())),
            **extra,
        )

    outliers: list[TicketFinding] = []
    if len(with_concession) / len(settled) >= MOST_GOT_SOMETHING:
        outliers.extend(finding(t, finding="nothing") for t in settled if t not in got)
    by_currency: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for ticket_id in with_concession:
        for currency, minor in got[ticket_id].items():
            if minor > 0:
                by_currency[currency].append((ticket_id, minor))
    spreads: list[CurrencySpread] = []
    for currency, amounts in sorted(by_currency.items()):
        values = sorted(minor for _, minor in amounts)
        median = int(statistics.median_low(values))
        spreads.append(_spread(currency, values, median))
        if len(values) < MIN_AMOUNT_PEERS:
            continue
        for ticket_id, minor in sorted(amounts):
            ratio = Fraction(minor, median)
            if FAR_BELOW < ratio < FAR_ABOVE:
                continue
            outliers.append(
                finding(
                    ticket_id,
                    finding="far_above" if ratio >= FAR_ABOVE else "far_below",
                    amount_minor=minor,
                    currency=currency,
                    amount=str(money.from_minor(minor, currency)),
                    median=str(money.from_minor(median, currency)),
                    ratio_to_median=round(float(ratio), 2),
                )
            )
    if not outliers:
        return None
    return UnequalGroup(
        group=scan.groups[key],
        tickets_settled=len(settled),
        tickets_with_concession=len(with_concession),
        share_with_concession=share(len(with_concession), len(settled)),
        currencies=spreads,
        outliers_total=len(outliers),
        outliers=outliers[:MAX_OUTLIERS],
    )


def _spread(currency: str, values: Sequence[int], median: int) -> CurrencySpread:
    low, high = values[0], values[-1]
    return CurrencySpread(
        currency=currency,
        tickets=len(values),
        median_minor=median,
        min_minor=low,
        max_minor=high,
        spread_minor=high - low,
        median=str(money.from_minor(median, currency)),
        min=str(money.from_minor(low, currency)),
        max=str(money.from_minor(high, currency)),
        spread=str(money.from_minor(high - low, currency)),
    )


# -- repeat contacts -----------------------------------------------------------------------------------------
def repeat_contacts(
    *,
    session: Session,
    principal: Principal,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    offset: int = 0,
    limit: int = DEFAULT_LIMIT,
) -> FairnessPage[RepeatContact]:
    """Return customers who contacted us :data:`REPEAT_MIN_CONTACTS` or more times about the same theme (or
    intent) in the window with no applied resolution and none of those concerns resolved; most contacts
    first (advocates, leads, admins)."""
    check_advocate(principal)
    page_args(offset, limit)
    since, until = window(since, until)
    scan = scan_concerns(session=session, since=since, until=until)
    by_pair: dict[tuple[int, tuple[str, Any]], list[_Row]] = defaultdict(list)
    for row in scan.rows:
        key = scan.key_of.get(row.concern_id)
        if key is not None:
            by_pair[(row.customer_id, key)].append(row)
    # Resolved concerns rule a pair out at once; what is left needs its messages counted.
    candidates = {
        pair: rows for pair, rows in by_pair.items() if all(r.status != ConcernStatus.resolved for r in rows)
    }
    ticket_ids = {r.ticket_id for rows in candidates.values() for r in rows}
    days: dict[int, set[dt.date]] = defaultdict(set)
    for chunk in chunks(ticket_ids):
        for ticket_id, at in session.execute(
            select(Message.ticket_id, Message.created_at).where(
                Message.ticket_id.in_(chunk),
                Message.author_type == AuthorType.customer,
                Message.internal.is_(False),
                Message.created_at >= since,
                Message.created_at < until,
            )
        ):
            days[ticket_id].add(at.astimezone(dt.UTC).date())
    resolved_by: dict[int, list[Resolution]] = defaultdict(list)
    for resolution in _applied(session=session, ticket_ids=ticket_ids):
        resolved_by[resolution.ticket_id].append(resolution)
    names = customers.names_of(session=session, customer_ids=[c for c, _ in candidates])
    items: list[RepeatContact] = []
    for (customer_id, key), rows in candidates.items():
        concern_ids = {r.concern_id for r in rows}
        tickets = {r.ticket_id: r for r in rows}
        if any(
            res.concern_id is None or res.concern_id in concern_ids
            for t in tickets
            for res in resolved_by.get(t, [])
        ):
            continue
        contacts = sum(len(days.get(t, ())) for t in tickets)
        if contacts < REPEAT_MIN_CONTACTS:
            continue
        all_days = sorted(d for t in tickets for d in days.get(t, ()))
        items.append(
            RepeatContact(
                customer_id=customer_id,
                customer_name=names.get(customer_id, ""),
                customer_url=customer_url(max(tickets, key=lambda t: (tickets[t].ticket_created_at, t))),
                group=scan.groups[key],
                contacts=contacts,
                tickets=[
                    ContactTicket(
                        ticket_id=t,
                        ticket_url=ticket_url(t),
                        subject=r.subject,
                        status=r.ticket_status,
                        opened_at=r.ticket_created_at,
                        contacts=len(days.get(t, ())),
                    )
                    for t, r in sorted(tickets.items())
                ],
                first_contact_at=dt.datetime.combine(all_days[0], dt.time(), tzinfo=dt.UTC),
                last_contact_at=dt.datetime.combine(all_days[-1], dt.time(), tzinfo=dt.UTC),
                open_concerns=sum(1 for r in rows if r.status in OPEN_CONCERN_STATUSES),
            )
        )
    items.sort(key=lambda i: (-i.contacts, -i.last_contact_at.timestamp(), i.customer_id))
    return FairnessPage[RepeatContact](
        items=paged(items, offset=offset, limit=limit),
        total=len(items),
        offset=offset,
        limit=limit,
        since=since,
        until=until,
        thresholds={"min_contacts": REPEAT_MIN_CONTACTS},
    )
