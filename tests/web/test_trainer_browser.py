"""The role-play trainer end to end, in a real headless Chromium against the real app served by uvicorn, with
the demo and its training scenarios loaded: the agent opens the trainer, starts a suggested scenario, writes
a reply in the composer and sees the live reply check, sends it and sees the simulated customer's answer and
mood change, ends the session and sees the scorecard. The server side is tested in tests/people/.

Needs Debian's chromium (the `browser` fixture installs it as root, else skips; CI fails without it).
`OMBUD_UPDATE_SCREENSHOTS=1` also writes the README's docs/screenshots/trainer.png.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from ombud.accounts import service as accounts
from ombud.demo import DEMO_PASSWORD
from ombud.demo_training import load_training
from ombud.runtime import build_runtime
from ombud.settings import Settings
from tests.web.browser import Desk, loaded_demo, screenshot_path, serving_desk, watched_context
from tests.web.test_workspace_browser import AGENT, WAIT_MS, WIDE, unnamed_controls
from tests.web.workspace import browser_sign_in

# Dismissive and full of internal words: the customer gets angrier.
BAD_REPLY = (
    "Per our policy there is nothing we can do until the backend SLA escalation is processed by the RMA team."
)


@pytest.fixture(scope="module")
def demo_database(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo loaded once with its training scenarios (SQLite only: the server side runs on both backends
    in tests/people/)."""
    home = tmp_path_factory.mktemp("demo")
    database = loaded_demo(sqlite_template, home)
    runtime = build_runtime(Settings(home=home, database_url=f"sqlite:///{database}"), queue_url="memory://")
    try:
        with runtime.database.session() as session:
            users = {u.email.split("@")[0]: u for u in accounts.list_users(session=session)}
            load_training(session=session, users=users)
            session.commit()
    finally:
        runtime.close()
    return database


@pytest.fixture
def desk(demo_database: Path, tmp_path: Path) -> Iterator[Desk]:
    with serving_desk(demo_database, tmp_path, api_timeout=60) as served:
        yield served


def test_an_agent_practises_a_suggested_scenario(browser: Browser, desk: Desk, tmp_path: Path) -> None:
    expect.set_options(timeout=WAIT_MS)
    try:
        with watched_context(browser, WIDE, WAIT_MS) as (context, errors):
            page = context.new_page()
            browser_sign_in(page, desk.url, AGENT, DEMO_PASSWORD)
            page.get_by_role("link", name="Training").click()
            expect(page.get_by_role("heading", name="Role-play training")).to_be_visible()
            suggested = page.locator(".suggestion-item").first
            expect(suggested.locator(".why")).not_to_be_empty()
            suggested.get_by_role("button", name=re.compile("^Start")).click()

            page.wait_for_url(re.compile(r"/agent/training/sessions/\d+"))
            expect(page.get_by_text("Practice: nothing is sent")).to_be_visible()
            bubbles = page.locator("ol.bubbles > li")
            expect(bubbles).to_have_count(1)
            mood_before = page.locator("#customer-mood").inner_text()

            page.get_by_role("textbox", name="Your reply").fill(BAD_REPLY)
            # The live reply check: the same findings as on a ticket.
            expect(page.locator("#check-findings li.finding").first).to_be_visible()
            expect(page.locator('#check-findings li[data-code="jargon"]').first).to_be_visible()
            assert unnamed_controls(page) == []

            page.get_by_role("button", name="Send (practice)").click()
            page.wait_for_url(re.compile(r"/agent/training/sessions/\d+#latest"))
            expect(bubbles).to_have_count(3)
            expect(bubbles.nth(1)).to_have_attribute("data-role", "trainee")
            expect(bubbles.nth(2)).to_have_attribute("data-role", "customer")
            expect(bubbles.nth(1).locator(".turn-feedback")).to_be_visible()
            assert page.locator("#customer-mood").inner_text() != mood_before
            page.screenshot(path=screenshot_path("trainer.png", tmp_path, "screenshots"), full_page=True)

            page.get_by_role("button", name="End session").click()
            expect(page.get_by_role("heading", name="Scorecard")).to_be_visible()
            expect(page.locator('[data-score="overall"]')).to_have_text(re.compile(r"^\d{1,3}/100$"))
            expect(page.get_by_role("button", name="Send (practice)")).to_have_count(0)
            assert errors == [], errors
    finally:
        expect.set_options()
