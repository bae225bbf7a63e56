"""Customers: find one by any identity (or create it), read, update."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ombud.accounts.schemas import Principal
from ombud.audit import service as audit
from ombud.customers.models import Customer, Identity, IdentityKind, Organisation
from ombud.customers.schemas import CustomerRef, CustomerUpdate
from ombud.errors import Conflict, Forbidden, NotFound
from ombud.storage.db import race_savepoint
from ombud.validation import normalise_email, normalise_handle, normalise_phone, normalise_visitor

_NORMALISERS: dict[IdentityKind, Callable[[str], str]] = {
    IdentityKind.email: normalise_email,
    IdentityKind.phone: normalise_phone,
    IdentityKind.handle: normalise_handle,
    IdentityKind.visitor: normalise_visitor,
}


def normalise_identity(kind: IdentityKind, value: str) -> str:
    return _NORMALISERS[kind](value)


def access_customer(*, session: Session, principal: Principal, customer_id: int) -> Customer:
    """Return the customer if ``principal`` may see it; NotFound or Forbidden otherwise."""
    if principal.is_customer:
        if principal.id != customer_id:
            # A customer learns nothing about other customers, not even that they exist.
            raise NotFound(f"no customer with id {customer_id}", code="customer_not_found")
    elif not principal.is_staff:
        raise Forbidden("your role may not read customers", code="role_forbidden")
    customer = session.get(Customer, customer_id)
    if customer is None:
        raise NotFound(f"no customer with id {customer_id}", code="customer_not_found")
    return customer


def resolve_customer(*, session: Session, ref: CustomerRef, actor: Principal) -> tuple[Customer, bool]:
    """Return (customer, created): the customer any identity in ``ref`` belongs to, or a new one.

    Identities in ``ref`` that nobody owns yet are added to the customer, so the next message from the
    same person on another channel lands on the same timeline.
    """
    wanted = [(kind, normalise_identity(kind, value)) for kind, value in ref.identities()]
    owners = {
        (row.kind, row.value): row.customer_id
        for row in session.scalars(select(Identity).where(Identity.value.in_([value for _, value in wanted])))
        if (row.kind, row.value) in set(wanted)
    }
    customer_id = next((owners[pair] for pair in wanted if pair in owners), None)
    created = customer_id is None
    if customer_id is None:
        customer = Customer(name=ref.name or "", preferences={}, notes="")
        session.add(customer)
        session.flush()
        audit.record(
            session=session,
            actor=actor,
            action="customer.created",
            entity_type="customer",
            entity_id=customer.id,
            customer_id=customer.id,
            after={"name": customer.name},
        )
    else:
        found = session.get(Customer, customer_id)
        assert found is not None
        customer = found
        if ref.name and not customer.name:
            customer.name = ref.name
    for kind, value in wanted:
        if (kind, value) not in owners:
            _add_identity(session=session, customer=customer, kind=kind, value=value, actor=actor)
    return customer, created


def _add_identity(
    *, session: Session, customer: Customer, kind: IdentityKind, value: str, actor: Principal
) -> None:
    try:
        # A concurrent request may claim the same identity first (PostgreSQL): then it is theirs.
        with race_savepoint(session):
            session.add(Identity(customer_id=customer.id, kind=kind, value=value))
    except IntegrityError:
        return
    audit.record(
        session=session,
        actor=actor,
        action="identity.added",
        entity_type="customer",
        entity_id=customer.id,
        customer_id=customer.id,
        after={"kind": kind.value, "value": value},
    )


def tier_of(*, session: Session, customer_id: int) -> str:
    """Return the customer's service tier ("standard" for a customer that does not exist)."""
    tier = session.scalar(select(Customer.tier).where(Customer.id == customer_id))
    return tier or "standard"


def update_customer(
    *, session: Session, customer: Customer, changes: CustomerUpdate, actor: Principal
) -> Customer:
    """Apply the given fields; record one audit event with what changed."""
    before: dict[str, object] = {}
    after: dict[str, object] = {}
    fields = changes.model_dump(exclude_unset=True)
    for name in ("name", "notes", "preferences", "tier"):
        if name in fields and fields[name] is not None and getattr(customer, name) != fields[name]:
            before[name], after[name] = getattr(customer, name), fields[name]
            setattr(customer, name, fields[name])
    if fields.get("organisation") is not None:
        org_name = fields["organisation"]
        current = customer.organisation.name if customer.organisation else None
        if org_name != current:
            organisation = session.scalar(select(Organisation).where(Organisation.name == org_name))
            if organisation is None:
                organisation = Organisation(name=org_name)
                session.add(organisation)
                session.flush()
            customer.organisation = organisation
            before["organisation"], after["organisation"] = current, org_name
    if after:
        session.flush()
        audit.record(
            session=session,
            actor=actor,
            action="customer.updated",
            entity_type="customer",
            entity_id=customer.id,
            customer_id=customer.id,
            before=before,
            after=after,
        )
    return customer


def identity_values(*, session: Session, customer_id: int, kind: str) -> list[str]:
    """Return the customer's identities of ``kind`` (email, phone, handle, visitor), oldest first."""
    return list(
        session.scalars(
            select(Identity.value)
            .where(Identity.customer_id == customer_id, Identity.kind == IdentityKind(kind))
            .order_by(Identity.id)
        )
    )


def identity_owner(*, session: Session, kind: IdentityKind, value: str) -> int | None:
    """Return the id of the customer ``value`` (normalised here) identifies, or None."""
    clean = normalise_identity(kind, value)
    return session.scalar(select(Identity.customer_id).where(Identity.kind == kind, Identity.value == clean))


def names_of(*, session: Session, customer_ids: Sequence[int]) -> dict[int, str]:
    """Return the name of each of ``customer_ids`` (one query, for lists of tickets)."""
    if not customer_ids:
        return {}
    rows = session.execute(select(Customer.id, Customer.name).where(Customer.id.in_(set(customer_ids))))
    return {row[0]: row[1] for row in rows}


def email_owner(*, session: Session, email: str) -> int | None:
    """Return the id of the customer with this email address, or None."""
    return identity_owner(session=session, kind=IdentityKind.email, value=email)


def claim_identity(
    *, session: Session, customer_id: int, kind: IdentityKind, value: str, actor: Principal
) -> None:
    """Give the customer the identity ``value`` if nobody has it; Conflict if another customer has it."""
    owner = identity_owner(session=session, kind=kind, value=value)
    if owner == customer_id:
        return
    if owner is not None:
        raise Conflict(
            f"{kind.value} {value!r} belongs to customer {owner}; merge the two customers first",
            code="identity_taken",
        )
    customer = session.get(Customer, customer_id)
    if customer is None:
        raise NotFound(f"no customer with id {customer_id}", code="customer_not_found")
    _add_identity(
        session=session, customer=customer, kind=kind, value=normalise_identity(kind, value), actor=actor
    )
