"""Per-layer downloads (GET /api/layers/<id>/download): GeoJSON, GeoPackage and CSV load back into a fresh
campus through patrolmap.importing unchanged, and patrol routes as GPX read back (gpxpy, GDAL's GPX driver)
to the stored tours.

Every layer of the mini campus (with the generated data of test_ogcapi) goes out and back in; what came
back is compared field by field and geometry by geometry with what was stored.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import gpxpy
import numpy as np
import pyogrio
import pytest
import shapely
from flask import Flask
from sqlalchemy import select

from patrolmap.extensions import db
from patrolmap.importing import CampusInfo, load_geodata
from patrolmap.layers import LAYERS
from patrolmap.models import Campus, PatrolRoute
from patrolmap.store import query_features

from .conftest import signed_in_client
from .test_ogcapi import GENERATED, NOTE, save_route, write_extra_data

SUFFIXES = {"geojson": "geojson", "gpkg": "gpkg", "csv": "csv"}
ALL_LAYERS = tuple(LAYERS)  # every layer has features on mini once the extra data is in


@pytest.fixture
def dl(app: Flask, two_universities: dict[str, int], tmp_path: Path) -> SimpleNamespace:
    load_geodata(db.session, write_extra_data(tmp_path / "extra"), campus=CampusInfo("mini"))
    db.session.commit()
    admin = signed_in_client(app, "dl-admin", "admin")
    return SimpleNamespace(admin=admin, route=save_route(admin), campuses=two_universities,
                           viewer=signed_in_client(app, "dl-viewer", "viewer", university="Test University"))


def _rows(layer_id: str, campus_id: int) -> dict[str, dict[str, Any]]:
    """A campus's features by source id: the import fields and the geometry."""
    fields = LAYERS[layer_id].schema.field_names
    return {r["source_id"]: {**{f: r[f] for f in fields}, "geom": r["geom"]}
            for r in query_features(db.session, layer_id, campus_id=campus_id)}


def close(got: Any, expected: Any) -> None:
    np.testing.assert_allclose(np.asarray(got, dtype=float), np.asarray(expected, dtype=float), rtol=0, atol=1e-10)


def _campus_id(slug: str) -> int:
    return db.session.scalars(select(Campus.id).where(Campus.slug == slug)).one()


@pytest.mark.parametrize("fmt", ["geojson", "gpkg", "csv"])
def test_every_layer_goes_out_and_comes_back_unchanged(dl: SimpleNamespace, tmp_path: Path, fmt: str) -> None:
    folder = tmp_path / "download"
    folder.mkdir()
    for layer_id in ALL_LAYERS:
        response = dl.admin.get(f"/api/layers/{layer_id}/download?format={fmt}&campus=mini")
        assert response.status_code == 200, (layer_id, response.get_json())
        assert response.headers["Content-Disposition"] == f'attachment; filename="mini-{layer_id}.{fmt}"'
        assert response.mimetype == {"geojson": "application/geo+json", "gpkg": "application/geopackage+sqlite3",
                                     "csv": "text/csv"}[fmt]
        (folder / f"{layer_id}.{SUFFIXES[fmt]}").write_bytes(response.data)
    copy = CampusInfo("copy", "Copy", "Asia/Shanghai", "Test University")
    if fmt == "gpkg":  # one GeoPackage per layer
        for layer_id in ALL_LAYERS:
            load_geodata(db.session, folder / f"{layer_id}.gpkg", campus=copy)
    else:
        load_geodata(db.session, folder, campus=copy)  # patrolmap's folder layout: <layer>.geojson / .csv
    db.session.commit()
    mini, copied = _campus_id("mini"), _campus_id("copy")
    for layer_id in ALL_LAYERS:
        before, after = _rows(layer_id, mini), _rows(layer_id, copied)
        assert before and set(after) == set(before), layer_id
        for source_id, row in before.items():
            again = after[source_id]
            assert shapely.equals_exact(again.pop("geom"), row.pop("geom"), tolerance=0), (layer_id, source_id)
            assert again == row, (layer_id, source_id)
    if fmt == "csv":
        data = (folder / "violations.csv").read_bytes()
        assert data.startswith(b"\xef\xbb\xbf")  # UTF-8 with a BOM: Excel shows the Chinese
        table = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
        assert len(table) == 4 + GENERATED and NOTE in {r["note"] for r in table}
        assert list(table[0])[:3] == ["id", "lon", "lat"] and "京A12345" in {r["plate"] for r in table}
        buildings = (folder / "buildings.csv").read_text(encoding="utf-8-sig").splitlines()[0]
        assert buildings.startswith("id,") and buildings.endswith(",wkt")


def test_masked_downloads_and_the_chinese_spreadsheet(dl: SimpleNamespace) -> None:
    response = dl.viewer.get("/api/layers/violations/download?format=csv")  # the viewer's only campus
    assert response.status_code == 200
    table = list(csv.DictReader(io.StringIO(response.data.decode("utf-8-sig"))))
    assert len(table) == 4 + GENERATED and "reporter" not in table[0]
    assert {r["plate"] for r in table} >= {"京A·***45", "京A·***07"} and "京A12345" not in response.data.decode("utf-8-sig")
    geojson = dl.viewer.get("/api/layers/violations/download").get_json()
    assert all("reporter" not in f["properties"] for f in geojson["features"])
    assert "京A·***45" in {f["properties"]["plate"] for f in geojson["features"]}
    chinese = dl.admin.get("/api/layers/violations/download?format=csv&campus=mini&encoding=gbk&chinese=true")
    text = chinese.data.decode("gbk")
    assert text.splitlines()[0].startswith("编号,经度,纬度") and "占用消防通道" in text


