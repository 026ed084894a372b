"""The campus path layer as a routable networkx graph, in metres.

Why this module: routes must follow the path network (never cut through buildings) and lengths
must be true metres, so lon/lat lines are projected to a local transverse Mercator
(`LocalProjection`, centred on the layer) before anything is measured.

How the graph is made:

* Lines are filtered by mode. ``"walk"``: every kind (road, service, footway, steps, cycleway,
  track, other), undirected (oneway tags bind vehicles, not people on foot).
  ``"drive"``: only ``road`` and ``service``, plus every path marked ``fire_lane`` whatever its
  kind (a fire lane is built for fire engines, so a footway marked as one is drivable), a
  ``networkx.DiGraph`` that respects ``oneway`` (the OSM reader already turned ``oneway=-1``
  lines to their travel direction).
  In both modes ``access=private`` paths are left out unless ``include_private=True``:
  a planned route should never depend on a gate that may be locked.
* Near-touching ends: real OSM footways often stop a little short of (or past) the path they
  join without sharing a node. Every line end within ``merge_tolerance_m`` (default
  ``MERGE_TOLERANCE_M`` = 2 m) of another line gets a short connector to the nearest point
  on that line, and that point is inserted as a vertex of the other line. So every vertex of
  the network still lies on an original path segment.
* Lines are noded (``shapely.unary_union``) so that crossings and shared vertices become graph
  nodes; each noded piece keeps the attributes and direction of the line(s) it came from.
  Noding is planar: a footbridge over a road becomes a junction (the layer has no levels).
  A closed loop (a roundabout) is cut in two halves so that it has two nodes; one-way
  direction is read locally from the parent line, which is robust on closed rings.
* Edges carry ``length_m``, ``geometry`` (metres, running from node ``start``), ``seg`` (the
  physical piece id) and ``kind``. Between two nodes only the shortest piece is kept.

Snapping (``RoutingNetwork.snap``) projects each point onto the nearest *edge* (not node)
within ``SNAP_DISTANCE_M`` (default 150 m) and splits that edge with a temporary node, in a copy
of the graph. Points farther than that, or not reachable from the start and back, are reported
as ``Unreachable`` with a reason, never silently dropped.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import geopandas as gpd
import networkx as nx
import numpy as np
import shapely
from shapely.geometry import LineString, MultiLineString, Point

from patrolmap.analysis.hexgrid import LocalProjection

Mode = Literal["walk", "drive"]
MODES: tuple[str, ...] = ("walk", "drive")
DRIVE_KINDS = frozenset({"road", "service"})
MERGE_TOLERANCE_M = 2.0
SNAP_DISTANCE_M = 150.0
_EPS = 1e-6  # metres: below this two positions are the same node

REASON_TOO_FAR = "farther than {snap:.0f} m from the path network ({dist:.0f} m)"
REASON_DISCONNECTED = "on a part of the path network not connected to the start"
REASON_ONEWAY = "cannot be reached from the start and back (one-way streets)"


class RoutingError(ValueError):
    """The request cannot be routed at all (e.g. the start itself is off the network)."""


@dataclass(frozen=True)
class Unreachable:
    index: int  # index into the list of points given to snap()
    reason: str
    distance_m: float | None = None  # distance to the network when known


@dataclass
class Snapped:
    """Start and points snapped onto a private copy of the graph."""

    graph: nx.Graph
    start: int  # graph node of the start
    nodes: dict[int, int]  # point index -> graph node, only reachable points
    unreachable: list[Unreachable] = field(default_factory=list)
    snap_distance_m: dict[int, float] = field(default_factory=dict)  # point index -> metres to network
    unreachable_nodes: dict[int, int] = field(default_factory=dict)  # snapped but out of reach: index -> node


def _lines(geom: Any) -> list[LineString]:
    if isinstance(geom, LineString):
        return [geom] if not geom.is_empty and geom.length > 0 else []
    if isinstance(geom, MultiLineString):
        return [g for g in geom.geoms if g.length > 0]
    return []


def _insert_vertices(line: LineString, items: Iterable[tuple[float, tuple[float, float]]]) -> LineString:
    """`line` with extra vertices (given coordinates) at the given distances along it."""
    coords = [tuple(c[:2]) for c in line.coords]
    seg_len = np.hypot(*np.diff(np.asarray(coords), axis=0).T)
    cum = np.concatenate([[0.0], np.cumsum(seg_len)]).tolist()
    merged = sorted([(c, 0, xy) for c, xy in zip(cum, coords, strict=True)] + [(d, 1, xy) for d, xy in items],
                    key=lambda t: (t[0], t[1]))
    return LineString([xy for _, _, xy in merged])


class RoutingNetwork:
    """A mode-specific graph of the path layer in metres, with a spatial index of its edges."""

    def __init__(self, graph: nx.Graph, projection: LocalProjection, mode: Mode) -> None:
        self.graph = graph
        self.projection = projection
        self.mode = mode
        self._next_node = max(graph.nodes, default=-1) + 1
        # One entry per physical piece (a two-way drive street is two edges but one piece).
        pieces: dict[int, tuple[int, int, LineString]] = {}
        for u, v, data in graph.edges(data=True):
            if data["seg"] not in pieces:
                pieces[data["seg"]] = (u, v, data["geometry"])
        self._seg_ids = np.array(list(pieces), dtype=np.int64)
        self._pieces = pieces
        self._tree = shapely.STRtree([p[2] for p in pieces.values()])

    @property
    def directed(self) -> bool:
        return self.graph.is_directed()

    def to_metres(self, lonlat: Sequence[Sequence[float]]) -> np.ndarray:
        arr = np.asarray(lonlat, dtype=float).reshape(-1, 2)
        x, y = self.projection.forward(arr[:, 0], arr[:, 1])
        return np.column_stack([x, y])

    def to_lonlat(self, geom_m: LineString) -> LineString:
        coords = np.asarray(geom_m.coords)
        lon, lat = self.projection.inverse(coords[:, 0], coords[:, 1])
        return LineString(np.column_stack([lon, lat]))

    def snap(self, start: Sequence[float], points: Sequence[Sequence[float]], *,
             max_distance_m: float = SNAP_DISTANCE_M) -> Snapped:
        """Snap a start and points (lon/lat) onto the nearest edges, splitting them.

        Raises RoutingError if the start is beyond `max_distance_m`. Points beyond it, or in a
        part of the network not reachable from the start (and back, for driving), are returned
        in `Snapped.unreachable`.
        """
        xy = self.to_metres([start, *points]) if len(points) else self.to_metres([start])
        geoms = shapely.points(xy)
        idx_geom, idx_tree = self._tree.query_nearest(geoms, max_distance=max_distance_m, all_matches=False)
        nearest = dict(zip(idx_geom.tolist(), idx_tree.tolist(), strict=True))
        if 0 not in nearest:
            raise RoutingError(f"the start is farther than {max_distance_m:.0f} m from the path network")
        unreachable: list[Unreachable] = []
        by_piece: dict[int, list[tuple[float, int]]] = defaultdict(list)
        dists: dict[int, float] = {}
        for i in range(len(xy)):
            if i not in nearest:
                # A point the projection cannot place (the far side of the earth) is infinitely far.
                d = (float(shapely.distance(geoms[i], self._tree.geometries[self._tree.nearest(geoms[i])]))
                     if np.isfinite(xy[i]).all() else float("inf"))
                unreachable.append(Unreachable(i - 1, REASON_TOO_FAR.format(snap=max_distance_m, dist=d), d))
                continue
            seg = int(self._seg_ids[nearest[i]])
            line = self._pieces[seg][2]
            along = float(line.project(geoms[i]))
            dists[i] = float(line.distance(geoms[i]))
            by_piece[seg].append((along, i))
        graph = self.graph.copy()
        node_of: dict[int, int] = {}
        for seg, items in by_piece.items():
            node_of.update(self._split(graph, seg, items))
        start_node = node_of.pop(0)
        if self.directed:
            fwd = nx.descendants(graph, start_node)
            back = nx.ancestors(graph, start_node)
        else:
            fwd = back = nx.node_connected_component(graph, start_node)
        nodes: dict[int, int] = {}
        for i, n in sorted(node_of.items()):
            if n == start_node or (n in fwd and n in back):
                nodes[i - 1] = n
            elif self.directed and (n in fwd or n in back):
                unreachable.append(Unreachable(i - 1, REASON_ONEWAY, dists[i]))
            else:
                unreachable.append(Unreachable(i - 1, REASON_DISCONNECTED, dists[i]))
        unreachable.sort(key=lambda u: u.index)
        snap_d = {i - 1: d for i, d in dists.items() if i > 0}
        out_of_reach = {i - 1: n for i, n in node_of.items() if i - 1 not in nodes}
        return Snapped(graph, start_node, nodes, unreachable, snap_d, out_of_reach)

    def _split(self, graph: nx.Graph, seg: int, items: list[tuple[float, int]]) -> dict[int, int]:
        """Split piece `seg` at the given distances along it; return point index -> node."""
        a, b, line = self._pieces[seg]
        data = graph.edges[a, b]
        if data["start"] != a:
            a, b = b, a
        length = line.length
        forward = graph.has_edge(a, b) and graph.edges[a, b]["seg"] == seg
        backward = graph.has_edge(b, a) and graph.edges[b, a]["seg"] == seg
        if not graph.is_directed():
            forward = backward = True
        attrs = {k: v for k, v in data.items() if k not in ("geometry", "length_m", "start")}
        result: dict[int, int] = {}
        cuts: list[float] = [0.0]
        chain: list[int] = [a]
        for along, i in sorted(items):
            if along <= _EPS:
                result[i] = a
            elif along >= length - _EPS:
                result[i] = b
            elif abs(along - cuts[-1]) <= _EPS and len(chain) > 1:
                result[i] = chain[-1]
            else:
                node = self._next_node
                self._next_node += 1
                p = line.interpolate(along)
                graph.add_node(node, x=p.x, y=p.y, temporary=True)
                cuts.append(along)
                chain.append(node)
                result[i] = node
        if len(chain) == 1:
            return result
        cuts.append(length)
        chain.append(b)
        if graph.has_edge(a, b) and graph.edges[a, b]["seg"] == seg:
            graph.remove_edge(a, b)
        if graph.is_directed() and graph.has_edge(b, a) and graph.edges[b, a]["seg"] == seg:
            graph.remove_edge(b, a)
        for k in range(len(chain) - 1):
            piece = _substring(line, cuts[k], cuts[k + 1])
            u, v = chain[k], chain[k + 1]
            if forward:
                graph.add_edge(u, v, geometry=piece, length_m=piece.length, start=u, **attrs)
            if backward and graph.is_directed():
                graph.add_edge(v, u, geometry=piece.reverse(), length_m=piece.length, start=v, **attrs)
        return result


def _substring(line: LineString, d0: float, d1: float) -> LineString:
    from shapely.ops import substring

    out = substring(line, d0, d1)
    if not isinstance(out, LineString) or len(out.coords) < 2:
        p = line.interpolate(d0)
        q = line.interpolate(d1)
        out = LineString([p, q])
    return out


def _allowed(kind: str, access: str, mode: Mode, include_private: bool, fire_lane: bool = False) -> bool:
    if access == "private" and not include_private:
        return False
    return mode == "walk" or kind in DRIVE_KINDS or fire_lane


def build_network(paths: gpd.GeoDataFrame, mode: Mode = "walk", *, merge_tolerance_m: float = MERGE_TOLERANCE_M,
                  include_private: bool = False, projection: LocalProjection | None = None) -> RoutingNetwork:
    """Routable graph of a path layer (lon/lat LineStrings with kind, oneway, access, fire_lane columns)."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
    if projection is None:
        minx, miny, maxx, maxy = paths.total_bounds if len(paths) else (0.0, 0.0, 0.0, 0.0)
        projection = LocalProjection((minx + maxx) / 2, (miny + maxy) / 2)
    lines: list[LineString] = []
    props: list[tuple[str, bool]] = []  # (kind, oneway)
    kinds = paths["kind"] if "kind" in paths else ["other"] * len(paths)
    oneways = paths["oneway"] if "oneway" in paths else [False] * len(paths)
    access = paths["access"] if "access" in paths else ["public"] * len(paths)
    fire_lanes = paths["fire_lane"] if "fire_lane" in paths else [False] * len(paths)
    for geom, kind, oneway, acc, lane in zip(paths.geometry, kinds, oneways, access, fire_lanes, strict=True):
        kind = kind if isinstance(kind, str) else "other"
        lane = isinstance(lane, (bool, np.bool_)) and bool(lane)  # None or NaN (not recorded): not a fire lane
        if not _allowed(kind, acc if isinstance(acc, str) else "public", mode, include_private, lane):
            continue
        for line in _lines(geom):
            lines.append(line)
            props.append((kind, bool(oneway) and mode == "drive"))
    lines = list(projection.geometries(lines)) if lines else []
    lines = _merge_near_ends(lines, merge_tolerance_m)
    graph: nx.Graph = nx.DiGraph() if mode == "drive" else nx.Graph()
    if lines:
        _add_noded(graph, lines, props)
    return RoutingNetwork(graph, projection, mode)


