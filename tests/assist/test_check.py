"""The reply check on realistic replies: good ones raise no warnings, bad ones exactly the expected codes."""

from __future__ import annotations

from dataclasses import dataclass

from ombud.assist.check import check_reply
from ombud.assist.schemas import CheckResult, ReplyContext
from tests.assist.conftest import angry, calm, refund


@dataclass
class Term:
    term: str
    plain: str


@dataclass
class Rule:
    avoid: str
    prefer: str = ""
    note: str = ""


def warnings(result: CheckResult) -> list[str]:
    return [f.code for f in result.findings if f.severity == "warning"]


def check(text: str, context: ReplyContext, **kwargs: object) -> CheckResult:
    return check_reply(text, context, **kwargs)  # type: ignore[arg-type]


GOOD_ANGRY = """Hi María,

I'm sorry you've had to write to us three times about this; that's not the experience we want you to have.

I've refunded the duplicate charge of $45.00 for order A-10293 today. It will be back on your card within \
3 working days.

Your new card was posted last week. If it has not arrived by Friday, reply here and I'll send a \
replacement free of charge that same day.

Best wishes,
Sam"""

GOOD_CALM = """Hi Tom,

You can change your PIN at any cash machine: choose PIN services and follow the steps. The new PIN works \
straight away.

Best wishes,
Priya"""

GOOD_REFUND = """Hi Anna,

I'm sorry your refund for order #55821 has taken this long; I can see how disappointing that is. The \
refund for your Kettle Pro was approved today. It will be back on your card within 5 working days.

Best wishes,
Sam"""


def test_good_replies_raise_no_warnings() -> None:
    for text, context in ((GOOD_ANGRY, angry()), (GOOD_CALM, calm()), (GOOD_REFUND, refund())):
        result = check(text, context)
        assert result.findings == [], (text, result.findings)
        assert result.grade is not None and result.grade <= 9


def test_negative_phrasing_is_rewritten_into_the_positive() -> None:
    text = (
        "Hi Tom,\n\nUnfortunately we can't change your PIN until you visit a cash machine. You can change it "
        "there under PIN services.\n\nBest wishes,\nPriya"
    )
    result = check(text, calm())
    assert warnings(result) == ["negative_phrasing", "negative_phrasing"]
    unfortunately, cant = result.findings
    assert unfortunately.excerpt == "Unfortunately"
    assert cant.suggestion == "we can change your PIN as soon as you visit a cash machine"
    assert text[cant.start : cant.end] == cant.excerpt  # type: ignore[index]
    assert "what you can do" in cant.message


def test_blaming_the_customer_is_negative_phrasing() -> None:
    text = (
        "Hi Tom,\n\nYou failed to choose PIN services, and as I said, you should have read the steps. You "
        "can change your PIN at any cash machine.\n\nBest wishes,\nPriya"
    )
    result = check(text, calm())
    assert warnings(result) == ["negative_phrasing"] * 3
    assert result.findings[0].suggestion == "Could you please choose PIN services?"


def test_jargon_heavy_reply() -> None:
    text = (
        "Hi Tom,\n\nI've escalated your ticket to L2 because the PIN_RESET flow in PinService returns error "
        "E4711. You can change your PIN at any cash machine in the meantime.\n\nBest wishes,\nPriya"
    )
    result = check(text, calm())
    assert set(warnings(result)) == {"jargon"}
    flagged = {f.excerpt: f.suggestion for f in result.findings}
    assert flagged["escalated"] == "passed to a specialist"
    assert flagged["ticket"] == "request"
    assert flagged["L2"] == "our specialist team"
    assert {"PIN_RESET", "PinService", "error E4711"} <= set(flagged)


def test_glossary_terms_and_acronyms_are_flagged_unless_the_customer_used_them() -> None:
    context = calm()
    context.customer_text += " Is this on my Flex plan?"
    text = (
        "Hi Tom,\n\nYour Flex plan includes PIN changes, and your DDA covers the card. You can change "
        "your PIN at any cash machine.\n\nBest wishes,\nPriya"
    )
    glossary = [Term("Flex plan", "monthly plan"), Term("DDA", "direct debit agreement")]
    result = check(text, context, glossary=glossary)
    assert [(f.code, f.excerpt, f.suggestion) for f in result.findings] == [
        ("jargon", "DDA", "direct debit agreement")
    ]
    unknown = check(text.replace("DDA", "KYC"), context, glossary=glossary)
    assert [(f.excerpt, f.code) for f in unknown.findings] == [("KYC", "jargon")]
    explained = check(text.replace("DDA", "KYC (know your customer) check"), context)
    assert explained.findings == []


