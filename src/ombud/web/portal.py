"""The customer portal (/portal): sign in with a one-time link sent by email, see your tickets and their
status, reply with files, rate the service and search the help centre. A customer sees only their own
tickets, and never an internal note.

Every form echoes a CSRF token: the session's once signed in; before that (asking for a link, using one)
a random value kept in a cookie (double submit), which another site can neither read nor send along."""

from __future__ import annotations

import base64
import datetime as dt
import logging
import re
from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, BackgroundTasks, File, Form, Query, Request, UploadFile
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from ombud import logmask
from ombud.accounts import sessions
from ombud.channels.email.service import EmailAdapter, EmailConfig
from ombud.channels.registry import TryLater, Undeliverable
from ombud.errors import InvalidInput, NotFound, OmbudError, TooManyRequests, Unauthorized
from ombud.partners import work_orders
from ombud.partners.schemas import WorkOrderCustomerView
from ombud.runtime import Runtime
from ombud.tickets import portal as view
from ombud.tickets import ratings
from ombud.tickets import service as tickets
from ombud.tickets.models import AuthorType, Status
from ombud.tickets.schemas import AttachmentIn, MessageCreate
from ombud.web import partners_views
from ombud.web.api.common import IdPath
from ombud.web.deps import (
    SESSION_COOKIE,
    SIGN_IN_COOKIE,
    ReadSession,
    RuntimeDep,
    WriteSession,
    browser_session,
    check_csrf,
    check_sign_in_csrf,
    clear_session_cookie,
    count_sign_in_attempt,
    set_session_cookie,
    set_sign_in_cookie,
    sign_in_form_token,
)
from ombud.web.pages import TEMPLATES

log = logging.getLogger(__name__)
router = APIRouter(prefix="/portal", include_in_schema=False)

TokenPath = Annotated[str, PathParam(min_length=16, max_length=100)]
CsrfField = Annotated[str, Form(max_length=200)]
STATUS_WORDS = {
    Status.new: "Received",
    Status.open: "We are working on it",
    Status.pending: "Waiting for your reply",
    Status.on_hold: "On hold",
    Status.solved: "Solved",
    Status.closed: "Closed",
}
SCORES = [(1, "Very poor"), (2, "Poor"), (3, "OK"), (4, "Good"), (5, "Excellent")]
NOTICES = {
    "reply": "Your reply was sent.",
    "rating": "Thank you: your rating is saved.",
    "appointment": "Your appointment is booked. We will remind you the day before.",
    "visit_rating": "Thank you for rating the visit.",
}
# What AttachmentIn accepts as a content type; a browser's odd value becomes the generic one.
_MEDIA_TYPE = re.compile(r"[A-Za-z0-9!#$&^_.+-]+/[A-Za-z0-9!#$&^_.+-]+")


# -- signing in --------------------------------------------------------------------------------------------
@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, signed_out: bool = False) -> HTMLResponse:
    notice = "You are signed out." if signed_out else None
    return _sign_in_page(request, "login.html", notice=notice, email="")


@router.post("/login", response_class=HTMLResponse)
def login_request(
    request: Request,
    session: WriteSession,
    runtime: RuntimeDep,
    background: BackgroundTasks,
    email: Annotated[str, Form(max_length=320)] = "",
    csrf_token: CsrfField = "",
) -> HTMLResponse:
    """Email a one-time sign-in link; the page says the same whether or not the address is known."""
    check_sign_in_csrf(request, csrf_token)
    email = email.replace("\x00", "")  # PostgreSQL refuses NUL in text; no address holds one
    try:
        count_sign_in_attempt(session, request, kind="portal-login", email=email)
        issued = sessions.issue_login_link(session=session, email=email)
    except (InvalidInput, TooManyRequests) as error:
        session.commit()  # the refused attempt still counts towards the limit
        if isinstance(error, TooManyRequests):
            raise
        return _sign_in_page(request, "login.html", status=422, error=error.message, email=email)
    link = None
    if issued is not None:
        # From the configured address, never the request's Host header: a forged Host would otherwise
        # email the customer a genuine message whose link hands the token to someone else's server.
        link = f"{runtime.settings.base_url}/portal/login/{issued[0]}"
        # Runs after the response: the page must take as long for a known address as for an unknown one.
        background.add_task(_send_link, runtime, email.strip().lower(), link, issued[1])
    session.commit()
    return _sign_in_page(request, "login-sent.html", link=link if runtime.settings.show_login_links else None)


