"""The themes service: list and read themes (with their figures), and advocates' edits (rename, merge,
split, move a member), each audited and recorded as a ``ThemeEdit`` that re-clustering honours.

Online assignment and re-clustering live in :mod:`ombud.advocacy.assignment` (re-exported here as
``assign_concern`` and ``recluster``); jobs in :mod:`ombud.advocacy.jobs`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import numpy as np
from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from ombud.accounts.schemas import Principal
from ombud.advocacy import access, alerts, cases, clustering, stats
from ombud.advocacy.assignment import (
    Themed,
    add_counts,
    assign_concern,
    describe_theme,
    emit_themed,
    from_bytes,
    lock_themes,
    member_deltas,
    rebuild_counts,
    themes_changed,
    title,
    to_bytes,
    with_open_cases,
)
from ombud.advocacy.models import (
    AdvocacyCase,
    Schedule,
    SpikeAlert,
    Theme,
    ThemeEdit,
    ThemeMember,
    ThemeState,
)
from ombud.advocacy.reclustering import recluster
from ombud.advocacy.schemas import (
    EditResult,
    MemberPublic,
    Quote,
    SpikePublic,
    ThemeChoice,
    ThemeDetail,
    ThemePublic,
)
from ombud.audit import service as audit
from ombud.errors import Conflict, InvalidInput, NotFound
from ombud.pagination import cursor_id, cursor_time, decode_cursor, encode_cursor
from ombud.storage.base import utcnow
from ombud.storage.queue import defer

__all__ = [
    "Themed",
    "access_theme",
    "assign_concern",
    "list_members",
    "list_themes",
    "merge_themes",
    "move_member",
    "recluster",
    "rename_theme",
    "request_recluster",
    "split_theme",
    "theme_detail",
]

MAX_PAGE = 200
# Sorting by a computed figure (growth, frustration, cost) reads this many themes at most, largest first.
MAX_SORTED = 5000
SORTS = ("size", "growth", "frustration", "cost", "recent")
DETAIL_DAYS = 90
SPLIT_THRESHOLDS = (clustering.THRESHOLD, 0.65, 0.75)


# -- reading ----------------------------------------------------------------------------------------------
def access_theme(*, session: Session, principal: Principal, theme_id: int) -> Theme:
    """Return the theme (staff may read every theme); NotFound otherwise."""
    access.check_read(principal)
    theme = session.get(Theme, theme_id)
    if theme is None:
        raise NotFound(f"no theme with id {theme_id}", code="theme_not_found")
    return theme


def _publics(session: Session, themes: Sequence[Theme], now: dt.datetime) -> list[ThemePublic]:
    ids = [t.id for t in themes]
    start = (now - dt.timedelta(days=13)).replace(hour=0, minute=0, second=0, microsecond=0)
    counts = stats.hourly(session=session, theme_ids=ids, since=now - 2 * stats.WEEK, until=now)
    daily = stats.hourly(session=session, theme_ids=ids, since=start, until=now)
    costs = stats.cost_by_theme(session=session, theme_ids=ids)
    frustration = stats.frustration_by_theme(session=session, theme_ids=ids)
    out = []
    for theme in themes:
        last, previous = stats.weekly(counts[theme.id], now)
        out.append(
            ThemePublic(
                id=theme.id,
                state=theme.state,
                title=title(theme),
                label=theme.label,
                name=theme.name,
                key_phrases=list(theme.key_phrases or []),
                quotes=[Quote.model_validate(q) for q in theme.quotes or []],
                size=theme.size,
                merged_into_id=theme.merged_into_id,
                split_from_id=theme.split_from_id,
                first_seen_at=theme.first_seen_at,
                last_seen_at=theme.last_seen_at,
                last_7_days=last,
                previous_7_days=previous,
                growth=stats.growth(last, previous),
                mean_frustration=frustration.get(theme.id, 0.0),
                cost=stats.money(costs.get(theme.id, {})),
                daily=[d.count for d in stats.daily_counts(daily[theme.id], start, now)],
            )
        )
    return out


def public(*, session: Session, theme: Theme) -> ThemePublic:
    return _publics(session, [theme], utcnow())[0]


def _sort_key(theme: ThemePublic, sort: str) -> tuple[float, float, int]:
    if sort == "growth":
        return theme.growth, theme.last_7_days, theme.id
    if sort == "frustration":
        return theme.mean_frustration, theme.size, theme.id
    # Cost: money in different currencies does not add up; the sum of minor units orders well enough
    # where one currency dominates, which is the usual case.
    return sum(m.amount_minor for m in theme.cost), theme.size, theme.id


def list_themes(
    *,
    session: Session,
    principal: Principal,
    state: ThemeState | None = ThemeState.active,
    q: str | None = None,
    sort: str = "size",
    limit: int = 50,
    cursor: str | None = None,
) -> tuple[list[ThemePublic], str | None]:
    """Return a page of themes sorted by ``sort`` (size, growth, frustration, cost or recent; largest
    first), filtered by state and by words in the label or name, with the cursor to the next page."""
    access.check_read(principal)
    if sort not in SORTS:
        raise InvalidInput(
            f"sort must be one of {', '.join(SORTS)}", code="invalid_sort", details={"field": "sort"}
        )
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInput(f"limit must be 1..{MAX_PAGE}", code="invalid_limit", details={"field": "limit"})
    offset = 0
    if cursor:
        position = decode_cursor(cursor, required=("offset", "sort"))
        if position["sort"] != sort:
            raise InvalidInput("the cursor belongs to another sort order; start again", code="invalid_cursor")
        offset = cursor_id(position, "offset")
    query = select(Theme)
    if state is not None:
        query = query.where(Theme.state == state)
    for word in (q or "").split()[:5]:
        escaped = word.lower()[:100].replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        pattern = f"%{escaped}%"
        query = query.where(
            or_(
                func.lower(Theme.label).like(pattern, escape="\\"),
                func.lower(Theme.name).like(pattern, escape="\\"),
            )
        )
    now = utcnow()
    if sort in ("size", "recent"):
        order = Theme.size.desc() if sort == "size" else Theme.last_seen_at.desc()
        rows = list(session.scalars(query.order_by(order, Theme.id.desc()).offset(offset).limit(limit + 1)))
        page = _publics(session, rows[:limit], now)
    else:
        rows = list(session.scalars(query.order_by(Theme.size.desc(), Theme.id.desc()).limit(MAX_SORTED)))
        everything = _publics(session, rows, now)
        everything.sort(key=lambda t: _sort_key(t, sort), reverse=True)
        page = everything[offset : offset + limit]
        rows = rows[offset : offset + limit + 1] if len(everything) > offset + limit else []
    more = len(rows) > limit
    return page, encode_cursor({"offset": offset + limit, "sort": sort}) if more else None


def theme_choices(
    *, session: Session, principal: Principal, exclude: int | None = None, limit: int = 200
) -> list[ThemeChoice]:
    """The active themes to pick from (move a member, merge): id, title and size only, largest first."""
    access.check_read(principal)
    rows = session.execute(
        select(Theme.id, Theme.name, Theme.label, Theme.size)
        .where(Theme.state == ThemeState.active, Theme.id != (exclude if exclude is not None else 0))
        .order_by(Theme.size.desc(), Theme.id.desc())
        .limit(limit)
    ).all()
    return [
        ThemeChoice(id=int(i), title=name or label or f"Theme {i}", size=int(size))
        for i, name, label, size in rows
    ]


def list_members(
    *, session: Session, principal: Principal, theme_id: int, limit: int = 50, cursor: str | None = None
) -> tuple[list[MemberPublic], str | None]:
    """Return the theme's members, newest concern first, with the cursor to the next page."""
    access_theme(session=session, principal=principal, theme_id=theme_id)
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInput(f"limit must be 1..{MAX_PAGE}", code="invalid_limit", details={"field": "limit"})
    query = select(ThemeMember).where(ThemeMember.theme_id == theme_id)
    if cursor:
        position = decode_cursor(cursor, required=("at", "id"))
        at = cursor_time(position)
        last_id = cursor_id(position)
        query = query.where(
            or_(
                ThemeMember.concern_at < at,
                (ThemeMember.concern_at == at) & (ThemeMember.concern_id < last_id),
            )
        )
    rows = list(
        session.scalars(
            query.order_by(ThemeMember.concern_at.desc(), ThemeMember.concern_id.desc()).limit(limit + 1)
        )
    )
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = (
        encode_cursor({"at": rows[-1].concern_at.isoformat(), "id": rows[-1].concern_id})
        if more and rows
        else None
    )
    return [MemberPublic.model_validate(m) for m in rows], next_cursor


