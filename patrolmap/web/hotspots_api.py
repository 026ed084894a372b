"""Marked hotspots: list, mark, read, edit and delete them, and count the violations inside each.

A hotspot is a GeoJSON Feature with a Polygon or MultiPolygon and the properties name, kind
(no_parking_watch, fire_lane_watch, peak_hour_post, tow_away_zone), hours ("07:00-09:00",
several separated by commas) and note. Writes go through the "hotspots" layer's validation,
like imports; edits need the version read (409 when it moved on); deletes are soft and need
a reason; every write is audited. Hotspots outside the caller's campuses answer 404.
"""

from __future__ import annotations

import math
import uuid
from typing import Any

import shapely.geometry
from flask import Blueprint, Response, current_app, g, jsonify, request, url_for

from patrolmap.database import write_transaction
from patrolmap.errors import BadRequest
from patrolmap.extensions import db
from patrolmap.geo.validate import RawFeature, ValidationError, validate_layer
from patrolmap.geojson import feature_collection, feature_json
from patrolmap.hotspots import (
    FIELDS,
    LAYER,
    count_in_hotspots,
    create_hotspot,
    delete_hotspot,
    get_hotspot,
    hotspot_rows,
    update_hotspot,
)
from patrolmap.importing import as_http_error
from patrolmap.store import campus_extent, get_campus
from patrolmap.transitions import check_reason, check_version
from patrolmap.web.api import _campus_for_write, _campus_param, _json_body, _LocalTimes, actor

bp = Blueprint("hotspots", __name__, url_prefix="/api")

CREATE_MEMBERS = {"type", "geometry", "properties", "campus"}
UPDATE_MEMBERS = {"type", "geometry", "properties", "reason"}
DELETE_FIELDS = {"reason", "version"}
WINDOW_PARAMS = ("from", "to", "days", "hours", "kinds", "term")
MAX_VERTICES = 10_000


def _flag(name: str) -> bool:
    text = request.args.get(name, "").strip().lower()
    if text in ("", "false", "0", "no"):
        return False
    if text in ("true", "1", "yes"):
        return True
    raise BadRequest("%(name)s must be true or false, got %(text)s", name=name, text=repr(text))


# ---------------------------------------------------------------- reading


def _properties(row: dict[str, Any], local: _LocalTimes) -> dict[str, Any]:
    campus_id = row["campus_id"]
    return {
        **{k: row[k] for k in FIELDS}, "version": row["version"], "campus": campus_id,
        "created_at": local(row["created_at"], campus_id), "updated_at": local(row["updated_at"], campus_id),
        "deleted_at": local(row["deleted_at"], campus_id) if row["deleted_at"] else None,
        "deleted_reason": row["deleted_reason"],
    }


def _feature(hotspot_id: int, **members: Any) -> bytes:
    row = get_hotspot(db.session, hotspot_id, g.scope.campus_ids)
    return feature_json(row["id"], row["geom"], _properties(row, _LocalTimes()), **members)


def _geojson(body: bytes, status: int = 200, headers: dict[str, str] | None = None) -> tuple[Response, int]:
    return Response(body, mimetype="application/geo+json", headers=headers), status


def _window_mask() -> tuple[Any, dict[str, str]]:
    """The time window asked for (from, to, days, hours, kinds, term) as a mask function, and its echo."""
    from patrolmap.analysis.errors import InputError
    from patrolmap.analysis.timewindow import TimeFilter, select_violations
    from patrolmap.analysis.workcalendar import WorkCalendar

    args = {name: request.args.get(name) or None for name in WINDOW_PARAMS}
    try:
        needs_calendar = bool(args["days"] or args["term"])
        calendar = WorkCalendar.load(_calendar_file()) if needs_calendar else None
        window = TimeFilter.parse(date_from=args["from"], date_to=args["to"], days=args["days"], hours=args["hours"],
                                  kinds=args["kinds"], term=args["term"], calendar=calendar)
    except InputError as exc:
        raise BadRequest(exc.template, **exc.params) from None

    def mask(table: Any) -> Any:
        return select_violations(table, window.date_from, window.date_to, window.days, window.hours, window.kinds,
                                 calendar, term=window.term)

    return mask, {k: v for k, v in args.items() if v is not None}


