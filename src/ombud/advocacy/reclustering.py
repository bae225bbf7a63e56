"""Re-clustering: every member's stored vector clustered again (and the concerns not themed yet embedded and
themed: the backfill of history), theme ids carried across by :func:`clustering.match`, advocates' edits
honoured: pinned members stay where they were put, merged and retired themes do not come back, split-off
themes keep what they were given, names belong to the ids that are kept.

The reading, embedding and clustering run on a read session (no write lock); the plan is written in one
short transaction, skipping members an advocate or online assignment moved meanwhile.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from ombud.advocacy import alerts, clustering
from ombud.advocacy.assignment import (
    QUOTE_CHARS,
    QUOTES,
    RECLUSTER,
    PreparedConcern,
    add_counts,
    emit_themed,
    from_bytes,
    lock_themes,
    member_deltas,
    new_member,
    pending_concern_ids,
    read_concerns,
    rebuild_counts,
    themes_changed,
    to_bytes,
    with_open_cases,
)
from ombud.advocacy.models import Schedule, Theme, ThemeMember, ThemeState
from ombud.storage.base import utcnow
from ombud.tickets.models import Concern
from ombud.triage.embed import Embedder

# -- the plan ----------------------------------------------------------------------------------------
Key = int | tuple[str, int]  # an existing theme's id, or ("new", n) for a theme the plan creates


@dataclass
class _Plan:
    """What a re-clustering decided, computed outside the write transaction."""

    placement: dict[int, Key]  # concern id -> where it goes
    backfill: list[PreparedConcern]
    retired: set[int]
    summaries: dict[Key, clustering.ThemeSummary]  # quotes as concern ids
    member_ids: dict[Key, list[int]]
    texts: dict[int, str]
    vectors: dict[int, NDArray[np.float32]]
    read_themes: dict[int, int]  # concern id -> its theme when read (members edited meanwhile are skipped)


def _read_backfill(session: Session, embedder: Embedder, *, limit: int, batch: int) -> list[PreparedConcern]:
    """Read and embed, in batches, up to ``limit`` concerns not themed yet."""
    backfill: list[PreparedConcern] = []
    seen: set[int] = set()
    while len(backfill) < limit:
        ids = [i for i in pending_concern_ids(session=session, limit=batch + len(seen)) if i not in seen][
            :batch
        ]
        if not ids:
            break
        seen.update(ids)
        found = read_concerns(session=session, concern_ids=ids)
        if not found:
            continue
        embedded = embedder.embed_batch([f["text"] for f in found])
        backfill.extend(PreparedConcern(vector=embedded[i], **f) for i, f in enumerate(found))
    return backfill


def _place_free(
    free: list[int],
    *,
    vectors: dict[int, NDArray[np.float32]],
    read_themes: dict[int, int],
    matchable: list[Theme],
    placement: dict[int, Key],
) -> dict[Key, NDArray[np.floating]]:
    """Cluster the members not pinned, carry theme ids over by :func:`clustering.match`, and place each in
    ``placement``; an isolated one stays in its theme if that lives on, else joins the nearest cluster when
    close enough, else becomes a theme of its own (as online assignment would have done)."""
    clustered = free
    matrix = np.vstack([vectors[c] for c in clustered])
    labels = clustering.cluster(matrix)
    cluster_ids, centres = clustering.centroids(matrix, labels)
    old_ids = [t.id for t in matchable]
    position = {theme_id: i for i, theme_id in enumerate(old_ids)}
    old_members: list[set[int]] = [set() for _ in old_ids]
    for concern_id in clustered:
        where = read_themes.get(concern_id)
        if where is not None and where in position:
            old_members[position[where]].add(concern_id)
    new_members = [[clustered[i] for i in np.flatnonzero(labels == label)] for label in cluster_ids]
    mapping = (
        clustering.match(
            old_ids,
            np.vstack([from_bytes(t.centroid) for t in matchable]),
            cluster_ids,
            centres,
            old_members=old_members,
            new_members=new_members,
        )
        if old_ids and cluster_ids
        else {}
    )
    counter = [0]

    def fresh() -> Key:
        counter[0] += 1
        return ("new", counter[0])

    keys: dict[int, Key] = {label: mapping[label] if label in mapping else fresh() for label in cluster_ids}
    noise: list[int] = []
    for i, concern_id in enumerate(free):
        label = int(labels[i])
        if label >= 0:
            placement[concern_id] = keys[label]
        else:
            noise.append(concern_id)
    living = {k for k in placement.values() if isinstance(k, int)}
    centre_keys = [keys[label] for label in cluster_ids]
    units = _unit_rows(centres) if centre_keys else None
    alive_before = {t.id for t in matchable}
    for concern_id in noise:
        where = read_themes.get(concern_id)
        if where is not None and where in living:
            placement[concern_id] = where
            continue
        if units is not None:
            scores = units @ vectors[concern_id]
            best = int(np.argmax(scores))
            if float(scores[best]) >= clustering.ASSIGN_THRESHOLD:
                placement[concern_id] = centre_keys[best]
                continue
        if where is not None and where in alive_before:
            placement[concern_id] = where
            living.add(where)
            continue
        placement[concern_id] = fresh()
    return {key: centres[i] for i, key in enumerate(centre_keys)}


def _keep_split_off(
    free: list[int],
    *,
    vectors: dict[int, NDArray[np.float32]],
    read_themes: dict[int, int],
    split_off: list[Theme],
    stored: dict[int, Theme],
    centres: dict[Key, NDArray[np.floating]],
    placement: dict[int, Key],
) -> None:
    """Give split-off themes the free members that belong with them: a member that was in one (it joined
    online) stays while it is close enough to it; another goes to it when it is closer to it than to the
    cluster it was placed in. A split-off theme is never matched to a cluster (it would take its parent's
    members or be folded back): this is how it goes on growing."""
    if not split_off or not free:
        return
    units = _unit_rows(np.vstack([from_bytes(t.centroid) for t in split_off]))
    ids = [t.id for t in split_off]
    for concern_id in free:
        vector = _unit_rows(vectors[concern_id].reshape(1, -1))[0]
        scores = units @ vector
        best = int(np.argmax(scores))
        if float(scores[best]) < clustering.ASSIGN_THRESHOLD:
            continue
        if read_themes.get(concern_id) == ids[best]:
            placement[concern_id] = ids[best]
            continue
        key = placement.get(concern_id, -1)
        centre = centres.get(key)
        if centre is None and isinstance(key, int) and key in stored:
            centre = from_bytes(stored[key].centroid)  # kept in its theme, outside any cluster
        here = float(_unit_rows(centre.reshape(1, -1))[0] @ vector) if centre is not None else -1.0
        if float(scores[best]) > here:
            placement[concern_id] = ids[best]


def _unit_rows(matrix: NDArray[np.floating]) -> NDArray[np.float32]:
    rows = np.asarray(matrix, dtype=np.float32)
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    result: NDArray[np.float32] = (rows / np.where(norms > 0, norms, 1.0)).astype(np.float32)
    return result


def _summaries(
    member_ids: dict[Key, list[int]], texts: dict[int, str], vectors: dict[int, NDArray[np.float32]]
) -> dict[Key, clustering.ThemeSummary]:
    ordered = list(member_ids)
    all_ids = [c for key in ordered for c in member_ids[key]]
    if not all_ids:
        return {}
    labels = np.concatenate(
        [np.full(len(member_ids[key]), i, dtype=np.int64) for i, key in enumerate(ordered)]
    )
    described = clustering.describe(
        [texts[c] for c in all_ids], labels, np.vstack([vectors[c] for c in all_ids]), quotes=QUOTES
    )
    out: dict[Key, clustering.ThemeSummary] = {}
    for i, key in enumerate(ordered):
        summary = described.get(i)
        if summary is not None:
            out[key] = clustering.ThemeSummary(
                label=summary.label,
                key_phrases=summary.key_phrases,
                quotes=[all_ids[q] for q in summary.quotes],
                size=summary.size,
            )
    return out


def _plan(*, session: Session, embedder: Embedder, backfill_limit: int, batch: int) -> _Plan:
    rows = session.execute(
        select(
            ThemeMember.concern_id,
            ThemeMember.theme_id,
            ThemeMember.pinned,
            ThemeMember.text,
            ThemeMember.vector,
        )
    ).all()
    themes = {int(t.id): t for t in session.scalars(select(Theme).where(Theme.state == ThemeState.active))}
    backfill = _read_backfill(session, embedder, limit=backfill_limit, batch=batch)
    texts: dict[int, str] = {}
    vectors: dict[int, NDArray[np.float32]] = {}
    read_themes: dict[int, int] = {}
    placement: dict[int, Key] = {}
    free: list[int] = []
    for raw_id, theme_id, pinned, text, raw in rows:
        concern_id = int(raw_id)
        texts[concern_id] = text
        vectors[concern_id] = from_bytes(raw)
        if theme_id is not None:
            read_themes[concern_id] = int(theme_id)
        if pinned and theme_id is not None and int(theme_id) in themes:
            placement[concern_id] = int(theme_id)  # an advocate put it there
        else:
            free.append(concern_id)
    for item in backfill:
        texts[item.concern_id] = item.text
        vectors[item.concern_id] = np.asarray(item.vector, dtype=np.float32)
        free.append(item.concern_id)
    # Themes an advocate split off keep what they were given (their members are pinned); clusters never
    # inherit their ids, so they are not folded back into the theme they came from, and the members like
    # theirs go on joining them (_keep_split_off).
    matchable = [t for t in themes.values() if t.split_from_id is None]
    split_off = [t for t in themes.values() if t.split_from_id is not None]
    if free:
        centres = _place_free(
            free, vectors=vectors, read_themes=read_themes, matchable=matchable, placement=placement
        )
        _keep_split_off(
            free,
            vectors=vectors,
            read_themes=read_themes,
            split_off=split_off,
            stored=themes,
            centres=centres,
            placement=placement,
        )
    member_ids: dict[Key, list[int]] = defaultdict(list)
    for concern_id, key in placement.items():
        member_ids[key].append(concern_id)
    return _Plan(
        placement=placement,
        backfill=backfill,
        retired=set(themes) - {k for k in member_ids if isinstance(k, int)},
        summaries=_summaries(member_ids, texts, vectors),
        member_ids=dict(member_ids),
        texts=texts,
        vectors=vectors,
        read_themes=read_themes,
    )


def _create_new(session: Session, plan: _Plan, themes: dict[int, Theme], now: dt.datetime) -> dict[Key, int]:
    ids: dict[Key, int] = {}
    for key, members in plan.member_ids.items():
        if isinstance(key, int):
            if key in themes and themes[key].state == ThemeState.active:
                ids[key] = key
            continue
        vector = plan.vectors[members[0]]
        theme = Theme(
            state=ThemeState.active,
            label="",
            key_phrases=[],
            quotes=[],
            centroid=to_bytes(vector),
            dimensions=int(vector.shape[0]),
            size=0,
            created_at=now,
            updated_at=now,
        )
        session.add(theme)
        session.flush()
        themes[theme.id] = theme
        ids[key] = theme.id
    return ids


def _move(session: Session, plan: _Plan, ids: dict[Key, int], touched: set[int], changed: set[int]) -> int:
    """Move the members the plan placed elsewhere (not those an advocate pinned or that moved meanwhile):
    bulk updates conditioned on the theme each was read in, so the write reads no member table."""
    by_move: dict[tuple[int, int], list[int]] = defaultdict(list)
    for concern_id, key in plan.placement.items():
        target = ids.get(key)
        if target is None or concern_id not in plan.read_themes:
            continue
        was = plan.read_themes[concern_id]
        if was != target:
            by_move[(was, target)].append(concern_id)
    moved = 0
    for (source, destination), concern_ids in sorted(by_move.items()):
        for begin in range(0, len(concern_ids), 500):
            done = session.scalars(
                update(ThemeMember)
                .where(
                    ThemeMember.concern_id.in_(concern_ids[begin : begin + 500]),
                    ThemeMember.theme_id == source,
                    ThemeMember.pinned.is_(False),
                )
                .values(theme_id=destination)
                .returning(ThemeMember.concern_id)
                .execution_options(synchronize_session=False)
            ).all()
            if done:
                changed.update(int(c) for c in done)
                touched.update((source, destination))
                moved += len(done)
    return moved


def _insert_backfill(
    session: Session,
    plan: _Plan,
    ids: dict[Key, int],
    *,
    touched: set[int],
    changed: set[int],
    now: dt.datetime,
) -> int:
    existing = set(
        session.scalars(
            select(ThemeMember.concern_id).where(
                ThemeMember.concern_id.in_([p.concern_id for p in plan.backfill] or [0])
            )
        )
    )
    gone = {p.concern_id for p in plan.backfill} - set(
        session.scalars(
            select(Concern.id).where(Concern.id.in_([p.concern_id for p in plan.backfill] or [0]))
        )
    )
    background: dict[tuple[int, str, dt.datetime], tuple[int, float]] = {}
    added = 0
    for item in plan.backfill:
        key = plan.placement.get(item.concern_id)
        target = ids.get(key) if key is not None else None
        if target is None or item.concern_id in existing or item.concern_id in gone:
            continue
        member = new_member(item, target, similarity=0.0, now=now)
        session.add(member)
        for count_key, value in member_deltas([member], theme_id=0, background=False).items():
            count, total = background.get(count_key, (0, 0.0))
            background[count_key] = (count + value[0], total + value[1])
        touched.add(target)
        changed.add(item.concern_id)
        added += 1
    session.flush()
    add_counts(session, background)
    return added


def _retire(
    session: Session, plan: _Plan, themes: dict[int, Theme], touched: set[int], now: dt.datetime
) -> int:
    retired = 0
    keep = with_open_cases(session, plan.retired)
    for theme_id in plan.retired:
        theme = themes.get(theme_id)
        if theme is None or theme.state != ThemeState.active:
            continue
        touched.add(theme_id)
        if session.scalar(select(func.count()).where(ThemeMember.theme_id == theme_id)):
            continue  # members arrived online (or by an edit) since the plan was read
        if theme_id in keep:
            continue  # an open case is about it: its tickets go on joining the case
        theme.state = ThemeState.retired
        theme.size = 0
        theme.updated_at = now
        retired += 1
        alerts.end_theme_alerts(session=session, theme_ids=[theme_id], reason="theme_retired")
    return retired


def _apply(*, session: Session, plan: _Plan, now: dt.datetime) -> dict[str, int]:
    """Write a re-clustering plan: one short transaction."""
    lock_themes(session)
    wanted = sorted({k for k in plan.member_ids if isinstance(k, int)} | plan.retired)
    themes: dict[int, Theme] = {}
    for begin in range(0, len(wanted), 500):
        chunk = wanted[begin : begin + 500]
        themes.update({int(t.id): t for t in session.scalars(select(Theme).where(Theme.id.in_(chunk)))})
    ids = _create_new(session, plan, themes, now)
    touched: set[int] = set()
    changed: set[int] = set()
    moved = _move(session, plan, ids, touched, changed)
    backfilled = _insert_backfill(session, plan, ids, touched=touched, changed=changed, now=now)
    retired = _retire(session, plan, themes, touched, now)
    session.flush()
    _refresh_themes(session=session, theme_ids=touched | set(ids.values()), plan=plan, ids=ids, now=now)
    rebuild_counts(session, touched | {i for k, i in ids.items() if not isinstance(k, int)})
    emit_themed(session, changed)
    themes_changed(session)
    return {
        "kept": len([k for k in ids if isinstance(k, int)]),
        "new": len([k for k in ids if not isinstance(k, int)]),
        "retired": retired,
        "members": len(plan.placement),
        "moved": moved,
        "backfilled": backfilled,
    }


def _refresh_themes(
    *, session: Session, theme_ids: set[int], plan: _Plan, ids: dict[Key, int], now: dt.datetime
) -> None:
    """Recompute size, centroid, first/last seen of ``theme_ids`` from their members (SQL aggregates; the
    centroids from the vectors the plan read, loading only those of members that joined since); labels and
    quotes from the plan's summaries."""
    summary_of = {ids[key]: s for key, s in plan.summaries.items() if key in ids}
    wanted = sorted(theme_ids)
    for begin in range(0, len(wanted), 500):
        chunk = wanted[begin : begin + 500]
        figures = {
            int(t or 0): (int(n), first, last)
            for t, n, first, last in session.execute(
                select(
                    ThemeMember.theme_id,
                    func.count(),
                    func.min(ThemeMember.concern_at),
                    func.max(ThemeMember.concern_at),
                )
                .where(ThemeMember.theme_id.in_(chunk))
                .group_by(ThemeMember.theme_id)
            )
        }
        held: dict[int, list[int]] = defaultdict(list)
        for concern_id, theme_id in session.execute(
            select(ThemeMember.concern_id, ThemeMember.theme_id).where(ThemeMember.theme_id.in_(chunk))
        ):
            held[int(theme_id or 0)].append(int(concern_id))
        missing = [c for members in held.values() for c in members if c not in plan.vectors]
        extra: dict[int, NDArray[np.float32]] = {}
        for start in range(0, len(missing), 500):
            for concern_id, raw in session.execute(
                select(ThemeMember.concern_id, ThemeMember.vector).where(
                    ThemeMember.concern_id.in_(missing[start : start + 500])
                )
            ):
                extra[int(concern_id)] = from_bytes(raw)
        for theme in session.scalars(select(Theme).where(Theme.id.in_(chunk))):
            found = figures.get(theme.id)
            if theme.state != ThemeState.active or found is None:
                continue
            size, first, last = found
            vectors = [plan.vectors.get(c, extra.get(c)) for c in held[theme.id]]
            known = [v for v in vectors if v is not None]
            theme.size = size
            if known:
                theme.centroid = to_bytes(np.vstack(known).mean(axis=0))
            theme.first_seen_at = first
            theme.last_seen_at = last
            summary = summary_of.get(theme.id)
            if summary is not None:
                theme.label = summary.label[:200]
                theme.key_phrases = [p[:100] for p in summary.key_phrases]
                theme.quotes = [
                    {"concern_id": c, "text": plan.texts.get(c, "")[:QUOTE_CHARS]} for c in summary.quotes
                ]
            theme.updated_at = now


def recluster(
    *,
    session: Session,
    reader: Session,
    embedder: Embedder,
    backfill_limit: int = 100_000,
    batch: int = 256,
) -> dict[str, int]:
    """Cluster every member again and theme the concerns not themed yet; return what changed (kept, new,
    retired themes; members, moved, backfilled). Reads and computes on ``reader`` (no write lock), then
    writes on ``session`` (the caller commits)."""
    plan = _plan(session=reader, embedder=embedder, backfill_limit=backfill_limit, batch=batch)
    reader.rollback()
    return _apply(session=session, plan=plan, now=utcnow())


def note_run(*, session: Session, outcome: dict[str, Any], every: dt.timedelta) -> None:
    """Record a re-clustering run on its schedule row and set the next one."""
    now = utcnow()
    row = session.get(Schedule, RECLUSTER)
    if row is None:
        row = Schedule(name=RECLUSTER, due_at=now + every, outcome={})
        session.add(row)
    row.last_run_at = now
    row.due_at = now + every
    row.outcome = dict(outcome)
    session.flush()
