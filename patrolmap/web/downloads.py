"""Per-layer downloads: one campus's layer as GeoJSON, GeoPackage or CSV, and its patrol routes as GPX too.

Layers are written in the import format (patrolmap.exporting: `id` holds the source id, times in
the campus's time zone, CSV in UTF-8 with a BOM so that Excel shows Chinese), so a download
loads back into patrolmap unchanged. What a caller may download is what /api/layers shows them:
their scope's layers and campuses, plates masked and reporters left out where their role requires.
"""

from __future__ import annotations

import datetime as dt
import tempfile
import xml.etree.ElementTree as ET
import zoneinfo
from pathlib import Path

import geopandas as gpd
import pandas as pd
from flask import Blueprint, Response, current_app, g, request

from patrolmap.access import mask_plate
from patrolmap.errors import BadRequest, Forbidden
from patrolmap.exporting import export_frame, write_frame
from patrolmap.extensions import db
from patrolmap.geo.io import EXPORT_ENCODINGS, ReadError
from patrolmap.models import Campus, PatrolRoute
from patrolmap.ogcapi.collections import COLLECTIONS, is_visible, properties
from patrolmap.ogcapi.items import route_properties, routes
from patrolmap.patrolroutes import route_checkpoints
from patrolmap.store import list_campuses
from patrolmap.web.api import _known_layer, scoped_campus
from patrolmap.web.saved_routes_api import GPX_NS, route_gpx

bp = Blueprint("downloads", __name__)

ROUTES = "patrol-routes"
MEDIA_TYPES = {"geojson": "application/geo+json", "gpkg": "application/geopackage+sqlite3",
               "csv": "text/csv; charset=utf-8", "gpx": "application/gpx+xml"}
PARAMETERS = ("format", "campus", "encoding", "chinese")


def _one_campus() -> Campus:
    """The campus asked for (one the caller sees), or the caller's only one: a file holds one campus's ids."""
    key = request.args.get("campus")
    if key:
        return scoped_campus(key)
    campuses = list_campuses(db.session, g.scope.campus_ids)
    if len(campuses) != 1:
        raise BadRequest("campus is required when there are several campuses: campus=%(slugs)s",
                         slugs="|".join(c.slug for c in campuses))
    return campuses[0]


def _file(body: bytes, fmt: str, filename: str) -> Response:
    return Response(body, content_type=MEDIA_TYPES[fmt],
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


def _written(frame: gpd.GeoDataFrame, layer_id: str, fmt: str, *, encoding: str, chinese: bool) -> bytes:
    """The bytes of an export (GeoPackage needs a real file, so every format goes through one)."""
    with tempfile.TemporaryDirectory(prefix="patrolmap-download-") as tmp:
        path = Path(tmp) / f"{layer_id}.{fmt}"
        try:
            write_frame(frame, path, layer_id, fmt=fmt, encoding=encoding, chinese=chinese)
        except ReadError as exc:  # a character the chosen encoding cannot hold
            raise BadRequest("%(reason)s", reason=str(exc)) from None
        return path.read_bytes()


def _masked(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Plates masked and reporters left out, as the layer API shows them to roles that must not see them."""
    if g.scope.personal_data or "plate" not in frame.columns:
        return frame
    frame = frame.drop(columns=["reporter"], errors="ignore")
    frame["plate"] = [mask_plate(p) if isinstance(p, str) else p for p in frame["plate"]]
    return frame


def _route_frame(chosen: list[PatrolRoute], campus: Campus) -> gpd.GeoDataFrame:
    zone = zoneinfo.ZoneInfo(campus.timezone)
    columns = ["id", *(p.name for p in properties(COLLECTIONS[ROUTES], g.scope))]
    table = pd.DataFrame([{"id": r.id, **route_properties(r, zone)} for r in chosen], columns=columns)
    return gpd.GeoDataFrame(table, geometry=[r.geom for r in chosen], crs="EPSG:4326")


def routes_gpx(chosen: list[PatrolRoute], campus: Campus) -> bytes:
    """Every route's GPX (patrolmap.web.saved_routes_api.route_gpx) in one file: per team a route and a track."""
    ET.register_namespace("", GPX_NS)
    root = ET.Element(f"{{{GPX_NS}}}gpx", {"version": "1.1", "creator": "patrolmap"})
    metadata = ET.SubElement(root, f"{{{GPX_NS}}}metadata")
    ET.SubElement(metadata, f"{{{GPX_NS}}}name").text = campus.name
    ET.SubElement(metadata, f"{{{GPX_NS}}}time").text = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    parts: dict[str, list[ET.Element]] = {"rte": [], "trk": []}
    for route in chosen:
        single = ET.fromstring(route_gpx(route, campus, route_checkpoints(db.session, route)))
        for child in single:
            tag = child.tag.rsplit("}", 1)[-1]
            if tag in parts:  # waypoints are each route's numbered stops; the routes' points carry them here
                parts[tag].append(child)
    root.extend(parts["rte"] + parts["trk"])  # GPX 1.1 orders them: metadata, wpt, rte, trk
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


@bp.get("/api/layers/<layer_id>/download")
def download_layer(layer_id: str) -> Response:
    """?format=geojson (default) | gpkg | csv | gpx (patrol routes); ?campus= when the caller sees several;
    CSV also takes encoding=utf-8-sig (default) | utf-8 | gbk and chinese=true (Chinese headers and values)."""
    for name in request.args:
        if name not in PARAMETERS:
            raise BadRequest("unknown parameter %(name)s; accepted: %(accepted)s", name=repr(name),
                             accepted=", ".join(PARAMETERS))
    fmt = request.args.get("format", "geojson").lower()
    if fmt not in MEDIA_TYPES:
        raise BadRequest("format must be one of %(formats)s", formats=", ".join(MEDIA_TYPES))
    encoding = request.args.get("encoding", "utf-8-sig").lower()
    if encoding not in EXPORT_ENCODINGS:
        raise BadRequest("encoding must be one of %(encodings)s", encodings=", ".join(EXPORT_ENCODINGS))
    chinese = request.args.get("chinese", "false").lower()
    if chinese not in ("true", "false", "1", "0"):
        raise BadRequest("chinese must be true or false")
    if layer_id == ROUTES:
        user = g.get("user")
        if not is_visible(COLLECTIONS[ROUTES], g.scope, user.role_set if user else None,
                          public_view=bool(current_app.config["PUBLIC_VIEW"])):
            raise Forbidden("your role may not do this")
    else:
        _known_layer(layer_id)
        if fmt == "gpx":
            raise BadRequest("GPX is for patrol routes; download %(layer)s as geojson, gpkg or csv", layer=layer_id)
    campus = _one_campus()
    filename = f"{campus.slug}-{layer_id}.{fmt}"
    if layer_id == ROUTES:
        chosen = routes(campus.id)
        if fmt == "gpx":
            return _file(routes_gpx(chosen, campus), fmt, filename)
        frame = _route_frame(chosen, campus)
    else:
        frame = _masked(export_frame(db.session, layer_id, campus))
    body = _written(frame, layer_id, fmt, encoding=encoding, chinese=chinese in ("true", "1"))
    return _file(body, fmt, filename)
