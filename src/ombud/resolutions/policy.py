"""The concession policy: parse the TOML an admin writes, refuse one that contradicts itself, and check a
proposed concession against it.

Pure functions over plain values (no database): the service reads the active policy, the customer's tier
and past concessions, and asks :func:`check` what the policy says. The format is documented in
``docs/resolutions.md``; ``docs/concession-policy.example.toml`` is a complete example.

Amounts in the policy are in its ``base_currency``; a concession in another accepted currency is converted
with the policy's own rates (the policy is the company's rulebook, not a market feed).
"""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from ombud.errors import InvalidInput
from ombud.resolutions.currencies import CURRENCIES

KINDS = (
    "refund",
    "partial_refund",
    "replacement",
    "return",
    "repair",
    "billing_correction",
    "credit",
    "coupon",
    "goodwill",
)
# Money that leaves the company as money (as opposed to goods, work or store credit).
CASH_KINDS = frozenset({"refund", "partial_refund", "billing_correction"})
# Who may grant concessions, in the order of how much they may grant; lead and advocate stand level.
ROLE_RANK = {"agent": 1, "lead": 2, "advocate": 2, "admin": 3}
APPROVER_ROLES = ("lead", "advocate", "admin")
DEFAULT_WINDOW_KINDS = ("refund", "partial_refund", "return")
TIER_PATTERN = re.compile(r"^[a-z0-9_-]{1,40}$")
REASON_PATTERN = re.compile(r"^[a-z0-9_]{1,50}$")
MAX_AMOUNT = Decimal("1000000000")


class PolicyError(InvalidInput):
    """A policy that does not parse or contradicts itself; ``details`` lists every problem found."""

    code = "invalid_policy"


@dataclass(frozen=True)
class Problem:
    rule: str
    line: int | None
    message: str

    def text(self) -> str:
        where = f"{self.rule} (line {self.line})" if self.line else self.rule
        return f"{where}: {self.message}"


@dataclass(frozen=True)
class Reason:
    name: str
    label: str
    second_person: bool


@dataclass(frozen=True)
class Limit:
    """The most one role may grant at once, per concession, for some kinds (and one tier, or all)."""

    number: int
    line: int | None
    role: str
    kinds: frozenset[str]
    tier: str | None
    max: Decimal


@dataclass(frozen=True)
class Helper:
    """What the negotiation helper offers, as shares of the purchase (or fixed amounts in base currency)."""

    shipping: Decimal = Decimal("5")
    credit_share: Decimal = Decimal("0.1")
    partial_share: Decimal = Decimal("0.3")
    goodwill: Decimal = Decimal("10")


@dataclass(frozen=True)
class Policy:
    base_currency: str
    rates: dict[str, Decimal]
    reasons: dict[str, Reason]
    limits: tuple[Limit, ...]
    period_days: int
    period_max: Decimal | None
    period_tier_max: dict[str, Decimal]
    period_approver_roles: tuple[str, ...]
    period_kinds: frozenset[str]
    windows: dict[str, int]
    approver: str | None
    came_back_days: int
    helper: Helper = field(default_factory=Helper)

    def to_base(self, amount: Decimal, currency: str) -> Decimal:
        """Return ``amount`` of ``currency`` in the base currency (PolicyError-free: callers check first)."""
        return amount * self.rates[currency]

    def limit_for(self, *, role: str, kind: str, tier: str) -> Decimal:
        """Return the most ``role`` may grant at once for ``kind`` to a customer of ``tier`` (0: none)."""
        general = None
        for limit in self.limits:
            if limit.role != role or kind not in limit.kinds:
                continue
            if limit.tier == tier:
                return limit.max
            if limit.tier is None:
                general = limit.max
        return general if general is not None else Decimal(0)

    def period_cap(self, tier: str) -> Decimal | None:
        return self.period_tier_max.get(tier, self.period_max)

    def tiers(self) -> list[str]:
        named = {limit.tier for limit in self.limits if limit.tier} | set(self.period_tier_max)
        return sorted(named)


