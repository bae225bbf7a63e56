"""The job queue: jobs are enqueued only after commit, lost jobs are found by the sweep, and the real
consumers (SQLite file queue in-process, Redis for worker processes) run them."""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path

import pytest
from sqlalchemy import func, select, text, update

from ombud.accounts.schemas import SYSTEM
from ombud.customers.schemas import CustomerRef
from ombud.events import service as events
from ombud.events.models import Event
from ombud.knowledge import jobs as knowledge_jobs
from ombud.runtime import Runtime, build_runtime
from ombud.settings import Settings
from ombud.storage.queue import EmbeddedWorker, defer
from ombud.tickets import service as tickets
from ombud.tickets.models import Message
from ombud.tickets.schemas import TicketCreate
from tests.conftest import REDIS_URL


def _create(runtime: Runtime, subject: str = "Printer on fire") -> int:
    with runtime.database.session() as session:
        ticket, _ = tickets.create_ticket(
            session=session,
            data=TicketCreate(customer=CustomerRef(email="ann@example.com"), subject=subject, body="help"),
            actor=SYSTEM,
            limits=runtime.limits,
        )
        session.commit()
        return ticket.id


def _unindexed(runtime: Runtime) -> int:
    with runtime.database.session(write=False) as session:
        return session.scalar(select(func.count()).where(Message.indexed_at.is_(None))) or 0


def _all_done(runtime: Runtime) -> bool:
    """No message waits for the index, triage or suggestions, and no job waits in the queue."""
    with runtime.database.session(write=False) as session:
        waiting = (
            session.scalar(
                select(func.count()).where(Message.indexed_at.is_(None) | Message.triaged_at.is_(None))
            )
            or 0
        )
        unsuggested = knowledge_jobs.unsuggested_message_ids(session=session, limit=10)
    return waiting == 0 and not unsuggested and runtime.queue.pending_in_queue() == 0


