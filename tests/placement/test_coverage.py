"""Coverage shares, the uncovered list, and walking-distance isochrones checked against hand-computed reach."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from shapely.geometry import Point

from patrolmap.placement.coverage import coverage, coverage_table, isochrones
from patrolmap.placement.distances import walking_distances
from patrolmap.routing.network import build_network
from tests.placement.helpers import manhattan, points
from tests.routing.helpers import PROJ, grid_lines, layer, lonlat


def test_covered_share_and_uncovered_heaviest_first() -> None:
    net = build_network(layer(grid_lines(5)), projection=PROJ)
    demand_xy = [(0, 100), (150, 0), (400, 300), (250, 400), (200, 250), (400, 0)]
    weights = np.array([10.0, 20.0, 30.0, 40.0, 50.0, 5.0])
    chargers_xy = [(0, 0), (400, 400)]
    dist = walking_distances(net, points(demand_xy, "d"), points(chargers_xy, "c"), points([(200, 200)], "k"), 300.0)
    walk = np.array([[manhattan(c, d) for d in demand_xy] for c in chargers_xy]).min(axis=0)
    for limit in (300.0, 160.0):
        cov = coverage(dist, weights, walk_m=limit)
        assert list(cov.covered) == list(walk <= limit)
        assert cov.covered_weight == pytest.approx(weights[walk <= limit].sum())
        assert cov.share == pytest.approx(weights[walk <= limit].sum() / weights.sum())
    cov = coverage(dist, weights)  # (0,100) 100, (150,0) 150, (400,300) 100, (250,400) 150, (200,250) 350, (400,0) 400
    assert list(cov.uncovered()) == [4, 5]
    assert cov.nearest_site[0] == 0 and cov.nearest_m[0] == pytest.approx(100.0, abs=1e-3)
    with_candidate = coverage(dist, weights, sites=[0, 1, 2])
    assert with_candidate.covered[4] and with_candidate.nearest_site[4] == 2  # 50 m from the candidate
    table = coverage_table(points(demand_xy, "d").assign(weight=weights), dist, cov)
    assert list(table["id"]) == ["d4", "d5", "d3", "d2", "d1", "d0"]  # uncovered heaviest first, then covered
    assert table.set_index("id").loc["d5", "nearest_existing_m"] == pytest.approx(400.0, abs=1e-3)
    with pytest.raises(ValueError, match="cutoff"):
        coverage(dist, weights, walk_m=400.0)


def _inside(poly: shapely.Geometry, xy: tuple[float, float]) -> bool:
    return bool(poly.contains(Point(lonlat(xy))))


def test_isochrone_on_a_grid_holds_the_reachable_network_only() -> None:
    net = build_network(layer(grid_lines(5)), projection=PROJ)
    dist = walking_distances(net, points([(0, 0)], "d"), points([(200, 200)], "c"), None, 150.0)
    iso = isochrones(dist)
    assert list(iso["site_id"]) == ["c0"]
    # 4 whole edges around the crossing + from each of their far ends 3 edges reached 50 m deep: 400 + 600 m
    assert iso["reach_m"].iloc[0] == pytest.approx(1000.0, abs=1e-3)
    poly = iso.geometry.iloc[0]
    for mid in [(250, 200), (150, 200), (200, 250), (200, 150)]:  # midpoints of reachable edges
        assert _inside(poly, mid)
    assert _inside(poly, (200, 340)) and _inside(poly, (340, 200))  # 140 m along
    assert _inside(poly, (300, 240))  # 140 m: round the corner at (300, 200)
    for far in [(300, 350), (350, 300), (50, 100), (200, 360), (0, 0)]:  # 200-400 m on foot
        assert not _inside(poly, far)
    # in metres the polygon is the reached lines buffered by 5 m: area close to 1,000 x 10 (less the overlaps)
    area = PROJ.geometries([poly])[0].area
    assert 9000 < area < 10_100


def test_isochrone_reached_from_both_ends_leaves_the_middle_out() -> None:
    ring = [[(0, 0), (100, 0)], [(100, 0), (100, 100)], [(100, 100), (0, 100)], [(0, 100), (0, 0)]]
    net = build_network(layer(ring), projection=PROJ)
    dist = walking_distances(net, points([(0, 50)], "d"), points([(50, 0)], "c"), None, 180.0)
    iso = isochrones(dist).geometry.iloc[0]
    # bottom 100 + both sides 100 + the top reached 30 m from each corner
    assert isochrones(dist)["reach_m"].iloc[0] == pytest.approx(360.0, abs=1e-3)
    assert _inside(iso, (20, 100)) and _inside(iso, (80, 100)) and _inside(iso, (100, 50))
    assert not _inside(iso, (50, 100))  # 200 m either way
    # a shorter walk from the same matrix: 100 m reaches the bottom and 50 m up each side
    assert isochrones(dist, walk_m=100.0)["reach_m"].iloc[0] == pytest.approx(200.0, abs=1e-3)


def test_isochrone_budget_shrinks_by_the_chargers_access_leg() -> None:
    net = build_network(layer([[(0, 0), (400, 0)]]), projection=PROJ)
    dist = walking_distances(net, points([(0, 0)], "d"), points([(0, 30)], "c"), None, 150.0)
    iso = isochrones(dist)
    assert iso["reach_m"].iloc[0] == pytest.approx(120.0, abs=1e-3)
    assert _inside(iso.geometry.iloc[0], (115, 0)) and not _inside(iso.geometry.iloc[0], (130, 0))
    far = walking_distances(net, points([(0, 0)], "d"), points([(0, 140)], "c"), None, 100.0)
    assert isochrones(far).geometry.iloc[0] is None and isochrones(far)["reach_m"].iloc[0] == 0.0
