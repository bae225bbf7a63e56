#!/usr/bin/env python3
"""Measure what grows with the size of the desk: list, search, create-with-triage and theme refresh at
several ticket counts (default 10,000 / 100,000 / 1,000,000) on SQLite and PostgreSQL, side by side in one
run, and the create path with 1 and 2 `ombud worker` processes on PostgreSQL + Redis.

  data       bench_workspace.generate (bulk INSERTs: sqlite3 executemany / PostgreSQL COPY, 10,000 tickets a
             transaction): customers reused (one per 10 tickets, a few with hundreds), tickets over two
             years on every channel, 1-3 messages each from Banking77 / TweetEval texts (../shared/data),
             stored triage, priority scores, ratings. Then, per 10,000 tickets in one transaction each
             (INSERT ... SELECT, so the database computes what the product computes): the search index
             rows the product's search.write_entry keeps (SQLite FTS5 `message_search` with the subject on
             a ticket's first message; PostgreSQL `setweight(to_tsvector('simple', subject), 'A') ||
             to_tsvector('simple', body)`).
             SQLite: /tmp/ombud-bench-scale-<size>.db; PostgreSQL: database ombud_bench_scale_<size>
             (created here, dropped with --drop). --reuse keeps a complete one of the right size.
  reads      one `ombud serve --no-worker` per database, all up at once; requests over HTTP on 127.0.0.1
             as agent 1 (20 agents, 3 teams in the data), 1 client, interleaved in rounds across the
             databases so machine noise falls on all alike: GET /api/v1/tickets list views (all, open
             statuses, mine, unassigned, a team, a channel) page 1 and a deep keyset page (next_cursor
             followed --deep times), search (?q=) for a common word, a rarer word, two words, a word in
             no message.
  create     for each database in turn, the production shape: SQLite = `ombud serve` with its in-process
             worker (the embedded default); PostgreSQL = `ombud serve --no-worker` + W `ombud worker`
             processes on Redis (--workers, default "1,2"). Concerns and themes are emptied first, and
             history messages get the knowledge-suggestion rows the product writes when no article answers
             (else the worker's start-up sweep queues 10,000 history jobs ahead of the new triage).
             C (8) clients POST --creates tickets; reported:
             API rate and latency, and "triaged/s" = new customer messages triaged and indexed by the
             worker(s), from the first request until the last triaged_at / indexed_at is set.
  themes     one triage concern per generated ticket is added, none themed (text = the first customer
             message, intent from its stored triage, linked by concern_messages: history as after an
             import), then `ombud advocacy recluster --backfill-limit B` runs twice: the first run embeds
             (MiniLM) and themes B of them (the backfill, in batches of 256), the second re-clusters those
             members (the periodic refresh). The wall time includes the CLI start and loading the model.

Usage:
  .venv/bin/python benchmarks/bench_scale.py --sizes 10000,100000 --backends sqlite,postgresql --reuse
  .venv/bin/python benchmarks/bench_scale.py --quick                # 1,000 and 5,000 tickets, smoke run
Output: tables on stdout; everything in --out (default /tmp/ombud-bench-scale.json).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import random
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg

sys.path.insert(0, str(Path(__file__).parent))
from bench_core import OmbudServer, cpu_check, free_port, machine_info, ombud_bin, pct, run_load
from bench_workspace import PgWriter, SqliteWriter, Writer, generate, label, load_texts

from ombud.accounts import service as accounts
from ombud.storage import schema
from ombud.storage.db import Database

META = "bench_meta"
VERSION = 2  # of the generated data: a database from another version is generated again
STEP = 10_000
BENCH_AGENT = 1
OPEN = "new,open,pending,on_hold"


# ----------------------------------------------------------------- databases
@dataclass
class Target:
    backend: str
    n: int
    url: str
    generation: dict[str, Any] = field(default_factory=dict)
    token: str = ""

    @property
    def name(self) -> str:
        return f"{self.backend} {label(self.n)}"

    @property
    def path(self) -> Path:
        return Path(self.url.removeprefix("sqlite:///"))


def pg_admin(url: str) -> psycopg.Connection[Any]:
    return psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True)


def dbname(url: str) -> str:
    return url.rsplit("/", 1)[1]


def read_meta(target: Target) -> dict[str, Any] | None:
    try:
        if target.backend == "sqlite":
            if not target.path.exists():
                return None
            with sqlite3.connect(target.path) as conn:
                row = conn.execute(f"SELECT value FROM {META} WHERE key = 'generation'").fetchone()
        else:
            with psycopg.connect(target.url) as pg:
                row = pg.execute(f"SELECT value FROM {META} WHERE key = 'generation'").fetchone()
    except (sqlite3.Error, psycopg.Error):
        return None
    return json.loads(row[0]) if row else None


def drop(target: Target) -> None:
    if target.backend == "sqlite":
        for suffix in ("", "-wal", "-shm"):
            Path(str(target.path) + suffix).unlink(missing_ok=True)
    else:
        with pg_admin(target.url) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{dbname(target.url)}" WITH (FORCE)')


SQLITE_INDEX = (
    "INSERT INTO message_search (rowid, subject, body, ticket_id, internal) "
    "SELECT m.id, CASE WHEN m.id = (SELECT min(f.id) FROM messages f WHERE f.ticket_id = m.ticket_id) "
    "THEN t.subject ELSE '' END, m.body_text, m.ticket_id, m.internal "
    "FROM messages m JOIN tickets t ON t.id = m.ticket_id WHERE m.ticket_id BETWEEN ? AND ?"
)
PG_INDEX = (
    "INSERT INTO message_search (message_id, ticket_id, internal, document) "
    "SELECT m.id, m.ticket_id, m.internal, setweight(to_tsvector('simple', "
    "CASE WHEN m.id = (SELECT min(f.id) FROM messages f WHERE f.ticket_id = m.ticket_id) "
    "THEN t.subject ELSE '' END), 'A') || to_tsvector('simple', m.body_text) "
    "FROM messages m JOIN tickets t ON t.id = m.ticket_id WHERE m.ticket_id BETWEEN %s AND %s"
)
# One triage concern per ticket: the first customer message's text and stored intent (concern id = ticket id).
CONCERNS = (
    "INSERT INTO concerns (id, ticket_id, text, intent, status, source, created_at, updated_at, resolved_at) "
    "SELECT t.id, t.id, m.body_text, {intent}, CASE WHEN t.is_open THEN 'open' ELSE 'resolved' END, "
    "'triage', m.created_at, t.updated_at, t.resolved_at "
    "FROM tickets t JOIN message_triage mt ON mt.message_id = "
    "(SELECT min(f.id) FROM messages f WHERE f.ticket_id = t.id) "
    "JOIN messages m ON m.id = mt.message_id WHERE t.id BETWEEN {a} AND {b}"
)
CONCERN_LINKS = (
    "INSERT INTO concern_messages (concern_id, message_id, concern_index, created_at) "
    "SELECT c.id, (SELECT min(f.id) FROM messages f WHERE f.ticket_id = c.ticket_id), 0, c.created_at "
    "FROM concerns c WHERE c.id BETWEEN {a} AND {b}"
)


THEMING = ("advocacy_theme_members", "advocacy_theme_counts", "advocacy_theme_edits", "advocacy_spikes",
           "advocacy_themes", "advocacy_schedules", "concern_messages", "concerns")  # fmt: skip


def _connect(target: Target) -> Any:
    if target.backend == "sqlite":
        conn = sqlite3.connect(target.path, isolation_level=None)
        conn.execute("PRAGMA synchronous=OFF")
        return conn
    return psycopg.connect(target.url)


def index_rows(target: Target) -> float:
    """Add the search index rows the product's indexer keeps, STEP tickets per transaction; return seconds."""
    started = time.perf_counter()
    conn = _connect(target)
    try:
        for a in range(1, target.n + 1, STEP):
            b = min(a + STEP - 1, target.n)
            if target.backend == "sqlite":
                conn.execute("BEGIN")
                conn.execute(SQLITE_INDEX, (a, b))
                conn.execute("COMMIT")
            else:
                conn.execute(PG_INDEX, (a, b))
                conn.commit()
    finally:
        conn.close()
    return round(time.perf_counter() - started, 1)


