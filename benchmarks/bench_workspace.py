#!/usr/bin/env python3
"""Benchmark the agent workspace pages (the inbox views and the ticket page) at 1,000,000 tickets, beside
the same pages at 10,000 tickets, on SQLite and PostgreSQL, measured in one run.

Requirement (the workspace issue): the inbox and ticket pages render in <= 50 ms server time at p50 with
1,000,000 tickets in the database, with a fixed number of SQL queries per page.

  data       generated with bulk INSERTs (sqlite3 executemany, 10,000 tickets per transaction) or
             PostgreSQL COPY, not through the service layer: customers (one per 10 tickets, a few of them
             with hundreds of tickets) with an email identity, purchases for about a third of them, 20
             agents in 3 teams, tickets spread over two years on every channel (about 2.5 % new / open /
             pending / on hold, the rest solved or closed; is_open follows the status), 1 to 3 messages
             each (the customer first, then the agent), a message_triage row for every customer message
             (the shape `ombud triage analyze` writes, intents from the built-in model's labels),
             priority_score / priority_parts as `ombud.tickets.priority.compute` writes them, ratings on
             about 15 % of resolved tickets. Texts: Banking77 and TweetEval (../shared/data), read locally.
             A generated database is kept (SQLite: --db-dir; PostgreSQL: ombud_bench_ws_<size>) and reused
             with --reuse when it is complete and has the right size.
  pages      in-process through FastAPI's TestClient, signed in as agent 1 (a member of two teams): the
             inbox views mine / unassigned / team / all / solved, page 1 and a deep page (the next cursor
             followed --deep pages in, or the last page when the view is shorter), and the ticket page of
             random open tickets (view=all) and random resolved tickets (view=solved or closed), each
             request a different ticket. Every case: a warm-up, then --requests requests, interleaved in
             rounds across all databases so that machine noise falls on all of them alike. Reported per
             case: p50 / p95 / p99 wall time of the request (ms), the SQL statements per request (a
             before_cursor_execute listener on the engine; min-max over the requests), and the p50 of the
             time spent executing SQL and of the page's _render (Jinja) call.

Usage:
  .venv/bin/python benchmarks/bench_workspace.py --reuse                      # SQLite, 10k and 1M
  .venv/bin/python benchmarks/bench_workspace.py --backends sqlite,postgresql --reuse
  .venv/bin/python benchmarks/bench_workspace.py --quick                      # 2k and 20k, 40 requests
  .venv/bin/python benchmarks/bench_workspace.py --generate-only --backends postgresql
Output: a table on stdout; everything in --out (default /tmp/ombud-bench-workspace.json).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from fastapi.testclient import TestClient
from sqlalchemy import event, func, select

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).parent))
from bench_core import cpu_check, machine_info, pct  # noqa: E402

import ombud.web.workspace as workspace_module  # noqa: E402
from ombud.accounts import sessions  # noqa: E402
from ombud.accounts.models import Role  # noqa: E402
from ombud.accounts.schemas import Principal  # noqa: E402
from ombud.pagination import encode_cursor  # noqa: E402
from ombud.runtime import Runtime, build_runtime  # noqa: E402
from ombud.settings import Settings  # noqa: E402
from ombud.storage import schema  # noqa: E402
from ombud.storage.db import Database  # noqa: E402
from ombud.tickets import inbox  # noqa: E402
from ombud.tickets.models import Priority, Ticket  # noqa: E402
from ombud.tickets.priority import compute, queue_rank  # noqa: E402
from ombud.web.app import create_app  # noqa: E402

DATA = Path("/work/shared/data")
if not DATA.exists():
    DATA = ROOT.parent / "shared" / "data"
INTENTS_FILE = ROOT / "src" / "ombud" / "triage" / "shipped" / "default-intents.json"
MODEL_FILE = ROOT / "src" / "ombud" / "triage" / "shipped" / "intent-builtin" / "model.json"
BATCH = 10_000
AGENTS = 20
TEAMS = ("Billing", "Cards", "Accounts")
BENCH_AGENT = 1  # signed in for the measurements; member of teams 1 and 2
SPAN = dt.timedelta(days=730)


def words(names: str) -> list[str]:
    return names.split()


CHANNELS = (("email", 45), ("chat", 20), ("web", 15), ("phone", 8), ("social", 7), ("api", 5))
PRIORITIES = ((Priority.low, 15), (Priority.normal, 60), (Priority.high, 20), (Priority.urgent, 5))
OPEN_STATUSES = (("new", 20), ("open", 45), ("pending", 25), ("on_hold", 10))
URGENCY = (("low", 15), ("normal", 55), ("high", 25), ("urgent", 5))
URGENCY_REASONS = {
    "low": [],
    "normal": [],
    "high": ["money_at_stake"],
    "urgent": ["money_at_stake", "deadline"],
}
EMOTIONS = (("anger", 20), ("joy", 15), ("optimism", 20), ("sadness", 45))
PRODUCTS = (
    ("Everyday account", "product", 0.0),
    ("Premium card", "product", 120.0),
    ("Metal card", "product", 250.0),
    ("Travel insurance", "service", 89.0),
    ("Savings vault", "product", 0.0),
    ("Business plan", "plan", 480.0),
    ("Plus plan", "plan", 72.0),
    ("Family plan", "plan", 144.0),
    ("Crypto wallet", "service", 30.0),
    ("Overdraft protection", "service", 45.0),
)
FIRST = words(
    "Ana Ben Chloe Dev Elif Femi Greta Hiro Ines Jonas Kofi Lena Marco Nadia Olu Priya Quinn Rosa Sami "
    "Tomas Uma Vera Wei Ximena Yusuf Zoe"
)
LAST = words(
    "Lopez Smith Okafor Tanaka Novak Garcia Müller Rossi Silva Kowalski Nguyen Haddad Berg Costa Dubois "
    "Patel Jensen Moreau Yilmaz Ivanova"
)
REPLIES = (
    "Hi {name}, thanks for getting in touch. I have looked into your account and {fix} "
    "Let me know if anything else comes up.",
    "Hello {name}, sorry for the trouble. {fix} You should see the change within one working day.",
    "Hi {name}, thank you for your patience. I checked this with our payments team: {fix}",
    "Dear {name}, I understand how frustrating this is. {fix} I will keep this ticket open until you "
    "confirm it works.",
    "Hi {name}, quick update: {fix} Could you reply with the last four digits of the card so I can "
    "finish this?",
)
FIXES = (
    "the payment was returned to your balance this morning.",
    "I have reissued your card; it ships today by tracked post.",
    "the transfer was held for a routine check and has now gone through.",
    "I have removed the duplicate charge.",
    "your identity check passed, so the account is unlocked again.",
    "the exchange rate shown was the one on the day of the transaction.",
    "I have raised a dispute with the merchant on your behalf.",
)
THANKS = ("Thanks, that worked!", "Great, thank you.", "Still not working, please check again.", "Ok.")


def weighted(rng: random.Random, table: Sequence[tuple[Any, int]]) -> Any:
    values = [v for v, _ in table]
    weights = [w for _, w in table]
    return rng.choices(values, weights)[0]


def label(n: int) -> str:
    return f"{n // 1_000_000}m" if n % 1_000_000 == 0 else f"{n // 1000}k"


# ----------------------------------------------------------------- texts
@dataclass
class Texts:
    bank: list[str]
    social: list[str]
    intents: list[str]
    implies: dict[str, list[str]]
    examples: dict[str, list[str]]


def load_texts() -> Texts:
    bank: list[str] = []
    for split in ("train", "test"):
        with (DATA / "banking77" / f"{split}.csv").open(encoding="utf-8") as handle:
            bank.extend(row["text"].strip() for row in csv.DictReader(handle))
    social = [
        line.strip()
        for name in ("tweeteval-emotion", "tweeteval-sentiment")
        for part in ("train_text.txt", "val_text.txt")
        if (DATA / name / part).exists()
        for line in (DATA / name / part).read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    labels = list(json.loads(MODEL_FILE.read_text(encoding="utf-8"))["labels"])
    shipped = json.loads(INTENTS_FILE.read_text(encoding="utf-8"))["intents"]
    implies = {k: list(v.get("implies", [])) for k, v in shipped.items()}
    examples = {k: list(v.get("examples", [])) for k, v in shipped.items()}
    return Texts(bank=bank, social=social, intents=labels, implies=implies, examples=examples)


def triage_result(rng: random.Random, texts: Texts, body: str, intent: str) -> dict[str, Any]:
    """One stored triage result, in the shape `ombud triage analyze` prints (values random, plausible)."""
    urgency = weighted(rng, URGENCY)
    emotion = weighted(rng, EMOTIONS)
    scores = {name: round(rng.random() * 0.3, 3) for name, _ in EMOTIONS}
    scores[emotion] = round(0.35 + rng.random() * 0.6, 3)
    frustration = 0.0 if rng.random() < 0.7 else round(0.1 + 0.9 * rng.random(), 3)
    concerns = [
        {
            "text": body[:300],
            "start": 0,
            "intents": [{"label": intent, "confidence": round(0.4 + 0.6 * rng.random(), 3)}],
        }
    ]
    entities: list[dict[str, Any]] = []
    if rng.random() < 0.2:
        entities.append(
            {"type": "order_number", "value": str(rng.randint(10000, 99999)), "start": 0, "end": 5}
        )
    return {
        "concerns": concerns,
        "out_of_scope": False,
        "emotion": {"label": emotion, "scores": scores},
        "sentiment": round(rng.uniform(-0.9, 0.6), 3),
        "frustration": frustration,
        "urgency": {"level": urgency, "reasons": URGENCY_REASONS[urgency]},
        "entities": entities,
        "language": "en",
        "abusive": rng.random() < 0.01,
        "unspoken": [
            {"concern": c, "reason": f"usually comes with {intent}", "source": "intent"}
            for c in texts.implies.get(intent, [])[:2]
        ],
        "explanations": {
            "language": {"confidence": round(0.9 + 0.1 * rng.random(), 3)},
            "concerns": [
                {"cue_words": body.lower().split()[:5], "examples": texts.examples.get(intent, [])[:3]}
            ],
            "intent_model": "builtin",
            "emotion": {"cue_words": body.lower().split()[-5:]},
            "sentiment": {"cue_words": body.lower().split()[1:6]},
            "abuse": {
                "offensive_probability": round(rng.random() * 0.3, 3),
                "aimed_at_agent": False,
                "cues": [],
                "cue_words": [],
            },
            "frustration": [],
            "urgency": {"score": round(rng.random(), 2), "evidence": []},
        },
    }


# ----------------------------------------------------------------- writers (SQLite executemany, PG COPY)
class Writer:
    """Bulk rows into one database: ``rows(table, columns, values)`` per batch, ``commit()`` after it."""

    sqlite: bool

    def ts(self, value: dt.datetime | None) -> Any:
        raise NotImplementedError

    def rows(self, table: str, columns: Sequence[str], values: list[tuple[Any, ...]]) -> None:
        raise NotImplementedError

    def commit(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


class SqliteWriter(Writer):
    sqlite = True

    def __init__(self, path: Path) -> None:
        self.conn = sqlite3.connect(path, isolation_level=None)
        for pragma in ("synchronous=OFF", "cache_size=-2000000", "temp_store=MEMORY", "foreign_keys=OFF"):
            self.conn.execute(f"PRAGMA {pragma}")
        self.conn.execute("BEGIN")

    def ts(self, value: dt.datetime | None) -> Any:
        # SQLAlchemy's SQLite DateTime storage format (naive UTC, always with microseconds).
        return None if value is None else f"{value:%Y-%m-%d %H:%M:%S.%f}"

    def rows(self, table: str, columns: Sequence[str], values: list[tuple[Any, ...]]) -> None:
        marks = ", ".join("?" for _ in columns)
        self.conn.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", values)

    def commit(self) -> None:
        self.conn.execute("COMMIT")
        self.conn.execute("BEGIN")

    def close(self) -> None:
        self.conn.execute("COMMIT")
        self.conn.close()


class PgWriter(Writer):
    sqlite = False

    def __init__(self, url: str) -> None:
        self.conn = psycopg.connect(url)

    def ts(self, value: dt.datetime | None) -> Any:
        return None if value is None else value.replace(tzinfo=dt.UTC)

    def rows(self, table: str, columns: Sequence[str], values: list[tuple[Any, ...]]) -> None:
        with (
            self.conn.cursor() as cursor,
            cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as cp,
        ):
            for row in values:
                cp.write_row(row)

    def commit(self) -> None:
        self.conn.commit()

    def close(self) -> None:
        self.conn.commit()
        self.conn.close()


# ----------------------------------------------------------------- generation
TICKET_COLS = words(
    "id subject status priority channel customer_id assignee_id team_id created_at updated_at "
    "first_response_at resolved_at is_open priority_score priority_parts queue_rank"
)
MESSAGE_COLS = words(
    "id ticket_id customer_id author_type author_user_id channel internal body_text channel_meta created_at "
    "indexed_at triaged_at delivery_state"
)
TRIAGE_COLS = words(
    "message_id ticket_id customer_id result intents language urgency frustration sentiment abusive "
    "out_of_scope intent_model message_at created_at"
)


def generate(writer: Writer, n_tickets: int, seed: int = 1) -> dict[str, Any]:
    """Fill an empty (migrated) database with ``n_tickets`` tickets and everything around them."""
    rng = random.Random(seed)
    texts = load_texts()
    started = time.perf_counter()
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    origin = now - SPAN
    ts, dumps = writer.ts, json.dumps
    counts: dict[str, int] = {}

    # staff: 20 agents in 3 teams; agent 1 (the measured one) and agent 2 are in two teams
    users = [
        (
            i,
            f"agent{i}@ombud.example",
            f"{FIRST[i % len(FIRST)]} Agent{i}",
            Role.agent.value,
            True,
            ts(origin),
        )
        for i in range(1, AGENTS + 1)
    ]
    writer.rows("users", words("id email name role active created_at"), users)
    writer.rows("teams", words("id name created_at"), [(i + 1, t, ts(origin)) for i, t in enumerate(TEAMS)])
    team_of = {i: (i - 1) % len(TEAMS) + 1 for i in range(1, AGENTS + 1)}
    members = [(team_of[i], i) for i in range(1, AGENTS + 1)] + [(2, 1), (3, 2)]
    writer.rows("team_members", ("team_id", "user_id"), members)

    # customers, one email identity each, purchases for about a third
    n_customers = max(100, n_tickets // 10)
    customers, identities, purchases = [], [], []
    value: dict[int, float] = {}
    names: dict[int, str] = {}
    purchase_id = 0
    for cid in range(1, n_customers + 1):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        names[cid] = first
        created = origin - dt.timedelta(days=rng.randint(0, 1500))
        customers.append((cid, f"{first} {last}", "{}", "", ts(created), ts(created)))
        identities.append(
            (cid, cid, "email", f"{first.lower()}.{last.lower()}{cid}@mail.example", ts(created))
        )
        if rng.random() < 0.33:
            total = 0.0
            for k in range(rng.choice((1, 1, 2, 3))):
                product, kind, price = rng.choice(PRODUCTS)
                purchase_id += 1
                amount = round(price * rng.uniform(0.8, 1.5), 2)
                total += amount
                bought = origin + SPAN * rng.random()
                purchases.append(
                    (purchase_id, cid, product, kind, f"ORD-{cid}-{k}", amount, "EUR", ts(bought), ts(bought))
                )
            value[cid] = total
    writer.rows("customers", words("id name preferences notes created_at updated_at"), customers)
    writer.rows("identities", words("id customer_id kind value created_at"), identities)
    writer.rows(
        "purchases",
        words("id customer_id product kind order_number amount currency purchased_at created_at"),
        purchases,
    )
    writer.commit()
    counts.update(customers=n_customers, identities=n_customers, purchases=len(purchases), users=AGENTS)

    message_id = rating_id = 0
    step = SPAN / n_tickets
    n_messages = n_triage = 0
    for start in range(1, n_tickets + 1, BATCH):
        tickets, messages, triages, ratings = [], [], [], []
        for tid in range(start, min(start + BATCH, n_tickets + 1)):
            frac = tid / n_tickets
            created = origin + step * (tid - 1) + step * rng.random()
            # recent tickets are the open ones: ~40 % of the last 5 % of the span, 0.5 % before it
            is_open = rng.random() < (0.4 if frac > 0.95 else 0.005)
            age = now - created
            if is_open:
                status = weighted(rng, OPEN_STATUSES)
            elif age < dt.timedelta(days=30):
                status = "solved"
            else:
                status = "closed" if rng.random() < 0.9 else "solved"
            cid = int(n_customers * rng.random() ** 2) + 1  # a few customers with many tickets
            channel = weighted(rng, CHANNELS)
            priority = weighted(rng, PRIORITIES)
            assignee: int | None = rng.randint(1, AGENTS)
            if (status == "new" and rng.random() < 0.7) or (is_open and rng.random() < 0.1):
                assignee = None
            team = (
                team_of[assignee]
                if assignee
                else (rng.randint(1, len(TEAMS)) if rng.random() < 0.8 else None)
            )
            if status == "new":
                pattern = "c" if rng.random() < 0.8 else "cc"
            elif status == "open":
                pattern = "cac" if rng.random() < 0.6 else "c"
            elif status == "pending":
                pattern = "ca"
            elif status == "on_hold":
                pattern = "ca" if rng.random() < 0.6 else "cac"
            else:
                r = rng.random()
                pattern = "ca" if r < 0.55 else ("cac" if r < 0.9 else "c")
            if assignee is None:
                pattern = pattern.replace("a", "c")
            pool = texts.social if channel == "social" and texts.social else texts.bank
            subject_text = rng.choice(texts.bank)
            intent = texts.intents[hash(subject_text) % len(texts.intents)]
            at = created
            first_response = None
            last_customer: tuple[int, dict[str, Any]] | None = None
            for k, who in enumerate(pattern):
                message_id += 1
                if k:
                    at = at + dt.timedelta(minutes=rng.uniform(5, 600))
                if who == "c":
                    if k == 0:
                        body = subject_text
                    elif status in ("solved", "closed"):
                        body = rng.choice(THANKS)
                    else:
                        body = rng.choice(pool)
                    result = triage_result(rng, texts, body, intent)
                    last_customer = (message_id, result)
                    stamp = ts(at)
                    messages.append(
                        (message_id, tid, cid, "customer", None, channel, False, body, "{}", stamp, stamp,
                         stamp, None)
                    )  # fmt: skip
                    triages.append(
                        (message_id, tid, cid, dumps(result), dumps([intent]), "en",
                         result["urgency"]["level"], result["frustration"], result["sentiment"],
                         result["abusive"], False, "builtin", stamp, stamp)
                    )  # fmt: skip
                else:
                    first_response = first_response or at
                    body = rng.choice(REPLIES).format(name=names[cid], fix=rng.choice(FIXES))
                    stamp = ts(at)
                    messages.append(
                        (message_id, tid, cid, "agent", assignee, channel, False, body, "{}", stamp, stamp,
                         stamp, "sent" if channel != "phone" else "none")
                    )  # fmt: skip
            resolved = at + dt.timedelta(hours=rng.uniform(0.5, 48)) if not is_open else None
            updated = resolved or at
            assert last_customer is not None
            triaged = last_customer[1]
            score, parts = compute(
                {
                    "message_id": last_customer[0],
                    "urgency": triaged["urgency"]["level"],
                    "frustration": triaged["frustration"],
                    "emotion": triaged["emotion"]["label"],
                    "abusive": triaged["abusive"],
                    "intents": [intent],
                    "concerns": 1,
                    "value": round(value.get(cid, 0.0), 2),
                },
                priority,
            )
            tickets.append(
                (tid, subject_text[:200], status, priority.value, channel, cid, assignee, team, ts(created),
                 ts(updated), ts(first_response), ts(resolved), is_open, score, dumps(parts),
                 queue_rank(score, created.replace(tzinfo=dt.UTC)))
            )  # fmt: skip
            if resolved is not None and first_response is not None and rng.random() < 0.15:
                rating_id += 1
                stars = weighted(rng, ((1, 5), (2, 5), (3, 10), (4, 30), (5, 50)))
                comment = "" if rng.random() < 0.8 else rng.choice(THANKS)
                ratings.append((rating_id, tid, cid, stars, comment, ts(resolved)))
        writer.rows("tickets", TICKET_COLS, tickets)
        writer.rows("messages", MESSAGE_COLS, messages)
        writer.rows("message_triage", TRIAGE_COLS, triages)
        writer.rows("ticket_ratings", words("id ticket_id customer_id score comment created_at"), ratings)
        writer.commit()
        n_messages += len(messages)
        n_triage += len(triages)
        if start % 100_000 == 1 and start > 1:
            print(f"    {start - 1:>9,} tickets  {time.perf_counter() - started:6.0f} s", flush=True)
    counts.update(tickets=n_tickets, messages=n_messages, message_triage=n_triage, ticket_ratings=rating_id)
    loaded = time.perf_counter() - started
    return {"counts": counts, "load_seconds": round(loaded, 1)}


# ----------------------------------------------------------------- databases
META = "bench_meta"


@dataclass
class Target:
    backend: str
    n: int
    url: str
    generation: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return f"{self.backend} {label(self.n)}"


def sqlite_target(n: int, db_dir: Path) -> Target:
    return Target("sqlite", n, f"sqlite:///{db_dir / f'ombud-bench-ws-{label(n)}.db'}")


def pg_target(n: int, base: str, prefix: str) -> Target:
    return Target("postgresql", n, base.rstrip("/") + f"/{prefix}_{label(n)}")


def pg_admin(url: str) -> psycopg.Connection[Any]:
    return psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True)


def pg_dbname(url: str) -> str:
    return url.rsplit("/", 1)[1]


def read_meta(target: Target) -> dict[str, Any] | None:
    """The generation record of a complete generated database, or None (missing or incomplete)."""
    try:
        if target.backend == "sqlite":
            path = Path(target.url.removeprefix("sqlite:///"))
            if not path.exists():
                return None
            with sqlite3.connect(path) as conn:
                row = conn.execute(f"SELECT value FROM {META} WHERE key = 'generation'").fetchone()
        else:
            with psycopg.connect(target.url) as pg:
                row = pg.execute(f"SELECT value FROM {META} WHERE key = 'generation'").fetchone()
    except (sqlite3.Error, psycopg.Error):
        return None
    return json.loads(row[0]) if row else None


def drop(target: Target) -> None:
    if target.backend == "sqlite":
        path = Path(target.url.removeprefix("sqlite:///"))
        for suffix in ("", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
    else:
        with pg_admin(target.url) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{pg_dbname(target.url)}" WITH (FORCE)')


def prepare(target: Target, *, reuse: bool) -> None:
    """Reuse the generated database when asked and complete with the right size; else generate it."""
    meta = read_meta(target) if reuse else None
    if meta is not None and meta["counts"]["tickets"] == target.n:
        target.generation = {**meta, "reused": True}
        print(f"  {target.name}: reusing ({meta['total_seconds']} s to generate)", flush=True)
        return
    print(f"  {target.name}: generating {target.n:,} tickets", flush=True)
    drop(target)
    started = time.perf_counter()
    if target.backend == "postgresql":
        with pg_admin(target.url) as admin:
            admin.execute(f'CREATE DATABASE "{pg_dbname(target.url)}"')
    database = Database(target.url)
    schema.upgrade(database)
    database.dispose()
    migrated = time.perf_counter() - started
    writer: Writer = (
        SqliteWriter(Path(target.url.removeprefix("sqlite:///")))
        if target.backend == "sqlite"
        else PgWriter(target.url)
    )
    result = generate(writer, target.n)
    writer.close()
    finished = time.perf_counter()
    if target.backend == "postgresql":
        with psycopg.connect(target.url, autocommit=True) as pg:
            for table in ("users", "teams", "customers", "identities", "purchases", "tickets", "messages",
                          "ticket_ratings"):  # fmt: skip
                pg.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT coalesce(max(id), 1) FROM {table}))"
                )
            pg.execute("VACUUM ANALYZE")  # what autovacuum does after a load; also sets the visibility map
    else:
        with sqlite3.connect(Path(target.url.removeprefix("sqlite:///"))) as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    after = time.perf_counter() - finished
    record = {
        **result,
        "migrate_seconds": round(migrated, 1),
        "after_load_seconds": round(after, 1),
        "total_seconds": round(time.perf_counter() - started, 1),
        "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "size_mb": size_mb(target),
    }
    meta_sql = (
        f"CREATE TABLE {META} (key VARCHAR(40) PRIMARY KEY, value TEXT)",
        f"INSERT INTO {META} VALUES ('generation', %s)",
    )
    if target.backend == "sqlite":
        with sqlite3.connect(Path(target.url.removeprefix("sqlite:///"))) as conn:
            conn.execute(meta_sql[0])
            conn.execute(meta_sql[1].replace("%s", "?"), (json.dumps(record),))
    else:
        with psycopg.connect(target.url, autocommit=True) as pg:
            pg.execute(meta_sql[0])
            pg.execute(meta_sql[1], (json.dumps(record),))
    target.generation = {**record, "reused": False}
    print(
        f"  {target.name}: generated in {record['total_seconds']} s (load {result['load_seconds']} s, "
        f"after-load {record['after_load_seconds']} s), {record['size_mb']} MB, {result['counts']}",
        flush=True,
    )


def size_mb(target: Target) -> float:
    if target.backend == "sqlite":
        path = Path(target.url.removeprefix("sqlite:///"))
        return round(sum(p.stat().st_size for p in path.parent.glob(path.name + "*")) / 1e6, 1)
    with psycopg.connect(target.url) as pg:
        row = pg.execute("SELECT pg_database_size(current_database())").fetchone()
    return round(row[0] / 1e6, 1) if row else 0.0


# ----------------------------------------------------------------- measuring
@dataclass
class Probe:
    """Counts and times SQL statements and the page's render call of one request at a time."""

    statements: int = 0
    sql_seconds: float = 0.0
    render_seconds: float = 0.0
    starts: list[float] = field(default_factory=list)

    def reset(self) -> None:
        self.statements, self.sql_seconds, self.render_seconds = 0, 0.0, 0.0

    def before(self, *_args: Any) -> None:
        self.statements += 1
        self.starts.append(time.perf_counter())

    def after(self, *_args: Any) -> None:
        if self.starts:
            self.sql_seconds += time.perf_counter() - self.starts.pop()


