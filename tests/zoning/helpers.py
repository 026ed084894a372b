"""Small instances for the zoning tests: footprints in metres, brute-force optima to check against."""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

import numpy as np
import shapely

from patrolmap.zoning.graph import NeighbourGraph

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))


def squares(centres: list[tuple[float, float]], size: float = 20.0) -> list[shapely.Polygon]:
    half = size / 2
    return [shapely.box(x - half, y - half, x + half, y + half) for x, y in centres]


def random_campus(seed: int, n: int, spread_m: float = 400.0) -> list[shapely.Polygon]:
    """n buildings 12-40 m wide at random places that do not overlap (at least 5 m apart)."""
    rng = np.random.default_rng(seed)
    out: list[shapely.Polygon] = []
    while len(out) < n:
        x, y = rng.uniform(0, spread_m, 2)
        w, h = rng.uniform(12, 40, 2)
        box = shapely.box(x, y, x + w, y + h)
        if all(box.distance(b) >= 5 for b in out):
            out.append(box)
    return out


def brute_force_best_max(graph: NeighbourGraph, weights: np.ndarray, k: int) -> float:
    """The smallest heaviest workload over every assignment into k non-empty connected zones (tiny n only)."""
    best = np.inf
    for labels in itertools.product(range(k), repeat=graph.n):
        if labels[0] != 0:
            continue  # zone names are interchangeable: fix the first building's
        zones = [[i for i, z in enumerate(labels) if z == c] for c in range(k)]
        if any(not z for z in zones) or not all(graph.connected(z) for z in zones):
            continue
        best = min(best, max(float(weights[z].sum()) for z in zones))
    return best


def brute_force_connected_sets(graph: NeighbourGraph, weights: np.ndarray, cap: float) -> set[frozenset[int]]:
    out = set()
    for size in range(1, graph.n + 1):
        for combo in itertools.combinations(range(graph.n), size):
            if weights[list(combo)].sum() <= cap + 1e-9 and graph.connected(combo):
                out.add(frozenset(combo))
    return out
