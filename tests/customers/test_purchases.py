"""Purchases: recording, validation, duplicates, permissions and the customer's value."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from ombud.customers import purchases
from ombud.runtime import Runtime
from tests.conftest import Personas
from tests.customers.helpers import buy, days_ago


def test_record_and_list_purchases(client: TestClient, people: Personas, runtime: Runtime) -> None:
    customer = people.customer.id
    buy(
        client,
        people.agent,
        customer,
        "Router X",
        at=days_ago(30),
        order_number="A-1",
        amount=129.0,
        currency="EUR",
    )
    buy(client, people.agent, customer, "Care Plan", at=days_ago(2), kind="plan", amount=5.5, currency="EUR")
    listed = client.get(f"/api/v1/customers/{customer}/purchases", headers=people.agent.headers)
    assert listed.status_code == 200
    assert [p["product"] for p in listed.json()] == ["Care Plan", "Router X"]  # newest first
    assert listed.json()[0]["kind"] == "plan"
    # The customer sees their own; nobody else's.
    assert (
        client.get(f"/api/v1/customers/{customer}/purchases", headers=people.customer.headers).status_code
        == 200
    )
    other = client.get(f"/api/v1/customers/{customer}/purchases", headers=people.other_customer.headers)
    assert other.status_code == 404
    assert other.json()["error"]["code"] == "customer_not_found"
    with runtime.database.session(write=False) as session:
        assert purchases.customer_value(session=session, customer_id=customer) == pytest.approx(134.5)
        assert purchases.customer_value(session=session, customer_id=people.other_customer.id) == 0.0
    events = client.get(f"/api/v1/customers/{customer}/timeline", headers=people.agent.headers).json()[
        "items"
    ]
    assert "purchase.added" in {e["action"] for e in events}


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"product": ""}, "product"),
        ({"product": "x" * 201}, "product"),
        ({"kind": "gift"}, "kind"),
        ({"amount": 10}, None),  # an amount without its currency
        ({"amount": 10, "currency": "eur"}, None),
        ({"amount": 10, "currency": "EURO"}, None),
        ({"amount": -1, "currency": "EUR"}, "amount"),
        ({"purchased_at": "2999-01-01T00:00:00+00:00"}, None),
        ({"purchased_at": "2024-01-01T00:00:00"}, "purchased_at"),  # no time zone
        ({"colour": "red"}, "colour"),
    ],
)
def test_purchase_validation(
    client: TestClient, people: Personas, fields: dict[str, object], field: str | None
) -> None:
    payload = {"product": "Router X", "purchased_at": days_ago(1).isoformat(), **fields}
    response = client.post(
        f"/api/v1/customers/{people.customer.id}/purchases", json=payload, headers=people.agent.headers
    )
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_input"
    if field is not None:
        assert any(field in str(item["field"]) for item in error["details"]), error


def test_duplicate_order_line_conflicts(client: TestClient, people: Personas) -> None:
    customer = people.customer.id
    buy(client, people.agent, customer, "Router X", at=days_ago(3), order_number="A-1")
    again = client.post(
        f"/api/v1/customers/{customer}/purchases",
        json={"product": "Router X", "order_number": "A-1", "purchased_at": days_ago(3).isoformat()},
        headers=people.agent.headers,
    )
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "purchase_exists"
    # Another product of the same order, and the same product without an order number, are fine.
    buy(client, people.agent, customer, "Mesh Extender", at=days_ago(3), order_number="A-1")
    buy(client, people.agent, customer, "Router X", at=days_ago(3))
    buy(client, people.agent, customer, "Router X", at=days_ago(3))


def test_only_service_roles_record_purchases(client: TestClient, people: Personas) -> None:
    payload = {"product": "Router X", "purchased_at": days_ago(1).isoformat()}
    for who in (people.customer, people.advocate, people.partner):
        response = client.post(
            f"/api/v1/customers/{people.customer.id}/purchases", json=payload, headers=who.headers
        )
        assert response.status_code == 403, who
        assert response.json()["error"]["code"] == "role_forbidden"
    missing = client.post("/api/v1/customers/999999/purchases", json=payload, headers=people.agent.headers)
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "customer_not_found"
