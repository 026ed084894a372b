"""Read an OpenStreetMap extract into patrolmap's layers as GeoDataFrames.

Reads OSM XML (``.osm``, also gzip or bzip2 compressed) with the standard
library and ``.osm.pbf`` through the optional ``osmium`` package; the format
is recognised from the file's first bytes, not its name.  Pure analysis: no
Flask, no database.

Edge of the extract: a way whose nodes are not all in the file, or a
multipolygon whose outer member ways are not all complete, is skipped and
listed in ``OsmExtract.skipped``.  A multipolygon that lacks only some inner
members is still built, without those holes, with a warning.
"""

import bz2
import gzip
import math
import os
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import geopandas as gpd
import pandas as pd
import shapely
from shapely.geometry import LineString, MultiPolygon, Point, Polygon
from shapely.geometry.base import BaseGeometry

from patrolmap.geo.kinds import classify_building

CRS = "EPSG:4326"

# Column -> dtype per layer; every frame also has a last "geometry" column.
LAYER_SCHEMAS: dict[str, dict[str, str]] = {
    "buildings": {
        "source_id": "object",
        "name": "object",
        "name_en": "object",
        "kind": "object",
        "floors": "Int64",
        "residents": "Int64",
        "college": "object",
    },
    "paths": {
        "source_id": "object",
        "name": "object",
        "kind": "object",
        "fire_lane": "bool",
        "oneway": "bool",
        "access": "object",
        "speed_limit_kmh": "Float64",
    },
    "parking-lots": {"source_id": "object", "name": "object", "capacity": "Int64"},
    "chargers": {
        "source_id": "object",
        "name": "object",
        "kind": "object",
        "ports": "Int64",
        "power_kw": "Float64",
        "status": "object",
        "operator": "object",
    },
    "checkpoints": {"source_id": "object", "name": "object", "kind": "object"},
}
UNIVERSITY_SCHEMA: dict[str, str] = {"source_id": "object", "name": "object"}

ROADS = (
    *("motorway", "trunk", "primary", "secondary", "tertiary"),
    *("motorway_link", "trunk_link", "primary_link", "secondary_link", "tertiary_link"),
    *("unclassified", "residential", "living_street", "road"),
)
PATH_KINDS: dict[str, str] = {
    **dict.fromkeys(ROADS, "road"),
    "service": "service",
    **dict.fromkeys(("footway", "pedestrian", "path", "corridor", "bridleway"), "footway"),
    "steps": "steps",
    "cycleway": "cycleway",
    "track": "track",
}
# Not (yet, or any more) something to walk or drive on.
SKIPPED_HIGHWAYS = frozenset(("proposed", "construction", "platform", "bus_stop", "abandoned", "disused", "razed"))
PRIVATE_ACCESS = frozenset(("private", "no", "customers", "destination", "delivery", "permit"))
GATE_BARRIERS = frozenset(("gate", "lift_gate", "swing_gate", "sliding_gate", "turnstile", "full-height_turnstile"))
EBIKE_NAME = re.compile(r"电动自行车|电动车|电瓶车|充电柜|e-?bikes?|electric\s+bicycles?", re.IGNORECASE)
UNIT_TO_KMH = {"": 1.0, "km/h": 1.0, "kmh": 1.0, "kph": 1.0, "mph": 1.609344, "knots": 1.852}
MAX_FLOORS = 200  # the buildings layer's limit in patrolmap.geo.schema
UNIT_TO_KW = {"": 1.0, "kw": 1.0, "kva": 1.0, "w": 0.001, "mw": 1000.0}


class OsmError(ValueError):
    """An unreadable file, or one that is not an OpenStreetMap extract."""


@dataclass
class OsmExtract:
    """The layers read from one extract, with what was left out and why."""

    layers: dict[str, gpd.GeoDataFrame]  # LAYER_SCHEMAS' keys, every frame present, maybe empty
    skipped: list[dict[str, str]]  # {"osm_id": "way/123", "reason": ...}: cut off at the extract's edge
    warnings: list[str]  # repaired or ignored data, in file order
    universities: gpd.GeoDataFrame  # amenity=university areas (source_id, name), never cut to the boundary


