"""The mail fixtures that the channel tests and the privacy tests share: a runtime wired to a relay, a real
SMTP receiver started on it, an API client for it and the cast in its database.

A module that uses them defines its own ``mail_runtime`` fixture (with ``mail_settings`` and
``running_runtime``: the settings differ) and imports the ``receiver``, ``api`` and ``cast`` fixtures
(``receiver_fixture``, ``api_fixture``, ``cast_fixture``), which take that ``mail_runtime``."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from fastapi.testclient import TestClient

from ombud.channels.email.smtp import SmtpReceiver
from ombud.runtime import Runtime, build_runtime
from ombud.settings import Settings
from tests.conftest import Personas, app_for, make_people

if TYPE_CHECKING:  # tests.channels.conftest imports this module: no import of it at run time
    from tests.channels.conftest import Relay


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def mail_settings(
    tmp_path: Path, database_url: str, relay: Relay, *, email_address: str, **extra: Any
) -> Settings:
    """Settings that send through ``relay`` as ``email_address`` ("Northwind Support"), plus ``extra``."""
    return Settings(
        home=tmp_path,
        database_url=database_url,
        smtp_relay=f"127.0.0.1:{relay.port}",
        email_address=email_address,
        email_name="Northwind Support",
        **extra,
    )


@contextlib.contextmanager
def running_runtime(settings: Settings) -> Iterator[Runtime]:
    """A runtime on ``settings`` whose jobs run at once (memory://), closed after use."""
    built = build_runtime(settings, queue_url="memory://")
    yield built
    built.close()


@pytest.fixture(name="receiver")
def receiver_fixture(mail_runtime: Runtime) -> Iterator[SmtpReceiver]:
    started = SmtpReceiver(
        database=mail_runtime.database, config=mail_runtime.email, host="127.0.0.1", port=free_port()
    )
    started.start()
    yield started
    started.stop()


@pytest.fixture(name="api")
def api_fixture(mail_runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(app_for(mail_runtime), raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture(name="cast")
def cast_fixture(mail_runtime: Runtime) -> Personas:
    return make_people(mail_runtime)
