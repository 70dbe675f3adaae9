"""Tests for the mainland-China working-day calendar, against the State Council's published schedules."""
import datetime
from zoneinfo import ZoneInfo

import chinese_calendar
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from portal.core import workdays
from portal.core.workdays import SHANGHAI, ExpectedWindow, WorkCalendar, to_shanghai_date

D = datetime.date
DT = datetime.datetime

# No example database: the tests must leave nothing behind in the work tree.
PROPERTY = settings(max_examples=300, deadline=None, database=None)

# Spans unannounced years on both sides of the library's data (2004-2026).
any_day = st.dates(min_value=D(2003, 6, 1), max_value=D(2028, 12, 31))
any_moment = st.one_of(
    any_day,
    st.datetimes(min_value=DT(2003, 6, 1), max_value=DT(2028, 12, 31)),
    st.datetimes(
        min_value=DT(2003, 6, 1),
        max_value=DT(2028, 12, 31),
        timezones=st.sampled_from([datetime.UTC, SHANGHAI, ZoneInfo("America/Los_Angeles")]),
    ),
)
# Overrides cluster around the edge of the announced data, where operators will actually enter them.
any_overrides = st.dictionaries(
    st.dates(min_value=D(2026, 9, 1), max_value=D(2027, 3, 31)), st.booleans(), max_size=25
)
workday_count = st.integers(min_value=1, max_value=60)


def days_in(start: datetime.date, end: datetime.date) -> list[datetime.date]:
    """List the dates from start to end inclusive."""
    return [start + datetime.timedelta(days=i) for i in range((end - start).days + 1)]


def working(calendar: WorkCalendar, start: datetime.date, end: datetime.date) -> list[datetime.date]:
    """List the working days from start to end inclusive."""
    return [day for day in days_in(start, end) if calendar.is_workday(day)]


@pytest.fixture
def calendar() -> WorkCalendar:
    """A calendar without overrides."""
    return WorkCalendar()


# --- the published schedules ---------------------------------------------------------------------


def test_national_day_2025(calendar):
    """Oct 1-8 off; Sun Sep 28 and Sat Oct 11 are make-up working days."""
    assert not any(calendar.is_workday(day) for day in days_in(D(2025, 10, 1), D(2025, 10, 8)))
    assert calendar.is_workday(D(2025, 9, 28))
    assert calendar.is_workday(D(2025, 10, 11))
    assert working(calendar, D(2025, 9, 27), D(2025, 10, 12)) == [
        D(2025, 9, 28), D(2025, 9, 29), D(2025, 9, 30), D(2025, 10, 9), D(2025, 10, 10), D(2025, 10, 11),
    ]


def test_national_day_2026(calendar):
    """Oct 1-7 off; Sun Sep 20 and Sat Oct 10 are make-up days; Mid-Autumn Sep 25-27 off."""
    assert not any(calendar.is_workday(day) for day in days_in(D(2026, 10, 1), D(2026, 10, 7)))
    assert calendar.is_workday(D(2026, 9, 20))
    assert calendar.is_workday(D(2026, 10, 10))
    assert not calendar.is_workday(D(2026, 9, 25))
    assert working(calendar, D(2026, 9, 30), D(2026, 10, 11)) == [
        D(2026, 9, 30), D(2026, 10, 8), D(2026, 10, 9), D(2026, 10, 10),
    ]


def test_spring_festival_2025(calendar):
    """Jan 28-Feb 4 off; Sun Jan 26 and Sat Feb 8 are make-up days."""
    assert not any(calendar.is_workday(day) for day in days_in(D(2025, 1, 28), D(2025, 2, 4)))
    assert working(calendar, D(2025, 1, 25), D(2025, 2, 9)) == [
        D(2025, 1, 26), D(2025, 1, 27), D(2025, 2, 5), D(2025, 2, 6), D(2025, 2, 7), D(2025, 2, 8),
    ]


def test_spring_festival_2026(calendar):
    """Feb 15-23 off; Sat Feb 14 and Sat Feb 28 are make-up days (per the 2026 notice)."""
    assert not any(calendar.is_workday(day) for day in days_in(D(2026, 2, 15), D(2026, 2, 23)))
    assert calendar.is_workday(D(2026, 2, 14))
    assert calendar.is_workday(D(2026, 2, 28))
    assert working(calendar, D(2026, 2, 13), D(2026, 3, 1)) == [
        D(2026, 2, 13), D(2026, 2, 14), D(2026, 2, 24), D(2026, 2, 25), D(2026, 2, 26), D(2026, 2, 27),
        D(2026, 2, 28),
    ]


