#!/usr/bin/env python3
"""A sustained mixed load: C (8) concurrent clients for M (10) minutes against a real `ombud serve`, on the
embedded default (SQLite, jobs in-process) and on PostgreSQL with the jobs in one `ombud worker` on Redis.

Each client loops until the time is up, picking an operation at random (weights in MIX):
  create   POST /api/v1/tickets                   a Banking77 / TweetEval text, customers reused
  reply    POST /api/v1/tickets/{id}/messages      an agent's reply (1 in 5 an internal note) on one of
                                                   the last 500 tickets created
  list     GET  /api/v1/tickets?limit=25           one of several views (all, open statuses, mine,
                                                   unassigned, a channel), sometimes the next page
  search   GET  /api/v1/tickets?q=...&limit=25     one or two words from the texts
  triage   POST /api/v1/triage                     the live models on a text (nothing stored)
  get      GET  /api/v1/tickets/{id}               a ticket created in this run
Zero errors are expected: any status other than 200/201 (or a transport error) counts as one. After the
load the script waits until the worker has triaged and indexed every message created (the backlog at the
end, and how long it took to drain, are reported).

Each engine starts fresh: a temporary OMBUD_HOME, `ombud db upgrade`, an agent from `ombud user add`;
PostgreSQL uses a database it creates (--pg-db, default ombud_bench_load) and drops at the end, and a
Redis database it owns (--redis-url, flushed before the run). Servers and workers are stopped by PID.

Usage:
  .venv/bin/python benchmarks/bench_load.py                               # 10 minutes per engine
  .venv/bin/python benchmarks/bench_load.py --minutes 2 --engines sqlite
  .venv/bin/python benchmarks/bench_load.py --quick                        # 20 s per engine, smoke run
Output: p50/p95/p99 per operation and engine on stdout; everything in --out.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import psycopg

sys.path.insert(0, str(Path(__file__).parent))
from bench_core import cpu_check, free_port, machine_info, pct
from bench_scale import Server, Worker
from bench_workspace import load_texts

MIX = (("create", 20), ("reply", 20), ("list", 25), ("search", 20), ("triage", 10), ("get", 5))
LIST_VIEWS = ("", "&status=new,open,pending", "&assignee=me", "&assignee=none", "&channel=chat")
SEARCH_WORDS = ("card", "transfer", "refund", "account", "card declined", "top up", "exchange rate", "pin")
CHANNELS = ("email", "chat", "web", "api", "social")
SEED_TICKETS = 100


class Load:
    """The shared state of one engine's run: created ticket ids and the samples per operation."""

    def __init__(self, client: httpx.AsyncClient, seed: int, texts: list[str], social: list[str]) -> None:
        self.client = client
        self.rng = random.Random(seed)
        self.texts, self.social = texts, social
        self.tickets: list[int] = []
        self.samples: dict[str, list[float]] = {name: [] for name, _ in MIX}
        self.errors: dict[str, int] = {name: 0 for name, _ in MIX}
        self.err_samples: list[str] = []
        self.customers = 0

    def text(self, channel: str) -> str:
        pool = self.social if channel == "social" and self.social else self.texts
        return self.rng.choice(pool)

    def request(self, op: str) -> tuple[str, str, dict[str, Any]]:
        rng = self.rng
        if op == "create" or not self.tickets:
            channel = rng.choice(CHANNELS)
            body = self.text(channel)
            # customers reused: half the new tickets come from someone who wrote before
            if not self.customers or rng.random() < 0.5:
                self.customers += 1
            who = rng.randint(1, self.customers)
            payload = {
                "customer": {"email": f"load{who}@bench.example", "name": f"Load Customer {who}"},
                "channel": channel,
                "subject": body[:80],
                "body": body,
            }
            return "create", "/api/v1/tickets", {"json": payload}
        if op == "reply":
            tid = rng.choice(self.tickets[-500:])
            reply = {"body": f"Thanks for your message. {self.text('email')}", "internal": rng.random() < 0.2}
            return "reply", f"/api/v1/tickets/{tid}/messages", {"json": reply}
        if op == "list":
            return "list", f"/api/v1/tickets?limit=25{rng.choice(LIST_VIEWS)}", {}
        if op == "search":
            return "search", "/api/v1/tickets", {"params": {"q": rng.choice(SEARCH_WORDS), "limit": 25}}
        if op == "triage":
            return "triage", "/api/v1/triage", {"json": {"text": self.text("email")}}
        return "get", f"/api/v1/tickets/{rng.choice(self.tickets)}", {}

    async def one(self, op: str) -> None:
        name, url, kw = self.request(op)
        method = "POST" if name in ("create", "reply", "triage") else "GET"
        t0 = time.perf_counter()
        try:
            response = await self.client.request(method, url, **kw)
            code, body = response.status_code, response.content
        except httpx.HTTPError as e:
            code, body, response = -1, repr(e).encode(), None
        elapsed = time.perf_counter() - t0
        if code in (200, 201):
            self.samples[name].append(elapsed)
            if name == "create" and response is not None:
                self.tickets.append(int(response.json()["id"]))
            elif name == "list" and response is not None and self.rng.random() < 0.3:
                cursor = response.json().get("next_cursor")
                if cursor:  # the next page, as an agent scrolling the list
                    await self.one_url("list", f"{url}&cursor={cursor}")
        else:
            self.errors[name] += 1
            if len(self.err_samples) < 10:
                self.err_samples.append(f"{name} {method} {url}: {code} {body[:200]!r}")

    async def one_url(self, name: str, url: str) -> None:
        t0 = time.perf_counter()
        try:
            response = await self.client.get(url)
            code = response.status_code
        except httpx.HTTPError:
            code = -1
        if code == 200:
            self.samples[name].append(time.perf_counter() - t0)
        else:
            self.errors[name] += 1


