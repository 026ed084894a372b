"""The access table, walked whole: every role x every endpoint x every method gets what the table says."""

from __future__ import annotations

import pytest
from flask import Flask

from patrolmap.access import MAP_READ, PUBLIC, RULES, SIGNED_IN, mask_plate
from patrolmap.extensions import db
from patrolmap.importing import load_geodata
from patrolmap.models import ROLES

from .conftest import DATA, signed_in_client

URL_ARGS = {"filename": "css/patrolmap.css", "layer_id": "buildings",  # a layer the public view shows
            "name": "campus", "z": 16, "x": 53945, "y": 24802,  # a basemap tile (none configured: 404)
            "violation_id": 1, "hotspot_id": 1, "sha256": "0" * 64}  # no such photo or hotspot: 404 when allowed
QUERY = {"api.layer_cells": "?bbox=116.349,39.999,116.355,40.002",
         "compare.compare_periods": "?campus=mini&before_from=2026-03-01&before_to=2026-03-07"
                                    "&after_from=2026-03-08&after_to=2026-03-14", "evidence.void_violation": "?reason=duplicate",
         "hotspots.delete": "?reason=obsolete"}
HOTSPOT = {"type": "Feature", "properties": {"name": "Canteen north", "kind": "no_parking_watch"},
           "geometry": {"type": "Polygon", "coordinates": [[[116.3505, 40.0005], [116.3515, 40.0005],
                                                            [116.3515, 40.0012], [116.3505, 40.0005]]]}}
BODIES = {("api.record_violation", "POST"): {"campus": "mini", "lon": 116.3512, "lat": 40.0007, "kind": "other"},
          ("evidence.transition", "POST"): {"to": "towed", "reason": "blocking the fire lane"},
          ("hotspots.create", "POST"): {**HOTSPOT, "campus": "mini"},
          ("hotspots.update", "PUT"): {**HOTSPOT, "properties": {**HOTSPOT["properties"], "version": 1}},
          ("auth.set_language", "POST"): {"language": "en"},
          ("routes.plan_route", "POST"): {"campus": "mini", "start": [116.3505, 40.0005],
                                          "checkpoints": [[116.3512, 40.0007]]},
          ("dutyposts.create_duty_posts", "POST"): {
              "campus": "mini", "type": "FeatureCollection",
              "features": [{"type": "Feature", "geometry": {"type": "Point", "coordinates": [116.3512, 40.0007]},
                            "properties": {"name": "North gate post", "hours": "07:00-09:00"}}]},
          ("auth.login", "POST"): {"username": "login-check", "password": "correct horse battery staple"}}

# Traffic analysis (patrolmap/web/analysis_api.py): a plate to look up, a window to suggest duty posts for.
QUERY["analysis.plate_history"] = "?plate=京A12345"
BODIES[("analysis.suggest_duty_posts", "POST")] = {"campus": "mini", "k": 1, "hours": "07:00-09:00"}

# Saved patrol routes (patrolmap/web/saved_routes_api.py): no such route, so 404 when allowed.
URL_ARGS["route_id"] = 1
# Patrol execution (patrolmap/web/patrol_exec.py): a plaque token and a shift date that match nothing.
URL_ARGS.update(checkpoint_id=1, token="no-such-token", shift_date="2026-11-23")
# EV charger placement (patrolmap/web/chargers_api.py): no such scenario, so 404 when allowed.
URL_ARGS["scenario_id"] = 1
# Hazards (patrolmap/web/hazards_api.py): no such hazard, zone or notification, so 404 when allowed.
URL_ARGS.update(hazard_id=1, zone_id=1, notification_id=1)
QUERY["hazards_api.delete"] = "?reason=duplicate"
# Editing (patrolmap/web/edit_api.py): no such item or audit entry, so 404 when allowed (the per-layer role check
# comes after the item is found).
URL_ARGS.update(item_id=10**6, entry_id=10**6)
# OGC API - Features (patrolmap/web/ogcapi.py): a collection the public view shows, and its first feature.
URL_ARGS.update(collection_id="buildings", feature_id=1)