def test_weekdays_off_match_the_holidays_library_for_2024_to_2026(calendar):
    """A second, independent source agrees on every Monday-Friday day off."""
    holidays = pytest.importorskip("holidays")
    for year in (2024, 2025, 2026):
        off = holidays.China(years=year)
        for day in days_in(D(year, 1, 1), D(year, 12, 31)):
            if day.weekday() < 5:
                assert calendar.is_workday(day) == (day not in off), day


# --- counting from a submission ------------------------------------------------------------------


@pytest.mark.parametrize(
    "submitted",
    [
        D(2025, 9, 30),
        DT(2025, 9, 29, 16, 0),
        DT(2025, 9, 30, 15, 59, 59),
        DT(2025, 9, 30, 4, 0, tzinfo=SHANGHAI),
    ],
    ids=["date", "shanghai-midnight-as-utc", "shanghai-23:59-as-utc", "aware-shanghai"],
)
def test_submitted_on_sep_30_2025_third_workday_is_make_up_saturday(calendar, submitted):
    """Any time on Sep 30 in Shanghai: WD1 Oct 9, WD2 Oct 10, WD3 Sat Oct 11."""
    assert [calendar.add_workdays(submitted, n) for n in (1, 2, 3)] == [
        D(2025, 10, 9), D(2025, 10, 10), D(2025, 10, 11),
    ]


def test_submission_on_a_working_day_counts_from_the_next_one(calendar):
    """Submitting on a working day does not make that day working day 1."""
    assert calendar.add_workdays(D(2025, 9, 29), 1) == D(2025, 9, 30)


@pytest.mark.parametrize("submitted", [D(2025, 10, 3), D(2025, 10, 4), D(2025, 10, 8)])
def test_submission_on_a_holiday_or_weekend(calendar, submitted):
    """WD1 is the first working day after the holiday."""
    assert calendar.add_workdays(submitted, 1) == D(2025, 10, 9)


def test_naive_utc_evening_is_already_the_next_day_in_shanghai(calendar):
    """2025-09-30 17:00 UTC is Oct 1 01:00 in Shanghai, so counting starts from Oct 1."""
    late = DT(2025, 9, 30, 17, 0)
    assert to_shanghai_date(late) == D(2025, 10, 1)
    assert calendar.workdays_between(late, D(2025, 10, 9)) == 1
    # The day boundary decides: 15:59 UTC on Sep 29 is still Sep 29 in Shanghai, 16:00 is Sep 30.
    assert calendar.add_workdays(DT(2025, 9, 29, 15, 59), 1) == D(2025, 9, 30)
    assert calendar.add_workdays(DT(2025, 9, 29, 16, 0), 1) == D(2025, 10, 9)


def test_aware_datetime_in_another_zone_is_converted():
    """An aware moment is placed on the Shanghai date, not its own zone's date."""
    los_angeles = DT(2025, 9, 29, 9, 30, tzinfo=ZoneInfo("America/Los_Angeles"))
    assert to_shanghai_date(los_angeles) == D(2025, 9, 30)


def test_workdays_between(calendar):
    """Counts days after start up to and including end."""
    assert calendar.workdays_between(D(2025, 9, 30), D(2025, 10, 11)) == 3
    assert calendar.workdays_between(D(2025, 9, 30), D(2025, 10, 8)) == 0
    assert calendar.workdays_between(D(2025, 10, 11), D(2025, 9, 30)) == 0
    # Dec 31, make-up Sun Jan 4, Jan 5; Jan 1-3 off.
    assert calendar.workdays_between(D(2025, 12, 30), D(2026, 1, 5)) == 3


def test_window(calendar):
    """Working days 3 to 7 after Sep 30 2025, wholly in an announced year."""
    assert calendar.window(DT(2025, 9, 30, 2, 0), 3, 7) == ExpectedWindow(
        earliest=D(2025, 10, 11), latest=D(2025, 10, 16), estimate=False
    )


@pytest.mark.parametrize(("first", "last"), [(0, 3), (4, 3)])
def test_window_rejects_bad_bounds(calendar, first, last):
    """Working day 0 does not exist and the window cannot be reversed."""
    with pytest.raises(ValueError):
        calendar.window(D(2025, 9, 30), first, last)


