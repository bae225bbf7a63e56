"""/api/v1/kb (articles, categories, search, import, gaps, stale articles), /api/v1/tickets/{id}/suggestions
and /api/v1/assistant (the self-service assistant).

Reading and searching published public articles, and asking the assistant, need no token (the help
centre and the chat widget call them from customers' browsers); a token shows what its role may see.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, UploadFile
from pydantic import BaseModel

from ombud.accounts.schemas import Principal
from ombud.channels import service as channels
from ombud.errors import InvalidInput, PayloadTooLarge
from ombud.knowledge import assistant, importer, learning
from ombud.knowledge import service as knowledge
from ombud.knowledge.schemas import (
    ArticleCreate,
    ArticlePublic,
    ArticleStatus,
    ArticleUpdate,
    ArticleVersionPublic,
    AskRequest,
    AskResponse,
    Audience,
    CategoryCreate,
    CategoryPublic,
    ConversationPublic,
    FeedbackCreate,
    OutcomeCreate,
    SearchHit,
    SearchResults,
)
from ombud.knowledge.search import Filters
from ombud.tickets import service as tickets
from ombud.tickets.models import Channel
from ombud.web.api.common import IdPath
from ombud.web.deps import (
    CurrentPrincipal,
    ReadSession,
    RuntimeDep,
    SessionDep,
    WriteSession,
    principal_if_any,
)

router = APIRouter(tags=["knowledge"])
MAX_IMPORT_BYTES = 60 * 1024 * 1024
FEEDBACK_LIMIT = 30  # anonymous votes per client address in 10 minutes (as the help centre's form)


def optional_principal(request: Request, session: SessionDep) -> Principal | None:
    return principal_if_any(request, session)


MaybePrincipal = Annotated[Principal | None, Depends(optional_principal)]


class ArticlePage(BaseModel):
    items: list[ArticlePublic]
    next_after: int | None


class ImportResult(BaseModel):
    created: list[ArticlePublic]


class SuggestionPublic(BaseModel):
    message_id: int
    concern_index: int
    concern: str
    intent: str | None
    rank: int
    article_id: int
    title: str
    passage: str | None
    score: float


class GapPublic(BaseModel):
    title: str
    questions: list[str]
    asked: int
    customers: int
    intents: list[str]
    best_article_id: int | None
    best_score: float
    tickets: list[int]
    draft: str | None


class StalePublic(BaseModel):
    article_id: int
    title: str
    reasons: list[str]


# -- articles ------------------------------------------------------------------------------------------------
@router.post("/kb/articles", response_model=ArticlePublic, status_code=201)
def create_article(data: ArticleCreate, session: WriteSession, principal: CurrentPrincipal) -> Any:
    """Write an article (staff). It is searchable once the index job has embedded it (seconds)."""
    article = knowledge.create_article(session=session, principal=principal, data=data)
    # Built before the commit: a query after it would begin a second write transaction.
    body = knowledge.public_many(session=session, articles=[article])[0]
    session.commit()
    return body


@router.get("/kb/articles", response_model=ArticlePage)
def list_articles(
    session: ReadSession,
    principal: MaybePrincipal,
    status: ArticleStatus | None = None,
    audience: Audience | None = None,
    category: Annotated[str | None, Query(max_length=100)] = None,
    after: Annotated[int, Query(ge=0, le=2**63 - 1)] = 0,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Any:
    """Articles the caller may read, by id; pass `next_after` back as `after` for the next page."""
    items = knowledge.list_articles(
        session=session,
        principal=principal,
        status=status,
        audience=audience,
        category=category,
        after_id=after,
        limit=limit,
    )
    next_after = items[-1].id if len(items) == limit else None
    return {"items": knowledge.public_many(session=session, articles=items), "next_after": next_after}


@router.get("/kb/articles/{article_id}", response_model=ArticlePublic)
def get_article(article_id: IdPath, session: ReadSession, principal: MaybePrincipal) -> Any:
    article = knowledge.get_article(session=session, principal=principal, article_id=article_id)
    return knowledge.public_many(session=session, articles=[article])[0]


@router.patch("/kb/articles/{article_id}", response_model=ArticlePublic)
def update_article(
    article_id: IdPath, data: ArticleUpdate, session: WriteSession, principal: CurrentPrincipal
) -> Any:
    """Change an article (staff); every change is a new version. `expected_version` guards against
    overwriting someone else's edit (409 `article_version_conflict`)."""
    article = knowledge.update_article(session=session, principal=principal, article_id=article_id, data=data)
    body = knowledge.public_many(session=session, articles=[article])[0]
    session.commit()
    return body


@router.get("/kb/articles/{article_id}/versions", response_model=list[ArticleVersionPublic])
def article_versions(article_id: IdPath, session: ReadSession, principal: CurrentPrincipal) -> Any:
    return knowledge.versions(session=session, principal=principal, article_id=article_id)


