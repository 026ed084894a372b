"""The small vocabulary the API tables are written in: JSON Schema shorthands, responses, and Endpoint.

An Endpoint names a Flask endpoint and a method; its path, path parameters, security and the
roles that may call it are read from the app itself (the URL map and patrolmap.access), so a
table row says only what the code cannot: the parameters, the body and the answers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

Schema = dict[str, Any]

STRING: Schema = {"type": "string"}
INTEGER: Schema = {"type": "integer"}
NUMBER: Schema = {"type": "number"}
BOOLEAN: Schema = {"type": "boolean"}
ANY: Schema = {}
DATE: Schema = {"type": "string", "format": "date"}
DATE_TIME: Schema = {"type": "string", "format": "date-time"}
ID: Schema = {"type": "integer", "minimum": 1, "maximum": 2**31 - 1}  # a record's id (32-bit columns)
BINARY: Schema = {"type": "string", "format": "binary"}

JSON = "application/json"
GEOJSON = "application/geo+json"
MULTIPART = "multipart/form-data"
CSV = "text/csv"


def ref(name: str) -> Schema:
    """A schema of the document's components (patrolmap.apidoc.common registers them)."""
    return {"$ref": f"#/components/schemas/{name}"}


def nullable(schema: Schema) -> Schema:
    """The schema, or null (OpenAPI 3.0 has no null type; a $ref cannot carry siblings, so it is wrapped)."""
    if "$ref" in schema:
        return {"allOf": [schema], "nullable": True}
    return {**schema, "nullable": True}


def array(items: Schema, **limits: Any) -> Schema:
    return {"type": "array", "items": items, **limits}


def obj(required: dict[str, Schema] | None = None, optional: dict[str, Schema] | None = None, *,
        closed: bool = False, **extra: Any) -> Schema:
    """An object with these members; closed: no others (the handlers that refuse unknown fields)."""
    properties = {**(required or {}), **(optional or {})}
    out: Schema = {"type": "object", "properties": properties, **extra}
    if required:
        out["required"] = list(required)
    if closed:
        out["additionalProperties"] = False
    return out


def enum(*values: str) -> Schema:
    return {"type": "string", "enum": list(values)}


def text(max_length: int | None = None, **extra: Any) -> Schema:
    out: Schema = {"type": "string", **extra}
    if max_length is not None:
        out["maxLength"] = max_length
    return out


def number(minimum: float | None = None, maximum: float | None = None, **extra: Any) -> Schema:
    out: Schema = {"type": "number", **extra}
    if minimum is not None:
        out["minimum"] = minimum
    if maximum is not None:
        out["maximum"] = maximum
    return out


def whole(minimum: int | None = None, maximum: int | None = None, **extra: Any) -> Schema:
    out: Schema = {"type": "integer", **extra}
    if minimum is not None:
        out["minimum"] = minimum
    if maximum is not None:
        out["maximum"] = maximum
    return out


def query(name: str, schema: Schema, description: str = "", *, required: bool = False) -> dict[str, Any]:
    """A query parameter (form style: a list is comma-separated, as the handlers split them)."""
    out: dict[str, Any] = {"name": name, "in": "query", "required": required, "schema": schema}
    if description:
        out["description"] = description
    if schema.get("type") == "array":
        out.update(style="form", explode=False)
    return out


def json_body(schema: Schema, *, required: bool = True, media_type: str = JSON) -> dict[str, Any]:
    return {"required": required, "content": {media_type: {"schema": schema}}}


def multipart(fields: dict[str, Schema], required: tuple[str, ...] = ("file",), *,
              raw: dict[str, Schema] | None = None) -> dict[str, Any]:
    """A multipart/form-data upload (a file field and form fields); raw: other media types sent as the body."""
    content: dict[str, Any] = {MULTIPART: {"schema": obj({k: v for k, v in fields.items() if k in required},
                                                        {k: v for k, v in fields.items() if k not in required})}}
    for media, schema in (raw or {}).items():
        content[media] = {"schema": schema}
    return {"required": True, "content": content}


def answer(description: str, schema: Schema | None = None, media_type: str = JSON, *,
           also: dict[str, Schema] | None = None) -> dict[str, Any]:
    """A response: JSON by default; `also` adds other media types (a CSV export of the same)."""
    out: dict[str, Any] = {"description": description}
    content: dict[str, Any] = {}
    if schema is not None:
        content[media_type] = {"schema": schema}
    for media, other in (also or {}).items():
        content[media] = {"schema": other}
    if content:
        out["content"] = content
    return out


def geojson(description: str, schema: Schema) -> dict[str, Any]:
    return answer(description, schema, GEOJSON)


def download(description: str, *media_types: str, json: Schema = ANY) -> dict[str, Any]:
    """A file to save in one of these media types: bytes, or JSON of the schema given (a GeoJSON file)."""
    return {"description": description,
            "content": {m: {"schema": json if m.endswith("json") else BINARY} for m in media_types}}


@dataclass(frozen=True)
class Endpoint:
    """One operation: the Flask endpoint and method it documents, and what it takes and answers."""

    endpoint: str  # e.g. "hazards_api.read_hazard": the path and path parameters come from the app's URL map
    method: str
    summary: str
    responses: dict[str, dict[str, Any]]  # the answers other than errors, by status
    parameters: tuple[dict[str, Any], ...] = ()
    body: dict[str, Any] | None = None
    errors: tuple[int, ...] = ()  # beyond 400, 401, 403 and 404, which every /api operation may answer
    path_schemas: dict[str, Schema] = field(default_factory=dict)  # narrower than the converter's type
    description: str | None = None


_CONVERTER = re.compile(r"<(?:(?P<converter>[a-zA-Z_][a-zA-Z0-9_]*)(?:\([^)]*\))?:)?(?P<name>[a-zA-Z_][a-zA-Z0-9_]*)>")
CONVERTER_SCHEMAS: dict[str, Schema] = {
    "int": {"type": "integer", "minimum": 0, "maximum": 2**31 - 1},  # patrolmap.web.converters.StoredId
    "float": {"type": "number", "minimum": 0},
    "default": {"type": "string"},
    "string": {"type": "string"},
    "path": {"type": "string"},
}


def openapi_path(rule: str) -> tuple[str, dict[str, Schema]]:
    """A Werkzeug rule (/api/routes/<int:route_id>.gpx) as an OpenAPI path and its parameters' schemas."""
    schemas: dict[str, Schema] = {}

    def swap(match: re.Match[str]) -> str:
        schemas[match["name"]] = dict(CONVERTER_SCHEMAS.get(match["converter"] or "default", {"type": "string"}))
        return "{" + match["name"] + "}"

    return _CONVERTER.sub(swap, rule), schemas
