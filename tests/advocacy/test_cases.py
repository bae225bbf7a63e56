"""Advocacy cases through the API: opened from a theme with its evidence and tickets, tickets joining while
the case is open (and not once it is fixed), the status machine, edits, permissions, the ticket's view of
its open cases; every change audited and published."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from ombud.advocacy.models import SpikeAlert, SpikeState, Theme, ThemeState
from ombud.audit.models import AuditEvent
from ombud.events.models import Event
from ombud.runtime import Runtime
from ombud.storage.base import utcnow
from ombud.web.api import advocacy_cases as api
from tests.advocacy.cases_helpers import department, get_case, make_theme, move, open_case, theme_grows
from tests.conftest import Personas, new_ticket


def _tickets(client: TestClient, people: Personas, n: int, *, start: int = 0) -> list[dict[str, Any]]:
    return [
        new_ticket(
            client,
            people.agent,
            customer={"email": f"card{i}@example.net", "name": f"Card Holder {i}"},
            subject=f"Card declined {i}",
            body="My card is declined at checkout.",
        )
        for i in range(start, start + n)
    ]


def test_case_from_a_theme_gathers_evidence_tickets_and_a_suggested_department(
    runtime: Runtime, client: TestClient, people: Personas
) -> None:
    payments = department(client, people.advocate, name="Payments", intents=["payment_failed"])
    department(client, people.advocate, name="Logistics", kind="logistics", intents=["where_is_my_order"])
    tickets = _tickets(client, people, 3)
    theme_id = make_theme(runtime, tickets)
    with runtime.database.session() as session:
        now = utcnow()
        spikes = [
            SpikeAlert(
                theme_id=theme_id,
                metric="volume",
                started_at=now,
                detected_at=now,
                count=9,
                baseline=1,
                state=state,
            )
            for state in (SpikeState.open, SpikeState.dismissed)
        ]
        session.add_all(spikes)
        session.commit()
        spike_ids = [s.id for s in spikes]

    case = open_case(client, people.advocate, theme_id=theme_id, workaround="Pay by bank transfer meanwhile.")
    assert case["title"] == "card declined at checkout" and case["status"] == "open"
    assert case["department_id"] == payments["id"]  # suggested by the theme's intents
    assert case["owner_id"] == people.advocate.id
    assert {t["ticket_id"] for t in case["tickets"]} == {t["id"] for t in tickets}
    assert case["ticket_count"] == 3 and case["customer_count"] == 3
    figures = case["evidence"]["figures"]
    assert figures["concerns"] == 3 and figures["customers_affected"] == 3
    assert sum(day["count"] for day in figures["daily"]) == 3
    assert figures["quotes"][0]["text"].startswith("My card is declined")
    assert len(case["evidence"]["customers"]) == 3

    with runtime.database.session(write=False) as session:
        event = session.scalars(select(Event).where(Event.kind == "advocacy.case.opened")).one()
    issue = event.payload["issue"]
    assert event.payload["action"] == "opened"
    assert issue["id"] == case["id"] and issue["state"] == "open" and issue["title"] == case["title"]
    assert issue["department"] == {"id": payments["id"], "name": "Payments", "kind": "billing"}
    assert "advocacy" in issue["labels"] and "department:billing" in issue["labels"]
    assert "Customers affected: 3" in issue["body"] and "Pay by bank transfer" in issue["body"]

    with runtime.database.session(write=False) as session:
        linked = [session.get(SpikeAlert, i).case_id for i in spike_ids]  # type: ignore[union-attr]
    assert linked == [case["id"], None]  # the open spike is taken on by the case; the dismissed one not

    refreshed = client.post(f"/api/v1/advocacy/cases/{case['id']}/evidence", headers=people.lead.headers)
    assert refreshed.status_code == 200 and refreshed.json()["evidence"]["figures"]["concerns"] == 3


def test_tickets_join_while_the_case_is_open_and_not_after_it_is_fixed(
    runtime: Runtime, client: TestClient, people: Personas
) -> None:
    first = _tickets(client, people, 2)
    theme_id = make_theme(runtime, first)
    case = open_case(client, people.advocate, theme_id=theme_id)
    other_theme = make_theme(runtime, _tickets(client, people, 1, start=10), label="parcel lost")
    other = open_case(client, people.advocate, theme_id=other_theme)

    later = _tickets(client, people, 1, start=20)[0]
    theme_grows(runtime, theme_id, later)
    found = get_case(client, people.agent, case["id"])
    joined = {t["ticket_id"]: t["via"] for t in found["tickets"]}
    assert joined[later["id"]] == "theme" and found["ticket_count"] == 3
    assert later["id"] not in {t["ticket_id"] for t in get_case(client, people.agent, other["id"])["tickets"]}

    with runtime.database.session(write=False) as session:
        event = session.scalars(select(Event).where(Event.kind == "advocacy.case.ticket_joined")).one()
    assert event.ticket_id == later["id"] and event.payload["ticket"]["id"] == later["id"]

    assert move(client, people.advocate, case["id"], "acknowledged").status_code == 200
    theme_grows(runtime, theme_id, _tickets(client, people, 1, start=30)[0])
    assert get_case(client, people.agent, case["id"])["ticket_count"] == 4  # acknowledged is still open

    fixed = move(client, people.advocate, case["id"], "fixed", fix_note="Card payments work again.")
    assert fixed.status_code == 200, fixed.text
    too_late = _tickets(client, people, 1, start=40)[0]
    theme_grows(runtime, theme_id, too_late)
    assert too_late["id"] not in {
        t["ticket_id"] for t in get_case(client, people.agent, case["id"])["tickets"]
    }


def test_status_machine_rejects_invalid_moves_with_stable_codes(
    runtime: Runtime, client: TestClient, people: Personas
) -> None:
    tickets = _tickets(client, people, 1)
    case = open_case(
        client, people.advocate, title="Checkout broken on Safari", ticket_ids=[tickets[0]["id"]]
    )
    assert case["theme_id"] is None and case["ticket_count"] == 1
    case_id = case["id"]

    def code(response: Any) -> tuple[int, str]:
        return response.status_code, response.json().get("error", {}).get("code", "")

    assert code(move(client, people.advocate, case_id, "verified")) == (409, "invalid_case_transition")
    assert code(move(client, people.advocate, case_id, "customers_told")) == (409, "invalid_case_transition")
    assert code(move(client, people.advocate, case_id, "open")) == (409, "case_status_unchanged")
    assert code(move(client, people.advocate, case_id, "fixed")) == (422, "fix_note_required")
    assert code(move(client, people.advocate, case_id, "sideways")) == (422, "invalid_input")
    assert move(client, people.advocate, case_id, "in_progress").status_code == 200
    assert code(move(client, people.advocate, case_id, "acknowledged")) == (409, "invalid_case_transition")
    assert move(client, people.advocate, case_id, "closed", comment="Works as designed").status_code == 200
    assert code(move(client, people.advocate, case_id, "fixed", fix_note="x")) == (
        409,
        "invalid_case_transition",
    )
    # It came back: reopened.
    reopened = move(client, people.advocate, case_id, "in_progress")
    assert reopened.status_code == 200 and reopened.json()["status"] == "in_progress"

    with runtime.database.session(write=False) as session:
        changes = [
            (e.payload["from"], e.payload["to"])
            for e in session.scalars(
                select(Event).where(Event.kind == "advocacy.case.status_changed").order_by(Event.id)
            )
        ]
        audited = session.scalars(
            select(AuditEvent.action).where(AuditEvent.entity_type == "advocacy_case").order_by(AuditEvent.id)
        ).all()
    assert changes == [("open", "in_progress"), ("in_progress", "closed"), ("closed", "in_progress")]
    assert audited == [
        "advocacy.case.opened",
        "advocacy.case.status_changed",
        "advocacy.case.status_changed",
        "advocacy.case.status_changed",
    ]


def test_cases_are_edited_listed_filtered_and_paged(client: TestClient, people: Personas) -> None:
    payments = department(client, people.admin)
    tickets = _tickets(client, people, 3)
    made = [
        open_case(client, people.advocate, title=f"Problem {i}", ticket_ids=[t["id"]])
        for i, t in enumerate(tickets)
    ]
    edited = client.patch(
        f"/api/v1/advocacy/cases/{made[0]['id']}",
        json={
            "department_id": payments["id"],
            "workaround": "  Use the app instead. ",
            "segment": {"tier": "premium"},
            "notify_segment": True,
        },
        headers=people.lead.headers,
    )
    assert edited.status_code == 200, edited.text
    assert edited.json()["workaround"] == "Use the app instead." and edited.json()["segment"] == {
        "tier": "premium"
    }
    bad = client.patch(
        f"/api/v1/advocacy/cases/{made[0]['id']}",
        json={"segment": {"colour": "red"}},
        headers=people.lead.headers,
    )
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_segment"
    bad = client.patch(
        f"/api/v1/advocacy/cases/{made[0]['id']}", json={"department_id": 9999}, headers=people.lead.headers
    )
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "unknown_department"

    move(client, people.advocate, made[1]["id"], "acknowledged")
    page = client.get("/api/v1/advocacy/cases?limit=2", headers=people.agent.headers).json()
    assert [c["id"] for c in page["items"]] == [made[2]["id"], made[1]["id"]] and page["next_cursor"]
    rest = client.get(
        f"/api/v1/advocacy/cases?limit=2&cursor={page['next_cursor']}", headers=people.agent.headers
    ).json()
    assert [c["id"] for c in rest["items"]] == [made[0]["id"]] and rest["next_cursor"] is None
    by_status = client.get("/api/v1/advocacy/cases?status=acknowledged", headers=people.agent.headers).json()
    assert [c["id"] for c in by_status["items"]] == [made[1]["id"]]
    by_department = client.get(
        f"/api/v1/advocacy/cases?department_id={payments['id']}", headers=people.agent.headers
    ).json()
    assert [c["id"] for c in by_department["items"]] == [made[0]["id"]]

    # Tickets by hand: added, removed; unknown tickets named.
    added = client.post(
        f"/api/v1/advocacy/cases/{made[0]['id']}/tickets",
        json={"ticket_ids": [tickets[1]["id"]]},
        headers=people.advocate.headers,
    )
    assert added.status_code == 200 and added.json()["ticket_count"] == 2
    assert {t["via"] for t in added.json()["tickets"]} == {"manual"}
    unknown = client.post(
        f"/api/v1/advocacy/cases/{made[0]['id']}/tickets",
        json={"ticket_ids": [99999]},
        headers=people.advocate.headers,
    )
    assert unknown.status_code == 422 and unknown.json()["error"]["code"] == "unknown_ticket"
    removed = client.delete(
        f"/api/v1/advocacy/cases/{made[0]['id']}/tickets/{tickets[1]['id']}", headers=people.advocate.headers
    )
    assert removed.status_code == 204
    assert get_case(client, people.agent, made[0]["id"])["ticket_count"] == 1
    gone = client.delete(
        f"/api/v1/advocacy/cases/{made[0]['id']}/tickets/{tickets[1]['id']}", headers=people.advocate.headers
    )
    assert gone.status_code == 404 and gone.json()["error"]["code"] == "case_ticket_not_found"


def test_agents_read_cases_and_see_them_on_tickets_but_cannot_change_them(
    runtime: Runtime, client: TestClient, people: Personas
) -> None:
    payments = department(client, people.advocate)
    tickets = _tickets(client, people, 2)
    theme_id = make_theme(runtime, tickets)
    case = open_case(
        client,
        people.advocate,
        theme_id=theme_id,
        department_id=payments["id"],
        workaround="Pay by transfer.",
    )
    case_id = case["id"]

    assert get_case(client, people.agent, case_id)["title"] == case["title"]
    on_ticket = client.get(f"/api/v1/tickets/{tickets[0]['id']}/advocacy", headers=people.agent.headers)
    assert on_ticket.status_code == 200
    assert on_ticket.json() == [
        {
            "id": case_id,
            "title": case["title"],
            "status": "open",
            "department": "Payments",
            "workaround": "Pay by transfer.",
            "fix_note": "",
        }
    ]
    for response in (
        move(client, people.agent, case_id, "acknowledged"),
        client.patch(f"/api/v1/advocacy/cases/{case_id}", json={"title": "x"}, headers=people.agent.headers),
        client.post("/api/v1/advocacy/cases", json={"theme_id": theme_id}, headers=people.agent.headers),
        client.post(
            f"/api/v1/advocacy/cases/{case_id}/tickets",
            json={"ticket_ids": [1]},
            headers=people.agent.headers,
        ),
        client.post(f"/api/v1/advocacy/cases/{case_id}/evidence", headers=people.agent.headers),
    ):
        assert response.status_code == 403 and response.json()["error"]["code"] == "role_forbidden"
    for who in (people.customer, people.partner):
        assert client.get(f"/api/v1/advocacy/cases/{case_id}", headers=who.headers).status_code == 403
        assert client.get("/api/v1/advocacy/cases", headers=who.headers).status_code == 403
    # The customer's own ticket does not tell them about internal cases.
    own = client.get(f"/api/v1/tickets/{tickets[0]['id']}/advocacy", headers=people.customer.headers)
    assert own.status_code in (403, 404)
    assert (
        client.get("/api/v1/advocacy/cases/99999", headers=people.agent.headers).json()["error"]["code"]
        == "case_not_found"
    )


def test_a_case_keeps_gathering_after_its_theme_is_merged_into_another(
    runtime: Runtime, client: TestClient, people: Personas
) -> None:
    source = make_theme(runtime, _tickets(client, people, 1))
    target = make_theme(runtime, _tickets(client, people, 1, start=5), label="checkout payment errors")
    case = open_case(client, people.advocate, theme_id=source)
    with runtime.database.session() as session:
        theme = session.get(Theme, source)
        assert theme is not None
        theme.state, theme.merged_into_id = ThemeState.merged, target
        session.commit()
    newcomer = _tickets(client, people, 1, start=9)[0]
    theme_grows(runtime, target, newcomer)
    assert newcomer["id"] in {t["ticket_id"] for t in get_case(client, people.agent, case["id"])["tickets"]}


def test_a_case_owner_must_be_staff(client: TestClient, people: Personas) -> None:
    ticket = _tickets(client, people, 1)[0]
    for owner, code in ((people.partner.id, "owner_not_staff"), (999_999, "unknown_user")):
        refused = client.post(
            "/api/v1/advocacy/cases",
            json={"title": "Declines", "ticket_ids": [ticket["id"]], "owner_id": owner},
            headers=people.advocate.headers,
        )
        assert refused.status_code == 422 and refused.json()["error"]["code"] == code
    case = open_case(client, people.advocate, title="Declines", ticket_ids=[ticket["id"]])
    patched = client.patch(
        f"/api/v1/advocacy/cases/{case['id']}",
        json={"owner_id": people.partner.id},
        headers=people.advocate.headers,
    )
    assert patched.status_code == 422 and patched.json()["error"]["code"] == "owner_not_staff"
    assert (
        client.patch(
            f"/api/v1/advocacy/cases/{case['id']}",
            json={"owner_id": people.lead.id},
            headers=people.advocate.headers,
        ).json()["owner_id"]
        == people.lead.id
    )


def test_a_big_case_pages_its_tickets_and_counts_them_all(
    runtime: Runtime, client: TestClient, people: Personas, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(api, "DETAIL_PAGE", 2)
    tickets = _tickets(client, people, 5)
    theme_id = make_theme(runtime, tickets)
    case = open_case(client, people.advocate, theme_id=theme_id)
    assert case["ticket_count"] == 5 and case["customer_count"] == 5
    assert len(case["tickets"]) == 2 and case["tickets_next_offset"] == 2
    seen = [t["ticket_id"] for t in case["tickets"]]
    offset = case["tickets_next_offset"]
    while offset is not None:
        page = client.get(
            f"/api/v1/advocacy/cases/{case['id']}?tickets_offset={offset}", headers=people.agent.headers
        ).json()
        seen += [t["ticket_id"] for t in page["tickets"]]
        offset = page["tickets_next_offset"]
    assert sorted(seen) == sorted(t["id"] for t in tickets)
    huge = client.get(f"/api/v1/advocacy/cases?theme_id={2**63}", headers=people.agent.headers)
    assert huge.status_code == 422
