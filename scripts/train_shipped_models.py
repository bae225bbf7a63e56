"""Train the emotion, sentiment and abuse models that ship inside the package, and write their model card.

    .venv/bin/python scripts/train_shipped_models.py [--data ../shared/data]

Trained on public data (TweetEval, see ../shared/data/README.md); measured on the published validation
splits, or by 5-fold cross-validation where only one split exists (sentiment).
"""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np

from ombud.triage import data, training
from ombud.triage.classifier import _vectorizers
from ombud.triage.engine import shipped_dir, train_builtin_intent_model

TASKS = {
    "emotion": ("tweeteval-emotion", "anger / joy / optimism / sadness"),
    "abuse": ("tweeteval-offensive", "offensive / not-offensive"),
    "sentiment": ("tweeteval-sentiment", "negative / neutral / positive"),
}
PARAMS = {"c": 1.0, "class_weight": "balanced", "min_df": 2}


def _cross_validated(dataset: data.Dataset, task: str, vectorizers: list[Any]) -> dict[str, float]:
    rng = np.random.default_rng(0)
    order = rng.permutation(len(dataset))
    scores = []
    for fold in range(5):
        held = set(order[fold::5].tolist())
        train = data.Dataset(
            [t for i, t in enumerate(dataset.texts) if i not in held],
            [lab for i, lab in enumerate(dataset.labels) if i not in held],
        )
        test = data.Dataset(
            [dataset.texts[i] for i in sorted(held)], [dataset.labels[i] for i in sorted(held)]
        )
        scores.append(
            training.evaluate(training.train(train, task=task, vectorizers=vectorizers, **PARAMS), test)[
                "macro_f1"
            ]
        )
    return {"macro_f1_5fold": round(float(np.mean(scores)), 4)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--data", type=Path, default=Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
    )
    args = parser.parse_args()
    lines = [
        "# Model card: the shipped triage models",
        "",
        f"Trained {dt.datetime.now(dt.UTC).date().isoformat()} by `scripts/train_shipped_models.py`",
        "with ombud's own trainer (TF-IDF word 1-2 grams + character 2-5 grams, logistic regression,",
        "balanced class weights, C=1). The three share one vocabulary, fitted on the texts they train on",
        "(for sentiment that includes the folds its cross-validation holds out).",
        "They are the fast path: no sentence encoder (see BENCHMARKS.md for the pipeline's speed).",
        "They learned from public tweets, not service messages: treat emotion and sentiment as hints,",
        "and abuse as one signal next to the cue phrases in `cues.py` (only abuse aimed at the agent",
        "counts).",
        "",
        "| model | labels | training data | rows | measured on | macro-F1 |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    # One vocabulary for the three models: the pipeline then computes a message's features once for all.
    corpus = [
        text
        for folder, _ in TASKS.values()
        for name in ("train_text.txt", "val_text.txt")
        if (args.data / folder / name).is_file()
        and (name == "train_text.txt" or folder.endswith("sentiment"))
        for text in data.read([args.data / folder / name]).texts
    ]
    vectorizers = [v.fit(corpus) for v in _vectorizers(PARAMS["min_df"])]
    for task, (folder, labels) in TASKS.items():
        root = args.data / folder
        if (root / "train_text.txt").is_file():
            train = data.read([root / "train_text.txt"])
            model = training.train(train, task=task, vectorizers=vectorizers, **PARAMS)
            metrics = training.evaluate(model, data.read([root / "val_text.txt"]))
            measured, score = "TweetEval validation split", metrics["macro_f1"]
        else:
            train = data.read([root / "val_text.txt"])
            model = training.train(train, task=task, vectorizers=vectorizers, **PARAMS)
            measured, score = (
                "5-fold cross-validation (only the validation split exists)",
                _cross_validated(train, task, vectorizers)["macro_f1_5fold"],
            )
        split = "train" if (root / "train_text.txt").is_file() else "validation"
        model.metadata_["examples"] = {}
        model.metadata_["metrics"] = {"macro_f1": score, "measured_on": measured}
        model.save(shipped_dir() / task, metadata=model.metadata_)
        lines.append(
            f"| {task} | {labels} | TweetEval {folder.split('-')[1]} ({split} split) | {len(train)} "
            f"| {measured} | {score:.3f} |"
        )
        print(task, score, measured, flush=True)
    builtin = train_builtin_intent_model()
    builtin.save(shipped_dir() / "intent-builtin", metadata=builtin.metadata_)
    lines += [
        "",
        "Licence of the data: research use (TweetEval; see its source). Intent models are per company",
        "and never shipped; the built-in intents (`intent-builtin/`) are trained from the example phrases in",
        "`default-intents.json` (19 intents, 8 phrases each).",
        "",
    ]
    (shipped_dir() / "MODEL_CARD.md").write_text("\n".join(lines), encoding="utf-8")


if __name__ == "__main__":
    main()
