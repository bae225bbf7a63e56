"""An optional OpenAI-compatible endpoint that plays the simulated customer more freely.

Only the customer's wording comes from the model: scoring and frustration stay rule-based. The model is told
the persona, the anonymised ticket, the customer's frustration and the trainee's reply, and what the rules
would have said (so it stays on the same track). Any failure returns None with the reason, and the caller
falls back to the rules' line.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import httpx

log = logging.getLogger(__name__)

_SYSTEM = (
    "You play a customer in a customer-service training role-play. Stay in character as the customer; "
    "answer the support agent's latest reply in one to four sentences, in the customer's language. Never say "
    "you are an AI, never invent names, email addresses, phone numbers or order numbers beyond those in the "
    "conversation, and never write the agent's lines."
)
_PERSONAS = {
    "angry": "You are angry: short sentences, you repeat what was ignored, sharper each time.",
    "confused": "You are confused: you ask what unfamiliar words mean and what you should do.",
    "vague": "You are vague and have several concerns: you bring them up one at a time.",
    "pushy": "You push for a bigger concession than what is offered.",
}


@dataclass(frozen=True)
class CustomerModel:
    url: str
    key: str | None = None
    model: str = "gpt-4o-mini"
    timeout: float = 10.0


def play(
    model: CustomerModel,
    *,
    persona: str,
    messages: list[str],
    conversation: list[tuple[str, str]],
    frustration: float,
    reply: str,
    rules_line: str,
) -> tuple[str | None, str | None]:
    """Return (the customer's next line, None) from the model, or (None, why it failed)."""
    history = "\n".join(
        f"{'Customer' if role == 'customer' else 'Agent'}: {body}" for role, body in conversation
    )
    prompt = (
        f"Persona: {_PERSONAS.get(persona, '')}\n"
        f"Your frustration now, from 0 (calm) to 1 (furious): {frustration:.2f}\n\n"
        "What you wrote on the real ticket (anonymised), in order:\n"
        + "\n---\n".join(messages)
        + f"\n\nThe conversation so far:\n{history}\n\nThe agent's latest reply:\n{reply}\n\n"
        f"A scripted customer would now say: {rules_line}\nWrite the customer's answer."
    )
    headers = {"Authorization": f"Bearer {model.key}"} if model.key else {}
    body: dict[str, Any] = {
        "model": model.model,
        "messages": [{"role": "system", "content": _SYSTEM}, {"role": "user", "content": prompt}],
        "temperature": 0.7,
    }
    try:
        response = httpx.post(
            model.url.rstrip("/") + "/chat/completions", json=body, headers=headers, timeout=model.timeout
        )
        response.raise_for_status()
        content = response.json()["choices"][0]["message"]["content"]
    except (httpx.HTTPError, ValueError, KeyError, IndexError, TypeError) as error:
        log.warning("the training model at %s failed (%s); the rules play the customer", model.url, error)
        return None, type(error).__name__
    if not isinstance(content, str) or not content.strip():
        return None, "empty answer"
    return content.strip()[:4000], None
