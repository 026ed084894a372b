"""Serve every script, stylesheet and font of a folium map from static/vendor.

Campus security networks are often intranets with no internet, so a map page
must not load anything from a CDN. folium and its plugins add their CDN links to
the page header while rendering; :func:`use_local_assets` swaps the header for
one that rewrites each link to its copy under ``static/vendor/`` (made by
``scripts/vendor_assets.py``) and raises if anything in the header would still
leave the machine. Rewriting at the header catches every element and plugin,
including ones added after the call and ones (like branca's colormaps) that add
links directly instead of through ``default_js``/``default_css``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlsplit

import folium
from branca.element import Element, Figure, Link
from folium.raster_layers import TileLayer

# CDN URL used by folium 0.20.0 / branca 0.8 -> path under static/vendor/.
VENDOR_URLS: Mapping[str, str] = {
    # folium.Map
    "https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.js": "leaflet/dist/leaflet.js",
    "https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.css": "leaflet/dist/leaflet.css",
    "https://code.jquery.com/jquery-3.7.1.min.js": "jquery/dist/jquery.min.js",
    "https://cdn.jsdelivr.net/npm/bootstrap@5.2.2/dist/js/bootstrap.bundle.min.js": (
        "bootstrap/dist/js/bootstrap.bundle.min.js"
    ),
    "https://cdn.jsdelivr.net/npm/bootstrap@5.2.2/dist/css/bootstrap.min.css": "bootstrap/dist/css/bootstrap.min.css",
    "https://netdna.bootstrapcdn.com/bootstrap/3.0.0/css/bootstrap-glyphicons.css": (
        "glyphicons-only-bootstrap/css/bootstrap.min.css"
    ),
    "https://cdn.jsdelivr.net/npm/@fortawesome/fontawesome-free@6.2.0/css/all.min.css": (
        "@fortawesome/fontawesome-free/css/all.min.css"
    ),
    "https://cdnjs.cloudflare.com/ajax/libs/Leaflet.awesome-markers/2.0.2/leaflet.awesome-markers.js": (
        "leaflet.awesome-markers/dist/leaflet.awesome-markers.js"
    ),
    "https://cdnjs.cloudflare.com/ajax/libs/Leaflet.awesome-markers/2.0.2/leaflet.awesome-markers.css": (
        "leaflet.awesome-markers/dist/leaflet.awesome-markers.css"
    ),
    "https://cdn.jsdelivr.net/gh/python-visualization/folium/folium/templates/leaflet.awesome.rotate.min.css": (
        "folium/leaflet.awesome.rotate.min.css"
    ),
    # folium.plugins.MarkerCluster
    "https://cdnjs.cloudflare.com/ajax/libs/leaflet.markercluster/1.1.0/leaflet.markercluster.js": (
        "leaflet.markercluster/dist/leaflet.markercluster.js"
    ),
    "https://cdnjs.cloudflare.com/ajax/libs/leaflet.markercluster/1.1.0/MarkerCluster.css": (
        "leaflet.markercluster/dist/MarkerCluster.css"
    ),
    "https://cdnjs.cloudflare.com/ajax/libs/leaflet.markercluster/1.1.0/MarkerCluster.Default.css": (
        "leaflet.markercluster/dist/MarkerCluster.Default.css"
    ),
    # folium.plugins.Draw
    "https://cdnjs.cloudflare.com/ajax/libs/leaflet.draw/1.0.2/leaflet.draw.js": "leaflet-draw/dist/leaflet.draw.js",
    "https://cdnjs.cloudflare.com/ajax/libs/leaflet.draw/1.0.2/leaflet.draw.css": (
        "leaflet-draw/dist/leaflet.draw.css"
    ),
    # folium.plugins.HeatMap
    "https://cdn.jsdelivr.net/gh/python-visualization/folium@main/folium/templates/leaflet_heat.min.js": (
        "folium/leaflet_heat.min.js"
    ),
    # folium.plugins.LocateControl
    "https://cdnjs.cloudflare.com/ajax/libs/leaflet-locatecontrol/0.66.2/L.Control.Locate.min.js": (
        "leaflet.locatecontrol/dist/L.Control.Locate.min.js"
    ),
    "https://cdnjs.cloudflare.com/ajax/libs/leaflet-locatecontrol/0.66.2/L.Control.Locate.min.css": (
        "leaflet.locatecontrol/dist/L.Control.Locate.min.css"
    ),
    # folium.plugins.Fullscreen
    "https://cdn.jsdelivr.net/npm/leaflet.fullscreen@3.0.0/Control.FullScreen.min.js": (
        "leaflet.fullscreen/Control.FullScreen.js"
    ),
    "https://cdn.jsdelivr.net/npm/leaflet.fullscreen@3.0.0/Control.FullScreen.css": (
        "leaflet.fullscreen/Control.FullScreen.css"
    ),
    # folium.plugins.MousePosition
    "https://cdn.jsdelivr.net/gh/ardhi/Leaflet.MousePosition/src/L.Control.MousePosition.min.js": (
        "leaflet-mouse-position/src/L.Control.MousePosition.js"
    ),
    "https://cdn.jsdelivr.net/gh/ardhi/Leaflet.MousePosition/src/L.Control.MousePosition.min.css": (
        "leaflet-mouse-position/src/L.Control.MousePosition.css"
    ),
    # branca.colormap (legends)
    "https://cdnjs.cloudflare.com/ajax/libs/d3/3.5.5/d3.min.js": "d3/d3.min.js",
}

DEFAULT_MAX_ZOOM = 22
_CSS_REMOTE = re.compile(r"""(?:url\(\s*['"]?|@import\s+['"])\s*((?:[a-z][a-z0-9+.-]*:)?//[^'")\s]*)""", re.I)


class NonLocalAssetError(RuntimeError):
    """A map page would load a script, stylesheet or font from outside patrolmap."""


def offline_map(*, static_url: str = "/static", max_zoom: int = DEFAULT_MAX_ZOOM, **map_kwargs: Any) -> folium.Map:
    """Build a folium.Map with no basemap that loads only vendored assets."""
    map_kwargs.setdefault("tiles", None)
    m = folium.Map(**map_kwargs)
    ensure_max_zoom(m, max_zoom)
    return use_local_assets(m, static_url)


def use_local_assets(m: folium.Map, static_url: str = "/static") -> folium.Map:
    """Make m's page load Leaflet, plugins, CSS and fonts from static_url/vendor/."""
    static_url = _check_static_url(static_url)
    _install_header(m.get_root(), static_url)
    # The map may be moved into another Figure later; re-install at render time.
    m.add_child(_LocalAssetsHook(static_url), name=_LocalAssetsHook.NAME)
    return m


