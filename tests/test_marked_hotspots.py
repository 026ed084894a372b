"""Marked hotspots: a layer of their own, written through validation, versioned, soft-deleted, audited, counted."""

from __future__ import annotations

import datetime as dt
import json
import zoneinfo
from pathlib import Path

import numpy as np
import pytest
import shapely
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import func, select

from patrolmap.extensions import db
from patrolmap.models import AuditEntry, Campus, MarkedHotspot, Violation

from .conftest import signed_in_client

RING = [[116.3500, 40.0005], [116.3530, 40.0005], [116.3530, 40.0011], [116.3500, 40.0011], [116.3500, 40.0005]]
SQUARE = {"type": "Polygon", "coordinates": [RING]}


def hotspot(geometry: dict | None = None, **props: object) -> dict:
    return {"type": "Feature", "geometry": geometry or SQUARE,
            "properties": {"name": "食堂北侧", "kind": "no_parking_watch", "hours": "11:30-13:00", **props}}


@pytest.fixture
def loaded(two_universities: dict[str, int]) -> dict[str, int]:
    return two_universities


@pytest.fixture
def staff(app: Flask) -> FlaskClient:
    return signed_in_client(app, "duty-li", "traffic_staff", university="Test University")


def _rows() -> int:
    return int(db.session.scalar(select(func.count()).select_from(MarkedHotspot)))


def _entries(hotspot_id: int) -> list[AuditEntry]:
    return list(db.session.scalars(select(AuditEntry).where(AuditEntry.layer == "hotspots",
                                                            AuditEntry.feature_id == hotspot_id)
                                   .order_by(AuditEntry.id)))


def test_marking_reading_and_listing(app: Flask, loaded: dict[str, int], staff: FlaskClient) -> None:
    response = staff.post("/api/hotspots", json={**hotspot(hours="7:00-9:00， 11:30-13:00", note="<b>午高峰</b>"),
                                                 "campus": "mini"})
    assert response.status_code == 201, response.get_json()
    created = response.get_json()
    hid = created["id"]
    assert response.headers["Location"] == f"/api/hotspots/{hid}"
    props = created["properties"]
    assert (props["name"], props["kind"], props["hours"], props["note"]) == (
        "食堂北侧", "no_parking_watch", "07:00-09:00,11:30-13:00", "<b>午高峰</b>")  # stored as given, escaped on maps
    assert (props["version"], props["campus"], props["deleted_at"]) == (1, loaded["mini"], None)
    assert props["created_at"].endswith("+08:00")  # the campus's local time
    assert created["geometry"]["type"] == "Polygon"
    assert shapely.geometry.shape(created["geometry"]).equals(shapely.geometry.shape(SQUARE))
    assert staff.get(f"/api/hotspots/{hid}").get_json()["properties"] == props
    listed = staff.get("/api/hotspots").get_json()
    assert listed["type"] == "FeatureCollection" and [f["id"] for f in listed["features"]] == [hid]
    assert listed["numberMatched"] == 1 and "count" not in listed["features"][0]["properties"]
    # A layer like the others: on the maps' API, with its schema's fields.
    layer = staff.get("/api/layers/hotspots").get_json()
    assert [f["properties"]["name"] for f in layer["features"]] == ["食堂北侧"]
    assert any(item["id"] == "hotspots" for item in staff.get("/api/layers").get_json())
    entry = _entries(hid)[0]
    assert (entry.action, entry.actor, entry.campus_id) == ("create", "duty-li", loaded["mini"])
    assert entry.after["hours"] == "07:00-09:00,11:30-13:00" and entry.after["geom"].startswith("POLYGON")


