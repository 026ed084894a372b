"""Load and crash harness: a real gunicorn on a fresh database, HTTP clients, and the checks afterwards.

Shared by tests/test_load_short.py, tests/test_crash_short.py and the benchmarks/ scripts (load, crash,
backup under load). Nothing here asserts: runs return figures and the stored truth, and the callers
decide. Writers mark every violation with a client-side unique note (``load:<uuid>``), so rows can be
matched to the answers the clients got, and counted for duplicates, without trusting the server.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
MINICAMPUS = ROOT / "tests" / "data" / "minicampus"
# Inside the mini campus's buildings and paths, so recorded violations pass the "far from campus" check.
LON_RANGE = (116.3496, 116.3542)
LAT_RANGE = (40.0007, 40.0012)
READ_BBOX = "116.3490,40.0003,116.3550,40.0016"
READ_PATHS = (
    f"/api/layers/violations?bbox={READ_BBOX}&limit=500",
    f"/api/layers/buildings?bbox={READ_BBOX}",
    f"/api/layers/paths?bbox={READ_BBOX}",
    f"/api/layers/violations/cells?bbox={READ_BBOX}&nx=8&ny=8",
)
MARK = "load:"
# Faults of a killed worker's connection, seen by a client as one of these.
CONNECTION_ERRORS = (ConnectionError, http.client.HTTPException, TimeoutError, OSError)


# ---------------------------------------------------------------- database


def fresh_database(store: str, workdir: Path, postgres_url: str | None = None, suffix: str = "server") -> str:
    """An empty database for a server: a new SQLite file, or a PostGIS database `<test db>_<suffix>`, wiped."""
    if store == "sqlite":
        path = workdir / f"{suffix}.sqlite3"
        for leftover in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
            leftover.unlink(missing_ok=True)
        return f"sqlite:///{path}"
    if postgres_url is None:
        raise ValueError("a PostGIS store needs the test server's URL")
    base = sa.make_url(postgres_url)
    url = base.set(database=f"{base.database}_{suffix}")
    create_database(url, drop=True)
    return url.render_as_string(hide_password=False)


def create_database(url: sa.URL, *, drop: bool) -> None:
    """A PostgreSQL database with PostGIS in it; with `drop`, emptied first (its sessions ended, its schema
    dropped: quicker than dropping the database, which waits for a checkpoint)."""
    admin = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with admin.connect() as conn:
        if conn.execute(sa.text("SELECT 1 FROM pg_database WHERE datname = :d"), {"d": url.database}).first():
            conn.execute(sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :d"),
                         {"d": url.database})
        else:
            conn.exec_driver_sql(f'CREATE DATABASE "{url.database}"')
    admin.dispose()
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        if drop:
            conn.exec_driver_sql("DROP SCHEMA IF EXISTS public CASCADE")
            conn.exec_driver_sql("CREATE SCHEMA public")
        conn.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS postgis")
    engine.dispose()


@dataclass
class Seeded:
    """A migrated database holding the mini campus, a traffic-staff writer and a viewer, with their API tokens."""

    url: str
    writer_token: str
    reader_token: str
    campus: str = "mini"


def seed(url: str) -> Seeded:
    """Migrate `url`, load the mini campus and issue the clients' tokens (through the app's own code)."""
    from flask_migrate import upgrade

    from patrolmap import create_app
    from patrolmap.auth.passwords import hash_password
    from patrolmap.auth.sessions import create_api_token
    from patrolmap.extensions import db
    from patrolmap.importing import load_geodata
    from patrolmap.models import User

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "AUTO_INIT_DB": False, "SECRET_KEY": "load", "GC_FREEZE": False})
    with app.app_context():
        upgrade()
        load_geodata(db.session, MINICAMPUS, actor="load")
        db.session.commit()
        password = hash_password(uuid.uuid4().hex)
        writer = User(username="load-writer", password_hash=password, roles="traffic_staff",
                      university="Test University")
        reader = User(username="load-reader", password_hash=password, roles="viewer", university="Test University")
        db.session.add_all([writer, reader])
        db.session.commit()
        writer_token, _ = create_api_token(db.session, writer, "load writers", actor="load")
        reader_token, _ = create_api_token(db.session, reader, "load readers", actor="load")
        db.session.remove()
        db.engine.dispose()
    return Seeded(url, writer_token, reader_token)


# ---------------------------------------------------------------- server


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Gunicorn:
    """gunicorn serving patrolmap on a free port: `workers` processes of `threads` threads each."""

    def __init__(self, url: str, log: Path, *, workers: int = 2, threads: int = 4, preload: bool = False,
                 extra_env: dict[str, str] | None = None) -> None:
        self.url, self.log_path = url, log
        self.workers, self.threads, self.preload = workers, threads, preload
        self.extra_env = extra_env or {}
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None

    def command(self) -> list[str]:
        command = [sys.executable, "-m", "gunicorn"]
        if (ROOT / "patrolmap" / "gunicorn_conf.py").exists():
            command += ["--config", "python:patrolmap.gunicorn_conf"]  # the production settings; the flags below win
        command += ["--workers", str(self.workers), "--threads", str(self.threads), "--worker-class", "gthread",
                    "--bind", f"127.0.0.1:{self.port}", "--graceful-timeout", "10", "--timeout", "60"]
        if self.preload:
            command.append("--preload")
        return [*command, "patrolmap:create_app()"]

    def start(self, ready_token: str, timeout: float = 90.0) -> None:
        self.port = free_port()
        env = {**os.environ, "DATABASE_URL": self.url, "SECRET_KEY": "load-secret", "PATROLMAP_AUTO_INIT": "0",
               "PATROLMAP_LANGUAGE": "en", "PYTHONUNBUFFERED": "1", **self.extra_env}
        env.pop("WERKZEUG_RUN_MAIN", None)
        self._log = self.log_path.open("ab")
        self.proc = subprocess.Popen(self.command(), cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.proc.returncode}:\n{self.log_tail()}")
            probe = Client(self.port, ready_token, timeout=5)
            with contextlib.suppress(*CONNECTION_ERRORS):
                status, _, _ = probe.request("GET", "/api/campuses")
                probe.close()
                if status == 200 and len(self.worker_pids()) == self.workers:
                    return
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"gunicorn did not answer within {timeout:.0f} s:\n{self.log_tail()}")

    def worker_pids(self) -> list[int]:
        """The master's live children (its workers), read from /proc."""
        if self.proc is None:
            return []
        pids = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            with contextlib.suppress(OSError, IndexError, ValueError):
                stat = (entry / "stat").read_text()
                fields = stat[stat.rindex(")") + 2:].split()
                if int(fields[1]) == self.proc.pid and fields[0] != "Z":
                    pids.append(int(entry.name))
        return pids

    def cpu_seconds(self) -> float:
        """CPU time (user + system) the master and its live workers have used so far."""
        if self.proc is None:
            return 0.0
        total = 0
        for pid in [self.proc.pid, *self.worker_pids()]:
            with contextlib.suppress(OSError, IndexError, ValueError):
                stat = Path(f"/proc/{pid}/stat").read_text()
                fields = stat[stat.rindex(")") + 2:].split()
                total += int(fields[11]) + int(fields[12])  # utime, stime in clock ticks
        return total / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        for pid in self.worker_pids():  # a worker the master lost track of
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self._log.close()
        self.proc = None

    def log_tail(self, lines: int = 40) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""

    def __enter__(self) -> Gunicorn:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()


