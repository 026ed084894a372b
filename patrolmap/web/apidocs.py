"""GET /api/openapi.json: the OpenAPI 3.0 document of every JSON endpoint, for fuzzers and client generators.

The same operations as /ogcapi/api (the OGC API's own definition, whose OGC paths stay relative to
/ogcapi for GDAL and QGIS), all under absolute paths from one server, the way generic tools read them.
"""

from __future__ import annotations

import orjson
from flask import Blueprint, Response, current_app, request

import patrolmap.apidoc
import patrolmap.ogcapi.definition  # noqa: F401  (registers the OGC API - Features operations)
from patrolmap.ogcapi import openapi

bp = Blueprint("apidocs", __name__)
DESCRIPTION = "Campus security maps: every JSON endpoint, and the layers as OGC API - Features"


def document() -> dict:
    """The whole document for this caller, its server the address patrolmap is reached at."""
    doc = openapi.build("patrolmap", "1.0", DESCRIPTION)
    return doc.render((current_app.config.get("PUBLIC_URL") or request.host_url).rstrip("/"))


@bp.get("/api/openapi.json")
def openapi_json() -> Response:
    return Response(orjson.dumps(document()), content_type="application/json")
