"""The planner's charger tools on /chargers in a real browser, signed in as a planner of the sample campus:
coverage shown as the API answers it and following the walking distance and the kind, K suggested sites
with before/after coverage, scenarios saved, compared side by side, exported and deleted; the tools
offered by role as the access table says; and the page on a phone.

Every figure on the page is checked against the API's own answer (asked again by the test, not read
from the page's traffic where that is possible) and the API's figures against their parts.
"""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import LiveServer, check_phone_panel, open_page, shot, wait_idle, watch

pytestmark = pytest.mark.browser

PLANNER = "planner-li"
CAMPUS = "cau-east"
MAP = "window[document.querySelector('.folium-map').id]"


@pytest.fixture
def planner(user_contexts: Any) -> Any:
    tab = user_contexts(PLANNER, "planner").new_page()
    tab.trouble = watch(tab)
    return tab


def api(page: Any, live: LiveServer, path: str) -> dict[str, Any]:
    """The API's answer to the same question, asked by the test with the planner's session."""
    response = page.context.request.get(live.url + path)
    assert response.status == 200, response.text()
    return response.json()


def coverage_api(page: Any, live: LiveServer, kind: str, walk_m: int) -> dict[str, Any]:
    data = api(page, live, f"/api/chargers/coverage?campus={CAMPUS}&kind={kind}&walk_m={walk_m}&planned=false")
    # the answer agrees with itself: the share is the covered demand's weight over all demand's
    features = data["demand"]["features"]
    assert data["total_demand"] == pytest.approx(sum(f["properties"]["weight"] for f in features))
    assert data["covered_demand"] == pytest.approx(sum(f["properties"]["weight"] for f in features
                                                       if f["properties"]["covered"]))
    assert data["covered_share"] == pytest.approx(data["covered_demand"] / data["total_demand"], abs=1e-6)
    assert [u["id"] for u in data["uncovered"]] == [f["properties"]["id"] for f in sorted(
        (f for f in features if not f["properties"]["covered"]), key=lambda f: -f["properties"]["weight"])]
    return data


def drawn_demand(page: Any) -> dict[str, int]:
    """Demand markers on the map by fill colour (covered green, uncovered red)."""
    return page.evaluate("""() => { const out = {all: 0, covered: 0, uncovered: 0};
        window.patrolmap.chargerTools.state.demandLayer.eachLayer(l => { out.all += 1;
            if (l.options.fillColor === '#1a9641') out.covered += 1;
            if (l.options.fillColor === '#d7191c') out.uncovered += 1; });
        return out; }""")


def shown_share(page: Any) -> tuple[str, float]:
    share = page.locator("#pm-coverage-form [data-role=share]")
    return share.inner_text(), float(share.get_attribute("data-share"))


def assert_shows(page: Any, data: dict[str, Any]) -> None:
    """The page shows this coverage answer: the share, the markers by colour, the uncovered list in order."""
    text, share = shown_share(page)
    assert share == data["covered_share"]
    assert text == f"{data['covered_share'] * 100:.1f}%"
    covered = sum(1 for f in data["demand"]["features"] if f["properties"]["covered"])
    assert drawn_demand(page) == {"all": len(data["demand"]["features"]), "covered": covered,
                                  "uncovered": len(data["demand"]["features"]) - covered}
    items = page.locator("#pm-coverage-form [data-role=uncovered] li[data-demand-id]")
    assert [items.nth(i).get_attribute("data-demand-id") for i in range(items.count())] == \
        [u["id"] for u in data["uncovered"]]
    isochrones = page.evaluate("() => window.patrolmap.chargerTools.state.isoLayer.getLayers().length")
    assert isochrones == len(data["isochrones"]["features"])


