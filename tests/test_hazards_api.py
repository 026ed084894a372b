"""Hazards over HTTP: report (zone and officer found), the whole rectification loop, who sees and moves what,
soft delete, overdue, reminders to a local test receiver, scorecards and the printable notice."""

from __future__ import annotations

import base64
import csv
import datetime as dt
import hashlib
import hmac
import io
import json
import threading
import urllib.parse
import zoneinfo
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import shapely
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, text

from patrolmap.extensions import db
from patrolmap.hazards import parse_webhooks
from patrolmap.models import (
    AuditEntry,
    Building,
    Campus,
    GridZone,
    Hazard,
    HazardEvent,
    PatrolRoute,
    Reminder,
    User,
    Violation,
)

from .conftest import DATA, signed_in_client
from .photo_samples import phone_jpeg

UNIT, OTHER_UNIT = "后勤处", "信息学院"
SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
IN_Z1 = (116.3507, 40.0002)  # inside zone 一区's outline, between dorms 1 and 2
IN_B1 = (116.3502, 40.0002)  # inside dorm 1's footprint
OUTSIDE = (116.3540, 40.0012)  # on campus, in no zone and no building
T0 = dt.datetime(2026, 3, 10, 9, 0, tzinfo=dt.UTC)


def _zone_outlines() -> dict[str, shapely.Polygon]:
    """The zones' outlines straight from the test data file (not from the store)."""
    data = json.loads((DATA / "minicampus" / "grid-zones.geojson").read_text(encoding="utf-8"))
    return {f["id"]: shapely.geometry.shape(f["geometry"]) for f in data["features"]}


@pytest.fixture
def grid(app: Flask, two_universities: dict[str, int]) -> SimpleNamespace:
    """The mini campus with its zones' officers and buildings set, a duty officer, and people of every kind."""
    mini = two_universities["mini"]
    people = {"zhang": ("grid_officer", {}), "li": ("grid_officer", {}), "duty": ("patrol_lead", {}),
              "lead": ("patrol_lead", {"display_name": "保卫处 王科长"}), "po": ("patrol_officer", {}),
              "logistics": ("responsible_unit", {"unit": UNIT}), "college": ("responsible_unit", {"unit": OTHER_UNIT}),
              "viewer": ("viewer", {})}
    clients = {name: signed_in_client(app, name, roles, university="Test University", **fields)
               for name, (roles, fields) in people.items()}
    clients["admin"] = signed_in_client(app, "test-admin", "admin")
    clients["outsider"] = signed_in_client(app, "outsider", "admin", university="Other U")
    ids = {u.username: u.id for u in db.session.scalars(select(User))}
    zones = {z.source_id: z for z in db.session.scalars(select(GridZone).where(GridZone.campus_id == mini))}
    zones["z1"].officer_user_id = ids["zhang"]
    zones["z2"].officer_user_id = ids["li"]
    buildings = {b.source_id: b for b in db.session.scalars(select(Building).where(Building.campus_id == mini))}
    for source, zone in (("b1", "z1"), ("b2", "z1"), ("b4", "z2")):
        buildings[source].grid_zone_id = zones[zone].id
    db.session.get(Campus, mini).duty_user_id = ids["duty"]
    db.session.commit()
    return SimpleNamespace(
        mini=mini, other=two_universities["other"], c=clients, ids=ids,
        zones={k: z.id for k, z in zones.items()}, buildings={k: b.id for k, b in buildings.items()},
        other_buildings={b.source_id: b.id for b in db.session.scalars(
            select(Building).where(Building.campus_id == two_universities["other"]))},
    )


@pytest.fixture
def frozen(monkeypatch: pytest.MonkeyPatch) -> SimpleNamespace:
    """Set the hazards' clock: frozen.now = <a UTC time>."""
    holder = SimpleNamespace(now=T0)
    monkeypatch.setattr("patrolmap.hazardstore.clock", lambda: holder.now)
    return holder


def report(client: FlaskClient, at: tuple[float, float] | None = IN_Z1, **body: Any) -> Any:
    payload: dict[str, Any] = {"campus": "mini", "category": "ebike_indoor", "description": "电动车在走廊充电",
                               "urgency": "high", **body}
    if at is not None:
        payload.update(lon=at[0], lat=at[1])
    return client.post("/api/hazards", json=payload)


def reported(client: FlaskClient, at: tuple[float, float] | None = IN_Z1, **body: Any) -> int:
    response = report(client, at, **body)
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]


def move(client: FlaskClient, hazard_id: int, to: str, **body: Any) -> Any:
    return client.post(f"/api/hazards/{hazard_id}/transition", json={"to": to, **body})


def moved(client: FlaskClient, hazard_id: int, to: str, **body: Any) -> dict[str, Any]:
    response = move(client, hazard_id, to, **body)
    assert response.status_code == 200, response.get_json()
    return response.get_json()["properties"]


def local(value: dt.datetime) -> str:
    return value.astimezone(SHANGHAI).isoformat()


# ------------------------------------------------------------------------------------------ reporting


def test_a_report_inside_a_zone_finds_the_zone_and_its_officer(grid: SimpleNamespace) -> None:
    response = report(grid.c["po"], IN_Z1, note="巡逻发现")
    assert response.status_code == 201, response.get_json()
    assert response.mimetype == "application/geo+json"
    feature = response.get_json()
    props = feature["properties"]
    assert feature["geometry"] == {"type": "Point", "coordinates": list(IN_Z1)}
    assert response.headers["Location"] == f"/api/hazards/{feature['id']}"
    assert (props["zone"], props["zone_name"], props["building"]) == (grid.zones["z1"], "一区", None)
    assert props["assignee"] == {"id": grid.ids["zhang"], "username": "zhang", "display_name": None}
    assert (props["status"], props["unassigned"], props["reported_by"], props["version"]) == (
        "reported", False, "po", 1)
    assert props["overdue"] is False and props["deadline"] is None and props["notice_number"] is None
    assert props["next_statuses"] == []  # a patrol officer reports; the loop is for others
    assert [(e["from"], e["to"], e["actor"], e["note"]) for e in props["events"]] == [
        (None, "reported", "po", "巡逻发现")]
    officer_view = grid.c["zhang"].get(f"/api/hazards/{feature['id']}").get_json()["properties"]
    assert officer_view["next_statuses"] == ["notice_issued", "escalated"]
    # The officer hears of it in the app.
    notes = grid.c["zhang"].get("/api/notifications").get_json()
    assert [(n["hazard"], n["kind"]) for n in notes["notifications"]] == [(feature["id"], "assigned")]
    assert notes["unread"] == 1 and "一区" in notes["notifications"][0]["message"]