def read_osm(path: str | os.PathLike[str], *, boundary: BaseGeometry | None = None) -> OsmExtract:
    """Read an OSM extract into patrolmap's layers, all in EPSG:4326.

    ``boundary`` (EPSG:4326) keeps only what lies on the campus: areas and
    points whose representative point it covers, and lines that touch it,
    kept whole rather than clipped so the path network stays connected.
    Building kinds treat residential buildings as dorms only on a campus:
    inside ``boundary``, else inside an ``amenity=university`` area, else
    (no university in the file) everywhere.

    Raises
    ------
    OsmError
        If the file cannot be read or is not OSM XML/PBF.
    """
    builder = _Builder(_load(Path(path)))
    universities = _frame(list(_universities(builder)), UNIVERSITY_SCHEMA)
    campus = boundary if boundary is not None else _campus_area(universities)
    layers = {
        "buildings": _frame(list(_buildings(builder, campus)), LAYER_SCHEMAS["buildings"]),
        "paths": _frame(list(_paths(builder)), LAYER_SCHEMAS["paths"]),
        "parking-lots": _frame(list(_parking_lots(builder)), LAYER_SCHEMAS["parking-lots"]),
        "chargers": _frame(list(_chargers(builder)), LAYER_SCHEMAS["chargers"]),
        "checkpoints": _frame(list(_checkpoints(builder)), LAYER_SCHEMAS["checkpoints"]),
    }
    if boundary is not None:
        layers = {name: _inside(frame, boundary, lines=name == "paths") for name, frame in layers.items()}
    return OsmExtract(layers, builder.skipped, builder.warnings, universities)


# --- reading -----------------------------------------------------------------

Member = tuple[str, int, str]  # (type, ref, role)


@dataclass
class _Raw:
    """The elements of an extract, as plain Python data whatever the format."""

    nodes: dict[int, tuple[float, float]] = field(default_factory=dict)
    node_tags: dict[int, dict[str, str]] = field(default_factory=dict)
    ways: dict[int, tuple[list[int], dict[str, str]]] = field(default_factory=dict)
    relations: dict[int, tuple[list[Member], dict[str, str]]] = field(default_factory=dict)


def _load(path: Path) -> _Raw:
    try:
        with path.open("rb") as stream:
            head = stream.read(64)
    except OSError as exc:
        msg = f"cannot read OSM file {path}: {exc.strerror or exc}"
        raise OsmError(msg) from exc
    if b"OSMHeader" in head:
        return _read_pbf(path)
    opener: Callable[..., IO[bytes]] = open
    if head.startswith(b"\x1f\x8b"):
        opener = gzip.open
    elif head.startswith(b"BZh"):
        opener = bz2.open
    try:
        with opener(path, "rb") as stream:
            return _read_xml(stream, path)
    except (OSError, EOFError) as exc:  # corrupt gzip/bzip2 data
        msg = f"cannot read OSM file {path}: {exc}"
        raise OsmError(msg) from exc


def _read_xml(stream: IO[bytes], path: Path) -> _Raw:
    raw = _Raw()
    try:
        events = ET.iterparse(stream, events=("start", "end"))
        _, root = next(events)
        if root.tag != "osm":
            msg = f"{path} is not an OSM XML file: its root element is <{root.tag}>, not <osm>"
            raise OsmError(msg)
        for event, elem in events:
            if event == "end" and elem.tag in ("node", "way", "relation"):
                _add_element(raw, elem)
                elem.clear()  # keeps memory flat on city-sized extracts
    except ET.ParseError as exc:
        msg = f"{path} is not valid OSM XML: {exc}"
        raise OsmError(msg) from exc
    except StopIteration as exc:
        msg = f"{path} is empty"
        raise OsmError(msg) from exc
    return raw


