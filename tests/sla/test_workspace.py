"""The SLA workspace: the ticket page's SLA panel, the inbox badge, and the settings page where admins
edit calendars and policies by form (leads read, agents are refused)."""

from __future__ import annotations

import datetime as dt

import pytest
from fastapi.testclient import TestClient

from ombud.runtime import Runtime
from tests.conftest import Personas, new_ticket
from tests.sla.conftest import FakeClock, create_policy
from tests.web.workspace import sign_in


def test_the_ticket_panel_shows_time_left_then_breached(
    runtime: Runtime, client: TestClient, people: Personas, clock: FakeClock
) -> None:
    create_policy(client, people.admin, name="Standard", targets={"first_response": 60, "resolution": 480})
    ticket = new_ticket(client, people.agent)
    sign_in(client, runtime, "agent@desk.test")
    page = client.get(f"/agent/tickets/{ticket['id']}")
    assert page.status_code == 200, page.text
    assert 'id="sla"' in page.text and "Policy: Standard" in page.text
    assert "due in 1 h" in page.text and "due in 8 h" in page.text

    clock.advance(hours=3)
    runtime.queue.sweep()
    page = client.get(f"/agent/tickets/{ticket['id']}")
    assert "breached 2 h ago" in page.text
    inbox = client.get("/agent/inbox?view=all")
    assert "SLA breached" in inbox.text

    client.patch(f"/api/v1/tickets/{ticket['id']}", json={"status": "pending"}, headers=people.agent.headers)
    page = client.get(f"/agent/tickets/{ticket['id']}")
    assert "paused · " in page.text


def test_the_inbox_badge_says_due_soon(
    runtime: Runtime, client: TestClient, people: Personas, clock: FakeClock
) -> None:
    create_policy(client, people.admin, targets={"first_response": 90})
    new_ticket(client, people.agent)
    sign_in(client, runtime, "agent@desk.test")
    assert "SLA due soon" not in client.get("/agent/inbox?view=all").text
    clock.advance(minutes=31)  # 59 minutes left
    runtime.queue.sweep()
    assert "SLA due soon" in client.get("/agent/inbox?view=all").text


