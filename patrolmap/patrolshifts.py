"""Patrol shifts (巡更): when the rounds of a saved route are walked, and what was done against the plan.

Pure: no Flask, no database. The web layer (patrolmap.web.patrol_exec) hands in a route's shift, its
team tours and the check-ins, and gets back the schedule of planned visits, each classified.

Semantics (the saved-route contract):
- The shift's start and end are local "HH:MM" in the campus's time zone; an end at or before the start
  runs past midnight (an end equal to the start is a 24-hour shift). `shift_date` is the local date the
  shift STARTED, so a check-in at 01:10 in a 22:00-06:00 shift belongs to the evening before.
- The shift runs on the ISO weekdays in `days` (1 = Monday), judged by the shift date; an empty list
  means every day. A date not in `days` has no shift.
- The shift is divided into `visits` equal rounds of elapsed time (half-open [start, end)); round j is
  walked once by each team. Instants are computed through zoneinfo, so a shift over a daylight-saving
  change is as long as it really is (one hour shorter or longer) and its rounds stay equal.
- In every round, the planned time of the k-th stop of a team's order is the round's start plus the
  cumulative legs up to that stop divided by the speed.
- A stop's status: "on_time" if its first check-in of the round came no later than planned +
  late_after_min, "late" if later (a check-in always falls within its round), "missed" if the round
  ended without one, "pending" while the round is not over.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import zoneinfo
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pyproj

STATUSES = ("on_time", "late", "missed", "pending")
_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
_GEOD = pyproj.Geod(ellps="WGS84")


class ShiftError(ValueError):
    """A shift definition that cannot be used (bad HH:MM, weekday, rounds, time zone)."""


def parse_hhmm(text: str) -> dt.time:
    """A local "HH:MM" (00:00-23:59); anything else is a ShiftError."""
    match = _HHMM.match(text) if isinstance(text, str) else None
    if match is None:
        msg = f"a shift time must be HH:MM from 00:00 to 23:59, got {text!r}"
        raise ShiftError(msg)
    return dt.time(int(match.group(1)), int(match.group(2)))


@dataclass(frozen=True)
class Shift:
    """When a route is walked: local start and end, weekdays, rounds per shift, lateness allowed."""

    start: dt.time
    end: dt.time
    days: frozenset[int]  # ISO weekdays of the shift date; empty = every day
    visits: int
    late_after_min: float
    timezone: str

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)

    def runs_on(self, shift_date: dt.date) -> bool:
        return not self.days or shift_date.isoweekday() in self.days


def make_shift(start: str | None, end: str | None, days: Iterable[int] | None, visits: int,
               late_after_min: float, timezone: str) -> Shift | None:
    """The shift of a route as stored; None when the route has no shift times (it is never on shift)."""
    if start is None or end is None:
        return None
    day_set = frozenset(days or ())
    if any(isinstance(d, bool) or not isinstance(d, int) or not 1 <= d <= 7 for d in day_set):
        msg = f"shift days must be ISO weekdays 1-7, got {sorted(day_set, key=str)}"
        raise ShiftError(msg)
    if isinstance(visits, bool) or not isinstance(visits, int) or not 1 <= visits <= 96:
        msg = f"visits per shift must be a whole number from 1 to 96, got {visits!r}"
        raise ShiftError(msg)
    if not math.isfinite(late_after_min) or late_after_min < 0:
        msg = f"late_after_min must be a number of minutes >= 0, got {late_after_min!r}"
        raise ShiftError(msg)
    try:
        zoneinfo.ZoneInfo(timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        msg = f"unknown time zone {timezone!r}"
        raise ShiftError(msg) from None
    return Shift(parse_hhmm(start), parse_hhmm(end), day_set, visits, float(late_after_min), timezone)


@dataclass(frozen=True)
class Round:
    """One round of a shift: [start, end) as aware UTC instants; visit is 1-based."""

    visit: int
    start: dt.datetime
    end: dt.datetime

    def contains(self, instant: dt.datetime) -> bool:
        return self.start <= instant < self.end


@dataclass(frozen=True)
class ShiftWindow:
    """One shift as walked on one shift date: [start, end) in UTC, and its rounds."""

    shift_date: dt.date
    start: dt.datetime
    end: dt.datetime
    rounds: tuple[Round, ...]

    def round_at(self, instant: dt.datetime) -> Round | None:
        return next((r for r in self.rounds if r.contains(instant)), None)


def _utc(instant: dt.datetime) -> dt.datetime:
    if instant.tzinfo is None:
        msg = "times must carry their UTC offset"
        raise ValueError(msg)
    return instant.astimezone(dt.UTC)


def shift_window(shift: Shift, shift_date: dt.date) -> ShiftWindow | None:
    """The shift that starts on a local date, or None when the shift does not run that day."""
    if not shift.runs_on(shift_date):
        return None
    zone = shift.zone
    end_date = shift_date if shift.end > shift.start else shift_date + dt.timedelta(days=1)
    start = dt.datetime.combine(shift_date, shift.start, tzinfo=zone).astimezone(dt.UTC)
    end = dt.datetime.combine(end_date, shift.end, tzinfo=zone).astimezone(dt.UTC)
    if end <= start:  # only when a daylight-saving jump swallows a very short shift
        return None
    length = end - start
    bounds = [start + length * j / shift.visits for j in range(shift.visits)] + [end]
    rounds = tuple(Round(j + 1, bounds[j], bounds[j + 1]) for j in range(shift.visits))
    return ShiftWindow(shift_date, start, end, rounds)


def shift_at(shift: Shift, instant: dt.datetime) -> tuple[ShiftWindow, Round] | None:
    """The shift and round an instant falls in, or None when it falls in no shift.

    A shift lasts at most a day, so only shifts starting on the instant's local date and the day
    before can hold it (the day before first: a night shift after midnight).
    """
    instant = _utc(instant)
    local_date = instant.astimezone(shift.zone).date()
    for day in (local_date - dt.timedelta(days=1), local_date):
        window = shift_window(shift, day)
        if window is not None and window.start <= instant < window.end:
            found = window.round_at(instant)
            if found is not None:
                return window, found
    return None


def next_shift(shift: Shift, instant: dt.datetime, *, horizon_days: int = 8) -> ShiftWindow | None:
    """The first shift starting after an instant (within a week and a day), for "next shift at ..."."""
    instant = _utc(instant)
    local_date = instant.astimezone(shift.zone).date()
    for offset in range(-1, horizon_days):
        window = shift_window(shift, local_date + dt.timedelta(days=offset))
        if window is not None and window.start > instant:
            return window
    return None


@dataclass(frozen=True)
class Tour:
    """One team's planned tour: checkpoint ids in visiting order and the legs (start->1st, ..., last->start)."""

    team: int
    order: tuple[int, ...]
    legs_m: tuple[float, ...]