def _calendar_file() -> str | None:
    return current_app.config.get("CALENDAR")  # PATROLMAP_CALENDAR, as for the computed hotspots


@bp.get("/hotspots")
def list_hotspots() -> tuple[Response, int]:
    """Marked hotspots of the caller's campuses (or ?campus=); counts=true (or any window parameter)
    adds how many violations of the window fall in each."""
    campus_ids = _campus_param()
    rows = hotspot_rows(db.session, campus_ids=campus_ids, include_deleted=_flag("include_deleted"))
    local = _LocalTimes()
    props = [_properties(r, local) for r in rows]
    members: dict[str, Any] = {"numberMatched": len(rows), "numberReturned": len(rows)}
    if _flag("counts") or any(request.args.get(p) for p in WINDOW_PARAMS):
        mask, window = _window_mask()
        counts = count_in_hotspots(db.session, [r for r in rows if r["deleted_at"] is None], mask)
        for p, r in zip(props, rows, strict=True):
            p["count"] = counts.get(r["id"])
        members["window"] = window
    body = feature_collection([r["id"] for r in rows], [r["geom"] for r in rows], props, **members)
    return _geojson(body)


@bp.get("/hotspots/<int:hotspot_id>")
def read_hotspot(hotspot_id: int) -> tuple[Response, int]:
    """One hotspot; a deleted one too (with deleted_at and deleted_reason), as the audit log refers to it."""
    return _geojson(_feature(hotspot_id))


@bp.get("/hotspots/<int:hotspot_id>/count")
def hotspot_count(hotspot_id: int) -> Response:
    """How many violations of a window (from, to, days, hours, kinds, term) fall inside the hotspot."""
    row = get_hotspot(db.session, hotspot_id, g.scope.campus_ids)
    mask, window = _window_mask()
    count = count_in_hotspots(db.session, [row], mask)[hotspot_id] if row["deleted_at"] is None else None
    return jsonify({"id": hotspot_id, "count": count, "window": window})


# ---------------------------------------------------------------- writing


def _feature_body(members: set[str]) -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or body.get("type") != "Feature":
        raise BadRequest("send a GeoJSON Feature (Content-Type: application/json) with a Polygon geometry")
    unknown = sorted(set(body) - members)
    if unknown:
        raise BadRequest("unknown field(s): %(unknown)s; accepted: %(accepted)s",
                         unknown=", ".join(unknown), accepted=", ".join(sorted(members)))
    return body


def _numbers(value: Any, depth: int = 0) -> int:
    """Count the positions of a coordinates array, refusing anything but nested lists of numbers."""
    if depth > 4 or not isinstance(value, list):
        raise BadRequest("the geometry's coordinates must be nested arrays of [lon, lat] numbers")
    if value and not isinstance(value[0], list):
        if len(value) not in (2, 3) or not all(
                isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in value):
            raise BadRequest("the geometry's coordinates must be nested arrays of [lon, lat] numbers")
        return 1
    return sum(_numbers(v, depth + 1) for v in value)


