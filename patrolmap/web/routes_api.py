"""Planning patrol routes: checkpoints in, closed tours along the campus path network out.

The network of a campus is built once per mode and kept until its paths change, so a
patrol lead trying variants gets each answer in well under a second.
"""

from __future__ import annotations

import dataclasses
import math
import threading
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
from flask import Blueprint, Response, current_app
from sqlalchemy import func, select

from patrolmap.errors import BadRequest
from patrolmap.extensions import db
from patrolmap.geojson import feature_collection
from patrolmap.models import Campus, Checkpoint, PathSegment
from patrolmap.routing.coverage import DEFAULT_NEAR_M, MAX_NEAR_M, route_coverage
from patrolmap.routing.network import SNAP_DISTANCE_M, RoutingError, RoutingNetwork, build_network
from patrolmap.routing.teams import TeamPlan, plan_teams
from patrolmap.store import layer_frame
from patrolmap.web.api import _campus_for_write, _json_body
from patrolmap.web.unreachable import reason_text

bp = Blueprint("routes", __name__, url_prefix="/api")
# hotspots: also visit the current violation hotspots; near_m: what counts as passed in "coverage".
PLAN_FIELDS = {"campus", "checkpoints", "start", "teams", "mode", "max_minutes", "hotspots", "near_m"}
MAX_CHECKPOINTS = 300
MAX_TEAMS = 20

_networks: dict[tuple[int, str], tuple[tuple[Any, ...], RoutingNetwork]] = {}
_networks_lock = threading.Lock()


def campus_network(campus: Campus, mode: str) -> RoutingNetwork:
    """The campus's routing network for a mode, rebuilt only when its paths have changed."""
    signature = tuple(db.session.execute(
        select(func.count(PathSegment.id), func.max(PathSegment.id), func.max(PathSegment.updated_at),
               func.sum(PathSegment.version)).where(PathSegment.campus_id == campus.id)).one())
    key = (campus.id, mode)
    with _networks_lock:
        cached = _networks.get(key)
        if cached and cached[0] == signature:
            return cached[1]
    paths = layer_frame(db.session, "paths", campus_id=campus.id)
    if paths.empty:
        raise BadRequest("campus %(campus)s has no path network to route on", campus=campus.slug)
    network = build_network(paths, mode)  # type: ignore[arg-type]
    with _networks_lock:
        _networks[key] = (signature, network)
    return network


def _lonlat(value: Any, what: str) -> tuple[float, float]:
    if (not isinstance(value, list) or len(value) != 2
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in value)):
        raise BadRequest("%(what)s must be a checkpoint id or [lon, lat]", what=what)
    lon, lat = float(value[0]), float(value[1])
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise BadRequest("%(what)s is out of range: [lon, lat] with lon within ±180 and lat within ±90", what=what)
    return lon, lat


def _checkpoint_points(campus: Campus, ids: list[int]) -> dict[int, tuple[float, float]]:
    rows = db.session.execute(select(Checkpoint.id, Checkpoint.geom).where(
        Checkpoint.campus_id == campus.id, Checkpoint.id.in_(ids))).all()
    found = {row_id: (geom.x, geom.y) for row_id, geom in rows}
    unknown = [i for i in ids if i not in found]
    if unknown:
        raise BadRequest("unknown checkpoint id(s) on this campus: %(ids)s", ids=", ".join(map(str, unknown[:20])))
    return found


@dataclass
class PlanRequest:
    """A validated planning request: where to go, from where, how many teams, and how."""

    campus: Campus
    checkpoints: list[Any]  # as given: all checkpoint ids, or all [lon, lat] points
    by_id: bool
    points: list[tuple[float, float]]
    start: tuple[float, float]
    start_id: int | None
    teams: int
    mode: str
    max_minutes: float | None
    speed_m_per_min: float
    # Stops added by the server after the given checkpoints (hotspots), named by these strings.
    extra_names: list[str] = field(default_factory=list)

    def name(self, index: int) -> Any:
        """How a stop is named in answers: its checkpoint id, its index in the input list, or an added stop's name."""
        if index >= len(self.checkpoints):
            return self.extra_names[index - len(self.checkpoints)]
        return self.checkpoints[index] if self.by_id else index


