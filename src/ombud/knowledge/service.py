"""Articles: write, version, publish and read them, with who may see what; categories; feedback; and the
articles suggested for each customer concern.

Who sees what: staff see every article; a field partner sees published public and partner articles; a
customer (and the public help centre) sees published public articles only. Every change makes a new
version and an audit event, and leaves indexing to the ``knowledge.index_article`` job.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from ombud.accounts.models import Role
from ombud.accounts.schemas import Principal
from ombud.audit import service as audit
from ombud.errors import Conflict, Forbidden, NotFound
from ombud.knowledge import index, render
from ombud.knowledge.models import Article, ArticleVersion, Category, Feedback, Suggestion
from ombud.knowledge.schemas import (
    ArticleCreate,
    ArticleStatus,
    ArticleUpdate,
    Audience,
    CategoryCreate,
    FeedbackCreate,
)
from ombud.knowledge.search import Filters
from ombud.storage.base import utcnow
from ombud.storage.queue import defer
from ombud.tickets import service as tickets_service

INDEX_JOB = "knowledge.index_article"
SUGGEST_JOB = tickets_service.SUGGEST_JOB
ALL_AUDIENCES = frozenset(Audience)
PUBLISHED = frozenset({ArticleStatus.published})
_SLUG = re.compile(r"[^a-z0-9]+")


# -- who may see and write -----------------------------------------------------------------------------------
def access_write(*, principal: Principal) -> None:
    if not principal.is_staff:
        raise Forbidden("Writing knowledge base articles is for staff.", code="forbidden")


def reader_filters(principal: Principal | None) -> Filters:
    """The articles ``principal`` may read (None: an anonymous visitor of the help centre)."""
    if principal is not None and principal.is_staff:
        return Filters(audiences=ALL_AUDIENCES, statuses=frozenset(ArticleStatus))
    if principal is not None and principal.kind == "user" and principal.role is Role.partner:
        return Filters(audiences=frozenset({Audience.public, Audience.partner}), statuses=PUBLISHED)
    return Filters(audiences=frozenset({Audience.public}), statuses=PUBLISHED)


def visible(article: Article, filters: Filters) -> bool:
    return article.audience in filters.audiences and article.status in filters.statuses


def get_article(*, session: Session, principal: Principal | None, article_id: int) -> Article:
    article = session.get(Article, article_id)
    if article is None or not visible(article, reader_filters(principal)):
        raise NotFound(f"Article {article_id} does not exist.", code="article_not_found")
    return article


def article_by_slug(*, session: Session, principal: Principal | None, slug: str) -> Article:
    article = session.scalar(select(Article).where(Article.slug == slug))
    if article is None or not visible(article, reader_filters(principal)):
        raise NotFound(f"No article at '{slug}'.", code="article_not_found")
    return article


def list_articles(
    *,
    session: Session,
    principal: Principal | None,
    status: ArticleStatus | None = None,
    audience: Audience | None = None,
    category: str | None = None,
    after_id: int = 0,
    limit: int = 50,
) -> list[Article]:
    """Articles ``principal`` may read, by id, ``limit`` after ``after_id`` (keyset pagination)."""
    filters = reader_filters(principal)
    statement = select(Article).where(
        Article.id > after_id, Article.audience.in_(filters.audiences), Article.status.in_(filters.statuses)
    )
    if status is not None:
        statement = statement.where(Article.status == status)
    if audience is not None:
        statement = statement.where(Article.audience == audience)
    if category is not None:
        statement = statement.join(Category, Category.id == Article.category_id).where(
            Category.name == category
        )
    return list(session.scalars(statement.order_by(Article.id).limit(limit)).all())


# -- writing -------------------------------------------------------------------------------------------------
def slugify(title: str) -> str:
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    return _SLUG.sub("-", ascii_title.lower()).strip("-")[:80] or "article"


def _unique_slug(session: Session, title: str) -> str:
    base = slugify(title)
    taken = set(session.scalars(select(Article.slug).where(Article.slug.like(f"{base}%"))).all())
    if base not in taken:
        return base
    n = 2
    while f"{base}-{n}" in taken:
        n += 1
    return f"{base}-{n}"


def _category_id(session: Session, name: str | None) -> int | None:
    if name is None:
        return None
    category = session.scalar(select(Category).where(Category.name == name))
    if category is None:
        category = Category(name=name)
        session.add(category)
        session.flush()
    return category.id


def create_article(*, session: Session, principal: Principal, data: ArticleCreate) -> Article:
    access_write(principal=principal)
    now = utcnow()
    article = Article(
        slug=_unique_slug(session, data.title),
        title=data.title,
        body=data.body,
        audience=data.audience,
        status=data.status,
        product=data.product,
        language=data.language,
        category_id=_category_id(session, data.category),
        tags=_unique(data.tags),
        example_questions=_unique(data.example_questions),
        version=1,
        author_id=principal.id if principal.kind == "user" else None,
        created_at=now,
        updated_at=now,
        published_at=now if data.status is ArticleStatus.published else None,
    )
    article.content_hash = index.content_hash(article)
    session.add(article)
    session.flush()
    _record_version(session, article)
    audit.record(
        session=session,
        actor=principal,
        action="article.created",
        entity_type="article",
        entity_id=article.id,
        after=_snapshot(article),
    )
    defer(session, INDEX_JOB, article_id=article.id)
    return article


def import_articles(
    *, session: Session, principal: Principal, drafts: Sequence[ArticleCreate]
) -> list[Article]:
    """Create every article of an import in the caller's transaction: all of them, or (on error) none."""
    access_write(principal=principal)
    return [create_article(session=session, principal=principal, data=draft) for draft in drafts]


