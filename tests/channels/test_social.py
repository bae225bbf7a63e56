"""The signed social webhook in, and signed callbacks out to a real HTTP server, with retries."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st

from ombud.channels.social.signing import sign, signature_problem
from tests.conftest import Personas


class Platform:
    """A platform's callback endpoint on 127.0.0.1: records signed requests; can fail on purpose."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.fail_with: list[int] = []
        platform = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                status = platform.fail_with.pop(0) if platform.fail_with else 200
                platform.received.append({"headers": dict(self.headers), "body": body, "status": status})
                self.send_response(status)
                self.end_headers()
                self.wfile.write(b'{"ok": true}')

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/ombud/replies"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Platform:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def platform() -> Iterator[Platform]:
    with Platform() as running:
        yield running


def _endpoint(client: TestClient, people: Personas, callback_url: str | None) -> dict[str, Any]:
    response = client.post(
        "/api/v1/channels/social",
        json={"name": "whatsapp", "platform": "whatsapp", "callback_url": callback_url},
        headers=people.admin.headers,
    )
    assert response.status_code == 201, response.text
    endpoint: dict[str, Any] = response.json()
    return endpoint


def _post(
    client: TestClient,
    secret: str,
    message: dict[str, Any],
    *,
    at: int | None = None,
    signature: str | None = None,
) -> Any:
    body = json.dumps(message).encode()
    timestamp = at if at is not None else int(time.time())
    return client.post(
        "/api/v1/webhooks/social/whatsapp",
        content=body,
        headers={
            "Content-Type": "application/json",
            "X-Ombud-Timestamp": str(timestamp),
            "X-Ombud-Signature": signature or sign(secret, timestamp, body),
        },
    )


def _message(mid: str, text: str, handle: str = "+4915112345678") -> dict[str, Any]:
    return {
        "id": mid,
        "from": {"handle": handle, "name": "Jonas Weber"},
        "text": text,
        "conversation_id": "c-91",
    }


def test_round_trip_webhook_reply_callback_and_answer(
    client: TestClient, people: Personas, platform: Platform
) -> None:
    endpoint = _endpoint(client, people, platform.url)
    secret = endpoint["secret"]
    first = _post(
        client, secret, _message("wamid.001", "My order A-10311 arrived broken. The screen is cracked.")
    )
    assert first.status_code == 200, first.text
    taken = first.json()
    assert taken["outcome"] == "created"
    ticket = client.get(f"/api/v1/tickets/{taken['ticket_id']}", headers=people.agent.headers).json()
    assert ticket["channel"] == "social"
    assert ticket["messages"][0]["triage"] is not None
    customer = client.get(f"/api/v1/customers/{ticket['customer_id']}", headers=people.agent.headers).json()
    assert [(i["kind"], i["value"]) for i in customer["identities"]] == [
        ("handle", "whatsapp:+4915112345678")
    ]
    assert customer["name"] == "Jonas Weber"

    reply = client.post(
        f"/api/v1/tickets/{ticket['id']}/messages",
        json={"body": "Sorry about that, Jonas. A replacement is on its way."},
        headers=people.agent.headers,
    )
    assert reply.status_code == 201, reply.text
    (request,) = platform.received
    headers = {key.lower(): value for key, value in request["headers"].items()}
    assert not signature_problem(
        secret, headers["x-ombud-timestamp"], headers["x-ombud-signature"], request["body"], time.time()
    )
    sent = json.loads(request["body"])
    assert sent["to"] == {"handle": "+4915112345678"} and sent["in_reply_to"] == "wamid.001"
    assert sent["conversation_id"] == "c-91" and sent["text"].startswith("Sorry about that")
    delivery = client.get(
        f"/api/v1/messages/{reply.json()['id']}/delivery", headers=people.agent.headers
    ).json()
    assert delivery["state"] == "sent" and delivery["attempts"] == 1

    answer = _post(client, secret, _message("wamid.002", "Thanks! When will it arrive?"))
    assert answer.json()["outcome"] == "threaded" and answer.json()["ticket_id"] == ticket["id"]


def test_replay_forgery_and_bad_input_are_refused(client: TestClient, people: Personas) -> None:
    secret = _endpoint(client, people, None)["secret"]
    message = _message("wamid.100", "Where is my parcel?")
    assert _post(client, secret, message).json()["outcome"] == "created"
    replay = _post(client, secret, message)
    assert replay.status_code == 200 and replay.json()["outcome"] == "duplicate"

    forged = _post(client, "not-the-secret", _message("wamid.101", "Send me all refunds"))
    assert forged.status_code == 401 and forged.json()["error"]["code"] == "bad_signature"
    stale = _post(client, secret, _message("wamid.102", "old"), at=int(time.time()) - 3600)
    assert stale.status_code == 401 and "replay" in stale.json()["error"]["message"]
    unsigned = client.post("/api/v1/webhooks/social/whatsapp", json=_message("wamid.103", "x"))
    assert unsigned.status_code == 401
    unknown = client.post("/api/v1/webhooks/social/telegram", json=_message("wamid.104", "x"))
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "endpoint_not_found"
    malformed = _post(client, secret, {"id": "wamid.105", "text": "no sender"})
    assert malformed.status_code == 422 and malformed.json()["error"]["details"][0]["field"] == "from"

    tickets = client.get("/api/v1/tickets?channel=social", headers=people.agent.headers).json()["items"]
    assert len(tickets) == 1  # nothing forged, replayed or malformed got in


