"""Property tests for the parsers of untrusted input: they return clean values or raise InvalidInput /
ValueError, never anything else, and a valid value survives normalisation unchanged."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ombud.errors import InvalidInput
from ombud.pagination import decode_cursor, encode_cursor
from ombud.search.service import terms
from ombud.validation import check_text, normalise_email, normalise_handle, normalise_phone, normalise_tag


@given(st.text())
def test_parsers_fail_only_with_invalid_input(value: str) -> None:
    for parse in (normalise_email, normalise_phone, normalise_handle, normalise_tag):
        try:
            result = parse(value)
        except InvalidInput as exc:
            assert exc.code.startswith("invalid_")
        else:
            assert parse(result) == result  # normalising twice changes nothing


@given(st.text())
def test_cursor_decoding_never_crashes(value: str) -> None:
    try:
        decode_cursor(value, required=("id",))
    except InvalidInput as exc:
        assert exc.code == "invalid_cursor"


@given(st.dictionaries(st.sampled_from(["id", "at", "kind"]), st.integers() | st.text()))
def test_cursor_round_trip(position: dict[str, object]) -> None:
    assert decode_cursor(encode_cursor(position), required=()) == position


@given(st.text())
def test_check_text_accepts_exactly_what_databases_store(value: str) -> None:
    try:
        assert check_text(value) == value
    except ValueError:
        assert "\x00" in value or any(0xD800 <= ord(ch) <= 0xDFFF for ch in value)
    else:
        value.encode("utf-8")


@given(st.text())
def test_search_terms_are_plain_words(value: str) -> None:
    for word in terms(value):
        assert word and all(ch.isalnum() or ch == "_" for ch in word)


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("+44 (20) 7946-0958", "+442079460958"),
        ("0049 30 123456", "+4930123456"),
        ("+1 (415) 555-0132", "+14155550132"),
        ("+49 (0)30 123456", "+4930123456"),
    ],
)
def test_phone_numbers_normalise_to_e164(raw: str, clean: str) -> None:
    assert normalise_phone(raw) == clean


@pytest.mark.parametrize("raw", ["030 123 456", "+44 12", "+999 123 456 789", "+44 20 7946 0958 ext 3"])
def test_phone_numbers_without_country_code_or_impossible_are_refused(raw: str) -> None:
    with pytest.raises(InvalidInput) as error:
        normalise_phone(raw)
    assert error.value.code == "invalid_phone"


def test_email_normalises_case_and_space() -> None:
    assert normalise_email("  Maria.Lopez@Example.COM ") == "maria.lopez@example.com"
