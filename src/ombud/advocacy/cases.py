"""Advocacy cases: a systemic problem taken to the department that can fix it, with its evidence, the
tickets and customers it covers, and its way to "fixed" and "customers told".

A case is opened from a theme (its figures become the evidence pack, every ticket of the theme joins) or
by hand (with tickets). While it is open, acknowledged or in progress, every new concern of its theme
brings its ticket in (the ``advocacy-cases`` consumer of ``advocacy.concern_themed``); once fixed or closed,
nothing joins any more. Its status moves

    open → acknowledged → in_progress → fixed → customers_told → verified
    (closed, without a fix, from open, acknowledged or in_progress; back to in_progress from fixed,
    closed, customers_told or verified when the fix did not hold or the problem came back)

by hand or from the department's outside tracker (signed callbacks, :mod:`ombud.advocacy.tracker`); the
step to ``customers_told`` is the loop's (:mod:`ombud.advocacy.loop`), when every affected customer was
told. An advocate's move to fixed starts telling the customers at once (they wrote the fix note); a fix
reported by the tracker waits, with the tracker's note proposed, until an advocate confirms it
(:func:`tell_customers`): text from outside is not sent to customers unread.

Every change is audited and published as an ``advocacy.case.*`` event whose payload is an issue-tracker
style document (``{"action", "issue": {...}}``). The department's webhook endpoint receives those events
of its own cases (:func:`ombud.advocacy.tracker.deliver_to_department`), signed like every outbound webhook.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, insert, literal, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ombud.accounts import service as accounts
from ombud.accounts.schemas import STAFF_ROLES, SYSTEM, Principal
from ombud.advocacy import access, departments, loop, stats
from ombud.advocacy.case_schemas import MAX_URL, CaseIn
from ombud.advocacy.models import (
    AdvocacyCase,
    CaseNotice,
    CaseStatus,
    CaseTicket,
    Department,
    NoticeState,
    SpikeAlert,
    SpikeState,
    Theme,
    ThemeMember,
)
from ombud.audit import service as audit
from ombud.customers import service as customers
from ombud.errors import Conflict, InvalidInput, NotFound, OmbudError
from ombud.events import service as events
from ombud.events.service import EventRecord
from ombud.pagination import cursor_id, decode_cursor, encode_cursor
from ombud.storage.base import UTCDateTime, utcnow
from ombud.storage.db import race_savepoint
from ombud.tickets import service as tickets
from ombud.tickets.models import Ticket
from ombud.webhooks import service as webhooks

# The statuses of a case still being worked on (tickets of its theme join it). Other domains (digest,
# dashboard) import this rather than listing them again.
OPEN_STATES = frozenset({CaseStatus.open, CaseStatus.acknowledged, CaseStatus.in_progress})
# The statuses after a fix.
FIXED_STATES = frozenset({CaseStatus.fixed, CaseStatus.customers_told, CaseStatus.verified})
# Where each status may go by hand or from the tracker (customers_told is the loop's own step).
TRANSITIONS: dict[CaseStatus, frozenset[CaseStatus]] = {
    CaseStatus.open: frozenset(
        {CaseStatus.acknowledged, CaseStatus.in_progress, CaseStatus.fixed, CaseStatus.closed}
    ),
    CaseStatus.acknowledged: frozenset({CaseStatus.in_progress, CaseStatus.fixed, CaseStatus.closed}),
    CaseStatus.in_progress: frozenset({CaseStatus.fixed, CaseStatus.closed}),
    # The fix did not hold (or was reported too soon): notices not yet posted are dropped.
    CaseStatus.fixed: frozenset({CaseStatus.in_progress}),
    CaseStatus.customers_told: frozenset({CaseStatus.verified, CaseStatus.in_progress}),
    CaseStatus.verified: frozenset({CaseStatus.in_progress}),
    CaseStatus.closed: frozenset({CaseStatus.in_progress}),
}
EVENT_PREFIX = "advocacy.case."
EVIDENCE_DAYS = 90
MAX_PAGE = 200
MAX_QUOTES = 5
MAX_CUSTOMERS_IN_EVIDENCE = 50
SEGMENT_KEYS = ("tier", "product", "region")


def case_path(case_id: int) -> str:
    return f"/agent/advocacy/cases/{case_id}"


# -- reading ----------------------------------------------------------------------------------------------
def get_case(*, session: Session, case_id: int) -> AdvocacyCase | None:
    return session.get(AdvocacyCase, case_id)


def locked_case(session: Session, case_id: int) -> AdvocacyCase | None:
    """Return the case with its row locked on PostgreSQL (two moves at once must not both start the loop;
    SQLite writers are one at a time already)."""
    locking = session.get_bind().dialect.name == "postgresql"
    return session.get(AdvocacyCase, case_id, with_for_update=locking or None, populate_existing=locking)


def access_case(*, session: Session, principal: Principal, case_id: int, lock: bool = False) -> AdvocacyCase:
    access.check_read(principal)
    case = locked_case(session, case_id) if lock else session.get(AdvocacyCase, case_id)
    if case is None:
        raise NotFound(f"no advocacy case with id {case_id}", code="case_not_found")
    return case


def list_cases(
    *,
    session: Session,
    principal: Principal,
    status: Sequence[CaseStatus] = (),
    department_id: int | None = None,
    theme_id: int | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> tuple[Sequence[AdvocacyCase], str | None]:
    """Return one page of cases, newest first, and the next page's cursor."""
    access.check_read(principal)
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInput(f"limit must be between 1 and {MAX_PAGE}", code="invalid_limit")
    query = select(AdvocacyCase)
    if status:
        query = query.where(AdvocacyCase.status.in_(list(status)))
    if department_id is not None:
        query = query.where(AdvocacyCase.department_id == department_id)
    if theme_id is not None:
        query = query.where(AdvocacyCase.theme_id == theme_id)
    if cursor is not None:
        query = query.where(AdvocacyCase.id < cursor_id(decode_cursor(cursor, required=("id",))))
    rows = session.scalars(query.order_by(AdvocacyCase.id.desc()).limit(limit + 1)).all()
    items = rows[:limit]
    return items, encode_cursor({"id": items[-1].id}) if len(rows) > limit else None


