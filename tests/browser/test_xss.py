"""Stored XSS: every payload in every user-writable string, every page in Chromium, nothing runs.

One database per store holds two campuses whose every free-text field (derived from the layer
schemas, so a new field is covered without touching this file), campus name, university and
slug, import folder name and the user's display name carry the payloads of xss_payloads.py.
Every HTML page the app routes (found in its URL map) is opened with every layer on and every
feature's popup and tooltip open; every inline handler and javascript: link that made it into
the page is then fired on purpose. A sentinel (window.__xss, trapped by a setter installed before
any page script) and a dialog handler must see nothing.

The same corpus is then served by a test-only build with escaping switched off
(UNSAFE_NO_ESCAPING_FOR_TESTS): the payloads' markup really lands in the page, and the
Content-Security-Policy alone must keep all of it from running. A control visit with the policy
bypassed shows that the same checks do see payloads that run.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from patrolmap.geo.schema import SCHEMAS, FieldSpec
from patrolmap.layers import LAYERS
from patrolmap.web.pages import PAGE_URLS

from ..conftest import empty_database
from .conftest import LiveServer, shared_server, wait_idle, watch
from .xss_payloads import CATEGORIES, PAYLOADS, TEMPLATES, fit

pytestmark = pytest.mark.browser

# Free text: string fields without a fixed vocabulary. Fields with `choices` (kind, status, access)
# are skipped on purpose: the schema refuses any value outside the vocabulary, so they cannot hold
# a payload; fields of other types (numbers, booleans, times, hour ranges) are parsed and cannot
# either. They get valid values instead.
FREE_TEXT: dict[str, tuple[FieldSpec, ...]] = {
    layer_id: tuple(spec for spec in schema.fields if spec.type == "str" and spec.choices is None)
    for layer_id, schema in SCHEMAS.items()
}
SOURCE_ID_LENGTH = 128  # models.Feature.source_id: the GeoJSON id, written by whoever made the file
# Fields stored but not served by the API (none today: grid zones' officers are served since
# this test found them missing); a field listed here is checked in the store only.
KNOWN_UNSERVED: set[tuple[str, str]] = set()


def _pick(category: str, index: int = 0, banned: str = "") -> str:
    return [p for p in CATEGORIES[category] if not set(banned) & set(p)][index]


# Campus and user strings the pages render on the server (Jinja), not through the API.
CAMPUS_A = {"slug": fit(_pick("breakout"), 64), "name": _pick("chinese"), "university": _pick("json")}
CAMPUS_B = {"slug": fit(_pick("attribute"), 64), "name": _pick("handler", 4), "university": _pick("unicode")}
FOLDER_A = "a-" + _pick("svg", banned="/")  # an import's folder name lands in the audit log
FOLDER_B = "b-" + _pick("attribute", 1, banned="/")
DISPLAY_NAME = _pick("handler")  # <img src=x onerror=...>: an element in the header if escaping were off
TIME = "2026-09-01T08:00:00+08:00"
SAMPLES = 6  # popup names per page also read with Playwright's own inner_text
ORIGIN = (116.3400, 40.0000)
STEP = 0.0002


def _filler(spec: FieldSpec) -> Any:
    """A valid value for a field that cannot hold a payload (None leaves it to the default)."""
    if spec.choices is not None:
        return spec.default if spec.default is not None else spec.choices[0]
    if spec.type == "datetime":
        return TIME
    if spec.required and spec.type in ("int", "float"):
        return spec.min or 0
    return None


def _geometry(layer_id: str, row: int, col: int) -> dict[str, Any]:
    """A small shape of the layer's first allowed type, on its own spot of a grid."""
    x, y = ORIGIN[0] + col * STEP, ORIGIN[1] + row * STEP * 2
    kind = SCHEMAS[layer_id].geometry_types[0]
    size = STEP * 0.6
    if kind in ("Polygon", "MultiPolygon"):
        ring = [[x, y], [x + size, y], [x + size, y + size], [x, y + size], [x, y]]
        return {"type": "Polygon", "coordinates": [ring]}
    if kind == "LineString":
        return {"type": "LineString", "coordinates": [[x, y], [x + size, y + size]]}
    return {"type": "Point", "coordinates": [x, y]}


