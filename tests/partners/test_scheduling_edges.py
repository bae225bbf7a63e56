"""Slots: generated across daylight-saving changes, none without working hours, and one booking of a
technician's window when two customers confirm it (one after the other, and at once)."""

from __future__ import annotations

import datetime as dt
import itertools
import threading
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from ombud.accounts.schemas import Principal
from ombud.errors import Conflict
from ombud.partners import scheduling, work_orders
from ombud.partners.models import Technician
from ombud.runtime import Runtime
from tests.conftest import Personas, new_ticket
from tests.partners.conftest import make_partner, work_order

HOURS = dt.timedelta(hours=2)


@pytest.mark.parametrize(
    ("now", "day", "windows"),
    [
        # Europe/Berlin: the last Sunday of March has 23 hours, of October 25.
        (dt.datetime(2026, 3, 28, 20, 0, tzinfo=dt.UTC), dt.date(2026, 3, 29), 11),
        (dt.datetime(2026, 10, 24, 20, 0, tzinfo=dt.UTC), dt.date(2026, 10, 25), 12),
    ],
)
def test_slots_are_two_real_hours_across_a_clock_change(
    runtime: Runtime, people: Personas, now: dt.datetime, day: dt.date, windows: int
) -> None:
    make_partner(runtime, "A Repairs", people.partner.id)  # all day, every day, Europe/Berlin
    with runtime.database.session() as session:
        technician = session.get(Technician, people.partner.id)
        assert technician is not None
        slots = scheduling.calendar_slots(session=session, technician=technician, days=3, limit=50, now=now)
    assert slots and all(s.end - s.start == HOURS for s in slots)
    assert all(a.end <= b.start for a, b in itertools.pairwise(slots))
    zone = ZoneInfo("Europe/Berlin")
    assert sum(1 for s in slots if s.start.astimezone(zone).date() == day) == windows


def test_a_technician_without_working_hours_has_no_slots(
    client: TestClient, runtime: Runtime, people: Personas
) -> None:
    make_partner(runtime, "A Repairs", people.partner.id)
    wid = work_order(client, people)["id"]
    h = people.partner.headers
    assert client.post(f"/api/v1/work-orders/{wid}/accept", json={}, headers=h).status_code == 200
    cleared = client.put(
        f"/api/v1/technicians/{people.partner.id}",
        json={"partner_id": 1, "skills": ["repair"], "areas": ["10"], "working_hours": {}},
        headers=people.admin.headers,
    )
    assert cleared.status_code == 200, cleared.text
    assert client.get(f"/api/v1/work-orders/{wid}/free-slots", headers=h).json()["items"] == []
    offered = client.post(f"/api/v1/work-orders/{wid}/slots", json={}, headers=h)
    assert offered.status_code == 409 and offered.json()["error"]["code"] == "no_free_slots"


def test_two_customers_cannot_book_the_same_slot_of_a_technician(
    client: TestClient, runtime: Runtime, people: Personas
) -> None:
    make_partner(runtime, "A Repairs", people.partner.id, capacity_per_day=4)
    h = people.partner.headers
    tom = new_ticket(client, people.agent, customer={"email": "tom@example.org", "name": "Tom"})
    first = work_order(client, people)["id"]
    second = work_order(client, people, int(str(tom["id"])))["id"]
    for wid in (first, second):
        assert client.post(f"/api/v1/work-orders/{wid}/accept", json={}, headers=h).status_code == 200
    slot = client.get(f"/api/v1/work-orders/{first}/free-slots?limit=1", headers=h).json()["items"][0]
    for wid in (first, second):  # both are offered the same window
        offered = client.post(f"/api/v1/work-orders/{wid}/slots", json={"slots": [slot]}, headers=h)
        assert offered.status_code == 200, offered.text
    booked = client.post(
        f"/api/v1/work-orders/{first}/confirm", json={"start": slot["start"]}, headers=people.customer.headers
    )
    assert booked.status_code == 200 and booked.json()["status"] == "scheduled"
    late = client.post(
        f"/api/v1/work-orders/{second}/confirm",
        json={"start": slot["start"]},
        headers=people.other_customer.headers,
    )
    assert late.status_code == 409 and late.json()["error"]["code"] == "slot_not_available"
    staff = client.get(f"/api/v1/work-orders/{second}", headers=people.agent.headers).json()
    assert staff["status"] == "accepted" and staff["slot_start"] is None  # nothing half-written


def test_two_customers_confirming_at_once_book_one(
    client: TestClient, runtime: Runtime, people: Personas
) -> None:
    if runtime.database.engine.dialect.name != "postgresql":
        pytest.skip("row locks are PostgreSQL's; SQLite runs one writer at a time")
    make_partner(runtime, "A Repairs", people.partner.id, capacity_per_day=4)
    h = people.partner.headers
    tom = new_ticket(client, people.agent, customer={"email": "tom@example.org", "name": "Tom"})
    orders = [work_order(client, people)["id"], work_order(client, people, int(str(tom["id"])))["id"]]
    for wid in orders:
        assert client.post(f"/api/v1/work-orders/{wid}/accept", json={}, headers=h).status_code == 200
    slot = client.get(f"/api/v1/work-orders/{orders[0]}/free-slots?limit=1", headers=h).json()["items"][0]
    for wid in orders:
        assert (
            client.post(f"/api/v1/work-orders/{wid}/slots", json={"slots": [slot]}, headers=h).status_code
            == 200
        )
    start = dt.datetime.fromisoformat(slot["start"].replace("Z", "+00:00"))
    customers = [people.customer.id, people.other_customer.id]
    ready = threading.Barrier(2)
    results: list[str] = []

    def book(wid: int, customer_id: int) -> None:
        with runtime.database.session() as session:
            ready.wait()
            try:
                work_orders.confirm_slot(
                    session=session,
                    actor=Principal(kind="customer", id=customer_id),
                    work_order_id=wid,
                    start=start,
                )
                session.commit()
                results.append("booked")
            except Conflict as error:
                session.rollback()
                results.append(error.code)

    threads = [threading.Thread(target=book, args=pair) for pair in zip(orders, customers, strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == ["booked", "slot_not_available"]
