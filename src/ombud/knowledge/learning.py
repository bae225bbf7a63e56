"""The learning loop: knowledge gaps (what customers ask that no article answers well), stale articles
(whose suggestions stopped resolving tickets, or that readers find unhelpful), and the assistant's
honest metrics.

Gaps are found from what is already stored: each concern's best suggestion score (the suggest job keeps
the weak ones) and each question the assistant could not answer, with the embeddings kept when they were
searched. Similar questions are grouped greedily around the most central one (cosine over GAP_SIMILARITY).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ombud.knowledge.models import Article, Conversation, ConversationState, Outcome, Suggestion, Turn, Vector
from ombud.storage.base import utcnow
from ombud.tickets import feeds

GAP_SCORE = 0.6  # a concern whose best article scores below this is not answered well
GAP_SIMILARITY = 0.72
MAX_GAP_ITEMS = 2000  # per source (concerns, assistant questions): bounds the grouping's n x n matrix
DURABLE_DAYS = 7
ABANDONED_AFTER = dt.timedelta(minutes=30)


@dataclass
class Gap:
    title: str
    questions: list[str]
    asked: int
    customers: int
    intents: list[str]
    best_article_id: int | None
    best_score: float
    tickets: list[int] = field(default_factory=list)
    draft: str | None = None


def gaps(*, session: Session, days: int = 90, min_asked: int = 2, limit: int = 20) -> list[Gap]:
    """Groups of customer concerns and assistant questions no article answers well, most asked first."""
    since = utcnow() - dt.timedelta(days=days)
    best = (
        select(
            Suggestion.message_id,
            Suggestion.concern_index,
            func.max(Suggestion.score).label("score"),
        )
        .where(Suggestion.created_at >= since, Suggestion.concern_index >= 0)
        .group_by(Suggestion.message_id, Suggestion.concern_index)
        .subquery()
    )
    concern_rows = session.execute(
        select(
            Suggestion.concern_text,
            Suggestion.vector_hash,
            Suggestion.customer_id,
            Suggestion.ticket_id,
            Suggestion.intent,
            Suggestion.article_id,
            Suggestion.score,
        )
        .join(
            best,
            (best.c.message_id == Suggestion.message_id)
            & (best.c.concern_index == Suggestion.concern_index)
            & (best.c.score == Suggestion.score),
        )
        .where(Suggestion.score < GAP_SCORE, Suggestion.rank == 0, Suggestion.vector_hash.is_not(None))
        .order_by(Suggestion.id.desc())
        .limit(MAX_GAP_ITEMS)
    ).all()
    items: list[tuple[str, str, str, int | None, str | None, int | None, float]] = [
        (r[0], str(r[1]), f"c{r[2]}", r[3], r[4], r[5], float(r[6])) for r in concern_rows
    ]
    turn_rows = session.execute(
        select(
            Turn.question, Turn.vector_hash, Conversation.customer_id, Conversation.public_id, Turn.confidence
        )
        .join(Conversation, Conversation.id == Turn.conversation_id)
        .where(
            Turn.created_at >= since,
            Turn.reason.in_(["out_of_scope", "low_confidence", "repeated_failure"]),
            Turn.vector_hash.is_not(None),
        )
        .limit(MAX_GAP_ITEMS)
    ).all()
    items += [
        (r[0], str(r[1]), f"c{r[2]}" if r[2] else f"v{r[3]}", None, None, None, float(r[4]))
        for r in turn_rows
    ]
    if not items:
        return []
    vectors = _vectors(session, {item[1] for item in items})
    items = [item for item in items if item[1] in vectors]
    if not items:
        return []
    matrix = np.stack([vectors[item[1]] for item in items])
    groups = _group(matrix)
    found: list[Gap] = []
    for members in groups:
        if len(members) < min_asked:
            continue
        centroid = matrix[members].mean(axis=0)
        order = sorted(members, key=lambda i: -float(matrix[i] @ centroid))
        questions = list(dict.fromkeys(items[i][0] for i in order))[:5]
        named = Counter(intent for i in members if (intent := items[i][4]) is not None)
        intents = [name for name, _ in named.most_common(3)]
        best_member = max(members, key=lambda i: items[i][6])
        found.append(
            Gap(
                title=f"Write an article about: {questions[0]}",
                questions=questions,
                asked=len(members),
                customers=len({items[i][2] for i in members}),
                intents=intents,
                best_article_id=items[best_member][5],
                best_score=round(items[best_member][6], 4),
                tickets=sorted({t for i in members if (t := items[i][3]) is not None}),
            )
        )
    found.sort(key=lambda g: (-g.customers, -g.asked))
    found = found[:limit]
    for gap in found:
        replies = feeds.resolving_replies(session=session, ticket_ids=gap.tickets, limit=1)
        gap.draft = replies[0][1] if replies else None
    return found


def _vectors(session: Session, hashes: set[str]) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    keys = list(hashes)
    for start in range(0, len(keys), 500):
        for row in session.scalars(select(Vector).where(Vector.hash.in_(keys[start : start + 500]))):
            out[row.hash] = np.frombuffer(row.vector, dtype=np.float32)
    return out


def _group(matrix: np.ndarray) -> list[list[int]]:
    """Greedy grouping: the item with the most close neighbours leads a group of its neighbours, then
    the next among those left. Quadratic in the items, with MAX_GAP_ITEMS bounding it."""
    close = (matrix @ matrix.T) >= GAP_SIMILARITY
    left = np.ones(len(matrix), dtype=bool)
    counts = close.sum(axis=1).astype(np.int64)  # close neighbours still ungrouped, kept up to date
    groups: list[list[int]] = []
    while left.any():
        leader = int(np.argmax(np.where(left, counts, -1)))
        members = np.flatnonzero(close[leader] & left)
        groups.append([int(i) for i in members])
        left[members] = False
        counts -= close[:, members].sum(axis=1)
    return groups


# -- stale articles ------------------------------------------------------------------------------------------
def stale_articles(*, session: Session, days: int = 30, min_samples: int = 5) -> list[dict[str, Any]]:
    """Articles to look at again, each with why: its suggestions stopped resolving tickets (resolution rate
    in the last ``days`` under half of the ``days`` before), readers mostly find it unhelpful, or the
    assistant's answers with it keep failing."""
    now = utcnow()
    recent_from, earlier_from = now - dt.timedelta(days=days), now - dt.timedelta(days=3 * days)
    rows = session.execute(
        select(Suggestion.article_id, Suggestion.ticket_id, Suggestion.created_at).where(
            Suggestion.rank == 0, Suggestion.article_id.is_not(None), Suggestion.created_at >= earlier_from
        )
    ).all()
    outcomes = feeds.ticket_outcomes(session=session, ticket_ids=list({int(r[1]) for r in rows}))
    tally: dict[int, dict[str, list[bool]]] = {}
    for article_id, ticket_id, created_at in rows:
        if article_id is None:
            continue
        period = "recent" if created_at >= recent_from else "earlier"
        tally.setdefault(int(article_id), {"recent": [], "earlier": []})[period].append(
            outcomes.get(int(ticket_id), False)
        )
    flagged: dict[int, list[str]] = {}
    for article_id, periods in tally.items():
        recent, earlier = periods["recent"], periods["earlier"]
        if len(recent) >= min_samples and len(earlier) >= min_samples:
            recent_rate, earlier_rate = sum(recent) / len(recent), sum(earlier) / len(earlier)
            if earlier_rate > 0 and recent_rate < earlier_rate / 2:
                flagged.setdefault(article_id, []).append(
                    f"suggestions stopped resolving tickets: {recent_rate:.0%} resolved in the last {days} "
                    f"days against {earlier_rate:.0%} before"
                )
    for article in session.scalars(
        select(Article).where(Article.not_helpful >= min_samples, Article.not_helpful > Article.helpful)
    ):
        flagged.setdefault(article.id, []).append(
            f"readers found it unhelpful {article.not_helpful} times, helpful {article.helpful} times"
        )
    failing: Counter[int] = Counter()
    answered: Counter[int] = Counter()
    for article_ids, failed in session.execute(
        select(Turn.article_ids, Turn.failed).where(Turn.created_at >= recent_from, Turn.handover.is_(False))
    ):
        if article_ids:
            answered[int(article_ids[0])] += 1
            failing[int(article_ids[0])] += int(bool(failed))
    for article_id, total in answered.items():
        if total >= min_samples and failing[article_id] / total > 0.5:
            flagged.setdefault(article_id, []).append(
                f"the assistant's answers with it failed {failing[article_id]} of {total} times"
            )
    if not flagged:
        return []
    titles = {
        int(row[0]): str(row[1])
        for row in session.execute(select(Article.id, Article.title).where(Article.id.in_(flagged))).all()
    }
    return [
        {"article_id": article_id, "title": titles.get(article_id, ""), "reasons": reasons}
        for article_id, reasons in sorted(flagged.items())
        if article_id in titles
    ]


