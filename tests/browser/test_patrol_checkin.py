"""Patrol execution in a real Chromium: an officer's phone at a stop checks in by GPS on the walk page and
shares a track, a printed plaque (rasterised by the browser, decoded by zxing-cpp) opens the check-in page,
and the lead's shift view on /patrol shows both on time.

Each route is made through the ORM with a shift that began a minute ago, so "on time" is the real answer.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
import shapely
from sqlalchemy import select

from .conftest import LiveServer, open_page, shot, wait_idle, watch

pytestmark = pytest.mark.browser
SH = zoneinfo.ZoneInfo("Asia/Shanghai")
GREEN, GREY = "#1a9641", "#9e9e9e"
QR_PIXELS = 400


def _route(live: LiveServer, name: str) -> dict[str, Any]:
    """Three checkpoints of the sample campus as one team's tour; the shift began a minute ago.

    Legs 80, 100, 120 (and 150 back) m at 80 m/min: stops planned 1, 2.25 and 3.75 minutes in, due 15 minutes later.
    """
    from patrolmap.extensions import db
    from patrolmap.models import Campus, Checkpoint, PatrolRoute

    with live.app.app_context():
        campus = db.session.scalars(select(Campus).where(Campus.slug == "cau-east")).one()
        points = db.session.scalars(select(Checkpoint).where(Checkpoint.campus_id == campus.id)
                                    .order_by(Checkpoint.id).limit(3)).all()
        start = dt.datetime.now(SH).replace(second=0, microsecond=0) - dt.timedelta(minutes=1)
        end = start + dt.timedelta(hours=3)
        legs = [80.0, 100.0, 120.0, 150.0]
        ids = [p.id for p in points]
        route = PatrolRoute(
            campus_id=campus.id, name=name, mode="walk", start_lon=points[0].geom.x, start_lat=points[0].geom.y,
            checkpoint_ids=ids, teams=1, speed_m_per_min=80.0, length_m=sum(legs), geom=shapely.LineString(
                [(p.geom.x, p.geom.y) for p in points]),
            plan={"routes": [{"team": 1, "order": ids, "legs_m": legs, "length_m": sum(legs),
                              "duration_min": sum(legs) / 80}], "unreachable": [], "not_fitted": []},
            shift_start=start.strftime("%H:%M"), shift_end=end.strftime("%H:%M"), shift_days=[1, 2, 3, 4, 5, 6, 7],
            visits_per_shift=1, checkin_radius_m=30.0, late_after_min=15.0, created_by=LiveServer.USERNAME,
            created_at=dt.datetime.now(dt.UTC) - dt.timedelta(hours=1))
        db.session.add(route)
        db.session.commit()
        made = {"id": route.id, "shift_date": start.date().isoformat(),
                "stops": [(p.id, p.name, p.geom.x, p.geom.y) for p in points]}
        db.session.remove()
    return made


def _retire(live: LiveServer, route_id: int) -> None:
    """Soft-delete the route, so other tests on this shared server do not list it."""
    from patrolmap.extensions import db
    from patrolmap.models import PatrolRoute

    with live.app.app_context():
        db.session.get(PatrolRoute, route_id).deleted_at = dt.datetime.now(dt.UTC)
        db.session.commit()
        db.session.remove()


def _rows(live: LiveServer, model: Any, route_id: int) -> list[Any]:
    from patrolmap.extensions import db

    with live.app.app_context():
        rows = db.session.scalars(select(model).where(model.route_id == route_id).order_by(model.id)).all()
        db.session.expunge_all()
        db.session.remove()
    return list(rows)


@pytest.fixture
def route(live: LiveServer, request: pytest.FixtureRequest) -> Iterator[dict[str, Any]]:
    made = _route(live, f"Browser round {request.node.name}")
    yield made
    _retire(live, made["id"])


def _phone(browser: Any, live: LiveServer, lon: float, lat: float) -> Any:
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True,
                                  locale="en-US", permissions=["geolocation"],
                                  geolocation={"longitude": lon, "latitude": lat, "accuracy": 5})
    live.sign_in(context)
    return context


def _shift_view(browser: Any, live: LiveServer, route: dict[str, Any]) -> tuple[Any, Any, dict[str, Any]]:
    """The lead's /patrol page with the route's shift shown; returns the context, the page and the API's answer."""
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="en-US")
    live.sign_in(context)
    page = context.new_page()
    page.trouble = watch(page)
    open_page(page, live.url + "/patrol")
    tool = page.locator("#pm-shift-tools")
    tool.locator(f'select[name=route] option[value="{route["id"]}"]').wait_for(state="attached")
    tool.locator("select[name=route]").select_option(str(route["id"]))
    tool.locator("input[name=date]").fill(route["shift_date"])
    with page.expect_response(lambda r: f"/api/routes/{route['id']}/shifts/" in r.url) as answer:
        tool.locator("[data-role=show]").click()
    wait_idle(page)
    assert answer.value.status == 200, answer.value.text()
    return context, page, answer.value.json()


