"""HTML pages: one map page per job, each a light shell whose data the browser fetches."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Blueprint, current_app, g, render_template, request, url_for
from flask_babel import gettext
from sqlalchemy import select
from werkzeug.exceptions import HTTPException

from patrolmap.access import allowed, rule_for
from patrolmap.errors import NotFound
from patrolmap.extensions import db
from patrolmap.geo.kinds import KINDS as BUILDING_KINDS
from patrolmap.geo.schema import VIOLATION_KINDS
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
from patrolmap.models import Campus, Checkpoint, GridZone
from patrolmap.store import campus_extent, list_campuses
from patrolmap.transitions import TRANSITIONS
from patrolmap.web.api import scoped_campus
from patrolmap.web.security import csp_nonce
from patrolmap.wording import FIELD_LABELS, LAYER_TITLES, N_, PAGE_TITLES, value_labels

bp = Blueprint("pages", __name__)


@dataclass(frozen=True)
class Page:
    """A job's page: the layers it shows at first; every other layer is there but off."""

    title: str
    layers_on: tuple[str, ...]
    record_violations: bool = False
    analysis_tools: bool = False
    patrol_tools: bool = False  # the patrol lead's route planning and shift view (patrol.js, patrol_shifts.js)
    charger_tools: bool = False  # the planner's charger coverage, suggestions and scenarios (chargers.js)
    grid_tools: bool = False  # grid zones, proposals, hazards and their rectification loop, scorecards (grid.js)
    edit_tools: bool = False  # drawing, moving, reshaping, deleting features, editing attributes, undo (edit.js)


PAGES: dict[str, Page] = {
    "overview": Page(PAGE_TITLES["overview"], tuple(LAYERS), record_violations=True),
    "patrol": Page(PAGE_TITLES["patrol"], ("buildings", "paths", "checkpoints", "grid-zones", "duty-posts"),
                   patrol_tools=True),
    "violations": Page(PAGE_TITLES["violations"], ("buildings", "paths", "parking-lots", "violations", "duty-posts"),
                       record_violations=True, analysis_tools=True),
    "chargers": Page(PAGE_TITLES["chargers"], ("buildings", "paths", "parking-lots", "chargers"),
                     charger_tools=True),
    "grid": Page(PAGE_TITLES["grid"], ("buildings", "grid-zones", "checkpoints", "hazards"), grid_tools=True),
    "edit": Page(PAGE_TITLES["edit"], ("buildings", "paths", "checkpoints", "parking-lots", "chargers", "duty-posts"),
                 edit_tools=True),
}
PAGE_URLS = {"overview": "/", "patrol": "/patrol", "violations": "/violations", "chargers": "/chargers",
             "grid": "/grid", "edit": "/edit"}

