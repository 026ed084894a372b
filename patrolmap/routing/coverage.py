"""Which grid zones, buildings and hotspots patrol routes pass, and how close they come.

Why this module: a patrol lead signs off a route by what it covers ("does team 2 pass the
dorms of zone 3, and the fire-lane hotspot behind the canteen?"), so every planned route is
checked against the campus's areas. A feature is *passed* by a route when the route comes
within ``near_m`` metres of it; a route that enters a zone or crosses a building's outline is
0 m from it. The distance reported is the nearest any route comes.

Distances are true metres: route and feature geometries (lon/lat) are projected onto a local
transverse Mercator (``LocalProjection``) centred on the routes, whose scale error is below
one part in a million over a campus. Pure: no Flask, no database.
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
import shapely.ops
from shapely.geometry.base import BaseGeometry

from patrolmap.analysis.hexgrid import LocalProjection
from patrolmap.routing.network import SNAP_DISTANCE_M, RoutingNetwork

DEFAULT_NEAR_M = 50.0
MAX_NEAR_M = 500.0


@dataclass(frozen=True)
class Near:
    """How one feature stands to the routes."""

    index: int  # position of the feature in the input
    teams: tuple[int, ...]  # teams whose route passes within near_m, ascending
    distance_m: float | None  # the nearest any route comes; None when there is no route (or no geometry)


def _live(geom: Any) -> bool:
    return isinstance(geom, BaseGeometry) and not geom.is_empty


def projection_for(routes: Mapping[int, BaseGeometry | None],
                   fallback: Sequence[BaseGeometry | None] = ()) -> LocalProjection:
    """A local projection centred on the routes (or, with no route, on the fallback geometries)."""
    geoms = [g for g in routes.values() if _live(g)] or [g for g in fallback if _live(g)]
    if not geoms:
        return LocalProjection(0.0, 0.0)
    x0, y0, x1, y1 = shapely.total_bounds(np.asarray(geoms, dtype=object))
    return LocalProjection((x0 + x1) / 2, (y0 + y1) / 2)


def distance_matrix(routes: Mapping[int, BaseGeometry | None], geometries: Sequence[BaseGeometry | None], *,
                    projection: LocalProjection | None = None) -> tuple[list[int], np.ndarray]:
    """Metres from each feature (rows) to each team's route (columns, teams ascending); NaN where undefined."""
    teams = sorted(t for t, g in routes.items() if _live(g))
    out = np.full((len(geometries), len(teams)), np.nan)
    live = np.array([_live(g) for g in geometries], dtype=bool)
    if not teams or not live.any():
        return teams, out
    projection = projection or projection_for(routes, geometries)
    shapes = projection.geometries([g for g, ok in zip(geometries, live, strict=True) if ok])
    lines = projection.geometries([routes[t] for t in teams])
    for column, line in enumerate(lines):
        out[live, column] = shapely.distance(line, shapes)
    return teams, out


def passes_within(routes: Mapping[int, BaseGeometry | None], geometries: Sequence[BaseGeometry | None],
                  near_m: float, *, projection: LocalProjection | None = None) -> list[Near]:
    """For every feature (in input order): the teams passing within near_m, and the nearest distance."""
    if not (isinstance(near_m, (int, float)) and math.isfinite(near_m) and near_m >= 0):
        raise ValueError(f"near_m must be a non-negative number of metres, not {near_m!r}")
    teams, dist = distance_matrix(routes, geometries, projection=projection)
    out = []
    for index, row in enumerate(dist):
        known = ~np.isnan(row)
        nearest = float(row[known].min()) if known.any() else None
        # Compared as reported (to 0.1 m), so a feature shown at 50.0 m is passed within 50 m.
        within = tuple(t for t, d, ok in zip(teams, row, known, strict=True) if ok and round(float(d), 1) <= near_m)
        out.append(Near(index, within, nearest))
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def coverage_rows(routes: Mapping[int, BaseGeometry | None], frame: gpd.GeoDataFrame | None, near_m: float, *,
                  fields: Sequence[str] | None = None, keep_all: bool = False,
                  projection: LocalProjection | None = None) -> list[dict[str, Any]]:
    """The frame's features the routes pass, as dicts of `fields` (default: every column) plus
    ``teams`` and ``distance_m`` (0.1 m), nearest first. With keep_all every feature is listed,
    in input order, with ``covered`` saying whether some route passes it."""
    if frame is None or frame.empty:
        return []
    columns = list(fields) if fields is not None else [c for c in frame.columns if c != frame.geometry.name]
    near = passes_within(routes, list(frame.geometry), near_m, projection=projection)
    records = frame[columns].to_dict("records") if columns else [{} for _ in range(len(frame))]
    rows = []
    for item, record in zip(near, records, strict=True):
        if not keep_all and not item.teams:
            continue
        row = {k: _plain(v) for k, v in record.items()}
        row["teams"] = list(item.teams)
        row["distance_m"] = None if item.distance_m is None else round(item.distance_m, 1)
        if keep_all:
            row["covered"] = bool(item.teams)
        rows.append(row)
    if not keep_all:
        rows.sort(key=lambda r: (r["distance_m"], str(r.get("id", ""))))
    return rows


