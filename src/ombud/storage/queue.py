"""Background jobs on huey: a durable SQLite queue by default, Redis for many worker processes.

Jobs take ids, never objects. A job function has the signature ``fn(*, session, **ids)``; the runner opens
the session, commits it when the function returns and rolls it back when it raises (huey then retries).

Domain services never enqueue directly, because the job must not run before the data it needs is
committed. They call :func:`defer` instead, which remembers the job on the session; a listener enqueues it
right after that session commits and forgets it on rollback. If enqueueing fails (Redis down, a crash
between commit and enqueue), nothing is lost: the work is also recorded as state in the database, and the
sweep (:meth:`JobQueue.sweep`) finds it and enqueues it again. So every job must be idempotent.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlparse

import redis
from huey import PriorityRedisHuey, SqliteHuey, crontab
from huey.api import Huey
from huey.consumer import Consumer
from huey.storage import SqliteStorage
from sqlalchemy import event
from sqlalchemy.orm import Session

from ombud.errors import ConfigurationError
from ombud.storage.db import Database

log = logging.getLogger(__name__)

_DEFERRED = "ombud.deferred_jobs"
# How long a coalesced job may wait in a Redis queue before a commit enqueues another one anyway.
COALESCE_SECONDS = 60
# How long any other job may wait before the same job for the same ids is enqueued again (a job lost with
# its queue, or with a process killed between claiming and enqueueing, is redone after this at the latest).
WAITING_SECONDS = 600


# How soon a coalesced job that found its work busy (see Busy) comes back.
BUSY_DELAY = dt.timedelta(seconds=1)


class Busy(Exception):
    """Raised by a job whose work another runner holds right now (a lock it would otherwise wait on).

    The job's transaction rolls back and the job ends, so no worker thread waits on another's lock. A
    coalesced job comes back after BUSY_DELAY unless another one is already waiting; any other job is
    left to the sweep, which finds its work still pending.
    """


# fn(*, session, **ids) -> None; typed loosely because each job names its own id arguments.
JobFunction = Callable[..., None]


class PendingFinder(Protocol):
    def __call__(self, *, session: Session, limit: int) -> Sequence[int]: ...


@dataclass(frozen=True)
class SweepSource:
    """Where the sweep looks for work still pending: a finder of ids and the job that does the work."""

    job: str
    id_arg: str
    find: PendingFinder


def defer(session: Session, job: str, **ids: int) -> None:
    """Enqueue ``job(**ids)`` once ``session`` commits; drop it if the session rolls back."""
    session.info.setdefault(_DEFERRED, []).append((job, ids, None))


def defer_in(session: Session, job: str, delay: dt.timedelta, **ids: int) -> None:
    """Enqueue ``job(**ids)`` to run ``delay`` after ``session`` commits (a retry with backoff). The work
    must also be recorded as pending in the database: a scheduled job lives only in the queue."""
    session.info.setdefault(_DEFERRED, []).append((job, ids, delay))


class _SqliteStorage(SqliteStorage):  # type: ignore[misc]  # huey ships no types
    """huey's SQLite storage with synchronous=NORMAL, as the database has: in WAL mode a commit is safe
    from a crash of the process and waits for no fsync (huey offers only FULL or OFF). The database, not
    the queue, records what is pending, and the sweep enqueues it again after a power loss."""

    def _create_connection(self) -> Any:
        conn = super()._create_connection()
        conn.execute("pragma synchronous=NORMAL")
        return conn


def make_huey(queue_url: str, *, name: str = "ombud", immediate: bool = False) -> Huey:
    """Return the huey instance for ``queue_url`` (sqlite:///file, redis://host:port/db or memory://)."""
    parsed = urlparse(queue_url)
    if parsed.scheme == "sqlite":
        path = Path(parsed.path if not parsed.netloc else parsed.netloc + parsed.path)
        path.parent.mkdir(parents=True, exist_ok=True)
        return SqliteHuey(
            name,
            filename=str(path),
            results=False,
            immediate=immediate,
            timeout=30,
            storage_class=_SqliteStorage,
        )
    if parsed.scheme in {"redis", "rediss"}:
        # The priority flavour (a sorted set): a chat reply need not wait behind a backlog of triage. Its
        # own key: the plain flavour's list under the old one would answer WRONGTYPE. Jobs left there by
        # an older ombud are not lost: the database records the work, and the sweep enqueues it again.
        return PriorityRedisHuey(f"{name}.p", url=queue_url, results=False, immediate=immediate)
    if parsed.scheme == "memory":
        return Huey(name, results=False, immediate=True)
    raise ConfigurationError(
        f"OMBUD_QUEUE_URL must start with sqlite:///, redis:// or memory://, not {queue_url!r}."
    )


class JobQueue:
    """The registry of jobs, the enqueue side and the sweep, bound to one database and one huey."""

    def __init__(self, huey: Huey, database: Database, *, sweep_every_minutes: int = 1) -> None:
        self.huey = huey
        self.database = database
        self._tasks: dict[str, Any] = {}
        self._sweep_sources: list[SweepSource] = []
        # Coalescing (see register): jobs enqueued by this process that have not started yet, by key (the
        # job's name for a coalesced job, its name and ids for any other), with when they were claimed.
        self._coalesced: set[str] = set()
        self._waiting: dict[str, float] = {}
        self._waiting_lock = threading.Lock()
        self.local_consumer = False
        # A Redis queue is shared by many processes: coalescing (see register) keeps its waiting set there.
        self._redis: Any = (
            getattr(huey.storage, "conn", None) if isinstance(huey, PriorityRedisHuey) else None
        )
        for factory in (database.reader, database.writer):
            event.listen(factory, "after_commit", self._after_commit)
            event.listen(factory, "after_rollback", self._after_rollback)
        self.huey.periodic_task(crontab(minute=f"*/{sweep_every_minutes}"), name="ombud.sweep")(
            self._periodic_sweep
        )

    # -- registration ---------------------------------------------------------------------------------
    def register(
        self,
        name: str,
        fn: JobFunction,
        *,
        retries: int = 5,
        retry_delay: int = 10,
        coalesce: bool = False,
        priority: int | None = None,
    ) -> None:
        """Register ``fn`` as the job ``name``; it runs in its own committed transaction. Waiting jobs of
        a higher ``priority`` run first (a reply a customer waits for before a backlog of triage).

        Every job is enqueued at most once per ids while one waits to start: a job reads the state when it
        runs, so the waiting one does what a second would (without this, each sweep re-added every pending
        id while a backlog drained, and 90,000 review jobs buried triage under load).

        ``coalesce`` is for jobs that do all the pending work of their kind, not just their own id (the
        search index takes the whole backlog). A commit enqueues such a job only if none is waiting to
        start: the waiting one will see this commit, because a job leaves the waiting set before it reads
        anything. Under a burst this turns one queue write and one job per message into a handful. The
        waiting set is in this process while it consumes the queue itself; on Redis it is a key there, so
        several servers and `ombud worker` processes share it (without it, a burst of N commits on the
        servers queued N jobs for the workers, and a high-priority coalesced job starved the others).
        """
        if name in self._tasks:
            raise ValueError(f"job {name!r} registered twice")
        if coalesce:
            self._coalesced.add(name)

        def run(**ids: int) -> None:
            self._release(name, ids)
            try:
                with self.database.session(write=True) as session:
                    fn(session=session, **ids)
                    session.commit()
            except Busy:
                if coalesce and self._claim(name, ids):
                    self.schedule(name, BUSY_DELAY, **ids)

        run.__name__ = name.replace(".", "_")
        self._tasks[name] = self.huey.task(
            name=name, retries=retries, retry_delay=retry_delay, priority=priority
        )(run)

    def register_sweep(self, source: SweepSource) -> None:
        """Let the sweep re-enqueue ``source.job`` for every id ``source.find`` reports pending."""
        self._sweep_sources.append(source)

    @property
    def job_names(self) -> list[str]:
        return sorted(self._tasks)

    # -- enqueueing -----------------------------------------------------------------------------------
    def enqueue(self, name: str, **ids: int) -> None:
        """Put ``name(**ids)`` on the queue now (use :func:`defer` from inside a transaction)."""
        self._task(name)(**ids)

    def schedule(self, name: str, delay: dt.timedelta, **ids: int) -> None:
        """Put ``name(**ids)`` on the queue to run after ``delay`` (use :func:`defer_in` in a transaction)."""
        self._task(name).schedule(kwargs=ids, delay=max(delay.total_seconds(), 0.0))

    def _task(self, name: str) -> Any:
        try:
            return self._tasks[name]
        except KeyError:
            raise ValueError(f"unknown job {name!r}; known: {', '.join(self.job_names)}") from None

    def _after_commit(self, session: Session) -> None:
        if session.in_nested_transaction():
            return  # a savepoint released: the work is not committed until the outer transaction is
        pending = session.info.pop(_DEFERRED, None)
        for name, ids, delay in pending or ():
            if delay is None and not self._claim(name, ids):
                continue
            try:
                if delay is None:
                    self.enqueue(name, **ids)
                else:
                    self.schedule(name, delay, **ids)
            except Exception:
                self._release(name, ids)
                # Recorded as pending in the database: the sweep will enqueue it again.
                log.exception("could not enqueue %s(%s); the sweep will retry", name, ids)

    def _key(self, name: str, ids: dict[str, int]) -> str:
        if name in self._coalesced:
            return name
        return name + ":" + ",".join(f"{k}={v}" for k, v in sorted(ids.items()))

    def _claim(self, name: str, ids: dict[str, int]) -> bool:
        """Return whether to enqueue ``name(**ids)`` now (False: one is already waiting to start)."""
        key = self._key(name, ids)
        expiry = COALESCE_SECONDS if name in self._coalesced else WAITING_SECONDS
        if self._redis is not None:
            try:
                # The key expires: a waiting job lost with its queue (or a process killed before it could
                # enqueue) holds back the next ones for a while at most; the sweep finds the work.
                return bool(self._redis.set(self._waiting_key(key), 1, nx=True, ex=expiry))
            except redis.RedisError:
                log.warning("cannot claim %s through Redis; enqueueing it", key, exc_info=True)
                return True
        if not self.local_consumer:
            return True
        now = time.monotonic()
        with self._waiting_lock:
            claimed = self._waiting.get(key)
            if claimed is not None and now - claimed < expiry:
                return False
            self._waiting[key] = now
            return True

    def _release(self, name: str, ids: dict[str, int]) -> None:
        key = self._key(name, ids)
        if self._redis is not None:
            try:
                self._redis.delete(self._waiting_key(key))
            except redis.RedisError:
                log.warning("cannot release %s in Redis; it expires by itself", key, exc_info=True)
            return
        with self._waiting_lock:
            self._waiting.pop(key, None)

    def _waiting_key(self, key: str) -> str:
        return f"ombud.waiting.{self.huey.name}.{key}"

    def _after_rollback(self, session: Session) -> None:
        if session.in_nested_transaction():
            # A savepoint rolled back: what was deferred before it still stands. What was deferred inside
            # it is enqueued with the rest; its ids find nothing and the jobs end at once.
            return
        session.info.pop(_DEFERRED, None)

    # -- the sweep ------------------------------------------------------------------------------------
    def sweep(self, *, limit: int = 10_000) -> dict[str, int]:
        """Enqueue jobs for all work the database records as pending; return what was pending, per job."""
        counts: dict[str, int] = {}
        for source in self._sweep_sources:
            with self.database.session(write=False) as session:
                ids = list(source.find(session=session, limit=limit))
            # A coalesced job works through the whole backlog by itself: one is enough, and none when one
            # is waiting already (each sweep of each worker would otherwise add one more, and a worker
            # thread would wait for the running one's lock instead of taking other work).
            # Any other job is enqueued only for the ids none waits for already: while a backlog drains,
            # each sweep would otherwise add every pending id once more.
            to_enqueue = ids[:1] if source.job in self._coalesced else ids
            for item_id in to_enqueue:
                item = {source.id_arg: item_id}
                if not self._claim(source.job, item):
                    continue
                try:
                    self.enqueue(source.job, **item)
                except Exception:
                    self._release(source.job, item)
                    raise
            counts[source.job] = len(ids)
        return counts

    def _periodic_sweep(self) -> None:
        counts = self.sweep()
        if any(counts.values()):
            log.info("sweep re-enqueued pending work: %s", counts)

    def pending_in_queue(self) -> int:
        """Return how many jobs wait in the queue right now."""
        return int(self.huey.pending_count())


class _QuietConsumer(Consumer):  # type: ignore[misc]
    """huey's consumer without its signal handlers, so it can run inside `ombud serve`."""

    def _set_signal_handlers(self) -> None:
        return None


class EmbeddedWorker:
    """Runs the huey consumer on background threads of the current process."""

    def __init__(self, queue: JobQueue, *, threads: int = 2, max_delay: float = 0.5) -> None:
        self._consumer = _QuietConsumer(
            queue.huey,
            workers=threads,
            periodic=True,
            initial_delay=0.05,
            max_delay=max_delay,
            check_worker_health=False,
        )
        self._queue = queue
        self._lock = threading.Lock()
        self._running = False

    def start(self) -> None:
        with self._lock:
            if not self._running:
                self._consumer.start()
                self._running = True
                self._queue.local_consumer = True

    def stop(self, *, timeout: float = 10.0) -> None:
        with self._lock:
            if self._running:
                self._queue.local_consumer = False
                self._consumer.shutdown_timeout = timeout
                self._consumer.stop(graceful=True)
                self._running = False


def run_worker(queue: JobQueue, *, threads: int, on_start: Callable[[], None] | None = None) -> None:
    """Consume the queue in the foreground until SIGINT/SIGTERM (``ombud worker``)."""
    # SIGTERM (what process managers send) lets running jobs finish; SIGINT stops at once. An
    # interrupted job is not lost: its work is still pending in the database and the sweep finds it.
    consumer = Consumer(
        queue.huey, workers=threads, periodic=True, initial_delay=0.05, max_delay=1.0, graceful_signal="TERM"
    )
    if on_start is not None:
        on_start()
    consumer.run()
