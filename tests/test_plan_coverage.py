"""What a planned route passes (grid zones, buildings, hotspots), hotspots as stops, and stops picked by
building kind and grid zone (GET /api/routes/candidates), on the mini campus.

On the mini campus the walk network is the footway p2 (north-south at lon 116.3508) and the
service road p3 (east-west at lat 40.0018); the road p1 is private and not walked. Distances
expected below are geodesic distances (pyproj) between the points where, by the layout, a
route comes nearest to a feature: a perpendicular drop to a straight path, or a corner.
"""

from __future__ import annotations

import pyproj
import pytest
import shapely
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update

from patrolmap.extensions import db
from patrolmap.models import Building, Checkpoint

from .conftest import signed_in_client

GEOD = pyproj.Geod(ellps="WGS84")
START = [116.3508, 40.0006]  # on p2, at the north edge of zone 1
NORTH = [116.3508, 40.0016]  # on p2, 10 m of latitude further north
JUNCTION = [116.3508, 40.0018]  # p2 meets p3
# A marked hotspot north of p3: its centre (116.3523, 40.0021) is visited where it snaps onto p3.
HOTSPOT_RING = [[116.3520, 40.0019], [116.3526, 40.0019], [116.3526, 40.0023], [116.3520, 40.0023],
                [116.3520, 40.0019]]


def metres(a: list[float], b: list[float]) -> float:
    return GEOD.inv(a[0], a[1], b[0], b[1])[2]


@pytest.fixture
def lead(app: Flask, two_universities: dict[str, int]) -> FlaskClient:
    return signed_in_client(app, "lead-wang", "patrol_lead", university="Test University")


def plan(lead: FlaskClient, **body: object) -> dict:
    response = lead.post("/api/routes/plan", json={"campus": "mini", "start": START, "checkpoints": [NORTH], **body})
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_zones_and_buildings_the_route_passes(lead: FlaskClient) -> None:
    data = plan(lead)  # out and back along p2 between lat 40.0006 and 40.0016
    [route] = data["features"]
    assert route["properties"]["length_m"] == pytest.approx(2 * metres(START, NORTH), abs=0.2)
    cover = data["coverage"]
    assert cover["near_m"] == 50 and cover["hotspots"] == []
    # zone 1 ends at lat 40.0006, where the route starts: 0 m; zone 2 starts 0.002° of longitude east
    assert [(z["id"], z["name"], z["teams"], z["distance_m"]) for z in cover["zones"]] == [(1, "一区", [1], 0.0)]
    # dorm 2's corner (116.3510, 40.0004) and dorm 1's (116.3505, 40.0004) are nearest the start
    expected = [(2, "学生公寓2号楼", "dorm", metres([116.3510, 40.0004], START)),
                (1, "学生公寓1号楼", "dorm", metres([116.3505, 40.0004], START))]
    got = [(b["id"], b["name"], b["kind"], b["distance_m"]) for b in cover["buildings"]]
    assert [g[:3] for g in got] == [e[:3] for e in expected]
    assert [g[3] for g in got] == pytest.approx([e[3] for e in expected], abs=0.1)
    wide = plan(lead, near_m=200)["coverage"]
    # the canteen's west side (lon 116.3520) level with the route; zone 2's west side (lon 116.3528);
    # staff flats' corner (116.3530, 40.0005) against the start
    zone2 = metres([116.3508, 40.0006], [116.3528, 40.0006])
    assert [(z["id"], z["distance_m"]) for z in wide["zones"]] == [(1, 0.0), (2, pytest.approx(zone2, abs=0.1))]
    by_id = {b["id"]: b["distance_m"] for b in wide["buildings"]}
    assert by_id[3] == pytest.approx(metres([116.3508, 40.0012], [116.3520, 40.0012]), abs=0.1)
    assert by_id[4] == pytest.approx(metres(START, [116.3530, 40.0005]), abs=0.1)
    assert plan(lead, near_m=0)["coverage"]["buildings"] == []


