"""Check incoming features against a layer's schema before anything is written.

Every problem is collected with the feature's position and id, so that a user
fixing a file learns all that is wrong in one run, not one error per attempt.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import re
import zoneinfo
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

from patrolmap.geo.plates import is_standard_plate
from patrolmap.geo.schema import SCHEMAS, FieldSpec, LayerSchema

MAX_PROBLEMS = 50
TRUE_WORDS = {"true", "yes", "1", "y", "t", "是", "有"}
FALSE_WORDS = {"false", "no", "0", "n", "f", "否", "无", ""}
# Farther than this from the campus it is imported into, data is refused as misplaced.
MAX_DISTANCE_FROM_CAMPUS_KM = 50.0


class FieldError(ValueError):
    """A value's problem as a message template and its parameters, so the web layer can translate it."""

    def __init__(self, template: str, **params: Any) -> None:
        self.template = template
        self.params = params
        super().__init__(template % params if params else template)


@dataclass
class Problem:
    """One thing wrong with one feature (or with the whole file when index is None)."""

    layer: str
    index: int | None
    feature_id: str | None
    field: str
    message: str
    template: str | None = None
    params: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, layer: str, index: int | None, feature_id: str | None, field_name: str,
           error: ValueError | str) -> Problem:
        """A problem from an error: a FieldError keeps its template for translation."""
        if isinstance(error, FieldError):
            return cls(layer, index, feature_id, field_name, str(error), error.template, error.params)
        return cls(layer, index, feature_id, field_name, str(error))

    def __str__(self) -> str:
        where = "file" if self.index is None else f"feature {self.index}"
        if self.feature_id is not None:
            where += f" (id {self.feature_id})"
        return f"{self.layer}: {where}: {self.field}: {self.message}"

    def to_dict(self) -> dict[str, Any]:
        return {"layer": self.layer, "index": self.index, "id": self.feature_id,
                "field": self.field, "message": self.message}


