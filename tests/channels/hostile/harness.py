"""Deliver hostile emails over real SMTP and check what ombud made of them (shared by the pytest subset
and benchmarks/bench_hostile_email.py)."""

from __future__ import annotations

import hashlib
import smtplib
import statistics
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ombud.channels.models import InboundEmail, Quarantined, RawSource
from ombud.tickets.models import Attachment, AuthorType, Message
from tests.channels.hostile.corpus import SUPPORT, HostileEmail, Victim, zip_bomb


@dataclass
class Sent:
    item: HostileEmail
    smtp: str  # "250" or "refused:<code>" or "error:<what>"
    seconds: float
    refused_recipients: int = 0


def send(port: int, item: HostileEmail, *, timeout: float = 120) -> Sent:
    """Hand ``item`` to the SMTP receiver on ``port`` as a mail server would; never raises."""
    t0 = time.perf_counter()
    refused = 0
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=timeout) as client:
            rejected = client.sendmail(item.mail_from, list(item.rcpt_tos), item.raw)
            refused = len(rejected)
        outcome = "250"
    except smtplib.SMTPDataError as error:
        outcome = f"refused:{error.smtp_code}"
    except smtplib.SMTPResponseException as error:
        outcome = f"refused:{error.smtp_code}"
    except smtplib.SMTPRecipientsRefused:
        outcome = "refused:rcpt"
    except (OSError, smtplib.SMTPException) as error:
        outcome = f"error:{type(error).__name__}"
    return Sent(item=item, smtp=outcome, seconds=time.perf_counter() - t0, refused_recipients=refused)


def flood(port: int, items: Sequence[HostileEmail], *, clients: int = 4) -> list[Sent]:
    """Send ``items`` from ``clients`` concurrent senders (one connection per email, as MTAs retry)."""
    results: list[Sent] = []
    lock = threading.Lock()
    shares = [list(items[i::clients]) for i in range(clients)]

    def run(share: list[HostileEmail]) -> None:
        for item in share:
            sent = send(port, item)
            with lock:
                results.append(sent)

    threads = [threading.Thread(target=run, args=(share,)) for share in shares]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def outcome_of(session: Session, sent: Sent) -> str:
    """ "stored", "quarantined:<code>", "duplicate" (accepted, nothing new kept) or the SMTP refusal."""
    if sent.smtp != "250":
        return sent.smtp
    digest = sent.item.sha256
    if session.scalar(select(InboundEmail.message_id).where(InboundEmail.raw_sha256 == digest).limit(1)):
        return "stored"
    code = session.scalar(select(Quarantined.reason_code).where(Quarantined.raw_sha256 == digest).limit(1))
    return f"quarantined:{code}" if code else "duplicate"


