"""Reply assistance from the database: the context of the reply being written (the customer's latest
messages and their triage, suggested articles, the customer's history), the draft, the check and tone
rewrites for a ticket, and the glossary and voice that admins set."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from ombud.accounts import service as accounts
from ombud.accounts.schemas import Principal
from ombud.assist.check import check_reply
from ombud.assist.models import GlossaryTerm, VoiceRule
from ombud.assist.schemas import (
    CheckResult,
    Concern,
    GlossaryTermIn,
    History,
    Passage,
    ReplyContext,
    VoiceRuleIn,
)
from ombud.assist.text import content_words
from ombud.audit import service as audit
from ombud.customers import service as customers
from ombud.errors import Forbidden, InvalidInput
from ombud.knowledge import service as knowledge
from ombud.knowledge.schemas import ArticleStatus, Audience
from ombud.storage.base import utcnow
from ombud.tickets import feeds
from ombud.tickets import service as tickets
from ombud.triage import service as triage

# Messages are compared by author_type == "customer" (a StrEnum) rather than importing the tickets
# domain's models (STYLE.md: another domain is reached through its service).
RECENT = dt.timedelta(days=90)
MAX_TERM, MAX_PLAIN, MAX_NOTE = 200, 500, 2000


def access_assist(*, principal: Principal) -> None:
    if not principal.is_staff:
        raise Forbidden("Reply assistance is for staff.", code="role_forbidden")


# -- the context ------------------------------------------------------------------------------------------
def reply_context(*, session: Session, principal: Principal, ticket_id: int) -> ReplyContext:
    """Return what a reply on ticket ``ticket_id`` should answer and may use."""
    access_assist(principal=principal)
    ticket = tickets.access_ticket(session=session, principal=principal, ticket_id=ticket_id)
    public = [
        m
        for m in tickets.list_messages(session=session, ticket=ticket, principal=principal)
        if not m.internal
    ]
    latest = _latest_from_customer(public)
    customer_ids = [m.id for m in public if m.author_type == "customer"]
    results = triage.results_for(session=session, message_ids=customer_ids)
    concerns: list[Concern] = []
    keys: dict[tuple[int, int], int] = {}
    for message in latest:
        for index, concern in enumerate((results.get(message.id) or {}).get("concerns") or []):
            keys[(message.id, index)] = len(concerns)
            concerns.append(
                Concern(
                    text=concern["text"],
                    message_id=message.id,
                    index=len(concerns),
                    intents=[i["label"] for i in concern.get("intents") or []],
                )
            )
    latest_results = [results[m.id] for m in latest if m.id in results]
    upset = max(latest_results, key=lambda r: float(r.get("frustration") or 0.0), default={})
    emotion = upset.get("emotion") or {}
    entities = [e for m in customer_ids for e in (results.get(m) or {}).get("entities") or []]
    customer = customers.access_customer(session=session, principal=principal, customer_id=ticket.customer_id)
    name, _ = accounts.describe_principal(session=session, principal=principal)
    return ReplyContext(
        ticket_id=ticket.id,
        customer_name=customer.name,
        agent_name=name if principal.kind == "user" else "",
        concerns=concerns,
        emotion=emotion.get("label"),
        emotion_score=float((emotion.get("scores") or {}).get(emotion.get("label"), 0.0)),
        frustration=float(upset.get("frustration") or 0.0),
        urgency=(upset.get("urgency") or {}).get("level") or "normal",
        urgency_reasons=list((upset.get("urgency") or {}).get("reasons") or []),
        entities=entities,
        conversation="\n\n".join([ticket.subject, *(m.body_text for m in public)]),
        customer_text="\n\n".join(
            [ticket.subject, *(m.body_text for m in public if m.author_type == "customer")]
        ),
        suggestions=_suggestions(session=session, ticket_id=ticket.id, keys=keys),
        history=_history(
            session=session,
            ticket=ticket,
            public=public,
            latest=latest,
            since=customer.created_at,
            products=[str(e["value"]) for e in entities if e.get("type") == "product"],
        ),
    )


def _latest_from_customer(messages: Sequence[Any]) -> list[Any]:
    """Return the customer's messages after the last public agent reply (if the agent spoke last, the
    customer's messages before that reply: the check may run on a follow-up)."""
    block: list[Any] = []
    for message in reversed(messages):
        if message.author_type == "customer":
            block.append(message)
        elif message.author_type == "agent" and block:
            break
    return list(reversed(block))


