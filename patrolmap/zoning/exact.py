"""The proven best split, when the candidate zones can be listed: set partitioning solved by HiGHS.

The heaviest zone of the best split is itself a connected set of buildings, so the optimum is
one of the workloads of connected sets. Given an upper bound U (the heuristic's heaviest zone):

1. list every connected set of buildings of workload at most U (ESU enumeration: each set grown
   from its lowest-numbered building, through neighbours not yet next to the set, once);
2. binary search over their distinct workloads T from the lower bound (the mean, or the heaviest
   single building) up: is there a choice of exactly N listed sets of workload <= T covering every
   building exactly once? (a set-partitioning integer program, solved by HiGHS through
   scipy.optimize.milp). The smallest such T is the optimum;
3. among the splits reaching it, the one with the smallest sum of squared workloads, then the most
   compact (the least squared distance of buildings to their zone's centre), as the heuristic ranks.

Zones of a few buildings each (45 buildings, 15 officers) give a few hundred sets; zones of dozens
of buildings, or many buildings with no residents recorded (weight 0 caps nothing), give too many:
then the listing stops at ``max_sets`` and the answer says it was not attempted.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import csr_matrix, vstack

from patrolmap.zoning.graph import NeighbourGraph
from patrolmap.zoning.partition import Partition, balance_of, check_inputs, reading_order

MAX_SETS = 100_000
TIME_LIMIT_S = 10.0


@dataclass(frozen=True)
class ExactResult:
    """The best split (None if not found), whether it is proven optimal, the proven lower bound on the
    heaviest workload, how many candidate zones were listed, and what happened."""

    partition: Partition | None
    optimal: bool
    bound: float
    sets: int
    status: str


class TooManySets(Exception):
    pass


def connected_sets(graph: NeighbourGraph, weights: np.ndarray, cap: float, max_sets: int = MAX_SETS) -> list[int]:
    """Every connected set of buildings with total weight <= cap, as bit masks (TooManySets past max_sets)."""
    n = graph.n
    neighbours = [0] * n
    for v in range(n):
        for u in graph.adjacency[v]:
            neighbours[v] |= 1 << u
    out: list[int] = []
    slack = 1e-9 * max(cap, 1.0)

    def extend(members: int, closed: int, extension: list[int], weight: float, root: int) -> None:
        out.append(members)
        if len(out) > max_sets:
            raise TooManySets
        extension = list(extension)
        while extension:
            v = extension.pop()
            if weight + weights[v] > cap + slack:
                continue
            fresh = [u for u in graph.adjacency[v] if u > root and not (closed >> u) & 1]
            extend(members | 1 << v, closed | neighbours[v] | 1 << v, extension + fresh, weight + weights[v], root)

    for root in range(n):
        if weights[root] <= cap + slack:
            start = [u for u in graph.adjacency[root] if u > root]
            extend(1 << root, neighbours[root] | 1 << root, start, float(weights[root]), root)
    return out


def _members(mask: int) -> list[int]:
    out = []
    i = 0
    while mask:
        if mask & 1:
            out.append(i)
        mask >>= 1
        i += 1
    return out


def _solve(cover: csr_matrix, chosen: np.ndarray, k: int, cost: np.ndarray | None, time_limit_s: float):
    """Exactly k of the chosen sets covering every building once: any (cost None) or the cheapest."""
    sub = cover[:, chosen]
    n, m = sub.shape
    matrix = vstack([sub, csr_matrix(np.ones((1, m)))]).tocsr()
    rhs = np.r_[np.ones(n), k]
    c = np.zeros(m) if cost is None else cost[chosen]
    return milp(c, constraints=LinearConstraint(matrix, rhs, rhs), integrality=np.ones(m), bounds=Bounds(0, 1),
                options={"time_limit": max(time_limit_s, 0.1), "disp": False})


def exact_partition(graph: NeighbourGraph, weights: Sequence[float], k: int, *, upper: float | None = None,
                    max_sets: int = MAX_SETS, time_limit_s: float = TIME_LIMIT_S) -> ExactResult:
    """The min-max contiguous split, proven optimal when the listing and the solves finish (module docstring).

    `upper` is a known achievable heaviest workload (e.g. partition()'s), which bounds the listing; without it
    the total workload is used, which lists every connected set and suits tiny instances only.
    """
    started = time.perf_counter()
    w = check_inputs(graph, weights, k)
    total = float(w.sum())
    lower = max(total / k, float(w.max()))
    if np.all(w == np.round(w)):
        lower = max(float(math.ceil(total / k - 1e-9)), float(w.max()))
    cap = total if upper is None else float(upper)
    try:
        masks = connected_sets(graph, w, cap, max_sets)
    except TooManySets:
        return ExactResult(None, False, lower, max_sets, f"more than {max_sets} candidate zones; not attempted")
    members = [_members(m) for m in masks]
    loads = np.array([w[s].sum() for s in members])
    rows = [v for s in members for v in s]
    cols = [j for j, s in enumerate(members) for _ in s]
    cover = csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(graph.n, len(masks)))
    xy = graph.xy - graph.xy.mean(axis=0)
    spread = np.array([float(np.sum((xy[s] - xy[s].mean(axis=0)) ** 2)) for s in members])
    slack = 1e-9 * max(total, 1.0)
    thresholds = np.unique(loads[loads >= lower - slack])
    if not len(thresholds):
        return ExactResult(None, False, lower, len(masks), "no connected set reaches the lower bound under the cap")
    deadline = started + time_limit_s
    lo, hi = 0, len(thresholds) - 1
    if upper is None:
        feasible_top = _solve(cover, np.flatnonzero(loads <= thresholds[hi] + slack), k, None, time_limit_s)
        if feasible_top.status != 0:
            return ExactResult(None, False, lower, len(masks), feasible_top.message)
    # the smallest threshold with a feasible split; thresholds[hi] is feasible (the heuristic reached it)
    while lo < hi:
        if time.perf_counter() > deadline:
            return ExactResult(None, False, float(thresholds[lo]), len(masks), "time limit reached")
        mid = (lo + hi) // 2
        res = _solve(cover, np.flatnonzero(loads <= thresholds[mid] + slack), k, None,
                     deadline - time.perf_counter())
        if res.status == 0:
            hi = mid
        elif res.status == 2:  # infeasible
            lo = mid + 1
        else:
            return ExactResult(None, False, float(thresholds[lo]), len(masks), res.message)
    best = float(thresholds[lo])
    chosen = np.flatnonzero(loads <= best + slack)
    mean = total / k if total > 0 else 1.0
    scale = float(spread[chosen].sum()) or 1.0
    cost = (loads / mean) ** 2 + 1e-6 * spread / scale
    found = _solve(cover, chosen, k, cost, max(deadline - time.perf_counter(), 1.0))
    if found.x is None:
        return ExactResult(None, False, best, len(masks), found.message)
    picked = chosen[np.flatnonzero(found.x > 0.5)]
    labels = np.full(graph.n, -1)
    for z, j in enumerate(picked.tolist()):
        labels[members[j]] = z
    labels = reading_order(graph.xy, labels, k)
    zone_loads = np.bincount(labels, weights=w, minlength=k)
    part = Partition(labels, zone_loads, balance_of(zone_loads), "exact", 1, time.perf_counter() - started)
    return ExactResult(part, True, best, len(masks), "optimal")