class ValidationError(ValueError):
    """Raised with every problem found; nothing may be written when it is raised."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        shown = "\n".join(f"  {p}" for p in problems[:MAX_PROBLEMS])
        more = len(problems) - MAX_PROBLEMS
        suffix = f"\n  ... and {more} more" if more > 0 else ""
        super().__init__(f"{len(problems)} problem(s):\n{shown}{suffix}")


@dataclass
class RawFeature:
    """A feature as read from a file, before any checking."""

    index: int
    id: str | None
    geometry: BaseGeometry | None
    properties: dict[str, Any]
    geometry_error: str | None = None


@dataclass
class CheckedLayer:
    """A validated layer ready to store, plus the warnings it raised."""

    layer: str
    frame: gpd.GeoDataFrame
    warnings: list[str] = field(default_factory=list)
    # Field-level warnings (e.g. a non-standard plate) with templates, for forms to show translated.
    notices: list[Problem] = field(default_factory=list)


def parse_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)) and value in (0, 1):
        return bool(value)
    text = str(value).strip().lower()
    if text in TRUE_WORDS:
        return True
    if text in FALSE_WORDS:
        return False
    raise FieldError("expected true/false, got %(value)s", value=repr(value))


def parse_int(value: Any) -> int:
    if isinstance(value, bool):
        raise FieldError("expected a whole number, got %(value)s", value=repr(value))
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if value.is_integer():
            return int(value)
        raise FieldError("expected a whole number, got %(value)s", value=repr(value))
    text = str(value).strip()
    try:
        return int(text)
    except ValueError:
        try:
            number = float(text)
        except ValueError:
            number = math.nan
        if number.is_integer():
            return int(number)
        raise FieldError("expected a whole number, got %(value)s", value=repr(value)) from None


def parse_float(value: Any) -> float:
    if isinstance(value, bool):
        raise FieldError("expected a number, got %(value)s", value=repr(value))
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise FieldError("expected a number, got %(value)s", value=repr(value)) from None
    if not math.isfinite(number):
        raise FieldError("expected a finite number, got %(value)s", value=repr(value))
    return number


def parse_datetime(value: Any, tz: dt.tzinfo) -> dt.datetime:
    """Read ISO 8601 (or 'YYYY-MM-DD HH:MM[:SS]', or 'YYYY/MM/DD ...'); naive times are campus-local."""
    if isinstance(value, dt.datetime):
        parsed = value
    else:
        text = str(value).strip().replace("/", "-")
        if text.endswith("Z"):
            text = text[:-1] + "+00:00"
        try:
            parsed = dt.datetime.fromisoformat(text)
        except ValueError:
            raise FieldError("expected an ISO 8601 time such as 2026-03-02T07:45:00+08:00, got %(value)s",
                             value=repr(value)) from None
        if len(text) <= 10:
            raise FieldError("expected a date and a time, got only a date %(value)s", value=repr(value))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=tz)
    return parsed.astimezone(dt.UTC)


HOURS_PART = re.compile(r"(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})")


def parse_hours(value: Any) -> str:
    """Daily hour ranges such as "07:00-09:00,11:30-13:00" (local time; "22:00-06:00" wraps midnight).

    Returned in one spelling (zero-padded, comma-separated), so equal hours compare equal.
    """
    text = str(value).strip()
    parts = [p.strip() for p in re.split(r"[,，;；]", text)]
    out = []
    for part in parts:
        match = HOURS_PART.fullmatch(part)
        if match is None:
            raise FieldError("expected hours such as 07:00-09:00 (several separated by commas), got %(value)s",
                             value=repr(text))
        h0, m0, h1, m1 = (int(g) for g in match.groups())
        if not all(0 <= h <= 24 and 0 <= m < 60 and (h < 24 or m == 0) for h, m in ((h0, m0), (h1, m1))):
            raise FieldError("%(value)s is not a time of day from 00:00 to 24:00", value=repr(part))
        if (h0, m0) == (h1, m1):
            raise FieldError("%(value)s starts and ends at the same time", value=repr(part))
        out.append(f"{h0:02d}:{m0:02d}-{h1:02d}:{m1:02d}")
    return ",".join(out)


def _is_blank(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and value.strip() == ""


def check_value(spec: FieldSpec, value: Any, tz: dt.tzinfo) -> Any:
    """Return the value converted to the field's type, or raise ValueError saying why."""
    if _is_blank(value):
        if spec.required:
            raise FieldError("is required")
        return spec.default
    if spec.type == "hours":
        result = parse_hours(value)
        if len(result) > spec.max_length:
            raise FieldError("longer than %(max)s characters", max=spec.max_length)
        return result
    if spec.type == "str":
        result: Any = str(value).strip()
        if len(result) > spec.max_length:
            raise FieldError("longer than %(max)s characters", max=spec.max_length)
        if spec.choices is not None and result not in spec.choices:
            raise FieldError("unknown value %(value)s; expected one of %(choices)s", value=repr(result),
                             choices=", ".join(spec.choices))
        return result
    if spec.type == "int":
        result = parse_int(value)
    elif spec.type == "float":
        result = parse_float(value)
    elif spec.type == "bool":
        return parse_bool(value)
    elif spec.type == "datetime":
        return parse_datetime(value, tz)
    else:  # pragma: no cover - schema error
        msg = f"unknown field type {spec.type}"
        raise TypeError(msg)
    if spec.min is not None and result < spec.min:
        raise FieldError("%(value)s is below the minimum %(min)s", value=result, min=f"{spec.min:g}")
    if spec.max is not None and result > spec.max:
        raise FieldError("%(value)s is above the maximum %(max)s", value=result, max=f"{spec.max:g}")
    return result


def diagnose_coordinates(geom: BaseGeometry) -> str | None:
    """Say why coordinates cannot be WGS84 lon/lat, naming the likely cause."""
    coords = shapely.get_coordinates(geom)
    if not np.isfinite(coords).all():
        return "coordinates contain NaN or infinity"
    xs, ys = coords[:, 0], coords[:, 1]
    if (np.abs(xs) > 1000).any() or (np.abs(ys) > 1000).any():
        return ("coordinates look like metres from a projected CRS (values beyond ±1000); "
                "reproject to EPSG:4326 longitude/latitude first")
    if (np.abs(ys) > 90).any() and (np.abs(xs) <= 90).all() and (np.abs(ys) <= 180).all():
        return "latitude beyond ±90 while longitude fits: the axes look swapped (GeoJSON wants lon, lat)"
    if (np.abs(xs) > 180).any() or (np.abs(ys) > 90).any():
        return "coordinates out of range: longitude must be within ±180 and latitude within ±90"
    return None


