"""One handler per kind of failure, all rendering ``{"error": {"code", "message", "details"}}`` for the
API and a small page for everything else. Never a stack trace, never a bare 500."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from ombud.errors import OmbudError

log = logging.getLogger(__name__)

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "payload_too_large",
    415: "unsupported_media_type",
}


def error_response(
    request: Request,
    status: int,
    code: str,
    message: str,
    details: Any = None,
    headers: dict[str, str] | None = None,
) -> Response:
    if request.url.path.startswith(("/api/", "/chat/api/")):
        body = {"error": {"code": code, "message": message, "details": details}}
        return JSONResponse(body, status_code=status, headers=headers)
    from ombud.web.pages import render_error

    return HTMLResponse(
        render_error(status=status, code=code, message=message), status_code=status, headers=headers
    )


def _validation_details(exc: RequestValidationError) -> list[dict[str, Any]]:
    details = []
    for error in exc.errors():
        details.append(
            {
                "field": ".".join(str(part) for part in error.get("loc", ()) if part != "body") or "body",
                "location": str(error.get("loc", ("body",))[0]),
                "message": str(error.get("msg", "invalid")),
                "type": str(error.get("type", "invalid")),
            }
        )
    return details


_BUSY = ("database is locked", "database table is locked", "lock timeout", "deadlock detected")


def is_busy(exc: OperationalError) -> bool:
    """True when the database refused to wait longer for a lock (a retry can succeed)."""
    return any(words in str(exc.orig).lower() for words in _BUSY)


def install(app: FastAPI) -> None:
    @app.exception_handler(OmbudError)
    async def _ombud_error(request: Request, exc: OmbudError) -> Response:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        if exc.status == 429 and isinstance(exc.details, dict) and "retry_after" in exc.details:
            headers = {"Retry-After": str(exc.details["retry_after"])}
        if exc.status >= 500:
            log.error("%s: %s", exc.code, exc.message)
        return error_response(request, exc.status, exc.code, exc.message, exc.details, headers)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> Response:
        details = _validation_details(exc)
        if any(item["type"] == "json_invalid" for item in details):
            return error_response(
                request, 400, "malformed_json", "the request body is not valid JSON", details
            )
        fields = ", ".join(sorted({item["field"] for item in details}))
        return error_response(request, 422, "invalid_input", f"check these fields: {fields}", details)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        code = _HTTP_CODES.get(exc.status_code, "http_error")
        message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
        return error_response(
            request, exc.status_code, code, message, None, dict(exc.headers) if exc.headers else None
        )

    @app.exception_handler(OperationalError)
    async def _database_error(request: Request, exc: OperationalError) -> Response:
        # Waiting for a lock too long (SQLite's busy timeout under a write flood, a PostgreSQL lock
        # timeout or deadlock) is temporary: nothing was written, and the same request can be sent again.
        if is_busy(exc):
            log.warning("database busy on %s %s: %s", request.method, request.url.path, exc.orig)
            return error_response(
                request,
                503,
                "database_busy",
                "the database is busy with other writes; nothing was changed, send the request again",
                None,
                {"Retry-After": "2"},
            )
        return await _unexpected(request, exc)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return error_response(
            request,
            500,
            "internal_error",
            "something went wrong on our side. Try again, and tell the administrator if it keeps happening",
        )
