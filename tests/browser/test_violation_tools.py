"""Traffic staff's tools on /violations in a real browser: hotspots per hour window, offenders,
a plate's history, duty posts suggested and saved, a hotspot drawn and marked, a status change.

Each figure the page shows is checked against the API's answer and, where it matters, against
a count made straight from the database.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from .conftest import LiveServer, open_page, set_view, shot, wait_idle


def _db_count(live: LiveServer, model: Any, *where: Any) -> int:
    from patrolmap.extensions import db

    with live.app.app_context():
        value = db.session.scalar(select(func.count()).select_from(model).where(*where))
        db.session.remove()
    return int(value)


def _show(page: Any, hours: str) -> dict[str, Any]:
    form = page.locator("#pm-hotspot-form")
    form.locator("input[name=hours]").fill(hours)
    with page.expect_response(lambda r: "/api/violations/hotspots" in r.url) as answer:
        form.locator("button[type=submit]").click()
    wait_idle(page)
    assert answer.value.status == 200, answer.value.text()
    return answer.value.json()


def test_hotspots_follow_the_hour_window(live: LiveServer, page: Any) -> None:
    from patrolmap.models import Violation

    open_page(page, live.url + "/violations")
    morning = _show(page, "07:00-09:00")
    # The count is every live, not void violation of the campus observed 07:00-08:59 local time.
    live_rows = (Violation.deleted_at.is_(None), Violation.status != "void")
    expected = _db_count(live, Violation, *live_rows, Violation.local_hour.in_([7, 8]))
    assert morning["numberMatched"] == expected == sum(f["properties"]["count"] for f in morning["features"])
    drawn = page.evaluate("() => window.patrolmap.violationTools.state.hexLayer.getLayers().length")
    assert drawn == len(morning["features"]) > 0
    summary = page.locator("#pm-hotspot-form [data-role=summary]").inner_text()
    assert str(morning["numberMatched"]) in summary
    assert page.locator("#pm-hotspot-form [data-role=top] tbody tr").count() == len(morning["top"])
    shot(page, "violations-hotspots-morning")
    lunch = _show(page, "11:30-13:00")
    expected = _db_count(live, Violation, *live_rows,
                         (Violation.local_hour * 60 + Violation.local_minute).between(690, 779))
    assert lunch["numberMatched"] == expected != morning["numberMatched"]
    colours = page.evaluate("""() => {
        const out = {};
        window.patrolmap.violationTools.state.hexLayer.eachLayer(l => {
            out[l.options.fillColor] = (out[l.options.fillColor] || 0) + 1; });
        return out;
    }""")
    hot99 = sum(1 for f in lunch["features"] if f["properties"]["class"] == "hot_99")
    assert colours.get("#b2182b", 0) == hot99
    assert page.locator("#pm-hotspot-form [data-role=error]").inner_text() == ""
    # A bad window is refused by the API and its message shown beside the form.
    page.locator("#pm-hotspot-form input[name=hours]").fill("25:00-26:00")
    page.locator("#pm-hotspot-form button[type=submit]").click()
    page.wait_for_function("() => document.querySelector('#pm-hotspot-form [data-role=error]').textContent.length > 0")
    assert "25:00" in page.locator("#pm-hotspot-form [data-role=error]").inner_text()


def test_repeat_offender_history_on_the_map(live: LiveServer, page: Any) -> None:
    open_page(page, live.url + "/violations")
    tool = page.locator("#pm-offender-tool")
    tool.locator("input[name=min_count]").fill("3")
    with page.expect_response(lambda r: "/api/violations/repeat" in r.url) as answer:
        tool.locator("[data-role=repeat]").click()
    wait_idle(page)
    plates = answer.value.json()["plates"]
    assert plates, "the sample campus has repeat offenders"
    assert tool.locator("[data-role=list] li").count() == len(plates)
    first = plates[0]
    with page.expect_response(lambda r: "/api/violations/plate" in r.url) as history:
        tool.locator("[data-role=list] li button").first.click()
    wait_idle(page)
    points = history.value.json()["features"]
    assert len(points) >= first["count"]
    markers = page.evaluate("""() => window.patrolmap.violationTools.state.historyLayer.getLayers()
        .filter(l => l instanceof L.CircleMarker).length""")
    assert markers == len(points)
    shot(page, "violations-plate-history")


def test_duty_posts_suggested_and_saved(live: LiveServer, page: Any) -> None:
    from patrolmap.models import DutyPost

    open_page(page, live.url + "/violations")
    page.locator("#pm-hotspot-form input[name=hours]").fill("11:30-13:00")
    tool = page.locator("#pm-post-tool")
    tool.locator("input[name=k]").fill("2")
    with page.expect_response(lambda r: "/api/duty-posts/suggest" in r.url) as answer:
        tool.locator("[data-role=suggest]").click()
    wait_idle(page)
    suggested = answer.value.json()["features"]
    assert len(suggested) == 2
    assert tool.locator("[data-role=list] li").count() == 2
    before = _db_count(live, DutyPost)
    with page.expect_response(lambda r: r.url.endswith("/api/duty-posts") and r.request.method == "POST") as saved:
        tool.locator("[data-role=save]").click()
    wait_idle(page)
    assert saved.value.status == 201, saved.value.text()
    assert _db_count(live, DutyPost) == before + 2
    stored = saved.value.json()["features"]
    assert [f["geometry"]["coordinates"] for f in stored] == [f["geometry"]["coordinates"] for f in suggested]
    assert {f["properties"]["hours"] for f in stored} == {"11:30-13:00"}


def test_a_hotspot_drawn_and_marked(live: LiveServer, page: Any) -> None:
    from patrolmap.models import MarkedHotspot

    open_page(page, live.url + "/violations")
    set_view(page, 40.0035, 116.3500, 18)
    before = _db_count(live, MarkedHotspot)
    page.locator("#pm-marked-tool [data-role=draw]").click()
    assert page.locator(".leaflet-draw-tooltip").count() == 1  # drawing has started
    # The corners go in through Leaflet.draw's own handler: its mouse handling drops the
    # fourth click of a synthetic mouse in headless Chromium (touch mode), not a real one's.
    page.evaluate("""() => {
        const h = window.patrolmap.violationTools.state.drawing;
        [[40.0037, 116.3496], [40.0037, 116.3504], [40.0033, 116.3504], [40.0033, 116.3496]]
            .forEach(p => h.addVertex(L.latLng(p[0], p[1])));
        h.completeShape();
    }""")
    form = page.locator(".leaflet-popup-content form.pm-record-form")
    form.wait_for()
    form.locator("input[name=name]").fill("食堂门口")
    form.locator("select[name=kind]").select_option("peak_hour_post")
    form.locator("input[name=hours]").fill("11:30-13:00")
    with page.expect_response(lambda r: r.url.endswith("/api/hotspots") and r.request.method == "POST") as answer:
        form.evaluate("(f) => f.requestSubmit()")
    wait_idle(page)
    assert answer.value.status == 201, answer.value.text()
    assert _db_count(live, MarkedHotspot) == before + 1
    ring = answer.value.json()["geometry"]["coordinates"][0]
    assert len(ring) == 5  # four corners, closed
    assert page.locator("#pm-marked-tool [data-role=list] li", has_text="食堂门口").count() == 1
    shot(page, "violations-marked-hotspot")


def test_status_change_from_the_popup(live: LiveServer, page: Any) -> None:
    from patrolmap.models import Violation

    open_page(page, live.url + "/violations")
    one = page.context.request.get(live.url + "/api/layers/violations?limit=50").json()["features"]
    target = next(f for f in one if f["properties"]["status"] == "open")
    lon, lat = target["geometry"]["coordinates"]
    set_view(page, lat, lon, 20)
    page.evaluate("""(id) => {
        window.patrolmap.layer('violations').eachLayer(l => { if (l.feature && l.feature.id === id) l.openPopup(); });
    }""", target["id"])
    popup = page.locator(".leaflet-popup-content")
    popup.locator(".pm-status-form").wait_for()
    with page.expect_response(lambda r: r.url.endswith("/transition")) as answer:
        popup.locator("button.pm-status-notified").click()
    assert answer.value.status == 200, answer.value.text()
    assert _db_count(live, Violation, Violation.id == target["id"], Violation.status == "notified") == 1


def test_before_and_after(live: LiveServer, page: Any) -> None:
    open_page(page, live.url + "/violations")
    tool = page.locator("#pm-compare-tool")
    for name, value in (("before_from", "2026-09-01"), ("before_to", "2026-09-14"),
                        ("after_from", "2026-09-15"), ("after_to", "2026-09-28")):
        tool.locator(f"input[name={name}]").fill(value)
    with page.expect_response(lambda r: "/api/violations/compare" in r.url) as answer:
        tool.locator("[data-role=compare]").click()
    wait_idle(page)
    assert answer.value.status == 200, answer.value.text()
    data = answer.value.json()
    before, after = data["periods"]["before"], data["periods"]["after"]
    assert before["days"] == after["days"] == 14
    assert sum(f["properties"]["before"] for f in data["features"]) == before["violations"] > 0
    summary = tool.locator("[data-role=summary]").inner_text()
    assert str(before["violations"]) in summary and str(after["violations"]) in summary
    drawn = page.evaluate("() => window.patrolmap.violationTools.state.hexLayer.getLayers().length")
    assert drawn == len(data["features"])
    shot(page, "violations-before-after")
