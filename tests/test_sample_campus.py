"""The committed sample campus (geodata/cau-east) is valid, plausible and reproducible.

Pure checks on the generated files, computed independently of the generator:
no app, no database.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from patrolmap.geo import io as geo_io
from patrolmap.geo.validate import validate_layer

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "geodata" / "cau-east"
SCRIPT = ROOT / "scripts" / "make_sample_campus.py"
RUSH_HOURS = ((dt.time(7), dt.time(9)), (dt.time(11, 30), dt.time(13)), (dt.time(17), dt.time(19)))
LAYERS = ("buildings", "paths", "parking-lots", "chargers", "checkpoints", "grid-zones", "duty-posts")


@pytest.fixture(scope="module")
def layers() -> dict[str, gpd.GeoDataFrame]:
    """Every GeoJSON layer, in the UTM zone of the campus so that distances are metres."""
    frames = {name: gpd.read_file(SAMPLE / f"{name}.geojson") for name in LAYERS}
    utm = frames["buildings"].estimate_utm_crs()
    return {name: frame.to_crs(utm) for name, frame in frames.items()}


@pytest.fixture(scope="module")
def violations(layers: dict[str, gpd.GeoDataFrame]) -> gpd.GeoDataFrame:
    table = pd.read_csv(SAMPLE / "violations.csv", dtype={"note": "object"})
    table["observed_at"] = pd.to_datetime(table["observed_at"], format="ISO8601").dt.tz_convert("Asia/Shanghai")
    points = gpd.points_from_xy(table["lon"], table["lat"], crs="EPSG:4326")
    return gpd.GeoDataFrame(table, geometry=points).to_crs(layers["buildings"].crs)


def test_every_layer_passes_the_importers_validation() -> None:
    raw = geo_io.read_folder(SAMPLE)
    assert set(raw) == {*LAYERS, "violations"}
    for layer, features in raw.items():
        checked = validate_layer(layer, features, timezone="Asia/Shanghai")
        assert checked.warnings == [], layer  # no unknown fields, no repaired geometry
        assert all(f.id for f in features), f"{layer}: every feature has a stable id"


def test_campus_json_names_the_campus_and_credits_osm() -> None:
    campus = json.loads((SAMPLE / "campus.json").read_text(encoding="utf-8"))
    assert campus["slug"] == "cau-east"
    assert campus["timezone"] == "Asia/Shanghai"
    assert "OpenStreetMap" in campus["attribution"]


def test_violations_stand_on_roads_or_in_lots_never_in_buildings(
    layers: dict[str, gpd.GeoDataFrame], violations: gpd.GeoDataFrame,
) -> None:
    points = violations.geometry.to_numpy()
    inside, _ = layers["buildings"].sindex.query(points, predicate="within")
    assert len(inside) == 0, violations.iloc[inside[:5]][["id", "kind"]]
    paths = layers["paths"]
    roads = paths[paths["kind"].isin(["road", "service"])].geometry.union_all()
    lots = layers["parking-lots"].geometry
    in_lot = shapely.contains(lots[lots.geom_type.str.endswith("Polygon")].union_all(), points)
    on_road = shapely.distance(roads, points) <= 4.0
    stray = ~(in_lot | on_road)
    assert not stray.any(), violations[stray][["id", "kind"]].head()


def test_fire_lane_violations_stand_on_fire_lanes(
    layers: dict[str, gpd.GeoDataFrame], violations: gpd.GeoDataFrame,
) -> None:
    lanes = layers["paths"]
    lanes = lanes[lanes["fire_lane"].astype(bool)]
    assert set(lanes["kind"]) <= {"road", "service"}
    blocking = violations[violations["kind"] == "fire_lane"]
    assert len(blocking) > 100
    assert (shapely.distance(lanes.geometry.union_all(), blocking.geometry.to_numpy()) <= 4.0).all()


def test_violations_cover_the_autumn_term(violations: gpd.GeoDataFrame) -> None:
    days = violations["observed_at"].dt.date
    assert days.min() == dt.date(2026, 9, 1)
    assert days.max() == dt.date(2026, 11, 30)
    assert 5000 <= len(violations) <= 7000
    assert violations["observed_at"].is_monotonic_increasing
    assert violations["id"].is_unique
    counts = violations["kind"].value_counts()
    assert counts.idxmax() == "no_parking"
    assert set(counts.index) == {"no_parking", "fire_lane", "entrance", "zombie", "other"}


def test_violations_peak_at_rush_hours(violations: gpd.GeoDataFrame) -> None:
    clock = violations["observed_at"].dt.time
    in_rush = np.zeros(len(violations), dtype=bool)
    for start, end in RUSH_HOURS:
        in_rush |= ((clock >= start) & (clock < end)).to_numpy()
    assert in_rush.mean() > 0.55
    by_hour = violations["observed_at"].dt.hour.value_counts()
    assert set(by_hour.nlargest(5).index) <= {7, 8, 11, 12, 17, 18}


def test_weekends_are_quieter(violations: gpd.GeoDataFrame) -> None:
    days = violations["observed_at"].dt.date
    weekend = violations["observed_at"].dt.day_of_week >= 5
    per_weekday = (~weekend).sum() / days[~weekend].nunique()
    per_weekend_day = weekend.sum() / days[weekend].nunique()
    assert per_weekend_day < 0.7 * per_weekday


def test_zombie_cars_stay_put_for_weeks(violations: gpd.GeoDataFrame) -> None:
    zombies = violations[violations["kind"] == "zombie"]
    plates = zombies.groupby("plate")
    assert 2 <= plates.ngroups <= 4
    for plate, sightings in plates:
        days = sightings["observed_at"].dt.date
        assert days.nunique() >= 10, plate
        assert (days.max() - days.min()).days >= 45, f"{plate} is seen over much of the term"
        spot = shapely.Point(np.median(sightings.geometry.x), np.median(sightings.geometry.y))
        assert sightings.distance(spot).max() <= 5.0, plate


def test_grid_zones_are_valid_disjoint_and_own_every_dorm(layers: dict[str, gpd.GeoDataFrame]) -> None:
    zones = layers["grid-zones"]
    assert zones.is_valid.all()
    assert zones["officer"].notna().all()
    assert zones["officer_phone"].str.fullmatch(r"1380000\d{4}").all()
    for a, b in itertools.combinations(zones.geometry, 2):
        assert a.intersection(b).area < 1.0
    buildings = layers["buildings"]
    homes = buildings[buildings["kind"].isin(["dorm", "staff_apartment"])]
    assert len(homes) > 0
    for home in homes.itertuples():
        owners = zones[zones.contains(home.geometry.representative_point())]
        assert len(owners) == 1, home.name
        assert owners.geometry.iloc[0].intersection(home.geometry).area >= 0.95 * home.geometry.area, home.name


def test_housing_has_residents_and_roads_have_fire_lanes(layers: dict[str, gpd.GeoDataFrame]) -> None:
    buildings = layers["buildings"]
    homes = buildings[buildings["kind"].isin(["dorm", "staff_apartment"])]
    assert (homes["residents"] > 0).all()
    assert buildings.loc[~buildings.index.isin(homes.index), "residents"].isna().all()
    assert layers["paths"]["fire_lane"].astype(bool).sum() >= 5


def test_chargers_stand_where_they_serve(layers: dict[str, gpd.GeoDataFrame]) -> None:
    chargers, buildings = layers["chargers"], layers["buildings"]
    cars = chargers[(chargers["kind"] == "car") & (chargers["status"] == "existing")]
    lots = layers["parking-lots"].geometry.union_all()
    assert len(cars) >= 4
    assert (cars.distance(lots) < 1.0).all()
    ebikes = chargers[(chargers["kind"] == "ebike") & (chargers["status"] == "existing")]
    dorms = buildings[buildings["kind"] == "dorm"].geometry.union_all()
    assert len(ebikes) >= 6
    assert (ebikes.distance(dorms) <= 15.0).all()
    assert 3 <= (chargers["status"] == "planned").sum() <= 4
    assert not chargers.geometry.within(buildings.geometry.union_all()).any()


def test_checkpoints_and_posts_are_on_campus_paths(layers: dict[str, gpd.GeoDataFrame]) -> None:
    checkpoints = layers["checkpoints"]
    assert {"gate", "dorm"} <= set(checkpoints["kind"])
    assert checkpoints["name"].is_unique
    network = layers["paths"].geometry.union_all()
    assert (checkpoints.distance(network) < 0.5).all()
    posts = layers["duty-posts"]
    assert 3 <= len(posts) <= 4
    assert posts["hours"].str.fullmatch(r"\d\d:\d\d-\d\d:\d\d(,\d\d:\d\d-\d\d:\d\d)*").all()


def test_output_stays_small() -> None:
    assert sum(f.stat().st_size for f in SAMPLE.iterdir()) < 3_000_000


def test_generator_reproduces_the_committed_files(tmp_path: Path) -> None:
    subprocess.run([sys.executable, str(SCRIPT), "--out", str(tmp_path)], check=True, capture_output=True)
    committed = sorted(f.name for f in SAMPLE.iterdir() if f.name != "README.md")
    assert sorted(f.name for f in tmp_path.iterdir()) == committed
    for name in committed:
        assert (tmp_path / name).read_bytes() == (SAMPLE / name).read_bytes(), f"{name} differs: regenerate it"