def update_article(
    *, session: Session, principal: Principal, article_id: int, data: ArticleUpdate
) -> Article:
    access_write(principal=principal)
    article = get_article(session=session, principal=principal, article_id=article_id)
    if data.expected_version is not None and data.expected_version != article.version:
        raise Conflict(
            f"Article {article_id} is at version {article.version}, not {data.expected_version}: someone "
            "changed it meanwhile. Reload it and apply your change again.",
            code="article_version_conflict",
            details={"version": article.version},
        )
    before = _snapshot(article)
    fields = data.model_dump(exclude_unset=True, exclude={"expected_version"})
    for name in ("title", "body", "audience", "status", "product", "language"):
        if name in fields and fields[name] is not None:
            setattr(article, name, fields[name])
    if "product" in fields and fields["product"] is None:
        article.product = None
    if "category" in fields:
        article.category_id = _category_id(session, fields["category"])
    if fields.get("tags") is not None:
        article.tags = _unique(fields["tags"])
    if fields.get("example_questions") is not None:
        article.example_questions = _unique(fields["example_questions"])
    after = _snapshot(article)
    if after == before:
        return article
    if article.status is ArticleStatus.published and article.published_at is None:
        article.published_at = utcnow()
    article.version += 1
    article.updated_at = utcnow()
    article.author_id = principal.id if principal.kind == "user" else article.author_id
    new_hash = index.content_hash(article)
    if new_hash != article.content_hash:
        article.content_hash = new_hash
        defer(session, INDEX_JOB, article_id=article.id)
    _record_version(session, article)
    audit.record(
        session=session,
        actor=principal,
        action="article.updated",
        entity_type="article",
        entity_id=article.id,
        before=before,
        after=after,
    )
    return article