def _suggestions(
    *, session: Session, ticket_id: int, keys: dict[tuple[int, int], int]
) -> dict[int, list[Passage]]:
    rows = [
        r
        for r in knowledge.suggestions_for_ticket(session=session, ticket_id=ticket_id)
        if (r.message_id, r.concern_index) in keys
    ]
    articles = {
        a.id: a
        for a in knowledge.articles_by_id(session=session, ids={r.article_id for r in rows if r.article_id})
        # Only what the customer can open may go into a reply.
        if a.audience is Audience.public and a.status is ArticleStatus.published
    }
    out: dict[int, list[Passage]] = {}
    for row in rows:
        article = articles.get(row.article_id or 0)
        if article is None:
            continue
        out.setdefault(keys[(row.message_id, row.concern_index)], []).append(
            Passage(
                article_id=article.id,
                title=article.title,
                slug=article.slug,
                passage=row.passage or article.body,
                score=row.score,
            )
        )
    return out


def _history(
    *,
    session: Session,
    ticket: Any,
    public: Sequence[Any],
    latest: Sequence[Any],
    since: dt.datetime,
    products: list[str],
) -> History:
    now = utcnow()
    others = [
        row
        for row in feeds.open_tickets_of(session=session, customer_id=ticket.customer_id, before=now)
        if row.id != ticket.id
    ]
    subject = content_words(ticket.subject)
    same_thing = [row for row in others if content_words(row.subject) & subject]
    answered_before = any(m.author_type == "agent" for m in public if latest and m.id < latest[0].id)
    return History(
        customer_since=since,
        recent_tickets=feeds.tickets_since(
            session=session, customer_id=ticket.customer_id, since=now - RECENT, until=now
        ),
        # They wrote again after an answer, reopened a closed ticket, or have another open one about it.
        repeat_contact=bool(answered_before or ticket.follow_up_of_id or same_thing),
        other_open=[row.subject for row in others if row not in same_thing],
        products=list(dict.fromkeys(products)),
    )


# -- draft, check, rewrite --------------------------------------------------------------------------------


def check_ticket_reply(
    *, session: Session, principal: Principal, ticket_id: int, text: str, dismissed: Sequence[str] = ()
) -> CheckResult:
    """Return the reply check's findings on ``text`` as a reply on the ticket, less the dismissed ones."""
    context = reply_context(session=session, principal=principal, ticket_id=ticket_id)
    result = check_reply(
        text,
        context,
        glossary=list_glossary(session=session, principal=principal),
        voice=list_voice(session=session, principal=principal),
    )
    hidden = set(dismissed)
    result.findings = [f for f in result.findings if f.id not in hidden]
    return result


@dataclass(frozen=True)
class Term:
    """A glossary entry as plain data, usable after the session that read it has ended."""

    term: str
    plain: str


def glossary_terms(*, session: Session, principal: Principal) -> list[Term]:
    return [Term(t.term, t.plain) for t in list_glossary(session=session, principal=principal)]


# -- glossary and voice -----------------------------------------------------------------------------------
def list_glossary(*, session: Session, principal: Principal) -> Sequence[GlossaryTerm]:
    access_assist(principal=principal)
    return session.scalars(select(GlossaryTerm).order_by(GlossaryTerm.term)).all()


