"""The patrol lead's planning page (/patrol) in a real browser, signed in as a patrol lead of the
sample campus: stops picked by clicking checkpoints and the map, a start, routes planned for one
and two teams and drawn as the API answered, a route saved with its shift and loaded again after a
reload; and the page on a phone.
"""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import LiveServer, check_phone_panel, open_page, set_view, shot, wait_idle, watch

pytestmark = pytest.mark.browser

LEAD = "lead-zhou"
MAP = "window[document.querySelector('.folium-map').id]"


@pytest.fixture
def lead(user_contexts: Any) -> Any:
    tab = user_contexts(LEAD, "patrol_lead").new_page()
    tab.trouble = watch(tab)
    return tab


def stop_count(page: Any) -> int:
    return page.evaluate("() => window.patrolmap.patrolTools.state.stops.length")


def click_latlng(page: Any, lat: float, lon: float) -> None:
    """A real mouse click where the map shows (lat, lon)."""
    x, y = page.evaluate(f"""([lat, lon]) => {{
        const m = {MAP}; const p = m.latLngToContainerPoint([lat, lon]);
        const r = m.getContainer().getBoundingClientRect(); return [r.left + p.x, r.top + p.y]; }}""", [lat, lon])
    page.mouse.click(x, y)


def checkpoints_on_screen(page: Any) -> list[dict[str, Any]]:
    """The stored checkpoints drawn in the view, with no other point marker within 14 px (clickable alone)."""
    return page.evaluate(f"""() => {{
        const m = {MAP}; const size = m.getSize(); const points = [];
        const all = [];
        ['checkpoints', 'duty-posts', 'chargers'].forEach(id => {{
            const layer = window.patrolmap.layer(id);
            if (layer && layer._map) layer.eachLayer(l => {{ if (l.feature) all.push({{id, l}}); }});
        }});
        all.forEach(({{id, l}}) => {{
            if (id !== 'checkpoints') return;
            const p = m.latLngToContainerPoint(l.getLatLng());
            if (p.x < 30 || p.y < 30 || p.x > size.x - 60 || p.y > size.y - 60) return;
            const crowded = all.some(o => o.l !== l &&
                m.latLngToContainerPoint(o.l.getLatLng()).distanceTo(p) < 14);
            if (!crowded) points.push({{id: l.feature.id, name: l.feature.properties.name,
                                        lat: l.getLatLng().lat, lon: l.getLatLng().lng, kind: l.feature.properties.kind}});
        }});
        return points;
    }}""")


def plan(page: Any) -> dict[str, Any]:
    with page.expect_response(lambda r: r.url.endswith("/api/routes/plan")) as answer:
        page.locator("#pm-plan-form button[type=submit]").click()
    wait_idle(page)
    assert answer.value.status == 200, answer.value.text()
    return answer.value.json()


def drawn(page: Any) -> dict[str, int]:
    return page.evaluate("""() => { const s = window.patrolmap.patrolTools.state;
        return {lines: s.lineLayer.getLayers().length, numbers: s.numberLayer.getLayers().length,
                arrows: s.arrowLayer.getLayers().length}; }""")


START = (40.0025, 116.3510)  # on a footway in the middle of the campus


def pick_stops(page: Any, *, start_on_map: bool = False) -> list[int]:
    """Four checkpoints by clicking their markers, one free point by clicking the map; the start a gate
    chosen from the list, or a point clicked on the map."""
    set_view(page, 40.0035, 116.3515, 17)
    if start_on_map:
        page.locator("#pm-plan-form [data-role=set-start]").click()
        click_latlng(page, *START)
        start = page.evaluate("() => window.patrolmap.patrolTools.state.start")
        assert start["id"] is None and abs(start["lat"] - START[0]) < 1e-5 and abs(start["lon"] - START[1]) < 1e-5
        assert stop_count(page) == 0  # setting the start adds no stop
    else:
        page.locator("#pm-plan-form select[name=start]").select_option(label="南门")
    page.locator("#pm-plan-form [data-role=pick]").click()
    picked: list[int] = []
    for cp in checkpoints_on_screen(page):
        if cp["kind"] == "gate" or len(picked) == 4:
            continue
        click_latlng(page, cp["lat"], cp["lon"])
        assert stop_count(page) == len(picked) + 1, cp
        picked.append(cp["id"])
    assert len(picked) == 4
    click_latlng(page, 40.0040, 116.3520)  # a free point
    assert stop_count(page) == 5
    assert page.locator(".leaflet-popup").count() == 0, page.locator(".leaflet-popup").inner_text()  # picking opens no popups
    page.locator("#pm-plan-form [data-role=pick]").click()
    assert page.locator("#pm-plan-form [data-role=stops] li").count() == 5
    return picked


