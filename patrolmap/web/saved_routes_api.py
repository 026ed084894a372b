"""Saved patrol routes: list, save, read, edit and delete them; GPX, GeoJSON and a printable sheet.

A saved route is answered as POST /api/routes/plan answers a plan (one LineString Feature per
team), plus a "route" member with its own fields (name, shift, check-in radius, lateness, note,
version...). The server plans again itself on every save that touches the stops, the start, the
teams, the mode or max_minutes: a client's geometry is never trusted. Other campuses' routes and
deleted ones answer 404; edits need the version read (409 when it moved on); deletes are soft;
every write is audited (patrolmap.patrolroutes).
"""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET
from typing import Any

import shapely
from flask import Blueprint, Response, g, jsonify, render_template, request, url_for
from flask_babel import format_date, format_decimal, gettext

from patrolmap.database import write_transaction
from patrolmap.errors import BadRequest
from patrolmap.extensions import db
from patrolmap.models import Campus, Checkpoint, PatrolRoute
from patrolmap.patrolroutes import (
    PLAN_FIELDS,
    SETTING_FIELDS,
    Stop,
    check_near_campus,
    check_version,
    create_route,
    delete_route,
    get_route,
    list_routes,
    parse_settings,
    parse_stops,
    plan_changed,
    route_checkpoints,
    route_collection,
    route_summary,
    stop_points,
    stored_start,
    team_lines,
    team_stops,
    update_route,
)
from patrolmap.routing.teams import TeamPlan
from patrolmap.store import campus_extent, list_campuses
from patrolmap.transitions import check_reason
from patrolmap.transitions import check_version as check_version_value
from patrolmap.web.api import _campus_for_write, _campus_param, _json_body, actor, scoped_campus
from patrolmap.web.pages import visible_pages
from patrolmap.web.routes_api import MAX_CHECKPOINTS, PlanRequest, parse_plan_request, routes_coverage, run_plan
from patrolmap.web.unreachable import reason_text
from patrolmap.wording import N_

bp = Blueprint("saved_routes", __name__)

CREATE_FIELDS = {"campus", *PLAN_FIELDS, *SETTING_FIELDS}
UPDATE_FIELDS = {*CREATE_FIELDS, "version"}
DELETE_FIELDS = {"reason", "version"}
GPX_NS = "http://www.topografix.com/GPX/1/1"
MODE_LABELS = {"walk": N_("on foot"), "drive": N_("by car")}
MONDAY = dt.date(2024, 1, 1)  # a Monday: ISO weekday d is MONDAY + (d - 1) days


# ---------------------------------------------------------------- helpers


def _route(route_id: int) -> PatrolRoute:
    return get_route(db.session, route_id, g.scope.campus_ids)


def _campus_of(route: PatrolRoute) -> Campus:
    campus = db.session.get(Campus, route.campus_id)
    assert campus is not None  # a foreign key
    return campus


def _geojson(body: bytes, status: int = 200, headers: dict[str, str] | None = None) -> tuple[Response, int]:
    return Response(body, mimetype="application/geo+json", headers=headers), status


def _plan(campus: Campus, stops: list[Stop], fields: dict[str, Any]) -> tuple[PlanRequest, TeamPlan]:
    """Plan the stops with the planning endpoint's own code, over their points (ids resolved on the campus).

    Free points and stored checkpoints may be mixed, so the planner gets every stop as [lon, lat]
    in input order; its indices are turned back into checkpoint ids when the route is stored.
    """
    check_near_campus(stops, campus_extent(db.session, campus))
    points = stop_points(db.session, campus.id, stops)
    body = {**{k: fields[k] for k in ("start", "teams", "mode", "max_minutes") if k in fields},
            "checkpoints": [[lon, lat] for lon, lat in points]}
    req = parse_plan_request(body, campus)
    return req, run_plan(req)


def _route_response(route_id: int, status: int = 200, headers: dict[str, str] | None = None) -> tuple[Response, int]:
    """The route as a plan answers, with its coverage against the campus as it is now (zones and
    buildings move on after a route is saved, so coverage is worked out again, not stored)."""
    route = _route(route_id)
    teams = [r["team"] for r in route.plan.get("routes", [])]
    coverage = routes_coverage(_campus_of(route), dict(zip(teams, team_lines(route), strict=True)))
    return _geojson(route_collection(db.session, route, coverage=coverage, word_reason=reason_text), status, headers)


# ---------------------------------------------------------------- the API


@bp.get("/api/routes")
def list_saved_routes() -> Response:
    """Live routes of the caller's campuses (or ?campus=), oldest first, as summaries."""
    routes = list_routes(db.session, _campus_param())
    campuses = {c.id: c for c in list_campuses(db.session, g.scope.campus_ids)}
    return jsonify({"routes": [route_summary(r, campuses[r.campus_id]) for r in routes]})


