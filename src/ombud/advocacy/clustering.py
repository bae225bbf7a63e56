"""Themes from concern vectors without being told how many there are (docs/advocacy.md).

Everything here is pure: numpy arrays in, numpy arrays / plain data out. The vectors are unit-length sentence
embeddings (``ombud.triage.embed.shared_minilm().embed_batch``, 384 dims), so a dot product is a cosine
similarity.

- :func:`cluster` groups vectors by a cosine-similarity threshold (agglomerative, average linkage); above
  ``DIRECT_LIMIT`` vectors it first over-clusters into micro-clusters (a few k-means steps on a sample) and
  then joins the micro-centroids with the same threshold, which keeps a million concerns within minutes.
- :func:`describe` names each cluster by its key phrases (class-based TF-IDF of 1-3 word n-grams) and picks
  the distinct members closest to its centroid as quotes.
- :class:`OnlineThemes` assigns one new vector at a time to the nearest active centroid, or opens a theme.
- :func:`match` carries theme ids across a re-clustering (members first, centroids second).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Hashable, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

Vectors = NDArray[np.float32]
Labels = NDArray[np.int64]

# Cosine similarity above which two groups are one theme (average linkage: the mean similarity between
# their members). Tuned on the Banking77 train split only (docs/advocacy.md).
THRESHOLD = 0.55
# Online assignment joins a theme when the concern is this similar to its (normalised) centroid. A
# member's cosine to its theme's centroid is higher than its mean cosine to the other members (about the
# square root of it), so this is a looser bar than the linkage threshold; calibrated on the train split:
# concerns assigned online to themes clustered from others get the same AMI as clustered ones (0.72-0.73),
# with few new themes (above 0.6, hundreds of small new themes open).
ASSIGN_THRESHOLD = 0.55
# A lone concern is noise (-1). Clusters under SMALL members join the nearest larger cluster when their
# members are at least ABSORB similar to its centroid (tuned on the Banking77 train split: +0.01 AMI).
MIN_SIZE = 2
SMALL = 5
ABSORB = 0.5
# Up to this many vectors are clustered directly (scipy's condensed distance matrix: 12,000 vectors are
# 72 million float64, 0.6 GB). Above it: the two-stage path.
DIRECT_LIMIT = 12_000
MICRO_PER_CLUSTER = 8  # micro-clusters: n / this, capped at MAX_MICRO
MAX_MICRO = 4_000
FIT_SAMPLE = 200_000  # the micro-clusters are fitted on at most this many vectors
LLOYD_STEPS = 3


@dataclass(frozen=True)
class ThemeSummary:
    """What a cluster is about: a readable label, its key phrases, and quotes (indices into the texts)."""

    label: str
    key_phrases: list[str]
    quotes: list[int]
    size: int


def _unit(vectors: NDArray[np.floating]) -> Vectors:
    array = np.asarray(vectors, dtype=np.float32)
    if array.ndim != 2:
        raise ValueError("vectors must be a 2-d array, one row per concern")
    norms = np.linalg.norm(array, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    unit: Vectors = (array / norms).astype(np.float32)
    return unit


def _agglomerate(vectors: Vectors, threshold: float, weights: NDArray[np.float64] | None = None) -> Labels:
    """Average-linkage clustering cut at cosine similarity ``threshold``.

    ``weights[i]`` says how many concerns point i stands for (a micro-cluster in the two-stage path): the
    similarity of two groups is the size-weighted mean of their parts' similarities.
    """
    count = vectors.shape[0]
    if count <= 1:
        return np.zeros(count, dtype=np.int64)
    if weights is None:
        from scipy.cluster.hierarchy import fcluster, linkage
        from scipy.spatial.distance import pdist

        tree = linkage(pdist(vectors, metric="cosine"), method="average")
        flat = fcluster(tree, t=1.0 - threshold, criterion="distance")
        return (np.asarray(flat, dtype=np.int64) - 1).astype(np.int64)
    return _nn_chain_average(vectors, weights, 1.0 - threshold)


def _nn_chain_average(vectors: Vectors, weights: NDArray[np.float64], cut: float) -> Labels:
    """Weighted average linkage by the nearest-neighbour chain (O(n^2) time and memory), cut at ``cut``.

    Average linkage is reducible and has no inversions, so the clusters at a cut are exactly the unions of
    the merges at heights up to the cut; merges above it are never needed and the chain stops there.
    """
    count = vectors.shape[0]
    distance = (1.0 - vectors @ vectors.T).astype(np.float32)
    np.fill_diagonal(distance, np.inf)
    size = np.asarray(weights, dtype=np.float64).copy()
    alive = np.ones(count, dtype=bool)
    parent = np.arange(count)

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = int(parent[i])
        return i

    chain: list[int] = []
    remaining = count
    while remaining > 1:
        if not chain:
            chain.append(int(np.flatnonzero(alive)[0]))
        top = chain[-1]
        nearest = int(np.argmin(distance[top]))
        height = float(distance[top, nearest])
        if not np.isfinite(height):
            break
        if len(chain) > 1 and distance[top, chain[-2]] <= height:
            nearest = chain[-2]
            height = float(distance[top, nearest])
        if len(chain) == 1 or nearest != chain[-2]:
            chain.append(nearest)
            continue
        chain.pop()
        chain.pop()
        if height > cut:
            # Reciprocal nearest neighbours further apart than the cut: neither can merge below it any
            # more (reducibility), so take them out of the game.
            for gone in (top, nearest):
                alive[gone] = False
                distance[gone, :] = np.inf
                distance[:, gone] = np.inf
                remaining -= 1
            chain.clear()
            continue
        keep, gone = (top, nearest) if top < nearest else (nearest, top)
        total = size[keep] + size[gone]
        merged = (size[keep] * distance[keep] + size[gone] * distance[gone]) / total
        merged[~alive] = np.inf
        distance[keep, :] = merged
        distance[:, keep] = merged
        distance[keep, keep] = np.inf
        distance[gone, :] = np.inf
        distance[:, gone] = np.inf
        alive[gone] = False
        size[keep] = total
        parent[gone] = keep
        remaining -= 1
    return np.array([root(i) for i in range(count)], dtype=np.int64)


def _relabel(labels: Labels, min_size: int) -> Labels:
    """Largest cluster first as 0, 1, ...; clusters under min_size become -1."""
    values, counts = np.unique(labels[labels >= 0], return_counts=True)
    order = np.argsort(-counts, kind="stable")
    mapping = np.full(int(labels.max(initial=-1)) + 2, -1, dtype=np.int64)
    next_label = 0
    for index in order:
        if counts[index] >= min_size:
            mapping[values[index]] = next_label
            next_label += 1
    return np.where(labels >= 0, mapping[labels], -1).astype(np.int64)


def cluster(
    vectors: NDArray[np.floating],
    *,
    threshold: float = THRESHOLD,
    min_size: int = MIN_SIZE,
    seed: int = 0,
) -> Labels:
    """Cluster unit vectors into themes without being told how many; -1 marks isolated concerns.

    Labels are 0..k-1, the largest theme first. Deterministic for a given ``seed``.
    """
    data = _unit(vectors)
    count = data.shape[0]
    if count == 0:
        return np.zeros(0, dtype=np.int64)
    labels = _agglomerate(data, threshold) if count <= DIRECT_LIMIT else _two_stage(data, threshold, seed)
    return _relabel(_absorb_small(data, labels), min_size)


def _absorb_small(data: Vectors, labels: Labels) -> Labels:
    """Members of clusters under ``SMALL`` join the nearest bigger cluster if close enough to its centroid."""
    values, counts = np.unique(labels, return_counts=True)
    big = values[counts >= SMALL]
    small_rows = np.flatnonzero(~np.isin(labels, big))
    if big.size == 0 or small_rows.size == 0:
        return labels
    sums = np.zeros((int(labels.max()) + 1, data.shape[1]), dtype=np.float64)
    np.add.at(sums, labels, data)
    centres = _unit(sums[big])
    out = labels.copy()
    for begin in range(0, small_rows.size, 8192):
        rows = small_rows[begin : begin + 8192]
        similarity = data[rows] @ centres.T
        best = np.argmax(similarity, axis=1)
        close = similarity[np.arange(rows.size), best] >= ABSORB
        out[rows[close]] = big[best[close]]
    return out


def _nearest(data: Vectors, centres: Vectors) -> Labels:
    """Index of the nearest centre (euclidean) of each row, in chunks: argmax of x.c - |c|^2 / 2."""
    half = 0.5 * (centres * centres).sum(axis=1)
    out = np.empty(data.shape[0], dtype=np.int64)
    for begin in range(0, data.shape[0], 32_768):
        scores = data[begin : begin + 32_768] @ centres.T
        scores -= half[None, :]
        out[begin : begin + 32_768] = np.argmax(scores, axis=1)
    return out


def _two_stage(data: Vectors, threshold: float, seed: int) -> Labels:
    """Micro-clusters by a few k-means (Lloyd) steps on a sample, every vector to its nearest micro-centroid,
    then the micro-centroids joined by size-weighted average linkage at the same threshold."""
    count = data.shape[0]
    micro = min(MAX_MICRO, max(2, count // MICRO_PER_CLUSTER))
    rng = np.random.default_rng(seed)
    sample = data[rng.choice(count, size=min(count, FIT_SAMPLE), replace=False)]
    centres = sample[rng.choice(sample.shape[0], size=micro, replace=False)].copy()
    for _ in range(LLOYD_STEPS):
        nearest = _nearest(sample, centres)
        sums = np.zeros(centres.shape, dtype=np.float64)
        np.add.at(sums, nearest, sample)
        filled = np.bincount(nearest, minlength=micro) > 0
        centres[filled] = (sums[filled] / np.bincount(nearest, minlength=micro)[filled, None]).astype(
            np.float32
        )
    assigned = _nearest(data, centres)
    sizes = np.bincount(assigned, minlength=micro).astype(np.float64)
    used = np.flatnonzero(sizes > 0)
    sums = np.zeros((micro, data.shape[1]), dtype=np.float64)
    np.add.at(sums, assigned, data)
    top = _agglomerate(_unit(sums[used]), threshold, sizes[used])
    lookup = np.full(micro, -1, dtype=np.int64)
    lookup[used] = top
    result: Labels = lookup[assigned]
    return result


def centroids(vectors: NDArray[np.floating], labels: Labels) -> tuple[list[int], Vectors]:
    """The clusters' labels (ascending, -1 left out) and their mean vectors (not re-normalised)."""
    data = np.asarray(vectors, dtype=np.float32)
    ids = sorted(int(x) for x in np.unique(labels) if x >= 0)
    out = np.zeros((len(ids), data.shape[1] if data.ndim == 2 else 0), dtype=np.float32)
    for row, label in enumerate(ids):
        out[row] = data[labels == label].mean(axis=0)
    return ids, out


