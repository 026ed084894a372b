"""Which demand a set of charger sites covers within a walking distance, and the areas they reach.

Why on the network: coverage is "can a student walk from the dorm to a charger within walk_m",
so both the covered/uncovered split and the isochrone areas come from network distances
(`patrolmap.placement.distances`), never from circles drawn around the chargers.

Isochrones: for each site, the parts of edges reachable within ``walk_m`` (an edge reached from
both ends is reachable where either end's remaining budget reaches; the site's own access leg
counts against the budget), buffered by ``buffer_m`` (default `ISOCHRONE_BUFFER_M` = 5 m, a path's
width, so that the area can be drawn and hit-tested) and unioned, then returned in lon/lat.
Demand counts as covered when its *whole* walk (access legs included) fits in ``walk_m``: its foot
on the network then lies in the isochrone, the demand point itself may lie outside the buffer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import shapely
from scipy.sparse import csgraph
from shapely.geometry import LineString
from shapely.ops import substring

from patrolmap.placement.distances import WalkingDistances

ISOCHRONE_BUFFER_M = 5.0


@dataclass
class Coverage:
    """Coverage of the demand by `sites` (site indices of a `WalkingDistances`) within `walk_m`."""

    walk_m: float
    sites: np.ndarray  # site indices counted
    weights: np.ndarray  # per demand
    covered: np.ndarray  # bool per demand
    nearest_site: np.ndarray  # per demand: the covering site with the shortest walk, -1 when uncovered
    nearest_m: np.ndarray  # its walking metres, inf when uncovered

    @property
    def total_weight(self) -> float:
        return float(self.weights.sum())

    @property
    def covered_weight(self) -> float:
        return float(self.weights[self.covered].sum())

    @property
    def share(self) -> float:
        """Covered share of the total demand weight (0 when there is no demand)."""
        total = self.total_weight
        return self.covered_weight / total if total > 0 else 0.0

    def uncovered(self) -> np.ndarray:
        """Indices of uncovered demand, heaviest first (ties in input order): where a new site helps most."""
        idx = np.flatnonzero(~self.covered)
        return idx[np.argsort(-self.weights[idx], kind="stable")]


def _weights(dist: WalkingDistances, weights: Sequence[float] | np.ndarray) -> np.ndarray:
    w = np.asarray(weights, dtype=float)
    if w.shape != (len(dist.demand_ids),):
        raise ValueError(f"expected {len(dist.demand_ids)} weights, got {w.shape}")
    if (w < 0).any() or not np.isfinite(w).all():
        raise ValueError("weights must be finite and not negative")
    return w


def coverage(dist: WalkingDistances, weights: Sequence[float] | np.ndarray, sites: Sequence[int] | None = None,
             walk_m: float | None = None) -> Coverage:
    """Coverage by `sites` (default: the existing chargers) within `walk_m` (default: the matrix cutoff)."""
    w = _weights(dist, weights)
    chosen = np.flatnonzero(dist.fixed) if sites is None else np.unique(np.asarray(sites, dtype=np.int64))
    limit = dist.walk_m if walk_m is None else float(walk_m)
    if limit > dist.walk_m + 1e-9:
        raise ValueError(f"walk_m {limit:g} exceeds the cutoff {dist.walk_m:g} the matrix was built with")
    sub = dist.matrix[chosen].tocoo() if len(chosen) else None
    nearest_m = np.full(len(w), np.inf)
    nearest = np.full(len(w), -1, dtype=np.int64)
    if sub is not None and sub.nnz:
        keep = sub.data <= limit + 1e-9
        rows, cols, vals = chosen[sub.row[keep]], sub.col[keep], sub.data[keep]
        order = np.lexsort((rows, vals))  # shortest walk first, then lowest site index
        cols_o = cols[order]
        _, first = np.unique(cols_o, return_index=True)
        hit = cols_o[first]
        nearest[hit] = rows[order][first]
        nearest_m[hit] = vals[order][first]
    return Coverage(limit, chosen, w, nearest >= 0, nearest, nearest_m)


def coverage_table(demand: gpd.GeoDataFrame, dist: WalkingDistances, cov: Coverage) -> gpd.GeoDataFrame:
    """`demand` with covered, covering site id, walk to it and walk to the nearest existing charger.

    Rows sorted uncovered first, heaviest first: the order a planner reads the list in.
    """
    out = demand.copy()
    out["covered"] = cov.covered
    out["site_id"] = [dist.site_ids[s] if s >= 0 else None for s in cov.nearest_site]
    out["walk_m"] = np.where(cov.covered, cov.nearest_m, np.nan)
    out["nearest_existing_m"] = np.where(np.isfinite(dist.nearest_existing_m), dist.nearest_existing_m, np.nan)
    out["nearest_existing_id"] = [dist.site_ids[s] if s >= 0 else None for s in dist.nearest_existing]
    order = np.lexsort((np.arange(len(out)), -cov.weights, cov.covered))
    return out.iloc[order]


def _reach_pieces(dist: WalkingDistances, node_dist: np.ndarray, budget: float) -> list[LineString]:
    """The parts of edges (metres) within `budget` of a source, given network metres to every node."""
    net = dist.network
    index = {n: k for k, n in enumerate(net.nodes)}
    pieces: list[LineString] = []
    for u, v, data in net.graph.edges(data=True):
        a, b = (u, v) if data["start"] == u else (v, u)  # geometry runs from a to b
        length = data["length_m"]
        geom = data["geometry"]
        # metres *to* the site from each end: the csr is reversed, so node_dist[x] is x -> site
        da, db = node_dist[index[a]], node_dist[index[b]]
        ra, rb = budget - da, budget - db  # how far along the edge each end still reaches
        if ra <= 0 and rb <= 0:
            continue
        if max(ra, 0) + max(rb, 0) >= length:
            pieces.append(geom)
            continue
        if ra > 0:
            pieces.append(substring(geom, 0.0, ra))
        if rb > 0:
            pieces.append(substring(geom, length - rb, length))
    return [p for p in pieces if isinstance(p, LineString) and not p.is_empty]


def isochrones(dist: WalkingDistances, sites: Sequence[int] | None = None, walk_m: float | None = None, *,
               buffer_m: float = ISOCHRONE_BUFFER_M) -> gpd.GeoDataFrame:
    """One lon/lat polygon per site (default: existing chargers): the network within `walk_m` walking, buffered.

    Columns site_id, reach_m (metres of network reached), geometry (None when the site is off the network).
    Computed per site (a Dijkstra each, limited to `walk_m`), so call it for the sites on screen.
    """
    net = dist.network
    chosen = np.flatnonzero(dist.fixed) if sites is None else np.asarray(sites, dtype=np.int64)
    limit = dist.walk_m if walk_m is None else float(walk_m)
    rows: list[dict[str, object]] = []
    geoms = []
    for s in chosen.tolist():
        node, leg = int(net.site_node[s]), float(net.site_leg_m[s])
        budget = limit - leg
        if node < 0 or budget < 0:
            rows.append({"site_id": dist.site_ids[s], "reach_m": 0.0})
            geoms.append(None)
            continue
        # csr is reversed (edge x->y stored as y->x), so Dijkstra from the site on it gives metres x -> site
        node_dist = csgraph.dijkstra(net.csr, directed=True, indices=node, limit=budget)
        pieces = _reach_pieces(dist, node_dist, budget)
        reach = float(sum(p.length for p in pieces))
        if pieces:
            area = shapely.union_all(shapely.buffer(np.asarray(pieces, dtype=object), buffer_m))
        else:  # a site right at the limit: just its foot
            x, y = net.graph.nodes[net.nodes[node]]["x"], net.graph.nodes[net.nodes[node]]["y"]
            area = shapely.Point(x, y).buffer(buffer_m)
        geoms.append(net.projection.geometries_to_lonlat([area])[0])
        rows.append({"site_id": dist.site_ids[s], "reach_m": reach})
    return gpd.GeoDataFrame(rows or {"site_id": [], "reach_m": []}, geometry=geoms, crs="EPSG:4326")

