"""Merging tickets and undoing it exactly, merging another customer's duplicate, and splitting a message
or a concern off into a new linked ticket; through the API and the workspace."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from ombud.events import service as events
from ombud.runtime import Runtime
from tests.conftest import Personas, new_ticket
from tests.web.workspace import sign_in

TWO_CONCERNS = "Hi, I was charged twice for my order. Also, the parcel is late and I need it by Friday!"


def _get(client: TestClient, who: Any, ticket_id: Any) -> dict[str, Any]:
    response = client.get(f"/api/v1/tickets/{ticket_id}", headers=who.headers)
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


def _concern_ids(client: TestClient, people: Personas, ticket_id: Any) -> list[int]:
    response = client.get(f"/api/v1/tickets/{ticket_id}/concerns", headers=people.agent.headers)
    return [c["id"] for c in response.json()]


def _links(client: TestClient, people: Personas, ticket_id: Any) -> list[tuple[str, int]]:
    response = client.get(f"/api/v1/tickets/{ticket_id}/links", headers=people.agent.headers)
    assert response.status_code == 200, response.text
    return [(link["label"], link["ticket_id"]) for link in response.json()]


def _state(client: TestClient, people: Personas, ticket_id: Any) -> dict[str, Any]:
    ticket = _get(client, people.agent, ticket_id)
    return {
        "status": ticket["status"],
        "resolved_at": ticket["resolved_at"],
        "tags": ticket["tags"],
        "messages": [m["id"] for m in ticket["messages"]],
        "concerns": _concern_ids(client, people, ticket_id),
        "links": _links(client, people, ticket_id),
    }


def test_merge_moves_everything_and_undo_restores_it_exactly(
    runtime: Runtime, client: TestClient, people: Personas
) -> None:
    target = new_ticket(client, people.customer, tags=["billing"])
    source = new_ticket(client, people.customer, body=TWO_CONCERNS, tags=["billing", "shipping"])
    client.patch(f"/api/v1/tickets/{source['id']}", json={"status": "pending"}, headers=people.agent.headers)
    note = client.post(
        f"/api/v1/tickets/{source['id']}/messages",
        json={"body": "Checked with the carrier.", "internal": True},
        headers=people.agent.headers,
    )
    assert note.status_code == 201
    before_target, before_source = _state(client, people, target["id"]), _state(client, people, source["id"])
    assert before_source["concerns"] and before_source["status"] == "pending"

    merged = client.post(
        f"/api/v1/tickets/{source['id']}/merge",
        json={"target_id": target["id"]},
        headers=people.agent.headers,
    )
    assert merged.status_code == 201, merged.text
    record = merged.json()
    assert record["same_customer"] is True
    assert (
        record["moved_messages"] == 2
        and record["moved_concerns"] == 2
        and record["added_tags"] == ["shipping"]
    )

    after_target, after_source = _state(client, people, target["id"]), _state(client, people, source["id"])
    assert after_target["messages"] == sorted(before_target["messages"] + before_source["messages"])
    assert after_target["concerns"] == before_target["concerns"] + before_source["concerns"]
    assert after_target["tags"] == ["billing", "shipping"]
    assert after_target["links"] == [("Merged from", source["id"])]
    assert after_source["status"] == "closed" and after_source["messages"] == []
    assert after_source["links"] == [("Merged into", target["id"])]
    # The customer reads the whole conversation on the target (never the internal note).
    seen = _get(client, people.customer, target["id"])
    assert len(seen["messages"]) == 2 and all(not m["internal"] for m in seen["messages"])
    # Search follows the messages to the target.
    found = client.get("/api/v1/tickets", params={"q": "parcel"}, headers=people.agent.headers).json()
    assert [t["id"] for t in found["items"]] == [target["id"]]

    # Work done on the target after the merge stays with the target.
    later = client.post(
        f"/api/v1/tickets/{target['id']}/messages",
        json={"body": "Both charges are being looked at.", "internal": True},
        headers=people.agent.headers,
    )
    assert later.status_code == 201

    undone = client.post(f"/api/v1/ticket-merges/{record['id']}/undo", headers=people.agent.headers)
    assert undone.status_code == 200, undone.text
    assert undone.json()["undone_at"] is not None and undone.json()["undone_by_id"] == people.agent.id
    assert _state(client, people, source["id"]) == before_source
    restored_target = _state(client, people, target["id"])
    assert restored_target == {**before_target, "messages": before_target["messages"] + [later.json()["id"]]}
    found = client.get("/api/v1/tickets", params={"q": "parcel"}, headers=people.agent.headers).json()
    assert [t["id"] for t in found["items"]] == [source["id"]]

    again = client.post(f"/api/v1/ticket-merges/{record['id']}/undo", headers=people.agent.headers)
    assert again.status_code == 409 and again.json()["error"]["code"] == "merge_undone"
    with runtime.database.session(write=False) as session:
        kinds = [e.kind for e in events.history(session=session, ticket_id=int(source["id"]))]
    assert kinds.index("ticket.merged") < kinds.index("ticket.merge_undone")
    assert kinds.count("ticket.updated") >= 3  # pending, then closed by the merge, then pending again


def test_merging_another_customers_duplicate_keeps_each_conversation_private(
    client: TestClient, people: Personas
) -> None:
    target = new_ticket(client, people.customer, body="The checkout page shows an error when I pay.")
    duplicate = new_ticket(
        client,
        people.agent,
        customer={"email": "tom@example.org"},
        body="Your payment page gives me an error, my card is fine.",
    )
    merged = client.post(
        f"/api/v1/tickets/{duplicate['id']}/merge",
        json={"target_id": target["id"]},
        headers=people.agent.headers,
    )
    assert merged.status_code == 201, merged.text
    assert merged.json()["same_customer"] is False and merged.json()["moved_messages"] == 0
    # Each customer reads only their own words; staff follow the link.
    maria = _get(client, people.customer, target["id"])
    assert [m["body"] for m in maria["messages"]] == ["The checkout page shows an error when I pay."]
    tom = _get(client, people.other_customer, duplicate["id"])
    assert tom["status"] == "closed" and len(tom["messages"]) == 1
    assert (
        client.get(f"/api/v1/tickets/{duplicate['id']}", headers=people.customer.headers).status_code == 404
    )
    assert _links(client, people, target["id"]) == [("Merged from", duplicate["id"])]


def test_merge_refuses_what_makes_no_sense(client: TestClient, people: Personas) -> None:
    one, two = new_ticket(client, people.customer), new_ticket(client, people.customer)
    cases = [
        (one["id"], {"target_id": one["id"]}, people.agent, 422, "merge_same_ticket"),
        (one["id"], {"target_id": 999_999}, people.agent, 422, "merge_target_not_found"),
        (one["id"], {"target_id": two["id"]}, people.customer, 403, "role_forbidden"),
        (one["id"], {"target_id": two["id"]}, people.partner, 403, "role_forbidden"),
        (one["id"], {"target_id": two["id"]}, people.advocate, 403, "role_forbidden"),
    ]
    for source, body, who, status, code in cases:
        response = client.post(f"/api/v1/tickets/{source}/merge", json=body, headers=who.headers)
        assert (response.status_code, response.json()["error"]["code"]) == (status, code), body
    done = client.post(
        f"/api/v1/tickets/{one['id']}/merge", json={"target_id": two["id"]}, headers=people.lead.headers
    )
    assert done.status_code == 201
    # The source is closed now: it can be neither merged again nor merged into.
    for source, target in ((one["id"], two["id"]), (two["id"], one["id"])):
        response = client.post(
            f"/api/v1/tickets/{source}/merge", json={"target_id": target}, headers=people.agent.headers
        )
        assert response.status_code == 409 and response.json()["error"]["code"] == "ticket_closed"
    assert (
        client.get(f"/api/v1/tickets/{one['id']}/merges", headers=people.customer.headers).status_code == 403
    )
    listed = client.get(f"/api/v1/tickets/{two['id']}/merges", headers=people.agent.headers).json()
    assert [(m["source_id"], m["target_id"]) for m in listed] == [(one["id"], two["id"])]
    # A merged ticket's link goes with the merge: it cannot be removed by hand.
    link = client.get(f"/api/v1/tickets/{two['id']}/links", headers=people.agent.headers).json()[0]
    removed = client.delete(f"/api/v1/tickets/{two['id']}/links/{link['id']}", headers=people.agent.headers)
    assert removed.status_code == 409 and removed.json()["error"]["code"] == "link_managed"
    # Undo is refused while the target has since been merged elsewhere.
    three = new_ticket(client, people.customer)
    client.post(
        f"/api/v1/tickets/{two['id']}/merge", json={"target_id": three["id"]}, headers=people.agent.headers
    )
    first = listed[0]["id"]
    blocked = client.post(f"/api/v1/ticket-merges/{first}/undo", headers=people.agent.headers)
    assert blocked.status_code == 409 and blocked.json()["error"]["code"] == "target_merged"


def test_split_a_message_into_a_new_linked_ticket(client: TestClient, people: Personas) -> None:
    ticket = new_ticket(client, people.customer, tags=["billing"], priority="high")
    second = client.post(
        f"/api/v1/tickets/{ticket['id']}/messages",
        json={"body": "The parcel is late and I need it by Friday!"},
        headers=people.customer.headers,
    ).json()
    moved_concerns = [
        c["id"]
        for c in client.get(f"/api/v1/tickets/{ticket['id']}/concerns", headers=people.agent.headers).json()
        if second["id"] in c["message_ids"]
    ]
    assert moved_concerns
    split = client.post(
        f"/api/v1/tickets/{ticket['id']}/split",
        json={"message_id": second["id"]},
        headers=people.agent.headers,
    )
    assert split.status_code == 201, split.text
    new = split.json()
    assert new["customer_id"] == people.customer.id and new["priority"] == "high" and new["status"] == "open"
    assert new["subject"] == "The parcel is late and I need it by Friday!"
    assert [m["id"] for m in _get(client, people.customer, new["id"])["messages"]] == [second["id"]]
    assert second["id"] not in [m["id"] for m in _get(client, people.agent, ticket["id"])["messages"]]
    assert _concern_ids(client, people, new["id"]) == moved_concerns
    assert _links(client, people, new["id"]) == [("Split from", ticket["id"])]
    assert _links(client, people, ticket["id"]) == [("Split into", new["id"])]

    # The ticket's only message cannot go: nothing would be left.
    only = _get(client, people.agent, ticket["id"])["messages"]
    refused = client.post(
        f"/api/v1/tickets/{ticket['id']}/split",
        json={"message_id": only[0]["id"]},
        headers=people.agent.headers,
    )
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "split_only_message"
    for body, code in (
        ({}, "split_what"),
        ({"message_id": 1, "concern_id": 1}, "split_what"),
        ({"message_id": 999_999}, "message_not_on_ticket"),
        ({"concern_id": 999_999}, "concern_not_on_ticket"),
    ):
        response = client.post(
            f"/api/v1/tickets/{ticket['id']}/split", json=body, headers=people.agent.headers
        )
        assert response.status_code == 422 and response.json()["error"]["code"] == code, body
    denied = client.post(
        f"/api/v1/tickets/{ticket['id']}/split",
        json={"message_id": second["id"]},
        headers=people.customer.headers,
    )
    assert denied.status_code == 403


def test_split_a_concern_opens_a_ticket_in_the_customers_words(
    runtime: Runtime, client: TestClient, people: Personas
) -> None:
    ticket = new_ticket(client, people.customer, body=TWO_CONCERNS)
    concerns = client.get(f"/api/v1/tickets/{ticket['id']}/concerns", headers=people.agent.headers).json()
    late = next(c for c in concerns if c["intent"] == "delivery_late")
    split = client.post(
        f"/api/v1/tickets/{ticket['id']}/split",
        json={"concern_id": late["id"], "subject": "Late parcel"},
        headers=people.agent.headers,
    )
    assert split.status_code == 201, split.text
    new = split.json()
    assert new["subject"] == "Late parcel" and new["status"] == "open"
    # The customer's message the concern came from is quoted, word for word (it stays on the old ticket
    # too: it raised the other concern as well).
    messages = _get(client, people.customer, new["id"])["messages"]
    assert [(m["author_type"], m["body"]) for m in messages] == [("customer", TWO_CONCERNS)]
    assert TWO_CONCERNS in [m["body"] for m in _get(client, people.customer, ticket["id"])["messages"]]
    # The concern moved (not copied): the new ticket's message is not triaged into a second one.
    assert _concern_ids(client, people, new["id"]) == [late["id"]]
    assert late["id"] not in _concern_ids(client, people, ticket["id"])
    with runtime.database.session(write=False) as session:
        kinds = [e.kind for e in events.history(session=session, ticket_id=int(new["id"]))]
    assert kinds[0] == "ticket.created" and "ticket.split" in kinds


def test_split_a_staff_written_concern_puts_no_words_in_the_customers_mouth(
    client: TestClient, people: Personas
) -> None:
    ticket = new_ticket(client, people.customer)
    waiver = "I agree to waive my refund, thanks"
    made = client.post(
        f"/api/v1/tickets/{ticket['id']}/concerns", json={"text": waiver}, headers=people.agent.headers
    )
    assert made.status_code == 201, made.text
    split = client.post(
        f"/api/v1/tickets/{ticket['id']}/split",
        json={"concern_id": made.json()["id"]},
        headers=people.agent.headers,
    )
    assert split.status_code == 201, split.text
    new = split.json()
    assert new["status"] == "open" and new["customer_id"] == people.customer.id
    # The customer sees no message of theirs (no message at all) on the new ticket.
    seen = _get(client, people.customer, new["id"])["messages"]
    assert seen == []
    # Staff see the concern's text as an internal note that names the source ticket.
    staff = _get(client, people.agent, new["id"])["messages"]
    assert [(m["author_type"], m["internal"]) for m in staff] == [("system", True)]
    assert waiver in staff[0]["body"] and f"#{ticket['id']}" in staff[0]["body"]
    assert not any(
        m["author_type"] == "customer" and waiver in m["body"]
        for t in client.get("/api/v1/tickets", headers=people.customer.headers).json()["items"]
        for m in _get(client, people.customer, t["id"])["messages"]
    )
    assert _concern_ids(client, people, new["id"]) == [made.json()["id"]]


def test_workspace_merge_undo_and_split(runtime: Runtime, client: TestClient, people: Personas) -> None:
    target = new_ticket(client, people.customer)
    source = new_ticket(client, people.customer, body=TWO_CONCERNS)
    csrf = sign_in(client, runtime, "agent@desk.test")
    page = client.get(f"/agent/tickets/{source['id']}")
    assert f'action="/agent/tickets/{source["id"]}/merge"' in page.text
    assert f'action="/agent/tickets/{source["id"]}/split"' in page.text
    merged = client.post(
        f"/agent/tickets/{source['id']}/merge",
        data={"target": f"#{target['id']}", "csrf_token": csrf},
        follow_redirects=False,
    )
    assert merged.status_code == 303 and merged.headers["location"] == f"/agent/tickets/{target['id']}#links"
    target_page = client.get(f"/agent/tickets/{target['id']}").text
    assert f'Merged from <a href="/agent/tickets/{source["id"]}">' in target_page
    merge_id = client.get(f"/api/v1/tickets/{target['id']}/merges", headers=people.agent.headers).json()[0][
        "id"
    ]
    assert f'action="/agent/merges/{merge_id}/undo"' in target_page
    undone = client.post(f"/agent/merges/{merge_id}/undo", data={"csrf_token": csrf}, follow_redirects=False)
    assert undone.status_code == 303
    assert _get(client, people.agent, source["id"])["status"] == "new"

    late = next(
        c
        for c in client.get(f"/api/v1/tickets/{source['id']}/concerns", headers=people.agent.headers).json()
        if c["intent"] == "delivery_late"
    )
    split = client.post(
        f"/agent/tickets/{source['id']}/split",
        data={"what": f"concern:{late['id']}", "subject": "", "csrf_token": csrf},
        follow_redirects=False,
    )
    assert split.status_code == 303
    new_id = int(split.headers["location"].rsplit("/", 1)[1])
    assert _concern_ids(client, people, new_id) == [late["id"]]
    bad = client.post(f"/agent/tickets/{source['id']}/split", data={"what": "ticket:1", "csrf_token": csrf})
    assert bad.status_code == 422