BAD = [
    (hotspot(geometry={"type": "Point", "coordinates": [116.351, 40.0007]}), 422, "Point is not allowed here"),
    (hotspot(name=None), 422, "name: is required"),
    (hotspot(name="   "), 422, "name: is required"),
    (hotspot(kind="parking_lot"), 422, "kind: unknown value 'parking_lot'"),
    (hotspot(kind=None), 422, "kind: is required"),
    (hotspot(hours="25:00-26:00"), 422, "not a time of day"),
    (hotspot(hours="7-9"), 422, "expected hours such as 07:00-09:00"),
    (hotspot(hours="08:00-08:00"), 422, "starts and ends at the same time"),
    (hotspot(note="x" * 2001), 422, "longer than 2000"),
    (hotspot(geometry={"type": "Polygon", "coordinates": [[[11.35, 40.0], [11.36, 40.0], [11.36, 40.01],
                                                           [11.35, 40.0]]]}), 422, "km from the campus"),
    (hotspot(geometry={"type": "Polygon", "coordinates": [[[40.0005, 116.35], [40.0005, 116.353],
                                                           [40.0011, 116.353], [40.0005, 116.35]]]}),
     422, "axes look swapped"),
    (hotspot(geometry={"type": "Polygon", "coordinates": [[[116.35, 40.0], [116.351, 40.0]]]}), 400,
     "not valid GeoJSON"),
    (hotspot(geometry={"type": "Polygon", "coordinates": [[["116.35", 40.0], [116.351, 40.0], [116.351, 40.001],
                                                           [116.35, 40.0]]]}), 400, "nested arrays of [lon, lat]"),
    (hotspot(geometry={"type": "Polygon"}), 400, "nested arrays"),
    ({**hotspot(), "geometry": None}, 400, "needs a geometry"),
    (hotspot(officer="王强"), 400, "unknown field(s): officer"),
    (hotspot(version=1), 400, "unknown field(s): version"),
    (hotspot(name=5), 400, "name must be a string"),
    ({**hotspot(), "id": 7}, 400, "unknown field(s): id"),
    ({**hotspot(), "type": "FeatureCollection"}, 400, "send a GeoJSON Feature"),
    ({**hotspot(), "properties": [1]}, 400, "properties must be an object"),
    ({**hotspot(), "campus": "nowhere"}, 404, "unknown campus"),
    ({**hotspot(), "campus": "other"}, 404, "unknown campus"),  # another university's
]


@pytest.mark.parametrize(("body", "status", "words"), BAD)
def test_bad_hotspots_are_refused_and_store_nothing(loaded: dict[str, int], staff: FlaskClient, body: dict,
                                                    status: int, words: str) -> None:
    response = staff.post("/api/hotspots", json={"campus": "mini", **body})
    assert response.status_code == status, response.get_json()
    assert words in response.get_json()["message"], response.get_json()
    assert _rows() == 0


def test_a_self_crossing_polygon_is_repaired_with_a_warning(loaded: dict[str, int], staff: FlaskClient) -> None:
    bowtie = {"type": "Polygon", "coordinates": [[[116.350, 40.0005], [116.353, 40.0011], [116.353, 40.0005],
                                                  [116.350, 40.0011], [116.350, 40.0005]]]}
    response = staff.post("/api/hotspots", json={**hotspot(geometry=bowtie), "campus": "mini"})
    assert response.status_code == 201
    assert response.get_json()["geometry"]["type"] == "MultiPolygon"
    assert "repaired" in response.get_json()["warnings"][0]


