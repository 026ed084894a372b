"""Patrol execution (巡更): QR plaques, check-ins by QR or GPS, tracks, the shift report and the missed report.

Routes are made straight through the ORM with a known plan (the saved-routes API is tested on its
own), and the clock is scripted (patrol_exec.now_utc), so every status below is worked out by hand.
QR codes are decoded back from the SVG with zxing-cpp; distances are checked with a haversine.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
import re
import zoneinfo
from typing import Any

import numpy as np
import pytest
import segno
import shapely
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from patrolmap.extensions import db
from patrolmap.models import (
    AuditEntry,
    Checkpoint,
    CheckpointTag,
    PatrolCheckin,
    PatrolRoute,
    PatrolTrackPoint,
)
from patrolmap.web import patrol_exec

from .conftest import signed_in_client

SH = zoneinfo.ZoneInfo("Asia/Shanghai")
UNI = "Test University"
EVERY_DAY = [1, 2, 3, 4, 5, 6, 7]
# Stops added to the mini campus next to its two checkpoints (k1 西门, k2 食堂门口).
EXTRA = {"k3": ("北楼", 116.3510, 40.0015), "k4": ("东门", 116.3530, 40.0016)}


def local(y: int, mo: int, d: int, h: int, mi: int = 0) -> dt.datetime:
    return dt.datetime(y, mo, d, h, mi, tzinfo=SH)


def haversine(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """On a sphere of the mean Earth radius: a second method beside the app's WGS84 geodesic."""
    r = 6_371_008.8
    p1, p2 = math.radians(lat1), math.radians(lat2)
    a = (math.sin((p2 - p1) / 2) ** 2
         + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2)
    return 2 * r * math.asin(math.sqrt(a))


def north_of(lon: float, lat: float, metres: float) -> list[float]:
    return [lon, lat + math.degrees(metres / 6_371_008.8)]


# ---------------------------------------------------------------- fixtures


class Clock:
    def __init__(self) -> None:
        self.now = local(2026, 11, 23, 22, 0)

    def set(self, value: dt.datetime) -> None:
        self.now = value


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    c = Clock()
    monkeypatch.setattr(patrol_exec, "now_utc", lambda: c.now.astimezone(dt.UTC))
    return c


def add_checkpoint(campus_id: int, source: str, name: str, lon: float, lat: float) -> int:
    point = Checkpoint(campus_id=campus_id, source_id=source, name=name, kind="other", geom=shapely.Point(lon, lat),
                       minx=lon, maxx=lon, miny=lat, maxy=lat)
    db.session.add(point)
    db.session.flush()
    return point.id


