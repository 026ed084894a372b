"""Grid zones over HTTP: propose, apply, read, adjust, officers; balance checked against the stored residents."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest
import shapely
import shapely.geometry
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from patrolmap.analysis.hexgrid import LocalProjection
from patrolmap.extensions import db
from patrolmap.importing import load_geodata
from patrolmap.models import AuditEntry, Building, Campus, GridZone, Hazard, User

from .conftest import signed_in_client

ROOT = Path(__file__).resolve().parent.parent
RESIDENTIAL = ("dorm", "staff_apartment")


def buildings_of(slug: str) -> dict[int, dict[str, Any]]:
    """The campus's buildings straight from the database: id -> kind, residents, zone, source id, geometry."""
    campus_id = db.session.scalar(select(Campus.id).where(Campus.slug == slug))
    return {b.id: {"kind": b.kind, "residents": b.residents, "zone": b.grid_zone_id, "source": b.source_id,
                   "geom": b.geom}
            for b in db.session.scalars(select(Building).where(Building.campus_id == campus_id))}


def check_balance(collection: dict[str, Any], buildings: dict[int, dict[str, Any]], by: str = "residents") -> None:
    """Each zone's workload and the collection's balance, recomputed from the stored buildings."""
    loads = []
    for feature in collection["features"]:
        props = feature["properties"]
        residents = sum(buildings[b]["residents"] or 0 for b in props["buildings"])
        assert props["residents"] == residents
        assert props["building_count"] == len(props["buildings"])
        load = residents if by == "residents" else len(props["buildings"])
        assert props["workload"] == load
        loads.append(load)
    mean = sum(loads) / len(loads)
    assert collection["balance"] == {"min": min(loads), "max": max(loads), "mean": pytest.approx(mean, abs=1e-3),
                                     "ratio": pytest.approx(max(loads) / mean, abs=1e-3)}


def check_outlines(collection: dict[str, Any], buildings: dict[int, dict[str, Any]]) -> None:
    """Each outline holds its buildings; no two outlines overlap (in square metres)."""
    projection = LocalProjection(116.35, 40.0)
    outlines = [projection.geometries([shapely.geometry.shape(f["geometry"])])[0] for f in collection["features"]]
    for outline, feature in zip(outlines, collection["features"], strict=True):
        for b in feature["properties"]["buildings"]:
            footprint = projection.geometries([buildings[b]["geom"]])[0]
            assert outline.buffer(0.01).contains(footprint)
    for a, b in itertools.combinations(outlines, 2):
        assert a.intersection(b).area < 0.01


@pytest.fixture
def sample(app: Flask) -> dict[int, dict[str, Any]]:
    load_geodata(db.session, ROOT / "geodata" / "cau-east")
    db.session.commit()
    return buildings_of("cau-east")


def officer(app: Flask, name: str, **fields: Any) -> tuple[FlaskClient, int]:
    """A signed-in grid officer (or another role), and their user id."""
    client = signed_in_client(app, name, fields.pop("roles", "grid_officer"), **fields)
    return client, db.session.scalar(select(User.id).where(User.username == name))


# ---------------------------------------------------------------- propose


@pytest.mark.parametrize("officers", [2, 3])
def test_propose_on_the_sample_campus(client: FlaskClient, sample: dict[int, dict[str, Any]], officers: int) -> None:
    response = client.post("/api/grid/propose", json={"campus": "cau-east", "officers": officers})
    assert response.status_code == 200, response.get_json()
    assert response.mimetype == "application/geo+json"
    body = response.get_json()
    assert body["campus"] == "cau-east" and body["officers"] == officers and body["balance_by"] == "residents"
    assert body["kinds"] == list(RESIDENTIAL)
    assert len(body["features"]) == officers
    residential = sorted(i for i, b in sample.items() if b["kind"] in RESIDENTIAL)
    listed = [b for f in body["features"] for b in f["properties"]["buildings"]]
    assert sorted(listed) == residential  # every dorm and staff apartment in exactly one zone
    check_balance(body, sample)
    check_outlines(body, sample)
    assert body["method"] == "exact" and body["optimal"] is True
    # 4 dorms of 730, 1200, 460 and 400 residents: no split beats these heaviest zones (by hand: 2 zones
    # cannot do better than 1200+400 / 730+460 here, 3 zones than the 1200 dorm alone)
    assert body["balance"]["max"] == {2: 1600, 3: 1200}[officers]
    assert [f["properties"]["name"] for f in body["features"]] == [f"Zone {i}" for i in range(1, officers + 1)]
    assert db.session.scalar(select(AuditEntry.id).where(AuditEntry.layer == "grid-zones")) is None  # not saved