# The map's own words (controls, forms, status), keyed by their English; patrolmap.js asks for them by key.
MAP_TEXTS = (
    N_("Legend"), N_("No basemap"), N_("Show me where I am"), N_("yes"), N_("no"),
    N_("Record a parking violation"), N_("Kind"), N_("Time"), N_("Plate"), N_("Note"), N_("Save"),
    N_("✚ Record"), N_("◎ Here"), N_("Click the map where the violation is"),
    N_("Record a violation at my current position"), N_("Recorded."),
    N_("%(count)s in view, grouped (zoom in for details)"), N_("%(shown)s of %(count)s shown"),
    N_("could not load: %(reason)s"), N_("Your position could not be found: %(reason)s"),
    N_("e.g. 京A12345, or 无牌 if there is none"),
    # violations.js
    N_("hot spot, 99 percent confidence"), N_("hot spot, 95 percent confidence"), N_("hot spot, 90 percent confidence"),
    N_("not significant"), N_("cold spot, 90 percent confidence"), N_("cold spot, 95 percent confidence"),
    N_("cold spot, 99 percent confidence"), N_("%(count)s violations"),
    N_("%(count)s violations in this window; %(hot)s hot cells"), N_("Mark this hotspot"), N_("Name"),
    N_("Hours"), N_("none found"), N_("seen on %(days)s days"), N_("Duty post %(n)s"),
    N_("covers %(count)s violations"), N_("reason (needed to void)"), N_("evidence photo"),
    N_("Add an evidence photo"), N_("(plate not shown)"),
    N_("Before: %(before)s violations in %(before_days)s days; after: %(after)s in %(after_days)s days"),
    N_("%(before)s before, %(after)s after"),
    # patrol.js
    N_("Point %(n)s"), N_("remove"), N_("Add to route"), N_("Start here"), N_("Start"), N_("start: %(name)s"),
    N_("already a stop"), N_("Click the map where the start is"), N_("Pick on the map"), N_("Stop picking"),
    N_("choose a start first"), N_("add at least one stop"), N_("Team %(team)s"), N_("Total"),
    N_("%(length)s m"), N_("%(minutes)s min"), N_("not reachable: %(reason)s"),
    N_("does not fit within the maximum duration"), N_("covered"), N_("not covered"), N_("teams %(teams)s"),
    N_("violation hotspot near %(building)s (%(count)s violations)"),
    N_("violation hotspot (%(count)s violations)"), N_("building %(id)s"),
    N_("%(buildings)s buildings, %(checkpoints)s checkpoints"), N_("Add the buildings (%(count)s)"),
    N_("Add the checkpoints (%(count)s)"), N_("no visit point: %(reason)s"), N_("choose kinds or zones"),
    N_("none"), N_("Saved."), N_("Load"), N_("Delete"), N_("Route sheet"), N_("Delete the route %(name)s?"),
    N_("no saved routes"), N_("editing %(name)s (version %(version)s)"), N_("name the route"),
    N_("%(stops)s stops · %(length)s m"), N_("checkpoint %(id)s"),
    N_("visited at the nearest path, %(distance)s m away"), N_("%(distance)s m"),
    # chargers.js
    N_("%(covered)s of %(total)s demand within %(walk)s m (%(chargers)s chargers)"),
    N_("%(distance)s m to the nearest charger"), N_("no charger within reach"), N_("demand %(weight)s"),
    N_("building"), N_("parking lot"), N_("parking lot %(id)s"), N_("Charger coverage"), N_("covered demand"),
    N_("uncovered demand"), N_("within walking distance of a charger"), N_("suggested new site"),
    N_("unsuitable"), N_("click to mark it unsuitable"),
    N_("unsuitable: click to use it again"), N_("penalty"), N_("penalty for %(name)s"), N_("Mark unsuitable"),
    N_("Use as a candidate again"), N_("Add a candidate on the map"), N_("Stop adding"), N_("Site %(n)s"),
    N_("covers %(weight)s more demand"), N_("no new site covers more demand"), N_("method: %(method)s"),
    N_("exact"), N_("heuristic"), N_("greedy"), N_("proven optimal"), N_("gap %(gap)s"), N_("%(ms)s ms"),
    N_("the target share is out of reach"), N_("target reached"), N_("add a candidate or use the parking lots"),
    N_("name the scenario"), N_("ask for suggested sites first"), N_("the scenario has no new sites"),
    N_("%(count)s new sites"), N_("Delete the scenario %(name)s?"), N_("no saved scenarios"),
    N_("tick at least two scenarios"), N_("Scenario"), N_("Charger kind"), N_("Walking distance (m)"), N_("Sites"),
    N_("New sites"), N_("Ports"), N_("Covered share"), N_("Covered demand"), N_("Uncovered demand"),
    # grid.js
    N_("%(count)s buildings"), N_("%(residents)s residents"), N_("a zone needs at least one building"),
    N_("Add a photo"), N_("Applied."), N_("Assigned to"), N_("Building"), N_("Buildings"), N_("Cancel"), N_("Category"),
    N_("choose at least one kind of building"),
    N_("Click buildings on the map to add them to this zone or take them out."), N_("Closed at"), N_("Closed by"),
    N_("Deadline"), N_("deadline %(time)s"), N_("describe the hazard"), N_("Description"), N_("Details"),
    N_("e.g. the logistics department"), N_("Edit"), N_("Escalate to the whole grid"), N_("Escalation reason"),
    N_("every status"), N_("every zone"), N_("give the number of officers"), N_("give the reason for escalating"),
    N_("given automatically if empty"), N_("grid officer"), N_("Grid zone"), N_("hazard %(id)s"), N_("hazard photo"),
    N_("History"), N_("in %(building)s"), N_("Issue a rectification notice"), N_("Last patrol route"),
    N_("Mark as rectified"), N_("mark read"), N_("Move"), N_("Move to"), N_("name the responsible unit"),
    N_("name the zone"), N_("no grid zones yet"), N_("no hazards"), N_("No move of this hazard is yours to make now."),
    N_("no notifications"), N_("no officer"), N_("nobody"), N_("notice %(number)s"), N_("Notice number"),
    N_("now in %(zone)s"), N_("Open hazards"), N_("outside every zone"), N_("Overdue"), N_("overdue"),
    N_("Photo (optional)"), N_("Pick buildings on the map"), N_("Printable rectification notice"),
    N_("Reason (needed to escalate)"), N_("Rectified by"), N_("Replace the %(old)s saved zones with these %(new)s?"),
    N_("Report"), N_("Report a hazard"), N_("Reported at"), N_("Reported by"), N_("Residents"), N_("Responsible unit"),
    N_("Responsible unit (for the notice)"), N_("Start rectifying"), N_("Status"), N_("status"), N_("Stop reporting"),
    N_("Urgency"), N_("Verification failed: rectify again"), N_("Verify and close"), N_("Violations (30 days)"),
    N_("Violations in the last %(days)s days"), N_("workload %(workload)s"), N_("zone %(id)s"), N_("Zone %(n)s"),
    # edit.js
    N_("Click a feature on the map to edit it, or draw a new one."),
    N_("Click the map at each corner; click the first corner again to close the area."),
    N_("Click the map at each point of the line; click the last point again to finish."),
    N_("Click the map where it is."), N_("Click the path to join with this one (they must share an end)."),
    N_("Click the point on the path where it should be split (within %(m)s m of it)."), N_("Created."),
    N_("Delete %(name)s?"),
    N_("Deleted."), N_("Drag the corners, or the centre handle to move it all; then save the shape."),
    N_("Draw a line"), N_("Draw an area"), N_("Edit the fields and save, or move, reshape or delete it."),
    N_("Fill in the form and save it."), N_("Joined."), N_("Move it all"), N_("New: %(layer)s"), N_("No changes."),
    N_("No other path there: click closer to the path to join with."), N_("Place a point"),
    N_("Reloaded: version %(version)s."), N_("Shape saved."), N_("Split in two."), N_("Undo the %(what)s"),
    N_("Undone."), N_("deletion of %(name)s"), N_("edit of %(name)s"), N_("feature %(id)s"), N_("join of %(name)s"),
    N_("new %(name)s"), N_("shape of %(name)s"), N_("split of %(name)s"),
)


