"""WGS84 <-> GCJ-02 against published reference pairs, exact round trips across China, vectorised = scalar."""

from __future__ import annotations

import numpy as np
import pytest
from pyproj import Geod

from patrolmap.geo.chinacoords import gcj02_to_wgs84, out_of_china, wgs84_to_gcj02

GEOD = Geod(ellps="WGS84")

# (WGS84 lon, lat) -> (GCJ-02 lon, lat), output of the standard algorithm as published:
EXACT_PAIRS = [
    # googollee/eviltransform, python/test.py and go/transform_test.go (TESTS): Shanghai, Shenzhen, Beijing.
    ((121.5272106, 31.1774276), (121.531541859215, 31.17530398364597)),
    ((113.912316, 22.543847), (113.9171764808363, 22.540796131694766)),
    ((116.377817, 39.911954), (116.38404722455657, 39.91334545536069)),
    # wandergis/coordtransform, test/app.js: wgs84togcj02(116.404, 39.915).
    ((116.404, 39.915), (116.41024449916938, 39.91640428150164)),
    # hujiulong/gcoord, test/unit/crs/WGS84.spec.ts: WGS84.to.GCJ02([123, 45]) to 8 decimals.
    ((123.0, 45.0), (123.00607541, 45.00197815)),
]

# hujiulong/gcoord, test/fixtures/china-cities.json: city centres as WGS84 and GCJ-02 to 7 decimals,
# from map services rather than from the formula; they agree with it to 0.7 m everywhere (a small
# constant shift of the source's), and gcoord itself checks them to 1e-4 degree. Spread over the
# country: Lhasa, Nagqu, Aksu, Altay, Jiuquan, Chengdu, Qinzhou, Shenzhen, Xilinhot, Changchun, Hegang.
CITY_PAIRS = [
    ((91.1706414, 29.655277), (91.1721167, 29.6524954)),
    ((92.0499619, 31.4784436), (92.0512438, 31.4762063)),
    ((80.2584377, 41.1677969), (80.2606106, 41.1687815)),
    ((88.1378895, 47.8436168), (88.1412573, 47.8449292)),
    ((98.4937175, 39.7319946), (98.4943595, 39.7328234)),
    ((104.0640437, 30.5747262), (104.0665489, 30.5722732)),
    ((108.6503952, 21.9828281), (108.6541485, 21.9799392)),
    ((114.0527534, 22.5458236), (114.0578659, 22.5431014)),
    ((116.0414035, 43.9312805), (116.0482308, 43.9334573)),
    ((125.3170587, 43.8146335), (125.3235533, 43.8170782)),
    ((130.2901208, 47.3474834), (130.2979644, 47.3499192)),
]

# Mainland China's extent: Pamirs to the Ussuri, Hainan's south coast to Mohe.
CHINA_EXTENT = (73.5, 18.1, 135.1, 53.6)


def metres(lon1: object, lat1: object, lon2: object, lat2: object) -> np.ndarray:
    """Geodesic distance on the WGS84 ellipsoid."""
    return np.asarray(GEOD.inv(lon1, lat1, lon2, lat2)[2])


@pytest.mark.parametrize(("wgs", "gcj"), EXACT_PAIRS)
def test_forward_matches_published_pairs(wgs: tuple[float, float], gcj: tuple[float, float]) -> None:
    lon, lat = wgs84_to_gcj02(*wgs)
    assert lon == pytest.approx(gcj[0], abs=1e-8) and lat == pytest.approx(gcj[1], abs=1e-8)


@pytest.mark.parametrize(("wgs", "gcj"), EXACT_PAIRS)
def test_inverse_recovers_published_pairs(wgs: tuple[float, float], gcj: tuple[float, float]) -> None:
    lon, lat = gcj02_to_wgs84(*gcj)
    assert lon == pytest.approx(wgs[0], abs=1e-8) and lat == pytest.approx(wgs[1], abs=1e-8)
    assert metres(lon, lat, *wgs) < 0.01