def expected_value(payload: str, spec: FieldSpec) -> str:
    return fit(payload, spec.max_length)


def layer_file(layer_id: str, row: int, payloads: tuple[str, ...]) -> dict[str, Any]:
    """Feature i of a layer holds payload i in every free-text field and in its id."""
    features = []
    for i, payload in enumerate(payloads):
        props = {spec.name: _filler(spec) for spec in SCHEMAS[layer_id].fields}
        props.update({spec.name: expected_value(payload, spec) for spec in FREE_TEXT[layer_id]})
        features.append({"type": "Feature", "id": fit(payload, SOURCE_ID_LENGTH),
                         "geometry": _geometry(layer_id, row, i),
                         "properties": {k: v for k, v in props.items() if v is not None}})
    return {"type": "FeatureCollection", "features": features}


def write_geodata(root: Path) -> None:
    """Two campus folders in the importer's layout: A with every layer full of payloads, B with one post."""
    a, b = root / FOLDER_A, root / FOLDER_B
    for folder, campus in ((a, CAMPUS_A), (b, CAMPUS_B)):
        folder.mkdir()
        (folder / "campus.json").write_text(json.dumps({**campus, "timezone": "Asia/Shanghai"}), encoding="utf-8")
    for row, layer_id in enumerate(LAYERS):
        (a / f"{layer_id}.geojson").write_text(json.dumps(layer_file(layer_id, row, PAYLOADS)), encoding="utf-8")
    post = layer_file("duty-posts", len(LAYERS) + 2, PAYLOADS[:1])
    (b / "duty-posts.geojson").write_text(json.dumps(post), encoding="utf-8")


@pytest.fixture
def seeded(store: str, tmp_path_factory: pytest.TempPathFactory) -> LiveServer:
    """A live server over a store seeded (once per run) with the payloads, imported by first-run."""
    def make() -> LiveServer:
        root = tmp_path_factory.mktemp(f"xss-geodata-{store}")
        write_geodata(root)
        url = empty_database(store, tmp_path_factory.mktemp(f"xss-{store}"), "xss")
        return LiveServer(url, config={"SAMPLE_GEODATA": str(root)}, user={"display_name": DISPLAY_NAME})

    return shared_server(f"xss-{store}", make)


@pytest.fixture
def unescaped(store: str, seeded: LiveServer) -> LiveServer:
    """The test-only build with escaping off, over the very same database."""
    config = {"SAMPLE_GEODATA": seeded.app.config["SAMPLE_GEODATA"], "TESTING": True,
              "UNSAFE_NO_ESCAPING_FOR_TESTS": True}
    return shared_server(f"xss-unescaped-{store}",
                         lambda: LiveServer(seeded.app.config["SQLALCHEMY_DATABASE_URI"], config=config))


# ------------------------------------------------------------------------------------------ corpus


def test_corpus_has_every_kind_of_payload() -> None:
    assert len(PAYLOADS) >= 60 and len(set(PAYLOADS)) == len(PAYLOADS)
    for category in ("script", "breakout", "handler", "url", "backtick", "attribute", "svg", "style", "unicode",
                     "chinese", "json"):
        assert CATEGORIES.get(category), category
    for number, (payload, (_, template)) in enumerate(zip(PAYLOADS, TEMPLATES, strict=True), start=1):
        # Each payload would name itself: it sets the sentinel or opens a dialog with its own number.
        assert str(number) in payload and any(s in payload for s in ("xss", "alert(", "confirm(")), template
        assert payload == payload.strip() and "\x00" not in payload and len(payload) <= 200, payload
    assert any("</script>" in p for p in PAYLOADS) and any("`" in p for p in PAYLOADS)
    assert any("javascript:" in p for p in PAYLOADS) and any("<svg" in p for p in PAYLOADS)
    assert any(any("\u4e00" <= ch <= "\u9fff" for ch in p) for p in PAYLOADS)
    # Most fit whole even into a plate (32 characters); the rest are stored cut.
    assert sum(len(p) <= 32 for p in PAYLOADS) >= 40
    assert len({fit(p, SOURCE_ID_LENGTH) for p in PAYLOADS}) == len(PAYLOADS)


