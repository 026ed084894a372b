"""Where to put K duty posts so that they cover the most violations within a walking radius.

Candidate sites are the centres of hot cells (patrolmap.analysis.hotspots) and the
intersections of the path network (nodes where three or more path pieces meet).

Distance is walked along the path network when there is one (noded, so that crossing
paths meet): each violation and each site is attached to its nearest network node (the network densified to a node every
`step_m`, 10 m by default) and the distance is the straight-line way to that node, plus
the shortest path between the nodes (scipy's Dijkstra, cut off at the radius). Without
paths it is the straight line. Either way it is in metres.

Weights: the article's posts stand "at canteens, teaching buildings and intersections at
peak hours", so a violation within PREFERRED_DISTANCE_M (50 m) of a canteen or teaching
building counts PREFERRED_WEIGHT (1.5) instead of 1, and when two choices cover the same
weight an intersection is preferred to a hotspot centre.

Choosing K sites is maximum coverage: exact (every combination) when there are at most
EXACT_COMBINATIONS of them, else greedy with lazy evaluation, which is within a factor
(1 - 1/e) of the optimum and usually equal to it (tests check both).
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
from scipy import sparse
from scipy.sparse import csgraph
from scipy.spatial import cKDTree

PREFERRED_KINDS = ("canteen", "teaching")
PREFERRED_DISTANCE_M = 50.0
PREFERRED_WEIGHT = 1.5
EXACT_COMBINATIONS = 20_000
# Exact search does combinations x sites-per-combination x demand points of work; beyond this, greedy.
EXACT_WORK = 50_000_000


@dataclass(frozen=True)
class Network:
    """The path network in metres: nodes, an undirected weighted graph, and a tree to find nodes."""

    xy: np.ndarray  # (n, 2)
    graph: sparse.csr_matrix
    degree: np.ndarray
    tree: cKDTree

    def intersections(self) -> np.ndarray:
        return np.nonzero(self.degree >= 3)[0]

    def attach(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The nearest node of each point and the straight distance to it."""
        distance, node = self.tree.query(np.column_stack([x, y]))
        return node.astype(np.int64), distance


def build_network(lines_xy: Sequence[object], *, step_m: float = 10.0) -> Network | None:
    """A walking graph from path lines in metres; None when there are none."""
    lines = np.asarray([g for g in lines_xy if g is not None and not shapely.is_empty(g)], dtype=object)
    if lines.size == 0:
        return None
    # Noded: where two paths cross they share a vertex, drawn that way or not (bridges are rare on a campus).
    parts = shapely.get_parts(shapely.segmentize(shapely.get_parts(shapely.node(shapely.multilinestrings(
        shapely.get_parts(lines)))), step_m))
    coords, index = shapely.get_coordinates(parts, return_index=True)
    if len(coords) < 2:
        return None
    # Vertices within a centimetre are one node: paths meet where their vertices coincide.
    nodes, node_of = np.unique(np.round(coords, 2), axis=0, return_inverse=True)
    node_of = node_of.ravel()
    same_line = index[1:] == index[:-1]
    a, b = node_of[:-1][same_line], node_of[1:][same_line]
    keep = a != b
    # One edge per pair of nodes (paths drawn over each other would otherwise count twice).
    pairs = np.unique(np.sort(np.column_stack([a[keep], b[keep]]), axis=1), axis=0)
    u, v = pairs[:, 0], pairs[:, 1]
    length = np.hypot(*(nodes[u] - nodes[v]).T)
    n = len(nodes)
    graph = sparse.coo_matrix((np.concatenate([length, length]), (np.concatenate([u, v]), np.concatenate([v, u]))),
                              shape=(n, n)).tocsr()
    degree = np.bincount(pairs.ravel(), minlength=n)
    return Network(nodes, graph, degree, cKDTree(nodes))