def _add_element(raw: _Raw, elem: ET.Element) -> None:
    if elem.get("visible") == "false" or elem.get("action") == "delete":
        return  # history and JOSM files carry deleted elements
    osm_id = _int_attr(elem, "id")
    tags = {tag.get("k", ""): tag.get("v", "") for tag in elem.iter("tag")}
    if elem.tag == "node":
        raw.nodes[osm_id] = _node_location(elem, osm_id)
        if tags:
            raw.node_tags[osm_id] = tags
    elif elem.tag == "way":
        raw.ways[osm_id] = ([_int_attr(nd, "ref") for nd in elem.iter("nd")], tags)
    else:
        members = [(m.get("type", ""), _int_attr(m, "ref"), m.get("role", "")) for m in elem.iter("member")]
        raw.relations[osm_id] = (members, tags)


def _int_attr(elem: ET.Element, name: str) -> int:
    try:
        return int(elem.get(name, ""))
    except ValueError:
        msg = f"<{elem.tag}> has no valid {name}: {elem.get(name)!r}"
        raise OsmError(msg) from None


def _node_location(elem: ET.Element, osm_id: int) -> tuple[float, float]:
    try:
        lon, lat = float(elem.get("lon", "")), float(elem.get("lat", ""))
    except ValueError:
        lon = lat = math.nan
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        msg = f"node/{osm_id} has no valid location (lat={elem.get('lat')!r}, lon={elem.get('lon')!r})"
        raise OsmError(msg)
    return lon, lat


def _read_pbf(path: Path) -> _Raw:
    try:
        import osmium  # optional: only PBF files need it
    except ImportError as exc:
        msg = "PBF needs the 'osmium' package (pip install osmium), or convert the file to .osm XML"
        raise OsmError(msg) from exc
    raw = _Raw()
    member_types = {"n": "node", "w": "way", "r": "relation"}
    try:
        for obj in osmium.FileProcessor(str(path)):
            tags = {tag.k: tag.v for tag in obj.tags}
            if obj.is_node():
                if obj.location.valid():
                    raw.nodes[obj.id] = (obj.location.lon, obj.location.lat)
                if tags:
                    raw.node_tags[obj.id] = tags
            elif obj.is_way():
                raw.ways[obj.id] = ([node.ref for node in obj.nodes], tags)
            elif obj.is_relation():
                members = [(member_types.get(m.type, m.type), m.ref, m.role) for m in obj.members]
                raw.relations[obj.id] = (members, tags)
    except RuntimeError as exc:  # osmium reports unreadable data this way
        msg = f"{path} is not a readable OSM PBF file: {exc}"
        raise OsmError(msg) from exc
    return raw


# --- geometry ----------------------------------------------------------------


