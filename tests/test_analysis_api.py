"""The traffic analysis API on both stores: hotspots, repeat offenders, zombies, a plate's history, duty posts."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import shapely
from flask import Flask
from flask.testing import FlaskClient

from patrolmap.analysis.hexgrid import LocalProjection
from patrolmap.extensions import db
from patrolmap.importing import CampusInfo, import_violations, load_geodata

from .conftest import DATA, signed_in_client

# The mini campus: roads along y = 40.0006, buildings around (116.351, 40.0007).
CENTRE = (116.3517, 40.00075)
PROJECTION = LocalProjection(*CENTRE)
CLUSTER = (116.3525, 40.0011)  # by the canteen
ROADSIDE = (116.3525, 40.00065)  # on the main road, 40 m from the canteen
HEADER = ["id", "lon", "lat", "observed_at", "kind", "plate", "status", "note", "reporter"]


def write_violations(path: Path, rows: list[dict[str, Any]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, HEADER)
        writer.writeheader()
        for n, row in enumerate(rows):
            writer.writerow({"id": f"t{n}", "kind": "no_parking", "status": "open", "plate": "无牌", **row})
    return path


def planted(seed: int = 1, cluster: tuple[float, float] = CLUSTER) -> list[dict[str, Any]]:
    """1,000 violations spread over the campus at all hours, and 120 in one spot at 08:xx."""
    rng = np.random.default_rng(seed)
    x, y = rng.uniform(-170, 170, 1000), rng.uniform(-110, 110, 1000)
    lon, lat = PROJECTION.inverse(x, y)
    day, hour, minute = rng.integers(2, 28, 1000), rng.integers(0, 24, 1000), rng.integers(0, 60, 1000)
    rows = [{"lon": f"{a:.7f}", "lat": f"{b:.7f}", "observed_at": f"2026-03-{d:02d}T{h:02d}:{m:02d}:00+08:00"}
            for a, b, d, h, m in zip(lon, lat, day, hour, minute, strict=True)]
    cx, cy = PROJECTION.forward(np.array([cluster[0]]), np.array([cluster[1]]))
    lon, lat = PROJECTION.inverse(rng.normal(cx[0], 4, 120), rng.normal(cy[0], 4, 120))
    rows += [{"lon": f"{a:.7f}", "lat": f"{b:.7f}", "observed_at": f"2026-03-{d:02d}T08:{m:02d}:00+08:00"}
             for a, b, d, m in zip(lon, lat, rng.integers(2, 28, 120), rng.integers(0, 60, 120), strict=True)]
    return rows


@pytest.fixture
def mini(app: Flask) -> None:
    load_geodata(db.session, DATA / "minicampus")
    db.session.commit()


def add(tmp_path: Path, rows: list[dict[str, Any]], campus: str = "mini") -> None:
    import_violations(db.session, write_violations(tmp_path / f"extra-{campus}.csv", rows), campus_slug=campus)
    db.session.commit()


def cell_at(body: dict[str, Any], lon: float, lat: float) -> dict[str, Any] | None:
    for feature in body["features"]:
        if shapely.geometry.shape(feature["geometry"]).contains(shapely.Point(lon, lat)):
            return feature
    return None


# ---------------------------------------------------------------- hotspots


def test_planted_cluster_is_hot_in_its_hour_window_only(client: FlaskClient, mini: None, tmp_path: Path) -> None:
    add(tmp_path, planted())
    inside = client.get("/api/violations/hotspots?hours=07:00-09:00&cell_m=20")
    assert inside.status_code == 200 and inside.mimetype == "application/geo+json"
    body = inside.get_json(force=True)
    assert sum(f["properties"]["count"] for f in body["features"]) == body["numberMatched"]
    assert body["numberMatched"] >= 120
    assert cell_at(body, *CLUSTER)["properties"]["class"] == "hot_99"
    assert set(body["features"][0]["properties"]) == {"count", "gi_z", "p_value", "class"}
    assert body["features"][0]["geometry"]["type"] == "Polygon"
    top = body["top"][0]
    assert top["class"] == "hot_99" and top["count"] >= 100 and top["peak_hours"][0]["hours"] == "08:00-09:00"
    assert top["building_kind"] in {"dorm", "canteen", "staff_apartment"} and top["building_distance_m"] < 100
    assert body["filter"]["hours"] == "07:00-09:00" and body["cell_m"] == 20 and body["campus"] == "mini"

    outside = client.get("/api/violations/hotspots?hours=13:00-15:00&cell_m=20").get_json(force=True)
    cell = cell_at(outside, *CLUSTER)
    assert cell is None or cell["properties"]["class"] == "not_significant"
    everything = client.get("/api/violations/hotspots?cell_m=20").get_json(force=True)
    assert everything["numberMatched"] == 1124  # the mini campus's own 4 plus the 1,120 added
    assert sum(f["properties"]["count"] for f in everything["features"]) == 1124


def test_hotspot_days_follow_the_workday_calendar(client: FlaskClient, mini: None, tmp_path: Path) -> None:
    at = {"lon": "116.3520", "lat": "40.0010"}
    add(tmp_path, [{**at, "observed_at": "2026-02-14T08:00:00+08:00"},  # Saturday, worked (调休)
                   {**at, "observed_at": "2026-02-16T08:00:00+08:00"},  # Monday, Spring Festival
                   {**at, "observed_at": "2026-02-16T22:30:00+08:00"},
                   {**at, "observed_at": "2026-02-17T05:59:00+08:00"},
                   {**at, "observed_at": "2026-02-17T06:00:00+08:00"}])
    window = "from=2026-02-01&to=2026-02-28"

    def matched(query: str) -> int:
        response = client.get(f"/api/violations/hotspots?{window}&{query}")
        assert response.status_code == 200, response.get_json(force=True)
        return response.get_json(force=True)["numberMatched"]

    assert matched("days=workdays") == 1
    assert matched("days=weekdays") == 4
    assert matched("days=holidays") == 4
    assert matched("days=sat") == 1
    assert matched("hours=22:00-06:00") == 2  # half-open: 06:00 is out
    assert matched("days=weekdays&hours=22:00-06:00&kinds=no_parking") == 2
    assert matched("kinds=fire_lane") == 0


def test_unknown_years_of_the_calendar_are_said(client: FlaskClient, mini: None) -> None:
    body = client.get("/api/violations/hotspots?from=2030-01-01&to=2030-12-31&days=workdays").get_json(force=True)
    assert "2030" in body["warnings"][0]


BAD_QUERIES = [
    ("hotspots?hours=25:00-26:00", "hours"),
    ("hotspots?hours=7-9", "07:00-09:00"),
    ("hotspots?hours=08:00-08:00", "empty"),
    ("hotspots?from=yesterday", "from"),
    ("hotspots?from=2026-03-05&to=2026-03-01", "after"),
    ("hotspots?days=funday", "funday"),
    ("hotspots?kinds=parking", "parking"),
    ("hotspots?cell_m=abc", "cell_m"),
    ("hotspots?cell_m=1", "cell_m"),
    ("hotspots?term=term", "terms"),
    ("hotspots?term=summer", "term"),
    ("repeat?min_count=1", "min_count"),
    ("repeat?min_count=many", "min_count"),
    ("zombies?radius_m=-3", "radius_m"),
    ("zombies?min_days=x", "min_days"),
    ("plate", "plate"),
]


@pytest.mark.parametrize(("query", "reason"), BAD_QUERIES)
def test_bad_parameters_answer_400_with_the_reason(client: FlaskClient, mini: None, query: str, reason: str) -> None:
    response = client.get(f"/api/violations/{query}")
    assert response.status_code == 400, query
    body = response.get_json()
    assert body["error"] == "BadRequest" and reason in body["message"]


def test_a_cell_too_small_for_the_area_answers_400_with_the_size_that_fits(
        app: Flask, client: FlaskClient, mini: None) -> None:
    app.config["HOTSPOT_MAX_CELLS"] = 500
    response = client.get("/api/violations/hotspots?cell_m=5")
    assert response.status_code == 400
    message = response.get_json()["message"]
    assert "too small" in message and "at least" in message
    minimum = message.rsplit("at least ", 1)[1].split(" ")[0]
    assert client.get(f"/api/violations/hotspots?cell_m={minimum}").status_code == 200


# ---------------------------------------------------------------- scoping and access


@pytest.fixture
def two_universities(app: Flask, tmp_path: Path) -> None:
    load_geodata(db.session, DATA / "minicampus")
    load_geodata(db.session, DATA / "minicampus", campus=CampusInfo("other", "Other campus", None, "Other U"))
    db.session.commit()
    repeat = [{"lon": "116.3520", "lat": "40.0010", "observed_at": f"2026-03-{d:02d}T08:00:00+08:00",
               "plate": "京Q11111"} for d in (2, 3, 4)]
    add(tmp_path, repeat, "mini")
    add(tmp_path, [{**r, "plate": "京Q22222"} for r in repeat], "other")


def test_other_universities_campuses_are_unknown(app: Flask, two_universities: None) -> None:
    staff = signed_in_client(app, "tu-staff", "traffic_staff", university="Test University")
    assert staff.get("/api/violations/hotspots?campus=other").status_code == 404
    assert staff.get("/api/violations/repeat?campus=other").status_code == 404
    assert staff.get("/api/violations/zombies?campus=other").status_code == 404
    assert staff.post("/api/duty-posts/suggest", json={"campus": "other"}).status_code == 404
    assert staff.get("/api/violations/hotspots").status_code == 200  # their only campus
    plates = [p["plate"] for p in staff.get("/api/violations/repeat").get_json()["plates"]]
    assert plates == ["京Q11111"]
    assert staff.get("/api/violations/plate?plate=京Q22222").get_json(force=True)["numberMatched"] == 0


def test_a_deployment_admin_names_the_campus_for_hotspots(client: FlaskClient, two_universities: None) -> None:
    response = client.get("/api/violations/hotspots")
    assert response.status_code == 400 and "campus" in response.get_json()["message"]
    assert client.get("/api/violations/hotspots?campus=other").status_code == 200
    plates = {p["plate"] for p in client.get("/api/violations/repeat").get_json()["plates"]}
    assert plates == {"京Q11111", "京Q22222"}  # repeat offenders span every campus in scope


def test_the_public_view_never_sees_violation_analysis(app: Flask, mini: None) -> None:
    app.config["PUBLIC_VIEW"] = True
    anonymous = app.test_client()
    for url in ("/api/violations/hotspots", "/api/violations/repeat", "/api/violations/zombies",
                "/api/violations/plate?plate=京A12345"):
        assert anonymous.get(url).status_code == 401, url


# ---------------------------------------------------------------- plates


def plate_rows() -> list[dict[str, Any]]:
    rows = []
    for n, day in enumerate((2, 6, 10, 14, 18, 23)):  # a zombie by the canteen: 6 days over 3 weeks
        rows.append({"lon": f"{116.3521 + n * 0.000005:.7f}", "lat": "40.0011", "kind": "zombie",
                     "observed_at": f"2026-03-{day:02d}T10:00:00+08:00", "plate": "京A·12345" if n % 2 else "京A12345"})
    for day in (3, 4, 5):
        rows.append({"lon": "116.3500", "lat": "40.0012", "observed_at": f"2026-03-{day:02d}T09:00:00+08:00",
                     "plate": "anon:5e1f0c"})
    return rows


@pytest.mark.parametrize(("role", "sees"), [("traffic_staff", True), ("admin", True), ("planner", False),
                                            ("viewer", False), ("responsible_unit", False)])
def test_repeat_and_zombie_plates_are_masked_for_roles_without_personal_data(
        app: Flask, mini: None, tmp_path: Path, role: str, sees: bool) -> None:
    add(tmp_path, plate_rows())
    client = signed_in_client(app, f"u-{role}", role)
    body = client.get("/api/violations/repeat?min_count=3").get_json()
    assert body["numberMatched"] == 2
    by_count = {p["count"]: p for p in body["plates"]}
    # The mini campus's own v1 (京A12345, 2026-03-02) is the same car: 7 in all.
    car = by_count[7]
    assert car["plate"] == ("京A12345" if sees else "京A·***45")
    assert car["days"] == 6 and car["kinds"] == {"fire_lane": 1, "zombie": 6} and car["ids_complete"]
    anonymised = by_count[3]
    assert anonymised["plate"] is None and anonymised["anonymised"] is True  # never shown as a plate
    # One click: the ids draw the history through the layer API, masked there as well.
    history = client.get("/api/layers/violations?ids=" + ",".join(map(str, car["ids"]))).get_json()
    assert len(history["features"]) == 7

    zombies = client.get("/api/violations/zombies?min_days=5&radius_m=20&min_span_days=14").get_json(force=True)
    assert zombies["numberMatched"] == 1
    (feature,) = zombies["features"]
    assert feature["properties"]["plate"] == ("京A12345" if sees else "京A·***45")
    assert feature["properties"]["days"] == 6 and feature["properties"]["span_days"] == 21
    assert feature["geometry"]["type"] == "Point"


def test_a_plates_history_for_those_who_see_plates(app: Flask, mini: None, tmp_path: Path) -> None:
    add(tmp_path, plate_rows())
    staff = signed_in_client(app, "staff", "traffic_staff")
    body = staff.get("/api/violations/plate?plate=京a 12345").get_json(force=True)
    assert body["numberMatched"] == 7
    times = [f["properties"]["observed_at"] for f in body["features"]]
    assert times == sorted(times) and times[0].startswith("2026-03-02T07:45:00+08:00")
    assert {f["properties"]["plate"] for f in body["features"]} == {"京A12345", "京A·12345"}
    since = staff.get("/api/violations/plate?plate=京A12345&from=2026-03-10").get_json(force=True)
    assert since["numberMatched"] == 4
    viewer = signed_in_client(app, "viewer", "viewer")
    assert viewer.get("/api/violations/plate?plate=京A12345").status_code == 403


# ---------------------------------------------------------------- duty posts


def test_duty_post_suggestions(app: Flask, mini: None, tmp_path: Path) -> None:
    add(tmp_path, planted(cluster=ROADSIDE))
    staff = signed_in_client(app, "staff", "traffic_staff")
    response = staff.post("/api/duty-posts/suggest", json={"k": 2, "hours": "07:00-09:00", "radius_m": 60,
                                                           "cell_m": 20})
    assert response.status_code == 200, response.get_json(force=True)
    body = response.get_json(force=True)
    assert body["k"] == 2 and body["radius_m"] == 60 and body["distance"] == "network"
    posts = body["features"]
    assert 1 <= len(posts) <= 2 and posts[0]["properties"]["rank"] == 1
    assert body["covered"] == sum(p["properties"]["added"] for p in posts) <= body["numberMatched"]
    first = posts[0]
    assert first["geometry"]["type"] == "Point" and first["properties"]["hours"] == "07:00-09:00"
    # The first post stands within walking reach of the planted cluster and covers it.
    x, y = PROJECTION.forward(np.array([first["geometry"]["coordinates"][0], ROADSIDE[0]]),
                              np.array([first["geometry"]["coordinates"][1], ROADSIDE[1]]))
    assert np.hypot(x[1] - x[0], y[1] - y[0]) < 60 and first["properties"]["covered"] >= 100
    straight = staff.post("/api/duty-posts/suggest", json={"k": 1, "hours": "07:00-09:00", "distance": "straight"})
    assert straight.get_json(force=True)["distance"] == "straight"
    viewer = signed_in_client(app, "viewer", "viewer")
    assert viewer.post("/api/duty-posts/suggest", json={"k": 1}).status_code == 403


@pytest.mark.parametrize(("body", "reason"), [
    ({"k": 0}, "k"), ({"k": True}, "k"), ({"k": 2.5}, "k"), ({"k": 99}, "k"),
    ({"radius_m": "far"}, "radius_m"), ({"radius_m": 5}, "radius_m"),
    ({"hours": 8}, "hours"), ({"hours": "8 to 9"}, "07:00-09:00"),
    ({"distance": "fly"}, "distance"), ({"colour": "red"}, "colour"), ({"campus": ["mini"]}, "campus"),
])
def test_bad_suggestion_bodies_answer_400(client: FlaskClient, mini: None, body: dict[str, Any],
                                          reason: str) -> None:
    response = client.post("/api/duty-posts/suggest", json=body)
    assert response.status_code == 400, body
    assert reason in response.get_json()["message"]
    assert client.post("/api/duty-posts/suggest", data="k=3").status_code == 400