def make_route(campus_id: int, orders: dict[int, list[int]], legs: dict[int, list[float]], *,
               name: str = "夜间巡逻 night round", start: str | None = "22:00", end: str | None = "06:00",
               days: list[int] | None = None, visits: int = 2, late: float = 15, radius: float = 30,
               speed: float = 80) -> int:
    """A saved route as H1's API stores it: the plan JSON of the saved-route contract."""
    plan = {"routes": [{"team": team, "order": order, "legs_m": legs[team], "length_m": sum(legs[team]),
                        "duration_min": sum(legs[team]) / speed} for team, order in orders.items()],
            "unreachable": [], "not_fitted": []}
    ids = [cid for order in orders.values() for cid in order]
    first = db.session.get(Checkpoint, ids[0])
    route = PatrolRoute(campus_id=campus_id, name=name, mode="walk", start_lon=first.geom.x, start_lat=first.geom.y,
                        start_checkpoint_id=None, checkpoint_ids=ids, teams=len(orders), max_minutes=None,
                        speed_m_per_min=speed, plan=plan, geom=None, length_m=sum(sum(v) for v in legs.values()),
                        shift_start=start, shift_end=end, shift_days=EVERY_DAY if days is None else days,
                        visits_per_shift=visits, checkin_radius_m=radius, late_after_min=late, note=None,
                        created_by="lead-zhao", created_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    db.session.add(route)
    db.session.commit()
    return route.id


@pytest.fixture
def site(two_universities: dict[str, int]) -> dict[str, Any]:
    """Four checkpoints on the mini campus; route 1 has two teams: 1 walks k1, k2, k3 and 2 walks k4.

    Legs 400, 800, 240 (and 560 back) m at 80 m/min: team 1's stops are planned 5, 15 and 18 minutes
    into each round; team 2's single stop (160 m out and back) 2 minutes in.
    """
    mini = two_universities["mini"]
    cps = {c.source_id: c.id for c in db.session.scalars(select(Checkpoint).where(Checkpoint.campus_id == mini))}
    for source, (name, lon, lat) in EXTRA.items():
        cps[source] = add_checkpoint(mini, source, name, lon, lat)
    db.session.commit()
    route = make_route(mini, {1: [cps["k1"], cps["k2"], cps["k3"]], 2: [cps["k4"]]},
                       {1: [400.0, 800.0, 240.0, 560.0], 2: [160.0, 160.0]})
    other = two_universities["other"]
    other_cp = db.session.scalars(select(Checkpoint).where(Checkpoint.campus_id == other)).first()
    other_route = make_route(other, {1: [other_cp.id]}, {1: [100.0, 100.0]}, name="Other night")
    return {"mini": mini, "cp": cps, "route": route, "other_route": other_route, "other_cp": other_cp.id}


@pytest.fixture
def lead(app: Flask) -> FlaskClient:
    return signed_in_client(app, "lead-zhao", "patrol_lead", university=UNI)


@pytest.fixture
def officer(app: Flask) -> FlaskClient:
    return signed_in_client(app, "officer-zhang", "patrol_officer", university=UNI)


def position_of(checkpoint_id: int) -> list[float]:
    point = db.session.get(Checkpoint, checkpoint_id)
    return [point.geom.x, point.geom.y]


def tokens(lead: FlaskClient, route_id: int) -> dict[int, str]:
    """Print the QR sheet (which makes the plaques) and read each checkpoint's token from the store."""
    assert lead.get(f"/patrol/routes/{route_id}/qr").status_code == 200
    db.session.expire_all()
    return {t.checkpoint_id: t.token for t in db.session.scalars(
        select(CheckpointTag).where(CheckpointTag.retired_at.is_(None)))}


# ---------------------------------------------------------------- QR plaques


def rasterise(svg: str, pixels_per_module: int = 4) -> np.ndarray:
    """Draw segno's SVG path (horizontal strokes one module wide) as a greyscale image, black on white."""
    viewbox = re.search(r'viewBox="0 0 ([\d.]+) ([\d.]+)"', svg)
    scale = float(re.search(r"scale\(([\d.]+)\)", svg).group(1))
    path = re.search(r'class="qrline"[^>]* d="([^"]+)"', svg).group(1)
    size = round(float(viewbox.group(1)) / scale)
    dark = np.zeros((size, size), dtype=bool)
    x = y = 0.0
    command = ""
    tokens_ = re.findall(r"[A-Za-z]|-?\d+(?:\.\d+)?", path)
    i = 0
    while i < len(tokens_):
        if tokens_[i].isalpha():
            command = tokens_[i]
            i += 1
            continue
        if command in "Mm":
            dx, dy = float(tokens_[i]), float(tokens_[i + 1])
            x, y = (dx, dy) if command == "M" else (x + dx, y + dy)
            i += 2
        elif command == "h":
            run = float(tokens_[i])
            dark[int(y), int(x):int(x + run)] = True
            x += run
            i += 1
        else:
            raise AssertionError(f"unexpected path command {command!r}")
    block = np.ones((pixels_per_module, pixels_per_module), dtype=bool)
    return np.where(np.kron(dark, block), 0, 255).astype(np.uint8)


def decode(svg: str) -> str:
    import zxingcpp

    found = zxingcpp.read_barcodes(rasterise(svg))
    assert len(found) == 1, found
    return found[0].text


def plaques(html: str) -> list[tuple[int, int, int, str]]:
    """(checkpoint, team, seq, svg) of every plaque on a QR sheet."""
    return [(int(cid), int(team), int(seq), svg) for cid, team, seq, svg in re.findall(
        r'<figure class="pm-plaque" data-checkpoint="(\d+)" data-team="(\d+)" data-seq="(\d+)">.*?(<svg.*?</svg>)',
        html, flags=re.S)]


def test_the_qr_sheet_holds_one_plaque_per_stop_decoding_to_its_checkin_url(
        app: Flask, site: dict[str, Any], lead: FlaskClient) -> None:
    cp = site["cp"]
    response = lead.get(f"/patrol/routes/{site['route']}/qr")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    found = plaques(html)
    assert [(c, t, s) for c, t, s, _ in found] == [(cp["k1"], 1, 1), (cp["k2"], 1, 2), (cp["k3"], 1, 3),
                                                   (cp["k4"], 2, 1)]
    tags = {t.checkpoint_id: t for t in db.session.scalars(select(CheckpointTag))}
    assert set(tags) == {cp["k1"], cp["k2"], cp["k3"], cp["k4"]}
    for checkpoint, _, _, svg in found:
        url = f"http://localhost/patrol/checkin/{tags[checkpoint].token}"
        assert decode(svg) == url
        # And it is exactly segno's encoding of that URL (nothing else rides along in the SVG).
        assert svg == segno.make(url, error="m", micro=False, boost_error=False).svg_inline(
            scale=4, border=4, omitsize=True, dark="#000", light="#fff")
    assert "西门" in html and "Team 2" in html
    # Printing again reuses the plaques; each was made once, and audited without its token.
    again = plaques(lead.get(f"/patrol/routes/{site['route']}/qr").get_data(as_text=True))
    assert [svg for *_, svg in again] == [svg for *_, svg in found]
    assert db.session.scalar(select(func.count()).select_from(CheckpointTag)) == 4
    entries = list(db.session.scalars(select(AuditEntry).where(AuditEntry.layer == "checkpoint-tags")))
    assert sorted(e.feature_id for e in entries) == sorted(tags) and {e.action for e in entries} == {"create"}
    assert not any(t.token in repr(e.after) for e in entries for t in tags.values())
    # A public address configured for the plaques wins over the address the sheet was asked at.
    app.config["PUBLIC_URL"] = "https://patrol.example.edu/"
    public = plaques(lead.get(f"/patrol/routes/{site['route']}/qr").get_data(as_text=True))
    assert decode(public[0][3]) == f"https://patrol.example.edu/patrol/checkin/{tags[cp['k1']].token}"


def test_names_on_the_sheet_are_escaped(app: Flask, site: dict[str, Any], lead: FlaskClient) -> None:
    point = db.session.get(Checkpoint, site["cp"]["k1"])
    point.name = "<script>alert(1)</script>"
    db.session.commit()
    html = lead.get(f"/patrol/routes/{site['route']}/qr").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_reissuing_a_plaque_retires_the_old_code(app: Flask, site: dict[str, Any], lead: FlaskClient,
                                                officer: FlaskClient, clock: Clock) -> None:
    k1 = site["cp"]["k1"]
    old = tokens(lead, site["route"])[k1]
    assert officer.get(f"/patrol/checkin/{old}").status_code == 200
    response = lead.post(f"/api/checkpoints/{k1}/tag", json={"reason": "plaque stolen"})
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    new = db.session.scalars(select(CheckpointTag).where(CheckpointTag.checkpoint_id == k1,
                                                         CheckpointTag.retired_at.is_(None))).one()
    assert body["url"] == f"http://localhost/patrol/checkin/{new.token}" and new.token != old
    assert len(body["retired"]) == 1
    entry = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "reissue")).one()
    assert (entry.feature_id, entry.reason, entry.actor) == (k1, "plaque stolen", "lead-zhao")
    # The old code is dead: its page is a 404 and a check-in with it is refused.
    page = officer.get(f"/patrol/checkin/{old}")
    assert page.status_code == 404 and "replaced" in page.get_data(as_text=True)
    clock.set(local(2026, 11, 23, 22, 6))
    refused = officer.post(f"/api/routes/{site['route']}/checkins", json={"checkpoint": k1, "qr": old})
    assert refused.status_code == 422 and "not the current plaque" in refused.get_json()["message"]
    assert officer.post(f"/api/routes/{site['route']}/checkins", json={"checkpoint": k1, "qr": new.token}
                        ).status_code == 201
    # Another university's checkpoint does not exist for this lead.
    assert lead.post(f"/api/checkpoints/{site['other_cp']}/tag", json={}).status_code == 404


