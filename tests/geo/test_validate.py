"""Validation rules, without any database: each bad input is refused with the feature and the reason."""

from __future__ import annotations

import datetime as dt

import pytest
import shapely

from patrolmap.geo.io import ReadError, features_from_csv, features_from_geojson
from patrolmap.geo.validate import RawFeature, ValidationError, diagnose_coordinates, validate_layer


def fc(*features: str) -> bytes:
    return ('{"type":"FeatureCollection","features":[' + ",".join(features) + "]}").encode()


def point(x: float, y: float, props: str = '{"name":"A"}', fid: str = "1") -> str:
    return f'{{"type":"Feature","id":"{fid}","geometry":{{"type":"Point","coordinates":[{x},{y}]}},"properties":{props}}}'


def problems(layer: str, features: list[RawFeature], **kw) -> list[str]:
    with pytest.raises(ValidationError) as info:
        validate_layer(layer, features, **kw)
    return [str(p) for p in info.value.problems]


def test_valid_checkpoints_pass() -> None:
    checked = validate_layer("checkpoints", features_from_geojson(fc(point(116.35, 40.0))))
    assert list(checked.frame["name"]) == ["A"]
    assert checked.frame.crs == "EPSG:4326"


def test_malformed_json_is_a_read_error() -> None:
    with pytest.raises(ReadError, match="not valid JSON"):
        features_from_geojson(b'{"type": "FeatureCollection", "features": [')
    with pytest.raises(ReadError, match="not a GeoJSON FeatureCollection"):
        features_from_geojson(b'{"type": "Topology"}')


def test_projected_crs_declared_is_refused() -> None:
    doc = b'{"type":"FeatureCollection","crs":{"type":"name","properties":{"name":"EPSG:32650"}},"features":[]}'
    with pytest.raises(ReadError, match="EPSG:32650"):
        features_from_geojson(doc)


def test_metres_are_diagnosed() -> None:
    found = problems("checkpoints", features_from_geojson(fc(point(1, 1, fid="a"), point(447000.5, 4428000.2, fid="b"))))
    assert found == ["checkpoints: feature 1 (id b): geometry: coordinates look like metres from a projected CRS "
                     "(values beyond ±1000); reproject to EPSG:4326 longitude/latitude first"]


def test_swapped_axes_are_diagnosed_from_range() -> None:
    assert "axes look swapped" in diagnose_coordinates(shapely.Point(40.0, 116.35))


def test_swapped_axes_are_diagnosed_against_the_campus() -> None:
    campus = shapely.box(116.34, 39.99, 116.36, 40.01)
    # Near Beijing, lat/lon swapped still lies within range (lon 40, lat ... no: 116 > 90), so use a
    # campus whose swap stays in range: lon 30.5, lat 50.4 (Kyiv) swapped is lon 50.4, lat 30.5.
    kyiv = shapely.box(30.50, 50.44, 30.52, 50.46)
    found = problems("checkpoints", features_from_geojson(fc(point(50.45, 30.51))), reference=kyiv)
    assert "axes look swapped" in found[0]
    found = problems("checkpoints", features_from_geojson(fc(point(121.47, 31.23))), reference=campus)
    assert "lies 1" in found[0] and "km from the campus" in found[0]


def test_self_intersecting_polygon_is_repaired_with_a_warning() -> None:
    bowtie = ('{"type":"Feature","id":"z","properties":{"name":"Z"},"geometry":{"type":"Polygon","coordinates":'
              "[[[116.35,40.0],[116.351,40.001],[116.351,40.0],[116.35,40.001],[116.35,40.0]]]}}")
    checked = validate_layer("buildings", features_from_geojson(fc(bowtie)))
    geom = checked.frame.geometry.iloc[0]
    assert geom.is_valid and geom.geom_type == "MultiPolygon"
    assert geom.area == pytest.approx(0.001 * 0.001 / 2)
    assert any("Self-intersection" in w and "repaired" in w for w in checked.warnings)


