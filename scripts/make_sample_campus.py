"""Generate the sample campus in geodata/cau-east/ from the CAU Beijing OpenStreetMap extract.

Real (OSM, ODbL): buildings, paths and parking lots, read with ``read_osm``.
Generated here, because OSM does not have them: fire lanes, residents,
chargers, checkpoints, grid zones with their officers, duty posts and three
months of parking violations.  Everything generated lies on the campus (the
``amenity=university`` area named like the campus); the neighbours in the
extract (a research institute, another university, city roads) keep only
their OSM features.

One seeded generator drives every random choice and nothing depends on the
clock, so two runs write byte-identical files::

    .venv/bin/python scripts/make_sample_campus.py [--osm PATH] [--out DIR]
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import math
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import shapely.ops
import shapely.prepared
from shapely.geometry import LineString, Point, Polygon, mapping
from shapely.geometry.base import BaseGeometry

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a plain script from a checkout

from patrolmap.geo.osm import read_osm  # noqa: E402

SEED = 20261123
DEFAULT_OSM = ROOT / "tests" / "data" / "osm" / "cau_beijing.osm"
DEFAULT_OUT = ROOT / "geodata" / "cau-east"
CAMPUS = {
    "slug": "cau-east",
    "name": "中国农业大学东校区",
    "university": "中国农业大学",
    "timezone": "Asia/Shanghai",
    "attribution": "© OpenStreetMap contributors (ODbL)",
}
TZ = ZoneInfo(CAMPUS["timezone"])
FIRST_DAY, LAST_DAY = dt.date(2026, 9, 1), dt.date(2026, 11, 30)
HOLIDAYS = {dt.date(2026, 10, 1) + dt.timedelta(days=n) for n in range(7)}  # 国庆 week: campus half empty
DECIMALS = 7

FIRE_LANE_REACH_M = 25.0  # roads this close to where people sleep, eat or study must stay clear
FIRE_LANE_BUILDINGS = ("dorm", "staff_apartment", "canteen", "teaching", "lab")
CAR_M2 = 25.0  # a bay plus its share of the aisle
PEAKS = ((7 * 60, 9 * 60), (11 * 60 + 30, 13 * 60), (17 * 60, 19 * 60))  # minutes of the day
PEAK_HOURS = "07:00-09:00,11:30-13:00,17:00-19:00"
VIOLATIONS_TARGET = 6000
CURB_OFFSET_M = (1.2, 2.6)  # parked cars stand this far from the centre line
BUILDING_CLEARANCE_M = 1.0  # keep every generated point this far out of any footprint
LOT_MARGIN_M = 2.0  # and cars in a lot this far inside its outline

OFFICERS = ("王建国", "李秀梅", "张志强", "刘晓燕", "陈立军", "杨丽华")
MORNING_SHIFT = ("赵海涛", "孙丽", "周明")
EVENING_SHIFT = ("吴刚", "郑晓东", "周明")  # 周明 covers the hand-over
ORDINALS = "一二三四五六七八九十"
DIRECTIONS = ("东", "东北", "北", "西北", "西", "西南", "南", "东南")
CAR_OPERATORS = ("国家电网", "特来电", "星星充电")
EBIKE_OPERATORS = ("后勤保障处", "小绿人充电")


# --- data --------------------------------------------------------------------


@dataclass
class Sample:
    """Every layer of the sample campus, in a metric CRS until written."""

    buildings: gpd.GeoDataFrame
    paths: gpd.GeoDataFrame
    lots: gpd.GeoDataFrame
    chargers: gpd.GeoDataFrame
    checkpoints: gpd.GeoDataFrame
    zones: gpd.GeoDataFrame
    posts: gpd.GeoDataFrame
    violations: gpd.GeoDataFrame


def frame(rows: list[dict[str, Any]], crs: Any) -> gpd.GeoDataFrame:
    """Build a frame from rows that each carry an ``id`` and a ``geometry``."""
    return gpd.GeoDataFrame(pd.DataFrame(rows), geometry="geometry", crs=crs)


def label(name: Any, fallback: str) -> str:
    """Return an OSM name, or a fallback for the many unnamed features."""
    return name if isinstance(name, str) and name else fallback


def direction(vector: tuple[float, float]) -> str:
    """Name the compass direction of a vector (x east, y north) in Chinese."""
    angle = math.degrees(math.atan2(vector[1], vector[0])) % 360
    return DIRECTIONS[round(angle / 45) % 8]


def side_of(geom: BaseGeometry, centre: Point) -> str:
    """Name the side of the campus a feature lies on."""
    here = geom.centroid
    return direction((here.x - centre.x, here.y - centre.y))


def ordinal(n: int) -> str:
    """Return 一, 二, ... for 1, 2, ... (enough for a campus)."""
    return ORDINALS[n - 1] if n <= len(ORDINALS) else str(n)


# --- what is real ------------------------------------------------------------


def campus_area(universities: gpd.GeoDataFrame) -> BaseGeometry:
    """Pick the campus's own university area; the extract also holds its neighbours."""
    named = universities[universities["name"] == CAMPUS["name"]]
    chosen = named if len(named) else universities.loc[[universities.to_crs(3857).area.idxmax()]]
    return chosen.geometry.iloc[0]