# -- the assistant's metrics ---------------------------------------------------------------------------------
def assistant_metrics(*, session: Session, days: int = 30) -> dict[str, Any]:
    """Conversations in the last ``days``, by outcome, kept apart: confirmed by the customer, assumed
    (the customer left after an answer and said nothing), left unresolved (said it did not help, then
    left), handed over (by reason), still open. Durable:
    resolved conversations whose customer did not write in again about the same concern within 7 days
    (counted only for known customers whose 7 days have passed)."""
    now = utcnow()
    since = now - dt.timedelta(days=days)
    conversations = session.scalars(select(Conversation).where(Conversation.created_at >= since)).all()
    confirmed = assumed = handed_over = still_open = left_unresolved = 0
    last_failed = _last_answer_failed(session, [c.id for c in conversations])
    reasons: Counter[str] = Counter()
    resolved: list[Conversation] = []
    for conversation in conversations:
        if conversation.state is ConversationState.handed_over:
            handed_over += 1
            reasons[conversation.handover_reason or "unknown"] += 1
        elif conversation.outcome is Outcome.confirmed:
            confirmed += 1
            resolved.append(conversation)
        elif now - conversation.last_turn_at >= ABANDONED_AFTER:
            if last_failed.get(conversation.id):
                left_unresolved += 1  # the customer said the answer did not help, then left
            else:
                assumed += 1
                resolved.append(conversation)
        else:
            still_open += 1
    durable, checked = _durable(session, resolved, now)
    return {
        "days": days,
        "conversations": len(conversations),
        "resolved_confirmed": confirmed,
        "resolved_assumed": assumed,
        "handed_over": handed_over,
        "handovers_by_reason": dict(reasons),
        "open": still_open,
        "left_unresolved": left_unresolved,
        "durable_checked": checked,
        "durable_resolutions": durable,
    }


