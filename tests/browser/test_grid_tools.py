"""Grid management on /grid in a real browser over the sample campus: an admin proposes zones for N
officers (drawn one colour each, the balance as the API reports it), moves a building to another zone
(the figures follow), assigns officers and applies; a grid officer sees their zone first; a hazard
reported by clicking the map in that zone goes round the whole rectification loop (notice issued by
the officer, rectified by the responsible unit, verified and closed by the officer) with its history
shown, and the zone's scorecard follows it; overdue hazards are red and filtered; notifications are
counted and marked read; the tools follow the access table; and the page on a phone.

Every figure on the page is checked against the API's own answer (asked again by the test) and the
API's against figures worked out here from the stored buildings (shapely for "inside the zone").
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import pytest

from .conftest import LiveServer, check_phone_panel, ensure_user, open_page, shot, wait_idle, watch

pytestmark = pytest.mark.browser

CAMPUS = "cau-east"
MAP = "window[document.querySelector('.folium-map').id]"
ADMIN = "grid-admin"
OFFICERS = ("grid-wang", "grid-li")
UNIT = "后勤处 Logistics"
UNIT_USER = "unit-zhao"
XSS = '<img src=x onerror="window.__xss=1">{{ 7*7 }}'
ROOT = Path(__file__).resolve().parents[2]


def tab(context: Any) -> Any:
    page = context.new_page()
    page.trouble = watch(page)
    return page


def api(context: Any, live: LiveServer, path: str) -> Any:
    """The API's answer to the same question, asked by the test with the same session."""
    response = context.request.get(live.url + path)
    assert response.status == 200, response.text()
    return response.json()


def send(context: Any, live: LiveServer, method: str, path: str, body: Any) -> Any:
    token = api(context, live, "/api/me")["csrf_token"]
    response = context.request.fetch(live.url + path, method=method, data=body,
                                     headers={"X-CSRF-Token": token, "Content-Type": "application/json"})
    assert response.status in (200, 201), response.text()
    return response.json()


def buildings(context: Any, live: LiveServer, ids: list[int]) -> dict[int, dict[str, Any]]:
    data = api(context, live, f"/api/layers/buildings?campus={CAMPUS}&ids={','.join(map(str, ids))}&limit=1000")
    return {f["id"]: f for f in data["features"]}


def click_latlng(page: Any, lat: float, lon: float) -> None:
    """A real mouse click where the map shows (lat, lon)."""
    x, y = page.evaluate(f"""([lat, lon]) => {{
        const m = {MAP}; const p = m.latLngToContainerPoint([lat, lon]);
        const r = m.getContainer().getBoundingClientRect(); return [r.left + p.x, r.top + p.y]; }}""", [lat, lon])
    page.mouse.click(x, y)


def fit(page: Any, geometry: dict[str, Any]) -> None:
    """Bring a geometry into view (once any zoom under way has ended: Leaflet drops a view asked for during one)."""
    page.wait_for_function(f"() => !{MAP}._animatingZoom")
    page.evaluate(f"""(g) => {{ const m = {MAP};
        m.fitBounds(L.geoJSON(g).getBounds(), {{padding: [40, 40], animate: false}}); }}""", geometry)
    wait_idle(page)


def zone_row(data: dict[str, Any], zone_id: int) -> dict[str, Any]:
    [row] = [r for r in data["zones"] if r["zone"] == zone_id]
    return row


def score_cell(page: Any, zone_id: int, column: str) -> str:
    return page.locator(f"#pm-scorecards tr[data-zone-id='{zone_id}'] td.pm-score-{column}").inner_text()


def balance_shown(page: Any) -> dict[str, float]:
    form = page.locator("#pm-propose-form")
    return {k: float(form.locator(f"[data-role=balance-{k}]").get_attribute("data-value"))
            for k in ("min", "max", "mean", "ratio")}


def balance_of(workloads: list[float]) -> dict[str, float]:
    mean = sum(workloads) / len(workloads)
    return {"min": min(workloads), "max": max(workloads), "mean": mean, "ratio": max(workloads) / mean}


def test_every_word_of_grid_js_is_translatable() -> None:
    """Every key grid.js asks pm.t for is in MAP_TEXTS (the page sends only those, translated)."""
    from patrolmap.web.pages import MAP_TEXTS

    source = (ROOT / "static" / "js" / "grid.js").read_text(encoding="utf-8")
    keys = set(re.findall(r'\bt\("((?:[^"\\]|\\.)*)"', source))
    table = source[source.index("var ACTIONS"):source.index("var DAY_MS")]
    keys |= set(re.findall(r':\s*"([^"]+)"', table)) | set(re.findall(r'REOPEN = "([^"]+)"', table))
    columns = source[source.index("var SCORE_COLUMNS"):source.index("function scoreValue")]
    keys |= set(re.findall(r'\["\w+", "([^"]+)"\]', columns))  # column titles, asked for as t(c[1])
    keys |= set(re.findall(r'fillChoices\([^;]*?\|\| \[\], "([^"]+)"', source))  # a filter's "all" choice
    assert len(keys) > 60
    assert sorted(keys - set(MAP_TEXTS)) == []


