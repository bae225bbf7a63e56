"""Background work of themes: the ``advocacy`` consumer (a new concern asks to be themed), the theming job
(embeds outside the write lock, then writes briefly) and the periodic re-clustering (schedule "recluster").

What still needs doing lives in the database: a concern with no theme member row is pending (the sweep
finds it), and the "recluster" schedule row says when the next re-clustering is due.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from ombud.advocacy import assignment, reclustering
from ombud.advocacy.models import Schedule
from ombud.events.service import EventRecord, NamedConsumer
from ombud.storage.base import utcnow
from ombud.storage.db import Database
from ombud.storage.queue import JobQueue, SweepSource, defer
from ombud.triage.embed import Embedder

log = logging.getLogger(__name__)

THEME_JOB = "advocacy.theme_concerns"
RECLUSTER_JOB = "advocacy.recluster"
BATCH = 64


def on_event(*, session: Session, event: EventRecord) -> None:
    """The ``advocacy`` consumer: a new concern is themed by a job after this transaction commits (the
    embedding must not run inside the dispatcher's write transaction)."""
    if event.kind == "concern.created":
        defer(session, THEME_JOB, concern_id=event.entity_id)


def theme_concerns(
    *,
    session: Session,
    database: Database,
    embedder: Embedder,
    recluster_every: dt.timedelta,
    concern_id: int,
) -> None:
    """Theme ``concern_id`` and up to BATCH other pending concerns: read and embed with no row or SQLite
    write lock held (on PostgreSQL only the themes' advisory lock), then write briefly. A full batch
    continues in a new job. Idempotent. While another transaction holds the themes (a re-clustering takes
    minutes), the job steps back (Busy) before embedding anything: waiting for it held a worker thread,
    and with both of a worker's threads so held, live triage stopped."""
    assignment.lock_themes(session, wait=False)
    with database.session(write=False) as reader:
        prepared = assignment.prepare(session=reader, embedder=embedder, first_id=concern_id, limit=BATCH)
        if prepared:
            assignment.warm_index(reader)
    assignment.save(session=session, prepared=prepared, recluster_every=recluster_every)
    if len(prepared) == BATCH:
        defer(session, THEME_JOB, concern_id=concern_id)


def due_recluster(*, session: Session, limit: int) -> Sequence[int]:
    """[1] when the periodic re-clustering is due (the sweep's question), else []."""
    due = session.scalar(
        select(Schedule.name).where(Schedule.name == assignment.RECLUSTER, Schedule.due_at <= utcnow())
    )
    return [1] if due is not None and limit > 0 else []


# A claimed re-clustering holds its schedule row this long: another run (the sweep's, the CLI's) waits for
# it to finish, and a run whose worker died is taken again once it passes.
LEASE = dt.timedelta(hours=2)
# After a failed run the next is due this soon (not a whole period later).
RETRY = dt.timedelta(minutes=15)


def _leased_until(row: Schedule) -> dt.datetime | None:
    raw = (row.outcome or {}).get("leased_until")
    try:
        return dt.datetime.fromisoformat(str(raw)) if raw else None
    except ValueError:
        return None


def claim_recluster(*, database: Database, force: bool = False) -> bool:
    """Claim the re-clustering in a short transaction of its own: when it is due (or ``force``) and no
    other run holds it; the row is leased for LEASE. Return whether this run may go on."""
    now = utcnow()
    with database.session() as claim:
        row = claim.get(Schedule, assignment.RECLUSTER, with_for_update=True)
        if row is None:
            row = Schedule(name=assignment.RECLUSTER, due_at=now, outcome={})
            claim.add(row)
        leased = _leased_until(row)
        if leased is not None and leased > now:
            return False  # another run is going on
        if not force and row.due_at > now:
            return False
        until = now + LEASE
        row.due_at = until
        row.outcome = {**(row.outcome or {}), "leased_until": until.isoformat()}
        claim.commit()
    return True


def release_failed(*, database: Database, error: BaseException) -> None:
    """Give up a claimed run that failed: the next one is due in RETRY, and the row says what went wrong."""
    now = utcnow()
    with database.session() as release:
        row = release.get(Schedule, assignment.RECLUSTER, with_for_update=True)
        if row is None:
            return
        outcome = {k: v for k, v in (row.outcome or {}).items() if k != "leased_until"}
        row.outcome = {
            **outcome,
            "failed_at": now.isoformat(),
            "error": f"{type(error).__name__}: {error}"[:500],
        }
        row.due_at = now + RETRY
        release.commit()


def recluster(
    *,
    session: Session,
    database: Database,
    embedder: Embedder,
    every: dt.timedelta,
    run: int = 1,
    force: bool = False,
    backfill_limit: int = 100_000,
) -> dict[str, int] | None:
    """Re-cluster all themes if due (or ``force``), and set the next run; return the outcome (None: not due,
    or another run holds it). The schedule is claimed (leased) in a short transaction of its own; the
    clustering reads and computes with no write lock held; the result is written in ``session`` (the caller
    commits). A failure gives the claim back, due again in RETRY."""
    if not claim_recluster(database=database, force=force):
        return None
    try:
        with database.session(write=False) as reader:
            outcome = reclustering.recluster(
                session=session, reader=reader, embedder=embedder, backfill_limit=backfill_limit
            )
        reclustering.note_run(session=session, outcome=outcome, every=every)
        session.flush()
    except BaseException as error:
        session.rollback()
        release_failed(database=database, error=error)
        raise
    log.info("advocacy themes re-clustered: %s", outcome)
    return outcome


def register(
    queue: JobQueue,
    consumers: list[NamedConsumer],
    *,
    database: Database,
    embedder: Embedder,
    recluster_hours: int,
) -> None:
    """Register the consumer, the theming job and the periodic re-clustering with the sweep."""
    every = dt.timedelta(hours=recluster_hours)
    consumers.append(NamedConsumer("advocacy", on_event))
    queue.register(
        THEME_JOB,
        functools.partial(theme_concerns, database=database, embedder=embedder, recluster_every=every),
        coalesce=True,
    )
    queue.register_sweep(SweepSource(job=THEME_JOB, id_arg="concern_id", find=assignment.pending_concern_ids))

    def periodic(*, session: Session, run: int) -> None:
        recluster(session=session, database=database, embedder=embedder, every=every, run=run)

    queue.register(RECLUSTER_JOB, periodic, coalesce=True, retries=1)
    queue.register_sweep(SweepSource(job=RECLUSTER_JOB, id_arg="run", find=due_recluster))
