"""Violations as evidence (status moves, void, photos), the traffic analysis, and marked hotspots."""

from __future__ import annotations

from patrolmap.analysis.hotspots import MAX_CELL_M, MIN_CELL_M
from patrolmap.apidoc.common import (
    CAMPUS,
    VERSION,
    WARNINGS,
    WINDOW,
    WINDOW_BODY,
    collection_of,
    feature_of,
)
from patrolmap.apidoc.dsl import (
    BINARY,
    BOOLEAN,
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
    ref,
    text,
    whole,
)
from patrolmap.geo.schema import SCHEMAS
from patrolmap.transitions import TRANSITIONS

TAG = ("Violations", "Violations as evidence, their photos, the traffic analysis and marked hotspots")

SHA256 = text(pattern="^[0-9a-fA-F]{64}$")
PHOTO = obj({"id": INTEGER, "sha256": STRING, "content_type": STRING, "size": INTEGER},
            {"violation": INTEGER, "width": nullable(INTEGER), "height": nullable(INTEGER),
             "display_sha256": nullable(STRING), "display_size": nullable(INTEGER), "uploaded_by": nullable(STRING),
             "created_at": STRING, "purged_at": nullable(STRING), "available": BOOLEAN, "url": STRING,
             "original_url": STRING, "duplicate": BOOLEAN})
VIOLATION = feature_of(obj({"version": INTEGER, "status": STRING, "photos": INTEGER,
                            "next_statuses": array(STRING)}))
CELL_M = number(MIN_CELL_M, MAX_CELL_M)
FILTER_ECHO = obj(optional={"from": nullable(STRING), "to": nullable(STRING), "days": nullable(STRING),
                            "hours": nullable(STRING), "kinds": nullable(array(STRING)), "term": nullable(STRING)})
PHOTO_UPLOAD = multipart({"file": BINARY})
IMAGE = download("the picture", "image/jpeg", "image/png")

HOTSPOT_PROPS = obj(optional={"name": nullable(text(200)),
                              "kind": nullable(enum(*(SCHEMAS["hotspots"].field("kind").choices or ()))),
                              "hours": nullable(text(200)), "note": nullable(text(2000))})
POLYGON = obj({"type": enum("Polygon", "MultiPolygon"), "coordinates": array(array({}))})
HOTSPOT_OUT = obj({"version": INTEGER, "campus": INTEGER},
                  {"name": nullable(STRING), "kind": nullable(STRING), "deleted_at": nullable(STRING),
                   "count": nullable(INTEGER)})
HOTSPOT = feature_of(HOTSPOT_OUT, WARNINGS)
FLAG = enum("true", "false", "1", "0", "yes", "no")

