"""Crash safety in the production shape, at a small N: two `ombud serve` and one `ombud worker` on PostgreSQL
and Redis, each SIGKILLed while messages stream in through the API and SMTP. Every acknowledged message is
stored exactly once (retries of lost answers included), and after the restarts everything is triaged and
indexed. benchmarks/bench_crash.py runs the same with N=10,000."""

from __future__ import annotations

from typing import Any

import pytest

from tests.scaleout.conftest import bench

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis]

MESSAGES = 160


def test_sigkills_of_servers_and_worker_lose_and_double_nothing(cluster_factory: Any) -> None:
    cluster = cluster_factory()
    result = bench.run(
        cluster,
        n=MESSAGES,
        servers=2,
        workers=1,
        clients=4,
        kill_every=3.0,
        pause=0.5,
        settle_timeout=300.0,
        first_victims=["server1", "worker1", "server2"],
    )
    assert result.acknowledged == MESSAGES and not result.refused, result.refused[:5]
    # The run must have hurt: at least one process died mid-stream and some answers were lost.
    assert result.kills["worker1"] >= 1 and result.kills["server1"] >= 1, result.kills
    assert not result.problems, "\n".join(result.problems) + "\n" + cluster.log_tail()
