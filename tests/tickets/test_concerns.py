"""Concerns: triage's concerns become tracked ones (once, however often the event is handed out), agents
add, edit and close them, solving a ticket with an open concern asks for confirmation, and only staff
ever see them."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from ombud.events import service as events
from ombud.events.models import Event
from ombud.runtime import Runtime
from ombud.tickets import concerns
from tests.conftest import Personas, new_ticket
from tests.web.workspace import sign_in

TWO_CONCERNS = "Hi, I was charged twice for my order. Also, the parcel is late and I need it by Friday!"


def _concerns(client: TestClient, people: Personas, ticket_id: Any) -> list[dict[str, Any]]:
    response = client.get(f"/api/v1/tickets/{ticket_id}/concerns", headers=people.agent.headers)
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()
    return found


def _kinds(runtime: Runtime, ticket_id: Any) -> list[str]:
    with runtime.database.session(write=False) as session:
        return [e.kind for e in events.history(session=session, ticket_id=int(ticket_id))]


def test_each_concern_triage_finds_is_tracked_once_and_a_repeat_links_to_it(
    runtime: Runtime, client: TestClient, people: Personas
) -> None:
    ticket = new_ticket(client, people.customer, body=TWO_CONCERNS)
    found = _concerns(client, people, ticket["id"])
    assert [c["intent"] for c in found] == ["charge_dispute", "delivery_late"]
    assert found[1]["text"] == "the parcel is late and I need it by Friday!"
    first_message = ticket["messages"][0]["id"]  # type: ignore[index]
    assert all(c["status"] == "open" and c["source"] == "triage" for c in found)
    assert all(c["message_ids"] == [first_message] for c in found)
    assert _kinds(runtime, ticket["id"]).count("concern.created") == 2

    # The customer asks again about the late parcel: no second concern, one more message on the first.
    again = client.post(
        f"/api/v1/tickets/{ticket['id']}/messages",
        json={"body": "The parcel is late and I need it by Friday!"},
        headers=people.customer.headers,
    )
    assert again.status_code == 201, again.text
    after = _concerns(client, people, ticket["id"])
    late = [c for c in after if c["intent"] == "delivery_late"]
    assert len(late) == 1
    assert late[0]["message_ids"] == [first_message, again.json()["id"]]

    # The consumer is idempotent: handing the same events out again adds nothing.
    with runtime.database.session() as session:
        rows = session.scalars(
            select(Event).where(Event.ticket_id == ticket["id"], Event.kind == "message.triaged")
        ).all()
        for row in rows:
            record = events.EventRecord(
                id=row.id,
                kind=row.kind,
                ticket_id=row.ticket_id,
                customer_id=row.customer_id,
                entity_type=row.entity_type,
                entity_id=row.entity_id,
                actor_type=row.actor_type,
                actor_id=row.actor_id,
                payload=dict(row.payload),
                created_at=row.created_at,
            )
            concerns.track_triaged(session=session, event=record)
        session.commit()
    assert _concerns(client, people, ticket["id"]) == after
    # A resolved concern is done: the same intent raised later is a new concern.
    client.patch(
        f"/api/v1/concerns/{late[0]['id']}", json={"status": "resolved"}, headers=people.agent.headers
    )
    third = client.post(
        f"/api/v1/tickets/{ticket['id']}/messages",
        json={"body": "The parcel is late and I need it by Friday!"},
        headers=people.customer.headers,
    )
    assert third.status_code == 201
    late_now = [c for c in _concerns(client, people, ticket["id"]) if c["intent"] == "delivery_late"]
    assert [c["status"] for c in late_now] == ["resolved", "open"]


def test_agents_add_edit_and_close_concerns_with_events(
    runtime: Runtime, client: TestClient, people: Personas
) -> None:
    ticket = new_ticket(client, people.agent, body="Thanks so much, the team was great!")
    message_id = ticket["messages"][0]["id"]  # type: ignore[index]
    assert _concerns(client, people, ticket["id"]) == []  # praise is not work to track
    added = client.post(
        f"/api/v1/tickets/{ticket['id']}/concerns",
        json={"text": "Send the promised voucher", "intent": "discount_or_price", "message_id": message_id},
        headers=people.agent.headers,
    )
    assert added.status_code == 201, added.text
    concern = added.json()
    assert concern["source"] == "agent" and concern["created_by_id"] == people.agent.id
    assert concern["message_ids"] == [message_id]

    changed = client.patch(
        f"/api/v1/concerns/{concern['id']}",
        json={"status": "in_progress", "owner_id": people.agent2.id, "resolution_ref": "voucher V-19"},
        headers=people.agent.headers,
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["owner_id"] == people.agent2.id and changed.json()["resolved_at"] is None
    done = client.patch(
        f"/api/v1/concerns/{concern['id']}", json={"status": "resolved"}, headers=people.agent.headers
    )
    assert done.json()["status"] == "resolved" and done.json()["resolved_at"] is not None
    # Nothing changed: no event.
    client.patch(
        f"/api/v1/concerns/{concern['id']}", json={"status": "resolved"}, headers=people.agent.headers
    )

    with runtime.database.session(write=False) as session:
        mine = [
            e
            for e in events.history(session=session, ticket_id=int(ticket["id"]))
            if e.kind.startswith("concern.")
        ]
    assert [e.kind for e in mine] == ["concern.created", "concern.updated", "concern.updated"]
    assert mine[1].payload["after"] == {
        "owner_id": people.agent2.id,
        "resolution_ref": "voucher V-19",
        "status": "in_progress",
    }
    assert mine[2].payload["before"] == {"status": "in_progress"}

    bad = [
        ({"text": ""}, 422),
        ({"status": "maybe"}, 422),
        ({"status": None}, 422),
        ({"owner_id": people.partner.id}, 422),  # partners cannot own concerns
        ({"owner_id": 999_999}, 422),
        ({"article_id": 999_999}, 422),
    ]
    for body, status in bad:
        response = client.patch(f"/api/v1/concerns/{concern['id']}", json=body, headers=people.agent.headers)
        assert response.status_code == status, (body, response.text)
    other = new_ticket(client, people.agent, body="Another question entirely")
    wrong_message = client.post(
        f"/api/v1/tickets/{other['id']}/concerns",
        json={"text": "x", "message_id": message_id},
        headers=people.agent.headers,
    )
    assert (
        wrong_message.status_code == 422 and wrong_message.json()["error"]["code"] == "message_not_on_ticket"
    )


def test_solving_with_open_concerns_asks_for_confirmation(
    runtime: Runtime, client: TestClient, people: Personas
) -> None:
    ticket = new_ticket(client, people.customer, body=TWO_CONCERNS)
    refused = client.patch(
        f"/api/v1/tickets/{ticket['id']}", json={"status": "solved"}, headers=people.agent.headers
    )
    assert refused.status_code == 409
    error = refused.json()["error"]
    assert error["code"] == "open_concerns"
    assert [c["intent"] for c in error["details"]["concerns"]] == ["charge_dispute", "delivery_late"]
    assert (
        client.get(f"/api/v1/tickets/{ticket['id']}", headers=people.agent.headers).json()["status"] == "new"
    )

    # Resolve one: the other still blocks a solve (and a close).
    first = _concerns(client, people, ticket["id"])[0]
    client.patch(f"/api/v1/concerns/{first['id']}", json={"status": "resolved"}, headers=people.agent.headers)
    closing = client.patch(
        f"/api/v1/tickets/{ticket['id']}", json={"status": "closed"}, headers=people.agent.headers
    )
    assert closing.status_code == 409 and len(closing.json()["error"]["details"]["concerns"]) == 1
    # Other changes are not blocked.
    assert (
        client.patch(
            f"/api/v1/tickets/{ticket['id']}", json={"status": "pending"}, headers=people.agent.headers
        ).status_code
        == 200
    )

    solved = client.patch(
        f"/api/v1/tickets/{ticket['id']}",
        json={"status": "solved", "confirm": True},
        headers=people.agent.headers,
    )
    assert solved.status_code == 200, solved.text
    assert solved.json()["status"] == "solved"
    # Solved anyway: the open concern stays open, and the event says which were left open.
    left = [c for c in _concerns(client, people, ticket["id"]) if c["status"] == "open"]
    assert [c["intent"] for c in left] == ["delivery_late"]
    with runtime.database.session(write=False) as session:
        noted = events.history(
            session=session, ticket_id=int(ticket["id"]), kinds=["ticket.solved_with_open_concerns"]
        )
        assert [e.payload["after"]["concern_ids"] for e in noted] == [[left[0]["id"]]]

    # With every concern done, no confirmation is needed.
    calm = new_ticket(client, people.customer, body=TWO_CONCERNS)
    for concern in _concerns(client, people, calm["id"]):
        client.patch(
            f"/api/v1/concerns/{concern['id']}", json={"status": "wont_fix"}, headers=people.agent.headers
        )
    ok = client.patch(
        f"/api/v1/tickets/{calm['id']}", json={"status": "solved"}, headers=people.agent.headers
    )
    assert ok.status_code == 200


def test_concerns_are_internal_staff_data(client: TestClient, people: Personas) -> None:
    ticket = new_ticket(client, people.customer, body=TWO_CONCERNS)
    concern = _concerns(client, people, ticket["id"])[0]
    for who in (people.customer, people.partner):
        assert client.get(f"/api/v1/tickets/{ticket['id']}/concerns", headers=who.headers).status_code == 403
        assert client.get(f"/api/v1/concerns/{concern['id']}", headers=who.headers).status_code == 403
        assert (
            client.patch(
                f"/api/v1/concerns/{concern['id']}", json={"status": "resolved"}, headers=who.headers
            ).status_code
            == 403
        )
        assert (
            client.post(
                f"/api/v1/tickets/{ticket['id']}/concerns", json={"text": "x"}, headers=who.headers
            ).status_code
            == 403
        )
    # Advocates read them but leave the changes to the agents.
    assert client.get(f"/api/v1/concerns/{concern['id']}", headers=people.advocate.headers).status_code == 200
    assert (
        client.patch(
            f"/api/v1/concerns/{concern['id']}", json={"status": "resolved"}, headers=people.advocate.headers
        ).status_code
        == 403
    )
    assert client.get("/api/v1/concerns/999999", headers=people.agent.headers).status_code == 404
    # The customer's own view of the ticket says nothing about them.
    mine = client.get(f"/api/v1/tickets/{ticket['id']}", headers=people.customer.headers).json()
    assert "concern" not in str(mine).lower()


def test_workspace_concerns_panel_edits_and_solve_anyway(
    runtime: Runtime, client: TestClient, people: Personas
) -> None:
    ticket = new_ticket(client, people.customer, body=TWO_CONCERNS)
    csrf = sign_in(client, runtime, "agent@desk.test")
    page = client.get(f"/agent/tickets/{ticket['id']}")
    assert page.status_code == 200
    assert 'id="concerns"' in page.text and "2 open" in page.text
    assert "the parcel is late and I need it by Friday!" in page.text
    assert f'action="/agent/tickets/{ticket["id"]}/solve"' in page.text

    # The ordinary status form changes nothing and says why, beside the open concerns and Solve anyway.
    refused = client.post(
        f"/agent/tickets/{ticket['id']}/update", data={"status": "solved", "csrf_token": csrf}
    )
    assert refused.status_code == 200 and "notice=concerns_open" in str(refused.url)
    assert "still has open concerns" in refused.text and "Solve anyway" in refused.text
    still = client.get(f"/api/v1/tickets/{ticket['id']}", headers=people.agent.headers).json()
    assert still["status"] != "solved"
    # A reply with "then solved" is sent all the same; only the solve waits for the concerns.
    replied = client.post(
        f"/agent/tickets/{ticket['id']}/reply",
        data={"body": "Your parcel leaves today.", "kind": "reply", "then": "solved", "csrf_token": csrf},
    )
    assert replied.status_code == 200 and "notice=sent_concerns_open" in str(replied.url)
    after = client.get(f"/api/v1/tickets/{ticket['id']}", headers=people.agent.headers).json()
    assert after["messages"][-1]["body"] == "Your parcel leaves today."
    assert after["status"] != "solved"

    first, second = _concerns(client, people, ticket["id"])
    saved = client.post(
        f"/agent/concerns/{first['id']}",
        data={
            "status": "resolved",
            "owner": str(people.agent.id),
            "resolution_ref": "refund R-88",
            "csrf_token": csrf,
        },
        follow_redirects=False,
    )
    assert saved.status_code == 303 and saved.headers["location"].endswith("#concerns")
    updated = client.get(f"/api/v1/concerns/{first['id']}", headers=people.agent.headers).json()
    assert (updated["status"], updated["owner_id"], updated["resolution_ref"]) == (
        "resolved",
        people.agent.id,
        "refund R-88",
    )
    added = client.post(
        f"/agent/tickets/{ticket['id']}/concerns",
        data={"text": "Check the address on file", "intent": "", "owner": "none", "csrf_token": csrf},
        follow_redirects=False,
    )
    assert added.status_code == 303
    assert len(_concerns(client, people, ticket["id"])) == 3
    forged = client.post(f"/agent/tickets/{ticket['id']}/solve", data={"csrf_token": "forged"})
    assert forged.status_code == 403
    solved = client.post(
        f"/agent/tickets/{ticket['id']}/solve", data={"csrf_token": csrf}, follow_redirects=False
    )
    assert solved.status_code == 303
    assert (
        client.get(f"/api/v1/tickets/{ticket['id']}", headers=people.agent.headers).json()["status"]
        == "solved"
    )
    statuses = {c["id"]: c["status"] for c in _concerns(client, people, ticket["id"])}
    assert statuses[second["id"]] == "open"
    # A solved ticket offers no "solve anyway".
    assert (
        f'action="/agent/tickets/{ticket["id"]}/solve"'
        not in client.get(f"/agent/tickets/{ticket['id']}").text
    )