class _Builder:
    """Turn raw elements into geometries, noting what was skipped and why."""

    def __init__(self, raw: _Raw) -> None:
        self.raw = raw
        self.skipped: list[dict[str, str]] = []
        self.warnings: list[str] = []
        self._skipped_ids: set[str] = set()
        self._warned: set[str] = set()

    def skip(self, osm_id: str, reason: str) -> None:
        if osm_id not in self._skipped_ids:  # a way can be wanted by two layers
            self._skipped_ids.add(osm_id)
            self.skipped.append({"osm_id": osm_id, "reason": reason})

    def warn(self, message: str) -> None:
        if message not in self._warned:  # a way can be read by two layers
            self._warned.add(message)
            self.warnings.append(message)

    def nodes(self, wanted: Callable[[dict[str, str]], bool]) -> Iterator[tuple[str, dict[str, str], Point]]:
        for node_id, tags in self.raw.node_tags.items():
            if wanted(tags) and node_id in self.raw.nodes:
                yield f"node/{node_id}", tags, Point(self.raw.nodes[node_id])

    def lines(self, wanted: Callable[[dict[str, str]], bool]) -> Iterator[tuple[str, dict[str, str], LineString]]:
        for way_id, (_, tags) in self.raw.ways.items():
            if not wanted(tags):
                continue
            coords = self._way_coords(way_id)
            if coords is None:
                self._skip_cut_way(way_id)
                continue
            if len(set(coords)) < 2:
                self.warn(f"way/{way_id} has fewer than two distinct nodes; ignored")
                continue
            yield f"way/{way_id}", tags, LineString(coords)

    def areas(self, wanted: Callable[[dict[str, str]], bool]) -> Iterator[tuple[str, dict[str, str], BaseGeometry]]:
        """Yield closed ways and multipolygon relations as (Multi)Polygons."""
        for way_id, (refs, tags) in self.raw.ways.items():
            if not wanted(tags):
                continue
            if len(refs) < 4 or refs[0] != refs[-1]:
                self.warn(f"way/{way_id} is tagged as an area but is not closed; ignored")
                continue
            coords = self._way_coords(way_id)
            if coords is None:
                self._skip_cut_way(way_id)
                continue
            geom = self._polygonal(Polygon(coords), f"way/{way_id}")
            if geom is not None:
                yield f"way/{way_id}", tags, geom
        for rel_id, (members, tags) in self.raw.relations.items():
            if tags.get("type") == "multipolygon" and wanted(tags):
                geom = self._relation_area(rel_id, members)
                if geom is not None:
                    yield f"relation/{rel_id}", tags, geom

    def _way_coords(self, way_id: int) -> list[tuple[float, float]] | None:
        """Return the way's coordinates, or None if the way or some of its nodes are not in the extract."""
        if way_id not in self.raw.ways:
            return None
        refs, _ = self.raw.ways[way_id]
        coords = [self.raw.nodes.get(ref) for ref in refs]
        return None if None in coords else coords  # type: ignore[return-value]  # no None left

    def _skip_cut_way(self, way_id: int) -> None:
        refs, _ = self.raw.ways[way_id]
        missing = sum(ref not in self.raw.nodes for ref in refs)
        self.skip(f"way/{way_id}", f"{missing} of {len(refs)} nodes are missing (cut off at the extract's edge)")

    def _relation_area(self, rel_id: int, members: list[Member]) -> BaseGeometry | None:
        osm_id = f"relation/{rel_id}"
        rings: dict[str, list[LineString]] = {"outer": [], "inner": []}
        for member_type, ref, role in members:
            if member_type != "way":
                continue
            role = "inner" if role == "inner" else "outer"  # untagged roles are outer in practice
            coords = self._way_coords(ref)
            why = "is missing" if ref not in self.raw.ways else "has nodes missing"
            if coords is None and role == "outer":
                self.skip(osm_id, f"outer member way/{ref} {why} (cut off at the extract's edge)")
                return None
            if coords is None:
                self.warn(f"{osm_id}: inner member way/{ref} {why}; built without that hole")
            elif len(coords) >= 2:
                rings[role].append(LineString(coords))
        outer = self._rings_area(rings["outer"], osm_id)
        if outer is None:
            self.warn(f"{osm_id}: its outer ways form no closed ring; ignored")
            return None
        inner = self._rings_area(rings["inner"], osm_id)
        return self._polygonal(outer if inner is None else outer.difference(inner), osm_id)

    def _rings_area(self, lines: list[LineString], osm_id: str) -> BaseGeometry | None:
        """Join member ways into rings (several ways may make one ring) and fill them."""
        if not lines:
            return None
        polygons, cuts, dangles, invalid = shapely.polygonize_full(lines)
        parts = list(shapely.get_parts(polygons))
        for ring in shapely.get_parts(invalid):  # self-crossing rings: keep their repaired area
            repaired = shapely.get_parts(shapely.make_valid(Polygon(ring.coords)))
            parts += [part for part in repaired if isinstance(part, Polygon)]
        if not (cuts.is_empty and dangles.is_empty):
            self.warn(f"{osm_id}: some member ways do not close a ring; used the closed ones")
        return shapely.union_all(parts) if parts else None

    def _polygonal(self, geom: BaseGeometry, osm_id: str) -> BaseGeometry | None:
        """Return a valid (Multi)Polygon, repairing invalid input, or None if nothing is left."""
        if geom.is_valid and isinstance(geom, (Polygon, MultiPolygon)) and not geom.is_empty:
            return geom
        reason = shapely.is_valid_reason(geom)
        fixed = shapely.make_valid(geom)
        polygons = [part for part in shapely.get_parts(fixed) if isinstance(part, Polygon) and not part.is_empty]
        if not polygons:
            self.warn(f"{osm_id}: polygon has no area ({reason}); ignored")
            return None
        self.warn(f"{osm_id}: invalid polygon repaired ({reason})")
        return shapely.union_all(polygons)


