"""Chinese plates: standard ones pass quietly, odd ones are recorded with a warning, never refused."""

from __future__ import annotations

import pytest
import shapely
from flask import Flask

from patrolmap.extensions import db
from patrolmap.geo.plates import is_standard_plate, normalise_plate
from patrolmap.geo.validate import RawFeature, validate_layer
from patrolmap.importing import load_geodata

from ..conftest import DATA, signed_in_client


@pytest.mark.parametrize("plate", [
    "京A12345",  # ordinary
    "陕A·12345", "粤B 1234X",  # as people write them, with a separator
    "京AD12345", "沪AFK1234",  # small new-energy cars (D electric, F hybrid)
    "粤B12345D",  # large new-energy vehicle
    "川A1234学", "苏E1234挂", "京A0001警", "粤Z1234港",  # coach, trailer, police, Hong Kong
    "无牌",  # no plate at all
])
def test_standard_plates(plate: str) -> None:
    assert is_standard_plate(plate)


@pytest.mark.parametrize("plate", [
    "A12345",  # no province
    "京12345",  # no letter
    "京A1234",  # too short
    "京A1234567",  # too long
    "京I12345",  # I is never used
    "台A12345",  # not a mainland province character
])
def test_non_standard_plates(plate: str) -> None:
    assert not is_standard_plate(plate)


def test_normalise_plate() -> None:
    assert normalise_plate("陕a·123 45") == "陕A12345"


def test_a_non_standard_plate_is_kept_with_a_warning() -> None:
    raws = [RawFeature(0, "a", shapely.Point(116.35, 40.0), {"kind": "other", "plate": "京A1234",
                                                             "observed_at": "2026-03-02T07:45:00+08:00"}),
            RawFeature(1, "b", shapely.Point(116.35, 40.0), {"kind": "other", "plate": "京A12345",
                                                             "observed_at": "2026-03-02T07:45:00+08:00"})]
    checked = validate_layer("violations", raws)
    assert list(checked.frame["plate"]) == ["京A1234", "京A12345"]  # stored as given
    assert [(n.index, n.field) for n in checked.notices] == [(0, "plate")]
    assert "京A1234 is not a standard Chinese plate" in checked.warnings[0]


def test_the_api_answers_with_the_warning_in_the_readers_language(app: Flask) -> None:
    load_geodata(db.session, DATA / "minicampus")
    client = signed_in_client(app, "staff", "traffic_staff")
    body = {"campus": "mini", "lon": 116.3512, "lat": 40.0007, "kind": "other"}
    odd = client.post("/api/violations", json={**body, "plate": "京A1234"},
                      headers={"Accept-Language": "zh-CN"})
    assert odd.status_code == 201
    assert odd.get_json()["warnings"] == [
        "京A1234 不是标准的中国车牌（省份简称、字母，再加 5 或 6 位；无车牌请填“无牌”）；已按原样记录"]
    assert odd.get_json()["properties"]["plate"] == "京A1234"
    fine = client.post("/api/violations", json={**body, "plate": "无牌"})
    assert fine.status_code == 201 and "warnings" not in fine.get_json()
