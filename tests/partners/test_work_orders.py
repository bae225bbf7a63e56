"""A work order's whole life through the API: from a concern to a rated visit, with the customer told what
concerns them, the SLA carried across the hand-off, and invalid moves refused."""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select, update

from ombud.partners.models import WorkOrder
from ombud.runtime import Runtime
from ombud.tickets.models import Message
from tests.conftest import Personas, new_ticket
from tests.partners.conftest import work_order

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def public_messages(runtime: Runtime, ticket_id: int) -> list[str]:
    with runtime.database.session() as session:
        rows = session.scalars(
            select(Message.body_text)
            .where(Message.ticket_id == ticket_id, Message.internal.is_(False))
            .order_by(Message.id)
        ).all()
        return list(rows)


def post(client: TestClient, path: str, headers: dict[str, str], **body: Any) -> Any:
    return client.post(f"/api/v1/work-orders/{path}", json=body, headers=headers)


def test_the_whole_life_of_a_visit(
    client: TestClient, runtime: Runtime, people: Personas, fixright: int
) -> None:
    ticket = new_ticket(client, people.agent)
    ticket_id = int(str(ticket["id"]))
    made = work_order(client, people, ticket_id)
    wid = made["id"]
    # Dispatched at once to the only partner that fits, with the reason.
    assert made["status"] == "offered" and made["partner_id"] == fixright
    assert "FixRight" in made["dispatch_reason"] and "postcode 10" in made["dispatch_reason"]
    assert made["due_at"] is not None
    # The ticket stays open, tagged, with an internal note naming the work order.
    seen = client.get(f"/api/v1/tickets/{ticket_id}", headers=people.agent.headers).json()
    assert seen["status"] in ("new", "open") and "work-order" in seen["tags"]

    partner = people.partner.headers
    accepted = post(client, f"{wid}/accept", partner)
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["status"] == "accepted" and accepted.json()["technician_id"] == people.partner.id

    before = len(public_messages(runtime, ticket_id))
    offered = post(client, f"{wid}/slots", partner)
    assert offered.status_code == 200, offered.text
    slots = offered.json()["offered_slots"]
    assert 1 <= len(slots) <= 6
    messages = public_messages(runtime, ticket_id)
    assert len(messages) == before + 1
    assert "choose one of these times" in messages[-1] and f"/portal/tickets/{ticket_id}" in messages[-1]

    # Slots of the partner's choosing, days ahead (so the reminder is not due yet).
    later = (dt.datetime.now(dt.UTC) + dt.timedelta(days=3)).replace(minute=0, second=0, microsecond=0)
    chosen = [
        {
            "start": (later + dt.timedelta(hours=h)).isoformat(),
            "end": (later + dt.timedelta(hours=h + 2)).isoformat(),
        }
        for h in (0, 2)
    ]
    offered = post(client, f"{wid}/slots", partner, slots=chosen)
    assert offered.status_code == 200, offered.text
    slots = offered.json()["offered_slots"]
    # The customer confirms with their own token and sees only the customer-facing fields.
    confirmed = post(client, f"{wid}/confirm", people.customer.headers, start=slots[1]["start"])
    assert confirmed.status_code == 200, confirmed.text
    view = confirmed.json()
    assert view["status"] == "scheduled" and view["technician_first_name"] == "Partner"
    assert "partner_id" not in view and "contact_phone" not in view and "dispatch_reason" not in view
    assert "Your visit is booked for" in public_messages(runtime, ticket_id)[-1]

    # The reminder: the sweep finds the visit once it is within 24 hours, tells the customer once.
    with runtime.database.session() as session:
        soon = dt.datetime.now(dt.UTC) + dt.timedelta(hours=5)
        session.execute(
            update(WorkOrder)
            .where(WorkOrder.id == wid)
            .values(slot_start=soon, slot_end=soon + dt.timedelta(hours=2))
        )
        session.commit()
    runtime.queue.sweep()
    runtime.queue.sweep()
    reminders = [m for m in public_messages(runtime, ticket_id) if m.startswith("A reminder")]
    assert len(reminders) == 1 and "Partner visits you tomorrow" in reminders[0]
    assert client.get(f"/api/v1/work-orders/{wid}", headers=partner).json()["reminded_at"] is not None

    moved = post(client, f"{wid}/status", partner, status="en_route")
    assert moved.status_code == 200, moved.text
    assert "Partner is on the way" in public_messages(runtime, ticket_id)[-1]
    assert post(client, f"{wid}/status", partner, status="on_site").json()["arrived_at"] is not None
    told_before = len(public_messages(runtime, ticket_id))
    note = post(client, f"{wid}/notes", partner, body="Replaced the seal; the pump sounds worn.")
    assert note.status_code == 201 and note.json()["kind"] == "note" and not note.json()["customer_told"]
    parts = post(client, f"{wid}/parts", partner, parts=[{"part": "AirBrew seal", "quantity": 2}])
    assert parts.json()["parts_used"] == [{"part": "AirBrew seal", "quantity": 2}]
    photo = post(
        client,
        f"{wid}/photos",
        partner,
        filename="seal.png",
        content_type="image/png",
        content_base64=base64.b64encode(PNG).decode(),
    )
    assert photo.status_code == 201, photo.text
    download = client.get(f"/api/v1/work-order-photos/{photo.json()['id']}", headers=partner)
    assert download.status_code == 200 and download.content == PNG
    # Notes, parts and photos are internal: nothing new told to the customer.
    assert len(public_messages(runtime, ticket_id)) == told_before

    done = post(client, f"{wid}/status", partner, status="completed", outcome="fixed", note="All good.")
    assert done.status_code == 200 and done.json()["outcome"] == "fixed"
    assert "Rate the visit here" in public_messages(runtime, ticket_id)[-1]

    # Every update is in the customer's timeline as an event of the ticket.
    timeline = client.get(
        f"/api/v1/customers/{people.customer.id}/timeline?limit=200", headers=people.agent.headers
    ).json()["items"]
    actions = {item.get("action") for item in timeline if item["type"] == "event"}
    for action in (
        "work_order.created",
        "work_order.accepted",
        "work_order.schedule",
        "work_order.en_route",
        "work_order.on_site",
        "work_order.note",
        "work_order.parts",
        "work_order.photo",
        "work_order.completed",
    ):
        assert action in actions, action

    # The customer sees only what they were told; staff see everything.
    mine = client.get(f"/api/v1/work-orders/{wid}/updates", headers=people.customer.headers).json()["items"]
    assert mine and all(u["customer_told"] for u in mine)
    everything = client.get(f"/api/v1/work-orders/{wid}/updates", headers=people.agent.headers).json()[
        "items"
    ]
    assert {"note", "parts", "photo", "decline"} & {u["kind"] for u in everything} == {
        "note",
        "parts",
        "photo",
    }

    rated = post(client, f"{wid}/rating", people.customer.headers, score=5, comment="Quick and tidy")
    assert rated.status_code == 200 and rated.json()["rating"] == 5
    again = post(client, f"{wid}/rating", people.customer.headers, score=1)
    assert again.status_code == 409 and again.json()["error"]["code"] == "already_rated"
    closed = post(client, f"{wid}/close", partner)
    assert closed.status_code == 200 and closed.json()["status"] == "closed"


