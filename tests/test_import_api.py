"""Imports from the web (/api/imports): a dry-run preview that is exactly what the commit then writes, problems
with their feature numbers and nothing written, violations from traffic staff, GeoPackages, limits and roles.

Row counts are read with plain SQL, apart from the import code, before and after each step.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import zipfile
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import shapely
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.test import encode_multipart

from patrolmap import staging
from patrolmap.extensions import db
from patrolmap.importing import load_geodata

from .conftest import signed_in_client

SAMPLE = Path(__file__).resolve().parents[1] / "geodata" / "cau-east"
LAYER_TABLES = {"buildings": "buildings", "grid-zones": "grid_zones", "paths": "path_segments",
                "checkpoints": "checkpoints", "parking-lots": "parking_lots", "chargers": "chargers",
                "duty-posts": "duty_posts", "violations": "violations"}


def _rows(table: str, campus: str) -> int:
    db.session.rollback()
    return int(db.session.execute(text(f"SELECT count(*) FROM {table} t JOIN campuses c ON c.id = t.campus_id "
                                       "WHERE c.slug = :slug"), {"slug": campus}).scalar_one())


def _count(table: str) -> int:
    db.session.rollback()
    return int(db.session.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())


def _upload(client: FlaskClient, filename: str, content: bytes, **form: str) -> Any:
    """Post a file as a browser does; encoded here in memory (the test client spools large bodies to an
    unclosed temporary file)."""
    boundary, body = encode_multipart(MultiDict({"file": FileStorage(io.BytesIO(content), filename), **form}))
    return client.post("/api/imports", data=body, content_type=f"multipart/form-data; boundary={boundary}")


def _point(fid: str, lon: float, lat: float, **props: Any) -> dict[str, Any]:
    return {"type": "Feature", "id": fid, "geometry": {"type": "Point", "coordinates": [lon, lat]},
            "properties": props}


def _collection(*features: dict[str, Any]) -> bytes:
    return json.dumps({"type": "FeatureCollection", "features": list(features)}, ensure_ascii=False).encode()


# The mini campus has checkpoints k1 (西门, gate) and k2 (食堂门口, canteen): k1 renamed, k2 as it is, two new.
CHECKPOINTS = _collection(
    _point("k1", 116.3495, 40.0006, name="西门（新）", kind="gate"),
    _point("k2", 116.3524, 40.0008, name="食堂门口", kind="canteen"),
    _point("k3", 116.3510, 40.0010, name="图书馆北", kind="other"),
    _point("k4", 116.3515, 40.0012, name="东门", kind="gate"),
)


def test_preview_is_what_the_commit_writes(app: Flask, two_universities: dict[str, int],
                                           client: FlaskClient) -> None:
    before, audit_before = _rows("checkpoints", "mini"), _count("audit_log")
    response = _upload(client, "checkpoints.geojson", CHECKPOINTS, campus="mini")
    assert response.status_code == 201, response.get_json()
    staged = response.get_json()
    assert (staged["filename"], staged["size"], staged["kind"], staged["campus"]) == (
        "checkpoints.geojson", len(CHECKPOINTS), "geodata", "mini")
    preview = staged["preview"]
    assert preview["ok"] is True and preview["problems"] == [] and preview["problem_count"] == 0
    assert preview["layers"] == {"checkpoints": {"inserted": 2, "updated": 1, "unchanged": 1}}
    # The dry run wrote nothing and left no audit entry; the file waits in the store.
    assert (_rows("checkpoints", "mini"), _count("audit_log"), _count("staged_imports")) == (before, audit_before, 1)
    name = ("SELECT k.name FROM checkpoints k JOIN campuses c ON c.id = k.campus_id "
            "WHERE c.slug = 'mini' AND k.source_id = 'k1'")
    assert db.session.execute(text(name)).scalar_one() == "西门"
    assert client.get(f"/api/imports/{staged['token']}").get_json()["preview"] == preview

    committed = client.post(f"/api/imports/{staged['token']}/commit")
    assert committed.status_code == 200, committed.get_json()
    assert committed.get_json()["summary"]["layers"] == preview["layers"]
    assert _rows("checkpoints", "mini") == before + 2 == 4
    assert db.session.execute(text(name)).scalar_one() == "西门（新）"
    entry = db.session.execute(text("SELECT actor, action, after, reason FROM audit_log ORDER BY id DESC")).first()
    assert _count("audit_log") == audit_before + 1
    after = entry.after if isinstance(entry.after, dict) else json.loads(entry.after)
    assert (entry.actor, entry.action, after) == ("test-admin", "import", preview["layers"])
    assert "checkpoints.geojson" in entry.reason
    # Written once: a second confirm is refused; the bytes are gone, the result stays readable.
    again = client.post(f"/api/imports/{staged['token']}/commit")
    assert again.status_code == 409 and "already" in again.get_json()["message"]
    assert _rows("checkpoints", "mini") == 4 and _count("audit_log") == audit_before + 1
    read = client.get(f"/api/imports/{staged['token']}").get_json()
    assert read["committed_at"] and read["result"]["summary"]["layers"] == preview["layers"]
    assert db.session.execute(text("SELECT length(data) FROM staged_imports")).scalar_one() == 0

    # The same file again changes nothing; discarded, it is gone.
    second = _upload(client, "checkpoints.geojson", CHECKPOINTS, campus="mini").get_json()
    assert second["preview"]["layers"] == {"checkpoints": {"inserted": 0, "updated": 0, "unchanged": 4}}
    assert client.delete(f"/api/imports/{second['token']}").get_json() == {"token": second["token"],
                                                                            "discarded": True}
    assert client.get(f"/api/imports/{second['token']}").status_code == 404
    assert client.post(f"/api/imports/{second['token']}/commit").status_code == 404
    assert _rows("checkpoints", "mini") == 4

    # Staged files are purged after a day, confirmed or not.
    third = _upload(client, "checkpoints.geojson", CHECKPOINTS, campus="mini").get_json()["token"]
    db.session.execute(text("UPDATE staged_imports SET created_at = :at WHERE token = :token"),
                       {"at": dt.datetime(2000, 1, 1), "token": staged["token"]})
    db.session.commit()
    assert staging.purge(db.session) == 1
    assert client.get(f"/api/imports/{staged['token']}").status_code == 404
    assert client.get(f"/api/imports/{third}").status_code == 200


def test_one_bad_feature_refuses_the_file(app: Flask, two_universities: dict[str, int],
                                          client: FlaskClient) -> None:
    bad = _collection(
        _point("k3", 116.3510, 40.0010, name="图书馆北", kind="other"),
        _point("k4", 116.3515, 40.0012, name="东门", kind="gate"),
        _point("k5", 116.3512, 95.0, name="北门", kind="gate"),  # feature 3: latitude 95
        _point("k6", 116.3518, 40.0009, name="南门", kind="gate"),
    )
    before, audit_before = _rows("checkpoints", "mini"), _count("audit_log")
    response = _upload(client, "gates.geojson", bad, campus="mini", layer="checkpoints")
    assert response.status_code == 201, response.get_json()
    preview = response.get_json()["preview"]
    assert preview["ok"] is False and preview["layers"] == {} and preview["problem_count"] == 1
    [problem] = preview["problems"]
    assert (problem["layer"], problem["feature"], problem["id"], problem["field"]) == ("checkpoints", 3, "k5",
                                                                                       "geometry")
    assert "latitude" in problem["message"]
    refused = client.post(f"/api/imports/{response.get_json()['token']}/commit")
    assert refused.status_code == 422
    assert [(d["feature"], d["field"]) for d in refused.get_json()["details"]] == [(3, "geometry")]
    assert (_rows("checkpoints", "mini"), _count("audit_log")) == (before, audit_before)
    # Problems come in the reader's language, whatever language the file was staged in.
    lot = _point("p9", 116.3512, 40.0008, name="北区停车场", capacity="many")
    token = _upload(client, "parking-lots.geojson", _collection(lot), campus="mini").get_json()["token"]
    zh = client.get(f"/api/imports/{token}", headers={"Accept-Language": "zh-CN"}).get_json()["preview"]
    en = client.get(f"/api/imports/{token}", headers={"Accept-Language": "en"}).get_json()["preview"]
    assert [(p["feature"], p["field"], p["message"]) for p in zh["problems"]] == [(1, "capacity", "需要整数，收到的是 'many'")]
    assert en["problems"][0]["message"] == "expected a whole number, got 'many'"


VIOLATIONS_CSV = (
    "id,lon,lat,observed_at,kind,plate,status,note,reporter\n"
    "v1,116.35060,40.00061,2026-03-02T07:45:00+08:00,fire_lane,京A12345,open,堵住消防通道,王强\n"
    "w1,116.35100,40.00080,2026-03-09T08:15:00+08:00,no_parking,京D45678,open,,赵敏\n"
    "w2,116.35200,40.00100,2026-03-09 12:30,entrance,京E56789,open,\"东门, 入口\",赵敏\n"
)


def test_traffic_staff_import_violations_only(app: Flask, two_universities: dict[str, int], staff: FlaskClient,
                                              client: FlaskClient) -> None:
    before = _rows("violations", "mini")
    expected = sum(1 for _ in csv.DictReader(io.StringIO(VIOLATIONS_CSV)))  # 3 rows, v1 already stored
    response = _upload(staff, "晨间巡查.csv", VIOLATIONS_CSV.encode("gbk"), campus="mini")
    assert response.status_code == 201, response.get_json()
    staged = response.get_json()
    assert staged["kind"] == "violations"
    assert staged["preview"]["layers"] == {"violations": {"inserted": expected - 1, "updated": 0, "unchanged": 1}}
    committed = staff.post(f"/api/imports/{staged['token']}/commit")
    assert committed.status_code == 200, committed.get_json()
    assert _rows("violations", "mini") == before + 2
    note = db.session.execute(text("SELECT note FROM violations WHERE source_id = 'w2'")).scalar_one()  # mini only
    assert note == "东门, 入口"

    # Map layers are the admins' to import; other universities' campuses do not exist for staff.
    assert _upload(staff, "checkpoints.geojson", CHECKPOINTS, campus="mini").status_code == 403
    assert _upload(staff, "v.csv", VIOLATIONS_CSV.encode(), campus="mini", kind="geodata").status_code == 403
    assert _upload(staff, "v.csv", VIOLATIONS_CSV.encode(), campus="other").status_code == 404
    assert _upload(staff, "v.csv", VIOLATIONS_CSV.encode(), campus="brand-new").status_code == 404
    admins = _upload(client, "checkpoints.geojson", CHECKPOINTS, campus="mini").get_json()["token"]
    assert staff.get(f"/api/imports/{admins}").status_code == 403
    assert staff.post(f"/api/imports/{admins}/commit").status_code == 403
    assert _rows("checkpoints", "mini") == 2
    # The page offers staff violations only.
    page = staff.get("/import").get_data(as_text=True)
    assert 'value="violations"' in page and 'value="geodata"' not in page


def test_unreadable_and_oversize_files_answer_json(app: Flask, two_universities: dict[str, int],
                                                   client: FlaskClient) -> None:
    good = _collection(_point("k9", 116.3510, 40.0010, name="x", kind="other"))
    cases = [
        (("checkpoints.geojson", b'{"type": "FeatureCollection", "features": ['), {}, 422, "not valid JSON"),
        (("campus.gpkg", b"SQLite format 3\x00 but not really"), {}, 422, "GeoPackage"),
        (("campus.zip", b"PK\x03\x04 broken"), {}, 422, "cannot be read"),
        (("campus.zip", _zip({"readme.txt": b"hello"})), {}, 422, "no layer file"),
        (("notes.txt", b"hello"), {}, 415, "not a file the import reads"),
        (("mystery.geojson", good), {}, 422, "which layer"),
        (("violations.csv", VIOLATIONS_CSV.encode("gbk")), {"encoding": "utf-8"}, 422, "cannot decode"),
        (("checkpoints.geojson", good), {"kind": "everything"}, 400, "kind must be one of"),
        (("checkpoints.geojson", good), {"layer": "roads"}, 400, "layer must be one of"),
        (("checkpoints.geojson", good), {"colour": "red"}, 400, "unknown field"),
        (("checkpoints.geojson", b""), {}, 400, "empty"),
    ]
    for (name, content), form, status, words in cases:
        response = _upload(client, name, content, campus="mini", **form)
        assert response.status_code == status, (name, response.get_json())
        assert words in response.get_json()["message"], (name, response.get_json())
        assert "patrolmap-import-" not in response.get_data(as_text=True)  # no temporary path leaks out
    no_file = client.post("/api/imports", data={"campus": "mini"}, content_type="multipart/form-data")
    assert no_file.status_code == 400 and "file" in no_file.get_json()["message"]

    app.config["MAX_IMPORT_MB"] = 0.002  # 2,097 bytes
    small = _upload(client, "checkpoints.geojson", good, campus="mini")
    assert small.status_code == 201, small.get_json()
    for size in (3000, 200_000):  # over the file limit; over the request limit (refused before reading)
        padded = json.dumps({"type": "FeatureCollection", "features": [], "pad": "x" * size}).encode()
        response = _upload(client, "checkpoints.geojson", padded, campus="mini")
        assert response.status_code == 413 and response.is_json
        assert "0.002 MB" in response.get_json()["message"]
    assert _count("staged_imports") == 1  # only the small one
    assert _rows("checkpoints", "mini") == 2


def _zip(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return out.getvalue()


def _sample_counts() -> dict[str, int]:
    """Features per layer file of the sample, counted from the files themselves."""
    counts = {}
    for layer in LAYER_TABLES:
        if layer == "violations":
            with (SAMPLE / "violations.csv").open(encoding="utf-8-sig", newline="") as f:
                counts[layer] = sum(1 for _ in csv.DictReader(f))
        else:
            counts[layer] = len(json.loads((SAMPLE / f"{layer}.geojson").read_text(encoding="utf-8"))["features"])
    return counts


def _geopackage(path: Path) -> bytes:
    """The sample's layers written by geopandas (not patrolmap) into one GeoPackage."""
    for layer in LAYER_TABLES:
        if layer == "violations":
            table = pd.read_csv(SAMPLE / "violations.csv", dtype=str, keep_default_na=False)
            frame = gpd.GeoDataFrame(table.drop(columns=["lon", "lat"]), crs="EPSG:4326",
                                     geometry=shapely.points(table["lon"].astype(float), table["lat"].astype(float)))
        else:
            frame = gpd.read_file(SAMPLE / f"{layer}.geojson")
        frame.to_file(path, layer=layer.replace("-", "_"), driver="GPKG", engine="pyogrio")
    return path.read_bytes()


