"""A violation's status moves: only the documented moves, void with a reason, versions guarded, all audited."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from patrolmap.extensions import db
from patrolmap.models import AuditEntry, Campus, Violation
from patrolmap.store import count_features, violation_table
from patrolmap.transitions import TRANSITIONS

from .conftest import signed_in_client


@pytest.fixture
def loaded(two_campuses: dict[str, int]) -> dict[str, int]:
    """The mini campus (v1 open, v2 notified, v3 open, v4 resolved) and another university's copy."""
    return two_campuses


def _move(client: FlaskClient, violation_id: int, **body: object):  # type: ignore[no-untyped-def]
    return client.post(f"/api/violations/{violation_id}/transition", json=body)


def _entries(violation_id: int) -> list[AuditEntry]:
    return list(db.session.scalars(select(AuditEntry).where(AuditEntry.layer == "violations",
                                                            AuditEntry.feature_id == violation_id)
                                   .order_by(AuditEntry.id)))


def test_the_state_machine_is_the_documented_one() -> None:
    assert TRANSITIONS == {
        "open": ("notified", "towed", "resolved", "void"),
        "notified": ("towed", "resolved", "void"),
        "towed": ("resolved", "void"),
        "resolved": ("void",),
        "void": (),
    }


def test_a_violation_moves_through_its_statuses_and_each_move_is_audited(loaded: dict[str, int],
                                                                          staff: FlaskClient) -> None:
    vid = loaded["v1"]
    on_map = staff.get(f"/api/layers/violations?ids={vid}").get_json()["features"][0]["properties"]
    assert on_map["version"] == 1  # what a map's status form sends back
    first = staff.get(f"/api/violations/{vid}").get_json()["properties"]
    assert (first["status"], first["version"], first["next_statuses"]) == ("open", 1, list(TRANSITIONS["open"]))
    steps = [("notified", "owner phoned"), ("towed", None), ("resolved", "owner paid the fine")]
    for number, (to, reason) in enumerate(steps, start=2):
        response = _move(staff, vid, to=to, **({"reason": reason} if reason else {}), version=number - 1)
        assert response.status_code == 200, response.get_json()
        assert response.mimetype == "application/geo+json"
        props = response.get_json()["properties"]
        assert (props["status"], props["version"], props["deleted_at"]) == (to, number, None)
    entries = [e for e in _entries(vid) if e.action == "transition"]
    assert [(e.before["status"], e.after["status"], e.reason) for e in entries] == [
        ("open", "notified", "owner phoned"), ("notified", "towed", None), ("towed", "resolved", "owner paid the fine")]
    assert [(e.before["version"], e.after["version"]) for e in entries] == [(1, 2), (2, 3), (3, 4)]
    mini = db.session.scalar(select(Campus.id).where(Campus.slug == "mini"))
    assert {e.actor for e in entries} == {"duty-li"} and {e.campus_id for e in entries} == {mini}
    # Statuses never move back; a resolved record may only be voided.
    back = _move(staff, vid, to="open")
    assert back.status_code == 409
    assert back.get_json()["details"] == {"status": "resolved", "allowed": ["void"], "version": 4}
    assert "cannot become open" in back.get_json()["message"]


@pytest.mark.parametrize(("body", "status", "words"), [
    ({"to": "notified"}, 409, "cannot become notified"),  # v2 is notified already
    ({"to": "open"}, 409, "cannot become open"),
    ({"to": "archived"}, 400, "to must be one of open, notified, towed, resolved, void"),
    ({"to": None}, 400, "to must be one of"),
    ({}, 400, "to is required"),
    ({"to": "towed", "status": "towed"}, 400, "unknown field(s): status"),
    ({"to": "towed", "reason": 5}, 400, "reason must be a string"),
    ({"to": "towed", "version": "1"}, 400, "version must be a whole number"),
    ({"to": "towed", "version": True}, 400, "version must be a whole number"),
    ({"to": "towed", "reason": "x" * 2001}, 400, "longer than 2000"),
])
def test_bad_moves_are_refused_and_change_nothing(loaded: dict[str, int], staff: FlaskClient, body: dict,
                                                  status: int, words: str) -> None:
    vid = loaded["v2"]
    response = _move(staff, vid, **body)
    assert response.status_code == status, response.get_json()
    assert words in response.get_json()["message"]
    db.session.expire_all()
    row = db.session.get(Violation, vid)
    assert (row.status, row.version, row.deleted_at) == ("notified", 1, None)
    assert _entries(vid) == []


def test_a_stale_version_is_a_conflict(loaded: dict[str, int], staff: FlaskClient) -> None:
    vid = loaded["v1"]
    assert _move(staff, vid, to="notified", version=1).status_code == 200
    # Someone else read version 1 too, and tries to tow it: their view is out of date.
    stale = _move(staff, vid, to="towed", version=1)
    assert stale.status_code == 409
    assert stale.get_json()["details"] == {"version": 2, "status": "notified"}
    assert db.session.get(Violation, vid).status == "notified"
    # Without a version the move is checked against the state machine only.
    assert _move(staff, vid, to="towed").get_json()["properties"]["version"] == 3