def test_free_text_comes_from_the_schemas() -> None:
    assert set(FREE_TEXT) == set(LAYERS)
    buildings = {s.name for s in FREE_TEXT["buildings"]}
    assert {"name", "name_en", "college"} <= buildings and "kind" not in buildings  # a fixed vocabulary
    assert {"plate", "note", "reporter"} <= {s.name for s in FREE_TEXT["violations"]}
    assert {"officer", "officer_phone"} <= {s.name for s in FREE_TEXT["grid-zones"]}
    assert sum(len(specs) for specs in FREE_TEXT.values()) >= 15


def test_escaping_switch_is_refused_outside_tests(tmp_path: Path) -> None:
    from patrolmap import create_app

    config = {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'x.sqlite3'}", "AUTO_INIT_DB": False,
              "GC_FREEZE": False, "UNSAFE_NO_ESCAPING_FOR_TESTS": True}
    with pytest.raises(RuntimeError, match="UNSAFE_NO_ESCAPING_FOR_TESTS"):
        create_app(config)
    app = create_app({**config, "TESTING": True})
    assert app.jinja_env.autoescape is False
    assert create_app({**config, "UNSAFE_NO_ESCAPING_FOR_TESTS": False}).jinja_env.autoescape is not False


# ------------------------------------------------------------------------------------------ store


def test_store_holds_every_payload_in_every_field(seeded: LiveServer, browser: Any) -> None:
    """Read back through the API (and the user table): the payloads are stored exactly, not cleaned."""
    context = browser.new_context()
    seeded.sign_in(context)
    try:
        campuses = context.request.get(f"{seeded.url}/api/campuses").json()
        by_slug = {c["slug"]: c for c in campuses}
        for campus in (CAMPUS_A, CAMPUS_B):
            assert by_slug[campus["slug"]]["name"] == campus["name"]
            assert by_slug[campus["slug"]]["university"] == campus["university"]
        unserved = set()
        for layer_id in LAYERS:
            response = context.request.get(f"{seeded.url}/api/layers/{layer_id}",
                                           params={"campus": CAMPUS_A["slug"], "limit": "10000"})
            assert response.status == 200, response.text()
            props = [f["properties"] for f in response.json()["features"]]
            assert len(props) == len(PAYLOADS), layer_id
            for spec in FREE_TEXT[layer_id]:
                if not any(spec.name in p for p in props):
                    unserved.add((layer_id, spec.name))
                    continue
                stored = Counter(p.get(spec.name) for p in props)
                assert stored == Counter(expected_value(p, spec) for p in PAYLOADS), (layer_id, spec.name)
            assert Counter(p.get("source_id") for p in props) == Counter(fit(p, SOURCE_ID_LENGTH) for p in PAYLOADS)
        assert unserved <= KNOWN_UNSERVED, unserved - KNOWN_UNSERVED
    finally:
        context.close()
    from sqlalchemy import select

    from patrolmap.extensions import db
    from patrolmap.models import User
    from patrolmap.store import find_campus, layer_frame

    with seeded.app.app_context():
        campus = find_campus(db.session, CAMPUS_A["slug"])
        assert campus is not None
        for layer_id, name in sorted(unserved):
            frame = layer_frame(db.session, layer_id, campus_id=campus.id)
            spec = SCHEMAS[layer_id].field(name)
            assert Counter(frame[name]) == Counter(expected_value(p, spec) for p in PAYLOADS), (layer_id, name)
        assert db.session.scalars(select(User.display_name).where(User.username == seeded.USERNAME)).one() \
            == DISPLAY_NAME
        db.session.remove()


# ------------------------------------------------------------------------------------------ pages

# Installed before any page script: a setter that records every write to the sentinel (so that
# an element named __xss cannot fake or hide one) and a log of the policy's refusals.
SENTINEL = """(() => {
  const hits = [];
  Object.defineProperty(window, "__xss", {configurable: false,
    get() { return hits.length ? hits[hits.length - 1] : undefined; }, set(v) { hits.push(v); }});
  Object.defineProperty(window, "__xssHits", {value: hits});
  const refused = [];
  Object.defineProperty(window, "__cspRefused", {value: refused});
  document.addEventListener("securitypolicyviolation",
    (e) => refused.push(e.effectiveDirective + " " + (e.blockedURI || "")), true);
})();"""

