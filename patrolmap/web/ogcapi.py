"""OGC API - Features under /ogcapi: what QGIS, ArcGIS and GDAL open as a source of patrolmap's layers.

Every resource answers JSON (GeoJSON for features, OpenAPI for /api) or HTML, chosen by ?f=json|html
or else by the Accept header (a browser gets HTML, GDAL and curl JSON). Access is the layer API's:
signed-in users (a script with its API token) see the layers and campuses of their scope with plates
masked where their role requires; anonymous callers only the public view, when it is on.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import orjson
from flask import Blueprint, Response, current_app, g, render_template, request, url_for
from flask_babel import gettext

from patrolmap.errors import BadRequest, NotFound, PatrolmapError, Unauthorized
from patrolmap.geojson import feature_collection, feature_json
from patrolmap.ogcapi import definition, items, openapi
from patrolmap.ogcapi.collections import COLLECTIONS, Collection, properties, queryables
from patrolmap.ogcapi.params import CRS84, parse_format, parse_items_query
from patrolmap.web.converters import MAX_ID

bp = Blueprint("ogcapi", __name__, url_prefix="/ogcapi")

JSON = "application/json"
GEOJSON = "application/geo+json"
HTML = "text/html"
CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/html",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
]
TRS = "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian"


# ---------------------------------------------------------------- negotiation and links


def response_format() -> str:
    """json or html: ?f= wins, else the Accept header (JSON unless the client prefers HTML)."""
    chosen = parse_format(request.args)
    if chosen:
        return chosen
    best = request.accept_mimetypes.best_match([JSON, GEOJSON, openapi.OPENAPI_MEDIA_TYPE, HTML], default=JSON)
    return "html" if best == HTML else "json"


def _safe_format() -> str:
    try:
        return response_format()
    except PatrolmapError:
        return "json"


def absolute(endpoint: str, **values: Any) -> str:
    """A link as clients follow it: from PATROLMAP_PUBLIC_URL behind a proxy, else from the request."""
    base = (current_app.config.get("PUBLIC_URL") or request.host_url).rstrip("/")
    return base + url_for(endpoint, **values)


def _link(href: str, rel: str, media_type: str, title: str) -> dict[str, str]:
    return {"href": href, "rel": rel, "type": media_type, "title": title}


def _self_links(endpoint: str, media_type: str = JSON, **values: Any) -> list[dict[str, str]]:
    """The resource in the format answered (self) and in the other one (alternate)."""
    as_json = _link(absolute(endpoint, **values, f="json"), "self", media_type, gettext("This document as JSON"))
    as_html = _link(absolute(endpoint, **values, f="html"), "alternate", HTML, gettext("This document as HTML"))
    if response_format() == "html":
        as_json["rel"], as_html["rel"] = "alternate", "self"
    return [as_json, as_html]


def _only(*accepted: str) -> None:
    """OGC API - Features refuses parameters it does not define."""
    for name in request.args:
        if name not in accepted:
            raise BadRequest("unknown parameter %(name)s; this resource accepts %(accepted)s", name=repr(name),
                             accepted=", ".join(accepted))
    parse_format(request.args)


def _json(body: Any, media_type: str = JSON) -> Response:
    return Response(orjson.dumps(body), content_type=media_type)


def _page(template: str, **context: Any) -> str:
    from patrolmap.web.pages import visible_pages

    return render_template(template, pages=visible_pages(), **context)


def _collection(collection_id: str) -> Collection:
    """A collection the caller may read; others answer 404 (401 for a stranger), as if absent."""
    collection = COLLECTIONS.get(collection_id)
    if collection is None or collection not in definition.visible_collections():
        if collection is not None and g.get("user") is None:
            raise Unauthorized("sign in to see this layer")
        raise NotFound("unknown collection %(collection)s; collections are %(collections)s",
                       collection=repr(collection_id),
                       collections=", ".join(c.id for c in definition.visible_collections()))
    return collection


# ---------------------------------------------------------------- errors


def _error_response(err: PatrolmapError) -> tuple[Response | str, int]:
    if _safe_format() == "html":
        return render_template("error.html", status=err.status, message=err.translated()), err.status
    body = {"code": type(err).__name__, "description": err.translated(), **err.to_dict()}
    response = _json(body)
    if err.status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="patrolmap"'  # an API token, from create-token
    return response, err.status


@bp.errorhandler(PatrolmapError)
def _patrolmap_error(err: PatrolmapError) -> tuple[Response | str, int]:
    return _error_response(err)


@bp.after_request
def _no_sign_in_page_for_clients(response: Response) -> Response:
    """A stranger's browser is sent to the sign-in page; a GIS client asking for JSON gets a 401 it can show."""
    if response.status_code == 302 and g.get("user") is None and _safe_format() == "json":
        body, status = _error_response(Unauthorized("sign in first"))
        assert isinstance(body, Response)
        body.status_code = status
        return body
    return response


