"""An agent's growth figures, computed from what happened: reply-check records, satisfaction on their
tickets, role-play results, and the kind words customers wrote about them.

Every function here answers for ONE agent; the caller checks who may see it (ombud.people.access). There is
deliberately no function that lists several agents' figures: these help a person grow, never rank them.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ombud.people.growth_schemas import (
    FINDING_WORDS,
    CodeCount,
    Figures,
    GoalProgress,
    KindWord,
    KindWords,
    ReplyCheckSummary,
    WeekPoint,
)
from ombud.people.models import Goal, GoalKind, ReplyCheckRecord
from ombud.people.training_models import Scenario, SessionState, TrainingSession
from ombud.storage.base import utcnow
from ombud.tickets.models import AuthorType, Message, Ticket, TicketRating, TicketTag
from ombud.triage import service as triage

PERIOD = dt.timedelta(days=30)  # progress compares the last 30 days with the 30 before the goal was set
WEEKS = 6  # the sparkline's points
KIND_WORDS_DAYS = 90
# A customer's thanks counts for the agent whose public reply it followed within this long.
THANKS_WITHIN = dt.timedelta(days=7)
MAX_QUOTE = 280

# Thanks and praise in the four languages triage knows best; a whole word, in any case.
_KIND = re.compile(
    r"\b(?:thanks?|thank\s+you|thx|appreciated?|grateful|great\s+(?:job|work|help|service)|awesome|"
    r"brilliant|excellent|fantastic|amazing|wonderful|perfect|life\s?saver|you(?:'re|\s+are)\s+the\s+best|"
    r"(?:so|very|really)\s+helpful|danke(?:sch(?:ö|oe)n)?|vielen\s+dank|herzlichen\s+dank|toll|hilfreich|"
    r"klasse|prima|merci|g[ée]nial|parfait|formidable|gracias|genial|perfecto|excelente|estupendo|"
    r"muy\s+amable)\b",
    re.IGNORECASE,
)
# Thanks that are no praise: a sign-off before the answer, or sarcasm.
_NOT_KIND = re.compile(
    r"\b(?:thanks?\s+(?:you\s+)?(?:for\s+nothing|in\s+advance)|thank\s+you\s+(?:for\s+nothing|in\s+advance)|"
    r"no,?\s+thanks?|danke\s+im\s+voraus|vielen\s+dank\s+im\s+voraus|merci\s+(?:d'|par\s+)avance|"
    r"gracias\s+(?:de\s+antemano|por\s+adelantado|por\s+nada))\b",
    re.IGNORECASE,
)
_POSITIVE_EMOTIONS = frozenset({"joy", "optimism", "gratitude"})
_QUOTED_HEADER = re.compile(
    r"^(?:On .{0,200} wrote:|Am .{0,200} schrieb .{0,200}:|Le .{0,200} a écrit ?:)\s*$"
)


def _window(end: dt.datetime, length: dt.timedelta = PERIOD) -> tuple[dt.datetime, dt.datetime]:
    return end - length, end


# -- the figures ------------------------------------------------------------------------------------------
def finding_figures(
    *, session: Session, user_id: int, code: str | None, start: dt.datetime, end: dt.datetime
) -> Figures:
    """Replies of ``user_id`` checked in [start, end) and how many had finding ``code`` (None: any)."""
    rows = session.scalars(
        select(ReplyCheckRecord.findings).where(
            ReplyCheckRecord.user_id == user_id,
            ReplyCheckRecord.created_at >= start,
            ReplyCheckRecord.created_at < end,
        )
    ).all()
    total = len(rows)
    hit = sum(1 for findings in rows if (code in (findings or []) if code else bool(findings)))
    return Figures(value=round(hit / total, 4) if total else None, count=hit, total=total)


def _tagged(product: str) -> Any:
    return select(TicketTag.ticket_id).where(TicketTag.tag == f"product:{product}")


def csat_figures(
    *, session: Session, user_id: int, start: dt.datetime, end: dt.datetime, product: str | None = None
) -> Figures:
    """The mean satisfaction rating given in [start, end) on tickets assigned to ``user_id``."""
    query = (
        select(func.count(TicketRating.id), func.avg(TicketRating.score))
        .join(Ticket, Ticket.id == TicketRating.ticket_id)
        .where(Ticket.assignee_id == user_id, TicketRating.created_at >= start, TicketRating.created_at < end)
    )
    if product:
        query = query.where(Ticket.id.in_(_tagged(product)))
    count, mean = session.execute(query).one()
    return Figures(value=round(float(mean), 2) if count else None, count=int(count), total=int(count))


def training_figures(
    *,
    session: Session,
    user_id: int,
    start: dt.datetime,
    end: dt.datetime,
    persona: str | None = None,
    product: str | None = None,
) -> Figures:
    """The mean overall score of ``user_id``'s role-play sessions finished in [start, end)."""
    query = (
        select(TrainingSession.score)
        .join(Scenario, Scenario.id == TrainingSession.scenario_id)
        .where(
            TrainingSession.user_id == user_id,
            TrainingSession.state == SessionState.finished,
            TrainingSession.finished_at >= start,
            TrainingSession.finished_at < end,
        )
    )
    if persona:
        query = query.where(Scenario.persona == persona)
    if product:
        query = query.where(func.lower(Scenario.product) == product)
    scores = [
        float(s["overall"])
        for s in session.scalars(query).all()
        if isinstance(s, dict)
        and isinstance(s.get("overall"), int | float)
        and not isinstance(s["overall"], bool)
    ]
    mean = round(sum(scores) / len(scores), 1) if scores else None
    return Figures(value=mean, count=len(scores), total=len(scores))


