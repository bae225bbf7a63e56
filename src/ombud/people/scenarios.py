"""Training scenarios built from the company's own tickets.

A ticket can become a scenario when it was resolved (solved or closed) or escalated: priority urgent or
high, an ``escalated``/``escalation``/``complaint`` tag, or a concession that needed someone's approval.
Those are the conversations worth practising: finished ones have a known right outcome, escalated ones are
the hard ones. A ticket of an open advocacy case may always become one ("practise explaining the outage
credit before those tickets arrive"), resolved or not.

The scenario keeps the customer's messages anonymised consistently (:mod:`ombud.people.anonymise`), the
concerns the trainee must address (the ticket's tracked concerns, or its triage's), the persona the
simulated customer plays, and the known right outcome: the articles linked to the concerns and the applied
concession (kind, amount, currency) if there was one.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from ombud.accounts import service as accounts
from ombud.accounts.models import Role
from ombud.accounts.schemas import SYSTEM, Principal
from ombud.assist.text import content_words, sentences
from ombud.customers import service as customers
from ombud.errors import Conflict, Forbidden, NotFound
from ombud.knowledge import service as knowledge
from ombud.people.anonymise import Person, anonymise
from ombud.people.training_models import Persona, Scenario
from ombud.people.training_schemas import Expected, ExpectedResolution, ScenarioPublic
from ombud.resolutions import service as resolutions
from ombud.storage.base import utcnow
from ombud.tickets import concerns as tracked
from ombud.tickets import service as tickets
from ombud.tickets.models import Priority, Status, Ticket
from ombud.triage import service as triage

TRAINEE_ROLES = frozenset({Role.admin, Role.lead, Role.agent, Role.advocate})
MANAGER_ROLES = frozenset({Role.admin, Role.lead, Role.advocate})
ESCALATION_TAGS = frozenset({"escalated", "escalation", "complaint"})
RESOLVED = (Status.solved, Status.closed)
GRANTED = ("applied", "approved")
MAX_MESSAGES = 12
MAX_CONCERNS = 5
# Sentences of a concern nobody answers as such: greetings, introductions, a feeling alone, contact details.
_NOT_AN_ASK = re.compile(
    r"^(?:hi|hello|dear|this is|my name is|thanks|thank you|regards|kind regards|call me|write to|email me|"
    r"you can reach|reach me|my (?:phone|number|email|address) is)\b"
    r"|^(?:I am|I'm)\s+(?:so\s+|really\s+|very\s+|absolutely\s+)?(?:furious|angry|upset|frustrated|"
    r"disappointed|fed up|annoyed|livid)[\s.!]*$",
    re.IGNORECASE,
)
MAX_BODY = 4000

PERSONA_WORDS = {
    Persona.angry: "An angry customer",
    Persona.confused: "A confused customer",
    Persona.vague: "A customer with several concerns",
    Persona.pushy: "A customer pushing for more",
}
_PUSHY = re.compile(
    r"\b(?:compensat\w*|money back|full refund|refund (?:everything|it all|in full)|voucher|goodwill|"
    r"not enough|at least|(?:what|how much) (?:else|more)|deserve|"
    r"for (?:all )?(?:the|my|this) (?:trouble|hassle))\b",
    re.IGNORECASE,
)
_CONFUSED = re.compile(
    r"\b(?:don'?t understand|do not understand|what does|what is (?:a|an|the)|confus\w*|"
    r"not sure (?:what|how)|no idea|how do I|what do I (?:need|have) to)\b",
    re.IGNORECASE,
)


# -- who may ----------------------------------------------------------------------------------------------
def check_trainee(principal: Principal) -> None:
    """The trainer is for staff who serve customers: not partners, not customers."""
    if principal.kind != "user" or principal.role not in TRAINEE_ROLES:
        raise Forbidden("the trainer is for agents, leads, advocates and admins", code="role_forbidden")


def can_manage(principal: Principal) -> bool:
    return principal.kind == "system" or (principal.kind == "user" and principal.role in MANAGER_ROLES)


def check_manager(principal: Principal) -> None:
    if not can_manage(principal):
        raise Forbidden("only leads, advocates and admins make training scenarios", code="role_forbidden")


# -- reading ----------------------------------------------------------------------------------------------
def access_scenario(*, session: Session, principal: Principal, scenario_id: int) -> Scenario:
    """Return the scenario; trainees see active ones only (others: 404 ``scenario_not_found``)."""
    if principal.kind != "system":
        check_trainee(principal)
    scenario = session.get(Scenario, scenario_id)
    if scenario is None or (not scenario.active and not can_manage(principal)):
        raise NotFound(f"no training scenario with id {scenario_id}", code="scenario_not_found")
    return scenario


def list_scenarios(
    *, session: Session, principal: Principal, include_inactive: bool = False, limit: int = 200
) -> Sequence[Scenario]:
    """Return scenarios, newest first: active ones, or all of them for those who manage them."""
    check_trainee(principal)
    query = select(Scenario)
    if not (include_inactive and can_manage(principal)):
        query = query.where(Scenario.active.is_(True))
    return session.scalars(query.order_by(Scenario.id.desc()).limit(limit)).all()


def to_public(scenario: Scenario, *, principal: Principal) -> ScenarioPublic:
    return ScenarioPublic(
        id=scenario.id,
        title=scenario.title,
        persona=scenario.persona,
        intent=scenario.intent,
        product=scenario.product,
        language=scenario.language,
        customer_name=scenario.customer_name,
        opening=str(scenario.messages[0]["body"]) if scenario.messages else "",
        concerns=[str(c["text"]) for c in scenario.concerns],
        expected=Expected.model_validate(scenario.expected or {}),
        replaced=dict(scenario.replaced or {}),
        active=scenario.active,
        advocacy_case_id=scenario.advocacy_case_id,
        source_ticket_id=scenario.source_ticket_id if can_manage(principal) else None,
        created_at=scenario.created_at,
    )


def deactivate(*, session: Session, principal: Principal, scenario_id: int) -> Scenario:
    """Take a scenario out of the list trainees choose from (its past sessions stay)."""
    check_manager(principal)
    scenario = access_scenario(session=session, principal=principal, scenario_id=scenario_id)
    scenario.active = False
    session.flush()
    return scenario


# -- building ---------------------------------------------------------------------------------------------
def eligible(*, session: Session, ticket: Ticket) -> bool:
    """Return whether ``ticket`` was resolved or escalated (see the module's docstring)."""
    if ticket.status in RESOLVED or ticket.priority in (Priority.urgent, Priority.high):
        return True
    if {t.tag.lower() for t in ticket.tags} & ESCALATION_TAGS:
        return True
    return any(
        r.status.value in ("pending_approval", "approved")
        or (r.policy_check or {}).get("check", {}).get("within") is False
        for r in resolutions.list_for_ticket(session=session, principal=SYSTEM, ticket_id=ticket.id)
    )


def build_from_ticket(
    *,
    session: Session,
    actor: Principal,
    ticket_id: int,
    persona: Persona | None = None,
    advocacy_case_id: int | None = None,
) -> Scenario:
    """Make a scenario from ticket ``ticket_id`` (409 ``ticket_not_eligible`` unless it was resolved or
    escalated or belongs to an advocacy case; 409 ``no_customer_messages`` without anything to play)."""
    check_manager(actor)
    ticket = tickets.access_ticket(session=session, principal=actor, ticket_id=ticket_id)
    if not _in_case(
        session=session, actor=actor, case_id=advocacy_case_id, ticket_id=ticket.id
    ) and not eligible(session=session, ticket=ticket):
        raise Conflict(
            "only a resolved or escalated ticket makes a scenario (solved or closed; urgent or high "
            "priority; an escalation tag; or a concession that needed approval)",
            code="ticket_not_eligible",
        )
    messages = [
        m
        for m in tickets.list_messages(session=session, ticket=ticket, principal=SYSTEM)
        if not m.internal and m.author_type == "customer" and m.body_text.strip()
    ][:MAX_MESSAGES]
    if not messages:
        raise Conflict("the ticket has no message from the customer to play", code="no_customer_messages")
    results = triage.results_for(session=session, message_ids=[m.id for m in messages])
    concerns = _concerns(
        session=session,
        ticket=ticket,
        results=[results.get(m.id) or {} for m in messages],
        first=messages[0].body_text,
    )
    people = _people(session=session, ticket=ticket)
    texts = [m.body_text[:MAX_BODY] for m in messages] + [c["text"] for c in concerns] + [ticket.subject]
    clean, anonymiser = anonymise(texts, seed=ticket.id * 7919 + len(texts), people=people)
    bodies, concern_texts, subject = clean[: len(messages)], clean[len(messages) : -1], clean[-1]
    customer = customers.access_customer(session=session, principal=SYSTEM, customer_id=ticket.customer_id)
    fake_name = anonymiser.fake("name", customer.name) if customer.name.strip() else "the customer"
    expected = _expected(session=session, ticket=ticket, concerns=concerns)
    first = results.get(messages[0].id) or {}
    chosen = persona or choose_persona(
        bodies=bodies, first=first, concerns=len(concerns), has_resolution=bool(expected.get("resolution"))
    )
    scenario = Scenario(
        title=f"{PERSONA_WORDS[chosen]}: {subject}"[:200],
        persona=chosen,
        source_ticket_id=ticket.id,
        advocacy_case_id=advocacy_case_id,
        intent=next((c["intent"] for c in concerns if c.get("intent")), None),
        product=_product(results.values()),
        language=str(first.get("language") or "en")[:10],
        customer_name=fake_name[:200],
        messages=[
            {"body": body, "frustration": float((results.get(m.id) or {}).get("frustration") or 0.0)}
            for m, body in zip(messages, bodies, strict=True)
        ],
        concerns=[
            {"text": text, "intent": c.get("intent")} for c, text in zip(concerns, concern_texts, strict=True)
        ],
        expected=expected,
        replaced=anonymiser.replaced(),
        created_by_id=actor.id if actor.kind == "user" else None,
        created_at=utcnow(),
    )
    session.add(scenario)
    session.flush()
    return scenario


def _in_case(*, session: Session, actor: Principal, case_id: int | None, ticket_id: int) -> bool:
    """Whether the ticket belongs to the advocacy case (404 ``case_not_found`` for a case that does not
    exist): such a ticket may become a scenario before it is resolved."""
    if case_id is None:
        return False
    from ombud.advocacy import cases  # advocacy imports much; only scenarios for cases need it

    cases.access_case(session=session, principal=actor, case_id=case_id)
    return any(row.ticket_id == ticket_id for row in cases.case_tickets(session=session, case_id=case_id))


def choose_persona(
    *, bodies: Sequence[str], first: dict[str, Any], concerns: int, has_resolution: bool
) -> Persona:
    """Return the persona the ticket suggests: pushing for more when they asked for compensation and got a
    concession, angry when triage read anger or high frustration, confused when they asked what things
    mean, vague with three concerns or more (or two and nothing else stands out)."""
    text = " ".join(bodies)
    emotion = str((first.get("emotion") or {}).get("label") or "")
    frustration = float(first.get("frustration") or 0.0)
    if has_resolution and _PUSHY.search(text):
        return Persona.pushy
    if emotion == "anger" or frustration >= 0.6 or text.count("!") >= 3:
        return Persona.angry
    if emotion in ("confusion", "fear") or _CONFUSED.search(text):
        return Persona.confused
    if concerns >= 3:
        return Persona.vague
    return Persona.vague if concerns == 2 else Persona.confused


def _concerns(
    *, session: Session, ticket: Ticket, results: list[dict[str, Any]], first: str
) -> list[dict[str, Any]]:
    """Return what the trainee must address: the ticket's tracked concerns (or the first message's triage
    concerns, or before triage its sentences), one sentence each, without greetings, feelings alone or
    contact details."""
    rows = [
        r
        for r in tracked.list_concerns(session=session, principal=SYSTEM, ticket=ticket)
        if r.status.value != "wont_fix"
    ]
    raw: list[dict[str, Any]]
    if rows:
        raw = [{"text": r.text, "intent": r.intent, "article_id": r.article_id} for r in rows]
    else:
        raw = [
            {"text": str(c["text"]), "intent": (c.get("intents") or [{}])[0].get("label")}
            for result in results[:1]
            for c in result.get("concerns") or []
        ] or [{"text": first[:MAX_BODY], "intent": None}]
    found: list[dict[str, Any]] = []
    for concern in raw:
        parts = [s.text for s in sentences(str(concern["text"])) if _is_ask(s.text)]
        for index, part in enumerate(parts):
            if all(part != f["text"] for f in found):
                # The concern's article goes with its first sentence only: one outcome, not several.
                found.append(
                    {
                        **concern,
                        "text": part[:1000],
                        "article_id": concern.get("article_id") if index == 0 else None,
                    }
                )
    if not found:  # nothing but greetings and feelings: keep the concerns as written
        found = [{**c, "text": str(c["text"])[:1000]} for c in raw]
    return found[:MAX_CONCERNS] or [{"text": ticket.subject[:1000], "intent": None}]


def _is_ask(sentence: str) -> bool:
    return len(content_words(sentence)) >= 3 and not _NOT_AN_ASK.search(sentence.strip())


def _people(*, session: Session, ticket: Ticket) -> list[Person]:
    customer = customers.access_customer(session=session, principal=SYSTEM, customer_id=ticket.customer_id)
    found = [
        Person(
            name=customer.name,
            emails=customers.identity_values(session=session, customer_id=customer.id, kind="email"),
            phones=customers.identity_values(session=session, customer_id=customer.id, kind="phone"),
        )
    ]
    staff_ids = {ticket.assignee_id} | {
        m.author_user_id for m in tickets.list_messages(session=session, ticket=ticket, principal=SYSTEM)
    }
    for user_id in sorted(i for i in staff_ids if i is not None):
        try:
            user = accounts.access_user(session=session, user_id=user_id)
        except NotFound:
            continue
        found.append(Person(name=user.name, emails=[user.email]))
    return found


def _expected(*, session: Session, ticket: Ticket, concerns: list[dict[str, Any]]) -> dict[str, Any]:
    article_ids = sorted({int(c["article_id"]) for c in concerns if c.get("article_id")})
    articles = {a.id: a for a in knowledge.articles_by_id(session=session, ids=set(article_ids))}
    granted = [
        r
        for r in resolutions.list_for_ticket(session=session, principal=SYSTEM, ticket_id=ticket.id)
        if r.status.value in GRANTED
    ]
    resolution = None
    notes = []
    if granted:
        best = granted[-1]
        resolution = ExpectedResolution(
            kind=best.kind, amount_minor=int(best.amount_minor), currency=best.currency
        )
        notes.append(f"The ticket was resolved with a {best.kind.replace('_', ' ')} within policy.")
    if articles:
        notes.append("Explain it the way the linked article does.")
    return Expected(
        article_ids=[i for i in article_ids if i in articles],
        article_titles=[articles[i].title for i in article_ids if i in articles],
        resolution=resolution,
        notes=" ".join(notes),
    ).model_dump()


def _product(results: Any) -> str | None:
    for result in results:
        for entity in (result or {}).get("entities") or []:
            if entity.get("type") == "product":
                return str(entity["value"])[:100]
    return None


# -- recent tickets (the CLI) -----------------------------------------------------------------------------
def build_recent(
    *, session: Session, since: dt.timedelta, limit: int, actor: Principal = SYSTEM
) -> tuple[list[Scenario], int]:
    """Make scenarios from tickets resolved within ``since`` that have none yet, newest first; return them
    and how many tickets were skipped (nothing to play)."""
    check_manager(actor)
    used = select(Scenario.source_ticket_id).where(Scenario.source_ticket_id.is_not(None))
    candidates = session.scalars(
        select(Ticket.id)
        .where(
            Ticket.status.in_(RESOLVED),
            Ticket.updated_at >= utcnow() - since,
            Ticket.id.not_in(used),
        )
        .order_by(Ticket.id.desc())
        .limit(limit * 3)
    ).all()
    built: list[Scenario] = []
    skipped = 0
    for ticket_id in candidates:
        if len(built) >= limit:
            break
        try:
            with session.begin_nested():
                built.append(build_from_ticket(session=session, actor=actor, ticket_id=ticket_id))
        except (Conflict, NotFound):
            skipped += 1
    return built, skipped


# -- suggestions ------------------------------------------------------------------------------------------
# Which persona practises what a reply-check finding or a weak score says needs work.
FINDING_PERSONA = {
    "jargon": Persona.confused,
    "readability": Persona.confused,
    "empathy_missing": Persona.angry,
    "negative_phrasing": Persona.angry,
    "concern_unaddressed": Persona.vague,
    "wrong_detail": Persona.vague,
    "promise_without_date": Persona.pushy,
}
FINDING_WORDS = {
    "jargon": "jargon",
    "readability": "hard-to-read",
    "empathy_missing": "missing-empathy",
    "negative_phrasing": "negative-phrasing",
    "concern_unaddressed": "unanswered-concern",
    "wrong_detail": "wrong-detail",
    "promise_without_date": "promise-without-a-date",
}
SCORE_PERSONA = {
    "policy": Persona.pushy,
    "deescalation": Persona.angry,
    "resolution": Persona.vague,
    "reply_check": Persona.confused,
}
WEAK_RATE = 0.2
# The advisory lock (with the case's id) under which a suggestion builds a case's scenario on PostgreSQL.
CASE_LOCK = 0x74726E  # "trn"; both keys are int4 (the case id wraps: a collision only waits)
WEAK_SCORE = 70
RECENT_CHECKS = dt.timedelta(days=90)


def suggest(  # noqa: PLR0912 (one branch a source of suggestions)
    *, session: Session, user_id: int, limit: int = 3
) -> list[tuple[Scenario, str, str]]:
    """Return up to ``limit`` (scenario, why, kind) for the user: open advocacy cases first (building a
    scenario from one of a case's tickets when none exists yet), then their weakest areas (reply-check
    finding rates, their goals, their lowest training scores), then scenarios they have not tried."""
    from ombud.advocacy import cases  # advocacy imports much; only suggestions need it
    from ombud.people.models import Goal, GoalKind, GoalState, ReplyCheckRecord
    from ombud.people.training_models import SessionState, TrainingSession

    active = list(
        session.scalars(
            select(Scenario).where(Scenario.active.is_(True)).order_by(Scenario.id.desc()).limit(500)
        )
    )
    mine = session.scalars(select(TrainingSession).where(TrainingSession.user_id == user_id)).all()
    tried = {s.scenario_id for s in mine}
    chosen: list[tuple[Scenario, str, str]] = []

    def pick(test: Any) -> Scenario | None:
        taken = {c[0].id for c in chosen}
        fits = [s for s in active if s.id not in taken and test(s)]
        fits.sort(key=lambda s: (s.id in tried, -s.id))
        return fits[0] if fits else None

    def offer(scenario: Scenario | None, why: str, kind: str) -> None:
        if scenario is not None and len(chosen) < limit and all(c[0].id != scenario.id for c in chosen):
            chosen.append((scenario, why, kind))

    found, _ = cases.list_cases(session=session, principal=SYSTEM, status=sorted(cases.OPEN_STATES), limit=10)
    for case in found:
        scenario = pick(lambda s, case_id=case.id: s.advocacy_case_id == case_id)
        if scenario is None:
            scenario = _from_case(session=session, case_id=case.id)
            if scenario is not None:
                active.insert(0, scenario)
        offer(
            scenario, f"Practise explaining \u201c{case.title}\u201d before those tickets arrive.", "advocacy"
        )

    checks = session.scalars(
        select(ReplyCheckRecord.findings).where(
            ReplyCheckRecord.user_id == user_id, ReplyCheckRecord.created_at >= utcnow() - RECENT_CHECKS
        )
    ).all()
    if checks:
        counts: dict[str, int] = {}
        for findings in checks:
            for code in set(findings or []):
                counts[code] = counts.get(code, 0) + 1
        for code, count in sorted(counts.items(), key=lambda kv: -kv[1]):
            rate = count / len(checks)
            if code in FINDING_PERSONA and rate >= WEAK_RATE:
                persona = FINDING_PERSONA[code]
                offer(
                    pick(lambda s, p=persona: s.persona is p),
                    f"{rate:.0%} of your recent replies had {FINDING_WORDS[code]} findings: practise with "
                    f"{PERSONA_WORDS[persona].lower()}.",
                    "weak_area",
                )

    for goal in session.scalars(
        select(Goal).where(Goal.user_id == user_id, Goal.state == GoalState.active).order_by(Goal.id)
    ):
        target = goal.target or {}
        if goal.kind is GoalKind.product and target.get("product"):
            product = str(target["product"]).casefold()
            offer(
                pick(lambda s, p=product: bool(s.product) and p in str(s.product).casefold()),
                f"Your goal \u201c{goal.title}\u201d: practise a {target['product']} conversation.",
                "goal",
            )
        elif goal.kind is GoalKind.training:
            wanted = target.get("persona")
            offer(
                pick(lambda s, w=wanted: w is None or s.persona.value == w),
                f"Your goal \u201c{goal.title}\u201d.",
                "goal",
            )
        elif goal.kind is GoalKind.finding and target.get("code") in FINDING_PERSONA:
            persona = FINDING_PERSONA[str(target["code"])]
            offer(pick(lambda s, p=persona: s.persona is p), f"Your goal \u201c{goal.title}\u201d.", "goal")

    scored = [s.score for s in mine if s.state is SessionState.finished and s.score]
    if scored:
        averages = {k: sum(int(s.get(k, 0)) for s in scored) / len(scored) for k in SCORE_PERSONA}
        for key, value in sorted(averages.items(), key=lambda kv: kv[1]):
            if value < WEAK_SCORE:
                persona = SCORE_PERSONA[key]
                offer(
                    pick(lambda s, p=persona: s.persona is p),
                    f"Your {key.replace('_', ' ')} score averages {value:.0f}: practise with "
                    f"{PERSONA_WORDS[persona].lower()}.",
                    "score",
                )
    offer(pick(lambda s: s.id not in tried), "A scenario you have not tried yet.", "new")
    return chosen


def _from_case(*, session: Session, case_id: int) -> Scenario | None:
    """Build a scenario from the first ticket of the case that has something to play, once: two trainees
    asking for suggestions at the same time must not both build one (SQLite's writers are one at a time
    already; on PostgreSQL the second waits for the first's commit and then finds its scenario), and one a
    manager deactivated is not built again."""
    from ombud.advocacy import cases

    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            text("SELECT pg_advisory_xact_lock(:key, :case)"), {"key": CASE_LOCK, "case": case_id % 2**31}
        )
    made = session.scalars(
        select(Scenario).where(Scenario.advocacy_case_id == case_id).order_by(Scenario.id.desc()).limit(1)
    ).first()
    if made is not None:
        return made if made.active else None
    for row in cases.case_tickets(session=session, case_id=case_id, limit=5):
        try:
            with session.begin_nested():
                return build_from_ticket(
                    session=session, actor=SYSTEM, ticket_id=row.ticket_id, advocacy_case_id=case_id
                )
        except (Conflict, NotFound):
            continue
    return None
