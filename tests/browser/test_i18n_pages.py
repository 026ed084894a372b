"""Every page in zh-CN and in en, in a real browser: no message left in the other language.

The page's whole visible text is read after the map has drawn, with the legend, the
layer control, a feature's popup and the record form open, so words that only the
browser builds (patrolmap.js) are checked too.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from babel.messages.pofile import read_po

from .conftest import LiveServer, open_page, set_view, shot, watch

PO = Path(__file__).resolve().parents[2] / "patrolmap/translations/zh_Hans_CN/LC_MESSAGES/messages.po"
PAGES = ["/", "/patrol", "/violations", "/chargers", "/grid", "/edit", "/reports", "/import", "/admin/audit"]
PLAIN = ("/reports", "/import", "/admin/audit")  # pages without a map
ZH_KINDS = {"fire_lane": "占用消防通道", "entrance": "堵塞出入口", "no_parking": "禁停区域", "zombie": "僵尸车", "other": "其他"}
EN_KINDS = {"fire_lane": "fire lane blocked", "entrance": "blocking an entrance", "no_parking": "no parking zone",
            "zombie": "zombie car", "other": "other"}


def _catalogue() -> dict[str, str]:
    """English message -> Chinese, for messages whose two forms differ (placeholders left out)."""
    with PO.open("rb") as f:
        catalog = read_po(f)
    pairs = {}
    for m in catalog:
        if m.id and isinstance(m.id, str) and m.string and m.string != m.id and "%(" not in m.id:
            pairs[m.id] = m.string
    return pairs


def _everything_open(page: Any) -> str:
    """Open what only the browser builds, then return the visible text."""
    page.locator(".pm-legend summary").click() if page.locator(".pm-legend summary").count() else None
    page.locator(".leaflet-control-layers").hover()
    if page.locator(".pm-record-toggle").count():
        page.locator(".pm-record-toggle").click()
        box = page.locator(".folium-map").bounding_box()
        page.mouse.click(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.5)
        page.wait_for_selector(".pm-record-form")
    return page.evaluate("() => document.body.innerText")


def _lines(text: str) -> set[str]:
    return {line.strip() for line in re.split(r"[\n\t]", text) if line.strip()}


@pytest.mark.parametrize("language", ["zh-CN", "en-US"])
def test_no_message_is_left_untranslated(browser: Any, live: LiveServer, language: str) -> None:
    catalogue = _catalogue()
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale=language)
    live.sign_in(context)
    page = context.new_page()
    trouble = watch(page)
    chinese = language.startswith("zh")
    # Words of the other language that must not show: English message ids on Chinese pages and back.
    foreign = set(catalogue) if chinese else set(catalogue.values())
    for path in PAGES:
        if path in PLAIN:
            page.goto(live.url + path, wait_until="networkidle")
            text = page.evaluate("() => document.body.innerText")
        else:
            open_page(page, live.url + path)
            text = _everything_open(page)
        assert page.evaluate("() => document.documentElement.lang") == ("zh-CN" if chinese else "en")
        left = _lines(text) & foreign
        assert not left, (path, language, sorted(left))
        shot(page, f"i18n-{language}-{path.strip('/') or 'overview'}")
    # A popup of a coded value reads in the page's language, and its time in 24-hour form.
    open_page(page, live.url + "/violations")
    one = context.request.get(live.url + "/api/layers/violations?limit=1").json()["features"][0]
    lon, lat = one["geometry"]["coordinates"]
    set_view(page, lat, lon, 19)
    page.evaluate("""(id) => {
        window.patrolmap.layer('violations').eachLayer(l => { if (l.feature && l.feature.id === id) l.openPopup(); });
    }""", one["id"])
    kind = page.locator(".leaflet-popup-content td.pm-value-kind").inner_text()
    when = page.locator(".leaflet-popup-content td.pm-value-observed_at").inner_text()
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}", when), when
    assert one["properties"]["observed_at"].replace("T", " ").startswith(when)
    assert kind == (ZH_KINDS if chinese else EN_KINDS)[one["properties"]["kind"]]
    # A code read by its field: a lab building, a laboratory-safety hazard (the popups and the grid's
    # hazard form look them up the same way).
    labels = page.evaluate("() => [window.patrolmap.valueLabel('lab', 'kind'), window.patrolmap.valueLabel('lab', "
                           "'category'), window.patrolmap.valueLabel('fire', 'category')]")
    assert labels == (["实验楼", "实验室安全", "消防安全"] if chinese else ["lab", "laboratory safety", "fire safety"])
    # Leaving a page cancels its pending fetches (ERR_ABORTED); anything else is a fault.
    faults = [r for r in trouble.report().splitlines() if "ERR_ABORTED" not in r]
    assert not faults, trouble.report()
    context.close()
