"""/api/v1/advocacy/departments and /api/v1/advocacy/cases: departments (with their tracker's signed
callbacks), advocacy cases, the tickets they cover and the notices that close the loop; and
/api/v1/tickets/{id}/advocacy, the open cases a ticket belongs to."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.orm import Session

from ombud.advocacy import cases, departments, tracker
from ombud.advocacy.case_schemas import (
    CaseDetail,
    CaseIn,
    CasePage,
    CasePublic,
    CaseTicketPublic,
    CaseUpdate,
    DepartmentIn,
    DepartmentPublic,
    DepartmentUpdate,
    DepartmentWithSecret,
    NoticePublic,
    TellIn,
    TicketCaseInfo,
    TicketsIn,
    TrackerCallback,
    TransitionIn,
)
from ombud.advocacy.models import AdvocacyCase, CaseStatus, Department
from ombud.runtime import Runtime
from ombud.storage.base import MAX_ID
from ombud.tickets import service as tickets
from ombud.tickets.models import Ticket
from ombud.web.api.common import IdPath
from ombud.web.deps import CurrentPrincipal, ReadSession, RuntimeDep, WriteSession

router = APIRouter(prefix="/advocacy", tags=["advocacy"])
ticket_router = APIRouter(prefix="/tickets", tags=["advocacy"])

SIGNATURE_HEADER = "Ombud-Signature"
TRACKER_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": TrackerCallback.model_json_schema()}},
    },
    "parameters": [
        {"name": SIGNATURE_HEADER, "in": "header", "required": True, "schema": {"type": "string"}}
    ],
}


# -- departments ------------------------------------------------------------------------------------------
def _department(department: Department) -> DepartmentPublic:
    return DepartmentPublic.model_validate(
        {**_department_fields(department), "secret_hint": departments.secret_hint(department)}
    )


def _department_fields(department: Department) -> dict[str, Any]:
    return {key: getattr(department, key) for key in ("id", "created_at", "updated_at", *departments.FIELDS)}


def _with_secret(department: Department) -> DepartmentWithSecret:
    return DepartmentWithSecret.model_validate(
        {
            **_department_fields(department),
            "secret_hint": departments.secret_hint(department),
            "inbound_secret": department.inbound_secret,
        }
    )


@router.get("/departments", response_model=list[DepartmentPublic])
def list_departments(session: ReadSession, principal: CurrentPrincipal) -> list[DepartmentPublic]:
    return [_department(d) for d in departments.list_departments(session=session, principal=principal)]


@router.post("/departments", status_code=201, response_model=DepartmentWithSecret)
def create_department(
    data: DepartmentIn, session: WriteSession, principal: CurrentPrincipal
) -> DepartmentWithSecret:
    """Add a department; the answer carries its inbound secret (for the tracker's callbacks) this once."""
    department = departments.create_department(
        session=session, principal=principal, fields=data.model_dump(exclude_unset=True) | {"name": data.name}
    )
    session.commit()
    return _with_secret(department)


@router.get("/departments/{department_id}", response_model=DepartmentPublic)
def get_department(
    department_id: IdPath, session: ReadSession, principal: CurrentPrincipal
) -> DepartmentPublic:
    return _department(
        departments.access_department(session=session, principal=principal, department_id=department_id)
    )


@router.patch("/departments/{department_id}", response_model=DepartmentPublic)
def update_department(
    department_id: IdPath, changes: DepartmentUpdate, session: WriteSession, principal: CurrentPrincipal
) -> DepartmentPublic:
    department = departments.update_department(
        session=session,
        principal=principal,
        department_id=department_id,
        changes=changes.model_dump(exclude_unset=True),
    )
    session.commit()
    return _department(department)


@router.delete("/departments/{department_id}", status_code=204)
def delete_department(department_id: IdPath, session: WriteSession, principal: CurrentPrincipal) -> Response:
    departments.delete_department(session=session, principal=principal, department_id=department_id)
    session.commit()
    return Response(status_code=204)


@router.post("/departments/{department_id}/rotate-secret", response_model=DepartmentWithSecret)
def rotate_secret(
    department_id: IdPath, session: WriteSession, principal: CurrentPrincipal
) -> DepartmentWithSecret:
    """A new inbound secret, in the answer this once; callbacks signed with the old one are refused."""
    department = departments.rotate_secret(session=session, principal=principal, department_id=department_id)
    session.commit()
    return _with_secret(department)


@router.post("/departments/{department_id}/tracker", response_model=CasePublic, openapi_extra=TRACKER_BODY)
async def tracker_callback(department_id: IdPath, request: Request, runtime: RuntimeDep) -> CasePublic:
    """A status change from the department's outside tracker. Signed, not authenticated by token:
    ``Ombud-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "<t>." + body>`` with the department's inbound
    secret. 401 `tracker_bad_signature` / `tracker_stale_signature`; 409 `tracker_replay`."""
    raw = await request.body()
    signature = request.headers.get(SIGNATURE_HEADER, "")
    return await run_in_threadpool(_tracker, runtime, department_id, raw, signature)


def _tracker(runtime: Runtime, department_id: int, raw: bytes, signature: str) -> CasePublic:
    with runtime.database.session(write=True) as session:
        case = tracker.callback(session=session, department_id=department_id, body=raw, signature=signature)
        session.commit()
        return _case(session, case)


# -- cases ------------------------------------------------------------------------------------------------
def _case(session: Session, case: AdvocacyCase, counts: tuple[int, int] | None = None) -> CasePublic:
    tickets_n, customers_n = counts or cases.counts_of(session=session, case_ids=[case.id])[case.id]
    return CasePublic.model_validate(
        {**_case_fields(case), "ticket_count": tickets_n, "customer_count": customers_n}
    )


def _case_fields(case: AdvocacyCase) -> dict[str, Any]:
    return {key: getattr(case, key) for key in CasePublic.model_fields if hasattr(case, key)}


DETAIL_PAGE = 100
Offset = Annotated[int, Query(ge=0, le=10**9)]


def case_detail(
    session: Session, case: AdvocacyCase, *, tickets_offset: int = 0, notices_offset: int = 0
) -> CaseDetail:
    """The case with one page (DETAIL_PAGE) of its tickets and of its notices, and the offsets of the
    next pages (None on the last)."""
    covered = cases.case_tickets(
        session=session, case_id=case.id, limit=DETAIL_PAGE + 1, offset=tickets_offset
    )
    notices = cases.case_notices(
        session=session, case_id=case.id, limit=DETAIL_PAGE + 1, offset=notices_offset
    )
    more_tickets, more_notices = len(covered) > DETAIL_PAGE, len(notices) > DETAIL_PAGE
    covered, notices = covered[:DETAIL_PAGE], notices[:DETAIL_PAGE]
    subjects = tickets_by_id(session, [row.ticket_id for row in covered])
    tickets_n, customers_n = cases.counts_of(session=session, case_ids=[case.id])[case.id]
    return CaseDetail.model_validate(
        {
            **_case_fields(case),
            "ticket_count": tickets_n,
            "customer_count": customers_n,
            "tickets_next_offset": tickets_offset + DETAIL_PAGE if more_tickets else None,
            "notices_next_offset": notices_offset + DETAIL_PAGE if more_notices else None,
            "evidence": case.evidence or {},
            "tickets": [
                CaseTicketPublic.model_validate(
                    {
                        "ticket_id": row.ticket_id,
                        "customer_id": row.customer_id,
                        "via": row.via,
                        "joined_at": row.joined_at,
                        "subject": subjects[row.ticket_id].subject if row.ticket_id in subjects else "",
                        "status": subjects[row.ticket_id].status.value if row.ticket_id in subjects else "",
                    }
                )
                for row in covered
            ],
            "notices": [NoticePublic.model_validate(n) for n in notices],
            "notice_counts": cases.notice_counts(session=session, case_id=case.id),
        }
    )


def tickets_by_id(session: Session, ticket_ids: list[int]) -> dict[int, Ticket]:
    return cases.ticket_rows(session=session, ticket_ids=ticket_ids)


@router.get("/cases", response_model=CasePage)
def list_cases(
    session: ReadSession,
    principal: CurrentPrincipal,
    status: Annotated[list[CaseStatus] | None, Query()] = None,
    department_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    theme_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    limit: Annotated[int, Query(ge=1, le=cases.MAX_PAGE)] = 50,
    cursor: str | None = None,
) -> CasePage:
    """Cases, newest first; filter by `status` (repeatable), `department_id`, `theme_id`."""
    items, next_cursor = cases.list_cases(
        session=session,
        principal=principal,
        status=status or (),
        department_id=department_id,
        theme_id=theme_id,
        limit=limit,
        cursor=cursor,
    )
    counts = cases.counts_of(session=session, case_ids=[c.id for c in items])
    return CasePage(items=[_case(session, c, counts[c.id]) for c in items], next_cursor=next_cursor)


@router.post("/cases", status_code=201, response_model=CaseDetail)
def open_case(data: CaseIn, session: WriteSession, principal: CurrentPrincipal) -> CaseDetail:
    """Open a case from a theme (`theme_id`) or by hand (`title` and `ticket_ids`)."""
    case = cases.open_case(session=session, principal=principal, data=data)
    session.commit()
    return case_detail(session, case)


@router.get("/cases/{case_id}", response_model=CaseDetail)
def get_case(
    case_id: IdPath,
    session: ReadSession,
    principal: CurrentPrincipal,
    tickets_offset: Offset = 0,
    notices_offset: Offset = 0,
) -> CaseDetail:
    """One case with its evidence pack, a page of the tickets it covers and a page of the notices with
    their delivery state (`tickets_offset`, `notices_offset`; the next pages' offsets in the answer)."""
    return case_detail(
        session,
        cases.access_case(session=session, principal=principal, case_id=case_id),
        tickets_offset=tickets_offset,
        notices_offset=notices_offset,
    )


@router.patch("/cases/{case_id}", response_model=CaseDetail)
def update_case(
    case_id: IdPath, changes: CaseUpdate, session: WriteSession, principal: CurrentPrincipal
) -> CaseDetail:
    case = cases.update_case(
        session=session, principal=principal, case_id=case_id, changes=changes.model_dump(exclude_unset=True)
    )
    session.commit()
    return case_detail(session, case)


@router.post("/cases/{case_id}/transition", response_model=CaseDetail)
def transition(
    case_id: IdPath, data: TransitionIn, session: WriteSession, principal: CurrentPrincipal
) -> CaseDetail:
    """Move the case; 409 `invalid_case_transition`; `fixed` needs a `fix_note` (422 `fix_note_required`)."""
    case = cases.transition(
        session=session,
        principal=principal,
        case_id=case_id,
        status=data.status,
        fix_note=data.fix_note,
        comment=data.comment,
    )
    session.commit()
    session.refresh(case)
    return case_detail(session, case)


@router.post("/cases/{case_id}/tell-customers", response_model=CaseDetail)
def tell_customers(
    case_id: IdPath, data: TellIn, session: WriteSession, principal: CurrentPrincipal
) -> CaseDetail:
    """Confirm the fix note of a case the tracker reported fixed and start telling its customers.
    409 `case_not_awaiting_notice`; 422 `fix_note_required`."""
    case = cases.tell_customers(session=session, principal=principal, case_id=case_id, fix_note=data.fix_note)
    session.commit()
    session.refresh(case)
    return case_detail(session, case)


@router.post("/cases/{case_id}/tickets", response_model=CaseDetail)
def add_tickets(
    case_id: IdPath, data: TicketsIn, session: WriteSession, principal: CurrentPrincipal
) -> CaseDetail:
    cases.add_tickets(session=session, principal=principal, case_id=case_id, ticket_ids=data.ticket_ids)
    session.commit()
    return case_detail(session, cases.access_case(session=session, principal=principal, case_id=case_id))


@router.delete("/cases/{case_id}/tickets/{ticket_id}", status_code=204)
def remove_ticket(
    case_id: IdPath, ticket_id: IdPath, session: WriteSession, principal: CurrentPrincipal
) -> Response:
    cases.remove_ticket(session=session, principal=principal, case_id=case_id, ticket_id=ticket_id)
    session.commit()
    return Response(status_code=204)


@router.post("/cases/{case_id}/evidence", response_model=CaseDetail)
def refresh_evidence(case_id: IdPath, session: WriteSession, principal: CurrentPrincipal) -> CaseDetail:
    """Take the evidence pack again from the theme's figures as of now."""
    case = cases.refresh_evidence(session=session, principal=principal, case_id=case_id)
    session.commit()
    return case_detail(session, case)


@ticket_router.get("/{ticket_id}/advocacy", response_model=list[TicketCaseInfo])
def ticket_cases(
    ticket_id: IdPath, session: ReadSession, principal: CurrentPrincipal
) -> list[TicketCaseInfo]:
    """The advocacy cases the ticket belongs to that are not closed or verified, with the workaround."""
    tickets.access_ticket(session=session, principal=principal, ticket_id=ticket_id)
    found = cases.open_cases_for_ticket(session=session, principal=principal, ticket_id=ticket_id)
    names = {d.id: d.name for d in departments.list_departments(session=session, principal=principal)}
    return [
        TicketCaseInfo(
            id=c.id,
            title=c.title,
            status=c.status,
            department=names.get(c.department_id) if c.department_id else None,
            workaround=c.workaround,
            fix_note=c.fix_note,
        )
        for c in found
    ]
