"""/api/v1/automations: rules (admins write, leads read), their order, dry runs and run logs."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from ombud.automations import service as automations
from ombud.automations.schemas import (
    DryRunPage,
    RuleIn,
    RuleOrder,
    RulePublic,
    RuleUpdate,
    RunPage,
    RunPublic,
)
from ombud.web.api.common import IdPath
from ombud.web.deps import CurrentPrincipal, ReadSession, WriteSession

router = APIRouter(prefix="/automations", tags=["automations"])

Limit = Annotated[int, Query(ge=1, le=automations.MAX_PAGE)]
Cursor = Annotated[str | None, Query(max_length=500)]


@router.get("", response_model=list[RulePublic])
def list_rules(session: ReadSession, principal: CurrentPrincipal) -> list[RulePublic]:
    """Every rule, in the order they run."""
    return [
        RulePublic.model_validate(r) for r in automations.list_rules(session=session, principal=principal)
    ]


@router.post("", status_code=201, response_model=RulePublic)
def create_rule(data: RuleIn, session: WriteSession, principal: CurrentPrincipal) -> RulePublic:
    """Save a rule; errors name the bad condition or action by its path (conditions.all[1], actions[0])."""
    rule = automations.create_rule(session=session, principal=principal, data=data)
    session.commit()
    return RulePublic.model_validate(rule)


@router.post("/dry-run", response_model=DryRunPage)
def dry_run_unsaved(
    data: RuleIn,
    session: ReadSession,
    principal: CurrentPrincipal,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> DryRunPage:
    """Which tickets a rule not saved yet would change now, and how; nothing is changed."""
    page = automations.dry_run(session=session, principal=principal, data=data, limit=limit, cursor=cursor)
    session.rollback()
    return page


@router.put("/order", response_model=list[RulePublic])
def reorder(data: RuleOrder, session: WriteSession, principal: CurrentPrincipal) -> list[RulePublic]:
    """Put the rules in the order given (every rule id, once)."""
    rules = automations.reorder(session=session, principal=principal, ids=data.ids)
    session.commit()
    return [RulePublic.model_validate(r) for r in rules]


@router.get("/{rule_id}", response_model=RulePublic)
def get_rule(rule_id: IdPath, session: ReadSession, principal: CurrentPrincipal) -> RulePublic:
    return RulePublic.model_validate(
        automations.access_rule(session=session, principal=principal, rule_id=rule_id)
    )


@router.patch("/{rule_id}", response_model=RulePublic)
def update_rule(
    rule_id: IdPath, changes: RuleUpdate, session: WriteSession, principal: CurrentPrincipal
) -> RulePublic:
    """Change a rule (enable or disable it, rename it, move it); the whole rule is checked again."""
    rule = automations.update_rule(session=session, principal=principal, rule_id=rule_id, changes=changes)
    session.commit()
    return RulePublic.model_validate(rule)


@router.delete("/{rule_id}", status_code=204)
def delete_rule(rule_id: IdPath, session: WriteSession, principal: CurrentPrincipal) -> Response:
    automations.delete_rule(session=session, principal=principal, rule_id=rule_id)
    session.commit()
    return Response(status_code=204)


@router.post("/{rule_id}/dry-run", response_model=DryRunPage)
def dry_run_saved(
    rule_id: IdPath,
    session: ReadSession,
    principal: CurrentPrincipal,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> DryRunPage:
    """Which tickets the saved rule would change now, and how; nothing is changed."""
    rule = automations.access_rule(session=session, principal=principal, rule_id=rule_id)
    page = automations.dry_run(
        session=session,
        principal=principal,
        data=automations.rule_as_input(rule),
        limit=limit,
        cursor=cursor,
        rule_id=rule.id,
    )
    session.rollback()
    return page


@router.get("/{rule_id}/runs", response_model=RunPage)
def list_runs(
    rule_id: IdPath,
    session: ReadSession,
    principal: CurrentPrincipal,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> RunPage:
    """The rule's run log, newest first: ticket, event, what it did, or the error."""
    runs, next_cursor = automations.list_runs(
        session=session, principal=principal, rule_id=rule_id, limit=limit, cursor=cursor
    )
    return RunPage(items=[RunPublic.model_validate(r) for r in runs], next_cursor=next_cursor)
