"""What the ticket's advocacy panel and the case pages show (no routes here: the ticket page's panel list
imports this module, so it must not import ombud.web.workspace)."""

from __future__ import annotations

from typing import Any

from markupsafe import Markup
from sqlalchemy.orm import Session

from ombud.accounts.schemas import Principal
from ombud.advocacy import access, cases, departments
from ombud.advocacy.models import AdvocacyCase, CaseStatus
from ombud.tickets.models import Ticket
from ombud.web import advocacy_charts as charts

STATUS_WORDS = {
    CaseStatus.open: "Open",
    CaseStatus.acknowledged: "Acknowledged",
    CaseStatus.in_progress: "Fix in progress",
    CaseStatus.fixed: "Fixed",
    CaseStatus.customers_told: "Customers told",
    CaseStatus.verified: "Verified",
    CaseStatus.closed: "Closed",
}


def panel(*, session: Session, principal: Principal, ticket: Ticket) -> dict[str, Any]:
    """The advocacy cases this ticket belongs to (not closed or verified), with what to tell the customer."""
    if not principal.is_staff:
        return {"cases": [], "customer_cases": []}
    found = cases.open_cases_for_ticket(session=session, principal=principal, ticket_id=ticket.id)
    shown = {case.id for case in found}
    # The customer's other tickets in open cases: the same customer may be waiting on another fix.
    theirs = [
        (case, ticket_ids)
        for case, ticket_ids in cases.open_cases_for_customer(
            session=session, principal=principal, customer_id=ticket.customer_id, exclude_ticket_id=ticket.id
        )
        if case.id not in shown
    ]
    names = department_names(session=session, principal=principal) if found or theirs else {}

    def row(case: AdvocacyCase) -> dict[str, Any]:
        return {
            "id": case.id,
            "title": case.title,
            "status": case.status.value,
            "status_word": STATUS_WORDS[case.status],
            "department": names.get(case.department_id) if case.department_id else None,
            "workaround": case.workaround,
            "fix_note": case.fix_note,
            "url": cases.case_path(case.id),
        }

    return {
        "cases": [row(case) for case in found],
        "customer_cases": [{**row(case), "ticket_ids": ticket_ids} for case, ticket_ids in theirs],
    }


def department_names(*, session: Session, principal: Principal) -> dict[int, str]:
    return {d.id: d.name for d in departments.list_departments(session=session, principal=principal)}


COLUMN = 25
FULL_COLUMN = 100
PAGE = 100


def board(
    *,
    session: Session,
    principal: Principal,
    department_id: int | None,
    status: CaseStatus | None = None,
    cursor: str | None = None,
) -> dict[str, Any]:
    """The cases board: one column per status with how many cases it holds (counted, not capped) and its
    newest COLUMN cases; with ``status`` only that column, a page of FULL_COLUMN at a time."""
    counts = cases.status_counts(session=session, department_id=department_id)
    shown = [status] if status is not None else list(CaseStatus)
    names = department_names(session=session, principal=principal)
    columns = []
    next_cursor: str | None = None
    for column in shown:
        items, more = cases.list_cases(
            session=session,
            principal=principal,
            status=[column],
            department_id=department_id,
            limit=FULL_COLUMN if status is not None else COLUMN,
            cursor=cursor if status is not None else None,
        )
        if status is not None:
            next_cursor = more
        sizes = cases.counts_of(session=session, case_ids=[c.id for c in items])
        cards = [
            {
                "id": case.id,
                "title": case.title,
                "department": names.get(case.department_id) if case.department_id else None,
                "tickets": sizes[case.id][0],
                "customers": sizes[case.id][1],
                "opened_at": case.opened_at,
                "url": cases.case_path(case.id),
            }
            for case in items
        ]
        columns.append((column.value, STATUS_WORDS[column], cards, counts[column]))
    return {
        "columns": columns,
        "shown_status": status.value if status is not None else None,
        "next_cursor": next_cursor,
        "departments": departments.list_departments(session=session, principal=principal),
        "department_id": department_id,
        "can_advocate": access.can_advocate(principal),
    }


