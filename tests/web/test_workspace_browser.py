"""The agent workspace and the customer portal end to end, in a real headless Chromium (Debian's package,
driven by Playwright) against the real app served by uvicorn, with the demo loaded and a real SMTP relay
(aiosmtpd) receiving what the desk emails.

An agent signs in, works the inbox and a ticket (triage, a macro, the reply check, Send), the reply
reaches the customer by email, and the customer reads it in the portal; the reply assistance, keyboard-only
use, live inbox updates and presence, a narrow screen, contrast, accessible names and customer text shown
as text are checked in the browser. The server side of each part is tested in test_workspace.py,
test_portal.py and tests/assist/.

Needs Debian's chromium (the `browser` fixture installs it as root, else skips; CI fails without it).
`OMBUD_UPDATE_SCREENSHOTS=1` also writes the README's screenshots to docs/screenshots/.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Locator, Page, ViewportSize, expect

from ombud.demo import DEMO_PASSWORD
from tests.web.browser import DESK_EMAIL, Desk, loaded_demo, screenshot_path, serving_desk
from tests.web.workspace import browser_sign_in, plain_text, portal_sign_in, wait_for_email

# Generous: the page polls every 5 s (inbox) and 8 s (presence), on a busy 2-core machine.
WAIT_MS = 30_000
LIVE_MS = 30_000
AGENT = "agent@demo.ombud.test"  # Amara Agent
AGENT2 = "agent2@demo.ombud.test"  # Jonas Agent
MARIA = "maria.lopez@example.com"
MARIA_SUBJECT = "Charged twice for order #A-10293"
TOM_SUBJECT = "THIRD time writing - router still dropping connection"
SAM_SUBJECT = "Wifi drops in the bedroom"
XSS_SCRIPT = "<script>window.__xss=1</script>"
XSS_IMG = '<img src=x onerror="window.__xss=1">'
WIDE: ViewportSize = {"width": 1280, "height": 800}
NARROW: ViewportSize = {"width": 360, "height": 740}


@pytest.fixture(autouse=True)
def patient_expect() -> Iterator[None]:
    """expect() waits WAIT_MS here (5 s elsewhere): the pages poll, and the machine may be busy."""
    expect.set_options(timeout=WAIT_MS)
    yield
    expect.set_options()


@pytest.fixture(scope="module")
def demo_database(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo loaded once (triage of every message takes a few seconds); each test copies the file.

    SQLite only: the browser sees the same pages on either backend, and the server side runs on both in
    test_workspace.py and test_demo_workspace.py.
    """
    return loaded_demo(sqlite_template, tmp_path_factory.mktemp("demo"))


@pytest.fixture
def desk(demo_database: Path, tmp_path: Path) -> Iterator[Desk]:
    with serving_desk(demo_database, tmp_path, api_timeout=30) as served:
        yield served


@pytest.fixture
def new_context(browser: Browser, desk: Desk) -> Iterator[Callable[..., BrowserContext]]:
    """Each person gets a browser context of their own (own cookies); every script error fails the test.

    It asks for `desk` so that the browsers go away before the server stops.
    """
    made: list[BrowserContext] = []
    errors: list[str] = []

    def new(viewport: ViewportSize = WIDE) -> BrowserContext:
        context = browser.new_context(viewport=viewport)
        context.set_default_timeout(WAIT_MS)
        context.on("weberror", lambda error: errors.append(str(error.error)))
        made.append(context)
        return context

    yield new
    for context in made:
        context.close()
    assert errors == [], f"script errors in the pages: {errors}"


# -- helpers -------------------------------------------------------------------------------------------------
def agent_page(new_context: Callable[..., BrowserContext], desk: Desk, email: str = AGENT, **kw: Any) -> Page:
    page = new_context(**kw).new_page()
    browser_sign_in(page, desk.url, email, DEMO_PASSWORD)
    return page


def rows(page: Page) -> Locator:
    return page.locator("#inbox-rows tr[data-ticket]")


