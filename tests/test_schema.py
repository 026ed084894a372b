"""The migrations build exactly the models, and bbox queries use the spatial index on each store."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask import Flask

from patrolmap.database import include_in_migrations
from patrolmap.extensions import db
from patrolmap.layers import get_layer
from patrolmap.store import _base_query, _bbox_filter, ensure_campus, feature_columns

from .conftest import empty_database

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
from synthetic import fill_violations

BLOCK = (116.3510, 40.0025, 116.3528, 40.0039)


@pytest.mark.filterwarnings("ignore:Did not recognize type .geometry.")
def test_migrations_match_the_models(app: Flask) -> None:
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"include_object": include_in_migrations})
        assert compare_metadata(context, db.metadata) == []


def test_bbox_query_plan_uses_the_spatial_index(app: Flask, store: str) -> None:
    campus_id = ensure_campus(db.session, "bench").id
    db.session.commit()
    fill_violations(db.engine, campus_id, 20_000)
    layer = get_layer("violations")
    stmt = _bbox_filter(_base_query(layer, feature_columns(layer), campus_id=None, include_deleted=False),
                        layer, BLOCK, (store == "postgis" and "postgresql") or "sqlite").limit(1000)
    sql = str(stmt.compile(db.engine, compile_kwargs={"literal_binds": True}))
    with db.engine.connect() as conn:
        if store == "sqlite":
            plan = " | ".join(str(r[-1]) for r in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql))
            assert "SCAN rtree_violations VIRTUAL TABLE INDEX" in plan, plan
            assert "SEARCH violations USING INTEGER PRIMARY KEY" in plan, plan
            assert "SCAN violations" not in plan, plan
        else:
            plan = " | ".join(r[0] for r in conn.exec_driver_sql("EXPLAIN " + sql))
            assert "ix_violations_geom" in plan, plan
            assert "Seq Scan" not in plan, plan


def test_every_feature_table_keeps_its_spatial_index_after_the_migrations(app: Flask, store: str) -> None:
    """A later migration that rebuilds a table (SQLite batch mode) must not leave its R*Tree stale."""
    from patrolmap.models import FEATURE_MODELS

    with db.engine.connect() as conn:
        if store == "sqlite":
            triggers = {r[0] for r in conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE type = 'trigger'")}
            tables = {r[0] for r in conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE type = 'table'")}
        else:
            indexes = {r[0] for r in conn.exec_driver_sql("SELECT indexname FROM pg_indexes")}
    for model in FEATURE_MODELS:
        table = model.__tablename__  # type: ignore[attr-defined]
        if store == "sqlite":
            assert f"rtree_{table}" in tables, table
            assert {f"{table}_rtree_{op}" for op in ("insert", "update", "delete")} <= triggers, table
        else:
            assert f"ix_{table}_geom" in indexes, table


def test_reminders_migration_keeps_what_was_sent(store: str, tmp_path: Path) -> None:
    """0011 keys reminders by notice: rows sent before it are about the hazard's notice of the time
    (so none is sent again), and a downgrade keeps one row per old key."""
    import shapely
    import sqlalchemy as sa
    from flask_migrate import downgrade, upgrade

    from patrolmap import create_app
    from patrolmap.models import Hazard

    app = create_app({"SQLALCHEMY_DATABASE_URI": empty_database(store, tmp_path, "mig0011"),
                      "AUTO_INIT_DB": False, "TESTING": True})
    with app.app_context():
        upgrade(revision="0010")
        campus = ensure_campus(db.session, "mig")
        hazards = [Hazard(campus_id=campus.id, category="fire", description="d", reported_by="x",
                          geom=shapely.Point(116.35, 40.0), notice_number=number) for number in ("2026-mig-0001", None)]
        db.session.add_all(hazards)
        db.session.commit()
        noticed, fresh = (h.id for h in hazards)
        rows = [(noticed, "notice", "app:1"), (noticed, "before", "ops"), (noticed, "assigned", "app:1"),
                (fresh, "assigned", "app:1")]
        insert = sa.text("INSERT INTO reminders (hazard_id, campus_id, kind, channel, message, sent_at, ok) "
                         "VALUES (:h, :c, :k, :ch, 'm', CURRENT_TIMESTAMP, :ok)")
        with db.engine.begin() as conn:
            for hazard_id, kind, channel in rows:
                conn.execute(insert, {"h": hazard_id, "c": campus.id, "k": kind, "ch": channel, "ok": True})
        db.session.remove()
        upgrade()
        select = sa.text("SELECT hazard_id, kind, channel, notice FROM reminders ORDER BY id")
        with db.engine.connect() as conn:
            assert [tuple(r) for r in conn.execute(select)] == [
                (noticed, "notice", "app:1", "2026-mig-0001"), (noticed, "before", "ops", "2026-mig-0001"),
                (noticed, "assigned", "app:1", ""), (fresh, "assigned", "app:1", "")]
        with_notice = sa.text("INSERT INTO reminders (hazard_id, campus_id, kind, channel, notice, message, sent_at, "
                              "ok) VALUES (:h, :c, 'before', 'ops', :n, 'm', CURRENT_TIMESTAMP, :ok)")
        with db.engine.begin() as conn:  # the next notice's reminder is a row of its own
            conn.execute(with_notice, {"h": noticed, "c": campus.id, "n": "2026-mig-0002", "ok": True})
        with pytest.raises(sa.exc.IntegrityError), db.engine.begin() as conn:  # the same one twice is not
            conn.execute(with_notice, {"h": noticed, "c": campus.id, "n": "2026-mig-0002", "ok": True})
        downgrade(revision="0010")
        old = sa.text("SELECT hazard_id, kind, channel FROM reminders ORDER BY id")
        with db.engine.connect() as conn:
            kept = [tuple(r) for r in conn.execute(old)]
        assert sorted(kept) == sorted(rows) and len(kept) == len(set(kept))
        upgrade()
        db.engine.dispose()


@pytest.mark.store("postgis")
def test_photo_bytes_are_not_compressed_again(app: Flask) -> None:
    """JPEG and PNG are compressed: PostgreSQL keeps the evidence store's columns out of line, as they are."""
    import sqlalchemy as sa

    storage = dict(db.session.execute(sa.text(
        "SELECT attname, attstorage FROM pg_attribute WHERE attrelid = 'evidence_files'::regclass AND attnum > 0"
    )).tuples().all())
    assert (storage["original"], storage["display"]) == ("e", "e")  # EXTERNAL: no TOAST compression
