"""Server-rendered pages. The agent workspace and the customer portal come with their own issue; for now
the start page says what is running and where to go, the contact form takes requests, and the help centre
(/help) shows the published public articles of the knowledge base, with search and a helpful-or-not vote."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi import Path as PathParam
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from pydantic import ValidationError
from sqlalchemy.orm import Session

from ombud import __version__
from ombud.channels import service as channels
from ombud.channels.form import service as form_channel
from ombud.errors import OmbudError, TooManyRequests
from ombud.knowledge import service as knowledge
from ombud.knowledge.models import Article
from ombud.knowledge.schemas import FeedbackCreate
from ombud.runtime import Runtime
from ombud.tickets.service import NewAttachment, check_attachment_count, check_attachment_size
from ombud.web.api.forms import submit_form
from ombud.web.deps import ReadSession, RuntimeDep, WriteSession

TEMPLATES = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html"]),
)

router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
def index(request: Request) -> HTMLResponse:
    database = request.app.state.runtime.database.dialect
    return HTMLResponse(TEMPLATES.get_template("index.html").render(version=__version__, database=database))


@router.get("/contact", response_class=HTMLResponse)
def contact_form() -> HTMLResponse:
    return HTMLResponse(TEMPLATES.get_template("contact.html").render(form={}, reference=None))


@router.post("/contact", response_class=HTMLResponse)
async def contact_submit(
    request: Request,
    email: Annotated[str, Form()] = "",
    subject: Annotated[str, Form()] = "",
    message: Annotated[str, Form()] = "",
    name: Annotated[str, Form()] = "",
    website: Annotated[str, Form()] = "",
    files: Annotated[list[UploadFile] | None, File()] = None,
) -> HTMLResponse:
    """The form's post: the confirmation with the ticket reference, or the form again with what to fix."""
    runtime: Runtime = request.app.state.runtime
    values = {"name": name, "email": email, "subject": subject, "message": message}
    uploads = [upload for upload in files or [] if upload.filename]
    try:
        form = form_channel.ContactForm(
            name=name or None, email=email, subject=subject, message=message, website=website
        )
        attachments = await _read_uploads(uploads, runtime)
        submitted = await run_in_threadpool(submit_form, runtime, form, attachments, _client(request))
    except ValidationError as error:
        first = error.errors()[0]
        problem = f"{'.'.join(str(part) for part in first['loc'])}: {first['msg']}"
        return _form_again(values, problem, 422)
    except OmbudError as error:
        return _form_again(values, error.message, error.status)
    page = TEMPLATES.get_template("contact.html").render(
        form=values, reference=submitted.reference, email=email
    )
    return HTMLResponse(page, status_code=201)


def _form_again(values: dict[str, str], error: str, status: int) -> HTMLResponse:
    page = TEMPLATES.get_template("contact.html").render(form=values, reference=None, error=error)
    return HTMLResponse(page, status_code=status)


async def _read_uploads(uploads: list[UploadFile], runtime: Runtime) -> list[NewAttachment]:
    limits = runtime.limits
    check_attachment_count(len(uploads), limits)
    read = []
    for position, upload in enumerate(uploads):
        # Never more than one byte over the limit in memory: enough to know it is too large.
        content = await upload.read(limits.max_attachment_bytes + 1)
        filename = (upload.filename or "file")[:255]
        check_attachment_size(filename, len(content), position, limits)
        read.append(
            NewAttachment(
                filename=filename,
                content_type=upload.content_type or "application/octet-stream",
                content=content,
            )
        )
    return read


# -- the help centre ---------------------------------------------------------------------------------------
# Anonymous readers: only published public articles (knowledge.reader_filters(None)); the rest is a 404.
HELP_ARTICLES_MAX = 1000
HELP_MIN_SCORE = 0.5
HELP_RESULTS = 10
VOTES_PER_ADDRESS = 30  # helpful-or-not votes one address may give in 10 minutes


