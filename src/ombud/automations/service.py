"""Automation rules: save (checked), order, enable, delete, dry-run, and read their run log.

Admins write rules (they change tickets for everyone); leads may read them and try them. Running them is
``ombud.automations.engine``: the event consumer and the time-rule sweep.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ombud.accounts import service as accounts
from ombud.accounts.models import Role
from ombud.accounts.schemas import Principal
from ombud.audit import service as audit
from ombud.automations import engine, rules
from ombud.automations.models import AutomationClock, AutomationRule, AutomationRun
from ombud.automations.schemas import DryRunItem, DryRunPage, RuleIn, RuleUpdate
from ombud.errors import Conflict, Forbidden, InvalidInput, NotFound
from ombud.pagination import cursor_id, decode_cursor, encode_cursor
from ombud.storage.base import utcnow
from ombud.tickets.models import Status, Ticket

MAX_RULES = 500
MAX_PAGE = 200
# A dry-run page looks at this many tickets at most, however few match: every page costs the same.
DRY_RUN_SCAN = 500


def require_admin(principal: Principal) -> None:
    if not principal.is_admin:
        raise Forbidden("only admins change automations", code="role_forbidden")


def require_reader(principal: Principal) -> None:
    if not (principal.is_admin or (principal.kind == "user" and principal.role == Role.lead)):
        raise Forbidden("only admins and leads see automations", code="role_forbidden")


# -- checking ---------------------------------------------------------------------------------------------
def check_rule(*, session: Session, data: RuleIn, check_ids: bool = True) -> dict[str, Any]:
    """Return the rule's columns, checked; raise InvalidInput naming the bad part. ``check_ids`` False
    skips checking that its teams and users still exist (disabling a rule must work after a team went)."""
    name = " ".join(data.name.split())
    if not name:
        raise InvalidInput("name: a rule needs a name", code="invalid_rule", details={"path": "name"})
    fields: dict[str, Any] = {"name": name, "enabled": data.enabled, "trigger": data.trigger}
    if data.trigger == "event":
        if data.since is not None or data.hours is not None:
            raise InvalidInput(
                "since: an event rule runs on events; use trigger time for since and hours",
                code="invalid_rule",
                details={"path": "since"},
            )
        fields.update(events=rules.check_events(data.events), since=None, hours=None)
    else:
        if data.events:
            raise InvalidInput(
                "events: a time rule runs when time has passed, not on events; leave events empty",
                code="invalid_rule",
                details={"path": "events"},
            )
        since, hours = rules.check_time(data.since, data.hours)
        fields.update(events=[], since=since, hours=hours)
    fields["conditions"] = rules.check_conditions(data.conditions)
    fields["actions"] = rules.check_actions(data.actions)
    if check_ids:
        _check_ids(session, fields["actions"])
    return fields


def _check_ids(session: Session, actions: list[dict[str, Any]]) -> None:
    for i, action in enumerate(actions):
        try:
            if action["type"] == "set_team" and action["team_id"] is not None:
                accounts.access_team(session=session, team_id=action["team_id"])
            if action["type"] in ("set_assignee", "notify") and action["user_id"] is not None:
                accounts.access_user(session=session, user_id=action["user_id"])
        except InvalidInput as error:
            raise InvalidInput(
                f"actions[{i}]: {error.message}", code="invalid_rule", details={"path": f"actions[{i}]"}
            ) from None


# -- saving -----------------------------------------------------------------------------------------------
def list_rules(*, session: Session, principal: Principal) -> Sequence[AutomationRule]:
    """Return every rule in the order they run."""
    require_reader(principal)
    return session.scalars(select(AutomationRule).order_by(AutomationRule.position, AutomationRule.id)).all()


def access_rule(*, session: Session, principal: Principal, rule_id: int) -> AutomationRule:
    require_reader(principal)
    rule = session.get(AutomationRule, rule_id)
    if rule is None:
        raise NotFound(f"no automation rule with id {rule_id}", code="rule_not_found")
    return rule


def create_rule(*, session: Session, principal: Principal, data: RuleIn) -> AutomationRule:
    """Save a new rule (last in order unless a position is given)."""
    require_admin(principal)
    fields = check_rule(session=session, data=data)
    if (session.scalar(select(func.count(AutomationRule.id))) or 0) >= MAX_RULES:
        raise InvalidInput(f"at most {MAX_RULES} rules; delete one first", code="too_many_rules")
    if data.position is None:
        last = session.scalar(select(func.max(AutomationRule.position)))
        position = 0 if last is None else last + 1
    else:
        position = data.position
    now = utcnow()
    rule = AutomationRule(
        **fields,
        position=position,
        created_by_id=principal.id if principal.kind == "user" else None,
        created_at=now,
        updated_at=now,
    )
    _save(session, rule, principal, "automation.created")
    return rule


def update_rule(
    *, session: Session, principal: Principal, rule_id: int, changes: RuleUpdate
) -> AutomationRule:
    """Change the fields given; the whole rule is checked again."""
    require_admin(principal)
    rule = access_rule(session=session, principal=principal, rule_id=rule_id)
    given = changes.model_dump(exclude_unset=True)
    for key in ("name", "enabled", "trigger", "conditions", "actions"):
        if key in given and given[key] is None:
            raise InvalidInput(f"{key}: cannot be null", code="invalid_rule", details={"path": key})
    merged = {
        "name": rule.name,
        "enabled": rule.enabled,
        "trigger": rule.trigger,
        "events": rule.events,
        "since": rule.since,
        "hours": rule.hours,
        "conditions": rule.conditions,
        "actions": rule.actions,
    }
    if given.get("trigger") == "time" and rule.trigger == "event":
        merged["events"] = []
    if given.get("trigger") == "event" and rule.trigger == "time":
        merged["since"] = merged["hours"] = None
    merged.update({k: v for k, v in given.items() if k != "position"})
    try:
        data = RuleIn.model_validate({**merged, "events": merged["events"] or []})
    except ValidationError as error:
        first = error.errors()[0]
        path = ".".join(str(p) for p in first["loc"])
        raise InvalidInput(f"{path}: {first['msg']}", code="invalid_rule", details={"path": path}) from None
    fields = check_rule(session=session, data=data, check_ids="actions" in given)
    for key, value in fields.items():
        setattr(rule, key, value)
    if given.get("position") is not None:
        rule.position = given["position"]
    rule.updated_at = utcnow()
    _save(session, rule, principal, "automation.updated")
    return rule


def _save(session: Session, rule: AutomationRule, principal: Principal, action: str) -> None:
    try:
        with session.begin_nested():
            session.add(rule)
            session.flush()
    except IntegrityError:
        raise Conflict(f"a rule named {rule.name!r} already exists", code="rule_exists") from None
    audit.record(
        session=session,
        actor=principal,
        action=action,
        entity_type="automation_rule",
        entity_id=rule.id,
        after={"name": rule.name, "enabled": rule.enabled, "trigger": rule.trigger, "actions": rule.actions},
    )
    if rule.trigger == "time":
        engine.reschedule_all(session=session)


def delete_rule(*, session: Session, principal: Principal, rule_id: int) -> None:
    """Delete a rule and its run log."""
    require_admin(principal)
    rule = access_rule(session=session, principal=principal, rule_id=rule_id)
    audit.record(
        session=session,
        actor=principal,
        action="automation.deleted",
        entity_type="automation_rule",
        entity_id=rule.id,
        before={"name": rule.name},
    )
    session.delete(rule)
    session.flush()


def reorder(*, session: Session, principal: Principal, ids: Sequence[int]) -> Sequence[AutomationRule]:
    """Put the rules in the order of ``ids`` (which must name every rule once)."""
    require_admin(principal)
    found = {r.id: r for r in session.scalars(select(AutomationRule)).all()}
    if len(set(ids)) != len(ids) or set(ids) != set(found):
        missing = sorted(set(found) - set(ids))
        unknown = sorted(set(ids) - set(found))
        raise InvalidInput(
            "ids must name every rule exactly once"
            + (f"; missing {missing[:10]}" if missing else "")
            + (f"; unknown {unknown[:10]}" if unknown else ""),
            code="invalid_order",
        )
    for position, rule_id in enumerate(ids):
        found[rule_id].position = position
    session.flush()
    return list_rules(session=session, principal=principal)


# -- the run log ------------------------------------------------------------------------------------------
def list_runs(
    *, session: Session, principal: Principal, rule_id: int, limit: int = 50, cursor: str | None = None
) -> tuple[Sequence[AutomationRun], str | None]:
    """Return one page of the rule's runs, newest first, and the next page's cursor."""
    access_rule(session=session, principal=principal, rule_id=rule_id)
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInput(f"limit must be between 1 and {MAX_PAGE}", code="invalid_limit")
    query = select(AutomationRun).where(AutomationRun.rule_id == rule_id)
    if cursor is not None:
        query = query.where(AutomationRun.id < cursor_id(decode_cursor(cursor, required=("id",))))
    rows = session.scalars(query.order_by(AutomationRun.id.desc()).limit(limit + 1)).all()
    items = rows[:limit]
    return items, encode_cursor({"id": items[-1].id}) if len(rows) > limit else None


# -- the dry run ------------------------------------------------------------------------------------------
def dry_run(
    *,
    session: Session,
    principal: Principal,
    data: RuleIn,
    limit: int = 50,
    cursor: str | None = None,
    rule_id: int | None = None,
) -> DryRunPage:
    """Return which tickets (not closed, newest first) ``data`` would change now, and how, changing
    nothing. One page looks at up to DRY_RUN_SCAN tickets and lists up to ``limit`` of them. With the
    ``rule_id`` of a saved time rule, tickets it already fired on in the current period are left out."""
    require_reader(principal)
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInput(f"limit must be between 1 and {MAX_PAGE}", code="invalid_limit")
    fields = check_rule(session=session, data=data)
    query = select(Ticket).where(Ticket.status != Status.closed)
    if cursor is not None:
        query = query.where(Ticket.id < cursor_id(decode_cursor(cursor, required=("id",))))
    batch = session.scalars(query.order_by(Ticket.id.desc()).limit(DRY_RUN_SCAN)).all()
    items: list[DryRunItem] = []
    scanned = 0
    now = utcnow()
    for ticket in batch:
        scanned += 1
        if fields["trigger"] == "time" and not _time_reached(session, ticket, fields, now, rule_id):
            continue
        if not rules.matches(fields["conditions"], engine.facts_for(session=session, ticket=ticket)):
            continue
        changes = engine.preview(session=session, ticket=ticket, actions=fields["actions"])
        if changes:
            items.append(
                DryRunItem(
                    ticket_id=ticket.id, subject=ticket.subject, status=ticket.status.value, changes=changes
                )
            )
        if len(items) == limit:
            break
    more = len(items) == limit or len(batch) == DRY_RUN_SCAN
    last = batch[scanned - 1].id if scanned else None
    return DryRunPage(
        items=items,
        scanned=scanned,
        not_checked=rules.event_only_conditions(fields["conditions"]),
        next_cursor=encode_cursor({"id": last}) if more and last is not None else None,
    )


def _time_reached(
    session: Session, ticket: Ticket, fields: dict[str, Any], now: dt.datetime, rule_id: int | None
) -> bool:
    clock = session.get(AutomationClock, ticket.id)
    if clock is None:
        return False
    since: str = fields["since"]
    anchor: dt.datetime | None = clock.created_at if since == "created" else getattr(clock, f"{since}_at")
    if anchor is None or anchor + dt.timedelta(hours=fields["hours"]) > now:
        return False
    period = engine.period_of(since, anchor)
    return rule_id is None or not engine.has_run(session, rule_id, ticket.id, period)


def rule_as_input(rule: AutomationRule) -> RuleIn:
    """Return a saved rule as input (to dry-run it)."""
    return RuleIn(
        name=rule.name,
        enabled=rule.enabled,
        trigger="time" if rule.trigger == "time" else "event",
        events=rule.events,
        since=rule.since,
        hours=rule.hours,
        conditions=rule.conditions,
        actions=rule.actions,
    )


def runs_for_ticket(*, session: Session, ticket_id: int, limit: int = 10) -> list[tuple[AutomationRun, str]]:
    """Return the latest runs of any rule on one ticket, newest first, each with its rule's name."""
    rows = session.execute(
        select(AutomationRun, AutomationRule.name)
        .join(AutomationRule, AutomationRule.id == AutomationRun.rule_id)
        .where(AutomationRun.ticket_id == ticket_id)
        .order_by(AutomationRun.id.desc())
        .limit(limit)
    ).all()
    return [(row[0], str(row[1])) for row in rows]