async def drive(load: Load, *, clients: int, seconds: float) -> float:
    for _ in range(SEED_TICKETS):
        await load.one("create")
    for name in load.samples:  # the seed is not part of the figures
        load.samples[name].clear()
    ops = [name for name, _ in MIX]
    weights = [w for _, w in MIX]
    deadline = time.perf_counter() + seconds
    started = time.perf_counter()

    async def client() -> None:
        while time.perf_counter() < deadline:
            await load.one(load.rng.choices(ops, weights)[0])

    await asyncio.gather(*(client() for _ in range(clients)))
    return time.perf_counter() - started


def backlog(kind: str, url: str) -> int:
    sql = "SELECT count(*) FROM messages WHERE triaged_at IS NULL OR indexed_at IS NULL"
    if kind == "sqlite":
        path = url.removeprefix("sqlite:///")
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=60)) as c:
            return int(c.execute(sql).fetchone()[0])
    with psycopg.connect(url) as pg:
        row = pg.execute(sql).fetchone()
    return int(row[0]) if row else 0


def summary(load: Load, wall: float) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, lat in load.samples.items():
        lat.sort()
        out[name] = {
            "ok": len(lat),
            "errors": load.errors[name],
            "per_s": round(len(lat) / wall, 2),
            "p50_ms": round(pct(lat, 50) * 1000, 1) if lat else None,
            "p95_ms": round(pct(lat, 95) * 1000, 1) if lat else None,
            "p99_ms": round(pct(lat, 99) * 1000, 1) if lat else None,
            "mean_ms": round(statistics.fmean(lat) * 1000, 1) if lat else None,
        }
    return out


