"""A drafted reply, for the agent to edit: greeting by first name, an acknowledgement that fits the
customer's emotion (varied, so it does not read as a script; none for a calm customer), one paragraph per
concern answered from the best passage of its top suggested article (or a dated commitment to look into
it), what history says (a repeat contact, a long-time customer, the product they own), and the agent's
name.

It is extractive and template-based, so it needs no language model and never says what the knowledge base
does not. An OpenAI-compatible endpoint, when configured (the assistant's settings), may phrase it from the
same facts and passages only; any failure of it falls back to the template.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Sequence

from ombud.assist.check import concern_coverage, is_addressed
from ombud.assist.schemas import Concern, Draft, DraftParagraph, Passage, ReplyContext
from ombud.assist.text import content_words, sentences
from ombud.knowledge.assistant import AssistantConfig, ask_model
from ombud.triage.embed import Embedder, shared_minilm

log = logging.getLogger(__name__)

PASSAGE_SENTENCES = 3
LONG_TIME = dt.timedelta(days=2 * 365)

# Several phrasings of each acknowledgement, picked by ticket id: the same customer sees the same one on
# a re-draft, different customers do not all read the same sentence.
_FRUSTRATED = (
    "I'm sorry about all of this, and I understand why you're frustrated.",
    "I can see how frustrating this has been, and I'm sorry.",
    "I'm sorry this has caused you so much trouble; I'd feel the same in your place.",
    "Thank you for your patience with this, and I'm sorry it has been so frustrating.",
)
_SAD = (
    "I'm sorry this has been such a worry for you.",
    "I'm really sorry to hear this; I can see how disappointing it has been.",
    "I understand how upsetting this is, and I'm sorry.",
)
_REPEAT = (
    "I'm sorry you've had to get in touch about this more than once.",
    "Thank you for bearing with us; I know this isn't the first time you've had to write about it.",
    "I'm sorry you've had to contact us about this again.",
)
_URGENT = (
    "I can see this is urgent, so I've looked at it straight away.",
    "I know this is time-sensitive, so I've gone straight to it.",
)
_CLOSING = (
    "If anything is unclear, just reply to this message.",
    "If there's anything else I can help with, just reply here.",
    "I'm happy to help with anything else; just reply to this message.",
)
_LOOK_INTO = "I'm looking into this now and will update you within one working day."


def _pick(options: Sequence[str], seed: int, salt: int = 0) -> str:
    return options[(seed + salt) % len(options)]


def draft_reply(
    context: ReplyContext,
    *,
    config: AssistantConfig | None = None,
    embedder: Embedder | None = None,
    today: dt.date | None = None,
) -> Draft:
    """Return a reply drafted from ``context``: the template's, or the configured model's phrasing of
    the same facts when it answers."""
    draft = template_reply(context, embedder=embedder, today=today)
    if config is not None and config.llm_url:
        phrased = ask_model(config, _SYSTEM, _facts(context, draft), temperature=0.3)
        if phrased:
            return Draft(
                text=phrased,
                paragraphs=[DraftParagraph(text=phrased, concern_index=None, concern=None, article_id=None)],
                article_ids=draft.article_ids,
                source="model",
            )
    return draft


def template_reply(
    context: ReplyContext, *, embedder: Embedder | None = None, today: dt.date | None = None
) -> Draft:
    """Return the extractive, template-based draft."""
    encoder = embedder or shared_minilm()
    seed = context.ticket_id
    paragraphs: list[DraftParagraph] = []
    opening = _acknowledgement(context, seed)
    if opening:
        paragraphs.append(DraftParagraph(text=opening, concern_index=None, concern=None, article_id=None))
    article_ids: list[int] = []
    for position, concern in enumerate(context.concerns):
        if len(content_words(concern.text)) < 2:
            continue
        # "This is the third time I'm writing!!!" is answered by the acknowledgement, not by a paragraph.
        if opening and not context.suggestions.get(concern.index) and not concern.intents:
            ((cosine, overlap),) = concern_coverage([concern.text], opening, encoder)
            if is_addressed(cosine, overlap):
                continue
        passages = context.suggestions.get(concern.index) or []
        if passages:
            top = passages[0]
            text = _answer_from(concern, top, encoder)
            if top.article_id not in article_ids:
                article_ids.append(top.article_id)
            paragraphs.append(
                DraftParagraph(
                    text=text, concern_index=position, concern=concern.text, article_id=top.article_id
                )
            )
        else:
            paragraphs.append(
                DraftParagraph(
                    text=f"{restate(concern.text)} {_LOOK_INTO}",
                    concern_index=position,
                    concern=concern.text,
                    article_id=None,
                )
            )
    if not any(p.concern_index is not None for p in paragraphs):
        paragraphs.append(
            DraftParagraph(
                text="Thank you for your message. " + _LOOK_INTO,
                concern_index=None,
                concern=None,
                article_id=None,
            )
        )
    history = _history(context, today or dt.datetime.now(dt.UTC).date())
    closing = " ".join([*history, _pick(_CLOSING, seed)])
    paragraphs.append(DraftParagraph(text=closing, concern_index=None, concern=None, article_id=None))
    greeting = f"Hi {context.first_name}," if context.first_name else "Hello,"
    signer = context.agent_name.split()[0] if context.agent_name.strip() else "The support team"
    text = "\n\n".join([greeting, *(p.text for p in paragraphs), f"Best wishes,\n{signer}"])
    return Draft(text=text, paragraphs=paragraphs, article_ids=article_ids, source="template")


def _acknowledgement(context: ReplyContext, seed: int) -> str:
    parts = []
    if context.history.repeat_contact:
        parts.append(_pick(_REPEAT, seed))
    if context.upset:
        sad = context.emotion == "sadness" and context.frustration < 0.7
        parts.append(_pick(_SAD if sad else _FRUSTRATED, seed, salt=1))
    elif context.urgency in {"high", "urgent"}:
        parts.append(_pick(_URGENT, seed))
    if parts and context.history.products:
        parts.append(f"I've looked at this for your {context.history.products[0]}.")
    return " ".join(parts)


def _history(context: ReplyContext, today: dt.date) -> list[str]:
    lines = []
    for subject in context.history.other_open[:1]:
        lines.append(f'I can also see your other open request, "{subject}"; the team is on it.')
    since = context.history.customer_since
    if since is not None and today - since.date() >= LONG_TIME:
        lines.append(f"Thank you for being with us since {since.year}.")
    return lines


# -- answering a concern from an article -----------------------------------------------------------------
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s.*$|^\s*[-*+]\s+|^\s*\d+[.)]\s+", re.MULTILINE)


def _answer_from(concern: Concern, passage: Passage, embedder: Embedder) -> str:
    """Return the passage's sentences that best answer ``concern`` (in their own order), with the link."""
    body = _HEADING.sub("", passage.passage).strip()
    candidates = [s.text for s in sentences(body) if len(content_words(s.text)) >= 2]
    if len(candidates) > PASSAGE_SENTENCES:
        vectors = embedder.embed_batch([concern.text, *candidates])
        scores = vectors[1:] @ vectors[0]
        keep = sorted(sorted(range(len(candidates)), key=lambda i: -float(scores[i]))[:PASSAGE_SENTENCES])
        candidates = [candidates[i] for i in keep]
    answer = " ".join(_sentence(c) for c in candidates) or passage.title
    return f'{answer} There\'s more in our guide "{passage.title}": {passage.url}'


