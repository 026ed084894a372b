"""Route coverage against hand-made zones, buildings and hotspots, laid out in metres.

Every distance expected below is worked out by hand from the layout (perpendicular drops
to an edge, or Pythagoras to a corner); one is checked again on the ellipsoid with pyproj.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import geopandas as gpd
import pytest
from shapely.geometry import LineString, Point, Polygon

from patrolmap.routing.coverage import coverage_rows, passes_within, route_coverage, visit_points
from tests.routing.helpers import GEOD, lonlat


def line(points: Sequence[tuple[float, float]]) -> LineString:
    return LineString([lonlat(p) for p in points])


def box(x0: float, y0: float, x1: float, y1: float) -> Polygon:
    return Polygon([lonlat(p) for p in ((x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0))])


# Team 1 walks a 200 m x 100 m rectangle from its south-west corner; team 2 a 100 m square 1 km east.
TEAM1 = line([(0, 0), (200, 0), (200, 100), (0, 100), (0, 0)])
TEAM2 = line([(1000, 0), (1100, 0), (1100, 100), (1000, 100), (1000, 0)])
ROUTES = {1: TEAM1, 2: TEAM2, 3: None}  # team 3 got nothing to visit

ZONES = gpd.GeoDataFrame({"id": [1, 2, 3, 4], "name": ["north", "crossed", "far", "around team 2"]}, geometry=[
    box(50, 150, 150, 250),      # 50 m north of team 1's north side (y = 100)
    box(150, -50, 300, 50),      # team 1's south-east corner runs through it: 0 m
    box(500, 500, 600, 600),     # corner (500, 500) to team 1's corner (200, 100): sqrt(300² + 400²) = 500 m
    box(950, -50, 1150, 150),    # holds team 2's whole route: 0 m
], crs="EPSG:4326")
BUILDINGS = gpd.GeoDataFrame({"id": [11, 12, 13], "name": ["east hall", "south hall", "far hall"],
                              "kind": ["dorm", "canteen", "dorm"]}, geometry=[
    box(220, 40, 240, 60),       # 20 m east of team 1's east side (x = 200)
    box(90, -45, 110, -35),      # 35 m south of team 1's south side (y = 0)
    box(1050, 130, 1060, 140),   # 30 m north of team 2's north side (y = 100)
], crs="EPSG:4326")
HOTSPOTS = gpd.GeoDataFrame({"key": ["a", "b", "c"], "name": ["midway", "on the route", "inside"]}, geometry=[
    Point(lonlat((600, 0))),     # 400 m from team 1's corner (200, 0) and from team 2's corner (1000, 0)
    box(-10, 90, 10, 110),       # team 1's north-west corner lies inside: 0 m
    Point(lonlat((100, 50))),    # inside team 1's rectangle, 50 m from its north and south sides
], crs="EPSG:4326")


def test_distances_are_the_hand_worked_metres() -> None:
    near = passes_within(ROUTES, list(ZONES.geometry) + list(BUILDINGS.geometry) + list(HOTSPOTS.geometry), 40)
    expected = [50, 0, 500, 0, 20, 35, 30, 400, 0, 50]
    assert [n.distance_m for n in near] == pytest.approx(expected, abs=0.01)
    assert [n.teams for n in near] == [(), (1,), (), (2,), (1,), (1,), (2,), (), (1,), ()]
    # The same 400 m measured on the ellipsoid between the hotspot and team 1's nearest corner.
    geodesic = GEOD.inv(*lonlat((600, 0)), *lonlat((200, 0)))[2]
    assert near[7].distance_m == pytest.approx(geodesic, abs=0.01)


def test_the_near_distance_decides_what_is_passed() -> None:
    tight = route_coverage(ROUTES, near_m=25, zones=ZONES, buildings=BUILDINGS, hotspots=HOTSPOTS)
    assert [(z["id"], z["teams"], z["distance_m"]) for z in tight["zones"]] == [(2, [1], 0.0), (4, [2], 0.0)]
    assert [(b["id"], b["name"], b["kind"], b["teams"], b["distance_m"]) for b in tight["buildings"]] == [
        (11, "east hall", "dorm", [1], 20.0)]
    wide = route_coverage(ROUTES, near_m=60, zones=ZONES, buildings=BUILDINGS, hotspots=HOTSPOTS)
    # nearest first: zones 2 and 4 at 0 m, zone 1 at 50 m; zone 3 (500 m) stays out
    assert [(z["id"], z["distance_m"]) for z in wide["zones"]] == [(2, 0.0), (4, 0.0), (1, 50.0)]
    assert [(b["id"], b["teams"], b["distance_m"]) for b in wide["buildings"]] == [
        (11, [1], 20.0), (13, [2], 30.0), (12, [1], 35.0)]
    assert wide["near_m"] == 60


def test_every_hotspot_is_listed_with_whether_it_is_covered() -> None:
    result = route_coverage(ROUTES, near_m=50, hotspots=HOTSPOTS)
    assert [(h["key"], h["name"], h["covered"], h["teams"], h["distance_m"]) for h in result["hotspots"]] == [
        ("a", "midway", False, [], 400.0), ("b", "on the route", True, [1], 0.0),
        ("c", "inside", True, [1], 50.0)]  # 50 m is within 50 m
    assert result["zones"] == [] and result["buildings"] == []
    # a route standing still is no route: nothing is passed, distances are unknown
    idle = coverage_rows({1: None}, HOTSPOTS, 50, keep_all=True)
    assert [(h["covered"], h["distance_m"]) for h in idle] == [(False, None)] * 3
    assert coverage_rows({1: None}, ZONES, 50) == []


def test_a_route_through_a_building_is_zero_metres_from_it() -> None:
    through = {1: line([(0, 0), (100, 0), (0, 0)])}  # out and back along y = 0
    hall = gpd.GeoDataFrame({"id": [1], "name": ["hall"], "kind": ["lab"]}, geometry=[box(40, -10, 60, 10)],
                            crs="EPSG:4326")
    [row] = coverage_rows(through, hall, 0, fields=("id",))
    assert row == {"id": 1, "teams": [1], "distance_m": 0.0}
    # 10 m beyond the turning point: sqrt(10² + 0²) = 10 m; diagonal 30 m east, 40 m north of it: 50 m
    corner = gpd.GeoDataFrame({"id": [2, 3]}, geometry=[Point(lonlat((110, 0))), Point(lonlat((130, 40)))],
                              crs="EPSG:4326")
    near = passes_within(through, list(corner.geometry), 10.5)
    assert [n.distance_m for n in near] == pytest.approx([10, math.hypot(30, 40)], abs=0.01)
    assert [n.teams for n in near] == [(1,), ()]


def test_a_bad_distance_is_refused() -> None:
    for bad in (-1, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="near_m"):
            passes_within(ROUTES, [Point(lonlat((0, 0)))], bad)


def test_a_building_is_visited_where_the_network_comes_nearest() -> None:
    from patrolmap.routing.network import build_network
    from tests.routing.helpers import PROJ, layer

    net = build_network(layer([[(0, 0), (300, 0)], [(300, 0), (300, 300)]]), projection=PROJ)
    buildings = [
        Polygon([lonlat(p) for p in ((100, 20), (140, 30), (120, 60))]),  # corner (100, 20): 20 m above (100, 0)
        Polygon([lonlat(p) for p in ((330, 200), (360, 200), (360, 240))]),  # corner (330, 200): 30 m east of the road
        box(0, 200, 20, 220),  # corner (20, 200): 200 m above the first path, 280 m from the second
        box(290, 100, 310, 120),  # the second path runs through it
    ]
    visits = visit_points(net, buildings)
    assert [v.distance_m for v in visits] == pytest.approx([20, 30, 200, 0], abs=0.01)
    assert visits[0].lonlat == pytest.approx(lonlat((100, 0)), abs=1e-9)
    assert visits[1].lonlat == pytest.approx(lonlat((300, 200)), abs=1e-9)
    assert visits[2].lonlat is None  # beyond the 150 m a point may be snapped
    x, y = PROJ.forward([visits[3].lonlat[0]], [visits[3].lonlat[1]])
    assert x[0] == pytest.approx(300, abs=1e-6) and 100 - 1e-6 <= y[0] <= 120 + 1e-6
    assert visit_points(net, buildings[2:3], max_distance_m=250)[0].lonlat == pytest.approx(lonlat((20, 0)), abs=1e-9)
