"""Editing the campus's layers through the JSON API: items, versions, validation, roles, references, paths, revert.

Every figure is checked against values set here or computed independently (shapely in a UTM projection,
lengths worked out by hand from the coordinates).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import shapely
from flask import Flask
from flask.testing import FlaskClient
from pyproj import Transformer
from shapely.geometry import shape
from sqlalchemy import func, select

from patrolmap.analysis.hexgrid import LocalProjection
from patrolmap.extensions import db
from patrolmap.models import (
    AuditEntry,
    Building,
    Campus,
    Charger,
    Checkpoint,
    GridZone,
    PathSegment,
    PatrolRoute,
)
from patrolmap.store import ensure_campus

from .conftest import signed_in_client

CHARGER = {"type": "Point", "coordinates": [116.3510, 40.0009]}
UTM50 = Transformer.from_crs("EPSG:4326", "EPSG:32650", always_xy=True)  # Beijing lies in UTM zone 50N


def feature(geometry: dict[str, Any], **props: Any) -> dict[str, Any]:
    return {"type": "Feature", "geometry": geometry, "properties": props}


def item_id(model: type, source_id: str, campus_id: int) -> int:
    return db.session.scalar(select(model.id).where(model.source_id == source_id, model.campus_id == campus_id))


def entries(layer: str, feature_id: int) -> list[AuditEntry]:
    db.session.expire_all()
    return list(db.session.scalars(select(AuditEntry).where(AuditEntry.layer == layer,
                                                            AuditEntry.feature_id == feature_id)
                                   .order_by(AuditEntry.id)))


def metres(geom: Any) -> Any:
    """The geometry in UTM 50N metres: a second, independent projection from the API's local one."""
    return shapely.transform(geom, lambda xy: np.column_stack(UTM50.transform(xy[:, 0], xy[:, 1])))


@pytest.fixture
def mini(two_universities: dict[str, int]) -> dict[str, int]:
    return two_universities


@pytest.fixture
def planner(app: Flask) -> FlaskClient:
    return signed_in_client(app, "planner-wu", "planner", university="Test University")


@pytest.fixture
def lead(app: Flask) -> FlaskClient:
    return signed_in_client(app, "lead-zhao", "patrol_lead", university="Test University")