# ---------------------------------------------------------------- clients


class Client:
    """One keep-alive HTTP connection with an API token; reconnects after a fault."""

    def __init__(self, port: int, token: str, timeout: float = 30.0) -> None:
        self.port, self.token, self.timeout = port, token, timeout
        self.conn: http.client.HTTPConnection | None = None
        self.replayed = False  # the last answer was a stored one (Idempotent-Replayed: true)

    def request(self, method: str, path: str, body: dict | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, bytes, float]:
        """(status, body, seconds); a connection fault closes the connection and propagates."""
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
        sent = {"Authorization": f"Bearer {self.token}", "Accept-Language": "en", **(headers or {})}
        payload = None
        if body is not None:
            payload = json.dumps(body).encode()
            sent["Content-Type"] = "application/json"
        started = time.perf_counter()
        try:
            self.conn.request(method, path, body=payload, headers=sent)
            response = self.conn.getresponse()
            data = response.read()
        except BaseException:
            self.close()
            raise
        self.replayed = response.getheader("Idempotent-Replayed", "") == "true"
        if response.getheader("Connection", "").lower() == "close":
            self.close()
        return response.status, data, time.perf_counter() - started

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def violation_body(campus: str, marker: str, rng: random.Random) -> dict:
    return {"campus": campus, "lon": round(rng.uniform(*LON_RANGE), 6), "lat": round(rng.uniform(*LAT_RANGE), 6),
            "kind": rng.choice(["no_parking", "fire_lane", "entrance", "zombie", "other"]), "note": marker}


