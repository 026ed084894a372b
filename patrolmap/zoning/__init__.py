"""Grid zones (issue 9): split dorm buildings among grid officers into contiguous, balanced zones.

Pure code on shapely, numpy and scipy, no Flask or database, so the web layer, the benchmarks and
the tests call the same functions. A typical sequence (footprints in metres, see
patrolmap.analysis.hexgrid.LocalProjection; ``propose_zones`` does all of it from lon/lat)::

    graph = neighbour_graph(footprints_m)              # who neighbours whom (Delaunay + distance band)
    split = partition(graph, residents, k=15)          # contiguous zones, heaviest workload minimised
    split.balance                                      # min, max, mean and max/mean of the workloads
    outlines = zone_outlines(footprints_m, split.labels, graph)   # non-overlapping polygons

``exact_partition`` proves the optimum when the candidate zones can be listed (set partitioning);
``best_split`` runs the heuristic and then that.
"""

from patrolmap.zoning.exact import ExactResult, connected_sets, exact_partition
from patrolmap.zoning.graph import BAND_M, TOUCH_M, Edge, NeighbourGraph, neighbour_graph
from patrolmap.zoning.outlines import MARGIN_M, zone_outlines
from patrolmap.zoning.partition import RESTARTS, Balance, Partition, balance_of, partition, reading_order
from patrolmap.zoning.propose import (
    RESIDENTIAL_KINDS,
    Split,
    ZoneProposal,
    best_split,
    in_metres,
    outlines_for,
    projection_for,
    propose_zones,
)

__all__ = [
    "BAND_M",
    "MARGIN_M",
    "RESIDENTIAL_KINDS",
    "RESTARTS",
    "TOUCH_M",
    "Balance",
    "Edge",
    "ExactResult",
    "NeighbourGraph",
    "Partition",
    "Split",
    "ZoneProposal",
    "balance_of",
    "best_split",
    "connected_sets",
    "exact_partition",
    "in_metres",
    "neighbour_graph",
    "outlines_for",
    "partition",
    "projection_for",
    "propose_zones",
    "reading_order",
    "zone_outlines",
]
