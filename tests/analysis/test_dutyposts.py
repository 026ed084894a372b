"""Duty posts: the small-case solver equals a brute-force optimum; greedy's guarantee; walking distance."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import shapely

from patrolmap.analysis import dutyposts
from patrolmap.analysis.dutyposts import (
    PREFERRED_WEIGHT,
    build_network,
    coverage,
    demand_weights,
    exact_cover,
    greedy_cover,
    max_coverage,
    suggest_posts,
)
from patrolmap.analysis.hexgrid import LocalProjection

ORIGIN = (116.352, 40.003)
PROJECTION = LocalProjection(*ORIGIN)


def brute_force(cover: np.ndarray, weights: np.ndarray, k: int) -> float:
    """The optimum, written as plainly as possible: every set of k sites."""
    best = 0.0
    for combo in itertools.combinations(range(cover.shape[0]), min(k, cover.shape[0])):
        covered = np.zeros(cover.shape[1], dtype=bool)
        for site in combo:
            covered |= cover[site]
        best = max(best, float(weights[covered].sum()))
    return best


def naive_greedy(cover: np.ndarray, weights: np.ndarray, k: int) -> list[int]:
    chosen: list[int] = []
    uncovered = np.ones(cover.shape[1], dtype=bool)
    for _ in range(k):
        gains = [float(weights[cover[i] & uncovered].sum()) for i in range(cover.shape[0])]
        best = int(np.argmax(gains))
        if gains[best] <= 0:
            break
        chosen.append(best)
        uncovered &= ~cover[best]
    return chosen


def random_instance(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, int]:
    sites, points = int(rng.integers(3, 12)), int(rng.integers(5, 40))
    cover = rng.random((sites, points)) < rng.uniform(0.1, 0.5)
    weights = rng.choice([1.0, PREFERRED_WEIGHT], points)
    return cover, weights, int(rng.integers(1, 5))


def test_suggestion_equals_the_brute_force_optimum_on_small_cases() -> None:
    rng = np.random.default_rng(42)
    for _ in range(300):
        cover, weights, k = random_instance(rng)
        choice = max_coverage(cover, weights, k)
        assert choice.method == "exact"
        assert choice.value == pytest.approx(brute_force(cover, weights, k))
        assert dutyposts.covered_value(cover, weights, choice.sites) == pytest.approx(choice.value)
        assert len(set(choice.sites)) == len(choice.sites) <= k


def test_lazy_greedy_is_the_plain_greedy_and_within_1_minus_1_over_e() -> None:
    rng = np.random.default_rng(7)
    for _ in range(300):
        cover, weights, k = random_instance(rng)
        greedy = greedy_cover(cover, weights, k)
        assert greedy.sites == naive_greedy(cover, weights, k)
        assert greedy.value >= (1 - 1 / math.e) * brute_force(cover, weights, k) - 1e-9


def test_where_greedy_falls_short_the_exact_search_does_not() -> None:
    # Site 0 covers the middle four; sites 1 and 2 cover three each at either end, with two of the middle.
    cover = np.array([
        [0, 0, 1, 1, 1, 1, 0, 0],
        [1, 1, 1, 1, 0, 0, 0, 0],
        [0, 0, 0, 0, 1, 1, 1, 1],
    ], dtype=bool)
    cover[0, 1] = True  # site 0 now covers five: greedy takes it first
    weights = np.ones(8)
    assert greedy_cover(cover, weights, 2).value == 7
    assert exact_cover(cover, weights, 2).value == 8 == brute_force(cover, weights, 2)
    assert sorted(max_coverage(cover, weights, 2).sites) == [1, 2]


def test_large_cases_fall_back_to_greedy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dutyposts, "EXACT_COMBINATIONS", 10)
    cover, weights, _ = random_instance(np.random.default_rng(1))
    assert max_coverage(cover, weights, 3).method == "greedy"


def test_walking_distance_goes_around_buildings() -> None:
    # A U-shaped path: the two arms' ends are 40 m apart in a straight line, 240 m on foot.
    path = shapely.LineString([(0, 0), (0, 100), (40, 100), (40, 0)])
    network = build_network([path])
    assert network is not None
    site = np.array([[0.0, 0.0]])
    demand = np.array([[40.0, 0.0], [0.0, 60.0]])
    assert coverage(site, demand, 100, None).tolist() == [[True, True]]
    assert coverage(site, demand, 100, network).tolist() == [[False, True]]
    assert coverage(site, demand, 250, network).tolist() == [[True, True]]


def test_intersections_are_where_three_paths_meet() -> None:
    network = build_network([shapely.LineString([(0, 0), (97, 0), (100, 0)]), shapely.LineString([(50, 80), (50, 0)]),
                             shapely.LineString([(100, 0), (100, 50)])])
    assert network is not None
    crossing = network.xy[network.intersections()]
    # A T-junction at (50, 0), where the first path has no vertex of its own; (100, 0) is only a bend.
    assert {tuple(p) for p in crossing.round(3).tolist()} == {(50.0, 0.0)}
    assert build_network([]) is None


def test_violations_near_canteens_and_teaching_buildings_weigh_more() -> None:
    canteen = shapely.box(0, 0, 20, 20)
    weights = demand_weights(np.array([10.0, 60.0, 200.0]), np.array([10.0, 10.0, 10.0]), [canteen])
    assert weights.tolist() == [PREFERRED_WEIGHT, PREFERRED_WEIGHT, 1.0]


def test_suggest_posts_end_to_end() -> None:
    rng = np.random.default_rng(3)
    # Two clusters on a street, 400 m apart, and scattered violations.
    x = np.concatenate([rng.normal(-200, 10, 80), rng.normal(200, 10, 50), rng.uniform(-500, 500, 30)])
    y = np.concatenate([rng.normal(0, 5, 80), rng.normal(0, 5, 50), rng.uniform(-500, 500, 30)])
    lon, lat = PROJECTION.inverse(x, y)
    street = shapely.LineString(np.column_stack(PROJECTION.inverse(np.array([-500.0, 500.0]), np.zeros(2))))
    cross = [shapely.LineString(np.column_stack(PROJECTION.inverse(np.array([cx, cx]), np.array([-80.0, 80.0]))))
             for cx in (-200.0, 200.0)]
    result = suggest_posts(lon, lat, 2, 60, projection=PROJECTION, paths=[street, *cross])
    assert result["distance"] == "network" and result["method"] == "exact"
    posts = result["posts"]
    px, _ = PROJECTION.forward(np.array([p["lon"] for p in posts]), np.array([p["lat"] for p in posts]))
    assert sorted(np.round(px, -1).tolist()) == [-200.0, 200.0]  # one at each crossing
    assert posts[0]["covered"] >= posts[1]["covered"] and posts[0]["site"] == "intersection"
    assert result["covered"] == sum(p["added"] for p in posts) >= 125
    straight = suggest_posts(lon, lat, 1, 60, projection=PROJECTION, paths=[street, *cross], use_network=False,
                             hotspot_sites=PROJECTION.inverse(np.array([-200.0]), np.array([0.0])))
    assert straight["distance"] == "straight" and straight["posts"][0]["covered"] >= 75
    empty = suggest_posts(np.zeros(0), np.zeros(0), 3, 60, projection=PROJECTION, paths=[street])
    assert empty["posts"] == [] and empty["covered"] == 0
