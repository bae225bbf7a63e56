"""The chat widget in a real browser: headless Chromium opens the demo page of the real app (uvicorn on
127.0.0.1), the visitor types, and an agent answers over the agents' WebSocket and the API.

The server's side of the protocol is tested frame by frame in tests/channels/test_chat.py; this file tests
what a visitor sees: delivery and read marks, the typing line, replies without a reload, the conversation
after a reload, the email form when nobody is there, the HTTP long-poll fallback, and the widget embedded
on another site.

Needs Debian's chromium (the `browser` fixture installs it as root, else skips; CI fails without it).
`OMBUD_UPDATE_SCREENSHOTS=1` also writes docs/images/chat-widget.png.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from playwright.sync_api import Browser, BrowserContext, Locator, Page, expect
from websockets.sync.client import ClientConnection, connect

from ombud.channels.chat.hub import PRESENCE
from ombud.runtime import Runtime, build_runtime
from ombud.settings import Settings
from ombud.web.app import create_app
from tests.conftest import Personas, make_people
from tests.web.browser import LiveServer, screenshot_path

# Everything here answers in well under a second; the margin is for a busy 2-core CI machine.
WAIT_MS = 30_000
WAIT_S = WAIT_MS / 1000
# Playwright's expect() waits 5 s by default, too little for a widget line on a loaded CI machine.
expect.set_options(timeout=WAIT_MS)
# Chromium without WebSocket, as behind a proxy that blocks them: the widget must fall back to HTTP.
NO_WEBSOCKET = "delete window.WebSocket;"


@dataclass
class Desk:
    """The app served for the browser, its runtime and cast, and an HTTP client with the agent's token."""

    server: LiveServer
    runtime: Runtime
    cast: Personas
    api: httpx.Client

    def reply(self, ticket_id: int, body: str) -> dict[str, Any]:
        response = self.api.post(f"/api/v1/tickets/{ticket_id}/messages", json={"body": body})
        assert response.status_code == 201, response.text
        answer: dict[str, Any] = response.json()
        return answer

    def chat_tickets(self) -> list[dict[str, Any]]:
        response = self.api.get("/api/v1/tickets", params={"channel": "chat"})
        assert response.status_code == 200, response.text
        items: list[dict[str, Any]] = response.json()["items"]
        return items

    def ticket(self, ticket_id: int) -> dict[str, Any]:
        response = self.api.get(f"/api/v1/tickets/{ticket_id}")
        assert response.status_code == 200, response.text
        found: dict[str, Any] = response.json()
        return found


@pytest.fixture
def desk(tmp_path: Path, sqlite_template: Path) -> Iterator[Desk]:
    # SQLite only: the browser sees the same app either way, and the server side runs on both backends in
    # tests/channels/test_chat.py.
    database = tmp_path / "ombud.db"
    shutil.copyfile(sqlite_template, database)
    runtime = build_runtime(
        Settings(home=tmp_path, database_url=f"sqlite:///{database}"), queue_url="memory://"
    )
    try:
        cast = make_people(runtime)
        with (
            LiveServer(create_app(runtime)) as server,
            httpx.Client(base_url=server.url, headers=cast.agent.headers, timeout=WAIT_S) as api,
        ):
            yield Desk(server=server, runtime=runtime, cast=cast, api=api)
            # A long poll does not notice its browser is gone: wake it, or uvicorn's shutdown waits for it
            # and then cancels it with an error in the log.
            runtime.chat_hub.publish(PRESENCE, {"type": "presence", "agents_online": 0})
    finally:
        runtime.close()


@pytest.fixture
def context(browser: Browser, desk: Desk) -> Iterator[BrowserContext]:
    """A fresh visitor: a browser context of its own (own localStorage, so no chat token yet).

    It asks for `desk` so that the browser goes away before the server stops.
    """
    made = browser.new_context(viewport={"width": 1000, "height": 720})
    try:
        yield made
    finally:
        made.close()


