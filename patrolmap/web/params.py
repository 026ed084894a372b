"""Parse query parameters into typed values, or a 400 that says what is wrong."""

from __future__ import annotations

import datetime as dt
import math

from patrolmap.errors import BadRequest
from patrolmap.store import BBox


def parse_bbox(text: str | None) -> BBox | None:
    if text is None or text == "":
        return None
    parts = text.split(",")
    if len(parts) != 4:
        raise BadRequest("bbox must be minlon,minlat,maxlon,maxlat")
    try:
        minx, miny, maxx, maxy = (float(p) for p in parts)
    except ValueError:
        raise BadRequest("bbox values must be numbers, got %(text)s", text=repr(text)) from None
    if not all(math.isfinite(v) for v in (minx, miny, maxx, maxy)):
        raise BadRequest("bbox values must be finite")
    if not (-180 <= minx <= 180 and -180 <= maxx <= 180 and -90 <= miny <= 90 and -90 <= maxy <= 90):
        raise BadRequest(
            "bbox out of range: longitudes within ±180, latitudes within ±90 (order minlon,minlat,maxlon,maxlat)")
    if minx > maxx or miny > maxy:
        raise BadRequest("bbox minimum exceeds maximum (order minlon,minlat,maxlon,maxlat)")
    return minx, miny, maxx, maxy


def parse_int(name: str, text: str | None, *, default: int, minimum: int, maximum: int) -> int:
    if text is None or text == "":
        return default
    try:
        value = int(text)
    except ValueError:
        raise BadRequest("%(name)s must be a whole number, got %(text)s", name=name, text=repr(text)) from None
    if not minimum <= value <= maximum:
        raise BadRequest("%(name)s must be between %(minimum)s and %(maximum)s, got %(value)s",
                         name=name, minimum=minimum, maximum=maximum, value=value)
    return value


def parse_time(name: str, text: str | None) -> dt.datetime | None:
    """An ISO 8601 date or date-time; a naive one is read as UTC."""
    if text is None or text == "":
        return None
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        raise BadRequest("%(name)s must be an ISO 8601 date or date-time such as 2026-11-23T08:00:00+08:00, "
                         "got %(text)s", name=name, text=repr(text)) from None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