def test_patrol_routes_as_gpx_read_back_to_the_stored_tours(dl: SimpleNamespace, tmp_path: Path) -> None:
    route = db.session.get(PatrolRoute, dl.route["route"]["id"])
    response = dl.admin.get("/api/layers/patrol-routes/download?format=gpx&campus=mini")
    assert response.status_code == 200 and response.mimetype == "application/gpx+xml"
    gpx = gpxpy.parse(response.data.decode("utf-8"))
    teams = dl.route["features"]
    lines = list(getattr(route.geom, "geoms", [route.geom]))
    assert len(gpx.tracks) == len(gpx.routes) == len(teams) == len(lines)
    checkpoints = {c["id"]: (c["lon"], c["lat"]) for c in dl.route["route"]["checkpoints"]}
    start = (dl.route["route"]["start"]["lon"], dl.route["route"]["start"]["lat"])
    for track, rte, team, line in zip(gpx.tracks, gpx.routes, teams, lines, strict=True):
        assert track.name.startswith("Night round <夜巡>") and rte.name == track.name
        points = [(p.longitude, p.latitude) for s in track.segments for p in s.points]
        close(points, shapely.get_coordinates(line))  # written with 10 decimals: 0.01 mm
        stops = [start, *(checkpoints[c] for c in team["properties"]["order"]), start]
        close([(p.longitude, p.latitude) for p in rte.points], stops)
    # GDAL's GPX driver (as QGIS opens it) reads the same tours.
    path = tmp_path / "routes.gpx"
    path.write_bytes(response.data)
    tracks = pyogrio.read_dataframe(path, layer="tracks")
    assert len(tracks) == len(lines)
    for read, line in zip(tracks.geometry, lines, strict=True):
        close(shapely.get_coordinates(read), shapely.get_coordinates(line))
    for fmt in ("geojson", "gpkg", "csv"):
        other = dl.admin.get(f"/api/layers/patrol-routes/download?format={fmt}&campus=mini")
        assert other.status_code == 200, fmt
        (tmp_path / f"routes.{fmt}").write_bytes(other.data)
        frame = pyogrio.read_dataframe(tmp_path / f"routes.{fmt}", **({"layer": "patrol_routes"} if fmt == "gpkg"
                                                                      else {}))
        assert list(frame["name"]) == [route.name], fmt
        if fmt != "csv":
            assert shapely.equals_exact(frame.geometry.iloc[0], route.geom, tolerance=0), fmt
        else:
            assert shapely.from_wkt(frame["wkt"].iloc[0]).equals_exact(route.geom, 0)


def test_bad_requests_and_who_may_download(app: Flask, dl: SimpleNamespace) -> None:
    def refused(client: Any, url: str, status: int, words: str) -> None:
        response = client.get(url)
        assert response.status_code == status and response.mimetype == "application/json", (url, response.data)
        assert words in response.get_json()["message"], (url, response.get_json())

    refused(dl.admin, "/api/layers/buildings/download?format=shp&campus=mini", 400, "format must be one of")
    refused(dl.admin, "/api/layers/buildings/download?format=gpx&campus=mini", 400, "GPX is for patrol routes")
    refused(dl.admin, "/api/layers/buildings/download", 400, "campus is required")  # the admin sees two
    refused(dl.admin, "/api/layers/buildings/download?campus=mini&colour=red", 400, "unknown parameter")
    refused(dl.admin, "/api/layers/buildings/download?campus=mini&format=csv&encoding=latin1", 400, "encoding")
    refused(dl.admin, "/api/layers/castles/download?campus=mini", 404, "unknown layer")
    refused(dl.viewer, "/api/layers/buildings/download?campus=other", 404, "unknown campus")
    planner = signed_in_client(app, "dl-planner", "planner", university="Test University")
    refused(planner, "/api/layers/patrol-routes/download?format=gpx", 403, "your role")
    db.session.execute(LAYERS["violations"].model.__table__.update().where(
        LAYERS["violations"].model.source_id == "t03").values(note="停在消防通道 🚒"))
    db.session.commit()
    refused(dl.admin, "/api/layers/violations/download?campus=mini&format=csv&encoding=gbk", 400, "gbk cannot write")
    stranger = app.test_client()
    refused(stranger, "/api/layers/buildings/download", 401, "sign in")
    app.config["PUBLIC_VIEW"] = True
    assert stranger.get("/api/layers/buildings/download").status_code == 400  # two campuses: which one?
    public = stranger.get("/api/layers/buildings/download?campus=mini")
    assert public.status_code == 200 and len(public.get_json()["features"]) == len(_rows("buildings",
                                                                                          _campus_id("mini")))
    refused(stranger, "/api/layers/violations/download?campus=mini", 401, "sign in")
