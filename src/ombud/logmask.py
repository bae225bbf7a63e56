"""Log lines without personal data or credentials: a ``logging.Filter`` that masks email addresses, phone
numbers, API tokens and signing secrets in a record's message, its arguments and its traceback before any
handler writes it.

Log calls name people by id wherever they can; the filter is the net for what slips through anyway (an
envelope sender, an SMTP relay's refusal that quotes the recipient, an exception message that names an
address). ``ombud serve``, ``ombud worker`` and every other command install it on the root handlers and on
uvicorn's own (see ``install`` and ``uvicorn_log_config``).

Masked forms keep what helps an operator and drop what names a person: ``m…@example.com`` keeps the first
letter and the domain (which relay, which company), ``<phone …67>`` the last two digits, ``omb_…`` and
``whsec_…`` only the kind of credential.
"""

from __future__ import annotations

import copy
import logging
import re
from typing import Any

# Local part and domain as people and mail servers really write them; a dot or hyphen may not end a label.
_EMAIL = re.compile(
    r"(?<![\w.+-])([\w.+%'-])[\w.+%'-]*@((?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)+[A-Za-z]{2,63})\b"
)
# A phone number: an optional + or 00, then digits with spaces, hyphens, slashes or brackets between them.
# Candidates are checked in _mask_phone (7 to 15 digits; not a date; a bare digit run only when it starts
# with + or 0, so ids, counts and Unix times are left alone). Never next to a word character, a colon or a
# dot between digits, so version numbers, IP addresses and clock times do not match.
_PHONE = re.compile(r"(?<![\w.:/+-])(\+|00)?(\(?\d[\d \-/()]{5,22}\d)(?![\w:/-]|\.\d)")
_DATE = re.compile(r"\d{4}[-/]\d{1,2}[-/]\d{1,2}")
# Credentials ombud issues: API tokens (omb_), webhook secrets (whsec_); both prefixed so they can be found.
_CREDENTIAL = re.compile(r"\b(omb_|whsec_)[A-Za-z0-9_-]{8,}")
# Links whose path is the secret (a portal sign-in link, a survey link): uvicorn's access log shows paths.
_LINK_TOKEN = re.compile(r"(/portal/login/|/surveys?/)[A-Za-z0-9_-]{16,}")


def _mask_email(match: re.Match[str]) -> str:
    return f"{match.group(1)}…@{match.group(2)}"


def _mask_phone(match: re.Match[str]) -> str:
    prefix, body = match.group(1) or "", match.group(2)
    digits = re.sub(r"\D", "", body)
    if not 7 <= len(prefix.strip("+")) + len(digits) <= 15 or _DATE.fullmatch(body.strip()):
        return match.group(0)
    if not prefix and body.isdigit() and not body.startswith("0"):
        return match.group(0)
    return f"<phone …{digits[-2:]}>"


def mask(text: str) -> str:
    """Return ``text`` with email addresses, phone numbers, API tokens, webhook secrets and the secret part
    of sign-in and survey links masked."""
    text = _CREDENTIAL.sub(lambda match: f"{match.group(1)}…", text)
    text = _LINK_TOKEN.sub(lambda match: f"{match.group(1)}…", text)
    text = _EMAIL.sub(_mask_email, text)
    return _PHONE.sub(_mask_phone, text)


class _Masked:
    """An argument that is not a string or a number, shown masked by %s and %r."""

    def __init__(self, value: object) -> None:
        self.value = value

    def __str__(self) -> str:
        return mask(str(self.value))

    def __repr__(self) -> str:
        return mask(repr(self.value))


def _mask_arg(value: object) -> object:
    if isinstance(value, str):
        return mask(value)
    if value is None or isinstance(value, (bool, int, float)):
        return value
    return _Masked(value)


# ``log.warning(..., extra={UNMASKED: True})``: the filter leaves this record as it is.
UNMASKED = "ombud_unmasked"


class PiiFilter(logging.Filter):
    """Masks the record in place (the message, each argument, the traceback, the stack) and lets it
    through: every handler after this one writes the masked text. Arguments stay arguments, so formatters
    that read them (uvicorn's access log) still work."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, UNMASKED, False):
            return True  # a line meant to show what it shows (the demo's sign-in links), never on by default
        if isinstance(record.msg, str):
            record.msg = mask(record.msg)
        else:
            record.msg = _Masked(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_mask_arg(arg) for arg in record.args)
        elif isinstance(record.args, dict):
            record.args = {key: _mask_arg(value) for key, value in record.args.items()}
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask(record.exc_text)
        if record.stack_info:
            record.stack_info = mask(record.stack_info)
        return True


def install(logger: logging.Logger | None = None, *, handlers: list[logging.Handler] | None = None) -> None:
    """Add the filter to ``handlers`` (default: every handler of ``logger``, the root logger by default),
    once each."""
    for handler in handlers if handlers is not None else (logger or logging.getLogger()).handlers:
        if not any(isinstance(existing, PiiFilter) for existing in handler.filters):
            handler.addFilter(PiiFilter())


def uvicorn_log_config(base: dict[str, Any]) -> dict[str, Any]:
    """Return uvicorn's logging configuration ``base`` with the filter on each of its handlers (uvicorn's
    loggers do not propagate to the root's handlers, and its access log carries paths and addresses)."""
    config = copy.deepcopy(base)
    config.setdefault("filters", {})["mask_pii"] = {"()": PiiFilter}
    for handler in config.get("handlers", {}).values():
        handler["filters"] = [*handler.get("filters", []), "mask_pii"]
    return config