def _wait_until(predicate: object, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise AssertionError("condition not reached in time")


def test_jobs_run_only_after_commit(runtime: Runtime) -> None:
    with runtime.database.session() as session:
        tickets.create_ticket(
            session=session,
            data=TicketCreate(customer=CustomerRef(email="a@b.co"), subject="s", body="b"),
            actor=SYSTEM,
            limits=runtime.limits,
        )
        session.rollback()
    assert _unindexed(runtime) == 0
    _create(runtime)
    assert _unindexed(runtime) == 0  # memory:// runs the deferred job right after commit


def test_a_savepoint_neither_runs_nor_drops_the_jobs_of_its_transaction(runtime: Runtime) -> None:
    ran: list[int] = []
    runtime.queue.register("test.savepoint", lambda session, n: ran.append(n))
    with runtime.database.session(write=True) as session:
        defer(session, "test.savepoint", n=1)
        with session.begin_nested():
            defer(session, "test.savepoint", n=2)
        assert ran == []  # the savepoint's release is no commit
        try:
            with session.begin_nested():
                defer(session, "test.savepoint", n=3)
                raise RuntimeError("roll the savepoint back")
        except RuntimeError:
            pass
        session.commit()
    assert sorted(ran) == [1, 2, 3]  # 3's ids would find nothing; the jobs before it are not lost


def test_sweep_finds_work_whose_job_was_lost(runtime: Runtime) -> None:
    _create(runtime)
    with runtime.database.session() as session:
        session.execute(update(Message).values(indexed_at=None))  # as if the job never ran
        session.commit()
    assert _unindexed(runtime) == 1
    first = runtime.queue.sweep()
    # Every sweep source reports, and only the lost index job is pending.
    assert {"search.index_message", "triage.message", "channels.deliver", "events.dispatch"} <= set(first)
    assert first == {**dict.fromkeys(first, 0), "search.index_message": 1}
    assert _unindexed(runtime) == 0
    assert runtime.queue.sweep() == dict.fromkeys(first, 0)


def test_one_sweep_indexes_a_backlog_larger_than_a_batch(runtime: Runtime) -> None:
    from ombud.search.jobs import BATCH

    for n in range(BATCH + 30):
        _create(runtime, subject=f"Fridge {n}")
    with runtime.database.session() as session:
        session.execute(update(Message).values(indexed_at=None))
        session.commit()
    assert runtime.queue.sweep()["search.index_message"] == BATCH + 30
    assert _unindexed(runtime) == 0


def test_index_job_is_idempotent(runtime: Runtime) -> None:
    _create(runtime)
    with runtime.database.session(write=False) as session:
        message_id = session.scalar(select(Message.id))
    assert message_id is not None
    runtime.queue.enqueue("search.index_message", message_id=message_id)
    runtime.queue.enqueue("search.index_message", message_id=message_id)
    with runtime.database.session(write=False) as session:
        found = tickets.search.all_matching_ticket_ids(session=session, text="printer", include_internal=True)
    assert len(found) == 1


def test_embedded_worker_consumes_the_sqlite_queue(tmp_path: Path, settings: Settings) -> None:
    runtime = build_runtime(settings)  # the real default: a SQLite queue file under OMBUD_HOME
    assert runtime.queue.huey.__class__.__name__ == "SqliteHuey"
    worker = EmbeddedWorker(runtime.queue, threads=2)
    try:
        for n in range(5):
            _create(runtime, subject=f"Kettle {n}")
        worker.start()
        _wait_until(lambda: _unindexed(runtime) == 0)
    finally:
        worker.stop()
        runtime.close()


def test_jobs_survive_a_restart_in_the_sqlite_queue(settings: Settings) -> None:
    first = build_runtime(settings)
    _create(first)  # enqueued to the queue file; no consumer is running
    assert first.queue.pending_in_queue() >= 1
    first.close()
    second = build_runtime(settings)
    worker = EmbeddedWorker(second.queue)
    try:
        worker.start()
        _wait_until(lambda: _unindexed(second) == 0)
    finally:
        worker.stop()
        second.close()


@pytest.mark.redis
def test_redis_queue_with_a_consumer(settings: Settings) -> None:
    assert REDIS_URL is not None
    isolated = settings.with_overrides(queue_name=f"ombud-test-{uuid.uuid4().hex[:8]}")
    runtime = build_runtime(isolated, queue_url=REDIS_URL)
    assert runtime.queue.huey.__class__.__name__ == "PriorityRedisHuey"
    try:
        for n in range(3):
            _create(runtime, subject=f"Toaster {n}")
        # One waiting index job, triage job and event dispatch job for all three messages: on Redis the
        # coalesced jobs are coalesced across processes, even in one that does not consume the queue.
        assert runtime.queue.pending_in_queue() == 3
        worker = EmbeddedWorker(runtime.queue, threads=2)
        worker.start()
        try:
            _wait_until(lambda: _unindexed(runtime) == 0)
            # The triage jobs too, and the suggestion jobs each triage job leaves behind it.
            _wait_until(lambda: _all_done(runtime), timeout=90.0)
            # And the queue drains: a job the last commit enqueued (a dispatch that finds nothing) runs too.
            _wait_until(lambda: runtime.queue.pending_in_queue() == 0)
        finally:
            worker.stop()
    finally:
        runtime.queue.huey.storage.flush_all()
        runtime.close()


def test_a_dispatch_that_finds_another_at_work_steps_back_instead_of_waiting(runtime: Runtime) -> None:
    """On PostgreSQL one dispatcher at a time holds an advisory lock. A second one used to wait on it, holding
    a worker thread: under a burst every thread of a worker waited on one slow dispatch and triage stopped.
    Now it ends at once and comes back a second later, and the events it left are handed out then."""
    if runtime.database.dialect != "postgresql":
        pytest.skip("the dispatch lock is PostgreSQL's; SQLite runs one writer at a time")
    holder = runtime.database.writer()
    holder.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": events.DISPATCH_LOCK})
    try:
        created: list[int] = []
        # memory:// runs the dispatch job as the ticket's transaction commits, in this thread.
        creator = threading.Thread(target=lambda: created.append(_create(runtime)), daemon=True)
        creator.start()
        creator.join(timeout=30)
        assert not creator.is_alive(), "the dispatch job waited on the other dispatcher's lock"
        assert _undispatched(runtime, created[0]) > 0
        comeback = [t for t in runtime.queue.huey.scheduled() if t.name == events.DISPATCH_JOB]
        # One per dispatch that stepped back (memory:// does not coalesce; Redis keeps one waiting).
        assert comeback
    finally:
        holder.rollback()
        holder.close()
    for task in comeback:
        runtime.queue.huey.execute(task, timestamp=task.eta)  # as the consumer does once it is due
    assert _undispatched(runtime, created[0]) == 0


def _undispatched(runtime: Runtime, ticket_id: int) -> int:
    with runtime.database.session(write=False) as session:
        query = select(func.count()).where(Event.ticket_id == ticket_id, Event.dispatched_at.is_(None))
        return session.scalar(query) or 0


def test_triage_and_the_index_go_ahead_of_slower_background_work(settings: Settings) -> None:
    """Under a load the queue fills with reply checks and reviews (one per reply, per ticket); triage and
    the search index must not wait behind them (a 10-minute load left 17,767 messages untriaged)."""
    runtime = build_runtime(settings)  # the real default: a SQLite queue file, consumed in-process
    try:
        for n in range(5):
            runtime.queue.enqueue("people.check_reply", message_id=n + 1)
            runtime.queue.enqueue("routing.review", ticket_id=n + 1)
        runtime.queue.enqueue("triage.message", message_id=1)
        runtime.queue.enqueue("search.index_message", message_id=1)
        order = [runtime.queue.huey.dequeue().name for _ in range(12)]
        assert set(order[:2]) == {"triage.message", "search.index_message"}, order
    finally:
        runtime.close()
