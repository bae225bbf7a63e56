"""The agent workspace: sign-in, the inbox, the ticket page with triage, suggestions, the customer 360 and
the reply composer, macros and saved views. Server-rendered; the JavaScript in static/workspace.js only
adds live updates, shortcuts, presence and the reply assistance on top of plain forms that work alone."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, FastAPI, Form, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import ValidationError

from ombud.accounts import service as accounts
from ombud.accounts import sessions
from ombud.accounts.models import Role
from ombud.errors import Conflict, Forbidden, InvalidInput, OmbudError, TooManyRequests, Unauthorized
from ombud.tickets import inbox
from ombud.tickets import service as tickets
from ombud.tickets.models import Channel, Priority
from ombud.tickets.schemas import MessageCreate
from ombud.triage import service as triage
from ombud.web import workspace_views as views
from ombud.web.api.common import IdPath
from ombud.web.deps import (
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

router = APIRouter(include_in_schema=False)
MAX_NEXT = 500
BULK_MAX = 200


class SignInRequired(Exception):
    """Raised by page dependencies when nobody is signed in; the app answers with a redirect to ``to``."""

    def __init__(self, to: str) -> None:
        super().__init__(to)
        self.to = to


def install(app: FastAPI) -> None:
    """Answer pages that need a signed-in agent with a redirect to the sign-in form."""

    @app.exception_handler(SignInRequired)
    async def _sign_in(request: Request, exc: SignInRequired) -> Response:
        return RedirectResponse(exc.to, status_code=303)


class Agent:
    """The signed-in staff member of a workspace page, with the CSRF token its forms carry."""

    def __init__(self, browser: sessions.BrowserSession) -> None:
        self.browser = browser
        self.principal = browser.principal
        self.csrf = browser.csrf_token
        self.id = inbox.require_staff(browser.principal)

    def check_form(self, request: Request, csrf_token: str) -> None:
        """Refuse a form post that does not echo this session's CSRF token (403 csrf_failed)."""
        check_csrf(request, self.browser, csrf_token)


def current_agent(request: Request, session: ReadSession) -> Agent:
    browser = browser_session(request, session)
    if browser is None or browser.principal.kind != "user":
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        if len(target) > MAX_NEXT:  # a long search: come back to the page, not to the exact query
            target = request.url.path if len(request.url.path) <= MAX_NEXT else "/agent/inbox"
        raise SignInRequired("/login?" + urlencode({"next": target}))
    if not browser.principal.is_staff:
        raise Forbidden("the workspace is for staff; partners have their own portal", code="role_forbidden")
    return Agent(browser)


CurrentAgent = Annotated[Agent, Depends(current_agent)]


def _render(name: str, status: int = 200, **context: Any) -> HTMLResponse:
    return HTMLResponse(TEMPLATES.get_template(name).render(**context), status_code=status)


def _safe_next(target: str | None) -> str:
    """Only ever redirect within this site after sign-in (an open redirect would lend phishers our name)."""
    if target and target.startswith("/") and not target.startswith(("//", "/\\")):
        return target
    return "/agent"


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


# -- sign-in -----------------------------------------------------------------------------------------------
@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: Annotated[str | None, Query(max_length=MAX_NEXT)] = None) -> Response:
    token = sign_in_form_token(request)
    response = _render("workspace/login.html", next=_safe_next(next), csrf=token, error=None, email="")
    set_sign_in_cookie(request, response, token, path="/login")
    return response


@router.post("/login", response_class=HTMLResponse)
def login(
    request: Request,
    session: WriteSession,
    runtime: RuntimeDep,
    email: Annotated[str, Form(max_length=320)] = "",
    password: Annotated[str, Form(max_length=1000)] = "",
    csrf_token: Annotated[str, Form(max_length=100)] = "",
    next: Annotated[str, Form(max_length=500)] = "/agent",
) -> Response:
    """Check the password (rate-limited per address and per email), start a session, go to ``next``."""
    check_sign_in_csrf(request, csrf_token)
    try:
        # The attempt counts first, in its own short transaction, whatever the password turns out to be.
        count_sign_in_attempt(session, request, kind="login", email=email)
        session.commit()
        # Argon2 takes a good part of a second by design: never while holding SQLite's write lock.
        with runtime.database.session(write=False) as reader:
            user_id = sessions.verify_password(session=reader, email=email, password=password)
    except (Unauthorized, TooManyRequests) as error:
        session.commit()
        return _render(
            "workspace/login.html",
            error.status,
            next=_safe_next(next),
            csrf=csrf_token,
            error=error.message,
            email=email,
        )
    signed_in = sessions.start_session(session=session, user_id=user_id)
    session.commit()
    target = _safe_next(next)
    partner_page = target == "/partner" or target.startswith("/partner/")
    if not partner_page and accounts.access_user(session=session, user_id=user_id).role is Role.partner:
        target = "/partner"  # a field technician has no workspace: their portal instead
    response = RedirectResponse(target, status_code=303)
    set_session_cookie(request, response, signed_in)
    response.delete_cookie(SIGN_IN_COOKIE, path="/login")
    return response


