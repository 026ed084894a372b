"""WGS84 <-> GCJ-02, the offset coordinates that maps published in mainland China must use.

patrolmap stores and serves WGS84 only. Some basemaps (AMap/Gaode, Tencent, Google's China
tiles) are drawn in GCJ-02, which moves every point by a smooth, position-dependent offset of
up to several hundred metres; drawing WGS84 features on such tiles without converting puts a
building beside itself. The browser converts for display (``static/js/chinacoords.js``, the
same algorithm); this module is the reference the JavaScript is tested against, and serves
anything on the server that needs the conversion.

The forward transform is the one in every public implementation (eviltransform,
coordtransform, gcoord): a fixed polynomial-plus-sines offset in metres, turned into degrees on
the Krasovsky 1940 ellipsoid (a = 6378245 m, e² = 0.00669342162296594323). There is no
closed-form inverse, so :func:`gcj02_to_wgs84` solves ``wgs84_to_gcj02(w) = g`` by fixed-point
iteration; the offset changes by under 1% as fast as the position does, so each step gains
about two digits and five steps reach 1e-10 degree (about 0.01 mm). The one-step inverse
many libraries ship is off by up to several metres, which is not good enough for a
recorded violation.

The offset applies only inside the rough box those implementations call "China"
(lon 72.004-137.8347, lat 0.8293-55.8271); outside it points are returned unchanged. The box
is not a border: like theirs, it also takes in parts of neighbouring countries and seas.

Every function takes ``(lon, lat)`` in that order, like GeoJSON, as floats or array-likes of
any shape (numpy broadcasting), and returns the same kind: floats for scalars, arrays otherwise.
"""

from __future__ import annotations

from typing import Any, overload

import numpy as np
from numpy.typing import ArrayLike, NDArray

# Krasovsky 1940, the ellipsoid the GCJ-02 offset is expressed on.
KRASOVSKY_A = 6378245.0
KRASOVSKY_EE = 0.00669342162296594323

# The "China" box of eviltransform / coordtransform (degrees).
CHINA_LON = (72.004, 137.8347)
CHINA_LAT = (0.8293, 55.8271)

# gcj02_to_wgs84 stops when the forward transform of its answer is this close to the input.
INVERSE_TOLERANCE_DEG = 1e-10
INVERSE_MAX_STEPS = 10

FloatArray = NDArray[np.float64]


def _as_arrays(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatArray, FloatArray, bool]:
    lon_a = np.asarray(lon, dtype=np.float64)
    lat_a = np.asarray(lat, dtype=np.float64)
    scalar = lon_a.ndim == 0 and lat_a.ndim == 0
    lon_a, lat_a = np.broadcast_arrays(lon_a, lat_a)
    return lon_a, lat_a, scalar


def _result(lon: FloatArray, lat: FloatArray, scalar: bool) -> tuple[Any, Any]:
    if scalar:
        return float(lon), float(lat)
    return lon, lat


def _in_china(lon: FloatArray, lat: FloatArray) -> NDArray[np.bool_]:
    return (lon >= CHINA_LON[0]) & (lon <= CHINA_LON[1]) & (lat >= CHINA_LAT[0]) & (lat <= CHINA_LAT[1])


@overload
def out_of_china(lon: float, lat: float) -> bool: ...
@overload
def out_of_china(lon: ArrayLike, lat: ArrayLike) -> Any: ...
def out_of_china(lon: ArrayLike, lat: ArrayLike) -> Any:
    """True where the point lies outside the box the GCJ-02 offset applies to (no offset there)."""
    lon_a, lat_a, scalar = _as_arrays(lon, lat)
    outside = ~_in_china(lon_a, lat_a)
    return bool(outside) if scalar else outside


def _offset(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    """The GCJ-02 offset (dlon, dlat) in degrees at (lon, lat), ignoring the China box."""
    x = lon - 105.0
    y = lat - 35.0
    xpi = x * np.pi
    ypi = y * np.pi
    common = 20.0 * np.sin(6.0 * xpi) + 20.0 * np.sin(2.0 * xpi)
    # Offsets in metres (the published polynomial and its sine terms).
    dlat = (-100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * np.sqrt(np.abs(x))
            + 2.0 / 3.0 * (common + 20.0 * np.sin(ypi) + 40.0 * np.sin(ypi / 3.0)
                           + 160.0 * np.sin(ypi / 12.0) + 320.0 * np.sin(ypi / 30.0)))
    dlon = (300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * np.sqrt(np.abs(x))
            + 2.0 / 3.0 * (common + 20.0 * np.sin(xpi) + 40.0 * np.sin(xpi / 3.0)
                           + 150.0 * np.sin(xpi / 12.0) + 300.0 * np.sin(xpi / 30.0)))
    # Metres to degrees on the Krasovsky ellipsoid: meridional and parallel radii of curvature.
    radlat = np.radians(lat)
    magic = 1.0 - KRASOVSKY_EE * np.sin(radlat) ** 2
    sqrt_magic = np.sqrt(magic)
    dlat = dlat * 180.0 / (KRASOVSKY_A * (1.0 - KRASOVSKY_EE) / (magic * sqrt_magic) * np.pi)
    dlon = dlon * 180.0 / (KRASOVSKY_A / sqrt_magic * np.cos(radlat) * np.pi)
    return dlon, dlat


@overload
def wgs84_to_gcj02(lon: float, lat: float) -> tuple[float, float]: ...
@overload
def wgs84_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> tuple[Any, Any]: ...
def wgs84_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> tuple[Any, Any]:
    """WGS84 (lon, lat) -> GCJ-02 (lon, lat); unchanged outside the China box."""
    lon_a, lat_a, scalar = _as_arrays(lon, lat)
    dlon, dlat = _offset(lon_a, lat_a)
    inside = _in_china(lon_a, lat_a)
    return _result(np.where(inside, lon_a + dlon, lon_a), np.where(inside, lat_a + dlat, lat_a), scalar)


@overload
def gcj02_to_wgs84(lon: float, lat: float) -> tuple[float, float]: ...
@overload
def gcj02_to_wgs84(lon: ArrayLike, lat: ArrayLike) -> tuple[Any, Any]: ...
def gcj02_to_wgs84(lon: ArrayLike, lat: ArrayLike) -> tuple[Any, Any]:
    """GCJ-02 (lon, lat) -> WGS84 (lon, lat), exact to about 1e-10 degree; unchanged outside the box.

    Whether a point is "in China" is decided on the GCJ-02 input, as the common
    implementations do (the offset is at most about 0.01 degree, so only points within
    a kilometre of the box's edges, all of them at sea or abroad, could be judged otherwise).
    """
    g_lon, g_lat, scalar = _as_arrays(lon, lat)
    inside = _in_china(g_lon, g_lat)
    w_lon, w_lat = g_lon.copy(), g_lat.copy()
    for _ in range(INVERSE_MAX_STEPS):
        dlon, dlat = _offset(w_lon, w_lat)
        # Residual of the forward transform at the current guess; step back by it.
        r_lon = np.where(inside, w_lon + dlon - g_lon, 0.0)
        r_lat = np.where(inside, w_lat + dlat - g_lat, 0.0)
        w_lon = w_lon - r_lon
        w_lat = w_lat - r_lat
        if max(float(np.max(np.abs(r_lon), initial=0.0)), float(np.max(np.abs(r_lat), initial=0.0))) \
                < INVERSE_TOLERANCE_DEG:
            break
    return _result(w_lon, w_lat, scalar)