def map_words() -> tuple[dict[str, str], dict[str, str], dict[str, str], dict[str, str]]:
    """Labels, layer titles, coded values and interface texts in the language of this request."""
    labels = {name: gettext(text) for name, text in FIELD_LABELS.items()}
    labels.update(no_basemap=gettext("No basemap"), legend=gettext("Legend"), locate=gettext("Show me where I am"))
    titles = {layer_id: gettext(text) for layer_id, text in LAYER_TITLES.items()}
    values = value_labels(gettext)
    texts = {text: gettext(text) for text in MAP_TEXTS}
    return labels, titles, values, texts


def configured_basemaps() -> list[Basemap]:
    """The basemaps offered after "No basemap" (the default, which needs no network), in order.

    OpenStreetMap and AMap/Gaode (GCJ-02) need internet; Tianditu's street map and imagery
    need internet and a key (PATROLMAP_TIANDITU_KEY); then the configured tile source
    (PATROLMAP_TILE_URL, drawn in PATROLMAP_TILE_CRS) and every configured MBTiles file,
    which patrolmap serves itself.
    """
    from patrolmap.maps import amap_basemap, tianditu_basemap
    from patrolmap.web.tiles import configured_tilesets, tile_url_template

    config = current_app.config
    basemaps = [OSM_BASEMAP, amap_basemap(gettext("AMap / Gaode"))]
    key = config.get("TIANDITU_KEY")
    if key:
        basemaps += [tianditu_basemap(gettext("Tianditu"), key, "vec", "cva"),
                     tianditu_basemap(gettext("Tianditu imagery"), key, "img", "cia")]
    url = config.get("TILE_URL")
    if url:
        basemaps.append(Basemap(config.get("TILE_NAME") or gettext("Local tiles"), url,
                                config.get("TILE_ATTRIBUTION", ""),
                                int(config.get("TILE_MAX_ZOOM", 19)), config.get("TILE_CRS", "wgs84"),
                                subdomains=config.get("TILE_SUBDOMAINS") or "abc"))
    for tileset in configured_tilesets().values():
        basemaps.append(Basemap(tileset.title, tile_url_template(tileset.name), tileset.attribution,
                                tileset.max_zoom, tileset.crs, min_zoom=tileset.min_zoom))
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


