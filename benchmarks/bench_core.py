#!/usr/bin/env python3
"""Benchmark ombud's service-desk core over HTTP on 127.0.0.1, side by side with django-helpdesk.

The workload is the one of the peer's own script (/work/shared/peer/bench_peer.py), with the same
payloads (imported from /work/shared/peer/peer_data.py, never copied), the same order, the same sizes
and the same bounded load loop (a request count AND a wall-clock cap; loopback targets only).

Each run starts a fresh ombud (temporary OMBUD_HOME, `ombud db upgrade`, an agent token from
`ombud user add`, `ombud serve` with its in-process job worker), then:

  1. create_c1      N (2,000) tickets, POST /api/v1/tickets, 1 client
  2. reads @N       list    GET /api/v1/tickets?limit=25            (peer: api_list, DRF page 1)
                    get     GET /api/v1/tickets/{id}, random id      (peer: api_get)
                    search  GET /api/v1/tickets?q=printer&limit=25   (peer: ui_search, 2 % of tickets match)
                    each with 1 client and with C (8) concurrent clients
  3. followup @N    POST /api/v1/tickets/{id}/messages on random tickets, 1 client and C clients
  4. create_c8      N more tickets, C concurrent clients
  5. bulk load      more tickets through the same HTTP API with C clients, up to BIG (20,000)
  6. reads @BIG, followup @BIG   as in 2 and 3

Before each block of reads the script waits until the background search indexing is done (no message
left with indexed_at IS NULL) and reports how long that took. It also counts the SQL statements of one
list / get / search request at N and at BIG, in-process (TestClient + a before_cursor_execute listener
on the same database file), to show the count does not grow with the number of tickets.

When the peer is installed (/tmp/peer/venv/bin/python; `bash /work/shared/peer/install.sh`), each run
then runs the peer's bench_peer.py with the same sizes and --runs 1, and reads its median block.

Usage:
  .venv/bin/python benchmarks/bench_core.py                       # N=2,000, BIG=20,000, with the peer
  .venv/bin/python benchmarks/bench_core.py --quick --no-peer     # smoke run, about a minute
Output: a side-by-side table on stdout; everything in --out (default: /tmp/ombud-bench-results.json).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import multiprocessing as mp
import os
import random
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx

PEER_SHARED = Path(os.environ.get("OMBUD_BENCH_PEER_DIR", "/work/shared/peer"))
PEER_PY = Path("/tmp/peer/venv/bin/python")
sys.path.insert(0, str(PEER_SHARED))
from peer_data import SEARCH_WORD, followup_payload, ticket_payload  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
# peer priority 1 (critical) .. 5 (very low) -> ombud's four levels
PRIORITY = {1: "urgent", 2: "high", 3: "normal", 4: "low", 5: "low"}
GOALS = {"create": 10, "api_list": 100, "api_get": 100}
METRICS = ("per_s", "p50_ms", "p90_ms", "p99_ms", "requests_ok", "errors")


# ----------------------------------------------------------------- machine noise
def _burn(n: int) -> float:
    t = time.perf_counter()
    x = 0
    for i in range(n):
        x += i
    return time.perf_counter() - t


def cpu_check(n: int = 5_000_000) -> dict[str, float]:
    """How much parallel CPU the (shared, noisy) machine gives right now: wall time of 2 identical CPU
    burns in parallel / wall time of one. ~1.0 means two cores are really available, ~2.0 means one."""
    one = _burn(n)
    t = time.perf_counter()
    with mp.Pool(2) as pool:
        pool.map(_burn, [n, n])
    two = time.perf_counter() - t
    return {"one_s": round(one, 3), "two_parallel_s": round(two, 3), "ratio": round(two / one, 2)}


def machine_info() -> dict[str, Any]:
    info: dict[str, Any] = {"nproc": os.cpu_count(), "python": sys.version.split()[0]}
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
    with contextlib.suppress(OSError):
        info["loadavg"] = Path("/proc/loadavg").read_text().split()[:3]
    info.update(git_state())
    return info


def git_state() -> dict[str, Any]:
    """The commit of the ombud being measured, and any uncommitted change under src/."""
    git = ["git", "-C", str(ROOT)]
    state: dict[str, Any] = {}
    with contextlib.suppress(OSError, subprocess.CalledProcessError):
        state["git_commit"] = subprocess.run(
            [*git, "rev-parse", "--short", "HEAD"], check=True, capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            [*git, "status", "--porcelain", "--", "src"], check=True, capture_output=True, text=True
        ).stdout.split("\n")
        state["src_uncommitted"] = [line for line in dirty if line.strip()]
    return state


# ----------------------------------------------------------------- the load loop (as in bench_peer.py)
def pct(sorted_vals: list[float], p: float) -> float:
    if not sorted_vals:
        return float("nan")
    k = (len(sorted_vals) - 1) * p / 100.0
    lo = int(k)
    hi = min(lo + 1, len(sorted_vals) - 1)
    return sorted_vals[lo] + (sorted_vals[hi] - sorted_vals[lo]) * (k - lo)


Request = tuple[str, str, dict[str, Any]]


async def run_load(
    client: httpx.AsyncClient,
    make_req: Callable[[int], Request],
    total: int,
    concurrency: int,
    time_cap: float,
    ok_codes: tuple[int, ...] = (200, 201),
    on_ok: Callable[[httpx.Response], None] | None = None,
) -> dict[str, Any]:
    """Fire up to `total` requests from `concurrency` workers, stop at `time_cap` s."""
    lat: list[float] = []
    errors = 0
    err_samples: list[str] = []
    counter = iter(range(total))
    t_start = time.perf_counter()
    deadline = t_start + time_cap
    cpu0 = time.process_time()

    async def worker() -> None:
        nonlocal errors
        for i in counter:
            if time.perf_counter() > deadline:
                return
            method, url, kw = make_req(i)
            t0 = time.perf_counter()
            response = None
            try:
                response = await client.request(method, url, **kw)
                code, body = response.status_code, response.content
            except httpx.HTTPError as e:  # transport error counts as an error
                code, body = -1, repr(e).encode()
            dt = time.perf_counter() - t0
            if code in ok_codes:
                lat.append(dt)
                if on_ok is not None and response is not None:
                    on_ok(response)
            else:
                errors += 1
                if len(err_samples) < 3:
                    err_samples.append(f"{code}: {body[:200]!r}")

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    wall = time.perf_counter() - t_start
    lat.sort()
    return {
        "requests_ok": len(lat),
        "errors": errors,
        "err_samples": err_samples,
        "wall_s": round(wall, 3),
        "per_s": round(len(lat) / wall, 2) if wall else 0.0,
        "p50_ms": round(pct(lat, 50) * 1000, 2),
        "p90_ms": round(pct(lat, 90) * 1000, 2),
        "p99_ms": round(pct(lat, 99) * 1000, 2),
        "max_ms": round(lat[-1] * 1000, 2) if lat else None,
        "mean_ms": round(statistics.fmean(lat) * 1000, 2) if lat else None,
        "client_cpu_s": round(time.process_time() - cpu0, 2),
        "concurrency": concurrency,
        "capped_by_time": len(lat) + errors < total,
    }


def short(r: dict[str, Any]) -> str:
    return (
        f"{r['requests_ok']} ok/{r['errors']} err in {r['wall_s']}s -> {r['per_s']}/s "
        f"p50 {r['p50_ms']}ms p99 {r['p99_ms']}ms"
        + (" [time-capped]" if r["capped_by_time"] else "")
        + (f" first error: {r['err_samples'][0]}" if r.get("err_samples") else "")
    )


# ----------------------------------------------------------------- ombud server
def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def ombud_bin() -> str:
    here = Path(sys.executable).parent / "ombud"
    found = str(here) if here.exists() else shutil.which("ombud")
    if not found:
        sys.exit("the `ombud` command is not installed in this environment (make test installs it)")
    return found


class OmbudServer:
    """`ombud serve` in a child process with its own OMBUD_HOME; stopped by its own PID."""

    def __init__(
        self, home: Path, port: int, *, args: tuple[str, ...] = (), env: dict[str, str] | None = None
    ) -> None:
        self.home, self.port, self.args = home, port, args
        self.base = f"http://127.0.0.1:{port}"
        self.env = {**os.environ, "OMBUD_HOME": str(home), "OMBUD_LOG_LEVEL": "warning"}
        for name in ("OMBUD_DATABASE_URL", "OMBUD_QUEUE_URL", "OMBUD_RUN_WORKER"):
            self.env.pop(name, None)
        self.env.update(env or {})
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = home / "server.log"

    @property
    def db_path(self) -> Path:
        return self.home / "ombud.db"

    def setup(self) -> str:
        """Create the schema and an agent; return the agent's API token."""
        outputs = []
        for cmd in (["db", "upgrade"], ["user", "add", "bench@example.com", "--role", "agent"]):
            done = subprocess.run(
                [ombud_bin(), *cmd], check=False, env=self.env, capture_output=True, text=True
            )
            if done.returncode != 0:
                raise RuntimeError(f"ombud {' '.join(cmd)} failed: {done.stdout}{done.stderr}")
            outputs.append(done.stdout)
        return outputs[-1].strip().splitlines()[-1]

    def start(self) -> None:
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [ombud_bin(), "serve", "--port", str(self.port), *self.args],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.time() + 60
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"ombud serve exited: {self.log.read_text()[-2000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.base}/api/v1/health", timeout=2).status_code == 200:
                    return
            time.sleep(0.2)
        self.stop()
        raise RuntimeError("ombud serve did not come up in 60 s")

    def memory(self) -> dict[str, int]:
        """VmRSS (now) and VmHWM (peak) of the server process, in KiB."""
        out: dict[str, int] = {}
        if self.proc is None:
            return out
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
                key, _, value = line.partition(":")
                if key in ("VmRSS", "VmHWM"):
                    out[key] = int(value.split()[0])
        return out

    def stop(self) -> dict[str, Any]:
        result: dict[str, Any] = {}
        if self.proc is not None and self.proc.poll() is None:
            t0 = time.perf_counter()
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
                result["stopped_by"] = "SIGTERM"
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                result["stopped_by"] = "SIGKILL"
            result["stop_s"] = round(time.perf_counter() - t0, 2)
            result["exit_code"] = self.proc.returncode
        self.proc = None
        return result


