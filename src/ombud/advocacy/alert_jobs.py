"""The spike alert email: when alerts open on a theme (:func:`ombud.advocacy.alerts.check_theme`), the
owning department's ``notify_email`` gets one short email about them (plain text and HTML: the theme, each
alert's metric, segment, count against its baseline and growth, when the theme was first seen, a few
quotes and the link to the theme page), sent by :data:`EMAIL_JOB` after the alert's transaction commits.

The job takes the id of the first alert opened; the alerts opened with it (same theme, same detection
time) are in the same email. It claims the alert in a short transaction (so two runs never both send),
sends with no database lock held, then records the outcome on the alerts' ``evidence["emailed"]``:
``{"state": "sent", "to", "at"}``, or ``{"state": "not_sent", "error", "at"}`` (no relay, no notify
email, the relay refused), or ``{"state": "retrying", ...}`` while a relay that said "try later" is tried
again with backoff. A run for an alert whose email is sent or given up sends nothing.
"""

from __future__ import annotations

import datetime as dt
import functools
import html
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ombud.accounts.schemas import SYSTEM
from ombud.advocacy import alerts
from ombud.advocacy.digest_schemas import theme_url
from ombud.advocacy.models import SpikeAlert, Theme
from ombud.audit import service as audit
from ombud.channels.email.service import EmailAdapter
from ombud.channels.registry import Channels, TryLater, Undeliverable
from ombud.storage.base import utcnow
from ombud.storage.db import Database
from ombud.storage.queue import JobQueue, defer_in

log = logging.getLogger(__name__)

EMAIL_JOB = alerts.EMAIL_JOB
KEY = alerts.EMAIL_KEY
# The relay said "try later": again after these waits, then give up.
RETRY_WAITS = (dt.timedelta(minutes=2), dt.timedelta(minutes=10), dt.timedelta(minutes=30))
# A run's claim on an alert: another run leaves it alone this long (a worker that died mid-send).
CLAIM = dt.timedelta(minutes=15)
QUOTES = 3
SPIKES_PATH = "/agent/advocacy/spikes"


@dataclass(frozen=True)
class AlertEmail:
    to: str
    subject: str
    text: str
    html: str
    spike_ids: list[int]


def _claim(*, database: Database, spike_id: int, now: dt.datetime) -> tuple[str, int] | None:
    """Take the alert for this run (its own committed transaction); return the run's token and attempt
    number, or None when there is nothing to do (no alert, already sent or given up, another run's claim
    holds)."""
    with database.session() as claim:
        alert = claim.get(SpikeAlert, spike_id, with_for_update=True)
        outcome = (alert.evidence or {}).get(KEY) if alert is not None else None
        if alert is None or (isinstance(outcome, dict) and outcome.get("state") in ("sent", "not_sent")):
            claim.rollback()
            return None
        previous = outcome if isinstance(outcome, dict) else {}
        until = previous.get("until")
        if previous.get("state") == "sending" and until and dt.datetime.fromisoformat(str(until)) > now:
            claim.rollback()
            return None
        token, attempt = uuid.uuid4().hex, int(previous.get("attempts") or 0) + 1
        alert.evidence = {
            **(alert.evidence or {}),
            KEY: {
                "state": "sending",
                "until": (now + CLAIM).isoformat(),
                "token": token,
                "attempts": attempt,
            },
        }
        claim.commit()
        return token, attempt


def _one_line(text: str, limit: int = 120) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "\u2026"


def _line(alert: SpikeAlert) -> str:
    what = alerts._WHAT.get(alert.metric, alert.metric)
    where = f" in {alert.segment}" if alert.segment else ""
    if alert.metric == "frustration":
        growth = f", {alert.growth * 100:+.0f} % over the usual" if alert.growth else ""
    else:
        growth = f", growing {alert.growth * 100:+.0f} % an hour" if alert.growth else ""
    return (
        f"{what}{where}: {alert.count:g} since {alert.started_at:%Y-%m-%d %H:%M} UTC against "
        f"{alert.baseline:.2f} expected{growth} (spike #{alert.id})"
    )


