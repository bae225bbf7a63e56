"""Departments through the API: advocates, leads and admins configure them, agents read them, customers and
partners see nothing; owners and webhook endpoints are checked; the inbound secret is shown once and can
be rotated; every change is audited."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select

from ombud.audit.models import AuditEvent
from ombud.runtime import Runtime
from tests.advocacy.cases_helpers import department
from tests.conftest import Personas


def test_department_crud_with_secret_shown_once_and_rotated(
    runtime: Runtime, client: TestClient, people: Personas
) -> None:
    made = department(
        client,
        people.advocate,
        name="  Payments   team ",
        kind="Partner Network",
        owner_ids=[people.lead.id, people.advocate.id, people.lead.id],
        notify_email="Payments@Example.com",
        intents=["Payment_Failed", "refund_request"],
    )
    secret = made["inbound_secret"]
    assert secret.startswith("advsec_") and made["secret_hint"] == "…" + secret[-4:]
    assert made["name"] == "Payments team" and made["kind"] == "partner_network"
    assert made["owner_ids"] == [people.lead.id, people.advocate.id]
    assert made["notify_email"] == "payments@example.com"
    assert made["intents"] == ["payment_failed", "refund_request"]

    read = client.get(f"/api/v1/advocacy/departments/{made['id']}", headers=people.agent.headers)
    assert read.status_code == 200 and "inbound_secret" not in read.json()
    assert read.json()["secret_hint"] == made["secret_hint"]

    rotated = client.post(
        f"/api/v1/advocacy/departments/{made['id']}/rotate-secret", headers=people.lead.headers
    ).json()
    assert rotated["inbound_secret"] != secret and rotated["inbound_secret"].startswith("advsec_")

    changed = client.patch(
        f"/api/v1/advocacy/departments/{made['id']}",
        json={"description": "Cards, wallets, refunds", "notify_email": None},
        headers=people.admin.headers,
    )
    assert changed.status_code == 200, changed.text
    assert (
        changed.json()["description"] == "Cards, wallets, refunds" and changed.json()["notify_email"] is None
    )

    listed = client.get("/api/v1/advocacy/departments", headers=people.agent.headers).json()
    assert [d["name"] for d in listed] == ["Payments team"]

    assert (
        client.delete(
            f"/api/v1/advocacy/departments/{made['id']}", headers=people.advocate.headers
        ).status_code
        == 204
    )
    assert (
        client.get(f"/api/v1/advocacy/departments/{made['id']}", headers=people.agent.headers).json()[
            "error"
        ]["code"]
        == "department_not_found"
    )

    with runtime.database.session(write=False) as session:
        actions = session.scalars(
            select(AuditEvent.action)
            .where(AuditEvent.entity_type == "advocacy_department")
            .order_by(AuditEvent.id)
        ).all()
        after = session.scalars(
            select(AuditEvent.after).where(AuditEvent.action == "advocacy.department.updated")
        ).one()
    assert actions == [
        "advocacy.department.created",
        "advocacy.department.secret_rotated",
        "advocacy.department.updated",
        "advocacy.department.deleted",
    ]
    # The audit keeps what changed, never the secret.
    assert after == {"description": "Cards, wallets, refunds", "notify_email": None}
    assert all("advsec_" not in str(a) for a in actions)


def test_department_input_is_checked(client: TestClient, people: Personas) -> None:
    def create(**fields: object) -> tuple[int, str]:
        response = client.post(
            "/api/v1/advocacy/departments",
            json={"name": "Logistics", **fields},
            headers=people.advocate.headers,
        )
        return response.status_code, response.json().get("error", {}).get("code", "")

    assert create(owner_ids=[999_999]) == (422, "unknown_user")
    assert create(owner_ids=[people.partner.id]) == (422, "owner_not_staff")
    assert create(webhook_endpoint_id=12345) == (403, "role_forbidden")  # endpoints are admins'
    unknown = client.post(
        "/api/v1/advocacy/departments",
        json={"name": "Logistics", "webhook_endpoint_id": 12345},
        headers=people.admin.headers,
    )
    assert unknown.status_code == 422 and unknown.json()["error"]["code"] == "unknown_webhook_endpoint"
    assert create(kind="!!") == (422, "invalid_department_kind")
    assert create(notify_email="not an address") == (422, "invalid_email")
    assert create(intents=["Has spaces"]) == (422, "invalid_intent")
    assert create()[0] == 201
    assert create() == (409, "department_exists")
    assert create(unknown_field=1)[0] == 422


def test_only_advocacy_roles_change_departments_and_outsiders_see_none(
    client: TestClient, people: Personas
) -> None:
    made = department(client, people.admin)
    for who in (people.agent, people.agent2):
        response = client.post("/api/v1/advocacy/departments", json={"name": "Policy"}, headers=who.headers)
        assert response.status_code == 403 and response.json()["error"]["code"] == "role_forbidden"
        assert (
            client.patch(
                f"/api/v1/advocacy/departments/{made['id']}", json={"kind": "policy"}, headers=who.headers
            ).status_code
            == 403
        )
        assert (
            client.post(
                f"/api/v1/advocacy/departments/{made['id']}/rotate-secret", headers=who.headers
            ).status_code
            == 403
        )
    for who in (people.customer, people.partner):
        assert client.get("/api/v1/advocacy/departments", headers=who.headers).status_code == 403
        assert (
            client.get(f"/api/v1/advocacy/departments/{made['id']}", headers=who.headers).status_code == 403
        )
    assert client.get("/api/v1/advocacy/departments").status_code == 401


def test_only_admins_attach_a_webhook_endpoint(client: TestClient, people: Personas) -> None:
    """An endpoint may carry any event to any URL: an advocate may not point a department at one (which
    would send it the department's case events), on creation or later; an admin may; an advocate editing
    other fields of the department (the form sends the endpoint id back unchanged) is not refused."""
    endpoint = client.post(
        "/api/v1/webhooks",
        json={"name": "Tracker", "url": "https://tracker.example.com/hooks", "events": ["ticket.created"]},
        headers=people.admin.headers,
    )
    assert endpoint.status_code == 201, endpoint.text
    endpoint_id = endpoint.json()["id"]
    refused = client.post(
        "/api/v1/advocacy/departments",
        json={"name": "Payments", "webhook_endpoint_id": endpoint_id},
        headers=people.advocate.headers,
    )
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "role_forbidden"
    made = department(client, people.advocate)
    url = f"/api/v1/advocacy/departments/{made['id']}"
    patched = client.patch(url, json={"webhook_endpoint_id": endpoint_id}, headers=people.advocate.headers)
    assert patched.status_code == 403
    assert client.get(url, headers=people.agent.headers).json()["webhook_endpoint_id"] is None
    attached = client.patch(url, json={"webhook_endpoint_id": endpoint_id}, headers=people.admin.headers)
    assert attached.status_code == 200 and attached.json()["webhook_endpoint_id"] == endpoint_id
    same = client.patch(
        url,
        json={"description": "Cards", "webhook_endpoint_id": endpoint_id},
        headers=people.advocate.headers,
    )
    assert same.status_code == 200 and same.json()["description"] == "Cards"
    removed = client.patch(url, json={"webhook_endpoint_id": None}, headers=people.advocate.headers)
    assert removed.status_code == 200 and removed.json()["webhook_endpoint_id"] is None
