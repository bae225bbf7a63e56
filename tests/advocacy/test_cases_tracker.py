"""A case and its department's outside tracker: the case's events reach the department's webhook endpoint
as signed deliveries with an issue-tracker payload (and no other department's endpoint), and the tracker's
signed status callbacks move the case, refusing bad signatures, stale timestamps, replays and unknown
cases."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from ombud.advocacy.models import AdvocacyCase
from ombud.audit.models import AuditEvent
from ombud.runtime import Runtime
from ombud.webhooks import service as webhooks
from tests.advocacy.cases_helpers import (
    Tracker,
    department,
    get_case,
    make_theme,
    move,
    open_case,
    running_tracker,
    signed_callback,
    theme_grows,
)
from tests.conftest import Personas, new_ticket
from tests.web.workspace import sign_in


@pytest.fixture
def tracker() -> Iterator[Tracker]:
    with running_tracker() as found:
        yield found


def _endpoint(client: TestClient, people: Personas, url: str, events: list[str]) -> dict[str, Any]:
    response = client.post(
        "/api/v1/webhooks",
        json={"name": "Tracker", "url": url, "events": events},
        headers=people.admin.headers,
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def _ticket(client: TestClient, people: Personas, i: int) -> dict[str, Any]:
    return new_ticket(
        client,
        people.agent,
        customer={"email": f"buyer{i}@example.net", "name": f"Buyer {i}"},
        subject=f"Declined {i}",
        body="Card declined.",
    )


def test_case_events_reach_the_departments_tracker_signed_and_no_other(
    runtime: Runtime, client: TestClient, people: Personas, tracker: Tracker
) -> None:
    with running_tracker() as elsewhere:
        # The department's endpoint subscribes to nothing: ombud routes its own cases' events to it.
        mine = _endpoint(client, people, tracker.url, ["webhook.test"])
        other = _endpoint(client, people, elsewhere.url, ["webhook.test"])
        payments = department(client, people.admin, webhook_endpoint_id=mine["id"])
        department(client, people.admin, name="Logistics", kind="logistics", webhook_endpoint_id=other["id"])
        theme_id = make_theme(runtime, [_ticket(client, people, 0)])
        case = open_case(client, people.advocate, theme_id=theme_id, department_id=payments["id"])
        move(client, people.advocate, case["id"], "acknowledged")
        theme_grows(runtime, theme_id, _ticket(client, people, 1))
        assert elsewhere.received == []

    kinds = [r.headers["ombud-event"] for r in tracker.received]
    assert kinds == ["advocacy.case.opened", "advocacy.case.status_changed", "advocacy.case.ticket_joined"]
    for received in tracker.received:
        assert webhooks.verify(mine["secret"], received.headers["ombud-signature"], received.body)
    opened = tracker.received[0].json["event"]["data"]
    assert opened["action"] == "opened"
    issue = opened["issue"]
    assert issue["id"] == case["id"] and issue["state"] == "open" and issue["title"] == case["title"]
    assert issue["department"]["id"] == payments["id"]
    # An absolute link back, so the outside tracker can link to the case.
    assert issue["url"] == f"{runtime.settings.base_url}/agent/advocacy/cases/{case['id']}"
    assert "## Evidence" in issue["body"] and "Customers affected: 1" in issue["body"]
    moved = tracker.received[1].json["event"]["data"]
    assert moved["issue"]["state"] == "acknowledged" and (moved["from"], moved["to"]) == (
        "open",
        "acknowledged",
    )

    # An endpoint that subscribes to the case events itself gets each once, not twice.
    client.patch(
        f"/api/v1/webhooks/{mine['id']}", json={"events": ["advocacy.case.*"]}, headers=people.admin.headers
    )
    move(client, people.advocate, case["id"], "in_progress")
    assert [r.headers["ombud-event"] for r in tracker.received[3:]] == ["advocacy.case.status_changed"]


def test_signed_tracker_callbacks_move_the_case_and_bad_ones_are_refused(
    runtime: Runtime, client: TestClient, people: Personas
) -> None:
    made = department(client, people.advocate)
    secret = made["inbound_secret"]
    other = department(client, people.advocate, name="Logistics", kind="logistics")
    case = open_case(
        client,
        people.advocate,
        title="Refunds take weeks",
        ticket_ids=[_ticket(client, people, 0)["id"]],
        department_id=made["id"],
        external_ref="PAY-42",
    )
    url = f"/api/v1/advocacy/departments/{made['id']}/tracker"

    def code(response: Any) -> tuple[int, str]:
        return response.status_code, response.json().get("error", {}).get("code", "")

    good = signed_callback(
        client,
        made["id"],
        secret,
        {"external_ref": "PAY-42", "state": "acknowledged", "url": "https://t.example/PAY-42"},
    )
    assert good.status_code == 200, good.text
    assert (
        good.json()["status"] == "acknowledged" and good.json()["external_url"] == "https://t.example/PAY-42"
    )

    body = b'{"case_id": %d, "state": "in_progress"}' % case["id"]
    assert code(client.post(url, content=body)) == (401, "tracker_bad_signature")
    for odd in ("t=" + "9" * 400 + ",v1=" + "a" * 64, "t=1,v1=\u00e9", "v1=,t=", "garbage"):
        odd_headers = {b"Ombud-Signature": odd.encode("latin-1")}
        assert code(client.post(url, content=body, headers=odd_headers)) == (401, "tracker_bad_signature")
    forged = webhooks.sign("advsec_wrong", int(time.time()), body)
    assert code(client.post(url, content=body, headers={"Ombud-Signature": forged})) == (
        401,
        "tracker_bad_signature",
    )
    stale = signed_callback(
        client, made["id"], secret, {"case_id": case["id"], "state": "in_progress"}, at=time.time() - 3600
    )
    assert code(stale) == (401, "tracker_stale_signature")
    assert code(signed_callback(client, made["id"], secret, {"case_id": 99999, "state": "in_progress"})) == (
        404,
        "case_not_found",
    )
    # Another department's tracker cannot move this case.
    assert code(
        signed_callback(
            client, other["id"], other["inbound_secret"], {"case_id": case["id"], "state": "closed"}
        )
    ) == (404, "case_not_found")
    assert (
        code(signed_callback(client, made["id"], secret, {"case_id": case["id"], "state": "verified"}))[0]
        == 422
    )
    # Only absolute http(s) links are taken from a tracker (staff see it as a link on the case page).
    for bad in ("javascript:alert(document.cookie)", "/relative", "data:text/html,hi", "https://"):
        assert code(
            signed_callback(
                client, made["id"], secret, {"case_id": case["id"], "state": "in_progress", "url": bad}
            )
        ) == (422, "invalid_tracker_callback")
    assert get_case(client, people.agent, case["id"])["status"] == "acknowledged"

    header = webhooks.sign(secret, int(time.time()), body)
    first = client.post(url, content=body, headers={"Ombud-Signature": header})
    assert first.status_code == 200 and first.json()["status"] == "in_progress"
    assert code(client.post(url, content=body, headers={"Ombud-Signature": header})) == (
        409,
        "tracker_replay",
    )

    fixed = signed_callback(
        client,
        made["id"],
        secret,
        {"case_id": case["id"], "state": "fixed", "fix_note": "Refunds now go out in 2 days."},
    )
    assert fixed.status_code == 200 and fixed.json()["fix_note"] == "Refunds now go out in 2 days."
    # The same state again (a tracker retrying) changes nothing and is no error.
    again = signed_callback(client, made["id"], secret, {"case_id": case["id"], "state": "fixed"})
    assert again.status_code == 200
    # The tracker's words are not sent to customers until an advocate confirms them.
    detail = get_case(client, people.agent, case["id"])
    assert detail["status"] == "fixed" and detail["tell_started_at"] is None and detail["notices"] == []
    # Trackers close what they fixed: no error, and the case stays fixed.
    closed = signed_callback(client, made["id"], secret, {"case_id": case["id"], "state": "closed"})
    assert closed.status_code == 200 and closed.json()["status"] == "fixed"

    rotated = client.post(
        f"/api/v1/advocacy/departments/{made['id']}/rotate-secret", headers=people.admin.headers
    )
    old = signed_callback(client, made["id"], secret, {"case_id": case["id"], "state": "closed"})
    assert code(old) == (401, "tracker_bad_signature") and rotated.status_code == 200

    with runtime.database.session(write=False) as session:
        actors = session.execute(
            select(AuditEvent.actor_type, AuditEvent.actor_id, AuditEvent.after).where(
                AuditEvent.action == "advocacy.case.status_changed"
            )
        ).all()
    assert {(a.actor_type, a.actor_id) for a in actors} == {("department", made["id"])}
    assert all(a.after["via"] == "tracker" for a in actors)


def test_a_fix_reported_by_the_tracker_is_told_only_once_an_advocate_confirms_it(
    runtime: Runtime, client: TestClient, people: Personas
) -> None:
    made = department(client, people.advocate)
    ticket = _ticket(client, people, 0)
    case = open_case(
        client, people.advocate, title="Refunds", ticket_ids=[ticket["id"]], department_id=made["id"]
    )
    tell = f"/api/v1/advocacy/cases/{case['id']}/tell-customers"
    assert client.post(tell, json={}, headers=people.advocate.headers).json()["error"]["code"] == (
        "case_not_awaiting_notice"
    )
    moved = signed_callback(
        client, made["id"], made["inbound_secret"], {"case_id": case["id"], "state": "fixed"}
    )
    assert moved.status_code == 200 and moved.json()["status"] == "fixed"
    assert get_case(client, people.agent, case["id"])["notices"] == []
    # No note from the tracker: the advocate must write one.
    missing = client.post(tell, json={}, headers=people.advocate.headers)
    assert missing.status_code == 422 and missing.json()["error"]["code"] == "fix_note_required"
    assert client.post(tell, json={"fix_note": "x"}, headers=people.agent.headers).status_code == 403
    told = client.post(tell, json={"fix_note": "Refunds go out in 2 days."}, headers=people.advocate.headers)
    assert told.status_code == 200, told.text
    body = told.json()
    assert body["fix_note"] == "Refunds go out in 2 days." and body["tell_started_at"] is not None
    assert [n["customer_id"] for n in body["notices"]] == [ticket["customer_id"]]
    again = client.post(tell, json={}, headers=people.advocate.headers)
    assert again.status_code == 409 and again.json()["error"]["code"] == "case_not_awaiting_notice"


def test_only_http_links_are_kept_and_shown(runtime: Runtime, client: TestClient, people: Personas) -> None:
    ticket = _ticket(client, people, 0)
    case = open_case(client, people.advocate, title="Refunds", ticket_ids=[ticket["id"]])
    url = f"/api/v1/advocacy/cases/{case['id']}"
    for bad in ("javascript:alert(1)", "JaVaScRiPt:alert(1)", "//evil.example/x", "ftp://files.example/x"):
        refused = client.patch(url, json={"external_url": bad}, headers=people.advocate.headers)
        assert refused.status_code == 422, (bad, refused.text)
    good = client.patch(
        url, json={"external_url": "https://t.example/PAY-1"}, headers=people.advocate.headers
    )
    assert good.status_code == 200 and good.json()["external_url"] == "https://t.example/PAY-1"
    long_url = "https://t.example/" + "a" * 1500
    assert (
        client.patch(url, json={"external_url": long_url}, headers=people.advocate.headers).status_code == 200
    )
    # A bad link stored before (e.g. by an older version) is shown as text, never as a link.
    with runtime.database.session() as session:
        session.get(AdvocacyCase, case["id"]).external_url = "javascript:alert(1)"  # type: ignore[union-attr]
        session.commit()
    sign_in(client, runtime, "agent@desk.test")
    page = client.get(f"/agent/advocacy/cases/{case['id']}")
    assert page.status_code == 200 and 'href="javascript:' not in page.text
