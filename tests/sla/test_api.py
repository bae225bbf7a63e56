"""The SLA configuration API: admins create, change, reorder and delete calendars and policies; leads
read; everyone else is refused; bad input gets a 422 that names what to fix."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from ombud.runtime import Runtime
from tests.conftest import Personas, new_ticket
from tests.sla.conftest import create_calendar, create_policy

WEEK = {day: [["09:00", "17:30"]] for day in ("mon", "tue", "wed", "thu", "fri")}


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"time_zone": "Mars/Olympus_Mons"}, "unknown time zone 'Mars/Olympus_Mons'"),
        ({"hours": {"mon": [["09:00", "12:00"], ["11:00", "17:00"]]}}, "mon: intervals overlap at 11:00"),
        ({"hours": {"tue": [["17:00", "09:00"]]}}, "tue: 17:00-09:00 ends before it starts"),
        ({"hours": {"wed": [["09:00", "25:00"]]}}, "not a time of day"),
        ({"hours": {"someday": [["09:00", "17:00"]]}}, "unknown weekday 'someday'"),
        ({"hours": {}}, "at least one weekday"),
        ({"holidays": [{"date": "2026-02-30"}]}, "date"),
    ],
)
def test_calendars_refuse_bad_hours_with_a_clear_error(
    client: TestClient, people: Personas, changes: dict[str, Any], words: str
) -> None:
    payload = {"name": "Office", "time_zone": "Europe/Berlin", "hours": WEEK, **changes}
    response = client.post("/api/v1/sla/calendars", json=payload, headers=people.admin.headers)
    assert response.status_code == 422, response.text
    assert words in response.text


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"targets": {"first_reply": 60}}, "unknown metric 'first_reply'"),
        ({"targets": {}}, "at least one target"),
        ({"targets": {"resolution": 0}}, "greater than or equal to 1"),
        ({"paused_statuses": ["solved"]}, "cannot pause in 'solved'"),
        ({"conditions": {"channels": ["pigeon"]}}, "conditions.channels.0"),
        ({"warn_fraction": 1.5}, "less than 1"),
    ],
)
def test_policies_refuse_bad_input_with_a_clear_error(
    client: TestClient, people: Personas, changes: dict[str, Any], words: str
) -> None:
    payload = {"name": "P", "targets": {"first_response": 60}, **changes}
    response = client.post("/api/v1/sla/policies", json=payload, headers=people.admin.headers)
    assert response.status_code == 422, response.text
    assert words in response.text


def test_policy_teams_must_exist_and_names_are_unique(client: TestClient, people: Personas) -> None:
    response = client.post(
        "/api/v1/sla/policies",
        json={"name": "P", "targets": {"first_response": 60}, "escalation": {"team_id": 9999}},
        headers=people.admin.headers,
    )
    assert response.status_code == 422 and response.json()["error"]["code"] == "unknown_team", response.text
    create_policy(client, people.admin, name="Gold")
    again = client.post(
        "/api/v1/sla/policies",
        json={"name": "gold", "targets": {"resolution": 5}},
        headers=people.admin.headers,
    )
    assert again.status_code == 409 and again.json()["error"]["code"] == "name_taken"


def test_only_admins_change_and_leads_read(client: TestClient, people: Personas) -> None:
    policy = create_policy(client, people.admin)
    calendar = create_calendar(client, people.admin)
    assert client.get("/api/v1/sla/policies", headers=people.lead.headers).json()[0]["id"] == policy["id"]
    assert (
        client.get(f"/api/v1/sla/calendars/{calendar['id']}", headers=people.lead.headers).status_code == 200
    )
    for who in (people.lead, people.agent):
        denied = client.patch(
            f"/api/v1/sla/policies/{policy['id']}", json={"name": "Mine"}, headers=who.headers
        )
        assert denied.status_code == 403, denied.text
        assert client.post("/api/v1/sla/calendars", json={}, headers=who.headers).status_code in (403, 422)
    for who in (people.agent, people.customer, people.partner):
        assert client.get("/api/v1/sla/policies", headers=who.headers).status_code == 403
    ticket = new_ticket(client, people.agent)
    assert (
        client.get(f"/api/v1/tickets/{ticket['id']}/sla", headers=people.customer.headers).status_code == 403
    )
    assert client.get("/api/v1/tickets/999999/sla", headers=people.agent.headers).status_code == 404


def test_policies_are_ordered_inserted_and_reordered(
    runtime: Runtime, client: TestClient, people: Personas
) -> None:
    first = create_policy(client, people.admin, name="A")
    second = create_policy(client, people.admin, name="B")
    third = create_policy(client, people.admin, name="C", position=1)
    listed = client.get("/api/v1/sla/policies", headers=people.admin.headers).json()
    assert [(p["name"], p["position"]) for p in listed] == [("C", 1), ("A", 2), ("B", 3)]

    order = [second["id"], first["id"], third["id"]]
    response = client.put(
        "/api/v1/sla/policies/order", json={"policy_ids": order}, headers=people.admin.headers
    )
    assert response.status_code == 200, response.text
    assert [p["name"] for p in response.json()] == ["B", "A", "C"]
    bad = client.put(
        "/api/v1/sla/policies/order",
        json={"policy_ids": [first["id"], first["id"]]},
        headers=people.admin.headers,
    )
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_policy_order"
    assert "missing" in bad.json()["error"]["message"]

    assert (
        client.delete(f"/api/v1/sla/policies/{second['id']}", headers=people.admin.headers).status_code == 204
    )
    listed = client.get("/api/v1/sla/policies", headers=people.admin.headers).json()
    assert [(p["name"], p["position"]) for p in listed] == [("A", 1), ("C", 2)]


def test_updating_a_policy_keeps_what_was_not_sent(client: TestClient, people: Personas) -> None:
    policy = create_policy(
        client,
        people.admin,
        conditions={"priorities": ["urgent"]},
        warn_before_minutes=10,
        warn_fraction=None,
    )
    response = client.patch(
        f"/api/v1/sla/policies/{policy['id']}",
        json={"targets": {"next_response": 30}, "paused_statuses": ["on_hold"]},
        headers=people.admin.headers,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["targets"] == {"next_response": 30}
    assert body["paused_statuses"] == ["on_hold"]
    assert body["conditions"]["priorities"] == ["urgent"]
    assert body["warn_before_minutes"] == 10 and body["warn_fraction"] is None
    bad = client.patch(
        f"/api/v1/sla/policies/{policy['id']}", json={"targets": {"later": 5}}, headers=people.admin.headers
    )
    assert bad.status_code == 422 and "unknown metric 'later'" in bad.text


def test_calendar_crud_default_and_team_assignment(client: TestClient, people: Personas) -> None:
    berlin = create_calendar(
        client, people.admin, holidays=[{"date": "2026-12-25", "name": "Christmas Day"}], is_default=True
    )
    ny = create_calendar(client, people.admin, name="New York", time_zone="America/New_York", is_default=True)
    listed = {c["name"]: c for c in client.get("/api/v1/sla/calendars", headers=people.admin.headers).json()}
    assert listed["New York"]["is_default"] and not listed["Berlin office"]["is_default"]
    assert listed["Berlin office"]["holidays"] == [{"date": "2026-12-25", "name": "Christmas Day"}]

    response = client.put(
        f"/api/v1/sla/teams/{people.team_id}/calendar",
        json={"calendar_id": berlin["id"]},
        headers=people.admin.headers,
    )
    assert response.status_code == 204
    assert client.get(f"/api/v1/sla/calendars/{berlin['id']}", headers=people.admin.headers).json()[
        "team_ids"
    ] == [people.team_id]
    changed = client.patch(
        f"/api/v1/sla/calendars/{berlin['id']}",
        json={"hours": {"sat": [["10:00", "14:00"]], "mon": [["13:00", "17:00"], ["08:00", "12:00"]]}},
        headers=people.admin.headers,
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["hours"] == {
        "mon": [["08:00", "12:00"], ["13:00", "17:00"]],
        "sat": [["10:00", "14:00"]],
    }
    unknown = client.put(
        f"/api/v1/sla/teams/{people.team_id}/calendar",
        json={"calendar_id": 424242},
        headers=people.admin.headers,
    )
    assert unknown.status_code == 404
    assert (
        client.delete(f"/api/v1/sla/calendars/{berlin['id']}", headers=people.admin.headers).status_code
        == 204
    )
    assert (
        client.get(f"/api/v1/sla/calendars/{berlin['id']}", headers=people.admin.headers).status_code == 404
    )
    assert (
        client.get(f"/api/v1/sla/calendars/{ny['id']}", headers=people.admin.headers).json()["team_ids"] == []
    )


@pytest.mark.parametrize(
    ("method", "path", "payload", "where"),
    [
        ("put", "/api/v1/sla/teams/{team}/calendar", {"calendar_id": 2**70}, "calendar_id"),
        ("put", "/api/v1/sla/teams/{team}/calendar", {"calendar_id": 0}, "calendar_id"),
        (
            "post",
            "/api/v1/sla/policies",
            {"name": "P", "targets": {"resolution": 60}, "conditions": {"team_ids": [2**70]}},
            "team_ids",
        ),
        (
            "post",
            "/api/v1/sla/policies",
            {"name": "P", "targets": {"resolution": 60}, "escalation": {"team_id": 2**70}},
            "team_id",
        ),
        ("put", "/api/v1/sla/policies/order", {"policy_ids": [2**70]}, "policy_ids"),
    ],
)
def test_ids_past_the_database_range_get_a_422_not_a_500(
    client: TestClient, people: Personas, method: str, path: str, payload: dict[str, Any], where: str
) -> None:
    response = client.request(
        method, path.format(team=people.team_id), json=payload, headers=people.admin.headers
    )
    assert response.status_code == 422, response.text
    assert where in response.text