# Every feature's popup (and tooltip, if it has one) opened and left open; what each shows.
# The panes are hidden while they fill, or each popup's layout would measure all those before it.
OPEN_ALL = """({layers, fields, read}) => {
  const features = [];
  const shown = [];
  const missed = [];
  let tooltips = 0;
  const map = window[document.querySelector(".folium-map").id];
  const panes = [map.getPane("popupPane"), map.getPane("tooltipPane")];
  panes.forEach((pane) => { pane.style.display = "none"; });
  for (const id of layers) {
    const group = window.patrolmap.layer(id);
    if (!group) continue;
    group.eachLayer((item) => {
      if (!item.feature) return;
      const popup = item.getPopup();
      Object.assign(popup.options, {autoClose: false, autoPan: false, closeOnClick: false});
      item.openPopup();
      if (!item.isPopupOpen()) missed.push({layer: id, feature: String(item.feature.id).slice(0, 40), onMap: !!item._map});
      const tip = item.getTooltip && item.getTooltip();
      if (tip) { item.openTooltip(); tooltips += 1; }
      const box = popup.getElement().querySelector(".leaflet-popup-content");
      const cells = {};
      for (const name of fields[id]) {
        const td = box.querySelector("td.pm-value-" + name);
        cells[name] = td ? {text: td.textContent, elements: td.childElementCount} : null;
        if (td) shown.push([cells[name], td]);
      }
      const props = item.feature.properties;
      features.push({layer: id, served: fields[id].filter((name) => name in props), cells: cells});
    });
  }
  panes.forEach((pane) => { pane.style.display = ""; });
  // What a person reads (innerText, laid out) is read once every popup is shown.
  if (read) shown.forEach(([cell, td]) => { cell.read = td.innerText; });
  return {features: features, tooltips: tooltips, missed: missed,
          open: document.querySelectorAll(".leaflet-popup").length,
          openTooltips: document.querySelectorAll(".leaflet-tooltip").length};
}"""

# Fire, on purpose, whatever injected code made it into the page: every distinct inline handler,
# javascript: link, form action and form button (the same payload sits in a dozen popups: each
# handler text is fired once per page). A handler that were allowed would run inside
# dispatchEvent, before this returns. Ordinary forms are kept from submitting.
FIRE_ALL = """() => {
  const fired = [];
  const once = (key) => !fired.includes(key) && fired.push(key) > 0;
  const scriptUrl = (raw) => {
    try { return raw !== null && new URL(raw, location.href).protocol === "javascript:"; }
    catch (e) { return false; }
  };
  document.addEventListener("submit", (e) => {
    const target = (e.submitter && e.submitter.getAttribute("formaction")) || e.target.getAttribute("action");
    if (!scriptUrl(target)) e.preventDefault();
  }, true);
  for (const el of Array.from(document.querySelectorAll("*"))) {
    const tag = el.localName;
    for (const attr of Array.from(el.attributes)) {
      if (!attr.name.toLowerCase().startsWith("on") || !once(tag + " " + attr.name + "=" + attr.value)) continue;
      const target = el === document.body ? window : el;
      const type = attr.name.slice(2).toLowerCase();
      target.dispatchEvent(type === "click" ? new MouseEvent("click", {bubbles: true, cancelable: true})
                                            : new Event(type, {cancelable: true}));
    }
    const href = el.getAttribute("href") ?? el.getAttribute("xlink:href");
    if (tag === "a" && scriptUrl(href) && once("a href=" + href)) {
      el.dispatchEvent(new MouseEvent("click", {bubbles: true, cancelable: true}));
    }
    const action = el.getAttribute("action");
    if (tag === "form" && scriptUrl(action) && once("form action=" + action)) el.requestSubmit();
    const formaction = el.getAttribute("formaction");
    if (tag === "button" && scriptUrl(formaction) && once("button formaction=" + formaction)) el.click();
  }
  return fired;
}"""

