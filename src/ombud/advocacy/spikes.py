"""Spike detection over hourly series: pure functions, no database (docs/advocacy.md).

A theme's expected count for an hour is ``level x shape[hour]``:

- ``shape`` is the weekly and daily rhythm, mean 1: an hour-of-day profile times a day-of-week factor,
  learnt from the history (of the theme, or better of a busier ``reference`` series such as all concerns,
  which has the same rhythm with far more data), each shrunk towards flat while the history is short.
- ``level`` is the theme's own recent rate per unit of shape, from the weeks before the last few hours
  (so a spike does not raise its own baseline), with a weak prior (about one concern a day) for new themes.

The level is uncertain (a gamma posterior, its precision capped so day-to-day wobble is allowed for), so the
count predicted for a window is negative binomial. An alert needs the last 1, 2 or 3 hours to be improbably
high under it (tail probability below ``ALPHA``), at least ``MIN_COUNT`` concerns in the window, and at least
``MIN_RATIO`` times the expectation. ``started_at`` is where the excess began: the start of the run of hours
that maximises the cumulative excess over the baseline, walking back at most ``MAX_WALK_BACK`` hours.

The same test serves a rate (contacts per order: the denominator series is the exposure instead of the
rhythm) and, with a normal approximation, a mean (frustration per concern).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

HOUR = dt.timedelta(hours=1)
HOURS_PER_WEEK = 168
# At least this many concerns in the window (and in the excess) before a spike is worth anyone's time.
MIN_COUNT = 8
MIN_RATIO = 2.0
# One test per theme per hour and window: 1e-5 keeps chance alarms well under one a week for 100 themes.
ALPHA = 1e-5
WINDOWS = (1, 2, 3)
GAP_HOURS = 6  # hours just before now left out of the level, so the spike does not explain itself
LEVEL_HOURS = 28 * 24  # history that sets the level (the last four weeks)
SHAPE_PSEUDO = 30.0  # concerns' worth of "flat" each shape factor starts from
PRIOR_CONCERNS = 1.0  # the level's prior: one concern ...
PRIOR_HOURS = 24.0  # ... per day
MAX_PRECISION = 60.0  # the level is never known better than +-13% (1/sqrt(60)): days differ
MAX_WALK_BACK = 48


@dataclass(frozen=True)
class Spike:
    """An improbable excess ending at ``detected_at``; ``count`` and ``baseline`` cover [started_at,
    detected_at). ``ratio`` is count / baseline; ``growth`` the fitted hourly growth of the counts inside the
    spike (0.5 = +50% an hour; 0 when it lasted one hour)."""

    started_at: dt.datetime
    detected_at: dt.datetime
    count: float
    baseline: float
    ratio: float
    growth: float
    p_value: float
    window_hours: int


def hour_of_week(moment: dt.datetime) -> int:
    """0 = Monday 00:00-01:00 ... 167 = Sunday 23:00-24:00."""
    return moment.weekday() * 24 + moment.hour


def seasonal_shape(
    history: Sequence[float] | NDArray[np.floating], *, first_hour: dt.datetime
) -> NDArray[np.float64]:
    """The 168 hour-of-week factors (mean 1) learnt from an hourly ``history`` starting at ``first_hour``.

    Hour-of-day times day-of-week, each shrunk towards 1 by ``SHAPE_PSEUDO`` concerns' worth of evidence.
    """
    counts = np.asarray(history, dtype=np.float64)
    if counts.size == 0 or counts.sum() <= 0:
        return np.ones(HOURS_PER_WEEK)
    start = hour_of_week(first_hour)
    how = (start + np.arange(counts.size)) % HOURS_PER_WEEK
    hod, dow = how % 24, how // 24
    mean = counts.mean()
    observed_h = np.bincount(hod, weights=counts, minlength=24)
    expected_h = np.bincount(hod, minlength=24) * mean
    daily = (observed_h + SHAPE_PSEUDO) / (expected_h + SHAPE_PSEUDO)
    observed_d = np.bincount(dow, weights=counts, minlength=7)
    expected_d = np.bincount(dow, weights=mean * daily[hod], minlength=7)
    weekly = (observed_d + SHAPE_PSEUDO) / (expected_d + SHAPE_PSEUDO)
    shape = weekly[np.arange(HOURS_PER_WEEK) // 24] * daily[np.arange(HOURS_PER_WEEK) % 24]
    result: NDArray[np.float64] = shape / shape.mean()
    return result


@dataclass(frozen=True)
class Baseline:
    """Expected counts per hour of the series (``expected``) and the level's gamma posterior (shape
    ``alpha``, per unit of exposure ``beta``): a window's count is NB(alpha, beta / (beta + exposure))."""

    expected: NDArray[np.float64]
    exposure: NDArray[np.float64]
    alpha: float
    beta: float


