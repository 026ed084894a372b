"""Patrol tours: our planner against networkx's TSP approximations and against itself given much more time.

Run: .venv/bin/python benchmarks/routing.py [--quick] [--reference-s 10] [--seed 1]

Two walk-mode networks: (a) the real Beijing OSM extract (tests/data/osm/cau_beijing.osm, its
paths layer) and (b) a synthetic perturbed street grid of 5,000+ edges around (116.35, 40.0)
whose segment ends stop up to 1.5 m short of the crossing streets (so the near-end merge has
to join them). On each, 20, 50 and 200 seeded random checkpoints (plus a start) on the largest
connected part of the network (--quick: 20 and 50 only).

Prints the network build times, then per instance:
- ours: plan_tour end to end (snap, distance matrix, solver, route geometry), default budget;
- christofides / greedy: networkx.algorithms.approximation.traveling_salesman_problem on the
  complete graph of the same distance matrix (walk mode, so it is symmetric), timed alone;
- reference: our solver (iterated local search) on the same matrix with --reference-s seconds
  and no cap on kicks, the "much more time" yardstick;
- 3 teams: plan_teams with 3 teams, its longest route (and the single tour / 3 for scale).
Length ratios are ours / theirs: below 1.00 means our tour is shorter.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
from shapely.geometry import LineString

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from patrolmap.analysis.hexgrid import LocalProjection
from patrolmap.routing.network import RoutingNetwork, build_network
from patrolmap.routing.teams import plan_teams
from patrolmap.routing.tour import distance_matrix, heuristic_tour, plan_tour, tour_cost

ROOT = Path(__file__).resolve().parent.parent
OSM = ROOT / "tests" / "data" / "osm" / "cau_beijing.osm"
GRID_ORIGIN = (116.35, 40.0)


def synthetic_paths(k: int = 52, spacing: float = 60.0, seed: int = 7) -> gpd.GeoDataFrame:
    """A k x k street grid in lon/lat: one line per block side, crossings jittered by a few metres,
    a third of the segments stopping 0.3-1.5 m short of their crossing (gaps the merge must close),
    3% of the segments missing. 2k(k-1) segments before dropping (5,304 for k=52)."""
    rng = np.random.default_rng(seed)
    proj = LocalProjection(*GRID_ORIGIN)
    half = (k - 1) * spacing / 2
    gx, gy = np.meshgrid(np.arange(k) * spacing - half, np.arange(k) * spacing - half, indexing="ij")
    gx = gx + rng.uniform(-6, 6, gx.shape)
    gy = gy + rng.uniform(-6, 6, gy.shape)
    segments: list[tuple[np.ndarray, np.ndarray]] = []
    for i in range(k):
        for j in range(k):
            a = np.array([gx[i, j], gy[i, j]])
            if i + 1 < k:
                segments.append((a, np.array([gx[i + 1, j], gy[i + 1, j]])))
            if j + 1 < k:
                segments.append((a, np.array([gx[i, j + 1], gy[i, j + 1]])))
    lines = []
    for a, b in segments:
        if rng.random() < 0.03:
            continue
        if rng.random() < 1 / 3:  # pull one end back: a small gap at the crossing
            d = (b - a) / np.linalg.norm(b - a)
            gap = rng.uniform(0.3, 1.5)
            a, b = (a + d * gap, b) if rng.random() < 0.5 else (a, b - d * gap)
        mid = (a + b) / 2 + rng.uniform(-3, 3, 2)  # a slightly bent street
        xy = np.array([a, mid, b])
        lon, lat = proj.inverse(xy[:, 0], xy[:, 1])
        lines.append(LineString(np.column_stack([lon, lat])))
    n = len(lines)
    return gpd.GeoDataFrame({"kind": ["footway"] * n, "oneway": [False] * n, "access": ["public"] * n},
                            geometry=lines, crs="EPSG:4326")


def random_points(net: RoutingNetwork, count: int, seed: int) -> tuple[tuple[float, float], list[tuple[float, float]]]:
    """A start and `count` checkpoints (lon/lat) on edges of the largest connected part (checkpoints up to 5 m off)."""
    rng = np.random.default_rng(seed)
    g = net.graph
    comp = max(nx.connected_components(g), key=len)
    edges = [(u, v, d) for u, v, d in g.edges(data=True) if u in comp]
    lengths = np.array([d["length_m"] for _, _, d in edges])
    picks = rng.choice(len(edges), count + 1, replace=False, p=lengths / lengths.sum())
    on_path, off_path = [], []
    for e in picks:
        geom = edges[e][2]["geometry"]
        p = geom.interpolate(rng.uniform(0.05, 0.95), normalized=True)
        on_path.append((p.x, p.y))
        off_path.append((p.x + rng.uniform(-5, 5), p.y + rng.uniform(-5, 5)))

    def lonlat(xy: list[tuple[float, float]]) -> list[tuple[float, float]]:
        arr = np.asarray(xy)
        lon, lat = net.projection.inverse(arr[:, 0], arr[:, 1])
        return list(zip(lon.tolist(), lat.tolist(), strict=True))

    exact = lonlat(on_path)
    out = [exact[0], *lonlat(off_path)[1:]]  # the start lies on its path
    # A point pushed off its path may snap to a nearby path of another connected part: put those back on it.
    for u in net.snap(out[0], out[1:]).unreachable:
        out[u.index + 1] = exact[u.index + 1]
    return out[0], out[1:]


def nx_tsp(dist: np.ndarray, method: str) -> tuple[float, float]:
    """networkx's traveling_salesman_problem (cycle) on the complete graph of `dist`: (length, seconds)."""
    from networkx.algorithms import approximation as approx

    n = len(dist)
    sym = (dist + dist.T) / 2  # walk mode: symmetric up to rounding
    complete = nx.Graph()
    complete.add_weighted_edges_from((i, j, float(sym[i, j])) for i in range(n) for j in range(i + 1, n))
    fn = {"christofides": approx.christofides, "greedy": approx.greedy_tsp}[method]
    started = time.perf_counter()
    cycle = approx.traveling_salesman_problem(complete, weight="weight", cycle=True, method=fn)
    seconds = time.perf_counter() - started
    assert sorted(set(cycle)) == list(range(n))
    return tour_cost(dist, cycle[:-1]), seconds


