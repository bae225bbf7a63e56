"""Crash safety of `ombud serve` as a real process: SIGKILL in the middle of a stream of ticket creations
loses no ticket that got a 201, the restarted server finishes the background work that was pending, and
retrying the requests whose answer was lost (same external_id) creates no duplicates."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

OMBUD = str(Path(sys.executable).with_name("ombud"))
pytestmark = pytest.mark.slow

CLIENT_THREADS = 4
KILL_AFTER = 150  # 201s seen before the SIGKILL
INDEX_DEADLINE = 15.0  # seconds the restarted server gets to finish the pending work (the cron sweep is 60)
UNINDEXED = "SELECT count(*) FROM messages WHERE indexed_at IS NULL"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _ombud(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([OMBUD, *args], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, f"ombud {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def _scalar(db: Path, sql: str) -> int:
    # The server's own database file, read with the stdlib driver: no ombud code between test and disk.
    with closing(sqlite3.connect(db, timeout=30)) as conn:
        return int(conn.execute(sql).fetchone()[0])


@dataclass
class Server:
    env: dict[str, str]
    home: Path
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def start(self, headers: dict[str, str]) -> str:
        """Start `ombud serve` on a free port, wait until it answers ``headers``' token, return its URL."""
        for _ in range(3):
            port = _free_port()
            log_path = self.home / f"serve-{len(self.processes)}.log"
            with log_path.open("wb") as log:
                process = subprocess.Popen(
                    [OMBUD, "serve", "--port", str(port)], env=self.env, stdout=log, stderr=subprocess.STDOUT
                )
            self.processes.append(process)
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 20
            while process.poll() is None:
                try:
                    # /me with this test's token: a 200 comes from this server, not another on the port.
                    if httpx.get(f"{base}/api/v1/me", headers=headers, timeout=1, trust_env=False).is_success:
                        return base
                except httpx.HTTPError:
                    pass
                assert time.monotonic() < deadline, f"ombud serve did not answer:\n{self.log_tail()}"
                time.sleep(0.05)
            if "address already in use" not in log_path.read_text(errors="replace"):
                break  # died for another reason than losing the port to someone else
        raise AssertionError(f"ombud serve exited during start-up:\n{self.log_tail()}")

    def log_tail(self) -> str:
        logs = sorted(self.home.glob("serve-*.log"))
        return "\n".join(path.read_text(errors="replace")[-3000:] for path in logs)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    home = tmp_path / "home"
    env = {key: value for key, value in os.environ.items() if not key.startswith("OMBUD_")}
    env.update({"OMBUD_HOME": str(home), "OMBUD_LOG_LEVEL": "warning"})
    started = Server(env=env, home=home)
    yield started
    for process in started.processes:  # only the processes this test started, by their own handle
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)


@dataclass
class Stream:
    """What the clients sent and what they were told, shared by the client threads."""

    base: str
    headers: dict[str, str]
    lock: threading.Lock = field(default_factory=threading.Lock)
    stop: threading.Event = field(default_factory=threading.Event)
    enough: threading.Event = field(default_factory=threading.Event)
    payloads: dict[str, dict[str, object]] = field(default_factory=dict)
    created: dict[str, int] = field(default_factory=dict)  # external_id -> ticket id, from a 201
    lost: list[str] = field(default_factory=list)  # sent, but no answer came back
    unexpected: list[str] = field(default_factory=list)

    def run_client(self, worker: int) -> None:
        with httpx.Client(base_url=self.base, headers=self.headers, timeout=10, trust_env=False) as client:
            n = 0
            while not self.stop.is_set():
                external_id = f"crash-{worker}-{n}"
                payload = _payload(external_id, worker, n)
                with self.lock:
                    self.payloads[external_id] = payload
                try:
                    response = client.post("/api/v1/tickets", json=payload)
                except httpx.TransportError:
                    with self.lock:
                        self.lost.append(external_id)
                    return  # the server is gone
                with self.lock:
                    if response.status_code == 201:
                        self.created[external_id] = response.json()["id"]
                        if len(self.created) >= KILL_AFTER:
                            self.enough.set()
                    else:
                        self.unexpected.append(f"{external_id}: {response.status_code} {response.text}")
                        self.stop.set()
                n += 1


def _word(external_id: str) -> str:
    # A word no other ticket contains, for the search check: crash-2-17 -> kiwi2x17.
    return "kiwi" + external_id.removeprefix("crash-").replace("-", "x")


def _payload(external_id: str, worker: int, n: int) -> dict[str, object]:
    return {
        "customer": {"email": f"customer{worker}-{n % 7}@example.com"},
        "channel": "web",
        "subject": f"Order {external_id} did not arrive",
        "body": f"My parcel never came. Reference {_word(external_id)}.",
        "external_id": external_id,
    }