SUGGESTIONS = (
    "INSERT INTO kb_suggestions (message_id, ticket_id, customer_id, concern_index, concern_text, intent, "
    "rank, article_id, passage, score, created_at) "
    "SELECT mt.message_id, mt.ticket_id, mt.customer_id, 0, substr(m.body_text, 1, 300), {intent}, 0, NULL, "
    "NULL, 0.0, mt.created_at FROM message_triage mt JOIN messages m ON m.id = mt.message_id "
    "WHERE mt.ticket_id BETWEEN {a} AND {b} "
    "AND NOT EXISTS (SELECT 1 FROM kb_suggestions s WHERE s.message_id = mt.message_id)"
)


def complete_suggestions(target: Target) -> float:
    """Give every triaged history message the knowledge-suggestion row the product's suggest job writes when
    no article answers (the data has no articles); otherwise the worker's start-up sweep queues up to 10,000
    suggestion jobs for history ahead of the new tickets' triage."""
    started = time.perf_counter()
    sqlite = target.backend == "sqlite"
    conn = _connect(target)
    try:
        intent = "json_extract(mt.intents, '$[0]')" if sqlite else "mt.intents->>0"
        for a in range(1, target.n + 1, STEP):
            b = min(a + STEP - 1, target.n)
            if sqlite:
                conn.execute("BEGIN")
            conn.execute(SUGGESTIONS.format(intent=intent, a=a, b=b))
            conn.execute("COMMIT") if sqlite else conn.commit()
    finally:
        conn.close()
    return round(time.perf_counter() - started, 1)


