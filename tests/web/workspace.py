"""Signing staff in to the workspace from tests: a password set through the service, then the real form
(with TestClient, or in a real browser); and a real SMTP relay to see what the desk emails."""

from __future__ import annotations

import re
import time
from email.message import EmailMessage
from typing import TYPE_CHECKING

from fastapi.testclient import TestClient

from ombud.accounts import service as accounts
from ombud.accounts import sessions
from ombud.runtime import Runtime
from tests.channels.conftest import Relay

if TYPE_CHECKING:
    from playwright.sync_api import Page

PASSWORD = "correct horse battery"


def set_password(runtime: Runtime, email: str, password: str = PASSWORD) -> None:
    with runtime.database.session() as session:
        user = accounts.get_user_by_email(session=session, email=email)
        assert user is not None
        sessions.set_password(session=session, user=user, password=password)
        session.commit()


def form_csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "the page has no CSRF field"
    return found.group(1)


def sign_in(client: TestClient, runtime: Runtime, email: str, password: str = PASSWORD) -> str:
    """Sign ``email`` in through /login; return the CSRF token the workspace's forms carry."""
    set_password(runtime, email, password)
    form = client.get("/login")
    response = client.post(
        "/login",
        data={
            "email": email,
            "password": password,
            "csrf_token": form_csrf(form.text),
            "next": "/agent/inbox",
        },
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    inbox = client.get("/agent/inbox")
    assert inbox.status_code == 200, inbox.text
    return form_csrf(inbox.text)


# -- the same, in a real browser (tests/web/test_workspace_browser.py) ---------------------------------------
def plain_text(message: EmailMessage) -> str:
    body = message.get_body(("plain",))
    assert body is not None, message
    return str(body.get_content())


def wait_for_email(relay: Relay, to: str, containing: str, timeout: float = 15.0) -> EmailMessage:
    """The first email the relay received for ``to`` whose text has ``containing`` (waits for it)."""
    deadline = time.monotonic() + timeout
    while True:
        with relay.lock:
            received = list(zip(relay.envelopes, relay.received, strict=True))
        for (_, recipients), message in received:
            if to in recipients and containing in plain_text(message):
                return message
        if time.monotonic() > deadline:
            seen = [(recipients, message["Subject"]) for (_, recipients), message in received]
            raise AssertionError(f"no email to {to} containing {containing!r}; the relay has {seen}")
        time.sleep(0.1)


def browser_sign_in(page: Page, base_url: str, email: str, password: str = PASSWORD) -> None:
    """Sign ``email`` in to the workspace through the real form, as a person would."""
    page.goto(f"{base_url}/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/agent/inbox"))


def portal_sign_in(page: Page, base_url: str, relay: Relay, email: str) -> None:
    """Sign a customer in to the portal: ask for a link on the page, open the one the relay received."""
    page.goto(f"{base_url}/portal/login")
    page.get_by_label("Email address").fill(email)
    page.get_by_role("button", name="Email me a sign-in link").click()
    page.get_by_role("heading", name="Check your email").wait_for()
    message = wait_for_email(relay, email, "/portal/login/")
    found = re.search(r"https?://\S+(/portal/login/[A-Za-z0-9_-]+)", plain_text(message))
    assert found is not None, plain_text(message)
    page.goto(base_url + found.group(1))
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Your requests").wait_for()
