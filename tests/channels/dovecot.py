"""A real Dovecot IMAP server for tests, started per test from a private config in a temp dir.

IMAP polling code is tested against the real protocol, not a mock. Nothing system-wide is configured:
`DovecotServer` writes its own `dovecot.conf` (base_dir, state_dir, logs, maildirs and the users'
passwd-file all inside one temp dir), listens on 127.0.0.1 on a free port and runs
`dovecot -F -c CONFIG` in the foreground as a child of the test process, so the test owns the PID and
stops it on exit. /etc/dovecot is never read and the system service is never started.

Debian 12 ships Dovecot 2.3.19.1 (package `dovecot-imapd`); the config below uses 2.3 names
(`disable_plaintext_auth`, `mail_location`), which 2.4 renamed. IDLE (RFC 2177) is supported: it is
advertised in the greeting and in CAPABILITY after login, and a real IDLE sees "* n EXISTS" about 0.5 s
after another connection's APPEND (both checked by test_dovecot_fixture.py), so polling code can be
tested with IDLE as well as with NOOP/SEARCH polling. After login 2.3.19.1 also offers UIDPLUS,
CONDSTORE, QRESYNC, MOVE, ESEARCH, LITERAL+ and NOTIFY.

`ensure_dovecot()` installs the package when it is missing (as root, with `apt-get`), without letting
the package start or enable the system service on port 143.
"""

from __future__ import annotations

import contextlib
import grp
import imaplib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType

from tests.debian import DebianProgram

PACKAGE = "dovecot-imapd"
SYSTEM_PIDFILE = Path("/run/dovecot/master.pid")
START_TIMEOUT = 10.0


def _find_binary() -> str | None:
    # /usr/sbin is not on a non-root user's PATH on Debian.
    found = shutil.which("dovecot") or shutil.which("dovecot", path="/usr/sbin:/usr/local/sbin")
    return found


def _running_dovecot_pids() -> set[int]:
    pids = set()
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            with contextlib.suppress(OSError):
                if (proc / "comm").read_text().strip() == "dovecot":
                    pids.add(int(proc.name))
    return pids


def _keep_system_service_off(before: set[int]) -> None:
    """Disable the system service (no start at boot), and stop it if the install started it anyway."""
    if Path("/run/systemd/system").is_dir():
        subprocess.run(
            ["systemctl", "disable", "--now", "dovecot.service", "dovecot.socket"],
            capture_output=True,
            check=False,
        )
    elif shutil.which("update-rc.d"):
        subprocess.run(["update-rc.d", "dovecot", "disable"], capture_output=True, check=False)
    with contextlib.suppress(OSError, ValueError):
        pid = int(SYSTEM_PIDFILE.read_text().split()[0])
        if pid not in before and pid in _running_dovecot_pids():
            # Only the master the package just started (it was not running before the install).
            os.kill(pid, signal.SIGTERM)
            for _ in range(50):  # it takes about 1 s to stop its children and exit
                if pid not in _running_dovecot_pids():
                    break
                time.sleep(0.1)


_BEFORE_INSTALL = _running_dovecot_pids()
DOVECOT = DebianProgram(
    "dovecot", (PACKAGE,), _find_binary, lambda: _keep_system_service_off(_BEFORE_INSTALL)
)


def ensure_dovecot() -> str | None:
    """Return the dovecot binary, installing Debian's dovecot-imapd if needed and possible (on None,
    ``DOVECOT.unavailable_reason`` says why)."""
    return DOVECOT.ensure()


