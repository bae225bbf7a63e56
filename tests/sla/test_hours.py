"""Business-calendar arithmetic: weekends, holidays, hours across midnight, and DST changes in Berlin and
New York (hours that start or end inside the skipped or the repeated hour), plus properties."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ombud.sla import hours
from ombud.sla.hours import Calendar, add, add_minutes, between, minutes_between

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
WEEKDAYS = range(5)


def office(
    zone: str, start: str = "09:00", end: str = "17:30", days: range = WEEKDAYS, **kw: object
) -> Calendar:
    span = (hours.parse_hhmm(start), hours.parse_hhmm(end))
    return Calendar(time_zone=zone, weekly=dict.fromkeys(days, (span,)), **kw)  # type: ignore[arg-type]


def local(zone: ZoneInfo, *parts: int, fold: int = 0) -> dt.datetime:
    # In UTC: Python never calls an instant inside a repeated hour equal to one in another zone.
    return dt.datetime(*parts, tzinfo=zone, fold=fold).astimezone(dt.UTC)  # type: ignore[arg-type,misc]


def test_friday_afternoon_carries_over_the_weekend() -> None:
    cal = office("Europe/Berlin")
    due = add_minutes(cal, local(BERLIN, 2026, 12, 4, 16, 0), 120)  # Friday 16:00 + 2h
    assert due == local(BERLIN, 2026, 12, 7, 9, 30)  # 1.5h on Friday, 0.5h on Monday


def test_time_outside_hours_starts_at_the_next_opening() -> None:
    cal = office("Europe/Berlin")
    assert add_minutes(cal, local(BERLIN, 2026, 12, 5, 11, 0), 30) == local(BERLIN, 2026, 12, 7, 9, 30)
    assert minutes_between(cal, local(BERLIN, 2026, 12, 5, 0, 0), local(BERLIN, 2026, 12, 7, 0, 0)) == 0


def test_holidays_have_no_hours() -> None:
    cal = office("Europe/Berlin", holidays=frozenset({dt.date(2026, 12, 24), dt.date(2026, 12, 25)}))
    due = add_minutes(cal, local(BERLIN, 2026, 12, 23, 17, 0), 60)  # Wed 17:00, Thu/Fri holidays
    assert due == local(BERLIN, 2026, 12, 28, 9, 30)


def test_hours_across_midnight() -> None:
    # A night desk: 22:00-24:00 and 00:00-06:00 every day, one continuous shift.
    night = Calendar(time_zone="Europe/Berlin", weekly=dict.fromkeys(range(7), ((0, 360), (1320, 1440))))
    start = local(BERLIN, 2026, 12, 4, 23, 0)
    assert add_minutes(night, start, 120) == local(BERLIN, 2026, 12, 5, 1, 0)
    assert add_minutes(night, start, 7 * 60) == local(BERLIN, 2026, 12, 5, 6, 0)
    assert add_minutes(night, start, 7 * 60 + 1) == local(BERLIN, 2026, 12, 5, 22, 1)
    assert minutes_between(night, local(BERLIN, 2026, 12, 4, 12, 0), local(BERLIN, 2026, 12, 5, 12, 0)) == 480


def test_berlin_spring_forward_day_is_23_hours() -> None:
    always = Calendar(time_zone="Europe/Berlin")
    day = office("Europe/Berlin", "00:00", "24:00", range(7))
    start, end = local(BERLIN, 2026, 3, 29, 0, 0), local(BERLIN, 2026, 3, 30, 0, 0)
    assert minutes_between(day, start, end) == 23 * 60
    assert minutes_between(always, start, end) == 23 * 60


def test_berlin_fall_back_day_is_25_hours() -> None:
    day = office("Europe/Berlin", "00:00", "24:00", range(7))
    start, end = local(BERLIN, 2026, 10, 25, 0, 0), local(BERLIN, 2026, 10, 26, 0, 0)
    assert minutes_between(day, start, end) == 25 * 60


def test_berlin_office_hours_keep_wall_clock_across_dst() -> None:
    # Friday 17:00 before the spring change + 60 min lands at Monday 09:30 local (now CEST, UTC+2).
    cal = office("Europe/Berlin")
    due = add_minutes(cal, local(BERLIN, 2026, 3, 27, 17, 0), 60)
    assert due == local(BERLIN, 2026, 3, 30, 9, 30)
    assert due.astimezone(dt.UTC) == dt.datetime(2026, 3, 30, 7, 30, tzinfo=dt.UTC)


def test_hours_ending_inside_the_skipped_hour_end_at_the_jump() -> None:
    # 00:00-02:30 on the night Berlin skips 02:00-03:00: the wall clock never shows 02:30, so the hours
    # end when it jumps (01:00 UTC), two real hours after midnight.
    cal = office("Europe/Berlin", "00:00", "02:30", range(7))
    sunday = local(BERLIN, 2026, 3, 29, 0, 0)
    assert minutes_between(cal, sunday, sunday + dt.timedelta(hours=12)) == 120
    assert add_minutes(cal, sunday, 120) == dt.datetime(2026, 3, 29, 1, 0, tzinfo=dt.UTC)
    # The next minute is the next night's.
    assert add_minutes(cal, sunday, 121) == local(BERLIN, 2026, 3, 30, 0, 1)


def test_hours_starting_inside_the_skipped_hour_start_at_the_jump() -> None:
    cal = office("America/New_York", "02:30", "04:00", range(7))
    # New York skips 02:00-03:00 on 2026-03-08: the hours start at 03:00 EDT, one real hour.
    sunday = local(NEW_YORK, 2026, 3, 8, 0, 0)
    assert minutes_between(cal, sunday, sunday + dt.timedelta(hours=12)) == 60
    assert add_minutes(cal, sunday, 1) == local(NEW_YORK, 2026, 3, 8, 3, 1)


def test_hours_inside_the_repeated_hour_run_from_first_start_to_last_end() -> None:
    # New York repeats 01:00-02:00 on 2026-11-01: 00:30-01:30 starts at its first 00:30 and ends at the
    # second 01:30 (EST), two real hours.
    cal = office("America/New_York", "00:30", "01:30", range(7))
    sunday = local(NEW_YORK, 2026, 11, 1, 0, 0)
    assert minutes_between(cal, sunday, sunday + dt.timedelta(hours=12)) == 120
    assert add_minutes(cal, sunday, 120) == local(NEW_YORK, 2026, 11, 1, 1, 30, fold=1)
    # Hours starting inside the repeated hour start at its first pass (EDT).
    late = office("America/New_York", "01:30", "03:00", range(7))
    assert add_minutes(late, sunday, 1) == local(NEW_YORK, 2026, 11, 1, 1, 31, fold=0)
    assert minutes_between(late, sunday, sunday + dt.timedelta(hours=12)) == 150


def test_a_target_running_over_the_fall_back_night_counts_real_time() -> None:
    always = Calendar(time_zone="America/New_York")
    start = local(NEW_YORK, 2026, 10, 31, 23, 0)
    # 4 business hours on a 24/7 calendar are 4 real hours, whatever the wall clock does.
    assert add_minutes(always, start, 240) == start.astimezone(dt.UTC) + dt.timedelta(hours=4)
    assert add_minutes(always, start, 240) == local(NEW_YORK, 2026, 11, 1, 2, 0)


def test_a_calendar_without_hours_ahead_refuses() -> None:
    closed = Calendar(time_zone="UTC", weekly={})
    with pytest.raises(hours.CalendarClosed):
        add_minutes(closed, dt.datetime(2026, 1, 1, tzinfo=dt.UTC), 1)


@pytest.mark.parametrize("value", ["09:60", "24:01", "0900", "aa:bb", "09:0"])
def test_parse_refuses_what_is_not_a_time(value: str) -> None:
    with pytest.raises(ValueError, match="time of day"):
        hours.parse_hhmm(value)


CALENDARS = [
    office("Europe/Berlin"),
    office("America/New_York", "00:30", "02:30", range(7)),
    Calendar(time_zone="Europe/Berlin", weekly=dict.fromkeys(range(7), ((0, 360), (1320, 1440)))),
    office("America/New_York", holidays=frozenset({dt.date(2026, 3, 9), dt.date(2026, 11, 2)})),
    Calendar(time_zone="Europe/Berlin"),
]
# Around the 2026 DST changes of both zones, at whole seconds.
instants = st.datetimes(
    min_value=dt.datetime(2026, 3, 1), max_value=dt.datetime(2026, 11, 15), timezones=st.just(dt.UTC)
).map(lambda t: t.replace(microsecond=0))
durations = st.integers(min_value=0, max_value=5 * 24 * 3600).map(lambda s: dt.timedelta(seconds=s))


@settings(max_examples=150, deadline=None)
@given(cal=st.sampled_from(CALENDARS), start=instants, first=durations, second=durations)
def test_adding_in_two_steps_equals_adding_once(
    cal: Calendar, start: dt.datetime, first: dt.timedelta, second: dt.timedelta
) -> None:
    if first and second:
        assert add(cal, add(cal, start, first), second) == add(cal, start, first + second)


@settings(max_examples=150, deadline=None)
@given(cal=st.sampled_from(CALENDARS), start=instants, amount=durations)
def test_time_between_start_and_added_is_what_was_added(
    cal: Calendar, start: dt.datetime, amount: dt.timedelta
) -> None:
    assert between(cal, start, add(cal, start, amount)) == amount


@settings(max_examples=100, deadline=None)
@given(cal=st.sampled_from(CALENDARS), a=instants, b=instants, c=instants)
def test_time_between_adds_up_and_never_exceeds_real_time(
    cal: Calendar, a: dt.datetime, b: dt.datetime, c: dt.datetime
) -> None:
    a, b, c = sorted((a, b, c))
    assert between(cal, a, b) + between(cal, b, c) == between(cal, a, c)
    assert dt.timedelta(0) <= between(cal, a, c) <= c - a
