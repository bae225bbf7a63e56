"""The optional answer model: an OpenAI-compatible endpoint (a real HTTP server here) phrases the answer
from the retrieved passages only; when it fails, the assistant answers extractively instead."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from ombud.knowledge.assistant import AssistantConfig, compose
from ombud.knowledge.schemas import Audience
from ombud.knowledge.search import Hit
from tests.llm import Endpoint, running_endpoint

HITS = [
    Hit(
        1,
        "Changing your PIN",
        "changing-your-pin",
        Audience.public,
        0.9,
        0.9,
        0.0,
        "question",
        passage="You can change your PIN at any cash machine.",
    ),
]


@pytest.fixture
def endpoint() -> Iterator[tuple[str, Endpoint]]:
    """A real OpenAI-compatible HTTP endpoint on 127.0.0.1 that records what it was asked."""
    with running_endpoint("Change it at any cash machine [1].") as served:
        yield served


def test_the_model_phrases_the_answer_from_the_passages_only(endpoint: tuple[str, Endpoint]) -> None:
    url, state = endpoint
    config = AssistantConfig(llm_url=url, llm_key="secret", llm_model="local-model")
    answer = compose("how do I change my pin", HITS, {}, config)
    assert answer == "Change it at any cash machine [1]."
    request = state.requests[0]
    assert request["path"] == "/v1/chat/completions"
    assert request["auth"] == "Bearer secret"
    assert request["body"]["model"] == "local-model"
    prompt = request["body"]["messages"][1]["content"]
    assert "[1] Changing your PIN" in prompt and "You can change your PIN at any cash machine." in prompt
    assert "ONLY from the numbered help-article passages" in request["body"]["messages"][0]["content"]


@pytest.mark.parametrize(
    ("status", "reply"),
    [(500, {"error": "down"}), (200, {"choices": []}), (200, {"choices": [{"message": {"content": "  "}}]})],
)
def test_a_failing_model_falls_back_to_the_extractive_answer(
    endpoint: tuple[str, Endpoint], status: int, reply: Any
) -> None:
    url, state = endpoint
    state.status, state.reply = status, reply
    answer = compose("how do I change my pin", HITS, {}, AssistantConfig(llm_url=url))
    assert 'Our help article "Changing your PIN" says:' in answer
    assert "You can change your PIN at any cash machine." in answer


def test_an_unreachable_model_falls_back_too() -> None:
    config = AssistantConfig(llm_url="http://127.0.0.1:9/v1", llm_timeout=2.0)
    assert "Changing your PIN" in compose("pin", HITS, {}, config)
