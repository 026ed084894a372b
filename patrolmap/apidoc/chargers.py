"""EV charger placement: coverage, suggested sites, saved scenarios, their files, and inventory imports."""

from __future__ import annotations

from patrolmap import chargers
from patrolmap.apidoc.common import CAMPUS, REASON
from patrolmap.apidoc.dsl import (
    BINARY,
    BOOLEAN,
    CSV,
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
    json_body,
    multipart,
    nullable,
    number,
    obj,
    query,
    ref,
    text,
    whole,
)

TAG = ("Chargers", "EV charger placement review: coverage, suggested sites, scenarios and imports")

CAMPUS_KEY = {"oneOf": [text(64), ID]}
KIND = enum(*chargers.KINDS)
WALK_M = number(chargers.MIN_WALK_M, chargers.MAX_WALK_M)
WEIGHTS = obj(additionalProperties=number(0, chargers.MAX_WEIGHT))
LONLAT = array(number(), minItems=2, maxItems=2)
CANDIDATE = {"oneOf": [text(64), whole(0)]}
SITE = obj({"lon": number(-180, 180), "lat": number(-90, 90)}, {
    "name": nullable(text(200)), "ports": nullable(whole(0)), "power_kw": nullable(number(0, 1000)),
    "candidate": nullable(CANDIDATE)}, closed=True)
SCENARIO = obj({"id": INTEGER, "campus": STRING, "name": STRING, "kind": STRING},
               {"walk_m": NUMBER, "sites": array(obj()), "excluded": array({}), "note": nullable(STRING),
                "summary": obj(), "created_by": STRING, "created_at": STRING})

ENDPOINTS = [
    Endpoint("chargers_api.coverage", "GET", "Demand the chargers of a kind reach on foot, and what stays uncovered", {
        "200": answer("coverage", obj({"campus": STRING, "kind": STRING, "walk_m": NUMBER, "demand": obj(),
                                       "isochrones": obj()}, {"covered_share": nullable(NUMBER)}))},
        parameters=(CAMPUS, query("kind", KIND), query("walk_m", WALK_M, "walking distance in metres"),
                    query("planned", enum("true", "false", "1", "0", "yes", "no"), "count planned chargers too"),
                    query("weights", STRING, "demand id:weight pairs, e.g. building:12:500,parking-lot:3:40"))),
    Endpoint("chargers_api.suggest", "POST", "New sites covering most uncovered demand, or the fewest for a share", {
        "200": answer("the sites, in order", obj({"campus": STRING, "kind": STRING, "sites": array(obj()),
                                                  "before": obj(), "after": obj(), "method": STRING,
                                                  "optimal": BOOLEAN}))},
        body=json_body(obj(optional={
            "campus": CAMPUS_KEY, "kind": KIND, "walk_m": WALK_M, "k": whole(1, chargers.MAX_K),
            "target_share": nullable(number(0, 1)), "planned": BOOLEAN,
            "method": enum("auto", "exact", "heuristic", "greedy"), "weights": nullable(WEIGHTS),
            "candidates": nullable(array({"oneOf": [LONLAT, obj()]}, maxItems=chargers.MAX_POINTS)),
            "exclude": nullable(array(CANDIDATE, maxItems=chargers.MAX_POINTS)),
            "penalties": nullable(obj(additionalProperties=NUMBER))}, closed=True))),
    Endpoint("chargers_api.list_scenarios", "GET", "Saved scenarios, oldest first", {
        "200": answer("the scenarios", obj({"scenarios": array(SCENARIO)}))}, parameters=(CAMPUS,)),
    Endpoint("chargers_api.create_scenario", "POST", "Save a scenario; the server measures its coverage", {
        "201": answer("the scenario (Location: its URL)", SCENARIO)},
        body=json_body(obj({"name": text(200, minLength=1)}, {
            "campus": CAMPUS_KEY, "kind": KIND, "walk_m": WALK_M,
            "sites": array(SITE, maxItems=chargers.MAX_SCENARIO_SITES),
            "excluded": array({"oneOf": [CANDIDATE, LONLAT]}, maxItems=chargers.MAX_POINTS),
            "note": nullable(text(chargers.NOTE_MAX)), "weights": nullable(WEIGHTS), "planned": BOOLEAN},
            closed=True))),
    Endpoint("chargers_api.read_scenario", "GET", "One saved scenario", {"200": answer("the scenario", SCENARIO)}),
    Endpoint("chargers_api.delete_scenario", "DELETE", "Delete a scenario (soft; audited)", {"204": answer("deleted")},
             parameters=(REASON,), description='The reason may come as a JSON body {"reason"} instead.'),
    Endpoint("chargers_api.compare_scenarios", "GET", "Saved scenarios side by side", {
        "200": answer("one row per scenario, in the order asked", obj({"scenarios": array(obj())}))},
        parameters=(query("ids", STRING, f"scenario ids, comma-separated (1 to {chargers.MAX_COMPARE})",
                          required=True),)),
    Endpoint("chargers_api.scenario_geojson", "GET", "A scenario as GeoJSON: chargers, new sites, demand covered",
             {"200": download("the GeoJSON file", GEOJSON, json=ref("FeatureCollection"))}),
    Endpoint("chargers_api.scenario_csv", "GET", "A scenario as CSV: a summary row and one row per site",
             {"200": download("the CSV file (UTF-8 with a BOM)", CSV)}),
    Endpoint("chargers_api.import_chargers", "POST", "Import a charger inventory (GeoJSON or CSV): every row or none", {
        "200": answer("how many rows were inserted, updated or unchanged", obj({
            "campus": STRING, "inserted": INTEGER, "updated": INTEGER, "unchanged": INTEGER,
            "warnings": array(STRING)}))},
        parameters=(CAMPUS, query("format", enum("geojson", "csv"), "else by the file name or content"),
                    query("kind", KIND)),
        body=multipart({"file": BINARY}, raw={CSV: BINARY, GEOJSON: BINARY}), errors=(422,)),
]
