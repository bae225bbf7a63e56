#!/usr/bin/env python3
"""Crash safety in the production shape: several `ombud serve` processes and `ombud worker` processes on
PostgreSQL and Redis, SIGKILLed at random moments while N messages stream in through the API and SMTP.

What it does, on a fresh PostgreSQL database and its own Redis key prefix (both removed at the end):

  1. `ombud db upgrade`, an agent with an API token, then S servers (`ombud serve --no-worker`, each with
     its SMTP receiver) and W workers (`ombud worker`).
  2. Client threads stream N messages in all: half as tickets through `POST /api/v1/tickets` (each with its
     own external_id), half as emails through SMTP (each with its own Message-ID), spread over the live
     servers. A message counts as acknowledged on a 201/200 or on SMTP's 250. A request whose answer is
     lost (the server died) is retried, as a real client or mail server would, with the same external_id
     or Message-ID, against another server, until it is acknowledged.
  3. A killer thread SIGKILLs a random server or worker every KILL_EVERY seconds (randomised) and
     restarts it after a pause on the same ports.
  4. When every message is acknowledged, all processes run again; the check waits until nothing is left
     untriaged and then reads the database directly: every acknowledged message stored exactly once
     (one ticket per external_id, one message per email key), nothing stored that no client sent, every
     customer message triaged and in the search index.

Usage (needs a PostgreSQL server and a Redis server):
  .venv/bin/python benchmarks/bench_crash.py                    # N=10,000, 2 servers, 1 worker
  .venv/bin/python benchmarks/bench_crash.py -n 1000 --workers 2
  OMBUD_TEST_DATABASE_URL / OMBUD_TEST_REDIS_URL (or --database-url / --redis-url) name the servers; the
  database URL's own database is only used to CREATE and DROP the private one.
Output: a summary on stdout; the figures as JSON in --out (default /tmp/ombud-bench-crash.json).

tests/scaleout/ imports the Cluster from this file and runs the same check at a small N.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import signal
import smtplib
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import redis
from sqlalchemy import Engine, create_engine, make_url, text
from sqlalchemy.pool import NullPool

OMBUD = str(Path(sys.executable).with_name("ombud"))
START_TIMEOUT = 180.0  # seconds a process gets to answer after start (a shared machine may be very busy)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Process:
    """One `ombud serve` or `ombud worker`, restartable on the same ports."""

    name: str
    args: list[str]
    log: Path
    port: int | None = None
    smtp_port: int | None = None
    popen: subprocess.Popen[bytes] | None = None
    starts: int = 0
    kills: int = 0
    ready: bool = False  # answered since its last start (the killer leaves a starting process alone)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None


@dataclass
class Cluster:
    """A private PostgreSQL database, a private Redis key prefix, and the processes started on them."""

    workdir: Path
    admin_database_url: str
    redis_url: str
    extra_env: dict[str, str] = field(default_factory=dict)
    processes: dict[str, Process] = field(default_factory=dict)
    token: str = ""
    database_url: str = ""
    queue_name: str = ""
    env: dict[str, str] = field(default_factory=dict)
    _engine: Engine | None = None
    _admin: Engine | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # -- set-up and tear-down ---------------------------------------------------------------------------
    def create(self, *, agent_email: str = "agent@scale.test") -> None:
        """Create the database, migrate it, add an agent (its token in ``self.token``)."""
        suffix = uuid.uuid4().hex[:10]
        name = f"ombud_scale_{suffix}"
        admin_url = make_url(self.admin_database_url).set(drivername="postgresql+psycopg")
        self._admin = create_engine(admin_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
        with self._admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        self.database_url = admin_url.set(database=name).render_as_string(hide_password=False)
        self.queue_name = f"ombud-scale-{suffix}"
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.env = {key: value for key, value in os.environ.items() if not key.startswith("OMBUD_")}
        self.env.update(
            {
                "OMBUD_HOME": str(self.workdir / "home"),
                "OMBUD_DATABASE_URL": self.database_url,
                "OMBUD_QUEUE_URL": self.redis_url,
                "OMBUD_QUEUE_NAME": self.queue_name,
                "OMBUD_RUN_WORKER": "false",
                "OMBUD_LOG_LEVEL": "warning",
                "OMBUD_EMAIL_ADDRESS": "support@scale.test",
                **self.extra_env,
            }
        )
        self.ombud("db", "upgrade")
        self.token = self.ombud("user", "add", agent_email, "--role", "agent").strip().splitlines()[-1]
        self._engine = create_engine(self.database_url, poolclass=NullPool)

    def close(self) -> None:
        """Stop this cluster's processes (by their own handles), drop its database and Redis keys."""
        for process in self.processes.values():
            if process.alive():
                assert process.popen is not None
                process.popen.kill()
                process.popen.wait(timeout=10)
        if self._engine is not None:
            self._engine.dispose()
        if self._admin is not None and self.database_url:
            name = make_url(self.database_url).database
            with self._admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            self._admin.dispose()
        if self.queue_name:
            client = redis.Redis.from_url(self.redis_url)
            try:
                # huey names its keys after the queue name without punctuation.
                bare = "".join(ch for ch in self.queue_name.lower() if ch.isalnum())
                keys = list(client.scan_iter(match=f"*{self.queue_name}*", count=1000))
                keys += list(client.scan_iter(match=f"*{bare}*", count=1000))
                if keys:
                    client.delete(*keys)
            finally:
                client.close()

    def ombud(self, *args: str) -> str:
        done = subprocess.run(
            [OMBUD, *args], check=False, env=self.env, capture_output=True, text=True, timeout=300
        )
        if done.returncode != 0:
            raise RuntimeError(f"ombud {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
        return done.stdout

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    # -- processes --------------------------------------------------------------------------------------
    def add_server(self, name: str) -> Process:
        port, smtp_port = free_port(), free_port()
        process = Process(
            name,
            [OMBUD, "serve", "--port", str(port), "--smtp-port", str(smtp_port), "--no-worker", "--no-imap"],
            self.workdir / f"{name}.log",
            port=port,
            smtp_port=smtp_port,
        )
        self.processes[name] = process
        return process

    def add_worker(self, name: str, *, threads: int = 2) -> Process:
        process = Process(name, [OMBUD, "worker", "--threads", str(threads)], self.workdir / f"{name}.log")
        self.processes[name] = process
        return process

    def start(self, name: str, *, wait: bool = True) -> Process:
        process = self.processes[name]
        with process.log.open("ab") as log:
            log.write(f"\n--- start {process.starts + 1} at {time.time():.3f}\n".encode())
            log.flush()
            process.popen = subprocess.Popen(process.args, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        process.starts += 1
        process.ready = False
        if wait:
            self.wait_ready(name)
        return process

    def wait_ready(self, name: str) -> None:
        """Wait until a server answers this cluster's token, or a worker has done its start-up sweep."""
        process = self.processes[name]
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if not process.alive():
                raise RuntimeError(f"{name} exited during start-up:\n{self.log_tail(name)}")
            if process.port is not None:
                try:
                    answer = httpx.get(
                        f"{process.base}/api/v1/me", headers=self.headers, timeout=2, trust_env=False
                    )
                    if answer.is_success:
                        process.ready = True
                        return
                except httpx.HTTPError:
                    pass
            elif "start-up sweep" in process.log.read_text(errors="replace").rsplit("--- start", 1)[-1]:
                process.ready = True
                return
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"{name} did not become ready in {START_TIMEOUT:.0f}s:\n{self.log_tail(name)}"
                )
            time.sleep(0.1)

    def kill(self, name: str) -> None:
        process = self.processes[name]
        if process.alive():
            assert process.popen is not None
            process.popen.send_signal(signal.SIGKILL)
            process.popen.wait(timeout=10)
            process.kills += 1

    def log_tail(self, name: str | None = None) -> str:
        names = [name] if name else list(self.processes)
        return "\n".join(
            f"== {n}\n" + self.processes[n].log.read_text(errors="replace")[-3000:]
            for n in names
            if self.processes[n].log.exists()
        )

    def live_servers(self) -> list[Process]:
        return [p for p in self.processes.values() if p.port is not None and p.alive() and p.ready]

    # -- the database, read directly ----------------------------------------------------------------------
    def rows(self, sql: str, **params: Any) -> list[Any]:
        assert self._engine is not None
        with self._engine.connect() as conn:
            return list(conn.execute(text(sql), params).all())

    def scalar(self, sql: str, **params: Any) -> int:
        return int(self.rows(sql, **params)[0][0] or 0)


# -- the stream ---------------------------------------------------------------------------------------------
def api_payload(key: str) -> dict[str, Any]:
    return {
        "customer": {"email": f"api-{key}@customers.test"},
        "channel": "web",
        "subject": f"Order {key} did not arrive",
        "body": f"My parcel never came and I want a refund. Reference apikey{key}x.",
        "external_id": f"crash-{key}",
    }


def email_message(key: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = f"Mail Customer <mail-{key}@customers.test>"
    message["To"] = "support@scale.test"
    message["Subject"] = f"Card {key} was charged twice"
    message["Message-ID"] = f"<crash-{key}@customers.test>"
    message.set_content(f"I was charged twice for my card payment, please fix it. Reference mailkey{key}x.\n")
    return message


@dataclass
class Stream:
    """The messages to send, what was acknowledged, and how often an answer was lost."""

    cluster: Cluster
    total: int
    acked_api: set[str] = field(default_factory=set)
    acked_mail: set[str] = field(default_factory=set)
    lost_answers: int = 0
    refused: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    _next: int = 0

    def take(self) -> int | None:
        with self.lock:
            if self._next >= self.total:
                return None
            self._next += 1
            return self._next - 1

    def pick_server(self, rng: random.Random) -> Process:
        while True:
            live = self.cluster.live_servers()
            if live:
                return rng.choice(live)
            time.sleep(0.05)

    def lost(self) -> None:
        with self.lock:
            self.lost_answers += 1
        time.sleep(0.05)

    def run_client(self, number: int) -> None:
        rng = random.Random(number)
        clients: dict[str, httpx.Client] = {}
        smtp: dict[str, smtplib.SMTP] = {}
        try:
            while (n := self.take()) is not None:
                key = f"{n:06d}"
                if n % 2 == 0:
                    self._send_api(key, rng, clients)
                else:
                    self._send_mail(key, rng, smtp)
        finally:
            for client in clients.values():
                client.close()
            for connection in smtp.values():
                with contextlib.suppress(smtplib.SMTPException, OSError):
                    connection.quit()

    def _send_api(self, key: str, rng: random.Random, clients: dict[str, httpx.Client]) -> None:
        payload = api_payload(key)
        while True:
            server = self.pick_server(rng)
            client = clients.get(server.name)
            if client is None:
                client = clients[server.name] = httpx.Client(
                    base_url=server.base, headers=self.cluster.headers, timeout=30, trust_env=False
                )
            try:
                response = client.post("/api/v1/tickets", json=payload)
            except httpx.TransportError:
                clients.pop(server.name).close()
                self.lost()
                continue
            if (
                response.status_code in (200, 201)
                and response.json()["external_id"] == payload["external_id"]
            ):
                with self.lock:
                    self.acked_api.add(key)
                return
            if response.status_code >= 500:
                self.lost()  # a server shutting down may answer 5xx; the retry finds the stored one
                continue
            with self.lock:
                self.refused.append(f"api {key}: {response.status_code} {response.text[:200]}")
            return

    def _send_mail(self, key: str, rng: random.Random, smtp: dict[str, smtplib.SMTP]) -> None:
        message = email_message(key)
        while True:
            server = self.pick_server(rng)
            connection = smtp.get(server.name)
            try:
                if connection is None:
                    assert server.smtp_port is not None
                    connection = smtp[server.name] = smtplib.SMTP("127.0.0.1", server.smtp_port, timeout=30)
                connection.send_message(message)
            except smtplib.SMTPResponseException as error:
                smtp.pop(server.name, None)
                if 400 <= error.smtp_code < 500:
                    self.lost()  # a temporary refusal: a mail server tries again
                    continue
                with self.lock:
                    self.refused.append(f"mail {key}: {error.smtp_code} {error.smtp_error!r}")
                return
            except (smtplib.SMTPException, OSError):
                smtp.pop(server.name, None)
                self.lost()
                continue
            with self.lock:
                self.acked_mail.add(key)
            return


class Killer:
    """SIGKILLs a random process every ``every`` seconds (randomised) and restarts it after ``pause``.

    The victims in ``order`` come first, each at its share of the stream when ``progress`` (the share
    acknowledged, 0..1) is given: with three of them, at a quarter, a half and three quarters. So they
    fall mid-stream however fast or slow the machine is."""

    def __init__(
        self,
        cluster: Cluster,
        *,
        every: float,
        pause: float,
        seed: int = 7,
        order: list[str] | None = None,
        progress: Callable[[], float] | None = None,
    ) -> None:
        self.cluster = cluster
        self.order = list(order or [])  # victims to take first, in this order (then random ones)
        self.planned = len(self.order)
        self.progress = progress
        self.every = every
        self.pause = pause
        self.rng = random.Random(seed)
        self.stop = threading.Event()
        self.errors: list[str] = []
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._run, name="killer", daemon=True)

    def _run(self) -> None:
        names = sorted(self.cluster.processes)
        restarts: list[threading.Thread] = []
        while not self.stop.wait(self._wait()):
            if self.order and not self._due():
                continue
            victim = self.order[0] if self.order else self.rng.choice(names)
            if not (self.cluster.processes[victim].alive() and self.cluster.processes[victim].ready):
                continue  # still coming back from the last kill
            if self.cluster.processes[victim].port is not None and len(self.cluster.live_servers()) < 2:
                continue  # keep one server up: the clients need somewhere to retry
            if self.order:
                self.order.pop(0)
            self.cluster.kill(victim)
            # Restarted on its own thread: the next kill does not wait for this process to come back.
            restart = threading.Thread(target=self._restart, args=(victim,), daemon=True)
            restart.start()
            restarts.append(restart)
        for restart in restarts:
            restart.join(timeout=START_TIMEOUT + self.pause + 10)

    def _wait(self) -> float:
        if self.order and self.progress is not None:
            return 0.2  # watching the stream for the next planned victim's moment
        return self.rng.uniform(0.5, 1.5) * self.every

    def _due(self) -> bool:
        if self.progress is None:
            return True
        taken = self.planned - len(self.order)
        return self.progress() >= (taken + 1) / (self.planned + 1)

    def _restart(self, victim: str) -> None:
        time.sleep(self.pause)
        try:
            self.cluster.start(victim)
        except RuntimeError as error:
            # Slow to come back (a busy machine): recorded; the end of the run restarts whatever is not
            # running, and a server that never answers fails the run there.
            with self.lock:
                self.errors.append(str(error).splitlines()[0])


@dataclass
class Result:
    n: int
    servers: int
    workers: int
    seconds_streaming: float = 0.0
    seconds_to_settle: float = 0.0
    kills: dict[str, int] = field(default_factory=dict)
    lost_answers: int = 0
    acknowledged: int = 0
    refused: list[str] = field(default_factory=list)
    slow_restarts: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems and not self.refused


def check(cluster: Cluster, stream: Stream) -> list[str]:
    """Every acknowledged message stored exactly once, nothing unsent stored, everything triaged/indexed."""
    problems: list[str] = []
    per_ticket = Counter(
        {
            str(key).removeprefix("crash-"): int(count)
            for key, count in cluster.rows(
                "SELECT external_id, count(*) FROM tickets WHERE external_id IS NOT NULL GROUP BY external_id"
            )
        }
    )
    api_keys = set(per_ticket)
    doubled = {k: c for k, c in per_ticket.items() if c != 1}
    if doubled:
        problems.append(f"API tickets stored more than once: {dict(list(doubled.items())[:5])}")
    if missing := stream.acked_api - api_keys:
        problems.append(f"{len(missing)} acknowledged API tickets missing, e.g. {sorted(missing)[:5]}")
    api_bodies = Counter(
        str(row[0])
        for row in cluster.rows(
            "SELECT substring(body_text from 'apikey([0-9]+)x') FROM messages "
            "WHERE body_text LIKE '%apikey%' AND author_type = 'customer'"
        )
    )
    if bad := {k: c for k, c in api_bodies.items() if c != 1}:
        problems.append(f"API messages stored other than once: {dict(list(bad.items())[:5])}")
    mail = Counter(
        str(row[0])
        for row in cluster.rows(
            "SELECT substring(body_text from 'mailkey([0-9]+)x') FROM messages "
            "WHERE body_text LIKE '%mailkey%' AND author_type = 'customer'"
        )
    )
    if bad := {k: c for k, c in mail.items() if c != 1}:
        problems.append(f"emails stored other than once: {dict(list(bad.items())[:5])}")
    if missing := stream.acked_mail - set(mail):
        problems.append(f"{len(missing)} acknowledged emails missing, e.g. {sorted(missing)[:5]}")
    sent = {f"{n:06d}" for n in range(stream.total)}
    if unsent := (set(mail) | api_keys) - sent:
        problems.append(f"{len(unsent)} messages stored that no client sent")
    quarantined = cluster.scalar("SELECT count(*) FROM quarantine")
    if quarantined:
        problems.append(f"{quarantined} emails quarantined")
    untriaged = cluster.scalar(
        "SELECT count(*) FROM messages WHERE author_type = 'customer' AND triaged_at IS NULL"
    )
    if untriaged:
        problems.append(f"{untriaged} customer messages not triaged")
    unindexed = cluster.scalar("SELECT count(*) FROM messages WHERE indexed_at IS NULL")
    if unindexed:
        problems.append(f"{unindexed} messages not in the search index")
    return problems


def wait_until(condition: Callable[[], bool], *, timeout: float, interval: float = 0.5) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return condition()


def run(
    cluster: Cluster,
    *,
    n: int,
    servers: int = 2,
    workers: int = 1,
    clients: int = 8,
    kill_every: float = 5.0,
    pause: float = 1.0,
    settle_timeout: float = 600.0,
    first_victims: list[str] | None = None,
    progress: Callable[[str], None] | None = None,
) -> Result:
    """Stream ``n`` messages into a created ``cluster`` while killing its processes; return the figures."""
    say = progress or (lambda _line: None)
    result = Result(n=n, servers=servers, workers=workers)
    for i in range(servers):
        cluster.add_server(f"server{i + 1}")
    for i in range(workers):
        cluster.add_worker(f"worker{i + 1}")
    for name in cluster.processes:
        cluster.start(name, wait=False)
    for name in cluster.processes:
        cluster.wait_ready(name)
    say(f"{servers} servers and {workers} workers ready; streaming {n} messages with {clients} clients")
    stream = Stream(cluster=cluster, total=n)
    killer = Killer(
        cluster,
        every=kill_every,
        pause=pause,
        order=first_victims,
        progress=lambda: (len(stream.acked_api) + len(stream.acked_mail)) / n,
    )
    threads = [threading.Thread(target=stream.run_client, args=(i,), daemon=True) for i in range(clients)]
    started = time.monotonic()
    killer.thread.start()
    for thread in threads:
        thread.start()
    last = 0.0
    while any(thread.is_alive() for thread in threads):
        time.sleep(0.5)
        if progress is not None and time.monotonic() - last > 10:
            last = time.monotonic()
            done = len(stream.acked_api) + len(stream.acked_mail)
            say(
                f"  {done}/{n} acknowledged, {stream.lost_answers} answers lost, kills so far "
                f"{ {p.name: p.kills for p in cluster.processes.values()} }"
            )
    result.seconds_streaming = time.monotonic() - started
    killer.stop.set()
    killer.thread.join(timeout=START_TIMEOUT + 10)
    result.slow_restarts = list(killer.errors)
    for name, process in cluster.processes.items():
        if not process.alive():
            cluster.start(name)
    result.kills = {p.name: p.kills for p in cluster.processes.values()}
    result.lost_answers = stream.lost_answers
    result.acknowledged = len(stream.acked_api) + len(stream.acked_mail)
    result.refused = list(stream.refused)
    say(f"streamed in {result.seconds_streaming:.1f}s; waiting for the workers to finish the work")
    settle_started = time.monotonic()
    settled = wait_until(
        lambda: (
            cluster.scalar(
                "SELECT count(*) FROM messages WHERE (author_type = 'customer' AND triaged_at IS NULL) "
                "OR indexed_at IS NULL"
            )
            == 0
        ),
        timeout=settle_timeout,
    )
    result.seconds_to_settle = time.monotonic() - settle_started
    if not settled:
        result.problems.append(f"work still pending {settle_timeout:.0f}s after the stream ended")
    result.problems.extend(check(cluster, stream))
    return result


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("-n", type=int, default=10_000, help="messages in all (half API, half SMTP)")
    parser.add_argument("--servers", type=int, default=2)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--kill-every", type=float, default=8.0, help="mean seconds between kills")
    parser.add_argument("--pause", type=float, default=1.0, help="seconds a killed process stays down")
    parser.add_argument("--settle-timeout", type=float, default=1800.0)
    parser.add_argument("--database-url", default=os.environ.get("OMBUD_TEST_DATABASE_URL"))
    parser.add_argument("--redis-url", default=os.environ.get("OMBUD_TEST_REDIS_URL"))
    parser.add_argument("--workdir", type=Path, default=None, help="logs (default: a new temporary folder)")
    parser.add_argument("--out", type=Path, default=Path("/tmp/ombud-bench-crash.json"))
    args = parser.parse_args()
    if not args.database_url or not args.redis_url:
        parser.error(
            "needs PostgreSQL and Redis: --database-url/--redis-url or OMBUD_TEST_DATABASE_URL/_REDIS_URL"
        )
    workdir = args.workdir or Path(f"/tmp/ombud-bench-crash-{uuid.uuid4().hex[:8]}")
    cluster = Cluster(workdir, args.database_url, args.redis_url)

    def stop(signum: int, _frame: object) -> None:
        raise SystemExit(f"stopped by signal {signum}")  # runs the finally below: processes, database, keys

    signal.signal(signal.SIGTERM, stop)
    print(f"logs in {workdir}", flush=True)
    cluster.create()
    try:
        result = run(
            cluster,
            n=args.n,
            servers=args.servers,
            workers=args.workers,
            clients=args.clients,
            kill_every=args.kill_every,
            pause=args.pause,
            settle_timeout=args.settle_timeout,
            progress=lambda line: print(line, flush=True),
        )
    finally:
        cluster.close()
    figures = {
        **{k: v for k, v in result.__dict__.items() if k not in {"problems", "refused"}},
        "messages_per_second_streaming": round(result.acknowledged / max(result.seconds_streaming, 1e-9), 1),
        "problems": result.problems,
        "refused": result.refused[:20],
        "ok": result.ok,
    }
    args.out.write_text(json.dumps(figures, indent=2))
    for key, value in figures.items():
        print(f"{key:32s} {value}")
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
