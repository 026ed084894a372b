"""JSON and GeoJSON API: thin adapters over the store."""

from __future__ import annotations

import datetime as dt
import math
import uuid
import zoneinfo
from typing import Any

import shapely
from flask import Blueprint, Response, current_app, g, jsonify, request, url_for

from patrolmap.access import mask_plate
from patrolmap.database import write_transaction
from patrolmap.errors import BadRequest, NotFound, Unauthorized
from patrolmap.extensions import db
from patrolmap.geo.validate import RawFeature, ValidationError, validate_layer
from patrolmap.geojson import feature_collection, feature_json
from patrolmap.importing import as_http_error, translated
from patrolmap.layers import LAYERS, UnknownLayer, get_layer
from patrolmap.models import Campus
from patrolmap.store import (
    CampusFilter,
    campus_extent,
    count_features,
    create_violation,
    feature_cells,
    find_campus,
    get_campus,
    list_campuses,
    query_features,
)
from patrolmap.web.params import parse_bbox, parse_int

bp = Blueprint("api", __name__, url_prefix="/api")


def actor() -> str:
    """Who the audit log names for this request's changes."""
    user = g.get("user")
    if user is None:
        return "anonymous"
    return f"{user.username} (token)" if g.get("token_user") else user.username

# Fields a client may send when recording a violation; anything else is refused.
VIOLATION_FIELDS = {"campus", "lon", "lat", "observed_at", "kind", "plate", "note", "reporter", "status"}
HIDDEN = ("geom", "id", "campus_id", "lon", "lat")


def _known_layer(layer_id: str) -> None:
    try:
        get_layer(layer_id)
    except UnknownLayer:
        raise NotFound("unknown layer %(layer)s; layers are %(layers)s",
                       layer=repr(layer_id), layers=", ".join(LAYERS)) from None
    if not g.scope.sees_layer(layer_id):
        if g.get("user") is None:
            raise Unauthorized("sign in to see this layer")
        raise NotFound("unknown layer %(layer)s; layers are %(layers)s",
                       layer=repr(layer_id), layers=", ".join(lid for lid in LAYERS if g.scope.sees_layer(lid)))


def scoped_campus(key: str | int) -> Campus:
    """A campus the caller may see; others answer as unknown, so their existence does not leak.

    A query string carries an id as text: a key of ASCII digits that is no campus's slug is read as
    an id (the slug first, so a campus slugged "2021" keeps its address).
    """
    campus = find_campus(db.session, key)
    if campus is None and isinstance(key, str) and key.isascii() and key.isdigit() and len(key) <= 19:
        campus = find_campus(db.session, int(key))
    if campus is None or not g.scope.sees_campus(campus.id):
        raise NotFound("unknown campus %(campus)s", campus=repr(key))
    return campus


def _campus_param() -> CampusFilter:
    """The campus asked for, or every campus the caller may see."""
    key = request.args.get("campus")
    return scoped_campus(key).id if key else g.scope.campus_ids


def _ids_param() -> list[int] | None:
    text = request.args.get("ids")
    if not text:
        return None
    try:
        ids = [int(part) for part in text.split(",")]
    except ValueError:
        raise BadRequest("ids must be whole numbers separated by commas, got %(text)s", text=repr(text)) from None
    if len(ids) > 1000:
        raise BadRequest("at most 1000 ids at once")
    return ids


class _LocalTimes:
    """Show stored UTC times in each campus's own time zone, as people on that campus read them."""

    def __init__(self) -> None:
        self.zones = {c.id: zoneinfo.ZoneInfo(c.timezone) for c in list_campuses(db.session, g.scope.campus_ids)}

    def __call__(self, value: dt.datetime, campus_id: int) -> str:
        zone = self.zones.get(campus_id)
        return (value.astimezone(zone) if zone else value).isoformat()