@router.post("/logout")
def logout(request: Request, session: WriteSession, csrf_token: Annotated[str, Form()] = "") -> Response:
    browser = browser_session(request, session)
    if browser is not None:
        check_csrf(request, browser, csrf_token)
        sessions.end_session(session=session, token=request.cookies.get("ombud_session", ""))
        session.commit()
    response = RedirectResponse("/login", status_code=303)
    clear_session_cookie(response)
    return response


# -- the inbox ---------------------------------------------------------------------------------------------
@router.get("/agent")
def agent_home() -> RedirectResponse:
    return RedirectResponse("/agent/inbox", status_code=303)


def _filters(channel: str | None, tag: str | None, q: str | None, priority: str | None) -> inbox.InboxFilters:
    try:
        return inbox.InboxFilters(
            channel=Channel(channel) if channel else None,
            tag=tag or None,
            q=q or None,
            priority=Priority(priority).value if priority else None,
        )
    except ValueError as error:
        raise InvalidInput(f"unknown filter value: {error}", code="invalid_filter") from None


@router.get("/agent/inbox", response_class=HTMLResponse)
def inbox_page(
    session: ReadSession,
    agent: CurrentAgent,
    view: Annotated[str, Query(max_length=20)] = "mine",
    channel: Annotated[str | None, Query(max_length=20)] = None,
    tag: Annotated[str | None, Query(max_length=100)] = None,
    q: Annotated[str | None, Query(max_length=500)] = None,
    priority: Annotated[str | None, Query(max_length=20)] = None,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
    saved: Annotated[int | None, Query(ge=1)] = None,
    fragment: bool = False,
) -> HTMLResponse:
    """A view of the inbox, highest priority first; ``fragment`` gives only the rows (live refresh)."""
    if saved is not None:
        chosen, filters = inbox.get_saved_view(session=session, principal=agent.principal, view_id=saved)
    else:
        chosen, filters = inbox.parse_view(view), _filters(channel, tag, q, priority)
    page = inbox.inbox(
        session=session, principal=agent.principal, view=chosen, filters=filters, cursor=cursor
    )
    context = views.inbox_context(
        session=session, agent=agent, view=chosen, filters=filters, page=page, cursor=cursor, saved=saved
    )
    return _render("workspace/inbox-rows.html" if fragment else "workspace/inbox.html", **context)


@router.get("/agent/inbox/latest")
def inbox_latest(session: ReadSession, agent: CurrentAgent) -> JSONResponse:
    """The newest message id and the view counts: the inbox polls this and refreshes its rows on a change."""
    return JSONResponse(
        {
            "latest": inbox.latest_message_id(session=session),
            "counts": inbox.view_counts(session=session, user_id=agent.id),
        }
    )


@router.post("/agent/inbox/bulk")
def inbox_bulk(
    request: Request,
    session: WriteSession,
    agent: CurrentAgent,
    action: Annotated[str, Form(max_length=40)],
    ticket_ids: Annotated[list[int], Form(max_length=BULK_MAX)],
    csrf_token: Annotated[str, Form(max_length=100)] = "",
    back: Annotated[str, Form(max_length=1000)] = "/agent/inbox",
) -> RedirectResponse:
    """Apply one change (assign to me, unassign, a status, a priority) to the selected tickets, all or
    none."""
    agent.check_form(request, csrf_token)
    changes = views.bulk_changes(action, agent.id)
    for ticket_id in ticket_ids:
        ticket = tickets.access_ticket(session=session, principal=agent.principal, ticket_id=ticket_id)
        try:
            tickets.update_ticket(session=session, ticket=ticket, changes=changes, actor=agent.principal)
        except Conflict as error:
            if error.code != "open_concerns":
                raise
            raise Conflict(
                f"nothing was changed: ticket #{ticket_id} still has open concerns. Resolve them on its "
                'page, or choose "Status: solved, open concerns too"',
                code="open_concerns",
                details={"ticket_id": ticket_id, **(error.details or {})},
            ) from None
    session.commit()
    return RedirectResponse(_safe_next(back), status_code=303)


