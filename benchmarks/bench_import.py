"""Import throughput: generate N tickets in ombud's JSONL import format (customer texts from Banking77,
timestamps over two years, every channel, customers reused), import them into a fresh database, then
import them again (the idempotent rerun), and print tickets/s and messages/s.

    .venv/bin/python benchmarks/bench_import.py --size 100000                   # SQLite (a temp file)
    .venv/bin/python benchmarks/bench_import.py --size 100000 \\
        --database postgresql://postgres@127.0.0.1:5432/ombud_bench_import       # PostgreSQL (recreated)

The import is the same code `ombud import file` runs (ombud.imports.service.run_import); the triage and
indexing of what was imported run later in the background and are not part of these figures.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from ombud.imports import service, sources
from ombud.storage.db import Database
from ombud.storage.models import metadata
from ombud.storage.schema import upgrade

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "banking77" / "train.csv"
CHANNELS = ("email", "email", "email", "web", "chat", "phone", "social", "api")
STATUSES = ("closed",) * 6 + ("solved",) * 2 + ("open", "pending")
PRIORITIES = ("normal",) * 6 + ("low", "high", "urgent")
AGENT_REPLIES = (
    "Thanks for getting in touch. I have looked into this and it is sorted now.",
    "Sorry for the trouble. Could you send us the last four digits of the card?",
    "I have passed this on to the team; you will hear from us within a day.",
    "That should be fixed now. Let us know if anything else comes up.",
)


def texts() -> list[str]:
    if DATA.exists():
        with DATA.open(newline="", encoding="utf-8") as handle:
            return [row["text"] for row in csv.DictReader(handle)]
    return [f"I have a question about my account number {i}" for i in range(1000)]


def generate(path: Path, size: int, *, seed: int = 7) -> int:
    """Write ``size`` tickets to ``path`` (JSONL); return how many messages they hold."""
    rng = random.Random(seed)
    corpus = texts()
    customers = max(1, size // 3)
    start = datetime(2024, 12, 1, tzinfo=UTC)
    span = int(timedelta(days=730).total_seconds())
    messages = 0
    with path.open("w", encoding="utf-8") as out:
        for number in range(size):
            who = int(rng.paretovariate(1.2)) % customers if rng.random() < 0.5 else rng.randrange(customers)
            at = start + timedelta(seconds=rng.randrange(span))
            thread = []
            for turn in range(rng.choice((1, 2, 2, 3, 3, 4))):
                author = "customer" if turn % 2 == 0 else "agent"
                body = rng.choice(corpus) if author == "customer" else rng.choice(AGENT_REPLIES)
                thread.append(
                    {
                        "author": author,
                        "body": body,
                        "created_at": (at + timedelta(minutes=37 * turn)).isoformat(),
                        **(
                            {"author_email": "agent@desk.example", "author_name": "Sam"}
                            if author == "agent"
                            else {}
                        ),
                    }
                )
            messages += len(thread)
            record = {
                "external_id": f"B-{number}",
                "subject": thread[0]["body"][:80],
                "status": rng.choice(STATUSES),
                "priority": rng.choice(PRIORITIES),
                "channel": rng.choice(CHANNELS),
                "created_at": at.isoformat(),
                "tags": rng.sample(["billing", "card", "transfer", "refund", "app"], k=rng.randrange(0, 3)),
                "customer": {
                    "email": f"customer{who}@example.com",
                    "name": f"Customer {who}",
                    "organisation": f"Company {who % 500}" if who % 4 == 0 else None,
                },
                "messages": thread,
            }
            out.write(json.dumps(record) + "\n")
    return messages


def fresh_database(url: str | None, folder: Path) -> str:
    if url is None:
        return f"sqlite:///{folder / 'import.db'}"
    parsed = make_url(url)
    if parsed.get_backend_name() == "postgresql":
        admin = create_engine(
            parsed.set(database="postgres", drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT"
        )
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{parsed.database}"'))
            connection.execute(text(f'CREATE DATABASE "{parsed.database}"'))
        admin.dispose()
    return url


def count(database: Database, table: str) -> int:
    with database.engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(metadata.tables[table])).scalar_one())


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size", type=int, default=100_000, help="tickets to import (default 100,000)")
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--database", default=None, help="a PostgreSQL URL (the database is recreated)")
    parser.add_argument("--no-rerun", action="store_true", help="skip the idempotent second run")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ombud-bench-import-") as tmp:
        folder = Path(tmp)
        data = folder / "tickets.jsonl"
        began = time.perf_counter()
        messages = generate(data, args.size)
        print(f"generated {args.size} tickets, {messages} messages in {time.perf_counter() - began:.1f} s")
        database = Database(fresh_database(args.database, folder))
        upgrade(database)
        options = service.ImportOptions(batch_size=args.batch_size)
        began, cpu = time.perf_counter(), time.process_time()
        done = [0]

        def progress(count: int) -> None:
            done[0] += count
            if done[0] % 100_000 < count:
                elapsed = time.perf_counter() - began
                print(f"  {done[0]:,} tickets in {elapsed:.0f} s", file=sys.stderr, flush=True)

        run = service.run_import(
            database=database,
            source="ombud",
            location=str(data),
            reads=sources.read_ombud(data),
            options=options,
            progress=progress,
        )
        took, cpu = time.perf_counter() - began, time.process_time() - cpu
        counts = run.counts
        print(
            f"{database.dialect}: imported {counts['tickets']} tickets, {counts['messages']} messages, "
            f"{counts['customers']} customers in {took:.1f} s = {counts['tickets'] / took:,.0f} tickets/s, "
            f"{counts['messages'] / took:,.0f} messages/s (1,000,000 tickets would take "
            f"{1_000_000 / (counts['tickets'] / took) / 60:.1f} min at this rate); this process used "
            f"{cpu:.1f} s of CPU = {counts['tickets'] / cpu:,.0f} tickets per CPU second "
            "(the database server's CPU not counted)"
        )
        assert count(database, "tickets") == args.size, "every generated ticket is imported"
        assert count(database, "messages") == messages
        if not args.no_rerun:
            began = time.perf_counter()
            again = service.run_import(
                database=database,
                source="ombud",
                location=str(data),
                reads=sources.read_ombud(data),
                options=options,
            )
            took = time.perf_counter() - began
            print(
                f"{database.dialect}: rerun created {again.counts['tickets']} tickets, found "
                f"{again.counts['already_imported']} already imported, in {took:.1f} s"
            )
            assert again.counts["tickets"] == 0
            assert count(database, "tickets") == args.size
        database.dispose()
    sys.stdout.flush()


if __name__ == "__main__":
    main()