# ---------------------------------------------------------------- check-ins


def test_a_check_in_by_qr(app: Flask, site: dict[str, Any], lead: FlaskClient, officer: FlaskClient,
                          clock: Clock) -> None:
    k1, route = site["cp"]["k1"], site["route"]
    token = tokens(lead, route)[k1]
    clock.set(local(2026, 11, 23, 22, 20))  # planned 22:05, due 22:20
    response = officer.post(f"/api/routes/{route}/checkins", json={"checkpoint": k1, "qr": token})
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body | {"id": 0} == {
        "id": 0, "route": route, "checkpoint": k1, "team": 1, "shift_date": "2026-11-23", "visit": 1,
        "at": "2026-11-23T22:20:00+08:00", "method": "qr", "distance_m": None, "officer": "officer-zhang",
        "planned_at": "2026-11-23T22:05:00+08:00", "status": "on_time", "counted": True,
        "checked_in_at": "2026-11-23T22:20:00+08:00"}
    row = db.session.get(PatrolCheckin, body["id"])
    assert (row.shift_date, row.visit, row.method, row.officer, row.at) == (
        dt.date(2026, 11, 23), 1, "qr", "officer-zhang", local(2026, 11, 23, 22, 20))
    # After midnight, a time sent by a phone that was offline: still the evening's shift, round 1.
    clock.set(local(2026, 11, 24, 1, 12))
    late = officer.post(f"/api/routes/{route}/checkins",
                        json={"checkpoint": site["cp"]["k2"], "time": "2026-11-24T01:10:00+08:00",
                              "qr": tokens(lead, route)[site["cp"]["k2"]]})
    assert late.status_code == 201
    assert (late.get_json()["shift_date"], late.get_json()["visit"], late.get_json()["status"]) == (
        "2026-11-23", 1, "late")