def compose(*, session: Session, spike_id: int, base_url: str) -> AlertEmail | str:
    """Return the email about alert ``spike_id`` and those opened with it, or why there is none."""
    alert = session.get(SpikeAlert, spike_id)
    if alert is None:
        return "the alert is gone"
    department = alerts.owning_department(session=session, theme_id=alert.theme_id)
    if department is None or not department.notify_email:
        return "the owning department has no notify email"
    batch: Sequence[SpikeAlert] = session.scalars(
        select(SpikeAlert)
        .where(SpikeAlert.theme_id == alert.theme_id, SpikeAlert.detected_at == alert.detected_at)
        .order_by(SpikeAlert.id)
    ).all() or [alert]
    theme = session.get(Theme, alert.theme_id)
    name = _one_line((theme.name or theme.label) if theme else "") or f"Theme {alert.theme_id}"
    evidence = alert.evidence or {}
    first_seen = evidence.get("first_seen_at")
    first_text = f"{dt.datetime.fromisoformat(first_seen):%Y-%m-%d %H:%M} UTC" if first_seen else "unknown"
    quotes: list[str] = []
    for sample in evidence.get("samples") or []:
        text = _one_line(str(sample.get("text") or ""), 300)
        if text and text not in quotes and len(quotes) < QUOTES:
            quotes.append(text)
    link = base_url.rstrip("/") + theme_url(alert.theme_id)
    spikes_link = base_url.rstrip("/") + SPIKES_PATH
    lines = [_line(a) for a in batch]
    why = f"{department.notify_email} is the notify email of the department {department.name} in ombud."
    text = "\n".join(
        [
            f"Spike in the theme \u201c{name}\u201d (department {department.name}):",
            "",
            *(f"- {line}" for line in lines),
            "",
            f"Theme first seen: {first_text}",
            *(["", "What customers wrote:", *(f"  \u201c{q}\u201d" for q in quotes)] if quotes else []),
            "",
            f"Theme page: {link}",
            f"All spikes: {spikes_link}",
            "",
            f"You get this email because {why}",
        ]
    )
    e = html.escape
    body = "".join(
        [
            f"<p>Spike in the theme <strong>{e(name)}</strong> (department {e(department.name)}):</p>",
            "<ul>",
            *(f"<li>{e(line)}</li>" for line in lines),
            "</ul>",
            f"<p>Theme first seen: {e(first_text)}</p>",
            *(
                ["<p>What customers wrote:</p>", *(f"<blockquote>{e(q)}</blockquote>" for q in quotes)]
                if quotes
                else []
            ),
            f'<p><a href="{e(link)}">Open the theme</a> &middot; ',
            f'<a href="{e(spikes_link)}">All spikes</a></p>',
            f'<p style="color:#666;font-size:12px">You get this email because {e(why)}</p>',
        ]
    )
    return AlertEmail(
        to=department.notify_email.strip(),
        subject=_one_line(
            f"Spike: {name}: {alerts._WHAT.get(alert.metric, alert.metric)} {alert.count:g} vs "
            f"{alert.baseline:.2f} expected",
            200,
        ),
        text=text,
        html=f"<!doctype html><html><body>{body}</body></html>",
        spike_ids=[a.id for a in batch],
    )


def send_alert_email(
    *, session: Session, database: Database, channels: Channels, base_url: str, spike_id: int
) -> None:
    """Email the owning department about alert ``spike_id`` (the job). Idempotent: an alert whose email
    was sent or given up, or that another run holds, is left alone."""
    now = utcnow()
    claimed = _claim(database=database, spike_id=spike_id, now=now)
    if claimed is None:
        return
    token, attempt = claimed
    with database.session(write=False) as reader:
        mail = compose(session=reader, spike_id=spike_id, base_url=base_url)
    outcome: dict[str, Any]
    spike_ids = [spike_id]
    retry: dt.timedelta | None = None
    if isinstance(mail, str):
        outcome = {"state": "not_sent", "error": mail, "at": now.isoformat()}
    else:
        spike_ids = mail.spike_ids
        adapter = channels.for_ticket_channel("email")
        try:
            if not isinstance(adapter, EmailAdapter):
                raise Undeliverable("the email channel is not set up: set OMBUD_SMTP_RELAY to host:port")
            adapter.send_notice(to=mail.to, subject=mail.subject, text=mail.text, html=mail.html)
        except Undeliverable as exc:
            outcome = {"state": "not_sent", "to": mail.to, "error": str(exc) or "undeliverable"}
        except TryLater as exc:
            outcome = {"state": "not_sent", "to": mail.to, "error": str(exc) or "try later"}
            if attempt <= len(RETRY_WAITS):
                retry = RETRY_WAITS[attempt - 1]
                outcome.update(state="retrying", retry_in_seconds=int(retry.total_seconds()))
        else:
            outcome = {"state": "sent", "to": mail.to}
        outcome.update(at=now.isoformat(), attempts=attempt)
    # The outcome, in the job's own short transaction (nothing was written in it before the send).
    alert = session.get(SpikeAlert, spike_id, with_for_update=True)
    held = (alert.evidence or {}).get(KEY) if alert is not None else None
    if alert is None or not isinstance(held, dict) or held.get("token") != token:
        log.warning("spike %s email: the run lost its claim; its outcome is not recorded", spike_id)
        return
    for each in session.scalars(select(SpikeAlert).where(SpikeAlert.id.in_(spike_ids))).all() or [alert]:
        record = (each.evidence or {}).get(KEY)
        if each.id == spike_id or not isinstance(record, dict) or record.get("spike_id") == spike_id:
            each.evidence = {**(each.evidence or {}), KEY: {**outcome, "spike_id": spike_id}}
    session.flush()
    if retry is not None:
        defer_in(session, EMAIL_JOB, retry, spike_id=spike_id)
        log.info("spike %s email: relay said try later (%s); again in %s", spike_id, outcome["error"], retry)
        return
    audit.record(
        session=session,
        actor=SYSTEM,
        action="advocacy.spike.emailed" if outcome["state"] == "sent" else "advocacy.spike.email_failed",
        entity_type="advocacy_spike",
        entity_id=spike_id,
        after={**outcome, "spike_ids": spike_ids},
    )


def register(queue: JobQueue, *, database: Database, channels: Channels, base_url: str) -> None:
    queue.register(
        EMAIL_JOB,
        functools.partial(send_alert_email, database=database, channels=channels, base_url=base_url),
        # Retries are scheduled by the job itself with backoff and recorded on the alert.
        retries=0,
    )