def test_a_report_at_a_building_takes_the_building_s_zone(grid: SimpleNamespace) -> None:
    by_id = report(grid.c["po"], None, building=grid.buildings["b4"]).get_json()
    assert by_id["properties"]["building"] == grid.buildings["b4"]
    assert (by_id["properties"]["zone_name"], by_id["properties"]["assignee"]["username"]) == ("二区", "li")
    footprint = db.session.get(Building, grid.buildings["b4"]).geom
    assert footprint.covers(shapely.geometry.shape(by_id["geometry"]))
    # A point inside a footprint counts as at that building.
    at_point = report(grid.c["po"], IN_B1).get_json()["properties"]
    assert (at_point["building"], at_point["building_name"], at_point["zone_name"]) == (
        grid.buildings["b1"], "学生公寓1号楼", "一区")
    # The set of buildings is authoritative: a building put in zone 二区 goes there, outline or not.
    db.session.get(Building, grid.buildings["b3"]).grid_zone_id = grid.zones["z2"]
    db.session.commit()
    canteen = report(grid.c["po"], None, building=grid.buildings["b3"]).get_json()["properties"]
    assert (canteen["zone_name"], canteen["assignee"]["username"]) == ("二区", "li")


def test_a_report_outside_every_zone_goes_to_the_duty_officer(grid: SimpleNamespace) -> None:
    props = report(grid.c["po"], OUTSIDE).get_json()["properties"]
    assert (props["zone"], props["building"], props["assignee"]["username"], props["unassigned"]) == (
        None, None, "duty", False)
    canteen = report(grid.c["po"], None, building=grid.buildings["b3"]).get_json()["properties"]
    assert (canteen["zone"], canteen["assignee"]["username"]) == (None, "duty")
    # No duty officer (or an inactive one, or a zone officer whose account was closed): unassigned.
    db.session.get(User, grid.ids["duty"]).active = False
    db.session.commit()
    props = report(grid.c["po"], OUTSIDE).get_json()["properties"]
    assert (props["assignee"], props["unassigned"]) == (None, True)
    db.session.get(User, grid.ids["zhang"]).active = False
    db.session.commit()
    assert report(grid.c["po"], IN_Z1).get_json()["properties"]["unassigned"] is True
    listed = grid.c["admin"].get("/api/hazards?zone=none").get_json()["features"]
    assert {f["properties"]["zone"] for f in listed} == {None} and len(listed) == 3


@pytest.mark.parametrize(("body", "status", "message"), [
    ({"description": None}, 400, "description is required"),
    ({"category": 5}, 400, "category must be a string"),
    ({"category": "flood"}, 422, "category"),
    ({"urgency": "soon"}, 422, "urgency"),
    ({"lat": None}, 400, "lat must be a number"),
    ({"lon": "116.35"}, 400, "lon must be a number"),
    ({"lon": None, "lat": None}, 400, "lon and lat, or a building id"),
    ({"building": "b1"}, 400, "building must be a building id"),
    ({"building": 99999}, 404, "unknown building"),
    ({"lon": 121.47, "lat": 31.23}, 422, "km from the campus"),
    ({"lon": 40.0002, "lat": 116.3507}, 422, "latitude"),
    ({"status": "closed"}, 400, "unknown field(s): status"),
    ({"note": "x" * 2001}, 400, "note is longer than 2000 characters"),
    ({"campus": "other-u-campus"}, 404, "unknown campus"),
])
def test_bad_reports_are_refused_and_store_nothing(grid: SimpleNamespace, body: dict[str, Any], status: int,
                                                   message: str) -> None:
    payload = {"campus": "mini", "category": "fire", "description": "灭火器过期", "lon": IN_Z1[0], "lat": IN_Z1[1],
               **body}
    response = grid.c["po"].post("/api/hazards", json={k: v for k, v in payload.items() if v is not None})
    assert response.status_code == status, response.get_json()
    assert message in response.get_json()["message"]
    assert db.session.scalar(select(Hazard.id)) is None
    assert grid.c["po"].post("/api/hazards", data="not json").status_code == 400


def test_a_building_of_another_campus_is_unknown(grid: SimpleNamespace) -> None:
    response = report(grid.c["admin"], None, building=grid.other_buildings["b1"])
    assert response.status_code == 404
    assert grid.c["viewer"].post("/api/hazards", json={}).status_code == 403  # reporting is for the field roles


# ------------------------------------------------------------------------------------------ the loop


def test_the_whole_loop_with_a_notice(grid: SimpleNamespace, frozen: SimpleNamespace) -> None:
    hazard = reported(grid.c["po"], IN_B1)
    frozen.now = t1 = T0 + dt.timedelta(minutes=30)
    props = moved(grid.c["zhang"], hazard, "notice_issued", notice={"responsible_unit": UNIT}, note="已电话通知")
    assert (props["status"], props["notice_number"], props["responsible_unit"]) == ("notice_issued",
                                                                                      "2026-mini-0001", UNIT)
    assert props["deadline"] == local(t1 + dt.timedelta(hours=24))  # urgency high: 24 h
    assert props["notice_issued_at"] == local(t1) and props["notice_issued_by"] == "zhang"
    assert props["notice_url"] == f"/hazards/{hazard}/notice"
    # The responsible unit sees it now, and may start.
    unit_view = grid.c["logistics"].get(f"/api/hazards/{hazard}").get_json()["properties"]
    assert unit_view["next_statuses"] == ["rectifying"]
    frozen.now = T0 + dt.timedelta(hours=2)
    moved(grid.c["logistics"], hazard, "rectifying", note="电工已到场")
    frozen.now = T0 + dt.timedelta(hours=5)
    props = moved(grid.c["zhang"], hazard, "rectified", note="插座已拆除")
    assert props["rectified_by"] == "zhang" and props["next_statuses"] == ["rectifying"]
    same = move(grid.c["zhang"], hazard, "closed")
    assert same.status_code == 409
    assert same.get_json()["details"] == {"code": "same_person", "status": "rectified", "allowed": ["rectifying"],
                                          "version": 4}
    assert "someone else must verify" in same.get_json()["message"]
    unit_close = move(grid.c["logistics"], hazard, "closed")
    assert unit_close.status_code == 409 and unit_close.get_json()["details"]["code"] == "role"
    frozen.now = t_close = T0 + dt.timedelta(hours=6)
    props = moved(grid.c["lead"], hazard, "closed", note="复查合格", version=4)
    assert (props["status"], props["closed_by"], props["closed_at"], props["version"]) == (
        "closed", "lead", local(t_close), 5)
    assert props["next_statuses"] == [] and props["overdue"] is False
    events = props["events"]
    assert [(e["from"], e["to"], e["actor"], e["note"]) for e in events] == [
        (None, "reported", "po", None), ("reported", "notice_issued", "zhang", "已电话通知"),
        ("notice_issued", "rectifying", "logistics", "电工已到场"), ("rectifying", "rectified", "zhang", "插座已拆除"),
        ("rectified", "closed", "lead", "复查合格")]
    assert [e["at"] for e in events] == [local(t) for t in (
        T0, t1, T0 + dt.timedelta(hours=2), T0 + dt.timedelta(hours=5), t_close)]
    stored = list(db.session.scalars(select(HazardEvent).where(HazardEvent.hazard_id == hazard)
                                     .order_by(HazardEvent.id)))
    assert [e.to_status for e in stored] == ["reported", "notice_issued", "rectifying", "rectified", "closed"]
    entries = list(db.session.scalars(select(AuditEntry).where(AuditEntry.layer == "hazards",
                                                               AuditEntry.feature_id == hazard)
                                      .order_by(AuditEntry.id)))
    assert [(e.action, e.actor, (e.before or {}).get("status"), e.after.get("status")) for e in entries] == [
        ("create", "po", None, "reported"), ("transition", "zhang", "reported", "notice_issued"),
        ("transition", "logistics", "notice_issued", "rectifying"), ("transition", "zhang", "rectifying", "rectified"),
        ("transition", "lead", "rectified", "closed")]
    assert entries[1].after["notice_number"] == "2026-mini-0001" and entries[1].after["responsible_unit"] == UNIT
    assert all(e.campus_id == grid.mini for e in entries)
    # The append-only record refuses changes in the database itself.
    with pytest.raises(Exception, match="append-only"):
        db.session.execute(text("UPDATE hazard_events SET note = 'x' WHERE hazard_id = :h"), {"h": hazard})
    db.session.rollback()


