"""Run every row of the permission table as every role against the seeded world and collect what each
role got back, in an order where no role's answer depends on what another role's request did."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi.testclient import TestClient

from tests.permissions import table
from tests.permissions.harness import ERROR, Endpoint, call, classify, fill
from tests.permissions.params import params_for
from tests.permissions.seed import ROLES, Fresh, World


@dataclass(frozen=True)
class Answer:
    answer: str
    status: int
    code: str


def _code(response: Any) -> str:
    try:
        body = response.json()
    except ValueError:
        return ""
    error = body.get("error") if isinstance(body, dict) else None
    return str(error.get("code", "")) if isinstance(error, dict) else ""


def order(endpoints: list[Endpoint]) -> list[Endpoint]:
    """Signing out last of all: it ends the session the later rows would use."""
    return sorted(endpoints, key=lambda e: e.path in table.LAST)


def run(client: TestClient, world: World, endpoints: list[Endpoint]) -> dict[Endpoint, dict[str, Answer]]:
    fresh = Fresh(client, world)
    seen: dict[Endpoint, dict[str, Answer]] = {}
    for endpoint in order(endpoints):
        key = f"{endpoint.method} {endpoint.path}"
        maker: Callable[[], dict[str, Any]] | None = (
            getattr(fresh, table.FRESH[key]) if key in table.FRESH else None
        )
        row: dict[str, Answer] = {}
        for role in ROLES:
            params = params_for(endpoint.path, world)
            if maker is not None:
                params.update(maker())
            url = fill(endpoint.path, world.ids, params)
            response = call(client, world, role, endpoint.method, url, table.BODIES.get(key))
            answer = classify(url, response)
            row[role] = Answer(answer, response.status_code, _code(response) if answer != ERROR else "")
        seen[endpoint] = row
    return seen
