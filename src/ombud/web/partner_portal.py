"""The partner portal (/partner): a field technician's work orders, the visit page with everything the visit
needs (and nothing else of the customer or the ticket), knowledge for partners, feedback to the service
organisation and their company's scorecard.

Partners sign in with the same /login as staff and land here; staff and customers are turned away. Every
form echoes the session's CSRF token; a refused action shows the page again with the error and its code.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from ombud.accounts import service as accounts
from ombud.accounts import sessions
from ombud.errors import Forbidden, InvalidInput, OmbudError
from ombud.knowledge import service as knowledge
from ombud.partners import access, feedback, scorecards, work_orders
from ombud.partners import service as partners
from ombud.partners.models import FeedbackKind, WorkOrderStatus
from ombud.partners.schemas import FeedbackCreate, FeedbackReplyIn, PartsIn, Slot
from ombud.web import partners_views as views
from ombud.web.api.common import IdPath
from ombud.web.deps import ReadSession, WriteSession, browser_session, check_csrf
from ombud.web.pages import TEMPLATES
from ombud.web.workspace import MAX_NEXT, SignInRequired
from ombud.web.workspace_views import checked_form, form_id

router = APIRouter(prefix="/partner", include_in_schema=False)
Csrf = Annotated[str, Form(max_length=100)]
MAX_PHOTOS = 10
# What the visit page may show inline; anything else is served as a download.
IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})
NOTICES = {
    "accepted": "You accepted the work order.",
    "declined": "You declined the work order; it goes to another partner.",
    "slots": "The times were sent to the customer to choose from.",
    "confirmed": "The appointment is confirmed; the customer is told.",
    "en_route": "The customer is told you are on your way.",
    "on_site": "Marked as arrived.",
    "completed": "The visit is completed. Thank you!",
    "note": "Visit note added.",
    "parts": "Parts recorded.",
    "photo": "Photo added.",
    "sent": "Sent. The service organisation will answer here.",
    "replied": "Reply added.",
}


class PartnerUser:
    """The signed-in technician of a partner page, with their company and the CSRF token forms carry."""

    def __init__(self, browser: sessions.BrowserSession, partner_id: int) -> None:
        self.browser = browser
        self.principal = browser.principal
        self.csrf = browser.csrf_token
        self.partner_id = partner_id

    def check_form(self, request: Request, csrf_token: str) -> None:
        """Refuse a form post that does not echo this session's CSRF token (403 csrf_failed)."""
        check_csrf(request, self.browser, csrf_token)


def current_partner(request: Request, session: ReadSession) -> PartnerUser:
    """The signed-in partner user linked to a partner; staff go to their workspace, others sign in."""
    browser = browser_session(request, session)
    if browser is None or browser.principal.kind != "user" or browser.principal.id is None:
        target = request.url.path if len(request.url.path) <= MAX_NEXT else "/partner"
        raise SignInRequired("/login?" + urlencode({"next": target}))
    if browser.principal.is_staff:
        raise SignInRequired("/agent")
    if not access.is_partner(browser.principal):
        raise Forbidden("the partner portal is for partners' technicians", code="role_forbidden")
    partner_id = access.partner_id_of(session=session, user_id=browser.principal.id)
    if partner_id is None:
        raise Forbidden(
            "your account is not linked to a partner company yet; ask the service organisation to add you "
            "as a technician",
            code="not_a_technician",
        )
    return PartnerUser(browser, partner_id)


CurrentPartner = Annotated[PartnerUser, Depends(current_partner)]


def _render(
    session: Session, who: PartnerUser, name: str, *, status: int = 200, **context: Any
) -> HTMLResponse:
    user = accounts.access_user(session=session, user_id=who.principal.id or 0)
    company = partners.access_partner(session=session, principal=who.principal, partner_id=who.partner_id)
    page = TEMPLATES.get_template(f"partner/{name}").render(
        me={"name": user.name, "partner_name": company.name},
        csrf=who.csrf,
        status_words=views.STATUS_WORDS,
        kind_words=views.KIND_WORDS,
        when=views.when,
        window=views.window,
        late=views.is_late,
        **context,
    )
    # Customers' addresses and phone numbers: never kept by a shared computer's back button or a proxy.
    return HTMLResponse(page, status_code=status, headers={"Cache-Control": "private, no-store"})


def _error(error: OmbudError) -> dict[str, str]:
    return {"code": error.code, "message": error.message}


