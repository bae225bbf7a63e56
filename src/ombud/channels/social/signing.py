"""The signature both directions use: HMAC-SHA256 over "<unix timestamp>.<raw body>" with the endpoint's
secret, sent as ``X-Ombud-Timestamp`` and ``X-Ombud-Signature: sha256=<hex>`` (the scheme Stripe and
Slack use: the timestamp inside the signed bytes makes an old request useless to replay)."""

from __future__ import annotations

import hashlib
import hmac
import re

TIMESTAMP_HEADER = "X-Ombud-Timestamp"
SIGNATURE_HEADER = "X-Ombud-Signature"
TOLERANCE_SECONDS = 300
_DIGITS = re.compile(r"[0-9]{1,12}")  # ASCII only: str.isdigit() also takes "²", which int() refuses


def sign(secret: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def signature_problem(
    secret: str, timestamp: str | None, signature: str | None, body: bytes, now: float
) -> str:
    """Return why the request is not authentic ("" when it is)."""
    if not timestamp or not signature:
        return f"the request needs the {TIMESTAMP_HEADER} and {SIGNATURE_HEADER} headers"
    if not _DIGITS.fullmatch(timestamp):
        return f"{TIMESTAMP_HEADER} must be Unix time in seconds"
    if abs(now - int(timestamp)) > TOLERANCE_SECONDS:
        return f"{TIMESTAMP_HEADER} is over {TOLERANCE_SECONDS} s from our clock: a replay, or a clock to fix"
    given = signature.strip().encode("ascii", "replace")  # a header is Latin-1: compare bytes, never str
    if not hmac.compare_digest(sign(secret, int(timestamp), body).encode(), given):
        return f"{SIGNATURE_HEADER} does not match the body signed with this endpoint's secret"
    return ""