def local_url(url: str, static_url: str = "/static") -> str:
    """Return the vendored URL for a folium CDN URL; keep local ones; raise for others."""
    if url in VENDOR_URLS:
        return f"{static_url.rstrip('/')}/vendor/{VENDOR_URLS[url]}"
    if is_local(url):
        return url
    msg = (
        f"{url} has no vendored copy. Add its npm package to PACKAGES in "
        "scripts/vendor_assets.py, run it, and map the URL in patrolmap.assets.VENDOR_URLS."
    )
    raise NonLocalAssetError(msg)


def is_local(url: str) -> bool:
    """Tell whether a browser would fetch url from the page's own server (or not at all)."""
    parts = urlsplit(url.strip())
    return (not parts.scheme and not parts.netloc) or parts.scheme == "data"


def ensure_max_zoom(m: folium.Map, max_zoom: int = DEFAULT_MAX_ZOOM) -> folium.Map:
    """Give the map a maxZoom so MarkerCluster works when no tile layer sets one.

    An explicit ``max_zoom`` map option is kept; otherwise the largest max_zoom of
    the map's tile layers is used (so tiles are never over-zoomed), else max_zoom.
    """
    if "max_zoom" in m.options or "maxZoom" in m.options:
        return m
    tiles = (layer for layer in _walk(m) if isinstance(layer, TileLayer))
    tile_zooms = [zoom for layer in tiles if (zoom := layer.options.get("max_zoom")) is not None]
    m.options["max_zoom"] = max(tile_zooms, default=max_zoom)
    return m


def remote_urls(header_html: str) -> list[str]:
    """List script/stylesheet/CSS URLs in rendered header HTML that leave the machine."""
    parser = _AssetParser()
    parser.feed(header_html)
    parser.close()
    return [url for url in parser.urls if not is_local(url)]


class _LocalHeader(Element):
    """A Figure header that points every link at static/vendor before it renders."""

    def __init__(self, static_url: str) -> None:
        super().__init__()
        self.static_url = static_url

    def render(self, **kwargs: Any) -> str:
        """Rewrite the links, render, and refuse output that would go off-machine."""
        for child in self._children.values():
            if isinstance(child, Link):
                child.url = local_url(child.url, self.static_url)
        html = super().render(**kwargs)
        remote = remote_urls(html)
        if remote:
            msg = f"map header still loads remote assets: {', '.join(remote)}"
            raise NonLocalAssetError(msg)
        return html


class _LocalAssetsHook(Element):
    """An invisible map child that installs the local header on whatever Figure renders the map."""

    NAME = "patrolmap_local_assets"

    def __init__(self, static_url: str) -> None:
        super().__init__(template="")
        self.static_url = static_url

    def render(self, **kwargs: Any) -> str:
        """Install the header on the current root; draw nothing."""
        root = self.get_root()
        if isinstance(root, Figure):
            _install_header(root, self.static_url)
        return ""


class _AssetParser(HTMLParser):
    """Collect <script src>, <link href> and CSS url()/@import targets."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.urls: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        """Record the URL a script or link tag loads."""
        values = dict(attrs)
        if tag == "script" and values.get("src"):
            self.urls.append(values["src"] or "")
        elif tag == "link" and values.get("href"):
            self.urls.append(values["href"] or "")
        elif tag == "style":
            self._in_style = True
        style = values.get("style")
        if style:
            self.urls += _CSS_REMOTE.findall(style)

    def handle_endtag(self, tag: str) -> None:
        """Leave a <style> block."""
        if tag == "style":
            self._in_style = False

    def handle_data(self, data: str) -> None:
        """Record remote url()/@import targets inside <style>."""
        if self._in_style:
            self.urls += _CSS_REMOTE.findall(data)


def _install_header(root: Element, static_url: str) -> None:
    """Replace root's header with a _LocalHeader, keeping what it already holds."""
    if not isinstance(root, Figure):
        msg = "the map must belong to a branca Figure (folium.Map always does)"
        raise TypeError(msg)
    if isinstance(root.header, _LocalHeader):
        root.header.static_url = static_url
        return
    header = _LocalHeader(static_url)
    for name, child in root.header._children.items():
        header.add_child(child, name=name)
    header._parent = root
    root.header = header


def _check_static_url(static_url: str) -> str:
    """Refuse a static URL on another host, which would defeat the point."""
    if not is_local(static_url) or static_url.startswith("data:"):
        msg = f"static_url must be a path on patrolmap's own server, got {static_url!r}"
        raise ValueError(msg)
    return static_url.rstrip("/") or ""


def _walk(element: Element) -> Iterator[Element]:
    """Yield element and all its descendants."""
    yield element
    for child in element._children.values():
        yield from _walk(child)
