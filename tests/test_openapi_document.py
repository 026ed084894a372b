"""The OpenAPI document describes every JSON endpoint: walking the app's URL map, nothing may be missing.

A route under /api/ (or one of the other JSON routes) added without a row in patrolmap/apidoc fails
here, so that fuzzers and client generators always see the whole API. The document is read back
through the app's own URL map: each documented path, filled in, must route to the endpoint and method
it claims, and every route must be reached that way.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.exceptions import MethodNotAllowed, NotFound

from patrolmap import access

# JSON endpoints outside /api/: signing in and out, the language, the probes, and OGC API - Features.
JSON_OUTSIDE_API = {("auth.login", "POST"), ("auth.logout", "POST"), ("auth.set_language", "POST"),
                    ("health.healthz", "GET"), ("health.readyz", "GET")}
METHODS = ("get", "post", "put", "patch", "delete")
pytestmark = pytest.mark.store("sqlite")  # the document does not depend on the store


def json_routes(app: Flask) -> set[tuple[str, str]]:
    """(endpoint, method) of every route that answers JSON: all of /api/ and /ogcapi, and JSON_OUTSIDE_API."""
    out = set(JSON_OUTSIDE_API)
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(("/api/", "/ogcapi")):
            out |= {(rule.endpoint, m) for m in rule.methods or () if m not in ("HEAD", "OPTIONS")}
    return out


def documented(app: Flask, doc: dict[str, Any], prefix: str = "") -> set[tuple[str, str]]:
    """(endpoint, method) that each documented operation routes to, its path parameters filled in."""
    adapter = app.url_map.bind("localhost")
    out = set()
    for path, item in doc["paths"].items():
        absolute = path if "servers" in item else prefix + path
        concrete = re.sub(r"\{[^}]+\}", "1", absolute)
        for method in METHODS:
            if method not in item:
                continue
            try:
                endpoint, _ = adapter.match(concrete, method.upper())
            except (NotFound, MethodNotAllowed):
                pytest.fail(f"{method.upper()} {absolute} is documented but not routed")
            out.add((endpoint, method.upper()))
    return out


def test_every_json_route_is_in_the_document(app: Flask, client: FlaskClient) -> None:
    response = client.get("/api/openapi.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    doc = response.get_json()
    assert doc["openapi"] == "3.0.3" and doc["servers"] == [{"url": "http://localhost"}]
    wanted = json_routes(app)
    missing = wanted - documented(app, doc)
    assert not missing, f"routes missing from patrolmap/apidoc: {sorted(missing)}"
    # Every operation names its roles as the access table does, and 4xx answers carry the error body.
    for path, item in doc["paths"].items():
        for method in METHODS:
            op = item.get(method)
            if op is None or path.startswith("/ogcapi"):
                continue
            assert op["responses"] and "x-patrolmap-roles" in op, (method, path)
            for status, answer in op["responses"].items():
                if status.startswith("4"):
                    assert answer["content"]["application/json"]["schema"] == {
                        "$ref": "#/components/schemas/Error"}, (method, path, status)


def test_security_follows_the_access_table(client: FlaskClient) -> None:
    doc = client.get("/api/openapi.json").get_json()
    schemes = doc["components"]["securitySchemes"]
    assert schemes["bearerToken"] == {**schemes["bearerToken"], "type": "http", "scheme": "bearer"}
    assert schemes["sessionCookie"]["name"] == "patrolmap_session" and schemes["csrfToken"]["in"] == "header"
    paths = doc["paths"]
    assert paths["/login"]["post"]["security"] == [{}]
    assert paths["/api/hazards"]["get"]["security"] == [{"bearerToken": []}, {"sessionCookie": []}]
    assert paths["/api/hazards"]["post"]["security"] == [{"bearerToken": []},
                                                          {"sessionCookie": [], "csrfToken": []}]
    roles = access.RULES[("grid_api.propose", "POST")]
    assert paths["/api/grid/propose"]["post"]["x-patrolmap-roles"] == sorted(roles)
    assert paths["/api/grid/propose"]["post"]["requestBody"]["content"]["application/json"]["schema"][
        "required"] == ["officers"]
    assert set(paths["/api/layers/{layer_id}/download"]["get"]["responses"]["200"]["content"]) == {
        "application/geo+json", "application/geopackage+sqlite3", "text/csv", "application/gpx+xml"}


def test_the_ogc_definition_describes_the_same_operations(app: Flask, client: FlaskClient) -> None:
    """/ogcapi/api keeps the OGC paths relative (GDAL looks them up there) and names a server for the rest."""
    full = client.get("/api/openapi.json").get_json()
    ogc = client.get("/ogcapi/api?f=json").get_json()
    assert ogc["servers"] == [{"url": "http://localhost/ogcapi"}]
    assert "/collections/violations/items" in ogc["paths"] and "/api/hazards" in ogc["paths"]
    assert ogc["paths"]["/api/hazards"]["servers"] == [{"url": "http://localhost"}]
    assert "servers" not in ogc["paths"]["/collections/violations/items"]
    assert documented(app, ogc, prefix="/ogcapi") == documented(app, full)
    page = client.get("/ogcapi/api?f=html")
    assert page.status_code == 200 and b"/api/hazards/{hazard_id}/transition" in page.data
