"""Background work of the knowledge base: index articles, and suggest articles for every triaged
customer concern. Each job reads and runs the model holding no write lock, then writes briefly."""

from __future__ import annotations

import functools

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from ombud.knowledge import index
from ombud.knowledge import service as knowledge
from ombud.knowledge.models import Article, Suggestion
from ombud.knowledge.search import Filters, Searcher
from ombud.storage.db import Database
from ombud.storage.queue import JobQueue, SweepSource, defer
from ombud.triage import service as triage

BATCH = 32
SUGGESTIONS_PER_CONCERN = 3
# The sweep looks for lost suggestion jobs among this many of the newest message ids.
SWEEP_LOOKBACK = 100_000
STAFF_VIEW = Filters(audiences=knowledge.ALL_AUDIENCES, statuses=knowledge.PUBLISHED)


def index_article(*, session: Session, database: Database, searcher: Searcher, article_id: int) -> None:
    """Index ``article_id`` and up to BATCH other articles waiting; a full batch continues in a new job."""
    with database.session(write=False) as reader:
        waiting = index.unindexed_article_ids(reader, BATCH)
        ids = list(dict.fromkeys([article_id, *waiting]))[:BATCH]
        articles = reader.scalars(select(Article).where(Article.id.in_(ids))).all()
        prepared = [
            index.prepare(session=reader, embedder=searcher.embedder, article=article)
            for article in articles
            if article.indexed_hash != article.content_hash
        ]
    for item in prepared:
        index.store(session=session, prepared=item)
    if len(waiting) == BATCH:
        defer(session, knowledge.INDEX_JOB, article_id=waiting[-1])


def index_pending(*, database: Database, searcher: Searcher) -> int:
    """Index every article still waiting, here and now (the CLI's import); return how many."""
    done = 0
    while True:
        with database.session(write=False) as reader:
            waiting = index.unindexed_article_ids(reader, BATCH)
        if not waiting:
            return done
        with database.session() as session:
            index_article(session=session, database=database, searcher=searcher, article_id=waiting[0])
            session.commit()
        done += len(waiting)


def suggest(*, session: Session, database: Database, searcher: Searcher, message_id: int) -> None:
    """Suggest articles for each concern of ``message_id`` and of up to BATCH other triaged messages still
    without suggestions. A concern nothing answers well is kept with its best score: gaps come from them.
    Imported history gets none: nobody answers it now, and its concerns would count as today's gaps."""
    with database.session(write=False) as reader:
        rows = triage.triaged_after(
            session=reader, first_id=message_id, limit=BATCH, handled=Suggestion.message_id, live_only=True
        )
        queries: list[tuple[int, int, int, int, str, str | None]] = []
        for msg_id, ticket_id, customer_id, result in rows:
            concerns = result.get("concerns") or []
            for n, concern in enumerate(concerns):
                intents = concern.get("intents") or []
                intent = intents[0]["label"] if intents else None
                queries.append((msg_id, ticket_id, customer_id, n, concern["text"][:2000], intent))
        texts = [q[4] for q in queries]
        results = searcher.search_many(reader, texts, filters=STAFF_VIEW, limit=SUGGESTIONS_PER_CONCERN)
        vectors = searcher.embedder.embed_batch(texts) if texts else np.zeros((0, 0))
    keys = [index.vector_key(searcher.embedder, t) for t in texts]
    stored = set(
        session.scalars(select(Suggestion.message_id).where(Suggestion.message_id.in_([r[0] for r in rows])))
    )
    index.keep_vectors(
        session,
        {
            key: vector
            for key, vector, query in zip(keys, vectors, queries, strict=True)
            if query[0] not in stored
        },
    )
    for (msg_id, ticket_id, customer_id, n, text, intent), hits, key in zip(
        queries, results, keys, strict=True
    ):
        if msg_id in stored:
            continue
        common = {
            "message_id": msg_id,
            "ticket_id": ticket_id,
            "customer_id": customer_id,
            "concern_index": n,
            "concern_text": text,
            "intent": intent,
            "vector_hash": key,
        }
        if not hits:
            session.add(Suggestion(**common, rank=0, article_id=None, passage=None, score=0.0))
        for rank, hit in enumerate(hits):
            session.add(
                Suggestion(
                    **common, rank=rank, article_id=hit.article_id, passage=hit.passage, score=hit.score
                )
            )
    with_concerns = {q[0] for q in queries}
    for msg_id, ticket_id, customer_id, _ in rows:
        if msg_id not in with_concerns and msg_id not in stored:
            # Marks the message as handled: triage found nothing to answer in it.
            session.add(
                Suggestion(
                    message_id=msg_id,
                    ticket_id=ticket_id,
                    customer_id=customer_id,
                    concern_index=-1,
                    concern_text="",
                    rank=0,
                    score=0.0,
                )
            )
    if len(rows) == BATCH:
        defer(session, knowledge.SUGGEST_JOB, message_id=rows[-1][0] + 1)


def unsuggested_message_ids(*, session: Session, limit: int) -> list[int]:
    """Live triaged messages among the newest SWEEP_LOOKBACK without suggestions (the sweep's question:
    suggestions serve the agent answering now, and the walk must not grow with the whole history)."""
    first_id = max(triage.last_triaged_id(session=session) - SWEEP_LOOKBACK, 0)
    rows = triage.triaged_after(
        session=session, first_id=first_id, limit=limit, handled=Suggestion.message_id, live_only=True
    )
    return [row[0] for row in rows]


def unindexed_article_ids(*, session: Session, limit: int) -> list[int]:
    return index.unindexed_article_ids(session, limit)


def register(queue: JobQueue, database: Database, searcher: Searcher) -> None:
    queue.register(
        knowledge.INDEX_JOB,
        functools.partial(index_article, database=database, searcher=searcher),
        coalesce=True,
    )
    queue.register(
        knowledge.SUGGEST_JOB, functools.partial(suggest, database=database, searcher=searcher), coalesce=True
    )
    queue.register_sweep(
        SweepSource(job=knowledge.INDEX_JOB, id_arg="article_id", find=unindexed_article_ids)
    )
    queue.register_sweep(
        SweepSource(job=knowledge.SUGGEST_JOB, id_arg="message_id", find=unsuggested_message_ids)
    )
