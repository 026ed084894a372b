"""Backups taken while a writer records violations, restored into a fresh database; the commands' refusals."""

from __future__ import annotations

import sqlite3
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner

from patrolmap import create_app
from patrolmap.backup import backup_database
from patrolmap.extensions import db
from patrolmap.importing import load_geodata

from . import loadkit
from .conftest import DATA, POSTGRES_URL, signed_in_client


def _counts(url: str, tables: list[str]) -> dict[str, int]:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        present = set(sa.inspect(conn).get_table_names())
        counts = {t: conn.exec_driver_sql(f'SELECT count(*) FROM "{t}"').scalar_one() if t in present else 0
                  for t in tables}
    engine.dispose()
    return counts


def _violations(url: str) -> dict[int, str]:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        rows = dict(conn.exec_driver_sql("SELECT id, note FROM violations").all())
    engine.dispose()
    return rows


@pytest.fixture
def target_url(store: str, tmp_path: Path) -> str:
    """A fresh, empty database to restore into."""
    if store == "sqlite":
        return f"sqlite:///{tmp_path / 'restored.sqlite3'}"
    return loadkit.fresh_database("postgis", tmp_path, POSTGRES_URL, suffix="restore")


def _cli(url: str, *args: str) -> tuple[int, str]:
    """A command run against another database than the test's, in that database's own app."""
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "AUTO_INIT_DB": False, "TESTING": True, "SECRET_KEY": "t"})
    with app.app_context():
        result = app.test_cli_runner().invoke(args=list(args))
        db.session.remove()
        db.engine.dispose()
    return result.exit_code, result.output


class Writer:
    """Records violations through the API in a thread until stopped; counts what was answered 201."""

    def __init__(self, client: FlaskClient) -> None:
        self.client, self.done, self.errors = client, 0, []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.stop.is_set():
            try:
                answer = self.client.post("/api/violations", json={
                    "campus": "mini", "lon": 116.3510, "lat": 40.0009, "kind": "no_parking",
                    "note": f"{loadkit.MARK}{self.done}"})
                if answer.status_code != 201:
                    self.errors.append(f"{answer.status_code} {answer.get_data(as_text=True)[:200]}")
                    return
                self.done += 1
            except Exception as exc:  # reported by the test, never lost in the thread
                self.errors.append(repr(exc))
                return

    def wait_for(self, writes: int) -> None:
        deadline = time.monotonic() + 120
        while self.done < writes and not self.errors and time.monotonic() < deadline:
            time.sleep(0.01)
        assert self.errors == [] and self.done >= writes, self.errors

    def __enter__(self) -> Writer:
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=60)


@pytest.fixture
def campus(app: Flask) -> Iterator[FlaskClient]:
    load_geodata(db.session, DATA / "minicampus")
    db.session.commit()
    staff = signed_in_client(app, "duty-backup", "traffic_staff", university="Test University")
    yield staff
    db.session.remove()


@pytest.mark.slow
def test_backup_while_a_writer_records_restores_exactly_the_rows_it_holds(
        campus: FlaskClient, database_url: str, target_url: str, store: str, tmp_path: Path) -> None:
    backup_file = tmp_path / "patrolmap.backup"
    with Writer(campus) as writer:
        writer.wait_for(20)
        tables = sorted({*db.metadata.tables, "alembic_version"})
        before = _counts(database_url, tables)
        report = backup_database(database_url, backup_file)
        at_backup = writer.done
        writer.wait_for(at_backup + 20)
    assert writer.errors == []
    after = _counts(database_url, tables)
    assert after["violations"] > before["violations"]  # the writer went on across the backup
    assert set(report.counts) == set(tables)
    for table in tables:
        assert before[table] <= report.counts[table] <= after[table], table

    # The copy passes an integrity check of its own store's tools, run here apart from patrolmap.backup.
    if store == "sqlite":
        copy = sqlite3.connect(backup_file)
        assert copy.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert copy.execute("PRAGMA journal_mode").fetchone() == ("delete",)  # one self-contained file
        copy.close()
        assert _counts(f"sqlite:///{backup_file}", tables) == report.counts
    else:
        listing = subprocess.run(["pg_restore", "--list", str(backup_file)], capture_output=True, text=True,
                                 check=True).stdout
        assert " TABLE DATA public violations " in listing

    code, output = _cli(target_url, "restore", str(backup_file))
    assert code == 0, output
    assert "violations" in output and f"{report.counts['violations']:,}" in output
    assert _counts(target_url, tables) == report.counts
    # Row by row: everything stored before the backup is back, nothing later, each with its own note.
    restored, source = _violations(target_url), _violations(database_url)
    assert set(_violations_before(before, source)) <= set(restored) <= set(source)
    assert all(source[vid] == note for vid, note in restored.items())


def _violations_before(before: dict[str, int], source: dict[int, str]) -> list[int]:
    """The ids stored before the backup: ids only grow, so they are the smallest `before` many."""
    return sorted(source)[:before["violations"]]


@pytest.mark.slow
def test_restore_refuses_missing_damaged_foreign_files_and_a_database_holding_data(
        campus: FlaskClient, runner: FlaskCliRunner, database_url: str, target_url: str, store: str, tmp_path: Path) -> None:
    backup_file = tmp_path / "patrolmap.backup"
    result = runner.invoke(args=["backup", str(backup_file)])
    assert result.exit_code == 0, result.output
    assert "check:" in result.output and "violations" in result.output and "total" in result.output
    tables = sorted({*db.metadata.tables, "alembic_version"})
    expected = _counts(database_url, tables)

    damaged = tmp_path / "damaged.backup"
    damaged.write_bytes(backup_file.read_bytes()[: backup_file.stat().st_size // 2])
    foreign = tmp_path / "foreign.backup"
    foreign.write_bytes((b"PGDMP" if store == "sqlite" else b"SQLite format 3\x00") + bytes(4096))
    empty = dict.fromkeys(tables, 0)
    for bad, says in ((tmp_path / "missing.backup", "does not exist"), (damaged, "nothing was restored"),
                      (foreign, "nothing was restored")):
        code, output = _cli(target_url, "restore", str(bad))
        assert code != 0 and says in output, output
        assert _counts(target_url, tables) == empty, bad.name  # untouched

    code, output = _cli(target_url, "restore", str(backup_file))
    assert code == 0, output
    assert _counts(target_url, tables) == expected

    # A database holding data is replaced only with --force.
    engine = sa.create_engine(target_url, poolclass=sa.pool.NullPool)
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE campuses SET name = 'changed after the restore'")
    engine.dispose()
    code, output = _cli(target_url, "restore", str(backup_file))
    assert code != 0 and "holds data" in output and "--force" in output, output
    assert _campus_names(target_url) == ["changed after the restore"]
    code, output = _cli(target_url, "restore", "--force", str(backup_file))
    assert code == 0, output
    assert _campus_names(target_url) == _campus_names(database_url)
    assert _counts(target_url, tables) == expected


def _campus_names(url: str) -> list[str]:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        names = list(conn.exec_driver_sql("SELECT name FROM campuses ORDER BY id").scalars())
    engine.dispose()
    return names