PROBE = Probe()
_original_render = workspace_module._render


def _timed_render(name: str, status: int = 200, **context: Any) -> Any:
    started = time.perf_counter()
    try:
        return _original_render(name, status, **context)
    finally:
        PROBE.render_seconds += time.perf_counter() - started


@dataclass
class Site:
    target: Target
    runtime: Runtime
    client: TestClient
    cases: dict[str, list[str]] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)


@contextmanager
def open_site(target: Target, home: Path) -> Iterator[Site]:
    runtime = build_runtime(Settings(home=home, database_url=target.url, smtp_port=0), queue_url="memory://")
    event.listen(runtime.database.engine, "before_cursor_execute", PROBE.before)
    event.listen(runtime.database.engine, "after_cursor_execute", PROBE.after)
    with runtime.database.session() as session:
        signed_in = sessions.start_session(session=session, user_id=BENCH_AGENT)
        session.commit()
    with TestClient(create_app(runtime)) as client:
        client.cookies.set("ombud_session", signed_in.token)
        try:
            yield Site(target, runtime, client)
        finally:
            runtime.close()


def deep_cursor(site: Site, view: inbox.View, pages: int) -> tuple[str | None, int]:
    """The cursor of page ``pages`` of ``view`` (or of the last page), following next cursors."""
    principal = Principal(kind="user", id=BENCH_AGENT, role=Role.agent)
    cursor: str | None = None
    page_no = 1
    with site.runtime.database.session(write=False) as session:
        while page_no < pages:
            page = inbox.inbox(session=session, principal=principal, view=view, cursor=cursor)
            if page.next_cursor is None:
                break
            cursor, page_no = page.next_cursor, page_no + 1
    return cursor, page_no