def test_a_check_in_by_gps_inside_and_outside_the_radius(app: Flask, site: dict[str, Any], officer: FlaskClient,
                                                         clock: Clock) -> None:
    k2, route = site["cp"]["k2"], site["route"]
    lon, lat = position_of(k2)
    clock.set(local(2026, 11, 23, 22, 14))
    near = north_of(lon, lat, 20)
    response = officer.post(f"/api/routes/{route}/checkins", json={"checkpoint": k2, "position": near,
                                                                  "accuracy_m": 8})
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["method"] == "gps" and body["status"] == "on_time"
    assert body["distance_m"] == pytest.approx(haversine(lon, lat, *near), rel=0.005)
    row = db.session.get(PatrolCheckin, body["id"])
    assert (row.lon, row.lat, row.accuracy_m) == (near[0], near[1], 8)
    # 45 m away with a 30 m radius: refused, with the distance measured.
    far = north_of(lon, lat, 45)
    refused = officer.post(f"/api/routes/{route}/checkins", json={"checkpoint": k2, "position": far,
                                                                 "accuracy_m": 5})
    assert refused.status_code == 422
    assert refused.get_json()["details"]["distance_m"] == pytest.approx(haversine(lon, lat, *far), rel=0.005)
    assert refused.get_json()["details"]["radius_m"] == 30
    assert "from checkpoint 食堂门口" in refused.get_json()["message"]
    # Close enough but a rough fix: refused.
    rough = officer.post(f"/api/routes/{route}/checkins", json={"checkpoint": k2, "position": near,
                                                               "accuracy_m": 150})
    assert rough.status_code == 422 and "too rough" in rough.get_json()["message"]
    # Neither a code nor a position.
    assert officer.post(f"/api/routes/{route}/checkins", json={"checkpoint": k2}).status_code == 422
    assert db.session.scalar(select(func.count()).select_from(PatrolCheckin)) == 1


def test_check_ins_are_refused_outside_the_shift_and_for_bad_times(app: Flask, site: dict[str, Any],
                                                                   officer: FlaskClient, clock: Clock) -> None:
    k1, route = site["cp"]["k1"], site["route"]
    at_k1 = {"checkpoint": k1, "position": position_of(k1), "accuracy_m": 5}
    url = f"/api/routes/{route}/checkins"
    clock.set(local(2026, 11, 23, 12, 0))  # noon: the 22:00-06:00 shift is off
    refused = officer.post(url, json=at_k1)
    assert refused.status_code == 422 and "outside every shift" in refused.get_json()["message"]
    assert "22:00-06:00" in refused.get_json()["message"]
    clock.set(local(2026, 11, 23, 21, 58))
    future = officer.post(url, json={**at_k1, "time": "2026-11-23T22:04:00+08:00"})  # 6 minutes ahead
    assert future.status_code == 422 and "future" in future.get_json()["message"]
    clock.set(local(2026, 11, 24, 23, 0))
    stale = officer.post(url, json={**at_k1, "time": "2026-11-23T22:30:00+08:00"})  # 24.5 hours ago
    assert stale.status_code == 422 and "24 hours" in stale.get_json()["message"]
    naive = officer.post(url, json={**at_k1, "time": "2026-11-24T22:30:00"})
    assert naive.status_code == 400 and "offset" in naive.get_json()["message"]
    assert officer.post(url, json={**at_k1, "position": [200, 40]}).status_code == 400
    assert officer.post(url, json={**at_k1, "secret": 1}).status_code == 400
    # A stop of another route, or the wrong team, is refused; so is a stop on no tour.
    assert officer.post(url, json={**at_k1, "team": 2}).status_code == 422
    assert officer.post(url, json={**at_k1, "checkpoint": site["other_cp"]}).status_code == 422
    # 4 minutes ahead is within a phone's clock drift.
    clock.set(local(2026, 11, 24, 22, 1))
    assert officer.post(url, json={**at_k1, "time": "2026-11-24T22:05:00+08:00"}).status_code == 201
    assert db.session.scalar(select(func.count()).select_from(PatrolCheckin)) == 1


def test_another_universitys_route_does_not_exist_for_an_officer(app: Flask, site: dict[str, Any],
                                                                 officer: FlaskClient, lead: FlaskClient,
                                                                 clock: Clock) -> None:
    other = site["other_route"]
    body = {"checkpoint": site["other_cp"], "position": position_of(site["other_cp"])}
    assert officer.post(f"/api/routes/{other}/checkins", json=body).status_code == 404
    assert officer.post(f"/api/routes/{other}/track", json={"points": [[116.35, 40.0, "2026-11-23T22:00:00+08:00"]]}
                        ).status_code == 404
    assert officer.get(f"/patrol/routes/{other}/walk").status_code == 404
    assert lead.get(f"/patrol/routes/{other}/qr").status_code == 404
    assert lead.get(f"/api/routes/{other}/shifts/2026-11-23").status_code == 404
    assert lead.get("/api/patrol/missed?campus=other").status_code == 404
    # A deleted route takes no check-ins.
    route = db.session.get(PatrolRoute, site["route"])
    route.deleted_at = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    db.session.commit()
    k1 = site["cp"]["k1"]
    assert officer.post(f"/api/routes/{site['route']}/checkins",
                        json={"checkpoint": k1, "position": position_of(k1)}).status_code == 404


@pytest.mark.parametrize(("role", "walks", "leads"), [
    ("patrol_officer", True, False), ("patrol_lead", True, True), ("admin", True, True),
    ("viewer", False, False), ("traffic_staff", False, False), ("grid_officer", False, False)])
