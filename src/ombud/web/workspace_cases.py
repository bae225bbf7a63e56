"""Workspace pages of advocacy cases and departments: the cases board (a column per status), a case's page
(evidence with its chart, tickets, notices and their delivery, the moves open to it, the workaround and the
fix note), and the departments. Every staff member reads them; advocates, leads and admins change them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from ombud.advocacy import access, cases, departments
from ombud.advocacy.case_schemas import MAX_URL, CaseIn, CaseUpdate, DepartmentIn, DepartmentUpdate
from ombud.advocacy.models import CaseStatus
from ombud.storage.base import MAX_ID
from ombud.web import advocacy_case_views as views
from ombud.web import workspace_views
from ombud.web.api.common import IdPath
from ombud.web.deps import ReadSession, WriteSession
from ombud.web.workspace import CurrentAgent, _render

router = APIRouter(include_in_schema=False)
CASES_URL = "/agent/advocacy/cases"
DEPARTMENTS_URL = "/agent/advocacy/departments"
NOTICES = {
    "opened": "The case is open.",
    "saved": "The case is saved.",
    "moved": "The case moved on.",
    "tickets": "The tickets are added.",
    "removed": "The ticket is no longer part of the case.",
    "evidence": "The evidence is taken again from the theme's figures.",
    "telling": "The fix note is confirmed: every affected customer is being told.",
    "department_saved": "The department is saved.",
    "department_deleted": "The department is deleted; its cases stay, with no department.",
}
Text = Annotated[str, Form(max_length=20_000)]
Short = Annotated[str, Form(max_length=300)]
Url = Annotated[str, Form(max_length=MAX_URL)]
Csrf = Annotated[str, Form(max_length=100)]


@router.get(CASES_URL, response_class=HTMLResponse)
def board_page(
    session: ReadSession,
    agent: CurrentAgent,
    department_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    status: Annotated[CaseStatus | None, Query()] = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    notice: Annotated[str | None, Query(max_length=40)] = None,
) -> HTMLResponse:
    """The cases board, a column per status with its count and newest cases; ``status`` shows one column
    in full, a page at a time."""
    return _render(
        "workspace/advocacy_cases.html",
        agent=agent,
        me=workspace_views.me(session=session, agent=agent),
        notice=NOTICES.get(notice or ""),
        **views.board(
            session=session,
            principal=agent.principal,
            department_id=department_id,
            status=status,
            cursor=cursor,
        ),
    )


@router.post(CASES_URL)
def open_case(
    request: Request,
    session: WriteSession,
    agent: CurrentAgent,
    theme_id: Short = "",
    title: Short = "",
    ticket_ids: Text = "",
    department_id: Short = "",
    workaround: Text = "",
    csrf_token: Csrf = "",
) -> RedirectResponse:
    """Open a case from a theme, or by hand with a title and tickets."""
    agent.check_form(request, csrf_token)
    data = workspace_views.checked_form(
        CaseIn,
        {
            "theme_id": workspace_views.form_id(theme_id, "theme_id"),
            "title": title.strip() or None,
            "ticket_ids": workspace_views.form_ids(ticket_ids, "ticket_ids"),
            "department_id": workspace_views.form_id(department_id, "department_id"),
            "workaround": workaround,
        },
    )
    case = cases.open_case(session=session, principal=agent.principal, data=data)
    session.commit()
    return _back(case.id, "opened")


@router.get(CASES_URL + "/{case_id}", response_class=HTMLResponse)
def case_page(
    case_id: IdPath,
    session: ReadSession,
    agent: CurrentAgent,
    notice: Annotated[str | None, Query(max_length=40)] = None,
    tickets_offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
    notices_offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
) -> HTMLResponse:
    """One case: evidence with its chart, tickets, notices with their delivery (a page of each), moves
    and edits."""
    return _render(
        "workspace/advocacy_case.html",
        agent=agent,
        me=workspace_views.me(session=session, agent=agent),
        notice=NOTICES.get(notice or ""),
        **views.case_page(
            session=session,
            principal=agent.principal,
            case_id=case_id,
            tickets_offset=tickets_offset,
            notices_offset=notices_offset,
        ),
    )


def _back(case_id: int, notice: str) -> RedirectResponse:
    return workspace_views.with_notice(cases.case_path(case_id), notice)


@router.post(CASES_URL + "/{case_id}/edit")
def edit_case(
    case_id: IdPath,
    request: Request,
    session: WriteSession,
    agent: CurrentAgent,
    title: Short = "",
    summary: Text = "",
    department_id: Short = "",
    workaround: Text = "",
    fix_note: Text = "",
    external_ref: Short = "",
    external_url: Url = "",
    segment_tier: Short = "",
    segment_product: Short = "",
    segment_region: Short = "",
    notify_segment: Short = "",
    csrf_token: Csrf = "",
) -> RedirectResponse:
    agent.check_form(request, csrf_token)
    segment = {
        key: value.strip()
        for key, value in (("tier", segment_tier), ("product", segment_product), ("region", segment_region))
        if value.strip()
    }
    changes: dict[str, Any] = {
        "title": title,
        "summary": summary,
        "department_id": workspace_views.form_id(department_id, "department_id"),
        "workaround": workaround,
        "fix_note": fix_note,
        "external_ref": external_ref.strip() or None,
        "external_url": external_url.strip() or None,
        "segment": segment,
        "notify_segment": bool(notify_segment),
    }
    checked = workspace_views.checked_form(CaseUpdate, changes).model_dump(exclude_unset=True)
    cases.update_case(session=session, principal=agent.principal, case_id=case_id, changes=checked)
    session.commit()
    return _back(case_id, "saved")


@router.post(CASES_URL + "/{case_id}/transition")
def move_case(
    case_id: IdPath,
    request: Request,
    session: WriteSession,
    agent: CurrentAgent,
    status: Annotated[CaseStatus, Form()],
    fix_note: Text = "",
    comment: Text = "",
    csrf_token: Csrf = "",
) -> RedirectResponse:
    agent.check_form(request, csrf_token)
    cases.transition(
        session=session,
        principal=agent.principal,
        case_id=case_id,
        status=status,
        fix_note=fix_note or None,
        comment=comment,
    )
    session.commit()
    return _back(case_id, "moved")


@router.post(CASES_URL + "/{case_id}/tell-customers")
def tell_customers(
    case_id: IdPath,
    request: Request,
    session: WriteSession,
    agent: CurrentAgent,
    fix_note: Text = "",
    csrf_token: Csrf = "",
) -> RedirectResponse:
    """Confirm the fix note of a fix the tracker reported and start telling the customers."""
    agent.check_form(request, csrf_token)
    cases.tell_customers(
        session=session, principal=agent.principal, case_id=case_id, fix_note=fix_note or None
    )
    session.commit()
    return _back(case_id, "telling")


@router.post(CASES_URL + "/{case_id}/tickets")
def add_tickets(
    case_id: IdPath,
    request: Request,
    session: WriteSession,
    agent: CurrentAgent,
    ticket_ids: Text = "",
    csrf_token: Csrf = "",
) -> RedirectResponse:
    agent.check_form(request, csrf_token)
    ids = workspace_views.form_ids(ticket_ids, "ticket_ids", missing="give at least one ticket id")
    cases.add_tickets(session=session, principal=agent.principal, case_id=case_id, ticket_ids=ids)
    session.commit()
    return _back(case_id, "tickets")


@router.post(CASES_URL + "/{case_id}/tickets/{ticket_id}/remove")
def remove_ticket(
    case_id: IdPath,
    ticket_id: IdPath,
    request: Request,
    session: WriteSession,
    agent: CurrentAgent,
    csrf_token: Csrf = "",
) -> RedirectResponse:
    agent.check_form(request, csrf_token)
    cases.remove_ticket(session=session, principal=agent.principal, case_id=case_id, ticket_id=ticket_id)
    session.commit()
    return _back(case_id, "removed")


@router.post(CASES_URL + "/{case_id}/evidence")
def refresh_evidence(
    case_id: IdPath, request: Request, session: WriteSession, agent: CurrentAgent, csrf_token: Csrf = ""
) -> RedirectResponse:
    agent.check_form(request, csrf_token)
    cases.refresh_evidence(session=session, principal=agent.principal, case_id=case_id)
    session.commit()
    return _back(case_id, "evidence")


# -- departments ------------------------------------------------------------------------------------------
def _departments_page(
    session: Any, agent: Any, *, notice: str | None, secret: dict[str, Any] | None
) -> HTMLResponse:
    return _render(
        "workspace/advocacy_departments.html",
        agent=agent,
        me=workspace_views.me(session=session, agent=agent),
        notice=NOTICES.get(notice or ""),
        secret=secret,
        departments=departments.list_departments(session=session, principal=agent.principal),
        kinds=departments.DEFAULT_KINDS,
        hint=departments.secret_hint,
        can_advocate=access.can_advocate(agent.principal),
    )


@router.get(DEPARTMENTS_URL, response_class=HTMLResponse)
def departments_page(
    session: ReadSession, agent: CurrentAgent, notice: Annotated[str | None, Query(max_length=40)] = None
) -> HTMLResponse:
    return _departments_page(session, agent, notice=notice, secret=None)


@dataclass(frozen=True)
class _DepartmentForm:
    """The department form's fields as typed; ``fields`` parses them (after the CSRF check)."""

    name: str
    kind: str
    description: str
    owner_ids: str
    notify_email: str
    webhook_endpoint_id: str
    intents: str

    def fields(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind or "product",
            "description": self.description,
            "owner_ids": workspace_views.form_ids(self.owner_ids, "owner_ids"),
            "notify_email": self.notify_email.strip() or None,
            "webhook_endpoint_id": workspace_views.form_id(self.webhook_endpoint_id, "webhook_endpoint_id"),
            "intents": self.intents.replace(",", " ").split(),
        }