@router.get("/login/{token}", response_class=HTMLResponse, name="login_link")
def login_link(request: Request, token: TokenPath) -> HTMLResponse:
    """A button that uses the link: mail scanners that open links must not spend the one-time token."""
    response = _sign_in_page(request, "login-link.html", token=token)
    # The token is in this page's address: no Referer may carry it anywhere.
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@router.post("/login/{token}", response_class=HTMLResponse)
def login_redeem(
    request: Request, session: WriteSession, token: TokenPath, csrf_token: CsrfField = ""
) -> Response:
    """Use the link once, sign the customer in and go to their tickets."""
    check_sign_in_csrf(request, csrf_token)
    try:
        customer_id = sessions.redeem_login_link(session=session, token=token)
    except Unauthorized as error:
        return _sign_in_page(request, "login.html", status=401, error=error.message, email="")
    if previous := request.cookies.get(SESSION_COOKIE):
        sessions.end_session(session=session, token=previous)
    signed_in = sessions.start_session(session=session, customer_id=customer_id)
    session.commit()
    response = RedirectResponse("/portal", status_code=303)
    set_session_cookie(request, response, signed_in)
    response.delete_cookie(SIGN_IN_COOKIE, path="/portal")
    return response


@router.post("/logout")
def logout(request: Request, session: WriteSession, csrf_token: CsrfField = "") -> RedirectResponse:
    browser = _customer(request, session)
    token = request.cookies.get(SESSION_COOKIE)
    response = RedirectResponse("/portal/login?signed_out=true", status_code=303)
    # Only a customer's own session: a staff member's workspace cookie is not the portal's to end.
    if browser is not None and token:
        check_csrf(request, browser, csrf_token)
        sessions.end_session(session=session, token=token)
        session.commit()
        clear_session_cookie(response)
    return response


# -- tickets -----------------------------------------------------------------------------------------------
@router.get("", response_class=HTMLResponse)
def my_tickets(
    request: Request, session: ReadSession, cursor: Annotated[str | None, Query(max_length=300)] = None
) -> Response:
    """The customer's tickets, most recently active first, a page at a time."""
    browser = _customer(request, session)
    if browser is None:
        return RedirectResponse("/portal/login", status_code=303)
    items, next_cursor = view.customer_tickets(session=session, principal=browser.principal, cursor=cursor)
    return _page(
        "tickets.html", csrf=browser.csrf_token, tickets=items, next_cursor=next_cursor, paged=bool(cursor)
    )


@router.get("/tickets/{ticket_id}", response_class=HTMLResponse)
def ticket_page(
    request: Request,
    ticket_id: IdPath,
    session: ReadSession,
    runtime: RuntimeDep,
    done: Literal["reply", "rating", "appointment", "visit_rating"] | None = None,
) -> Response:
    """One conversation (no internal notes), with the reply and rating forms."""
    browser = _customer(request, session)
    if browser is None:
        return RedirectResponse("/portal/login", status_code=303)
    found = view.conversation(session=session, principal=browser.principal, ticket_id=ticket_id)
    visits = _visits(session, browser, ticket_id)
    return _ticket_page(found, browser, runtime, notice=NOTICES.get(done or ""), visits=visits)


