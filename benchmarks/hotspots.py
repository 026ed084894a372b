"""Hotspots: vectorised hexagon binning and Gi* against the naive way, and the endpoint end to end.

Run: .venv/bin/python benchmarks/hotspots.py [--n 1000000] [--stores sqlite,postgis] [--permutations 999]

Prints:
1. binning n points into 50 m hexagons: numpy (projection + cube rounding + counting) against
   a shapely hexagon grid and a geopandas sjoin;
2. Gi* on 20,000 cells: patrolmap.analysis.gistar (z, p, BH classes) against esda's G_Local
   with permutations off and on (building libpysal's weights counted apart);
3. GET /api/violations/hotspots for n stored violations (plus the sample campus's own) on
   SQLite and PostGIS, against the naive way: read every violation, filter in pandas,
   shapely grid + sjoin, libpysal Queen weights, esda with permutations, GeoDataFrame.to_json.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from synthetic import CAMPUS_BOX, fill_violations, fresh_database, median_ms, synthetic_points

from patrolmap.analysis.gistar import gi_star
from patrolmap.analysis.hexgrid import HexGrid, cell_keys

ROOT = Path(__file__).resolve().parent.parent
ORIGIN = ((CAMPUS_BOX[0] + CAMPUS_BOX[2]) / 2, (CAMPUS_BOX[1] + CAMPUS_BOX[3]) / 2)
QUERIES = {
    "window": "hours=07:00-09:00&days=workdays",  # the everyday question: a peak hour on workdays
    "evenings": "hours=22:00-06:00",
    "everything": "",  # every stored violation in one analysis
}


def once_ms(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return (time.perf_counter() - started) * 1000


# ---------------------------------------------------------------- 1. binning


def shapely_grid(grid: HexGrid, bounds_xy: tuple[float, float, float, float]):
    """The naive grid: one shapely Polygon per cell, built in a Python loop, in a GeoDataFrame."""
    import geopandas as gpd
    import shapely

    q, r = grid.cells_in_box(bounds_xy)
    cx, cy = grid.centres_xy(q, r)
    angles = [math.radians(60 * k - 30) for k in range(6)]
    # Corners rounded to the millimetre, so that neighbours share them exactly (Queen weights need that).
    polygons = [shapely.Polygon([(round(x + grid.cell_m * math.cos(a), 3), round(y + grid.cell_m * math.sin(a), 3))
                                 for a in angles]) for x, y in zip(cx, cy, strict=True)]
    return gpd.GeoDataFrame({"q": q, "r": r}, geometry=polygons, crs=grid.projection.crs)


def naive_binning(lon: np.ndarray, lat: np.ndarray, grid: HexGrid) -> dict[int, int]:
    import geopandas as gpd

    points = gpd.GeoDataFrame(geometry=gpd.points_from_xy(lon, lat), crs="EPSG:4326").to_crs(grid.projection.crs)
    hexes = shapely_grid(grid, tuple(points.total_bounds))
    joined = gpd.sjoin(points, hexes, predicate="within", how="inner")
    counts = joined.groupby(["q", "r"]).size()
    return {int(cell_keys(np.array([q]), np.array([r]))[0]): int(n) for (q, r), n in counts.items()}


def bench_binning(n: int) -> dict[str, float]:
    lon, lat = synthetic_points(n)
    grid = HexGrid(50, ORIGIN)
    x, y = grid.projection.forward(lon, lat)

    def ours() -> tuple[np.ndarray, np.ndarray]:
        q, r = grid.bin_points(lon, lat)
        return np.unique(cell_keys(q, r), return_counts=True)

    def ours_projected() -> tuple[np.ndarray, np.ndarray]:
        q, r = grid.axial_xy(x, y)
        return np.unique(cell_keys(q, r), return_counts=True)

    keys, counts = ours()
    naive: dict[int, int] = {}
    naive_ms = once_ms(lambda: naive.update(naive_binning(lon, lat, grid)))
    ours_map = dict(zip(keys.tolist(), counts.tolist(), strict=True))
    differ = sum(abs(ours_map.get(k, 0) - naive.get(k, 0)) for k in set(ours_map) | set(naive))
    return {
        "points": n, "cells": len(keys),
        "ours_ms": median_ms(ours, repeat=5),
        "ours_without_projection_ms": median_ms(ours_projected, repeat=5),
        "naive_sjoin_ms": naive_ms,
        # Points exactly on a shared edge: sjoin's "within" drops them, cube rounding picks one cell.
        "points_counted_differently": differ,
    }


# ---------------------------------------------------------------- 2. Gi*


def bench_gistar(cells: int, permutations: int) -> dict[str, float]:
    import esda
    import libpysal

    from patrolmap.analysis.hexgrid import neighbour_pairs

    grid = HexGrid(10, ORIGIN)
    half = math.sqrt(cells * grid.cell_area) / 2 + 20  # a square holding a few more cells than asked
    q, r = grid.cells_in_box((-half, -half, half, half))
    keys = np.sort(cell_keys(q, r))[:cells]
    rng = np.random.default_rng(1)
    counts = rng.poisson(3, len(keys)).astype(float)
    counts[rng.integers(0, len(keys), 200)] += 40

    def weights() -> object:
        i, j = neighbour_pairs(keys)
        order = np.argsort(i, kind="stable")
        starts = np.searchsorted(i[order], np.arange(len(keys) + 1))
        js = j[order]
        neighbours = {c: [c, *js[starts[c]:starts[c + 1]].tolist()] for c in range(len(keys))}
        return libpysal.weights.W(neighbours, silence_warnings=True)

    w = weights()
    ours = gi_star(counts, keys)
    theirs = esda.G_Local(counts, w, transform="B", star=True, permutations=0)
    return {
        "cells": len(keys),
        "ours_ms": median_ms(lambda: gi_star(counts, keys), repeat=9),
        "libpysal_weights_ms": median_ms(weights, repeat=3),
        "esda_no_permutations_ms": median_ms(
            lambda: esda.G_Local(counts, w, transform="B", star=True, permutations=0), repeat=3),
        f"esda_{permutations}_permutations_ms": once_ms(
            lambda: esda.G_Local(counts, w, transform="B", star=True, permutations=permutations, n_jobs=1,
                                 seed=1)),
        "max_z_difference": float(np.abs(ours.z - theirs.Zs).max()),
    }


# ---------------------------------------------------------------- 3. the endpoint


def prepare(store: str, workdir: Path) -> str:
    return fresh_database(store, workdir, "patrolmap_bench_hotspots")


def naive_endpoint(campus_id: int, query: str, permutations: int) -> bytes:
    """The same answer the straightforward way: all rows into pandas, a shapely grid, sjoin, Queen, esda."""
    from urllib.parse import parse_qs

    import esda
    import geopandas as gpd
    import libpysal

    from patrolmap.analysis.timewindow import select_violations
    from patrolmap.analysis.workcalendar import WorkCalendar
    from patrolmap.extensions import db
    from patrolmap.store import layer_frame, violation_table

    args = {k: v[0] for k, v in parse_qs(query).items()}
    table = violation_table(db.session, campus_id=campus_id)
    table = table[select_violations(table, days=args.get("days"), hours=args.get("hours"),
                                    calendar=WorkCalendar.load())]
    paths = layer_frame(db.session, "paths", campus_id=campus_id)
    grid = HexGrid(50, ORIGIN)
    points = gpd.GeoDataFrame(geometry=gpd.points_from_xy(table["lon"], table["lat"]), crs="EPSG:4326").to_crs(
        grid.projection.crs)
    roads = paths[paths["kind"].isin(["road", "service"])].to_crs(grid.projection.crs)
    hexes = shapely_grid(grid, tuple(points.total_bounds))
    joined = gpd.sjoin(points, hexes, predicate="within", how="inner")
    hexes["count"] = joined.groupby("index_right").size().reindex(hexes.index, fill_value=0)
    near_road = gpd.sjoin(hexes, roads[["geometry"]], predicate="intersects", how="inner").index.unique()
    cells = hexes[(hexes["count"] > 0) | hexes.index.isin(near_road)].reset_index(drop=True)
    w = libpysal.weights.Queen.from_dataframe(cells, use_index=False, silence_warnings=True)
    g = esda.G_Local(cells["count"].to_numpy(float), w, transform="B", star=True, permutations=permutations,
                     n_jobs=1, seed=1)
    cells["gi_z"], cells["p_value"] = g.Zs, g.p_sim
    cells["class"] = np.where(g.p_sim < 0.05, np.where(g.Zs > 0, "hot_95", "cold_95"), "not_significant")
    out = cells[["count", "gi_z", "p_value", "class", "geometry"]].to_crs("EPSG:4326")
    return out.to_json().encode()


def bench_store(store: str, n: int, workdir: Path, permutations: int) -> dict[str, float]:
    from patrolmap import create_app
    from patrolmap.extensions import db
    from patrolmap.importing import load_geodata
    from patrolmap.store import find_campus
    from tests.conftest import signed_in_client

    url = prepare(store, workdir)
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "AUTO_INIT_DB": False, "SECRET_KEY": "bench"})
    results: dict[str, float] = {}
    with app.app_context():
        from flask_migrate import upgrade

        upgrade()
        load_geodata(db.session, ROOT / "geodata" / "cau-east")
        campus_id = find_campus(db.session, "cau-east").id
        db.session.commit()
        results["fill_s"] = fill_violations(db.engine, campus_id, n)
        db.session.rollback()
        client = signed_in_client(app, "bench-admin", "admin")
        for name, query in QUERIES.items():
            url_ = f"/api/violations/hotspots?campus=cau-east&cell_m=50&{query}"
            response = client.get(url_)
            assert response.status_code == 200, response.get_data(as_text=True)
            results[f"{name}_matched"] = response.get_json(force=True)["numberMatched"]
            results[f"{name}_ms"] = median_ms(lambda u=url_: client.get(u), repeat=5)
            results[f"{name}_naive_ms"] = once_ms(lambda q=query: naive_endpoint(campus_id, q, permutations))
            db.session.rollback()
        db.session.remove()
        db.engine.dispose()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--cells", type=int, default=20_000)
    parser.add_argument("--permutations", type=int, default=999)
    parser.add_argument("--stores", default="sqlite,postgis")
    parser.add_argument("--skip", default="", help="comma-separated parts to skip: binning,gistar,endpoint")
    args = parser.parse_args()
    skip = set(args.skip.split(","))

    if "binning" not in skip:
        b = bench_binning(args.n)
        print(f"\n1. binning {b['points']:,} points into {b['cells']:,} hexagons of 50 m")
        print(f"   numpy (projection + cube rounding + counts) {b['ours_ms']:8.1f} ms"
              f"   (without the projection {b['ours_without_projection_ms']:.1f} ms)")
        print(f"   shapely grid + geopandas sjoin              {b['naive_sjoin_ms']:8.1f} ms"
              f"   ratio {b['naive_sjoin_ms'] / b['ours_ms']:.0f}x;"
              f" points counted differently: {b['points_counted_differently']}")
    if "gistar" not in skip:
        s = bench_gistar(args.cells, args.permutations)
        perm = f"esda_{args.permutations}_permutations_ms"
        print(f"\n2. Gi* on {s['cells']:,} cells (max |z - esda z| = {s['max_z_difference']:.1e})")
        print(f"   patrolmap.analysis.gistar (z, p, BH classes) {s['ours_ms']:9.1f} ms")
        print(f"   esda G_Local, permutations off             {s['esda_no_permutations_ms']:9.1f} ms"
              f"   ratio {s['esda_no_permutations_ms'] / s['ours_ms']:.0f}x"
              f"   (+ libpysal weights {s['libpysal_weights_ms']:.1f} ms)")
        print(f"   esda G_Local, {args.permutations} permutations           {s[perm]:9.1f} ms"
              f"   ratio {s[perm] / s['ours_ms']:.0f}x")
    if "endpoint" not in skip:
        with tempfile.TemporaryDirectory() as tmp:
            table = {store: bench_store(store, args.n, Path(tmp), args.permutations)
                     for store in args.stores.split(",")}
        print(f"\n3. GET /api/violations/hotspots, cell_m=50, {args.n:,} synthetic violations + the sample campus's")
        print(f"   naive: read all, pandas filter, shapely grid + sjoin, Queen weights, esda {args.permutations}"
              " permutations, to_json")
        print(f"   {'measure':26}" + "".join(f"{s:>14}" for s in table))
        for key in next(iter(table.values())):
            print(f"   {key:26}" + "".join(f"{table[s][key]:14.1f}" for s in table))
        for name, query in QUERIES.items():
            line = ", ".join(f"{s} {r[name + '_ms']:.0f} ms vs {r[name + '_naive_ms']:.0f} ms naive "
                             f"({r[name + '_naive_ms'] / r[name + '_ms']:.0f}x)" for s, r in table.items())
            print(f"   {name} ({query or 'no filter'}; {next(iter(table.values()))[name + '_matched']:,.0f} matched):"
                  f" {line}")


if __name__ == "__main__":
    main()
