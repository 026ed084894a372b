"""patrolmap.patrolshifts: shift windows, rounds and planned-vs-done, against times worked out by hand."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest

from patrolmap.patrolshifts import (
    CheckinRecord,
    ShiftError,
    Tour,
    build_schedule,
    make_shift,
    next_shift,
    planned_offsets_min,
    shift_at,
    shift_window,
    tours_from_plan,
)

SH = zoneinfo.ZoneInfo("Asia/Shanghai")
NY = zoneinfo.ZoneInfo("America/New_York")
UTC = dt.UTC


def local(y: int, mo: int, d: int, h: int, mi: int = 0, zone: zoneinfo.ZoneInfo = SH, fold: int = 0) -> dt.datetime:
    return dt.datetime(y, mo, d, h, mi, tzinfo=zone, fold=fold)


def night(visits: int = 2, days: list[int] | None = None, late: float = 15, tz: str = "Asia/Shanghai"):  # type: ignore[no-untyped-def]
    return make_shift("22:00", "06:00", days if days is not None else [1, 2, 3, 4, 5, 6, 7], visits, late, tz)


def test_a_night_shift_splits_into_equal_rounds_across_midnight() -> None:
    window = shift_window(night(), dt.date(2026, 11, 23))
    assert window is not None
    # 22:00 Monday to 06:00 Tuesday, Beijing time (UTC+8): 14:00Z to 22:00Z.
    assert window.start == dt.datetime(2026, 11, 23, 14, 0, tzinfo=UTC)
    assert window.end == dt.datetime(2026, 11, 23, 22, 0, tzinfo=UTC)
    assert [(r.visit, r.start.astimezone(SH).strftime("%d %H:%M"), r.end.astimezone(SH).strftime("%d %H:%M"))
            for r in window.rounds] == [(1, "23 22:00", "24 02:00"), (2, "24 02:00", "24 06:00")]


def test_an_instant_after_midnight_belongs_to_the_shift_of_the_evening_before() -> None:
    shift = night()
    found = shift_at(shift, local(2026, 11, 24, 1, 10))
    assert found is not None
    window, round_ = found
    assert window.shift_date == dt.date(2026, 11, 23) and round_.visit == 1
    # Rounds are half-open: 02:00 starts round 2; 06:00 is already past the shift, 22:00 is in it.
    assert shift_at(shift, local(2026, 11, 24, 2, 0))[1].visit == 2  # type: ignore[index]
    assert shift_at(shift, local(2026, 11, 24, 6, 0)) is None
    assert shift_at(shift, local(2026, 11, 24, 21, 59)) is None
    evening = shift_at(shift, local(2026, 11, 24, 22, 0))
    assert evening is not None and evening[0].shift_date == dt.date(2026, 11, 24) and evening[1].visit == 1
    # The same instant given in UTC (17:10Z = 01:10 Beijing) finds the same shift.
    assert shift_at(shift, dt.datetime(2026, 11, 23, 17, 10, tzinfo=UTC))[0].shift_date == dt.date(2026, 11, 23)  # type: ignore[index]


def test_days_name_the_date_the_shift_starts_on() -> None:
    weekdays = night(days=[1, 2, 3, 4, 5])
    assert shift_window(weekdays, dt.date(2026, 11, 28)) is None  # a Saturday
    # Saturday 01:00 is still Friday night's shift; Sunday 01:00 would be Saturday's, which does not run.
    friday_night = shift_at(weekdays, local(2026, 11, 28, 1, 0))
    assert friday_night is not None and friday_night[0].shift_date == dt.date(2026, 11, 27)
    assert shift_at(weekdays, local(2026, 11, 29, 1, 0)) is None
    assert shift_at(weekdays, local(2026, 11, 28, 23, 0)) is None
    # No days listed: every day.
    every = make_shift("08:00", "12:00", [], 1, 15, "Asia/Shanghai")
    assert every is not None and shift_window(every, dt.date(2026, 11, 29)) is not None


def test_daylight_saving_ends_inside_a_night_shift() -> None:
    # New York leaves daylight saving at 02:00 EDT on Sunday 1 November 2026 (clocks go back to 01:00 EST).
    shift = night(visits=3, tz="America/New_York")
    window = shift_window(shift, dt.date(2026, 10, 31))
    assert window is not None
    # 22:00 EDT (UTC-4) = 02:00Z; 06:00 EST (UTC-5) = 11:00Z: nine real hours, three rounds of three.
    assert window.start == dt.datetime(2026, 11, 1, 2, 0, tzinfo=UTC)
    assert window.end == dt.datetime(2026, 11, 1, 11, 0, tzinfo=UTC)
    assert [r.start.hour for r in window.rounds] == [2, 5, 8]
    assert [r.start.astimezone(NY).strftime("%H:%M%z") for r in window.rounds] == [
        "22:00-0400", "01:00-0400", "03:00-0500"]
    # 01:30 happens twice that night: both belong to round 2 (05:00Z-08:00Z), by their real instants.
    first = shift_at(shift, local(2026, 11, 1, 1, 30, zone=NY, fold=0))
    second = shift_at(shift, local(2026, 11, 1, 1, 30, zone=NY, fold=1))
    assert first is not None and second is not None
    assert (first[0].shift_date, first[1].visit) == (dt.date(2026, 10, 31), 2) == (second[0].shift_date,
                                                                                   second[1].visit)


def test_daylight_saving_starts_inside_a_night_shift() -> None:
    # Clocks jump from 02:00 EST to 03:00 EDT on Sunday 8 March 2026: the shift lasts seven hours.
    window = shift_window(night(visits=1, tz="America/New_York"), dt.date(2026, 3, 7))
    assert window is not None
    assert window.start == dt.datetime(2026, 3, 8, 3, 0, tzinfo=UTC)  # 22:00 EST = 03:00Z
    assert window.end == dt.datetime(2026, 3, 8, 10, 0, tzinfo=UTC)  # 06:00 EDT = 10:00Z


def test_an_end_equal_to_the_start_is_a_whole_day() -> None:
    shift = make_shift("00:00", "00:00", None, 4, 15, "America/New_York")
    assert shift is not None
    plain = shift_window(shift, dt.date(2026, 11, 2))
    assert plain is not None and plain.end - plain.start == dt.timedelta(hours=24)
    assert [r.end - r.start for r in plain.rounds] == [dt.timedelta(hours=6)] * 4
    long_day = shift_window(shift, dt.date(2026, 11, 1))  # the day the clocks go back has 25 hours
    assert long_day is not None and long_day.end - long_day.start == dt.timedelta(hours=25)


def test_next_shift() -> None:
    shift = night(days=[1, 2, 3, 4, 5])
    upcoming = next_shift(shift, local(2026, 11, 28, 10, 0))  # Saturday morning: next is Monday night
    assert upcoming is not None and upcoming.shift_date == dt.date(2026, 11, 30)
    assert upcoming.start == local(2026, 11, 30, 22, 0).astimezone(UTC)


def test_bad_shift_definitions_are_refused() -> None:
    assert make_shift(None, "06:00", [], 1, 15, "Asia/Shanghai") is None  # no shift: never on shift
    for start, days, visits, tz in (("24:00", [1], 1, "Asia/Shanghai"), ("7:00", [1], 1, "Asia/Shanghai"),
                                    ("07:00", [0], 1, "Asia/Shanghai"), ("07:00", [8], 1, "Asia/Shanghai"),
                                    ("07:00", [1], 0, "Asia/Shanghai"), ("07:00", [1], 1, "Mars/Olympus")):
        with pytest.raises(ShiftError):
            make_shift(start, "09:00", days, visits, 15, tz)


def test_planned_offsets_follow_the_cumulative_legs() -> None:
    # Legs 400, 800, 240 m at 80 m/min: stops 5, 15 and 18 minutes after the round starts.
    assert planned_offsets_min([400, 800, 240, 560], 3, 80) == [5.0, 15.0, 18.0]
    assert tours_from_plan({"routes": [{"team": 2, "order": [7], "legs_m": [10.0, 10.0]},
                                       {"team": 1, "order": [3, 4], "legs_m": [1, 2, 3]}],
                            "unreachable": [], "not_fitted": []}) == [Tour(1, (3, 4), (1.0, 2.0, 3.0)),
                                                                       Tour(2, (7,), (10.0, 10.0))]


TOURS = [Tour(1, (11, 12, 13), (400.0, 800.0, 240.0, 560.0)), Tour(2, (21,), (160.0, 160.0))]


def _checkins() -> list[CheckinRecord]:
    return [
        CheckinRecord(11, 1, 1, local(2026, 11, 23, 22, 20), "zhang", "qr"),  # planned 22:05, due 22:20: on time
        CheckinRecord(12, 1, 1, local(2026, 11, 23, 23, 40), "zhang", "gps"),  # a second one, later
        CheckinRecord(12, 1, 1, local(2026, 11, 23, 22, 31), "zhang", "qr"),  # planned 22:15, due 22:30: late
        CheckinRecord(21, 2, 1, local(2026, 11, 24, 1, 10), "li", "gps"),  # planned 22:02: late, still round 1
        CheckinRecord(21, 1, 1, local(2026, 11, 23, 22, 3), "zhang", "gps"),  # team 1 does not hold 21: ignored
        CheckinRecord(11, 1, 2, local(2026, 11, 24, 2, 4), "zhang", "qr"),  # round 2, planned 02:05: on time
    ]


def test_a_scripted_night_shift_is_classified_as_worked_out_by_hand() -> None:
    schedule = build_schedule(night(), TOURS, 80.0, dt.date(2026, 11, 23), _checkins(), local(2026, 11, 24, 3, 0))
    assert schedule is not None
    got = {(s.visit, s.team, s.checkpoint): (s.seq, s.planned_at.astimezone(SH).strftime("%H:%M"), s.status,
                                             s.checkins) for s in schedule.stops}
    assert got == {
        (1, 1, 11): (1, "22:05", "on_time", 1), (1, 1, 12): (2, "22:15", "late", 2),
        (1, 1, 13): (3, "22:18", "missed", 0), (1, 2, 21): (1, "22:02", "late", 1),
        (2, 1, 11): (1, "02:05", "on_time", 1), (2, 1, 12): (2, "02:15", "pending", 0),
        (2, 1, 13): (3, "02:18", "pending", 0), (2, 2, 21): (1, "02:02", "pending", 0),
    }
    by_key = {(s.visit, s.team, s.checkpoint): s for s in schedule.stops}
    assert by_key[(1, 1, 12)].checked_in_at == local(2026, 11, 23, 22, 31)  # the first check-in counts
    assert by_key[(1, 1, 12)].method == "qr" and by_key[(1, 2, 21)].officer == "li"
    assert by_key[(1, 1, 11)].due_by == local(2026, 11, 23, 22, 20)
    assert schedule.totals == {"on_time": 2, "late": 2, "missed": 1, "pending": 3}
    assert schedule.round_totals(1) == {"on_time": 1, "late": 2, "missed": 1, "pending": 0}
    # Once the shift is over, every stop without a check-in is missed.
    over = build_schedule(night(), TOURS, 80.0, dt.date(2026, 11, 23), _checkins(), local(2026, 11, 24, 6, 0))
    assert over is not None and over.totals == {"on_time": 2, "late": 2, "missed": 4, "pending": 0}
    # A Saturday shift of a weekday route does not exist.
    assert build_schedule(night(days=[1]), TOURS, 80.0, dt.date(2026, 11, 28), [], local(2026, 11, 30, 0)) is None