def test_point_item_create_read_patch_put_delete(app: Flask, mini: dict[str, int], planner: FlaskClient) -> None:
    created = planner.post("/api/layers/chargers/items", json={
        **feature(CHARGER, name="图书馆充电桩", kind="car", ports=6, power_kw=7, status="planned", operator="国网"),
        "campus": "mini"})
    assert created.status_code == 201, created.get_json()
    assert created.mimetype == "application/geo+json"
    cid = created.get_json()["id"]
    assert created.headers["Location"] == f"/api/layers/chargers/items/{cid}"
    props = created.get_json()["properties"]
    assert {k: props[k] for k in ("name", "kind", "ports", "power_kw", "status", "operator", "version", "campus")} == {
        "name": "图书馆充电桩", "kind": "car", "ports": 6, "power_kw": 7.0, "status": "planned", "operator": "国网",
        "version": 1, "campus": "mini"}
    assert props["updated_at"].endswith("+08:00")
    assert set(props) == {"name", "kind", "ports", "power_kw", "status", "operator", "version", "campus", "updated_at"}
    assert planner.get(f"/api/layers/chargers/items/{cid}").get_json() == created.get_json()
    stored = db.session.get(Charger, cid)
    assert (stored.geom.x, stored.geom.y, stored.minx, stored.maxy) == (116.3510, 40.0009, 116.3510, 40.0009)
    (create,) = entries("chargers", cid)
    assert (create.action, create.actor, create.campus_id, create.before) == ("create", "planner-wu", mini["mini"], None)
    assert create.after["geom"] == "POINT (116.351 40.0009)" and create.after["ports"] == 6
    source = stored.source_id
    assert create.after["source_id"] == source and source.startswith("edit:")

    moved = {"type": "Point", "coordinates": [116.3512, 40.0010]}
    patched = planner.patch(f"/api/layers/chargers/items/{cid}",
                            json={"properties": {"power_kw": 11.5, "version": 1}, "geometry": moved})
    assert patched.status_code == 200, patched.get_json()
    p = patched.get_json()["properties"]
    assert (p["power_kw"], p["ports"], p["operator"], p["version"]) == (11.5, 6, "国网", 2)
    assert patched.get_json()["geometry"]["coordinates"] == [116.3512, 40.0010]
    update = entries("chargers", cid)[-1]
    assert update.action == "update" and update.before == {"power_kw": 7.0, "geom": "POINT (116.351 40.0009)"}
    assert update.after == {"power_kw": 11.5, "geom": "POINT (116.3512 40.001)"}

    # PUT replaces the whole: what is left out takes its default (operator none, status existing).
    whole = planner.get(f"/api/layers/chargers/items/{cid}").get_json()
    whole["properties"] = {"name": "图书馆充电桩", "kind": "car", "ports": 8, "power_kw": 11.5, "version": 2}
    put = planner.put(f"/api/layers/chargers/items/{cid}", json=whole)
    assert put.status_code == 200, put.get_json()
    p = put.get_json()["properties"]
    assert (p["ports"], p["operator"], p["status"], p["version"]) == (8, None, "existing", 3)
    assert entries("chargers", cid)[-1].after == {"ports": 8, "status": "existing", "operator": None}
    # The same again (as read back, read-only properties and id included) changes nothing, version included.
    again = planner.put(f"/api/layers/chargers/items/{cid}", json=put.get_json())
    assert again.status_code == 200 and again.get_json()["properties"]["version"] == 3
    assert len(entries("chargers", cid)) == 3

    gone = planner.delete(f"/api/layers/chargers/items/{cid}?version=3")
    assert gone.status_code == 200, gone.get_json()
    deleted = entries("chargers", cid)[-1]
    assert gone.get_json() == {"id": cid, "layer": "chargers", "deleted": True, "audit_id": deleted.id}
    assert db.session.get(Charger, cid) is None
    assert deleted.action == "delete" and deleted.after is None
    assert deleted.before == {"name": "图书馆充电桩", "kind": "car", "ports": 8, "power_kw": 11.5, "status": "existing",
                              "operator": None, "geom": "POINT (116.3512 40.001)", "source_id": source}
    assert planner.get(f"/api/layers/chargers/items/{cid}").status_code == 404


def test_lines_and_polygons(app: Flask, mini: dict[str, int], lead: FlaskClient, client: FlaskClient) -> None:
    pid = item_id(PathSegment, "p2", mini["mini"])
    read = lead.get(f"/api/layers/paths/items/{pid}").get_json()
    assert (read["properties"]["kind"], read["properties"]["fire_lane"], read["properties"]["version"]) == (
        "footway", False, 1)
    line = {"type": "LineString", "coordinates": [[116.3508, 39.9995], [116.3510, 40.0008], [116.3508, 40.0020]]}
    patched = lead.patch(f"/api/layers/paths/items/{pid}", json={
        "properties": {"fire_lane": True, "speed_limit_kmh": 15, "version": 1}, "geometry": line})
    assert patched.status_code == 200, patched.get_json()
    p = patched.get_json()["properties"]
    assert (p["fire_lane"], p["speed_limit_kmh"], p["kind"], p["version"]) == (True, 15.0, "footway", 2)
    stored = db.session.get(PathSegment, pid)
    assert stored.geom.equals(shape(line))
    assert (stored.minx, stored.miny, stored.maxx, stored.maxy) == (116.3508, 39.9995, 116.3510, 40.0020)

    bid = item_id(Building, "b3", mini["mini"])
    ring = [[116.3520, 40.0000], [116.3526, 40.0000], [116.3526, 40.0005], [116.3520, 40.0005], [116.3520, 40.0000]]
    put = client.put(f"/api/layers/buildings/items/{bid}", json=feature(
        {"type": "Polygon", "coordinates": [ring]}, name="第一食堂", kind="canteen", floors=3, hours="6:00-23:00",
        version=1))
    assert put.status_code == 200, put.get_json()
    p = put.get_json()["properties"]
    assert (p["floors"], p["hours"], p["residents"], p["version"]) == (3, "06:00-23:00", None, 2)
    stored_b = db.session.get(Building, bid)
    assert stored_b.geom.equals(shapely.Polygon(ring)) and stored_b.minx == 116.3520 and stored_b.maxy == 40.0005
    last = entries("buildings", bid)[-1]
    assert last.after["hours"] == "06:00-23:00" and last.after["floors"] == 3 and last.before["floors"] == 2
    assert last.after["geom"].startswith("POLYGON ((116.352 40") and "hours" in last.before
    zone = item_id(GridZone, "z2", mini["mini"])
    officer = client.patch(f"/api/layers/grid-zones/items/{zone}", json={"properties": {
        "name": "二区（北）", "officer": "王芳", "officer_phone": "13900000002", "version": 1}})
    assert officer.status_code == 200, officer.get_json()
    p = officer.get_json()["properties"]
    assert (p["name"], p["officer"], p["officer_phone"], p["version"]) == ("二区（北）", "王芳", "13900000002", 2)
    assert entries("grid-zones", zone)[-1].before == {"name": "二区", "officer": "李娜", "officer_phone": None}
    # A self-crossing polygon is repaired, with a warning, as in imports.
    bow = [[116.3520, 40.0000], [116.3526, 40.0005], [116.3526, 40.0000], [116.3520, 40.0005], [116.3520, 40.0000]]
    repaired = client.patch(f"/api/layers/buildings/items/{bid}",
                            json={"properties": {"version": 2}, "geometry": {"type": "Polygon", "coordinates": [bow]}})
    assert repaired.status_code == 200 and "repaired" in repaired.get_json()["warnings"][0]
    assert repaired.get_json()["geometry"]["type"] == "MultiPolygon"


