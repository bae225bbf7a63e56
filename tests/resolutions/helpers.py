"""A small concession policy for the tests, and helpers that go through the API."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi.testclient import TestClient

from tests.conftest import Persona, Personas

POLICY = """base_currency = "EUR"
came_back_days = 30

[currencies]
EUR = 1
USD = 0.5

[reasons]
late_delivery = { label = "Late delivery" }
damaged = { label = "Arrived damaged" }
goodwill = { label = "Goodwill", second_person = true }

[[limit]]
role = "agent"
kinds = ["refund", "partial_refund", "billing_correction"]
max = 50

[[limit]]
role = "agent"
kinds = ["credit", "coupon", "goodwill"]
max = 25

[[limit]]
role = "agent"
kinds = ["replacement", "return", "repair"]
max = 150

[[limit]]
role = "agent"
tier = "premium"
kinds = ["refund", "partial_refund", "billing_correction"]
max = 100

[[limit]]
role = "lead"
kinds = "*"
max = 200

[[limit]]
role = "advocate"
kinds = "*"
max = 200

[[limit]]
role = "admin"
kinds = "*"
max = 1000

[per_customer]
days = 90
max = 100

[refund_window]
days = 30

[helper]
shipping = 5
credit_share = 0.1
partial_share = 0.3
"""


def upload(client: TestClient, people: Personas, source: str = POLICY) -> dict[str, Any]:
    response = client.put(
        "/api/v1/resolutions/policy", json={"source": source, "comment": "test"}, headers=people.admin.headers
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def purchase(
    client: TestClient, people: Personas, *, days_ago: int, amount: float = 100.0, currency: str = "EUR"
) -> int:
    response = client.post(
        f"/api/v1/customers/{people.customer.id}/purchases",
        json={
            "product": f"Blender {days_ago}",
            "order_number": f"A-{days_ago}-{amount}",
            "amount": amount,
            "currency": currency,
            "purchased_at": (dt.datetime.now(dt.UTC) - dt.timedelta(days=days_ago)).isoformat(),
        },
        headers=people.agent.headers,
    )
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def propose(
    client: TestClient, who: Persona, ticket_id: Any, *, status: int = 201, **fields: Any
) -> dict[str, Any]:
    payload: dict[str, Any] = {"kind": "refund", "amount": "40", "currency": "EUR", "reason": "late_delivery"}
    payload.update(fields)
    response = client.post(f"/api/v1/tickets/{ticket_id}/resolutions", json=payload, headers=who.headers)
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    return body


def decide(
    client: TestClient,
    who: Persona,
    resolution_id: Any,
    action: str,
    *,
    status: int = 200,
    comment: str = "ok",
) -> dict[str, Any]:
    response = client.post(
        f"/api/v1/resolutions/{resolution_id}/{action}", json={"comment": comment}, headers=who.headers
    )
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    return body
