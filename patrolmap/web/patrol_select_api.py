"""Picking patrol stops by kind and grid zone: "all dorms in zones 3-5", "all canteens".

GET /api/routes/candidates answers the buildings chosen (each with the point of the walk
network where it is visited) and the stored checkpoints chosen, so the patrol page can add
them to a plan in one go. A building farther than the snapping distance from every path is
listed with `visit: null` and the reason, never left out.
"""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from flask import Blueprint, Response, jsonify, request
from flask_babel import gettext
from sqlalchemy import select

from patrolmap.errors import BadRequest
from patrolmap.extensions import db
from patrolmap.geo.kinds import KINDS
from patrolmap.models import Building, Campus, GridZone
from patrolmap.routing.coverage import visit_points
from patrolmap.routing.network import SNAP_DISTANCE_M
from patrolmap.store import layer_frame
from patrolmap.web.analysis_api import _one_campus
from patrolmap.web.unreachable import NO_NETWORK_FOR_MODE, too_far

bp = Blueprint("patrol_select", __name__, url_prefix="/api")
MAX_ZONES = 200


def _kinds(text: str | None) -> list[str] | None:
    if text is None or not text.strip():
        return None
    kinds = list(dict.fromkeys(k.strip() for k in text.split(",") if k.strip()))
    unknown = [k for k in kinds if k not in KINDS]
    if unknown:
        raise BadRequest("unknown building kind(s): %(unknown)s; kinds are %(kinds)s",
                         unknown=", ".join(unknown[:20]), kinds=", ".join(KINDS))
    return kinds


def _zone_ids(text: str | None) -> list[int] | None:
    """Zone ids as "3,4,5" or "3-5" (or both: "1,3-5")."""
    if text is None or not text.strip():
        return None
    ids: list[int] = []
    for part in (p.strip() for p in text.split(",")):
        low, dash, high = part.partition("-")
        try:
            first, last = int(low), int(high) if dash else int(low)
        except ValueError:
            raise BadRequest("zones must be grid zone ids such as 3,4,5 or 3-5, got %(text)s",
                             text=repr(part)) from None
        if first > last or last - first >= MAX_ZONES:
            raise BadRequest("zones: %(text)s is not a range of at most %(max)s ids", text=repr(part), max=MAX_ZONES)
        ids.extend(range(first, last + 1))
    ids = list(dict.fromkeys(ids))
    if len(ids) > MAX_ZONES:
        raise BadRequest("zones: at most %(max)s grid zones at once", max=MAX_ZONES)
    return ids


def _zone_of(points: list[Any], zones: gpd.GeoDataFrame) -> list[int | None]:
    """The id of the (first) zone holding each point, or None."""
    out: list[int | None] = [None] * len(points)
    if not len(points) or zones.empty:
        return out
    tree = shapely.STRtree(list(zones.geometry))
    hits = tree.query(np.asarray(points, dtype=object), predicate="within")
    ids = zones["id"].to_numpy()
    for point_index, zone_index in sorted(zip(*hits, strict=True)):
        if out[point_index] is None:
            out[point_index] = int(ids[zone_index])
    return out


