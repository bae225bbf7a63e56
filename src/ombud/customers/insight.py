"""The customer 360 shown beside a ticket, and the one suggestion it may carry (the next best offer).

The 360 renders on every ticket page, so it costs a fixed number of queries whatever the customer's
history: each part reads at most a bounded page (the latest tickets, ratings, triage results, timeline
entries), and the offer reads a capped sample of similar customers.

The offer rules (docs/api.md, "Customer 360 and the suggested offer"):

* no offer while the customer has an open ticket (``concerns_open``) or is upset: the latest triaged
  message reads frustration >= 0.5, anger or sadness, or abuse (``customer_upset``);
* similar customers are those owning one of the customer's products, or (owning nothing we know of)
  those who raised one of the customer's recent intents; at most NEIGHBOURS of them are read;
* a product counts for a similar customer when they bought it after a support contact about a shared
  intent (any intent when the customer raised none) on a ticket that was then resolved;
* it needs MIN_SUPPORT such customers, must be at least as common among them as among similar customers
  in general (lift >= 1), and must not be owned already; the highest lift wins, then the most customers.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload, selectinload

from ombud.accounts.schemas import Principal
from ombud.customers.models import Customer, CustomerOffer, Purchase
from ombud.customers.purchases import customer_value, list_purchases
from ombud.customers.schemas import (
    Customer360,
    Mood,
    Offer,
    OfferDecision,
    PastTicket,
    ProfileSummary,
    PurchasePublic,
    TicketCounts,
)
from ombud.customers.timeline import customer_timeline
from ombud.errors import Forbidden, NotFound
from ombud.storage.base import utcnow
from ombud.tickets import feeds, ratings
from ombud.triage import service as triage

PAST_TICKETS = 20
RECENT = dt.timedelta(days=90)
RECENT_TRIAGE = 50
TIMELINE_ITEMS = 20
UPSET_FRUSTRATION = 0.5
UPSET_EMOTIONS = frozenset({"anger", "sadness"})
NEIGHBOURS = 500
# Rows read about the similar customers: bounds the offer's work on a customer with a huge neighbourhood.
NEIGHBOUR_ROWS = 20_000
MAX_CONCERN_TICKETS = 2_000
MIN_SUPPORT = 3


def customer_360(*, session: Session, principal: Principal, customer_id: int) -> Customer360:
    """Return the customer's profile, identities, purchases, past tickets, satisfaction, mood, the
    suggestion (or why there is none) and the latest timeline entries (staff only)."""
    if not principal.is_staff:
        # Customers get the same answer for themselves and for others: it says nothing about who exists.
        raise Forbidden("only staff may read the customer overview", code="role_forbidden")
    customer = session.scalar(
        select(Customer)
        .options(selectinload(Customer.identities), joinedload(Customer.organisation))
        .where(Customer.id == customer_id)
    )
    if customer is None:
        raise NotFound(f"no customer with id {customer_id}", code="customer_not_found")
    now = utcnow()
    identities: dict[str, list[str]] = defaultdict(list)
    for identity in customer.identities:
        identities[str(identity.kind)].append(identity.value)
    purchases = list_purchases(session=session, customer_id=customer_id)
    owned = _distinct(p.product for p in purchases)

    rows = feeds.customer_tickets(session=session, customer_id=customer_id, limit=PAST_TICKETS)
    outcomes = feeds.ticket_outcomes(session=session, ticket_ids=[row["id"] for row in rows])
    tickets = [PastTicket(**row, outcome="resolved" if outcomes.get(row["id"]) else "open") for row in rows]
    open_count, recent_count, total = feeds.ticket_counts(
        session=session, customer_id=customer_id, since=now - RECENT
    )
    recent = triage.customer_triage(
        session=session, customer_id=customer_id, since=now - RECENT, limit=RECENT_TRIAGE
    )
    latest = recent[0] if recent else None
    return Customer360(
        customer_id=customer.id,
        profile=ProfileSummary(
            name=customer.name,
            organisation=customer.organisation.name if customer.organisation else None,
            tier=customer.tier,
            notes=customer.notes,
            created_at=customer.created_at,
            tenure_days=max(0, (now - customer.created_at).days),
            merged_into_id=customer.merged_into_id,
        ),
        identities=dict(identities),
        preferences=dict(customer.preferences or {}),
        purchases=[PurchasePublic.model_validate(p) for p in purchases],
        products_owned=owned,
        customer_value=customer_value(session=session, customer_id=customer_id),
        tickets=tickets,
        counts=TicketCounts(
            open=open_count, last_90_days=recent_count, total=total, repeat_intents=_repeat_intents(recent)
        ),
        satisfaction=ratings.satisfaction_history(session=session, customer_id=customer_id),
        mood=None
        if latest is None
        else Mood(
            frustration=latest.frustration,
            emotion=latest.emotion,
            sentiment=latest.sentiment,
            abusive=latest.abusive,
            at=latest.message_at,
            ticket_id=latest.ticket_id,
        ),
        suggestion=_stored_offer(
            session=session, customer_id=customer_id, recent=recent, open_tickets=open_count
        ),
        timeline=customer_timeline(
            session=session, customer_id=customer_id, include_internal=True, limit=TIMELINE_ITEMS
        ),
    )


def _distinct(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(values))


def _repeat_intents(recent: Sequence[triage.TriageSummary]) -> dict[str, int]:
    """Return the intents raised on two or more tickets recently, with how many tickets."""
    tickets: dict[str, set[int]] = defaultdict(set)
    for row in recent:
        for intent in row.intents:
            tickets[intent].add(row.ticket_id)
    return {intent: len(ids) for intent, ids in sorted(tickets.items()) if len(ids) >= 2}


def is_upset(summary: triage.TriageSummary | None) -> bool:
    """Return whether the customer's latest triaged message reads as upset."""
    return summary is not None and (
        summary.frustration >= UPSET_FRUSTRATION or summary.emotion in UPSET_EMOTIONS or summary.abusive
    )


