"""OGC API - Features under /ogcapi, on the mini campus of two universities (plus generated violations,
hazards and a saved patrol route).

Expected values come from a second source: counts and extents read from the stored rows with the ORM,
bbox results from a shapely filter over every row, time filters from the generated times worked out by
hand, paging from walking the next links.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import re
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlsplit

import pytest
import shapely
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from patrolmap.extensions import db
from patrolmap.importing import CampusInfo, load_geodata
from patrolmap.layers import LAYERS
from patrolmap.models import Campus, Checkpoint, PatrolRoute
from patrolmap.store import AUDITED_MODELS

from .conftest import signed_in_client

SHANGHAI = dt.timezone(dt.timedelta(hours=8))
FIRST = dt.datetime(2026, 3, 10, tzinfo=SHANGHAI)  # the generated violations: one every 5 hours from here
KINDS = ("fire_lane", "entrance", "no_parking", "zombie", "other")
STATUSES = ("open", "notified", "towed", "resolved")
GENERATED = 40
NOTE = "<b>堵住</b> 消防通道 & 出口"
HAZARD_DAYS = (1, 3, 5, 8, 13)  # reported on these days of March 2026, 09:00 Shanghai time
GEOJSON = "application/geo+json"
COLLECTION_IDS = ["buildings", "grid-zones", "paths", "checkpoints", "patrol-routes", "violations", "duty-posts",
                  "chargers", "parking-lots", "hotspots", "hazards"]


def generated_time(i: int) -> dt.datetime:
    return FIRST + dt.timedelta(hours=5 * i)


TRIANGLE = [[116.3536, 40.0], [116.3546, 40.0], [116.3546, 40.001], [116.3536, 40.0]]  # a building
DIAGONAL = [[116.3541, 39.9996], [116.3551, 40.0006]]  # a path
# Boxes inside the bounding box of the triangle (A) and of the diagonal (B) that miss their shapes.
MISS_TRIANGLE = (116.3537, 40.0007, 116.3539, 40.0009)
MISS_DIAGONAL = (116.3542, 40.0003, 116.3544, 40.0005)


def write_extra_data(folder: Path) -> Path:
    """A campus folder for mini: GENERATED violations on a grid, five hazards, a triangular building and a
    diagonal path (shapes whose bounding box is far bigger than they are), and a marked hotspot."""
    folder.mkdir(exist_ok=True)
    for layer, geometry, props in (("buildings", {"type": "Polygon", "coordinates": [TRIANGLE]}, {"kind": "lab"}),
                                   ("paths", {"type": "LineString", "coordinates": DIAGONAL}, {"kind": "road"}),
                                   ("hotspots", {"type": "Polygon", "coordinates": [TRIANGLE[::-1]]},
                                    {"kind": "fire_lane_watch", "hours": "07:00-09:00,17:00-19:00"})):
        feature = {"type": "Feature", "id": f"{layer}-extra", "geometry": geometry,
                   "properties": {"name": "斜 <i>extra</i>", **props}}
        (folder / f"{layer}.geojson").write_text(json.dumps({"type": "FeatureCollection", "features": [feature]}),
                                                 encoding="utf-8")
    rows = ["id,lon,lat,observed_at,kind,plate,status,note,reporter"]
    for i in range(GENERATED):
        lon, lat = 116.3500 + (i % 8) * 0.0005, 40.0002 + (i // 8) * 0.0003
        note = f'"{NOTE}"' if i == 7 else ""
        rows.append(f"t{i:02d},{lon:.4f},{lat:.4f},{generated_time(i).isoformat()},{KINDS[i % 5]},京A{20000 + i},"
                    f"{STATUSES[i % 4]},{note},王强")
    violations = folder / "violations.csv"
    violations.write_text("\n".join(rows) + "\n", encoding="utf-8")
    features = [{"type": "Feature", "id": f"h{day}", "geometry": {"type": "Point",
                                                                  "coordinates": [116.3505 + day * 1e-4, 40.0009]},
                 "properties": {"category": "fire", "description": f"灭火器过期 {day}", "reported_by": "张伟",
                                "reported_at": f"2026-03-{day:02d}T09:00:00+08:00", "urgency": "normal"}}
                for day in HAZARD_DAYS]
    hazards = folder / "hazards.geojson"
    hazards.write_text(json.dumps({"type": "FeatureCollection", "features": features}), encoding="utf-8")
    return folder


def save_route(client: FlaskClient) -> dict[str, Any]:
    ids = dict(db.session.execute(select(Checkpoint.source_id, Checkpoint.id)
                                  .join(Campus, Campus.id == Checkpoint.campus_id)
                                  .where(Campus.slug == "mini")).tuples().all())
    response = client.post("/api/routes", json={"campus": "mini", "name": "Night round <夜巡>",
                                                "checkpoints": [ids["k1"], ids["k2"]], "start": [116.3508, 40.0006]})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


@pytest.fixture
def ogc(app: Flask, two_universities: dict[str, int], tmp_path: Path) -> SimpleNamespace:
    """Both campuses, GENERATED more violations and five hazards on mini, a saved route, and clients."""
    load_geodata(db.session, write_extra_data(tmp_path / "extra"), campus=CampusInfo("mini"))
    db.session.commit()
    admin = signed_in_client(app, "ogc-admin", "admin")
    route = save_route(admin)
    return SimpleNamespace(
        campuses=two_universities, admin=admin, route=route,
        viewer=signed_in_client(app, "ogc-viewer", "viewer", university="Test University"),
        staff=signed_in_client(app, "ogc-staff", "traffic_staff", university="Test University"),
    )


def get_json(client: FlaskClient, url: str, status: int = 200, **headers: str) -> dict[str, Any]:
    response = client.get(url, headers=headers)
    assert response.status_code == status, (url, response.status_code, response.data[:300])
    assert response.mimetype in ("application/json", GEOJSON, "application/vnd.oai.openapi+json"), response.mimetype
    return response.get_json()


def local_path(href: str) -> str:
    """A link's path and query, for the test client."""
    parts = urlsplit(href)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