def officer_id(live: LiveServer, username: str) -> int:
    return ensure_user(live, username, "grid_officer")


def test_admin_proposes_adjusts_and_applies_zones(live: LiveServer, user_contexts: Any) -> None:
    officers = [officer_id(live, name) for name in OFFICERS]
    admin = tab(user_contexts(ADMIN, "admin"))
    open_page(admin, live.url + "/grid")
    saved = api(admin.context, live, f"/api/grid/zones?campus={CAMPUS}")["features"]
    items = admin.locator("#pm-grid-zones [data-role=list] li[data-zone-id]")
    assert [items.nth(i).get_attribute("data-zone-id") for i in range(items.count())] == \
        [str(z["properties"]["id"]) for z in saved]

    # propose: 2 officers, balanced by residents, the dorms and staff apartments (the form's default)
    form = admin.locator("#pm-propose-form")
    form.locator("input[name=officers]").fill("2")
    with admin.expect_response(lambda r: r.url.endswith("/api/grid/propose")) as got:
        form.locator("button[type=submit]").click()
    wait_idle(admin)
    assert got.value.status == 200, got.value.text()
    sent, answer = got.value.request.post_data_json, got.value.json()
    assert sent == {"campus": CAMPUS, "officers": 2, "balance": "residents", "kinds": ["dorm", "staff_apartment"]}
    zones = answer["features"]
    assert len(zones) == 2
    # the same question asked again gets the same answer (the page shows a reproducible proposal)
    again = send(admin.context, live, "POST", "/api/grid/propose", sent)
    assert [sorted(z["properties"]["buildings"]) for z in again["features"]] == \
        [sorted(z["properties"]["buildings"]) for z in zones]
    members = [list(z["properties"]["buildings"]) for z in zones]
    stored = buildings(admin.context, live, [b for m in members for b in m])
    assert {f["properties"]["kind"] for f in stored.values()} <= {"dorm", "staff_apartment"}
    residents = {i: f["properties"]["residents"] or 0 for i, f in stored.items()}
    workloads = [sum(residents[b] for b in m) for m in members]
    # the API's balance is that of its zones' residents, and the page shows the API's figures
    assert [z["properties"]["workload"] for z in zones] == pytest.approx(workloads)
    assert answer["balance"] == pytest.approx(balance_of(workloads), abs=1e-3)  # the API rounds to 3 decimals
    assert balance_shown(admin) == pytest.approx(answer["balance"])
    # drawn: N zones, each building in its zone's colour, the colours distinct
    drawn = admin.evaluate("""() => { const s = window.patrolmap.gridTools.state; const out = {zones: [], buildings: {}};
        s.proposalLayer.eachLayer(l => { if (l.pmBuildingId !== undefined) out.buildings[l.pmBuildingId] =
            [l.pmZoneIndex, l.options.fillColor]; else out.zones.push(l.pmZoneIndex); });
        return out; }""")
    assert sorted(drawn["zones"]) == [0, 1]
    assert {int(b): zone for b, (zone, _) in drawn["buildings"].items()} == \
        {b: i for i, m in enumerate(members) for b in m}
    colours = {zone: colour for zone, colour in drawn["buildings"].values()}
    assert len(set(colours.values())) == 2
    rows = form.locator("[data-role=zones] li")
    assert [int(rows.nth(i).locator(".pm-proposed-facts").get_attribute("data-workload")) for i in range(2)] == \
        workloads
    shot(admin, "grid-proposed")

    # move a building of the heavier zone (not its last) to the other one, by clicking it on the map
    import shapely.geometry

    heavy = max((i for i in (0, 1) if len(members[i]) > 1), key=lambda i: workloads[i])
    light = 1 - heavy
    moved = min(members[heavy], key=lambda b: residents[b])
    spot = shapely.geometry.shape(stored[moved]["geometry"]).representative_point()
    fit(admin, stored[moved]["geometry"])
    click_latlng(admin, spot.y, spot.x)
    popup = admin.locator(".pm-move-popup")
    popup.locator("select[name=zone]").select_option(str(light))
    popup.locator("button[type=submit]").click()
    members[heavy].remove(moved)
    members[light].append(moved)
    workloads = [sum(residents[b] for b in m) for m in members]
    assert balance_shown(admin) == pytest.approx(balance_of(workloads))
    assert [int(rows.nth(i).locator(".pm-proposed-facts").get_attribute("data-workload")) for i in range(2)] == \
        workloads
    assert admin.evaluate(f"""() => {{ let zone = null; window.patrolmap.gridTools.state.proposalLayer.eachLayer(l => {{
        if (l.pmBuildingId === {moved}) zone = l.pmZoneIndex; }}); return zone; }}""") == light

    # name the zones (one with markup, shown as text), give each an officer, apply
    names = ["网格 A <b>x</b>", "网格 B"]
    for i in range(2):
        rows.nth(i).locator("input[name=zone_name]").fill(names[i])
        rows.nth(i).locator("input[name=zone_name]").dispatch_event("change")
        rows.nth(i).locator("select[name=officer]").select_option(str(officers[i]))
    admin.once("dialog", lambda d: d.accept())
    with admin.expect_response(lambda r: r.url.endswith("/api/grid/zones/apply")) as got:
        form.locator("[data-role=apply]").click()
    wait_idle(admin)
    assert got.value.status in (200, 201), got.value.text()
    assert got.value.request.post_data_json == {"campus": CAMPUS, "zones": [
        {"name": names[i], "buildings": members[i], "officer": officers[i]} for i in range(2)]}
    applied = api(admin.context, live, f"/api/grid/zones?campus={CAMPUS}")["features"]
    assert [(z["properties"]["name"], sorted(z["properties"]["buildings"]), z["properties"]["officer"]["id"])
            for z in applied] == [(names[i], sorted(members[i]), officers[i]) for i in range(2)]
    assert [z["properties"]["residents"] for z in applied] == workloads
    items = admin.locator("#pm-grid-zones [data-role=list] li[data-zone-id]")
    assert [items.nth(i).locator(".pm-zone-name").inner_text() for i in range(items.count())] == names
    assert [int(items.nth(i).locator(".pm-zone-facts").get_attribute("data-residents")) for i in range(2)] == workloads
    assert admin.evaluate("() => window.patrolmap.gridTools.state.proposalLayer.getLayers().length") == 0
    assert admin.evaluate("() => window.patrolmap.gridTools.state.zoneLayer.getLayers().length") == 2
    shot(admin, "grid-applied")

    # a saved zone edited: a building of the other zone picked on the map, sent with the version read
    donor = next(i for i in range(2) if len(members[i]) > 1)
    receiver = applied[1 - donor]["properties"]
    taken = members[donor][0]
    item = admin.locator(f"#pm-grid-zones li[data-zone-id='{receiver['id']}']")
    item.locator(".pm-zone-edit").click()
    edit = item.locator(".pm-zone-edit-form")
    edit.locator("[data-role=pick]").click()
    spot = shapely.geometry.shape(stored[taken]["geometry"]).representative_point()
    fit(admin, stored[taken]["geometry"])
    click_latlng(admin, spot.y, spot.x)
    assert sorted(int(b) for b in edit.locator("[data-role=buildings] li").evaluate_all(
        "items => items.map(i => i.dataset.buildingId)")) == sorted(receiver["buildings"] + [taken])
    with admin.expect_response(lambda r: f"/api/grid/zones/{receiver['id']}" in r.url) as got:
        edit.locator("button[type=submit]").click()
    wait_idle(admin)
    assert got.value.status == 200, got.value.text()
    assert got.value.request.post_data_json == {"name": receiver["name"], "officer": receiver["officer"]["id"],
                                                "buildings": receiver["buildings"] + [taken],
                                                "version": receiver["version"]}
    now = {z["properties"]["id"]: z["properties"] for z in api(admin.context, live,
                                                                f"/api/grid/zones?campus={CAMPUS}")["features"]}
    assert sorted(now[receiver["id"]]["buildings"]) == sorted(receiver["buildings"] + [taken])
    assert taken not in now[applied[donor]["properties"]["id"]]["buildings"]
    facts = admin.locator(f"#pm-grid-zones li[data-zone-id='{receiver['id']}'] .pm-zone-facts")
    assert facts.get_attribute("data-residents") == str(now[receiver["id"]]["residents"])
    # someone else renames it meanwhile: the page's edit, made on the version it read, is refused and says so
    item.locator(".pm-zone-edit").click()
    send(admin.context, live, "PUT", f"/api/grid/zones/{receiver['id']}",
         {"name": "网格 C", "version": now[receiver["id"]]["version"]})
    edit.locator("input[name=name]").fill("网格 D")
    with admin.expect_response(lambda r: f"/api/grid/zones/{receiver['id']}" in r.url) as got:
        edit.locator("button[type=submit]").click()
    wait_idle(admin)
    assert got.value.status == 409
    assert "changed since you read it" in edit.locator("[data-role=error]").inner_text()
    assert admin.evaluate("() => window.__xss") is None
    # the refusal the test asked for is the only trouble
    admin.trouble.failed_requests.remove(f"{live.url}/api/grid/zones/{receiver['id']} (409)")
    admin.trouble.console_errors.remove("Failed to load resource: the server responded with a status of 409 (CONFLICT)")
    assert not admin.trouble.report(), admin.trouble.report()


