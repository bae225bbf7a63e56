"""/api/v1/work-orders and /api/v1/tickets/{id}/work-orders: field visits from a concern, the partner's
answer, appointment slots, status updates, notes, parts, photos, the customer's rating."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Query, Response
from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from ombud.accounts.schemas import Principal
from ombud.partners import work_orders
from ombud.partners.models import WorkOrder, WorkOrderStatus
from ombud.partners.schemas import (
    AcceptIn,
    ConfirmIn,
    NoteIn,
    OptionalReasonIn,
    PartsIn,
    PhotoIn,
    RatingIn,
    ReasonIn,
    Slot,
    SlotsIn,
    StatusIn,
    VisitView,
    WorkOrderCreate,
    WorkOrderCustomerView,
    WorkOrderPage,
    WorkOrderPhotoPublic,
    WorkOrderPublic,
    WorkOrderUpdatePublic,
)
from ombud.validation import check_text
from ombud.web.api.common import IdPath
from ombud.web.deps import CurrentPrincipal, ReadSession, WriteSession

router = APIRouter(tags=["work orders"])
AnyView = WorkOrderPublic | WorkOrderCustomerView
OptionalId = Annotated[int | None, Query(ge=1, le=2**63 - 1)]


class WorkOrderList(BaseModel):
    """A ticket's work orders: the whole record for staff, the customer-facing fields for its customer."""

    items: list[AnyView]


class UpdateList(BaseModel):
    items: list[WorkOrderUpdatePublic]


class PhotoList(BaseModel):
    items: list[WorkOrderPhotoPublic]


class SlotList(BaseModel):
    items: list[Slot]


class RepeatIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    summary: Annotated[str, AfterValidator(check_text), Field(max_length=5000)] = ""


def _view(session: Session, principal: Principal, work_order: WorkOrder) -> AnyView:
    if principal.is_customer:
        return work_orders.customer_view(session=session, work_order=work_order)
    return work_orders.public_view(principal=principal, work_order=work_order)


def _act(
    action: Callable[..., WorkOrder],
    session: Session,
    principal: Principal,
    work_order_id: int,
    **fields: Any,
) -> WorkOrderPublic:
    """Run one work-order action as ``principal``, commit, and answer with the staff/partner view."""
    found = action(session=session, actor=principal, work_order_id=work_order_id, **fields)
    session.commit()
    return work_orders.public_view(principal=principal, work_order=found)


