"""A database that is locked, gone or full: 503 with a JSON reason, nothing half-written, recovery without restart."""

from __future__ import annotations

import contextlib
import socket
import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event, func, select

from patrolmap import create_app
from patrolmap.degraded import classify
from patrolmap.extensions import db
from patrolmap.importing import load_geodata
from patrolmap.models import AuditEntry, IdempotencyKey, Violation

from .conftest import DATA, signed_in_client

VIOLATION = {"campus": "mini", "lon": 116.3512, "lat": 40.00062, "kind": "other", "note": "x" * 400}


class Relay:
    """A TCP relay in front of PostgreSQL that a test switches off and on: the database going away, coming back."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.port = 0
        self.listener: socket.socket | None = None
        self.sockets: list[socket.socket] = []

    def start(self) -> Relay:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(16)
        self.port, self.listener = listener.getsockname()[1], listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()
        return self

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # stopped
            server = socket.create_connection(self.target)
            self.sockets += [client, server]
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        for s in (source, sink):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)

    def stop(self) -> None:
        """Refuse new connections and cut the open ones, as a stopped server does."""
        assert self.listener is not None
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the accept() (close alone leaves it listening)
        self.listener.close()
        for s in self.sockets:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()
        self.sockets.clear()


def _second_app(url: str, tmp_path: Path, **config: Any) -> Flask:
    """Another app (as another server would be) on `url`, with its own engine and pool."""
    return create_app({"SQLALCHEMY_DATABASE_URI": url, "AUTO_INIT_DB": False, "TESTING": True,
                       "SECRET_KEY": "test-secret", "DEFAULT_LANGUAGE": "en",
                       "EVIDENCE_DIR": str(tmp_path / "evidence"), **config})


def _client_like(app: Flask, signed_in: FlaskClient) -> FlaskClient:
    client = app.test_client()
    client.set_cookie("patrolmap_session", signed_in.get_cookie("patrolmap_session").value)
    client.environ_base.update(signed_in.environ_base)
    return client


def _violations() -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(Violation))


@pytest.fixture
def staff(app: Flask) -> FlaskClient:
    load_geodata(db.session, DATA / "minicampus")
    db.session.commit()
    return signed_in_client(app, "duty-sun", "traffic_staff")


def _unavailable(response: Any, reason: str) -> None:
    assert response.status_code == 503, response.get_data(as_text=True)
    body = response.get_json()
    assert body["reason"] == reason and body["message"], body
    assert int(response.headers["Retry-After"]) > 0


@pytest.mark.store("sqlite")
def test_a_locked_sqlite_answers_503_and_the_next_write_works(staff: FlaskClient, database_url: str,
                                                            tmp_path: Path) -> None:
    other = _second_app(database_url, tmp_path, SQLITE_BUSY_TIMEOUT_MS=200)
    client = _client_like(other, staff)
    before = _violations()
    holder = sqlite3.connect(sa.make_url(database_url).database, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process holds the write lock beyond the busy timeout
    try:
        _unavailable(client.post("/api/violations", json=VIOLATION), "database_locked")
        _unavailable(client.post("/api/violations", json=VIOLATION, headers={"Idempotency-Key": "k"}),
                     "database_locked")
        page = client.get("/violations", headers={"Accept": "text/html"})
        assert page.status_code == 200  # readers are not blocked by a writer (WAL)
        assert client.get("/api/layers/violations?campus=mini").status_code == 200
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert _violations() == before
    retried = client.post("/api/violations", json=VIOLATION, headers={"Idempotency-Key": "k"})
    assert retried.status_code == 201 and "Idempotent-Replayed" not in retried.headers  # a 503 is never stored
    assert _violations() == before + 1


@pytest.mark.store("sqlite")
def test_a_full_disk_answers_503_and_corrupts_nothing(staff: FlaskClient, database_url: str, tmp_path: Path) -> None:
    path = sa.make_url(database_url).database
    with sqlite3.connect(path) as conn:
        limit = conn.execute("PRAGMA page_count").fetchone()[0]
    other = _second_app(database_url, tmp_path)
    with other.app_context():
        engine = db.engine

    def cap(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.execute(f"PRAGMA max_page_count = {limit}")  # the file may not grow: as a full disk

    event.listen(engine, "connect", cap)
    client = _client_like(other, staff)
    before = _violations()
    created = []
    for _ in range(300):
        response = client.post("/api/violations", json=VIOLATION)
        if response.status_code != 201:
            break
        created.append(response.get_json()["id"])
    _unavailable(response, "storage_full")
    keyed = client.post("/api/violations", json=VIOLATION, headers={"Idempotency-Key": "full-1"})
    _unavailable(keyed, "storage_full")
    assert created, "the database filled up before the first write: no earlier rows to check"
    assert _violations() == before + len(created)
    assert set(created) <= set(db.session.scalars(select(Violation.id)))
    audited = set(db.session.scalars(select(AuditEntry.feature_id).where(AuditEntry.layer == "violations",
                                                                          AuditEntry.action == "create")))
    assert set(created) <= audited
    assert db.session.scalar(select(func.count()).select_from(IdempotencyKey)) == 0
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("SELECT count(*) FROM rtree_violations").fetchone()[0] == before + len(created)
    # Space again (here: the cap lifted on new connections), and the next write works without a restart.
    event.remove(engine, "connect", cap)
    engine.dispose()
    assert client.post("/api/violations", json=VIOLATION, headers={"Idempotency-Key": "full-1"}).status_code == 201
    assert _violations() == before + len(created) + 1


@pytest.mark.store("postgis")
def test_postgres_going_away_answers_503_and_coming_back_needs_no_restart(staff: FlaskClient, database_url: str,
                                                                          tmp_path: Path) -> None:
    url = sa.make_url(database_url)
    relay = Relay(url.host or "127.0.0.1", url.port or 5432).start()
    other = _second_app(url.set(port=relay.port).render_as_string(hide_password=False), tmp_path,
                        SQLALCHEMY_ENGINE_OPTIONS={"connect_args": {"prepare_threshold": None,
                                                                    "application_name": "patrolmap-other"}})
    client = _client_like(other, staff)
    before = _violations()
    try:
        assert client.post("/api/violations", json=VIOLATION).status_code == 201
        relay.stop()
        _unavailable(client.post("/api/violations", json=VIOLATION), "database_unavailable")
        _unavailable(client.post("/api/violations", json=VIOLATION, headers={"Idempotency-Key": "gone"}),
                     "database_unavailable")
        _unavailable(client.get("/api/campuses"), "database_unavailable")
        page = client.get("/violations", headers={"Accept": "text/html"})
        assert page.status_code == 503 and page.mimetype == "text/html"
        assert client.get("/healthz").status_code == 200  # the process is up; /readyz says it cannot serve
        _unavailable(client.get("/readyz"), "database_unavailable")
        assert _violations() == before + 1
        relay.start()  # the same port again
        assert client.get("/readyz").status_code == 200
        retried = client.post("/api/violations", json=VIOLATION, headers={"Idempotency-Key": "gone"})
        assert retried.status_code == 201 and "Idempotent-Replayed" not in retried.headers
        # Every connection of that server ended by an administrator: its pool notices and reconnects.
        with db.engine.connect() as conn:
            ended = conn.execute(sa.text("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                                         "WHERE application_name = 'patrolmap-other'")).scalar()
        assert ended >= 1
        assert client.post("/api/violations", json=VIOLATION).status_code == 201
        assert _violations() == before + 3
    finally:
        relay.stop()
        with other.app_context():
            db.engine.dispose()


def test_real_database_errors_are_classified(store: str, database_url: str, tmp_path: Path) -> None:
    """Errors raised by the real drivers, not made up: outages are 503s, bugs are not."""
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as conn, pytest.raises(sa.exc.DBAPIError) as missing:
            conn.execute(sa.text("SELECT * FROM no_such_table"))
        if store == "postgis":
            assert classify(missing.value) is None  # a programming error: a bug, answered 500
            with engine.connect() as conn, pytest.raises(sa.exc.DBAPIError) as ended:
                conn.execute(sa.text("SELECT pg_terminate_backend(pg_backend_pid())"))
            assert classify(ended.value).code == "database_unavailable"
            closed = sa.create_engine(sa.make_url(database_url).set(port=_closed_port()))
            with pytest.raises(sa.exc.OperationalError) as refused:
                closed.connect()
            assert classify(refused.value).code == "database_unavailable"
        else:
            assert classify(missing.value).code == "database_error"  # SQLite says so with OperationalError
            with engine.begin() as conn:
                conn.execute(sa.text("CREATE TABLE once (id INTEGER PRIMARY KEY)"))
                conn.execute(sa.text("INSERT INTO once VALUES (1)"))
            with engine.begin() as conn, pytest.raises(sa.exc.IntegrityError) as duplicate:
                conn.execute(sa.text("INSERT INTO once VALUES (1)"))
            assert classify(duplicate.value) is None
            nowhere = sa.create_engine(f"sqlite:///{tmp_path / 'missing' / 'x.sqlite3'}")
            with pytest.raises(sa.exc.OperationalError) as cannot_open:
                nowhere.connect()
            assert classify(cannot_open.value).code == "database_unavailable"
    finally:
        engine.dispose()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_bug_stays_a_500(staff: FlaskClient, monkeypatch: pytest.MonkeyPatch) -> None:
    from patrolmap.web import api

    def duplicate(*args: Any, **kwargs: Any) -> Any:
        raise sa.exc.IntegrityError("INSERT ...", {}, Exception("UNIQUE constraint failed"))

    monkeypatch.setattr(api, "query_features", duplicate)
    staff.application.config["PROPAGATE_EXCEPTIONS"] = False
    response = staff.post("/api/violations", json=VIOLATION)
    assert response.status_code == 500 and "Retry-After" not in response.headers
