"""Crash: kill a random gunicorn worker (SIGKILL) every 0.3-1 s while 16 clients record violations.

Run: .venv/bin/python benchmarks/crash.py [--seconds 60] [--stores sqlite,postgis]

gunicorn runs with --preload (2 workers x 4 threads), so the master forks a replacement worker in well
under a second. Every write carries an Idempotency-Key; a client whose request fails or whose
connection dies retries it with the same key until it is answered. Afterwards, read straight from the
database: every acknowledged write is stored (0 missing), no client marker is stored twice
(0 duplicates), and the database passes its integrity check (SQLite: PRAGMA integrity_check and the
R*Tree agreeing with its table; PostgreSQL: amcheck on every B-tree index). The issue asks for at
least 1,000 acknowledged writes in 60 s.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests import loadkit

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/patrolmap_bench"
MIN_ACKNOWLEDGED = 1000


def run(store: str, seconds: float, workdir: Path) -> bool:
    print(f"{store}: gunicorn --preload 2 workers x 4 threads, 16 writers retrying under Idempotency-Key, "
          f"a worker SIGKILLed every 0.3-1 s for {seconds:.0f} s", flush=True)
    with loadkit.served(store, workdir, PG_URL, preload=True) as (server, seeded):
        figures = loadkit.run_clients(server, seeded, seconds, readers=0, idempotent=True, kill_every=(0.3, 1.0))
    stored = loadkit.check_stored(seeded.url, figures.acked)
    for line in figures.lines() + stored.lines():
        print(line)
    enough = len(figures.acked) >= MIN_ACKNOWLEDGED * seconds / 60
    ok = enough and not stored.lost and not stored.duplicates and stored.integrity.startswith("ok")
    for failure in figures.failures[:10]:
        print(f"    {failure}")
    print(f"  {'PASS' if ok else 'FAIL'}" + ("" if enough else f" (fewer than {MIN_ACKNOWLEDGED}/min acknowledged)"),
          flush=True)
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--stores", default="sqlite,postgis")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="patrolmap-crash-") as tmp:
        results = [run(store, args.seconds, Path(tmp)) for store in args.stores.split(",")]
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