def test_who_may_do_what(app: Flask, site: dict[str, Any], clock: Clock, role: str, walks: bool,
                         leads: bool) -> None:
    client = signed_in_client(app, f"u-{role}", role, university=UNI)
    route, k1 = site["route"], site["cp"]["k1"]
    clock.set(local(2026, 11, 23, 22, 6))
    calls = {
        "walk": client.get(f"/patrol/routes/{route}/walk"),
        "checkin": client.post(f"/api/routes/{route}/checkins", json={"checkpoint": k1, "position": position_of(k1)}),
        "track": client.post(f"/api/routes/{route}/track",
                             json={"points": [[116.3495, 40.0006, "2026-11-23T22:05:00+08:00"]]}),
        "shift": client.get(f"/api/routes/{route}/shifts/2026-11-23"),
        "qr": client.get(f"/patrol/routes/{route}/qr"),
        "reissue": client.post(f"/api/checkpoints/{k1}/tag", json={}),
        "missed": client.get("/api/patrol/missed?campus=mini&from=2026-11-20&to=2026-11-22"),
    }
    expected = {"walk": walks, "checkin": walks, "track": walks, "shift": walks, "qr": leads, "reissue": leads,
                "missed": leads}
    got = {name: response.status_code not in (401, 403) for name, response in calls.items()}
    assert got == expected, {n: r.status_code for n, r in calls.items()}
    for name, response in calls.items():
        if expected[name]:
            assert response.status_code in (200, 201), (name, response.status_code, response.get_data(as_text=True))


def test_the_checkin_page_needs_a_sign_in(app: Flask, site: dict[str, Any], lead: FlaskClient,
                                          anon_client: FlaskClient) -> None:
    token = tokens(lead, site["route"])[site["cp"]["k1"]]
    response = anon_client.get(f"/patrol/checkin/{token}")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert lead.get("/patrol/checkin/no-such-token").status_code == 404


def test_the_checkin_page_lists_the_routes_on_shift(app: Flask, site: dict[str, Any], lead: FlaskClient,
                                                    officer: FlaskClient, clock: Clock) -> None:
    k4 = site["cp"]["k4"]
    token = tokens(lead, site["route"])[k4]
    day = make_route(site["mini"], {1: [k4]}, {1: [50.0, 50.0]}, name="Day round", start="08:00", end="18:00")
    clock.set(local(2026, 11, 23, 23, 0))
    html = officer.get(f"/patrol/checkin/{token}").get_data(as_text=True)
    on_shift = html.split("Other routes that stop here")[0]
    assert "夜间巡逻 night round" in on_shift and "Day round" not in on_shift
    assert f'data-route="{site["route"]}" data-team="2"' in html
    assert f"/patrol/routes/{day}/walk?team=1" in html
    assert re.search(r'<script type="application/json" id="pm-page-config" nonce="[^"]+">', html)


def test_the_walk_page_lists_a_teams_stops_in_order(app: Flask, site: dict[str, Any], officer: FlaskClient,
                                                    clock: Clock) -> None:
    clock.set(local(2026, 11, 24, 2, 30))
    html = officer.get(f"/patrol/routes/{site['route']}/walk?team=1").get_data(as_text=True)
    assert [int(c) for c in re.findall(r'<li data-checkpoint="(\d+)"', html)] == [
        site["cp"]["k1"], site["cp"]["k2"], site["cp"]["k3"]]
    assert "Shift of 2026-11-23, round 2 of 2" in html
    clock.set(local(2026, 11, 24, 12, 0))
    html = officer.get(f"/patrol/routes/{site['route']}/walk?team=2").get_data(as_text=True)
    assert "Not on shift now." in html and "2026-11-24 22:00" in html
    assert [int(c) for c in re.findall(r'<li data-checkpoint="(\d+)"', html)] == [site["cp"]["k4"]]


def test_check_ins_are_append_only_in_the_database(app: Flask, site: dict[str, Any], officer: FlaskClient,
                                                   clock: Clock) -> None:
    k1 = site["cp"]["k1"]
    clock.set(local(2026, 11, 23, 22, 6))
    assert officer.post(f"/api/routes/{site['route']}/checkins",
                        json={"checkpoint": k1, "position": position_of(k1)}).status_code == 201
    for statement in ("UPDATE patrol_checkins SET officer = 'someone else'", "DELETE FROM patrol_checkins"):
        with pytest.raises(sa.exc.DBAPIError, match="append-only"):
            db.session.execute(sa.text(statement))
            db.session.flush()
        db.session.rollback()
    assert db.session.scalars(select(PatrolCheckin.officer)).all() == ["officer-zhang"]


# ---------------------------------------------------------------- the scripted night shift


