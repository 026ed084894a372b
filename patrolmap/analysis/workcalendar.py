"""Which days are workdays: China's public holidays and make-up workdays (调休), and school terms.

The built-in data (calendar_cn.json beside this file) holds the official schedules for 2025
and 2026. A deployment adds later years, corrections or its school terms with a file of the
same format named by PATROLMAP_CALENDAR: each year it holds replaces that year of the
built-in data, and its terms (when given) replace the built-in ones (none). A year the
calendar does not know is taken as Monday to Friday, and `unknown_years` says so.

Dates are numpy datetime64[D] arrays throughout, so that a million violations are
classified with a few vectorised lookups.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

BUILT_IN = Path(__file__).with_name("calendar_cn.json")


@dataclass(frozen=True)
class Term:
    """A school term, both ends included."""

    name: str
    start: dt.date
    end: dt.date


def weekday_of(dates: np.ndarray) -> np.ndarray:
    """Monday=0 .. Sunday=6 for datetime64[D] dates (1970-01-01 was a Thursday)."""
    return ((dates.astype("datetime64[D]").astype(np.int64) + 3) % 7).astype(np.int8)


def as_dates(values: Any) -> np.ndarray:
    """datetime64[D] from dates, ISO strings, pandas columns or datetime64 of any unit."""
    array = np.asarray(values)
    if array.dtype.kind == "M":
        return array.astype("datetime64[D]")
    if array.size == 0:
        return array.astype("datetime64[D]")
    return np.asarray([v.isoformat() if isinstance(v, dt.date) else v for v in array.ravel()],
                      dtype="datetime64[D]").reshape(array.shape)


class WorkCalendar:
    """Public holidays, make-up workdays and school terms of the years it knows."""

    def __init__(self, holidays: Mapping[dt.date, str], workdays: Mapping[dt.date, str], years: Iterable[int],
                 terms: Iterable[Term] = ()) -> None:
        self.holiday_names = dict(sorted(holidays.items()))
        self.workday_reasons = dict(sorted(workdays.items()))
        self.years = frozenset(years)
        self.terms = tuple(sorted(terms, key=lambda t: t.start))
        self._holidays = as_dates(list(self.holiday_names)) if self.holiday_names else np.array([], "datetime64[D]")
        self._workdays = (as_dates(list(self.workday_reasons)) if self.workday_reasons
                          else np.array([], "datetime64[D]"))
        both = set(self.holiday_names) & set(self.workday_reasons)
        if both:
            msg = f"days both holiday and make-up workday: {', '.join(sorted(d.isoformat() for d in both))}"
            raise ValueError(msg)

    # ------------------------------------------------------------ loading

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], *, source: str = "calendar") -> WorkCalendar:
        """Build from the JSON structure of calendar_cn.json; a malformed file is named with its problem."""
        holidays: dict[dt.date, str] = {}
        workdays: dict[dt.date, str] = {}
        try:
            years = {int(y): spec for y, spec in (data.get("years") or {}).items()}
            for year, spec in years.items():
                for item in spec.get("holidays", []):
                    start, end = dt.date.fromisoformat(item["from"]), dt.date.fromisoformat(item["to"])
                    if end < start or (start.year != year and end.year != year):
                        raise ValueError(f"holiday {item!r} does not lie in {year} or ends before it starts")
                    day = start
                    while day <= end:
                        holidays[day] = str(item.get("name", ""))
                        day += dt.timedelta(days=1)
                for item in spec.get("workdays", []):
                    day = dt.date.fromisoformat(item["date"])
                    workdays[day] = str(item.get("for", ""))
            terms = [Term(str(t.get("name", "")), dt.date.fromisoformat(t["from"]), dt.date.fromisoformat(t["to"]))
                     for t in data.get("terms") or []]
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            msg = f"{source}: not a usable workday calendar ({type(exc).__name__}: {exc})"
            raise ValueError(msg) from None
        for term in terms:
            if term.end < term.start:
                msg = f"{source}: term {term.name!r} ends before it starts"
                raise ValueError(msg)
        return cls(holidays, workdays, years, terms)

    @classmethod
    def load(cls, override: str | Path | None = None) -> WorkCalendar:
        """The built-in calendar, with an override file (PATROLMAP_CALENDAR) laid over it by year."""
        stamp = Path(override).stat().st_mtime_ns if override else 0
        return _load(str(override) if override else None, stamp)

    # ------------------------------------------------------------ questions

    def is_holiday(self, dates: Any) -> np.ndarray:
        """Days inside an official holiday period (weekend days within it included)."""
        return np.isin(as_dates(dates), self._holidays)

    def is_makeup_workday(self, dates: Any) -> np.ndarray:
        """Weekend days worked in exchange for a holiday (调休上班)."""
        return np.isin(as_dates(dates), self._workdays)

    def is_workday(self, dates: Any) -> np.ndarray:
        """Monday to Friday unless a holiday, plus the make-up workdays."""
        days = as_dates(dates)
        return ((weekday_of(days) < 5) & ~self.is_holiday(days)) | self.is_makeup_workday(days)

    def in_term(self, dates: Any) -> np.ndarray:
        days = as_dates(dates)
        inside = np.zeros(days.shape, dtype=bool)
        for term in self.terms:
            inside |= (days >= np.datetime64(term.start, "D")) & (days <= np.datetime64(term.end, "D"))
        return inside

    def unknown_years(self, start: dt.date, end: dt.date) -> list[int]:
        """Years of [start, end] this calendar has no schedule for (taken as Monday to Friday)."""
        return [y for y in range(start.year, end.year + 1) if y not in self.years]


@lru_cache(maxsize=8)
def _load(override: str | None, _stamp: int) -> WorkCalendar:
    data = json.loads(BUILT_IN.read_text(encoding="utf-8"))
    if override:
        path = Path(override)
        try:
            extra = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            msg = f"PATROLMAP_CALENDAR {path}: cannot read it ({exc})"
            raise ValueError(msg) from None
        if not isinstance(extra, dict):
            msg = f"PATROLMAP_CALENDAR {path}: expected a JSON object like {BUILT_IN.name}"
            raise ValueError(msg)
        data["years"] = {**data.get("years", {}), **(extra.get("years") or {})}
        if "terms" in extra:
            data["terms"] = extra["terms"]
        return WorkCalendar.from_mapping(data, source=str(path))
    return WorkCalendar.from_mapping(data, source=str(BUILT_IN))