def test_void_needs_a_reason_and_is_terminal(loaded: dict[str, int], staff: FlaskClient) -> None:
    vid = loaded["v3"]
    for body in ({"to": "void"}, {"to": "void", "reason": "   "}, {"to": "void", "reason": None}):
        response = _move(staff, vid, **body)
        assert response.status_code == 400 and "reason is required" in response.get_json()["message"]
    voided = _move(staff, vid, to="void", reason="wrong plate read; recorded again as #12")
    assert voided.status_code == 200
    props = voided.get_json()["properties"]
    assert props["status"] == "void" and props["deleted_reason"] == "wrong plate read; recorded again as #12"
    assert props["deleted_at"] is not None and props["next_statuses"] == []
    for to in ("open", "notified", "towed", "resolved", "void"):
        assert _move(staff, vid, to=to, reason="again").status_code == 409
    entry = _entries(vid)[-1]
    assert entry.after["status"] == "void" and entry.after["deleted_at"] and entry.before["deleted_at"] is None


def test_delete_voids_with_a_reason_and_erases_nothing(app: Flask, loaded: dict[str, int], staff: FlaskClient,
                                                      store: str) -> None:
    v1, v2 = loaded["v1"], loaded["v2"]
    total = db.session.scalar(select(func.count()).select_from(Violation))
    missing = staff.delete(f"/api/violations/{v1}")
    assert missing.status_code == 400 and "reason is required" in missing.get_json()["message"]
    assert staff.delete(f"/api/violations/{v1}?reason=duplicate%20of%20v2&color=red").status_code == 400
    by_query = staff.delete(f"/api/violations/{v1}?reason=duplicate%20of%20v2")
    assert by_query.status_code == 200 and by_query.get_json()["properties"]["status"] == "void"
    by_body = staff.delete(f"/api/violations/{v2}", json={"reason": "test record", "version": 1})
    assert by_body.status_code == 200
    assert staff.delete(f"/api/violations/{v2}", json={"reason": "again"}).status_code == 409
    assert staff.delete(f"/api/violations/{v2}", json={"reason": "x", "why": "y"}).status_code == 400
    # Nothing erased: every row is still there, and readable by id and with include_void.
    assert db.session.scalar(select(func.count()).select_from(Violation)) == total
    row = db.session.get(Violation, v1)
    assert (row.status, row.deleted_reason) == ("void", "duplicate of v2") and row.deleted_at is not None
    assert staff.get(f"/api/violations/{v1}").get_json()["properties"]["status"] == "void"
    live = staff.get("/api/layers/violations").get_json()
    assert {f["id"] for f in live["features"]}.isdisjoint({v1, v2}) and live["numberMatched"] == 2
    everything = staff.get("/api/layers/violations?include_void=true").get_json()
    assert {v1, v2} <= {f["id"] for f in everything["features"]} and everything["numberMatched"] == 4
    assert staff.get("/api/layers/buildings?include_void=true").status_code == 400
    assert staff.get("/api/layers/violations?include_void=maybe").status_code == 400
    # Void violations leave maps, counts and statistics.
    mini = row.campus_id
    assert count_features(db.session, "violations", campus_id=mini) == 2
    assert set(violation_table(db.session, campus_id=mini)["id"]) == {loaded["v3"], loaded["v4"]}
    entries = _entries(v1)
    assert entries[-1].action == "delete" and entries[-1].reason == "duplicate of v2"
    assert entries[-1].before["status"] == "open" and entries[-1].after["status"] == "void"


def test_imported_void_violations_leave_the_statistics(app: Flask, loaded: dict[str, int]) -> None:
    """A record imported as void (no reason, no deleted_at) is not counted either."""
    db.session.get(Violation, loaded["v4"]).status = "void"
    db.session.commit()
    mini = db.session.get(Violation, loaded["v4"]).campus_id
    assert loaded["v4"] not in set(violation_table(db.session, campus_id=mini)["id"])


def test_other_campuses_answer_404_and_readers_may_not_move(app: Flask, loaded: dict[str, int],
                                                           staff: FlaskClient) -> None:
    theirs = loaded["other-v1"]
    for response in (staff.get(f"/api/violations/{theirs}"), _move(staff, theirs, to="towed"),
                     staff.delete(f"/api/violations/{theirs}?reason=x"), _move(staff, 999999, to="towed")):
        assert response.status_code == 404
        assert "unknown violation" in response.get_json()["message"]
    assert db.session.get(Violation, theirs).status == "open"
    viewer = signed_in_client(app, "v", "viewer")
    assert _move(viewer, loaded["v1"], to="towed").status_code == 403
    assert viewer.delete(f"/api/violations/{loaded['v1']}?reason=x").status_code == 403
    props = viewer.get(f"/api/violations/{loaded['v1']}").get_json()["properties"]
    assert props["plate"] == "京A·***45" and "reporter" not in props  # masked as everywhere else
    patrol = signed_in_client(app, "p", "patrol_lead")
    assert _move(patrol, loaded["v1"], to="towed").status_code == 403
