"""The data commands as a user runs them: clear messages, non-zero exits, nothing written on failure."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import geopandas as gpd
import pytest
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import func, select

from patrolmap.extensions import db
from patrolmap.layers import LAYERS
from patrolmap.models import AuditEntry, Checkpoint, Violation

from .conftest import DATA

MINI = DATA / "minicampus"


def snapshot() -> dict[str, int]:
    """Row counts of every layer plus the audit log, to prove a failed import wrote nothing."""
    counts = {lid: db.session.scalar(select(func.count()).select_from(layer.model)) for lid, layer in LAYERS.items()}
    counts["audit"] = db.session.scalar(select(func.count()).select_from(AuditEntry))
    db.session.rollback()
    return counts


def load(runner: FlaskCliRunner, *args: str) -> str:
    result = runner.invoke(args=["load-geodata", *args])
    assert result.exit_code == 0, result.output
    return result.output


def test_load_folder_reports_counts(runner: FlaskCliRunner) -> None:
    output = load(runner, str(MINI))
    assert "buildings: 4 new, 0 updated, 0 unchanged" in output
    assert "violations: 4 new" in output
    output = load(runner, str(MINI))
    assert "buildings: 0 new, 0 updated, 4 unchanged" in output


@pytest.fixture
def loaded(runner: FlaskCliRunner) -> FlaskCliRunner:
    load(runner, str(MINI))
    return runner


def write_bad_copy(tmp_path: Path, layer_file: str, old: str, new: str) -> Path:
    folder = tmp_path / "mini"
    shutil.copytree(MINI, folder)
    target = folder / layer_file
    text = target.read_text(encoding="utf-8")
    assert old in text
    target.write_text(text.replace(old, new, 1), encoding="utf-8")
    return folder


@pytest.mark.parametrize(("layer_file", "old", "new", "message"), [
    ("buildings.geojson", '"kind": "canteen"', '"kind": "castle"', "feature 2 (id b3): kind: unknown value 'castle'"),
    ("paths.geojson", "116.354,", "447000.0,", "feature 0 (id p1): geometry: coordinates look like metres"),
    ("chargers.geojson", '"id": "c2"', '"id": "c1"', "feature 1 (id c1): id: duplicate id"),
    ("violations.csv", "2026-03-02 12:10", "noon", "feature 1 (id v2): observed_at: expected an ISO 8601 time"),
    ("buildings.geojson", '"type": "FeatureCollection"', '"type": "FeatureCollection",', "not valid JSON"),
])
def test_one_bad_feature_imports_nothing(
    loaded: FlaskCliRunner, tmp_path: Path, layer_file: str, old: str, new: str, message: str,
) -> None:
    # Change the good data too, so that a partial write would be visible.
    folder = write_bad_copy(tmp_path, layer_file, old, new)
    (folder / "checkpoints.geojson").write_text(
        (folder / "checkpoints.geojson").read_text(encoding="utf-8").replace("西门", "西大门"), encoding="utf-8")
    before = snapshot()
    result = loaded.invoke(args=["load-geodata", str(folder), "--campus", "mini"])
    assert result.exit_code != 0
    assert "nothing was imported" in result.output
    assert message in result.output
    assert snapshot() == before
    gate = db.session.scalars(select(Checkpoint.name).where(Checkpoint.source_id == "k1")).one()
    assert gate == "西门"


def test_far_away_data_is_refused(loaded: FlaskCliRunner, tmp_path: Path) -> None:
    file = tmp_path / "checkpoints.geojson"
    file.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "id": "far", "properties": {"name": "上海"},
         "geometry": {"type": "Point", "coordinates": [121.47, 31.23]}}]}), encoding="utf-8")
    before = snapshot()
    result = loaded.invoke(args=["load-geodata", str(file), "--campus", "mini"])
    assert result.exit_code != 0
    assert "km from the campus" in result.output
    assert snapshot() == before


def test_import_violations_csv_with_chinese_headers_in_gbk(loaded: FlaskCliRunner, tmp_path: Path) -> None:
    file = tmp_path / "违停记录.csv"
    rows = [["编号", "经度", "纬度", "时间", "类型", "车牌", "备注"],
            ["X1", "116.3512", "40.00063", "2026-04-01 08:15", "占用消防通道", "京D11111", "早高峰"],
            ["X2", "116.3525", "40.0009", "2026-04-01 12:05", "禁停区域", "无牌", ""]]
    with file.open("w", encoding="gbk", newline="") as fh:
        csv.writer(fh).writerows(rows)
    result = loaded.invoke(args=["import-violations", str(file), "--campus", "mini"])
    assert result.exit_code == 0, result.output
    assert "violations: 2 new" in result.output
    stored = {v.source_id: v for v in db.session.scalars(select(Violation))}
    assert stored["X1"].kind == "fire_lane" and stored["X1"].near_fire_lane is True
    assert stored["X2"].plate == "无牌" and stored["X2"].local_hour == 12
    again = loaded.invoke(args=["import-violations", str(file)])
    assert "violations: 0 new, 0 updated, 2 unchanged" in again.output


def test_one_bad_violation_row_refuses_the_whole_file(loaded: FlaskCliRunner, tmp_path: Path) -> None:
    file = tmp_path / "v.csv"
    file.write_text("lon,lat,observed_at,kind\n116.351,40.0007,2026-04-01 08:15,other\n"
                    "116.351,95.0,2026-04-01 08:15,other\n", encoding="utf-8")
    before = snapshot()
    result = loaded.invoke(args=["import-violations", str(file), "--campus", "mini"])
    assert result.exit_code != 0
    assert "feature 1: geometry: coordinates out of range" in result.output
    assert snapshot() == before


@pytest.mark.parametrize("args", [
    ["import-violations", "missing.csv"],
    ["export", "castles", "out.geojson"],
    ["export", "buildings", "out.shp"],
    ["load-geodata", "README.md"],
])
def test_bad_arguments_exit_non_zero(loaded: FlaskCliRunner, args: list[str], tmp_path: Path) -> None:
    if args[0] == "load-geodata":
        args = [args[0], str(Path(__file__).parent.parent / args[1])]
    elif args[0] == "export":
        args = [*args[:2], str(tmp_path / args[2])]
    result = loaded.invoke(args=args)
    assert result.exit_code != 0
    assert result.output.strip()


def test_import_violations_needs_a_known_campus(loaded: FlaskCliRunner) -> None:
    result = loaded.invoke(args=["import-violations", str(MINI / "violations.csv"), "--campus", "nowhere"])
    assert result.exit_code != 0
    assert "unknown campus 'nowhere'" in result.output


@pytest.mark.parametrize("suffix", [".geojson", ".gpkg", ".csv"])
@pytest.mark.parametrize("layer", ["buildings", "paths", "violations", "grid-zones", "parking-lots"])
def test_export_round_trip(app: Flask, loaded: FlaskCliRunner, tmp_path: Path, layer: str, suffix: str) -> None:
    file = tmp_path / f"{layer}{suffix}"
    result = loaded.invoke(args=["export", layer, str(file), "--campus", "mini"])
    assert result.exit_code == 0, result.output
    exported = gpd.read_file(file) if suffix != ".csv" else None
    if exported is not None:
        assert len(exported) == int(result.output.split()[1])
    if suffix == ".csv" and layer != "violations":
        header = file.read_text(encoding="utf-8-sig").splitlines()[0]
        assert header.startswith("id,") and header.endswith("wkt")
        return
    before = snapshot()
    again = loaded.invoke(args=["load-geodata", str(file), "--campus", "mini"])
    assert again.exit_code == 0, again.output
    assert f"{layer}: 0 new, 0 updated" in again.output
    assert snapshot()[layer] == before[layer]


@pytest.mark.parametrize("chinese", [False, True])
@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-8", "gbk"])
def test_violations_csv_round_trip_in_each_encoding(loaded: FlaskCliRunner, tmp_path: Path, encoding: str,
                                                    chinese: bool) -> None:
    file = tmp_path / "violations.csv"
    args = ["export", "violations", str(file), "--campus", "mini", "--encoding", encoding]
    result = loaded.invoke(args=[*args, "--chinese"] if chinese else args)
    assert result.exit_code == 0, result.output
    data = file.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf") == (encoding == "utf-8-sig")
    text = data.decode({"utf-8-sig": "utf-8-sig", "utf-8": "utf-8", "gbk": "gbk"}[encoding])
    if encoding == "gbk":
        with pytest.raises(UnicodeDecodeError):
            data.decode("utf-8")
    header = text.splitlines()[0].split(",")
    if chinese:
        assert header[:3] == ["编号", "经度", "纬度"] and "类型" in header and "车牌" in header
        rows = list(csv.DictReader(text.splitlines()))
        assert {r["类型"] for r in rows} <= {"占用消防通道", "堵塞出入口", "禁停区域", "僵尸车", "其他"}
    else:
        assert header[:3] == ["id", "lon", "lat"]
    assert "京A12345" in text and "王强" in text
    # Read back into the same campus: every value survived, so nothing is new and nothing changed.
    before = snapshot()
    again = loaded.invoke(args=["load-geodata", str(file), "--campus", "mini"])
    assert again.exit_code == 0, again.output
    assert "violations: 0 new, 0 updated, 4 unchanged" in again.output
    assert snapshot() == {**before, "audit": before["audit"] + 1}  # the import itself is logged


def test_gbk_export_refuses_what_gbk_cannot_write(loaded: FlaskCliRunner, tmp_path: Path) -> None:
    db.session.execute(Violation.__table__.update().where(Violation.source_id == "v1").values(note="停在消防通道 🚒"))
    db.session.commit()
    file = tmp_path / "violations.csv"
    result = loaded.invoke(args=["export", "violations", str(file), "--encoding", "gbk"])
    assert result.exit_code != 0
    assert "gbk cannot write" in result.output and "'🚒'" in result.output
    assert not file.exists()
