"""The workspace's theme pages: the theme explorer (size, growth, frustration, cost, a sparkline each), a
theme's page (counts over time, quotes, segments, customers affected, cost, value at risk, open cases,
spikes, members, and the advocates' edit forms) and the spike alerts. Every staff member reads them;
advocates, leads and admins edit."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from ombud.advocacy import access, alerts, themes
from ombud.advocacy.models import SpikeState, ThemeState
from ombud.web import advocacy_charts as charts
from ombud.web import workspace_views as views
from ombud.web.api.common import IdPath
from ombud.web.deps import ReadSession, WriteSession
from ombud.web.workspace import CurrentAgent, _render

router = APIRouter(include_in_schema=False)
THEMES = "/agent/advocacy/themes"
SPIKES = "/agent/advocacy/spikes"
Csrf = Annotated[str, Form(max_length=100)]
NOTICES = {
    "renamed": "Theme renamed.",
    "merged": "Themes merged.",
    "split": "Theme split.",
    "moved": "Concern moved.",
    "recluster": "Re-clustering asked for: it runs in the background.",
    "spike": "Spike alert updated.",
}
STATES = ("active", "merged", "retired", "all")
SORTS = ("size", "growth", "frustration", "cost", "recent")


def _money(totals: list[Any]) -> str:
    return ", ".join(f"{m.amount} {m.currency}" for m in totals) or "none"


@router.get(THEMES, response_class=HTMLResponse)
def themes_page(
    session: ReadSession,
    agent: CurrentAgent,
    state: Annotated[str, Query(pattern="^(active|merged|retired|all)$")] = "active",
    q: Annotated[str, Query(max_length=200)] = "",
    sort: Annotated[str, Query(pattern="^(size|growth|frustration|cost|recent)$")] = "size",
    cursor: Annotated[str | None, Query(max_length=500)] = None,
    notice: Annotated[str | None, Query(max_length=40)] = None,
) -> HTMLResponse:
    """The theme explorer."""
    items, next_cursor = themes.list_themes(
        session=session,
        principal=agent.principal,
        state=None if state == "all" else ThemeState(state),
        q=q or None,
        sort=sort,
        limit=50,
        cursor=cursor,
    )
    more = urlencode({"state": state, "q": q, "sort": sort, "cursor": next_cursor}) if next_cursor else None
    return _render(
        "workspace/advocacy_themes.html",
        agent=agent,
        me=views.me(session=session, agent=agent),
        items=items,
        state=state,
        q=q,
        sort=sort,
        states=STATES,
        sorts=SORTS,
        more=more,
        money=_money,
        sparkline=charts.sparkline,
        can_advocate=access.can_advocate(agent.principal),
        notice=NOTICES.get(notice or ""),
    )


@router.get(THEMES + "/{theme_id}", response_class=HTMLResponse)
def theme_page(
    theme_id: IdPath,
    session: ReadSession,
    agent: CurrentAgent,
    days: Annotated[int, Query(ge=1, le=1000)] = 90,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
    notice: Annotated[str | None, Query(max_length=40)] = None,
) -> HTMLResponse:
    """One theme: its figures with a chart, quotes, segments, cases, spikes, members and edit forms."""
    now = dt.datetime.now(dt.UTC)
    detail = themes.theme_detail(
        session=session, principal=agent.principal, theme_id=theme_id, since=now - dt.timedelta(days=days)
    )
    members, next_cursor = themes.list_members(
        session=session, principal=agent.principal, theme_id=theme_id, limit=50, cursor=cursor
    )
    figures = detail.figures
    chart = charts.line_chart(
        [(d.day.isoformat(), d.count) for d in figures.daily],
        title=f"Concerns per day, last {days} days",
    )
    segment_bars = {
        name: charts.bars([(s.value, s.count) for s in shares], title=f"Concerns by {name}")
        for name, shares in figures.segments.items()
        if shares
    }
    others = (
        themes.theme_choices(session=session, principal=agent.principal, exclude=theme_id, limit=200)
        if access.can_advocate(agent.principal)
        else []
    )
    return _render(
        "workspace/advocacy_theme.html",
        agent=agent,
        me=views.me(session=session, agent=agent),
        d=detail,
        t=detail.theme,
        f=figures,
        days=days,
        chart=chart,
        segment_bars=segment_bars,
        members=members,
        more=urlencode({"days": days, "cursor": next_cursor}) if next_cursor else None,
        others=others,
        money=_money,
        can_advocate=access.can_advocate(agent.principal),
        notice=NOTICES.get(notice or ""),
    )


def _to_theme(theme_id: int, notice: str) -> RedirectResponse:
    return views.with_notice(f"{THEMES}/{theme_id}", notice)


@router.post(THEMES + "/{theme_id}/rename")
def rename(
    theme_id: IdPath,
    request: Request,
    session: WriteSession,
    agent: CurrentAgent,
    name: Annotated[str, Form(max_length=200)],
    csrf_token: Csrf = "",
) -> RedirectResponse:
    agent.check_form(request, csrf_token)
    themes.rename_theme(session=session, principal=agent.principal, theme_id=theme_id, name=name)
    session.commit()
    return _to_theme(theme_id, "renamed")


@router.post(THEMES + "/{theme_id}/merge")
def merge(
    theme_id: IdPath,
    request: Request,
    session: WriteSession,
    agent: CurrentAgent,
    source_ids: Annotated[str, Form(max_length=2000)],
    csrf_token: Csrf = "",
) -> RedirectResponse:
    agent.check_form(request, csrf_token)
    wanted = views.form_ids(source_ids, "source_ids", missing="choose a theme to merge in")
    themes.merge_themes(session=session, principal=agent.principal, theme_id=theme_id, source_ids=wanted)
    session.commit()
    return _to_theme(theme_id, "merged")


@router.post(THEMES + "/{theme_id}/split")
def split(
    theme_id: IdPath,
    request: Request,
    session: WriteSession,
    agent: CurrentAgent,
    concern_ids: Annotated[str, Form(max_length=20_000)] = "",
    name: Annotated[str, Form(max_length=200)] = "",
    csrf_token: Csrf = "",
) -> RedirectResponse:
    agent.check_form(request, csrf_token)
    wanted = views.form_ids(concern_ids, "concern_ids")
    themes.split_theme(
        session=session,
        principal=agent.principal,
        theme_id=theme_id,
        concern_ids=wanted or None,
        name=name.strip() or None,
    )
    session.commit()
    return _to_theme(theme_id, "split")


@router.post("/agent/advocacy/members/{concern_id}/move")
def move(
    concern_id: IdPath,
    request: Request,
    session: WriteSession,
    agent: CurrentAgent,
    theme_id: Annotated[int, Form(ge=1, le=2**63 - 1)],
    back: Annotated[int, Form(ge=1, le=2**63 - 1)],
    csrf_token: Csrf = "",
) -> RedirectResponse:
    agent.check_form(request, csrf_token)
    themes.move_member(session=session, principal=agent.principal, concern_id=concern_id, theme_id=theme_id)
    session.commit()
    return _to_theme(back, "moved")


@router.post("/agent/advocacy/recluster")
def recluster(
    request: Request, session: WriteSession, agent: CurrentAgent, csrf_token: Csrf = ""
) -> RedirectResponse:
    agent.check_form(request, csrf_token)
    themes.request_recluster(session=session, principal=agent.principal)
    session.commit()
    return views.with_notice(THEMES, "recluster")


@router.get(SPIKES, response_class=HTMLResponse)
def spikes_page(
    session: ReadSession,
    agent: CurrentAgent,
    state: Annotated[str, Query(pattern="^(open|acknowledged|dismissed|ended|all)$")] = "open",
    cursor: Annotated[str | None, Query(max_length=500)] = None,
    notice: Annotated[str | None, Query(max_length=40)] = None,
) -> HTMLResponse:
    """Spike alerts with their evidence charts; advocates acknowledge or dismiss them."""
    found, next_cursor = alerts.list_spikes(
        session=session,
        principal=agent.principal,
        state=None if state == "all" else SpikeState(state),
        limit=50,
        cursor=cursor,
    )
    items = themes.spike_publics(session, found)
    evidence = {
        s.id: charts.line_chart(
            [(str(p[0])[5:16].replace("T", " "), float(p[1])) for p in s.evidence.get("series", [])[-48:]],
            baseline=[float(p[2]) for p in s.evidence.get("series", [])[-48:]],
            title=f"Concerns per hour, theme {s.theme_title}",
        )
        for s in items
    }
    return _render(
        "workspace/advocacy_spikes.html",
        agent=agent,
        me=views.me(session=session, agent=agent),
        items=items,
        evidence=evidence,
        state=state,
        more=urlencode({"state": state, "cursor": next_cursor}) if next_cursor else None,
        can_advocate=access.can_advocate(agent.principal),
        notice=NOTICES.get(notice or ""),
    )


@router.post(SPIKES + "/{spike_id}/{action}")
def decide(
    spike_id: IdPath,
    action: Annotated[str, Path(pattern="^(acknowledge|dismiss|reopen)$")],
    request: Request,
    session: WriteSession,
    agent: CurrentAgent,
    csrf_token: Csrf = "",
) -> RedirectResponse:
    agent.check_form(request, csrf_token)
    state = {"acknowledge": "acknowledged", "dismiss": "dismissed", "reopen": "open"}[action]
    alerts.set_spike_state(session=session, principal=agent.principal, spike_id=spike_id, state=state)
    session.commit()
    return RedirectResponse(f"{SPIKES}?state=all&notice=spike", status_code=303)
