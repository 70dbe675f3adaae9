"""Working days on the mainland-China calendar, for the refund timelines shown to sellers.

Pure rules: no Flask, no database. The caller loads the operators' overrides (an extra day off or
an extra day on, entered without a release) and passes them in as ``{date: bool}``.

A day is a working day when an override says so; otherwise when the State Council's schedule makes
it a make-up working day (调休, e.g. a Saturday); otherwise when it is Monday to Friday and not a
statutory day off. Everything is counted on Asia/Shanghai dates. "Working day 1" is the first
working day *after* the day of submission, whatever the hour and whatever kind of day that was.

Source of the schedule: ``chinesecalendar``. It lists, per year, every day off and every make-up
working day exactly as the State Council announced them, and it raises for years it has no data
for rather than guessing. ``holidays`` (0.109) agrees with it day for day for 2006-2026, but its
China class exposes no make-up-workday category (only ``public`` and ``half_day``), and for years
past its data (2027, 2028, ...) it silently *projects* holidays by rule, with weekend shifting and
no make-up days; those projections are not announcements (e.g. it gives 2027-10-04 and 10-05 off).

Announced years: a year counts as announced when ``chinesecalendar`` carries an explicit schedule
for it (at least one day off listed in that year); with chinesecalendar 1.11.0 that is 2004-2026.
Days in any other year follow the weekends-only rule and are flagged as estimates. The State
Council usually publishes next year's schedule in November or December; until the library ships
it, operators can enter the announced days as overrides, which clears the estimate flag for them.

Because the New Year arrangement of a year can move days at the end of the year before (the 2019
notice made 2018-12-29 a working Saturday and 2018-12-31 a day off), the last week of December is
also flagged as an estimate while the following year is not announced.
"""
import datetime
from bisect import bisect_right
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from zoneinfo import ZoneInfo

import chinese_calendar

SHANGHAI = ZoneInfo("Asia/Shanghai")
_UTC = datetime.UTC

# The earliest late-December day a New Year arrangement has moved is Dec 29 (2001, 2007, 2018);
# starting at Dec 25 leaves a margin for a notice that reaches a little further back.
NEW_YEAR_REACH = (12, 25)

_ONE_DAY = datetime.timedelta(days=1)


def _schedule_by_year(days: Mapping[datetime.date, object]) -> dict[int, frozenset[datetime.date]]:
    """Group a chinesecalendar day table by year."""
    by_year: dict[int, set[datetime.date]] = {}
    for day in days:
        by_year.setdefault(day.year, set()).add(day)
    return {year: frozenset(year_days) for year, year_days in by_year.items()}


# Loaded once per process: the library's tables never change while we run.
_STATUTORY_DAYS_OFF = _schedule_by_year(chinese_calendar.holidays)
_MAKE_UP_WORKDAYS = _schedule_by_year(chinese_calendar.workdays)
ANNOUNCED_YEARS = frozenset(_STATUTORY_DAYS_OFF)


def to_shanghai_date(moment: datetime.date | datetime.datetime) -> datetime.date:
    """Return the Asia/Shanghai calendar date of a moment (naive datetimes are taken as UTC)."""
    if isinstance(moment, datetime.datetime):
        # The app stores naive UTC, so a naive value is UTC, never local time.
        aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=_UTC)
        return aware.astimezone(SHANGHAI).date()
    return moment


def _days_of_year(year: int):
    """Yield every date of a year in order."""
    day = datetime.date(year, 1, 1)
    while day.year == year:
        yield day
        day += _ONE_DAY


@lru_cache(maxsize=64)
def _statutory_workdays(year: int) -> tuple[datetime.date, ...]:
    """Return a year's working days, in order, before any operator override."""
    days_off = _STATUTORY_DAYS_OFF.get(year, frozenset())
    make_up = _MAKE_UP_WORKDAYS.get(year, frozenset())
    return tuple(
        day
        for day in _days_of_year(year)
        if day in make_up or (day.weekday() < 5 and day not in days_off)
    )


@dataclass(frozen=True)
class ExpectedWindow:
    """When a step is expected: between two working-day counts after submission."""

    earliest: datetime.date
    latest: datetime.date
    estimate: bool


