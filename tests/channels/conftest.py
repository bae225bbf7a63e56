from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.channels.dovecot import DovecotServer, require_dovecot


@pytest.fixture
def dovecot_server() -> Iterator[DovecotServer]:
    """A real Dovecot IMAP server on 127.0.0.1 (its own config, temp dir and port), stopped after the test.

    One user: support@northwind.example / secret, with an empty INBOX. Skips when dovecot cannot be
    installed, except under CI (CI=true), where that fails the test.
    """
    with DovecotServer({"support@northwind.example": "secret"}, binary=require_dovecot()) as server:
        yield server
