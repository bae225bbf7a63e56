"""Who may set and read what: skills and capacity are for leads and admins (an agent reads their own),
availability is the agent's own (a lead may set anyone's), automatic assignment is for admins, the queue
for leads, decisions for staff; and bad input is a 422 that says what to fix, never a 500."""

from __future__ import annotations

import datetime as dt

import pytest
from fastapi.testclient import TestClient

from ombud.runtime import Runtime
from tests.conftest import Persona, Personas, new_ticket
from tests.routing.common import set_status, support_team, time_passes


def _availability(
    client: TestClient, who: Persona, user: int | str, body: dict[str, object]
) -> tuple[int, dict]:
    response = client.put(f"/api/v1/routing/agents/{user}/availability", json=body, headers=who.headers)
    return response.status_code, response.json()


def test_availability_is_the_agents_own_and_a_lead_may_set_anyones(
    runtime: Runtime, client: TestClient, people: Personas
) -> None:
    assert _availability(client, people.agent, "me", {"status": "online"})[0] == 200
    assert _availability(client, people.agent, people.agent.id, {"status": "away"})[1]["status"] == "away"
    status, body = _availability(client, people.agent, people.agent2.id, {"status": "online"})
    assert (status, body["error"]["code"]) == (403, "role_forbidden")
    assert _availability(client, people.lead, people.agent2.id, {"status": "online"})[0] == 200
    assert _availability(client, people.admin, people.agent2.id, {"status": "offline"})[0] == 200
    # Partners and advocates are never routed tickets; customers have no say.
    status, body = _availability(client, people.partner, "me", {"status": "online"})
    assert (status, body["error"]["code"]) == (403, "role_forbidden")
    status, body = _availability(client, people.advocate, "me", {"status": "online"})
    assert (status, body["error"]["code"]) == (422, "not_routable")
    status, body = _availability(client, people.lead, people.partner.id, {"status": "online"})
    assert (status, body["error"]["code"]) == (422, "not_routable")
    assert _availability(client, people.customer, people.agent.id, {"status": "online"})[0] == 403
    status, body = _availability(client, people.lead, 999_999, {"status": "online"})
    assert (status, body["error"]["code"]) == (404, "user_not_found")
    # Recorded in the audit trail.
    with runtime.database.session(write=False) as session:
        from sqlalchemy import select

        from ombud.audit.models import AuditEvent

        actions = session.scalars(
            select(AuditEvent.action).where(
                AuditEvent.entity_type == "user", AuditEvent.entity_id == people.agent2.id
            )
        ).all()
    assert actions.count("routing.availability_changed") == 2


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"status": "online", "until": "2099-01-01T10:00:00Z"}, "until_without_break"),
        ({"status": "break", "until": "2020-01-01T10:00:00Z"}, "break_in_past"),
        ({"status": "break", "until": "2099-01-01T10:00:00Z"}, "break_too_long"),
        ({"status": "lunch"}, None),
        ({"status": "online", "extra": 1}, None),
    ],
)
def test_bad_availability_is_refused_with_a_reason(
    client: TestClient, people: Personas, body: dict[str, object], code: str | None
) -> None:
    status, answer = _availability(client, people.agent, "me", body)
    assert status == 422
    if code is not None:
        assert answer["error"]["code"] == code


def test_a_break_without_a_time_zone_is_refused(client: TestClient, people: Personas) -> None:
    soon = (dt.datetime.now(dt.UTC) + dt.timedelta(minutes=10)).replace(tzinfo=None).isoformat()
    status, answer = _availability(client, people.agent, "me", {"status": "break", "until": soon})
    assert (status, answer["error"]["code"]) == (422, "naive_time")


def test_a_break_ends_by_itself_and_the_agent_gets_the_waiting_tickets(
    runtime: Runtime, client: TestClient, people: Personas
) -> None:
    support_team(client, runtime, people)
    until = (dt.datetime.now(dt.UTC) + dt.timedelta(minutes=15)).isoformat()
    on_break = set_status(client, people.agent, "break", until=until)
    assert on_break["status"] == "break" and on_break["break_until"] is not None
    created = new_ticket(client, people.customer)
    assert (
        client.get(f"/api/v1/tickets/{created['id']}", headers=people.lead.headers).json()["assignee_id"]
        is None
    )

    time_passes(runtime, 10)
    assert client.get("/api/v1/routing/agents/me", headers=people.agent.headers).json()["status"] == "break"

    time_passes(runtime, 6)
    me = client.get("/api/v1/routing/agents/me", headers=people.agent.headers).json()
    assert (me["status"], me["break_until"]) == ("online", None)
    assert client.get(f"/api/v1/tickets/{created['id']}", headers=people.lead.headers).json()[
        "assignee_id"
    ] == (people.agent.id)


