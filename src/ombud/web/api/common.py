"""Small pieces shared by the API routers."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import Path
from pydantic import BaseModel, ConfigDict

IdPath = Annotated[int, Path(ge=1, le=2**63 - 1)]


class AuditEventPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    created_at: dt.datetime
    actor_type: str
    actor_id: int | None
    action: str
    entity_type: str
    entity_id: int
    ticket_id: int | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None


class ErrorBody(BaseModel):
    code: str
    message: str
    details: Any = None


class ErrorEnvelope(BaseModel):
    """Every error the API returns."""

    error: ErrorBody


def _error(description: str) -> dict[str, Any]:
    return {"model": ErrorEnvelope, "description": description}


# Declared on the whole API so the schema tells clients (and the fuzz test) the real error shape; a
# declared 422 also replaces FastAPI's default {"detail": [...]} one.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: _error("Malformed request (e.g. the body is not JSON)."),
    401: _error("No token, or an unknown or revoked one."),
    403: _error("The caller's role may not do this."),
    404: _error("Not found, or not visible to the caller."),
    409: _error("Conflicts with the current state (e.g. a closed ticket)."),
    413: _error("The body or an attachment is over the limit."),
    422: _error("Invalid input; details name each field."),
    429: _error("Too many requests; Retry-After says when to try again."),
}
