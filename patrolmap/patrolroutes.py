"""Saved patrol routes: a plan kept with its shift, so that officers walk it and check in on it.

Why a module of its own: the web layer validates the request and plans it (patrolmap.web.routes_api,
which never trusts a client's geometry); this module turns that plan into stored rows and back into
the documented answer, inside the caller's transaction, with an audit entry (layer "patrol_routes")
for every write. It knows nothing of Flask requests.

Every stop of a saved route is a stored checkpoint: a point picked freely on the map becomes a new
Checkpoint (kind "patrol_point", source id "route:<uuid>") when the route is saved, so QR plaques
and check-ins always name a checkpoint id.

The stored plan (PatrolRoute.plan) is the planner's answer with checkpoint ids for its indices::

    {"routes": [{"team", "order": [checkpoint ids], "length_m", "duration_min", "legs_m"}],
     "unreachable": [{"checkpoint", "reason", "distance_m"}], "not_fitted": [checkpoint ids],
     "snap_distance_m"}

`routes` holds the teams that have a tour, in team order, one per part of `geom` (a
MultiLineString in lon/lat); lengths are rounded to 0.1 m as POST /api/routes/plan answers them,
and `length_m` of the route is the sum of its teams' lengths.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import uuid
import zoneinfo
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import shapely
from shapely.geometry.base import BaseGeometry
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from patrolmap.errors import BadRequest, Conflict, NotFound
from patrolmap.geo.validate import MAX_DISTANCE_FROM_CAMPUS_KM
from patrolmap.geojson import feature_collection
from patrolmap.models import AuditEntry, Campus, Checkpoint, PatrolRoute, utcnow
from patrolmap.routing.network import SNAP_DISTANCE_M

if TYPE_CHECKING:
    from patrolmap.routing.teams import TeamPlan
    from patrolmap.web.routes_api import PlanRequest

LAYER = "patrol_routes"
POINT_KIND = "patrol_point"
NAME_MAX = 200
NOTE_MAX = 2000
ALL_DAYS = [1, 2, 3, 4, 5, 6, 7]
SETTING_FIELDS = ("name", "shift", "checkin_radius_m", "late_after_min", "note")
PLAN_FIELDS = ("checkpoints", "start", "teams", "mode", "max_minutes")
SHIFT_FIELDS = {"start", "end", "days", "visits"}
POINT_FIELDS = {"name", "lon", "lat"}
DEFAULTS: dict[str, Any] = {"shift_start": None, "shift_end": None, "shift_days": ALL_DAYS, "visits_per_shift": 1,
                            "checkin_radius_m": 30.0, "late_after_min": 15.0, "note": None}
_TIME = re.compile(r"([01]\d|2[0-3]):[0-5]\d")
# Characters XML 1.0 cannot hold at all; a name carrying one would make an export unreadable.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


@dataclass(frozen=True)
class FreePoint:
    """A stop picked on the map rather than from the stored checkpoints: stored as one on save."""

    name: str
    lon: float
    lat: float


Stop = int | FreePoint


# ---------------------------------------------------------------- validation


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def check_name(value: Any, field: str = "name") -> str:
    """A display name: text of 1 to 200 characters once trimmed, without control characters."""
    text = value.strip() if isinstance(value, str) else ""
    if not text or len(text) > NAME_MAX:
        raise BadRequest("%(field)s is required: text of 1 to %(max)s characters", field=field, max=NAME_MAX)
    if _CONTROL.search(text):
        raise BadRequest("%(field)s must not contain control characters", field=field)
    return text


def _bounded(value: Any, field: str, low: float, high: float) -> float:
    if not _is_number(value) or not low <= value <= high:
        raise BadRequest("%(field)s must be a number from %(low)s to %(high)s", field=field, low=low, high=high)
    return float(value)


def _shift_time(value: Any, field: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not _TIME.fullmatch(value):
        raise BadRequest("%(field)s must be a time HH:MM (00:00 to 23:59) or null, got %(value)s", field=field,
                         value=repr(value))
    return value


def parse_shift(value: Any, current: PatrolRoute | None) -> dict[str, Any]:
    """The shift's columns from {"start", "end", "days", "visits"}; missing keys keep the current values."""
    if not isinstance(value, dict):
        raise BadRequest("shift must be an object with start, end, days and visits")
    unknown = sorted(set(value) - SHIFT_FIELDS)
    if unknown:
        raise BadRequest("unknown field(s): %(unknown)s; accepted: %(accepted)s",
                         unknown=", ".join(f"shift.{k}" for k in unknown), accepted=", ".join(sorted(SHIFT_FIELDS)))
    old = _columns(current) if current is not None else DEFAULTS
    start = _shift_time(value["start"], "shift.start") if "start" in value else old["shift_start"]
    end = _shift_time(value["end"], "shift.end") if "end" in value else old["shift_end"]
    if (start is None) != (end is None):
        raise BadRequest("shift.start and shift.end go together: give both times, or neither")
    days = old["shift_days"]
    if "days" in value:
        days = value["days"]
        if (not isinstance(days, list) or not all(isinstance(d, int) and not isinstance(d, bool) and 1 <= d <= 7
                                                  for d in days) or len(set(days)) != len(days)):
            raise BadRequest("shift.days must be a list of distinct ISO weekdays from 1 (Monday) to 7 (Sunday)")
        days = sorted(days)
    visits = old["visits_per_shift"]
    if "visits" in value:
        visits = value["visits"]
        if isinstance(visits, bool) or not isinstance(visits, int) or not 1 <= visits <= 24:
            raise BadRequest("shift.visits must be a whole number from 1 to 24")
    return {"shift_start": start, "shift_end": end, "shift_days": list(days), "visits_per_shift": visits}


