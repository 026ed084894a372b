"""The OSM importer against two real campus extracts and tiny hand-written files."""

import bz2
import gzip
import sys
import time
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from geopandas.testing import assert_geodataframe_equal
from shapely.geometry import LineString, MultiPolygon, Point, Polygon

from patrolmap.geo.osm import LAYER_SCHEMAS, OsmError, OsmExtract, read_osm

DATA = Path(__file__).parent.parent / "data" / "osm"
BEIJING = DATA / "cau_beijing.osm"
ROCKVILLE = DATA / "mc_rockville.osm"
REAL = [BEIJING, ROCKVILLE]
TINY = [DATA / "tiny_areas.osm", DATA / "tiny_paths.osm", DATA / "tiny_points.osm"]


@pytest.fixture(scope="module")
def extracts() -> dict[Path, OsmExtract]:
    """Parse each extract once; they are read-only in the tests."""
    return {path: read_osm(path) for path in REAL + TINY}


def by_id(frame: gpd.GeoDataFrame, source_id: str) -> dict:
    (index,) = frame.index[frame.source_id == source_id]
    return {column: frame.at[index, column] for column in frame.columns}  # keeps pd.NA, unlike a row


# --- an independent count, straight from the XML -----------------------------


def expected_ids(path: Path) -> dict[str, set[str]]:
    """Return the source_ids each layer should have, found with a plain ElementTree pass."""
    root = ET.parse(path).getroot()
    node_ids = {node.get("id") for node in root.iter("node")}
    ways = {way.get("id"): way for way in root.iter("way")}

    def tags(elem: ET.Element) -> dict[str, str]:
        return {tag.get("k"): tag.get("v") for tag in elem.findall("tag")}

    def refs(way: ET.Element) -> list[str]:
        return [nd.get("ref") for nd in way.findall("nd")]

    def complete(way: ET.Element) -> bool:
        return all(ref in node_ids for ref in refs(way))

    def closed(way: ET.Element) -> bool:
        return len(refs(way)) >= 4 and refs(way)[0] == refs(way)[-1] and complete(way)

    def outers_complete(relation: ET.Element) -> bool:
        members = relation.findall("member")
        outers = [m.get("ref") for m in members if m.get("type") == "way" and m.get("role") != "inner"]
        return bool(outers) and all(ref in ways and complete(ways[ref]) for ref in outers)

    found = defaultdict(set)
    for node in root.iter("node"):
        t = tags(node)
        if t.get("amenity") == "parking":
            found["parking-lots"].add(f"osm:node/{node.get('id')}")
        if t.get("amenity") == "charging_station":
            found["chargers"].add(f"osm:node/{node.get('id')}")
        gate = t.get("barrier") in ("gate", "lift_gate", "swing_gate", "sliding_gate") or "entrance" in t
        if gate and (t.get("name") or t.get("name:zh") or t.get("name:en")):
            found["checkpoints"].add(f"osm:node/{node.get('id')}")
    for way_id, way in ways.items():
        t = tags(way)
        if t.get("building", "no") != "no" and closed(way):
            found["buildings"].add(f"osm:way/{way_id}")
        if t.get("amenity") == "parking" and closed(way):
            found["parking-lots"].add(f"osm:way/{way_id}")
        if t.get("amenity") == "charging_station" and closed(way):
            found["chargers"].add(f"osm:way/{way_id}")
        skipped = ("proposed", "construction", "platform", "bus_stop", "abandoned", "disused", "razed")
        drawable = complete(way) and len(set(refs(way))) >= 2
        if "highway" in t and t["highway"] not in skipped and t.get("area") != "yes" and drawable:
            found["paths"].add(f"osm:way/{way_id}")
    for relation in root.iter("relation"):
        t = tags(relation)
        if t.get("type") != "multipolygon" or not outers_complete(relation):
            continue
        if t.get("building", "no") != "no":
            found["buildings"].add(f"osm:relation/{relation.get('id')}")
        if t.get("amenity") == "parking":
            found["parking-lots"].add(f"osm:relation/{relation.get('id')}")
    return found


def names_in_file(path: Path) -> set[str]:
    return {tag.get("v") for tag in ET.parse(path).getroot().iter("tag") if tag.get("k") == "name"}


