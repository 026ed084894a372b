"""Who may call what: one declared table of endpoint x method -> roles, enforced for every request.

An endpoint missing from the table is refused (and fails the test that walks the
table), so a new route cannot ship open by accident.
"""

from __future__ import annotations

from patrolmap.editing import EDITORS
from patrolmap.hazards import MOVERS, REPORTERS
from patrolmap.models import ROLES

PUBLIC = "public"  # anyone, signed in or not
SIGNED_IN = "signed_in"  # any signed-in user
EVERY_ROLE = frozenset(ROLES)
# Every role, and anonymous callers too when the public view is switched on (PUBLIC_VIEW);
# what they then see is limited by patrolmap.scope.
MAP_READ = "map_read"
ADMIN = frozenset({"admin"})
TRAFFIC_WRITE = frozenset({"admin", "traffic_staff"})
PATROL_LEAD = frozenset({"admin", "patrol_lead"})
PATROL_WALK = frozenset({"admin", "patrol_lead", "patrol_officer"})
PATROL_READ = frozenset({"admin", "patrol_lead", "patrol_officer"})
PATROL_WRITE = frozenset({"admin", "patrol_lead"})
CHARGER_PLAN = frozenset({"admin", "planner"})
# The department's leadership reports (/reports): those who report upward on violations, hazards, patrols, chargers.
REPORTS = frozenset({"admin", "patrol_lead", "traffic_staff", "planner", "grid_officer"})
# Hazards (patrolmap.hazards): who reports them, and who takes part in the rectification loop.
HAZARD_REPORT = REPORTERS
HAZARD_MOVE = MOVERS
# Who sees plates and reporters; everyone else sees plates masked (陕A·***12) and no reporter.
SEES_PERSONAL_DATA = frozenset({"admin", "traffic_staff", "patrol_lead", "grid_officer"})