def test_gcoord_inverse_reference() -> None:
    # hujiulong/gcoord, test/unit/crs/GCJ02.spec.ts: GCJ02.to.WGS84([123, 45]), checked there to 5 decimals.
    lon, lat = gcj02_to_wgs84(123.0, 45.0)
    assert lon == pytest.approx(122.99395597, abs=5e-6) and lat == pytest.approx(44.99804071, abs=5e-6)


@pytest.mark.parametrize(("wgs", "gcj"), CITY_PAIRS)
def test_city_pairs_across_china(wgs: tuple[float, float], gcj: tuple[float, float]) -> None:
    lon, lat = wgs84_to_gcj02(*wgs)
    assert metres(lon, lat, *gcj) < 1.0
    back = gcj02_to_wgs84(*gcj)
    assert metres(*back, *wgs) < 1.0


def test_offset_is_hundreds_of_metres_in_china() -> None:
    lon, lat = 116.3490, 40.0021  # the sample campus
    assert 300 < metres(lon, lat, *wgs84_to_gcj02(lon, lat)) < 1000


@pytest.mark.parametrize("point", [
    (0.0, 0.0), (-122.4194, 37.7749), (2.3522, 48.8566), (151.2093, -33.8688),  # nowhere near
    (71.9, 39.0), (137.9, 35.0), (110.0, 0.8), (120.0, 55.9),  # just outside each side of the box
])
def test_outside_the_box_nothing_moves(point: tuple[float, float]) -> None:
    assert out_of_china(*point)
    assert wgs84_to_gcj02(*point) == point
    assert gcj02_to_wgs84(*point) == point


def test_box_edges() -> None:
    assert not out_of_china(72.004, 0.8293) and not out_of_china(137.8347, 55.8271)
    assert out_of_china(72.0039, 30.0) and out_of_china(100.0, 55.8272)
    assert not out_of_china(116.35, 40.0)


def test_round_trip_within_half_a_metre_across_china() -> None:
    """A 0.1-degree grid over mainland China's extent (about 220,000 points), in metres on the ellipsoid."""
    x0, y0, x1, y1 = CHINA_EXTENT
    lon, lat = np.meshgrid(np.arange(x0, x1 + 1e-9, 0.1), np.arange(y0, y1 + 1e-9, 0.1))
    g_lon, g_lat = wgs84_to_gcj02(lon, lat)
    shift = metres(lon.ravel(), lat.ravel(), g_lon.ravel(), g_lat.ravel())
    assert shift.min() > 1.0  # every point really was moved
    w_lon, w_lat = gcj02_to_wgs84(g_lon, g_lat)
    error = metres(lon.ravel(), lat.ravel(), w_lon.ravel(), w_lat.ravel())
    assert lon.size > 200_000
    assert error.max() < 0.5
    assert error.max() < 1e-3  # the iteration is far better than required: about 1e-10 degree


def test_vectorised_equals_scalar() -> None:
    rng = np.random.default_rng(5)
    lon = rng.uniform(60, 150, 300)
    lat = rng.uniform(-5, 60, 300)  # inside and outside the box
    v_lon, v_lat = wgs84_to_gcj02(lon, lat)
    i_lon, i_lat = gcj02_to_wgs84(lon, lat)
    for k in range(lon.size):
        assert (v_lon[k], v_lat[k]) == wgs84_to_gcj02(float(lon[k]), float(lat[k]))
        s_lon, s_lat = gcj02_to_wgs84(float(lon[k]), float(lat[k]))
        assert abs(i_lon[k] - s_lon) < 1e-11 and abs(i_lat[k] - s_lat) < 1e-11


def test_shapes_and_types() -> None:
    lon, lat = wgs84_to_gcj02(116.35, 40.0)
    assert isinstance(lon, float) and isinstance(lat, float)
    grid_lon, grid_lat = wgs84_to_gcj02(np.full((2, 3), 116.35), 40.0)  # broadcasts
    assert grid_lon.shape == grid_lat.shape == (2, 3)
    back_lon, _ = gcj02_to_wgs84([116.35, 116.36], [40.0, 40.0])
    assert back_lon.shape == (2,)
    assert out_of_china([0.0, 116.35], [0.0, 40.0]).tolist() == [True, False]