def _sentence(text: str) -> str:
    text = text.strip()
    return text if text[-1:] in ".!?" else text + "."


_PERSON = {
    "i am": "you are",
    "i was": "you were",
    "i'm": "you're",
    "i've": "you've",
    "i'd": "you'd",
    "i'll": "you'll",
    "i": "you",
    "me": "you",
    "my": "your",
    "mine": "yours",
    "myself": "yourself",
    "you are": "we are",
    "you were": "we were",
    "you're": "we're",
    "you've": "we've",
    "you": "we",
    "your": "our",
    "yours": "ours",
}
_PERSON_RE = re.compile(
    r"\b(" + "|".join(re.escape(k) for k in sorted(_PERSON, key=len, reverse=True)) + r")\b", re.IGNORECASE
)


def second_person(text: str) -> str:
    """Return the customer's first-person words as the agent would say them back ("my card" -> "your
    card", "you charged me" -> "we charged you")."""
    return _PERSON_RE.sub(
        lambda m: _PERSON[m.group().lower().replace("\u2019", "'")], text.replace("\u2019", "'")
    )


def restate(concern: str) -> str:
    """Return a sentence that tells the customer which concern a paragraph answers."""
    first = sentences(concern)
    text = " ".join(s.text for s in first[:2]) if first else concern
    if len(text.split()) > 30 and first:
        text = first[0].text
    if text.rstrip().endswith("?"):
        return f'You asked: "{text.strip()}"'
    said = second_person(text.strip()).rstrip(" .!?")
    return f"You mentioned that {said[:1].lower() + said[1:]}."


# -- the optional model ----------------------------------------------------------------------------------
_SYSTEM = (
    "You write a customer service reply for an agent to review and send. Use ONLY the facts and help-article "
    "passages given: never invent order numbers, amounts, dates, policies or promises. Greet the customer by "
    "first name. If the facts say the customer is upset, acknowledge it briefly and sincerely. Answer each "
    "concern in its own short paragraph, from its passage, and include the article link given. Say what we "
    "can do rather than what we cannot, use plain words without internal jargon, give a time for any "
    "follow-up, and sign off with the agent's name. Reply with the message text only."
)


def _facts(context: ReplyContext, draft: Draft) -> str:
    lines = [
        f"Customer's first name: {context.first_name or 'unknown'}",
        f"Agent's name: {context.agent_name or 'the support team'}",
        f"Customer is upset: {'yes' if context.upset else 'no'} (emotion: {context.emotion or 'unknown'}, "
        f"frustration {context.frustration:.2f}, urgency {context.urgency})",
        f"Has written about this before: {'yes' if context.history.repeat_contact else 'no'}",
    ]
    if context.history.customer_since:
        lines.append(f"Customer since: {context.history.customer_since.year}")
    if context.history.products:
        lines.append(f"Products they own: {', '.join(context.history.products)}")
    lines.append("Concerns:")
    for position, concern in enumerate(context.concerns, start=1):
        lines.append(f"[{position}] {concern.text}")
        for passage in (context.suggestions.get(concern.index) or [])[:1]:
            lines.append(f'    Passage from "{passage.title}" ({passage.url}): {passage.passage}')
    lines += ["", "A template reply built from the same facts:", draft.text]
    return "\n".join(lines)
