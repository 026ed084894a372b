"""Walking distances along the network: detours around buildings, access legs, nearest charger, unreachable."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
import shapely
from shapely.geometry import LineString

from patrolmap.placement.distances import REASON_NO_DEMAND, REASON_NO_SITE, walking_distances
from patrolmap.routing.network import build_network
from tests.placement.helpers import box_m, manhattan, on_grid, points
from tests.routing.helpers import PROJ, grid_lines, layer


def corridor(gap: bool) -> tuple[list, shapely.Polygon]:
    """Two streets 60 m apart joined only at x = 200, a wall of buildings between (optionally a footway at x = 50)."""
    lines = [[(0, 0), (200, 0)], [(0, 60), (200, 60)], [(200, 0), (200, 60)]]
    if gap:
        lines.append([(50, 0), (50, 60)])
    return lines, shapely.Polygon(box_m(0, 10, 190, 50))


@pytest.mark.parametrize(("gap", "walk"), [(False, 440.0), (True, 140.0)])
def test_a_wall_of_buildings_forces_a_detour(gap: bool, walk: float) -> None:
    lines, wall = corridor(gap)
    net = build_network(layer(lines), projection=PROJ)
    charger, dorm = (10.0, 0.0), (10.0, 60.0)
    assert LineString([charger, dorm]).crosses(wall)  # the straight line goes through the buildings
    euclid = float(np.hypot(charger[0] - dorm[0], charger[1] - dorm[1]))
    dist = walking_distances(net, points([dorm], "d"), points([charger], "c"), None, 300.0)
    assert euclid == pytest.approx(60.0) and euclid < 300.0
    assert dist.nearest_existing_m[0] == pytest.approx(walk, abs=1e-3)
    if walk > 300:  # 440 m on foot although 60 m as the crow flies: not covered
        assert dist.matrix.nnz == 0 and not dist.within().toarray().any()
    else:
        assert dist.matrix.toarray()[0, 0] == pytest.approx(walk, abs=1e-3)
    assert dist.unreachable == []


def test_matrix_holds_grid_walks_within_the_cutoff_and_matches_networkx() -> None:
    rng = np.random.default_rng(3)
    net = build_network(layer(grid_lines(5)), projection=PROJ)
    sites_xy = [(0.0, 0.0), (200.0, 200.0), (400.0, 100.0), (100.0, 300.0)]  # on crossings: walks are Manhattan
    demand_xy = on_grid(rng, 30, 5)
    dist = walking_distances(net, points(demand_xy, "d"), points(sites_xy[:2], "c"), points(sites_xy[2:], "k"), 250.0)
    expected = np.array([[manhattan(s, d) for d in demand_xy] for s in sites_xy])
    got = dist.matrix.toarray()
    structure = np.zeros_like(got, dtype=bool)
    coo = dist.matrix.tocoo()
    structure[coo.row, coo.col] = True
    assert np.array_equal(structure, expected <= 250.0 + 1e-6)
    assert np.allclose(got[structure], expected[structure], atol=1e-4)
    assert dist.site_ids == ["c0", "c1", "k0", "k1"] and list(dist.fixed) == [True, True, False, False]
    # a second method: networkx Dijkstra on the same snapped graph
    g, nodes, net_ = dist.network.graph, dist.network.nodes, dist.network
    for s in range(4):
        lengths = nx.single_source_dijkstra_path_length(g, nodes[net_.site_node[s]], weight="length_m")
        for d in range(30):
            ref = lengths[nodes[net_.demand_node[d]]]
            assert (ref <= 250.0 + 1e-6) == structure[s, d]
            if structure[s, d]:
                assert got[s, d] == pytest.approx(ref, abs=1e-6)
    # nearest existing charger, no cutoff
    near = np.array([[manhattan(s, d) for d in demand_xy] for s in sites_xy[:2]])
    assert np.allclose(dist.nearest_existing_m, near.min(axis=0), atol=1e-4)
    clear = np.abs(near[0] - near[1]) > 1e-3  # not a tie: the nearest charger is the right one
    assert clear.sum() > 20
    assert np.array_equal(dist.nearest_existing[clear], near.argmin(axis=0)[clear])
    # a shorter walk reuses the matrix
    assert np.array_equal(dist.within(120.0).toarray(), expected <= 120.0 + 1e-6)
    with pytest.raises(ValueError, match="cutoff"):
        dist.within(300.0)


def test_more_sites_than_demand_runs_from_the_demand_side_with_the_same_result() -> None:
    rng = np.random.default_rng(5)
    net = build_network(layer(grid_lines(5)), projection=PROJ)
    demand_xy = [(0.0, 0.0), (300.0, 200.0)]  # crossings
    sites_xy = on_grid(rng, 12, 5)
    dist = walking_distances(net, points(demand_xy, "d"), None, points(sites_xy, "k"), 260.0)
    expected = np.array([[manhattan(s, d) for d in demand_xy] for s in sites_xy])
    got = dist.matrix.toarray()
    mask = expected <= 260.0
    assert np.allclose(np.where(mask, got, 0.0), np.where(mask, expected, 0.0), atol=1e-4)
    assert dist.matrix.nnz == mask.sum()
    assert np.isinf(dist.nearest_existing_m).all() and (dist.nearest_existing == -1).all()  # no charger at all


def test_access_legs_count_unless_turned_off() -> None:
    net = build_network(layer(grid_lines(5)), projection=PROJ)
    demand = points([(150.0, 30.0)], "d")  # 30 m off the street y = 0, its foot at (150, 0)
    charger = points([(0.0, -10.0)], "c")  # 10 m off the corner (0, 0)
    with_legs = walking_distances(net, demand, charger, None, 300.0)
    assert with_legs.nearest_existing_m[0] == pytest.approx(10 + 150 + 30, abs=1e-3)
    assert with_legs.matrix.toarray()[0, 0] == pytest.approx(190.0, abs=1e-3)
    without = walking_distances(net, demand, charger, None, 300.0, count_access=False)
    assert without.nearest_existing_m[0] == pytest.approx(150.0, abs=1e-3)
    tight = walking_distances(net, demand, charger, None, 180.0)
    assert tight.matrix.nnz == 0  # 190 m with the legs


def test_unreachable_points_are_reported_with_reasons_not_dropped() -> None:
    lines = [*grid_lines(3), [(1000, 0), (1100, 0)], [(1000, 500), (1100, 500)]]  # two islands
    net = build_network(layer(lines), projection=PROJ)
    demand = points([(100.0, 100.0), (100.0, 600.0), (1050.0, 0.0)], "d")
    dist = walking_distances(net, demand, points([(0.0, 0.0)], "c"), points([(1050.0, 500.0)], "k"), 300.0)
    reasons = {(u.role, u.id): u.reason for u in dist.unreachable}
    assert set(reasons) == {("demand", "d1"), ("demand", "d2"), ("candidate", "k0")}
    assert "farther than 150 m" in reasons["demand", "d1"]
    assert reasons["demand", "d2"] == REASON_NO_SITE
    assert reasons["candidate", "k0"] == REASON_NO_DEMAND
    assert next(u.distance_m for u in dist.unreachable if u.id == "d1") == pytest.approx(400.0, abs=1e-3)
    assert dist.matrix.shape == (2, 3) and dist.matrix.toarray()[0, 0] == pytest.approx(200.0, abs=1e-3)
    assert np.isinf(dist.nearest_existing_m[1:]).all()
