"""Scoring a trainee's replies: the production reply check, plus which concerns a reply addresses, whether it
acknowledges the customer, proposes the known right outcome and keeps any concession within policy; and the
final scorecard of a session.

Everything here is rule-based and deterministic: the same reply in the same state scores the same, with or
without a language model playing the customer.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from ombud.assist.check import acknowledges, asks, check_reply, concern_coverage, is_addressed
from ombud.assist.schemas import CheckResult, Concern, Passage, ReplyContext
from ombud.assist.text import content_words, sentences
from ombud.people.training_schemas import PolicyNote, Score, TurnFeedback
from ombud.resolutions import policy as rules
from ombud.resolutions.currencies import from_minor
from ombud.triage.entities import extract

# Words that say a reply proposes a concession of each kind.
KIND_WORDS: dict[str, tuple[str, ...]] = {
    "refund": ("refund", "money back", "reimburse", "pay you back"),
    "partial_refund": ("refund", "partial", "part of", "money back"),
    "billing_correction": ("refund", "duplicate", "reverse", "reversal", "correct", "charge back"),
    "replacement": ("replacement", "replace", "new one", "new unit", "send you a new", "swap"),
    "return": ("return", "send it back", "label", "rma"),
    "repair": ("repair", "fix", "technician", "engineer", "service centre"),
    "credit": ("credit", "account balance"),
    "coupon": ("coupon", "voucher", "discount code", "code"),
    "goodwill": ("goodwill", "gesture", "credit", "voucher"),
}
_OFFER = re.compile(
    r"\b(?:refund\w*|credit\w*|voucher|coupon|compensat\w*|offer\w*|give you|goodwill|gesture|back to your|"
    r"reimburs\w*|discount)\b",
    re.IGNORECASE,
)
_NEXT_STEP = re.compile(
    r"\b(?:I(?:'ve| have)|we(?:'ve| have))\s+(?:just\s+|now\s+|already\s+)?(?:issued|sent|arranged|booked|"
    r"processed|refunded|credited|started|raised|ordered|scheduled|cancelled|reversed|approved|applied)\b"
    r"|\b(?:will|should|'ll)\s+(?:arrive|reach you|be (?:back|with you|delivered|credited|refunded)|show)\b"
    r"|\bwithin\s+\d+|\b(?:by|on)\s+(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday|tomorrow)\b"
    r"|\b(?:today|tomorrow|next step|here(?:'s| is) what)\b"
    r"|\b\d+\s*(?:-\s*\d+\s*)?(?:working |business )?(?:days?|hours?)\b",
    re.IGNORECASE,
)
_DISMISSIVE = re.compile(
    r"\b(?:nothing (?:we|I) can do|not (?:our|my) (?:problem|fault|responsibility)|you should have|"
    r"as (?:I|we) (?:already |have )?(?:said|told you|explained)|calm down|there is nothing|that's just how|"
    r"read the (?:manual|faq|terms)|obviously|per (?:our )?policy|you(?:'ll| will) have to wait|"
    r"not possible|can't help|cannot help|your fault)\b",
    re.IGNORECASE,
)
WARNING_COST, INFO_COST = 15, 5


@dataclass
class Situation:
    """What a trainee's reply answers: the scenario's concerns, what was already addressed, the outcome
    expected, the customer's state and the policy limits for the trainee's role."""

    customer_name: str
    agent_name: str
    concerns: list[str]
    addressed: set[int]  # concern positions answered by earlier replies
    frustration: float
    persona: str
    expected: dict[str, Any]
    customer_text: str
    conversation: str
    role: str
    policy: rules.Policy | None
    articles: list[tuple[int, str, str]] = field(default_factory=list)  # (id, title, body)
    glossary: Sequence[Any] = ()
    voice: Sequence[Any] = ()

    def open_concerns(self) -> list[tuple[int, str]]:
        return [(i, c) for i, c in enumerate(self.concerns) if i not in self.addressed]


def reply_context(situation: Situation) -> ReplyContext:
    """Return the production check's context for a reply in ``situation``: the concerns still open."""
    upset = situation.frustration >= 0.5
    passages = [
        Passage(article_id=a_id, title=title, slug="", passage=body[:2000])
        for a_id, title, body in situation.articles
    ]
    return ReplyContext(
        customer_name=situation.customer_name,
        agent_name=situation.agent_name,
        concerns=[Concern(text=text, index=i) for i, text in situation.open_concerns()],
        emotion="anger" if upset and situation.persona in ("angry", "pushy") else None,
        emotion_score=0.8 if upset else 0.0,
        frustration=situation.frustration,
        entities=[e.public() for e in extract(situation.customer_text)],
        conversation=situation.conversation,
        customer_text=situation.customer_text,
        suggestions={i: passages for i, _ in situation.open_concerns()} if passages else {},
    )


