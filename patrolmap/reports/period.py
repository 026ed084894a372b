"""The period a report covers (a week, a month, a school term, or dates given) and the one before it.

Every period is a run of whole local days in the campus's time zone, both ends included, because
violations carry their local date and leaders think in local weeks and months. Weeks run Monday to
Sunday. Terms come from the workday calendar (patrolmap.analysis.workcalendar, PATROLMAP_CALENDAR):
the term holding the date, and before it the calendar's previous term. A custom period's previous
period is the same number of days just before it.

A period that is not over yet (this month) is reported to date: `elapsed_days` says how many of
its days have begun, and the comparison with the previous period uses as many of that period's
first days, so that three weeks are never set against a whole month.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass

from patrolmap.analysis.errors import N_, InputError
from patrolmap.analysis.workcalendar import Term, WorkCalendar
from patrolmap.timeutil import FIRST_DATE, LAST_DATE

KINDS = ("week", "month", "term", "custom")
MAX_DAYS = 400  # a custom period: a year and a little more


@dataclass(frozen=True)
class Period:
    """Local days [start, end] of one campus's time zone; `name` says which term, when it is one."""

    kind: str
    start: dt.date
    end: dt.date
    timezone: str
    name: str | None = None

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)

    def start_utc(self) -> dt.datetime:
        """The instant the first day begins (local midnight)."""
        return dt.datetime.combine(self.start, dt.time(), tzinfo=self.zone).astimezone(dt.UTC)

    def end_utc(self) -> dt.datetime:
        """The instant after the last day (the next local midnight): the period is [start_utc, end_utc)."""
        return dt.datetime.combine(self.end + dt.timedelta(days=1), dt.time(), tzinfo=self.zone).astimezone(dt.UTC)

    def elapsed_days(self, now: dt.datetime) -> int:
        """How many of the period's days have begun by `now` (0 for a period still ahead, all for one over)."""
        today = now.astimezone(self.zone).date()
        return max(0, min(self.days, (today - self.start).days + 1))

    def head(self, days: int) -> Period:
        """The first `days` days of this period (all of it when it has fewer)."""
        return Period(self.kind, self.start, min(self.end, self.start + dt.timedelta(days=max(days, 1) - 1)),
                      self.timezone, self.name)

    def as_dict(self) -> dict[str, object]:
        return {"kind": self.kind, "from": self.start.isoformat(), "to": self.end.isoformat(), "days": self.days,
                "name": self.name, "timezone": self.timezone}


def _month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def _month_end(day: dt.date) -> dt.date:
    following = (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return following - dt.timedelta(days=1)


def _term_at(terms: tuple[Term, ...], day: dt.date) -> int | None:
    return next((i for i, t in enumerate(terms) if t.start <= day <= t.end), None)


def make_period(kind: str, day: dt.date | None, timezone: str, *, date_from: dt.date | None = None,
                date_to: dt.date | None = None, calendar: WorkCalendar | None = None) -> Period:
    """The period of this kind holding `day` (custom: date_from..date_to); InputError when it cannot be made."""
    if kind not in KINDS:
        raise InputError(N_("period must be one of %(kinds)s, got %(text)s"), kinds=", ".join(KINDS), text=repr(kind))
    if kind == "custom":
        if date_from is None or date_to is None:
            raise InputError(N_("a custom period needs from and to (dates such as 2026-10-01)"))
        if date_to < date_from:
            raise InputError(N_("from (%(start)s) is after to (%(end)s)"), start=date_from.isoformat(),
                             end=date_to.isoformat())
        if (date_to - date_from).days + 1 > MAX_DAYS:
            raise InputError(N_("a report covers at most %(max)s days"), max=MAX_DAYS)
        return Period("custom", date_from, date_to, timezone)
    if day is None:
        raise InputError(N_("date is required (a date such as 2026-10-01 inside the period)"))
    if kind == "week":
        start = day - dt.timedelta(days=day.weekday())
        return Period("week", start, start + dt.timedelta(days=6), timezone)
    if kind == "month":
        return Period("month", _month_start(day), _month_end(day), timezone)
    terms = calendar.terms if calendar is not None else ()
    if not terms:
        raise InputError(N_("no school terms are configured (add them to the file named by PATROLMAP_CALENDAR)"))
    index = _term_at(terms, day)
    if index is None:
        raise InputError(N_("%(date)s lies in no school term of the calendar"), date=day.isoformat())
    term = terms[index]
    if (term.end - term.start).days + 1 > MAX_DAYS:
        raise InputError(N_("a report covers at most %(max)s days"), max=MAX_DAYS)
    return Period("term", term.start, term.end, timezone, term.name)


def previous_period(period: Period, calendar: WorkCalendar | None = None) -> Period:
    """The period before: the week or month before, the calendar's previous term, or as many days just before."""
    if period.kind == "week":
        return Period("week", period.start - dt.timedelta(days=7), period.start - dt.timedelta(days=1),
                      period.timezone)
    if period.kind == "month":
        last = period.start - dt.timedelta(days=1)
        return Period("month", _month_start(last), last, period.timezone)
    if period.kind == "term" and calendar is not None:
        earlier = [t for t in calendar.terms if t.end < period.start]
        if earlier:
            term = max(earlier, key=lambda t: t.end)
            return Period("term", term.start, term.end, period.timezone, term.name)
    end = period.start - dt.timedelta(days=1)
    return Period(period.kind, end - dt.timedelta(days=period.days - 1), end, period.timezone)


def parse_date(name: str, text: str | None) -> dt.date | None:
    """A local date YYYY-MM-DD, or None when not given."""
    if text is None or not text.strip():
        return None
    try:
        day = dt.date.fromisoformat(text.strip())
    except ValueError:
        raise InputError(N_("%(name)s must be a date such as 2026-03-01, got %(text)s"), name=name,
                         text=repr(text)) from None
    if not FIRST_DATE <= day <= LAST_DATE:
        raise InputError(N_("%(name)s must be a date from %(first)s to %(last)s, got %(text)s"), name=name,
                         first=FIRST_DATE.isoformat(), last=LAST_DATE.isoformat(), text=repr(text))
    return day


def parse_period(kind: str | None, date: str | None, date_from: str | None, date_to: str | None, timezone: str,
                 *, today: dt.date, calendar: WorkCalendar | None = None) -> Period:
    """A period from request or command-line text; month and today when left out."""
    day = parse_date("date", date) or today
    return make_period((kind or "month").strip(), day, timezone, date_from=parse_date("from", date_from),
                       date_to=parse_date("to", date_to), calendar=calendar)
