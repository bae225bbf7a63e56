"""Fixtures for the channel tests: a real Dovecot IMAP server, a real SMTP relay that keeps what it is
given, and a runtime wired to that relay with the app and the cast."""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.policy
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import TypeVar

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from ombud.runtime import Runtime
from tests.channels.dovecot import DovecotServer, require_dovecot
from tests.mail_fixtures import (  # the receiver, api and cast fixtures: shared with test_privacy.py
    api_fixture,  # noqa: F401
    cast_fixture,  # noqa: F401
    free_port,  # other tests import it from here
    mail_settings,
    receiver_fixture,  # noqa: F401
    running_runtime,
)

SUPPORT = "support@northwind.example"


@dataclass
class Relay:
    """A real SMTP server standing in for the company's relay: it keeps what it is given."""

    port: int
    received: list[EmailMessage] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        if re.search(rb"(?<!\r)\n", raw):
            # As Postfix 3.9 does by default (smtpd_forbid_bare_newline): SMTP lines end in CRLF.
            return "554 5.5.2 bare <LF> received; end lines with <CR><LF>"
        # Stored as a mailbox would hold it: with the local line ends.
        message = email.message_from_bytes(raw.replace(b"\r\n", b"\n"), policy=email.policy.default)
        with self.lock:
            self.received.append(message)  # type: ignore[arg-type]
            self.envelopes.append((str(envelope.mail_from), list(envelope.rcpt_tos)))
        return "250 OK"


R = TypeVar("R", bound=Relay)


@contextlib.contextmanager
def serving(found: R) -> Iterator[R]:
    """Serve ``found`` (a Relay or a subclass that answers differently) on its port while in use."""
    loop = asyncio.new_event_loop()
    controller = Controller(found, hostname="127.0.0.1", port=found.port, loop=loop)
    controller.start()
    try:
        yield found
    finally:
        controller.stop()
        loop.close()


@contextlib.contextmanager
def running_relay() -> Iterator[Relay]:
    """A real SMTP server (aiosmtpd) on 127.0.0.1 standing in for the company's relay, while in use."""
    with serving(Relay(port=free_port())) as found:
        yield found


@pytest.fixture
def relay() -> Iterator[Relay]:
    with running_relay() as found:
        yield found


@pytest.fixture
def mail_runtime(tmp_path: Path, database_url: str, relay: Relay) -> Iterator[Runtime]:
    settings = mail_settings(
        tmp_path, database_url, relay, email_address=SUPPORT, email_flood_limit=6, max_email_bytes=200_000
    )
    with running_runtime(settings) as built:
        yield built


@pytest.fixture
def dovecot_server() -> Iterator[DovecotServer]:
    """A real Dovecot IMAP server on 127.0.0.1 (its own config, temp dir and port), stopped after the test.

    One user: support@northwind.example / secret, with an empty INBOX. Skips when dovecot cannot be
    installed, except under CI (CI=true), where that fails the test.
    """
    with DovecotServer({"support@northwind.example": "secret"}, binary=require_dovecot()) as server:
        yield server
