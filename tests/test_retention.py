"""Retention: old personal data is anonymised, statistics survive, recent evidence is untouched."""

from __future__ import annotations

import datetime as dt

from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import func, select, update

from patrolmap.extensions import db
from patrolmap.importing import load_geodata
from patrolmap.models import AuditEntry, Violation

from .conftest import DATA


def test_purge_anonymises_old_plates_and_reporters(app: Flask, runner: FlaskCliRunner) -> None:
    load_geodata(db.session, DATA / "minicampus")
    now = dt.datetime.now(dt.UTC)
    # v1 and v4 are old, with the same plate to show repeats still group; v2 is recent; v3 is plateless.
    db.session.execute(update(Violation).where(Violation.source_id.in_(["v1", "v4"]))
                       .values(observed_at=now - dt.timedelta(days=400), plate="京A12345"))
    db.session.execute(update(Violation).where(Violation.source_id == "v3").values(observed_at=now - dt.timedelta(days=400)))
    db.session.execute(update(Violation).where(Violation.source_id == "v2").values(observed_at=now - dt.timedelta(days=10)))
    db.session.commit()
    kinds_before = dict(db.session.execute(select(Violation.kind, func.count()).group_by(Violation.kind)).all())
    result = runner.invoke(args=["purge-personal-data", "--days", "365"])
    assert result.exit_code == 0, result.output
    assert "anonymised 3 violation(s)" in result.output
    rows = {v.source_id: v for v in db.session.scalars(select(Violation))}
    assert rows["v1"].plate == rows["v4"].plate and rows["v1"].plate.startswith("anon:")
    assert "12345" not in rows["v1"].plate
    assert rows["v1"].reporter is None and rows["v3"].reporter is None and rows["v3"].plate == "无牌"
    assert (rows["v2"].plate, rows["v2"].reporter) == ("京B23456", "王强")
    assert rows["v1"].version == 2 and rows["v2"].version == 1
    kinds_after = dict(db.session.execute(select(Violation.kind, func.count()).group_by(Violation.kind)).all())
    assert kinds_after == kinds_before
    entry = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "purge")).one()
    assert entry.after["anonymised"] == 3
    again = runner.invoke(args=["purge-personal-data", "--days", "365"])
    assert "anonymised 0 violation(s)" in again.output
    assert runner.invoke(args=["purge-personal-data", "--days", "0"]).exit_code != 0


def test_purge_reaches_plates_inside_the_audit_log(app: Flask, runner: FlaskCliRunner) -> None:
    from .conftest import signed_in_client

    load_geodata(db.session, DATA / "minicampus")
    staff = signed_in_client(app, "staff", "traffic_staff")
    old = (dt.datetime.now(dt.UTC) - dt.timedelta(days=400)).isoformat()
    created = staff.post("/api/violations", json={"campus": "mini", "lon": 116.3512, "lat": 40.0007,
                                                  "kind": "entrance", "plate": "陕A77777", "reporter": "李娜",
                                                  "observed_at": old}).get_json()
    recent = staff.post("/api/violations", json={"campus": "mini", "lon": 116.3512, "lat": 40.0007,
                                                 "kind": "entrance", "plate": "陕A88888"}).get_json()
    assert runner.invoke(args=["purge-personal-data", "--days", "365"]).exit_code == 0
    db.session.expire_all()
    entries = {e.feature_id: e for e in db.session.scalars(select(AuditEntry).where(AuditEntry.action == "create"))}
    anonymised = db.session.get(Violation, created["id"]).plate
    assert anonymised.startswith("anon:")
    assert entries[created["id"]].after["plate"] == anonymised
    assert entries[created["id"]].after["reporter"] is None
    assert entries[recent["id"]].after["plate"] == "陕A88888"  # recent evidence untouched
    purge = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "purge")).one()
    assert purge.after["audit_entries_anonymised"] == 1
