"""Outbound webhooks against a real local HTTP server: signed deliveries made by a job after the commit,
retried with backoff through failures and timeouts (and found by the sweep when the timer is lost),
given up after the last attempt, redelivered, tested; endpoints checked and their secrets shown once."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ombud.runtime import Runtime
from ombud.settings import Settings
from ombud.storage.base import utcnow
from ombud.webhooks import service as webhooks
from tests.conftest import Personas, new_ticket

TIMEOUT = 0.5


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """A local HTTP endpoint that answers with the scripted behaviours in turn (an int is a status code,
    "hang" waits past the delivery timeout), then 200; it records every request it got."""

    url: str
    script: list[int | str] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            state.received.append(Received({k.lower(): v for k, v in self.headers.items()}, body))
            action = state.script.pop(0) if state.script else 200
            if action == "hang":
                time.sleep(TIMEOUT * 3)
                action = 200
            answer = json.dumps({"seen": len(state.received)}).encode() if action == 200 else b"x" * 5000
            self.send_response(int(action))
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the client gave up waiting
                self.wfile.write(answer)

        def log_message(self, format: str, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks"
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={"webhook_timeout_seconds": TIMEOUT, "webhook_max_attempts": 4, "webhook_retry_seconds": 30}
    )


class Clock:
    """Moves the webhooks' idea of now forward (the backoff waits), without sleeping."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.offset = dt.timedelta()
        monkeypatch.setattr(webhooks, "utcnow", lambda: utcnow() + self.offset)

    def advance(self, seconds: float) -> None:
        self.offset += dt.timedelta(seconds=seconds)


