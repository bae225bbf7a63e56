"""Theme assignment: every concern joins a theme online as it arrives, and re-clustering refines them.

The machinery behind :mod:`ombud.advocacy.themes` (the service the web and CLI call).

Online assignment runs as a job after the ``advocacy`` consumer sees ``concern.created``: :func:`prepare`
reads the concerns not themed yet and embeds their text (with no write lock held), :func:`save` writes
briefly: the member rows, the themes' running-mean centroids, the hourly counts per segment, then the spike
checks (:mod:`ombud.advocacy.alerts`) and an ``advocacy.concern_themed`` event per concern. The centroid
matrix is cached per process (:class:`ThemeIndex`) and reloaded only when another process changed the
themes.

Re-clustering (:mod:`ombud.advocacy.reclustering`) refines the themes periodically; advocates' edits
(:mod:`ombud.advocacy.themes`) are kept through it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import delete, func, insert, literal, literal_column, select, text, true
from sqlalchemy.orm import Session

from ombud.advocacy import clustering
from ombud.advocacy.models import AdvocacyCase, Schedule, Theme, ThemeCount, ThemeMember, ThemeState
from ombud.customers.models import Customer
from ombud.events import service as events
from ombud.storage.base import utcnow
from ombud.storage.queue import Busy
from ombud.tickets.models import Concern, ConcernMessage, Message, Ticket
from ombud.triage.embed import Embedder
from ombud.triage.models import MessageTriage

# Concerns of imported history (ombud.tickets.concerns.track_message with quiet=True).
IMPORTED_SOURCE = "import"

THEMED_EVENT = "advocacy.concern_themed"
RECLUSTER = "recluster"
QUOTES = 3
QUOTE_CHARS = 300
# A theme's label and quotes are described again from its latest members when its size reaches one of
# these, then every DESCRIBE_EVERY members: cheap enough to do in the write, rare enough not to matter.
DESCRIBE_AT = frozenset({2, 3, 5, 8, 13, 20, 35, 50})
DESCRIBE_EVERY = 100
DESCRIBE_SAMPLE = 200


# -- vectors ----------------------------------------------------------------------------------------------
def to_bytes(vector: NDArray[np.floating]) -> bytes:
    return np.asarray(vector, dtype=np.float32).tobytes()


def from_bytes(raw: bytes) -> NDArray[np.float32]:
    return np.frombuffer(raw, dtype=np.float32)


def hour_of(at: dt.datetime) -> dt.datetime:
    return at.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)


def segments_of(*, channel: str, tier: str, product: str | None, region: str | None) -> list[str]:
    """The segments a concern counts in: "" (all of the theme), channel, tier, product and region."""
    found = ["", f"channel:{channel}"[:120], f"tier:{tier}"[:120]]
    if product:
        found.append(f"product:{product}"[:120])
    if region:
        found.append(f"region:{region}"[:120])
    return found


def first_words(text: str, count: int = 6) -> str:
    """A new theme's label until it is described: the first words of its first concern."""
    words = str(text).split()
    return " ".join(words[:count]) + ("…" if len(words) > count else "")


def title(theme: Theme) -> str:
    return theme.name or theme.label or f"Theme {theme.id}"


# -- the hourly counts ------------------------------------------------------------------------------------
def add_counts(session: Session, deltas: dict[tuple[int, str, dt.datetime], tuple[int, float]]) -> None:
    """Add ``deltas`` (count, frustration) to the hourly counts, creating rows as needed (an upsert, safe
    against another writer on PostgreSQL)."""
    if not deltas:
        return
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        stmt: Any = pg_insert(ThemeCount)
    else:
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        stmt = sqlite_insert(ThemeCount)
    stmt = stmt.on_conflict_do_update(
        index_elements=["theme_id", "segment", "hour"],
        set_={
            "count": ThemeCount.count + stmt.excluded.count,
            "frustration_sum": ThemeCount.frustration_sum + stmt.excluded.frustration_sum,
        },
    )
    rows = [
        {"theme_id": t, "segment": s, "hour": h, "count": n, "frustration_sum": f}
        for (t, s, h), (n, f) in sorted(deltas.items())
    ]
    session.execute(stmt, rows)


