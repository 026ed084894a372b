"""What many operations share: the error body, GeoJSON shapes, security schemes and common parameters."""

from __future__ import annotations

from typing import Any

from patrolmap.apidoc.dsl import (
    ANY,
    INTEGER,
    STRING,
    Schema,
    array,
    enum,
    nullable,
    obj,
    query,
    ref,
    text,
    whole,
)
from patrolmap.ogcapi.openapi import Document

# Every refusal has this body (patrolmap.errors): a message in the caller's language, the error's name, and for
# some (422, 409) details.
ERROR: Schema = obj({"message": STRING}, {"error": STRING, "details": ANY,
                                          "code": STRING, "description": STRING})
GEOMETRY: Schema = nullable(obj({"type": STRING}, {"coordinates": array(ANY), "geometries": array(ANY)}))
FEATURE: Schema = obj({"type": enum("Feature"), "geometry": ref("Geometry"),
                       "properties": nullable({"type": "object"})},
                      {"id": {"oneOf": [INTEGER, STRING]}})
FEATURE_COLLECTION: Schema = obj({"type": enum("FeatureCollection"), "features": array(ref("Feature"))},
                                 {"numberMatched": whole(0), "numberReturned": whole(0)})

ERROR_WORDS = {
    400: "a parameter or body that cannot be understood, or a value out of its range",
    401: "not signed in: send Authorization: Bearer <API token> (flask create-token), or sign in at /login",
    403: "the caller's role may not do this (patrolmap.access), or a browser write without its CSRF token",
    404: "no such resource for this caller: other campuses' data answers as if it did not exist",
    409: "the record changed since it was read (send the version read), or the state forbids this now",
    410: "removed on purpose (a photo purged under the retention rules)",
    413: "the upload is larger than its limit",
    415: "an upload of a type not accepted here",
    422: "input that parsed but breaks a rule; details lists every problem found",
    429: "too many attempts; wait a few minutes",
}

SECURITY_SCHEMES: dict[str, dict[str, Any]] = {
    "bearerToken": {"type": "http", "scheme": "bearer",
                    "description": "An API token (flask --app patrolmap create-token USER --name NAME): scripts, "
                                   "GIS clients. Writes need nothing more."},
    "sessionCookie": {"type": "apiKey", "in": "cookie", "name": "patrolmap_session",
                      "description": "The browser's session after POST /login (30 idle minutes, 12 hours at most)."},
    "csrfToken": {"type": "apiKey", "in": "header", "name": "X-CSRF-Token",
                  "description": "The session's CSRF token (csrf_token of POST /login or GET /api/me): every write "
                                 "made with the session cookie carries it."},
}
READ = [{"bearerToken": []}, {"sessionCookie": []}]
WRITE = [{"bearerToken": []}, {"sessionCookie": [], "csrfToken": []}]


def register(doc: Document) -> None:
    """Put the shared schemas and the security schemes into the document's components."""
    for name, schema in (("Error", ERROR), ("Geometry", GEOMETRY), ("Feature", FEATURE),
                         ("FeatureCollection", FEATURE_COLLECTION)):
        doc.component("schemas", name, schema)
    for name, scheme in SECURITY_SCHEMES.items():
        doc.component("securitySchemes", name, scheme)


def error_response(status: int, *, html: bool = False) -> dict[str, Any]:
    """The error body; html: outside /api/ a browser's request (neither JSON nor asking for it) gets a page."""
    content: dict[str, Any] = {"application/json": {"schema": ref("Error")}}
    if html:
        content["text/html"] = {"schema": STRING}
    return {"description": ERROR_WORDS[status], "content": content}


def collection_of(members: dict[str, Schema] | None = None, properties: Schema | None = None) -> Schema:
    """A FeatureCollection with these extra members and (optionally) these feature properties."""
    parts: list[Schema] = [ref("FeatureCollection")]
    extra: Schema = obj(optional=members or {})
    if properties is not None:
        extra["properties"]["features"] = array(feature_of(properties))
    parts.append(extra)
    return {"allOf": parts}


def feature_of(properties: Schema, members: dict[str, Schema] | None = None) -> Schema:
    """A Feature whose properties follow this schema, with extra members (warnings...)."""
    return {"allOf": [ref("Feature"), obj(optional={"properties": properties, **(members or {})})]}


WARNINGS = {"warnings": array(STRING)}

# ---------------------------------------------------------------- parameters

CAMPUS = query("campus", text(64), "a campus (slug or id) among those the caller sees; needed when they see several")
LIMIT = query("limit", whole(1, 10_000), "items per page")
OFFSET = query("offset", whole(0, 10**9), "items to skip")
REASON = query("reason", text(1000), "why (kept in the audit log)")
VERSION = query("version", whole(1), "the version read, so that no edit is lost (409 when it moved on)")
FORMAT_JSON_CSV = query("format", enum("json", "csv"), "json (default) or csv (a file)")

# The time window of the traffic analysis (patrolmap.analysis.timewindow.TimeFilter).
WINDOW = (
    query("from", STRING, "first local date, YYYY-MM-DD"),
    query("to", STRING, "last local date, YYYY-MM-DD"),
    query("days", STRING, "weekdays, workdays, weekends, holidays, mon,wed or 1-5 ..."),
    query("hours", STRING, "local hours, e.g. 07:00-09:00,11:30-13:00"),
    query("kinds", STRING, "violation kinds, comma-separated (fire_lane, entrance, no_parking, zombie, other)"),
    query("term", STRING, "term time or holidays (the school calendar)"),
)
WINDOW_BODY: dict[str, Schema] = {p["name"]: STRING for p in WINDOW}
