"""What the service workflow costs: the event outbox and its consumers (concerns, routing, SLA clocks,
the ledger, automations, surveys, reports, webhooks) against dispatching to no consumer at all, and the
reports read from their aggregates.

One SQLite database is filled with N tickets opened the way a channel opens them (one transaction each,
with the demo's SLA policies, routing rules, automation rules and concession policy in force), and their
messages are triaged; then the outbox holds N ``ticket.created`` and N ``message.triaged`` events. Copies of
that database are dispatched in turn, alternating "no consumers" and "every consumer", ``--runs`` times
each; the medians are reported side by side. Nothing is sent anywhere (no webhook endpoint is set up).

    .venv/bin/python benchmarks/bench_workflow.py --tickets 1000 --runs 3
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from sqlalchemy import func, select

from ombud.accounts import service as accounts
from ombud.accounts.models import Role
from ombud.accounts.schemas import SYSTEM, Principal
from ombud.customers import service as customers
from ombud.customers.schemas import CustomerRef
from ombud.demo_workflow import load_workflow
from ombud.events import service as events
from ombud.events.models import Event
from ombud.reports import service as reports
from ombud.reports.schemas import Dimension, ReportName, ReportQuery
from ombud.runtime import Runtime, build_runtime
from ombud.settings import Settings
from ombud.storage.base import utcnow
from ombud.storage.schema import upgrade
from ombud.tickets import feeds
from ombud.tickets import service as tickets
from ombud.tickets.models import Channel
from ombud.triage import service as triage

MESSAGES = (
    "I was charged twice for order A-{n}. Please refund the duplicate charge.",
    "My parcel for order B-{n} is a week late and I need it by Friday!",
    "The router keeps dropping the wifi every evening, third time I write about this.",
    "Can I get an invoice for my last order C-{n}? Also how do I change my address?",
    "The kettle arrived broken. I want a replacement or my money back.",
)


def _runtime(path: Path) -> Runtime:
    # A SQLite queue nobody consumes: jobs wait, so the benchmark runs each step itself.
    return build_runtime(
        Settings(home=path.parent, database_url=f"sqlite:///{path}"), queue_url=f"sqlite:///{path}.queue"
    )


def fill(path: Path, count: int) -> tuple[list[float], float]:
    """Create the database with ``count`` triaged tickets; return (ms per ticket opened, triage seconds)."""
    runtime = _runtime(path)
    upgrade(runtime.database)
    with runtime.database.session() as session:
        support = accounts.create_team(session=session, name="Support")
        billing = accounts.create_team(session=session, name="Billing")
        made = {
            key: accounts.create_user(session=session, email=f"{key}@bench.test", role=role, name=key)
            for key, role in (
                ("admin", Role.admin),
                ("lead", Role.lead),
                ("a1", Role.agent),
                ("a2", Role.agent),
            )
        }
        for key in ("a1", "a2", "lead"):
            accounts.add_to_team(session=session, team=support, user=made[key])
        load_workflow(
            session=session,
            admin=made["admin"],
            lead=made["lead"],
            agents=[made["a1"], made["a2"]],
            support=support,
            billing=billing,
        )
        session.commit()
    opened: list[float] = []
    for n in range(count):
        with runtime.database.session() as session:
            start = time.perf_counter()
            customer, _ = customers.resolve_customer(
                session=session, ref=CustomerRef(email=f"customer{n % 400}@example.com"), actor=SYSTEM
            )
            tickets.open_ticket(
                session=session,
                customer_id=customer.id,
                subject=f"Help with order {n}",
                channel=(Channel.email, Channel.chat, Channel.web)[n % 3],
                body=MESSAGES[n % len(MESSAGES)].format(n=10_000 + n),
                body_html=None,
                attachments=[],
                channel_meta={},
                actor=SYSTEM,
            )
            session.commit()
            opened.append((time.perf_counter() - start) * 1000)
    start = time.perf_counter()
    while True:
        with runtime.database.session(write=False) as reader:
            waiting = feeds.untriaged_message_ids(session=reader, limit=1)
            if not waiting:
                break
            prepared = triage.prepare_batch(
                session=reader, engine=runtime.triage, first_id=waiting[0], limit=64
            )
        with runtime.database.session() as session:
            triage.save_batch(session=session, prepared=prepared)
            session.commit()
    triaged = time.perf_counter() - start
    runtime.close()
    return opened, triaged


def dispatch(source: Path, work: Path, *, with_consumers: bool) -> tuple[int, float]:
    """Dispatch every waiting event of a copy of ``source``; return (events, seconds)."""
    for suffix in ("", "-wal", "-shm"):
        if Path(f"{source}{suffix}").exists():
            shutil.copyfile(f"{source}{suffix}", f"{work}{suffix}")
    runtime = _runtime(work)
    consumers = runtime.consumers if with_consumers else []
    handed = 0
    start = time.perf_counter()
    while True:
        with runtime.database.session() as session:
            done = events.dispatch(session=session, consumers=consumers, limit=200)
            session.commit()
        handed += done
        if done < 200:
            break
    seconds = time.perf_counter() - start
    with runtime.database.session(write=False) as session:
        failed = session.scalar(select(func.count()).where(Event.errors.is_not(None))) or 0
    if failed:
        raise SystemExit(f"{failed} events had a consumer fail: the benchmark would measure an error path")
    runtime.close()
    return handed, seconds


def report_latency(path: Path, repeats: int = 30) -> dict[str, float]:
    """Median ms of each report over the aggregates (a month, by day, broken down by channel)."""
    runtime = _runtime(path)
    boss = Principal(kind="user", id=1, role=Role.admin)
    today = utcnow().date()
    query = ReportQuery(start=today - dt.timedelta(days=30), end=today, by=Dimension.channel)
    result: dict[str, float] = {}
    for name in ReportName:
        timings = []
        for _ in range(repeats):
            with runtime.database.session(write=False) as session:
                start = time.perf_counter()
                reports.report(session=session, principal=boss, name=name, query=query)
                timings.append((time.perf_counter() - start) * 1000)
        result[name.value] = statistics.median(timings)
    runtime.close()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tickets", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ombud-bench-workflow-") as folder:
        source = Path(folder) / "source.db"
        opened, triaged = fill(source, args.tickets)
        print(f"opened {args.tickets} tickets: p50 {statistics.median(opened):.2f} ms each (event included)")
        print(f"triaged them in {triaged:.1f} s")
        rates: dict[bool, list[float]] = {False: [], True: []}
        events_count = 0
        for run in range(args.runs):
            for with_consumers in (False, True):
                work = Path(folder) / f"run{run}-{int(with_consumers)}.db"
                events_count, seconds = dispatch(source, work, with_consumers=with_consumers)
                rates[with_consumers].append(seconds * 1000 / events_count)
                if with_consumers and run == args.runs - 1:
                    latency = report_latency(work)
        bare, full = statistics.median(rates[False]), statistics.median(rates[True])
        print(f"dispatched {events_count} events per run, {args.runs} runs each, medians:")
        print(f"  no consumers:    {bare:.3f} ms per event")
        print(f"  every consumer:  {full:.3f} ms per event ({full / bare:.1f}x; {1000 / full:.0f} events/s)")
        print("reports over the aggregates (30 days by channel), median ms:")
        for name, ms in latency.items():
            print(f"  {name:<12} {ms:.2f}")


if __name__ == "__main__":
    main()
