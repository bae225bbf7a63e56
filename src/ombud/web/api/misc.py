"""/api/v1/health, /me, /users, /teams and attachment downloads."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from sqlalchemy import text

from ombud.accounts import service as accounts
from ombud.accounts.schemas import MePublic, TeamPublic, UserPublic
from ombud.errors import Forbidden
from ombud.tickets import service as tickets
from ombud.web.api.common import IdPath
from ombud.web.deps import CurrentPrincipal, ReadSession, RuntimeDep

router = APIRouter()


@router.get("/health", tags=["meta"], responses={503: {"description": "The database does not answer."}})
def health(runtime: RuntimeDep) -> JSONResponse:
    """Liveness and database reachability; needs no token."""
    try:
        with runtime.database.session(write=False) as session:
            session.execute(text("SELECT 1"))
    except Exception:
        return JSONResponse({"status": "unavailable", "database": "unreachable"}, status_code=503)
    return JSONResponse({"status": "ok"})


@router.get("/me", response_model=MePublic, tags=["meta"])
def me(session: ReadSession, principal: CurrentPrincipal) -> MePublic:
    """Who the token belongs to."""
    name, email = accounts.describe_principal(session=session, principal=principal)
    return MePublic(kind=principal.kind, id=principal.id, role=principal.role, name=name, email=email)


@router.get("/users", response_model=list[UserPublic], tags=["people"])
def list_users(session: ReadSession, principal: CurrentPrincipal) -> list[UserPublic]:
    """Every user with role and teams (staff only), e.g. to find an assignee's id."""
    if not principal.is_staff:
        raise Forbidden("only staff may list users", code="role_forbidden")
    return [UserPublic.model_validate(u) for u in accounts.list_users(session=session)]


@router.get("/teams", response_model=list[TeamPublic], tags=["people"])
def list_teams(session: ReadSession, principal: CurrentPrincipal) -> list[TeamPublic]:
    """Every team (staff only)."""
    if not principal.is_staff:
        raise Forbidden("only staff may list teams", code="role_forbidden")
    return [TeamPublic.model_validate(t) for t in accounts.list_teams(session=session)]


@router.get(
    "/attachments/{attachment_id}",
    tags=["tickets"],
    response_class=Response,
    responses={200: {"description": "The file, with its own content type.", "content": {"*/*": {}}}},
)
def download_attachment(attachment_id: IdPath, session: ReadSession, principal: CurrentPrincipal) -> Response:
    """The attachment's bytes, if the caller may read its message."""
    attachment, data = tickets.get_attachment(
        session=session, principal=principal, attachment_id=attachment_id
    )
    # An ASCII fallback plus the exact name percent-encoded (RFC 6266): no header injection, no mojibake.
    fallback = "".join(
        ch if ch.isascii() and ch.isprintable() and ch not in '"\\;' else "_" for ch in attachment.filename
    )
    return Response(
        content=data,
        media_type=attachment.content_type,
        headers={
            "Content-Disposition": (
                f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(attachment.filename)}"
            ),
            "X-Content-Type-Options": "nosniff",
            # Opened in a browser (the workspace links here), a customer's file runs no script of ours.
            "Content-Security-Policy": "sandbox",
            "Cache-Control": "private, no-store",
        },
    )