# ---------------------------------------------------------------- landing page, conformance, API


@bp.get("/")
@bp.get("")
def landing() -> Response | str:
    _only("f")
    links = [
        *_self_links("ogcapi.landing"),
        _link(absolute("ogcapi.api", f="json"), "service-desc", openapi.OPENAPI_MEDIA_TYPE,
              gettext("The API definition (OpenAPI 3.0)")),
        _link(absolute("ogcapi.api", f="html"), "service-doc", HTML, gettext("The API documentation")),
        _link(absolute("ogcapi.conformance", f="json"), "conformance", JSON, gettext("Conformance classes")),
        _link(absolute("ogcapi.collections", f="json"), "data", JSON, gettext("The collections")),
    ]
    body = {"title": "patrolmap", "description": gettext("Campus security layers as OGC API - Features"),
            "links": links}
    if response_format() == "html":
        return _page("ogcapi_landing.html", doc=body, collections_url=url_for("ogcapi.collections", f="html"),
                     api_url=url_for("ogcapi.api", f="html"), conformance=CONFORMANCE,
                     base_url=absolute("ogcapi.landing"))
    return _json(body)


@bp.get("/conformance")
def conformance() -> Response | str:
    _only("f")
    if response_format() == "html":
        return _page("ogcapi_landing.html", doc=None, conformance=CONFORMANCE, collections_url=None, api_url=None,
                     base_url=absolute("ogcapi.landing"))
    return _json({"conformsTo": CONFORMANCE, "links": _self_links("ogcapi.conformance")})


@bp.get("/api")
def api() -> Response | str:
    _only("f")
    doc = openapi.build("patrolmap", "1.0", gettext("Campus security layers as OGC API - Features"))
    # Every other JSON endpoint is described too, its paths absolute (patrolmap.apidoc).
    root = (current_app.config.get("PUBLIC_URL") or request.host_url).rstrip("/")
    body = doc.render(absolute("ogcapi.landing"), base=definition.BASE, root_url=root)
    if response_format() == "html":
        return _page("ogcapi_api.html", doc=body)
    return _json(body, openapi.OPENAPI_MEDIA_TYPE)


# ---------------------------------------------------------------- collections


def _iso(value: dt.datetime | None) -> str | None:
    return None if value is None else value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def collection_info(collection: Collection) -> dict[str, Any]:
    """A collection's description: extent, item count, and links to its items in each format."""
    summary = items.summarize(collection)
    extent: dict[str, Any] = {}
    if summary.bbox is not None:
        extent["spatial"] = {"bbox": [list(summary.bbox)], "crs": CRS84}
    if summary.interval is not None:
        extent["temporal"] = {"interval": [[_iso(summary.interval[0]), _iso(summary.interval[1])]], "trs": TRS}
    info: dict[str, Any] = {
        "id": collection.id, "title": gettext(collection.title), "description": gettext(collection.description),
        "links": [
            _link(absolute("ogcapi.collection", collection_id=collection.id, f="json"), "self", JSON,
                  gettext("This collection")),
            _link(absolute("ogcapi.collection", collection_id=collection.id, f="html"), "alternate", HTML,
                  gettext("This collection as HTML")),
            _link(absolute("ogcapi.items", collection_id=collection.id, f="json"), "items", GEOJSON,
                  gettext("Its features as GeoJSON")),
            _link(absolute("ogcapi.items", collection_id=collection.id, f="html"), "items", HTML,
                  gettext("Its features as HTML")),
        ],
        "itemType": "feature", "crs": [CRS84], "itemCount": summary.count,
    }
    if extent:
        info["extent"] = extent
    return info


@bp.get("/collections")
def collections() -> Response | str:
    _only("f")
    body = {"links": _self_links("ogcapi.collections"),
            "collections": [collection_info(c) for c in definition.visible_collections()]}
    if response_format() == "html":
        return _page("ogcapi_collections.html", doc=body, single=False)
    return _json(body)


