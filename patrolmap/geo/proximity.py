"""Distance tests between points and lines, in metres."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely


def within_distance(points: gpd.GeoSeries, lines: gpd.GeoSeries, distance_m: float) -> np.ndarray:
    """Return, for each point, whether any line lies within distance_m metres of it."""
    if len(points) == 0 or len(lines) == 0:
        return np.zeros(len(points), dtype=bool)
    crs = points.estimate_utm_crs()
    pts = points.to_crs(crs).values
    tree = shapely.STRtree(lines.to_crs(crs).values)
    hits = tree.query(pts, predicate="dwithin", distance=distance_m)
    result = np.zeros(len(points), dtype=bool)
    result[hits[0]] = True
    return result