def add_residents(buildings: gpd.GeoDataFrame, rng: np.random.Generator) -> gpd.GeoDataFrame:
    """Estimate residents from floor area: OSM has none, and charger demand needs them."""
    floors = buildings["floors"].astype("Float64").fillna(6.0).to_numpy(dtype=float)  # a typical dorm
    floor_area = buildings.area.to_numpy() * floors
    jitter = rng.uniform(0.92, 1.08, len(buildings))
    dorm = np.clip(floor_area / 25.0 * jitter, 400, 1200)  # 4 students to a 25 m² room, gross
    staff = np.clip(floor_area / 45.0 * jitter, 80, 600)  # families in flats
    estimate = np.where(buildings["kind"] == "dorm", dorm, staff)
    housing = buildings["kind"].isin(["dorm", "staff_apartment"]) & buildings["residents"].isna()
    buildings = buildings.copy()
    buildings.loc[housing, "residents"] = (np.round(estimate[housing.to_numpy()] / 10) * 10).astype(int)
    return buildings


def campus_roads(paths: gpd.GeoDataFrame, area: BaseGeometry) -> pd.Index:
    """Return the road/service segments that mostly lie on campus (city roads are not ours)."""
    drivable = paths[paths["kind"].isin(["road", "service"])]
    inside = drivable.intersection(area).length / drivable.length
    return inside[inside >= 0.5].index


def designate_fire_lanes(
    paths: gpd.GeoDataFrame, buildings: gpd.GeoDataFrame, area: BaseGeometry,
) -> gpd.GeoDataFrame:
    """Mark campus roads near dorms, canteens, teaching buildings and labs as fire lanes (OSM tags none)."""
    guarded = buildings[buildings["kind"].isin(FIRE_LANE_BUILDINGS)].geometry.union_all()
    roads = campus_roads(paths, area)
    near = paths.loc[roads].distance(guarded) <= FIRE_LANE_REACH_M
    paths = paths.copy()
    paths.loc[near[near].index, "fire_lane"] = True
    return paths


