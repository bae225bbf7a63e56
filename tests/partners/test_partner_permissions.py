"""Who may NOT see or do what in the partner network: a partner sees only its own work orders and never
tickets, customers, internal notes or timelines; a customer sees only their own ticket's work orders;
staff may act for a partner (recorded as themselves); anonymous callers get 401."""

from __future__ import annotations

import base64
from typing import Any

from fastapi.testclient import TestClient

from ombud.runtime import Runtime
from tests.conftest import Persona, Personas, new_ticket
from tests.partners.conftest import make_partner, partner_user, work_order

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16


def two_partners(
    client: TestClient, runtime: Runtime, people: Personas
) -> tuple[int, int, Persona, dict[str, Any]]:
    """Partner A (people.partner) gets postcode 101..., partner B (a second user) 20...; B's work order has
    a note and a photo."""
    a = make_partner(runtime, "A Repairs", people.partner.id, areas=["101"])
    tech_b = partner_user(runtime, "b@partners.test", name="Bea Bauer")
    b = make_partner(runtime, "B Repairs", tech_b.id, areas=["20"])
    order_b = work_order(client, people, postcode="20095")
    assert order_b["partner_id"] == b
    wid = order_b["id"]
    assert (
        client.post(f"/api/v1/work-orders/{wid}/accept", json={}, headers=tech_b.headers).status_code == 200
    )
    client.post(f"/api/v1/work-orders/{wid}/notes", json={"body": "Gate code 1234"}, headers=tech_b.headers)
    photo = client.post(
        f"/api/v1/work-orders/{wid}/photos",
        json={
            "filename": "a.png",
            "content_type": "image/png",
            "content_base64": base64.b64encode(PNG).decode(),
        },
        headers=tech_b.headers,
    )
    assert photo.status_code == 201
    order_b["photo_id"] = photo.json()["id"]
    return a, b, tech_b, order_b


def test_a_partner_cannot_touch_another_partners_work_orders(
    client: TestClient, runtime: Runtime, people: Personas
) -> None:
    a, b, _, order_b = two_partners(client, runtime, people)
    mine = work_order(client, people, postcode="10115")
    assert mine["partner_id"] == a
    h = people.partner.headers
    wid = order_b["id"]
    listed = client.get("/api/v1/work-orders", headers=h).json()["items"]
    assert [w["id"] for w in listed] == [mine["id"]]
    assert client.get(f"/api/v1/work-orders?partner_id={b}", headers=h).json()["items"] == []
    for path in ("", "/updates", "/photos", "/visit", "/free-slots"):
        got = client.get(f"/api/v1/work-orders/{wid}{path}", headers=h)
        assert got.status_code == 404 and got.json()["error"]["code"] == "work_order_not_found", path
    assert client.get(f"/api/v1/work-order-photos/{order_b['photo_id']}", headers=h).status_code == 404
    for action, body in (
        ("accept", {}),
        ("decline", {"reason": "x"}),
        ("slots", {}),
        ("confirm", {"start": "2030-01-01T10:00:00Z"}),
        ("status", {"status": "en_route"}),
        ("notes", {"body": "x"}),
        ("parts", {"parts": [{"part": "x"}]}),
        (
            "photos",
            {
                "filename": "a.png",
                "content_type": "image/png",
                "content_base64": base64.b64encode(PNG).decode(),
            },
        ),
        ("rating", {"score": 5}),
        ("close", {}),
        ("cancel", {"reason": "x"}),
    ):
        refused = client.post(f"/api/v1/work-orders/{wid}/{action}", json=body, headers=h)
        assert refused.status_code == 404, (action, refused.text)
    # Nothing changed on B's work order.
    assert (
        client.get(f"/api/v1/work-orders/{wid}", headers=people.agent.headers).json()["status"] == "accepted"
    )
    # Other partners' scorecards, feedback and technicians are invisible; their own are not.
    assert client.get(f"/api/v1/partners/{b}/scorecard", headers=h).status_code == 404
    assert client.get(f"/api/v1/partners/{a}/scorecard", headers=h).status_code == 200
    assert client.get(f"/api/v1/partners/{b}", headers=h).status_code == 404
    assert client.get(f"/api/v1/partners/{b}/technicians", headers=h).status_code == 404
    assert [p["id"] for p in client.get("/api/v1/partners", headers=h).json()["items"]] == [a]


def test_a_partner_never_sees_tickets_customers_notes_or_timelines(
    client: TestClient, runtime: Runtime, people: Personas
) -> None:
    a = make_partner(runtime, "A Repairs", people.partner.id)
    ticket_id = int(str(new_ticket(client, people.agent)["id"]))
    mine = work_order(client, people, ticket_id)
    assert mine["partner_id"] == a
    h = people.partner.headers
    for path in (
        f"/api/v1/tickets/{ticket_id}",
        f"/api/v1/tickets/{ticket_id}/work-orders",
        f"/api/v1/customers/{people.customer.id}",
        f"/api/v1/customers/{people.customer.id}/timeline",
        "/api/v1/tickets",
    ):
        assert client.get(path, headers=h).status_code in (403, 404), path
    # What the visit needs, and nothing else of the customer.
    visit = client.get(f"/api/v1/work-orders/{mine['id']}/visit", headers=h)
    assert visit.status_code == 200
    assert set(visit.json()) == {
        "work_order",
        "customer_name",
        "contact_phone",
        "address",
        "postcode",
        "region",
        "concern_summary",
        "partner_name",
        "technician_name",
    }