def routes(app: Flask) -> list[tuple[str, str, str]]:
    """(endpoint, method, url) for every route the app serves."""
    found = []
    with app.test_request_context():
        for rule in app.url_map.iter_rules():
            args = {name: URL_ARGS[name] for name in rule.arguments if name not in (rule.defaults or {})}
            url = app.url_for(rule.endpoint, **args) + QUERY.get(rule.endpoint, "")
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                found.append((rule.endpoint, method, url))
    return found


def test_every_route_has_an_entry(app: Flask) -> None:
    served = {(endpoint, method) for endpoint, method, _ in routes(app)}
    assert served - set(RULES) == set(), "add these routes to patrolmap.access.RULES"
    assert set(RULES) - served == set(), "these table entries name no route"


def expected(rule: str | frozenset[str], role: str | None, public_view: bool) -> bool:
    """The table's meaning, stated once more: the test below checks the app against it."""
    if rule == PUBLIC:
        return True
    if role is None:
        return rule == MAP_READ and public_view
    return rule in (SIGNED_IN, MAP_READ) or role in rule


@pytest.mark.parametrize(("role", "public_view"), [*((r, False) for r in ROLES), (None, False), (None, True)])
def test_every_role_gets_exactly_what_the_table_says(app: Flask, role: str | None, public_view: bool) -> None:
    app.config["PUBLIC_VIEW"] = public_view
    load_geodata(db.session, DATA / "minicampus")
    signed_in_client(app, "login-check", "viewer")
    client = signed_in_client(app, f"user-{role}", role) if role else app.test_client()
    for endpoint, method, url in routes(app):
        if endpoint == "auth.logout":
            continue  # ends the session; covered in test_sessions
        rule = RULES[(endpoint, method)]
        expected_allowed = expected(rule, role, public_view)
        body = BODIES.get((endpoint, method))
        # Signing in would replace this client's session, so it gets a client of its own.
        caller = app.test_client() if endpoint == "auth.login" else client
        response = caller.open(url, method=method, json=body)
        response.close()
        denied = response.status_code in (401, 403) or (
            response.status_code == 302 and "/login" in response.headers.get("Location", ""))
        assert denied != expected_allowed, (role, endpoint, method, response.status_code)
        if not expected_allowed:
            # GIS clients of /ogcapi get a 401 (a browser asking for HTML is sent to the sign-in page).
            wanted = 403 if role else (302 if not url.startswith(("/api/", "/ogcapi")) and method == "GET" else 401)
            assert response.status_code == wanted, (role, endpoint, method, response.status_code)


def test_browser_writes_need_the_csrf_token(app: Flask) -> None:
    load_geodata(db.session, DATA / "minicampus")
    client = signed_in_client(app, "staff", "traffic_staff")
    body = BODIES[("api.record_violation", "POST")]
    token = client.environ_base.pop("HTTP_X_CSRF_TOKEN")
    refused = client.post("/api/violations", json=body)
    assert refused.status_code == 403 and "CSRF" in refused.get_json()["message"]
    wrong = client.post("/api/violations", json=body, headers={"X-CSRF-Token": "x" + token})
    assert wrong.status_code == 403
    assert client.post("/api/violations", json=body, headers={"X-CSRF-Token": token}).status_code == 201


@pytest.mark.parametrize(("role", "sees"), [("viewer", False), ("planner", False), ("traffic_staff", True),
                                            ("admin", True)])
def test_plates_and_reporters_reach_only_those_who_need_them(app: Flask, role: str, sees: bool) -> None:
    load_geodata(db.session, DATA / "minicampus")
    client = signed_in_client(app, f"u-{role}", role)
    features = client.get("/api/layers/violations").get_json()["features"]
    v1 = next(f for f in features if f["properties"]["source_id"] == "v1")["properties"]
    if sees:
        assert v1["plate"] == "京A12345" and v1["reporter"] == "王强"
    else:
        assert v1["plate"] == "京A·***45" and "reporter" not in v1
    v3 = next(f for f in features if f["properties"]["source_id"] == "v3")["properties"]
    assert v3["plate"] == "无牌"


def test_mask_plate() -> None:
    assert mask_plate("陕A12345") == "陕A·***45"
    assert mask_plate("京AD12345") == "京A·***45"
    assert mask_plate("无牌") == "无牌"
    assert mask_plate(None) is None
    assert mask_plate("A1") == "***"
