"""The search index of the knowledge base: passages with their embeddings, a full-text index beside them,
and an in-memory HNSW vector index (usearch) per process that follows the database.

Writing happens in the ``knowledge.index_article`` job. It builds an article's passages (its title, each
example question, each section of its body), embeds only the texts whose content hash has no stored vector
yet, replaces the article's passages and full-text rows, and moves ``kb_index_state.generation``. Every
process checks the generation before a search and catches up: passages never change once written (an
edited article gets new ones), so catching up is "add the ids above the highest seen, drop the ids that
are gone".
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import delete, func, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from ombud.knowledge import render
from ombud.knowledge.models import Article, IndexState, Passage, PassageKind, Vector
from ombud.triage.embed import Embedder

log = logging.getLogger(__name__)

# PostgreSQL text search configurations for the languages it stems; any other language is searched as
# plain words.
PG_CONFIGS = {
    "da": "danish",
    "de": "german",
    "en": "english",
    "es": "spanish",
    "fi": "finnish",
    "fr": "french",
    "it": "italian",
    "nl": "dutch",
    "no": "norwegian",
    "pt": "portuguese",
    "ru": "russian",
    "sv": "swedish",
}
LOAD_BATCH = 5000


def pg_config(language: str | None) -> str:
    return PG_CONFIGS.get((language or "en").split("-")[0], "simple")


def content_hash(article: Article) -> str:
    """The hash of everything search reads from an article: unchanged content is never re-indexed."""
    digest = hashlib.sha256()
    for part in (article.title, article.body, "\x1f".join(article.example_questions), article.language):
        digest.update(part.encode("utf-8"))
        digest.update(b"\x1e")
    return digest.hexdigest()


@dataclass(frozen=True)
class PassageDraft:
    kind: PassageKind
    heading: str | None
    text: str

    def embed_text(self, title: str) -> str:
        # A section is embedded with its article's title and heading: "Fees" alone says little.
        if self.kind is PassageKind.section:
            return ". ".join(part for part in (title, self.heading, self.text) if part)
        return self.text


def passages_of(article: Article) -> list[PassageDraft]:
    drafts = [PassageDraft(PassageKind.article_title, None, article.title)]
    seen = {article.title.casefold()}
    for question in article.example_questions:
        if question.casefold() not in seen:
            seen.add(question.casefold())
            drafts.append(PassageDraft(PassageKind.question, None, question))
    drafts.extend(
        # A heading is stored in 300 characters (a setext "---" under a long paragraph makes one).
        PassageDraft(PassageKind.section, passage.heading[:300] if passage.heading else None, passage.text)
        for passage in render.split_passages(article.body)
    )
    return drafts


def vector_key(embedder: Embedder, embed_text: str) -> str:
    return hashlib.blake2b(f"{embedder.name}\x00{embed_text}".encode(), digest_size=20).hexdigest()


@dataclass
class Prepared:
    """An article's passages and vectors, computed outside the write transaction."""

    article_id: int
    content_hash: str
    drafts: list[PassageDraft]
    keys: list[str]
    new_vectors: dict[str, np.ndarray]


def prepare(*, session: Session, embedder: Embedder, article: Article) -> Prepared:
    """Build the article's passages and embed the texts that have no stored vector yet."""
    drafts = passages_of(article)
    texts = [draft.embed_text(article.title) for draft in drafts]
    keys = [vector_key(embedder, t) for t in texts]
    known = set(session.scalars(select(Vector.hash).where(Vector.hash.in_(set(keys)))).all())
    missing = {key: t for key, t in zip(keys, texts, strict=True) if key not in known}
    new_vectors: dict[str, np.ndarray] = {}
    if missing:
        matrix = embedder.embed_batch(list(missing.values()))
        new_vectors = dict(zip(missing.keys(), matrix, strict=True))
    return Prepared(article.id, content_hash(article), drafts, keys, new_vectors)


