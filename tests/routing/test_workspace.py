"""The workspace: agents set their availability on the Routing page; leads see every agent's status and
load against capacity, the queues with the oldest wait, and route by hand; the ticket page says why the
ticket went where it went."""

from __future__ import annotations

from fastapi.testclient import TestClient

from ombud.runtime import Runtime
from tests.conftest import Personas, new_ticket
from tests.routing.common import set_capacity, set_status, support_team, ticket
from tests.web.workspace import sign_in


def test_an_agent_sets_their_availability_in_the_workspace(
    runtime: Runtime, client: TestClient, people: Personas
) -> None:
    csrf = sign_in(client, runtime, "agent@desk.test")
    page = client.get("/agent/routing")
    assert page.status_code == 200
    assert "My availability" in page.text and 'data-status="offline"' in page.text
    assert "Queues" not in page.text  # the board is for leads
    assert 'href="/agent/routing"' in client.get("/agent/inbox").text

    refused = client.post("/agent/routing/availability", data={"status": "online"}, follow_redirects=False)
    assert refused.status_code == 403
    saved = client.post(
        "/agent/routing/availability", data={"status": "online", "csrf_token": csrf}, follow_redirects=False
    )
    assert saved.status_code == 303 and saved.headers["location"] == "/agent/routing?notice=saved"
    assert client.get("/api/v1/routing/agents/me", headers=people.agent.headers).json()["status"] == "online"
    assert 'data-status="online"' in client.get("/agent/routing?notice=saved").text

    on_break = client.post(
        "/agent/routing/availability",
        data={"status": "break", "minutes": "15", "csrf_token": csrf},
        follow_redirects=False,
    )
    assert on_break.status_code == 303
    me = client.get("/api/v1/routing/agents/me", headers=people.agent.headers).json()
    assert me["status"] == "break" and me["break_until"] is not None

    # The quick control in every page's header.
    inbox = client.get("/agent/inbox").text
    assert 'id="ws-availability"' in inbox
    client.post("/agent/routing/availability", data={"status": "away", "csrf_token": csrf})
    assert client.get("/api/v1/routing/agents/me", headers=people.agent.headers).json()["status"] == "away"

    bad = client.post(
        "/agent/routing/availability", data={"status": "online", "minutes": "15", "csrf_token": csrf}
    )
    assert bad.status_code == 422
    other = client.post(
        "/agent/routing/availability",
        data={"status": "online", "user_id": str(people.agent2.id), "csrf_token": csrf},
    )
    assert other.status_code == 403


def test_a_lead_sees_agents_and_queues_and_routes_by_hand(
    runtime: Runtime, client: TestClient, people: Personas
) -> None:
    support_team(client, runtime, people)
    set_capacity(client, people, people.agent.id, email=1)
    set_status(client, people.agent, "online")
    busy = new_ticket(client, people.customer, subject="Being handled")
    waiting = new_ticket(client, people.customer, subject="Nobody free for this one")

    csrf = sign_in(client, runtime, "lead@desk.test")
    page = client.get("/agent/routing")
    assert page.status_code == 200
    assert "Queues" in page.text and "Nobody free for this one" in page.text
    assert "nobody is free" in page.text
    row = page.text.split(f'data-agent="{people.agent.id}"')[1].split("</tr>")[0]
    assert "Online" in row and "1 / 1" in row  # email load against capacity

    # The lead puts agent2 online from the board: the waiting ticket goes to them.
    response = client.post(
        "/agent/routing/availability",
        data={"status": "online", "user_id": str(people.agent2.id), "csrf_token": csrf},
        follow_redirects=False,
    )
    assert response.status_code == 303 and response.headers["location"].endswith("notice=saved_other")
    assert ticket(client, people, waiting["id"])["assignee_id"] == people.agent2.id
    assert "No ticket is waiting" in client.get("/agent/routing").text

    # The ticket page's routing panel says why.
    page = client.get(f"/agent/tickets/{waiting['id']}")
    assert page.status_code == 200
    assert 'id="routing-title"' in page.text and "became free" in page.text
    page = client.get(f"/agent/tickets/{busy['id']}")
    assert "best skill match" in page.text and "Agent2: offline" in page.text


def test_route_now_from_the_workspace(runtime: Runtime, client: TestClient, people: Personas) -> None:
    created = new_ticket(client, people.customer)  # no team takes it yet
    support_team(client, runtime, people)
    set_status(client, people.agent, "online")
    csrf = sign_in(client, runtime, "lead@desk.test")
    assert "No team" in client.get("/agent/routing").text
    assert "Route now" in client.get(f"/agent/tickets/{created['id']}").text

    response = client.post(
        f"/agent/routing/tickets/{created['id']}/route", data={"csrf_token": csrf}, follow_redirects=False
    )
    assert response.status_code == 303
    assert ticket(client, people, created["id"])["assignee_id"] == people.agent.id

    agent_csrf = sign_in(client, runtime, "agent@desk.test")
    denied = client.post(f"/agent/routing/tickets/{created['id']}/route", data={"csrf_token": agent_csrf})
    assert denied.status_code == 403