def test_marked_hotspot_as_a_stop_and_as_coverage(app: Flask, lead: FlaskClient, client: FlaskClient) -> None:
    marked = client.post("/api/hotspots", json={
        "campus": "mini", "type": "Feature", "geometry": {"type": "Polygon", "coordinates": [HOTSPOT_RING]},
        "properties": {"name": "北路违停", "kind": "no_parking_watch"}})
    assert marked.status_code == 201, marked.get_json()
    hid = marked.get_json()["id"]
    stop = f"marked:{hid}"
    # Not asked to pass it: the route stays on p2; its nearest point to the hotspot is the turn (NORTH)
    # and the hotspot's south-west corner: not covered within 50 m.
    [item] = plan(lead)["coverage"]["hotspots"]
    assert (item["stop"], item["source"], item["id"], item["name"], item["covered"]) == (stop, "marked", hid,
                                                                                       "北路违停", False)
    assert item["distance_m"] == pytest.approx(metres(NORTH, [116.3520, 40.0019]), abs=0.1)
    assert item["lon"] == pytest.approx(116.3523) and item["lat"] == pytest.approx(40.0021)
    # Asked to: the hotspot's centre is visited where it snaps onto p3, (116.3523, 40.0018).
    data = plan(lead, hotspots=True)
    [route] = data["features"]
    assert sorted(map(str, route["properties"]["order"])) == sorted(["0", stop])
    expected = 2 * (metres(START, JUNCTION) + metres(JUNCTION, [116.3523, 40.0018]))
    assert route["properties"]["length_m"] == pytest.approx(expected, abs=0.5)
    [item] = data["coverage"]["hotspots"]
    # p3 runs 0.0001° of latitude south of the hotspot
    assert item["covered"] is True and item["teams"] == [1]
    assert item["distance_m"] == pytest.approx(metres([116.3523, 40.0018], [116.3523, 40.0019]), abs=0.1)
    assert data["unreachable"] == [] and data["not_fitted"] == []


def test_computed_hotspots_are_the_ones_the_hotspot_api_shows(app: Flask) -> None:
    """On the sample campus (the mini campus is too small for a significant cell): the hotspot stops are
    the top hot cells /api/violations/hotspots shows by default, visited or reported."""
    from patrolmap.config import PROJECT_ROOT
    from patrolmap.importing import load_geodata

    load_geodata(db.session, PROJECT_ROOT / "geodata" / "cau-east")
    db.session.commit()
    lead = signed_in_client(app, "lead-li", "patrol_lead")
    top = lead.get("/api/violations/hotspots?campus=cau-east").get_json()["top"]
    assert len(top) >= 3, "the sample campus has hot cells"
    gates = dict(db.session.execute(select(Checkpoint.name, Checkpoint.id)).tuples().all())
    body = {"campus": "cau-east", "start": gates["南门"], "checkpoints": [gates["北门"]], "teams": 2}
    data = lead.post("/api/routes/plan", json={**body, "hotspots": True}).get_json()
    computed = [h for h in data["coverage"]["hotspots"] if h["source"] == "computed"]
    assert [(h["key"], h["count"], h["building"]) for h in computed] == [(t["id"], t["count"], t["building"])
                                                                         for t in top]
    planned = [s for f in data["features"] for s in f["properties"]["order"]]
    missed = [u["checkpoint"] for u in data["unreachable"]] + data["not_fitted"]
    assert sorted(map(str, planned + missed)) == sorted([str(gates["北门"])] + [f"hotspot:{t['id']}" for t in top])
    # on this campus every hot cell has a path through it or beside it, so a hotspot visited is a hotspot passed
    assert all(h["covered"] for h in computed if f"hotspot:{h['key']}" in planned)
    without = lead.post("/api/routes/plan", json=body).get_json()
    assert [s for f in without["features"] for s in f["properties"]["order"]] == [gates["北门"]]
    assert [h["key"] for h in without["coverage"]["hotspots"] if h["source"] == "computed"] == [t["id"] for t in top]