# -- parsing ---------------------------------------------------------------------------------------------
def parse(source: str) -> Policy:
    """Return the policy ``source`` describes; PolicyError naming the rule (and line) of every problem."""
    try:
        document = tomllib.loads(source, parse_float=Decimal)
    except tomllib.TOMLDecodeError as error:
        # tomllib says where: "... (at line 3, column 7)".
        found = re.search(r"line (\d+)", str(error))
        problem = Problem("TOML syntax", int(found.group(1)) if found else None, str(error))
        raise PolicyError(f"the policy does not parse: {error}", details=[_as_dict(problem)]) from None
    parser = _Parser(source, document)
    policy = parser.build()
    if parser.problems:
        first = parser.problems[0]
        more = f" (and {len(parser.problems) - 1} more problem(s))" if len(parser.problems) > 1 else ""
        raise PolicyError(
            f"the policy was refused: {first.text()}{more}; the previous policy stays in force",
            details=[_as_dict(p) for p in parser.problems],
        )
    assert policy is not None
    return policy


def _as_dict(problem: Problem) -> dict[str, Any]:
    return {"rule": problem.rule, "line": problem.line, "message": problem.message}


_KNOWN_TOP = {
    "base_currency",
    "currencies",
    "reasons",
    "limit",
    "per_customer",
    "refund_window",
    "approval",
    "came_back_days",
    "helper",
    "name",
}


