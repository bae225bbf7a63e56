"""Running rules: what is known about a ticket (facts), applying a rule's actions through the tickets
service as the system, the event consumer, and the time-rule clocks the sweep reads.

Loops are stopped twice over. Every event a rule causes is recorded with the outside change its cascade
started from (:class:`AutomationOrigin`); within one cascade a rule fires at most once (its own changes,
or a ping-pong with another rule, never trigger it again), and at most ``MAX_DEPTH`` rules fire in all.
Each rule fires at most once per event, and a time rule at most once per ticket per period (the time its
clock started), enforced by the run log.

Tickets are read through their models here (not only the service) because rules and dry runs filter and
walk many tickets; every change still goes through ``ombud.tickets.service``, audited as the system.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ombud.accounts import service as accounts
from ombud.accounts.schemas import SYSTEM
from ombud.automations import rules
from ombud.automations.models import AutomationClock, AutomationOrigin, AutomationRule, AutomationRun
from ombud.customers import service as customers
from ombud.errors import InvalidInput, OmbudError
from ombud.events import service as events
from ombud.events.service import EventRecord
from ombud.storage.base import utcnow
from ombud.tickets import inbox
from ombud.tickets import service as tickets
from ombud.tickets.models import AuthorType, Message, Status, Ticket
from ombud.tickets.schemas import MessageCreate, TicketUpdate
from ombud.triage import service as triage

log = logging.getLogger(__name__)

TIME_JOB = "automations.time_rules"
# A rule's change may trigger another rule, which may trigger a third...; deeper chains are cut here.
MAX_DEPTH = 5
_MESSAGE_EVENTS = ("message.added", "note.added", "message.triaged")


# -- facts ------------------------------------------------------------------------------------------------
def triage_facts(result: dict[str, Any]) -> dict[str, Any]:
    """Return the conditions' view of one stored triage result (the shape message.triaged publishes)."""
    return {
        "intents": [c["intents"][0]["label"] for c in result.get("concerns", []) if c.get("intents")],
        "language": result.get("language"),
        "urgency": (result.get("urgency") or {}).get("level"),
        "frustration": result.get("frustration"),
        "emotion": (result.get("emotion") or {}).get("label"),
        "abusive": bool(result.get("abusive")),
    }


def _latest_triage(session: Session, ticket_id: int) -> dict[str, Any]:
    ids = session.scalars(
        select(Message.id)
        .where(
            Message.ticket_id == ticket_id,
            Message.author_type == AuthorType.customer,
            Message.internal.is_(False),
            Message.triaged_at.is_not(None),
        )
        .order_by(Message.id.desc())
        .limit(5)
    ).all()
    results = triage.results_for(session=session, message_ids=list(ids))
    for message_id in ids:
        if message_id in results:
            return triage_facts(results[message_id])
    return {}


def facts_for(*, session: Session, ticket: Ticket, event: EventRecord | None = None) -> rules.Facts:
    """Return what conditions are checked against: ``ticket`` as it is now, and ``event`` if given."""
    body_message: Message | None = None
    if event is not None and event.kind in _MESSAGE_EVENTS and event.entity_type == "message":
        body_message = session.get(Message, event.entity_id)
    if body_message is None:
        body_message = session.scalar(
            select(Message)
            .where(
                Message.ticket_id == ticket.id,
                Message.author_type == AuthorType.customer,
                Message.internal.is_(False),
            )
            .order_by(Message.id.desc())
            .limit(1)
        )
    if event is not None and event.kind == "message.triaged":
        found: dict[str, Any] = {
            key: event.payload.get(key) for key in ("language", "urgency", "frustration", "emotion")
        }
        found["intents"] = list(event.payload.get("intents") or [])
        found["abusive"] = bool(event.payload.get("abusive"))
    else:
        found = _latest_triage(session, ticket.id)
    facts = rules.Facts(
        status=ticket.status.value,
        priority=ticket.priority.value,
        channel=ticket.channel.value,
        team_id=ticket.team_id,
        assignee_id=ticket.assignee_id,
        tags=ticket.tag_names,
        subject=ticket.subject,
        body=body_message.body_text if body_message is not None else "",
        customer_tier=customers.tier_of(session=session, customer_id=ticket.customer_id),
        **found,
    )
    if event is not None:
        facts.event = event.kind
        facts.actor = event.actor_type
        facts.changes = _changes(event)
    return facts


def _changes(event: EventRecord) -> dict[str, tuple[Any, Any]]:
    before = event.payload.get("before") or {}
    after = event.payload.get("after") or {}
    if event.kind != "ticket.updated":
        after = after.get("ticket") or {} if isinstance(after, dict) else {}
    return {
        key: (before.get(key), after[key])
        for key in after
        if key in ("status", "priority", "assignee_id", "team_id")
    }


