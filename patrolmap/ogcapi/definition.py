"""The OGC API - Features operations in the OpenAPI document: landing page, conformance, collections, items.

Each visible collection gets its own paths, so that a client reads there which properties it
may filter on (GDAL turns `kind = 'fire_lane'` into ?kind=fire_lane when the items path lists
a kind parameter) and whether ?datetime= applies.
"""

from __future__ import annotations

from typing import Any

from flask import current_app, g
from flask_babel import gettext

from patrolmap.ogcapi.collections import COLLECTIONS, Collection, is_visible, properties, queryables
from patrolmap.ogcapi.openapi import Document, Operation, json_response, provider
from patrolmap.ogcapi.params import CRS84

BASE = "/ogcapi"
TAG = "OGC API - Features"
GEOJSON = "application/geo+json"


def visible_collections() -> list[Collection]:
    """The collections this caller may read, in the registry's order."""
    user = g.get("user")
    roles = user.role_set if user else None
    public_view = bool(current_app.config["PUBLIC_VIEW"])
    return [c for c in COLLECTIONS.values() if is_visible(c, g.scope, roles, public_view=public_view)]


def _schemas(doc: Document) -> dict[str, dict[str, str]]:
    link = doc.component("schemas", "link", {
        "type": "object", "required": ["href", "rel"],
        "properties": {"href": {"type": "string"}, "rel": {"type": "string"}, "type": {"type": "string"},
                       "title": {"type": "string"}}})
    links = {"type": "array", "items": link}
    refs = {"link": link}
    refs["exception"] = doc.component("schemas", "exception", {
        "type": "object", "required": ["code"],
        "properties": {"code": {"type": "string"}, "description": {"type": "string"},
                       "error": {"type": "string"}, "message": {"type": "string"}}})
    refs["landingPage"] = doc.component("schemas", "landingPage", {
        "type": "object", "required": ["links"],
        "properties": {"title": {"type": "string"}, "description": {"type": "string"}, "links": links}})
    refs["confClasses"] = doc.component("schemas", "confClasses", {
        "type": "object", "required": ["conformsTo"],
        "properties": {"conformsTo": {"type": "array", "items": {"type": "string"}}}})
    extent = {"type": "object", "properties": {
        "spatial": {"type": "object", "properties": {
            "bbox": {"type": "array", "items": {"type": "array", "items": {"type": "number"}, "minItems": 4}},
            "crs": {"type": "string"}}},
        "temporal": {"type": "object", "properties": {
            "interval": {"type": "array", "items": {"type": "array", "items": {"type": "string", "nullable": True,
                                                                                 "format": "date-time"}}},
            "trs": {"type": "string"}}}}}
    refs["collection"] = doc.component("schemas", "collection", {
        "type": "object", "required": ["id", "links"],
        "properties": {"id": {"type": "string"}, "title": {"type": "string"}, "description": {"type": "string"},
                       "links": links, "extent": extent, "itemType": {"type": "string"},
                       "crs": {"type": "array", "items": {"type": "string"}},
                       "itemCount": {"type": "integer", "description": "features the caller may read"}}})
    refs["collections"] = doc.component("schemas", "collections", {
        "type": "object", "required": ["links", "collections"],
        "properties": {"links": links, "collections": {"type": "array", "items": refs["collection"]}}})
    refs["geometry"] = doc.component("schemas", "geometryGeoJSON", {
        "type": "object", "nullable": True, "required": ["type"],
        "properties": {"type": {"type": "string", "enum": ["Point", "MultiPoint", "LineString", "MultiLineString",
                                                            "Polygon", "MultiPolygon"]},
                       "coordinates": {"type": "array", "items": {}}}})
    return refs


def _feature_schemas(doc: Document, collection: Collection, refs: dict[str, dict[str, str]]) -> tuple[dict, dict]:
    props = {p.name: {**p.schema(), "nullable": True} for p in properties(collection, g.scope)}
    name = collection.id.replace("-", "_")
    feature = doc.component("schemas", f"{name}_feature", {
        "type": "object", "required": ["type", "geometry", "properties"],
        "properties": {"type": {"type": "string", "enum": ["Feature"]}, "id": {"type": "integer"},
                       "geometry": refs["geometry"], "properties": {"type": "object", "properties": props},
                       "links": {"type": "array", "items": refs["link"]}}})
    collection_schema = doc.component("schemas", f"{name}_featureCollection", {
        "type": "object", "required": ["type", "features"],
        "properties": {"type": {"type": "string", "enum": ["FeatureCollection"]},
                       "features": {"type": "array", "items": feature},
                       "links": {"type": "array", "items": refs["link"]}, "timeStamp": {"type": "string",
                                                                                       "format": "date-time"},
                       "numberMatched": {"type": "integer", "minimum": 0},
                       "numberReturned": {"type": "integer", "minimum": 0}}})
    return feature, collection_schema


