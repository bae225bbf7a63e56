#!/usr/bin/env python3
"""Benchmark hostile email: the whole generated corpus (tests/channels/hostile/corpus.py, 1,000 emails by
default, 16 kinds) through the SMTP receiver of a real `ombud serve` (fresh SQLite OMBUD_HOME, the embedded
default: its in-process worker triages), from C concurrent senders (default 8).

Prints per kind: how many, the outcomes (stored / quarantined:<reason> / refused:<SMTP code>), seconds per
email from connect to the server's answer (median, max); every broken promise (a 451 or a dropped
connection, an unexpected outcome, unsanitised HTML, a forged header in the victim's ticket, an archive
not kept byte for byte, a source kept for nothing); and the latency of a normal email, from SMTP to
triaged, sent alone (median of 5) and during the flood (one every 2 s, median).

Usage:
  .venv/bin/python benchmarks/bench_hostile_email.py                 # 1,000 emails, 8 senders
  .venv/bin/python benchmarks/bench_hostile_email.py --size 64 --clients 4
Output: a table on stdout; everything in --out (default /tmp/ombud-bench-hostile.json).
"""

from __future__ import annotations

import argparse
import json
import shutil
import smtplib
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).parent))
from bench_core import OmbudServer, cpu_check, free_port, git_state, machine_info  # noqa: E402
from tests.channels.hostile import harness  # noqa: E402
from tests.channels.hostile.corpus import SUPPORT, Victim, build_corpus  # noqa: E402

from ombud.channels.models import ChannelRef  # noqa: E402
from ombud.tickets.models import Message, Ticket  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seed", type=int, default=10)
    parser.add_argument("--out", default="/tmp/ombud-bench-hostile.json")
    args = parser.parse_args()
    result: dict[str, Any] = {"args": vars(args), "machine": machine_info(), "git": git_state()}
    result["cpu_check_before"] = cpu_check()
    home = Path(tempfile.mkdtemp(prefix="ombud-bench-hostile-"))
    smtp_port = free_port()
    server = OmbudServer(
        home,
        free_port(),
        args=("--smtp-port", str(smtp_port), "--no-imap"),
        env={"OMBUD_EMAIL_ADDRESS": SUPPORT, "OMBUD_EMAIL_FLOOD_LIMIT": "100000"},
    )
    server.setup()
    for attempt in (1, 2, 3):  # on a busy shared machine start-up can take over bench_core's 60 s
        try:
            server.start()
            break
        except RuntimeError:
            if attempt == 3:
                raise
    engine = create_engine(f"sqlite:///{server.db_path}")
    try:

        def triaged(ref: str) -> bool:
            with Session(engine) as session:
                row = session.scalar(select(ChannelRef).where(ChannelRef.ref == ref))
                if row is None:
                    return False
                message = session.get(Message, row.message_id)
                return message is not None and message.triaged_at is not None

        # The first email loads the triage models; then the victim's ticket that forged headers aim at.
        result["first_email_s"] = round(harness.timed_normal(smtp_port, 0, "warmup", triaged, bound=300), 2)
        victim = Victim()
        raw = (
            f"From: Vic Tim <{victim.email}>\r\nTo: {SUPPORT}\r\nSubject: My refund\r\n"
            f"Message-ID: <{victim.message_id}>\r\n\r\nWhere is my refund for order A-77?\r\n"
        ).encode()
        with smtplib.SMTP("127.0.0.1", smtp_port, timeout=120) as client:
            client.sendmail(victim.email, [SUPPORT], raw)
        with Session(engine) as session:
            ticket_id = session.scalar(
                select(ChannelRef.ticket_id).where(ChannelRef.ref == victim.message_id)
            )
        assert ticket_id is not None
        victim = Victim(ticket_id=ticket_id, reply_id=f"ombud.{ticket_id}.999999@northwind.example")
        alone = [harness.timed_normal(smtp_port, n, "alone", triaged) for n in range(5)]
        print(f"normal email alone: median {harness.median(alone):.2f} s ({[round(a, 2) for a in alone]})")
        t0 = time.perf_counter()
        items = build_corpus(args.size, seed=args.seed, victim=victim)
        print(
            f"corpus: {len(items)} emails, {sum(len(i.raw) for i in items) / 1e6:.0f} MB, "
            f"generated in {time.perf_counter() - t0:.0f} s",
            flush=True,
        )
        sent: list[harness.Sent] = []
        t0 = time.perf_counter()
        flooding = threading.Thread(
            target=lambda: sent.extend(harness.flood(smtp_port, items, clients=args.clients))
        )
        flooding.start()
        during: list[float] = []
        n = 0
        while flooding.is_alive():
            during.append(harness.timed_normal(smtp_port, n, "flood", triaged))
            n += 1
            flooding.join(timeout=2.0)
        wall = time.perf_counter() - t0
        with Session(engine) as session:
            report = harness.check(
                session,
                sent,
                victim=victim,
                victim_ticket_id=ticket_id,
                max_attachment_bytes=10 * 1024 * 1024,
                max_attachments=20,
                max_body_chars=200_000,
            )
            tickets = session.scalar(select(Ticket.id).order_by(Ticket.id.desc()).limit(1))
        kinds = harness.summary(report, sent)
        result.update(
            {
                "flood_wall_s": round(wall, 1),
                "emails_per_s": round(len(sent) / wall, 2),
                "kinds": kinds,
                "problems": report.problems,
                "normal_alone_s": [round(a, 3) for a in alone],
                "normal_during_s": [round(d, 3) for d in during],
                "normal_alone_median_s": round(harness.median(alone), 3),
                "normal_during_median_s": round(harness.median(during), 3),
                "normal_during_max_s": round(max(during), 3) if during else None,
                "tickets": tickets,
                "db_mib": round(server.db_path.stat().st_size / 2**20, 1),
                "server_peak_rss_mib": round(server.memory().get("VmHWM", 0) / 1024, 1),
            }
        )
    finally:
        engine.dispose()
        server.stop()
    result["cpu_check_after"] = cpu_check()
    print(f"\n{'kind':<22} {'n':>4}  {'median s':>8} {'max s':>7}  outcomes")
    for kind, row in result["kinds"].items():
        outcomes = ", ".join(f"{k} {v}" for k, v in sorted(row["outcomes"].items()))
        print(f"{kind:<22} {row['n']:>4}  {row['median_s']:>8} {row['max_s']:>7}  {outcomes}")
    print(
        f"\nflood: {len(sent)} emails in {result['flood_wall_s']} s ({result['emails_per_s']}/s) from "
        f"{args.clients} senders; database {result['db_mib']} MiB; server peak RSS "
        f"{result['server_peak_rss_mib']} MiB"
    )
    print(
        f"normal email, SMTP to triaged: alone median {result['normal_alone_median_s']} s; during the flood "
        f"median {result['normal_during_median_s']} s, max {result['normal_during_max_s']} s "
        f"({len(result['normal_during_s'])} sent)"
    )
    print(f"problems: {len(report.problems)}")
    for problem in report.problems[:50]:
        print("  ", problem)
    print(f"cpu_check before {result['cpu_check_before']} after {result['cpu_check_after']}")
    Path(args.out).write_text(json.dumps(result, indent=1))
    # The server's log says why anything failed (a 451's traceback): kept beside the results.
    shutil.copyfile(server.log, args.out + ".server.log")
    shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
