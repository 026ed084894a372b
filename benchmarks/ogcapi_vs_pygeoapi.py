"""OGC API - Features items, patrolmap against pygeoapi 0.24, both under gunicorn (2 workers) on one PostGIS.

Run: .venv/bin/python benchmarks/ogcapi_vs_pygeoapi.py [--n 100000,1000000] [--seconds 20] [--clients 4]
     [--postgres-url postgresql+psycopg://postgres@127.0.0.1:5432/patrolmap_bench_ogc]

For each size: a fresh PostGIS database holding the mini campus and n synthetic violations (benchmarks/
synthetic.py, COPY), served by patrolmap (gunicorn, 2 workers x 4 threads, an admin's API token) and by
pygeoapi 0.24 (gunicorn, 2 workers x 4 threads, its PostgreSQL provider on the same table, publishing
the same properties, the same default and maximum page sizes). The same requests go to both, from
--clients keep-alive client threads for --seconds each:

- pages:  limit=1000, each client walking the layer page after page (offset 0, 1000, 2000 ...: the next
          links ogr2ogr -oo PAGE_SIZE=1000 follows), from a random first page, round to the start at the end
- bbox:   limit=1000 in random boxes of about 150 m x 150 m (a city block) over the campus

Before timing, both answer a few identical requests and must agree on numberMatched and feature ids.
Prints requests/s and p50/p99 latency per server and query, and patrolmap's throughput over pygeoapi's.

pygeoapi lives in its own environment, benchmarks/.venv-pygeoapi (made on first run, git-ignored).
pygeoapi 0.24 declares Python >= 3.12; on Python 3.11 it is installed with --ignore-requires-python,
its dependencies at releases for 3.11, and the two f-strings that need 3.12 (log lines of its maps
API, pygeoapi/api/maps.py) are rewritten in 3.11 syntax; nothing of its features path is changed.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import http.client
import json
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

import sqlalchemy as sa  # noqa: E402
from synthetic import CAMPUS_BOX, fill_violations  # noqa: E402

from tests import loadkit  # noqa: E402

PYGEOAPI = "0.24.0"
VENV = HERE / ".venv-pygeoapi"
# pygeoapi's own dependencies at releases that install on Python 3.11, and what its PostgreSQL provider needs.
PYGEOAPI_DEPENDENCIES = ["Babel", "click", "filelock", "Flask==3.1.3", "jinja2", "jsonschema", "pydantic",
                         "pygeofilter", "pygeoif", "pyproj==3.7.2", "python-dateutil", "pytz", "PyYAML", "rasterio",
                         "requests", "shapely==2.2.0", "SQLAlchemy", "tinydb", "geoalchemy2", "psycopg2-binary",
                         "gunicorn==27.0.1"]
# What patrolmap's violations collection publishes (patrolmap.ogcapi.collections), for pygeoapi to publish too.
PROPERTIES = ["source_id", "observed_at", "kind", "plate", "status", "note", "reporter", "near_fire_lane", "version",
              "campus_id"]
PAGE = 1000
BLOCK = (0.0018, 0.0014)  # degrees: about 150 m x 150 m at 40° N


# ---------------------------------------------------------------- pygeoapi's environment


def _f_strings_for_311(package: Path) -> list[str]:
    """Rewrite f-strings that reuse their own quotes inside braces (valid only from Python 3.12)."""
    fixed = []
    for path in package.rglob("*.py"):
        source = path.read_text(encoding="utf-8")
        for _ in range(100):
            try:
                ast.parse(source)
                break
            except SyntaxError as exc:
                if "f-string" not in (exc.msg or "") or exc.lineno is None:
                    raise
                lines = source.splitlines(keepends=True)
                line = lines[exc.lineno - 1]
                lines[exc.lineno - 1] = re.sub(r"\{([^{}]*)\}", lambda m: "{" + m[1].replace("'", '"') + "}", line)
                if lines[exc.lineno - 1] == line:
                    raise
                source = "".join(lines)
                fixed.append(f"{path.relative_to(package.parent)}:{exc.lineno}")
        path.write_text(source, encoding="utf-8")
    return fixed


def pygeoapi_env() -> Path:
    """benchmarks/.venv-pygeoapi with pygeoapi 0.24 (made once); returns its bin directory."""
    if not (VENV / "ready").exists():
        print(f"installing pygeoapi {PYGEOAPI} into {VENV.relative_to(ROOT)} ...", flush=True)
        subprocess.run(["python3", "-m", "venv", str(VENV)], check=True)
        pip = [str(VENV / "bin" / "pip"), "install", "-q", "--disable-pip-version-check"]
        subprocess.run([*pip, "--no-deps", "--ignore-requires-python", f"pygeoapi=={PYGEOAPI}"], check=True)
        subprocess.run([*pip, *PYGEOAPI_DEPENDENCIES], check=True)
        site = next((VENV / "lib").glob("python3*/site-packages"))
        fixed = _f_strings_for_311(site / "pygeoapi")
        print(f"  f-strings rewritten for Python 3.11: {', '.join(fixed) or 'none'}")
        (VENV / "ready").write_text(PYGEOAPI)
    return VENV / "bin"


def pygeoapi_config(url: str, port: int, folder: Path, extent: tuple[float, float, float, float]) -> Path:
    """pygeoapi's configuration: the violations table of the same database, the same page sizes."""
    db = sa.make_url(url)
    config = {
        "server": {"bind": {"host": "127.0.0.1", "port": port}, "url": f"http://127.0.0.1:{port}",
                   "mimetype": "application/json; charset=UTF-8", "encoding": "utf-8", "language": "en-US",
                   "cors": False, "pretty_print": False,
                   "limits": {"default_items": PAGE, "max_items": 10_000},
                   "map": {"url": "https://tile.openstreetmap.org/{z}/{x}/{y}.png", "attribution": "OSM"}},
        "logging": {"level": "ERROR"},
        "metadata": {"identification": {"title": "bench", "description": "bench", "keywords": ["bench"],
                                        "keywords_type": "theme", "terms_of_service": "none",
                                        "url": "http://127.0.0.1"},
                     "license": {"name": "none", "url": "http://127.0.0.1"},
                     "provider": {"name": "bench", "url": "http://127.0.0.1"}, "contact": {"name": "bench"}},
        "resources": {"violations": {
            "type": "collection", "title": "Violations", "description": "Parking violations",
            "keywords": ["violations"],
            "extents": {"spatial": {"bbox": list(extent), "crs": "http://www.opengis.net/def/crs/OGC/1.3/CRS84"}},
            "providers": [{"type": "feature", "name": "PostgreSQL",
                           "data": {"host": db.host, "port": db.port or 5432, "dbname": db.database,
                                    "user": db.username, "password": db.password or "", "search_path": ["public"]},
                           "id_field": "id", "table": "violations", "geom_field": "geom",
                           "properties": PROPERTIES}]}},
    }
    path = folder / "pygeoapi.config.yml"
    path.write_text(json.dumps(config), encoding="utf-8")  # YAML is a superset of JSON
    return path


