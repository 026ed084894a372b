"""Hotspots end to end on synthetic data: a planted cluster is found in its hour and only there."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from patrolmap.analysis.errors import InputError
from patrolmap.analysis.hexgrid import LocalProjection
from patrolmap.analysis.hotspots import compute_hotspots, smallest_cell_m
from patrolmap.analysis.timewindow import select_violations
from patrolmap.analysis.workcalendar import weekday_of

ORIGIN = (116.352, 40.003)
PROJECTION = LocalProjection(*ORIGIN)
CLUSTER_XY = (200.0, 100.0)  # metres east and north of the origin
# A small street grid: the cells where parking can happen even without a violation.
ROADS = [shapely.LineString(np.column_stack(PROJECTION.inverse(np.array([-600.0, 600.0]), np.array([y, y]))))
         for y in (-300.0, 0.0, 300.0)]


def lonlat(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return PROJECTION.inverse(x, y)


def violations(seed: int, *, background: int = 4000, cluster: int = 200, cluster_hour: int = 8) -> pd.DataFrame:
    """Uniform background at every hour over 1.2 x 1.2 km, plus a dense cluster at one place and hour."""
    rng = np.random.default_rng(seed)
    x = np.concatenate([rng.uniform(-600, 600, background), rng.normal(CLUSTER_XY[0], 12, cluster)])
    y = np.concatenate([rng.uniform(-600, 600, background), rng.normal(CLUSTER_XY[1], 12, cluster)])
    hour = np.concatenate([rng.integers(0, 24, background), np.full(cluster, cluster_hour)])
    day = np.datetime64("2026-03-02") + rng.integers(0, 28, background + cluster)
    lon, lat = lonlat(x, y)
    return pd.DataFrame({
        "lon": lon, "lat": lat, "local_hour": hour, "local_minute": rng.integers(0, 60, background + cluster),
        "local_date": day, "local_weekday": weekday_of(day), "kind": "no_parking",
    })


def cluster_cell(result: object) -> pd.Series:
    lon, lat = lonlat(np.array([CLUSTER_XY[0]]), np.array([CLUSTER_XY[1]]))
    cells = result.cells  # type: ignore[attr-defined]
    return cells[cells.contains(shapely.Point(lon[0], lat[0]))].iloc[0]


def test_planted_cluster_is_hot_99_in_its_window_and_not_outside() -> None:
    table = violations(1)
    inside = table[select_violations(table, hours="07:00-09:00")]
    outside = table[select_violations(table, hours="13:00-15:00")]
    hot = compute_hotspots(inside, ROADS, 50, origin=ORIGIN)
    cold = compute_hotspots(outside, ROADS, 50, origin=ORIGIN)
    assert cluster_cell(hot)["class"] == "hot_99"
    assert cluster_cell(cold)["class"] == "not_significant"
    # Away from the cluster nothing in the window is hot at 99 %.
    far = hot.cells[hot.cells["class"] == "hot_99"]
    cx, cy = hot.grid.centres_xy(far["q"].to_numpy(), far["r"].to_numpy())
    assert (np.hypot(cx - CLUSTER_XY[0], cy - CLUSTER_XY[1]) < 150).all()
    assert hot.top[0]["class"] == "hot_99"
    assert hot.top[0]["peak_hours"][0]["hours"] in ("07:00-08:00", "08:00-09:00")


def test_counts_add_up_to_the_violations_binned() -> None:
    table = violations(2)
    result = compute_hotspots(table, ROADS, 50, origin=ORIGIN)
    assert result.cells["count"].sum() == result.matched == len(table)
    sparse = compute_hotspots(table.iloc[:50], ROADS, 50, origin=ORIGIN, include_empty=False)
    assert sparse.cells["count"].sum() == 50
    assert len(sparse.cells) < sparse.analysed  # empty road cells analysed, not returned
    assert set(sparse.cells.columns) >= {"count", "gi_z", "p_value", "class", "geometry"}


def test_uniform_data_yields_no_significant_cells_beyond_the_false_positive_rate() -> None:
    """Under the null, BH at 10 % lets at least one false discovery through in about 10 % of data sets."""
    with_any, unadjusted = 0, 0
    for seed in range(20):
        table = violations(100 + seed, cluster=0)
        result = compute_hotspots(table, ROADS, 50, origin=ORIGIN)
        with_any += bool((result.cells["class"] != "not_significant").any())
        unadjusted += int((compute_hotspots(table, ROADS, 50, origin=ORIGIN, fdr=False).cells["class"]
                           != "not_significant").sum())
    assert with_any <= 4  # expected about 2 of 20
    assert unadjusted > 200  # without the correction: dozens of the ~250 cells in every data set


def test_roads_without_violations_are_analysed_cells() -> None:
    result = compute_hotspots(violations(3).iloc[:0], ROADS, 50, origin=ORIGIN)
    assert result.matched == 0 and result.analysed > 0
    assert (result.cells["count"] == 0).all() and (result.cells["class"] == "not_significant").all()


def test_too_small_a_cell_for_the_area_is_refused_with_the_smallest_that_fits() -> None:
    table = violations(4)
    with pytest.raises(InputError) as caught:
        compute_hotspots(table, ROADS, 5, origin=ORIGIN, max_cells=20_000)
    minimum = caught.value.params["minimum"]
    assert minimum > 5
    compute_hotspots(table, ROADS, minimum, origin=ORIGIN, max_cells=20_000)  # and that one works
    assert smallest_cell_m((0, 0, 100, 100), 10**9) == 5
    with pytest.raises(InputError):
        compute_hotspots(table, ROADS, 1, origin=ORIGIN)


def test_top_hotspots_name_the_nearest_building() -> None:
    table = violations(5)
    table = table[select_violations(table, hours="07:00-09:00")]
    lon, lat = lonlat(np.array([CLUSTER_XY[0] + 30, -500.0]), np.array([CLUSTER_XY[1], -500.0]))
    canteen = shapely.Point(lon[0], lat[0]).buffer(0.0001)
    far = shapely.Point(lon[1], lat[1]).buffer(0.0001)
    buildings = gpd.GeoDataFrame({"name": ["第一食堂", None], "name_en": [None, "Lab"], "kind": ["canteen", "lab"]},
                                 geometry=[canteen, far], crs="EPSG:4326")
    result = compute_hotspots(table, ROADS, 50, origin=ORIGIN, buildings=buildings)
    first = result.top[0]
    assert (first["building"], first["building_kind"]) == ("第一食堂", "canteen")
    assert first["building_distance_m"] < 60
    assert first["count"] == max(t["count"] for t in result.top)
