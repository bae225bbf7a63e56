"""A program the tests need from Debian's packages (Dovecot, Chromium): found, or installed with apt-get
when it is missing and the tests run as root; otherwise a reason, which skips the test on a laptop and
fails it under CI (CI=true), where the real component must be tested.

Installing never starts a system service: a `policy-rc.d` that answers "forbidden" is in place while
apt-get runs (unless the image has one already), the way Debian's container images do it.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

POLICY_RC_D = Path("/usr/sbin/policy-rc.d")


class DebianProgram:
    """``find`` locates the program; ``packages`` provide it; ``after_install`` may tidy up (stop a
    service the package started anyway). ``ensure()`` answers once per process."""

    def __init__(
        self,
        name: str,
        packages: tuple[str, ...],
        find: Callable[[], str | None],
        after_install: Callable[[], None] | None = None,
    ) -> None:
        self.name = name
        self.packages = packages
        self.find = find
        self.after_install = after_install
        self.unavailable_reason: str | None = None
        self._checked = False
        self._binary: str | None = None

    def ensure(self) -> str | None:
        """Return the program's path, installing its packages if needed and possible; on None,
        ``unavailable_reason`` says why."""
        if self._checked:
            return self._binary
        self._checked = True
        self._binary = self.find()
        if self._binary:
            return self._binary
        if os.geteuid() != 0:
            self.unavailable_reason = f"{self.name} is not installed and installing {self._names} needs root"
        elif not shutil.which("apt-get"):
            self.unavailable_reason = f"{self.name} is not installed and there is no apt-get to install it"
        else:
            self.unavailable_reason = self._install()
            self._binary = self.find()
            if self._binary is None and self.unavailable_reason is None:
                self.unavailable_reason = f"{self._names} installed but no {self.name} binary was found"
        return self._binary

    def require(self, purpose: str) -> str:
        """ensure() for a fixture: skip the test with the reason, or fail it under CI (CI=true)."""
        binary = self.ensure()
        if binary is None:
            import pytest

            reason = f"no {self.name} for the {purpose}: {self.unavailable_reason}"
            if os.environ.get("CI") == "true":
                pytest.fail(f"{reason} (CI must run the {purpose} against the real thing)", pytrace=False)
            pytest.skip(reason)
        return binary

    @property
    def _names(self) -> str:
        return " ".join(self.packages)

    def _apt(self, *args: str) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive", "NEEDRESTART_MODE": "a"}
        return subprocess.run(
            ["apt-get", *args], env=env, capture_output=True, text=True, timeout=900, stdin=subprocess.DEVNULL
        )

    def _install(self) -> str | None:
        own_policy = not POLICY_RC_D.exists()
        # A lock so that two test processes do not run apt-get at the same time.
        with open(f"/tmp/ombud-{self.name}-install.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if self.find():
                return None
            try:
                if own_policy:
                    POLICY_RC_D.write_text("#!/bin/sh\n# ombud tests: installing packages\nexit 101\n")
                    POLICY_RC_D.chmod(0o755)
                install = ("install", "-y", "--no-install-recommends", *self.packages)
                result = self._apt(*install)
                if result.returncode != 0:
                    # Stale or missing package lists (a fresh machine has none): refresh once, try again.
                    self._apt("update")
                    result = self._apt(*install)
            finally:
                if own_policy:
                    POLICY_RC_D.unlink(missing_ok=True)
        if self.after_install is not None:
            self.after_install()
        if result.returncode != 0:
            tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-15:])
            return f"`apt-get install {self._names}` failed (exit {result.returncode}):\n{tail}"
        return None
