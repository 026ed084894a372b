"""Hexagon binning: every point in its own hexagon, edges of cell_m metres, exact cells along roads."""

from __future__ import annotations

import math

import numpy as np
import pytest
import shapely

from patrolmap.analysis.hexgrid import (
    HexGrid,
    LocalProjection,
    cell_keys,
    count_cells,
    hex_area,
    index_cells,
    keys_to_axial,
    neighbour_pairs,
    neighbours_of,
)

ORIGIN = (116.352, 40.003)


@pytest.mark.parametrize("orientation", ["pointy", "flat"])
def test_each_point_lies_in_the_hexagon_of_its_cell(orientation: str) -> None:
    grid = HexGrid(50, ORIGIN, orientation=orientation)
    rng = np.random.default_rng(7)
    x, y = rng.uniform(-800, 800, 5000), rng.uniform(-800, 800, 5000)
    q, r = grid.axial_xy(x, y)
    hexes = grid.polygons_xy(q, r)
    assert shapely.covers(hexes, shapely.points(x, y)).all()
    # ...and in no other: the neighbours' hexagons hold it only on a shared edge (measure zero).
    nq, nr = neighbours_of(q, r)
    for k in range(6):
        assert not shapely.contains_properly(grid.polygons_xy(nq[:, k], nr[:, k]), shapely.points(x, y)).any()


@pytest.mark.parametrize("orientation", ["pointy", "flat"])
def test_cell_m_is_the_edge_length(orientation: str) -> None:
    grid = HexGrid(50, ORIGIN, orientation=orientation)
    (hexagon,) = grid.polygons_xy(np.array([3]), np.array([-2]))
    ring = np.asarray(hexagon.exterior.coords)
    assert np.allclose(np.hypot(*np.diff(ring, axis=0).T), 50)
    assert hexagon.area == pytest.approx(hex_area(50))
    cx, cy = grid.centres_xy(np.array([0, 1]), np.array([0, 0]))
    assert math.hypot(cx[1] - cx[0], cy[1] - cy[0]) == pytest.approx(50 * math.sqrt(3))  # neighbours' centres


def test_projection_is_metric_and_round_trips() -> None:
    projection = LocalProjection(*ORIGIN)
    # 0.001 degree of latitude near 40°N is about 111.03 m.
    x, y = projection.forward(np.array([ORIGIN[0], ORIGIN[0]]), np.array([ORIGIN[1], ORIGIN[1] + 0.001]))
    assert y[1] - y[0] == pytest.approx(111.03, abs=0.05)
    lon, lat = projection.inverse(x, y)
    assert np.allclose(lon, ORIGIN[0], atol=1e-12) and np.allclose(lat, [ORIGIN[1], ORIGIN[1] + 0.001], atol=1e-12)


def test_lonlat_polygons_hold_their_points() -> None:
    grid = HexGrid(30, ORIGIN)
    rng = np.random.default_rng(3)
    lon, lat = rng.uniform(116.347, 116.357, 2000), rng.uniform(39.999, 40.007, 2000)
    q, r = grid.bin_points(lon, lat)
    hexes = grid.polygons_lonlat(q, r)
    inside = shapely.covers(hexes, shapely.points(lon, lat))
    # Edges are straight in lon/lat, not in metres: a point within a millimetre of one may fall outside.
    assert inside.mean() > 0.999


def test_keys_round_trip_and_count() -> None:
    q, r = np.array([0, -5, 7, 7, -2**20]), np.array([0, 3, -9, -9, 2**20])
    assert [a.tolist() for a in keys_to_axial(cell_keys(q, r))] == [q.tolist(), r.tolist()]
    _, counts = count_cells(q, r)
    assert counts.sum() == 5 and sorted(counts.tolist()) == [1, 1, 1, 2]


def test_neighbour_pairs_within_a_set() -> None:
    q, r = np.array([0, 1, 0, 5]), np.array([0, 0, 1, 5])
    keys = np.sort(cell_keys(q, r))
    i, j = neighbour_pairs(keys)
    cells = list(zip(*(v.tolist() for v in keys_to_axial(keys)), strict=True))
    found = {(cells[a], cells[b]) for a, b in zip(i.tolist(), j.tolist(), strict=True)}
    one_way = {((0, 0), (1, 0)), ((0, 0), (0, 1)), ((1, 0), (0, 1))}
    assert found == one_way | {(b, a) for a, b in one_way}  # (5, 5) has no neighbour in the set


def test_cells_touching_is_exact() -> None:
    """The cheap candidate search finds exactly the cells a brute force over every cell finds."""
    grid = HexGrid(25, ORIGIN)
    rng = np.random.default_rng(11)
    lines = [shapely.LineString(rng.uniform(-400, 400, (rng.integers(2, 6), 2))) for _ in range(15)]
    polygons = [shapely.box(x, y, x + w, y + h) for x, y, w, h in
                zip(*rng.uniform(-400, 300, (2, 4)), *rng.uniform(5, 90, (2, 4)), strict=True)]
    points = [shapely.Point(10, 10)]
    geoms = [*lines, *polygons, *points]
    q, r = grid.cells_touching(geoms)
    bq, br = grid.cells_in_box((-450, -450, 450, 450))
    hexes = grid.polygons_xy(bq, br)
    hit = shapely.STRtree(np.asarray(geoms, dtype=object)).query(hexes, predicate="intersects")[0]
    expected = set(cell_keys(bq[np.unique(hit)], br[np.unique(hit)]).tolist())
    assert set(cell_keys(q, r).tolist()) == expected


def test_grid_depends_on_origin_not_on_data() -> None:
    grid = HexGrid(50, ORIGIN)
    lon, lat = np.array([116.3501, 116.3533, 116.3488]), np.array([40.0011, 40.0042, 39.9990])
    q, r = grid.bin_points(lon, lat)
    q1, r1 = HexGrid(50, ORIGIN).bin_points(lon[1:2], lat[1:2])  # another query, other points
    assert (q[1], r[1]) == (q1[0], r1[0])


def test_bad_grids_are_refused() -> None:
    with pytest.raises(ValueError):
        HexGrid(0, ORIGIN)
    with pytest.raises(ValueError):
        HexGrid(50, ORIGIN, orientation="round")


def test_dense_and_sorted_counting_agree() -> None:
    rng = np.random.default_rng(5)
    q, r = rng.integers(-40, 40, 10_000), rng.integers(-3, 90, 10_000)
    dense = index_cells(q, r)
    sorted_ = index_cells(q, r, dense_limit=1)
    for a, b in zip(dense, sorted_, strict=True):
        assert a.tolist() == b.tolist()
    keys, counts, index = dense
    assert (keys[index] == cell_keys(q, r)).all() and counts.sum() == 10_000
    assert [a.size for a in index_cells(np.zeros(0, int), np.zeros(0, int))] == [0, 0, 0]
