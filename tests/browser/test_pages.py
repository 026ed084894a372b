"""Every page in a real Chromium, offline: layers, popups, recording, escaping, phone use."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from patrolmap.extensions import db
from patrolmap.importing import load_geodata
from patrolmap.layers import LAYERS
from patrolmap.web.pages import PAGE_URLS, PAGES

from .conftest import LiveServer, open_page, set_view, shot, wait_idle, watch

pytestmark = pytest.mark.browser

XSS = '<img src=x onerror="window.__xss=1">'
# A checkpoint by the 学生公寓3号楼 dorm: far enough from others to click on its own.
SPOT = (116.34870, 40.00210)


def control_layers(page: Any) -> dict[str, bool]:
    """The layer control's overlays: name -> checked."""
    page.hover(".leaflet-control-layers")
    rows = page.locator(".leaflet-control-layers-overlays label")
    return {rows.nth(i).inner_text().strip(): rows.nth(i).locator("input").is_checked() for i in range(rows.count())}


@pytest.mark.parametrize("page_id", list(PAGES))
def test_every_page_loads_offline_with_every_layer(live: LiveServer, page: Any, page_id: str) -> None:
    open_page(page, live.url + PAGE_URLS[page_id])
    assert not page.trouble.report(), page.trouble.report()
    layers = control_layers(page)
    assert list(layers) == [layer.title for layer in LAYERS.values()]
    expected_on = {LAYERS[i].title for i in PAGES[page_id].layers_on}
    assert {name for name, on in layers.items() if on} == expected_on
    assert page.locator(".leaflet-control-layers-base label").first.inner_text().strip() == "No basemap"
    status = page.locator(".pm-status").inner_text()
    for title in expected_on:
        assert title in status
    shot(page, f"page-{page_id}")


def test_every_layer_toggles_off_and_on(live: LiveServer, page: Any) -> None:
    open_page(page, live.url + "/")
    on_map = "(id) => Boolean(window.patrolmap.layer(id)._map)"
    for layer in LAYERS.values():
        page.hover(".leaflet-control-layers")
        checkbox = page.locator(".leaflet-control-layers-overlays label", has_text=layer.title).locator("input")
        assert page.evaluate(on_map, layer.id), layer.id
        checkbox.uncheck()
        assert not page.evaluate(on_map, layer.id), layer.id
        assert layer.title not in page.locator(".pm-status").inner_text()
        checkbox.check()
        wait_idle(page)
        assert page.evaluate(on_map, layer.id), layer.id
        assert layer.title in page.locator(".pm-status").inner_text()
    assert not page.trouble.report(), page.trouble.report()


def test_dense_layer_is_counted_not_truncated(live: LiveServer, page: Any) -> None:
    open_page(page, live.url + "/violations")
    # The whole campus holds more violations than the map draws: it shows counted cells.
    cells = page.locator(".pm-cell-violations")
    assert cells.count() > 0
    total = sum(int(cells.nth(i).inner_text()) for i in range(cells.count()) if cells.nth(i).inner_text().isdigit())
    matched = page.evaluate("window.patrolmap.layer('violations').info.matched")
    assert matched >= 6000 and total <= matched
    # Zoomed in to a street, single violations appear.
    set_view(page, SPOT[1], SPOT[0], 20)
    info = page.evaluate("window.patrolmap.layer('violations').info")
    assert info["cells"] is False and info["shown"] == info["matched"]


@pytest.fixture
def xss_checkpoint(live: LiveServer, tmp_path: Path) -> str:
    """A checkpoint whose name is a script payload, imported as a user would."""
    file = tmp_path / "checkpoints.geojson"
    file.write_text(json.dumps({"type": "FeatureCollection", "features": [{
        "type": "Feature", "id": "xss-1", "properties": {"name": XSS, "kind": "other"},
        "geometry": {"type": "Point", "coordinates": list(SPOT)}}]}), encoding="utf-8")
    with live.app.app_context():
        from patrolmap.importing import CampusInfo

        load_geodata(db.session, file, campus=CampusInfo(slug="cau-east"))
        db.session.remove()
    return XSS


def click_feature_at(page: Any, lon: float, lat: float) -> None:
    point = page.evaluate(
        "([lat, lon]) => { const m = window[document.querySelector('.folium-map').id];"
        " const p = m.latLngToContainerPoint([lat, lon]); const r = m.getContainer().getBoundingClientRect();"
        " return [r.left + p.x, r.top + p.y]; }",
        [lat, lon],
    )
    page.mouse.click(point[0], point[1])