ENDPOINTS = [
    # ---------------------------------------------------------------- evidence
    Endpoint("evidence.violation", "GET", "One violation, void ones included, with its version and photo count",
             {"200": geojson("the violation", VIOLATION)}),
    Endpoint("evidence.transition", "POST", "Move a violation's status (void needs a reason)", {
        "200": geojson("the violation after the move", VIOLATION)},
        body=json_body(obj({"to": enum(*TRANSITIONS)}, {"reason": nullable(text(1000)),
                                                        "version": nullable(whole(1))}, closed=True)),
        errors=(409, 422)),
    Endpoint("evidence.void_violation", "DELETE", "Void a violation with a reason; nothing is erased", {
        "200": geojson("the void violation", VIOLATION)},
        parameters=(query("reason", text(1000), "why it is void", required=True), VERSION), errors=(409, 422),
        description='The reason and version may come as a JSON body {"reason", "version"} instead.'),
    Endpoint("evidence.upload_photo", "POST", "Attach an evidence photo (JPEG or PNG by content)", {
        "201": answer("attached (Location: its display copy)", PHOTO), "200": answer("attached already", PHOTO)},
        body=PHOTO_UPLOAD, errors=(409, 413, 415, 422)),
    Endpoint("evidence.list_violation_photos", "GET", "A violation's photos, purged ones included (without files)",
             {"200": answer("the photos", obj({"violation": INTEGER, "photos": array(PHOTO)}))}),
    Endpoint("evidence.photo", "GET", "A photo's display copy (no EXIF/GPS)", {"200": IMAGE},
             path_schemas={"sha256": SHA256}, errors=(410,)),
    Endpoint("evidence.photo_original", "GET", "A photo's original, byte for byte, checked against its SHA-256",
             {"200": IMAGE}, path_schemas={"sha256": SHA256}, errors=(410,)),
    # ---------------------------------------------------------------- analysis
    Endpoint("analysis.hotspots", "GET", "Hexagon cells with counts and Gi* classes over a time window", {
        "200": geojson("cells, the top hot cells, and the filter as understood", collection_of(
            {"cellsAnalysed": INTEGER, "cell_m": NUMBER, "campus": STRING, "filter": FILTER_ECHO,
             "top": array(obj()), "warnings": array(STRING)},
            obj({"count": INTEGER, "gi_z": NUMBER, "p_value": NUMBER, "class": STRING})))},
        parameters=(*WINDOW, query("cell_m", CELL_M, "hexagon size in metres"), CAMPUS)),
    Endpoint("analysis.repeat", "GET", "Plates with many violations in a window, most first", {
        "200": answer("the plates (masked for roles that must not see them)", obj({
            "numberMatched": INTEGER, "numberReturned": INTEGER, "min_count": INTEGER, "filter": FILTER_ECHO,
            "plates": array(obj({"plate": nullable(STRING), "anonymised": BOOLEAN, "count": INTEGER,
                                 "ids": array(INTEGER)}))}))},
        parameters=(*WINDOW, query("min_count", whole(2, 100_000)), query("limit", whole(1, 1000)), CAMPUS)),
    Endpoint("analysis.zombies", "GET", "Zombie-car candidates: one plate at one place on many days", {
        "200": geojson("one Point per candidate", collection_of(
            {"min_days": INTEGER, "min_span_days": INTEGER, "radius_m": NUMBER, "filter": FILTER_ECHO},
            obj({"plate": nullable(STRING), "anonymised": BOOLEAN, "days": INTEGER, "ids": array(INTEGER)})))},
        parameters=(*WINDOW, query("min_days", whole(2, 3660)), query("min_span_days", whole(0, 3660)),
                    query("radius_m", number(1, 1000)), CAMPUS)),
    Endpoint("analysis.plate_history", "GET", "One car's violations, oldest first", {
        "200": geojson("the violations", ref("FeatureCollection"))},
        parameters=(query("plate", text(32, minLength=1), "the plate", required=True), WINDOW[0], WINDOW[1],
                    CAMPUS)),
    Endpoint("analysis.suggest_duty_posts", "POST", "The K places where a duty post covers the most violations", {
        "200": geojson("the posts, best first", collection_of(
            {"covered": NUMBER, "k": INTEGER, "radius_m": NUMBER, "method": STRING, "campus": STRING},
            obj({"rank": INTEGER, "covered": NUMBER})))},
        body=json_body(obj(optional={
            "campus": {"oneOf": [text(64), ID]}, "k": whole(1, 20), "radius_m": number(10, 2000),
            "cell_m": CELL_M, "distance": enum("network", "straight"), **WINDOW_BODY}, closed=True))),
    Endpoint("compare.compare_periods", "GET", "Before and after: violations per hexagon and marked hotspot", {
        "200": geojson("cells with both periods' counts, and each marked hotspot's", collection_of(
            {"campus": STRING, "cell_m": NUMBER, "periods": obj(), "marked": array(obj())},
            obj({"before": INTEGER, "after": INTEGER, "change": INTEGER})))},
        parameters=(query("before_from", STRING, "YYYY-MM-DD", required=True),
                    query("before_to", STRING, "YYYY-MM-DD", required=True),
                    query("after_from", STRING, "YYYY-MM-DD", required=True),
                    query("after_to", STRING, "YYYY-MM-DD", required=True),
                    *(p for p in WINDOW if p["name"] in ("days", "hours", "kinds", "term")),
                    query("cell_m", CELL_M), CAMPUS)),
    # ---------------------------------------------------------------- marked hotspots
    Endpoint("hotspots.list_hotspots", "GET", "Marked hotspots, with violation counts over a window on request", {
        "200": geojson("the hotspots", collection_of({"window": obj()}, HOTSPOT_OUT))},
        parameters=(CAMPUS, query("include_deleted", FLAG), query("counts", FLAG), *WINDOW)),
    Endpoint("hotspots.read_hotspot", "GET", "One marked hotspot (deleted ones too)",
             {"200": geojson("the hotspot", HOTSPOT)}),
    Endpoint("hotspots.hotspot_count", "GET", "Violations of a window inside one hotspot", {
        "200": answer("the count (null for a deleted hotspot)", obj({"id": INTEGER, "count": nullable(INTEGER),
                                                                      "window": obj()}))},
        parameters=WINDOW),
    Endpoint("hotspots.create", "POST", "Mark a hotspot: a Feature with a Polygon and campus", {
        "201": geojson("the hotspot as stored (Location: its URL)", HOTSPOT)},
        body=json_body(obj({"type": enum("Feature"), "geometry": POLYGON, "properties": HOTSPOT_PROPS},
                           {"campus": {"oneOf": [text(64), ID]}}, closed=True)), errors=(422,)),
    Endpoint("hotspots.update", "PUT", "Replace a hotspot (properties.version as read)", {
        "200": geojson("the hotspot as stored", HOTSPOT)},
        body=json_body(obj({"type": enum("Feature"), "geometry": POLYGON,
                            "properties": {"allOf": [HOTSPOT_PROPS, obj({"version": whole(1)})]}},
                           {"reason": nullable(text(1000))}, closed=True)), errors=(409, 422)),
    Endpoint("hotspots.delete", "DELETE", "Soft-delete a hotspot with a reason", {
        "200": geojson("the deleted hotspot", HOTSPOT)},
        parameters=(query("reason", text(1000, minLength=1), "why", required=True), VERSION), errors=(409,),
        description='The reason and version may come as a JSON body {"reason", "version"} instead.'),
]
