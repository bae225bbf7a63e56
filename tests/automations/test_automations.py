"""Automation rules through the API: checked with errors naming the bad part, applied on events through
the tickets service as the system, chains cut, time rules fired by the sweep once per period, dry runs
that change nothing, and the run log."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from ombud.accounts.models import User
from ombud.audit.models import AuditEvent
from ombud.automations import engine
from ombud.automations.models import AutomationClock
from ombud.runtime import Runtime
from ombud.storage.base import utcnow
from ombud.tickets.models import Message
from tests.conftest import Personas, new_ticket


def _rule(client: TestClient, people: Personas, **fields: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {"name": "A rule", "trigger": "event", "events": ["ticket.created"]}
    payload.update(fields)
    response = client.post("/api/v1/automations", json=payload, headers=people.admin.headers)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def _ticket(client: TestClient, people: Personas, ticket_id: Any) -> dict[str, Any]:
    response = client.get(f"/api/v1/tickets/{ticket_id}", headers=people.agent.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _runs(client: TestClient, people: Personas, rule_id: int) -> list[dict[str, Any]]:
    response = client.get(f"/api/v1/automations/{rule_id}/runs", headers=people.lead.headers)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def test_rules_are_checked_and_errors_name_the_bad_part(client: TestClient, people: Personas) -> None:
    def refused(**fields: Any) -> str:
        payload: dict[str, Any] = {"name": "Bad", "trigger": "event", "events": ["ticket.created"]}
        payload.update(fields)
        response = client.post("/api/v1/automations", json=payload, headers=people.admin.headers)
        assert response.status_code == 422, response.text
        assert response.json()["error"]["code"] == "invalid_rule"
        message: str = response.json()["error"]["message"]
        return message

    ok_actions = [{"type": "add_tags", "tags": ["x"]}]
    message = refused(
        conditions={
            "all": [{"field": "status", "op": "is", "value": "open"}, {"field": "colour", "op": "is"}]
        },
        actions=ok_actions,
    )
    assert message.startswith("conditions.all[1]: unknown field 'colour'")
    message = refused(
        conditions={"any": [{"field": "priority", "op": "is", "value": "huge"}]}, actions=ok_actions
    )
    assert "conditions.any[0]" in message and "'huge' is not a priority" in message
    assert "frustration cannot use op" in refused(
        conditions={"all": [{"field": "frustration", "op": "contains", "value": "x"}]}, actions=ok_actions
    )
    assert refused(actions=[{"type": "explode"}]).startswith("actions[0]: unknown action type 'explode'")
    assert "actions[1]" in refused(actions=[*ok_actions, {"type": "set_team", "team_id": 999_999}])
    assert "unknown placeholder {{agent.name}}" in refused(
        actions=[{"type": "reply", "body": "{{agent.name}}"}]
    )
    assert refused(events=["Ticket Created!"], actions=ok_actions).startswith("events[0]:")
    assert refused(trigger="time", events=[], since="lunch", hours=3, actions=ok_actions).startswith("since:")
    assert refused(actions=[]).startswith("actions:")

    # Only admins write rules; leads read them; agents neither.
    payload = {"name": "Tag", "trigger": "event", "events": ["ticket.created"], "actions": ok_actions}
    assert client.post("/api/v1/automations", json=payload, headers=people.lead.headers).status_code == 403
    assert client.get("/api/v1/automations", headers=people.agent.headers).status_code == 403
    assert client.get("/api/v1/automations", headers=people.lead.headers).json() == []
    made = _rule(client, people, **payload)
    duplicate = client.post("/api/v1/automations", json=payload, headers=people.admin.headers)
    assert duplicate.status_code == 409 and duplicate.json()["error"]["code"] == "rule_exists"
    assert (
        client.get(f"/api/v1/automations/{made['id']}", headers=people.lead.headers).json()["name"] == "Tag"
    )


def test_an_event_rule_changes_the_ticket_as_the_system(
    runtime: Runtime, client: TestClient, people: Personas
) -> None:
    rule = _rule(
        client,
        people,
        name="Refunds are billing",
        conditions={
            "all": [
                {"field": "subject", "op": "contains", "value": "CHARGED"},
                {"field": "assignee_id", "op": "unset"},
                {
                    "any": [
                        {"field": "channel", "op": "is", "value": "email"},
                        {"field": "tags", "op": "has", "value": "x"},
                    ]
                },
            ]
        },
        actions=[
            {"type": "set_priority", "value": "high"},
            {"type": "set_team", "team_id": people.team_id},
            {"type": "add_tags", "tags": ["Billing"]},
            {"type": "notify", "user_id": people.lead.id, "body": "Please look at ticket {{ticket.id}}"},
        ],
    )
    matching = new_ticket(client, people.agent)
    other = new_ticket(client, people.agent, subject="Where is my parcel?", body="It has not arrived.")

    changed = _ticket(client, people, matching["id"])
    assert (
        changed["priority"] == "high"
        and changed["team_id"] == people.team_id
        and changed["tags"] == ["billing"]
    )
    note = changed["messages"][-1]
    assert note["internal"] is True and note["author_user_id"] is None
    assert note["body"] == f"@lead Please look at ticket {matching['id']}"
    untouched = _ticket(client, people, other["id"])
    assert untouched["priority"] == "normal" and untouched["tags"] == []

    with runtime.database.session(write=False) as session:
        updates = session.scalars(
            select(AuditEvent).where(
                AuditEvent.ticket_id == matching["id"], AuditEvent.action == "ticket.updated"
            )
        ).all()
        assert [(u.actor_type, u.after) for u in updates] == [
            ("system", {"priority": "high", "tags": ["billing"], "team_id": people.team_id})
        ]
    runs = _runs(client, people, rule["id"])
    assert [(r["ticket_id"], r["event_kind"], r["error"]) for r in runs] == [
        (matching["id"], "ticket.created", None)
    ]
    assert {c["action"] for c in runs[0]["applied"]} == {"notify", "set_priority", "set_team_id", "tags"}

    # Disabled, it does nothing.
    patched = client.patch(
        f"/api/v1/automations/{rule['id']}", json={"enabled": False}, headers=people.admin.headers
    )
    assert patched.status_code == 200 and patched.json()["enabled"] is False
    third = new_ticket(client, people.agent)
    assert _ticket(client, people, third["id"])["priority"] == "normal"


def test_conditions_on_who_wrote_and_what_changed(client: TestClient, people: Personas) -> None:
    _rule(
        client,
        people,
        name="Customer replied",
        events=["message.added"],
        conditions={"all": [{"field": "actor", "op": "is", "value": "customer"}]},
        actions=[{"type": "add_tags", "tags": ["customer-replied"]}],
    )
    _rule(
        client,
        people,
        name="Reopened after solve",
        events=["ticket.*"],
        conditions={
            "all": [
                {"field": "status", "op": "changed_from", "value": "solved"},
                {"field": "status", "op": "changed_to", "value": "open"},
            ]
        },
        actions=[{"type": "set_priority", "value": "urgent"}],
    )
    ticket = new_ticket(client, people.customer)
    ticket_id = ticket["id"]
    reply = client.post(
        f"/api/v1/tickets/{ticket_id}/messages", json={"body": "We are on it."}, headers=people.agent.headers
    )
    assert reply.status_code == 201
    assert _ticket(client, people, ticket_id)["tags"] == []  # an agent wrote, not the customer
    client.patch(
        f"/api/v1/tickets/{ticket_id}",
        json={"status": "solved", "confirm": True},
        headers=people.agent.headers,
    )
    client.patch(f"/api/v1/tickets/{ticket_id}", json={"status": "pending"}, headers=people.agent.headers)
    assert _ticket(client, people, ticket_id)["priority"] == "normal"  # from solved, but not to open
    client.patch(
        f"/api/v1/tickets/{ticket_id}",
        json={"status": "solved", "confirm": True},
        headers=people.agent.headers,
    )
    client.patch(f"/api/v1/tickets/{ticket_id}", json={"status": "open"}, headers=people.agent.headers)
    assert _ticket(client, people, ticket_id)["priority"] == "urgent"

    customer_says = client.post(
        f"/api/v1/tickets/{ticket_id}/messages", json={"body": "Thanks!"}, headers=people.customer.headers
    )
    assert customer_says.status_code == 201
    assert _ticket(client, people, ticket_id)["tags"] == ["customer-replied"]


def test_a_rule_never_retriggers_itself(client: TestClient, people: Personas) -> None:
    # Its own change (priority) publishes ticket.updated, which it listens to: it must run once, not forever.
    noisy = _rule(
        client,
        people,
        name="Note every change",
        events=["ticket.updated"],
        actions=[{"type": "add_note", "body": "Changed."}, {"type": "set_priority", "value": "high"}],
    )
    ticket = new_ticket(client, people.agent)
    client.patch(f"/api/v1/tickets/{ticket['id']}", json={"tags": ["checked"]}, headers=people.agent.headers)
    after = _ticket(client, people, ticket["id"])
    assert after["priority"] == "high"
    assert [m["body"] for m in after["messages"] if m["internal"]] == ["Changed."]
    assert len(_runs(client, people, noisy["id"])) == 1


def test_chains_of_rules_stop_at_the_depth_limit(client: TestClient, people: Personas) -> None:
    # A relay of rules, each handing a tag to the next: without a limit it would run to the last.
    for step in range(engine.MAX_DEPTH + 2):
        _rule(
            client,
            people,
            name=f"Step {step}",
            events=["ticket.updated"],
            conditions={"all": [{"field": "tags", "op": "has", "value": f"step{step}"}]},
            actions=[
                {"type": "remove_tags", "tags": [f"step{step}"]},
                {"type": "add_tags", "tags": [f"step{step + 1}"]},
            ],
        )
    ticket = new_ticket(client, people.agent)
    client.patch(f"/api/v1/tickets/{ticket['id']}", json={"tags": ["step0"]}, headers=people.agent.headers)

    assert _ticket(client, people, ticket["id"])["tags"] == [f"step{engine.MAX_DEPTH}"]
    rules = client.get("/api/v1/automations", headers=people.admin.headers).json()
    cut = next(r for r in rules if r["name"] == f"Step {engine.MAX_DEPTH}")
    cut_runs = _runs(client, people, cut["id"])
    assert len(cut_runs) == 1 and "chain stops" in cut_runs[0]["error"] and cut_runs[0]["applied"] == []
    last = next(r for r in rules if r["name"] == f"Step {engine.MAX_DEPTH + 1}")
    assert _runs(client, people, last["id"]) == []


class Clock:
    """Moves the automations' idea of now forward, as the days pass."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.offset = dt.timedelta()
        monkeypatch.setattr(engine, "utcnow", lambda: utcnow() + self.offset)

    def advance(self, **delta: float) -> None:
        self.offset += dt.timedelta(**delta)


