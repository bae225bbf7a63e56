"""Training and evaluating text classifiers: the functions behind ``ombud triage train`` and ``evaluate``
and the benchmark. Metrics are the standard ones (scikit-learn's), computed the same way everywhere."""

from __future__ import annotations

import resource
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import numpy as np

from ombud.errors import InvalidInput
from ombud.triage.classifier import OOS, TextClassifier, data_hash
from ombud.triage.data import Dataset
from ombud.triage.embed import Embedder

TASKS = ("intent", "emotion", "sentiment", "abuse")
# Chosen on the training splits and published validation splits (see BENCHMARKS.md), never on a test split.
DEFAULTS: dict[str, dict[str, Any]] = {
    "intent": {"c": 10.0, "threshold": 0.4},
    "emotion": {"c": 10.0, "class_weight": "balanced"},
    "sentiment": {"c": 10.0, "class_weight": "balanced"},
    "abuse": {"c": 10.0, "class_weight": "balanced"},
}
# The share of held-out in-scope messages allowed to fall under the out-of-scope threshold.
OOS_QUANTILE = 0.05
EXAMPLES_KEPT = 20

Progress = Callable[[str], None] | None


def train(
    data: Dataset,
    *,
    task: str = "intent",
    features: str = "tfidf",
    embedder: Embedder | None = None,
    progress: Progress = None,
    vectorizers: list[Any] | None = None,
    **params: Any,
) -> TextClassifier:
    """Return a classifier fitted to ``data``, its out-of-scope threshold calibrated and its training
    metadata (data hash, label counts, examples per intent) attached."""
    if task not in TASKS:
        raise InvalidInput(code="unknown_task", message=f"--task must be one of {', '.join(TASKS)}.")
    settings = {**DEFAULTS[task], **{k: v for k, v in params.items() if v is not None}}
    say = progress or (lambda _message: None)
    counts = Counter(label for row in data.labels for label in row)
    say(f"{len(data)} examples, {len(counts)} labels{', multi-label' if _multilabel(data) else ''}")
    started = time.perf_counter()
    if task == "intent" and not _multilabel(data) and OOS not in counts and "oos_threshold" not in params:
        settings["oos_threshold"] = _calibrate_oos(
            data, features=features, embedder=embedder, say=say, **settings
        )
    say("fitting")
    model = TextClassifier(task=task, features=features, embedder=embedder, **settings).fit(
        data.texts, data.labels, vectorizers=vectorizers
    )
    examples: dict[str, list[str]] = {}
    for text, row in zip(data.texts, data.labels, strict=True):
        for label in row:
            if len(examples.setdefault(label, [])) < EXAMPLES_KEPT:
                examples[label].append(text)
    model.metadata_ = {
        "data": {
            "rows": len(data),
            "sha256": data_hash(data.texts, data.labels),
            "label_counts": dict(counts),
        },
        "training_seconds": round(time.perf_counter() - started, 1),
        "examples": examples,
        "implies": data.implies,
    }
    say(f"trained in {model.metadata_['training_seconds']} s")
    return model


def fit_corrections(corrections: Dataset, data: Dataset) -> tuple[Dataset, int]:
    """Return the intent corrections that fit ``data`` and how many were left out: a "none fits"
    correction only where the data has ``oos`` rows (else it would switch off the out-of-scope
    calibration), several labels only where the data is multi-label (else it would switch the model)."""
    has_oos = any(OOS in row for row in data.labels)
    multilabel = _multilabel(data)
    kept = Dataset([], [])
    for text, labels in zip(corrections.texts, corrections.labels, strict=True):
        if (labels == [OOS] and not has_oos) or (len(labels) > 1 and not multilabel):
            continue
        kept.texts.append(text)
        kept.labels.append(labels)
    return kept, len(corrections) - len(kept)


def _multilabel(data: Dataset) -> bool:
    return any(len(row) != 1 for row in data.labels)


def _calibrate_oos(
    data: Dataset, *, features: str, embedder: Embedder | None, say: Callable[[str], None], **settings: Any
) -> float:
    """Hold out a fifth of each label, and return the best-intent probability that all but OOS_QUANTILE of
    the held-out messages reach: below it, nothing fits well."""
    rng = np.random.default_rng(0)
    by_label: dict[str, list[int]] = {}
    for index, row in enumerate(data.labels):
        by_label.setdefault(row[0], []).append(index)
    held: list[int] = []
    for indexes in by_label.values():
        if len(indexes) >= 3:
            held.extend(rng.choice(indexes, size=max(1, len(indexes) // 5), replace=False).tolist())
    if len(held) < 10:
        return 0.0
    say(f"calibrating the out-of-scope threshold on {len(held)} held-out examples")
    keep = sorted(set(range(len(data))) - set(held))
    probe = TextClassifier(task="intent", features=features, embedder=embedder, **settings).fit(
        [data.texts[i] for i in keep], [data.labels[i] for i in keep]
    )
    best = probe.predict_proba([data.texts[i] for i in held]).max(axis=1)
    return round(float(np.quantile(best, OOS_QUANTILE)), 4)


def evaluate(model: TextClassifier, data: Dataset) -> dict[str, Any]:
    """Return the metrics of ``model`` on ``data`` (see docs/triage.md for each), speed and peak memory."""
    from sklearn.metrics import accuracy_score, f1_score
    from sklearn.preprocessing import MultiLabelBinarizer

    started = time.perf_counter()
    predicted = model.predict(data.texts)
    seconds = time.perf_counter() - started
    metrics: dict[str, Any] = {"rows": len(data)}
    truth = [[label for label in row if label != OOS] for row in data.labels]
    if model.multilabel_ or _multilabel(data):
        labels = sorted(
            {label for row in truth for label in row} | {label for row in predicted for label in row}
        )
        binarizer = MultiLabelBinarizer(classes=labels)
        y_true, y_pred = binarizer.fit_transform(truth), binarizer.transform(predicted)
        metrics["micro_f1"] = round(float(f1_score(y_true, y_pred, average="micro", zero_division=0)), 4)
        metrics["macro_f1"] = round(float(f1_score(y_true, y_pred, average="macro", zero_division=0)), 4)
        metrics["exact_match"] = round(
            float(np.mean([set(t) == set(p) for t, p in zip(truth, predicted, strict=True)])), 4
        )
    else:
        y_true = [row[0] if row else OOS for row in truth]
        y_pred = [row[0] if row else OOS for row in predicted]
        metrics["accuracy"] = round(float(accuracy_score(y_true, y_pred)), 4)
        metrics["macro_f1"] = round(float(f1_score(y_true, y_pred, average="macro", zero_division=0)), 4)
    oos_rows = [i for i, row in enumerate(data.labels) if row == [OOS]]
    if oos_rows:
        in_scope = [i for i in range(len(data)) if data.labels[i] != [OOS]]
        metrics["oos_recall"] = round(sum(1 for i in oos_rows if not predicted[i]) / len(oos_rows), 4)
        if in_scope:
            right = sum(1 for i in in_scope if set(predicted[i]) == set(data.labels[i]))
            metrics["in_scope_accuracy"] = round(right / len(in_scope), 4)
    metrics["messages_per_second"] = round(len(data) / seconds, 1) if seconds > 0 else None
    metrics["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return metrics