def member_deltas(
    members: Iterable[Any], *, sign: int = 1, theme_id: int | None = None, background: bool = True
) -> dict[tuple[int, str, dt.datetime], tuple[int, float]]:
    """The count changes of adding (sign 1) or removing (-1) ``members`` (ThemeMember rows, or rows with
    its theme_id, concern_at, frustration and segment columns) to their theme (or ``theme_id``), and to
    theme 0 (every concern) when ``background`` (then ``theme_id`` must not be 0: it would count twice)."""
    if background and theme_id == 0:
        raise ValueError("theme 0 is the background: pass background=False to count into it")
    out: dict[tuple[int, str, dt.datetime], tuple[int, float]] = {}

    def bump(key: tuple[int, str, dt.datetime], frustration: float) -> None:
        count, total = out.get(key, (0, 0.0))
        out[key] = (count + sign, total + sign * frustration)

    for member in members:
        target = theme_id if theme_id is not None else member.theme_id
        hour = hour_of(member.concern_at)
        for segment in segments_of(
            channel=member.channel, tier=member.tier, product=member.product, region=member.region
        ):
            if target is not None:
                bump((target, segment, hour), member.frustration)
            if background:
                bump((0, segment, hour), member.frustration)
    return out


def _hour_sql(session: Session) -> Any:
    """The member's concern_at cut to its UTC hour, as the database computes it (stored like hour_of's)."""
    if session.get_bind().dialect.name == "postgresql":
        utc = func.timezone("UTC", ThemeMember.concern_at)
        return func.timezone("UTC", func.date_trunc("hour", utc))
    return func.strftime("%Y-%m-%d %H:00:00.000000", ThemeMember.concern_at)  # SQLAlchemy's SQLite format


def _segment_sql() -> list[tuple[Any, Any]]:
    """Each kind of segment (see segments_of) as an SQL expression, with the condition for a member to
    count in it."""
    return [
        (literal(""), true()),
        (func.substr(literal("channel:") + ThemeMember.channel, 1, 120), true()),
        (func.substr(literal("tier:") + ThemeMember.tier, 1, 120), true()),
        (
            func.substr(literal("product:") + ThemeMember.product, 1, 120),
            (ThemeMember.product.is_not(None)) & (ThemeMember.product != ""),
        ),
        (
            func.substr(literal("region:") + ThemeMember.region, 1, 120),
            (ThemeMember.region.is_not(None)) & (ThemeMember.region != ""),
        ),
    ]


def rebuild_counts(session: Session, theme_ids: Iterable[int]) -> None:
    """Count the hourly series of ``theme_ids`` again from their members (after members moved), in the
    database (INSERT … SELECT … GROUP BY); theme 0 (every concern) is counted again from all members when
    it is among them."""
    wanted = set(theme_ids)
    ids = sorted(wanted - {0})
    hour = _hour_sql(session)
    columns = ["theme_id", "segment", "hour", "count", "frustration_sum"]
    by_position: tuple[Any, ...] = (literal_column("1"), literal_column("2"), literal_column("3"))

    def insert_counts(theme: Any, where: Any) -> None:
        for segment, condition in _segment_sql():
            session.execute(
                insert(ThemeCount).from_select(
                    columns,
                    select(theme, segment, hour, func.count(), func.sum(ThemeMember.frustration))
                    .where(where, condition)
                    .group_by(*by_position),
                )
            )

    if 0 in wanted:
        session.execute(delete(ThemeCount).where(ThemeCount.theme_id == 0))
        insert_counts(literal(0), true())
    for begin in range(0, len(ids), 500):
        chunk = ids[begin : begin + 500]
        session.execute(delete(ThemeCount).where(ThemeCount.theme_id.in_(chunk)))
        insert_counts(ThemeMember.theme_id, ThemeMember.theme_id.in_(chunk))


