"""Load: gunicorn (2 workers x 4 threads), 16 writers recording violations while readers fetch map layers.

Run: .venv/bin/python benchmarks/load.py [--seconds 60] [--stores sqlite,postgis] [--readers 4]

For each store, on a fresh database holding the mini test campus: 16 threads POST /api/violations over
keep-alive connections while reader threads GET the violations, buildings and paths layers and the
violation cells of the campus, for --seconds. Then the server stops and the database is read directly:
every 201 must match a stored row (its id, carrying the writer's unique note), with 0 lost, 0 5xx and
0 "database is locked". Prints throughput and p50/p99 latency for reads and writes.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests import loadkit

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/patrolmap_bench"


def run(store: str, seconds: float, readers: int, workdir: Path) -> bool:
    print(f"{store}: gunicorn 2 workers x 4 threads, 16 writers + {readers} readers for {seconds:.0f} s", flush=True)
    with loadkit.served(store, workdir, PG_URL) as (server, seeded):
        figures = loadkit.run_clients(server, seeded, seconds, readers=readers)
    stored = loadkit.check_stored(seeded.url, figures.acked)
    for line in figures.lines() + stored.lines():
        print(line)
    ok = not stored.lost and not figures.server_errors and not figures.locked and not figures.failures
    ok = ok and stored.integrity.startswith("ok")
    for failure in figures.failures[:10]:
        print(f"    {failure}")
    print(f"  {'PASS' if ok else 'FAIL'}", flush=True)
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--stores", default="sqlite,postgis")
    parser.add_argument("--readers", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="patrolmap-load-") as tmp:
        results = [run(store, args.seconds, args.readers, Path(tmp)) for store in args.stores.split(",")]
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