def analysis_tools(campus: Campus) -> dict[str, object]:
    """Where violations.js finds the analysis API (paths fixed by the API's contract)."""
    return {
        "campus": campus.slug,
        "hotspotsUrl": "/api/violations/hotspots", "repeatUrl": "/api/violations/repeat",
        "zombiesUrl": "/api/violations/zombies", "plateUrl": "/api/violations/plate",
        "suggestUrl": "/api/duty-posts/suggest", "dutyPostsUrl": url_for("dutyposts.create_duty_posts"),
        "markedUrl": "/api/hotspots", "canEdit": can_record(), "compareUrl": url_for("compare.compare_periods"),
        "transitionUrl": "/api/violations/{id}/transition", "photosUrl": "/api/violations/{id}/photos",
        "photoUrl": "/api/photos/{sha256}", "transitions": {k: list(v) for k, v in TRANSITIONS.items()},
        "seesPhotos": bool(g.scope.personal_data),
    }


def can_plan() -> bool:
    """Offer route planning (and the shift view beside it) only to those the access table lets plan."""
    user = g.get("user")
    return user is not None and allowed(rule_for("routes.plan_route", "POST"), user.role_set)


START_KINDS = ("office", "gate")  # where a patrol sets out from: the security office or a gate


def patrol_tools(campus: Campus) -> dict[str, Any]:
    """Where patrol.js finds the planning and saved-route APIs (paths fixed by their contract).

    Nothing stored goes in here: Folium parses the rendered script as a template again, so a
    name holding template syntax would break the page (or worse). Names reach the page through
    patrol_choices and the Jinja template, escaped.
    """
    return {
        "campus": campus.slug, "planUrl": url_for("routes.plan_route"),
        "candidatesUrl": url_for("patrol_select.candidates"),
        "routesUrl": "/api/routes", "routeUrl": "/api/routes/{id}", "gpxUrl": "/api/routes/{id}.gpx",
        "geojsonUrl": "/api/routes/{id}.geojson", "sheetUrl": "/patrol/routes/{id}/sheet",
        "nearM": 50, "maxNearM": 500, "maxTeams": 20,
    }