def _distance_km(a: BaseGeometry, b: BaseGeometry) -> float:
    """Rough great-circle distance between two geometries' nearest bbox corners, in km."""
    ax0, ay0, ax1, ay1 = a.bounds
    bx0, by0, bx1, by1 = b.bounds
    dx = max(bx0 - ax1, ax0 - bx1, 0.0)
    dy = max(by0 - ay1, ay0 - by1, 0.0)
    lat = math.radians((ay0 + ay1 + by0 + by1) / 4)
    return math.hypot(dx * 111.32 * math.cos(lat), dy * 110.57)


def check_placement(layer: str, frame: gpd.GeoDataFrame, reference: BaseGeometry | None) -> Problem | None:
    """Refuse a layer that lies far from the campus it is imported into, spotting swapped axes."""
    if reference is None or frame.empty:
        return None
    bounds = shapely.box(*frame.total_bounds)
    distance = _distance_km(bounds, reference)
    if distance <= MAX_DISTANCE_FROM_CAMPUS_KM:
        return None
    x0, y0, x1, y1 = frame.total_bounds
    swapped = shapely.box(y0, x0, y1, x1)
    if _distance_km(swapped, reference) <= MAX_DISTANCE_FROM_CAMPUS_KM:
        error = FieldError("the layer lies %(km)s km from the campus, but with x and y swapped it would fit: "
                           "the axes look swapped (GeoJSON wants lon, lat)", km=f"{distance:.0f}")
    else:
        error = FieldError("the layer lies %(km)s km from the campus; check its CRS or the campus chosen",
                           km=f"{distance:.0f}")
    return Problem.of(layer, None, None, "geometry", error)


def repair_geometry(geom: BaseGeometry, allowed: tuple[str, ...]) -> tuple[BaseGeometry | None, str | None]:
    """Make an invalid polygon valid, keeping only the parts the layer allows."""
    if geom.is_valid:
        return geom, None
    reason = shapely.is_valid_reason(geom)
    fixed = shapely.make_valid(geom)
    if fixed.geom_type == "GeometryCollection":
        parts = [g for g in fixed.geoms if g.geom_type in allowed or
                 (g.geom_type == "Polygon" and "MultiPolygon" in allowed)]
        polys = [p for g in parts for p in getattr(g, "geoms", [g])]
        fixed = shapely.MultiPolygon(polys) if len(polys) > 1 else (polys[0] if polys else None)
    if fixed is None or fixed.is_empty or fixed.geom_type not in allowed:
        return None, f"invalid geometry ({reason}) that cannot be repaired"
    return fixed, f"invalid geometry ({reason}) repaired"


def content_id(layer: str, geom: BaseGeometry, values: dict[str, Any]) -> str:
    """A stable id from a feature's content, so that re-importing an id-less file adds nothing."""
    digest = hashlib.sha1(layer.encode())
    digest.update(shapely.to_wkb(geom, output_dimension=2))
    for key in sorted(values):
        digest.update(f"{key}={values[key]!r};".encode())
    return "sha1:" + digest.hexdigest()[:24]