def _merge_near_ends(lines: list[LineString], tol: float) -> list[LineString]:
    """Connect each line end within `tol` of another line to its nearest point on that line.

    The point becomes a vertex of both lines (exactly the same coordinates), so that noding
    joins them; an end less than 1 micrometre away is moved onto it instead of getting a connector.
    """
    if len(lines) < 2:
        return lines
    tol = max(tol, 2 * _EPS)
    tree = shapely.STRtree(lines)
    inserts: dict[int, list[tuple[float, tuple[float, float]]]] = defaultdict(list)
    ends: dict[int, list[tuple[str, tuple[float, float], bool]]] = defaultdict(list)
    for i, line in enumerate(lines):
        coords = line.coords
        for which, xy in (("head", coords[0]), ("tail", coords[-1])):
            end = Point(xy)
            best: tuple[float, int] | None = None
            exact = False
            for j in tree.query(end, predicate="dwithin", distance=tol).tolist():
                if j == i:
                    continue
                d = lines[j].distance(end)
                if d == 0.0:
                    exact = True
                    break
                if best is None or d < best[0]:
                    best = (d, j)
            if exact or best is None:
                continue
            d, j = best
            along = lines[j].project(end)
            vertices = np.asarray(lines[j].coords)
            gaps = np.hypot(vertices[:, 0] - xy[0], vertices[:, 1] - xy[1])
            p = lines[j].interpolate(along)
            near = np.hypot(vertices[:, 0] - p.x, vertices[:, 1] - p.y)
            if near.min() <= _EPS:
                target = tuple(vertices[int(np.argmin(near)), :2].tolist())
            elif gaps.min() <= _EPS:
                target = tuple(vertices[int(np.argmin(gaps)), :2].tolist())
            else:
                target = (p.x, p.y)
                inserts[j].append((along, target))
            ends[i].append((which, target, d <= _EPS))
    out = list(lines)
    for j, items in inserts.items():
        out[j] = _insert_vertices(out[j], items)
    for i, items in ends.items():
        coords = list(out[i].coords)
        for which, xy, move in items:
            k = 0 if which == "head" else len(coords)
            if move:
                coords[0 if which == "head" else -1] = xy
            else:
                coords.insert(k, xy)
        out[i] = LineString(coords)
    return out


