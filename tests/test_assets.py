"""The vendored assets are complete, intact, and the only thing a map page loads."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import re
import sys
from html.parser import HTMLParser
from pathlib import Path
from types import ModuleType
from urllib.parse import unquote, urlsplit

import branca.colormap
import folium
import pytest
from folium import plugins

from patrolmap.assets import (
    VENDOR_URLS,
    NonLocalAssetError,
    ensure_max_zoom,
    offline_map,
    remote_urls,
    use_local_assets,
)

REPO = Path(__file__).resolve().parents[1]
STATIC = REPO / "static"
VENDOR = STATIC / "vendor"
CSS_URL = re.compile(r"""url\(\s*(['"]?)(.*?)\1\s*\)""")
SOURCE_MAP = re.compile(r"""[#@]\s*sourceMappingURL=(\S+?)(?:\s*\*/)?\s*$""", re.M)


class _LinkCollector(HTMLParser):
    """Collect (tag, url) for every script src and link href on a page."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        """Record where a script or link tag points."""
        values = dict(attrs)
        if tag == "script" and values.get("src"):
            self.links.append(("script src", values["src"] or ""))
        elif tag == "link" and values.get("href"):
            self.links.append(("link href", values["href"] or ""))


def page_links(html: str) -> list[tuple[str, str]]:
    """Return the (tag, url) pairs a rendered page loads."""
    collector = _LinkCollector()
    collector.feed(html)
    collector.close()
    return collector.links


def full_map() -> folium.Map:
    """Build a tile-less map using every plugin patrolmap relies on."""
    m = offline_map(location=[28.66, 115.80], zoom_start=16)
    cluster = plugins.MarkerCluster(name="violations").add_to(m)
    for i in range(5):
        folium.Marker([28.66 + i * 1e-4, 115.80], icon=folium.Icon(angle=i * 10)).add_to(cluster)
    folium.Marker([28.661, 115.801], icon=folium.Icon(icon="car", prefix="fa")).add_to(m)
    plugins.Draw().add_to(m)
    plugins.HeatMap([[28.66, 115.80, 1.0], [28.661, 115.801, 0.5]], name="hotspots").add_to(m)
    plugins.LocateControl().add_to(m)
    plugins.Fullscreen().add_to(m)
    plugins.MousePosition().add_to(m)
    zone = {"type": "Polygon", "coordinates": [[[115.79, 28.65], [115.81, 28.65], [115.81, 28.67], [115.79, 28.65]]]}
    folium.GeoJson(zone, name="grid zones", tooltip="zone").add_to(m)
    branca.colormap.LinearColormap(["green", "red"], vmin=0, vmax=10, caption="violations").add_to(m)
    folium.LayerControl().add_to(m)
    return m


def load_manifest() -> dict:
    """Read static/vendor/MANIFEST.json."""
    return json.loads((VENDOR / "MANIFEST.json").read_text(encoding="utf-8"))


def manifest_files() -> dict[str, dict]:
    """Map each vendored file path (relative to static/vendor) to its manifest entry."""
    return {f["path"]: f for pkg in load_manifest()["packages"].values() for f in pkg["files"]}


def load_vendor_script() -> ModuleType:
    """Import scripts/vendor_assets.py, which is not part of the package."""
    spec = importlib.util.spec_from_file_location("vendor_assets", REPO / "scripts" / "vendor_assets.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # dataclasses look their module up in sys.modules while the class is built.
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_rendered_map_loads_only_vendored_assets() -> None:
    links = page_links(full_map().get_root().render())
    remote = [f"{tag}={url}" for tag, url in links if urlsplit(url).scheme or url.startswith("//")]
    assert not remote, "map page still loads from outside patrolmap:\n  " + "\n  ".join(remote)
    outside = [f"{tag}={url}" for tag, url in links if not url.startswith("/static/vendor/")]
    assert not outside, "assets not under /static/vendor/:\n  " + "\n  ".join(outside)
    missing = [url for _, url in links if not (STATIC / unquote(url.removeprefix("/static/"))).is_file()]
    assert not missing, "pages link vendored files that do not exist:\n  " + "\n  ".join(missing)


def test_rendered_map_loads_every_plugin() -> None:
    urls = {url for _, url in page_links(full_map().get_root().render())}
    for needed in (
        "leaflet/dist/leaflet.js",
        "leaflet.markercluster/dist/leaflet.markercluster.js",
        "leaflet-draw/dist/leaflet.draw.js",
        "folium/leaflet_heat.min.js",
        "leaflet.locatecontrol/dist/L.Control.Locate.min.js",
        "leaflet.fullscreen/Control.FullScreen.js",
        "d3/d3.min.js",
    ):
        assert f"/static/vendor/{needed}" in urls


def test_static_url_prefix_is_used() -> None:
    m = use_local_assets(folium.Map(tiles=None), static_url="/campus/static/")
    urls = [url for _, url in page_links(m.get_root().render())]
    assert urls
    assert all(url.startswith("/campus/static/vendor/") for url in urls), urls


def test_every_mapped_url_is_vendored() -> None:
    files = manifest_files()
    unvendored = sorted(path for path in VENDOR_URLS.values() if path not in files)
    assert not unvendored, f"VENDOR_URLS points at files missing from MANIFEST.json: {unvendored}"


def test_css_references_resolve_to_vendored_files() -> None:
    broken = []
    for css in sorted(VENDOR.rglob("*.css")):
        for ref in sorted({ref for _, ref in CSS_URL.findall(css.read_text(encoding="utf-8"))}):
            if ref.startswith(("data:", "#")):
                continue
            if urlsplit(ref).scheme or ref.startswith(("//", "/")):
                broken.append(f"{css.relative_to(VENDOR)}: url({ref}) is not a relative vendored path")
                continue
            target = (css.parent / unquote(urlsplit(ref).path)).resolve()
            if VENDOR.resolve() not in target.parents or not target.is_file():
                broken.append(f"{css.relative_to(VENDOR)}: url({ref}) -> missing {target}")
    assert not broken, "\n".join(broken)


def test_source_maps_resolve_to_vendored_files() -> None:
    broken = []
    for asset in sorted([*VENDOR.rglob("*.js"), *VENDOR.rglob("*.css")]):
        for ref in SOURCE_MAP.findall(asset.read_text(encoding="utf-8")):
            if not (asset.parent / ref).is_file():
                broken.append(f"{asset.relative_to(VENDOR)}: sourceMappingURL={ref}")
    assert not broken, "\n".join(broken)


def test_manifest_matches_files_on_disk() -> None:
    files = manifest_files()
    on_disk = {p.relative_to(VENDOR).as_posix() for p in VENDOR.rglob("*") if p.is_file()} - {"MANIFEST.json"}
    assert on_disk == set(files), f"not in manifest: {on_disk - set(files)}; missing: {set(files) - on_disk}"
    changed = [
        path
        for path, entry in sorted(files.items())
        if hashlib.sha256((VENDOR / path).read_bytes()).hexdigest() != entry["sha256"]
    ]
    assert not changed, f"vendored files differ from MANIFEST.json sha256: {changed}"


def test_manifest_matches_pinned_versions() -> None:
    script = load_vendor_script()
    packages = load_manifest()["packages"]
    pinned = {name: pkg.version for name, pkg in script.PACKAGES.items()} | {"folium": script.FOLIUM_VERSION}
    assert {name: pkg["version"] for name, pkg in packages.items()} == pinned


def test_unknown_cdn_asset_raises() -> None:
    m = use_local_assets(folium.Map(tiles=None))
    plugins.MeasureControl().add_to(m)
    with pytest.raises(NonLocalAssetError, match="leaflet-measure"):
        m.get_root().render()


def test_raw_remote_script_in_header_raises() -> None:
    m = use_local_assets(folium.Map(tiles=None))
    m.get_root().header.add_child(folium.Element('<script src="https://example.com/x.js"></script>'))
    with pytest.raises(NonLocalAssetError, match=r"example\.com"):
        m.get_root().render()


def test_remote_urls_finds_css_imports_and_urls() -> None:
    html = '<style>@import "https://f.example/a.css"; .x{background:url(//c.example/b.png)}</style>'
    html += '<style>.y{background:url(images/ok.png)}</style><link href="/static/vendor/a.css">'
    assert remote_urls(html) == ["https://f.example/a.css", "//c.example/b.png"]


def test_map_moved_into_another_figure_stays_local() -> None:
    m = use_local_assets(folium.Map(tiles=None))
    figure = folium.Figure(width=400, height=300)
    figure.add_child(m)
    urls = [url for _, url in page_links(figure.render())]
    assert urls
    assert all(url.startswith("/static/vendor/") for url in urls), urls


def test_static_url_on_another_host_is_refused() -> None:
    with pytest.raises(ValueError, match="static_url"):
        use_local_assets(folium.Map(tiles=None), static_url="https://cdn.example/static")


def test_ensure_max_zoom_without_tiles() -> None:
    m = ensure_max_zoom(folium.Map(tiles=None))
    assert m.options["max_zoom"] == 22
    assert '"maxZoom": 22' in m.get_root().render()


def test_ensure_max_zoom_keeps_an_explicit_option() -> None:
    m = folium.Map(tiles=None)
    m.options["max_zoom"] = 17
    assert ensure_max_zoom(m).options["max_zoom"] == 17


def test_ensure_max_zoom_follows_tile_layers() -> None:
    assert ensure_max_zoom(folium.Map(tiles="OpenStreetMap")).options["max_zoom"] == 19
