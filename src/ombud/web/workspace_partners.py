"""The workspace's partner network pages: work orders from the ticket panel, the work order list and page,
partners with their technicians and scorecards (leads and admins edit them), and the inbox of partners'
feedback."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from ombud.accounts import service as accounts
from ombud.accounts.models import Role
from ombud.errors import InvalidInput
from ombud.partners import feedback, scheduling, scorecards, work_orders
from ombud.partners import service as partners
from ombud.partners.models import FeedbackState, WorkOrderStatus
from ombud.partners.schemas import (
    FeedbackReplyIn,
    PartnerCreate,
    PartnerUpdate,
    TechnicianSet,
    WorkOrderCreate,
)
from ombud.people import shield
from ombud.tickets import concerns
from ombud.web import advocacy_charts as charts
from ombud.web import partners_views as views
from ombud.web import workspace_views
from ombud.web.api.common import IdPath
from ombud.web.deps import ReadSession, WriteSession
from ombud.web.partner_portal import photo_response
from ombud.web.workspace import CurrentAgent, _render

router = APIRouter(include_in_schema=False)
Csrf = Annotated[str, Form(max_length=100)]
Text = Annotated[str, Form(max_length=5000)]
NOTICES = {
    "created": "Work order created and dispatched.",
    "confirmed": "Appointment confirmed; the customer is told.",
    "cancelled": "Work order cancelled.",
    "closed": "Work order closed.",
    "saved": "Saved.",
    "answered": "Answer sent to the partner.",
}
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _page(session: Session, agent: Any, name: str, **context: Any) -> HTMLResponse:
    return _render(
        name,
        agent=agent,
        me=workspace_views.me(session=session, agent=agent),
        status_words=views.STATUS_WORDS,
        kind_words=views.KIND_WORDS,
        when=views.when,
        window=views.window,
        late=views.is_late,
        percent=views.percent,
        **context,
    )


def _saved(session: Session, url: str, notice: str) -> RedirectResponse:
    """Commit the form's change and go back to ``url`` showing ``notice``."""
    session.commit()
    return workspace_views.with_notice(url, notice)


def _notice(notice: str | None) -> str | None:
    return NOTICES.get(notice or "")


# -- from the ticket panel ---------------------------------------------------------------------------------
@router.post("/agent/tickets/{ticket_id}/work-orders")
def create(
    ticket_id: IdPath,
    request: Request,
    session: WriteSession,
    agent: CurrentAgent,
    kind: Annotated[str, Form(max_length=30)],
    summary: Text = "",
    skill: Annotated[str, Form(max_length=100)] = "",
    concern_id: Annotated[str, Form(max_length=20)] = "",
    address: Annotated[str, Form(max_length=1000)] = "",
    postcode: Annotated[str, Form(max_length=20)] = "",
    region: Annotated[str, Form(max_length=100)] = "",
    contact_phone: Annotated[str, Form(max_length=50)] = "",
    csrf_token: Csrf = "",
) -> RedirectResponse:
    """Make a work order from the ticket (its summary from the chosen concern when left empty); it is
    dispatched at once."""
    agent.check_form(request, csrf_token)
    concern = workspace_views.form_id(concern_id, "concern")
    if not summary.strip() and concern is not None:
        text = concerns.access_concern(session=session, principal=agent.principal, concern_id=concern).text
        summary = shield.scrub(text)  # the partner reads it: never the customer's insults
    data = workspace_views.checked_form(
        WorkOrderCreate,
        {
            "kind": kind,
            "summary": summary,
            "skill": skill.strip() or None,
            "concern_id": concern,
            "address": address.strip() or None,
            "postcode": postcode.strip() or None,
            "region": region.strip() or None,
            "contact_phone": contact_phone.strip() or None,
        },
    )
    made = work_orders.create_work_order(
        session=session, actor=agent.principal, ticket_id=ticket_id, data=data
    )
    return _saved(session, f"/agent/work-orders/{made.id}", "created")


