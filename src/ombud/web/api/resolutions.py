"""/api/v1/resolutions: concessions within policy, approvals, the ledger, the negotiation helper and the
concession policy itself."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query, Response

from ombud.errors import InvalidInput
from ombud.resolutions import helper, policies
from ombud.resolutions import ledger as concession_ledger
from ombud.resolutions import service as resolutions
from ombud.resolutions.models import ResolutionStatus
from ombud.resolutions.schemas import (
    ApproveDecision,
    Decision,
    LedgerPage,
    PolicyPublic,
    PolicyUpload,
    PolicyVersionPublic,
    ResolutionCreate,
    ResolutionPage,
    ResolutionPublic,
    Suggestion,
)
from ombud.web.api.common import IdPath
from ombud.web.deps import CurrentPrincipal, ReadSession, WriteSession

router = APIRouter(tags=["resolutions"])
BigId = Annotated[int | None, Query(ge=1, le=2**63 - 1)]


@router.post("/tickets/{ticket_id}/resolutions", status_code=201, response_model=ResolutionPublic)
def propose(
    ticket_id: IdPath, data: ResolutionCreate, session: WriteSession, principal: CurrentPrincipal
) -> ResolutionPublic:
    """Propose a concession: applied at once within the caller's limits, otherwise sent to an approver."""
    resolution = resolutions.propose(session=session, ticket_id=ticket_id, data=data, actor=principal)
    session.commit()
    return resolutions.to_public(resolution)


@router.get("/tickets/{ticket_id}/resolutions", response_model=ResolutionPage)
def ticket_resolutions(
    ticket_id: IdPath, session: ReadSession, principal: CurrentPrincipal
) -> ResolutionPage:
    """The ticket's resolutions, oldest first (staff only)."""
    found = resolutions.list_for_ticket(session=session, principal=principal, ticket_id=ticket_id)
    return ResolutionPage(items=[resolutions.to_public(r) for r in found])


@router.get("/tickets/{ticket_id}/resolutions/suggestion", response_model=Suggestion)
def suggestion(
    ticket_id: IdPath,
    session: ReadSession,
    principal: CurrentPrincipal,
    concern: BigId = None,
    purchase: BigId = None,
) -> Suggestion:
    """The negotiation helper: the smallest remedy the caller may grant now, and the alternatives."""
    return helper.suggest(
        session=session, principal=principal, ticket_id=ticket_id, concern_id=concern, purchase_id=purchase
    )


@router.get("/resolutions/approvals", response_model=ResolutionPage)
def approvals(session: ReadSession, principal: CurrentPrincipal, everyone: bool = False) -> ResolutionPage:
    """Requests waiting for the caller's approval (``everyone``: all of them, for admins), oldest first."""
    found = resolutions.pending_approvals(session=session, principal=principal, everyone=everyone)
    return ResolutionPage(items=[resolutions.to_public(r) for r in found])


@router.get(
    "/resolutions/ledger",
    response_model=LedgerPage,
    responses={
        200: {
            "content": {"text/csv": {"schema": {"type": "string"}}},
            "description": "The ledger as JSON, or as CSV with format=csv.",
        }
    },
)
def ledger(
    session: ReadSession,
    principal: CurrentPrincipal,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    kind: Annotated[str | None, Query(max_length=30)] = None,
    reason: Annotated[str | None, Query(max_length=50)] = None,
    intent: Annotated[str | None, Query(max_length=100)] = None,
    status: Annotated[str | None, Query(max_length=20, description="Default applied; 'all' for any.")] = None,
    customer: BigId = None,
    granted_by: BigId = None,
    came_back: bool | None = None,
    limit: Annotated[int, Query(ge=1, le=concession_ledger.LEDGER_MAX)] = 500,
    format: Annotated[str, Query(pattern="^(json|csv)$")] = "json",
) -> LedgerPage | Response:
    """Every concession with its cost, reason, concern and intent, who granted it and whether the customer
    came back with the same concern; ``format=csv`` downloads it."""
    filters = concession_ledger.LedgerFilters(
        since=_aware(since, "since"),
        until=_aware(until, "until"),
        kind=kind,
        reason=reason,
        intent=intent,
        status=_status(status),
        customer_id=customer,
        granted_by_id=granted_by,
        came_back=came_back,
    )
    rows = concession_ledger.ledger(session=session, principal=principal, filters=filters, limit=limit)
    if format == "csv":
        return Response(
            concession_ledger.ledger_csv(rows),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="concessions.csv"'},
        )
    return concession_ledger.ledger_page(rows)


