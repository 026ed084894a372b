"""Charging demand per kind of charger: where it comes from and how much of it there is.

Why per kind: a car charger is no use to a student with an e-bike (电动自行车), and on Chinese
campuses the e-bike demand (students in dorms) far outweighs the car demand, so the two are
never mixed in one coverage figure.

* ``ebike``: dorms (``buildings.kind == "dorm"``), weight = residents (students).
* ``car``: staff apartments (``kind == "staff_apartment"``), weight = residents, and parking lots,
  weight = capacity (parking spaces).

Weights are "demand units"; a planner who wants cars per resident or e-bikes per student scales
them with the ``*_per_*`` factors of `DemandDefaults` or sets a number per feature with
``overrides`` (id -> weight; 0 keeps the point but makes it count for nothing).

When a number is missing (documented defaults, `DemandDefaults`):

* residents: estimated from the footprint like the sample campus does: area x floors (6 when
  untagged) / 25 m² per student in a dorm, / 40 m² per person in a staff apartment, never below
  `min_dorm_residents` / `min_staff_residents`; a footprint-less (point) building gets exactly those
  minimums (600 students, 100 staff residents).
* parking capacity: area / 25 m² a car (a bay plus its share of the aisle); a point lot, 20 spaces.

Each feature becomes one demand point: the centroid of its footprint (the representative point when
the centroid falls outside an odd shape), in lon/lat. `weight_source` says where its weight came from.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from patrolmap.analysis.hexgrid import LocalProjection

Kind = Literal["car", "ebike"]
KINDS: tuple[str, ...] = ("car", "ebike")
DEMAND_COLUMNS = ["id", "kind", "source", "name", "weight", "weight_source", "geometry"]


@dataclass(frozen=True)
class DemandDefaults:
    """Numbers used when a feature lacks one (see the module docstring for why these)."""

    floors: float = 6.0  # a typical dorm block when OSM has no building:levels
    dorm_m2_per_resident: float = 25.0  # gross floor area per student (4 to a room, corridors, washrooms)
    staff_m2_per_resident: float = 40.0  # gross floor area per staff apartment resident
    min_dorm_residents: float = 600.0  # also the number for a dorm without a footprint
    min_staff_residents: float = 100.0
    car_m2: float = 25.0  # parking lot area per space
    point_lot_capacity: float = 20.0  # a parking lot mapped as a point
    ebike_per_resident: float = 1.0  # dorm residents -> e-bike demand
    car_per_resident: float = 1.0  # staff apartment residents -> car demand
    car_per_space: float = 1.0  # parking spaces -> car demand


DEFAULTS = DemandDefaults()


def _points_and_area(gdf: gpd.GeoDataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Demand point (lon/lat) and footprint area (m², 0 for points) of each feature."""
    geoms = np.asarray(gdf.geometry.values, dtype=object)
    if len(geoms) == 0:
        return np.empty(0, dtype=object), np.empty(0)
    centroid = shapely.centroid(geoms)
    inside = shapely.contains(geoms, centroid) | (shapely.get_type_id(geoms) == 0)
    points = np.where(inside, centroid, shapely.point_on_surface(geoms))
    minx, miny, maxx, maxy = gdf.total_bounds
    proj = LocalProjection((minx + maxx) / 2, (miny + maxy) / 2)
    area = shapely.area(proj.geometries(geoms)).astype(float)
    return points, area


def _column(gdf: gpd.GeoDataFrame, name: str) -> np.ndarray:
    if name not in gdf:
        return np.full(len(gdf), np.nan)
    return pd.to_numeric(gdf[name], errors="coerce").to_numpy(dtype=float)


def _strings(gdf: gpd.GeoDataFrame, name: str) -> list[str | None]:
    if name not in gdf:
        return [None] * len(gdf)
    return [v if isinstance(v, str) else None for v in gdf[name]]


def _ids(gdf: gpd.GeoDataFrame, prefix: str) -> list[str]:
    if "id" in gdf:
        return [str(v) for v in gdf["id"]]
    return [f"{prefix}/{i}" for i in range(len(gdf))]


def _housing(buildings: gpd.GeoDataFrame, building_kind: str, kind: str, m2_per_resident: float,
             minimum: float, factor: float, d: DemandDefaults) -> gpd.GeoDataFrame:
    sel = buildings[buildings["kind"] == building_kind] if "kind" in buildings else buildings.iloc[:0]
    points, area = _points_and_area(sel)
    residents = _column(sel, "residents")
    floors = _column(sel, "floors")
    floors = np.where(np.isfinite(floors) & (floors > 0), floors, d.floors)
    estimate = np.maximum(minimum, np.round(area * floors / m2_per_resident / 10) * 10)
    known = np.isfinite(residents) & (residents >= 0)
    source = np.where(known, "residents", np.where(area > 0, "floor area estimate", "default"))
    return gpd.GeoDataFrame({
        "id": _ids(sel, "building"), "kind": kind, "source": building_kind, "name": _strings(sel, "name"),
        "weight": np.where(known, residents, estimate) * factor, "weight_source": source,
    }, geometry=list(points), crs="EPSG:4326")