# -- work orders -------------------------------------------------------------------------------------------
@router.get("/agent/work-orders", response_class=HTMLResponse)
def list_page(
    session: ReadSession,
    agent: CurrentAgent,
    status: Annotated[str, Query(max_length=20)] = "",
    partner: Annotated[str, Query(max_length=20)] = "",
    late: bool = False,
    cursor: Annotated[str | None, Query(max_length=300)] = None,
) -> HTMLResponse:
    """Work orders, newest first, by status, partner, or only the late ones."""
    try:
        chosen = WorkOrderStatus(status) if status else None
    except ValueError:
        raise InvalidInput(f"unknown status {status!r}", code="invalid_filter") from None
    partner_id = workspace_views.form_id(partner, "partner")
    # Late ones are picked from a longer page: the service has no "late" filter of its own.
    page = work_orders.list_work_orders(
        session=session,
        principal=agent.principal,
        status=chosen,
        partner_id=partner_id,
        cursor=cursor,
        limit=200 if late else 50,
    )
    items = [o for o in page.items if views.is_late(o)] if late else page.items
    found = partners.list_partners(session=session, principal=agent.principal)
    return _page(
        session,
        agent,
        "workspace/work_orders.html",
        items=items,
        next_cursor=page.next_cursor,
        filters={"status": status, "partner": partner, "late": late},
        statuses=list(WorkOrderStatus),
        partners=found,
        partner_names={p.id: p.name for p in found},
        names=views.user_names(session=session),
    )


@router.get("/agent/work-orders/{work_order_id}", response_class=HTMLResponse)
def work_order_page(
    work_order_id: IdPath,
    session: ReadSession,
    agent: CurrentAgent,
    notice: Annotated[str | None, Query(max_length=40)] = None,
) -> HTMLResponse:
    """The work order for staff: details, dispatch reason, history, photos and staff actions."""
    order = work_orders.access_work_order(
        session=session, principal=agent.principal, work_order_id=work_order_id
    )
    zones = views.timezones(session=session, partner_id=order.partner_id)
    partner = (
        partners.access_partner(session=session, principal=agent.principal, partner_id=order.partner_id)
        if order.partner_id
        else None
    )
    return _page(
        session,
        agent,
        "workspace/work_order.html",
        notice=_notice(notice),
        order=order,
        offered=scheduling.offered_slots(order),
        partner=partner,
        tz=views.zone_of(order, zones) or "UTC",
        updates=work_orders.updates_of(session=session, principal=agent.principal, work_order_id=order.id),
        photos=work_orders.photos_of(session=session, principal=agent.principal, work_order_id=order.id),
        names=views.user_names(session=session),
        open=order.status in views.OPEN,
    )


@router.post("/agent/work-orders/{work_order_id}/{action}")
def staff_action(
    work_order_id: IdPath,
    action: Annotated[str, Path(pattern="^(confirm|cancel|close)$")],
    request: Request,
    session: WriteSession,
    agent: CurrentAgent,
    start: Annotated[str, Form(max_length=60)] = "",
    reason: Annotated[str, Form(max_length=2000)] = "",
    csrf_token: Csrf = "",
) -> RedirectResponse:
    """Confirm a slot on the customer's behalf (one offered, as echoed by its button), cancel or close."""
    agent.check_form(request, csrf_token)
    who = agent.principal
    if action == "confirm":
        moment = views.parse_instant(start)
        work_orders.confirm_slot(session=session, actor=who, work_order_id=work_order_id, start=moment)
        notice = "confirmed"
    elif action == "cancel":
        if not reason.strip():
            raise InvalidInput("say why the work order is cancelled", code="invalid_input")
        work_orders.cancel(session=session, actor=who, work_order_id=work_order_id, reason=reason.strip())
        notice = "cancelled"
    else:
        work_orders.close(session=session, actor=who, work_order_id=work_order_id, reason=reason.strip())
        notice = "closed"
    return _saved(session, f"/agent/work-orders/{work_order_id}", notice)


@router.get("/agent/work-order-photos/{photo_id}")
def photo(photo_id: IdPath, session: ReadSession, agent: CurrentAgent) -> Response:
    return photo_response(session, agent.principal, photo_id)


# -- partners ----------------------------------------------------------------------------------------------
def _can_manage(agent: Any) -> bool:
    return bool(agent.principal.is_admin or agent.principal.role in (Role.admin, Role.lead))


@router.get("/agent/partners", response_class=HTMLResponse)
def partners_page(
    session: ReadSession, agent: CurrentAgent, notice: Annotated[str | None, Query(max_length=40)] = None
) -> HTMLResponse:
    """Partners with their technicians, skills and areas; leads and admins add and edit them."""
    found = partners.list_partners(session=session, principal=agent.principal)
    return _page(
        session,
        agent,
        "workspace/partners.html",
        notice=_notice(notice),
        partners=found,
        technicians=partners.technicians_by_partner(
            session=session, principal=agent.principal, partner_ids=[p.id for p in found]
        ),
        can_manage=_can_manage(agent),
    )


