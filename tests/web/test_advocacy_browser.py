"""The advocacy pages end to end, in a real headless Chromium (Debian's package, driven by Playwright) against
the real app served by uvicorn, with the demo loaded: the dashboard's charts, the cases board and a case
moved on with its button, the "Known problem" panel on a ticket putting the workaround into the reply, and
a theme's page with its chart and the rename form.

The demo's messages are triaged and themed as it loads (memory:// runs each job the moment its transaction
commits), so its themes and counts are the real ones; the dashboard test adds a burst of AirBrew 2 reports
through the API, which the same path turns into a spike. The server side of each page is tested in
tests/advocacy/.

Needs Debian's chromium (the `browser` fixture installs it as root, else skips; CI fails without it).
`OMBUD_UPDATE_SCREENSHOTS=1` also writes the README's docs/screenshots/advocacy.png.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Locator, Page, expect

from ombud.demo import DEMO_PASSWORD
from ombud.demo_advocacy import WORKAROUND
from tests.web.browser import Desk, loaded_demo, screenshot_path, serving_desk
from tests.web.test_workspace_browser import (
    AGENT,
    WAIT_MS,
    WIDE,
    no_horizontal_scroll,
    open_ticket,
    unnamed_controls,
)
from tests.web.workspace import browser_sign_in

ADVOCATE = "advocate@demo.ombud.test"  # Ava Advocate
CASE_TITLE = "AirBrew 2 app update logs customers out and empties their schedules"
AIRBREW_SUBJECT = "AirBrew 2 app logs me out"
# Two wordings of the demo's AirBrew 2 problem that triage reads as one concern each.
BURST = (
    "The AirBrew 2 app logs me out every time I open it since the update, and my schedule is gone.",
    "After the app update my AirBrew 2 keeps signing me out and the brewing schedule disappeared.",
)
BURST_SIZE = 10  # the spike detector wants at least 8 concerns in the last hours (spikes.MIN_COUNT)
CHARTS = (
    "Concerns per day, last",
    "Top themes, concerns in the last 7 days",
    "Advocacy cases by status",
)


@pytest.fixture(autouse=True)
def patient_expect() -> Iterator[None]:
    """expect() waits WAIT_MS here (5 s elsewhere): the machine may be busy."""
    expect.set_options(timeout=WAIT_MS)
    yield
    expect.set_options()


@pytest.fixture(scope="module")
def demo_database(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo loaded once, its messages triaged and themed; each test copies the file (SQLite only, as in
    test_workspace_browser.py: the pages' server side runs on both backends in tests/advocacy/)."""
    return loaded_demo(sqlite_template, tmp_path_factory.mktemp("demo"))


@pytest.fixture
def desk(demo_database: Path, tmp_path: Path) -> Iterator[Desk]:
    with serving_desk(demo_database, tmp_path, api_timeout=60) as served:
        yield served


@pytest.fixture
def new_context(browser: Browser, desk: Desk) -> Iterator[Callable[[], BrowserContext]]:
    """A browser context per person; every script error and every error on the console fails the test.

    It asks for `desk` so that the browsers go away before the server stops.
    """
    made: list[BrowserContext] = []
    errors: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        # The browser asks for /favicon.ico by itself; the pages do not link one.
        if message.type == "error" and not str(message.location.get("url", "")).endswith("/favicon.ico"):
            errors.append(f"{message.text} ({message.location.get('url')})")

    def new() -> BrowserContext:
        context = browser.new_context(viewport=WIDE)
        context.set_default_timeout(WAIT_MS)
        context.on("weberror", lambda error: errors.append(str(error.error)))
        context.on("console", on_console)
        made.append(context)
        return context

    yield new
    for context in made:
        context.close()
    assert errors == [], f"errors in the pages: {errors}"


def signed_in(new_context: Callable[[], BrowserContext], desk: Desk, email: str) -> Page:
    page = new_context().new_page()
    browser_sign_in(page, desk.url, email, DEMO_PASSWORD)
    return page


def charts(page: Page) -> Locator:
    return page.locator("svg.chart[role=img]")