def unindexed(db_path: Path) -> int:
    con = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=30)
    try:
        return int(con.execute("SELECT count(*) FROM messages WHERE indexed_at IS NULL").fetchone()[0])
    finally:
        con.close()


def wait_indexed(db_path: Path, cap: float = 900) -> dict[str, Any]:
    """Wait until every message is in the search index; return how long that took."""
    t0 = time.perf_counter()
    first = left = unindexed(db_path)
    while left and time.perf_counter() - t0 < cap:
        time.sleep(0.2)
        left = unindexed(db_path)
    return {"unindexed_at_start": first, "seconds": round(time.perf_counter() - t0, 2), "left": left}


# ----------------------------------------------------------------- SQL statements per request (in-process)
def count_queries(home: Path, token: str, ticket_ids: list[int], gets: int = 3) -> dict[str, Any]:
    """Count the SQL statements of list / get / search requests, in-process against ``home``'s database.

    The app is built the way `ombud serve` builds it, with an in-memory job queue (reads enqueue nothing,
    and the server's queue file is left alone) and no worker.
    """
    from fastapi.testclient import TestClient
    from sqlalchemy import event

    from ombud.runtime import build_runtime
    from ombud.settings import Settings
    from ombud.web.app import create_app

    runtime = build_runtime(Settings(home=home, log_level="warning"), queue_url="memory://")
    statements: list[str] = []

    def on_execute(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(" ".join(statement.split())[:160])

    event.listen(runtime.database.engine, "before_cursor_execute", on_execute)
    rng = random.Random(7)
    cases = {
        "list": ["/api/v1/tickets?limit=25"],
        "get": [f"/api/v1/tickets/{rng.choice(ticket_ids)}" for _ in range(gets)],
        "search": [f"/api/v1/tickets?q={SEARCH_WORD}&limit=25"],
    }
    out: dict[str, Any] = {}
    try:
        client = TestClient(create_app(runtime), headers={"Authorization": f"Bearer {token}"})
        for name, urls in cases.items():
            counts, statuses, sample = [], [], []
            for url in urls:
                client.get(url)  # warm-up: first-use caches are not what we count
                statements.clear()
                response = client.get(url)
                statuses.append(response.status_code)
                counts.append(len(statements))
                sample = list(statements)
            out[name] = {"statements": counts, "status": statuses, "sql": sample}
    finally:
        event.remove(runtime.database.engine, "before_cursor_execute", on_execute)
        runtime.close()
    return out


# ----------------------------------------------------------------- the ombud workload
def ombud_ticket(p: dict[str, Any]) -> dict[str, Any]:
    return {
        "customer": {"email": p["submitter_email"]},
        "channel": "web",
        "subject": p["title"],
        "body": p["description"],
        "priority": PRIORITY[p["priority"]],
    }


async def ombud_workload(
    args: argparse.Namespace, server: OmbudServer, token: str
) -> tuple[dict[str, Any], list[int]]:
    if urlparse(server.base).hostname not in LOOPBACK:
        sys.exit(f"refusing non-loopback target {server.base!r}")
    res: dict[str, Any] = {}
    n, big, conc = args.n, args.big, args.concurrency
    ids: list[int] = []

    def keep_id(response: httpx.Response) -> None:
        ids.append(int(response.json()["id"]))

    limits = httpx.Limits(max_connections=conc, max_keepalive_connections=conc)
    api = httpx.AsyncClient(
        base_url=server.base, headers={"Authorization": f"Bearer {token}"}, timeout=120, limits=limits
    )

    def create_req(offset: int) -> Callable[[int], Request]:
        def mk(i: int) -> Request:
            return ("POST", "/api/v1/tickets", {"json": ombud_ticket(ticket_payload(offset + i))})

        return mk

    def report(key: str) -> None:
        print(f"    {key}: {short(res[key])}", flush=True)

    async def reads(tag: str, n_tickets: int) -> None:
        res[f"index_wait@{tag}"] = wait_indexed(server.db_path)
        print(f"    search index caught up @{tag}: {res[f'index_wait@{tag}']}", flush=True)
        known = sorted(ids)[:n_tickets]
        rng = random.Random(42)
        cases: dict[str, Callable[[int], Request]] = {
            "list": lambda i: ("GET", "/api/v1/tickets", {"params": {"limit": 25}}),
            "get": lambda i: ("GET", f"/api/v1/tickets/{known[rng.randint(1, len(known)) - 1]}", {}),
            "search": lambda i: ("GET", "/api/v1/tickets", {"params": {"q": SEARCH_WORD, "limit": 25}}),
        }
        page = (await api.get("/api/v1/tickets", params={"q": SEARCH_WORD, "limit": 200})).json()
        res[f"search_page1_matches@{tag}"] = len(page["items"])
        for name, mk in cases.items():
            for c in (1, conc):
                key = f"{name}_c{c}@{tag}"
                res[key] = await run_load(api, mk, args.reads, c, args.read_cap)
                report(key)

    async def followups(tag: str, n_tickets: int, seed: int) -> None:
        known = sorted(ids)[:n_tickets]
        rng = random.Random(seed)
        for c in (1, conc):

            def mk(i: int, c: int = c) -> Request:
                p = followup_payload(i + c * 100000, rng.randint(1, len(known)))
                return (
                    "POST",
                    f"/api/v1/tickets/{known[p['ticket'] - 1]}/messages",
                    {"json": {"body": p["comment"]}},
                )

            key = f"followup_c{c}@{tag}"
            res[key] = await run_load(api, mk, args.followups, c, args.create_cap)
            report(key)

    try:
        # warm-up (imports, first-use caches); not recorded
        await run_load(api, lambda i: ("GET", "/api/v1/tickets", {"params": {"limit": 25}}), 20, 2, 30)

        # 1. create, 1 client
        res["create_c1"] = await run_load(api, create_req(0), n, 1, args.create_cap, on_ok=keep_id)
        report("create_c1")
        # 2./3. reads and follow-ups with N tickets
        await reads(f"{n}", n)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res[f"queries@{n}"] = count_queries(server.home, token, sorted(ids)[:n])
        print(f"    SQL statements per request @{n}: {queries_line(res[f'queries@{n}'])}", flush=True)
        await followups(f"{n}", n, 1)
        # 4. create, C clients
        res[f"create_c{conc}"] = await run_load(api, create_req(n), n, conc, args.create_cap, on_ok=keep_id)
        report(f"create_c{conc}")
        # 5. bulk load to BIG through the HTTP API, C clients
        if big > len(ids):
            have = len(ids)
            t0 = time.perf_counter()
            bulk = await run_load(
                api, create_req(100_000 + have), big - have, conc, args.bulk_cap, on_ok=keep_id
            )
            bulk["seconds"] = round(time.perf_counter() - t0, 2)
            bulk["tickets_now"] = len(ids)
            res["bulk_load"] = bulk
            print(
                f"    bulk load over HTTP ({conc} clients): {bulk['requests_ok']} tickets in "
                f"{bulk['seconds']}s ({bulk['per_s']}/s, {bulk['errors']} errors); {len(ids)} tickets now"
                + (" [time-capped]" if bulk["capped_by_time"] else ""),
                flush=True,
            )
            # 6. reads and follow-ups with BIG tickets
            await reads(f"{big}", big)
            await followups(f"{big}", big, 2)
        res["ticket_ids_known"] = len(ids)
    finally:
        await api.aclose()
    return res, ids


def queries_line(q: dict[str, Any]) -> str:
    return ", ".join(f"{name} {v['statements']} (HTTP {sorted(set(v['status']))})" for name, v in q.items())


def run_ombud(args: argparse.Namespace) -> dict[str, Any]:
    home = Path(tempfile.mkdtemp(prefix="ombud-bench-"))
    server = OmbudServer(home, free_port())
    try:
        token = server.setup()
        print(f"  ombud: fresh OMBUD_HOME {home}, `ombud serve` on {server.base}", flush=True)
        server.start()
        print(f"  ombud serve pid {server.proc.pid if server.proc else '?'}", flush=True)
        t0 = time.perf_counter()
        res, ids = asyncio.run(ombud_workload(args, server, token))
        res["run_wall_s"] = round(time.perf_counter() - t0, 1)
        res["server_memory_kib"] = server.memory()
        res["server_stop"] = server.stop()
        big = args.big
        if f"queries@{big}" not in res and f"index_wait@{big}" in res:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                res[f"queries@{big}"] = count_queries(home, token, ids)
            print(f"    SQL statements per request @{big}: {queries_line(res[f'queries@{big}'])}", flush=True)
        mem = res["server_memory_kib"]
        print(
            f"  ombud server RSS at the end: {mem.get('VmRSS', 0) / 1024:.1f} MiB "
            f"(peak {mem.get('VmHWM', 0) / 1024:.1f} MiB); stopped by {res['server_stop'].get('stopped_by')}",
            flush=True,
        )
        return res
    finally:
        server.stop()
        if args.keep_home:
            print(f"  kept {home}", flush=True)
        else:
            shutil.rmtree(home, ignore_errors=True)


# ----------------------------------------------------------------- the peer
def run_peer(args: argparse.Namespace) -> dict[str, Any]:
    """Run the peer's own bench_peer.py (--runs 1, same sizes) and return its median block."""
    script = PEER_SHARED / "bench_peer.py"
    with tempfile.NamedTemporaryFile(prefix="peer-results-", suffix=".json", delete=False) as f:
        out_path = Path(f.name)
    cmd = [
        str(PEER_PY),
        str(script),
        "--base",
        f"http://127.0.0.1:{free_port()}",
        "--runs",
        "1",
        "--n-create",
        str(args.n),
        "--n-big",
        str(args.big),
        "--n-reads",
        str(args.reads),
        "--n-followups",
        str(args.followups),
        "--concurrency",
        str(args.concurrency),
        "--create-cap",
        str(args.create_cap),
        "--read-cap",
        str(args.read_cap),
        "--out",
        str(out_path),
    ]
    print(f"  peer: {' '.join(cmd)}", flush=True)
    t0 = time.perf_counter()
    # Its own session, so a timeout stops the peer script and the gunicorn it started, and nothing else.
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
    )
    assert proc.stdout is not None

    def too_long() -> None:
        print(f"  peer: still running after {args.peer_timeout}s, stopping it (pid {proc.pid})", flush=True)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)

    watchdog = threading.Timer(args.peer_timeout, too_long)
    watchdog.start()
    try:
        for line in proc.stdout:
            print(f"  peer| {line.rstrip()}", flush=True)
        proc.wait()
    finally:
        watchdog.cancel()
    if proc.returncode != 0:
        return {"error": f"bench_peer.py exited with {proc.returncode}"}
    data = json.loads(out_path.read_text())
    out_path.unlink()
    run = data["runs"][0]
    return {
        "median": data["median"],
        "bulk_load": run.get("bulk_load"),
        "cpu_check_before": run.get("cpu_check_before"),
        "run_wall_s": run.get("run_wall_s"),
        "wall_s": round(time.perf_counter() - t0, 1),
    }