@router.post("/kb/articles/{article_id}/feedback", status_code=204)
def article_feedback(
    article_id: IdPath,
    data: FeedbackCreate,
    request: Request,
    session: WriteSession,
    principal: MaybePrincipal,
) -> None:
    """Helpful or not, from a reader (no token) or an agent (with the ticket it was used on). Without a
    token one client address may vote FEEDBACK_LIMIT times in 10 minutes (429)."""
    if principal is None:
        client = request.client.host if request.client else "unknown"
        channels.check_rate(session=session, key=f"kb-feedback:{client}", limit=FEEDBACK_LIMIT)
    knowledge.add_feedback(session=session, principal=principal, article_id=article_id, data=data)
    session.commit()


@router.post("/kb/import", response_model=ImportResult, status_code=201)
def import_articles(file: UploadFile, session: WriteSession, principal: CurrentPrincipal) -> Any:
    """Import articles from a .json, .jsonl, .md or .zip file: all of them, or none (422
    `kb_import_invalid` naming each bad article)."""
    knowledge.access_write(principal=principal)
    data = file.file.read(MAX_IMPORT_BYTES + 1)
    if len(data) > MAX_IMPORT_BYTES:
        raise PayloadTooLarge(
            f"an import file holds at most {MAX_IMPORT_BYTES} bytes", code="import_too_large"
        )
    drafts = importer.parse_bundle(data, filename=file.filename or "")
    created = knowledge.import_articles(session=session, principal=principal, drafts=drafts)
    body = {"created": knowledge.public_many(session=session, articles=created)}
    session.commit()
    return body


# -- categories ----------------------------------------------------------------------------------------------
@router.get("/kb/categories", response_model=list[CategoryPublic])
def list_categories(session: ReadSession, principal: MaybePrincipal) -> Any:
    """Categories, each with how many articles the caller may read in it."""
    return knowledge.list_categories(session=session, principal=principal)


@router.post("/kb/categories", response_model=CategoryPublic, status_code=201)
def create_category(data: CategoryCreate, session: WriteSession, principal: CurrentPrincipal) -> Any:
    category = knowledge.create_category(session=session, principal=principal, data=data)
    session.commit()
    return {"id": category.id, "name": category.name, "description": category.description, "articles": 0}


# -- search --------------------------------------------------------------------------------------------------
@router.get("/kb/search", response_model=SearchResults)
def search(
    session: ReadSession,
    principal: MaybePrincipal,
    runtime: RuntimeDep,
    q: Annotated[str, Query(min_length=1, max_length=1000)],
    limit: Annotated[int, Query(ge=1, le=50)] = 10,
    audience: Audience | None = None,
    product: Annotated[str | None, Query(max_length=100)] = None,
    language: Annotated[str | None, Query(pattern=r"^[a-z]{2,3}(?:-[A-Za-z0-9]{2,8})?$")] = None,
) -> Any:
    """Hybrid search (full text and meaning) over the published articles the caller may read: ranked
    articles with a 0-1 score and the passage that matches best."""
    if "\x00" in q:
        raise InvalidInput("the query must not contain NUL characters", code="invalid_query")
    allowed = knowledge.reader_filters(principal)
    audiences = allowed.audiences & {audience} if audience is not None else allowed.audiences
    filters = Filters(
        audiences=frozenset(audiences), statuses=knowledge.PUBLISHED, product=product, language=language
    )
    hits = runtime.knowledge.search(session, q, filters=filters, limit=limit)
    return SearchResults(
        query=q,
        hits=[
            SearchHit(
                article_id=h.article_id,
                title=h.title,
                slug=h.slug,
                audience=h.audience,
                score=h.score,
                passage=h.passage,
                heading=h.heading,
                match=h.match,
            )
            for h in hits
        ],
    )


@router.get("/tickets/{ticket_id}/suggestions", response_model=list[SuggestionPublic])
def ticket_suggestions(ticket_id: IdPath, session: ReadSession, principal: CurrentPrincipal) -> Any:
    """Articles suggested for each concern of the ticket's customer messages, with the matching passage
    (written by a background job after triage)."""
    knowledge.access_write(principal=principal)
    tickets.access_ticket(session=session, principal=principal, ticket_id=ticket_id)
    rows = knowledge.suggestions_for_ticket(session=session, ticket_id=ticket_id)
    titles = {
        a.id: a.title
        for a in knowledge.articles_by_id(session=session, ids={r.article_id for r in rows if r.article_id})
    }
    return [
        SuggestionPublic(
            message_id=r.message_id,
            concern_index=r.concern_index,
            concern=r.concern_text,
            intent=r.intent,
            rank=r.rank,
            article_id=r.article_id,
            title=titles.get(r.article_id, ""),
            passage=r.passage,
            score=r.score,
        )
        for r in rows
        if r.article_id is not None
    ]


