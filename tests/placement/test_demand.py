"""Demand per kind: e-bikes from dorms, cars from staff apartments and parking lots; defaults and overrides."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

from patrolmap.placement.demand import DemandDefaults, candidate_sites, charger_sites, demand_points
from tests.placement.helpers import box_m, points, polygons


def buildings() -> gpd.GeoDataFrame:
    return polygons(
        [box_m(0, 0, 100, 50), box_m(200, 0, 300, 50), box_m(400, 0, 450, 40), box_m(0, 200, 100, 250),
         box_m(200, 200, 240, 225)],
        id=["dormA", "dormB", "dormC", "staffA", "teach"],
        kind=["dorm", "dorm", "dorm", "staff_apartment", "teaching"],
        residents=[800.0, np.nan, np.nan, 150.0, np.nan],
        floors=[np.nan, 4.0, np.nan, np.nan, np.nan],
        name=["一号楼", "二号楼", "三号楼", "教工公寓", "主楼"],
    )


def lots() -> gpd.GeoDataFrame:
    poly = polygons([box_m(500, 0, 550, 20)], id=["lotP"], capacity=[np.nan], name=[None])
    pts = points([(600, 0), (700, 0)], "lot", capacity=[np.nan, 12.0])
    return gpd.GeoDataFrame(pd.concat([poly, pts], ignore_index=True), geometry="geometry", crs="EPSG:4326")


def test_ebike_demand_comes_from_dorms_only_with_documented_estimates() -> None:
    d = demand_points(buildings(), lots(), "ebike")
    assert list(d["id"]) == ["dormA", "dormB", "dormC"]
    assert set(d["kind"]) == {"ebike"}
    by_id = d.set_index("id")
    assert by_id.loc["dormA", "weight"] == 800.0 and by_id.loc["dormA", "weight_source"] == "residents"
    # 100 x 50 m footprint, 4 floors tagged, 25 m² a student: 800
    assert by_id.loc["dormB", "weight"] == pytest.approx(800.0, abs=10)
    assert by_id.loc["dormB", "weight_source"] == "floor area estimate"
    # 50 x 40 m, 6 floors assumed: 480, below the 600 minimum
    assert by_id.loc["dormC", "weight"] == 600.0
    # the demand point is the footprint's centre
    assert d.geometry.iloc[0].within(buildings().geometry.iloc[0])


def test_car_demand_comes_from_staff_apartments_and_parking_lots() -> None:
    d = demand_points(buildings(), lots(), "car").set_index("id")
    assert list(d.index) == ["staffA", "lotP", "lot0", "lot1"]
    assert set(d["kind"]) == {"car"}
    assert d.loc["staffA", "weight"] == 150.0 and d.loc["staffA", "source"] == "staff_apartment"
    assert d.loc["lotP", "weight"] == pytest.approx(40.0)  # 1,000 m² / 25 m² a car
    assert d.loc["lotP", "weight_source"] == "area estimate"
    assert d.loc["lot0", "weight"] == 20.0 and d.loc["lot0", "weight_source"] == "default"
    assert d.loc["lot1", "weight"] == 12.0 and d.loc["lot1", "weight_source"] == "capacity"


def test_overrides_and_factors_change_weights_per_id() -> None:
    d = demand_points(buildings(), lots(), "car", overrides={"lot1": 0.0, "staffA": 75.0},
                      defaults=DemandDefaults(car_per_space=0.5)).set_index("id")
    assert d.loc["lot1", "weight"] == 0.0 and d.loc["lot1", "weight_source"] == "override"
    assert d.loc["staffA", "weight"] == 75.0
    assert d.loc["lot0", "weight"] == 10.0  # 20 default spaces x 0.5
    with pytest.raises(ValueError, match="negative"):
        demand_points(buildings(), None, "ebike", overrides={"dormA": -1})
    with pytest.raises(ValueError, match="kind"):
        demand_points(buildings(), None, "bus")  # type: ignore[arg-type]


def test_chargers_are_separated_by_kind_and_status() -> None:
    ch = points([(0, 0), (10, 0), (20, 0), (30, 0)], "c", kind=["car", "ebike", "ebike", "car"],
                status=["existing", "existing", "planned", "planned"])
    assert list(charger_sites(ch, "ebike")["id"]) == ["c1"]
    assert list(charger_sites(ch, "car")["id"]) == ["c0"]
    assert list(charger_sites(ch, "ebike", statuses=("existing", "planned"))["id"]) == ["c1", "c2"]


def test_candidates_are_lots_and_planner_points_with_unique_ids() -> None:
    c = candidate_sites(lots(), points([(5, 5)], "p"))
    assert list(c["id"]) == ["lotP", "lot0", "lot1", "p0"]
    assert list(c["source"]) == ["parking_lot"] * 3 + ["planner"]
    with pytest.raises(ValueError, match="unique"):
        candidate_sites(lots(), points([(5, 5)], "lot"))