def test_versions_refuse_stale_writes(app: Flask, mini: dict[str, int], planner: FlaskClient) -> None:
    cid = item_id(Charger, "c1", mini["mini"])
    other = signed_in_client(app, "planner-qian", "planner", university="Test University")
    first = planner.get(f"/api/layers/chargers/items/{cid}").get_json()
    second = other.get(f"/api/layers/chargers/items/{cid}").get_json()
    assert first["properties"]["version"] == second["properties"]["version"] == 1
    saved = planner.patch(f"/api/layers/chargers/items/{cid}", json={"properties": {"ports": 6, "version": 1}})
    assert saved.status_code == 200 and saved.get_json()["properties"]["version"] == 2
    second["properties"]["ports"] = 10
    refused = other.put(f"/api/layers/chargers/items/{cid}", json=second)
    assert refused.status_code == 409 and refused.get_json()["details"] == {"version": 2}
    assert "version 2, you sent 1" in refused.get_json()["message"]
    assert other.patch(f"/api/layers/chargers/items/{cid}",
                       json={"properties": {"ports": 10, "version": 1}}).status_code == 409
    assert other.delete(f"/api/layers/chargers/items/{cid}", json={"version": 1}).status_code == 409
    db.session.expire_all()
    stored = db.session.get(Charger, cid)
    assert (stored.ports, stored.version) == (6, 2)  # the first save stands, nothing overwritten or deleted
    assert len(entries("chargers", cid)) == 1