def script_night(site: dict[str, Any], lead: FlaskClient, officer: FlaskClient, li: FlaskClient,
                 clock: Clock) -> None:
    """The night of Monday 23 November 2026 (22:00-06:00, two rounds), as the officers walked it."""
    cp, route = site["cp"], site["route"]
    tags = tokens(lead, route)

    def check(client: FlaskClient, at: dt.datetime, checkpoint: str, how: str) -> dict[str, Any]:
        clock.set(at + dt.timedelta(minutes=1))
        body: dict[str, Any] = {"checkpoint": cp[checkpoint], "time": at.isoformat()}
        if how == "qr":
            body["qr"] = tags[cp[checkpoint]]
        else:
            body.update(position=position_of(cp[checkpoint]), accuracy_m=6)
        response = client.post(f"/api/routes/{route}/checkins", json=body)
        assert response.status_code == 201, response.get_json()
        return response.get_json()

    check(officer, local(2026, 11, 23, 22, 20), "k1", "qr")  # planned 22:05, due 22:20: on time
    check(officer, local(2026, 11, 23, 22, 31), "k2", "gps")  # planned 22:15: late
    second = check(officer, local(2026, 11, 23, 23, 40), "k2", "qr")  # again: kept, not counted
    assert second["counted"] is False and second["checked_in_at"] == "2026-11-23T22:31:00+08:00"
    check(li, local(2026, 11, 24, 1, 10), "k4", "gps")  # team 2, planned 22:02: late, still round 1
    check(officer, local(2026, 11, 24, 2, 4), "k1", "gps")  # round 2, planned 02:05: on time


def test_the_shift_report_classifies_a_scripted_night_shift(app: Flask, site: dict[str, Any], lead: FlaskClient,
                                                            officer: FlaskClient, clock: Clock) -> None:
    li = signed_in_client(app, "officer-li", "patrol_officer", university=UNI)
    script_night(site, lead, officer, li, clock)
    clock.set(local(2026, 11, 24, 3, 0))
    response = lead.get(f"/api/routes/{site['route']}/shifts/2026-11-23")
    assert response.status_code == 200, response.get_json()
    report = response.get_json()
    assert report["shift"] | {} == {"start": "22:00", "end": "06:00", "days": EVERY_DAY, "visits": 2,
                                    "start_at": "2026-11-23T22:00:00+08:00", "end_at": "2026-11-24T06:00:00+08:00"}
    assert [(r["visit"], r["start"], r["end"], r["over"], r["current"]) for r in report["rounds"]] == [
        (1, "2026-11-23T22:00:00+08:00", "2026-11-24T02:00:00+08:00", True, False),
        (2, "2026-11-24T02:00:00+08:00", "2026-11-24T06:00:00+08:00", False, True)]
    names = {v: k for k, v in site["cp"].items()}
    got = {(r["visit"], team["team"], names[s["checkpoint"]]): (s["seq"], s["planned_at"][11:16], s["status"],
                                                                (s["checked_in_at"] or "")[11:16], s["officer"],
                                                                s["method"])
           for r in report["rounds"] for team in r["teams"] for s in team["stops"]}
    assert got == {
        (1, 1, "k1"): (1, "22:05", "on_time", "22:20", "officer-zhang", "qr"),
        (1, 1, "k2"): (2, "22:15", "late", "22:31", "officer-zhang", "gps"),
        (1, 1, "k3"): (3, "22:18", "missed", "", None, None),
        (1, 2, "k4"): (1, "22:02", "late", "01:10", "officer-li", "gps"),
        (2, 1, "k1"): (1, "02:05", "on_time", "02:04", "officer-zhang", "gps"),
        (2, 1, "k2"): (2, "02:15", "pending", "", None, None),
        (2, 1, "k3"): (3, "02:18", "pending", "", None, None),
        (2, 2, "k4"): (1, "02:02", "pending", "", None, None),
    }
    assert report["totals"] == {"on_time": 2, "late": 2, "missed": 1, "pending": 3}
    assert report["rounds"][0]["totals"] == {"on_time": 1, "late": 2, "missed": 1, "pending": 0}
    stop = report["rounds"][0]["teams"][0]["stops"][1]
    assert (stop["name"], stop["checkins"], stop["lon"], stop["lat"]) == ("食堂门口", 2, 116.3524, 40.0008)
    # Once the shift is over, whatever was not done is missed; the officer reads it too.
    clock.set(local(2026, 11, 24, 6, 0))
    assert officer.get(f"/api/routes/{site['route']}/shifts/2026-11-23").get_json()["totals"] == {
        "on_time": 2, "late": 2, "missed": 4, "pending": 0}
    # A day the route does not run, and a date that is no date.
    route = db.session.get(PatrolRoute, site["route"])
    route.shift_days = [1, 2, 3, 4, 5]
    db.session.commit()
    saturday = lead.get(f"/api/routes/{site['route']}/shifts/2026-11-28")
    assert saturday.status_code == 422 and "no shift on 2026-11-28" in saturday.get_json()["message"]
    assert lead.get(f"/api/routes/{site['route']}/shifts/2026-13-01").status_code == 400


