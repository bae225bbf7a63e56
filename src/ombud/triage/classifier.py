"""A text classifier trained on a company's own labelled messages: TF-IDF word and character n-grams,
optionally joined by sentence embeddings, under one linear head (softmax for one label per text, one
sigmoid per label for several).

It follows scikit-learn's estimator contract (``__init__`` stores arguments, ``fit`` returns self, learned
state ends in ``_``) and is saved as a versioned artifact: ``model.json`` (labels, settings, training
metadata and metrics) and ``weights.npz`` (arrays only, loaded with ``allow_pickle=False``, so opening a
model directory never runs code from it).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from scipy import sparse

from ombud.errors import InvalidInput
from ombud.triage.embed import Embedder, MiniLM

FORMAT = "ombud-text-classifier/1"
OOS = "oos"
FEATURES = ("tfidf", "tfidf+minilm")


def _vectorizers(min_df: int) -> list[Any]:
    from sklearn.feature_extraction.text import TfidfVectorizer

    common: dict[str, Any] = {"sublinear_tf": True, "lowercase": True, "dtype": np.float32, "min_df": min_df}
    words = r"(?u)\b\w+\b"  # single-letter words too ("i", "a"): they matter in short requests
    return [
        TfidfVectorizer(analyzer="word", ngram_range=(1, 2), token_pattern=words, **common),
        TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), **common),
    ]


class TextClassifier:
    def __init__(
        self,
        *,
        task: str = "intent",
        features: str = "tfidf",
        c: float = 10.0,
        embedding_weight: float = 2.0,
        class_weight: str | None = None,
        threshold: float = 0.4,
        oos_threshold: float = 0.0,
        min_df: int = 1,
        embedder: Embedder | None = None,
    ) -> None:
        self.task = task
        self.features = features
        self.c = c
        self.embedding_weight = embedding_weight
        self.class_weight = class_weight
        self.threshold = threshold
        self.oos_threshold = oos_threshold
        self.min_df = min_df
        self.embedder = embedder

    # -- training --------------------------------------------------------------------------------------------
    def fit(
        self, texts: Sequence[str], labels: Sequence[Sequence[str]], *, vectorizers: list[Any] | None = None
    ) -> TextClassifier:
        """Learn from ``texts`` and their label lists; several labels on any row makes it multi-label.
        ``vectorizers`` (already fitted) lets several models share one vocabulary, so the pipeline
        computes their features once."""
        from sklearn.linear_model import LogisticRegression
        from sklearn.multiclass import OneVsRestClassifier

        if self.features not in FEATURES:
            raise InvalidInput(code="bad_features", message=f"features must be one of {', '.join(FEATURES)}.")
        self.multilabel_ = any(len(row) != 1 for row in labels)
        self.labels_ = sorted({label for row in labels for label in row})
        if len(self.labels_) < 2:
            raise InvalidInput(code="too_few_labels", message="Training needs at least two different labels.")
        self.vectorizers_ = vectorizers or [v.fit(texts) for v in _vectorizers(self.min_df)]
        matrix = self._features(list(texts))
        index = {label: i for i, label in enumerate(self.labels_)}
        if self.multilabel_:
            targets = np.zeros((len(texts), len(self.labels_)), dtype=np.int8)
            for row, row_labels in enumerate(labels):
                for label in row_labels:
                    targets[row, index[label]] = 1
            head = OneVsRestClassifier(
                LogisticRegression(C=self.c, max_iter=2000, class_weight=self.class_weight), n_jobs=None
            ).fit(matrix, targets)
            self.coef_ = np.vstack([e.coef_ for e in head.estimators_]).astype(np.float32)
            self.intercept_ = np.concatenate([e.intercept_ for e in head.estimators_]).astype(np.float32)
        else:
            y = np.array([index[row[0]] for row in labels])
            model = LogisticRegression(C=self.c, max_iter=3000, class_weight=self.class_weight).fit(matrix, y)
            coef, intercept = model.coef_, model.intercept_
            if len(self.labels_) == 2:  # binary LR keeps one row; softmax over [-z/2, z/2] is the same model
                coef = np.vstack([-coef[0] / 2, coef[0] / 2])
                intercept = np.array([-intercept[0] / 2, intercept[0] / 2])
            self.coef_ = coef.astype(np.float32)
            self.intercept_ = intercept.astype(np.float32)
        return self

    # -- prediction ------------------------------------------------------------------------------------------
    def _features(self, texts: list[str]) -> Any:
        parts: list[Any] = [transform(v, texts) for v in self.vectorizers_]
        if self.features == "tfidf+minilm":
            if self.embedder is None:
                self.embedder = MiniLM()
            parts.append(sparse.csr_matrix(self.embedder.embed_batch(texts) * self.embedding_weight))
        return sparse.hstack(parts, format="csr")

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Return one row of label probabilities per text (columns in ``labels_`` order)."""
        if not texts:
            return np.zeros((0, len(self.labels_)), dtype=np.float32)
        scores: np.ndarray = np.asarray(self._features(list(texts)) @ self.coef_.T) + self.intercept_
        if self.multilabel_:
            sigmoid: np.ndarray = 1.0 / (1.0 + np.exp(-scores))
            return sigmoid
        scores -= scores.max(axis=1, keepdims=True)
        exp: np.ndarray = np.exp(scores)
        probabilities: np.ndarray = exp / exp.sum(axis=1, keepdims=True)
        return probabilities

    def decide(self, row: np.ndarray) -> list[tuple[str, float]]:
        """Return the labels ``row`` (one predict_proba row) assigns, best first; empty means out of scope."""
        order = np.argsort(-row)
        if self.multilabel_:
            chosen = [(self.labels_[i], float(row[i])) for i in order if row[i] >= self.threshold]
        else:
            best = int(order[0])
            chosen = [] if row[best] < self.oos_threshold else [(self.labels_[best], float(row[best]))]
        return [(label, p) for label, p in chosen if label != OOS]

    def explain(self, texts: Sequence[str], labels: Sequence[str | None], limit: int = 5) -> list[list[str]]:
        """Return, for each text, the words and word pairs in it that pushed most towards its label in
        ``labels`` (None: no explanation). One transform for the whole batch."""
        out: list[list[str]] = [[] for _ in texts]
        wanted = [i for i, label in enumerate(labels) if label is not None]
        if not wanted:
            return out
        vectorizer = self.vectorizers_[0]
        rows = transform(vectorizer, [texts[i] for i in wanted])
        if not hasattr(self, "word_explainer_"):
            width = len(vectorizer.vocabulary_)
            # One label's pull is its weight against the others' mean (softmax), or its own (sigmoid).
            baseline = np.zeros(width) if self.multilabel_ else self.coef_[:, :width].mean(axis=0)
            # Set once, whole: a second thread never sees half of it.
            self.word_explainer_ = (vectorizer.get_feature_names_out(), self.coef_[:, :width] - baseline)
        names, word_weights = self.word_explainer_
        for k, i in enumerate(wanted):
            start, end = rows.indptr[k], rows.indptr[k + 1]
            columns, values = rows.indices[start:end], rows.data[start:end]
            weights = word_weights[self.labels_.index(str(labels[i]))]
            scores = values * weights[columns]
            best = np.argsort(-scores)[:limit]
            out[i] = [str(names[columns[j]]) for j in best if scores[j] > 0]
        return out

    word_explainer_: tuple[np.ndarray, np.ndarray]

    def predict(self, texts: Sequence[str]) -> list[list[str]]:
        return [[label for label, _ in self.decide(row)] for row in self.predict_proba(texts)]

    # -- artifact --------------------------------------------------------------------------------------------
    def save(self, directory: Path, *, metadata: dict[str, Any]) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        arrays: dict[str, np.ndarray] = {"coef": self.coef_, "intercept": self.intercept_}
        for i, vectorizer in enumerate(self.vectorizers_):
            vocabulary = sorted(vectorizer.vocabulary_, key=vectorizer.vocabulary_.__getitem__)
            arrays[f"vocabulary{i}"] = np.array(vocabulary, dtype=np.str_)
            arrays[f"idf{i}"] = vectorizer.idf_.astype(np.float32)
        np.savez_compressed(directory / "weights.npz", **arrays)  # type: ignore[arg-type]
        document = {
            "format": FORMAT,
            "task": self.task,
            "labels": self.labels_,
            "multilabel": self.multilabel_,
            "features": self.features,
            "params": {
                "c": self.c,
                "embedding_weight": self.embedding_weight,
                "class_weight": self.class_weight,
                "threshold": self.threshold,
                "oos_threshold": self.oos_threshold,
                "min_df": self.min_df,
            },
            "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "vocabulary_sha256": vocabulary_hash(self.vectorizers_),
            **metadata,
        }
        (directory / "model.json").write_text(json.dumps(document, indent=2, sort_keys=True) + "\n", "utf-8")

    @classmethod
    def load(cls, directory: Path, *, embedder: Embedder | None = None) -> TextClassifier:
        """Return the classifier saved in ``directory``; InvalidInput says what is wrong with it."""
        try:
            document = json.loads((directory / "model.json").read_text("utf-8"))
            if not isinstance(document, dict) or document.get("format") != FORMAT:
                raise InvalidInput(
                    code="bad_model",
                    message=f"{directory} holds no ombud text classifier (model.json format).",
                )
            with np.load(directory / "weights.npz", allow_pickle=False) as arrays:
                loaded = {key: arrays[key] for key in arrays.files}
            return cls._build(document, loaded, embedder)
        except FileNotFoundError as error:
            raise InvalidInput(
                code="bad_model",
                message=f"{directory} is not a model directory: {error.filename} is missing.",
            ) from None
        except (OSError, ValueError, KeyError, TypeError, AttributeError, IndexError) as error:
            raise InvalidInput(
                code="bad_model", message=f"{directory} holds a damaged model: {error!r}."
            ) from None

    @classmethod
    def _build(
        cls, document: dict[str, Any], loaded: dict[str, Any], embedder: Embedder | None
    ) -> TextClassifier:
        model = cls(
            task=document["task"], features=document["features"], embedder=embedder, **document["params"]
        )
        model.labels_ = list(document["labels"])
        model.multilabel_ = bool(document["multilabel"])
        model.vectorizers_ = _vectorizers(int(document["params"].get("min_df", 1)))
        for i, vectorizer in enumerate(model.vectorizers_):
            vocabulary = loaded[f"vocabulary{i}"]
            vectorizer.vocabulary_ = {str(term): j for j, term in enumerate(vocabulary)}
            vectorizer.idf_ = loaded[f"idf{i}"]
        model.coef_ = loaded["coef"]
        model.intercept_ = loaded["intercept"]
        model.metadata_ = document
        if model.coef_.shape[0] != len(model.labels_) or model.features not in FEATURES:
            raise ValueError("the weights do not match the labels, or the features are unknown")
        return model

    metadata_: dict[str, Any]