def _parameters(doc: Document) -> dict[str, dict[str, str]]:
    limits = current_app.config
    return {
        "f": doc.component("parameters", "f", {
            "name": "f", "in": "query", "required": False, "style": "form", "explode": False,
            "description": "json, or html for a page to read; without it the Accept header decides",
            "schema": {"type": "string", "enum": ["json", "html"]}}),
        "bbox": doc.component("parameters", "bbox", {
            "name": "bbox", "in": "query", "required": False, "style": "form", "explode": False,
            "description": "minlon,minlat,maxlon,maxlat in WGS84 (CRS84); features whose geometry meets it",
            "schema": {"type": "array", "minItems": 4, "maxItems": 6, "items": {"type": "number"}}}),
        "bbox-crs": doc.component("parameters", "bbox-crs", {
            "name": "bbox-crs", "in": "query", "required": False, "schema": {"type": "string", "enum": [CRS84]}}),
        "limit": doc.component("parameters", "limit", {
            "name": "limit", "in": "query", "required": False, "style": "form", "explode": False,
            "description": (f"features per page: {limits['API_DEFAULT_LIMIT']:,} when not given, at most "
                            f"{limits['API_MAX_LIMIT']:,} (a larger limit is served as the maximum, with a next "
                            "link to the rest)"),
            "schema": {"type": "integer", "minimum": 1, "default": limits["API_DEFAULT_LIMIT"]}}),
        "offset": doc.component("parameters", "offset", {
            "name": "offset", "in": "query", "required": False, "style": "form", "explode": False,
            "description": "features to skip (next links carry it)",
            "schema": {"type": "integer", "minimum": 0, "default": 0}}),
        "datetime": doc.component("parameters", "datetime", {
            "name": "datetime", "in": "query", "required": False, "style": "form", "explode": False,
            "description": ("an RFC 3339 instant, a date (that day, UTC), or an interval start/end (closed; .. "
                            "or nothing for an open end); times without an offset are UTC"),
            "schema": {"type": "string"}}),
        "campus": doc.component("parameters", "campus", {
            "name": "campus", "in": "query", "required": False,
            "description": "one campus (slug or id) of those the caller sees", "schema": {"type": "string"}}),
        "featureId": doc.component("parameters", "featureId", {
            "name": "featureId", "in": "path", "required": True, "schema": {"type": "integer"}}),
    }


def _errors(refs: dict[str, dict[str, str]], *codes: str) -> dict[str, Any]:
    words = {"400": "a parameter that is unknown or wrong", "401": "not signed in (send Authorization: Bearer "
             "<token>)", "404": "no such collection or feature for this caller"}
    # ?f=html asks for a page, errors included
    return {code: {"description": words[code], "content": {"application/json": {"schema": refs["exception"]},
                                                           "text/html": {"schema": {"type": "string"}}}}
            for code in codes}


@provider
def ogc_api_features(doc: Document) -> None:
    """Add the OGC API - Features operations for the collections this caller sees."""
    refs = _schemas(doc)
    params = _parameters(doc)
    doc.tags.append({"name": TAG, "description": "OGC API - Features Part 1: Core, GeoJSON, HTML, OpenAPI 3.0"})
    common = [params["f"]]
    doc.add(Operation(BASE, "GET", "getLandingPage", "Landing page", [TAG], parameters=common,
                      responses={"200": json_response("links to the API, conformance and collections",
                                                      refs["landingPage"]), **_errors(refs, "400", "401")}))
    doc.add(Operation(f"{BASE}/conformance", "GET", "getConformanceDeclaration", "Conformance classes", [TAG],
                      parameters=common, responses={"200": json_response("the conformance classes implemented",
                                                                         refs["confClasses"]),
                                                    **_errors(refs, "400", "401")}))
    doc.add(Operation(f"{BASE}/api", "GET", "getAPIDefinition", "This API definition", [TAG], parameters=common,
                      responses={"200": json_response("the OpenAPI 3.0 document", {"type": "object"},
                                                      "application/vnd.oai.openapi+json;version=3.0"),
                                 **_errors(refs, "400", "401")}))
    doc.add(Operation(f"{BASE}/collections", "GET", "getCollections", "The collections", [TAG], parameters=common,
                      responses={"200": json_response("every collection the caller may read",
                                                      refs["collections"]), **_errors(refs, "400", "401")}))
    for collection in visible_collections():
        name = collection.id.replace("-", "_")
        title = gettext(collection.title)
        feature, features = _feature_schemas(doc, collection, refs)
        path = f"{BASE}/collections/{collection.id}"
        doc.add(Operation(path, "GET", f"describe_{name}", f"{title}: description", [TAG], parameters=common,
                          responses={"200": json_response("extent, item count and links", refs["collection"]),
                                     **_errors(refs, "400", "401")}))
        items = [params[p] for p in ("f", "bbox", "bbox-crs", "limit", "offset")]
        if collection.time_property:
            items.append(params["datetime"])
        items.append(params["campus"])
        items += [{"name": q.name, "in": "query", "required": False, "style": "form", "explode": False,
                   "description": f"only features whose {q.name} equals this", "schema": q.schema()}
                  for q in queryables(collection, g.scope).values()]
        doc.add(Operation(f"{path}/items", "GET", f"getItems_{name}", f"{title}: features",
                          [TAG], description=gettext(collection.description), parameters=items,
                          responses={"200": json_response("a page of features", features, GEOJSON),
                                     **_errors(refs, "400", "401", "404")}))
        doc.add(Operation(f"{path}/items/{{featureId}}", "GET", f"getItem_{name}", f"{title}: one feature", [TAG],
                          parameters=[params["featureId"], params["f"]],
                          responses={"200": json_response("the feature", feature, GEOJSON),
                                     **_errors(refs, "400", "401", "404")}))
