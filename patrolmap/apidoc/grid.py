"""Grid zones and their officers, hazards and the rectification loop, scorecards and notifications."""

from __future__ import annotations

from patrolmap.apidoc.common import CAMPUS, LIMIT, OFFSET, WARNINGS, collection_of, feature_of
from patrolmap.apidoc.dsl import (
    BINARY,
    BOOLEAN,
    CSV,
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
    multipart,
    nullable,
    number,
    obj,
    query,
    text,
    whole,
)
from patrolmap.geo.kinds import KINDS
from patrolmap.hazards import CATEGORIES, MAX_TEXT, STATUSES
from patrolmap.web.grid_api import BALANCES, MAX_NAME, MAX_OFFICERS, MAX_ZONES

TAG = ("Grid and hazards", "Grid zones and officers, hazards and their rectification loop, scorecards, notifications")

CAMPUS_KEY = {"oneOf": [text(64), ID]}
USER_REF = nullable(obj({"id": INTEGER, "username": STRING}, {"display_name": nullable(STRING)}))
ZONE = obj({"id": INTEGER, "name": STRING, "version": INTEGER, "buildings": array(INTEGER)},
           {"campus": INTEGER, "officer": USER_REF, "contact": nullable(obj()), "building_count": INTEGER,
            "residents": INTEGER, "workload": NUMBER})
ZONES = collection_of({"campus": STRING, "balance_by": STRING, "balance": nullable(obj()),
                       "unassigned": array(INTEGER)}, ZONE)
POLYGON = obj({"type": enum("Polygon", "MultiPolygon", "Feature")},
              {"coordinates": array(array({})), "geometry": obj()})
HAZARD = obj({"status": STRING, "version": INTEGER, "campus": INTEGER},
             {"category": STRING, "description": STRING, "urgency": STRING, "overdue": BOOLEAN,
              "next_statuses": array(STRING), "events": array(obj()), "photo_list": array(obj()),
              "notice_url": nullable(STRING)})
HAZARD_PHOTO = obj({"id": INTEGER, "hazard": INTEGER, "sha256": STRING, "content_type": STRING, "size": INTEGER},
                   {"width": nullable(INTEGER), "height": nullable(INTEGER), "uploaded_by": nullable(STRING),
                    "created_at": STRING, "url": STRING, "duplicate": BOOLEAN})
SCORECARD = obj({"zone": INTEGER, "name": STRING}, {
    "campus": STRING, "officer": nullable(obj()), "buildings": INTEGER, "residents": INTEGER,
    "open_hazards": INTEGER, "overdue_hazards": INTEGER, "violations_30d": INTEGER, "last_route": nullable(obj())})
FLAG = enum("true", "false", "1", "0", "yes", "no")