CHARGERS_API = "/api/chargers"  # paths fixed by the chargers API's contract (patrolmap/web/chargers_api.py)
CHARGER_WALK_M = (50, 300, 1000)  # the walking distance slider: least, first shown, most (metres)
CHARGER_MAX_K = 20  # new sites a planner may ask for at once on the page (the API takes up to 50)


def can_call(path: str, method: str) -> bool:
    """Whether the access table lets this caller call the endpoint serving `path` (False when none does).

    Looked up by URL, not by endpoint name, so a page offers a tool only once its API is registered.
    """
    user = g.get("user")
    if user is None:
        return False
    try:
        endpoint, _ = current_app.create_url_adapter(request).match(path, method=method)
    except HTTPException:
        return False
    rule = rule_for(endpoint, method)
    return rule is not None and allowed(rule, user.role_set)


def charger_tools(campus: Campus) -> dict[str, Any] | None:
    """Where chargers.js finds the coverage, suggestion and scenario APIs, and what this caller may do there.

    Only URLs, the campus slug, numbers and flags: Folium parses the rendered script as a template
    again, so stored names (scenarios, parking lots) are fetched by the browser, never put in here.
    None when the caller may not read coverage (or the API is not there).
    """
    api = CHARGERS_API
    if not can_call(f"{api}/coverage", "GET"):
        return None
    least, first, most = CHARGER_WALK_M
    return {
        "campus": campus.slug, "coverageUrl": f"{api}/coverage", "suggestUrl": f"{api}/suggest",
        "scenariosUrl": f"{api}/scenarios", "scenarioUrl": f"{api}/scenarios/{{id}}",
        "compareUrl": f"{api}/scenarios/compare", "geojsonUrl": f"{api}/scenarios/{{id}}.geojson",
        "csvUrl": f"{api}/scenarios/{{id}}.csv",
        "lotsUrl": url_for("api.layer_features", layer_id="parking-lots"),
        "canSuggest": can_call(f"{api}/suggest", "POST"), "canEdit": can_call(f"{api}/scenarios", "POST"),
        "canList": can_call(f"{api}/scenarios", "GET"),
        "kind": "car", "walkM": first, "minWalkM": least, "maxWalkM": most, "maxK": CHARGER_MAX_K,
    }


GRID_API = "/api/grid"  # paths fixed by the contract (patrolmap/web/grid_api.py, hazards_api.py)
HAZARDS_API = "/api/hazards"
GRID_KINDS = ("dorm", "staff_apartment")  # what a proposal splits among the officers unless told otherwise
GRID_RECENT_DAYS = 30  # an officer's "recent violations" in their zones
GRID_MAX_OFFICERS = 100


