"""Visit photos: JPEG, PNG or WebP (checked against the file's first bytes), at most 10 MB, stored once by
SHA-256 in the attachment blobs the ticket attachments use. Staff and the work order's partner see them;
customers do not."""

from __future__ import annotations

import base64
import binascii
import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from ombud.accounts.schemas import Principal
from ombud.errors import InvalidInput, NotFound, PayloadTooLarge
from ombud.partners import access, core
from ombud.partners.models import WorkOrder, WorkOrderPhoto, WorkOrderStatus, WorkOrderUpdate
from ombud.tickets import service as tickets

PHOTO_TYPES = {
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/webp": (b"RIFF",),
}
MAX_PHOTO_BYTES = 10 * 1024 * 1024


def photos_of(*, session: Session, principal: Principal, work_order_id: int) -> list[WorkOrderPhoto]:
    found = session.get(WorkOrder, work_order_id)
    access.check_work_order(
        session=session, principal=principal, work_order=found, work_order_id=work_order_id
    )
    if principal.is_customer:
        return []
    query = select(WorkOrderPhoto).where(WorkOrderPhoto.work_order_id == work_order_id)
    if not principal.is_staff:
        # A partner sees the photos from the offer to them on, not those of a company that had it before.
        since = _last_offer_at(session=session, work_order_id=work_order_id)
        if since is not None:
            query = query.where(WorkOrderPhoto.created_at >= since)
    return list(session.scalars(query.order_by(WorkOrderPhoto.id)))


def _last_offer_at(*, session: Session, work_order_id: int) -> dt.datetime | None:
    return session.scalar(
        select(WorkOrderUpdate.created_at)
        .where(
            WorkOrderUpdate.work_order_id == work_order_id,
            WorkOrderUpdate.status_to == WorkOrderStatus.offered.value,
        )
        .order_by(WorkOrderUpdate.id.desc())
        .limit(1)
    )


def photo_of(*, session: Session, principal: Principal, photo_id: int) -> tuple[WorkOrderPhoto, bytes]:
    photo = session.get(WorkOrderPhoto, photo_id)
    missing = NotFound(f"no photo with id {photo_id}", code="photo_not_found")
    if photo is None or principal.is_customer:
        raise missing
    order = session.get(WorkOrder, photo.work_order_id)
    if order is None or not access.can_see_work_order(session=session, principal=principal, work_order=order):
        raise missing
    if not principal.is_staff:
        since = _last_offer_at(session=session, work_order_id=order.id)
        if since is not None and photo.created_at < since:
            raise missing  # taken while another company had it
    return photo, tickets.blob_data(session=session, sha256=photo.sha256)


def decode_photo(content_base64: str) -> bytes:
    try:
        return base64.b64decode(content_base64, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInput("the photo is not valid base64", code="invalid_photo") from None


def add_photo(
    *,
    session: Session,
    actor: Principal,
    work_order_id: int,
    filename: str,
    content_type: str,
    content: bytes,
) -> WorkOrderPhoto:
    """A visit photo (JPEG, PNG or WebP, at most 10 MB), stored once by its SHA-256 with the attachments."""
    work_order = core.lock(session=session, principal=actor, work_order_id=work_order_id)
    core.check_actor(session=session, actor=actor, work_order=work_order)
    core.check_not_finished(work_order)
    kind = content_type.split(";", maxsplit=1)[0].strip().lower()
    if kind not in PHOTO_TYPES:
        raise InvalidInput("photos are image/jpeg, image/png or image/webp", code="invalid_photo_type")
    if len(content) > MAX_PHOTO_BYTES:
        raise PayloadTooLarge(
            f"the photo has {len(content)} bytes; at most {MAX_PHOTO_BYTES}", code="photo_too_large"
        )
    if (
        not content
        or not content.startswith(PHOTO_TYPES[kind])
        or (kind == "image/webp" and content[8:12] != b"WEBP")
    ):
        raise InvalidInput(f"the file is not a {kind} image", code="invalid_photo")
    name = filename.strip()[:255] or "photo"
    digest = tickets.store_blob(session=session, content=content)
    photo = WorkOrderPhoto(
        work_order_id=work_order.id,
        uploaded_by_id=actor.id if actor.kind == "user" else None,
        filename=name,
        content_type=kind,
        size=len(content),
        sha256=digest,
    )
    session.add(photo)
    session.flush()
    core.record(
        session=session,
        actor=actor,
        work_order=work_order,
        kind="photo",
        body=name,
        details={"photo_id": photo.id},
    )
    return photo
