"""/api/v1/customers: the customer record, the timeline, purchases and the 360 overview."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from ombud.customers import merge as merges
from ombud.customers import privacy, purchases
from ombud.customers import service as customers
from ombud.customers.export import export_customer
from ombud.customers.insight import customer_360
from ombud.customers.schemas import (
    Customer360,
    CustomerPublic,
    CustomerUpdate,
    ErasurePublic,
    MergePublic,
    MergeRequest,
    PurchaseCreate,
    PurchasePublic,
    TimelinePage,
)
from ombud.customers.timeline import customer_timeline
from ombud.errors import Forbidden
from ombud.web.api.common import IdPath
from ombud.web.deps import CurrentPrincipal, ReadSession, WriteSession

router = APIRouter(prefix="/customers", tags=["customers"])
merge_router = APIRouter(prefix="/customer-merges", tags=["customers"])


@router.get("/{customer_id}", response_model=CustomerPublic)
def get_customer(customer_id: IdPath, session: ReadSession, principal: CurrentPrincipal) -> CustomerPublic:
    """The customer's profile with every identity (customers may read only their own)."""
    customer = customers.access_customer(session=session, principal=principal, customer_id=customer_id)
    return CustomerPublic.model_validate(customer)


@router.patch("/{customer_id}", response_model=CustomerPublic)
def update_customer(
    customer_id: IdPath, changes: CustomerUpdate, session: WriteSession, principal: CurrentPrincipal
) -> CustomerPublic:
    """Change name, notes, preferences or organisation (service roles only)."""
    if not principal.can_serve:
        raise Forbidden("your role may not change customers", code="role_forbidden")
    customer = customers.access_customer(session=session, principal=principal, customer_id=customer_id)
    customers.update_customer(session=session, customer=customer, changes=changes, actor=principal)
    session.commit()
    return CustomerPublic.model_validate(customer)


@router.get("/{customer_id}/timeline", response_model=TimelinePage)
def timeline(
    customer_id: IdPath,
    session: ReadSession,
    principal: CurrentPrincipal,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> TimelinePage:
    """Every message and event of the customer across tickets and channels, newest first."""
    customers.access_customer(session=session, principal=principal, customer_id=customer_id)
    return customer_timeline(
        session=session,
        customer_id=customer_id,
        include_internal=principal.is_staff,
        limit=limit,
        cursor=cursor,
    )


@router.get("/{customer_id}/purchases", response_model=list[PurchasePublic])
def list_purchases(
    customer_id: IdPath, session: ReadSession, principal: CurrentPrincipal
) -> list[PurchasePublic]:
    """The customer's purchases, newest first (staff, or the customer their own)."""
    customers.access_customer(session=session, principal=principal, customer_id=customer_id)
    rows = purchases.list_purchases(session=session, customer_id=customer_id)
    return [PurchasePublic.model_validate(row) for row in rows]


@router.post("/{customer_id}/purchases", response_model=PurchasePublic, status_code=201)
def add_purchase(
    customer_id: IdPath, data: PurchaseCreate, session: WriteSession, principal: CurrentPrincipal
) -> PurchasePublic:
    """Record something the customer bought: a product, plan or service (service roles only)."""
    if not principal.can_serve:
        raise Forbidden("your role may not record purchases", code="role_forbidden")
    purchase = purchases.add_purchase(session=session, customer_id=customer_id, data=data, actor=principal)
    session.commit()
    return PurchasePublic.model_validate(purchase)


@router.get("/{customer_id}/overview", response_model=Customer360)
def overview(customer_id: IdPath, session: ReadSession, principal: CurrentPrincipal) -> Customer360:
    """The customer 360 beside a ticket, with the suggested offer or why there is none (staff only)."""
    return customer_360(session=session, principal=principal, customer_id=customer_id)


@router.post("/{customer_id}/merge", response_model=MergePublic, status_code=201)
def merge_customer(
    customer_id: IdPath, body: MergeRequest, session: WriteSession, principal: CurrentPrincipal
) -> MergePublic:
    """Merge customer ``source_id`` into this one (admins): its tickets, messages, identities and
    timeline move here; the source is kept, marked merged, so the merge can be undone."""
    merge = merges.merge_customers(
        session=session, target_id=customer_id, source_id=body.source_id, actor=principal
    )
    session.commit()
    return MergePublic.model_validate(merge)


@router.get("/{customer_id}/merges", response_model=list[MergePublic])
def customer_merges(
    customer_id: IdPath, session: ReadSession, principal: CurrentPrincipal
) -> list[MergePublic]:
    """Merges into or out of this customer, newest first (admins)."""
    rows = merges.list_merges(session=session, customer_id=customer_id, actor=principal)
    return [MergePublic.model_validate(row) for row in rows]


@merge_router.post("/{merge_id}/undo", response_model=MergePublic)
def undo_merge(merge_id: IdPath, session: WriteSession, principal: CurrentPrincipal) -> MergePublic:
    """Undo a merge (admins): the rows it moved go back to the source customer."""
    merge = merges.undo_merge(session=session, merge_id=merge_id, actor=principal)
    session.commit()
    return MergePublic.model_validate(merge)


@router.get("/{customer_id}/export", response_model=dict[str, Any])
def export(customer_id: IdPath, session: WriteSession, principal: CurrentPrincipal) -> dict[str, Any]:
    """Everything held about the customer as one JSON document, for an access request (admins). Internal
    notes and staff working data are left out (docs/privacy.md); the export is recorded in the audit."""
    document = export_customer(session=session, customer_id=customer_id, actor=principal)
    session.commit()
    return document


@router.post("/{customer_id}/erase", response_model=ErasurePublic)
def erase(customer_id: IdPath, session: WriteSession, principal: CurrentPrincipal) -> ErasurePublic:
    """Erase the customer and every customer merged into them (admins): all their rows are deleted, copies
    of their words elsewhere scrubbed; the audit keeps only that it happened, by whom, and the counts.
    A customer merged into another is refused (409 customer_merged). Cannot be undone."""
    report = privacy.erase_customer(session=session, customer_id=customer_id, actor=principal)
    session.commit()
    return ErasurePublic.model_validate(report.as_dict())