def test_edits_need_the_version_read_and_are_audited(loaded: dict[str, int], staff: FlaskClient) -> None:
    hid = staff.post("/api/hotspots", json={**hotspot(), "campus": "mini"}).get_json()["id"]
    url = f"/api/hotspots/{hid}"
    moved = [[116.3505, 40.0005], [116.3530, 40.0005], [116.3530, 40.0012], [116.3505, 40.0005]]
    edit = hotspot(geometry={"type": "Polygon", "coordinates": [moved]}, kind="tow_away_zone", hours="07:00-09:00")
    missing = staff.put(url, json=edit)
    assert missing.status_code == 400 and "version is required" in missing.get_json()["message"]
    stale = staff.put(url, json={**edit, "properties": {**edit["properties"], "version": 3}})
    assert stale.status_code == 409 and stale.get_json()["details"] == {"version": 1}
    assert staff.put(url, json={**edit, "campus": "mini", "properties": {**edit["properties"], "version": 1}}
                     ).status_code == 400
    assert staff.put(url, json=hotspot(kind="nope", version=1)).status_code == 422
    done = staff.put(url, json={**edit, "reason": "tow-away signs put up",
                                "properties": {**edit["properties"], "version": 1}})
    assert done.status_code == 200, done.get_json()
    props = done.get_json()["properties"]
    assert (props["kind"], props["hours"], props["version"], props["name"]) == ("tow_away_zone", "07:00-09:00", 2,
                                                                                "食堂北侧")
    entry = _entries(hid)[-1]
    assert entry.action == "update" and entry.reason == "tow-away signs put up"
    assert set(entry.before) == set(entry.after) == {"kind", "hours", "geom"}
    assert (entry.before["kind"], entry.after["kind"]) == ("no_parking_watch", "tow_away_zone")
    # The R*Tree / GiST index follows the new shape: a bbox query finds it where it now is.
    row = db.session.get(MarkedHotspot, hid)
    assert (row.minx, row.maxy) == (116.3505, 40.0012)
    found = staff.get("/api/layers/hotspots?bbox=116.3501,40.00115,116.3506,40.00118").get_json()
    assert [f["id"] for f in found["features"]] == [hid]
    # Sending it back unchanged changes nothing, version included, and leaves no entry.
    same = staff.put(url, json={**edit, "properties": {**edit["properties"], "version": 2}})
    assert same.get_json()["properties"]["version"] == 2 and len(_entries(hid)) == 2
    # A note cleared by PUT (the whole feature is replaced) is recorded too.
    cleared = staff.put(url, json={**edit, "properties": {**edit["properties"], "version": 2, "hours": None}})
    assert cleared.get_json()["properties"]["hours"] is None and _entries(hid)[-1].before == {"hours": "07:00-09:00"}


def test_deletes_are_soft_need_a_reason_and_are_audited(loaded: dict[str, int], staff: FlaskClient,
                                                        tmp_path: Path, runner: FlaskCliRunner) -> None:
    hid = staff.post("/api/hotspots", json={**hotspot(), "campus": "mini"}).get_json()["id"]
    keep = staff.post("/api/hotspots", json={**hotspot(name="西门"), "campus": "mini"}).get_json()["id"]
    url = f"/api/hotspots/{hid}"
    assert "reason is required" in staff.delete(url).get_json()["message"]
    assert staff.delete(url, json={"reason": " "}).status_code == 400
    assert staff.delete(url, json={"reason": "x", "version": 7}).status_code == 409
    assert staff.delete(url, json={"reason": "x", "colour": 1}).status_code == 400
    deleted = staff.delete(url, json={"reason": "canteen moved", "version": 1})
    assert deleted.status_code == 200
    props = deleted.get_json()["properties"]
    assert props["deleted_reason"] == "canteen moved" and props["deleted_at"] and props["version"] == 2
    assert _rows() == 2  # nothing erased
    assert [f["id"] for f in staff.get("/api/hotspots").get_json()["features"]] == [keep]
    assert {f["id"] for f in staff.get("/api/hotspots?include_deleted=true").get_json()["features"]} == {hid, keep}
    assert [f["id"] for f in staff.get("/api/layers/hotspots").get_json()["features"]] == [keep]
    assert staff.get(url).get_json()["properties"]["deleted_reason"] == "canteen moved"  # still readable
    assert staff.put(url, json=hotspot(version=2)).status_code == 409
    assert staff.delete(url + "?reason=again").status_code == 409
    entry = _entries(hid)[-1]
    assert (entry.action, entry.reason, entry.before) == ("delete", "canteen moved", {"deleted_at": None})
    # Exports leave deleted hotspots out too.
    out = tmp_path / "hotspots.geojson"
    assert runner.invoke(args=["export", "hotspots", str(out), "--campus", "mini"]).exit_code == 0
    assert [f["properties"]["name"] for f in json.loads(out.read_text(encoding="utf-8"))["features"]] == ["西门"]