def parse_settings(body: dict[str, Any], current: PatrolRoute | None) -> dict[str, Any]:
    """Column values of the route's own fields (name, shift, check-in radius, lateness, note) in a body.

    For a new route (current None) every column gets a value, defaults filling the gaps; for an
    edit only the fields sent are returned.
    """
    values: dict[str, Any] = dict(DEFAULTS) if current is None else {}
    if "name" in body or current is None:
        values["name"] = check_name(body.get("name"))
    if "shift" in body:
        values.update(parse_shift(body["shift"], current))
    if "checkin_radius_m" in body:
        values["checkin_radius_m"] = _bounded(body["checkin_radius_m"], "checkin_radius_m", 5, 500)
    if "late_after_min" in body:
        values["late_after_min"] = _bounded(body["late_after_min"], "late_after_min", 0, 240)
    if "note" in body:
        note = body["note"]
        if note is not None and not isinstance(note, str):
            raise BadRequest("note must be text or null")
        note = (note or "").strip() or None
        if note is not None and len(note) > NOTE_MAX:
            raise BadRequest("note is longer than %(max)s characters", max=NOTE_MAX)
        values["note"] = note
    return values


def parse_stops(value: Any, *, max_count: int) -> list[Stop]:
    """The stops as sent: stored checkpoint ids and free points {"name", "lon", "lat"}, in input order."""
    if not isinstance(value, list) or not value:
        raise BadRequest('checkpoints must be a non-empty list of checkpoint ids or {"name", "lon", "lat"} points')
    if len(value) > max_count:
        raise BadRequest("at most %(max)s checkpoints per plan, got %(count)s", max=max_count, count=len(value))
    stops: list[Stop] = []
    seen: set[int] = set()
    for index, item in enumerate(value):
        field = f"checkpoints[{index}]"
        if isinstance(item, int) and not isinstance(item, bool):
            if item in seen:
                raise BadRequest("%(field)s: checkpoint %(id)s is listed twice", field=field, id=item)
            seen.add(item)
            stops.append(item)
        elif isinstance(item, dict):
            unknown = sorted(set(item) - POINT_FIELDS)
            if unknown:
                raise BadRequest("unknown field(s): %(unknown)s; accepted: %(accepted)s",
                                 unknown=", ".join(f"{field}.{k}" for k in unknown),
                                 accepted=", ".join(sorted(POINT_FIELDS)))
            name = check_name(item.get("name"), f"{field}.name")
            lon, lat = item.get("lon"), item.get("lat")
            if not (_is_number(lon) and _is_number(lat) and -180 <= lon <= 180 and -90 <= lat <= 90):
                raise BadRequest("%(field)s needs lon and lat: numbers within ±180 and ±90", field=field)
            stops.append(FreePoint(name, float(lon), float(lat)))
        else:
            raise BadRequest('%(field)s must be a checkpoint id or {"name", "lon", "lat"}', field=field)
    return stops


