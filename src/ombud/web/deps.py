"""Request dependencies: the runtime, sessions (the request owns the transaction) and the caller."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from ombud.accounts import service as accounts
from ombud.accounts.schemas import Principal
from ombud.errors import Unauthorized
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


def current_principal(request: Request, session: SessionDep) -> Principal:
    """Return the caller named by the ``Authorization: Bearer`` header, or raise Unauthorized."""
    token = bearer_token(request)
    if token is None:
        raise Unauthorized(
            "send an API token as 'Authorization: Bearer <token>' (`ombud user add` prints one)",
            code="missing_token",
        )
    return accounts.authenticate(session=session, token=token)


def principal_if_any(request: Request, session: Session) -> Principal | None:
    """The caller named by a bearer token, or None without one (an unknown token is still refused)."""
    token = bearer_token(request)
    return None if token is None else accounts.authenticate(session=session, token=token)


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
