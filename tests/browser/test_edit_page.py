"""Editing the campus on /edit in a real browser over the sample campus, through the editing API only.

Desktop, an admin: draws a checkpoint (stored where it was clicked, named as typed, shown as text); marks
a footway as a fire lane (drive routes planned by the API before and after agree with routes worked out
here on the stored path network, with that footway made a service road instead: independent of the
fire-lane rule); moves a building's corner and then the whole building with the edit handles (the stored
ring is the old one with exactly those moves); saves over another person's change (refused with the
API's message, nothing overwritten; Reload, save again, and undo restores the other person's value);
then undoes every step back to the campus as it was.

Phone, a patrol lead: only their layers are offered; a path split where it was tapped and joined back
(pieces and the joined line checked with shapely); a checkpoint on a saved route refused deletion with
the API's message; the panel sits below the map.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import pytest

from .conftest import LiveServer, check_phone_panel, open_page, shot, wait_idle, watch

pytestmark = pytest.mark.browser

CAMPUS = "cau-east"
MAP = "window[document.querySelector('.folium-map').id]"
FOOTWAY = "osm:way/609240217"  # a 30 m footway between two service roads whose one-way loop is long by car
BUILDING = "osm:way/167164906"  # 国际学院, a plain four-cornered building
XSS = '<img src=x onerror="window.__xss=1">岗亭 {{ 7*7 }}'
PANEL = "#pm-edit-tools"
FEATURE = "#pm-edit-feature"


def tab(context: Any) -> Any:
    page = context.new_page()
    page.trouble = watch(page)
    page.on("dialog", lambda dialog: dialog.accept())
    return page


def api(context: Any, live: LiveServer, path: str, status: int = 200) -> Any:
    response = context.request.get(live.url + path)
    assert response.status == status, response.text()
    return response.json()


def send(context: Any, live: LiveServer, method: str, path: str, body: Any, status: int = 200) -> Any:
    token = api(context, live, "/api/me")["csrf_token"]
    response = context.request.fetch(live.url + path, method=method, data=body,
                                     headers={"X-CSRF-Token": token, "Content-Type": "application/json"})
    assert response.status == status, response.text()
    return response.json() if status != 204 else None


def item(context: Any, live: LiveServer, layer: str, item_id: int, status: int = 200) -> Any:
    return api(context, live, f"/api/layers/{layer}/items/{item_id}", status)


def stored_id(live: LiveServer, model_name: str, source_id: str) -> int:
    from sqlalchemy import select

    from patrolmap import models
    from patrolmap.extensions import db

    model = getattr(models, model_name)
    with live.app.app_context():
        found = db.session.scalars(select(model.id).where(model.source_id == source_id)).one()
        db.session.remove()
    return found


def page_point(page: Any, lon: float, lat: float) -> tuple[float, float]:
    """Where the map shows (lon, lat), in page coordinates."""
    return page.evaluate(f"""([lat, lon]) => {{
        const m = {MAP}; const p = m.latLngToContainerPoint([lat, lon]);
        const r = m.getContainer().getBoundingClientRect(); return [r.left + p.x, r.top + p.y]; }}""", [lat, lon])


def lonlat_at(page: Any, x: float, y: float) -> tuple[float, float]:
    """What the map shows at page coordinates (x, y), as (lon, lat)."""
    return tuple(page.evaluate(f"""([x, y]) => {{
        const m = {MAP}; const r = m.getContainer().getBoundingClientRect();
        const ll = m.containerPointToLatLng([x - r.left, y - r.top]); return [ll.lng, ll.lat]; }}""", [x, y]))


def tap(page: Any, lon: float, lat: float, *, touch: bool = False) -> None:
    x, y = page_point(page, lon, lat)
    if touch:
        page.touchscreen.tap(x, y)
    else:
        page.mouse.click(x, y)


def drag(page: Any, start: tuple[float, float], dx: int, dy: int) -> None:
    page.mouse.move(*start)
    page.mouse.down()
    page.mouse.move(start[0] + dx / 2, start[1] + dy / 2, steps=4)
    page.mouse.move(start[0] + dx, start[1] + dy, steps=4)
    page.mouse.up()


def fit(page: Any, geometry: dict[str, Any], zoom: int = 19) -> None:
    page.wait_for_function(f"() => !{MAP}._animatingZoom")
    page.evaluate(f"""([g, z]) => {{ const m = {MAP};
        m.setView(L.geoJSON(g).getBounds().getCenter(), z, {{animate: false}}); }}""", [geometry, zoom])
    wait_idle(page)


def choose(page: Any, layer: str) -> None:
    page.select_option(f"{PANEL} select[name=layer]", layer)
    wait_idle(page)


def message(page: Any) -> str:
    return page.locator(f"{PANEL} [data-role=message]").inner_text()


def error(page: Any) -> str:
    return page.locator(f"{FEATURE} [data-role=error]").inner_text()


def answer(page: Any, method: str, part: str) -> Any:
    """Wait for the page's own request (method, URL containing part) and return its response."""
    return page.expect_response(lambda r: r.request.method == method and part in r.url)


