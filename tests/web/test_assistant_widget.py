"""The self-service assistant in the chat widget: the visitor's routes under /chat/api/assistant, and what a
visitor sees in a real browser (headless Chromium on the demo page of the real app).

While a published public article exists and no person has the chat yet, the visitor's lines go to the
assistant; a handover (the visitor's choice, or the assistant's when it has no good answer) opens the chat
ticket with the transcript, and from then on the chat is the usual one with people.

The browser tests need Debian's chromium (the `browser` fixture installs it as root, else skips).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Browser, BrowserContext, Page, expect

from ombud.channels.chat.hub import PRESENCE
from ombud.runtime import build_runtime
from ombud.settings import Settings
from ombud.web.app import create_app
from tests.conftest import Personas, make_people
from tests.knowledge.articles import CARD, PIN
from tests.web.browser import LiveServer
from tests.web.test_chat_widget import WAIT_MS, WAIT_S, Desk, agent_online, line, mark, open_chat, say

ROUTINE = "How long does card delivery take?"
MARS = "What is the weather like on Mars today?"


def publish(api: httpx.Client | TestClient, headers: dict[str, str], *articles: dict[str, Any]) -> None:
    for article in articles:
        response = api.post("/api/v1/kb/articles", json=article, headers=headers)
        assert response.status_code == 201, response.text


# -- the visitor's routes ------------------------------------------------------------------------------------
def visitor(client: TestClient) -> tuple[dict[str, str], dict[str, Any]]:
    started = client.post("/chat/api/visitors", json={})
    assert started.status_code == 201, started.text
    body: dict[str, Any] = started.json()
    return {"X-Chat-Token": body["token"]}, body


def ask(client: TestClient, headers: dict[str, str], text: str) -> dict[str, Any]:
    response = client.post("/chat/api/assistant", json={"text": text}, headers=headers)
    assert response.status_code == 200, response.text
    reply: dict[str, Any] = response.json()
    return reply


def test_without_articles_the_widget_is_the_usual_chat(client: TestClient, people: Personas) -> None:
    publish(client, people.agent.headers, {**PIN, "status": "draft"}, {**CARD, "audience": "internal"})
    headers, started = visitor(client)
    assert started["assistant"] is False
    assert client.get("/chat/api/conversation", headers=headers).json()["assistant"] is False


def test_bad_token_and_empty_text_are_refused(client: TestClient, people: Personas) -> None:
    publish(client, people.agent.headers, CARD)
    bad = {"X-Chat-Token": "not-a-token"}
    for path, body in (
        ("/chat/api/assistant", {"text": ROUTINE}),
        ("/chat/api/assistant/outcome", {"resolved": True}),
        ("/chat/api/assistant/person", {}),
    ):
        response = client.post(path, json=body, headers=bad)
        assert response.status_code == 401, response.text
        assert response.json()["error"]["code"] == "chat_token_invalid"
        assert client.post(path, json=body).status_code == 401
    headers, _ = visitor(client)
    for text in ("", "   \n "):
        empty = client.post("/chat/api/assistant", json={"text": text}, headers=headers)
        assert empty.status_code == 422, empty.text
    assert client.post("/chat/api/assistant", json={"words": "hi"}, headers=headers).status_code == 422
    # Before any question there is no answer to judge.
    early = client.post("/chat/api/assistant/outcome", json={"resolved": True}, headers=headers)
    assert early.status_code == 409
    assert early.json()["error"]["code"] == "no_assistant_conversation"


def test_answer_then_a_person_with_the_transcript(client: TestClient, people: Personas) -> None:
    publish(client, people.agent.headers, CARD, PIN)
    headers, started = visitor(client)
    assert started["assistant"] is True
    reply = ask(client, headers, ROUTINE)
    assert reply["handover"] is False and reply["reason"] is None
    assert "Cards are posted within 2 working days" in reply["answer"]
    assert reply["articles"][0]["url"] == "/help/when-will-my-new-card-arrive"
    assert reply["message"] is None and reply["ticket_id"] is None
    # Nothing reached people yet: no ticket, and the widget still talks to the assistant.
    assert (
        client.get("/api/v1/tickets", params={"channel": "chat"}, headers=people.agent.headers).json()[
            "items"
        ]
        == []
    )
    assert client.get("/chat/api/conversation", headers=headers).json()["assistant"] is True

    person = client.post("/chat/api/assistant/person", headers=headers)
    assert person.status_code == 200, person.text
    handed = person.json()
    assert handed["handover"] is True and handed["reason"] == "customer_choice"
    assert "person from our team" in handed["answer"]
    ticket_id = handed["ticket_id"]
    assert handed["message"]["kind"] == "transcript" and handed["message"]["ticket_id"] == ticket_id
    ticket = client.get(f"/api/v1/tickets/{ticket_id}", headers=people.agent.headers).json()
    assert ticket["channel"] == "chat"
    (transcript,) = [m["body"] for m in ticket["messages"]]
    assert f"Customer: {ROUTINE}" in transcript
    assert "Assistant: " in transcript and "Cards are posted within 2 working days" in transcript

    # From now on every line goes to people, never back to the assistant.
    again = ask(client, headers, "Can I get it faster?")
    assert again["handover"] is True and again["reason"] == "already_handed_over"
    assert again["message"]["ticket_id"] == ticket_id and again["message"]["kind"] == "line"
    assert (
        client.post("/chat/api/assistant/person", headers=headers).json()["reason"] == "already_handed_over"
    )
    conversation = client.get("/chat/api/conversation", headers=headers).json()
    assert conversation["assistant"] is False
    assert [m["body"] for m in conversation["messages"]][1:] == ["Can I get it faster?"]
    ticket = client.get(f"/api/v1/tickets/{ticket_id}", headers=people.agent.headers).json()
    assert len(ticket["messages"]) == 2


def test_solved_and_out_of_scope(client: TestClient, people: Personas) -> None:
    publish(client, people.agent.headers, CARD, PIN)
    headers, _ = visitor(client)
    ask(client, headers, "How do I change my PIN?")
    solved = client.post("/chat/api/assistant/outcome", json={"resolved": True}, headers=headers).json()
    assert solved["handover"] is False and solved["ticket_id"] is None

    other, _ = visitor(client)
    mars = ask(client, other, MARS)
    assert mars["handover"] is True and mars["reason"] == "out_of_scope"
    assert mars["articles"] == [] and mars["ticket_id"] is not None
    ticket = client.get(f"/api/v1/tickets/{mars['ticket_id']}", headers=people.agent.headers).json()
    assert MARS in ticket["messages"][0]["body"]


def test_a_person_before_any_question_opens_nothing_yet(client: TestClient, people: Personas) -> None:
    publish(client, people.agent.headers, CARD)
    headers, _ = visitor(client)
    reply = client.post("/chat/api/assistant/person", headers=headers).json()
    assert reply["handover"] is True and reply["reason"] == "customer_choice" and reply["ticket_id"] is None
    assert (
        client.get("/api/v1/tickets", params={"channel": "chat"}, headers=people.agent.headers).json()[
            "items"
        ]
        == []
    )


# -- in a real browser ---------------------------------------------------------------------------------------
@pytest.fixture
def desk(tmp_path: Path, sqlite_template: Path) -> Iterator[Desk]:
    """The app served for the browser with two published public articles."""
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
            publish(api, cast.agent.headers, CARD, PIN)
            yield Desk(server=server, runtime=runtime, cast=cast, api=api)
            runtime.chat_hub.publish(PRESENCE, {"type": "presence", "agents_online": 0})
    finally:
        runtime.close()


@pytest.fixture
def context(browser: Browser, desk: Desk) -> Iterator[BrowserContext]:
    made = browser.new_context(viewport={"width": 1000, "height": 720})
    try:
        yield made
    finally:
        made.close()


def ask_in_widget(page: Page, text: str) -> None:
    box = page.get_by_role("textbox", name="Message")
    box.fill(text)
    box.press("Enter")
    expect(box).to_have_value("")
    expect(line(page, text)).to_be_visible()


def test_assistant_answers_then_a_person_takes_over(desk: Desk, context: BrowserContext) -> None:
    page = open_chat(context, desk)
    expect(page.locator(".ombud-chat-status")).to_have_text("Assistant")
    # Nobody needs to be online while the assistant answers.
    expect(page.locator(".ombud-chat-away")).to_be_hidden()
    ask_in_widget(page, ROUTINE)
    answer = page.locator(".ombud-chat-bot", has_text="Cards are posted within 2 working days")
    expect(answer).to_be_visible()
    expect(answer.locator(".ombud-chat-author")).to_have_text("Assistant")
    cited = answer.get_by_role("link", name="When will my new card arrive?")
    expect(cited).to_have_attribute("href", f"{desk.server.url}/help/when-will-my-new-card-arrive")
    expect(answer.get_by_role("button", name="That solved it")).to_be_visible()
    assert desk.chat_tickets() == []

    with agent_online(desk) as agent:
        answer.get_by_role("button", name="Talk to a person").click()
        expect(page.get_by_text("I'm passing you to a person from our team now")).to_be_visible()
        expect(page.get_by_role("button", name="Talk to a person")).to_have_count(0)
        expect(page.locator(".ombud-chat-status")).to_have_text("Online")
        transcript = agent.next_line()
        ticket_id = transcript["ticket_id"]
        assert f"Customer: {ROUTINE}" in transcript["body"]
        (ticket,) = desk.chat_tickets()
        assert ticket["id"] == ticket_id
        assert "Cards are posted within 2 working days" in desk.ticket(ticket_id)["messages"][0]["body"]

        # Now the usual chat: the line goes to people, and their answer comes back.
        later = say(page, "Can I get it faster? I travel on Friday.")
        expect(mark(later)).to_have_text("Delivered")
        assert agent.next_line()["body"] == "Can I get it faster? I travel on Friday."
        reply = desk.reply(ticket_id, "Yes: express delivery arrives tomorrow.")
        expect(line(page, reply["body"])).to_be_visible()
    bodies = [m["body"] for m in desk.ticket(ticket_id)["messages"]]
    assert bodies[1:] == ["Can I get it faster? I travel on Friday.", reply["body"]]
    assert len(desk.chat_tickets()) == 1


def test_out_of_scope_is_handed_over_by_itself(desk: Desk, context: BrowserContext) -> None:
    page = open_chat(context, desk)
    expect(page.locator(".ombud-chat-status")).to_have_text("Assistant")
    ask_in_widget(page, MARS)
    expect(page.get_by_text("I don't have an answer to that in our help articles")).to_be_visible()
    expect(page.get_by_role("button", name="Talk to a person")).to_have_count(0)
    # The conversation as the team got it, folded, and the usual chat from here (nobody online: email).
    expect(page.locator(".ombud-chat-note summary")).to_have_text(
        "Sent to our team: your conversation with the assistant"
    )
    expect(page.locator(".ombud-chat-away")).to_be_visible()
    (ticket,) = desk.chat_tickets()
    assert MARS in desk.ticket(ticket["id"])["messages"][0]["body"]
    page.set_default_timeout(WAIT_MS)
    sent = say(page, "Anyone there?")
    expect(mark(sent)).to_have_text("Delivered")
    assert [m["body"] for m in desk.ticket(ticket["id"])["messages"]][1:] == ["Anyone there?"]