def reset_theming(target: Target, *, history: bool) -> float:
    """Remove every concern and theme (a create case starts without a theming backlog); with ``history``,
    add one triage concern per generated ticket, none themed yet (what the theme backfill starts from)."""
    started = time.perf_counter()
    sqlite = target.backend == "sqlite"
    conn = _connect(target)
    try:
        if sqlite:
            conn.execute("BEGIN")
            for table in THEMING:
                conn.execute(f"DELETE FROM {table}")
            conn.execute("COMMIT")
        else:
            conn.execute(f"TRUNCATE {', '.join(THEMING)} CASCADE")
            conn.commit()
        intent = "json_extract(mt.intents, '$[0]')" if sqlite else "mt.intents->>0"
        for a in range(1, target.n + 1, STEP) if history else ():
            b = min(a + STEP - 1, target.n)
            if sqlite:
                conn.execute("BEGIN")
            conn.execute(CONCERNS.format(intent=intent, a=a, b=b))
            conn.execute(CONCERN_LINKS.format(a=a, b=b))
            conn.execute("COMMIT") if sqlite else conn.commit()
        if not sqlite:
            conn.execute(
                "SELECT setval(pg_get_serial_sequence('concerns', 'id'), "
                "(SELECT coalesce(max(id), 1) FROM concerns))"
            )
            conn.commit()
    finally:
        conn.close()
    return round(time.perf_counter() - started, 1)