def grid_tools(campus: Campus) -> dict[str, Any] | None:
    """Where grid.js finds the zones, hazards, scorecard and notification APIs, and what this caller may do.

    Only URLs, the campus slug, the caller's id, codes, numbers and flags: Folium parses the rendered
    script as a template again, so zone, building, officer and hazard names are fetched by the browser.
    None when the caller may not read zones (or the API is not there).
    """
    if not can_call(f"{GRID_API}/zones", "GET"):
        return None
    from patrolmap import hazards

    user = g.user
    return {
        "campus": campus.slug, "userId": user.id,
        "zonesUrl": f"{GRID_API}/zones", "zoneUrl": f"{GRID_API}/zones/{{id}}", "proposeUrl": f"{GRID_API}/propose",
        "applyUrl": f"{GRID_API}/zones/apply", "officersUrl": f"{GRID_API}/officers",
        "scorecardsUrl": f"{GRID_API}/scorecards", "hazardsUrl": HAZARDS_API, "hazardUrl": f"{HAZARDS_API}/{{id}}",
        "transitionUrl": f"{HAZARDS_API}/{{id}}/transition", "photosUrl": f"{HAZARDS_API}/{{id}}/photos",
        "noticeUrl": "/hazards/{id}/notice",
        "notificationsUrl": "/api/notifications", "notificationReadUrl": "/api/notifications/{id}/read",
        "buildingsUrl": url_for("api.layer_features", layer_id="buildings"),
        "violationsUrl": url_for("api.layer_features", layer_id="violations"), "meUrl": url_for("auth.me"),
        "canPropose": can_call(f"{GRID_API}/propose", "POST"), "canApply": can_call(f"{GRID_API}/zones/apply", "POST"),
        "canEditZones": can_call(f"{GRID_API}/zones/1", "PUT"), "canOfficers": can_call(f"{GRID_API}/officers", "GET"),
        "canReadHazards": can_call(HAZARDS_API, "GET"), "canReport": can_call(HAZARDS_API, "POST"),
        "canTransition": can_call(f"{HAZARDS_API}/1/transition", "POST"),
        "canPhoto": can_call(f"{HAZARDS_API}/1/photos", "POST"),
        "canScore": can_call(f"{GRID_API}/scorecards", "GET"), "canNotify": can_call("/api/notifications", "GET"),
        "recentDays": GRID_RECENT_DAYS, "maxOfficers": GRID_MAX_OFFICERS,
        "categories": list(hazards.CATEGORIES), "urgencies": list(hazards.URGENCIES),
        "statuses": list(hazards.STATUSES),
        "transitions": {k: list(v) for k, v in hazards.TRANSITIONS.items()},
        "openStatuses": list(hazards.OPEN_STATUSES),
        "overdueStatuses": sorted(hazards.OVERDUE_STATUSES),
    }


EDIT_API = "/api/layers"  # paths fixed by issue 10's contract (patrolmap/web/edit_api.py)
SPLIT_MAX_M = 10  # how far from a path a split point may be clicked (the API snaps it onto the line)


def edit_tools(campus: Campus) -> dict[str, Any] | None:
    """Where edit.js finds the editing API, and the layers this caller may edit with their fields' rules.

    Only URLs, the campus slug, numbers, codes and fixed labels: Folium parses the rendered script as a
    template again, so feature names are fetched by the browser. The layers are those EDIT_ROLES gives one of
    the caller's roles (the API checks again on every write); None when there is none (or no API).
    """
    from patrolmap.editing import EDIT_ROLES
    from patrolmap.geo.schema import SCHEMAS

    user = g.get("user")
    if user is None or not can_call(f"{EDIT_API}/paths/items/1", "GET"):
        return None
    layers = [layer for layer, roles in EDIT_ROLES.items() if user.role_set & roles and g.scope.sees_layer(layer)]
    if not layers:
        return None
    fields = [spec for layer in layers for spec in SCHEMAS[layer].fields]
    return {
        "campus": campus.slug, "itemsUrl": f"{EDIT_API}/{{layer}}/items",
        "itemUrl": f"{EDIT_API}/{{layer}}/items/{{id}}", "splitUrl": f"{EDIT_API}/paths/items/{{id}}/split",
        "joinUrl": f"{EDIT_API}/paths/join", "splitMaxM": SPLIT_MAX_M,
        "layers": [{"id": layer, "geometry": list(SCHEMAS[layer].geometry_types),
                    "fields": [{"name": f.name, "type": f.type, "choices": list(f.choices) if f.choices else None,
                                "min": f.min, "max": f.max, "required": f.required, "default": f.default,
                                "maxLength": f.max_length} for f in SCHEMAS[layer].fields]}
                   for layer in layers],
        "labels": {f.name: gettext(FIELD_LABELS[f.name]) if f.name in FIELD_LABELS else f.name for f in fields},
    }


def grid_kinds(values: dict[str, str]) -> list[tuple[str, str, bool]]:
    """The building kinds a proposal may split, as (code, label, chosen at first) for the panel."""
    return [(k, values.get(k, k), k in GRID_KINDS) for k in BUILDING_KINDS]


