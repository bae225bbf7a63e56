"""What customers bought or subscribe to: record a purchase, list them, and what a customer is worth."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ombud.accounts.schemas import Principal
from ombud.audit import service as audit
from ombud.customers.models import Customer, Purchase
from ombud.customers.schemas import PurchaseCreate
from ombud.errors import Conflict, NotFound
from ombud.storage.db import race_savepoint
from ombud.storage.queue import defer
from ombud.tickets.service import OFFER_JOB

# Enough for any real customer's history; the 360 shows the newest.
MAX_LISTED = 500


def add_purchase(*, session: Session, customer_id: int, data: PurchaseCreate, actor: Principal) -> Purchase:
    """Record a purchase of the customer; Conflict ``purchase_exists`` if that order already has that
    product."""
    if session.get(Customer, customer_id) is None:
        raise NotFound(f"no customer with id {customer_id}", code="customer_not_found")
    clash = _exists_message(data)
    if data.order_number is not None and session.scalar(
        select(Purchase.id).where(
            Purchase.customer_id == customer_id,
            Purchase.order_number == data.order_number,
            Purchase.product == data.product,
        )
    ):
        raise Conflict(clash, code="purchase_exists")
    purchase = Purchase(
        customer_id=customer_id,
        product=data.product,
        kind=data.kind,
        order_number=data.order_number,
        amount=data.amount,
        currency=data.currency,
        purchased_at=data.purchased_at,
    )
    try:
        # The check above cannot see a concurrent import of the same order (PostgreSQL).
        with race_savepoint(session):
            session.add(purchase)
            session.flush()
    except IntegrityError:
        raise Conflict(clash, code="purchase_exists") from None
    audit.record(
        session=session,
        actor=actor,
        action="purchase.added",
        entity_type="customer",
        entity_id=customer_id,
        customer_id=customer_id,
        after={
            "purchase_id": purchase.id,
            "product": purchase.product,
            "kind": purchase.kind,
            "order_number": purchase.order_number,
            "amount": purchase.amount,
            "currency": purchase.currency,
        },
    )
    # What they own changes what would help them next (the customer 360's suggestion).
    defer(session, OFFER_JOB, customer_id=customer_id)
    return purchase


def _exists_message(data: PurchaseCreate) -> str:
    return f"order {data.order_number!r} already has {data.product!r} for this customer"


def list_purchases(*, session: Session, customer_id: int) -> Sequence[Purchase]:
    """Return the customer's purchases, newest first (at most MAX_LISTED)."""
    return session.scalars(
        select(Purchase)
        .where(Purchase.customer_id == customer_id)
        .order_by(Purchase.purchased_at.desc(), Purchase.id.desc())
        .limit(MAX_LISTED)
    ).all()


def customer_value(*, session: Session, customer_id: int) -> float:
    """Return the sum of the customer's purchase amounts (0 without any).

    Amounts in different currencies are added as they are: the figure ranks customers against each other
    in the inbox, it is not accounting.
    """
    total = session.scalar(select(func.sum(Purchase.amount)).where(Purchase.customer_id == customer_id))
    return float(total or 0.0)
