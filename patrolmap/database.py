"""Engine behaviour per store: SQLite pragmas and write locks, spatial index DDL.

SQLite serves many writers safely only if every write transaction takes the
write lock up front (``BEGIN IMMEDIATE``): a deferred transaction that reads
first and writes later fails with "database is locked" instead of waiting.
Reads stay deferred, so WAL lets them run beside a writer.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session, scoped_session

WRITE_OPTION = "patrolmap_write"
# Set on a session (session.info) while a whole request runs as one transaction (patrolmap.idempotency):
# its writes then become savepoints, and the request commits them together with its stored answer.
REQUEST_TRANSACTION = "patrolmap_request_transaction"


def configure_engine(engine: Engine, *, busy_timeout_ms: int = 30000) -> None:
    """Install the SQLite pragmas and transaction handling; a no-op on PostgreSQL."""
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy emit BEGIN itself so that it can choose IMMEDIATE.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = FULL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        immediate = conn.get_execution_options().get(WRITE_OPTION, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


@contextlib.contextmanager
def write_transaction(session: Session | scoped_session) -> Iterator[Session]:
    """Run a block as one write transaction that holds the write lock from its start.

    Commits on success, rolls back on any error, so a failed write leaves nothing.
    """
    if isinstance(session, scoped_session):
        session = session()
    if in_request_transaction(session):
        # The request's transaction holds the lock already and commits at its end; a failed block
        # still leaves nothing, rolled back to its savepoint.
        with session.begin_nested():
            yield session
        return
    if session.in_transaction():
        # Whatever was read so far belongs to a deferred transaction; end it so the
        # write starts a fresh one that takes the lock first.
        session.rollback()
    session.connection(execution_options={WRITE_OPTION: True})
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise


def in_request_transaction(session: Session | scoped_session) -> bool:
    """Whether this session's writes belong to a request-wide transaction (see REQUEST_TRANSACTION)."""
    if isinstance(session, scoped_session):
        session = session()
    return bool(session.info.get(REQUEST_TRANSACTION))


def sqlite_rtree_ddl(table: str, bbox: tuple[str, str, str, str]) -> list[str]:
    """R*Tree table plus the triggers that keep it equal to the feature table."""
    minx, maxx, miny, maxy = bbox
    rtree = f"rtree_{table}"
    values = f"NEW.id, NEW.{minx}, NEW.{maxx}, NEW.{miny}, NEW.{maxy}"
    return [
        f"CREATE VIRTUAL TABLE IF NOT EXISTS {rtree} USING rtree(id, minx, maxx, miny, maxy)",
        f"INSERT INTO {rtree} SELECT id, {minx}, {maxx}, {miny}, {maxy} FROM {table}",
        f"CREATE TRIGGER {table}_rtree_insert AFTER INSERT ON {table} BEGIN "
        f"INSERT INTO {rtree} VALUES ({values}); END",
        f"CREATE TRIGGER {table}_rtree_update AFTER UPDATE OF {minx}, {maxx}, {miny}, {maxy} ON {table} BEGIN "
        f"UPDATE {rtree} SET minx = NEW.{minx}, maxx = NEW.{maxx}, miny = NEW.{miny}, maxy = NEW.{maxy} "
        f"WHERE id = NEW.id; END",
        f"CREATE TRIGGER {table}_rtree_delete AFTER DELETE ON {table} BEGIN "
        f"DELETE FROM {rtree} WHERE id = OLD.id; END",
    ]


def sqlite_rtree_drop_ddl(table: str) -> list[str]:
    return [
        f"DROP TRIGGER IF EXISTS {table}_rtree_insert",
        f"DROP TRIGGER IF EXISTS {table}_rtree_update",
        f"DROP TRIGGER IF EXISTS {table}_rtree_delete",
        f"DROP TABLE IF EXISTS rtree_{table}",
    ]


def postgis_index_ddl(table: str) -> list[str]:
    return [f"CREATE INDEX IF NOT EXISTS ix_{table}_geom ON {table} USING gist (geom)"]


def include_in_migrations(obj: Any, name: str | None, type_: str, reflected: bool, _compare_to: Any) -> bool:
    """Leave spatial machinery out of autogenerate: R*Tree tables, PostGIS's own table, GiST indexes."""
    if type_ == "table" and name and (name.startswith("rtree_") or name == "spatial_ref_sys"):
        return False
    return not (type_ == "index" and name and name.endswith("_geom"))


def audit_guard_ddl(dialect: str) -> list[str]:
    """Refuse DELETE on the audit log in the database itself, whatever client connects.

    Updates stay possible for one documented reason: the retention purge must
    anonymise plates inside old entries (PIPL); it leaves an entry of its own.
    """
    message = "the audit log is append-only"
    if dialect == "postgresql":
        return [
            "CREATE OR REPLACE FUNCTION audit_log_no_delete() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN RAISE EXCEPTION '{message}'; END $$",
            "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log "
            "FOR EACH ROW EXECUTE FUNCTION audit_log_no_delete()",
        ]
    return [f"CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log BEGIN "
            f"SELECT RAISE(ABORT, '{message}'); END"]


def audit_guard_drop_ddl(dialect: str) -> list[str]:
    if dialect == "postgresql":
        return ["DROP TRIGGER IF EXISTS audit_log_no_delete ON audit_log",
                "DROP FUNCTION IF EXISTS audit_log_no_delete()"]
    return ["DROP TRIGGER IF EXISTS audit_log_no_delete"]


def append_only_ddl(table: str, dialect: str) -> list[str]:
    """Refuse UPDATE and DELETE on a table of records (patrol check-ins) in the database itself."""
    message = f"{table} is append-only"
    name = f"{table}_append_only"
    if dialect == "postgresql":
        return [
            f"CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN RAISE EXCEPTION '{message}'; END $$",
            f"CREATE TRIGGER {name} BEFORE UPDATE OR DELETE ON {table} FOR EACH ROW EXECUTE FUNCTION {name}()",
        ]
    return [f"CREATE TRIGGER {name}_{op.lower()} BEFORE {op} ON {table} BEGIN SELECT RAISE(ABORT, '{message}'); END"
            for op in ("UPDATE", "DELETE")]


def append_only_drop_ddl(table: str, dialect: str) -> list[str]:
    name = f"{table}_append_only"
    if dialect == "postgresql":
        return [f"DROP TRIGGER IF EXISTS {name} ON {table}", f"DROP FUNCTION IF EXISTS {name}()"]
    return [f"DROP TRIGGER IF EXISTS {name}_{op}" for op in ("update", "delete")]
