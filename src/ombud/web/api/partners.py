"""/api/v1/partners, /api/v1/technicians and /api/v1/partner-feedback: partner companies, their
technicians and calendars, scorecards, and the partners' feedback channel."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from ombud.accounts.schemas import Principal
from ombud.partners import feedback, scorecards
from ombud.partners import service as partners
from ombud.partners.models import FeedbackState, Partner
from ombud.partners.schemas import (
    FeedbackCreate,
    FeedbackPublic,
    FeedbackReplyIn,
    FeedbackReplyPublic,
    PartnerCreate,
    PartnerPublic,
    PartnerUpdate,
    Scorecard,
    TechnicianPublic,
    TechnicianSet,
    TimeOffCreate,
    TimeOffPublic,
)
from ombud.web.api.common import IdPath
from ombud.web.deps import CurrentPrincipal, ReadSession, WriteSession

router = APIRouter(tags=["partners"])


class PartnerList(BaseModel):
    items: list[PartnerPublic]


class TechnicianList(BaseModel):
    items: list[TechnicianPublic]


class TimeOffList(BaseModel):
    items: list[TimeOffPublic]


class FeedbackList(BaseModel):
    items: list[FeedbackPublic]
    open_count: int | None = None


class FeedbackReplyList(BaseModel):
    items: list[FeedbackReplyPublic]


@router.get("/partners", response_model=PartnerList)
def list_partners(session: ReadSession, principal: CurrentPrincipal) -> PartnerList:
    """Every partner company (staff); a partner user gets their own."""
    found = partners.list_partners(session=session, principal=principal)
    return PartnerList(items=[_partner_view(principal, p) for p in found])


def _partner_view(principal: Principal, partner: Partner) -> PartnerPublic:
    """The staff's notes about a partner company are theirs: a partner user gets the rest."""
    view = PartnerPublic.model_validate(partner)
    return view if principal.is_staff else view.model_copy(update={"notes": ""})


@router.post("/partners", status_code=201, response_model=PartnerPublic)
def create_partner(data: PartnerCreate, session: WriteSession, principal: CurrentPrincipal) -> PartnerPublic:
    """Add a partner company (admins and leads)."""
    partner = partners.create_partner(session=session, actor=principal, data=data)
    session.commit()
    return PartnerPublic.model_validate(partner)


@router.get("/partners/{partner_id}", response_model=PartnerPublic)
def get_partner(partner_id: IdPath, session: ReadSession, principal: CurrentPrincipal) -> PartnerPublic:
    return _partner_view(
        principal, partners.access_partner(session=session, principal=principal, partner_id=partner_id)
    )


@router.patch("/partners/{partner_id}", response_model=PartnerPublic)
def update_partner(
    partner_id: IdPath, data: PartnerUpdate, session: WriteSession, principal: CurrentPrincipal
) -> PartnerPublic:
    """Change a partner company (admins and leads)."""
    partner = partners.update_partner(session=session, actor=principal, partner_id=partner_id, data=data)
    session.commit()
    return PartnerPublic.model_validate(partner)


@router.get("/partners/{partner_id}/technicians", response_model=TechnicianList)
def list_technicians(partner_id: IdPath, session: ReadSession, principal: CurrentPrincipal) -> TechnicianList:
    return TechnicianList(
        items=partners.list_technicians(session=session, principal=principal, partner_id=partner_id)
    )


@router.get("/partners/{partner_id}/scorecard", response_model=Scorecard)
def scorecard(
    partner_id: IdPath,
    session: ReadSession,
    principal: CurrentPrincipal,
    days: Annotated[int, Query(ge=1, le=730)] = 90,
) -> Scorecard:
    """First-time fix rate, on-time rate, visit satisfaction, repeat visits and more (docs/partners.md)."""
    return scorecards.scorecard(session=session, principal=principal, partner_id=partner_id, days=days)


@router.put("/technicians/{user_id}", response_model=TechnicianPublic)
def set_technician(
    user_id: IdPath, data: TechnicianSet, session: WriteSession, principal: CurrentPrincipal
) -> TechnicianPublic:
    """Make a partner-role user a technician of a partner, with skills, areas, capacity and hours."""
    technician = partners.set_technician(session=session, actor=principal, user_id=user_id, data=data)
    session.commit()
    return partners.technician_public(session=session, technician=technician)


@router.get("/technicians/{user_id}/time-off", response_model=TimeOffList)
def list_time_off(user_id: IdPath, session: ReadSession, principal: CurrentPrincipal) -> TimeOffList:
    partners.access_technician(session=session, principal=principal, user_id=user_id)
    return TimeOffList(items=partners.time_off_of(session=session, user_id=user_id))


@router.post("/technicians/{user_id}/time-off", status_code=201, response_model=TimeOffPublic)
def add_time_off(
    user_id: IdPath, data: TimeOffCreate, session: WriteSession, principal: CurrentPrincipal
) -> TimeOffPublic:
    """Block the technician's calendar (admins and leads, or the technician themselves)."""
    row = partners.add_time_off(
        session=session,
        actor=principal,
        user_id=user_id,
        starts_at=data.starts_at,
        ends_at=data.ends_at,
        reason=data.reason,
    )
    session.commit()
    return TimeOffPublic.model_validate(row)


@router.get("/partner-feedback", response_model=FeedbackList)
def list_feedback(
    session: ReadSession, principal: CurrentPrincipal, state: FeedbackState | None = None
) -> FeedbackList:
    """Staff see all feedback (and how many are open); a partner user their own partner's."""
    found = feedback.list_feedback(session=session, principal=principal, state=state)
    return FeedbackList(
        items=[FeedbackPublic.model_validate(f) for f in found],
        open_count=feedback.open_count(session=session) if principal.is_staff else None,
    )


@router.post("/partner-feedback", status_code=201, response_model=FeedbackPublic)
def submit_feedback(
    data: FeedbackCreate, session: WriteSession, principal: CurrentPrincipal
) -> FeedbackPublic:
    """Tell the service organisation what the partner needs (training, information, parts, other)."""
    item = feedback.submit(session=session, actor=principal, data=data)
    session.commit()
    return FeedbackPublic.model_validate(item)


@router.get("/partner-feedback/{feedback_id}", response_model=FeedbackPublic)
def get_feedback(feedback_id: IdPath, session: ReadSession, principal: CurrentPrincipal) -> FeedbackPublic:
    return FeedbackPublic.model_validate(
        feedback.access_feedback(session=session, principal=principal, feedback_id=feedback_id)
    )


@router.get("/partner-feedback/{feedback_id}/replies", response_model=FeedbackReplyList)
def list_replies(feedback_id: IdPath, session: ReadSession, principal: CurrentPrincipal) -> FeedbackReplyList:
    found = feedback.replies_of(session=session, principal=principal, feedback_id=feedback_id)
    return FeedbackReplyList(items=[FeedbackReplyPublic.model_validate(r) for r in found])


@router.post("/partner-feedback/{feedback_id}/replies", status_code=201, response_model=FeedbackReplyPublic)
def reply(
    feedback_id: IdPath, data: FeedbackReplyIn, session: WriteSession, principal: CurrentPrincipal
) -> FeedbackReplyPublic:
    """Answer (staff; ``close`` closes it) or add to it (the partner)."""
    row = feedback.reply(
        session=session, actor=principal, feedback_id=feedback_id, body=data.body, close=data.close
    )
    session.commit()
    return FeedbackReplyPublic.model_validate(row)
