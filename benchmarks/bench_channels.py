#!/usr/bin/env python3
"""Benchmark the channels' intake: emails per second through the SMTP receiver and through IMAP polling,
and chat round trips with many open WebSockets. Loopback only; every loop is bounded in count and time.

  smtp   `ombud serve --no-worker` (so the number is intake: parse, thread, store, queue the triage job)
         on a fresh SQLite OMBUD_HOME; 1 and then 8 concurrent SMTP clients, each on one connection
         (as a mail server hands mail over), N emails in all, each from its own sender and with its
         own Message-ID, drawn from the test corpus of real-looking emails. Counted: emails/s from the
         first MAIL FROM to the last 250 reply; every 250 means stored.
  imap   a private Dovecot (tests/channels/dovecot.py, Debian's dovecot-imapd), N emails appended to one
         mailbox (1 poller) or spread over 8 mailboxes (8 pollers at once); emails/s of the pass that
         takes them in (`poll_mailbox`), in this process, into a fresh SQLite database.
  chat   `ombud serve` with its in-process worker (the embedded default, so triage of every line runs
         on the same two cores), C open visitor WebSockets (default 200); every visitor sends L lines
         one after another, all visitors at once. Round trip: the line sent -> its `ack` (stored) back.
         Then an agent's reply through the API -> the `message` frame on the visitor's socket.

Usage:
  .venv/bin/python benchmarks/bench_channels.py                 # N=2,000 emails, 200 chats x 5 lines
  .venv/bin/python benchmarks/bench_channels.py --quick         # a smoke run
Output: a table on stdout; everything in --out (default /tmp/ombud-bench-channels.json).
"""

from __future__ import annotations

import argparse
import asyncio
import email
import email.policy
import json
import smtplib
import sys
import tempfile
import threading
import time
import uuid
from email.utils import make_msgid
from pathlib import Path
from typing import Any

import httpx
import websockets

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests.channels.dovecot, the real IMAP server the tests use
sys.path.insert(0, str(Path(__file__).parent))
from bench_core import OmbudServer, cpu_check, free_port, git_state, machine_info, pct  # noqa: E402

CORPUS = ROOT / "tests" / "channels" / "emails"
SUPPORT = "support@northwind.example"
WALL_CAP = 600.0  # seconds for any one case


# ----------------------------------------------------------------- the emails
def corpus() -> list[bytes]:
    found = []
    for path in sorted(CORPUS.glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.compat32)
        if message.get("Auto-Submitted", "no").lower() != "no" or "report" in message.get_content_type():
            continue  # auto-replies and bounces are answered differently; time the ordinary mail
        found.append(path.read_bytes())
    return found


def fresh(raw: bytes, number: int) -> tuple[str, bytes]:
    """The email ``raw`` as a new message from its own sender: (sender, bytes)."""
    message = email.message_from_bytes(raw, policy=email.policy.compat32)
    sender = f"bench{number}@customers.example"
    for name in ("From", "Message-ID", "In-Reply-To", "References", "Return-Path", "Reply-To", "To"):
        del message[name]
    message["From"] = f"Bench Customer {number} <{sender}>"
    message["To"] = SUPPORT
    message["Message-ID"] = make_msgid(domain="customers.example")
    return sender, message.as_bytes()


# ----------------------------------------------------------------- SMTP
def smtp_case(port: int, emails: list[tuple[str, bytes]], clients: int) -> dict[str, Any]:
    shares = [emails[i::clients] for i in range(clients)]
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    deadline = time.monotonic() + WALL_CAP

    def client(share: list[tuple[str, bytes]]) -> None:
        own: list[float] = []
        with smtplib.SMTP("127.0.0.1", port, timeout=60) as smtp:
            for sender, raw in share:
                if time.monotonic() > deadline:
                    break
                t0 = time.perf_counter()
                try:
                    smtp.sendmail(sender, [SUPPORT], raw)
                except smtplib.SMTPResponseException as error:
                    with lock:
                        errors.append(repr(error))
                    continue
                own.append((time.perf_counter() - t0) * 1000)
        with lock:
            latencies.extend(own)

    threads = [threading.Thread(target=client, args=(share,)) for share in shares]
    t0 = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - t0
    latencies.sort()
    return {
        "clients": clients,
        "sent": len(latencies),
        "wall_s": round(wall, 2),
        "per_s": round(len(latencies) / wall, 1),
        "p50_ms": round(pct(latencies, 50), 1),
        "p99_ms": round(pct(latencies, 99), 1),
        "errors": errors[:5],
    }