class Pygeoapi:
    """pygeoapi 0.24 under gunicorn, 2 workers x 4 threads, as patrolmap is served."""

    def __init__(self, bin_dir: Path, config: Path, port: int, log: Path) -> None:
        self.bin_dir, self.config, self.port, self.log = bin_dir, config, port, log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        openapi = self.config.with_name("pygeoapi.openapi.yml")
        env = {**os.environ, "PYGEOAPI_CONFIG": str(self.config), "PYGEOAPI_OPENAPI": str(openapi)}
        subprocess.run([str(self.bin_dir / "pygeoapi"), "openapi", "generate", str(self.config), "--output-file",
                        str(openapi)], check=True, env=env, capture_output=True)
        self._log = self.log.open("ab")
        self.proc = subprocess.Popen(
            [str(self.bin_dir / "gunicorn"), "--workers", "2", "--threads", "4", "--worker-class", "gthread",
             "--bind", f"127.0.0.1:{self.port}", "--timeout", "120", "pygeoapi.flask_app:APP"],
            env=env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            with contextlib.suppress(*loadkit.CONNECTION_ERRORS):
                status, _ = get(self.port, "/collections/violations?f=json", {})
                if status == 200:
                    return
            if self.proc.poll() is not None:
                break
            time.sleep(0.3)
        raise RuntimeError(f"pygeoapi did not start; see {self.log}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=30)
            self._log.close()


# ---------------------------------------------------------------- load


def get(port: int, path: str, headers: dict[str, str], conn: http.client.HTTPConnection | None = None
        ) -> tuple[int, bytes]:
    own = conn is None
    conn = conn or http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        if own:
            conn.close()


@dataclass
class Server:
    name: str
    port: int
    base: str  # the path of the items: /ogcapi/collections/violations/items or /collections/violations/items
    headers: dict[str, str]


@dataclass
class Measured:
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    seconds: float = 0.0

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else 0.0

    def pct(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 if ordered else float("nan")


def queries(kind: str, n: int, rng: random.Random) -> Iterator[str]:
    """One client's query strings: the layer page after page from a random one, or random city blocks."""
    pages = max(1, -(-n // PAGE))
    page = rng.randrange(pages)
    while True:
        if kind == "pages":
            yield f"limit={PAGE}&offset={page * PAGE}"
            page = (page + 1) % pages
            continue
        x0, y0, x1, y1 = CAMPUS_BOX
        lon, lat = rng.uniform(x0, x1 - BLOCK[0]), rng.uniform(y0, y1 - BLOCK[1])
        yield f"limit={PAGE}&bbox={lon:.5f},{lat:.5f},{lon + BLOCK[0]:.5f},{lat + BLOCK[1]:.5f}"


def load(server: Server, kind: str, n: int, seconds: float, clients: int, seed: int) -> Measured:
    measured = Measured()
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def client(index: int) -> None:
        walk = queries(kind, n, random.Random(seed * 100 + index))
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=120)
        while time.monotonic() < stop:
            path = f"{server.base}?f=json&{next(walk)}"
            started = time.perf_counter()
            try:
                status, _ = get(server.port, path, server.headers, conn)
            except loadkit.CONNECTION_ERRORS:
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=120)
                status = 0
            elapsed = time.perf_counter() - started
            with lock:
                if status == 200:
                    measured.latencies.append(elapsed)
                else:
                    measured.errors += 1
        conn.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    measured.seconds = time.perf_counter() - started
    return measured


def agree(servers: list[Server], n: int) -> None:
    """Both answer the same requests with the same features (ids and count matched)."""
    for kind in ("pages", "bbox"):
        walk = queries(kind, n, random.Random(7))
        for _ in range(3):
            query = next(walk)
            answers = []
            for server in servers:
                status, body = get(server.port, f"{server.base}?f=json&{query}", server.headers)
                if status != 200:
                    raise RuntimeError(f"{server.name} answered {status} to {query}: {body[:300]!r}")
                doc = json.loads(body)
                answers.append((doc.get("numberMatched"), sorted(int(f["id"]) for f in doc["features"])))
            if answers[0] != answers[1]:
                raise RuntimeError(f"the servers disagree on {query}: matched {answers[0][0]} vs {answers[1][0]}, "
                                   f"{len(answers[0][1])} vs {len(answers[1][1])} features")


# ---------------------------------------------------------------- one size


def seed_database(url: str, n: int) -> tuple[str, float]:
    """Migrate, load the mini campus, add n violations to it; an admin's token and seconds the fill took."""
    from flask_migrate import upgrade

    from patrolmap import create_app
    from patrolmap.auth.passwords import hash_password
    from patrolmap.auth.sessions import create_api_token
    from patrolmap.extensions import db
    from patrolmap.importing import load_geodata
    from patrolmap.models import Campus, User

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "AUTO_INIT_DB": False, "SECRET_KEY": "bench",
                      "GC_FREEZE": False})
    with app.app_context():
        upgrade()
        load_geodata(db.session, loadkit.MINICAMPUS, actor="bench")
        db.session.commit()
        admin = User(username="bench-admin", password_hash=hash_password("correct horse battery staple"),
                     roles="admin")
        db.session.add(admin)
        db.session.commit()
        token, _ = create_api_token(db.session, admin, "bench")
        campus_id = db.session.query(Campus.id).scalar()
        db.session.remove()
        fill_seconds = fill_violations(db.engine, campus_id, n)  # ANALYZEs the table too
        db.engine.dispose()
    return token, fill_seconds


def run_size(n: int, args: argparse.Namespace, bin_dir: Path, folder: Path) -> dict[str, float]:
    url = loadkit.fresh_database("postgis", folder, args.postgres_url, suffix=f"{n}")
    started = time.perf_counter()
    token, fill = seed_database(url, n)
    print(f"\n{n:,} violations on PostGIS: filled in {fill:.0f} s (setup {time.perf_counter() - started:.0f} s)",
          flush=True)
    patrolmap = loadkit.Gunicorn(url, folder / f"patrolmap-{n}.log", workers=2, threads=4, preload=True)
    patrolmap.start(token)
    pygeo = Pygeoapi(bin_dir, pygeoapi_config(url, loadkit.free_port(), folder, CAMPUS_BOX), 0,
                     folder / f"pygeoapi-{n}.log")
    pygeo.port = json.loads(pygeo.config.read_text())["server"]["bind"]["port"]
    pygeo.start()
    servers = [Server("patrolmap", patrolmap.port, "/ogcapi/collections/violations/items",
                      {"Authorization": f"Bearer {token}", "Accept": "application/geo+json"}),
               Server("pygeoapi", pygeo.port, "/collections/violations/items", {"Accept": "application/geo+json"})]
    ratios: dict[str, float] = {}
    try:
        agree(servers, n)
        print(f"{'query':8} {'server':10} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>6}")
        for kind in ("pages", "bbox"):
            for server in servers:
                load(server, kind, n, min(3.0, args.seconds), args.clients, seed=1)  # warm-up
            # Half the time each, in the order A B B A: the machine's other load weighs on both alike.
            measured = {s.name: Measured() for s in servers}
            for round_, server in enumerate([*servers, *reversed(servers)]):
                m = load(server, kind, n, args.seconds / 2, args.clients, seed=2 + round_)
                total = measured[server.name]
                total.latencies += m.latencies
                total.errors += m.errors
                total.seconds += m.seconds
            rates = {}
            for server in servers:
                m = measured[server.name]
                rates[server.name] = m.rate
                print(f"{kind:8} {server.name:10} {m.rate:8.1f} {m.pct(0.5):8.1f} {m.pct(0.99):8.1f} {m.errors:6d}",
                      flush=True)
            ratios[kind] = rates["patrolmap"] / rates["pygeoapi"] if rates["pygeoapi"] else float("inf")
            print(f"{kind:8} patrolmap / pygeoapi throughput: {ratios[kind]:.1f}x", flush=True)
    finally:
        patrolmap.stop()
        pygeo.stop()
    return ratios


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", default="100000,1000000", help="violations, comma-separated sizes")
    parser.add_argument("--seconds", type=float, default=20.0, help="timed seconds per server and query")
    parser.add_argument("--clients", type=int, default=4, help="concurrent keep-alive clients")
    parser.add_argument("--postgres-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/patrolmap_bench_ogc")
    args = parser.parse_args()
    bin_dir = pygeoapi_env()
    print(f"patrolmap and pygeoapi {PYGEOAPI}: gunicorn 2 workers x 4 threads each, {args.clients} clients, "
          f"{args.seconds:.0f} s per server and query, pages of {PAGE}", flush=True)
    results = {}
    with tempfile.TemporaryDirectory(prefix="patrolmap-ogc-bench-") as tmp:
        for n in (int(x) for x in args.n.split(",")):
            started = time.perf_counter()
            results[n] = run_size(n, args, bin_dir, Path(tmp))
            print(f"({n:,}: {time.perf_counter() - started:.0f} s in all)", flush=True)
    print("\nthroughput ratios (goal: at least 3x):")
    for n, ratios in results.items():
        print(f"  {n:>9,}: " + ", ".join(f"{k} {v:.1f}x" for k, v in ratios.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