def counts_of(*, session: Session, case_ids: Sequence[int]) -> dict[int, tuple[int, int]]:
    """Return (tickets, customers) covered by each case (one query, for lists)."""
    if not case_ids:
        return {}
    rows = session.execute(
        select(CaseTicket.case_id, func.count(), func.count(func.distinct(CaseTicket.customer_id)))
        .where(CaseTicket.case_id.in_(list(case_ids)))
        .group_by(CaseTicket.case_id)
    ).all()
    found = {int(case_id): (int(n), int(c)) for case_id, n, c in rows}
    return {case_id: found.get(case_id, (0, 0)) for case_id in case_ids}


def case_tickets(
    *, session: Session, case_id: int, limit: int | None = None, offset: int = 0
) -> Sequence[CaseTicket]:
    """Return the tickets the case covers, in the order they joined (one page with ``limit``)."""
    query = (
        select(CaseTicket)
        .where(CaseTicket.case_id == case_id)
        .order_by(CaseTicket.joined_at, CaseTicket.ticket_id)
        .offset(offset)
    )
    return session.scalars(query.limit(limit) if limit is not None else query).all()


def ticket_rows(*, session: Session, ticket_ids: Sequence[int]) -> dict[int, Ticket]:
    """Return the tickets ``ticket_ids`` by id (one query; gone ones are left out)."""
    if not ticket_ids:
        return {}
    return {t.id: t for t in session.scalars(select(Ticket).where(Ticket.id.in_(list(ticket_ids))))}


def case_notices(
    *, session: Session, case_id: int, limit: int | None = None, offset: int = 0
) -> Sequence[CaseNotice]:
    query = select(CaseNotice).where(CaseNotice.case_id == case_id).order_by(CaseNotice.id).offset(offset)
    return session.scalars(query.limit(limit) if limit is not None else query).all()


def status_counts(*, session: Session, department_id: int | None = None) -> dict[CaseStatus, int]:
    """Return how many cases have each status (one GROUP BY; every status present, 0 when none)."""
    query = select(AdvocacyCase.status, func.count()).group_by(AdvocacyCase.status)
    if department_id is not None:
        query = query.where(AdvocacyCase.department_id == department_id)
    found = {CaseStatus(status): int(n) for status, n in session.execute(query).all()}
    return {status: found.get(status, 0) for status in CaseStatus}


def notice_counts(*, session: Session, case_id: int) -> dict[str, int]:
    rows = session.execute(
        select(CaseNotice.state, func.count()).where(CaseNotice.case_id == case_id).group_by(CaseNotice.state)
    ).all()
    found = {state.value: 0 for state in NoticeState}
    found.update({NoticeState(state).value: int(n) for state, n in rows})
    return found


