"""The workspace's privacy buttons on the customer 360 (admins): download the customer's data export and
erase the customer after typing a confirmation. Both are form posts with the session's CSRF token."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from ombud.customers import privacy
from ombud.customers.export import export_customer
from ombud.errors import InvalidInput
from ombud.web import workspace_views as views
from ombud.web.api.common import IdPath
from ombud.web.deps import WriteSession
from ombud.web.workspace import CurrentAgent, _render

router = APIRouter(include_in_schema=False)
Csrf = Annotated[str, Form(max_length=100)]


def confirmation_phrase(customer_id: int) -> str:
    """What the admin types to confirm an erasure: it names the customer, so a form for one customer can
    never erase another."""
    return f"erase customer {customer_id}"


@router.post("/agent/customers/{customer_id}/export")
def export_download(
    customer_id: IdPath, request: Request, session: WriteSession, agent: CurrentAgent, csrf_token: Csrf = ""
) -> Response:
    """The customer's data export as a JSON file download (admins; recorded in the audit trail)."""
    agent.check_form(request, csrf_token)
    document = export_customer(session=session, customer_id=customer_id, actor=agent.principal)
    session.commit()
    return Response(
        json.dumps(document, ensure_ascii=False, indent=2, sort_keys=True),
        media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="customer-{customer_id}-export.json"'},
    )


@router.post("/agent/customers/{customer_id}/erase", response_class=HTMLResponse)
def erase(
    customer_id: IdPath,
    request: Request,
    session: WriteSession,
    agent: CurrentAgent,
    csrf_token: Csrf = "",
    confirm: Annotated[str, Form(max_length=100)] = "",
) -> HTMLResponse:
    """Erase the customer once the admin typed the confirmation phrase; show what was erased."""
    agent.check_form(request, csrf_token)
    privacy.require_admin(agent.principal)  # before the phrase: a non-admin learns nothing from typing it
    wanted = confirmation_phrase(customer_id)
    if " ".join(confirm.split()).lower() != wanted:
        raise InvalidInput(
            f"nothing was erased: type “{wanted}” to confirm the erasure", code="confirmation_required"
        )
    report = privacy.erase_customer(session=session, customer_id=customer_id, actor=agent.principal)
    session.commit()
    return _render(
        "workspace/privacy_erased.html", agent=agent, me=views.me(session=session, agent=agent), report=report
    )
