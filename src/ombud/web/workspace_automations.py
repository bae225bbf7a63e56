"""Workspace pages for admins: automation rules (edit, order, enable, dry run, run log) and outbound
webhooks (endpoints, secrets shown once, delivery log, redeliver, test). Leads may look at rules and try
them; only admins change them."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from ombud.automations import engine, rules
from ombud.automations import service as automations
from ombud.automations.models import AutomationRule, AutomationRun
from ombud.automations.schemas import DryRunPage, RuleIn, RuleUpdate
from ombud.errors import InvalidInput, OmbudError
from ombud.tickets.inbox import PLACEHOLDERS
from ombud.web import workspace_views as views
from ombud.web.api.common import IdPath
from ombud.web.deps import ReadSession, WriteSession
from ombud.web.workspace import CurrentAgent, _render
from ombud.webhooks import service as webhooks

router = APIRouter(include_in_schema=False)

EXAMPLE_CONDITIONS = '{"all": [{"field": "status", "op": "is", "value": "pending"}]}'
EXAMPLE_ACTIONS = '[{"type": "reply", "body": "Hello {{customer.first_name}}, do you still need help?"}]'
TextField = Annotated[str, Form(max_length=100_000)]


# -- automation rules ---------------------------------------------------------------------------------------
def _form_rule(
    *,
    name: str,
    trigger: str,
    events: str,
    since: str,
    hours: str,
    conditions: str,
    actions: str,
    enabled: bool,
) -> RuleIn:
    """Turn the rule form into input, with errors that name the field."""
    try:
        parsed_conditions = json.loads(conditions) if conditions.strip() else {}
    except json.JSONDecodeError as error:
        raise InvalidInput(
            f"conditions: not valid JSON ({error.msg} at character {error.pos})", code="invalid_rule"
        ) from None
    try:
        parsed_actions = json.loads(actions) if actions.strip() else []
    except json.JSONDecodeError as error:
        raise InvalidInput(
            f"actions: not valid JSON ({error.msg} at character {error.pos})", code="invalid_rule"
        ) from None
    try:
        hours_value = float(hours) if hours.strip() else None
    except ValueError:
        raise InvalidInput("hours: a number of hours, e.g. 72", code="invalid_rule") from None
    if not isinstance(parsed_conditions, dict):
        raise InvalidInput('conditions: an object like {"all": [...]}', code="invalid_rule")
    try:
        return RuleIn(
            name=name or " ",
            enabled=enabled,
            trigger="time" if trigger == "time" else "event",
            events=[e.strip() for e in events.replace("\n", ",").split(",") if e.strip()]
            if trigger != "time"
            else [],
            since=since or None if trigger == "time" else None,
            hours=hours_value if trigger == "time" else None,
            conditions=parsed_conditions,
            actions=parsed_actions if isinstance(parsed_actions, list) else [parsed_actions],
        )
    except ValidationError as error:
        first = error.errors()[0]
        path = ".".join(str(p) for p in first["loc"])
        raise InvalidInput(f"{path}: {first['msg']}", code="invalid_rule") from None


def _form_values(rule: AutomationRule | None) -> dict[str, Any]:
    if rule is None:
        return {
            "name": "",
            "trigger": "event",
            "events": "ticket.created",
            "since": "status_changed",
            "hours": "",
            "conditions": EXAMPLE_CONDITIONS,
            "actions": EXAMPLE_ACTIONS,
            "enabled": True,
        }
    return {
        "name": rule.name,
        "trigger": rule.trigger,
        "events": ", ".join(rule.events),
        "since": rule.since or "status_changed",
        "hours": f"{rule.hours:g}" if rule.hours is not None else "",
        "conditions": json.dumps(rule.conditions, indent=2),
        "actions": json.dumps(rule.actions, indent=2),
        "enabled": rule.enabled,
    }


def _rules_page(
    session: Session,
    agent: CurrentAgent,
    *,
    rule: AutomationRule | None,
    form: dict[str, Any],
    status: int = 200,
    error: str | None = None,
    dry: DryRunPage | None = None,
    runs_cursor: str | None = None,
) -> HTMLResponse:
    runs: Sequence[AutomationRun] = []
    next_runs: str | None = None
    if rule is not None:
        runs, next_runs = automations.list_runs(
            session=session, principal=agent.principal, rule_id=rule.id, limit=50, cursor=runs_cursor
        )
    return _render(
        "workspace/automations.html",
        status,
        agent=agent,
        me=views.me(session=session, agent=agent),
        rules=automations.list_rules(session=session, principal=agent.principal),
        rule=rule,
        form=form,
        error=error,
        dry=dry,
        runs=runs,
        next_runs=next_runs,
        can_edit=agent.principal.is_admin,
        fields=rules.FIELDS,
        action_types=rules.ACTION_TYPES,
        anchors=rules.TIME_ANCHORS,
        placeholders=PLACEHOLDERS,
        max_depth=engine.MAX_DEPTH,
    )


@router.get("/agent/automations", response_class=HTMLResponse)
def automations_page(session: ReadSession, agent: CurrentAgent) -> HTMLResponse:
    return _rules_page(session, agent, rule=None, form=_form_values(None))


@router.get("/agent/automations/{rule_id}", response_class=HTMLResponse)
def rule_page(
    rule_id: IdPath,
    session: ReadSession,
    agent: CurrentAgent,
    runs: Annotated[str | None, Query(max_length=500)] = None,
) -> HTMLResponse:
    rule = automations.access_rule(session=session, principal=agent.principal, rule_id=rule_id)
    return _rules_page(session, agent, rule=rule, form=_form_values(rule), runs_cursor=runs)


def _save_or_try(
    request: Request,
    session: Session,
    agent: CurrentAgent,
    rule_id: int | None,
    form: dict[str, Any],
    intent: str,
    csrf_token: str,
    cursor: str | None = None,
) -> Response:
    agent.check_form(request, csrf_token)
    rule = (
        None
        if rule_id is None
        else automations.access_rule(session=session, principal=agent.principal, rule_id=rule_id)
    )
    try:
        data = _form_rule(**form)
        if intent == "dry_run":
            page = automations.dry_run(
                session=session,
                principal=agent.principal,
                data=data,
                limit=50,
                cursor=cursor,
                rule_id=rule_id,
            )
            session.rollback()
            return _rules_page(session, agent, rule=rule, form=form, dry=page)
        if rule is None:
            saved = automations.create_rule(session=session, principal=agent.principal, data=data)
        else:
            saved = automations.update_rule(
                session=session,
                principal=agent.principal,
                rule_id=rule.id,
                changes=RuleUpdate(**data.model_dump(exclude={"position"})),
            )
    except OmbudError as error:
        if error.status >= 500 or error.status == 403:
            raise
        session.rollback()
        return _rules_page(session, agent, rule=rule, form=form, status=error.status, error=error.message)
    session.commit()
    return RedirectResponse(f"/agent/automations/{saved.id}", status_code=303)


def rule_form(
    name: Annotated[str, Form(max_length=200)] = "",
    trigger: Annotated[str, Form(max_length=10)] = "event",
    events: Annotated[str, Form(max_length=2000)] = "",
    since: Annotated[str, Form(max_length=30)] = "",
    hours: Annotated[str, Form(max_length=20)] = "",
    conditions: TextField = "",
    actions: TextField = "",
    enabled: Annotated[bool, Form()] = False,
) -> dict[str, Any]:
    """The rule form's fields, as typed (checked by the automations service when saved or tried)."""
    return {
        "name": name,
        "trigger": trigger,
        "events": events,
        "since": since,
        "hours": hours,
        "conditions": conditions,
        "actions": actions,
        "enabled": enabled,
    }