# -- serialising theme writes, and the per-process index of centroids --------------------------------------
# The advisory lock that lets one transaction at a time change themes on PostgreSQL (online assignment,
# re-clustering's write, advocates' edits); SQLite writers are one at a time already (BEGIN IMMEDIATE).
THEMES_LOCK = 0x6F6D627574
# The schedule row whose outcome carries the themes' generation: a new random token written in every
# transaction that changes themes, so a process's cached index is current exactly when its token is the
# database's (a rolled-back change leaves a token the database never had: the cache is rebuilt).
GENERATION = "themes:generation"
NEVER = dt.datetime(9000, 1, 1, tzinfo=dt.UTC)


def lock_themes(session: Session, *, wait: bool = True) -> None:
    """Take, and hold until the transaction ends, the right to change themes (PostgreSQL; SQLite has one
    writer). ``wait=False`` raises Busy at once when another transaction holds it: a theme job must not
    hold a worker thread for the minutes a re-clustering takes (it comes back a second later)."""
    if session.get_bind().dialect.name != "postgresql":
        return
    if wait:
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": THEMES_LOCK})
    elif not session.scalar(text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": THEMES_LOCK}):
        raise Busy("another transaction is changing themes")


def bump_generation(session: Session) -> str:
    """Record that the themes changed in this transaction; return the new generation token."""
    token = uuid.uuid4().hex
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        stmt: Any = pg_insert(Schedule)
    else:
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        stmt = sqlite_insert(Schedule)
    session.execute(
        stmt.values(name=GENERATION, due_at=NEVER, outcome={"generation": token}).on_conflict_do_update(
            index_elements=["name"], set_={"outcome": stmt.excluded.outcome}
        )
    )
    return token


def _generation(session: Session) -> str:
    found = session.scalar(select(Schedule.outcome).where(Schedule.name == GENERATION))
    return str((found or {}).get("generation", ""))


@dataclass
class ThemeIndex:
    """The active themes' centroids as one matrix, with the generation of the database it reflects."""

    themes: clustering.OnlineThemes
    stamp: str


_INDEXES: dict[str, ThemeIndex] = {}
# Held while a process's index is read or changed: threads of one process share it.
_INDEX_LOCK = threading.RLock()


def _key(session: Session) -> str:
    return str(session.get_bind().engine.url)


def _index(session: Session) -> ThemeIndex:
    """Return this process's centroid index for the session's database, reloaded if the themes changed
    (call it holding ``_INDEX_LOCK``)."""
    key = _key(session)
    stamp = _generation(session)
    found = _INDEXES.get(key)
    if found is not None and found.stamp == stamp:
        return found
    rows = session.execute(
        select(Theme.id, Theme.centroid, Theme.size)
        .where(Theme.state == ThemeState.active)
        .order_by(Theme.id)
    ).all()
    vectors = (
        np.vstack([from_bytes(raw) for _, raw, _ in rows]) if rows else np.zeros((0, 384), dtype=np.float32)
    )
    themes = clustering.OnlineThemes.from_centroids(
        [int(r[0]) for r in rows], vectors, [int(r[2]) for r in rows]
    )
    built = ThemeIndex(themes=themes, stamp=stamp)
    _INDEXES[key] = built
    return built


def warm_index(session: Session) -> None:
    """Bring this process's index up to date on a read session, before the write: the write then finds it
    current (one indexed lookup) unless the themes changed in between."""
    with _INDEX_LOCK:
        _index(session)


def forget_index(session: Session) -> None:
    """Drop the cached index (after re-clustering, an edit, or a failed write in this process)."""
    with _INDEX_LOCK:
        _INDEXES.pop(_key(session), None)


def themes_changed(session: Session) -> None:
    """Record a change of themes made outside online assignment (an edit, re-clustering)."""
    bump_generation(session)
    forget_index(session)


def one_blas_thread() -> contextlib.AbstractContextManager[Any]:
    """Run a matrix-vector product on one BLAS thread: in a worker that also runs the embedder (ONNX
    Runtime's threads), a multi-threaded OpenBLAS sgemv over a few thousand centroids takes milliseconds
    of thread hand-off instead of a fraction of one. threadpoolctl comes with scikit-learn."""
    try:
        from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]
    except ImportError:  # pragma: no cover - scikit-learn always brings it
        return contextlib.nullcontext()
    limits: contextlib.AbstractContextManager[Any] = threadpool_limits(1, user_api="blas")
    return limits


