"""Parsing the concession policy: a good one reads as written; one that does not parse or contradicts
itself is refused with every problem named by its rule and line; checks follow the rules."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ombud.errors import InvalidInput
from ombud.resolutions import currencies as money
from ombud.resolutions import policy as rules

EXAMPLE = (Path(__file__).parents[2] / "docs" / "concession-policy.example.toml").read_text()
NOW = dt.datetime(2026, 12, 4, 12, tzinfo=dt.UTC)

BASE = """base_currency = "EUR"

[currencies]
EUR = 1
USD = 0.5

[reasons]
late_delivery = { label = "Late delivery" }
goodwill = { label = "Goodwill", second_person = true }

[[limit]]
role = "agent"
kinds = ["refund"]
max = 50

[[limit]]
role = "lead"
kinds = "*"
max = 200

[[limit]]
role = "advocate"
kinds = "*"
max = 200

[[limit]]
role = "admin"
kinds = "*"
max = 1000

[per_customer]
days = 90
max = 100

[refund_window]
days = 30
"""


def _refused(source: str) -> list[dict[str, object]]:
    with pytest.raises(rules.PolicyError) as caught:
        rules.parse(source)
    assert caught.value.code == "invalid_policy"
    assert (
        "the previous policy stays in force" in caught.value.message
        or "does not parse" in caught.value.message
    )
    problems: list[dict[str, object]] = caught.value.details
    return problems


def test_the_example_policy_parses_as_written() -> None:
    policy = rules.parse(EXAMPLE)
    assert policy.base_currency == "EUR"
    assert policy.limit_for(role="agent", kind="refund", tier="standard") == 50
    assert policy.limit_for(role="agent", kind="refund", tier="premium") == 100
    assert policy.limit_for(role="agent", kind="goodwill", tier="premium") == 25  # the general rule
    assert policy.limit_for(role="lead", kind="goodwill", tier="standard") == 300
    assert policy.period_cap("premium") == 250 and policy.period_cap("standard") == 100
    assert policy.windows == {"refund": 30, "partial_refund": 30, "return": 30, "repair": 365}
    assert policy.reasons["goodwill"].second_person and not policy.reasons["damaged"].second_person
    assert policy.rates["USD"] == Decimal("0.92")


def test_a_syntax_error_is_refused_naming_its_line() -> None:
    problems = _refused(BASE.replace("max = 50", "max = = 50"))
    assert problems[0]["rule"] == "TOML syntax"
    assert problems[0]["line"] == BASE.splitlines().index("max = 50") + 1


def test_an_agent_limit_above_the_leads_is_refused_naming_the_rule() -> None:
    problems = _refused(BASE.replace("max = 50", "max = 500"))
    assert [p["rule"] for p in problems] == ["limit #1", "limit #1"]
    assert problems[0]["line"] == BASE.splitlines().index('role = "agent"')  # the [[limit]] header
    assert "above the lead's 200" in str(problems[0]["message"])
    assert "above the advocate's 200" in str(problems[1]["message"])


def test_a_lead_above_the_admin_is_refused() -> None:
    problems = _refused(BASE.replace("max = 1000", "max = 100"))
    assert any(p["rule"] == "limit #2" and "admin" in str(p["message"]) for p in problems)


def test_overlapping_rules_are_refused_naming_both() -> None:
    source = BASE + '\n[[limit]]\nrole = "agent"\nkinds = ["refund", "credit"]\nmax = 20\n'
    problems = _refused(source)
    assert problems[0]["rule"] == "limit #5"
    assert "overlaps limit #1" in str(problems[0]["message"])
    # A rule for one tier does not overlap the general one: it replaces it for that tier.
    rules.parse(
        source.replace(
            'role = "agent"\nkinds = ["refund", "credit"]',
            'role = "agent"\ntier = "vip"\nkinds = ["refund", "credit"]',
        )
    )


@pytest.mark.parametrize(
    ("change", "rule", "words"),
    [
        (("max = 50", "max = -5"), "limit #1 max", "zero or more"),
        (('kinds = ["refund"]', 'kinds = ["refund", "cashback"]'), "limit #1", "unknown kind(s) cashback"),
        (('role = "agent"', 'role = "intern"'), "limit #1", "role must be one of"),
        (("USD = 0.5", "USX = 0.5"), "currencies.USX", "not an ISO 4217"),
        (('base_currency = "EUR"', 'base_currency = "EURO"'), "base_currency", "ISO 4217"),
        (("USD = 0.5", "USD = 0"), "currencies.USD", "rate of 0"),
        (("days = 30", "days = 0"), "refund_window.days", "whole number of days"),
        (("[per_customer]", "[per_customer]\nmonths = 3"), "per_customer", "unknown field(s) months"),
        (("EUR = 1\n", "EUR = 2\n"), "currencies.EUR", "must be 1"),
    ],
)
def test_contradictions_and_unknowns_are_refused(change: tuple[str, str], rule: str, words: str) -> None:
    problems = _refused(BASE.replace(*change))
    named = [p for p in problems if p["rule"] == rule]
    assert named, problems
    assert words in str(named[0]["message"])
    assert named[0]["line"] is not None


def test_a_policy_without_reasons_is_refused() -> None:
    problems = _refused(
        BASE.replace(
            'late_delivery = { label = "Late delivery" }\n'
            'goodwill = { label = "Goodwill", second_person = true }\n',
            "",
        )
    )
    assert problems[0]["rule"] == "reasons"


@given(st.text(max_size=300))
def test_any_text_either_parses_or_is_refused_cleanly(source: str) -> None:
    try:
        rules.parse(source)
    except rules.PolicyError as error:
        assert error.details and all("rule" in p and "message" in p for p in error.details)


def _check(policy: rules.Policy, **overrides: object) -> rules.Check:
    args: dict[str, object] = {
        "role": "agent",
        "kind": "refund",
        "amount": Decimal("40"),
        "currency": "EUR",
        "reason": "late_delivery",
        "tier": "standard",
        "period_total": Decimal(0),
        "purchased_at": NOW - dt.timedelta(days=5),
        "now": NOW,
    }
    args.update(overrides)
    return rules.check(policy, **args)  # type: ignore[arg-type]


def test_checks_follow_the_limits_the_period_the_window_and_the_second_person_rule() -> None:
    policy = rules.parse(BASE)
    assert _check(policy).within
    over = _check(policy, amount=Decimal("50.01"))
    assert [f.rule for f in over.failures] == ["role_limit"]
    assert _check(policy, role="lead", amount=Decimal("50.01")).within
    # 120 USD is 60 EUR: over the agent's 50.
    assert not _check(policy, amount=Decimal("120"), currency="USD").within
    assert [f.rule for f in _check(policy, period_total=Decimal("70")).failures] == ["per_customer"]
    assert _check(policy, period_total=Decimal("60")).within  # exactly 100 is within
    late = _check(policy, purchased_at=NOW - dt.timedelta(days=31))
    assert [f.rule for f in late.failures] == ["refund_window"]
    assert "31 days old" in late.failures[0].message
    assert [f.rule for f in _check(policy, purchased_at=None).failures] == ["refund_window"]
    assert _check(policy, kind="credit", role="lead", purchased_at=None).within  # no window for credit
    second = _check(policy, reason="goodwill")
    assert not second.failures and second.second_person and not second.within
    assert _check(policy, kind="credit").failures[0].rule == "role_limit"  # no agent rule: 0


def test_unknown_reasons_kinds_and_currencies_are_refused_outright() -> None:
    policy = rules.parse(BASE)
    for overrides, code in (
        ({"reason": "bored"}, "invalid_reason"),
        ({"kind": "cashback"}, "invalid_kind"),
        ({"currency": "GBP"}, "currency_not_accepted"),
    ):
        with pytest.raises(InvalidInput) as caught:
            _check(policy, **overrides)
        assert caught.value.code == code


def test_minor_units_follow_iso_4217() -> None:
    assert money.to_minor(Decimal("12.34"), "EUR") == 1234
    assert money.to_minor(Decimal("1200"), "JPY") == 1200
    assert money.to_minor(Decimal("1.234"), "KWD") == 1234
    with pytest.raises(InvalidInput):
        money.to_minor(Decimal("12.345"), "EUR")
    with pytest.raises(InvalidInput):
        money.to_minor(Decimal("1.5"), "JPY")
    with pytest.raises(InvalidInput):
        money.minor_units("XXY")
    assert money.from_minor(1234, "EUR") == Decimal("12.34")


def test_the_per_customer_limit_counts_only_the_kinds_it_names() -> None:
    policy = rules.parse(BASE.replace("max = 100\n", 'max = 100\nkinds = ["refund", "credit"]\n'))
    assert policy.period_kinds == {"refund", "credit"}
    assert [f.rule for f in _check(policy, period_total=Decimal("70")).failures] == ["per_customer"]
    assert _check(policy, role="lead", kind="return", period_total=Decimal("70")).within
    assert (
        _refused(BASE.replace("max = 100\n", 'max = 100\nkinds = ["rebate"]\n'))[0]["rule"] == "per_customer"
    )