def suggest_offer(*, session: Session, customer_id: int) -> OfferDecision:
    """Return the product, plan or service that similar customers found useful after a concern like this
    customer's, with its evidence, or no offer and the reason (the job behind the 360's suggestion)."""
    now = utcnow()
    open_tickets = feeds.ticket_counts(session=session, customer_id=customer_id, since=now)[0]
    recent = triage.customer_triage(
        session=session, customer_id=customer_id, since=now - RECENT, limit=RECENT_TRIAGE
    )
    gated = _gate(recent=recent, open_tickets=open_tickets)
    if gated is not None:
        return gated
    owned = _distinct(p.product for p in list_purchases(session=session, customer_id=customer_id))
    intents = {intent for row in recent for intent in row.intents}
    if not owned and not intents:
        return OfferDecision(offer=None, reason="no_history")
    offer = _best_offer(session=session, customer_id=customer_id, owned=set(owned), intents=intents)
    return OfferDecision(offer=offer, reason="offered" if offer else "no_evidence")


def _gate(*, recent: Sequence[triage.TriageSummary], open_tickets: int) -> OfferDecision | None:
    """The reasons to offer nothing now, whatever the evidence: a concern still open, an upset customer."""
    if open_tickets:
        return OfferDecision(offer=None, reason="concerns_open")
    if is_upset(recent[0] if recent else None):
        return OfferDecision(offer=None, reason="customer_upset")
    return None


def _stored_offer(
    *, session: Session, customer_id: int, recent: Sequence[triage.TriageSummary], open_tickets: int
) -> OfferDecision:
    """The offer the background job worked out (``pending`` until it has), behind today's gates."""
    gated = _gate(recent=recent, open_tickets=open_tickets)
    if gated is not None:
        return gated
    stored = session.get(CustomerOffer, customer_id)
    if stored is None:
        return OfferDecision(offer=None, reason="pending")
    return OfferDecision(
        offer=Offer.model_validate(stored.offer) if stored.offer else None, reason=stored.reason
    )


@dataclass
class _Candidate:
    kinds: Counter[str]
    buyers: set[int]
    intents: Counter[str]
    via: Counter[str]