def test_sigkill_mid_stream_loses_no_acknowledged_ticket_and_restart_finishes_the_work(
    server: Server,
) -> None:
    _ombud(server.env, "db", "upgrade")
    token = _ombud(server.env, "user", "add", "agent@desk.test", "--role", "agent").strip().splitlines()[-1]
    headers = {"Authorization": f"Bearer {token}"}
    db = server.home / "ombud.db"

    base = server.start(headers)
    stream = Stream(base=base, headers=headers)
    clients = [
        threading.Thread(target=stream.run_client, args=(n,), daemon=True) for n in range(CLIENT_THREADS)
    ]
    for thread in clients:
        thread.start()
    # A bound on waiting, not a speed test: a busy CI machine (other tests beside it) can be slow.
    assert stream.enough.wait(timeout=60) and not stream.unexpected, (
        f"{len(stream.created)} 201s before the deadline; unexpected answers: {stream.unexpected[:5]}\n"
        f"{server.log_tail()}"
    )
    # Kill while the database records background work as pending, so the restart has some to finish.
    # The clients keep streaming meanwhile, so new work keeps arriving until the very end.
    deadline = time.monotonic() + 5
    while _scalar(db, UNINDEXED) == 0 and time.monotonic() < deadline:
        time.sleep(0.005)
    victim = server.processes[-1]
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=10)
    stream.stop.set()
    for thread in clients:
        thread.join(timeout=15)
        assert not thread.is_alive(), "a client thread hung after the server died"
    assert victim.returncode == -signal.SIGKILL
    assert not stream.unexpected, stream.unexpected
    acknowledged = dict(stream.created)
    assert len(acknowledged) >= KILL_AFTER
    pending_at_kill = _scalar(db, UNINDEXED)
    assert pending_at_kill > 0, "the worker kept up with the stream: the kill left no pending work to test"

    # Every ticket that got a 201 is on disk, exactly as it was sent.
    base = server.start(headers)
    with httpx.Client(base_url=base, headers=headers, timeout=10, trust_env=False) as client:
        for external_id, ticket_id in acknowledged.items():
            response = client.get(f"/api/v1/tickets/{ticket_id}")
            assert response.status_code == 200, f"ticket {ticket_id} ({external_id}) got a 201 and is gone"
            ticket = response.json()
            assert ticket["external_id"] == external_id
            assert ticket["messages"][0]["body"] == stream.payloads[external_id]["body"]

        # The restarted server finishes the work the dead one left pending (its start-up sweep does;
        # the periodic sweep alone would take up to a minute).
        deadline = time.monotonic() + INDEX_DEADLINE
        while (unindexed := _scalar(db, UNINDEXED)) != 0:
            assert time.monotonic() < deadline, (
                f"{unindexed} of {pending_at_kill} messages pending at the kill are still not indexed "
                f"{INDEX_DEADLINE:.0f}s after the restart:\n{server.log_tail()}"
            )
            time.sleep(0.1)
        for external_id, ticket_id in acknowledged.items():
            found = client.get("/api/v1/tickets", params={"q": _word(external_id)}).json()["items"]
            assert [item["id"] for item in found] == [ticket_id], f"search for {external_id}"

        # The clients whose answer was lost retry with the same external_id: one ticket each, never two.
        # (Some of them were committed before the kill and replay with 200, the others are created now.)
        for external_id in stream.lost:
            response = client.post("/api/v1/tickets", json=stream.payloads[external_id])
            assert response.status_code in (200, 201), response.text
            assert response.json()["external_id"] == external_id
            again = client.post("/api/v1/tickets", json=stream.payloads[external_id])
            assert (again.status_code, again.json()["id"]) == (200, response.json()["id"])
        # An acknowledged one replays too, with the id its 201 gave.
        some_id, ticket_id = next(iter(acknowledged.items()))
        replay = client.post("/api/v1/tickets", json=stream.payloads[some_id])
        assert (replay.status_code, replay.json()["id"]) == (200, ticket_id)

    sent = set(stream.payloads)
    with closing(sqlite3.connect(db, timeout=30)) as conn:
        per_key = dict(conn.execute("SELECT external_id, count(*) FROM tickets GROUP BY external_id"))
        not_one_message = conn.execute(
            "SELECT count(*) FROM tickets t "
            "WHERE (SELECT count(*) FROM messages m WHERE m.ticket_id = t.id) != 1"
        ).fetchone()[0]
        integrity = conn.execute("PRAGMA integrity_check").fetchone()[0]
    assert integrity == "ok"
    assert all(count == 1 for count in per_key.values()), {k: c for k, c in per_key.items() if c != 1}
    assert set(per_key) <= sent  # nothing appeared that no client sent
    assert set(acknowledged) | set(stream.lost) <= set(per_key)
    assert not_one_message == 0  # no ticket lost or doubled its first message