def demand_weights(x: np.ndarray, y: np.ndarray, preferred_xy: Sequence[object]) -> np.ndarray:
    """PREFERRED_WEIGHT for violations within PREFERRED_DISTANCE_M of a preferred building, else 1."""
    weights = np.ones(len(x))
    shapes = np.asarray([g for g in preferred_xy if g is not None], dtype=object)
    if len(x) == 0 or shapes.size == 0:
        return weights
    points = shapely.points(x, y)
    hit = shapely.STRtree(shapes).query(points, predicate="dwithin", distance=PREFERRED_DISTANCE_M)[0]
    weights[np.unique(hit)] = PREFERRED_WEIGHT
    return weights


def coverage(
    sites_xy: np.ndarray, demand_xy: np.ndarray, radius_m: float, network: Network | None = None,
) -> np.ndarray:
    """(sites, demand points) boolean matrix: which site covers which point within radius_m."""
    s, d = len(sites_xy), len(demand_xy)
    cover = np.zeros((s, d), dtype=bool)
    if s == 0 or d == 0:
        return cover
    if network is None:
        tree = cKDTree(demand_xy)
        for i, hits in enumerate(tree.query_ball_point(sites_xy, r=radius_m)):
            cover[i, hits] = True
        return cover
    site_node, site_off = network.attach(sites_xy[:, 0], sites_xy[:, 1])
    demand_node, demand_off = network.attach(demand_xy[:, 0], demand_xy[:, 1])
    reachable = site_off <= radius_m
    if not reachable.any():
        return cover
    # Sites at the same node share one search.
    unique_nodes, back = np.unique(site_node[reachable], return_inverse=True)
    distance = csgraph.dijkstra(network.graph, directed=False, indices=unique_nodes, limit=radius_m)
    rows = np.nonzero(reachable)[0]
    for start in range(0, d, 20_000):
        stop = min(start + 20_000, d)
        walked = distance[back][:, demand_node[start:stop]] + demand_off[start:stop][None, :]
        cover[rows, start:stop] = walked + site_off[reachable][:, None] <= radius_m
    return cover


@dataclass(frozen=True)
class Choice:
    sites: list[int]  # chosen site indices, in the order they add coverage
    value: float  # weight covered by them together
    method: str  # "exact" or "greedy"


def covered_value(cover: np.ndarray, weights: np.ndarray, sites: Sequence[int]) -> float:
    if not len(sites):
        return 0.0
    return float(weights[np.any(cover[list(sites)], axis=0)].sum())


def greedy_cover(cover: np.ndarray, weights: np.ndarray, k: int) -> Choice:
    """Lazy greedy: take the site adding the most uncovered weight, K times; ties go to the lower index.

    Gains only shrink as sites are taken, so a stale gain is an upper bound: a site whose
    recomputed gain still tops the heap is the best one without recomputing the others.
    """
    uncovered = np.ones(cover.shape[1], dtype=bool)
    heap = [(-float(weights[cover[i]].sum()), i) for i in range(cover.shape[0])]
    heapq.heapify(heap)
    chosen: list[int] = []
    total = 0.0
    while heap and len(chosen) < k:
        _, i = heapq.heappop(heap)
        gain = float(weights[cover[i] & uncovered].sum())
        if heap and (gain, -i) < (-heap[0][0], -heap[0][1]):
            heapq.heappush(heap, (-gain, i))  # another site may now add more: look again
            continue
        if gain <= 0:
            break
        chosen.append(i)
        total += gain
        uncovered &= ~cover[i]
    return Choice(chosen, total, "greedy")


def exact_cover(cover: np.ndarray, weights: np.ndarray, k: int) -> Choice:
    """The best K sites by trying every combination; among equals, the lexicographically first."""
    useful = [i for i in range(cover.shape[0]) if cover[i].any()]
    k = min(k, len(useful))
    best: tuple[float, tuple[int, ...]] = (0.0, ())
    if k == 0:
        return Choice([], 0.0, "exact")
    sub = cover[useful]
    for combo in itertools.combinations(range(len(useful)), k):
        value = float(weights[np.any(sub[list(combo)], axis=0)].sum())
        if value > best[0] + 1e-9:
            best = (value, combo)
    sites = [useful[c] for c in best[1]]
    # Report them in the order they add coverage, as the greedy answer does.
    ordered = greedy_cover(cover[sites], weights, len(sites)).sites
    return Choice([sites[i] for i in ordered], best[0], "exact")