def test_notice_numbers_count_up_per_campus_and_year_and_given_ones_stay_unique(
        grid: SimpleNamespace, frozen: SimpleNamespace) -> None:
    first, second, third = (reported(grid.c["po"]) for _ in range(3))
    assert moved(grid.c["zhang"], first, "notice_issued", notice={"responsible_unit": UNIT})["notice_number"] \
        == "2026-mini-0001"
    paper = "保卫处〔2026〕3号"
    assert moved(grid.c["zhang"], second, "notice_issued",
                 notice={"responsible_unit": UNIT, "number": paper})["notice_number"] == paper
    taken = move(grid.c["zhang"], third, "notice_issued", notice={"responsible_unit": UNIT, "number": paper})
    assert taken.status_code == 409 and "already used" in taken.get_json()["message"]
    assert moved(grid.c["zhang"], third, "notice_issued", notice={"responsible_unit": UNIT})["notice_number"] \
        == "2026-mini-0002"
    # The year is the campus's: 2026-12-31 23:30 UTC is already 2027 in Shanghai.
    frozen.now = dt.datetime(2026, 12, 31, 23, 30, tzinfo=dt.UTC)
    fourth = reported(grid.c["po"])
    assert moved(grid.c["zhang"], fourth, "notice_issued", notice={"responsible_unit": UNIT})["notice_number"] \
        == "2027-mini-0001"


def test_escalation_needs_a_reason_and_the_whole_grid_takes_over(grid: SimpleNamespace,
                                                                  frozen: SimpleNamespace) -> None:
    hazard = reported(grid.c["po"], urgency="urgent")
    no_reason = move(grid.c["zhang"], hazard, "escalated", note="太大了")
    assert no_reason.status_code == 422
    assert no_reason.get_json()["details"]["code"] == "needs_reason"
    assert "reason is required" in no_reason.get_json()["message"]
    props = moved(grid.c["zhang"], hazard, "escalated", reason="整栋楼线路老化，需全网格统筹")
    assert (props["status"], props["escalated_reason"]) == ("escalated", "整栋楼线路老化，需全网格统筹")
    assert props["events"][-1]["note"] == "整栋楼线路老化，需全网格统筹"
    own_zone = move(grid.c["zhang"], hazard, "notice_issued", notice={"responsible_unit": UNIT})
    assert own_zone.status_code == 409 and own_zone.get_json()["details"]["code"] == "role"
    no_unit = move(grid.c["lead"], hazard, "notice_issued")
    assert no_unit.status_code == 422 and no_unit.get_json()["details"]["code"] == "needs_unit"
    frozen.now = T0 + dt.timedelta(hours=1)
    props = moved(grid.c["lead"], hazard, "notice_issued", notice={"responsible_unit": UNIT})
    assert props["deadline"] == local(T0 + dt.timedelta(hours=3))  # urgent: 2 h
    # Another zone's officer cannot touch it; a wrong move is refused with the allowed ones.
    other = move(grid.c["li"], hazard, "escalated", reason="x")
    assert other.status_code == 409 and other.get_json()["details"]["code"] == "object"
    wrong = move(grid.c["lead"], hazard, "closed")
    assert wrong.status_code == 409
    assert wrong.get_json()["details"] == {"code": "status", "status": "notice_issued",
                                           "allowed": ["escalated"], "version": 3}


def test_verification_can_fail_and_reopen(grid: SimpleNamespace) -> None:
    hazard = reported(grid.c["po"])
    moved(grid.c["zhang"], hazard, "notice_issued", notice={"responsible_unit": UNIT})
    moved(grid.c["logistics"], hazard, "rectifying")
    moved(grid.c["logistics"], hazard, "rectified")
    props = moved(grid.c["zhang"], hazard, "rectifying", note="复查不合格，插线板仍在")
    assert (props["status"], props["rectified_by"]) == ("rectifying", None)
    moved(grid.c["logistics"], hazard, "rectified")
    assert moved(grid.c["zhang"], hazard, "closed")["status"] == "closed"


