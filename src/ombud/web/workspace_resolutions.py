"""The workspace's resolution pages: propose from the ticket panel, the approvals queue, the concession
policy (admins edit it) and the ledger."""

from __future__ import annotations

import datetime as dt
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError

from ombud.errors import InvalidInput
from ombud.resolutions import ledger as concession_ledger
from ombud.resolutions import policies
from ombud.resolutions import policy as rules
from ombud.resolutions import service as resolutions
from ombud.resolutions.models import ResolutionStatus
from ombud.resolutions.schemas import ResolutionCreate
from ombud.web import resolutions_views
from ombud.web import workspace_views as views
from ombud.web.api.common import IdPath
from ombud.web.deps import ReadSession, WriteSession
from ombud.web.workspace import CurrentAgent, _render

router = APIRouter(include_in_schema=False)
OptionalId = Annotated[str, Form(max_length=20)]


def _back(target: str, fallback: str) -> str:
    return target if target.startswith("/agent/") else fallback


@router.post("/agent/tickets/{ticket_id}/resolutions")
def propose(
    ticket_id: IdPath,
    request: Request,
    session: WriteSession,
    agent: CurrentAgent,
    kind: Annotated[str, Form(max_length=30)],
    amount: Annotated[str, Form(max_length=30)],
    currency: Annotated[str, Form(max_length=3)],
    reason: Annotated[str, Form(max_length=50)],
    purchase_id: OptionalId = "",
    concern_id: OptionalId = "",
    approver_id: OptionalId = "",
    reference: Annotated[str, Form(max_length=200)] = "",
    note: Annotated[str, Form(max_length=5000)] = "",
    apply: Annotated[str, Form(max_length=5)] = "",
    csrf_token: Annotated[str, Form(max_length=100)] = "",
) -> RedirectResponse:
    """Propose a concession from the ticket's panel; within policy it is applied at once."""
    agent.check_form(request, csrf_token)
    try:
        data = ResolutionCreate(
            kind=kind,
            amount=rules.parse_amount(amount),
            currency=currency.strip().upper(),
            reason=reason,
            purchase_id=views.optional_id(purchase_id, "purchase"),
            concern_id=views.optional_id(concern_id, "concern"),
            approver_id=views.optional_id(approver_id, "approver"),
            reference=reference.strip() or None,
            note=note,
            apply=bool(apply),
        )
    except ValidationError as error:
        first = error.errors()[0]
        raise InvalidInput(
            f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}", code="invalid_resolution"
        ) from None
    resolutions.propose(session=session, ticket_id=ticket_id, data=data, actor=agent.principal)
    session.commit()
    return RedirectResponse(f"/agent/tickets/{ticket_id}#resolutions", status_code=303)


@router.post("/agent/resolutions/{resolution_id}/{action}")
def decide(
    resolution_id: IdPath,
    action: Annotated[str, Path(pattern="^(approve|reject|apply|cancel)$")],
    request: Request,
    session: WriteSession,
    agent: CurrentAgent,
    comment: Annotated[str, Form(max_length=5000)] = "",
    back: Annotated[str, Form(max_length=500)] = "",
    csrf_token: Annotated[str, Form(max_length=100)] = "",
) -> RedirectResponse:
    """Approve, reject, apply or cancel; back to the page it came from."""
    agent.check_form(request, csrf_token)
    who = agent.principal
    if action == "approve":
        resolutions.approve(session=session, resolution_id=resolution_id, actor=who, comment=comment)
    elif action == "reject":
        resolutions.reject(session=session, resolution_id=resolution_id, actor=who, comment=comment)
    elif action == "apply":
        resolutions.apply_resolution(session=session, resolution_id=resolution_id, actor=who)
    else:
        resolutions.cancel(session=session, resolution_id=resolution_id, actor=who, comment=comment)
    session.commit()
    return RedirectResponse(_back(back, "/agent/approvals"), status_code=303)


@router.get("/agent/approvals", response_class=HTMLResponse)
def approvals_page(session: ReadSession, agent: CurrentAgent, everyone: bool = False) -> HTMLResponse:
    """The requests waiting for the signed-in approver (an admin may see everyone's)."""
    pending = resolutions.pending_approvals(session=session, principal=agent.principal, everyone=everyone)
    return _render(
        "workspace/approvals.html",
        agent=agent,
        me=views.me(session=session, agent=agent),
        pending=[resolutions.to_public(r) for r in pending],
        names=resolutions_views.user_names(session=session),
        everyone=everyone and agent.principal.is_admin,
    )


