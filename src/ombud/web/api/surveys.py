"""/api/v1/surveys: the survey configuration (admins), a ticket's survey (staff), and answering a survey
by its link's token (no sign-in: the token is the credential)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Path
from pydantic import BaseModel, ConfigDict, Field

from ombud.errors import Forbidden
from ombud.tickets import surveys
from ombud.tickets.surveys import SurveyConfig, SurveyPublic, SurveyState
from ombud.validation import CleanText
from ombud.web.api.common import IdPath
from ombud.web.deps import CurrentPrincipal, ReadSession, WriteSession

router = APIRouter(tags=["surveys"])
TokenPath = Annotated[str, Path(min_length=1, max_length=200, description="The token from the survey link.")]


class SurveyQuestion(BaseModel):
    """What a survey link asks, in the customer's language, and any answer already given."""

    ticket_id: int
    subject: str
    question: str
    comment_label: str
    nps_question: str | None
    state: SurveyState
    expired: bool
    score: int | None
    nps: int | None


class SurveyAnswer(BaseModel):
    model_config = ConfigDict(extra="forbid")

    score: int = Field(description="1 (poor) to 5 (excellent).")
    comment: CleanText = Field(default="", description="At most 2000 characters.")
    nps: int | None = Field(default=None, description="0-10, when the survey asks the NPS question.")


@router.get("/surveys/config", response_model=SurveyConfig)
def get_config(session: ReadSession, principal: CurrentPrincipal) -> SurveyConfig:
    """The survey configuration: on or off, delay, expiry, NPS, wording per language (admins)."""
    if not principal.is_admin:
        raise Forbidden("only admins may see the survey configuration", code="role_forbidden")
    return surveys.get_config(session=session)


@router.put("/surveys/config", response_model=SurveyConfig)
def put_config(
    session: WriteSession, principal: CurrentPrincipal, data: Annotated[dict[str, Any], Body()]
) -> SurveyConfig:
    """Replace the survey configuration (admins); fields left out take their defaults."""
    config = surveys.set_config(session=session, actor=principal, data=data)
    session.commit()
    return config


@router.get("/tickets/{ticket_id}/survey", response_model=SurveyPublic)
def ticket_survey(ticket_id: IdPath, session: ReadSession, principal: CurrentPrincipal) -> SurveyPublic:
    """The ticket's satisfaction survey: state, how it went out (or why not), and the answer (staff)."""
    survey = surveys.access_survey(session=session, principal=principal, ticket_id=ticket_id)
    return SurveyPublic.model_validate(survey)


def _question(opened: surveys.Opened) -> SurveyQuestion:
    survey, words = opened.survey, opened.words
    return SurveyQuestion(
        ticket_id=survey.ticket_id,
        subject=opened.ticket.subject,
        question=words.question,
        comment_label=words.comment_label,
        nps_question=words.nps_question if survey.with_nps else None,
        state=survey.state,
        expired=opened.expired,
        score=survey.score,
        nps=survey.nps,
    )


@router.get("/surveys/{token}", response_model=SurveyQuestion)
def get_survey(token: TokenPath, session: ReadSession) -> SurveyQuestion:
    """What the survey link asks (no sign-in); 404 ``survey_not_found`` for a token that is not ours."""
    return _question(surveys.open_survey(session=session, token=token))


@router.post("/surveys/{token}", response_model=SurveyQuestion)
def answer_survey(token: TokenPath, data: SurveyAnswer, session: WriteSession) -> SurveyQuestion:
    """Answer the survey (no sign-in); answering again replaces the answer; 409 ``survey_expired``."""
    surveys.answer(session=session, token=token, score=data.score, comment=data.comment, nps=data.nps)
    session.commit()
    return _question(surveys.open_survey(session=session, token=token))