# -- actions ----------------------------------------------------------------------------------------------
def placeholder_values(*, session: Session, ticket: Ticket) -> dict[str, str]:
    """The values a reply's or note's placeholders are filled with for ``ticket`` (no agent: the desk)."""
    customer = customers.access_customer(session=session, principal=SYSTEM, customer_id=ticket.customer_id)
    emails = customers.identity_values(session=session, customer_id=customer.id, kind="email")
    assignee = _user(session, ticket.assignee_id)
    return {
        "customer.name": customer.name,
        "customer.first_name": customer.name.split()[0] if customer.name.strip() else "",
        "customer.email": emails[0] if emails else "",
        "ticket.id": str(ticket.id),
        "ticket.subject": ticket.subject,
        "ticket.order_number": triage.latest_entity(
            session=session, ticket_id=ticket.id, entity_type="order_number"
        )
        or "",
        "agent.name": assignee.name if assignee is not None else "",
        "agent.first_name": assignee.name.split()[0]
        if assignee is not None and assignee.name.strip()
        else "",
    }


def _user(session: Session, user_id: int | None) -> Any:
    if user_id is None:
        return None
    try:
        return accounts.access_user(session=session, user_id=user_id)
    except OmbudError:
        return None  # removed or deactivated since the rule was saved


def fill(body: str, values: dict[str, str]) -> str:
    """Return ``body`` with placeholders filled; an unknown value becomes empty, never a visible gap, because
    nobody reviews an automatic message before the customer reads it."""
    return inbox.PLACEHOLDER.sub(lambda m: values.get(m.group(1), "").strip(), body)