def test_sample_reimport_is_unchanged_and_a_geopackage_round_trips(app: Flask, client: FlaskClient,
                                                                   tmp_path: Path) -> None:
    load_geodata(db.session, SAMPLE)
    files = _sample_counts()
    stored = {layer: _rows(table, "cau-east") for layer, table in LAYER_TABLES.items()}
    assert stored == files
    versions = db.session.execute(text("SELECT sum(version) FROM path_segments")).scalar_one()

    # The whole sample folder, zipped, sent again: every feature unchanged, in the preview and in the commit.
    archive = _zip({f"cau-east/{p.name}": p.read_bytes() for p in sorted(SAMPLE.iterdir())})
    response = _upload(client, "cau-east.zip", archive, campus="cau-east")
    assert response.status_code == 201, response.get_json()
    unchanged = {layer: {"inserted": 0, "updated": 0, "unchanged": n} for layer, n in files.items()}
    assert response.get_json()["preview"]["layers"] == unchanged
    committed = client.post(f"/api/imports/{response.get_json()['token']}/commit")
    assert committed.status_code == 200 and committed.get_json()["summary"]["layers"] == unchanged
    assert {layer: _rows(table, "cau-east") for layer, table in LAYER_TABLES.items()} == files
    assert db.session.execute(text("SELECT sum(version) FROM path_segments")).scalar_one() == versions

    # Exported to a GeoPackage by geopandas, imported into a new campus: the same counts.
    gpkg = _geopackage(tmp_path / "cau-east.gpkg")
    response = _upload(client, "cau-east.gpkg", gpkg, campus="cau-copy", name="Copy of the east campus")
    assert response.status_code == 201, response.get_json()
    staged = response.get_json()
    assert staged["new_campus"] is True and staged["preview"]["ok"], staged["preview"]["problems"]
    assert staged["preview"]["layers"] == {layer: {"inserted": n, "updated": 0, "unchanged": 0}
                                           for layer, n in files.items()}
    assert _count("campuses") == 1  # the dry run made no campus
    committed = client.post(f"/api/imports/{staged['token']}/commit")
    assert committed.status_code == 200, committed.get_json()
    assert {layer: _rows(table, "cau-copy") for layer, table in LAYER_TABLES.items()} == files
    name = db.session.execute(text("SELECT name FROM campuses WHERE slug = 'cau-copy'")).scalar_one()
    assert name == "Copy of the east campus"
    assert signed_in_client(app, "viewer-1", "viewer").get("/import").status_code == 403