# (endpoint, method) -> PUBLIC, SIGNED_IN, MAP_READ, or the roles allowed.
RULES: dict[tuple[str, str], str | frozenset[str]] = {
    ("static", "GET"): PUBLIC,
    ("auth.login_form", "GET"): PUBLIC,
    ("auth.login", "POST"): PUBLIC,
    ("auth.logout", "POST"): SIGNED_IN,
    ("auth.me", "GET"): SIGNED_IN,
    ("auth.set_language", "POST"): PUBLIC,  # signed-in callers still need their CSRF token
    ("pages.page_overview", "GET"): MAP_READ,
    ("pages.page_patrol", "GET"): EVERY_ROLE,
    ("pages.page_violations", "GET"): EVERY_ROLE,
    ("pages.page_chargers", "GET"): EVERY_ROLE,
    ("pages.page_grid", "GET"): EVERY_ROLE,
    ("pages.page_edit", "GET"): EDITORS,  # those who edit some layer (patrolmap.editing.EDIT_ROLES)
    ("api.campuses", "GET"): MAP_READ,
    ("api.layers", "GET"): MAP_READ,
    ("api.layer_features", "GET"): MAP_READ,
    ("api.layer_cells", "GET"): MAP_READ,
    # Per-layer downloads (patrolmap/web/downloads.py): what /api/layers shows, as GeoJSON, GeoPackage, CSV or GPX.
    ("downloads.download_layer", "GET"): MAP_READ,
    # OGC API - Features (patrolmap/web/ogcapi.py) for QGIS, ArcGIS and GDAL: the layer API's access and scope,
    # the patrol routes collection only for those who read saved routes.
    ("ogcapi.landing", "GET"): MAP_READ,
    ("ogcapi.conformance", "GET"): MAP_READ,
    ("ogcapi.api", "GET"): MAP_READ,
    # The OpenAPI document of every JSON endpoint (patrolmap/web/apidocs.py), for fuzzers and client generators.
    ("apidocs.openapi_json", "GET"): MAP_READ,
    ("ogcapi.collections", "GET"): MAP_READ,
    ("ogcapi.collection", "GET"): MAP_READ,
    ("ogcapi.items", "GET"): MAP_READ,
    ("ogcapi.item", "GET"): MAP_READ,
    ("api.record_violation", "POST"): frozenset({"admin", "traffic_staff"}),
    ("tiles.tile", "GET"): MAP_READ,
    ("dutyposts.create_duty_posts", "POST"): frozenset({"admin", "traffic_staff"}),
    ("compare.compare_periods", "GET"): EVERY_ROLE,
    ("routes.plan_route", "POST"): frozenset({"admin", "patrol_lead"}),
    # Saved patrol routes (patrolmap/web/saved_routes_api.py): officers read the routes they walk; leads plan them.
    ("saved_routes.list_saved_routes", "GET"): PATROL_READ,
    ("saved_routes.read_saved_route", "GET"): PATROL_READ,
    ("saved_routes.saved_route_gpx", "GET"): PATROL_READ,
    ("saved_routes.saved_route_geojson", "GET"): PATROL_READ,
    ("saved_routes.saved_route_sheet", "GET"): PATROL_READ,
    ("saved_routes.create_saved_route", "POST"): PATROL_WRITE,
    ("saved_routes.update_saved_route", "PUT"): PATROL_WRITE,
    ("saved_routes.delete_saved_route", "DELETE"): PATROL_WRITE,
    ("patrol_select.candidates", "GET"): frozenset({"admin", "patrol_lead"}),  # stops by building kind and zone
    # Traffic analysis reads violations: every role, never the public view (MAP_READ would let it in);
    # one plate's history is a look-up of personal data.
    ("analysis.hotspots", "GET"): EVERY_ROLE,
    ("analysis.repeat", "GET"): EVERY_ROLE,
    ("analysis.zombies", "GET"): EVERY_ROLE,
    ("analysis.plate_history", "GET"): SEES_PERSONAL_DATA,
    ("analysis.suggest_duty_posts", "POST"): TRAFFIC_WRITE,
    ("admin.audit_page", "GET"): ADMIN,
    ("admin.audit_entries", "GET"): ADMIN,
    # A violation as evidence: status moves, void (DELETE), photos. Photos can show plates and faces
    # (personal data under PIPL), so even the EXIF-free display copy goes only to SEES_PERSONAL_DATA.
    ("evidence.violation", "GET"): EVERY_ROLE,
    ("evidence.transition", "POST"): TRAFFIC_WRITE,
    ("evidence.void_violation", "DELETE"): TRAFFIC_WRITE,
    ("evidence.upload_photo", "POST"): TRAFFIC_WRITE,
    ("evidence.list_violation_photos", "GET"): EVERY_ROLE,
    ("evidence.photo", "GET"): SEES_PERSONAL_DATA,
    ("evidence.photo_original", "GET"): SEES_PERSONAL_DATA,
    # Marked hotspots: read by every role (not the public view), written by traffic staff.
    ("hotspots.list_hotspots", "GET"): EVERY_ROLE,
    ("hotspots.read_hotspot", "GET"): EVERY_ROLE,
    ("hotspots.hotspot_count", "GET"): EVERY_ROLE,
    ("hotspots.create", "POST"): TRAFFIC_WRITE,
    ("hotspots.update", "PUT"): TRAFFIC_WRITE,
    ("hotspots.delete", "DELETE"): TRAFFIC_WRITE,
    # Patrol execution (巡更): officers check in and share tracks on shift and read their route's shift
    # (their own track only); leads print plaques, reissue them and read every report.
    ("patrol_exec.checkin_page", "GET"): PATROL_WALK,
    ("patrol_exec.walk_page", "GET"): PATROL_WALK,
    ("patrol_exec.create_checkin", "POST"): PATROL_WALK,
    ("patrol_exec.post_track", "POST"): PATROL_WALK,
    ("patrol_exec.shift_report", "GET"): PATROL_WALK,
    ("patrol_exec.qr_sheet", "GET"): PATROL_LEAD,
    ("patrol_exec.reissue_tag", "POST"): PATROL_LEAD,
    ("patrol_exec.missed_report", "GET"): PATROL_LEAD,
    # EV charger placement (patrolmap/web/chargers_api.py): every role reads coverage and saved scenarios;
    # planners suggest sites (a POST that changes nothing, but costly), save and delete scenarios and import.
    ("chargers_api.coverage", "GET"): EVERY_ROLE,
    ("chargers_api.suggest", "POST"): CHARGER_PLAN,
    ("chargers_api.list_scenarios", "GET"): EVERY_ROLE,
    ("chargers_api.create_scenario", "POST"): CHARGER_PLAN,
    ("chargers_api.read_scenario", "GET"): EVERY_ROLE,
    ("chargers_api.delete_scenario", "DELETE"): CHARGER_PLAN,
    ("chargers_api.compare_scenarios", "GET"): EVERY_ROLE,
    ("chargers_api.scenario_geojson", "GET"): EVERY_ROLE,
    ("chargers_api.scenario_csv", "GET"): EVERY_ROLE,
    ("chargers_api.import_chargers", "POST"): CHARGER_PLAN,
    # Grid zones (patrolmap/web/grid_api.py): every role reads them; admins propose, apply and adjust them and
    # list the grid officers to assign.
    ("grid_api.list_zones", "GET"): EVERY_ROLE,
    ("grid_api.propose", "POST"): ADMIN,
    ("grid_api.apply_zones", "POST"): ADMIN,
    ("grid_api.update_zone", "PUT"): ADMIN,
    ("grid_api.list_officers", "GET"): ADMIN,
    # Hazards and the rectification loop (patrolmap/web/hazards_api.py): every role reads (a responsible unit
    # alone only its unit's hazards), reporters report, the loop's roles move them (the state machine and its
    # zone/unit checks decide which moves), leads delete; every signed-in person reads their notifications.
    ("hazards_api.report", "POST"): HAZARD_REPORT,
    ("hazards_api.list_hazards_api", "GET"): EVERY_ROLE,
    ("hazards_api.read_hazard", "GET"): EVERY_ROLE,
    ("hazards_api.transition", "POST"): HAZARD_MOVE,
    ("hazards_api.delete", "DELETE"): PATROL_LEAD,
    ("hazards_api.upload_photo", "POST"): HAZARD_REPORT | HAZARD_MOVE,
    ("hazards_api.hazard_photo", "GET"): EVERY_ROLE,
    ("hazards_api.zone_scorecard", "GET"): EVERY_ROLE,
    ("hazards_api.all_scorecards", "GET"): EVERY_ROLE,
    ("hazards_api.notice", "GET"): EVERY_ROLE,
    ("hazards_api.list_notifications", "GET"): SIGNED_IN,
    ("hazards_api.read_notification", "POST"): SIGNED_IN,
    # Leadership reports (patrolmap/web/reports_api.py): counts, shares and names of places, routes and officers;
    # a plate is never in a report.
    ("reports_api.reports_page", "GET"): REPORTS,
    ("reports_api.report_json", "GET"): REPORTS,
    ("reports_api.report_xlsx", "GET"): REPORTS,
    ("reports_api.report_chart", "GET"): REPORTS,
    # Editing the campus's layers (patrolmap/web/edit_api.py): every role reads an item; writes let in everyone who
    # edits some layer, and the layer's own roles (patrolmap.editing.EDIT_ROLES) are checked inside (403 JSON).
    ("edit_api.read_item", "GET"): EVERY_ROLE,
    ("edit_api.create_item", "POST"): EDITORS,
    ("edit_api.replace_item", "PUT"): EDITORS,
    ("edit_api.patch_item", "PATCH"): EDITORS,
    ("edit_api.delete_item", "DELETE"): EDITORS,
    ("edit_api.split_path", "POST"): EDITORS,
    ("edit_api.join_paths", "POST"): EDITORS,
    ("edit_api.revert_audit_entry", "POST"): ADMIN,
    # Imports from the web (patrolmap/web/import_api.py): admins import any layer; traffic staff recorded
    # violations only (the endpoint refuses them other kinds with 403).
    ("import_api.import_page", "GET"): TRAFFIC_WRITE,
    ("import_api.stage_import", "POST"): TRAFFIC_WRITE,
    ("import_api.read_import", "GET"): TRAFFIC_WRITE,
    ("import_api.commit_import", "POST"): TRAFFIC_WRITE,
    ("import_api.discard_import", "DELETE"): TRAFFIC_WRITE,
    # Probes for load balancers (patrolmap/web/health.py): they say only whether this server can serve.
    ("health.healthz", "GET"): PUBLIC,
    ("health.readyz", "GET"): PUBLIC,
}


def rule_for(endpoint: str | None, method: str) -> str | frozenset[str] | None:
    if endpoint is None:
        return None
    # HEAD and OPTIONS are answered like GET by Flask.
    key_method = "GET" if method in ("HEAD", "OPTIONS") else method
    return RULES.get((endpoint, key_method))


def allowed(rule: str | frozenset[str], roles: frozenset[str] | None, *, public_view: bool = False) -> bool:
    """roles is None for an anonymous request."""
    if rule == PUBLIC:
        return True
    if roles is None:
        return rule == MAP_READ and public_view
    if rule == SIGNED_IN:
        return True
    if rule == MAP_READ:
        return bool(roles & EVERY_ROLE)
    return bool(roles & rule)  # type: ignore[operator]


def mask_plate(plate: str | None) -> str | None:
    """Keep the province, the first letter and the last two characters: 陕A12345 -> 陕A·***45."""
    if not plate or plate == "无牌" or plate.startswith("anon:"):
        return plate
    if len(plate) <= 4:
        return "***"
    return f"{plate[:2]}·***{plate[-2:]}"
