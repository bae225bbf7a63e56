"""What the import tests share: small ombud-format tickets and readers of what was written."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import select

from ombud.imports import service, sources
from ombud.imports.models import ImportRun
from ombud.runtime import Runtime
from ombud.storage.db import Database


def ticket(number: int, *, status: str = "closed", email: str | None = None, **extra: Any) -> dict[str, Any]:
    """One ombud-format ticket: the customer's question, the agent's public answer and an internal note."""
    day = f"2025-0{1 + number % 9}-1{number % 10}T09:00:00Z"
    return {
        "external_id": f"T-{number}",
        "subject": f"Question {number}",
        "status": status,
        "priority": "normal",
        "channel": "email",
        "created_at": day,
        "tags": ["billing"],
        "customer": {"email": email or f"person{number % 7}@example.com", "name": f"Person {number % 7}"},
        "messages": [
            {"author": "customer", "body": f"My card payment {number} was declined twice", "created_at": day},
            {
                "author": "agent",
                "author_email": "agent@desk.test",
                "body": "Sorry about that, it is fixed now.",
                "created_at": day.replace("09:00", "10:00"),
            },
            {
                "author": "agent",
                "internal": True,
                "body": "checked the logs",
                "created_at": day.replace("09:00", "10:01"),
            },
        ],
        **extra,
    }


def write_jsonl(path: Path, records: list[Any]) -> Path:
    path.write_text(
        "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records), encoding="utf-8"
    )
    return path


def import_file(database: Database, path: Path, **options: Any) -> ImportRun:
    return service.run_import(
        database=database,
        source="ombud",
        location=str(path),
        reads=sources.read_ombud(path),
        options=service.ImportOptions(**options),
    )


def skips_of(runtime: Runtime, run_id: int) -> list[tuple[str, str, str]]:
    with runtime.database.session(write=False) as session:
        return [
            (s.kind, s.ref, s.reason) for s in service.list_skips(session=session, run_id=run_id, limit=1000)
        ]


def runs(database: Database) -> list[ImportRun]:
    with database.session(write=False) as session:
        return list(session.scalars(select(ImportRun).order_by(ImportRun.id)))
