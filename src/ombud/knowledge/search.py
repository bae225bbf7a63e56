"""Hybrid search over the knowledge base: the full-text index and the vector index each propose passages,
and every proposed passage is scored both ways, so an article found only by its words (an error code, a
product name) still gets its semantic score, and one found only by meaning still counts its words.

The full-text side reads only the query's rare words (held by under 0.5% of passages): a common word says
little about which article is meant, and ranking every passage that holds it would make a search cost time
in proportion to the knowledge base. Meaning carries the common words.

An article scores ``(1 - LEXICAL_WEIGHT) * cosine + LEXICAL_WEIGHT * lexical``: ``cosine`` is a weighted
mean of its three best passages' similarities (PASSAGE_WEIGHTS), ``lexical`` its best passage's BM25
(SQLite) or ts_rank_cd (PostgreSQL) relative to the best in this search. The passage shown is the
best-matching section of the article's body, cut around the query's words.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from ombud.knowledge import render
from ombud.knowledge.index import VectorIndex, pg_config
from ombud.knowledge.models import Article, Passage, PassageKind
from ombud.knowledge.schemas import ArticleStatus, Audience
from ombud.storage.db import Database
from ombud.triage.embed import Embedder

log = logging.getLogger(__name__)

LEXICAL_WEIGHT = 0.1
VECTOR_CANDIDATES = 60
LEXICAL_CANDIDATES = 40
RERANK_ARTICLES = 20
# The raw full-text score at which the lexical part is one half (it saturates towards 1).
LEXICAL_HALF = 10.0
# An article scores by its three best passages, the best counting most: an article several of whose
# questions and sections match is likelier the one meant than one with a single lucky match.
PASSAGE_WEIGHTS = (1.0, 0.3, 0.2)
# A word counts for the full-text side when fewer passages than this contain it: 0.5% of the passages,
# at least RARE_FLOOR (a small knowledge base), at most RARE_CAP (bounds the work of a search).
RARE_FLOOR = 50
RARE_CAP = 2000
MAX_TERMS = 24
_WORD = re.compile(r"\w+", re.UNICODE)
# Words that say nothing about which article is meant; they would only slow the full-text search down.
STOPWORDS = frozenset(
    """