def parse_plan_request(body: dict[str, Any], campus: Campus) -> PlanRequest:
    """Check a planning body (the fields of PLAN_FIELDS) and resolve checkpoint ids on the campus."""
    checkpoints = body.get("checkpoints")
    if not isinstance(checkpoints, list) or not checkpoints:
        raise BadRequest("checkpoints must be a non-empty list of checkpoint ids or [lon, lat] points")
    if len(checkpoints) > MAX_CHECKPOINTS:
        raise BadRequest("at most %(max)s checkpoints per plan, got %(count)s", max=MAX_CHECKPOINTS,
                         count=len(checkpoints))
    by_id = all(isinstance(c, int) and not isinstance(c, bool) for c in checkpoints)
    if by_id and len(set(checkpoints)) != len(checkpoints):
        raise BadRequest("a checkpoint id is listed twice")
    teams = body.get("teams", 1)
    if isinstance(teams, bool) or not isinstance(teams, int) or not 1 <= teams <= MAX_TEAMS:
        raise BadRequest("teams must be a whole number from 1 to %(max)s", max=MAX_TEAMS)
    mode = body.get("mode", "walk")
    if mode not in ("walk", "drive"):
        raise BadRequest("mode must be walk or drive")
    max_minutes = body.get("max_minutes")
    if max_minutes is not None and (isinstance(max_minutes, bool) or not isinstance(max_minutes, (int, float))
                                    or not 0 < max_minutes <= 24 * 60):
        raise BadRequest("max_minutes must be a number of minutes from 1 to 1440, or null")
    start_value = body.get("start")
    if start_value is None:
        raise BadRequest("start is required: a checkpoint id or [lon, lat]")
    start_id = start_value if isinstance(start_value, int) and not isinstance(start_value, bool) else None
    ids_needed = [c for c in checkpoints if by_id] + ([start_id] if start_id is not None else [])
    known = _checkpoint_points(campus, ids_needed) if ids_needed else {}
    points = [known[c] for c in checkpoints] if by_id else [_lonlat(c, "each checkpoint") for c in checkpoints]
    start = known[start_id] if start_id is not None else _lonlat(start_value, "start")
    speed = current_app.config["DRIVE_SPEED_M_PER_MIN" if mode == "drive" else "WALK_SPEED_M_PER_MIN"]
    return PlanRequest(campus, checkpoints, by_id, points, start, start_id, teams, mode,
                       None if max_minutes is None else float(max_minutes), float(speed))


def run_plan(req: PlanRequest) -> TeamPlan:
    """Plan the request on the campus's network; a start off the network is the caller's mistake (400)."""
    network = campus_network(req.campus, req.mode)
    try:
        return plan_teams(network, req.start, req.points, req.teams, speed_m_per_min=req.speed_m_per_min,
                          max_minutes=req.max_minutes)
    except RoutingError:
        # The one routing error a request can cause; said here so that it is said in the caller's language.
        raise BadRequest("the start cannot be used: it is farther than %(max)s m from the path network",
                         max=f"{SNAP_DISTANCE_M:.0f}") from None


def plan_collection(req: PlanRequest, plan: TeamPlan, **extra: Any) -> str:
    """The plan as the documented GeoJSON FeatureCollection (one LineString per team with a route)."""
    routes = [r for r in plan.routes if r.geometry is not None]
    return feature_collection(
        [r.team for r in routes], [r.geometry for r in routes],
        [{"team": r.team, "order": [req.name(i) for i in r.order], "length_m": round(r.length_m, 1),
          "duration_min": round(r.duration_min, 1), "legs_m": [round(x, 1) for x in r.legs_m]} for r in routes],
        numberMatched=len(routes), numberReturned=len(routes), mode=req.mode, speed_m_per_min=req.speed_m_per_min,
        snap_distance_m=SNAP_DISTANCE_M,
        unreachable=[{"checkpoint": req.name(u.index), "reason": reason_text(u.reason),
                      "distance_m": None if u.distance_m is None else round(u.distance_m, 1)}
                     for u in plan.unreachable],
        not_fitted=[req.name(i) for i in plan.not_fitted],
        **extra,
    )