def link(doc: dict[str, Any], rel: str, media_type: str | None = None) -> str | None:
    hrefs = [x["href"] for x in doc["links"] if x["rel"] == rel and (media_type is None or x["type"] == media_type)]
    assert len(hrefs) <= 1, hrefs
    return hrefs[0] if hrefs else None


def walk(client: FlaskClient, url: str) -> Iterator[dict[str, Any]]:
    """Every page of a query, following next links as a client does."""
    next_url: str | None = url
    while next_url:
        page = get_json(client, next_url)
        assert page["numberReturned"] == len(page["features"])
        yield page
        href = link(page, "next", GEOJSON)
        next_url = local_path(href) if href else None


def stored(layer_id: str, campus_ids: set[int] | None = None) -> dict[int, Any]:
    """Live rows of a layer (deleted ones left out), by id, read with the ORM."""
    model = LAYERS[layer_id].model
    stmt = select(model)
    if campus_ids is not None:
        stmt = stmt.where(model.campus_id.in_(campus_ids))
    if model in AUDITED_MODELS:
        stmt = stmt.where(model.deleted_at.is_(None))
    db.session.expire_all()
    return {row.id: row for row in db.session.scalars(stmt)}


# ---------------------------------------------------------------- landing page, conformance, API, collections


def test_landing_conformance_and_api_definition(ogc: SimpleNamespace) -> None:
    landing = get_json(ogc.admin, "/ogcapi")
    rels = {x["rel"]: x for x in landing["links"]}
    assert rels["service-desc"]["type"] == "application/vnd.oai.openapi+json;version=3.0"
    assert {"self", "alternate", "service-doc", "conformance", "data"} <= set(rels)
    assert get_json(ogc.admin, "/ogcapi/") == landing
    conformance = get_json(ogc.admin, local_path(rels["conformance"]["href"]))
    assert {c.rsplit("/", 1)[1] for c in conformance["conformsTo"]} == {"core", "oas30", "html", "geojson"}
    api = ogc.admin.get(local_path(rels["service-desc"]["href"]))
    assert api.status_code == 200 and api.headers["Content-Type"] == "application/vnd.oai.openapi+json;version=3.0"
    doc = api.get_json()
    assert doc["openapi"].startswith("3.0.") and doc["servers"] == [{"url": "http://localhost/ogcapi"}]
    paths = doc["paths"]
    assert {"/", "/conformance", "/api", "/collections"} <= set(paths)
    for cid in COLLECTION_IDS:
        assert {f"/collections/{cid}", f"/collections/{cid}/items", f"/collections/{cid}/items/{{featureId}}"} <= set(
            paths), cid

    def names(path: str) -> set[str]:
        out = set()
        for p in paths[path]["get"]["parameters"]:
            out.add(doc["components"]["parameters"][p["$ref"].rsplit("/", 1)[1]]["name"] if "$ref" in p else p["name"])
        return out

    # GDAL reads here which properties it may filter on, and whether datetime applies.
    assert {"bbox", "limit", "offset", "datetime", "kind", "status", "plate", "near_fire_lane"} <= names(
        "/collections/violations/items")
    assert "datetime" not in names("/collections/buildings/items") and "kind" in names("/collections/buildings/items")
    # A viewer's document names neither personal data as a filter nor collections they cannot read.
    viewer_doc = get_json(ogc.viewer, "/ogcapi/api")
    items = viewer_doc["paths"]["/collections/violations/items"]["get"]["parameters"]
    assert not {p.get("name") for p in items} & {"plate", "reporter"}
    assert "/collections/patrol-routes/items" not in viewer_doc["paths"]
    assert ogc.admin.get("/ogcapi?x=1").status_code == 400 and ogc.admin.get("/ogcapi/api?f=xml").status_code == 400


