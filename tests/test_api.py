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
    assert v1["properties"]["observed_at"] == "2026-03-01T23:45:00+00:00"
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
    ]