def _department_form(
    name: Short = "",
    kind: Short = "",
    description: Text = "",
    owner_ids: Short = "",
    notify_email: Short = "",
    webhook_endpoint_id: Short = "",
    intents: Text = "",
) -> _DepartmentForm:
    return _DepartmentForm(name, kind, description, owner_ids, notify_email, webhook_endpoint_id, intents)


DepartmentForm = Annotated[_DepartmentForm, Depends(_department_form)]


@router.post(DEPARTMENTS_URL, response_class=HTMLResponse)
def create_department(
    request: Request, session: WriteSession, agent: CurrentAgent, form: DepartmentForm, csrf_token: Csrf = ""
) -> HTMLResponse:
    """Add a department; the page shows its inbound secret this once."""
    agent.check_form(request, csrf_token)
    fields = workspace_views.checked_form(DepartmentIn, form.fields()).model_dump()
    department = departments.create_department(session=session, principal=agent.principal, fields=fields)
    session.commit()
    shown = {"name": department.name, "secret": department.inbound_secret}
    return _departments_page(session, agent, notice="department_saved", secret=shown)


@router.post(DEPARTMENTS_URL + "/{department_id}/edit")
def edit_department(
    department_id: IdPath,
    request: Request,
    session: WriteSession,
    agent: CurrentAgent,
    form: DepartmentForm,
    csrf_token: Csrf = "",
) -> RedirectResponse:
    agent.check_form(request, csrf_token)
    changes = workspace_views.checked_form(DepartmentUpdate, form.fields()).model_dump(exclude_unset=True)
    departments.update_department(
        session=session, principal=agent.principal, department_id=department_id, changes=changes
    )
    session.commit()
    return workspace_views.with_notice(DEPARTMENTS_URL, "department_saved")


@router.post(DEPARTMENTS_URL + "/{department_id}/rotate", response_class=HTMLResponse)
def rotate_secret(
    department_id: IdPath, request: Request, session: WriteSession, agent: CurrentAgent, csrf_token: Csrf = ""
) -> HTMLResponse:
    agent.check_form(request, csrf_token)
    department = departments.rotate_secret(
        session=session, principal=agent.principal, department_id=department_id
    )
    session.commit()
    shown = {"name": department.name, "secret": department.inbound_secret}
    return _departments_page(session, agent, notice="department_saved", secret=shown)


@router.post(DEPARTMENTS_URL + "/{department_id}/delete")
def delete_department(
    department_id: IdPath, request: Request, session: WriteSession, agent: CurrentAgent, csrf_token: Csrf = ""
) -> RedirectResponse:
    agent.check_form(request, csrf_token)
    departments.delete_department(session=session, principal=agent.principal, department_id=department_id)
    session.commit()
    return workspace_views.with_notice(DEPARTMENTS_URL, "department_deleted")