def spike_publics(session: Session, alerts: Sequence[SpikeAlert]) -> list[SpikePublic]:
    """The alerts as the API shows them, with their themes' titles (one query for all of them)."""
    ids = sorted({a.theme_id for a in alerts})
    titles = {
        int(i): name or label or f"Theme {i}"
        for i, name, label in session.execute(
            select(Theme.id, Theme.name, Theme.label).where(Theme.id.in_(ids or [0]))
        )
    }
    return [
        SpikePublic.model_validate(a).model_copy(update={"theme_title": titles.get(a.theme_id, "")})
        for a in alerts
    ]


def spike_public(session: Session, alert: SpikeAlert) -> SpikePublic:
    return spike_publics(session, [alert])[0]


def open_cases(*, session: Session, theme_id: int) -> list[dict[str, Any]]:
    rows = session.scalars(
        select(AdvocacyCase)
        .where(AdvocacyCase.theme_id == theme_id, AdvocacyCase.status.in_(list(cases.OPEN_STATES)))
        .order_by(AdvocacyCase.id.desc())
    )
    return [{"id": c.id, "title": c.title, "status": c.status.value} for c in rows]


def theme_detail(
    *,
    session: Session,
    principal: Principal,
    theme_id: int,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
) -> ThemeDetail:
    """Return the theme with its figures over [since, until) (the last 90 days by default), its open
    advocacy cases and its latest spike alerts."""
    theme = access_theme(session=session, principal=principal, theme_id=theme_id)
    since, until = stats.window(since, until, default=dt.timedelta(days=DETAIL_DAYS))
    figures = stats.theme_figures(session=session, theme_id=theme.id, since=since, until=until)
    alerts = session.scalars(
        select(SpikeAlert).where(SpikeAlert.theme_id == theme.id).order_by(SpikeAlert.id.desc()).limit(20)
    )
    return ThemeDetail(
        theme=public(session=session, theme=theme),
        figures=figures,
        open_cases=open_cases(session=session, theme_id=theme.id),
        spikes=spike_publics(session, list(alerts)),
    )