# A javascript: URL (a link, a form, a frame) runs in a task of its own: let queued tasks run.
SETTLE = "() => new Promise((done) => requestAnimationFrame(() => setTimeout(done, 0)))"

FRAMES_SETTLED = """() => Array.from(document.querySelectorAll("iframe")).every((f) => {
  const doc = f.contentDocument;
  if (!doc || doc.readyState !== "complete") return false;
  return !f.hasAttribute("srcdoc") || doc.URL === "about:srcdoc";
})"""

# What ran: the sentinel's writes here and any sentinel set inside a same-origin frame
# (a javascript: URL in an iframe runs in the frame, not in the page).
STATE = """() => {
  const inFrames = Array.from(document.querySelectorAll("iframe")).map((f) => {
    try { return f.contentWindow.__xss; } catch (e) { return undefined; }
  }).filter((v) => v !== undefined && v !== null);
  return {hits: Array.from(window.__xssHits).concat(inFrames), refused: Array.from(window.__cspRefused),
          userElements: document.querySelectorAll(".pm-user img, .pm-user script, .pm-user svg").length};
}"""


@dataclass
class PageVisit:
    path: str
    is_map: bool = False
    features: list[dict[str, Any]] = field(default_factory=list)
    samples: list[tuple[str, str]] = field(default_factory=list)
    popups_open: int = 0
    tooltips: int = 0
    tooltips_open: int = 0
    fired: list[str] = field(default_factory=list)
    hits: list[Any] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    user_elements: int = 0
    user_text: str = ""
    campus_options: list[tuple[str | None, str]] = field(default_factory=list)
    missed: list[Any] = field(default_factory=list)  # popups that did not open at first, per try


def html_page_paths(server: LiveServer) -> list[str]:
    """Every GET route without URL arguments outside the API and static files: pages added later count too."""
    paths = set()
    for rule in server.app.url_map.iter_rules():
        if "GET" not in (rule.methods or ()) or rule.endpoint == "static" or rule.rule.startswith("/api/"):
            continue
        if set(rule.arguments) - set(rule.defaults or {}):
            continue
        paths.add(rule.rule)
    return sorted(paths)


@contextmanager
def watched_page(browser: Any, server: LiveServer, *, bypass_csp: bool = False) -> Iterator[tuple[Any, list[str]]]:
    """A signed-in page with the sentinel installed and every dialog recorded (and dismissed)."""
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="en-US", bypass_csp=bypass_csp)
    server.sign_in(context)
    context.add_init_script(script=SENTINEL)
    tab = context.new_page()
    tab.trouble = watch(tab)
    dialogs: list[str] = []

    def on_dialog(dialog: Any) -> None:
        dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    tab.on("dialog", on_dialog)
    try:
        yield tab, dialogs
    finally:
        context.close()


def turn_on_every_layer(page: Any) -> None:
    """Tick every overlay of the layer control (its own click handler adds the layer), then wait for the data."""
    boxes = page.locator(".leaflet-control-layers-overlays input")
    checked = boxes.evaluate_all("(inputs) => inputs.map((i) => { if (!i.checked) i.click(); return i.checked; })")
    assert checked == [True] * len(LAYERS), checked
    wait_idle(page)