# --- layers ------------------------------------------------------------------

Row = dict[str, object]


def _universities(builder: _Builder) -> Iterator[Row]:
    for osm_id, tags, geom in builder.areas(lambda tags: tags.get("amenity") == "university"):
        yield {"source_id": f"osm:{osm_id}", "name": _name(tags), "geometry": geom}


def _campus_area(universities: gpd.GeoDataFrame) -> BaseGeometry | None:
    return shapely.union_all(universities.geometry.values) if len(universities) else None


def _is_building(tags: dict[str, str]) -> bool:
    return tags.get("building", "no") != "no"


def _buildings(builder: _Builder, campus: BaseGeometry | None) -> Iterator[Row]:
    for osm_id, tags, geom in builder.areas(_is_building):
        on_campus = campus is None or campus.covers(geom.representative_point())
        yield {
            "source_id": f"osm:{osm_id}",
            "name": _name(tags),
            "name_en": tags.get("name:en") or None,
            "kind": classify_building(tags, on_campus=on_campus),
            "floors": _floors(builder, osm_id, tags.get("building:levels")),
            "residents": None,
            "college": None,
            "geometry": geom,
        }


def _floors(builder: _Builder, osm_id: str, levels: str | None) -> int | None:
    if levels is None:
        return None
    try:
        value = float(levels.replace(",", "."))
    except ValueError:
        builder.warn(f"{osm_id}: building:levels={levels!r} is not a number; floors left empty")
        return None
    if not 0 <= value <= MAX_FLOORS:
        builder.warn(f"{osm_id}: building:levels={levels!r} is out of range; floors left empty")
        return None
    return math.ceil(value)  # a half storey is still a storey


def _is_path(tags: dict[str, str]) -> bool:
    highway = tags.get("highway")
    return highway is not None and highway not in SKIPPED_HIGHWAYS and tags.get("area") != "yes"


def _paths(builder: _Builder) -> Iterator[Row]:
    for osm_id, tags, line in builder.lines(_is_path):
        oneway = tags.get("oneway", "").lower()
        if oneway in ("-1", "reverse"):
            line = line.reverse()  # so that every oneway path runs in its travel direction
        yield {
            "source_id": f"osm:{osm_id}",
            "name": _name(tags),
            "kind": PATH_KINDS.get(tags["highway"], "other"),
            "fire_lane": _is_fire_lane(tags),
            "oneway": _is_oneway(tags, oneway),
            "access": "private" if tags.get("access") in PRIVATE_ACCESS else "public",
            "speed_limit_kmh": _speed_kmh(tags.get("maxspeed")),
            "geometry": line,
        }


def _is_fire_lane(tags: dict[str, str]) -> bool:
    return (
        tags.get("fire_lane") == "yes"
        or tags.get("emergency") == "designated"
        or tags.get("service") == "emergency_access"
    )


def _is_oneway(tags: dict[str, str], oneway: str) -> bool:
    if oneway in ("yes", "true", "1", "-1", "reverse"):
        return True
    if oneway:  # "no", "reversible", "alternating": usable both ways
        return False
    # Implied oneway, as OSM routers read it.
    return tags.get("junction") in ("roundabout", "circular") or tags["highway"] in ("motorway", "motorway_link")


