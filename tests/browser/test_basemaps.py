"""Basemaps in a real Chromium: GCJ-02 drawing and clicks on AMap, and MBTiles served by patrolmap itself.

Internet tiles are blocked in these tests (conftest.watch), so AMap's tiles never arrive: the
tests check where patrolmap asks for them and draws and stores things, which is what matters.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pytest
from pyproj import Geod

from patrolmap.geo.chinacoords import gcj02_to_wgs84, wgs84_to_gcj02

from ..test_tiles import MB
from .conftest import LiveServer, open_page, set_view, shot, wait_idle

pytestmark = pytest.mark.browser

GEOD = Geod(ellps="WGS84")
MAP = "window[document.querySelector('.folium-map').id]"
AMAP = "AMap / Gaode"
# An empty spot on the sample campus, away from other features (also used by test_pages).
WHERE = (116.35035, 40.00330)


def world_pixel(lon: float, lat: float, zoom: int) -> tuple[float, float]:
    """Web-mercator pixel of a lon/lat at a zoom (256-pixel tiles), as Leaflet counts them."""
    scale = 256 * 2**zoom
    y = math.log(math.tan(math.pi / 4 + math.radians(lat) / 2))
    return (lon + 180) / 360 * scale, (1 - y / math.pi) / 2 * scale


def lonlat_of_world_pixel(x: float, y: float, zoom: int) -> tuple[float, float]:
    scale = 256 * 2**zoom
    lon = x / scale * 360 - 180
    lat = math.degrees(2 * math.atan(math.exp(math.pi * (1 - 2 * y / scale))) - math.pi / 2)
    return lon, lat


def metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    return GEOD.inv(a[0], a[1], b[0], b[1])[2]


def pick_basemap(page: Any, name: str) -> None:
    page.hover(".leaflet-control-layers")
    page.locator(".leaflet-control-layers-base label", has_text=name).click()
    page.mouse.move(5, 400)  # let the control collapse
    wait_idle(page)


def crs_name(page: Any) -> str:
    return page.evaluate(f"() => window.patrolmap.chinacoords.crsName({MAP})")


def test_js_conversion_agrees_with_python(live: LiveServer, page: Any) -> None:
    open_page(page, live.url + "/grid")
    lon, lat = np.meshgrid(np.linspace(70, 140, 36), np.linspace(0, 57, 30))  # in and around the box
    points = np.column_stack([lon.ravel(), lat.ravel()]).tolist()
    js = page.evaluate("(pts) => { const cc = window.patrolmap.chinacoords;"
                       " return pts.map(p => [cc.wgs84ToGcj02(p[0], p[1]), cc.gcj02ToWgs84(p[0], p[1])]); }", points)
    forward = np.array([r[0] for r in js])
    inverse = np.array([r[1] for r in js])
    py_forward = np.column_stack(wgs84_to_gcj02(lon.ravel(), lat.ravel()))
    py_inverse = np.column_stack(gcj02_to_wgs84(lon.ravel(), lat.ravel()))
    assert np.abs(forward - py_forward).max() < 1e-7
    assert np.abs(inverse - py_inverse).max() < 1e-7
    print(f"JS vs Python over {len(points)} points: forward {np.abs(forward - py_forward).max():.2e} deg, "
          f"inverse {np.abs(inverse - py_inverse).max():.2e} deg")
    assert not page.trouble.report(), page.trouble.report()


def drawn_violation(page: Any, feature_id: int | None = None) -> dict[str, Any]:
    """Where a violation's circle (by id, else the one nearest the centre) is drawn, in world pixels."""
    return page.evaluate(
        "(id) => { const m = " + MAP + "; const c0 = m.getCenter(); let f = null, best = Infinity;"
        " window.patrolmap.layer('violations').eachLayer(l => {"
        "   if (!l.feature || l.feature.geometry.type !== 'Point') return;"
        "   const d = id === null ? c0.distanceTo(l.getLatLng()) : (l.feature.id === id ? 0 : Infinity);"
        "   if (d < best) { best = d; f = l; } });"
        " const r = f._path.getBoundingClientRect(), c = m.getContainer().getBoundingClientRect();"
        " const o = m.containerPointToLayerPoint([0, 0]).add(m.getPixelOrigin());"
        " return {id: f.feature.id, lon: f.feature.geometry.coordinates[0], lat: f.feature.geometry.coordinates[1],"
        "   x: r.left + r.width / 2 - c.left + o.x, y: r.top + r.height / 2 - c.top + o.y, zoom: m.getZoom()}; }",
        feature_id,
    )