def _unique(items: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _record_version(session: Session, article: Article) -> None:
    session.add(
        ArticleVersion(
            article_id=article.id,
            version=article.version,
            title=article.title,
            body=article.body,
            status=article.status,
            audience=article.audience,
            tags=list(article.tags),
            example_questions=list(article.example_questions),
            author_id=article.author_id,
            created_at=article.updated_at,
        )
    )


def _snapshot(article: Article) -> dict[str, Any]:
    return {
        "title": article.title,
        "body_sha256": index.content_hash(article),
        "audience": str(article.audience),
        "status": str(article.status),
        "product": article.product,
        "language": article.language,
        "category_id": article.category_id,
        "tags": list(article.tags),
        "example_questions": list(article.example_questions),
    }


def versions(*, session: Session, principal: Principal, article_id: int) -> list[ArticleVersion]:
    access_write(principal=principal)
    get_article(session=session, principal=principal, article_id=article_id)
    return list(
        session.scalars(
            select(ArticleVersion)
            .where(ArticleVersion.article_id == article_id)
            .order_by(ArticleVersion.version)
        ).all()
    )


def category_names(*, session: Session, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = session.execute(select(Category.id, Category.name).where(Category.id.in_(ids))).all()
    return {int(row[0]): str(row[1]) for row in rows}


def to_public(article: Article, category: str | None) -> dict[str, Any]:
    return {
        "id": article.id,
        "slug": article.slug,
        "title": article.title,
        "body": article.body,
        "body_html": _html(article.body),
        "audience": article.audience,
        "status": article.status,
        "product": article.product,
        "language": article.language,
        "category": category,
        "tags": article.tags,
        "example_questions": article.example_questions,
        "version": article.version,
        "author_id": article.author_id,
        "created_at": article.created_at,
        "updated_at": article.updated_at,
        "published_at": article.published_at,
        "helpful": article.helpful,
        "not_helpful": article.not_helpful,
    }


@functools.lru_cache(maxsize=256)
def _html(body: str) -> str:
    # Rendering is pure Python and a hostile body may take a second: each body is rendered once.
    return render.render_markdown(body)


def public_many(*, session: Session, articles: Sequence[Article]) -> list[dict[str, Any]]:
    names = category_names(session=session, ids={a.category_id for a in articles if a.category_id})
    return [to_public(a, names.get(a.category_id) if a.category_id else None) for a in articles]


# -- categories ----------------------------------------------------------------------------------------------
def create_category(*, session: Session, principal: Principal, data: CategoryCreate) -> Category:
    access_write(principal=principal)
    if session.scalar(select(Category.id).where(Category.name == data.name)) is not None:
        raise Conflict(f"A category named '{data.name}' exists already.", code="category_exists")
    category = Category(name=data.name, description=data.description)
    session.add(category)
    session.flush()
    return category


def list_categories(*, session: Session, principal: Principal | None) -> list[dict[str, Any]]:
    filters = reader_filters(principal)
    counts = {
        row[0]: int(row[1])
        for row in session.execute(
            select(Article.category_id, func.count())
            .where(Article.audience.in_(filters.audiences), Article.status.in_(filters.statuses))
            .group_by(Article.category_id)
        ).all()
    }
    categories = session.scalars(select(Category).order_by(Category.name)).all()
    staff = principal is not None and principal.is_staff
    # A category shows to readers only when it holds something they may read: its name alone may say
    # what internal articles are about.
    return [
        {"id": c.id, "name": c.name, "description": c.description, "articles": counts.get(c.id, 0)}
        for c in categories
        if staff or counts.get(c.id, 0)
    ]


# -- feedback ------------------------------------------------------------------------------------------------
def add_feedback(
    *,
    session: Session,
    principal: Principal | None,
    article_id: int,
    data: FeedbackCreate,
    customer_id: int | None = None,
) -> Feedback:
    article = get_article(session=session, principal=principal, article_id=article_id)
    staff = principal is not None and principal.is_staff
    if staff and data.ticket_id is not None:
        assert principal is not None
        # The ticket the article was used on: it must exist and be the agent's to see (404 otherwise).
        tickets_service.access_ticket(session=session, principal=principal, ticket_id=data.ticket_id)
    if principal is not None and principal.is_customer:
        customer_id = principal.id
    feedback = Feedback(
        article_id=article.id,
        helpful=data.helpful,
        source="agent" if staff else "customer",
        user_id=principal.id if principal is not None and principal.kind == "user" else None,
        customer_id=customer_id,
        ticket_id=data.ticket_id if staff else None,
        comment=data.comment,
    )
    session.add(feedback)
    # Counted in SQL: two votes at once must both count.
    column = "helpful" if data.helpful else "not_helpful"
    session.execute(
        update(Article).where(Article.id == article.id).values({column: getattr(Article, column) + 1})
    )
    session.flush()
    return feedback


# -- suggestions for tickets ---------------------------------------------------------------------------------
def suggestions_for_ticket(*, session: Session, ticket_id: int) -> list[Suggestion]:
    return list(
        session.scalars(
            select(Suggestion)
            .where(Suggestion.ticket_id == ticket_id, Suggestion.article_id.is_not(None))
            .order_by(Suggestion.message_id, Suggestion.concern_index, Suggestion.rank)
        ).all()
    )


def articles_by_id(*, session: Session, ids: set[int]) -> list[Article]:
    if not ids:
        return []
    return list(session.scalars(select(Article).where(Article.id.in_(ids))).all())