# -- the stored HTML, checked against the sanitiser's policy by an independent parser --------------------
ALLOWED_TAGS = {
    *[
        "a",
        "abbr",
        "b",
        "blockquote",
        "br",
        "code",
        "del",
        "div",
        "em",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "hr",
        "i",
        "img",
        "li",
        "ol",
        "p",
        "pre",
        "s",
        "span",
        "strong",
    ],
    *["sub", "sup", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "u", "ul"],
}
ALLOWED_ATTRS = {
    "a": {"href", "title", "rel"},
    "img": {"src", "alt", "title"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan"},
}
# ammonia's generic attributes, allowed on every tag (text, never run).
GENERIC_ATTRS = {"lang", "title"}
SAFE_SCHEMES = {"", "http", "https", "mailto", "cid"}


class _Audit(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in ALLOWED_TAGS:
            self.problems.append(f"tag <{tag}>")
        for name, value in attrs:
            if name not in ALLOWED_ATTRS.get(tag, set()) | GENERIC_ATTRS:
                self.problems.append(f"attribute {name} on <{tag}>")
            if name in ("href", "src") and value is not None:
                scheme = urlsplit(value.strip()).scheme.lower()
                if scheme not in SAFE_SCHEMES:
                    self.problems.append(f"{scheme}: URL in <{tag}>")
                if tag == "img" and scheme != "cid":
                    self.problems.append(f"remote image {value[:60]}")


def html_problems(html: str) -> list[str]:
    audit = _Audit()
    audit.feed(html)
    audit.close()
    return audit.problems


@dataclass
class Report:
    outcomes: dict[str, str] = field(default_factory=dict)  # email name -> outcome
    problems: list[str] = field(default_factory=list)

    def add(self, problem: str) -> None:
        self.problems.append(problem)


def check(
    session: Session,
    sent: Sequence[Sent],
    *,
    victim: Victim,
    victim_ticket_id: int,
    max_attachment_bytes: int,
    max_attachments: int,
    max_body_chars: int,
) -> Report:
    """Every promise of the intake, checked on what the database holds after ``sent`` were delivered."""
    report = Report()
    for item in sent:
        found = outcome_of(session, item)
        report.outcomes[item.item.name] = found
        if item.smtp.startswith("error") or item.smtp == "refused:451":
            report.add(f"{item.item.name}: the receiver failed ({item.smtp})")
        elif found not in item.item.expect:
            report.add(f"{item.item.name}: {found}, expected one of {sorted(item.item.expect)}")
    stored_shas = {s.item.sha256 for s in sent if report.outcomes[s.item.name] == "stored"}
    messages = session.scalars(
        select(Message)
        .join(InboundEmail, InboundEmail.message_id == Message.id)
        .where(InboundEmail.raw_sha256.in_(stored_shas))
    ).all()
    for message in messages:
        for name, text in (("body", message.body_text), ("html", message.body_html or "")):
            if "\x00" in text:
                report.add(f"message {message.id}: NUL in its {name}")
        if len(message.body_text) > max_body_chars + 100:
            report.add(f"message {message.id}: body of {len(message.body_text)} chars")
        if message.body_html:
            report.problems += [f"message {message.id}: {p}" for p in html_problems(message.body_html)]
    # No forged header threads a stranger into the victim's ticket.
    for message in session.scalars(
        select(Message).where(
            Message.ticket_id == victim_ticket_id, Message.author_type == AuthorType.customer
        )
    ):
        if (message.channel_meta or {}).get("from") != victim.email:
            report.add(
                f"message {message.id} from {message.channel_meta.get('from')} is in the victim's ticket"
            )
    # Attachments: within the limits, archives kept as sent (never unpacked).
    attachments = session.scalars(select(Attachment)).all()
    per_message: dict[int, int] = {}
    for attachment in attachments:
        per_message[attachment.message_id] = per_message.get(attachment.message_id, 0) + 1
        if attachment.size > max_attachment_bytes:
            report.add(f"attachment {attachment.id}: {attachment.size} bytes")
    if any(count > max_attachments for count in per_message.values()):
        report.add("a message has more attachments than the limit")
    bombs = {hashlib.sha256(zip_bomb(k)[2]).hexdigest(): zip_bomb(k)[0] for k in range(4)}
    sent_bombs = {
        s.item.name for s in sent if s.item.kind == "zip_bombs" and report.outcomes[s.item.name] == "stored"
    }
    if sent_bombs:
        kept = {a.sha256 for a in attachments} & set(bombs)
        if not kept:
            report.add("no zip bomb was kept byte for byte as an attachment")
    # Storage: every kept source belongs to a message or a quarantined item; none is bigger than sent.
    orphans = session.scalar(
        select(func.count())
        .select_from(RawSource)
        .where(
            RawSource.sha256.not_in(select(InboundEmail.raw_sha256)),
            RawSource.sha256.not_in(select(Quarantined.raw_sha256)),
        )
    )
    if orphans:
        report.add(f"{orphans} raw sources belong to nothing")
    accepted = sum(len(s.item.raw) for s in sent if s.smtp == "250")
    kept_bytes = session.scalar(select(func.coalesce(func.sum(RawSource.size), 0))) or 0
    if kept_bytes > accepted + 10 * 1024 * 1024:  # the victim's own mails and normal messages: small
        report.add(f"{kept_bytes} bytes of sources kept for {accepted} bytes accepted")
    return report


def normal_mail(n: int, tag: str) -> tuple[str, bytes]:
    """A normal customer email (sender, bytes) that triage has words to read."""
    sender = f"normal{n}.{tag}@customers.example"
    raw = (
        f"From: Normal Customer <{sender}>\r\nTo: {SUPPORT}\r\nSubject: Refund for order A-{n}\r\n"
        f"Message-ID: <normal.{tag}.{n}@customers.example>\r\n\r\n"
        "Hello, I was charged twice for order A-1004 and would like a refund of the second payment.\r\n"
    ).encode()
    return sender, raw


def timed_normal(port: int, n: int, tag: str, triaged: Callable[[str], bool], *, bound: float = 120) -> float:
    """Seconds from handing a normal email to SMTP until ``triaged(message_id)`` says it is triaged."""
    sender, raw = normal_mail(n, tag)
    ref = f"normal.{tag}.{n}@customers.example"
    t0 = time.perf_counter()
    with smtplib.SMTP("127.0.0.1", port, timeout=bound) as client:
        client.sendmail(sender, [SUPPORT], raw)
    while not triaged(ref):
        if time.perf_counter() - t0 > bound:
            return float("inf")
        time.sleep(0.02)
    return time.perf_counter() - t0


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def summary(report: Report, sent: Sequence[Sent]) -> dict[str, Any]:
    """Per kind: how many, each outcome's count, seconds per email (median, max)."""
    kinds: dict[str, dict[str, Any]] = {}
    for item in sent:
        row = kinds.setdefault(item.item.kind, {"n": 0, "outcomes": {}, "seconds": []})
        row["n"] += 1
        outcome = report.outcomes.get(item.item.name, item.smtp)
        row["outcomes"][outcome] = row["outcomes"].get(outcome, 0) + 1
        row["seconds"].append(item.seconds)
    for row in kinds.values():
        seconds = sorted(row.pop("seconds"))
        row["median_s"] = round(median(seconds), 3)
        row["max_s"] = round(seconds[-1], 3)
    return kinds