def test_callback_failures_retry_then_stop_on_a_final_refusal(
    client: TestClient, people: Personas, platform: Platform
) -> None:
    secret = _endpoint(client, people, platform.url)["secret"]
    ticket_id = _post(client, secret, _message("wamid.200", "Is the shop open on Sunday?")).json()[
        "ticket_id"
    ]
    platform.fail_with = [503]
    reply = client.post(
        f"/api/v1/tickets/{ticket_id}/messages", json={"body": "Yes, 10 to 4."}, headers=people.agent.headers
    ).json()
    delivery = client.get(f"/api/v1/messages/{reply['id']}/delivery", headers=people.agent.headers).json()
    assert delivery["state"] == "pending" and delivery["attempts"] == 1 and "503" in delivery["last_error"]

    platform.fail_with = [400]
    later = client.post(
        f"/api/v1/tickets/{ticket_id}/messages",
        json={"body": "And 9 to 6 on weekdays."},
        headers=people.agent.headers,
    ).json()
    refused = client.get(f"/api/v1/messages/{later['id']}/delivery", headers=people.agent.headers).json()
    assert refused["state"] == "failed" and "400" in refused["last_error"]
    retried = client.post(f"/api/v1/messages/{later['id']}/delivery/retry", headers=people.agent.headers)
    assert retried.status_code == 200
    assert (
        client.get(f"/api/v1/messages/{later['id']}/delivery", headers=people.agent.headers).json()["state"]
        == "sent"
    )
    # Every attempt of one reply carries the same idempotency key.
    keys = [r["headers"]["Idempotency-Key"] for r in platform.received if b"9 to 6" in r["body"]]
    assert len(keys) == 2 and len(set(keys)) == 1


def test_only_admins_manage_endpoints_and_secrets_rotate(client: TestClient, people: Personas) -> None:
    denied = client.post(
        "/api/v1/channels/social", json={"name": "x", "platform": "x"}, headers=people.agent.headers
    )
    assert denied.status_code == 403
    old = _endpoint(client, people, None)["secret"]
    listed = client.get("/api/v1/channels/social", headers=people.admin.headers).json()
    assert "secret" not in listed[0]
    new = client.post("/api/v1/channels/social/whatsapp/rotate-secret", headers=people.admin.headers).json()[
        "secret"
    ]
    assert new != old
    assert _post(client, old, _message("wamid.300", "hi")).status_code == 401
    assert _post(client, new, _message("wamid.300", "hi")).status_code == 200
    off = client.patch(
        "/api/v1/channels/social/whatsapp", json={"active": False}, headers=people.admin.headers
    )
    assert off.status_code == 200 and off.json()["active"] is False
    assert _post(client, new, _message("wamid.301", "hi")).status_code == 404
    dup = client.post(
        "/api/v1/channels/social", json={"name": "whatsapp", "platform": "wa"}, headers=people.admin.headers
    )
    assert dup.status_code == 409


@given(st.text(max_size=30), st.text(max_size=80), st.binary(max_size=200))
def test_any_headers_get_an_answer_never_an_exception(timestamp: str, signature: str, body: bytes) -> None:
    problem = signature_problem("secret", timestamp, signature, body, time.time())
    assert isinstance(problem, str) and problem  # nothing random is ever a valid signature


def test_a_flood_is_quarantined_and_an_admin_can_release_it(client: TestClient, people: Personas) -> None:
    secret = _endpoint(client, people, None)["secret"]
    outcomes = [
        _post(client, secret, _message(f"wamid.f{i}", f"Message {i}: are you there?")).json()["outcome"]
        for i in range(31)
    ]
    assert outcomes[:2] == ["created", "threaded"] and outcomes[-1] == "quarantined"  # limit 30 in 10 min
    (held,) = client.get("/api/v1/channels/quarantine", headers=people.admin.headers).json()["items"]
    assert held["reason_code"] == "flood" and held["channel"] == "social"
    released = client.post(f"/api/v1/channels/quarantine/{held['id']}/release", headers=people.admin.headers)
    assert released.status_code == 200, released.text
    assert released.json()["outcome"] == "threaded" and released.json()["message_id"] is not None
    again = client.post(f"/api/v1/channels/quarantine/{held['id']}/release", headers=people.admin.headers)
    assert again.status_code == 409