def _posterior(counts: NDArray[np.float64], exposure: NDArray[np.float64], end: int) -> tuple[float, float]:
    begin = max(0, end - LEVEL_HOURS)
    seen = float(counts[begin:end].sum())
    weight = float(exposure[begin:end].sum())
    prior_exposure = PRIOR_HOURS * (weight / max(1, end - begin) if end > begin else 1.0)
    alpha = seen + PRIOR_CONCERNS
    beta = weight + (prior_exposure if prior_exposure > 0 else PRIOR_HOURS)
    if alpha > MAX_PRECISION:
        beta *= MAX_PRECISION / alpha
        alpha = MAX_PRECISION
    return alpha, beta


def baseline(
    counts: Sequence[float] | NDArray[np.floating],
    *,
    first_hour: dt.datetime,
    reference: Sequence[float] | NDArray[np.floating] | None = None,
    exposure: Sequence[float] | NDArray[np.floating] | None = None,
    gap: int = GAP_HOURS,
) -> Baseline:
    """The baseline of the last hours of ``counts``: learnt from everything before the last ``gap`` hours.

    ``exposure`` replaces the seasonal shape (a rate: orders per hour as the denominator); otherwise the
    shape comes from ``reference`` (same length and hours as ``counts``) or from ``counts`` itself.
    """
    series = np.asarray(counts, dtype=np.float64)
    end = max(0, series.size - gap)
    if exposure is not None:
        weights = np.asarray(exposure, dtype=np.float64)
        if weights.shape != series.shape:
            raise ValueError("exposure must have one value per hour of counts")
    else:
        source = series if reference is None else np.asarray(reference, dtype=np.float64)
        if source.shape != series.shape:
            raise ValueError("reference must have one value per hour of counts")
        shape = seasonal_shape(source[:end], first_hour=first_hour)
        how = (hour_of_week(first_hour) + np.arange(series.size)) % HOURS_PER_WEEK
        weights = shape[how]
    alpha, beta = _posterior(series, weights, end)
    return Baseline(expected=weights * alpha / beta, exposure=weights, alpha=alpha, beta=beta)


def _nb_tail(observed: float, alpha: float, beta: float, exposure: float) -> float:
    """P(X >= observed) for X ~ NB(alpha, beta / (beta + exposure)) (gamma-Poisson)."""
    from scipy.stats import nbinom

    if observed <= 0:
        return 1.0
    return float(nbinom.sf(math.ceil(observed) - 1, alpha, beta / (beta + exposure)))


def detect(
    counts: Sequence[float] | NDArray[np.floating],
    *,
    first_hour: dt.datetime,
    last_fraction: float = 1.0,
    reference: Sequence[float] | NDArray[np.floating] | None = None,
    exposure: Sequence[float] | NDArray[np.floating] | None = None,
    min_count: float = MIN_COUNT,
    min_ratio: float = MIN_RATIO,
    alpha: float = ALPHA,
    windows: Sequence[int] = WINDOWS,
) -> Spike | None:
    """Is the end of an hourly series (``counts[0]`` is the hour starting at ``first_hour``) a spike?

    ``last_fraction`` says how much of the last hour has passed (live checks mid-hour): its expectation is
    scaled by it. ``reference`` lends its rhythm (e.g. all concerns); ``exposure`` makes it a rate test
    (e.g. orders per hour). Returns the spike, or None.
    """
    series = np.asarray(counts, dtype=np.float64)
    if series.size == 0:
        return None
    if not 0.0 < last_fraction <= 1.0:
        raise ValueError("last_fraction must be in (0, 1]")
    model = baseline(series, first_hour=first_hour, reference=reference, exposure=exposure)
    scale = np.ones(series.size)
    scale[-1] = last_fraction
    expected = model.expected * scale
    exposure_now = model.exposure * scale
    best: tuple[float, int] | None = None
    for window in windows:
        if window > series.size:
            break
        observed = float(series[-window:].sum())
        wanted = float(expected[-window:].sum())
        if observed < min_count or observed < min_ratio * wanted or observed - wanted < min_count / 2:
            continue
        p_value = _nb_tail(observed, model.alpha, model.beta, float(exposure_now[-window:].sum()))
        if p_value < alpha and (best is None or p_value < best[0]):
            best = (p_value, window)
    if best is None:
        return None
    p_value, window = best
    start = _excess_start(series, expected, window)
    observed = float(series[start:].sum())
    wanted = float(expected[start:].sum())
    detected_at = first_hour + HOUR * (series.size - 1) + HOUR * last_fraction
    return Spike(
        started_at=first_hour + HOUR * start,
        detected_at=detected_at,
        count=observed,
        baseline=wanted,
        ratio=observed / wanted if wanted > 0 else math.inf,
        growth=_growth(series[start:]),
        p_value=p_value,
        window_hours=window,
    )


