"""The built-in SMTP receiver: `ombud serve` listens on OMBUD_SMTP_PORT and takes in every email sent
to it, as the company's mail server would hand mail over (the embedded default; IMAP polling and a
real mail server are the same code path)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope
from aiosmtpd.smtp import Session as SmtpSession
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ombud.channels.email.service import EmailConfig, Received, parse_for_intake, receive_email
from ombud.storage.db import Database

log = logging.getLogger(__name__)


def take_in(
    *,
    database: Database,
    raw: bytes,
    source: str,
    config: EmailConfig,
    also: Callable[[Session], None] | None = None,
) -> Received:
    """Store one raw email in its own transaction; a duplicate delivered at the same moment by a second
    connection loses the race on the Message-ID and is then found to be a duplicate. ``also`` runs in
    the same transaction (IMAP moves its cursor past the email there: stored and counted as read, or
    neither)."""
    # Parsed once, before the transaction (a hostile email takes seconds to parse; a retry after a lost
    # race need not parse it again).
    parsed = parse_for_intake(raw, config=config)
    for attempt in (1, 2):
        try:
            with database.session(write=True) as session:
                received = receive_email(
                    session=session, raw=raw, source=source, config=config, parsed=parsed
                )
                if also is not None:
                    also(session)
                session.commit()
                return received
        except IntegrityError:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


# Postfix's smtpd_recipient_limit: ombud reads no envelope recipient, so more only cost memory.
MAX_RECIPIENTS = 1000


class _Handler:
    def __init__(self, database: Database, config: EmailConfig) -> None:
        self.database = database
        self.config = config

    async def handle_RCPT(
        self, server: SMTP, session: SmtpSession, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        if len(envelope.rcpt_tos) >= MAX_RECIPIENTS:
            # 452: the sender delivers to the recipients taken so far and retries the rest later.
            return "452 4.5.3 too many recipients"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: SmtpSession, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        peer = session.peer[0] if isinstance(session.peer, tuple) else str(session.peer)
        try:
            # The database is synchronous: keep the event loop free for other connections.
            received = await asyncio.to_thread(
                take_in, database=self.database, raw=raw, source=f"smtp:{peer}", config=self.config
            )
        except Exception:
            log.exception("could not store an email from %s", peer)
            # 451: the sender keeps the mail and tries again later; nothing is lost.
            return "451 4.3.0 could not store the message now; try again later"
        if received.outcome == "quarantined":
            log.info("email from %s quarantined: %s", envelope.mail_from, received.reason)
        return "250 2.0.0 message accepted"


class _TolerantSMTP(SMTP):
    # RFC 5321 caps a line at 1,000 octets, but real mail breaks it (Postfix passes lines up to 2,048 and
    # some clients send whole HTML bodies on one line): take such mail in rather than bounce it.
    line_length_limit = 64 * 1024


class _Controller(Controller):
    def factory(self) -> SMTP:
        return _TolerantSMTP(self.handler, **self.SMTP_kwargs)


class SmtpReceiver:
    """The SMTP receiver on a background thread (aiosmtpd's Controller), started and stopped by serve."""

    def __init__(self, *, database: Database, config: EmailConfig, host: str, port: int) -> None:
        # Our own loop, so stop() can close it (the Controller leaves the one it makes open).
        self._loop = asyncio.new_event_loop()
        self._controller = _Controller(
            _Handler(database, config),
            loop=self._loop,
            hostname=host,
            port=port,
            # Over this size the client is told 552 before it sends the rest: a clear rejection.
            data_size_limit=config.max_email_bytes,
            decode_data=False,
            timeout=60,
        )

    @property
    def port(self) -> int:
        server: Any = self._controller.server
        return int(server.sockets[0].getsockname()[1])

    def start(self) -> None:
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()
        self._loop.close()
