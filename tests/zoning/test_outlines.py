"""Zone outlines: each holds all of its buildings and none of another zone's, and no two overlap."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import shapely

from patrolmap.analysis.hexgrid import LocalProjection
from patrolmap.zoning import neighbour_graph, outlines_for, partition, propose_zones, zone_outlines
from tests.zoning.helpers import random_campus, squares

TOLERANCE_M = 0.01  # lon/lat round trips move vertices by far less than this


def check_outlines(outlines, footprints, labels) -> None:
    k = max(labels) + 1
    assert len(outlines) == k
    for z, outline in enumerate(outlines):
        assert outline.is_valid and not outline.is_empty
        assert outline.geom_type in ("Polygon", "MultiPolygon")
        grown = outline.buffer(TOLERANCE_M)
        for i, footprint in enumerate(footprints):
            if labels[i] == z:
                assert grown.contains(footprint), (z, i)
            else:
                assert outline.intersection(footprint).area < TOLERANCE_M, (z, i)
        for part in shapely.get_parts(outline):  # no stray piece without a building of its own
            assert any(part.intersects(f) for i, f in enumerate(footprints) if labels[i] == z)
    for a, b in itertools.combinations(range(k), 2):
        assert outlines[a].intersection(outlines[b]).area < TOLERANCE_M, (a, b)


@pytest.mark.parametrize("seed", range(8))
def test_random_campuses(seed: int) -> None:
    rng = np.random.default_rng(seed)
    footprints = random_campus(seed, int(rng.integers(6, 50)), spread_m=float(rng.uniform(150, 1200)))
    graph = neighbour_graph(footprints)
    k = int(rng.integers(2, 8))
    labels = partition(graph, rng.integers(100, 900, graph.n), k, restarts=1).labels.tolist()
    check_outlines(zone_outlines(footprints, labels, graph), footprints, labels)


def test_a_zone_is_drawn_in_one_piece_along_its_links() -> None:
    # two rows of five 20 m squares 40 m apart; the north row and the south row are the zones
    footprints = squares([(40.0 * i, 0.0) for i in range(5)] + [(40.0 * i, -60.0) for i in range(5)])
    labels = [0] * 5 + [1] * 5
    graph = neighbour_graph(footprints)
    outlines = zone_outlines(footprints, labels, graph, margin_m=25)
    check_outlines(outlines, footprints, labels)
    assert [o.geom_type for o in outlines] == ["Polygon", "Polygon"]
    # the outline reaches margin_m (25 m) around the row, except where the other zone's buildings are nearer
    north = outlines[0]
    assert north.bounds[1] == pytest.approx(-30.0, abs=0.01)  # halfway to the south row (the Voronoi boundary)
    assert north.bounds[3] == pytest.approx(35.0, abs=0.1)  # 10 m half-size + 25 m margin
    assert north.bounds[0] == pytest.approx(-35.0, abs=0.1)


def test_a_hand_made_zone_that_is_not_contiguous_still_holds_its_buildings() -> None:
    footprints = squares([(0, 0), (40, 0), (80, 0), (120, 0)])
    labels = [0, 1, 0, 1]
    outlines = zone_outlines(footprints, labels, neighbour_graph(footprints))
    check_outlines(outlines, footprints, labels)
    assert [o.geom_type for o in outlines] == ["MultiPolygon", "MultiPolygon"]


def test_lon_lat_outlines_of_a_proposal() -> None:
    from zoning import synthetic_campus  # benchmarks/zoning.py

    campus = synthetic_campus()
    proposal = propose_zones(list(campus.geometry), campus["residents"].to_numpy(dtype=float), 15)
    projection = LocalProjection(116.35, 40.0)
    metric = list(projection.geometries(list(campus.geometry)))
    labels = [0] * len(campus)
    for z, members in enumerate(proposal.zones):
        for i in members:
            labels[i] = z
    check_outlines(list(projection.geometries(proposal.outlines)), metric, labels)
    assert proposal.workloads == pytest.approx([campus["residents"].iloc[m].sum() for m in proposal.zones])
    again = outlines_for(list(campus.geometry), labels)
    assert all(a.equals_exact(b, tolerance=1e-9) for a, b in zip(again, proposal.outlines, strict=True))
