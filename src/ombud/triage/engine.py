"""The loaded triage models and the engine that runs the pipeline over messages.

Models load lazily and once per process: the shipped emotion, sentiment and abuse classifiers (trained
from public data, see ``shipped/MODEL_CARD.md``), the language identifier, and the live intent model (the
company's own, or the built-in few-shot intents until it has one).
"""

from __future__ import annotations

import functools
import json
import threading
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from ombud.triage.classifier import TextClassifier
from ombud.triage.components import DEFAULT_COMPONENTS
from ombud.triage.embed import Embedder
from ombud.triage.pipeline import Context, Doc, Pipeline

SHIPPED_TASKS = ("emotion", "sentiment", "abuse")
BUILTIN_INTENTS = "builtin"
MAX_EXAMPLES = 3
BUILTIN_OOS = 0.2


def shipped_dir() -> Path:
    return Path(str(resources.files("ombud.triage").joinpath("shipped")))


class Models:
    def __init__(self, *, embedder: Embedder | None = None) -> None:
        self.embedder = embedder
        self._lock = threading.RLock()
        self._intent: TextClassifier | None = None
        self._intent_version = BUILTIN_INTENTS
        self._example_vectors: dict[str, tuple[TextClassifier, list[str], Any]] = {}

    # -- the intent model ------------------------------------------------------------------------------------
    def intent(self) -> TextClassifier:
        with self._lock:
            if self._intent is None:
                self._intent = builtin_intent_model()
            return self._intent

    def intent_version(self) -> str:
        return self._intent_version

    def use_intent(self, model: TextClassifier, version: str) -> None:
        with self._lock:
            self._intent, self._intent_version = model, version
            self._example_vectors.clear()

    def use_builtin_intents(self) -> None:
        with self._lock:
            self._intent, self._intent_version = None, BUILTIN_INTENTS
            self._example_vectors.clear()

    def implications(self) -> dict[str, list[str]]:
        implies: dict[str, list[str]] = self.intent().metadata_.get("implies", {})
        return implies

    def examples(
        self, model: TextClassifier, texts: Sequence[str], labels: Sequence[str | None]
    ) -> list[list[str]]:
        """Return, for each text, the training examples of its label nearest to it (why the model chose
        it); none where the label is None. One transform for the whole batch."""
        out: list[list[str]] = [[] for _ in texts]
        wanted = [i for i, label in enumerate(labels) if label is not None]
        if not wanted:
            return out
        vectors = model.vectorizers_[1].transform([texts[i] for i in wanted])
        by_label: dict[str, list[int]] = {}
        for k, i in enumerate(wanted):
            by_label.setdefault(str(labels[i]), []).append(k)
        for label, rows in by_label.items():
            with self._lock:
                cached = self._example_vectors.get(label)
                if cached is None or cached[0] is not model:  # keyed to the model that chose the label
                    known = list(model.metadata_.get("examples", {}).get(label, []))
                    matrix = model.vectorizers_[1].transform(known) if known else None
                    cached = self._example_vectors[label] = (model, known, matrix)
                _, known, matrix = cached
            if not known:
                continue
            similarity = np.asarray((matrix @ vectors[rows].T).todense())  # examples x rows
            for column, k in enumerate(rows):
                nearest = np.argsort(-similarity[:, column])[:MAX_EXAMPLES]
                out[wanted[k]] = [known[j] for j in nearest]
        return out

    # -- shipped models --------------------------------------------------------------------------------------
    def shipped(self, task: str) -> TextClassifier:
        return _shipped(task)

    def language_identifier(self) -> Any:
        return _language_identifier()

    def warm(self) -> None:
        """Load every model now (a server does this at start-up, so the first message is not slow)."""
        self.intent()
        for task in SHIPPED_TASKS:
            self.shipped(task)
        self.language_identifier()


# Read-only after loading, so one copy serves every runtime in the process (tests build many).
_vocabularies: dict[str, list[Any]] = {}


@functools.cache
def _shipped(task: str) -> TextClassifier:
    model = TextClassifier.load(shipped_dir() / task)
    # The shipped models were trained on one shared vocabulary: share the vectorizer objects too, so a
    # message's features are computed once for all of them (see classifier.transform).
    shared = _vocabularies.setdefault(model.metadata_.get("vocabulary_sha256", task), model.vectorizers_)
    model.vectorizers_ = shared
    return model


@functools.cache
def _language_identifier() -> Any:
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def builtin_definitions() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((shipped_dir() / "default-intents.json").read_text("utf-8"))
    return loaded


def train_builtin_intent_model() -> TextClassifier:
    """Return the built-in few-shot intent model trained from the shipped example phrases."""
    from ombud.triage import data, training

    dataset = data.from_definitions(builtin_definitions(), where="default-intents.json")
    # Eight examples an intent are too few to calibrate on; this threshold was set by reading its answers.
    return training.train(dataset, task="intent", progress=None, oos_threshold=BUILTIN_OOS)


@functools.cache
def builtin_intent_model() -> TextClassifier:
    """Return the built-in intent model as shipped (trained by scripts/train_shipped_models.py; a test
    checks that it was trained from the current default-intents.json)."""
    return TextClassifier.load(shipped_dir() / "intent-builtin")


class Triage:
    """Runs the pipeline; ``analyze`` gives one result per (text, context) in the public JSON shape."""

    def __init__(self, models: Models, components: Sequence[str] = DEFAULT_COMPONENTS) -> None:
        self.models = models
        self.pipeline = Pipeline.build(components, models)

    def analyze(self, items: Sequence[tuple[str, Context]]) -> list[dict[str, Any]]:
        docs = [Doc(text=text, context=context) for text, context in items]
        self.pipeline(docs)
        return [result(doc) for doc in docs]


def result(doc: Doc) -> dict[str, Any]:
    a = doc.annotations
    return {
        "concerns": a.get("concerns", []),
        "out_of_scope": a.get("out_of_scope", False),
        "emotion": a.get("emotion"),
        "sentiment": a.get("sentiment"),
        "frustration": a.get("frustration"),
        "urgency": a.get("urgency"),
        "entities": [e.public() for e in a.get("entities", [])],
        "language": a.get("language"),
        "abusive": a.get("abusive", False),
        "unspoken": a.get("unspoken", []),
        "explanations": doc.explanations,
    }
