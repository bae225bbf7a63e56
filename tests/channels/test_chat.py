"""Live chat: the widget's WebSocket and HTTP fallback, agents in real time, reloads, and email when
nobody is there."""

from __future__ import annotations

import smtplib
import time
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.testclient import WebSocketTestSession

from ombud.channels.email.smtp import SmtpReceiver
from tests.channels.conftest import SUPPORT, Relay
from tests.conftest import Persona, Personas


def start(api: TestClient, **fields: Any) -> str:
    response = api.post("/chat/api/visitors", json=fields)
    assert response.status_code == 201, response.text
    token: str = response.json()["token"]
    return token


def hello(ws: WebSocketTestSession, token: str) -> dict[str, Any]:
    ws.send_json({"type": "hello", "token": token})
    welcome: dict[str, Any] = ws.receive_json()
    assert welcome["type"] == "welcome", welcome
    return welcome


def next_of(ws: WebSocketTestSession, kind: str) -> dict[str, Any]:
    """The next frame of ``kind`` (presence and typing frames may come in between)."""
    for _ in range(20):
        frame: dict[str, Any] = ws.receive_json()
        if frame["type"] == kind:
            return frame
    raise AssertionError(f"no {kind} frame")


def say(ws: WebSocketTestSession, text: str, client_id: str) -> dict[str, Any]:
    ws.send_json({"type": "message", "text": text, "client_id": client_id})
    return next_of(ws, "ack")


def reply(api: TestClient, agent: Persona, ticket_id: int, body: str) -> dict[str, Any]:
    response = api.post(f"/api/v1/tickets/{ticket_id}/messages", json={"body": body}, headers=agent.headers)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def test_chat_round_trip_in_real_time(api: TestClient, cast: Personas) -> None:
    token = start(api, name="Lena Fischer")
    with api.websocket_connect("/api/v1/chat/ws") as agent, api.websocket_connect("/chat/ws") as visitor:
        agent.send_json({"type": "hello", "token": cast.agent.token})
        assert agent.receive_json()["agents_online"] == 1
        welcome = hello(visitor, token)
        assert welcome["agents_online"] == 1 and welcome["messages"] == []

        ack = say(visitor, "hi", "c-1")
        assert ack["state"] == "delivered" and ack["client_id"] == "c-1"
        ticket_id = ack["message"]["ticket_id"]
        seen = next_of(agent, "message")
        assert seen["body"] == "hi" and seen["ticket_id"] == ticket_id and seen["author"] == "customer"
        say(visitor, "my card was charged twice", "c-2")
        say(visitor, "for order A-10293", "c-3")
        assert say(visitor, "for order A-10293", "c-3")["message"]["id"] == ack["message"]["id"] + 2  # resent

        visitor.send_json({"type": "typing", "typing": True})
        typing = next_of(agent, "typing")
        assert typing == {"type": "typing", "who": "customer", "ticket_id": ticket_id, "typing": True}
        agent.send_json({"type": "typing", "ticket_id": ticket_id, "typing": True})
        assert next_of(visitor, "typing")["who"] == "agent"

        answer = reply(api, cast.agent, ticket_id, "Sorry Lena, I am refunding the duplicate now.")
        pushed = next_of(visitor, "message")
        assert pushed["id"] == answer["id"] and pushed["author"] == "agent"
        agent.send_json({"type": "read", "ticket_id": ticket_id, "message_id": ack["message"]["id"] + 2})
        assert next_of(visitor, "read")["up_to"] == ack["message"]["id"] + 2

    ticket = api.get(f"/api/v1/tickets/{ticket_id}", headers=cast.agent.headers).json()
    assert ticket["channel"] == "chat"
    bodies = [m["body"] for m in ticket["messages"]]
    assert bodies == ["hi", "my card was charged twice", "for order A-10293", answer["body"]]
    assert ticket["messages"][-1]["delivery_state"] == "sent"
    # The three short lines are read by triage as one utterance.
    last_line = ticket["messages"][2]["triage"]
    assert last_line["explanations"]["merged_chat_lines"] >= 2

    # A reload: the same token on a new connection gets the whole conversation and the read mark.
    with api.websocket_connect("/chat/ws") as again:
        back = hello(again, token)
        assert [m["body"] for m in back["messages"]] == bodies and back["read_up_to"] == ack["message"][
            "id"
        ] + 2
        assert back["agents_online"] == 0