def product_figures(
    *, session: Session, user_id: int, product: str, start: dt.datetime, end: dt.datetime
) -> Figures:
    """Tickets tagged ``product:<product>`` that ``user_id`` answered publicly in [start, end), with the
    satisfaction on them and the training sessions on that product."""
    handled = session.scalar(
        select(func.count(func.distinct(Message.ticket_id))).where(
            Message.author_user_id == user_id,
            Message.author_type == AuthorType.agent,
            Message.internal.is_(False),
            Message.created_at >= start,
            Message.created_at < end,
            Message.ticket_id.in_(_tagged(product)),
        )
    )
    csat = csat_figures(session=session, user_id=user_id, start=start, end=end, product=product)
    training = training_figures(session=session, user_id=user_id, start=start, end=end, product=product)
    tickets = int(handled or 0)
    return Figures(
        value=float(tickets),
        count=tickets,
        total=tickets,
        detail={
            "csat": csat.value,
            "ratings": float(csat.count),
            "sessions": float(training.count),
            "training": training.value,
        },
    )


def figures_for(
    *,
    session: Session,
    user_id: int,
    kind: GoalKind,
    target: dict[str, Any],
    start: dt.datetime,
    end: dt.datetime,
) -> Figures:
    """The figures a goal of ``kind`` and ``target`` is measured with, over [start, end)."""
    if kind is GoalKind.finding:
        return finding_figures(session=session, user_id=user_id, code=target["code"], start=start, end=end)
    if kind is GoalKind.csat:
        return csat_figures(session=session, user_id=user_id, start=start, end=end)
    if kind is GoalKind.training:
        return training_figures(
            session=session, user_id=user_id, start=start, end=end, persona=target.get("persona")
        )
    return product_figures(session=session, user_id=user_id, product=target["product"], start=start, end=end)


def baseline_for(
    *, session: Session, user_id: int, kind: GoalKind, target: dict[str, Any], at: dt.datetime
) -> dict[str, Any]:
    """Where the agent stood over the PERIOD before ``at`` (stored on the goal when it is set)."""
    start, end = _window(at)
    figures = figures_for(session=session, user_id=user_id, kind=kind, target=target, start=start, end=end)
    return {**figures.model_dump(mode="json"), "start": start.isoformat(), "end": end.isoformat()}


# -- progress ---------------------------------------------------------------------------------------------
def is_met(kind: GoalKind, target: dict[str, Any], current: Figures) -> bool:
    """Whether ``current`` reaches the goal's target (no data never does)."""
    if current.value is None or current.total == 0:
        return False
    if kind is GoalKind.finding:
        return current.value <= float(target["max_rate"])
    if kind in (GoalKind.csat, GoalKind.training):
        return current.value >= float(target["min_score"])
    if current.count < int(target.get("min_tickets") or 1):
        return False
    min_csat = target.get("min_csat")
    csat = current.detail.get("csat")
    return min_csat is None or (csat is not None and csat >= float(min_csat))


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{round(value * 100)}%"


def _compare(now: float | None, before: float | None, show: Any) -> str:
    if now is None:
        return ""
    if before is None:
        return ", nothing to compare with from before the goal"
    if round(now, 3) == round(before, 3):
        return f", the same as before the goal ({show(before)})"
    return f", {'down' if now < before else 'up'} from {show(before)}"


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _finding_words(target: dict[str, Any], current: Figures, baseline: Figures) -> str:
    words = FINDING_WORDS.get(target["code"], target["code"])
    if current.total == 0:
        return f"No checked replies in the last {PERIOD.days} days yet."
    limit = _pct(float(target["max_rate"]))
    return (
        f"{current.count} of {current.total} replies had {words} ({_pct(current.value)})"
        f"{_compare(current.value, baseline.value, _pct)}; the target is at most {limit}."
    )


