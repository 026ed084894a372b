"""Backups and restores of the store, taken while writers run, checked before they are kept.

SQLite: the online backup API copies every page in one step, inside one read transaction, so under WAL
the copy is a single moment of the database and writers carry on meanwhile. PostgreSQL: pg_dump in its
custom format reads one snapshot; that snapshot is exported from the transaction that counts the rows,
so the counts printed are exactly those inside the archive. A backup is written beside its target and
renamed into place only after it passed its check, so a failed run never leaves a half-written FILE.
A restore overwrites a database that holds data only when asked to (--force), and runs as one
transaction (SQLite's backup API into the target; pg_restore --single-transaction), so it either
completes or changes nothing.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa

from patrolmap.models import Base

SQLITE_MAGIC = b"SQLite format 3\x00"
PG_CUSTOM_MAGIC = b"PGDMP"
# The schema version table migrations keep: a file without it is no patrolmap backup.
VERSION_TABLE = "alembic_version"


class BackupError(Exception):
    """A backup or restore that cannot be done; the message says why and what to do."""


@dataclass
class BackupReport:
    """What a backup or restore did: the rows per table it holds, and how long it took."""

    action: str  # "backup" or "restore"
    store: str  # "sqlite" or "postgresql"
    path: Path
    counts: dict[str, int]
    size: int
    seconds: float
    check: str
    notes: list[str] = field(default_factory=list)

    @property
    def total_rows(self) -> int:
        return sum(self.counts.values())

    def lines(self) -> list[str]:
        done = (f"wrote {self.store} backup {self.path}" if self.action == "backup"
                else f"restored {self.path} into the {self.store} database")
        lines = [f"{done} ({self.size / 1e6:,.1f} MB in {self.seconds:.2f} s); check: {self.check}"]
        width = max((len(t) for t in self.counts), default=5)
        lines += [f"  {table:<{width}} {rows:>10,}" for table, rows in self.counts.items()]
        lines.append(f"  {'total':<{width}} {self.total_rows:>10,} rows in {len(self.counts)} tables")
        return lines + self.notes


def store_of(url: str) -> str:
    backend = sa.make_url(url).get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise BackupError(f"backups cover SQLite and PostgreSQL, not {backend}")
    return backend


def archive_store(path: Path) -> str:
    """Which store a backup file is from, by its first bytes (never by its name)."""
    try:
        with path.open("rb") as fh:
            head = fh.read(len(SQLITE_MAGIC))
    except OSError as exc:
        raise BackupError(f"cannot read {path}: {exc.strerror}") from None
    if head.startswith(SQLITE_MAGIC):
        return "sqlite"
    if head.startswith(PG_CUSTOM_MAGIC):
        return "postgresql"
    raise BackupError(f"{path} is neither a SQLite database nor a pg_dump custom-format archive")


def app_tables() -> list[str]:
    """The tables a backup's counts cover: the models' tables and the schema version."""
    return sorted([*Base.metadata.tables, VERSION_TABLE])


def count_rows(conn: sa.Connection) -> dict[str, int]:
    """Rows per table of the app, for the tables this database has."""
    present = set(sa.inspect(conn).get_table_names())
    return {table: int(conn.exec_driver_sql(f'SELECT count(*) FROM "{table}"').scalar_one())
            for table in app_tables() if table in present}


def backup_database(url: str, target: Path) -> BackupReport:
    """Back the store at `url` up into `target` (replaced only once the new copy passed its check)."""
    target = Path(target)
    if target.is_dir():
        raise BackupError(f"{target} is a directory; give a file name")
    if not target.parent.is_dir():
        raise BackupError(f"the folder {target.parent} does not exist")
    started = time.perf_counter()
    store = store_of(url)
    with _partial_file(target) as partial:
        if store == "sqlite":
            counts, check = _sqlite_backup(_sqlite_path(url), partial)
        else:
            counts, check = _pg_backup(url, partial)
        _fsync(partial)
        os.replace(partial, target)
    _fsync_dir(target.parent)
    return BackupReport("backup", store, target, counts, target.stat().st_size, time.perf_counter() - started, check)


def restore_database(url: str, source: Path, *, force: bool = False) -> BackupReport:
    """Replace the store at `url` with a backup; refuses a database holding data unless `force`."""
    source = Path(source)
    if not source.is_file():
        raise BackupError(f"no backup file at {source}")
    store = store_of(url)
    kind = archive_store(source)
    if kind != store:
        raise BackupError(f"{source} is a {kind} backup, but the database is {store}")
    started = time.perf_counter()
    if store == "sqlite":
        counts, check = _sqlite_restore(_sqlite_path(url), source, force=force)
    else:
        counts, check = _pg_restore(url, source, force=force)
    report = BackupReport("restore", store, source, counts, source.stat().st_size, time.perf_counter() - started,
                          check)
    report.notes.extend(_schema_notes(url))
    return report


# ---------------------------------------------------------------- SQLite


def _sqlite_path(url: str) -> Path:
    database = sa.make_url(url).database
    if database in (None, "", ":memory:") or str(database).startswith("file:"):
        raise BackupError("an in-memory SQLite database cannot be backed up or restored")
    return Path(str(database))


def _sqlite_connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA busy_timeout = 30000")
    return conn


def _sqlite_check(path: Path) -> tuple[dict[str, int], str]:
    """PRAGMA integrity_check and the row counts of a SQLite file, or a BackupError saying what is wrong."""
    engine = sa.create_engine(f"sqlite:///{path}", poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            problems = [row[0] for row in conn.exec_driver_sql("PRAGMA integrity_check").fetchall()]
            if problems != ["ok"]:
                raise BackupError(f"{path} failed PRAGMA integrity_check: {'; '.join(problems[:5])}")
            if not sa.inspect(conn).has_table(VERSION_TABLE):
                raise BackupError(f"{path} is a SQLite database but holds no patrolmap schema ({VERSION_TABLE})")
            return count_rows(conn), "integrity_check ok"
    except sa.exc.DatabaseError as exc:
        raise BackupError(f"{path} is damaged or not a database: {exc.orig}") from None
    finally:
        engine.dispose()


def _sqlite_backup(source: Path, partial: Path) -> tuple[dict[str, int], str]:
    if not source.is_file():
        raise BackupError(f"the database {source} does not exist")
    src = _sqlite_connect(source)
    dst = sqlite3.connect(partial, isolation_level=None)
    try:
        # pages=-1: the whole database in one step, one read transaction (a stepwise copy would
        # restart whenever a writer commits, and might never finish under load).
        src.backup(dst, pages=-1)
        # A backup is one self-contained file: no -wal/-shm beside it.
        dst.execute("PRAGMA journal_mode = DELETE")
    except sqlite3.Error as exc:
        raise BackupError(f"the SQLite backup failed: {exc}") from None
    finally:
        dst.close()
        src.close()
    return _sqlite_check(partial)


def _sqlite_restore(target: Path, source: Path, *, force: bool) -> tuple[dict[str, int], str]:
    expected, _ = _sqlite_check(source)
    if target.exists() and target.stat().st_size > 0 and not force:
        _refuse_if_holding_data(f"sqlite:///{target}", target)
    target.parent.mkdir(parents=True, exist_ok=True)
    src = _sqlite_connect(source)
    dst = _sqlite_connect(target)
    try:
        # The backup API writes the target in one transaction under its write lock: the
        # restore completes or leaves the target as it was, and WAL files stay consistent
        # (replacing the file by rename under a live -wal file would corrupt it).
        src.backup(dst, pages=-1)
    except sqlite3.Error as exc:
        raise BackupError(f"the SQLite restore failed, the database is unchanged: {exc}") from None
    finally:
        dst.close()
        src.close()
    counts, check = _sqlite_check(target)
    if counts != expected:
        raise BackupError(f"the restored database's counts {counts} differ from the backup's {expected}")
    return counts, check


# ---------------------------------------------------------------- PostgreSQL


def _libpq(url: str) -> tuple[str, dict[str, str]]:
    """The URL as pg_dump takes it, and an environment carrying the password (never on the command line)."""
    parsed = sa.make_url(url)
    env = dict(os.environ)
    if parsed.password is not None:
        env["PGPASSWORD"] = str(parsed.password)
    plain = parsed.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def _run(command: list[str], env: dict[str, str], what: str) -> str:
    try:
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise BackupError(f"{command[0]} is not installed (Debian: apt-get install postgresql-client-15)") from None
    if done.returncode != 0:
        detail = (done.stderr or done.stdout).strip().splitlines()
        raise BackupError(f"{what} failed: {' / '.join(detail[-5:]) or f'exit {done.returncode}'}")
    return done.stdout


def _pg_backup(url: str, partial: Path) -> tuple[dict[str, int], str]:
    libpq_url, env = _libpq(url)
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn, conn.begin():
            # The first statement fixes the snapshot; pg_dump reads the same one, so the
            # counts below are the archive's to the row.
            snapshot = conn.exec_driver_sql("SELECT pg_export_snapshot()").scalar_one()
            counts = count_rows(conn)
            _run(["pg_dump", "--format=custom", f"--snapshot={snapshot}", f"--file={partial}",
                  f"--dbname={libpq_url}"], env, "pg_dump")
    except sa.exc.OperationalError as exc:
        raise BackupError(f"cannot reach the database: {str(exc.orig).strip()}") from None
    finally:
        engine.dispose()
    return counts, _pg_check(partial, counts)


def _pg_check(archive: Path, counts: dict[str, int]) -> str:
    """Read the whole archive back (a truncated one fails); every counted table must have its data in it."""
    listing = _run(["pg_restore", "--list", str(archive)], dict(os.environ), f"reading {archive}")
    _run(["pg_restore", f"--file={os.devnull}", str(archive)], dict(os.environ), f"reading all of {archive}")
    with_data = {line.split()[-2] for line in listing.splitlines() if " TABLE DATA public " in line}
    missing = sorted(set(counts) - with_data)
    if missing:
        raise BackupError(f"the archive {archive} lacks the data of {', '.join(missing)}")
    entries = sum(1 for line in listing.splitlines() if line and not line.startswith(";"))
    return f"pg_restore read it whole ({entries} entries, data of {len(with_data)} tables)"


def _pg_restore(url: str, source: Path, *, force: bool) -> tuple[dict[str, int], str]:
    _pg_check(source, {})
    if not force:
        _refuse_if_holding_data(url, sa.make_url(url).database)
    libpq_url, env = _libpq(url)
    _run(["pg_restore", "--clean", "--if-exists", "--no-owner", "--single-transaction", "--exit-on-error",
          f"--dbname={libpq_url}", str(source)], env, "pg_restore (the database is unchanged)")
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            return count_rows(conn), "pg_restore ok, in one transaction"
    finally:
        engine.dispose()


# ---------------------------------------------------------------- both


def _refuse_if_holding_data(url: str, name: object) -> None:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            counts = count_rows(conn)
    except sa.exc.DatabaseError as exc:
        raise BackupError(f"cannot read the database {name} to check that it is empty: {exc.orig}") from None
    finally:
        engine.dispose()
    held = {table: rows for table, rows in counts.items() if rows and table != VERSION_TABLE}
    if held:
        shown = ", ".join(f"{table} {rows:,}" for table, rows in sorted(held.items())[:5])
        raise BackupError(f"the database {name} holds data ({shown}); restore into an empty database, "
                          "or add --force to replace everything in it")


def _schema_notes(url: str) -> list[str]:
    """Tell whether the restored schema is older than this code (then `flask db upgrade` brings it up)."""
    from alembic.script import ScriptDirectory

    from patrolmap.config import PROJECT_ROOT

    heads = set(ScriptDirectory(str(PROJECT_ROOT / "migrations")).get_heads())
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            revisions = {row[0] for row in conn.exec_driver_sql(f"SELECT version_num FROM {VERSION_TABLE}")}
    finally:
        engine.dispose()
    if revisions == heads:
        return [f"  schema revision {', '.join(sorted(revisions))} (current)"]
    return [f"  schema revision {', '.join(sorted(revisions)) or 'none'}; this release expects "
            f"{', '.join(sorted(heads))}: run `flask --app patrolmap db upgrade`"]


@contextlib.contextmanager
def _partial_file(target: Path) -> Iterator[Path]:
    """A fresh file name beside `target`, removed again unless it was renamed into place."""
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent)
    os.close(fd)
    partial = Path(name)
    partial.unlink()  # sqlite3 and pg_dump create it themselves
    try:
        yield partial
    finally:
        for leftover in [partial, *(partial.with_name(partial.name + end) for end in ("-journal", "-wal", "-shm"))]:
            leftover.unlink(missing_ok=True)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):  # some file systems cannot sync a directory; the file itself is synced
        _fsync(path)