def _excess_start(series: NDArray[np.float64], expected: NDArray[np.float64], window: int) -> int:
    """Where the excess began: walking back from the tested window, the start of the run with the largest
    cumulative excess over a CUSUM reference (half again the expectation, plus one), so hours that are
    merely a little busier than usual do not add up into the spike."""
    size = series.size
    earliest = max(0, size - MAX_WALK_BACK)
    excess = series[earliest:] - (1.5 * expected[earliest:] + 1.0)
    tail = np.cumsum(excess[::-1])[::-1]
    latest = size - window - earliest
    best = int(np.argmax(tail[: latest + 1]))
    while best < latest and series[earliest + best] <= expected[earliest + best]:
        best += 1
    return earliest + best


def _growth(values: NDArray[np.float64]) -> float:
    if values.size < 2:
        return 0.0
    hours = np.arange(values.size, dtype=np.float64)
    slope = float(np.polyfit(hours, np.log1p(values), 1)[0])
    return math.expm1(slope)


def detect_rate(
    numerators: Sequence[float] | NDArray[np.floating],
    denominators: Sequence[float] | NDArray[np.floating],
    *,
    first_hour: dt.datetime,
    last_fraction: float = 1.0,
    min_count: float = MIN_COUNT,
    min_ratio: float = MIN_RATIO,
    alpha: float = ALPHA,
) -> Spike | None:
    """A rate spike (contacts per order): the numerators tested against the denominators as exposure.

    ``count`` and ``baseline`` of the result are numerators (contacts seen vs expected at the usual rate).
    """
    return detect(
        numerators,
        first_hour=first_hour,
        last_fraction=last_fraction,
        exposure=denominators,
        min_count=min_count,
        min_ratio=min_ratio,
        alpha=alpha,
    )


@dataclass(frozen=True)
class MeanShift:
    """The mean of a per-concern value (frustration) in the last hours vs before: ``count`` concerns, their
    mean ``mean`` against ``baseline``, with a one-sided ``z`` score."""

    started_at: dt.datetime
    detected_at: dt.datetime
    count: float
    mean: float
    baseline: float
    z: float


MEAN_Z = 4.0
MEAN_MIN_DELTA = 0.15


def detect_mean(
    sums: Sequence[float] | NDArray[np.floating],
    counts: Sequence[float] | NDArray[np.floating],
    *,
    first_hour: dt.datetime,
    last_fraction: float = 1.0,
    squares: Sequence[float] | NDArray[np.floating] | None = None,
    min_count: float = MIN_COUNT,
    min_delta: float = MEAN_MIN_DELTA,
    z_threshold: float = MEAN_Z,
    windows: Sequence[int] = WINDOWS,
) -> MeanShift | None:
    """A jump in the mean of a value in [0, 1] per concern (``sums`` / ``counts`` per hour).

    Without ``squares`` (sum of squared values per hour) the variance is bounded by m(1 - m), the largest a
    [0, 1] value with mean m can have, so the test is conservative.
    """
    totals = np.asarray(sums, dtype=np.float64)
    numbers = np.asarray(counts, dtype=np.float64)
    if totals.shape != numbers.shape:
        raise ValueError("sums and counts must have the same length")
    if not 0.0 < last_fraction <= 1.0:
        raise ValueError("last_fraction must be in (0, 1]")
    end = max(0, numbers.size - GAP_HOURS)
    begin = max(0, end - LEVEL_HOURS)
    seen = float(numbers[begin:end].sum())
    if seen < 2 * min_count:
        return None
    mean = float(totals[begin:end].sum()) / seen
    if squares is not None:
        second = float(np.asarray(squares, dtype=np.float64)[begin:end].sum()) / seen
        variance = max(second - mean * mean, 1e-4)
    else:
        variance = max(mean * (1.0 - mean), 1e-4)
    best: MeanShift | None = None
    detected_at = first_hour + HOUR * (numbers.size - 1) + HOUR * last_fraction
    for window in windows:
        if window > numbers.size:
            break
        number = float(numbers[-window:].sum())
        if number < min_count:
            continue
        recent = float(totals[-window:].sum()) / number
        z = (recent - mean) / math.sqrt(variance * (1.0 / number + 1.0 / seen))
        if recent - mean >= min_delta and z >= z_threshold and (best is None or z > best.z):
            best = MeanShift(
                started_at=first_hour + HOUR * (numbers.size - window),
                detected_at=detected_at,
                count=number,
                mean=recent,
                baseline=mean,
                z=z,
            )
    return best