def check_near_campus(stops: Sequence[Stop], extent: BaseGeometry | None) -> None:
    """Refuse a free point far from the campus (a typo, swapped axes): it would become a checkpoint there."""
    if extent is None:
        return
    for index, stop in enumerate(stops):
        if isinstance(stop, FreePoint):
            km = _distance_km(stop.lon, stop.lat, extent)
            if km > MAX_DISTANCE_FROM_CAMPUS_KM:
                raise BadRequest("checkpoints[%(index)s] lies %(km)s km from the campus; check lon and lat",
                                 index=index, km=f"{km:.0f}")


def _distance_km(lon: float, lat: float, extent: BaseGeometry) -> float:
    x0, y0, x1, y1 = extent.bounds
    dx = max(x0 - lon, lon - x1, 0.0)
    dy = max(y0 - lat, lat - y1, 0.0)
    return math.hypot(dx * 111.32 * math.cos(math.radians(lat)), dy * 110.57)


def stop_points(session: Session, campus_id: int, stops: Sequence[Stop]) -> list[tuple[float, float]]:
    """The lon/lat of every stop, in order; stored checkpoints must be on the route's campus."""
    ids = [s for s in stops if isinstance(s, int)]
    found: dict[int, tuple[float, float]] = {}
    if ids:
        rows = session.execute(select(Checkpoint.id, Checkpoint.geom).where(
            Checkpoint.campus_id == campus_id, Checkpoint.id.in_(ids))).all()
        found = {row_id: (geom.x, geom.y) for row_id, geom in rows}
    unknown = [i for i in ids if i not in found]
    if unknown:
        raise BadRequest("unknown checkpoint id(s) on this campus: %(ids)s", ids=", ".join(map(str, unknown[:20])))
    return [found[s] if isinstance(s, int) else (s.lon, s.lat) for s in stops]


def stored_start(route: PatrolRoute) -> int | list[float]:
    """The route's start as a request gives it: a checkpoint id, or [lon, lat]."""
    if route.start_checkpoint_id is not None:
        return route.start_checkpoint_id
    return [route.start_lon, route.start_lat]


def _same(sent: Any, stored: Any) -> bool:
    # True == 1 in Python: a boolean sent is never "the same", so that it reaches validation.
    return not isinstance(sent, bool) and type(sent) is not dict and sent == stored


def plan_changed(route: PatrolRoute, body: dict[str, Any]) -> bool:
    """Whether an edit touches what the plan was made from (stops, start, teams, mode, max_minutes)."""
    if "checkpoints" in body:
        sent = body["checkpoints"]
        if not isinstance(sent, list) or not all(isinstance(c, int) and not isinstance(c, bool) for c in sent):
            return True
        if sent != list(route.checkpoint_ids):
            return True
    if "start" in body and not _same(body["start"], stored_start(route)):
        return True
    return any(key in body and not _same(body[key], getattr(route, key)) for key in ("teams", "mode", "max_minutes"))


def check_version(route: PatrolRoute, version: int) -> None:
    """409 when the route moved on since the caller read it."""
    if version != route.version:
        raise Conflict("patrol route %(id)s has changed since you read it (version %(current)s, you sent %(sent)s); "
                       "reload it and try again", id=route.id, current=route.version, sent=version,
                       details={"version": route.version})


# ---------------------------------------------------------------- reading


def get_route(session: Session, route_id: int, campus_ids: Collection[int] | None) -> PatrolRoute:
    """A live route the caller may see; deleted ones and other campuses' answer 404, as if absent."""
    route = session.get(PatrolRoute, route_id)
    if (route is None or route.deleted_at is not None
            or (campus_ids is not None and route.campus_id not in campus_ids)):
        raise NotFound("unknown patrol route %(id)s", id=route_id)
    return route


