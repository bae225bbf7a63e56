"""Shared contexts for the reply check and the drafter: realistic conversations as triage reads them, and
a real local HTTP server standing in for an OpenAI-compatible model."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest

from ombud.assist.schemas import Concern, History, Passage, ReplyContext
from tests.llm import Endpoint, running_endpoint

ANGRY_TEXT = (
    "This is the third time I'm writing about this!!! I was charged twice for order A-10293 and nobody has "
    "refunded the duplicate $45.00. Also my new card still hasn't arrived after two weeks. Sort it out."
)
CARD_BODY = (
    "## Delivery\nCards are posted within 2 working days and usually arrive in 3-5 working days.\n\n"
    "## Not arrived yet?\nIf your card has not arrived after 10 working days, report it as lost in the app "
    "and we will send a replacement free of charge."
)
REFUND_BODY = (
    "Refunds go back to the card you paid with. Once we have approved a refund it takes 3-5 working days "
    "to show on your statement. A duplicate charge is refunded in full as soon as we confirm it."
)
PIN_BODY = (
    "You can change your PIN at any cash machine: insert your card, choose PIN services and follow the "
    "steps. The new PIN works straight away."
)


def angry() -> ReplyContext:
    """María, frustrated, writing for the third time: a double charge (order A-10293, $45.00) and a card
    that has not arrived."""
    return ReplyContext(
        ticket_id=7,
        customer_name="María López",
        agent_name="Sam Okafor",
        concerns=[
            Concern(text="This is the third time I'm writing about this!!!", index=0),
            Concern(
                text="I was charged twice for order A-10293 and nobody has refunded the duplicate $45.00.",
                index=1,
                intents=["charge_dispute"],
            ),
            Concern(
                text="Also my new card still hasn't arrived after two weeks.",
                index=2,
                intents=["delivery_late"],
            ),
        ],
        emotion="sadness",
        emotion_score=0.36,
        frustration=0.76,
        urgency="high",
        urgency_reasons=["money_at_stake", "high_frustration"],
        entities=[
            {"type": "order_number", "value": "A-10293"},
            {"type": "amount", "value": "$45.00", "currency": "USD", "amount": 45.0},
        ],
        conversation="Charged twice\n\n" + ANGRY_TEXT,
        customer_text="Charged twice\n\n" + ANGRY_TEXT,
        suggestions={
            1: [
                Passage(
                    article_id=11, title="Refunds and duplicate charges", slug="refunds", passage=REFUND_BODY
                )
            ],
            2: [
                Passage(
                    article_id=12,
                    title="When will my new card arrive?",
                    slug="when-will-my-new-card-arrive",
                    passage=CARD_BODY,
                )
            ],
        },
        history=History(
            repeat_contact=True, customer_since=dt.datetime(2018, 3, 1, tzinfo=dt.UTC), recent_tickets=3
        ),
    )


def calm() -> ReplyContext:
    """Tom asks how to change his PIN (triage's weak "anger" label on a calm line is not upset)."""
    text = "Hi, could you tell me how to change my PIN? Thanks, Tom"
    return ReplyContext(
        ticket_id=3,
        customer_name="Tom Baker",
        agent_name="Priya Shah",
        concerns=[Concern(text="could you tell me how to change my PIN?", index=0)],
        emotion="anger",
        emotion_score=0.38,
        conversation=text,
        customer_text=text,
        suggestions={
            0: [Passage(article_id=2, title="Changing your PIN", slug="changing-your-pin", passage=PIN_BODY)]
        },
    )


def refund() -> ReplyContext:
    """A disappointed customer waiting for the refund of a returned kettle (order #55821), no article."""
    text = (
        "I returned the kettle two weeks ago and still no refund for order #55821. I'm really disappointed."
    )
    return ReplyContext(
        ticket_id=12,
        customer_name="Anna Berg",
        agent_name="Sam Okafor",
        concerns=[Concern(text=text, index=0, intents=["refund_status"])],
        emotion="sadness",
        emotion_score=0.61,
        frustration=0.5,
        entities=[{"type": "order_number", "value": "55821"}, {"type": "product", "value": "Kettle Pro"}],
        conversation="Refund for the kettle\n\n" + text,
        customer_text="Refund for the kettle\n\n" + text,
        history=History(products=["Kettle Pro"]),
    )


@pytest.fixture
def endpoint() -> Iterator[tuple[str, Endpoint]]:
    """A real OpenAI-compatible HTTP endpoint on 127.0.0.1 that records what it was asked."""
    with running_endpoint("Hi María, the model's reply.") as served:
        yield served