class _Parser:
    def __init__(self, source: str, document: dict[str, Any]) -> None:
        self.lines = source.splitlines()
        self.document = document
        self.problems: list[Problem] = []

    def fail(self, rule: str, message: str, line: int | None = None) -> None:
        self.problems.append(Problem(rule, line if line is not None else self.line_of(rule), message))

    def line_of(self, rule: str) -> int | None:
        """Return the line a section or key starts on (best effort: TOML parsers do not keep positions)."""
        found = re.match(r"^limit #(\d+)(?: (\w+))?$", rule)
        if found:
            wanted, key = int(found.group(1)), found.group(2)
            seen, start = 0, None
            for number, text in enumerate(self.lines, 1):
                if re.match(r"^\s*\[", text):
                    if start is not None:
                        break
                    if re.match(r"^\s*\[\[\s*limit\s*\]\]", text):
                        seen += 1
                        start = number if seen == wanted else None
                        if start is not None and key is None:
                            return start
                elif start is not None and re.match(rf"^\s*{key}\s*=", text):
                    return number
            return start
        section, _, key = rule.rpartition(".")
        header = re.compile(rf"^\s*\[\s*{re.escape(section)}\s*\]") if section else None
        in_section = header is None
        for number, text in enumerate(self.lines, 1):
            if header is not None and header.match(text):
                in_section = True
                continue
            if in_section and re.match(rf"^\s*\"?{re.escape(key)}\"?\s*=", text):
                return number
            if header is not None and in_section and re.match(r"^\s*\[", text):
                in_section = False
        # A whole section named by its header.
        whole = re.compile(rf"^\s*\[\s*{re.escape(rule)}\s*\]")
        return next((n for n, text in enumerate(self.lines, 1) if whole.match(text)), None)

    def amount(self, rule: str, value: Any) -> Decimal | None:
        if isinstance(value, bool) or not isinstance(value, int | Decimal):
            self.fail(rule, f"must be a number, not {value!r}")
            return None
        amount = Decimal(value)
        if not amount.is_finite() or amount < 0:
            self.fail(rule, f"must be zero or more, not {value}")
            return None
        if amount > MAX_AMOUNT:
            self.fail(rule, f"is over the largest amount allowed ({MAX_AMOUNT})")
            return None
        return amount

    def days(self, rule: str, value: Any) -> int | None:
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 3660:
            self.fail(rule, f"must be a whole number of days from 1 to 3660, not {value!r}")
            return None
        return value

    def build(self) -> Policy | None:
        doc = self.document
        for key in doc:
            if key not in _KNOWN_TOP:
                self.fail(key, f"unknown setting; the policy knows {', '.join(sorted(_KNOWN_TOP))}")
        base = doc.get("base_currency")
        if not isinstance(base, str) or base not in CURRENCIES:
            self.fail("base_currency", f"must be an ISO 4217 currency code such as EUR, not {base!r}")
            base = None
        rates = self._currencies(base)
        reasons = self._reasons()
        limits = self._limits()
        self._check_order(limits)
        period_days, period_max, period_tiers, period_roles, period_kinds = self._per_customer()
        windows = self._windows()
        approver = self._approval()
        came_back = doc.get("came_back_days", 30)
        came_back_days = self.days("came_back_days", came_back) or 30
        helper = self._helper()
        if self.problems or base is None:
            return None
        return Policy(
            base_currency=base,
            rates=rates,
            reasons=reasons,
            limits=tuple(limits),
            period_days=period_days,
            period_max=period_max,
            period_tier_max=period_tiers,
            period_approver_roles=period_roles,
            period_kinds=period_kinds,
            windows=windows,
            approver=approver,
            came_back_days=came_back_days,
            helper=helper,
        )

    def _currencies(self, base: str | None) -> dict[str, Decimal]:
        table = self.document.get("currencies", {})
        if not isinstance(table, dict):
            self.fail("currencies", "must be a table of CODE = rate to the base currency")
            return {}
        rates: dict[str, Decimal] = {}
        for code, rate in table.items():
            rule = f"currencies.{code}"
            if code not in CURRENCIES:
                self.fail(rule, f"{code!r} is not an ISO 4217 currency code")
                continue
            value = self.amount(rule, rate)
            if value is None:
                continue
            if value == 0:
                self.fail(rule, "a rate of 0 would make every concession in it free")
                continue
            rates[code] = value
        if base is not None:
            if base in rates and rates[base] != 1:
                self.fail(f"currencies.{base}", f"the base currency's rate must be 1, not {rates[base]}")
            rates[base] = Decimal(1)
        return rates

    def _reasons(self) -> dict[str, Reason]:
        table = self.document.get("reasons")
        if not isinstance(table, dict) or not table:
            self.fail("reasons", 'list at least one reason, e.g. late_delivery = { label = "Late delivery" }')
            return {}
        reasons: dict[str, Reason] = {}
        for name, spec in table.items():
            rule = f"reasons.{name}"
            if not REASON_PATTERN.match(name):
                self.fail(rule, "a reason's name is lowercase letters, digits and _ (at most 50)")
                continue
            if not isinstance(spec, dict):
                self.fail(rule, 'must be a table such as { label = "...", second_person = true }')
                continue
            unknown = set(spec) - {"label", "second_person"}
            if unknown:
                self.fail(rule, f"unknown field(s) {', '.join(sorted(unknown))}; use label and second_person")
            label = spec.get("label", name.replace("_", " "))
            second = spec.get("second_person", False)
            if not isinstance(label, str) or not 0 < len(label) <= 200:
                self.fail(rule, "label must be text of 1 to 200 characters")
                continue
            if not isinstance(second, bool):
                self.fail(rule, "second_person must be true or false")
                continue
            reasons[name] = Reason(name=name, label=label, second_person=second)
        return reasons

    def _limits(self) -> list[Limit]:
        entries = self.document.get("limit", [])
        if not isinstance(entries, list):
            self.fail("limit", "write each limit as a [[limit]] table")
            return []
        limits: list[Limit] = []
        for number, entry in enumerate(entries, 1):
            rule = f"limit #{number}"
            line = self.line_of(rule)
            if not isinstance(entry, dict):
                self.fail(rule, "must be a table", line)
                continue
            unknown = set(entry) - {"role", "kinds", "tier", "max"}
            if unknown:
                self.fail(
                    rule, f"unknown field(s) {', '.join(sorted(unknown))}; use role, kinds, tier, max", line
                )
            role = entry.get("role")
            if role not in ROLE_RANK:
                self.fail(rule, f"role must be one of {', '.join(ROLE_RANK)}, not {role!r}", line)
                continue
            kinds = self._kinds(rule, line, entry.get("kinds", "*"))
            tier = entry.get("tier")
            if tier is not None and (not isinstance(tier, str) or not TIER_PATTERN.match(tier)):
                self.fail(rule, f"tier must be a tier name such as premium, not {tier!r}", line)
                continue
            if "max" not in entry:
                self.fail(rule, "say the most this role may grant at once: max = 50", line)
                continue
            maximum = self.amount(f"{rule} max", entry["max"])
            if kinds is None or maximum is None:
                continue
            for earlier in limits:
                if earlier.role == role and earlier.tier == tier and earlier.kinds & kinds:
                    both = ", ".join(sorted(earlier.kinds & kinds))
                    self.fail(
                        rule,
                        f"overlaps limit #{earlier.number} (line {earlier.line}): both set {role}'s "
                        f"limit for {both}{f' (tier {tier})' if tier else ''}; keep one",
                        line,
                    )
            limits.append(Limit(number, line, role, kinds, tier, maximum))
        return limits

    def _kinds(self, rule: str, line: int | None, value: Any) -> frozenset[str] | None:
        if value == "*":
            return frozenset(KINDS)
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not value or not all(isinstance(k, str) for k in value):
            self.fail(rule, 'kinds must be a list of kinds, or "*" for all', line)
            return None
        unknown = [k for k in value if k not in KINDS]
        if unknown:
            self.fail(rule, f"unknown kind(s) {', '.join(unknown)}; the kinds are {', '.join(KINDS)}", line)
            return None
        return frozenset(value)

    def _check_order(self, limits: list[Limit]) -> None:
        """An agent may never grant more than a lead or advocate, nor they more than an admin."""
        probe = Policy(
            base_currency="EUR",
            rates={},
            reasons={},
            limits=tuple(limits),
            period_days=1,
            period_max=None,
            period_tier_max={},
            period_approver_roles=(),
            period_kinds=frozenset(),
            windows={},
            approver=None,
            came_back_days=1,
        )
        tiers: list[str | None] = [None, *sorted({limit.tier for limit in limits if limit.tier})]
        pairs = (("agent", "lead"), ("agent", "advocate"), ("lead", "admin"), ("advocate", "admin"))
        reported: set[tuple[str, str]] = set()
        for tier in tiers:
            for kind in KINDS:
                for lower, higher in pairs:
                    low = probe.limit_for(role=lower, kind=kind, tier=tier or "")
                    high = probe.limit_for(role=higher, kind=kind, tier=tier or "")
                    if low > high and (lower, higher) not in reported:
                        reported.add((lower, higher))
                        culprit = _rule_of(limits, lower, kind, tier)
                        self.fail(
                            culprit.rule if culprit else "limit",
                            f"{lower}'s limit for {kind}{f' (tier {tier})' if tier else ''} is {low}, above "
                            f"the {higher}'s {high}: the {higher} approves above the {lower}'s limit, so may "
                            "not have less",
                            culprit.line if culprit else None,
                        )

    def _per_customer(
        self,
    ) -> tuple[int, Decimal | None, dict[str, Decimal], tuple[str, ...], frozenset[str]]:
        table = self.document.get("per_customer", {})
        if not isinstance(table, dict):
            self.fail("per_customer", "must be a table with days and max")
            return 90, None, {}, ("lead", "admin"), frozenset(KINDS)
        unknown = set(table) - {"days", "max", "tiers", "approver_roles", "kinds"}
        if unknown:
            self.fail("per_customer", f"unknown field(s) {', '.join(sorted(unknown))}")
        days = self.days("per_customer.days", table.get("days", 90)) or 90
        maximum = self.amount("per_customer.max", table["max"]) if "max" in table else None
        tiers: dict[str, Decimal] = {}
        raw = table.get("tiers", {})
        if not isinstance(raw, dict):
            self.fail("per_customer.tiers", "must be a table of tier = max")
            raw = {}
        for tier, value in raw.items():
            if not TIER_PATTERN.match(tier):
                self.fail(f"per_customer.tiers.{tier}", "a tier name is lowercase letters, digits, - and _")
                continue
            cap = self.amount(f"per_customer.tiers.{tier}", value)
            if cap is not None:
                tiers[tier] = cap
        roles = table.get("approver_roles", ["lead", "admin"])
        if not isinstance(roles, list) or not roles or any(r not in APPROVER_ROLES for r in roles):
            self.fail(
                "per_customer.approver_roles",
                f"must list roles among {', '.join(APPROVER_ROLES)}, not {roles!r}",
            )
            roles = ["lead", "admin"]
        kinds = self._kinds("per_customer", self.line_of("per_customer.kinds"), table.get("kinds", "*"))
        return days, maximum, tiers, tuple(roles), kinds or frozenset(KINDS)

    def _windows(self) -> dict[str, int]:
        table = self.document.get("refund_window", {})
        if not isinstance(table, dict):
            self.fail("refund_window", "must be a table with days (and per-kind days under kinds)")
            return {}
        unknown = set(table) - {"days", "kinds"}
        if unknown:
            self.fail("refund_window", f"unknown field(s) {', '.join(sorted(unknown))}")
        windows: dict[str, int] = {}
        if "days" in table:
            days = self.days("refund_window.days", table["days"])
            if days is not None:
                windows = dict.fromkeys(DEFAULT_WINDOW_KINDS, days)
        kinds = table.get("kinds", {})
        if not isinstance(kinds, dict):
            self.fail("refund_window.kinds", "must be a table of kind = days")
            return windows
        for kind, value in kinds.items():
            if kind not in KINDS:
                self.fail(f"refund_window.kinds.{kind}", f"unknown kind; the kinds are {', '.join(KINDS)}")
                continue
            days = self.days(f"refund_window.kinds.{kind}", value)
            if days is not None:
                windows[kind] = days
        return windows

    def _approval(self) -> str | None:
        table = self.document.get("approval", {})
        if not isinstance(table, dict):
            self.fail("approval", 'must be a table with approver = "lead@example.com"')
            return None
        unknown = set(table) - {"approver"}
        if unknown:
            self.fail("approval", f"unknown field(s) {', '.join(sorted(unknown))}")
        approver = table.get("approver")
        if approver is not None and (not isinstance(approver, str) or "@" not in approver):
            self.fail("approval.approver", f"must be the email address of a lead or admin, not {approver!r}")
            return None
        return approver.strip().lower() if approver else None

    def _helper(self) -> Helper:
        table = self.document.get("helper", {})
        if not isinstance(table, dict):
            self.fail("helper", "must be a table")
            return Helper()
        values: dict[str, Decimal] = {}
        for key, value in table.items():
            if key not in ("shipping", "credit_share", "partial_share", "goodwill"):
                self.fail(f"helper.{key}", "unknown; use shipping, credit_share, partial_share, goodwill")
                continue
            amount = self.amount(f"helper.{key}", value)
            if amount is None:
                continue
            if key.endswith("_share") and amount > 1:
                self.fail(f"helper.{key}", f"a share of the purchase is from 0 to 1, not {amount}")
                continue
            values[key] = amount
        return Helper(**values)


