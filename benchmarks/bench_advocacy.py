"""Advocacy algorithms: themes without k, spike detection on a simulated stream, online assignment, scale.

    .venv/bin/python benchmarks/bench_advocacy.py [--data ../shared/data] [--parts themes,spikes,online,scale]
        [--trials 6] [--scale 1000000]

- themes: adjusted mutual information (AMI) of `clustering.cluster` with the 77 intents of Banking77's
  test split, without being told how many there are (-1 counted as one cluster), next to k-means told
  k=77 on the same MiniLM embeddings. The clustering was tuned on the train split only.
- spikes: a simulated stream of real Banking77 messages (train split): background traffic of every
  intent with a weekly and daily rhythm over several weeks, one intent's spike injected at a random time;
  run through `advocacy.replay.replay` (what `ombud advocacy replay` runs). Time to detect the spike and
  false alarms per simulated week after the warm-up.
- online: `OnlineThemes.assign` per concern with a few thousand themes, given the vector, and with the
  MiniLM embedding of the text.
- scale: re-clustering 1,000,000 synthetic concern vectors (drawn around real Banking77 embeddings with
  gaussian noise, renormalised: not real concerns), wall time and peak memory of the process.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import resource
import statistics
import time
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_mutual_info_score

from ombud.advocacy import clustering
from ombud.advocacy import spikes as spikes_module
from ombud.advocacy.replay import replay_into

ROOT = Path(__file__).resolve().parents[1]
START = dt.datetime(2026, 1, 5, tzinfo=dt.UTC)  # a Monday


def read(path: Path) -> tuple[list[str], list[str]]:
    with path.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    return [r["text"] for r in rows], [r["category"] for r in rows]


def embed(texts: list[str]) -> NDArray[np.float32]:
    from ombud.triage.embed import shared_minilm

    return np.asarray(shared_minilm().embed_batch(texts), dtype=np.float32)


def themes(root: Path) -> None:
    texts, intents = read(root / "banking77" / "test.csv")
    started = time.perf_counter()
    vectors = embed(texts)
    embedding = time.perf_counter() - started
    started = time.perf_counter()
    labels = clustering.cluster(vectors)
    seconds = time.perf_counter() - started
    score = adjusted_mutual_info_score(intents, labels)
    found = len(set(labels.tolist()) - {-1})
    noise = float((labels < 0).mean())
    started = time.perf_counter()
    kmeans = KMeans(n_clusters=77, n_init=10, random_state=0).fit_predict(vectors)
    kmeans_seconds = time.perf_counter() - started
    reference = adjusted_mutual_info_score(intents, kmeans)
    print(f"themes: {len(texts)} messages embedded in {embedding:.1f} s")
    print(f"| AMI without k (cluster) | {score:.3f} | {found} themes, noise {noise:.1%} | {seconds:.2f} s |")
    print(f"| AMI k-means told k=77 (reference) | {reference:.3f} | 77 | {kmeans_seconds:.2f} s |")


def rhythm(moment: dt.datetime) -> float:
    """Weekdays busier than weekends; afternoons busier than nights (mean about 1 over a week)."""
    daily = 0.35 + 1.3 * float(np.exp(-(((moment.hour + moment.minute / 60 - 14) / 4.5) ** 2)))
    weekly = 0.55 if moment.weekday() >= 5 else 1.15
    return daily * weekly


def simulate(
    rng: np.random.Generator,
    by_intent: dict[str, list[int]],
    *,
    weeks: int,
    per_hour: float,
    spike_intent: str,
    spike_at: dt.datetime,
    spike_per_hour: float,
    spike_hours: int,
) -> tuple[list[int], list[dt.datetime], list[bool]]:
    """Message indexes, their times and whether each is part of the injected spike."""
    intents = sorted(by_intent)
    weights = np.array([len(by_intent[i]) for i in intents], dtype=np.float64)
    weights /= weights.sum()
    rows: list[int] = []
    times: list[dt.datetime] = []
    injected: list[bool] = []
    for hour in range(weeks * 168):
        begin = START + dt.timedelta(hours=hour)
        for _ in range(rng.poisson(per_hour * rhythm(begin))):
            intent = intents[int(rng.choice(len(intents), p=weights))]
            rows.append(int(rng.choice(by_intent[intent])))
            times.append(begin + dt.timedelta(seconds=float(rng.uniform(0, 3600))))
            injected.append(False)
        if spike_at <= begin < spike_at + dt.timedelta(hours=spike_hours):
            # The spike ramps up over its first two hours.
            ramp = min(1.0, (begin - spike_at) / dt.timedelta(hours=2) + 0.5)
            for _ in range(rng.poisson(spike_per_hour * ramp)):
                rows.append(int(rng.choice(by_intent[spike_intent])))
                times.append(begin + dt.timedelta(seconds=float(rng.uniform(0, 3600))))
                injected.append(True)
    return rows, times, injected


def spikes(
    root: Path, trials: int, weeks: int, per_hour: float, seed: int, min_count: float, alpha: float
) -> None:
    texts, intents = read(root / "banking77" / "train.csv")
    vectors = embed(texts)
    by_intent: dict[str, list[int]] = {}
    for index, intent in enumerate(intents):
        by_intent.setdefault(intent, []).append(index)
    rng = np.random.default_rng(seed)
    names = sorted(by_intent)
    delays: list[float] = []
    missed = 0
    false_alarms = 0
    simulated_weeks = 0.0
    elapsed = 0.0
    messages = 0
    sizes = [4.0, 8.0, 16.0]
    for trial in range(trials):
        intent = names[int(rng.integers(len(names)))]
        spike_per_hour = sizes[trial % len(sizes)]
        spike_at = START + dt.timedelta(hours=int(rng.integers(8 * 24, weeks * 168 - 24)))
        rows, times, injected = simulate(
            rng,
            by_intent,
            weeks=weeks,
            per_hour=per_hour,
            spike_intent=intent,
            spike_at=spike_at,
            spike_per_hour=spike_per_hour,
            spike_hours=8,
        )
        stream_texts = [texts[r] for r in rows]
        started = time.perf_counter()
        labels = np.full(len(rows), -1, dtype=np.int64)
        alerts = list(
            replay_into(labels, stream_texts, times, vectors[rows], min_count=min_count, alpha=alpha)
        )
        elapsed += time.perf_counter() - started
        messages += len(rows)
        # Which themes did the injected messages land in? An alert on one of them after the spike began
        # is a detection; any other alert is a false alarm.
        spike_themes = _themes_of(labels, injected)
        detected = None
        for alert in alerts:
            if alert.theme in spike_themes and alert.detected_at >= spike_at and detected is None:
                detected = alert
            elif not (alert.theme in spike_themes and alert.detected_at >= spike_at):
                false_alarms += 1
        simulated_weeks += weeks - 1  # the first week is the warm-up: no checks there
        if detected is None:
            missed += 1
            print(f"trial {trial}: {intent} +{spike_per_hour:.0f}/h at {spike_at:%a %H:%M}: missed")
        else:
            hours = (detected.detected_at - spike_at) / dt.timedelta(hours=1)
            delays.append(hours)
            print(
                f"trial {trial}: {intent} +{spike_per_hour:.0f}/h at {spike_at:%a %H:%M}: detected after "
                f"{hours:.2f} h (started_at {detected.started_at:%a %H:%M}, label {detected.label!r})"
            )
    print(f"| spikes detected | {trials - missed}/{trials} |")
    if delays:
        print(f"| time to detect, median (max) | {statistics.median(delays):.2f} h ({max(delays):.2f} h) |")
    print(f"| false alarms per simulated week | {false_alarms / simulated_weeks:.2f} |")
    print(f"| replay speed | {messages / elapsed:.0f} concerns/s ({messages} concerns in {elapsed:.1f} s) |")


def _themes_of(labels: NDArray[np.int64], injected: list[bool]) -> set[int]:
    """The themes holding at least a fifth of the injected messages."""
    seen: dict[int, int] = {}
    for label, flag in zip(labels.tolist(), injected, strict=True):
        if flag:
            seen[label] = seen.get(label, 0) + 1
    total = max(1, sum(seen.values()))
    return {theme for theme, n in seen.items() if n >= total / 5}


def online(root: Path) -> None:
    texts, _ = read(root / "banking77" / "test.csv")
    rng = np.random.default_rng(1)
    base = embed(texts)
    count = 3000
    centres = base[rng.integers(0, len(base), count)] + rng.normal(0, 0.02, (count, base.shape[1]))
    themes_ = clustering.OnlineThemes.from_centroids(list(range(count)), centres, [10] * count)
    timings = []
    for vector in base[:1000]:
        started = time.perf_counter()
        themes_.assign(vector)
        timings.append((time.perf_counter() - started) * 1000)
    timings.sort()
    print(
        f"| online assignment, {count} themes, given the vector | median {statistics.median(timings):.3f} ms,"
        f" p90 {timings[int(0.9 * len(timings))]:.3f} ms |"
    )
    from ombud.triage.embed import MiniLM

    model = MiniLM()  # its own cache: every text below is embedded for real
    model.embed_batch(["warm up"])
    with_embedding = []
    for text in texts[1000:1200]:
        started = time.perf_counter()
        themes_.assign(model.embed_batch([text])[0])
        with_embedding.append((time.perf_counter() - started) * 1000)
    with_embedding.sort()
    print(
        f"| online assignment with the MiniLM embedding | median {statistics.median(with_embedding):.1f} ms,"
        f" p90 {with_embedding[int(0.9 * len(with_embedding))]:.1f} ms |"
    )


def scale(root: Path, size: int) -> None:
    texts, _ = read(root / "banking77" / "train.csv")
    base = embed(texts)
    rng = np.random.default_rng(3)
    vectors = np.empty((size, base.shape[1]), dtype=np.float32)
    for begin in range(0, size, 100_000):
        end = min(size, begin + 100_000)
        chunk = base[rng.integers(0, len(base), end - begin)]
        chunk = chunk + rng.normal(0, 0.025, chunk.shape).astype(np.float32)
        vectors[begin:end] = chunk / np.linalg.norm(chunk, axis=1, keepdims=True)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    started = time.perf_counter()
    labels = clustering.cluster(vectors)
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    found = len(set(labels.tolist()) - {-1})
    print(
        f"| re-cluster {size:,} vectors | {seconds / 60:.1f} min | {found} themes, noise "
        f"{float((labels < 0).mean()):.1%} | peak RSS {peak / 1024:.1f} GB (vectors alone "
        f"{vectors.nbytes / 2**30:.1f} GB, {before / 1024:.1f} GB before) |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--parts", default="themes,spikes,online")
    parser.add_argument("--trials", type=int, default=6)
    parser.add_argument("--weeks", type=int, default=4)
    parser.add_argument("--per-hour", type=float, default=60.0, help="background concerns per hour (mean)")
    parser.add_argument("--scale", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=2026, help="of the simulated streams")
    parser.add_argument("--min-count", type=float, default=spikes_module.MIN_COUNT)
    parser.add_argument("--alpha", type=float, default=spikes_module.ALPHA)
    args = parser.parse_args()
    parts = set(args.parts.split(","))
    if "themes" in parts:
        themes(args.data)
    if "spikes" in parts:
        spikes(args.data, args.trials, args.weeks, args.per_hour, args.seed, args.min_count, args.alpha)
    if "online" in parts:
        online(args.data)
    if "scale" in parts:
        scale(args.data, args.scale)


if __name__ == "__main__":
    main()
