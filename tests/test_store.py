"""The store on every backend: what goes in comes out, bbox queries use the index and agree with shapely."""

from __future__ import annotations

import datetime as dt

import numpy as np
import shapely
from flask import Flask
from sqlalchemy import func, select, text

from patrolmap.extensions import db
from patrolmap.importing import import_violations, load_geodata
from patrolmap.models import AuditEntry, Building, Officer, Violation
from patrolmap.store import count_features, get_campus, layer_frame, query_features, violation_table

from .conftest import DATA

MINI = DATA / "minicampus"


def load_mini(app: Flask):
    summary = load_geodata(db.session, MINI)
    return summary


def test_folder_import_counts_and_fields(app: Flask) -> None:
    summary = load_mini(app)
    assert {k: v.inserted for k, v in summary.layers.items()} == {
        "buildings": 4, "grid-zones": 2, "paths": 3, "checkpoints": 2, "parking-lots": 2, "chargers": 2,
        "duty-posts": 1, "violations": 4,
    }
    campus = get_campus(db.session, "mini")
    assert campus.name == "Mini campus 小校区"
    assert campus.timezone == "Asia/Shanghai"
    dorm = db.session.scalars(select(Building).where(Building.source_id == "b1")).one()
    assert (dorm.name, dorm.kind, dorm.residents, dorm.floors) == ("学生公寓1号楼", "dorm", 800, 6)
    assert (dorm.minx, dorm.miny, dorm.maxx, dorm.maxy) == (116.35, 40.0, 116.3505, 40.0004)
    assert dorm.geom.equals(shapely.box(116.35, 40.0, 116.3505, 40.0004))
    officers = {o.name: o.phone for o in db.session.scalars(select(Officer))}
    assert officers == {"张伟": "13800000001", "李娜": None}


def test_violation_local_fields_follow_campus_time_zone(app: Flask) -> None:
    load_mini(app)
    rows = {v.source_id: v for v in db.session.scalars(select(Violation))}
    # Worked by hand: 2026-03-01 is a Sunday; Asia/Shanghai is UTC+8 with no DST.
    expected = {
        "v1": (dt.datetime(2026, 3, 1, 23, 45, tzinfo=dt.UTC), dt.date(2026, 3, 2), 7, 45, 0),
        "v2": (dt.datetime(2026, 3, 2, 4, 10, tzinfo=dt.UTC), dt.date(2026, 3, 2), 12, 10, 0),
        "v3": (dt.datetime(2026, 3, 3, 4, 30, tzinfo=dt.UTC), dt.date(2026, 3, 3), 12, 30, 1),
        "v4": (dt.datetime(2026, 3, 7, 10, 5, tzinfo=dt.UTC), dt.date(2026, 3, 7), 18, 5, 5),
    }
    for sid, (utc, day, hour, minute, weekday) in expected.items():
        v = rows[sid]
        assert v.observed_at == utc
        assert (v.local_date, v.local_hour, v.local_minute, v.local_weekday) == (day, hour, minute, weekday)
    assert (rows["v1"].lon, rows["v1"].lat) == (116.3506, 40.00061)
    assert rows["v4"].note == "西门, 出口"


def test_near_fire_lane_flag_does_not_change_the_recorded_kind(app: Flask) -> None:
    load_mini(app)
    flags = {v.source_id: (v.kind, v.near_fire_lane) for v in db.session.scalars(select(Violation))}
    # v1 is 1.1 m from the fire lane p1; v2 33 m and v4 67 m away; v3 far away.
    assert flags == {
        "v1": ("fire_lane", True), "v2": ("no_parking", False), "v3": ("zombie", False), "v4": ("entrance", False),
    }


def test_reimport_is_idempotent(app: Flask) -> None:
    load_mini(app)
    again = load_mini(app)
    assert all(c.inserted == 0 and c.updated == 0 for c in again.layers.values())
    assert db.session.scalar(select(func.count()).select_from(Violation)) == 4
    assert db.session.scalar(select(func.count()).select_from(Building)) == 4