@router.get("/help", response_class=HTMLResponse)
def help_centre(
    session: ReadSession,
    runtime: RuntimeDep,
    q: Annotated[str, Query(max_length=1000)] = "",
) -> HTMLResponse:
    """The categories with their articles; with ``q``, the articles that answer it (hybrid search), each
    with its best-matching passage."""
    query = q.replace("\x00", "").strip()
    results = None
    if query:
        hits = runtime.knowledge.search(
            session, query, filters=knowledge.reader_filters(None), limit=HELP_RESULTS
        )
        # A search page shows what is related, not only what the assistant would answer with. Questions
        # about something else entirely (the weather on Mars, a recipe) score about 0.2 against the
        # benchmark's bank articles; a near miss ("my parcel hasn't arrived" -> card delivery) about 0.5.
        results = [hit for hit in hits if hit.score >= HELP_MIN_SCORE]
    page = TEMPLATES.get_template("help.html").render(
        query=query, results=results, sections=[] if query else _help_sections(session)
    )
    return HTMLResponse(page)


def _help_sections(session: Session) -> list[dict[str, Any]]:
    """The categories that hold published public articles, by name, then the articles in none."""
    articles: list[Article] = []
    while len(articles) < HELP_ARTICLES_MAX:
        page = knowledge.list_articles(
            session=session, principal=None, after_id=articles[-1].id if articles else 0, limit=200
        )
        articles += page
        if len(page) < 200:
            break
    by_category: dict[int | None, list[Article]] = {}
    for article in sorted(articles, key=lambda a: a.title.casefold()):
        by_category.setdefault(article.category_id, []).append(article)
    sections = [
        {
            "name": category["name"],
            "description": category["description"],
            "articles": by_category[category["id"]],
        }
        for category in knowledge.list_categories(session=session, principal=None)
        if by_category.get(category["id"])
    ]
    if by_category.get(None):
        sections.append(
            {
                "name": "More articles" if sections else "Articles",
                "description": "",
                "articles": by_category[None],
            }
        )
    return sections


@router.get("/help/{slug}", response_class=HTMLResponse)
def help_article(
    slug: Annotated[str, PathParam(max_length=120)], session: ReadSession, voted: str | None = None
) -> HTMLResponse:
    """One article (404 unless published and public), with the helpful-or-not vote."""
    article = knowledge.article_by_slug(session=session, principal=None, slug=slug)
    (shown,) = knowledge.public_many(session=session, articles=[article])
    page = TEMPLATES.get_template("help-article.html").render(
        article=shown, voted=voted in {"yes", "no"}, view=secrets.token_urlsafe(12)
    )
    return HTMLResponse(page)


@router.post("/help/{slug}/feedback")
def help_feedback(
    slug: Annotated[str, PathParam(max_length=120)],
    request: Request,
    session: WriteSession,
    helpful: Annotated[str, Form(pattern="^(yes|no)$")],
    view: Annotated[str, Form(min_length=8, max_length=40)],
) -> RedirectResponse:
    """A reader's vote: counted once per page view (the form's ``view``), then back to the article."""
    article = knowledge.article_by_slug(session=session, principal=None, slug=slug)
    try:
        # A page view votes once: the same form sent again (a double click, a reload) is not counted.
        channels.check_rate(session=session, key=f"help-vote-view:{view}", limit=1)
        channels.check_rate(session=session, key=f"help-vote:{_client(request)}", limit=VOTES_PER_ADDRESS)
    except TooManyRequests:
        session.rollback()
    else:
        knowledge.add_feedback(
            session=session,
            principal=None,
            article_id=article.id,
            data=FeedbackCreate(helpful=helpful == "yes"),
        )
        session.commit()
    return RedirectResponse(f"/help/{article.slug}?voted={helpful}", status_code=303)


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def render_error(*, status: int, code: str, message: str) -> str:
    return TEMPLATES.get_template("error.html").render(status=status, code=code, message=message)
