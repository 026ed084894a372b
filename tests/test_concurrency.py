"""Many writers on the embedded SQLite store: nothing lost, never "database is locked"."""

from __future__ import annotations

import multiprocessing
import traceback

import pytest
import shapely
from flask import Flask
from sqlalchemy import func, select

from patrolmap.extensions import db
from patrolmap.models import Violation

from .conftest import DATA

WRITERS = 8
WRITES_EACH = 25


def _writer(url: str, worker: int, queue: multiprocessing.Queue) -> None:
    """Read then write in each transaction: the pattern that deadlocks without BEGIN IMMEDIATE."""
    try:
        from patrolmap import create_app
        from patrolmap.database import write_transaction
        from patrolmap.geo.validate import RawFeature, validate_layer
        from patrolmap.store import get_campus, store_layers

        app = create_app({"SQLALCHEMY_DATABASE_URI": url, "AUTO_INIT_DB": False, "SECRET_KEY": "t"})
        with app.app_context():
            for i in range(WRITES_EACH):
                raw = RawFeature(0, f"w{worker}-{i}", shapely.Point(116.3505 + worker * 1e-4, 40.0007),
                                 {"observed_at": "2026-03-02T08:00:00+08:00", "kind": "other"})
                checked = validate_layer("violations", [raw])
                with write_transaction(db.session):
                    campus = get_campus(db.session, "mini")
                    db.session.scalar(select(func.count()).select_from(Violation))
                    store_layers(db.session, campus, {"violations": checked}, actor=f"w{worker}", source="test")
        queue.put((worker, None))
    except Exception:  # report every failure to the parent, whatever it is
        queue.put((worker, traceback.format_exc()))


@pytest.mark.store("sqlite")
@pytest.mark.slow
def test_eight_processes_write_without_loss(app: Flask, database_url: str) -> None:
    from patrolmap.importing import load_geodata

    load_geodata(db.session, DATA / "minicampus")
    db.session.remove()
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_writer, args=(database_url, w, queue)) for w in range(WRITERS)]
    for p in procs:
        p.start()
    results = [queue.get(timeout=300) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    errors = [err for _, err in results if err]
    assert errors == [], errors[0] if errors else ""
    ids = set(db.session.scalars(select(Violation.source_id).where(Violation.source_id.like("w%"))))
    assert ids == {f"w{w}-{i}" for w in range(WRITERS) for i in range(WRITES_EACH)}
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
        rtree = conn.exec_driver_sql("SELECT count(*) FROM rtree_violations").scalar()
    assert rtree == 4 + WRITERS * WRITES_EACH
