"""The embedded default creates its schema and loads the sample on first run, once."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from patrolmap import create_app
from patrolmap.config import from_environment
from patrolmap.extensions import db
from patrolmap.models import Building, Campus

from .conftest import DATA


def make(path: Path):
    return create_app({
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}", "AUTO_INIT_DB": True, "SAMPLE_GEODATA": str(DATA),
    })


def counts(app) -> tuple[int, int]:
    with app.app_context():
        result = (db.session.scalar(select(func.count()).select_from(Campus)),
                  db.session.scalar(select(func.count()).select_from(Building)))
        db.session.remove()
        db.engine.dispose()
    return result


def test_first_run_creates_and_seeds_once(tmp_path: Path) -> None:
    path = tmp_path / "fresh.sqlite3"
    assert counts(make(path)) == (1, 4)
    # A second start finds data and leaves it as it is.
    assert counts(make(path)) == (1, 4)


def test_environment_chooses_the_store() -> None:
    embedded = from_environment({})
    assert embedded["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///")
    assert embedded["AUTO_INIT_DB"] is True
    pg = from_environment({"DATABASE_URL": "postgres://u@db/pm", "SECRET_KEY": "s"})
    assert pg["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u@db/pm"
    assert pg["AUTO_INIT_DB"] is False
    assert pg["SECRET_KEY"] == "s"