def _properties(row: dict[str, Any], local: _LocalTimes) -> dict[str, Any]:
    props = {k: v for k, v in row.items() if k not in HIDDEN}
    if "plate" in props and not g.scope.personal_data:
        props["plate"] = mask_plate(props["plate"])
        props.pop("reporter", None)
    for key, value in props.items():
        if isinstance(value, dt.datetime):
            props[key] = local(value, row["campus_id"])
        elif isinstance(value, dt.date):
            props[key] = value.isoformat()
        elif isinstance(value, float) and not math.isfinite(value):
            props[key] = None
    props["campus"] = row["campus_id"]
    return props


def page_properties(rows: list[dict[str, Any]], local: _LocalTimes) -> list[dict[str, Any]]:
    """_properties of every row of a page, worked out column by column: the same dicts, a few times faster
    (a page of 1,000 features spent more here than in the database)."""
    if not rows:
        return []
    campus_ids = [row["campus_id"] for row in rows]
    masked = "plate" in rows[0] and not g.scope.personal_data
    columns: dict[str, list[Any]] = {}
    for name in rows[0]:
        if name in HIDDEN or (masked and name == "reporter"):
            continue
        values = [row[name] for row in rows]
        if masked and name == "plate":
            values = [mask_plate(v) for v in values]
        sample = next((v for v in values if v is not None), None)
        if isinstance(sample, dt.datetime):
            values = [local(v, c) if isinstance(v, dt.datetime) else v for v, c in zip(values, campus_ids, strict=True)]
        elif isinstance(sample, dt.date):
            values = [v.isoformat() if isinstance(v, dt.date) else v for v in values]
        elif isinstance(sample, (int, float)):
            values = [None if isinstance(v, float) and not math.isfinite(v) else v for v in values]
        columns[name] = values
    columns["campus"] = campus_ids
    names = list(columns)
    return [dict(zip(names, values, strict=True)) for values in zip(*columns.values(), strict=True)]


@bp.get("/campuses")
def campuses() -> Response:
    return jsonify([
        {"id": c.id, "slug": c.slug, "name": c.name, "timezone": c.timezone, "university": c.university,
         "bbox": list(extent.bounds) if (extent := campus_extent(db.session, c)) is not None else None}
        for c in list_campuses(db.session, g.scope.campus_ids)
    ])


@bp.get("/layers")
def layers() -> Response:
    return jsonify([{"id": layer.id, "title": layer.title} for layer in LAYERS.values()
                    if g.scope.sees_layer(layer.id)])


@bp.get("/layers/<layer_id>")
def layer_features(layer_id: str) -> Response:
    """Features of a layer as an RFC 7946 FeatureCollection, limited to a bbox and a page.

    numberMatched always says how many features match, so a client never mistakes a
    page for the whole.
    """
    _known_layer(layer_id)
    bbox = parse_bbox(request.args.get("bbox"))
    limit = parse_int("limit", request.args.get("limit"), default=current_app.config["API_DEFAULT_LIMIT"],
                      minimum=1, maximum=current_app.config["API_MAX_LIMIT"])
    offset = parse_int("offset", request.args.get("offset"), default=0, minimum=0, maximum=10**9)
    campus_id = _campus_param()
    ids = _ids_param()
    # Void violations have left the live data; include_void=true brings them back (evidence stays retrievable).
    void = _include_void(layer_id)
    rows = query_features(db.session, layer_id, campus_id=campus_id, bbox=bbox, limit=limit, offset=offset, ids=ids,
                          include_deleted=void)
    members: dict[str, Any] = {}
    if len(rows) < limit and (rows or offset == 0):
        members["numberMatched"] = offset + len(rows)
    elif request.args.get("count") != "false":
        # Counting a dense view costs more than the page itself; the map skips it (count=false)
        # and asks for counted cells instead.
        members["numberMatched"] = count_features(db.session, layer_id, campus_id=campus_id, bbox=bbox, ids=ids,
                                                  include_deleted=void)
    local = _LocalTimes()
    body = feature_collection(
        [r["id"] for r in rows], [r["geom"] for r in rows], page_properties(rows, local),
        **members, numberReturned=len(rows),
    )
    return Response(body, mimetype="application/geo+json")