def officers_zone(live: LiveServer, admin: Any, officer: int) -> dict[str, Any]:
    """A zone of the sample campus with buildings, given to this officer (by the admin, through the API)."""
    zones = api(admin, live, f"/api/grid/zones?campus={CAMPUS}")["features"]
    if not any(z["properties"]["buildings"] for z in zones):  # the sample's zones hold no buildings yet
        proposal = send(admin, live, "POST", "/api/grid/propose", {"campus": CAMPUS, "officers": 2})
        send(admin, live, "POST", "/api/grid/zones/apply", {"campus": CAMPUS, "zones": [
            {"name": z["properties"]["name"], "buildings": z["properties"]["buildings"], "officer": None}
            for z in proposal["features"]]})
        zones = api(admin, live, f"/api/grid/zones?campus={CAMPUS}")["features"]
    mine = [z for z in zones if (z["properties"]["officer"] or {}).get("id") == officer and z["properties"]["buildings"]]
    if mine:
        return mine[0]
    # a zone nobody has, else one of another officer's several (never one's only zone)
    counts: dict[int, int] = {}
    for z in zones:
        if z["properties"]["officer"]:
            counts[z["properties"]["officer"]["id"]] = counts.get(z["properties"]["officer"]["id"], 0) + 1
    zone = next(z for z in sorted(zones, key=lambda z: z["properties"]["officer"] is not None)
                if z["properties"]["buildings"] and (not z["properties"]["officer"]
                                                     or counts[z["properties"]["officer"]["id"]] > 1))
    send(admin, live, "PUT", f"/api/grid/zones/{zone['properties']['id']}",
         {"officer": officer, "version": zone["properties"]["version"]})
    [zone] = [z for z in api(admin, live, f"/api/grid/zones?campus={CAMPUS}")["features"]
              if z["properties"]["id"] == zone["properties"]["id"]]
    assert zone["properties"]["officer"]["id"] == officer
    return zone


