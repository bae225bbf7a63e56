"""Pure functions and Pydantic types that turn untrusted input into clean values or raise InvalidInput.

Text from customers reaches two databases that each reject something different: PostgreSQL refuses NUL
characters, and neither can store a lone UTF-16 surrogate (which JSON allows as "\\ud800"). Both are
rejected here with a clear error instead of failing deep in the driver.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

import phonenumbers
from pydantic import AfterValidator, StringConstraints

from ombud.errors import InvalidInput

_EMAIL = re.compile(
    r"^[^@\s<>()\[\],;:\"]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?)*$"
)
_PHONE_NOISE = re.compile(r"[\s().\-/]")
_HANDLE = re.compile(r"^\S{1,200}$")
_VISITOR = re.compile(r"^[A-Za-z0-9_.:\-]{1,100}$")
_SURROGATE = re.compile("[\ud800-\udfff]")


def check_text(value: str) -> str:
    """Return ``value`` unchanged if a database can store it, else raise ValueError saying why."""
    if "\x00" in value:
        raise ValueError("text must not contain NUL (\\u0000) characters")
    if _SURROGATE.search(value):
        raise ValueError("text must not contain unpaired UTF-16 surrogates")
    return value


MAX_JSON_DEPTH = 8


def check_json(value: Any, depth: int = 0) -> Any:
    """Return a JSON document unchanged if every key and string is storable and it nests at most
    MAX_JSON_DEPTH levels (deeper documents cannot be shown back); else raise ValueError."""
    if depth > MAX_JSON_DEPTH:
        raise ValueError(f"nests deeper than {MAX_JSON_DEPTH} levels")
    if isinstance(value, str):
        check_text(value)
    elif isinstance(value, dict):
        for key, item in value.items():
            check_text(str(key))
            check_json(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            check_json(item, depth + 1)
    return value


def normalise_email(value: str) -> str:
    """Return the address trimmed and lower-cased, or raise InvalidInput."""
    address = value.strip().lower()
    if len(address) > 254 or not _EMAIL.match(address):
        raise InvalidInput(f"{value!r} is not an email address", code="invalid_email")
    return address


def normalise_phone(value: str) -> str:
    """Return the number in E.164 ("+442079460958"): one customer however the number was written.

    The number must carry its country code (+44 or 0044): without it, "030 123456" could be in any
    country, and guessing would join two strangers' timelines.
    """
    compact = _PHONE_NOISE.sub("", value.strip())
    if compact.startswith("00"):
        compact = "+" + compact[2:]
    if not compact.startswith("+") or not compact[1:].isdigit() or not compact.isascii():
        raise InvalidInput(
            f"{value!r} is not an international phone number: write it with + and the country code, "
            "for example +44 20 7946 0958",
            code="invalid_phone",
        )
    try:
        number = phonenumbers.parse(compact, None)
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_possible_number(number):
        raise InvalidInput(
            f"{value!r} is not a possible phone number: check the country code and the digits",
            code="invalid_phone",
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalise_handle(value: str) -> str:
    """Return a social handle trimmed and lower-cased ("@jane" and "@Jane " are one customer)."""
    handle = value.strip().lower()
    if not _HANDLE.match(handle):
        raise InvalidInput(f"{value!r} is not a handle: 1-200 characters, no spaces", code="invalid_handle")
    return handle


def normalise_visitor(value: str) -> str:
    visitor = value.strip()
    if not _VISITOR.match(visitor):
        raise InvalidInput(
            f"{value!r} is not a chat visitor id: 1-100 letters, digits, '_', '-', '.', ':'",
            code="invalid_visitor",
        )
    return visitor


def normalise_tag(value: str) -> str:
    tag = value.strip().lower()
    if not tag or len(tag) > 100 or any(ch.isspace() or ch == "," or not ch.isprintable() for ch in tag):
        raise InvalidInput(
            f"{value!r} is not a tag: 1-100 characters, no spaces or commas", code="invalid_tag"
        )
    return tag


# Text fields of API requests: storable, with surrounding whitespace trimmed.
CleanText = Annotated[str, AfterValidator(check_text)]
Subject = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500), AfterValidator(check_text)
]
Name = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200), AfterValidator(check_text)]
JsonDocument = Annotated[dict[str, Any], AfterValidator(check_json)]
