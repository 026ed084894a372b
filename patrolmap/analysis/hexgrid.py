"""Hexagon binning in metres, vectorised: no shapely call per point.

Points are projected from lon/lat to a local transverse Mercator centred on the grid's
origin (PROJ's fast `+approx` algorithm: identical to the exact one to a nanometre at
campus scale, with a scale error below 1e-7 within 3 km of the origin). Each point gets the
axial (q, r) index of its hexagon by cube rounding (https://www.redblobgames.com/grids/hexagons/)
over whole numpy arrays. `cell_m` is the hexagon's edge length, which is also the distance
from its centre to each corner. Polygons are built, and converted back to lon/lat, only for
the cells asked for.

The grid depends only on its origin, cell size and orientation, never on the data, so
that the same place falls in the same cell whatever the filter.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pyproj
import shapely

SQRT3 = math.sqrt(3.0)
# Axial offsets of the six neighbours (the same for pointy- and flat-top grids).
DIRECTIONS = np.array([(1, 0), (1, -1), (0, -1), (-1, 0), (-1, 1), (0, 1)], dtype=np.int64)
_KEY_SHIFT = np.int64(1 << 32)
_KEY_OFFSET = np.int64(1 << 31)


def cell_keys(q: np.ndarray, r: np.ndarray) -> np.ndarray:
    """One sortable int64 per cell (q and r must lie within ±2^31)."""
    return np.asarray(q, dtype=np.int64) * _KEY_SHIFT + (np.asarray(r, dtype=np.int64) + _KEY_OFFSET)


def keys_to_axial(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    keys = np.asarray(keys, dtype=np.int64)
    r = np.mod(keys, _KEY_SHIFT) - _KEY_OFFSET
    return (keys - r - _KEY_OFFSET) // _KEY_SHIFT, r


def hex_area(cell_m: float) -> float:
    """Area of a regular hexagon with edge cell_m, in square metres."""
    return 1.5 * SQRT3 * cell_m * cell_m


class LocalProjection:
    """lon/lat (EPSG:4326) <-> metres on a transverse Mercator centred on (lon0, lat0)."""

    def __init__(self, lon0: float, lat0: float) -> None:
        self.lon0, self.lat0 = float(lon0), float(lat0)
        crs = pyproj.CRS.from_proj4(f"+proj=tmerc +approx +lat_0={self.lat0!r} +lon_0={self.lon0!r} +k=1 "
                                    "+x_0=0 +y_0=0 +datum=WGS84 +units=m +no_defs")
        self.crs = crs
        self._forward = pyproj.Transformer.from_crs("EPSG:4326", crs, always_xy=True)
        self._inverse = pyproj.Transformer.from_crs(crs, "EPSG:4326", always_xy=True)

    def forward(self, lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        x, y = self._forward.transform(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float))
        return np.asarray(x), np.asarray(y)

    def inverse(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        lon, lat = self._inverse.transform(np.asarray(x, dtype=float), np.asarray(y, dtype=float))
        return np.asarray(lon), np.asarray(lat)

    def geometries(self, geoms: Sequence[object]) -> np.ndarray:
        """Shapely geometries (lon/lat) in metres, vectorised over all their coordinates."""
        array = np.asarray(geoms, dtype=object)
        if array.size == 0:
            return array
        return shapely.transform(array, lambda xy: np.column_stack(self.forward(xy[:, 0], xy[:, 1])))

    def geometries_to_lonlat(self, geoms: Sequence[object]) -> np.ndarray:
        array = np.asarray(geoms, dtype=object)
        if array.size == 0:
            return array
        return shapely.transform(array, lambda xy: np.column_stack(self.inverse(xy[:, 0], xy[:, 1])))


class HexGrid:
    """A hexagon grid with edge length cell_m, anchored at an origin in lon/lat."""

    def __init__(self, cell_m: float, origin: tuple[float, float], *, orientation: str = "pointy") -> None:
        if not (cell_m > 0 and math.isfinite(cell_m)):
            msg = f"cell_m must be a positive number of metres, got {cell_m!r}"
            raise ValueError(msg)
        if orientation not in ("pointy", "flat"):
            msg = f"orientation must be pointy or flat, got {orientation!r}"
            raise ValueError(msg)
        self.cell_m = float(cell_m)
        self.orientation = orientation
        self.projection = LocalProjection(*origin)
        s = self.cell_m
        if orientation == "pointy":
            # (x, y) = s * [[√3, √3/2], [0, 3/2]] @ (q, r)
            self._to_xy = np.array([[SQRT3 * s, SQRT3 / 2 * s], [0.0, 1.5 * s]])
            angles = np.radians(60.0 * np.arange(6) - 30.0)
        else:
            self._to_xy = np.array([[1.5 * s, 0.0], [SQRT3 / 2 * s, SQRT3 * s]])
            angles = np.radians(60.0 * np.arange(6))
        self._to_axial = np.linalg.inv(self._to_xy)
        self._corners = np.column_stack([np.cos(angles), np.sin(angles)]) * s

    @property
    def cell_area(self) -> float:
        return hex_area(self.cell_m)

    # ------------------------------------------------------------ points -> cells

    def axial_xy(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Axial (q, r) of the cells holding points given in metres, by cube rounding."""
        a = self._to_axial
        qf = a[0, 0] * x + a[0, 1] * y
        rf = a[1, 0] * x + a[1, 1] * y
        sf = -qf - rf
        q, r, s = np.rint(qf), np.rint(rf), np.rint(sf)
        dq, dr, ds = np.abs(q - qf), np.abs(r - rf), np.abs(s - sf)
        fix_q = (dq > dr) & (dq > ds)
        fix_r = ~fix_q & (dr > ds)
        q = np.where(fix_q, -r - s, q)
        r = np.where(fix_r, -q - s, r)
        return q.astype(np.int64), r.astype(np.int64)

    def bin_points(self, lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Axial (q, r) of the cell of each lon/lat point."""
        x, y = self.projection.forward(lon, lat)
        return self.axial_xy(x, y)

    # ------------------------------------------------------------ cells -> geometry

    def centres_xy(self, q: np.ndarray, r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        m = self._to_xy
        q, r = np.asarray(q, dtype=float), np.asarray(r, dtype=float)
        return m[0, 0] * q + m[0, 1] * r, m[1, 0] * q + m[1, 1] * r

    def centres_lonlat(self, q: np.ndarray, r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self.projection.inverse(*self.centres_xy(q, r))

    def _ring_xy(self, q: np.ndarray, r: np.ndarray) -> np.ndarray:
        cx, cy = self.centres_xy(q, r)
        ring = np.empty((len(cx), 7, 2))
        ring[:, :6, 0] = cx[:, None] + self._corners[:, 0]
        ring[:, :6, 1] = cy[:, None] + self._corners[:, 1]
        ring[:, 6] = ring[:, 0]
        return ring

    def polygons_xy(self, q: np.ndarray, r: np.ndarray) -> np.ndarray:
        """The cells' hexagons in metres."""
        if len(q) == 0:
            return np.array([], dtype=object)
        return shapely.polygons(self._ring_xy(q, r))

    def polygons_lonlat(self, q: np.ndarray, r: np.ndarray) -> np.ndarray:
        """The cells' hexagons in lon/lat (corners converted exactly; edges straight in lon/lat)."""
        if len(q) == 0:
            return np.array([], dtype=object)
        ring = self._ring_xy(q, r)
        lon, lat = self.projection.inverse(ring[..., 0].ravel(), ring[..., 1].ravel())
        coords = np.stack([lon.reshape(ring.shape[:2]), lat.reshape(ring.shape[:2])], axis=-1)
        coords[:, 6] = coords[:, 0]  # closed exactly, whatever the rounding
        return shapely.polygons(coords)

    # ------------------------------------------------------------ areas -> cells

    def estimate_cells(self, bounds_xy: tuple[float, float, float, float]) -> int:
        """About how many cells cover a box in metres."""
        x0, y0, x1, y1 = bounds_xy
        return math.ceil((x1 - x0 + 2 * self.cell_m) * (y1 - y0 + 2 * self.cell_m) / self.cell_area)

    def cells_in_box(self, bounds_xy: tuple[float, float, float, float]) -> tuple[np.ndarray, np.ndarray]:
        """Every cell whose hexagon may meet a box in metres (centres within one edge length of it)."""
        x0, y0, x1, y1 = bounds_xy
        corners_x = np.array([x0, x0, x1, x1])
        corners_y = np.array([y0, y1, y0, y1])
        a = self._to_axial
        qf = a[0, 0] * corners_x + a[0, 1] * corners_y
        rf = a[1, 0] * corners_x + a[1, 1] * corners_y
        qs = np.arange(math.floor(qf.min()) - 1, math.ceil(qf.max()) + 2)
        rs = np.arange(math.floor(rf.min()) - 1, math.ceil(rf.max()) + 2)
        q, r = (g.ravel() for g in np.meshgrid(qs, rs))
        cx, cy = self.centres_xy(q, r)
        s = self.cell_m
        keep = (cx >= x0 - s) & (cx <= x1 + s) & (cy >= y0 - s) & (cy <= y1 + s)
        return q[keep].astype(np.int64), r[keep].astype(np.int64)

    def cells_touching(self, geoms_xy: Sequence[object]) -> tuple[np.ndarray, np.ndarray]:
        """Cells whose hexagon meets any of the geometries (in metres), exactly.

        Candidates come cheaply: for lines, the cells of points every half edge length
        along them and those cells' neighbours (a line crossing a cell between two such
        points passes within half an edge of it, so through a neighbour of theirs); for
        polygons, every cell near their box; for points, their cell. One STRtree query
        then keeps the candidates whose hexagon really meets a geometry.
        """
        geoms = np.asarray([g for g in geoms_xy if g is not None and not shapely.is_empty(g)], dtype=object)
        if geoms.size == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        dims = shapely.get_dimensions(geoms)
        found: list[np.ndarray] = []
        if (dims < 2).any():
            sampled = shapely.segmentize(geoms[dims < 2], self.cell_m / 2)
            xy = shapely.get_coordinates(sampled)
            q, r = self.axial_xy(xy[:, 0], xy[:, 1])
            keys = np.unique(cell_keys(q, r))
            q, r = keys_to_axial(keys)
            nq, nr = neighbours_of(q, r)
            found += [keys, cell_keys(nq, nr).ravel()]
        for x0, y0, x1, y1 in shapely.bounds(geoms[dims == 2]):
            found.append(cell_keys(*self.cells_in_box((x0, y0, x1, y1))))
        candidates = np.unique(np.concatenate(found))
        q, r = keys_to_axial(candidates)
        hexes = self.polygons_xy(q, r)
        hit = np.unique(shapely.STRtree(geoms).query(hexes, predicate="intersects")[0])
        return q[hit], r[hit]


def count_cells(q: np.ndarray, r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct cell keys (sorted) and how many points each holds."""
    keys, counts, _ = index_cells(q, r)
    return keys, counts


def index_cells(q: np.ndarray, r: np.ndarray, *, dense_limit: int = 20_000_000,
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct cell keys (sorted), their point counts, and each point's index into them.

    Counted on a dense (q, r) array when the points' cells span a modest range (always, on
    a campus): linear time, where sorting a million keys costs several times more.
    """
    q, r = np.asarray(q, dtype=np.int64), np.asarray(r, dtype=np.int64)
    if len(q) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64)
    q0, r0 = q.min(), r.min()
    q_span, r_span = int(q.max() - q0) + 1, int(r.max() - r0) + 1
    if q_span * r_span > dense_limit:
        keys, index, counts = np.unique(cell_keys(q, r), return_inverse=True, return_counts=True)
        return keys, counts, index.ravel()
    dense = (q - q0) * r_span + (r - r0)
    per_cell = np.bincount(dense, minlength=q_span * r_span)
    occupied = np.nonzero(per_cell)[0]
    # Dense order is (q, r) order, which is key order.
    keys = cell_keys(occupied // r_span + q0, occupied % r_span + r0)
    position = np.zeros(q_span * r_span, dtype=np.int64)
    position[occupied] = np.arange(len(occupied))
    return keys, per_cell[occupied], position[dense]


def neighbour_pairs(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs (i, j), i != j, of neighbouring cells within a sorted array of distinct cell keys."""
    keys = np.asarray(keys, dtype=np.int64)
    n = len(keys)
    if n == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    q, r = keys_to_axial(keys)
    nq = q[:, None] + DIRECTIONS[:, 0]
    nr = r[:, None] + DIRECTIONS[:, 1]
    wanted = cell_keys(nq, nr).ravel()
    pos = np.searchsorted(keys, wanted)
    pos_clipped = np.minimum(pos, n - 1)
    present = keys[pos_clipped] == wanted
    i = np.repeat(np.arange(n, dtype=np.int64), 6)[present]
    return i, pos_clipped[present].astype(np.int64)


def neighbours_of(q: np.ndarray, r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The six neighbours of each cell: two (n, 6) arrays of q and r."""
    q, r = np.asarray(q, dtype=np.int64), np.asarray(r, dtype=np.int64)
    return q[:, None] + DIRECTIONS[:, 0], r[:, None] + DIRECTIONS[:, 1]
