"""The workspace's reports page: every report over a range with a chart (inline SVG drawn here, no
JavaScript and nothing from a CDN), its table and a CSV link. Leads, admins and advocates see everyone's
figures; agents see their own."""

from __future__ import annotations

import datetime as dt
from html import escape
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse
from pydantic import ValidationError

from ombud.errors import InvalidInput, OmbudError
from ombud.reports import service as reports
from ombud.reports.schemas import Dimension, Grouping, ReportName, ReportQuery, ReportTable
from ombud.web import workspace_views as views
from ombud.web.api.reports import make_query
from ombud.web.deps import ReadSession
from ombud.web.workspace import CurrentAgent, _render

router = APIRouter(include_in_schema=False)
WIDTH, HEIGHT, PAD_LEFT, PAD_BOTTOM, PAD_TOP = 640, 220, 48, 56, 16
COLOURS = ("#1f4e8c", "#c2571a", "#2e7d32", "#6a1b9a", "#00838f", "#8d6e63")


def _number(value: Any) -> float:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0


def _short(value: float) -> str:
    return f"{value:.0f}" if value >= 10 or value == int(value) else f"{value:.1f}"


def bar_chart(title: str, labels: list[str], series: list[tuple[str, list[float]]], unit: str = "") -> str:
    """Return an SVG of grouped bars: one group per label, one bar per series (with a legend)."""
    if not labels or not series:
        return ""
    top = max([v for _, values in series for v in values] + [0.0]) or 1.0
    plot_w, plot_h = WIDTH - PAD_LEFT - 8, HEIGHT - PAD_BOTTOM - PAD_TOP
    group_w = plot_w / len(labels)
    bar_w = max(min(group_w * 0.8 / len(series), 40), 1)
    parts = [_frame(title, top, unit)]
    for i, label in enumerate(labels):
        x0 = PAD_LEFT + i * group_w + (group_w - bar_w * len(series)) / 2
        for j, (name, values) in enumerate(series):
            value = values[i]
            h = plot_h * value / top
            y = PAD_TOP + plot_h - h
            parts.append(
                f'<rect x="{x0 + j * bar_w:.1f}" y="{y:.1f}" width="{bar_w - 1:.1f}" height="{h:.1f}" '
                f'fill="{COLOURS[j % len(COLOURS)]}"><title>{escape(label)}, {escape(name)}: '
                f"{_short(value)}{escape(unit)}</title></rect>"
            )
        parts.append(_x_label(PAD_LEFT + i * group_w + group_w / 2, label, i, len(labels)))
    parts.append(_legend([name for name, _ in series]))
    return _svg(title, parts)


def line_chart(
    title: str, labels: list[str], series: list[tuple[str, list[float | None]]], unit: str = ""
) -> str:
    """Return an SVG of lines over ``labels`` (gaps where a value is None), with points and a legend."""
    values = [v for _, vs in series for v in vs if v is not None]
    if not labels or not values:
        return ""
    top = max(values) or 1.0
    plot_w, plot_h = WIDTH - PAD_LEFT - 8, HEIGHT - PAD_BOTTOM - PAD_TOP
    step = plot_w / max(len(labels) - 1, 1)
    parts = [_frame(title, top, unit)]
    for j, (name, vs) in enumerate(series):
        colour = COLOURS[j % len(COLOURS)]
        points = [
            (PAD_LEFT + i * step, PAD_TOP + plot_h - plot_h * v / top, v)
            for i, v in enumerate(vs)
            if v is not None
        ]
        if len(points) > 1:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y, _ in points)
            parts.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>')
        for x, y, v in points:
            parts.append(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}"><title>{escape(name)}: '
                f"{_short(v)}{escape(unit)}</title></circle>"
            )
    for i, label in enumerate(labels):
        parts.append(_x_label(PAD_LEFT + i * step, label, i, len(labels)))
    parts.append(_legend([name for name, _ in series]))
    return _svg(title, parts)


def _svg(title: str, parts: list[str]) -> str:
    return (
        f'<svg class="chart" role="img" viewBox="0 0 {WIDTH} {HEIGHT}" width="100%" '
        f'preserveAspectRatio="xMinYMin meet" xmlns="http://www.w3.org/2000/svg">'
        f"<title>{escape(title)}</title>{''.join(parts)}</svg>"
    )


def _frame(title: str, top: float, unit: str) -> str:
    base = HEIGHT - PAD_BOTTOM
    lines = [
        f'<line x1="{PAD_LEFT}" y1="{PAD_TOP}" x2="{PAD_LEFT}" y2="{base}" stroke="#767676"/>',
        f'<line x1="{PAD_LEFT}" y1="{base}" x2="{WIDTH - 8}" y2="{base}" stroke="#767676"/>',
        f'<text x="{PAD_LEFT - 4}" y="{PAD_TOP + 4}" text-anchor="end" font-size="11">'
        f"{_short(top)}{escape(unit)}</text>",
        f'<text x="{PAD_LEFT - 4}" y="{base}" text-anchor="end" font-size="11">0</text>',
    ]
    return "".join(lines)