# -- edits ------------------------------------------------------------------------------------------------
def _editable(session: Session, principal: Principal, theme_id: int, field: str = "theme_id") -> Theme:
    access.check_advocate(principal)
    lock_themes(session)
    theme = session.get(Theme, theme_id)
    if theme is None:
        raise NotFound(f"no theme with id {theme_id}", code="theme_not_found", details={"field": field})
    if theme.state == ThemeState.merged:
        raise Conflict(
            f"theme {theme.id} was merged into theme {theme.merged_into_id}; edit that theme instead",
            code="theme_merged",
            details={"field": field, "merged_into_id": theme.merged_into_id},
        )
    return theme


def _record(session: Session, principal: Principal, kind: str, theme: Theme, payload: dict[str, Any]) -> None:
    session.add(
        ThemeEdit(
            kind=kind,
            theme_id=theme.id,
            payload=payload,
            user_id=principal.id if principal.kind == "user" else None,
            created_at=utcnow(),
        )
    )
    session.flush()
    audit.record(
        session=session,
        actor=principal,
        action=f"advocacy.theme.{kind}",
        entity_type="advocacy_theme",
        entity_id=theme.id,
        after=payload,
    )


def refresh(session: Session, theme: Theme) -> None:
    """Recompute a theme's size, centroid, first/last seen, label and quotes from its members; a theme left
    with none is retired."""
    rows = session.execute(
        select(ThemeMember.vector, ThemeMember.concern_at).where(ThemeMember.theme_id == theme.id)
    ).all()
    now = utcnow()
    theme.updated_at = now
    if not rows:
        theme.size = 0
        if theme.state == ThemeState.active and not with_open_cases(session, [theme.id]):
            theme.state = ThemeState.retired  # kept while an open case is about it
            alerts.end_theme_alerts(session=session, theme_ids=[theme.id], reason="theme_retired")
        return
    if theme.state == ThemeState.retired:
        theme.state = ThemeState.active
    theme.size = len(rows)
    theme.centroid = to_bytes(np.vstack([from_bytes(r[0]) for r in rows]).mean(axis=0))
    theme.first_seen_at = min(r[1] for r in rows)
    theme.last_seen_at = max(r[1] for r in rows)
    session.flush()
    describe_theme(session, theme)


def rename_theme(*, session: Session, principal: Principal, theme_id: int, name: str) -> Theme:
    """Give the theme an advocate's name (it wins over the machine's label, through every re-clustering)."""
    theme = _editable(session, principal, theme_id)
    clean = " ".join(name.split())[:200]
    if not clean:
        raise InvalidInput("name: give the theme a name", code="invalid_input", details={"field": "name"})
    before = theme.name
    theme.name = clean
    theme.updated_at = utcnow()
    _record(session, principal, "rename", theme, {"before": before, "after": clean})
    return theme