def test_plan_for_one_and_two_teams(live: LiveServer, lead: Any) -> None:
    open_page(lead, live.url + "/patrol")
    assert lead.locator("#pm-patrol-tools").is_visible()
    picked = pick_stops(lead)
    data = plan(lead)
    [route] = data["features"]
    order = route["properties"]["order"]
    # a free point among the stops: the page sent [lon, lat] points, so the order names indices
    assert sorted(order) == [0, 1, 2, 3, 4] and data["unreachable"] == []
    state = lead.evaluate("() => window.patrolmap.patrolTools.state.stops.map(s => s.id)")
    assert state[:4] == picked
    counts = drawn(lead)
    assert counts["lines"] == 1 and counts["numbers"] == 5 and counts["arrows"] > 5
    numbers = lead.evaluate("""() => window.patrolmap.patrolTools.state.numberLayer.getLayers()
        .map(l => l.getElement().textContent).sort((a, b) => a - b)""")
    assert numbers == ["1", "2", "3", "4", "5"]
    length = lead.locator("#pm-plan-form [data-role=totals] td.pm-length")
    assert length.count() == 1
    assert length.inner_text() == f"{route['properties']['length_m']} m"
    assert lead.locator("#pm-plan-form [data-role=totals] td.pm-minutes").inner_text() == \
        f"{route['properties']['duration_min']} min"
    # what the route passes is listed as the API said
    assert lead.locator("#pm-plan-form [data-role=zones] li").count() == max(1, len(data["coverage"]["zones"]))
    assert lead.locator("#pm-plan-form [data-role=buildings] li").count() == max(1, len(data["coverage"]["buildings"]))
    shot(lead, "patrol-one-team")

    lead.locator("#pm-plan-form input[name=teams]").fill("2")
    two = plan(lead)
    assert len(two["features"]) == 2
    assert sorted(i for f in two["features"] for i in f["properties"]["order"]) == [0, 1, 2, 3, 4]
    counts = drawn(lead)
    assert counts["lines"] == 2 and counts["numbers"] == 5
    lengths = lead.locator("#pm-plan-form [data-role=totals] td.pm-length")
    assert [lengths.nth(i).inner_text() for i in range(2)] == [f"{f['properties']['length_m']} m"
                                                              for f in two["features"]]
    colours = lead.evaluate("() => window.patrolmap.patrolTools.state.lineLayer.getLayers().map(l => l.options.color)")
    assert len(set(colours)) == 2
    shot(lead, "patrol-two-teams")

    # All canteens added at once, and the violation hotspots passed too.
    form = lead.locator("#pm-plan-form")
    form.locator("input[name=kinds][value=canteen]").check()
    with lead.expect_response(lambda r: "/api/routes/candidates" in r.url) as answer:
        form.locator("[data-role=find]").click()
    wait_idle(lead)
    canteens = [b for b in answer.value.json()["buildings"] if b["visit"]]
    assert canteens and form.locator("[data-role=found-list] li").count() == len(answer.value.json()["buildings"])
    form.locator("[data-role=add-buildings]").click()
    assert stop_count(lead) == 5 + len(canteens)
    assert drawn(lead)["lines"] == 0  # the stops changed: the old plan is gone
    form.locator("input[name=hotspots]").check()
    data = plan(lead)
    visited = [s for f in data["features"] for s in f["properties"]["order"]]
    hotspot_stops = [s for s in visited if isinstance(s, str)]
    assert hotspot_stops and len(visited) == 5 + len(canteens) + len(hotspot_stops)
    assert drawn(lead)["numbers"] == len(visited)
    listed = form.locator("[data-role=hotspots] li")
    assert listed.count() == len(data["coverage"]["hotspots"])
    assert form.locator("[data-role=hotspots] li.pm-problem").count() == sum(
        1 for h in data["coverage"]["hotspots"] if not h["covered"])
    assert not lead.trouble.report(), lead.trouble.report()
    shot(lead, "patrol-hotspots")