@router.post("/tickets/{ticket_id}/reply", response_class=HTMLResponse)
def reply(
    request: Request,
    ticket_id: IdPath,
    session: WriteSession,
    runtime: RuntimeDep,
    body: Annotated[str, Form()] = "",
    csrf_token: CsrfField = "",
    files: Annotated[list[UploadFile] | None, File()] = None,
) -> Response:
    """Add the customer's reply (with files) to the ticket, or show the form again with what to fix."""
    browser = _acting_customer(request, session, csrf_token)
    ticket = tickets.access_ticket(session=session, principal=browser.principal, ticket_id=ticket_id)
    try:
        data = MessageCreate(body=body if body.strip() else "", attachments=_encode(files, runtime))
        message = tickets.add_message(
            session=session, ticket=ticket, data=data, actor=browser.principal, limits=runtime.limits
        )
    except (ValidationError, OmbudError) as error:
        return _form_again(session, browser, runtime, ticket_id, error, part="reply", draft=body)
    target = f"/portal/tickets/{ticket_id}?done=reply#message-{message.id}"
    session.commit()
    return RedirectResponse(target, status_code=303)


@router.post("/tickets/{ticket_id}/rating", response_class=HTMLResponse)
def rate(
    request: Request,
    ticket_id: IdPath,
    session: WriteSession,
    runtime: RuntimeDep,
    score: Annotated[int, Form()] = 0,
    comment: Annotated[str, Form()] = "",
    csrf_token: CsrfField = "",
) -> Response:
    """Store the customer's rating (a new one replaces the old) and show it."""
    browser = _acting_customer(request, session, csrf_token)
    try:
        data = ratings.RatingCreate(score=score, comment=comment)
        ratings.rate_ticket(
            session=session,
            principal=browser.principal,
            ticket_id=ticket_id,
            score=data.score,
            comment=data.comment,
        )
    except (ValidationError, InvalidInput) as error:
        return _form_again(session, browser, runtime, ticket_id, error, part="rating", draft=comment)
    session.commit()
    return RedirectResponse(f"/portal/tickets/{ticket_id}?done=rating#rating", status_code=303)


@router.post("/tickets/{ticket_id}/work-orders/{work_order_id}/appointment", response_class=HTMLResponse)
def choose_appointment(
    request: Request,
    ticket_id: IdPath,
    work_order_id: IdPath,
    session: WriteSession,
    runtime: RuntimeDep,
    start: Annotated[str, Form(max_length=60)] = "",
    csrf_token: CsrfField = "",
) -> Response:
    """Book the visit at one of the times the technician offered."""
    browser = _acting_customer(request, session, csrf_token)
    try:
        _own_visit(session, browser, ticket_id, work_order_id)
        work_orders.confirm_slot(
            session=session,
            actor=browser.principal,
            work_order_id=work_order_id,
            start=partners_views.parse_instant(start),
        )
    except OmbudError as error:
        part = f"visit-{work_order_id}"
        return _form_again(session, browser, runtime, ticket_id, error, part=part, draft="")
    session.commit()
    return RedirectResponse(f"/portal/tickets/{ticket_id}?done=appointment#visits", status_code=303)


@router.post("/tickets/{ticket_id}/work-orders/{work_order_id}/rating", response_class=HTMLResponse)
def rate_visit(
    request: Request,
    ticket_id: IdPath,
    work_order_id: IdPath,
    session: WriteSession,
    runtime: RuntimeDep,
    score: Annotated[int, Form()] = 0,
    comment: Annotated[str, Form(max_length=5000)] = "",
    csrf_token: CsrfField = "",
) -> Response:
    """Rate the completed visit, 1 to 5 with a comment, once."""
    browser = _acting_customer(request, session, csrf_token)
    try:
        _own_visit(session, browser, ticket_id, work_order_id)
        work_orders.rate_visit(
            session=session,
            actor=browser.principal,
            work_order_id=work_order_id,
            score=score,
            comment=comment,
        )
    except OmbudError as error:
        part = f"visit-{work_order_id}"
        return _form_again(session, browser, runtime, ticket_id, error, part=part, draft=comment)
    session.commit()
    return RedirectResponse(f"/portal/tickets/{ticket_id}?done=visit_rating#visits", status_code=303)


