"""The ledger (came back with the same concern, filters, CSV) and the negotiation helper's ladder."""

from __future__ import annotations

import csv
import io

from fastapi.testclient import TestClient

from tests.conftest import Personas, new_ticket
from tests.resolutions.helpers import decide, propose, purchase, upload

LATE = "Hello, the parcel is late and I need it by Friday!"
LATE_AGAIN = "The parcel is late again, it still has not arrived and I need it by Friday."


def test_the_ledger_knows_when_the_customer_came_back_with_the_same_concern(
    client: TestClient, people: Personas
) -> None:
    upload(client, people)
    bought = purchase(client, people, days_ago=5)
    first = new_ticket(client, people.customer, subject="Late parcel", body=LATE)
    late = propose(client, people.agent, first["id"], kind="credit", amount="5", purchase_id=bought)
    assert late["intent"] == "delivery_late"  # from the ticket's triage
    billing = propose(
        client,
        people.agent,
        first["id"],
        kind="billing_correction",
        amount="10",
        intent="charge_dispute",
        purchase_id=bought,
    )
    waiting = propose(client, people.agent, first["id"], amount="60", purchase_id=bought)
    assert waiting["status"] == "pending_approval"

    again = new_ticket(client, people.customer, subject="Still late", body=LATE_AGAIN)
    ledger = client.get("/api/v1/resolutions/ledger", headers=people.lead.headers).json()
    rows = {row["id"]: row for row in ledger["items"]}
    assert set(rows) == {late["id"], billing["id"]}  # applied ones by default
    assert rows[late["id"]]["came_back"] is True and rows[late["id"]]["came_back_ticket_id"] == again["id"]
    assert rows[billing["id"]]["came_back"] is False  # another intent
    assert rows[late["id"]]["granted_by_id"] == people.agent.id
    assert ledger["came_back"] == 1 and ledger["total_base"] == "15.00" and ledger["base_currency"] == "EUR"

    def ids(query: str) -> list[int]:
        response = client.get(f"/api/v1/resolutions/ledger?{query}", headers=people.lead.headers)
        assert response.status_code == 200, response.text
        return [row["id"] for row in response.json()["items"]]

    assert ids("came_back=false") == [billing["id"]]
    assert ids("kind=credit") == [late["id"]]
    assert ids("intent=charge_dispute") == [billing["id"]]
    assert ids("status=pending_approval") == [waiting["id"]]
    assert sorted(ids("status=all")) == sorted([late["id"], billing["id"], waiting["id"]])
    assert ids("since=2100-01-01T00:00:00Z") == []

    approved = decide(client, people.lead, waiting["id"], "approve")
    assert approved["came_back_at"] is None  # applied after the customer came back: not counted against it

    exported = client.get("/api/v1/resolutions/ledger?format=csv&status=all", headers=people.lead.headers)
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    table = list(csv.DictReader(io.StringIO(exported.text)))
    assert {int(r["id"]) for r in table} == {late["id"], billing["id"], waiting["id"]}
    came = next(r for r in table if int(r["id"]) == late["id"])
    assert came["came_back"] == "true" and came["amount"] == "5.00" and came["intent"] == "delivery_late"


def test_the_helper_offers_the_smallest_remedy_first(client: TestClient, people: Personas) -> None:
    upload(client, people)
    purchase(client, people, days_ago=5, amount=100)
    ticket = new_ticket(client, people.customer, subject="Late parcel", body=LATE)
    found = client.get(f"/api/v1/tickets/{ticket['id']}/resolutions/suggestion", headers=people.agent.headers)
    assert found.status_code == 200, found.text
    suggestion = found.json()
    assert suggestion["intent"] == "delivery_late"
    options = [(o["kind"], o["amount"], o["verdict"]) for o in suggestion["options"]]
    # Credit worth the shipping before the shipping refunded, a coupon, then cash.
    assert options == [
        ("credit", "5.00", "now"),
        ("partial_refund", "5.00", "now"),
        ("coupon", "10.00", "now"),
        ("refund", "100.00", "approval"),
    ]
    assert suggestion["best"]["kind"] == "credit"
    assert "over the agent's limit of 50" in suggestion["options"][3]["why"][0]
    # A lead may refund it all at once.
    lead = client.get(f"/api/v1/tickets/{ticket['id']}/resolutions/suggestion", headers=people.lead.headers)
    assert lead.json()["options"][3]["verdict"] == "now"

    # A faulty product: replacement before money; an expensive one is beyond the agent.
    concern = client.post(
        f"/api/v1/tickets/{ticket['id']}/concerns",
        json={"text": "The blender arrived broken", "intent": "damaged_or_wrong_item"},
        headers=people.agent.headers,
    )
    assert concern.status_code == 201, concern.text
    pricey = purchase(client, people, days_ago=3, amount=400)
    broken = client.get(
        f"/api/v1/tickets/{ticket['id']}/resolutions/suggestion?concern={concern.json()['id']}&purchase={pricey}",
        headers=people.agent.headers,
    ).json()
    assert [o["kind"] for o in broken["options"]] == ["replacement", "partial_refund", "return", "refund"]
    assert [o["verdict"] for o in broken["options"]] == ["approval"] * 4
    assert broken["best"]["kind"] == "replacement"  # nothing fits now: the smallest, for approval

    # One click: propose the suggestion with the concern; it links the concern to the resolution.
    made = propose(
        client,
        people.agent,
        ticket["id"],
        kind="replacement",
        amount="90",
        reason="damaged",
        concern_id=concern.json()["id"],
    )
    assert made["status"] == "applied" and made["intent"] == "damaged_or_wrong_item"
    linked = client.get(f"/api/v1/tickets/{ticket['id']}/concerns", headers=people.agent.headers).json()
    assert (
        next(c for c in linked if c["id"] == concern.json()["id"])["resolution_ref"]
        == f"resolution {made['id']}"
    )

    for who in (people.customer, people.partner):
        denied = client.get(f"/api/v1/tickets/{ticket['id']}/resolutions/suggestion", headers=who.headers)
        assert denied.status_code == 403


def test_ledger_times_outside_the_utc_range_or_without_a_zone_are_refused(
    client: TestClient, people: Personas
) -> None:
    upload(client, people)
    for query in (
        {"since": "9999-12-31T23:59:59-14:00"},
        {"until": "0001-01-01T00:00:00+14:00"},
        {"since": "2026-01-01T00:00:00"},
    ):
        response = client.get("/api/v1/resolutions/ledger", params=query, headers=people.lead.headers)
        assert response.status_code == 422, response.text
        error = response.json()["error"]
        assert error["code"] == "invalid_time" and next(iter(query)) in error["message"]
    edge = client.get(
        "/api/v1/resolutions/ledger",
        params={"since": "0001-01-01T00:00:00Z", "until": "9999-12-31T23:59:59+00:00"},
        headers=people.lead.headers,
    )
    assert edge.status_code == 200, edge.text
