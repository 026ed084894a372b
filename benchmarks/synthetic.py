"""Fill a store with many synthetic violations fast, for benchmarks (raw driver, no ORM)."""

from __future__ import annotations

import datetime as dt
import io
import statistics
import time
from collections.abc import Callable

import numpy as np
import shapely
import sqlalchemy as sa

PG_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432"


def fresh_database(store: str, workdir: object, name: str) -> str:
    """An empty database of the store for one benchmark (a PostGIS one dropped and made anew); its URL."""
    if store == "sqlite":
        return f"sqlite:///{workdir}/{name}.sqlite3"
    admin = sa.create_engine(f"{PG_SERVER}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    admin.dispose()
    url = f"{PG_SERVER}/{name}"
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS postgis")
    engine.dispose()
    return url


# A box around the sample campus (CAU East, Beijing), about 1.3 x 1.2 km.
CAMPUS_BOX = (116.3440, 39.9977, 116.3597, 40.0089)


def synthetic_points(n: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Clustered points: 70% around 40 hotspots, 30% uniform background."""
    rng = np.random.default_rng(seed)
    x0, y0, x1, y1 = CAMPUS_BOX
    centres = np.column_stack([rng.uniform(x0, x1, 40), rng.uniform(y0, y1, 40)])
    clustered = int(n * 0.7)
    pick = rng.integers(0, 40, clustered)
    lon = np.concatenate([centres[pick, 0] + rng.normal(0, 0.0003, clustered), rng.uniform(x0, x1, n - clustered)])
    lat = np.concatenate([centres[pick, 1] + rng.normal(0, 0.0002, clustered), rng.uniform(y0, y1, n - clustered)])
    return np.clip(lon, x0, x1), np.clip(lat, y0, y1)


def fill_violations(engine: sa.Engine, campus_id: int, n: int, *, seed: int = 1) -> float:
    """Insert n violations for a campus; return seconds taken."""
    lon, lat = synthetic_points(n, seed)
    rng = np.random.default_rng(seed + 1)
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    seconds = rng.integers(0, 365 * 86400, n)
    kinds = np.array(["no_parking", "fire_lane", "entrance", "zombie", "other"])[rng.integers(0, 5, n)]
    started = time.perf_counter()
    if engine.dialect.name == "postgresql":
        _copy_postgres(engine, campus_id, lon, lat, seconds, kinds, start)
    else:
        _insert_sqlite(engine, campus_id, lon, lat, seconds, kinds, start)
    return time.perf_counter() - started


def _rows(campus_id, lon, lat, seconds, kinds, start, geoms):
    now = dt.datetime.now(dt.UTC)
    for i in range(len(lon)):
        utc = start + dt.timedelta(seconds=int(seconds[i]))
        local = utc + dt.timedelta(hours=8)
        yield (campus_id, f"bench-{i}", utc, str(kinds[i]), "open", float(lon[i]), float(lat[i]), local.date(),
               local.hour, local.minute, local.weekday(), False, geoms[i], 1, now, now)


COLUMNS = ("campus_id, source_id, observed_at, kind, status, lon, lat, local_date, local_hour, local_minute, "
           "local_weekday, near_fire_lane, geom, version, created_at, updated_at")


def _insert_sqlite(engine, campus_id, lon, lat, seconds, kinds, start) -> None:
    geoms = shapely.to_wkb(shapely.points(lon, lat))
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        cur.execute("BEGIN IMMEDIATE")
        rows = ((c, s, u.replace(tzinfo=None).isoformat(sep=" "), *rest) for c, s, u, *rest in
                _rows(campus_id, lon, lat, seconds, kinds, start, geoms))
        cur.executemany(f"INSERT INTO violations ({COLUMNS}) VALUES ({', '.join('?' * 16)})", rows)
        cur.execute("COMMIT")
    finally:
        raw.close()


def _copy_postgres(engine, campus_id, lon, lat, seconds, kinds, start) -> None:
    geoms = shapely.to_wkb(shapely.set_srid(shapely.points(lon, lat), 4326), hex=True, include_srid=True)
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        with cur.copy(f"COPY violations ({COLUMNS}) FROM STDIN") as copy:
            buf = io.StringIO()
            for n, row in enumerate(_rows(campus_id, lon, lat, seconds, kinds, start, geoms)):
                buf.write("\t".join("f" if v is False else str(v) for v in row) + "\n")
                if n % 50000 == 49999:
                    copy.write(buf.getvalue())
                    buf = io.StringIO()
            copy.write(buf.getvalue())
        raw.commit()
        cur.execute("ANALYZE violations")
        raw.commit()
    finally:
        raw.close()


def median_ms(fn: Callable[[], object], repeat: int = 9) -> float:
    """Median wall time of fn in milliseconds, after one warm-up call."""
    fn()
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)