@pytest.mark.parametrize(("body", "status", "message"), [
    ({"to": "fixed"}, 400, "to must be one of"),
    ({}, 400, "to must be one of"),
    ({"to": "notice_issued", "notice": "后勤处"}, 400, "notice must be an object"),
    ({"to": "notice_issued", "notice": {"unit": "后勤处"}}, 400, "notice.unit"),
    ({"to": "escalated", "reason": "r", "notice": {"responsible_unit": "后勤处"}}, 400, "only for the move"),
    ({"to": "notice_issued", "notice": {"responsible_unit": "后勤处", "number": 12}}, 400, "notice.number"),
    ({"to": "escalated", "reason": 3}, 400, "reason must be a string"),
    ({"to": "escalated", "reason": "r", "version": 7}, 409, "has changed since you read it"),
    ({"to": "escalated", "reason": "r", "version": "1"}, 400, "version must be a whole number"),
    ({"to": "escalated", "reason": "r", "extra": 1}, 400, "unknown field(s): extra"),
])
def test_bad_moves_are_refused_and_change_nothing(grid: SimpleNamespace, body: dict[str, Any], status: int,
                                                  message: str) -> None:
    hazard = reported(grid.c["po"])
    response = grid.c["zhang"].post(f"/api/hazards/{hazard}/transition", json=body)
    assert response.status_code == status, response.get_json()
    assert message in response.get_json()["message"]
    row = db.session.get(Hazard, hazard)
    assert (row.status, row.version) == ("reported", 1)
    assert db.session.scalar(select(text("count(*)")).select_from(HazardEvent)) == 1


# ------------------------------------------------------------------------------------------ who sees what


def _issue(grid: SimpleNamespace, unit: str, at: tuple[float, float] = IN_Z1) -> int:
    hazard = reported(grid.c["po"], at)
    moved(grid.c["admin"], hazard, "notice_issued", notice={"responsible_unit": unit})
    return hazard


def test_a_responsible_unit_sees_and_moves_only_its_own_hazards(grid: SimpleNamespace) -> None:
    ours, theirs = _issue(grid, UNIT), _issue(grid, OTHER_UNIT)
    unnoticed = reported(grid.c["po"])
    unit = grid.c["logistics"]
    listed = unit.get("/api/hazards").get_json()
    assert [f["id"] for f in listed["features"]] == [ours] and listed["numberMatched"] == 1
    assert unit.get(f"/api/hazards?unit={urllib.parse.quote(OTHER_UNIT)}").get_json()["features"] == []
    for other in (theirs, unnoticed):
        assert unit.get(f"/api/hazards/{other}").status_code == 404
        assert move(unit, other, "rectifying").status_code == 404
    # The whole layer is not theirs to read; the map offers it to the others.
    assert unit.get("/api/layers/hazards").status_code == 404
    assert "hazards" not in {layer["id"] for layer in unit.get("/api/layers").get_json()}
    assert len(grid.c["viewer"].get("/api/layers/hazards").get_json()["features"]) == 3
    moved(unit, ours, "rectifying")
    moved(unit, ours, "rectified")
    closing = move(unit, ours, "closed")
    assert closing.status_code == 409 and closing.get_json()["details"]["code"] == "role"
    assert move(grid.c["college"], ours, "closed").status_code == 404
    # Everyone else reads all three; a grid officer may ask for theirs only.
    assert len(grid.c["viewer"].get("/api/hazards").get_json()["features"]) == 3
    outside = reported(grid.c["po"], OUTSIDE)
    mine = grid.c["zhang"].get("/api/hazards?mine=true").get_json()["features"]
    assert sorted(f["id"] for f in mine) == sorted([ours, theirs, unnoticed])
    assert [f["id"] for f in grid.c["duty"].get("/api/hazards?mine=true").get_json()["features"]] == [outside]


def test_other_campuses_answer_404(grid: SimpleNamespace) -> None:
    hazard = _issue(grid, UNIT)
    outsider = grid.c["outsider"]
    assert outsider.get(f"/api/hazards/{hazard}").status_code == 404
    assert move(outsider, hazard, "escalated", reason="r").status_code == 404
    assert outsider.get("/api/hazards?campus=mini").status_code == 404
    assert outsider.get("/api/hazards").get_json()["features"] == []
    assert outsider.get(f"/api/grid/zones/{grid.zones['z1']}/scorecard").status_code == 404
    assert outsider.get(f"/hazards/{hazard}/notice").status_code == 404
    assert outsider.delete(f"/api/hazards/{hazard}?reason=x").status_code == 404
    assert report(outsider, IN_Z1).status_code == 404


def test_soft_delete_keeps_the_record(grid: SimpleNamespace) -> None:
    hazard, kept = reported(grid.c["po"]), reported(grid.c["po"])
    assert grid.c["lead"].delete(f"/api/hazards/{hazard}").status_code == 400  # needs a reason
    assert grid.c["zhang"].delete(f"/api/hazards/{hazard}?reason=重复").status_code == 403
    stale = grid.c["lead"].delete(f"/api/hazards/{hazard}", json={"reason": "重复上报", "version": 9})
    assert stale.status_code == 409
    response = grid.c["lead"].delete(f"/api/hazards/{hazard}", json={"reason": "重复上报", "version": 1})
    assert response.status_code == 200
    props = response.get_json()["properties"]
    assert props["deleted_reason"] == "重复上报" and props["deleted_at"] and props["next_statuses"] == []
    assert [f["id"] for f in grid.c["admin"].get("/api/hazards").get_json()["features"]] == [kept]
    assert sorted(f["id"] for f in grid.c["admin"].get("/api/hazards?include_deleted=true").get_json()["features"]) \
        == sorted([hazard, kept])
    assert [f["id"] for f in grid.c["admin"].get("/api/layers/hazards").get_json()["features"]] == [kept]
    assert move(grid.c["zhang"], hazard, "escalated", reason="r").status_code == 409
    assert grid.c["lead"].delete(f"/api/hazards/{hazard}?reason=again").status_code == 409
    assert db.session.get(Hazard, hazard) is not None
    entry = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "delete",
                                                        AuditEntry.feature_id == hazard)).one()
    assert (entry.layer, entry.actor, entry.reason) == ("hazards", "lead", "重复上报")