def run_smtp(args: argparse.Namespace, mails: list[bytes]) -> list[dict[str, Any]]:
    results = []
    for clients in (1, 8):
        home = Path(tempfile.mkdtemp(prefix="ombud-bench-smtp-"))
        smtp_port = free_port()
        server = OmbudServer(
            home,
            free_port(),
            args=("--no-worker", "--smtp-port", str(smtp_port), "--no-imap"),
            env={"OMBUD_EMAIL_ADDRESS": SUPPORT},
        )
        server.setup()
        server.start()
        try:
            emails = [fresh(mails[i % len(mails)], clients * 1_000_000 + i) for i in range(args.emails)]
            result = smtp_case(smtp_port, emails, clients)
            result["stored"] = stored_messages(home / "ombud.db")
            result["server_rss_mib"] = round(server.memory().get("VmHWM", 0) / 1024, 1)
        finally:
            server.stop()
        print(
            f"  smtp, {clients} client(s): {result['per_s']} emails/s, p50 {result['p50_ms']} ms, "
            f"p99 {result['p99_ms']} ms, stored {result['stored']}/{result['sent']}",
            flush=True,
        )
        results.append(result)
    return results


def stored_messages(db_path: Path) -> int:
    import sqlite3

    with sqlite3.connect(db_path) as conn:
        return int(conn.execute("SELECT count(*) FROM messages").fetchone()[0])


# ----------------------------------------------------------------- IMAP
def run_imap(args: argparse.Namespace, mails: list[bytes]) -> list[dict[str, Any]]:
    from concurrent.futures import ThreadPoolExecutor

    from tests.channels.dovecot import DovecotServer, ensure_dovecot

    from ombud.channels.email.imap import poll_mailbox
    from ombud.runtime import build_runtime
    from ombud.settings import ImapMailbox, Settings
    from ombud.storage.schema import upgrade

    if ensure_dovecot() is None:
        print("  imap: skipped, no dovecot (installing dovecot-imapd needs root and apt-get)", flush=True)
        return []
    results = []
    for boxes in (1, 8):
        users = {f"box{i}@northwind.example": "secret" for i in range(boxes)}
        home = Path(tempfile.mkdtemp(prefix="ombud-bench-imap-"))
        with DovecotServer(users) as dovecot:
            for i in range(args.emails):
                user = f"box{i % boxes}@northwind.example"
                dovecot.append(user, "secret", fresh(mails[i % len(mails)], boxes * 1_000_000 + i)[1])
            settings = Settings(home=home, email_address=SUPPORT)
            runtime = build_runtime(settings)
            upgrade(runtime.database)
            mailboxes = [
                ImapMailbox(
                    name=f"box{i}",
                    host=dovecot.host,
                    port=dovecot.port,
                    username=user,
                    password="secret",
                    security="none",
                )
                for i, user in enumerate(users)
            ]
            t0 = time.perf_counter()
            with ThreadPoolExecutor(boxes) as pool:
                polls = [
                    pool.submit(poll_mailbox, database=runtime.database, mailbox=box, config=runtime.email)
                    for box in mailboxes
                ]
                taken = sum(poll.result() for poll in polls)
            wall = time.perf_counter() - t0
            runtime.close()
        result = {
            "mailboxes": boxes,
            "taken": taken,
            "wall_s": round(wall, 2),
            "per_s": round(taken / wall, 1),
            "stored": stored_messages(home / "ombud.db"),
        }
        print(
            f"  imap, {boxes} mailbox(es): {result['per_s']} emails/s, "
            f"stored {result['stored']}/{args.emails}",
            flush=True,
        )
        results.append(result)
    return results