# --- real extracts -----------------------------------------------------------


@pytest.mark.parametrize("path", REAL + TINY, ids=lambda path: path.stem)
def test_layers_match_an_independent_count(extracts: dict[Path, OsmExtract], path: Path) -> None:
    expected = expected_ids(path)
    for layer, frame in extracts[path].layers.items():
        assert frame.source_id.is_unique, layer
        assert set(frame.source_id) == expected[layer], layer


def test_real_counts(extracts: dict[Path, OsmExtract]) -> None:
    counts = {path.stem: {layer: len(frame) for layer, frame in extracts[path].layers.items()} for path in REAL}
    # The realdata README: about 257 buildings in Beijing; 73 building ways in Rockville, plus one relation.
    assert counts["cau_beijing"]["buildings"] == 257
    assert counts["mc_rockville"]["buildings"] == 74
    assert counts["mc_rockville"]["chargers"] == 1
    assert counts["mc_rockville"]["parking-lots"] == 13


@pytest.mark.parametrize("path", REAL + TINY, ids=lambda path: path.stem)
def test_schema_crs_and_geometry_types(extracts: dict[Path, OsmExtract], path: Path) -> None:
    types = {
        "buildings": {"Polygon", "MultiPolygon"},
        "paths": {"LineString"},
        "parking-lots": {"Polygon", "MultiPolygon", "Point"},
        "chargers": {"Point"},
        "checkpoints": {"Point"},
    }
    extract = extracts[path]
    assert set(extract.layers) == set(LAYER_SCHEMAS)
    for layer, frame in extract.layers.items():
        assert list(frame.columns) == [*LAYER_SCHEMAS[layer], "geometry"], layer
        dtypes = {column: str(dtype) for column, dtype in frame.dtypes.items() if column != "geometry"}
        assert dtypes == LAYER_SCHEMAS[layer], layer
        assert frame.crs == "EPSG:4326"
        assert set(frame.geom_type) <= types[layer], layer
        assert frame.is_valid.all() and not frame.is_empty.any(), layer
        for column, dtype in LAYER_SCHEMAS[layer].items():
            if dtype == "object":  # strings: None when absent, never NaN
                assert all(value is None or isinstance(value, str) for value in frame[column]), column
    assert extract.universities.crs == "EPSG:4326"


@pytest.mark.parametrize("path", REAL, ids=lambda path: path.stem)
def test_geometries_lie_in_the_extract(extracts: dict[Path, OsmExtract], path: Path) -> None:
    root = ET.parse(path).getroot()
    bounds = {key: float(value) for key, value in root.find("bounds").attrib.items()}
    declared = shapely.box(bounds["minlon"], bounds["minlat"], bounds["maxlon"], bounds["maxlat"])
    lons = [float(node.get("lon")) for node in root.iter("node")]
    lats = [float(node.get("lat")) for node in root.iter("node")]
    envelope = shapely.box(min(lons), min(lats), max(lons), max(lats))
    for layer, frame in extracts[path].layers.items():
        assert frame.within(envelope).all(), layer
        # The API export holds every way that reaches into the box, whole.
        if layer in ("buildings", "paths"):
            assert frame.intersects(declared).all(), layer


def test_beijing_kinds(extracts: dict[Path, OsmExtract]) -> None:
    buildings = extracts[BEIJING].layers["buildings"]
    expected = {
        "学生公寓3号楼": "dorm",
        "女生宿舍楼": "dorm",
        "学生公寓二号楼": "dorm",
        "二食堂": "canteen",
        "石科院职工食堂": "canteen",
        "第一教学楼": "teaching",
        "二教": "teaching",
        "中国农业大学东区图书馆": "library",
        "中国农业大学体育馆": "sports",
        "公共浴室": "other",
    }
    assert set(expected) <= names_in_file(BEIJING)
    kinds = dict(zip(buildings.name, buildings.kind, strict=False))
    assert {name: kinds[name] for name in expected} == expected
    floors = by_id(buildings, "osm:way/154827373")  # 学生公寓二号楼, building:levels=14
    assert floors["floors"] == 14