def test_not_fixed_gets_a_repeat_visit(client: TestClient, people: Personas, fixright: int) -> None:
    wid = work_order(client, people)["id"]
    headers = people.agent.headers  # staff act for the partner (recorded as themselves)
    assert post(client, f"{wid}/accept", headers).status_code == 200
    free = client.get(f"/api/v1/work-orders/{wid}/free-slots?limit=2", headers=headers).json()["items"]
    assert post(client, f"{wid}/confirm", headers, start=free[0]["start"]).json()["status"] == "scheduled"
    assert post(client, f"{wid}/status", headers, status="on_site").status_code == 200
    missing = post(client, f"{wid}/status", headers, status="completed")
    assert missing.status_code == 422 and missing.json()["error"]["code"] == "outcome_required"
    done = post(
        client, f"{wid}/status", headers, status="completed", outcome="not_fixed", note="Needs a pump."
    )
    assert done.status_code == 200
    repeat = post(client, f"{wid}/repeat", headers, summary="Bring the new pump")
    assert repeat.status_code == 201, repeat.text
    assert repeat.json()["repeat_of_id"] == wid and repeat.json()["status"] == "offered"
    # A fixed visit does not get one.
    fixed = post(client, f"{repeat.json()['id']}/repeat", headers)
    assert fixed.status_code == 409


def test_sla_due_at_is_carried_and_the_ticket_keeps_running(
    client: TestClient, people: Personas, fixright: int
) -> None:
    policy = client.post(
        "/api/v1/sla/policies",
        json={"name": "Standard", "targets": {"first_response": 60, "resolution": 600}},
        headers=people.admin.headers,
    )
    assert policy.status_code == 201, policy.text
    ticket = new_ticket(client, people.agent)
    ticket_id = int(str(ticket["id"]))
    # Pending pauses the SLA: making the work order moves the ticket back to open.
    client.patch(f"/api/v1/tickets/{ticket_id}", json={"status": "pending"}, headers=people.agent.headers)
    sla = client.get(f"/api/v1/tickets/{ticket_id}/sla", headers=people.agent.headers).json()
    made = work_order(client, people, ticket_id)
    after = client.get(f"/api/v1/tickets/{ticket_id}/sla", headers=people.agent.headers).json()
    resolution = next(c for c in after["clocks"] if c["metric"] == "resolution")
    assert resolution["state"] == "running"
    assert made["due_at"] is not None and resolution["due_at"] is not None
    assert abs(
        dt.datetime.fromisoformat(made["due_at"]) - dt.datetime.fromisoformat(resolution["due_at"])
    ) < (dt.timedelta(minutes=2))
    assert sla["ticket_id"] == ticket_id
    seen = client.get(f"/api/v1/tickets/{ticket_id}", headers=people.agent.headers).json()
    assert seen["status"] == "open"


