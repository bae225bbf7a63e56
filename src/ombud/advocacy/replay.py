"""Replay a timestamped stream of concerns as if live: online themes + spike checks (pure, no database).

What it does (``ombud advocacy replay`` and the benchmark run exactly this):

1. Warm-up: the concerns of the first ``warmup`` of the stream (default 7 days, at most half the span) are
   clustered in one go (:func:`clustering.cluster`) to seed the themes; the isolated ones then go through
   online assignment like everything after.
2. Every later concern, in time order, joins its nearest theme or opens one (:class:`OnlineThemes`) and
   counts in its theme's hour and in the all-concerns hour.
3. After each concern its theme is checked (:func:`spikes.detect`, with the all-concerns series lending
   the weekly and daily rhythm, the current hour counted as far as it has gone), at most every
   ``check_every`` per theme; no checks during the warm-up (there is no baseline yet).
4. An alert for a theme silences that theme for ``cooldown`` (the same spike goes on for hours).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from ombud.advocacy import clustering, spikes

HOUR = dt.timedelta(hours=1)


@dataclass(frozen=True)
class Alert:
    theme: int
    label: str
    started_at: dt.datetime
    detected_at: dt.datetime
    count: float
    baseline: float
    ratio: float
    growth: float
    p_value: float

    def as_json(self) -> dict[str, object]:
        return {
            "theme": self.theme,
            "label": self.label,
            "started_at": self.started_at.isoformat(),
            "detected_at": self.detected_at.isoformat(),
            "count": round(self.count),
            "baseline": round(self.baseline, 2),
        }


@dataclass
class _Series:
    """Hourly counts from a fixed first hour, grown on demand."""

    first_hour: dt.datetime
    counts: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))

    def add(self, hour_index: int) -> None:
        if hour_index >= self.counts.size:
            grown = np.zeros(max(hour_index + 1, 2 * self.counts.size))
            grown[: self.counts.size] = self.counts
            self.counts = grown
        self.counts[hour_index] += 1.0


def floor_hour(moment: dt.datetime) -> dt.datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def replay(
    texts: Sequence[str],
    times: Sequence[dt.datetime],
    vectors: NDArray[np.floating],
    *,
    warmup: dt.timedelta = dt.timedelta(days=7),
    check_every: dt.timedelta = dt.timedelta(minutes=10),
    cooldown: dt.timedelta = dt.timedelta(hours=24),
    min_count: float = spikes.MIN_COUNT,
    alpha: float = spikes.ALPHA,
) -> Iterator[Alert]:
    """Yield the alerts a live system would have raised, in the order it would have raised them.

    ``times`` must be timezone-aware; the rows need not be sorted (they are replayed in time order, ties in
    input order).
    """
    labels = np.full(len(texts), -1, dtype=np.int64)
    yield from replay_into(
        labels,
        texts,
        times,
        vectors,
        warmup=warmup,
        check_every=check_every,
        cooldown=cooldown,
        min_count=min_count,
        alpha=alpha,
    )


def replay_into(
    labels: NDArray[np.int64],
    texts: Sequence[str],
    times: Sequence[dt.datetime],
    vectors: NDArray[np.floating],
    *,
    warmup: dt.timedelta = dt.timedelta(days=7),
    check_every: dt.timedelta = dt.timedelta(minutes=10),
    cooldown: dt.timedelta = dt.timedelta(hours=24),
    min_count: float = spikes.MIN_COUNT,
    alpha: float = spikes.ALPHA,
) -> Iterator[Alert]:
    """:func:`replay`, writing each concern's theme into ``labels`` (filled with -1) as it goes."""
    count = len(texts)
    if count == 0:
        return
    if len(times) != count or vectors.shape[0] != count:
        raise ValueError("texts, times and vectors must have one entry per concern")
    order = sorted(range(count), key=lambda i: times[i])
    first, last = times[order[0]], times[order[-1]]
    span = last - first
    warm_end = first + min(warmup, span / 2)
    warm = [i for i in order if times[i] < warm_end]
    start_hour = floor_hour(first)

    themes = clustering.OnlineThemes()
    if len(warm) >= 2:
        warm_labels = clustering.cluster(vectors[warm])
        ids, centres = clustering.centroids(vectors[warm], warm_labels)
        sizes = [int((warm_labels == label).sum()) for label in ids]
        themes = clustering.OnlineThemes.from_centroids(ids, centres, sizes)
        labels[warm] = warm_labels

    total = _Series(start_hour)
    per_theme: dict[int, _Series] = {}
    last_check: dict[int, dt.datetime] = {}
    silenced_until: dict[int, dt.datetime] = {}
    describer = _Labeller(texts, labels)

    for position, index in enumerate(order):
        moment = times[index]
        if labels[index] < 0:
            labels[index] = themes.assign(vectors[index]).theme
        theme = int(labels[index])
        hour_index = int((floor_hour(moment) - start_hour) / HOUR)
        total.add(hour_index)
        per_theme.setdefault(theme, _Series(start_hour)).add(hour_index)
        describer.seen = position + 1
        if moment < warm_end:
            continue
        if moment < silenced_until.get(theme, moment - HOUR):
            continue
        checked = last_check.get(theme)
        if checked is not None and moment - checked < check_every:
            continue
        last_check[theme] = moment
        fraction = max((moment - floor_hour(moment)) / HOUR, 1.0 / 60.0)
        length = hour_index + 1
        spike = spikes.detect(
            per_theme[theme].counts[:length],
            first_hour=start_hour,
            last_fraction=fraction,
            reference=total.counts[:length],
            min_count=min_count,
            alpha=alpha,
        )
        if spike is None:
            continue
        silenced_until[theme] = moment + cooldown
        yield Alert(
            theme=theme,
            label=describer.label(theme, order[: position + 1]),
            started_at=spike.started_at,
            detected_at=moment,
            count=spike.count,
            baseline=spike.baseline,
            ratio=spike.ratio,
            growth=spike.growth,
            p_value=spike.p_value,
        )


class _Labeller:
    """Labels a theme at alert time from what has been seen so far (recent concerns, class-based TF-IDF)."""

    RECENT = 5_000

    def __init__(self, texts: Sequence[str], labels: NDArray[np.int64]) -> None:
        self.texts = texts
        self.labels = labels
        self.seen = 0

    def label(self, theme: int, seen_rows: Sequence[int]) -> str:
        rows = list(seen_rows[-self.RECENT :])
        texts = [self.texts[i] for i in rows]
        labels = self.labels[rows]
        phrases = clustering.key_phrases(texts, labels, only=[theme])
        return " · ".join(phrases.get(theme, [])[:2]) or f"theme {theme}"