def test_add_workdays_rejects_n_below_one(calendar):
    """There is no working day 0."""
    with pytest.raises(ValueError):
        calendar.add_workdays(D(2025, 9, 30), 0)


# --- overrides -----------------------------------------------------------------------------------


def test_extra_day_off_pushes_dates_later():
    """Closing Oct 9 2025 moves WD1 to Oct 10 and WD3 to Mon Oct 13."""
    calendar = WorkCalendar({D(2025, 10, 9): False})
    assert calendar.add_workdays(D(2025, 9, 30), 1) == D(2025, 10, 10)
    assert calendar.add_workdays(D(2025, 9, 30), 3) == D(2025, 10, 13)


def test_extra_day_on_pulls_dates_earlier():
    """Opening Sun Nov 2 2025 makes it WD1 after Sat Nov 1."""
    assert WorkCalendar().add_workdays(D(2025, 11, 1), 1) == D(2025, 11, 3)
    calendar = WorkCalendar({D(2025, 11, 2): True})
    assert calendar.add_workdays(D(2025, 11, 1), 1) == D(2025, 11, 2)
    assert calendar.add_workdays(D(2025, 11, 1), 2) == D(2025, 11, 3)


def test_overrides_are_a_snapshot():
    """Changing the caller's mapping later does not change a built calendar."""
    overrides = {D(2025, 10, 9): False}
    calendar = WorkCalendar(overrides)
    overrides[D(2025, 10, 9)] = True
    assert not calendar.is_workday(D(2025, 10, 9))


def test_override_keys_must_be_dates():
    """A datetime key would never match, so it is refused rather than ignored."""
    with pytest.raises(TypeError):
        WorkCalendar({DT(2025, 10, 9): False})


# --- announced years and estimates ---------------------------------------------------------------


def test_announced_years(calendar):
    """The library's explicit schedules run 2004-2026; 2027 and later are not announced yet."""
    assert calendar.is_announced(2025)
    assert calendar.is_announced(2026)
    assert not calendar.is_announced(2027)
    assert not calendar.is_announced(2028)
    assert not calendar.is_announced(2003)


def test_unannounced_year_uses_weekends_only_and_is_an_estimate(calendar):
    """2027 is Mon-Fri; the holidays library's rule-based projection is not used."""
    # holidays 0.109 projects 2027-10-04/05 and 2027-02-09/10 as days off; nothing announced that.
    for day in (D(2027, 10, 4), D(2027, 10, 5), D(2027, 2, 9), D(2027, 2, 10)):
        assert calendar.is_workday(day)
        assert calendar.is_estimate(day)
    assert not calendar.is_workday(D(2027, 10, 2))  # Saturday
    assert not calendar.is_estimate(D(2026, 6, 1))


def test_end_of_december_before_an_unannounced_year_is_an_estimate(calendar):
    """The next New Year arrangement can still move the last days of December."""
    assert calendar.is_estimate(D(2026, 12, 28))
    assert not calendar.is_estimate(D(2026, 12, 18))
    assert not calendar.is_estimate(D(2025, 12, 29))  # 2026 is announced


def test_override_in_unannounced_year_is_not_an_estimate():
    """An operator-entered day is known, whatever it says."""
    calendar = WorkCalendar({D(2027, 2, 8): False, D(2027, 2, 20): True})
    assert not calendar.is_estimate(D(2027, 2, 8))
    assert not calendar.is_estimate(D(2027, 2, 20))
    assert calendar.is_estimate(D(2027, 2, 9))
    assert not calendar.is_workday(D(2027, 2, 8))
    assert calendar.is_workday(D(2027, 2, 20))


def test_window_reaching_into_unannounced_year_is_an_estimate(calendar):
    """Late December 2026 plus 7 working days lands in January 2027."""
    window = calendar.window(D(2026, 12, 24), 3, 7)
    assert window.latest.year == 2027
    assert window.estimate


def test_window_wholly_in_2025_is_not_an_estimate(calendar):
    """Every day walked is in an announced year."""
    assert not calendar.window(D(2025, 6, 3), 3, 7).estimate


def test_window_whose_unannounced_days_are_all_overridden_is_not_an_estimate():
    """Operators entering the new schedule's days clears the flag."""
    start = D(2026, 12, 20)
    unknown = {day: day.weekday() < 5 for day in days_in(D(2026, 12, 25), D(2027, 1, 10))}
    assert WorkCalendar().window(start, 3, 7).estimate
    assert not WorkCalendar(unknown).window(start, 3, 7).estimate