def patrol_choices(campus: Campus, values: dict[str, str]) -> dict[str, Any]:
    """The planning panel's choices: starts (the office, the gates), grid zones, building kinds."""
    starts = db.session.execute(select(Checkpoint.id, Checkpoint.name, Checkpoint.kind, Checkpoint.geom).where(
        Checkpoint.campus_id == campus.id, Checkpoint.kind.in_(START_KINDS)).order_by(Checkpoint.kind.desc(),
                                                                                      Checkpoint.name)).all()
    zones = db.session.execute(select(GridZone.id, GridZone.name).where(GridZone.campus_id == campus.id)
                               .order_by(GridZone.id)).all()
    return {
        "starts": [{"id": i, "name": n, "kind": k, "lon": geom.x, "lat": geom.y} for i, n, k, geom in starts],
        "zones": [{"id": i, "name": n} for i, n in zones],
        "kinds": [[k, values.get(k, k)] for k in BUILDING_KINDS],
    }


def shift_tools(campus: Campus) -> dict[str, Any]:
    """The shift view's config (patrol_shifts.js), from the module that serves its API."""
    from patrolmap.web.patrol_exec import shift_tool_config

    return shift_tool_config(campus)


def can_record() -> bool:
    """Offer the record form only to those the access table lets record."""
    user = g.get("user")
    return user is not None and allowed(rule_for("api.record_violation", "POST"), user.role_set)


def page(page_id: str) -> str:
    spec = PAGES.get(page_id)
    if spec is None:
        raise NotFound("unknown page %(page)s", page=repr(page_id))
    campuses = list_campuses(db.session, g.scope.campus_ids)
    campus = _campus(campuses)
    extent = campus_extent(db.session, campus) if campus else None
    views = [
        LayerView(layer, url_for("api.layer_features", layer_id=layer.id),
                  url_for("api.layer_cells", layer_id=layer.id), show=layer.id in spec.layers_on)
        for layer in LAYERS.values() if g.scope.sees_layer(layer.id)
    ]
    labels, titles, values, texts = map_words()
    options = MapOptions(
        bounds=tuple(extent.bounds) if extent is not None else None,
        static_url=url_for("static", filename="").rstrip("/"),
        campus=campus.slug if campus else None,
        limit=current_app.config["MAP_FEATURE_LIMIT"],
        basemaps=configured_basemaps(),
        record_url=url_for("api.record_violation") if spec.record_violations and campus and can_record() else None,
        labels=labels, titles=titles, values=values, texts=texts,
        tools=analysis_tools(campus) if spec.analysis_tools and campus else None,
        patrol_tools=patrol_tools(campus) if spec.patrol_tools and campus and can_plan() else None,
        patrol_shifts=shift_tools(campus) if spec.patrol_tools and campus and can_plan() else None,
        charger_tools=charger_tools(campus) if spec.charger_tools and campus else None,
        grid_tools=grid_tools(campus) if spec.grid_tools and campus else None,
        edit_tools=edit_tools(campus) if spec.edit_tools and campus else None,
    )
    parts = render_parts(build_map(views, options))
    nonce = csp_nonce()
    parts = MapParts(with_nonce(parts.header, nonce), with_nonce(parts.html, nonce), parts.script)
    return render_template("map_page.html", page=spec, page_id=page_id, pages=visible_pages(), campus=campus,
                           campuses=campuses, map_parts=parts, tools=options.tools, can_edit=can_record(),
                           violation_kinds=[(k, values[k]) for k in VIOLATION_KINDS],
                           patrol_tools=options.patrol_tools, patrol_shifts=options.patrol_shifts,
                           charger_tools=options.charger_tools, grid_tools=options.grid_tools,
                           edit_tools=options.edit_tools,
                           grid_kinds=grid_kinds(values) if options.grid_tools else None,
                           patrol_choices=patrol_choices(campus, values) if options.patrol_tools else None)


for _page_id, _url in PAGE_URLS.items():
    bp.add_url_rule(_url, endpoint=f"page_{_page_id}", view_func=page, defaults={"page_id": _page_id})
