"""The production shape as real processes: `ombud serve` x2 and `ombud worker` on PostgreSQL and Redis.

The process harness (a private database and Redis key prefix per test, processes started and SIGKILLed by
their own handles) is the one benchmarks/bench_crash.py runs at full size; these tests import it from
there so the benchmark and the tests cannot drift apart.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from tests.conftest import PG_URL, REDIS_URL

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_crash.py"


def _load_bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("ombud_bench_crash", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


bench = _load_bench()


@pytest.fixture
def cluster_factory(tmp_path: Path) -> Iterator[type]:
    """Yield a function that creates a Cluster (extra settings as environment variables); closed after."""
    if not (PG_URL and REDIS_URL):
        pytest.skip(
            "scale-out tests need OMBUD_TEST_DATABASE_URL and OMBUD_TEST_REDIS_URL (.ci/run sets them)"
        )
    made: list[object] = []

    def make(**extra_env: str) -> object:
        cluster = bench.Cluster(tmp_path / f"cluster{len(made)}", PG_URL, REDIS_URL, extra_env=extra_env)
        made.append(cluster)
        cluster.create()
        return cluster

    yield make  # type: ignore[misc]
    for cluster in made:
        cluster.close()  # type: ignore[attr-defined]