def set_walk(page: Any, walk_m: int) -> dict[str, Any]:
    """Type a walking distance into the number box, digit by digit; return the one coverage answer asked for."""
    asked: list[str] = []

    def listen(r: Any) -> None:
        if "/api/chargers/coverage" in r.url:
            asked.append(r.url)

    box = page.locator("#pm-coverage-form input[name=walk_m]")
    box.fill("")
    page.on("request", listen)
    with page.expect_response(lambda r: "/api/chargers/coverage" in r.url and f"walk_m={walk_m}&" in r.url) as got:
        box.press_sequentially(str(walk_m), delay=30)
    wait_idle(page)
    page.remove_listener("request", listen)
    assert len(asked) == 1, asked  # debounced: one request for the typed number, none per keystroke
    assert got.value.status == 200, got.value.text()
    return got.value.json()


def test_coverage_follows_walking_distance_and_kind(live: LiveServer, planner: Any) -> None:
    open_page(planner, live.url + "/chargers")
    assert planner.locator("#pm-charger-tools").is_visible()
    first = coverage_api(planner, live, "car", 300)
    assert first["demand"]["features"] and 0 < first["covered_share"] < 1  # the sample campus has both
    assert_shows(planner, first)
    legend = planner.locator(".pm-legend .pm-legend-charger")
    assert [legend.nth(i).text_content().strip() for i in range(legend.count())] == [
        "covered demand", "uncovered demand", "within walking distance of a charger", "suggested new site"]

    page_answer = set_walk(planner, 100)
    near = coverage_api(planner, live, "car", 100)
    assert page_answer["covered_share"] == near["covered_share"]
    assert near["covered_share"] < first["covered_share"]  # less reach, less covered on this campus
    assert_shows(planner, near)
    assert planner.locator("#pm-coverage-form input[name=walk_range]").input_value() == "100"
    shot(planner, "chargers-coverage-100m")

    # the slider moves the number box and asks again
    with planner.expect_response(lambda r: "/api/chargers/coverage" in r.url and "walk_m=600&" in r.url):
        planner.locator("#pm-coverage-form input[name=walk_range]").evaluate(
            "r => { r.value = '600'; r.dispatchEvent(new Event('input', {bubbles: true})); }")
    wait_idle(planner)
    assert planner.locator("#pm-coverage-form input[name=walk_m]").input_value() == "600"
    assert_shows(planner, coverage_api(planner, live, "car", 600))

    # the heaviest uncovered demand at 100 m, clicked in the list: the map goes there
    set_walk(planner, 100)
    heaviest = near["uncovered"][0]
    planner.locator(f"#pm-coverage-form [data-role=uncovered] li[data-demand-id='{heaviest['id']}'] button").click()
    [feature] = [f for f in near["demand"]["features"] if f["properties"]["id"] == heaviest["id"]]
    lon, lat = feature["geometry"]["coordinates"]
    planner.wait_for_function(f"""([lon, lat]) => {{ const m = {MAP}; const c = m.getCenter();
        return !m._animatingZoom && Math.abs(c.lng - lon) < 1e-6 && Math.abs(c.lat - lat) < 1e-6; }}""",
                              arg=[lon, lat], timeout=5000)  # after the zoom animation, centred on it

    with planner.expect_response(lambda r: "/api/chargers/coverage" in r.url and "kind=ebike" in r.url) as got:
        planner.locator("#pm-coverage-form input[name=kind][value=ebike]").check()
    wait_idle(planner)
    ebike = coverage_api(planner, live, "ebike", 100)
    assert got.value.json()["covered_share"] == ebike["covered_share"]
    assert {f["properties"]["building_kind"] for f in ebike["demand"]["features"]} == {"dorm"}  # students' e-bikes
    assert_shows(planner, ebike)
    assert not planner.trouble.report(), planner.trouble.report()


def suggest(page: Any, k: int) -> dict[str, Any]:
    form = page.locator("#pm-suggest-form")
    form.locator("input[name=k]").fill(str(k))
    with page.expect_response(lambda r: r.url.endswith("/api/chargers/suggest")) as got:
        form.locator("button[type=submit]").click()
    wait_idle(page)
    assert got.value.status == 200, got.value.text()
    return {"sent": got.value.request.post_data_json, "answer": got.value.json()}


