"""Saving duty posts from the map (a suggestion accepted, or a post placed by hand)."""

from __future__ import annotations

import uuid
from typing import Any

import shapely
from flask import Blueprint, Response, request

from patrolmap.database import write_transaction
from patrolmap.errors import BadRequest
from patrolmap.extensions import db
from patrolmap.geo.validate import RawFeature, ValidationError, validate_layer
from patrolmap.geojson import feature_collection
from patrolmap.importing import as_http_error
from patrolmap.layers import get_layer
from patrolmap.models import AuditEntry, DutyPost
from patrolmap.store import campus_extent, frame_to_rows, get_campus, query_features
from patrolmap.web.api import actor, scoped_campus

bp = Blueprint("dutyposts", __name__, url_prefix="/api")
MAX_POSTS = 50
FIELDS = {"name", "hours"}


def _raw_posts(body: Any) -> list[RawFeature]:
    """The posts of a FeatureCollection of Points; anything else is refused whole."""
    if not isinstance(body, dict) or body.get("type") != "FeatureCollection" or not isinstance(
            body.get("features"), list):
        raise BadRequest("send a GeoJSON FeatureCollection of Point features")
    features = body["features"]
    if not features or len(features) > MAX_POSTS:
        raise BadRequest("send between 1 and %(max)s duty posts at once", max=MAX_POSTS)
    raws = []
    for index, feature in enumerate(features):
        geometry = feature.get("geometry") if isinstance(feature, dict) else None
        coords = geometry.get("coordinates") if isinstance(geometry, dict) else None
        if (not isinstance(geometry, dict) or geometry.get("type") != "Point" or not isinstance(coords, list)
                or len(coords) != 2 or not all(isinstance(c, (int, float)) and not isinstance(c, bool)
                                               for c in coords)):
            raise BadRequest("feature %(index)s: the geometry must be a Point [lon, lat]", index=index)
        props = feature.get("properties") or {}
        if not isinstance(props, dict):
            raise BadRequest("feature %(index)s: properties must be an object", index=index)
        unknown = sorted(set(props) - FIELDS)
        if unknown:
            raise BadRequest("unknown field(s): %(unknown)s; accepted: %(accepted)s", unknown=", ".join(unknown),
                             accepted=", ".join(sorted(FIELDS)))
        raws.append(RawFeature(index, f"api:{uuid.uuid4().hex}", shapely.Point(*coords), props))
    return raws


@bp.post("/duty-posts")
def create_duty_posts() -> tuple[Response, int]:
    """Store duty posts (all or none), each recorded in the audit log."""
    body = request.get_json(silent=True)
    campus_key = (body or {}).get("campus") if isinstance(body, dict) else None
    if not isinstance(campus_key, (str, int)) or isinstance(campus_key, bool):
        raise BadRequest("campus is required (a slug or an id)")
    campus = scoped_campus(campus_key)
    raws = _raw_posts(body)
    try:
        checked = validate_layer("duty-posts", raws, timezone=campus.timezone,
                                 reference=campus_extent(db.session, campus))
    except ValidationError as exc:
        raise as_http_error(exc) from None
    campus_id = campus.id
    who = actor()
    with write_transaction(db.session):
        campus = get_campus(db.session, campus_id)
        rows = frame_to_rows(db.session, get_layer("duty-posts"), campus, checked.frame)
        posts = [DutyPost(campus_id=campus_id, **row) for row in rows]
        db.session.add_all(posts)
        db.session.flush()
        for post, row in zip(posts, rows, strict=True):
            db.session.add(AuditEntry(actor=who, action="create", layer="duty-posts", feature_id=post.id,
                                      campus_id=campus_id, after={"name": row["name"], "hours": row["hours"],
                                                                  "lon": post.geom.x, "lat": post.geom.y},
                                      reason="duty post placed from the map"))
        ids = [p.id for p in posts]
    stored = query_features(db.session, "duty-posts", ids=ids)
    body_out = feature_collection([r["id"] for r in stored], [r["geom"] for r in stored],
                                  [{"name": r["name"], "hours": r["hours"], "campus": r["campus_id"]} for r in stored],
                                  numberMatched=len(stored), numberReturned=len(stored))
    return Response(body_out, mimetype="application/geo+json"), 201
