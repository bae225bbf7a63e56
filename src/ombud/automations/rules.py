"""The language of automation rules: checking a rule's conditions and actions, and evaluating conditions
against what is known about a ticket and the event at hand. Pure functions; no database.

A condition is ``{"field": ..., "op": ..., "value": ...}``; a group is ``{"all": [...]}`` or
``{"any": [...]}`` and may nest. Every error names the condition or action by its path
(``conditions.all[2]``, ``actions[0]``) and says what would be accepted.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ombud.errors import InvalidInput
from ombud.tickets.inbox import PLACEHOLDER, PLACEHOLDERS
from ombud.tickets.models import Channel, Priority, Status
from ombud.validation import normalise_tag

MAX_CONDITIONS = 50
MAX_ACTIONS = 20
MAX_NESTING = 3
MAX_EVENTS = 20
MAX_TEXT = 20_000
MAX_HOURS = 24 * 366
TIME_ANCHORS = ("created", "status_changed", "customer_message", "agent_reply")
URGENCY_LEVELS = ("low", "normal", "high", "urgent")
ACTORS = ("customer", "user", "system")
EVENT_PATTERN = re.compile(r"^(\*|[a-z][a-z_]*(\.[a-z][a-z_]*)*(\.\*)?)$")
# Automatic replies come from the desk, not from one agent: agent placeholders would leave gaps.
REPLY_PLACEHOLDERS = tuple(p for p in PLACEHOLDERS if not p.startswith("agent."))

_CHOICE_OPS = ("is", "is_not", "in", "not_in")
_CHANGE_OPS = ("changed", "changed_from", "changed_to")
_ID_OPS = ("is", "is_not", "set", "unset")
_TEXT_OPS = ("contains", "not_contains")


@dataclass(frozen=True)
class FieldSpec:
    ops: tuple[str, ...]
    # The values an "is"/"in" may name (None: any text; "id": a positive integer; "number": 0..1).
    choices: tuple[str, ...] | None = None
    kind: str = "text"
    # Known only while an event is handled (the dry run cannot check it against a ticket at rest).
    event_only: bool = False


FIELDS: dict[str, FieldSpec] = {
    "status": FieldSpec(_CHOICE_OPS + _CHANGE_OPS, tuple(s.value for s in Status)),
    "priority": FieldSpec(_CHOICE_OPS + _CHANGE_OPS, tuple(p.value for p in Priority)),
    "channel": FieldSpec(_CHOICE_OPS, tuple(c.value for c in Channel)),
    "team_id": FieldSpec(_ID_OPS + _CHANGE_OPS, kind="id"),
    "assignee_id": FieldSpec(_ID_OPS + _CHANGE_OPS, kind="id"),
    "tags": FieldSpec(("has", "has_not"), kind="tag"),
    "subject": FieldSpec(_TEXT_OPS),
    "body": FieldSpec(_TEXT_OPS),
    "intent": FieldSpec(_CHOICE_OPS),
    "language": FieldSpec(_CHOICE_OPS),
    "urgency": FieldSpec((*_CHOICE_OPS, "at_least"), URGENCY_LEVELS),
    "frustration": FieldSpec(("gte", "lte"), kind="number"),
    "emotion": FieldSpec(_CHOICE_OPS),
    "abusive": FieldSpec(("is",), kind="bool"),
    "customer_tier": FieldSpec(_CHOICE_OPS),
    "actor": FieldSpec(("is", "is_not"), ACTORS, event_only=True),
    "event": FieldSpec(_CHOICE_OPS, event_only=True),
}
_NO_VALUE_OPS = ("set", "unset", "changed")

ACTION_TYPES = (
    "set_status",
    "set_priority",
    "set_team",
    "set_assignee",
    "add_tags",
    "remove_tags",
    "add_note",
    "reply",
    "notify",
)


def _fail(path: str, message: str) -> InvalidInput:
    return InvalidInput(f"{path}: {message}", code="invalid_rule", details={"path": path})


# -- checking ---------------------------------------------------------------------------------------------
def check_events(events: Any) -> list[str]:
    """Return the trigger's event kinds cleaned, or raise naming the bad one."""
    if not isinstance(events, list) or not events:
        raise _fail("events", "an event rule needs a list of 1 or more event kinds, e.g. ['ticket.created']")
    if len(events) > MAX_EVENTS:
        raise _fail("events", f"at most {MAX_EVENTS} event kinds")
    cleaned = []
    for i, kind in enumerate(events):
        if not isinstance(kind, str) or not EVENT_PATTERN.match(kind.strip()):
            raise _fail(
                f"events[{i}]",
                f"{kind!r} is not an event kind: use a name like ticket.created, or a prefix like sla.*",
            )
        cleaned.append(kind.strip())
    return sorted(set(cleaned), key=cleaned.index)


