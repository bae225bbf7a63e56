"""Customers and their timeline across tickets and channels."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.conftest import Personas, new_ticket


def test_customer_profile_and_update(client: TestClient, people: Personas) -> None:
    response = client.patch(
        f"/api/v1/customers/{people.customer.id}",
        json={"name": "María López", "organisation": "Acme GmbH", "preferences": {"language": "es"}},
        headers=people.agent.headers,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["organisation"]["name"] == "Acme GmbH"
    assert body["preferences"] == {"language": "es"}
    assert (
        client.get(f"/api/v1/customers/{people.customer.id}", headers=people.customer.headers).status_code
        == 200
    )
    assert (
        client.get(
            f"/api/v1/customers/{people.customer.id}", headers=people.other_customer.headers
        ).status_code
        == 404
    )
    assert (
        client.patch(
            f"/api/v1/customers/{people.customer.id}", json={"name": "x"}, headers=people.customer.headers
        ).status_code
        == 403
    )


def test_timeline_spans_tickets_and_channels_newest_first(client: TestClient, people: Personas) -> None:
    email = new_ticket(client, people.agent, channel="email", subject="Double charge")
    chat = new_ticket(
        client,
        people.agent,
        channel="chat",
        subject="Refund not received",
        body="It's been a week, still no refund.",
    )
    client.post(
        f"/api/v1/tickets/{email['id']}/messages", json={"body": "Refund sent."}, headers=people.agent.headers
    )
    client.post(
        f"/api/v1/tickets/{chat['id']}/messages",
        json={"body": "repeat contact", "internal": True},
        headers=people.agent.headers,
    )

    staff = client.get(
        f"/api/v1/customers/{people.customer.id}/timeline", headers=people.agent.headers
    ).json()
    items = staff["items"]
    stamps = [(i["at"]) for i in items]
    assert stamps == sorted(stamps, reverse=True)
    messages = [i for i in items if i["type"] == "message"]
    assert {m["channel"] for m in messages} == {"email", "chat"}
    assert {m["ticket_id"] for m in messages} == {email["id"], chat["id"]}
    assert any(i["type"] == "event" and i["action"] == "ticket.created" for i in items)
    assert any(m["internal"] for m in messages)

    own = client.get(
        f"/api/v1/customers/{people.customer.id}/timeline", headers=people.customer.headers
    ).json()
    assert not any(i.get("internal") for i in own["items"])
    assert not any(i.get("action") == "note.added" for i in own["items"])
    assert all(i["before"] is None and i["after"] is None for i in own["items"])


def test_timeline_pages_cover_everything_exactly_once(client: TestClient, people: Personas) -> None:
    for n in range(4):
        ticket = new_ticket(client, people.agent, subject=f"Issue {n}")
        client.post(
            f"/api/v1/tickets/{ticket['id']}/messages",
            json={"body": f"reply {n}"},
            headers=people.agent.headers,
        )
    everything = client.get(
        f"/api/v1/customers/{people.customer.id}/timeline?limit=200", headers=people.agent.headers
    ).json()
    assert everything["next_cursor"] is None
    paged: list[tuple[str, int]] = []
    cursor = None
    while True:
        url = f"/api/v1/customers/{people.customer.id}/timeline?limit=3" + (
            f"&cursor={cursor}" if cursor else ""
        )
        page = client.get(url, headers=people.agent.headers).json()
        paged.extend((i["type"], i["id"]) for i in page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert paged == [(i["type"], i["id"]) for i in everything["items"]]
    assert len(paged) == len(set(paged)) > 12


def test_a_customers_tier_is_set_by_service_roles_and_validated(client: TestClient, people: Personas) -> None:
    url = f"/api/v1/customers/{people.customer.id}"
    assert client.get(url, headers=people.agent.headers).json()["tier"] == "standard"
    bad = client.patch(url, json={"tier": "Gold Plus!"}, headers=people.agent.headers)
    assert bad.status_code == 422
    assert client.patch(url, json={"tier": "vip"}, headers=people.customer.headers).status_code == 403
    changed = client.patch(url, json={"tier": "vip"}, headers=people.agent.headers)
    assert changed.status_code == 200, changed.text
    assert changed.json()["tier"] == "vip"
    overview = client.get(f"{url}/overview", headers=people.agent.headers).json()
    assert overview["profile"]["tier"] == "vip"
