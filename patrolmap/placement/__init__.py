"""Charger placement review (issue 8): demand, walking coverage and new sites, per kind of charger.

Pure analysis on GeoDataFrames, shapely and numpy, no Flask or database, so the web layer and the
benchmarks call the same code. A typical call sequence, per kind ("car" or "ebike")::

    net = build_network(paths, "walk")                      # patrolmap.routing.network
    demand = demand_points(buildings, parking_lots, "ebike")
    dist = walking_distances(net, demand, charger_sites(chargers, "ebike"), candidate_sites(parking_lots), 300)
    now = coverage(dist, demand["weight"])                   # existing chargers
    rings = isochrones(dist)                                 # walking-distance areas, lon/lat
    plan = suggest_sites(dist, demand["weight"], k=3)        # MCLP, existing chargers fixed
    few = fewest_sites(dist, demand["weight"], 0.9)          # fewest new sites for 90 %
"""

from patrolmap.placement.coverage import ISOCHRONE_BUFFER_M, Coverage, coverage, coverage_table, isochrones
from patrolmap.placement.demand import (
    DEFAULTS,
    KINDS,
    DemandDefaults,
    candidate_sites,
    charger_sites,
    demand_points,
)
from patrolmap.placement.distances import UnreachablePoint, WalkingDistances, walking_distances
from patrolmap.placement.mclp import (
    EXACT_MAX_NONZEROS,
    ChosenSite,
    Solution,
    Suggestion,
    exact_max_cover,
    exact_min_sites,
    fewest_sites,
    greedy_max_cover,
    greedy_min_sites,
    suggest_sites,
)

__all__ = [
    "DEFAULTS",
    "EXACT_MAX_NONZEROS",
    "ISOCHRONE_BUFFER_M",
    "KINDS",
    "ChosenSite",
    "Coverage",
    "DemandDefaults",
    "Solution",
    "Suggestion",
    "UnreachablePoint",
    "WalkingDistances",
    "candidate_sites",
    "charger_sites",
    "coverage",
    "coverage_table",
    "demand_points",
    "exact_max_cover",
    "exact_min_sites",
    "fewest_sites",
    "greedy_max_cover",
    "greedy_min_sites",
    "isochrones",
    "suggest_sites",
    "walking_distances",
]