def test_beijing_multipolygon_buildings_keep_their_courtyards(extracts: dict[Path, OsmExtract]) -> None:
    buildings = extracts[BEIJING].layers["buildings"]
    for source_id in ("osm:relation/19233725", "osm:relation/19233726"):
        geom = by_id(buildings, source_id)["geometry"]
        assert isinstance(geom, Polygon) and len(geom.interiors) == 1


def test_beijing_universities(extracts: dict[Path, OsmExtract]) -> None:
    names = set(extracts[BEIJING].universities.name)
    assert names == {"中国农业大学东校区", "中国农业大学", "中国矿业大学（北京）"}


def test_rockville_charger_paths_and_partial_relations(extracts: dict[Path, OsmExtract]) -> None:
    extract = extracts[ROCKVILLE]
    charger = by_id(extract.layers["chargers"], "osm:node/10834474997")
    assert (charger["kind"], charger["status"]) == ("car", "existing")
    assert charger["geometry"].equals(Point(-77.1557695, 39.0955994))
    hungerford = by_id(extract.layers["paths"], "osm:way/696234431")  # maxspeed=30 mph, oneway=yes
    assert (hungerford["name"], hungerford["kind"], hungerford["oneway"]) == ("Hungerford Drive", "road", True)
    assert hungerford["speed_limit_kmh"] == pytest.approx(48.3)
    # Outer rings present, some inner members beyond the edge: kept, with a warning each.
    assert by_id(extract.layers["buildings"], "osm:relation/2097013")["name"] == "Montgomery County Public Schools"
    assert by_id(extract.layers["parking-lots"], "osm:relation/20068407")["geometry"].is_valid
    assert sum(w.startswith("relation/20068407: inner member way/") for w in extract.warnings) == 5
    assert extract.skipped == []


def test_boundary_keeps_what_is_on_campus(extracts: dict[Path, OsmExtract]) -> None:
    universities = extracts[BEIJING].universities
    campus = universities[universities.name == "中国农业大学东校区"].geometry.iloc[0]
    inside = read_osm(BEIJING, boundary=campus)
    full = extracts[BEIJING]
    for layer in ("buildings", "parking-lots", "checkpoints"):
        frame = inside.layers[layer]
        assert frame.representative_point().within(campus).all(), layer
        whole = full.layers[layer]
        assert len(frame) == whole.representative_point().within(campus).sum(), layer
    paths = inside.layers["paths"]
    assert paths.intersects(campus).all()
    assert len(paths) == full.layers["paths"].intersects(campus).sum()
    assert 0 < len(inside.layers["buildings"]) < len(full.layers["buildings"])
    assert {"学生公寓3号楼", "女生宿舍楼", "第一教学楼"} <= set(inside.layers["buildings"].name)


def test_parse_time_on_beijing(capsys: pytest.CaptureFixture[str]) -> None:
    start = time.perf_counter()
    read_osm(BEIJING)
    elapsed = time.perf_counter() - start
    with capsys.disabled():
        print(f"\nread_osm({BEIJING.name}): {elapsed:.3f} s")


# --- tiny hand-written files ---------------------------------------------------


def test_oneway_reverse_access_speed_and_fire_lanes(extracts: dict[Path, OsmExtract]) -> None:
    paths = extracts[DATA / "tiny_paths.osm"].layers["paths"]
    reverse = by_id(paths, "osm:way/1")  # oneway=-1: drawn 1-2-3, travelled 3-2-1
    assert reverse["oneway"]
    assert reverse["geometry"].equals(LineString([(116.353, 40.0), (116.352, 40.0), (116.351, 40.0)]))
    assert by_id(paths, "osm:way/2")["access"] == "private"
    assert by_id(paths, "osm:way/4")["access"] == "private"  # access=no
    assert by_id(paths, "osm:way/9")["access"] == "public"  # access=permissive
    assert by_id(paths, "osm:way/3")["speed_limit_kmh"] == pytest.approx(48.3)  # 30 mph
    assert by_id(paths, "osm:way/5")["speed_limit_kmh"] == 20
    assert by_id(paths, "osm:way/13")["speed_limit_kmh"] is pd.NA
    assert [by_id(paths, f"osm:way/{n}")["fire_lane"] for n in (3, 4, 5)] == [False, True, True]
    assert by_id(paths, "osm:way/5")["oneway"]  # roundabout
    assert by_id(paths, "osm:way/13")["oneway"]  # motorway
    assert not by_id(paths, "osm:way/14")["oneway"]
    kinds = dict(zip(paths.source_id, paths.kind, strict=True))
    assert [kinds[f"osm:way/{n}"] for n in (1, 2, 3, 9, 11, 13, 14)] == [
        "service",
        "footway",
        "road",
        "steps",
        "track",
        "road",
        "other",
    ]
    assert by_id(paths, "osm:way/11")["name"] == "农场小路"  # name:zh before name:en


