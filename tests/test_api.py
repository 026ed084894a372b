"""The GeoJSON layer API: RFC 7946 output equal to the store, clear 4xx errors."""

from __future__ import annotations

import shapely
from flask.testing import FlaskClient

from patrolmap.extensions import db
from patrolmap.importing import load_geodata

from .conftest import DATA


def loaded(client: FlaskClient) -> FlaskClient:
    load_geodata(db.session, DATA / "minicampus")
    return client


def test_layer_collection_is_rfc7946(client: FlaskClient) -> None:
    body = loaded(client).get("/api/layers/buildings").get_json()
    assert body["type"] == "FeatureCollection"
    assert body["numberMatched"] == body["numberReturned"] == 4
    names = sorted(f["properties"]["name"] for f in body["features"])
    assert names == ["学生公寓1号楼", "学生公寓2号楼", "教工公寓", "第一食堂"]
    b1 = next(f for f in body["features"] if f["properties"]["source_id"] == "b1")
    assert shapely.geometry.shape(b1["geometry"]).equals(shapely.box(116.35, 40.0, 116.3505, 40.0004))
    assert b1["properties"]["residents"] == 800


def test_bbox_and_paging(client: FlaskClient) -> None:
    client = loaded(client)
    body = client.get("/api/layers/violations?bbox=116.3500,40.0000,116.3530,40.0010").get_json()
    # v1 (116.3506, 40.00061) and v2 (116.3525, 40.0009) lie inside; v3 and v4 outside.
    assert sorted(f["properties"]["source_id"] for f in body["features"]) == ["v1", "v2"]
    v1 = next(f for f in body["features"] if f["properties"]["source_id"] == "v1")
    # Shown in the campus time zone: the same instant as 2026-03-01T23:45:00Z.
    assert v1["properties"]["observed_at"] == "2026-03-02T07:45:00+08:00"
    page = client.get("/api/layers/buildings?limit=3").get_json()
    assert (page["numberReturned"], page["numberMatched"]) == (3, 4)
    rest = client.get("/api/layers/buildings?limit=3&offset=3").get_json()
    assert rest["numberReturned"] == 1
    ids = {f["id"] for f in page["features"]} | {f["id"] for f in rest["features"]}
    assert len(ids) == 4


def test_errors_are_json(client: FlaskClient) -> None:
    cases = {
        "/api/layers/castles": (404, "unknown layer 'castles'"),
        "/api/layers/buildings?bbox=1,2,3": (400, "bbox must be minlon,minlat,maxlon,maxlat"),
        "/api/layers/buildings?bbox=a,b,c,d": (400, "bbox values must be numbers"),
        "/api/layers/buildings?bbox=40,116,41,117": (400, "bbox out of range"),
        "/api/layers/buildings?bbox=117,40,116,41": (400, "bbox minimum exceeds maximum"),
        "/api/layers/buildings?limit=0": (400, "limit must be between 1 and 10000"),
        "/api/layers/buildings?limit=ten": (400, "limit must be a whole number"),
        "/api/layers/buildings?campus=nowhere": (404, "unknown campus 'nowhere'"),
        "/api/nothing-here": (404, None),
    }
    for url, (status, message) in cases.items():
        response = client.get(url)
        assert response.status_code == status, url
        body = response.get_json()
        assert body is not None and "message" in body, url
        if message:
            assert message in body["message"], (url, body)


def test_campuses_and_layers_listing(client: FlaskClient) -> None:
    client = loaded(client)
    assert client.get("/api/campuses").get_json()[0]["slug"] == "mini"
    assert [layer["id"] for layer in client.get("/api/layers").get_json()] == [
        "buildings", "grid-zones", "paths", "checkpoints", "parking-lots", "chargers", "duty-posts", "violations",
        "hotspots", "hazards",
    ]