def test_amap_draws_in_gcj02_and_stores_clicks_in_wgs84(live: LiveServer, page: Any) -> None:
    open_page(page, live.url + "/violations")
    set_view(page, WHERE[1], WHERE[0], 20)  # close enough that violations are drawn one by one
    plain = drawn_violation(page)
    assert crs_name(page) == "wgs84"
    with page.expect_request(lambda r: "/api/layers/violations?" in r.url) as request:
        pick_basemap(page, AMAP)
    assert crs_name(page) == "gcj02"
    # The data request after the switch asks for the view's WGS84 bbox: the view's corners are
    # GCJ-02 positions on AMap, converted back here in Python.
    view = page.evaluate("() => { const m = " + MAP + "; const s = m.getSize();"
                         " const o = m.containerPointToLayerPoint([0, 0]).add(m.getPixelOrigin());"
                         " return [o.x, o.y, o.x + s.x, o.y + s.y, m.getZoom()]; }")
    west, south = gcj02_to_wgs84(*lonlat_of_world_pixel(view[0], view[3], view[4]))
    east, north = gcj02_to_wgs84(*lonlat_of_world_pixel(view[2], view[1], view[4]))
    asked = [float(v) for v in parse_qs(urlsplit(request.value.url).query)["bbox"][0].split(",")]
    assert np.abs(np.array(asked) - [west, south, east, north]).max() < 1e-6, (asked, [west, south, east, north])
    shifted = drawn_violation(page, plain["id"])
    z = plain["zoom"]
    lonlat = (plain["lon"], plain["lat"])
    # Without a GCJ-02 basemap the circle sits on its WGS84 position; with AMap on its GCJ-02 one.
    expected_plain = world_pixel(*lonlat, z)
    expected_shifted = world_pixel(*wgs84_to_gcj02(*lonlat), z)
    assert math.dist((plain["x"], plain["y"]), expected_plain) < 1.5
    assert math.dist((shifted["x"], shifted["y"]), expected_shifted) < 1.5
    offset_px = math.dist(expected_plain, expected_shifted)
    offset_m = metres(lonlat, wgs84_to_gcj02(*lonlat))
    assert offset_px > 2000  # some 500 m at z20, where a pixel is about 0.11 m
    print(f"GCJ-02 offset at the sample campus: {offset_m:.1f} m, {offset_px:.0f} px at z{z}")
    # AMap's tiles (z18 at most, enlarged) are asked for in GCJ-02's grid: the one under the view's
    # centre is among them.
    centre = page.evaluate(f"() => {{ const c = {MAP}.getCenter(); return [c.lng, c.lat]; }}")
    tx, ty = (int(v // 256) for v in world_pixel(*wgs84_to_gcj02(*centre), 18))
    amap = [u for u in page.trouble.blocked_requests if "autonavi.com" in u]
    assert any(f"x={tx}&y={ty}&z=18" in u for u in amap), amap[:5]

    # Record a violation by clicking where AMap shows the spot, as a traffic officer would.
    page.locator(".pm-record-toggle").click()
    box = page.evaluate(
        "([lat, lon]) => { const m = " + MAP + "; const p = m.latLngToContainerPoint([lat, lon]);"
        " const r = m.getContainer().getBoundingClientRect();"
        " const o = m.containerPointToLayerPoint([0, 0]).add(m.getPixelOrigin());"
        " return {left: r.left + m.getContainer().clientLeft, top: r.top + m.getContainer().clientTop,"
        "   px: p.x, py: p.y, ox: o.x, oy: o.y, zoom: m.getZoom()}; }", [WHERE[1], WHERE[0]])
    click = (round(box["left"] + box["px"]), round(box["top"] + box["py"]))
    page.mouse.click(*click)
    form = page.locator(".pm-record-form")
    form.wait_for()
    form.locator("select[name=kind]").select_option("no_parking")
    with page.expect_response(lambda r: r.url.endswith("/api/violations") and r.request.method == "POST") as resp:
        form.evaluate("(f) => f.requestSubmit()")
    assert resp.value.status == 201
    created = resp.value.json()
    stored_lonlat = tuple(page.request.get(f"{live.url}/api/layers/violations?ids={created['id']}")
                          .json()["features"][0]["geometry"]["coordinates"])
    # What lies under the cursor: the clicked pixel is a GCJ-02 position on AMap; back to WGS84 in Python.
    clicked_gcj = lonlat_of_world_pixel(click[0] - box["left"] + box["ox"], click[1] - box["top"] + box["oy"],
                                        box["zoom"])
    expected = gcj02_to_wgs84(*clicked_gcj)
    assert metres(stored_lonlat, expected) < 1.0
    assert metres(stored_lonlat, WHERE) < 1.0  # the spot AMap showed under the cursor
    assert metres(stored_lonlat, clicked_gcj) > 300  # not the GCJ-02 numbers themselves
    print(f"recorded on AMap at {stored_lonlat}: {metres(stored_lonlat, expected) * 1000:.3f} mm from the WGS84"
          f" point under the cursor {expected}, {metres(stored_lonlat, WHERE):.3f} m from the spot aimed at")
    wait_idle(page)
    shot(page, "amap-recorded")

    # Back to no basemap: the map leaves GCJ-02, and the circle is back on its WGS84 position.
    set_view(page, WHERE[1], WHERE[0], 20)  # the form's popup may have panned the map
    pick_basemap(page, "No basemap")
    assert crs_name(page) == "wgs84"
    again = drawn_violation(page, plain["id"])
    assert math.dist((again["x"], again["y"]), world_pixel(*lonlat, again["zoom"])) < 1.5
    # Nothing went wrong but the blocked AMap tiles (Chromium logs each as a failed resource), and
    # layer requests cut short by the next view's (the CRS switch and the recording move the view).
    trouble = page.trouble
    assert amap and all("autonavi.com" in u for u in trouble.blocked_requests), trouble.report()
    assert all("autonavi.com" in f or ("/api/layers/" in f and f.endswith("(net::ERR_ABORTED)"))
               for f in trouble.failed_requests), trouble.report()
    assert all(e == "Failed to load resource: net::ERR_FAILED" for e in trouble.console_errors), trouble.report()
    assert len(trouble.console_errors) <= len(trouble.blocked_requests) and not trouble.page_errors, trouble.report()


def test_gps_fix_on_amap_is_stored_as_it_came(live: LiveServer, page: Any) -> None:
    """GPS positions are WGS84 already: on a GCJ-02 basemap they are drawn shifted, never converted."""
    fix = {"latitude": 40.00318, "longitude": 116.35050}
    page.context.grant_permissions(["geolocation"])
    page.context.set_geolocation(fix)
    open_page(page, live.url + "/violations")
    pick_basemap(page, AMAP)
    page.locator(".pm-record-here").click()
    form = page.locator(".pm-record-form")
    form.wait_for()
    with page.expect_response(lambda r: r.url.endswith("/api/violations") and r.request.method == "POST") as resp:
        form.evaluate("(f) => f.requestSubmit()")
    assert resp.value.status == 201
    lon, lat = resp.value.json()["geometry"]["coordinates"]
    assert abs(lon - fix["longitude"]) < 1e-7 and abs(lat - fix["latitude"]) < 1e-7
    assert crs_name(page) == "gcj02"


@pytest.fixture
def mbtiles_live(live: LiveServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The shared live server with a chequered MBTiles basemap over the sample campus, for one test."""
    path: Path = tmp_path_factory.mktemp("mbtiles") / "campus.mbtiles"
    MB.make_chequered(path, (116.340, 39.994, 116.365, 40.012), range(14, 19), name="Campus tiles")
    saved = live.app.config.get("MBTILES")
    live.app.config["MBTILES"] = f"campus={path}"
    try:
        yield live
    finally:
        live.app.config["MBTILES"] = saved


def test_mbtiles_basemap_loads_from_patrolmap_itself(mbtiles_live: LiveServer, page: Any) -> None:
    open_page(page, mbtiles_live.url + "/patrol")
    set_view(page, WHERE[1], WHERE[0], 17)
    pick_basemap(page, "Campus tiles")
    page.wait_for_function("() => document.querySelectorAll('img.leaflet-tile').length > 0 && "
                           "[...document.querySelectorAll('img.leaflet-tile')].every(i => i.complete)")
    tiles = page.evaluate("() => [...document.querySelectorAll('img.leaflet-tile')]"
                          ".map(i => [i.src, i.naturalWidth, i.classList.contains('leaflet-tile-loaded')])")
    assert tiles and all(src.startswith(f"{mbtiles_live.url}/tiles/campus/17/") for src, _, _ in tiles)
    assert all(width == 256 and loaded for _, width, loaded in tiles), tiles
    # The tile under the view's centre is the one the file holds for that place (row flipped).
    x, y = MB.tile_xy(WHERE[0], WHERE[1], 17)
    assert f"{mbtiles_live.url}/tiles/campus/17/{x}/{y}" in [src for src, _, _ in tiles]
    assert crs_name(page) == "wgs84"
    shot(page, "mbtiles-basemap")
    assert not page.trouble.report(), page.trouble.report()
