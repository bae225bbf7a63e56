"""Partners and technicians: managing them, validating calendars, and the free slots a calendar gives."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient

from ombud.partners import scheduling
from ombud.partners.models import Technician
from ombud.runtime import Runtime
from tests.conftest import Personas
from tests.partners.conftest import ALL_DAY, make_partner, partner_user, work_order

BERLIN = ZoneInfo("Europe/Berlin")


def technician_body(partner_id: int, **fields: object) -> dict[str, object]:
    body: dict[str, object] = {
        "partner_id": partner_id,
        "skills": ["Repair", "airbrew"],
        "areas": ["10", "north"],
        "capacity_per_day": 3,
        "working_hours": {"mon": [["08:00", "12:00"], ["13:00", "17:00"]], "tue": [["08:00", "17:00"]]},
        "timezone": "Europe/Berlin",
    }
    body.update(fields)
    return body


def test_admins_and_leads_manage_partners_all_staff_read(client: TestClient, people: Personas) -> None:
    made = client.post("/api/v1/partners", json={"name": "FixRight"}, headers=people.lead.headers)
    assert made.status_code == 201, made.text
    pid = made.json()["id"]
    twice = client.post("/api/v1/partners", json={"name": "fixright"}, headers=people.admin.headers)
    assert twice.status_code == 409 and twice.json()["error"]["code"] == "partner_exists"
    refused = client.post("/api/v1/partners", json={"name": "Other"}, headers=people.agent.headers)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "role_forbidden"
    patched = client.patch(
        f"/api/v1/partners/{pid}", json={"phone": "+49 30 1234"}, headers=people.admin.headers
    )
    assert patched.status_code == 200 and patched.json()["phone"] == "+49 30 1234"
    assert (
        client.patch(f"/api/v1/partners/{pid}", json={"notes": "x"}, headers=people.agent.headers).status_code
        == 403
    )
    for who in (people.agent, people.advocate):
        listed = client.get("/api/v1/partners", headers=who.headers)
        assert [p["name"] for p in listed.json()["items"]] == ["FixRight"]
    assert client.get("/api/v1/partners", headers=people.customer.headers).status_code == 403
    assert client.get("/api/v1/partners").status_code == 401
    assert client.get("/api/v1/partners/999999", headers=people.agent.headers).status_code == 404


def test_technician_calendar_is_validated(client: TestClient, people: Personas) -> None:
    pid = client.post("/api/v1/partners", json={"name": "FixRight"}, headers=people.admin.headers).json()[
        "id"
    ]
    url = f"/api/v1/technicians/{people.partner.id}"
    made = client.put(url, json=technician_body(pid), headers=people.admin.headers)
    assert made.status_code == 200, made.text
    assert made.json()["skills"] == ["airbrew", "repair"] and made.json()["name"] == "Partner"
    listed = client.get(f"/api/v1/partners/{pid}/technicians", headers=people.agent.headers).json()["items"]
    assert [t["user_id"] for t in listed] == [people.partner.id]

    cases: list[tuple[dict[str, object], str]] = [
        ({"working_hours": {"mon": [["17:00", "08:00"]]}}, "invalid_working_hours"),
        ({"working_hours": {"monday": [["08:00", "17:00"]]}}, "invalid_working_hours"),
        ({"working_hours": {"mon": [["8", "17:00"]]}}, "invalid_working_hours"),
        ({"working_hours": {"mon": [["08:00", "12:00"], ["11:00", "13:00"]]}}, "invalid_working_hours"),
        ({"timezone": "Mars/Olympus"}, "unknown_timezone"),
    ]
    for fields, code in cases:
        refused = client.put(url, json=technician_body(pid, **fields), headers=people.admin.headers)
        assert refused.status_code == 422 and refused.json()["error"]["code"] == code, (fields, refused.text)
    agent = client.put(
        f"/api/v1/technicians/{people.agent.id}", json=technician_body(pid), headers=people.admin.headers
    )
    assert agent.status_code == 422 and agent.json()["error"]["code"] == "not_a_partner_user"
    assert client.put(url, json=technician_body(999999), headers=people.admin.headers).status_code == 404
    assert client.put(url, json=technician_body(pid), headers=people.agent.headers).status_code == 403


def test_time_off_by_the_technician_or_a_manager(
    client: TestClient, runtime: Runtime, people: Personas
) -> None:
    pid = make_partner(runtime, "FixRight", people.partner.id)
    other = partner_user(runtime, "other@partners.test")
    make_partner(runtime, "QuickSwap", other.id)
    body = {
        "starts_at": "2030-01-02T00:00:00+01:00",
        "ends_at": "2030-01-05T00:00:00+01:00",
        "reason": "holiday",
    }
    own = client.post(
        f"/api/v1/technicians/{people.partner.id}/time-off", json=body, headers=people.partner.headers
    )
    assert own.status_code == 201, own.text
    assert own.json()["starts_at"].startswith("2030-01-01T23:00:00")
    # Another partner's technician cannot see or block this calendar.
    foreign = client.post(
        f"/api/v1/technicians/{people.partner.id}/time-off", json=body, headers=other.headers
    )
    assert foreign.status_code == 404
    assert (
        client.get(f"/api/v1/technicians/{people.partner.id}/time-off", headers=other.headers).status_code
        == 404
    )
    backwards = {**body, "ends_at": "2030-01-01T00:00:00+01:00"}
    wrong = client.post(
        f"/api/v1/technicians/{people.partner.id}/time-off", json=backwards, headers=people.lead.headers
    )
    assert wrong.status_code == 422 and wrong.json()["error"]["code"] == "invalid_time_off"
    listed = client.get(f"/api/v1/technicians/{people.partner.id}/time-off", headers=people.agent.headers)
    assert [r["reason"] for r in listed.json()["items"]] == ["holiday"]
    assert pid


def test_free_slots_follow_hours_time_zone_time_off_and_bookings(runtime: Runtime, people: Personas) -> None:
    make_partner(
        runtime,
        "FixRight",
        people.partner.id,
        working_hours={"mon": [["08:00", "12:00"], ["13:00", "17:00"]], "wed": [["09:00", "13:00"]]},
        capacity_per_day=2,
    )
    # Sunday 2030-01-06 20:00 Berlin: the next working day is Monday.
    now = dt.datetime(2030, 1, 6, 20, 0, tzinfo=BERLIN)
    with runtime.database.session() as session:
        technician = session.get(Technician, people.partner.id)
        assert technician is not None
        slots = scheduling.calendar_slots(session=session, technician=technician, days=3, limit=10, now=now)
        local = [
            (s.start.astimezone(BERLIN).strftime("%a %H:%M"), s.end.astimezone(BERLIN).strftime("%H:%M"))
            for s in slots
        ]
        # 2-hour windows from the start of each span, in Berlin time; no Tuesday hours.
        assert local == [
            ("Mon 08:00", "10:00"),
            ("Mon 10:00", "12:00"),
            ("Mon 13:00", "15:00"),
            ("Mon 15:00", "17:00"),
            ("Wed 09:00", "11:00"),
            ("Wed 11:00", "13:00"),
        ]


def test_time_off_and_full_days_remove_slots(client: TestClient, runtime: Runtime, people: Personas) -> None:
    make_partner(runtime, "FixRight", people.partner.id, working_hours=ALL_DAY, capacity_per_day=1)
    wid = work_order(client, people)["id"]
    assert (
        client.post(f"/api/v1/work-orders/{wid}/accept", json={}, headers=people.partner.headers).status_code
        == 200
    )
    first = client.get(
        f"/api/v1/work-orders/{wid}/free-slots?limit=1", headers=people.partner.headers
    ).json()["items"][0]
    start = dt.datetime.fromisoformat(first["start"])
    # Time off over the first free slot: it is no longer offered.
    client.post(
        f"/api/v1/technicians/{people.partner.id}/time-off",
        json={"starts_at": first["start"], "ends_at": first["end"]},
        headers=people.partner.headers,
    )
    after = client.get(
        f"/api/v1/work-orders/{wid}/free-slots?limit=3", headers=people.partner.headers
    ).json()["items"]
    assert all(dt.datetime.fromisoformat(s["start"]) != start for s in after)
    # Booking a visit fills the day (capacity 1): the next slots are on another day.
    booked = client.post(
        f"/api/v1/work-orders/{wid}/confirm",
        json={"start": after[0]["start"]},
        headers=people.partner.headers,
    )
    assert booked.status_code == 200, booked.text
    day = dt.datetime.fromisoformat(after[0]["start"]).astimezone(BERLIN).date()
    second = work_order(client, people)["id"]
    client.post(f"/api/v1/work-orders/{second}/accept", json={}, headers=people.partner.headers)
    more = client.get(
        f"/api/v1/work-orders/{second}/free-slots?limit=5", headers=people.partner.headers
    ).json()["items"]
    assert more and all(dt.datetime.fromisoformat(s["start"]).astimezone(BERLIN).date() != day for s in more)
    taken = client.post(
        f"/api/v1/work-orders/{second}/confirm",
        json={"start": after[0]["start"]},
        headers=people.agent.headers,
    )
    assert taken.status_code == 409 and taken.json()["error"]["code"] == "slot_not_available"


def test_demo_partners_load(client: TestClient, runtime: Runtime, people: Personas) -> None:
    from ombud.accounts.models import User
    from ombud.demo_partners import load_partners
    from ombud.partners.models import PartnerFeedback, WorkOrder
    from tests.conftest import new_ticket

    for _ in range(3):
        new_ticket(client, people.agent)
    with runtime.database.session() as session:
        users = {key: session.get(User, getattr(people, key).id) for key in ("admin", "agent", "partner")}
        load_partners(session=session, users={k: v for k, v in users.items() if v is not None})
        load_partners(session=session, users={k: v for k, v in users.items() if v is not None})
        session.commit()
        statuses = sorted(w.status.value for w in session.query(WorkOrder))
        assert statuses == ["completed", "offered", "scheduled"]
        assert [w.rating for w in session.query(WorkOrder) if w.rating] == [5]
        assert session.query(PartnerFeedback).count() == 1
    listed = client.get("/api/v1/work-orders", headers=people.partner.headers).json()["items"]
    assert len(listed) == 3