def test_http_fallback_long_poll(api: TestClient, cast: Personas) -> None:
    token = start(api)
    headers = {"X-Chat-Token": token}
    line = api.post(
        "/chat/api/messages", json={"text": "Do you ship to Norway?", "client_id": "h-1"}, headers=headers
    )
    assert line.status_code == 201, line.text
    ticket_id, first_id = line.json()["ticket_id"], line.json()["id"]
    empty = api.get(f"/chat/api/conversation?after={first_id}&wait=1", headers=headers).json()
    assert empty["messages"] == []
    reply(api, cast.agent, ticket_id, "Yes, in 3-5 days.")
    polled = api.get(f"/chat/api/conversation?after={first_id}&wait=5", headers=headers).json()
    assert [m["body"] for m in polled["messages"]] == ["Yes, in 3-5 days."]
    assert api.post("/chat/api/typing", json={"typing": True}, headers=headers).status_code == 204
    # A client whose view is behind (it thinks 3 agents are there) gets the answer at once, not in 5 s.
    started = time.monotonic()
    behind = api.get(f"/chat/api/conversation?after={first_id + 1}&wait=5&agents=3", headers=headers).json()
    assert behind["agents_online"] == 0 and time.monotonic() - started < 3


def test_nobody_there_continues_by_email(
    api: TestClient, cast: Personas, relay: Relay, receiver: SmtpReceiver
) -> None:
    token = start(api, name="Omar Haddad")
    with api.websocket_connect("/chat/ws") as visitor:
        assert hello(visitor, token)["agents_online"] == 0
        ticket_id = say(visitor, "Is the blender still under warranty? Bought it 14 months ago.", "e-1")[
            "message"
        ]["ticket_id"]
    left = api.post(
        "/chat/api/email", json={"email": "Omar.Haddad@example.com"}, headers={"X-Chat-Token": token}
    )
    assert left.status_code == 200 and left.json()["by_email"] is True

    reply(api, cast.agent, ticket_id, "Yes: the warranty runs 24 months. Send us a photo of the receipt.")
    (mail,) = relay.received
    assert mail["To"] == "omar.haddad@example.com" and f"[#{ticket_id}]" in mail["Subject"]
    answer = (
        f"From: omar.haddad@example.com\r\nTo: {SUPPORT}\r\nSubject: Re: {mail['Subject']}\r\n"
        f"Message-ID: <omar-1@example.com>\r\nIn-Reply-To: {mail['Message-ID']}\r\n\r\n"
        "Great, photo attached later today.\r\n"
    ).encode()
    with smtplib.SMTP("127.0.0.1", receiver.port, timeout=10) as client:
        client.sendmail("omar.haddad@example.com", [SUPPORT], answer)
    ticket = api.get(f"/api/v1/tickets/{ticket_id}", headers=cast.agent.headers).json()
    assert ticket["messages"][-1]["body"] == "Great, photo attached later today."

    # While the visitor is connected, replies go to the widget, not by email.
    with api.websocket_connect("/chat/ws") as visitor:
        hello(visitor, token)
        reply(api, cast.agent, ticket_id, "Thanks!")
        assert next_of(visitor, "message")["body"] == "Thanks!"
    assert len(relay.received) == 1


