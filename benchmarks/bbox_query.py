"""Bbox queries over many violations, on SQLite (R*Tree) and PostGIS (GiST), against a full scan.

Run: .venv/bin/python benchmarks/bbox_query.py [--n 1000000] [--stores sqlite,postgis]
Prints, per store: fill time, median query times for our indexed query and for the
same query forced to scan the table, their ratio, and the query plans.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from synthetic import fill_violations, median_ms

from patrolmap import create_app
from patrolmap.extensions import db
from patrolmap.store import count_features, ensure_campus, query_features

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/patrolmap_bench"
# About 150 m x 150 m near the middle of the campus: a city block.
BLOCK = (116.3510, 40.0025, 116.3528, 40.0039)
CAMPUS = (116.3440, 39.9977, 116.3597, 40.0089)


def naive_query(bbox: tuple[float, float, float, float], *, limit: int | None = None, count: bool = False):
    """The same query and decoding with the spatial index out of the way: a full table scan."""
    from patrolmap.layers import get_layer
    from patrolmap.store import _base_query, feature_columns, fetch_columns

    layer = get_layer("violations")
    columns = [sa.func.count().label("n")] if count else feature_columns(layer)
    x0, y0, x1, y1 = bbox
    v = layer.model
    stmt = _base_query(layer, columns, campus_id=None, include_deleted=False).where(
        v.lon.between(x0, x1), v.lat.between(y0, y1))
    if count:
        stmt = stmt.select_from(v)
    if limit:
        stmt = stmt.limit(limit)

    def run() -> object:
        if db.engine.dialect.name == "postgresql":
            db.session.execute(sa.text("SET LOCAL enable_indexscan = off"))
            db.session.execute(sa.text("SET LOCAL enable_bitmapscan = off"))
        result = fetch_columns(db.session, stmt)
        db.session.rollback()
        return result
    return run


def plan(bbox: tuple[float, float, float, float]) -> str:
    from patrolmap.layers import get_layer
    from patrolmap.store import _base_query, _bbox_filter, feature_columns

    layer = get_layer("violations")
    stmt = _bbox_filter(_base_query(layer, feature_columns(layer), campus_id=None, include_deleted=False),
                        layer, bbox, db.engine.dialect.name).limit(1000)
    compiled = stmt.compile(db.engine, compile_kwargs={"literal_binds": True})
    prefix = "EXPLAIN QUERY PLAN " if db.engine.dialect.name == "sqlite" else "EXPLAIN "
    with db.engine.connect() as conn:
        rows = conn.exec_driver_sql(prefix + str(compiled)).all()
    return "\n".join("    " + " ".join(str(c) for c in r) for r in rows)


def prepare(store: str, workdir: Path) -> str:
    if store == "sqlite":
        return f"sqlite:///{workdir / 'bench.sqlite3'}"
    admin = sa.create_engine(PG_URL.rsplit("/", 1)[0] + "/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql("DROP DATABASE IF EXISTS patrolmap_bench")
        conn.exec_driver_sql("CREATE DATABASE patrolmap_bench")
    admin.dispose()
    return PG_URL


def run_store(store: str, n: int, workdir: Path) -> dict[str, float]:
    url = prepare(store, workdir)
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "AUTO_INIT_DB": False})
    results: dict[str, float] = {}
    with app.app_context():
        from flask_migrate import upgrade

        upgrade()
        campus_id = ensure_campus(db.session, "bench").id
        db.session.commit()
        results["fill_s"] = fill_violations(db.engine, campus_id, n)
        db.session.rollback()  # read what the fill wrote, not an older snapshot
        session = db.session
        block_count = count_features(session, "violations", bbox=BLOCK)
        results["block_matches"] = block_count
        results["block_all_ms"] = median_ms(lambda: query_features(session, "violations", bbox=BLOCK))
        results["block_all_naive_ms"] = median_ms(naive_query(BLOCK), repeat=5)
        results["block_count_ms"] = median_ms(lambda: count_features(session, "violations", bbox=BLOCK))
        results["block_count_naive_ms"] = median_ms(naive_query(BLOCK, count=True), repeat=5)
        results["block_first_1000_ms"] = median_ms(
            lambda: query_features(session, "violations", bbox=BLOCK, limit=1000))
        results["campus_first_1000_ms"] = median_ms(
            lambda: query_features(session, "violations", bbox=CAMPUS, limit=1000))
        print(f"\n[{store}] plan for the block query:\n{plan(BLOCK)}")
        db.session.remove()
        db.engine.dispose()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--stores", default="sqlite,postgis")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        table = {store: run_store(store, args.n, Path(tmp)) for store in args.stores.split(",")}
    print(f"\nviolations stored: {args.n:,}")
    keys = list(next(iter(table.values())))
    print(f"{'measure':28}" + "".join(f"{s:>14}" for s in table))
    for key in keys:
        print(f"{key:28}" + "".join(f"{table[s][key]:14.2f}" for s in table))
    for store, r in table.items():
        print(f"[{store}] all {r['block_matches']:.0f} matches in a city block: indexed {r['block_all_ms']:.1f} ms "
              f"vs full scan {r['block_all_naive_ms']:.1f} ms ({r['block_all_naive_ms'] / r['block_all_ms']:.1f}x); "
              f"count {r['block_count_ms']:.1f} vs {r['block_count_naive_ms']:.1f} ms "
              f"({r['block_count_naive_ms'] / r['block_count_ms']:.1f}x)")


if __name__ == "__main__":
    main()