# -- online assignment ------------------------------------------------------------------------------------
@dataclass
class PreparedConcern:
    """A concern read and embedded outside the write transaction, ready to be themed."""

    concern_id: int
    ticket_id: int
    customer_id: int
    text: str
    vector: NDArray[np.float32]
    intent: str | None
    channel: str
    tier: str
    region: str | None
    product: str | None
    language: str | None
    emotion: str | None
    frustration: float
    concern_at: dt.datetime
    # A concern of imported history (source "import"): themed, counted, but announced to no consumer (no
    # case joins, no webhooks): ombud.imports keeps old conversations quiet.
    quiet: bool = False


def pending_concern_ids(*, session: Session, limit: int) -> Sequence[int]:
    """Return the ids of concerns no theme holds yet, oldest first (the sweep's and the backfill's)."""
    query = (
        select(Concern.id)
        .outerjoin(ThemeMember, ThemeMember.concern_id == Concern.id)
        .where(ThemeMember.concern_id.is_(None))
        .order_by(Concern.id)
        .limit(limit)
    )
    return [int(i) for i in session.scalars(query)]


def _product(result: dict[str, Any]) -> str | None:
    for entity in result.get("entities") or []:
        if entity.get("type") == "product" and entity.get("value"):
            return str(entity["value"])[:200]
    return None


def read_concerns(*, session: Session, concern_ids: Sequence[int]) -> list[dict[str, Any]]:
    """Return what theming needs of each concern (its ticket's channel, its customer's tier and region,
    the triage of the message it came from), in the order given; concerns gone meanwhile are left out."""
    if not concern_ids:
        return []
    rows = session.execute(
        select(Concern, Ticket.channel, Ticket.customer_id, Customer.tier, Customer.preferences)
        .join(Ticket, Ticket.id == Concern.ticket_id)
        .join(Customer, Customer.id == Ticket.customer_id)
        .where(Concern.id.in_(list(concern_ids)))
    ).all()
    first_message: dict[int, int] = {}
    for concern_id, message_id in session.execute(
        select(ConcernMessage.concern_id, func.min(ConcernMessage.message_id))
        .where(ConcernMessage.concern_id.in_(list(concern_ids)))
        .group_by(ConcernMessage.concern_id)
    ):
        first_message[int(concern_id)] = int(message_id)
    message_ids = list(first_message.values())
    written: dict[int, dt.datetime] = {
        int(i): at
        for i, at in session.execute(
            select(Message.id, Message.created_at).where(Message.id.in_(message_ids))
        )
    }
    triaged = {
        int(t.message_id): t
        for t in session.scalars(select(MessageTriage).where(MessageTriage.message_id.in_(message_ids)))
    }
    by_id: dict[int, dict[str, Any]] = {}
    for concern, channel, customer_id, tier, preferences in rows:
        first = first_message.get(concern.id)
        result = triaged.get(first) if first is not None else None
        region = (preferences or {}).get("region")
        emotion = ((result.result or {}).get("emotion") or {}).get("label") if result else None
        by_id[concern.id] = {
            "concern_id": concern.id,
            "ticket_id": concern.ticket_id,
            "customer_id": int(customer_id),
            "text": concern.text,
            "intent": concern.intent,
            "channel": str(getattr(channel, "value", channel)),
            "tier": tier or "standard",
            "region": str(region)[:100] if isinstance(region, str) and region.strip() else None,
            "product": _product(result.result or {}) if result else None,
            "language": result.language if result else None,
            "emotion": str(emotion)[:20] if emotion else None,
            "frustration": float(result.frustration) if result else 0.0,
            "concern_at": written.get(first, concern.created_at) if first else concern.created_at,
            "quiet": concern.source == IMPORTED_SOURCE,
        }
    return [by_id[i] for i in concern_ids if i in by_id]