def test_hotspots_export_and_import_like_any_layer(loaded: dict[str, int], staff: FlaskClient, tmp_path: Path,
                                                   runner: FlaskCliRunner) -> None:
    staff.post("/api/hotspots", json={**hotspot(note="拖车 24h"), "campus": "mini"})
    staff.post("/api/hotspots", json={**hotspot(name="消防通道", kind="fire_lane_watch", hours=None), "campus": "mini"})
    for suffix in ("geojson", "gpkg"):  # CSV holds polygons as WKT, which the importer does not read (yet)
        out = tmp_path / f"hotspots.{suffix}"
        result = runner.invoke(args=["export", "hotspots", str(out), "--campus", "mini"])
        assert result.exit_code == 0, result.output
        result = runner.invoke(args=["load-geodata", str(out), "--campus", f"copy-{suffix}"])
        assert result.exit_code == 0, result.output
        copy = db.session.scalar(select(Campus.id).where(Campus.slug == f"copy-{suffix}"))
        rows = db.session.scalars(select(MarkedHotspot).where(MarkedHotspot.campus_id == copy)
                                  .order_by(MarkedHotspot.name)).all()
        assert [(r.name, r.kind, r.hours, r.note) for r in rows] == [
            ("消防通道", "fire_lane_watch", None, None), ("食堂北侧", "no_parking_watch", "11:30-13:00", "拖车 24h")]
        assert rows[1].geom.equals(shapely.geometry.shape(SQUARE))
        # Re-importing the same file adds nothing.
        assert runner.invoke(args=["load-geodata", str(out), "--campus", f"copy-{suffix}"]).exit_code == 0
        assert db.session.scalar(select(func.count()).select_from(MarkedHotspot)
                                 .where(MarkedHotspot.campus_id == copy)) == 2


def test_hotspots_are_scoped_to_the_callers_campuses(app: Flask, loaded: dict[str, int],
                                                     staff: FlaskClient) -> None:
    admin = signed_in_client(app, "root", "admin")
    theirs = admin.post("/api/hotspots", json={**hotspot(), "campus": "other"}).get_json()["id"]
    ours = staff.post("/api/hotspots", json={**hotspot(), "campus": "mini"}).get_json()["id"]
    assert [f["id"] for f in staff.get("/api/hotspots").get_json()["features"]] == [ours]
    assert staff.get("/api/hotspots?campus=other").status_code == 404
    for response in (staff.get(f"/api/hotspots/{theirs}"), staff.get(f"/api/hotspots/{theirs}/count"),
                     staff.put(f"/api/hotspots/{theirs}", json=hotspot(version=1)),
                     staff.delete(f"/api/hotspots/{theirs}?reason=x")):
        assert response.status_code == 404 and "unknown hotspot" in response.get_json()["message"]
    assert db.session.get(MarkedHotspot, theirs).deleted_at is None
    assert {f["id"] for f in admin.get("/api/hotspots").get_json()["features"]} == {ours, theirs}
    # Readers read, only traffic staff and admins write; the public view never sees them.
    viewer = signed_in_client(app, "v", "viewer")
    assert {f["id"] for f in viewer.get("/api/hotspots").get_json()["features"]} == {ours, theirs}
    assert viewer.post("/api/hotspots", json={**hotspot(), "campus": "mini"}).status_code == 403
    assert viewer.put(f"/api/hotspots/{ours}", json=hotspot(version=1)).status_code == 403
    assert viewer.delete(f"/api/hotspots/{ours}?reason=x").status_code == 403
    app.config["PUBLIC_VIEW"] = True
    anonymous = app.test_client()
    assert anonymous.get("/api/hotspots").status_code == 401
    assert anonymous.get("/api/layers/hotspots").status_code == 401