def _x_label(x: float, label: str, index: int, count: int) -> str:
    """A label under the axis; with many, every n-th, so they do not overlap."""
    if index % max(-(-count // 12), 1):
        return ""
    return (
        f'<text x="{x:.1f}" y="{HEIGHT - PAD_BOTTOM + 14}" text-anchor="middle" font-size="10">'
        f"{escape(label[:14])}</text>"
    )


def _legend(names: list[str]) -> str:
    out = []
    for j, name in enumerate(names):
        x = PAD_LEFT + j * 150
        out.append(
            f'<rect x="{x}" y="{HEIGHT - 18}" width="10" height="10" fill="{COLOURS[j % len(COLOURS)]}"/>'
            f'<text x="{x + 14}" y="{HEIGHT - 9}" font-size="11">{escape(name)}</text>'
        )
    return "".join(out)


def _key(row: dict[str, Any], table: ReportTable) -> str:
    if table.by is Dimension.none:
        return str(row["period"])
    return (
        f"{row['period']} {row.get(table.by.value, '')}"
        if table.group is not Grouping.total
        else str(row.get(table.by.value, ""))
    )


def chart_for(table: ReportTable) -> str:  # noqa: PLR0911 (one chart per report)
    """Return the chart that suits ``table`` (an empty string when it has no rows)."""
    rows = table.rows
    labels = [_key(row, table) for row in rows]
    name = table.name
    if name is ReportName.volume:
        return bar_chart(
            table.title,
            labels,
            [(c, [_number(r[c]) for r in rows]) for c in ("created", "solved", "reopened")],
        )
    if name is ReportName.response_times:
        return line_chart(
            "Median and 90th percentile times",
            labels,
            [
                (c.replace("_", " "), [r.get(c) for r in rows])
                for c in (
                    "first_response_median",
                    "first_response_p90",
                    "resolution_median",
                    "resolution_p90",
                )
            ],
            " min",
        )
    if name is ReportName.sla:
        return bar_chart(
            table.title,
            [f"{k} {r['metric']}" for k, r in zip(labels, rows, strict=True)],
            [("attainment %", [_number(r["attainment_pct"]) for r in rows])],
            "%",
        )
    if name is ReportName.csat:
        return bar_chart(table.title, labels, [("average (1-5)", [_number(r["average"]) for r in rows])])
    if name is ReportName.concessions:
        return bar_chart(
            table.title,
            [f"{r['reason']} {r['currency']}".strip() for r in rows],
            [("amount", [_number(r["amount"]) for r in rows])],
        )
    if name is ReportName.concerns:
        return bar_chart(
            table.title, labels, [(c, [_number(r[c]) for r in rows]) for c in ("tickets", "concerns")]
        )
    ages = [c for c in table.columns if c not in ("period", table.by.value, "open")]
    return bar_chart(
        table.title,
        ages,
        [(str(r.get(table.by.value, "open tickets")), [_number(r[c]) for c in ages]) for r in rows],
    )


@router.get("/agent/reports", response_class=HTMLResponse)
def reports_page(
    session: ReadSession,
    agent: CurrentAgent,
    start: Annotated[str, Query(max_length=10)] = "",
    end: Annotated[str, Query(max_length=10)] = "",
    group: Annotated[str, Query(max_length=10)] = "day",
    by: Annotated[str, Query(max_length=10)] = "none",
) -> HTMLResponse:
    """Every report over the chosen range, with charts, tables and CSV links."""
    reports.scope_of(agent.principal)
    error = None
    try:
        query = make_query(
            dt.date.fromisoformat(start) if start else None,
            dt.date.fromisoformat(end) if end else None,
            Grouping(group),
            Dimension(by),
        )
    except (ValueError, ValidationError, InvalidInput) as exc:
        error = (
            exc.message
            if isinstance(exc, OmbudError)
            else "give dates as YYYY-MM-DD and choose from the lists"
        )
        query = make_query(None, None, Grouping.day, Dimension.none)
    sections = []
    for name in ReportName:
        table = reports.report(session=session, principal=agent.principal, name=name, query=query)
        sections.append({"table": table, "chart": chart_for(table)})
    csat_by = ReportQuery(start=query.start, end=query.end, group=Grouping.total, by=Dimension.agent)
    agents_csat = reports.report(
        session=session, principal=agent.principal, name=ReportName.csat, query=csat_by
    )
    csat_team = reports.report(
        session=session,
        principal=agent.principal,
        name=ReportName.csat,
        query=csat_by.model_copy(update={"by": Dimension.team}),
    )
    params = urlencode(
        {"start": query.start.isoformat(), "end": query.end.isoformat(), "group": query.group, "by": query.by}
    )
    return _render(
        "workspace/reports.html",
        agent=agent,
        me=views.me(session=session, agent=agent),
        query=query,
        error=error,
        sections=sections,
        people=[
            {"table": agents_csat, "chart": chart_for(agents_csat), "title": "CSAT per agent"},
            {"table": csat_team, "chart": chart_for(csat_team), "title": "CSAT per team"},
        ],
        params=params,
        groups=[g.value for g in Grouping],
        dimensions=[d.value for d in Dimension],
        own_only=reports.scope_of(agent.principal) is not None,
    )