# -- my work orders ----------------------------------------------------------------------------------------
@router.get("", response_class=HTMLResponse)
def home(
    session: ReadSession, who: CurrentPartner, notice: Annotated[str | None, Query(max_length=40)] = None
) -> HTMLResponse:
    """Offered, upcoming, in progress and recently completed work orders of the partner."""
    context = views.partner_home(session=session, principal=who.principal, partner_id=who.partner_id)
    return _render(session, who, "home.html", section="/partner", notice=NOTICES.get(notice or ""), **context)


@router.get("/work-orders/{work_order_id}", response_class=HTMLResponse)
def visit_page(
    work_order_id: IdPath,
    session: ReadSession,
    who: CurrentPartner,
    notice: Annotated[str | None, Query(max_length=40)] = None,
) -> HTMLResponse:
    """The visit: what to do, where, when, for whom; the actions its status allows; its history."""
    return _visit(session, who, work_order_id, notice=NOTICES.get(notice or ""))


def _visit(
    session: Session,
    who: PartnerUser,
    work_order_id: int,
    *,
    status: int = 200,
    notice: str | None = None,
    error: OmbudError | None = None,
) -> HTMLResponse:
    context = views.visit_context(session=session, principal=who.principal, work_order_id=work_order_id)
    return _render(
        session,
        who,
        "work_order.html",
        status=status,
        section="/partner",
        notice=notice,
        error=_error(error) if error else None,
        **context,
    )


def _act(
    session: Session,
    who: PartnerUser,
    work_order_id: int,
    notice: str,
    action: Callable[..., object],
    **fields: Any,
) -> Response:
    """Run one work-order call (``action(session=, actor=, work_order_id=, **fields)``) as the technician and
    commit; a refusal shows the visit page again with the error, nothing kept."""
    try:
        action(session=session, actor=who.principal, work_order_id=work_order_id, **fields)
    except OmbudError as error:
        session.rollback()
        if error.status == 404:
            raise
        return _visit(session, who, work_order_id, status=error.status, error=error)
    session.commit()
    return RedirectResponse(f"/partner/work-orders/{work_order_id}?notice={notice}", status_code=303)


@router.post("/work-orders/{work_order_id}/accept", response_class=HTMLResponse)
def accept(
    work_order_id: IdPath,
    request: Request,
    session: WriteSession,
    who: CurrentPartner,
    technician_id: Annotated[str, Form(max_length=20)] = "",
    csrf_token: Csrf = "",
) -> Response:
    who.check_form(request, csrf_token)
    chosen = int(technician_id) if technician_id.isascii() and technician_id.isdigit() else None
    return _act(session, who, work_order_id, "accepted", work_orders.accept, technician_id=chosen)


@router.post("/work-orders/{work_order_id}/decline", response_class=HTMLResponse)
def decline(
    work_order_id: IdPath,
    request: Request,
    session: WriteSession,
    who: CurrentPartner,
    reason: Annotated[str, Form(max_length=2000)] = "",
    csrf_token: Csrf = "",
) -> Response:
    who.check_form(request, csrf_token)
    response = _act(session, who, work_order_id, "declined", work_orders.decline, reason=reason)
    # Declined, the work order is no longer the partner's to see: back to the list.
    if isinstance(response, RedirectResponse):
        return RedirectResponse("/partner?notice=declined", status_code=303)
    return response


@router.post("/work-orders/{work_order_id}/slots", response_class=HTMLResponse)
def offer_slots(
    work_order_id: IdPath,
    request: Request,
    session: WriteSession,
    who: CurrentPartner,
    slot: Annotated[list[str] | None, Form(max_length=20)] = None,
    csrf_token: Csrf = "",
) -> Response:
    """Send the chosen free slots (each "start|end") to the customer to pick one."""
    who.check_form(request, csrf_token)

    def run(**target: Any) -> None:
        chosen = []
        for value in slot or []:
            start, _, end = value.partition("|")
            chosen.append(Slot(start=views.parse_instant(start), end=views.parse_instant(end)))
        if not chosen:
            raise InvalidInput("tick at least one time to offer", code="no_slots_chosen")
        work_orders.offer_slots(**target, slots=chosen)

    return _act(session, who, work_order_id, "slots", run)


@router.post("/work-orders/{work_order_id}/confirm", response_class=HTMLResponse)
def confirm(
    work_order_id: IdPath,
    request: Request,
    session: WriteSession,
    who: CurrentPartner,
    start: Annotated[str, Form(max_length=60)] = "",
    csrf_token: Csrf = "",
) -> Response:
    """Book the time agreed with the customer by phone (one of the technician's free slots)."""
    who.check_form(request, csrf_token)

    def run(**target: Any) -> None:
        work_orders.confirm_slot(**target, start=views.parse_instant(start))

    return _act(session, who, work_order_id, "confirmed", run)