_recent = threading.local()
RECENT = 8


def transform(vectorizer: Any, texts: list[str]) -> Any:
    """Return ``vectorizer.transform(texts)``, reusing the result when the same vectorizer (shared by
    several models, or asked again to explain) has just transformed the same texts in this thread."""
    key = (id(vectorizer), tuple(texts))
    cache: OrderedDict[tuple[int, tuple[str, ...]], Any] = getattr(_recent, "cache", None) or OrderedDict()
    _recent.cache = cache
    hit = cache.get(key)
    if hit is not None and hit[0] is vectorizer:  # the same object, not a new one at a reused address
        cache.move_to_end(key)
        return hit[1]
    matrix = vectorizer.transform(texts)
    cache[key] = (vectorizer, matrix)
    while len(cache) > RECENT:
        cache.popitem(last=False)
    return matrix


def vocabulary_hash(vectorizers: list[Any]) -> str:
    digest = hashlib.sha256()
    for vectorizer in vectorizers:
        digest.update(json.dumps(sorted(vectorizer.vocabulary_.items())).encode())
        digest.update(np.asarray(vectorizer.idf_, dtype=np.float32).tobytes())
    return digest.hexdigest()


def data_hash(texts: Sequence[str], labels: Sequence[Sequence[str]]) -> str:
    digest = hashlib.sha256()
    for text, row in zip(texts, labels, strict=True):
        digest.update(json.dumps([text, sorted(row)]).encode())
    return digest.hexdigest()