def field_changes(ticket: Ticket, actions: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Return the ticket fields ``actions`` would change ({} when they are all as wanted already)."""
    wanted: dict[str, Any] = {}
    tags = list(ticket.tag_names)
    for action in actions:
        kind = action["type"]
        if kind == "set_status" and action["value"] != ticket.status.value:
            wanted["status"] = action["value"]
        elif kind == "set_priority" and action["value"] != ticket.priority.value:
            wanted["priority"] = action["value"]
        elif kind == "set_team" and action["team_id"] != ticket.team_id:
            wanted["team_id"] = action["team_id"]
        elif kind == "set_assignee" and action["user_id"] != ticket.assignee_id:
            wanted["assignee_id"] = action["user_id"]
        elif kind == "add_tags":
            tags = sorted(set(tags) | set(action["tags"]))
        elif kind == "remove_tags":
            tags = sorted(set(tags) - set(action["tags"]))
    if tags != ticket.tag_names:
        wanted["tags"] = tags
    return wanted


def preview(*, session: Session, ticket: Ticket, actions: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Return what ``actions`` would do to ``ticket``, changing nothing."""
    changes: list[dict[str, Any]] = []
    values: dict[str, str] | None = None
    for action in actions:
        if action["type"] in ("add_note", "reply", "notify"):
            values = values if values is not None else placeholder_values(session=session, ticket=ticket)
            text = _message_text(session, action, values)
            changes.append({"action": action["type"], "text": text[:500]})
    current = {
        "status": ticket.status.value,
        "priority": ticket.priority.value,
        "team_id": ticket.team_id,
        "assignee_id": ticket.assignee_id,
        "tags": ticket.tag_names,
    }
    for key, value in field_changes(ticket, actions).items():
        changes.append(
            {"action": f"set_{key}" if key != "tags" else "tags", "from": current[key], "to": value}
        )
    return changes


def _message_text(session: Session, action: dict[str, Any], values: dict[str, str]) -> str:
    text = fill(action.get("body", ""), values)
    if action["type"] == "notify":
        user = _user(session, action["user_id"])
        if user is None:
            raise InvalidInput(f"notify: no active user with id {action['user_id']}", code="unknown_user")
        return f"@{inbox.mention_handle(user.email)} {text}".strip()
    return text


def apply(
    *, session: Session, ticket: Ticket, actions: Sequence[dict[str, Any]], limits: tickets.Limits
) -> list[dict[str, Any]]:
    """Apply ``actions`` to ``ticket`` as the system (audited, published); return what was done.

    Messages first, then one update of the fields: a rule that replies and then closes must not find the
    ticket closed when it replies.
    """
    planned = preview(session=session, ticket=ticket, actions=actions)
    for action, change in zip(
        [a for a in actions if a["type"] in ("add_note", "reply", "notify")],
        [c for c in planned if "text" in c],
        strict=True,
    ):
        tickets.add_message(
            session=session,
            ticket=ticket,
            data=MessageCreate(body=change["text"] or "(automatic note)", internal=action["type"] != "reply"),
            actor=SYSTEM,
            limits=limits,
        )
    wanted = field_changes(ticket, actions)
    if wanted:
        tickets.update_ticket(session=session, ticket=ticket, changes=TicketUpdate(**wanted), actor=SYSTEM)
    return planned


# -- the chain guard --------------------------------------------------------------------------------------
def _event_ids(session: Session, ticket_id: int) -> set[int]:
    return {e.id for e in events.history(session=session, ticket_id=ticket_id)}


def _fire(
    *,
    session: Session,
    rule: AutomationRule,
    ticket: Ticket,
    event_id: int | None,
    event_kind: str,
    period: str,
    root_event_id: int | None,
    limits: tickets.Limits,
) -> AutomationRun:
    """Apply ``rule`` to ``ticket`` in a savepoint; record the run (with the error if it failed) and the
    chain of the events it caused."""
    before = _event_ids(session, ticket.id)
    error: str | None = None
    applied: list[dict[str, Any]] = []
    try:
        with session.begin_nested():
            applied = apply(session=session, ticket=ticket, actions=rule.actions, limits=limits)
    except OmbudError as exc:
        session.expire(ticket)
        error = exc.message
    run = AutomationRun(
        rule_id=rule.id,
        ticket_id=ticket.id,
        event_id=event_id,
        event_kind=event_kind,
        period=period,
        applied=applied if error is None else [],
        error=error,
        created_at=utcnow(),
    )
    session.add(run)
    caused = sorted(_event_ids(session, ticket.id) - before)
    # A time rule starts a cascade of its own: its first event is the root.
    root = root_event_id if root_event_id is not None else (caused[0] if caused else None)
    for new_id in caused:
        assert root is not None
        session.add(AutomationOrigin(event_id=new_id, root_event_id=root, rule_id=rule.id))
    session.flush()
    return run


def _cascade(session: Session, root_event_id: int) -> list[int]:
    """Return the rules that already fired in the cascade that started at ``root_event_id``."""
    rows = session.scalars(
        select(AutomationOrigin.rule_id)
        .where(AutomationOrigin.root_event_id == root_event_id)
        .order_by(AutomationOrigin.event_id)
    ).all()
    return list(dict.fromkeys(int(r) for r in rows))


def has_run(session: Session, rule_id: int, ticket_id: int, period: str) -> bool:
    return (
        session.scalar(
            select(AutomationRun.id).where(
                AutomationRun.ticket_id == ticket_id,
                AutomationRun.rule_id == rule_id,
                AutomationRun.period == period,
            )
        )
        is not None
    )


def _rules(session: Session, trigger: str) -> Sequence[AutomationRule]:
    return session.scalars(
        select(AutomationRule)
        .where(AutomationRule.enabled.is_(True), AutomationRule.trigger == trigger)
        .order_by(AutomationRule.position, AutomationRule.id)
    ).all()


# -- the event consumer -----------------------------------------------------------------------------------
def handle_event(*, session: Session, event: EventRecord, limits: tickets.Limits) -> None:
    """Keep the ticket's time-rule clock, then run the enabled event rules that ``event`` triggers."""
    if event.ticket_id is None:
        return
    ticket = session.get(Ticket, event.ticket_id)
    if ticket is None:
        return
    _touch_clock(session=session, ticket=ticket, event=event)
    candidates = [r for r in _rules(session, "event") if rules.event_matches(r.events, event.kind)]
    if not candidates:
        return
    origin = session.get(AutomationOrigin, event.id)
    root = origin.root_event_id if origin is not None else event.id
    chain = _cascade(session, root)
    depth = len(chain)
    period = f"event:{event.id}"
    for rule in candidates:
        if rule.id in chain or has_run(session, rule.id, ticket.id, period):
            continue  # its own change, or this event was handled before a crash
        if ticket.status == Status.closed:
            return
        if not rules.matches(rule.conditions, facts_for(session=session, ticket=ticket, event=event)):
            continue
        if not field_changes(ticket, rule.actions) and not any(
            a["type"] in ("add_note", "reply", "notify") for a in rule.actions
        ):
            continue  # already as the rule wants: nothing to do, nothing to log
        if depth >= MAX_DEPTH:
            cut = f"cascade:{root}"  # logged once per cascade, not for each of its events
            if has_run(session, rule.id, ticket.id, cut):
                continue
            session.add(
                AutomationRun(
                    rule_id=rule.id,
                    ticket_id=ticket.id,
                    event_id=event.id,
                    event_kind=event.kind,
                    period=cut,
                    applied=[],
                    error=f"not applied: {depth} automations in a row already changed this ticket "
                    f"(rules {', '.join(map(str, chain))}); the chain stops at {MAX_DEPTH}",
                    created_at=utcnow(),
                )
            )
            session.flush()
            continue
        run = _fire(
            session=session,
            rule=rule,
            ticket=ticket,
            event_id=event.id,
            event_kind=event.kind,
            period=period,
            root_event_id=root,
            limits=limits,
        )
        if run.error is None:
            # The rules after it see the ticket as it left it: they are the next links of the chain.
            depth, chain = depth + 1, [*chain, rule.id]


# -- time rules -------------------------------------------------------------------------------------------
def _anchor(clock: AutomationClock, since: str) -> dt.datetime | None:
    value: dt.datetime | None = getattr(clock, "created_at" if since == "created" else f"{since}_at")
    return value


def period_of(since: str, anchor: dt.datetime) -> str:
    """Return the period key of a time rule counting from ``since`` at ``anchor`` (microseconds: two
    status changes within a second are two periods)."""
    return f"{since}:{anchor.isoformat()}"


def _touch_clock(*, session: Session, ticket: Ticket, event: EventRecord) -> None:
    clock = session.get(AutomationClock, ticket.id)
    if ticket.status == Status.closed:
        if clock is not None:
            session.delete(clock)  # a closed ticket never changes again: nothing left to time
        return
    at = event.created_at
    if clock is None:
        clock = AutomationClock(
            ticket_id=ticket.id,
            created_at=ticket.created_at,
            status_changed_at=ticket.created_at if event.kind == "ticket.created" else ticket.updated_at,
            customer_message_at=ticket.created_at,
        )
        session.add(clock)
    after = event.payload.get("after") or {}
    ticket_after = after if event.kind == "ticket.updated" else after.get("ticket") or {}
    if isinstance(ticket_after, dict) and "status" in ticket_after:
        clock.status_changed_at = at
    if event.kind == "message.added":
        if event.actor_type == "customer":
            clock.customer_message_at = at
        else:
            clock.agent_reply_at = at
    clock.checked_at = None
    clock.due_at = next_due(session=session, clock=clock, rules_=_rules(session, "time"))


def next_due(
    *, session: Session, clock: AutomationClock, rules_: Sequence[AutomationRule]
) -> dt.datetime | None:
    """Return when a time rule could next fire on the clock's ticket (None: none can)."""
    if not rules_:
        return None
    rows = session.execute(
        select(AutomationRun.rule_id, AutomationRun.period).where(
            AutomationRun.ticket_id == clock.ticket_id, AutomationRun.rule_id.in_([r.id for r in rules_])
        )
    ).all()
    done = {(int(row[0]), str(row[1])) for row in rows}
    due: dt.datetime | None = None
    for rule in rules_:
        anchor = _anchor(clock, rule.since or "")
        if anchor is None or rule.hours is None or (rule.id, period_of(rule.since or "", anchor)) in done:
            continue
        fire_at = anchor + dt.timedelta(hours=rule.hours)
        if clock.checked_at is not None and fire_at <= clock.checked_at:
            continue  # its time came, its conditions did not hold; a change to the ticket looks again
        due = fire_at if due is None else min(due, fire_at)
    return due


def due_ticket_ids(*, session: Session, limit: int) -> Sequence[int]:
    """Return tickets whose time rules are due (the sweep's finder), soonest first."""
    query = (
        select(AutomationClock.ticket_id)
        .where(AutomationClock.due_at <= utcnow())
        .order_by(AutomationClock.due_at)
        .limit(limit)
    )
    return [int(i) for i in session.scalars(query).all()]


def run_time_rules(*, session: Session, ticket_id: int, limits: tickets.Limits) -> int:
    """Fire the time rules due on ``ticket_id``; return how many fired. Idempotent: a rule fires once per
    period, and a clock that is not due does nothing."""
    clock = session.get(AutomationClock, ticket_id)
    now = utcnow()
    if clock is None or clock.due_at is None or clock.due_at > now:
        return 0
    ticket = session.get(Ticket, ticket_id)
    time_rules = _rules(session, "time")
    fired = 0
    for rule in time_rules:
        if ticket is None or ticket.status == Status.closed:
            break
        anchor = _anchor(clock, rule.since or "")
        if anchor is None or rule.hours is None or anchor + dt.timedelta(hours=rule.hours) > now:
            continue
        period = period_of(rule.since or "", anchor)
        if has_run(session, rule.id, ticket.id, period):
            continue
        if not rules.matches(rule.conditions, facts_for(session=session, ticket=ticket)):
            continue
        _fire(
            session=session,
            rule=rule,
            ticket=ticket,
            event_id=None,
            event_kind=f"time.{rule.since}",
            period=period,
            root_event_id=None,
            limits=limits,
        )
        fired += 1
    clock.checked_at = now
    clock.due_at = next_due(session=session, clock=clock, rules_=time_rules)
    session.flush()
    return fired


def reschedule_all(*, session: Session) -> None:
    """Make every clock due now (a time rule was added or changed): the sweep looks at each open ticket
    once and sets its next due time."""
    session.execute(update(AutomationClock).values(checked_at=None, due_at=utcnow()))