def route_coverage(routes: Mapping[int, BaseGeometry | None], *, near_m: float = DEFAULT_NEAR_M,
                   zones: gpd.GeoDataFrame | None = None, buildings: gpd.GeoDataFrame | None = None,
                   hotspots: gpd.GeoDataFrame | None = None) -> dict[str, Any]:
    """Zones and buildings the routes pass within near_m (id, name; buildings also kind), and every
    hotspot with whether it is covered. routes: team -> closed route (lon/lat), None for an idle team."""
    layers = [f for f in (zones, buildings, hotspots) if f is not None and not f.empty]
    projection = projection_for(routes, [g for f in layers for g in f.geometry])
    return {
        "near_m": near_m,
        "zones": coverage_rows(routes, zones, near_m, fields=("id", "name"), projection=projection),
        "buildings": coverage_rows(routes, buildings, near_m, fields=("id", "name", "kind"), projection=projection),
        "hotspots": coverage_rows(routes, hotspots, near_m, keep_all=True, projection=projection),
    }


# ---------------------------------------------------------------- where to visit a building


@dataclass(frozen=True)
class Visit:
    """Where the path network comes nearest to a feature (a building is visited there)."""

    lonlat: tuple[float, float] | None  # None when the network is farther than the snapping distance
    distance_m: float | None  # feature to network; None when the network is empty


_edge_trees: weakref.WeakKeyDictionary[RoutingNetwork, tuple[shapely.STRtree, list[Any]]] = \
    weakref.WeakKeyDictionary()


def _edges(network: RoutingNetwork) -> tuple[shapely.STRtree, list[Any]]:
    """One line per physical piece of the network (metres), indexed; kept as long as the network."""
    cached = _edge_trees.get(network)
    if cached is None:
        pieces: dict[int, Any] = {}
        for _, _, data in network.graph.edges(data=True):
            pieces.setdefault(data["seg"], data["geometry"])
        lines = list(pieces.values())
        cached = (shapely.STRtree(lines), lines)
        _edge_trees[network] = cached
    return cached


def visit_points(network: RoutingNetwork, geometries: Sequence[BaseGeometry], *,
                 max_distance_m: float = SNAP_DISTANCE_M) -> list[Visit]:
    """The point of the network nearest to each feature (lon/lat), within max_distance_m.

    A building is visited where the network comes nearest to its outline (not to its
    centre): a patrol passes by the door side, and planning snaps that point onto the same
    edge. A path running through the building gives a point inside it (0 m).
    """
    tree, lines = _edges(network)
    if not lines or not len(geometries):
        return [Visit(None, None) for _ in geometries]
    shapes = network.projection.geometries(list(geometries))
    nearest = tree.nearest(shapes)
    out = []
    for shape, index in zip(shapes, nearest, strict=True):
        line = lines[int(index)]
        distance = float(shape.distance(line))
        if distance > max_distance_m:
            out.append(Visit(None, distance))
            continue
        point = shapely.ops.nearest_points(shape, line)[1]
        lon, lat = network.projection.inverse(np.array([point.x]), np.array([point.y]))
        out.append(Visit((float(lon[0]), float(lat[0])), distance))
    return out