def _lots(lots: gpd.GeoDataFrame, d: DemandDefaults) -> gpd.GeoDataFrame:
    points, area = _points_and_area(lots)
    capacity = _column(lots, "capacity")
    known = np.isfinite(capacity) & (capacity >= 0)
    estimate = np.where(area > 0, np.maximum(1.0, np.round(area / d.car_m2)), d.point_lot_capacity)
    source = np.where(known, "capacity", np.where(area > 0, "area estimate", "default"))
    return gpd.GeoDataFrame({
        "id": _ids(lots, "parking-lot"), "kind": "car", "source": "parking_lot", "name": _strings(lots, "name"),
        "weight": np.where(known, capacity, estimate) * d.car_per_space, "weight_source": source,
    }, geometry=list(points), crs="EPSG:4326")


def demand_points(buildings: gpd.GeoDataFrame | None, parking_lots: gpd.GeoDataFrame | None, kind: Kind, *,
                  defaults: DemandDefaults = DEFAULTS,
                  overrides: Mapping[str, float] | None = None) -> gpd.GeoDataFrame:
    """Demand points of one charger kind (lon/lat), columns `DEMAND_COLUMNS`, one row per source feature.

    Kept separate per kind so that no view ever adds students' e-bikes to staff cars. `overrides`
    (feature id -> weight) is how a planner corrects a number; it wins over data and defaults.
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")
    d = defaults
    parts: list[gpd.GeoDataFrame] = []
    if buildings is not None and len(buildings):
        if kind == "ebike":
            parts.append(_housing(buildings, "dorm", kind, d.dorm_m2_per_resident, d.min_dorm_residents,
                                  d.ebike_per_resident, d))
        else:
            parts.append(_housing(buildings, "staff_apartment", kind, d.staff_m2_per_resident,
                                  d.min_staff_residents, d.car_per_resident, d))
    if kind == "car" and parking_lots is not None and len(parking_lots):
        parts.append(_lots(parking_lots, d))
    parts = [p for p in parts if len(p)]
    if not parts:
        return gpd.GeoDataFrame({c: [] for c in DEMAND_COLUMNS[:-1]}, geometry=[], crs="EPSG:4326")
    out = gpd.GeoDataFrame(pd.concat(parts, ignore_index=True), geometry="geometry", crs="EPSG:4326")
    out["weight"] = out["weight"].astype(float)
    if overrides:
        hit = out["id"].isin(list(overrides))
        out.loc[hit, "weight"] = [float(overrides[i]) for i in out.loc[hit, "id"]]
        out.loc[hit, "weight_source"] = "override"
        if (out["weight"] < 0).any():
            raise ValueError("demand weights must not be negative")
    return out[DEMAND_COLUMNS]


def charger_sites(chargers: gpd.GeoDataFrame, kind: Kind, *,
                  statuses: tuple[str, ...] = ("existing",)) -> gpd.GeoDataFrame:
    """The chargers of one kind that count as fixed sites (columns id, name, status, geometry).

    Only ``existing`` ones by default: a planned site is not built yet. Pass
    ``statuses=("existing", "planned")`` to see coverage once the plans are built.
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")
    kinds = chargers["kind"] if "kind" in chargers else pd.Series(["car"] * len(chargers), index=chargers.index)
    status = chargers["status"] if "status" in chargers else pd.Series(["existing"] * len(chargers),
                                                                       index=chargers.index)
    sel = chargers[(kinds == kind) & status.isin(statuses)]
    points, _ = _points_and_area(sel)
    return gpd.GeoDataFrame({"id": _ids(sel, "charger"), "name": _strings(sel, "name"),
                             "status": list(status.loc[sel.index])}, geometry=list(points), crs="EPSG:4326")


def candidate_sites(parking_lots: gpd.GeoDataFrame | None, points: gpd.GeoDataFrame | None = None) -> gpd.GeoDataFrame:
    """Candidate sites for new chargers: every parking lot (its centroid) and the planner's own points.

    Columns id, name, source (``parking_lot`` or ``planner``), geometry. Exclusions and penalties are
    given to the solver by id (`patrolmap.placement.mclp`), so the same candidates serve every question.
    """
    parts: list[gpd.GeoDataFrame] = []
    for gdf, source, prefix in ((parking_lots, "parking_lot", "parking-lot"), (points, "planner", "point")):
        if gdf is None or not len(gdf):
            continue
        pts, _ = _points_and_area(gdf)
        parts.append(gpd.GeoDataFrame({"id": _ids(gdf, prefix), "name": _strings(gdf, "name"), "source": source},
                                      geometry=list(pts), crs="EPSG:4326"))
    if not parts:
        return gpd.GeoDataFrame({"id": [], "name": [], "source": []}, geometry=[], crs="EPSG:4326")
    out = gpd.GeoDataFrame(pd.concat(parts, ignore_index=True), geometry="geometry", crs="EPSG:4326")
    if out["id"].duplicated().any():
        raise ValueError("candidate ids must be unique: " + ", ".join(sorted(set(out["id"][out["id"].duplicated()]))))
    return out
