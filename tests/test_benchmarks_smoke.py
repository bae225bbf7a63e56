"""The scale and load benchmarks keep working: each runs at a tiny size, and the search index rows the scale
benchmark generates are the rows the product's own indexer writes (so its search figures are real)."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from ombud.search import service as search
from ombud.storage.db import Database

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "benchmarks"
sys.path.insert(0, str(BENCH))
import bench_scale  # noqa: E402

PG_URL = os.environ.get("OMBUD_TEST_DATABASE_URL")


def _run(args: list[str], tmp_path: Path, timeout: float) -> dict[str, Any]:
    out = tmp_path / "report.json"
    # A session of its own: on a timeout the servers the script started are stopped with it.
    proc = subprocess.Popen(
        [sys.executable, *args, "--out", str(out)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGTERM)
        stdout, stderr = proc.communicate()
        pytest.fail(f"timed out after {timeout:.0f} s: {stdout[-3000:]}{stderr[-3000:]}")
    assert proc.returncode == 0, stdout[-3000:] + stderr[-3000:]
    report: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    return report


@pytest.mark.slow
def test_bench_scale_runs_at_a_tiny_size(tmp_path: Path) -> None:
    report = _run(
        [
            str(BENCH / "bench_scale.py"),
            "--backends",
            "sqlite",
            "--sizes",
            "1000,2000",
            "--db-dir",
            str(tmp_path),
            "--drop",
            "--requests",
            "2",
            "--rounds",
            "1",
            "--deep",
            "2",
            "--creates",
            "6",
            "--parts",
            "reads,create",
        ],
        tmp_path,
        timeout=900,  # each `ombud serve` start took over a minute on the shared, overloaded machine
    )
    assert list(report["generation"]) == ["sqlite 1k", "sqlite 2k"]
    for generation in report["generation"].values():
        counts = generation["counts"]
        assert counts["search_rows"] == counts["messages"] > counts["tickets"]
    assert report["reads"]["list all, page 1"]
    for by_target in report["reads"].values():
        for summary in by_target.values():
            assert summary["requests"] == 2
            assert summary["p50_ms"] > 0
    assert report["reads"]["search no match (zzyzxquux)"]
    assert all(s["items"] == 0 for s in report["reads"]["search no match (zzyzxquux)"].values())
    assert all(s["items"] > 0 for s in report["reads"]["search common (card)"].values())
    for row in report["create"]:
        assert row["api"]["errors"] == 0
        assert row["api"]["requests_ok"] == 6
        assert row["left_untriaged"] == 0
        assert row["created_messages"] == 6


@pytest.mark.slow
def test_bench_load_runs_briefly_without_errors(tmp_path: Path) -> None:
    report = _run(
        [str(BENCH / "bench_load.py"), "--engines", "sqlite", "--minutes", "0.15", "--drain-cap", "120"],
        tmp_path,
        timeout=300,
    )
    (result,) = report["results"]
    ops = result["ops"]
    assert sum(o["errors"] for o in ops.values()) == 0, result["err_samples"]
    assert ops["create"]["ok"] > 0 and ops["list"]["ok"] > 0 and ops["search"]["ok"] > 0
    assert result["backlog_left"] == 0


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def bench_target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[bench_scale.Target]:
    if request.param == "sqlite":
        yield bench_scale.Target("sqlite", 200, f"sqlite:///{tmp_path / 'scale.db'}")
        return
    if not PG_URL:
        pytest.skip("OMBUD_TEST_DATABASE_URL is not set")
    # A database of its own: the generator writes fixed ids, never into the shared test database.
    target = bench_scale.Target(
        "postgresql", 200, PG_URL.rsplit("/", 1)[0] + f"/bench_smoke_{uuid.uuid4().hex[:8]}"
    )
    try:
        yield target
    finally:
        bench_scale.drop(target)


def _index_rows(database: Database, ids: list[int]) -> list[tuple[Any, ...]]:
    with database.session(write=False) as session:
        if database.engine.dialect.name == "sqlite":
            sql = "SELECT rowid, subject, body, ticket_id, internal FROM message_search WHERE rowid IN ({})"
        else:
            sql = (
                "SELECT message_id, document::text, ticket_id, internal FROM message_search "
                "WHERE message_id IN ({})"
            )
        marks = ", ".join(str(int(i)) for i in ids)
        return sorted(tuple(r) for r in session.execute(text(sql.format(marks))))


def test_generated_search_rows_match_what_the_indexer_writes(bench_target: bench_scale.Target) -> None:
    bench_scale.prepare(bench_target, reuse=False)
    bench_scale.reset_theming(bench_target, history=True)
    database = Database(bench_target.url)
    try:
        with database.session(write=False) as session:
            messages = session.execute(
                text(
                    "SELECT m.id, m.ticket_id, m.internal, m.body_text, t.subject, "
                    "(SELECT min(f.id) FROM messages f WHERE f.ticket_id = m.ticket_id) AS first_id "
                    "FROM messages m JOIN tickets t ON t.id = m.ticket_id ORDER BY m.id"
                )
            ).all()
            rows = session.scalar(text("SELECT count(*) FROM message_search"))
            concerns = session.scalar(text("SELECT count(*) FROM concerns"))
        assert rows == len(messages)
        assert concerns == bench_target.n
        sample = random.Random(3).sample(list(messages), 25)
        ids = [m.id for m in sample]
        generated = _index_rows(database, ids)
        with database.session() as session:  # the product's own indexer, for the same messages
            for m in sample:
                search.write_entry(
                    session=session,
                    message_id=m.id,
                    ticket_id=m.ticket_id,
                    internal=bool(m.internal),
                    subject=m.subject if m.id == m.first_id else None,
                    body=m.body_text,
                )
            session.commit()
        assert _index_rows(database, ids) == generated
        # and the product's search finds a ticket by a word of its first message
        probe = sample[0]
        word = max(search.terms(probe.body_text), key=len)
        with database.session(write=False) as session:
            found = search.all_matching_ticket_ids(session=session, text=word, include_internal=True)
        assert probe.ticket_id in found
    finally:
        database.dispose()
