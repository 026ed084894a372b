"""End to end per kind: demand, chargers and candidates of one kind only; the sample campus checked by brute force."""

from __future__ import annotations

import itertools
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

from patrolmap.placement import (
    candidate_sites,
    charger_sites,
    coverage,
    demand_points,
    isochrones,
    suggest_sites,
    walking_distances,
)
from patrolmap.routing.network import build_network
from tests.placement.helpers import box_m, points, polygons
from tests.routing.helpers import PROJ, grid_lines, layer

CAMPUS = Path(__file__).resolve().parents[2] / "geodata" / "cau-east"


def test_each_kind_sees_only_its_own_demand_and_chargers() -> None:
    net = build_network(layer(grid_lines(5)), projection=PROJ)
    buildings = polygons([box_m(10, 10, 60, 40), box_m(310, 310, 360, 340)], id=["dorm", "staff"],
                         kind=["dorm", "staff_apartment"], residents=[900.0, 120.0])
    lots = polygons([box_m(210, 110, 260, 130)], id=["lot"], capacity=[30.0])
    chargers = points([(0, 50), (300, 350), (200, 100)], "c", kind=["ebike", "car", "car"],
                      status=["existing"] * 3)
    result = {}
    for kind in ("ebike", "car"):
        demand = demand_points(buildings, lots, kind)
        sites = charger_sites(chargers, kind)
        dist = walking_distances(net, demand, sites, candidate_sites(lots), 150.0)  # dorm: 85 + 25 m leg
        result[kind] = (list(demand["id"]), dist.site_ids[:dist.n_fixed], coverage(dist, demand["weight"]))
    ids, fixed, cov = result["ebike"]
    assert ids == ["dorm"] and fixed == ["c0"] and cov.covered_weight == 900.0 and cov.share == 1.0
    ids, fixed, cov = result["car"]
    assert ids == ["staff", "lot"] and fixed == ["c1", "c2"]
    assert cov.covered_weight == pytest.approx(150.0) and cov.share == 1.0


def read(name: str) -> gpd.GeoDataFrame:
    return gpd.read_file(CAMPUS / f"{name}.geojson")


@pytest.mark.parametrize(("kind", "with_chargers"), [("car", True), ("ebike", False)])
def test_sample_campus_suggestions_are_optimal_by_brute_force(kind: str, with_chargers: bool) -> None:
    """Car: the 6 existing car chargers stay; e-bike: its 10 chargers already cover the 4 dorms, so start from none."""
    net = build_network(read("paths"), "walk")
    buildings, lots, chargers = read("buildings"), read("parking-lots"), read("chargers")
    demand = demand_points(buildings, lots, kind)
    cands = candidate_sites(lots)
    fixed = charger_sites(chargers, kind)
    assert len(fixed) == {"car": 6, "ebike": 10}[kind]
    full = walking_distances(net, demand, fixed, cands, 300.0)
    w = demand["weight"].to_numpy(dtype=float)
    assert coverage(full, w).share == pytest.approx({"car": 236 / 1480, "ebike": 1.0}[kind])
    dist = full if with_chargers else walking_distances(net, demand, fixed.iloc[:0], cands, 300.0)
    within = dist.within().toarray()
    base = within[dist.fixed].any(axis=0)
    free = list(np.flatnonzero(~dist.fixed))
    best = max(float(w[within[list(combo)].any(axis=0) & ~base].sum()) for combo in itertools.combinations(free, 2))
    assert best > 0
    s = suggest_sites(dist, w, 2)
    assert s.method == "exact" and s.objective == pytest.approx(best)
    assert s.after.covered_weight == pytest.approx(s.before.covered_weight + best)
    assert {c.id for c in s.chosen} <= set(cands["id"])
    iso = isochrones(full)
    assert len(iso) == len(fixed) and iso.geometry.notna().all() and (iso["reach_m"] > 0).all()
    assert pd.Series(iso.geometry.is_valid).all()
