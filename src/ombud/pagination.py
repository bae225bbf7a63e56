"""Opaque cursors for keyset pagination: the client passes back what it was given, nothing else."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from typing import Any

from ombud.errors import InvalidInput


def encode_cursor(position: dict[str, Any]) -> str:
    raw = json.dumps(position, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


MAX_ID = 2**63 - 1
# The times a cursor may carry: what a database column holds on every backend, with room for time zones.
MIN_TIME = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
MAX_TIME = dt.datetime(9000, 1, 1, tzinfo=dt.UTC)


def damaged() -> InvalidInput:
    return InvalidInput("the cursor is damaged; start again without it", code="invalid_cursor")


def cursor_id(position: dict[str, Any], key: str = "id") -> int:
    """Return ``position[key]`` as a row id (1..2**63-1), or raise InvalidInput(invalid_cursor)."""
    value = position.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_ID:
        raise damaged()
    return value


def cursor_time(position: dict[str, Any], key: str = "at") -> dt.datetime:
    """Return ``position[key]`` as an aware UTC time the database can store, or raise invalid_cursor."""
    try:
        value = dt.datetime.fromisoformat(str(position.get(key)))
        if value.tzinfo is None:
            raise damaged()
        value = value.astimezone(dt.UTC)
    except (ValueError, OverflowError):
        raise damaged() from None
    if not MIN_TIME <= value <= MAX_TIME:
        raise damaged()
    return value


def decode_cursor(cursor: str, *, required: tuple[str, ...]) -> dict[str, Any]:
    """Return the position inside ``cursor`` or raise InvalidInput(invalid_cursor)."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        position = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    except (binascii.Error, ValueError, UnicodeError):
        position = None
    if not isinstance(position, dict) or any(key not in position for key in required):
        raise InvalidInput(
            "the cursor is not one this API gave out; pass next_cursor from the previous page unchanged",
            code="invalid_cursor",
        )
    return position