def _include_void(layer_id: str) -> bool:
    text = request.args.get("include_void", "").lower()
    if text in ("", "false", "0"):
        return False
    if text not in ("true", "1") or layer_id != "violations":
        raise BadRequest("include_void=true is for the violations layer only")
    return True


@bp.get("/layers/<layer_id>/cells")
def layer_cells(layer_id: str) -> Response:
    """Counts of a layer's features in a grid over the bbox: what a map shows when a view is too dense."""
    _known_layer(layer_id)
    bbox = parse_bbox(request.args.get("bbox"))
    if bbox is None:
        raise BadRequest("bbox is required")
    nx = parse_int("nx", request.args.get("nx"), default=16, minimum=1, maximum=128)
    ny = parse_int("ny", request.args.get("ny"), default=16, minimum=1, maximum=128)
    cells = feature_cells(db.session, layer_id, bbox=bbox, nx=nx, ny=ny, campus_id=_campus_param())
    body = feature_collection(
        list(range(len(cells))), _points(cells),
        [{"count": c["count"], "bounds": c["bounds"]} for c in cells],
        numberMatched=sum(c["count"] for c in cells), numberReturned=len(cells),
    )
    return Response(body, mimetype="application/geo+json")


def _points(cells: list[dict[str, Any]]) -> list[Any]:
    return list(shapely.points([c["lon"] for c in cells], [c["lat"] for c in cells])) if cells else []


def _json_body(allowed: set[str]) -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object (Content-Type: application/json)")
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise BadRequest("unknown field(s): %(unknown)s; accepted: %(accepted)s",
                         unknown=", ".join(unknown), accepted=", ".join(sorted(allowed)))
    return body


def _coordinate(body: dict[str, Any], name: str) -> float:
    value = body.get(name)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise BadRequest("%(name)s must be a number", name=name)
    return float(value)


def one_campus(key: Any) -> Campus:
    """The campus asked for (one the caller may see: an object-level check), or the caller's only campus."""
    if key is None or key == "":
        campuses = list_campuses(db.session, g.scope.campus_ids)
        if len(campuses) != 1:
            raise BadRequest("campus is required when there are several campuses")
        return campuses[0]
    if not isinstance(key, (str, int)) or isinstance(key, bool):
        raise BadRequest("campus must be a slug or an id")
    return scoped_campus(key)


def _campus_for_write(body: dict[str, Any]) -> Campus:
    """The campus a write goes to: one the caller may see (object-level check), or their only one."""
    return one_campus(body.get("campus"))


@bp.post("/violations")
def record_violation() -> tuple[Response, int, dict[str, str]]:
    """Record one violation; it starts open, and its time defaults to now."""
    body = _json_body(VIOLATION_FIELDS)
    lon, lat = _coordinate(body, "lon"), _coordinate(body, "lat")
    if body.get("status") not in (None, "open"):
        raise BadRequest("a new violation starts open; change its status with a transition")
    campus = _campus_for_write(body)
    props = {k: v for k, v in body.items() if k not in ("campus", "lon", "lat")}
    props.setdefault("observed_at", dt.datetime.now(dt.UTC).isoformat())
    for key, value in props.items():
        if value is not None and not isinstance(value, str):
            raise BadRequest("%(name)s must be a string", name=key)
    raw = RawFeature(0, f"api:{uuid.uuid4().hex}", shapely.Point(lon, lat), props)
    try:
        checked = validate_layer("violations", [raw], timezone=campus.timezone,
                                 reference=campus_extent(db.session, campus))
    except ValidationError as exc:
        raise as_http_error(exc, single=True) from None
    campus_id = campus.id
    with write_transaction(db.session):
        violation = create_violation(db.session, get_campus(db.session, campus_id), checked, actor=actor())
        new_id = violation.id
    row = query_features(db.session, "violations", ids=[new_id])[0]
    warnings = [translated(n) for n in checked.notices]
    body_out = feature_json(new_id, row["geom"], _properties(row, _LocalTimes()),
                            **({"warnings": warnings} if warnings else {}))
    location = url_for("api.layer_features", layer_id="violations", ids=new_id)
    return Response(body_out, mimetype="application/geo+json"), 201, {"Location": location}
