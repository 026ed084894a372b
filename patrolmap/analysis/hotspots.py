"""Hotspots of violations: hexagon counts, Getis-Ord Gi* classes, and the top hotspots described.

The cells analysed are those where parking can happen, the cells touching a road or a
service road (the `paths` layer) or a parking lot, plus every cell holding a violation;
the analysis is over them alone, so that lawns and rooftops (no violations possible) do
not make every street look hot. Support geometries are clipped to the study area (the
campus boundary, or the box around its buildings and paths) when one is given.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from patrolmap.analysis.errors import N_, InputError
from patrolmap.analysis.gistar import gi_star
from patrolmap.analysis.hexgrid import HexGrid, cell_keys, hex_area, index_cells, keys_to_axial
from patrolmap.analysis.timewindow import peak_hours

DEFAULT_CELL_M = 50.0
MIN_CELL_M = 5.0
MAX_CELL_M = 5000.0
# Cells a grid may lay over the study area; a smaller cell_m for a larger area is refused.
MAX_CELLS = 100_000
TOP = 10
HOT = ("hot_99", "hot_95", "hot_90")


@dataclass
class HotspotResult:
    cells: gpd.GeoDataFrame  # q, r, count, gi_z, p_value, class, geometry (hexagon, lon/lat)
    top: list[dict[str, Any]]
    matched: int  # violations binned: the counts add up to it
    analysed: int  # cells in the Gi* analysis
    grid: HexGrid
    extra: dict[str, Any] = field(default_factory=dict)


def smallest_cell_m(bounds_xy: tuple[float, float, float, float], max_cells: int = MAX_CELLS) -> float:
    """The smallest edge length (whole metres) whose grid over the box stays within max_cells."""
    x0, y0, x1, y1 = bounds_xy
    size = math.sqrt(max((x1 - x0) * (y1 - y0), 1.0) / (max_cells * hex_area(1.0)))
    size = max(size, MIN_CELL_M)
    while True:  # the estimate pads the box by a cell on each side: step up until it fits
        grid_cells = (x1 - x0 + 2 * size) * (y1 - y0 + 2 * size) / hex_area(size)
        if grid_cells <= max_cells:
            return float(math.ceil(size))
        size *= 1.05


def compute_hotspots(
    table: pd.DataFrame,
    support_geoms: Sequence[object],
    cell_m: float = DEFAULT_CELL_M,
    *,
    origin: tuple[float, float] | None = None,
    area: object | None = None,
    buildings: gpd.GeoDataFrame | None = None,
    top: int = TOP,
    max_cells: int = MAX_CELLS,
    orientation: str = "pointy",
    include_empty: bool = True,
    fdr: bool = True,
) -> HotspotResult:
    """Bin the violations of `table` (lon, lat, and local_hour for peak hours) and run Gi*.

    support_geoms: roads, service roads and parking lots (lon/lat) whose cells are analysed
    even when empty. origin: the grid's anchor (lon, lat); pass the campus's centre so that
    cells stay put whatever the filter. include_empty=False leaves empty cells that are not
    significant out of `cells` (they still count in the analysis).
    """
    if not (MIN_CELL_M <= cell_m <= MAX_CELL_M):
        raise InputError(N_("cell_m must be between %(minimum)s and %(maximum)s metres, got %(value)s"),
                         minimum=MIN_CELL_M, maximum=MAX_CELL_M, value=cell_m)
    lon = table["lon"].to_numpy(float) if len(table) else np.zeros(0)
    lat = table["lat"].to_numpy(float) if len(table) else np.zeros(0)
    support = np.asarray([g for g in support_geoms if g is not None and not shapely.is_empty(g)], dtype=object)
    if area is not None and support.size:
        support = shapely.intersection(support, area)
        support = support[~shapely.is_empty(support)]
    if origin is None:
        origin = _centre(area, support, lon, lat)
    grid = HexGrid(cell_m, origin, orientation=orientation)
    support_xy = grid.projection.geometries(support)
    x, y = grid.projection.forward(lon, lat)

    bounds = _bounds(support_xy, x, y)
    if bounds is not None and grid.estimate_cells(bounds) > max_cells:
        raise InputError(N_("cell_m %(cell_m)s m is too small for this area: about %(cells)s cells, at most "
                            "%(max)s; use a cell_m of at least %(minimum)s m"),
                         cell_m=_plain(cell_m), cells=grid.estimate_cells(bounds), max=max_cells,
                         minimum=_plain(smallest_cell_m(bounds, max_cells)))

    q, r = grid.axial_xy(x, y)
    point_keys, point_counts, point_cell = index_cells(q, r)
    sq, sr = grid.cells_touching(support_xy)
    keys = np.union1d(point_keys, cell_keys(sq, sr))
    where = np.searchsorted(keys, point_keys)
    counts = np.zeros(len(keys), dtype=np.int64)
    counts[where] = point_counts
    cell_of_point = where[point_cell]
    stats = gi_star(counts, keys, fdr=fdr)

    shown = np.ones(len(keys), dtype=bool) if include_empty else (
        (counts > 0) | (stats.classes != "not_significant"))
    cq, cr = keys_to_axial(keys[shown])
    cells = gpd.GeoDataFrame({
        "q": cq, "r": cr, "count": counts[shown], "gi_z": stats.z[shown], "p_value": stats.p_value[shown],
        "class": stats.classes[shown].astype(str),
    }, geometry=grid.polygons_lonlat(cq, cr), crs="EPSG:4326")

    hours = table["local_hour"].to_numpy() if "local_hour" in table and len(table) else None
    tops = _top_cells(grid, keys, counts, stats, cell_of_point, hours, buildings, top)
    return HotspotResult(cells, tops, len(lon), len(keys), grid)


def _plain(value: float) -> float | int:
    return int(value) if float(value).is_integer() else value


def _centre(area: object | None, support: np.ndarray, lon: np.ndarray, lat: np.ndarray) -> tuple[float, float]:
    if area is not None and not shapely.is_empty(area):
        x0, y0, x1, y1 = shapely.bounds(area)
    elif support.size:
        x0, y0, x1, y1 = shapely.total_bounds(support)
    elif len(lon):
        x0, y0, x1, y1 = lon.min(), lat.min(), lon.max(), lat.max()
    else:
        return 0.0, 0.0
    return (float(x0) + float(x1)) / 2, (float(y0) + float(y1)) / 2


def _bounds(support_xy: np.ndarray, x: np.ndarray, y: np.ndarray) -> tuple[float, float, float, float] | None:
    boxes = []
    if support_xy.size:
        boxes.append(shapely.total_bounds(support_xy))
    if len(x):
        boxes.append(np.array([x.min(), y.min(), x.max(), y.max()]))
    if not boxes:
        return None
    stacked = np.vstack(boxes)
    return (float(stacked[:, 0].min()), float(stacked[:, 1].min()), float(stacked[:, 2].max()),
            float(stacked[:, 3].max()))


def _top_cells(
    grid: HexGrid, keys: np.ndarray, counts: np.ndarray, stats: Any, cell_of_point: np.ndarray,
    hours: np.ndarray | None, buildings: gpd.GeoDataFrame | None, top: int,
) -> list[dict[str, Any]]:
    """The hot cells with the most violations: counts, class, nearest building, peak hours."""
    hot = np.nonzero(np.isin(stats.classes, HOT) & (counts > 0))[0]
    order = hot[np.lexsort((-stats.z[hot], -counts[hot]))][:top]
    if not len(order):
        return []
    q, r = keys_to_axial(keys[order])
    cx, cy = grid.centres_xy(q, r)
    clon, clat = grid.projection.inverse(cx, cy)
    nearest = nearest_buildings(grid, buildings, cx, cy)
    out = []
    for n, index in enumerate(order):
        item: dict[str, Any] = {
            "q": int(q[n]), "r": int(r[n]), "lon": float(clon[n]), "lat": float(clat[n]),
            "count": int(counts[index]), "gi_z": float(stats.z[index]), "class": str(stats.classes[index]),
            **nearest[n],
        }
        if hours is not None:
            item["peak_hours"] = peak_hours(hours[cell_of_point == index])
        out.append(item)
    return out


def nearest_buildings(grid: HexGrid, buildings: gpd.GeoDataFrame | None, cx: np.ndarray,
                       cy: np.ndarray) -> list[dict[str, Any]]:
    empty = {"building": None, "building_kind": None, "building_distance_m": None}
    if buildings is None or buildings.empty:
        return [dict(empty) for _ in cx]
    shapes = grid.projection.geometries(buildings.geometry.to_numpy())
    (point_index, building_index), distance = shapely.STRtree(shapes).query_nearest(
        shapely.points(cx, cy), return_distance=True, all_matches=False)
    out = [dict(empty) for _ in cx]
    names = buildings["name"].to_numpy() if "name" in buildings else np.full(len(buildings), None)
    english = buildings["name_en"].to_numpy() if "name_en" in buildings else np.full(len(buildings), None)
    kinds = buildings["kind"].to_numpy() if "kind" in buildings else np.full(len(buildings), None)
    for p, b, d in zip(point_index, building_index, distance, strict=True):
        name = names[b] if isinstance(names[b], str) and names[b] else english[b]
        out[p] = {"building": name if isinstance(name, str) else None,
                  "building_kind": kinds[b] if isinstance(kinds[b], str) else None,
                  "building_distance_m": round(float(d), 1)}
    return out
