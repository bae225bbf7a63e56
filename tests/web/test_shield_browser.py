"""Abuse shielding in a real headless Chromium against the demo desk: the demo's abusive message is hidden,
"Show the message" reveals it in place (the audited reveal, no page load), and the reveal is on record.

The server side (what is in the HTML, the audit, who may) is tested in tests/people/test_shield.py.
Needs Debian's chromium (the `browser` fixture installs it as root, else skips; CI fails without it).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, ConsoleMessage, expect

from ombud.demo import DEMO_PASSWORD
from tests.web.browser import AGENT_TOKEN, Desk, loaded_demo, serving_desk
from tests.web.test_workspace_browser import AGENT, WAIT_MS, WIDE, open_ticket
from tests.web.workspace import browser_sign_in

SUBJECT = "Useless as always"
INSULT = "useless idiots and liars"


@pytest.fixture(autouse=True)
def patient_expect() -> Iterator[None]:
    expect.set_options(timeout=WAIT_MS)
    yield
    expect.set_options()


@pytest.fixture(scope="module")
def demo_database(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return loaded_demo(sqlite_template, tmp_path_factory.mktemp("demo"))


@pytest.fixture
def desk(demo_database: Path, tmp_path: Path) -> Iterator[Desk]:
    with serving_desk(demo_database, tmp_path, api_timeout=60) as served:
        yield served


def test_the_agent_reveals_the_abusive_message_in_place(browser: Browser, desk: Desk) -> None:
    context = browser.new_context(viewport=WIDE)
    context.set_default_timeout(WAIT_MS)
    errors: list[str] = []
    context.on("weberror", lambda error: errors.append(str(error.error)))

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error" and not str(message.location.get("url", "")).endswith("/favicon.ico"):
            errors.append(message.text)

    context.on("console", on_console)
    try:
        page = context.new_page()
        browser_sign_in(page, desk.url, AGENT, DEMO_PASSWORD)
        open_ticket(page, desk, SUBJECT)
        conversation = page.locator("section.conversation")
        expect(conversation).to_contain_text("What they need")
        assert INSULT not in conversation.inner_html().lower()
        assert INSULT not in page.locator("#concerns").inner_html().lower()
        address = page.url

        page.get_by_role("button", name="Show the message").first.click()
        expect(conversation).to_contain_text("You are useless idiots and liars")
        expect(page.get_by_role("status").filter(has_text="your reading is recorded")).to_be_visible()
        assert page.url == address  # in place: no page load

        ticket_id = page.locator(".ticket-head").get_attribute("data-ticket")
        events = httpx.get(
            f"{desk.url}/api/v1/tickets/{ticket_id}/events",
            headers={"Authorization": f"Bearer {AGENT_TOKEN}"},
            timeout=30,
        ).json()
        assert "message.revealed" in [e["action"] for e in events]
    finally:
        context.close()
    assert errors == [], errors