def open_cases_for_ticket(
    *, session: Session, principal: Principal, ticket_id: int
) -> Sequence[AdvocacyCase]:
    """Return the cases covering ``ticket_id`` that are not closed or verified (what an agent should know)."""
    access.check_read(principal)
    return session.scalars(
        select(AdvocacyCase)
        .join(CaseTicket, CaseTicket.case_id == AdvocacyCase.id)
        .where(
            CaseTicket.ticket_id == ticket_id,
            AdvocacyCase.status.in_([*OPEN_STATES, CaseStatus.fixed, CaseStatus.customers_told]),
        )
        .order_by(AdvocacyCase.id.desc())
    ).all()


def open_cases_for_customer(
    *, session: Session, principal: Principal, customer_id: int, exclude_ticket_id: int | None = None
) -> list[tuple[AdvocacyCase, list[int]]]:
    """Return the not yet closed or verified cases covering any ticket of ``customer_id`` (newest first),
    each with the customer's covered ticket ids (``exclude_ticket_id`` left out: the ticket on screen
    shows its own cases)."""
    access.check_read(principal)
    query = (
        select(AdvocacyCase, CaseTicket.ticket_id)
        .join(CaseTicket, CaseTicket.case_id == AdvocacyCase.id)
        .join(Ticket, Ticket.id == CaseTicket.ticket_id)
        .where(
            Ticket.customer_id == customer_id,
            AdvocacyCase.status.in_([*OPEN_STATES, CaseStatus.fixed, CaseStatus.customers_told]),
        )
        .order_by(AdvocacyCase.id.desc(), CaseTicket.ticket_id)
    )
    if exclude_ticket_id is not None:
        query = query.where(CaseTicket.ticket_id != exclude_ticket_id)
    found: dict[int, tuple[AdvocacyCase, list[int]]] = {}
    for case, ticket_id in session.execute(query).all():
        found.setdefault(case.id, (case, []))[1].append(int(ticket_id))
    return list(found.values())


# -- evidence ---------------------------------------------------------------------------------------------
def build_evidence(*, session: Session, case: AdvocacyCase) -> dict[str, Any]:
    """Return the evidence pack of ``case`` as of now: its theme's figures (counts, daily series, quotes,
    cost, value at risk) and the customers and tickets it covers."""
    now = utcnow()
    pack: dict[str, Any] = {"taken_at": now.isoformat()}
    if case.theme_id is not None and session.get(Theme, case.theme_id) is not None:
        figures = stats.theme_figures(
            session=session, theme_id=case.theme_id, since=now - dt.timedelta(days=EVIDENCE_DAYS), until=now
        )
        data = figures.model_dump(mode="json")
        data["quotes"] = data.get("quotes", [])[:MAX_QUOTES]
        pack["figures"] = data
    tickets_n, customers_n = counts_of(session=session, case_ids=[case.id])[case.id]
    customer_ids = [
        int(c)
        for c in session.scalars(
            select(CaseTicket.customer_id)
            .where(CaseTicket.case_id == case.id)
            .group_by(CaseTicket.customer_id)
            .order_by(CaseTicket.customer_id)
            .limit(MAX_CUSTOMERS_IN_EVIDENCE)
        )
    ]
    names = tickets_names(session=session, customer_ids=customer_ids)
    pack["customers"] = [{"id": cid, "name": names.get(cid, "")} for cid in customer_ids]
    pack["customer_count"] = customers_n
    pack["ticket_count"] = tickets_n
    return pack


def tickets_names(*, session: Session, customer_ids: Sequence[int]) -> dict[int, str]:

    return customers.names_of(session=session, customer_ids=customer_ids)


def refresh_evidence(*, session: Session, principal: Principal, case_id: int) -> AdvocacyCase:
    access.check_advocate(principal)
    case = access_case(session=session, principal=principal, case_id=case_id)
    case.evidence = build_evidence(session=session, case=case)
    case.updated_at = utcnow()
    session.flush()
    _publish(session, principal, case, "updated", changes={"evidence": "refreshed"})
    return case


# -- the issue document -----------------------------------------------------------------------------------
def _money(items: Sequence[dict[str, Any]]) -> str:
    return ", ".join(f"{item['amount']} {item['currency']}" for item in items) or "none"