def current_hotspots(campus: Campus) -> gpd.GeoDataFrame:
    """The campus's hotspots a patrol may be sent past: the computed ones and the marked ones.

    Computed: the top hot cells (Gi*, 90 % confidence or more) of the hotspot API's default
    window (every live violation, 50 m cells), exactly the list /violations shows. Marked: the
    live polygons of the "hotspots" layer. Each has a `stop` name used in plan answers
    ("hotspot:q,r" or "marked:id"), where it is visited (its centre; planning snaps it onto the
    network) and its area (the hexagon, or the marked polygon) for coverage.
    """
    from patrolmap.analysis.hotspots import DEFAULT_CELL_M
    from patrolmap.analysis.timewindow import TimeFilter
    from patrolmap.web.analysis_api import _calendar, _hotspots, _violations

    rows: list[dict[str, Any]] = []
    geoms: list[Any] = []
    table = _violations(campus.id, TimeFilter(), _calendar(), ["lon", "lat", "local_hour"])
    if len(table):
        result = _hotspots(campus, table, DEFAULT_CELL_M)
        for top in result.top:
            geoms.append(result.grid.polygons_lonlat(np.array([top["q"]]), np.array([top["r"]]))[0])
            key = f"{top['q']},{top['r']}"
            rows.append({"stop": f"hotspot:{key}", "source": "computed", "id": None, "key": key, "name": None,
                         "building": top.get("building"), "count": top["count"], "lon": round(top["lon"], 7),
                         "lat": round(top["lat"], 7)})
    marked = layer_frame(db.session, "hotspots", campus_id=campus.id)
    for hotspot_id, name, geom in zip(marked["id"], marked["name"], marked.geometry, strict=True):
        centre = geom.centroid if geom.centroid.within(geom) else geom.representative_point()
        geoms.append(geom)
        rows.append({"stop": f"marked:{int(hotspot_id)}", "source": "marked", "id": int(hotspot_id), "key": None,
                     "name": name, "building": None, "count": None, "lon": round(centre.x, 7),
                     "lat": round(centre.y, 7)})
    columns = ["stop", "source", "id", "key", "name", "building", "count", "lon", "lat"]
    return gpd.GeoDataFrame(rows, columns=columns, geometry=geoms, crs="EPSG:4326")


def _near_m(body: dict[str, Any]) -> float:
    value = body.get("near_m", DEFAULT_NEAR_M)
    if (isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value)
            or not 0 <= value <= MAX_NEAR_M):
        raise BadRequest("near_m must be a number of metres from 0 to %(max)s", max=int(MAX_NEAR_M))
    return float(value)


def plan_coverage(req: PlanRequest, plan: TeamPlan, near_m: float,
                  hotspots: gpd.GeoDataFrame | None = None) -> dict[str, Any]:
    """Grid zones and buildings the routes pass within near_m, and which hotspots they cover."""
    return routes_coverage(req.campus, {r.team: r.geometry for r in plan.routes}, near_m, hotspots)


def routes_coverage(campus: Campus, routes: dict[int, Any], near_m: float = DEFAULT_NEAR_M,
                    hotspots: gpd.GeoDataFrame | None = None) -> dict[str, Any]:
    """What tours pass within near_m of, against the campus as it is now (a saved route's too)."""
    zones = layer_frame(db.session, "grid-zones", campus_id=campus.id)
    buildings = layer_frame(db.session, "buildings", campus_id=campus.id)
    if len(buildings):
        named = buildings["name"].where(buildings["name"].notna(), buildings["name_en"])
        buildings = buildings.assign(name=named.astype(object).where(named.notna(), None))
    if hotspots is None:
        hotspots = current_hotspots(campus)
    found = route_coverage(routes, near_m=near_m, zones=zones, buildings=buildings,
                           hotspots=hotspots)
    found["near_m"] = near_m if not float(near_m).is_integer() else int(near_m)
    return found


@bp.post("/routes/plan")
def plan_route() -> Response:
    """One closed tour per team; `order` holds checkpoint ids (or input indices for [lon, lat] points).

    With "hotspots": true the current hotspots (current_hotspots) are added as stops, named
    "hotspot:q,r" or "marked:id" in order, unreachable and not_fitted. Every answer says what
    the routes pass within "near_m" metres (default 50) under "coverage".
    """
    body = _json_body(PLAN_FIELDS)
    want_hotspots = body.get("hotspots", False)
    if not isinstance(want_hotspots, bool):
        raise BadRequest("hotspots must be true or false")
    near_m = _near_m(body)
    req = parse_plan_request(body, _campus_for_write(body))
    hotspots = current_hotspots(req.campus)
    if want_hotspots and len(hotspots):
        req = dataclasses.replace(
            req, points=[*req.points, *zip(hotspots["lon"].astype(float), hotspots["lat"].astype(float), strict=True)],
            extra_names=list(hotspots["stop"]))
    plan = run_plan(req)
    coverage = plan_coverage(req, plan, near_m, hotspots)
    return Response(plan_collection(req, plan, coverage=coverage), mimetype="application/geo+json")
