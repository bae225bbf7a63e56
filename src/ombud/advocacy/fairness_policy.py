"""Policy that no longer fits: themes where agents' public replies cite policy while the customers stay
dissatisfied (a low rating, or a frustrated next message), with the same figures for the theme's other
tickets, the phrases cited and example exchanges. Shares the window, grouping and paging of
:mod:`ombud.advocacy.fairness`."""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from ombud.accounts.schemas import Principal
from ombud.advocacy.access import check_advocate
from ombud.advocacy.fairness import (
    DEFAULT_LIMIT,
    chunks,
    page_args,
    paged,
    scan_concerns,
    share,
    ticket_url,
    window,
)
from ombud.advocacy.fairness_schemas import FairnessPage, PolicyExample, PolicyMisfit
from ombud.tickets.models import AuthorType, Message, TicketRating
from ombud.triage.models import MessageTriage

# Policy that no longer fits. A customer is dissatisfied with a ticket when they rated it LOW_CSAT or
# below (1-5), or their next message after the agent's reply reads frustration HIGH_FRUSTRATION or more.
LOW_CSAT = 2
HIGH_FRUSTRATION = 0.6
# A group is listed once this many of its tickets had a reply citing policy, and at least this share of
# those left the customer dissatisfied.
MIN_POLICY_TICKETS = 3
MISFIT_SHARE = 0.5
MAX_EXAMPLES = 3
EXCERPT = 240

# What "citing policy" looks like in an agent's public reply: phrases per language, matched case-insensitively
# as whole words, with any run of spaces or commas between the words. Extend the list rather than loosen it.
POLICY_PHRASES: dict[str, tuple[str, ...]] = {
    "en": (
        "our policy",
        "company policy",
        "as per policy",
        "unfortunately we cannot",
        "unfortunately we can't",
        "unfortunately we can not",
        "unfortunately we are unable",
        "we are not able to",
        "terms and conditions",
        "not eligible",
        "non-refundable",
        "outside the return window",
        "outside the warranty",
        "against our policy",
    ),
    "de": (
        "unsere richtlinien",
        "unserer richtlinie",
        "leider können wir",
        "leider ist es uns nicht möglich",
        "allgemeinen geschäftsbedingungen",
        "agb",
        "nicht berechtigt",
        "nicht erstattungsfähig",
    ),
    "fr": (
        "notre politique",
        "malheureusement nous ne pouvons pas",
        "malheureusement nous ne pouvons",
        "conditions générales",
        "pas éligible",
        "non éligible",
        "non remboursable",
    ),
    "es": (
        "nuestra política",
        "lamentablemente no podemos",
        "desafortunadamente no podemos",
        "términos y condiciones",
        "no es elegible",
        "no reembolsable",
    ),
}


def _phrase_pattern(phrase: str) -> str:
    # A typed apostrophe matches the typographic one too.
    words = [re.escape(w).replace("'", "['\u2019]") for w in phrase.split()]
    return r"(?<!\w)" + r"[\s,]+".join(words) + r"(?!\w)"


_POLICY_RE = [
    (phrase, re.compile(_phrase_pattern(phrase), re.IGNORECASE))
    for phrases in POLICY_PHRASES.values()
    for phrase in phrases
]


def policy_phrases_in(text: str) -> list[str]:
    """Return the policy phrases ``text`` contains (from :data:`POLICY_PHRASES`), in list order."""
    return [phrase for phrase, pattern in _POLICY_RE if pattern.search(text)]


def _like_pattern(phrase: str) -> str:
    """The LIKE pattern that pre-filters replies for ``phrase`` in SQL: its runs of ASCII letters in order,
    anything between (SQLite's lower() folds ASCII only; spaces and commas vary). Every text the regular
    expression matches, lowered, matches it; the regular expression decides."""
    return "%" + "%".join(re.findall(r"[a-z]+", phrase.lower())) + "%"


LIKE_PATTERNS = sorted({_like_pattern(phrase) for phrases in POLICY_PHRASES.values() for phrase in phrases})


@dataclass(frozen=True)
class _Said:
    """One public message of a thread, without its text: only what the verdict reads."""

    id: int
    author_type: AuthorType
    created_at: dt.datetime
    frustration: float | None


