"""The rule language on its own: every operator against known facts, groups, and the event-only parts."""

from __future__ import annotations

from typing import Any

import pytest

from ombud.automations import rules
from ombud.errors import InvalidInput


def _facts(**changes: Any) -> rules.Facts:
    facts = rules.Facts(
        status="pending",
        priority="normal",
        channel="email",
        team_id=3,
        assignee_id=None,
        tags=["vip", "billing"],
        subject="Charged TWICE",
        body="Please refund the duplicate charge.",
        intents=["charge_dispute", "refund_request"],
        language="en",
        urgency="high",
        frustration=0.7,
        emotion="anger",
        abusive=False,
        customer_tier="gold",
    )
    for key, value in changes.items():
        setattr(facts, key, value)
    return facts


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ({"field": "status", "op": "is", "value": "pending"}, True),
        ({"field": "status", "op": "is_not", "value": "pending"}, False),
        ({"field": "status", "op": "in", "value": ["open", "pending"]}, True),
        ({"field": "status", "op": "not_in", "value": ["open", "pending"]}, False),
        ({"field": "assignee_id", "op": "unset"}, True),
        ({"field": "team_id", "op": "set"}, True),
        ({"field": "team_id", "op": "is", "value": 4}, False),
        ({"field": "tags", "op": "has", "value": "vip"}, True),
        ({"field": "tags", "op": "has_not", "value": "vip"}, False),
        ({"field": "subject", "op": "contains", "value": "charged twice"}, True),
        ({"field": "body", "op": "not_contains", "value": "refund"}, False),
        ({"field": "intent", "op": "is", "value": "refund_request"}, True),
        ({"field": "intent", "op": "is_not", "value": "refund_request"}, False),
        ({"field": "intent", "op": "in", "value": ["shipping", "charge_dispute"]}, True),
        ({"field": "urgency", "op": "at_least", "value": "normal"}, True),
        ({"field": "urgency", "op": "at_least", "value": "urgent"}, False),
        ({"field": "frustration", "op": "gte", "value": 0.7}, True),
        ({"field": "frustration", "op": "lte", "value": 0.5}, False),
        ({"field": "emotion", "op": "in", "value": ["anger", "sadness"]}, True),
        ({"field": "abusive", "op": "is", "value": True}, False),
        ({"field": "customer_tier", "op": "is", "value": "gold"}, True),
    ],
)
def test_each_operator(condition: dict[str, Any], expected: bool) -> None:
    checked = rules.check_conditions(condition)
    assert rules.matches(checked, _facts()) is expected


def test_unknown_triage_is_never_a_match_for_is_not_or_thresholds() -> None:
    facts = _facts(frustration=None, language=None, intents=[])
    for condition in (
        {"field": "frustration", "op": "gte", "value": 0},
        {"field": "frustration", "op": "lte", "value": 1},
        {"field": "language", "op": "is_not", "value": "fr"},
        {"field": "intent", "op": "is", "value": "refund_request"},
    ):
        assert not rules.matches(rules.check_conditions(condition), facts), condition


def test_groups_nest_and_event_conditions_need_an_event() -> None:
    tree = rules.check_conditions(
        {
            "all": [
                {"field": "tags", "op": "has", "value": "vip"},
                {
                    "any": [
                        {"field": "status", "op": "changed_to", "value": "open"},
                        {"field": "priority", "op": "is", "value": "urgent"},
                    ]
                },
            ]
        }
    )
    at_rest = _facts()
    assert rules.matches(tree, at_rest)  # without an event, "changed to" is taken as met (the dry run)
    assert rules.event_only_conditions(tree) == ["conditions.all[1].any[0] (status changed_to)"]
    reopened = _facts(event="ticket.updated", actor="user", changes={"status": ("pending", "open")})
    assert rules.matches(tree, reopened)
    other_change = _facts(event="ticket.updated", actor="user", changes={"priority": ("low", "normal")})
    assert not rules.matches(tree, other_change)
    assert rules.matches(rules.check_conditions({}), other_change)  # no conditions: always


@pytest.mark.parametrize(
    ("conditions", "path"),
    [
        ({"all": [{"all": [{"all": [{"all": []}]}]}]}, "conditions.all[0].all[0].all[0]"),
        ({"all": [{"field": "status", "op": "in", "value": []}]}, "conditions.all[0]"),
        ({"any": [{"field": "tags", "op": "has", "value": "two words"}]}, "conditions.any[0]"),
        ({"all": [{"field": "team_id", "op": "is", "value": True}]}, "conditions.all[0]"),
        ({"all": [], "any": []}, "conditions"),
        ({"all": [{"field": "status", "op": "is", "value": "open", "extra": 1}]}, "conditions.all[0]"),
    ],
)
def test_bad_conditions_are_named_by_path(conditions: dict[str, Any], path: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        rules.check_conditions(conditions)
    assert raised.value.details == {"path": path}
    assert raised.value.message.startswith(path + ":")


def test_event_patterns() -> None:
    assert rules.event_matches(["sla.*"], "sla.breached")
    assert not rules.event_matches(["sla.*"], "slab.breached")
    assert rules.event_matches(["*"], "anything.at_all")
    assert rules.check_events(["ticket.created", "ticket.created", "sla.*"]) == ["ticket.created", "sla.*"]
