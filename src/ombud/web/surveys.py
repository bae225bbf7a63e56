"""The customer's survey page, opened from the link in a survey email or chat message: 1-5 buttons, a
comment box and (when asked) the NPS scale. No sign-in: the link's token is the credential. A plain form
that works without JavaScript; the signed-out double-submit cookie guards it against cross-site posts."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, Response

from ombud.errors import Conflict, InvalidInput, NotFound
from ombud.tickets import surveys
from ombud.web.deps import (
    ReadSession,
    WriteSession,
    check_sign_in_csrf,
    set_sign_in_cookie,
    sign_in_form_token,
)
from ombud.web.pages import TEMPLATES

router = APIRouter(include_in_schema=False)
TokenPath = Annotated[str, Path(min_length=1, max_length=200)]


def _page(status: int = 200, **context: Any) -> HTMLResponse:
    return HTMLResponse(TEMPLATES.get_template("survey/survey.html").render(**context), status_code=status)


def _form(request: Request, opened: surveys.Opened, token: str, **context: Any) -> HTMLResponse:
    csrf = sign_in_form_token(request)
    status = context.pop("status", 200)
    if opened.expired:
        status, context["gone"] = 410, True
    response = _page(status, opened=opened, token=token, csrf=csrf, **context)
    set_sign_in_cookie(request, response, csrf, path="/survey")
    return response


def _not_found(error: NotFound) -> HTMLResponse:
    return _page(404, missing=error.message)


@router.get("/survey/{token}", response_class=HTMLResponse)
def survey_page(
    request: Request,
    token: TokenPath,
    session: ReadSession,
    score: Annotated[int | None, Query(ge=1, le=5)] = None,
) -> Response:
    """The survey; ``score`` (from the email's buttons) preselects a score but stores nothing: mail
    scanners open links, so only the form's post counts."""
    try:
        opened = surveys.open_survey(session=session, token=token)
    except NotFound as error:
        return _not_found(error)
    chosen = score if score is not None else opened.survey.score
    return _form(request, opened, token, chosen=chosen, nps=opened.survey.nps, comment=opened.survey.comment)


@router.post("/survey/{token}", response_class=HTMLResponse)
def survey_submit(
    request: Request,
    token: TokenPath,
    session: WriteSession,
    score: Annotated[str, Form(max_length=2)] = "",
    comment: Annotated[str, Form(max_length=4000)] = "",
    nps: Annotated[str, Form(max_length=2)] = "",
    csrf_token: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    """Store the answer and thank the customer; a second answer replaces the first."""
    try:
        opened = surveys.open_survey(session=session, token=token)
    except NotFound as error:
        return _not_found(error)
    check_sign_in_csrf(request, csrf_token)
    try:
        # ASCII digits only: '²'.isdigit() is True but int('²') raises ValueError.
        if not (score.isascii() and score.isdigit()):
            raise InvalidInput("choose a score from 1 to 5", code="invalid_rating")
        if nps and not (nps.isascii() and nps.isdigit()):
            raise InvalidInput("choose a number from 0 to 10", code="invalid_rating")
        surveys.answer(
            session=session,
            token=token,
            score=int(score),
            comment=comment,
            nps=int(nps) if nps and opened.survey.with_nps else None,
        )
    except (InvalidInput, Conflict) as error:
        session.rollback()
        return _form(
            request, opened, token, status=error.status, error=error.message, chosen=None, comment=comment
        )
    session.commit()
    return _page(opened=opened, token=token, thanked=True)
