"""Zones: contiguous, every building in exactly one, balanced; the optimum where it is known or brute-forced."""

from __future__ import annotations

import numpy as np
import pytest

from patrolmap.analysis.errors import InputError
from patrolmap.zoning import balance_of, best_split, connected_sets, exact_partition, neighbour_graph, partition
from tests.zoning.helpers import brute_force_best_max, brute_force_connected_sets, random_campus, squares

LINE = squares([(100.0 * i, 0.0) for i in range(6)])  # a row of six buildings: each neighbours the next only


def zones_of(labels: np.ndarray, k: int) -> list[list[int]]:
    return [np.flatnonzero(labels == z).tolist() for z in range(k)]


def check_zones(graph, labels: np.ndarray, weights: np.ndarray, k: int, workloads: np.ndarray) -> None:
    """Every building in exactly one of k non-empty zones, each connected, workloads their weight sums."""
    assert labels.shape == (graph.n,)
    assert set(labels.tolist()) == set(range(k))
    for members in zones_of(labels, k):
        assert members and graph.connected(members)
    assert sorted(i for z in zones_of(labels, k) for i in z) == list(range(graph.n))
    assert workloads == pytest.approx([weights[z].sum() for z in zones_of(labels, k)])


def test_balance_figures() -> None:
    b = balance_of([3, 5, 4])
    assert (b.min, b.max, b.mean, b.ratio) == (3, 5, 4, 1.25)
    assert b.as_dict() == {"min": 3, "max": 5, "mean": 4, "ratio": 1.25}


@pytest.mark.parametrize(("k", "expected", "heaviest"), [
    # weights 3 1 1 1 | 2 4: the only 6/6 split of the row
    (2, [[0, 1, 2, 3], [4, 5]], 6.0),
    # 3 1 | 1 1 2 | 4: 4/4/4, perfect
    (3, [[0, 1], [2, 3, 4], [5]], 4.0),
])
def test_a_row_of_six_gets_its_obvious_best_split(k: int, expected: list[list[int]], heaviest: float) -> None:
    graph = neighbour_graph(LINE, band_m=150)
    weights = np.array([3, 1, 1, 1, 2, 4], dtype=float)
    for result in (partition(graph, weights, k), best_split(graph, weights, k).partition):
        check_zones(graph, result.labels, weights, k, result.workloads)
        assert sorted(zones_of(result.labels, k)) == expected
        assert result.balance.max == heaviest
        assert result.balance.ratio == pytest.approx(heaviest / (12 / k))
    assert brute_force_best_max(graph, weights, k) == heaviest


def test_more_zones_than_buildings_is_a_clear_error() -> None:
    graph = neighbour_graph(LINE)
    with pytest.raises(InputError) as info:
        partition(graph, np.ones(6), 7)
    assert str(info.value) == ("7 zones for 6 buildings: every zone needs at least one building, so ask for at "
                               "most 6")
    assert info.value.params == {"k": 7, "n": 6}
    with pytest.raises(InputError):
        partition(graph, np.ones(6), 0)
    with pytest.raises(InputError):
        partition(graph, [1, 1, 1, -1, 1, 1], 2)
    with pytest.raises(InputError, match="no buildings"):
        partition(neighbour_graph([]), [], 1)


def test_as_many_zones_as_buildings_and_one_zone() -> None:
    graph = neighbour_graph(LINE)
    weights = np.arange(1, 7, dtype=float)
    each = partition(graph, weights, 6)
    assert sorted(each.workloads.tolist()) == weights.tolist()
    one = partition(graph, weights, 1)
    assert one.labels.tolist() == [0] * 6 and one.workloads.tolist() == [21.0]


@pytest.mark.parametrize("seed", range(12))
def test_random_campuses_get_contiguous_zones_covering_every_building_once(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(8, 60))
    k = int(rng.integers(2, max(3, n // 3)))
    graph = neighbour_graph(random_campus(seed, n, spread_m=float(rng.uniform(200, 1500))))
    weights = rng.integers(0, 1200, n).astype(float)
    result = partition(graph, weights, k, restarts=2)
    check_zones(graph, result.labels, weights, k, result.workloads)
    assert result.balance == balance_of(result.workloads)
    again = partition(graph, weights, k, restarts=2)
    assert again.labels.tolist() == result.labels.tolist()  # the same input gives the same zones


@pytest.mark.parametrize("seed", range(8))
def test_exact_equals_brute_force_and_the_heuristic_never_beats_it(seed: int) -> None:
    rng = np.random.default_rng(100 + seed)
    n = int(rng.integers(5, 9))
    k = int(rng.integers(2, 4))
    graph = neighbour_graph(random_campus(seed, n, spread_m=250))
    weights = rng.integers(1, 20, n).astype(float)
    optimum = brute_force_best_max(graph, weights, k)
    exact = exact_partition(graph, weights, k)
    assert exact.optimal and exact.partition is not None
    check_zones(graph, exact.partition.labels, weights, k, exact.partition.workloads)
    assert exact.partition.balance.max == optimum == exact.bound
    heuristic = partition(graph, weights, k)
    assert heuristic.balance.max >= optimum
    split = best_split(graph, weights, k)
    assert split.optimal and split.partition.balance.max == optimum


@pytest.mark.parametrize("seed", range(6))
def test_connected_sets_are_listed_once_each(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(4, 11))
    graph = neighbour_graph(random_campus(seed, n, spread_m=200))
    weights = rng.integers(1, 10, n).astype(float)
    cap = float(rng.integers(5, 40))
    masks = connected_sets(graph, weights, cap)
    listed = [frozenset(i for i in range(n) if m >> i & 1) for m in masks]
    assert len(listed) == len(set(listed))
    assert set(listed) == brute_force_connected_sets(graph, weights, cap)


def test_the_heuristic_reaches_the_optimum_of_the_45_building_campus() -> None:
    from zoning import synthetic_campus  # benchmarks/zoning.py

    from patrolmap.zoning import in_metres

    campus = synthetic_campus()
    assert campus["kind"].value_counts().to_dict() == {"dorm": 42, "staff_apartment": 3}
    _, metric = in_metres(list(campus.geometry))
    graph = neighbour_graph(metric)
    residents = campus["residents"].to_numpy(dtype=float)
    split = best_split(graph, residents, 15)
    assert split.optimal
    check_zones(graph, split.partition.labels, residents, 15, split.partition.workloads)
    heuristic = partition(graph, residents, 15)
    assert split.lower_bound <= heuristic.balance.max
    assert heuristic.balance.ratio <= 1.15  # the optimum is 1.102 on this campus
    buildings = best_split(graph, np.ones(45), 15)
    assert buildings.optimal and buildings.partition.workloads.tolist() == [3.0] * 15
