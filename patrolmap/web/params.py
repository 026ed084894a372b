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
        msg = "bbox must be minlon,minlat,maxlon,maxlat"
        raise BadRequest(msg)
    try:
        minx, miny, maxx, maxy = (float(p) for p in parts)
    except ValueError:
        msg = f"bbox values must be numbers, got {text!r}"
        raise BadRequest(msg) from None
    if not all(math.isfinite(v) for v in (minx, miny, maxx, maxy)):
        msg = "bbox values must be finite"
        raise BadRequest(msg)
    if not (-180 <= minx <= 180 and -180 <= maxx <= 180 and -90 <= miny <= 90 and -90 <= maxy <= 90):
        msg = "bbox out of range: longitudes within ±180, latitudes within ±90 (order minlon,minlat,maxlon,maxlat)"
        raise BadRequest(msg)
    if minx > maxx or miny > maxy:
        msg = "bbox minimum exceeds maximum (order minlon,minlat,maxlon,maxlat)"
        raise BadRequest(msg)
    return minx, miny, maxx, maxy


def parse_int(name: str, text: str | None, *, default: int, minimum: int, maximum: int) -> int:
    if text is None or text == "":
        return default
    try:
        value = int(text)
    except ValueError:
        msg = f"{name} must be a whole number, got {text!r}"
        raise BadRequest(msg) from None
    if not minimum <= value <= maximum:
        msg = f"{name} must be between {minimum} and {maximum}, got {value}"
        raise BadRequest(msg)
    return value


def parse_time(name: str, text: str | None) -> dt.datetime | None:
    """An ISO 8601 date or date-time; a naive one is read as UTC."""
    if text is None or text == "":
        return None
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        msg = f"{name} must be an ISO 8601 date or date-time such as 2026-11-23T08:00:00+08:00, got {text!r}"
        raise BadRequest(msg) from None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
