"""Splitting messages into concerns and finding entities: examples a service desk sees, and properties
that must hold for any text."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ombud.triage import entities, text


def test_a_two_concern_email_splits_in_two_and_drops_the_greeting_and_sign_off() -> None:
    message = (
        "Hi there,\n\nI was charged twice for my order and I also want to know when my refund arrives.\n\n"
        "Kind regards\nAnn Jones"
    )
    assert [s.text for s in text.segments(message)] == [
        "I was charged twice for my order",
        "I also want to know when my refund arrives.",
    ]


def test_segments_point_back_into_the_message() -> None:
    message = "Hello! My card got declined, also my pin is blocked. Thanks"
    for segment in text.segments(message):
        assert message[segment.start : segment.start + len(segment.text)] == segment.text


def test_pleasantries_alone_are_no_concern() -> None:
    assert text.segments("Thank you so much!") == []
    assert text.segments("Hi") == []


def test_short_chat_lines_merge_into_one_sentence() -> None:
    lines = ["hi", "my card", "it got declined at the shop", "can you help?"]
    assert text.merge_chat_lines(lines) == "hi my card it got declined at the shop can you help?"
    assert text.merge_chat_lines(["Where is my parcel?", "Also my invoice is wrong."]) == (
        "Where is my parcel?\nAlso my invoice is wrong."
    )


def test_quoted_reply_history_is_not_triaged_again() -> None:
    body = "Still nothing arrived.\n\nOn Mon, 3 Mar 2025 at 10:00, Support <help@shop.test> wrote:\n> Sorry"
    assert text.strip_quoted(body) == "Still nothing arrived."
    assert text.strip_quoted("New line\n> old line\n>> older") == "New line"


@given(st.text(max_size=400))
def test_segments_never_fail_and_stay_inside_the_text(message: str) -> None:
    for segment in text.segments(message):
        assert segment.text.strip() == segment.text
        assert segment.text
        assert 0 <= segment.start < max(len(message), 1)


def test_entities_of_a_realistic_complaint() -> None:
    message = (
        "Order #123456 (ORD-99812) was charged $49.99 twice on 12/03/2025 with card 4111 1111 1111 1111. "
        "Call me on +44 20 7946 0958 or write to ann@example.com. "
        "Refund 1.234,50 EUR by Friday for the Kettle Pro."
    )
    found = {(e.type, e.value) for e in entities.extract(message, catalogue=["Kettle Pro"])}
    assert ("order_number", "123456") in found
    assert ("order_number", "ORD-99812") in found
    assert ("amount", "$49.99") in found
    assert ("date", "12/03/2025") in found
    assert ("card_number", "•••• 1111") in found
    assert ("phone", "+44 20 7946 0958") in found
    assert ("email", "ann@example.com") in found
    assert ("date", "by Friday") in found
    assert ("product", "Kettle Pro") in found
    amounts = [e for e in entities.extract(message) if e.type == "amount"]
    assert [(a.currency, a.amount) for a in amounts] == [("USD", 49.99), ("EUR", 1234.5)]


def test_card_and_account_numbers_are_masked_everywhere() -> None:
    message = "Card 4111-1111-1111-1111 and IBAN DE89 3704 0044 0532 0130 00, account number 12345678."
    redacted = entities.redact(message)
    assert "4111-1111-1111-1111" not in redacted
    assert "3704 0044" not in redacted
    assert "12345678" not in redacted
    assert redacted.count("••••") == 3
    # A long number that fails the Luhn check is not a card (an order or tracking number, say).
    assert not [e for e in entities.extract("tracking 4111111111111112") if e.type == "card_number"]


_CARD = re.compile(r"\d{4}[ -]?\d{4}[ -]?\d{4}[ -]?\d{4}")


@given(
    st.text(max_size=200), st.sampled_from(["4111111111111111", "5500 0000 0000 0004", "4012-8888-8888-1881"])
)
def test_no_valid_card_number_survives_redaction(noise: str, card: str) -> None:
    message = f"{noise} {card} {noise}"
    assert card not in entities.redact(message)


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("The parcel arrived today. Thanks but the box was damaged", 2),
        ("My order is late. Thanks, also where is my refund", 2),
        ("I was charged twice. Best way to reach you is my phone", 2),
        ("Where is my refund?\nThanks\nAnn", 1),
        ("Where is my parcel? Regards, Ann Lee", 1),
    ],
)
def test_a_sign_off_ends_the_message_but_thanks_inside_a_sentence_does_not(
    message: str, expected: int
) -> None:
    assert len(text.segments(message)) == expected


def test_padding_and_long_runs_are_read_without_stalling() -> None:
    # Each of these took from seconds to minutes before the patterns were made linear.
    for message in ("a" + " " * 20_000 + "b", "\t" * 20_000, ", " * 10_000, "x and " * 4_000, "1.1." * 5_000):
        text.segments(message)
        entities.extract(message)


@pytest.mark.parametrize(
    "message",
    [
        "card 4111\u00a01111\u00a01111\u00a01111",
        "card 4111.1111.1111.1111",
        "card 4111  1111  1111  1111",
        "amex 3782\u00a0822463\u00a010005",
        "acct 1234567890123",
        "iban gb82 west 1234 5698 7654 32",
    ],
)
def test_pasted_card_and_account_numbers_are_masked(message: str) -> None:
    digits = "".join(c for c in message if c.isdigit())
    redacted = entities.redact(message)
    assert "••••" in redacted
    assert digits not in "".join(c for c in redacted if c.isdigit())


def test_odd_amounts_never_fail() -> None:
    assert entities.extract("Je paie 1\u00a0234 € par mois")
    entities.extract("paid 10 u\u017fd and 5\t000 eur")