class Agent:
    """An agent's real-time connection (/api/v1/chat/ws), as the agents' app would hold it."""

    def __init__(self, socket: ClientConnection) -> None:
        self.socket = socket

    def send(self, frame: dict[str, Any]) -> None:
        self.socket.send(json.dumps(frame))

    def next_of(self, kind: str) -> dict[str, Any]:
        """The next frame of ``kind`` (presence and typing frames may come in between)."""
        deadline = time.monotonic() + WAIT_S
        while (left := deadline - time.monotonic()) > 0:
            frame: dict[str, Any] = json.loads(self.socket.recv(timeout=left))
            if frame["type"] == kind:
                return frame
        raise AssertionError(f"no {kind} frame within {WAIT_S} s")

    def next_line(self) -> dict[str, Any]:
        """The next line a customer typed (the feed also carries agents' replies)."""
        while (frame := self.next_of("message"))["author"] != "customer":
            pass
        return frame


@contextlib.contextmanager
def agent_online(desk: Desk) -> Iterator[Agent]:
    with connect(f"{desk.server.ws_url}/api/v1/chat/ws", open_timeout=WAIT_S, close_timeout=1) as socket:
        agent = Agent(socket)
        agent.send({"type": "hello", "token": desk.cast.agent.token})
        assert agent.next_of("welcome")["agents_online"] >= 1
        yield agent


def open_chat(context: BrowserContext, desk: Desk) -> Page:
    """The demo page with the widget opened by a click on its button."""
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    page.goto(f"{desk.server.url}/chat/demo")
    page.get_by_role("button", name="Chat with us").click()
    expect(page.get_by_role("region", name="Chat")).to_be_visible()
    return page


def say(page: Page, text: str) -> Locator:
    """Type a line and press Enter; return the visitor's line in the log."""
    box = page.get_by_role("textbox", name="Message")
    box.fill(text)
    box.press("Enter")
    expect(box).to_have_value("")
    return line(page, text)


def line(page: Page, text: str) -> Locator:
    return page.locator(".ombud-chat-log li", has=page.get_by_text(text, exact=True))


def mark(item: Locator) -> Locator:
    return item.locator(".ombud-chat-state")


def test_conversation_in_real_time_and_after_a_reload(
    desk: Desk, context: BrowserContext, tmp_path: Path
) -> None:
    page = open_chat(context, desk)
    status = page.locator(".ombud-chat-status")
    expect(status).to_have_text("Away")
    with agent_online(desk) as agent:
        # Presence is pushed: the widget notices the agent without a reload.
        expect(status).to_have_text("Online")
        expect(page.locator(".ombud-chat-away")).to_be_hidden()

        first = say(page, "Hi, my blender stopped working after a week.")
        expect(mark(first)).to_have_text("Delivered")
        seen = agent.next_line()
        assert seen["author"] == "customer" and seen["body"] == "Hi, my blender stopped working after a week."
        ticket_id = seen["ticket_id"]
        (ticket,) = desk.chat_tickets()
        assert ticket["id"] == ticket_id and ticket["channel"] == "chat"

        agent.send({"type": "typing", "ticket_id": ticket_id, "typing": True})
        typing = page.get_by_text("Support is typing…")
        expect(typing).to_be_visible()
        answer = desk.reply(ticket_id, "Sorry to hear that! Is it the B-200 model?")
        reply = line(page, answer["body"])
        expect(reply).to_be_visible()
        expect(reply).to_have_class("ombud-chat-agent")
        expect(typing).to_be_hidden()

        second = say(page, "Yes, the B-200, bought on 3 May.")
        expect(mark(second)).to_have_text("Delivered")
        last = agent.next_line()
        assert last["body"] == "Yes, the B-200, bought on 3 May."
        agent.send({"type": "read", "ticket_id": ticket_id, "message_id": last["id"]})
        expect(mark(first)).to_have_text("Read")
        expect(mark(second)).to_have_text("Read")

        page.get_by_role("textbox", name="Message").fill("I still have the receipt")
        page.screenshot(path=screenshot_path("chat-widget.png", tmp_path))

        # A reload: the token in localStorage brings the conversation (and the open panel) back.
        page.reload()
        expect(page.get_by_role("region", name="Chat")).to_be_visible()
        expect(page.locator(".ombud-chat-log li")).to_have_count(3)
        expect(page.locator(".ombud-chat-log li .ombud-chat-body")).to_have_text(
            [
                "Hi, my blender stopped working after a week.",
                answer["body"],
                "Yes, the B-200, bought on 3 May.",
            ]
        )
        expect(mark(line(page, "Yes, the B-200, bought on 3 May."))).to_have_text("Read")
        expect(status).to_have_text("Online")

    # The same conversation on the desk: one chat ticket, lines and reply in order.
    bodies = [m["body"] for m in desk.ticket(ticket_id)["messages"]]
    assert bodies == [
        "Hi, my blender stopped working after a week.",
        answer["body"],
        "Yes, the B-200, bought on 3 May.",
    ]
    assert len(desk.chat_tickets()) == 1