def free_spot_in(page: Any, live: LiveServer, zone: dict[str, Any]) -> tuple[float, float]:
    """A point inside the zone's outline, in no building, at least 20 px from any marker drawn: (lat, lon)."""
    import shapely.geometry

    outline = shapely.geometry.shape(zone["geometry"])
    x0, y0, x1, y1 = outline.bounds
    footprints = [shapely.geometry.shape(f["geometry"]) for f in api(
        page.context, live, f"/api/layers/buildings?campus={CAMPUS}&bbox={x0},{y0},{x1},{y1}&limit=1000")["features"]]
    width, height = page.evaluate(f"() => {{ const s = {MAP}.getSize(); return [s.x, s.y]; }}")
    markers = page.evaluate(f"""() => {{ const m = {MAP}; const out = [];
        m.eachLayer(l => {{ if (l.getLatLng && l._map && !(l.options && l.options.interactive === false)) {{
            const p = m.latLngToContainerPoint(l.getLatLng()); out.push([p.x, p.y]); }} }});
        return out; }}""")
    candidates = []
    for i in range(1, 60):
        for j in range(1, 60):
            lon, lat = x0 + (x1 - x0) * i / 60, y0 + (y1 - y0) * j / 60
            near = shapely.geometry.Point(lon, lat).buffer(0.00002)  # about 2 m
            if outline.contains(near) and not any(f.intersects(near) for f in footprints):
                candidates.append((lat, lon))
    pixels = page.evaluate(f"(points) => points.map(p => {{ const c = {MAP}.latLngToContainerPoint(p); return [c.x, c.y]; }})",
                           candidates)
    best, best_gap = None, 0.0
    for (lat, lon), (x, y) in zip(candidates, pixels, strict=True):
        if not (60 <= x <= width - 80 and 60 <= y <= height - 80):
            continue  # clear of the map's controls
        gap = min((((x - mx) ** 2 + (y - my) ** 2) ** 0.5 for mx, my in markers), default=999.0)
        if gap > best_gap:
            best, best_gap = (lat, lon), gap
    assert best is not None and best_gap >= 20, (best, best_gap)
    return best


def hazard_buttons(page: Any) -> list[str]:
    buttons = page.locator("#pm-hazard-detail .pm-transition-buttons button")
    return [buttons.nth(i).get_attribute("data-to") for i in range(buttons.count())]


