"""The partner portal in a real headless Chromium (Debian's package, driven by Playwright) against the
real app served by uvicorn: a technician signs in, accepts an offered work order, offers times and books
one agreed by phone, says "On my way" and "Arrived", adds a note, uploads a photo, records a part and
completes the visit; on a phone-sized screen (390 px) the visit page never scrolls sideways.

The server side of every step is tested in tests/web/test_partner_portal.py on both databases; this runs on
SQLite only, with the shared cast and two partner companies set up through the services.
`OMBUD_UPDATE_SCREENSHOTS=1` also writes the README's docs/screenshots/partner-portal.png (the phone view).
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from ombud.partners.models import WorkOrderStatus
from ombud.runtime import Runtime, build_runtime
from ombud.settings import Settings
from ombud.web.app import create_app
from tests.conftest import Personas, make_people
from tests.web.browser import LiveServer, screenshot_path, watched_context
from tests.web.test_partner_portal import PNG, make_network, make_work_order, status_of
from tests.web.test_workspace_browser import WAIT_MS, WIDE, no_horizontal_scroll, unnamed_controls
from tests.web.workspace import PASSWORD, set_password

PHONE = {"width": 390, "height": 844}


@pytest.fixture
def served(sqlite_template: Path, tmp_path: Path) -> Iterator[tuple[Runtime, LiveServer, Personas]]:
    database = tmp_path / "ombud.db"
    shutil.copyfile(sqlite_template, database)
    runtime = build_runtime(
        Settings(home=tmp_path, database_url=f"sqlite:///{database}"), queue_url="memory://"
    )
    try:
        people = make_people(runtime)
        with LiveServer(create_app(runtime)) as server:
            yield runtime, server, people
    finally:
        runtime.close()


@pytest.fixture(autouse=True)
def patient_expect() -> Iterator[None]:
    expect.set_options(timeout=WAIT_MS)
    yield
    expect.set_options()


def new_ticket(server: LiveServer, people: Personas) -> int:
    response = httpx.post(
        f"{server.url}/api/v1/tickets",
        headers=people.agent.headers,
        json={
            "customer": {"email": "maria@example.com", "name": "María López"},
            "channel": "email",
            "subject": "Boiler leaking",
            "body": "My boiler leaks water under the valve.",
        },
        timeout=60,
    )
    assert response.status_code == 201, response.text
    found: int = response.json()["id"]
    return found


def test_a_technician_works_a_visit_on_the_portal(
    browser: Browser, served: tuple[Runtime, LiveServer, Personas], tmp_path: Path
) -> None:
    runtime, server, people = served
    make_network(runtime, people)
    order = make_work_order(runtime, people, new_ticket(server, people))
    set_password(runtime, "partner@desk.test")

    with watched_context(browser, WIDE, WAIT_MS) as (context, errors):
        page = context.new_page()
        sign_in_and_accept(page, server, people, order)
        work_the_visit(page, runtime, order)
        page.evaluate("window.scrollTo(0, 0)")
        page.screenshot(path=screenshot_path("partner-portal.png", tmp_path, "screenshots"))
    assert errors == [], f"errors in the pages: {errors}"
    assert status_of(runtime, order) is WorkOrderStatus.completed


def sign_in_and_accept(page: Page, server: LiveServer, people: Personas, order: int) -> None:
    page.goto(f"{server.url}/login")
    page.get_by_label("Email").fill("partner@desk.test")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/partner$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("My work orders")
    card = page.locator(f'[data-work-order="{order}"]')
    expect(card).to_be_visible()
    card.get_by_label("Technician").select_option(str(people.partner.id))
    card.get_by_role("button", name="Accept").click()
    expect(page.get_by_role("status")).to_have_text("You accepted the work order.")
    expect(page.locator("#wo-status")).to_have_text("Accepted")


def work_the_visit(page: Page, runtime: Runtime, order: int) -> None:
    # Offer the first free times (ticked already), then book one agreed by phone.
    page.get_by_role("button", name="Send the times").click()
    expect(page.get_by_role("status")).to_have_text("The times were sent to the customer to choose from.")
    page.get_by_text("Agreed a time with the customer by phone?").click()
    page.get_by_role("button", name="Confirm this time").click()
    expect(page.locator("#wo-status")).to_have_text("Scheduled")
    expect(page.locator("#wo-appointment")).to_contain_text("UTC")

    page.get_by_role("button", name="On my way").click()
    expect(page.locator("#wo-status")).to_have_text("On the way")
    page.get_by_role("button", name="Arrived").click()
    expect(page.locator("#wo-status")).to_have_text("On site")

    page.get_by_label("Add a note").fill("Valve seal worn out")
    page.get_by_role("button", name="Add note").click()
    expect(page.get_by_role("status")).to_have_text("Visit note added.")

    page.get_by_label("Add photos").set_input_files(
        {"name": "valve.png", "mimeType": "image/png", "buffer": PNG}
    )
    page.get_by_role("button", name="Upload").click()
    expect(page.get_by_role("status")).to_have_text("Photo added.")
    photo = page.get_by_role("img", name=re.compile(r"^Photo 1: valve\.png"))
    expect(photo).to_be_visible()
    assert page.evaluate("(img) => img.naturalWidth", photo.element_handle()) == 1

    page.get_by_label("Part", exact=True).fill("Valve seal 22 mm")
    page.get_by_label("Quantity", exact=True).fill("2")
    page.get_by_role("button", name="Record parts").click()
    expect(page.locator("#parts-list")).to_contain_text("2 \u00d7 Valve seal 22 mm")

    # A technician's phone: every form of the visit fits the screen.
    page.set_viewport_size(PHONE)
    no_horizontal_scroll(page)
    assert unnamed_controls(page) == []

    page.get_by_label("Fixed", exact=True).check()
    page.get_by_label("What was done").fill("Seal replaced, no more leak")
    page.get_by_role("button", name="Completed").click()
    expect(page.locator("#wo-status")).to_have_text("Completed")
    expect(page.get_by_role("status")).to_have_text("The visit is completed. Thank you!")
    history = page.locator("section[aria-labelledby=h-history]")
    expect(history).to_contain_text("Valve seal worn out")
    expect(history).to_contain_text("Seal replaced, no more leak")
    expect(page.get_by_role("img", name=re.compile(r"^Photo 1"))).to_be_visible()
    no_horizontal_scroll(page)
    assert status_of(runtime, order) is WorkOrderStatus.completed