@router.get("/attachments/{attachment_id}")
def attachment(request: Request, attachment_id: IdPath, session: ReadSession) -> Response:
    """An attachment of the customer's own ticket, always as a download (never shown inline)."""
    browser = _customer(request, session)
    if browser is None:
        return RedirectResponse("/portal/login", status_code=303)
    found, data = tickets.get_attachment(
        session=session, principal=browser.principal, attachment_id=attachment_id
    )
    # An ASCII fallback plus the exact name percent-encoded (RFC 6266): no header injection, no mojibake.
    fallback = "".join(
        ch if ch.isascii() and ch.isprintable() and ch not in '"\\;' else "_" for ch in found.filename
    )
    disposition = f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(found.filename, safe='')}"
    headers = {
        "Content-Disposition": disposition,
        "X-Content-Type-Options": "nosniff",
        # Opened anyway (some browsers offer to), an HTML file still runs no script with our origin.
        "Content-Security-Policy": "sandbox",
        "Cache-Control": "private, no-store",
    }
    return Response(content=data, media_type=found.content_type, headers=headers)


# -- helpers -----------------------------------------------------------------------------------------------
def _customer(request: Request, session: Session) -> sessions.BrowserSession | None:
    """The signed-in customer, or None (nobody, or a staff member's workspace session)."""
    browser = browser_session(request, session)
    return browser if browser is not None and browser.principal.is_customer else None


def _acting_customer(request: Request, session: Session, csrf_token: str) -> sessions.BrowserSession:
    """The signed-in customer whose form echoed the session's CSRF token; raise otherwise."""
    browser = _customer(request, session)
    if browser is None:
        raise Unauthorized("your session has ended; sign in again at /portal/login", code="session_expired")
    check_csrf(request, browser, csrf_token)
    return browser


def _visits(
    session: Session, browser: sessions.BrowserSession, ticket_id: int
) -> list[WorkOrderCustomerView]:
    """The ticket's field visits as the customer sees them (no partner notes, photos or staff details)."""
    found = work_orders.for_ticket(session=session, principal=browser.principal, ticket_id=ticket_id)
    return [work_orders.customer_view(session=session, work_order=order) for order in found]


def _own_visit(
    session: Session, browser: sessions.BrowserSession, ticket_id: int, work_order_id: int
) -> None:
    """404 unless the work order is on this ticket of the signed-in customer."""
    order = work_orders.access_work_order(
        session=session, principal=browser.principal, work_order_id=work_order_id
    )
    if order.ticket_id != ticket_id:
        raise NotFound(f"no work order with id {work_order_id}", code="work_order_not_found")


