"""The customer portal (/portal) through the real app: sign-in by a one-time link that a real SMTP relay
receives, the customer's own tickets and nobody else's, no internal notes, replies with files, ratings,
CSRF, rate limits, and customer-supplied text shown as text on every page."""

from __future__ import annotations

import base64
import datetime as dt
import logging
import re
from collections.abc import Iterator
from email.message import EmailMessage
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx2 as httpx  # what Starlette's TestClient speaks
import pytest
from fastapi.testclient import TestClient

from ombud.accounts import sessions
from ombud.channels.email import service as email_service
from ombud.runtime import Runtime, build_runtime
from ombud.settings import Settings
from ombud.tickets import ratings
from tests.channels.conftest import Relay, running_relay
from tests.conftest import Personas, app_for, make_people, new_ticket

DESK = "help@northwind.example"
HOSTILE = "<script>alert(1)</script>"
# A file name loses everything up to its last slash on the way in, so the one in a file name has none.
HOSTILE_FILE = '<img src=x onerror="alert(1)">.txt'
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"
KNOWN_TEXT = "If that address is known to us, a link is on its way."


@pytest.fixture
def relay() -> Iterator[Relay]:
    with running_relay() as found:
        yield found


@pytest.fixture
def portal_runtime(tmp_path: Path, database_url: str, relay: Relay) -> Iterator[Runtime]:
    settings = Settings(
        home=tmp_path,
        database_url=database_url,
        smtp_relay=f"127.0.0.1:{relay.port}",
        email_address=DESK,
        email_name="Northwind Support",
        login_rate_limit=4,
    )
    built = build_runtime(settings, queue_url="memory://")
    yield built
    built.close()


@pytest.fixture
def portal(portal_runtime: Runtime) -> Iterator[TestClient]:
    """A customer's browser (its own cookie jar) on the app wired to the relay."""
    with TestClient(app_for(portal_runtime), raise_server_exceptions=False) as browser:
        yield browser


@pytest.fixture
def cast(portal_runtime: Runtime) -> Personas:
    return make_people(portal_runtime)


@pytest.fixture
def api(portal_runtime: Runtime) -> Iterator[TestClient]:
    """Staff's API client (no cookies shared with the customer's browser)."""
    with TestClient(app_for(portal_runtime), raise_server_exceptions=False) as client:
        yield client


# -- helpers -------------------------------------------------------------------------------------------------
def csrf_of(page: httpx.Response) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found is not None, page.text
    return found.group(1)


def ask_for_link(browser: TestClient, email: str) -> httpx.Response:
    form = browser.get("/portal/login")
    assert form.status_code == 200, form.text
    return browser.post("/portal/login", data={"email": email, "csrf_token": csrf_of(form)})


def link_emails(relay: Relay) -> list[tuple[list[str], EmailMessage]]:
    """The sign-in emails the relay received (agents' replies on email tickets go through it too)."""
    return [
        (to, message)
        for (_, to), message in zip(relay.envelopes, relay.received, strict=True)
        if message["Subject"] == "Your sign-in link"
    ]


def link_in(relay: Relay, email: str) -> str:
    """The sign-in link of the latest sign-in email the relay received, for ``email``, as a path."""
    to, message = link_emails(relay)[-1]
    assert to == [email]
    assert message["From"] == "Northwind Support <help@northwind.example>"
    body = message.get_body(("plain",))
    assert body is not None
    found = re.search(r"http://127.0.0.1:8000(/portal/login/\S+)", body.get_content())
    assert found is not None, body.get_content()
    return found.group(1)


def use_link(browser: TestClient, path: str) -> httpx.Response:
    page = browser.get(path)
    assert page.status_code == 200, page.text
    return browser.post(path, data={"csrf_token": csrf_of(page)}, follow_redirects=False)


def sign_in(browser: TestClient, relay: Relay, email: str) -> str:
    """Sign in through the email link; return the session's CSRF token."""
    assert ask_for_link(browser, email).status_code == 200
    signed_in = use_link(browser, link_in(relay, email))
    assert signed_in.status_code == 303, signed_in.text
    assert signed_in.headers["location"] == "/portal"
    return csrf_of(browser.get("/portal"))