ENDPOINTS = [
    # ---------------------------------------------------------------- grid zones
    Endpoint("grid_api.list_zones", "GET", "A campus's grid zones: outline, officer, buildings and workload",
             {"200": geojson("the zones and their balance", ZONES)},
             parameters=(CAMPUS, query("balance", enum(*BALANCES), "workload by residents or building count"))),
    Endpoint("grid_api.list_officers", "GET", "Grid officers who can see the campus, and their zones", {
        "200": answer("the officers", obj({"campus": STRING, "officers": array(obj({"id": INTEGER,
                                                                                     "zones": array(INTEGER)}))}))},
        parameters=(CAMPUS,)),
    Endpoint("grid_api.propose", "POST", "Propose a split of the campus's buildings among N officers (not saved)", {
        "200": geojson("contiguous zones, balanced", collection_of(
            {"officers": INTEGER, "balance_by": STRING, "kinds": array(STRING), "method": STRING, "optimal": BOOLEAN,
             "warnings": array(STRING)}, obj({"zone": INTEGER, "buildings": array(INTEGER)})))},
        body=json_body(obj({"officers": whole(1, MAX_OFFICERS)}, {
            "campus": CAMPUS_KEY, "balance": nullable(enum(*BALANCES)),
            "kinds": nullable(array(enum(*KINDS), minItems=1))}, closed=True))),
    Endpoint("grid_api.apply_zones", "POST", "Replace the campus's zones (e.g. an accepted proposal)", {
        "200": geojson("the zones as GET answers them", collection_of({"applied": INTEGER, "replaced": INTEGER},
                                                                     ZONE))},
        body=json_body(obj({"zones": array(obj({"name": text(MAX_NAME, minLength=1),
                                                "buildings": array(ID, minItems=1)},
                                               {"officer": nullable(ID)}, closed=True),
                                           minItems=1, maxItems=MAX_ZONES)},
                           {"campus": CAMPUS_KEY, "reason": nullable(text(1000))}, closed=True)), errors=(409,)),
    Endpoint("grid_api.update_zone", "PUT", "Rename a zone, assign its officer, set its buildings or outline", {
        "200": geojson("the zone as stored", feature_of(ZONE, {"changed": array(INTEGER), **WARNINGS}))},
        body=json_body(obj({"version": whole(1)}, {
            "name": text(MAX_NAME, minLength=1), "officer": nullable(ID), "buildings": array(ID, minItems=1),
            "outline": POLYGON, "reason": nullable(text(1000))}, closed=True)), errors=(409, 422)),
    Endpoint("hazards_api.zone_scorecard", "GET", "One zone's scorecard", {"200": answer("the scorecard", SCORECARD)}),
    Endpoint("hazards_api.all_scorecards", "GET", "Every zone's scorecard of a campus (JSON or CSV)", {
        "200": answer("the scorecards", obj({"campus": STRING, "generated_at": STRING, "zones": array(SCORECARD)}),
                      also={CSV: STRING})},
        parameters=(CAMPUS, query("format", enum("json", "csv")))),
    # ---------------------------------------------------------------- hazards
    Endpoint("hazards_api.report", "POST", "Report a hazard at a point or a building", {
        "201": geojson("the hazard, placed in its zone and assigned (Location: its URL)", feature_of(HAZARD))},
        body=json_body(obj({"category": enum(*CATEGORIES), "description": text(MAX_TEXT, minLength=1)}, {
            "campus": CAMPUS_KEY, "urgency": nullable(enum("urgent", "high", "normal")),
            "lon": number(-180, 180), "lat": number(-90, 90), "building": ID, "note": nullable(text(MAX_TEXT))},
            closed=True)), errors=(422,),
        description="Say where: lon and lat, or a building id."),
    Endpoint("hazards_api.list_hazards_api", "GET", "Hazards, newest first", {
        "200": geojson("the hazards", collection_of(properties=HAZARD))},
        parameters=(CAMPUS, query("status", STRING, "open, or statuses comma-separated: " + ", ".join(STATUSES)),
                    query("zone", STRING, "a grid zone id, or none (outside every zone)"),
                    query("overdue", FLAG), query("unit", text(200), "the responsible unit"),
                    query("category", enum(*CATEGORIES)), query("mine", FLAG), query("include_deleted", FLAG),
                    LIMIT, OFFSET)),
    Endpoint("hazards_api.read_hazard", "GET", "One hazard with its events and photos",
             {"200": geojson("the hazard", feature_of(HAZARD))}),
    Endpoint("hazards_api.transition", "POST", "Move a hazard through the rectification loop", {
        "200": geojson("the hazard after the move", feature_of(HAZARD))},
        body=json_body(obj({"to": enum(*STATUSES)}, {
            "note": nullable(text(MAX_TEXT)), "reason": nullable(text(MAX_TEXT)), "version": nullable(whole(1)),
            "notice": nullable(obj(optional={"responsible_unit": nullable(text(200)),
                                             "number": nullable(text(64))}, closed=True))}, closed=True)),
        errors=(409, 422)),
    Endpoint("hazards_api.delete", "DELETE", "Soft-delete a hazard with a reason", {
        "200": geojson("the deleted hazard", feature_of(HAZARD))},
        parameters=(query("reason", text(MAX_TEXT, minLength=1), "why", required=True),
                    query("version", whole(1), "the version read")), errors=(409,),
        description='The reason and version may come as a JSON body {"reason", "version"} instead.'),
    Endpoint("hazards_api.upload_photo", "POST", "Attach a photo to a hazard (JPEG or PNG by content)", {
        "201": answer("attached", HAZARD_PHOTO), "200": answer("attached already", HAZARD_PHOTO)},
        body=multipart({"file": BINARY}), errors=(409, 413, 415, 422)),
    Endpoint("hazards_api.hazard_photo", "GET", "A hazard photo's display copy (no EXIF/GPS)",
             {"200": download("the picture", "image/jpeg", "image/png")},
             path_schemas={"sha256": text(pattern="^[0-9a-fA-F]{64}$")}),
    # ---------------------------------------------------------------- notifications
    Endpoint("hazards_api.list_notifications", "GET", "The caller's notifications, newest first, and how many unread", {
        "200": answer("the notifications", obj({
            "notifications": array(obj({"id": INTEGER, "hazard": INTEGER, "kind": STRING,
                                        "read_at": nullable(STRING)})),
            "unread": INTEGER}))},
        parameters=(query("unread", FLAG, "the unread only"), query("limit", whole(1, 1000)))),
    Endpoint("hazards_api.read_notification", "POST", "Mark a notification read", {
        "200": answer("marked", obj({"id": INTEGER, "read_at": nullable(STRING)}))}),
]