def check_time(since: Any, hours: Any) -> tuple[str, float]:
    """Return (since, hours) of a time rule, or raise naming the bad one."""
    if since not in TIME_ANCHORS:
        raise _fail("since", f"a time rule counts from one of {', '.join(TIME_ANCHORS)}, not {since!r}")
    if isinstance(hours, bool) or not isinstance(hours, int | float) or not 0 < hours <= MAX_HOURS:
        raise _fail("hours", f"hours must be a number above 0 and at most {MAX_HOURS}")
    return str(since), float(hours)


def check_conditions(conditions: Any) -> dict[str, Any]:
    """Return the condition tree cleaned (a top-level group), or raise naming the bad condition."""
    if conditions is None or conditions == {}:
        return {"all": []}
    count = [0]
    cleaned = _check_node(conditions, "conditions", 1, count)
    if "field" in cleaned:
        cleaned = {"all": [cleaned]}
    return cleaned


def _check_node(node: Any, path: str, depth: int, count: list[int]) -> dict[str, Any]:
    if not isinstance(node, dict):
        raise _fail(path, "a condition is an object {field, op, value} or a group {all: [...]}/{any: [...]}")
    if "all" in node or "any" in node:
        if len(node) != 1:
            raise _fail(path, "a group has exactly one key, all or any")
        if depth > MAX_NESTING:
            raise _fail(path, f"groups nest at most {MAX_NESTING} deep")
        key = "all" if "all" in node else "any"
        items = node[key]
        if not isinstance(items, list):
            raise _fail(f"{path}.{key}", "a group holds a list of conditions")
        return {
            key: [_check_node(item, f"{path}.{key}[{i}]", depth + 1, count) for i, item in enumerate(items)]
        }
    count[0] += 1
    if count[0] > MAX_CONDITIONS:
        raise _fail(path, f"a rule has at most {MAX_CONDITIONS} conditions")
    return _check_condition(node, path)


def _check_condition(node: dict[str, Any], path: str) -> dict[str, Any]:
    extra = set(node) - {"field", "op", "value"}
    if extra:
        raise _fail(path, f"unknown key {sorted(extra)[0]!r}; a condition has field, op and value")
    name = node.get("field")
    spec = FIELDS.get(name) if isinstance(name, str) else None
    if spec is None:
        raise _fail(path, f"unknown field {name!r}; use one of {', '.join(FIELDS)}")
    op = node.get("op")
    if op not in spec.ops:
        raise _fail(path, f"{name} cannot use op {op!r}; use one of {', '.join(spec.ops)}")
    if op in _NO_VALUE_OPS:
        return {"field": name, "op": op}
    value = node.get("value")
    checked = _check_value(spec, str(name), str(op), value, path)
    return {"field": name, "op": op, "value": checked}


def _check_value(spec: FieldSpec, name: str, op: str, value: Any, path: str) -> Any:
    if op in ("in", "not_in"):
        if not isinstance(value, list) or not value or len(value) > 100:
            raise _fail(path, f"{name} {op} needs a list of 1 to 100 values")
        return [_check_one(spec, name, item, path) for item in value]
    if op in ("changed_from", "changed_to") and value is None and spec.kind == "id":
        return None  # changed from/to nobody
    return _check_one(spec, name, value, path)