def test_promise_without_a_date() -> None:
    text = (
        "Hi Anna,\n\nI'm sorry about the wait for your refund on order #55821. We'll get back to you soon "
        "about it.\n\nBest wishes,\nSam"
    )
    result = check(text, refund())
    assert warnings(result) == ["promise_without_date"]
    assert result.findings[0].excerpt == "soon"
    dated = text.replace("soon about it", "about it by Thursday")
    assert check(dated, refund()).findings == []
    conditional = check(
        "Hi Anna,\n\nI'm sorry about the wait. We will refund order #55821 as soon as the kettle reaches our "
        "warehouse.\n\nBest wishes,\nSam",
        refund(),
    )
    assert conditional.findings == []


def test_wrong_name_and_wrong_details() -> None:
    text = (
        "Hi Hannah,\n\nI'm sorry for the wait. The refund of £30.00 for order #55812 was approved today and "
        "will reach your card within 5 working days.\n\nBest wishes,\nSam"
    )
    result = check(text, refund())
    assert warnings(result) == ["wrong_name", "wrong_detail", "wrong_detail"]
    name, amount, order = result.findings
    assert name.suggestion == "Anna" and name.excerpt == "Hannah"
    assert amount.excerpt == "£30.00"
    assert order.excerpt == "55812" and order.suggestion == "55821"


def test_a_greeting_without_the_name_is_only_info() -> None:
    result = check(GOOD_CALM.replace("Hi Tom,", "Hello there,"), calm())
    assert [(f.code, f.severity, f.suggestion) for f in result.findings] == [
        ("wrong_name", "info", "Hi Tom,")
    ]
    accented = check(GOOD_ANGRY.replace("María", "Maria"), angry())
    assert accented.findings == []


def test_an_upset_customer_needs_an_acknowledgement() -> None:
    text = (
        "Hi María,\n\nThe duplicate charge of $45.00 for order A-10293 is refunded today and reaches your "
        "card within 3 working days. Your new card was posted last week; if it has not arrived by Friday, "
        "reply here and I'll send a replacement. You have written three times, so I have handled this "
        "myself.\n\nBest wishes,\nSam"
    )
    result = check(text, angry())
    assert warnings(result) == ["empathy_missing"]
    assert result.findings[0].start is None and "frustrated" in result.findings[0].message
    calm_reply = check(GOOD_CALM, calm())
    assert calm_reply.findings == []  # a weak "anger" on a calm question needs no apology


def test_each_concern_must_be_answered() -> None:
    text = (
        "Hi María,\n\nI'm sorry you've had to write to us three times about this. I've refunded the "
        "duplicate charge of $45.00 for order A-10293 today; it will be back on your card within 3 working "
        "days.\n\n"
        "Best wishes,\nSam"
    )
    result = check(text, angry())
    assert warnings(result) == ["concern_unaddressed"]
    assert "card still hasn't arrived" in result.findings[0].message
    assert "When will my new card arrive?" in (result.findings[0].suggestion or "")


def test_the_style_guide() -> None:
    voice = [Rule("valued customer", "you", "We talk to people, not categories."), Rule("revert", "reply")]
    text = GOOD_CALM.replace("Best wishes", "As a valued customer, please revert if needed.\n\nBest wishes")
    result = check(text, calm(), voice=voice)
    assert [(f.code, f.excerpt, f.suggestion) for f in result.findings] == [
        ("voice_avoid", "valued customer", "you"),
        ("voice_avoid", "revert", "reply"),
    ]
    assert "not categories" in result.findings[0].message


def test_readability_is_graded_and_hard_text_flagged() -> None:
    text = (
        "Hi Tom,\n\nNotwithstanding the aforementioned operational considerations, personal identification "
        "number modifications are accomplishable exclusively through authorised automated teller machine "
        "infrastructure, whereupon the cardholder's selection of the appropriate administrative "
        "functionality facilitates the immediate implementation of the replacement credentials.\n\n"
        "Best wishes,\nPriya"
    )
    result = check(text, calm())
    assert "readability" in warnings(result)
    finding = next(f for f in result.findings if f.code == "readability")
    assert result.grade is not None and result.grade > 9 and f"{result.grade:g}" in finding.message
    assert finding.excerpt.startswith("Notwithstanding")


def test_finding_ids_survive_more_typing_so_dismissals_stick() -> None:
    first = check("Hi Tom, unfortunately", calm())
    later = check(
        "Hi Tom, unfortunately that takes a moment. You can change your PIN at a cash machine.", calm()
    )
    ids = {f.id for f in first.findings if f.code == "negative_phrasing"}
    assert ids and ids <= {f.id for f in later.findings}


def test_an_empty_reply_has_no_findings() -> None:
    result = check("   ", angry())
    assert result.findings == [] and result.grade is None and result.words == 0