def require_dovecot() -> str:
    """ensure_dovecot() for a fixture: skip the test with the reason, or fail it under CI (CI=true)."""
    return DOVECOT.require("IMAP tests")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class DovecotServer:
    """A private Dovecot IMAP server on 127.0.0.1; use as a context manager.

    `users` maps login name (e.g. "support@northwind.example") to plaintext password. Each user's mail
    is a Maildir under the temp dir. Connect with plain `imaplib.IMAP4(server.host, server.port)`:
    there is no TLS and LOGIN/AUTHENTICATE PLAIN are allowed in the clear (loopback only).
    """

    host = "127.0.0.1"

    def __init__(self, users: Mapping[str, str], *, binary: str | None = None) -> None:
        self.users = dict(users)
        self.binary = binary or ensure_dovecot()
        if self.binary is None:
            raise RuntimeError(DOVECOT.unavailable_reason or "dovecot is not available")
        self.port = 0
        self.root: Path | None = None
        self.startup_seconds = 0.0
        self._proc: subprocess.Popen[bytes] | None = None

    # -- lifecycle -----------------------------------------------------------------------------------

    def __enter__(self) -> DovecotServer:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def log_path(self) -> Path:
        assert self.root is not None
        return self.root / "dovecot.log"

    def log_tail(self, lines: int = 30) -> str:
        assert self.root is not None
        out = []
        for name in ("dovecot.log", "stderr.log"):
            with contextlib.suppress(OSError):
                out += (self.root / name).read_text(errors="replace").splitlines()
        return "\n".join(out[-lines:])

    def start(self) -> None:
        # 0o755: the auth process runs as the unprivileged `dovecot` user and must read the passwd-file.
        self.root = Path(tempfile.mkdtemp(prefix="ombud-dovecot-"))
        self.root.chmod(0o755)
        began = time.monotonic()
        try:
            # A port found free can be taken before dovecot binds it: retry on "Address already in use".
            for attempt in range(3):
                self.port = _free_port()
                self._write_config()
                try:
                    self._spawn()
                except _PortTaken:
                    if attempt == 2:
                        raise
                    continue
                break
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - began

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            if proc.poll() is None:
                # SIGTERM to the whole process group we created: the master alone would stop its
                # children itself but lingers 1 s doing so; with them all signalled it exits in ~1 ms.
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=10)
            # Anything left in the process group we created (only our own dovecot's children).
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)
            self.root = None

    # -- config --------------------------------------------------------------------------------------

    def _mail_owner(self) -> tuple[int, int, str]:
        """The uid/gid that owns the Maildirs, and extra config lines for a non-root run."""
        if os.geteuid() == 0:
            # Dovecot never accesses mail as root (imap refuses to run with uid 0 whatever
            # first_valid_uid says), so as root the mail belongs to the unprivileged `dovecot` system
            # user that the package creates; the test process, being root, can still read and
            # remove those files. first_valid_uid is lowered because system users are below 500.
            try:
                entry = pwd.getpwnam("dovecot")
            except KeyError:  # a dovecot not from the Debian package
                entry = pwd.getpwnam("nobody")
            return entry.pw_uid, entry.pw_gid, ""
        # Not root: everything runs as the current user (dovecot's documented non-root mode).
        user = pwd.getpwuid(os.geteuid()).pw_name
        group = grp.getgrgid(os.getegid()).gr_name
        extra = f"default_login_user = {user}\ndefault_internal_user = {user}\n"
        extra += f"default_internal_group = {group}\n"
        extra += "service imap-login {\n  chroot =\n}\nservice anvil {\n  chroot =\n}\n"
        return os.geteuid(), os.getegid(), extra

    def _write_config(self) -> None:
        assert self.root is not None
        root = self.root
        uid, gid, extra = self._mail_owner()
        (root / "mail").mkdir(exist_ok=True)
        os.chown(root / "mail", uid, gid)
        (root / "state").mkdir(exist_ok=True)
        # name:{PLAIN}password:uid:gid::home (passwords in the clear: a throwaway test server).
        lines = [f"{name}:{{PLAIN}}{pw}:{uid}:{gid}::{root}/mail/{name}" for name, pw in self.users.items()]
        users_file = root / "users"
        users_file.write_text("\n".join(lines) + "\n")
        users_file.chmod(0o644)
        config = f"""\
# Written by tests/channels/dovecot.py for one test: nothing here is read from /etc/dovecot.
base_dir = {root}/run
state_dir = {root}/state
instance_name = ombud-test-{self.port}
log_path = {root}/dovecot.log
info_log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
first_valid_uid = {min(uid, 500)}
first_valid_gid = {min(gid, 500)}
mail_location = maildir:~/Maildir
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {users_file}
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {users_file}
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {self.port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
{extra}"""
        (root / "dovecot.conf").write_text(config)

    def _spawn(self) -> None:
        assert self.root is not None
        (self.root / "dovecot.log").unlink(missing_ok=True)  # only this attempt's lines in log_tail()
        with open(self.root / "stderr.log", "wb") as stderr:
            self._proc = subprocess.Popen(
                [self.binary or "dovecot", "-F", "-c", str(self.root / "dovecot.conf")],
                stdin=subprocess.DEVNULL,
                stdout=stderr,
                stderr=stderr,
                start_new_session=True,  # its own process group, so stop() can reap stray children
            )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                tail = self.log_tail()
                self._proc.wait()
                self._proc = None
                if "Address already in use" in tail:
                    raise _PortTaken(tail)
                raise RuntimeError(f"dovecot exited at start-up (port {self.port}):\n{tail}")
            if self._greets():
                return
            time.sleep(0.02)
        tail = self.log_tail()
        raise RuntimeError(f"dovecot did not greet on 127.0.0.1:{self.port} within {START_TIMEOUT}s:\n{tail}")

    def _greets(self) -> bool:
        try:
            with socket.create_connection((self.host, self.port), timeout=1) as sock:
                return sock.recv(512).startswith(b"* OK")
        except OSError:
            return False

    # -- helpers for tests ---------------------------------------------------------------------------

    def connect(self, user: str, password: str) -> imaplib.IMAP4:
        """A logged-in imaplib client; the caller logs out."""
        client = imaplib.IMAP4(self.host, self.port, timeout=10)
        try:
            client.login(user, password)
        except BaseException:
            client.shutdown()
            raise
        return client

    def append(self, user: str, password: str, raw: bytes, mailbox: str = "INBOX") -> None:
        """Deliver one raw RFC 5322 message to `mailbox` (created if missing) with IMAP APPEND."""
        client = self.connect(user, password)
        try:
            if mailbox.upper() != "INBOX":
                client.create(mailbox)  # "NO [ALREADYEXISTS]" when it exists: fine
            typ, data = client.append(mailbox, None, None, raw)
            if typ != "OK":
                raise RuntimeError(f"APPEND to {mailbox} failed: {data!r}")
        finally:
            client.logout()

    def list_uids(self, user: str, password: str, mailbox: str = "INBOX") -> list[int]:
        """The UIDs in `mailbox`, ascending."""
        client = self.connect(user, password)
        try:
            typ, data = client.select(mailbox, readonly=True)
            if typ != "OK":
                raise RuntimeError(f"SELECT {mailbox} failed: {data!r}")
            typ, data = client.uid("SEARCH", "ALL")
            if typ != "OK":
                raise RuntimeError(f"UID SEARCH failed: {data!r}")
            return sorted(int(uid) for uid in (data[0] or b"").split())
        finally:
            client.logout()


class _PortTaken(RuntimeError):
    pass
