"""Merging two customers who turned out to be one person, and undoing it.

A merge moves every row that belongs to the source customer (tickets, messages, identities, channel ids,
calls, triage results, portal logins, timeline events: every table with a ``customer_id``) to the target
and records exactly which rows moved. The source customer is kept, marked merged, so undoing the merge
moves those rows back and nothing is lost either way. Rows that came to the target after the merge stay
with the target.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table, UniqueConstraint, select, update
from sqlalchemy.orm import Session

from ombud.accounts.schemas import Principal
from ombud.audit import service as audit
from ombud.customers.models import Customer, CustomerMerge
from ombud.errors import Conflict, Forbidden, InvalidInput, NotFound
from ombud.storage.base import utcnow
from ombud.storage.models import metadata
from ombud.storage.queue import defer
from ombud.tickets.service import OFFER_JOB

# The customer's own row and the merge log are what a merge is about, not what it moves.
_NOT_MOVED = {"customers", "customer_merges", "customer_offers"}


def _owned_tables() -> list[Table]:
    """Every table with a customer_id column and a single-column primary key, in a stable order."""
    tables = []
    for table in metadata.sorted_tables:
        if table.name in _NOT_MOVED or "customer_id" not in table.c:
            continue
        if len(table.primary_key.columns) != 1:
            raise AssertionError(f"{table.name} has a composite primary key: teach merge.py to move it")
        tables.append(table)
    return tables


def _check_admin(actor: Principal) -> None:
    if not actor.is_admin:
        raise Forbidden("only admins may merge customers or undo a merge", code="role_forbidden")


def _customer(session: Session, customer_id: int) -> Customer:
    customer = session.get(Customer, customer_id)
    if customer is None:
        raise NotFound(f"no customer with id {customer_id}", code="customer_not_found")
    return customer


def merge_customers(*, session: Session, target_id: int, source_id: int, actor: Principal) -> CustomerMerge:
    """Move everything of customer ``source_id`` to ``target_id``; return the merge record."""
    _check_admin(actor)
    if target_id == source_id:
        raise InvalidInput("a customer cannot be merged into itself", code="merge_same_customer")
    # Both rows locked, in id order (PostgreSQL; SQLite's writer lock already serialises): two admins
    # merging A into B and B into A at once cannot both pass the checks below.
    locked = session.scalars(
        select(Customer)
        .where(Customer.id.in_(sorted({target_id, source_id})))
        .order_by(Customer.id)
        .with_for_update()
    ).all()
    if len(locked) != 2:
        missing = target_id if all(c.id != target_id for c in locked) else source_id
        raise NotFound(f"no customer with id {missing}", code="customer_not_found")
    target, source = _customer(session, target_id), _customer(session, source_id)
    for customer in (target, source):
        if customer.merged_into_id is not None:
            raise Conflict(
                f"customer {customer.id} was merged into customer {customer.merged_into_id}; "
                "merge with that customer instead",
                code="customer_merged",
            )
    moved: dict[str, Any] = {}
    for table in _owned_tables():
        key = next(iter(table.primary_key.columns))
        ids = list(session.scalars(select(key).where(table.c.customer_id == source_id).order_by(key)))
        ids = _without_clashes(session, table, ids, target_id)
        if ids:
            _move(session, table, ids, source_id, target_id)
            moved[table.name] = ids
    filled: dict[str, Any] = {}
    if not target.name and source.name:
        filled["name"] = target.name = source.name
    if target.organisation_id is None and source.organisation_id is not None:
        target.organisation_id = source.organisation_id
        filled["organisation_id"] = source.organisation_id
    source.merged_into_id = target.id
    merge = CustomerMerge(
        target_id=target.id,
        source_id=source.id,
        moved={"rows": moved, "filled": filled},
        merged_by_id=actor.id if actor.kind == "user" else None,
    )
    session.add(merge)
    session.flush()
    # The session may hold the moved rows (identities, tickets) with the old customer_id.
    session.expire_all()
    audit.record(
        session=session,
        actor=actor,
        action="customer.merged",
        entity_type="customer",
        entity_id=target_id,
        customer_id=target_id,
        after={"merge_id": merge.id, "source_id": source_id, "moved": _counts(moved)},
    )
    # The target's history grew: its suggestion is worked out again (the source's is no longer shown).
    defer(session, OFFER_JOB, customer_id=target_id)
    return merge


def undo_merge(*, session: Session, merge_id: int, actor: Principal) -> CustomerMerge:
    """Move the rows the merge moved (those still with the target) back to the source customer."""
    _check_admin(actor)
    merge = access_merge(session=session, merge_id=merge_id)
    if merge.undone_at is not None:
        raise Conflict(f"merge {merge_id} was already undone", code="merge_undone")
    target = _customer(session, merge.target_id)
    if target.merged_into_id is not None:
        raise Conflict(
            f"customer {target.id} was since merged into customer {target.merged_into_id}; "
            "undo that merge first",
            code="customer_merged",
        )
    tables = {table.name: table for table in _owned_tables()}
    rows: dict[str, list[int]] = merge.moved.get("rows", {})
    for name, ids in rows.items():
        table = tables.get(name)
        if table is None:
            continue  # a table a later version dropped
        _move(session, table, ids, merge.target_id, merge.source_id)
    # What was added since to the tickets that go back (a reply, a call, its channel ids and triage)
    # belongs to the source's conversations: it goes back too, or the target would keep reading it.
    moved_tickets = rows.get("tickets", [])
    for table in tables.values():
        if table.name != "tickets" and "ticket_id" in table.c:
            for start in range(0, len(moved_tickets), 500):
                session.execute(
                    update(table)
                    .where(
                        table.c.ticket_id.in_(moved_tickets[start : start + 500]),
                        table.c.customer_id == merge.target_id,
                    )
                    .values(customer_id=merge.source_id)
                )
    filled = merge.moved.get("filled", {})
    if "name" in filled and target.name == filled["name"]:
        target.name = ""
    if "organisation_id" in filled and target.organisation_id == filled["organisation_id"]:
        target.organisation_id = None
    source = _customer(session, merge.source_id)
    source.merged_into_id = None
    merge.undone_at = utcnow()
    session.flush()
    session.expire_all()
    audit.record(
        session=session,
        actor=actor,
        action="customer.merge_undone",
        entity_type="customer",
        entity_id=merge.target_id,
        customer_id=merge.target_id,
        after={"merge_id": merge.id, "source_id": merge.source_id},
    )
    for customer_id in (merge.target_id, merge.source_id):
        defer(session, OFFER_JOB, customer_id=customer_id)
    return merge


def access_merge(*, session: Session, merge_id: int) -> CustomerMerge:
    merge = session.get(CustomerMerge, merge_id)
    if merge is None:
        raise NotFound(f"no customer merge with id {merge_id}", code="merge_not_found")
    return merge


def list_merges(*, session: Session, customer_id: int, actor: Principal) -> list[CustomerMerge]:
    """Return the merges into or out of the customer, newest first."""
    _check_admin(actor)
    _customer(session, customer_id)
    return list(
        session.scalars(
            select(CustomerMerge)
            .where((CustomerMerge.target_id == customer_id) | (CustomerMerge.source_id == customer_id))
            .order_by(CustomerMerge.id.desc())
        )
    )


def _without_clashes(session: Session, table: Table, ids: list[int], to_id: int) -> list[int]:
    """Leave out the rows whose move would give ``to_id`` a second row where a unique constraint on the
    customer allows one (the same order's purchase recorded for both): they stay with the merged customer,
    the target already has their twin, and undoing the merge finds them where they were."""
    key = next(iter(table.primary_key.columns))
    for constraint in table.constraints:
        if not isinstance(constraint, UniqueConstraint) or "customer_id" not in constraint.columns:
            continue
        others = [column for column in constraint.columns if column.name != "customer_id"]
        taken = {tuple(row) for row in session.execute(select(*others).where(table.c.customer_id == to_id))}
        kept = []
        for start in range(0, len(ids), 500):
            for row in session.execute(select(key, *others).where(key.in_(ids[start : start + 500]))):
                values = tuple(row[1:])
                # NULLs never clash in a unique constraint.
                if any(value is None for value in values) or values not in taken:
                    kept.append(row[0])
        ids = sorted(kept)
    return ids


def _move(session: Session, table: Table, ids: list[int], from_id: int, to_id: int) -> None:
    """Give the rows ``ids`` of ``table`` that still belong to ``from_id`` to ``to_id``."""
    key = next(iter(table.primary_key.columns))
    for start in range(0, len(ids), 500):
        session.execute(
            update(table)
            .where(key.in_(ids[start : start + 500]), table.c.customer_id == from_id)
            .values(customer_id=to_id)
        )


def _counts(moved: dict[str, Any]) -> dict[str, int]:
    return {name: len(ids) for name, ids in moved.items()}