@router.get("/work-orders", response_model=WorkOrderPage)
def list_work_orders(
    session: ReadSession,
    principal: CurrentPrincipal,
    status: WorkOrderStatus | None = None,
    partner_id: OptionalId = None,
    ticket_id: OptionalId = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> WorkOrderPage:
    """Newest first; staff see all, a partner token only its partner's."""
    return work_orders.list_work_orders(
        session=session,
        principal=principal,
        status=status,
        partner_id=partner_id,
        ticket_id=ticket_id,
        limit=limit,
        cursor=cursor,
    )


@router.post("/tickets/{ticket_id}/work-orders", status_code=201, response_model=WorkOrderPublic)
def create_work_order(
    ticket_id: IdPath, data: WorkOrderCreate, session: WriteSession, principal: CurrentPrincipal
) -> WorkOrderPublic:
    """Make a work order from the ticket's concern; it is dispatched at once (or waits with the reason)."""
    work_order = work_orders.create_work_order(
        session=session, actor=principal, ticket_id=ticket_id, data=data
    )
    session.commit()
    return WorkOrderPublic.model_validate(work_order)


@router.get("/tickets/{ticket_id}/work-orders", response_model=WorkOrderList)
def ticket_work_orders(ticket_id: IdPath, session: ReadSession, principal: CurrentPrincipal) -> WorkOrderList:
    found = work_orders.for_ticket(session=session, principal=principal, ticket_id=ticket_id)
    return WorkOrderList(items=[_view(session, principal, w) for w in found])


@router.get("/work-orders/{work_order_id}", response_model=AnyView)
def get_work_order(work_order_id: IdPath, session: ReadSession, principal: CurrentPrincipal) -> AnyView:
    found = work_orders.access_work_order(session=session, principal=principal, work_order_id=work_order_id)
    return _view(session, principal, found)


@router.get("/work-orders/{work_order_id}/visit", response_model=VisitView)
def visit(work_order_id: IdPath, session: ReadSession, principal: CurrentPrincipal) -> VisitView:
    """What the visit needs: the work order, the customer's name, phone, address and the concern."""
    return work_orders.visit_view(session=session, principal=principal, work_order_id=work_order_id)


@router.post("/work-orders/{work_order_id}/accept", response_model=WorkOrderPublic)
def accept(
    work_order_id: IdPath, data: AcceptIn, session: WriteSession, principal: CurrentPrincipal
) -> WorkOrderPublic:
    """The partner takes it (staff may act for the partner; recorded as themselves)."""
    return _act(work_orders.accept, session, principal, work_order_id, technician_id=data.technician_id)


@router.post("/work-orders/{work_order_id}/decline", response_model=WorkOrderPublic)
def decline(
    work_order_id: IdPath, data: ReasonIn, session: WriteSession, principal: CurrentPrincipal
) -> WorkOrderPublic:
    """The partner declines; it is dispatched to the next fitting partner (or waits)."""
    view = _act(work_orders.decline, session, principal, work_order_id, reason=data.reason)
    if principal.is_staff:
        return view
    # It has gone on to the next company (or waits): which one is not the declining partner's business.
    return view.model_copy(update={"partner_id": None, "technician_id": None})


@router.get("/work-orders/{work_order_id}/free-slots", response_model=SlotList)
def free_slots(
    work_order_id: IdPath,
    session: ReadSession,
    principal: CurrentPrincipal,
    days: Annotated[int, Query(ge=1, le=60)] = 14,
    limit: Annotated[int, Query(ge=1, le=50)] = 6,
) -> SlotList:
    """The technician's next free 2-hour windows (staff and the partner)."""
    work_orders.check_can_plan(session=session, principal=principal, work_order_id=work_order_id)
    return SlotList(
        items=work_orders.free_slots(session=session, work_order_id=work_order_id, days=days, limit=limit)
    )


@router.post("/work-orders/{work_order_id}/slots", response_model=WorkOrderPublic)
def offer_slots(
    work_order_id: IdPath, data: SlotsIn, session: WriteSession, principal: CurrentPrincipal
) -> WorkOrderPublic:
    """Offer appointment slots to the customer (a message on their ticket linking to the portal)."""
    return _act(work_orders.offer_slots, session, principal, work_order_id, slots=data.slots)


@router.post("/work-orders/{work_order_id}/confirm", response_model=AnyView)
def confirm(
    work_order_id: IdPath, data: ConfirmIn, session: WriteSession, principal: CurrentPrincipal
) -> AnyView:
    """Book the visit at ``start`` (the customer: an offered slot; staff or the partner: also a free one)."""
    found = work_orders.confirm_slot(
        session=session, actor=principal, work_order_id=work_order_id, start=data.start
    )
    session.commit()
    return _view(session, principal, found)


@router.post("/work-orders/{work_order_id}/status", response_model=WorkOrderPublic)
def set_status(
    work_order_id: IdPath, data: StatusIn, session: WriteSession, principal: CurrentPrincipal
) -> WorkOrderPublic:
    """en_route, on_site, completed (with outcome fixed or not_fixed), closed or cancelled."""
    return _act(
        work_orders.set_status,
        session,
        principal,
        work_order_id,
        status=data.status,
        note=data.note,
        outcome=data.outcome,
    )


@router.post("/work-orders/{work_order_id}/notes", status_code=201, response_model=WorkOrderUpdatePublic)
def add_note(
    work_order_id: IdPath, data: NoteIn, session: WriteSession, principal: CurrentPrincipal
) -> WorkOrderUpdatePublic:
    """A visit note (internal: never shown to the customer)."""
    update = work_orders.add_note(
        session=session, actor=principal, work_order_id=work_order_id, body=data.body
    )
    session.commit()
    return WorkOrderUpdatePublic.model_validate(update)


@router.post("/work-orders/{work_order_id}/parts", response_model=WorkOrderPublic)
def add_parts(
    work_order_id: IdPath, data: PartsIn, session: WriteSession, principal: CurrentPrincipal
) -> WorkOrderPublic:
    return _act(work_orders.add_parts, session, principal, work_order_id, parts=data.parts)


@router.get("/work-orders/{work_order_id}/photos", response_model=PhotoList)
def list_photos(work_order_id: IdPath, session: ReadSession, principal: CurrentPrincipal) -> PhotoList:
    found = work_orders.photos_of(session=session, principal=principal, work_order_id=work_order_id)
    return PhotoList(items=[WorkOrderPhotoPublic.model_validate(p) for p in found])


@router.post("/work-orders/{work_order_id}/photos", status_code=201, response_model=WorkOrderPhotoPublic)
def add_photo(
    work_order_id: IdPath, data: PhotoIn, session: WriteSession, principal: CurrentPrincipal
) -> WorkOrderPhotoPublic:
    """A visit photo: JPEG, PNG or WebP, base64, at most 10 MB."""
    photo = work_orders.add_photo(
        session=session,
        actor=principal,
        work_order_id=work_order_id,
        filename=data.filename,
        content_type=data.content_type,
        content=work_orders.decode_photo(data.content_base64),
    )
    session.commit()
    return WorkOrderPhotoPublic.model_validate(photo)


@router.get(
    "/work-order-photos/{photo_id}",
    response_class=Response,
    responses={200: {"description": "The image.", "content": {"image/*": {}}}},
)
def download_photo(photo_id: IdPath, session: ReadSession, principal: CurrentPrincipal) -> Response:
    """The photo's bytes (staff and the partner of its work order)."""
    photo, data = work_orders.photo_of(session=session, principal=principal, photo_id=photo_id)
    fallback = "".join(
        ch if ch.isascii() and ch.isprintable() and ch not in '"\\;' else "_" for ch in photo.filename
    )
    return Response(
        content=data,
        media_type=photo.content_type,
        headers={
            "Content-Disposition": (
                f"inline; filename=\"{fallback}\"; filename*=UTF-8''{quote(photo.filename)}"
            ),
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "sandbox",
            "Cache-Control": "private, no-store",
        },
    )


@router.post("/work-orders/{work_order_id}/rating", response_model=WorkOrderCustomerView)
def rate(
    work_order_id: IdPath, data: RatingIn, session: WriteSession, principal: CurrentPrincipal
) -> WorkOrderCustomerView:
    """The ticket's customer rates the completed visit 1..5, once."""
    found = work_orders.rate_visit(
        session=session, actor=principal, work_order_id=work_order_id, score=data.score, comment=data.comment
    )
    session.commit()
    return work_orders.customer_view(session=session, work_order=found)


@router.post("/work-orders/{work_order_id}/close", response_model=WorkOrderPublic)
def close(
    work_order_id: IdPath, data: OptionalReasonIn, session: WriteSession, principal: CurrentPrincipal
) -> WorkOrderPublic:
    return _act(work_orders.close, session, principal, work_order_id, reason=data.reason)


@router.post("/work-orders/{work_order_id}/cancel", response_model=WorkOrderPublic)
def cancel(
    work_order_id: IdPath, data: ReasonIn, session: WriteSession, principal: CurrentPrincipal
) -> WorkOrderPublic:
    """Staff cancel an open work order (the customer is told if a visit was offered or booked)."""
    return _act(work_orders.cancel, session, principal, work_order_id, reason=data.reason)


@router.post("/work-orders/{work_order_id}/repeat", status_code=201, response_model=WorkOrderPublic)
def repeat(
    work_order_id: IdPath, data: RepeatIn, session: WriteSession, principal: CurrentPrincipal
) -> WorkOrderPublic:
    """A follow-up visit for a completed visit that did not fix it (staff)."""
    return _act(work_orders.repeat_visit, session, principal, work_order_id, summary=data.summary)


@router.get("/work-orders/{work_order_id}/updates", response_model=UpdateList)
def updates(work_order_id: IdPath, session: ReadSession, principal: CurrentPrincipal) -> UpdateList:
    """Every update, oldest first (a customer: only what they were told)."""
    found = work_orders.updates_of(session=session, principal=principal, work_order_id=work_order_id)
    return UpdateList(items=[WorkOrderUpdatePublic.model_validate(u) for u in found])
