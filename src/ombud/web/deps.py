"""Request dependencies: the runtime, sessions (the request owns the transaction) and the caller."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request, Response
from sqlalchemy.orm import Session

from ombud.accounts import service as accounts
from ombud.accounts import sessions
from ombud.accounts.schemas import Principal
from ombud.channels import service as channels
from ombud.errors import Forbidden, Unauthorized
from ombud.runtime import Runtime


async def get_runtime(request: Request) -> Runtime:
    # async: it does no I/O, so it need not cost a trip to the thread pool.
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def request_session(request: Request, runtime: RuntimeDep) -> Iterator[Session]:
    """The request's one session (authentication uses it too). Requests that may write begin a write
    transaction; GET and HEAD read, and under SQLite WAL never wait for writers. The route commits."""
    write = request.method not in ("GET", "HEAD")
    with runtime.database.session(write=write) as session:
        yield session


SessionDep = Annotated[Session, Depends(request_session)]
# Kept as names that say what a route does; both are the same per-request session.
WriteSession = SessionDep
ReadSession = SessionDep


def bearer_token(request: Request) -> str | None:
    """The token of the ``Authorization: Bearer`` header, or None when there is none (or another scheme)."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


SESSION_COOKIE = "ombud_session"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def browser_session(request: Request, session: Session) -> sessions.BrowserSession | None:
    """The signed-in browser behind the session cookie, or None (no cookie, or an ended session). Looked up
    once per request."""
    if hasattr(request.state, "browser_session"):
        found: sessions.BrowserSession | None = request.state.browser_session
        return found
    token = request.cookies.get(SESSION_COOKIE)
    found = None
    if token:
        try:
            found = sessions.find_session(session=session, token=token)
        except Unauthorized:
            found = None
    request.state.browser_session = found
    return found


def check_csrf(request: Request, browser: sessions.BrowserSession, submitted: str | None) -> None:
    """Refuse an unsafe request from a signed-in browser unless it echoes the session's CSRF token (the
    form field or the X-CSRF-Token header): another site cannot read it, so cannot forge the request."""
    if request.method in SAFE_METHODS:
        return
    given = submitted or request.headers.get(CSRF_HEADER) or ""
    if not secrets.compare_digest(given.encode(), browser.csrf_token.encode()):
        raise Forbidden(
            "the form was out of date or came from another site; reload the page and try again",
            code="csrf_failed",
        )


def current_principal(request: Request, session: SessionDep) -> Principal:
    """Return the caller named by the ``Authorization: Bearer`` header or, from the workspace and the
    portal, by the session cookie (unsafe requests must then send X-CSRF-Token); raise Unauthorized."""
    token = bearer_token(request)
    if token is not None:
        return accounts.authenticate(session=session, token=token)
    browser = browser_session(request, session)
    if browser is not None:
        check_csrf(request, browser, None)
        return browser.principal
    raise Unauthorized(
        "send an API token as 'Authorization: Bearer <token>' (`ombud user add` prints one)",
        code="missing_token",
    )


def principal_if_any(request: Request, session: Session) -> Principal | None:
    """The caller named by a bearer token, or None without one (an unknown token is still refused)."""
    token = bearer_token(request)
    return None if token is None else accounts.authenticate(session=session, token=token)


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def set_session_cookie(request: Request, response: Response, signed_in: sessions.SignedIn) -> None:
    """Give the browser its session cookie: HttpOnly (scripts cannot read it), SameSite=Lax (other sites'
    forms do not carry it), Secure over HTTPS or when OMBUD_COOKIE_SECURE says so."""
    runtime: Runtime = request.app.state.runtime
    response.set_cookie(
        SESSION_COOKIE,
        signed_in.token,
        expires=signed_in.expires_at,
        path="/",
        httponly=True,
        samesite="lax",
        secure=runtime.settings.cookie_secure or request.url.scheme == "https",
    )


def clear_session_cookie(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/")


# -- the signed-out forms (staff sign-in, the portal's link request) -----------------------------------------
SIGN_IN_COOKIE = "ombud_login_csrf"


def sign_in_form_token(request: Request) -> str:
    """The double-submit value a signed-out form carries: the browser's, or a new one when missing or odd."""
    value = request.cookies.get(SIGN_IN_COOKIE, "")
    return value if 32 <= len(value) <= 100 else secrets.token_urlsafe(32)


def set_sign_in_cookie(request: Request, response: Response, value: str, *, path: str) -> None:
    runtime: Runtime = request.app.state.runtime
    response.set_cookie(
        SIGN_IN_COOKIE,
        value,
        max_age=3600,
        path=path,
        httponly=True,
        samesite="lax",
        secure=runtime.settings.cookie_secure or request.url.scheme == "https",
    )


def check_sign_in_csrf(request: Request, submitted: str) -> None:
    """Refuse a signed-out form whose value differs from its cookie's: another site can make a browser
    post a form, but cannot read or set our cookie to match it."""
    expected = request.cookies.get(SIGN_IN_COOKIE, "")
    if not expected or not secrets.compare_digest(submitted.encode(), expected.encode()):
        raise Forbidden(
            "the form was out of date or came from another site; reload the page and try again",
            code="csrf_failed",
        )


def count_sign_in_attempt(session: Session, request: Request, *, kind: str, email: str) -> None:
    """Count a sign-in attempt against the client address and the email address (TooManyRequests over
    OMBUD_LOGIN_RATE_LIMIT in 10 minutes). The caller commits it even when it then refuses the attempt."""

    runtime: Runtime = request.app.state.runtime
    limit = runtime.settings.login_rate_limit
    client = request.client.host if request.client else "unknown"
    channels.check_rate(session=session, key=f"{kind}:{client}", limit=limit)
    # Hashed: the key column is short, and the table need not keep the addresses people typed.
    address = hashlib.sha256(email.strip().lower().encode("utf-8", "replace")).hexdigest()
    channels.check_rate(session=session, key=f"{kind}-email:{address}", limit=limit)