def list_routes(session: Session, campus_ids: int | Collection[int] | None) -> list[PatrolRoute]:
    """Live routes of some campuses (all for None), oldest first."""
    stmt = select(PatrolRoute).where(PatrolRoute.deleted_at.is_(None)).order_by(PatrolRoute.id)
    if campus_ids is not None:
        ids = [campus_ids] if isinstance(campus_ids, int) else sorted(campus_ids)
        stmt = stmt.where(PatrolRoute.campus_id.in_(ids))
    return list(session.scalars(stmt))


def route_checkpoints(session: Session, route: PatrolRoute) -> dict[int, Checkpoint]:
    """The route's stored checkpoints (stops and start) by id."""
    ids = [*route.checkpoint_ids, *([route.start_checkpoint_id] if route.start_checkpoint_id else [])]
    return {c.id: c for c in session.scalars(select(Checkpoint).where(Checkpoint.id.in_(ids)))}


def team_stops(route: PatrolRoute) -> list[tuple[int, int, int]]:
    """(team, seq, checkpoint id) of every planned visit, in each team's visiting order (seq from 1)."""
    return [(r["team"], seq, cid) for r in route.plan.get("routes", [])
            for seq, cid in enumerate(r["order"], start=1)]


def team_lines(route: PatrolRoute) -> list[BaseGeometry]:
    """One closed LineString per team with a tour, in the order of plan["routes"]."""
    if route.geom is None:
        return []
    return list(getattr(route.geom, "geoms", [route.geom]))


def _local(value: dt.datetime, zone: zoneinfo.ZoneInfo) -> str:
    return value.astimezone(zone).isoformat()


def shift_dict(route: PatrolRoute) -> dict[str, Any]:
    return {"start": route.shift_start, "end": route.shift_end, "days": list(route.shift_days or []),
            "visits": route.visits_per_shift}


def route_summary(route: PatrolRoute, campus: Campus) -> dict[str, Any]:
    """What a list of routes shows of each."""
    return {"id": route.id, "campus": campus.slug, "name": route.name, "mode": route.mode, "teams": route.teams,
            "length_m": route.length_m, "stops": len(route.checkpoint_ids), "shift": shift_dict(route),
            "version": route.version, "updated_at": _local(route.updated_at, zoneinfo.ZoneInfo(campus.timezone))}


def route_dict(route: PatrolRoute, campus: Campus, checkpoints: dict[int, Checkpoint]) -> dict[str, Any]:
    """The documented "route" member of GET /api/routes/<id>; times in the campus's time zone."""
    zone = zoneinfo.ZoneInfo(campus.timezone)
    stops = []
    for cid in route.checkpoint_ids:
        c = checkpoints.get(cid)
        stops.append({"id": cid, "name": c.name if c else None, "lon": c.geom.x if c else None,
                      "lat": c.geom.y if c else None})
    return {
        "id": route.id, "campus": campus.slug, "name": route.name, "mode": route.mode, "teams": route.teams,
        "max_minutes": route.max_minutes,
        "start": {"checkpoint": route.start_checkpoint_id, "lon": route.start_lon, "lat": route.start_lat},
        "checkpoints": stops, "shift": shift_dict(route), "checkin_radius_m": route.checkin_radius_m,
        "late_after_min": route.late_after_min, "note": route.note, "length_m": route.length_m,
        "version": route.version, "created_by": route.created_by, "created_at": _local(route.created_at, zone),
        "updated_at": _local(route.updated_at, zone),
    }


