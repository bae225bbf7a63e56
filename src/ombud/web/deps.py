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


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def write_session(runtime: RuntimeDep) -> Iterator[Session]:
    """A session for a request that changes data; the route commits before it answers."""
    with runtime.database.session(write=True) as session:
        yield session


def read_session(runtime: RuntimeDep) -> Iterator[Session]:
    """A session for a request that only reads (never blocks on writers under SQLite WAL)."""
    with runtime.database.session(write=False) as session:
        yield session


WriteSession = Annotated[Session, Depends(write_session)]
ReadSession = Annotated[Session, Depends(read_session)]


def current_principal(request: Request, runtime: RuntimeDep) -> Principal:
    """Return the caller named by the ``Authorization: Bearer`` header, or raise Unauthorized."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized(
            "send an API token as 'Authorization: Bearer <token>' (`ombud user add` prints one)",
            code="missing_token",
        )
    with runtime.database.session(write=False) as session:
        return accounts.authenticate(session=session, token=token.strip())


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