def _expected_extent(rows: dict[int, Any]) -> list[float]:
    bounds = shapely.bounds(list(r.geom for r in rows.values()))
    return [bounds[:, 0].min(), bounds[:, 1].min(), bounds[:, 2].max(), bounds[:, 3].max()]


def test_collections_count_and_bound_what_the_caller_sees(ogc: SimpleNamespace) -> None:
    mini = {ogc.campuses["mini"]}
    for client, campuses in ((ogc.admin, None), (ogc.viewer, mini)):
        doc = get_json(client, "/ogcapi/collections")
        listed = {c["id"]: c for c in doc["collections"]}
        expected_ids = COLLECTION_IDS if client is ogc.admin else [c for c in COLLECTION_IDS if c != "patrol-routes"]
        assert list(listed) == expected_ids
        for cid, info in listed.items():
            assert get_json(client, f"/ogcapi/collections/{cid}") == info
            assert {(x["rel"], x["type"]) for x in info["links"]} >= {("items", GEOJSON), ("items", "text/html")}
            if cid == "patrol-routes":
                routes = db.session.scalars(select(PatrolRoute).where(PatrolRoute.deleted_at.is_(None))).all()
                assert info["itemCount"] == len(routes) == 1
                assert info["extent"]["spatial"]["bbox"][0] == pytest.approx(list(routes[0].geom.bounds))
                continue
            rows = stored(cid, campuses)
            assert info["itemCount"] == len(rows), cid
            if rows:
                assert info["extent"]["spatial"]["bbox"][0] == pytest.approx(_expected_extent(rows)), cid
            else:
                assert "extent" not in info, cid
        times = sorted(v.observed_at for v in stored("violations", campuses).values())
        interval = listed["violations"]["extent"]["temporal"]["interval"][0]
        assert [dt.datetime.fromisoformat(t) for t in interval] == [times[0], times[-1]]
    # The mini campus holds 4 + GENERATED violations; the other university's copy 4 more, seen by the admin only.
    assert get_json(ogc.viewer, "/ogcapi/collections/violations")["itemCount"] == 4 + GENERATED
    assert get_json(ogc.admin, "/ogcapi/collections/violations")["itemCount"] == 8 + GENERATED


# ---------------------------------------------------------------- features: bbox, paging, time, filters


