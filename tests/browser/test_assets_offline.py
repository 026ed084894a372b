"""A map page works in a real browser with every off-machine request blocked."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import folium
import pytest
from folium import plugins

from patrolmap.assets import offline_map

from .conftest import ARTIFACTS, REPO, watch

pytestmark = pytest.mark.browser



class _QuietHandler(SimpleHTTPRequestHandler):
    """Serve files without logging each request to stderr."""

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet."""


def campus_map() -> folium.Map:
    """Build a tile-less campus map with clusters, drawing, heat, locate and fullscreen."""
    m = offline_map(location=[28.660, 115.800], zoom_start=16, width="100%", height="100%")
    cluster = plugins.MarkerCluster(name="parking violations").add_to(m)
    for i in range(30):
        folium.Marker([28.660 + (i % 6) * 2e-4, 115.800 + (i // 6) * 2e-4]).add_to(cluster)
    folium.Marker([28.6625, 115.7975], icon=folium.Icon(icon="info-sign")).add_to(m)
    folium.Marker([28.6625, 115.8025], icon=folium.Icon(icon="car", prefix="fa", angle=30)).add_to(m)
    plugins.Draw().add_to(m)
    heat = [[28.659 + i * 1e-4, 115.799 + i * 1e-4, 1.0] for i in range(20)]
    plugins.HeatMap(heat, name="hotspots").add_to(m)
    plugins.LocateControl().add_to(m)
    plugins.Fullscreen().add_to(m)
    plugins.MousePosition().add_to(m)
    ring = [[115.797, 28.658], [115.803, 28.658], [115.803, 28.663], [115.797, 28.663], [115.797, 28.658]]
    zone = {"type": "Polygon", "coordinates": [ring]}
    folium.GeoJson(zone, name="grid zone", style_function=lambda _: {"color": "#c00"}).add_to(m)
    folium.LayerControl().add_to(m)
    return m


@pytest.fixture
def site(tmp_path: Path) -> Iterator[str]:
    """Serve the rendered map and the repo's static/ from 127.0.0.1 and yield the page URL."""
    (tmp_path / "map.html").write_text(campus_map().get_root().render(), encoding="utf-8")
    (tmp_path / "static").symlink_to(REPO / "static", target_is_directory=True)
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_QuietHandler, directory=str(tmp_path)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/map.html"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_map_works_offline(site: str, browser: Any) -> None:
    page = browser.new_page(viewport={"width": 1200, "height": 800})
    trouble = watch(page)
    page.goto(site, wait_until="networkidle")
    page.wait_for_selector(".marker-cluster", timeout=10_000)
    page.evaluate("document.fonts.ready")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "assets_offline.png"))

    assert not trouble.report(), "page had problems offline:\n" + trouble.report()
    assert page.evaluate("typeof window.L") == "object"
    assert "leaflet-container" in (page.get_attribute(".folium-map", "class") or "")
    assert page.locator(".marker-cluster").count() >= 1
    for control in (".leaflet-draw", ".leaflet-control-locate", ".leaflet-control-zoom-fullscreen"):
        assert page.locator(control).count() == 1, f"{control} control is missing"
    assert page.locator("canvas.leaflet-heatmap-layer").count() == 1
    loaded = page.evaluate("[...document.fonts].filter(f => f.status === 'loaded').map(f => f.family)")
    for family in ("Glyphicons Halflings", "Font Awesome 6 Free"):
        assert any(family in name for name in loaded), f"{family} font did not load; loaded: {loaded}"
