"""The OpenAPI description of every JSON endpoint beyond OGC API - Features, from one table per part.

Each module here holds a TAG and a list of Endpoints (patrolmap.apidoc.dsl); this package turns them
into operations of the document patrolmap.ogcapi.openapi assembles, served whole at /api/openapi.json
and, with the OGC operations' paths relative, at /ogcapi/api. Paths, path parameters, security and
the roles allowed are read from the app (its URL map and patrolmap.access), so they cannot drift; a
test walks the URL map and fails for any JSON route missing here.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from flask import current_app
from werkzeug.routing import Rule

from patrolmap import access
from patrolmap.apidoc import admin, chargers, common, grid, layers, patrol, violations
from patrolmap.apidoc.dsl import Endpoint, openapi_path
from patrolmap.ogcapi.openapi import Document, Operation, provider

TABLES: tuple[ModuleType, ...] = (layers, violations, patrol, grid, chargers, admin)
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def endpoints() -> list[Endpoint]:
    """Every operation the tables describe."""
    return [e for table in TABLES for e in table.ENDPOINTS]


def _rule(endpoint: str, method: str) -> Rule:
    for rule in current_app.url_map.iter_rules(endpoint):
        if method in (rule.methods or ()):
            return rule
    raise LookupError(f"the API tables describe {method} {endpoint}, which the app does not route")


def _roles(rule: str | frozenset[str] | None) -> str | list[str]:
    if rule is None:
        return "nobody"
    return rule if isinstance(rule, str) else sorted(rule)


def security(endpoint: str, method: str) -> list[dict[str, list[str]]]:
    """Who may call, as OpenAPI says it: an API token, or the session cookie (and its CSRF token for writes)."""
    rule = access.rule_for(endpoint, method)
    if rule == access.PUBLIC:
        return [{}]
    if endpoint == "auth.logout":  # ends the browser's session: the cookie and its CSRF token, never a token
        return [{"sessionCookie": [], "csrfToken": []}]
    out = list(common.WRITE if method in WRITES else common.READ)
    if rule == access.MAP_READ and current_app.config["PUBLIC_VIEW"]:
        out.append({})
    return out


def operation(entry: Endpoint, tag: str) -> Operation:
    """One table row as an OpenAPI operation."""
    rule = _rule(entry.endpoint, entry.method)
    path, schemas = openapi_path(rule.rule)
    schemas.update(entry.path_schemas)
    parameters: list[dict[str, Any]] = [{"name": name, "in": "path", "required": True, "schema": schema}
                                        for name, schema in schemas.items()]
    parameters += entry.parameters
    access_rule = access.rule_for(entry.endpoint, entry.method)
    codes = {400, *entry.errors}
    if access_rule != access.PUBLIC:
        codes |= {401, 403}
    if path.startswith("/api/") or schemas:
        codes.add(404)
    html = not path.startswith("/api/")  # patrolmap.errors.wants_json: JSON for /api/, else if asked for
    responses = {**entry.responses, **{str(c): common.error_response(c, html=html) for c in sorted(codes)}}
    return Operation(path, entry.method, entry.endpoint.replace(".", "_"), entry.summary, [tag],
                     description=entry.description, parameters=parameters, responses=responses,
                     request_body=entry.body, security=security(entry.endpoint, entry.method),
                     extensions={"x-patrolmap-roles": _roles(access_rule)})


@provider
def json_api(doc: Document) -> None:
    """Add every table's operations, the shared schemas and the security schemes."""
    common.register(doc)
    doc.security = list(common.READ) + ([{}] if current_app.config["PUBLIC_VIEW"] else [])
    for table in TABLES:
        name, description = table.TAG
        doc.tags.append({"name": name, "description": description})
        for entry in table.ENDPOINTS:
            doc.add(operation(entry, name))