def issue_body(case: AdvocacyCase) -> str:
    """Return the evidence summary in Markdown, for the outside tracker."""
    lines = [case.summary.strip() or case.title, ""]
    figures = (case.evidence or {}).get("figures")
    if figures:
        lines += [
            "## Evidence",
            f"- Concerns (last {EVIDENCE_DAYS} days): {figures.get('concerns', 0)}",
            f"- Customers affected: {figures.get('customers_affected', 0)}",
            f"- Tickets: {figures.get('tickets', 0)}",
            f"- Last 7 days: {figures.get('last_7_days', 0)} "
            f"(previous 7: {figures.get('previous_7_days', 0)})",
            f"- Concession cost: {_money(figures.get('concession_cost') or [])}",
            f"- Customer value at risk: {_money(figures.get('value_at_risk') or [])}",
        ]
        quotes = figures.get("quotes") or []
        if quotes:
            lines += ["", "## What customers say"]
            lines += ["> " + " ".join(str(q.get("text", "")).split())[:300] for q in quotes[:MAX_QUOTES]]
    if case.workaround:
        lines += ["", "## Workaround", case.workaround]
    if case.fix_note:
        lines += ["", "## Fix", case.fix_note]
    return "\n".join(lines).strip() + "\n"


def issue_of(session: Session, case: AdvocacyCase) -> dict[str, Any]:
    """Return the case as an issue-tracker style object."""
    department = session.get(Department, case.department_id) if case.department_id else None
    labels = ["advocacy", f"status:{case.status.value}"]
    if department is not None:
        labels.append(f"department:{department.kind}")
    if case.theme_id is not None:
        labels.append(f"theme:{case.theme_id}")
    tickets_n, customers_n = counts_of(session=session, case_ids=[case.id])[case.id]
    return {
        "id": case.id,
        "title": case.title,
        "state": case.status.value,
        "body": issue_body(case),
        "labels": labels,
        # Relative here; the department's tracker gets it absolute (OMBUD_BASE_URL), see tracker.py.
        "url": case_path(case.id),
        "path": case_path(case.id),
        "external_ref": case.external_ref,
        "external_url": case.external_url,
        "department": None
        if department is None
        else {"id": department.id, "name": department.name, "kind": department.kind},
        "theme_id": case.theme_id,
        "tickets": tickets_n,
        "customers": customers_n,
        "workaround": case.workaround,
        "fix_note": case.fix_note,
        "opened_at": case.opened_at.isoformat(),
        "fixed_at": case.fixed_at.isoformat() if case.fixed_at else None,
    }


def _publish(
    session: Session,
    principal: Principal,
    case: AdvocacyCase,
    action: str,
    *,
    changes: dict[str, Any] | None = None,
    before: dict[str, Any] | None = None,
    ticket_id: int | None = None,
    customer_id: int | None = None,
    extra: dict[str, Any] | None = None,
) -> None:
    """Audit the change and publish ``advocacy.case.<action>`` with the issue document."""
    kind = EVENT_PREFIX + action
    audit.record(
        session=session,
        actor=principal,
        action=kind,
        entity_type="advocacy_case",
        entity_id=case.id,
        before=_jsonable(before),
        after=_jsonable({**(changes or {}), **(extra or {})}),
        publish=False,
    )
    payload: dict[str, Any] = {"action": action, "issue": issue_of(session, case)}
    if changes:
        payload["changes"] = _jsonable(changes)
    if extra:
        payload.update(_jsonable(extra) or {})
    events.emit(
        session=session,
        kind=kind,
        entity_type="advocacy_case",
        entity_id=case.id,
        actor_type=principal.kind,
        actor_id=principal.id,
        ticket_id=ticket_id,
        customer_id=customer_id,
        payload=payload,
    )


def _jsonable(value: dict[str, Any] | None) -> dict[str, Any] | None:
    if value is None:
        return None
    loaded: dict[str, Any] = json.loads(json.dumps(value, default=str))
    return loaded


# -- opening and editing ----------------------------------------------------------------------------------
def _check_owner(session: Session, owner_id: int | None) -> None:
    """A case's owner is an active staff member (not a partner or a customer-facing account)."""
    if owner_id is None:
        return
    try:
        user = accounts.access_user(session=session, user_id=owner_id)
    except OmbudError:
        raise InvalidInput(
            f"owner_id: no active user with id {owner_id}", code="unknown_user", details={"field": "owner_id"}
        ) from None
    if user.role not in STAFF_ROLES:
        raise InvalidInput(
            f"owner_id: user {owner_id} is a {user.role.value}; a case's owner must be staff",
            code="owner_not_staff",
            details={"field": "owner_id"},
        )


