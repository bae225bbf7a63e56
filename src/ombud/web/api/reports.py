"""/api/v1/reports: figures from the event-maintained aggregates, as JSON or CSV, and their rebuild."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel

from ombud.errors import Forbidden
from ombud.reports import service as reports
from ombud.reports.schemas import Dimension, Grouping, ReportName, ReportQuery, ReportTable
from ombud.storage.base import utcnow
from ombud.web.deps import CurrentPrincipal, ReadSession, WriteSession

router = APIRouter(prefix="/reports", tags=["reports"])
DEFAULT_DAYS = 30


class ReportInfo(BaseModel):
    name: ReportName
    title: str


class Rebuilt(BaseModel):
    tickets: int


def make_query(start: dt.date | None, end: dt.date | None, group: Grouping, by: Dimension) -> ReportQuery:
    """The range defaults to the last 30 UTC days, today included."""
    end = end or utcnow().date()
    start = start or end - dt.timedelta(days=DEFAULT_DAYS - 1)
    query = ReportQuery(start=start, end=end, group=group, by=by)
    reports.check_query(query)
    return query


StartQ = Annotated[dt.date | None, Query(description="First UTC day (default: 29 days before end).")]
EndQ = Annotated[dt.date | None, Query(description="Last UTC day, included (default: today).")]
GroupQ = Annotated[Grouping, Query(description="Periods: day, week (ISO), month or total.")]
ByQ = Annotated[Dimension, Query(description="Breakdown: none, channel, team, intent or agent.")]


@router.get("", response_model=list[ReportInfo])
def list_reports(principal: CurrentPrincipal) -> list[ReportInfo]:
    """The reports there are (staff who serve customers; agents see their own figures only)."""
    reports.scope_of(principal)
    return [ReportInfo(name=name, title=reports.TITLES[name]) for name in ReportName]


@router.post("/rebuild", response_model=Rebuilt)
def rebuild(session: WriteSession, principal: CurrentPrincipal) -> Rebuilt:
    """Recount every aggregate from the tickets and the event outbox (admins; after an upgrade)."""
    if not principal.is_admin:
        raise Forbidden("only admins may rebuild the reports", code="role_forbidden")
    counted = reports.rebuild(session=session)
    session.commit()
    return Rebuilt(tickets=counted)


@router.get("/{name}.csv", response_class=Response, responses={200: {"content": {"text/csv": {}}}})
def report_csv(
    name: ReportName,
    session: ReadSession,
    principal: CurrentPrincipal,
    start: StartQ = None,
    end: EndQ = None,
    group: GroupQ = Grouping.day,
    by: ByQ = Dimension.none,
) -> Response:
    """The report as CSV (one header row), for spreadsheets."""
    query = make_query(start, end, group, by)
    table = reports.report(session=session, principal=principal, name=name, query=query)
    filename = f"ombud-{name.value}-{query.start.isoformat()}-{query.end.isoformat()}.csv"
    return Response(
        reports.to_csv(table),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.get("/{name}", response_model=ReportTable)
def report(
    name: ReportName,
    session: ReadSession,
    principal: CurrentPrincipal,
    start: StartQ = None,
    end: EndQ = None,
    group: GroupQ = Grouping.day,
    by: ByQ = Dimension.none,
) -> ReportTable:
    """One report over a range of days, by period and breakdown."""
    query = make_query(start, end, group, by)
    return reports.report(session=session, principal=principal, name=name, query=query)