# ----------------------------------------------------------------- report
def median_cases(results: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per-case medians across runs (load-loop results only)."""
    med: dict[str, dict[str, Any]] = {}
    keys = [k for k, v in results[0].items() if isinstance(v, dict) and "per_s" in v]
    for key in keys:
        vals = [r[key] for r in results if key in r]
        med[key] = {m: round(statistics.median(v[m] for v in vals), 2) for m in METRICS}
        med[key]["per_s_range"] = [min(v["per_s"] for v in vals), max(v["per_s"] for v in vals)]
        med[key]["any_time_capped"] = any(v.get("capped_by_time", v.get("any_time_capped")) for v in vals)
    return med


def comparison_rows(args: argparse.Namespace) -> list[tuple[str, str]]:
    """(ombud case, peer case) in the order of the workload."""
    c = args.concurrency
    rows = [("create_c1", "create_c1"), (f"create_c{c}", f"create_c{c}")]
    for tag in (args.n, args.big):
        for conc in (1, c):
            rows += [
                (f"list_c{conc}@{tag}", f"api_list_c{conc}@{tag}"),
                (f"get_c{conc}@{tag}", f"api_get_c{conc}@{tag}"),
                (f"search_c{conc}@{tag}", f"ui_search_c{conc}@{tag}"),
            ]
        for conc in (1, c):
            rows.append((f"followup_c{conc}@{tag}", f"followup_c{conc}@{tag}"))
        for conc in (1, c):
            rows.append((f"list_c{conc}@{tag}", f"ui_list_c{conc}@{tag}"))
    return rows


def ratio(a: float | None, b: float | None) -> str:
    if not a or not b or math.isnan(a) or math.isnan(b):
        return "-"
    r = a / b
    return f"{r:.0f}x" if r >= 100 else f"{r:.1f}x" if r >= 10 else f"{r:.2f}x"


def print_table(
    args: argparse.Namespace, ombud: dict[str, Any], peer: dict[str, Any] | None
) -> list[dict[str, Any]]:
    head = (
        f"{'ombud case':18s} {'peer case':18s} | {'ombud/s':>8s} {'peer/s':>7s} {'o/p':>6s} | "
        f"{'p50 ms':>7s} {'peer':>8s} {'p/o':>6s} | {'p99 ms':>7s} {'peer':>8s} {'p/o':>6s} | notes"
    )
    print(head)
    print("-" * len(head))
    table = []
    for okey, pkey in comparison_rows(args):
        o = ombud.get(okey)
        p = (peer or {}).get(pkey)
        if o is None or (p is None and pkey.startswith("ui_list")):
            continue
        notes = []
        if o["any_time_capped"]:
            notes.append("ombud capped")
        if o["errors"]:
            notes.append(f"ombud {int(o['errors'])} err")
        if p and p["any_time_capped"]:
            notes.append(f"peer capped at {int(p['requests_ok'])} req")
        if p and p["errors"]:
            notes.append(f"peer {int(p['errors'])} err")
        pv = p or {}
        row = {
            "ombud_case": okey,
            "peer_case": pkey,
            "ombud": o,
            "peer": p,
            "throughput_ratio": ratio(o["per_s"], pv.get("per_s")),
            "p50_ratio": ratio(pv.get("p50_ms"), o["p50_ms"]),
            "p99_ratio": ratio(pv.get("p99_ms"), o["p99_ms"]),
            "notes": notes,
        }
        table.append(row)

        def num(v: Any, width: int) -> str:
            if not isinstance(v, int | float):
                return f"{'-':>{width}s}"
            return f"{v:{width}.1f}" if v >= 10 else f"{v:{width}.2f}"

        print(
            f"{okey:18s} {pkey if p else '-':18s} | {o['per_s']:8.1f} {num(pv.get('per_s'), 7)} "
            f"{row['throughput_ratio']:>6s} | {o['p50_ms']:7.2f} {num(pv.get('p50_ms'), 8)} "
            f"{row['p50_ratio']:>6s} | {o['p99_ms']:7.2f} {num(pv.get('p99_ms'), 8)} "
            f"{row['p99_ratio']:>6s} | " + "; ".join(notes)
        )
    print("o/p = ombud/peer throughput; p/o = peer/ombud latency (higher is better for ombud in both)")
    if peer:
        print("goal (from the issue): create >= 10x, list and get >= 100x; judged on req/s and on p50 here")
        for row in table:
            target = GOALS.get(row["peer_case"].split("_c")[0])
            p = row["peer"]
            if target is None or p is None:
                continue
            o = row["ombud"]
            thr = o["per_s"] / p["per_s"] if p["per_s"] else float("nan")
            lat = p["p50_ms"] / o["p50_ms"] if o["p50_ms"] else float("nan")
            verdict = "met" if min(thr, lat) >= target else "NOT met"
            print(
                f"  {row['ombud_case']:18s} target {target:>3d}x: "
                f"req/s {thr:7.1f}x, p50 {lat:7.1f}x -> {verdict}"
            )
    return table


# ----------------------------------------------------------------- main
def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=None, help="tickets created per create phase (2,000)")
    ap.add_argument("--big", type=int, default=None, help="tickets for the second set of reads (20,000)")
    ap.add_argument("--runs", type=int, default=1, help="full runs (medians reported when > 1)")
    ap.add_argument("--reads", type=int, default=None, help="max requests per read case (300)")
    ap.add_argument("--followups", type=int, default=None, help="messages per (size, concurrency) (500)")
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--create-cap", type=float, default=300, help="wall-clock cap (s) per write phase")
    ap.add_argument("--read-cap", type=float, default=45, help="wall-clock cap (s) per read case")
    ap.add_argument("--bulk-cap", type=float, default=1800, help="wall-clock cap (s) of the bulk load")
    ap.add_argument("--peer-timeout", type=float, default=3 * 3600, help="stop the peer script after (s)")
    ap.add_argument("--no-peer", action="store_true", help="do not run the peer")
    ap.add_argument("--quick", action="store_true", help="smoke run: n=200, big=1000, reads=50, followups=50")
    ap.add_argument("--keep-home", action="store_true", help="keep the temporary OMBUD_HOME")
    ap.add_argument("--out", default=str(Path(tempfile.gettempdir()) / "ombud-bench-results.json"))
    args = ap.parse_args()
    small = {"n": 200, "big": 1000, "reads": 50, "followups": 50}
    full = {"n": 2000, "big": 20000, "reads": 300, "followups": 500}
    for name, value in (small if args.quick else full).items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    if args.big < 2 * args.n:
        sys.exit("--big must be at least 2 * --n (two create phases of N tickets come first)")
    return args


def main() -> None:
    args = parse_args()
    with_peer = not args.no_peer and PEER_PY.exists()
    if not args.no_peer and not with_peer:
        print(f"peer not installed ({PEER_PY} missing; bash {PEER_SHARED}/install.sh): ombud only")
    machine = machine_info()
    print(f"machine: {machine}", flush=True)
    runs: list[dict[str, Any]] = []
    for run in range(args.runs):
        entry: dict[str, Any] = {}
        print(
            f"run {run + 1}/{args.runs}: N={args.n} BIG={args.big} reads={args.reads} "
            f"followups={args.followups} C={args.concurrency}",
            flush=True,
        )
        entry["cpu_check_before_ombud"] = cpu_check()
        print(f"  cpu check before ombud: {entry['cpu_check_before_ombud']}", flush=True)
        entry["ombud_code"] = git_state()  # the server of this run runs the code as it is now
        entry["ombud"] = run_ombud(args)
        if with_peer:
            entry["cpu_check_before_peer"] = cpu_check()
            print(f"  cpu check before peer: {entry['cpu_check_before_peer']}", flush=True)
            entry["peer"] = run_peer(args)
        runs.append(entry)
        Path(args.out).write_text(
            json.dumps({"args": vars(args), "machine": machine, "runs": runs}, indent=1)
        )

    ombud_med = median_cases([r["ombud"] for r in runs])
    peer_runs = [r["peer"]["median"] for r in runs if "median" in r.get("peer", {})]
    peer_med = median_cases(peer_runs) if peer_runs else None
    commits = sorted({str(r["ombud_code"].get("git_commit")) for r in runs})
    dirty = any(r["ombud_code"].get("src_uncommitted") for r in runs)
    print(
        f"\nmedian over {len(runs)} run(s); ombud at commit {', '.join(commits)}"
        f"{' + uncommitted changes in src/' if dirty else ''}"
    )
    table = print_table(args, ombud_med, peer_med)
    for i, r in enumerate(runs):
        o = r["ombud"]
        bulk = o.get("bulk_load", {})
        print(
            f"run {i + 1}: ombud wall {o.get('run_wall_s')}s, bulk load over HTTP {bulk.get('seconds')}s "
            f"({bulk.get('per_s')}/s), RSS {o['server_memory_kib']}",
            end="",
        )
        if "peer" in r:
            p = r["peer"]
            print(
                f"; peer wall {p.get('wall_s')}s, "
                f"bulk load (ORM) {(p.get('bulk_load') or {}).get('seconds')}s"
            )
        else:
            print()
        checks = {k: v["ratio"] for k, v in r.items() if k.startswith("cpu_check")}
        if "peer" in r and r["peer"].get("cpu_check_before"):
            checks["peer_script_cpu_check"] = r["peer"]["cpu_check_before"]["ratio"]
        print(f"  cpu_check ratios (1.0 = two free cores, 2.0 = one): {checks}")
        for tag in (args.n, args.big):
            if f"queries@{tag}" in o:
                print(f"  SQL statements per request @{tag}: {queries_line(o[f'queries@{tag}'])}")
    Path(args.out).write_text(
        json.dumps(
            {
                "args": vars(args),
                "machine": machine,
                "runs": runs,
                "median": {"ombud": ombud_med, "peer": peer_med},
                "table": table,
            },
            indent=1,
        )
    )
    print(f"results: {args.out}")


if __name__ == "__main__":
    main()
