"""JSON and GeoJSON API: thin adapters over the store."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request

from patrolmap.errors import NotFound
from patrolmap.extensions import db
from patrolmap.geojson import feature_collection
from patrolmap.layers import LAYERS, UnknownLayer, get_layer
from patrolmap.store import count_features, get_campus, list_campuses, query_features
from patrolmap.web.params import parse_bbox, parse_int

bp = Blueprint("api", __name__, url_prefix="/api")


def _properties(row: dict[str, Any]) -> dict[str, Any]:
    props = {k: v for k, v in row.items() if k not in ("geom", "id")}
    for key, value in props.items():
        if hasattr(value, "isoformat"):
            props[key] = value.isoformat()
    return props


@bp.get("/campuses")
def campuses() -> Response:
    return jsonify([
        {"id": c.id, "slug": c.slug, "name": c.name, "timezone": c.timezone, "university": c.university}
        for c in list_campuses(db.session)
    ])


@bp.get("/layers")
def layers() -> Response:
    return jsonify([{"id": layer.id, "title": layer.title} for layer in LAYERS.values()])


@bp.get("/layers/<layer_id>")
def layer_features(layer_id: str) -> Response:
    """Features of a layer as an RFC 7946 FeatureCollection, limited to a bbox and a page."""
    try:
        get_layer(layer_id)
    except UnknownLayer as exc:
        raise NotFound(exc.args[0]) from None
    bbox = parse_bbox(request.args.get("bbox"))
    limit = parse_int("limit", request.args.get("limit"), default=current_app.config["API_DEFAULT_LIMIT"],
                      minimum=1, maximum=current_app.config["API_MAX_LIMIT"])
    offset = parse_int("offset", request.args.get("offset"), default=0, minimum=0, maximum=10**9)
    campus_key = request.args.get("campus")
    campus_id = get_campus(db.session, campus_key).id if campus_key else None
    rows = query_features(db.session, layer_id, campus_id=campus_id, bbox=bbox, limit=limit, offset=offset)
    matched = (offset + len(rows) if len(rows) < limit
               else count_features(db.session, layer_id, campus_id=campus_id, bbox=bbox))
    body = feature_collection(
        [r["id"] for r in rows], [r["geom"] for r in rows], [_properties(r) for r in rows],
        numberMatched=matched, numberReturned=len(rows),
    )
    return Response(body, mimetype="application/geo+json")
