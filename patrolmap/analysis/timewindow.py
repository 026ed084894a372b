"""Which violations a time filter selects: dates, days of the week or of the calendar, hour windows, kinds.

All times are the campus's local time, as stored with each violation (local_date,
local_hour, local_minute, local_weekday: Monday=0). Hour windows are half-open
[start, end): "07:00-09:00" holds 07:00 and 08:59 but not 09:00. A window whose end is
before its start wraps midnight: "22:00-06:00" is 22:00 to 05:59 the next morning (the
part after midnight counts on that next day's date). Several windows are separated by
commas and selected together.

Days: `weekdays` (Monday-Friday), `weekends`, `workdays` (the workday calendar: weekdays
that are no public holiday, plus make-up workdays, 调休), `restdays` (the other days),
`holidays` (official holiday periods), names (`mon,tue`, `周一`), ISO numbers (1=Monday ..
7=Sunday) and ranges (`1-5`, `mon-fri`); several are joined by commas and any of them
matches. A separate `term` filter keeps school-term days (`term`) or vacation days
(`vacation`) of the calendar's school terms.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from patrolmap.analysis.errors import N_, InputError
from patrolmap.analysis.workcalendar import WorkCalendar, as_dates
from patrolmap.geo.schema import VIOLATION_KINDS

MINUTES_PER_DAY = 24 * 60
MAX_WINDOWS = 12
_WINDOW = re.compile(r"^(\d{1,2}):(\d{2})\s*[-–~]\s*(\d{1,2}):(\d{2})$")


@dataclass(frozen=True)
class HourWindow:
    """[start, end) in minutes after local midnight; end < start wraps midnight."""

    start: int
    end: int

    @property
    def wraps(self) -> bool:
        return self.end < self.start

    def contains(self, minutes: np.ndarray) -> np.ndarray:
        if self.wraps:
            return (minutes >= self.start) | (minutes < self.end)
        return (minutes >= self.start) & (minutes < self.end)

    def hours(self) -> set[int]:
        """The local hours any minute of the window falls in (for a coarse prefilter)."""
        minutes = np.arange(MINUTES_PER_DAY)
        return {int(h) for h in np.unique(minutes[self.contains(minutes)] // 60)}

    def __str__(self) -> str:
        return f"{self.start // 60:02d}:{self.start % 60:02d}-{self.end // 60:02d}:{self.end % 60:02d}"


def parse_hours(text: str | None) -> tuple[HourWindow, ...]:
    """ "07:00-09:00" or "07:00-09:00,11:30-13:00" or "22:00-06:00"; empty means the whole day."""
    if text is None or not text.strip():
        return ()
    parts = [p.strip() for p in text.split(",")]
    if len(parts) > MAX_WINDOWS:
        raise InputError(N_("hours: at most %(max)s windows, got %(count)s"), max=MAX_WINDOWS, count=len(parts))
    windows = []
    for part in parts:
        match = _WINDOW.match(part)
        if not match:
            raise InputError(N_("hours must look like 07:00-09:00 (several separated by commas), got %(text)s"),
                             text=repr(part))
        h0, m0, h1, m1 = (int(g) for g in match.groups())
        if h0 > 23 or m0 > 59 or h1 > 24 or m1 > 59 or (h1 == 24 and m1 != 0):
            raise InputError(N_("hours out of range in %(text)s: 00:00 to 23:59, or 24:00 as an end"),
                             text=repr(part))
        start, end = h0 * 60 + m0, h1 * 60 + m1
        if start == end:
            raise InputError(N_("the hour window %(text)s is empty: its start and end are the same"),
                             text=repr(part))
        windows.append(HourWindow(start, end))
    return tuple(windows)


def hours_mask(minute_of_day: np.ndarray, windows: Sequence[HourWindow]) -> np.ndarray:
    """True where the local minute of the day falls in any window (all True for no windows)."""
    if not windows:
        return np.ones(len(minute_of_day), dtype=bool)
    mask = np.zeros(len(minute_of_day), dtype=bool)
    for window in windows:
        mask |= window.contains(minute_of_day)
    return mask


def window_hours(windows: Sequence[HourWindow]) -> set[int] | None:
    """Local hours touched by the windows, or None for the whole day."""
    if not windows:
        return None
    return set().union(*(w.hours() for w in windows))


# ---------------------------------------------------------------- days

DAY_CLASSES = ("weekdays", "weekends", "workdays", "restdays", "holidays")
_DAY_NAMES = {
    **{name: i for i, name in enumerate(("mon", "tue", "wed", "thu", "fri", "sat", "sun"))},
    **{name: i for i, name in enumerate(("monday", "tuesday", "wednesday", "thursday", "friday", "saturday",
                                         "sunday"))},
    **{f"周{c}": i for i, c in enumerate("一二三四五六日")},
    "周天": 6, "星期日": 6, "星期天": 6,
    **{f"星期{c}": i for i, c in enumerate("一二三四五六")},
}
_ALIASES = {"weekday": "weekdays", "weekend": "weekends", "workday": "workdays", "restday": "restdays",
            "holiday": "holidays", "工作日": "workdays", "休息日": "restdays", "节假日": "holidays", "周末": "weekends"}


@dataclass(frozen=True)
class DaySelection:
    """Days of the week (Monday=0) and calendar classes; a day matching any of them is selected."""

    weekdays: frozenset[int] = frozenset()
    classes: frozenset[str] = frozenset()

    @property
    def needs_calendar(self) -> bool:
        return bool(self.classes & {"workdays", "restdays", "holidays"})

    def coarse_weekdays(self) -> set[int] | None:
        """Weekdays that can match at all (for a prefilter), or None when any weekday can."""
        if self.classes & {"workdays", "restdays", "holidays"}:
            return None  # make-up Saturdays and holiday Mondays: every weekday can match
        days = set(self.weekdays)
        if "weekdays" in self.classes:
            days |= {0, 1, 2, 3, 4}
        if "weekends" in self.classes:
            days |= {5, 6}
        return days

    def mask(self, dates: np.ndarray, weekday: np.ndarray, calendar: WorkCalendar | None) -> np.ndarray:
        """True for the selected days; dates is datetime64[D], weekday Monday=0."""
        selected = np.isin(weekday, sorted(self.weekdays)) if self.weekdays else np.zeros(len(weekday), bool)
        if "weekdays" in self.classes:
            selected |= weekday < 5
        if "weekends" in self.classes:
            selected |= weekday >= 5
        if self.needs_calendar:
            if calendar is None:
                raise ValueError("a workday calendar is needed for workdays, restdays and holidays")
            # Classify each distinct date once: a year of violations holds at most 366 of them.
            unique, inverse = np.unique(dates, return_inverse=True)
            if "workdays" in self.classes or "restdays" in self.classes:
                work = calendar.is_workday(unique)[inverse]
                if "workdays" in self.classes:
                    selected |= work
                if "restdays" in self.classes:
                    selected |= ~work
            if "holidays" in self.classes:
                selected |= calendar.is_holiday(unique)[inverse]
        return selected


def parse_days(text: str | None) -> DaySelection | None:
    """`weekdays`, `workdays`, `mon,wed`, `1-5`, `sat-sun`...; empty means every day (None)."""
    if text is None or not text.strip():
        return None
    weekdays: set[int] = set()
    classes: set[str] = set()
    for raw in text.split(","):
        token = raw.strip().lower()
        token = _ALIASES.get(token, token)
        if token in DAY_CLASSES:
            classes.add(token)
            continue
        if token in ("all", "every", "*"):
            return None
        if "-" in token:
            first, _, last = token.partition("-")
            a, b = _day_number(first.strip(), raw), _day_number(last.strip(), raw)
            weekdays.update(range(a, b + 1) if a <= b else [*range(a, 7), *range(0, b + 1)])
        else:
            weekdays.add(_day_number(token, raw))
    return DaySelection(frozenset(weekdays), frozenset(classes))


def _day_number(token: str, raw: str) -> int:
    if token in _DAY_NAMES:
        return _DAY_NAMES[token]
    if token.isascii() and token.isdigit() and 1 <= int(token) <= 7:  # "²" is a digit to isdigit(), not int()
        return int(token) - 1
    raise InputError(N_("days: %(text)s is not a day; use weekdays, weekends, workdays, restdays, holidays, "
                        "mon..sun or 1..7 (1 is Monday), separated by commas, or ranges such as 1-5"),
                     text=repr(raw.strip()))


TERM_CHOICES = ("term", "vacation")


def parse_term(text: str | None, calendar: WorkCalendar | None) -> str | None:
    if text is None or not text.strip():
        return None
    value = text.strip().lower()
    if value not in TERM_CHOICES:
        raise InputError(N_("term must be term or vacation, got %(text)s"), text=repr(text))
    if calendar is None or not calendar.terms:
        raise InputError(N_("no school terms are configured (add them to the file named by PATROLMAP_CALENDAR)"))
    return value


# ---------------------------------------------------------------- dates and kinds


def parse_date(name: str, text: str | dt.date | None) -> dt.date | None:
    """A local calendar date, YYYY-MM-DD."""
    if text is None or isinstance(text, dt.date):
        return text
    if not text.strip():
        return None
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise InputError(N_("%(name)s must be a date such as 2026-03-01, got %(text)s"), name=name,
                         text=repr(text)) from None


def parse_kinds(text: str | Iterable[str] | None) -> tuple[str, ...] | None:
    """Violation kinds separated by commas; empty means every kind (None)."""
    if text is None:
        return None
    parts = [p.strip() for p in (text.split(",") if isinstance(text, str) else text)]
    parts = [p for p in parts if p]
    if not parts:
        return None
    unknown = [p for p in parts if p not in VIOLATION_KINDS]
    if unknown:
        raise InputError(N_("unknown violation kind(s) %(unknown)s; kinds are %(kinds)s"),
                         unknown=", ".join(unknown), kinds=", ".join(VIOLATION_KINDS))
    return tuple(dict.fromkeys(parts))


@dataclass(frozen=True)
class TimeFilter:
    """A parsed filter: what select_violations applies, and what a store can prefilter on."""

    date_from: dt.date | None = None
    date_to: dt.date | None = None
    days: DaySelection | None = None
    hours: tuple[HourWindow, ...] = ()
    kinds: tuple[str, ...] | None = None
    term: str | None = None

    @classmethod
    def parse(cls, *, date_from: str | dt.date | None = None, date_to: str | dt.date | None = None,
              days: str | None = None, hours: str | None = None, kinds: str | Iterable[str] | None = None,
              term: str | None = None, calendar: WorkCalendar | None = None) -> TimeFilter:
        start, end = parse_date("from", date_from), parse_date("to", date_to)
        if start and end and end < start:
            raise InputError(N_("from (%(start)s) is after to (%(end)s)"), start=start.isoformat(),
                             end=end.isoformat())
        return cls(start, end, parse_days(days), parse_hours(hours), parse_kinds(kinds), parse_term(term, calendar))

    def prefilter_hours(self) -> set[int] | None:
        return window_hours(self.hours)

    def prefilter_weekdays(self) -> set[int] | None:
        return None if self.days is None else self.days.coarse_weekdays()

    def after_prefilter(self) -> TimeFilter:
        """What select_violations still has to do once a store has applied the prefilters exactly.

        Dates, kinds, local hours and weekdays are exact in SQL; windows that start or end
        inside an hour need the minutes, and calendar days and school terms need the calendar.
        """
        whole_hours = all(w.start % 60 == 0 and w.end % 60 == 0 for w in self.hours)
        days = self.days if self.days is not None and self.days.needs_calendar else None
        return TimeFilter(None, None, days, () if whole_hours else self.hours, None, self.term)

    def columns(self) -> list[str]:
        """The violation_table columns select_violations needs for this filter."""
        needed = []
        if self.date_from or self.date_to or self.term or (self.days and self.days.needs_calendar):
            needed.append("local_date")
        if self.hours:
            needed += ["local_hour", "local_minute"]
        if self.days is not None:
            needed.append("local_weekday")
        if self.kinds is not None:
            needed.append("kind")
        return needed

    def select(self, table: pd.DataFrame, calendar: WorkCalendar | None) -> np.ndarray:
        return select_violations(table, self.date_from, self.date_to, self.days, self.hours, self.kinds, calendar,
                                 term=self.term)


def select_violations(
    table: pd.DataFrame,
    date_from: str | dt.date | None = None,
    date_to: str | dt.date | None = None,
    days: str | DaySelection | None = None,
    hours: str | Sequence[HourWindow] | None = None,
    kinds: str | Iterable[str] | None = None,
    calendar: WorkCalendar | None = None,
    *,
    term: str | None = None,
) -> np.ndarray:
    """Boolean mask over a violation table (patrolmap.store.violation_table columns) for a time filter.

    Needs the columns local_date, local_hour, local_minute and local_weekday, and kind
    when kinds are given. Unparsable parameters raise InputError (a ValueError).
    """
    start, end = parse_date("from", date_from), parse_date("to", date_to)
    if start and end and end < start:
        raise InputError(N_("from (%(start)s) is after to (%(end)s)"), start=start.isoformat(), end=end.isoformat())
    selection = parse_days(days) if isinstance(days, str) or days is None else days
    windows = parse_hours(hours) if isinstance(hours, str) or hours is None else tuple(hours)
    wanted = parse_kinds(kinds)
    term = parse_term(term, calendar)
    n = len(table)
    mask = np.ones(n, dtype=bool)
    if n == 0:
        return mask
    needs_dates = start or end or (selection and selection.needs_calendar) or term
    dates = as_dates(table["local_date"].to_numpy()) if needs_dates else None
    if start:
        mask &= dates >= np.datetime64(start, "D")
    if end:
        mask &= dates <= np.datetime64(end, "D")
    if windows:
        minutes = table["local_hour"].to_numpy(np.int32) * 60 + table["local_minute"].to_numpy(np.int32)
        mask &= hours_mask(minutes, windows)
    if selection is not None:
        weekday = table["local_weekday"].to_numpy(np.int8)
        mask &= selection.mask(dates if dates is not None else np.zeros(0, "datetime64[D]"), weekday, calendar)
    if term is not None:
        inside = calendar.in_term(dates)  # type: ignore[union-attr]
        mask &= inside if term == "term" else ~inside
    if wanted is not None:
        mask &= table["kind"].isin(wanted).to_numpy()
    return mask


def peak_hours(local_hour: np.ndarray, *, top: int = 3) -> list[dict[str, object]]:
    """The busiest local hours as [{"hours": "07:00-08:00", "count": n}], busiest first."""
    if len(local_hour) == 0:
        return []
    counts = np.bincount(np.asarray(local_hour, dtype=np.int64), minlength=24)
    order = sorted(range(24), key=lambda h: (-counts[h], h))[:top]
    return [{"hours": f"{h:02d}:00-{(h + 1) % 24:02d}:00" if h < 23 else "23:00-24:00", "count": int(counts[h])}
            for h in order if counts[h] > 0]