# ----------------------------------------------------------------- chat
async def chat_case(
    server: OmbudServer, token: str, visitors: int, lines: int, rate: float, paced_seconds: float
) -> dict[str, Any]:
    ws_url = server.base.replace("http", "ws") + "/chat/ws"
    async with httpx.AsyncClient(base_url=server.base, timeout=60) as http:
        tokens = []
        for _ in range(visitors):
            started = await http.post("/chat/api/visitors", json={})
            tokens.append(started.json()["token"])
        sockets = []
        for visitor_token in tokens:
            ws = await websockets.connect(ws_url, max_queue=None)
            await ws.send(json.dumps({"type": "hello", "token": visitor_token}))
            assert json.loads(await ws.recv())["type"] == "welcome"
            sockets.append(ws)
        open_connections = len(sockets)
        by_ticket: dict[int, Any] = {}
        locks = [asyncio.Lock() for _ in sockets]
        deadline = time.monotonic() + WALL_CAP

        async def line_rtt(number: int, line: int) -> float:
            """Send one line on visitor ``number``'s socket; return ms until its ack."""
            ws = sockets[number]
            async with locks[number]:
                client_id = uuid.uuid4().hex
                text = f"Line {line} from visitor {number}: where is my order A-{10000 + number}?"
                t0 = time.perf_counter()
                await ws.send(json.dumps({"type": "message", "text": text, "client_id": client_id}))
                while True:
                    frame = json.loads(await ws.recv())
                    if frame.get("type") == "ack" and frame.get("client_id") == client_id:
                        break
                by_ticket.setdefault(frame["message"]["ticket_id"], ws)
                return (time.perf_counter() - t0) * 1000

        # Paced: lines at a steady rate spread over all open connections (open loop, as real chats are).
        paced: list[asyncio.Task[float]] = []
        interval = 1.0 / rate
        t_start = time.perf_counter()
        for tick in range(int(rate * paced_seconds)):
            await asyncio.sleep(max(0.0, t_start + tick * interval - time.perf_counter()))
            paced.append(asyncio.create_task(line_rtt(tick % len(sockets), 0)))
        paced_rtts = sorted(await asyncio.gather(*paced))

        # Burst: every visitor sends ``lines`` lines back to back, all at once (the saturation point).
        round_trips: list[float] = []

        async def visitor(number: int) -> None:
            for line in range(1, lines + 1):
                if time.monotonic() > deadline:
                    return
                round_trips.append(await line_rtt(number, line))

        t0 = time.perf_counter()
        await asyncio.gather(*(visitor(i) for i in range(len(sockets))))
        wall = time.perf_counter() - t0

        # Agent replies: API call -> the frame on the visitor's socket (through the delivery job).
        pushes: list[float] = []
        headers = {"Authorization": f"Bearer {token}"}
        for ticket_id in list(by_ticket)[: min(50, len(by_ticket))]:
            ws = by_ticket[ticket_id]
            t_send = time.perf_counter()
            await http.post(
                f"/api/v1/tickets/{ticket_id}/messages", json={"body": "On its way."}, headers=headers
            )
            while True:
                frame = json.loads(await asyncio.wait_for(ws.recv(), 30))
                if frame.get("type") == "message" and frame.get("author") == "agent":
                    break
            pushes.append((time.perf_counter() - t_send) * 1000)
        for ws in sockets:
            await ws.close()
    round_trips.sort()
    pushes.sort()
    return {
        "open_connections": open_connections,
        "paced_rate_per_s": rate,
        "paced_lines": len(paced_rtts),
        "paced_rtt_p50_ms": round(pct(paced_rtts, 50), 1),
        "paced_rtt_p99_ms": round(pct(paced_rtts, 99), 1),
        "lines": len(round_trips),
        "wall_s": round(wall, 2),
        "lines_per_s": round(len(round_trips) / wall, 1),
        "rtt_p50_ms": round(pct(round_trips, 50), 1),
        "rtt_p99_ms": round(pct(round_trips, 99), 1),
        "reply_push_p50_ms": round(pct(pushes, 50), 1),
        "reply_push_p99_ms": round(pct(pushes, 99), 1),
        "replies": len(pushes),
    }


def run_chat(args: argparse.Namespace) -> dict[str, Any]:
    home = Path(tempfile.mkdtemp(prefix="ombud-bench-chat-"))
    # One address opens every visitor here: the per-address limits are for the open internet.
    limits = {"OMBUD_EMAIL_FLOOD_LIMIT": "1000", "OMBUD_CHAT_VISITOR_LIMIT": "1000"}
    server = OmbudServer(home, free_port(), args=("--smtp-port", "0", "--no-imap"), env=limits)
    token = server.setup()
    server.start()
    try:
        result = asyncio.run(chat_case(server, token, args.chats, args.lines, args.rate, args.paced_seconds))
        result["server_rss_mib"] = round(server.memory().get("VmHWM", 0) / 1024, 1)
    finally:
        server.stop()
    print(
        f"  chat, {result['open_connections']} open: at {result['paced_rate_per_s']} lines/s round trip "
        f"p50 {result['paced_rtt_p50_ms']} ms, p99 {result['paced_rtt_p99_ms']} ms; all at once "
        f"p50 {result['rtt_p50_ms']} ms, p99 {result['rtt_p99_ms']} ms ({result['lines_per_s']} lines/s); "
        f"agent reply pushed p50 "
        f"{result['reply_push_p50_ms']} ms, p99 {result['reply_push_p99_ms']} ms",
        flush=True,
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--emails", type=int, default=2000)
    parser.add_argument("--chats", type=int, default=200)
    parser.add_argument("--lines", type=int, default=5)
    parser.add_argument("--rate", type=float, default=20.0, help="chat lines/s in the paced phase")
    parser.add_argument("--paced-seconds", type=float, default=20.0)
    parser.add_argument("--quick", action="store_true", help="200 emails, 50 chats x 2 lines")
    parser.add_argument("--only", choices=["smtp", "imap", "chat"], action="append")
    parser.add_argument("--out", default="/tmp/ombud-bench-channels.json")
    args = parser.parse_args()
    if args.quick:
        args.emails, args.chats, args.lines, args.paced_seconds = 200, 50, 2, 5.0
    only = set(args.only or ["smtp", "imap", "chat"])
    mails = corpus()
    report: dict[str, Any] = {
        "machine": machine_info(),
        "code": git_state(),
        "cpu_check": cpu_check(),
        "emails": args.emails,
        "corpus_files": len(mails),
    }
    print(f"cpu_check {report['cpu_check']}; {len(mails)} corpus emails, N={args.emails}", flush=True)
    if "smtp" in only:
        report["smtp"] = run_smtp(args, mails)
    if "imap" in only:
        report["imap"] = run_imap(args, mails)
    if "chat" in only:
        report["chat"] = run_chat(args)
    report["cpu_check_after"] = cpu_check()
    Path(args.out).write_text(json.dumps(report, indent=2))
    print(f"cpu_check after {report['cpu_check_after']}; results in {args.out}")


if __name__ == "__main__":
    main()