def test_an_officer_checks_in_by_gps_on_the_walk_page_and_the_lead_sees_it_on_time(
        browser: Any, live: LiveServer, route: dict[str, Any]) -> None:
    from patrolmap.models import PatrolCheckin, PatrolTrackPoint

    first, second, _ = route["stops"]
    context = _phone(browser, live, first[2], first[3])
    page = context.new_page()
    page.trouble = watch(page)
    page.goto(f"{live.url}/patrol/routes/{route['id']}/walk?team=1", wait_until="networkidle")
    page.wait_for_function("() => window.patrolmap.walk && window.patrolmap.walk.refreshed >= 1")
    stops = page.locator("li[data-checkpoint]")
    assert stops.count() == 3
    assert [stops.nth(i).get_attribute("data-status") for i in range(3)] == ["pending"] * 3
    stop = page.locator(f'li[data-checkpoint="{first[0]}"]')
    stop.locator("[data-role=checkin]").click()
    page.wait_for_function("() => window.patrolmap.walk.refreshed >= 2")
    assert stop.get_attribute("data-status") == "on_time"
    assert "on time" in stop.locator("[data-role=status]").inner_text()
    assert "checked in" in stop.locator("[data-role=status]").inner_text()
    assert stop.locator("[data-role=error]").inner_text() == ""
    [checkin] = _rows(live, PatrolCheckin, route["id"])
    assert (checkin.checkpoint_id, checkin.method, checkin.officer, checkin.visit) == (
        first[0], "gps", LiveServer.USERNAME, 1)
    assert checkin.distance_m < 1 and checkin.accuracy_m == 5
    # Share the track: the phone walks on to the second stop, and the positions arrive in one batch.
    page.locator("[data-role=track]").check()
    page.wait_for_function("() => window.patrolmap.walk.buffered() >= 1")
    context.set_geolocation({"longitude": second[2], "latitude": second[3], "accuracy": 6})
    page.wait_for_function("() => window.patrolmap.walk.buffered() >= 2")
    page.evaluate("() => window.patrolmap.walk.flushTrack()")
    page.wait_for_function("() => window.patrolmap.walk.buffered() === 0 && window.patrolmap.pending === 0")
    assert "sent" in page.locator("[data-role=track-status]").inner_text()
    track = _rows(live, PatrolTrackPoint, route["id"])
    assert {(p.lon, p.lat) for p in track} == {(first[2], first[3]), (second[2], second[3])}
    shot(page, "patrol-walk-phone")
    assert not page.trouble.page_errors and not page.trouble.blocked_requests, page.trouble.report()
    context.close()

    # The lead's shift view: the first stop green (on time), the others grey (pending), the track drawn.
    context, page, data = _shift_view(browser, live, route)
    rows = page.locator("#pm-shift-tools [data-role=stops] tbody tr")
    assert rows.count() == 3
    assert [rows.nth(i).get_attribute("data-status") for i in range(3)] == ["on_time", "pending", "pending"]
    assert "on time" in rows.nth(0).inner_text()
    markers = page.evaluate("""() => window.patrolmap.patrolShifts.state.stopLayer.getLayers()
        .map(l => [l.pmCheckpoint, l.options.fillColor])""")
    assert dict(markers) == {first[0]: GREEN, second[0]: GREY, route["stops"][2][0]: GREY}
    assert page.evaluate("() => window.patrolmap.patrolShifts.state.trackLayer.getLayers().length") == 1
    assert data["totals"] == {"on_time": 1, "late": 0, "missed": 0, "pending": 2}
    assert "1 on time, 0 late, 0 missed, 2 pending" in page.locator("#pm-shift-tools [data-role=summary]").inner_text()
    links = page.locator("#pm-shift-tools [data-role=links]")
    assert links.locator("[data-role=qr]").get_attribute("href") == f"/patrol/routes/{route['id']}/qr"
    assert links.locator("[data-role=walk]").get_attribute("href") == f"/patrol/routes/{route['id']}/walk"
    assert "format=csv" in links.locator("[data-role=missed]").get_attribute("href")
    shot(page, "patrol-shift-view")
    assert not page.trouble.page_errors and not page.trouble.blocked_requests, page.trouble.report()
    context.close()


