"""What a partner reads of the customer and of other companies: the customer's words without insults, and
nothing of a company the work order was offered to before (its decline, its reason, its photos), nor the
staff's own notes about the partner."""

from __future__ import annotations

import base64
from typing import Any

from fastapi.testclient import TestClient

from ombud.runtime import Runtime
from tests.conftest import Personas, new_ticket
from tests.partners.conftest import make_partner, partner_user, work_order

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16
ABUSIVE = "You useless idiots, my boiler leaks under the valve"


def post(client: TestClient, path: str, headers: dict[str, str], **body: Any) -> Any:
    return client.post(f"/api/v1/work-orders/{path}", json=body, headers=headers)


def test_a_partner_reads_the_concern_and_summary_without_insults(
    client: TestClient, runtime: Runtime, people: Personas
) -> None:
    make_partner(runtime, "A Repairs", people.partner.id)
    ticket_id = int(str(new_ticket(client, people.agent)["id"]))
    concern = client.post(
        f"/api/v1/tickets/{ticket_id}/concerns", json={"text": ABUSIVE}, headers=people.agent.headers
    )
    assert concern.status_code == 201, concern.text
    made = work_order(client, people, ticket_id, concern_id=concern.json()["id"], summary=ABUSIVE)
    assert "idiots" not in made["summary"] and "boiler leaks under the valve" in made["summary"]
    visit = client.get(f"/api/v1/work-orders/{made['id']}/visit", headers=people.partner.headers).json()
    assert "boiler leaks under the valve" in visit["concern_summary"]
    assert "idiots" not in visit["concern_summary"] and "useless" not in visit["concern_summary"]
    assert "idiots" not in visit["work_order"]["summary"]
    updates = client.get(f"/api/v1/work-orders/{made['id']}/updates", headers=people.partner.headers)
    assert all("idiots" not in u["body"] for u in updates.json()["items"])
    # A clean summary is kept as written (the scrub would trim its full stop).
    clean = work_order(client, people, ticket_id, summary="Replace the valve.")
    assert clean["summary"] == "Replace the valve."


def test_a_partner_reads_the_rating_comment_without_insults(
    client: TestClient, runtime: Runtime, people: Personas
) -> None:
    make_partner(runtime, "A Repairs", people.partner.id)
    wid = work_order(client, people)["id"]
    h = people.partner.headers
    assert post(client, f"{wid}/accept", h).status_code == 200
    free = client.get(f"/api/v1/work-orders/{wid}/free-slots?limit=1", headers=h).json()["items"]
    assert post(client, f"{wid}/confirm", h, start=free[0]["start"]).status_code == 200
    assert post(client, f"{wid}/status", h, status="on_site").status_code == 200
    assert post(client, f"{wid}/status", h, status="completed", outcome="fixed").status_code == 200
    rated = post(client, f"{wid}/rating", people.customer.headers, score=2, comment="Late, you morons. Tidy.")
    assert rated.status_code == 200 and "morons" in rated.json()["rating_comment"]  # their own words
    seen = client.get(f"/api/v1/work-orders/{wid}", headers=h).json()
    assert seen["rating"] == 2 and "morons" not in seen["rating_comment"] and "Tidy" in seen["rating_comment"]
    bodies = [u["body"] for u in client.get(f"/api/v1/work-orders/{wid}/updates", headers=h).json()["items"]]
    assert any(b.startswith("2/5") for b in bodies) and not any("morons" in b for b in bodies)
    staff = client.get(f"/api/v1/work-orders/{wid}", headers=people.agent.headers).json()
    assert "morons" in staff["rating_comment"]  # staff read the record as it is