def test_admins_edit_calendars_and_policies_by_form(
    runtime: Runtime, client: TestClient, people: Personas, clock: FakeClock
) -> None:
    csrf = sign_in(client, runtime, "admin@desk.test")
    page = client.get("/agent/sla")
    assert page.status_code == 200 and "No policy yet" in page.text
    response = client.post(
        "/agent/sla/calendars",
        data={
            "csrf_token": csrf,
            "name": "Lisbon",
            "time_zone": "Europe/Lisbon",
            "hours": "mon-fri 09:00-13:00, 14:00-18:00\nsat 10:00-14:00",
            "holidays": "2026-12-25 Christmas Day\n2027-01-01",
            "is_default": "1",
        },
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    calendars = client.get("/api/v1/sla/calendars", headers=people.admin.headers).json()
    assert calendars[0]["hours"]["fri"] == [["09:00", "13:00"], ["14:00", "18:00"]]
    assert calendars[0]["hours"]["sat"] == [["10:00", "14:00"]] and "sun" not in calendars[0]["hours"]
    assert calendars[0]["holidays"][1] == {"date": "2027-01-01", "name": ""}
    assert calendars[0]["is_default"]

    bad = client.post(
        "/agent/sla/calendars",
        data={"csrf_token": csrf, "name": "Bad", "time_zone": "Europe/Atlantis", "hours": "mon 09:00-17:00"},
    )
    assert bad.status_code == 422 and "unknown time zone" in bad.text

    response = client.post(
        "/agent/sla/policies",
        data={
            "csrf_token": csrf,
            "name": "VIP chat",
            "active": "1",
            "channels": ["chat", "email"],
            "tiers": "vip, Premium",
            "target_first_response": "15",
            "target_resolution": "240",
            "paused": ["pending"],
            "warn_percent": "75",
            "notify": "1",
            "raise_priority": "1",
            "escalate_team_id": str(people.team_id),
        },
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    policy = client.get("/api/v1/sla/policies", headers=people.admin.headers).json()[0]
    assert policy["conditions"]["channels"] == ["chat", "email"]
    assert policy["conditions"]["tiers"] == ["vip", "premium"]
    assert policy["targets"] == {"first_response": 15, "resolution": 240}
    assert policy["paused_statuses"] == ["pending"] and policy["warn_fraction"] == 0.75
    assert policy["escalation"] == {
        "notify": True,
        "raise_priority": True,
        "team_id": people.team_id,
        "unassign": False,
    }
    page = client.get("/agent/sla")
    assert "VIP chat" in page.text and "channel chat/email; tier vip/premium" in page.text

    team = client.post(
        f"/agent/sla/teams/{people.team_id}/calendar",
        data={"csrf_token": csrf, "calendar_id": str(calendars[0]["id"])},
        follow_redirects=False,
    )
    assert team.status_code == 303
    assert client.get("/api/v1/sla/calendars", headers=people.admin.headers).json()[0]["team_ids"] == [
        people.team_id
    ]
    forged = client.post(f"/agent/sla/policies/{policy['id']}/delete", data={"csrf_token": "nope"})
    assert forged.status_code == 403


def test_leads_read_the_settings_and_agents_are_refused(
    runtime: Runtime, client: TestClient, people: Personas
) -> None:
    create_policy(client, people.admin, name="Standard")
    csrf = sign_in(client, runtime, "lead@desk.test")
    page = client.get("/agent/sla")
    assert page.status_code == 200 and "Standard" in page.text and "Only admins can change" in page.text
    assert "Add a policy" not in page.text
    refused = client.post(
        "/agent/sla/policies", data={"csrf_token": csrf, "name": "X", "target_resolution": "5"}
    )
    assert refused.status_code == 403
    client.cookies.clear()
    sign_in(client, runtime, "agent@desk.test")
    assert client.get("/agent/sla").status_code == 403
    assert 'href="/agent/sla"' not in client.get("/agent/inbox").text


def test_span_words() -> None:
    from ombud.web.sla_views import span_words

    assert span_words(dt.timedelta(minutes=5)) == "5 min"
    assert span_words(dt.timedelta(hours=2, minutes=3)) == "2 h 3 min"
    assert span_words(dt.timedelta(days=1, hours=1)) == "1 d 1 h"


def test_admins_reorder_and_edit_policies_by_form(
    runtime: Runtime, client: TestClient, people: Personas
) -> None:
    first = create_policy(client, people.admin, name="First", warn_before_minutes=5)
    create_policy(client, people.admin, name="Second")
    csrf = sign_in(client, runtime, "admin@desk.test")
    moved = client.post(
        f"/agent/sla/policies/{first['id']}/move",
        data={"csrf_token": csrf, "direction": "down"},
        follow_redirects=False,
    )
    assert moved.status_code == 303
    names = [p["name"] for p in client.get("/api/v1/sla/policies", headers=people.admin.headers).json()]
    assert names == ["Second", "First"]
    edited = client.post(
        "/agent/sla/policies",
        data={
            "csrf_token": csrf,
            "policy_id": str(first["id"]),
            "name": "First renamed",
            "target_next_response": "30",
            "paused": ["on_hold"],
        },
        follow_redirects=False,
    )
    assert edited.status_code == 303, edited.text
    policy = client.get(f"/api/v1/sla/policies/{first['id']}", headers=people.admin.headers).json()
    assert policy["name"] == "First renamed" and policy["targets"] == {"next_response": 30}
    assert policy["active"] is False and policy["warn_before_minutes"] is None
    assert policy["paused_statuses"] == ["on_hold"] and policy["position"] == 2
    no_target = client.post(
        "/agent/sla/policies", data={"csrf_token": csrf, "policy_id": str(first["id"]), "name": "X"}
    )
    assert no_target.status_code == 422 and "at least one target" in no_target.text


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"target_first_response": "²"}, "first_response: give whole business minutes from 1 to 527040"),
        ({"target_resolution": "9" * 25}, "resolution: give whole business minutes from 1 to 527040"),
        ({"warn_before_minutes": "²"}, "warn before: give whole business minutes from 0 to 527040"),
        ({"warn_percent": "²"}, "warn at percent: give a percent from 1 to 99"),
        ({"team_ids": ["²"]}, "teams: give an id from 1 to 9223372036854775807"),
        ({"escalate_team_id": "²"}, "escalate to team: give an id from 1 to 9223372036854775807"),
        ({"escalate_team_id": "9" * 25}, "escalate to team: give an id from 1 to 9223372036854775807"),
        ({"escalate_team_id": "0"}, "escalate to team: give an id from 1 to 9223372036854775807"),
    ],
)
def test_the_policy_form_refuses_odd_numbers_with_a_clear_error(
    runtime: Runtime, client: TestClient, people: Personas, fields: dict[str, object], words: str
) -> None:
    # '²'.isdigit() is True but int('²') raises, and a 25-digit id overflows the database: both were 500s.
    csrf = sign_in(client, runtime, "admin@desk.test")
    data = {"csrf_token": csrf, "name": "Odd", "target_next_response": "30", **fields}
    refused = client.post("/agent/sla/policies", data=data)
    assert refused.status_code == 422, refused.text
    assert words in refused.text
    assert client.get("/api/v1/sla/policies", headers=people.admin.headers).json() == []


@pytest.mark.parametrize("calendar_id", ["²", "9" * 25, "0", "abc"])
def test_the_team_calendar_form_refuses_odd_ids_with_a_clear_error(
    runtime: Runtime, client: TestClient, people: Personas, calendar_id: str
) -> None:
    csrf = sign_in(client, runtime, "admin@desk.test")
    refused = client.post(
        f"/agent/sla/teams/{people.team_id}/calendar", data={"csrf_token": csrf, "calendar_id": calendar_id}
    )
    assert refused.status_code == 422, refused.text
    assert "calendar: give an id from 1 to 9223372036854775807" in refused.text
    # Empty still means "the default calendar".
    default = client.post(
        f"/agent/sla/teams/{people.team_id}/calendar",
        data={"csrf_token": csrf, "calendar_id": ""},
        follow_redirects=False,
    )
    assert default.status_code == 303
