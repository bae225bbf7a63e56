"""What the SLA pages and the ticket page's SLA panel show, and how their forms become API-shaped data
(no import of ombud.web.workspace, which imports the panels)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import ValidationError
from sqlalchemy.orm import Session

from ombud.accounts import service as accounts
from ombud.accounts.models import Role
from ombud.accounts.schemas import Principal
from ombud.errors import InvalidInput
from ombud.sla import clocks
from ombud.sla import hours as business_hours
from ombud.sla import service as sla
from ombud.sla.schemas import PAUSABLE, CalendarCreate, ClockPublic, PolicyCreate
from ombud.storage.base import utcnow
from ombud.tickets.models import Channel, Priority, Ticket

METRIC_WORDS = {
    "first_response": "First response",
    "next_response": "Next response",
    "resolution": "Resolution",
}
STATUS_WORDS = {"new": "New", "open": "Open", "pending": "Pending", "on_hold": "On hold"}
# The inbox badge: a running target due within this long is "due soon".
DUE_SOON = dt.timedelta(hours=1)


def span_words(delta: dt.timedelta) -> str:
    """Return a short span: 12 min, 3 h 5 min, 2 d 4 h."""
    minutes = max(0, int(delta.total_seconds() // 60))
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


def clock_words(clock: ClockPublic, now: dt.datetime) -> tuple[str, str]:
    """Return (css state, words) for one clock: "due in 40 min", "breached 2 h ago", "paused"..."""
    if clock.state == "achieved":
        late = " (late)" if clock.breached else ""
        return (
            "missed" if clock.breached else "met"
        ), f"met after {clock.elapsed_minutes:g} business min{late}"
    if clock.paused:
        return "paused", f"paused · {clock.elapsed_minutes:g} of {clock.target_minutes} business min used"
    if clock.due_at is None:
        return "idle", "not running"
    if clock.due_at <= now:
        return "breached", f"breached {span_words(now - clock.due_at)} ago"
    state = "soon" if clock.due_at - now <= DUE_SOON else "running"
    return state, f"due in {span_words(clock.due_at - now)}"


def panel(*, session: Session, principal: Principal, ticket: Ticket) -> dict[str, Any]:
    """The ticket page's SLA panel: the policy, the calendar and each clock in words."""
    now = utcnow()
    state = clocks.ticket_sla(session=session, ticket=ticket, now=now)
    rows = []
    for clock in state.clocks:
        css, words = clock_words(clock, now)
        rows.append({"metric": METRIC_WORDS[clock.metric.value], "clock": clock, "css": css, "words": words})
    return {
        "policy": state.policy,
        "calendar": state.calendar,
        "rows": rows,
        "waiting": span_words(now - state.waiting_since) if state.waiting_since else None,
    }


# -- the admin page ----------------------------------------------------------------------------------------
def page_context(*, session: Session, principal: Principal) -> dict[str, Any]:
    """The calendars, policies and teams for the SLA settings page (admins edit, leads read)."""
    calendars = sla.list_calendars(session=session, actor=principal)
    teams = accounts.list_teams(session=session)
    team_calendar = {team_id: c.id for c in calendars for team_id in c.team_ids}
    return {
        "can_edit": principal.is_admin,
        "calendars": calendars,
        "calendar_names": {c.id: c.name for c in calendars},
        "policies": [sla.policy_public(p) for p in sla.list_policies(session=session, actor=principal)],
        "teams": teams,
        "team_names": {t.id: t.name for t in teams},
        "team_calendar": team_calendar,
        "hours_text": hours_text,
        "holidays_text": holidays_text,
        "channels": [c.value for c in Channel],
        "priorities": [p.value for p in Priority],
        "pausable": [(s, STATUS_WORDS[s]) for s in PAUSABLE],
        "metric_words": METRIC_WORDS,
    }


def can_read(principal: Principal) -> bool:
    return principal.is_admin or principal.role == Role.lead


def hours_text(weekly: dict[str, list[list[str]]]) -> str:
    """Weekly hours as the form shows them: one weekday per line, "mon 09:00-12:00, 13:00-17:30"."""
    return "\n".join(
        f"{day} " + ", ".join(f"{start}-{end}" for start, end in weekly[day])
        for day in business_hours.WEEKDAYS
        if weekly.get(day)
    )


def holidays_text(holidays: list[Any]) -> str:
    return "\n".join(f"{h.date.isoformat()} {h.name}".strip() for h in holidays)