def test_tracks_become_one_line_per_officer(app: Flask, site: dict[str, Any], lead: FlaskClient,
                                            officer: FlaskClient, clock: Clock) -> None:
    route = site["route"]
    li = signed_in_client(app, "officer-li", "patrol_officer", university=UNI)
    clock.set(local(2026, 11, 24, 0, 30))
    points = [[116.3500, 40.0006, "2026-11-24T00:20:00+08:00", 5],
              [116.3495, 40.0006, "2026-11-24T00:10:00+08:00"],  # sent out of order
              [116.3510, 40.0010, "2026-11-24T00:29:00+08:00", None],
              [116.3520, 40.0010, "2026-11-23T21:50:00+08:00", 4]]  # before the shift: skipped
    response = officer.post(f"/api/routes/{route}/track", json={"points": points})
    assert response.status_code == 201, response.get_json()
    assert response.get_json() == {"stored": 3, "skipped_outside_shift": 1, "shift_dates": ["2026-11-23"]}
    assert li.post(f"/api/routes/{route}/track", json={"points": [
        [116.3530, 40.0016, "2026-11-24T00:11:00+08:00"], [116.3531, 40.0017, "2026-11-24T00:12:00+08:00"]]}
    ).status_code == 201
    tracks = lead.get(f"/api/routes/{route}/shifts/2026-11-23").get_json()["tracks"]
    assert tracks["type"] == "FeatureCollection"
    lines = {f["properties"]["officer"]: f for f in tracks["features"]}
    assert set(lines) == {"officer-li", "officer-zhang"}
    zhang = lines["officer-zhang"]
    assert zhang["geometry"] == {"type": "LineString",
                                 "coordinates": [[116.3495, 40.0006], [116.35, 40.0006], [116.351, 40.001]]}
    assert (zhang["properties"]["start"], zhang["properties"]["end"], zhang["properties"]["points"]) == (
        "2026-11-24T00:10:00+08:00", "2026-11-24T00:29:00+08:00", 3)
    # An officer sees their own track only.
    own = officer.get(f"/api/routes/{route}/shifts/2026-11-23").get_json()["tracks"]["features"]
    assert [f["properties"]["officer"] for f in own] == ["officer-zhang"]
    stored = db.session.scalars(select(PatrolTrackPoint).order_by(PatrolTrackPoint.at)).all()
    assert [(p.officer, p.shift_date, p.accuracy_m) for p in stored[:2]] == [
        ("officer-zhang", dt.date(2026, 11, 23), None), ("officer-li", dt.date(2026, 11, 23), None)]
    # Bad points are refused whole, naming the point.
    before = len(stored)
    bad = officer.post(f"/api/routes/{route}/track", json={"points": [points[0], [116.35, 95.0, points[0][2]]]})
    assert bad.status_code == 400 and "points[1]" in bad.get_json()["message"]
    too_many = officer.post(f"/api/routes/{route}/track", json={"points": [points[0]] * 2001})
    assert too_many.status_code == 400 and "2000" in too_many.get_json()["message"]
    future = officer.post(f"/api/routes/{route}/track", json={"points": [[116.35, 40.0, "2026-11-24T00:40:00+08:00"]]})
    assert future.status_code == 422 and "points[0]" in future.get_json()["message"]
    assert db.session.scalar(select(func.count()).select_from(PatrolTrackPoint)) == before


# ---------------------------------------------------------------- the missed-checkpoint report


