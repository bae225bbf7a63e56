"""The one exception tree of ombud.

    OmbudError                      code, status, message, details
    ├── InvalidInput        400/422 bad input the caller can fix (invalid_input, invalid_cursor, ...)
    ├── Unauthorized        401     no or unknown credentials
    ├── Forbidden           403     a known caller whose role may not do this
    ├── NotFound            404     the thing does not exist (or is not visible to the caller)
    ├── Conflict            409     the request clashes with the current state (closed ticket, duplicate)
    ├── PayloadTooLarge     413     an attachment or body over the configured limit
    ├── TooManyRequests     429     the caller sent too much too fast (details: retry_after seconds)
    └── ConfigurationError  --      a setting or the database is not usable; the CLI prints it and exits

Every error carries a stable ``code`` (part of the API contract) and a message that says what to fix.
The web layer renders them as ``{"error": {"code", "message", "details"}}``; the CLI prints the message
and exits non-zero.
"""

from __future__ import annotations

from typing import Any


class OmbudError(Exception):
    """Base of every error ombud raises on purpose."""

    status: int = 400
    code: str = "error"

    def __init__(self, message: str, *, code: str | None = None, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.details = details


class InvalidInput(OmbudError):
    status = 422
    code = "invalid_input"


class Unauthorized(OmbudError):
    status = 401
    code = "unauthorized"


class Forbidden(OmbudError):
    status = 403
    code = "forbidden"


class NotFound(OmbudError):
    status = 404
    code = "not_found"


class Conflict(OmbudError):
    status = 409
    code = "conflict"


class PayloadTooLarge(OmbudError):
    status = 413
    code = "payload_too_large"


class TooManyRequests(OmbudError):
    status = 429
    code = "rate_limited"


class ConfigurationError(OmbudError):
    status = 500
    code = "configuration_error"