def _add_noded(graph: nx.Graph, lines: list[LineString], props: list[tuple[str, bool]]) -> None:
    noded = shapely.unary_union(lines)
    pieces = [g for g in getattr(noded, "geoms", [noded]) if isinstance(g, LineString) and g.length > 0]
    tree = shapely.STRtree(lines)
    node_ids: dict[tuple[float, float], int] = {}

    def node(xy: tuple[float, float]) -> int:
        key = (round(xy[0], 6), round(xy[1], 6))
        if key not in node_ids:
            node_ids[key] = len(node_ids)
            graph.add_node(node_ids[key], x=xy[0], y=xy[1])
        return node_ids[key]

    split: list[LineString] = []
    for piece in pieces:
        if piece.coords[0] == piece.coords[-1]:  # a closed loop (roundabout): two halves, so it has nodes
            half = piece.length / 2
            split.extend([_substring(piece, 0, half), _substring(piece, half, piece.length)])
        else:
            split.append(piece)
    for seg, piece in enumerate(split):
        length = piece.length
        c0, c1 = np.asarray(piece.coords[0]), np.asarray(piece.coords[1])
        first = float(np.hypot(*(c1 - c0)))
        probe = Point((c0 + c1) / 2)
        parents = [j for j in tree.query(probe, predicate="dwithin", distance=1e-6).tolist()]
        if not parents:  # numerically off: take the nearest line
            parents = [int(tree.nearest(probe))]
        fwd = back = False
        kind = props[parents[0]][0]
        for j in parents:
            pkind, oneway = props[j]
            if not oneway:
                fwd = back = True
            else:  # compare directions locally, at the probe (robust on closed rings)
                d = lines[j].project(probe)
                step = min(first / 4, 0.5)
                a, b = lines[j].interpolate(max(d - step, 0.0)), lines[j].interpolate(min(d + step, lines[j].length))
                if (b.x - a.x) * (c1[0] - c0[0]) + (b.y - a.y) * (c1[1] - c0[1]) >= 0:
                    fwd = True
                else:
                    back = True
            if pkind in DRIVE_KINDS or kind not in DRIVE_KINDS:
                kind = pkind
        u, v = node(piece.coords[0]), node(piece.coords[-1])
        if u == v:
            continue  # a loop adds nothing to shortest paths
        if graph.has_edge(u, v) or graph.has_edge(v, u):
            # A second path between the same two nodes (the halves of a ring, a "bubble"): a simple
            # graph keeps one edge per pair, so split this one at its middle; its halves come later
            # in this loop and stay in the network for snapping and reach.
            half = length / 2
            split.extend([_substring(piece, 0, half), _substring(piece, half, length)])
            continue
        attrs = {"seg": seg, "kind": kind}
        edges = []
        if fwd or not graph.is_directed():
            edges.append((u, v, piece))
        if back and graph.is_directed():
            edges.append((v, u, piece.reverse()))
        for a, b, g in edges:
            graph.add_edge(a, b, geometry=g, length_m=length, start=a, **attrs)
