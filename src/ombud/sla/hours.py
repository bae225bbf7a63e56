"""Business-calendar arithmetic: add business time to an instant, measure business time between two.

A calendar is a time zone, weekly hours (per weekday, one or more ``[start, end)`` wall-clock intervals)
and holidays (local dates without hours). An interval is the stretch of real time from the *first*
instant the wall clock shows its start to the *last* instant it shows its end, so across a DST change:

- spring forward: a wall time that does not exist (02:30 in Berlin on the last Sunday of March) means
  the instant the clocks jumped; hours of 01:00-02:30 that night last one real hour, 00:00-24:00 lasts 23;
- fall back: hours that start inside the repeated hour start at its first pass, hours that end inside it
  end at its second pass; 00:00-24:00 lasts 25 real hours.

Everything here is pure: instants are aware datetimes, durations are exact ``timedelta`` values.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_MINUTES = 24 * 60
# A calendar with hours has business time every week; holidays could in theory cover years of dates, so
# the search for the next open interval gives up after this many local days instead of looping forever.
MAX_SEARCH_DAYS = 3 * 366


class CalendarClosed(ValueError):
    """The calendar has no business hours within reach (no weekly hours, or only holidays ahead)."""


@dataclass(frozen=True)
class Calendar:
    """Business hours: weekly intervals in minutes after local midnight (end may be 1440), per weekday
    0=Monday..6=Sunday, and holiday dates, in ``time_zone``."""

    time_zone: str = "UTC"
    weekly: Mapping[int, Sequence[tuple[int, int]]] = field(
        default_factory=lambda: dict.fromkeys(range(7), ((0, DAY_MINUTES),))
    )
    holidays: frozenset[dt.date] = frozenset()

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    @property
    def always_open(self) -> bool:
        return not self.holidays and all(
            tuple(self.weekly.get(day, ())) == ((0, DAY_MINUTES),) for day in range(7)
        )


ALWAYS = Calendar()


def parse_hhmm(value: str) -> int:
    """Return minutes after midnight for "HH:MM" (00:00..24:00); raise ValueError otherwise."""
    hours, sep, minutes = value.partition(":")
    if not sep or not (hours.isdigit() and minutes.isdigit()) or len(minutes) != 2 or len(hours) > 2:
        raise ValueError(f"{value!r} is not a time of day; write HH:MM, e.g. 09:00 or 17:30")
    total = int(hours) * 60 + int(minutes)
    if int(minutes) >= 60 or total > DAY_MINUTES:
        raise ValueError(f"{value!r} is not a time of day between 00:00 and 24:00")
    return total


def format_hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _resolve(zone: ZoneInfo, wall: dt.datetime, *, last: bool) -> dt.datetime:
    """Return the UTC instant the wall clock shows ``wall`` (naive): its first pass, or its last with
    ``last``; a wall time skipped by a DST jump resolves to the instant of the jump."""
    early = wall.replace(tzinfo=zone, fold=0).astimezone(dt.UTC)
    late = wall.replace(tzinfo=zone, fold=1).astimezone(dt.UTC)
    first, second = min(early, late), max(early, late)
    exists = [t for t in (first, second) if t.astimezone(zone).replace(tzinfo=None) == wall]
    if exists:
        return exists[-1] if last else exists[0]
    # In a gap: the offset changes once between ``first`` and ``second``; find that instant to the second.
    low, high = first, second
    after = high.astimezone(zone).utcoffset()
    while high - low > dt.timedelta(seconds=1):
        middle = low + (high - low) / 2
        middle = middle.replace(microsecond=0)
        if middle.astimezone(zone).utcoffset() == after:
            high = middle
        else:
            low = middle
    return high


def _day_intervals(calendar: Calendar, zone: ZoneInfo, day: dt.date) -> list[tuple[dt.datetime, dt.datetime]]:
    if day in calendar.holidays:
        return []
    midnight = dt.datetime(day.year, day.month, day.day)  # noqa: DTZ001 - a wall time in ``zone``
    spans = []
    for start, end in calendar.weekly.get(day.weekday(), ()):
        begin = _resolve(zone, midnight + dt.timedelta(minutes=start), last=False)
        finish = _resolve(zone, midnight + dt.timedelta(minutes=end), last=True)
        if finish > begin:
            spans.append((begin, finish))
    return spans


def intervals(calendar: Calendar, since: dt.datetime) -> Iterator[tuple[dt.datetime, dt.datetime]]:
    """Yield the calendar's open stretches as UTC (start, end), in order and never overlapping, the first
    one ending after ``since`` (its start may lie before ``since``). Raise CalendarClosed if none comes."""
    if calendar.always_open:
        yield (since.astimezone(dt.UTC), dt.datetime.max.replace(tzinfo=dt.UTC) - dt.timedelta(days=2))
        return
    zone = calendar.zone
    since = since.astimezone(dt.UTC)
    day = since.astimezone(zone).date() - dt.timedelta(days=1)
    last_end: dt.datetime | None = None
    empty_days = 0
    while True:
        spans = _day_intervals(calendar, zone, day)
        day += dt.timedelta(days=1)
        empty_days = 0 if spans else empty_days + 1
        if empty_days > MAX_SEARCH_DAYS:
            raise CalendarClosed("the calendar has no business hours in the next three years")
        for opens, finish in sorted(spans):
            # Around an ambiguous midnight one day's end passes the next day's start: count it once.
            begin = opens if last_end is None else max(opens, last_end)
            if finish <= begin:
                continue
            last_end = finish
            if finish > since:
                yield begin, finish


def add(calendar: Calendar, start: dt.datetime, duration: dt.timedelta) -> dt.datetime:
    """Return the instant ``duration`` of business time after ``start`` (``start`` itself for zero)."""
    start = start.astimezone(dt.UTC)
    if duration <= dt.timedelta(0):
        return start
    remaining = duration
    for opens, finish in intervals(calendar, start):
        begin = max(opens, start)
        if finish - begin >= remaining:
            return begin + remaining
        remaining -= finish - begin
    raise CalendarClosed("the calendar has no business hours")  # pragma: no cover - intervals() raises


def add_minutes(calendar: Calendar, start: dt.datetime, minutes: float) -> dt.datetime:
    """Return the instant ``minutes`` business minutes after ``start``."""
    return add(calendar, start, dt.timedelta(minutes=minutes))


def between(calendar: Calendar, start: dt.datetime, end: dt.datetime) -> dt.timedelta:
    """Return the business time from ``start`` to ``end`` (zero when ``end`` is not after ``start``)."""
    start, end = start.astimezone(dt.UTC), end.astimezone(dt.UTC)
    total = dt.timedelta(0)
    if end <= start:
        return total
    for begin, finish in intervals(calendar, start):
        if begin >= end:
            break
        total += min(finish, end) - max(begin, start)
        if finish >= end:
            break
    return total


def minutes_between(calendar: Calendar, start: dt.datetime, end: dt.datetime) -> float:
    """Return the business minutes from ``start`` to ``end``."""
    return between(calendar, start, end) / dt.timedelta(minutes=1)


def is_open(calendar: Calendar, at: dt.datetime) -> bool:
    """Return whether ``at`` falls inside business hours."""
    for begin, finish in intervals(calendar, at):
        return begin <= at.astimezone(dt.UTC) < finish
    return False  # pragma: no cover
