"""POST /api/routes/plan on the mini campus: tours along the paths, lengths checked by hand."""

from __future__ import annotations

import itertools

import pyproj
import shapely
from flask import Flask
from sqlalchemy import select

from patrolmap.extensions import db
from patrolmap.importing import load_geodata
from patrolmap.models import Checkpoint

from .conftest import DATA, signed_in_client

CROSSING = [116.3508, 40.0006]  # where the footway p2 crosses the road p1
ON_ROAD = [116.3530, 40.0006]  # on p1, east of the crossing
ON_SERVICE = [116.3508, 40.0018]  # where p2 meets the service road p3
GEOD = pyproj.Geod(ellps="WGS84")


def _metres(a: list[float], b: list[float]) -> float:
    return GEOD.inv(a[0], a[1], b[0], b[1])[2]


def _paths() -> shapely.Geometry:
    import json

    doc = json.loads((DATA / "minicampus" / "paths.geojson").read_text(encoding="utf-8"))
    return shapely.union_all([shapely.geometry.shape(f["geometry"]) for f in doc["features"]])


def _lead(app: Flask):  # type: ignore[no-untyped-def]
    load_geodata(db.session, DATA / "minicampus")
    return signed_in_client(app, "lead", "patrol_lead")


def test_a_tour_follows_the_paths_and_measures_right(app: Flask) -> None:
    lead = _lead(app)
    response = lead.post("/api/routes/plan", json={"campus": "mini", "start": CROSSING,
                                                   "checkpoints": [ON_ROAD, ON_SERVICE]})
    assert response.status_code == 200, response.get_json()
    data = response.get_json()
    [route] = data["features"]
    props = route["properties"]
    assert sorted(props["order"]) == [0, 1] and props["team"] == 1
    # The two checkpoints hang off the crossing on different streets: out and back to each.
    expected = 2 * _metres(CROSSING, ON_ROAD) + 2 * _metres(CROSSING, ON_SERVICE)
    assert abs(props["length_m"] - expected) / expected < 0.001
    assert abs(sum(props["legs_m"]) - props["length_m"]) < 0.5
    assert abs(props["duration_min"] - props["length_m"] / 80) < 0.1  # the default walking speed
    coords = route["geometry"]["coordinates"]
    assert coords[0] == coords[-1]  # a closed tour
    geodesic = sum(_metres(a, b) for a, b in itertools.pairwise(coords))
    assert abs(geodesic - props["length_m"]) / expected < 0.001
    paths = _paths()
    assert max(paths.distance(shapely.Point(c)) for c in coords) < 1e-7  # every vertex on a path
    assert data["unreachable"] == [] and data["not_fitted"] == []


def test_checkpoints_by_id_and_unreachable_points(app: Flask) -> None:
    lead = _lead(app)
    ids = dict(db.session.execute(select(Checkpoint.source_id, Checkpoint.id)).tuples().all())
    far = [116.3600, 40.0100]  # about 1 km from any path
    response = lead.post("/api/routes/plan", json={"campus": "mini", "start": CROSSING,
                                                   "checkpoints": [ids["k1"], ids["k2"]]})
    assert response.status_code == 200, response.get_json()
    assert sorted(response.get_json()["features"][0]["properties"]["order"]) == sorted([ids["k1"], ids["k2"]])
    mixed = lead.post("/api/routes/plan", json={"campus": "mini", "start": CROSSING,
                                                "checkpoints": [ON_ROAD, far, ON_SERVICE]}).get_json()
    assert sorted(mixed["features"][0]["properties"]["order"]) == [0, 2]  # the rest is still planned
    [lost] = mixed["unreachable"]
    assert lost["checkpoint"] == 1 and lost["distance_m"] > 150
    assert lost["reason"] == f"farther than 150 m from the path network ({lost['distance_m']:.0f} m)"
    chinese = lead.post("/api/routes/plan", json={"campus": "mini", "start": CROSSING, "checkpoints": [ON_ROAD, far]},
                        headers={"Accept-Language": "zh-CN"}).get_json()
    assert chinese["unreachable"][0]["reason"] == f"距道路网络超过 150 米（{lost['distance_m']:.0f} 米）"


def test_two_teams_share_the_checkpoints(app: Flask) -> None:
    lead = _lead(app)
    points = [ON_ROAD, ON_SERVICE, [116.3500, 40.0006], [116.3508, 39.9997]]
    data = lead.post("/api/routes/plan", json={"campus": "mini", "start": CROSSING, "checkpoints": points,
                                               "teams": 2}).get_json()
    orders = [f["properties"]["order"] for f in data["features"]]
    assert len(orders) == 2 and sorted(i for o in orders for i in o) == [0, 1, 2, 3]
    capped = lead.post("/api/routes/plan", json={"campus": "mini", "start": CROSSING, "checkpoints": points,
                                                 "max_minutes": 4}).get_json()
    planned = [i for f in capped["features"] for i in f["properties"]["order"]]
    assert sorted(planned + capped["not_fitted"]) == [0, 1, 2, 3] and capped["not_fitted"]
    assert all(f["properties"]["duration_min"] <= 4 for f in capped["features"])


def test_bad_plans_are_refused(app: Flask) -> None:
    lead = _lead(app)
    base = {"campus": "mini", "start": CROSSING, "checkpoints": [ON_ROAD]}
    cases = [
        {**base, "checkpoints": []}, {**base, "checkpoints": [999999]}, {**base, "teams": 0},
        {**base, "teams": "2"}, {**base, "mode": "fly"}, {**base, "max_minutes": -1},
        {**base, "checkpoints": [[200, 40]]}, {**base, "checkpoints": [[116.35]]},
        {**base, "checkpoints": [ON_ROAD] * 301}, {k: v for k, v in base.items() if k != "start"},
        {**base, "start": [116.40, 40.05]}, {**base, "speed": 3},
    ]
    for body in cases:
        response = lead.post("/api/routes/plan", json=body)
        assert response.status_code == 400, (body, response.get_json())
        assert response.get_json()["message"]
    assert lead.post("/api/routes/plan", json={**base, "campus": "nowhere"}).status_code == 404
    assert signed_in_client(app, "v", "viewer").post("/api/routes/plan", json=base).status_code == 403
