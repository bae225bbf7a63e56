"""The workspace's advocacy pages: the dashboard home (themes top and rising with sparklines, open spikes,
the cases board by status, charts), the fairness lists, and each department's weekly digest (preview,
download, send now).

Who sees what: the dashboard is for every staff member (themes and cases are internal, and an agent may
want to know what is going on); the fairness lists compare agents' concessions and name customers, and the
digest can be sent, so those are for advocates, leads and admins (others get 403 ``role_forbidden``).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from ombud.advocacy import (
    access,
    cases,
    departments,
    digest,
    digest_render,
    fairness,
    fairness_policy,
    overview,
)
from ombud.errors import OmbudError
from ombud.storage.base import utcnow
from ombud.web import advocacy_charts as charts
from ombud.web import workspace_views as views
from ombud.web.api.common import IdPath
from ombud.web.deps import ReadSession, WriteSession
from ombud.web.workspace import CurrentAgent, _render

router = APIRouter(include_in_schema=False)

THEMES_URL = "/agent/advocacy/themes"
SPIKES_URL = "/agent/advocacy/spikes"
CASES_URL = "/agent/advocacy/cases"
DEPARTMENTS_URL = "/agent/advocacy/departments"
WINDOWS = (30, 90, 180, 365)
PAGE = 20
Which = Literal["unequal", "repeat", "policy"]


def _trailing_mean(values: list[int], days: int = 7) -> list[float]:
    """The mean of each day and the days before it (up to ``days``): the dashed line under the series."""
    out = []
    for i in range(len(values)):
        window = values[max(0, i - days + 1) : i + 1]
        out.append(sum(window) / len(window))
    return out


@router.get("/agent/advocacy", response_class=HTMLResponse)
def dashboard(session: ReadSession, agent: CurrentAgent) -> HTMLResponse:
    """The advocacy dashboard: what customers raise this week, what is rising, spikes and cases."""
    found = overview.overview(session=session, principal=agent.principal)
    daily = [d.count for d in found.daily]
    concerns_chart = charts.line_chart(
        [(d.day.strftime("%d %b"), d.count) for d in found.daily],
        baseline=_trailing_mean(daily),
        title=f"Concerns per day, last {len(daily)} days (dashed: 7-day average)",
    )
    status_chart = charts.bars(
        [(status.replace("_", " "), n) for status, n in found.cases_by_status.items()],
        title="Advocacy cases by status",
    )
    top_chart = charts.bars(
        [(t.label, t.last_7_days) for t in found.top_themes], title="Top themes, concerns in the last 7 days"
    )
    return _render(
        "workspace/advocacy.html",
        agent=agent,
        me=views.me(session=session, agent=agent),
        o=found,
        sparkline=charts.sparkline,
        concerns_chart=concerns_chart,
        status_chart=status_chart,
        top_chart=top_chart,
        can_advocate=access.can_advocate(agent.principal),
        case_url=cases.case_path,
        urls={"themes": THEMES_URL, "spikes": SPIKES_URL, "cases": CASES_URL, "departments": DEPARTMENTS_URL},
    )


@router.get("/agent/advocacy/fairness", response_class=HTMLResponse)
def fairness_page(
    session: ReadSession,
    agent: CurrentAgent,
    show: Annotated[Which, Query(alias="list")] = "unequal",
    days: Annotated[int, Query(ge=1, le=3 * 365)] = 90,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> HTMLResponse:
    """The three fairness lists (one shown at a time, paged), each row with its tickets and evidence."""
    access.check_advocate(agent.principal)
    since = utcnow() - dt.timedelta(days=days)
    page: Any
    if show == "unequal":
        page = fairness.unequal_treatment(
            session=session, principal=agent.principal, since=since, offset=offset, limit=PAGE
        )
    elif show == "repeat":
        page = fairness.repeat_contacts(
            session=session, principal=agent.principal, since=since, offset=offset, limit=PAGE
        )
    else:
        page = fairness_policy.policy_misfit(
            session=session, principal=agent.principal, since=since, offset=offset, limit=PAGE
        )
    return _render(
        "workspace/advocacy_fairness.html",
        agent=agent,
        me=views.me(session=session, agent=agent),
        show=show,
        days=days,
        windows=WINDOWS,
        page=page,
        previous=max(offset - PAGE, 0) if offset else None,
        next=offset + PAGE if offset + PAGE < page.total else None,
        phrases=fairness_policy.POLICY_PHRASES,
    )


@router.get("/agent/advocacy/digest", response_class=HTMLResponse)
def digest_index(session: ReadSession, agent: CurrentAgent) -> HTMLResponse:
    """Every department with its digest schedule; pick one to preview."""
    access.check_advocate(agent.principal)
    listed = departments.list_departments(session=session, principal=agent.principal)
    schedules = {d.id: digest.get_schedule(session=session, department_id=d.id) for d in listed}
    return _render(
        "workspace/advocacy_digest.html",
        agent=agent,
        me=views.me(session=session, agent=agent),
        departments=listed,
        schedules=schedules,
        chosen=None,
        digest=None,
        preview="",
        notice=None,
        error=None,
    )


@router.get("/agent/advocacy/digest/{department_id}", response_class=HTMLResponse)
def digest_page(
    department_id: IdPath,
    session: ReadSession,
    agent: CurrentAgent,
    queued: bool = False,
) -> HTMLResponse:
    """One department's digest of the last 7 days: the email as it will look, downloads, send now."""
    return _digest_page(session, agent, department_id, notice="The digest is on its way." if queued else None)


def _digest_page(
    session: ReadSession,
    agent: CurrentAgent,
    department_id: int,
    *,
    status: int = 200,
    notice: str | None = None,
    error: str | None = None,
) -> HTMLResponse:
    found = digest.build_digest(session=session, principal=agent.principal, department_id=department_id)
    chosen = departments.access_department(
        session=session, principal=agent.principal, department_id=department_id
    )
    listed = departments.list_departments(session=session, principal=agent.principal)
    return _render(
        "workspace/advocacy_digest.html",
        status,
        agent=agent,
        me=views.me(session=session, agent=agent),
        departments=listed,
        schedules={d.id: digest.get_schedule(session=session, department_id=d.id) for d in listed},
        chosen=chosen,
        digest=found,
        recipients=digest.recipients(session=session, department=chosen),
        preview=digest_render.render_html(found),
        notice=notice,
        error=error,
    )


@router.post("/agent/advocacy/digest/{department_id}/send", response_model=None)
def send_now(
    department_id: IdPath,
    request: Request,
    session: WriteSession,
    agent: CurrentAgent,
    csrf_token: Annotated[str, Form()] = "",
) -> RedirectResponse | HTMLResponse:
    """Send the department's digest now (the job emails it after this commits)."""
    agent.check_form(request, csrf_token)
    try:
        digest.request_send(session=session, principal=agent.principal, department_id=department_id)
    except OmbudError as exc:
        if exc.status not in (409, 422):  # no recipients; a run is sending it right now
            raise
        session.rollback()
        return _digest_page(session, agent, department_id, status=exc.status, error=exc.message)
    session.commit()
    return RedirectResponse(f"/agent/advocacy/digest/{department_id}?queued=1", status_code=303)