def parse_hours(text: str) -> dict[str, list[list[str]]]:
    """Read the weekly-hours box: "mon-fri 09:00-17:30" or "sat 10:00-14:00, 15:00-18:00" per line."""
    weekly: dict[str, list[list[str]]] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip().lower()
        if not line:
            continue
        days, _, spans = line.partition(" ")
        first, _, last = days.partition("-")
        if first not in business_hours.WEEKDAYS or (last and last not in business_hours.WEEKDAYS):
            raise InvalidInput(
                f"hours, line {number}: start with a weekday (mon..sun) or a range such as mon-fri",
                code="invalid_input",
            )
        start = business_hours.WEEKDAYS.index(first)
        end = business_hours.WEEKDAYS.index(last) if last else start
        intervals = []
        for part in spans.split(","):
            begin, sep, finish = part.strip().partition("-")
            if not sep:
                raise InvalidInput(
                    f"hours, line {number}: write intervals as 09:00-17:30, separated by commas",
                    code="invalid_input",
                )
            intervals.append([begin.strip(), finish.strip()])
        for index in range(start, end + 1):
            weekly.setdefault(business_hours.WEEKDAYS[index], []).extend(intervals)
    return weekly


def parse_holidays(text: str) -> list[dict[str, str]]:
    """Read the holidays box: "2026-12-25 Christmas Day" per line (the name is optional)."""
    found = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        day, _, name = line.partition(" ")
        try:
            dt.date.fromisoformat(day)
        except ValueError:
            raise InvalidInput(
                f"holidays, line {number}: start with a date as YYYY-MM-DD", code="invalid_input"
            ) from None
        found.append({"date": day, "name": name.strip()})
    return found


def calendar_data(
    *, name: str, time_zone: str, hours: str, holidays: str, is_default: bool
) -> dict[str, Any]:
    """The calendar form as the API's fields, validated (InvalidInput names the field)."""
    data = {
        "name": name,
        "time_zone": time_zone.strip(),
        "hours": parse_hours(hours),
        "holidays": parse_holidays(holidays),
        "is_default": is_default,
    }
    try:
        CalendarCreate.model_validate(data)
    except ValidationError as exc:
        raise _invalid(exc) from None
    return data


def _words(value: str) -> list[str]:
    return [w.strip() for w in value.replace("\n", ",").split(",") if w.strip()]


MAX_ID = 2**63 - 1
MAX_MINUTES = 366 * 24 * 60


def form_int(value: str, field: str, *, low: int, high: int, what: str = "a whole number") -> int | None:
    """Read a whole number typed in (or picked on) a form: None when empty, else ASCII digits from
    ``low`` to ``high`` or InvalidInput naming the field ('²'.isdigit() is True but int('²') fails, and
    an id past 2**63-1 overflows the database)."""
    value = value.strip()
    if not value:
        return None
    if not (
        value.isascii() and value.isdigit() and len(value) <= len(str(high)) and low <= int(value) <= high
    ):
        raise InvalidInput(f"{field}: give {what} from {low} to {high}", code="invalid_input")
    return int(value)


def form_id(value: str, field: str) -> int | None:
    """Read an id chosen on a form (None when empty)."""
    return form_int(value, field, low=1, high=MAX_ID, what="an id")


def _minutes(value: str, field: str, *, low: int = 1) -> int | None:
    return form_int(value, field, low=low, high=MAX_MINUTES, what="whole business minutes")


def policy_data(form: dict[str, Any]) -> dict[str, Any]:
    """The policy form as the API's fields, validated (InvalidInput names the field)."""
    targets = {
        metric: minutes
        for metric in METRIC_WORDS
        if (minutes := _minutes(str(form.get(f"target_{metric}") or ""), metric)) is not None
    }
    team_ids = [
        team_id for t in form.get("team_ids", []) if (team_id := form_id(str(t), "teams")) is not None
    ]
    warn_percent = form_int(
        str(form.get("warn_percent") or ""), "warn at percent", low=1, high=99, what="a percent"
    )
    data: dict[str, Any] = {
        "name": form.get("name", ""),
        "active": bool(form.get("active")),
        "conditions": {
            "channels": list(form.get("channels", [])),
            "priorities": list(form.get("priorities", [])),
            "tiers": _words(str(form.get("tiers") or "")),
            "intents": _words(str(form.get("intents") or "")),
            "team_ids": team_ids,
        },
        "targets": targets,
        "paused_statuses": list(form.get("paused", [])),
        "warn_before_minutes": _minutes(str(form.get("warn_before_minutes") or ""), "warn before", low=0),
        "warn_fraction": None if warn_percent is None else warn_percent / 100,
        "escalation": {
            "notify": bool(form.get("notify")),
            "raise_priority": bool(form.get("raise_priority")),
            "team_id": form_id(str(form.get("escalate_team_id") or ""), "escalate to team"),
            "unassign": bool(form.get("unassign")),
        },
    }
    try:
        PolicyCreate.model_validate(data)
    except ValidationError as exc:
        raise _invalid(exc) from None
    return data


def _invalid(exc: ValidationError) -> InvalidInput:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"])
    message = str(first["msg"]).removeprefix("Value error, ")
    return InvalidInput(f"{where}: {message}" if where else message, code="invalid_input")