@bp.post("/api/routes")
def create_saved_route() -> tuple[Response, int]:
    """Save a route: the server plans it, stores free points as checkpoints, and answers it as GET does."""
    body = _json_body(CREATE_FIELDS)
    campus = _campus_for_write(body)
    settings = parse_settings(body, None)
    stops = parse_stops(body.get("checkpoints"), max_count=MAX_CHECKPOINTS)
    req, plan = _plan(campus, stops, body)
    campus_id, who = campus.id, actor()
    with write_transaction(db.session):
        new_id = create_route(db.session, campus_id, stops, req, plan, settings, actor=who)
    return _route_response(new_id, 201, {"Location": url_for("saved_routes.read_saved_route", route_id=new_id)})


@bp.get("/api/routes/<int:route_id>")
def read_saved_route(route_id: int) -> tuple[Response, int]:
    return _route_response(route_id)


@bp.put("/api/routes/<int:route_id>")
def update_saved_route(route_id: int) -> tuple[Response, int]:
    """Edit a route: any fields of a save, plus the version read; re-planned when its plan inputs change."""
    route = _route(route_id)
    body = _json_body(UPDATE_FIELDS)
    if body.get("version") is None:
        raise BadRequest("version is required: the version you read, so that no edit is lost")
    version = check_version_value(body["version"])
    assert version is not None
    check_version(route, version)
    campus = _campus_of(route)
    if "campus" in body:
        key = body["campus"]
        if not isinstance(key, (str, int)) or isinstance(key, bool) or scoped_campus(key).id != campus.id:
            raise BadRequest("campus cannot change: a route stays on the campus it was saved for")
    settings = parse_settings(body, route)
    planned = None
    if plan_changed(route, body):
        stops: list[Stop] = (parse_stops(body["checkpoints"], max_count=MAX_CHECKPOINTS) if "checkpoints" in body
                             else list(route.checkpoint_ids))
        fields = {"start": stored_start(route), "teams": route.teams, "mode": route.mode,
                  "max_minutes": route.max_minutes, **{k: body[k] for k in PLAN_FIELDS if k in body}}
        req, plan = _plan(campus, stops, fields)
        planned = (stops, req, plan)
    who = actor()
    with write_transaction(db.session):
        update_route(db.session, route_id, version=version, settings=settings, planned=planned, actor=who,
                     campus_ids=g.scope.campus_ids)
    return _route_response(route_id)


@bp.delete("/api/routes/<int:route_id>")
def delete_saved_route(route_id: int) -> Response:
    """Soft delete ({"reason", "version"} or ?reason=&version=, both optional): 204; the row stays stored."""
    _route(route_id)
    body: dict[str, Any] = _json_body(DELETE_FIELDS) if request.get_data() else {}
    reason = check_reason(body.get("reason", request.args.get("reason")), required=False)
    version_arg = body.get("version", request.args.get("version"))
    if isinstance(version_arg, str):
        try:
            version_arg = int(version_arg)
        except ValueError:
            raise BadRequest("version must be a whole number of at least 1, as read with the record") from None
    version = check_version_value(version_arg)
    who = actor()
    with write_transaction(db.session):
        delete_route(db.session, route_id, version=version, reason=reason, actor=who, campus_ids=g.scope.campus_ids)
    return Response(status=204)


# ---------------------------------------------------------------- exports


def _stop_label(seq: int, name: str) -> str:
    return f"{seq}. {name}"


def _clean(text: str | None) -> str:
    """Text an XML 1.0 file can hold (ElementTree escapes markup, but cannot write control characters)."""
    return "".join(ch for ch in (text or "") if ch in "\t\n\r" or (ch >= " " and ch not in "\ufffe\uffff"))


def _coord(value: float) -> str:
    return format(value, ".10f").rstrip("0").rstrip(".")


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, tag, attrs)
    if text is not None:
        element.text = _clean(text)
    return element


def _point(parent: ET.Element, tag: str, lon: float, lat: float, name: str | None = None) -> ET.Element:
    element = _sub(parent, tag, lat=_coord(lat), lon=_coord(lon))
    if name is not None:
        _sub(element, "name", name)
    return element