@dataclass
class Figures:
    """What the clients saw, counted as they went (threads append under one lock)."""

    seconds: float = 0.0
    write_latencies: list[float] = field(default_factory=list)
    read_latencies: list[float] = field(default_factory=list)
    statuses: Counter = field(default_factory=Counter)  # ("write"|"read", status) -> count
    acked: dict[str, int] = field(default_factory=dict)  # marker -> id the server answered
    failures: list[str] = field(default_factory=list)  # unexpected answers and faults, described
    locked: int = 0  # answers that mention "database is locked"
    faults: int = 0  # connection faults (resets, refusals, timeouts)
    retries: int = 0
    replays: int = 0  # retries answered from the stored answer of a first try that had committed
    kills: int = 0
    server_cpu: float = 0.0  # CPU seconds the workers used during the run (without kills: the same workers)
    client_cpu: float = 0.0  # CPU seconds this process used
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def server_errors(self) -> int:
        return sum(n for (_, status), n in self.statuses.items() if status >= 500)

    @property
    def reads(self) -> int:
        return len(self.read_latencies)

    def note(self, kind: str, status: int, seconds: float, body: bytes) -> None:
        with self.lock:
            self.statuses[(kind, status)] += 1
            (self.write_latencies if kind == "write" else self.read_latencies).append(seconds)
            if b"database is locked" in body:
                self.locked += 1
            expected = (200, 201) if kind == "write" else (200,)
            if status not in expected and len(self.failures) < 50:
                self.failures.append(f"{kind} {status}: {body[:200]!r}")

    def fault(self, kind: str, exc: BaseException) -> None:
        with self.lock:
            self.faults += 1
            if len(self.failures) < 50:
                self.failures.append(f"{kind} fault: {type(exc).__name__}: {exc}")

    def lines(self) -> list[str]:
        def pct(values: list[float]) -> str:
            if not values:
                return "none"
            p50, p99 = np.percentile(np.array(values) * 1000, [50, 99])
            return f"p50 {p50:.1f} ms, p99 {p99:.1f} ms"

        seconds = max(self.seconds, 1e-9)
        answers = max(sum(self.statuses.values()), 1)
        statuses = ", ".join(f"{kind} {status}: {n}" for (kind, status), n in sorted(self.statuses.items()))
        return [
            f"  writes acknowledged: {len(self.acked)} ({len(self.acked) / seconds:.1f}/s), "
            f"{pct(self.write_latencies)}",
            f"  reads: {self.reads} ({self.reads / seconds:.1f}/s), {pct(self.read_latencies)}",
            f"  answers: {statuses or 'none'}",
            f"  5xx: {self.server_errors}, 'database is locked': {self.locked}, connection faults: {self.faults}, "
            f"retries: {self.retries}, replayed answers: {self.replays}, worker kills: {self.kills}",
            # Killed workers take their CPU time with them: the server's figure holds only without kills.
            f"  CPU per answer: server {f'{1000 * self.server_cpu / answers:.1f} ms' if not self.kills else 'n/a'}, "
            f"clients {1000 * self.client_cpu / answers:.1f} ms",
        ]