def prepare(
    *, session: Session, embedder: Embedder, first_id: int | None = None, limit: int = 64
) -> list[PreparedConcern]:
    """Read up to ``limit`` concerns not themed yet (``first_id`` first) and embed their text. Reads only:
    run it outside the write transaction."""
    ids = list(pending_concern_ids(session=session, limit=limit))
    if first_id is not None and first_id not in ids:
        still_pending = session.scalar(
            select(Concern.id)
            .outerjoin(ThemeMember, ThemeMember.concern_id == Concern.id)
            .where(Concern.id == first_id, ThemeMember.concern_id.is_(None))
        )
        if still_pending is not None:
            ids = [first_id, *ids[: limit - 1]]
    found = read_concerns(session=session, concern_ids=ids)
    if not found:
        return []
    vectors = embedder.embed_batch([row["text"] for row in found])
    return [PreparedConcern(vector=vectors[i], **row) for i, row in enumerate(found)]


@dataclass
class Themed:
    concern_id: int
    theme_id: int
    created: bool
    similarity: float


@dataclass
class _Touched:
    themes: dict[int, Theme] = field(default_factory=dict)
    segments: dict[int, set[str]] = field(default_factory=lambda: defaultdict(set))


def _new_theme(session: Session, vector: NDArray[np.float32], item: PreparedConcern) -> Theme:
    now = utcnow()
    theme = Theme(
        state=ThemeState.active,
        label=first_words(item.text)[:200],
        key_phrases=[],
        quotes=[{"concern_id": item.concern_id, "text": item.text[:QUOTE_CHARS]}],
        centroid=to_bytes(vector),
        dimensions=int(vector.shape[0]),
        size=0,
        first_seen_at=item.concern_at,
        last_seen_at=item.concern_at,
        created_at=now,
        updated_at=now,
    )
    session.add(theme)
    session.flush()
    return theme


def describe_theme(session: Session, theme: Theme) -> None:
    """Label the theme by the key phrases of its latest members and pick its quotes."""
    rows = session.execute(
        select(ThemeMember.concern_id, ThemeMember.text, ThemeMember.vector)
        .where(ThemeMember.theme_id == theme.id)
        .order_by(ThemeMember.concern_at.desc())
        .limit(DESCRIBE_SAMPLE)
    ).all()
    if not rows:
        return
    vectors = np.vstack([from_bytes(r[2]) for r in rows])
    summary = clustering.describe(
        [r[1] for r in rows], np.zeros(len(rows), dtype=np.int64), vectors, quotes=QUOTES
    ).get(0)
    if summary is None:
        return
    theme.label = summary.label[:200]
    theme.key_phrases = [p[:100] for p in summary.key_phrases]
    theme.quotes = [
        {"concern_id": int(rows[i][0]), "text": str(rows[i][1])[:QUOTE_CHARS]} for i in summary.quotes
    ]


def new_member(item: PreparedConcern, theme_id: int, *, similarity: float, now: dt.datetime) -> ThemeMember:
    return ThemeMember(
        concern_id=item.concern_id,
        theme_id=theme_id,
        ticket_id=item.ticket_id,
        customer_id=item.customer_id,
        text=item.text,
        vector=to_bytes(item.vector),
        similarity=similarity,
        pinned=False,
        intent=item.intent,
        channel=item.channel,
        product=item.product,
        tier=item.tier,
        region=item.region,
        language=item.language,
        emotion=item.emotion,
        frustration=item.frustration,
        concern_at=item.concern_at,
        created_at=now,
    )