def open_ticket(page: Page, desk: Desk, subject: str, view: str = "all") -> None:
    page.goto(f"{desk.url}/agent/inbox?view={view}")
    page.get_by_role("link", name=subject, exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(subject)


def composer(page: Page) -> Locator:
    return page.get_by_role("textbox", name="Your reply")


def findings(page: Page) -> Locator:
    return page.locator("#check-findings li.finding")


def finding(page: Page, words: str) -> Locator:
    return page.locator("#check-findings li.finding", has_text=words)


def send(page: Page) -> None:
    """Press Send; when the reply check has open warnings it asks once, and a second press sends anyway."""
    page.get_by_role("button", name="Send", exact=True).click()
    sent = page.locator(".notice")
    asked = page.locator("#check-findings li[role=alert]")
    expect(sent.or_(asked)).to_be_visible()
    if asked.is_visible():
        expect(asked).to_contain_text("press Send again")
        page.get_by_role("button", name="Send", exact=True).click()
    expect(sent).to_contain_text("Reply sent")


def no_horizontal_scroll(page: Page) -> None:
    wide = page.evaluate(
        "() => [document.documentElement.scrollWidth, window.innerWidth,"
        " Array.from(document.querySelectorAll('body *')).filter((e) => e.getBoundingClientRect().right"
        " > window.innerWidth + 1).slice(0, 5).map((e) => e.tagName + '.' + e.className)]"
    )
    assert wide[0] <= wide[1] + 1, (
        f"{page.url} scrolls sideways at {wide[1]} px: {wide[0]} px wide; {wide[2]}"
    )


def xss_ran(page: Page) -> bool:
    return bool(page.evaluate("() => window.__xss !== undefined"))


# Controls a person operates: each must have an accessible name (its label, text or aria-label).
CONTROL_ROLES = {"button", "checkbox", "combobox", "link", "listbox", "radio", "searchbox", "textbox"}


def unnamed_controls(page: Page) -> list[str]:
    """Controls in Chromium's accessibility tree (what a screen reader gets) that have no name."""
    cdp = page.context.new_cdp_session(page)
    try:
        tree = cdp.send("Accessibility.getFullAXTree")
    finally:
        cdp.detach()
    unnamed = []
    for node in tree["nodes"]:
        role = node.get("role", {}).get("value")
        if node.get("ignored") or role not in CONTROL_ROLES:
            continue
        if not str(node.get("name", {}).get("value", "")).strip():
            unnamed.append(f"{role} (DOM node {node.get('backendDOMNodeId')})")
    return unnamed


# WCAG 2.1 contrast of every visible piece of text against the backgrounds painted behind it.
CONTRAST_JS = (Path(__file__).parent / "contrast.js").read_text(encoding="utf-8")


def low_contrast(page: Page) -> list[str]:
    found: list[str] = page.evaluate(CONTRAST_JS)
    return found


# -- 1. the whole path ---------------------------------------------------------------------------------------
def test_sign_in_answer_with_a_macro_and_the_customer_reads_it_in_the_portal(
    desk: Desk, new_context: Callable[..., BrowserContext], tmp_path: Path
) -> None:
    page = new_context().new_page()
    page.goto(f"{desk.url}/agent/inbox")
    # A stranger is sent to sign in, and comes back to the page asked for.
    expect(page).to_have_url(re.compile(r"/login\?next="))
    page.get_by_label("Email").fill(AGENT)
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/agent/inbox$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Mine")
    expect(page.locator(".ws-me")).to_contain_text("Amara Agent")

    # The urgent repeat complaint leads, with why it is urgent.
    first = rows(page).first
    expect(first.get_by_role("link")).to_have_text(TOM_SUBJECT)
    expect(first.locator(".badge.p-urgent")).to_have_text("urgent")
    expect(first.locator(".why")).to_contain_text("2 concerns")
    page.goto(f"{desk.url}/agent/inbox?view=all")
    expect(rows(page).first.get_by_role("link")).to_have_text(TOM_SUBJECT)
    expect(rows(page)).to_have_count(10)
    page.screenshot(path=screenshot_path("inbox.png", tmp_path, "screenshots"))

    # María's email about a double charge: the triage panel under her message.
    rows(page).get_by_role("link", name=MARIA_SUBJECT).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(MARIA_SUBJECT)
    expect(page.locator(".ticket-head .meta")).to_contain_text("email")
    triage = page.locator("details.triage").first
    expect(triage).to_be_visible()
    expect(triage.locator("> summary")).to_contain_text("1 concern")
    expect(triage.locator("summary .emo")).to_have_text(re.compile(r"\w+"))
    expect(triage.locator("> summary")).to_contain_text("urgency high")
    expect(triage.locator(".concerns li").first.locator(".intent")).to_have_text("charge dispute")
    expect(triage.locator(".entity", has_text="order number")).to_contain_text("A-10293")
    expect(page.get_by_role("heading", name="Suggested articles")).to_be_visible()

    # The macro fills the composer with her first name, the order number and the agent's first name.
    page.get_by_label("Macro").select_option(label="Duplicate charge refunded")
    reply = composer(page)
    expect(reply).to_have_value(
        re.compile(r"^Hi María,\n\nI've refunded the duplicate charge on order A-10293\.")
    )
    expect(reply).to_have_value(re.compile(r"Best wishes,\nAmara$"))
    expect(reply).to_be_focused()
    # The reply check ran on it: a grade, and its findings (the parcel is not answered yet).
    expect(page.locator("#check-grade")).to_contain_text("reading grade")
    expect(page.locator("#check-findings")).not_to_contain_text("Start writing")
    expect(findings(page).first).to_be_visible()
    text = reply.input_value()
    send(page)
    expect(page.locator(".msg.agent").last.locator(".body")).to_have_text(text)
    # The macro's actions ran with the reply: waiting on the customer, tagged.
    expect(page.locator(".ticket-head .meta")).to_contain_text("Waiting on customer")
    expect(page.locator(".ticket-head .tag", has_text="refund")).to_be_visible()

    # The reply went out by email through the relay, to María, with the text.
    email = wait_for_email(desk.relay, MARIA, "I've refunded the duplicate charge on order A-10293.")
    assert email["To"] == MARIA
    assert email["From"] == f"Northwind Support <{DESK_EMAIL}>"
    assert "Best wishes,\nAmara" in plain_text(email)

    # María, in her own browser: the emailed link signs her in; she sees the reply in the portal.
    portal = new_context().new_page()
    portal_sign_in(portal, desk.url, desk.relay, MARIA)
    portal.get_by_role("link", name=MARIA_SUBJECT).click()
    expect(portal.get_by_role("heading", level=1)).to_have_text(MARIA_SUBJECT)
    expect(portal.locator(".ticket-meta .status")).to_have_text("Waiting for your reply")
    answer = portal.locator(".message.from-us").last
    expect(answer.locator(".message-body")).to_have_text(text)
    expect(portal.locator(".message.from-you").first).to_contain_text("I was charged twice")
    portal.screenshot(path=screenshot_path("portal.png", tmp_path, "screenshots"), full_page=True)


# -- 2. reply assistance -------------------------------------------------------------------------------------
def test_draft_check_apply_dismiss_and_tone_in_the_composer(
    desk: Desk, new_context: Callable[..., BrowserContext], tmp_path: Path
) -> None:
    page = agent_page(new_context, desk)
    open_ticket(page, desk, MARIA_SUBJECT)
    reply = composer(page)

    page.get_by_role("button", name="Draft a reply").click()
    expect(reply).to_have_value(re.compile(r"^Hi María,"))
    expect(reply).to_be_focused()
    expect(page.locator("#check-grade")).to_contain_text("reading grade")

    reply.fill(
        "Hi María,\n\nwe can't refund until the item arrives. The tracking link is fixed: your parcel is "
        "with the courier and arrives on Thursday.\n\nBest wishes,\nAmara"
    )
    negative = finding(page, "Try: “we can refund as soon as the item arrives”")
    expect(negative).to_be_visible()
    # Every finding is announced with why it matters, and can be dismissed by name.
    expect(page.locator("#check")).to_have_attribute("aria-live", "polite")
    page.locator(".composer").evaluate("(composer) => composer.scrollIntoView({block: 'start'})")
    page.screenshot(path=screenshot_path("composer-check.png", tmp_path, "screenshots"))
    negative.get_by_role("button", name="Apply").click()
    expect(reply).to_have_value(re.compile(r"^Hi María,\n\nwe can refund as soon as the item arrives\."))
    expect(negative).to_have_count(0)

    # A reply to the wrong person: a warning. Dismiss hides it, and it stays hidden as the agent types on
    # (the check is told which findings were dismissed).
    reply.fill("Hi Tom,\n\nThe duplicate charge on order A-10293 is refunded.\n\nBest wishes,\nAmara")
    wrong_name = finding(page, 'The reply greets "Tom"')
    expect(wrong_name).to_be_visible()
    wrong_name.get_by_role("button", name=re.compile(r'^Dismiss: The reply greets "Tom"')).click()
    expect(wrong_name).to_have_count(0)
    reply.press("End")
    reply.press_sequentially("\nPS: I'll get back to you soon about the parcel.")
    # The check answered for the new text (it found the vague promise), and the name stays dismissed.
    expect(finding(page, "promises without saying when")).to_be_visible()
    expect(wrong_name).to_have_count(0)

    # A tone: the formal rewrite expands contractions and changes the greeting and closing.
    reply.fill("Hi María,\n\nWe've refunded the duplicate charge. Thanks a lot!\n\nBest wishes,\nAmara")
    page.get_by_role("button", name="More formal").click()
    expect(reply).to_have_value(re.compile(r"^Dear María,"))
    expect(reply).to_have_value(re.compile(r"We have refunded the duplicate charge"))
    expect(reply).not_to_have_value(re.compile("!"))
    page.get_by_role("button", name="Friendlier").click()
    expect(reply).to_have_value(re.compile(r"^Hi María,"))


# -- 3. the keyboard alone -----------------------------------------------------------------------------------
def test_keyboard_only_from_the_inbox_to_a_sent_reply(
    desk: Desk, new_context: Callable[..., BrowserContext]
) -> None:
    page = agent_page(new_context, desk)
    expect(rows(page)).to_have_count(2)
    keys = page.keyboard
    keys.press("j")
    expect(rows(page).nth(0)).to_have_class(re.compile("selected"))
    expect(rows(page).nth(0).get_by_role("link")).to_be_focused()
    keys.press("j")
    expect(rows(page).nth(1).get_by_role("link")).to_be_focused()
    keys.press("k")
    expect(rows(page).nth(0).get_by_role("link")).to_be_focused()
    # Focus is visible where it is.
    assert page.evaluate("() => getComputedStyle(document.activeElement).outlineStyle") != "none"

    # ? shows the shortcuts in a modal dialog: focus moves in and stays (Tab, shortcuts wait); Esc closes
    # it and focus goes back to the ticket it was on.
    keys.press("?")
    shortcuts = page.get_by_role("dialog", name="Keyboard shortcuts")
    expect(shortcuts).to_be_visible()
    close = shortcuts.get_by_role("button", name="Close")
    expect(close).to_be_focused()
    keys.press("Tab")
    keys.press("j")
    expect(close).to_be_focused()
    keys.press("Escape")
    expect(shortcuts).to_be_hidden()
    expect(rows(page).nth(0).get_by_role("link")).to_be_focused()
    keys.press("o")
    expect(page.get_by_role("heading", level=1)).to_contain_text(TOM_SUBJECT)
    keys.press("?")
    expect(shortcuts).to_be_visible()
    keys.press("Enter")  # the focused Close button
    expect(shortcuts).to_be_hidden()

    # r goes to the reply box; shortcuts are off while typing; Esc leaves the field.
    keys.press("r")
    reply = composer(page)
    expect(reply).to_be_focused()
    keys.type("Hi Tom, I'm so sorry the router still drops your calls. ")
    expect(reply).to_have_value("Hi Tom, I'm so sorry the router still drops your calls. ")
    expect(page).to_have_url(re.compile(r"/agent/tickets/\d+"))
    keys.type("A technician will replace it on Tuesday between 9 and 12.\n\nBest wishes,\nAmara")
    expect(page.locator("#check-grade")).to_contain_text("reading grade")

    # Tab from the reply box reaches the status choice and then Send, through any findings' buttons.
    reply.focus()
    order = []
    for _ in range(30):
        keys.press("Tab")
        order.append(page.evaluate("() => document.activeElement.name || document.activeElement.textContent"))
        if order[-1] == "Send":
            break
    assert order[-1] == "Send", order
    assert "then" in order, order
    keys.press("Enter")
    asked = page.locator("#check-findings li[role=alert]")
    sent = page.locator(".notice")
    expect(sent.or_(asked)).to_be_visible()
    if asked.is_visible():
        expect(page.get_by_role("button", name="Send", exact=True)).to_be_focused()
        keys.press("Enter")
    expect(sent).to_contain_text("Reply sent")
    expect(page.locator(".msg.agent").last).to_contain_text("A technician will replace it on Tuesday")

    # u goes back to the view the agent came from.
    keys.press("u")
    expect(page).to_have_url(re.compile(r"/agent/inbox\?view="))


def test_every_control_is_named_and_text_has_contrast(
    desk: Desk, new_context: Callable[..., BrowserContext]
) -> None:
    page = agent_page(new_context, desk)
    customer = new_context().new_page()
    portal_sign_in(customer, desk.url, desk.relay, MARIA)
    pages: list[tuple[Page, str]] = [
        (page, "/agent/inbox?view=all"),
        (page, "/agent/macros"),
        (customer, "/portal"),
    ]
    problems: dict[str, list[str]] = {}
    for who, path in pages:
        who.goto(desk.url + path)
        problems[path] = unnamed_controls(who) + low_contrast(who)
    # The ticket page with the reply check's findings (their Apply and Dismiss buttons) on show.
    open_ticket(page, desk, MARIA_SUBJECT)
    composer(page).fill("Hi Tom,\n\nUnfortunately we can't refund until the item arrives.\n\nAmara")
    expect(findings(page).first).to_be_visible()
    problems["ticket"] = unnamed_controls(page) + low_contrast(page)
    customer.get_by_role("link", name=MARIA_SUBJECT).click()
    problems["portal ticket"] = unnamed_controls(customer) + low_contrast(customer)
    anonymous = new_context().new_page()
    for path in ("/login", "/portal/login"):
        anonymous.goto(desk.url + path)
        problems[path] = unnamed_controls(anonymous) + low_contrast(anonymous)
    assert {path: found for path, found in problems.items() if found} == {}


# -- 4. live updates and presence ----------------------------------------------------------------------------
def test_a_new_ticket_appears_without_a_reload_and_colleagues_see_each_other(
    desk: Desk, new_context: Callable[..., BrowserContext]
) -> None:
    page = agent_page(new_context, desk)
    page.goto(f"{desk.url}/agent/inbox?view=all")
    expect(rows(page)).to_have_count(10)
    page.evaluate("() => { window.__sameDocument = true; }")
    desk.new_ticket("nina.petrov@example.com", "Kettle Pro lid cracked", "The lid of my Kettle Pro cracked.")
    expect(rows(page).get_by_role("link", name="Kettle Pro lid cracked")).to_be_visible(timeout=LIVE_MS)
    expect(page.locator("#inbox-live")).to_have_text("New messages arrived: the list is up to date.")
    assert page.evaluate("() => window.__sameDocument") is True  # no reload
    expect(page.locator('[data-count="all"]')).to_have_text("11")

    amara = page
    open_ticket(amara, desk, MARIA_SUBJECT)
    jonas = agent_page(new_context, desk, AGENT2)
    open_ticket(jonas, desk, MARIA_SUBJECT)
    # Jonas's first heartbeat already names Amara; Amara's next one (every 8 s) names Jonas.
    expect(jonas.locator("#presence")).to_have_text("Amara Agent is viewing this ticket.")
    expect(amara.locator("#presence")).to_have_text("Jonas Agent is viewing this ticket.", timeout=LIVE_MS)
    composer(jonas).press_sequentially("Hi María, ")
    expect(amara.locator("#presence")).to_have_text("Jonas Agent is typing a reply.", timeout=LIVE_MS)
    # Jonas leaves the page: he is gone from Amara's at her next heartbeat.
    jonas.goto(f"{desk.url}/agent/inbox")
    expect(amara.locator("#presence")).to_have_text("", timeout=LIVE_MS)


# -- 5. a narrow screen --------------------------------------------------------------------------------------
def test_nothing_scrolls_sideways_at_360_pixels(
    desk: Desk, new_context: Callable[..., BrowserContext], tmp_path: Path
) -> None:
    page = new_context(NARROW).new_page()
    page.goto(f"{desk.url}/login")
    no_horizontal_scroll(page)
    browser_sign_in(page, desk.url, AGENT, DEMO_PASSWORD)
    no_horizontal_scroll(page)
    page.goto(f"{desk.url}/agent/inbox?view=all")
    no_horizontal_scroll(page)
    page.screenshot(path=screenshot_path("inbox-narrow.png", tmp_path, "screenshots"))
    for subject in (MARIA_SUBJECT, TOM_SUBJECT):
        open_ticket(page, desk, subject)
        composer(page).fill("Hi, we can't refund until the item arrives. Please escalate to tier 2 support.")
        expect(findings(page).first).to_be_visible()
        no_horizontal_scroll(page)
    page.goto(f"{desk.url}/agent/macros")
    no_horizontal_scroll(page)

    customer = new_context(NARROW).new_page()
    portal_sign_in(customer, desk.url, desk.relay, MARIA)
    no_horizontal_scroll(customer)
    customer.get_by_role("link", name=MARIA_SUBJECT).click()
    no_horizontal_scroll(customer)


# -- 6. customer text is text --------------------------------------------------------------------------------
def test_markup_from_a_customer_never_runs(desk: Desk, new_context: Callable[..., BrowserContext]) -> None:
    subject = f"Refund {XSS_SCRIPT} {XSS_IMG}"
    body = f"Please refund order A-55555. {XSS_SCRIPT} {XSS_IMG} Thanks."
    desk.new_ticket("eve@example.com", subject, body, name=f"Eve {XSS_IMG}")
    page = agent_page(new_context, desk)
    page.goto(f"{desk.url}/agent/inbox?view=all")
    row = rows(page).filter(has_text=XSS_SCRIPT)
    expect(row.get_by_role("link")).to_have_text(subject)
    expect(row).to_contain_text(f"Eve {XSS_IMG}")
    assert not xss_ran(page)

    row.get_by_role("link").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(subject)
    expect(page.locator(".msg.customer .body")).to_have_text(body)
    expect(page.locator(".c360 h2")).to_contain_text(XSS_IMG)
    assert page.title().startswith(f"#{page.url.split('/')[-1].split('?')[0]} {subject}")
    # The draft and the check's findings quote the customer's words: as text too.
    page.get_by_role("button", name="Draft a reply").click()
    expect(composer(page)).to_have_value(re.compile("Hi Eve"))
    composer(page).fill(f"Hi Eve,\n\nWe can't refund until {XSS_IMG} arrives. Your order A-99999.\n\nAmara")
    expect(finding(page, "A-99999")).to_be_visible()
    expect(finding(page, "Try: “we can refund as soon as")).to_contain_text('<img src=x onerror="window')
    assert not xss_ran(page)
    assert page.locator("#check-findings img, .msg img, .c360 img").count() == 0

    customer = new_context().new_page()
    portal_sign_in(customer, desk.url, desk.relay, "eve@example.com")
    expect(customer.get_by_role("link", name=subject)).to_be_visible()
    assert not xss_ran(customer)
    customer.get_by_role("link", name=subject).click()
    expect(customer.locator(".message-body").first).to_have_text(body)
    assert not xss_ran(customer)
    assert customer.locator(".conversation img, script:not([src])").count() == 0


# -- 7. the demo at a glance ---------------------------------------------------------------------------------
def test_triage_and_the_customer_360_in_the_demo(
    desk: Desk, new_context: Callable[..., BrowserContext], tmp_path: Path
) -> None:
    page = agent_page(new_context, desk)
    # Tom: upset, two concerns, a repeat contact; no sales pitch while he waits.
    open_ticket(page, desk, TOM_SUBJECT)
    triage = page.locator("details.triage").first
    expect(triage.locator("> summary")).to_contain_text("2 concerns")
    expect(triage.locator(".concerns > li")).to_have_count(2)
    expect(page.locator(".c360 .mood")).to_have_class(re.compile("upset"))
    expect(page.locator(".c360")).to_contain_text("HomeHub router")
    expect(page.locator(".offer")).to_have_count(0)
    page.screenshot(path=screenshot_path("ticket.png", tmp_path, "screenshots"), full_page=True)

    # Sam: his wifi is fixed and he is happy; customers like him bought the mesh extender.
    open_ticket(page, desk, SAM_SUBJECT, view="solved")
    offer = page.locator(".offer")
    expect(offer.get_by_role("heading", name="Might also help")).to_be_visible()
    expect(offer).to_contain_text("Mesh Extender")
    page.screenshot(path=screenshot_path("customer-360-offer.png", tmp_path, "screenshots"), full_page=True)