def _reader(port: int, token: str, figures: Figures, stop: threading.Event) -> None:
    client = Client(port, token)
    turn = 0
    while not stop.is_set():
        path = READ_PATHS[turn % len(READ_PATHS)]
        turn += 1
        try:
            status, body, seconds = client.request("GET", path)
        except CONNECTION_ERRORS as exc:
            figures.fault("read", exc)
            time.sleep(0.05)
            continue
        figures.note("read", status, seconds, body)
    client.close()


def _writer(port: int, token: str, campus: str, figures: Figures, seed_: int, idempotent: bool,
            stop: threading.Event) -> None:
    """Record violations until stopped; with `idempotent`, retry each one under its key until answered."""
    rng = random.Random(seed_)
    client = Client(port, token)
    while not stop.is_set():
        marker = f"{MARK}{uuid.uuid4().hex}"
        body = violation_body(campus, marker, rng)
        headers = {"Idempotency-Key": uuid.uuid4().hex} if idempotent else {}
        give_up = time.monotonic() + 60
        while True:
            try:
                status, data, seconds = client.request("POST", "/api/violations", body, headers)
            except CONNECTION_ERRORS as exc:
                if not idempotent:
                    figures.fault("write", exc)
                    break
                with figures.lock:
                    figures.faults += 1
                    figures.retries += 1
                if time.monotonic() > give_up:
                    figures.fault("write", exc)
                    break
                time.sleep(0.02)
                continue
            if idempotent and status in (409, 502, 503) and time.monotonic() < give_up:
                # 409: the first try under this key is still running elsewhere; 502/503: come back later.
                with figures.lock:
                    figures.retries += 1
                time.sleep(0.1)
                continue
            figures.note("write", status, seconds, data)
            if status in (200, 201):
                with figures.lock:
                    figures.acked[marker] = int(json.loads(data)["id"])
                    figures.replays += client.replayed
            break
    client.close()


def _killer(server: Gunicorn, stop: threading.Event, figures: Figures, every: tuple[float, float], seed_: int) -> None:
    rng = random.Random(seed_)
    while not stop.wait(rng.uniform(*every)):
        pids = server.worker_pids()
        if not pids:
            continue
        with contextlib.suppress(ProcessLookupError):
            os.kill(rng.choice(pids), signal.SIGKILL)
            with figures.lock:
                figures.kills += 1


def run_clients(server: Gunicorn, seeded: Seeded, seconds: float, *, writers: int = 16, readers: int = 4,
                idempotent: bool = False, kill_every: tuple[float, float] | None = None,
                during: Callable[[Figures], None] | None = None, seed_: int = 13) -> Figures:
    """`writers` threads record violations and `readers` threads fetch map layers for `seconds`.

    With `kill_every`, a thread SIGKILLs a random worker every so many seconds meanwhile. `during`, if
    given, runs in this thread with the figures so far once the clients are going (a backup under load);
    the clients stop once the time is up and it has returned. Writes under way then are finished (retried
    until answered).
    """
    figures = Figures()
    stop = threading.Event()
    threads = [threading.Thread(target=_writer, args=(server.port, seeded.writer_token, seeded.campus, figures,
                                                      seed_ * 1000 + i, idempotent, stop), daemon=True)
               for i in range(writers)]
    threads += [threading.Thread(target=_reader, args=(server.port, seeded.reader_token, figures, stop), daemon=True)
                for _ in range(readers)]
    if kill_every is not None:
        threads.append(threading.Thread(target=_killer, args=(server, stop, figures, kill_every, seed_), daemon=True))
    started, server_cpu, client_cpu = time.monotonic(), server.cpu_seconds(), time.process_time()
    for thread in threads:
        thread.start()
    if during is not None:
        time.sleep(min(2.0, seconds / 4))
        during(figures)
    stop.wait(max(0.0, started + seconds - time.monotonic()))
    stop.set()
    for thread in threads:
        thread.join(timeout=120)
    figures.seconds = time.monotonic() - started
    figures.server_cpu = server.cpu_seconds() - server_cpu
    figures.client_cpu = time.process_time() - client_cpu
    return figures