def _last_answer_failed(session: Session, conversation_ids: list[int]) -> dict[int, bool]:
    """Whether each conversation's last answer was marked failed (for the ones that have answers)."""
    last: dict[int, bool] = {}
    for start in range(0, len(conversation_ids), 500):
        rows = session.execute(
            select(Turn.conversation_id, Turn.failed)
            .where(Turn.conversation_id.in_(conversation_ids[start : start + 500]), Turn.handover.is_(False))
            .order_by(Turn.id)
        ).all()
        for conversation_id, failed in rows:
            last[int(conversation_id)] = bool(failed)
    return last


def _durable(session: Session, resolved: list[Conversation], now: dt.datetime) -> tuple[int, int]:
    """Of ``resolved`` conversations with a known customer and 7 days behind them, how many were followed
    by no new contact on the same concern (a concern suggestion matching the article the assistant cited)."""
    durable = checked = 0
    for conversation in resolved:
        ended = conversation.ended_at or conversation.last_turn_at
        if conversation.customer_id is None or now - ended < dt.timedelta(days=DURABLE_DAYS):
            continue
        cited = {
            int(ids[0])
            for ids in session.scalars(
                select(Turn.article_ids).where(Turn.conversation_id == conversation.id)
            )
            if ids
        }
        checked += 1
        came_back = session.scalar(
            select(func.count())
            .select_from(Suggestion)
            .where(
                Suggestion.customer_id == conversation.customer_id,
                Suggestion.created_at > ended,
                Suggestion.created_at <= ended + dt.timedelta(days=DURABLE_DAYS),
                Suggestion.rank == 0,
                Suggestion.article_id.in_(cited or {0}),
            )
        )
        durable += int(not came_back)
    return durable, checked
