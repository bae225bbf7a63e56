"""Triage quality and speed on the shared evaluation data, in one run, printed as the BENCHMARKS.md table.

    .venv/bin/python benchmarks/bench_triage.py [--data ../shared/data] [--accurate]

Intent accuracy is closed-set (no out-of-scope threshold), as the published numbers are. --accurate also
measures the tfidf+minilm features (sentence embeddings; slower). Nothing is tuned on the test splits.
"""

from __future__ import annotations

import argparse
import csv
import random
import resource
import statistics
import time
from pathlib import Path

from ombud.triage import data, training
from ombud.triage.classifier import TextClassifier
from ombud.triage.engine import Models, Triage, shipped_dir
from ombud.triage.pipeline import Context

ROOT = Path(__file__).resolve().parents[1]


def banking77(root: Path, features: str) -> tuple[float, float]:
    train = data.read([root / "banking77" / "train.csv"])
    test = data.read([root / "banking77" / "test.csv"])
    started = time.perf_counter()
    model = training.train(train, task="intent", features=features, oos_threshold=0.0)
    seconds = time.perf_counter() - started
    return training.evaluate(model, test)["accuracy"], seconds


def few_shot(root: Path, features: str, per_intent: int = 10) -> float:
    train = data.read([root / "banking77" / "train.csv"])
    test = data.read([root / "banking77" / "test.csv"])
    scores = []
    for seed in range(3):
        rng = random.Random(seed)
        by_label: dict[str, list[int]] = {}
        for index, row in enumerate(train.labels):
            by_label.setdefault(row[0], []).append(index)
        picked = [i for indexes in by_label.values() for i in rng.sample(indexes, per_intent)]
        sample = data.Dataset([train.texts[i] for i in picked], [train.labels[i] for i in picked])
        model = training.train(sample, task="intent", features=features, oos_threshold=0.0)
        scores.append(training.evaluate(model, test)["accuracy"])
    return statistics.mean(scores)


def nlupp(root: Path, features: str) -> float:
    folds = [root / "nlupp-banking" / f"fold{i}.json" for i in range(20)]
    scores = []
    for k in range(10):
        held = {2 * k, 2 * k + 1}
        train = data.read([f for i, f in enumerate(folds) if i not in held])
        test = data.read([f for i, f in enumerate(folds) if i in held])
        model = training.train(train, task="intent", features=features)
        scores.append(training.evaluate(model, test)["micro_f1"])
    return statistics.mean(scores)


def tweeteval(root: Path, task: str, folder: str) -> float:
    model = TextClassifier.load(shipped_dir() / task)
    return float(training.evaluate(model, data.read([root / folder / "val_text.txt"]))["macro_f1"])


def pipeline_speed(root: Path) -> dict[str, float]:
    with (root / "banking77" / "test.csv").open(encoding="utf-8") as handle:
        texts = [row["text"] for row in csv.DictReader(handle)]
    extra = [
        "Hi, I was charged twice for my order. Also the parcel is late and I need it by Friday! Thanks",
        "this is the third time my card was declined!!! fix it or I close my account",
    ]
    messages = (texts + extra * 50)[:1000]
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    engine = Triage(Models())
    started = time.perf_counter()
    engine.models.warm()
    warm = time.perf_counter() - started
    engine.analyze([(t, Context()) for t in messages[:50]])
    rates = []
    for _ in range(3):
        started = time.perf_counter()
        engine.analyze([(t, Context()) for t in messages])
        rates.append(len(messages) / (time.perf_counter() - started))
    latencies = []
    for text in messages[:300]:
        started = time.perf_counter()
        engine.analyze([(text, Context())])
        latencies.append((time.perf_counter() - started) * 1000)
    return {
        "batch_messages_per_second": statistics.median(rates),
        "single_p50_ms": statistics.median(latencies),
        "single_p90_ms": statistics.quantiles(latencies, n=10)[-1],
        "warm_seconds": warm,
        "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "rss_before_mb": rss_before,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--accurate", action="store_true", help="Also measure tfidf+minilm features.")
    parser.add_argument("--speed-only", action="store_true", help="Only the pipeline's speed and memory.")
    args = parser.parse_args()
    root = args.data
    rows = []
    # Speed first, in a fresh process state, so the memory number is the server's, not the trainer's.
    speed = pipeline_speed(root)
    rows.append(
        (
            "Whole pipeline, batch of 1,000 (median of 3)",
            "≥ 1,000 msg/s",
            f"{speed['batch_messages_per_second']:.0f} msg/s",
        )
    )
    rows.append(
        (
            "Whole pipeline, one message p50 / p90",
            "p50 ≤ 20 ms",
            f"{speed['single_p50_ms']:.1f} / {speed['single_p90_ms']:.1f} ms",
        )
    )
    rows.append(
        (
            "Memory with all models loaded (peak RSS)",
            "≤ 400 MB",
            f"{speed['rss_mb']:.0f} MB (load {speed['warm_seconds']:.1f} s)",
        )
    )
    print(rows[-3:], flush=True)
    feature_sets = [] if args.speed_only else ["tfidf", "tfidf+minilm"] if args.accurate else ["tfidf"]
    for features in feature_sets:
        accuracy, seconds = banking77(root, features)
        rows.append(
            (
                f"Banking77 test accuracy, {features}",
                "≥ 94%, train < 5 min",
                f"{accuracy:.2%}, trained in {seconds:.0f} s",
            )
        )
        print(rows[-1], flush=True)
        rows.append(
            (
                f"Few-shot 10/intent, Banking77 test, {features} (mean of 3 draws)",
                "≥ 88%",
                f"{few_shot(root, features):.2%}",
            )
        )
        print(rows[-1], flush=True)
        rows.append(
            (
                f"NLU++ banking micro-F1, 18/2 folds, 10 rotations, {features}",
                "≥ 0.92",
                f"{nlupp(root, features):.3f}",
            )
        )
        print(rows[-1], flush=True)
    if not args.speed_only:
        emotion = tweeteval(root, "emotion", "tweeteval-emotion")
        offensive = tweeteval(root, "abuse", "tweeteval-offensive")
        rows.append(("TweetEval emotion macro-F1 (validation), shipped model", "≥ 0.78", f"{emotion:.3f}"))
        rows.append(
            ("TweetEval offensive macro-F1 (validation), shipped model", "≥ 0.78", f"{offensive:.3f}")
        )
    print("| measure | goal | measured |")
    print("| --- | --- | --- |")
    for name, goal, value in rows:
        print(f"| {name} | {goal} | {value} |")


if __name__ == "__main__":
    main()
