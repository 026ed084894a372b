"""Editing the campus's layers through JSON: read, create, replace, patch, delete, split and join paths, revert.

A thin adapter over patrolmap.editing (which holds the rules, the version guard and the audit):
this module parses bodies, checks who may edit which layer (EDIT_ROLES; 403 JSON otherwise) and
answers GeoJSON. The browser's /edit page and scripts use the same endpoints:

- GET    /api/layers/<layer>/items/<id>          a Feature (properties: the schema's fields, version,
                                                  campus slug, updated_at)
- POST   /api/layers/<layer>/items               a Feature and "campus" -> 201 with Location
- PUT    /api/layers/<layer>/items/<id>          the whole Feature, with properties.version as read
- PATCH  /api/layers/<layer>/items/<id>          {"properties": {some fields, "version"}, "geometry"?}
- DELETE /api/layers/<layer>/items/<id>          ?version=n or {"version", "reason"?}
- POST   /api/layers/paths/items/<id>/split      {"at": [lon, lat], "version"}
- POST   /api/layers/paths/join                  {"ids": [a, b], "versions": [va, vb]}
- POST   /api/audit/<entry>/revert               admin only; {"reason"?}

Properties an item carries but an edit cannot set (version, campus, updated_at) may be sent back as
read and are then ignored (version is the one read), so that a GET's Feature can be PUT back as it is.
Other campuses' features answer 404 as if absent.
"""

from __future__ import annotations

import json
import math
from typing import Any

import shapely
import shapely.geometry
from flask import Blueprint, Response, g, jsonify, request, url_for
from shapely.geometry.base import BaseGeometry

from patrolmap import editing
from patrolmap.database import write_transaction
from patrolmap.errors import BadRequest, Forbidden
from patrolmap.extensions import db
from patrolmap.geojson import feature_collection, feature_json
from patrolmap.store import get_campus
from patrolmap.transitions import check_reason, check_version
from patrolmap.web.api import _campus_for_write, actor
from patrolmap.web.hotspots_api import MAX_VERTICES, _numbers

bp = Blueprint("edit_api", __name__, url_prefix="/api")

FEATURE_MEMBERS = {"type", "id", "geometry", "properties", "reason"}
CREATE_MEMBERS = FEATURE_MEMBERS | {"campus"}
READ_ONLY = {"version", "campus", "updated_at"}
DELETE_MEMBERS = {"version", "reason"}
SPLIT_MEMBERS = {"at", "version", "reason"}
JOIN_MEMBERS = {"ids", "versions", "reason"}
REVERT_MEMBERS = {"reason"}


# ---------------------------------------------------------------- helpers


def _geojson(body: bytes, status: int = 200, headers: dict[str, str] | None = None) -> tuple[Response, int]:
    return Response(body, mimetype="application/geo+json", headers=headers), status


def _item_feature(layer_id: str, item_id: int, **members: Any) -> bytes:
    row = editing.read_item(db.session, layer_id, item_id, g.scope.campus_ids)
    return feature_json(row["id"], row["geom"], editing.item_properties(db.session, layer_id, row), **members)


def _warnings(written: editing.Written) -> dict[str, Any]:
    return {"warnings": written.warnings} if written.warnings else {}


def _layer(layer_id: str) -> None:
    """404 unless the layer is one edited here (every signed-in role sees all of these layers)."""
    editing.editable_layer(layer_id)


def _may_edit(layer_id: str) -> None:
    user = g.get("user")
    if user is None or not editing.may_edit(user.role_set, layer_id):
        raise Forbidden("your role may not edit the layer %(layer)s; it is edited by: %(roles)s", layer=layer_id,
                        roles=", ".join(sorted(editing.EDIT_ROLES[layer_id])))


def _body(members: set[str], *, optional: bool = False) -> dict[str, Any]:
    """The JSON object sent (400 otherwise), refusing members not in `members` by name."""
    if optional and not request.get_data():
        return {}
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object (Content-Type: application/json)")
    unknown = sorted(set(body) - members)
    if unknown:
        raise BadRequest("unknown field(s): %(unknown)s; accepted: %(accepted)s",
                         unknown=", ".join(unknown), accepted=", ".join(sorted(members)))
    return body


def _feature_body(members: set[str]) -> dict[str, Any]:
    body = _body(members)
    if body.get("type", "Feature") != "Feature":
        raise BadRequest("send a GeoJSON Feature")
    return body


