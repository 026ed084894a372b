"""Hour windows, day selection and the workday calendar (调休, holidays, school terms)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from patrolmap.analysis.errors import InputError
from patrolmap.analysis.timewindow import (
    TimeFilter,
    hours_mask,
    parse_days,
    parse_hours,
    parse_kinds,
    peak_hours,
    select_violations,
)
from patrolmap.analysis.workcalendar import BUILT_IN, WorkCalendar, as_dates, weekday_of

CALENDAR = WorkCalendar.load()


def minutes(*times: str) -> np.ndarray:
    return np.array([int(t[:2]) * 60 + int(t[3:]) for t in times])


def table(*rows: tuple[str, str, str]) -> pd.DataFrame:
    """(local date, local time, kind) rows as violation_table columns."""
    dates = [dt.date.fromisoformat(d) for d, _, _ in rows]
    return pd.DataFrame({
        "local_date": dates,
        "local_hour": [int(t[:2]) for _, t, _ in rows],
        "local_minute": [int(t[3:]) for _, t, _ in rows],
        "local_weekday": [d.weekday() for d in dates],
        "kind": [k for _, _, k in rows],
    })


def test_windows_are_half_open() -> None:
    (window,) = parse_hours("07:00-09:00")
    inside = hours_mask(minutes("06:59", "07:00", "08:59", "09:00"), [window])
    assert inside.tolist() == [False, True, True, False]


def test_windows_may_wrap_midnight() -> None:
    (window,) = parse_hours("22:00-06:00")
    assert window.wraps
    got = hours_mask(minutes("21:59", "22:00", "23:59", "00:00", "05:59", "06:00", "12:00"), [window])
    assert got.tolist() == [False, True, True, True, True, False, False]
    assert window.hours() == {22, 23, 0, 1, 2, 3, 4, 5}


def test_several_windows_and_24_00() -> None:
    windows = parse_hours("07:00-09:00, 11:30-13:00,22:00-24:00")
    got = hours_mask(minutes("08:00", "11:29", "11:30", "12:59", "13:00", "23:59", "00:00"), windows)
    assert got.tolist() == [True, False, True, True, False, True, False]
    assert str(windows[1]) == "11:30-13:00"
    assert parse_hours("") == () and parse_hours(None) == ()
    assert hours_mask(minutes("03:00"), ()).tolist() == [True]
    assert parse_hours("7:30-9:00")[0].start == 450


@pytest.mark.parametrize("text", ["07-09", "7:00", "07:00-09:60", "24:00-01:00", "07:00-24:30", "08:00-08:00",
                                  "07:00-09:00,", "abc", "07:00—09:00x"])
def test_bad_windows_say_why(text: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_hours(text)
    assert isinstance(caught.value, ValueError)
    assert "%(" in caught.value.template and caught.value.params  # translatable, with the culprit named


def test_days_by_name_number_range_and_class() -> None:
    assert parse_days("mon,tue").weekdays == {0, 1}
    assert parse_days("1-5").weekdays == {0, 1, 2, 3, 4}
    assert parse_days("fri-mon").weekdays == {4, 5, 6, 0}
    assert parse_days("周六,7").weekdays == {5, 6}
    assert parse_days("workdays").classes == {"workdays"}
    assert parse_days("weekends, mon").classes == {"weekends"}
    assert parse_days("") is None and parse_days("all") is None
    for bad in ("funday", "0", "8", "mon-funday"):
        with pytest.raises(InputError):
            parse_days(bad)


def test_workday_calendar_knows_makeup_saturdays_and_holiday_weekdays() -> None:
    days = ["2026-02-14",  # Saturday worked for the Spring Festival (调休)
            "2026-02-16",  # Monday inside the Spring Festival holiday
            "2026-10-05",  # Monday of National Day
            "2026-03-03",  # an ordinary Tuesday
            "2026-03-07",  # an ordinary Saturday
            "2025-01-26",  # Sunday worked in 2025
            "2026-01-04"]  # Sunday worked after New Year 2026
    assert CALENDAR.is_workday(days).tolist() == [True, False, False, True, False, True, True]
    assert CALENDAR.is_holiday(days).tolist() == [False, True, True, False, False, False, False]
    assert CALENDAR.is_makeup_workday(days).tolist() == [True, False, False, False, False, True, True]


def test_select_by_workdays_weekdays_and_restdays() -> None:
    t = table(("2026-02-14", "08:00", "no_parking"), ("2026-10-05", "08:00", "no_parking"),
              ("2026-03-03", "08:00", "no_parking"), ("2026-03-07", "08:00", "no_parking"))
    assert select_violations(t, days="workdays", calendar=CALENDAR).tolist() == [True, False, True, False]
    assert select_violations(t, days="weekdays").tolist() == [False, True, True, False]
    assert select_violations(t, days="restdays", calendar=CALENDAR).tolist() == [False, True, False, True]
    assert select_violations(t, days="holidays", calendar=CALENDAR).tolist() == [False, True, False, False]
    assert select_violations(t, days="weekends").tolist() == [True, False, False, True]


def test_select_by_dates_hours_and_kinds() -> None:
    t = table(("2026-03-01", "07:30", "fire_lane"), ("2026-03-02", "23:10", "no_parking"),
              ("2026-03-03", "02:00", "fire_lane"), ("2026-03-04", "12:00", "entrance"))
    assert select_violations(t, hours="22:00-06:00").tolist() == [False, True, True, False]
    assert select_violations(t, date_from="2026-03-02", date_to="2026-03-03").tolist() == [False, True, True, False]
    assert select_violations(t, kinds="fire_lane,entrance").tolist() == [True, False, True, True]
    assert select_violations(t, hours="22:00-06:00", kinds=["fire_lane"]).tolist() == [False, False, True, False]
    with pytest.raises(InputError):
        select_violations(t, kinds="parking")
    with pytest.raises(InputError):
        select_violations(t, date_from="2026-03-05", date_to="2026-03-01")
    with pytest.raises(InputError):
        select_violations(t, date_from="yesterday")
    assert select_violations(t.iloc[:0]).tolist() == []


def test_wrapping_window_counts_after_midnight_on_the_next_date() -> None:
    # Friday 2026-03-06 23:00 and Saturday 01:00: the same night, two dates.
    t = table(("2026-03-06", "23:00", "other"), ("2026-03-07", "01:00", "other"))
    assert select_violations(t, hours="22:00-06:00", days="workdays", calendar=CALENDAR).tolist() == [True, False]


def test_school_terms_from_an_override_file(tmp_path: Path) -> None:
    override = tmp_path / "calendar.json"
    override.write_text(json.dumps({
        "years": {"2027": {"holidays": [{"name": "元旦", "from": "2027-01-01", "to": "2027-01-01"}],
                           "workdays": []}},
        "terms": [{"name": "2026 autumn", "from": "2026-09-07", "to": "2027-01-15"}],
    }), encoding="utf-8")
    calendar = WorkCalendar.load(override)
    assert calendar.years == {2025, 2026, 2027}
    assert calendar.is_workday(["2027-01-01", "2026-02-14"]).tolist() == [False, True]  # built-in years kept
    assert calendar.in_term(["2026-09-06", "2026-09-07", "2027-01-15", "2027-01-16"]).tolist() == [
        False, True, True, False]
    t = table(("2026-09-01", "08:00", "other"), ("2026-10-12", "08:00", "other"))
    assert select_violations(t, calendar=calendar, term="term").tolist() == [False, True]
    assert select_violations(t, calendar=calendar, term="vacation").tolist() == [True, False]
    with pytest.raises(InputError):
        select_violations(t, calendar=CALENDAR, term="term")  # the built-in calendar has no terms
    assert CALENDAR.unknown_years(dt.date(2026, 12, 1), dt.date(2028, 1, 1)) == [2027, 2028]


def test_a_broken_override_is_named(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"years": {"2027": {"holidays": [{"from": "2027-13-01", "to": "2027-01-02"}]}}}')
    with pytest.raises(ValueError, match=r"bad\.json"):
        WorkCalendar.load(bad)


def test_built_in_calendar_matches_the_chinese_calendar_package() -> None:
    """Cross-check the data file against an independent transcription of the State Council notices."""
    chinese_calendar = pytest.importorskip("chinese_calendar")
    data = json.loads(BUILT_IN.read_text(encoding="utf-8"))
    for year in data["years"]:
        days = np.arange(np.datetime64(f"{year}-01-01"), np.datetime64(f"{int(year) + 1}-01-01"))
        ours = CALENDAR.is_workday(days)
        theirs = [chinese_calendar.is_workday(dt.date.fromisoformat(str(d))) for d in days]
        assert ours.tolist() == theirs, year


def test_date_helpers() -> None:
    dates = as_dates([dt.date(2026, 3, 2), "2026-03-08"])
    assert weekday_of(dates).tolist() == [0, 6]
    assert as_dates(np.array(["2026-03-02T10:00"], dtype="datetime64[m]")).dtype == np.dtype("datetime64[D]")


def test_time_filter_prefilters_are_supersets() -> None:
    flt = TimeFilter.parse(days="mon-wed", hours="22:30-01:00", kinds="zombie")
    assert flt.prefilter_hours() == {22, 23, 0}
    assert flt.prefilter_weekdays() == {0, 1, 2}
    assert TimeFilter.parse(days="workdays", calendar=CALENDAR).prefilter_weekdays() is None
    assert parse_kinds(" ,") is None


def test_peak_hours() -> None:
    assert peak_hours(np.array([8, 8, 8, 12, 12, 23])) == [
        {"hours": "08:00-09:00", "count": 3}, {"hours": "12:00-13:00", "count": 2},
        {"hours": "23:00-24:00", "count": 1}]
    assert peak_hours(np.array([], dtype=int)) == []