def check_link(url: str) -> str:
    """Return ``url`` if it is an absolute http(s) URL within MAX_URL characters (staff see it as a link)."""
    try:
        clean = webhooks.check_url(url)
    except InvalidInput as error:
        raise InvalidInput(
            "external_url: " + error.message.replace("url must", "must"),
            code="invalid_external_url",
            details={"field": "external_url"},
        ) from None
    if len(clean) > MAX_URL:
        raise InvalidInput(
            f"external_url: at most {MAX_URL} characters",
            code="invalid_external_url",
            details={"field": "external_url"},
        )
    return clean


def _check_department(session: Session, department_id: int | None) -> None:
    if department_id is not None and session.get(Department, department_id) is None:
        raise InvalidInput(
            f"department_id: no department with id {department_id}",
            code="unknown_department",
            details={"field": "department_id"},
        )


def _check_segment(segment: dict[str, Any]) -> dict[str, str]:
    clean: dict[str, str] = {}
    for key, value in segment.items():
        if key not in SEGMENT_KEYS:
            raise InvalidInput(
                f"segment: {key!r} is not a segment; use tier, product or region",
                code="invalid_segment",
                details={"field": f"segment.{key}"},
            )
        text = " ".join(str(value or "").split())
        if text:
            clean[key] = text[:200]
    return clean


def theme_intents(*, session: Session, theme_id: int) -> list[str]:
    """Return the intents of a theme's concerns, most common first."""
    rows = session.execute(
        select(ThemeMember.intent, func.count())
        .where(ThemeMember.theme_id == theme_id, ThemeMember.intent.is_not(None))
        .group_by(ThemeMember.intent)
        .order_by(func.count().desc(), ThemeMember.intent)
        .limit(10)
    ).all()
    return [str(intent) for intent, _ in rows]


def suggest_department(*, session: Session, principal: Principal, theme_id: int) -> Department | None:
    access.check_read(principal)
    return departments.suggest_for_intents(
        session=session, intents=theme_intents(session=session, theme_id=theme_id)
    )


def open_case(*, session: Session, principal: Principal, data: CaseIn) -> AdvocacyCase:
    """Open a case from a theme (defaults from it, every ticket of it joins) or by hand (title, tickets)."""
    access.check_advocate(principal)
    theme: Theme | None = None
    if data.theme_id is not None:
        theme = session.get(Theme, data.theme_id)
        if theme is None:
            raise InvalidInput(
                f"theme_id: no theme with id {data.theme_id}",
                code="unknown_theme",
                details={"field": "theme_id"},
            )
    elif not data.title:
        raise InvalidInput(
            "title: a case opened by hand needs a title (or give theme_id)",
            code="invalid_input",
            details={"field": "title"},
        )
    elif not data.ticket_ids:
        raise InvalidInput(
            "ticket_ids: a case opened by hand needs the tickets it covers (or give theme_id)",
            code="invalid_input",
            details={"field": "ticket_ids"},
        )
    _check_department(session, data.department_id)
    _check_owner(session, data.owner_id)
    department_id = data.department_id
    if department_id is None and theme is not None:
        suggested = departments.suggest_for_intents(
            session=session, intents=theme_intents(session=session, theme_id=theme.id)
        )
        department_id = suggested.id if suggested is not None else None
    label = (theme.name or theme.label) if theme is not None else ""
    now = utcnow()
    case = AdvocacyCase(
        title=(data.title or label or f"Theme {data.theme_id}")[:200],
        summary=data.summary if data.summary is not None else _theme_summary(theme),
        status=CaseStatus.open,
        theme_id=theme.id if theme is not None else None,
        department_id=department_id,
        owner_id=data.owner_id
        if data.owner_id is not None
        else (principal.id if principal.kind == "user" else None),
        workaround=data.workaround.strip(),
        fix_note="",
        notify_segment=data.notify_segment,
        segment=_check_segment(data.segment),
        evidence={},
        external_ref=(data.external_ref or "").strip() or None,
        created_by_id=principal.id if principal.kind == "user" else None,
        opened_at=now,
        updated_at=now,
    )
    session.add(case)
    session.flush()
    if theme is not None:
        # Every ticket of the theme joins, in one INSERT ... SELECT (a theme may have thousands).
        session.execute(
            insert(CaseTicket).from_select(
                ["case_id", "ticket_id", "customer_id", "via", "joined_at"],
                select(
                    literal(case.id),
                    ThemeMember.ticket_id,
                    func.min(ThemeMember.customer_id),
                    literal("theme"),
                    literal(now, UTCDateTime()),
                )
                .where(ThemeMember.theme_id == theme.id)
                .group_by(ThemeMember.ticket_id),
            )
        )
    for ticket_id in data.ticket_ids:
        _join(session, case, ticket_id, via="manual", principal=principal, publish=False)
    if theme is not None:
        # The theme's spike alerts not yet acted on now point at the case that takes them on.
        session.execute(
            update(SpikeAlert)
            .where(
                SpikeAlert.theme_id == theme.id,
                SpikeAlert.case_id.is_(None),
                SpikeAlert.state != SpikeState.dismissed,
            )
            .values(case_id=case.id)
        )
    session.flush()
    case.evidence = build_evidence(session=session, case=case)
    session.flush()
    _publish(session, principal, case, "opened", changes={"status": case.status.value, "title": case.title})
    return case


