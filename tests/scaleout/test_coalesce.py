"""Coalesced jobs on a Redis queue are coalesced across processes: while one waits to start, commits in any
process (here: two JobQueues, as two servers have) enqueue no other; once it starts, the next commit
enqueues a new one. Before, each process kept its own waiting set and only while consuming the queue itself,
so N commits on `ombud serve --no-worker` processes queued N jobs for the workers."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from ombud.storage.db import Database
from ombud.storage.queue import JobQueue, defer, make_huey
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
        client = redis.Redis.from_url(REDIS_URL)
        keys = [*client.scan_iter(match=f"*{name}*"), *client.scan_iter(match=f"*{name.replace('-', '')}*")]
        if keys:
            client.delete(*keys)
        client.close()
        for queue in queues:
            queue.huey.storage.conn.close()