@dataclass(frozen=True)
class _RuleRef:
    rule: str
    line: int | None


def _rule_of(limits: list[Limit], role: str, kind: str, tier: str | None) -> _RuleRef | None:
    for limit in limits:
        if limit.role == role and kind in limit.kinds and limit.tier in (tier, None):
            return _RuleRef(f"limit #{limit.number}", limit.line)
    return None


# -- checking --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Failure:
    """One rule the concession is outside of: it needs someone's approval."""

    rule: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"rule": self.rule, "message": self.message}


@dataclass(frozen=True)
class Check:
    failures: tuple[Failure, ...]
    second_person: bool
    base_amount: Decimal
    limit: Decimal
    period_total: Decimal
    period_cap: Decimal | None

    @property
    def within(self) -> bool:
        """Return whether the concession may be applied at once by the one who proposes it."""
        return not self.failures and not self.second_person

    @property
    def over_period(self) -> bool:
        return any(f.rule == "per_customer" for f in self.failures)

    def as_dict(self) -> dict[str, Any]:
        return {
            "within": self.within,
            "failures": [f.as_dict() for f in self.failures],
            "second_person": self.second_person,
            "base_amount": str(self.base_amount),
            "limit": str(self.limit),
            "period_total": str(self.period_total),
            "period_cap": None if self.period_cap is None else str(self.period_cap),
        }


