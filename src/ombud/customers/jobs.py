"""Background work of the customers domain: the customer 360's suggested offer, worked out when a
ticket of the customer is resolved or they buy something (it reads many similar customers: too much for
a page view, and never while holding SQLite's write lock)."""

from __future__ import annotations

import functools

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ombud.customers import insight
from ombud.customers.models import CustomerOffer
from ombud.storage.base import utcnow
from ombud.storage.db import Database
from ombud.storage.queue import JobQueue
from ombud.tickets import service as tickets


def refresh_offer(*, session: Session, database: Database, customer_id: int) -> None:
    """Work out the offer in a read session, then keep it in a short write."""
    with database.session(write=False) as reader:
        decision = insight.suggest_offer(session=reader, customer_id=customer_id)
        exists = reader.get(CustomerOffer, customer_id) is not None
    values = {
        "offer": decision.offer.model_dump() if decision.offer else None,
        "reason": decision.reason,
        "computed_at": utcnow(),
    }
    if exists:
        stored = session.get(CustomerOffer, customer_id)
        if stored is not None:
            for key, value in values.items():
                setattr(stored, key, value)
            return
    try:
        with session.begin_nested():
            session.add(CustomerOffer(customer_id=customer_id, **values))
    except IntegrityError:
        # The customer is gone (merged away and deleted), or another run stored it first: nothing to do.
        return


def register(queue: JobQueue, database: Database) -> None:
    queue.register(tickets.OFFER_JOB, functools.partial(refresh_offer, database=database))