@router.post("/agent/views")
def save_view(
    request: Request,
    session: WriteSession,
    agent: CurrentAgent,
    name: Annotated[str, Form(max_length=100)],
    view: Annotated[str, Form(max_length=20)] = "all",
    channel: Annotated[str | None, Form(max_length=20)] = None,
    tag: Annotated[str | None, Form(max_length=100)] = None,
    q: Annotated[str | None, Form(max_length=500)] = None,
    priority: Annotated[str | None, Form(max_length=20)] = None,
    csrf_token: Annotated[str, Form(max_length=100)] = "",
) -> RedirectResponse:
    agent.check_form(request, csrf_token)
    saved = inbox.save_view(
        session=session,
        principal=agent.principal,
        name=name,
        view=inbox.parse_view(view),
        filters=_filters(channel, tag, q, priority),
    )
    saved_id = saved.id
    session.commit()
    return RedirectResponse(f"/agent/inbox?saved={saved_id}", status_code=303)


@router.post("/agent/views/{view_id}/delete")
def delete_view(
    view_id: IdPath,
    request: Request,
    session: WriteSession,
    agent: CurrentAgent,
    csrf_token: Annotated[str, Form(max_length=100)] = "",
) -> RedirectResponse:
    agent.check_form(request, csrf_token)
    inbox.delete_view(session=session, principal=agent.principal, view_id=view_id)
    session.commit()
    return RedirectResponse("/agent/inbox", status_code=303)


# -- the ticket page ---------------------------------------------------------------------------------------
@router.get("/agent/tickets/{ticket_id}", response_class=HTMLResponse)
def ticket_page(
    ticket_id: IdPath,
    session: ReadSession,
    runtime: RuntimeDep,
    agent: CurrentAgent,
    view: Annotated[str, Query(max_length=20)] = "mine",
    notice: Annotated[str | None, Query(max_length=40)] = None,
) -> HTMLResponse:
    """The conversation with its triage, the suggestions, the customer 360 and the composer."""
    context = views.ticket_context(
        session=session, runtime=runtime, agent=agent, ticket_id=ticket_id, view=inbox.parse_view(view)
    )
    return _render("workspace/ticket.html", notice=views.NOTICES.get(notice or ""), **context)


@router.post("/agent/tickets/{ticket_id}/reply")
def reply(
    ticket_id: IdPath,
    request: Request,
    session: WriteSession,
    runtime: RuntimeDep,
    agent: CurrentAgent,
    body: Annotated[str, Form(max_length=200_000)] = "",
    kind: Annotated[str, Form(pattern="^(reply|note)$")] = "reply",
    then: Annotated[str, Form(max_length=20)] = "",
    macro_id: Annotated[int | None, Form(ge=1)] = None,
    csrf_token: Annotated[str, Form(max_length=100)] = "",
    view: Annotated[str, Form(max_length=20)] = "mine",
) -> RedirectResponse:
    """Send a public reply (out on the ticket's channel by the delivery job) or add an internal note; then
    optionally set the status, and apply the macro's actions when one was used."""
    agent.check_form(request, csrf_token)
    back = inbox.parse_view(view).value  # checked before anything is sent
    ticket = tickets.access_ticket(session=session, principal=agent.principal, ticket_id=ticket_id)
    if not body.strip():
        raise InvalidInput("write something before sending", code="empty_reply")
    try:
        data = MessageCreate(body=body, internal=kind == "note")
    except ValidationError as error:
        raise InvalidInput(
            f"the reply cannot be stored: {error.errors()[0]['msg']}", code="invalid_reply"
        ) from None
    tickets.add_message(
        session=session, ticket=ticket, data=data, actor=agent.principal, limits=runtime.limits
    )
    changes = views.after_reply_changes(
        session=session, principal=agent.principal, ticket=ticket, then=then, macro_id=macro_id
    )
    notice = "note" if kind == "note" else "sent"
    if changes is not None:
        try:
            tickets.update_ticket(session=session, ticket=ticket, changes=changes, actor=agent.principal)
        except Conflict as error:
            if error.code != "open_concerns":
                raise
            # The check comes before any change: the reply stands, the ticket stays open, and the page
            # shows the open concerns with "Solve anyway".
            notice = "sent_concerns_open" if kind == "reply" else "note_concerns_open"
    session.commit()
    return RedirectResponse(f"/agent/tickets/{ticket_id}?view={back}&notice={notice}", status_code=303)


