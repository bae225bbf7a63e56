"""The workspace: the ticket's resolutions panel (the helper's one-click proposal, the form), the
approvals page, the admin's policy page (a refused policy is shown with its problems and the old one
stays) and the ledger."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ombud.runtime import Runtime
from tests.conftest import Personas, new_ticket
from tests.resolutions.helpers import POLICY, purchase
from tests.web.workspace import form_csrf, sign_in

LATE = "Hello, the parcel is late and I need it by Friday!"


@pytest.fixture
def second(client: TestClient) -> Iterator[TestClient]:
    with TestClient(client.app, raise_server_exceptions=False) as other:
        yield other


def _resolutions(client: TestClient, people: Personas, ticket_id: Any) -> list[dict[str, Any]]:
    response = client.get(f"/api/v1/tickets/{ticket_id}/resolutions", headers=people.lead.headers)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def test_the_admin_edits_the_policy_and_a_refused_one_changes_nothing(
    client: TestClient, runtime: Runtime, people: Personas
) -> None:
    ticket = new_ticket(client, people.customer)
    csrf = sign_in(client, runtime, "admin@desk.test")
    before = client.get(f"/agent/tickets/{ticket['id']}")
    assert before.status_code == 200 and 'No concession policy yet: <a href="/agent/policy">' in before.text
    page = client.get("/agent/policy")
    assert page.status_code == 200 and "No policy yet" in page.text
    saved = client.post(
        "/agent/policy",
        data={"source": POLICY, "comment": "first", "csrf_token": csrf},
        follow_redirects=False,
    )
    assert saved.status_code == 303
    shown = client.get(saved.headers["location"]).text
    assert "version 1" in shown and "The new policy is in force" in shown

    refused = client.post(
        "/agent/policy", data={"source": POLICY.replace("max = 1000", "max = 10"), "csrf_token": csrf}
    )
    assert refused.status_code == 422
    assert "limit #" in refused.text and "(line " in refused.text and "stays in force" in refused.text
    assert "max = 10\n" in refused.text  # the draft is kept for fixing
    assert "In force: <strong>version 1</strong>" in refused.text
    assert client.get("/api/v1/resolutions/policy", headers=people.agent.headers).json()["version"] == 1
    forged = client.post("/agent/policy", data={"source": POLICY, "csrf_token": "nope"})
    assert forged.status_code == 403


def test_an_agent_proposes_from_the_panel_and_a_lead_approves(
    client: TestClient, second: TestClient, runtime: Runtime, people: Personas
) -> None:
    client.put("/api/v1/resolutions/policy", json={"source": POLICY}, headers=people.admin.headers)
    bought = purchase(client, people, days_ago=5)
    ticket = new_ticket(client, people.customer, subject="Late parcel", body=LATE)
    csrf = sign_in(client, runtime, "agent@desk.test")
    page = client.get(f"/agent/tickets/{ticket['id']}")
    assert page.status_code == 200
    assert 'id="resolutions"' in page.text and "Suggested:" in page.text and "Propose it" in page.text
    # The one-click form carries the suggestion: store credit worth the shipping fee.
    one_click = re.search(
        r'<form method="post" action="/agent/tickets/\d+/resolutions" class="inline">(.*?)</form>',
        page.text,
        re.S,
    )
    assert one_click is not None
    fields = dict(re.findall(r'name="(\w+)" value="([^"]*)"', one_click.group(1)))
    assert fields["kind"] == "credit" and fields["amount"] == "5.00"
    posted = client.post(f"/agent/tickets/{ticket['id']}/resolutions", data=fields, follow_redirects=False)
    assert posted.status_code == 303 and posted.headers["location"].endswith("#resolutions")

    big = client.post(
        f"/agent/tickets/{ticket['id']}/resolutions",
        data={
            "kind": "refund",
            "amount": "80",
            "currency": "EUR",
            "reason": "late_delivery",
            "purchase_id": str(bought),
            "apply": "1",
            "csrf_token": csrf,
        },
        follow_redirects=False,
    )
    assert big.status_code == 303
    made = _resolutions(client, people, ticket["id"])
    assert [(r["kind"], r["status"]) for r in made] == [("credit", "applied"), ("refund", "pending_approval")]
    again = client.get(f"/agent/tickets/{ticket['id']}").text
    assert "waiting for Lead" in again and "needs approval: 80.00 EUR is over the agent&#39;s limit" in again
    bad = client.post(
        f"/agent/tickets/{ticket['id']}/resolutions",
        data={
            "kind": "refund",
            "amount": "lots",
            "currency": "EUR",
            "reason": "late_delivery",
            "csrf_token": csrf,
        },
    )
    assert bad.status_code == 422

    lead_csrf = sign_in(second, runtime, "lead@desk.test")
    approvals = second.get("/agent/approvals")
    assert approvals.status_code == 200
    assert (
        "over the agent&#39;s limit of 50" in approvals.text and f"Ticket #{ticket['id']}" in approvals.text
    )
    assert "credit" in approvals.text  # the customer's earlier concession is in the context
    decided = second.post(
        f"/agent/resolutions/{made[1]['id']}/approve",
        data={"comment": "fine", "back": "/agent/approvals", "csrf_token": lead_csrf},
        follow_redirects=False,
    )
    assert decided.status_code == 303 and decided.headers["location"] == "/agent/approvals"
    assert _resolutions(client, people, ticket["id"])[1]["status"] == "applied"
    assert "Nothing waits for your approval" in second.get("/agent/approvals").text
    # The agent cannot approve through the workspace either (own request, and not the approver).
    sneaky = client.post(f"/agent/resolutions/{made[1]['id']}/approve", data={"csrf_token": csrf})
    assert sneaky.status_code in (403, 409)

    ledger = second.get("/agent/ledger")
    assert ledger.status_code == 200 and "85.00 EUR in all" in ledger.text
    download = re.search(r'href="(/api/v1/resolutions/ledger\?format=csv[^"]*)"', ledger.text)
    assert download is not None
    exported = second.get(download.group(1).replace("&amp;", "&"))
    assert exported.status_code == 200 and exported.text.count("\n") == 3
    filtered = second.get("/agent/ledger?kind=credit&status=applied")
    assert "5.00 EUR in all" in filtered.text
    assert form_csrf(filtered.text) == lead_csrf