def check(text: str, situation: Situation, dismissed: Sequence[str] = ()) -> CheckResult:
    """Return the production reply check's findings on ``text`` (dismissed ones left out)."""
    result = check_reply(text, reply_context(situation), glossary=situation.glossary, voice=situation.voice)
    hidden = set(dismissed)
    result.findings = [f for f in result.findings if f.id not in hidden]
    return result


def addressed_now(text: str, situation: Situation) -> list[int]:
    """Return the positions of the open concerns ``text`` answers (most of each concern's asks)."""
    found = []
    for index, concern in situation.open_concerns():
        parts = asks(concern) or [concern]
        coverage = concern_coverage(parts, text)
        answered = sum(is_addressed(cosine, overlap) for cosine, overlap in coverage)
        if answered * 2 >= len(parts):
            found.append(index)
    return found


def proposes_outcome(text: str, expected: dict[str, Any]) -> bool:
    """Whether ``text`` proposes the known right outcome: names the concession's kind and tells the gist of
    the linked article (most words of its title). True when nothing particular was expected."""
    folded = text.casefold()
    resolution = expected.get("resolution")
    if resolution and not any(word in folded for word in KIND_WORDS.get(resolution["kind"], ())):
        return False
    titles = expected.get("article_titles") or []
    if titles:
        words = content_words(text)
        return any(len(content_words(t) & words) * 2 >= max(len(content_words(t)), 1) for t in titles)
    return True


def offered_amounts(
    text: str, default_currency: str, expected_kind: str | None = None
) -> list[tuple[str, Decimal, str, str]]:
    """Return (as written, amount, currency, kind) of each amount the reply offers (an amount in a sentence
    about a refund, credit, voucher...), not amounts it merely repeats. A sentence in the words of the
    expected concession's kind offers that kind."""
    found = []
    for sentence in sentences(text):
        if not _OFFER.search(sentence.text):
            continue
        folded = sentence.text.casefold()
        expected = (
            expected_kind
            if expected_kind and any(w in folded for w in KIND_WORDS.get(expected_kind, ()))
            else None
        )
        kind = expected or next(
            (
                k
                for k in ("coupon", "credit", "refund", "goodwill")
                if any(w in sentence.text.casefold() for w in KIND_WORDS[k])
            ),
            "goodwill",
        )
        for entity in extract(sentence.text):
            if entity.type == "amount" and entity.amount is not None:
                currency = entity.currency or default_currency
                found.append((entity.value, Decimal(str(entity.amount)), currency, kind))
    return found


def policy_note(text: str, situation: Situation) -> PolicyNote:
    """Whether the concessions ``text`` offers are within the concession policy's limit for the trainee's
    role and no bigger than the known right outcome."""
    resolution = situation.expected.get("resolution")
    currency = (resolution or {}).get("currency") or (
        situation.policy.base_currency if situation.policy else "EUR"
    )
    offers = offered_amounts(text, currency, (resolution or {}).get("kind"))
    note = PolicyNote(offered=[written for written, *_ in offers])
    messages = []
    for written, amount, cur, kind in offers:
        policy = situation.policy
        if policy is not None and cur in policy.rates and situation.role in rules.ROLE_RANK:
            base = policy.to_base(amount, cur)
            limit = policy.limit_for(role=situation.role, kind=kind, tier="standard")
            if base > limit:
                note.over_policy = True
                messages.append(
                    f"{written} is over the concession policy's limit for your role ({limit} "
                    f"{policy.base_currency} for a {kind.replace('_', ' ')}): it would need approval."
                )
        if resolution and cur == resolution["currency"]:
            right = from_minor(int(resolution["amount_minor"]), cur)
            if amount > right:
                note.over_expected = True
                messages.append(f"{written} is more than the right outcome ({right} {cur}).")
    note.message = " ".join(messages)
    return note


