"""Fixtures for the web tests: a real headless Chromium (Debian's package, driven by Playwright)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from tests.web.browser import require_chromium

if TYPE_CHECKING:
    from playwright.sync_api import Browser


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """Headless Chromium for the whole run; give each test its own `browser.new_context()`.

    Installs Debian's chromium when missing (as root); skips without it, except under CI (CI=true),
    where that fails the test.
    """
    binary = require_chromium()
    # Imported here: collecting tests/web must not start Playwright's driver for the tests that need none.
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=binary, headless=True)
        try:
            yield launched
        finally:
            launched.close()
