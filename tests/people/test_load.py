"""Emotional load: hard contacts recorded from the workflow events (once per agent and message), the
formula, and who may see the figures: the agent and a lead who shares a team with them; not another agent,
not an admin who is not their lead, never a partner or a customer. The lead's view of their team."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from ombud.accounts import service as accounts
from ombud.accounts.models import Role
from ombud.people import load
from ombud.people.models import HardContact, HardKind
from ombud.runtime import Runtime
from tests.conftest import Personas
from tests.people.load_helpers import (
    CALM,
    FRUSTRATED,
    HOSTILE,
    assignee,
    hard_ticket,
    load_of,
    steadily,
)
from tests.routing.common import add_members, set_capacity, set_status, support_team
from tests.web.workspace import sign_in

NOW = dt.datetime(2026, 5, 1, 12, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def _steady(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    yield from steadily(runtime, monkeypatch)


def test_the_formula_weighs_kind_and_fades_over_eight_hours() -> None:
    assert load.load_of([(HardKind.hostile, NOW)], NOW) == 25  # 3 of a full 12
    assert load.load_of([(HardKind.frustrated, NOW)], NOW) == 8  # 1 of 12
    assert load.load_of([(HardKind.hostile, NOW - dt.timedelta(hours=4))], NOW) == 12  # half as heavy
    assert load.load_of([(HardKind.hostile, NOW - dt.timedelta(hours=8))], NOW) == 0
    assert load.load_of([(HardKind.hostile, NOW)] * 5, NOW) == 100  # capped
    assert load.kind_of({"abusive": True, "frustration": 0.1}) == HardKind.hostile
    assert load.kind_of({"abusive": False, "frustration": 0.7}) == HardKind.frustrated
    assert load.kind_of({"abusive": False, "frustration": 0.69}) is None


def test_hard_messages_on_assigned_tickets_are_recorded_once_and_follow_a_reassignment(
    runtime: Runtime, client: TestClient, people: Personas
) -> None:
    support_team(client, runtime, people)
    set_status(client, people.agent, "online")
    hostile = hard_ticket(client, people, HOSTILE)
    calm = hard_ticket(client, people, CALM, "Calm")
    assert assignee(client, people, hostile) == people.agent.id
    # The customer writes again, furious, on the calm ticket: one more (frustrated) contact.
    response = client.post(
        f"/api/v1/tickets/{calm}/messages", json={"body": FRUSTRATED}, headers=people.customer.headers
    )
    assert response.status_code == 201, response.text
    figures = load_of(client, people.agent, people.agent.id)
    assert (figures["hostile_recent"], figures["frustrated_recent"]) == (1, 1)
    assert figures["load"] == 33  # (3 + 1) of 12, both fresh

    # Handed to agent2 by a lead: agent2 now has the hostile message to answer too; the agent keeps theirs.
    moved = client.patch(
        f"/api/v1/tickets/{hostile}", json={"assignee_id": people.agent2.id}, headers=people.lead.headers
    )
    assert moved.status_code == 200, moved.text
    assert load_of(client, people.agent2, people.agent2.id)["hostile_recent"] == 1
    assert load_of(client, people.agent2, people.agent2.id)["hostile_in_a_row"] == 1
    # Given back and forth: still one row per agent and message.
    for who in (people.agent.id, people.agent2.id):
        client.patch(f"/api/v1/tickets/{hostile}", json={"assignee_id": who}, headers=people.lead.headers)
    with runtime.database.session(write=False) as session:
        rows = session.scalars(select(HardContact).where(HardContact.ticket_id == hostile)).all()
    assert sorted(r.user_id for r in rows) == sorted([people.agent.id, people.agent2.id])


def test_only_the_agent_and_their_lead_see_the_load(
    runtime: Runtime, client: TestClient, people: Personas
) -> None:
    support_team(client, runtime, people)
    add_members(runtime, people.team_id, people.lead.id)
    set_status(client, people.agent, "online")
    hard_ticket(client, people, HOSTILE)

    assert load_of(client, people.agent, people.agent.id)["load"] == 25
    assert load_of(client, people.lead, people.agent.id)["load"] == 25
    for who in (people.agent2, people.admin, people.advocate):
        refused = client.get(f"/api/v1/people/{people.agent.id}/load", headers=who.headers)
        assert refused.status_code == 403, (who, refused.text)
        assert refused.json()["error"]["code"] == "figures_private"
    # Customers and partners are refused by role, the same for a user who exists and one who does not.
    for who in (people.partner, people.customer):
        for user_id in (people.agent.id, 999_999):
            refused = client.get(f"/api/v1/people/{user_id}/load", headers=who.headers)
            assert refused.status_code == 403 and refused.json()["error"]["code"] == "role_forbidden"
    assert client.get(f"/api/v1/people/{people.agent.id}/load").status_code == 401
    assert client.get("/api/v1/people/99999/load", headers=people.lead.headers).status_code == 404

    # A lead of another team is no lead of theirs.
    with runtime.database.session() as session:
        other = accounts.create_user(
            session=session, email="lead2@desk.test", role=Role.lead, name="Lead Two"
        )
        token = accounts.issue_token(session=session, user_id=other.id)
        session.commit()
    other_lead = {"Authorization": f"Bearer {token}"}
    assert client.get(f"/api/v1/people/{people.agent.id}/load", headers=other_lead).status_code == 403
    # Nor do they see them in the "who is overloaded now" view: it lists only the lead's own teams.
    theirs = client.get("/api/v1/people/team", headers=other_lead)
    assert theirs.status_code == 200 and theirs.json()["members"] == []


def test_the_lead_sees_who_is_overloaded_by_name_with_plain_flags(
    runtime: Runtime, client: TestClient, people: Personas
) -> None:
    support_team(client, runtime, people)
    add_members(runtime, people.team_id, people.lead.id)
    set_status(client, people.agent, "online")
    set_status(client, people.agent2, "away")
    set_capacity(client, people, people.agent.id, email=2)
    for n in range(2):
        hard_ticket(client, people, HOSTILE, f"Parcel {n}")

    team = client.get("/api/v1/people/team", headers=people.lead.headers)
    assert team.status_code == 200, team.text
    members = team.json()["members"]
    assert [m["name"] for m in members] == sorted(m["name"] for m in members)  # by name, never ranked
    agent = next(m for m in members if m["user_id"] == people.agent.id)
    assert "at capacity on email" in agent["flags"]
    assert "2 hostile in a row" in agent["flags"]
    assert agent["standing"]["load"] == 50
    assert agent["channels"] == [{"channel": "email", "active": 2, "capacity": 2}]
    agent2 = next(m for m in members if m["user_id"] == people.agent2.id)
    assert agent2["flags"] == [] and agent2["status"] == "away"

    for who in (people.agent, people.admin, people.partner, people.customer):
        assert client.get("/api/v1/people/team", headers=who.headers).status_code == 403

    sign_in(client, runtime, "lead@desk.test")
    page = client.get("/agent/team")
    assert page.status_code == 200
    assert "2 hostile in a row" in page.text and "at capacity on email" in page.text
    assert page.text.index(">Agent<") < page.text.index(">Agent2<")


def test_an_agent_sees_their_own_figures_and_no_one_elses_page(
    runtime: Runtime, client: TestClient, people: Personas
) -> None:
    support_team(client, runtime, people)
    set_status(client, people.agent, "online")
    hard_ticket(client, people, HOSTILE)
    sign_in(client, runtime, "agent@desk.test")
    page = client.get("/agent/me/load")
    assert page.status_code == 200
    assert "<span data-load>25</span>" in page.text and "<span data-hostile>1</span>" in page.text
    assert client.get("/agent/team").status_code == 403  # the lead's view is for leads
    sign_in(client, runtime, "admin@desk.test")
    assert client.get("/agent/team").status_code == 403