def _endpoint(client: TestClient, people: Personas, url: str, events: list[str]) -> dict[str, Any]:
    response = client.post(
        "/api/v1/webhooks",
        json={"name": "Orders", "url": url, "events": events},
        headers=people.admin.headers,
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def _deliveries(client: TestClient, people: Personas, endpoint_id: int) -> list[dict[str, Any]]:
    response = client.get(f"/api/v1/webhooks/{endpoint_id}/deliveries", headers=people.admin.headers)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def _detail(client: TestClient, people: Personas, delivery_id: int) -> dict[str, Any]:
    response = client.get(f"/api/v1/webhooks/deliveries/{delivery_id}", headers=people.admin.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_webhook_retries_through_errors_and_timeouts_then_delivers_signed(
    runtime: Runtime,
    client: TestClient,
    people: Personas,
    receiver: Receiver,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = Clock(monkeypatch)
    endpoint = _endpoint(client, people, receiver.url, ["ticket.created"])
    secret = endpoint["secret"]
    assert secret.startswith("whsec_") and endpoint["secret_hint"] == "…" + secret[-4:]
    receiver.script = [500, "hang"]

    ticket = new_ticket(client, people.customer)
    # The first attempt was made by the job right after the commit, and failed; the request did not care.
    [delivery] = _deliveries(client, people, endpoint["id"])
    assert delivery["state"] == "pending" and delivery["attempts"] == 1 and delivery["last_status"] == 500
    assert delivery["ticket_id"] == ticket["id"] and delivery["event_kind"] == "ticket.created"
    first_wait = dt.datetime.fromisoformat(delivery["next_attempt_at"]) - utcnow()
    assert dt.timedelta(seconds=25) < first_wait <= dt.timedelta(seconds=31)

    # Not due yet: the sweep leaves it alone.
    runtime.queue.sweep()
    assert len(receiver.received) == 1
    # The scheduled retry is lost (the memory queue never runs it); the sweep finds it when it is due.
    clock.advance(31)
    runtime.queue.sweep()
    detail = _detail(client, people, delivery["id"])
    assert (
        detail["attempts"] == 2
        and detail["last_status"] is None
        and "no answer within" in detail["last_error"]
    )
    second_wait = dt.datetime.fromisoformat(detail["next_attempt_at"]) - (utcnow() + clock.offset)
    assert dt.timedelta(seconds=55) < second_wait <= dt.timedelta(seconds=61)  # twice as long
    clock.advance(61)
    runtime.queue.sweep()

    detail = _detail(client, people, delivery["id"])
    assert detail["state"] == "delivered" and detail["attempts"] == 3 and detail["next_attempt_at"] is None
    log = detail["attempt_log"]
    assert [a["number"] for a in log] == [1, 2, 3]
    assert [a["status_code"] for a in log] == [500, None, 200]
    assert len(log[0]["response_excerpt"]) == webhooks.EXCERPT_CHARS  # bounded
    assert log[1]["duration_ms"] >= TIMEOUT * 1000 * 0.9 and log[1]["error"].startswith("no answer")
    assert json.loads(log[2]["response_excerpt"]) == {"seen": 3}

    # Every attempt carried the same body and delivery id, signed with the endpoint's secret.
    assert len(receiver.received) == 3
    for number, request in enumerate(receiver.received, start=1):
        assert webhooks.verify(secret, request.headers["ombud-signature"], request.body)
        assert not webhooks.verify("whsec_wrong", request.headers["ombud-signature"], request.body)
        assert request.headers["ombud-delivery"] == str(delivery["id"])
        assert request.headers["ombud-attempt"] == str(number)
        assert request.headers["ombud-event"] == "ticket.created"
    body = json.loads(receiver.received[-1].body)
    assert body["event"]["kind"] == "ticket.created" and body["event"]["ticket_id"] == ticket["id"]
    assert body["ticket"]["subject"] == ticket["subject"] and body["ticket"]["status"] == "new"
    assert detail["payload"] == body
    # The signature is Stripe's scheme: t=<unix time>,v1=<hex HMAC-SHA256 of "t." + body>.
    header = receiver.received[0].headers["ombud-signature"]
    stamp = int(header.split(",")[0].removeprefix("t="))
    assert header == webhooks.sign(secret, stamp, receiver.received[0].body)
    assert not webhooks.verify(secret, header, receiver.received[0].body, now=stamp + 3600)  # replayed late


def test_a_delivery_gives_up_after_the_last_attempt_and_can_be_redelivered(
    runtime: Runtime,
    client: TestClient,
    people: Personas,
    receiver: Receiver,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = Clock(monkeypatch)
    endpoint = _endpoint(client, people, receiver.url, ["ticket.created"])
    receiver.script = [503, 503, 503, 503]
    new_ticket(client, people.customer)
    for _ in range(5):
        clock.advance(60 * 60)
        runtime.queue.sweep()
    [delivery] = _deliveries(client, people, endpoint["id"])
    assert delivery["state"] == "failed" and delivery["attempts"] == 4 and delivery["next_attempt_at"] is None
    assert len(receiver.received) == 4

    again = client.post(
        f"/api/v1/webhooks/deliveries/{delivery['id']}/redeliver", headers=people.admin.headers
    )
    assert again.status_code == 201, again.text
    assert again.json()["redelivery_of_id"] == delivery["id"] and again.json()["state"] == "delivered"
    assert receiver.received[-1].body == receiver.received[0].body  # the same document
    newest, oldest = _deliveries(client, people, endpoint["id"])
    assert (newest["id"], oldest["id"]) == (again.json()["id"], delivery["id"])


def test_an_unreachable_endpoint_never_fails_the_request(
    runtime: Runtime, client: TestClient, people: Personas
) -> None:
    endpoint = _endpoint(client, people, "http://127.0.0.1:9/nothing-listens-here", ["*"])
    ticket = new_ticket(client, people.customer)  # 201: the call is made by a job after the commit
    deliveries = _deliveries(client, people, endpoint["id"])
    assert deliveries and all(d["state"] == "pending" and d["last_status"] is None for d in deliveries)
    assert {d["event_kind"] for d in deliveries} >= {"ticket.created"}
    with runtime.database.session(write=False) as session:
        found = webhooks.deliveries_for_entity(session=session, entity_type="ticket", entity_id=ticket["id"])
        assert found[0].event_kind == "ticket.created" and found[0].event_id is not None
        assert [d.id for d in webhooks.deliveries_for_event(session=session, event_id=found[0].event_id)] == [
            found[0].id
        ]


def test_endpoints_are_checked_and_their_secret_is_shown_once(
    client: TestClient, people: Personas, receiver: Receiver
) -> None:
    def refused(**fields: Any) -> dict[str, Any]:
        payload = {"name": "X", "url": receiver.url, "events": ["ticket.created"], **fields}
        response = client.post("/api/v1/webhooks", json=payload, headers=people.admin.headers)
        assert response.status_code == 422, response.text
        error: dict[str, Any] = response.json()["error"]
        return error

    assert refused(url="ftp://files.example.com/in")["code"] == "invalid_webhook_url"
    assert refused(url="javascript:alert(1)")["code"] == "invalid_webhook_url"
    assert refused(url="https://")["code"] == "invalid_webhook_url"
    bad_events = refused(events=["ticket.created", "Ticket Created"])
    assert bad_events["code"] == "invalid_webhook_events" and bad_events["message"].startswith("events[1]")
    for persona in (people.lead, people.agent):
        assert client.get("/api/v1/webhooks", headers=persona.headers).status_code == 403

    endpoint = _endpoint(client, people, receiver.url, ["ticket.created", "resolution.*"])
    shown = client.get(f"/api/v1/webhooks/{endpoint['id']}", headers=people.admin.headers).json()
    assert "secret" not in shown and shown["secret_hint"] == endpoint["secret_hint"]
    rotated = client.post(
        f"/api/v1/webhooks/{endpoint['id']}/rotate-secret", headers=people.admin.headers
    ).json()
    assert rotated["secret"] != endpoint["secret"]

    # A test event is signed with the new secret.
    test = client.post(f"/api/v1/webhooks/{endpoint['id']}/test", headers=people.admin.headers)
    assert test.status_code == 201 and test.json()["state"] == "delivered"
    request = receiver.received[-1]
    assert request.headers["ombud-event"] == "webhook.test"
    assert webhooks.verify(rotated["secret"], request.headers["ombud-signature"], request.body)
    assert not webhooks.verify(endpoint["secret"], request.headers["ombud-signature"], request.body)

    # Disabled, it is sent nothing; changes are checked like new endpoints.
    patched = client.patch(
        f"/api/v1/webhooks/{endpoint['id']}", json={"enabled": False}, headers=people.admin.headers
    )
    assert patched.status_code == 200 and patched.json()["enabled"] is False
    new_ticket(client, people.customer)
    assert len(_deliveries(client, people, endpoint["id"])) == 1
    bad = client.patch(
        f"/api/v1/webhooks/{endpoint['id']}", json={"url": "file:///etc/passwd"}, headers=people.admin.headers
    )
    assert bad.status_code == 422
    assert (
        client.delete(f"/api/v1/webhooks/{endpoint['id']}", headers=people.admin.headers).status_code == 204
    )
    assert client.get(f"/api/v1/webhooks/{endpoint['id']}", headers=people.admin.headers).status_code == 404


@pytest.mark.parametrize(
    ("patterns", "kind", "wanted"),
    [
        (["ticket.*"], "ticket.created", True),
        (["ticket.*"], "tickets.created", False),
        (["resolution.*"], "resolution.approved", True),
        (["ticket.created"], "ticket.updated", False),
        (["*"], "sla.breached", True),
    ],
)
def test_subscriptions_match_exact_kinds_and_prefixes(patterns: list[str], kind: str, wanted: bool) -> None:
    assert webhooks.subscribed(patterns, kind) is wanted


def test_a_worker_that_dies_mid_call_loses_nothing(
    runtime: Runtime,
    client: TestClient,
    people: Personas,
    receiver: Receiver,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = Clock(monkeypatch)
    endpoint = _endpoint(client, people, receiver.url, ["ticket.created"])
    receiver.script = [500]
    new_ticket(client, people.customer)
    [delivery] = _deliveries(client, people, endpoint["id"])
    clock.advance(31)
    # A worker claims the retry, then dies before it calls: the claim holds the sweep off for a while...
    config = webhooks.WebhookConfig(timeout_seconds=TIMEOUT, max_attempts=4, retry_seconds=30)
    claimed = webhooks.claim(database=runtime.database, delivery_id=delivery["id"], config=config)
    assert claimed is not None and claimed.attempt == 2
    assert webhooks.claim(database=runtime.database, delivery_id=delivery["id"], config=config) is None
    runtime.queue.sweep()
    assert len(receiver.received) == 1
    # ...and once it runs out, the sweep sends the attempt after all.
    clock.advance(TIMEOUT + 61)
    runtime.queue.sweep()
    detail = _detail(client, people, delivery["id"])
    assert detail["state"] == "delivered" and [a["number"] for a in detail["attempt_log"]] == [1, 2]
    assert len(receiver.received) == 2