def save_scenario(page: Any, name: str) -> dict[str, Any]:
    box = page.locator("#pm-charger-scenarios")
    box.locator("input[name=name]").fill(name)
    with page.expect_response(lambda r: r.url.endswith("/api/chargers/scenarios")
                              and r.request.method == "POST") as got:
        box.locator("[data-role=save]").click()
    wait_idle(page)
    assert got.value.status == 201, got.value.text()
    return got.value.json()


def free_spot(page: Any) -> tuple[float, float]:
    """A point near the map's middle where a click reaches the map itself (no marker or control on it)."""
    return tuple(page.evaluate(f"""() => {{ const m = {MAP}; const c = m.getContainer();
        const r = c.getBoundingClientRect(); const s = m.getSize();
        for (let d = 0; d < 200; d += 6) for (const [dx, dy] of [[d, 0], [0, d], [-d, 0], [0, -d], [d, d], [-d, -d]]) {{
            const x = r.left + s.x / 2 + dx, y = r.top + s.y / 2 + dy;
            if (document.elementFromPoint(x, y) === c) return [x, y]; }}
        throw new Error('no free spot on the map'); }}"""))


def test_suggest_save_compare_export_and_delete(live: LiveServer, planner: Any) -> None:
    open_page(planner, live.url + "/chargers")
    before = coverage_api(planner, live, "car", 300)
    two = suggest(planner, 2)
    answer = two["answer"]
    assert two["sent"]["k"] == 2 and two["sent"]["candidates"] is None and two["sent"]["walk_m"] == 300
    assert len(answer["sites"]) == 2
    state = planner.evaluate("""() => { const s = window.patrolmap.chargerTools.state;
        return {sites: s.siteLayer.getLayers().map(l => [l.getLatLng().lng, l.getLatLng().lat]),
                links: s.linkLayer.getLayers().length}; }""")
    assert state["sites"] == [[s["lon"], s["lat"]] for s in answer["sites"]]
    assert state["links"] == sum(len(s["demand"]) for s in answer["sites"])  # each newly covered demand linked
    # before is today's coverage; after adds what the sites newly cover, and is more
    assert answer["before"]["covered_share"] == before["covered_share"]
    assert answer["after"]["covered_share"] > answer["before"]["covered_share"]
    assert answer["after"]["covered_demand"] == pytest.approx(
        before["covered_demand"] + sum(s["newly_covered"] for s in answer["sites"]), abs=1e-3)
    form = planner.locator("#pm-suggest-form")
    assert float(form.locator("[data-role=before-share]").get_attribute("data-share")) == answer["before"]["covered_share"]
    assert float(form.locator("[data-role=after-share]").get_attribute("data-share")) == answer["after"]["covered_share"]
    assert form.locator("[data-role=after-share]").inner_text() == f"{answer['after']['covered_share'] * 100:.1f}%"
    assert form.locator("[data-role=sites] li").count() == 2
    assert answer["method"] in form.locator("[data-role=method]").inner_text()
    shot(planner, "chargers-suggested")
    first_name = '方案 A <b>x</b>{{ 7*7 }}'
    saved_a = save_scenario(planner, first_name)
    assert [(s["lon"], s["lat"]) for s in saved_a["sites"]] == [(s["lon"], s["lat"]) for s in answer["sites"]]
    # measured again by the server on the same sites: the same coverage as the suggestion promised
    assert saved_a["summary"]["covered_share"] == answer["after"]["covered_share"]

    # the first suggested lot marked unsuitable (struck through) is left out of the next suggestion
    lot = answer["sites"][0]["candidate"]
    item = form.locator(f"[data-role=lots] li[data-lot-id='{lot}']")
    item.locator("button.pm-lot").click()
    assert "pm-excluded" in (item.get_attribute("class") or "")
    assert item.locator("button.pm-lot").evaluate("b => getComputedStyle(b).textDecorationLine") == "line-through"
    # and a point of the planner's own, added on the map, is a candidate too
    form.locator("[data-role=add-point]").click()
    x, y = free_spot(planner)
    planner.mouse.click(x, y)
    form.locator("[data-role=add-point]").click()
    assert form.locator("[data-role=points] li").count() == 1
    three = suggest(planner, 3)
    sent, answer3 = three["sent"], three["answer"]
    lots = api(planner, live, f"/api/layers/parking-lots?campus={CAMPUS}&limit=1000")["features"]
    assert sent["exclude"] == [lot] and sorted(sent["candidates"][:-1]) == sorted(f["id"] for f in lots)
    assert isinstance(sent["candidates"][-1], dict) and sent["candidates"][-1]["name"] == "Point 1"
    assert lot not in [s["candidate"] for s in answer3["sites"] if s["source"] == "parking_lot"]
    assert 1 <= len(answer3["sites"]) <= 3
    assert planner.evaluate("() => window.patrolmap.chargerTools.state.siteLayer.getLayers().length") == \
        len(answer3["sites"])
    saved_b = save_scenario(planner, "方案 B")
    assert saved_b["excluded"] == [lot]

    # the reverse question, with a penalty on one lot: the fewest sites reaching 90 percent
    penalised = next(f["id"] for f in lots if f["id"] != lot)
    form.locator(f"[data-role=lots] li[data-lot-id='{penalised}'] input.pm-penalty").fill("25")
    form.locator(f"[data-role=lots] li[data-lot-id='{penalised}'] input.pm-penalty").dispatch_event("change")
    form.locator("input[name=question][value=target]").check()
    form.locator("input[name=target]").fill("90")
    with planner.expect_response(lambda r: r.url.endswith("/api/chargers/suggest")) as got:
        form.locator("button[type=submit]").click()
    wait_idle(planner)
    assert got.value.status == 200, got.value.text()
    sent, fewest = got.value.request.post_data_json, got.value.json()
    assert sent["target_share"] == 0.9 and sent["penalties"] == {str(penalised): 25}
    assert fewest["target_reached"] is (fewest["after"]["covered_share"] >= 0.9)
    assert planner.evaluate("() => window.patrolmap.chargerTools.state.siteLayer.getLayers().length") == \
        len(fewest["sites"])
    assert float(form.locator("[data-role=after-share]").get_attribute("data-share")) == \
        fewest["after"]["covered_share"]

    box = planner.locator("#pm-charger-scenarios")
    for saved in (saved_a, saved_b):
        row = box.locator(f"[data-role=list] li[data-scenario-id='{saved['id']}']")
        row.locator("input[type=checkbox]").check()
    assert box.locator(f"li[data-scenario-id='{saved_a['id']}'] .pm-scenario-name").inner_text() == first_name
    ids = f"{saved_a['id']},{saved_b['id']}"
    with planner.expect_response(lambda r: "/api/chargers/scenarios/compare" in r.url) as got:
        box.locator("[data-role=compare]").click()
    wait_idle(planner)
    assert got.value.status == 200, got.value.text()
    compared = api(planner, live, f"/api/chargers/scenarios/compare?ids={ids}")["scenarios"]
    assert [r["id"] for r in compared] == [saved_a["id"], saved_b["id"]]
    table = box.locator("[data-role=compare-table]")
    heads = table.locator("thead th.pm-compare-name")
    assert [heads.nth(i).inner_text() for i in range(heads.count())] == [first_name, "方案 B"]
    shares = table.locator("tr.pm-compare-covered-share td")
    assert [float(shares.nth(i).get_attribute("data-share")) for i in range(2)] == [r["covered_share"] for r in compared]
    assert [shares.nth(i).inner_text() for i in range(2)] == [f"{r['covered_share'] * 100:.1f}%" for r in compared]
    assert compared[0]["covered_share"] == answer["after"]["covered_share"]
    for role, key in (("sites", "sites"), ("ports", "ports")):
        cells = table.locator(f"tr.pm-compare-{role} td")
        assert [cells.nth(i).inner_text() for i in range(2)] == [str(r[key]) for r in compared]
    uncovered = table.locator("tr.pm-compare-uncovered-demand td")
    assert [float(uncovered.nth(i).inner_text()) for i in range(2)] == \
        [pytest.approx(r["uncovered_demand"], abs=0.05) for r in compared]
    shot(planner, "chargers-compared")

    # exports, as linked, download
    row = box.locator(f"li[data-scenario-id='{saved_a['id']}']")
    links = row.locator("a")
    hrefs = [links.nth(i).get_attribute("href") for i in range(links.count())]
    assert hrefs == [f"/api/chargers/scenarios/{saved_a['id']}.geojson", f"/api/chargers/scenarios/{saved_a['id']}.csv"]
    geojson = planner.context.request.get(live.url + hrefs[0])
    assert geojson.status == 200 and geojson.json()["type"] == "FeatureCollection"
    csv = planner.context.request.get(live.url + hrefs[1])
    assert csv.status == 200 and csv.body().startswith(b"\xef\xbb\xbf")

    # deleted (after confirming): gone from the list
    planner.once("dialog", lambda d: d.accept())
    with planner.expect_response(lambda r: r.request.method == "DELETE"):
        box.locator(f"li[data-scenario-id='{saved_b['id']}'] button.pm-delete").click()
    planner.wait_for_function(f"() => !document.querySelector(\"li[data-scenario-id='{saved_b['id']}']\")")
    wait_idle(planner)
    assert not planner.trouble.report(), planner.trouble.report()