@dataclass(frozen=True)
class _YearPlan:
    """One year's working days with overrides applied, in order and as a set."""

    workdays: tuple[datetime.date, ...]
    workday_set: frozenset[datetime.date]


class WorkCalendar:
    """The mainland-China working-day calendar plus the operators' overrides."""

    def __init__(self, overrides: Mapping[datetime.date, bool] | None = None):
        """Take a snapshot of the overrides (True = working day, False = day off)."""
        self._overrides: dict[datetime.date, bool] = {}
        for day, is_on in (overrides or {}).items():
            # A datetime key would never match a date lookup and the override would be lost silently.
            if isinstance(day, datetime.datetime) or not isinstance(day, datetime.date):
                raise TypeError(f"override keys must be dates, got {day!r}")
            self._overrides[day] = bool(is_on)
        self._override_years = frozenset(day.year for day in self._overrides)
        self._plans: dict[int, _YearPlan] = {}

    def _plan(self, year: int) -> _YearPlan:
        """Return the year's plan, building it on first use only."""
        plan = self._plans.get(year)
        if plan is None:
            plan = self._plans[year] = self._build_plan(year)
        return plan

    def _build_plan(self, year: int) -> _YearPlan:
        """Apply this calendar's overrides to the statutory working days of a year."""
        workdays = _statutory_workdays(year)
        if year in self._override_years:
            on = set(workdays)
            for day, is_on in self._overrides.items():
                if day.year == year:
                    if is_on:
                        on.add(day)
                    else:
                        on.discard(day)
            workdays = tuple(sorted(on))
        return _YearPlan(workdays=workdays, workday_set=frozenset(workdays))

    def is_workday(self, day: datetime.date) -> bool:
        """Tell whether staff work on this Shanghai date."""
        day = to_shanghai_date(day)
        return day in self._plan(day.year).workday_set

    def is_announced(self, year: int) -> bool:
        """Tell whether the State Council's holiday schedule for the year is in our data."""
        return year in ANNOUNCED_YEARS

    def is_estimate(self, day: datetime.date) -> bool:
        """Tell whether the day's status is a guess that a future announcement may change."""
        day = to_shanghai_date(day)
        if day in self._overrides:
            return False
        if not self.is_announced(day.year):
            return True
        return (day.month, day.day) >= NEW_YEAR_REACH and not self.is_announced(day.year + 1)

    def add_workdays(self, start: datetime.date | datetime.datetime, n: int) -> datetime.date:
        """Return the n-th working day after the Shanghai date of `start` (n >= 1)."""
        if n < 1:
            raise ValueError(f"n must be at least 1, got {n}")
        after = to_shanghai_date(start)
        year = after.year
        workdays = self._plan(year).workdays
        index = bisect_right(workdays, after)
        remaining = n
        while remaining > len(workdays) - index:
            remaining -= len(workdays) - index
            year += 1
            workdays = self._plan(year).workdays
            index = 0
        return workdays[index + remaining - 1]

    def workdays_between(
        self, start: datetime.date | datetime.datetime, end: datetime.date | datetime.datetime
    ) -> int:
        """Count working days d with start < d <= end (0 when end is not after start)."""
        start, end = to_shanghai_date(start), to_shanghai_date(end)
        if end <= start:
            return 0
        count = 0
        for year in range(start.year, end.year + 1):
            workdays = self._plan(year).workdays
            count += bisect_right(workdays, end) - bisect_right(workdays, start)
        return count

    def window(self, start: datetime.date | datetime.datetime, first: int, last: int) -> ExpectedWindow:
        """Return the dates of working days `first` to `last` after `start`, flagged if guessed."""
        if not 1 <= first <= last:
            raise ValueError(f"need 1 <= first <= last, got first={first}, last={last}")
        after = to_shanghai_date(start)
        earliest = self.add_workdays(after, first)
        latest = self.add_workdays(after, last)
        # Every day walked matters: an unannounced day off could turn out to be a working day too.
        estimate = False
        day = after + _ONE_DAY
        while day <= latest and not estimate:
            estimate = self.is_estimate(day)
            day += _ONE_DAY
        return ExpectedWindow(earliest=earliest, latest=latest, estimate=estimate)