def test_every_problem_is_listed_with_index_id_and_field() -> None:
    features = features_from_geojson(fc(
        point(116.35, 40.0, '{"name":"ok"}', "a"),
        point(116.35, 40.0, '{"name":"dup"}', "a"),
        '{"type":"Feature","id":"e","geometry":null,"properties":{"name":"x"}}',
        '{"type":"Feature","id":"l","geometry":{"type":"LineString","coordinates":[[116.35,40],[116.36,40]]},'
        '"properties":{"name":"x"}}',
        point(116.35, 40.0, '{"name":"k","kind":"castle"}', "k"),
        point(116.35, 40.0, '{}', "n"),
    ))
    found = problems("checkpoints", features)
    assert found == [
        "checkpoints: feature 1 (id a): id: duplicate id, also used by feature 0",
        "checkpoints: feature 2 (id e): geometry: missing geometry",
        "checkpoints: feature 3 (id l): geometry: LineString is not allowed here; expected Point",
        "checkpoints: feature 4 (id k): kind: unknown value 'castle'; expected one of "
        "gate, dorm, lab, canteen, teaching, office, parking, patrol_point, other",
        "checkpoints: feature 5 (id n): name: is required",
    ]


def test_empty_geometry_is_refused() -> None:
    doc = fc('{"type":"Feature","id":"1","geometry":{"type":"Point","coordinates":[]},"properties":{"name":"A"}}')
    found = problems("checkpoints", features_from_geojson(doc))
    assert "empty" in found[0] or "malformed" in found[0]


def test_wrong_types_and_ranges() -> None:
    doc = fc(
        '{"type":"Feature","id":"1","geometry":{"type":"Point","coordinates":[116.35,40]},'
        '"properties":{"ports":"many","power_kw":-3,"status":"existing"}}'
    )
    found = problems("chargers", features_from_geojson(doc))
    assert found == [
        "chargers: feature 0 (id 1): ports: expected a whole number, got 'many'",
        "chargers: feature 0 (id 1): power_kw: -3.0 is below the minimum 0",
    ]


@pytest.mark.parametrize(("text", "expected"), [
    ("2026-03-02T07:45:00+08:00", dt.datetime(2026, 3, 1, 23, 45, tzinfo=dt.UTC)),
    ("2026-03-02 07:45", dt.datetime(2026, 3, 1, 23, 45, tzinfo=dt.UTC)),
    ("2026/03/02 07:45:30", dt.datetime(2026, 3, 1, 23, 45, 30, tzinfo=dt.UTC)),
    ("2026-03-01T23:45:00Z", dt.datetime(2026, 3, 1, 23, 45, tzinfo=dt.UTC)),
])
def test_times_are_read_in_campus_time(text: str, expected: dt.datetime) -> None:
    csv = f"lon,lat,observed_at,kind\n116.35,40.0,{text},other\n".encode()
    checked = validate_layer("violations", features_from_csv(csv), timezone="Asia/Shanghai")
    assert checked.frame["observed_at"].iloc[0] == expected


@pytest.mark.parametrize("text", ["yesterday", "2026-13-02 07:00", "2026-03-02", "07:45"])
def test_bad_times_are_refused(text: str) -> None:
    csv = f"lon,lat,observed_at,kind\n116.35,40.0,{text},other\n".encode()
    found = problems("violations", features_from_csv(csv))
    assert found[0].startswith("violations: feature 0: observed_at: expected")


def test_chinese_headers_bom_and_gbk() -> None:
    text = "编号,经度,纬度,时间,类型,车牌,状态,备注,上报人\nA1,116.35,40.0,2026-03-02 07:45,占用消防通道,京A12345,待处理,消防通道,王强\n"
    for data in (text.encode("utf-8"), b"\xef\xbb\xbf" + text.encode("utf-8"), text.encode("gbk")):
        checked = validate_layer("violations", features_from_csv(data))
        row = checked.frame.iloc[0]
        assert (row["source_id"], row["kind"], row["plate"], row["status"], row["reporter"]) == (
            "A1", "fire_lane", "京A12345", "open", "王强")


def test_csv_without_coordinates_is_a_read_error() -> None:
    with pytest.raises(ReadError, match="no lon column"):
        features_from_csv(b"x1,y1\n1,2\n")


def test_csv_row_with_wrong_column_count() -> None:
    found = problems("violations", features_from_csv(b"lon,lat,observed_at,kind\n116.35,40.0,2026-03-02 07:00\n"))
    assert found[0] == "violations: feature 0: geometry: row has 3 values but the header has 4"


def test_idless_duplicate_rows_are_both_kept() -> None:
    csv = b"lon,lat,observed_at,kind\n116.35,40.0,2026-03-02 07:00,other\n116.35,40.0,2026-03-02 07:00,other\n"
    checked = validate_layer("violations", features_from_csv(csv))
    ids = list(checked.frame["source_id"])
    assert len(ids) == 2 and ids[1] == ids[0] + "-2"
    again = validate_layer("violations", features_from_csv(csv))
    assert list(again.frame["source_id"]) == ids