def test_bbox_keeps_exactly_the_features_that_meet_it(ogc: SimpleNamespace) -> None:
    """Points in SQL; lines and polygons whose box meets the bbox but whose shape does not are left out."""
    missed_by_shape = set()
    for layer_id, bbox in itertools.product(("violations", "buildings", "paths", "parking-lots"), (
            (116.3501, 40.0003, 116.3522, 40.0011), (116.3496, 39.9996, 116.3499, 40.0001), MISS_TRIANGLE,
            MISS_DIAGONAL, (116.0, 39.0, 117.0, 41.0), (100.0, 10.0, 100.1, 10.1))):
        rows = stored(layer_id)
        box = shapely.box(*bbox)
        expected = sorted(i for i, r in rows.items() if shapely.intersects(r.geom, box))
        boxes = sorted(i for i, r in rows.items() if shapely.intersects(shapely.box(*r.geom.bounds), box))
        missed_by_shape |= {(layer_id, rows[i].source_id) for i in set(boxes) - set(expected)}
        query = f"/ogcapi/collections/{layer_id}/items?bbox={','.join(map(str, bbox))}"
        pages = list(walk(ogc.admin, query + "&limit=3"))
        got = [f["id"] for page in pages for f in page["features"]]
        assert got == expected, (layer_id, bbox)  # each once, in id order
        assert {page["numberMatched"] for page in pages} == {len(expected)}
        assert get_json(ogc.admin, query)["numberReturned"] == len(expected)
    assert missed_by_shape == {("buildings", "buildings-extra"), ("paths", "paths-extra")}