def test_overdue_hazards_are_listed_and_drawn_red(grid: SimpleNamespace, frozen: SimpleNamespace) -> None:
    real_now = dt.datetime.now(dt.UTC)
    frozen.now = real_now - dt.timedelta(days=3)
    late = reported(grid.c["po"], urgency="urgent")
    moved(grid.c["zhang"], late, "notice_issued", notice={"responsible_unit": UNIT})  # due 2 h later: long past
    closed = reported(grid.c["po"], urgency="urgent")
    moved(grid.c["zhang"], closed, "notice_issued", notice={"responsible_unit": UNIT})
    moved(grid.c["logistics"], closed, "rectifying")
    moved(grid.c["logistics"], closed, "rectified")
    moved(grid.c["zhang"], closed, "closed")
    frozen.now = real_now
    on_time = reported(grid.c["po"], urgency="normal")
    moved(grid.c["zhang"], on_time, "notice_issued", notice={"responsible_unit": UNIT})
    fresh = reported(grid.c["po"])
    overdue = grid.c["admin"].get("/api/hazards?overdue=true").get_json()["features"]
    assert [f["id"] for f in overdue] == [late] and overdue[0]["properties"]["overdue"] is True
    assert sorted(f["id"] for f in grid.c["admin"].get("/api/hazards?overdue=false").get_json()["features"]) == \
        sorted([closed, on_time, fresh])
    assert [f["id"] for f in grid.c["admin"].get("/api/hazards?status=open&overdue=false").get_json()["features"]] \
        == [fresh, on_time]
    assert [f["id"] for f in grid.c["admin"].get("/api/hazards?status=closed").get_json()["features"]] == [closed]
    layer = {f["id"]: f["properties"] for f in grid.c["admin"].get("/api/layers/hazards").get_json()["features"]}
    assert {i: (p["state"], p["overdue"]) for i, p in layer.items()} == {
        late: ("overdue", True), closed: ("closed", False), on_time: ("notice_issued", False),
        fresh: ("reported", False)}
    card = grid.c["admin"].get(f"/api/grid/zones/{grid.zones['z1']}/scorecard").get_json()
    assert (card["open_hazards"], card["overdue_hazards"]) == (3, 1)


@pytest.mark.parametrize(("query", "message"), [
    ("status=fixed", "status must be open or one of"), ("overdue=maybe", "overdue must be true or false"),
    ("zone=abc", "zone"), ("category=flood", "category must be one of"), ("limit=0", "limit"),
])
def test_bad_list_parameters_are_400(grid: SimpleNamespace, query: str, message: str) -> None:
    response = grid.c["admin"].get(f"/api/hazards?{query}")
    assert response.status_code == 400 and message in response.get_json()["message"]


def test_photos_of_a_hazard(app: Flask, grid: SimpleNamespace) -> None:
    hazard = reported(grid.c["po"])
    data = phone_jpeg()
    first = grid.c["po"].post(f"/api/hazards/{hazard}/photos", data={"file": (io.BytesIO(data), "a.jpg")},
                              content_type="multipart/form-data")
    assert first.status_code == 201, first.get_json()
    body = first.get_json()
    assert body["sha256"] == hashlib.sha256(data).hexdigest() and body["duplicate"] is False
    again = grid.c["po"].post(f"/api/hazards/{hazard}/photos", data={"file": (io.BytesIO(data), "b.jpg")},
                              content_type="multipart/form-data")
    assert again.status_code == 200 and again.get_json()["duplicate"] is True
    shown = grid.c["viewer"].get(body["url"])
    assert shown.status_code == 200 and shown.mimetype == "image/jpeg" and b"PatrolPhone" not in shown.data
    props = grid.c["viewer"].get(f"/api/hazards/{hazard}").get_json()["properties"]
    assert props["photos"] == 1 and [p["sha256"] for p in props["photo_list"]] == [body["sha256"]]
    bad = grid.c["po"].post(f"/api/hazards/{hazard}/photos", data={"file": (io.BytesIO(b"GIF89a..."), "x.gif")},
                            content_type="multipart/form-data")
    assert bad.status_code == 415
    assert db.session.scalars(select(AuditEntry).where(AuditEntry.action == "photo",
                                                       AuditEntry.layer == "hazards")).one().feature_id == hazard
    # The evidence check reads hazards' photos too, and names the hazard whose file is gone.
    runner = app.test_cli_runner()
    assert runner.invoke(args=["check-evidence"]).exit_code == 0
    photo_id = props["photo_list"][0]["id"]
    digest = body["sha256"]
    (Path(app.config["EVIDENCE_DIR"]) / digest[:2] / f"{digest}.display").unlink()
    broken = runner.invoke(args=["check-evidence"])
    assert broken.exit_code == 1
    assert f"display copy of {digest} is missing (hazard {hazard} photo {photo_id})" in broken.output


# ------------------------------------------------------------------------------------------ reminders