def test_tools_follow_the_access_table(live: LiveServer, user_contexts: Any) -> None:
    """A viewer reads coverage and scenarios but gets no suggestion or save controls; other pages have no tools."""
    from patrolmap.access import allowed, rule_for

    def may(path: str, method: str, roles: str) -> bool:
        endpoint, _ = live.app.url_map.bind("localhost").match(path, method=method)
        return allowed(rule_for(endpoint, method), frozenset(roles.split(",")))

    for username, roles in ((PLANNER, "planner"), ("viewer-wu", "viewer")):
        context = user_contexts(username, roles)
        html = context.request.get(f"{live.url}/chargers?campus={CAMPUS}").text()
        assert ("patrolmap.chargerTools(" in html) is may("/api/chargers/coverage", "GET", roles) is True
        assert ('id="pm-suggest-form"' in html) is may("/api/chargers/suggest", "POST", roles)
        assert ('data-role="save"' in html) is may("/api/chargers/scenarios", "POST", roles)
        assert '"canEdit": ' + ("true" if may("/api/chargers/scenarios", "POST", roles) else "false") in html
        for other in ("/violations", "/patrol", "/"):
            text = context.request.get(live.url + other).text()
            assert "chargerTools" not in text and "pm-charger-tools" not in text
    assert may("/api/chargers/suggest", "POST", "planner") and not may("/api/chargers/suggest", "POST", "viewer")
    # the viewer's page works without the planner's parts: coverage shown, scenarios listed, nothing broken
    tab = context.new_page()
    tab.trouble = watch(tab)
    open_page(tab, live.url + "/chargers")
    assert float(tab.locator("#pm-coverage-form [data-role=share]").get_attribute("data-share")) == \
        coverage_api(tab, live, "car", 300)["covered_share"]
    assert tab.locator("#pm-charger-scenarios [data-role=list] li").count() >= 1
    assert not tab.trouble.report(), tab.trouble.report()


def test_phone_layout(live: LiveServer, user_contexts: Any) -> None:
    phone = user_contexts(PLANNER, "planner", (390, 844), is_mobile=True, has_touch=True).new_page()
    phone.trouble = watch(phone)
    open_page(phone, live.url + "/chargers")
    assert phone.evaluate("() => window.patrolmap.chargerTools.state.demandLayer.getLayers().length") > 0
    check_phone_panel(phone, "#pm-charger-details", "#pm-charger-tools", "chargers")
    assert phone.locator("#pm-coverage-form [data-role=share]").inner_text().endswith("%")
    assert not phone.trouble.report(), phone.trouble.report()