a about after again all am an and any are as at be been before being but by can could did do does
doing don for from get got had has have having he her here him his how i if in into is it its just
me more my myself no not now of on once only or other our out over own same she should so some such
than that the their them then there these they this those through to too under until up very was we
were what when where which while who why will with would you your yours please hi hello thanks thank
i'm im ive can't cant want need help
""".split()  # noqa: SIM905
)


@dataclass(frozen=True)
class Filters:
    audiences: frozenset[Audience] = frozenset({Audience.public})
    statuses: frozenset[ArticleStatus] = frozenset({ArticleStatus.published})
    product: str | None = None
    language: str | None = None


@dataclass
class Hit:
    article_id: int
    title: str
    slug: str
    audience: Audience
    score: float
    vector_score: float
    lexical_score: float
    match: str
    passage: str = ""  # the best section, cut around the query's words (for a list of results)
    heading: str | None = None
    section: str = ""  # the best section whole (what an answer quotes)
    passage_ids: list[int] = field(default_factory=list)


def query_terms(query: str) -> list[str]:
    words = [w.lower() for w in _WORD.findall(query)]
    kept = [w for w in words if w not in STOPWORDS and len(w) > 1]
    return list(dict.fromkeys(kept))[:MAX_TERMS]


class Searcher:
    """Searches one database's knowledge base; holds the process's vector index for it."""

    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder
        self.index = VectorIndex(embedder.dimensions)

    def warm(self, database: Database) -> None:
        """Load the encoder and the vector index now (a server does this at start-up, beside serving, so
        the first customer's search does not wait for 400,000 vectors to load)."""
        try:
            self.embedder.embed_batch(["warm up"])
            with database.session(write=False) as session:
                self.index.sync(session)
        except Exception:  # a failed warm-up only means that the first search loads instead
            log.warning("could not load the knowledge base's vector index at start-up", exc_info=True)

    def search(self, session: Session, query: str, *, filters: Filters, limit: int = 5) -> list[Hit]:
        return self.search_many(session, [query], filters=filters, limit=limit)[0]

    def search_many(
        self, session: Session, queries: Sequence[str], *, filters: Filters, limit: int = 5
    ) -> list[list[Hit]]:
        """Search each query (one embedding batch for all of them)."""
        if not queries:
            return []
        self.index.sync(session)
        vectors = self.embedder.embed_batch(list(queries))
        return [
            self._search_one(session, query, vector, filters, limit)
            for query, vector in zip(queries, vectors, strict=True)
        ]

    def _search_one(
        self, session: Session, query: str, vector: np.ndarray, filters: Filters, limit: int
    ) -> list[Hit]:
        terms = query_terms(query)
        cosine = dict(self.index.search(vector, max(VECTOR_CANDIDATES, limit * 10)))
        cap = min(RARE_CAP, max(RARE_FLOOR, len(self.index) // 200))
        rare = rare_terms(session, terms, language=filters.language, cap=cap)
        lexical = _lexical(session, rare, filters, LEXICAL_CANDIDATES)
        only_lexical = [pid for pid in lexical if pid not in cosine]
        cosine.update(self.index.similarities(vector, only_lexical))
        if not cosine:
            return []

        def lexical_of(passage_id: int) -> float:
            raw = lexical.get(passage_id, 0.0)
            return raw / (raw + LEXICAL_HALF) if raw > 0 else 0.0

        # First pass: the articles the candidate passages belong to, by their best candidate.
        first: dict[int, tuple[float, str, str, Audience]] = {}
        for passage_id, article_id, _, title, slug, audience in _candidates(session, list(cosine), filters):
            score = (1 - LEXICAL_WEIGHT) * cosine[passage_id] + LEXICAL_WEIGHT * lexical_of(passage_id)
            if article_id not in first or score > first[article_id][0]:
                first[article_id] = (score, title, slug, audience)
        shortlist = sorted(first, key=lambda aid: -first[aid][0])[: max(RERANK_ARTICLES, limit + 10)]
        # Second pass: every passage of the shortlisted articles, scored exactly.
        passages = session.execute(
            select(Passage.id, Passage.article_id, Passage.kind, Passage.heading, Passage.text).where(
                Passage.article_id.in_(shortlist)
            )
        ).all()
        exact = self.index.similarities(vector, [row.id for row in passages])
        by_article: dict[int, list[Any]] = {}
        for row in passages:
            if row.id in exact:
                by_article.setdefault(row.article_id, []).append(row)
        hits = []
        for article_id, rows in by_article.items():
            rows.sort(key=lambda row: -exact[row.id])
            best = rows[0]
            sims = [exact[row.id] for row in rows[:3]]
            sims += [sims[-1]] * (3 - len(sims))  # fewer than three passages: judged on what it has
            vec = sum(weight * sim for weight, sim in zip(PASSAGE_WEIGHTS, sims, strict=True)) / sum(
                PASSAGE_WEIGHTS
            )
            lex = max(lexical_of(row.id) for row in rows)
            _, title, slug, audience = first[article_id]
            hit = Hit(
                article_id,
                title,
                slug,
                audience,
                (1 - LEXICAL_WEIGHT) * vec + LEXICAL_WEIGHT * lex,
                vec,
                lex,
                PassageKind(best.kind).value,
                passage_ids=[row.id for row in rows],
            )
            sections = [row for row in rows if row.kind == PassageKind.section]
            if sections:
                hit.heading = sections[0].heading
                hit.section = sections[0].text
                hit.passage = render.snippet(sections[0].text, terms)
            else:
                hit.passage = title
            hits.append(hit)
        ranked = sorted(hits, key=lambda h: -h.score)[:limit]
        for hit in ranked:
            hit.score = round(max(0.0, min(1.0, hit.score)), 4)
        return ranked


def _candidates(
    session: Session, passage_ids: list[int], filters: Filters
) -> list[tuple[int, int, str, str, str, Audience]]:
    # Two primary-key lookups: one join would let SQLite walk every article of the filtered status.
    passages = session.execute(
        select(Passage.id, Passage.article_id, Passage.kind).where(Passage.id.in_(passage_ids))
    ).all()
    statement = select(Article.id, Article.title, Article.slug, Article.audience).where(
        Article.id.in_({row[1] for row in passages}),
        Article.status.in_(filters.statuses),
        Article.audience.in_(filters.audiences),
    )
    if filters.product is not None:
        statement = statement.where(Article.product == filters.product)
    if filters.language is not None:
        statement = statement.where(Article.language == filters.language)
    articles = {row[0]: row for row in session.execute(statement).all()}
    return [
        (int(pid), int(aid), PassageKind(kind).value, articles[aid][1], articles[aid][2], articles[aid][3])
        for pid, aid, kind in passages
        if aid in articles
    ]


def rare_terms(session: Session, terms: list[str], *, language: str | None, cap: int) -> list[str]:
    """The query's words that fewer than ``cap`` passages contain (one bounded index probe per word).
    A common word says little about which article is meant, and ranking every passage holding it would
    cost time in proportion to the knowledge base: the vector side carries those."""
    sqlite = session.get_bind().dialect.name == "sqlite"
    if sqlite:
        probe = text(
            "SELECT count(*) FROM (SELECT rowid FROM kb_passage_search "
            "WHERE kb_passage_search MATCH :term LIMIT :cap)"
        )
    else:
        probe = text(
            "SELECT count(*) FROM (SELECT 1 FROM kb_passage_search "
            "WHERE document @@ plainto_tsquery(CAST(:config AS regconfig), :term) LIMIT :cap) AS hits"
        )
    kept = []
    for term in terms:
        value = '"' + term.replace('"', '""') + '"' if sqlite else term
        count = session.execute(probe, {"term": value, "cap": cap, "config": pg_config(language)}).scalar()
        if count is not None and 0 < count < cap:
            kept.append(term)
    return kept


def _lexical(session: Session, terms: list[str], filters: Filters, limit: int) -> dict[int, float]:
    """Return {passage id: lexical score (higher is better)} for the best passages matching any of
    ``terms`` (already reduced to rare words, so the ranking reads a bounded number of rows)."""
    if not terms:
        return {}
    sqlite = session.get_bind().dialect.name == "sqlite"
    if sqlite:
        # Each word quoted: FTS5 syntax typed by a user is searched for, never interpreted.
        match = " OR ".join('"' + term.replace('"', '""') + '"' for term in terms)
        statement = text(
            "SELECT rowid, -bm25(kb_passage_search, 3.0, 2.0, 1.0) AS r FROM kb_passage_search "
            "WHERE kb_passage_search MATCH :match ORDER BY r DESC LIMIT :limit"
        )
        params: dict[str, object] = {"match": match, "limit": limit}
    else:
        statement = text(
            "SELECT s.passage_id, ts_rank_cd(s.document, q) AS r FROM kb_passage_search s, "
            "to_tsquery(CAST(:config AS regconfig), :tsquery) q "
            "WHERE s.document @@ q ORDER BY r DESC LIMIT :limit"
        )
        params = {"tsquery": " | ".join(terms), "config": pg_config(filters.language), "limit": limit}
    return {int(row[0]): float(row[1]) for row in session.execute(statement, params).all()}