def store(*, session: Session, prepared: Prepared) -> bool:
    """Replace the article's passages with ``prepared`` unless the article changed meanwhile (then a
    later job indexes the newer content). Return whether anything was written.

    Index writers take turns on the ``kb_index_state`` row (PostgreSQL; SQLite has one writer anyway):
    passage ids are then committed in the order they were drawn, so a process that has seen id N has
    seen every id below it, and two jobs on one article cannot both write its passages."""
    session.execute(select(IndexState.id).where(IndexState.id == 1).with_for_update())
    article = session.get(Article, prepared.article_id, populate_existing=True)
    if article is None or article.content_hash != prepared.content_hash:
        return False
    if article.indexed_hash == prepared.content_hash:
        return False
    keep_vectors(session, prepared.new_vectors)
    remove_passages(session=session, article_id=article.id)
    rows = [
        Passage(
            article_id=article.id,
            ordinal=ordinal,
            kind=draft.kind,
            heading=draft.heading,
            text=draft.text,
            vector_hash=key,
        )
        for ordinal, (draft, key) in enumerate(zip(prepared.drafts, prepared.keys, strict=True))
    ]
    session.add_all(rows)
    session.flush()
    _write_search_rows(session, article, rows)
    article.indexed_hash = prepared.content_hash
    bump_generation(session)
    return True


def keep_vectors(session: Session, vectors: dict[str, np.ndarray]) -> None:
    """Store embeddings by their key; a key stored already (by a concurrent job or request) is kept as
    it is: the same key always holds the same vector."""
    if not vectors:
        return
    rows = [{"hash": key, "vector": np.asarray(v, dtype=np.float32).tobytes()} for key, v in vectors.items()]
    session.execute(_insert(session, Vector).on_conflict_do_nothing(index_elements=["hash"]), rows)


def remove_passages(*, session: Session, article_id: int) -> None:
    ids = list(session.scalars(select(Passage.id).where(Passage.article_id == article_id)).all())
    if not ids:
        return
    if session.get_bind().dialect.name == "sqlite":
        session.execute(
            text("DELETE FROM kb_passage_search WHERE rowid = :id"),
            [{"id": passage_id} for passage_id in ids],
        )
    # On PostgreSQL the search rows go with their passages (ON DELETE CASCADE).
    session.execute(delete(Passage).where(Passage.id.in_(ids)))


def bump_generation(session: Session) -> None:
    """Move the generation on (creating its row if it is missing, e.g. after a truncation)."""
    session.execute(
        _insert(session, IndexState)
        .values(id=1, generation=1)
        .on_conflict_do_update(index_elements=["id"], set_={"generation": IndexState.generation + 1})
    )


def _insert(session: Session, model: Any) -> Any:
    """An INSERT with the database's own ON CONFLICT clause (SQLite and PostgreSQL both have one)."""
    return sqlite_insert(model) if session.get_bind().dialect.name == "sqlite" else pg_insert(model)


def _write_search_rows(session: Session, article: Article, rows: Sequence[Passage]) -> None:
    params = [
        {"id": row.id, "title": article.title, "heading": row.heading or "", "text": row.text} for row in rows
    ]
    if session.get_bind().dialect.name == "sqlite":
        session.execute(
            text(
                "INSERT INTO kb_passage_search (rowid, title, heading, text) "
                "VALUES (:id, :title, :heading, :text)"
            ),
            params,
        )
        return
    config = pg_config(article.language)
    session.execute(
        text(
            "INSERT INTO kb_passage_search (passage_id, config, document) VALUES (:id, "
            "CAST(:config AS regconfig), "
            "setweight(to_tsvector(CAST(:config AS regconfig), :title), 'A') || "
            "setweight(to_tsvector(CAST(:config AS regconfig), :heading), 'B') || "
            "to_tsvector(CAST(:config AS regconfig), :text))"
        ),
        [{**p, "config": config} for p in params],
    )


def unindexed_article_ids(session: Session, limit: int) -> list[int]:
    """Articles whose passages do not match their content yet (new, edited, or never indexed)."""
    stale = (Article.indexed_hash.is_(None)) | (Article.indexed_hash != Article.content_hash)
    return list(session.scalars(select(Article.id).where(stale).order_by(Article.id).limit(limit)).all())