def _score_words(kind: GoalKind, target: dict[str, Any], current: Figures, baseline: Figures) -> str:
    def show(value: float) -> str:
        return f"{value:.1f}" if kind is GoalKind.csat else f"{value:.0f}"

    if kind is GoalKind.csat:
        if current.total == 0:
            return f"No satisfaction ratings on your tickets in the last {PERIOD.days} days yet."
        what, measured = "Average satisfaction", f"from {_plural(current.count, 'rating')}"
    else:
        persona = f" ({target['persona']} customers)" if target.get("persona") else ""
        if current.total == 0:
            return f"No finished training sessions{persona} in the last {PERIOD.days} days yet."
        what, measured = (
            "Average training score",
            f"over {_plural(current.count, 'finished session')}{persona}",
        )
    now = show(current.value or 0.0)
    return (
        f"{what} {now} {measured}{_compare(current.value, baseline.value, show)}; "
        f"the target is {show(float(target['min_score']))} or more."
    )


def _product_words(target: dict[str, Any], current: Figures, baseline: Figures) -> str:
    csat = current.detail.get("csat")
    sessions = int(current.detail.get("sessions") or 0)
    satisfaction = "—" if csat is None else f"{csat:.1f}"
    return (
        f"{_plural(current.count, 'ticket')} on {target['product']} in the last {PERIOD.days} days "
        f"(before the goal: {baseline.count}); satisfaction on them {satisfaction}; "
        f"{_plural(sessions, 'training session')} on it."
    )


def summary(kind: GoalKind, target: dict[str, Any], current: Figures, baseline: Figures) -> str:
    """The progress in plain words ("3 of 40 replies had jargon (8%), down from 21%")."""
    if kind is GoalKind.finding:
        return _finding_words(target, current, baseline)
    if kind is GoalKind.product:
        return _product_words(target, current, baseline)
    return _score_words(kind, target, current, baseline)


def _series(
    *, session: Session, user_id: int, kind: GoalKind, target: dict[str, Any], now: dt.datetime
) -> list[WeekPoint]:
    points = []
    for back in range(WEEKS - 1, -1, -1):
        end = now - dt.timedelta(weeks=back)
        start = end - dt.timedelta(weeks=1)
        figures = figures_for(
            session=session, user_id=user_id, kind=kind, target=target, start=start, end=end
        )
        points.append(WeekPoint(week_start=start.date(), value=figures.value, total=figures.total))
    return points


def progress(*, session: Session, goal: Goal) -> GoalProgress:
    """The goal's progress: the last PERIOD against its baseline, a weekly series and plain words."""
    now = utcnow()
    start, end = _window(now + dt.timedelta(seconds=1))
    current = figures_for(
        session=session, user_id=goal.user_id, kind=goal.kind, target=goal.target, start=start, end=end
    )
    baseline = Figures.model_validate(goal.baseline or {"value": None, "count": 0, "total": 0})
    return GoalProgress(
        goal_id=goal.id,
        kind=goal.kind,
        days=PERIOD.days,
        current=current,
        baseline=baseline,
        series=_series(session=session, user_id=goal.user_id, kind=goal.kind, target=goal.target, now=end),
        met=is_met(goal.kind, goal.target, current),
        summary=summary(goal.kind, goal.target, current, baseline),
    )


# -- the reply check over time ----------------------------------------------------------------------------
def reply_check_summary(*, session: Session, user_id: int, days: int = 30) -> ReplyCheckSummary:
    """The agent's checked replies of the last ``days``: how often each finding came up, and per week the
    share of replies with any finding."""
    now = utcnow() + dt.timedelta(seconds=1)
    rows = session.execute(
        select(ReplyCheckRecord.findings, ReplyCheckRecord.grade, ReplyCheckRecord.words).where(
            ReplyCheckRecord.user_id == user_id, ReplyCheckRecord.created_at >= now - dt.timedelta(days=days)
        )
    ).all()
    replies = len(rows)
    counts: Counter[str] = Counter()
    for findings, _, _ in rows:
        counts.update(set(findings or []))
    grades = [float(g) for _, g, _ in rows if g is not None]
    series = []
    for back in range(WEEKS - 1, -1, -1):
        end = now - dt.timedelta(weeks=back)
        figures = finding_figures(
            session=session, user_id=user_id, code=None, start=end - dt.timedelta(weeks=1), end=end
        )
        series.append(
            WeekPoint(
                week_start=(end - dt.timedelta(weeks=1)).date(), value=figures.value, total=figures.total
            )
        )
    return ReplyCheckSummary(
        user_id=user_id,
        days=days,
        replies=replies,
        average_grade=round(sum(grades) / len(grades), 1) if grades else None,
        average_words=round(sum(int(w) for _, _, w in rows) / replies, 1) if replies else None,
        codes=[CodeCount(code=c, replies=n, rate=round(n / replies, 4)) for c, n in sorted(counts.items())],
        series=series,
    )