def undo(page: Any, method: str, part: str) -> Any:
    with answer(page, method, part) as got:
        page.locator(f"{PANEL} [data-role=undo]").click()
    wait_idle(page)
    return got.value


def expected_drive_m(live: LiveServer, footway_id: int, start: list[float], stop: list[float]) -> tuple[Any, Any]:
    """Drive tour lengths start -> stop -> start on the stored paths, as they are and with the footway drivable.

    Worked out with the network module on a frame read here, the footway turned into a service road: what
    marking it a fire lane must amount to, without relying on the fire-lane rule itself.
    """
    from sqlalchemy import select

    from patrolmap.extensions import db
    from patrolmap.models import Campus
    from patrolmap.routing.network import build_network
    from patrolmap.routing.teams import plan_teams
    from patrolmap.store import layer_frame

    with live.app.app_context():
        campus_id = db.session.scalars(select(Campus.id).where(Campus.slug == CAMPUS)).one()
        frame = layer_frame(db.session, "paths", campus_id=campus_id)
        db.session.remove()
    assert not frame.loc[frame["id"] == footway_id, "fire_lane"].any()
    lengths = []
    for drivable in (False, True):
        paths = frame.copy()
        if drivable:
            paths.loc[paths["id"] == footway_id, "kind"] = "service"
        plan = plan_teams(build_network(paths, "drive"), tuple(start), [tuple(stop)], 1, speed_m_per_min=300.0)
        lengths.append(None if plan.unreachable else plan.routes[0].length_m)
    return lengths[0], lengths[1]


def planned_m(context: Any, live: LiveServer, start: list[float], stop: list[float]) -> Any:
    plan = send(context, live, "POST", "/api/routes/plan",
                {"campus": CAMPUS, "start": start, "checkpoints": [stop], "mode": "drive"})
    return None if plan["unreachable"] else plan["features"][0]["properties"]["length_m"]


def ring(feature: dict[str, Any]) -> list[list[float]]:
    assert feature["geometry"]["type"] == "Polygon"
    return feature["geometry"]["coordinates"][0]


def same_polygon(coords: list[list[float]], expected: list[list[float]], tol: float) -> bool:
    from shapely.geometry import Polygon

    return Polygon(coords).normalize().equals_exact(Polygon(expected).normalize(), tolerance=tol)


class Keeper:
    """Puts the shared live server's campus back as it was if a story stops half way (the others read it too)."""

    def __init__(self, context: Any, live: LiveServer) -> None:
        self.context, self.live = context, live
        self.originals: list[tuple[str, dict[str, Any]]] = []
        self.created: list[tuple[str, int]] = []
        self.routes: list[int] = []

    def keep(self, layer: str, item_id: int) -> dict[str, Any]:
        feature = item(self.context, self.live, layer, item_id)
        self.originals.append((layer, feature))
        return feature

    def restore(self) -> None:
        for layer, item_id in self.created:
            response = self.context.request.get(f"{self.live.url}/api/layers/{layer}/items/{item_id}")
            if response.status == 200:
                version = response.json()["properties"]["version"]
                send(self.context, self.live, "DELETE", f"/api/layers/{layer}/items/{item_id}", {"version": version})
        for layer, original in reversed(self.originals):
            now = item(self.context, self.live, layer, original["id"])
            fields = {k: v for k, v in original["properties"].items() if k not in ("version", "updated_at", "campus")}
            if now["geometry"] != original["geometry"] or any(now["properties"].get(k) != v for k, v in fields.items()):
                send(self.context, self.live, "PATCH", f"/api/layers/{layer}/items/{original['id']}",
                     {"properties": {**fields, "version": now["properties"]["version"]},
                      "geometry": original["geometry"]})
        for route_id in self.routes:
            route = self.context.request.get(f"{self.live.url}/api/routes/{route_id}")
            if route.status == 200:
                send(self.context, self.live, "DELETE", f"/api/routes/{route_id}",
                     {"version": route.json()["route"]["version"]}, status=204)