def _theme_summary(theme: Theme | None) -> str:
    if theme is None:
        return ""
    phrases = ", ".join(theme.key_phrases[:8]) if theme.key_phrases else ""
    text = f"Customers write about: {theme.name or theme.label}."
    if phrases:
        text += f" Key phrases: {phrases}."
    return text


EDITABLE = (
    "title",
    "summary",
    "department_id",
    "owner_id",
    "workaround",
    "fix_note",
    "notify_segment",
    "segment",
    "external_ref",
    "external_url",
)


def update_case(
    *, session: Session, principal: Principal, case_id: int, changes: dict[str, Any]
) -> AdvocacyCase:
    """Change the fields given (title, summary, department, owner, workaround, fix note, segment...)."""
    access.check_advocate(principal)
    case = access_case(session=session, principal=principal, case_id=case_id)
    for key in ("title", "notify_segment", "segment"):
        if key in changes and changes[key] is None:
            raise InvalidInput(f"{key} cannot be null", code="invalid_input", details={"field": key})
    if "department_id" in changes:
        _check_department(session, changes["department_id"])
    if "owner_id" in changes:
        _check_owner(session, changes["owner_id"])
    if "segment" in changes:
        changes = {**changes, "segment": _check_segment(changes["segment"])}
    if changes.get("external_url"):
        changes = {**changes, "external_url": check_link(str(changes["external_url"]))}
    before = {key: getattr(case, key) for key in EDITABLE}
    for key in EDITABLE:
        if key in changes:
            value = changes[key]
            if isinstance(value, str) and key in ("title", "summary", "workaround", "fix_note"):
                value = value.strip()
            if key in ("external_ref", "external_url", "summary") and value in ("",):
                value = None if key != "summary" else ""
            setattr(case, key, value)
    if not case.title:
        raise InvalidInput("title cannot be empty", code="invalid_input", details={"field": "title"})
    changed = {key: getattr(case, key) for key in EDITABLE if getattr(case, key) != before[key]}
    if changed:
        case.updated_at = utcnow()
        session.flush()
        _publish(
            session,
            principal,
            case,
            "updated",
            changes=changed,
            before={key: before[key] for key in changed},
        )
    return case


# -- status -----------------------------------------------------------------------------------------------
def transition(
    *,
    session: Session,
    principal: Principal,
    case_id: int,
    status: CaseStatus,
    fix_note: str | None = None,
    comment: str = "",
) -> AdvocacyCase:
    """Move the case to ``status`` by hand (advocates); 409 ``invalid_case_transition`` when not allowed."""
    access.check_advocate(principal)
    case = access_case(session=session, principal=principal, case_id=case_id, lock=True)
    return move_case(session, principal, case, status, fix_note=fix_note, comment=comment, idempotent=False)