def test_bad_input_is_refused_and_changes_nothing(app: Flask, mini: dict[str, int], client: FlaskClient) -> None:
    bid = item_id(Building, "b1", mini["mini"])
    url = f"/api/layers/buildings/items/{bid}"
    ring = [[116.35, 40.0], [116.3505, 40.0], [116.3505, 40.0004], [116.35, 40.0004], [116.35, 40.0]]
    cases: list[tuple[dict[str, Any], int, str | None, str]] = [
        ({"properties": {"kind": "castle", "version": 1}}, 422, "kind", "unknown value 'castle'"),
        ({"properties": {"residents": -5, "version": 1}}, 422, "residents", "below the minimum 0"),
        ({"properties": {"hours": "6-23", "version": 1}}, 422, "hours", "expected hours such as 07:00-09:00"),
        ({"properties": {"floors": 2.5, "version": 1}}, 422, "floors", "expected a whole number"),
        ({"properties": {"version": 1}, "geometry": {"type": "LineString", "coordinates": ring[:2]}}, 422, "geometry",
         "LineString is not allowed here"),
        ({"properties": {"version": 1}, "geometry": {"type": "Polygon", "coordinates": [
            [[116.35, 95.0], [116.36, 95.0], [116.36, 95.1], [116.35, 95.0]]]}}, 422, "geometry", "out of range"),
        ({"properties": {"version": 1}, "geometry": {"type": "Polygon", "coordinates": [
            [[40.0, 116.35], [40.0, 116.3505], [40.0004, 116.3505], [40.0, 116.35]]]}}, 422, "geometry",
         "axes look swapped"),
        ({"properties": {"colour": "red", "version": 1}}, 400, None, "unknown field(s): colour"),
        ({"properties": {"name": ["a"], "version": 1}}, 400, None, "name must be a string, a number"),
        ({"properties": {"name": "x"}}, 400, None, "properties.version is required"),
        ({"properties": {"version": "one"}}, 400, None, "version must be a whole number"),
        ({"properties": {"version": 1}, "style": "bold"}, 400, None, "unknown field(s): style"),
        ({"properties": {"version": 1}, "geometry": {"type": "Polygon", "coordinates": [[[116.35, 40.0]]]}}, 400,
         None, "not valid GeoJSON"),
        ({"properties": {"version": 1}, "geometry": {"type": "Polygon", "coordinates": "here"}}, 400, None,
         "nested arrays"),
        ({"properties": {"version": 1}, "id": bid + 1}, 400, None, "is not the item's id"),
        ({"properties": {"version": 1, "campus": "other"}}, 400, None, "cannot move to another campus"),
    ]
    for body, status, field, message in cases:
        response = client.patch(url, json=body)
        answer = response.get_json()
        assert response.status_code == status, (body, answer)
        assert message in answer["message"], (body, answer)
        if field:
            assert [d["field"] for d in answer["details"]] == [field], answer
    assert client.patch(url, data="not json", content_type="application/json").status_code == 400
    assert client.delete(url).status_code == 400  # no version: nothing is deleted blind
    created = client.post("/api/layers/chargers/items", json={**feature(CHARGER, ports="many"), "campus": "mini"})
    assert created.status_code == 422 and created.get_json()["details"][0]["field"] == "ports"
    assert client.post("/api/layers/chargers/items", json=feature(CHARGER)).status_code == 400  # two campuses
    db.session.expire_all()
    stored = db.session.get(Building, bid)
    assert (stored.version, stored.kind, stored.residents, stored.hours) == (1, "dorm", 800, None)
    assert stored.geom.equals(shapely.Polygon(ring))
    assert db.session.scalar(select(func.count()).select_from(Charger)) == 4  # two per campus, none added
    assert db.session.scalar(select(func.count()).select_from(AuditEntry).where(
        AuditEntry.action.in_(["create", "update", "delete"]))) == 0


def test_roles_layers_and_campuses(app: Flask, mini: dict[str, int], planner: FlaskClient,
                                   lead: FlaskClient) -> None:
    pid = item_id(PathSegment, "p2", mini["mini"])
    cid = item_id(Charger, "c2", mini["mini"])
    assert planner.patch(f"/api/layers/chargers/items/{cid}",
                         json={"properties": {"status": "existing", "version": 1}}).status_code == 200
    refused = planner.patch(f"/api/layers/paths/items/{pid}", json={"properties": {"fire_lane": True, "version": 1}})
    assert refused.status_code == 403 and refused.is_json
    assert "paths" in refused.get_json()["message"] and "patrol_lead" in refused.get_json()["message"]
    assert lead.patch(f"/api/layers/paths/items/{pid}",
                      json={"properties": {"fire_lane": True, "version": 1}}).status_code == 200
    point = {"type": "Point", "coordinates": [116.3515, 40.0012]}
    made = lead.post("/api/layers/checkpoints/items", json={**feature(point, name="北门岗", kind="gate"),
                                                             "campus": "mini"})
    assert made.status_code == 201 and made.get_json()["properties"]["kind"] == "gate"
    assert lead.post("/api/layers/chargers/items", json={**feature(CHARGER), "campus": "mini"}).status_code == 403
    staff = signed_in_client(app, "staff-li", "traffic_staff", university="Test University")
    bid = item_id(Building, "b1", mini["mini"])
    assert staff.delete(f"/api/layers/buildings/items/{bid}?version=1").status_code == 403
    viewer = signed_in_client(app, "viewer-he", "viewer", university="Test University")
    assert viewer.get(f"/api/layers/buildings/items/{bid}").status_code == 200
    assert viewer.patch(f"/api/layers/buildings/items/{bid}", json={"properties": {"version": 1}}).status_code == 403
    # Another university's feature: 404 as if absent, for reading and writing alike.
    foreign = item_id(Charger, "c2", mini["other"])
    assert planner.get(f"/api/layers/chargers/items/{foreign}").status_code == 404
    assert planner.patch(f"/api/layers/chargers/items/{foreign}",
                         json={"properties": {"ports": 1, "version": 1}}).status_code == 404
    assert planner.post("/api/layers/chargers/items", json={**feature(CHARGER), "campus": "other"}).status_code == 404
    # Layers edited elsewhere (evidence, marked hotspots) or unknown: 404.
    assert planner.get("/api/layers/violations/items/1").status_code == 404
    assert lead.patch("/api/layers/roads/items/1", json={"properties": {"version": 1}}).status_code == 404
    db.session.expire_all()
    assert db.session.get(Charger, foreign).version == 1 and db.session.get(PathSegment, pid).fire_lane is True


