"""Split buildings into N contiguous zones of balanced workload (one zone per grid officer).

The problem: given the neighbour graph (patrolmap.zoning.graph), a weight per building (its
residents, or 1 to balance building counts) and N, find N non-empty zones, each connected in
the graph, that minimise the heaviest zone's workload. It is NP-hard in general; the heuristic
here is the usual one for districting, made deterministic:

1. Seeds and region growing. N seed buildings far apart along the graph (farthest-point on the
   first start, k-means++ sampling on the others), then the lightest zone that still has an
   unassigned neighbour takes the one nearest its seed (graph distance), until every building
   has a zone. Every zone is connected by construction.
2. Local improvement by boundary moves. A building on a zone's edge moves to a neighbouring zone
   when its old zone stays connected without it (it is no articulation point there, checked by
   a search of the zone without it) and the move lowers (heaviest workload, sum of squared
   workloads, spread) in that order: the sum of squares pulls every zone towards the mean, not
   only the heaviest one, and the spread (squared distances of buildings to their zone's centre)
   keeps zones compact among equally balanced answers. The best move is taken until none improves.
3. Tabu search from there: the best allowed move is taken even when it makes things worse, and
   moving that building back is forbidden for a few rounds, which walks out of the local optima
   of step 2 (the 45-building campus of benchmarks/zoning.py among 15 officers: max/mean 1.175 after
   step 2, 1.102 after step 3, which is the proven optimum).
4. Restarts from other seeds (a fixed random sequence, so the same input always gives the same
   zones); the best end result wins.

The zones are numbered in reading order of their centres (north to south, then west to east).
patrolmap.zoning.exact then finds the proven optimum when the candidate zones can be listed
(patrolmap.zoning.propose runs both).
"""

from __future__ import annotations

import heapq
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

from patrolmap.analysis.errors import N_, InputError
from patrolmap.zoning.graph import NeighbourGraph

RESTARTS = 6
TENURE = 10
ITERATIONS_PER_BUILDING = 15
MAX_ITERATIONS = 600


@dataclass(frozen=True)
class Balance:
    """Workload per zone summed up: the lightest, the heaviest, the mean and heaviest/mean (1.0 is perfect)."""

    min: float
    max: float
    mean: float
    ratio: float

    def as_dict(self, digits: int = 3) -> dict[str, float]:
        return {"min": round(self.min, digits), "max": round(self.max, digits), "mean": round(self.mean, digits),
                "ratio": round(self.ratio, digits)}


def balance_of(workloads: Sequence[float]) -> Balance:
    """The balance of the given zone workloads (ratio is max/mean; NaN when the mean is 0)."""
    values = np.asarray(list(workloads), dtype=float)
    if values.size == 0:
        return Balance(math.nan, math.nan, math.nan, math.nan)
    mean = float(values.mean())
    top = float(values.max())
    return Balance(float(values.min()), top, mean, top / mean if mean > 0 else math.nan)


@dataclass(frozen=True)
class Partition:
    """labels[i] is building i's zone (0..k-1); workloads[z] the sum of zone z's weights."""

    labels: np.ndarray
    workloads: np.ndarray
    balance: Balance
    method: str
    restarts: int
    seconds: float

    def zones(self) -> list[list[int]]:
        """The buildings of each zone, by zone."""
        return [np.flatnonzero(self.labels == z).tolist() for z in range(len(self.workloads))]


def check_inputs(graph: NeighbourGraph, weights: Sequence[float], k: int) -> np.ndarray:
    """The weights as an array, after the checks every partition method shares."""
    w = np.asarray(list(weights), dtype=float)
    if len(w) != graph.n:
        raise ValueError(f"{len(w)} weights for {graph.n} buildings")
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise InputError(N_("the number of zones must be a whole number of at least 1, got %(k)s"), k=k)
    if graph.n == 0:
        raise InputError(N_("there are no buildings to split into zones"))
    if k > graph.n:
        raise InputError(N_("%(k)s zones for %(n)s buildings: every zone needs at least one building, so ask for "
                            "at most %(n)s"), k=int(k), n=graph.n)
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise InputError(N_("building workloads must be numbers of at least 0"))
    if not graph.connected(range(graph.n)):
        raise ValueError("the neighbour graph must be connected (patrolmap.zoning.graph makes it so)")
    return w