def prepare(target: Target, *, reuse: bool) -> None:
    meta = read_meta(target) if reuse else None
    if meta is not None and meta["counts"]["tickets"] == target.n and meta.get("version") == VERSION:
        target.generation = {**meta, "reused": True}
        database = Database(target.url)
        schema.upgrade(database)  # a migration added since it was generated
        database.dispose()
        print(f"  {target.name}: reusing ({meta['total_seconds']} s to generate)", flush=True)
        return
    print(f"  {target.name}: generating {target.n:,} tickets", flush=True)
    drop(target)
    started = time.perf_counter()
    if target.backend == "postgresql":
        with pg_admin(target.url) as admin:
            admin.execute(f'CREATE DATABASE "{dbname(target.url)}"')
    database = Database(target.url)
    schema.upgrade(database)
    database.dispose()
    writer: Writer = SqliteWriter(target.path) if target.backend == "sqlite" else PgWriter(target.url)
    result = generate(writer, target.n)
    writer.close()
    extra = {"index_seconds": index_rows(target)}
    t_after = time.perf_counter()
    if target.backend == "postgresql":
        with psycopg.connect(target.url, autocommit=True) as pg:
            for table in (
                "users",
                "teams",
                "customers",
                "identities",
                "purchases",
                "tickets",
                "messages",
                "ticket_ratings",
            ):
                pg.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT coalesce(max(id), 1) FROM {table}))"
                )
            pg.execute("VACUUM ANALYZE")
    else:
        with sqlite3.connect(target.path) as conn:
            conn.execute("ANALYZE")
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    record = {
        "version": VERSION,
        **result,
        **extra,
        "after_load_seconds": round(time.perf_counter() - t_after, 1),
        "total_seconds": round(time.perf_counter() - started, 1),
        "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    record["counts"]["search_rows"] = record["counts"]["messages"]
    statements = (
        f"CREATE TABLE {META} (key VARCHAR(40) PRIMARY KEY, value TEXT)",
        f"INSERT INTO {META} VALUES ('generation', %s)",
    )
    if target.backend == "sqlite":
        with sqlite3.connect(target.path) as conn:
            conn.execute(statements[0])
            conn.execute(statements[1].replace("%s", "?"), (json.dumps(record),))
    else:
        with psycopg.connect(target.url, autocommit=True) as pg:
            pg.execute(statements[0])
            pg.execute(statements[1], (json.dumps(record),))
    target.generation = {**record, "reused": False}
    print(
        f"  {target.name}: generated in {record['total_seconds']} s (rows {result['load_seconds']} s, "
        f"search index {extra['index_seconds']} s), "
        f"{record['counts']}",
        flush=True,
    )


def agent_token(target: Target) -> str:
    """A fresh API token for agent 1 of the generated data (the "mine" and team views are theirs)."""
    database = Database(target.url)
    try:
        with database.session() as session:
            token = accounts.issue_token(session=session, user_id=BENCH_AGENT, name="bench-scale")
            session.commit()
    finally:
        database.dispose()
    return token


# ----------------------------------------------------------------- servers
class Server(OmbudServer):
    """bench_core's server with a longer start-up wait: on the shared 2-core machine under load, loading
    the app and its models took more than bench_core's 60 s."""

    start_timeout = 240.0

    def start(self) -> None:
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [ombud_bin(), "serve", "--port", str(self.port), *self.args],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.time() + self.start_timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"ombud serve exited: {self.log.read_text()[-2000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.base}/api/v1/health", timeout=5).status_code == 200:
                    return
            time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"ombud serve did not come up in {self.start_timeout:.0f} s")


def server_env(target: Target, queue_url: str | None) -> dict[str, str]:
    env = {"OMBUD_DATABASE_URL": target.url}
    if queue_url:
        env["OMBUD_QUEUE_URL"] = queue_url
    return env


class Worker:
    """`ombud worker` in a child process, stopped by its own PID."""

    def __init__(self, home: Path, env: dict[str, str]) -> None:
        full = {**os.environ, "OMBUD_HOME": str(home), "OMBUD_LOG_LEVEL": "warning", **env}
        self.log = open(home / f"worker-{time.monotonic_ns()}.log", "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [ombud_bin(), "worker"], env=full, stdout=self.log, stderr=subprocess.STDOUT
        )

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


# ----------------------------------------------------------------- reads
WORDS = {"common": "card", "rarer": "refund", "two words": "card declined", "no match": "zzyzxquux"}


def read_cases(client: httpx.Client, deep: int) -> dict[str, str]:
    """The read cases, with each deep page's cursor found by following next_cursor ``deep`` times."""
    views = {
        "list all": "",
        "list open statuses": f"&status={OPEN}",
        "list mine": "&assignee=me",
        "list unassigned open": f"&assignee=none&status={OPEN}",
        "list team 2": "&team=2",
        "list channel chat": "&channel=chat",
    }
    cases: dict[str, str] = {}
    for name, query in views.items():
        first = f"/api/v1/tickets?limit=25{query}"
        cases[f"{name}, page 1"] = first
        url, page = first, 1
        while page < deep:
            body = client.get(url).json()
            if not body.get("next_cursor"):
                break
            url, page = f"{first}&cursor={body['next_cursor']}", page + 1
        cases[f"{name}, page {deep}"] = url
    for name, words in WORDS.items():
        cases[f"search {name} ({words})"] = f"/api/v1/tickets?limit=25&q={words.replace(' ', '+')}"
    cases["search, deep page 5"] = ""
    url = cases["search common (card)"]
    for _ in range(4):
        nxt = client.get(url).json().get("next_cursor")
        if not nxt:
            break
        url = f"{cases['search common (card)']}&cursor={nxt}"
    cases["search, deep page 5"] = url
    return cases


