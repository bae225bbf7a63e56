"""The ticket API through HTTP: creation, idempotency, reading, listing, changing, replying, permissions."""

from __future__ import annotations

import base64

import pytest
from fastapi.testclient import TestClient

from tests.conftest import Personas, new_ticket


def test_health_needs_no_token(client: TestClient) -> None:
    response = client.get("/api/v1/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_create_ticket_finds_or_creates_the_customer(client: TestClient, people: Personas) -> None:
    first = new_ticket(client, people.agent)
    assert first["status"] == "new"
    assert first["channel"] == "email"
    assert first["customer_id"] == people.customer.id  # maria@example.com already existed
    assert first["messages"][0]["author_type"] == "customer"
    assert first["created_at"].endswith("Z") or "+00:00" in first["created_at"]

    other = new_ticket(client, people.agent, customer={"email": "New.Person@Example.COM"}, channel="web")
    again = new_ticket(client, people.agent, customer={"email": "new.person@example.com "})
    assert other["customer_id"] == again["customer_id"] != people.customer.id


def test_identities_on_other_channels_join_the_same_customer(client: TestClient, people: Personas) -> None:
    by_email = new_ticket(
        client, people.agent, customer={"email": "sam@example.com", "phone": "+44 20 7946 0958"}
    )
    by_phone = new_ticket(client, people.agent, customer={"phone": "+44 (20) 7946-0958"}, channel="phone")
    assert by_phone["customer_id"] == by_email["customer_id"]
    profile = client.get(f"/api/v1/customers/{by_email['customer_id']}", headers=people.agent.headers).json()
    assert {(i["kind"], i["value"]) for i in profile["identities"]} == {
        ("email", "sam@example.com"),
        ("phone", "+442079460958"),
    }


def test_external_id_makes_creation_idempotent(client: TestClient, people: Personas) -> None:
    first = new_ticket(client, people.agent, external_id="form-881")
    replay = client.post(
        "/api/v1/tickets",
        json={
            "customer": {"email": "maria@example.com"},
            "subject": "x",
            "body": "y",
            "external_id": "form-881",
        },
        headers=people.agent.headers,
    )
    assert replay.status_code == 200
    assert replay.json()["id"] == first["id"]
    assert replay.json()["subject"] == first["subject"]
    listed = client.get("/api/v1/tickets", headers=people.agent.headers).json()["items"]
    assert [t["id"] for t in listed] == [first["id"]]


def test_get_ticket_hides_internal_notes_from_customers(client: TestClient, people: Personas) -> None:
    ticket = new_ticket(client, people.agent)
    note = client.post(
        f"/api/v1/tickets/{ticket['id']}/messages",
        json={"body": "VIP, handle with care", "internal": True},
        headers=people.agent.headers,
    )
    assert note.status_code == 201
    staff_view = client.get(f"/api/v1/tickets/{ticket['id']}", headers=people.agent.headers).json()
    customer_view = client.get(f"/api/v1/tickets/{ticket['id']}", headers=people.customer.headers).json()
    assert [m["internal"] for m in staff_view["messages"]] == [False, True]
    assert [m["internal"] for m in customer_view["messages"]] == [False]


def test_customers_never_see_other_customers_tickets(client: TestClient, people: Personas) -> None:
    ticket = new_ticket(client, people.agent)  # maria's
    response = client.get(f"/api/v1/tickets/{ticket['id']}", headers=people.other_customer.headers)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "ticket_not_found"
    mine = client.get("/api/v1/tickets", headers=people.other_customer.headers).json()
    assert mine["items"] == []
    reply = client.post(
        f"/api/v1/tickets/{ticket['id']}/messages", json={"body": "hi"}, headers=people.other_customer.headers
    )
    assert reply.status_code == 404


def test_customer_creates_ticket_for_themselves(client: TestClient, people: Personas) -> None:
    response = client.post(
        "/api/v1/tickets",
        json={
            "subject": "Where is my parcel?",
            "body": "Order A-1",
            "customer": {"email": "someone.else@example.com"},
        },
        headers=people.customer.headers,
    )
    assert response.status_code == 201
    assert response.json()["customer_id"] == people.customer.id


@pytest.mark.parametrize(
    ("headers", "status", "code"),
    [
        ({}, 401, "missing_token"),
        ({"Authorization": "Bearer nope"}, 401, "invalid_token"),
        ({"Authorization": "Basic abc"}, 401, "missing_token"),
    ],
)
def test_requests_without_a_valid_token_get_401(
    client: TestClient, headers: dict[str, str], status: int, code: str
) -> None:
    response = client.get("/api/v1/tickets", headers=headers)
    assert response.status_code == status
    assert response.json()["error"]["code"] == code
    assert response.headers["www-authenticate"] == "Bearer"


def test_roles_that_may_not_get_403(client: TestClient, people: Personas) -> None:
    ticket = new_ticket(client, people.agent)
    assert client.get("/api/v1/tickets", headers=people.partner.headers).status_code == 403
    patch = client.patch(
        f"/api/v1/tickets/{ticket['id']}", json={"status": "open"}, headers=people.advocate.headers
    )
    assert patch.status_code == 403
    public = client.post(
        f"/api/v1/tickets/{ticket['id']}/messages", json={"body": "hi"}, headers=people.advocate.headers
    )
    assert public.status_code == 403
    assert public.json()["error"]["code"] == "public_reply_forbidden"
    note = client.post(
        f"/api/v1/tickets/{ticket['id']}/messages",
        json={"body": "pattern?", "internal": True},
        headers=people.advocate.headers,
    )
    assert note.status_code == 201
    customer_patch = client.patch(
        f"/api/v1/tickets/{ticket['id']}", json={"status": "solved"}, headers=people.customer.headers
    )
    assert customer_patch.status_code == 403
    customer_note = client.post(
        f"/api/v1/tickets/{ticket['id']}/messages",
        json={"body": "x", "internal": True},
        headers=people.customer.headers,
    )
    assert customer_note.status_code == 403


def test_patch_changes_fields_and_audits_before_and_after(client: TestClient, people: Personas) -> None:
    ticket = new_ticket(client, people.agent)
    response = client.patch(
        f"/api/v1/tickets/{ticket['id']}",
        json={
            "status": "pending",
            "priority": "high",
            "assignee_id": people.agent.id,
            "team_id": people.team_id,
            "tags": ["Billing", "refund", "billing"],
        },
        headers=people.lead.headers,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["status"], body["priority"], body["assignee_id"], body["team_id"]) == (
        "pending",
        "high",
        people.agent.id,
        people.team_id,
    )
    assert body["tags"] == ["billing", "refund"]
    events = client.get(f"/api/v1/tickets/{ticket['id']}/events", headers=people.lead.headers).json()
    update = [e for e in events if e["action"] == "ticket.updated"][-1]
    assert update["actor_id"] == people.lead.id
    assert update["before"]["status"] == "new" and update["after"]["status"] == "pending"
    assert update["before"]["assignee_id"] is None and update["after"]["assignee_id"] == people.agent.id


def test_patch_rejects_unknown_assignee_and_null_status(client: TestClient, people: Personas) -> None:
    ticket = new_ticket(client, people.agent)
    unknown = client.patch(
        f"/api/v1/tickets/{ticket['id']}", json={"assignee_id": 999999}, headers=people.agent.headers
    )
    assert unknown.status_code == 422
    assert unknown.json()["error"]["code"] == "unknown_user"
    null_status = client.patch(
        f"/api/v1/tickets/{ticket['id']}", json={"status": None}, headers=people.agent.headers
    )
    assert null_status.status_code == 422
    unchanged = client.get(f"/api/v1/tickets/{ticket['id']}", headers=people.agent.headers).json()
    assert unchanged["assignee_id"] is None and unchanged["status"] == "new"


def test_status_follows_the_conversation(client: TestClient, people: Personas) -> None:
    ticket = new_ticket(client, people.agent)
    tid = ticket["id"]
    reply = client.post(
        f"/api/v1/tickets/{tid}/messages", json={"body": "Refund on its way."}, headers=people.agent.headers
    )
    assert reply.status_code == 201
    after_reply = client.get(f"/api/v1/tickets/{tid}", headers=people.agent.headers).json()
    assert after_reply["status"] == "open" and after_reply["first_response_at"] is not None

    solved = client.patch(
        f"/api/v1/tickets/{tid}", json={"status": "solved", "confirm": True}, headers=people.agent.headers
    ).json()
    assert solved["resolved_at"] is not None
    client.post(
        f"/api/v1/tickets/{tid}/messages", json={"body": "Not received yet!"}, headers=people.customer.headers
    )
    reopened = client.get(f"/api/v1/tickets/{tid}", headers=people.agent.headers).json()
    assert reopened["status"] == "open" and reopened["resolved_at"] is None
    assert reopened["first_response_at"] == after_reply["first_response_at"]

    client.patch(
        f"/api/v1/tickets/{tid}", json={"status": "closed", "confirm": True}, headers=people.agent.headers
    )
    late = client.post(
        f"/api/v1/tickets/{tid}/messages", json={"body": "one more thing"}, headers=people.customer.headers
    )
    assert late.status_code == 409
    assert late.json()["error"]["code"] == "ticket_closed"
    frozen = client.patch(f"/api/v1/tickets/{tid}", json={"status": "open"}, headers=people.agent.headers)
    assert frozen.status_code == 409


def test_list_filters(client: TestClient, people: Personas) -> None:
    a = new_ticket(client, people.agent, tags=["billing"])
    b = new_ticket(client, people.agent, customer={"email": "tom@example.org"}, channel="chat")
    c = new_ticket(client, people.agent)
    client.patch(
        f"/api/v1/tickets/{b['id']}",
        json={"status": "pending", "assignee_id": people.agent.id},
        headers=people.agent.headers,
    )

    def ids(query: str, who: object = people.agent) -> list[int]:
        response = client.get(f"/api/v1/tickets?{query}", headers=who.headers)  # type: ignore[attr-defined]
        assert response.status_code == 200, response.text
        return [t["id"] for t in response.json()["items"]]

    assert ids("") == [c["id"], b["id"], a["id"]]
    assert ids("status=pending") == [b["id"]]
    assert ids("status=new,pending") == [c["id"], b["id"], a["id"]]
    assert ids("status=new&status=pending") == [c["id"], b["id"], a["id"]]
    assert ids(f"assignee={people.agent.id}") == [b["id"]]
    assert ids("assignee=me") == [b["id"]]
    assert ids("assignee=none") == [c["id"], a["id"]]
    assert ids(f"customer={people.other_customer.id}") == [b["id"]]
    assert ids("tag=BILLING") == [a["id"]]
    assert ids("channel=chat") == [b["id"]]


def test_cursor_pagination_walks_every_ticket_once(client: TestClient, people: Personas) -> None:
    created = [new_ticket(client, people.agent, subject=f"Ticket {i}")["id"] for i in range(7)]
    seen: list[int] = []
    cursor = None
    pages = 0
    while True:
        query = "limit=3" + (f"&cursor={cursor}" if cursor else "")
        page = client.get(f"/api/v1/tickets?{query}", headers=people.agent.headers).json()
        seen.extend(t["id"] for t in page["items"])
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(created, reverse=True)
    assert pages == 3


def test_search_finds_subjects_and_bodies_and_respects_visibility(
    client: TestClient, people: Personas
) -> None:
    printer = new_ticket(client, people.agent, subject="Printer jams on page two", body="It jams every time.")
    refund = new_ticket(
        client, people.agent, subject="Refund", body="My Überweisung for the espresso machine failed"
    )
    client.post(
        f"/api/v1/tickets/{refund['id']}/messages",
        json={"body": "suspected fraudster", "internal": True},
        headers=people.agent.headers,
    )

    def found(q: str, who: object = people.agent) -> list[int]:
        response = client.get("/api/v1/tickets", params={"q": q}, headers=who.headers)  # type: ignore[attr-defined]
        assert response.status_code == 200, response.text
        return [t["id"] for t in response.json()["items"]]

    assert found("printer") == [printer["id"]]
    assert found("PRINTER jams") == [printer["id"]]
    assert found("espresso ueberweisung") == []  # every word must match
    assert found("espresso überweisung") == [refund["id"]]
    assert found("fraudster") == [refund["id"]]
    assert found("fraudster", people.customer) == []  # internal notes are not searchable by customers
    assert found('" OR * NEAR( -') == []  # query syntax is searched for, never interpreted
    assert found("printer", people.other_customer) == []


def test_subject_change_is_searchable(client: TestClient, people: Personas) -> None:
    ticket = new_ticket(client, people.agent, subject="Question")
    client.patch(
        f"/api/v1/tickets/{ticket['id']}",
        json={"subject": "Dishwasher leaking"},
        headers=people.agent.headers,
    )
    response = client.get("/api/v1/tickets", params={"q": "dishwasher"}, headers=people.agent.headers)
    assert [t["id"] for t in response.json()["items"]] == [ticket["id"]]


def test_attachments_round_trip_with_permissions(client: TestClient, people: Personas) -> None:
    content = b"%PDF-1.4 receipt"
    ticket = new_ticket(
        client,
        people.agent,
        attachments=[
            {
                "filename": "receipt.pdf",
                "content_type": "application/pdf",
                "content_base64": base64.b64encode(content).decode(),
            }
        ],
    )
    attachment = ticket["messages"][0]["attachments"][0]
    assert (attachment["filename"], attachment["size"]) == ("receipt.pdf", len(content))
    own = client.get(f"/api/v1/attachments/{attachment['id']}", headers=people.customer.headers)
    assert own.status_code == 200 and own.content == content
    assert own.headers["content-type"] == "application/pdf"
    assert own.headers["content-disposition"] == (
        "attachment; filename=\"receipt.pdf\"; filename*=UTF-8''receipt.pdf"
    )
    other = client.get(f"/api/v1/attachments/{attachment['id']}", headers=people.other_customer.headers)
    assert other.status_code == 404


def test_attachment_names_cannot_inject_headers(client: TestClient, people: Personas) -> None:
    ticket = new_ticket(
        client,
        people.agent,
        attachments=[{"filename": 'Rechnung "März"\r\nX-Evil: 1.pdf', "content_base64": "aGk="}],
    )
    attachment = ticket["messages"][0]["attachments"][0]
    response = client.get(f"/api/v1/attachments/{attachment['id']}", headers=people.agent.headers)
    assert response.status_code == 200
    assert "x-evil" not in response.headers
    assert (
        "filename*=UTF-8''Rechnung%20%22M%C3%A4rz%22%0D%0AX-Evil%3A%201.pdf"
        in response.headers["content-disposition"]
    )


def test_html_bodies_are_sanitised(client: TestClient, people: Personas) -> None:
    ticket = new_ticket(
        client,
        people.agent,
        body_html='<p onclick="x()">Hi<script>alert(1)</script><a href="javascript:evil()">link</a></p>',
    )
    html = ticket["messages"][0]["body_html"]
    assert "script" not in html and "onclick" not in html and "javascript" not in html
    assert "<p>Hi" in html