def test_changed_violation_on_reimport_is_updated_and_audited(app: Flask, tmp_path) -> None:
    load_mini(app)
    changed = (MINI / "violations.csv").read_text(encoding="utf-8").replace("堵住消防通道", "已挪车")
    file = tmp_path / "violations.csv"
    file.write_text(changed, encoding="utf-8")
    summary = import_violations(db.session, file, campus_slug="mini")
    assert (summary.layers["violations"].updated, summary.layers["violations"].unchanged) == (1, 3)
    v1 = db.session.scalars(select(Violation).where(Violation.source_id == "v1")).one()
    assert v1.note == "已挪车"
    assert v1.version == 2
    entry = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "update")).one()
    assert (entry.feature_id, entry.before, entry.after) == (v1.id, {"note": "堵住消防通道"}, {"note": "已挪车"})


def test_bbox_query_matches_shapely(app: Flask) -> None:
    load_mini(app)
    bbox = (116.3500, 39.9999, 116.3512, 40.0007)
    frame = layer_frame(db.session, "buildings")
    expected = {sid for sid, g in zip(frame["source_id"], frame.geometry, strict=True)
                if shapely.box(*g.bounds).intersects(shapely.box(*bbox))}
    got = {r["source_id"] for r in query_features(db.session, "buildings", bbox=bbox)}
    assert got == expected == {"b1", "b2"}
    assert count_features(db.session, "buildings", bbox=bbox) == 2
    paths = {r["source_id"] for r in query_features(db.session, "paths", bbox=(116.3506, 40.0010, 116.3510, 40.0012))}
    assert paths == {"p2"}


def insert_random_violations(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Insert n violations at random places around the mini campus; return their lon, lat."""
    campus = get_campus(db.session, "mini")
    lon = rng.uniform(116.349, 116.355, n)
    lat = rng.uniform(39.999, 40.002, n)
    now = dt.datetime.now(dt.UTC)
    rows = [
        {"campus_id": campus.id, "source_id": f"r{i}", "observed_at": dt.datetime(2026, 3, 2, tzinfo=dt.UTC),
         "kind": "other", "status": "open", "lon": float(x), "lat": float(y), "geom": shapely.Point(x, y),
         "local_date": dt.date(2026, 3, 2), "local_hour": 8, "local_minute": 0, "local_weekday": 0,
         "near_fire_lane": False, "version": 1, "created_at": now, "updated_at": now}
        for i, (x, y) in enumerate(zip(lon, lat, strict=True))
    ]
    db.session.execute(Violation.__table__.insert(), rows)
    db.session.commit()
    return lon, lat


def test_bbox_query_on_many_random_points_matches_numpy(app: Flask) -> None:
    load_mini(app)
    campus = get_campus(db.session, "mini")
    lon, lat = insert_random_violations(3000, np.random.default_rng(7))
    bbox = (116.3505, 39.9995, 116.3525, 40.0012)
    inside = (lon >= bbox[0]) & (lon <= bbox[2]) & (lat >= bbox[1]) & (lat <= bbox[3])
    got = {r["source_id"] for r in query_features(db.session, "violations", bbox=bbox, campus_id=campus.id)}
    expected = {f"r{i}" for i in np.flatnonzero(inside)}
    # The mini campus's own violations v1 and v2 also fall in this box.
    assert got == expected | {"v1", "v2"}
    assert count_features(db.session, "violations", bbox=bbox) == len(expected) + 2
    limited = query_features(db.session, "violations", bbox=bbox, limit=100)
    assert len(limited) == 100 and {r["source_id"] for r in limited} <= got


def test_soft_deleted_violations_are_hidden_but_kept(app: Flask) -> None:
    load_mini(app)
    v = db.session.scalars(select(Violation).where(Violation.source_id == "v2")).one()
    v.deleted_at = dt.datetime.now(dt.UTC)
    v.deleted_reason = "duplicate report"
    db.session.commit()
    assert count_features(db.session, "violations") == 3
    assert count_features(db.session, "violations", include_deleted=True) == 4
    assert "v2" not in {r["source_id"] for r in query_features(db.session, "violations")}


def test_violation_table_reads_plain_columns(app: Flask) -> None:
    load_mini(app)
    table = violation_table(db.session)
    assert len(table) == 4
    assert sorted(table["local_hour"].tolist()) == [7, 12, 12, 18]
    assert np.isclose(table["lon"].sum(), 116.3506 + 116.3525 + 116.3543 + 116.3495)


def test_sqlite_pragmas(app: Flask, store: str) -> None:
    with db.engine.connect() as conn:
        if store == "sqlite":
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
        else:
            assert conn.execute(text("SELECT postgis_version()")).scalar()
