"""Splitting checkpoints between K patrol teams, and capping a route at a maximum duration.

Why this module: with K teams leaving the same start, "balanced" means the longest route is as
short as possible (min-max), which a plain single tour cut into K pieces does not give.

Method: sweep (checkpoints sorted by bearing from the start, cut into K runs of equal count)
from several rotations, keeping the partition whose longest tour is shortest; then local
improvement: move a checkpoint off the longest route, or swap one with another route, when the
re-optimised tours lower the longest route (moves are pre-screened by cheapest insertion).
With a duration cap (``max_minutes`` at ``speed_m_per_min``), checkpoints are dropped from
routes that are too long (the one saving most first) and reinserted wherever they still fit;
those left over are reported as ``not_fitted``. The baseline (rotation 0) is among the
candidates and moves are only accepted when they improve, so the result is never worse than
the plain sweep.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from shapely.geometry import LineString

from patrolmap.routing.network import SNAP_DISTANCE_M, RoutingNetwork, Unreachable
from patrolmap.routing.tour import (
    EXACT_MAX,
    distance_matrix,
    held_karp,
    leg_lengths,
    local_search,
    nearest_neighbour,
    route_geometry,
    solve_tour,
)

WALK_SPEED_M_PER_MIN = 80.0  # about 4.8 km/h, an unhurried patrol walk
DRIVE_SPEED_M_PER_MIN = 250.0  # 15 km/h, campus driving


@dataclass
class TeamRoute:
    team: int  # 1-based
    order: list[int]  # point indices in visiting order
    length_m: float
    duration_min: float
    geometry: LineString | None  # lon/lat, closed; None when the team has nothing to visit
    legs_m: list[float] = field(default_factory=list)  # start -> 1st, ..., last -> start


@dataclass
class TeamPlan:
    routes: list[TeamRoute]
    unreachable: list[Unreachable] = field(default_factory=list)
    not_fitted: list[int] = field(default_factory=list)  # reachable points left out by the duration cap


class _Costs:
    """Tour cost of a group of matrix indices (start 0 implied), cached."""

    def __init__(self, dist: np.ndarray) -> None:
        self.dist = dist
        self.cache: dict[frozenset[int], tuple[float, list[int]]] = {}

    def tour(self, group: Sequence[int]) -> tuple[float, list[int]]:
        key = frozenset(group)
        if key not in self.cache:
            pos = [0, *sorted(key)]
            sub = self.dist[np.ix_(pos, pos)]
            if len(pos) - 1 <= EXACT_MAX:
                order, cost = held_karp(sub)
            else:
                order = local_search(sub, nearest_neighbour(sub))
                cost = float(sub[order, np.roll(order, -1)].sum())
            self.cache[key] = (float(cost), [pos[k] for k in order])
        return self.cache[key]

    def cost(self, group: Sequence[int]) -> float:
        return self.tour(group)[0] if group else 0.0

    def insertion(self, group: Sequence[int], p: int, without: int | None = None) -> float:
        """Cheap estimate: current tour cost plus cheapest insertion of p (after removing `without`)."""
        if not group:
            return float(self.dist[0, p] + self.dist[p, 0])
        cost, order = self.tour(group)
        if without is not None:
            k = order.index(without)
            prev, nxt = order[k - 1], order[(k + 1) % len(order)]
            cost -= float(self.dist[prev, without] + self.dist[without, nxt] - self.dist[prev, nxt])
            order = order[:k] + order[k + 1:]
        t = np.asarray(order)
        nxt = np.roll(t, -1)
        return cost + float(np.min(self.dist[t, p] + self.dist[p, nxt] - self.dist[t, nxt]))


def sweep_groups(xy: np.ndarray, k: int, rotation: int = 0) -> list[list[int]]:
    """Matrix indices 1..n (xy[0] is the start) sorted by bearing, cut into k runs of equal count."""
    n = len(xy) - 1
    angles = np.arctan2(xy[1:, 1] - xy[0, 1], xy[1:, 0] - xy[0, 0])
    by_angle = (np.argsort(angles, kind="stable") + 1).tolist()
    if n:
        rotation %= n
        by_angle = by_angle[rotation:] + by_angle[:rotation]
    bounds = np.linspace(0, n, k + 1).round().astype(int)
    return [by_angle[bounds[i]:bounds[i + 1]] for i in range(k)]


def balance_groups(dist: np.ndarray, xy: np.ndarray, k: int, *, time_budget_s: float = 1.0,
                   rotations: int = 8) -> list[list[int]]:
    """Partition matrix indices 1..n into k groups minimising the longest closed tour from 0."""
    if k < 1:
        raise ValueError("teams must be at least 1")
    costs = _Costs(dist)
    n = len(dist) - 1
    if k == 1 or n == 0:
        return [list(range(1, n + 1))] + [[] for _ in range(k - 1)]
    deadline = time.perf_counter() + time_budget_s
    step = max(1, n // max(1, rotations))
    best: list[list[int]] | None = None
    best_key = (np.inf, np.inf)
    for rot in range(0, n if n > 1 else 1, step):
        groups = sweep_groups(xy, k, rot)
        lengths = [costs.cost(g) for g in groups]
        key = (max(lengths), sum(lengths))
        if key < best_key:
            best, best_key = groups, key
        if time.perf_counter() > deadline and best is not None:
            break
    assert best is not None
    return _improve(costs, best, deadline)


def _improve(costs: _Costs, groups: list[list[int]], deadline: float) -> list[list[int]]:
    groups = [list(g) for g in groups]
    lengths = [costs.cost(g) for g in groups]
    improved = True
    while improved and time.perf_counter() < deadline:
        improved = False
        longest = int(np.argmax(lengths))
        current = (max(lengths), sum(lengths))
        others = [r for r in range(len(groups)) if r != longest]
        # moves: one checkpoint off the longest route
        cands: list[tuple[float, int, int, int | None]] = []
        for p in groups[longest]:
            for r in others:
                est = costs.insertion(groups[r], p)
                if est < current[0]:
                    cands.append((est, p, r, None))
        # swaps: a checkpoint of the longest route for one of another route
        for p in groups[longest]:
            for r in others:
                for q in groups[r]:
                    est = costs.insertion(groups[r], p, without=q)
                    if est < current[0]:
                        cands.append((est + 1e-3, p, r, q))
        cands.sort(key=lambda c: c[0])
        for _, p, r, q in cands:
            if time.perf_counter() > deadline:
                break
            new_long = [x for x in groups[longest] if x != p] + ([q] if q is not None else [])
            new_r = [x for x in groups[r] if x != q] + [p]
            trial = list(lengths)
            trial[longest], trial[r] = costs.cost(new_long), costs.cost(new_r)
            if max(trial) < current[0] - 1e-9:
                groups[longest], groups[r] = new_long, new_r
                lengths = trial
                improved = True
                break
    return groups


def cap_groups(dist: np.ndarray, groups: list[list[int]], cap_m: float) -> tuple[list[list[int]], list[int]]:
    """Drop checkpoints until every tour is at most cap_m, then reinsert what still fits."""
    costs = _Costs(dist)
    groups = [list(g) for g in groups]
    dropped: list[int] = []
    for g in groups:
        while g and costs.cost(g) > cap_m + 1e-9:
            saving = [(costs.cost(g) - costs.cost([x for x in g if x != p]), p) for p in g]
            _, p = max(saving)
            g.remove(p)
            dropped.append(p)
    not_fitted: list[int] = []
    for p in sorted(dropped, key=lambda p: dist[0, p] + dist[p, 0]):
        options = sorted(range(len(groups)), key=lambda r: costs.insertion(groups[r], p))
        for r in options:
            if costs.insertion(groups[r], p) > cap_m + 1e-9:
                break
            if costs.cost([*groups[r], p]) <= cap_m + 1e-9:
                groups[r].append(p)
                break
        else:
            not_fitted.append(p)
            continue
        if p not in groups[r]:
            not_fitted.append(p)
    return groups, sorted(not_fitted)


def plan_teams(network: RoutingNetwork, start: Sequence[float], points: Sequence[Sequence[float]], teams: int = 1,
               *, speed_m_per_min: float | None = None, max_minutes: float | None = None,
               snap_distance_m: float = SNAP_DISTANCE_M, seed: int = 0, time_budget_s: float = 0.8) -> TeamPlan:
    """Routes for `teams` teams from `start` (lon/lat) covering every reachable point, min-max balanced.

    `time_budget_s` bounds the search as a whole (snapping and the distance matrix included): with
    several teams, 60% of what is left after the matrix goes to balancing the groups and the rest
    to polishing each team's tour, so a plan answers in about the same time whatever K is.
    """
    started = time.perf_counter()
    if teams < 1:
        raise ValueError("teams must be at least 1")
    if speed_m_per_min is None:
        speed_m_per_min = DRIVE_SPEED_M_PER_MIN if network.mode == "drive" else WALK_SPEED_M_PER_MIN
    if speed_m_per_min <= 0:
        raise ValueError("speed must be positive")
    snapped = network.snap(start, points, max_distance_m=snap_distance_m)
    indices = sorted(snapped.nodes)
    matrix = distance_matrix(snapped.graph, [snapped.start] + [snapped.nodes[p] for p in indices])
    g = snapped.graph
    xy = np.array([[g.nodes[n]["x"], g.nodes[n]["y"]] for n in matrix.nodes]).reshape(-1, 2)
    left = max(0.05, time_budget_s - (time.perf_counter() - started))
    groups = balance_groups(matrix.dist, xy, teams, time_budget_s=0.6 * left if teams > 1 else 0.0)
    not_fitted: list[int] = []
    if max_minutes is not None:
        groups, nf = cap_groups(matrix.dist, groups, max_minutes * speed_m_per_min)
        not_fitted = [indices[m - 1] for m in nf]
    routes: list[TeamRoute] = []
    busy = max(1, sum(1 for group in groups if group))
    per_team = max(0.02, time_budget_s - (time.perf_counter() - started)) / busy
    for t, group in enumerate(groups, start=1):
        if not group:
            routes.append(TeamRoute(t, [], 0.0, 0.0, None))
            continue
        pos = [0, *sorted(group)]
        order, cost = solve_tour(matrix.dist[np.ix_(pos, pos)], seed=seed, time_budget_s=per_team)
        tour = [pos[k] for k in order]
        geometry = route_geometry(network, g, matrix, tour)
        routes.append(TeamRoute(t, [indices[m - 1] for m in tour[1:]], float(cost), float(cost) / speed_m_per_min,
                                geometry, leg_lengths(matrix.dist, tour)))
    return TeamPlan(routes, list(snapped.unreachable), sorted(not_fitted))