def _send_link(runtime: Runtime, address: str, link: str, customer_id: int) -> None:
    """Email the sign-in link. Not a job: the database keeps only the token's hash, and a queued job would
    have to keep the token itself; a customer whose email is lost asks again."""
    config: EmailConfig = runtime.email
    minutes = int(sessions.LOGIN_LINK_LIFETIME.total_seconds() // 60)
    text = (
        "Hello,\n\nuse this link to sign in to your support portal:\n\n"
        f"{link}\n\nIt works once, within {minutes} minutes. If you did not ask for it, ignore this email: "
        f"nobody can sign in without the link.\n\n{config.display_name}\n"
    )
    try:
        EmailAdapter(config).send_notice(to=address, subject="Your sign-in link", text=text)
    except (TryLater, Undeliverable) as error:
        log.warning("the portal sign-in link for customer %s was not sent: %s", customer_id, error)
        if runtime.settings.show_login_links:
            # Shown on purpose (a demo without a mail server): the one line the log filter leaves alone.
            log.warning("show_login_links is on; the link is %s", link, extra={logmask.UNMASKED: True})


def _sign_in_page(request: Request, name: str, *, status: int = 200, **context: Any) -> HTMLResponse:
    """A signed-out page whose forms echo the double-submit cookie (set here when missing or odd)."""
    value = sign_in_form_token(request)
    response = _page(name, status, csrf=value, **context)
    set_sign_in_cookie(request, response, value, path="/portal")
    return response


def _encode(files: list[UploadFile] | None, runtime: Runtime) -> list[AttachmentIn]:
    """The uploaded files as the API's attachments (base64), checked against the limits as they are read."""
    limits = runtime.limits
    uploads = [upload for upload in files or [] if upload.filename]
    tickets.check_attachment_count(len(uploads), limits)
    encoded = []
    for position, upload in enumerate(uploads):
        # Never more than one byte over the limit in memory: enough to know it is too large.
        content = upload.file.read(limits.max_attachment_bytes + 1)
        filename = (upload.filename or "file")[:255]
        tickets.check_attachment_size(filename, len(content), position, limits)
        kind = upload.content_type or ""
        encoded.append(
            AttachmentIn(
                filename=filename,
                content_type=kind if _MEDIA_TYPE.fullmatch(kind) else "application/octet-stream",
                content_base64=base64.b64encode(content).decode("ascii"),
            )
        )
    return encoded


def _form_again(
    session: Session,
    browser: sessions.BrowserSession,
    runtime: Runtime,
    ticket_id: int,
    error: ValidationError | OmbudError,
    *,
    part: str,
    draft: str,
) -> HTMLResponse:
    """The ticket page again, nothing stored, with what to fix beside the form that was sent."""
    session.rollback()
    if isinstance(error, ValidationError):
        first = error.errors()[0]
        field = ".".join(str(item) for item in first["loc"]) or "form"
        message, status = f"{field}: {first['msg']}", 422
    else:
        message, status = error.message, error.status
    found = view.conversation(session=session, principal=browser.principal, ticket_id=ticket_id)
    visits = _visits(session, browser, ticket_id)
    return _ticket_page(
        found, browser, runtime, status=status, errors={part: message}, drafts={part: draft}, visits=visits
    )


def _ticket_page(
    found: view.Conversation,
    browser: sessions.BrowserSession,
    runtime: Runtime,
    *,
    status: int = 200,
    notice: str | None = None,
    errors: dict[str, str] | None = None,
    drafts: dict[str, str] | None = None,
    visits: list[WorkOrderCustomerView] | None = None,
) -> HTMLResponse:
    return _page(
        "ticket.html",
        status,
        visits=visits or [],
        visit_status=partners_views.STATUS_WORDS,
        visit_kinds=partners_views.KIND_WORDS,
        window=partners_views.window,
        csrf=browser.csrf_token,
        ticket=found.ticket,
        messages=found.messages,
        rating=found.rating,
        answered=found.answered,
        closed=found.ticket.status is Status.closed,
        desk=runtime.email.display_name,
        customer=AuthorType.customer,
        scores=SCORES,
        notice=notice,
        errors=errors or {},
        drafts=drafts or {},
    )


def _page(name: str, status: int = 200, **context: Any) -> HTMLResponse:
    page = TEMPLATES.get_template(f"portal/{name}").render(
        status_words=STATUS_WORDS, when=_when, size=_size, **context
    )
    # Personal pages: a shared computer's back button or a proxy must not show them to the next person.
    return HTMLResponse(page, status_code=status, headers={"Cache-Control": "private, no-store"})


def _when(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%d %b %Y, %H:%M UTC").lstrip("0")


def _size(count: int) -> str:
    if count < 1024:
        return f"{count} bytes"
    if count < 1024 * 1024:
        return f"{count / 1024:.0f} KB"
    return f"{count / 1024 / 1024:.1f} MB"
