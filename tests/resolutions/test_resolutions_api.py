"""Concessions within policy through the API: applied at once inside the proposer's limits, otherwise an
approval request to a named approver who decides within their own limits; per-customer periods, refund
windows, tiers and the second-person rule; a refused policy keeps the previous one in force; every
decision is audited and published."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from ombud.accounts import service as accounts
from ombud.accounts.models import Role
from ombud.events import service as events
from ombud.runtime import Runtime
from tests.conftest import Personas, new_ticket
from tests.resolutions.helpers import POLICY, decide, propose, purchase, upload


def _kinds(runtime: Runtime, ticket_id: Any) -> list[str]:
    with runtime.database.session(write=False) as session:
        return [e.kind for e in events.history(session=session, ticket_id=int(ticket_id))]


def test_a_refused_policy_names_the_rule_and_the_previous_one_stays_in_force(
    client: TestClient, people: Personas
) -> None:
    assert client.get("/api/v1/resolutions/policy", headers=people.agent.headers).status_code == 409
    first = upload(client, people)
    assert first["version"] == 1 and first["active"]
    assert first["summary"]["limits"]["premium"]["agent"]["refund"] == "100"

    bad = POLICY.replace("max = 50", "max = 500")
    response = client.put("/api/v1/resolutions/policy", json={"source": bad}, headers=people.admin.headers)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "invalid_policy"
    assert "limit #1" in error["message"] and "previous policy stays in force" in error["message"]
    assert error["details"][0]["line"] == POLICY.splitlines().index("[[limit]]") + 1

    broken = client.put(
        "/api/v1/resolutions/policy",
        json={"source": "base_currency = \n[currencies]\n"},
        headers=people.admin.headers,
    )
    assert broken.status_code == 422 and broken.json()["error"]["details"][0]["line"] == 1

    current = client.get("/api/v1/resolutions/policy", headers=people.agent.headers).json()
    assert current["version"] == 1 and current["source"] == POLICY
    # The limits of version 1 still apply: 60 EUR is over the agent's 50.
    ticket = new_ticket(client, people.customer)
    bought = purchase(client, people, days_ago=5)
    assert propose(client, people.agent, ticket["id"], amount="60", purchase_id=bought)["status"] == (
        "pending_approval"
    )

    for who in (people.agent, people.lead, people.customer):
        denied = client.put("/api/v1/resolutions/policy", json={"source": POLICY}, headers=who.headers)
        assert denied.status_code == 403
    second = upload(client, people, POLICY.replace("max = 1000", "max = 2000"))
    assert second["version"] == 2
    versions = client.get("/api/v1/resolutions/policy/versions", headers=people.admin.headers).json()
    assert [(v["version"], v["active"]) for v in versions] == [(2, True), (1, False)]
    back = client.post("/api/v1/resolutions/policy/versions/1/activate", headers=people.admin.headers)
    assert back.status_code == 200 and back.json()["version"] == 1


def test_inside_the_limits_it_applies_at_once_and_is_audited(
    runtime: Runtime, client: TestClient, people: Personas
) -> None:
    upload(client, people)
    ticket = new_ticket(client, people.customer)
    bought = purchase(client, people, days_ago=5)
    made = propose(client, people.agent, ticket["id"], amount="40", purchase_id=bought, note="sorry")
    assert made["status"] == "applied"
    assert made["amount"] == "40.00" and made["currency"] == "EUR" and made["base_amount"] == "40.00"
    assert made["applied_by_id"] == people.agent.id and made["proposed_by_id"] == people.agent.id
    assert made["policy_check"]["check"]["within"] is True
    assert _kinds(runtime, ticket["id"])[-2:] == ["resolution.proposed", "resolution.applied"]
    trail = client.get(f"/api/v1/tickets/{ticket['id']}/events", headers=people.lead.headers).json()
    applied = [e for e in trail if e["action"] == "resolution.applied"]
    assert applied[0]["entity_type"] == "resolution" and applied[0]["entity_id"] == made["id"]
    listed = client.get(f"/api/v1/tickets/{ticket['id']}/resolutions", headers=people.agent2.headers).json()
    assert [r["id"] for r in listed["items"]] == [made["id"]]
    # 60 USD is 30 EUR at the policy's rate: within the agent's limit too.
    in_dollars = propose(client, people.agent, ticket["id"], amount="60", currency="USD", purchase_id=bought)
    assert in_dollars["status"] == "applied" and in_dollars["base_amount"] == "30.00"


def test_outside_the_limits_it_goes_to_a_named_approver_who_decides(
    runtime: Runtime, client: TestClient, people: Personas
) -> None:
    upload(client, people)
    ticket = new_ticket(client, people.customer)
    bought = purchase(client, people, days_ago=5)
    earlier = propose(client, people.agent, ticket["id"], amount="10", purchase_id=bought)
    request = propose(client, people.agent, ticket["id"], amount="80", purchase_id=bought)
    assert request["status"] == "pending_approval"
    assert request["approver_id"] == people.lead.id  # the lowest rank whose limit covers it
    check = request["policy_check"]
    assert [f["rule"] for f in check["check"]["failures"]] == ["role_limit"]
    assert "over the agent's limit of 50" in check["check"]["failures"][0]["message"]
    assert [p["id"] for p in check["context"]["past_concessions"]] == [earlier["id"]]
    assert _kinds(runtime, ticket["id"])[-1] == "approval.requested"

    queue = client.get("/api/v1/resolutions/approvals", headers=people.lead.headers).json()
    assert [r["id"] for r in queue["items"]] == [request["id"]]
    assert client.get("/api/v1/resolutions/approvals", headers=people.admin.headers).json()["items"] == []
    everyone = client.get("/api/v1/resolutions/approvals?everyone=true", headers=people.admin.headers).json()
    assert [r["id"] for r in everyone["items"]] == [request["id"]]

    # Nobody approves their own request; another agent is not the approver; customers and partners never.
    assert (
        decide(client, people.agent, request["id"], "approve", status=403)["error"]["code"] == "own_request"
    )
    assert decide(client, people.agent2, request["id"], "approve", status=403)["error"]["code"] == (
        "not_your_approval"
    )
    for who in (people.customer, people.partner):
        assert decide(client, who, request["id"], "approve", status=403)["error"]["code"] == "role_forbidden"
    assert decide(client, people.lead, request["id"], "reject", status=422, comment=" ")["error"]["code"] == (
        "comment_required"
    )

    approved = decide(client, people.lead, request["id"], "approve", comment="Loyal customer")
    assert approved["status"] == "applied"
    assert approved["decided_by_id"] == people.lead.id and approved["decision_comment"] == "Loyal customer"
    assert _kinds(runtime, ticket["id"])[-2:] == ["approval.approved", "resolution.applied"]
    assert decide(client, people.lead, request["id"], "approve", status=409)["error"]["code"] == "not_pending"


def test_the_approvers_own_limit_is_checked_too(client: TestClient, people: Personas) -> None:
    upload(client, people)
    ticket = new_ticket(client, people.customer)
    bought = purchase(client, people, days_ago=5, amount=400)
    big = propose(client, people.agent, ticket["id"], amount="250", purchase_id=bought)
    # Over every lead's and advocate's 200: it goes to an admin.
    assert big["status"] == "pending_approval" and big["approver_id"] == people.admin.id
    named = propose(
        client, people.agent, ticket["id"], amount="250", purchase_id=bought, approver_id=people.lead.id
    )
    assert named["approver_id"] == people.lead.id
    refused = decide(client, people.lead, named["id"], "approve", status=403)
    assert (
        refused["error"]["code"] == "over_approver_limit"
        and "your own limit of 200" in refused["error"]["message"]
    )
    # An admin may decide any request, within the admin's limit.
    assert decide(client, people.admin, named["id"], "approve")["status"] == "applied"
    # Nobody may be named to approve their own request, nor someone who cannot approve.
    for approver, code in ((people.agent.id, "invalid_approver"), (people.agent2.id, "invalid_approver")):
        response = propose(
            client,
            people.agent,
            ticket["id"],
            status=422,
            amount="250",
            purchase_id=bought,
            approver_id=approver,
        )
        assert response["error"]["code"] == code


def test_a_reason_that_needs_a_second_person_waits_even_within_the_limits(
    client: TestClient, people: Personas
) -> None:
    upload(client, people)
    ticket = new_ticket(client, people.customer)
    gesture = propose(client, people.lead, ticket["id"], kind="credit", amount="10", reason="goodwill")
    assert gesture["status"] == "pending_approval"
    assert gesture["policy_check"]["check"]["second_person"] is True
    assert gesture["approver_id"] not in (people.lead.id, None)
    assert decide(client, people.lead, gesture["id"], "approve", status=403)["error"]["code"] == "own_request"
    assert decide(client, people.admin, gesture["id"], "approve")["status"] == "applied"


def test_the_per_customer_limit_over_a_period(client: TestClient, people: Personas) -> None:
    upload(client, people)
    ticket = new_ticket(client, people.customer)
    other = new_ticket(client, people.other_customer, customer={"email": "tom@example.org"})
    bought = purchase(client, people, days_ago=5)
    for _ in range(2):
        assert (
            propose(client, people.agent, ticket["id"], amount="40", purchase_id=bought)["status"]
            == "applied"
        )
    over = propose(client, people.agent, ticket["id"], amount="30", purchase_id=bought)
    assert over["status"] == "pending_approval"
    failures = over["policy_check"]["check"]["failures"]
    assert [f["rule"] for f in failures] == ["per_customer"]
    assert "110.00 EUR in 90 days, over the limit of 100" in failures[0]["message"]
    # Another customer has their own allowance.
    assert (
        propose(
            client,
            people.agent,
            other["id"],
            amount="30",
            reason="late_delivery",
            kind="partial_refund",
            purchase_id=None,
            status=201,
        )["status"]
        == "pending_approval"
    )  # no purchase: window
    # A rejected request no longer counts: what is left of the 100 can still be granted at once.
    decide(client, people.lead, over["id"], "reject", comment="Already refunded twice")
    assert propose(client, people.agent, ticket["id"], amount="20", purchase_id=bought)["status"] == "applied"
    assert propose(client, people.agent, ticket["id"], amount="0.01", purchase_id=bought)["status"] == (
        "pending_approval"
    )


def test_refund_windows_count_from_the_purchase_date(client: TestClient, people: Personas) -> None:
    upload(client, people)
    ticket = new_ticket(client, people.customer)
    old = purchase(client, people, days_ago=45)
    recent = purchase(client, people, days_ago=10)
    late = propose(client, people.agent, ticket["id"], amount="10", purchase_id=old)
    assert late["status"] == "pending_approval"
    assert (
        "45 days old, outside the 30-day window for refund"
        in late["policy_check"]["check"]["failures"][0]["message"]
    )
    assert propose(client, people.agent, ticket["id"], amount="10", purchase_id=recent)["status"] == "applied"
    unnamed = propose(client, people.agent, ticket["id"], amount="10")
    assert unnamed["policy_check"]["check"]["failures"][0]["rule"] == "refund_window"
    # A credit has no window.
    assert propose(client, people.agent, ticket["id"], kind="credit", amount="10")["status"] == "applied"


def test_tier_limits_follow_the_customer_tier(client: TestClient, people: Personas) -> None:
    upload(client, people)
    ticket = new_ticket(client, people.customer)
    bought = purchase(client, people, days_ago=5)
    assert propose(client, people.agent, ticket["id"], amount="70", purchase_id=bought)["status"] == (
        "pending_approval"
    )
    changed = client.patch(
        f"/api/v1/customers/{people.customer.id}", json={"tier": "premium"}, headers=people.admin.headers
    )
    assert changed.status_code == 200, changed.text
    other = new_ticket(client, people.customer)
    # The pending 70 counts against the 100 per period: a new customer-period is not what we test here.
    decide(
        client,
        people.lead,
        client.get(f"/api/v1/tickets/{ticket['id']}/resolutions", headers=people.lead.headers).json()[
            "items"
        ][0]["id"],
        "reject",
        comment="test",
    )
    made = propose(client, people.agent, other["id"], amount="70", purchase_id=bought)
    assert made["status"] == "applied", made["policy_check"]


def test_bad_input_is_refused_with_what_to_fix(client: TestClient, people: Personas) -> None:
    ticket = new_ticket(client, people.customer)
    assert propose(client, people.agent, ticket["id"], status=409)["error"]["code"] == "no_policy"
    upload(client, people)
    bought = purchase(client, people, days_ago=5)
    cases: list[tuple[dict[str, Any], str]] = [
        ({"currency": "EURO"}, "invalid_input"),
        ({"currency": "XYZ"}, "invalid_currency"),
        ({"currency": "GBP"}, "currency_not_accepted"),
        ({"amount": "12.345"}, "invalid_amount"),
        ({"amount": "-1"}, "invalid_input"),
        ({"reason": "bored"}, "invalid_reason"),
        ({"kind": "cashback"}, "invalid_input"),
        ({"purchase_id": bought + 100}, "unknown_purchase"),
        ({"concern_id": 999}, "concern_not_found"),
    ]
    for fields, code in cases:
        status = 404 if code == "concern_not_found" else 422
        assert (
            propose(client, people.agent, ticket["id"], status=status, **fields)["error"]["code"] == code
        ), fields
    for who in (people.customer, people.partner):
        assert propose(client, who, ticket["id"], status=403)["error"]["code"] == "role_forbidden"
        denied = client.get(f"/api/v1/tickets/{ticket['id']}/resolutions", headers=who.headers)
        assert denied.status_code == 403
    assert client.get("/api/v1/resolutions/ledger", headers=people.customer.headers).status_code == 403
    assert (
        client.get("/api/v1/resolutions/ledger?status=paid", headers=people.lead.headers).status_code == 422
    )
    assert (
        client.get(
            "/api/v1/resolutions/ledger?since=2026-01-01T00:00:00", headers=people.lead.headers
        ).status_code
        == 422
    )
    assert client.get("/api/v1/resolutions/999", headers=people.lead.headers).status_code == 404


def test_a_return_gets_an_rma_number_and_a_proposal_is_applied_later(
    client: TestClient, people: Personas
) -> None:
    upload(client, people)
    ticket = new_ticket(client, people.customer)
    bought = purchase(client, people, days_ago=5)
    rma = propose(
        client,
        people.agent,
        ticket["id"],
        kind="return",
        amount="30",
        purchase_id=bought,
        reference="DHL 00340434",
    )
    assert (
        rma["status"] == "applied"
        and rma["rma_number"].startswith("RMA-")
        and rma["reference"] == "DHL 00340434"
    )
    offer = propose(client, people.agent, ticket["id"], amount="20", purchase_id=bought, apply=False)
    assert offer["status"] == "proposed" and offer["applied_at"] is None
    assert decide(client, people.agent, offer["id"], "apply")["status"] == "applied"
    assert (
        decide(client, people.agent, offer["id"], "cancel", status=409)["error"]["code"] == "not_cancellable"
    )
    withdrawn = propose(client, people.agent, ticket["id"], amount="5", purchase_id=bought, apply=False)
    assert (
        decide(client, people.agent2, withdrawn["id"], "cancel", status=403)["error"]["code"]
        == "role_forbidden"
    )
    assert decide(client, people.agent, withdrawn["id"], "cancel")["status"] == "cancelled"


def test_a_proposer_may_ask_a_named_approver_to_sign_off_even_within_limits(
    client: TestClient, people: Personas
) -> None:
    upload(client, people)
    ticket = new_ticket(client, people.customer)
    bought = purchase(client, people, days_ago=5)
    asked = propose(
        client,
        people.agent,
        ticket["id"],
        amount="10",
        purchase_id=bought,
        apply=False,
        approver_id=people.advocate.id,
    )
    assert asked["status"] == "pending_approval" and asked["approver_id"] == people.advocate.id
    assert asked["policy_check"]["check"]["within"] is True
    assert (
        decide(client, people.lead, asked["id"], "approve", status=403)["error"]["code"]
        == "not_your_approval"
    )
    kept = decide(client, people.advocate, asked["id"], "approve", comment="ok")
    assert kept["status"] == "applied" and kept["decided_by_id"] == people.advocate.id


def test_the_policys_named_approver_must_still_be_allowed_to_approve(
    runtime: Runtime, client: TestClient, people: Personas
) -> None:
    # The policy names the lead, who is later made an agent: the request goes to a real approver instead.
    upload(client, people, POLICY + '\n[approval]\napprover = "lead@desk.test"\n')
    ticket = new_ticket(client, people.customer)
    first = propose(client, people.agent, ticket["id"], kind="credit", amount="10", reason="goodwill")
    assert first["status"] == "pending_approval" and first["approver_id"] == people.lead.id
    with runtime.database.session() as session:
        accounts.access_user(session=session, user_id=people.lead.id).role = Role.agent
        session.commit()
    gesture = propose(client, people.agent, ticket["id"], kind="credit", amount="10", reason="goodwill")
    assert gesture["status"] == "pending_approval"
    assert gesture["approver_id"] == people.advocate.id
    assert decide(client, people.lead, gesture["id"], "approve", status=403)["error"]["code"] == (
        "not_your_approval"
    )