def tours_from_plan(plan: dict[str, Any] | None) -> list[Tour]:
    """The team tours of a saved route's `plan` JSON ({"routes": [{"team", "order", "legs_m", ...}], ...})."""
    tours = []
    for route in (plan or {}).get("routes") or []:
        order = tuple(int(c) for c in route.get("order") or ())
        legs = tuple(float(x) for x in route.get("legs_m") or ())
        tours.append(Tour(int(route.get("team", 1)), order, legs))
    return sorted(tours, key=lambda t: t.team)


def planned_offsets_min(legs_m: Sequence[float], stops: int, speed_m_per_min: float) -> list[float]:
    """Minutes from the round's start to each stop: cumulative legs up to the stop over the speed."""
    if speed_m_per_min <= 0:
        msg = f"the speed must be positive, got {speed_m_per_min}"
        raise ShiftError(msg)
    offsets, walked = [], 0.0
    for k in range(stops):
        walked += float(legs_m[k]) if k < len(legs_m) else 0.0
        offsets.append(walked / speed_m_per_min)
    return offsets


@dataclass(frozen=True)
class CheckinRecord:
    """A check-in as stored: which stop, team and round of which shift, when, by whom and how."""

    checkpoint: int
    team: int
    visit: int
    at: dt.datetime
    officer: str | None = None
    method: str | None = None


@dataclass(frozen=True)
class StopVisit:
    """One planned visit of a stop in one round, and what happened."""

    visit: int
    team: int
    seq: int  # 1-based position in the team's order
    checkpoint: int
    planned_at: dt.datetime
    due_by: dt.datetime  # planned + late_after_min: later is late
    checked_in_at: dt.datetime | None
    officer: str | None
    method: str | None
    status: str
    checkins: int  # how many check-ins were recorded for this visit (the first one counts)