def _geometry(body: dict[str, Any], *, required: bool) -> BaseGeometry | None:
    """The Feature's geometry as shapely; malformed GeoJSON is 400 (a wrong type or place is 422 later)."""
    geometry = body.get("geometry")
    if geometry is None and not required:
        return None
    if not isinstance(geometry, dict) or not isinstance(geometry.get("type"), str):
        raise BadRequest("the Feature needs a geometry: a GeoJSON object with a type and coordinates")
    if _numbers(geometry.get("coordinates")) > MAX_VERTICES:
        raise BadRequest("the geometry has more than %(max)s vertices", max=MAX_VERTICES)
    try:
        return shapely.geometry.shape(geometry)
    except Exception as exc:  # shapely raises several types for malformed GeoJSON
        raise BadRequest("the geometry is not valid GeoJSON: %(reason)s", reason=str(exc) or type(exc).__name__
                         ) from None


def _properties(layer_id: str, body: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the fields sent, the read-only properties sent); unknown properties are 400, naming them."""
    props = body.get("properties")
    if props is None:
        props = {}
    if not isinstance(props, dict):
        raise BadRequest("properties must be an object")
    allowed = set(editing.fields(layer_id))
    unknown = sorted(set(props) - allowed - READ_ONLY)
    if unknown:
        raise BadRequest("unknown field(s): %(unknown)s; accepted: %(accepted)s", unknown=", ".join(unknown),
                         accepted=", ".join([*editing.fields(layer_id), *sorted(READ_ONLY)]))
    for key, value in props.items():
        if key in allowed and value is not None and not isinstance(value, (str, int, float)):
            raise BadRequest("%(name)s must be a string, a number, true or false, or null", name=key)
        if isinstance(value, float) and not math.isfinite(value):
            raise BadRequest("%(name)s must be a finite number", name=key)
    return {k: v for k, v in props.items() if k in allowed}, {k: v for k, v in props.items() if k in READ_ONLY}


def _version(value: Any, where: str = "properties.version") -> int:
    if value is None:
        raise BadRequest("%(where)s is required: the version you read, so that no edit is lost", where=where)
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():  # not "²"
        value = int(value)
    return check_version(value) or 0  # never 0: check_version refuses versions below 1


def _same_item(body: dict[str, Any], item_id: int) -> None:
    if body.get("id") is not None and body["id"] != item_id:
        raise BadRequest("the Feature's id %(sent)s is not the item's id %(id)s", sent=repr(body["id"]), id=item_id)


def _same_campus(layer_id: str, item_id: int, extra: dict[str, Any]) -> None:
    if extra.get("campus") is None:
        return
    row = editing.read_item(db.session, layer_id, item_id, g.scope.campus_ids)
    slug = get_campus(db.session, row["campus_id"]).slug
    if extra["campus"] not in (slug, row["campus_id"]):
        raise BadRequest("a feature cannot move to another campus; delete it and create it there")


def _reason(body: dict[str, Any]) -> str | None:
    return check_reason(body.get("reason"), required=False)


def _lonlat(value: Any, name: str) -> tuple[float, float]:
    if (not isinstance(value, list) or len(value) != 2
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in value)):
        raise BadRequest("%(name)s must be [lon, lat]", name=name)
    lon, lat = float(value[0]), float(value[1])
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise BadRequest("%(name)s is out of range: [lon, lat] with lon within ±180 and lat within ±90", name=name)
    return lon, lat


def _pair(value: Any, name: str) -> tuple[int, int]:
    if (not isinstance(value, list) or len(value) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in value)):
        raise BadRequest("%(name)s must be a list of two whole numbers", name=name)
    return value[0], value[1]


# ---------------------------------------------------------------- items


@bp.get("/layers/<layer_id>/items/<int:item_id>")
def read_item(layer_id: str, item_id: int) -> tuple[Response, int]:
    """One feature of an edited layer, with its version: what an edit starts from."""
    _layer(layer_id)
    return _geojson(_item_feature(layer_id, item_id))


@bp.post("/layers/<layer_id>/items")
def create_item(layer_id: str) -> tuple[Response, int]:
    """A new feature: a GeoJSON Feature and "campus" (a slug; may be left out by a user with one campus)."""
    _layer(layer_id)
    body = _feature_body(CREATE_MEMBERS)
    _may_edit(layer_id)
    values, extra = _properties(layer_id, body)
    if "campus" not in body and extra.get("campus") is not None:
        body["campus"] = extra["campus"]
    campus = _campus_for_write(body)
    geometry = _geometry(body, required=True)
    reason = _reason(body)
    campus_id, who = campus.id, actor()
    with write_transaction(db.session):
        written = editing.create_item(db.session, layer_id, get_campus(db.session, campus_id), geometry, values,
                                      actor=who, reason=reason)
    location = url_for("edit_api.read_item", layer_id=layer_id, item_id=written.id)
    return _geojson(_item_feature(layer_id, written.id, **_warnings(written)), 201, {"Location": location})


@bp.put("/layers/<layer_id>/items/<int:item_id>")
def replace_item(layer_id: str, item_id: int) -> tuple[Response, int]:
    """Replace a feature: the whole Feature, with properties.version as read (409 if it moved on)."""
    return _change_item(layer_id, item_id, editing.replace_item, geometry_required=True)


@bp.patch("/layers/<layer_id>/items/<int:item_id>")
def patch_item(layer_id: str, item_id: int) -> tuple[Response, int]:
    """Change some fields and/or the geometry: {"properties": {..., "version": n}, "geometry"?: {...}}."""
    return _change_item(layer_id, item_id, editing.patch_item, geometry_required=False)


def _change_item(layer_id: str, item_id: int, change: Any, *, geometry_required: bool) -> tuple[Response, int]:
    """PUT and PATCH: the same checks in the same order; only the store's change differs."""
    _layer(layer_id)
    editing.read_item(db.session, layer_id, item_id, g.scope.campus_ids)
    _may_edit(layer_id)
    body = _feature_body(FEATURE_MEMBERS)
    _same_item(body, item_id)
    values, extra = _properties(layer_id, body)
    version = _version(extra.get("version"))
    _same_campus(layer_id, item_id, extra)
    geometry = _geometry(body, required=geometry_required)
    reason, who = _reason(body), actor()
    with write_transaction(db.session):
        written = change(db.session, layer_id, item_id, geometry, values, version=version, actor=who,
                         reason=reason, campus_ids=g.scope.campus_ids)
    return _geojson(_item_feature(layer_id, item_id, **_warnings(written)))


