"""A resolution calls out to the company's order or billing system through the outbound webhooks: the
delivery (signed, made by a job after the commit) and its response show on the resolution."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import Personas, new_ticket
from tests.resolutions.helpers import propose, purchase, upload


@pytest.fixture
def billing() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """A local order/billing system that records what it is told and answers 200."""
    received: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            received.append({"signature": self.headers.get("Ombud-Signature"), "body": json.loads(body)})
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, format: str, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/refunds", received
    server.shutdown()
    server.server_close()


def test_an_applied_resolution_is_delivered_to_the_subscribed_system(
    client: TestClient, people: Personas, billing: tuple[str, list[dict[str, Any]]]
) -> None:
    url, received = billing
    endpoint = client.post(
        "/api/v1/webhooks",
        json={"name": "Billing", "url": url, "events": ["resolution.applied"]},
        headers=people.admin.headers,
    )
    assert endpoint.status_code == 201, endpoint.text
    upload(client, people)
    ticket = new_ticket(client, people.customer)
    bought = purchase(client, people, days_ago=5)
    made = propose(client, people.agent, ticket["id"], amount="40", purchase_id=bought)
    assert made["status"] == "applied"

    assert len(received) == 1 and received[0]["signature"]
    event = received[0]["body"]["event"]
    assert event["kind"] == "resolution.applied"
    assert (event["entity_type"], event["entity_id"]) == ("resolution", made["id"])
    # What the order system needs to act on it.
    data = event["data"]["after"]
    assert (data["kind"], data["amount"], data["currency"], data["purchase_id"]) == (
        "refund",
        40.0,
        "EUR",
        bought,
    )
    assert data["amount_minor"] == 4000 and data["reason"] == "late_delivery" and data["status"] == "applied"
    shown = client.get(f"/api/v1/resolutions/{made['id']}", headers=people.lead.headers).json()
    callouts = shown["callouts"]
    assert [(c["event_kind"], c["last_status"]) for c in callouts] == [("resolution.applied", 200)]
    assert callouts[0]["endpoint_id"] == endpoint.json()["id"]


def test_applied_concessions_reach_the_concessions_report(client: TestClient, people: Personas) -> None:
    upload(client, people)
    ticket = new_ticket(client, people.customer)
    bought = purchase(client, people, days_ago=5)
    propose(client, people.agent, ticket["id"], amount="40", purchase_id=bought)
    propose(client, people.agent, ticket["id"], amount="12.50", purchase_id=bought)
    propose(client, people.agent, ticket["id"], amount="60", purchase_id=bought)  # waits for approval
    answer = client.get("/api/v1/reports/concessions", params={"group": "total"}, headers=people.lead.headers)
    assert answer.status_code == 200, answer.text
    rows = answer.json()["rows"]
    assert [(r["reason"], r["currency"], r["amount"], r["count"]) for r in rows] == [
        ("late_delivery", "EUR", 52.5, 2)
    ]
