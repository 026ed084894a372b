"""Signing in, the layers, their downloads, recording violations and duty posts, and editing features."""

from __future__ import annotations

from patrolmap.apidoc.common import (
    CAMPUS,
    LIMIT,
    OFFSET,
    REASON,
    WARNINGS,
    collection_of,
    feature_of,
)
from patrolmap.apidoc.dsl import (
    ANY,
    BOOLEAN,
    CSV,
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
from patrolmap.editing import EDIT_ROLES
from patrolmap.geo.io import EXPORT_ENCODINGS
from patrolmap.geo.schema import SCHEMAS
from patrolmap.i18n import LANGUAGES
from patrolmap.layers import LAYERS
from patrolmap.ogcapi.collections import COLLECTIONS

TAG = ("Layers", "Signing in, the campus layers, downloads, recording violations and editing features")

LAYER_ID = enum(*LAYERS)
EDITED_LAYER = enum(*EDIT_ROLES)
VIOLATION_KINDS = enum(*(SCHEMAS["violations"].field("kind").choices or ()))
# A property value an edit may set: the layer's schema decides which (patrolmap.geo.schema).
VALUE = nullable({"oneOf": [STRING, NUMBER, BOOLEAN]})
GEOMETRY_IN = obj({"type": enum("Point", "LineString", "Polygon", "MultiPolygon", "MultiLineString", "MultiPoint"),
                   "coordinates": array(ANY)})
LONLAT = array(number(), minItems=2, maxItems=2)

SIGN_IN = obj({"username": text(64), "password": STRING})
ME = obj({"username": STRING, "roles": array(STRING), "csrf_token": nullable(STRING)})
CAMPUS_INFO = obj({"id": INTEGER, "slug": STRING, "name": STRING, "timezone": STRING},
                  {"university": nullable(STRING), "bbox": nullable(array(NUMBER, minItems=4, maxItems=4))})
ITEM_MEMBERS = {"type": enum("Feature"), "id": whole(1), "geometry": GEOMETRY_IN,
                "properties": nullable({"type": "object", "additionalProperties": VALUE}), "reason": text(1000)}
ITEM_FEATURE = obj(optional=ITEM_MEMBERS, closed=True)  # "type" may be left out: a Feature is what is read
EDITED = feature_of(obj({"version": INTEGER, "campus": STRING}), WARNINGS)

ENDPOINTS = [
    # ---------------------------------------------------------------- signing in
    Endpoint("auth.login", "POST", "Sign in: a session cookie and its CSRF token", {
        "200": answer("signed in; the session cookie is set", obj({"username": STRING, "csrf_token": STRING}))},
        body=json_body(SIGN_IN), errors=(401, 429),
        description="Send JSON to get JSON (a form post is answered with a redirect). Five failures for one "
                    "account, or twenty from one address, within 15 minutes get 429."),
    Endpoint("auth.logout", "POST", "Sign out: the session ends for good",
             {"200": answer("signed out", obj({"signed_out": BOOLEAN}))}),
    Endpoint("auth.set_language", "POST", "Choose the interface language (kept on the account)",
             {"200": answer("the language chosen", obj({"language": enum(*LANGUAGES)}))},
             body=json_body(obj({"language": STRING})),
             description="A signed-in caller sends the session's CSRF token; an API token cannot change it."),
    Endpoint("auth.me", "GET", "Who is calling: user name, roles and the session's CSRF token",
             {"200": answer("the caller", ME)}),
    # ---------------------------------------------------------------- layers
    Endpoint("api.campuses", "GET", "The campuses the caller sees, with their extents",
             {"200": answer("campuses", array(CAMPUS_INFO))}),
    Endpoint("api.layers", "GET", "The layers the caller sees",
             {"200": answer("layers", array(obj({"id": LAYER_ID, "title": STRING})))}),
    Endpoint("api.layer_features", "GET", "A layer's features in a bbox, a page at a time", {
        "200": geojson("a FeatureCollection; numberMatched counts every match", ref("FeatureCollection"))},
        parameters=(query("bbox", STRING, "minlon,minlat,maxlon,maxlat (WGS84)"), LIMIT, OFFSET, CAMPUS,
                    query("ids", STRING, "feature ids, comma-separated (at most 1000)"),
                    query("include_void", enum("true", "false", "1", "0"), "void violations too (violations only)"),
                    query("count", enum("true", "false"), "false skips counting a full page's matches")),
        path_schemas={"layer_id": LAYER_ID}),
    Endpoint("api.layer_cells", "GET", "Counts of a layer's features in a grid over a bbox", {
        "200": geojson("one Point per cell with its count and bounds", collection_of(
            properties=obj({"count": INTEGER, "bounds": array(NUMBER)})))},
        parameters=(query("bbox", STRING, "minlon,minlat,maxlon,maxlat (WGS84)", required=True),
                    query("nx", whole(1, 128), "columns"), query("ny", whole(1, 128), "rows"), CAMPUS),
        path_schemas={"layer_id": LAYER_ID}),
    Endpoint("downloads.download_layer", "GET", "One campus's layer as a file in the import format", {
        "200": download("GeoJSON, GeoPackage, CSV (UTF-8 with a BOM unless encoding says) or GPX (patrol routes)",
                        GEOJSON, "application/geopackage+sqlite3", CSV, "application/gpx+xml",
                        json=ref("FeatureCollection"))},
        parameters=(query("format", enum("geojson", "gpkg", "csv", "gpx"), "gpx: patrol-routes only"), CAMPUS,
                    query("encoding", enum(*EXPORT_ENCODINGS), "CSV only"),
                    query("chinese", enum("true", "false", "1", "0"), "CSV: Chinese headers and values")),
        path_schemas={"layer_id": enum(*LAYERS, *(c for c in COLLECTIONS if c not in LAYERS))}),
    # ---------------------------------------------------------------- recording
    Endpoint("api.record_violation", "POST", "Record one violation (it starts open)", {
        "201": geojson("the violation as stored (Location: its URL)", feature_of(ref("Feature"), WARNINGS))},
        body=json_body(obj({"lon": number(-180, 180), "lat": number(-90, 90), "kind": VIOLATION_KINDS}, {
            "campus": {"oneOf": [text(64), ID]}, "observed_at": DATE_TIME, "plate": nullable(text(32)),
            "note": nullable(text(2000)), "reporter": nullable(text(200)), "status": enum("open")}, closed=True)),
        errors=(422,)),
    Endpoint("dutyposts.create_duty_posts", "POST", "Save duty posts placed on the map (all or none)", {
        "201": geojson("the posts stored", ref("FeatureCollection"))},
        body=json_body(obj({"campus": {"oneOf": [text(64), ID]}, "type": enum("FeatureCollection"),
                            "features": array(obj({"type": enum("Feature"),
                                                   "geometry": obj({"type": enum("Point"), "coordinates": LONLAT}),
                                                   "properties": obj({"name": text(200)}, {"hours": nullable(text())},
                                                                     closed=True)}), minItems=1, maxItems=50)})),
        errors=(422,)),
    # ---------------------------------------------------------------- editing
    Endpoint("edit_api.read_item", "GET", "One feature of an edited layer, with its version", {
        "200": geojson("the feature", EDITED)}, path_schemas={"layer_id": EDITED_LAYER}),
    Endpoint("edit_api.create_item", "POST", "Add a feature (a GeoJSON Feature and campus)", {
        "201": geojson("the feature as stored (Location: its URL)", EDITED)},
        body=json_body(obj(optional={**ITEM_MEMBERS, "campus": {"oneOf": [text(64), ID]}}, closed=True)),
        path_schemas={"layer_id": EDITED_LAYER}, errors=(409, 422)),
    Endpoint("edit_api.replace_item", "PUT", "Replace a feature: the whole Feature with properties.version", {
        "200": geojson("the feature as stored", EDITED)}, body=json_body(ITEM_FEATURE),
        path_schemas={"layer_id": EDITED_LAYER}, errors=(409, 422)),
    Endpoint("edit_api.patch_item", "PATCH", "Change some fields and/or the geometry (properties.version)", {
        "200": geojson("the feature as stored", EDITED)}, body=json_body(ITEM_FEATURE),
        path_schemas={"layer_id": EDITED_LAYER}, errors=(409, 422)),
    Endpoint("edit_api.delete_item", "DELETE", "Delete a feature (audited; 409 when something refers to it)", {
        "200": answer("deleted", obj({"id": INTEGER, "layer": STRING, "deleted": BOOLEAN, "audit_id": INTEGER}))},
        parameters=(query("version", whole(1), "the version read", required=True), REASON),
        path_schemas={"layer_id": EDITED_LAYER}, errors=(409,),
        description='The version and reason may come as a JSON body {"version", "reason"} instead.'),
    Endpoint("edit_api.split_path", "POST", "Cut a path in two at a point", {
        "200": geojson("both pieces", ref("FeatureCollection"))},
        body=json_body(obj({"at": LONLAT, "version": whole(1)}, {"reason": text(1000)}, closed=True)),
        errors=(409, 422)),
    Endpoint("edit_api.join_paths", "POST", "Join two paths that meet end to end", {
        "200": geojson("the joined path", EDITED)},
        body=json_body(obj({"ids": array(whole(1), minItems=2, maxItems=2),
                            "versions": array(whole(1), minItems=2, maxItems=2)}, {"reason": text(1000)},
                           closed=True)), errors=(409, 422)),
    Endpoint("edit_api.revert_audit_entry", "POST", "Undo an audit entry's change (admins)", {
        "200": answer("reverted", obj({"reverted": INTEGER, "audit_id": INTEGER, "layer": STRING,
                                       "feature": nullable(ref("Feature"))}))},
        body=json_body(obj(optional={"reason": text(1000)}, closed=True), required=False), errors=(409, 422)),
]