def _move_members(session: Session, concern_ids: Sequence[int], target: Theme) -> None:
    """Move members to ``target`` and pin them there; adjust the hourly counts of both sides."""
    for begin in range(0, len(concern_ids), 500):
        chunk = list(concern_ids[begin : begin + 500])
        members = session.execute(
            select(
                ThemeMember.theme_id,
                ThemeMember.concern_at,
                ThemeMember.frustration,
                ThemeMember.channel,
                ThemeMember.tier,
                ThemeMember.product,
                ThemeMember.region,
            ).where(ThemeMember.concern_id.in_(chunk))
        ).all()
        add_counts(session, member_deltas(members, sign=-1, background=False))
        add_counts(session, member_deltas(members, theme_id=target.id, background=False))
        session.execute(
            update(ThemeMember)
            .where(ThemeMember.concern_id.in_(chunk))
            .values(theme_id=target.id, pinned=True)
        )
    session.expire_all()
    emit_themed(session, concern_ids)


def merge_themes(
    *, session: Session, principal: Principal, theme_id: int, source_ids: Sequence[int]
) -> EditResult:
    """Merge ``source_ids`` into theme ``theme_id``: their members move (and stay: pinned), they become
    'merged' and are never brought back by re-clustering."""
    target = _editable(session, principal, theme_id)
    wanted = list(dict.fromkeys(source_ids))
    if target.id in wanted:
        raise InvalidInput(
            f"theme {target.id} cannot be merged into itself: leave it out of source_ids",
            code="merge_into_itself",
            details={"field": "source_ids"},
        )
    if target.state != ThemeState.active:
        raise Conflict(
            f"theme {target.id} is {target.state.value}; merge into an active theme", code="theme_not_active"
        )
    sources = []
    for source_id in wanted:
        source = _editable(session, principal, source_id, field="source_ids")
        sources.append(source)
    moved = 0
    for source in sources:
        concern_ids = list(
            session.scalars(select(ThemeMember.concern_id).where(ThemeMember.theme_id == source.id))
        )
        _move_members(session, concern_ids, target)
        moved += len(concern_ids)
        merged = session.get(Theme, source.id) or source
        merged.state = ThemeState.merged
        merged.merged_into_id = target.id
        alerts.end_theme_alerts(session=session, theme_ids=[merged.id], reason="theme_merged")
        merged.size = 0
        merged.updated_at = utcnow()
    target = session.get(Theme, theme_id) or target
    refresh(session, target)
    _record(session, principal, "merge", target, {"source_ids": wanted, "moved": moved})
    themes_changed(session)
    return EditResult(kind="merge", theme_ids=[target.id, *wanted], moved=moved)


def _subclusters(session: Session, theme: Theme) -> list[list[int]]:
    """Split a theme by clustering its members more finely: the groups to split off (all but the largest)."""
    rows = session.execute(
        select(ThemeMember.concern_id, ThemeMember.vector).where(ThemeMember.theme_id == theme.id)
    ).all()
    if len(rows) < 2 * clustering.MIN_SIZE:
        return []
    ids = [int(r[0]) for r in rows]
    matrix = np.vstack([from_bytes(r[1]) for r in rows])
    for threshold in SPLIT_THRESHOLDS:
        labels = clustering.cluster(matrix, threshold=threshold)
        groups = [
            [ids[i] for i in np.flatnonzero(labels == label)]
            for label in range(int(labels.max(initial=-1)) + 1)
        ]
        if len(groups) >= 2:
            return groups[1:]  # label 0 is the largest: it stays
    return []