def test_multipolygon_with_inner_ring_has_a_hole(extracts: dict[Path, OsmExtract]) -> None:
    building = by_id(extracts[DATA / "tiny_areas.osm"].layers["buildings"], "osm:relation/100")
    geom = building["geometry"]
    assert isinstance(geom, Polygon) and len(geom.interiors) == 1
    assert geom.area == pytest.approx(9e-6 - 1e-6)  # 3x3 outer ring from two ways, 1x1 courtyard
    assert building["kind"] == "teaching"


def test_truncated_way_and_relation_are_skipped(extracts: dict[Path, OsmExtract]) -> None:
    areas = extracts[DATA / "tiny_areas.osm"]
    reasons = {item["osm_id"]: item["reason"] for item in areas.skipped}
    assert set(reasons) == {"way/30", "relation/101", "relation/103"}  # not way/31: an untagged member
    assert "1 of 4 nodes are missing" in reasons["way/30"]
    assert "outer member way/404 is missing" in reasons["relation/101"]
    assert "outer member way/31 has nodes missing" in reasons["relation/103"]
    assert [item["osm_id"] for item in extracts[DATA / "tiny_paths.osm"].skipped] == ["way/8"]


def test_invalid_and_odd_areas(extracts: dict[Path, OsmExtract]) -> None:
    areas = extracts[DATA / "tiny_areas.osm"]
    buildings = areas.layers["buildings"]
    bow_tie = by_id(buildings, "osm:way/50")
    assert isinstance(bow_tie["geometry"], MultiPolygon) and bow_tie["geometry"].is_valid
    assert any(w.startswith("way/50: invalid polygon repaired") for w in areas.warnings)
    assert any(w.startswith("way/60 is tagged as an area but is not closed") for w in areas.warnings)
    assert "osm:way/96" not in set(buildings.source_id)  # building=no
    lot = by_id(areas.layers["parking-lots"], "osm:relation/102")
    assert lot["geometry"].equals(shapely.box(116.350, 40.005, 116.352, 40.006))


def test_residential_is_a_dorm_only_on_campus(extracts: dict[Path, OsmExtract]) -> None:
    buildings = extracts[DATA / "tiny_areas.osm"].layers["buildings"]
    kinds = dict(zip(buildings.source_id, buildings.kind, strict=True))
    assert kinds["osm:way/80"] == "dorm"  # inside 测试大学
    assert kinds["osm:way/81"] == "staff_apartment"  # 教工宿舍
    assert kinds["osm:way/90"] == "other"  # outside every university
    first = by_id(buildings, "osm:way/10")
    assert (first["name"], first["name_en"], first["floors"]) == ("学生公寓1号楼", "Student Apartment 1", 6)
    assert by_id(buildings, "osm:way/80")["floors"] is pd.NA  # levels=many


def test_chargers_checkpoints_and_parking_points(extracts: dict[Path, OsmExtract]) -> None:
    points = extracts[DATA / "tiny_points.osm"]
    chargers = points.layers["chargers"]
    ebike = by_id(chargers, "osm:node/1")
    assert (ebike["kind"], ebike["ports"], ebike["name"]) == ("ebike", 10, "电动车充电桩")
    car = by_id(chargers, "osm:node/2")
    assert (car["kind"], car["ports"], car["power_kw"], car["operator"]) == ("car", 4, 60.0, "国家电网")
    bike = by_id(chargers, "osm:node/3")
    assert (bike["kind"], bike["power_kw"]) == ("ebike", 0.8)
    garage = by_id(chargers, "osm:way/10")
    assert garage["geometry"].equals_exact(Point(116.3501, 40.0031), tolerance=1e-9)
    checkpoints = points.layers["checkpoints"]
    assert dict(zip(checkpoints.source_id, checkpoints.name, strict=True)) == {
        "osm:node/21": "东门",
        "osm:node/23": "Main Entrance",
        "osm:node/24": "北门道闸",
    }
    assert set(checkpoints.kind) == {"gate"}
    lots = points.layers["parking-lots"]
    assert by_id(lots, "osm:node/33")["capacity"] == 1200
    assert by_id(lots, "osm:node/31")["capacity"] is pd.NA
    assert "node/31: capacity='lots' is not a number; left empty" in points.warnings


