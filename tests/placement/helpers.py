"""Small hand-made placement problems in metres (around tests.routing.helpers.ORIGIN), as lon/lat frames."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import geopandas as gpd
import numpy as np
from shapely.geometry import Point, Polygon

from tests.routing.helpers import lonlat


def points(xy: Sequence[Sequence[float]], prefix: str, **columns: Sequence[object]) -> gpd.GeoDataFrame:
    """Point frame with ids prefix0, prefix1, ... at the given metre coordinates."""
    geoms = [Point(lonlat(p)) for p in xy]
    data: dict[str, object] = {"id": [f"{prefix}{i}" for i in range(len(geoms))], **columns}
    return gpd.GeoDataFrame(data, geometry=geoms, crs="EPSG:4326")


def polygons(rings: Sequence[Sequence[Sequence[float]]], **columns: Sequence[object]) -> gpd.GeoDataFrame:
    geoms = [Polygon([lonlat(p) for p in ring]) for ring in rings]
    return gpd.GeoDataFrame(dict(columns), geometry=geoms, crs="EPSG:4326")


def box_m(x0: float, y0: float, x1: float, y1: float) -> list[tuple[float, float]]:
    return [(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)]


def manhattan(a: Sequence[float], b: Sequence[float]) -> float:
    return abs(a[0] - b[0]) + abs(a[1] - b[1])


def on_grid(rng: np.random.Generator, count: int, n: int, spacing: float = 100.0) -> list[tuple[float, float]]:
    """Random points exactly on the lines of an n x n grid."""
    top = (n - 1) * spacing
    out = []
    for _ in range(count):
        along, line = float(rng.uniform(0, top)), float(rng.integers(0, n) * spacing)
        out.append((along, line) if rng.random() < 0.5 else (line, along))
    return out


def brute_max_cover(sets: Sequence[set[int]], w: np.ndarray, k: int, penalty: Sequence[float] | None = None,
                    base: set[int] | None = None) -> tuple[float, tuple[int, ...]]:
    """Best value of covered weight (beyond `base`) minus penalties over all subsets of at most k sets."""
    pen = penalty if penalty is not None else [0.0] * len(sets)
    base = base or set()
    best: tuple[float, tuple[int, ...]] = (0.0, ())
    for r in range(1, min(k, len(sets)) + 1):
        for combo in itertools.combinations(range(len(sets)), r):
            cov = set().union(*(sets[j] for j in combo)) - base
            value = float(sum(w[i] for i in cov)) - sum(pen[j] for j in combo)
            if value > best[0] + 1e-9:
                best = (value, combo)
    return best


def brute_min_sites(sets: Sequence[set[int]], w: np.ndarray, needed: float,
                    base: set[int] | None = None) -> int | None:
    """Fewest sets whose union (beyond `base`) weighs at least `needed`; None when impossible."""
    base = base or set()
    if needed <= 1e-9:
        return 0
    for r in range(1, len(sets) + 1):
        for combo in itertools.combinations(range(len(sets)), r):
            cov = set().union(*(sets[j] for j in combo)) - base
            if sum(w[i] for i in cov) >= needed - 1e-9:
                return r
    return None