# -- kind words -------------------------------------------------------------------------------------------
def _quote(text: str) -> str:
    """The customer's own words: without the quoted earlier mail, whitespace folded, at most MAX_QUOTE."""
    kept = []
    for line in text.splitlines():
        if _QUOTED_HEADER.match(line.strip()):
            break
        if not line.lstrip().startswith(">"):
            kept.append(line)
    folded = " ".join(" ".join(kept).split())
    return folded if len(folded) <= MAX_QUOTE else folded[: MAX_QUOTE - 1].rstrip() + "…"


def is_kind(text: str, result: dict[str, Any] | None) -> bool:
    """Whether a customer's message thanks or praises: the words say so and triage (when it has run) read
    it as positive and not abusive."""
    own = _quote(text)
    if not _KIND.search(own) or _NOT_KIND.search(own):
        return False
    if result is None:
        return True
    if result.get("abusive"):
        return False
    emotion = (result.get("emotion") or {}).get("label")
    sentiment = result.get("sentiment")
    return emotion in _POSITIVE_EMOTIONS or (isinstance(sentiment, int | float) and sentiment > 0.2)


def _thanks_after_replies(*, session: Session, user_id: int, since: dt.datetime) -> list[KindWord]:
    ticket_ids = session.scalars(
        select(Message.ticket_id)
        .where(
            Message.author_user_id == user_id,
            Message.author_type == AuthorType.agent,
            Message.internal.is_(False),
            Message.created_at >= since - THANKS_WITHIN,
        )
        .distinct()
        .limit(500)
    ).all()
    if not ticket_ids:
        return []
    rows = session.execute(
        select(
            Message.id,
            Message.ticket_id,
            Message.author_type,
            Message.author_user_id,
            Message.body_text,
            Message.created_at,
        )
        .where(
            Message.ticket_id.in_(ticket_ids),
            Message.internal.is_(False),
            Message.author_type != AuthorType.system,
            Message.created_at >= since - THANKS_WITHIN,
        )
        .order_by(Message.ticket_id, Message.created_at, Message.id)
    ).all()
    candidates = []
    last_reply: dict[int, tuple[int | None, dt.datetime]] = {}
    for message_id, ticket_id, author_type, author_id, body, at in rows:
        if author_type is AuthorType.agent:
            last_reply[ticket_id] = (author_id, at)
            continue
        reply = last_reply.get(ticket_id)
        if reply is None or reply[0] != user_id or at < since or at - reply[1] > THANKS_WITHIN:
            continue
        candidates.append((message_id, ticket_id, body, at))
    results = triage.results_for(session=session, message_ids=[c[0] for c in candidates])
    return [
        KindWord(source="message", ticket_id=ticket_id, quote=_quote(body), at=at)
        for message_id, ticket_id, body, at in candidates
        if is_kind(body, results.get(message_id))
    ]


def _kind_ratings(*, session: Session, user_id: int, since: dt.datetime) -> list[KindWord]:
    rows = session.execute(
        select(TicketRating.ticket_id, TicketRating.score, TicketRating.comment, TicketRating.created_at)
        .join(Ticket, Ticket.id == TicketRating.ticket_id)
        .where(
            Ticket.assignee_id == user_id,
            TicketRating.score >= 4,
            TicketRating.comment != "",
            TicketRating.created_at >= since,
        )
    ).all()
    return [
        KindWord(source="rating", ticket_id=ticket_id, quote=_quote(comment), at=at, score=score)
        for ticket_id, score, comment, at in rows
        if comment.strip()
    ]


def kind_words(*, session: Session, user_id: int, days: int = KIND_WORDS_DAYS, limit: int = 20) -> KindWords:
    """What customers wrote about the agent's help in the last ``days``, newest first: satisfaction
    comments of 4 or 5 on their tickets, and thanks or praise that came right after a reply of theirs."""
    since = utcnow() - dt.timedelta(days=days)
    items = _kind_ratings(session=session, user_id=user_id, since=since)
    items += _thanks_after_replies(session=session, user_id=user_id, since=since)
    items.sort(key=lambda k: (k.at, k.ticket_id), reverse=True)
    return KindWords(user_id=user_id, days=days, items=items[:limit])


def weekly_values(points: Sequence[WeekPoint]) -> list[float]:
    """The series as numbers for a sparkline (a week without data as 0)."""
    return [p.value if p.value is not None else 0.0 for p in points]