def test_cells_count_every_feature_in_the_right_cell(client: FlaskClient) -> None:
    import numpy as np

    from .test_store import insert_random_violations

    client = loaded(client)
    lon, lat = insert_random_violations(2000, np.random.default_rng(11))
    bbox = (116.3495, 39.9995, 116.3545, 40.0015)
    nx, ny = 5, 4
    body = client.get(f"/api/layers/violations/cells?bbox={','.join(map(str, bbox))}&nx={nx}&ny={ny}").get_json()
    # Independently: every point (random ones plus the mini campus's v1..v4) binned with numpy.
    xs = np.concatenate([lon, [116.3506, 116.3525, 116.3543, 116.3495]])
    ys = np.concatenate([lat, [40.00061, 40.0009, 40.0013, 40.0012]])
    inside = (xs >= bbox[0]) & (xs <= bbox[2]) & (ys >= bbox[1]) & (ys <= bbox[3])
    counts, _, _ = np.histogram2d(xs[inside], ys[inside], bins=[nx, ny], range=[[bbox[0], bbox[2]], [bbox[1], bbox[3]]])
    got = np.zeros((nx, ny))
    for cell in body["features"]:
        x0, y0, x1, y1 = cell["properties"]["bounds"]
        i = round((x0 - bbox[0]) / (bbox[2] - bbox[0]) * nx)
        j = round((y0 - bbox[1]) / (bbox[3] - bbox[1]) * ny)
        got[i, j] = cell["properties"]["count"]
        cx, cy = cell["geometry"]["coordinates"]
        assert x0 - 1e-9 <= cx <= x1 + 1e-9 and y0 - 1e-9 <= cy <= y1 + 1e-9
    assert (got == counts).all()
    assert body["numberMatched"] == int(inside.sum())
    assert client.get("/api/layers/violations/cells").status_code == 400
    assert client.get("/api/layers/violations/cells?bbox=116,39,117,40&nx=0").status_code == 400


def test_record_violation(client: FlaskClient) -> None:
    from sqlalchemy import select

    from patrolmap.models import AuditEntry, Violation

    client = loaded(client)
    response = client.post("/api/violations", json={
        "campus": "mini", "lon": 116.3512, "lat": 40.00062, "kind": "fire_lane",
        "observed_at": "2026-03-04T08:15:00+08:00", "plate": "京A12345", "note": "堵住消防通道",
    })
    assert response.status_code == 201, response.get_json()
    feature = response.get_json()
    assert feature["geometry"] == {"type": "Point", "coordinates": [116.3512, 40.00062]}
    assert feature["properties"]["observed_at"] == "2026-03-04T08:15:00+08:00"
    assert feature["properties"]["near_fire_lane"] is True
    assert feature["properties"]["status"] == "open"
    stored = db.session.get(Violation, feature["id"])
    assert (stored.local_hour, stored.local_minute, stored.local_weekday) == (8, 15, 2)
    entry = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "create")).one()
    assert entry.feature_id == feature["id"] and entry.after["plate"] == "京A12345"
    again = client.get(response.headers["Location"]).get_json()
    assert [f["id"] for f in again["features"]] == [feature["id"]]


def test_record_violation_refuses_bad_input_and_stores_nothing(client: FlaskClient) -> None:
    from sqlalchemy import func, select

    from patrolmap.models import Violation

    client = loaded(client)
    ok = {"campus": "mini", "lon": 116.3512, "lat": 40.0007, "kind": "other"}
    cases = [
        ("not json", 400, "JSON object"),
        ([1, 2], 400, "JSON object"),
        ({**ok, "id": 5}, 400, "unknown field(s): id"),
        ({**ok, "created_by": "x"}, 400, "unknown field(s): created_by"),
        ({**ok, "lon": "116.35"}, 400, "lon must be a number"),
        ({**ok, "lat": None}, 400, "lat must be a number"),
        ({**ok, "lat": 95.0}, 422, "coordinates out of range"),
        ({**ok, "lon": 121.47, "lat": 31.23}, 422, "km from the campus"),
        ({**ok, "kind": "castle"}, 422, "kind: unknown value 'castle'"),
        ({**ok, "observed_at": "noon"}, 422, "observed_at: expected an ISO 8601 time"),
        ({**ok, "plate": 12345}, 400, "plate must be a string"),
        ({**ok, "note": "x" * 2001}, 422, "note: longer than 2000 characters"),
        ({**ok, "status": "towed"}, 400, "starts open"),
        ({**ok, "campus": "nowhere"}, 404, "unknown campus"),
    ]
    for body, status, message in cases:
        if isinstance(body, str):
            response = client.post("/api/violations", data=body, content_type="application/json")
        else:
            response = client.post("/api/violations", json=body)
        assert response.status_code == status, (body, response.get_json())
        assert message in response.get_json()["message"], (body, response.get_json())
    assert db.session.scalar(select(func.count()).select_from(Violation)) == 4