def _speed_kmh(maxspeed: str | None) -> float | None:
    """Return a numeric maxspeed in km/h; zone codes like "CN:urban" give None."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(km/h|kmh|kph|mph|knots)?\s*", maxspeed or "", re.IGNORECASE)
    if match is None:
        return None
    return round(float(match[1]) * UNIT_TO_KMH[(match[2] or "").lower()], 1)


def _is_parking(tags: dict[str, str]) -> bool:
    return tags.get("amenity") == "parking"


def _parking_lots(builder: _Builder) -> Iterator[Row]:
    features = [*builder.nodes(_is_parking), *builder.areas(_is_parking)]
    for osm_id, tags, geom in features:
        yield {
            "source_id": f"osm:{osm_id}",
            "name": _name(tags),
            "capacity": _count(builder, osm_id, tags.get("capacity")),
            "geometry": geom,
        }


def _count(builder: _Builder, osm_id: str, value: str | None) -> int | None:
    """Parse a count leniently ("120", "~120", "1,200", "120+"), warning when it is not one."""
    if value is None:
        return None
    match = re.fullmatch(r"\s*[~≈约]?\s*(\d{1,3}(?:,\d{3})+|\d+)\s*\+?\s*", value)
    if match is None:
        builder.warn(f"{osm_id}: capacity={value!r} is not a number; left empty")
        return None
    return int(match[1].replace(",", ""))


def _is_charger(tags: dict[str, str]) -> bool:
    return tags.get("amenity") == "charging_station"


def _chargers(builder: _Builder) -> Iterator[Row]:
    features = [*builder.nodes(_is_charger), *builder.areas(_is_charger)]
    for osm_id, tags, geom in features:
        yield {
            "source_id": f"osm:{osm_id}",
            "name": _name(tags),
            "kind": _charger_kind(tags),
            "ports": _count(builder, osm_id, tags.get("capacity")),
            "power_kw": _power_kw(tags),
            "status": "existing",
            "operator": tags.get("operator") or None,
            "geometry": geom if isinstance(geom, Point) else geom.centroid,
        }


def _charger_kind(tags: dict[str, str]) -> str:
    """Return "ebike" for e-bike chargers (common on Chinese campuses), else "car"."""
    bicycle_only = tags.get("bicycle") in ("yes", "designated") and tags.get("motorcar") not in ("yes", "designated")
    ebike_socket = any(key.startswith("socket:bosch") for key in tags)
    names = " ".join(filter(None, (tags.get("name"), tags.get("name:zh"), tags.get("name:en"))))
    if tags.get("motorcar") == "no" or bicycle_only or ebike_socket or EBIKE_NAME.search(names):
        return "ebike"
    return "car"


def _power_kw(tags: dict[str, str]) -> float | None:
    """Return the highest output of the station's sockets, in kW."""
    outputs = [value for key, value in tags.items() if key.startswith("socket:") and key.endswith(":output")]
    outputs.append(tags.get("charging_station:output", ""))
    powers = [
        float(number) * UNIT_TO_KW[unit.lower()]
        for output in outputs
        for number, unit in re.findall(r"(\d+(?:\.\d+)?)\s*(kva|kw|mw|w)?\b", output, re.IGNORECASE)
    ]
    return max(powers) if powers else None


def _is_checkpoint(tags: dict[str, str]) -> bool:
    return (tags.get("barrier") in GATE_BARRIERS or "entrance" in tags) and _name(tags) is not None


def _checkpoints(builder: _Builder) -> Iterator[Row]:
    for osm_id, tags, point in builder.nodes(_is_checkpoint):
        yield {"source_id": f"osm:{osm_id}", "name": _name(tags), "kind": "gate", "geometry": point}


def _name(tags: dict[str, str]) -> str | None:
    return tags.get("name") or tags.get("name:zh") or tags.get("name:en") or None


# --- frames ------------------------------------------------------------------


def _frame(rows: list[Row], schema: dict[str, str]) -> gpd.GeoDataFrame:
    """Build a frame with exactly the schema's columns and dtypes, even when empty."""
    data = {column: pd.Series([row[column] for row in rows], dtype=dtype) for column, dtype in schema.items()}
    geometry = gpd.GeoSeries([row["geometry"] for row in rows], crs=CRS)
    return gpd.GeoDataFrame(data, geometry=geometry, crs=CRS)


def _inside(frame: gpd.GeoDataFrame, boundary: BaseGeometry, *, lines: bool) -> gpd.GeoDataFrame:
    geoms = frame.geometry.values
    keep = shapely.intersects(boundary, geoms) if lines else shapely.covers(boundary, shapely.point_on_surface(geoms))
    return frame[keep].reset_index(drop=True)