def run_engine(engine: str, args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    home = tmp / engine
    home.mkdir()
    env: dict[str, str] = {}
    db_url = f"sqlite:///{home / 'ombud.db'}"
    if engine == "postgresql":
        import redis

        db_url = args.pg_url.rstrip("/") + f"/{args.pg_db}"
        with psycopg.connect(args.pg_url.rstrip("/") + "/postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{args.pg_db}" WITH (FORCE)')
            admin.execute(f'CREATE DATABASE "{args.pg_db}"')
        redis.Redis.from_url(args.redis_url).flushdb()
        env = {"OMBUD_DATABASE_URL": db_url, "OMBUD_QUEUE_URL": args.redis_url}
    server_args = ("--smtp-port", "0", "--no-imap") + (("--no-worker",) if engine == "postgresql" else ())
    server = Server(home, free_port(), args=server_args, env=env)
    token = server.setup()
    workers = [Worker(home, env) for _ in range(args.workers if engine == "postgresql" else 0)]
    texts = load_texts()
    result: dict[str, Any] = {
        "engine": engine,
        "shape": "ombud serve (jobs in-process), SQLite"
        if engine == "sqlite"
        else f"ombud serve --no-worker + {len(workers)} ombud worker, PostgreSQL + Redis",
    }
    try:
        server.start()
        result["cpu_check_before"] = cpu_check()

        async def go() -> tuple[Load, float]:
            limits = httpx.Limits(max_connections=args.clients * 2)
            headers = {"Authorization": f"Bearer {token}"}
            async with httpx.AsyncClient(
                base_url=server.base, headers=headers, timeout=60, limits=limits
            ) as client:
                load = Load(client, 5, texts.bank, texts.social)
                wall = await drive(load, clients=args.clients, seconds=args.minutes * 60)
                return load, wall

        load, wall = asyncio.run(go())
        result["wall_s"] = round(wall, 1)
        result["ops"] = summary(load, wall)
        result["err_samples"] = load.err_samples
        result["tickets_created"] = len(load.tickets)
        result["server_memory_kib"] = server.memory()
        t0 = time.perf_counter()
        left = first = backlog(engine, db_url)
        while left and time.perf_counter() - t0 < args.drain_cap:
            time.sleep(0.5)
            left = backlog(engine, db_url)
        result["backlog_at_end"] = first
        result["drain_s"] = round(time.perf_counter() - t0, 1)
        result["backlog_left"] = left
    finally:
        result["server_stop"] = server.stop()
        for worker in workers:
            worker.stop()
        if engine == "postgresql" and not args.keep:
            with psycopg.connect(args.pg_url.rstrip("/") + "/postgres", autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{args.pg_db}" WITH (FORCE)')
    return result


def table(results: list[dict[str, Any]], clients: int) -> str:
    lines = [
        f"{clients} clients; per operation: requests ok / errors, req/s, p50 / p95 / p99 ms",
        "",
        "| operation | " + " | ".join(r["engine"] for r in results) + " |",
        "| --- |" + " ---: |" * len(results),
    ]
    for name, _ in MIX:
        cells = []
        for r in results:
            o = r["ops"][name]
            cells.append(
                f"{o['ok']:,} / {o['errors']}, {o['per_s']}/s, {o['p50_ms']} / {o['p95_ms']} / {o['p99_ms']}"
            )
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    total = [sum(o["ok"] for o in r["ops"].values()) for r in results]
    errors = [sum(o["errors"] for o in r["ops"].values()) for r in results]
    lines.append(
        "| all | "
        + " | ".join(
            f"{t:,} / {e}, {t / r['wall_s']:.1f}/s" for t, e, r in zip(total, errors, results, strict=True)
        )
        + " |"
    )
    lines.append(
        "| jobs backlog at end → drained in | "
        + " | ".join(f"{r['backlog_at_end']} → {r['drain_s']} s ({r['backlog_left']} left)" for r in results)
        + " |"
    )
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=10.0, help="load duration per engine")
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--engines", default="sqlite,postgresql")
    ap.add_argument("--workers", type=int, default=1, help="`ombud worker` processes on PostgreSQL")
    ap.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/")
    ap.add_argument("--pg-db", default="ombud_bench_load")
    ap.add_argument("--redis-url", default="redis://127.0.0.1:6379/14", help="a Redis database the run owns")
    ap.add_argument("--drain-cap", type=float, default=600, help="max wait (s) for the job backlog after")
    ap.add_argument("--keep", action="store_true", help="keep the PostgreSQL database")
    ap.add_argument("--quick", action="store_true", help="20 seconds per engine (smoke run)")
    ap.add_argument("--out", default=str(Path(tempfile.gettempdir()) / "ombud-bench-load.json"))
    args = ap.parse_args()
    if args.quick:
        args.minutes = 1 / 3
    report: dict[str, Any] = {"machine": machine_info(), "args": vars(args), "results": []}
    print(f"machine: {report['machine']}", flush=True)
    with tempfile.TemporaryDirectory(prefix="ombud-bench-load-") as tmp:
        for engine in [e.strip() for e in args.engines.split(",") if e.strip()]:
            if engine not in ("sqlite", "postgresql"):
                raise SystemExit(f"unknown engine {engine!r}: sqlite or postgresql")
            print(f"{engine}: {args.clients} clients for {args.minutes:g} min", flush=True)
            result = run_engine(engine, args, Path(tmp))
            report["results"].append(result)
            Path(args.out).write_text(json.dumps(report, indent=1, default=str), encoding="utf-8")
            ok = sum(o["ok"] for o in result["ops"].values())
            bad = sum(o["errors"] for o in result["ops"].values())
            print(
                f"  {ok} ok / {bad} errors in {result['wall_s']} s; backlog {result['backlog_at_end']} "
                f"drained in {result['drain_s']} s; cpu_check {result['cpu_check_before']}",
                flush=True,
            )
            for sample in result["err_samples"][:3]:
                print(f"  error: {sample}", flush=True)
    print()
    print(table(report["results"], args.clients))
    print(f"\nfull report: {args.out}")


if __name__ == "__main__":
    main()