@dataclass
class _Example:
    ticket_id: int
    phrases: list[str]
    reply: str
    replied_at: dt.datetime
    next_id: int | None
    frustration: float | None
    rating: int | None


@dataclass
class _TicketVerdict:
    policy: bool = False
    dissatisfied: bool = False
    phrases: set[str] = field(default_factory=set)
    example: _Example | None = None


def _excerpt(text: str, phrase: str | None = None) -> str:
    text = " ".join(text.split())
    if len(text) <= EXCERPT:
        return text
    start = 0
    if phrase:
        found = re.search(_phrase_pattern(phrase), text, re.IGNORECASE)
        if found:
            start = max(found.start() - EXCERPT // 3, 0)
    piece = text[start : start + EXCERPT]
    return ("…" if start else "") + piece + ("…" if start + EXCERPT < len(text) else "")


def _public(since: dt.datetime, until: dt.datetime) -> list[Any]:
    return [
        Message.internal.is_(False),
        Message.created_at >= since,
        Message.created_at < until,
    ]


def _policy_replies(
    *, session: Session, ticket_ids: set[int], since: dt.datetime, until: dt.datetime
) -> dict[int, tuple[list[str], str]]:
    """Return the agents' public replies on ``ticket_ids`` that cite policy: message id -> (phrases, the
    excerpt around the first). Only replies matching a LIKE pattern are read at all."""
    found: dict[int, tuple[list[str], str]] = {}
    cites = or_(*(func.lower(Message.body_text).like(pattern) for pattern in LIKE_PATTERNS))
    for chunk in chunks(ticket_ids):
        for message_id, body in session.execute(
            select(Message.id, Message.body_text).where(
                Message.ticket_id.in_(chunk),
                Message.author_type == AuthorType.agent,
                cites,
                *_public(since, until),
            )
        ):
            phrases = policy_phrases_in(body)
            if phrases:
                found[message_id] = (phrases, _excerpt(body, phrases[0]))
    return found


def _verdicts(
    *, session: Session, ticket_ids: set[int], since: dt.datetime, until: dt.datetime
) -> dict[int, _TicketVerdict]:
    """Return each ticket's verdict. Reads the threads' shape (who wrote when, the customer's frustration)
    without texts, and the texts of the replies citing policy only."""
    policy = _policy_replies(session=session, ticket_ids=ticket_ids, since=since, until=until)
    messages: dict[int, list[_Said]] = defaultdict(list)
    for chunk in chunks(ticket_ids):
        for message_id, ticket_id, author, at, said_feeling in session.execute(
            select(
                Message.id,
                Message.ticket_id,
                Message.author_type,
                Message.created_at,
                MessageTriage.frustration,
            )
            .outerjoin(MessageTriage, MessageTriage.message_id == Message.id)
            .where(
                Message.ticket_id.in_(chunk),
                Message.author_type.in_((AuthorType.customer, AuthorType.agent)),
                *_public(since, until),
            )
            .order_by(Message.ticket_id, Message.created_at, Message.id)
        ):
            messages[ticket_id].append(
                _Said(
                    id=message_id,
                    author_type=author,
                    created_at=at,
                    frustration=float(said_feeling)
                    if said_feeling is not None and author == AuthorType.customer
                    else None,
                )
            )
    ratings: dict[int, int] = {}
    for chunk in chunks(ticket_ids):
        for ticket_id, score in session.execute(
            select(TicketRating.ticket_id, TicketRating.score).where(TicketRating.ticket_id.in_(chunk))
        ):
            ratings[ticket_id] = int(score)
    out: dict[int, _TicketVerdict] = {}
    for ticket_id in ticket_ids:
        verdict = _TicketVerdict()
        rating = ratings.get(ticket_id)
        low_rating = rating is not None and rating <= LOW_CSAT
        thread = messages.get(ticket_id, [])
        upset_after_any = False
        upset_after_policy = False
        for index, message in enumerate(thread):
            if message.author_type != AuthorType.agent:
                continue
            after = next((m for m in thread[index + 1 :] if m.author_type == AuthorType.customer), None)
            feeling = after.frustration if after is not None else None
            upset = feeling is not None and feeling >= HIGH_FRUSTRATION
            upset_after_any = upset_after_any or upset
            if message.id not in policy:
                continue
            phrases, reply = policy[message.id]
            verdict.policy = True
            verdict.phrases.update(phrases)
            upset_after_policy = upset_after_policy or upset
            if verdict.example is None or (
                upset and not (verdict.example.frustration or 0) >= HIGH_FRUSTRATION
            ):
                verdict.example = _Example(
                    ticket_id=ticket_id,
                    phrases=phrases,
                    reply=reply,
                    replied_at=message.created_at,
                    next_id=after.id if after is not None else None,
                    frustration=feeling,
                    rating=rating,
                )
        verdict.dissatisfied = low_rating or (upset_after_policy if verdict.policy else upset_after_any)
        out[ticket_id] = verdict
    return out


def _examples(*, session: Session, found: list[_Example]) -> list[PolicyExample]:
    """Return the examples shown, with the customers' next messages (only these texts are read)."""
    wanted = [e.next_id for e in found if e.next_id is not None]
    texts: dict[int, str] = {}
    if wanted:
        rows = session.execute(select(Message.id, Message.body_text).where(Message.id.in_(wanted))).all()
        texts = {int(message_id): str(body) for message_id, body in rows}
    return [
        PolicyExample(
            ticket_id=e.ticket_id,
            ticket_url=ticket_url(e.ticket_id),
            phrases=e.phrases,
            reply=e.reply,
            replied_at=e.replied_at,
            customer_next=_excerpt(texts[e.next_id]) if e.next_id in texts else None,
            frustration=e.frustration,
            rating=e.rating,
        )
        for e in found
    ]


def policy_misfit(
    *,
    session: Session,
    principal: Principal,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    offset: int = 0,
    limit: int = DEFAULT_LIMIT,
) -> FairnessPage[PolicyMisfit]:
    """Return the groups where agents' replies cite policy (:data:`POLICY_PHRASES`) and the customers
    stay dissatisfied, with counts, the same figures for the group's other tickets, the phrases cited and
    example exchanges; most dissatisfied first (advocates, leads, admins)."""
    check_advocate(principal)
    page_args(offset, limit)
    since, until = window(since, until)
    scan = scan_concerns(session=session, since=since, until=until)
    members: dict[tuple[str, Any], set[int]] = defaultdict(set)
    for row in scan.rows:
        key = scan.key_of.get(row.concern_id)
        if key is not None:
            members[key].add(row.ticket_id)
    verdicts = _verdicts(
        session=session, ticket_ids={t for ts in members.values() for t in ts}, since=since, until=until
    )
    items: list[PolicyMisfit] = []
    chosen: dict[int, list[_Example]] = {}  # id(item) -> the examples to show
    for key, tickets in members.items():
        policy = [verdicts[t] for t in sorted(tickets) if verdicts[t].policy]
        others = [verdicts[t] for t in tickets if not verdicts[t].policy]
        unhappy = [v for v in policy if v.dissatisfied]
        if len(policy) < MIN_POLICY_TICKETS or len(unhappy) / len(policy) < MISFIT_SHARE:
            continue
        others_unhappy = sum(1 for v in others if v.dissatisfied)
        phrases: Counter[str] = Counter(p for v in policy for p in v.phrases)
        items.append(
            PolicyMisfit(
                group=scan.groups[key],
                policy_tickets=len(policy),
                policy_dissatisfied=len(unhappy),
                dissatisfied_share=share(len(unhappy), len(policy)),
                other_tickets=len(others),
                other_dissatisfied=others_unhappy,
                other_share=share(others_unhappy, len(others)) if others else None,
                phrases=dict(phrases.most_common()),
                examples=[],
            )
        )
        chosen[id(items[-1])] = [v.example for v in unhappy if v.example is not None][:MAX_EXAMPLES]
    items.sort(key=lambda i: (-i.policy_dissatisfied, -i.dissatisfied_share, i.group.label))
    shown = paged(items, offset=offset, limit=limit)
    for item in shown:
        item.examples = _examples(session=session, found=chosen[id(item)])
    return FairnessPage[PolicyMisfit](
        items=shown,
        total=len(items),
        offset=offset,
        limit=limit,
        since=since,
        until=until,
        thresholds={
            "low_csat": LOW_CSAT,
            "high_frustration": HIGH_FRUSTRATION,
            "min_policy_tickets": MIN_POLICY_TICKETS,
            "misfit_share": MISFIT_SHARE,
        },
    )
