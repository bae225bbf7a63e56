"""Spike detection over hourly counts: the weekly and daily rhythm is not a spike, a real excess is, and a
quiet theme's handful of concerns never is."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray

from ombud.advocacy import spikes
from ombud.advocacy.spikes import detect, detect_mean, detect_rate, seasonal_shape

MONDAY = dt.datetime(2026, 3, 2, tzinfo=dt.UTC)  # a Monday, 00:00


def _rhythm(hours: int, *, start: dt.datetime = MONDAY) -> NDArray[np.float64]:
    """Busy working hours, quiet nights, quieter weekends: factors with mean about 1."""
    moments = [start + dt.timedelta(hours=h) for h in range(hours)]
    daily = np.array([0.5 + 1.0 * np.exp(-(((m.hour - 14) / 4.0) ** 2)) for m in moments])
    weekly = np.array([0.5 if m.weekday() >= 5 else 1.15 for m in moments])
    factors: NDArray[np.float64] = daily * weekly
    return factors


def _poisson(level: float, hours: int, seed: int, start: dt.datetime = MONDAY) -> NDArray[np.float64]:
    rng = np.random.default_rng(seed)
    return rng.poisson(level * _rhythm(hours, start=start)).astype(np.float64)


def test_the_shape_learns_the_rhythm_from_a_busy_series() -> None:
    hours = 4 * 168
    counts = _poisson(40.0, hours, seed=1)
    shape = seasonal_shape(counts, first_hour=MONDAY)
    truth = _rhythm(168)
    assert shape.shape == (168,)
    assert np.corrcoef(shape, truth)[0, 1] > 0.95
    assert shape[14] > 2 * shape[3]  # Monday 14:00 against Monday 03:00
    # Nothing known yet: flat.
    assert np.allclose(seasonal_shape(np.zeros(50), first_hour=MONDAY), 1.0)


@pytest.mark.parametrize("level", [0.3, 2.0, 12.0])
def test_ordinary_traffic_with_its_rhythm_raises_no_alarm(level: float) -> None:
    hours = 5 * 168
    counts = _poisson(level, hours, seed=int(level * 10))
    reference = _poisson(200.0, hours, seed=99)
    alarms = [
        end
        for end in range(3 * 168, hours, 3)
        if detect(counts[:end], first_hour=MONDAY, reference=reference[:end]) is not None
    ]
    assert alarms == []


def test_a_large_step_is_caught_with_where_it_began() -> None:
    hours = 3 * 168 + 10  # Thursday 10:00 of the fourth week
    counts = _poisson(3.0, hours, seed=3)
    counts[-3:] += [12, 20, 25]
    spike = detect(counts, first_hour=MONDAY)
    assert spike is not None
    assert spike.started_at == MONDAY + dt.timedelta(hours=hours - 3)
    assert spike.detected_at == MONDAY + dt.timedelta(hours=hours)
    assert spike.count == counts[-3:].sum()
    assert spike.baseline < spike.count / 3
    assert spike.ratio == pytest.approx(spike.count / spike.baseline)
    assert spike.growth > 0.2  # it is still climbing
    assert spike.p_value < spikes.ALPHA


def test_the_spike_does_not_raise_its_own_baseline() -> None:
    counts = _poisson(4.0, 3 * 168, seed=4)
    counts[-5:] += 40
    spike = detect(counts, first_hour=MONDAY)
    assert spike is not None and spike.started_at == MONDAY + dt.timedelta(hours=3 * 168 - 5)
    assert spike.baseline < 40


def test_mid_hour_checks_scale_the_expectation() -> None:
    counts = _poisson(3.0, 2 * 168 + 14, seed=5)
    counts[-1] = 12  # twelve in the first ten minutes of an hour that usually has about four
    early = detect(counts, first_hour=MONDAY, last_fraction=1 / 6)
    assert early is not None
    assert early.detected_at == MONDAY + dt.timedelta(hours=2 * 168 + 13, minutes=10)
    with pytest.raises(ValueError, match="last_fraction"):
        detect(counts, first_hour=MONDAY, last_fraction=0.0)


@settings(max_examples=60, deadline=None)
@given(
    history=st.lists(st.integers(0, 3), min_size=0, max_size=400),
    recent=st.lists(st.integers(0, 7), min_size=1, max_size=3),
)
def test_never_an_alert_below_the_minimum_count(history: list[int], recent: list[int]) -> None:
    counts = np.array(history + recent, dtype=np.float64)
    if counts[-3:].sum() >= spikes.MIN_COUNT:
        return
    assert detect(counts, first_hour=MONDAY) is None


@settings(max_examples=150, deadline=None)
@given(
    level=st.floats(0.5, 50.0),
    weeks=st.integers(1, 5),
    offset=st.integers(0, 167),
)
def test_never_an_alert_on_a_perfectly_seasonal_series(level: float, weeks: int, offset: int) -> None:
    start = MONDAY + dt.timedelta(hours=offset)
    counts = np.round(level * _rhythm(weeks * 168 + offset, start=start))
    # The reference is all concerns: the same rhythm, a hundred times the traffic.
    everything = np.round(100 * _rhythm(counts.size, start=start))
    assert detect(counts, first_hour=start, reference=everything) is None


def test_a_new_theme_needs_a_real_burst_not_a_few_concerns() -> None:
    quiet = np.zeros(48)
    quiet[-1] = 3
    assert detect(quiet, first_hour=MONDAY) is None
    burst = np.zeros(48)
    burst[-2:] = [9, 14]
    spike = detect(burst, first_hour=MONDAY)
    assert spike is not None and spike.started_at == MONDAY + dt.timedelta(hours=46)


def test_empty_series_is_no_spike() -> None:
    assert detect([], first_hour=MONDAY) is None


def test_a_rate_spike_is_contacts_per_order_not_contacts() -> None:
    hours = 2 * 168
    rng = np.random.default_rng(7)
    orders = rng.poisson(100 * _rhythm(hours)).astype(np.float64)
    contacts = rng.binomial(orders.astype(np.int64), 0.05).astype(np.float64)
    # A sale: orders triple and contacts with them: the rate is as usual.
    busy_orders, busy_contacts = orders.copy(), contacts.copy()
    busy_orders[-3:] *= 3
    busy_contacts[-3:] = np.round(busy_orders[-3:] * 0.05)
    assert detect_rate(busy_contacts, busy_orders, first_hour=MONDAY) is None
    # Contacts per order quadruple with the same orders: a spike.
    bad = contacts.copy()
    bad[-3:] = np.round(orders[-3:] * 0.2)
    spike = detect_rate(bad, orders, first_hour=MONDAY)
    assert spike is not None and spike.count == bad[-3:].sum()
    with pytest.raises(ValueError, match="exposure"):
        detect_rate(bad, orders[:-1], first_hour=MONDAY)


def test_a_jump_in_mean_frustration() -> None:
    hours = 168
    counts = np.full(hours, 10.0)
    sums = counts * 0.3
    assert detect_mean(sums, counts, first_hour=MONDAY) is None
    angry = sums.copy()
    angry[-2:] = counts[-2:] * 0.8
    shift = detect_mean(angry, counts, first_hour=MONDAY)
    assert shift is not None
    assert shift.mean == pytest.approx(0.8) and shift.baseline == pytest.approx(0.3, abs=0.01)
    assert shift.started_at == MONDAY + dt.timedelta(hours=hours - 2)
    # The same jump over three concerns is not enough to say anything.
    few = counts.copy()
    few[-3:] = 1
    assert detect_mean(np.where(np.arange(hours) >= hours - 3, 0.9, sums), few, first_hour=MONDAY) is None