def check(
    policy: Policy,
    *,
    role: str,
    kind: str,
    amount: Decimal,
    currency: str,
    reason: str,
    tier: str,
    period_total: Decimal,
    purchased_at: dt.datetime | None,
    now: dt.datetime,
) -> Check:
    """Return what ``policy`` says of ``role`` granting this concession now.

    ``period_total`` is what the customer already received in the policy's period (base currency, not
    counting this one). Unknown kinds, reasons and currencies are refused outright (InvalidInput): no
    approval makes them valid.
    """
    if kind not in KINDS:
        raise InvalidInput(f"unknown kind {kind!r}; use one of {', '.join(KINDS)}", code="invalid_kind")
    if reason not in policy.reasons:
        raise InvalidInput(
            f"unknown reason {reason!r}; the policy's reasons are {', '.join(policy.reasons)}",
            code="invalid_reason",
        )
    if currency not in policy.rates:
        raise InvalidInput(
            f"the policy does not accept {currency}; it accepts {', '.join(sorted(policy.rates))}",
            code="currency_not_accepted",
        )
    base = policy.to_base(amount, currency).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    failures: list[Failure] = []
    limit = policy.limit_for(role=role, kind=kind, tier=tier)
    if base > limit:
        failures.append(
            Failure(
                "role_limit",
                f"{base} {policy.base_currency} is over the {role}'s limit of {limit} {policy.base_currency} "
                f"for {kind}" + (f" to {tier} customers" if tier != "standard" else ""),
            )
        )
    cap = policy.period_cap(tier) if kind in policy.period_kinds else None
    if cap is not None and period_total + base > cap:
        failures.append(
            Failure(
                "per_customer",
                f"the customer would receive {period_total + base} {policy.base_currency} in "
                f"{policy.period_days} days, over the limit of {cap} {policy.base_currency}",
            )
        )
    window = policy.windows.get(kind)
    if window is not None:
        if purchased_at is None:
            failures.append(Failure("refund_window", f"a {kind} within policy names the purchase it refunds"))
        elif now - purchased_at > dt.timedelta(days=window):
            age = (now - purchased_at).days
            failures.append(
                Failure(
                    "refund_window",
                    f"the purchase is {age} days old, outside the {window}-day window for {kind}",
                )
            )
    return Check(
        failures=tuple(failures),
        second_person=policy.reasons[reason].second_person,
        base_amount=base,
        limit=limit,
        period_total=period_total,
        period_cap=cap,
    )


def parse_amount(value: str | Decimal | int | float) -> Decimal:
    """Return a positive Decimal amount from what a form or API sent; InvalidInput otherwise."""
    try:
        amount = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise InvalidInput(f"{value!r} is not an amount", code="invalid_amount") from None
    if not amount.is_finite() or amount < 0 or amount > MAX_AMOUNT:
        raise InvalidInput(f"the amount must be from 0 to {MAX_AMOUNT}", code="invalid_amount")
    return amount