def test_paging_walks_every_item_once_and_keeps_the_query(ogc: SimpleNamespace) -> None:
    mini = ogc.campuses["mini"]
    expected = sorted(stored("violations", {mini}))
    for limit in (1, 7, 44, 1000):
        pages = list(walk(ogc.admin, f"/ogcapi/collections/violations/items?campus=mini&limit={limit}"))
        ids = [f["id"] for page in pages for f in page["features"]]
        assert ids == expected and len(pages) == -(-len(expected) // limit)
        assert all(page["numberMatched"] == len(expected) for page in pages)
        assert all(f["properties"]["campus"] == mini for page in pages for f in page["features"])
    last = get_json(ogc.admin, "/ogcapi/collections/violations/items?campus=mini&limit=7&offset=42")
    assert [f["id"] for f in last["features"]] == expected[42:] and link(last, "next") is None
    assert "offset=35" in link(last, "prev", GEOJSON)
    beyond = get_json(ogc.admin, "/ogcapi/collections/violations/items?campus=mini&offset=500")
    assert beyond["features"] == [] and beyond["numberMatched"] == len(expected)
    # Beyond the maximum page a client gets the maximum, and a next link to the rest.
    ogc.admin.application.config["API_MAX_LIMIT"] = 5
    clamped = get_json(ogc.admin, "/ogcapi/collections/violations/items?campus=mini&limit=50")
    assert clamped["numberReturned"] == 5 and "offset=5" in link(clamped, "next", GEOJSON)


def _ids_in(client: FlaskClient, collection: str, query: str) -> list[int]:
    return [f["id"] for page in walk(client, f"/ogcapi/collections/{collection}/items?{query}&limit=100")
            for f in page["features"]]


def test_datetime_instants_and_intervals(ogc: SimpleNamespace) -> None:
    by_source = {v.source_id: v.id for v in stored("violations", {ogc.campuses["mini"]}).values()}

    def generated(*indexes: int) -> list[int]:
        return sorted(by_source[f"t{i:02d}"] for i in indexes)

    q = "campus=mini&datetime="
    # t00 at 2026-03-10 00:00+08:00 (= 03-09 16:00Z), then one every 5 hours; the mini campus's own four
    # are from 2 to 7 March 2026.
    assert _ids_in(ogc.admin, "violations", q + "2026-03-10T00:00:00%2B08:00") == generated(0)  # an instant
    assert _ids_in(ogc.admin, "violations", q + "2026-03-09T16:00:00Z") == generated(0)  # the same in UTC
    assert _ids_in(ogc.admin, "violations", q + "2026-03-10T00:00:00+08:00") == generated(0)  # + unescaped: a space
    assert _ids_in(ogc.admin, "violations", q + "2026-03-09T16:00:01Z") == []
    # Closed: both ends included (t01 at 05:00, t04 at 20:00 Shanghai time).
    assert _ids_in(ogc.admin, "violations", q + "2026-03-10T05:00:00%2B08:00/2026-03-10T20:00:00%2B08:00") == (
        generated(1, 2, 3, 4))
    # Open at the start: everything up to t02 (10:00), the four older ones included.
    older = sorted(by_source[s] for s in ("v1", "v2", "v3", "v4"))
    assert _ids_in(ogc.admin, "violations", q + "../2026-03-10T02:00:00Z") == sorted([*older, *generated(0, 1, 2)])
    # Open at the end (both spellings): from t38 (190 h after t00) on.
    assert _ids_in(ogc.admin, "violations", q + "2026-03-17T22:00:00%2B08:00/..") == generated(38, 39)
    assert _ids_in(ogc.admin, "violations", q + "2026-03-17T22:00:00%2B08:00/") == generated(38, 39)
    # A date is that whole day, UTC: on 2026-03-10 from t02 (10:00 Shanghai = 02:00Z) to t06 (22:00Z).
    day = [i for i in range(GENERATED) if generated_time(i).astimezone(dt.UTC).date() == dt.date(2026, 3, 10)]
    assert day == [2, 3, 4, 5, 6]
    assert _ids_in(ogc.admin, "violations", q + "2026-03-10") == generated(*day)
    assert _ids_in(ogc.admin, "violations", q + "2026-03-10/2026-03-10") == generated(*day)
    # Hazards by the time they were reported (09:00 Shanghai = 01:00Z on each of HAZARD_DAYS).
    hazards = {h.source_id: h.id for h in stored("hazards").values()}
    assert _ids_in(ogc.admin, "hazards", "datetime=2026-03-03T00:00:00Z/2026-03-08T01:00:00Z") == sorted(
        [hazards["h3"], hazards["h5"], hazards["h8"]])
    assert _ids_in(ogc.admin, "hazards", "datetime=2026-03-13T01:00:00Z") == [hazards["h13"]]
    for bad in ("x", "2026-13-01", "2026-03-10/2026-03-01", "../..", "/", "2026-03-01/2026-03-02/2026-03-03",
                "2026-03-10T25:00:00Z"):
        body = get_json(ogc.admin, f"/ogcapi/collections/violations/items?datetime={bad}", 400)
        assert "datetime" in body["description"] and body["code"] == "BadRequest"
    body = get_json(ogc.admin, "/ogcapi/collections/buildings/items?datetime=2026-03-10", 400)
    assert "has no time" in body["description"]


def test_property_filters_and_bad_parameters(ogc: SimpleNamespace) -> None:
    rows = stored("violations")
    for query, keep in (("kind=fire_lane", lambda v: v.kind == "fire_lane"),
                        ("status=towed&kind=no_parking", lambda v: v.status == "towed" and v.kind == "no_parking"),
                        ("near_fire_lane=true", lambda v: v.near_fire_lane),
                        ("near_fire_lane=0", lambda v: not v.near_fire_lane),
                        ("plate=京A20007", lambda v: v.plate == "京A20007"),
                        ("source_id=v1", lambda v: v.source_id == "v1")):
        expected = sorted(i for i, v in rows.items() if keep(v))
        assert expected, query
        assert _ids_in(ogc.admin, "violations", query) == expected, query
    buildings = stored("buildings")
    assert _ids_in(ogc.admin, "buildings", "kind=dorm&campus=other") == sorted(
        i for i, b in buildings.items() if b.kind == "dorm" and b.campus_id == ogc.campuses["other"])
    assert _ids_in(ogc.admin, "patrol-routes", "mode=walk") == [ogc.route["route"]["id"]]
    assert _ids_in(ogc.admin, "patrol-routes", "mode=drive") == []
    items = "/ogcapi/collections/violations/items"
    for query, words in (("kind=castle", "kind must be one of"), ("limit=0", "limit"), ("limit=abc", "limit"),
                         ("offset=-1", "offset"), ("bbox=1,2,3", "bbox"), ("bbox=1,2,x,4", "bbox"),
                         ("bbox=10,10,5,5", "bbox"), ("bbox-crs=EPSG:3857", "bbox-crs"), ("colour=red", "colour"),
                         ("kind=zombie&kind=other", "kind once"), ("f=xml", "f must be"), ("version=1", "version"),
                         ("near_fire_lane=maybe", "near_fire_lane"), ("campus=nowhere", "nowhere")):
        response = ogc.admin.get(f"{items}?{query}", headers={"Accept": GEOJSON})
        assert response.status_code in (400, 404) and response.mimetype == "application/json", query
        assert words in response.get_json()["description"], (query, response.get_json())
    assert get_json(ogc.admin, f"{items}?bbox=116.3,39.9,0,116.4,40.1,100")["numberMatched"] == len(rows)  # 3D
    assert get_json(ogc.admin, "/ogcapi/collections/castles/items", 404)["code"] == "NotFound"
    assert get_json(ogc.admin, "/ogcapi/collections/buildings/items?datetime=..", 400)["code"] == "BadRequest"


def test_one_feature_by_id(ogc: SimpleNamespace) -> None:
    violation = next(v for v in stored("violations").values() if v.source_id == "t07")
    feature = get_json(ogc.admin, f"/ogcapi/collections/violations/items/{violation.id}")
    assert feature["type"] == "Feature" and feature["id"] == violation.id
    assert feature["geometry"] == {"type": "Point", "coordinates": [violation.lon, violation.lat]}
    props = feature["properties"]
    assert (props["note"], props["plate"], props["reporter"], props["kind"]) == (NOTE, "京A20007", "王强", "no_parking")
    assert props["observed_at"] == "2026-03-11T11:00:00+08:00"  # the campus's time zone, as on the map
    assert {x["rel"] for x in feature["links"]} == {"self", "alternate", "collection"}
    route = get_json(ogc.admin, f"/ogcapi/collections/patrol-routes/items/{ogc.route['route']['id']}")
    stored_route = db.session.get(PatrolRoute, ogc.route["route"]["id"])
    assert shapely.geometry.shape(route["geometry"]).equals_exact(stored_route.geom, 0)
    assert route["properties"]["name"] == "Night round <夜巡>" and route["properties"]["stops"] == 2
    for url in ("/ogcapi/collections/violations/items/999999", "/ogcapi/collections/violations/items/abc",
                f"/ogcapi/collections/buildings/items/{violation.id + 10**6}"):
        assert get_json(ogc.admin, url, 404)["code"] == "NotFound"


# ---------------------------------------------------------------- scope, masking, public view


def test_other_campuses_never_appear_and_plates_are_masked(ogc: SimpleNamespace) -> None:
    mini, other = ogc.campuses["mini"], ogc.campuses["other"]
    for client in (ogc.viewer, ogc.staff):
        for cid in ("violations", "buildings", "paths", "hazards"):
            features = [f for page in walk(client, f"/ogcapi/collections/{cid}/items?limit=20")
                        for f in page["features"]]
            assert sorted(f["id"] for f in features) == sorted(stored(cid, {mini})), cid
            assert {f["properties"]["campus"] for f in features} <= {mini}
        foreign = next(i for i, v in stored("violations", {other}).items())
        assert get_json(client, f"/ogcapi/collections/violations/items/{foreign}", 404)["code"] == "NotFound"
        assert get_json(client, "/ogcapi/collections/violations/items?campus=other", 404)["code"] == "NotFound"
    staff_view = get_json(ogc.staff, "/ogcapi/collections/violations/items?source_id=v1")["features"][0]
    assert (staff_view["properties"]["plate"], staff_view["properties"]["reporter"]) == ("京A12345", "王强")
    viewer_page = get_json(ogc.viewer, "/ogcapi/collections/violations/items?limit=100")
    plates = {f["properties"]["plate"] for f in viewer_page["features"]}
    assert "京A·***45" in plates and not any(re.fullmatch(r"京A\d{5}", p or "") for p in plates)
    assert all("reporter" not in f["properties"] for f in viewer_page["features"])
    # A filter would reveal a masked plate, so a viewer has none.
    body = get_json(ogc.viewer, "/ogcapi/collections/violations/items?plate=京A12345", 400)
    assert "unknown parameter 'plate'" in body["description"]
    assert get_json(ogc.viewer, "/ogcapi/collections/patrol-routes/items", 404)["code"] == "NotFound"


def test_tokens_strangers_and_the_public_view(app: Flask, ogc: SimpleNamespace) -> None:
    from patrolmap.auth.sessions import create_api_token
    from patrolmap.models import User

    # A GIS client sends the viewer's API token and sees what the viewer sees.
    user = db.session.scalars(select(User).where(User.username == "ogc-viewer")).one()
    token, _ = create_api_token(db.session, user, "QGIS")
    db.session.commit()
    script = app.test_client()
    by_token = script.get("/ogcapi/collections/violations/items?limit=100",
                          headers={"Authorization": f"Bearer {token}"}).get_json()
    assert by_token["features"] == get_json(ogc.viewer, "/ogcapi/collections/violations/items?limit=100")["features"]
    stranger = app.test_client()
    for accept in (GEOJSON, "application/json"):
        response = stranger.get("/ogcapi/collections/violations/items", headers={"Accept": accept})
        assert response.status_code == 401 and response.get_json()["code"] == "Unauthorized"
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    page = stranger.get("/ogcapi/collections?f=html")
    assert page.status_code == 302 and "/login" in page.headers["Location"]
    app.config["PUBLIC_VIEW"] = True
    listed = [c["id"] for c in get_json(stranger, "/ogcapi/collections")["collections"]]
    assert listed == ["buildings", "paths", "chargers"]
    assert get_json(stranger, "/ogcapi/collections/buildings/items")["numberMatched"] == len(stored("buildings"))
    for cid in ("violations", "hazards", "patrol-routes"):
        assert get_json(stranger, f"/ogcapi/collections/{cid}/items", 401)["code"] == "Unauthorized"


# ---------------------------------------------------------------- HTML


def test_html_pages_show_tables_links_and_escaped_text(ogc: SimpleNamespace) -> None:
    browser = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
    for url in ("/ogcapi", "/ogcapi/conformance", "/ogcapi/api", "/ogcapi/collections",
                "/ogcapi/collections/violations"):
        response = ogc.admin.get(url, headers=browser)
        assert response.status_code == 200 and response.mimetype == "text/html", url
    page = ogc.admin.get("/ogcapi/collections/violations/items?campus=mini&limit=10&offset=5", headers=browser)
    html = page.data.decode()
    rows = re.findall(r"<tr>\s*<td><a href=\"(/ogcapi/collections/violations/items/\d+)\?f=html\">", html)
    as_json = get_json(ogc.admin, "/ogcapi/collections/violations/items?campus=mini&limit=10&offset=5")
    assert rows == [f"/ogcapi/collections/violations/items/{f['id']}" for f in as_json["features"]]
    assert 'rel="next"' in html and 'rel="prev"' in html and "/?campus=mini" in html  # the map of the campus
    t07 = next(v.id for v in stored("violations").values() if v.source_id == "t07")
    one = ogc.admin.get(f"/ogcapi/collections/violations/items/{t07}?f=html").data.decode()
    assert "&lt;b&gt;堵住&lt;/b&gt; 消防通道 &amp; 出口" in one and NOTE not in one
    assert "Night round &lt;夜巡&gt;" in ogc.admin.get("/ogcapi/collections/patrol-routes/items?f=html").data.decode()
    bad = ogc.admin.get("/ogcapi/collections/violations/items?limit=0&f=html")
    assert bad.status_code == 400 and bad.mimetype == "text/html"
