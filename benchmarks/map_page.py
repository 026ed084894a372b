"""The overview page and its API against the naive page (one folium.Marker per violation).

Run: .venv/bin/python benchmarks/map_page.py [--sizes 1000,10000,100000,1000000] [--naive-max 100000]
For each number of stored violations it prints our page's server time and bytes, the
API's time for a city-block bbox page and for the whole-campus view (features or counted
cells, as the map asks), and the naive page's build time and bytes, with ratios.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import folium
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from synthetic import CAMPUS_BOX, fill_violations, median_ms, synthetic_points

from patrolmap import create_app
from patrolmap.config import PROJECT_ROOT
from patrolmap.extensions import db
from patrolmap.importing import load_geodata
from patrolmap.store import get_campus

BLOCK = "116.3510,40.0025,116.3528,40.0039"
CAMPUS = ",".join(str(v) for v in CAMPUS_BOX)


def naive_page(n: int) -> tuple[float, int]:
    """What embedding every violation costs: one folium.Marker each, rendered to HTML."""
    lon, lat = synthetic_points(n)
    started = time.perf_counter()
    m = folium.Map(location=[40.003, 116.352], zoom_start=16)
    for x, y in zip(lon, lat, strict=True):
        folium.Marker([float(y), float(x)], popup=f"violation at {x:.6f},{y:.6f}").add_to(m)
    html = m.get_root().render()
    return (time.perf_counter() - started) * 1000, len(html.encode())


def run(n: int, naive_max: int, workdir: Path) -> dict[str, float]:
    url = f"sqlite:///{workdir / f'page-{n}.sqlite3'}"
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "AUTO_INIT_DB": False})
    row: dict[str, float] = {"n": n}
    with app.app_context():
        from flask_migrate import upgrade

        upgrade()
        # The sample campus's buildings and paths (and its 6,042 violations), then n more.
        summary = load_geodata(db.session, PROJECT_ROOT / "geodata" / "cau-east")
        campus_id = get_campus(db.session, summary.campus).id
        db.session.commit()
        fill_violations(db.engine, campus_id, n)
        db.session.remove()
    client = app.test_client()
    row["page_ms"] = median_ms(lambda: client.get("/"))
    row["page_bytes"] = len(client.get("/").data)
    block = f"/api/layers/violations?bbox={BLOCK}&limit=2000"
    row["block_api_ms"] = median_ms(lambda: client.get(block))
    # As the map asks: a page without the count, then counted cells when the page is full.
    whole = client.get(f"/api/layers/violations?bbox={CAMPUS}&limit=2000&count=false").get_json()
    row["campus_api_ms"] = median_ms(
        lambda: client.get(f"/api/layers/violations?bbox={CAMPUS}&limit=2000&count=false"), repeat=3)
    row["campus_cells_ms"] = (
        median_ms(lambda: client.get(f"/api/layers/violations/cells?bbox={CAMPUS}&nx=18&ny=11"), repeat=3)
        if whole.get("numberMatched", float("inf")) > whole["numberReturned"] else 0.0
    )
    # The first view of the map: the whole campus extent, as the page fits it.
    extent = ",".join(f"{v:.7f}" for v in client.get("/api/campuses").get_json()[0]["bbox"])
    row["first_view_cells_ms"] = median_ms(
        lambda: client.get(f"/api/layers/violations/cells?bbox={extent}&nx=18&ny=11"), repeat=3)
    if n <= naive_max:
        row["naive_ms"], row["naive_bytes"] = naive_page(n)
    else:
        row["naive_ms"] = row["naive_bytes"] = float("nan")
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000,1000000")
    parser.add_argument("--naive-max", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        rows = [run(int(n), args.naive_max, Path(tmp)) for n in args.sizes.split(",")]
    keys = ["n", "page_ms", "page_bytes", "block_api_ms", "campus_api_ms", "campus_cells_ms",
            "first_view_cells_ms", "naive_ms", "naive_bytes"]
    print("".join(f"{k:>20}" for k in keys))
    for row in rows:
        print("".join(f"{row[k]:>20,.1f}" for k in keys))
    for row in rows:
        if np.isfinite(row["naive_ms"]):
            ours = f"our page {row['page_ms']:.1f} ms / {row['page_bytes'] / 1024:.1f} KB"
            naive = f"naive {row['naive_ms']:,.0f} ms / {row['naive_bytes'] / 1024:,.0f} KB"
            ratio = (f"{row['naive_ms'] / row['page_ms']:,.0f}x faster, "
                     f"{row['naive_bytes'] / row['page_bytes']:,.0f}x smaller")
            print(f"{int(row['n']):>9,} violations: {ours}, {naive} -> {ratio}")


if __name__ == "__main__":
    main()