def measure_reads(
    targets: list[Target], servers: dict[str, OmbudServer], *, requests: int, rounds: int, deep: int
) -> dict[str, dict[str, Any]]:
    clients = {
        t.name: httpx.Client(
            base_url=servers[t.name].base, headers={"Authorization": f"Bearer {t.token}"}, timeout=120
        )
        for t in targets
    }
    try:
        plans = {t.name: read_cases(clients[t.name], deep) for t in targets}
        results: dict[str, dict[str, Any]] = {}
        for case in plans[targets[0].name]:
            samples: dict[str, list[float]] = {t.name: [] for t in targets}
            items: dict[str, int] = {}
            for t in targets:  # warm-up
                for _ in range(3):
                    response = clients[t.name].get(plans[t.name][case])
                    response.raise_for_status()
                    items[t.name] = len(response.json()["items"])
            per_round = -(-requests // rounds)
            for _ in range(rounds):
                for t in targets:
                    for _ in range(per_round):
                        t0 = time.perf_counter()
                        response = clients[t.name].get(plans[t.name][case])
                        elapsed = time.perf_counter() - t0
                        if response.status_code != 200:
                            raise RuntimeError(
                                f"{t.name} {case}: {response.status_code} {response.text[:200]}"
                            )
                        samples[t.name].append(elapsed * 1000)
            results[case] = {}
            for t in targets:
                ms = sorted(samples[t.name])
                summary = {
                    "requests": len(ms),
                    "items": items[t.name],
                    "p50_ms": round(statistics.median(ms), 2),
                    "p95_ms": round(pct(ms, 95), 2),
                    "p99_ms": round(pct(ms, 99), 2),
                }
                results[case][t.name] = summary
                print(
                    f"  {case:<36} {t.name:<16} p50 {summary['p50_ms']:8.1f}  p95 {summary['p95_ms']:8.1f}  "
                    f"p99 {summary['p99_ms']:8.1f} ms  ({summary['items']} items)",
                    flush=True,
                )
        return results
    finally:
        for client in clients.values():
            client.close()


# ----------------------------------------------------------------- create with triage
def count_waiting(target: Target, after_id: int) -> tuple[int, int]:
    """(customer messages after ``after_id``, of which not triaged or not in the search index yet)."""
    sql = (
        "SELECT count(*), sum(CASE WHEN triaged_at IS NULL OR indexed_at IS NULL THEN 1 ELSE 0 END) "
        "FROM messages "
        "WHERE id > {p} AND author_type = 'customer'"
    )
    if target.backend == "sqlite":
        with contextlib.closing(sqlite3.connect(f"file:{target.path}?mode=ro", uri=True, timeout=60)) as c:
            row = c.execute(sql.format(p="?"), (after_id,)).fetchone()
    else:
        with psycopg.connect(target.url) as pg:
            row = pg.execute(sql.format(p="%s"), (after_id,)).fetchone()
    assert row is not None
    return int(row[0]), int(row[1] or 0)


def max_message_id(target: Target) -> int:
    sql = "SELECT coalesce(max(id), 0) FROM messages"
    if target.backend == "sqlite":
        with contextlib.closing(sqlite3.connect(f"file:{target.path}?mode=ro", uri=True)) as c:
            return int(c.execute(sql).fetchone()[0])
    with psycopg.connect(target.url) as pg:
        row = pg.execute(sql).fetchone()
    return int(row[0]) if row else 0


def measure_create(
    target: Target,
    home: Path,
    *,
    workers: int,
    queue_url: str | None,
    creates: int,
    concurrency: int,
    cap: float,
    texts: list[str],
) -> dict[str, Any]:
    """POST ``creates`` tickets with ``concurrency`` clients; wait until the worker(s) triaged them all."""
    home.mkdir(parents=True, exist_ok=True)
    in_process = workers == 0
    server = Server(
        home,
        free_port(),
        args=("--smtp-port", "0", "--no-imap") + (() if in_process else ("--no-worker",)),
        env=server_env(target, queue_url),
    )
    if queue_url and queue_url.startswith("redis"):
        import redis

        # The bench's own Redis database: jobs left by an earlier case name rows of another database.
        redis.Redis.from_url(queue_url).flushdb()
    pool = [Worker(home, server_env(target, queue_url)) for _ in range(workers)]
    rng = random.Random(11)
    reset_theming(target, history=False)
    complete_suggestions(target)
    before = max_message_id(target)
    try:
        server.start()

        def make(i: int) -> tuple[str, str, dict[str, Any]]:
            body = rng.choice(texts)
            payload = {
                "customer": {"email": f"scale{rng.randint(1, max(10, creates // 3))}@bench.example"},
                "channel": rng.choice(("email", "chat", "web", "api")),
                "subject": body[:80],
                "body": body,
            }
            return "POST", "/api/v1/tickets", {"json": payload}

        async def go() -> dict[str, Any]:
            headers = {"Authorization": f"Bearer {target.token}"}
            async with httpx.AsyncClient(base_url=server.base, headers=headers, timeout=120) as client:
                return await run_load(client, make, creates, concurrency, cap)

        t0 = time.perf_counter()
        api = asyncio.run(go())
        api_done = time.perf_counter() - t0
        total, waiting = count_waiting(target, before)
        while waiting and time.perf_counter() - t0 < cap * 4:
            time.sleep(0.25)
            total, waiting = count_waiting(target, before)
        triaged_done = time.perf_counter() - t0
    finally:
        server.stop()
        for worker in pool:
            worker.stop()
    return {
        "shape": "serve + in-process worker" if in_process else f"serve --no-worker + {workers} worker(s)",
        "api": api,
        "api_seconds": round(api_done, 2),
        "created_messages": total,
        "left_untriaged": waiting,
        "triage_done_seconds": round(triaged_done, 2),
        "triaged_per_s": round((total - waiting) / triaged_done, 2) if triaged_done else 0.0,
        "triage_lag_after_last_create_s": round(triaged_done - api_done, 2),
    }


# ----------------------------------------------------------------- themes
def measure_themes(target: Target, home: Path, backfill: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    env = {
        **os.environ,
        "OMBUD_HOME": str(home),
        "OMBUD_LOG_LEVEL": "warning",
        "OMBUD_DATABASE_URL": target.url,
    }
    home.mkdir(parents=True, exist_ok=True)
    out["history_concerns_seconds"] = reset_theming(target, history=True)
    for run in ("backfill", "refresh"):
        t0 = time.perf_counter()
        done = subprocess.run(
            [
                ombud_bin(),
                "advocacy",
                "recluster",
                "--backfill-limit",
                str(backfill if run == "backfill" else 0),
            ],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        elapsed = time.perf_counter() - t0
        if done.returncode != 0:
            raise RuntimeError(f"recluster failed on {target.name}: {done.stdout}{done.stderr}")
        out[run] = {"seconds": round(elapsed, 2), "outcome": json.loads(done.stdout.strip().splitlines()[-1])}
        print(f"  themes {run:<9} {target.name:<16} {elapsed:7.1f} s  {out[run]['outcome']}", flush=True)
    return out


# ----------------------------------------------------------------- main
def parse_sizes(value: str) -> list[int]:
    return [int(float(v)) for v in value.split(",") if v.strip()]


def targets_for(args: argparse.Namespace) -> list[Target]:
    found: list[Target] = []
    for backend in [b.strip() for b in args.backends.split(",") if b.strip()]:
        if backend == "sqlite":
            found += [
                Target("sqlite", n, f"sqlite:///{Path(args.db_dir) / f'ombud-bench-scale-{label(n)}.db'}")
                for n in parse_sizes(args.sizes)
            ]
        elif backend == "postgresql":
            found += [
                Target("postgresql", n, args.pg_url.rstrip("/") + f"/{args.pg_db}_{label(n)}")
                for n in parse_sizes(args.pg_sizes or args.sizes)
            ]
        else:
            raise SystemExit(f"unknown backend {backend!r}: sqlite or postgresql")
    return found


def tables(report: dict[str, Any], names: list[str]) -> str:
    lines = [
        "p50 / p95 / p99 ms, 1 client over HTTP",
        "",
        "| request | " + " | ".join(names) + " |",
        "| --- |" + " ---: |" * len(names),
    ]
    for case, by in report.get("reads", {}).items():
        cells = [
            f"{by[n]['p50_ms']:.1f} / {by[n]['p95_ms']:.1f} / {by[n]['p99_ms']:.1f}" if n in by else ""
            for n in names
        ]
        lines.append(f"| {case} | " + " | ".join(cells) + " |")
    if report.get("create"):
        lines += [
            "",
            "| database | shape | created | API req/s | API p50 / p99 ms | errors | triaged/s "
            "| lag after last create s |",
            "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        for row in report["create"]:
            a = row["api"]
            lines.append(
                f"| {row['target']} | {row['shape']} | {a['requests_ok']} | {a['per_s']} | {a['p50_ms']} / "
                f"{a['p99_ms']} | {a['errors']} | {row['triaged_per_s']} | "
                f"{row['triage_lag_after_last_create_s']}"
                + (f" ({row['left_untriaged']} left)" if row["left_untriaged"] else "")
                + " |"
            )
    if report.get("themes"):
        lines += [
            "",
            "| database | backfill run s (concerns embedded) | refresh run s (members) |",
            "| --- | ---: | ---: |",
        ]
        for name, th in report["themes"].items():
            b, r = th["backfill"], th["refresh"]
            lines.append(
                f"| {name} | {b['seconds']} ({b['outcome'].get('backfilled')}) | {r['seconds']} "
                f"({r['outcome'].get('members')}) |"
            )
    if report.get("generation"):
        lines += [
            "",
            "| database | generate s | rows s | search index s | messages |",
            "| --- | ---: | ---: | ---: | ---: |",
        ]
        for name, g in report["generation"].items():
            lines.append(
                f"| {name} | {g['total_seconds']}{' (reused)' if g.get('reused') else ''} | "
                f"{g['load_seconds']} | "
                f"{g['index_seconds']} | {g['counts']['messages']:,} |"
            )
    return "\n".join(lines)


def _stop(signum: int, _frame: Any) -> None:
    raise SystemExit(f"stopped by signal {signum}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="10000,100000,1000000", help="ticket counts, comma-separated")
    ap.add_argument("--pg-sizes", default=None, help="ticket counts on PostgreSQL (default: --sizes)")
    ap.add_argument("--backends", default="sqlite,postgresql")
    ap.add_argument("--db-dir", default="/tmp")
    ap.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/")
    ap.add_argument("--pg-db", default="ombud_bench_scale", help="PostgreSQL databases are <this>_<size>")
    ap.add_argument(
        "--redis-url", default="redis://127.0.0.1:6379/13", help="queue for the PostgreSQL workers"
    )
    ap.add_argument("--reuse", action="store_true", help="reuse a complete generated database of the size")
    ap.add_argument("--drop", action="store_true", help="drop the generated databases at the end")
    ap.add_argument("--parts", default="reads,create,themes")
    ap.add_argument("--requests", type=int, default=60, help="timed requests per read case and database")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--deep", type=int, default=20, help="the deep keyset page (next cursors followed)")
    ap.add_argument("--creates", type=int, default=400, help="tickets created per create case")
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--create-cap", type=float, default=180, help="wall-clock cap (s) of one create case")
    ap.add_argument("--create-on", default="sqlite,postgresql", help="backends of the create cases")
    ap.add_argument("--workers", default="1,2", help="`ombud worker` counts for PostgreSQL + Redis")
    ap.add_argument("--backfill", type=int, default=1000, help="concerns embedded by the theme backfill run")
    ap.add_argument("--quick", action="store_true", help="1,000 and 5,000 tickets, few requests (smoke run)")
    ap.add_argument("--out", default=str(Path(tempfile.gettempdir()) / "ombud-bench-scale.json"))
    args = ap.parse_args()
    if args.quick:
        args.sizes, args.requests, args.rounds, args.deep = "1000,5000", 6, 2, 3
        args.creates, args.backfill, args.workers = 30, 50, "1"
        if args.db_dir == "/tmp":
            args.db_dir, args.drop = tempfile.mkdtemp(prefix="ombud-bench-scale-quick-"), True
    signal.signal(signal.SIGTERM, _stop)  # the report and the servers' cleanup still run
    parts = {p.strip() for p in args.parts.split(",")}
    targets = targets_for(args)
    report: dict[str, Any] = {"machine": machine_info(), "args": vars(args), "started": time.time()}
    print(f"machine: {report['machine']}", flush=True)
    print("databases", flush=True)
    try:
        for t in targets:
            prepare(t, reuse=args.reuse)
        report["generation"] = {t.name: t.generation for t in targets}
        report["cpu_check_before"] = cpu_check()
        print(f"cpu_check {report['cpu_check_before']}", flush=True)
        with tempfile.TemporaryDirectory(prefix="ombud-bench-scale-") as tmp:
            for t in targets:
                t.token = agent_token(t)
            if "reads" in parts:
                print("reads", flush=True)
                servers: dict[str, OmbudServer] = {}
                try:
                    for i, t in enumerate(targets):
                        home = Path(tmp) / f"read-{i}"
                        home.mkdir()
                        servers[t.name] = Server(
                            home,
                            free_port(),
                            args=("--no-worker", "--smtp-port", "0", "--no-imap"),
                            env=server_env(t, None),
                        )
                        servers[t.name].start()
                    report["reads"] = measure_reads(
                        targets, servers, requests=args.requests, rounds=args.rounds, deep=args.deep
                    )
                    Path(args.out).write_text(json.dumps(report, indent=1, default=str), encoding="utf-8")
                finally:
                    for server in servers.values():
                        server.stop()
            if "create" in parts:
                print("create with triage", flush=True)
                texts = load_texts().bank
                report["create"] = []
                for i, t in enumerate(targets):
                    if t.backend not in args.create_on:
                        continue
                    shapes = [0] if t.backend == "sqlite" else parse_sizes(args.workers)
                    for w in shapes:
                        row = measure_create(
                            t,
                            Path(tmp) / f"create-{i}-{w}",
                            workers=w,
                            queue_url=None if t.backend == "sqlite" else args.redis_url,
                            creates=args.creates,
                            concurrency=args.concurrency,
                            cap=args.create_cap,
                            texts=texts,
                        )
                        row["target"] = t.name
                        report["create"].append(row)
                        Path(args.out).write_text(json.dumps(report, indent=1, default=str), encoding="utf-8")
                        a = row["api"]
                        print(
                            f"  {t.name:<16} {row['shape']:<34} {a['requests_ok']} ok / {a['errors']} err, "
                            f"{a['per_s']}/s, p50 {a['p50_ms']} p99 {a['p99_ms']} ms; triaged/s "
                            f"{row['triaged_per_s']}, lag {row['triage_lag_after_last_create_s']} s, "
                            f"left {row['left_untriaged']}",
                            flush=True,
                        )
            if "themes" in parts:
                print("themes", flush=True)
                report["themes"] = {
                    t.name: measure_themes(t, Path(tmp) / f"themes-{i}", args.backfill)
                    for i, t in enumerate(targets)
                }
        report["cpu_check_after"] = cpu_check()
    finally:
        report["wall_s"] = round(time.time() - report["started"], 1)
        Path(args.out).write_text(json.dumps(report, indent=1, default=str), encoding="utf-8")
        if args.drop:
            for t in targets:
                drop(t)
            if args.quick and Path(args.db_dir).name.startswith("ombud-bench-scale-quick-"):
                with contextlib.suppress(OSError):
                    Path(args.db_dir).rmdir()
    print()
    print(tables(report, [t.name for t in targets]))
    print(f"\ncpu_check before / after: {report['cpu_check_before']} / {report['cpu_check_after']}")
    print(f"wall {report['wall_s']} s; full report: {args.out}")


if __name__ == "__main__":
    main()
