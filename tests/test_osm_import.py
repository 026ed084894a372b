"""OpenStreetMap extracts through the whole import, on every store: counts equal an independent count."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from flask.testing import FlaskCliRunner
from sqlalchemy import select

from patrolmap.extensions import db
from patrolmap.layers import LAYERS
from patrolmap.models import Building, PathSegment

from .conftest import DATA
from .geo.test_osm import expected_ids

OSM = DATA / "osm"


@pytest.mark.parametrize(("file", "campus"), [("cau_beijing.osm", "cau-east"), ("mc_rockville.osm", "rockville")])
def test_osm_extract_loads_every_feature(runner: FlaskCliRunner, file: str, campus: str) -> None:
    result = runner.invoke(args=["load-geodata", str(OSM / file), "--campus", campus])
    assert result.exit_code == 0, result.output
    expected = expected_ids(OSM / file)
    for layer_id, ids in expected.items():
        model = LAYERS[layer_id].model
        stored = set(db.session.scalars(select(model.source_id)))
        assert stored == ids, layer_id
    again = runner.invoke(args=["load-geodata", str(OSM / file), "--campus", campus])
    assert "buildings: 0 new, 0 updated" in again.output


def test_beijing_counts_and_kinds(runner: FlaskCliRunner) -> None:
    result = runner.invoke(args=["load-geodata", str(OSM / "cau_beijing.osm")])
    assert result.exit_code == 0, result.output
    # Counted by hand from the extract (closed building ways + building relations, highway ways, parkings).
    assert "buildings: 257 new" in result.output
    assert "paths: 301 new" in result.output
    assert "parking-lots: 19 new" in result.output
    kinds = dict(db.session.execute(select(Building.name, Building.kind).where(Building.name.is_not(None))).all())
    assert kinds["学生公寓3号楼"] == "dorm"
    assert kinds["第一教学楼"] == "teaching"


def test_restricted_access_is_kept(runner: FlaskCliRunner) -> None:
    # Neither real extract tags a highway private (only parkings), so use the hand-made one.
    path = OSM / "tiny_paths.osm"
    restricted = set()
    for way in ET.parse(path).getroot().iter("way"):
        tags = {t.get("k"): t.get("v") for t in way.iter("tag")}
        if "highway" in tags and tags.get("access") in ("private", "no", "permit", "customers", "destination"):
            restricted.add(f"osm:way/{way.get('id')}")
    assert restricted
    runner.invoke(args=["load-geodata", str(path)])
    stored = set(db.session.scalars(select(PathSegment.source_id).where(PathSegment.access == "private")))
    assert stored == restricted


def test_university_boundary_limits_the_import(runner: FlaskCliRunner) -> None:
    result = runner.invoke(args=["load-geodata", str(OSM / "cau_beijing.osm"), "--university-boundary"])
    assert result.exit_code == 0, result.output
    inside = len(db.session.scalars(select(Building.id)).all())
    assert 0 < inside < 257


def test_boundary_file_limits_the_import(runner: FlaskCliRunner, tmp_path) -> None:
    import json

    import shapely

    from patrolmap.geo.osm import read_osm

    box = (116.3480, 40.0000, 116.3530, 40.0040)
    file = tmp_path / "boundary.geojson"
    file.write_text(json.dumps({"type": "FeatureCollection", "features": [{
        "type": "Feature", "properties": {}, "geometry": shapely.geometry.mapping(shapely.box(*box))}]}))
    result = runner.invoke(args=["load-geodata", str(OSM / "cau_beijing.osm"), "--boundary", str(file)])
    assert result.exit_code == 0, result.output
    # Independently: buildings whose representative point lies in the box.
    buildings = read_osm(OSM / "cau_beijing.osm").layers["buildings"]
    expected = {sid for sid, g in zip(buildings["source_id"], buildings.geometry, strict=True)
                if shapely.box(*box).contains(g.representative_point())}
    assert set(db.session.scalars(select(Building.source_id))) == expected
    assert 0 < len(expected) < 257
    bad = tmp_path / "bad.geojson"
    bad.write_text('{"type": "FeatureCollection", "features": []}')
    refused = runner.invoke(args=["load-geodata", str(OSM / "cau_beijing.osm"), "--boundary", str(bad)])
    assert refused.exit_code != 0 and "holds no polygon" in refused.output