def max_coverage(cover: np.ndarray, weights: np.ndarray, k: int) -> Choice:
    """Exact when the combinations are few enough, greedy otherwise."""
    useful = int(cover.any(axis=1).sum())
    combinations = math.comb(useful, min(k, useful))
    if combinations <= EXACT_COMBINATIONS and combinations * k * max(cover.shape[1], 1) <= EXACT_WORK:
        return exact_cover(cover, weights, k)
    return greedy_cover(cover, weights, k)


def suggest_posts(
    lon: np.ndarray,
    lat: np.ndarray,
    k: int,
    radius_m: float,
    *,
    projection: Any,
    paths: Sequence[object] = (),
    preferred_buildings: Sequence[object] = (),
    hotspot_sites: tuple[np.ndarray, np.ndarray] | None = None,
    use_network: bool = True,
) -> dict[str, Any]:
    """K duty posts covering the most (weighted) violations within radius_m.

    lon/lat: the violations of the chosen window. projection: a LocalProjection (metres).
    paths: path lines (lon/lat) for walking distance and intersections. preferred_buildings:
    canteen and teaching footprints (lon/lat). hotspot_sites: (lon, lat) of hot cell centres.

    Returns posts (lon, lat, site, covered, added, covered_weight), covered (violations
    within reach of any post), total, method (exact or greedy) and distance (network or
    straight).
    """
    x, y = projection.forward(np.asarray(lon, float), np.asarray(lat, float))
    weights = demand_weights(x, y, projection.geometries(list(preferred_buildings)))
    # Violations at the same metre are one demand point: fewer columns in the coverage matrix.
    cells, inverse = np.unique(np.round(np.column_stack([x, y])), axis=0, return_inverse=True)
    inverse = inverse.ravel()
    demand_weight = np.bincount(inverse, weights=weights, minlength=len(cells))
    demand_count = np.bincount(inverse, minlength=len(cells)).astype(float)

    network = build_network(projection.geometries(list(paths))) if use_network and len(paths) else None
    site_xy: list[np.ndarray] = []
    site_kind: list[str] = []
    if network is not None:
        crossings = network.xy[network.intersections()]
        site_xy.append(crossings)
        site_kind += ["intersection"] * len(crossings)
    if hotspot_sites is not None and len(hotspot_sites[0]):
        hx, hy = projection.forward(*hotspot_sites)
        site_xy.append(np.column_stack([hx, hy]))
        site_kind += ["hotspot"] * len(hx)
    sites = np.vstack(site_xy) if site_xy else np.zeros((0, 2))
    kinds = np.asarray(site_kind, dtype=object)
    if len(sites) and len(cells):
        # Walking is never shorter than the straight line: sites with no violation that near cover nothing.
        near = cKDTree(cells).query(sites, distance_upper_bound=radius_m)[0] <= radius_m
        sites, kinds = sites[near], kinds[near]
    cover = coverage(sites, cells, radius_m, network)
    choice = max_coverage(cover, demand_weight, k)
    uncovered = np.ones(len(cells), dtype=bool)
    posts = []
    for i in choice.sites:
        added = cover[i] & uncovered
        uncovered &= ~cover[i]
        plon, plat = projection.inverse(sites[i:i + 1, 0], sites[i:i + 1, 1])
        posts.append({
            "lon": float(plon[0]), "lat": float(plat[0]), "site": str(kinds[i]),
            "covered": int(demand_count[cover[i]].sum()), "added": int(demand_count[added].sum()),
            "covered_weight": float(demand_weight[cover[i]].sum()),
        })
    return {
        "posts": posts,
        "covered": int(demand_count[~uncovered].sum()),
        "covered_weight": float(demand_weight[~uncovered].sum()),
        "total": len(x),
        "total_weight": float(weights.sum()),
        "method": choice.method,
        "distance": "network" if network is not None else "straight",
        "candidates": len(sites),
    }
