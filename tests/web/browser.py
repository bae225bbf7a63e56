"""A real headless Chromium for browser tests, and the real app served by uvicorn for it to talk to.

The browser is Debian's `chromium` package, driven by the `playwright` PyPI package through
`executable_path`: Playwright's own browser download is never used (`playwright install` fetches builds
from outside the package registries). `ensure_chromium()` installs the package with apt-get when it is
missing and the tests run as root; `require_chromium()` skips with the reason on a laptop without it, and
fails under CI (CI=true), like tests/channels/dovecot.py does for Dovecot.

`LiveServer` runs `create_app(runtime)` with uvicorn on 127.0.0.1 and a free port in a background thread
of the test process, so a page in the browser reaches the same runtime (database, chat hub) the test
inspects.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path
from types import TracebackType

import uvicorn
from fastapi import FastAPI

# fonts-liberation: chromium only recommends it; without a sans-serif font screenshots lose their text.
PACKAGES = ("chromium", "fonts-liberation")
# The real binary: /usr/bin/chromium is Debian's wrapper script, which adds flags from /etc/chromium.d.
CANDIDATES = ("/usr/lib/chromium/chromium", "/usr/bin/chromium")
START_TIMEOUT = 15.0

#: Why `ensure_chromium()` returned None (shown by `pytest.skip`/`pytest.fail`), or None.
unavailable_reason: str | None = None
_checked = False
_binary: str | None = None


def _find_binary() -> str | None:
    for candidate in CANDIDATES:
        if os.access(candidate, os.X_OK):
            return candidate
    return shutil.which("chromium")


def _apt_install(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    cmd = ["apt-get", "install", "-y", "--no-install-recommends", *PACKAGES]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900, stdin=subprocess.DEVNULL)


def _install() -> str | None:
    """Install Debian's chromium with apt-get; return None or the reason it failed."""
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive", "NEEDRESTART_MODE": "a"}
    # A lock so that two test processes (pytest-xdist) do not run apt-get at the same time.
    with open("/tmp/ombud-chromium-install.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _find_binary():
            return None
        result = _apt_install(env)
        if result.returncode != 0:
            # Stale or missing package lists (a fresh machine has none): refresh them once and try again.
            subprocess.run(
                ["apt-get", "update"], env=env, capture_output=True, timeout=600, stdin=subprocess.DEVNULL
            )
            result = _apt_install(env)
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-15:])
        return f"`apt-get install {' '.join(PACKAGES)}` failed (exit {result.returncode}):\n{tail}"
    return None


def ensure_chromium() -> str | None:
    """Return the chromium binary, installing Debian's package if needed and possible.

    On None, `unavailable_reason` says why. The answer is computed once per process.
    """
    global _checked, _binary, unavailable_reason  # noqa: PLW0603
    if _checked:
        return _binary
    _checked = True
    _binary = _find_binary()
    if _binary:
        return _binary
    if os.geteuid() != 0:
        unavailable_reason = "chromium is not installed and installing Debian's package needs root"
    elif not shutil.which("apt-get"):
        unavailable_reason = "chromium is not installed and there is no apt-get to install it"
    else:
        unavailable_reason = _install()
        _binary = _find_binary()
        if _binary is None and unavailable_reason is None:
            unavailable_reason = "chromium installed but no chromium binary was found"
    return _binary


def require_chromium() -> str:
    """ensure_chromium() for a fixture: skip the test with the reason, or fail it under CI (CI=true)."""
    binary = ensure_chromium()
    if binary is None:
        import pytest

        reason = f"no chromium for the browser tests: {unavailable_reason}"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason} (CI must run the browser tests in a real browser)", pytrace=False)
        pytest.skip(reason)
    return binary


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


def screenshot_path(name: str, scratch: Path) -> Path:
    """Where a test writes the documentation screenshot NAME: docs/images/NAME in the repository with
    OMBUD_UPDATE_SCREENSHOTS=1, else `scratch` (the test still takes it, but a plain run leaves the work
    tree as it was: pixels differ a little between machines and fonts)."""
    if os.environ.get("OMBUD_UPDATE_SCREENSHOTS") != "1":
        return scratch / name
    folder = Path(__file__).resolve().parents[2] / "docs" / "images"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / name
