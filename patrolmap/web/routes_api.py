"""Planning patrol routes: checkpoints in, closed tours along the campus path network out.

The network of a campus is built once per mode and kept until its paths change, so a
patrol lead trying variants gets each answer in well under a second.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Response, current_app
from sqlalchemy import func, select

from patrolmap.errors import BadRequest
from patrolmap.extensions import db
from patrolmap.geojson import feature_collection
from patrolmap.models import Campus, Checkpoint, PathSegment
from patrolmap.routing.network import SNAP_DISTANCE_M, RoutingError, RoutingNetwork, build_network
from patrolmap.routing.teams import TeamPlan, plan_teams
from patrolmap.store import layer_frame
from patrolmap.web.api import _campus_for_write, _json_body

bp = Blueprint("routes", __name__, url_prefix="/api")
PLAN_FIELDS = {"campus", "checkpoints", "start", "teams", "mode", "max_minutes"}
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

    def name(self, index: int) -> Any:
        """How a checkpoint is named in answers: its id, or its index in the input list."""
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
    except RoutingError as exc:
        raise BadRequest("the start cannot be used: %(reason)s", reason=str(exc)) from None


def plan_collection(req: PlanRequest, plan: TeamPlan, **extra: Any) -> str:
    """The plan as the documented GeoJSON FeatureCollection (one LineString per team with a route)."""
    routes = [r for r in plan.routes if r.geometry is not None]
    return feature_collection(
        [r.team for r in routes], [r.geometry for r in routes],
        [{"team": r.team, "order": [req.name(i) for i in r.order], "length_m": round(r.length_m, 1),
          "duration_min": round(r.duration_min, 1), "legs_m": [round(x, 1) for x in r.legs_m]} for r in routes],
        numberMatched=len(routes), numberReturned=len(routes), mode=req.mode, speed_m_per_min=req.speed_m_per_min,
        snap_distance_m=SNAP_DISTANCE_M,
        unreachable=[{"checkpoint": req.name(u.index), "reason": u.reason,
                      "distance_m": None if u.distance_m is None else round(u.distance_m, 1)}
                     for u in plan.unreachable],
        not_fitted=[req.name(i) for i in plan.not_fitted],
        **extra,
    )


@bp.post("/routes/plan")
def plan_route() -> Response:
    """One closed tour per team; `order` holds checkpoint ids (or input indices for [lon, lat] points)."""
    body = _json_body(PLAN_FIELDS)
    req = parse_plan_request(body, _campus_for_write(body))
    return Response(plan_collection(req, run_plan(req)), mimetype="application/geo+json")
