"""Helpers of the routing tests: teams with members (through the accounts service), availability, skills
and capacity through the API, and reading a ticket's routing."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from ombud.accounts import service as accounts
from ombud.routing.models import AgentStatus, QueuedTicket
from ombud.runtime import Runtime
from tests.conftest import Persona, Personas


def add_members(runtime: Runtime, team_id: int, *user_ids: int) -> None:
    with runtime.database.session() as session:
        team = accounts.access_team(session=session, team_id=team_id)
        for user_id in user_ids:
            accounts.add_to_team(
                session=session, team=team, user=accounts.access_user(session=session, user_id=user_id)
            )
        session.commit()


def new_team(runtime: Runtime, name: str, *user_ids: int) -> int:
    with runtime.database.session() as session:
        team_id = accounts.create_team(session=session, name=name).id
        session.commit()
    add_members(runtime, team_id, *user_ids)
    return team_id


def configure_team(client: TestClient, people: Personas, team_id: int, **settings: Any) -> dict[str, Any]:
    response = client.patch(f"/api/v1/routing/teams/{team_id}", json=settings, headers=people.admin.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def support_team(client: TestClient, runtime: Runtime, people: Personas, **settings: Any) -> int:
    """The cast's team with both agents, taking every ticket no other team takes."""
    add_members(runtime, people.team_id, people.agent.id, people.agent2.id)
    configure_team(client, people, people.team_id, rules={}, **settings)
    return people.team_id


def set_status(client: TestClient, who: Persona, status: str, *, user: int | str = "me", **extra: Any) -> Any:
    response = client.put(
        f"/api/v1/routing/agents/{user}/availability", json={"status": status, **extra}, headers=who.headers
    )
    assert response.status_code == 200, response.text
    return response.json()


def set_capacity(client: TestClient, people: Personas, user_id: int, **capacity: int) -> None:
    response = client.put(
        f"/api/v1/routing/agents/{user_id}/capacity", json={"capacity": capacity}, headers=people.lead.headers
    )
    assert response.status_code == 200, response.text


def set_skills(client: TestClient, people: Personas, user_id: int, *skills: tuple[str, str, int]) -> None:
    response = client.put(
        f"/api/v1/routing/agents/{user_id}/skills",
        json={"skills": [{"kind": k, "value": v, "level": level} for k, v, level in skills]},
        headers=people.lead.headers,
    )
    assert response.status_code == 200, response.text


def ticket(client: TestClient, people: Personas, ticket_id: Any) -> dict[str, Any]:
    response = client.get(f"/api/v1/tickets/{ticket_id}", headers=people.lead.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def decisions(client: TestClient, people: Personas, ticket_id: Any) -> list[dict[str, Any]]:
    response = client.get(f"/api/v1/routing/tickets/{ticket_id}/decisions", headers=people.lead.headers)
    assert response.status_code == 200, response.text
    body: list[dict[str, Any]] = response.json()
    return body


def queue(client: TestClient, people: Personas) -> dict[str, Any]:
    response = client.get("/api/v1/routing/queue", headers=people.lead.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def solve(client: TestClient, who: Persona, ticket_id: Any) -> None:
    response = client.patch(
        f"/api/v1/tickets/{ticket_id}", json={"status": "solved", "confirm": True}, headers=who.headers
    )
    assert response.status_code == 200, response.text


def time_passes(runtime: Runtime, minutes: int) -> None:
    """Move every routing due time ``minutes`` earlier, as if that long had passed; then run the sweep."""
    delta = dt.timedelta(minutes=minutes)
    with runtime.database.session() as session:
        for entry in session.scalars(select(QueuedTicket)).all():
            entry.enqueued_at -= delta
            if entry.overflow_at is not None:
                entry.overflow_at -= delta
            if entry.route_at is not None:
                entry.route_at -= delta
        for status in session.scalars(select(AgentStatus)).all():
            if status.break_until is not None:
                status.break_until -= delta
        session.commit()
    runtime.queue.sweep()
