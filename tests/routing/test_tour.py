"""Tours: exact optimum, heuristic quality, routes that follow the network with honest lengths."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import shapely

from patrolmap.routing.network import REASON_DISCONNECTED, build_network
from patrolmap.routing.tour import (
    distance_matrix,
    held_karp,
    heuristic_tour,
    plan_tour,
    solve_tour,
    tour_cost,
)
from tests.routing.helpers import GEOD, PROJ, check_route, grid_lines, grid_points, layer, lonlat


def _brute_force(dist: np.ndarray) -> float:
    n = len(dist)
    return min(tour_cost(dist, [0, *p]) for p in itertools.permutations(range(1, n)))


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 6, 7, 8])
def test_held_karp_equals_brute_force(n: int) -> None:
    rng = np.random.default_rng(n)
    for _ in range(3):
        dist = rng.uniform(1, 100, (n, n))  # asymmetric
        np.fill_diagonal(dist, 0)
        tour, cost = held_karp(dist)
        assert sorted(tour) == list(range(n)) and tour[0] == 0
        assert cost == pytest.approx(tour_cost(dist, tour))
        assert cost == pytest.approx(_brute_force(dist))


@pytest.mark.parametrize("mode", ["walk", "drive"])
def test_heuristic_within_one_percent_of_held_karp_on_the_grid(mode: str) -> None:
    lines = grid_lines(7)
    # in drive mode every other street is one-way, so costs are asymmetric
    oneway = [i % 2 == 1 for i in range(len(lines))] if mode == "drive" else None
    net = build_network(layer(lines, oneway=oneway), mode, projection=PROJ)  # type: ignore[arg-type]
    rng = np.random.default_rng(42)
    for trial in range(12):
        count = 8 + trial % 5
        pts = grid_points(rng, count)
        snapped = net.snap(lonlat((0, 0)), [lonlat(p) for p in pts])
        assert not snapped.unreachable
        m = distance_matrix(snapped.graph, [snapped.start] + [snapped.nodes[i] for i in range(count)])
        _, exact = held_karp(m.dist)
        tour, cost = heuristic_tour(m.dist, seed=trial)
        assert sorted(tour) == list(range(count + 1))
        assert cost == pytest.approx(tour_cost(m.dist, tour))
        assert cost <= exact * 1.01 + 1e-9


def test_planned_route_follows_the_network_and_is_as_long_as_reported() -> None:
    gdf = layer(grid_lines(7))
    net = build_network(gdf, projection=PROJ)
    rng = np.random.default_rng(3)
    for count in (5, 12, 25):
        pts = grid_points(rng, count)
        tour = plan_tour(net, lonlat((0, 0)), [lonlat(p) for p in pts])
        assert sorted(tour.order) == list(range(count))
        assert tour.geometry is not None
        check_route(list(gdf.geometry), tour.geometry, tour.length_m)


def test_route_passes_each_checkpoint_in_order() -> None:
    net = build_network(layer(grid_lines(3)), projection=PROJ)
    pts = [(200, 150), (0, 200), (100, 0)]
    tour = plan_tour(net, lonlat((0, 0)), [lonlat(p) for p in pts])
    assert tour.length_m == pytest.approx(800)
    assert tour.order in ([2, 0, 1], [1, 0, 2])
    assert sum(tour.legs_m) == pytest.approx(800) and len(tour.legs_m) == 4


def test_unreachable_points_are_reported_and_the_rest_planned() -> None:
    gdf = layer([*grid_lines(4), [(1000, 0), (1100, 0)]])
    net = build_network(gdf, projection=PROJ)
    pts = [(100, 100), (1050, 5), (300, 200), (9000, 0), (0, 300)]
    tour = plan_tour(net, lonlat((0, 0)), [lonlat(p) for p in pts])
    assert sorted(tour.order) == [0, 2, 4]
    reasons = {u.index: u.reason for u in tour.unreachable}
    assert reasons[1] == REASON_DISCONNECTED
    assert "farther than" in reasons[3]
    assert tour.geometry is not None
    check_route(list(gdf.geometry), tour.geometry, tour.length_m)


def test_drive_route_runs_with_the_one_way_streets() -> None:
    # counter-clockwise one-way ring; the route must go round it, never against it
    ring = [[(0, 0), (200, 0)], [(200, 0), (200, 200)], [(200, 200), (0, 200)], [(0, 200), (0, 0)]]
    gdf = layer(ring, oneway=[True] * 4)
    net = build_network(gdf, "drive", projection=PROJ)
    tour = plan_tour(net, lonlat((0, 0)), [lonlat((0, 100)), lonlat((100, 0))])
    assert tour.length_m == pytest.approx(800)
    assert tour.order == [1, 0]
    coords = np.asarray(tour.geometry.coords)
    x, y = PROJ.forward(coords[:, 0], coords[:, 1])
    xy = np.column_stack([x, y])
    for (x0, y0), (x1, y1) in itertools.pairwise(xy.round(6)):
        step = (np.sign(x1 - x0), np.sign(y1 - y0))
        on_bottom, on_right, on_top, on_left = y0 == 0 and y1 == 0, x0 == 200 and x1 == 200, y0 == 200 and y1 == 200, x0 == 0 and x1 == 0
        assert (on_bottom and step[0] > 0) or (on_right and step[1] > 0) or (on_top and step[0] < 0) or (on_left and step[1] < 0)


def test_nothing_to_visit_gives_an_empty_tour() -> None:
    net = build_network(layer(grid_lines(2)), projection=PROJ)
    tour = plan_tour(net, lonlat((0, 0)), [])
    assert tour.order == [] and tour.length_m == 0 and tour.geometry is None


def test_solve_tour_uses_the_exact_solver_for_small_cases() -> None:
    rng = np.random.default_rng(5)
    dist = rng.uniform(1, 10, (13, 13))
    assert solve_tour(dist)[1] == pytest.approx(held_karp(dist)[1])


@pytest.mark.parametrize("mode", ["walk", "drive"])
def test_real_osm_extract_routes_follow_the_paths(mode: str) -> None:
    import networkx as nx

    from patrolmap.geo.osm import read_osm
    from tests.conftest import DATA

    paths = read_osm(DATA / "osm" / "cau_beijing.osm").layers["paths"]
    net = build_network(paths, mode)  # type: ignore[arg-type]
    rng = np.random.default_rng(11)
    vertices = np.vstack([np.asarray(g.coords) for g in paths.geometry])
    picks = vertices[rng.choice(len(vertices), 16, replace=False)] + rng.uniform(-2e-4, 2e-4, (16, 2))
    start, pts = tuple(picks[0]), [tuple(p) for p in picks[1:]]
    tour = plan_tour(net, start, pts)
    snapped = net.snap(start, pts)
    assert sorted(tour.order + [u.index for u in tour.unreachable]) == list(range(15))
    for u in tour.unreachable:  # reported points really are out of reach (or off the network)
        if u.index in snapped.unreachable_nodes:
            node = snapped.unreachable_nodes[u.index]
            assert not (nx.has_path(snapped.graph, snapped.start, node) and nx.has_path(snapped.graph, node, snapped.start))
        else:
            assert u.distance_m is not None and u.distance_m > 150
    if tour.geometry is not None:
        kept = paths[paths["kind"].isin(["road", "service"])] if mode == "drive" else paths
        lines_m = shapely.MultiLineString([np.asarray(g.coords) for g in net.projection.geometries(list(kept.geometry))])
        coords = np.asarray(tour.geometry.coords)
        x, y = net.projection.forward(coords[:, 0], coords[:, 1])
        assert shapely.distance(shapely.points(x, y), lines_m).max() < 1e-6
        assert GEOD.geometry_length(tour.geometry) == pytest.approx(tour.length_m, rel=1e-3)