def middle_cursor(site: Site, status: str) -> tuple[str, int]:
    """The cursor an agent holds halfway down a status view (what following next cursors would reach)."""
    with site.runtime.database.session(write=False) as session:
        total = session.scalar(select(func.count()).select_from(Ticket).where(Ticket.status == status)) or 0
        rank, ticket_id = session.execute(
            select(Ticket.queue_rank, Ticket.id)
            .where(Ticket.status == status)
            .order_by(Ticket.queue_rank.desc(), Ticket.id.desc())
            .offset(total // 2)
            .limit(1)
        ).one()
    return encode_cursor({"rank": rank, "id": ticket_id}), total // 2 // inbox.PAGE + 2


def plan_cases(site: Site, *, requests: int, deep: int, seed: int) -> None:
    rng = random.Random(seed)
    site.cases["floor: GET /api/v1/health"] = ["/api/v1/health"]
    for view in (inbox.View.mine, inbox.View.unassigned, inbox.View.team, inbox.View.all, inbox.View.solved):
        site.cases[f"inbox {view.value}, page 1"] = [f"/agent/inbox?view={view.value}"]
        cursor, page_no = deep_cursor(site, view, deep)
        key = f"inbox {view.value}, page {deep}"
        site.cases[key] = [f"/agent/inbox?view={view.value}" + (f"&cursor={cursor}" if cursor else "")]
        site.notes[key] = f"page {page_no}"
    cursor, page_no = middle_cursor(site, "solved")
    site.cases["inbox solved, middle page"] = [f"/agent/inbox?view=solved&cursor={cursor}"]
    site.notes["inbox solved, middle page"] = f"page {page_no:,}"
    with site.runtime.database.session(write=False) as session:
        open_ids = list(session.scalars(select(Ticket.id).where(Ticket.is_open.is_(True))))
        picks = rng.sample(open_ids, min(len(open_ids), requests + 20))
        site.cases["ticket page, open ticket"] = [f"/agent/tickets/{i}?view=all" for i in picks]
        candidates = rng.sample(range(1, site.target.n + 1), min(site.target.n, (requests + 20) * 2))
        rows = session.execute(
            select(Ticket.id, Ticket.status).where(Ticket.id.in_(candidates), Ticket.is_open.is_(False))
        ).all()
        closed = [f"/agent/tickets/{r[0]}?view={r[1].value}" for r in rows][: requests + 20]
        rng.shuffle(closed)
        site.cases["ticket page, resolved ticket"] = closed


def request(site: Site, url: str) -> tuple[float, int, float, float]:
    PROBE.reset()
    started = time.perf_counter()
    response = site.client.get(url)
    elapsed = time.perf_counter() - started
    if response.status_code != 200:
        raise RuntimeError(f"{site.target.name} {url}: {response.status_code} {response.text[:300]}")
    return elapsed * 1000, PROBE.statements, PROBE.sql_seconds * 1000, PROBE.render_seconds * 1000


def measure(sites: list[Site], *, requests: int, warmup: int, rounds: int) -> dict[str, dict[str, Any]]:
    """Every case on every site: warm-up, then ``requests`` requests in ``rounds`` interleaved rounds."""
    results: dict[str, dict[str, Any]] = {}
    for case in sites[0].cases:
        samples: dict[str, list[tuple[float, int, float, float]]] = {s.target.name: [] for s in sites}
        served = {s.target.name: 0 for s in sites}
        for site in sites:
            for _ in range(warmup):
                request(site, site.cases[case][-1 - _ % len(site.cases[case])])
        per_round = -(-requests // rounds)
        for _ in range(rounds):
            for site in sites:
                for _ in range(per_round):
                    urls = site.cases[case]
                    url = urls[served[site.target.name] % len(urls)]
                    served[site.target.name] += 1
                    samples[site.target.name].append(request(site, url))
        results[case] = {}
        for site in sites:
            rows = samples[site.target.name]
            ms = sorted(r[0] for r in rows)
            queries = [r[1] for r in rows]
            summary = {
                "requests": len(rows),
                "p50_ms": round(statistics.median(ms), 2),
                "p95_ms": round(pct(ms, 95), 2),
                "p99_ms": round(pct(ms, 99), 2),
                "queries_min": min(queries),
                "queries_max": max(queries),
                "queries_histogram": {str(q): queries.count(q) for q in sorted(set(queries))},
                "sql_p50_ms": round(statistics.median(r[2] for r in rows), 2),
                "render_p50_ms": round(statistics.median(r[3] for r in rows), 2),
                "note": site.notes.get(case, ""),
            }
            results[case][site.target.name] = summary
            print(f"  {case:<32} {site.target.name:<16} {short(summary)}", flush=True)
    return results


def short(s: dict[str, Any]) -> str:
    q = (
        str(s["queries_min"])
        if s["queries_min"] == s["queries_max"]
        else f"{s['queries_min']}-{s['queries_max']}"
    )
    return (
        f"p50 {s['p50_ms']:7.1f}  p95 {s['p95_ms']:7.1f}  p99 {s['p99_ms']:7.1f} ms  q {q:>5}  "
        f"sql {s['sql_p50_ms']:6.1f}  render {s['render_p50_ms']:5.1f} {s['note']}"
    )


def print_table(results: dict[str, dict[str, Any]], names: list[str]) -> None:
    print("\np50 / p95 / p99 ms (SQL statements per request)\n")
    print("| page | " + " | ".join(names) + " |")
    print("| --- |" + " --- |" * len(names))
    for case, by_site in results.items():
        cells = []
        for name in names:
            s = by_site.get(name)
            if s is None:
                cells.append("")
                continue
            q = (
                str(s["queries_min"])
                if s["queries_min"] == s["queries_max"]
                else (f"{s['queries_min']}-{s['queries_max']}")
            )
            note = f" [{s['note']}]" if s["note"] and not case.endswith(s["note"].split()[-1]) else ""
            cells.append(f"{s['p50_ms']:.1f} / {s['p95_ms']:.1f} / {s['p99_ms']:.1f} ({q}){note}")
        print(f"| {case} | " + " | ".join(cells) + " |")
    print("\nwhere the time goes at p50: SQL execute ms / render ms\n")
    print("| page | " + " | ".join(names) + " |")
    print("| --- |" + " --- |" * len(names))
    for case, by_site in results.items():
        cells = [
            f"{by_site[n]['sql_p50_ms']:.1f} / {by_site[n]['render_p50_ms']:.1f}" if n in by_site else ""
            for n in names
        ]
        print(f"| {case} | " + " | ".join(cells) + " |")


# ----------------------------------------------------------------- main
def parse_sizes(value: str) -> list[int]:
    return [int(float(v)) for v in value.split(",") if v.strip()]


def targets_for(args: argparse.Namespace) -> list[Target]:
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    found: list[Target] = []
    for backend in backends:
        if backend == "sqlite":
            found.extend(sqlite_target(n, Path(args.db_dir)) for n in parse_sizes(args.sizes))
        elif backend == "postgresql":
            sizes = parse_sizes(args.pg_sizes or args.sizes)
            found.extend(pg_target(n, args.pg_url, args.pg_db) for n in sizes)
        else:
            raise SystemExit(f"unknown backend {backend!r}: sqlite or postgresql")
    return found


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="2,000 and 20,000 tickets, 40 requests a case")
    parser.add_argument("--sizes", default="10000,1000000", help="ticket counts, comma-separated")
    parser.add_argument("--pg-sizes", default=None, help="ticket counts on PostgreSQL (default: --sizes)")
    parser.add_argument("--backends", default="sqlite", help="sqlite, postgresql or both, comma-separated")
    parser.add_argument("--db-dir", default="/tmp", help="where the generated SQLite databases are kept")
    parser.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/")
    parser.add_argument("--pg-db", default="ombud_bench_ws", help="PostgreSQL databases are <this>_<size>")
    parser.add_argument("--reuse", action="store_true", help="keep a complete generated database of the size")
    parser.add_argument("--generate-only", action="store_true")
    parser.add_argument("--drop", action="store_true", help="drop the generated databases at the end")
    parser.add_argument("--requests", type=int, default=200, help="timed requests per case and database")
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=4, help="interleaved rounds the requests are split in")
    parser.add_argument("--deep", type=int, default=20, help="the deep inbox page (cursors followed)")
    parser.add_argument("--out", default="/tmp/ombud-bench-workspace.json")
    args = parser.parse_args()
    if args.quick:
        args.sizes, args.pg_sizes, args.requests = "2000,20000", None, 40
        if args.db_dir == "/tmp":  # a throwaway folder, removed at the end
            args.db_dir, args.drop = tempfile.mkdtemp(prefix="ombud-bench-ws-quick-"), True

    targets = targets_for(args)
    report: dict[str, Any] = {"machine": machine_info(), "args": vars(args)}
    print("databases", flush=True)
    for target in targets:
        prepare(target, reuse=args.reuse)
    report["generation"] = {t.name: t.generation for t in targets}
    if args.generate_only:
        Path(args.out).write_text(json.dumps(report, indent=2, default=str), encoding="utf-8")
        return

    report["cpu_check_before"] = cpu_check()
    print(f"cpu_check {report['cpu_check_before']}", flush=True)
    workspace_module._render = _timed_render  # type: ignore[assignment]
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        sites = []
        for i, target in enumerate(targets):
            sites.append(stack.enter_context(open_site(target, Path(tmp) / str(i))))
            plan_cases(sites[-1], requests=args.requests, deep=args.deep, seed=7)
        print("pages", flush=True)
        report["results"] = measure(sites, requests=args.requests, warmup=args.warmup, rounds=args.rounds)
    report["cpu_check_after"] = cpu_check()
    Path(args.out).write_text(json.dumps(report, indent=2, default=str), encoding="utf-8")
    print_table(report["results"], [t.name for t in targets])
    print("\ngeneration:")
    for t in targets:
        g = t.generation
        print(f"  {t.name}: {g['total_seconds']} s, {g['size_mb']} MB, {g['counts']}")
    print(f"cpu_check before / after: {report['cpu_check_before']} / {report['cpu_check_after']}")
    print(f"\nfull report: {args.out}")
    if args.drop:
        for target in targets:
            drop(target)
        if args.quick and Path(args.db_dir).name.startswith("ombud-bench-ws-quick-"):
            Path(args.db_dir).rmdir()


if __name__ == "__main__":
    main()
