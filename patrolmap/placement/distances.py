"""Walking distances from charger sites to demand points, along the path network, within a cutoff.

Why not straight lines: a dorm 200 m from a charger as the crow flies may be 600 m away on foot
when a row of buildings or a fence lies between them, and spopt's coverage models measure
straight lines by default (pysal/spopt#362). So the site x demand matrix is built here from the
path network (`patrolmap.routing.network`, walk mode).

How:

1. Demand points, existing chargers and candidate sites are snapped onto the network once
   (`RoutingNetwork.snap`: nearest edge within ``max_snap_m``, edge split at the foot point); on the
   benchmark (2,500 points, 6,400 edges) this is most of the time, 0.2-0.4 s.
2. The snapped graph becomes a scipy CSR matrix of ``length_m``; scipy's compiled Dijkstra with
   ``limit = walk_m`` runs from each source, in blocks, from whichever side is smaller (sites or
   demand: the walk graph is undirected so both give the same numbers). On the 6,400-edge benchmark
   grid, 530 sources take 0.03 s, about 8x faster than networkx's per-source Dijkstra with a cutoff
   (``benchmarks/placement.py`` measures both and checks they agree).
3. A walking distance counts the straight access legs too (point -> its foot on the network,
   at both ends) unless ``count_access=False``: a dorm set back 60 m from the path is 60 m
   farther from every charger.
4. Distance to the nearest existing charger, with no cutoff, by one Dijkstra from a virtual
   source joined to every charger by its access leg (exact, one pass).

Unreachable points are reported with a reason, never dropped: too far from the network, or on a
part of the network with no charger or candidate site (demand) / no demand (a site). Their rows or
columns of the matrix are simply empty, so they count as uncovered demand / sites covering nothing.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import geopandas as gpd
import networkx as nx
import numpy as np
from scipy import sparse
from scipy.sparse import csgraph

from patrolmap.analysis.hexgrid import LocalProjection
from patrolmap.routing.network import SNAP_DISTANCE_M, RoutingNetwork

REASON_NO_SITE = "on a part of the path network with no charger or candidate site"
REASON_NO_DEMAND = "on a part of the path network with no demand point"
REASON_NO_NETWORK = "there is no path network"
BLOCK = 256  # Dijkstra sources per call: bounds the dense (block x nodes) result to ~20 MB on 10,000 nodes
_MIN_EDGE_M = 1e-9  # csgraph reads explicit zeros as missing edges: keep zero-length pieces as edges


@dataclass(frozen=True)
class UnreachablePoint:
    role: str  # "demand", "charger" or "candidate"
    index: int  # position in that role's input frame
    id: str
    reason: str
    distance_m: float | None = None  # to the path network, when known


@dataclass
class SnappedNetwork:
    """The network with all points snapped onto it, as a graph and as a CSR matrix (kept for isochrones)."""

    graph: nx.Graph
    nodes: list[int]  # matrix index -> graph node
    csr: sparse.csr_array  # lengths in metres, reversed when the graph is directed (walks *to* a site)
    demand_node: np.ndarray  # matrix index of each demand point's foot, -1 when off the network
    site_node: np.ndarray  # same for sites (existing chargers first, then candidates)
    demand_leg_m: np.ndarray  # straight access leg, 0 when not counted
    site_leg_m: np.ndarray
    component: np.ndarray  # connected component of each matrix node
    projection: LocalProjection  # metres <-> lon/lat of the graph's coordinates


@dataclass
class WalkingDistances:
    """Walking metres between sites (rows: existing chargers, then candidates) and demand points (columns).

    `matrix` stores every pair within `walk_m` (its *structure* is what counts: a charger standing on
    a demand point is stored with an explicit 0). Use `within(walk_m)` for any shorter walking distance
    without recomputing.
    """

    walk_m: float
    demand_ids: list[str]
    site_ids: list[str]
    fixed: np.ndarray  # bool per site: an existing charger (never moved, always counted)
    matrix: sparse.csr_array  # (n_sites, n_demand) float metres
    nearest_existing_m: np.ndarray  # per demand, inf when no existing charger is reachable
    nearest_existing: np.ndarray  # per demand, site index of that charger, -1 when none
    unreachable: list[UnreachablePoint]
    network: SnappedNetwork
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def n_fixed(self) -> int:
        return int(self.fixed.sum())

    @property
    def candidate_ids(self) -> list[str]:
        return self.site_ids[self.n_fixed:]

    def within(self, walk_m: float | None = None) -> sparse.csr_array:
        """Boolean site x demand matrix: True where the walk is at most `walk_m` (default: the cutoff)."""
        w = self.walk_m if walk_m is None else float(walk_m)
        if w > self.walk_m + 1e-9:
            raise ValueError(f"walk_m {w:g} exceeds the cutoff {self.walk_m:g} the matrix was built with")
        m = self.matrix
        keep = m.data <= w + 1e-9
        indptr = np.concatenate([[0], np.cumsum(keep)]).astype(np.int64)[m.indptr]
        return sparse.csr_array((np.ones(int(keep.sum()), dtype=bool), m.indices[keep], indptr), shape=m.shape)


def _lonlat_points(gdf: gpd.GeoDataFrame | None) -> list[tuple[float, float]]:
    if gdf is None or not len(gdf):
        return []
    geoms = gdf.geometry
    pts = geoms.where(geoms.geom_type == "Point", geoms.representative_point())
    return list(zip(pts.x.tolist(), pts.y.tolist(), strict=True))


def _ids(gdf: gpd.GeoDataFrame | None, prefix: str) -> list[str]:
    if gdf is None:
        return []
    if "id" in gdf:
        return [str(v) for v in gdf["id"]]
    return [f"{prefix}/{i}" for i in range(len(gdf))]


def graph_csr(graph: nx.Graph, *, reverse: bool = False) -> tuple[list[int], dict[int, int], sparse.csr_array]:
    """`graph` as a CSR matrix of `length_m` (both directions for an undirected graph)."""
    nodes = list(graph.nodes)
    index = {n: k for k, n in enumerate(nodes)}
    edges = np.array([(index[u], index[v], w) for u, v, w in graph.edges(data="length_m")], dtype=float)
    edges = edges.reshape(-1, 3)
    u, v = edges[:, 0].astype(np.int64), edges[:, 1].astype(np.int64)
    w = np.maximum(edges[:, 2], _MIN_EDGE_M)
    if not graph.is_directed():
        u, v, w = np.concatenate([u, v]), np.concatenate([v, u]), np.concatenate([w, w])
    elif reverse:
        u, v = v, u
    n = len(nodes)
    coo = sparse.coo_array((w, (u, v)), shape=(n, n))
    coo.sum_duplicates()  # none in a simple graph; min would be wrong only for parallel edges, which it has not
    return nodes, index, coo.tocsr()


def snap_points(network: RoutingNetwork, points: Sequence[tuple[float, float]],
                max_snap_m: float = SNAP_DISTANCE_M) -> tuple[nx.Graph, dict[int, int], dict[int, float],
                                                             dict[int, str]]:
    """Snap lon/lat points onto a copy of the network: (graph, index -> node, index -> metres off, too far).

    Connectivity is not checked here (there is no single start): every point within reach of an
    edge gets a node; the others get a reason.
    """
    graph = network.graph
    if graph.number_of_nodes() == 0:
        return graph.copy(), {}, {}, {i: REASON_NO_NETWORK for i in range(len(points))}
    anchor = next(iter(graph.nodes))
    x, y = graph.nodes[anchor]["x"], graph.nodes[anchor]["y"]
    lon, lat = network.projection.inverse(np.array([x]), np.array([y]))
    snapped = network.snap((float(lon[0]), float(lat[0])), list(points), max_distance_m=max_snap_m)
    nodes = {**snapped.nodes, **snapped.unreachable_nodes}
    too_far = {u.index: u.reason for u in snapped.unreachable if u.index not in nodes}
    off = dict(snapped.snap_distance_m)
    for u in snapped.unreachable:
        if u.index in too_far and u.distance_m is not None:
            off[u.index] = u.distance_m
    return snapped.graph, nodes, off, too_far


def _rows_from(csr: sparse.csr_array, sources: np.ndarray, targets: np.ndarray, limit: float) -> np.ndarray:
    """Dense (len(sources), len(targets)) network metres, inf beyond `limit`, Dijkstra in blocks."""
    out = np.full((len(sources), len(targets)), np.inf)
    uniq, inverse = np.unique(sources, return_inverse=True)
    for start in range(0, len(uniq), BLOCK):
        block = uniq[start:start + BLOCK]
        dist = csgraph.dijkstra(csr, directed=True, indices=block, limit=limit)
        rows = np.flatnonzero((inverse >= start) & (inverse < start + len(block)))
        out[rows] = dist[inverse[rows] - start][:, targets]
    return out


def walking_distances(network: RoutingNetwork, demand: gpd.GeoDataFrame, chargers: gpd.GeoDataFrame | None,
                      candidates: gpd.GeoDataFrame | None, walk_m: float, *, max_snap_m: float = SNAP_DISTANCE_M,
                      count_access: bool = True) -> WalkingDistances:
    """Site x demand walking metres within `walk_m` (sites = existing `chargers`, then `candidates`).

    Frames are lon/lat points (polygons use their representative point) with an ``id`` column;
    everything is snapped once. See the module docstring for what is counted and why.
    """
    if walk_m <= 0:
        raise ValueError("walk_m must be positive")
    timings: dict[str, float] = {}
    started = time.perf_counter()
    demand_pts, charger_pts, cand_pts = _lonlat_points(demand), _lonlat_points(chargers), _lonlat_points(candidates)
    demand_ids = _ids(demand, "demand")
    site_ids = _ids(chargers, "charger") + _ids(candidates, "candidate")
    n_d, n_c = len(demand_pts), len(charger_pts)
    n_s = n_c + len(cand_pts)
    graph, node_of, off, too_far = snap_points(network, demand_pts + charger_pts + cand_pts, max_snap_m)
    timings["snap_s"] = time.perf_counter() - started

    started = time.perf_counter()
    nodes, index, csr = graph_csr(graph, reverse=True)
    _, component = csgraph.connected_components(csr, directed=True, connection="weak")
    point_node = np.array([index[node_of[i]] if i in node_of else -1 for i in range(n_d + n_s)], dtype=np.int64)
    legs = np.array([off.get(i, 0.0) if count_access else 0.0 for i in range(n_d + n_s)])
    demand_node, site_node = point_node[:n_d], point_node[n_d:]
    demand_leg, site_leg = legs[:n_d], legs[n_d:]
    timings["graph_s"] = time.perf_counter() - started

    started = time.perf_counter()
    d_ok, s_ok = np.flatnonzero(demand_node >= 0), np.flatnonzero(site_node >= 0)
    if len(d_ok) and len(s_ok):
        if len(s_ok) <= len(d_ok):  # Dijkstra from the sites, on the reversed graph: metres walked *to* a site
            net = _rows_from(csr, site_node[s_ok], demand_node[d_ok], walk_m)
        else:  # from the demand, on the forward graph
            net = _rows_from(csr.T.tocsr(), demand_node[d_ok], site_node[s_ok], walk_m).T
        total = net + site_leg[s_ok][:, None] + demand_leg[d_ok][None, :]
        rows, cols = np.nonzero(total <= walk_m + 1e-9)
        vals = total[rows, cols]
        matrix = sparse.csr_array((vals, (s_ok[rows], d_ok[cols])), shape=(n_s, n_d))
        matrix.sort_indices()
    else:
        matrix = sparse.csr_array((n_s, n_d), dtype=float)
    timings["matrix_s"] = time.perf_counter() - started

    started = time.perf_counter()
    nearest_m = np.full(n_d, np.inf)
    nearest = np.full(n_d, -1, dtype=np.int64)
    fixed_ok = s_ok[s_ok < n_c]
    if len(fixed_ok) and len(d_ok):
        dist, first = _nearest_from(csr, site_node[fixed_ok], site_leg[fixed_ok])
        foot = first[demand_node[d_ok]]
        reached = foot >= 0
        nearest_m[d_ok[reached]] = dist[demand_node[d_ok[reached]]] + demand_leg[d_ok[reached]]
        nearest[d_ok[reached]] = fixed_ok[foot[reached]]
    timings["nearest_s"] = time.perf_counter() - started

    unreachable: list[UnreachablePoint] = []
    site_comps = set(component[site_node[s_ok]].tolist())
    demand_comps = set(component[demand_node[d_ok]].tolist())
    for i in range(n_d + n_s):
        role, k, ident = (("demand", i, demand_ids[i]) if i < n_d else
                          ("charger", i - n_d, site_ids[i - n_d]) if i < n_d + n_c else
                          ("candidate", i - n_d - n_c, site_ids[i - n_d]))
        if i in too_far:
            unreachable.append(UnreachablePoint(role, k, ident, too_far[i], off.get(i)))
        elif role == "demand" and component[point_node[i]] not in site_comps:
            unreachable.append(UnreachablePoint(role, k, ident, REASON_NO_SITE, off.get(i)))
        elif role != "demand" and component[point_node[i]] not in demand_comps:
            unreachable.append(UnreachablePoint(role, k, ident, REASON_NO_DEMAND, off.get(i)))
    fixed = np.zeros(n_s, dtype=bool)
    fixed[:n_c] = True
    snapped = SnappedNetwork(graph, nodes, csr, demand_node, site_node, demand_leg, site_leg, component,
                             network.projection)
    return WalkingDistances(float(walk_m), demand_ids, site_ids, fixed, matrix, nearest_m, nearest, unreachable,
                            snapped, timings)


def _nearest_from(csr: sparse.csr_array, feet: np.ndarray, legs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Metres from the nearest of several sources (each starting `legs` metres off its foot node) to every
    node, and which source (position in `feet`) that is, -1 when none reaches the node.

    One Dijkstra from a virtual source joined to each foot by its leg; the source of each node is then read
    off the predecessor tree in order of distance (a node inherits its predecessor's source).
    """
    n = csr.shape[0]
    best: dict[int, tuple[float, int]] = {}
    for k, (f, leg) in enumerate(zip(feet.tolist(), legs.tolist(), strict=True)):
        if f not in best or leg < best[f][0]:
            best[f] = (leg, k)
    feet_u = np.array(list(best), dtype=np.int64)
    coo = csr.tocoo()
    rows = np.concatenate([coo.row, np.full(len(feet_u), n)])
    cols = np.concatenate([coo.col, feet_u])
    vals = np.concatenate([coo.data, np.maximum([best[f][0] for f in feet_u.tolist()], _MIN_EDGE_M)])
    aug = sparse.csr_array((vals, (rows, cols)), shape=(n + 1, n + 1))
    dist, pred = csgraph.dijkstra(aug, directed=True, indices=n, return_predecessors=True)
    source = np.full(n + 1, -1, dtype=np.int64)
    order = np.argsort(dist, kind="stable")
    for v in order[np.isfinite(dist[order])].tolist():
        p = pred[v]
        if p == n:
            source[v] = best[v][1]
        elif p >= 0:
            source[v] = source[p]
    return dist[:n], source[:n]