def test_time_rules_remind_then_solve_once_per_period(
    runtime: Runtime, client: TestClient, people: Personas, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Clock(monkeypatch)
    pending = {"all": [{"field": "status", "op": "is", "value": "pending"}]}
    remind = _rule(
        client,
        people,
        name="Remind after 3 days pending",
        trigger="time",
        events=[],
        since="status_changed",
        hours=72,
        conditions=pending,
        actions=[
            {
                "type": "reply",
                "body": "Hello {{customer.first_name}}, is ticket {{ticket.id}} still a problem?",
            }
        ],
    )
    solve = _rule(
        client,
        people,
        name="Solve 2 days after the reminder",
        trigger="time",
        events=[],
        since="status_changed",
        hours=120,
        conditions=pending,
        actions=[{"type": "set_status", "value": "solved"}, {"type": "add_tags", "tags": ["auto-solved"]}],
    )
    waiting = new_ticket(client, people.agent)
    busy = new_ticket(client, people.agent, subject="Another", body="Another question.")
    for ticket in (waiting, busy):
        client.post(
            f"/api/v1/tickets/{ticket['id']}/messages",
            json={"body": "Can you send a photo?"},
            headers=people.agent.headers,
        )
    client.patch(f"/api/v1/tickets/{waiting['id']}", json={"status": "pending"}, headers=people.agent.headers)

    clock.advance(hours=71)
    runtime.queue.sweep()
    assert _runs(client, people, remind["id"]) == []
    clock.advance(hours=2)
    runtime.queue.sweep()
    reminded = _ticket(client, people, waiting["id"])
    assert reminded["status"] == "pending"
    assert reminded["messages"][-1]["body"] == f"Hello María, is ticket {waiting['id']} still a problem?"
    assert reminded["messages"][-1]["internal"] is False
    # The busy ticket is open: not pending, so neither rule touches it.
    assert len(_ticket(client, people, busy["id"])["messages"]) == 2
    # Sweeping again in the same period does not remind twice.
    clock.advance(hours=1)
    runtime.queue.sweep()
    assert len(_ticket(client, people, waiting["id"])["messages"]) == len(reminded["messages"])
    assert len(_runs(client, people, remind["id"])) == 1

    clock.advance(hours=47)
    runtime.queue.sweep()
    solved = _ticket(client, people, waiting["id"])
    assert solved["status"] == "solved" and solved["tags"] == ["auto-solved"]
    solve_runs = _runs(client, people, solve["id"])
    assert [(r["ticket_id"], r["event_kind"]) for r in solve_runs] == [(waiting["id"], "time.status_changed")]

    # The sweep reads clocks, not tickets: the busy ticket's rules were checked and nothing is left due;
    # the solved one's clock restarted at the solve (a new period), due when the first rule could fire.
    with runtime.database.session(write=False) as session:
        due = engine.due_ticket_ids(session=session, limit=100)
        assert busy["id"] not in due
        restarted = session.get(AutomationClock, waiting["id"])
        assert restarted is not None and restarted.due_at is not None
        assert restarted.due_at == restarted.status_changed_at + dt.timedelta(hours=72)


def test_a_time_rule_whose_conditions_fail_is_looked_at_again_after_a_change(
    runtime: Runtime, client: TestClient, people: Personas, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Clock(monkeypatch)
    rule = _rule(
        client,
        people,
        name="Escalate old VIP tickets",
        trigger="time",
        events=[],
        since="created",
        hours=24,
        conditions={"all": [{"field": "tags", "op": "has", "value": "vip"}]},
        actions=[{"type": "set_priority", "value": "urgent"}],
    )
    ticket = new_ticket(client, people.agent)
    clock.advance(hours=25)
    runtime.queue.sweep()
    assert _runs(client, people, rule["id"]) == []
    with runtime.database.session(write=False) as session:
        assert list(engine.due_ticket_ids(session=session, limit=10)) == []  # checked; not due again
    client.patch(f"/api/v1/tickets/{ticket['id']}", json={"tags": ["vip"]}, headers=people.agent.headers)
    runtime.queue.sweep()
    assert _ticket(client, people, ticket["id"])["priority"] == "urgent"


def test_the_dry_run_shows_what_would_change_and_changes_nothing(
    runtime: Runtime, client: TestClient, people: Personas
) -> None:
    tickets = [
        new_ticket(client, people.agent, subject=f"Order {i}", body=f"Question {i}", tags=tags)
        for i, tags in enumerate((["vip"], [], ["vip"], ["vip", "spam"]))
    ]
    rule = {
        "name": "VIPs first",
        "trigger": "event",
        "events": ["message.added"],
        "conditions": {
            "all": [
                {"field": "tags", "op": "has", "value": "vip"},
                {"field": "tags", "op": "has_not", "value": "spam"},
                {"field": "actor", "op": "is", "value": "customer"},
            ]
        },
        "actions": [
            {"type": "set_priority", "value": "urgent"},
            {"type": "reply", "body": "Hi {{customer.name}}"},
        ],
    }
    first = client.post("/api/v1/automations/dry-run?limit=1", json=rule, headers=people.lead.headers)
    assert first.status_code == 200, first.text
    page = first.json()
    assert [i["ticket_id"] for i in page["items"]] == [tickets[2]["id"]]
    assert page["items"][0]["changes"] == [
        {"action": "reply", "text": "Hi María López"},
        {"action": "set_priority", "from": "normal", "to": "urgent"},
    ]
    assert page["not_checked"] == ["conditions.all[2] (actor is)"]
    second = client.post(
        f"/api/v1/automations/dry-run?limit=1&cursor={page['next_cursor']}",
        json=rule,
        headers=people.lead.headers,
    ).json()
    assert [i["ticket_id"] for i in second["items"]] == [tickets[0]["id"]]
    third = client.post(
        f"/api/v1/automations/dry-run?limit=1&cursor={second['next_cursor']}",
        json=rule,
        headers=people.lead.headers,
    ).json()
    assert third["items"] == [] and third["next_cursor"] is None

    # Nothing changed, nothing was logged, and a broken rule is refused as when saving.
    for ticket in tickets:
        assert _ticket(client, people, ticket["id"])["priority"] == "normal"
    with runtime.database.session(write=False) as session:
        assert (
            session.scalars(
                select(Message).where(Message.author_user_id.is_(None), Message.author_type == "agent")
            ).all()
            == []
        )
    bad = client.post(
        "/api/v1/automations/dry-run",
        json={**rule, "actions": [{"type": "set_status", "value": "new"}]},
        headers=people.lead.headers,
    )
    assert bad.status_code == 422 and bad.json()["error"]["message"].startswith("actions[0]")

    saved = _rule(client, people, **rule)
    again = client.post(f"/api/v1/automations/{saved['id']}/dry-run", headers=people.lead.headers).json()
    assert [i["ticket_id"] for i in again["items"]] == [tickets[2]["id"], tickets[0]["id"]]
    assert _runs(client, people, saved["id"]) == []


def test_rules_run_in_order_and_can_be_reordered(client: TestClient, people: Personas) -> None:
    low = _rule(client, people, name="Low", actions=[{"type": "set_priority", "value": "low"}])
    high = _rule(
        client,
        people,
        name="High unless low",
        conditions={"all": [{"field": "priority", "op": "is", "value": "normal"}]},
        actions=[{"type": "set_priority", "value": "high"}],
    )
    first = new_ticket(client, people.agent)
    assert _ticket(client, people, first["id"])["priority"] == "low"  # Low ran first; High's condition failed
    order = client.put(
        "/api/v1/automations/order", json={"ids": [high["id"], low["id"]]}, headers=people.admin.headers
    )
    assert order.status_code == 200 and [r["name"] for r in order.json()] == ["High unless low", "Low"]
    second = new_ticket(client, people.agent)
    assert _ticket(client, people, second["id"])["priority"] == "low"  # High, then Low on top
    assert len(_runs(client, people, high["id"])) == 1
    bad = client.put("/api/v1/automations/order", json={"ids": [high["id"]]}, headers=people.admin.headers)
    assert bad.status_code == 422 and "missing" in bad.json()["error"]["message"]
    assert client.delete(f"/api/v1/automations/{low['id']}", headers=people.admin.headers).status_code == 204
    assert client.get(f"/api/v1/automations/{low['id']}", headers=people.admin.headers).status_code == 404


def test_a_rule_that_cannot_act_logs_why_and_can_still_be_disabled(
    runtime: Runtime, client: TestClient, people: Personas
) -> None:
    rule = _rule(
        client,
        people,
        name="Give new tickets to agent2",
        actions=[
            {"type": "add_tags", "tags": ["routed"]},
            {"type": "set_assignee", "user_id": people.agent2.id},
        ],
    )
    with runtime.database.session() as session:
        # agent2 leaves the company after the rule was written
        gone = session.get(User, people.agent2.id)
        assert gone is not None
        gone.active = False
        session.commit()
    ticket = new_ticket(client, people.agent)
    after = _ticket(client, people, ticket["id"])
    assert after["assignee_id"] is None and after["tags"] == []  # all or nothing
    [run] = _runs(client, people, rule["id"])
    assert run["error"] == f"no active user with id {people.agent2.id}" and run["applied"] == []
    disabled = client.patch(
        f"/api/v1/automations/{rule['id']}", json={"enabled": False}, headers=people.admin.headers
    )
    assert disabled.status_code == 200, disabled.text
    fixed = client.patch(
        f"/api/v1/automations/{rule['id']}",
        json={"actions": [{"type": "set_assignee", "user_id": people.agent2.id}]},
        headers=people.admin.headers,
    )
    assert fixed.status_code == 422 and fixed.json()["error"]["message"].startswith(
        "actions[0]: no active user"
    )


def test_conditions_on_triage_and_the_customer(client: TestClient, people: Personas) -> None:
    first = new_ticket(client, people.customer)
    triage = _ticket(client, people, first["id"])["messages"][0]["triage"]
    assert triage is not None
    intent = triage["concerns"][0]["intents"][0]["label"]
    _rule(
        client,
        people,
        name="Billing intents to the team",
        events=["message.triaged"],
        conditions={
            "all": [
                {"field": "intent", "op": "in", "value": [intent, "something_else"]},
                {"field": "language", "op": "is", "value": triage["language"]},
                {"field": "frustration", "op": "lte", "value": 1},
                {"field": "abusive", "op": "is", "value": False},
                {"field": "customer_tier", "op": "is", "value": "standard"},
                {"field": "body", "op": "contains", "value": "charged twice"},
            ]
        },
        actions=[{"type": "set_team", "team_id": people.team_id}],
    )
    _rule(
        client,
        people,
        name="Never matches",
        events=["message.triaged"],
        conditions={"all": [{"field": "intent", "op": "is", "value": "not_an_intent_we_have"}]},
        actions=[{"type": "add_tags", "tags": ["wrong"]}],
    )
    second = new_ticket(client, people.customer)
    after = _ticket(client, people, second["id"])
    assert after["team_id"] == people.team_id and after["tags"] == []
    # Customers of another tier are left alone.
    tiered = client.patch(
        f"/api/v1/customers/{people.customer.id}", json={"tier": "gold"}, headers=people.admin.headers
    )
    assert tiered.status_code == 200, tiered.text
    third = new_ticket(client, people.customer)
    assert _ticket(client, people, third["id"])["team_id"] is None
