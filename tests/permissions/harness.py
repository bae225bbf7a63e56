"""How the matrix calls a route as a role and what class of answer it got back.

The API is called with the role's bearer token, pages with the role's browser session (its cookie, and its
CSRF token in the form and the X-CSRF-Token header, so that what is tested is the role, not the CSRF
check). Path parameters are filled with the seeded world's real ids."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx2 as httpx
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from starlette.routing import Mount

from tests.permissions.seed import World

ALLOW = "allow"
DENY_401 = "401"
DENY_403 = "403"
DENY_404 = "404"
SIGN_IN = "sign-in"
ELSEWHERE = "elsewhere"
ERROR = "5xx"
ANSWERS = (ALLOW, DENY_401, DENY_403, DENY_404, SIGN_IN, ELSEWHERE)
DENIALS = frozenset({DENY_401, DENY_403, DENY_404, SIGN_IN, ELSEWHERE})
SESSION_COOKIE = "ombud_session"
_PARAM = re.compile(r"{(\w+)}")
# The areas a browser can be sent to instead of the page it asked for.
_AREAS = ("/agent", "/partner", "/portal")


def is_api(path: str) -> bool:
    return path.startswith(("/api/", "/chat/api/"))


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str


@dataclass
class RouteList:
    http: list[Endpoint] = field(default_factory=list)
    websockets: list[str] = field(default_factory=list)
    mounts: list[str] = field(default_factory=list)


def app_routes(app: FastAPI) -> RouteList:
    """Every method and path the app answers (HEAD and OPTIONS that Starlette adds by itself aside), its
    WebSocket routes and its mounts: the list a new route cannot hide from."""
    found = RouteList()
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        path = context.path
        assert path is not None, route
        if isinstance(route, Mount):
            found.mounts.append(path)
        elif context.methods is None:
            found.websockets.append(path)
        else:
            # Starlette answers HEAD on every GET route by itself; a HEAD route of its own is listed.
            methods = set(context.methods)
            if "GET" in methods:
                methods.discard("HEAD")
            found.http.extend(Endpoint(method, path) for method in sorted(methods))
    return found


def fill(path: str, ids: dict[str, Any], params: dict[str, Any]) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in params:
            return str(params[name])
        assert name in ids, (
            f"the seed has no id for {{{name}}} in {path}; add one to tests/permissions/seed.py"
        )
        return str(ids[name])

    return _PARAM.sub(value, path)


def call(
    client: TestClient,
    world: World,
    role: str,
    method: str,
    url: str,
    body: dict[str, Any] | None,
) -> httpx.Response:
    """Send one request as ``role``; nothing of an earlier request (cookies) is carried over."""
    client.cookies.clear()
    creds = world.creds[role]
    headers: dict[str, str] = {}
    kwargs: dict[str, Any] = {"follow_redirects": False}
    if is_api(url):
        if creds.token:
            headers["Authorization"] = f"Bearer {creds.token}"
        if method in ("POST", "PUT", "PATCH"):
            kwargs["json"] = body if body is not None else {}
    else:
        if creds.cookie:
            headers["Cookie"] = f"{SESSION_COOKIE}={creds.cookie}"
        if creds.csrf:
            headers["X-CSRF-Token"] = creds.csrf
        if method == "POST":
            kwargs["data"] = {**(body or {}), "csrf_token": creds.csrf or ""}
    return client.request(method, url, headers=headers, **kwargs)


def classify(url: str, response: httpx.Response) -> str:
    """The class of answer: allowed, 401, 403, 404, sent to sign in, sent to another area, or a 5xx."""
    status = response.status_code
    if status >= 500:
        return ERROR
    if status in (401, 403, 404):
        return str(status)
    if status in (301, 302, 303, 307, 308):
        target = urlsplit(response.headers.get("location", "")).path
        if target in ("/login", "/portal/login"):
            return SIGN_IN
        asked = urlsplit(url).path
        for area in _AREAS:
            if target == area and not (asked == area or asked.startswith(area + "/")):
                return ELSEWHERE
    return ALLOW
