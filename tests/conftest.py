"""Fixtures: one fresh app and database per test, on every store under test.

Stores: SQLite always; PostGIS when PostgreSQL answers at PATROLMAP_TEST_POSTGRES_URL
(default the local server's `test` database). Under CI=true a missing PostGIS is
an error, never a silent skip. A test marked ``@pytest.mark.store("sqlite")`` is
only generated for that store, so nothing shows up as skipped.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner

from patrolmap import create_app
from patrolmap.extensions import db

DATA = Path(__file__).parent / "data"
POSTGRES_URL = os.environ.get(
    "PATROLMAP_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/patrolmap_test"
)
IN_CI = os.environ.get("CI", "").lower() == "true"


def _postgres_available() -> str | None:
    """Create the test database if needed; return why PostGIS cannot be used, or None."""
    url = sa.make_url(POSTGRES_URL)
    admin = url.set(database="postgres")
    try:
        engine = sa.create_engine(admin, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            exists = conn.execute(sa.text("SELECT 1 FROM pg_database WHERE datname = :d"),
                                  {"d": url.database}).first()
            if not exists:
                conn.exec_driver_sql(f'CREATE DATABASE "{url.database}"')
        engine.dispose()
        engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS postgis")
        engine.dispose()
    except Exception as exc:  # any failure means the store is not usable here
        return f"{type(exc).__name__}: {exc}".splitlines()[0]
    return None


def _stores() -> list[str]:
    wanted = os.environ.get("PATROLMAP_TEST_STORES", "sqlite,postgis").split(",")
    stores = [s for s in wanted if s == "sqlite"]
    if "postgis" in wanted:
        problem = _postgres_available()
        if problem is None:
            stores.append("postgis")
        elif IN_CI:
            pytest.exit(f"PostGIS is required under CI=true but unusable: {problem}", returncode=3)
        else:
            print(f"\n[patrolmap] PostGIS not available, testing SQLite only: {problem}")
    return stores


STORES: list[str] = []


def pytest_configure(config: pytest.Config) -> None:
    STORES.extend(_stores())


def pytest_report_header() -> str:
    return f"patrolmap stores under test: {', '.join(STORES)}"


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "store" in metafunc.fixturenames:
        marker = metafunc.definition.get_closest_marker("store")
        stores = [s for s in STORES if marker is None or s in marker.args]
        metafunc.parametrize("store", stores, indirect=True)


@pytest.fixture
def store(request: pytest.FixtureRequest) -> str:
    return request.param


def empty_database(store: str, tmp: Path, name: str = "live") -> str:
    """An empty database of its own (a live server's, a migration test's): a file under tmp, or
    `<test database>_<name>` on PostgreSQL, dropped and made anew."""
    if store == "sqlite":
        return f"sqlite:///{tmp / f'{name}.sqlite3'}"
    url = sa.make_url(POSTGRES_URL)
    live = url.set(database=f"{url.database}_{name}")
    admin = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{live.database}" WITH (FORCE)')
        conn.exec_driver_sql(f'CREATE DATABASE "{live.database}"')
    admin.dispose()
    return live.render_as_string(hide_password=False)


def _upgrade(url: str) -> None:
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "AUTO_INIT_DB": False, "TESTING": True})
    from flask_migrate import upgrade

    with app.app_context():
        upgrade()
        db.engine.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for each test (migrating each time would be slow)."""
    path = tmp_path_factory.mktemp("template") / "template.sqlite3"
    _upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgis_schema() -> str:
    """Migrate the PostGIS test database once from scratch; tests then truncate it."""
    engine = sa.create_engine(POSTGRES_URL)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP SCHEMA IF EXISTS public CASCADE")
        conn.exec_driver_sql("CREATE SCHEMA public")
        conn.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS postgis")
    engine.dispose()
    _upgrade(POSTGRES_URL)
    return POSTGRES_URL


def _truncate_all(url: str) -> None:
    engine = sa.create_engine(url)
    tables = [t.name for t in db.metadata.sorted_tables]
    with engine.begin() as conn:
        conn.exec_driver_sql(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")
    engine.dispose()


@pytest.fixture
def database_url(store: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if store == "sqlite":
        template = request.getfixturevalue("sqlite_template")
        path = tmp_path / "patrolmap.sqlite3"
        shutil.copyfile(template, path)
        return f"sqlite:///{path}"
    url = request.getfixturevalue("postgis_schema")
    _truncate_all(url)
    return url


@pytest.fixture
def app(database_url: str, tmp_path: Path) -> Iterator[Flask]:
    app = create_app({
        "SQLALCHEMY_DATABASE_URI": database_url,
        "AUTO_INIT_DB": False,
        "TESTING": True,
        "SECRET_KEY": "test-secret",
        "DEFAULT_LANGUAGE": "en",  # tests that want Chinese ask for it
        "EVIDENCE_DIR": str(tmp_path / "evidence"),  # photo files never land in the project's instance/
    })
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


_HASHES: dict[str, str] = {}


def signed_in_client(app: Flask, username: str, roles: str, **fields: Any) -> FlaskClient:
    """A test client with a live session (made directly: argon2 per test would be slow) and its CSRF header."""
    import secrets

    from patrolmap.auth.passwords import hash_password
    from patrolmap.auth.sessions import token_hash
    from patrolmap.models import LoginSession, User

    if "pw" not in _HASHES:
        _HASHES["pw"] = hash_password("correct horse battery staple")
    user = User(username=username, password_hash=_HASHES["pw"], roles=roles, **fields)
    db.session.add(user)
    db.session.flush()
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    db.session.add(LoginSession(token_hash=token_hash(token), csrf_token=csrf, user_id=user.id))
    db.session.commit()
    client = app.test_client()
    client.set_cookie("patrolmap_session", token)
    client.environ_base["HTTP_X_CSRF_TOKEN"] = csrf
    return client


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """Signed in as an admin: most tests are about what the app does, not who may ask."""
    return signed_in_client(app, "test-admin", "admin")


@pytest.fixture
def anon_client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    return app.test_cli_runner()


@pytest.fixture
def two_universities(app: Flask) -> dict[str, int]:
    """The mini campus of Test University and a copy of it belonging to another university: slug -> id."""
    from sqlalchemy import select

    from patrolmap.importing import CampusInfo, load_geodata
    from patrolmap.models import Campus

    load_geodata(db.session, DATA / "minicampus")
    load_geodata(db.session, DATA / "minicampus", campus=CampusInfo("other", "Other campus", None, "Other U"))
    db.session.commit()
    return {slug: cid for cid, slug in db.session.execute(select(Campus.id, Campus.slug))}


@pytest.fixture
def two_campuses(two_universities: dict[str, int]) -> dict[str, int]:
    """The same two campuses' violations: source id -> violation id (the copy's as other-<source id>)."""
    from sqlalchemy import select

    from patrolmap.models import Violation

    mini = two_universities["mini"]
    return {v.source_id if v.campus_id == mini else f"other-{v.source_id}": v.id
            for v in db.session.scalars(select(Violation))}


@pytest.fixture
def staff(app: Flask) -> FlaskClient:
    """Traffic staff of Test University."""
    return signed_in_client(app, "duty-li", "traffic_staff", university="Test University")