def move_case(
    session: Session,
    principal: Principal,
    case: AdvocacyCase,
    status: CaseStatus,
    *,
    fix_note: str | None,
    comment: str,
    idempotent: bool,
    extra: dict[str, Any] | None = None,
    tell: bool = True,
) -> AdvocacyCase:
    """Move ``case`` (locked by the caller) to ``status``. A move to fixed starts telling the customers
    when ``tell`` (an advocate wrote the fix note); without it (the tracker) the note waits for an
    advocate's :func:`tell_customers`."""
    if status == case.status:
        if idempotent:
            return case
        raise Conflict(f"case {case.id} is {status.value} already", code="case_status_unchanged")
    if status is CaseStatus.customers_told:
        raise Conflict(
            "customers_told is set by ombud when every affected customer was told; move the case to fixed",
            code="invalid_case_transition",
            details={"from": case.status.value, "to": status.value},
        )
    if status not in TRANSITIONS[case.status]:
        allowed = sorted(s.value for s in TRANSITIONS[case.status])
        raise Conflict(
            f"a case that is {case.status.value} cannot become {status.value}; it may become "
            + ", ".join(allowed),
            code="invalid_case_transition",
            details={"from": case.status.value, "to": status.value, "allowed": allowed},
        )
    if fix_note is not None and fix_note.strip():
        case.fix_note = fix_note.strip()
    if status is CaseStatus.fixed and tell and not case.fix_note.strip():
        raise InvalidInput(
            "fix_note: say what changed; it goes into the message every affected customer receives",
            code="fix_note_required",
            details={"field": "fix_note"},
        )
    before = case.status
    now = utcnow()
    case.status = status
    case.updated_at = now
    if status is CaseStatus.fixed:
        case.fixed_at = now
        case.told_at = case.verified_at = case.verify_due_at = None
        case.tell_started_at = now if tell else None
    elif status is CaseStatus.verified:
        case.verified_at = now
        case.verify_due_at = None
    elif status is CaseStatus.in_progress and before not in OPEN_STATES:
        # Reopened: it came back. Tickets join again; the next fix tells the customers again.
        case.verify_due_at = case.tell_started_at = None
    elif status is CaseStatus.closed:
        case.verify_due_at = None
    session.flush()
    info = {"from": before.value, "to": status.value}
    if comment:
        info["comment"] = comment
    _publish(
        session,
        principal,
        case,
        "status_changed",
        changes={
            "status": status.value,
            **({"fix_note": case.fix_note} if status is CaseStatus.fixed else {}),
        },
        before={"status": before.value},
        extra={**info, **(extra or {}), **({"telling": tell} if status is CaseStatus.fixed else {})},
    )
    if status is CaseStatus.fixed and tell:
        loop.start(session=session, case=case)
    return case


def tell_customers(
    *, session: Session, principal: Principal, case_id: int, fix_note: str | None = None
) -> AdvocacyCase:
    """Confirm the fix note of a case the tracker reported fixed and start telling its customers (409
    ``case_not_awaiting_notice`` when the case is not fixed or its customers are being told already)."""
    access.check_advocate(principal)
    case = access_case(session=session, principal=principal, case_id=case_id, lock=True)
    if case.status is not CaseStatus.fixed or case.tell_started_at is not None:
        raise Conflict(
            f"case {case.id} is {case.status.value}"
            + (" and its customers are being told already" if case.tell_started_at else "")
            + "; customers are told once, after a fix",
            code="case_not_awaiting_notice",
        )
    before = case.fix_note
    if fix_note is not None and fix_note.strip():
        case.fix_note = fix_note.strip()
    if not case.fix_note.strip():
        raise InvalidInput(
            "fix_note: say what changed; it goes into the message every affected customer receives",
            code="fix_note_required",
            details={"field": "fix_note"},
        )
    now = utcnow()
    case.tell_started_at = case.updated_at = now
    session.flush()
    _publish(
        session,
        principal,
        case,
        "updated",
        changes={"fix_note": case.fix_note, "telling": True},
        before={"fix_note": before},
    )
    loop.start(session=session, case=case)
    return case


def set_status_by_loop(
    *, session: Session, case: AdvocacyCase, status: CaseStatus, extra: dict[str, Any]
) -> None:
    """The loop's own steps (customers_told, verified): audited and published like any other."""
    before = case.status
    case.status = status
    case.updated_at = utcnow()
    session.flush()
    _publish(
        session,
        SYSTEM,
        case,
        "status_changed",
        changes={"status": status.value},
        before={"status": before.value},
        extra={"from": before.value, "to": status.value, **extra},
    )