def _aware(value: dt.datetime | None, name: str) -> dt.datetime | None:
    """Return the time in UTC; 422 ``invalid_time`` without a time zone or outside the years 1-9999 in UTC
    (``9999-12-31T23:59:59-14:00`` is already year 10000 there)."""
    if value is None:
        return None
    if value.tzinfo is None:
        raise InvalidInput(f"{name} needs a time zone, e.g. 2026-01-01T00:00:00Z", code="invalid_time")
    try:
        return value.astimezone(dt.UTC)
    except OverflowError:
        raise InvalidInput(
            f"{name} is out of range in UTC: give a time between years 1 and 9999, e.g. 2026-01-01T00:00:00Z",
            code="invalid_time",
        ) from None


def _status(value: str | None) -> ResolutionStatus | None:
    if value is None:
        return ResolutionStatus.applied
    if value == "all":
        return None
    try:
        return ResolutionStatus(value)
    except ValueError:
        raise InvalidInput(
            f"unknown status {value!r}; use {', '.join(s.value for s in ResolutionStatus)} or all",
            code="invalid_status",
        ) from None


@router.get("/resolutions/policy", response_model=PolicyPublic)
def get_policy(session: ReadSession, principal: CurrentPrincipal) -> PolicyPublic:
    """The concession policy in force: its TOML source and what it says (staff only)."""
    return policies.policy_public(session=session, principal=principal)


@router.put("/resolutions/policy", response_model=PolicyPublic)
def upload_policy(data: PolicyUpload, session: WriteSession, principal: CurrentPrincipal) -> PolicyPublic:
    """Upload a new policy (admins); one that does not parse or contradicts itself is refused (422
    ``invalid_policy`` naming the rule and line) and the previous one stays in force."""
    policies.upload_policy(session=session, source=data.source, comment=data.comment, actor=principal)
    session.commit()
    return policies.policy_public(session=session, principal=principal)


@router.get("/resolutions/policy/versions", response_model=list[PolicyVersionPublic])
def policy_versions(session: ReadSession, principal: CurrentPrincipal) -> list[PolicyVersionPublic]:
    """Every accepted version, newest first (staff: they can read the policy in force too)."""
    found = policies.list_policy_versions(session=session, principal=principal)
    return [PolicyVersionPublic.model_validate(v) for v in found]


@router.post("/resolutions/policy/versions/{version}/activate", response_model=PolicyPublic)
def activate_policy(version: IdPath, session: WriteSession, principal: CurrentPrincipal) -> PolicyPublic:
    """Put an earlier version back in force (admins)."""
    policies.activate_policy(session=session, version=version, actor=principal)
    session.commit()
    return policies.policy_public(session=session, principal=principal)


@router.get("/resolutions/{resolution_id}", response_model=ResolutionPublic)
def get_resolution(
    resolution_id: IdPath, session: ReadSession, principal: CurrentPrincipal
) -> ResolutionPublic:
    """One resolution with the policy check, the approval context and its webhook callouts (staff only)."""
    found = resolutions.access_resolution(session=session, principal=principal, resolution_id=resolution_id)
    public = resolutions.to_public(found)
    public.callouts = resolutions.callouts(session=session, resolution_id=found.id)
    return public


@router.post("/resolutions/{resolution_id}/approve", response_model=ResolutionPublic)
def approve(
    resolution_id: IdPath, data: ApproveDecision, session: WriteSession, principal: CurrentPrincipal
) -> ResolutionPublic:
    """Approve a request waiting for the caller (or any, for an admin), within the caller's own limits."""
    resolution = resolutions.approve(
        session=session, resolution_id=resolution_id, actor=principal, comment=data.comment, apply=data.apply
    )
    session.commit()
    return resolutions.to_public(resolution)


@router.post("/resolutions/{resolution_id}/reject", response_model=ResolutionPublic)
def reject(
    resolution_id: IdPath, data: Decision, session: WriteSession, principal: CurrentPrincipal
) -> ResolutionPublic:
    """Reject a request waiting for the caller, saying why."""
    resolution = resolutions.reject(
        session=session, resolution_id=resolution_id, actor=principal, comment=data.comment
    )
    session.commit()
    return resolutions.to_public(resolution)


@router.post("/resolutions/{resolution_id}/apply", response_model=ResolutionPublic)
def apply(resolution_id: IdPath, session: WriteSession, principal: CurrentPrincipal) -> ResolutionPublic:
    """Apply an approved resolution, or a proposal (checked against the policy again now)."""
    resolution = resolutions.apply_resolution(session=session, resolution_id=resolution_id, actor=principal)
    session.commit()
    return resolutions.to_public(resolution)


@router.post("/resolutions/{resolution_id}/cancel", response_model=ResolutionPublic)
def cancel(
    resolution_id: IdPath, data: Decision, session: WriteSession, principal: CurrentPrincipal
) -> ResolutionPublic:
    """Withdraw a resolution not yet applied."""
    resolution = resolutions.cancel(
        session=session, resolution_id=resolution_id, actor=principal, comment=data.comment
    )
    session.commit()
    return resolutions.to_public(resolution)