def move(page: Any, to: str, **fields: str) -> dict[str, Any]:
    """Press the detail box's button for this move (after filling its fields); the API's answer."""
    box = page.locator("#pm-hazard-detail")
    for name, value in fields.items():
        box.locator(f"[name={name}]").fill(value)
    with page.expect_response(lambda r: "/transition" in r.url) as got:
        box.locator(f".pm-transition-buttons button[data-to={to}]").click()
    wait_idle(page)
    assert got.value.status == 200, got.value.text()
    assert box.get_attribute("data-status") == to
    return got.value.json()


def shown_events(page: Any) -> list[tuple[str, str]]:
    items = page.locator("#pm-hazard-detail [data-role=events] li")
    return [(items.nth(i).get_attribute("data-to"), items.nth(i).get_attribute("data-actor"))
            for i in range(items.count())]


def open_in_list(page: Any, hazard: int) -> None:
    with page.expect_response(lambda r: r.url.endswith(f"/api/hazards/{hazard}")):
        page.locator(f"#pm-hazards [data-role=list] li[data-hazard-id='{hazard}'] button").click()
    wait_idle(page)
    assert page.locator("#pm-hazard-detail").get_attribute("data-hazard-id") == str(hazard)


def test_officer_sees_zone_and_a_hazard_goes_round_the_loop(live: LiveServer, user_contexts: Any) -> None:
    admin = user_contexts(ADMIN, "admin")
    officer_name = OFFICERS[0]
    me = officer_id(live, officer_name)
    zone = officers_zone(live, admin, me)
    zid = zone["properties"]["id"]
    officer = tab(user_contexts(officer_name, "grid_officer"))
    open_page(officer, live.url + "/grid")

    # my zone first: named, its buildings listed, highlighted and in view
    mine = officer.locator(f"#pm-my-zones .pm-my-zone[data-zone-id='{zid}']")
    assert officer.locator("#pm-my-zones").is_visible()
    assert mine.locator(".pm-my-zone-name").inner_text() == zone["properties"]["name"]
    listed = mine.locator("[data-role=buildings] li[data-building-id]")
    assert sorted(int(listed.nth(i).get_attribute("data-building-id")) for i in range(listed.count())) == \
        sorted(zone["properties"]["buildings"])
    assert officer.evaluate(f"""(g) => {{ const m = {MAP}; return m.getBounds().pad(0.01).contains(L.geoJSON(g).getBounds()); }}""",
                            zone["geometry"])
    assert officer.evaluate("""() => { const ids = []; window.patrolmap.gridTools.state.zoneLayer.eachLayer(l => {
        if (l.pmMine) ids.push(l.pmZoneId); }); return ids; }""") == [zid]
    # its violations of the last 30 days, counted here with shapely
    import shapely.geometry

    outline = shapely.geometry.shape(zone["geometry"])
    x0, y0, x1, y1 = outline.bounds
    now = dt.datetime.now(dt.UTC)
    since = now - dt.timedelta(days=30)
    violations = api(officer.context, live, f"/api/layers/violations?campus={CAMPUS}&bbox={x0},{y0},{x1},{y1}"
                                            "&limit=10000")["features"]
    recent = [v for v in violations if since <= dt.datetime.fromisoformat(v["properties"]["observed_at"]) <= now
              and outline.contains(shapely.geometry.Point(v["geometry"]["coordinates"]))]
    assert int(mine.locator("[data-role=violation-count]").get_attribute("data-count")) == len(recent)
    cards = api(officer.context, live, f"/api/grid/scorecards?campus={CAMPUS}")
    open_before = zone_row(cards, zid)["open_hazards"]
    assert score_cell(officer, zid, "open-hazards") == str(open_before)
    shot(officer, "grid-officer-zone")

    # report a hazard by clicking the map inside the zone
    lat, lon = free_spot_in(officer, live, zone)
    officer.locator("#pm-hazards [data-role=report]").click()
    click_latlng(officer, lat, lon)
    form = officer.locator(".pm-hazard-form")
    form.locator("select[name=category]").select_option("ebike_indoor")
    form.locator("select[name=urgency]").select_option("urgent")
    form.locator("textarea[name=description]").fill(XSS)
    from ..photo_samples import phone_jpeg

    form.locator("input[name=photo]").set_input_files(
        {"name": "charging.jpg", "mimeType": "image/jpeg", "buffer": phone_jpeg()})
    with officer.expect_response(lambda r: r.url.endswith("/photos") and r.request.method == "POST") as photo, \
            officer.expect_response(lambda r: r.url.endswith("/api/hazards") and r.request.method == "POST") as got:
        form.locator("button[type=submit]").click()
    wait_idle(officer)
    assert got.value.status == 201, got.value.text()
    assert photo.value.status == 201, photo.value.text()
    sent, reported = got.value.request.post_data_json, got.value.json()
    assert sent["lon"] == pytest.approx(lon, abs=1e-5) and sent["lat"] == pytest.approx(lat, abs=1e-5)
    assert "building" not in sent
    hazard = reported["id"]
    assert reported["properties"]["zone"] == zid and reported["properties"]["assignee"]["id"] == me
    detail = officer.locator("#pm-hazard-detail")
    assert detail.get_attribute("data-hazard-id") == str(hazard) and detail.get_attribute("data-status") == "reported"
    assert detail.locator(".pm-hazard-description").inner_text() == XSS
    # the photo went with the report: shown from the API's own address, without its GPS tags
    photos = api(officer.context, live, f"/api/hazards/{hazard}")["properties"]["photo_list"]
    assert [p["sha256"] for p in photos] == [photo.value.json()["sha256"]]
    assert detail.locator("[data-role=photos] img").get_attribute("src") == photos[0]["url"]
    shown = officer.context.request.get(live.url + photos[0]["url"])
    assert shown.status == 200 and shown.headers["content-type"] == "image/jpeg" and b"SN-4417" not in shown.body()
    assert detail.locator("[data-role=zone] td").inner_text() == zone["properties"]["name"]
    assert officer.evaluate("() => window.__xss") is None
    assert score_cell(officer, zid, "open-hazards") == str(open_before + 1)
    assert zone_row(api(officer.context, live, f"/api/grid/scorecards?campus={CAMPUS}"), zid)["open_hazards"] == \
        open_before + 1
    assert officer.locator(f"#pm-my-zones [data-role=hazards] li[data-hazard-id='{hazard}']").count() == 1

    # the buttons offered are the moves the API allows this officer; the notice names the responsible unit
    def allowed(context: Any) -> list[str]:
        return api(context, live, f"/api/hazards/{hazard}")["properties"]["next_statuses"]

    assert hazard_buttons(officer) == allowed(officer.context) == ["notice_issued", "escalated"]
    issued = move(officer, "notice_issued", note="通知后勤处", responsible_unit=UNIT)
    props = issued["properties"]
    assert props["responsible_unit"] == UNIT and props["notice_number"]
    reported_at = dt.datetime.fromisoformat(props["reported_at"])
    deadline = dt.datetime.fromisoformat(props["deadline"])
    assert dt.timedelta(hours=2) - dt.timedelta(minutes=5) < deadline - reported_at <= dt.timedelta(hours=2, minutes=5)
    notice = detail.locator("[data-role=notice]")
    assert notice.get_attribute("href") == f"/hazards/{hazard}/notice"
    printed = officer.context.request.get(live.url + f"/hazards/{hazard}/notice")
    assert printed.status == 200 and props["notice_number"] in printed.text() and UNIT in printed.text()
    assert detail.locator("[data-role=notice-number] td").inner_text() == props["notice_number"]
    assert hazard_buttons(officer) == allowed(officer.context)

    # the responsible unit rectifies: it sees the hazard (its unit's) and the moves that are its to make
    unit = tab(user_contexts(UNIT_USER, "responsible_unit", user={"unit": UNIT}))
    open_page(unit, live.url + "/grid")
    assert unit.locator(f"#pm-hazards [data-role=list] li[data-hazard-id='{hazard}']").count() == 1
    open_in_list(unit, hazard)
    assert hazard_buttons(unit) == allowed(unit.context) == ["rectifying"]
    move(unit, "rectifying", note="已安排整改")
    assert hazard_buttons(unit) == allowed(unit.context) == ["rectified"]
    move(unit, "rectified", note="已清理充电线")
    assert hazard_buttons(unit) == allowed(unit.context) == []  # verification is not theirs
    assert unit.locator("#pm-hazard-detail [data-role=rectified-by] td").inner_text() == UNIT_USER
    assert not unit.trouble.report(), unit.trouble.report()

    # the officer verifies and closes it (someone other than who rectified it)
    open_in_list(officer, hazard)
    assert hazard_buttons(officer) == allowed(officer.context) == ["closed", "rectifying"]
    closed = move(officer, "closed", note="现场核查已整改")
    assert closed["properties"]["closed_by"] == officer_name and closed["properties"]["rectified_by"] == UNIT_USER
    assert hazard_buttons(officer) == []
    events = api(officer.context, live, f"/api/hazards/{hazard}")["properties"]["events"]
    assert [(e["to"], e["actor"]) for e in events] == [
        ("reported", officer_name), ("notice_issued", officer_name), ("rectifying", UNIT_USER),
        ("rectified", UNIT_USER), ("closed", officer_name)]
    assert shown_events(officer) == [(e["to"], e["actor"]) for e in events]
    notes = detail.locator("[data-role=events] .pm-event-note")
    assert [notes.nth(i).inner_text() for i in range(notes.count())] == [e["note"] for e in events if e["note"]]

    # the scorecard: open hazards back where they were
    assert score_cell(officer, zid, "open-hazards") == str(open_before)
    assert zone_row(api(officer.context, live, f"/api/grid/scorecards?campus={CAMPUS}"), zid)["open_hazards"] == \
        open_before
    assert officer.locator(f"#pm-my-zones [data-role=hazards] li[data-hazard-id='{hazard}']").count() == 0
    item = officer.locator(f"#pm-hazards [data-role=list] li[data-hazard-id='{hazard}']")
    assert item.get_attribute("data-status") == "closed"
    csv = officer.context.request.get(live.url + officer.locator("#pm-scorecards [data-role=csv]").get_attribute("href"))
    assert csv.status == 200 and csv.headers["content-type"].startswith("text/csv")
    import csv as csv_module

    rows = list(csv_module.DictReader(csv.body().decode("utf-8-sig").splitlines()))
    [line] = [row for row in rows if row["zone"] == str(zid)]
    assert line["open_hazards"] == str(open_before) and line["name"] == zone["properties"]["name"]
    assert not officer.trouble.report(), officer.trouble.report()
    shot(officer, "grid-hazard-closed")