class _State:
    """A partition being improved: labels, workloads, members, and the sums the spread needs."""

    def __init__(self, graph: NeighbourGraph, w: np.ndarray, labels: np.ndarray, k: int) -> None:
        self.graph, self.w, self.k = graph, w, k
        self.labels = labels.copy()
        self.members: list[set[int]] = [set() for _ in range(k)]
        self.load = np.zeros(k)
        self.count = np.zeros(k)
        self.sx, self.sy, self.sq = np.zeros(k), np.zeros(k), np.zeros(k)
        xy = graph.xy - graph.xy.mean(axis=0)  # centred: keeps the sums small and exact enough
        self.xy = xy
        for v, z in enumerate(self.labels.tolist()):
            self._add(v, z, 1)

    def _add(self, v: int, z: int, sign: int) -> None:
        x, y = self.xy[v]
        if sign > 0:
            self.members[z].add(v)
        else:
            self.members[z].discard(v)
        self.load[z] += sign * self.w[v]
        self.count[z] += sign
        self.sx[z] += sign * x
        self.sy[z] += sign * y
        self.sq[z] += sign * (x * x + y * y)

    def spread(self, z: int) -> float:
        """Squared distances of the zone's buildings to its centre, summed."""
        return _spread(float(self.count[z]), float(self.sx[z]), float(self.sy[z]), float(self.sq[z]))

    def key(self) -> tuple[float, float, float]:
        loads = self.load.tolist()
        return (max(loads), sum(v * v for v in loads), sum(self.spread(z) for z in range(self.k)))

    def move(self, v: int, b: int) -> None:
        a = int(self.labels[v])
        self._add(v, a, -1)
        self._add(v, b, 1)
        self.labels[v] = b


def _better(new: tuple[float, float, float], old: tuple[float, float, float], eps: tuple[float, float, float]) -> bool:
    for a, b, e in zip(new, old, eps, strict=True):
        if a < b - e:
            return True
        if a > b + e:
            return False
    return False


def _spread(count: float, sx: float, sy: float, sq: float) -> float:
    return sq - (sx * sx + sy * sy) / count if count > 0 else 0.0


def _candidates(state: _State, eps: tuple[float, float, float], current: tuple[float, float, float],
                tabu: dict[tuple[int, int], int] | None, now: int, best: tuple[float, float, float] | None,
                ) -> list[tuple[tuple[float, float, float], int, int]]:
    """Every boundary move and its key; improving ones only when tabu is None, else every non-tabu one.

    Plain Python floats inside: this is the hot loop, and numpy scalars would make it several times slower.
    """
    graph = state.graph
    w, labels = state.w.tolist(), state.labels.tolist()
    load, count = state.load.tolist(), state.count.tolist()
    sx, sy, sq = state.sx.tolist(), state.sy.tolist(), state.sq.tolist()
    xy = state.xy.tolist()
    order = sorted(range(state.k), key=lambda z: -load[z])[:3]
    spreads = [_spread(count[z], sx[z], sy[z], sq[z]) for z in range(state.k)]
    total_spread = sum(spreads)
    ss = current[1]
    out: list[tuple[tuple[float, float, float], int, int]] = []
    for v in range(graph.n):
        a = labels[v]
        if count[a] <= 1:
            continue
        targets = {labels[u] for u in graph.adjacency[v]}
        targets.discard(a)
        if not targets:
            continue
        x, y = xy[v]
        q = x * x + y * y
        wv = w[v]
        la = load[a] - wv
        spread_a = _spread(count[a] - 1, sx[a] - x, sy[a] - y, sq[a] - q)
        for b in targets:
            lb = load[b] + wv
            rest = 0.0
            for z in order:
                if z != a and z != b:
                    rest = load[z]
                    break
            new_max = max(la, lb, rest)
            new_ss = ss + 2 * wv * (load[b] - load[a] + wv)
            new_spread = (total_spread - spreads[a] - spreads[b] + spread_a
                          + _spread(count[b] + 1, sx[b] + x, sy[b] + y, sq[b] + q))
            key = (new_max, new_ss, new_spread)
            if tabu is None:
                if _better(key, current, eps):
                    out.append((key, v, b))
            elif tabu.get((v, b), -1) < now or (best is not None and _better(key, best, eps)):
                out.append((key, v, b))
    out.sort()
    return out


def _apply_first_connected(state: _State, candidates: list[tuple[tuple[float, float, float], int, int]]
                           ) -> tuple[int, int] | None:
    """Make the first move whose building's old zone stays connected without it; (building, old zone)."""
    for _key, v, b in candidates:
        a = int(state.labels[v])
        if state.graph.connected(state.members[a] - {v}):
            state.move(v, b)
            return v, a
    return None


def _descend(state: _State, eps: tuple[float, float, float]) -> None:
    """Steepest descent: the best improving move that keeps every zone connected, until there is none."""
    while True:
        current = state.key()
        if _apply_first_connected(state, _candidates(state, eps, current, None, 0, None)) is None:
            return


def _tabu_search(state: _State, eps: tuple[float, float, float], iterations: int, tenure: int) -> np.ndarray:
    """Tabu search: take the best allowed move even when it makes things worse, and forbid moving the building
    back for `tenure` rounds (unless that beats the best found), to walk out of local optima; returns the best
    labels seen."""
    best_key = state.key()
    best = state.labels.copy()
    tabu: dict[tuple[int, int], int] = {}
    stale = 0
    for now in range(iterations):
        current = state.key()
        made = _apply_first_connected(state, _candidates(state, eps, current, tabu, now, best_key))
        if made is None:
            break
        v, a = made
        tabu[(v, a)] = now + tenure
        key = state.key()
        if _better(key, best_key, eps):
            best_key, best, stale = key, state.labels.copy(), 0
        else:
            stale += 1
            if stale > iterations // 3:
                break
    return best