def test_empty_layers_keep_their_columns(extracts: dict[Path, OsmExtract]) -> None:
    chargers = extracts[BEIJING].layers["chargers"]
    assert chargers.empty and list(chargers.columns) == [*LAYER_SCHEMAS["chargers"], "geometry"]
    assert chargers.crs == "EPSG:4326"


# --- other formats and bad input ---------------------------------------------------


@pytest.mark.parametrize("compress", [gzip.compress, bz2.compress], ids=["gzip", "bzip2"])
def test_compressed_xml(tmp_path: Path, extracts: dict[Path, OsmExtract], compress) -> None:
    source = DATA / "tiny_areas.osm"
    packed = tmp_path / "extract.osm.packed"
    packed.write_bytes(compress(source.read_bytes()))
    for layer, frame in read_osm(packed).layers.items():
        assert_geodataframe_equal(frame, extracts[source].layers[layer], check_like=False)


@pytest.mark.parametrize("path", [ROCKVILLE, DATA / "tiny_areas.osm"], ids=lambda path: path.stem)
def test_pbf_reads_like_xml(tmp_path: Path, extracts: dict[Path, OsmExtract], path: Path) -> None:
    osmium = pytest.importorskip("osmium")
    pbf = tmp_path / "extract.osm.pbf"
    with osmium.SimpleWriter(str(pbf)) as writer:
        for obj in osmium.FileProcessor(str(path)):
            writer.add(obj)
    from_pbf = read_osm(pbf)
    for layer, frame in from_pbf.layers.items():
        assert_geodataframe_equal(frame, extracts[path].layers[layer])
    assert from_pbf.skipped == extracts[path].skipped
    assert from_pbf.warnings == extracts[path].warnings


def test_pbf_without_osmium(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pbf = tmp_path / "extract.osm.pbf"
    pbf.write_bytes(b"\x00\x00\x00\x0d\x0a\x09OSMHeader" + bytes(32))
    monkeypatch.setitem(sys.modules, "osmium", None)  # makes "import osmium" fail
    with pytest.raises(OsmError, match="PBF needs the 'osmium' package"):
        read_osm(pbf)


BAD_FILES = {
    "binary": b"\x00\x01\x02garbage\xff",
    "empty": b"",
    "text": b"this is not xml",
    "json": b'{"type": "FeatureCollection", "features": []}',
    "gpx": b"<?xml version='1.0'?><gpx version='1.1'><trk/></gpx>",
    "truncated": b"<?xml version='1.0'?><osm version='0.6'><node id='1' lat='40' lon='116'>",
    "bad-location": b"<osm version='0.6'><node id='1' lat='north' lon='116'/></osm>",
    "bad-id": b"<osm version='0.6'><way id='x'><nd ref='1'/></way></osm>",
    "bad-pbf": b"\x00\x00\x00\x0d\x0a\x09OSMHeader" + bytes(32),
    "bad-gzip": b"\x1f\x8b\x08\x00garbage",
}


@pytest.mark.parametrize("content", BAD_FILES.values(), ids=BAD_FILES.keys())
def test_bad_files_raise_osm_error(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "bad.osm"
    path.write_bytes(content)
    with pytest.raises(OsmError):
        read_osm(path)


def test_missing_file_raises_osm_error(tmp_path: Path) -> None:
    with pytest.raises(OsmError, match="cannot read OSM file"):
        read_osm(tmp_path / "nowhere.osm")
    assert issubclass(OsmError, ValueError)