def save(
    *,
    session: Session,
    prepared: Sequence[PreparedConcern],
    now: dt.datetime | None = None,
    recluster_every: dt.timedelta = dt.timedelta(hours=24),
) -> list[Themed]:
    """Theme the prepared concerns (the write: members, centroids, counts, spike checks, events); return
    what was done. Idempotent: a concern themed meanwhile (another worker) is skipped."""
    if not prepared:
        return []
    from ombud.advocacy import alerts

    now = now or utcnow()
    lock_themes(session)  # then no other worker themes these concerns or changes these themes meanwhile
    done = set(
        session.scalars(
            select(ThemeMember.concern_id).where(ThemeMember.concern_id.in_([p.concern_id for p in prepared]))
        )
    )
    touched = _Touched()
    themed: list[Themed] = []
    deltas: dict[tuple[int, str, dt.datetime], tuple[int, float]] = {}
    with _INDEX_LOCK:
        index = _index(session)
        try:
            with one_blas_thread():
                for item in prepared:
                    if item.concern_id in done:
                        continue
                    done.add(item.concern_id)
                    themed.append(_theme_one(session, index, touched, item, deltas=deltas, now=now))
        except BaseException:
            _INDEXES.pop(_key(session), None)
            raise
        index.stamp = bump_generation(session)
    session.flush()
    add_counts(session, deltas)
    for theme in touched.themes.values():
        if theme.size in DESCRIBE_AT or theme.size % DESCRIBE_EVERY == 0:
            describe_theme(session, theme)
    session.flush()
    by_concern = {p.concern_id: p for p in prepared}
    for done_one in themed:
        item = by_concern[done_one.concern_id]
        if item.quiet:
            continue
        events.emit(
            session=session,
            kind=THEMED_EVENT,
            entity_type="concern",
            entity_id=item.concern_id,
            actor_type="system",
            actor_id=None,
            ticket_id=item.ticket_id,
            customer_id=item.customer_id,
            payload={
                "concern_id": item.concern_id,
                "theme_id": done_one.theme_id,
                "ticket_id": item.ticket_id,
                "customer_id": item.customer_id,
            },
        )
    alerts.end_quiet(session=session, now=now)
    for theme_id, segments in touched.segments.items():
        alerts.check_theme(session=session, theme_id=theme_id, segments=sorted(segments), now=now)
    ensure_schedule(session=session, name=RECLUSTER, due_at=now + recluster_every)
    return themed


def _current(session: Session, index: ThemeIndex, touched: _Touched, theme_id: int) -> Theme | None:
    """The active theme the index's ``theme_id`` stands for now: itself, or the theme it was merged into;
    None (and the id is dropped from the index) when it is gone."""
    for _ in range(5):
        theme = touched.themes.get(theme_id) or session.get(Theme, theme_id)
        if theme is not None and theme.state == ThemeState.active:
            return theme
        if theme_id in index.themes.ids:
            index.themes.remove(theme_id)
        if theme is None or theme.merged_into_id is None:
            return None
        theme_id = theme.merged_into_id
    return None


def _theme_one(
    session: Session,
    index: ThemeIndex,
    touched: _Touched,
    item: PreparedConcern,
    *,
    deltas: dict[tuple[int, str, dt.datetime], tuple[int, float]],
    now: dt.datetime,
) -> Themed:
    """Put one concern in its nearest theme (or a new one), moving the theme's centroid as stored in the
    database (the index only finds the theme: a stale index never overwrites a centroid)."""
    vector = np.asarray(item.vector, dtype=np.float32).ravel()
    norm = float(np.linalg.norm(vector))
    unit = vector / norm if norm else vector
    theme: Theme | None = None
    similarity = 1.0
    for _ in range(5):
        nearest, score = index.themes.nearest(unit)
        if nearest is None or score < index.themes.threshold:
            break
        theme = _current(session, index, touched, nearest)
        if theme is not None:
            similarity = score
            break
    created = theme is None
    if theme is None:
        theme = _new_theme(session, unit, item)
    size = max(int(theme.size), 0)
    centre = from_bytes(theme.centroid).astype(np.float64) if size and not created else np.zeros(unit.shape)
    moved = (centre * size + unit) / (size + 1) if centre.shape == unit.shape else unit.astype(np.float64)
    theme.size = size + 1
    theme.centroid = to_bytes(moved)
    index.themes.add(theme.id, moved, size=size + 1)
    touched.themes[theme.id] = theme
    member = new_member(item, theme.id, similarity=round(similarity, 4), now=now)
    session.add(member)
    theme.first_seen_at = min(theme.first_seen_at, item.concern_at)
    theme.last_seen_at = max(theme.last_seen_at, item.concern_at)
    theme.updated_at = now
    for key, value in member_deltas([member]).items():
        count, total = deltas.get(key, (0, 0.0))
        deltas[key] = (count + value[0], total + value[1])
    touched.segments[theme.id].update(
        segments_of(channel=item.channel, tier=item.tier, product=item.product, region=item.region)
    )
    return Themed(concern_id=item.concern_id, theme_id=theme.id, created=created, similarity=similarity)