def route_collection(session: Session, route: PatrolRoute, *,
                     extra_features: Sequence[tuple[Any, Any, dict[str, Any]]] = (),
                     word_reason: Callable[[str | None], str] | None = None, **members: Any) -> bytes:
    """The route as POST /api/routes/plan answers a plan, plus the "route" member (and any extra features).

    The plan keeps why a checkpoint was unreachable in English; `word_reason` words it for the reader.
    """
    campus = session.get(Campus, route.campus_id)
    assert campus is not None  # a foreign key
    plan = route.plan
    teams = plan.get("routes", [])
    props = [{k: r[k] for k in ("team", "order", "length_m", "duration_min", "legs_m")} for r in teams]
    ids: list[Any] = [r["team"] for r in teams]
    geoms: list[Any] = team_lines(route)
    for fid, geom, p in extra_features:
        ids.append(fid)
        geoms.append(geom)
        props.append(p)
    return feature_collection(
        ids, geoms, props, numberMatched=len(ids), numberReturned=len(ids), mode=route.mode,
        speed_m_per_min=route.speed_m_per_min, snap_distance_m=plan.get("snap_distance_m", SNAP_DISTANCE_M),
        unreachable=[{**u, "reason": word_reason(u.get("reason"))} if word_reason else u
                     for u in plan.get("unreachable", [])], not_fitted=plan.get("not_fitted", []),
        route=route_dict(route, campus, route_checkpoints(session, route)), **members)


# ---------------------------------------------------------------- writing


def _store_free_points(session: Session, campus_id: int, stops: Sequence[Stop], actor: str) -> list[int]:
    """Checkpoint ids of every stop, free points stored (and audited) as new patrol_point checkpoints."""
    ids: list[int] = []
    for stop in stops:
        if isinstance(stop, int):
            ids.append(stop)
            continue
        point = Checkpoint(campus_id=campus_id, source_id=f"route:{uuid.uuid4()}", name=stop.name, kind=POINT_KIND,
                           geom=shapely.Point(stop.lon, stop.lat))
        session.add(point)
        session.flush()
        session.add(AuditEntry(actor=actor, action="create", layer="checkpoints", feature_id=point.id,
                               campus_id=campus_id, after={"name": stop.name, "kind": POINT_KIND, "lon": stop.lon,
                                                           "lat": stop.lat},
                               reason="patrol point picked on the map for a saved route"))
        ids.append(point.id)
    return ids


def plan_values(req: PlanRequest, plan: TeamPlan, ids: Sequence[int]) -> dict[str, Any]:
    """Route columns from a plan made over the stops' points, indices turned into checkpoint ids."""
    routes = [r for r in plan.routes if r.geometry is not None]
    teams = [{"team": r.team, "order": [ids[i] for i in r.order], "length_m": round(r.length_m, 1),
              "duration_min": round(r.duration_min, 1), "legs_m": [round(x, 1) for x in r.legs_m]} for r in routes]
    stored = {
        "routes": teams,
        "unreachable": [{"checkpoint": ids[u.index], "reason": u.reason,
                         "distance_m": None if u.distance_m is None else round(u.distance_m, 1)}
                        for u in plan.unreachable],
        "not_fitted": [ids[i] for i in plan.not_fitted],
        "snap_distance_m": SNAP_DISTANCE_M,
    }
    return {
        "checkpoint_ids": list(ids), "start_lon": float(req.start[0]), "start_lat": float(req.start[1]),
        "start_checkpoint_id": req.start_id, "teams": req.teams, "mode": req.mode, "max_minutes": req.max_minutes,
        "speed_m_per_min": req.speed_m_per_min, "plan": stored,
        "geom": shapely.MultiLineString([r.geometry for r in routes]) if routes else None,
        "length_m": round(sum(t["length_m"] for t in teams), 1),
    }


_COLUMNS = ("name", "mode", "start_lon", "start_lat", "start_checkpoint_id", "checkpoint_ids", "teams", "max_minutes",
            "speed_m_per_min", "plan", "geom", "length_m", "shift_start", "shift_end", "shift_days",
            "visits_per_shift", "checkin_radius_m", "late_after_min", "note")


def _columns(route: PatrolRoute) -> dict[str, Any]:
    return {c: getattr(route, c) for c in _COLUMNS}