def estimate_capacity(lots: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Fill missing lot capacities from the lot's area; a point lot has no area to go by."""
    lots = lots.copy()
    area = lots.area
    missing = lots["capacity"].isna() & (area > 0)
    lots.loc[missing, "capacity"] = np.maximum(1, np.round(area[missing] / CAR_M2)).astype(int)
    return lots


def on_campus(frame: gpd.GeoDataFrame, area: BaseGeometry) -> gpd.GeoDataFrame:
    """Keep the features whose representative point is on campus."""
    return frame[frame.representative_point().within(area)]


# --- checkpoints -------------------------------------------------------------


def gate_points(drivable: gpd.GeoSeries, area: BaseGeometry, *, merge_m: float = 40.0) -> list[Point]:
    """Place gates where roads cross the campus boundary or end on it.

    The CAU extract maps its gates as unnamed barrier nodes, which ``read_osm``
    does not keep (a checkpoint needs a name); four of them lie within 10 m of
    the points found here.
    """
    fence = area.exterior
    found: list[Point] = []
    for line in drivable:
        ends = [Point(line.coords[0]), Point(line.coords[-1])]
        candidates = [*shapely.get_parts(line.intersection(fence)), *(e for e in ends if e.distance(fence) <= 5.0)]
        for point in candidates:
            if isinstance(point, Point) and all(point.distance(p) > merge_m for p in found):
                found.append(fence.interpolate(fence.project(point)))
    return found


def name_gates(points: Sequence[Point], centre: Point, osm_names: Iterable[str]) -> list[str]:
    """Name gates by their direction from the campus centre (北门, 北二门, ...)."""
    seen: dict[str, int] = {}
    taken = set(osm_names)
    names = []
    for point in points:
        side = direction((point.x - centre.x, point.y - centre.y))
        seen[side] = seen.get(side, 0) + 1
        name = f"{side}门" if seen[side] == 1 else f"{side}{ordinal(seen[side])}门"
        while name in taken:
            seen[side] += 1
            name = f"{side}{ordinal(seen[side])}门"
        taken.add(name)
        names.append(name)
    return names


CHECKPOINT_KIND = {
    "dorm": "dorm", "staff_apartment": "dorm", "canteen": "canteen", "lab": "lab", "library": "other",
    "teaching": "teaching",
}


def make_checkpoints(
    osm_checkpoints: gpd.GeoDataFrame, buildings: gpd.GeoDataFrame, paths: gpd.GeoDataFrame, area: BaseGeometry,
) -> gpd.GeoDataFrame:
    """Gates (OSM's on campus, else at road crossings) and the doors of dorms, canteens, labs and libraries."""
    rows: list[dict[str, Any]] = []
    osm_gates = osm_checkpoints[osm_checkpoints.distance(area) <= 30]
    for row in osm_gates.itertuples():
        rows.append({"id": row.source_id, "name": row.name, "kind": "gate", "geometry": row.geometry})
    mapped = osm_gates.geometry.union_all()
    drivable = paths.geometry[paths["kind"].isin(["road", "service"])]
    points = [p for p in gate_points(drivable, area) if mapped.is_empty or p.distance(mapped) > 40]
    for point, name in zip(points, name_gates(points, area.centroid, osm_gates["name"]), strict=True):
        rows.append({"name": name, "kind": "gate", "geometry": point})
    network = paths.geometry.union_all()
    named = on_campus(buildings[buildings["kind"].isin(list(CHECKPOINT_KIND)) & buildings["name"].notna()], area)
    names: set[str] = {row["name"] for row in rows}
    for building in named.sort_values(["kind", "source_id"]).itertuples():
        name = f"{building.name}门口"
        if name in names:
            continue  # checkpoint names must tell them apart: the second 教学楼 gets none
        names.add(name)
        door = shapely.ops.nearest_points(network, building.geometry)[0]
        rows.append({"name": name, "kind": CHECKPOINT_KIND[building.kind], "geometry": door})
    for n, row in enumerate(rows, 1):
        row.setdefault("id", f"gen:checkpoint/{n}")
    return frame(rows, paths.crs)


# --- chargers ----------------------------------------------------------------


def ring_points(geom: BaseGeometry, count: int, rng: np.random.Generator, *, offset: float) -> list[Point]:
    """Spread points along a polygon's outline pushed ``offset`` metres out (or in, when negative)."""
    grown = geom.buffer(offset, join_style="mitre")
    parts = [part for part in shapely.get_parts(grown) if isinstance(part, Polygon)]
    ring = max(parts, key=lambda part: part.area).exterior if parts else geom.exterior  # a lot too thin to shrink
    start = rng.uniform(0, 1)
    return [ring.interpolate(((start + k / count) % 1.0), normalized=True) for k in range(count)]


def make_chargers(
    lots: gpd.GeoDataFrame, buildings: gpd.GeoDataFrame, area: BaseGeometry, rng: np.random.Generator,
) -> gpd.GeoDataFrame:
    """Car chargers in the campus lots, e-bike chargers by the dorms, and a few planned sites."""
    blocked = buildings.geometry.buffer(BUILDING_CLEARANCE_M).union_all()
    centre = area.centroid
    rows: list[dict[str, Any]] = []
    campus_lots = on_campus(lots[lots.area > 0], area).assign(size=lambda f: f.area)
    campus_lots = campus_lots.sort_values(["size", "source_id"], ascending=[False, True])
    lot_names = {row.source_id: label(row.name, f"{side_of(row.geometry, centre)}区停车场")
                 for row in campus_lots.itertuples()}
    shares = (np.array([2, 2, 1, 1]) if len(campus_lots) >= 4 else np.full(len(campus_lots), 2))[:len(campus_lots)]
    for lot, count in zip(campus_lots.itertuples(), shares, strict=True):
        for k, point in enumerate(ring_points(lot.geometry, int(count), rng, offset=-3.0), 1):
            fast = rng.uniform() < 0.35
            rows.append({
                "name": f"{lot_names[lot.source_id]}充电桩{k}", "kind": "car", "status": "existing",
                "ports": int(rng.integers(2, 5) if fast else rng.integers(4, 9)), "power_kw": 60.0 if fast else 7.0,
                "operator": CAR_OPERATORS[int(rng.integers(len(CAR_OPERATORS)))], "geometry": point,
            })
    dorms = on_campus(buildings[buildings["kind"].isin(["dorm", "staff_apartment"])], area)
    dorms = dorms.sort_values(["residents", "source_id"], ascending=[False, True])
    per_dorm = np.maximum(1, np.round(10 * dorms["residents"] / dorms["residents"].sum())).astype(int)
    for dorm, count in zip(dorms.itertuples(), per_dorm, strict=True):
        points = [p for p in ring_points(dorm.geometry, int(count), rng, offset=6.0) if not blocked.contains(p)]
        for k, point in enumerate(points, 1):
            rows.append({
                "name": f"{label(dorm.name, '宿舍楼')}电动自行车充电桩{k}", "kind": "ebike", "status": "existing",
                "ports": int(rng.integers(10, 21)), "power_kw": float(rng.choice([0.5, 0.8, 1.0])),
                "operator": EBIKE_OPERATORS[int(rng.integers(len(EBIKE_OPERATORS)))], "geometry": point,
            })
    rows += planned_chargers(campus_lots, lot_names, buildings, area, blocked, rng)
    for n, row in enumerate(rows, 1):
        row["id"] = f"gen:charger/{n}"
    return frame(rows, lots.crs)


def planned_chargers(
    campus_lots: gpd.GeoDataFrame, lot_names: dict[str, str], buildings: gpd.GeoDataFrame,
    area: BaseGeometry, blocked: BaseGeometry, rng: np.random.Generator,
) -> list[dict[str, Any]]:
    """Planned sites: fast chargers in the two largest lots, e-bike chargers where students study."""
    rows: list[dict[str, Any]] = []
    for lot in campus_lots.head(2).itertuples():
        point = ring_points(lot.geometry, 1, rng, offset=-4.0)[0]
        rows.append({"name": f"{lot_names[lot.source_id]}快充站(规划)", "kind": "car", "status": "planned",
                     "ports": 4, "power_kw": 120.0, "operator": CAR_OPERATORS[0], "geometry": point})
    study = on_campus(buildings[buildings["kind"].isin(["library", "teaching"]) & buildings["name"].notna()], area)
    study = study.assign(size=study.area).sort_values(["size", "source_id"], ascending=[False, True])
    for building in study.head(2).itertuples():
        points = [p for p in ring_points(building.geometry, 4, rng, offset=6.0) if not blocked.contains(p)]
        rows.append({"name": f"{building.name}电动自行车充电桩(规划)", "kind": "ebike", "status": "planned",
                     "ports": 20, "power_kw": 1.0, "operator": EBIKE_OPERATORS[0], "geometry": points[0]})
    return rows


# --- grid zones --------------------------------------------------------------


def kmeans(points: np.ndarray, k: int, *, iterations: int = 50) -> np.ndarray:
    """Cluster points into k groups; farthest-point seeding keeps it deterministic without a library."""
    centres = [points[np.argmax(points[:, 1])]]  # start in the north: 第一网格 is the northernmost
    while len(centres) < k:
        gaps = np.min([np.linalg.norm(points - c, axis=1) for c in centres], axis=0)
        centres.append(points[np.argmax(gaps)])
    centre_array = np.array(centres, dtype=float)
    labels = np.zeros(len(points), dtype=int)
    for _ in range(iterations):
        labels = np.argmin(np.linalg.norm(points[:, None, :] - centre_array[None], axis=2), axis=1)
        moved = np.array([points[labels == j].mean(axis=0) if (labels == j).any() else centre_array[j]
                          for j in range(k)])
        if np.allclose(moved, centre_array):
            break
        centre_array = moved
    return labels


def make_zones(buildings: gpd.GeoDataFrame, area: BaseGeometry, rng: np.random.Generator) -> gpd.GeoDataFrame:
    """Split the dorms and staff apartments into officer-sized cells (分片包干) that do not overlap."""
    homes = on_campus(buildings[buildings["kind"].isin(["dorm", "staff_apartment"])], area)
    count = len(homes)
    k = min(6, max(1, round(math.sqrt(2 * count))))  # 4 homes -> 3 cells, 18 or more -> 6
    points = np.column_stack([homes.centroid.x, homes.centroid.y])
    labels = kmeans(points, k)
    order = sorted(range(k), key=lambda j: (-points[labels == j, 1].max(), points[labels == j, 0].min()))
    taken: BaseGeometry = Polygon()
    rows = []
    officers = rng.permutation(len(OFFICERS))
    for n, j in enumerate(order, 1):
        mine = homes.geometry[labels == j]
        others = homes.geometry[labels != j].buffer(5.0).union_all() if k > 1 else Polygon()
        hull = mine.union_all().buffer(20.0).convex_hull.buffer(10.0)
        cell = hull.intersection(area).difference(others).difference(taken)
        cell = max(shapely.get_parts(shapely.make_valid(cell)), key=lambda g: g.area)  # one polygon per cell
        taken = taken.union(cell)
        rows.append({
            "id": f"gen:grid-zone/{n}", "name": f"第{ordinal(n)}网格",
            "officer": OFFICERS[officers[n - 1]], "officer_phone": f"1380000{n:04d}", "geometry": cell,
        })
    return frame(rows, buildings.crs)


# --- duty posts --------------------------------------------------------------


def main_intersection(roads: gpd.GeoSeries, near: Point) -> Point:
    """Return the campus road junction where most segments meet, the one nearest ``near`` on ties."""
    degree: dict[tuple[float, float], int] = {}
    for line in roads:
        coords = [tuple(np.round(c, 1)) for c in line.coords]
        for i, xy in enumerate(coords):
            degree[xy] = degree.get(xy, 0) + (1 if i in (0, len(coords) - 1) else 2)
    best = max(degree.items(), key=lambda item: (item[1], -Point(item[0]).distance(near)))
    return Point(best[0])


def make_duty_posts(
    buildings: gpd.GeoDataFrame, roads: gpd.GeoSeries, area: BaseGeometry, *, spacing_m: float = 150.0,
) -> gpd.GeoDataFrame:
    """Peak-hour posts at the biggest canteens and teaching buildings, and at the main junction."""
    busy = on_campus(buildings[buildings["kind"].isin(["canteen", "teaching"]) & buildings["name"].notna()], area)
    busy = busy.assign(rank=(busy["kind"] != "canteen"), size=busy.area)
    busy = busy.sort_values(["rank", "size", "source_id"], ascending=[True, False, True])
    network = roads.union_all()
    rows: list[dict[str, Any]] = []
    for building in busy.itertuples():
        spot = shapely.ops.nearest_points(network, building.geometry)[0]
        if all(spot.distance(row["geometry"]) > spacing_m for row in rows):  # one post per crowd
            rows.append({"name": f"{building.name}执勤岗", "hours": PEAK_HOURS, "geometry": spot})
        if len(rows) == 3:
            break
    junction = main_intersection(roads, busy.geometry.union_all().centroid)
    rows.append({"name": "校内主路口执勤岗", "hours": "07:00-09:00,17:00-19:00", "geometry": junction})
    for n, row in enumerate(rows, 1):
        row["id"] = f"gen:duty-post/{n}"
    return frame(rows, buildings.crs)


# --- violations --------------------------------------------------------------


@dataclass
class Spots:
    """Where a car can stand illegally: along campus roads, or in a campus lot."""

    lines: np.ndarray  # one LineString per spot
    along: np.ndarray  # metres along the line (NaN for lot spots)
    points: np.ndarray  # lot spots: their point; road spots: the centre-line point
    fire_lane: np.ndarray
    in_lot: np.ndarray
    entrance_m: np.ndarray  # distance to the nearest gate or building door
    weights: dict[str, np.ndarray]  # probability of each spot, per time window


def spots(
    paths: gpd.GeoDataFrame, roads: pd.Index, lots: gpd.GeoDataFrame, buildings: gpd.GeoDataFrame,
    entrances: gpd.GeoDataFrame, area: BaseGeometry, rng: np.random.Generator, *, step: float = 2.0,
) -> Spots:
    """Sample candidate spots every ``step`` metres of campus road and inside lots, weighted per time window."""
    lines, along, fire = [], [], []
    for row in paths.loc[roads].itertuples():
        for piece in shapely.get_parts(row.geometry.intersection(area)):
            if isinstance(piece, LineString) and piece.length > 2 * step:
                ds = np.arange(step / 2, piece.length, step)
                lines += [piece] * len(ds)
                along += list(ds)
                fire += [bool(row.fire_lane)] * len(ds)
    road_points = shapely.line_interpolate_point(np.array(lines, dtype=object), np.array(along))
    lot_geoms = on_campus(lots[lots.area > 0], area).geometry.buffer(-LOT_MARGIN_M)
    lot_points = []
    for lot in lot_geoms:
        x0, y0, x1, y1 = lot.bounds
        xy = rng.uniform([x0, y0], [x1, y1], size=(max(20, int(lot.area / 8)), 2))
        lot_points += [p for p in shapely.points(xy) if lot.contains(p)]
    points = np.concatenate([road_points, np.array(lot_points, dtype=object)])
    in_lot = np.r_[np.zeros(len(road_points), bool), np.ones(len(lot_points), bool)]
    campus_buildings = on_campus(buildings, area)
    canteen, teach, home = (attraction(points, campus_buildings[campus_buildings["kind"].isin(kinds)])
                            for kinds in (("canteen",), ("teaching", "library", "lab"), ("dorm", "staff_apartment")))
    lot_share = np.where(in_lot, 0.12 / max(in_lot.sum(), 1), 0.88 / max((~in_lot).sum(), 1))
    weights = {
        "morning": 0.1 + teach,
        "noon": 0.1 + 2 * canteen + teach,
        "evening": 0.1 + 1.5 * canteen + home + 0.5 * teach,
        "other": 1 + 0.3 * home,
    }
    return Spots(
        lines=np.concatenate([np.array(lines, dtype=object), np.full(len(lot_points), None)]),
        along=np.r_[np.array(along), np.full(len(lot_points), np.nan)],
        points=points,
        fire_lane=np.r_[np.array(fire, bool), np.zeros(len(lot_points), bool)],
        in_lot=in_lot,
        entrance_m=distances(points, entrances),
        weights={k: w * lot_share / (w * lot_share).sum() for k, w in weights.items()},
    )


def attraction(points: np.ndarray, targets: gpd.GeoDataFrame, *, reach_m: float = 35.0) -> np.ndarray:
    """How strongly buildings draw cars to each point: nearer and bigger draws more."""
    if targets.empty:
        return np.zeros(len(points))
    gaps = shapely.distance(points[:, None], targets.geometry.to_numpy()[None, :])
    size = targets.area.to_numpy() / targets.area.mean()
    return (np.exp(-gaps / reach_m) * size).sum(axis=1)


def distances(points: np.ndarray, targets: gpd.GeoDataFrame) -> np.ndarray:
    """Distance from each point to the nearest target, or a large number when there is none."""
    if targets.empty:
        return np.full(len(points), 1e6)
    return shapely.distance(points, targets.geometry.union_all())


def minute_profile(*, weekend: bool) -> np.ndarray:
    """Violations per minute of the day: three rush hours on a low background, fainter at weekends."""
    hours = np.arange(24 * 60) / 60
    base = np.select([hours < 6, hours < 7, hours < 22], [0.04, 0.3, 0.6], 0.15)
    rush = sum(height * np.exp(-0.5 * ((hours - mid) / width) ** 2)
               for mid, width, height in ((8.0, 0.45, 5.0), (12.2, 0.4, 5.5), (18.0, 0.5, 4.5)))
    profile = base + (0.25 if weekend else 1.0) * rush
    return profile / profile.sum()


def day_factor(day: dt.date) -> float:
    """How busy a day is: weekdays in term, quiet weekends and National Day, a crowded first week."""
    if day in HOLIDAYS:
        return 0.3
    factor = 0.4 if day.weekday() >= 5 else 1.0
    return factor * (1.5 if day < FIRST_DAY + dt.timedelta(days=7) else 1.0)  # freshmen arrive by car


def window(minute: int) -> str:
    """Name the time window a minute of the day falls in."""
    for name, (start, end) in zip(("morning", "noon", "evening"), PEAKS, strict=True):
        if start <= minute < end:
            return name
    return "other"


def sample_times(total: int, rng: np.random.Generator) -> list[dt.datetime]:
    """Draw about ``total`` campus-local times over the period, in order."""
    days = [FIRST_DAY + dt.timedelta(days=n) for n in range((LAST_DAY - FIRST_DAY).days + 1)]
    factors = np.array([day_factor(d) for d in days])
    counts = rng.poisson(total * factors / factors.sum())
    profiles = {weekend: minute_profile(weekend=weekend) for weekend in (False, True)}
    times = []
    for day, count in zip(days, counts, strict=True):
        profile = profiles[day.weekday() >= 5 or day in HOLIDAYS]
        for minute in np.sort(rng.choice(24 * 60, size=count, p=profile)):
            start = dt.datetime.combine(day, dt.time(), TZ)
            times.append(start + dt.timedelta(minutes=int(minute), seconds=int(rng.integers(60))))
    return times


def place(spot_ids: np.ndarray, spot: Spots, rng: np.random.Generator) -> np.ndarray:
    """Turn spots into points: beside the centre line at curb distance, or where the lot spot is."""
    result = spot.points[spot_ids].copy()
    on_road = ~spot.in_lot[spot_ids]
    ids = spot_ids[on_road]
    lines = spot.lines[ids]
    along = spot.along[ids] + rng.uniform(-0.8, 0.8, len(ids))
    along = np.clip(along, 0.3, shapely.length(lines) - 0.3)
    a = shapely.get_coordinates(shapely.line_interpolate_point(lines, along - 0.25))
    b = shapely.get_coordinates(shapely.line_interpolate_point(lines, along + 0.25))
    mid = (a + b) / 2
    tangent = (b - a) / np.linalg.norm(b - a, axis=1)[:, None]
    normal = np.column_stack([-tangent[:, 1], tangent[:, 0]])
    side = rng.choice([-1.0, 1.0], len(ids)) * rng.uniform(*CURB_OFFSET_M, len(ids))
    result[on_road] = shapely.points(mid + normal * side[:, None])
    return result


def plate_pool(size: int, rng: np.random.Generator) -> list[str]:
    """Make distinct plates: mostly Beijing, some from Hebei and beyond, a tenth new-energy ones."""
    letters = "ABCDEFGHJKLMNPQRSTUVWXYZ"  # no I or O on Chinese plates
    provinces = (("京", "ABCEFGHJKLMNPQ", 0.8), ("冀", "ABCDEFGHJR", 0.11), ("津", "ABCDEFGH", 0.03),
                 ("鲁", "ABCDEFGH", 0.02), ("晋", "ABCDEFGH", 0.02), ("豫", "ABCDEFGH", 0.02))
    shares = np.array([p[2] for p in provinces])
    plates: dict[str, None] = {}
    while len(plates) < size:
        province, cities, _ = provinces[rng.choice(len(provinces), p=shares / shares.sum())]
        city = cities[rng.integers(len(cities))]
        kind = rng.uniform()
        if kind < 0.1:
            tail = "DF"[int(rng.uniform() < 0.3)] + "".join(str(d) for d in rng.integers(0, 10, 5))
        else:
            chars = [str(d) for d in rng.integers(0, 10, 5)]
            if kind > 0.75:  # plates with a letter among the digits
                chars[int(rng.integers(1, 5))] = letters[rng.integers(len(letters))]
            tail = "".join(chars)
        plates[f"{province}{city}{tail}"] = None
    return list(plates)


NOTES = {
    "fire_lane": ("占用消防通道，已电话通知车主挪车", "堵塞消防通道，贴违停告知单", "车主未接电话，联系值班室"),
    "entrance": ("堵塞楼门出入口", "停在门岗道闸前，影响通行", "已劝离"),
    "no_parking": ("禁停区域停车，已贴告知单", "车主当场驶离", "多次违停，已登记"),
    "other": ("占用充电车位", "跨线停车，占两个车位", "逆向停放"),
}


def choose_kind(spot: Spots, ids: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Pick a kind from where the car stands: entrances, fire lanes, lots, or plain no-parking zones."""
    roll = rng.uniform(size=len(ids))
    entrance = spot.entrance_m[ids] <= 20.0
    kinds = np.where(roll < 0.88, "no_parking", "other").astype(object)
    kinds[spot.fire_lane[ids] & (roll < 0.3)] = "fire_lane"
    kinds[entrance & (roll < 0.6)] = "entrance"
    kinds[spot.in_lot[ids]] = np.where(roll[spot.in_lot[ids]] < 0.55, "other", "no_parking")
    return kinds


def choose_status(times: Sequence[dt.datetime], kinds: np.ndarray, rng: np.random.Generator) -> list[str]:
    """Old cases are mostly closed; the last fortnight is still being worked on."""
    statuses = []
    cutoff = LAST_DAY - dt.timedelta(days=14)
    for when, kind in zip(times, kinds, strict=True):
        if when.date() < cutoff:
            options, p = ("resolved", "notified", "open", "towed", "void"), (0.72, 0.14, 0.05, 0.05, 0.04)
        else:
            options, p = ("open", "notified", "resolved", "towed", "void"), (0.35, 0.33, 0.25, 0.03, 0.04)
        if kind == "fire_lane":  # fire lanes are cleared, by tow truck if need be
            p = tuple(q * 2 if o == "towed" else q for o, q in zip(options, p, strict=True))
        statuses.append(str(rng.choice(options, p=np.array(p) / sum(p))))
    return statuses


def make_violations(
    paths: gpd.GeoDataFrame, roads: pd.Index, lots: gpd.GeoDataFrame, buildings: gpd.GeoDataFrame,
    entrances: gpd.GeoDataFrame, area: BaseGeometry, rng: np.random.Generator,
) -> gpd.GeoDataFrame:
    """Three months of violations: rush-hour clusters near canteens and classrooms, plus zombie cars."""
    spot = spots(paths, roads, lots, buildings, entrances, area, rng)
    blocked = shapely.prepared.prep(buildings.geometry.buffer(BUILDING_CLEARANCE_M).union_all())
    zombies = zombie_sightings(spot, blocked, rng)
    times = sample_times(VIOLATIONS_TARGET - len(zombies), rng)
    windows = np.array([window(t.hour * 60 + t.minute) for t in times])
    ids = np.zeros(len(times), dtype=int)
    for name in ("morning", "noon", "evening", "other"):
        mask = windows == name
        ids[mask] = rng.choice(len(spot.points), size=int(mask.sum()), p=spot.weights[name])
    points = place(ids, spot, rng)
    while (bad := np.array([blocked.contains(p) for p in points])).any():  # a road passing under a building
        ids[bad] = rng.choice(len(spot.points), size=int(bad.sum()), p=spot.weights["other"])
        points[bad] = place(ids[bad], spot, rng)
    kinds = choose_kind(spot, ids, rng)
    pool = plate_pool(3000, rng)
    habit = 1.0 / (np.arange(len(pool)) + 50.0)  # regulars with a few dozen tickets, a long tail of one-timers
    plates = [pool[i] for i in rng.choice(len(pool), size=len(times), p=habit / habit.sum())]
    plates = ["无牌" if rng.uniform() < 0.015 else plate for plate in plates]
    statuses = choose_status(times, kinds, rng)
    notes = [NOTES[k][int(rng.integers(3))] if rng.uniform() < 0.08 else None for k in kinds]
    reporters = [shift_reporter(t, rng) for t in times]
    rows = [
        {"observed_at": t, "kind": str(k), "plate": p, "status": s, "note": n, "reporter": r, "geometry": g}
        for t, k, p, s, n, r, g in zip(times, kinds, plates, statuses, notes, reporters, points, strict=True)
    ] + zombies
    rows.sort(key=lambda row: (row["observed_at"], row["plate"]))
    for n, row in enumerate(rows, 1):
        row["id"] = f"gen:violation/{n}"
    return frame(rows, paths.crs)


def shift_reporter(when: dt.datetime, rng: np.random.Generator) -> str:
    """Return a staff member on duty then: an early shift until 14:00, a late one after."""
    crew = MORNING_SHIFT if 6 <= when.hour < 14 else EVENING_SHIFT
    return crew[int(rng.integers(len(crew)))]


class Zombie(NamedTuple):
    """An abandoned car: where it stands, how its case ends, and what staff wrote first and last."""

    plate: str
    in_lot: bool
    final: str
    first_note: str
    last_note: str


ZOMBIES = (
    Zombie("冀R3K072", False, "towed", "长期停放，车身积灰，轮胎亏气", "多次通知无果，联系交管部门拖移"),
    Zombie("京N5C219", False, "notified", "长期停放，已张贴限期挪车通知", "已联系车主，承诺月底前挪走"),
    Zombie("京AD17350", True, "notified", "新能源车长期停放，占用停车位", "车主电话无人接听，继续跟踪"),
)


def zombie_sightings(spot: Spots, blocked: Any, rng: np.random.Generator) -> list[dict[str, Any]]:
    """Abandoned cars seen again and again at the same place over the whole term, until moved."""
    rows: list[dict[str, Any]] = []
    quiet = spot.weights["other"] * (spot.entrance_m > 30) * ~spot.fire_lane  # out of the way
    days = (LAST_DAY - FIRST_DAY).days + 1
    for zombie in ZOMBIES:
        chosen = np.flatnonzero(spot.in_lot == zombie.in_lot)
        p = quiet[chosen] / quiet[chosen].sum()
        while True:
            home = place(np.array([rng.choice(chosen, p=p)]), spot, rng)[0]
            if not blocked.contains(home):
                break
        seen = np.sort(rng.choice(np.arange(int(rng.integers(3, 10)), days), size=int(rng.integers(16, 26)),
                                  replace=False))
        if zombie.final == "towed":
            seen = seen[seen < days - 10]  # gone for the last ten days
        for i, offset in enumerate(seen):
            day = FIRST_DAY + dt.timedelta(days=int(offset))
            minute = int(rng.choice([rng.integers(9 * 60, 11 * 60), rng.integers(14 * 60, 16 * 60 + 30)]))
            jitter = rng.normal(0, 0.3, 2).clip(-0.5, 0.5)  # parked a little differently after each wash
            status = "open" if i == 0 else ("notified" if i < len(seen) - 1 else zombie.final)
            rows.append({
                "observed_at": dt.datetime.combine(day, dt.time(), TZ) + dt.timedelta(minutes=minute),
                "kind": "zombie", "plate": zombie.plate, "status": status,
                "note": {0: zombie.first_note, len(seen) - 1: zombie.last_note}.get(i),
                "reporter": shift_reporter(dt.datetime.combine(day, dt.time(minute // 60)), rng),
                "geometry": Point(home.x + jitter[0], home.y + jitter[1]),
            })
    return rows


# --- building it all ---------------------------------------------------------


def build(osm: Path, rng: np.random.Generator) -> Sample:
    """Read the extract and generate every layer, working in metres."""
    extract = read_osm(osm)
    layers = extract.layers
    crs = layers["buildings"].estimate_utm_crs()
    metric = {name: layer.to_crs(crs) for name, layer in layers.items()}
    area = gpd.GeoSeries([campus_area(extract.universities)], crs=layers["buildings"].crs).to_crs(crs).iloc[0]
    buildings = add_residents(metric["buildings"], rng)
    paths = designate_fire_lanes(metric["paths"], buildings, area)
    lots = estimate_capacity(metric["parking-lots"])
    roads_index = campus_roads(paths, area)
    roads = paths.geometry.loc[roads_index]
    checkpoints = make_checkpoints(metric["checkpoints"], buildings, paths, area)
    chargers = make_chargers(lots, buildings, area, rng)
    zones = make_zones(buildings, area, rng)
    posts = make_duty_posts(buildings, roads, area)
    violations = make_violations(paths, roads_index, lots, buildings, checkpoints, area, rng)
    return Sample(buildings, paths, lots, chargers, checkpoints, zones, posts, violations)


# --- writing -----------------------------------------------------------------


def rounded(geom: BaseGeometry) -> dict[str, Any]:
    """GeoJSON geometry on a 1e-7 degree grid (about 1 cm), still valid after the snap."""
    snapped = shapely.set_precision(geom, 10.0 ** -DECIMALS)
    return mapping(shapely.transform(snapped, lambda xy: np.round(xy, DECIMALS)))


def plain(value: Any) -> Any:
    """Return a JSON-ready Python value, or None for any kind of missing."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, np.generic):
        return value.item()
    return value


def write_geojson(layer: gpd.GeoDataFrame, fields: Sequence[str], path: Path) -> None:
    """Write one feature per line, properties sorted, nulls left out: small diffs, stable bytes."""
    wgs84 = layer.to_crs(4326)
    id_column = "id" if "id" in wgs84.columns else "source_id"
    lines = []
    for record in wgs84.to_dict("records"):
        properties = {f: plain(record.get(f)) for f in sorted(fields)}
        feature = {
            "type": "Feature", "id": record[id_column], "geometry": rounded(record["geometry"]),
            "properties": {k: v for k, v in properties.items() if v is not None},
        }
        lines.append(json.dumps(feature, ensure_ascii=False, separators=(",", ":")))
    body = ",\n".join(lines)
    path.write_text(f'{{"type":"FeatureCollection","features":[\n{body}\n]}}\n', encoding="utf-8")


def write_violations(violations: gpd.GeoDataFrame, path: Path) -> None:
    """Write violations as the CSV traffic staff exchange, times with the campus's +08:00 offset."""
    wgs84 = violations.to_crs(4326)
    with path.open("w", encoding="utf-8", newline="") as stream:
        writer = csv.writer(stream, lineterminator="\n")
        writer.writerow(["id", "lon", "lat", "observed_at", "kind", "plate", "status", "note", "reporter"])
        for row in wgs84.itertuples():
            writer.writerow([
                row.id, f"{row.geometry.x:.{DECIMALS}f}", f"{row.geometry.y:.{DECIMALS}f}",
                row.observed_at.isoformat(), row.kind, row.plate, row.status, plain(row.note) or "", row.reporter,
            ])


def write(sample: Sample, out: Path, osm: Path) -> dict[str, int]:
    """Write the campus folder in the importer's layout; return the feature count per file."""
    out.mkdir(parents=True, exist_ok=True)
    layers = {
        "buildings": (sample.buildings, ("name", "name_en", "kind", "floors", "residents", "college")),
        "paths": (sample.paths, ("name", "kind", "fire_lane", "oneway", "access", "speed_limit_kmh")),
        "parking-lots": (sample.lots, ("name", "capacity")),
        "chargers": (sample.chargers, ("name", "kind", "ports", "power_kw", "status", "operator")),
        "checkpoints": (sample.checkpoints, ("name", "kind")),
        "grid-zones": (sample.zones, ("name", "officer", "officer_phone")),
        "duty-posts": (sample.posts, ("name", "hours")),
    }
    for layer, (data, fields) in layers.items():
        write_geojson(data, fields, out / f"{layer}.geojson")
    write_violations(sample.violations, out / "violations.csv")
    campus = {**CAMPUS, "generated": f"scripts/make_sample_campus.py (seed {SEED}) from {osm.name}"}
    (out / "campus.json").write_text(json.dumps(campus, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    counts = {f"{layer}.geojson": len(data) for layer, (data, _) in layers.items()}
    return {**counts, "violations.csv": len(sample.violations)}


def main(argv: Sequence[str] | None = None) -> int:
    """Generate the sample campus folder."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--osm", type=Path, default=DEFAULT_OSM, help="OSM extract (default: %(default)s)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder (default: %(default)s)")
    args = parser.parse_args(argv)
    sample = build(args.osm, np.random.default_rng(SEED))
    for name, count in write(sample, args.out, args.osm).items():
        print(f"{name:22} {count:6}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
