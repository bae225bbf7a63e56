"""The production shape with real processes: `ombud serve --no-worker` takes requests, jobs wait in Redis,
and separate `ombud worker` processes do them; SIGTERM stops a worker cleanly."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from ombud.accounts import service as accounts
from ombud.accounts.models import Role
from ombud.storage.db import Database
from ombud.tickets.models import Message
from tests.conftest import REDIS_URL

OMBUD = str(Path(sys.executable).with_name("ombud"))
pytestmark = [pytest.mark.redis, pytest.mark.slow]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _unindexed(database: Database) -> int:
    with database.session(write=False) as session:
        return session.scalar(select(func.count()).where(Message.indexed_at.is_(None))) or 0


@pytest.fixture
def started() -> Iterator[list[subprocess.Popen[bytes]]]:
    processes: list[subprocess.Popen[bytes]] = []
    yield processes
    for process in processes:  # only the processes this test started, by their own handle
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()


def test_web_process_and_two_redis_workers(
    tmp_path: Path, database_url: str, started: list[subprocess.Popen[bytes]]
) -> None:
    assert REDIS_URL is not None
    env = {
        **os.environ,
        "OMBUD_HOME": str(tmp_path),
        "OMBUD_DATABASE_URL": database_url,
        "OMBUD_QUEUE_URL": REDIS_URL,
        "OMBUD_QUEUE_NAME": f"ombud-proc-{uuid.uuid4().hex[:8]}",
        "OMBUD_RUN_WORKER": "false",
        "OMBUD_LOG_LEVEL": "warning",
    }
    database = Database(database_url)
    with database.session() as session:
        user = accounts.create_user(session=session, email="agent@desk.test", role=Role.agent)
        token = accounts.issue_token(session=session, user_id=user.id)
        session.commit()

    port = _free_port()
    server = subprocess.Popen(
        [OMBUD, "serve", "--port", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    started.append(server)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        assert server.poll() is None, "the server exited during start-up"
        try:
            if httpx.get(f"{base}/api/v1/health", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.1)

    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base, headers=headers, timeout=10) as client:
        for n in range(20):
            response = client.post(
                "/api/v1/tickets",
                json={
                    "customer": {"email": f"c{n}@example.com"},
                    "subject": f"Blender {n} broken",
                    "body": f"zebrafish{n} the blender stopped",
                },
            )
            assert response.status_code == 201, response.text
        time.sleep(1)
        assert _unindexed(database) == 20  # nobody consumes the queue yet: the work waits in Redis

        workers = [
            subprocess.Popen(
                [OMBUD, "worker", "--threads", "2"],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
            )
            for _ in range(2)
        ]
        started.extend(workers)
        deadline = time.monotonic() + 60  # each worker first loads the triage models
        while _unindexed(database):
            assert time.monotonic() < deadline, "workers did not finish the jobs"
            time.sleep(0.2)
        found = client.get("/api/v1/tickets", params={"q": "zebrafish7"}).json()["items"]
        assert [t["subject"] for t in found] == ["Blender 7 broken"]

    for worker in workers:
        # The last line a worker prints before it consumes; a SIGTERM before then would find Python's
        # default handler, not the graceful one.
        assert worker.stdout is not None
        lines = [worker.stdout.readline() for _ in range(2)]
        assert b"start-up sweep" in lines[-1]
        worker.stdout.close()
    time.sleep(1)
    for worker in workers:
        worker.send_signal(signal.SIGTERM)
    for worker in workers:
        assert worker.wait(timeout=30) == 0
    server.send_signal(signal.SIGTERM)
    # uvicorn shuts down gracefully, then re-raises the signal so the parent sees how it ended.
    assert server.wait(timeout=30) in (0, -signal.SIGTERM)
    database.dispose()