def _best_offer(*, session: Session, customer_id: int, owned: set[str], intents: set[str]) -> Offer | None:
    neighbours = _neighbours(session=session, customer_id=customer_id, owned=owned, intents=intents)
    if len(neighbours) < MIN_SUPPORT:
        return None
    bought = session.execute(
        select(Purchase.customer_id, Purchase.product, Purchase.kind, Purchase.purchased_at)
        .where(Purchase.customer_id.in_(neighbours))
        .limit(NEIGHBOUR_ROWS)
    ).all()
    # Their support contacts about what this customer raised (about anything, if they raised nothing).
    contacts = [
        (neighbour, ticket_id, shared, at)
        for neighbour, ticket_id, labels, at in triage.intent_history(
            session=session, customer_ids=neighbours, exclude_customer_id=None, limit=NEIGHBOUR_ROWS
        )
        if (shared := sorted(set(labels) & intents) if intents else sorted(labels))
    ]
    ticket_ids = list(dict.fromkeys(ticket_id for _, ticket_id, _, _ in contacts))[:MAX_CONCERN_TICKETS]
    resolved = feeds.ticket_outcomes(session=session, ticket_ids=ticket_ids)
    concerns: dict[int, list[tuple[dt.datetime, list[str]]]] = defaultdict(list)
    for neighbour, ticket_id, shared, at in contacts:
        if resolved.get(ticket_id):
            concerns[neighbour].append((at, shared))
    if not concerns:
        return None

    owners: dict[str, set[int]] = defaultdict(set)
    owned_by: dict[int, set[str]] = defaultdict(set)
    candidates: dict[str, _Candidate] = {}
    for neighbour, product, _kind, _at in bought:
        owners[product].add(neighbour)
        owned_by[neighbour].add(product)
    for neighbour, product, kind, purchased_at in bought:
        if product in owned:
            continue
        before = [labels for at, labels in concerns.get(neighbour, ()) if at < purchased_at]
        if not before:
            continue
        candidate = candidates.setdefault(product, _Candidate(Counter(), set(), Counter(), Counter()))
        candidate.kinds[kind] += 1
        if neighbour not in candidate.buyers:
            candidate.buyers.add(neighbour)
            candidate.intents.update({label for labels in before for label in labels})
            candidate.via.update(owned_by[neighbour] & owned)

    ranked: list[tuple[float, int, str]] = []
    for product, candidate in candidates.items():
        support = len(candidate.buyers)
        # Likelier among those who had the concern resolved than among similar customers at all?
        lift = (support / len(concerns)) / (len(owners[product]) / len(neighbours))
        if support >= MIN_SUPPORT and lift >= 1.0:
            ranked.append((lift, support, product))
    if not ranked:
        return None
    # Ties go to the alphabetically first name, so the same data always gives the same offer.
    lift, support, product = min(ranked, key=lambda item: (-item[0], -item[1], item[2]))
    candidate = candidates[product]
    top_intents = [label for label, _ in candidate.intents.most_common(3)]
    via = [name for name, _ in candidate.via.most_common(2)]
    return Offer(
        product=product,
        kind=candidate.kinds.most_common(1)[0][0],
        customers=support,
        lift=round(lift, 2),
        intents=top_intents,
        via_products=via,
        evidence=_evidence(support, via, top_intents, product),
    )


def _neighbours(*, session: Session, customer_id: int, owned: set[str], intents: set[str]) -> list[int]:
    """Return up to NEIGHBOURS other customers like this one: owners of the same products, else customers
    who raised the same intents. A sample, not the first by any order: an unordered LIMIT lets the
    database stop early on a product millions own."""
    found: dict[int, None] = {}
    if owned:
        rows = session.scalars(
            select(Purchase.customer_id)
            .where(Purchase.product.in_(sorted(owned)), Purchase.customer_id != customer_id)
            .limit(NEIGHBOURS * 4)
        )
        for neighbour in rows:
            found.setdefault(int(neighbour), None)
    else:
        for neighbour, _, labels, _ in triage.intent_history(
            session=session, customer_ids=None, exclude_customer_id=customer_id, limit=NEIGHBOURS * 20
        ):
            if intents & set(labels):
                found.setdefault(neighbour, None)
    return list(found)[:NEIGHBOURS]


def _evidence(support: int, via: list[str], intents: list[str], product: str) -> str:
    who = f"{support} customers" + (f" with {' or '.join(via)}" if via else "")
    about = " or ".join(label.replace("_", " ") for label in intents) or "a concern"
    return f"{who} who asked about {about}, and had it resolved, later bought {product}"