def visit(page: Any, url: str, path: str, *, unescaped: bool, enforced: bool = True) -> PageVisit | None:
    """Open a page, open everything on it, fire everything injected into it; None if it is not HTML."""
    response = page.goto(url + path, wait_until="load")
    assert response is not None and response.status == 200, (path, response and response.status)
    if "text/html" not in (response.headers.get("content-type") or ""):
        return None
    result = PageVisit(path, is_map=page.locator(".folium-map").count() > 0)
    if result.is_map:
        wait_idle(page)
        turn_on_every_layer(page)
        fields = {layer_id: [s.name for s in FREE_TEXT[layer_id] if s.name in LAYERS[layer_id].popup]
                  for layer_id in LAYERS}
        args = {"layers": list(LAYERS), "fields": fields, "read": not unescaped}
        opened = page.evaluate(OPEN_ALL, args)
        for _ in range(2):
            # A layer refreshing under the popups (a late move of the map) can leave one closed: the
            # point here is what the popups show, so open them all again once the data is in.
            if opened["open"] == len(opened["features"]) and not opened["missed"]:
                break
            result.missed.append(opened["missed"][:5] or opened["open"])
            wait_idle(page)
            opened = page.evaluate(OPEN_ALL, args)
        result.features, result.popups_open = opened["features"], opened["open"]
        result.tooltips, result.tooltips_open = opened["tooltips"], opened["openTooltips"]
        if not unescaped:
            # A sample of cells read through Playwright itself as well: (innerText, textContent).
            cells = page.locator(".leaflet-popup-content td.pm-value-name")
            count = cells.count()
            for i in range(0, count, max(1, count // SAMPLES)):
                result.samples.append((cells.nth(i).inner_text(), cells.nth(i).text_content() or ""))
            result.campus_options = [tuple(o) for o in page.locator("#pm-campus-select option").evaluate_all(
                "(options) => options.map((o) => [o.getAttribute('value'), o.innerText])")]
    result.fired = page.evaluate(FIRE_ALL)
    page.evaluate(SETTLE)
    if unescaped:
        # The unescaped build: wait for injected frames to load and for the policy's first refusal
        # (reported in a task of its own) before reading what happened.
        page.wait_for_function(FRAMES_SETTLED)
        if enforced:
            page.wait_for_function("() => window.__cspRefused.length > 0")
    state = page.evaluate(STATE)
    result.hits, result.refused, result.user_elements = state["hits"], state["refused"], state["userElements"]
    result.user_text = page.locator(".pm-user").text_content() or ""
    return result


def visit_every_page(browser: Any, server: LiveServer, *, unescaped: bool) -> tuple[list[PageVisit], list[str], Any]:
    paths = html_page_paths(server)
    assert set(PAGE_URLS.values()) <= set(paths), paths
    visits = []
    with watched_page(browser, server) as (page, dialogs):
        for path in paths:
            found = visit(page, server.url, path, unescaped=unescaped)
            if found is not None:
                visits.append(found)
        trouble = page.trouble
    return visits, dialogs, trouble


def assert_nothing_ran(visits: list[PageVisit], dialogs: list[str]) -> None:
    assert not dialogs, dialogs
    ran = {v.path: v.hits for v in visits if v.hits}
    names = {path: [PAYLOADS[h - 1] for h in hits if isinstance(h, int) and 0 < h <= len(PAYLOADS)]
             for path, hits in ran.items()}
    assert not ran, f"payloads ran: {names or ran}"


def payload_number(text: str) -> int | None:
    """Which payload a piece of injected code comes from: the number its sentinel or dialog carries."""
    found = re.search(r"(?:xss\W*=|alert\(|confirm\()(\d+)", text)
    return int(found.group(1)) if found else None


def _printable(text: str) -> bool:
    return text.isprintable() and "  " not in text


def test_no_payload_runs_on_any_page(seeded: LiveServer, browser: Any) -> None:
    visits, dialogs, trouble = visit_every_page(browser, seeded, unescaped=False)
    assert_nothing_ran(visits, dialogs)
    assert not trouble.report(), trouble.report()
    map_pages = [v for v in visits if v.is_map]
    assert len(map_pages) >= len(PAGE_URLS) and len(visits) > len(map_pages)  # the sign-in page too
    for v in visits:
        # Nothing the data holds became markup: no inline handler, no javascript: link anywhere,
        # nothing the policy had to refuse.
        assert v.fired == [], (v.path, v.fired[:10])
        assert v.refused == [], (v.path, v.refused[:10])
        assert DISPLAY_NAME in v.user_text and v.user_elements == 0, v.path
    for v in map_pages:
        assert v.campus_options == [(CAMPUS_A["slug"], CAMPUS_A["name"]), (CAMPUS_B["slug"], CAMPUS_B["name"])], v.path
        assert len(v.features) == len(PAYLOADS) * len(LAYERS), v.path
        assert v.popups_open == len(v.features) and v.tooltips_open == v.tooltips, (v.path, v.missed)
        for layer_id in LAYERS:
            shown = [f for f in v.features if f["layer"] == layer_id]
            for spec in FREE_TEXT[layer_id]:
                if spec.name not in LAYERS[layer_id].popup:
                    continue  # stored (checked above) but not shown in a popup
                if (layer_id, spec.name) in KNOWN_UNSERVED and not any(spec.name in f["served"] for f in shown):
                    continue
                cells = [f["cells"][spec.name] for f in shown]
                # Shown exactly as stored, as text: the popup holds no element made from it.
                assert all(c is not None and c["elements"] == 0 for c in cells), (v.path, layer_id, spec.name)
                assert Counter(c["text"] for c in cells) == Counter(expected_value(p, spec) for p in PAYLOADS), \
                    (v.path, layer_id, spec.name)
                # And so a person reads it (innerText), wherever no invisible character is involved.
                misread = [c for c in cells if _printable(c["text"]) and c["read"] != c["text"]]
                assert not misread, (v.path, layer_id, spec.name, misread[:3])
        assert len(v.samples) >= SAMPLES, v.path
        names = {expected_value(p, s) for layer_id in LAYERS for s in FREE_TEXT[layer_id] if s.name == "name"
                 for p in PAYLOADS}
        for read, text in v.samples:
            assert text in names and (read == text or not _printable(text)), (v.path, read, text)


# One store is enough here: what this proves is the browser enforcing the policy on whatever
# reaches the page, and the stores' part (payloads kept and served intact) is tested on both above.
@pytest.mark.store("sqlite")
def test_policy_alone_stops_every_payload_with_escaping_off(unescaped: LiveServer, browser: Any) -> None:
    """The test-only build puts every string in as HTML: the payloads become markup and still nothing runs."""
    visits, dialogs, trouble = visit_every_page(browser, unescaped, unescaped=True)
    assert_nothing_ran(visits, dialogs)
    assert not trouble.blocked_requests, trouble.blocked_requests
    map_pages = [v for v in visits if v.is_map]
    assert len(map_pages) >= len(PAGE_URLS)
    display_handler = "img onerror=" + DISPLAY_NAME.split("onerror=")[1].rstrip(">")
    # Every handler payload left a live handler in the popups, except <body onload>: the HTML
    # parser drops a <body> tag inside a table cell.
    handlers = {payload_number(p) for p in CATEGORIES["handler"] if not p.startswith("<body")}
    for v in visits:
        # Escaping really was off: the display name's <img onerror> is an element in the header,
        # and the handlers were there to fire, which the policy refused.
        assert v.user_elements >= 1 and display_handler in v.fired, (v.path, v.fired[:10])
        assert any(r.startswith("script-src") for r in v.refused), (v.path, v.refused[:10])
    for v in map_pages:
        assert v.popups_open == len(PAYLOADS) * len(LAYERS), (v.path, v.missed)
        parsed = sum(1 for f in v.features for c in f["cells"].values() if c is not None and c["elements"] > 0)
        assert parsed >= len(PAYLOADS), (v.path, parsed)
        fired = {payload_number(f) for f in v.fired}
        assert handlers <= fired, (v.path, sorted(handlers - fired))
        assert any(f.startswith("a href=") for f in v.fired) and any(f.startswith("form") for f in v.fired), v.path
    assert any("Content Security Policy" in e for e in trouble.console_errors), trouble.report()[:2000]

    # The control: with the policy bypassed (by the browser, for this context only), the same page
    # runs the payloads, and the sentinel and the dialog handler see them. So they would have above.
    with watched_page(browser, unescaped, bypass_csp=True) as (page, control_dialogs):
        control = visit(page, unescaped.url, PAGE_URLS["grid"], unescaped=True, enforced=False)
    assert control is not None and control.refused == []
    ran = set(control.hits)
    assert PAYLOADS.index(DISPLAY_NAME) + 1 in ran  # the header's <img onerror>
    # Links, forms and frames to javascript: URLs run late, in tasks of their own: still seen.
    late = {PAYLOADS.index(p) + 1 for p in CATEGORIES["url"] if p.startswith(("<a ", "<form", "<iframe"))}
    assert late <= ran, sorted(late - ran)
    assert len(ran) >= 20 and control_dialogs, (sorted(ran), control_dialogs)
