"""Campus-local calendar fields, derived once at write time so analysis reads plain integers."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Sequence

import pandas as pd

# Dates a request may name (a report's period, a shift, a missed-stops report): the days and instants
# worked out around them (the period before, local midnights in UTC) stay within Python's dates.
FIRST_DATE, LAST_DATE = dt.date(1900, 1, 1), dt.date(2999, 12, 31)


def local_fields(observed_utc: Sequence[dt.datetime], timezone: str) -> pd.DataFrame:
    """Return local_date, local_hour, local_minute, local_weekday (Monday=0) for UTC times."""
    times = pd.to_datetime(pd.Series(list(observed_utc), dtype=object), utc=True).dt.tz_convert(
        zoneinfo.ZoneInfo(timezone)
    )
    return pd.DataFrame({
        "local_date": times.dt.date,
        "local_hour": times.dt.hour.astype("int16"),
        "local_minute": times.dt.minute.astype("int16"),
        "local_weekday": times.dt.day_of_week.astype("int16"),
    })


def to_local(value: dt.datetime, timezone: str) -> dt.datetime:
    return value.astimezone(zoneinfo.ZoneInfo(timezone))