def test_feedback_of_another_partner_is_invisible(
    client: TestClient, runtime: Runtime, people: Personas
) -> None:
    _, _, tech_b, _ = two_partners(client, runtime, people)
    theirs = client.post(
        "/api/v1/partner-feedback",
        json={"kind": "training", "subject": "s", "body": "b"},
        headers=tech_b.headers,
    ).json()
    h = people.partner.headers
    assert client.get("/api/v1/partner-feedback", headers=h).json()["items"] == []
    assert client.get(f"/api/v1/partner-feedback/{theirs['id']}", headers=h).status_code == 404
    assert client.get(f"/api/v1/partner-feedback/{theirs['id']}/replies", headers=h).status_code == 404
    assert (
        client.post(
            f"/api/v1/partner-feedback/{theirs['id']}/replies", json={"body": "x"}, headers=h
        ).status_code
        == 404
    )
    assert client.get("/api/v1/partner-feedback", headers=h).json()["open_count"] is None


def test_customers_see_only_their_own_tickets_work_orders(
    client: TestClient, runtime: Runtime, people: Personas
) -> None:
    make_partner(runtime, "A Repairs", people.partner.id)
    mine = work_order(client, people)
    other_ticket = new_ticket(client, people.agent, customer={"email": "tom@example.org", "name": "Tom"})
    theirs = work_order(client, people, int(str(other_ticket["id"])))
    me = people.customer.headers
    assert client.get(f"/api/v1/work-orders/{mine['id']}", headers=me).status_code == 200
    assert client.get(f"/api/v1/work-orders/{theirs['id']}", headers=me).status_code == 404
    assert client.get(f"/api/v1/tickets/{other_ticket['id']}/work-orders", headers=me).status_code == 404
    assert client.get("/api/v1/work-orders", headers=me).status_code == 403
    assert (
        client.post(f"/api/v1/work-orders/{theirs['id']}/rating", json={"score": 5}, headers=me).status_code
        == 404
    )
    # Customers cannot act for the partner or see the partner's view of the visit.
    assert client.post(f"/api/v1/work-orders/{mine['id']}/accept", json={}, headers=me).status_code == 403
    assert client.get(f"/api/v1/work-orders/{mine['id']}/visit", headers=me).status_code == 404
    assert client.get(f"/api/v1/work-orders/{mine['id']}/free-slots", headers=me).status_code == 404
    made = client.post(
        f"/api/v1/tickets/{mine['ticket_id']}/work-orders",
        json={"kind": "repair", "summary": "x"},
        headers=me,
    )
    assert made.status_code == 403


def test_staff_roles(client: TestClient, runtime: Runtime, people: Personas) -> None:
    make_partner(runtime, "A Repairs", people.partner.id)
    ticket_id = int(str(new_ticket(client, people.agent)["id"]))
    refused = client.post(
        f"/api/v1/tickets/{ticket_id}/work-orders",
        json={"kind": "repair", "summary": "x"},
        headers=people.advocate.headers,
    )
    assert refused.status_code == 403
    wid = work_order(client, people, ticket_id)["id"]
    # Advocates read but do not act; an agent may accept for the partner, recorded as the agent.
    assert client.get(f"/api/v1/work-orders/{wid}", headers=people.advocate.headers).status_code == 200
    assert (
        client.post(f"/api/v1/work-orders/{wid}/accept", json={}, headers=people.advocate.headers).status_code
        == 403
    )
    accepted = client.post(f"/api/v1/work-orders/{wid}/accept", json={}, headers=people.agent2.headers)
    assert accepted.status_code == 200 and accepted.json()["technician_id"] == people.partner.id
    updates = client.get(f"/api/v1/work-orders/{wid}/updates", headers=people.agent.headers).json()["items"]
    assert updates[-1]["author_user_id"] == people.agent2.id and "by staff" in updates[-1]["body"]
    # Only staff cancel; the partner cannot.
    assert (
        client.post(
            f"/api/v1/work-orders/{wid}/cancel", json={"reason": "x"}, headers=people.partner.headers
        ).status_code
        == 403
    )


def test_anonymous_is_401(client: TestClient) -> None:
    for method, path in (
        ("get", "/api/v1/work-orders"),
        ("get", "/api/v1/work-orders/1"),
        ("post", "/api/v1/work-orders/1/accept"),
        ("get", "/api/v1/partners"),
        ("get", "/api/v1/partner-feedback"),
        ("get", "/api/v1/work-order-photos/1"),
        ("get", "/api/v1/tickets/1/work-orders"),
    ):
        assert getattr(client, method)(path).status_code == 401, path