@router.post("/work-orders/{work_order_id}/status", response_class=HTMLResponse)
def set_status(
    work_order_id: IdPath,
    request: Request,
    session: WriteSession,
    who: CurrentPartner,
    status: Annotated[str, Form(pattern="^(en_route|on_site|completed)$")],
    outcome: Annotated[str, Form(max_length=20)] = "",
    note: Annotated[str, Form(max_length=5000)] = "",
    csrf_token: Csrf = "",
) -> Response:
    """On my way, arrived, or completed with the outcome (fixed or not) and a note."""
    who.check_form(request, csrf_token)
    target = WorkOrderStatus(status)
    return _act(
        session,
        who,
        work_order_id,
        target.value,
        work_orders.set_status,
        status=target,
        note=note,
        outcome=outcome or None,
    )


@router.post("/work-orders/{work_order_id}/notes", response_class=HTMLResponse)
def add_note(
    work_order_id: IdPath,
    request: Request,
    session: WriteSession,
    who: CurrentPartner,
    body: Annotated[str, Form(max_length=10_000)] = "",
    csrf_token: Csrf = "",
) -> Response:
    who.check_form(request, csrf_token)
    return _act(session, who, work_order_id, "note", work_orders.add_note, body=body)


@router.post("/work-orders/{work_order_id}/parts", response_class=HTMLResponse)
def add_parts(
    work_order_id: IdPath,
    request: Request,
    session: WriteSession,
    who: CurrentPartner,
    part: Annotated[list[str] | None, Form(max_length=100)] = None,
    quantity: Annotated[list[str] | None, Form(max_length=100)] = None,
    csrf_token: Csrf = "",
) -> Response:
    """Record the parts used, a row per part with its quantity (empty rows are skipped)."""
    who.check_form(request, csrf_token)

    def run(**target: Any) -> None:
        rows = checked_form(PartsIn, {"parts": views.parse_parts(part or [], quantity or [])}).parts
        work_orders.add_parts(**target, parts=rows)

    return _act(session, who, work_order_id, "parts", run)


@router.post("/work-orders/{work_order_id}/photos", response_class=HTMLResponse)
def add_photos(
    work_order_id: IdPath,
    request: Request,
    session: WriteSession,
    who: CurrentPartner,
    photos: Annotated[list[UploadFile] | None, File()] = None,
    csrf_token: Csrf = "",
) -> Response:
    """Add the uploaded photos of the visit (the service checks type and size)."""
    who.check_form(request, csrf_token)
    limit = work_orders.MAX_PHOTO_BYTES

    def run(**target: Any) -> None:
        uploads = [upload for upload in photos or [] if upload.filename]
        if not uploads:
            raise InvalidInput("choose a photo to upload", code="no_photo")
        if len(uploads) > MAX_PHOTOS:
            raise InvalidInput(f"at most {MAX_PHOTOS} photos at a time", code="too_many_photos")
        for upload in uploads:
            work_orders.add_photo(
                **target,
                filename=(upload.filename or "photo")[:255],
                content_type=upload.content_type or "application/octet-stream",
                # One byte over the limit is enough for the service to refuse it.
                content=upload.file.read(limit + 1),
            )

    return _act(session, who, work_order_id, "photo", run)


@router.get("/photos/{photo_id}")
def photo(photo_id: IdPath, session: ReadSession, who: CurrentPartner) -> Response:
    """A photo of one of the partner's visits (404 for any other)."""
    return photo_response(session, who.principal, photo_id)


def photo_response(session: Session, principal: Any, photo_id: int) -> Response:
    """The photo's bytes for a caller who may see its work order; shown inline only when it is an image
    type browsers render safely, never sniffed, never run as a page."""
    found, data = work_orders.photo_of(session=session, principal=principal, photo_id=photo_id)
    inline = found.content_type in IMAGE_TYPES
    fallback = "".join(ch if (ch.isascii() and ch.isalnum()) or ch in "._-" else "_" for ch in found.filename)
    kind = "inline" if inline else "attachment"
    exact = quote(found.filename, safe="")
    headers = {
        "Content-Disposition": f"{kind}; filename=\"{fallback}\"; filename*=UTF-8''{exact}",
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "sandbox",
        "Cache-Control": "private, no-store",
    }
    media = found.content_type if inline else "application/octet-stream"
    return Response(content=data, media_type=media, headers=headers)


# -- knowledge ---------------------------------------------------------------------------------------------
@router.get("/knowledge", response_class=HTMLResponse)
def knowledge_page(session: ReadSession, who: CurrentPartner) -> HTMLResponse:
    """Articles for partners and the public help centre's, partners' first."""
    found = knowledge.list_articles(session=session, principal=who.principal, limit=200)
    found.sort(key=lambda a: (a.audience.value != "partner", a.title.lower()))
    return _render(session, who, "knowledge.html", section="/partner/knowledge", articles=found)