def test_save_reload_and_load_a_route(live: LiveServer, lead: Any) -> None:
    open_page(lead, live.url + "/patrol")
    pick_stops(lead, start_on_map=True)
    sent = plan(lead)
    assert sent["unreachable"] == []
    save = lead.locator("#pm-save-form")
    save.locator("input[name=name]").fill("夜间巡逻 <b>A</b>")
    save.locator("input[name=shift_start]").fill("22:00")
    save.locator("input[name=shift_end]").fill("06:00")
    save.locator("input[name=visits]").fill("2")
    save.locator("input[name=days][value='7']").uncheck()
    with lead.expect_response(lambda r: r.url.endswith("/api/routes") and r.request.method == "POST") as answer:
        save.locator("[data-role=save]").click()
    wait_idle(lead)
    if answer.value.status == 404:
        pytest.fail("POST /api/routes answered 404: the saved-routes API (helper H1) is not registered yet")
    assert answer.value.status == 201, answer.value.text()
    saved = answer.value.json()
    route = saved["route"]
    assert route["name"] == "夜间巡逻 <b>A</b>" and route["shift"]["days"] == [1, 2, 3, 4, 5, 6]
    assert route["shift"]["start"] == "22:00" and route["shift"]["visits"] == 2
    assert len(route["checkpoints"]) == 5  # the free point became a checkpoint of its own
    assert route["start"]["checkpoint"] is None
    assert (route["start"]["lat"], route["start"]["lon"]) == pytest.approx(START, abs=1e-5)
    assert "version 1" in save.locator("[data-role=editing]").inner_text()

    lead.reload(wait_until="networkidle")
    wait_idle(lead)
    item = lead.locator(f"#pm-saved-routes li[data-route-id='{route['id']}']")
    assert item.locator("button.pm-load").inner_text() == "夜间巡逻 <b>A</b>"  # shown as text, not markup
    hrefs = [item.locator("a").nth(i).get_attribute("href") for i in range(3)]
    assert hrefs == [f"/api/routes/{route['id']}.gpx", f"/api/routes/{route['id']}.geojson",
                     f"/patrol/routes/{route['id']}/sheet"]
    assert drawn(lead)["lines"] == 0
    with lead.expect_response(lambda r: r.url.endswith(f"/api/routes/{route['id']}")) as loaded:
        item.locator("button.pm-load").click()
    wait_idle(lead)
    again = loaded.value.json()
    stops = sum(len(f["properties"]["order"]) for f in again["features"])
    assert stops == 5
    counts = drawn(lead)
    assert counts["lines"] == len(again["features"]) and counts["numbers"] == stops
    assert lead.locator("#pm-save-form input[name=name]").input_value() == "夜间巡逻 <b>A</b>"
    assert lead.locator("#pm-save-form input[name=shift_end]").input_value() == "06:00"
    assert lead.locator("#pm-plan-form [data-role=stops] li").count() == 5
    # edited and saved again: a PUT with the version read
    lead.locator("#pm-save-form input[name=visits]").fill("3")
    with lead.expect_response(lambda r: r.url.endswith(f"/api/routes/{route['id']}")
                              and r.request.method == "PUT") as put:
        lead.locator("#pm-save-form [data-role=save]").click()
    wait_idle(lead)
    assert put.value.status == 200, put.value.text()
    assert put.value.request.post_data_json["version"] == route["version"]
    assert put.value.json()["route"]["shift"]["visits"] == 3
    assert not lead.trouble.report(), lead.trouble.report()
    shot(lead, "patrol-saved-route")


def test_phone_layout(live: LiveServer, user_contexts: Any) -> None:
    phone = user_contexts(LEAD, "patrol_lead", (390, 844), is_mobile=True, has_touch=True).new_page()
    phone.trouble = watch(phone)
    open_page(phone, live.url + "/patrol")
    check_phone_panel(phone, "#pm-patrol-details", "#pm-patrol-tools", "patrol")
    assert phone.locator("#pm-plan-form button[type=submit]").is_visible() or \
        phone.locator("#pm-patrol-tools").evaluate("p => p.scrollHeight > p.clientHeight")
    assert not phone.trouble.report(), phone.trouble.report()