def _check_geometry(
    schema: LayerSchema, raw: RawFeature,
) -> tuple[BaseGeometry | None, str | FieldError | None, str | None]:
    """Return (geometry, error, warning) for one feature."""
    if raw.geometry_error:
        return None, raw.geometry_error, None
    geom = raw.geometry
    if geom is None or geom.is_empty:
        return None, FieldError("empty or missing geometry"), None
    if geom.has_z:
        geom = shapely.force_2d(geom)
    if geom.geom_type == "MultiPoint" and len(geom.geoms) == 1 and "Point" in schema.geometry_types:
        geom = geom.geoms[0]
    if geom.geom_type == "MultiLineString" and "LineString" in schema.geometry_types:
        merged = shapely.line_merge(geom)
        if merged.geom_type == "LineString":
            geom = merged
    if geom.geom_type not in schema.geometry_types:
        return None, FieldError("%(type)s is not allowed here; expected %(allowed)s", type=geom.geom_type,
                                allowed=" or ".join(schema.geometry_types)), None
    diagnosis = diagnose_coordinates(geom)
    if diagnosis:
        return None, diagnosis, None
    fixed, note = repair_geometry(geom, schema.geometry_types)
    if fixed is None:
        return None, note, None
    return fixed, None, note


def _object_frame(rows: list[dict[str, Any]], columns: list[str]) -> gpd.GeoDataFrame:
    """A frame that keeps None as None and ints as ints (pandas would make both floats)."""
    data = {c: pd.Series([r[c] for r in rows], dtype=object) for c in columns}
    return gpd.GeoDataFrame(data, geometry=[r["geometry"] for r in rows], crs="EPSG:4326")


def validate_layer(
    layer: str,
    features: list[RawFeature],
    *,
    timezone: str = "Asia/Shanghai",
    reference: BaseGeometry | None = None,
) -> CheckedLayer:
    """Check every feature of a layer; raise ValidationError listing all problems, else return the clean frame."""
    schema = SCHEMAS[layer]
    tz = zoneinfo.ZoneInfo(timezone)
    problems: list[Problem] = []
    warnings: list[str] = []
    rows: list[dict[str, Any]] = []
    notices: list[Problem] = []
    seen_ids: dict[str, int] = {}
    content_ids: dict[str, int] = {}
    unknown: set[str] = set()
    for raw in features:
        fid = None if raw.id is None else str(raw.id)
        geom, error, note = _check_geometry(schema, raw)
        if error:
            problems.append(Problem.of(layer, raw.index, fid, "geometry", error))
        elif note:
            warnings.append(f"{layer}: feature {raw.index}: {note}")
        row: dict[str, Any] = {}
        ok = not error
        for spec in schema.fields:
            try:
                row[spec.name] = check_value(spec, raw.properties.get(spec.name), tz)
            except ValueError as exc:
                ok = False
                problems.append(Problem.of(layer, raw.index, fid, spec.name, exc))
        unknown.update(k for k in raw.properties if k not in schema.field_names and k not in ("id", "source_id"))
        if fid is not None:
            if fid in seen_ids:
                problems.append(Problem.of(layer, raw.index, fid, "id", FieldError(
                    "duplicate id, also used by feature %(other)s", other=seen_ids[fid])))
            seen_ids[fid] = raw.index
        plate = row.get("plate") if layer == "violations" else None
        if ok and plate and not plate.startswith("anon:") and not is_standard_plate(plate):
            notice = Problem.of(layer, raw.index, fid, "plate", FieldError(
                "%(plate)s is not a standard Chinese plate (province, letter, 5 or 6 characters; 无牌 if none); "
                "recorded as given", plate=plate))
            notices.append(notice)
            warnings.append(str(notice))
        if ok:
            if fid is None:
                # Identical id-less rows are kept apart by their order, so none is dropped.
                base = content_id(layer, geom, row)
                content_ids[base] = content_ids.get(base, 0) + 1
                fid = base if content_ids[base] == 1 else f"{base}-{content_ids[base]}"
            row["source_id"] = fid
            row["geometry"] = geom
            rows.append(row)
        if len(problems) >= MAX_PROBLEMS * 4:
            break
    frame = _object_frame(rows, ["source_id", *schema.field_names])
    if not problems:
        misplaced = check_placement(layer, frame, reference)
        if misplaced:
            problems.append(misplaced)
    if problems:
        raise ValidationError(problems)
    if unknown:
        warnings.append(f"{layer}: ignored unknown properties: {', '.join(sorted(unknown))}")
    return CheckedLayer(layer, frame, warnings, notices)
