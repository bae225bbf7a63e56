"""The self-service assistant: answers a customer's question from published public articles, always citing
them, and hands over to a person, with the conversation, the triage and a reason code, when it should.

It hands over (reason codes are part of the API):
- ``asked_for_person``: the customer asks for a person (or presses the button: ``customer_choice``);
- ``sensitive``: a legal threat, safety, fraud or security, or a refund over the configured limit;
- ``frustrated``: triage reads frustration over the limit, or abuse;
- ``repeated_failure``: answers on the same question failed twice (the customer said so, or asked again);
- ``out_of_scope`` / ``low_confidence``: no article matches, or none matches well enough.
After a handover the conversation stays with people (``already_handed_over``): it never loops back.

The default answer is extractive (the best passage with a short framing) and needs no language model. An
OpenAI-compatible endpoint, when configured, may phrase the answer, grounded only in the retrieved
passages; any failure of it falls back to the extractive answer.
"""

from __future__ import annotations

import contextlib
import logging
import re
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from ombud.accounts.schemas import SYSTEM, Principal
from ombud.channels import service as channels
from ombud.customers import service as customers
from ombud.customers.models import IdentityKind
from ombud.customers.schemas import CustomerRef
from ombud.errors import NotFound, OmbudError
from ombud.knowledge import index
from ombud.knowledge.models import Conversation, ConversationState, Outcome, Turn, Vector
from ombud.knowledge.schemas import ArticleStatus, Audience, CustomerHint
from ombud.knowledge.search import Filters, Hit, Searcher
from ombud.storage.base import utcnow
from ombud.tickets.models import Channel
from ombud.triage.engine import Triage
from ombud.triage.pipeline import Context

log = logging.getLogger(__name__)

