"""A long Schemathesis run: every operation of /api/openapi.json with 1,000 generated cases (CI runs 100).

Run: .venv/bin/python benchmarks/schemathesis_long.py [--cases 1000] [--store sqlite|postgis] [--seed N]
     [--postgres-url postgresql+psycopg://postgres@127.0.0.1:5432/patrolmap_fuzz] [--only 'POST /api/routes']
Prints operations, cases, seconds, the slowest operations and every failure (with a curl command to
reproduce it), and exits 1 when anything failed. Same checks, data and app as tests/test_schemathesis.py
(tests/fuzz_api.py); warnings are errors, as under pytest. PostGIS: the database is emptied and migrated.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

import patrolmap.auth.sessions  # noqa: E402
from patrolmap.extensions import db  # noqa: E402
from tests import fuzz_api  # noqa: E402
from tests.conftest import _upgrade  # noqa: E402


def database(store: str, folder: Path, postgres_url: str) -> str:
    if store == "sqlite":
        template = folder / "template.sqlite3"
        _upgrade(f"sqlite:///{template}")
        return fuzz_api.sqlite_copy(template, folder)
    url = sa.make_url(postgres_url)
    admin = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if not conn.execute(sa.text("SELECT 1 FROM pg_database WHERE datname = :d"), {"d": url.database}).first():
            conn.exec_driver_sql(f'CREATE DATABASE "{url.database}"')
    admin.dispose()
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP SCHEMA IF EXISTS public CASCADE")
        conn.exec_driver_sql("CREATE SCHEMA public")
        conn.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS postgis")
    engine.dispose()
    _upgrade(postgres_url)
    return postgres_url


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1000, help="generated cases per operation")
    parser.add_argument("--store", choices=("sqlite", "postgis"), default="sqlite")
    parser.add_argument("--seed", type=int, default=fuzz_api.SEED)
    parser.add_argument("--postgres-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/patrolmap_fuzz")
    parser.add_argument("--only", help="only the operations whose label (e.g. 'POST /api/routes') contains this")
    parser.add_argument("--shrink", action="store_true", help="shrink failures to a minimal case (slower)")
    args = parser.parse_args()
    warnings.simplefilter("error")  # as pyproject.toml's pytest settings: a warning is a failure
    warnings.filterwarnings("ignore", message=r".*Measured \(M\) geometry types are not supported.*",
                            category=UserWarning)
    patrolmap.auth.sessions._DUMMY_HASH = fuzz_api.cheap_dummy_hash()  # cheap refused sign-ins, as the test
    with tempfile.TemporaryDirectory(prefix="patrolmap-fuzz-") as tmp:
        folder = Path(tmp)
        app = fuzz_api.throwaway_app(database(args.store, folder, args.postgres_url), folder / "evidence")
        token = fuzz_api.seed_data(app)
        started = time.perf_counter()
        schema = fuzz_api.load_schema(app, token, args.cases, args.seed, shrink=args.shrink)
        outcome = fuzz_api.run(schema, only=(lambda label: args.only in label) if args.only else None)
        elapsed = time.perf_counter() - started
        with app.app_context():
            db.engine.dispose()
    print(f"store {args.store}, {args.cases} cases per operation, seed {args.seed}: {elapsed:.0f} s wall, "
          f"{outcome.total_cases / elapsed:.0f} cases/s")
    print(fuzz_api.report(outcome, slowest=15))
    return 1 if outcome.failures else 0


if __name__ == "__main__":
    sys.exit(main())
