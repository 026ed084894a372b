"""HTML pages: one map page per job, each a light shell whose data the browser fetches."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, current_app, g, render_template, request, url_for

from patrolmap.access import allowed, rule_for
from patrolmap.errors import NotFound
from patrolmap.extensions import db
from patrolmap.layers import LAYERS
from patrolmap.maps import (
    OSM_BASEMAP,
    Basemap,
    LayerView,
    MapOptions,
    MapParts,
    build_map,
    render_parts,
    with_nonce,
)
from patrolmap.models import Campus
from patrolmap.store import campus_extent, list_campuses
from patrolmap.web.api import scoped_campus
from patrolmap.web.security import csp_nonce

bp = Blueprint("pages", __name__)


@dataclass(frozen=True)
class Page:
    """A job's page: the layers it shows at first; every other layer is there but off."""

    title: str
    layers_on: tuple[str, ...]
    record_violations: bool = False


PAGES: dict[str, Page] = {
    "overview": Page("Overview", tuple(LAYERS), record_violations=True),
    "patrol": Page("Patrol", ("buildings", "paths", "checkpoints", "grid-zones", "duty-posts")),
    "violations": Page("Violations", ("buildings", "paths", "parking-lots", "violations", "duty-posts"),
                       record_violations=True),
    "chargers": Page("Chargers", ("buildings", "paths", "parking-lots", "chargers")),
    "grid": Page("Grid", ("buildings", "grid-zones", "checkpoints")),
}
PAGE_URLS = {"overview": "/", "patrol": "/patrol", "violations": "/violations", "chargers": "/chargers",
             "grid": "/grid"}

LABELS = {
    "no_basemap": "No basemap", "legend": "Legend", "locate": "Show me where I am",
    "observed_at": "time", "power_kw": "power (kW)", "speed_limit_kmh": "speed limit (km/h)",
    "officer_phone": "phone", "near_fire_lane": "near a fire lane",
}


def configured_basemaps() -> list[Basemap]:
    """OpenStreetMap (needs internet) plus a tile source from configuration, if any."""
    basemaps = [OSM_BASEMAP]
    url = current_app.config.get("TILE_URL")
    if url:
        basemaps.append(Basemap(current_app.config.get("TILE_NAME", "Local tiles"), url,
                                current_app.config.get("TILE_ATTRIBUTION", ""),
                                int(current_app.config.get("TILE_MAX_ZOOM", 19)),
                                current_app.config.get("TILE_CRS", "wgs84")))
    return basemaps


def _campus(campuses: list[Campus]) -> Campus | None:
    key = request.args.get("campus")
    if key:
        return scoped_campus(key)
    return campuses[0] if campuses else None


def visible_pages() -> dict[str, Page]:
    """The pages the navigation offers this caller: the public view sees only the overview."""
    user = g.get("user")
    roles = user.role_set if user else None
    public_view = bool(current_app.config["PUBLIC_VIEW"])
    return {pid: p for pid, p in PAGES.items()
            if allowed(rule_for(f"pages.page_{pid}", "GET"), roles, public_view=public_view)}


def can_record() -> bool:
    """Offer the record form only to those the access table lets record."""
    user = g.get("user")
    return user is not None and allowed(rule_for("api.record_violation", "POST"), user.role_set)


def page(page_id: str) -> str:
    spec = PAGES.get(page_id)
    if spec is None:
        raise NotFound(f"unknown page {page_id!r}")
    campuses = list_campuses(db.session, g.scope.campus_ids)
    campus = _campus(campuses)
    extent = campus_extent(db.session, campus) if campus else None
    views = [
        LayerView(layer, url_for("api.layer_features", layer_id=layer.id),
                  url_for("api.layer_cells", layer_id=layer.id), show=layer.id in spec.layers_on)
        for layer in LAYERS.values() if g.scope.sees_layer(layer.id)
    ]
    options = MapOptions(
        bounds=tuple(extent.bounds) if extent is not None else None,
        static_url=url_for("static", filename="").rstrip("/"),
        campus=campus.slug if campus else None,
        limit=current_app.config["MAP_FEATURE_LIMIT"],
        basemaps=configured_basemaps(),
        record_url=url_for("api.record_violation") if spec.record_violations and campus and can_record() else None,
        labels=LABELS,
    )
    parts = render_parts(build_map(views, options))
    nonce = csp_nonce()
    parts = MapParts(with_nonce(parts.header, nonce), with_nonce(parts.html, nonce), parts.script)
    return render_template("map_page.html", page=spec, page_id=page_id, pages=visible_pages(), campus=campus,
                           campuses=campuses, map_parts=parts)


for _page_id, _url in PAGE_URLS.items():
    bp.add_url_rule(_url, endpoint=f"page_{_page_id}", view_func=page, defaults={"page_id": _page_id})