def test_deletes_of_referenced_features_are_refused(app: Flask, mini: dict[str, int], client: FlaskClient) -> None:
    campus = mini["mini"]
    k1, k2 = item_id(Checkpoint, "k1", campus), item_id(Checkpoint, "k2", campus)
    db.session.add(PatrolRoute(campus_id=campus, name="Night round", mode="walk", start_lon=116.3495, start_lat=40.0006,
                               start_checkpoint_id=None, checkpoint_ids=[k1], speed_m_per_min=80.0, plan={},
                               created_by="lead"))
    bid = item_id(Building, "b3", campus)
    db.session.get(Checkpoint, k2).building_id = bid
    db.session.commit()
    refused = client.delete(f"/api/layers/checkpoints/items/{k1}?version=1")
    assert refused.status_code == 409
    assert '"Night round"' in refused.get_json()["message"]
    assert refused.get_json()["details"]["references"][0]["kind"] == "saved_routes"
    building = client.delete(f"/api/layers/buildings/items/{bid}", json={"version": 1})
    assert building.status_code == 409 and '"食堂门口"' in building.get_json()["message"]
    zone = item_id(GridZone, "z1", campus)
    inside = db.session.scalar(select(func.count()).where(Building.grid_zone_id == zone))
    assert inside > 0
    held = client.delete(f"/api/layers/grid-zones/items/{zone}?version=1")
    assert held.status_code == 409 and f"still holds {inside} building" in held.get_json()["message"]
    db.session.expire_all()
    assert all(db.session.get(m, i) is not None for m, i in ((Checkpoint, k1), (Building, bid), (GridZone, zone)))
    # Once the route is gone (soft-deleted) the checkpoint may go.
    route = db.session.scalar(select(PatrolRoute))
    route.deleted_at = route.created_at
    db.session.commit()
    assert client.delete(f"/api/layers/checkpoints/items/{k1}?version=1").status_code == 200
    assert db.session.get(Checkpoint, k1) is None


