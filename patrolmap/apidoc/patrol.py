"""Patrol routes: planning, saved routes and their files, picking stops, check-ins, tracks and reports."""

from __future__ import annotations

from patrolmap.apidoc.common import CAMPUS, REASON, VERSION, collection_of
from patrolmap.apidoc.dsl import (
    BOOLEAN,
    CSV,
    DATE,
    DATE_TIME,
    GEOJSON,
    ID,
    INTEGER,
    NUMBER,
    STRING,
    Endpoint,
    answer,
    array,
    download,
    enum,
    geojson,
    json_body,
    nullable,
    number,
    obj,
    query,
    ref,
    text,
    whole,
)
from patrolmap.geo.io import EXPORT_ENCODINGS
from patrolmap.routing.coverage import MAX_NEAR_M
from patrolmap.web.patrol_exec import MAX_TRACK_POINTS
from patrolmap.web.routes_api import MAX_CHECKPOINTS, MAX_TEAMS

TAG = ("Patrol", "Planning and saving patrol routes, picking stops, check-ins, tracks and shift reports")

LONLAT = array(number(), minItems=2, maxItems=2)
PLACE = {"oneOf": [ID, LONLAT]}  # a checkpoint id or [lon, lat]
CAMPUS_KEY = {"oneOf": [text(64), ID]}
PLAN_MEMBERS = {"mode": STRING, "speed_m_per_min": NUMBER, "snap_distance_m": NUMBER,
                "unreachable": array(obj({"checkpoint": {}, "reason": STRING})), "not_fitted": array({})}
TEAM_ROUTE = obj({"team": INTEGER, "order": array({}), "length_m": NUMBER, "duration_min": NUMBER})
PLAN = collection_of({**PLAN_MEMBERS, "coverage": obj()}, TEAM_ROUTE)
SHIFT = obj(optional={"start": nullable(text(pattern="^[0-2][0-9]:[0-5][0-9]$")),
                      "end": nullable(text(pattern="^[0-2][0-9]:[0-5][0-9]$")),
                      "days": array(whole(1, 7), uniqueItems=True, maxItems=7), "visits": whole(1, 24)},
            closed=True)
STOP = {"oneOf": [ID, obj({"name": text(200, minLength=1), "lon": number(-180, 180), "lat": number(-90, 90)},
                          closed=True)]}
ROUTE_FIELDS = {
    "name": text(200, minLength=1), "checkpoints": array(STOP, minItems=1, maxItems=MAX_CHECKPOINTS),
    "start": PLACE, "teams": whole(1, MAX_TEAMS), "mode": enum("walk", "drive"),
    "max_minutes": nullable(number(1, 1440)), "shift": SHIFT, "checkin_radius_m": number(5, 500),
    "late_after_min": number(0, 240), "note": nullable(text(2000)),
}
SAVED_ROUTE = collection_of({**PLAN_MEMBERS, "route": obj({"id": INTEGER, "name": STRING, "version": INTEGER})},
                            TEAM_ROUTE)
SUMMARY = obj({"id": INTEGER, "campus": STRING, "name": STRING, "version": INTEGER},
              {"mode": STRING, "teams": INTEGER, "length_m": NUMBER, "stops": INTEGER, "shift": obj(),
               "updated_at": STRING})

