#!/usr/bin/env python3
"""Benchmark the knowledge base: retrieval accuracy, the assistant's answer-or-handover decision, out of
scope questions, and search speed with 100,000 articles.

  retrieval  one article per Banking77 intent (benchmarks/data/banking77_articles.json, written for this
             benchmark), each with up to 10 example questions drawn (seeded) from the training split;
             every test-split question searched as an anonymous customer would (hybrid search, published
             public articles). Top-1 and top-3: the intent's article first / among the first three.
             Then the real assistant (`assistant.ask`: triage, search, the handover rules) on every test
             question: answered right, answered wrong, handed over.
  scope      20 intents (seeded) left out of the knowledge base; their test questions must be handed
             over. Wrong confident answers (an answer to an out-of-scope question) against unnecessary
             handovers (an in-scope question handed over), by the assistant at its default thresholds,
             and a sweep of the answer threshold. The thresholds were chosen on training questions that
             are not example questions (the "dev" rows printed), never on the test split.
  speed      100,000 articles (400,000 passages): the texts are recombined Banking77 training questions
             and article sentences; the vectors are the real embeddings of those texts plus noise
             (embedding 400,000 passages would take 20 minutes on this machine; the search path is
             unchanged). Each query is timed end to end through `Searcher.search`: the query's
             embedding, the HNSW index, the full-text index, the fusion and the database reads.

Usage:
  .venv/bin/python benchmarks/bench_knowledge.py             # everything (about 10 minutes)
  .venv/bin/python benchmarks/bench_knowledge.py --quick     # retrieval on 500 questions, 10,000 articles
Output: a table on stdout; everything in --out (default /tmp/ombud-bench-knowledge.json).
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import resource
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import insert, text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).parent))
from bench_core import git_state, machine_info, pct  # noqa: E402

from ombud.accounts.schemas import SYSTEM  # noqa: E402
from ombud.knowledge import assistant  # noqa: E402
from ombud.knowledge import service as knowledge  # noqa: E402
from ombud.knowledge.models import Article, IndexState, Passage, PassageKind, Vector  # noqa: E402
from ombud.knowledge.schemas import ArticleCreate, ArticleStatus, Audience  # noqa: E402
from ombud.knowledge.search import Filters, query_terms  # noqa: E402
from ombud.runtime import Runtime, build_runtime  # noqa: E402
from ombud.settings import Settings  # noqa: E402
from ombud.storage import schema  # noqa: E402
from ombud.tickets.models import Channel  # noqa: E402

DATA = Path("/work/shared/data/banking77")
if not DATA.exists():
    DATA = ROOT.parent / "shared" / "data" / "banking77"
ARTICLES = Path(__file__).parent / "data" / "banking77_articles.json"
PUBLIC = Filters(audiences=frozenset({Audience.public}), statuses=frozenset({ArticleStatus.published}))


def rows(split: str) -> list[tuple[str, str]]:
    with (DATA / f"{split}.csv").open(encoding="utf-8") as handle:
        return [(row["text"], row["category"]) for row in csv.DictReader(handle)]


def fresh_runtime(home: Path) -> Runtime:
    settings = Settings(home=home, smtp_port=0)
    runtime = build_runtime(settings, queue_url="memory://")
    schema.upgrade(runtime.database)
    return runtime


def build_kb(runtime: Runtime, intents: list[str], examples: dict[str, list[str]]) -> dict[int, str]:
    written = json.loads(ARTICLES.read_text(encoding="utf-8"))
    article_intent = {}
    with runtime.database.session() as session:
        for intent in intents:
            data = ArticleCreate(
                title=written[intent]["title"],
                body=written[intent]["body"],
                status=ArticleStatus.published,
                example_questions=examples[intent],
            )
            article = knowledge.create_article(session=session, principal=SYSTEM, data=data)
            article_intent[article.id] = intent
        session.commit()  # the memory queue runs the index job now
    return article_intent


def retrieval(
    runtime: Runtime, article_intent: dict[int, str], tests: list[tuple[str, str]]
) -> dict[str, Any]:
    hits_at = {1: 0, 3: 0}
    with runtime.database.session(write=False) as session:
        for start in range(0, len(tests), 256):
            batch = tests[start : start + 256]
            found = runtime.knowledge.search_many(session, [t for t, _ in batch], filters=PUBLIC, limit=3)
            for (_, intent), hits in zip(batch, found, strict=True):
                ranked = [article_intent.get(h.article_id) for h in hits]
                hits_at[1] += int(ranked[:1] == [intent])
                hits_at[3] += int(intent in ranked[:3])
    return {"queries": len(tests), "top1": hits_at[1] / len(tests), "top3": hits_at[3] / len(tests)}


def keyword_baseline(
    runtime: Runtime, article_intent: dict[int, str], tests: list[tuple[str, str]]
) -> dict[str, Any]:
    """Words only, as a keyword help-centre search ranks: BM25 (FTS5) over the same passages, every
    query word OR-ed (stopwords dropped), an article ranked by its best passage."""
    hits_at = {1: 0, 3: 0}
    with runtime.database.session(write=False) as session:
        for question, intent in tests:
            terms = query_terms(question)
            ranked: list[str] = []
            if terms:
                rows = session.execute(
                    text(
                        "SELECT p.article_id FROM kb_passage_search s JOIN kb_passages p ON p.id = s.rowid "
                        "WHERE kb_passage_search MATCH :m ORDER BY bm25(kb_passage_search, 3.0, 2.0, 1.0) "
                        "LIMIT 50"
                    ),
                    {"m": " OR ".join(f'"{t}"' for t in terms)},
                ).all()
                for (article_id,) in rows:
                    name = article_intent.get(article_id)
                    if name is not None and name not in ranked:
                        ranked.append(name)
            hits_at[1] += int(ranked[:1] == [intent])
            hits_at[3] += int(intent in ranked[:3])
    return {"queries": len(tests), "top1": hits_at[1] / len(tests), "top3": hits_at[3] / len(tests)}


def scores(
    runtime: Runtime, article_intent: dict[int, str], tests: list[tuple[str, str]]
) -> list[tuple[float, bool]]:
    """(top score, top article right) per question."""
    out = []
    with runtime.database.session(write=False) as session:
        for start in range(0, len(tests), 256):
            batch = tests[start : start + 256]
            found = runtime.knowledge.search_many(session, [t for t, _ in batch], filters=PUBLIC, limit=1)
            for (_, intent), hits in zip(batch, found, strict=True):
                out.append(
                    (
                        hits[0].score if hits else 0.0,
                        bool(hits) and article_intent.get(hits[0].article_id) == intent,
                    )
                )
    return out


def assistant_decisions(
    runtime: Runtime, article_intent: dict[int, str], tests: Sequence[tuple[str, str | None]]
) -> dict[str, Any]:
    """The real assistant on each question, a fresh conversation each: answered right, wrong, handed over."""
    right = wrong = handed = 0
    reasons: dict[str, int] = defaultdict(int)
    started = time.perf_counter()
    for question, intent in tests:
        with runtime.database.session() as session:
            conversation_id = assistant.start(session, channel="api", customer_id=None).id
            session.commit()
        with runtime.database.session(write=False) as reader:
            thought = assistant.think(
                reader,
                searcher=runtime.knowledge,
                engine=runtime.triage,
                config=runtime.assistant,
                conversation_id=conversation_id,
                text=question,
            )
        with runtime.database.session() as session:
            reply = assistant.ask(
                session,
                conversation=assistant.get_conversation(session, conversation_id),
                thought=thought,
                open_ticket=assistant.web_ticket_opener(session, hint=None, channel=Channel.web),
            )
            if reply.handover:
                handed += 1
                reasons[reply.reason or "?"] += 1
            elif intent is not None and article_intent.get(reply.hits[0].article_id) == intent:
                right += 1
            else:
                wrong += 1
            session.commit()
    n = len(tests)
    return {
        "questions": n,
        "answered_right": right / n,
        "answered_wrong": wrong / n,
        "handed_over": handed / n,
        "handover_reasons": dict(reasons),
        "seconds_per_question": (time.perf_counter() - started) / n,
    }


def sweep(in_scope: list[tuple[float, bool]], out_scope: list[tuple[float, bool]]) -> list[dict[str, float]]:
    table = []
    for threshold in np.arange(0.50, 0.80, 0.02):
        wrong_confident = sum(1 for s, _ in out_scope if s >= threshold) / max(1, len(out_scope))
        unnecessary = sum(1 for s, ok in in_scope if s < threshold and ok) / max(1, len(in_scope))
        answered_wrong = sum(1 for s, ok in in_scope if s >= threshold and not ok) / max(1, len(in_scope))
        table.append(
            {
                "threshold": round(float(threshold), 2),
                "wrong_confident_out_of_scope": wrong_confident,
                "unnecessary_handovers_in_scope": unnecessary,
                "answered_wrong_in_scope": answered_wrong,
            }
        )
    return table


# ----------------------------------------------------------------- speed
def speed(n_articles: int, queries: list[str], train: list[tuple[str, str]], home: Path) -> dict[str, Any]:
    runtime = fresh_runtime(home)
    rng = np.random.default_rng(7)
    written = json.loads(ARTICLES.read_text(encoding="utf-8"))
    sentences = [
        s.strip() for a in written.values() for s in a["body"].replace("\n", " ").split(". ") if len(s) > 30
    ]
    pool = list(dict.fromkeys([t for t, _ in train] + sentences))
    print(f"  embedding a pool of {len(pool)} texts ...", flush=True)
    started = time.perf_counter()
    pool_vectors = runtime.knowledge.embedder.embed_batch(pool)
    print(f"  ... {time.perf_counter() - started:.0f} s", flush=True)
    started = time.perf_counter()
    passage_id = 0
    with runtime.database.session() as session:
        for start in range(0, n_articles, 5000):
            count = min(5000, n_articles - start)
            articles, passages, vectors, fts = [], [], [], []
            for k in range(count):
                article_id = start + k + 1
                picks = rng.integers(0, len(pool), size=5)
                title = pool[picks[0]][:190]
                body_a = pool[picks[1]] + " " + pool[picks[2]]
                body_b = pool[picks[3]]
                question = pool[picks[4]]
                articles.append(
                    {
                        "id": article_id,
                        "slug": f"a-{article_id}",
                        "title": title,
                        "body": body_a + "\n\n" + body_b,
                        "audience": "public",
                        "status": "published",
                        "language": "en",
                        "tags": [],
                        "example_questions": [question],
                        "version": 1,
                        "content_hash": f"h{article_id}",
                        "indexed_hash": f"h{article_id}",
                        "helpful": 0,
                        "not_helpful": 0,
                    }
                )
                for ordinal, (kind, content, pick) in enumerate(
                    (
                        (PassageKind.article_title, title, picks[0]),
                        (PassageKind.question, question, picks[4]),
                        (PassageKind.section, body_a, picks[1]),
                        (PassageKind.section, body_b, picks[3]),
                    )
                ):
                    passage_id += 1
                    noisy = pool_vectors[pick] + rng.normal(0, 0.02, size=pool_vectors.shape[1]).astype(
                        np.float32
                    )
                    noisy /= np.linalg.norm(noisy)
                    key = f"v{passage_id}"
                    passages.append(
                        {
                            "id": passage_id,
                            "article_id": article_id,
                            "ordinal": ordinal,
                            "kind": kind.name,
                            "heading": None,
                            "text": content,
                            "vector_hash": key,
                        }
                    )
                    vectors.append({"hash": key, "vector": noisy.astype(np.float32).tobytes()})
                    fts.append({"id": passage_id, "title": title, "heading": "", "text": content})
            session.execute(insert(Article.__table__), articles)
            session.execute(insert(Passage.__table__), passages)
            session.execute(insert(Vector.__table__), vectors)
            session.execute(
                text(
                    "INSERT INTO kb_passage_search (rowid, title, heading, text) "
                    "VALUES (:id, :title, :heading, :text)"
                ),
                fts,
            )
        session.execute(IndexState.__table__.update().values(generation=1))
        session.commit()
    loaded = time.perf_counter() - started
    started = time.perf_counter()
    with runtime.database.session(write=False) as session:
        runtime.knowledge.index.sync(session)
    built = time.perf_counter() - started
    timings = []
    with runtime.database.session(write=False) as session:
        for q in queries[:20]:  # warm-up: caches, the ONNX session
            runtime.knowledge.search(session, q + " warm", filters=PUBLIC, limit=5)
        for q in queries:
            t0 = time.perf_counter()
            runtime.knowledge.search(session, q, filters=PUBLIC, limit=5)
            timings.append((time.perf_counter() - t0) * 1000)
    result = {
        "articles": n_articles,
        "passages": passage_id,
        "load_seconds": round(loaded, 1),
        "index_build_seconds": round(built, 1),
        "queries": len(timings),
        "p50_ms": round(statistics.median(timings), 2),
        "p99_ms": round(pct(sorted(timings), 99), 2),
        "vector_index_mb": round(runtime.knowledge.index.memory_bytes() / 1e6, 1),
        "process_max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    runtime.close()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--out", default="/tmp/ombud-bench-knowledge.json")
    parser.add_argument(
        "--parts", default="retrieval,scope,speed", help="comma-separated: which parts to run"
    )
    args = parser.parse_args()
    n_articles = 10_000 if args.quick else args.articles
    random.seed(77)
    train, test = rows("train"), rows("test")
    by_intent: dict[str, list[str]] = defaultdict(list)
    for question, intent in train:
        by_intent[intent].append(question)
    intents = sorted(by_intent)
    examples = {intent: random.sample(by_intent[intent], 10) for intent in intents}
    used = {q for qs in examples.values() for q in qs}
    dev = [(q, i) for q, i in train if q not in used]
    random.shuffle(dev)
    dev = dev[:1000]
    if args.quick:
        test = random.sample(test, 500)
    report: dict[str, Any] = {"machine": machine_info(), "git": git_state()}

    parts = set(args.parts.split(","))
    with tempfile.TemporaryDirectory() as tmp:
        if "retrieval" in parts:
            run_retrieval(report, intents, examples, test, dev, quick=args.quick, tmp=Path(tmp))
        if "scope" in parts:
            run_scope(report, intents, examples, test, dev, quick=args.quick, tmp=Path(tmp))
        if "speed" in parts:
            print(f"speed: {n_articles} articles", flush=True)
            report["speed"] = speed(
                n_articles, [q for q, _ in random.sample(test, 300)], train, Path(tmp) / "speed"
            )
            print(f"  {report['speed']}")
    Path(args.out).write_text(json.dumps(report, indent=2), encoding="utf-8")
    summary(report, args.out)


def run_retrieval(
    report: dict[str, Any],
    intents: list[str],
    examples: dict[str, list[str]],
    test: list[tuple[str, str]],
    dev: list[tuple[str, str]],
    *,
    quick: bool,
    tmp: Path,
) -> None:
    print("retrieval: 77 articles, 10 example questions each", flush=True)
    runtime = fresh_runtime(tmp / "full")
    full = build_kb(runtime, intents, examples)
    report["retrieval_test"] = retrieval(runtime, full, test)
    report["retrieval_dev"] = retrieval(runtime, full, dev)
    report["keyword_baseline_test"] = keyword_baseline(runtime, full, test)
    print(f"  keyword-only baseline (BM25) test top-1 {report['keyword_baseline_test']['top1']:.1%}")
    print(
        f"  test top-1 {report['retrieval_test']['top1']:.1%}  top-3 {report['retrieval_test']['top3']:.1%}"
    )
    print(f"  dev top-1 {report['retrieval_dev']['top1']:.1%}")
    asked = test if quick else random.sample(test, 1000)
    report["assistant_test"] = assistant_decisions(runtime, full, asked)
    print(f"  assistant: {report['assistant_test']}")
    runtime.close()


def run_scope(
    report: dict[str, Any],
    intents: list[str],
    examples: dict[str, list[str]],
    test: list[tuple[str, str]],
    dev: list[tuple[str, str]],
    *,
    quick: bool,
    tmp: Path,
) -> None:
    print("scope: 57 intents in the knowledge base, 20 left out", flush=True)
    left_out = set(random.Random(20).sample(intents, 20))
    kept = [i for i in intents if i not in left_out]
    runtime = fresh_runtime(tmp / "scope")
    partial = build_kb(runtime, kept, examples)
    for name, rows_ in (("dev", dev), ("test", test)):
        inside = [(q, i) for q, i in rows_ if i not in left_out]
        outside = [(q, i) for q, i in rows_ if i in left_out]
        report[f"scope_sweep_{name}"] = sweep(
            scores(runtime, partial, inside), scores(runtime, partial, outside)
        )
    inside = [(q, i) for q, i in test if i not in left_out]
    outside = [(q, i) for q, i in test if i in left_out]
    sample_in = random.sample(inside, min(len(inside), 300 if quick else 700))
    sample_out = random.sample(outside, min(len(outside), 100 if quick else 300))
    report["scope_assistant_in"] = assistant_decisions(runtime, partial, sample_in)
    unanswerable: list[tuple[str, str | None]] = [(q, None) for q, _ in sample_out]
    report["scope_assistant_out"] = assistant_decisions(runtime, partial, unanswerable)
    print(f"  out of scope answered (wrong confident): {report['scope_assistant_out']['answered_wrong']:.1%}")
    print(f"  in scope handed over: {report['scope_assistant_in']['handed_over']:.1%}")
    runtime.close()


def summary(report: dict[str, Any], out: str) -> None:
    print("\n| measure | value |\n| --- | --- |")
    if "retrieval_test" in report:
        found = report["retrieval_test"]
        print(f"| retrieval top-1 (test, {found['queries']:,}) | {found['top1']:.1%} |")
        print(f"| retrieval top-3 (test) | {report['retrieval_test']['top3']:.1%} |")
        base = report["keyword_baseline_test"]
        print(f"| keyword-only baseline top-1 / top-3 | {base['top1']:.1%} / {base['top3']:.1%} |")
        a = report["assistant_test"]
        print(
            f"| assistant: answered right / wrong / handed over | {a['answered_right']:.1%} / "
            f"{a['answered_wrong']:.1%} / {a['handed_over']:.1%} |"
        )
    if "scope_assistant_out" in report:
        wrong = report["scope_assistant_out"]["answered_wrong"]
        print(f"| out of scope answered (wrong confident) | {wrong:.1%} |")
        print(f"| in scope handed over (unnecessary) | {report['scope_assistant_in']['handed_over']:.1%} |")
    if "speed" in report:
        s = report["speed"]
        print(f"| search p50 / p99, {s['articles']:,} articles | {s['p50_ms']} ms / {s['p99_ms']} ms |")
        print(f"| vector index / process RSS | {s['vector_index_mb']} MB / {s['process_max_rss_mb']} MB |")
    print(f"\nfull report: {out}")


if __name__ == "__main__":
    main()
