"""Coalesced jobs on a Redis queue are coalesced across processes: while one waits to start, commits in any
process (here: two JobQueues, as two servers have) enqueue no other; once it starts, the next commit
enqueues a new one. Before, each process kept its own waiting set and only while consuming the queue itself,
so N commits on `ombud serve --no-worker` processes queued N jobs for the workers. Any other job waits at
most once per ids: the sweeps of every process add an id only when no job for it waits."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from ombud.storage.db import Database
from ombud.storage.queue import JobQueue, SweepSource, defer, make_huey
from tests.conftest import REDIS_URL

pytestmark = pytest.mark.redis

JOB = "test.backlog"


@pytest.fixture
def database(tmp_path: Path, sqlite_template: Path) -> Iterator[Database]:
    target = tmp_path / "ombud.db"
    shutil.copyfile(sqlite_template, target)
    built = Database(f"sqlite:///{target}")
    yield built
    built.dispose()


def test_two_processes_share_one_waiting_coalesced_job(database: Database) -> None:
    assert REDIS_URL is not None
    name = f"ombud-test-{uuid.uuid4().hex[:8]}"
    ran: list[int] = []
    queues = []
    for _ in range(2):
        queue = JobQueue(make_huey(REDIS_URL, name=name), database)
        queue.register(JOB, lambda *, session, n: ran.append(n), coalesce=True)
        queues.append(queue)
    first, second = queues
    huey = first.huey
    try:

        def commit(queue: JobQueue, n: int) -> None:
            with queue.database.session() as session:
                defer(session, JOB, n=n)
                session.commit()

        for n in range(5):
            commit(first if n % 2 else second, n)
        assert huey.pending_count() == 1  # one job waits for all five commits, from both processes

        task = huey.dequeue()
        huey.execute(task)  # a worker starts it: the waiting mark goes before it reads anything
        assert ran == [0] and huey.pending_count() == 0
        commit(second, 5)
        commit(first, 6)
        assert huey.pending_count() == 1  # a commit after the start enqueues the next one, once
    finally:
        _clean(name, queues)


def _clean(name: str, queues: list[JobQueue]) -> None:
    assert REDIS_URL is not None
    client = redis.Redis.from_url(REDIS_URL)
    keys = [*client.scan_iter(match=f"*{name}*"), *client.scan_iter(match=f"*{name.replace('-', '')}*")]
    if keys:
        client.delete(*keys)
    client.close()
    for queue in queues:
        queue.huey.storage.conn.close()


def test_sweeps_and_commits_add_an_id_only_while_no_job_for_it_waits(database: Database) -> None:
    """Under a backlog that takes longer than a sweep period to drain, every sweep of every process used to
    enqueue every pending id again: a 10-minute load left 62,639 review jobs in the queue ahead of triage."""
    assert REDIS_URL is not None
    name = f"ombud-test-{uuid.uuid4().hex[:8]}"
    ran: list[int] = []
    pending = [1, 2, 3]
    queues = []
    for _ in range(2):
        queue = JobQueue(make_huey(REDIS_URL, name=name), database)
        queue.register("test.review", lambda *, session, ticket_id: ran.append(ticket_id))
        queue.register_sweep(
            SweepSource(job="test.review", id_arg="ticket_id", find=lambda *, session, limit: pending)
        )
        queues.append(queue)
    first, second = queues
    huey = first.huey
    try:
        for queue in (first, second, first):
            assert queue.sweep()["test.review"] == 3  # three ids pending each time...
        with second.database.session() as session:
            defer(session, "test.review", ticket_id=2)
            session.commit()
        assert huey.pending_count() == 3  # ...but one job per id waits, whoever asked
        huey.execute(huey.dequeue())  # the job for ticket 1 starts: its mark goes first
        assert ran == [1]
        second.sweep()
        assert huey.pending_count() == 3  # 2 and 3 still wait; 1 is pending again, so it is added once
    finally:
        _clean(name, queues)