@router.get("/knowledge/{article_id}", response_class=HTMLResponse)
def article_page(article_id: IdPath, session: ReadSession, who: CurrentPartner) -> HTMLResponse:
    found = knowledge.get_article(session=session, principal=who.principal, article_id=article_id)
    article = knowledge.public_many(session=session, articles=[found])[0]
    return _render(session, who, "article.html", section="/partner/knowledge", article=article)


# -- feedback ----------------------------------------------------------------------------------------------
@router.get("/feedback", response_class=HTMLResponse)
def feedback_page(
    session: ReadSession, who: CurrentPartner, notice: Annotated[str | None, Query(max_length=40)] = None
) -> HTMLResponse:
    return _feedback_page(session, who, notice=NOTICES.get(notice or ""))


def _feedback_page(
    session: Session,
    who: PartnerUser,
    *,
    status: int = 200,
    notice: str | None = None,
    error: OmbudError | None = None,
    draft: dict[str, str] | None = None,
) -> HTMLResponse:
    items = feedback.list_feedback(session=session, principal=who.principal)
    mine = work_orders.list_work_orders(session=session, principal=who.principal, limit=100).items
    return _render(
        session,
        who,
        "feedback.html",
        status=status,
        section="/partner/feedback",
        notice=notice,
        error=_error(error) if error else None,
        items=items,
        kinds=[k.value for k in FeedbackKind],
        work_orders=mine,
        draft=draft or {},
    )


@router.post("/feedback", response_class=HTMLResponse)
def send_feedback(
    request: Request,
    session: WriteSession,
    who: CurrentPartner,
    kind: Annotated[str, Form(max_length=20)] = "",
    subject: Annotated[str, Form(max_length=200)] = "",
    body: Annotated[str, Form(max_length=10_000)] = "",
    work_order_id: Annotated[str, Form(max_length=20)] = "",
    csrf_token: Csrf = "",
) -> Response:
    """Tell the service organisation what the partner needs: training, information, parts or else."""
    who.check_form(request, csrf_token)
    draft = {"kind": kind, "subject": subject, "body": body, "work_order_id": work_order_id}
    try:
        data = checked_form(
            FeedbackCreate,
            {
                "kind": kind,
                "subject": subject,
                "body": body,
                "work_order_id": form_id(work_order_id, "work order"),
            },
        )
        created = feedback.submit(session=session, actor=who.principal, data=data)
    except OmbudError as error:
        session.rollback()
        return _feedback_page(session, who, status=error.status, error=error, draft=draft)
    target = f"/partner/feedback/{created.id}?notice=sent"
    session.commit()
    return RedirectResponse(target, status_code=303)


@router.get("/feedback/{feedback_id}", response_class=HTMLResponse)
def feedback_item(
    feedback_id: IdPath,
    session: ReadSession,
    who: CurrentPartner,
    notice: Annotated[str | None, Query(max_length=40)] = None,
) -> HTMLResponse:
    """One request with the service organisation's answers and the partner's replies."""
    context = views.feedback_context(session=session, principal=who.principal, feedback_id=feedback_id)
    return _render(
        session,
        who,
        "feedback_item.html",
        section="/partner/feedback",
        notice=NOTICES.get(notice or ""),
        **context,
    )


@router.post("/feedback/{feedback_id}/reply")
def reply_feedback(
    feedback_id: IdPath,
    request: Request,
    session: WriteSession,
    who: CurrentPartner,
    body: Annotated[str, Form(max_length=10_000)] = "",
    csrf_token: Csrf = "",
) -> RedirectResponse:
    who.check_form(request, csrf_token)
    data = checked_form(FeedbackReplyIn, {"body": body})
    feedback.reply(session=session, actor=who.principal, feedback_id=feedback_id, body=data.body)
    session.commit()
    return RedirectResponse(f"/partner/feedback/{feedback_id}?notice=replied", status_code=303)


# -- scorecard ---------------------------------------------------------------------------------------------
@router.get("/scorecard", response_class=HTMLResponse)
def scorecard_page(
    session: ReadSession, who: CurrentPartner, days: Annotated[int, Query(ge=7, le=365)] = 90
) -> HTMLResponse:
    """The partner company's own figures, each with what it means."""
    card = scorecards.scorecard(
        session=session, principal=who.principal, partner_id=who.partner_id, days=days
    )
    return _render(
        session, who, "scorecard.html", section="/partner/scorecard", card=card, percent=views.percent
    )
