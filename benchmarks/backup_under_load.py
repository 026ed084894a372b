"""Backup under write load, then restore into a fresh database: the counts match.

Run: .venv/bin/python benchmarks/backup_under_load.py [--seconds 30] [--rows 200000] [--stores sqlite,postgis]

For each store: a fresh database with the mini test campus plus --rows synthetic violations, served by
gunicorn (2 workers x 4 threads) to 16 writers and 2 readers for --seconds. Two seconds in, the backup
runs (patrolmap.backup.backup_database, what `flask --app patrolmap backup FILE` calls) while the
writers go on. Afterwards the backup is restored into a fresh database (restore_database, what
`flask --app patrolmap restore FILE` calls). Checked: the restored counts equal the backup's, every
table's backup count lies between its counts just before the backup and after the load, and every
write acknowledged before the backup started is in the restored database. Prints the backup's time,
size and rows, the restore's time, and the writes acknowledged while the backup ran.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from synthetic import fill_violations

from patrolmap.backup import BackupReport, app_tables, backup_database, restore_database
from tests import loadkit

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/patrolmap_bench"


def counts(url: str) -> dict[str, int]:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        present = set(sa.inspect(conn).get_table_names())
        found = {t: conn.exec_driver_sql(f'SELECT count(*) FROM "{t}"').scalar_one()
                 for t in app_tables() if t in present}
    engine.dispose()
    return found


def markers(url: str) -> set[str]:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        found = set(conn.execute(sa.text("SELECT note FROM violations WHERE note LIKE :m"),
                                 {"m": f"{loadkit.MARK}%"}).scalars())
    engine.dispose()
    return found


def run(store: str, seconds: float, rows: int, workdir: Path) -> bool:
    print(f"{store}: {rows:,} synthetic violations, 16 writers + 2 readers for {seconds:.0f} s, backup 2 s in",
          flush=True)
    url = loadkit.fresh_database(store, workdir, PG_URL, suffix="backup_src")
    seeded = loadkit.seed(url)
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        campus_id = conn.exec_driver_sql("SELECT id FROM campuses WHERE slug = 'mini'").scalar_one()
    fill = fill_violations(engine, campus_id, rows)
    engine.dispose()
    print(f"  filled {rows:,} violations in {fill:.1f} s", flush=True)
    backup_file = workdir / f"{store}.backup"
    seen: dict[str, object] = {}

    def backup(figures: loadkit.Figures) -> None:
        with figures.lock:
            seen["acked_before"] = set(figures.acked)
        seen["before"] = counts(url)
        seen["report"] = backup_database(url, backup_file)
        with figures.lock:
            seen["acked_during"] = len(figures.acked) - len(seen["acked_before"])  # type: ignore[arg-type]

    server = loadkit.Gunicorn(url, workdir / f"gunicorn-{store}.log")
    server.start(seeded.reader_token)
    try:
        figures = loadkit.run_clients(server, seeded, seconds, readers=2, during=backup)
    finally:
        server.stop()
    after = counts(url)
    report: BackupReport = seen["report"]  # type: ignore[assignment]
    before: dict[str, int] = seen["before"]  # type: ignore[assignment]
    for line in report.lines():
        if not line.startswith("  ") or "total" in line or "violations" in line or "audit_log" in line:
            print(line)
    print(f"  writes acknowledged while the backup ran: {seen['acked_during']}")
    for line in figures.lines():
        print(line)

    target = loadkit.fresh_database(store, workdir, PG_URL, suffix="backup_restore")
    restored = restore_database(target, backup_file)
    print(f"  restore into a fresh database: {restored.seconds:.2f} s, {restored.total_rows:,} rows")
    between = all(before[t] <= report.counts[t] <= after[t] for t in report.counts)
    missing = seen["acked_before"] - markers(target)  # type: ignore[operator]
    ok = (restored.counts == report.counts and between and not missing and not figures.server_errors
          and not figures.failures)
    print(f"  restored counts equal the backup's: {restored.counts == report.counts}; backup between before and "
          f"after: {between}; writes acknowledged before the backup missing from it: {len(missing)}")
    print(f"  {'PASS' if ok else 'FAIL'}", flush=True)
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--stores", default="sqlite,postgis")
    args = parser.parse_args()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="patrolmap-backup-") as tmp:
        results = [run(store, args.seconds, args.rows, Path(tmp)) for store in args.stores.split(",")]
    print(f"done in {time.perf_counter() - started:.0f} s")
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
