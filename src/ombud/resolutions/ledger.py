"""The ledger of concessions: whether the customer came back with the same concern (an event consumer on
``message.triaged``), the filtered list and its CSV export."""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ombud.accounts.schemas import SYSTEM, Principal
from ombud.audit import service as audit
from ombud.events.service import EventRecord
from ombud.resolutions import currencies as money
from ombud.resolutions.models import Resolution, ResolutionStatus
from ombud.resolutions.policies import active_policy, require_staff
from ombud.resolutions.schemas import (
    LedgerPage,
    LedgerRow,
)
from ombud.tickets import service as tickets
from ombud.tickets.models import Ticket


# -- came back with the same concern -------------------------------------------------------------------------
def on_event(*, session: Session, event: EventRecord) -> None:
    """Mark the customer's applied resolutions whose intent a newly triaged message repeats, within the
    policy's ``came_back_days`` after the resolution (an event consumer: idempotent, no outside calls)."""
    if event.kind != "message.triaged" or event.customer_id is None or event.ticket_id is None:
        return
    intents = [str(i) for i in (event.payload.get("intents") or [])]
    if not intents:
        return
    found = active_policy(session=session)
    days = found[1].came_back_days if found else 30
    at = (
        _message_time(session=session, ticket_id=event.ticket_id, message_id=event.entity_id)
        or event.created_at
    )
    rows = session.scalars(
        select(Resolution).where(
            Resolution.customer_id == event.customer_id,
            Resolution.intent.in_(intents),
            Resolution.status == ResolutionStatus.applied,
            Resolution.applied_at < at,
            Resolution.applied_at >= at - dt.timedelta(days=days),
            Resolution.came_back_at.is_(None),
        )
    ).all()
    for resolution in rows:
        resolution.came_back_at = at
        resolution.came_back_ticket_id = event.ticket_id
        session.flush()
        audit.record(
            session=session,
            actor=SYSTEM,
            action="resolution.came_back",
            entity_type="resolution",
            entity_id=resolution.id,
            customer_id=resolution.customer_id,
            ticket_id=resolution.ticket_id,
            after={"intent": resolution.intent, "ticket_id": event.ticket_id, "message_id": event.entity_id},
        )


def _message_time(*, session: Session, ticket_id: int, message_id: int) -> dt.datetime | None:
    # Triage may finish well after the message arrived: what counts is when the customer wrote.
    ticket = session.get(Ticket, ticket_id)
    if ticket is None:
        return None
    for message in tickets.list_messages(session=session, ticket=ticket, principal=SYSTEM):
        if message.id == message_id:
            return message.created_at
    return None


# -- the ledger ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LedgerFilters:
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    kind: str | None = None
    reason: str | None = None
    intent: str | None = None
    status: ResolutionStatus | None = ResolutionStatus.applied
    customer_id: int | None = None
    granted_by_id: int | None = None
    came_back: bool | None = None


LEDGER_MAX = 10_000


def ledger(*, session: Session, principal: Principal, filters: LedgerFilters, limit: int) -> list[LedgerRow]:
    """Return the concessions matching ``filters``, newest first (staff only)."""
    require_staff(principal)
    query = select(Resolution)
    if filters.status is not None:
        query = query.where(Resolution.status == filters.status)
    if filters.since is not None:
        query = query.where(Resolution.created_at >= filters.since)
    if filters.until is not None:
        query = query.where(Resolution.created_at < filters.until)
    for column, value in (
        (Resolution.kind, filters.kind),
        (Resolution.reason, filters.reason),
        (Resolution.intent, filters.intent),
        (Resolution.customer_id, filters.customer_id),
        (Resolution.applied_by_id, filters.granted_by_id),
    ):
        if value is not None:
            query = query.where(column == value)
    if filters.came_back is not None:
        query = query.where(
            Resolution.came_back_at.is_not(None) if filters.came_back else Resolution.came_back_at.is_(None)
        )
    rows = session.scalars(
        query.order_by(Resolution.created_at.desc(), Resolution.id.desc()).limit(min(limit, LEDGER_MAX))
    ).all()
    return [
        LedgerRow(
            id=r.id,
            ticket_id=r.ticket_id,
            concern_id=r.concern_id,
            customer_id=r.customer_id,
            kind=r.kind,
            amount=money.from_minor(r.amount_minor, r.currency),
            currency=r.currency,
            base_amount=money.from_minor(r.base_minor, r.base_currency),
            base_currency=r.base_currency,
            reason=r.reason,
            intent=r.intent,
            status=r.status,
            granted_by_id=r.applied_by_id or r.proposed_by_id,
            approved_by_id=r.decided_by_id if r.status != ResolutionStatus.rejected else None,
            applied_at=r.applied_at,
            came_back=r.came_back_at is not None,
            came_back_at=r.came_back_at,
            came_back_ticket_id=r.came_back_ticket_id,
        )
        for r in rows
    ]


def ledger_page(rows: list[LedgerRow]) -> LedgerPage:
    currencies = {r.base_currency for r in rows}
    base = currencies.pop() if len(currencies) == 1 else None
    return LedgerPage(
        items=rows,
        total_base=sum((r.base_amount for r in rows), Decimal(0)) if base or not rows else Decimal(0),
        base_currency=base,
        came_back=sum(1 for r in rows if r.came_back),
    )


LEDGER_COLUMNS = (
    "id",
    "applied_at",
    "ticket_id",
    "concern_id",
    "customer_id",
    "kind",
    "amount",
    "currency",
    "base_amount",
    "base_currency",
    "reason",
    "intent",
    "status",
    "granted_by_id",
    "approved_by_id",
    "came_back",
    "came_back_at",
    "came_back_ticket_id",
)


def ledger_csv(rows: list[LedgerRow]) -> str:
    """Return the rows as CSV (one header line), for spreadsheets and finance."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(LEDGER_COLUMNS)
    for row in rows:
        data = row.model_dump(mode="json")
        writer.writerow(["" if data[c] is None else _cell(data[c]) for c in LEDGER_COLUMNS])
    return out.getvalue()


def _cell(value: Any) -> str:
    text = str(value).lower() if isinstance(value, bool) else str(value)
    # A cell a spreadsheet would run as a formula is quoted as text (CSV injection).
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text
