"""A real headless Chromium for browser tests, and the real app served by uvicorn for it to talk to.

The browser is Debian's `chromium` package, driven by the `playwright` PyPI package through
`executable_path`: Playwright's own browser download is never used (`playwright install` fetches builds
from outside the package registries). `ensure_chromium()` installs the package with apt-get when it is
missing and the tests run as root; `require_chromium()` skips with the reason on a laptop without it, and
fails under CI (CI=true), like tests/channels/dovecot.py does for Dovecot.

`LiveServer` runs `create_app(runtime)` with uvicorn on 127.0.0.1 and a free port in a background thread
of the test process, so a page in the browser reaches the same runtime (database, chat hub) the test
inspects. `loaded_demo()` and `serving_desk()` give the browser tests the demo desk: the demo loaded once
into a SQLite file, then a copy served with a real SMTP relay and an API client.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import httpx
import uvicorn
from fastapi import FastAPI

from ombud.demo import load_demo
from ombud.runtime import Runtime, build_runtime
from ombud.settings import Settings
from ombud.web.app import create_app
from tests.channels.conftest import Relay, running_relay
from tests.debian import DebianProgram

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, ViewportSize

DESK_EMAIL = "help@northwind.example"
AGENT_TOKEN = "demo-agent-token"  # the demo's fixed API token

# fonts-liberation: chromium only recommends it; without a sans-serif font screenshots lose their text.
PACKAGES = ("chromium", "fonts-liberation")
# The real binary: /usr/bin/chromium is Debian's wrapper script, which adds flags from /etc/chromium.d.
CANDIDATES = ("/usr/lib/chromium/chromium", "/usr/bin/chromium")
START_TIMEOUT = 15.0


def _find_binary() -> str | None:
    for candidate in CANDIDATES:
        if os.access(candidate, os.X_OK):
            return candidate
    return shutil.which("chromium")


CHROMIUM = DebianProgram("chromium", PACKAGES, _find_binary)


def ensure_chromium() -> str | None:
    """Return the chromium binary, installing Debian's package if needed and possible (on None,
    ``CHROMIUM.unavailable_reason`` says why)."""
    return CHROMIUM.ensure()


def require_chromium() -> str:
    """ensure_chromium() for a fixture: skip the test with the reason, or fail it under CI (CI=true)."""
    return CHROMIUM.require("browser tests")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LiveServer:
    """`app` served by uvicorn on 127.0.0.1 in a daemon thread; use as a context manager."""

    host = "127.0.0.1"

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self.port = 0
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://{self.host}:{self.port}"

    def __enter__(self) -> LiveServer:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def start(self) -> None:
        # A port found free can be taken before uvicorn binds it: try a few.
        for attempt in range(3):
            self.port = _free_port()
            config = uvicorn.Config(
                self.app,
                host=self.host,
                port=self.port,
                log_level="warning",
                # The browser keeps connections open; do not wait for them when the test is over.
                timeout_graceful_shutdown=1,
            )
            self._server = uvicorn.Server(config)
            # Server.run() installs no signal handlers off the main thread.
            self._thread = threading.Thread(target=self._server.run, name="ombud-live-server", daemon=True)
            self._thread.start()
            deadline = time.monotonic() + START_TIMEOUT
            while time.monotonic() < deadline and self._thread.is_alive() and not self._server.started:
                time.sleep(0.01)
            if self._server.started:
                return
            self.stop()
            if attempt == 2:
                raise RuntimeError(
                    f"uvicorn did not start on {self.host}:{self.port} within {START_TIMEOUT}s"
                )

    def stop(self) -> None:
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is not None:
            server.should_exit = True
        if thread is not None:
            thread.join(timeout=10)
            if thread.is_alive() and server is not None:
                server.force_exit = True
                thread.join(timeout=5)


def screenshot_path(name: str, scratch: Path, folder: str = "images") -> Path:
    """Where a test writes the documentation screenshot NAME: docs/FOLDER/NAME in the repository with
    OMBUD_UPDATE_SCREENSHOTS=1, else `scratch` (the test still takes it, but a plain run leaves the work
    tree as it was: pixels differ a little between machines and fonts)."""
    if os.environ.get("OMBUD_UPDATE_SCREENSHOTS") != "1":
        return scratch / name
    target = Path(__file__).resolve().parents[2] / "docs" / folder
    target.mkdir(parents=True, exist_ok=True)
    return target / name


@dataclass
class Desk:
    """The demo desk served for the browser: its runtime, the relay it emails through, and the API."""

    server: LiveServer
    runtime: Runtime
    relay: Relay
    api: httpx.Client

    @property
    def url(self) -> str:
        return self.server.url

    def new_ticket(self, email: str, subject: str, body: str, **customer: str) -> dict[str, Any]:
        response = self.api.post(
            "/api/v1/tickets",
            json={
                "customer": {"email": email, **customer},
                "channel": "email",
                "subject": subject,
                "body": body,
            },
        )
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return created


def loaded_demo(template: Path, home: Path) -> Path:
    """Return a SQLite file in ``home`` copied from ``template`` with the demo loaded (its messages triaged
    and themed); the demo's replies go out through a relay while it loads, so they show as sent."""
    database = home / "ombud.db"
    shutil.copyfile(template, database)
    with running_relay() as relay:
        runtime = build_runtime(
            Settings(home=home, database_url=f"sqlite:///{database}", smtp_relay=f"127.0.0.1:{relay.port}"),
            queue_url="memory://",
        )
        try:
            with runtime.database.session() as session:
                assert load_demo(session=session)
                session.commit()
        finally:
            runtime.close()
    return database


@contextlib.contextmanager
def serving_desk(demo: Path, home: Path, *, api_timeout: float) -> Iterator[Desk]:
    """Serve a copy of the ``demo`` database from ``home`` while in use, with a real relay and an API
    client signed in as the demo agent."""
    database = home / "ombud.db"
    shutil.copyfile(demo, database)
    with running_relay() as relay:
        settings = Settings(
            home=home,
            database_url=f"sqlite:///{database}",
            smtp_relay=f"127.0.0.1:{relay.port}",
            email_address=DESK_EMAIL,
            email_name="Northwind Support",
        )
        # memory:// runs each job (triage, theming, delivery) the moment its transaction commits.
        runtime = build_runtime(settings, queue_url="memory://")
        try:
            with (
                LiveServer(create_app(runtime)) as server,
                httpx.Client(
                    base_url=server.url,
                    headers={"Authorization": f"Bearer {AGENT_TOKEN}"},
                    timeout=api_timeout,
                ) as api,
            ):
                yield Desk(server=server, runtime=runtime, relay=relay, api=api)
        finally:
            runtime.close()


@contextlib.contextmanager
def watched_context(
    browser: Browser, viewport: ViewportSize, timeout_ms: float
) -> Iterator[tuple[BrowserContext, list[str]]]:
    """A new browser context, closed afterwards, and the list its pages' script errors and console errors
    (a missing favicon aside) are put in, for the test to find empty."""
    errors: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error" and not str(message.location.get("url", "")).endswith("/favicon.ico"):
            errors.append(f"{message.text} ({message.location.get('url')})")

    context = browser.new_context(viewport=viewport)
    context.set_default_timeout(timeout_ms)
    context.on("weberror", lambda error: errors.append(str(error.error)))
    context.on("console", on_console)
    try:
        yield context, errors
    finally:
        context.close()