def test_split_and_join_paths(app: Flask, mini: dict[str, int], lead: FlaskClient) -> None:
    pid = item_id(PathSegment, "p2", mini["mini"])
    original = db.session.get(PathSegment, pid).geom  # (116.3508, 39.9995) -> (116.3508, 40.0020), a footway
    url = f"/api/layers/paths/items/{pid}/split"
    at = [116.35083, 40.0011]  # about 2.6 m east of the line
    assert lead.post(url, json={"at": [116.3510, 40.0011], "version": 1}).status_code == 400  # ~17 m away
    end = lead.post(url, json={"at": [116.3508, 39.999502], "version": 1})
    assert end.status_code == 400 and "at an end" in end.get_json()["message"]
    assert lead.post(url, json={"at": at, "version": 2}).status_code == 409
    split = lead.post(url, json={"at": at, "version": 1})
    assert split.status_code == 200, split.get_json()
    first, second = split.get_json()["features"]
    assert first["id"] == pid and second["id"] != pid and first["properties"]["version"] == 2
    assert second["properties"]["version"] == 1 and second["properties"]["kind"] == "footway"
    # Independently: the point of the line nearest `at`, measured in UTM metres, and the lengths on each side.
    line_m, at_m = metres(original), metres(shapely.Point(at))
    cut = line_m.project(at_m)
    a_m, b_m = metres(shape(first["geometry"])), metres(shape(second["geometry"]))
    assert a_m.length == pytest.approx(cut, abs=0.01)
    assert b_m.length == pytest.approx(line_m.length - cut, abs=0.01)
    assert first["geometry"]["coordinates"][-1] == second["geometry"]["coordinates"][0]  # one shared vertex
    assert first["geometry"]["coordinates"][0] == [116.3508, 39.9995]
    new = db.session.get(PathSegment, second["id"])
    assert new.source_id.startswith("p2:split:") and len(new.source_id) == len("p2:split:") + 8
    assert [e.action for e in entries("paths", pid)] == ["update"]
    assert [e.action for e in entries("paths", second["id"])] == ["create"]

    far = lead.post("/api/layers/paths/join", json={"ids": [pid, item_id(PathSegment, "p3", mini["mini"])],
                                                     "versions": [2, 1]})
    assert far.status_code == 400 and "do not share an end" in far.get_json()["message"]
    # Joined the other way round (b's end onto a's start): a keeps its id, fields and direction.
    joined = lead.post("/api/layers/paths/join", json={"ids": [second["id"], pid], "versions": [1, 2]})
    assert joined.status_code == 200, joined.get_json()
    merged = shape(joined.get_json()["geometry"])
    assert joined.get_json()["id"] == second["id"] and joined.get_json()["properties"]["version"] == 2
    assert merged.coords[0] == (116.3508, 39.9995) and merged.coords[-1] == (116.3508, 40.0020)
    assert metres(merged).length == pytest.approx(line_m.length, abs=0.01)
    assert db.session.get(PathSegment, pid) is None
    assert [e.action for e in entries("paths", pid)] == ["update", "delete"]
    assert entries("paths", pid)[-1].before["source_id"] == "p2"


