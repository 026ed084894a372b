"""Hand-made networks in metres around a fixed origin, turned into lon/lat path layers."""

from __future__ import annotations

from collections.abc import Sequence

import geopandas as gpd
import numpy as np
import pytest
import shapely
from pyproj import Geod
from shapely.geometry import LineString

from patrolmap.analysis.hexgrid import LocalProjection

ORIGIN = (116.352, 40.003)
PROJ = LocalProjection(*ORIGIN)
GEOD = Geod(ellps="WGS84")


def lonlat(xy: Sequence[float]) -> tuple[float, float]:
    lon, lat = PROJ.inverse(np.array([xy[0]]), np.array([xy[1]]))
    return float(lon[0]), float(lat[0])


def layer(lines_m: Sequence[Sequence[Sequence[float]]], kinds: Sequence[str] | None = None,
          oneway: Sequence[bool] | None = None, access: Sequence[str] | None = None) -> gpd.GeoDataFrame:
    geoms = [LineString([lonlat(p) for p in line]) for line in lines_m]
    n = len(geoms)
    return gpd.GeoDataFrame({
        "kind": list(kinds) if kinds else ["road"] * n,
        "oneway": list(oneway) if oneway else [False] * n,
        "access": list(access) if access else ["public"] * n,
        "fire_lane": [False] * n,
    }, geometry=geoms, crs="EPSG:4326")


def grid_lines(n: int = 5, spacing: float = 100.0) -> list[list[tuple[float, float]]]:
    """n full-length streets each way; they cross without sharing vertices (noding needed)."""
    top = (n - 1) * spacing
    rows = [[(0.0, i * spacing), (top, i * spacing)] for i in range(n)]
    cols = [[(i * spacing, 0.0), (i * spacing, top)] for i in range(n)]
    return rows + cols


def grid_points(rng: np.random.Generator, count: int, n: int = 7, spacing: float = 100.0) -> list[tuple[float, float]]:
    """Random points within 20 m of the streets of an n x n grid."""
    top = (n - 1) * spacing
    out = []
    for _ in range(count):
        if rng.random() < 0.5:
            x, y = rng.uniform(0, top), rng.integers(0, n) * spacing
        else:
            x, y = rng.integers(0, n) * spacing, rng.uniform(0, top)
        out.append((float(x + rng.uniform(-20, 20)), float(y + rng.uniform(-20, 20))))
    return out


def check_route(net_lines: list[LineString], geometry: LineString, length_m: float) -> None:
    # every vertex lies on a path segment (in metres)
    lines_m = shapely.MultiLineString([np.asarray(PROJ.geometries([g])[0].coords) for g in net_lines])
    coords = np.asarray(geometry.coords)
    x, y = PROJ.forward(coords[:, 0], coords[:, 1])
    d = shapely.distance(shapely.points(x, y), lines_m)
    assert d.max() < 1e-6
    # length_m is the geometry's length on the ellipsoid
    assert GEOD.geometry_length(geometry) == pytest.approx(length_m, rel=1e-3)
    assert geometry.coords[0] == pytest.approx(geometry.coords[-1])