RASTERISE = """async ([index, size]) => {
    const svg = document.querySelectorAll('.pm-plaque-code svg')[index].cloneNode(true);
    svg.setAttribute('width', size);
    svg.setAttribute('height', size);
    const image = new Image();
    image.src = 'data:image/svg+xml;charset=utf-8,' + encodeURIComponent(new XMLSerializer().serializeToString(svg));
    await image.decode();
    const canvas = document.createElement('canvas');
    canvas.width = canvas.height = size;
    const ctx = canvas.getContext('2d');
    ctx.fillStyle = '#fff';
    ctx.fillRect(0, 0, size, size);
    ctx.drawImage(image, 0, 0, size, size);
    const rgba = ctx.getImageData(0, 0, size, size).data;
    const grey = [];
    for (let i = 0; i < rgba.length; i += 4) grey.push(rgba[i]);
    return grey;
}"""


def test_a_printed_plaque_scans_to_a_check_in(browser: Any, live: LiveServer, page: Any,
                                              route: dict[str, Any]) -> None:
    import zxingcpp

    from patrolmap.extensions import db
    from patrolmap.models import CheckpointTag, PatrolCheckin

    open_page(page, f"{live.url}/patrol/routes/{route['id']}/qr")
    assert page.locator(".pm-plaque").count() == 3
    grey = page.evaluate(RASTERISE, [1, QR_PIXELS])  # the second stop's plaque, drawn by Chromium
    [code] = zxingcpp.read_barcodes(np.array(grey, dtype=np.uint8).reshape(QR_PIXELS, QR_PIXELS))
    second = route["stops"][1]
    with live.app.app_context():
        token = db.session.scalars(select(CheckpointTag.token).where(CheckpointTag.checkpoint_id == second[0],
                                                                     CheckpointTag.retired_at.is_(None))).one()
        db.session.remove()
    assert code.text == f"{live.url}/patrol/checkin/{token}"
    shot(page, "patrol-qr-sheet")
    # The officer's phone is far from the stop (no GPS fix near it): the plaque alone is the proof.
    context = _phone(browser, live, second[2] + 0.01, second[3])
    phone = context.new_page()
    phone.trouble = watch(phone)
    phone.goto(code.text, wait_until="networkidle")
    assert second[1] in phone.locator("h1").inner_text()
    item = phone.locator(f'li[data-route="{route["id"]}"]')
    item.locator("[data-role=checkin]").click()
    phone.wait_for_function("() => document.querySelector('[data-role=result]').textContent.startsWith('Checked in')")
    assert item.locator("[data-role=result]").inner_text() == "Checked in: on time"
    [checkin] = _rows(live, PatrolCheckin, route["id"])
    assert (checkin.checkpoint_id, checkin.method) == (second[0], "qr")
    assert checkin.distance_m > 500  # the position was sent and kept, but the QR code decided
    shot(phone, "patrol-checkin-phone")
    assert not phone.trouble.page_errors and not phone.trouble.blocked_requests, phone.trouble.report()
    context.close()
