"""An outline around each zone's buildings, so that zones can be drawn and points placed in them.

The buildings are the zone; the outline only draws it. Per zone, in metres:

1. the union of its footprints grown by ``margin_m``, plus a corridor of the same half-width along
   the shortest line between the footprints of each neighbour link inside the zone (the links of
   a spanning tree of the zone's part of the neighbour graph), so a contiguous zone is drawn as
   one piece; then closed (grown and shrunk by ``margin_m``) to round off notches;
2. clipped to the zone's territory: the Voronoi cells of points along every footprint's edge,
   dissolved by zone, so that a point between two zones goes to the zone of the nearer building
   and the outlines of different zones cannot overlap;
3. its own footprints added back whole and every other zone's footprints cut out, so that each
   outline holds all of its buildings and none of another zone's.

Zones therefore touch at most along a line. A part of an outline holding none of its buildings
(a corridor cut off by another zone's territory) is dropped.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from patrolmap.zoning.graph import NeighbourGraph

MARGIN_M = 12.0
DENSIFY_M = 4.0
SIMPLIFY_M = 0.5


def _spanning_links(graph: NeighbourGraph, members: list[int]) -> list[tuple[int, int]]:
    """The links of a minimum spanning forest of the zone's subgraph (by footprint gap)."""
    inside = set(members)
    edges = sorted((e for e in graph.edges if e.i in inside and e.j in inside), key=lambda e: (e.gap_m, e.i, e.j))
    parent = {v: v for v in members}

    def find(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    links = []
    for e in edges:
        ra, rb = find(e.i), find(e.j)
        if ra != rb:
            parent[ra] = rb
            links.append((e.i, e.j))
    return links


def _polygons(geom: BaseGeometry) -> BaseGeometry:
    """Only the polygonal parts of a geometry (overlay results can carry stray lines and points)."""
    geom = shapely.make_valid(geom)
    parts = [p for p in shapely.get_parts(geom) if p.geom_type in ("Polygon", "MultiPolygon") and not p.is_empty]
    parts = [q for p in parts for q in shapely.get_parts(p)]
    if not parts:
        return shapely.Polygon()
    return parts[0] if len(parts) == 1 else shapely.MultiPolygon(parts)


def _territories(footprints: np.ndarray, labels: np.ndarray, k: int) -> list[BaseGeometry]:
    """Each zone's Voronoi territory from points along its footprints' edges."""
    boundaries = shapely.segmentize(shapely.boundary(footprints), DENSIFY_M)
    coords, owners = [], []
    for geom, z in zip(boundaries, labels.tolist(), strict=True):
        xy = shapely.get_coordinates(geom)
        coords.append(xy)
        owners.append(np.full(len(xy), z))
    xy = np.vstack(coords)
    owner = np.concatenate(owners)
    xy, first = np.unique(np.round(xy, 2), axis=0, return_index=True)
    owner = owner[first]
    minx, miny = xy.min(axis=0)
    maxx, maxy = xy.max(axis=0)
    pad = max(maxx - minx, maxy - miny, 1.0) * 4 + 1000.0
    frame = shapely.box(minx - pad, miny - pad, maxx + pad, maxy + pad)
    cells = shapely.get_parts(shapely.voronoi_polygons(shapely.MultiPoint(xy), extend_to=frame, ordered=True))
    cells = shapely.make_valid(cells)
    return [_polygons(shapely.union_all(cells[owner == z])) for z in range(k)]


def zone_outlines(footprints: Sequence[BaseGeometry], labels: Sequence[int], graph: NeighbourGraph, *,
                  margin_m: float = MARGIN_M) -> list[BaseGeometry]:
    """One outline (Polygon or MultiPolygon, metres) per zone 0..max(labels); see the module docstring."""
    geoms = np.asarray(list(footprints), dtype=object)
    labels_arr = np.asarray(list(labels), dtype=int)
    if len(geoms) != len(labels_arr) or len(geoms) != graph.n:
        raise ValueError("one label per footprint, and the graph of those footprints")
    if len(geoms) == 0:
        return []
    k = int(labels_arr.max()) + 1
    geoms = shapely.make_valid(geoms)
    territories = _territories(geoms, labels_arr, k) if k > 1 else [None]
    outlines = []
    for z in range(k):
        members = np.flatnonzero(labels_arr == z).tolist()
        if not members:
            outlines.append(shapely.Polygon())
            continue
        own = shapely.union_all(geoms[members])
        pieces = [shapely.buffer(geoms[members], margin_m)]
        links = _spanning_links(graph, members)
        if links:
            lines = shapely.shortest_line(geoms[[a for a, _ in links]], geoms[[b for _, b in links]])
            pieces.append(shapely.buffer(lines, margin_m))
        raw = shapely.union_all(np.concatenate(pieces))
        raw = raw.buffer(margin_m).buffer(-margin_m).simplify(SIMPLIFY_M)
        territory = territories[z]
        clipped = raw if territory is None else shapely.intersection(raw, territory)
        others = np.flatnonzero(labels_arr != z).tolist()
        outline = shapely.union(clipped, own)
        if others:
            outline = shapely.difference(outline, shapely.union_all(geoms[others]))
        outline = _polygons(outline)
        parts = [p for p in shapely.get_parts(outline) if p.intersects(own)]
        outlines.append(_polygons(shapely.union_all(parts)) if parts else outline)
    return outlines
