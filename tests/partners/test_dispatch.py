"""Dispatch: skill, area (longest postcode prefix, or region), capacity and load; a decline goes to the next
fit; no fit waits as ``new`` with the reason, and the sweep tries again."""

from __future__ import annotations

import datetime as dt

from fastapi.testclient import TestClient
from sqlalchemy import update

from ombud.partners.models import WorkOrder
from ombud.runtime import Runtime
from tests.conftest import Personas
from tests.partners.conftest import make_partner, partner_user, work_order


def test_skill_and_longest_postcode_prefix_win(
    client: TestClient, runtime: Runtime, people: Personas
) -> None:
    wide = make_partner(runtime, "Wide", people.partner.id, areas=["1"])
    near = make_partner(runtime, "Near", partner_user(runtime, "near@p.test").id, areas=["101"])
    make_partner(
        runtime, "Wrong skill", partner_user(runtime, "ws@p.test").id, skills=["install"], areas=["10115"]
    )
    made = work_order(client, people, postcode="10115")
    assert made["partner_id"] == near and "postcode 101" in made["dispatch_reason"]
    elsewhere = work_order(client, people, postcode="19000")
    assert elsewhere["partner_id"] == wide
    # The kind counts as a skill too.
    install = work_order(client, people, kind="install", skill="dishwasher", postcode="10115")
    assert install["status"] == "offered" and "Wrong skill" in install["dispatch_reason"]


def test_region_matches_when_no_postcode_does(client: TestClient, runtime: Runtime, people: Personas) -> None:
    north = make_partner(runtime, "North", people.partner.id, areas=["north"])
    made = work_order(client, people, postcode="", region="North")
    assert made["partner_id"] == north and "region north" in made["dispatch_reason"]


def test_load_breaks_ties(client: TestClient, runtime: Runtime, people: Personas) -> None:
    first = make_partner(runtime, "First", people.partner.id)
    second = make_partner(runtime, "Second", partner_user(runtime, "s@p.test").id)
    assert work_order(client, people)["partner_id"] == first
    assert work_order(client, people)["partner_id"] == second
    assert work_order(client, people)["partner_id"] == first


def test_no_capacity_means_no_offer(client: TestClient, runtime: Runtime, people: Personas) -> None:
    make_partner(runtime, "Off", people.partner.id, working_hours={})
    made = work_order(client, people)
    assert made["status"] == "new" and made["partner_id"] is None
    assert made["dispatch_reason"] == "waiting: no capacity in the next 14 days"


def test_decline_goes_to_the_next_partner_then_waits(
    client: TestClient, runtime: Runtime, people: Personas
) -> None:
    first = make_partner(runtime, "First", people.partner.id, areas=["101"])
    other = partner_user(runtime, "s@p.test")
    second = make_partner(runtime, "Second", other.id, areas=["10"])
    made = work_order(client, people)
    assert made["partner_id"] == first
    missing = client.post(
        f"/api/v1/work-orders/{made['id']}/decline", json={"reason": " "}, headers=people.partner.headers
    )
    assert missing.status_code == 422
    declined = client.post(
        f"/api/v1/work-orders/{made['id']}/decline",
        json={"reason": "No van free"},
        headers=people.partner.headers,
    )
    assert declined.status_code == 200, declined.text
    # Where it went is not the declining partner's business; staff see it.
    assert declined.json()["partner_id"] is None and declined.json()["declined_by"] == []
    staff = client.get(f"/api/v1/work-orders/{made['id']}", headers=people.agent.headers).json()
    assert staff["partner_id"] == second and staff["declined_by"] == [first]
    # The first partner no longer sees it at all.
    assert client.get(f"/api/v1/work-orders/{made['id']}", headers=people.partner.headers).status_code == 404
    again = client.post(
        f"/api/v1/work-orders/{made['id']}/decline", json={"reason": "Busy"}, headers=other.headers
    )
    assert again.status_code == 200 and again.json()["status"] == "new"
    body = client.get(f"/api/v1/work-orders/{made['id']}", headers=people.agent.headers).json()
    assert body["status"] == "new" and body["partner_id"] is None
    assert body["dispatch_reason"].startswith("waiting: no active partner left")
    updates = client.get(f"/api/v1/work-orders/{made['id']}/updates", headers=people.agent.headers).json()[
        "items"
    ]
    assert [u["kind"] for u in updates].count("decline") == 2
    # Declines are never told to the customer.
    assert not any(u["customer_told"] for u in updates)


def test_no_fit_waits_and_the_sweep_retries(client: TestClient, runtime: Runtime, people: Personas) -> None:
    made = work_order(client, people, skill="airbrew")
    assert made["status"] == "new" and made["dispatch_reason"] == "waiting: no active partner left"
    # A partner arrives; the sweep looks again at work orders not tried lately.
    make_partner(runtime, "Late", people.partner.id)
    runtime.queue.sweep()
    assert (
        client.get(f"/api/v1/work-orders/{made['id']}", headers=people.agent.headers).json()["status"]
        == "new"
    )
    with runtime.database.session() as session:
        session.execute(
            update(WorkOrder)
            .where(WorkOrder.id == made["id"])
            .values(updated_at=dt.datetime.now(dt.UTC) - dt.timedelta(hours=1))
        )
        session.commit()
    runtime.queue.sweep()
    found = client.get(f"/api/v1/work-orders/{made['id']}", headers=people.agent.headers).json()
    assert found["status"] == "offered" and "Late" in found["dispatch_reason"]