def test_popup_shows_fields_and_escapes_names(live: LiveServer, page: Any, xss_checkpoint: str) -> None:
    open_page(page, live.url + "/patrol")
    set_view(page, SPOT[1], SPOT[0], 20)
    click_feature_at(page, *SPOT)
    popup = page.locator(".leaflet-popup-content")
    popup.wait_for()
    assert popup.locator(".pm-popup-title").inner_text() == "Checkpoints"
    assert popup.locator("td.pm-value-name").inner_text() == xss_checkpoint
    assert popup.locator("img").count() == 0
    assert page.evaluate("window.__xss") is None
    shot(page, "popup-escaped")


def test_record_violation_by_clicking(live: LiveServer, page: Any) -> None:
    open_page(page, live.url + "/violations")
    where = (116.35035, 40.00330)
    set_view(page, where[1], where[0], 20)
    page.locator(".pm-record-toggle").click()
    click_feature_at(page, *where)
    form = page.locator(".pm-record-form")
    form.wait_for()
    form.locator("select[name=kind]").select_option("fire_lane")
    form.locator("input[name=plate]").fill("京B99999")
    # A note longer than the API accepts: the form shows the API's own message and keeps the input.
    form.locator("textarea[name=note]").evaluate("(t) => { t.removeAttribute('maxlength'); t.value = 'x'.repeat(2001); }")
    # Submitted through the form itself: the popup may still be gliding into view (autopan),
    # and a click that lands beside it would open a new form instead. Tapping Save is covered
    # by the phone test.
    form.evaluate("(f) => f.requestSubmit()")
    page.wait_for_function("() => document.querySelector('.pm-form-error').textContent.length > 0")
    assert "note: longer than 2000 characters" in form.locator(".pm-form-error").inner_text()
    form.locator("textarea[name=note]").fill(XSS)
    with page.expect_response(lambda r: r.url.endswith("/api/violations") and r.request.method == "POST") as resp:
        form.evaluate("(f) => f.requestSubmit()")
    assert resp.value.status == 201
    created = resp.value.json()
    # The page refreshes the layer once it has read the response: wait for the point itself,
    # not for "no request pending", which can be true just before that refresh starts.
    shown = "(id) => window.patrolmap.layer('violations').getLayers().some(l => l.feature && l.feature.id === id)"
    page.wait_for_function(shown, arg=created["id"], timeout=10_000)
    wait_idle(page)
    lon, lat = created["geometry"]["coordinates"]
    assert abs(lon - where[0]) < 2e-6 and abs(lat - where[1]) < 2e-6
    assert created["properties"]["note"] == XSS and created["properties"]["kind"] == "fire_lane"
    click_feature_at(page, lon, lat)
    page.locator(".leaflet-popup-content td.pm-value-note").wait_for()
    assert page.locator(".leaflet-popup-content td.pm-value-note").inner_text() == XSS
    assert page.evaluate("window.__xss") is None
    assert not [e for e in page.trouble.console_errors if "422" not in e], page.trouble.report()
    shot(page, "recorded-violation")


def test_phone_records_at_gps_position(live: LiveServer, browser: Any) -> None:
    fix = {"latitude": 40.00318, "longitude": 116.35050}
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True,
                                  geolocation=fix, permissions=["geolocation"], locale="en-US")
    live.sign_in(context)
    phone = context.new_page()
    trouble = watch(phone)
    open_page(phone, live.url + "/violations")
    for control in (".pm-record-toggle", ".pm-record-here", ".leaflet-control-locate", ".leaflet-control-layers"):
        box = phone.locator(control).bounding_box()
        assert box and box["width"] >= 30 and box["height"] >= 30, control
        assert box["x"] >= 0 and box["x"] + box["width"] <= 390, control
    phone.locator(".pm-record-here").tap()
    form = phone.locator(".pm-record-form")
    form.wait_for()
    form.locator("select[name=kind]").select_option("entrance")
    with phone.expect_response(lambda r: r.url.endswith("/api/violations")) as resp:
        form.locator("button[type=submit]").tap()
    assert resp.value.status == 201
    lon, lat = resp.value.json()["geometry"]["coordinates"]
    # GPS fixes are WGS84 already: stored exactly where the phone was.
    assert abs(lon - fix["longitude"]) < 1e-7 and abs(lat - fix["latitude"]) < 1e-7
    wait_idle(phone)
    shot(phone, "phone-violations")
    assert not trouble.report(), trouble.report()
    context.close()


def test_policy_blocks_injected_handlers_even_unescaped(live: LiveServer, page: Any) -> None:
    """If a string ever reached the page as HTML, the policy alone still stops it running."""
    open_page(page, live.url + "/")
    page.evaluate("""() => {
        const box = document.createElement('div');
        box.innerHTML = '<img src="data:," onerror="window.__xss = 1">';
        document.body.appendChild(box);
        const s = document.createElement('script');
        s.textContent = 'window.__xss = 2';
        document.body.appendChild(s);
    }""")
    page.wait_for_timeout(300)
    assert page.evaluate("() => window.__xss") is None
    assert any("Content Security Policy" in e for e in page.trouble.console_errors), page.trouble.report()
