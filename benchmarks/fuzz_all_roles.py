"""The long run of the API fuzzing: every operation of the OpenAPI schema, each generated request sent as
every role (anonymous, customer, partner, advocate, agent, lead, admin), many more examples than CI runs.

    .venv/bin/python benchmarks/fuzz_all_roles.py [--examples 100] [--out fuzz.json] [-- extra pytest args]

It runs tests/test_api_fuzz.py (which CI runs with 8 random examples per operation after schemathesis's
coverage phase, each request as two roles in rotation) with OMBUD_FUZZ_EXAMPLES set and
OMBUD_FUZZ_ALL_ROLES=1, in one process (pytest -n 0), and prints: operations, examples per operation,
requests answered per role by status class, failures, wall and CPU time. Any 5xx or schema-breaking
answer fails the run (exit status 1) and pytest prints the shrunk request and the role that sent it.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--examples", type=int, default=100, help="random examples per operation (CI: 8)")
    parser.add_argument("--out", type=Path, help="write the figures as JSON here too")
    parser.add_argument("pytest_args", nargs="*", help="passed to pytest after --")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        report = Path(scratch) / "answers.json"
        env = {
            **os.environ,
            "OMBUD_FUZZ_EXAMPLES": str(args.examples),
            "OMBUD_FUZZ_ALL_ROLES": "1",  # every request as every role, not CI's rotation
            "OMBUD_FUZZ_REPORT": str(report),
        }
        started = time.monotonic()
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        # pytest's lines are passed through as they come (a long run shows its progress) and kept.
        with subprocess.Popen(
            [
                sys.executable,
                "-m",
                "pytest",
                "-n",
                "0",
                "-q",
                "-p",
                "no:randomly",
                str(ROOT / "tests" / "test_api_fuzz.py"),
                *args.pytest_args,
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        ) as run:
            assert run.stdout is not None
            lines = []
            for line in run.stdout:
                print(line, end="", flush=True)
                lines.append(line)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        wall = time.monotonic() - started
        answers = json.loads(report.read_text())["answers"] if report.exists() else {}
    summary = next((line.strip() for line in reversed(lines) if line.strip()), "")
    counts = {kind: int(n) for n, kind in re.findall(r"(\d+) (passed|failed|error)", summary)}
    figures = {
        "examples_per_operation": args.examples,
        "operations_passed": counts.get("passed", 0),
        "operations_failed": counts.get("failed", 0) + counts.get("error", 0),
        "requests_by_role": answers,
        "requests_total": sum(sum(by_status.values()) for by_status in answers.values()),
        "wall_seconds": round(wall, 1),
        "cpu_seconds": round(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime, 1),
        "pytest_summary": summary,
    }
    print(json.dumps(figures, indent=1))
    if args.out:
        args.out.write_text(json.dumps(figures, indent=1))
    return 0 if run.returncode == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