def test_dense_page_can_skip_the_count(client: FlaskClient) -> None:
    client = loaded(client)
    body = client.get("/api/layers/buildings?limit=2&count=false").get_json()
    assert body["numberReturned"] == 2 and "numberMatched" not in body
    # A page that is not full is complete, so its count costs nothing and is always given.
    body = client.get("/api/layers/buildings?limit=10&count=false").get_json()
    assert body["numberMatched"] == 4


def test_wide_and_narrow_bbox_agree(client: FlaskClient, store: str) -> None:
    import numpy as np

    from patrolmap.store import count_features, feature_cells

    from .test_store import insert_random_violations

    client = loaded(client)
    lon, lat = insert_random_violations(1500, np.random.default_rng(5))
    xs = np.concatenate([lon, [116.3506, 116.3525, 116.3543, 116.3495]])
    ys = np.concatenate([lat, [40.00061, 40.0009, 40.0013, 40.0012]])
    # Wide boxes take the table scan on SQLite, narrow ones the R*Tree: both must count the same.
    for bbox in [(116.30, 39.95, 116.40, 40.05), (116.3490, 39.9990, 116.3551, 40.0021), (116.3500, 40.0, 116.3502, 40.0004)]:
        inside = int(((xs >= bbox[0]) & (xs <= bbox[2]) & (ys >= bbox[1]) & (ys <= bbox[3])).sum())
        assert count_features(db.session, "violations", bbox=bbox) == inside, bbox
        cells = feature_cells(db.session, "violations", bbox=bbox, nx=3, ny=3)
        assert sum(c["count"] for c in cells) == inside, bbox


def test_grid_zone_features_name_their_officer(client: FlaskClient) -> None:
    client = loaded(client)
    zones = {f["properties"]["source_id"]: f["properties"] for f in client.get("/api/layers/grid-zones").get_json()["features"]}
    assert (zones["z1"]["name"], zones["z1"]["officer"], zones["z1"]["officer_phone"]) == ("一区", "张伟", "13800000001")


def test_campus_by_slug_or_by_id_sent_as_text(client: FlaskClient) -> None:
    """Query strings carry ids as text: digits name a campus by id unless a campus has them as its slug."""
    from patrolmap.store import ensure_campus, find_campus

    client = loaded(client)
    mini = find_campus(db.session, "mini")
    assert mini is not None
    by_slug = client.get("/api/layers/buildings?campus=mini").get_json()
    by_id = client.get(f"/api/layers/buildings?campus={mini.id}").get_json()
    assert by_id["numberMatched"] == by_slug["numberMatched"] == 4
    # A campus slugged with the other's id keeps its address: the slug is looked up first.
    digits = ensure_campus(db.session, str(mini.id), name="数字校区")
    db.session.commit()
    assert digits.id != mini.id
    assert client.get(f"/api/layers/buildings?campus={mini.id}").get_json()["numberMatched"] == 0
    assert client.get(f"/api/layers/buildings?campus={digits.id}").get_json()["numberMatched"] == 0
    for key in ("99999", "9" * 25, "¹", "1.0", " 1"):
        assert client.get("/api/layers/buildings", query_string={"campus": key}).status_code == 404, key
    # The report and the patrol report read the same way.
    for url in (f"/api/reports?campus={digits.id}&period=month&date=2026-03-05",
                f"/api/patrol/missed?campus={digits.id}&from=2026-03-01&to=2026-03-07"):
        assert client.get(url).status_code == 200, url
        assert client.get(url.replace(f"={digits.id}&", "=99999&")).status_code == 404, url