def _chart(case: AdvocacyCase) -> Markup | None:
    figures = (case.evidence or {}).get("figures")
    if not figures:
        return None
    daily = [(str(d.get("day", ""))[5:], float(d.get("count", 0))) for d in figures.get("daily", [])]
    return charts.line_chart(daily, title="Concerns of the theme per day")


def case_page(
    *, session: Session, principal: Principal, case_id: int, tickets_offset: int = 0, notices_offset: int = 0
) -> dict[str, Any]:
    """Everything the case page shows: the case, its evidence with a chart, a page (PAGE) of its tickets
    and of its notices with their totals, and the moves open to it."""
    case = cases.access_case(session=session, principal=principal, case_id=case_id)
    covered = cases.case_tickets(session=session, case_id=case.id, limit=PAGE + 1, offset=tickets_offset)
    notices = cases.case_notices(session=session, case_id=case.id, limit=PAGE + 1, offset=notices_offset)
    more_tickets, more_notices = len(covered) > PAGE, len(notices) > PAGE
    covered, notices = covered[:PAGE], notices[:PAGE]
    tickets_n, customers_n = cases.counts_of(session=session, case_ids=[case.id])[case.id]
    rows = cases.ticket_rows(session=session, ticket_ids=[row.ticket_id for row in covered])
    names = cases.tickets_names(
        session=session,
        customer_ids=sorted({n.customer_id for n in notices} | {r.customer_id for r in covered}),
    )
    figures = (case.evidence or {}).get("figures") or {}
    segments = figures.get("segments") or {}
    return {
        "case": case,
        "status_word": STATUS_WORDS[case.status],
        "status_words": {s.value: w for s, w in STATUS_WORDS.items()},
        "moves": sorted(cases.TRANSITIONS[case.status], key=list(CaseStatus).index),
        "figures": figures,
        "chart": _chart(case),
        "segment_charts": [
            charts.bars([(s["value"], s["count"]) for s in shares], title=f"By {name}")
            for name, shares in segments.items()
            if shares
        ],
        "verification": (case.evidence or {}).get("verification"),
        "tickets": [
            {
                "id": row.ticket_id,
                "subject": rows[row.ticket_id].subject if row.ticket_id in rows else "(gone)",
                "status": rows[row.ticket_id].status.value if row.ticket_id in rows else "",
                "customer": names.get(row.customer_id) or f"Customer {row.customer_id}",
                "via": row.via,
                "joined_at": row.joined_at,
            }
            for row in covered
        ],
        "notices": [
            {
                "customer": names.get(n.customer_id) or f"Customer {n.customer_id}",
                "customer_id": n.customer_id,
                "ticket_id": n.ticket_id,
                "channel": n.channel,
                "state": n.state.value,
                "reason": n.reason,
                "attempts": n.attempts,
                "sent_at": n.sent_at,
            }
            for n in notices
        ],
        "notice_counts": cases.notice_counts(session=session, case_id=case.id),
        "ticket_count": tickets_n,
        "customer_count": customers_n,
        "tickets_offset": tickets_offset,
        "notices_offset": notices_offset,
        "tickets_next": tickets_offset + PAGE if more_tickets else None,
        "notices_next": notices_offset + PAGE if more_notices else None,
        "tickets_prev": max(tickets_offset - PAGE, 0) if tickets_offset else None,
        "notices_prev": max(notices_offset - PAGE, 0) if notices_offset else None,
        "awaiting_confirmation": case.status is CaseStatus.fixed and case.tell_started_at is None,
        "tracker_link": case.external_url
        if (case.external_url or "").lower().startswith(("http://", "https://"))
        else None,
        "departments": departments.list_departments(session=session, principal=principal),
        "department": departments.get_department(session=session, department_id=case.department_id)
        if case.department_id
        else None,
        "can_advocate": access.can_advocate(principal),
    }
