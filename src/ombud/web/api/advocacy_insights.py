"""/api/v1/advocacy: the fairness lists, the dashboard's numbers and each department's weekly digest."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel

from ombud.advocacy import digest, digest_render, fairness, fairness_policy, overview
from ombud.advocacy.digest_schemas import Digest
from ombud.advocacy.fairness_schemas import FairnessPage, PolicyMisfit, RepeatContact, UnequalGroup
from ombud.web.api.common import IdPath
from ombud.web.deps import CurrentPrincipal, ReadSession, WriteSession

router = APIRouter(prefix="/advocacy", tags=["advocacy"])

SinceQ = Annotated[
    dt.datetime | None, Query(description="Concerns written from (with a time zone; default 90 days ago).")
]
UntilQ = Annotated[dt.datetime | None, Query(description="Concerns written before (default now).")]
OffsetQ = Annotated[int, Query(ge=0, le=1_000_000, description="Rows to skip.")]
LimitQ = Annotated[int, Query(ge=1, le=fairness.MAX_LIMIT, description="Rows to return.")]


def _window(
    since: SinceQ = None, until: UntilQ = None, offset: OffsetQ = 0, limit: LimitQ = fairness.DEFAULT_LIMIT
) -> dict[str, Any]:
    """The window and page every fairness list takes, as keyword arguments for its service call."""
    return {"since": since, "until": until, "offset": offset, "limit": limit}


Window = Annotated[dict[str, Any], Depends(_window)]


class DigestFormat(enum.StrEnum):
    json = "json"
    html = "html"
    csv = "csv"


class DigestQueued(BaseModel):
    department_id: int
    due_at: dt.datetime


@router.get("/fairness/unequal", response_model=FairnessPage[UnequalGroup])
def unequal(session: ReadSession, principal: CurrentPrincipal, window: Window) -> FairnessPage[UnequalGroup]:
    """Similar concerns whose tickets received very different concessions."""
    return fairness.unequal_treatment(session=session, principal=principal, **window)


@router.get("/fairness/repeat-contacts", response_model=FairnessPage[RepeatContact])
def repeat_contacts(
    session: ReadSession, principal: CurrentPrincipal, window: Window
) -> FairnessPage[RepeatContact]:
    """Customers who contacted us three or more times about the same concern without a resolution."""
    return fairness.repeat_contacts(session=session, principal=principal, **window)


@router.get("/fairness/policy-misfit", response_model=FairnessPage[PolicyMisfit])
def policy_misfit(
    session: ReadSession, principal: CurrentPrincipal, window: Window
) -> FairnessPage[PolicyMisfit]:
    """Themes where agents cite policy while customers stay dissatisfied."""
    return fairness_policy.policy_misfit(session=session, principal=principal, **window)


@router.get("/overview", response_model=overview.Overview)
def dashboard(session: ReadSession, principal: CurrentPrincipal) -> overview.Overview:
    """The dashboard's numbers: concerns per day, top and rising themes, open spikes, cases by status."""
    return overview.overview(session=session, principal=principal)


@router.get(
    "/departments/{department_id}/digest",
    response_model=Digest,
    responses={200: {"content": {"text/html": {}, "text/csv": {}}}},
)
def department_digest(
    department_id: IdPath,
    session: ReadSession,
    principal: CurrentPrincipal,
    format: Annotated[DigestFormat, Query(description="json, html or csv (a download).")] = DigestFormat.json,
) -> Response:
    """The department's digest of the last 7 days, as JSON, or as an HTML or CSV download."""
    found = digest.build_digest(session=session, principal=principal, department_id=department_id)
    if format is DigestFormat.json:
        return Response(found.model_dump_json(), media_type="application/json")
    stamp = found.until.strftime("%Y-%m-%d")
    if format is DigestFormat.html:
        body, media = digest_render.render_html(found), "text/html; charset=utf-8"
    else:
        body, media = digest_render.render_csv(found), "text/csv; charset=utf-8"
    filename = f"ombud-digest-{department_id}-{stamp}.{format.value}"
    return Response(
        body, media_type=media, headers={"Content-Disposition": f'attachment; filename="{filename}"'}
    )


@router.post("/departments/{department_id}/digest/send", status_code=202, response_model=DigestQueued)
def send_digest(department_id: IdPath, session: WriteSession, principal: CurrentPrincipal) -> DigestQueued:
    """Send the department's digest now (by email, through the job); its weekly schedule continues."""
    row = digest.request_send(session=session, principal=principal, department_id=department_id)
    session.commit()
    return DigestQueued(department_id=department_id, due_at=row.due_at)
