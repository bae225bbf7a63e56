"""Which seeded id fills which path parameter, where a name means different things on different routes."""

from __future__ import annotations

from typing import Any

from tests.permissions.seed import World

# A well-formed portal sign-in token that was never issued: the page is the same for everyone.
UNKNOWN_LOGIN_TOKEN = "never-issued-login-token-0123456789"
ACTIONS = {
    "/agent/advocacy/spikes/": "acknowledge",
    "/agent/help/": "join",
    "/agent/me/breaks/": "take",
    "/agent/resolutions/": "approve",
    "/agent/work-orders/": "close",
}


def params_for(path: str, world: World) -> dict[str, Any]:
    """The values of ``path``'s parameters whose meaning depends on the route; the rest come from ids."""
    ids = world.ids
    found: dict[str, Any] = {
        "user": world.creds["agent"].user_id,
        "user_id": world.creds["agent"].user_id,
        "name": "volume",
        "state": "achieved",
        "token": ids["survey_token"],
    }
    if "/technicians/" in path:
        found["user_id"] = world.creds["partner"].user_id
    if path.startswith("/api/v1/ticket-merges/") or path.startswith("/agent/merges/"):
        found["merge_id"] = ids["ticket_merge_id"]
    if path.startswith("/api/v1/customer-merges/"):
        found["merge_id"] = ids["customer_merge_id"]
    if path.endswith("/erase"):
        found["customer_id"] = ids["erase_customer_id"]
    if path.startswith("/portal/login/"):
        found["token"] = UNKNOWN_LOGIN_TOKEN
    for prefix, action in ACTIONS.items():
        if path.startswith(prefix):
            found["action"] = action
    return found