def check_charts(page: Page, at_least: int) -> list[str]:
    """Every chart on the page is drawn (a real size) and named by its title; return their names."""
    expect(charts(page).first).to_be_visible()
    found = charts(page)
    assert found.count() >= at_least, page.url
    names = []
    for chart in found.all():
        box = chart.bounding_box()
        assert box is not None and box["width"] > 100 and box["height"] > 20, (page.url, box)
        title = chart.locator("title").first.text_content() or ""
        assert title.strip(), page.url
        # The accessible name is the title (and the description after it).
        expect(chart).to_have_accessible_name(re.compile("^" + re.escape(title.strip())))
        names.append(title.strip())
    return names


# -- 1. the dashboard ----------------------------------------------------------------------------------------
def test_the_dashboard_charts_the_themes_the_spike_and_the_cases(
    desk: Desk, new_context: Callable[[], BrowserContext], tmp_path: Path
) -> None:
    # A burst of AirBrew 2 reports in the last minutes, written in through the API like any other ticket:
    # triaged, themed with the demo's reports and counted, and the theme spikes.
    for i in range(BURST_SIZE):
        created = desk.api.post(
            "/api/v1/tickets",
            json={
                "customer": {"email": f"brewer{i}@example.net", "name": f"Brewer {i}"},
                "channel": "email",
                "subject": f"AirBrew 2 logged out again ({i})",
                "body": BURST[i % len(BURST)],
            },
        )
        assert created.status_code == 201, created.text

    page = signed_in(new_context, desk, ADVOCATE)
    page.get_by_role("navigation").get_by_role("link", name="Advocacy", exact=True).click()
    expect(page).to_have_url(re.compile(r"/agent/advocacy$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Advocacy")

    names = check_charts(page, len(CHARTS))
    for wanted in CHARTS:
        assert any(name.startswith(wanted) for name in names), (wanted, names)
    expect(page.get_by_role("img", name=re.compile(r"^Concerns per day, last \d+ days"))).to_be_visible()
    # The line chart has its points, the bars a bar per theme and per status.
    volume = page.get_by_role("img", name=re.compile(r"^Concerns per day"))
    assert volume.locator("circle").count() > 1
    assert page.get_by_role("img", name=re.compile(r"^Top themes")).locator("rect").count() >= 2

    # The AirBrew 2 theme leads the week, with its sparkline, and its spike is open.
    top = page.locator("section[aria-labelledby=h-top] table.facts tbody tr")
    expect(top.first).to_be_visible()
    assert top.count() >= 2
    assert int(top.first.locator("td").nth(1).inner_text()) > BURST_SIZE  # the burst and the demo's own
    expect(top.first.locator("svg.sparkline")).to_be_visible()
    spikes = page.locator("section[aria-labelledby=h-spikes] table.facts tbody tr")
    expect(spikes.first).to_be_visible()
    expect(spikes.filter(has_text="volume").first).to_be_visible()
    theme = top.first.get_by_role("link").inner_text()
    expect(spikes.first.get_by_role("link")).to_have_text(theme)
    # The demo's case is on the board summary.
    expect(page.locator("section[aria-labelledby=h-cases]")).to_contain_text("acknowledged: 1")
    expect(page.locator(".lead")).to_contain_text(re.compile(r"open spikes in [1-9]\d* themes?"))

    no_horizontal_scroll(page)
    assert unnamed_controls(page) == []
    page.screenshot(path=screenshot_path("advocacy.png", tmp_path, "screenshots"))


# -- 2. the cases board --------------------------------------------------------------------------------------
def test_the_advocate_moves_the_airbrew_case_on_from_the_board(
    desk: Desk, new_context: Callable[[], BrowserContext]
) -> None:
    page = signed_in(new_context, desk, ADVOCATE)
    page.goto(f"{desk.url}/agent/advocacy")
    page.get_by_role("link", name="Open the cases board").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Advocacy cases")
    acknowledged = page.locator("section.case-column.status-acknowledged")
    expect(acknowledged.get_by_role("heading")).to_contain_text("(1)")
    acknowledged.get_by_role("link", name=re.compile(re.escape(CASE_TITLE))).click()

    expect(page.get_by_role("heading", level=1)).to_contain_text(CASE_TITLE)
    status = page.locator(".lead .badge")
    expect(status).to_have_text("Acknowledged")
    expect(page.locator("section[aria-labelledby=h-tickets] tbody tr")).to_have_count(4)
    page.get_by_role("button", name="Fix in progress", exact=True).click()

    expect(page).to_have_url(re.compile(r"/agent/advocacy/cases/\d+\?notice=moved$"))
    expect(page.get_by_role("status")).to_have_text("The case moved on.")
    expect(status).to_have_text("Fix in progress")
    # It cannot be moved to where it is; fixed is open to it now.
    moves = page.locator("section[aria-labelledby=h-moves]")
    expect(moves.get_by_role("button", name="Fix in progress", exact=True)).to_have_count(0)
    expect(moves.get_by_role("button", name="Fixed", exact=True)).to_be_visible()

    page.get_by_role("link", name="← Cases").click()
    expect(page.locator("section.case-column.status-in_progress")).to_contain_text(CASE_TITLE)
    expect(page.locator("section.case-column.status-acknowledged").get_by_role("heading")).to_contain_text(
        "(0)"
    )
    no_horizontal_scroll(page)


# -- 3. the known problem on a ticket ------------------------------------------------------------------------
def test_an_agent_puts_the_known_workaround_into_the_reply(
    desk: Desk, new_context: Callable[[], BrowserContext]
) -> None:
    page = signed_in(new_context, desk, AGENT)
    open_ticket(page, desk, AIRBREW_SUBJECT)
    panel = page.get_by_role("region", name="Known problem")
    expect(panel).to_be_visible()
    expect(panel.get_by_role("link", name=re.compile(re.escape(CASE_TITLE)))).to_be_visible()
    expect(panel).to_contain_text("App and firmware")
    expect(panel).to_contain_text("Acknowledged")

    reply = page.locator("#reply-body")
    reply.fill("Hi Nora,\n\n")
    panel.get_by_role("button", name="Insert into reply").click()
    expect(reply).to_have_value("Hi Nora,\n\n" + WORKAROUND)
    expect(reply).to_be_focused()
    # The composer heard the input: the reply check ran on the new text.
    expect(page.locator("#check-grade")).to_contain_text("reading grade")


# -- 4. a theme ----------------------------------------------------------------------------------------------
def test_a_theme_page_charts_it_and_the_advocate_renames_it(
    desk: Desk, new_context: Callable[[], BrowserContext]
) -> None:
    page = signed_in(new_context, desk, ADVOCATE)
    page.goto(f"{desk.url}/agent/advocacy/themes")
    expect(page.get_by_role("heading", level=1)).to_have_text("Themes")
    listed = page.locator("table.facts tbody tr")
    expect(listed.first).to_be_visible()
    assert listed.count() >= 2
    # The biggest theme (sorted by size) first: the demo's HomeHub wifi reports.
    link = listed.first.get_by_role("link")
    label = link.inner_text()
    link.click()

    expect(page.get_by_role("heading", level=1)).to_have_text(label)
    names = check_charts(page, 1)
    assert any(name.startswith("Concerns per day, last 90 days") for name in names), names
    expect(page.locator("section[aria-labelledby=h-members] tbody tr").first).to_be_visible()
    no_horizontal_scroll(page)

    edit = page.locator("section[aria-labelledby=h-edit]")
    name = edit.get_by_label("Name", exact=True)
    expect(name).to_have_value(label)
    name.fill("HomeHub wifi drops upstairs")
    edit.get_by_role("button", name="Rename").click()
    expect(page.get_by_role("status")).to_have_text("Theme renamed.")
    expect(page.get_by_role("heading", level=1)).to_have_text("HomeHub wifi drops upstairs")
    expect(page.locator(".lead")).to_contain_text(f"the machine calls it “{label}”")

    page.get_by_role("link", name="All themes").click()
    expect(listed.first.get_by_role("link")).to_have_text("HomeHub wifi drops upstairs")