def bench_instance(net: RoutingNetwork, count: int, seed: int, reference_s: float) -> dict[str, float]:
    start, pts = random_points(net, count, seed)
    started = time.perf_counter()
    tour = plan_tour(net, start, pts, seed=seed)
    ours_s = time.perf_counter() - started
    assert not tour.unreachable and sorted(tour.order) == list(range(count))
    started = time.perf_counter()
    snapped = net.snap(start, pts)
    matrix = distance_matrix(snapped.graph, [snapped.start] + [snapped.nodes[p] for p in range(count)])
    matrix_s = time.perf_counter() - started
    dist = matrix.dist
    row: dict[str, float] = {"n": count, "ours_m": tour.length_m, "ours_s": ours_s, "matrix_s": matrix_s,
                             "asym_m": float(np.abs(dist - dist.T).max())}
    for method in ("christofides", "greedy"):
        row[f"{method}_m"], row[f"{method}_s"] = nx_tsp(dist, method)
    started = time.perf_counter()
    _, ref = heuristic_tour(dist, seed=seed, kicks=10**9, time_budget_s=reference_s)
    row["ref_m"], row["ref_s"] = ref, time.perf_counter() - started
    started = time.perf_counter()
    plan = plan_teams(net, start, pts, teams=3, seed=seed)
    row["teams_s"] = time.perf_counter() - started
    row["teams_longest_m"] = max(r.length_m for r in plan.routes)
    row["teams_sum_m"] = sum(r.length_m for r in plan.routes)
    return row


def print_table(title: str, rows: list[dict[str, float]], reference_s: float) -> None:
    print(f"\n{title}")
    print(f"   {'pts':>4} | {'ours m':>8} {'time s':>6} {'(matrix)':>8} | {'christofides m':>14} {'time s':>6}"
          f" {'ours/':>5} | {'greedy m':>8} {'time s':>6} {'ours/':>5} | {f'ours {reference_s:g} s m':>11}"
          f" {'ours/':>5} | {'3 teams longest m':>17} {'time s':>6} {'tour/3 m':>8}")
    for r in rows:
        print(f"   {r['n']:4.0f} | {r['ours_m']:8.0f} {r['ours_s']:6.2f} ({r['matrix_s']:6.3f}) |"
              f" {r['christofides_m']:14.0f} {r['christofides_s']:6.2f} {r['ours_m'] / r['christofides_m']:5.3f} |"
              f" {r['greedy_m']:8.0f} {r['greedy_s']:6.2f} {r['ours_m'] / r['greedy_m']:5.3f} |"
              f" {r['ref_m']:11.0f} {r['ours_m'] / r['ref_m']:5.3f} |"
              f" {r['teams_longest_m']:17.0f} {r['teams_s']:6.2f} {r['ours_m'] / 3:8.0f}")
    worst = max(r["asym_m"] for r in rows)
    print(f"   (matrix = snap + distance matrix inside 'time s'; max |d(i,j) - d(j,i)| = {worst:.1e} m)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20 and 50 checkpoints only")
    parser.add_argument("--reference-s", type=float, default=10.0, help="time budget of the reference solve")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    counts = [20, 50] if args.quick else [20, 50, 200]

    from patrolmap.geo.osm import read_osm

    started = time.perf_counter()
    osm_paths = read_osm(OSM).layers["paths"]
    read_s = time.perf_counter() - started
    started = time.perf_counter()
    osm_net = build_network(osm_paths, "walk")
    osm_build_s = time.perf_counter() - started
    grid_paths = synthetic_paths()
    started = time.perf_counter()
    grid_net = build_network(grid_paths, "walk")
    grid_build_s = time.perf_counter() - started

    print("Network build (walk mode): read_osm + build_network")
    print(f"   Beijing OSM: {len(osm_paths):,} path lines -> {osm_net.graph.number_of_edges():,} edges,"
          f" {osm_net.graph.number_of_nodes():,} nodes: read_osm {read_s:.2f} s, build_network {osm_build_s:.2f} s")
    print(f"   synthetic grid: {len(grid_paths):,} lines -> {grid_net.graph.number_of_edges():,} edges,"
          f" {grid_net.graph.number_of_nodes():,} nodes, {nx.number_connected_components(grid_net.graph)}"
          f" connected part(s): build_network {grid_build_s:.2f} s")

    for title, net in (("(a) Beijing OSM network", osm_net), ("(b) synthetic grid network", grid_net)):
        rows = [bench_instance(net, n, args.seed + n, args.reference_s) for n in counts]
        print_table(title + "; lengths in m, ratios are ours / theirs (< 1 = ours shorter)", rows,
                    args.reference_s)


if __name__ == "__main__":
    main()