def test_skills_and_capacity_are_set_by_leads_and_read_by_the_agent(
    client: TestClient, people: Personas
) -> None:
    skills = {
        "skills": [{"kind": "language", "value": "DE ", "level": 4}, {"kind": "intent", "value": "refund"}]
    }
    denied = client.put(
        f"/api/v1/routing/agents/{people.agent.id}/skills", json=skills, headers=people.agent.headers
    )
    assert (denied.status_code, denied.json()["error"]["code"]) == (403, "role_forbidden")
    saved = client.put(
        f"/api/v1/routing/agents/{people.agent.id}/skills", json=skills, headers=people.lead.headers
    )
    assert saved.status_code == 200, saved.text
    assert saved.json()["skills"] == [
        {"kind": "intent", "value": "refund", "level": 3},
        {"kind": "language", "value": "de", "level": 4},
    ]
    capacity = {"capacity": {"chat": 2}}
    assert (
        client.put(
            f"/api/v1/routing/agents/{people.agent.id}/capacity", json=capacity, headers=people.agent.headers
        ).status_code
        == 403
    )
    assert (
        client.put(
            f"/api/v1/routing/agents/{people.agent.id}/capacity", json=capacity, headers=people.admin.headers
        ).status_code
        == 200
    )

    mine = client.get("/api/v1/routing/agents/me", headers=people.agent.headers)
    assert mine.status_code == 200
    assert mine.json()["capacity"]["chat"] == 2 and len(mine.json()["skills"]) == 2
    assert (
        client.get(f"/api/v1/routing/agents/{people.agent2.id}", headers=people.agent.headers).status_code
        == 403
    )
    assert client.get("/api/v1/routing/agents", headers=people.agent.headers).status_code == 403
    listed = client.get("/api/v1/routing/agents", headers=people.lead.headers)
    assert {a["user_id"] for a in listed.json()} >= {people.agent.id, people.agent2.id, people.lead.id}
    assert people.partner.id not in {a["user_id"] for a in listed.json()}
    assert client.get("/api/v1/routing/agents/me", headers=people.customer.headers).status_code == 422

    for bad in (
        {"skills": [{"kind": "mood", "value": "x"}]},
        {"skills": [{"kind": "intent", "value": "refund", "level": 9}]},
        {"skills": [{"kind": "intent", "value": ""}]},
    ):
        response = client.put(
            f"/api/v1/routing/agents/{people.agent.id}/skills", json=bad, headers=people.lead.headers
        )
        assert response.status_code == 422, bad
    response = client.put(
        f"/api/v1/routing/agents/{people.agent.id}/capacity",
        json={"capacity": {"fax": 1}},
        headers=people.lead.headers,
    )
    assert response.status_code == 422
    response = client.get("/api/v1/routing/agents/someone", headers=people.lead.headers)
    assert (response.status_code, response.json()["error"]["code"]) == (422, "invalid_user")


def test_team_routing_is_for_leads_and_automatic_assignment_for_admins(
    runtime: Runtime, client: TestClient, people: Personas
) -> None:
    url = f"/api/v1/routing/teams/{people.team_id}"
    assert client.patch(url, json={"rules": {}}, headers=people.agent.headers).status_code == 403
    response = client.patch(url, json={"auto_assign": False}, headers=people.lead.headers)
    assert (response.status_code, response.json()["error"]["code"]) == (403, "admin_only")
    response = client.patch(
        url, json={"rules": {"channels": ["chat"], "languages": ["EN"]}}, headers=people.lead.headers
    )
    assert response.status_code == 200, response.text
    assert response.json()["rules"]["languages"] == ["en"] and response.json()["takes_new_tickets"] is True
    assert (
        client.patch(url, json={"auto_assign": False}, headers=people.admin.headers).json()["auto_assign"]
        is False
    )

    response = client.patch(
        url,
        json={"overflow_team_id": people.team_id, "overflow_after_minutes": 5},
        headers=people.lead.headers,
    )
    assert (response.status_code, response.json()["error"]["code"]) == (422, "overflow_to_itself")
    response = client.patch(url, json={"overflow_after_minutes": 5}, headers=people.lead.headers)
    assert (response.status_code, response.json()["error"]["code"]) == (422, "overflow_incomplete")
    response = client.patch(
        url, json={"overflow_team_id": 999_999, "overflow_after_minutes": 5}, headers=people.lead.headers
    )
    assert (response.status_code, response.json()["error"]["code"]) == (422, "unknown_team")
    response = client.patch(url, json={"rules": {"channels": ["fax"]}}, headers=people.lead.headers)
    assert response.status_code == 422
    assert (
        client.patch("/api/v1/routing/teams/999999", json={}, headers=people.lead.headers).status_code == 422
    )

    teams = client.get("/api/v1/routing/teams", headers=people.agent.headers)
    assert teams.status_code == 200 and teams.json()[0]["configured"] is True
    assert client.get("/api/v1/routing/teams", headers=people.customer.headers).status_code == 403
    assert client.get("/api/v1/routing/teams", headers=people.partner.headers).status_code == 403


def test_the_queue_is_for_leads_and_decisions_for_staff(
    runtime: Runtime, client: TestClient, people: Personas
) -> None:
    created = new_ticket(client, people.customer)
    for who in (people.agent, people.advocate, people.partner, people.customer):
        assert client.get("/api/v1/routing/queue", headers=who.headers).status_code == 403
    assert client.get("/api/v1/routing/queue", headers=people.admin.headers).status_code == 200
    url = f"/api/v1/routing/tickets/{created['id']}/decisions"
    assert client.get(url, headers=people.agent.headers).status_code == 200
    assert client.get(url, headers=people.customer.headers).status_code == 403
    assert client.get(url, headers=people.partner.headers).status_code == 403
    assert (
        client.get("/api/v1/routing/tickets/999999/decisions", headers=people.agent.headers).status_code
        == 404
    )
    route = f"/api/v1/routing/tickets/{created['id']}/route"
    assert client.post(route, headers=people.agent.headers).status_code == 403
    assert client.post(route, headers=people.lead.headers).status_code == 200