def test_without_an_sla_the_kind_sets_due_at(client: TestClient, people: Personas, fixright: int) -> None:
    made = work_order(client, people, kind="install", skill="repair")
    created = dt.datetime.fromisoformat(made["created_at"])
    assert dt.datetime.fromisoformat(made["due_at"]) - created == dt.timedelta(days=7)


def test_invalid_transitions_are_409(client: TestClient, people: Personas, fixright: int) -> None:
    wid = work_order(client, people)["id"]
    partner = people.partner.headers
    for status in ("en_route", "on_site", "completed"):
        refused = post(client, f"{wid}/status", partner, status=status, outcome="fixed")
        assert refused.status_code == 409 and refused.json()["error"]["code"] == "invalid_transition"
    assert post(client, f"{wid}/slots", partner).status_code == 409
    assert post(client, f"{wid}/close", partner).status_code == 409
    assert post(client, f"{wid}/status", partner, status="accepted").status_code == 422
    assert post(client, f"{wid}/accept", partner).status_code == 200
    assert post(client, f"{wid}/accept", partner).status_code == 409
    assert post(client, f"{wid}/decline", partner, reason="too far").status_code == 409
    cancelled = post(client, f"{wid}/cancel", people.agent.headers, reason="The customer fixed it")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert post(client, f"{wid}/cancel", people.agent.headers, reason="again").status_code == 409
    assert post(client, f"{wid}/notes", partner, body="late note").status_code == 409


def test_photo_validation(client: TestClient, people: Personas, fixright: int) -> None:
    wid = work_order(client, people)["id"]
    partner = people.partner.headers
    post(client, f"{wid}/accept", partner)

    def upload(content_type: str, content: bytes) -> Any:
        return post(
            client,
            f"{wid}/photos",
            partner,
            filename="x",
            content_type=content_type,
            content_base64=base64.b64encode(content).decode(),
        )

    assert upload("application/pdf", b"%PDF-1.4").json()["error"]["code"] == "invalid_photo_type"
    assert upload("image/jpeg", PNG).json()["error"]["code"] == "invalid_photo"
    too_big = upload("image/png", PNG + b"\x00" * (10 * 1024 * 1024))
    assert too_big.status_code == 413 and too_big.json()["error"]["code"] == "photo_too_large"
    bad = post(client, f"{wid}/photos", partner, filename="x", content_type="image/png", content_base64="@@")
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_photo"
    # A page or a script dressed as an image never gets stored, so it can never be served.
    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
    assert upload("image/svg+xml", svg).json()["error"]["code"] == "invalid_photo_type"
    assert upload("image/png", b"<html><script>alert(1)</script></html>").json()["error"]["code"] == (
        "invalid_photo"
    )
    assert upload("image/webp", b"RIFF\x00\x00\x00\x00<html>").json()["error"]["code"] == "invalid_photo"
    good = upload("image/png; charset=utf-8", PNG)
    assert good.status_code == 201 and good.json()["content_type"] == "image/png"
    served = client.get(f"/api/v1/work-order-photos/{good.json()['id']}", headers=partner)
    assert served.status_code == 200 and served.content == PNG
    assert served.headers["content-type"] == "image/png"
    assert served.headers["x-content-type-options"] == "nosniff"
    assert served.headers["content-security-policy"] == "sandbox"
    assert served.headers["content-disposition"].startswith('inline; filename="x"')


def test_customer_prefill_and_customer_view_of_the_ticket(
    client: TestClient, people: Personas, fixright: int
) -> None:
    client.patch(
        f"/api/v1/customers/{people.customer.id}",
        json={"preferences": {"address": "Torstr. 5, Berlin", "postcode": "10119"}},
        headers=people.admin.headers,
    )
    ticket_id = int(str(new_ticket(client, people.agent)["id"]))
    made = work_order(client, people, ticket_id, address=None, postcode=None)
    assert made["address"] == "Torstr. 5, Berlin" and made["postcode"] == "10119"
    listed = client.get(f"/api/v1/tickets/{ticket_id}/work-orders", headers=people.customer.headers)
    assert listed.status_code == 200
    item = listed.json()["items"][0]
    assert item["id"] == made["id"] and "address" not in item and "dispatch_reason" not in item