def list_voice(*, session: Session, principal: Principal) -> Sequence[VoiceRule]:
    access_assist(principal=principal)
    return session.scalars(select(VoiceRule).order_by(VoiceRule.avoid)).all()


def _require_admin(principal: Principal, what: str) -> None:
    if not principal.is_admin:
        raise Forbidden(f"Only admins change the {what}.", code="role_forbidden")


def _bad(code: str, row: int, field: str, why: str) -> InvalidInput:
    return InvalidInput(f"row {row + 1}: {field} {why}", code=code, details={"row": row, "field": field})


def _clean_rows(
    rows: Sequence[tuple[str, str, str]], *, code: str, names: tuple[str, str], need_second: bool
) -> list[tuple[str, str, str]]:
    """Return the rows stripped, or raise ``code`` naming the first bad row and field."""
    first_name, second_name = names
    seen: dict[str, int] = {}
    clean = []
    for number, row in enumerate(rows):
        first, second, note = (value.strip() for value in row)
        if not first:
            raise _bad(code, number, first_name, "is empty")
        if len(first) > MAX_TERM:
            raise _bad(code, number, first_name, f"is longer than {MAX_TERM} characters")
        if need_second and not second:
            raise _bad(code, number, second_name, "is empty")
        if len(second) > MAX_PLAIN:
            raise _bad(code, number, second_name, f"is longer than {MAX_PLAIN} characters")
        if len(note) > MAX_NOTE:
            raise _bad(code, number, "note", f"is longer than {MAX_NOTE} characters")
        if second and second.lower() == first.lower():
            raise _bad(code, number, second_name, f"is the same as {first_name}")
        if first.lower() in seen:
            raise _bad(code, number, first_name, f"{first!r} repeats row {seen[first.lower()] + 1}")
        seen[first.lower()] = number
        clean.append((first, second, note))
    return clean


def replace_glossary(
    *, session: Session, principal: Principal, terms: Sequence[GlossaryTermIn]
) -> Sequence[GlossaryTerm]:
    """Replace the whole glossary with ``terms`` (admins); audited."""
    _require_admin(principal, "glossary")
    rows = _clean_rows(
        [(t.term, t.plain, t.note) for t in terms],
        code="invalid_glossary",
        names=("term", "plain"),
        need_second=True,
    )
    before = [{"term": t.term, "plain": t.plain} for t in list_glossary(session=session, principal=principal)]
    session.execute(delete(GlossaryTerm))
    session.add_all(GlossaryTerm(term=term, plain=plain, note=note) for term, plain, note in rows)
    session.flush()
    audit.record(
        session=session,
        actor=principal,
        action="assist.glossary_replaced",
        entity_type="glossary",
        entity_id=0,
        before={"terms": before},
        after={"terms": [{"term": term, "plain": plain} for term, plain, _ in rows]},
    )
    return list_glossary(session=session, principal=principal)


def replace_voice(
    *, session: Session, principal: Principal, rules: Sequence[VoiceRuleIn]
) -> Sequence[VoiceRule]:
    """Replace the whole style guide with ``rules`` (admins); audited."""
    _require_admin(principal, "style guide")
    rows = _clean_rows(
        [(r.avoid, r.prefer, r.note) for r in rules],
        code="invalid_voice",
        names=("avoid", "prefer"),
        need_second=False,
    )
    before = [
        {"avoid": r.avoid, "prefer": r.prefer} for r in list_voice(session=session, principal=principal)
    ]
    session.execute(delete(VoiceRule))
    session.add_all(VoiceRule(avoid=avoid, prefer=prefer, note=note) for avoid, prefer, note in rows)
    session.flush()
    audit.record(
        session=session,
        actor=principal,
        action="assist.voice_replaced",
        entity_type="voice",
        entity_id=0,
        before={"rules": before},
        after={"rules": [{"avoid": avoid, "prefer": prefer} for avoid, prefer, _ in rows]},
    )
    return list_voice(session=session, principal=principal)