def assess(text: str, situation: Situation) -> TurnFeedback:
    """Return the feedback on one trainee reply (frustration and source are the simulator's to fill)."""
    result = check(text, situation)
    now = addressed_now(text, situation)
    codes = [f.code for f in result.findings]
    addressed_all = situation.addressed | set(now)
    feedback = TurnFeedback(
        findings=result.findings,
        grade=result.grade,
        addressed=[situation.concerns[i] for i in now],
        missed=[c for i, c in enumerate(situation.concerns) if i not in addressed_all],
        empathy=acknowledges(text),
        outcome=proposes_outcome(text, situation.expected),
        next_step=_NEXT_STEP.search(text) is not None,
        dismissive=_DISMISSIVE.search(text) is not None or "negative_phrasing" in codes,
        policy=policy_note(text, situation),
    )
    notes = []
    if now:
        notes.append(f"You answered {len(now)} concern{'s' if len(now) > 1 else ''}.")
    if feedback.missed:
        notes.append(f"Still unanswered: {feedback.missed[0]}")
    if not feedback.empathy and situation.frustration >= 0.5:
        notes.append("The customer is upset and the reply does not acknowledge it.")
    if codes.count("jargon"):
        notes.append("Plain words help: the reply uses jargon.")
    if feedback.dismissive:
        notes.append("Parts of the reply read as dismissive or negative.")
    if feedback.outcome and (
        situation.expected.get("resolution") or situation.expected.get("article_titles")
    ):
        notes.append("You proposed the right outcome.")
    if feedback.next_step:
        notes.append("Good: a concrete next step.")
    if feedback.policy.message:
        notes.append(feedback.policy.message)
    feedback.notes = notes
    return feedback


# -- the final scorecard ----------------------------------------------------------------------------------
def _clamp(value: float) -> int:
    return max(0, min(100, round(value)))


def final_score(
    *, concerns: int, expected: dict[str, Any], feedback: Sequence[TurnFeedback], curve: Sequence[float]
) -> Score:
    """Return the session's scores (0..100) from its trainee turns' feedback and the frustration curve
    (the customer's frustration at the start and after each trainee turn)."""
    if not feedback:
        return Score(
            overall=0,
            reply_check=0,
            resolution=0,
            policy=0,
            deescalation=0,
            feedback=["No reply was written."],
        )
    per_turn = [
        100
        - WARNING_COST * sum(f.severity == "warning" for f in fb.findings)
        - INFO_COST * sum(f.severity == "info" for f in fb.findings)
        for fb in feedback
    ]
    reply_check = _clamp(sum(max(0, p) for p in per_turn) / len(per_turn))
    answered = len({c for fb in feedback for c in fb.addressed})
    share = answered / concerns if concerns else 1.0
    outcome = any(fb.outcome for fb in feedback)
    anything_expected = bool(expected.get("resolution") or expected.get("article_titles"))
    resolution = _clamp(60 * share + 40 * (outcome if anything_expected else share))
    over_policy = any(fb.policy.over_policy for fb in feedback)
    over_expected = any(fb.policy.over_expected for fb in feedback)
    policy = 0 if over_policy else 60 if over_expected else 100
    start, end = curve[0], curve[-1]
    peak = max(curve)
    deescalation = _clamp(60 + (start - end) * 100 - max(0.0, peak - start) * 40)
    overall = _clamp(0.25 * reply_check + 0.3 * resolution + 0.2 * policy + 0.25 * deescalation)
    notes = [
        f"Reply check: {reply_check}/100 over {len(feedback)} repl{'ies' if len(feedback) > 1 else 'y'}.",
        f"You answered {answered} of {concerns} concern{'s' if concerns != 1 else ''}"
        + (" and proposed the right outcome." if outcome and anything_expected else "."),
    ]
    if over_policy:
        notes.append("A concession you offered was over the policy's limit for your role.")
    elif over_expected:
        notes.append("A concession you offered was bigger than the right outcome.")
    if end < start:
        notes.append(f"The customer calmed down (frustration {start:.0%} → {end:.0%}).")
    else:
        notes.append(f"The customer did not calm down (frustration {start:.0%} → {end:.0%}).")
    return Score(
        overall=overall,
        reply_check=reply_check,
        resolution=resolution,
        policy=policy,
        deescalation=deescalation,
        feedback=notes,
    )