# --- caching -------------------------------------------------------------------------------------


def test_year_tables_are_built_once_per_calendar(monkeypatch):
    """Page renders call window() many times; the year's table must not be rebuilt each time."""
    builds = []
    build = WorkCalendar._build_plan

    def counting_build(self, year):
        """Record each build, then build."""
        builds.append(year)
        return build(self, year)

    monkeypatch.setattr(WorkCalendar, "_build_plan", counting_build)
    calendar = WorkCalendar({D(2025, 10, 9): False})
    for _ in range(50):
        calendar.window(DT(2025, 12, 26, 3, 0), 3, 7)
    assert sorted(builds) == [2025, 2026]


def test_statutory_tables_are_shared_between_calendars():
    """A new calendar per request reuses the library-derived year table."""
    WorkCalendar().add_workdays(D(2025, 3, 3), 5)
    hits = workdays._statutory_workdays.cache_info().hits
    WorkCalendar().add_workdays(D(2025, 3, 3), 5)
    assert workdays._statutory_workdays.cache_info().hits > hits


# --- properties ----------------------------------------------------------------------------------


@PROPERTY
@given(start=any_moment, n=workday_count, overrides=any_overrides)
def test_nth_workday_is_a_later_workday_n_workdays_away(start, n, overrides):
    """The result is a working day after the start date, exactly n working days on."""
    calendar = WorkCalendar(overrides)
    result = calendar.add_workdays(start, n)
    assert calendar.is_workday(result)
    assert result > to_shanghai_date(start)
    assert calendar.workdays_between(to_shanghai_date(start), result) == n


@PROPERTY
@given(start=any_moment, n=workday_count, overrides=any_overrides)
def test_add_workdays_is_strictly_monotonic_and_composes(start, n, overrides):
    """One more working day is later, and is the next working day after the n-th."""
    calendar = WorkCalendar(overrides)
    nth = calendar.add_workdays(start, n)
    assert calendar.add_workdays(start, n + 1) > nth
    assert calendar.add_workdays(start, n + 1) == calendar.add_workdays(nth, 1)


@PROPERTY
@given(start=any_moment, n=workday_count)
def test_no_workday_is_skipped(start, n):
    """Every day between the start and the n-th working day is counted or off."""
    calendar = WorkCalendar()
    after = to_shanghai_date(start)
    result = calendar.add_workdays(start, n)
    between = days_in(after + datetime.timedelta(days=1), result)
    assert sum(calendar.is_workday(day) for day in between) == n


@PROPERTY
@given(start=any_moment, bounds=st.tuples(workday_count, workday_count), overrides=any_overrides)
def test_window_is_ordered_and_matches_add_workdays(start, bounds, overrides):
    """earliest <= latest, and both are the working days asked for."""
    first, last = sorted(bounds)
    calendar = WorkCalendar(overrides)
    window = calendar.window(start, first, last)
    assert window.earliest <= window.latest
    assert window.earliest == calendar.add_workdays(start, first)
    assert window.latest == calendar.add_workdays(start, last)


@PROPERTY
@given(start=any_day, end=any_day, overrides=any_overrides)
def test_workdays_between_matches_a_day_by_day_count(start, end, overrides):
    """The bisect-based count equals counting each day."""
    calendar = WorkCalendar(overrides)
    expected = len(working(calendar, start + datetime.timedelta(days=1), end)) if end > start else 0
    assert calendar.workdays_between(start, end) == expected


@PROPERTY
@given(day=st.dates(min_value=D(2004, 1, 1), max_value=D(2026, 12, 31)))
def test_announced_years_follow_chinesecalendar(day):
    """Without overrides, announced days are exactly the library's working days."""
    assert WorkCalendar().is_workday(day) == chinese_calendar.is_workday(day)


@PROPERTY
@given(day=any_day, overrides=any_overrides)
def test_overrides_win(day, overrides):
    """An override decides the day and makes it known; other days keep the statutory answer."""
    calendar = WorkCalendar(overrides)
    if day in overrides:
        assert calendar.is_workday(day) == overrides[day]
        assert not calendar.is_estimate(day)
    else:
        assert calendar.is_workday(day) == WorkCalendar().is_workday(day)
        assert calendar.is_estimate(day) == WorkCalendar().is_estimate(day)