# ---------------------------------------------------------------- checks


@dataclass
class Stored:
    """The stored truth about the clients' writes, read straight from the database after the run."""

    rows: int  # rows carrying a load marker
    lost: list[str]  # acknowledged markers with no row (or another id)
    duplicates: int  # rows beyond the first for a marker
    unacknowledged: int  # markers stored that no client saw acknowledged (answer lost to a kill)
    integrity: str

    def lines(self) -> list[str]:
        return [f"  stored rows: {self.rows}, lost: {len(self.lost)}, duplicates: {self.duplicates}, "
                f"stored but never acknowledged: {self.unacknowledged}; integrity: {self.integrity}"]


def check_stored(url: str, acked: dict[str, int]) -> Stored:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT id, note FROM violations WHERE note LIKE :m"),
                                {"m": f"{MARK}%"}).all()
            integrity = integrity_check(conn)
    finally:
        engine.dispose()
    per_marker = Counter(note for _, note in rows)
    by_id = dict(rows)
    lost = [marker for marker, vid in acked.items() if by_id.get(vid) != marker]
    return Stored(rows=len(rows), lost=lost, duplicates=sum(n - 1 for n in per_marker.values() if n > 1),
                  unacknowledged=len(set(per_marker) - set(acked)), integrity=integrity)


def integrity_check(conn: sa.Connection) -> str:
    """SQLite: PRAGMA integrity_check and the R*Tree index agreeing with its table; PostgreSQL: amcheck on every
    B-tree index of the app's tables (the heap and index agree, the index is ordered). 'ok' or the problems."""
    if conn.dialect.name == "sqlite":
        problems = [r[0] for r in conn.exec_driver_sql("PRAGMA integrity_check")]
        if problems != ["ok"]:
            return "; ".join(problems[:5])
        table = conn.exec_driver_sql("SELECT count(*) FROM violations").scalar_one()
        rtree = conn.exec_driver_sql("SELECT count(*) FROM rtree_violations").scalar_one()
        return "ok" if table == rtree else f"rtree_violations holds {rtree} rows, violations {table}"
    conn.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS amcheck")
    indexes = conn.exec_driver_sql(
        "SELECT c.oid::regclass::text FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
        "JOIN pg_am am ON am.oid = c.relam JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE am.amname = 'btree' AND n.nspname = 'public'").scalars().all()
    for index in indexes:
        conn.exec_driver_sql(f"SELECT bt_index_check('{index}'::regclass, true)")
    conn.commit()
    return f"ok (amcheck on {len(indexes)} indexes)"


@contextlib.contextmanager
def served(store: str, workdir: Path, postgres_url: str | None = None, **server_options: object
           ) -> Iterator[tuple[Gunicorn, Seeded]]:
    """A fresh, seeded database and gunicorn serving it; stopped (and its log kept in `workdir`) afterwards."""
    url = fresh_database(store, workdir, postgres_url)
    seeded = seed(url)
    server = Gunicorn(url, workdir / f"gunicorn-{store}.log", **server_options)  # type: ignore[arg-type]
    server.start(seeded.reader_token)
    try:
        yield server, seeded
    finally:
        server.stop()
