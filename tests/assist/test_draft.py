"""The drafter: a reply that passes its own check, varies its acknowledgement, answers each concern from
its article, and falls back to the template whenever the optional model fails."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from ombud.assist.check import check_reply
from ombud.assist.draft import draft_reply, restate
from ombud.assist.schemas import History
from ombud.knowledge.assistant import AssistantConfig
from tests.assist.conftest import Endpoint, angry, calm, refund

TODAY = dt.date(2025, 6, 2)


def test_angry_multi_concern_draft_answers_each_concern_and_passes_its_own_check() -> None:
    context = angry()
    draft = draft_reply(context, today=TODAY)
    assert draft.source == "template"
    assert draft.text.startswith("Hi María,\n\n")
    assert draft.text.endswith("Best wishes,\nSam")
    assert draft.article_ids == [11, 12]
    answered = {p.concern_index: p.article_id for p in draft.paragraphs if p.concern_index is not None}
    assert answered == {1: 11, 2: 12}  # "third time writing" is answered by the acknowledgement
    assert "/help/refunds" in draft.text and "/help/when-will-my-new-card-arrive" in draft.text
    assert "10 working days" in draft.text  # the card article's best passage, extracted
    assert "Delivery" not in draft.text  # headings are not sentences
    assert "since 2018" in draft.text  # a long-time customer
    assert "more than once" in draft.text or "isn't the first time" in draft.text or "again" in draft.text
    result = check_reply(draft.text, context)
    assert [f.code for f in result.findings if f.severity == "warning"] == []


def test_calm_customer_gets_no_acknowledgement() -> None:
    draft = draft_reply(calm(), today=TODAY)
    assert draft.text.startswith("Hi Tom,\n\nYou can change your PIN at any cash machine")
    assert "sorry" not in draft.text.lower()
    assert draft.text.endswith("Best wishes,\nPriya")
    assert check_reply(draft.text, calm()).findings == []


def test_without_an_article_the_draft_restates_the_concern_and_commits_to_a_time() -> None:
    context = refund()
    draft = draft_reply(context, today=TODAY)
    body = draft.paragraphs[-2].text
    assert body.startswith(
        "You mentioned that you returned the kettle two weeks ago and still no refund for order #55821"
    )
    assert "within one working day" in body
    assert "Kettle Pro" in draft.text  # the product they own
    assert draft.article_ids == []
    assert [f.code for f in check_reply(draft.text, context).findings if f.severity == "warning"] == []


def test_acknowledgements_vary_by_ticket_but_not_between_drafts_of_one() -> None:
    openings = set()
    for ticket_id in range(1, 5):
        context = angry()
        context.ticket_id = ticket_id
        context.history = History()
        first = draft_reply(context, today=TODAY).paragraphs[0].text
        assert draft_reply(context, today=TODAY).paragraphs[0].text == first
        openings.add(first)
    assert len(openings) >= 3


def test_restating_a_concern_swaps_the_point_of_view() -> None:
    assert (
        restate("You charged me twice for my order.")
        == "You mentioned that we charged you twice for your order."
    )
    assert (
        restate("could you tell me how to change my PIN?")
        == 'You asked: "could you tell me how to change my PIN?"'
    )


def test_the_model_phrases_the_draft_from_the_facts_only(endpoint: tuple[str, Endpoint]) -> None:
    url, state = endpoint
    state.answer("Hi María,\n\nI'm sorry about this. Your refund is on its way.\n\nBest wishes,\nSam")
    draft = draft_reply(
        angry(), config=AssistantConfig(llm_url=url, llm_key="k", llm_model="local"), today=TODAY
    )
    assert draft.source == "model"
    assert draft.text.startswith("Hi María,\n\nI'm sorry about this.")
    assert draft.article_ids == [11, 12]
    request = state.requests[0]
    assert request["path"] == "/v1/chat/completions" and request["auth"] == "Bearer k"
    assert request["body"]["model"] == "local"
    system, user = (m["content"] for m in request["body"]["messages"])
    assert "ONLY the facts" in system
    assert "Customer's first name: María" in user
    assert "A duplicate charge is refunded in full" in user and "/help/refunds" in user
    assert "Has written about this before: yes" in user


@pytest.mark.parametrize(
    ("status", "reply"),
    [(500, {"error": "down"}), (200, {"choices": []}), (200, {"choices": [{"message": {"content": " "}}]})],
)
def test_a_failing_model_falls_back_to_the_template(
    endpoint: tuple[str, Endpoint], status: int, reply: Any
) -> None:
    url, state = endpoint
    state.status, state.reply = status, reply
    draft = draft_reply(calm(), config=AssistantConfig(llm_url=url), today=TODAY)
    assert draft.source == "template"
    assert "You can change your PIN at any cash machine" in draft.text


def test_an_unreachable_model_falls_back_too() -> None:
    config = AssistantConfig(llm_url="http://127.0.0.1:9/v1", llm_timeout=2.0)
    assert draft_reply(calm(), config=config, today=TODAY).source == "template"
