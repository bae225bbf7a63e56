"""Ticket ratings: only the ticket's customer, only after a reply, replaced when rated again."""

from __future__ import annotations

from fastapi.testclient import TestClient

from ombud.runtime import Runtime
from ombud.tickets import ratings
from tests.conftest import Personas, new_ticket
from tests.customers.helpers import reply


def test_customer_rates_and_rating_again_replaces(
    client: TestClient, people: Personas, runtime: Runtime
) -> None:
    ticket = new_ticket(client, people.agent)
    reply(client, people.agent, int(ticket["id"]))
    first = client.put(
        f"/api/v1/tickets/{ticket['id']}/rating",
        json={"score": 2, "comment": "slow"},
        headers=people.customer.headers,
    )
    assert first.status_code == 200, first.text
    assert first.json()["score"] == 2
    second = client.put(
        f"/api/v1/tickets/{ticket['id']}/rating",
        json={"score": 5, "comment": " sorted now "},
        headers=people.customer.headers,
    )
    assert second.status_code == 200
    assert (second.json()["score"], second.json()["comment"]) == (5, "sorted now")
    for who in (people.customer, people.agent, people.advocate):
        shown = client.get(f"/api/v1/tickets/{ticket['id']}/rating", headers=who.headers)
        assert shown.status_code == 200
        assert shown.json()["score"] == 5
    with runtime.database.session(write=False) as session:
        history = ratings.satisfaction_history(session=session, customer_id=people.customer.id)
    assert history.count == 1  # replaced, not added
    assert history.average == 5.0
    assert history.ratings[0].subject == ticket["subject"]
    events = client.get(f"/api/v1/tickets/{ticket['id']}/events", headers=people.agent.headers).json()
    rated = [e for e in events if e["action"] == "ticket.rated"]
    assert [e["after"]["score"] for e in rated] == [2, 5]
    assert rated[1]["before"] == {"score": 2, "comment": "slow"}


def test_nothing_to_rate_before_a_public_reply(client: TestClient, people: Personas) -> None:
    ticket = new_ticket(client, people.agent)
    reply(client, people.agent, int(ticket["id"]), internal=True)  # a note is not an answer
    response = client.put(
        f"/api/v1/tickets/{ticket['id']}/rating", json={"score": 4}, headers=people.customer.headers
    )
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "nothing_to_rate"
    missing = client.get(f"/api/v1/tickets/{ticket['id']}/rating", headers=people.customer.headers)
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "rating_not_found"


def test_rating_validation(client: TestClient, people: Personas) -> None:
    ticket = new_ticket(client, people.agent)
    reply(client, people.agent, int(ticket["id"]))
    url = f"/api/v1/tickets/{ticket['id']}/rating"
    for body in ({"score": 0}, {"score": 6}, {"score": -3}, {"score": 3, "comment": "x" * 2001}):
        response = client.put(url, json=body, headers=people.customer.headers)
        assert response.status_code == 422, body
        assert response.json()["error"]["code"] == "invalid_rating", body
    for body in ({"score": "great"}, {}, {"score": 3, "stars": 3}):
        response = client.put(url, json=body, headers=people.customer.headers)
        assert response.status_code == 422, body
        assert response.json()["error"]["code"] == "invalid_input", body


def test_only_the_tickets_customer_rates_or_reads_it(client: TestClient, people: Personas) -> None:
    ticket = new_ticket(client, people.agent)
    reply(client, people.agent, int(ticket["id"]))
    url = f"/api/v1/tickets/{ticket['id']}/rating"
    assert client.put(url, json={"score": 4}, headers=people.customer.headers).status_code == 200
    for who in (people.agent, people.admin, people.lead):
        staff = client.put(url, json={"score": 1}, headers=who.headers)
        assert staff.status_code == 403
        assert staff.json()["error"]["code"] == "role_forbidden"
    for method in ("put", "get"):
        other = client.request(method, url, json={"score": 1}, headers=people.other_customer.headers)
        assert other.status_code == 404
        assert other.json()["error"]["code"] == "ticket_not_found"
    missing = client.put("/api/v1/tickets/999999/rating", json={"score": 4}, headers=people.customer.headers)
    assert missing.json()["error"]["code"] == "ticket_not_found"
    assert client.get(url, headers=people.customer.headers).json()["score"] == 4