def agent_reply(api: TestClient, cast: Personas, ticket_id: Any, body: str, **fields: Any) -> dict[str, Any]:
    response = api.post(
        f"/api/v1/tickets/{ticket_id}/messages", json={"body": body, **fields}, headers=cast.agent.headers
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


# -- signing in ----------------------------------------------------------------------------------------------
def test_sign_in_by_emailed_link_shows_only_own_tickets(
    portal: TestClient, api: TestClient, cast: Personas, relay: Relay
) -> None:
    mine = new_ticket(api, cast.agent, subject="Card never arrived")
    new_ticket(api, cast.agent, subject="Tom's refund", customer={"email": "tom@example.org"})
    assert portal.get("/portal", follow_redirects=False).headers["location"] == "/portal/login"

    sent = ask_for_link(portal, "Maria@Example.com ")
    assert KNOWN_TEXT in sent.text
    assert link_emails(relay)[-1][1]["Auto-Submitted"] == "auto-generated"
    path = link_in(relay, "maria@example.com")
    # Opening the link (as a mail scanner does) spends nothing: only the button's POST signs in.
    for _ in range(2):
        assert "Sign in" in portal.get(path).text
    assert portal.get("/portal", follow_redirects=False).status_code == 303
    assert use_link(portal, path).status_code == 303

    page = portal.get("/portal")
    assert page.status_code == 200
    assert "Card never arrived" in page.text and f'href="/portal/tickets/{mine["id"]}"' in page.text
    assert "Received" in page.text  # the status in words
    assert "Tom&#39;s refund" not in page.text and "Tom's refund" not in page.text
    assert page.headers["cache-control"] == "private, no-store"
    assert 'action="/help"' in page.text and 'name="q"' in page.text

    out = portal.post("/portal/logout", data={"csrf_token": csrf_of(page)}, follow_redirects=False)
    assert out.status_code == 303
    assert portal.get("/portal", follow_redirects=False).headers["location"] == "/portal/login"


def test_unknown_address_gets_the_same_page_and_no_email(
    portal: TestClient, cast: Personas, relay: Relay
) -> None:
    known = ask_for_link(portal, "maria@example.com")
    unknown = ask_for_link(portal, "nobody@example.com")
    assert unknown.status_code == known.status_code == 200
    assert KNOWN_TEXT in unknown.text
    assert unknown.text == known.text  # nothing on the page tells the two apart
    assert [to for to, _ in link_emails(relay)] == [["maria@example.com"]]
    bad = ask_for_link(portal, "not an address")
    assert bad.status_code == 422 and "not an email address" in bad.text


def test_a_link_works_once(portal: TestClient, cast: Personas, relay: Relay) -> None:
    sign_in(portal, relay, "maria@example.com")
    path = link_in(relay, "maria@example.com")
    with TestClient(portal.app, raise_server_exceptions=False) as other:
        again = use_link(other, path)
        assert again.status_code == 401
        assert "used, expired or unknown" in again.text
        assert other.get("/portal", follow_redirects=False).status_code == 303


def test_an_expired_link_is_refused(
    portal: TestClient, cast: Personas, relay: Relay, monkeypatch: pytest.MonkeyPatch
) -> None:
    ask_for_link(portal, "maria@example.com")
    path = link_in(relay, "maria@example.com")
    later = dt.datetime.now(dt.UTC) + sessions.LOGIN_LINK_LIFETIME + dt.timedelta(seconds=5)
    monkeypatch.setattr(sessions, "utcnow", lambda: later)
    refused = use_link(portal, path)
    assert refused.status_code == 401 and "ask for a new one" in refused.text
    assert portal.get("/portal", follow_redirects=False).status_code == 303


def test_link_requests_are_rate_limited(portal: TestClient, cast: Personas, relay: Relay) -> None:
    for _ in range(4):
        assert ask_for_link(portal, "maria@example.com").status_code == 200
    refused = ask_for_link(portal, "maria@example.com")
    assert refused.status_code == 429 and "rate_limited" in refused.text
    assert "retry-after" in refused.headers
    assert len(link_emails(relay)) == 4
    # The count is per email address too: another client asking for the same address is refused.
    with TestClient(portal.app, client=("203.0.113.9", 50000), raise_server_exceptions=False) as other:
        assert ask_for_link(other, "maria@example.com").status_code == 429
        assert ask_for_link(other, "tom@example.org").status_code == 200


def test_forms_without_the_csrf_token_are_refused(
    portal: TestClient, api: TestClient, cast: Personas, relay: Relay
) -> None:
    ticket = new_ticket(api, cast.agent)
    agent_reply(api, cast, ticket["id"], "We are on it.")
    # Before signing in: the double-submit cookie must match the form.
    portal.get("/portal/login")
    refused = portal.post("/portal/login", data={"email": "maria@example.com", "csrf_token": "forged"})
    assert refused.status_code == 403 and "csrf_failed" in refused.text
    assert link_emails(relay) == []
    with TestClient(portal.app, raise_server_exceptions=False) as fresh:  # no cookie at all
        assert (
            fresh.post("/portal/login", data={"email": "maria@example.com", "csrf_token": ""}).status_code
            == 403
        )

    csrf = sign_in(portal, relay, "maria@example.com")
    for path, data in (
        (f"/portal/tickets/{ticket['id']}/reply", {"body": "forged reply"}),
        (f"/portal/tickets/{ticket['id']}/rating", {"score": "1"}),
        ("/portal/logout", {}),
    ):
        for token in (None, "wrong"):
            sent = data if token is None else {**data, "csrf_token": token}
            response = portal.post(path, data=sent)
            assert response.status_code == 403, (path, response.text)
            assert "csrf_failed" in response.text
    detail = api.get(f"/api/v1/tickets/{ticket['id']}", headers=cast.agent.headers).json()
    assert "forged reply" not in str(detail["messages"])
    assert portal.get("/portal").status_code == 200  # still signed in: the logout was refused too
    ok = portal.post(f"/portal/tickets/{ticket['id']}/reply", data={"body": "real", "csrf_token": csrf})
    assert ok.status_code == 200 and "Your reply was sent." in ok.text


# -- what a customer may see ---------------------------------------------------------------------------------
def test_another_customers_ticket_is_the_same_404_as_a_missing_one(
    portal: TestClient, api: TestClient, cast: Personas, relay: Relay
) -> None:
    toms = new_ticket(api, cast.agent, subject="Tom's secret", customer={"email": "tom@example.org"})
    file = {"filename": "toms.txt", "content_type": "text/plain", "content_base64": b64(b"tom only")}
    reply = agent_reply(api, cast, toms["id"], "For Tom", attachments=[file])
    csrf = sign_in(portal, relay, "maria@example.com")
    missing = portal.get("/portal/tickets/999999")
    other = portal.get(f"/portal/tickets/{toms['id']}")
    assert other.status_code == missing.status_code == 404
    assert "ticket_not_found" in other.text and "Tom" not in other.text
    for path, data in (("reply", {"body": "hi"}), ("rating", {"score": "5"})):
        response = portal.post(f"/portal/tickets/{toms['id']}/{path}", data={**data, "csrf_token": csrf})
        assert response.status_code == 404, response.text
    download = portal.get(f"/portal/attachments/{reply['attachments'][0]['id']}")
    assert download.status_code == 404 and b"tom only" not in download.content


def test_internal_notes_never_appear(
    portal: TestClient, api: TestClient, cast: Personas, relay: Relay
) -> None:
    ticket = new_ticket(api, cast.agent)
    file = {"filename": "note-file.txt", "content_type": "text/plain", "content_base64": b64(b"internal")}
    note = agent_reply(
        api, cast, ticket["id"], "NOTE: customer is difficult", internal=True, attachments=[file]
    )
    agent_reply(api, cast, ticket["id"], "Refund on its way.")
    sign_in(portal, relay, "maria@example.com")
    page = portal.get(f"/portal/tickets/{ticket['id']}")
    assert "Refund on its way." in page.text
    assert "customer is difficult" not in page.text and "note-file.txt" not in page.text
    assert portal.get(f"/portal/attachments/{note['attachments'][0]['id']}").status_code == 404


# -- replying and rating -------------------------------------------------------------------------------------
def test_reply_with_files_reaches_the_ticket(
    portal: TestClient, api: TestClient, cast: Personas, relay: Relay
) -> None:
    ticket = new_ticket(api, cast.agent)
    agent_reply(api, cast, ticket["id"], "Which card?")
    api.patch(f"/api/v1/tickets/{ticket['id']}", json={"status": "pending"}, headers=cast.agent.headers)
    csrf = sign_in(portal, relay, "maria@example.com")
    assert "Waiting for your reply" in portal.get("/portal").text

    sent = portal.post(
        f"/portal/tickets/{ticket['id']}/reply",
        data={"body": "The blue one.\nThanks", "csrf_token": csrf},
        files=[
            ("files", ("receipt.pdf", b"%PDF-1.4 receipt", "application/pdf")),
            ("files", ("photo é.png", b"\x89PNG fake", "image/png")),
        ],
        follow_redirects=False,
    )
    assert sent.status_code == 303, sent.text
    assert sent.headers["location"].startswith(f"/portal/tickets/{ticket['id']}?done=reply#message-")

    detail = api.get(f"/api/v1/tickets/{ticket['id']}", headers=cast.agent.headers).json()
    assert detail["status"] == "open"  # the customer's answer reopened it
    last = detail["messages"][-1]
    assert last["author_type"] == "customer" and last["body"] == "The blue one.\nThanks"
    assert [(a["filename"], a["content_type"], a["size"]) for a in last["attachments"]] == [
        ("receipt.pdf", "application/pdf", 16),
        ("photo é.png", "image/png", 9),
    ]
    page = portal.get(sent.headers["location"])
    assert "Your reply was sent." in page.text and 'aria-live="polite"' in page.text
    download = portal.get(f"/portal/attachments/{last['attachments'][1]['id']}")
    assert download.status_code == 200 and download.content == b"\x89PNG fake"
    assert download.headers["content-disposition"] == (
        "attachment; filename=\"photo _.png\"; filename*=UTF-8''photo%20%C3%A9.png"
    )
    assert download.headers["x-content-type-options"] == "nosniff"


def test_an_empty_or_oversized_reply_shows_the_form_again(
    portal: TestClient, api: TestClient, cast: Personas, relay: Relay, portal_runtime: Runtime
) -> None:
    ticket = new_ticket(api, cast.agent)
    csrf = sign_in(portal, relay, "maria@example.com")
    empty = portal.post(f"/portal/tickets/{ticket['id']}/reply", data={"body": "  ", "csrf_token": csrf})
    assert empty.status_code == 422 and 'role="alert"' in empty.text
    big = b"x" * (portal_runtime.limits.max_attachment_bytes + 1)
    too_big = portal.post(
        f"/portal/tickets/{ticket['id']}/reply",
        data={"body": "my draft", "csrf_token": csrf},
        files=[("files", ("big.bin", big, "application/octet-stream"))],
    )
    assert too_big.status_code == 413 and "attachment_too_large" not in too_big.text
    assert "big.bin" in too_big.text and ">my draft</textarea>" in too_big.text
    detail = api.get(f"/api/v1/tickets/{ticket['id']}", headers=cast.agent.headers).json()
    assert len(detail["messages"]) == 1


def test_a_closed_ticket_points_to_a_new_request(
    portal: TestClient, api: TestClient, cast: Personas, relay: Relay
) -> None:
    ticket = new_ticket(api, cast.agent)
    api.patch(
        f"/api/v1/tickets/{ticket['id']}",
        json={"status": "closed", "confirm": True},
        headers=cast.agent.headers,
    )
    csrf = sign_in(portal, relay, "maria@example.com")
    page = portal.get(f"/portal/tickets/{ticket['id']}")
    assert "open a new request" in page.text and 'href="/contact"' in page.text
    assert 'name="body"' not in page.text
    late = portal.post(f"/portal/tickets/{ticket['id']}/reply", data={"body": "one more", "csrf_token": csrf})
    assert late.status_code == 409 and "open a new ticket" in late.text


def test_rating_appears_once_we_replied_and_a_new_one_replaces_it(
    portal: TestClient, api: TestClient, cast: Personas, relay: Relay, portal_runtime: Runtime
) -> None:
    ticket = new_ticket(api, cast.agent)
    csrf = sign_in(portal, relay, "maria@example.com")
    path = f"/portal/tickets/{ticket['id']}"
    assert 'name="score"' not in portal.get(path).text
    early = portal.post(f"{path}/rating", data={"score": "5", "csrf_token": csrf})
    assert early.status_code == 422 and "no reply to rate" in early.text

    agent_reply(api, cast, ticket["id"], "Refunded.")
    assert 'name="score"' in portal.get(path).text
    rated = portal.post(f"{path}/rating", data={"score": "4", "comment": "Quick, thanks", "csrf_token": csrf})
    assert rated.status_code == 200
    assert "You rated this 4 out of 5" in rated.text and "Quick, thanks" in rated.text
    assert 'id="score-4" name="score" value="4" required checked' in rated.text
    again = portal.post(f"{path}/rating", data={"score": "2", "comment": "", "csrf_token": csrf})
    assert "You rated this 2 out of 5" in again.text and "Quick, thanks" not in again.text
    wrong = portal.post(f"{path}/rating", data={"score": "9", "csrf_token": csrf})
    assert wrong.status_code == 422 and "score must be 1 to 5" in wrong.text
    assert "You rated this 2 out of 5" in wrong.text
    with portal_runtime.database.session(write=False) as session:
        stored = ratings.rating_for(session=session, ticket_id=int(str(ticket["id"])))
        assert stored is not None and (stored.score, stored.comment) == (2, "")


def test_tickets_are_listed_by_latest_activity_in_pages(
    portal: TestClient, api: TestClient, cast: Personas, relay: Relay
) -> None:
    made = [new_ticket(api, cast.agent, subject=f"Question {n:02d}") for n in range(23)]
    agent_reply(api, cast, made[0]["id"], "Answer to the oldest")
    sign_in(portal, relay, "maria@example.com")
    first = portal.get("/portal").text
    subjects = re.findall(r"Question \d\d", first)
    assert subjects[:3] == ["Question 00", "Question 22", "Question 21"]
    assert len(subjects) == 20
    older = re.search(r'href="(/portal\?cursor=[^"]+)">Older requests', first)
    assert older is not None
    second = portal.get(older.group(1).replace("&amp;", "&")).text
    assert re.findall(r"Question \d\d", second) == ["Question 03", "Question 02", "Question 01"]
    assert "Older requests</a>" not in second
    assert portal.get("/portal?cursor=bad").status_code == 422


# -- escaping and accessibility ------------------------------------------------------------------------------
def test_customer_text_is_shown_as_text_on_every_page(
    portal: TestClient, api: TestClient, cast: Personas, relay: Relay, portal_runtime: Runtime
) -> None:
    hostile = EmailMessage()
    hostile["From"] = "Maria <maria@example.com>"
    hostile["To"] = DESK
    hostile["Subject"] = HOSTILE
    hostile["Message-ID"] = "<hostile-1@example.com>"
    hostile.set_content(f"Hello {HOSTILE}")
    hostile.add_attachment(b"x", maintype="text", subtype="plain", filename=HOSTILE_FILE)
    with portal_runtime.database.session() as session:
        received = email_service.receive_email(
            session=session, raw=bytes(hostile), source="test", config=portal_runtime.email
        )
        session.commit()
    assert received.outcome == "created"
    ticket = {"id": received.ticket_id}
    agent_reply(api, cast, ticket["id"], "We replied.")
    csrf = sign_in(portal, relay, "maria@example.com")
    path = f"/portal/tickets/{ticket['id']}"
    rated = portal.post(f"{path}/rating", data={"score": "3", "comment": HOSTILE, "csrf_token": csrf})
    pages = {
        "list": portal.get("/portal"),
        "ticket": portal.get(path),
        "rated": rated,
        "reply again": portal.post(
            f"{path}/reply",
            data={"body": HOSTILE, "csrf_token": csrf},
            files=[("files", ("big.bin", b"x" * (10 * 1024 * 1024 + 1), "application/octet-stream"))],
        ),
        "login": portal.post(
            "/portal/login", data={"email": HOSTILE, "csrf_token": csrf_of(portal.get("/portal/login"))}
        ),
    }
    for name, page in pages.items():
        assert "<script>alert" not in page.text, name
        assert ESCAPED in page.text, name
    assert pages["ticket"].text.count(ESCAPED) >= 3  # the subject (title and heading) and the body
    assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;.txt" in pages["ticket"].text
    assert "<img src=x" not in pages["ticket"].text
    download = portal.get(re.findall(r'href="(/portal/attachments/\d+)"', pages["ticket"].text)[0])
    assert download.status_code == 200
    assert download.headers["content-disposition"] == (
        'attachment; filename="<img src=x onerror=_alert(1)_>.txt"; '
        "filename*=UTF-8''%3Cimg%20src%3Dx%20onerror%3D%22alert%281%29%22%3E.txt"
    )


class Labels(HTMLParser):
    """Collects the ids of labelled controls and every control a person fills in or presses."""

    def __init__(self) -> None:
        super().__init__()
        self.labelled: set[str] = set()
        self.controls: list[dict[str, str | None]] = []
        self.headings: list[int] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "label" and found.get("for"):
            self.labelled.add(str(found["for"]))
        if tag in {"input", "textarea", "select"} and found.get("type") != "hidden":
            self.controls.append(found)
        if re.fullmatch(r"h[1-6]", tag):
            self.headings.append(int(tag[1]))


def test_every_control_has_a_label_and_headings_go_in_order(
    portal: TestClient, api: TestClient, cast: Personas, relay: Relay
) -> None:
    ticket = new_ticket(api, cast.agent)
    agent_reply(api, cast, ticket["id"], "Done.")
    login = portal.get("/portal/login").text
    csrf = sign_in(portal, relay, "maria@example.com")
    pages = [login, portal.get("/portal").text, portal.get(f"/portal/tickets/{ticket['id']}").text]
    pages.append(portal.post(f"/portal/tickets/{ticket['id']}/rating", data={"csrf_token": csrf}).text)
    for page in pages:
        parsed = Labels()
        parsed.feed(page)
        assert parsed.controls
        for control in parsed.controls:
            assert control.get("id") in parsed.labelled, control
        assert parsed.headings[0] == 1
        assert all(b - a <= 1 for a, b in zip(parsed.headings, parsed.headings[1:], strict=False))
        assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page
        assert 'href="/static/portal.css"' in page
    assert portal.get("/static/portal.css").status_code == 200


# -- without a relay -----------------------------------------------------------------------------------------
def test_without_a_relay_the_link_is_logged_only_in_demo_mode(
    tmp_path: Path, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    for show in (False, True):
        settings = Settings(home=tmp_path / str(show), database_url=database_url, show_login_links=show)
        runtime = build_runtime(settings, queue_url="memory://")
        try:
            if not show:
                make_people(runtime)
            with TestClient(app_for(runtime), raise_server_exceptions=False) as browser:
                caplog.clear()
                with caplog.at_level(logging.INFO):
                    page = ask_for_link(browser, "maria@example.com")
                assert KNOWN_TEXT in page.text
                warned = [r.getMessage() for r in caplog.records if r.name == "ombud.web.portal"]
                assert warned and "not sent" in warned[0]
                link = re.search(r'href="http://127.0.0.1:8000(/portal/login/[^"]+)"', page.text)
                if not show:
                    assert link is None and "/portal/login/" not in " ".join(warned)
                    continue
                assert link is not None and link.group(1) in " ".join(warned)
                assert use_link(browser, link.group(1)).status_code == 303
                assert browser.get("/portal").status_code == 200
        finally:
            runtime.close()


def test_a_forged_host_header_never_reaches_the_emailed_link(
    portal: TestClient, cast: Personas, relay: Relay
) -> None:
    # The link is built from OMBUD_PUBLIC_URL (or the served address), not from what the request claims:
    # otherwise a stranger could have the desk email a genuine link pointing at their own server.
    form = portal.get("/portal/login")
    asked = portal.post(
        "/portal/login",
        data={"email": "maria@example.com", "csrf_token": csrf_of(form)},
        headers={"Host": "evil.example"},
    )
    assert asked.status_code == 200
    _, message = link_emails(relay)[-1]
    body = message.get_body(("plain",))
    assert body is not None
    assert "evil.example" not in body.get_content()
    assert "http://127.0.0.1:8000/portal/login/" in body.get_content()
