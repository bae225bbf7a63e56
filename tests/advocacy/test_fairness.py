"""The fairness lists through the API: unequal treatment, repeat contacts and policy that no longer fits
each find what they should and leave alone what they should not."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from ombud.advocacy.fairness_policy import policy_phrases_in
from ombud.resolutions.models import ResolutionStatus
from ombud.runtime import Runtime
from ombud.tickets.models import AuthorType, ConcernStatus
from tests.advocacy import insight_builders as b
from tests.conftest import Personas

BASE = "/api/v1/advocacy/fairness"


def _get(client: TestClient, people: Personas, path: str, **params: Any) -> dict[str, Any]:
    response = client.get(f"{BASE}/{path}", params=params, headers=people.advocate.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_unequal_treatment_finds_nothing_and_far_above_not_the_consistent(
    runtime: Runtime, client: TestClient, people: Personas
) -> None:
    with runtime.database.session() as s:
        broken = b.theme(s, "Broken on arrival")
        paid = []
        for i, minor in enumerate((1000, 1200, 1100, 1000, 9000)):
            made = b.ticket(
                s, customer_id=b.customer(s, f"u{i}@x.test"), at=b.ago(days=3 + i), theme_id=broken
            )
            b.concession(s, made, minor=minor)
            paid.append(made)
        nothing = b.ticket(
            s, customer_id=b.customer(s, "none@x.test", "Nora None"), at=b.ago(days=2), theme_id=broken
        )
        # A refund that was rejected is nothing granted.
        b.concession(s, nothing, minor=5000, status=ResolutionStatus.rejected)
        # Still open: it may yet get something, so it is not "got nothing".
        b.ticket(s, customer_id=b.customer(s, "open@x.test"), at=b.ago(days=1), theme_id=broken, solved=False)
        # Another currency is never compared with euros.
        usd = b.ticket(s, customer_id=b.customer(s, "usd@x.test"), at=b.ago(days=2), theme_id=broken)
        b.concession(s, usd, minor=50000, currency="USD")

        consistent = b.theme(s, "Consistent refunds")
        for i in range(6):
            made = b.ticket(
                s, customer_id=b.customer(s, f"c{i}@x.test"), at=b.ago(days=4), theme_id=consistent
            )
            b.concession(s, made, minor=1500)
        small = b.theme(s, "Too few to compare")
        for i in range(3):
            made = b.ticket(s, customer_id=b.customer(s, f"s{i}@x.test"), at=b.ago(days=4), theme_id=small)
            if i:
                b.concession(s, made, minor=700)
        # Unthemed concerns fall back to their intent; a concession for the whole ticket counts too.
        late = []
        for i in range(5):
            made = b.ticket(
                s, customer_id=b.customer(s, f"l{i}@x.test"), at=b.ago(days=5), intent="late_delivery"
            )
            if i:
                b.concession(s, made, minor=500, per_concern=False)
            late.append(made)
        s.commit()

    page = _get(client, people, "unequal")
    assert page["total"] == 2
    by_label = {item["group"]["label"]: item for item in page["items"]}
    assert set(by_label) == {"Broken on arrival", "late delivery"}

    found = by_label["Broken on arrival"]
    assert found["group"] == {
        "kind": "theme",
        "theme_id": broken,
        "intent": None,
        "label": "Broken on arrival",
        "url": f"/agent/advocacy/themes/{broken}",
    }
    assert found["tickets_settled"] == 7 and found["tickets_with_concession"] == 6
    findings = {(o["ticket_id"], o["finding"]) for o in found["outliers"]}
    assert findings == {(nothing.ticket_id, "nothing"), (paid[4].ticket_id, "far_above")}
    above = next(o for o in found["outliers"] if o["finding"] == "far_above")
    assert above["amount_minor"] == 9000 and above["amount"] == "90.00" and above["median"] == "11.00"
    assert above["ticket_url"] == f"/agent/tickets/{paid[4].ticket_id}"
    none = next(o for o in found["outliers"] if o["finding"] == "nothing")
    assert none["customer_name"] == "Nora None"
    # The customer's 360 in the workspace (an HTML page), beside the ticket in question.
    assert none["customer_url"] == f"/agent/tickets/{nothing.ticket_id}#c360-title"
    eur = next(c for c in found["currencies"] if c["currency"] == "EUR")
    assert (eur["min_minor"], eur["max_minor"], eur["spread_minor"], eur["spread"]) == (
        1000,
        9000,
        8000,
        "80.00",
    )
    assert [c["currency"] for c in found["currencies"]] == ["EUR", "USD"]

    intent_group = by_label["late delivery"]
    assert intent_group["group"]["kind"] == "intent" and intent_group["group"]["intent"] == "late_delivery"
    assert [(o["ticket_id"], o["finding"]) for o in intent_group["outliers"]] == [
        (late[0].ticket_id, "nothing")
    ]

    # Paging over groups, most outliers first.
    first = _get(client, people, "unequal", limit=1)
    second = _get(client, people, "unequal", limit=1, offset=1)
    assert first["total"] == second["total"] == 2
    assert first["items"][0]["group"]["label"] == "Broken on arrival"
    assert second["items"][0]["group"]["label"] == "late delivery"


def test_unequal_treatment_window_excludes_old_concerns(
    runtime: Runtime, client: TestClient, people: Personas
) -> None:
    with runtime.database.session() as s:
        old = b.theme(s, "Last year")
        for i in range(6):
            made = b.ticket(s, customer_id=b.customer(s, f"o{i}@x.test"), at=b.ago(days=200), theme_id=old)
            if i:
                b.concession(s, made, minor=1000)
        s.commit()
    assert _get(client, people, "unequal")["total"] == 0
    since = b.ago(days=365).isoformat()
    assert _get(client, people, "unequal", since=since)["total"] == 1


def test_repeat_contacts_counts_days_and_tickets_without_resolution(
    runtime: Runtime, client: TestClient, people: Personas
) -> None:
    with runtime.database.session() as s:
        wifi = b.theme(s, "Router keeps dropping")
        other = b.theme(s, "Invoice address wrong")
        # Three tickets on three days: three contacts.
        alice = b.customer(s, "alice@x.test", "Alice")
        for day in (9, 5, 1):
            b.ticket(s, customer_id=alice, at=b.ago(days=day), theme_id=wifi, solved=False)
        # One ticket, messages on three different days.
        bob = b.customer(s, "bob@x.test", "Bob")
        made = b.ticket(s, customer_id=bob, at=b.ago(days=6), theme_id=wifi, solved=False)
        for day in (4, 2):
            b.message(s, ticket_id=made.ticket_id, customer_id=bob, at=b.ago(days=day), text="Any news?")
        # Three messages the same day are one contact (and an agent's reply is not the customer's).
        carol = b.customer(s, "carol@x.test")
        made = b.ticket(s, customer_id=carol, at=b.ago(days=3, hours=2), theme_id=wifi, solved=False)
        b.message(s, ticket_id=made.ticket_id, customer_id=carol, at=b.ago(days=3, hours=1), text="Hello?")
        b.message(s, ticket_id=made.ticket_id, customer_id=carol, at=b.ago(days=3), text="Hello??")
        for day in (2, 1):
            b.message(
                s,
                ticket_id=made.ticket_id,
                customer_id=carol,
                at=b.ago(days=day),
                text="We are on it",
                author=AuthorType.agent,
            )
        # Three contacts, but a concession was applied: resolved.
        dave = b.customer(s, "dave@x.test")
        tickets = [b.ticket(s, customer_id=dave, at=b.ago(days=d), theme_id=wifi) for d in (8, 6, 4)]
        b.concession(s, tickets[1], minor=1000)
        # Three contacts, but one of the concerns was resolved.
        erin = b.customer(s, "erin@x.test")
        for d, status in ((8, ConcernStatus.open), (6, ConcernStatus.resolved), (4, ConcernStatus.open)):
            b.ticket(s, customer_id=erin, at=b.ago(days=d), theme_id=wifi, concern_status=status)
        # Three contacts about two different things.
        frank = b.customer(s, "frank@x.test")
        b.ticket(s, customer_id=frank, at=b.ago(days=8), theme_id=wifi)
        b.ticket(s, customer_id=frank, at=b.ago(days=6), theme_id=other)
        b.ticket(s, customer_id=frank, at=b.ago(days=4), theme_id=other)
        s.commit()

    page = _get(client, people, "repeat-contacts")
    found = {(item["customer_id"], item["group"]["theme_id"]): item for item in page["items"]}
    assert set(found) == {(alice, wifi), (bob, wifi)}
    assert page["total"] == 2
    assert found[(alice, wifi)]["contacts"] == 3 and len(found[(alice, wifi)]["tickets"]) == 3
    assert found[(alice, wifi)]["customer_name"] == "Alice"
    assert found[(alice, wifi)]["open_concerns"] == 3
    newest = max(found[(alice, wifi)]["tickets"], key=lambda t: t["opened_at"])
    assert found[(alice, wifi)]["customer_url"] == f"{newest['ticket_url']}#c360-title"
    bob_row = found[(bob, wifi)]
    assert bob_row["contacts"] == 3
    assert [t["contacts"] for t in bob_row["tickets"]] == [3]
    assert bob_row["tickets"][0]["ticket_url"].startswith("/agent/tickets/")


def test_policy_phrases_match_whole_words_in_four_languages() -> None:
    assert policy_phrases_in("Unfortunately, we cannot refund it: our policy is clear.") == [
        "our policy",
        "unfortunately we cannot",
    ]
    assert policy_phrases_in("Unfortunately we can\u2019t do that") == ["unfortunately we can't"]
    assert policy_phrases_in("Leider können wir das nicht erstatten (siehe AGB).") == [
        "leider können wir",
        "agb",
    ]
    assert policy_phrases_in("Malheureusement, nous ne pouvons pas : conditions générales") == [
        "malheureusement nous ne pouvons pas",
        "malheureusement nous ne pouvons",
        "conditions générales",
    ]
    assert policy_phrases_in("Lamentablemente no podemos; no es elegible") == [
        "lamentablemente no podemos",
        "no es elegible",
    ]
    assert policy_phrases_in("All our policyholders are covered; the ragbag is eligible.") == []


def test_policy_misfit_lists_policy_replies_that_leave_customers_unhappy(
    runtime: Runtime, client: TestClient, people: Personas
) -> None:
    def exchange(
        s: Any, theme_id: int, email: str, reply: str, next_feeling: float | None, **kw: Any
    ) -> b.Made:
        cid = b.customer(s, email)
        made = b.ticket(s, customer_id=cid, at=b.ago(days=5), theme_id=theme_id, text="I want my money back")
        b.message(
            s,
            ticket_id=made.ticket_id,
            customer_id=cid,
            at=b.ago(days=4),
            text=reply,
            author=AuthorType.agent,
            internal=kw.get("internal", False),
        )
        if next_feeling is not None:
            b.message(
                s,
                ticket_id=made.ticket_id,
                customer_id=cid,
                at=b.ago(days=3),
                text="This is ridiculous, I have been a customer for years",
                frustration=next_feeling,
            )
        return made

    with runtime.database.session() as s:
        returns = b.theme(s, "Returns after 30 days")
        for i in range(3):
            exchange(
                s,
                returns,
                f"p{i}@x.test",
                "Unfortunately we cannot accept returns after 30 days, per our policy.",
                0.8,
            )
        calm_but_rated_low = exchange(
            s, returns, "p3@x.test", "Leider können wir die Rücksendung nicht annehmen.", 0.1
        )
        b.rating(s, calm_but_rated_low, 1)
        # A reply without policy talk on the same theme, the customer calm: the comparison group.
        exchange(s, returns, "p4@x.test", "I have refunded you in full.", 0.1)

        fine = b.theme(s, "Warranty questions")
        for i in range(4):
            made = exchange(s, fine, f"q{i}@x.test", "Under our policy the warranty covers this.", 0.1)
            b.rating(s, made, 5)
        blunt = b.theme(s, "Slow courier")
        for i in range(4):
            exchange(s, blunt, f"r{i}@x.test", "The courier is slow this week.", 0.9)
        internal = b.theme(s, "Internal talk only")
        for i in range(4):
            exchange(s, internal, f"t{i}@x.test", "Note: our policy says no.", 0.9, internal=True)
        s.commit()

    with b.statements(runtime.database.engine) as seen:
        page = _get(client, people, "policy-misfit")
    # Texts are read only for replies that a LIKE pre-filter lets through, and for the examples shown.
    texts = [q for q in seen if "body_text" in q]
    assert texts and all(" LIKE " in q.upper() or "messages.id IN" in q for q in texts), texts
    assert page["total"] == 1
    item = page["items"][0]
    assert item["group"]["theme_id"] == returns
    assert (item["policy_tickets"], item["policy_dissatisfied"], item["dissatisfied_share"]) == (4, 4, 1.0)
    assert (item["other_tickets"], item["other_dissatisfied"], item["other_share"]) == (1, 0, 0.0)
    assert item["phrases"] == {"our policy": 3, "unfortunately we cannot": 3, "leider können wir": 1}
    assert 1 <= len(item["examples"]) <= 3
    example = item["examples"][0]
    assert "policy" in example["reply"].lower() or "leider" in example["reply"].lower()
    assert example["ticket_url"].startswith("/agent/tickets/")
    assert example["customer_next"] and example["customer_next"].startswith("This is ridiculous")
    assert page["thresholds"]["misfit_share"] == 0.5


@pytest.mark.parametrize("path", ["unequal", "repeat-contacts", "policy-misfit"])
def test_fairness_is_for_advocates_leads_and_admins(client: TestClient, people: Personas, path: str) -> None:
    for who in (people.advocate, people.lead, people.admin):
        assert client.get(f"{BASE}/{path}", headers=who.headers).status_code == 200
    for who in (people.agent, people.customer, people.partner):
        response = client.get(f"{BASE}/{path}", headers=who.headers)
        assert response.status_code == 403, response.text
        assert response.json()["error"]["code"] == "role_forbidden"
    assert client.get(f"{BASE}/{path}").status_code == 401


@pytest.mark.parametrize("path", ["unequal", "repeat-contacts", "policy-misfit"])
def test_fairness_refuses_bad_windows_and_pages(client: TestClient, people: Personas, path: str) -> None:
    h = people.advocate.headers
    backwards = client.get(
        f"{BASE}/{path}",
        params={"since": "2026-03-01T00:00:00Z", "until": "2026-02-01T00:00:00Z"},
        headers=h,
    )
    assert backwards.status_code == 422 and backwards.json()["error"]["code"] == "invalid_window"
    naive = client.get(f"{BASE}/{path}", params={"since": "2026-03-01T00:00:00"}, headers=h)
    assert naive.status_code == 422
    too_long = client.get(
        f"{BASE}/{path}", params={"since": "2010-01-01T00:00:00Z", "until": "2026-01-01T00:00:00Z"}, headers=h
    )
    assert too_long.status_code == 422 and too_long.json()["error"]["code"] == "invalid_window"
    for params in ({"limit": 0}, {"limit": 101}, {"offset": -1}, {"since": "yesterday"}):
        assert client.get(f"{BASE}/{path}", params=params, headers=h).status_code == 422
