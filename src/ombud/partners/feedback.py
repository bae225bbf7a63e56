"""The feedback channel: partners say what they need (training, information, parts, other), the service
organisation sees all of it and answers. Staff list every item (with a state filter); a partner user only
their own partner's (others: 404). Replies come from both sides; a staff reply marks it answered (or
closes it); a partner's reply opens it again. New items count as ``open`` on the staff page."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ombud.accounts.schemas import Principal
from ombud.audit import service as audit
from ombud.errors import Conflict, InvalidInput, NotFound
from ombud.partners import access
from ombud.partners.models import FeedbackState, Partner, PartnerFeedback, PartnerFeedbackReply, WorkOrder
from ombud.partners.schemas import FeedbackCreate
from ombud.storage.base import utcnow


def submit(*, session: Session, actor: Principal, data: FeedbackCreate) -> PartnerFeedback:
    access.check_partner_or_staff(actor)
    if actor.is_staff:
        if data.partner_id is None:
            raise InvalidInput("staff give the partner_id the feedback is from", code="partner_required")
        if session.get(Partner, data.partner_id) is None:
            raise NotFound(f"no partner with id {data.partner_id}", code="partner_not_found")
        partner_id = data.partner_id
    else:
        partner_id = access.own_partner_id(session=session, principal=actor)
        if data.partner_id is not None and data.partner_id != partner_id:
            raise NotFound(f"no partner with id {data.partner_id}", code="partner_not_found")
    if data.work_order_id is not None:
        order = session.get(WorkOrder, data.work_order_id)
        if order is None or (not actor.is_staff and order.partner_id != partner_id):
            raise NotFound(f"no work order with id {data.work_order_id}", code="work_order_not_found")
    now = utcnow()
    item = PartnerFeedback(
        partner_id=partner_id,
        author_user_id=actor.id if actor.kind == "user" else None,
        kind=data.kind,
        subject=data.subject,
        body=data.body,
        work_order_id=data.work_order_id,
        state=FeedbackState.open,
        created_at=now,
        updated_at=now,
    )
    session.add(item)
    session.flush()
    audit.record(
        session=session,
        actor=actor,
        action="partner_feedback.created",
        entity_type="partner_feedback",
        entity_id=item.id,
        after={"partner_id": partner_id, "kind": data.kind.value, "subject": data.subject},
    )
    return item


def list_feedback(
    *, session: Session, principal: Principal, state: FeedbackState | None = None, limit: int = 200
) -> Sequence[PartnerFeedback]:
    access.check_partner_or_staff(principal)
    if not 1 <= limit <= 500:
        raise InvalidInput("limit must be between 1 and 500", code="invalid_limit")
    query = select(PartnerFeedback).order_by(PartnerFeedback.id.desc()).limit(limit)
    if not principal.is_staff:
        query = query.where(
            PartnerFeedback.partner_id == access.own_partner_id(session=session, principal=principal)
        )
    if state is not None:
        query = query.where(PartnerFeedback.state == state)
    return session.scalars(query).all()


def open_count(*, session: Session) -> int:
    """How many feedback items wait for the service organisation (the staff page shows it)."""
    return int(session.scalar(select(func.count()).where(PartnerFeedback.state == FeedbackState.open)) or 0)


def access_feedback(*, session: Session, principal: Principal, feedback_id: int) -> PartnerFeedback:
    access.check_partner_or_staff(principal)
    item = session.get(PartnerFeedback, feedback_id)
    visible = item is not None and (
        principal.is_staff
        or item.partner_id == access.partner_id_of(session=session, user_id=principal.id or 0)
    )
    if item is None or not visible:
        raise NotFound(f"no feedback with id {feedback_id}", code="feedback_not_found")
    return item


def replies_of(*, session: Session, principal: Principal, feedback_id: int) -> Sequence[PartnerFeedbackReply]:
    access_feedback(session=session, principal=principal, feedback_id=feedback_id)
    return session.scalars(
        select(PartnerFeedbackReply)
        .where(PartnerFeedbackReply.feedback_id == feedback_id)
        .order_by(PartnerFeedbackReply.id)
    ).all()


def reply(
    *, session: Session, actor: Principal, feedback_id: int, body: str, close: bool = False
) -> PartnerFeedbackReply:
    item = access_feedback(session=session, principal=actor, feedback_id=feedback_id)
    if close and not actor.is_staff:
        raise InvalidInput("only the service organisation closes feedback", code="close_forbidden")
    if item.state == FeedbackState.closed:
        raise Conflict(f"feedback {feedback_id} is closed", code="feedback_closed")
    if not body.strip():
        raise InvalidInput("the reply is empty", code="empty_reply")
    now = utcnow()
    row = PartnerFeedbackReply(
        feedback_id=item.id,
        author_user_id=actor.id if actor.kind == "user" else None,
        body=body.strip(),
        created_at=now,
    )
    session.add(row)
    before = item.state
    if actor.is_staff:
        item.state = FeedbackState.closed if close else FeedbackState.answered
    else:
        item.state = FeedbackState.open
    item.updated_at = now
    session.flush()
    audit.record(
        session=session,
        actor=actor,
        action="partner_feedback.replied",
        entity_type="partner_feedback",
        entity_id=item.id,
        before={"state": before.value},
        after={"state": item.state.value, "reply_id": row.id},
    )
    return row