def _policy_page(
    session: ReadSession,
    agent: CurrentAgent,
    *,
    status: int = 200,
    error: str | None = None,
    problems: list[dict[str, object]] | None = None,
    draft: str | None = None,
    saved: bool = False,
) -> HTMLResponse:
    found = policies.active_policy(session=session)
    return _render(
        "workspace/policy.html",
        status,
        agent=agent,
        me=views.me(session=session, agent=agent),
        current=found[0] if found else None,
        summary=policies.summary(found[1]) if found else None,
        versions=policies.list_policy_versions(session=session, principal=agent.principal),
        can_edit=agent.principal.is_admin,
        draft=draft if draft is not None else (found[0].source if found else EXAMPLE_HINT),
        error=error,
        problems=problems or [],
        saved=saved,
        kinds=rules.KINDS,
        roles=list(rules.ROLE_RANK),
    )


EXAMPLE_HINT = """base_currency = "EUR"

[currencies]
EUR = 1

[reasons]
late_delivery = { label = "Late delivery" }

[[limit]]
role = "agent"
kinds = "*"
max = 50

[[limit]]
role = "lead"
kinds = "*"
max = 200

[[limit]]
role = "advocate"
kinds = "*"
max = 200

[[limit]]
role = "admin"
kinds = "*"
max = 1000
"""


@router.get("/agent/policy", response_class=HTMLResponse)
def policy_page(session: ReadSession, agent: CurrentAgent, saved: bool = False) -> HTMLResponse:
    """The concession policy in force, what it means, its versions; admins edit it here."""
    return _policy_page(session, agent, saved=saved)


@router.post("/agent/policy", response_class=HTMLResponse, response_model=None)
def save_policy(
    request: Request,
    session: WriteSession,
    agent: CurrentAgent,
    source: Annotated[str, Form(max_length=200_000)] = "",
    comment: Annotated[str, Form(max_length=500)] = "",
    csrf_token: Annotated[str, Form(max_length=100)] = "",
) -> HTMLResponse | RedirectResponse:
    """Save the edited policy; a refused one is shown again with its problems, the old one stays."""
    agent.check_form(request, csrf_token)
    try:
        policies.upload_policy(session=session, source=source, comment=comment, actor=agent.principal)
    except rules.PolicyError as error:
        session.rollback()
        details = error.details if isinstance(error.details, list) else []
        return _policy_page(session, agent, status=422, error=error.message, problems=details, draft=source)
    session.commit()
    return RedirectResponse("/agent/policy?saved=true", status_code=303)


@router.get("/agent/ledger", response_class=HTMLResponse)
def ledger_page(
    session: ReadSession,
    agent: CurrentAgent,
    kind: Annotated[str, Query(max_length=30)] = "",
    reason: Annotated[str, Query(max_length=50)] = "",
    status: Annotated[str, Query(max_length=20)] = "applied",
    came_back: Annotated[str, Query(pattern="^(|yes|no)$")] = "",
    since: Annotated[str, Query(max_length=10)] = "",
) -> HTMLResponse:
    """All concessions with their cost and outcome, filterable, with a CSV download."""
    try:
        chosen = None if status == "all" else ResolutionStatus(status)
        start = dt.datetime.fromisoformat(since).replace(tzinfo=dt.UTC) if since else None
    except ValueError:
        raise InvalidInput("unknown status or date (use YYYY-MM-DD)", code="invalid_filter") from None
    filters = concession_ledger.LedgerFilters(
        kind=kind or None,
        reason=reason or None,
        status=chosen,
        came_back=None if not came_back else came_back == "yes",
        since=start,
    )
    rows = concession_ledger.ledger(session=session, principal=agent.principal, filters=filters, limit=500)
    query = {"kind": kind, "reason": reason, "status": status, "since": f"{since}T00:00:00Z" if since else ""}
    if came_back:
        query["came_back"] = "true" if came_back == "yes" else "false"
    csv_query = urlencode({k: v for k, v in query.items() if v})
    return _render(
        "workspace/ledger.html",
        agent=agent,
        me=views.me(session=session, agent=agent),
        page=concession_ledger.ledger_page(rows),
        names=resolutions_views.user_names(session=session),
        filters={"kind": kind, "reason": reason, "status": status, "came_back": came_back, "since": since},
        kinds=rules.KINDS,
        statuses=[s.value for s in ResolutionStatus],
        csv_url="/api/v1/resolutions/ledger?format=csv" + (f"&{csv_query}" if csv_query else ""),
    )