@dataclass(frozen=True)
class Schedule:
    """A shift's planned visits with their status; `totals` counts every status."""

    window: ShiftWindow
    stops: tuple[StopVisit, ...]
    totals: dict[str, int] = field(default_factory=dict)

    def round_totals(self, visit: int) -> dict[str, int]:
        return count_statuses(s for s in self.stops if s.visit == visit)


def count_statuses(stops: Iterable[StopVisit]) -> dict[str, int]:
    totals = dict.fromkeys(STATUSES, 0)
    for stop in stops:
        totals[stop.status] += 1
    return totals


def classify(planned_at: dt.datetime, late_after_min: float, round_: Round, first_checkin: dt.datetime | None,
             now: dt.datetime) -> str:
    """on_time / late / missed / pending, by the contract's rules."""
    if first_checkin is not None:
        return "on_time" if first_checkin <= planned_at + dt.timedelta(minutes=late_after_min) else "late"
    return "missed" if now >= round_.end else "pending"


def build_schedule(shift: Shift, tours: Sequence[Tour], speed_m_per_min: float, shift_date: dt.date,
                   checkins: Iterable[CheckinRecord], now: dt.datetime) -> Schedule | None:
    """Every planned visit of the shift starting on shift_date, classified; None when it is no shift day.

    `checkins` may hold any check-ins of the route: those of other rounds, teams or stops are ignored,
    and of several for one visit the earliest counts.
    """
    window = shift_window(shift, shift_date)
    if window is None:
        return None
    now = _utc(now)
    first: dict[tuple[int, int, int], CheckinRecord] = {}
    counts: dict[tuple[int, int, int], int] = {}
    for c in checkins:
        key = (c.visit, c.team, c.checkpoint)
        counts[key] = counts.get(key, 0) + 1
        if key not in first or _utc(c.at) < _utc(first[key].at):
            first[key] = c
    late = dt.timedelta(minutes=shift.late_after_min)
    stops = []
    for round_ in window.rounds:
        for tour in tours:
            offsets = planned_offsets_min(tour.legs_m, len(tour.order), speed_m_per_min)
            for seq, (checkpoint, offset) in enumerate(zip(tour.order, offsets, strict=True), start=1):
                planned = round_.start + dt.timedelta(minutes=offset)
                key = (round_.visit, tour.team, checkpoint)
                done = first.get(key)
                at = _utc(done.at) if done else None
                stops.append(StopVisit(
                    round_.visit, tour.team, seq, checkpoint, planned, planned + late, at,
                    done.officer if done else None, done.method if done else None,
                    classify(planned, shift.late_after_min, round_, at, now), counts.get(key, 0)))
    return Schedule(window, tuple(stops), count_statuses(stops))


def finished_visits(schedule: Schedule, now: dt.datetime, created_at: dt.datetime,
                    deleted_at: dt.datetime | None) -> set[int]:
    """The rounds of a schedule that count against a route: over by now, and while the route existed.

    A round before the route was saved, or after it was deleted, was never asked of anyone.
    """
    return {r.visit for r in schedule.window.rounds if now >= r.end and r.start >= created_at
            and (deleted_at is None or r.start < deleted_at)}


def counted_stops(shift: Shift, tours: Sequence[Tour], speed_m_per_min: float, first_day: dt.date,
                  last_day: dt.date, checkins_by_date: Mapping[dt.date, Sequence[CheckinRecord]], now: dt.datetime,
                  created_at: dt.datetime, deleted_at: dt.datetime | None,
                  ) -> Iterator[tuple[dt.date, Tour, list[StopVisit]]]:
    """Each shift day's stops per team that count against the route (finished_visits), with their status:
    what the reports' completion rates and the missed-stops report both tally."""
    day = first_day
    while day <= last_day:
        schedule = build_schedule(shift, tours, speed_m_per_min, day, checkins_by_date.get(day, ()), now)
        day += dt.timedelta(days=1)
        if schedule is None:
            continue
        counted = finished_visits(schedule, now, created_at, deleted_at)
        for tour in tours:
            yield schedule.window.shift_date, tour, [s for s in schedule.stops
                                                     if s.team == tour.team and s.visit in counted]


def distance_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Geodesic distance in metres on the WGS84 ellipsoid (GPS positions are WGS84)."""
    return float(_GEOD.inv(lon1, lat1, lon2, lat2)[2])