RuleForm = Annotated[dict[str, Any], Depends(rule_form)]


@router.post("/agent/automations", response_class=HTMLResponse)
def create_rule(
    request: Request,
    session: WriteSession,
    agent: CurrentAgent,
    form: RuleForm,
    intent: Annotated[str, Form(max_length=20)] = "save",
    cursor: Annotated[str | None, Form(max_length=500)] = None,
    csrf_token: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    return _save_or_try(request, session, agent, None, form, intent, csrf_token, cursor or None)


@router.post("/agent/automations/{rule_id}", response_class=HTMLResponse)
def update_rule(
    rule_id: IdPath,
    request: Request,
    session: WriteSession,
    agent: CurrentAgent,
    form: RuleForm,
    intent: Annotated[str, Form(max_length=20)] = "save",
    cursor: Annotated[str | None, Form(max_length=500)] = None,
    csrf_token: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    return _save_or_try(request, session, agent, rule_id, form, intent, csrf_token, cursor or None)


@router.post("/agent/automations/{rule_id}/toggle")
def toggle_rule(
    rule_id: IdPath,
    request: Request,
    session: WriteSession,
    agent: CurrentAgent,
    csrf_token: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    """Enable a disabled rule, or disable an enabled one."""
    agent.check_form(request, csrf_token)
    rule = automations.access_rule(session=session, principal=agent.principal, rule_id=rule_id)
    automations.update_rule(
        session=session,
        principal=agent.principal,
        rule_id=rule_id,
        changes=RuleUpdate(enabled=not rule.enabled),
    )
    session.commit()
    return RedirectResponse("/agent/automations", status_code=303)


@router.post("/agent/automations/{rule_id}/move")
def move_rule(
    rule_id: IdPath,
    request: Request,
    session: WriteSession,
    agent: CurrentAgent,
    direction: Annotated[str, Form(max_length=4)] = "up",
    csrf_token: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    """Move a rule one place up or down in the order rules run."""
    agent.check_form(request, csrf_token)
    ids = [r.id for r in automations.list_rules(session=session, principal=agent.principal)]
    ids = views.moved(ids, rule_id, direction)
    automations.reorder(session=session, principal=agent.principal, ids=ids)
    session.commit()
    return RedirectResponse("/agent/automations", status_code=303)


@router.post("/agent/automations/{rule_id}/delete")
def delete_rule(
    rule_id: IdPath,
    request: Request,
    session: WriteSession,
    agent: CurrentAgent,
    csrf_token: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    agent.check_form(request, csrf_token)
    automations.delete_rule(session=session, principal=agent.principal, rule_id=rule_id)
    session.commit()
    return RedirectResponse("/agent/automations", status_code=303)


# -- webhooks -----------------------------------------------------------------------------------------------
def _events_list(text: str) -> list[str]:
    return [e.strip() for e in text.replace("\n", ",").split(",") if e.strip()]


def _webhooks_page(
    session: Session,
    agent: CurrentAgent,
    *,
    status: int = 200,
    error: str | None = None,
    form: dict[str, Any] | None = None,
    secret: str | None = None,
) -> HTMLResponse:
    return _render(
        "workspace/webhooks.html",
        status,
        agent=agent,
        me=views.me(session=session, agent=agent),
        endpoints=webhooks.list_endpoints(session=session, principal=agent.principal),
        form=form or {"name": "", "url": "https://", "events": "ticket.*"},
        error=error,
        secret=secret,
    )


def _endpoint_page(
    session: Session,
    agent: CurrentAgent,
    endpoint_id: int,
    *,
    status: int = 200,
    error: str | None = None,
    secret: str | None = None,
    cursor: str | None = None,
) -> HTMLResponse:
    endpoint = webhooks.access_endpoint(session=session, principal=agent.principal, endpoint_id=endpoint_id)
    deliveries, next_cursor = webhooks.list_deliveries(
        session=session, principal=agent.principal, endpoint_id=endpoint_id, limit=50, cursor=cursor
    )
    attempts = {d.id: webhooks.attempts_of(session=session, delivery_id=d.id) for d in deliveries}
    return _render(
        "workspace/webhook.html",
        status,
        agent=agent,
        me=views.me(session=session, agent=agent),
        endpoint=endpoint,
        deliveries=deliveries,
        attempts=attempts,
        next_cursor=next_cursor,
        error=error,
        secret=secret,
    )


@router.get("/agent/webhooks", response_class=HTMLResponse)
def webhooks_page(session: ReadSession, agent: CurrentAgent) -> HTMLResponse:
    return _webhooks_page(session, agent)


@router.post("/agent/webhooks", response_class=HTMLResponse)
def create_webhook(
    request: Request,
    session: WriteSession,
    agent: CurrentAgent,
    name: Annotated[str, Form(max_length=200)] = "",
    url: Annotated[str, Form(max_length=2000)] = "",
    events: Annotated[str, Form(max_length=2000)] = "",
    csrf_token: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    """Add an endpoint and show its secret, this once."""
    agent.check_form(request, csrf_token)
    try:
        endpoint = webhooks.create_endpoint(
            session=session, principal=agent.principal, name=name, url=url, events=_events_list(events)
        )
    except OmbudError as error:
        if error.status >= 500 or error.status == 403:
            raise
        session.rollback()
        form = {"name": name, "url": url, "events": events}
        return _webhooks_page(session, agent, status=error.status, error=error.message, form=form)
    session.commit()
    return _endpoint_page(session, agent, endpoint.id, status=201, secret=endpoint.secret)


@router.get("/agent/webhooks/{endpoint_id}", response_class=HTMLResponse)
def webhook_page(
    endpoint_id: IdPath,
    session: ReadSession,
    agent: CurrentAgent,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> HTMLResponse:
    return _endpoint_page(session, agent, endpoint_id, cursor=cursor)


@router.post("/agent/webhooks/{endpoint_id}", response_class=HTMLResponse)
def update_webhook(
    endpoint_id: IdPath,
    request: Request,
    session: WriteSession,
    agent: CurrentAgent,
    name: Annotated[str, Form(max_length=200)] = "",
    url: Annotated[str, Form(max_length=2000)] = "",
    events: Annotated[str, Form(max_length=2000)] = "",
    enabled: Annotated[bool, Form()] = False,
    csrf_token: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    agent.check_form(request, csrf_token)
    try:
        webhooks.update_endpoint(
            session=session,
            principal=agent.principal,
            endpoint_id=endpoint_id,
            changes={"name": name, "url": url, "events": _events_list(events), "enabled": enabled},
        )
    except OmbudError as error:
        if error.status >= 500 or error.status in (403, 404):
            raise
        session.rollback()
        return _endpoint_page(session, agent, endpoint_id, status=error.status, error=error.message)
    session.commit()
    return RedirectResponse(f"/agent/webhooks/{endpoint_id}", status_code=303)


@router.post("/agent/webhooks/{endpoint_id}/rotate", response_class=HTMLResponse)
def rotate_webhook_secret(
    endpoint_id: IdPath,
    request: Request,
    session: WriteSession,
    agent: CurrentAgent,
    csrf_token: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    agent.check_form(request, csrf_token)
    endpoint = webhooks.rotate_secret(session=session, principal=agent.principal, endpoint_id=endpoint_id)
    session.commit()
    return _endpoint_page(session, agent, endpoint_id, secret=endpoint.secret)


@router.post("/agent/webhooks/{endpoint_id}/test")
def send_test_webhook(
    endpoint_id: IdPath,
    request: Request,
    session: WriteSession,
    agent: CurrentAgent,
    csrf_token: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    agent.check_form(request, csrf_token)
    webhooks.send_test(session=session, principal=agent.principal, endpoint_id=endpoint_id)
    session.commit()
    return RedirectResponse(f"/agent/webhooks/{endpoint_id}", status_code=303)


@router.post("/agent/webhooks/{endpoint_id}/delete")
def delete_webhook(
    endpoint_id: IdPath,
    request: Request,
    session: WriteSession,
    agent: CurrentAgent,
    csrf_token: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    agent.check_form(request, csrf_token)
    webhooks.delete_endpoint(session=session, principal=agent.principal, endpoint_id=endpoint_id)
    session.commit()
    return RedirectResponse("/agent/webhooks", status_code=303)


@router.post("/agent/webhooks/deliveries/{delivery_id}/redeliver")
def redeliver_webhook(
    delivery_id: IdPath,
    request: Request,
    session: WriteSession,
    agent: CurrentAgent,
    csrf_token: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    agent.check_form(request, csrf_token)
    delivery = webhooks.redeliver(session=session, principal=agent.principal, delivery_id=delivery_id)
    endpoint_id = delivery.endpoint_id
    session.commit()
    return RedirectResponse(f"/agent/webhooks/{endpoint_id}", status_code=303)