def test_overdue_hazards_are_red_filtered_and_notified(live: LiveServer, user_contexts: Any) -> None:
    """A notice past its deadline: drawn red, listed as overdue, kept by the overdue filter, its reminder
    counted on the notifications badge and marked read there."""
    from sqlalchemy import update

    from patrolmap.extensions import db
    from patrolmap.hazardstore import run_reminders
    from patrolmap.models import Hazard

    admin = user_contexts(ADMIN, "admin")
    officer_name = OFFICERS[1]
    me = officer_id(live, officer_name)
    zone = officers_zone(live, admin, me)
    officer_ctx = user_contexts(officer_name, "grid_officer")
    building = zone["properties"]["buildings"][0]
    late = send(officer_ctx, live, "POST", "/api/hazards", {"campus": CAMPUS, "category": "electrical",
                                                             "urgency": "high", "description": "私拉电线",
                                                             "building": building})
    send(officer_ctx, live, "POST", f"/api/hazards/{late['id']}/transition",
         {"to": "notice_issued", "notice": {"responsible_unit": UNIT}})
    with live.app.app_context():
        db.session.execute(update(Hazard).where(Hazard.id == late["id"]).values(
            deadline=dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)))
        db.session.commit()
        run_reminders(db.session, live.app.config)
        db.session.remove()
    on_time = send(officer_ctx, live, "POST", "/api/hazards", {"campus": CAMPUS, "category": "fire", "urgency": "normal",
                                                                "description": "灭火器过期", "building": building})

    officer = tab(officer_ctx)
    open_page(officer, live.url + "/grid")
    drawn = officer.evaluate("""() => { const out = {}; window.patrolmap.gridTools.state.hazardLayer.eachLayer(l => {
        out[l.pmHazardId] = [l.options.fillColor, l.pmOverdue]; }); return out; }""")
    assert drawn[str(late["id"])] == ["#d7191c", True]
    assert drawn[str(on_time["id"])][1] is False and drawn[str(on_time["id"])][0] != "#d7191c"
    every = api(officer_ctx, live, f"/api/hazards?campus={CAMPUS}")["features"]
    assert sorted(int(k) for k in drawn) == sorted(f["id"] for f in every)
    assert {int(k) for k, (_, overdue) in drawn.items() if overdue} == {f["id"] for f in every if f["properties"]["overdue"]}
    item = officer.locator(f"#pm-hazards [data-role=list] li[data-hazard-id='{late['id']}']")
    assert "pm-overdue" in item.get_attribute("class") and item.locator(".pm-overdue-mark").count() == 1
    # the overdue filter asks the API for the overdue ones and lists exactly those
    with officer.expect_response(lambda r: "/api/hazards?" in r.url and "overdue=true" in r.url) as got:
        officer.locator("#pm-hazards input[name=overdue]").check()
    wait_idle(officer)
    overdue = api(officer_ctx, live, f"/api/hazards?campus={CAMPUS}&overdue=true")["features"]
    assert late["id"] in [f["id"] for f in overdue] and on_time["id"] not in [f["id"] for f in overdue]
    listed = officer.locator("#pm-hazards [data-role=list] li[data-hazard-id]")
    assert [int(listed.nth(i).get_attribute("data-hazard-id")) for i in range(listed.count())] == \
        [f["id"] for f in overdue] == [f["id"] for f in got.value.json()["features"]]
    assert officer.evaluate("() => window.patrolmap.gridTools.state.hazardLayer.getLayers().length") == len(overdue)
    shot(officer, "grid-overdue")

    # notifications: the badge counts the unread ones as the API does; marking one read lowers it
    notes = api(officer_ctx, live, "/api/notifications")
    assert notes["unread"] >= 2 and {"assigned", "due"} <= {n["kind"] for n in notes["notifications"]
                                                            if n["hazard"] == late["id"]}
    badge = officer.locator("#pm-grid-details > summary [data-role=badge]")
    assert badge.inner_text() == str(notes["unread"]) and badge.is_visible()
    first = notes["notifications"][0]
    row = officer.locator(f"#pm-grid-notifications li[data-notification-id='{first['id']}']")
    assert first["message"] in row.inner_text()
    with officer.expect_response(lambda r: r.url.endswith(f"/api/notifications/{first['id']}/read")):
        row.locator("button.pm-mark-read").click()
    wait_idle(officer)
    assert api(officer_ctx, live, "/api/notifications")["unread"] == notes["unread"] - 1
    assert badge.inner_text() == str(notes["unread"] - 1)
    assert row.locator("button.pm-mark-read").count() == 0
    assert not officer.trouble.report(), officer.trouble.report()