def _check_one(spec: FieldSpec, name: str, value: Any, path: str) -> Any:
    if spec.kind == "id":
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value < 2**63:
            raise _fail(path, f"{name} needs a positive integer id")
        return value
    if spec.kind == "number":
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
            raise _fail(path, f"{name} needs a number from 0 to 1")
        return float(value)
    if spec.kind == "bool":
        if not isinstance(value, bool):
            raise _fail(path, f"{name} needs true or false")
        return value
    if not isinstance(value, str) or not value.strip() or len(value) > 500:
        raise _fail(path, f"{name} needs a text value of 1 to 500 characters")
    if spec.kind == "tag":
        try:
            return normalise_tag(value)
        except InvalidInput as error:
            raise _fail(path, error.message) from None
    if spec.choices is not None and value not in spec.choices:
        raise _fail(path, f"{value!r} is not a {name}; use one of {', '.join(spec.choices)}")
    return value.strip() if name not in ("subject", "body") else value


def check_actions(actions: Any) -> list[dict[str, Any]]:
    """Return the actions cleaned, or raise naming the bad action (ids are checked by the service)."""
    if not isinstance(actions, list) or not actions:
        raise _fail("actions", "a rule needs a list of 1 or more actions")
    if len(actions) > MAX_ACTIONS:
        raise _fail("actions", f"a rule has at most {MAX_ACTIONS} actions")
    return [_check_action(item, f"actions[{i}]") for i, item in enumerate(actions)]


def _check_action(action: Any, path: str) -> dict[str, Any]:
    if not isinstance(action, dict):
        raise _fail(path, "an action is an object with a type, e.g. {type: set_status, value: solved}")
    kind = action.get("type")
    if kind not in ACTION_TYPES:
        raise _fail(path, f"unknown action type {kind!r}; use one of {', '.join(ACTION_TYPES)}")
    allowed = {
        "set_status": {"value"},
        "set_priority": {"value"},
        "set_team": {"team_id"},
        "set_assignee": {"user_id"},
        "add_tags": {"tags"},
        "remove_tags": {"tags"},
        "add_note": {"body"},
        "reply": {"body"},
        "notify": {"user_id", "body"},
    }[kind]
    extra = set(action) - allowed - {"type"}
    if extra:
        raise _fail(path, f"{kind} takes {', '.join(sorted(allowed))}, not {sorted(extra)[0]!r}")
    if kind == "set_status":
        choices = [s.value for s in Status if s is not Status.new]
        if action.get("value") not in choices:
            raise _fail(path, f"set_status needs a value among {', '.join(choices)}")
        return {"type": kind, "value": action["value"]}
    if kind == "set_priority":
        choices = [p.value for p in Priority]
        if action.get("value") not in choices:
            raise _fail(path, f"set_priority needs a value among {', '.join(choices)}")
        return {"type": kind, "value": action["value"]}
    if kind in ("set_team", "set_assignee", "notify"):
        return _check_id_action(action, kind, path)
    if kind in ("add_tags", "remove_tags"):
        tags = action.get("tags")
        if not isinstance(tags, list) or not tags or len(tags) > 20:
            raise _fail(path, f"{kind} needs tags: a list of 1 to 20 tags")
        try:
            return {"type": kind, "tags": sorted({normalise_tag(str(t)) for t in tags})}
        except InvalidInput as error:
            raise _fail(path, error.message) from None
    places = REPLY_PLACEHOLDERS if kind == "reply" else PLACEHOLDERS
    return {"type": kind, "body": _check_text(action.get("body"), path, required=True, placeholders=places)}


def _check_id_action(action: dict[str, Any], kind: str, path: str) -> dict[str, Any]:
    key = "team_id" if kind == "set_team" else "user_id"
    value = action.get(key)
    nullable = kind != "notify"
    if not (value is None and nullable) and (
        isinstance(value, bool) or not isinstance(value, int) or not 1 <= value < 2**63
    ):
        raise _fail(path, f"{kind} needs {key}: a positive integer id" + (" or null" if nullable else ""))
    cleaned: dict[str, Any] = {"type": kind, key: value}
    if kind == "notify":
        cleaned["body"] = _check_text(action.get("body", ""), path, required=False, placeholders=PLACEHOLDERS)
    return cleaned