def split_theme(
    *,
    session: Session,
    principal: Principal,
    theme_id: int,
    concern_ids: Sequence[int] | None = None,
    name: str | None = None,
) -> EditResult:
    """Split members off into a new theme (named ``name``), or, without ``concern_ids``, split the theme by
    a finer clustering of its members. Split members are pinned: re-clustering does not fold them back."""
    theme = _editable(session, principal, theme_id)
    if theme.state != ThemeState.active:
        raise Conflict(
            f"theme {theme.id} is {theme.state.value}; only an active theme can be split",
            code="theme_not_active",
        )
    size = session.scalar(select(func.count()).where(ThemeMember.theme_id == theme.id)) or 0
    if concern_ids is not None:
        wanted = list(dict.fromkeys(concern_ids))
        if not wanted:
            raise InvalidInput(
                "concern_ids: name at least one member to split off",
                code="invalid_input",
                details={"field": "concern_ids"},
            )
        found = set(
            session.scalars(
                select(ThemeMember.concern_id).where(
                    ThemeMember.theme_id == theme.id, ThemeMember.concern_id.in_(wanted)
                )
            )
        )
        missing = [c for c in wanted if c not in found]
        if missing:
            raise InvalidInput(
                f"concerns {', '.join(map(str, missing[:10]))} are not members of theme {theme.id}",
                code="not_a_member",
                details={"field": "concern_ids", "concern_ids": missing[:100]},
            )
        if len(wanted) >= size:
            raise InvalidInput(
                "a split must leave members in the theme: name fewer concern_ids (to rename it, rename it)",
                code="split_everything",
                details={"field": "concern_ids"},
            )
        groups = [wanted]
    else:
        groups = _subclusters(session, theme)
        if not groups:
            raise InvalidInput(
                f"theme {theme.id}'s members are too alike to split by themselves: name the concern_ids to "
                "split off",
                code="nothing_to_split",
            )
    created: list[int] = []
    moved = 0
    for index, group in enumerate(groups):
        first = session.get(ThemeMember, group[0])
        assert first is not None
        now = utcnow()
        child = Theme(
            state=ThemeState.active,
            label="",
            name=" ".join(name.split())[:200] if name and index == 0 else None,
            key_phrases=[],
            quotes=[],
            centroid=first.vector,
            dimensions=len(first.vector) // 4,
            size=0,
            split_from_id=theme.id,
            first_seen_at=first.concern_at,
            last_seen_at=first.concern_at,
            created_at=now,
            updated_at=now,
        )
        session.add(child)
        session.flush()
        _move_members(session, group, child)
        child = session.get(Theme, child.id) or child
        refresh(session, child)
        created.append(child.id)
        moved += len(group)
    theme = session.get(Theme, theme_id) or theme
    refresh(session, theme)
    _record(
        session,
        principal,
        "split",
        theme,
        {
            "new_theme_ids": created,
            "moved": moved,
            "by": "members" if concern_ids is not None else "clustering",
        },
    )
    themes_changed(session)
    return EditResult(kind="split", theme_ids=[theme.id, *created], moved=moved)


def move_member(*, session: Session, principal: Principal, concern_id: int, theme_id: int) -> EditResult:
    """Move one concern to another theme; it stays there (pinned) through re-clustering."""
    access.check_advocate(principal)
    lock_themes(session)
    member = session.get(ThemeMember, concern_id)
    if member is None:
        raise NotFound(f"concern {concern_id} is in no theme", code="member_not_found")
    target = _editable(session, principal, theme_id)
    if target.state != ThemeState.active:
        raise Conflict(
            f"theme {target.id} is {target.state.value}; move members to an active theme",
            code="theme_not_active",
        )
    source_id = member.theme_id
    if source_id == target.id:
        member.pinned = True
        return EditResult(kind="move", theme_ids=[target.id], moved=0)
    _move_members(session, [concern_id], target)
    for changed_id in (source_id, target.id):
        changed = session.get(Theme, changed_id) if changed_id is not None else None
        if changed is not None:
            refresh(session, changed)
    target = session.get(Theme, theme_id) or target
    _record(
        session, principal, "move", target, {"concern_id": concern_id, "from": source_id, "to": target.id}
    )
    themes_changed(session)
    return EditResult(kind="move", theme_ids=[t for t in (source_id, target.id) if t is not None], moved=1)


def request_recluster(*, session: Session, principal: Principal) -> Schedule:
    """Ask for a re-clustering now (a job runs it after this commits); audited."""
    from ombud.advocacy import jobs

    access.check_advocate(principal)
    now = utcnow()
    row = session.get(Schedule, "recluster")
    if row is None:
        row = Schedule(name="recluster", due_at=now, outcome={})
        session.add(row)
    row.due_at = now
    session.flush()
    audit.record(
        session=session,
        actor=principal,
        action="advocacy.recluster.requested",
        entity_type="advocacy_schedule",
        entity_id=0,
        after={"due_at": now.isoformat()},
    )
    defer(session, jobs.RECLUSTER_JOB, run=1)
    return row


def rebuild_all_counts(*, session: Session) -> None:
    """Count every theme's hourly series, and theme 0's (every concern), again from the members (repair)."""
    rebuild_counts(session, [0, *(int(i) for i in session.scalars(select(Theme.id)))])