# ---------------------------------------------------------------- counts

TZ = zoneinfo.ZoneInfo("Asia/Shanghai")
KINDS = ("fire_lane", "entrance", "no_parking", "zombie", "other")


def _record(client: FlaskClient, lon: float, lat: float, when: dt.datetime, kind: str) -> int:
    response = client.post("/api/violations", json={"campus": "mini", "lon": lon, "lat": lat, "kind": kind,
                                                    "observed_at": when.isoformat()})
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]


def test_counts_agree_with_a_hand_count(app: Flask, loaded: dict[str, int], staff: FlaskClient) -> None:
    rng = np.random.default_rng(6)
    start = dt.datetime(2026, 3, 2, tzinfo=TZ)  # a Monday
    recorded = []
    for _ in range(70):
        lon, lat = round(float(rng.uniform(116.3495, 116.3535)), 6), round(float(rng.uniform(40.0003, 40.0013)), 6)
        when = start + dt.timedelta(days=int(rng.integers(0, 14)), minutes=int(rng.integers(6 * 60, 20 * 60)))
        kind = KINDS[int(rng.integers(0, 5))]
        recorded.append((_record(staff, lon, lat, when, kind), lon, lat, when, kind))
    # On the edge, and exactly 07:00 and 09:00 (the window is half-open: 09:00 is out).
    recorded.append((_record(staff, 116.3530, 40.0008, dt.datetime(2026, 3, 3, 7, 0, tzinfo=TZ), "fire_lane"),
                     116.3530, 40.0008, dt.datetime(2026, 3, 3, 7, 0, tzinfo=TZ), "fire_lane"))
    recorded.append((_record(staff, 116.3510, 40.0008, dt.datetime(2026, 3, 3, 9, 0, tzinfo=TZ), "fire_lane"),
                     116.3510, 40.0008, dt.datetime(2026, 3, 3, 9, 0, tzinfo=TZ), "fire_lane"))
    # Voided ones never count; neither do the other university's, at the very same places.
    void_id = recorded[0][0]
    assert staff.delete(f"/api/violations/{void_id}?reason=duplicate").status_code == 200
    admin = signed_in_client(app, "root", "admin")
    for _, lon, lat, when, kind in recorded[:10]:
        admin.post("/api/violations", json={"campus": "other", "lon": lon, "lat": lat, "kind": kind,
                                            "observed_at": when.isoformat()})
    hid = staff.post("/api/hotspots", json={**hotspot(), "campus": "mini"}).get_json()["id"]
    tri = {"type": "Polygon", "coordinates": [[[116.3497, 40.0003], [116.3533, 40.0004], [116.3510, 40.0013],
                                               [116.3497, 40.0003]]]}
    tid = staff.post("/api/hotspots", json={**hotspot(geometry=tri, name="三角"), "campus": "mini"}).get_json()["id"]
    shapes = {hid: shapely.geometry.shape(SQUARE), tid: shapely.geometry.shape(tri)}
    # The minicampus's own violations (March 2026) are in the data as well.
    minis = db.session.execute(select(Violation.id, Violation.lon, Violation.lat, Violation.observed_at,
                                      Violation.kind).where(Violation.source_id.in_(["v1", "v2", "v3", "v4"]),
                                                            Violation.campus_id == loaded["mini"])).all()
    everything = recorded + [(r.id, r.lon, r.lat, r.observed_at.astimezone(TZ), r.kind) for r in minis]

    def by_hand(shape: shapely.Geometry, date_from: dt.date | None = None, date_to: dt.date | None = None,
                hours: tuple[int, int] | None = None, weekdays: bool = False, kinds: set[str] | None = None) -> int:
        n = 0
        for vid, lon, lat, when, kind in everything:
            local = when.astimezone(TZ)
            if vid == void_id or not shape.covers(shapely.Point(lon, lat)):
                continue
            if (date_from and local.date() < date_from) or (date_to and local.date() > date_to):
                continue
            if hours and not hours[0] <= local.hour * 60 + local.minute < hours[1]:
                continue
            if (weekdays and local.weekday() >= 5) or (kinds and kind not in kinds):
                continue
            n += 1
        return n

    cases = [
        ("", {}),
        ("?from=2026-03-03&to=2026-03-08", {"date_from": dt.date(2026, 3, 3), "date_to": dt.date(2026, 3, 8)}),
        ("?hours=07:00-09:00", {"hours": (420, 540)}),
        ("?hours=07:00-09:00&days=weekdays&kinds=fire_lane,no_parking",
         {"hours": (420, 540), "weekdays": True, "kinds": {"fire_lane", "no_parking"}}),
        ("?from=2026-03-09&kinds=zombie", {"date_from": dt.date(2026, 3, 9), "kinds": {"zombie"}}),
    ]
    for query, window in cases:
        listed = staff.get("/api/hotspots" + (query or "?counts=true")).get_json()
        got = {f["id"]: f["properties"]["count"] for f in listed["features"]}
        expected = {h: by_hand(shape, **window) for h, shape in shapes.items()}  # type: ignore[arg-type]
        assert got == expected, (query, got, expected)
        single = staff.get(f"/api/hotspots/{hid}/count{query}").get_json()
        assert single["count"] == expected[hid] and single["id"] == hid
    assert by_hand(shapes[hid]) > 10 and by_hand(shapes[hid], hours=(420, 540)) > 0  # the cases mean something
    window = staff.get("/api/hotspots?hours=07:00-09:00&days=weekdays").get_json()["window"]
    assert window == {"hours": "07:00-09:00", "days": "weekdays"}