PUBLIC = Filters(audiences=frozenset({Audience.public}), statuses=frozenset({ArticleStatus.published}))
SENSITIVE_REASONS = frozenset({"legal_threat", "safety", "fraud_or_security"})
REFUND_INTENTS = frozenset({"refund_status", "charge_dispute", "return_request", "request_refund"})
MAX_FAILURES = 2
SAME_QUESTION = 0.8  # cosine above which a new question asks the same thing as an earlier one
ASK_FOR_PERSON = re.compile(
    r"\b(?:(?:talk|speak|chat)\s+(?:to|with)\s+(?:a|an|some|your)?\s*(?:human|person|agent|someone|somebody|"
    r"real\s+person|representative|operator|manager|supervisor)|(?:real|live)\s+(?:human|person|agent)|"
    r"human\s+(?:please|agent|being)|(?:need|want)\s+(?:a|an)\s+(?:human|person|agent)|"
    r"customer\s+service\s+(?:agent|rep)|operator|representative)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class AssistantConfig:
    """Limits the assistant works within (from settings)."""

    answer_threshold: float = 0.73  # fused search score the best article needs to be answered with
    out_of_scope_below: float = 0.6  # below this nothing in the knowledge base is about the question
    frustration_limit: float = 0.6
    refund_limit: float = 100.0
    llm_url: str | None = None
    llm_key: str | None = None
    llm_model: str = "gpt-4o-mini"
    llm_timeout: float = 10.0


@dataclass
class Reply:
    conversation: Conversation
    answer: str
    hits: list[Hit]
    confidence: float
    handover: bool
    reason: str | None


TicketOpener = Callable[[Conversation, str, str], int]
"""Opens (or continues) the ticket a person answers: (conversation, subject, transcript) -> ticket id."""


def find_conversation(session: Session, public_id: str) -> Conversation:
    conversation = session.scalar(select(Conversation).where(Conversation.public_id == public_id))
    if conversation is None:
        raise NotFound(
            "No such conversation: start a new one by asking without conversation_id.",
            code="conversation_not_found",
        )
    return conversation


def get_conversation(session: Session, conversation_id: int) -> Conversation:
    conversation = session.get(Conversation, conversation_id)
    if conversation is None:
        raise NotFound("The conversation is gone.", code="conversation_not_found")
    return conversation


def start(session: Session, *, channel: str, customer_id: int | None) -> Conversation:
    conversation = Conversation(
        public_id="c_" + secrets.token_urlsafe(18), channel=channel, customer_id=customer_id
    )
    session.add(conversation)
    session.flush()
    return conversation


def open_conversation(
    session: Session, *, channel: str, customer_id: int, create: bool
) -> Conversation | None:
    """The customer's newest conversation with the assistant on ``channel`` that is still with the bot and
    not ended, or (with ``create``) a new one."""
    found = session.scalar(
        select(Conversation)
        .where(
            Conversation.customer_id == customer_id,
            Conversation.channel == channel,
            Conversation.state == ConversationState.bot,
            Conversation.ended_at.is_(None),
        )
        .order_by(Conversation.id.desc())
        .limit(1)
    )
    if found is None and create:
        found = start(session, channel=channel, customer_id=customer_id)
    return found


@dataclass
class Thought:
    """What the assistant makes of a question: worked out in a read session, holding no write lock
    (triage, the embedding, the search and an answer model's call take their time), then applied by
    :func:`ask` in a short write transaction."""

    text: str
    result: dict[str, Any]
    hits: list[Hit]
    vector: np.ndarray | None
    key: str | None
    confidence: float
    reason: str | None
    answer: str
    repeats: list[int]  # earlier answered turns of the conversation this question asks again


def think(
    session: Session,
    *,
    searcher: Searcher,
    engine: Triage,
    config: AssistantConfig,
    conversation_id: int | None,
    text: str,
    language: str | None = None,
) -> Thought:
    """Decide, reading only, whether to answer ``text`` (and with what) or hand it over, and why."""
    previous: list[Turn] = []
    if conversation_id is not None:
        conversation = session.get(Conversation, conversation_id)
        if conversation is not None and conversation.state is ConversationState.handed_over:
            return Thought(text, {}, [], None, None, 0.0, "already_handed_over", STILL_WITH_PEOPLE, [])
        previous = _turns_of(session, conversation_id)
    result = engine.analyze([(text, Context(channel="chat"))])[0]
    hits = searcher.search(session, text, filters=_language_filter(language), limit=3)
    vector = searcher.embedder.embed_batch([text])[0]
    confidence = hits[0].score if hits else 0.0
    repeats = _repeats(session, previous, vector)
    reason = _handover_reason(result, text, config)
    if reason is None and repeats:
        failures = sum(1 for turn in previous if turn.failed or turn.id in repeats)
        if failures >= MAX_FAILURES:
            reason = "repeated_failure"
    if reason is None:
        if not hits or confidence < config.out_of_scope_below:
            reason = "out_of_scope"
        elif confidence < config.answer_threshold:
            reason = "low_confidence"
    answer = compose(text, hits, result, config) if reason is None else ""
    key = index.vector_key(searcher.embedder, text)
    return Thought(text, result, hits, vector, key, confidence, reason, answer, repeats)


def ask(
    session: Session, *, conversation: Conversation, thought: Thought, open_ticket: TicketOpener
) -> Reply:
    """Apply ``thought`` to ``conversation``: record the turn, and answer or hand over. The conversation
    is locked first, so a handover racing this one (the customer pressed "talk to a person") opens
    one ticket, not two. The caller commits."""
    session.refresh(conversation, with_for_update=True)
    if conversation.state is ConversationState.handed_over or thought.reason == "already_handed_over":
        reply = Reply(conversation, STILL_WITH_PEOPLE, [], 0.0, True, "already_handed_over")
        return _record(session, conversation, thought.text, reply, {}, None)
    conversation.last_turn_at = utcnow()
    if thought.key is not None and thought.vector is not None:
        index.keep_vectors(session, {thought.key: thought.vector})
    for turn in _turns(session, conversation):
        if turn.id in thought.repeats:
            turn.failed = True
    if thought.reason is not None:
        reply = Reply(conversation, "", thought.hits, thought.confidence, True, thought.reason)
        _record(session, conversation, thought.text, reply, thought.result, thought.key)
        return hand_over(
            session, conversation=conversation, reason=thought.reason, open_ticket=open_ticket, reply=reply
        )
    reply = Reply(conversation, thought.answer, thought.hits, thought.confidence, False, None)
    return _record(session, conversation, thought.text, reply, thought.result, thought.key)


def _language_filter(language: str | None) -> Filters:
    if language is None:
        return PUBLIC
    return Filters(audiences=PUBLIC.audiences, statuses=PUBLIC.statuses, language=language)


def _turns(session: Session, conversation: Conversation) -> list[Turn]:
    return _turns_of(session, conversation.id)


def _turns_of(session: Session, conversation_id: int) -> list[Turn]:
    return list(
        session.scalars(select(Turn).where(Turn.conversation_id == conversation_id).order_by(Turn.id)).all()
    )


def _repeats(session: Session, previous: Sequence[Turn], vector: np.ndarray) -> list[int]:
    """The earlier answered turns whose question this one asks again (cosine over SAME_QUESTION): their
    answers did not help. A new question that the same broad article answers is not a repeat."""
    answered = [turn for turn in previous if not turn.handover and turn.vector_hash]
    if not answered:
        return []
    vectors = {
        row.hash: np.frombuffer(row.vector, dtype=np.float32)
        for row in session.scalars(select(Vector).where(Vector.hash.in_([t.vector_hash for t in answered])))
    }
    return [
        turn.id
        for turn in answered
        if (earlier := vectors.get(turn.vector_hash or "")) is not None
        and float(earlier @ vector) >= SAME_QUESTION
    ]


def _handover_reason(result: dict[str, Any], text: str, config: AssistantConfig) -> str | None:
    if ASK_FOR_PERSON.search(text):
        return "asked_for_person"
    urgency = result.get("urgency") or {}
    if SENSITIVE_REASONS & set(urgency.get("reasons") or []):
        return "sensitive"
    if _refund_over_limit(result, text, config.refund_limit):
        return "sensitive"
    if result.get("abusive") or float(result.get("frustration") or 0.0) >= config.frustration_limit:
        return "frustrated"
    return None


def _refund_over_limit(result: dict[str, Any], text: str, limit: float) -> bool:
    intents = {i["label"] for c in result.get("concerns") or [] for i in c.get("intents") or []}
    if not intents & REFUND_INTENTS and "refund" not in text.lower():
        return False
    amounts = [
        float(entity["amount"])
        for entity in result.get("entities") or []
        if entity.get("type") == "amount" and isinstance(entity.get("amount"), int | float)
    ]
    return any(amount > limit for amount in amounts)


STILL_WITH_PEOPLE = "A person from our team has your conversation now and will answer you here."
_HANDOVER = {
    "asked_for_person": "Of course. I'm passing you to a person from our team now; they will see everything "
    "you wrote here, so you won't need to repeat it.",
    "customer_choice": "I'm passing you to a person from our team now; they will see our conversation "
    "so far.",
    "sensitive": "This needs a person from our team. I've passed your message on with everything you wrote, "
    "and they will answer you here.",
    "frustrated": "I'm sorry this has been so frustrating. A person from our team will take it from here; "
    "they can see everything you wrote.",
    "repeated_failure": "I'm sorry my answers haven't solved this. A person from our team will take over and "
    "can see our conversation so far.",
    "out_of_scope": "I don't have an answer to that in our help articles, so I've passed your question to a "
    "person from our team. They will answer you here.",
    "low_confidence": "I'm not sure I have the right answer, so I've passed your question to a person from "
    "our team. They will answer you here.",
}


def compose(question: str, hits: Sequence[Hit], result: dict[str, Any], config: AssistantConfig) -> str:
    """The answer to ``question`` from ``hits``: phrased by the configured model, else extractive."""
    if config.llm_url:
        phrased = _phrase_with_model(question, hits, config)
        if phrased:
            return phrased
    return extractive_answer(hits, result)


def extractive_answer(hits: Sequence[Hit], result: dict[str, Any]) -> str:
    best = hits[0]
    emotion = (result.get("emotion") or {}).get("label")
    opening = "Sorry to hear about the trouble. " if emotion in {"anger", "sadness"} else ""
    passage = (best.section or best.passage).strip() or best.title
    lines = [f'{opening}Our help article "{best.title}" says:', "", passage]
    if len(hits) > 1 and hits[1].score >= best.score - 0.03:
        lines += ["", f'"{hits[1].title}" may also help.']
    lines += ["", "Did this answer your question? If not, I can pass you to a person."]
    return "\n".join(lines)


def _phrase_with_model(question: str, hits: Sequence[Hit], config: AssistantConfig) -> str | None:
    sources = "\n\n".join(
        f"[{n}] {hit.title}\n{hit.section or hit.passage}" for n, hit in enumerate(hits[:3], start=1)
    )
    system = (
        "You are a customer service assistant. Answer ONLY from the numbered help-article passages given. "
        "Cite them as [1], [2]. If they do not answer the question, say so. Be brief, clear and kind."
    )
    return ask_model(config, system, f"Passages:\n{sources}\n\nQuestion: {question}")


def ask_model(config: AssistantConfig, system: str, user: str, *, temperature: float = 0.2) -> str | None:
    """Return the configured OpenAI-compatible model's answer, or None on any failure (logged): every
    caller then falls back to what it builds without a model."""
    if not config.llm_url:
        return None
    headers = {"Authorization": f"Bearer {config.llm_key}"} if config.llm_key else {}
    messages = [{"role": "system", "content": system}, {"role": "user", "content": user}]
    try:
        response = httpx.post(
            config.llm_url.rstrip("/") + "/chat/completions",
            json={"model": config.llm_model, "messages": messages, "temperature": temperature},
            headers=headers,
            timeout=config.llm_timeout,
        )
        response.raise_for_status()
        content = response.json()["choices"][0]["message"]["content"]
    except (httpx.HTTPError, ValueError, KeyError, IndexError, TypeError) as error:
        log.warning("the model at %s failed (%s); going on without it", config.llm_url, error)
        return None
    return content.strip() if isinstance(content, str) and content.strip() else None


def hand_over(
    session: Session,
    *,
    conversation: Conversation,
    reason: str,
    open_ticket: TicketOpener,
    reply: Reply | None = None,
) -> Reply:
    """Give the conversation to a person, for good: a ticket with the transcript and the reason."""
    turns = _turns(session, conversation)
    transcript = _transcript(turns)
    first = turns[0].question if turns else "Question from the assistant"
    subject = first.splitlines()[0][:80] if first else "Question from the assistant"
    conversation.ticket_id = open_ticket(
        conversation, subject, transcript + f"\n\n[handover reason: {reason}]"
    )
    conversation.state = ConversationState.handed_over
    conversation.handover_reason = reason
    conversation.outcome = Outcome.handover
    conversation.ended_at = utcnow()
    answer = _HANDOVER.get(reason, _HANDOVER["customer_choice"])
    if reply is None:
        return Reply(conversation, answer, [], 0.0, True, reason)
    if turns:
        turns[-1].answer = answer
    reply.answer = answer
    return reply


def _transcript(turns: Sequence[Turn]) -> str:
    lines = ["Conversation with the self-service assistant:"]
    for turn in turns:
        lines.append(f"Customer: {turn.question}")
        if turn.answer and not turn.handover:
            lines.append(f"Assistant: {turn.answer}")
    return "\n".join(lines)


def _record(  # noqa: PLR0917
    session: Session,
    conversation: Conversation,
    question: str,
    reply: Reply,
    result: dict[str, Any],
    vector_hash: str | None,
) -> Reply:
    session.add(
        Turn(
            conversation_id=conversation.id,
            question=question,
            answer=reply.answer,
            article_ids=[hit.article_id for hit in reply.hits[:3]] if not reply.handover else [],
            confidence=round(reply.confidence, 4),
            handover=reply.handover,
            reason=reply.reason,
            triage=_triage_summary(result),
            vector_hash=vector_hash,
        )
    )
    session.flush()
    return reply


def _triage_summary(result: dict[str, Any]) -> dict[str, Any]:
    if not result:
        return {}
    return {
        "intents": sorted({i["label"] for c in result.get("concerns") or [] for i in c.get("intents") or []}),
        "emotion": (result.get("emotion") or {}).get("label"),
        "frustration": result.get("frustration"),
        "urgency": (result.get("urgency") or {}).get("level"),
        "urgency_reasons": (result.get("urgency") or {}).get("reasons"),
        "abusive": result.get("abusive"),
        "language": result.get("language"),
    }


def record_outcome(
    session: Session, *, conversation: Conversation, resolved: bool, open_ticket: TicketOpener
) -> Reply:
    """The customer's verdict on the last answer: resolved ends the conversation as confirmed; not
    resolved marks the answer failed, and the second failure hands over."""
    session.refresh(conversation, with_for_update=True)
    if conversation.state is ConversationState.handed_over:
        return Reply(conversation, STILL_WITH_PEOPLE, [], 0.0, True, "already_handed_over")
    turns = [turn for turn in _turns(session, conversation) if not turn.handover]
    if resolved:
        conversation.outcome = Outcome.confirmed
        conversation.ended_at = utcnow()
        return Reply(conversation, "Glad that helped!", [], 1.0, False, None)
    if turns:
        turns[-1].failed = True
        session.flush()
    if sum(1 for turn in turns if turn.failed) >= MAX_FAILURES:
        return hand_over(
            session, conversation=conversation, reason="repeated_failure", open_ticket=open_ticket
        )
    return Reply(
        conversation,
        "Sorry that didn't help. Could you tell me a bit more, or ask me to pass you to a person?",
        [],
        0.0,
        False,
        None,
    )


# -- who is asking, and the ticket a handover opens ----------------------------------------------------------
def customer_for(session: Session, *, principal: Principal | None, hint: CustomerHint | None) -> int | None:
    """The customer a conversation belongs to. A customer's own token names them; staff (a company's own
    server calling for its signed-in user) may name one by id or email. Without a token nothing the
    caller types is trusted: the customer is known only once a handover needs one."""
    if principal is not None and principal.is_customer:
        return principal.id
    if principal is None or not principal.is_staff or hint is None:
        return None
    if hint.id is not None:
        return customers.access_customer(session=session, principal=principal, customer_id=hint.id).id
    if hint.email:
        customer, _ = customers.resolve_customer(
            session=session, ref=CustomerRef(email=hint.email, name=hint.name), actor=principal
        )
        return customer.id
    return None


def web_ticket_opener(session: Session, *, hint: CustomerHint | None, channel: Channel) -> TicketOpener:
    """Open the handover ticket on ``channel`` (web: the answer goes by email when an address is known)."""

    def open_ticket(conversation: Conversation, subject: str, transcript: str) -> int:
        if conversation.customer_id is None:
            customer, _ = customers.resolve_customer(
                session=session,
                ref=CustomerRef(visitor="a_" + secrets.token_hex(8), name=hint.name if hint else None),
                actor=SYSTEM,
            )
            conversation.customer_id = customer.id
            if hint is not None and hint.email:
                # A typed address becomes this customer's only if nobody has it (it proves nothing).
                with contextlib.suppress(OmbudError):
                    customers.claim_identity(
                        session=session,
                        customer_id=customer.id,
                        kind=IdentityKind.email,
                        value=hint.email,
                        actor=SYSTEM,
                    )
        _, ticket, _ = channels.take_in(
            session=session,
            ticket=None,
            incoming=channels.Incoming(
                customer_id=conversation.customer_id,
                channel=channel,
                subject=subject,
                body=transcript,
                channel_meta={"assistant_conversation": conversation.public_id},
            ),
        )
        return ticket.id

    return open_ticket


def choose_person(session: Session, *, conversation: Conversation, open_ticket: TicketOpener) -> Reply:
    """The customer asked for a person (the button): always possible, whatever the assistant thought."""
    session.refresh(conversation, with_for_update=True)
    if conversation.state is ConversationState.handed_over:
        return Reply(conversation, STILL_WITH_PEOPLE, [], 0.0, True, "already_handed_over")
    return hand_over(session, conversation=conversation, reason="customer_choice", open_ticket=open_ticket)


def conversation_view(session: Session, conversation: Conversation) -> dict[str, Any]:
    return {
        "conversation_id": conversation.public_id,
        "state": str(conversation.state),
        "turns": [
            {
                "question": t.question,
                "answer": t.answer,
                "articles": t.article_ids,
                "confidence": t.confidence,
                "handover": t.handover,
                "reason": t.reason,
                "at": t.created_at.isoformat(),
            }
            for t in _turns(session, conversation)
        ],
        "handover_reason": conversation.handover_reason,
        "ticket_id": conversation.ticket_id,
        "outcome": str(conversation.outcome) if conversation.outcome else None,
    }