def _raw_feature(body: dict[str, Any], allowed: set[str]) -> tuple[RawFeature, dict[str, Any]]:
    geometry = body.get("geometry")
    if not isinstance(geometry, dict) or not isinstance(geometry.get("type"), str):
        raise BadRequest("the Feature needs a geometry: a GeoJSON Polygon or MultiPolygon")
    if _numbers(geometry.get("coordinates")) > MAX_VERTICES:
        raise BadRequest("the geometry has more than %(max)s vertices", max=MAX_VERTICES)
    try:
        shape = shapely.geometry.shape(geometry)
    except Exception as exc:  # shapely raises several types for malformed GeoJSON
        raise BadRequest("the geometry is not valid GeoJSON: %(reason)s", reason=str(exc) or type(exc).__name__
                         ) from None
    props = body.get("properties") or {}
    if not isinstance(props, dict):
        raise BadRequest("properties must be an object")
    unknown = sorted(set(props) - allowed)
    if unknown:
        raise BadRequest("unknown field(s): %(unknown)s; accepted: %(accepted)s",
                         unknown=", ".join(unknown), accepted=", ".join(sorted(allowed)))
    values = {k: v for k, v in props.items() if k in FIELDS}
    for key, value in values.items():
        if value is not None and not isinstance(value, str):
            raise BadRequest("%(name)s must be a string", name=key)
    return RawFeature(0, f"api:{uuid.uuid4().hex}", shape, values), props


def _checked(raw: RawFeature, campus: Any) -> Any:
    try:
        return validate_layer(LAYER, [raw], timezone=campus.timezone, reference=campus_extent(db.session, campus))
    except ValidationError as exc:
        raise as_http_error(exc, single=True) from None


def _warnings(checked: Any) -> dict[str, Any]:
    return {"warnings": checked.warnings} if checked.warnings else {}


@bp.post("/hotspots")
def create() -> tuple[Response, int]:
    """Mark a hotspot: a Feature with a Polygon, properties name, kind, hours, note, and "campus"."""
    body = _feature_body(CREATE_MEMBERS)
    campus = _campus_for_write(body)
    raw, _ = _raw_feature(body, set(FIELDS))
    checked = _checked(raw, campus)
    campus_id, who = campus.id, actor()
    with write_transaction(db.session):
        new_id = create_hotspot(db.session, get_campus(db.session, campus_id), checked, actor=who)
    location = url_for("hotspots.read_hotspot", hotspot_id=new_id)
    return _geojson(_feature(new_id, **_warnings(checked)), 201, {"Location": location})


@bp.put("/hotspots/<int:hotspot_id>")
def update(hotspot_id: int) -> tuple[Response, int]:
    """Replace a hotspot: the whole Feature, with properties.version as read (409 if it moved on)."""
    row = get_hotspot(db.session, hotspot_id, g.scope.campus_ids)
    body = _feature_body(UPDATE_MEMBERS)
    raw, props = _raw_feature(body, {*FIELDS, "version"})
    if props.get("version") is None:
        raise BadRequest("properties.version is required: the version you read, so that no edit is lost")
    version = check_version(props["version"])
    reason = check_reason(body.get("reason"), required=False)
    campus = get_campus(db.session, row["campus_id"])
    checked = _checked(raw, campus)
    campus_id, who = campus.id, actor()
    with write_transaction(db.session):
        update_hotspot(db.session, hotspot_id, get_campus(db.session, campus_id), checked, version=version,
                       actor=who, reason=reason, campus_ids=g.scope.campus_ids)
    return _geojson(_feature(hotspot_id, **_warnings(checked)))


@bp.delete("/hotspots/<int:hotspot_id>")
def delete(hotspot_id: int) -> tuple[Response, int]:
    """Soft-delete: {"reason": "...", "version": n} or ?reason=; the hotspot stays stored and audited."""
    get_hotspot(db.session, hotspot_id, g.scope.campus_ids)
    body: dict[str, Any] = _json_body(DELETE_FIELDS) if request.get_data() else {}
    reason = check_reason(body.get("reason", request.args.get("reason")), required=False)
    if reason is None:
        raise BadRequest("a reason is required to delete a hotspot")
    version_arg = body.get("version", request.args.get("version"))
    if isinstance(version_arg, str):
        try:
            version_arg = int(version_arg)
        except ValueError:
            raise BadRequest("version must be a whole number of at least 1, as read with the record") from None
    version = check_version(version_arg)
    who = actor()
    with write_transaction(db.session):
        delete_hotspot(db.session, hotspot_id, reason=reason, version=version, actor=who,
                       campus_ids=g.scope.campus_ids)
    return _geojson(_feature(hotspot_id))