def _buildings(campus: Campus, zones: gpd.GeoDataFrame, kinds: list[str] | None, zone_ids: list[int] | None,
               mode: str) -> list[dict[str, Any]]:
    from patrolmap.web.routes_api import campus_network

    frame = layer_frame(db.session, "buildings", campus_id=campus.id)
    if frame.empty:
        return []
    assigned = dict(db.session.execute(select(Building.id, Building.grid_zone_id).where(
        Building.campus_id == campus.id, Building.grid_zone_id.is_not(None))).tuples().all())
    inside = _zone_of(list(shapely.point_on_surface(frame.geometry.to_numpy())), zones)
    frame = frame.assign(zone=[assigned.get(int(i), z) for i, z in zip(frame["id"], inside, strict=True)])
    chosen = np.ones(len(frame), dtype=bool)
    if kinds is not None:
        chosen &= frame["kind"].isin(kinds).to_numpy()
    if zone_ids is not None:
        chosen &= frame["zone"].isin(zone_ids).to_numpy()
    frame = frame[chosen]
    if frame.empty:
        return []
    network = campus_network(campus, mode)
    visits = visit_points(network, list(frame.geometry))
    out = []
    for row, visit in zip(frame.itertuples(index=False), visits, strict=True):
        name = row.name if isinstance(row.name, str) and row.name else row.name_en
        reason = None
        if visit.lonlat is None:
            reason = (gettext(NO_NETWORK_FOR_MODE) if visit.distance_m is None
                      else too_far(SNAP_DISTANCE_M, visit.distance_m))
        out.append({
            "id": int(row.id), "name": name if isinstance(name, str) else None, "kind": row.kind,
            "zone": None if row.zone is None or row.zone != row.zone else int(row.zone),
            "visit": None if visit.lonlat is None else [round(visit.lonlat[0], 7), round(visit.lonlat[1], 7)],
            "distance_m": None if visit.distance_m is None else round(visit.distance_m, 1), "reason": reason,
        })
    return out


def _checkpoints(campus: Campus, zones: gpd.GeoDataFrame, kinds: list[str] | None,
                 zone_ids: list[int] | None) -> list[dict[str, Any]]:
    frame = layer_frame(db.session, "checkpoints", campus_id=campus.id)
    if frame.empty:
        return []
    frame = frame.assign(zone=_zone_of(list(frame.geometry), zones))
    chosen = np.ones(len(frame), dtype=bool)
    if kinds is not None:
        chosen &= frame["kind"].isin(kinds).to_numpy()
    if zone_ids is not None:
        chosen &= frame["zone"].isin(zone_ids).to_numpy()
    return [{"id": int(row.id), "name": row.name, "kind": row.kind if isinstance(row.kind, str) else None,
             "zone": None if row.zone is None or row.zone != row.zone else int(row.zone),
             "lon": round(row.geometry.x, 7), "lat": round(row.geometry.y, 7)}
            for row in frame[chosen].itertuples(index=False)]


@bp.get("/routes/candidates")
def candidates() -> Response:
    """Buildings (with their visit point on the network) and checkpoints of the given kinds and/or zones.

    kinds=dorm,canteen selects by kind, zones=3,4,5 (or 3-5) by grid zone id (Building.grid_zone_id,
    else the zone holding the building); both together select the buildings of those kinds in those
    zones. Checkpoints are selected the same way, by their own kind and the zone they stand in.
    """
    kinds = _kinds(request.args.get("kinds"))
    zone_ids = _zone_ids(request.args.get("zones"))
    mode = request.args.get("mode") or "walk"
    if mode not in ("walk", "drive"):
        raise BadRequest("mode must be walk or drive")
    campus = _one_campus(request.args.get("campus"))
    if kinds is None and zone_ids is None:
        raise BadRequest("give kinds, zones or both: e.g. kinds=dorm,canteen&zones=3,4,5")
    zones = layer_frame(db.session, "grid-zones", campus_id=campus.id)
    if zone_ids is not None:
        known = set(db.session.scalars(select(GridZone.id).where(GridZone.campus_id == campus.id,
                                                                  GridZone.id.in_(zone_ids))))
        unknown = [z for z in zone_ids if z not in known]
        if unknown:
            raise BadRequest("unknown grid zone id(s) on this campus: %(ids)s",
                             ids=", ".join(map(str, unknown[:20])))
    chosen_zones = zones if zone_ids is None else zones[zones["id"].isin(zone_ids)]
    return jsonify({
        "campus": campus.slug, "mode": mode, "kinds": kinds,
        "zones": None if zone_ids is None else [{"id": int(i), "name": n} for i, n in
                                                zip(chosen_zones["id"], chosen_zones["name"], strict=True)],
        "snap_distance_m": SNAP_DISTANCE_M,
        "buildings": _buildings(campus, zones, kinds, zone_ids, mode),
        "checkpoints": _checkpoints(campus, zones, kinds, zone_ids),
    })
