"""The neighbour graph: Delaunay pruned by footprint distance, near pairs added, always connected."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import shapely
from scipy.spatial import Delaunay

from patrolmap.zoning.graph import neighbour_graph
from tests.zoning.helpers import random_campus, squares


def pairs(graph) -> set[tuple[int, int]]:
    return {(e.i, e.j) for e in graph.edges}


def test_a_line_of_buildings_links_each_to_the_next_only() -> None:
    # collinear centroids have no triangulation: the Gabriel graph links consecutive buildings
    graph = neighbour_graph(squares([(100.0 * i, 0.0) for i in range(6)]), band_m=1000)
    assert pairs(graph) == {(i, i + 1) for i in range(5)}
    assert {e.kind for e in graph.edges} == {"gabriel"}
    assert [e.gap_m for e in graph.edges] == pytest.approx([80.0] * 5)


def test_band_is_measured_between_footprints_not_centres() -> None:
    # two 90 m long slabs side by side: centres 100 m apart, footprints 10 m apart
    slabs = [shapely.box(0, 0, 90, 20), shapely.box(100, 0, 190, 20), shapely.box(50, 200, 70, 220),
             shapely.box(300, 150, 320, 170)]
    graph = neighbour_graph(slabs, band_m=15, touch_m=0)
    assert (0, 1) in pairs(graph)
    gap = {(e.i, e.j): e.gap_m for e in graph.edges}[(0, 1)]
    assert gap == pytest.approx(10.0)


def test_delaunay_edges_beyond_the_band_are_dropped_and_near_pairs_added() -> None:
    footprints = random_campus(3, 40)
    band, touch = 60.0, 20.0
    graph = neighbour_graph(footprints, band_m=band, touch_m=touch)
    centres = shapely.get_coordinates(shapely.centroid(np.asarray(footprints, dtype=object)))
    delaunay = set()
    for simplex in Delaunay(centres).simplices:
        for i, j in itertools.combinations(sorted(int(v) for v in simplex), 2):
            delaunay.add((i, j))
    gap = {p: footprints[p[0]].distance(footprints[p[1]]) for p in itertools.combinations(range(40), 2)}
    expected = {p for p in delaunay if gap[p] <= band} | {p for p in gap if gap[p] <= touch}
    kept = {(e.i, e.j) for e in graph.edges if e.kind != "joined"}
    assert kept == expected
    for e in graph.edges:
        assert e.gap_m == pytest.approx(gap[(e.i, e.j)])
        assert e.kind == ("joined" if (e.i, e.j) not in expected else
                          "delaunay" if (e.i, e.j) in delaunay and gap[(e.i, e.j)] <= band else "touch")


def test_separate_quarters_are_joined_by_their_nearest_pair() -> None:
    west = squares([(0, 0), (40, 0), (0, 40), (40, 40)])
    east = squares([(600, 10), (640, 10), (600, 50)])
    graph = neighbour_graph(west + east, band_m=100)
    joined = graph.joined()
    assert len(joined) == 1
    # brute force: the closest pair of footprints across the two quarters
    best = min((west[i].distance(east[j]), i, 4 + j) for i in range(4) for j in range(3))
    assert (joined[0].i, joined[0].j) == (best[1], best[2])
    assert joined[0].gap_m == pytest.approx(best[0])
    assert graph.connected(range(7))


@pytest.mark.parametrize("seed", range(10))
def test_the_graph_is_always_connected(seed: int) -> None:
    rng = np.random.default_rng(seed)
    footprints = random_campus(seed, int(rng.integers(2, 60)), spread_m=float(rng.uniform(200, 3000)))
    graph = neighbour_graph(footprints, band_m=float(rng.uniform(0, 100)), touch_m=float(rng.uniform(0, 30)))
    assert graph.connected(range(graph.n))
    assert all(e.i < e.j for e in graph.edges)
    assert len(pairs(graph)) == len(graph.edges)


def test_tiny_inputs() -> None:
    assert neighbour_graph([]).n == 0
    one = neighbour_graph(squares([(0, 0)]))
    assert one.n == 1 and one.edges == []
    two = neighbour_graph(squares([(0, 0), (5000, 0)]))
    assert [(e.i, e.j, e.kind) for e in two.edges] == [(0, 1, "joined")]