@pytest.fixture
def keeper(user_contexts: Any, live: LiveServer) -> Iterator[Keeper]:
    kept = Keeper(user_contexts("edit-admin", "admin"), live)
    yield kept
    kept.restore()


def test_admin_draws_marks_moves_and_undoes(live: LiveServer, user_contexts: Any, keeper: Keeper) -> None:
    admin_ctx = user_contexts("edit-admin", "admin")
    page = tab(admin_ctx)
    open_page(page, live.url + "/edit")
    from patrolmap.editing import EDIT_ROLES

    options = page.locator(f"{PANEL} select[name=layer] option")
    assert [options.nth(i).get_attribute("value") for i in range(options.count())] == list(EDIT_ROLES)

    # 1. Draw a checkpoint where the map is clicked; it is stored there, named as typed.
    choose(page, "checkpoints")
    building_id = stored_id(live, "Building", BUILDING)
    building = keeper.keep("buildings", building_id)
    spot = [building["geometry"]["coordinates"][0][0][0] - 0.0004, building["geometry"]["coordinates"][0][0][1]]
    fit(page, {"type": "Point", "coordinates": spot}, 18)
    page.locator(f"{PANEL} [data-role=draw-buttons] button[data-geometry=Point]").click()
    click_at = page_point(page, *spot)
    page.mouse.click(*click_at)
    form = page.locator(f"{FEATURE} form")
    assert form.is_visible() and page.locator(FEATURE).get_attribute("data-feature-id") == "new"
    assert form.locator("select[name=kind]").input_value() == "other"  # the schema's default
    form.locator("input[name=name]").fill(XSS)
    form.locator("select[name=kind]").select_option("patrol_point")
    with answer(page, "POST", "/api/layers/checkpoints/items") as got:
        form.locator("[data-role=save]").click()
    wait_idle(page)
    assert got.value.status == 201, got.value.text()
    created = got.value.json()
    keeper.created.append(("checkpoints", created["id"]))
    stored = item(admin_ctx, live, "checkpoints", created["id"])
    assert stored["properties"]["name"] == XSS and stored["properties"]["kind"] == "patrol_point"
    shown_at = page_point(page, *stored["geometry"]["coordinates"])
    assert math.dist(shown_at, click_at) < 1.0  # stored where it was clicked (within a pixel)
    assert page.locator(f"{FEATURE} [data-role=title]").inner_text().endswith(XSS)
    assert page.locator(f"{FEATURE} img").count() == 0 and page.evaluate("() => window.__xss") is None
    assert message(page) == "Created."

    # 2. Mark a footway as a fire lane: drive routes through it follow at once.
    footway_id = stored_id(live, "PathSegment", FOOTWAY)
    footway = keeper.keep("paths", footway_id)
    start, stop = footway["geometry"]["coordinates"][0], footway["geometry"]["coordinates"][-1]
    before_m, after_m = expected_drive_m(live, footway_id, start, stop)
    assert before_m is not None and after_m is not None and after_m < before_m / 10
    assert planned_m(admin_ctx, live, start, stop) == pytest.approx(before_m, abs=0.2)
    choose(page, "paths")
    fit(page, footway["geometry"])
    middle = [(start[0] + stop[0]) / 2, (start[1] + stop[1]) / 2]
    with answer(page, "GET", f"/api/layers/paths/items/{footway_id}"):
        tap(page, *middle)
    wait_idle(page)
    assert page.locator(FEATURE).get_attribute("data-feature-id") == str(footway_id)
    assert form.locator("select[name=kind]").input_value() == "footway"
    fire_lane = form.locator("input[name=fire_lane]")
    assert not fire_lane.is_checked()
    fire_lane.check()
    with answer(page, "PATCH", f"/api/layers/paths/items/{footway_id}") as got:
        form.locator("[data-role=save]").click()
    wait_idle(page)
    assert got.value.status == 200 and got.value.request.post_data_json == {
        "properties": {"fire_lane": True, "version": footway["properties"]["version"]}}
    assert item(admin_ctx, live, "paths", footway_id)["properties"]["fire_lane"] is True
    assert planned_m(admin_ctx, live, start, stop) == pytest.approx(after_m, abs=0.2)
    assert message(page) == "Saved."
    drawn = page.evaluate("""(id) => { let v = null; window.patrolmap.layer('paths').eachLayer(l => {
        if (l.feature && l.feature.id === id) v = l.feature.properties.fire_lane; }); return v; }""", footway_id)
    assert drawn is True  # the map's layer was reloaded

    # 3. Move a building: drag one corner, save; then drag the centre handle, save.
    choose(page, "buildings")
    fit(page, building["geometry"])
    original = ring(building)
    with answer(page, "GET", f"/api/layers/buildings/items/{building_id}"):
        tap(page, *[sum(c) / len(c) for c in zip(*original[:-1], strict=True)])
    wait_idle(page)
    page.locator(f"{FEATURE} [data-role=reshape]").click()
    corner = page_point(page, *original[0])
    expected_corner = lonlat_at(page, corner[0] + 40, corner[1] + 30)
    drag(page, corner, 40, 30)
    with answer(page, "PATCH", f"/api/layers/buildings/items/{building_id}") as got:
        page.locator(f"{FEATURE} [data-role=save-shape]").click()
    wait_idle(page)
    assert got.value.status == 200, got.value.text()
    assert message(page) == "Shape saved."
    moved = ring(item(admin_ctx, live, "buildings", building_id))
    want = [list(expected_corner), *original[1:-1], list(expected_corner)]
    assert same_polygon(moved, want, 1e-7), (moved, want)
    assert all(any(math.dist(p, q) < 1e-9 for q in moved) for p in original[1:-1])  # the other corners stayed

    page.locator(f"{FEATURE} [data-role=reshape]").click()
    handle = page.locator(".pm-edit-mover")
    box = handle.bounding_box()
    grab = (box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    here, there = lonlat_at(page, *grab), lonlat_at(page, grab[0] - 25, grab[1] + 35)
    drag(page, grab, -25, 35)
    with answer(page, "PATCH", f"/api/layers/buildings/items/{building_id}") as got:
        page.locator(f"{FEATURE} [data-role=save-shape]").click()
    wait_idle(page)
    assert got.value.status == 200, got.value.text()
    shifted = ring(item(admin_ctx, live, "buildings", building_id))
    delta = (there[0] - here[0], there[1] - here[1])
    assert same_polygon(shifted, [[x + delta[0], y + delta[1]] for x, y in moved], 1e-7)

    # 4. Another person renames it while the form is open: the page's save is refused, nothing is lost.
    other = user_contexts("edit-planner", "planner")
    read = item(other, live, "buildings", building_id)
    assert read["properties"]["version"] == int(page.locator(FEATURE).get_attribute("data-version"))
    theirs, mine = "国际学院 (planner)", "国际学院 (admin)"
    send(other, live, "PATCH", f"/api/layers/buildings/items/{building_id}",
         {"properties": {"name": theirs, "version": read["properties"]["version"]}})
    form.locator("input[name=name]").fill(mine)
    with answer(page, "PATCH", f"/api/layers/buildings/items/{building_id}") as got:
        form.locator("[data-role=save]").click()
    wait_idle(page)
    assert got.value.status == 409
    assert error(page) == got.value.json()["message"] and error(page)
    assert item(admin_ctx, live, "buildings", building_id)["properties"]["name"] == theirs
    reload = page.locator(f"{FEATURE} [data-role=reload]")
    assert reload.is_visible()
    with answer(page, "GET", f"/api/layers/buildings/items/{building_id}"):
        reload.click()
    wait_idle(page)
    assert form.locator("input[name=name]").input_value() == theirs and not reload.is_visible()
    form.locator("input[name=name]").fill(mine)
    with answer(page, "PATCH", f"/api/layers/buildings/items/{building_id}") as got:
        form.locator("[data-role=save]").click()
    wait_idle(page)
    assert got.value.status == 200 and item(admin_ctx, live, "buildings", building_id)["properties"]["name"] == mine
    shot(page, "edit-building")

    # 5. Undo, step by step, back to the campus as it was.
    assert undo(page, "PATCH", f"/buildings/items/{building_id}").status == 200
    assert message(page) == "Undone."
    assert item(admin_ctx, live, "buildings", building_id)["properties"]["name"] == theirs
    assert undo(page, "PATCH", f"/buildings/items/{building_id}").status == 200
    assert same_polygon(ring(item(admin_ctx, live, "buildings", building_id)), moved, 1e-9)
    assert undo(page, "PATCH", f"/buildings/items/{building_id}").status == 200
    assert same_polygon(ring(item(admin_ctx, live, "buildings", building_id)), original, 1e-9)
    assert undo(page, "PATCH", f"/paths/items/{footway_id}").status == 200
    assert item(admin_ctx, live, "paths", footway_id)["properties"]["fire_lane"] is False
    assert planned_m(admin_ctx, live, start, stop) == pytest.approx(before_m, abs=0.2)
    # the new checkpoint: deleted on the page, brought back by undo (as a new feature), then undone altogether
    choose(page, "checkpoints")
    fit(page, stored["geometry"], 19)
    with answer(page, "GET", f"/api/layers/checkpoints/items/{created['id']}"):
        tap(page, *stored["geometry"]["coordinates"])
    wait_idle(page)
    with answer(page, "DELETE", f"/api/layers/checkpoints/items/{created['id']}") as got:
        page.locator(f"{FEATURE} [data-role=delete]").click()
    wait_idle(page)
    assert got.value.status == 200 and message(page) == "Deleted." and not page.locator(FEATURE).is_visible()
    item(admin_ctx, live, "checkpoints", created["id"], status=404)
    again = undo(page, "POST", "/api/layers/checkpoints/items")
    assert again.status == 201
    back = again.json()
    keeper.created.append(("checkpoints", back["id"]))
    assert back["properties"]["name"] == XSS and back["properties"]["kind"] == "patrol_point"
    assert back["geometry"] == stored["geometry"]
    assert undo(page, "DELETE", f"/checkpoints/items/{back['id']}").status == 200  # the creation, by its new id
    item(admin_ctx, live, "checkpoints", back["id"], status=404)
    assert message(page) == "Undone." and page.locator(f"{PANEL} [data-role=undo]").is_disabled()
    # the other person's name stays (theirs, not overwritten by any undo): put the sample's back
    send(admin_ctx, live, "PATCH", f"/api/layers/buildings/items/{building_id}",
         {"properties": {"name": building["properties"]["name"],
                         "version": item(admin_ctx, live, "buildings", building_id)["properties"]["version"]}})

    page.trouble.failed_requests.remove(f"{live.url}/api/layers/buildings/items/{building_id} (409)")
    page.trouble.console_errors.remove("Failed to load resource: the server responded with a status of 409 (CONFLICT)")
    assert not page.trouble.report(), page.trouble.report()


def test_lead_on_a_phone_splits_joins_and_is_refused(live: LiveServer, user_contexts: Any, keeper: Keeper) -> None:
    from shapely.geometry import LineString, Point, shape
    from shapely.ops import linemerge

    from patrolmap.editing import EDIT_ROLES

    lead_ctx = user_contexts("edit-lead", "patrol_lead", (390, 844), is_mobile=True, has_touch=True)
    phone = tab(lead_ctx)
    open_page(phone, live.url + "/edit")
    check_phone_panel(phone, "#pm-edit-details", PANEL, "edit")
    options = phone.locator(f"{PANEL} select[name=layer] option")
    assert [options.nth(i).get_attribute("value") for i in range(options.count())] == \
        [layer for layer, roles in EDIT_ROLES.items() if "patrol_lead" in roles] == ["paths", "checkpoints"]

    # Split a road where it is tapped, then join the two pieces back.
    road_id = stored_id(live, "PathSegment", "osm:way/21691079")
    road = keeper.keep("paths", road_id)
    line = shape(road["geometry"])
    choose(phone, "paths")
    fit(phone, road["geometry"], 20)
    at = line.interpolate(0.4, normalized=True)
    with answer(phone, "GET", f"/api/layers/paths/items/{road_id}"):
        tap(phone, at.x, at.y, touch=True)
    wait_idle(phone)
    assert phone.locator("#pm-edit-details").evaluate("d => d.open") is True
    phone.locator(f"{FEATURE} [data-role=split]").click()
    with answer(phone, "POST", f"/api/layers/paths/items/{road_id}/split") as got:
        tap(phone, at.x, at.y, touch=True)
    wait_idle(phone)
    assert got.value.status == 200, got.value.text()
    first, second = got.value.json()["features"]
    keeper.created.append(("paths", second["id"]))
    assert first["id"] == road_id and message(phone) == "Split in two."
    a = shape(item(lead_ctx, live, "paths", road_id)["geometry"])
    b = shape(item(lead_ctx, live, "paths", second["id"])["geometry"])
    assert a.length + b.length == pytest.approx(line.length, rel=1e-9)
    cut = Point(a.coords[-1])
    assert cut.distance(line) < 1e-9 and cut.distance(at) < 2e-6  # on the line, where tapped (within a pixel)
    assert item(lead_ctx, live, "paths", second["id"])["properties"]["kind"] == road["properties"]["kind"]
    assert item(lead_ctx, live, "paths", second["id"])["properties"]["oneway"] == road["properties"]["oneway"]

    phone.locator(f"{FEATURE} [data-role=join]").click()
    there = b.interpolate(0.5, normalized=True)
    with answer(phone, "POST", "/api/layers/paths/join") as got:
        tap(phone, there.x, there.y, touch=True)
    wait_idle(phone)
    assert got.value.status == 200, got.value.text()
    assert got.value.request.post_data_json["ids"] == [road_id, second["id"]]
    joined = shape(item(lead_ctx, live, "paths", road_id)["geometry"])
    assert isinstance(joined, LineString) and joined.length == pytest.approx(line.length, rel=1e-9)
    assert joined.hausdorff_distance(linemerge([a, b])) < 1e-12 and joined.hausdorff_distance(line) < 1e-9
    item(lead_ctx, live, "paths", second["id"], status=404)
    assert message(phone) == "Joined."

    # A checkpoint on a saved route: deleting it is refused, in the API's words.
    checkpoints = api(lead_ctx, live, f"/api/layers/checkpoints?campus={CAMPUS}&limit=100")["features"]
    target, start = checkpoints[-1], checkpoints[0]
    route = send(lead_ctx, live, "POST", "/api/routes", {"campus": CAMPUS, "name": "Night round (edit test)",
                                                          "checkpoints": [target["id"]], "start": start["id"]},
                 status=201)
    keeper.routes.append(route["route"]["id"])
    choose(phone, "checkpoints")
    fit(phone, target["geometry"], 19)
    with answer(phone, "GET", f"/api/layers/checkpoints/items/{target['id']}"):
        tap(phone, *target["geometry"]["coordinates"], touch=True)
    wait_idle(phone)
    with answer(phone, "DELETE", f"/api/layers/checkpoints/items/{target['id']}") as got:
        phone.locator(f"{FEATURE} [data-role=delete]").click()
    wait_idle(phone)
    assert got.value.status == 409
    refusal = got.value.json()["message"]
    assert error(phone) == refusal and "Night round (edit test)" in refusal
    assert not phone.locator(f"{FEATURE} [data-role=reload]").is_visible()  # no version to reload: a reference
    item(lead_ctx, live, "checkpoints", target["id"])
    shot(phone, "edit-phone")

    phone.trouble.failed_requests.remove(f"{live.url}/api/layers/checkpoints/items/{target['id']} (409)")
    phone.trouble.console_errors.remove("Failed to load resource: the server responded with a status of 409 (CONFLICT)")
    assert not phone.trouble.report(), phone.trouble.report()