def route_gpx(route: PatrolRoute, campus: Campus, checkpoints: dict[int, Checkpoint]) -> bytes:
    """GPX 1.1: a waypoint per stop, and per team a route (start, stops, start) and a track of the tour."""
    root = ET.Element("gpx", {"version": "1.1", "creator": "patrolmap", "xmlns": GPX_NS})
    metadata = _sub(root, "metadata")
    _sub(metadata, "name", route.name)
    _sub(metadata, "desc", campus.name)
    _sub(metadata, "time", route.updated_at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
    teams = route.plan.get("routes", [])
    for team, seq, cid in team_stops(route):
        if (c := checkpoints.get(cid)) is None:
            continue  # checkpoints are never deleted; should one go, the export still serves the rest
        wpt = _point(root, "wpt", c.geom.x, c.geom.y, _stop_label(seq, c.name))
        _sub(wpt, "desc", gettext("Team %(team)s, stop %(seq)s (checkpoint %(id)s)", team=team, seq=seq, id=cid))
        _sub(wpt, "type", "checkpoint")
    start = (route.start_lon, route.start_lat)
    start_name = gettext("Start")
    for team in teams:
        rte = _sub(root, "rte")
        _sub(rte, "name", gettext("%(route)s, team %(team)s", route=route.name, team=team["team"]))
        _sub(rte, "number", str(team["team"]))
        _point(rte, "rtept", *start, start_name)
        for seq, cid in enumerate(team["order"], start=1):
            if (c := checkpoints.get(cid)) is None:
                continue
            _point(rte, "rtept", c.geom.x, c.geom.y, _stop_label(seq, c.name))
        _point(rte, "rtept", *start, start_name)
    for team, line in zip(teams, team_lines(route), strict=True):
        trk = _sub(root, "trk")
        _sub(trk, "name", gettext("%(route)s, team %(team)s", route=route.name, team=team["team"]))
        _sub(trk, "number", str(team["team"]))
        segment = _sub(trk, "trkseg")
        for lon, lat in shapely.get_coordinates(line).tolist():
            _point(segment, "trkpt", lon, lat)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def _download(body: bytes, mimetype: str, filename: str) -> Response:
    return Response(body, mimetype=mimetype, headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@bp.get("/api/routes/<int:route_id>.gpx")
def saved_route_gpx(route_id: int) -> Response:
    route = _route(route_id)
    body = route_gpx(route, _campus_of(route), route_checkpoints(db.session, route))
    return _download(body, "application/gpx+xml", f"patrol-route-{route_id}.gpx")


@bp.get("/api/routes/<int:route_id>.geojson")
def saved_route_geojson(route_id: int) -> Response:
    """The route as GET answers it, plus one Point per stop (name, checkpoint, team, seq): a file for GIS tools."""
    route = _route(route_id)
    checkpoints = route_checkpoints(db.session, route)
    stops = [(f"{team}-{seq}", checkpoints[cid].geom,
              {"name": checkpoints[cid].name, "checkpoint": cid, "team": team, "seq": seq})
             for team, seq, cid in team_stops(route) if cid in checkpoints]
    body = route_collection(db.session, route, extra_features=stops, word_reason=reason_text)
    return _download(body, "application/geo+json", f"patrol-route-{route_id}.geojson")


# ---------------------------------------------------------------- the printable sheet


def weekday_names(days: list[int]) -> list[str]:
    """ISO weekdays as the reader's language names them (Monday / 星期一)."""
    return [format_date(MONDAY + dt.timedelta(days=d - 1), "EEEE") for d in days]


def _metres(value: float) -> str:
    return format_decimal(value, format="#,##0.0")


def sheet_teams(route: PatrolRoute, checkpoints: dict[int, Checkpoint]) -> list[dict[str, Any]]:
    """Per team: a row per stop with its leg, the distance walked so far and the minutes since the start."""
    speed = route.speed_m_per_min
    teams = []
    for team in route.plan.get("routes", []):
        rows = []
        walked = 0.0
        legs = team["legs_m"]
        for seq, (cid, leg) in enumerate(zip(team["order"], legs, strict=False), start=1):
            walked += leg
            c = checkpoints.get(cid)
            rows.append({"seq": seq, "checkpoint": cid, "name": c.name if c else str(cid), "leg": _metres(leg),
                         "walked": _metres(walked), "minutes": format_decimal(walked / speed, format="0.0")})
        back = legs[-1] if len(legs) > len(team["order"]) else 0.0
        walked += back
        teams.append({"team": team["team"], "rows": rows, "back": _metres(back), "total": _metres(walked),
                      "minutes": format_decimal(walked / speed, format="0.0"),
                      "length": _metres(team["length_m"]), "duration": format_decimal(team["duration_min"],
                                                                                      format="0.0")})
    return teams


@bp.get("/patrol/routes/<int:route_id>/sheet")
def saved_route_sheet(route_id: int) -> str:
    """A route sheet to print and carry: shift, and per team the stops in order with distances and minutes."""
    route = _route(route_id)
    campus = _campus_of(route)
    checkpoints = route_checkpoints(db.session, route)
    plan = route.plan
    start = checkpoints.get(route.start_checkpoint_id) if route.start_checkpoint_id else None
    name_of = {cid: (c.name if (c := checkpoints.get(cid)) else str(cid)) for cid in route.checkpoint_ids}
    return render_template(
        "route_sheet.html", route=route, campus=campus, pages=visible_pages(), page_id="patrol",
        mode=gettext(MODE_LABELS.get(route.mode, route.mode)), days=weekday_names(list(route.shift_days or [])),
        start_name=start.name if start else None, teams=sheet_teams(route, checkpoints),
        total=_metres(route.length_m), unreachable=[
            {"checkpoint": u["checkpoint"], "name": name_of.get(u["checkpoint"], str(u["checkpoint"])),
             "reason": reason_text(u.get("reason"))} for u in plan.get("unreachable", [])],
        not_fitted=[{"checkpoint": cid, "name": name_of.get(cid, str(cid))} for cid in plan.get("not_fitted", [])],
        radius=format_decimal(route.checkin_radius_m, format="0.#"),
        late=format_decimal(route.late_after_min, format="0.#"))