def test_nobody_there_continues_by_email(desk: Desk, context: BrowserContext) -> None:
    page = open_chat(context, desk)
    away = page.locator(".ombud-chat-away")
    expect(away).to_be_visible()
    expect(away).to_contain_text("Nobody is available right now")
    sent = say(page, "Is the blender still under warranty? Bought it 14 months ago.")
    expect(mark(sent)).to_have_text("Delivered")

    away.get_by_role("textbox", name="Email address").fill("Omar.Haddad@example.com")
    away.get_by_role("button", name="Continue by email").click()
    expect(page.locator(".ombud-chat-status")).to_have_text("We will answer by email")
    expect(away).to_be_hidden()

    (ticket,) = desk.chat_tickets()
    customer = desk.api.get(f"/api/v1/customers/{ticket['customer_id']}").json()
    assert "omar.haddad@example.com" in [identity["value"] for identity in customer["identities"]]


def test_http_fallback_without_websocket(desk: Desk, context: BrowserContext) -> None:
    context.add_init_script(NO_WEBSOCKET)
    page = open_chat(context, desk)
    posted: list[str] = []
    page.on("request", lambda request: posted.append(request.url) if request.method == "POST" else None)
    with agent_online(desk):
        expect(page.locator(".ombud-chat-status")).to_have_text("Online")
        sent = say(page, "Do you ship to Norway?")
        expect(mark(sent)).to_have_text("Delivered")
        assert f"{desk.server.url}/chat/api/messages" in posted
        (ticket,) = desk.chat_tickets()

        answer = desk.reply(ticket["id"], "Yes, in 3-5 working days.")
        expect(line(page, answer["body"])).to_be_visible()
        assert page.evaluate("window.ombudChat.state.mode") == "http"

        # A second round trip on the same long-poll loop.
        again = say(page, "Great, thanks!")
        expect(mark(again)).to_have_text("Delivered")
        thanks = desk.reply(ticket["id"], "You're welcome!")
        expect(line(page, thanks["body"])).to_be_visible()


def test_embedded_in_the_head_of_another_site(desk: Desk, context: BrowserContext) -> None:
    # A company's own site (another origin: another port) with the script in <head> and no async: it runs
    # before the body exists, and every call to ombud is cross-origin.
    html = (
        "<!doctype html><html><head><title>Northwind shop</title>"
        f'<script src="{desk.server.url}/chat/widget.js"></script></head>'
        "<body><h1>Blenders</h1></body></html>"
    )
    site = FastAPI()
    site.get("/", response_class=HTMLResponse)(lambda: html)
    with LiveServer(site) as shop:
        page = context.new_page()
        page.set_default_timeout(WAIT_MS)
        page.goto(f"{shop.url}/")
        page.get_by_role("button", name="Chat with us").click()
        sent = say(page, "Hello from the shop")
        expect(mark(sent)).to_have_text("Delivered")
        (ticket,) = desk.chat_tickets()
        answer = desk.reply(ticket["id"], "Hello! How can we help?")
        expect(line(page, answer["body"])).to_be_visible()
        page.close()
