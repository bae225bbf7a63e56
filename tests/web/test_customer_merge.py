"""Merging two customers who are one person, and undoing it, through the API."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.conftest import Personas, new_ticket


def _timeline_ids(client: TestClient, people: Personas, customer_id: int) -> set[int]:
    response = client.get(f"/api/v1/customers/{customer_id}/timeline?limit=200", headers=people.agent.headers)
    assert response.status_code == 200, response.text
    return {item["id"] for item in response.json()["items"] if item["type"] == "message"}


def test_merge_moves_everything_and_undo_moves_it_back(client: TestClient, people: Personas) -> None:
    by_mail = new_ticket(client, people.agent, customer={"email": "sam@example.com", "name": "Sam Lee"})
    by_phone = new_ticket(
        client, people.agent, customer={"phone": "+44 20 7946 0958"}, channel="phone", subject="Call"
    )
    target, source = by_mail["customer_id"], by_phone["customer_id"]
    assert target != source
    before_target = _timeline_ids(client, people, target)
    before_source = _timeline_ids(client, people, source)

    forbidden = client.post(
        f"/api/v1/customers/{target}/merge", json={"source_id": source}, headers=people.agent.headers
    )
    assert forbidden.status_code == 403 and forbidden.json()["error"]["code"] == "role_forbidden"

    merged = client.post(
        f"/api/v1/customers/{target}/merge", json={"source_id": source}, headers=people.admin.headers
    )
    assert merged.status_code == 201, merged.text
    merge = merged.json()
    assert merge["moved"]["rows"]["tickets"] == [by_phone["id"]]
    customer = client.get(f"/api/v1/customers/{target}", headers=people.agent.headers).json()
    assert {(i["kind"], i["value"]) for i in customer["identities"]} == {
        ("email", "sam@example.com"),
        ("phone", "+442079460958"),
    }
    assert _timeline_ids(client, people, target) == before_target | before_source
    assert (
        client.get(f"/api/v1/tickets/{by_phone['id']}", headers=people.agent.headers).json()["customer_id"]
        == target
    )
    gone = client.get(f"/api/v1/customers/{source}", headers=people.agent.headers).json()
    assert gone["merged_into_id"] == target and gone["identities"] == []

    # The phone number now finds the merged customer.
    again = new_ticket(client, people.agent, customer={"phone": "+442079460958"}, channel="phone")
    assert again["customer_id"] == target

    # A reply added to the moved ticket after the merge goes back with the ticket on undo.
    late = client.post(
        f"/api/v1/tickets/{by_phone['id']}/messages",
        json={"body": "We called you back."},
        headers=people.agent.headers,
    ).json()

    twice = client.post(
        f"/api/v1/customers/{target}/merge", json={"source_id": source}, headers=people.admin.headers
    )
    assert twice.status_code == 409 and twice.json()["error"]["code"] == "customer_merged"

    undone = client.post(f"/api/v1/customer-merges/{merge['id']}/undo", headers=people.admin.headers)
    assert undone.status_code == 200, undone.text
    assert undone.json()["undone_at"] is not None
    assert _timeline_ids(client, people, source) == before_source | {late["id"]}
    # What came after the merge stays with the target; what the merge moved is gone from it.
    after_target = _timeline_ids(client, people, target)
    assert before_target < after_target and not after_target & before_source
    assert (
        client.get(f"/api/v1/tickets/{again['id']}", headers=people.agent.headers).json()["customer_id"]
        == target
    )
    restored = client.get(f"/api/v1/customers/{source}", headers=people.agent.headers).json()
    assert restored["merged_into_id"] is None
    assert [(i["kind"], i["value"]) for i in restored["identities"]] == [("phone", "+442079460958")]

    repeat = client.post(f"/api/v1/customer-merges/{merge['id']}/undo", headers=people.admin.headers)
    assert repeat.status_code == 409 and repeat.json()["error"]["code"] == "merge_undone"
    history = client.get(f"/api/v1/customers/{target}/merges", headers=people.admin.headers).json()
    assert [row["id"] for row in history] == [merge["id"]]


def test_merge_refuses_bad_requests(client: TestClient, people: Personas) -> None:
    me = people.customer.id
    same = client.post(f"/api/v1/customers/{me}/merge", json={"source_id": me}, headers=people.admin.headers)
    assert same.status_code == 422 and same.json()["error"]["code"] == "merge_same_customer"
    missing = client.post(
        f"/api/v1/customers/{me}/merge", json={"source_id": 999999}, headers=people.admin.headers
    )
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "customer_not_found"
    unknown = client.post("/api/v1/customer-merges/424242/undo", headers=people.admin.headers)
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "merge_not_found"
    portal = client.post(
        f"/api/v1/customers/{me}/merge",
        json={"source_id": people.other_customer.id},
        headers=people.customer.headers,
    )
    assert portal.status_code == 403


def test_merging_customers_who_recorded_the_same_purchase_keeps_one_and_undoes_cleanly(
    client: TestClient, people: Personas
) -> None:
    # Duplicate customers are the ones likely to hold the same order twice; the merge must not fail on it.
    target = new_ticket(client, people.agent, customer={"email": "ann@example.com"})["customer_id"]
    source = new_ticket(client, people.agent, customer={"phone": "+44 20 7946 0111"}, channel="phone")[
        "customer_id"
    ]
    purchase = {"product": "Kettle Pro", "order_number": "K-1", "purchased_at": "2026-03-01T10:00:00Z"}
    for customer_id in (target, source):
        made = client.post(
            f"/api/v1/customers/{customer_id}/purchases", json=purchase, headers=people.agent.headers
        )
        assert made.status_code == 201, made.text
    extra = {"product": "Filter", "order_number": "K-2", "purchased_at": "2026-03-02T10:00:00Z"}
    client.post(f"/api/v1/customers/{source}/purchases", json=extra, headers=people.agent.headers)
    merged = client.post(
        f"/api/v1/customers/{target}/merge", json={"source_id": source}, headers=people.admin.headers
    )
    assert merged.status_code == 201, merged.text
    owned = client.get(f"/api/v1/customers/{target}/purchases", headers=people.agent.headers).json()
    assert sorted(p["product"] for p in owned) == ["Filter", "Kettle Pro"]
    undone = client.post(f"/api/v1/customer-merges/{merged.json()['id']}/undo", headers=people.admin.headers)
    assert undone.status_code == 200, undone.text
    back = client.get(f"/api/v1/customers/{source}/purchases", headers=people.agent.headers).json()
    assert sorted(p["product"] for p in back) == ["Filter", "Kettle Pro"]
