#!/usr/bin/env python3
"""How long erasing one customer takes as the database around them grows.

Builds a database with --others customers, each with --tickets-each tickets of two messages (bulk Core
inserts, with their full-text index entries written as the product writes them), plus one customer with
--theirs tickets, then times `privacy.erase_customer` (in one transaction, committed) for that customer.
The erasure's cost is dominated by the identifier sweep (one scan of every text column of every table
for the person's addresses) and, on SQLite, the FTS5 optimise: both grow with the database, not with the
person.

Usage:
  .venv/bin/python benchmarks/bench_erase.py                     # SQLite, 20,000 other tickets
  .venv/bin/python benchmarks/bench_erase.py --others 2000 --database postgresql://postgres@127.0.0.1/x
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from sqlalchemy import insert

from ombud.accounts.schemas import SYSTEM
from ombud.customers import privacy
from ombud.search import service as search
from ombud.storage.base import utcnow
from ombud.storage.db import Database
from ombud.storage.models import metadata
from ombud.storage.schema import upgrade

WORDS = [
    *("printer", "refund", "parcel", "delayed", "charged", "twice"),
    *("password", "reset", "invoice", "broken", "screen"),
]


def build(database: Database, *, others: int, tickets_each: int, theirs: int) -> int:
    customers, identities = metadata.tables["customers"], metadata.tables["identities"]
    tickets, messages = metadata.tables["tickets"], metadata.tables["messages"]
    now = utcnow()
    with database.session() as session:
        conn = session.connection()
        people = [
            {
                "id": i,
                "name": f"Customer {i}",
                "preferences": {},
                "notes": "",
                "tier": "standard",
                "created_at": now,
                "updated_at": now,
            }
            for i in range(1, others + 2)
        ]
        conn.execute(insert(customers), people)
        conn.execute(
            insert(identities),
            [
                {
                    "customer_id": p["id"],
                    "kind": "email",
                    "value": f"c{p['id']}@example.com",
                    "created_at": now,
                }
                for p in people
            ],
        )
        ticket_rows, message_rows = [], []
        target = others + 1
        for p in people:
            count = theirs if p["id"] == target else tickets_each
            for _ in range(count):
                tid = len(ticket_rows) + 1
                ticket_rows.append(
                    {
                        "id": tid,
                        "subject": f"{WORDS[tid % len(WORDS)]} issue",
                        "status": "open",
                        "priority": "normal",
                        "channel": "email",
                        "customer_id": p["id"],
                        "created_at": now,
                        "updated_at": now,
                        "is_open": True,
                    }
                )
                for n in range(2):
                    message_rows.append(
                        {
                            "id": len(message_rows) + 1,
                            "ticket_id": tid,
                            "customer_id": p["id"],
                            "author_type": "customer",
                            "channel": "email",
                            "internal": False,
                            "body_text": f"My {WORDS[(tid + n) % len(WORDS)]} again, write to "
                            f"c{p['id']}@example.com",
                            "body_html": None,
                            "channel_meta": {},
                            "created_at": now,
                            "indexed_at": now,
                            "triaged_at": now,
                            "delivery_state": None,
                        }
                    )
        for start in range(0, len(ticket_rows), 5000):
            conn.execute(insert(tickets), ticket_rows[start : start + 5000])
        for start in range(0, len(message_rows), 5000):
            conn.execute(insert(messages), message_rows[start : start + 5000])
        subjects = {t["id"]: t["subject"] for t in ticket_rows}
        for m in message_rows:
            search.write_entry(
                session=session,
                message_id=m["id"],
                ticket_id=m["ticket_id"],
                internal=False,
                subject=subjects[m["ticket_id"]] if m["id"] % 2 else None,
                body=m["body_text"],
            )
        session.commit()
    return target


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--others", type=int, default=10_000, help="other customers (default 10,000)")
    parser.add_argument("--tickets-each", type=int, default=2, help="tickets per other customer (default 2)")
    parser.add_argument("--theirs", type=int, default=20, help="tickets of the erased customer (default 20)")
    parser.add_argument("--database", default=None, help="an empty database URL (default: a temp SQLite)")
    args = parser.parse_args()
    url = args.database or f"sqlite:///{Path(tempfile.mkdtemp()) / 'erase.db'}"
    database = Database(url)
    upgrade(database)
    started = time.perf_counter()
    target = build(database, others=args.others, tickets_each=args.tickets_each, theirs=args.theirs)
    print(
        f"built {args.others * args.tickets_each + args.theirs} tickets on {database.dialect} "
        f"in {time.perf_counter() - started:.1f} s"
    )
    started = time.perf_counter()
    with database.session() as session:
        report = privacy.erase_customer(session=session, customer_id=target, actor=SYSTEM)
        session.commit()
    took = time.perf_counter() - started
    print(
        f"erased customer {target}: {report.deleted.get('tickets', 0)} tickets, "
        f"{report.deleted.get('messages', 0)} messages in {took:.2f} s"
    )
    database.dispose()


if __name__ == "__main__":
    main()