# -- describing themes -------------------------------------------------------------------------------

_TOKEN = re.compile(r"(?u)\b[a-zA-Z][a-zA-Z'\-]+\b")
_CONTRACTIONS = [
    "aren't",
    "can't",
    "couldn't",
    "didn't",
    "doesn't",
    "don't",
    "hadn't",
    "hasn't",
    "haven't",
    "he's",
    "i'd",
    "i'll",
    "i'm",
    "i've",
    "isn't",
    "it's",
    "let's",
    "shouldn't",
    "that's",
    "there's",
    "they're",
    "wasn't",
    "we're",
    "we've",
    "weren't",
    "what's",
    "won't",
    "wouldn't",
    "you're",
    "you've",
]


def _stop_words() -> list[str]:
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return sorted(ENGLISH_STOP_WORDS | set(_CONTRACTIONS) | {c.replace("'", "") for c in _CONTRACTIONS})


def _stem(word: str) -> str:
    """Crude: enough to see that "rate" and "rates", "arrive" and "arrived" are one word in a label."""
    for suffix in ("ing", "ed", "es", "s", "e"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def key_phrases(
    texts: Sequence[str], labels: Labels, *, top: int = 5, only: Collection[int] | None = None
) -> dict[int, list[str]]:
    """Each cluster's (not -1) most characteristic 1-3 word phrases, best first: class-based TF-IDF of
    the cluster's text against the other clusters', English stop words left out. ``only`` limits which
    clusters are returned (all of them still count as "the rest")."""
    from sklearn.feature_extraction.text import CountVectorizer

    labels = np.asarray(labels, dtype=np.int64)
    if len(texts) != labels.shape[0]:
        raise ValueError("texts and labels must have the same length")
    ids = sorted(int(x) for x in np.unique(labels) if x >= 0)
    if not ids:
        return {}
    documents = [" ".join(str(texts[int(i)]) for i in np.flatnonzero(labels == label)) for label in ids]
    try:
        vectorizer = CountVectorizer(
            ngram_range=(1, 3), stop_words=_stop_words(), token_pattern=_TOKEN.pattern, lowercase=True
        )
        counts = vectorizer.fit_transform(documents)
    except ValueError:  # only stop words, or no words at all
        return {label: [] for label in ids if only is None or label in only}
    vocabulary = np.asarray(vectorizer.get_feature_names_out())
    rows = [row for row, label in enumerate(ids) if only is None or label in only]
    phrases = _class_tfidf_phrases(counts, vocabulary, top, rows)
    return {ids[row]: phrases[n] for n, row in enumerate(rows)}


def describe(
    texts: Sequence[str],
    labels: Labels,
    vectors: NDArray[np.floating],
    *,
    phrases: int = 5,
    quotes: int = 3,
) -> dict[int, ThemeSummary]:
    """Label each cluster (not -1) by key phrases and pick its distinct members closest to the centroid
    as quotes (indices into ``texts``)."""
    labels = np.asarray(labels, dtype=np.int64)
    keys = key_phrases(texts, labels, top=phrases)
    if not keys:
        return {}
    data = _unit(vectors)
    out: dict[int, ThemeSummary] = {}
    for label, found in keys.items():
        members = np.flatnonzero(labels == label)
        centre = data[members].mean(axis=0)
        order = members[np.argsort(-(data[members] @ centre), kind="stable")]
        picked: list[int] = []
        seen: set[str] = set()
        for index in order:
            key = " ".join(str(texts[index]).lower().split())
            if key in seen:
                continue
            seen.add(key)
            picked.append(int(index))
            if len(picked) == quotes:
                break
        polite = [phrase for phrase in found if not RUDE.search(phrase)]
        text = " · ".join(polite[:2]) if polite else _fallback_label(str(texts[picked[0]]))
        out[label] = ThemeSummary(label=text, key_phrases=polite, quotes=picked, size=int(members.size))
    return out


def _class_tfidf_phrases(
    counts: object, vocabulary: NDArray[np.str_], top: int, rows: Sequence[int]
) -> list[list[str]]:
    """Class-based TF-IDF: a phrase's frequency in the cluster, weighed by how rare it is across clusters."""
    from scipy.sparse import csr_matrix

    matrix = csr_matrix(counts)
    totals = np.asarray(matrix.sum(axis=1)).ravel()
    totals[totals == 0] = 1.0
    frequency = np.asarray(matrix.sum(axis=0)).ravel()
    average = float(totals.mean())
    idf = np.log1p(average / np.maximum(frequency, 1.0))
    # Longer phrases are more readable than their words, when they are as characteristic.
    lengths = np.array([1.0 + 0.35 * (len(term.split()) - 1) for term in vocabulary])
    out: list[list[str]] = []
    for row in rows:
        start, end = matrix.indptr[row], matrix.indptr[row + 1]
        columns = matrix.indices[start:end]
        values = matrix.data[start:end]
        # A phrase said once in a big cluster is chance, not a theme.
        keep = values >= max(1.0, 0.05 * min(totals[row] / 8.0, 20.0))
        columns, values = columns[keep], values[keep]
        scores = values / totals[row] * idf[columns] * lengths[columns]
        chosen: list[str] = []
        used: set[str] = set()
        for column in columns[np.argsort(-scores, kind="stable")]:
            term = str(vocabulary[column])
            # Each phrase says something new: no word (stemmed) of an earlier one again.
            stems = {_stem(word) for word in term.split()}
            if stems & used:
                continue
            used |= stems
            chosen.append(term)
            if len(chosen) == top:
                break
        out.append(chosen)
    return out


# Insults and swearing never name a theme: advocates, departments and digests read theme labels, and one
# abusive message must not put its words on a dashboard (the quotes keep what customers wrote).
RUDE = re.compile(
    r"\b(?:idiots?|morons?|stupid|incompetent|useless|clowns?|pathetic|imbeciles?|retard\w*|losers?|"
    r"worthless|scum|bitch\w*|bastards?|dumb|brainless|fuck\w*|shit\w*|crap\w*|damn\w*|hell|arse\w*|"
    r"ass(?:hole)?s?|wankers?|twats?|dickheads?)\b",
    re.IGNORECASE,
)


def _fallback_label(text: str) -> str:
    words = [word for word in str(text).split() if not RUDE.search(word)]
    if not words:
        return "unlabelled theme"
    return " ".join(words[:6]) + ("…" if len(words) > 6 else "")


# -- online assignment -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Assignment:
    theme: int
    similarity: float
    created: bool


@dataclass
class OnlineThemes:
    """Nearest-centroid assignment of one concern at a time, with incremental centroid updates.

    Keeps the unit-normalised centroids in one matrix so a lookup is a single matrix-vector product.
    """

    threshold: float = ASSIGN_THRESHOLD
    dimensions: int = 384
    _ids: list[int] = field(default_factory=list)
    _index: dict[int, int] = field(default_factory=dict)
    _sums: NDArray[np.float64] = field(default_factory=lambda: np.zeros((0, 0)))
    _units: Vectors = field(default_factory=lambda: np.zeros((0, 0), dtype=np.float32))
    _sizes: list[int] = field(default_factory=list)
    _capacity: int = 0

    def __post_init__(self) -> None:
        self._sums = np.zeros((0, self.dimensions))
        self._units = np.zeros((0, self.dimensions), dtype=np.float32)

    @classmethod
    def from_centroids(
        cls,
        ids: Sequence[int],
        centroids: NDArray[np.floating],
        sizes: Sequence[int],
        *,
        threshold: float = ASSIGN_THRESHOLD,
    ) -> OnlineThemes:
        """Start from existing themes: their ids, mean vectors and member counts."""
        matrix = np.asarray(centroids, dtype=np.float64)
        dims = matrix.shape[1] if matrix.ndim == 2 and matrix.shape[0] else 384
        themes = cls(threshold=threshold, dimensions=dims)
        for theme_id, centre, size in zip(ids, matrix, sizes, strict=True):
            themes.add(int(theme_id), centre, size=max(1, int(size)))
        return themes

    def __len__(self) -> int:
        return len(self._ids)

    @property
    def ids(self) -> list[int]:
        return list(self._ids)

    def size(self, theme: int) -> int:
        return self._sizes[self._index[theme]]

    def centroid(self, theme: int) -> NDArray[np.float64]:
        """The mean of the theme's member vectors."""
        row = self._index[theme]
        result: NDArray[np.float64] = self._sums[row] / self._sizes[row]
        return result

    def _grow(self) -> None:
        capacity = max(16, 2 * self._capacity)
        sums = np.zeros((capacity, self.dimensions))
        units = np.zeros((capacity, self.dimensions), dtype=np.float32)
        sums[: len(self._ids)] = self._sums[: len(self._ids)]
        units[: len(self._ids)] = self._units[: len(self._ids)]
        self._sums, self._units, self._capacity = sums, units, capacity

    def add(self, theme: int, centroid: NDArray[np.floating], *, size: int = 1) -> None:
        """Add a theme with its mean vector and member count (replaces one with the same id)."""
        if theme in self._index:
            self.remove(theme)
        if len(self._ids) == self._capacity:
            self._grow()
        row = len(self._ids)
        self._ids.append(theme)
        self._index[theme] = row
        self._sizes.append(size)
        self._sums[row] = np.asarray(centroid, dtype=np.float64) * size
        self._refresh(row)

    def remove(self, theme: int) -> None:
        row = self._index.pop(theme)
        last = len(self._ids) - 1
        if row != last:
            moved = self._ids[last]
            self._ids[row] = moved
            self._index[moved] = row
            self._sums[row] = self._sums[last]
            self._units[row] = self._units[last]
            self._sizes[row] = self._sizes[last]
        self._ids.pop()
        self._sizes.pop()
        self._sums[last] = 0.0
        self._units[last] = 0.0

    def _refresh(self, row: int) -> None:
        norm = float(np.linalg.norm(self._sums[row]))
        self._units[row] = (self._sums[row] / norm if norm else self._sums[row]).astype(np.float32)

    def nearest(self, vector: NDArray[np.floating]) -> tuple[int | None, float]:
        """The most similar theme and the cosine to its centroid; (None, 0.0) when there are no themes."""
        if not self._ids:
            return None, 0.0
        query = np.asarray(vector, dtype=np.float32).ravel()
        norm = float(np.linalg.norm(query))
        similarities = self._units[: len(self._ids)] @ (query / norm if norm else query)
        row = int(np.argmax(similarities))
        return self._ids[row], float(similarities[row])

    def update(self, theme: int, vector: NDArray[np.floating]) -> None:
        """Count one more member in ``theme``: its centroid moves towards the vector (running mean)."""
        row = self._index[theme]
        self._sums[row] += _unit(np.asarray(vector, dtype=np.float32).reshape(1, -1))[0]
        self._sizes[row] += 1
        self._refresh(row)

    def assign(self, vector: NDArray[np.floating], new_id: Callable[[], int] | None = None) -> Assignment:
        """Join the nearest theme if it is similar enough, else open a new theme (id from ``new_id``, or
        one more than the largest id so far). The chosen theme's centroid is updated either way."""
        theme, similarity = self.nearest(vector)
        if theme is not None and similarity >= self.threshold:
            self.update(theme, vector)
            return Assignment(theme=theme, similarity=similarity, created=False)
        created = new_id() if new_id is not None else max(self._ids, default=-1) + 1
        self.add(created, _unit(np.asarray(vector, dtype=np.float32).reshape(1, -1))[0], size=1)
        return Assignment(theme=created, similarity=1.0, created=True)


# -- stable ids across re-clustering ---------------------------------------------------------------


def match(
    old_ids: Sequence[int],
    old_centroids: NDArray[np.floating],
    new_labels: Sequence[int],
    new_centroids: NDArray[np.floating],
    *,
    old_members: Sequence[Collection[Hashable]] | None = None,
    new_members: Sequence[Collection[Hashable]] | None = None,
    min_overlap: float = 0.5,
    min_similarity: float = ASSIGN_THRESHOLD,
) -> dict[int, int]:
    """Map new cluster labels to old theme ids so a theme keeps its id across a re-clustering.

    With members (e.g. concern ids), a new cluster inherits an old theme's id when it holds at least
    ``min_overlap`` of that theme's members — a theme that grew keeps its id, and of a theme that split the
    part holding most of it keeps it. Otherwise (or without members) centroids decide: cosine similarity at
    least ``min_similarity``. Each old id goes to at most one new cluster (Hungarian assignment of the best
    total score). Returns {new label: old id}; new labels left out are new themes.
    """
    from scipy.optimize import linear_sum_assignment

    if not len(old_ids) or not len(new_labels):
        return {}
    old = _unit(np.asarray(old_centroids, dtype=np.float32))
    new = _unit(np.asarray(new_centroids, dtype=np.float32))
    similarity = new @ old.T
    overlap = np.zeros_like(similarity, dtype=np.float64)
    if old_members is not None and new_members is not None:
        owner: dict[Hashable, int] = {}
        for column, members in enumerate(old_members):
            for member in members:
                owner[member] = column
        for row, members in enumerate(new_members):
            for member in members:
                column = owner.get(member, -1)
                if column >= 0:
                    overlap[row, column] += 1.0
        old_sizes = np.array([max(1, len(m)) for m in old_members], dtype=np.float64)
        overlap /= old_sizes[None, :]
    eligible = (overlap >= min_overlap) | ((overlap == 0) & (similarity >= min_similarity))
    # Members dominate (0..1 scaled by 10), the centroid similarity breaks ties and decides alone when no
    # member is shared.
    score = np.where(eligible, 10.0 * overlap + similarity + 1.0, 0.0)
    rows, columns = linear_sum_assignment(score, maximize=True)
    return {
        int(new_labels[r]): int(old_ids[c]) for r, c in zip(rows, columns, strict=True) if score[r, c] > 0
    }
