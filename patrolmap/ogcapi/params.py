"""The query of /collections/{id}/items: bbox, limit, offset, datetime and simple property filters.

OGC API - Features Core asks a server to refuse parameters it does not know (a typo must not
silently widen a query), so every parameter is checked here and anything else is a 400 that
lists what is accepted.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from patrolmap.errors import BadRequest
from patrolmap.ogcapi.collections import Collection, Property
from patrolmap.store import BBox
from patrolmap.web.params import parse_bbox, parse_int

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
FORMATS = ("json", "html")
# Parameters of every items request; property filters come on top, per collection.
ITEMS_PARAMETERS = ("f", "bbox", "bbox-crs", "limit", "offset", "datetime", "campus")
OPEN = ("", "..")
INT32 = 2**31  # integer properties are 32-bit INTEGER columns
PLUS_AS_SPACE = re.compile(r"^(.+[Tt]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?) (\d{2}:?\d{2})$")


@dataclass(frozen=True)
class Interval:
    """A time filter: an instant (start == end), or a closed interval, open at either end when None."""

    start: dt.datetime | None
    end: dt.datetime | None
    end_exclusive: bool = False  # a date as the end (or a date instant) runs up to the next midnight


@dataclass
class ItemsQuery:
    bbox: BBox | None = None
    limit: int = 1000
    offset: int = 0
    interval: Interval | None = None
    filters: dict[str, Any] = field(default_factory=dict)
    campus: str | None = None  # a slug or an id, resolved against the caller's scope by the reader


def parse_format(args: Mapping[str, str]) -> str | None:
    """The f parameter (json or html), or None when the client leaves it to the Accept header."""
    value = args.get("f")
    if value is None or value == "":
        return None
    if value.lower() not in FORMATS:
        raise BadRequest("f must be json or html, got %(value)s", value=repr(value))
    return value.lower()


def parse_ogc_bbox(text: str | None) -> BBox | None:
    """minlon,minlat,maxlon,maxlat; a 3D box (six numbers) is read without its heights."""
    if text is not None and text.count(",") == 5:
        parts = text.split(",")
        text = ",".join([parts[0], parts[1], parts[3], parts[4]])
    return parse_bbox(text)


def _when(text: str, *, end: bool) -> tuple[dt.datetime, bool]:
    """One RFC 3339 date-time (an offset, or read as UTC) or date; returns (time, ends the day after)."""
    value = text.strip()
    day_text = value[:-1] if value.endswith(("T", "t")) else value  # GDAL writes a date as 2026-03-02T
    if len(day_text) == 10:
        try:
            day = dt.date.fromisoformat(day_text)
        except ValueError:
            day = None
        if day is not None:
            start = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
            return (start + dt.timedelta(days=1), True) if end else (start, False)
    # An unescaped + in a URL arrives as a space: 2026-03-10T08:00:00 08:00 means +08:00.
    value = PLUS_AS_SPACE.sub(r"\1+\2", value)
    try:
        parsed = dt.datetime.fromisoformat(value.replace("z", "Z").replace("t", "T"))
    except ValueError:
        raise BadRequest("datetime must be an RFC 3339 date-time such as 2026-03-02T07:45:00+08:00, a date, or an "
                         "interval such as 2026-03-01/2026-03-31 or 2026-03-01T00:00:00Z/.., got %(value)s",
                         value=repr(text)) from None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)).astimezone(dt.UTC), False


def parse_datetime(text: str | None) -> Interval | None:
    """An instant, a date (that whole day, UTC), or an interval start/end with .. (or nothing) for an open end."""
    if text is None or text == "":
        return None
    if "/" not in text:
        start, _ = _when(text, end=False)
        end, exclusive = _when(text, end=True)
        return Interval(start, end, exclusive)
    parts = text.split("/")
    if len(parts) != 2:
        raise BadRequest("datetime holds at most one / (start/end), got %(value)s", value=repr(text))
    first, second = parts
    if first.strip() in OPEN and second.strip() in OPEN:
        raise BadRequest("datetime needs at least one end of its interval, got %(value)s", value=repr(text))
    start = None if first.strip() in OPEN else _when(first, end=False)[0]
    end, exclusive = (None, False) if second.strip() in OPEN else _when(second, end=True)
    if start is not None and end is not None and (start > end or (exclusive and start == end)):
        raise BadRequest("datetime interval ends before it starts: %(value)s", value=repr(text))
    return Interval(start, end, exclusive)


def parse_value(prop: Property, text: str) -> Any:
    """A filter value in the property's type; a coded property accepts only its codes."""
    if prop.type == "integer":
        try:
            value = int(text)
        except ValueError:
            raise BadRequest("%(name)s must be a whole number, got %(text)s", name=prop.name, text=repr(text)) from None
        if not -INT32 <= value < INT32:  # the columns' range: PostgreSQL refuses to compare beyond it
            raise BadRequest("%(name)s must be between %(minimum)s and %(maximum)s, got %(value)s", name=prop.name,
                             minimum=-INT32, maximum=INT32 - 1, value=value)
        return value
    if prop.type == "number":
        try:
            number = float(text)
        except ValueError:
            number = math.nan
        if not math.isfinite(number):
            raise BadRequest("%(name)s must be a number, got %(text)s", name=prop.name, text=repr(text))
        return number
    if prop.type == "boolean":
        lowered = text.lower()
        if lowered not in ("true", "false", "1", "0"):
            raise BadRequest("%(name)s must be true or false, got %(text)s", name=prop.name, text=repr(text))
        return lowered in ("true", "1")
    if prop.enum and text not in prop.enum:
        raise BadRequest("%(name)s must be one of %(choices)s, got %(text)s", name=prop.name,
                         choices=", ".join(prop.enum), text=repr(text))
    return text


def parse_items_query(
    args: Any, collection: Collection, queryables: Mapping[str, Property], *, default_limit: int, max_limit: int,
) -> ItemsQuery:
    """Check every parameter of an items request; args is a MultiDict (each parameter at most once)."""
    known: Sequence[str] = (*ITEMS_PARAMETERS, *queryables)
    for name in args:
        if name not in known:
            raise BadRequest("unknown parameter %(name)s; %(collection)s accepts %(accepted)s", name=repr(name),
                             collection=collection.id, accepted=", ".join(known))
        if len(args.getlist(name)) > 1:
            raise BadRequest("give %(name)s once", name=name)
    parse_format(args)
    crs = args.get("bbox-crs")
    if crs not in (None, "", CRS84):
        raise BadRequest("bbox-crs must be %(crs)s (longitude, latitude on WGS84)", crs=CRS84)
    limit = parse_int("limit", args.get("limit"), default=default_limit, minimum=1, maximum=10**9)
    interval = parse_datetime(args.get("datetime"))
    if interval is not None and collection.time_property is None:
        raise BadRequest("%(collection)s has no time; datetime applies to violations and hazards",
                         collection=collection.id)
    return ItemsQuery(
        bbox=parse_ogc_bbox(args.get("bbox")),
        # Beyond the maximum a client gets the maximum and a next link, as OGC API - Features intends.
        limit=min(limit, max_limit),
        offset=parse_int("offset", args.get("offset"), default=0, minimum=0, maximum=10**9),
        interval=interval,
        filters={name: parse_value(queryables[name], args[name]) for name in args if name in queryables},
        campus=args.get("campus") or None,
    )