def test_propose_by_building_count_and_other_kinds(client: FlaskClient, sample: dict[int, dict[str, Any]]) -> None:
    body = client.post("/api/grid/propose", json={"campus": "cau-east", "officers": 5, "balance": "buildings",
                                                   "kinds": ["lab", "dorm"]}).get_json()
    chosen = sorted(i for i, b in sample.items() if b["kind"] in ("lab", "dorm"))
    assert sorted(b for f in body["features"] for b in f["properties"]["buildings"]) == chosen
    check_balance(body, sample, by="buildings")
    assert body["balance"]["max"] == -(-len(chosen) // 5)  # 24 buildings among 5: at best 5 each at most
    check_outlines(body, sample)


@pytest.mark.parametrize(("body", "message"), [
    ({"campus": "mini"}, "officers is required"),
    ({"campus": "mini", "officers": 0}, "officers must be a whole number from 1 to 200, got 0"),
    ({"campus": "mini", "officers": "2"}, "officers must be a whole number"),
    ({"campus": "mini", "officers": True}, "officers must be a whole number"),
    ({"campus": "mini", "officers": 4}, "4 zones for 3 buildings: every zone needs at least one building"),
    ({"campus": "mini", "officers": 2, "balance": "floors"}, "balance must be one of residents, buildings"),
    ({"campus": "mini", "officers": 2, "kinds": ["castle"]}, "unknown building kind(s): castle"),
    ({"campus": "mini", "officers": 2, "kinds": []}, "kinds must be a non-empty list"),
    ({"campus": "mini", "officers": 1, "kinds": ["library"]}, "campus mini has no buildings of kind library"),
    ({"campus": "mini", "officers": 1, "kinds": ["canteen"]}, "none of these buildings has residents recorded"),
    ({"campus": "mini", "officers": 2, "colour": "red"}, "unknown field(s): colour"),
])
def test_propose_refuses_bad_input(client: FlaskClient, two_universities: dict[str, int], body: dict[str, Any],
                                   message: str) -> None:
    response = client.post("/api/grid/propose", json=body)
    assert response.status_code == 400
    assert message in response.get_json()["message"]


def test_propose_on_the_mini_campus(client: FlaskClient, two_universities: dict[str, int]) -> None:
    mini = buildings_of("mini")
    body = client.post("/api/grid/propose", json={"campus": "mini", "officers": 2}).get_json()
    check_balance(body, mini)
    by_source = {mini[b]["source"] for f in body["features"] for b in f["properties"]["buildings"]}
    assert by_source == {"b1", "b2", "b4"}  # not the canteen
    # b1 800 | b2 600 + b4 120: the best of the contiguous splits along the row b1 - b2 - b4
    assert sorted(f["properties"]["residents"] for f in body["features"]) == [720, 800]


# ---------------------------------------------------------------- apply, read


def apply(client: FlaskClient, zones: list[dict[str, Any]], campus: str = "cau-east") -> Any:
    return client.post("/api/grid/zones/apply", json={"campus": campus, "zones": zones})


def proposal_zones(client: FlaskClient, officers: int, campus: str = "cau-east") -> list[dict[str, Any]]:
    body = client.post("/api/grid/propose", json={"campus": campus, "officers": officers}).get_json()
    return [{"name": f["properties"]["name"], "buildings": f["properties"]["buildings"], "officer": None}
            for f in body["features"]]


def test_apply_then_read(app: Flask, client: FlaskClient, sample: dict[int, dict[str, Any]]) -> None:
    old = db.session.scalars(select(GridZone.id)).all()
    assert len(old) == 3  # the sample's imported zones
    _, grid_officer = officer(app, "grid-wang", display_name="王网格")
    zones = proposal_zones(client, 2)
    zones[0]["officer"] = grid_officer
    response = apply(client, zones)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["applied"] == 2 and response.get_json()["replaced"] == 3
    body = client.get("/api/grid/zones?campus=cau-east").get_json()
    assert [(f["properties"]["name"], f["properties"]["buildings"]) for f in body["features"]] == [
        (z["name"], sorted(z["buildings"])) for z in zones]
    first = body["features"][0]["properties"]
    assert first["officer"] == {"id": grid_officer, "username": "grid-wang", "display_name": "王网格"}
    assert first["contact"] == {"name": "王网格", "phone": None}  # the grid-zones layer's popup names them
    assert body["features"][1]["properties"]["officer"] is None
    assert first["version"] == 1
    check_balance(body, buildings_of("cau-east"))
    check_outlines(body, buildings_of("cau-east"))
    assert body["unassigned"] == []
    stored = buildings_of("cau-east")
    for feature in body["features"]:
        assert {i for i, b in stored.items() if b["zone"] == feature["id"]} == set(feature["properties"]["buildings"])
    assert set(db.session.scalars(select(GridZone.id))) & set(old) == set()
    actions = db.session.execute(select(AuditEntry.action, AuditEntry.feature_id).where(
        AuditEntry.layer == "grid-zones")).all()
    assert sorted(a for a, _ in actions) == ["create", "create", "delete", "delete", "delete"]
    assert {f for a, f in actions if a == "delete"} == set(old)
    by_buildings = client.get("/api/grid/zones?campus=cau-east&balance=buildings").get_json()
    check_balance(by_buildings, stored, by="buildings")


def test_apply_refuses_bad_input(app: Flask, client: FlaskClient, two_universities: dict[str, int]) -> None:
    mini = buildings_of("mini")
    other = buildings_of("other")
    b1, b2, b4 = (next(i for i, b in mini.items() if b["source"] == s) for s in ("b1", "b2", "b4"))
    _, viewer = officer(app, "just-a-viewer", roles="viewer", university="Test University")
    cases = [
        ([], "zones must be a non-empty list"),
        ([{"name": "A", "buildings": [b1]}, {"name": "B", "buildings": [b1, b2]}], f"building {b1} is in two zones"),
        ([{"name": "A", "buildings": [b1]}, {"name": "A", "buildings": [b2]}], "two zones have the same name"),
        ([{"name": " ", "buildings": [b1]}], "a zone's name must be a non-empty string"),
        ([{"name": "A", "buildings": []}], "buildings must be a non-empty list"),
        ([{"name": "A", "buildings": [next(iter(other))]}], "unknown building(s) on campus mini"),
        ([{"name": "A", "buildings": [b1], "officer": viewer}], f"user {viewer} is not a grid officer of campus mini"),
        ([{"name": "A", "buildings": [b1], "colour": "red"}], "zone 1: unknown field(s): colour"),
    ]
    before = db.session.scalars(select(GridZone.id)).all()
    for zones, message in cases:
        response = apply(client, zones, "mini")
        assert response.status_code == 400, zones
        assert message in response.get_json()["message"], (zones, response.get_json())
    assert db.session.scalars(select(GridZone.id)).all() == before  # nothing changed
    assert apply(client, [{"name": "A", "buildings": [b1, b2, b4]}], "mini").status_code == 200


def test_officers_must_be_grid_officers_of_the_campus(app: Flask, client: FlaskClient,
                                                      two_universities: dict[str, int]) -> None:
    mini = buildings_of("mini")
    b1 = next(i for i, b in mini.items() if b["source"] == "b1")
    _, here = officer(app, "go-here", university="Test University")
    _, everywhere = officer(app, "go-everywhere")  # deployment-wide
    _, elsewhere = officer(app, "go-elsewhere", university="Other U")
    _, limited = officer(app, "go-limited", university="Test University", campuses="nowhere")
    _, viewer = officer(app, "viewer-here", roles="viewer", university="Test University")
    _, gone = officer(app, "go-gone", university="Test University", active=False)
    listed = client.get("/api/grid/officers?campus=mini").get_json()
    assert listed["campus"] == "mini"
    assert [o["username"] for o in listed["officers"]] == ["go-everywhere", "go-here"]
    for user in (elsewhere, limited, viewer, gone, 99999):
        response = apply(client, [{"name": "A", "buildings": [b1], "officer": user}], "mini")
        assert response.status_code == 400
        assert response.get_json()["message"] == f"user {user} is not a grid officer of campus mini"
    assert apply(client, [{"name": "A", "buildings": [b1], "officer": here}], "mini").status_code == 200
    again = client.get("/api/grid/officers?campus=mini").get_json()["officers"]
    zone = db.session.scalar(select(GridZone.id).where(GridZone.name == "A"))
    assert {o["username"]: o["zones"] for o in again} == {"go-everywhere": [], "go-here": [zone]}
    assert apply(client, [{"name": "A", "buildings": [b1], "officer": everywhere}], "mini").status_code == 200


# ---------------------------------------------------------------- adjust


@pytest.fixture
def applied(client: FlaskClient, sample: dict[int, dict[str, Any]]) -> list[dict[str, Any]]:
    """The sample campus split among 2 zones, applied: the zones as GET answers them."""
    assert apply(client, proposal_zones(client, 2)).status_code == 200
    return client.get("/api/grid/zones?campus=cau-east").get_json()["features"]


def test_put_moves_a_building_between_zones(client: FlaskClient, applied: list[dict[str, Any]]) -> None:
    a, b = applied
    moving = b["properties"]["buildings"][0]
    target = sorted(a["properties"]["buildings"] + [moving])
    response = client.put(f"/api/grid/zones/{a['id']}", json={"buildings": target, "version": 1})
    assert response.status_code == 200, response.get_json()
    feature = response.get_json()
    assert feature["properties"]["buildings"] == target and feature["properties"]["version"] == 2
    assert feature["changed"] == [b["id"]]
    zones = {f["id"]: f for f in client.get("/api/grid/zones?campus=cau-east").get_json()["features"]}
    assert zones[a["id"]]["properties"]["buildings"] == target
    assert zones[b["id"]]["properties"]["buildings"] == [x for x in b["properties"]["buildings"] if x != moving]
    assert zones[b["id"]]["properties"]["version"] == 2
    stored = buildings_of("cau-east")
    assert stored[moving]["zone"] == a["id"]
    check_balance({"features": list(zones.values()), "balance": client.get(
        "/api/grid/zones?campus=cau-east").get_json()["balance"]}, stored)
    check_outlines({"features": list(zones.values())}, stored)
    audits = db.session.execute(select(AuditEntry.feature_id, AuditEntry.before, AuditEntry.after).where(
        AuditEntry.layer == "grid-zones", AuditEntry.action == "update")).all()
    assert {f for f, _, _ in audits} == {a["id"], b["id"]}
    mine = next(x for x in audits if x[0] == a["id"])
    assert mine[1]["buildings"] == a["properties"]["buildings"] and mine[2]["buildings"] == target
    # the version read is now stale
    stale = client.put(f"/api/grid/zones/{a['id']}", json={"name": "North", "version": 1})
    assert stale.status_code == 409 and stale.get_json()["details"] == {"version": 2}


def test_put_refuses_to_empty_another_zone(client: FlaskClient, sample: dict[int, dict[str, Any]]) -> None:
    dorms = sorted(i for i, b in sample.items() if b["kind"] in RESIDENTIAL)
    assert apply(client, [{"name": "A", "buildings": dorms[:3]}, {"name": "B", "buildings": dorms[3:]}]).status_code \
        == 200
    a, b = (db.session.scalar(select(GridZone.id).where(GridZone.name == n)) for n in "AB")
    response = client.put(f"/api/grid/zones/{a}", json={"buildings": dorms, "version": 1})
    assert response.status_code == 400
    assert response.get_json()["message"] == "zone B would have no buildings left; give it another building first"
    # taking a building out of a zone leaves it unassigned
    fewer = client.put(f"/api/grid/zones/{a}", json={"buildings": dorms[:2], "version": 1})
    assert fewer.status_code == 200
    body = client.get("/api/grid/zones?campus=cau-east").get_json()
    assert body["unassigned"] == [dorms[2]]
    assert buildings_of("cau-east")[dorms[2]]["zone"] is None
    assert b in {f["id"] for f in body["features"]}


def test_put_name_officer_and_outline(app: Flask, client: FlaskClient, applied: list[dict[str, Any]]) -> None:
    a, b = applied
    _, grid_officer = officer(app, "grid-li")
    _, viewer = officer(app, "viewer-li", roles="viewer")
    assert client.put(f"/api/grid/zones/{a['id']}", json={"officer": viewer, "version": 1}).status_code == 400
    named = client.put(f"/api/grid/zones/{a['id']}", json={"name": "北区", "officer": grid_officer, "version": 1})
    assert named.status_code == 200
    props = named.get_json()["properties"]
    assert props["name"] == "北区" and props["officer"]["id"] == grid_officer and props["version"] == 2
    # a hand-drawn outline over the whole campus is cut where the other zone is
    other = shapely.geometry.shape(b["geometry"])
    box = shapely.box(*shapely.union(shapely.geometry.shape(a["geometry"]), other).buffer(0.001).bounds)
    drawn = client.put(f"/api/grid/zones/{a['id']}", json={"outline": shapely.geometry.mapping(box), "version": 2})
    assert drawn.status_code == 200, drawn.get_json()
    feature = drawn.get_json()
    assert feature["warnings"] == ["the outline was cut where it overlapped other zones"]
    outline = shapely.geometry.shape(feature["geometry"])
    assert outline.intersection(other).area < 1e-12
    assert outline.area == pytest.approx(box.area - other.area, rel=1e-6)
    assert feature["properties"]["buildings"] == a["properties"]["buildings"]  # the buildings stay authoritative
    cleared = client.put(f"/api/grid/zones/{a['id']}", json={"officer": None, "version": 3})
    assert cleared.get_json()["properties"]["officer"] is None


@pytest.mark.parametrize(("body", "status", "message"), [
    ({"name": "x"}, 400, "version is required"),
    ({"version": 1}, 400, "nothing to change"),
    ({"version": 1, "colour": "red"}, 400, "unknown field(s): colour"),
    ({"version": 0, "name": "x"}, 400, "version must be a whole number"),
    ({"version": 1, "name": ""}, 400, "a zone's name must be a non-empty string"),
    ({"version": 1, "buildings": []}, 400, "buildings must be a non-empty list"),
    ({"version": 1, "buildings": [10**9]}, 400, "unknown building(s) on campus cau-east"),
    ({"version": 1, "officer": "wang"}, 400, "officer must be a user id"),
    ({"version": 1, "outline": {"type": "Point", "coordinates": [116.35, 40.0]}}, 400, "outline must be a GeoJSON"),
    ({"version": 1, "outline": {"type": "Polygon", "coordinates": [[116.35, 40.0]]}}, 400, "nested arrays"),
    ({"version": 1, "outline": {"type": "Polygon", "coordinates": [[[0, 0], [0, 1], [1, 1], [0, 0]]]}}, 422, None),
])
def test_put_refuses_bad_input(client: FlaskClient, applied: list[dict[str, Any]], body: dict[str, Any],
                               status: int, message: str | None) -> None:
    zone = applied[0]
    response = client.put(f"/api/grid/zones/{zone['id']}", json=body)
    assert response.status_code == status, response.get_json()
    if message:
        assert message in response.get_json()["message"]
    after = client.get("/api/grid/zones?campus=cau-east").get_json()["features"][0]
    assert after["properties"] == zone["properties"] and after["geometry"] == zone["geometry"]


def test_put_unknown_zone(client: FlaskClient, sample: dict[int, dict[str, Any]]) -> None:
    assert client.put("/api/grid/zones/99999", json={"name": "x", "version": 1}).status_code == 404


# ---------------------------------------------------------------- hazards follow their buildings


def test_hazards_move_with_their_zones(client: FlaskClient, sample: dict[int, dict[str, Any]]) -> None:
    dorms = sorted(i for i, b in sample.items() if b["kind"] in RESIDENTIAL)
    old_zone = db.session.scalars(select(GridZone.id)).first()
    campus_id = db.session.scalar(select(Campus.id).where(Campus.slug == "cau-east"))
    at = shapely.point_on_surface(sample[dorms[0]]["geom"])
    hazard = Hazard(campus_id=campus_id, category="fire", description="blocked exit", urgency="high",
                    status="reported", building_id=dorms[0], zone_id=old_zone, reported_by="test", geom=at)
    db.session.add(hazard)
    db.session.commit()
    hazard_id = hazard.id
    assert apply(client, [{"name": "A", "buildings": dorms[:2]}, {"name": "B", "buildings": dorms[2:]}]).status_code \
        == 200
    a, b = (db.session.scalar(select(GridZone.id).where(GridZone.name == n)) for n in "AB")
    db.session.expire_all()
    assert db.session.get(Hazard, hazard_id).zone_id == a
    moved = client.put(f"/api/grid/zones/{b}", json={"buildings": [dorms[0], *dorms[2:]], "version": 1})
    assert moved.status_code == 200
    db.session.expire_all()
    assert db.session.get(Hazard, hazard_id).zone_id == b
    entries = db.session.scalars(select(AuditEntry).where(AuditEntry.layer == "hazards",
                                                          AuditEntry.feature_id == hazard_id)).all()
    assert [(e.action, e.before, e.after) for e in entries] == [
        ("rezone", {"zone": old_zone}, {"zone": a}), ("rezone", {"zone": a}, {"zone": b})]


# ---------------------------------------------------------------- roles and scope


def test_roles(app: Flask, client: FlaskClient, two_universities: dict[str, int]) -> None:
    viewer = signed_in_client(app, "a-viewer", "viewer", university="Test University")
    grid = signed_in_client(app, "a-grid-officer", "grid_officer", university="Test University")
    assert viewer.get("/api/grid/zones?campus=mini").status_code == 200
    assert grid.get("/api/grid/zones?campus=mini").status_code == 200
    zone = db.session.scalars(select(GridZone.id).where(GridZone.campus_id == two_universities["mini"])).first()
    for c in (viewer, grid):
        assert c.post("/api/grid/propose", json={"campus": "mini", "officers": 1}).status_code == 403
        assert c.post("/api/grid/zones/apply", json={"campus": "mini", "zones": []}).status_code == 403
        assert c.put(f"/api/grid/zones/{zone}", json={"name": "x", "version": 1}).status_code == 403
        assert c.get("/api/grid/officers?campus=mini").status_code == 403
    assert app.test_client().get("/api/grid/zones?campus=mini").status_code == 401


def test_other_universities_see_nothing(app: Flask, two_universities: dict[str, int]) -> None:
    admin = signed_in_client(app, "other-admin", "admin", university="Other U")
    zone = db.session.scalars(select(GridZone.id).where(GridZone.campus_id == two_universities["mini"])).first()
    mini_building = next(iter(buildings_of("mini")))
    assert admin.get("/api/grid/zones?campus=mini").status_code == 404
    assert admin.get("/api/grid/officers?campus=mini").status_code == 404
    assert admin.post("/api/grid/propose", json={"campus": "mini", "officers": 1}).status_code == 404
    assert admin.post("/api/grid/zones/apply", json={"campus": "mini", "zones": [
        {"name": "A", "buildings": [mini_building]}]}).status_code == 404
    assert admin.put(f"/api/grid/zones/{zone}", json={"name": "x", "version": 1}).status_code == 404
    # their own campus is theirs, and its buildings are the only ones they can put in a zone
    assert admin.get("/api/grid/zones").status_code == 200  # their only campus
    response = admin.post("/api/grid/zones/apply", json={"campus": "other", "zones": [
        {"name": "A", "buildings": [mini_building]}]})
    assert response.status_code == 400 and "unknown building(s) on campus other" in response.get_json()["message"]


def test_imported_zones_hold_the_buildings_inside_them(sample: dict[int, dict[str, Any]]) -> None:
    """An imported zone is an outline: each building goes to the zone holding its point on surface,
    recomputed here with geopandas' spatial join straight from the sample files."""
    import geopandas as gpd

    folder = ROOT / "geodata" / "cau-east"
    buildings = gpd.read_file(folder / "buildings.geojson")
    zones = gpd.read_file(folder / "grid-zones.geojson")
    points = gpd.GeoDataFrame({"source": buildings["id"]}, geometry=buildings.geometry.representative_point(),
                              crs=buildings.crs)
    joined = gpd.sjoin(points, zones[["name", "geometry"]], predicate="within")
    expected = dict(zip(joined["source"], joined["name"], strict=True))
    zone_names = {z.id: z.name for z in db.session.scalars(select(GridZone))}
    stored = {b["source"]: zone_names[b["zone"]] for b in sample.values() if b["zone"] is not None}
    assert stored == expected
    assert len(expected) == 11  # the sample's three dorm zones hold 1, 1 and 9 buildings