# -- the learning loop ---------------------------------------------------------------------------------------
@router.get("/kb/gaps", response_model=list[GapPublic])
def knowledge_gaps(
    session: ReadSession,
    principal: CurrentPrincipal,
    days: Annotated[int, Query(ge=1, le=365)] = 90,
    min_asked: Annotated[int, Query(ge=1, le=1000)] = 2,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> Any:
    """What customers ask that no article answers well, grouped, most customers first, each with example
    questions and, where agents resolved such tickets, their reply as a starting draft."""
    knowledge.access_write(principal=principal)
    return learning.gaps(session=session, days=days, min_asked=min_asked, limit=limit)


@router.get("/kb/stale", response_model=list[StalePublic])
def stale_articles(
    session: ReadSession, principal: CurrentPrincipal, days: Annotated[int, Query(ge=1, le=365)] = 30
) -> Any:
    """Articles to review, with why (suggestions stopped resolving tickets, unhelpful, failing answers)."""
    knowledge.access_write(principal=principal)
    return learning.stale_articles(session=session, days=days)


# -- the assistant -------------------------------------------------------------------------------------------
@router.post("/assistant/ask", response_model=AskResponse)
def ask(data: AskRequest, request: Request, runtime: RuntimeDep) -> Any:
    """Ask the self-service assistant. It answers from published public articles, citing them, or hands
    over to a person (a ticket with the conversation, its triage and the reason). Without a token one
    client address may ask OMBUD_ASSISTANT_RATE_LIMIT times in 10 minutes (429)."""
    database = runtime.database
    # Three short transactions, so that the slow middle (triage, embedding, search, an answer model)
    # holds no write lock: on SQLite one writer at a time serves every channel.
    with database.session() as session:
        principal = principal_if_any(request, session)
        if principal is None:
            client = request.client.host if request.client else "unknown"
            channels.check_rate(
                session=session, key=f"assistant:{client}", limit=runtime.settings.assistant_rate_limit
            )
        if data.conversation_id is not None:
            conversation_id = assistant.find_conversation(session, data.conversation_id).id
        else:
            customer_id = assistant.customer_for(session, principal=principal, hint=data.customer)
            conversation_id = assistant.start(session, channel="api", customer_id=customer_id).id
        session.commit()
    with database.session(write=False) as reader:
        thought = assistant.think(
            reader,
            searcher=runtime.knowledge,
            engine=runtime.triage,
            config=runtime.assistant,
            conversation_id=conversation_id,
            text=data.text,
            language=data.language,
        )
    with database.session() as session:
        conversation = assistant.get_conversation(session, conversation_id)
        reply = assistant.ask(
            session,
            conversation=conversation,
            thought=thought,
            open_ticket=assistant.web_ticket_opener(session, hint=data.customer, channel=Channel.web),
        )
        response = _response(reply)
        session.commit()
    return response


@router.post("/assistant/conversations/{conversation_id}/outcome", response_model=AskResponse)
def outcome(conversation_id: str, data: OutcomeCreate, session: WriteSession, runtime: RuntimeDep) -> Any:
    """The customer's verdict on the last answer: resolved, or not (the second failure hands over)."""
    conversation = assistant.find_conversation(session, conversation_id)
    reply = assistant.record_outcome(
        session,
        conversation=conversation,
        resolved=data.resolved,
        open_ticket=assistant.web_ticket_opener(session, hint=None, channel=Channel.web),
    )
    session.commit()
    return _response(reply)


@router.post("/assistant/conversations/{conversation_id}/handover", response_model=AskResponse)
def handover(conversation_id: str, session: WriteSession) -> Any:
    """The customer chose a person: always possible, whatever the assistant thought."""
    conversation = assistant.find_conversation(session, conversation_id)
    reply = assistant.choose_person(
        session,
        conversation=conversation,
        open_ticket=assistant.web_ticket_opener(session, hint=None, channel=Channel.web),
    )
    session.commit()
    return _response(reply)


@router.get("/assistant/conversations/{conversation_id}", response_model=ConversationPublic)
def get_conversation(conversation_id: str, session: ReadSession) -> Any:
    conversation = assistant.find_conversation(session, conversation_id)
    return assistant.conversation_view(session, conversation)


@router.get("/assistant/metrics")
def metrics(
    session: ReadSession, principal: CurrentPrincipal, days: Annotated[int, Query(ge=1, le=365)] = 30
) -> dict[str, Any]:
    """Resolutions confirmed, resolutions assumed, handovers by reason and durable resolutions, apart."""
    knowledge.access_write(principal=principal)
    return learning.assistant_metrics(session=session, days=days)


def _response(reply: assistant.Reply) -> AskResponse:
    return AskResponse.model_validate(
        {
            "conversation_id": reply.conversation.public_id,
            "answer": reply.answer,
            "articles": [
                {
                    "id": h.article_id,
                    "title": h.title,
                    "slug": h.slug,
                    "url": f"/help/{h.slug}",
                    "passage": h.passage,
                    "score": h.score,
                }
                for h in (reply.hits[:3] if not reply.handover else [])
            ],
            "confidence": round(reply.confidence, 4),
            "handover": reply.handover,
            "reason": reply.reason,
            "ticket_id": reply.conversation.ticket_id if reply.handover else None,
        }
    )