def publish_alert(*, session: Session, case: AdvocacyCase, action: str, extra: dict[str, Any]) -> None:
    """Publish a loop finding about ``case`` (e.g. still_growing) as ``advocacy.case.<action>``."""
    _publish(session, SYSTEM, case, action, extra=extra)


# -- tickets ----------------------------------------------------------------------------------------------
def _join(
    session: Session,
    case: AdvocacyCase,
    ticket_id: int,
    *,
    via: str,
    principal: Principal,
    publish: bool = True,
) -> bool:
    """Add ``ticket_id`` to the case (False: it was there already)."""
    if _covered(session, case.id, ticket_id) is not None:
        return False
    try:
        ticket = tickets.access_ticket(session=session, principal=SYSTEM, ticket_id=ticket_id)
    except OmbudError:
        raise InvalidInput(
            f"ticket_ids: no ticket with id {ticket_id}",
            code="unknown_ticket",
            details={"ticket_id": ticket_id},
        ) from None
    try:
        with race_savepoint(session):
            session.add(
                CaseTicket(case_id=case.id, ticket_id=ticket.id, customer_id=ticket.customer_id, via=via)
            )
            session.flush()
    except IntegrityError:
        return False  # a concurrent transaction added it first
    if publish:
        _publish(
            session,
            principal,
            case,
            "ticket_joined",
            changes={"ticket_id": ticket.id},
            ticket_id=ticket.id,
            customer_id=ticket.customer_id,
            extra={"ticket": {"id": ticket.id, "subject": ticket.subject, "via": via}},
        )
    return True


def add_tickets(*, session: Session, principal: Principal, case_id: int, ticket_ids: Sequence[int]) -> int:
    """Add tickets by hand (any status but closed). After a fix whose customers are being (or were) told,
    the customers new to the case are told too: their notices start at once."""
    access.check_advocate(principal)
    case = access_case(session=session, principal=principal, case_id=case_id, lock=True)
    if case.status is CaseStatus.closed:
        raise Conflict(f"case {case.id} is closed; reopen it first", code="case_closed")
    added = sum(_join(session, case, int(t), via="manual", principal=principal) for t in ticket_ids)
    if added and case.status in FIXED_STATES and case.tell_started_at is not None:
        loop.start(session=session, case=case, renew=False)
    return added


def remove_ticket(*, session: Session, principal: Principal, case_id: int, ticket_id: int) -> None:
    access.check_advocate(principal)
    case = access_case(session=session, principal=principal, case_id=case_id)
    row = _covered(session, case.id, ticket_id)
    if row is None:
        raise NotFound(f"ticket {ticket_id} is not in case {case.id}", code="case_ticket_not_found")
    session.delete(row)
    session.flush()
    _publish(
        session,
        principal,
        case,
        "updated",
        changes={"ticket_removed": ticket_id},
        ticket_id=ticket_id,
        customer_id=row.customer_id,
    )


def on_concern_themed(*, session: Session, event: EventRecord) -> None:
    """The ``advocacy-cases`` consumer: a newly themed concern's ticket joins every case of its theme that
    is still open (not fixed, not closed)."""
    if event.kind != "advocacy.concern_themed":
        return
    theme_id = event.payload.get("theme_id")
    ticket_id = event.payload.get("ticket_id")
    if not isinstance(theme_id, int) or not isinstance(ticket_id, int):
        return
    # Cases of themes merged into this one keep gathering too.
    merged = select(Theme.id).where(Theme.merged_into_id == theme_id)
    open_cases = session.scalars(
        select(AdvocacyCase).where(
            (AdvocacyCase.theme_id == theme_id) | AdvocacyCase.theme_id.in_(merged),
            AdvocacyCase.status.in_(list(OPEN_STATES)),
        )
    ).all()
    for case in open_cases:
        if _covered(session, case.id, ticket_id) is None and tickets_exists(session, ticket_id):
            _join(session, case, ticket_id, via="theme", principal=SYSTEM)


def tickets_exists(session: Session, ticket_id: int) -> bool:
    try:
        tickets.access_ticket(session=session, principal=SYSTEM, ticket_id=ticket_id)
    except OmbudError:
        return False
    return True


def _covered(session: Session, case_id: int, ticket_id: int) -> CaseTicket | None:
    """The case's row for the ticket, if the ticket is one the case covers."""
    return session.scalars(
        select(CaseTicket).where(CaseTicket.case_id == case_id, CaseTicket.ticket_id == ticket_id)
    ).first()