def assign_concern(*, session: Session, concern_id: int, embedder: Embedder) -> Themed | None:
    """Theme one concern now, in the caller's transaction (embedding included): for the CLI and tests;
    the consumer's job does the same in batches, embedding outside the write."""
    prepared = [
        p
        for p in prepare(session=session, embedder=embedder, first_id=concern_id, limit=1)
        if p.concern_id == concern_id
    ]
    found = save(session=session, prepared=prepared)
    return found[0] if found else None


def emit_themed(session: Session, concern_ids: Iterable[int]) -> None:
    """Emit ``advocacy.concern_themed`` for concerns whose theme changed (backfill, re-clustering, an
    advocate's merge, split or move), with the theme they are in now: their tickets join that theme's open
    cases, as when online assignment themed them."""
    ids = sorted(set(concern_ids))
    for begin in range(0, len(ids), 500):
        rows = session.execute(
            select(
                ThemeMember.concern_id, ThemeMember.theme_id, ThemeMember.ticket_id, ThemeMember.customer_id
            )
            .join(Concern, Concern.id == ThemeMember.concern_id)
            .where(
                ThemeMember.concern_id.in_(ids[begin : begin + 500]),
                ThemeMember.theme_id.is_not(None),
                Concern.source != IMPORTED_SOURCE,
            )
        ).all()
        for concern_id, theme_id, ticket_id, customer_id in rows:
            if theme_id is None:
                continue
            events.emit(
                session=session,
                kind=THEMED_EVENT,
                entity_type="concern",
                entity_id=int(concern_id),
                actor_type="system",
                actor_id=None,
                ticket_id=int(ticket_id),
                customer_id=int(customer_id),
                payload={
                    "concern_id": int(concern_id),
                    "theme_id": int(theme_id),
                    "ticket_id": int(ticket_id),
                    "customer_id": int(customer_id),
                },
            )


def with_open_cases(session: Session, theme_ids: Iterable[int]) -> set[int]:
    """The themes among ``theme_ids`` that have an open advocacy case (they are never retired)."""
    from ombud.advocacy.cases import OPEN_STATES

    ids = sorted(set(theme_ids))
    if not ids:
        return set()
    return {
        int(i)
        for i in session.scalars(
            select(AdvocacyCase.theme_id)
            .where(AdvocacyCase.theme_id.in_(ids), AdvocacyCase.status.in_(list(OPEN_STATES)))
            .distinct()
        )
        if i is not None
    }


def ensure_schedule(*, session: Session, name: str, due_at: dt.datetime) -> None:
    """Create the schedule row ``name`` (due at ``due_at``) unless it exists."""
    if session.get(Schedule, name) is None:
        session.add(Schedule(name=name, due_at=due_at, outcome={}))
        session.flush()


def intent_of(*, session: Session, theme_id: int) -> str | None:
    """The theme's most common intent."""
    rows = Counter(
        {
            str(intent): int(n)
            for intent, n in session.execute(
                select(ThemeMember.intent, func.count())
                .where(ThemeMember.theme_id == theme_id, ThemeMember.intent.is_not(None))
                .group_by(ThemeMember.intent)
            )
        }
    )
    return rows.most_common(1)[0][0] if rows else None
