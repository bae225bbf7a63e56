"""Recovery breaks after an abusive conversation: offered (a banner to take or decline) or, by team policy,
started by itself; nothing is routed to an agent on a break and the break sweep brings them back online;
offers expire after 30 minutes; the policy is edited by admins and the team's leads only."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from ombud.audit.models import AuditEvent
from ombud.people.models import RecoveryBreak
from ombud.runtime import Runtime
from tests.conftest import Personas
from tests.people.load_helpers import (
    CALM,
    HOSTILE,
    assignee,
    hard_ticket,
    reply,
    set_policy,
    steadily,
)
from tests.routing.common import add_members, set_status, solve, support_team, time_passes
from tests.web.workspace import form_csrf, sign_in


@pytest.fixture(autouse=True)
def _steady(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    yield from steadily(runtime, monkeypatch)


def _breaks(client: TestClient, people: Personas) -> list[dict[str, object]]:
    response = client.get("/api/v1/people/me/breaks", headers=people.agent.headers)
    assert response.status_code == 200, response.text
    body: list[dict[str, object]] = response.json()
    return body


def _status(client: TestClient, people: Personas) -> str:
    return str(client.get("/api/v1/routing/agents/me", headers=people.agent.headers).json()["status"])


def test_schedule_mode_starts_the_break_and_routing_skips_the_agent_until_it_ends(
    runtime: Runtime, client: TestClient, people: Personas
) -> None:
    team_id = support_team(client, runtime, people)
    set_policy(client, people.admin, team_id, recovery_mode="schedule", recovery_minutes=15)
    set_status(client, people.agent, "online")
    hostile = hard_ticket(client, people, HOSTILE)
    assert assignee(client, people, hostile) == people.agent.id
    assert _status(client, people) == "online"  # not before they answered it

    reply(client, people.agent, hostile)

    assert _status(client, people) == "break"
    [scheduled] = _breaks(client, people)
    assert (scheduled["state"], scheduled["minutes"], scheduled["ticket_id"]) == ("scheduled", 15, hostile)
    with runtime.database.session(write=False) as session:
        scheduled_rows = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "people.break_scheduled")
        ).all()
    assert [(r.entity_id, r.actor_type) for r in scheduled_rows] == [(people.agent.id, "system")]
    # Answering again (or solving) offers nothing more for the same ticket.
    reply(client, people.agent, hostile, "One more thing.")
    solve(client, people.agent, hostile)
    assert len(_breaks(client, people)) == 1

    # During the break nothing is routed to the agent: the next ticket waits.
    waiting = hard_ticket(client, people, CALM, "Calm question")
    assert assignee(client, people, waiting) is None
    time_passes(runtime, 10)
    assert _status(client, people) == "break" and assignee(client, people, waiting) is None
    time_passes(runtime, 6)
    assert _status(client, people) == "online"
    assert assignee(client, people, waiting) == people.agent.id


def test_schedule_mode_offers_instead_when_the_agent_is_not_online(
    runtime: Runtime, client: TestClient, people: Personas
) -> None:
    team_id = support_team(client, runtime, people)
    set_policy(client, people.admin, team_id, recovery_mode="schedule")
    set_status(client, people.agent, "online")
    hostile = hard_ticket(client, people, HOSTILE)
    set_status(client, people.agent, "away")
    solve(client, people.agent, hostile)
    assert _status(client, people) == "away"  # a sweep at the break's end would put them online
    assert [b["state"] for b in _breaks(client, people)] == ["offered"]


def test_offer_mode_shows_a_banner_to_take_or_decline(
    runtime: Runtime, client: TestClient, people: Personas
) -> None:
    support_team(client, runtime, people)  # no policy: the default offers a 10-minute break
    set_status(client, people.agent, "online")
    first = hard_ticket(client, people, HOSTILE)
    calm = hard_ticket(client, people, CALM, "Calm")
    reply(client, people.agent, calm)  # a calm conversation offers nothing
    assert _breaks(client, people) == []
    reply(client, people.agent, first)
    [offer] = _breaks(client, people)
    assert (offer["state"], offer["minutes"]) == ("offered", 10)
    assert _status(client, people) == "online"  # an offer changes nothing by itself

    csrf = sign_in(client, runtime, "agent@desk.test")
    ticket_page = client.get(f"/agent/tickets/{first}")
    assert "Take a 10-minute break" in ticket_page.text and "Not now" in ticket_page.text
    assert 'data-src="/agent/me/breaks/banner"' in client.get("/agent/inbox").text
    banner = client.get("/agent/me/breaks/banner")
    assert "Take a 10-minute break" in banner.text
    # Another agent sees no banner of the agent's, and cannot answer their offer.
    assert (
        client.post(f"/api/v1/people/me/breaks/{offer['id']}/take", headers=people.agent2.headers).status_code
        == 404
    )

    taken = client.post(
        f"/agent/me/breaks/{offer['id']}/take",
        data={"csrf_token": csrf, "back": "/agent/inbox"},
        follow_redirects=False,
    )
    assert taken.status_code == 303 and taken.headers["location"] == "/agent/inbox"
    assert _status(client, people) == "break"
    assert [b["state"] for b in _breaks(client, people)] == ["taken"]
    assert "Take a 10-minute break" not in client.get("/agent/me/breaks/banner").text
    again = client.post(f"/api/v1/people/me/breaks/{offer['id']}/take", headers=people.agent.headers)
    assert again.status_code == 409 and again.json()["error"]["code"] == "break_answered"

    # Back online after the break; the next abusive conversation is offered again, and declined.
    time_passes(runtime, 11)
    assert _status(client, people) == "online"
    second = hard_ticket(client, people, HOSTILE, "Parcel again")
    assert assignee(client, people, second) == people.agent.id
    solve(client, people.agent, second)
    offer2 = _breaks(client, people)[0]
    assert offer2["state"] == "offered" and offer2["ticket_id"] == second
    page = client.get(f"/agent/tickets/{second}")
    declined = client.post(
        f"/agent/me/breaks/{offer2['id']}/decline",
        data={"csrf_token": form_csrf(page.text), "back": f"/agent/tickets/{second}"},
        follow_redirects=False,
    )
    assert declined.status_code == 303
    assert _breaks(client, people)[0]["state"] == "declined"
    assert _status(client, people) == "online"


def test_an_unanswered_offer_expires_after_30_minutes(
    runtime: Runtime, client: TestClient, people: Personas
) -> None:
    support_team(client, runtime, people)
    set_status(client, people.agent, "online")
    hostile = hard_ticket(client, people, HOSTILE)
    reply(client, people.agent, hostile)
    [offer] = _breaks(client, people)
    with runtime.database.session() as session:
        row = session.scalars(select(RecoveryBreak)).one()
        row.created_at -= dt.timedelta(minutes=31)
        session.commit()
    assert runtime.queue.sweep()["people.expire_break_offer"] == 1
    assert _breaks(client, people)[0]["state"] == "expired"
    late = client.post(f"/api/v1/people/me/breaks/{offer['id']}/take", headers=people.agent.headers)
    assert late.status_code == 409 and late.json()["error"]["code"] == "break_expired"
    assert _status(client, people) == "online"


def test_the_policy_is_for_admins_and_the_teams_leads(
    runtime: Runtime, client: TestClient, people: Personas
) -> None:
    team_id = people.team_id
    default = client.get(f"/api/v1/teams/{team_id}/wellbeing", headers=people.agent.headers)
    assert default.status_code == 200
    assert (default.json()["recovery_mode"], default.json()["max_hostile_in_a_row"]) == ("offer", 2)
    wanted = {"recovery_mode": "off", "recovery_minutes": 5, "max_hostile_in_a_row": 3}
    for who in (people.agent, people.lead, people.partner, people.customer, people.advocate):
        refused = client.put(f"/api/v1/teams/{team_id}/wellbeing", json=wanted, headers=who.headers)
        assert refused.status_code == 403, who  # the lead is not (yet) in the team
    add_members(runtime, team_id, people.lead.id)
    assert set_policy(client, people.lead, team_id, **wanted)["recovery_mode"] == "off"
    bad = client.put(
        f"/api/v1/teams/{team_id}/wellbeing",
        json={**wanted, "recovery_minutes": 0},
        headers=people.admin.headers,
    )
    assert bad.status_code == 422
    assert client.get("/api/v1/teams/999/wellbeing", headers=people.admin.headers).status_code == 404
    assert (
        client.get(f"/api/v1/teams/{team_id}/wellbeing", headers=people.customer.headers).status_code == 403
    )

    # Off: an abusive conversation offers nothing.
    support_team(client, runtime, people)
    set_status(client, people.agent, "online")
    hostile = hard_ticket(client, people, HOSTILE)
    solve(client, people.agent, hostile)
    assert _breaks(client, people) == []

    # The form: a lead of the team edits it in the workspace.
    csrf = sign_in(client, runtime, "lead@desk.test")
    page = client.get("/agent/team/wellbeing")
    assert page.status_code == 200 and f'action="/agent/teams/{team_id}/wellbeing"' in page.text
    saved = client.post(
        f"/agent/teams/{team_id}/wellbeing",
        data={
            "csrf_token": csrf,
            "recovery_mode": "schedule",
            "recovery_minutes": "7",
            "max_hostile_in_a_row": "1",
        },
        follow_redirects=False,
    )
    assert saved.status_code == 303
    policy = client.get(f"/api/v1/teams/{team_id}/wellbeing", headers=people.agent.headers).json()
    assert (policy["recovery_mode"], policy["recovery_minutes"], policy["max_hostile_in_a_row"]) == (
        "schedule",
        7,
        1,
    )


def test_two_first_policies_saved_at_once_do_not_fail(
    runtime: Runtime, client: TestClient, people: Personas, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two admins save a team's first policy at the same moment: both found no row and both insert; the
    loser's change applies over the winner's instead of a 500 (PostgreSQL: two writers at once)."""
    with runtime.database.session(write=False) as session:
        if session.get_bind().dialect.name == "sqlite":
            pytest.skip("SQLite has one writer: the second save waits for the first and finds its row")
    from sqlalchemy.orm import Session

    from ombud.people.models import TeamWellbeing

    team_id = people.team_id
    set_policy(client, people.admin, team_id, recovery_mode="off", recovery_minutes=5, max_hostile_in_a_row=3)
    real_get = Session.get
    blinded: list[bool] = []

    def blind_get(self: Session, entity: Any, ident: Any, **kwargs: Any) -> Any:
        if entity is TeamWellbeing and not blinded:
            blinded.append(True)  # the second save read before the first committed
            return None
        return real_get(self, entity, ident, **kwargs)

    monkeypatch.setattr(Session, "get", blind_get)
    wanted = {"recovery_mode": "schedule", "recovery_minutes": 9, "max_hostile_in_a_row": 4}
    second = client.put(f"/api/v1/teams/{team_id}/wellbeing", json=wanted, headers=people.admin.headers)
    monkeypatch.undo()
    assert blinded and second.status_code == 200, second.text
    policy = client.get(f"/api/v1/teams/{team_id}/wellbeing", headers=people.agent.headers).json()
    assert (policy["recovery_mode"], policy["recovery_minutes"], policy["max_hostile_in_a_row"]) == (
        "schedule",
        9,
        4,
    )


def test_the_agents_page_expires_a_stale_offer_for_good(
    runtime: Runtime, client: TestClient, people: Personas
) -> None:
    """/agent/me/load expires offers past their time as it lists them: that write is committed (it used to
    run in a read transaction, rolled back, and on SQLite could fail to upgrade to a write lock)."""
    support_team(client, runtime, people)
    set_status(client, people.agent, "online")
    reply(client, people.agent, hard_ticket(client, people, HOSTILE))
    with runtime.database.session() as session:
        row = session.scalars(select(RecoveryBreak)).one()
        row.created_at -= dt.timedelta(minutes=31)
        session.commit()
    sign_in(client, runtime, "agent@desk.test")
    page = client.get("/agent/me/load")
    assert page.status_code == 200, page.text
    with runtime.database.session(write=False) as session:
        assert session.scalars(select(RecoveryBreak.state)).one().value == "expired"