ENDPOINTS = [
    Endpoint("routes.plan_route", "POST", "Plan one closed tour per team along the path network", {
        "200": geojson("one LineString per team, what could not be reached or fitted, and what the routes pass",
                       PLAN)},
        body=json_body(obj({"checkpoints": array(PLACE, minItems=1, maxItems=MAX_CHECKPOINTS), "start": PLACE}, {
            "campus": CAMPUS_KEY, "teams": whole(1, MAX_TEAMS), "mode": enum("walk", "drive"),
            "max_minutes": nullable(number(1, 1440)), "hotspots": BOOLEAN, "near_m": number(0, MAX_NEAR_M)},
            closed=True))),
    Endpoint("patrol_select.candidates", "GET", "Buildings and checkpoints of some kinds and/or grid zones", {
        "200": answer("the buildings (with where the network reaches them) and checkpoints chosen", obj(
            {"campus": STRING, "mode": STRING, "buildings": array(obj({"id": INTEGER})),
             "checkpoints": array(obj({"id": INTEGER}))},
            {"kinds": nullable(array(STRING)), "zones": nullable(array(obj())), "snap_distance_m": NUMBER}))},
        parameters=(query("kinds", STRING, "building/checkpoint kinds, comma-separated"),
                    query("zones", STRING, "grid zone ids: 3,4,5 or 3-5"), query("mode", enum("walk", "drive")),
                    CAMPUS)),
    # ---------------------------------------------------------------- saved routes
    Endpoint("saved_routes.list_saved_routes", "GET", "Saved routes, oldest first", {
        "200": answer("summaries", obj({"routes": array(SUMMARY)}))}, parameters=(CAMPUS,)),
    Endpoint("saved_routes.create_saved_route", "POST", "Save a route (the server plans it)", {
        "201": geojson("the route as GET answers it (Location: its URL)", SAVED_ROUTE)},
        body=json_body(obj({"name": ROUTE_FIELDS["name"], "checkpoints": ROUTE_FIELDS["checkpoints"],
                            "start": PLACE},
                           {"campus": CAMPUS_KEY, **{k: v for k, v in ROUTE_FIELDS.items()
                                                     if k not in ("name", "checkpoints", "start")}}, closed=True)),
        errors=(422,)),
    Endpoint("saved_routes.read_saved_route", "GET", "A saved route as a plan, with its own fields",
             {"200": geojson("the route", SAVED_ROUTE)}),
    Endpoint("saved_routes.update_saved_route", "PUT", "Edit a saved route (the version read; re-planned if needed)", {
        "200": geojson("the route as stored", SAVED_ROUTE)},
        body=json_body(obj({"version": whole(1)}, {"campus": CAMPUS_KEY, **ROUTE_FIELDS}, closed=True)),
        errors=(409, 422)),
    Endpoint("saved_routes.delete_saved_route", "DELETE", "Delete a saved route (soft; audited)",
             {"204": answer("deleted")}, parameters=(REASON, VERSION), errors=(409,),
             description='The reason and version may come as a JSON body {"reason", "version"} instead.'),
    Endpoint("saved_routes.saved_route_gpx", "GET", "A saved route as GPX 1.1: stops, a route and a track per team",
             {"200": download("the GPX file", "application/gpx+xml")}),
    Endpoint("saved_routes.saved_route_geojson", "GET", "A saved route as a GeoJSON file, with a Point per stop",
             {"200": download("the GeoJSON file", GEOJSON, json=ref("FeatureCollection"))}),
    # ---------------------------------------------------------------- on shift
    Endpoint("patrol_exec.reissue_tag", "POST", "Give a checkpoint a new QR plaque and retire the old one", {
        "201": answer("the new plaque", obj({"checkpoint": INTEGER, "tag": INTEGER, "retired": array(INTEGER),
                                             "url": STRING, "created_at": STRING}))},
        body=json_body(obj(optional={"reason": nullable(text(1000))}, closed=True), required=False)),
    Endpoint("patrol_exec.create_checkin", "POST", "Check in at a stop: by its QR token or a GPS position", {
        "201": answer("the check-in and the stop's status", obj({
            "id": INTEGER, "route": INTEGER, "checkpoint": INTEGER, "team": INTEGER, "shift_date": STRING,
            "visit": INTEGER, "method": STRING, "status": STRING, "counted": BOOLEAN},
            {"at": STRING, "distance_m": nullable(NUMBER), "officer": STRING, "planned_at": nullable(STRING),
             "checked_in_at": nullable(STRING)}))},
        body=json_body(obj({"checkpoint": ID}, {
            "team": whole(1), "time": DATE_TIME, "position": LONLAT, "accuracy_m": nullable(number(0)),
            "qr": nullable(text(64))}, closed=True)), errors=(422,)),
    Endpoint("patrol_exec.post_track", "POST", "Positions the officer's phone shared on shift", {
        "201": answer("stored", obj({"stored": INTEGER, "skipped_outside_shift": INTEGER,
                                     "shift_dates": array(STRING)})),
        "200": answer("nothing stored (every point outside the shifts)", obj({"stored": INTEGER}))},
        body=json_body(obj({"points": array(array({}, minItems=3, maxItems=4), minItems=1,
                                            maxItems=MAX_TRACK_POINTS)}, closed=True)),
        errors=(422,), description="Each point is [lon, lat, time with its UTC offset] or [lon, lat, time, "
                                   "accuracy_m]."),
    Endpoint("patrol_exec.shift_report", "GET", "One shift of a route, planned against done", {
        "200": answer("rounds, each team's stops with their status, and the tracks", obj({
            "route": obj(), "shift_date": STRING, "timezone": STRING, "shift": obj(), "rounds": array(obj()),
            "totals": obj(), "tracks": obj()}))},
        path_schemas={"shift_date": DATE}, errors=(422,)),
    Endpoint("patrol_exec.missed_report", "GET", "Missed stops of a campus's routes over local dates", {
        "200": answer("per shift date, route, team and officer", obj({
            "campus": STRING, "from": STRING, "to": STRING, "rows": array(obj()), "officers": array(obj()),
            "totals": obj()}), also={CSV: STRING})},
        parameters=(CAMPUS, query("from", DATE), query("to", DATE), query("format", enum("json", "csv")),
                    query("encoding", enum(*EXPORT_ENCODINGS), "CSV only")), errors=(422,)),
]
