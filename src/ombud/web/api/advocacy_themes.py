"""/api/v1/advocacy themes and spikes: the theme explorer's data, a theme's figures and members, advocates'
edits (rename, merge, split, move), a re-clustering on demand, and spike alerts to acknowledge or dismiss."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel

from ombud.advocacy import alerts, themes
from ombud.advocacy.models import SpikeState, ThemeState
from ombud.advocacy.schemas import (
    EditResult,
    MemberMove,
    MemberPage,
    SpikePage,
    SpikePublic,
    SpikeStateChange,
    ThemeDetail,
    ThemeMerge,
    ThemePage,
    ThemePublic,
    ThemeRename,
    ThemeSplit,
)
from ombud.web.api.common import IdPath
from ombud.web.deps import CurrentPrincipal, ReadSession, WriteSession

router = APIRouter(prefix="/advocacy", tags=["advocacy"])

Limit = Annotated[int, Query(ge=1, le=themes.MAX_PAGE)]
Cursor = Annotated[str | None, Query(max_length=500)]
StateFilter = Literal["active", "merged", "retired", "all"]
Sort = Literal["size", "growth", "frustration", "cost", "recent"]


class ReclusterQueued(BaseModel):
    due_at: dt.datetime
    last_run_at: dt.datetime | None
    outcome: dict[str, int]


@router.get("/themes", response_model=ThemePage)
def list_themes(
    session: ReadSession,
    principal: CurrentPrincipal,
    state: StateFilter = "active",
    q: Annotated[str | None, Query(max_length=200, description="Words in the label or name.")] = None,
    sort: Sort = "size",
    limit: Limit = 50,
    cursor: Cursor = None,
) -> ThemePage:
    """Themes, largest (or fastest growing, most frustrated, costliest, most recent) first."""
    items, next_cursor = themes.list_themes(
        session=session,
        principal=principal,
        state=None if state == "all" else ThemeState(state),
        q=q,
        sort=sort,
        limit=limit,
        cursor=cursor,
    )
    return ThemePage(items=items, next_cursor=next_cursor)


@router.get("/themes/{theme_id}", response_model=ThemeDetail)
def get_theme(
    theme_id: IdPath,
    session: ReadSession,
    principal: CurrentPrincipal,
    since: Annotated[
        dt.datetime | None, Query(description="Start of the figures' window (default: 90 days ago).")
    ] = None,
    until: Annotated[dt.datetime | None, Query(description="End of the window (default: now).")] = None,
) -> ThemeDetail:
    """The theme with its figures, open advocacy cases and latest spike alerts."""
    return themes.theme_detail(
        session=session, principal=principal, theme_id=theme_id, since=since, until=until
    )


@router.get("/themes/{theme_id}/members", response_model=MemberPage)
def list_members(
    theme_id: IdPath,
    session: ReadSession,
    principal: CurrentPrincipal,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> MemberPage:
    """The theme's concerns, newest first."""
    items, next_cursor = themes.list_members(
        session=session, principal=principal, theme_id=theme_id, limit=limit, cursor=cursor
    )
    return MemberPage(items=items, next_cursor=next_cursor)


@router.patch("/themes/{theme_id}", response_model=ThemePublic)
def rename_theme(
    theme_id: IdPath, data: ThemeRename, session: WriteSession, principal: CurrentPrincipal
) -> ThemePublic:
    """Rename the theme (the name stays through every re-clustering)."""
    theme = themes.rename_theme(session=session, principal=principal, theme_id=theme_id, name=data.name)
    session.commit()
    return themes.public(session=session, theme=theme)


@router.post("/themes/{theme_id}/merge", response_model=EditResult)
def merge_themes(
    theme_id: IdPath, data: ThemeMerge, session: WriteSession, principal: CurrentPrincipal
) -> EditResult:
    """Merge other themes into this one."""
    result = themes.merge_themes(
        session=session, principal=principal, theme_id=theme_id, source_ids=data.source_ids
    )
    session.commit()
    return result


@router.post("/themes/{theme_id}/split", response_model=EditResult)
def split_theme(
    theme_id: IdPath, data: ThemeSplit, session: WriteSession, principal: CurrentPrincipal
) -> EditResult:
    """Split members off into a new theme (by concern_ids, or by a finer clustering when none are given)."""
    result = themes.split_theme(
        session=session, principal=principal, theme_id=theme_id, concern_ids=data.concern_ids, name=data.name
    )
    session.commit()
    return result


@router.post("/members/{concern_id}/move", response_model=EditResult)
def move_member(
    concern_id: IdPath, data: MemberMove, session: WriteSession, principal: CurrentPrincipal
) -> EditResult:
    """Move one concern to another theme, where it stays."""
    result = themes.move_member(
        session=session, principal=principal, concern_id=concern_id, theme_id=data.theme_id
    )
    session.commit()
    return result


@router.post("/recluster", status_code=202, response_model=ReclusterQueued)
def recluster(session: WriteSession, principal: CurrentPrincipal) -> ReclusterQueued:
    """Re-cluster all themes now (a background job; the schedule shows the outcome when it is done)."""
    row = themes.request_recluster(session=session, principal=principal)
    queued = ReclusterQueued(due_at=row.due_at, last_run_at=row.last_run_at, outcome=dict(row.outcome or {}))
    session.commit()
    return queued


@router.get("/spikes", response_model=SpikePage)
def list_spikes(
    session: ReadSession,
    principal: CurrentPrincipal,
    state: SpikeState | None = None,
    theme_id: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> SpikePage:
    """Spike alerts, newest first."""
    items, next_cursor = alerts.list_spikes(
        session=session, principal=principal, state=state, theme_id=theme_id, limit=limit, cursor=cursor
    )
    return SpikePage(items=themes.spike_publics(session, items), next_cursor=next_cursor)


@router.get("/spikes/{spike_id}", response_model=SpikePublic)
def get_spike(spike_id: IdPath, session: ReadSession, principal: CurrentPrincipal) -> SpikePublic:
    return themes.spike_public(
        session, alerts.access_spike(session=session, principal=principal, spike_id=spike_id)
    )


@router.patch("/spikes/{spike_id}", response_model=SpikePublic)
def set_spike_state(
    spike_id: IdPath, data: SpikeStateChange, session: WriteSession, principal: CurrentPrincipal
) -> SpikePublic:
    """Acknowledge or dismiss a spike alert (or open it again)."""
    alert = alerts.set_spike_state(session=session, principal=principal, spike_id=spike_id, state=data.state)
    session.commit()
    return themes.spike_public(session, alert)
