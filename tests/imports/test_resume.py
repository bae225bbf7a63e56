"""An import killed with SIGKILL in the middle finishes when run again, with every ticket exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from ombud.storage.db import Database
from ombud.storage.models import metadata
from tests.imports.common import runs, ticket, write_jsonl

T = metadata.tables
SIZE = 2500


def _count(database: Database, table: str) -> int:
    with database.engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(T[table])).scalar_one())


@pytest.mark.slow
def test_an_import_killed_half_way_finishes_on_the_next_run(database_url: str, tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "big.jsonl", [ticket(n, email=f"p{n % 997}@example.com") for n in range(SIZE)]
    )
    env = {**os.environ, "OMBUD_DATABASE_URL": database_url, "OMBUD_HOME": str(tmp_path)}
    command = [
        str(Path(sys.executable).with_name("ombud")),
        "import",
        "file",
        str(path),
        "--batch-size",
        "50",
        "--no-sweep",
    ]
    database = Database(database_url)
    try:
        process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        while _count(database, "tickets") < 200 and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        killed_at = _count(database, "tickets")
        assert 0 < killed_at < SIZE, "the import was killed in the middle"
        assert _count(database, "messages") == 3 * killed_at  # a batch is all or nothing
        assert [r.status for r in runs(database)] == ["running"]

        rerun = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
        assert rerun.returncode == 0, rerun.stderr
        assert f"{killed_at} tickets were already imported" in rerun.stdout
        assert _count(database, "tickets") == SIZE and _count(database, "messages") == 3 * SIZE
        assert _count(database, "customers") == 997 and _count(database, "identities") == 997
        assert [r.status for r in runs(database)] == ["running", "finished"]
    finally:
        database.dispose()
