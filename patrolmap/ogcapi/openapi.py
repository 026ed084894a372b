"""An OpenAPI 3.0 document assembled from operations that each part of patrolmap declares.

Parts register a provider (a function that adds its operations and schemas to a Document);
a document is rendered for a base path: the OGC API's own definition (/ogcapi/api) keeps the
operations under /ogcapi with paths relative to it, which is how GDAL and QGIS look up a
collection's parameters (/collections/violations/items), while a document of every JSON
endpoint would render them all from the root. Providers read the caller's scope, so a
document never names a collection or filter the caller may not use.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

OPENAPI_MEDIA_TYPE = "application/vnd.oai.openapi+json;version=3.0"


@dataclass
class Operation:
    """One method on one path (absolute, as the app routes it, e.g. /ogcapi/collections/{collectionId})."""

    path: str
    method: str
    operation_id: str
    summary: str
    tags: list[str] = field(default_factory=list)
    description: str | None = None
    parameters: list[dict[str, Any]] = field(default_factory=list)
    responses: dict[str, Any] = field(default_factory=dict)
    request_body: dict[str, Any] | None = None
    security: list[dict[str, list[str]]] | None = None  # None: the document's default
    extensions: dict[str, Any] = field(default_factory=dict)  # x-... members

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"operationId": self.operation_id, "summary": self.summary}
        if self.tags:
            out["tags"] = self.tags
        if self.description:
            out["description"] = self.description
        if self.parameters:
            out["parameters"] = self.parameters
        if self.request_body is not None:
            out["requestBody"] = self.request_body
        out["responses"] = self.responses
        if self.security is not None:
            out["security"] = self.security
        out.update(self.extensions)
        return out


@dataclass
class Document:
    """Operations and reusable components, rendered as one OpenAPI 3.0 document."""

    title: str
    version: str
    description: str = ""
    operations: list[Operation] = field(default_factory=list)
    components: dict[str, dict[str, Any]] = field(default_factory=dict)
    tags: list[dict[str, str]] = field(default_factory=list)
    security: list[dict[str, list[str]]] = field(default_factory=list)  # the default of every operation

    def add(self, operation: Operation) -> None:
        self.operations.append(operation)

    def component(self, kind: str, name: str, value: dict[str, Any]) -> dict[str, str]:
        """Register a component (schemas, parameters, responses) and return a $ref to it."""
        self.components.setdefault(kind, {})[name] = value
        return {"$ref": f"#/components/{kind}/{name}"}

    def render(self, server_url: str, *, base: str = "", root_url: str | None = None) -> dict[str, Any]:
        """The document for the operations under `base`, their paths relative to server_url.

        With root_url, the operations outside `base` are kept too, under their absolute paths, each
        path naming root_url as its server: the OGC API's own definition (/ogcapi/api) keeps its paths
        relative, which is where GDAL looks them up, and still describes every other endpoint.
        """
        paths: dict[str, dict[str, Any]] = {}
        for op in self.operations:
            inside = not base or op.path == base or op.path.startswith(base + "/")
            if inside:
                key = op.path[len(base):] or "/"
            elif root_url is not None:
                key = op.path
                paths.setdefault(key, {})["servers"] = [{"url": root_url.rstrip("/") or "/"}]
            else:
                continue
            paths.setdefault(key, {})[op.method.lower()] = op.to_dict()
        doc: dict[str, Any] = {
            "openapi": "3.0.3",
            "info": {"title": self.title, "version": self.version, "description": self.description},
            "servers": [{"url": server_url}],
            "paths": paths,
        }
        if self.security:
            doc["security"] = self.security
        if self.tags:
            doc["tags"] = self.tags
        if self.components:
            doc["components"] = self.components
        return doc


Provider = Callable[[Document], None]
PROVIDERS: list[Provider] = []


def provider(fn: Provider) -> Provider:
    """Declare a function that adds a part's operations to every document."""
    if fn not in PROVIDERS:
        PROVIDERS.append(fn)
    return fn


def build(title: str, version: str, description: str = "") -> Document:
    """A document holding every registered part's operations."""
    doc = Document(title, version, description)
    for add in PROVIDERS:
        add(doc)
    return doc


def json_response(description: str, schema: dict[str, Any], media_type: str = "application/json",
                  *, html: bool = True) -> dict[str, Any]:
    """A 200 response in JSON (or GeoJSON, OpenAPI) and, for OGC resources, HTML."""
    content: dict[str, Any] = {media_type: {"schema": schema}}
    if html:
        content["text/html"] = {"schema": {"type": "string"}}
    return {"description": description, "content": content}