@router.post("/agent/tickets/{ticket_id}/update")
def update(
    ticket_id: IdPath,
    request: Request,
    session: WriteSession,
    agent: CurrentAgent,
    status: Annotated[str | None, Form(max_length=20)] = None,
    priority: Annotated[str | None, Form(max_length=20)] = None,
    assignee: Annotated[str | None, Form(max_length=20)] = None,
    csrf_token: Annotated[str, Form(max_length=100)] = "",
    view: Annotated[str, Form(max_length=20)] = "mine",
) -> RedirectResponse:
    """Change status, priority or assignee from the ticket page's side panel."""
    agent.check_form(request, csrf_token)
    back = inbox.parse_view(view).value
    ticket = tickets.access_ticket(session=session, principal=agent.principal, ticket_id=ticket_id)
    changes = views.ticket_changes(status=status, priority=priority, assignee=assignee, me=agent.id)
    try:
        tickets.update_ticket(session=session, ticket=ticket, changes=changes, actor=agent.principal)
    except Conflict as error:
        if error.code != "open_concerns":
            raise
        # Checked before any change: nothing was applied; the page lists the concerns and Solve anyway.
        return RedirectResponse(f"/agent/tickets/{ticket_id}?view={back}&notice=concerns_open", 303)
    session.commit()
    return RedirectResponse(f"/agent/tickets/{ticket_id}?view={back}&notice=updated", status_code=303)


@router.post("/agent/tickets/{ticket_id}/correct")
def correct(
    ticket_id: IdPath,
    request: Request,
    session: WriteSession,
    agent: CurrentAgent,
    message_id: Annotated[int, Form(ge=1)],
    field: Annotated[str, Form(max_length=20)],
    value: Annotated[str, Form(max_length=200)],
    concern_index: Annotated[int | None, Form(ge=0, le=50)] = None,
    csrf_token: Annotated[str, Form(max_length=100)] = "",
    view: Annotated[str, Form(max_length=20)] = "mine",
) -> RedirectResponse:
    """An agent's one-click correction of what triage found; it trains the next model."""
    agent.check_form(request, csrf_token)
    back = inbox.parse_view(view).value
    tickets.access_ticket(session=session, principal=agent.principal, ticket_id=ticket_id)
    data = views.correction(field=field, value=value, concern_index=concern_index)
    triage.correct(session=session, principal=agent.principal, message_id=message_id, data=data)
    session.commit()
    return RedirectResponse(f"/agent/tickets/{ticket_id}?view={back}&notice=corrected", status_code=303)


@router.post("/agent/tickets/{ticket_id}/presence")
def presence(
    ticket_id: IdPath,
    request: Request,
    session: WriteSession,
    agent: CurrentAgent,
    typing: Annotated[bool, Form()] = False,
    leaving: Annotated[bool, Form()] = False,
    csrf_token: Annotated[str, Form(max_length=100)] = "",
) -> JSONResponse:
    """The ticket page's heartbeat: who else has it open or is typing (and its @mentions are now read)."""
    agent.check_form(request, csrf_token)
    tickets.access_ticket(session=session, principal=agent.principal, ticket_id=ticket_id)
    if leaving:
        inbox.leave(session=session, principal=agent.principal, ticket_id=ticket_id)
        others: list[inbox.Present] = []
    else:
        others = inbox.mark_present(
            session=session, principal=agent.principal, ticket_id=ticket_id, typing=typing
        )
        inbox.read_mentions(session=session, principal=agent.principal, ticket_id=ticket_id)
    body = {"others": [{"name": p.name, "typing": p.typing} for p in others]}
    session.commit()
    return JSONResponse(body)