def _shortest_paths(graph: NeighbourGraph) -> np.ndarray:
    n = graph.n
    rows, cols, vals = [], [], []
    for e in graph.edges:
        length = float(np.hypot(*(graph.xy[e.i] - graph.xy[e.j]))) or 1e-6
        rows += [e.i, e.j]
        cols += [e.j, e.i]
        vals += [length, length]
    matrix = csr_matrix((vals, (rows, cols)), shape=(n, n))
    return dijkstra(matrix, directed=False)


def _seeds(dist: np.ndarray, k: int, rng: np.random.Generator | None) -> list[int]:
    n = len(dist)
    if rng is None:
        # farthest-point, starting from the most central building
        seeds = [int(np.argmin(dist.max(axis=1)))]
        while len(seeds) < k:
            nearest = dist[seeds].min(axis=0)
            nearest[seeds] = -1
            seeds.append(int(np.argmax(nearest)))
        return seeds
    seeds = [int(rng.integers(n))]
    while len(seeds) < k:
        d2 = dist[seeds].min(axis=0) ** 2
        d2[seeds] = 0
        total = d2.sum()
        if total <= 0:
            rest = [v for v in range(n) if v not in seeds]
            seeds.append(int(rng.choice(rest)))
        else:
            seeds.append(int(rng.choice(n, p=d2 / total)))
    return seeds


def _grow(graph: NeighbourGraph, w: np.ndarray, dist: np.ndarray, seeds: list[int]) -> np.ndarray:
    """Region growing: the lightest zone with a free neighbour takes the one nearest its seed."""
    labels = np.full(graph.n, -1)
    load = np.zeros(len(seeds))
    frontier: list[list[tuple[float, int]]] = [[] for _ in seeds]
    for z, s in enumerate(seeds):
        labels[s] = z
        load[z] += w[s]
    for z, s in enumerate(seeds):
        for u in graph.adjacency[s]:
            heapq.heappush(frontier[z], (float(dist[s, u]), u))
    left = graph.n - len(seeds)
    while left:
        best = None
        for z in np.argsort(load, kind="stable").tolist():
            heap = frontier[z]
            while heap and labels[heap[0][1]] != -1:
                heapq.heappop(heap)
            if heap:
                best = z
                break
        if best is None:  # cannot happen on a connected graph
            raise RuntimeError("region growing stalled")
        _, v = heapq.heappop(frontier[best])
        labels[v] = best
        load[best] += w[v]
        left -= 1
        seed = seeds[best]
        for u in graph.adjacency[v]:
            if labels[u] == -1:
                heapq.heappush(frontier[best], (float(dist[seed, u]), u))
    return labels


def reading_order(xy: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    """Renumber zones north to south, then west to east (by their centres, in 50 m bands)."""
    centres = np.array([xy[labels == z].mean(axis=0) for z in range(k)])
    order = sorted(range(k), key=lambda z: (-round(centres[z, 1] / 50.0), centres[z, 0]))
    new = np.empty(k, dtype=int)
    new[order] = np.arange(k)
    return new[labels]


def partition(graph: NeighbourGraph, weights: Sequence[float], k: int, *, restarts: int = RESTARTS,
              iterations: int | None = None, tenure: int = TENURE, seed: int = 0) -> Partition:
    """N contiguous zones of balanced workload (see the module docstring); deterministic for a given seed.

    `iterations` caps the tabu search per start (default 15 per building, at most 600; 0 skips it).
    """
    started = time.perf_counter()
    w = check_inputs(graph, weights, k)
    if restarts < 1:
        raise ValueError("restarts must be at least 1")
    if iterations is None:
        iterations = min(MAX_ITERATIONS, ITERATIONS_PER_BUILDING * graph.n)
    total = float(w.sum())
    span = float(np.ptp(graph.xy, axis=0).max()) if graph.n > 1 else 1.0
    eps = (1e-9 * max(total, 1.0), 1e-9 * max(total, 1.0) ** 2, 1e-9 * graph.n * max(span, 1.0) ** 2)
    dist = _shortest_paths(graph)
    rng = np.random.default_rng(seed)
    best: _State | None = None
    tried = 0
    for attempt in range(restarts if k > 1 else 1):
        seeds = _seeds(dist, k, None if attempt == 0 else rng)
        state = _State(graph, w, _grow(graph, w, dist, seeds), k)
        _descend(state, eps)
        if iterations:
            state = _State(graph, w, _tabu_search(state, eps, iterations, tenure), k)
            _descend(state, eps)
        tried += 1
        if best is None or _better(state.key(), best.key(), eps):
            best = state
    assert best is not None
    labels = reading_order(graph.xy, best.labels, k)
    loads = np.bincount(labels, weights=w, minlength=k)
    return Partition(labels, loads, balance_of(loads), "regions+tabu", tried, time.perf_counter() - started)