@bp.delete("/layers/<layer_id>/items/<int:item_id>")
def delete_item(layer_id: str, item_id: int) -> Response:
    """Delete a feature: ?version=n or {"version": n, "reason"?}; 409 when something refers to it."""
    _layer(layer_id)
    editing.read_item(db.session, layer_id, item_id, g.scope.campus_ids)
    _may_edit(layer_id)
    body = _body(DELETE_MEMBERS, optional=True)
    version = _version(body.get("version", request.args.get("version")), "version")
    reason = check_reason(body.get("reason", request.args.get("reason")), required=False)
    who = actor()
    with write_transaction(db.session):
        audit_id = editing.delete_item(db.session, layer_id, item_id, version=version, actor=who, reason=reason,
                                       campus_ids=g.scope.campus_ids)
    return jsonify({"id": item_id, "layer": layer_id, "deleted": True, "audit_id": audit_id})


# ---------------------------------------------------------------- paths


@bp.post("/layers/paths/items/<int:item_id>/split")
def split_path(item_id: int) -> tuple[Response, int]:
    """Cut a path in two at "at" (snapped onto it): the first piece keeps the id, the second is new."""
    editing.read_item(db.session, "paths", item_id, g.scope.campus_ids)
    _may_edit("paths")
    body = _body(SPLIT_MEMBERS)
    at = _lonlat(body.get("at"), "at")
    version = _version(body.get("version"), "version")
    reason, who = _reason(body), actor()
    with write_transaction(db.session):
        first, second = editing.split_path(db.session, item_id, at, version=version, actor=who, reason=reason,
                                           campus_ids=g.scope.campus_ids)
    rows = [editing.read_item(db.session, "paths", w.id, g.scope.campus_ids) for w in (first, second)]
    body_out = feature_collection([r["id"] for r in rows], [r["geom"] for r in rows],
                                  [editing.item_properties(db.session, "paths", r) for r in rows],
                                  numberMatched=2, numberReturned=2)
    return _geojson(body_out)


@bp.post("/layers/paths/join")
def join_paths() -> tuple[Response, int]:
    """Join two paths that meet end to end: the first keeps its id, fields and direction; the second goes."""
    body = _body(JOIN_MEMBERS)
    _may_edit("paths")
    ids = _pair(body.get("ids"), "ids")
    versions = _pair(body.get("versions"), "versions")
    reason, who = _reason(body), actor()
    with write_transaction(db.session):
        written, _ = editing.join_paths(db.session, ids, versions, actor=who, reason=reason,
                                        campus_ids=g.scope.campus_ids)
    return _geojson(_item_feature("paths", written.id))


# ---------------------------------------------------------------- audit


@bp.post("/audit/<int:entry_id>/revert")
def revert_audit_entry(entry_id: int) -> Response:
    """Undo an audit entry's change (admins): before values back, a create deleted, a delete re-created."""
    body = _body(REVERT_MEMBERS, optional=True)
    reason, who = _reason(body), actor()
    with write_transaction(db.session):
        audit_id, layer_id, feature_id = editing.revert_entry(db.session, entry_id, actor=who, reason=reason,
                                                              campus_ids=g.scope.campus_ids)
    feature = json.loads(_item_feature(layer_id, feature_id)) if feature_id is not None else None
    return jsonify({"reverted": entry_id, "audit_id": audit_id, "layer": layer_id, "feature": feature})


@bp.app_template_global("revertable")
def revertable(entry: dict[str, Any]) -> bool:
    """For the audit page: whether an entry gets a Revert button."""
    return editing.revertable(entry)