def test_after_a_decline_the_next_partner_sees_nothing_of_the_first(
    client: TestClient, runtime: Runtime, people: Personas
) -> None:
    a = make_partner(runtime, "A Repairs", people.partner.id, areas=["101"])
    tech_b = partner_user(runtime, "b@partners.test", name="Bea Bauer")
    b = make_partner(runtime, "B Repairs", tech_b.id, areas=["10"])
    order = work_order(client, people, postcode="10115")
    assert order["partner_id"] == a  # the longer postcode prefix wins
    wid = order["id"]
    photo = post(
        client,
        f"{wid}/photos",
        people.partner.headers,
        filename="a.png",
        content_type="image/png",
        content_base64=base64.b64encode(PNG).decode(),
    )
    assert photo.status_code == 201
    declined = post(client, f"{wid}/decline", people.partner.headers, reason="Too far for A Repairs")
    assert declined.status_code == 200
    assert declined.json()["partner_id"] is None and declined.json()["declined_by"] == []
    staff = client.get(f"/api/v1/work-orders/{wid}", headers=people.agent.headers).json()
    assert staff["partner_id"] == b and staff["declined_by"] == [a]
    hb = tech_b.headers
    seen = client.get(f"/api/v1/work-orders/{wid}", headers=hb).json()
    assert seen["declined_by"] == [] and seen["dispatch_reason"] == ""
    listed = client.get("/api/v1/work-orders", headers=hb).json()["items"]
    assert [(w["id"], w["declined_by"], w["dispatch_reason"]) for w in listed] == [(wid, [], "")]
    updates = client.get(f"/api/v1/work-orders/{wid}/updates", headers=hb).json()["items"]
    text = " ".join(u["body"] for u in updates)
    assert "Too far" not in text and "A Repairs" not in text
    assert next(u["kind"] for u in updates) == "created"
    assert client.get(f"/api/v1/work-orders/{wid}/photos", headers=hb).json()["items"] == []
    assert client.get(f"/api/v1/work-order-photos/{photo.json()['id']}", headers=hb).status_code == 404
    # A is gone from it entirely; staff still see everything.
    assert client.get(f"/api/v1/work-orders/{wid}", headers=people.partner.headers).status_code == 404
    all_updates = client.get(f"/api/v1/work-orders/{wid}/updates", headers=people.agent.headers).json()
    assert "Too far for A Repairs" in " ".join(u["body"] for u in all_updates["items"])
    staff_photos = client.get(f"/api/v1/work-orders/{wid}/photos", headers=people.agent.headers).json()
    assert len(staff_photos["items"]) == 1


def test_a_partner_does_not_read_the_staff_notes_about_it(
    client: TestClient, runtime: Runtime, people: Personas
) -> None:
    a = make_partner(runtime, "A Repairs", people.partner.id)
    noted = client.patch(
        f"/api/v1/partners/{a}", json={"notes": "Invoices late; on review"}, headers=people.admin.headers
    )
    assert noted.status_code == 200 and noted.json()["notes"] == "Invoices late; on review"
    h = people.partner.headers
    assert client.get(f"/api/v1/partners/{a}", headers=h).json()["notes"] == ""
    assert [p["notes"] for p in client.get("/api/v1/partners", headers=h).json()["items"]] == [""]
    assert client.get(f"/api/v1/partners/{a}", headers=people.agent.headers).json()["notes"] != ""


# What a partner token may read: its own partner network and the knowledge base's public and partner
# articles. Every other list in the API (tickets, customers, search, reports, advocacy, users, webhooks,
# events...) refuses it.
PARTNER_READABLE = {
    "/api/v1/health",
    "/api/v1/me",
    "/api/v1/openapi.json",
    "/api/v1/kb/articles",
    "/api/v1/kb/categories",
    "/api/v1/partners",
    "/api/v1/partner-feedback",
    "/api/v1/work-orders",
}


def test_every_other_api_list_refuses_a_partner(
    client: TestClient, runtime: Runtime, people: Personas
) -> None:
    make_partner(runtime, "A Repairs", people.partner.id)
    work_order(client, people)
    paths = client.get("/api/v1/openapi.json").json()["paths"]
    lists = sorted(p for p, ops in paths.items() if "get" in ops and "{" not in p)
    assert "/api/v1/tickets" in lists and "/api/v1/users" in lists
    readable = []
    for path in lists:
        got = client.get(path, headers=people.partner.headers)
        assert got.status_code != 500, path
        if got.status_code < 400:
            readable.append(path)
    assert set(readable) <= PARTNER_READABLE, set(readable) - PARTNER_READABLE
    internal = client.post(
        "/api/v1/kb/articles",
        json={
            "title": "Escalation matrix",
            "body": "Who to call.",
            "audience": "internal",
            "status": "published",
        },
        headers=people.admin.headers,
    )
    assert internal.status_code == 201, internal.text
    seen = client.get("/api/v1/kb/articles", headers=people.partner.headers).json()["items"]
    assert internal.json()["id"] not in [a["id"] for a in seen]
    article = client.get(f"/api/v1/kb/articles/{internal.json()['id']}", headers=people.partner.headers)
    assert article.status_code == 404