@router.get("/agent/tickets/{ticket_id}/macros/{macro_id}")
def macro_text(
    ticket_id: IdPath, macro_id: IdPath, session: ReadSession, agent: CurrentAgent
) -> JSONResponse:
    """The macro's text with this ticket's placeholders filled in, for the composer."""
    ticket = tickets.access_ticket(session=session, principal=agent.principal, ticket_id=ticket_id)
    macro = inbox.get_macro(session=session, principal=agent.principal, macro_id=macro_id)
    values = views.placeholder_values(session=session, agent=agent, ticket=ticket)
    return JSONResponse({"id": macro.id, "name": macro.name, "text": inbox.fill_macro(macro.body, values)})


# -- macros ------------------------------------------------------------------------------------------------
@router.get("/agent/macros", response_class=HTMLResponse)
def macros_page(
    session: ReadSession, agent: CurrentAgent, edit: Annotated[int | None, Query(ge=1)] = None
) -> HTMLResponse:
    macros = inbox.list_macros(session=session, principal=agent.principal)
    editing = next((m for m in macros if m.id == edit), None)
    return _render(
        "workspace/macros.html",
        agent=agent,
        me=views.me(session=session, agent=agent),
        macros=macros,
        editing=editing,
        placeholders=inbox.PLACEHOLDERS,
        statuses=inbox.MACRO_STATUSES,
        can_edit=views.can_edit_macros(agent.principal),
        error=None,
    )


@router.post("/agent/macros", response_class=HTMLResponse)
def save_macro(
    request: Request,
    session: WriteSession,
    agent: CurrentAgent,
    name: Annotated[str, Form(max_length=200)] = "",
    body: Annotated[str, Form(max_length=20_000)] = "",
    status: Annotated[str, Form(max_length=20)] = "",
    tags: Annotated[str, Form(max_length=1000)] = "",
    macro_id: Annotated[int | None, Form(ge=1)] = None,
    csrf_token: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    agent.check_form(request, csrf_token)
    actions: dict[str, Any] = {}
    if status:
        actions["status"] = status
    if tags.strip():
        actions["tags"] = [t for t in (part.strip() for part in tags.split(",")) if t]
    try:
        inbox.save_macro(
            session=session,
            principal=agent.principal,
            name=name,
            body=body,
            actions=actions,
            macro_id=macro_id,
        )
    except (InvalidInput, OmbudError) as error:
        if error.status >= 500 or error.status == 403:
            raise
        session.rollback()
        macros = inbox.list_macros(session=session, principal=agent.principal)
        return _render(
            "workspace/macros.html",
            error.status,
            agent=agent,
            me=views.me(session=session, agent=agent),
            macros=macros,
            editing={"id": macro_id, "name": name, "body": body, "actions": actions},
            placeholders=inbox.PLACEHOLDERS,
            statuses=inbox.MACRO_STATUSES,
            can_edit=True,
            error=error.message,
        )
    session.commit()
    return RedirectResponse("/agent/macros", status_code=303)


# -- the glossary and the voice (the reply check's company words) ------------------------------------------
@router.get("/agent/voice", response_class=HTMLResponse)
def voice_page(session: ReadSession, agent: CurrentAgent, saved: bool = False) -> HTMLResponse:
    """The company glossary and style guide the reply check uses; admins change them here."""
    return _render("workspace/voice.html", saved=saved, **views.voice_context(session=session, agent=agent))


@router.post("/agent/voice", response_class=HTMLResponse)
def save_voice(
    request: Request,
    session: WriteSession,
    agent: CurrentAgent,
    glossary: Annotated[str, Form(max_length=200_000)] = "",
    voice: Annotated[str, Form(max_length=200_000)] = "",
    csrf_token: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    """Replace both lists from their text areas (one ``phrase => words`` per line); all or nothing."""
    agent.check_form(request, csrf_token)
    try:
        views.save_voice(session=session, principal=agent.principal, glossary=glossary, voice=voice)
    except InvalidInput as error:
        session.rollback()
        context = views.voice_context(session=session, agent=agent, glossary=glossary, voice=voice)
        context["error"] = error.message
        return _render("workspace/voice.html", error.status, **context)
    session.commit()
    return RedirectResponse("/agent/voice?saved=1", status_code=303)