class VectorIndex:
    """The process's HNSW index of passage vectors, keyed by passage id, following the database."""

    def __init__(self, dimensions: int) -> None:
        self.dimensions = dimensions
        self._lock = threading.Lock()
        self._index: Any = None
        self._generation = -1
        self._max_id = 0

    def _new_index(self) -> Any:
        # onnxruntime first: usearch loads its NumKong kernels with RTLD_GLOBAL, and an onnxruntime loaded
        # after those symbols are global crashes the process (segmentation fault) at import.
        import onnxruntime  # noqa: F401
        from usearch.index import Index

        # 8-bit vectors: a quarter of float32's memory, and the same ranking on Banking77 (85.6% top-1 on
        # the benchmark's dev questions, 85.4% with half precision). Exact scores for the shortlist are
        # computed from these too, after normalising.
        return Index(ndim=self.dimensions, metric="cos", dtype="i8", connectivity=16, expansion_search=96)

    def sync(self, session: Session) -> None:
        """Catch up with the database if its generation moved (one indexed lookup when it did not)."""
        generation = session.scalar(select(IndexState.generation).where(IndexState.id == 1)) or 0
        if generation == self._generation:
            return
        with self._lock:
            if generation == self._generation:
                return
            if self._index is None:
                self._index = self._new_index()
            self._load_new(session)
            self._drop_gone(session)
            self._generation = generation

    def _load_new(self, session: Session) -> None:
        while True:
            rows = session.execute(
                select(Passage.id, Vector.vector)
                .join(Vector, Vector.hash == Passage.vector_hash)
                .where(Passage.id > self._max_id)
                .order_by(Passage.id)
                .limit(LOAD_BATCH)
            ).all()
            if not rows:
                return
            keys = np.array([row[0] for row in rows], dtype=np.uint64)
            vectors = np.frombuffer(b"".join(row[1] for row in rows), dtype=np.float32).reshape(
                len(rows), self.dimensions
            )
            self._index.add(keys, vectors)
            self._max_id = int(keys[-1])

    def _drop_gone(self, session: Session) -> None:
        count = session.scalar(select(func.count()).select_from(Passage)) or 0
        if count == len(self._index):
            return
        live = set(session.scalars(select(Passage.id)).all())
        gone = [int(key) for key in self._index.keys if int(key) not in live]
        if gone:
            self._index.remove(np.array(gone, dtype=np.uint64))

    def search(self, vector: np.ndarray, count: int) -> list[tuple[int, float]]:
        """Return up to ``count`` (passage id, cosine similarity), best first."""
        with self._lock:
            if self._index is None or len(self._index) == 0:
                return []
            matches = self._index.search(vector, min(count, len(self._index)))
        return [
            (int(key), 1.0 - float(distance))
            for key, distance in zip(matches.keys, matches.distances, strict=True)
        ]

    def similarities(self, vector: np.ndarray, passage_ids: Sequence[int]) -> dict[int, float]:
        """Return the exact cosine similarity of ``vector`` to each of ``passage_ids`` still indexed."""
        if not passage_ids:
            return {}
        with self._lock:
            if self._index is None:
                return {}
            wanted = [pid for pid in passage_ids if pid in self._index]
            if not wanted:
                return {}
            stored = np.asarray(self._index.get(np.array(wanted, dtype=np.uint64)), dtype=np.float32)
        stored = stored.reshape(len(wanted), self.dimensions)
        norms = np.maximum(np.linalg.norm(stored, axis=1), 1e-12)
        sims = (stored @ vector) / norms
        return {pid: float(sim) for pid, sim in zip(wanted, sims, strict=True)}

    def memory_bytes(self) -> int:
        with self._lock:
            return int(self._index.memory_usage) if self._index is not None else 0

    def __len__(self) -> int:
        return 0 if self._index is None else len(self._index)