@bp.get("/collections/<collection_id>")
def collection(collection_id: str) -> Response | str:
    _only("f")
    info = collection_info(_collection(collection_id))
    if response_format() == "html":
        return _page("ogcapi_collections.html", doc={"collections": [info], "links": []}, single=True)
    return _json(info)


# ---------------------------------------------------------------- features


def _paging_links(collection: Collection, page: items.Page, offset: int, limit: int) -> list[dict[str, str]]:
    """next / prev keep every other parameter of the request, so a client walks exactly this query."""
    args = {k: v for k, v in request.args.items() if k not in ("offset", "f")}
    fmt = response_format()
    media = GEOJSON if fmt == "json" else HTML
    links = _self_links("ogcapi.items", GEOJSON, collection_id=collection.id, **args,
                        **({"offset": offset} if offset else {}))
    if offset + len(page.ids) < page.matched:
        links.append(_link(absolute("ogcapi.items", collection_id=collection.id, **args, offset=offset + limit,
                                    f=fmt), "next", media, gettext("Next page")))
    if offset > 0:
        links.append(_link(absolute("ogcapi.items", collection_id=collection.id, **args,
                                    offset=max(offset - limit, 0), f=fmt), "prev", media, gettext("Previous page")))
    links.append(_link(absolute("ogcapi.collection", collection_id=collection.id, f="json"), "collection", JSON,
                       gettext("The collection")))
    return links


def _now() -> str:
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


@bp.get("/collections/<collection_id>/items", endpoint="items")
def items_page(collection_id: str) -> Response | str:
    collection = _collection(collection_id)
    config = current_app.config
    query = parse_items_query(request.args, collection, queryables(collection, g.scope),
                              default_limit=config["API_DEFAULT_LIMIT"], max_limit=config["API_MAX_LIMIT"])
    page = items.read_page(collection, query)
    links = _paging_links(collection, page, query.offset, query.limit)
    if response_format() == "html":
        return _items_html(collection, page, links, offset=query.offset)
    body = feature_collection(page.ids, page.geometries, page.properties, links=links, timeStamp=_now(),
                              numberMatched=page.matched, numberReturned=len(page.ids))
    return Response(body, content_type=GEOJSON)


@bp.get("/collections/<collection_id>/items/<feature_id>", endpoint="item")
def item(collection_id: str, feature_id: str) -> Response | str:
    collection = _collection(collection_id)
    _only("f")
    try:
        fid = int(feature_id)
        if not 0 <= fid <= MAX_ID:
            raise ValueError(fid)
    except ValueError:
        raise NotFound("unknown feature %(id)s in %(collection)s", id=repr(feature_id),
                       collection=collection.id) from None
    page = items.read_item(collection, fid)
    links = [*_self_links("ogcapi.item", GEOJSON, collection_id=collection.id, feature_id=fid),
             _link(absolute("ogcapi.collection", collection_id=collection.id, f="json"), "collection", JSON,
                   gettext("The collection"))]
    if response_format() == "html":
        return _items_html(collection, page, links, offset=0, single=True)
    body = feature_json(page.ids[0], page.geometries[0], page.properties[0], links=links)
    return Response(body, content_type=GEOJSON)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return gettext("yes") if value else gettext("no")
    return str(value)


def _items_html(collection: Collection, page: items.Page, links: list[dict[str, str]], *, offset: int,
                single: bool = False) -> str:
    """A plain table: one row per feature, a link to each feature, and a link to the map of its campus."""
    columns = [p.name for p in properties(collection, g.scope)]
    slugs = {c.id: c.slug for c in items.campuses_seen()}
    rows = [{"id": fid, "cells": [_cell(props.get(name)) for name in columns],
             "url": url_for("ogcapi.item", collection_id=collection.id, feature_id=fid, f="html"),
             "map": url_for("pages.page_overview", campus=slugs.get(props.get("campus"))),
             "geometry": geom.geom_type if geom is not None else ""}
            for fid, geom, props in zip(page.ids, page.geometries, page.properties, strict=True)]
    by_rel = {link["rel"]: link["href"] for link in links}
    return _page("ogcapi_items.html", collection=collection, title=gettext(collection.title), columns=columns,
                 rows=rows, matched=page.matched, offset=offset, single=single, next_url=by_rel.get("next"),
                 prev_url=by_rel.get("prev"), json_url=next(link["href"] for link in links
                                                            if link["type"] == GEOJSON),
                 collection_url=url_for("ogcapi.collection", collection_id=collection.id, f="html"))
