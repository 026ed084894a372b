"""K teams: every checkpoint once, longest route no worse than a plain sweep; the duration cap."""

from __future__ import annotations

import numpy as np
import pytest

from patrolmap.routing.network import build_network
from patrolmap.routing.teams import balance_groups, cap_groups, plan_teams, sweep_groups
from patrolmap.routing.tour import distance_matrix, held_karp
from tests.routing.helpers import PROJ, check_route, grid_lines, grid_points, layer, lonlat


def _setup(count: int, seed: int):
    gdf = layer(grid_lines(9))
    net = build_network(gdf, projection=PROJ)
    rng = np.random.default_rng(seed)
    pts = grid_points(rng, count, n=9)
    start = lonlat((400, 400))
    return gdf, net, start, pts


@pytest.mark.parametrize(("count", "teams", "seed"), [(24, 3, 1), (30, 2, 2), (20, 4, 3)])
def test_teams_cover_every_checkpoint_once_and_beat_the_sweep(count: int, teams: int, seed: int) -> None:
    gdf, net, start, pts = _setup(count, seed)
    plan = plan_teams(net, start, [lonlat(p) for p in pts], teams)
    assert len(plan.routes) == teams
    visited = [i for r in plan.routes for i in r.order]
    assert sorted(visited) == list(range(count))
    assert not plan.unreachable and not plan.not_fitted
    for r in plan.routes:
        assert r.duration_min == pytest.approx(r.length_m / 80.0)
        assert sum(r.legs_m) == pytest.approx(r.length_m) and len(r.legs_m) == len(r.order) + 1
        check_route(list(gdf.geometry), r.geometry, r.length_m)
    # baseline: plain sweep, equal counts, each tour solved exactly
    snapped = net.snap(start, [lonlat(p) for p in pts])
    m = distance_matrix(snapped.graph, [snapped.start] + [snapped.nodes[i] for i in range(count)])
    xy = np.array([[snapped.graph.nodes[n]["x"], snapped.graph.nodes[n]["y"]] for n in m.nodes])
    baseline = max(held_karp(m.dist[np.ix_([0, *g], [0, *g])])[1] for g in sweep_groups(xy, teams))
    longest = max(r.length_m for r in plan.routes)
    assert longest <= baseline + 1e-6


def test_more_teams_than_checkpoints_leaves_some_idle() -> None:
    _, net, start, pts = _setup(2, 4)
    plan = plan_teams(net, start, [lonlat(p) for p in pts], 4)
    assert sorted(i for r in plan.routes for i in r.order) == [0, 1]
    assert sum(1 for r in plan.routes if not r.order) >= 2


def test_balance_groups_on_a_star_is_balanced() -> None:
    # four arms of equal length around the start: two teams take two arms each
    pts = np.array([[0, 0], [100, 0], [200, 0], [-100, 0], [-200, 0], [0, 100], [0, 200], [0, -100], [0, -200]], float)
    dist = np.abs(pts[:, None] - pts[None]).sum(axis=2)
    groups = balance_groups(dist, pts, 2)
    lengths = [held_karp(dist[np.ix_([0, *g], [0, *g])])[1] for g in groups]
    assert sorted(p for g in groups for p in g) == list(range(1, 9))
    assert max(lengths) == pytest.approx(800)


def test_duration_cap_lists_what_does_not_fit() -> None:
    _, net, start, pts = _setup(20, 5)
    plan = plan_teams(net, start, [lonlat(p) for p in pts], 2, speed_m_per_min=100.0, max_minutes=15.0)
    assert plan.not_fitted
    for r in plan.routes:
        assert r.length_m <= 1500 + 1e-6
        assert r.duration_min <= 15.0 + 1e-9
    visited = [i for r in plan.routes for i in r.order]
    assert sorted(visited + plan.not_fitted) == list(range(20))
    assert not set(visited) & set(plan.not_fitted)


def test_cap_groups_keeps_everything_when_it_fits() -> None:
    dist = np.array([[0, 10, 10], [10, 0, 5], [10, 5, 0]], float)
    groups, not_fitted = cap_groups(dist, [[1, 2]], 25.0)
    assert groups == [[1, 2]] and not_fitted == []
    groups, not_fitted = cap_groups(dist, [[1, 2]], 20.0)
    assert len(groups[0]) == 1 and len(not_fitted) == 1


def test_teams_must_be_positive() -> None:
    _, net, start, pts = _setup(3, 6)
    with pytest.raises(ValueError, match="teams"):
        plan_teams(net, start, [lonlat(p) for p in pts], 0)