def _summary(values: dict[str, Any]) -> dict[str, Any]:
    """What the audit log keeps of a route: its fields, the stops and the length, not the geometry."""
    return {
        "name": values["name"], "mode": values["mode"], "teams": values["teams"], "max_minutes": values["max_minutes"],
        "start": {"checkpoint": values["start_checkpoint_id"], "lon": values["start_lon"],
                  "lat": values["start_lat"]},
        "checkpoints": list(values["checkpoint_ids"]),
        "shift": {"start": values["shift_start"], "end": values["shift_end"], "days": list(values["shift_days"]),
                  "visits": values["visits_per_shift"]},
        "checkin_radius_m": values["checkin_radius_m"], "late_after_min": values["late_after_min"],
        "note": values["note"], "length_m": values["length_m"],
    }


def create_route(session: Session, campus_id: int, stops: Sequence[Stop], req: PlanRequest, plan: TeamPlan,
                 settings: dict[str, Any], *, actor: str) -> int:
    """Store a planned route (inside the caller's transaction) and audit it; return its id."""
    ids = _store_free_points(session, campus_id, stops, actor)
    values = {**settings, **plan_values(req, plan, ids)}
    now = utcnow()
    route = PatrolRoute(campus_id=campus_id, **values, version=1, created_by=actor, created_at=now, updated_at=now)
    session.add(route)
    session.flush()
    session.add(AuditEntry(actor=actor, action="create", layer=LAYER, feature_id=route.id, campus_id=campus_id,
                           after=_summary(values), reason="patrol route saved"))
    return route.id


def _differs(old: Any, new: Any) -> bool:
    if isinstance(old, BaseGeometry) or isinstance(new, BaseGeometry):
        return old is None or new is None or not shapely.equals_exact(old, new, tolerance=0)
    return bool(old != new)


def _guarded_update(session: Session, route_id: int, version: int, values: dict[str, Any]) -> int:
    """Write with WHERE version = the version read, so two concurrent edits cannot both win."""
    done = session.execute(update(PatrolRoute).where(PatrolRoute.id == route_id, PatrolRoute.version == version)
                           .values(**values, version=version + 1, updated_at=utcnow()))
    if done.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict("patrol route %(id)s was changed by someone else just now; reload it and try again",
                       id=route_id)
    return version + 1


def update_route(
    session: Session, route_id: int, *, version: int, settings: dict[str, Any],
    planned: tuple[Sequence[Stop], PlanRequest, TeamPlan] | None, actor: str, campus_ids: Collection[int] | None,
) -> int:
    """Change a route's fields, and its plan when `planned` is given (inside the caller's transaction).

    Returns the new version; an edit that changes nothing changes nothing, version included.
    """
    route = get_route(session, route_id, campus_ids)
    check_version(route, version)
    old = _columns(route)
    values = dict(settings)
    if planned is not None:
        stops, req, plan = planned
        values.update(plan_values(req, plan, _store_free_points(session, route.campus_id, stops, actor)))
    changed = {k: v for k, v in values.items() if _differs(old[k], v)}
    if not changed:
        return route.version
    campus_id = route.campus_id
    version_after = _guarded_update(session, route_id, version, changed)
    before, after = _summary(old), _summary({**old, **changed})
    keys = [k for k in before if before[k] != after[k]]
    session.add(AuditEntry(actor=actor, action="update", layer=LAYER, feature_id=route_id, campus_id=campus_id,
                           before={k: before[k] for k in keys}, after={k: after[k] for k in keys},
                           reason="re-planned" if planned is not None and "plan" in changed else "edited"))
    session.expire_all()
    return version_after


def delete_route(session: Session, route_id: int, *, version: int | None, reason: str | None, actor: str,
                 campus_ids: Collection[int] | None) -> None:
    """Soft delete: the route leaves lists and reads but stays stored, since check-ins point at it."""
    route = get_route(session, route_id, campus_ids)
    if version is not None:
        check_version(route, version)
    name, campus_id, current = route.name, route.campus_id, route.version
    now = utcnow()
    _guarded_update(session, route_id, current, {"deleted_at": now})
    session.add(AuditEntry(actor=actor, action="delete", layer=LAYER, feature_id=route_id, campus_id=campus_id,
                           before={"name": name, "deleted_at": None},
                           after={"name": name, "deleted_at": now.isoformat()},
                           reason=reason or None))
    session.expire_all()