def _check_text(body: Any, path: str, *, required: bool, placeholders: tuple[str, ...]) -> str:
    if body is None:
        body = ""
    if not isinstance(body, str) or (required and not body.strip()) or len(body) > MAX_TEXT:
        raise _fail(path, f"needs a body of {'1' if required else '0'} to {MAX_TEXT:,} characters")
    unknown = sorted({m.group(1) for m in PLACEHOLDER.finditer(body)} - set(placeholders))
    if unknown:
        raise _fail(
            path,
            f"unknown placeholder {{{{{unknown[0]}}}}}; use one of "
            + ", ".join("{{" + p + "}}" for p in placeholders),
        )
    return body


# -- evaluating -------------------------------------------------------------------------------------------
@dataclass
class Facts:
    """What a rule's conditions are checked against: the ticket now, and the event when there is one."""

    status: str
    priority: str
    channel: str
    team_id: int | None
    assignee_id: int | None
    tags: list[str]
    subject: str
    body: str = ""
    intents: list[str] = field(default_factory=list)
    language: str | None = None
    urgency: str | None = None
    frustration: float | None = None
    emotion: str | None = None
    abusive: bool | None = None
    customer_tier: str = "standard"
    # None without an event (the dry run, a time rule).
    event: str | None = None
    actor: str | None = None
    # {field: (before, after)} of what the event changed.
    changes: dict[str, tuple[Any, Any]] = field(default_factory=dict)


def event_only_conditions(conditions: dict[str, Any]) -> list[str]:
    """Return the paths of conditions a dry run cannot check (they depend on the event)."""
    found: list[str] = []

    def walk(node: dict[str, Any], path: str) -> None:
        for key in ("all", "any"):
            if key in node:
                for i, item in enumerate(node[key]):
                    walk(item, f"{path}.{key}[{i}]")
                return
        if FIELDS[node["field"]].event_only or node["op"] in _CHANGE_OPS:
            found.append(f"{path} ({node['field']} {node['op']})")

    walk(conditions, "conditions")
    return found


def matches(conditions: dict[str, Any], facts: Facts) -> bool:
    """Return whether ``facts`` satisfy the condition tree. Without an event, conditions on the event are
    taken as met (the dry run lists them as not checked)."""
    if "all" in conditions:
        return all(matches(item, facts) for item in conditions["all"])
    if "any" in conditions:
        items = conditions["any"]
        return not items or any(matches(item, facts) for item in items)
    return _condition(conditions, facts)


def _condition(node: dict[str, Any], facts: Facts) -> bool:
    name, op, value = node["field"], node["op"], node.get("value")
    if op in _CHANGE_OPS:
        if facts.event is None:
            return True
        if name not in facts.changes:
            return False
        before, after = facts.changes[name]
        return op == "changed" or bool((before if op == "changed_from" else after) == value)
    if name in ("actor", "event") and facts.event is None:
        return True
    current = getattr(facts, "intents" if name == "intent" else name)
    test = _OPS[op]
    return test(current, value)


def _urgency_at_least(current: Any, value: Any) -> bool:
    return current in URGENCY_LEVELS and URGENCY_LEVELS.index(current) >= URGENCY_LEVELS.index(value)


def _is(current: Any, value: Any) -> bool:
    if isinstance(current, list):  # intents: any concern's
        return value in current
    return bool(current == value)


def _in(current: Any, value: Any) -> bool:
    if isinstance(current, list):
        return any(item in value for item in current)
    return current in value


def _contains(current: Any, value: Any) -> bool:
    return str(value).casefold() in str(current or "").casefold()


_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "is": _is,
    "is_not": lambda current, value: current is not None and not _is(current, value),
    "in": _in,
    "not_in": lambda current, value: current is not None and not _in(current, value),
    "set": lambda current, _value: current is not None,
    "unset": lambda current, _value: current is None,
    "has": lambda current, value: value in current,
    "has_not": lambda current, value: value not in current,
    "contains": _contains,
    "not_contains": lambda current, value: not _contains(current, value),
    "gte": lambda current, value: current is not None and current >= value,
    "lte": lambda current, value: current is not None and current <= value,
    "at_least": _urgency_at_least,
}


def event_matches(patterns: list[str], kind: str) -> bool:
    """Return whether ``kind`` is one of ``patterns`` (exact, a ``prefix.*`` or ``*``)."""
    for pattern in patterns:
        if pattern in ("*", kind):
            return True
        if pattern.endswith(".*") and kind.startswith(pattern[:-1]):
            return True
    return False