def test_tools_follow_the_access_table(live: LiveServer, user_contexts: Any) -> None:
    """Each role gets the parts of the panel the access table lets it use; other pages have no grid tools."""
    from patrolmap.access import allowed, rule_for

    def may(path: str, method: str, roles: str) -> bool:
        endpoint, _ = live.app.url_map.bind("localhost").match(path, method=method)
        return allowed(rule_for(endpoint, method), frozenset(roles.split(",")))

    for username, roles in ((ADMIN, "admin"), ("planner-grid", "planner"), (OFFICERS[0], "grid_officer"),
                            ("viewer-grid", "viewer")):
        context = user_contexts(username, roles)
        html = context.request.get(f"{live.url}/grid?campus={CAMPUS}").text()
        assert "patrolmap.gridTools(" in html
        assert ('id="pm-propose-form"' in html) is may("/api/grid/propose", "POST", roles)
        assert ('data-role="apply"' in html) is may("/api/grid/zones/apply", "POST", roles)
        assert ('data-role="report"' in html) is may("/api/hazards", "POST", roles)
        assert '"canTransition": ' + ("true" if may("/api/hazards/1/transition", "POST", roles) else "false") in html
        assert '"canEditZones": ' + ("true" if may("/api/grid/zones/1", "PUT", roles) else "false") in html
        if roles == "admin":  # who would get every tool: the other pages have none of these
            for other in ("/violations", "/patrol", "/chargers", "/"):
                text = context.request.get(live.url + other).text()
                assert "gridTools" not in text and "pm-grid-tools" not in text
    assert may("/api/grid/propose", "POST", "admin") and not may("/api/grid/propose", "POST", "grid_officer")
    assert may("/api/hazards", "POST", "grid_officer") and not may("/api/hazards", "POST", "viewer")
    # the viewer's page works without the others' parts: zones and scorecards listed, no moves offered
    viewer = tab(context)  # the last one's, a viewer's
    open_page(viewer, live.url + "/grid")
    zones = api(viewer.context, live, f"/api/grid/zones?campus={CAMPUS}")["features"]
    assert viewer.locator("#pm-grid-zones [data-role=list] li[data-zone-id]").count() == len(zones)
    assert viewer.locator("#pm-scorecards tbody tr").count() == len(zones)
    assert viewer.locator("#pm-grid-zones .pm-zone-edit").count() == 0
    hazards = api(viewer.context, live, f"/api/hazards?campus={CAMPUS}")["features"]
    if hazards:
        open_in_list(viewer, hazards[0]["id"])
        assert hazard_buttons(viewer) == []
    assert not viewer.trouble.report(), viewer.trouble.report()


def test_phone_layout(live: LiveServer, user_contexts: Any) -> None:
    phone = tab(user_contexts(OFFICERS[0], "grid_officer", viewport=(390, 844), is_mobile=True, has_touch=True))
    open_page(phone, live.url + "/grid")
    assert phone.evaluate("() => window.patrolmap.gridTools.state.zoneLayer.getLayers().length") > 0
    check_phone_panel(phone, "#pm-grid-details", "#pm-grid-tools", "grid")
    assert phone.locator("#pm-grid-zones [data-role=list] li").count() >= 1
    assert not phone.trouble.report(), phone.trouble.report()
