"""From building footprints in lon/lat to proposed zones with outlines in lon/lat: the one call the app makes.

The split is the heuristic's (patrolmap.zoning.partition), then, when the candidate zones under its
heaviest workload can be listed, the proven optimum (patrolmap.zoning.exact) replaces it; the
proposal says which (``method``, ``optimal``) and the proven lower bound on the heaviest workload.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from patrolmap.analysis.hexgrid import LocalProjection
from patrolmap.geo.kinds import KINDS
from patrolmap.zoning.exact import MAX_SETS, TIME_LIMIT_S, exact_partition
from patrolmap.zoning.graph import BAND_M, TOUCH_M, NeighbourGraph, neighbour_graph
from patrolmap.zoning.outlines import MARGIN_M, zone_outlines
from patrolmap.zoning.partition import Balance, Partition, partition

# The buildings grid officers look after by default: student dorms and staff apartments (the articles'
# "42 student dorm buildings and 3 staff apartments"), named as patrolmap.geo.kinds names them.
RESIDENTIAL_KINDS: tuple[str, ...] = tuple(k for k in KINDS if k in ("dorm", "staff_apartment"))
assert len(RESIDENTIAL_KINDS) == 2, "patrolmap.geo.kinds renamed a residential kind"


@dataclass(frozen=True)
class Split:
    """The zones chosen, whether they are proven optimal (heaviest workload), and the proven lower bound."""

    partition: Partition
    optimal: bool
    lower_bound: float
    exact_status: str


@dataclass(frozen=True)
class ZoneProposal:
    """zones[z] lists input positions; outlines are lon/lat; workloads[z] sums the zone's weights."""

    zones: list[list[int]]
    workloads: list[float]
    outlines: list[BaseGeometry]
    balance: Balance
    graph: NeighbourGraph
    split: Split

    @property
    def method(self) -> str:
        return self.split.partition.method


def projection_for(footprints: Sequence[BaseGeometry]) -> LocalProjection:
    """A metric projection centred on the buildings (distortion stays far below a metre across a campus)."""
    minx, miny, maxx, maxy = shapely.total_bounds(np.asarray(list(footprints), dtype=object))
    return LocalProjection((minx + maxx) / 2, (miny + maxy) / 2)


def in_metres(footprints: Sequence[BaseGeometry]) -> tuple[LocalProjection, np.ndarray]:
    projection = projection_for(footprints)
    return projection, projection.geometries(list(footprints))


def best_split(graph: NeighbourGraph, weights: Sequence[float], k: int, *, exact: bool = True,
               max_sets: int = MAX_SETS, time_limit_s: float = TIME_LIMIT_S, seed: int = 0) -> Split:
    """The heuristic's split, replaced by the proven optimum when that can be found within the limits."""
    heuristic = partition(graph, weights, k, seed=seed)
    if not exact or k == 1:
        return Split(heuristic, k == 1, heuristic.balance.max if k == 1 else float("nan"), "not attempted")
    result = exact_partition(graph, weights, k, upper=heuristic.balance.max, max_sets=max_sets,
                             time_limit_s=time_limit_s)
    if result.partition is not None and result.optimal:
        return Split(result.partition, True, result.bound, result.status)
    return Split(heuristic, False, result.bound, result.status)


def propose_zones(footprints: Sequence[BaseGeometry], weights: Sequence[float], k: int, *, band_m: float = BAND_M,
                  touch_m: float = TOUCH_M, margin_m: float = MARGIN_M, exact: bool = True,
                  seed: int = 0) -> ZoneProposal:
    """Split buildings (lon/lat footprints, one weight each) into k contiguous balanced zones, with outlines."""
    geoms = list(footprints)
    if not geoms:
        partition(neighbour_graph([]), [], k)  # raises the error for no buildings
    projection, metric = in_metres(geoms)
    graph = neighbour_graph(metric, band_m=band_m, touch_m=touch_m)
    split = best_split(graph, weights, k, exact=exact, seed=seed)
    part = split.partition
    outlines_m = zone_outlines(metric, part.labels, graph, margin_m=margin_m)
    outlines = list(projection.geometries_to_lonlat(outlines_m))
    return ZoneProposal(part.zones(), [float(v) for v in part.workloads], outlines, part.balance, graph, split)


def outlines_for(footprints: Sequence[BaseGeometry], labels: Sequence[int], *, band_m: float = BAND_M,
                 touch_m: float = TOUCH_M, margin_m: float = MARGIN_M) -> list[BaseGeometry]:
    """Outlines (lon/lat) for a given assignment of buildings to zones 0..k-1, e.g. one adjusted by hand."""
    geoms = list(footprints)
    if not geoms:
        return []
    projection, metric = in_metres(geoms)
    graph = neighbour_graph(metric, band_m=band_m, touch_m=touch_m)
    return list(projection.geometries_to_lonlat(zone_outlines(metric, labels, graph, margin_m=margin_m)))
