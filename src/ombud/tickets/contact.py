"""May ombud write to this customer unasked, and in which language: what surveys and advocacy notices
(:mod:`ombud.tickets.surveys`, :mod:`ombud.advocacy.loop`) both check before writing on their own.

- :func:`blocked_reason`: "abusive" (triage found an abusive message of theirs on the tickets),
  "auto_reply" (their latest message there was an auto-reply), "spam_sender" (mail from one of their
  addresses was quarantined as spam lately), or "" when nothing stands in the way. Opting out is per
  purpose and stays with each caller (a preference of the customer).
- :func:`language_of`: the language of their latest triaged message that has wording, else a default.
- :func:`fill`: ``{placeholder}`` replacement that leaves other braces alone.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Container, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from ombud.channels.models import Quarantined
from ombud.customers import service as customers
from ombud.storage.base import utcnow
from ombud.tickets.models import AuthorType, Message
from ombud.triage import service as triage

SPAM_REASONS = ("flood", "honeypot", "mail_loop")
SPAM_MEMORY = dt.timedelta(days=90)


def fill(template: str, values: dict[str, str]) -> str:
    for key, value in values.items():
        template = template.replace("{" + key + "}", value)
    return template


def blocked_reason(*, session: Session, customer_id: int, ticket_ids: Sequence[int]) -> str:
    """Return why the customer of ``ticket_ids`` must not be written to unasked ("" when they may be)."""
    if ticket_ids:
        mine = session.execute(
            select(Message.id, Message.channel_meta)
            .where(
                Message.ticket_id.in_(list(ticket_ids)),
                Message.author_type == AuthorType.customer,
                Message.internal.is_(False),
            )
            .order_by(Message.id)
        ).all()
        results = triage.results_for(session=session, message_ids=[row.id for row in mine])
        if any(result.get("abusive") for result in results.values()):
            return "abusive"
        if mine and (mine[-1].channel_meta or {}).get("auto_reply"):
            return "auto_reply"
    addresses = customers.identity_values(session=session, customer_id=customer_id, kind="email")
    if addresses:
        junk = session.scalar(
            select(Quarantined.id)
            .where(
                Quarantined.sender.in_(addresses),
                Quarantined.reason_code.in_(SPAM_REASONS),
                Quarantined.created_at >= utcnow() - SPAM_MEMORY,
            )
            .limit(1)
        )
        if junk is not None:
            return "spam_sender"
    return ""


def language_of(*, session: Session, ticket_ids: Sequence[int], known: Container[str], default: str) -> str:
    """The language of the customer's latest triaged message on ``ticket_ids`` that is in ``known``."""
    if not ticket_ids:
        return default
    ids = session.scalars(
        select(Message.id)
        .where(Message.ticket_id.in_(list(ticket_ids)), Message.author_type == AuthorType.customer)
        .order_by(Message.id.desc())
        .limit(5)
    ).all()
    results = triage.results_for(session=session, message_ids=list(ids))
    for message_id in ids:
        language = str((results.get(message_id) or {}).get("language") or "")
        if language in known:
            return language
    return default