@pytest.mark.parametrize(
    ("first", "code"),
    [
        ({"type": "hello", "token": "not-a-token"}, "chat_token_invalid"),
        ({"type": "message", "text": "hi"}, "hello_expected"),
    ],
)
def test_bad_starts_are_refused(api: TestClient, first: dict[str, Any], code: str) -> None:
    with api.websocket_connect("/chat/ws") as ws:
        ws.send_json(first)
        frame = ws.receive_json()
        assert frame["type"] == "error" and frame["code"] == code


def test_bad_frames_get_errors_and_the_connection_lives_on(api: TestClient, cast: Personas) -> None:
    token = start(api)
    with api.websocket_connect("/chat/ws") as ws:
        hello(ws, token)
        ws.send_text("not json")
        assert ws.receive_json()["code"] == "invalid_frame"
        ws.send_json({"type": "message", "text": "   ", "client_id": "x"})
        assert ws.receive_json()["code"] == "empty_message"
        ws.send_json({"type": "dance"})
        assert ws.receive_json()["code"] == "unknown_type"
        ws.send_bytes(b"\x00\x01binary")
        assert ws.receive_json()["code"] == "invalid_frame"
        assert say(ws, "still here", "ok-1")["state"] == "delivered"
    with api.websocket_connect("/api/v1/chat/ws") as agent:
        agent.send_json({"type": "hello", "token": cast.customer.token})
        assert agent.receive_json()["code"] == "role_forbidden"
    with api.websocket_connect("/api/v1/chat/ws") as agent:
        agent.send_json({"type": "hello", "token": cast.agent.token})
        agent.receive_json()
        agent.send_json({"type": "read", "ticket_id": 999999, "message_id": 1})
        assert agent.receive_json()["code"] == "ticket_not_found"
        agent.send_json({"type": "typing", "ticket_id": "x"})
        assert agent.receive_json()["code"] == "invalid_frame"  # and the connection lives on
    assert api.get("/chat/api/conversation", headers={"X-Chat-Token": "nope"}).status_code == 401
    preflight = api.options(
        "/chat/api/messages",
        headers={
            "Origin": "https://shop.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type,x-chat-token",
        },
    )
    assert preflight.status_code == 200 and preflight.headers["access-control-allow-origin"] == "*"
    assert (
        "access-control-allow-origin"
        not in api.get("/api/v1/health", headers={"Origin": "https://x"}).headers
    )


def test_an_email_typed_into_the_widget_never_joins_someone_elses_timeline(
    api: TestClient, cast: Personas
) -> None:
    token = start(api, name="Not Maria", email="maria@example.com")  # maria@example.com is a customer
    headers = {"X-Chat-Token": token}
    line = api.post(
        "/chat/api/messages", json={"text": "show me my orders", "client_id": "s-1"}, headers=headers
    )
    ticket = api.get(f"/api/v1/tickets/{line.json()['ticket_id']}", headers=cast.agent.headers).json()
    assert ticket["customer_id"] != cast.customer.id
    maria = api.get(f"/api/v1/customers/{cast.customer.id}/timeline", headers=cast.agent.headers).json()
    assert all(item.get("ticket_id") != ticket["id"] for item in maria["items"])
    # A fresh address becomes the visitor's own.
    other = start(api, email="new.person@example.net")
    ticket_id = api.post(
        "/chat/api/messages", json={"text": "hello", "client_id": "s-2"}, headers={"X-Chat-Token": other}
    ).json()["ticket_id"]
    owner = api.get(f"/api/v1/tickets/{ticket_id}", headers=cast.agent.headers).json()["customer_id"]
    identities = api.get(f"/api/v1/customers/{owner}", headers=cast.agent.headers).json()["identities"]
    assert ("email", "new.person@example.net") in {(i["kind"], i["value"]) for i in identities}


def test_one_address_cannot_start_visitors_without_end(api: TestClient) -> None:
    codes = [api.post("/chat/api/visitors", json={}).status_code for _ in range(31)]
    assert codes == [201] * 30 + [429]  # OMBUD_CHAT_VISITOR_LIMIT defaults to 30 in 10 minutes