def test_the_missed_report_per_day_and_officer(app: Flask, site: dict[str, Any], lead: FlaskClient,
                                               officer: FlaskClient, clock: Clock) -> None:
    li = signed_in_client(app, "officer-li", "patrol_officer", university=UNI)
    route = db.session.get(PatrolRoute, site["route"])
    route.name = "=HYPERLINK(\"http://x\")"  # a name a spreadsheet would run
    db.session.commit()
    script_night(site, lead, officer, li, clock)
    clock.set(local(2026, 11, 25, 12, 0))  # the shifts of the 23rd and the 24th are over
    response = lead.get("/api/patrol/missed?campus=mini&from=2026-11-23&to=2026-11-24")
    assert response.status_code == 200, response.get_json()
    report = response.get_json()
    cp = site["cp"]
    summary = [(r["shift_date"], r["team"], r["officer"], r["missed"], r["planned"],
                [(s["visit"], s["checkpoint"]) for s in r["stops"]]) for r in report["rows"]]
    # 23rd: team 1 (zhang) missed k3 in round 1 and k2, k3 in round 2; team 2 (li) missed k4 in round 2.
    # 24th: nobody checked in, every stop of both rounds missed.
    assert summary == [
        ("2026-11-23", 1, "officer-zhang", 3, 6, [(1, cp["k3"]), (2, cp["k2"]), (2, cp["k3"])]),
        ("2026-11-23", 2, "officer-li", 1, 2, [(2, cp["k4"])]),
        ("2026-11-24", 1, None, 6, 6, [(1, cp["k1"]), (1, cp["k2"]), (1, cp["k3"]),
                                       (2, cp["k1"]), (2, cp["k2"]), (2, cp["k3"])]),
        ("2026-11-24", 2, None, 2, 2, [(1, cp["k4"]), (2, cp["k4"])]),
    ]
    assert report["totals"] == {"planned": 16, "missed": 12}
    assert report["rows"][0]["stops"][0] == {"visit": 1, "seq": 3, "checkpoint": cp["k3"], "name": "北楼",
                                             "planned_at": "2026-11-23T22:18:00+08:00"}
    assert report["officers"] == [{"officer": None, "missed": 8, "shifts": 2},
                                  {"officer": "officer-zhang", "missed": 3, "shifts": 1},
                                  {"officer": "officer-li", "missed": 1, "shifts": 1}]
    # CSV: UTF-8 with a BOM, one line per missed stop, formulas defused.
    response = lead.get("/api/patrol/missed?campus=mini&from=2026-11-23&to=2026-11-24&format=csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(response.data.decode("utf-8-sig"))))
    assert len(rows) == 12
    assert {r["route"] for r in rows} == {"'=HYPERLINK(\"http://x\")"}
    assert [(r["shift_date"], r["officer"], r["visit"], r["checkpoint"]) for r in rows[:4]] == [
        ("2026-11-23", "officer-zhang", "1", "北楼"), ("2026-11-23", "officer-zhang", "2", "食堂门口"),
        ("2026-11-23", "officer-zhang", "2", "北楼"), ("2026-11-23", "officer-li", "2", "东门")]
    assert rows[4]["officer"] == "(nobody checked in)" and rows[4]["planned_at"] == "2026-11-24T22:05:00+08:00"
    plain = lead.get("/api/patrol/missed?campus=mini&from=2026-11-23&to=2026-11-24&format=csv&encoding=utf-8")
    assert not plain.data.startswith(b"\xef\xbb\xbf") and plain.data.decode("utf-8") == response.data.decode(
        "utf-8-sig")


def test_the_missed_report_leaves_out_rounds_not_over_and_checks_its_range(
        app: Flask, site: dict[str, Any], lead: FlaskClient, clock: Clock) -> None:
    clock.set(local(2026, 11, 24, 3, 0))  # round 1 of the 23rd's shift is over, round 2 is not
    report = lead.get("/api/patrol/missed?campus=mini&from=2026-11-23&to=2026-11-24").get_json()
    assert [(r["shift_date"], r["team"], r["missed"]) for r in report["rows"]] == [
        ("2026-11-23", 1, 3), ("2026-11-23", 2, 1)]
    # A route saved in the middle of a shift does not count the rounds that began before it.
    route = db.session.get(PatrolRoute, site["route"])
    route.created_at = local(2026, 11, 23, 23, 0)
    db.session.commit()
    assert lead.get("/api/patrol/missed?campus=mini&from=2026-11-23&to=2026-11-24").get_json()["rows"] == []
    for query in ("from=2026-08-01&to=2026-11-02", "from=2026-11-24&to=2026-11-23", "from=2026-11-31",
                  "format=xml", "format=csv&encoding=latin-1"):
        assert lead.get(f"/api/patrol/missed?campus=mini&{query}").status_code == 400, query
    # 93 days is the most.
    assert lead.get("/api/patrol/missed?campus=mini&from=2026-08-03&to=2026-11-03").status_code == 200



# ---------------------------------------------------------------- end to end through the saved-routes API


def test_a_route_saved_through_the_api_is_walked_and_reported(app: Flask, site: dict[str, Any], lead: FlaskClient,
                                                              officer: FlaskClient, clock: Clock) -> None:
    cp = site["cp"]
    saved = lead.post("/api/routes", json={
        "campus": "mini", "name": "Saved night round", "checkpoints": [cp["k1"], cp["k2"]], "start": [116.3508, 40.0006],
        "shift": {"start": "22:00", "end": "06:00", "days": [1, 2, 3, 4, 5], "visits": 2},
        "checkin_radius_m": 25, "late_after_min": 10})
    assert saved.status_code == 201, saved.get_json()
    answer = saved.get_json()
    route_id = answer["route"]["id"]
    [tour] = answer["features"]
    order, legs, speed = tour["properties"]["order"], tour["properties"]["legs_m"], answer["speed_m_per_min"]
    # The planned times follow the saved plan: round start (22:00) + cumulative legs / speed.
    first_stop = local(2026, 11, 23, 22, 0) + dt.timedelta(minutes=legs[0] / speed)
    second_planned = first_stop + dt.timedelta(minutes=legs[1] / speed)
    clock.set(first_stop + dt.timedelta(minutes=3))
    done = officer.post(f"/api/routes/{route_id}/checkins", json={"checkpoint": order[0],
                                                                 "position": position_of(order[0]), "accuracy_m": 4})
    assert done.status_code == 201, done.get_json()
    assert done.get_json()["status"] == "on_time"
    assert abs(dt.datetime.fromisoformat(done.get_json()["planned_at"]) - first_stop) < dt.timedelta(seconds=1)
    report = lead.get(f"/api/routes/{route_id}/shifts/2026-11-23").get_json()
    stops = report["rounds"][0]["teams"][0]["stops"]
    assert [s["checkpoint"] for s in stops] == order
    assert [s["status"] for s in stops] == ["on_time", "pending"]
    assert abs(dt.datetime.fromisoformat(stops[1]["planned_at"]) - second_planned) < dt.timedelta(seconds=1)
    assert report["shift"]["days"] == [1, 2, 3, 4, 5] and report["route"]["checkin_radius_m"] == 25
    # The QR sheet prints the stops in the saved order.
    sheet = lead.get(f"/patrol/routes/{route_id}/qr").get_data(as_text=True)
    assert [c for c, *_ in plaques(sheet)] == order