class Receiver:
    """A local HTTP server standing in for WeCom, DingTalk and a generic endpoint; /fail fails its first call."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.fail_first = 1
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                raw = self.rfile.read(length)
                parts = urllib.parse.urlsplit(self.path)
                call = {"path": parts.path, "query": urllib.parse.parse_qs(parts.query), "raw": raw,
                        "json": json.loads(raw), "headers": dict(self.headers), "ok": True}
                if parts.path == "/fail" and receiver.fail_first > 0:
                    receiver.fail_first -= 1
                    call["ok"] = False
                    receiver.calls.append(call)
                    self.send_response(500)
                    self.end_headers()
                    return
                receiver.calls.append(call)
                answer = b'{"errcode": 0, "errmsg": "ok"}'
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as r:
        yield r


def _kind_and_number(call: dict[str, Any]) -> tuple[str, str]:
    """(before|due, notice number) read off what a robot would show."""
    body = call["json"]
    if call["path"] in ("/generic", "/fail"):
        return body["kind"], body["hazard"]["notice_number"]
    content = body["markdown"]["content"] if call["path"] == "/wecom" else body["markdown"]["text"]
    kind = "due" if "Hazard overdue" in content else "before" if "Hazard deadline soon" in content else "?"
    number = next(word for word in content.replace(",", " ").split() if word.startswith("2026-mini-"))
    return kind, number


def test_reminders_go_once_before_and_once_at_the_deadline(app: Flask, grid: SimpleNamespace,
                                                           frozen: SimpleNamespace, receiver: Receiver) -> None:
    secret = "SECd1ng"
    app.config["WEBHOOKS"] = parse_webhooks([
        {"name": "wecom-group", "kind": "wecom", "url": f"{receiver.url}/wecom?key=abc"},
        {"name": "ding-group", "kind": "dingtalk", "url": f"{receiver.url}/ding?access_token=tok", "secret": secret},
        {"name": "ops", "kind": "generic", "url": f"{receiver.url}/generic", "secret": "gsec"},
        {"name": "flaky", "kind": "generic", "url": f"{receiver.url}/fail"},
    ])
    app.config["PUBLIC_URL"] = "https://patrol.example.edu"
    urgent = reported(grid.c["po"], urgency="urgent", description="配电箱门未关 [click](http://x)")
    normal = reported(grid.c["po"], OUTSIDE, urgency="normal")
    closed_early = reported(grid.c["po"], urgency="urgent")
    for hazard in (urgent, normal, closed_early):
        moved(grid.c["admin"], hazard, "notice_issued", notice={"responsible_unit": UNIT})
    for to in ("rectifying", "rectified"):
        moved(grid.c["logistics"], closed_early, to)
    moved(grid.c["zhang"], closed_early, "closed")
    numbers = {h: db.session.get(Hazard, h).notice_number for h in (urgent, normal)}
    runner = app.test_cli_runner()

    def remind(after: dt.timedelta) -> Any:
        return runner.invoke(args=["hazards", "remind", "--now", (T0 + after).isoformat()])

    hours = dt.timedelta(hours=1)
    assert remind(0.2 * hours).exit_code == 0 and receiver.calls == []
    first = remind(1.1 * hours)  # urgent: 1 h before its deadline (T0 + 2 h)
    assert first.exit_code == 1 and "flaky" in first.output and "HTTP 500" in first.output
    failed = db.session.scalars(select(Reminder).where(Reminder.channel == "flaky")).one()
    assert (failed.hazard_id, failed.kind, failed.ok) == (urgent, "before", False) and "500" in failed.error
    db.session.rollback()
    assert remind(1.2 * hours).exit_code == 0  # the failed call is tried again, and only that one
    for after in (2.1, 2.2, 54.1, 60, 72.1, 80, 200):
        result = remind(after * hours)
        assert result.exit_code == 0, result.output
    delivered = Counter((c["path"], *_kind_and_number(c)) for c in receiver.calls if c["ok"])
    expected = Counter((path, kind, numbers[h]) for path in ("/wecom", "/ding", "/generic", "/fail")
                       for h in (urgent, normal) for kind in ("before", "due"))
    assert delivered == expected
    assert sum(1 for c in receiver.calls if c["path"] == "/fail") == 5  # one failure, retried once
    # Order: each hazard's "before" reached each channel before its "due".
    for path in ("/wecom", "/generic"):
        seen = [_kind_and_number(c) for c in receiver.calls if c["path"] == path]
        for number in numbers.values():
            assert [k for k, n in seen if n == number] == ["before", "due"]
    # DingTalk: signed with the secret; checked here with a second implementation of its rule.
    for call in (c for c in receiver.calls if c["path"] == "/ding"):
        timestamp = call["query"]["timestamp"][0]
        expected_sign = base64.b64encode(hmac.new(secret.encode(), f"{timestamp}\n{secret}".encode(),
                                                  hashlib.sha256).digest()).decode()
        assert call["query"]["sign"] == [expected_sign] and call["query"]["access_token"] == ["tok"]
        assert call["json"]["msgtype"] == "markdown" and call["json"]["markdown"]["title"]
    wecom = next(c for c in receiver.calls if c["path"] == "/wecom")
    assert set(wecom["json"]) == {"msgtype", "markdown"} and wecom["json"]["msgtype"] == "markdown"
    content = wecom["json"]["markdown"]["content"]
    assert "[click]" not in content and "配电箱门未关" in content  # reported text cannot add links
    assert f"https://patrol.example.edu/hazards/{urgent}/notice" in content
    generic = next(c for c in receiver.calls if c["path"] == "/generic")
    assert generic["headers"]["X-Patrolmap-Signature"] == "sha256=" + hmac.new(b"gsec", generic["raw"],
                                                                               hashlib.sha256).hexdigest()
    assert generic["json"]["event"] == "hazard_reminder" and generic["json"]["hazard"]["id"] == urgent
    assert generic["json"]["hazard"]["responsible_unit"] == UNIT and generic["json"]["hazard"]["campus"] == "mini"
    # Every channel's row is kept, all delivered; nothing for the hazard closed in time.
    rows = list(db.session.scalars(select(Reminder).where(Reminder.kind.in_(["before", "due"]))))
    webhook_rows = [(r.hazard_id, r.kind, r.channel, r.ok) for r in rows if not r.channel.startswith("app:")]
    assert sorted(webhook_rows) == sorted((h, k, ch, True) for h in (urgent, normal) for k in ("before", "due")
                                          for ch in ("wecom-group", "ding-group", "ops", "flaky"))
    app_rows = Counter((r.hazard_id, r.kind, r.user_id) for r in rows if r.channel.startswith("app:"))
    # In the app: the assignee (zone officer 张 for the one in 一区, the duty officer for the other) and the unit.
    assert app_rows == Counter({(urgent, k, grid.ids[u]): 1 for k in ("before", "due") for u in ("zhang", "logistics")}
                               | {(normal, k, grid.ids[u]): 1 for k in ("before", "due") for u in ("duty", "logistics")})
    assert all(r.hazard_id != closed_early for r in rows)


def test_a_new_notice_after_escalation_is_reminded_again(app: Flask, grid: SimpleNamespace,
                                                         frozen: SimpleNamespace, receiver: Receiver) -> None:
    """Overdue, escalated, given a new notice: its new deadline gets its own reminders; the old ones stay."""
    app.config["WEBHOOKS"] = parse_webhooks([{"name": "ops", "kind": "generic", "url": f"{receiver.url}/generic"},
                                             {"name": "flaky", "kind": "generic", "url": f"{receiver.url}/fail"}])
    hazard = reported(grid.c["po"], urgency="urgent")
    moved(grid.c["zhang"], hazard, "notice_issued", notice={"responsible_unit": UNIT})
    first = db.session.get(Hazard, hazard).notice_number
    runner = app.test_cli_runner()

    def remind(after: float) -> None:
        runner.invoke(args=["hazards", "remind", "--now", (T0 + dt.timedelta(hours=after)).isoformat()])
        db.session.rollback()

    remind(1.1)  # "before" (the urgent notice is due at T0 + 2 h); the flaky hook fails
    remind(2.5)  # "due"
    frozen.now = T0 + dt.timedelta(hours=3)
    moved(grid.c["zhang"], hazard, "escalated", reason="整栋楼线路老化")
    props = moved(grid.c["lead"], hazard, "notice_issued", notice={"responsible_unit": UNIT})
    second = props["notice_number"]
    assert second != first and props["deadline"] == local(T0 + dt.timedelta(hours=5))
    for after in (3.1, 4.1, 4.2, 5.5, 6):
        remind(after)
    ok = [(c["json"]["kind"], c["json"]["hazard"]["notice_number"]) for c in receiver.calls if c["path"] == "/generic"]
    assert ok == [("before", first), ("due", first), ("before", second), ("due", second)]
    # The failed calls about the first notice are not tried again once it is replaced: 2 for each notice.
    failed = Counter(c["json"]["hazard"]["notice_number"] for c in receiver.calls if c["path"] == "/fail")
    assert failed == Counter({first: 2, second: 2})
    rows = db.session.scalars(select(Reminder).where(Reminder.hazard_id == hazard, Reminder.channel == "ops"))
    assert sorted((r.notice, r.kind) for r in rows) == sorted((n, k) for n in (first, second) for k in ("before", "due"))
    # In the app the unit hears of both notices and both deadlines too.
    unit_rows = db.session.scalars(select(Reminder).where(Reminder.hazard_id == hazard,
                                                          Reminder.user_id == grid.ids["logistics"]))
    assert Counter(r.notice for r in unit_rows) == Counter({first: 3, second: 3})  # notice, before, due


def test_in_app_notifications_are_read_and_marked(app: Flask, grid: SimpleNamespace, frozen: SimpleNamespace) -> None:
    app.config["WEBHOOKS"] = ()
    hazard = reported(grid.c["po"], urgency="urgent")
    moved(grid.c["zhang"], hazard, "notice_issued", notice={"responsible_unit": UNIT})
    runner = app.test_cli_runner()
    bad = runner.invoke(args=["hazards", "remind", "--now", "yesterday"])
    assert bad.exit_code != 0 and "ISO 8601" in bad.output
    result = runner.invoke(args=["hazards", "remind", "--now", (T0 + dt.timedelta(hours=3)).isoformat()])
    assert result.exit_code == 0 and "in-app notifications: 2" in result.output  # "due" for 张 and the unit
    unit = grid.c["logistics"]
    notes = unit.get("/api/notifications").get_json()
    assert [(n["kind"], n["hazard"]) for n in notes["notifications"]] == [("due", hazard), ("notice", hazard)]
    assert notes["unread"] == 2
    due = notes["notifications"][0]
    assert due["title"] == "Hazard overdue" and "2026-mini-0001" in due["message"]
    assert local(T0 + dt.timedelta(hours=2)).replace("T", " ")[:16] in due["message"]  # the deadline, local time
    assert grid.c["zhang"].post(f"/api/notifications/{due['id']}/read").status_code == 404  # not theirs
    marked = unit.post(f"/api/notifications/{due['id']}/read")
    assert marked.status_code == 200 and marked.get_json()["read_at"]
    after = unit.get("/api/notifications?unread=true").get_json()
    assert [n["kind"] for n in after["notifications"]] == ["notice"] and after["unread"] == 1
    assert unit.get("/api/notifications").get_json()["notifications"][0]["read_at"]
    zh = unit.get("/api/notifications", headers={"Accept-Language": "zh-CN"}).get_json()
    assert zh["notifications"][0]["message"]  # worded again in the reader's language


# ------------------------------------------------------------------------------------------ scorecards


def _route(campus_id: int, name: str, coords: list[tuple[float, float]], saved: dt.datetime,
           deleted: bool = False) -> int:
    route = PatrolRoute(campus_id=campus_id, name=name, mode="walk", start_lon=coords[0][0], start_lat=coords[0][1],
                        checkpoint_ids=[], teams=1, speed_m_per_min=80, plan={}, length_m=100,
                        geom=shapely.MultiLineString([coords]), shift_days=[], created_by="lead", created_at=saved,
                        updated_at=saved, deleted_at=saved if deleted else None)
    db.session.add(route)
    db.session.commit()
    return route.id


def test_scorecards_match_counts_made_independently(grid: SimpleNamespace, staff: FlaskClient) -> None:
    now = dt.datetime.now(dt.UTC)
    # Violations: two recent in 一区, one old in 一区, one recent but void in 一区, one recent in 二区.
    for lon, lat, days in ((116.3507, 40.0003, 5), (116.3512, 40.0005, 1), (116.3507, 40.0004, 40),
                           (116.3509, 40.0001, 2), (116.3533, 40.0006, 3)):
        response = staff.post("/api/violations", json={
            "campus": "mini", "lon": lon, "lat": lat, "kind": "no_parking",
            "observed_at": (now - dt.timedelta(days=days)).isoformat()})
        assert response.status_code == 201
    void = db.session.scalars(select(Violation.id).where(Violation.lon == 116.3509)).one()
    assert staff.post(f"/api/violations/{void}/transition", json={"to": "void", "reason": "误报"}).status_code == 200
    # Hazards: in 一区 two open (one overdue), one closed, one deleted; in 二区 one open; one outside.
    reported(grid.c["po"])
    late = reported(grid.c["po"], IN_B1, urgency="urgent")
    row = db.session.get(Hazard, late)
    row.status, row.responsible_unit, row.deadline = "rectifying", OTHER_UNIT, now - dt.timedelta(hours=1)
    db.session.commit()
    done = _issue(grid, UNIT)
    for to in ("rectifying", "rectified"):
        moved(grid.c["logistics"], done, to)
    moved(grid.c["zhang"], done, "closed")
    gone = reported(grid.c["po"])
    assert grid.c["lead"].delete(f"/api/hazards/{gone}?reason=重复").status_code == 200
    reported(grid.c["po"], None, building=grid.buildings["b4"])
    reported(grid.c["po"], OUTSIDE)
    # Routes: through 一区 (older), 10 m north of its outline (newest of those near it), 50 m north (not
    # near), a deleted one through it, and one of the other campus through the same place.
    day = dt.timedelta(days=1)
    _route(grid.mini, "一区巡逻A", [(116.3495, 40.0003), (116.3520, 40.0003)], now - 3 * day)
    near = _route(grid.mini, "北侧巡逻", [(116.3495, 40.00069), (116.3520, 40.00069)], now - 2 * day)
    _route(grid.mini, "远处巡逻", [(116.3495, 40.00105), (116.3520, 40.00105)], now - day)
    _route(grid.mini, "已删除", [(116.3495, 40.0003), (116.3520, 40.0003)], now, deleted=True)
    _route(grid.other, "别校", [(116.3495, 40.0003), (116.3520, 40.0003)], now)

    # Independently: outlines from the data file, plain SQL and shapely.
    outlines = _zone_outlines()
    expected: dict[str, dict[str, Any]] = {}
    for source, zone_id in grid.zones.items():
        buildings = db.session.execute(text(
            "SELECT count(*), coalesce(sum(residents), 0) FROM buildings WHERE grid_zone_id = :z"), {"z": zone_id}).one()
        hazards = db.session.execute(text(
            "SELECT status, deadline FROM hazards WHERE zone_id = :z AND deleted_at IS NULL AND status <> 'closed'"),
            {"z": zone_id}).all()
        violations = db.session.execute(text(
            "SELECT lon, lat, observed_at FROM violations WHERE campus_id = :c AND deleted_at IS NULL "
            "AND status <> 'void'"), {"c": grid.mini}).all()
        recent = [v for v in violations if _utc(v.observed_at) >= now - dt.timedelta(days=30)]
        expected[source] = {
            "buildings": buildings[0], "residents": buildings[1], "open_hazards": len(hazards),
            "overdue_hazards": sum(1 for h in hazards if h.status in ("notice_issued", "rectifying", "escalated")
                                   and h.deadline is not None and _utc(h.deadline) < now),
            "violations_30d": sum(1 for v in recent if outlines[source].covers(shapely.Point(v.lon, v.lat))),
        }
    assert expected["z1"] == {"buildings": 2, "residents": 1400, "open_hazards": 2, "overdue_hazards": 1,
                              "violations_30d": 2}
    assert expected["z2"] == {"buildings": 1, "residents": 120, "open_hazards": 1, "overdue_hazards": 0,
                              "violations_30d": 1}
    cards = grid.c["viewer"].get("/api/grid/scorecards?campus=mini").get_json()
    assert cards["campus"] == "mini"
    by_zone = {c["zone"]: c for c in cards["zones"]}
    for source, zone_id in grid.zones.items():
        card = by_zone[zone_id]
        assert {k: card[k] for k in expected[source]} == expected[source], source
    z1 = by_zone[grid.zones["z1"]]
    assert z1["officer"]["username"] == "zhang" and z1["name"] == "一区"
    assert z1["last_route"]["id"] == near and z1["last_route"]["name"] == "北侧巡逻"
    assert by_zone[grid.zones["z2"]]["last_route"] is None
    assert grid.c["viewer"].get(f"/api/grid/zones/{grid.zones['z1']}/scorecard").get_json() == z1
    # The CSV export says the same (UTF-8 with a BOM, for Excel).
    response = grid.c["viewer"].get("/api/grid/scorecards?campus=mini&format=csv")
    assert response.mimetype == "text/csv" and response.data.startswith("\ufeff".encode())
    rows = list(csv.DictReader(io.StringIO(response.data.decode("utf-8-sig"))))
    assert [(int(r["zone"]), r["name"], int(r["open_hazards"]), int(r["overdue_hazards"]), int(r["violations_30d"]),
             int(r["buildings"]), int(r["residents"]), r["officer"], r["last_route_name"]) for r in rows] == [
        (c["zone"], c["name"], c["open_hazards"], c["overdue_hazards"], c["violations_30d"], c["buildings"],
         c["residents"], c["officer"]["username"], (c["last_route"] or {}).get("name", "")) for c in cards["zones"]]
    # A responsible unit alone counts only its own unit's hazards.
    unit_card = grid.c["logistics"].get(f"/api/grid/zones/{grid.zones['z1']}/scorecard").get_json()
    assert unit_card["open_hazards"] == 0 and unit_card["buildings"] == 2
    assert grid.c["viewer"].get("/api/grid/scorecards?campus=mini&format=xml").status_code == 400
    assert grid.c["viewer"].get("/api/grid/zones/99999/scorecard").status_code == 404


def _utc(value: Any) -> dt.datetime:
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


# ------------------------------------------------------------------------------------------ the notice


def test_the_printable_notice(grid: SimpleNamespace, frozen: SimpleNamespace) -> None:
    hazard = reported(grid.c["po"], IN_B1, category="electrical", urgency="normal",
                      description='<script>alert("x")</script> 插线板串联 & 私拉电线')
    assert grid.c["viewer"].get(f"/hazards/{hazard}/notice").status_code == 409  # no notice yet
    frozen.now = issued = dt.datetime(2026, 3, 10, 16, 45, tzinfo=dt.UTC)
    moved(grid.c["lead"], hazard, "notice_issued", notice={"responsible_unit": "<b>后勤处</b>"})
    response = grid.c["logistics"].get(f"/hazards/{hazard}/notice")
    assert response.status_code == 404  # the notice names "<b>后勤处</b>", not their unit
    response = grid.c["viewer"].get(f"/hazards/{hazard}/notice")
    assert response.status_code == 200 and response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert '<script>alert("x")</script>' not in page and "<b>后勤处</b>" not in page
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; 插线板串联 &amp; 私拉电线" in page
    assert "&lt;b&gt;后勤处&lt;/b&gt;" in page
    assert "2026-mini-0001" in page and "Mini campus 小校区" in page and "学生公寓1号楼" in page
    deadline = (issued + dt.timedelta(hours=72)).astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")
    assert deadline == "2026-03-14 00:45" and deadline in page
    assert issued.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M") in page
    assert "保卫处 王科长" in page  # issued by, by name
    assert "electrical" in page and "signature" in page
    zh = grid.c["viewer"].get(f"/hazards/{hazard}/notice", headers={"Accept-Language": "zh-CN"})
    assert zh.status_code == 200
    # A laboratory hazard reads as one, not as a lab building (the same code is a kind of building).
    lab = reported(grid.c["po"], IN_B1, category="lab", urgency="normal")
    moved(grid.c["lead"], lab, "notice_issued", notice={"responsible_unit": UNIT})
    assert "实验室安全" in grid.c["viewer"].get(f"/hazards/{lab}/notice", headers={"Accept-Language": "zh-CN"}) \
        .get_data(as_text=True)
    assert "laboratory safety" in grid.c["viewer"].get(f"/hazards/{lab}/notice").get_data(as_text=True)


def test_imported_hazards_are_placed_like_reported_ones(grid: SimpleNamespace, tmp_path: Any) -> None:
    from patrolmap.importing import CampusInfo, load_geodata

    feature = {"type": "Feature", "id": "paper-7", "geometry": {"type": "Point", "coordinates": list(IN_B1)},
               "properties": {"category": "fire", "description": "灭火器过期", "reported_by": "张伟",
                              "reported_at": "2026-03-01T09:00", "status": "notice_issued",
                              "notice_number": "保卫处-7", "responsible_unit": UNIT, "deadline": "2026-03-02T09:00"}}
    path = tmp_path / "hazards.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [feature]}), encoding="utf-8")
    load_geodata(db.session, path, campus=CampusInfo("mini", None, None, None))
    db.session.commit()
    listed = grid.c["zhang"].get("/api/hazards?mine=true").get_json()["features"]
    assert len(listed) == 1
    props = listed[0]["properties"]
    assert (props["building_name"], props["zone_name"], props["assignee"]["username"]) == ("学生公寓1号楼", "一区",
                                                                                          "zhang")
    assert props["deadline"] == "2026-03-02T09:00:00+08:00" and props["overdue"] is True
    assert props["next_statuses"] == ["rectifying", "escalated"]  # the officer may record it for the unit
