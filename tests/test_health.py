"""/healthz and /readyz: open to load balancers, cheap, and honest about the database and its schema."""

from __future__ import annotations

import re
import socket
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from patrolmap import create_app
from patrolmap.config import PROJECT_ROOT
from patrolmap.extensions import db


def _head_revision() -> str:
    """The newest migration, read from the files: the one no other names as its down_revision."""
    revisions, parents = set(), set()
    for path in (PROJECT_ROOT / "migrations" / "versions").glob("*.py"):
        source = path.read_text(encoding="utf-8")
        revisions.add(re.search(r"^revision = '([^']+)'", source, re.M).group(1))
        parent = re.search(r"^down_revision = '([^']+)'", source, re.M)
        if parent:
            parents.add(parent.group(1))
    (head,) = revisions - parents
    return head


def test_probes_answer_without_sign_in(app: Flask, anon_client: FlaskClient, store: str) -> None:
    health = anon_client.get("/healthz")
    assert (health.status_code, health.get_json()) == (200, {"status": "ok"})
    ready = anon_client.get("/readyz")
    assert ready.status_code == 200
    assert ready.get_json() == {"status": "ready", "database": {"sqlite": "sqlite", "postgis": "postgresql"}[store],
                                "revision": [_head_revision()]}
    assert ready.headers["Cache-Control"] == "no-store"
    # A browser's stale cookie changes nothing: probes look nobody up.
    anon_client.set_cookie("patrolmap_session", "expired-or-forged")
    assert anon_client.get("/readyz").status_code == 200


def test_a_database_behind_the_code_is_not_ready(app: Flask, anon_client: FlaskClient) -> None:
    with db.engine.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = '0009'"))
    try:
        ready = anon_client.get("/readyz")
        assert ready.status_code == 503
        body = ready.get_json()
        assert body["reason"] == "schema_not_current" and "db upgrade" in body["message"]
        assert (body["database_revision"], body["expected_revision"]) == (["0009"], [_head_revision()])
        assert anon_client.get("/healthz").status_code == 200
    finally:
        with db.engine.begin() as conn:
            conn.execute(sa.text("UPDATE alembic_version SET version_num = :v"), {"v": _head_revision()})


def test_an_unreachable_database_is_not_ready(store: str, database_url: str, tmp_path: Path) -> None:
    if store == "sqlite":
        url = f"sqlite:///{tmp_path / 'no-such-folder' / 'patrolmap.sqlite3'}"
    else:
        with socket.socket() as s:  # a port nothing listens on
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        url = sa.make_url(database_url).set(port=port).render_as_string(hide_password=False)
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "AUTO_INIT_DB": False, "TESTING": True,
                      "SECRET_KEY": "test-secret"})
    client = app.test_client()
    assert client.get("/healthz").status_code == 200
    ready = client.get("/readyz")
    assert ready.status_code == 503 and int(ready.headers["Retry-After"]) > 0
    body = ready.get_json()
    assert (body["status"], body["reason"]) == ("unavailable", "database_unavailable")
    assert body["expected_revision"] == [_head_revision()]
    with app.app_context():
        db.engine.dispose()


@pytest.mark.store("sqlite")
def test_a_database_never_migrated_is_not_ready(store: str, tmp_path: Path) -> None:
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'empty.sqlite3'}", "AUTO_INIT_DB": False,
                      "TESTING": True, "SECRET_KEY": "test-secret"})
    ready = app.test_client().get("/readyz")
    assert ready.status_code == 503
    assert (ready.get_json()["reason"], ready.get_json()["database_revision"]) == ("schema_not_current", [])
    with app.app_context():
        db.engine.dispose()
