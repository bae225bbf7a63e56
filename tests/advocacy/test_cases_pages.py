"""The workspace's case pages as staff use them: an advocate opens a case from a theme and moves it on the
board, edits the workaround and fixes it with a note; departments are added with the secret shown once; an
agent sees the case and its workaround on the ticket (with a way to put it into the reply) but cannot
change anything."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from ombud.advocacy.models import AdvocacyCase, CaseStatus
from ombud.runtime import Runtime
from ombud.storage.base import utcnow
from ombud.web import advocacy_case_views as views
from tests.advocacy.cases_helpers import get_case, make_theme
from tests.conftest import Personas, new_ticket
from tests.web.workspace import form_csrf, sign_in


def _tickets(client: TestClient, people: Personas) -> list[dict[str, object]]:
    return [
        new_ticket(
            client,
            people.agent,
            customer={"email": f"page{i}@example.net", "name": f"Page Reader {i}"},
            subject=f"Login loop {i}",
            body="The app sends me back to the login screen.",
        )
        for i in range(2)
    ]


def test_advocate_runs_a_case_from_the_pages(runtime: Runtime, client: TestClient, people: Personas) -> None:
    tickets = _tickets(client, people)
    theme_id = make_theme(runtime, tickets, label="login loop in app", intent="login_problem")
    csrf = sign_in(client, runtime, "advocate@desk.test")

    added = client.post(
        "/agent/advocacy/departments",
        data={"name": "Mobile app", "kind": "engineering", "intents": "login_problem", "csrf_token": csrf},
    )
    assert added.status_code == 200
    secret = re.search(r'<code class="secret">(advsec_[^<]+)</code>', added.text)
    assert secret and "shown only this once" in added.text
    listing = client.get("/agent/advocacy/departments")
    assert "Mobile app" in listing.text and secret.group(1) not in listing.text

    opened = client.post(
        "/agent/advocacy/cases",
        data={"theme_id": str(theme_id), "workaround": "Clear the app's cache.", "csrf_token": csrf},
        follow_redirects=False,
    )
    assert opened.status_code == 303
    page = client.get(opened.headers["location"])
    assert page.status_code == 200 and "Case #" in page.text and "The case is open." in page.text
    assert "login loop in app" in page.text and "Mobile app" in page.text  # the suggested department
    assert "<svg" in page.text  # the evidence chart
    assert "Page Reader 0" in page.text and "Login loop 1" in page.text
    case_id = int(opened.headers["location"].split("/")[-1].split("?")[0])

    board = client.get("/agent/advocacy/cases")
    assert board.status_code == 200 and f"#{case_id} login loop in app" in board.text
    column = board.text.split('id="col-open"')[1].split("</section>")[0]
    assert f"#{case_id}" in column

    moved = client.post(
        f"/agent/advocacy/cases/{case_id}/transition",
        data={"status": "acknowledged", "csrf_token": csrf},
        follow_redirects=False,
    )
    assert moved.status_code == 303
    edited = client.post(
        f"/agent/advocacy/cases/{case_id}/edit",
        data={
            "title": "Login loop in the app",
            "workaround": "Log in on the website instead.",
            "segment_tier": "premium",
            "csrf_token": csrf,
        },
    )
    assert edited.status_code == 200 and "The case is saved." in edited.text
    too_long = client.post(
        f"/agent/advocacy/cases/{case_id}/edit", data={"title": "x" * 250, "csrf_token": csrf}
    )
    assert too_long.status_code == 422 and "title" in too_long.text
    assert get_case(client, people.agent, case_id)["workaround"] == "Log in on the website instead."
    assert get_case(client, people.agent, case_id)["segment"] == {"tier": "premium"}

    fixed = client.post(
        f"/agent/advocacy/cases/{case_id}/transition",
        data={"status": "fixed", "fix_note": "Version 4.2 keeps you signed in.", "csrf_token": csrf},
    )
    assert fixed.status_code == 200 and "Customers told" in fixed.text
    assert "Version 4.2 keeps you signed in." in fixed.text
    # Nobody could be emailed (no relay in this runtime): every notice shows why.
    assert (
        get_case(client, people.agent, case_id)["notice_counts"]["pending"]
        + get_case(client, people.agent, case_id)["notice_counts"]["failed"]
        == 2
    )

    bad = client.post(
        f"/agent/advocacy/cases/{case_id}/transition", data={"status": "open", "csrf_token": csrf}
    )
    assert bad.status_code == 409
    forged = client.post(
        f"/agent/advocacy/cases/{case_id}/transition", data={"status": "closed", "csrf_token": "nope"}
    )
    assert forged.status_code == 403


def test_agent_sees_the_case_on_the_ticket_and_cannot_change_it(
    runtime: Runtime, client: TestClient, people: Personas
) -> None:
    tickets = _tickets(client, people)
    theme_id = make_theme(runtime, tickets, label="login loop in app")
    case = client.post(
        "/api/v1/advocacy/cases",
        json={"theme_id": theme_id, "workaround": "Log in on the website instead."},
        headers=people.advocate.headers,
    ).json()
    unrelated = new_ticket(client, people.agent, subject="Where is my parcel", body="It is late.")

    csrf = sign_in(client, runtime, "agent@desk.test")
    ticket_page = client.get(f"/agent/tickets/{tickets[0]['id']}")
    assert ticket_page.status_code == 200
    panel = ticket_page.text.split('id="advocacy"')[1].split("</section>")[0]
    assert f"Case #{case['id']}: login loop in app" in panel
    assert "Log in on the website instead." in panel and "Insert into reply" in panel
    assert 'id="advocacy"' not in client.get(f"/agent/tickets/{unrelated['id']}").text

    board = client.get("/agent/advocacy/cases")
    assert board.status_code == 200 and "Open a case" not in board.text
    page = client.get(f"/agent/advocacy/cases/{case['id']}")
    assert (
        page.status_code == 200 and "Move the case" not in page.text and "Log in on the website" in page.text
    )
    refused = client.post(
        f"/agent/advocacy/cases/{case['id']}/transition", data={"status": "acknowledged", "csrf_token": csrf}
    )
    assert refused.status_code == 403
    departments = client.post("/agent/advocacy/departments", data={"name": "Sneaky", "csrf_token": csrf})
    assert departments.status_code == 403
    assert form_csrf(page.text) == csrf


def test_another_ticket_of_an_affected_customer_shows_the_case_they_wait_on(
    runtime: Runtime, client: TestClient, people: Personas
) -> None:
    tickets = _tickets(client, people)
    theme_id = make_theme(runtime, tickets, label="login loop in app")
    case = client.post(
        "/api/v1/advocacy/cases", json={"theme_id": theme_id}, headers=people.advocate.headers
    ).json()
    later = new_ticket(
        client,
        people.agent,
        customer={"email": "page0@example.net", "name": "Page Reader 0"},
        subject="Invoice address",
        body="Please change the address on my invoice.",
    )
    stranger = new_ticket(client, people.agent, subject="Invoice address", body="Change my address.")

    sign_in(client, runtime, "agent@desk.test")
    panel = client.get(f"/agent/tickets/{later['id']}").text.split('id="advocacy"')[1].split("</section>")[0]
    assert "This customer is also waiting on" in panel
    assert f"Case #{case['id']}: login loop in app" in panel and f"#{tickets[0]['id']}" in panel
    assert f"#{tickets[1]['id']}" not in panel  # another customer's ticket in the same case
    # On a ticket the case covers, it is shown once, as this ticket's known problem.
    own_page = client.get(f"/agent/tickets/{tickets[0]['id']}").text
    own = own_page.split('id="advocacy"')[1].split("</section>")[0]
    assert "also waiting on" not in own and own.count(f"Case #{case['id']}:") == 1
    assert 'id="advocacy"' not in client.get(f"/agent/tickets/{stranger['id']}").text


def test_the_board_counts_every_case_and_pages_a_column(
    runtime: Runtime, client: TestClient, people: Personas
) -> None:
    """More cases than a column shows: the column says how many there are and links to all of them."""
    ticket = _tickets(client, people)[0]
    with runtime.database.session() as session:
        now = utcnow()
        for i in range(views.COLUMN + 5):
            session.add(
                AdvocacyCase(title=f"Bulk case {i}", status=CaseStatus.open, opened_at=now, updated_at=now)
            )
        session.add(
            AdvocacyCase(title="The only fixed one", status=CaseStatus.fixed, opened_at=now, updated_at=now)
        )
        session.commit()
    sign_in(client, runtime, "agent@desk.test")
    board = client.get("/agent/advocacy/cases")
    assert board.status_code == 200
    column = board.text.split('id="col-open"')[1].split("</section>")[0]
    assert f"({views.COLUMN + 5})" in column and column.count('class="case-card"') == views.COLUMN
    assert f"All {views.COLUMN + 5} open" in column and "/agent/advocacy/cases?status=open" in column
    assert "The only fixed one" in board.text
    full = client.get("/agent/advocacy/cases?status=open")
    assert full.status_code == 200 and full.text.count('class="case-card"') == views.COLUMN + 5
    assert 'id="col-fixed"' not in full.text and ticket["id"]


def test_forms_refuse_huge_ids_and_keep_long_tracker_links(
    runtime: Runtime, client: TestClient, people: Personas
) -> None:
    tickets = _tickets(client, people)
    csrf = sign_in(client, runtime, "advocate@desk.test")
    for odd in ("9" * 5000, str(2**63), "12 99999999999999999999"):
        response = client.post(
            "/agent/advocacy/cases", data={"title": "Odd", "ticket_ids": odd, "csrf_token": csrf}
        )
        assert response.status_code == 422, (odd[:30], response.status_code)
    opened = client.post(
        "/agent/advocacy/cases",
        data={"title": "Refunds", "ticket_ids": str(tickets[0]["id"]), "csrf_token": csrf},
        follow_redirects=False,
    )
    case_id = int(opened.headers["location"].split("/")[-1].split("?")[0])
    long_url = "https://tracker.example/issues/" + "a" * 1200
    saved = client.post(
        f"/agent/advocacy/cases/{case_id}/edit",
        data={"title": "Refunds", "external_url": long_url, "csrf_token": csrf},
        follow_redirects=False,
    )
    assert saved.status_code == 303, saved.text
    assert get_case(client, people.agent, case_id)["external_url"] == long_url
    bad = client.post(
        f"/agent/advocacy/cases/{case_id}/edit",
        data={"title": "Refunds", "external_url": "javascript:alert(1)", "csrf_token": csrf},
    )
    assert bad.status_code == 422
    huge = client.get(f"/api/v1/advocacy/cases?department_id={2**63}", headers=people.agent.headers)
    assert huge.status_code == 422
