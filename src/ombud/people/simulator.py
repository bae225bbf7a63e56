"""The simulated customer: how their frustration moves with each trainee reply, and what they say next.

When the trainee makes progress (answers a concern that was open, and nothing in the reply made things
worse) the customer says what the real customer said next on the ticket (anonymised). Otherwise, or once
the ticket's messages run out, the persona's rules answer: the angry customer repeats the ignored concern,
sharper; the confused one asks what a jargon word means; the vague one brings up the next concern; the pushy
one asks for more than the policy allows. When every concern is answered with the right outcome and the
customer has calmed down, they thank the trainee and the session ends.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from ombud.people.training_models import Persona
from ombud.people.training_schemas import TurnFeedback
from ombud.resolutions.currencies import from_minor

MAX_TURNS = 8
CALM = 0.35
START = {Persona.angry: 0.75, Persona.pushy: 0.6, Persona.confused: 0.45, Persona.vague: 0.4}
# How much harder bad replies land: angry and pushy customers flare up faster.
HEAT = {Persona.angry: 1.5, Persona.pushy: 1.4, Persona.confused: 1.0, Persona.vague: 0.9}


def mood(frustration: float) -> str:
    """Return the customer's mood in a word, as the page shows it."""
    if frustration <= 0.25:
        return "calm"
    if frustration <= 0.45:
        return "settling"
    if frustration <= 0.65:
        return "frustrated"
    if frustration <= 0.8:
        return "angry"
    return "furious"


def initial_frustration(persona: Persona, messages: list[dict[str, Any]]) -> float:
    first = float(messages[0].get("frustration") or 0.0) if messages else 0.0
    return round(min(0.95, max(START[persona], first)), 3)


def move(frustration: float, feedback: TurnFeedback, persona: Persona, *, newly: int, jargon: int) -> float:
    """Return the customer's frustration after a reply: up on dismissive, negative or jargon-heavy replies and
    ignored concerns (more for angry and pushy customers), down on acknowledgement, answered concerns and a
    concrete next step."""
    up = 0.0
    if feedback.dismissive:
        up += 0.15
    up += min(0.15, 0.06 * jargon) * (1.5 if persona is Persona.confused else 1.0)
    if newly == 0 and feedback.missed:
        up += 0.12
    if any(f.code == "empathy_missing" for f in feedback.findings):
        up += 0.05
    if feedback.policy.over_policy and persona is not Persona.pushy:
        up += 0.0  # an over-generous offer does not upset anyone; it is scored, not felt
    down = 0.0
    if feedback.empathy:
        down += 0.1
    down += min(0.24, 0.12 * newly)
    if feedback.next_step:
        down += 0.08
    if feedback.outcome and newly:
        down += 0.06
    if feedback.dismissive:
        down /= 2  # a kind word next to a brush-off counts for less
    after = frustration + up * HEAT[persona] - down
    return round(min(1.0, max(0.0, after)), 3)


@dataclass(frozen=True)
class Line:
    text: str
    source: str  # "script", "persona" or "closing"
    position: int  # the next real message to use


def next_line(
    *,
    persona: Persona,
    messages: list[dict[str, Any]],
    position: int,
    feedback: TurnFeedback,
    progressed: bool,
    jargon_terms: list[str],
    expected: dict[str, Any],
    all_concerns: list[str],
    turn: int,
) -> Line:
    """Return what the customer says after a trainee reply (not the closing line)."""
    if progressed and position < len(messages):
        return Line(str(messages[position]["body"]), "script", position + 1)
    return Line(
        _persona_line(persona, feedback, progressed, jargon_terms, expected, all_concerns, turn),
        "persona",
        position,
    )


def closing(persona: Persona) -> str:
    return {
        Persona.angry: "Right. Thank you, that's what I needed to hear. Consider it sorted.",
        Persona.pushy: "Fine, that's fair. Thanks for sorting it out.",
        Persona.confused: "Oh, now I understand. Thank you so much for explaining it!",
        Persona.vague: "Great, that covers everything. Thanks for your help!",
    }[persona]


def giving_up(persona: Persona) -> str:
    return {
        Persona.angry: "I'm done with this. I'll take it elsewhere.",
        Persona.pushy: "This is going nowhere. I'll be writing a review.",
        Persona.confused: "I'm still not sure what happens now, but never mind.",
        Persona.vague: "Okay, I'll leave it there for now.",
    }[persona]


def _persona_line(  # noqa: PLR0911, PLR0917 (one answer a persona and situation)
    persona: Persona,
    feedback: TurnFeedback,
    progressed: bool,
    jargon_terms: list[str],
    expected: dict[str, Any],
    all_concerns: list[str],
    turn: int,
) -> str:
    missed = feedback.missed[0] if feedback.missed else ""
    brushed = "Don't brush me off. " if feedback.dismissive else ""
    if persona is Persona.angry:
        if missed:
            sharper = "This is the second time I'm asking. " if turn > 1 else ""
            return f"{brushed}{sharper}You're not listening. {missed} What are you going to do about it?"
        if jargon_terms:
            return f"{brushed}Speak plainly, please. What does \u201c{jargon_terms[0]}\u201d even mean?"
        return f"{brushed}And when exactly will that happen? I want a date, not promises."
    if persona is Persona.confused:
        if jargon_terms:
            return f"Sorry, what does \u201c{jargon_terms[0]}\u201d mean? I'm not sure what to do now."
        if missed:
            return f"I'm a bit lost. What about this part: {missed}"
        return "So what happens next? Do I need to do anything?"
    if persona is Persona.vague:
        if progressed and missed:
            return f"Oh, and there's something else. {missed}"
        if missed:
            return f"Hmm, I'm not sure that answers it. Also, {missed[0].lower() + missed[1:]}"
        return "Okay. Is there anything else I should know?"
    # pushy
    ask = _bigger_ask(expected, feedback)
    if missed and not progressed:
        return f"{brushed}Before anything else: {missed}"
    if feedback.policy.over_policy:
        return f"Good, I'll hold you to that {feedback.policy.offered[0]}. And I'd like it in writing."
    return f"That's not enough for all the trouble I've had. I want {ask}, at least."


def _bigger_ask(expected: dict[str, Any], feedback: TurnFeedback) -> str:
    resolution = expected.get("resolution")
    if resolution:
        amount = from_minor(int(resolution["amount_minor"]), resolution["currency"]) * 2
        return f"{amount.quantize(Decimal('1'))} {resolution['currency']} back"
    if feedback.policy.offered:
        return f"double the {feedback.policy.offered[0]}"
    return "a full refund and something for my time"