@router.post("/agent/partners")
def add_partner(
    request: Request,
    session: WriteSession,
    agent: CurrentAgent,
    name: Annotated[str, Form(max_length=200)] = "",
    email: Annotated[str, Form(max_length=320)] = "",
    phone: Annotated[str, Form(max_length=50)] = "",
    notes: Text = "",
    csrf_token: Csrf = "",
) -> RedirectResponse:
    agent.check_form(request, csrf_token)
    data = workspace_views.checked_form(
        PartnerCreate,
        {"name": name, "email": email.strip() or None, "phone": phone.strip() or None, "notes": notes},
    )
    made = partners.create_partner(session=session, actor=agent.principal, data=data)
    return _saved(session, f"/agent/partners/{made.id}", "saved")


@router.get("/agent/partners/{partner_id}", response_class=HTMLResponse)
def partner_page(
    partner_id: IdPath,
    session: ReadSession,
    agent: CurrentAgent,
    days: Annotated[int, Query(ge=7, le=365)] = 90,
    notice: Annotated[str | None, Query(max_length=40)] = None,
) -> HTMLResponse:
    """One partner: the scorecard with its figures and a chart, technicians with their calendars."""
    partner = partners.access_partner(session=session, principal=agent.principal, partner_id=partner_id)
    card = scorecards.scorecard(session=session, principal=agent.principal, partner_id=partner_id, days=days)
    techs = partners.list_technicians(session=session, principal=agent.principal, partner_id=partner_id)
    rates = [
        ("First-time fix %", (card.first_time_fix_rate or 0) * 100),
        ("On time %", (card.on_time_rate or 0) * 100),
        ("Satisfaction (of 5) %", (card.visit_satisfaction or 0) * 20),
        ("Repeat visits %", (card.repeat_rate or 0) * 100),
    ]
    return _page(
        session,
        agent,
        "workspace/partners_detail.html",
        notice=_notice(notice),
        partner=partner,
        card=card,
        chart=charts.bars(rates, title=f"{partner.name}: rates over the last {days} days", unit="%"),
        technicians=techs,
        time_off={t.user_id: partners.time_off_of(session=session, user_id=t.user_id) for t in techs},
        partner_users=[
            u for u in accounts.list_users(session=session) if u.role is Role.partner and u.active
        ],
        days_of_week=DAYS,
        can_manage=_can_manage(agent),
    )


@router.post("/agent/partners/{partner_id}")
def edit_partner(
    partner_id: IdPath,
    request: Request,
    session: WriteSession,
    agent: CurrentAgent,
    name: Annotated[str, Form(max_length=200)] = "",
    email: Annotated[str, Form(max_length=320)] = "",
    phone: Annotated[str, Form(max_length=50)] = "",
    notes: Text = "",
    active: Annotated[str, Form(max_length=5)] = "",
    csrf_token: Csrf = "",
) -> RedirectResponse:
    agent.check_form(request, csrf_token)
    data = workspace_views.checked_form(
        PartnerUpdate,
        {
            "name": name,
            "email": email.strip() or None,
            "phone": phone.strip() or None,
            "notes": notes,
            "active": bool(active),
        },
    )
    partners.update_partner(session=session, actor=agent.principal, partner_id=partner_id, data=data)
    return _saved(session, f"/agent/partners/{partner_id}", "saved")


def _hours(start: str, end: str, days: list[str]) -> dict[str, list[list[str]]]:
    return {day: [[start.strip(), end.strip()]] for day in days if day in DAYS}


def _words(text: str) -> list[str]:
    return [part.strip() for part in text.replace(";", ",").split(",") if part.strip()]


