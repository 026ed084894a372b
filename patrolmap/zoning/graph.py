"""Which buildings neighbour which: the graph a grid zone must be connected in.

A zone is contiguous when its buildings are connected through this graph, so the graph
decides what "next to each other" means on a campus:

1. Delaunay triangulation of the footprint centroids: it links every building to the ones
   around it, without linking across a third building standing in between.
2. Pruned by a distance band on the footprints: a Delaunay edge whose footprints are more than
   ``band_m`` apart (edge to edge, not centre to centre) is dropped, so the long thin triangles
   along the hull and across a sports ground do not make far buildings neighbours.
3. Plus every pair of footprints within ``touch_m`` of each other (buildings that nearly touch
   are neighbours even when the triangulation happened to pass them by).
4. Made connected: while the graph has several components, the smallest one is joined to the
   nearest other one through their nearest pair of footprints (an edge of kind ``joined``).
   A campus whose dorms stand in two quarters 600 m apart still gets one graph, and a zone may
   then span both quarters only through that one short link.

With fewer than four buildings, or centroids all on one line (where no triangulation exists), the
candidates of step 1 are the Gabriel graph of the centroids instead (pairs whose diametral circle
holds no other centroid): on a line that is each building and the next.

Everything is in metres (a projected CRS, e.g. patrolmap.analysis.hexgrid.LocalProjection).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import shapely
from scipy.spatial import Delaunay, QhullError
from shapely.geometry.base import BaseGeometry

BAND_M = 150.0
TOUCH_M = 20.0


@dataclass(frozen=True)
class Edge:
    """An undirected neighbour link between buildings i < j; gap_m is the footprint-to-footprint distance."""

    i: int
    j: int
    gap_m: float
    kind: str  # "delaunay", "gabriel", "touch" or "joined"


@dataclass
class NeighbourGraph:
    """Buildings 0..n-1 (in input order), their centroids in metres and their neighbour links."""

    xy: np.ndarray
    edges: list[Edge]
    adjacency: list[list[int]] = field(init=False)

    def __post_init__(self) -> None:
        self.adjacency = [[] for _ in range(len(self.xy))]
        for e in self.edges:
            self.adjacency[e.i].append(e.j)
            self.adjacency[e.j].append(e.i)
        for neighbours in self.adjacency:
            neighbours.sort()

    @property
    def n(self) -> int:
        return len(self.xy)

    def joined(self) -> list[Edge]:
        """The links added only to make the graph connected."""
        return [e for e in self.edges if e.kind == "joined"]

    def connected(self, nodes: Sequence[int] | set[int]) -> bool:
        """Whether the given buildings are connected using only links among themselves."""
        members = set(nodes)
        if len(members) <= 1:
            return True
        start = next(iter(members))
        seen, stack = {start}, [start]
        while stack:
            for j in self.adjacency[stack.pop()]:
                if j in members and j not in seen:
                    seen.add(j)
                    stack.append(j)
        return len(seen) == len(members)


def _delaunay_pairs(xy: np.ndarray) -> set[tuple[int, int]] | None:
    if len(xy) < 4:
        return None
    try:
        tri = Delaunay(xy)
    except QhullError:
        return None  # all on one line (or all the same point)
    pairs: set[tuple[int, int]] = set()
    for simplex in tri.simplices:
        a, b, c = (int(v) for v in simplex)
        for i, j in ((a, b), (b, c), (a, c)):
            pairs.add((min(i, j), max(i, j)))
    if len({v for p in pairs for v in p}) < len(xy):
        return None  # duplicate centroids are left out of a triangulation
    return pairs


def _gabriel_pairs(xy: np.ndarray) -> set[tuple[int, int]]:
    """Pairs whose diametral circle holds no other centroid (O(n^3), used only for degenerate inputs)."""
    n = len(xy)
    pairs = set()
    for i in range(n):
        for j in range(i + 1, n):
            mid = (xy[i] + xy[j]) / 2
            r2 = float(np.sum((xy[i] - xy[j]) ** 2)) / 4
            d2 = np.sum((xy - mid) ** 2, axis=1)
            d2[[i, j]] = np.inf
            if not np.any(d2 < r2 - 1e-9):
                pairs.add((i, j))
    return pairs


def _components(n: int, edges: Sequence[Edge]) -> list[list[int]]:
    parent = list(range(n))

    def find(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for e in edges:
        ra, rb = find(e.i), find(e.j)
        if ra != rb:
            parent[ra] = rb
    groups: dict[int, list[int]] = {}
    for v in range(n):
        groups.setdefault(find(v), []).append(v)
    return sorted(groups.values(), key=lambda g: (len(g), g[0]))


def _nearest_pair(footprints: np.ndarray, inside: list[int], outside: list[int]) -> tuple[int, int, float]:
    """The closest footprints (a in inside, b in outside) and their distance."""
    tree = shapely.STRtree(footprints[outside])
    (src, dst), dist = tree.query_nearest(footprints[inside], return_distance=True, all_matches=False)
    best = int(np.argmin(dist))
    return inside[int(src[best])], outside[int(dst[best])], float(dist[best])


def neighbour_graph(footprints: Sequence[BaseGeometry], *, band_m: float = BAND_M,
                    touch_m: float = TOUCH_M) -> NeighbourGraph:
    """The connected neighbour graph of building footprints given in metres (see the module docstring)."""
    if band_m < 0 or touch_m < 0:
        raise ValueError("band_m and touch_m must not be negative")
    geoms = np.asarray(list(footprints), dtype=object)
    n = len(geoms)
    if n == 0:
        return NeighbourGraph(np.zeros((0, 2)), [])
    centroids = shapely.centroid(geoms)
    xy = shapely.get_coordinates(centroids)
    candidates = _delaunay_pairs(xy)
    kind = "delaunay"
    if candidates is None:
        candidates, kind = _gabriel_pairs(xy), "gabriel"
    edges: dict[tuple[int, int], Edge] = {}
    if candidates:
        pairs = sorted(candidates)
        left = geoms[[p[0] for p in pairs]]
        right = geoms[[p[1] for p in pairs]]
        gaps = shapely.distance(left, right)
        for (i, j), gap in zip(pairs, gaps, strict=True):
            if gap <= band_m:
                edges[(i, j)] = Edge(i, j, float(gap), kind)
    if n > 1 and touch_m > 0:
        tree = shapely.STRtree(geoms)
        a, b = tree.query(geoms, predicate="dwithin", distance=touch_m)
        for i, j in zip(a.tolist(), b.tolist(), strict=True):
            if i < j and (i, j) not in edges:
                edges[(i, j)] = Edge(i, j, float(shapely.distance(geoms[i], geoms[j])), "touch")
    edge_list = list(edges.values())
    components = _components(n, edge_list)
    while len(components) > 1:
        smallest = components[0]
        others = [v for c in components[1:] for v in c]
        i, j, gap = _nearest_pair(geoms, smallest, others)
        edge_list.append(Edge(min(i, j), max(i, j), gap, "joined"))
        components = _components(n, edge_list)
    edge_list.sort(key=lambda e: (e.i, e.j))
    return NeighbourGraph(xy, edge_list)
