"""/api/v1/tickets/{id}/draft and /check, /api/v1/assist: reply assistance for agents (staff only)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from sqlalchemy.orm import Session

from ombud.accounts.schemas import Principal
from ombud.assist import service as assist
from ombud.assist import tone
from ombud.assist.draft import draft_reply
from ombud.assist.schemas import (
    CheckRequest,
    CheckResult,
    Draft,
    Glossary,
    GlossaryPublic,
    GlossaryTermPublic,
    RewriteRequest,
    RewriteResult,
    Voice,
    VoicePublic,
    VoiceRulePublic,
)
from ombud.web.api.common import IdPath
from ombud.web.deps import CurrentPrincipal, ReadSession, RuntimeDep, WriteSession, current_principal

router = APIRouter(tags=["assist"])


def reader_session(runtime: RuntimeDep) -> Iterator[Session]:
    # Draft, check and rewrite are POSTs that only read. The check runs as the agent types and the draft
    # may wait on a model: neither may hold SQLite's one write lock meanwhile, as a POST's session would.
    with runtime.database.session(write=False) as session:
        yield session


OnlyReads = Annotated[Session, Depends(reader_session)]


def reader_principal(request: Request, session: OnlyReads) -> Principal:
    return current_principal(request, session)


ReaderPrincipal = Annotated[Principal, Depends(reader_principal)]


@router.post("/tickets/{ticket_id}/draft", response_model=Draft)
def draft(ticket_id: IdPath, session: OnlyReads, principal: ReaderPrincipal, runtime: RuntimeDep) -> Draft:
    """A drafted reply to the customer's latest messages, for the agent to edit (nothing is stored)."""
    context = assist.reply_context(session=session, principal=principal, ticket_id=ticket_id)
    # The read ends before the drafting: with a model configured it can take seconds, and an open
    # transaction would hold a pooled connection (PostgreSQL) or hold back WAL checkpoints (SQLite).
    session.rollback()
    return draft_reply(context, config=runtime.assistant)


@router.post("/tickets/{ticket_id}/check", response_model=CheckResult)
def check(
    ticket_id: IdPath, body: CheckRequest, session: OnlyReads, principal: ReaderPrincipal
) -> CheckResult:
    """The reply check's findings on a reply being written (dismissed ones left out) and its grade."""
    return assist.check_ticket_reply(
        session=session, principal=principal, ticket_id=ticket_id, text=body.text, dismissed=body.dismissed
    )


@router.post("/assist/rewrite", response_model=RewriteResult)
def rewrite(
    body: RewriteRequest, session: OnlyReads, principal: ReaderPrincipal, runtime: RuntimeDep
) -> RewriteResult:
    """The text in another tone: ``friendlier``, ``formal`` or ``simpler``."""
    terms = assist.glossary_terms(session=session, principal=principal)
    session.rollback()  # as for the draft: no transaction stays open while a model rewrites
    return RewriteResult(text=tone.rewrite(body.text, body.tone, glossary=terms, config=runtime.assistant))


@router.get("/assist/glossary", response_model=GlossaryPublic)
def get_glossary(session: ReadSession, principal: CurrentPrincipal) -> GlossaryPublic:
    """The company glossary: terms customers may not know and the plain words to use."""
    rows = assist.list_glossary(session=session, principal=principal)
    return GlossaryPublic(terms=[GlossaryTermPublic.model_validate(r) for r in rows])


@router.put("/assist/glossary", response_model=GlossaryPublic)
def put_glossary(body: Glossary, session: WriteSession, principal: CurrentPrincipal) -> GlossaryPublic:
    """Replace the glossary (admins)."""
    rows = assist.replace_glossary(session=session, principal=principal, terms=body.terms)
    result = GlossaryPublic(terms=[GlossaryTermPublic.model_validate(r) for r in rows])
    session.commit()
    return result


@router.get("/assist/voice", response_model=VoicePublic)
def get_voice(session: ReadSession, principal: CurrentPrincipal) -> VoicePublic:
    """The company's style guide: phrases to avoid and what to say instead."""
    rows = assist.list_voice(session=session, principal=principal)
    return VoicePublic(rules=[VoiceRulePublic.model_validate(r) for r in rows])


@router.put("/assist/voice", response_model=VoicePublic)
def put_voice(body: Voice, session: WriteSession, principal: CurrentPrincipal) -> VoicePublic:
    """Replace the style guide (admins)."""
    rows = assist.replace_voice(session=session, principal=principal, rules=body.rules)
    result = VoicePublic(rules=[VoiceRulePublic.model_validate(r) for r in rows])
    session.commit()
    return result