def test_two_teams_are_told_apart_in_coverage(lead: FlaskClient) -> None:
    data = plan(lead, checkpoints=[NORTH, [116.3508, 39.9996]], teams=2, near_m=25)
    by_team = {f["properties"]["team"]: f["properties"]["order"] for f in data["features"]}
    assert sorted(by_team) == [1, 2]
    south = next(t for t, order in by_team.items() if order == [1])
    # Only the team walking south passes the dorms (nearest at 17 m, the gap to dorm 2's west side)
    dorm2 = next(b for b in data["coverage"]["buildings"] if b["id"] == 2)
    assert dorm2["teams"] == [south]
    assert dorm2["distance_m"] == pytest.approx(metres([116.3508, 40.0002], [116.3510, 40.0002]), abs=0.1)
    zone1 = next(z for z in data["coverage"]["zones"] if z["id"] == 1)
    assert zone1["teams"] == [1, 2]  # both start on its edge


def test_bad_coverage_fields_are_refused(lead: FlaskClient) -> None:
    for extra in ({"hotspots": "yes"}, {"hotspots": 1}, {"near_m": 501}, {"near_m": -1}, {"near_m": "50"},
                  {"near_m": True}, {"near_m": float("inf")}):
        response = lead.post("/api/routes/plan", json={"campus": "mini", "start": START, "checkpoints": [NORTH],
                                                       **extra})
        assert response.status_code == 400, (extra, response.get_json())
        assert response.get_json()["message"]


# ---------------------------------------------------------------- candidates


def candidates(lead: FlaskClient, query: str) -> dict:
    response = lead.get(f"/api/routes/candidates?campus=mini&{query}")
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_buildings_by_kind_with_their_visit_points(lead: FlaskClient) -> None:
    data = candidates(lead, "kinds=dorm,canteen")
    assert data["kinds"] == ["dorm", "canteen"] and data["zones"] is None
    by_id = {b["id"]: b for b in data["buildings"]}
    assert sorted(by_id) == [1, 2, 3]
    assert (by_id[1]["name"], by_id[1]["kind"], by_id[1]["zone"]) == ("学生公寓1号楼", "dorm", 1)
    # dorm 1's east side (lon 116.3505) faces p2 (lon 116.3508): visited on p2, level with the building
    lon, lat = by_id[1]["visit"]
    assert lon == pytest.approx(116.3508, abs=1e-7) and 40.0 - 1e-7 <= lat <= 40.0004 + 1e-7
    assert by_id[1]["distance_m"] == pytest.approx(metres([116.3505, lat], [116.3508, lat]), abs=0.1)
    # the canteen's north side (lat 40.0015) is nearer p3 (lat 40.0018) than its west side is to p2
    lon, lat = by_id[3]["visit"]
    assert lat == pytest.approx(40.0018, abs=1e-7) and 116.352 - 1e-7 <= lon <= 116.3528 + 1e-7
    assert by_id[3]["distance_m"] == pytest.approx(metres([lon, 40.0015], [lon, 40.0018]), abs=0.1)
    assert by_id[3]["zone"] is None and by_id[3]["reason"] is None
    # the canteen checkpoint is of kind canteen too
    assert [(c["id"], c["name"], c["lon"], c["lat"]) for c in data["checkpoints"]] == [
        (2, "食堂门口", 116.3524, 40.0008)]


def test_buildings_and_checkpoints_in_zones(app: Flask, lead: FlaskClient) -> None:
    assert {b["id"] for b in candidates(lead, "zones=1")["buildings"]} == {1, 2}
    both = candidates(lead, "zones=1-2")
    assert {b["id"]: b["zone"] for b in both["buildings"]} == {1: 1, 2: 1, 4: 2}
    assert both["zones"] == [{"id": 1, "name": "一区"}, {"id": 2, "name": "二区"}]
    assert both["checkpoints"] == []  # the gate and the canteen door stand outside both zones
    assert candidates(lead, "kinds=dorm&zones=2")["buildings"] == []
    assert [b["id"] for b in candidates(lead, "kinds=staff_apartment&zones=2")["buildings"]] == [4]
    # A building's stored zone wins over where it stands; a checkpoint moved into zone 2 is listed.
    db.session.execute(update(Building).where(Building.id == 3).values(grid_zone_id=2))
    checkpoint = db.session.get(Checkpoint, 2)
    checkpoint.geom = shapely.Point(116.3532, 40.0003)
    db.session.commit()
    zone2 = candidates(lead, "zones=2")
    assert {b["id"] for b in zone2["buildings"]} == {3, 4}
    assert [c["id"] for c in zone2["checkpoints"]] == [2]
    assert [c["id"] for c in candidates(lead, "kinds=gate")["checkpoints"]] == [1]


