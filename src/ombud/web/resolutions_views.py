"""What the workspace's resolution pages and the ticket's resolutions panel show (no routes here: the
ticket page's panel list imports this module, so it must not import ombud.web.workspace)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from ombud.accounts import service as accounts
from ombud.accounts.schemas import Principal
from ombud.customers import purchases
from ombud.errors import OmbudError
from ombud.resolutions import helper, policies
from ombud.resolutions import policy as rules
from ombud.resolutions import service as resolutions
from ombud.tickets import concerns
from ombud.tickets.models import Ticket


def panel(*, session: Session, principal: Principal, ticket: Ticket) -> dict[str, Any]:
    """The ticket's resolutions, the helper's suggestion and what the proposal form offers."""
    found = policies.active_policy(session=session)
    context: dict[str, Any] = {
        "policy": None,
        "resolutions": [
            resolutions.to_public(r).model_copy(
                update={"callouts": resolutions.callouts(session=session, resolution_id=r.id)}
            )
            for r in resolutions.list_for_ticket(session=session, principal=principal, ticket_id=ticket.id)
        ],
        "names": user_names(session=session),
        "suggestion": None,
        "suggestion_error": None,
        "can_grant": principal.kind == "user"
        and principal.role is not None
        and principal.role.value in rules.ROLE_RANK,
    }
    if found is None:
        return context
    _row, policy = found
    context["policy"] = {
        "kinds": rules.KINDS,
        "reasons": list(policy.reasons.values()),
        "currencies": sorted(policy.rates),
        "base_currency": policy.base_currency,
    }
    context["purchases"] = purchases.list_purchases(session=session, customer_id=ticket.customer_id)[:20]
    context["concerns"] = list(concerns.list_concerns(session=session, principal=principal, ticket=ticket))
    context["approvers"] = approvers(session=session, exclude=principal.id)
    if context["can_grant"]:
        try:
            context["suggestion"] = helper.suggest(session=session, principal=principal, ticket_id=ticket.id)
        except OmbudError as error:
            context["suggestion_error"] = error.message
    return context


def user_names(*, session: Session) -> dict[int, str]:
    return {u.id: u.name for u in accounts.list_users(session=session)}


def approvers(*, session: Session, exclude: int | None) -> list[dict[str, Any]]:
    return [
        {"id": u.id, "name": u.name, "role": u.role.value}
        for u in accounts.list_users(session=session)
        if u.active and u.id != exclude and u.role.value in rules.APPROVER_ROLES
    ]