@pytest.mark.parametrize(("query", "words"), [
    ("from=yesterday", "from must be a date"),
    ("from=2026-03-09&to=2026-03-01", "is after to"),
    ("hours=25:00-26:00", "hours out of range"),
    ("hours=morning", "hours must look like 07:00-09:00"),
    ("days=someday", "is not a day"),
    ("kinds=speeding", "unknown violation kind"),
    ("counts=perhaps", "counts must be true or false"),
])
def test_bad_count_windows_are_refused(loaded: dict[str, int], staff: FlaskClient, query: str, words: str) -> None:
    hid = staff.post("/api/hotspots", json={**hotspot(), "campus": "mini"}).get_json()["id"]
    for url in (f"/api/hotspots?{query}", f"/api/hotspots/{hid}/count?{query}"):
        if url.endswith("perhaps") and "/count" in url:
            continue  # the single count always counts
        response = staff.get(url)
        assert response.status_code == 400, (url, response.get_json())
        assert words in response.get_json()["message"]


def test_hotspot_bbox_queries_use_the_spatial_index(app: Flask, loaded: dict[str, int], store: str) -> None:
    from patrolmap.layers import get_layer
    from patrolmap.store import _base_query, _bbox_filter, feature_columns

    layer = get_layer("hotspots")
    with db.engine.connect() as conn:
        if store == "sqlite":
            stmt = _bbox_filter(_base_query(layer, feature_columns(layer), campus_id=None, include_deleted=False),
                                layer, (116.35, 40.0, 116.351, 40.001), "sqlite").limit(10)
            sql = str(stmt.compile(db.engine, compile_kwargs={"literal_binds": True}))
            plan = " | ".join(str(r[-1]) for r in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql))
            assert "rtree_marked_hotspots VIRTUAL TABLE INDEX" in plan, plan
            triggers = {r[0] for r in conn.exec_driver_sql(
                "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'marked_hotspots'")}
            assert triggers == {f"marked_hotspots_rtree_{op}" for op in ("insert", "update", "delete")}
        else:
            indexes = {r[0] for r in conn.exec_driver_sql(
                "SELECT indexdef FROM pg_indexes WHERE tablename = 'marked_hotspots'")}
            assert any("USING gist (geom)" in i for i in indexes), indexes