def test_a_building_off_the_network_is_listed_with_the_reason(app: Flask, lead: FlaskClient) -> None:
    campus_id = db.session.scalar(select(Building.campus_id).where(Building.id == 1))
    ring = [(116.3560, 40.0000), (116.3565, 40.0000), (116.3565, 40.0004), (116.3560, 40.0004), (116.3560, 40.0000)]
    db.session.add(Building(campus_id=campus_id, name="远楼", kind="dorm", geom=shapely.Polygon(ring),
                            minx=116.3560, miny=40.0, maxx=116.3565, maxy=40.0004))
    db.session.commit()
    far = next(b for b in candidates(lead, "kinds=dorm")["buildings"] if b["name"] == "远楼")
    assert far["visit"] is None and "150 m" in far["reason"]
    # nearest network point: the east end of p3 (116.3540, 40.0018) from the corner (116.3560, 40.0004)
    assert far["distance_m"] == pytest.approx(metres([116.3540, 40.0018], [116.3560, 40.0004]), abs=0.2)


def test_bad_candidate_requests(app: Flask, lead: FlaskClient) -> None:
    for query in ("kinds=castle", "kinds=dorm,castle", "zones=99", "zones=abc", "zones=5-3", "", "kinds=&zones=",
                  "kinds=dorm&mode=fly"):
        response = lead.get(f"/api/routes/candidates?campus=mini&{query}")
        assert response.status_code == 400, (query, response.get_json())
        assert response.get_json()["message"]
    # zone ids of another campus are unknown here; another university's campus is not found at all
    other_zone = candidates(signed_in_client(app, "root", "admin"), "zones=1")  # sanity: admin sees mini
    assert other_zone["zones"] == [{"id": 1, "name": "一区"}]
    assert lead.get("/api/routes/candidates?campus=mini&zones=3").status_code == 400  # zone 3 is the other's
    assert lead.get("/api/routes/candidates?campus=other&kinds=dorm").status_code == 404
    assert signed_in_client(app, "v", "viewer").get("/api/routes/candidates?campus=mini&kinds=dorm").status_code == 403


# ---------------------------------------------------------------- the page


def test_the_patrol_page_offers_planning_only_to_planners(app: Flask, lead: FlaskClient) -> None:
    # A gate whose name is template syntax and markup: Folium re-parses the map's script as a template,
    # so stored names stay out of it and reach the panel through Jinja, escaped.
    campus_id = db.session.scalar(select(Building.campus_id).where(Building.id == 1))
    name = "{{ 7*7 }}{% if x %}\\<b>东门</b>"
    db.session.add(Checkpoint(campus_id=campus_id, name=name, kind="gate", geom=shapely.Point(116.3508, 40.0001),
                              minx=116.3508, miny=40.0001, maxx=116.3508, maxy=40.0001))
    db.session.commit()
    page = lead.get("/patrol?campus=mini")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'id="pm-patrol-tools"' in html and "patrolmap.patrolTools(" in html and "patrolmap.patrolShifts(" in html
    assert "{{ 7*7 }}{% if x %}\\&lt;b&gt;东门&lt;/b&gt;</option>" in html and "<b>东门</b>" not in html
    assert 'data-lon="116.3508" data-lat="40.0001"' in html
    for role in ("viewer", "grid_officer", "traffic_staff", "patrol_officer"):
        other = signed_in_client(app, f"u-{role}", role, university="Test University").get("/patrol?campus=mini")
        assert other.status_code == 200
        text = other.get_data(as_text=True)
        assert "pm-patrol-tools" not in text and "patrolTools" not in text and "patrolShifts" not in text
