"""The partners' feedback channel: partners say what they need, staff see all of it and answer."""

from __future__ import annotations

from fastapi.testclient import TestClient

from ombud.runtime import Runtime
from tests.conftest import Personas
from tests.partners.conftest import make_partner, partner_user, work_order


def test_partner_asks_staff_answer_and_close(client: TestClient, runtime: Runtime, people: Personas) -> None:
    pid = make_partner(runtime, "FixRight", people.partner.id)
    wid = work_order(client, people)["id"]
    made = client.post(
        "/api/v1/partner-feedback",
        json={
            "kind": "parts",
            "subject": "AirBrew 2 pump",
            "body": "We need the pump part list.",
            "work_order_id": wid,
        },
        headers=people.partner.headers,
    )
    assert made.status_code == 201, made.text
    item = made.json()
    assert item["partner_id"] == pid and item["state"] == "open" and item["work_order_id"] == wid

    staff = client.get("/api/v1/partner-feedback?state=open", headers=people.agent.headers).json()
    assert [f["id"] for f in staff["items"]] == [item["id"]] and staff["open_count"] == 1
    answer = client.post(
        f"/api/v1/partner-feedback/{item['id']}/replies",
        json={"body": "Attached to the partner article 'AirBrew 2 parts'."},
        headers=people.agent.headers,
    )
    assert answer.status_code == 201
    assert client.get(f"/api/v1/partner-feedback/{item['id']}", headers=people.partner.headers).json()[
        "state"
    ] == ("answered")
    follow = client.post(
        f"/api/v1/partner-feedback/{item['id']}/replies",
        json={"body": "And the seals?"},
        headers=people.partner.headers,
    )
    assert follow.status_code == 201
    assert client.get("/api/v1/partner-feedback", headers=people.agent.headers).json()["open_count"] == 1
    refused = client.post(
        f"/api/v1/partner-feedback/{item['id']}/replies",
        json={"body": "done", "close": True},
        headers=people.partner.headers,
    )
    assert refused.status_code == 422
    closed = client.post(
        f"/api/v1/partner-feedback/{item['id']}/replies",
        json={"body": "Seals are in the same list.", "close": True},
        headers=people.lead.headers,
    )
    assert closed.status_code == 201
    replies = client.get(
        f"/api/v1/partner-feedback/{item['id']}/replies", headers=people.partner.headers
    ).json()
    assert len(replies["items"]) == 3
    late = client.post(
        f"/api/v1/partner-feedback/{item['id']}/replies",
        json={"body": "one more"},
        headers=people.partner.headers,
    )
    assert late.status_code == 409 and late.json()["error"]["code"] == "feedback_closed"
    assert (
        client.get("/api/v1/partner-feedback?state=open", headers=people.agent.headers).json()["items"] == []
    )


def test_feedback_validation(client: TestClient, runtime: Runtime, people: Personas) -> None:
    make_partner(runtime, "FixRight", people.partner.id)
    bad_kind = client.post(
        "/api/v1/partner-feedback",
        json={"kind": "money", "subject": "s", "body": "b"},
        headers=people.partner.headers,
    )
    assert bad_kind.status_code == 422
    staff = client.post(
        "/api/v1/partner-feedback",
        json={"kind": "other", "subject": "s", "body": "b"},
        headers=people.agent.headers,
    )
    assert staff.status_code == 422 and staff.json()["error"]["code"] == "partner_required"
    loner = partner_user(runtime, "loner@p.test")
    unlinked = client.post(
        "/api/v1/partner-feedback", json={"kind": "other", "subject": "s", "body": "b"}, headers=loner.headers
    )
    assert unlinked.status_code == 403 and unlinked.json()["error"]["code"] == "not_a_technician"
    customer = client.post(
        "/api/v1/partner-feedback",
        json={"kind": "other", "subject": "s", "body": "b"},
        headers=people.customer.headers,
    )
    assert customer.status_code == 403
