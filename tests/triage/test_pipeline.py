"""The triage pipeline on messages customers really send: behaviour, not benchmark numbers."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest

from ombud.errors import ConfigurationError
from ombud.triage.engine import Models, Triage
from ombud.triage.pipeline import Context, Doc, OpenTicket, Pipeline


@pytest.fixture(scope="module")
def engine() -> Triage:
    return Triage(Models())


def one(engine: Triage, text: str, context: Context | None = None) -> dict[str, Any]:
    return engine.analyze([(text, context or Context())])[0]


def test_a_two_concern_message_yields_two_concerns_with_their_intents(engine: Triage) -> None:
    result = one(
        engine, "Hi, I was charged twice for my order. Also, the parcel is late and I need it by Friday!"
    )
    assert [c["intents"][0]["label"] for c in result["concerns"]] == ["charge_dispute", "delivery_late"]
    assert result["concerns"][1]["text"] == "the parcel is late and I need it by Friday!"  # her own words
    assert not result["out_of_scope"]
    assert "deadline" in result["urgency"]["reasons"]
    assert all(0 < i["confidence"] <= 1 for c in result["concerns"] for i in c["intents"])


def test_third_time_declined_scores_high_frustration(engine: Triage) -> None:
    angry = one(engine, "this is the third time my card was declined!!!")
    calm = one(engine, "My card was declined, could you check why?")
    assert angry["frustration"] >= 0.6
    assert calm["frustration"] < 0.3
    reasons = {r["reason"] for r in angry["explanations"]["frustration"]}
    assert {"repeated_contact", "shouting"} <= reasons


def test_history_raises_frustration_and_brings_unspoken_concerns(engine: Triage) -> None:
    text = "My card was declined, could you check why?"
    history = Context(
        ticket_id=9,
        contacts_30d=4,
        open_tickets=[OpenTicket(id=7, subject="Refund for the kettle", status="pending")],
        recent_intents=[(5, "payment_failed")],
        waiting_minutes=30 * 60,
    )
    plain, known = one(engine, text), one(engine, text, history)
    assert known["frustration"] > plain["frustration"] + 0.3
    unspoken = [u["concern"] for u in known["unspoken"]]
    assert any("#7" in u for u in unspoken)
    assert any("did not solve it" in u for u in unspoken)
    assert any("apology" in u for u in unspoken)


def test_threats_to_leave_or_go_legal_count(engine: Triage) -> None:
    result = one(engine, "Fix this or I am closing my account and talking to my lawyer.")
    reasons = {r["reason"] for r in result["explanations"]["frustration"]}
    assert {"leave_threat", "legal_threat"} <= reasons
    assert "legal_threat" in result["urgency"]["reasons"]


def test_abuse_at_the_agent_is_flagged_and_the_concern_still_read(engine: Triage) -> None:
    result = one(engine, "You are useless idiots. I can't log in to my account!")
    assert result["abusive"] is True
    assert result["concerns"][-1]["intents"][0]["label"] == "account_access"
    swearing_about_a_thing = one(engine, "This damn card got declined again")
    assert swearing_about_a_thing["abusive"] is False


def test_safety_is_urgent_and_a_thank_you_is_low(engine: Triage) -> None:
    smoke = one(engine, "The heater you sent me is smoking and smells of burning")
    assert smoke["urgency"] == {"level": "urgent", "reasons": ["safety"]}
    thanks = one(engine, "Thank you, great service!")
    assert thanks["urgency"]["level"] == "low"
    assert thanks["sentiment"] > 0.5
    assert thanks["concerns"][0]["intents"][0]["label"] == "praise"


def test_language_and_out_of_scope(engine: Triage) -> None:
    assert (
        one(engine, "Hallo, meine Bestellung ist noch nicht angekommen und ich warte seit Wochen")["language"]
        == "de"
    )
    assert one(engine, "Hola, mi pedido no ha llegado todavía y necesito ayuda")["language"] == "es"
    assert one(engine, "What is the capital of France?")["out_of_scope"] is True


def test_entities_are_masked_in_every_answer(engine: Triage) -> None:
    result = one(engine, "I was charged twice on card 4111 1111 1111 1111 for order #A12345")
    assert "4111 1111 1111 1111" not in str(result)
    assert {"type": "card_number", "value": "•••• 1111"}.items() <= result["entities"][0].items()


def test_each_answer_says_why(engine: Triage) -> None:
    result = one(engine, "Where is my refund? I returned the jacket two weeks ago.")
    why = result["explanations"]["concerns"][0]
    assert why["cue_words"]
    assert why["examples"]
    assert "refund" in " ".join(why["cue_words"])


def test_a_batch_gives_the_same_answers_as_one_at_a_time(engine: Triage) -> None:
    texts = [
        "my card got declined again!!",
        "Where is my parcel? It was due yesterday.",
        "Please close my account, I am moving to another shop.",
    ]
    batch = engine.analyze([(t, Context()) for t in texts])
    assert batch == [one(engine, t) for t in texts]


class _NeedsUrgency:
    name: ClassVar[str] = "needs"
    requires: ClassVar[tuple[str, ...]] = ("urgency",)
    assigns: ClassVar[tuple[str, ...]] = ()

    def predict(self, docs: Any) -> list[Any]:
        return []

    def set_annotations(self, docs: list[Doc], results: list[Any]) -> None:
        return None


def test_a_component_whose_requirement_comes_later_is_refused() -> None:
    with pytest.raises(ConfigurationError) as caught:
        Pipeline([_NeedsUrgency()])
    assert caught.value.code == "triage_pipeline_order"
    with pytest.raises(ConfigurationError):
        Pipeline.build(["language", "no-such-component"], Models())


def test_the_shipped_builtin_intents_were_trained_from_the_current_definitions() -> None:
    from ombud.triage import data
    from ombud.triage.classifier import data_hash
    from ombud.triage.engine import builtin_definitions, builtin_intent_model

    definitions = data.from_definitions(builtin_definitions(), where="default-intents.json")
    shipped = builtin_intent_model().metadata_
    assert shipped["data"]["sha256"] == data_hash(definitions.texts, definitions.labels), (
        "default-intents.json changed: run scripts/train_shipped_models.py"
    )
    assert shipped["implies"] == definitions.implies


def test_a_customer_about_to_leave_and_go_public_is_high_urgency(engine: Triage) -> None:
    result = one(
        engine,
        "This is the third time I'm writing. The router STILL drops the connection every evening. "
        "If this isn't fixed this week I'm cancelling and I'll post about it everywhere.",
    )
    reasons = {r["reason"] for r in result["explanations"]["frustration"]}
    assert {"repeated_contact", "leave_threat", "public_threat"} <= reasons
    assert result["frustration"] >= 0.8
    assert result["urgency"]["level"] in {"high", "urgent"}
    cancel_an_order = one(engine, "Please cancel my order, I ordered by mistake")
    assert cancel_an_order["frustration"] == 0.0


def test_the_shipped_models_share_one_vocabulary_so_features_are_computed_once() -> None:
    from ombud.triage.classifier import transform

    models = Models()
    emotion, sentiment, abuse = (models.shipped(task) for task in ("emotion", "sentiment", "abuse"))
    assert emotion.vectorizers_ is sentiment.vectorizers_ is abuse.vectorizers_
    texts = ["my card was declined again", "thanks a lot"]
    first = transform(emotion.vectorizers_[1], texts)
    assert transform(abuse.vectorizers_[1], texts) is first  # reused, not recomputed
    assert (transform(emotion.vectorizers_[1], [*texts, "x"])[:2] != first).nnz == 0
