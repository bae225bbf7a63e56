"""Shapes of articles, search results and the assistant in the API."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from ombud.validation import CleanText, check_text

MAX_BODY_CHARS = 200_000
MAX_QUESTIONS = 50


class Audience(enum.StrEnum):
    public = "public"  # customers: the help centre and the assistant
    internal = "internal"  # agents only
    partner = "partner"  # agents and field partners


class ArticleStatus(enum.StrEnum):
    draft = "draft"
    published = "published"
    archived = "archived"


Title = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), AfterValidator(check_text)
]
Body = Annotated[CleanText, StringConstraints(max_length=MAX_BODY_CHARS)]
Tag = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=60), AfterValidator(check_text)
]
Question = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500), AfterValidator(check_text)
]
Name = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100), AfterValidator(check_text)
]
Language = Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}(?:-[A-Za-z0-9]{2,8})?$")]


class ArticleCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Title
    body: Body = Field(description="Markdown. Rendered safely: raw HTML is sanitised, scripts never run.")
    audience: Audience = Audience.public
    status: ArticleStatus = ArticleStatus.draft
    product: Name | None = None
    language: Language = "en"
    category: Name | None = Field(default=None, description="A category name; created if it is new.")
    tags: list[Tag] = Field(default_factory=list, max_length=30)
    example_questions: list[Question] = Field(
        default_factory=list, max_length=MAX_QUESTIONS, description="Questions this article answers."
    )


class ArticleUpdate(BaseModel):
    """Only the fields given change; every change makes a new version."""

    model_config = ConfigDict(extra="forbid")

    title: Title | None = None
    body: Body | None = None
    audience: Audience | None = None
    status: ArticleStatus | None = None
    product: Name | None = None
    language: Language | None = None
    category: Name | None = None
    tags: list[Tag] | None = Field(default=None, max_length=30)
    example_questions: list[Question] | None = Field(default=None, max_length=MAX_QUESTIONS)
    expected_version: int | None = Field(
        default=None, ge=1, description="Refuse the change (409) if the article has moved on since."
    )


class ArticlePublic(BaseModel):
    id: int
    slug: str
    title: str
    body: str
    body_html: str
    audience: Audience
    status: ArticleStatus
    product: str | None
    language: str
    category: str | None
    tags: list[str]
    example_questions: list[str]
    version: int
    author_id: int | None
    created_at: dt.datetime
    updated_at: dt.datetime
    published_at: dt.datetime | None
    helpful: int
    not_helpful: int


class ArticleVersionPublic(BaseModel):
    version: int
    title: str
    body: str
    status: ArticleStatus
    audience: Audience
    tags: list[str]
    example_questions: list[str]
    author_id: int | None
    created_at: dt.datetime


class SearchHit(BaseModel):
    article_id: int
    title: str
    slug: str
    audience: Audience
    score: float = Field(description="Fused relevance, 0..1.")
    passage: str = Field(description="The passage of the article that matches best.")
    heading: str | None = None
    match: str = Field(description="What matched best: title, question or section.")


class SearchResults(BaseModel):
    query: str
    hits: list[SearchHit]


class CategoryCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    description: Annotated[CleanText, StringConstraints(max_length=2000)] = ""


class CategoryPublic(BaseModel):
    id: int
    name: str
    description: str
    articles: int


class FeedbackCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    helpful: bool
    comment: Annotated[CleanText, StringConstraints(max_length=2000)] | None = None
    ticket_id: int | None = Field(default=None, ge=1, le=2**63 - 1)


class CustomerHint(BaseModel):
    """Who is asking, when known (a signed-in portal customer, a chat visitor who gave an email)."""

    model_config = ConfigDict(extra="forbid")

    id: int | None = Field(default=None, ge=1, le=2**63 - 1)
    email: Annotated[str, StringConstraints(max_length=254)] | None = None
    name: Name | None = None


class AskRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: Annotated[
        str,
        StringConstraints(strip_whitespace=True, min_length=1, max_length=4000),
        AfterValidator(check_text),
    ]
    conversation_id: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{8,64}$")] | None = None
    customer: CustomerHint | None = None
    language: Language | None = None


class CitedArticle(BaseModel):
    id: int
    title: str
    slug: str
    url: str
    passage: str
    score: float


class AskResponse(BaseModel):
    conversation_id: str
    answer: str
    articles: list[CitedArticle]
    confidence: float
    handover: bool
    reason: str | None = Field(
        description="Why the assistant handed over: low_confidence, out_of_scope, asked_for_person, "
        "frustrated, sensitive, repeated_failure, customer_choice, already_handed_over."
    )
    ticket_id: int | None = Field(default=None, description="The ticket a person answers, after a handover.")


class OutcomeCreate(BaseModel):
    """The customer's verdict on the last answer."""

    model_config = ConfigDict(extra="forbid")

    resolved: bool


class ConversationPublic(BaseModel):
    conversation_id: str
    state: str
    turns: list[dict[str, Any]]
    handover_reason: str | None
    ticket_id: int | None
    outcome: str | None
