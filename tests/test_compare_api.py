"""Before/after comparison: per-cell and per-marked-hotspot counts equal a hand count."""

from __future__ import annotations

import shapely
from flask import Flask

from patrolmap.extensions import db
from patrolmap.importing import load_geodata

from .conftest import DATA, signed_in_client

P = (116.3512, 40.0007)  # near the canteen
Q = (116.3502, 40.0017)  # about 140 m away: another 50 m cell


def _record(client, where: tuple[float, float], day: str) -> None:  # type: ignore[no-untyped-def]
    body = {"campus": "mini", "lon": where[0], "lat": where[1], "kind": "no_parking",
            "observed_at": f"{day}T12:00:00+08:00"}
    assert client.post("/api/violations", json=body).status_code == 201


def test_change_per_cell_and_per_marked_hotspot(app: Flask) -> None:
    load_geodata(db.session, DATA / "minicampus")
    staff = signed_in_client(app, "staff", "traffic_staff")
    # Before (7 days): 3 at P. After (14 days): 1 at P, 2 at Q.
    for day in ("2026-09-01", "2026-09-02", "2026-09-05"):
        _record(staff, P, day)
    _record(staff, P, "2026-09-10")
    _record(staff, Q, "2026-09-11")
    _record(staff, Q, "2026-09-20")
    ring = shapely.Point(P).buffer(0.0003).exterior.coords
    marked = {"type": "Feature", "campus": "mini",
              "geometry": {"type": "Polygon", "coordinates": [[list(c) for c in ring]]},
              "properties": {"name": "食堂门口", "kind": "no_parking_watch"}}
    assert staff.post("/api/hotspots", json=marked).status_code == 201
    url = ("/api/violations/compare?campus=mini&before_from=2026-09-01&before_to=2026-09-07"
           "&after_from=2026-09-08&after_to=2026-09-21&hours=11:00-13:00")
    data = staff.get(url).get_json()
    assert data["periods"]["before"] == {"from": "2026-09-01", "to": "2026-09-07", "days": 7, "violations": 3}
    assert data["periods"]["after"] == {"from": "2026-09-08", "to": "2026-09-21", "days": 14, "violations": 3}
    by_place = {}
    for feature in data["features"]:
        polygon = shapely.geometry.shape(feature["geometry"])
        for name, point in (("P", P), ("Q", Q)):
            if polygon.covers(shapely.Point(point)):
                by_place[name] = feature["properties"]
    assert (by_place["P"]["before"], by_place["P"]["after"], by_place["P"]["change"]) == (3, 1, -2)
    assert (by_place["Q"]["before"], by_place["Q"]["after"], by_place["Q"]["change"]) == (0, 2, 2)
    assert by_place["P"]["before_per_day"] == round(3 / 7, 4) and by_place["P"]["after_per_day"] == round(1 / 14, 4)
    assert by_place["P"]["change_per_day_pct"] == round(100 * (round(1 / 14, 4) - round(3 / 7, 4)) / round(3 / 7, 4), 1)
    assert by_place["Q"]["change_per_day_pct"] is None  # nothing before: no percentage
    assert sum(f["properties"]["before"] for f in data["features"]) == 3
    assert sum(f["properties"]["after"] for f in data["features"]) == 3
    assert data["features"][0]["properties"]["change"] == -2  # the biggest fall first
    [spot] = data["marked"]
    assert (spot["name"], spot["before"], spot["after"], spot["change"]) == ("食堂门口", 3, 1, -2)
    # Outside the hour window nothing counts.
    night = staff.get(url.replace("11:00-13:00", "20:00-22:00")).get_json()
    assert night["periods"]["before"]["violations"] == 0 and night["features"] == []


def test_bad_periods_are_refused(app: Flask) -> None:
    load_geodata(db.session, DATA / "minicampus")
    client = signed_in_client(app, "v", "viewer")
    base = "/api/violations/compare?campus=mini&before_from=2026-09-01&before_to=2026-09-07"
    missing = client.get(base)
    assert missing.status_code == 400 and "after_from" in missing.get_json()["message"]
    backwards = client.get(base + "&after_from=2026-09-21&after_to=2026-09-08")
    assert backwards.status_code == 400
    assert client.get(base + "&after_from=2026-13-01&after_to=2026-13-02").status_code == 400
    assert client.get(base + "&after_from=2026-09-08&after_to=2026-09-21&cell_m=1").status_code == 400
    assert client.get(base.replace("mini", "nowhere") + "&after_from=2026-09-08&after_to=2026-09-21").status_code == 404