def test_revert_of_each_kind(app: Flask, mini: dict[str, int], client: FlaskClient, planner: FlaskClient) -> None:
    cid = item_id(Charger, "c1", mini["mini"])
    planner.patch(f"/api/layers/chargers/items/{cid}", json={"properties": {"ports": 9, "operator": "特来电",
                                                                            "version": 1}})
    update = entries("chargers", cid)[-1]
    assert planner.post(f"/api/audit/{update.id}/revert").status_code == 403  # admins only
    reverted = client.post(f"/api/audit/{update.id}/revert", json={"reason": "wrong charger"})
    assert reverted.status_code == 200, reverted.get_json()
    answer = reverted.get_json()
    assert answer["reverted"] == update.id and answer["feature"]["properties"]["ports"] == 4
    assert answer["feature"]["properties"]["operator"] == "国网" and answer["feature"]["properties"]["version"] == 3
    revert = entries("chargers", cid)[-1]
    assert (revert.id, revert.action, revert.before, revert.after) == (
        answer["audit_id"], "revert", {"ports": 9, "operator": "特来电"}, {"ports": 4, "operator": "国网"})
    assert revert.reason == f"revert of audit entry {update.id}: wrong charger"
    again = client.post(f"/api/audit/{update.id}/revert")
    assert again.status_code == 409 and f"by entry {revert.id}" in again.get_json()["message"]
    # A later change blocks reverting an earlier one until the later is reverted.
    planner.patch(f"/api/layers/chargers/items/{cid}", json={"properties": {"ports": 5, "version": 3}})
    blocked = client.post(f"/api/audit/{revert.id}/revert")
    assert blocked.status_code == 409 and "ports" in blocked.get_json()["message"]
    assert blocked.get_json()["details"] == {"fields": ["ports"], "version": 4}

    # Delete, then revert: the feature comes back whole, with its id and source id.
    before = db.session.get(Charger, cid)
    geom, source = before.geom, before.source_id
    assert client.delete(f"/api/layers/chargers/items/{cid}?version=4").status_code == 200
    deletion = entries("chargers", cid)[-1]
    back = client.post(f"/api/audit/{deletion.id}/revert")
    assert back.status_code == 200, back.get_json()
    restored = db.session.get(Charger, cid)
    assert (restored.ports, restored.operator, restored.source_id, restored.version) == (5, "国网", source, 1)
    assert restored.geom.equals(geom) and back.get_json()["feature"]["id"] == cid
    # Reverting that revert deletes it again; reverting a create deletes what it made.
    assert client.post(f"/api/audit/{back.get_json()['audit_id']}/revert").get_json()["feature"] is None
    assert db.session.get(Charger, cid) is None
    made = planner.post("/api/layers/chargers/items", json={**feature(CHARGER, name="临时"), "campus": "mini"})
    new_id = made.get_json()["id"]
    undone = client.post(f"/api/audit/{entries('chargers', new_id)[0].id}/revert")
    assert undone.status_code == 200 and undone.get_json()["feature"] is None
    assert db.session.get(Charger, new_id) is None

    # A deleted feature whose id was given again meanwhile comes back under a new id, which the answer reports.
    c2 = item_id(Charger, "c2", mini["mini"])
    assert client.delete(f"/api/layers/chargers/items/{c2}?version=1").status_code == 200
    db.session.add(Charger(id=c2, campus_id=mini["mini"], source_id="squatter", geom=shapely.Point(116.351, 40.001)))
    db.session.commit()
    elsewhere = client.post(f"/api/audit/{entries('chargers', c2)[-1].id}/revert").get_json()["feature"]
    assert elsewhere["id"] != c2 and elsewhere["properties"]["ports"] == 20
    assert db.session.get(Charger, elsewhere["id"]).source_id == "c2"

    imported = db.session.scalar(select(AuditEntry.id).where(AuditEntry.action == "import"))
    refused = client.post(f"/api/audit/{imported}/revert")
    assert refused.status_code == 400 and "cannot be reverted" in refused.get_json()["message"]
    assert client.post("/api/audit/999999/revert").status_code == 404
    # The audit page offers Revert on the entries it can revert, and not on imports.
    html = client.get("/admin/audit").get_data(as_text=True)
    assert f'data-revert="{update.id}"' in html and f'data-revert="{imported}"' not in html


def test_routing_follows_a_fire_lane_edit(app: Flask, client: FlaskClient) -> None:
    ensure_campus(db.session, "tiny", name="Tiny campus")
    db.session.commit()
    projection = LocalProjection(116.35, 40.0)

    def lonlat(x: float, y: float) -> list[float]:
        lon, lat = projection.inverse(np.array([x]), np.array([y]))
        return [float(lon[0]), float(lat[0])]

    # A 200 m footway shortcut from A (0, 0) to B (200, 0), and a road detour: up 100 m, across 200 m, down 100 m.
    road = [lonlat(0, 0), lonlat(0, 100), lonlat(200, 100), lonlat(200, 0)]
    for name, kind, coords in (("捷径", "footway", [lonlat(0, 0), lonlat(200, 0)]), ("环路", "road", road)):
        made = client.post("/api/layers/paths/items", json={
            **feature({"type": "LineString", "coordinates": coords}, name=name, kind=kind), "campus": "tiny"})
        assert made.status_code == 201, made.get_json()
    footway = db.session.scalar(select(PathSegment.id).where(PathSegment.kind == "footway"))
    plan = {"campus": "tiny", "mode": "drive", "start": lonlat(0, 0), "checkpoints": [lonlat(200, 0)]}

    def tour_m() -> float:
        answer = client.post("/api/routes/plan", json=plan)
        assert answer.status_code == 200, answer.get_json()
        return answer.get_json()["features"][0]["properties"]["length_m"]

    assert tour_m() == pytest.approx(2 * 400, abs=0.5)  # there and back by the road
    marked = client.patch(f"/api/layers/paths/items/{footway}", json={"properties": {"fire_lane": True,
                                                                                      "version": 1}})
    assert marked.status_code == 200
    assert tour_m() == pytest.approx(2 * 200, abs=0.5)  # the fire lane is drivable: straight there and back
    assert db.session.scalar(select(func.count()).select_from(Campus)) == 1