@router.post("/agent/partners/{partner_id}/technicians")
def set_technician(
    partner_id: IdPath,
    request: Request,
    session: WriteSession,
    agent: CurrentAgent,
    user_id: Annotated[int, Form(ge=1, le=2**63 - 1)],
    skills: Annotated[str, Form(max_length=2000)] = "",
    areas: Annotated[str, Form(max_length=5000)] = "",
    capacity_per_day: Annotated[int, Form(ge=1, le=50)] = 4,
    day: Annotated[list[str] | None, Form(max_length=7)] = None,
    starts: Annotated[str, Form(max_length=5)] = "08:00",
    ends: Annotated[str, Form(max_length=5)] = "17:00",
    timezone: Annotated[str, Form(max_length=64)] = "UTC",
    active: Annotated[str, Form(max_length=5)] = "",
    csrf_token: Csrf = "",
) -> RedirectResponse:
    """Add a partner user as a technician, or change their skills, areas, capacity and working hours."""
    agent.check_form(request, csrf_token)
    data = workspace_views.checked_form(
        TechnicianSet,
        {
            "partner_id": partner_id,
            "skills": _words(skills),
            "areas": _words(areas),
            "capacity_per_day": capacity_per_day,
            "working_hours": _hours(starts, ends, day or []),
            "timezone": timezone.strip() or "UTC",
            "active": bool(active),
        },
    )
    partners.set_technician(session=session, actor=agent.principal, user_id=user_id, data=data)
    return _saved(session, f"/agent/partners/{partner_id}", "saved")


@router.post("/agent/partners/{partner_id}/technicians/{user_id}/time-off")
def add_time_off(
    partner_id: IdPath,
    user_id: IdPath,
    request: Request,
    session: WriteSession,
    agent: CurrentAgent,
    starts_at: Annotated[str, Form(max_length=40)],
    ends_at: Annotated[str, Form(max_length=40)],
    timezone: Annotated[str, Form(max_length=64)] = "UTC",
    reason: Annotated[str, Form(max_length=200)] = "",
    csrf_token: Csrf = "",
) -> RedirectResponse:
    """Time off in the technician's calendar (their own zone): no visit is offered then."""
    agent.check_form(request, csrf_token)
    partners.add_time_off(
        session=session,
        actor=agent.principal,
        user_id=user_id,
        starts_at=views.parse_local(starts_at, timezone),
        ends_at=views.parse_local(ends_at, timezone),
        reason=reason,
    )
    return _saved(session, f"/agent/partners/{partner_id}", "saved")


# -- partners' feedback ------------------------------------------------------------------------------------
@router.get("/agent/partner-feedback", response_class=HTMLResponse)
def feedback_inbox(
    session: ReadSession,
    agent: CurrentAgent,
    state: Annotated[str, Query(max_length=20)] = "open",
) -> HTMLResponse:
    """What partners asked for, open first; the open count is in the heading."""
    try:
        chosen = FeedbackState(state) if state != "all" else None
    except ValueError:
        raise InvalidInput(f"unknown state {state!r}", code="invalid_filter") from None
    items = feedback.list_feedback(session=session, principal=agent.principal, state=chosen)
    opened = feedback.list_feedback(session=session, principal=agent.principal, state=FeedbackState.open)
    return _page(
        session,
        agent,
        "workspace/partners_feedback.html",
        items=items,
        open_count=len(opened),
        state=state,
        states=["open", "answered", "closed", "all"],
        partner_names={
            p.id: p.name for p in partners.list_partners(session=session, principal=agent.principal)
        },
    )


@router.get("/agent/partner-feedback/{feedback_id}", response_class=HTMLResponse)
def feedback_page(
    feedback_id: IdPath,
    session: ReadSession,
    agent: CurrentAgent,
    notice: Annotated[str | None, Query(max_length=40)] = None,
) -> HTMLResponse:
    context = views.feedback_context(session=session, principal=agent.principal, feedback_id=feedback_id)
    return _page(
        session,
        agent,
        "workspace/partners_feedback_item.html",
        notice=_notice(notice),
        partner=partners.access_partner(
            session=session, principal=agent.principal, partner_id=context["item"].partner_id
        ),
        **context,
    )


@router.post("/agent/partner-feedback/{feedback_id}/reply")
def answer_feedback(
    feedback_id: IdPath,
    request: Request,
    session: WriteSession,
    agent: CurrentAgent,
    body: Annotated[str, Form(max_length=10_000)] = "",
    close: Annotated[str, Form(max_length=5)] = "",
    csrf_token: Csrf = "",
) -> RedirectResponse:
    """Answer the partner (and close the request when that settles it)."""
    agent.check_form(request, csrf_token)
    data = workspace_views.checked_form(FeedbackReplyIn, {"body": body, "close": bool(close)})
    feedback.reply(
        session=session, actor=agent.principal, feedback_id=feedback_id, body=data.body, close=data.close
    )
    return _saved(session, f"/agent/partner-feedback/{feedback_id}", "answered")
