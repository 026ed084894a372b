"""Folium maps for the pages: data layers are fetched by the browser from the GeoJSON API.

A page never embeds features: each layer is a small config that the browser turns
into requests limited to the view (``static/js/patrolmap.js``), so a page stays a few
KB however many violations are stored. Nothing here imports Flask or the database.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import folium
from branca.element import MacroElement
from folium.map import Layer as FoliumLayer
from folium.plugins import LocateControl
from folium.template import Template
from markupsafe import escape

from patrolmap.assets import DEFAULT_MAX_ZOOM, offline_map
from patrolmap.layers import Layer

BBox = tuple[float, float, float, float]


CRS_NAMES = ("wgs84", "gcj02")


@dataclass(frozen=True)
class Basemap:
    """A tile source the user may pick; `crs` says which coordinates its tiles are drawn in.

    "wgs84" tiles (OpenStreetMap, Tianditu's CGCS2000, an MBTiles file cut from them) take
    features as stored; "gcj02" tiles (AMap/Gaode) make the browser draw every feature
    shifted into GCJ-02 and convert clicks and the view's bbox back (static/js/chinacoords.js).
    `url` is an XYZ template; `overlays` are templates drawn on top of it as part of the same
    choice (Tianditu's labels). `max_zoom` is the deepest zoom the source has tiles for (the
    map zooms further by enlarging them), `min_zoom` the shallowest it shows at.
    """

    name: str
    url: str
    attribution: str
    max_zoom: int = 19
    crs: str = "wgs84"
    subdomains: str = "abc"
    overlays: tuple[str, ...] = ()
    min_zoom: int = 0

    def __post_init__(self) -> None:
        if self.crs not in CRS_NAMES:
            msg = f"basemap {self.name!r}: crs must be one of {', '.join(CRS_NAMES)}, not {self.crs!r}"
            raise ValueError(msg)

    @property
    def urls(self) -> tuple[str, ...]:
        """Every tile template of this basemap, bottom first."""
        return (self.url, *self.overlays)


OSM_BASEMAP = Basemap(
    "OpenStreetMap", "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
    '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors',
)
AMAP_ATTRIBUTION = '&copy; <a href="https://www.amap.com/">AutoNavi 高德地图</a>'
TIANDITU_ATTRIBUTION = '&copy; <a href="https://www.tianditu.gov.cn/">Tianditu 天地图</a>'


def amap_basemap(name: str) -> Basemap:
    """AMap/Gaode's street map (labels included), drawn in GCJ-02; needs internet, no key."""
    return Basemap(name, "https://webrd0{s}.is.autonavi.com/appmaptile?lang=zh_cn&size=1&scale=1&style=8"
                   "&x={x}&y={y}&z={z}", AMAP_ATTRIBUTION, max_zoom=18, crs="gcj02", subdomains="1234")


def tianditu_basemap(name: str, key: str, layer: str, labels: str) -> Basemap:
    """A Tianditu web-mercator layer (vec, img, ter) with its label layer (cva, cia, cta) on top.

    Tianditu is CGCS2000, which agrees with WGS84 to well under a metre: drawn without offset.
    The key (tk) is a browser key of the deployment's own, so it is necessarily on the page.
    """

    def url(kind: str) -> str:
        return (f"https://t{{s}}.tianditu.gov.cn/{kind}_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0"
                f"&LAYER={kind}&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles&TILEMATRIX={{z}}&TILEROW={{y}}"
                f"&TILECOL={{x}}&tk={quote(key, safe='')}")

    return Basemap(name, url(layer), TIANDITU_ATTRIBUTION, max_zoom=18, crs="wgs84", subdomains="01234567",
                   overlays=(url(labels),))


@dataclass(frozen=True)
class LayerView:
    """One data layer on one page: where its data comes from and whether it starts visible."""

    layer: Layer
    data_url: str
    cells_url: str
    show: bool = True


@dataclass
class MapOptions:
    bounds: BBox | None
    static_url: str = "/static"
    campus: str | None = None
    limit: int = 2000
    basemaps: Sequence[Basemap] = ()
    record_url: str | None = None
    # Field names, layer titles (by layer id) and coded values as people read them, already
    # translated; texts are the interface's own words, keyed by their English.
    labels: dict[str, str] = field(default_factory=dict)
    titles: dict[str, str] = field(default_factory=dict)
    values: dict[str, str] = field(default_factory=dict)
    texts: dict[str, str] = field(default_factory=dict)
    # The traffic staff's analysis tools (violations.js), when the page offers them.
    tools: dict[str, Any] | None = None
    # The patrol lead's route planning (patrol.js) and shift view (patrol_shifts.js), on /patrol.
    patrol_tools: dict[str, Any] | None = None
    patrol_shifts: dict[str, Any] | None = None
    # The planner's charger placement tools (chargers.js), on /chargers: URLs, slugs and numbers only.
    charger_tools: dict[str, Any] | None = None
    # Grid zones, hazards and scorecards (grid.js), on /grid: URLs, slugs, codes, numbers and flags only.
    grid_tools: dict[str, Any] | None = None
    # Editing the campus (edit.js), on /edit: URLs, the slug, numbers and the layers' field specs only.
    edit_tools: dict[str, Any] | None = None


class ApiLayer(FoliumLayer):
    """A layer whose features the browser fetches from the API for the current view."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
            var {{ this.get_name() }} = patrolmap.apiLayer({{ this.config|tojson }});
        {% endmacro %}
        """
    )

    def __init__(self, view: LayerView, *, campus: str | None, limit: int, labels: dict[str, str],
                 title: str | None = None) -> None:
        title = title or view.layer.title
        super().__init__(name=title, overlay=True, control=True, show=view.show)
        self._name = "ApiLayer"
        style = view.layer.style
        self.config = {
            "id": view.layer.id,
            "title": title,
            "url": view.data_url,
            "cellsUrl": view.cells_url,
            "campus": campus,
            "limit": limit,
            "popup": list(view.layer.popup),
            "labels": {f: labels.get(f, f.replace("_", " ")) for f in view.layer.popup},
            "style": {
                "color": style.color, "by": style.by, "colors": dict(style.colors), "weight": style.weight,
                "fillOpacity": style.fill_opacity, "radius": style.radius, "emphasis": style.emphasis,
            },
        }


class BlankBasemap(FoliumLayer):
    """The "no basemap" choice: vector layers only, which works with no network at all."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
            var {{ this.get_name() }} = L.layerGroup([], {pmCrs: "wgs84"});
        {% endmacro %}
        """
    )

    def __init__(self, name: str) -> None:
        super().__init__(name=name, overlay=False, control=True, show=True)
        self._name = "BlankBasemap"


class BasemapLayer(FoliumLayer):
    """A basemap choice in the layer control: one tile layer, or a base and its labels as one.

    Built in the browser by ``patrolmap.basemap`` (static/js/chinacoords.js), which carries
    the basemap's CRS (`pmCrs`) and puts the map in it when the basemap is picked.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
            var {{ this.get_name() }} = patrolmap.basemap({{ this.config|tojson }});
        {% endmacro %}
        """
    )

    def __init__(self, basemap: Basemap, *, max_zoom: int = DEFAULT_MAX_ZOOM) -> None:
        super().__init__(name=basemap.name, overlay=False, control=True, show=False)
        self._name = "Basemap"
        options: dict[str, Any] = {"subdomains": basemap.subdomains, "minZoom": basemap.min_zoom,
                                   "maxZoom": max(max_zoom, basemap.max_zoom), "maxNativeZoom": basemap.max_zoom}
        layers = [{"url": url, "options": {**options, "attribution": basemap.attribution if i == 0 else ""}}
                  for i, url in enumerate(basemap.urls)]
        self.config = {"crs": basemap.crs, "layers": layers}


# JSON string literals, and the characters inside them that Jinja or HTML would act on.
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_INERT = {ord(c): f"\\u{ord(c):04x}" for c in "{}%#<>&'"}


class ScriptCall(MacroElement):
    """A call into patrolmap.js with the map and a JSON config."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
            patrolmap.{{ this.function }}({{ this._parent.get_name() }}, {{ this.config_json }});
        {% endmacro %}
        """
    )

    def __init__(self, function: str, config: dict[str, Any]) -> None:
        super().__init__()
        self._name = "ScriptCall"
        self.function = function
        self.config = config

    @property
    def config_json(self) -> str:
        """The config as JSON that is inert both in HTML and in Jinja.

        branca compiles a figure's rendered script once more as a Jinja template, so a string
        holding "{{" or "{%" (a name typed by a user) would be evaluated on the server. Inside
        JSON strings every brace, angle bracket, ampersand and quote is written as a \\u escape,
        which JavaScript reads back as the same text.
        """
        return _STRING.sub(lambda m: m.group(0).translate(_INERT), json.dumps(self.config, ensure_ascii=True))


def legend_html(layers: Sequence[Layer], title: str, *, titles: dict[str, str] | None = None,
                values: dict[str, str] | None = None) -> str:
    """A legend of every colour-coded layer; every text is escaped."""
    titles, values = titles or {}, values or {}
    parts = [f'<div class="pm-legend-title">{escape(title)}</div>']
    for layer in layers:
        if not layer.style.colors:
            continue
        parts.append(f'<div class="pm-legend-layer">{escape(titles.get(layer.id, layer.title))}</div>')
        for value, color in layer.style.colors:
            parts.append(
                f'<div class="pm-legend-row"><span class="pm-swatch" style="background:{escape(color)}"></span>'
                f"{escape(values.get(value, value.replace('_', ' ')))}</div>"
            )
    return "".join(parts)


def build_map(views: Sequence[LayerView], options: MapOptions) -> folium.Map:
    """A tile-less map with every layer toggleable, a legend, locate-me and (optionally) recording."""
    m = offline_map(static_url=options.static_url, zoom_start=16, location=_centre(options.bounds),
                    width="100%", height="100%", control_scale=True, prefer_canvas=False)
    if options.texts or options.values:
        ScriptCall("texts", {"texts": options.texts, "values": options.values}).add_to(m)
    BlankBasemap(options.labels.get("no_basemap", "No basemap")).add_to(m)
    for basemap in options.basemaps:
        BasemapLayer(basemap).add_to(m)
    for view in views:
        ApiLayer(view, campus=options.campus, limit=options.limit, labels=options.labels,
                 title=options.titles.get(view.layer.id)).add_to(m)
    folium.LayerControl(collapsed=True, position="topright").add_to(m)
    # A GCJ-02 basemap switches the map to a GCJ-02 CRS; the others switch it back.
    ScriptCall("basemapCrs", {}).add_to(m)
    LocateControl(strings={"title": options.labels.get("locate", "Show me where I am")},
                  locateOptions={"enableHighAccuracy": True}).add_to(m)
    legend = legend_html([v.layer for v in views], options.labels.get("legend", "Legend"), titles=options.titles,
                         values=options.values)
    ScriptCall("legend", {"html": legend}).add_to(m)
    ScriptCall("status", {}).add_to(m)
    if options.record_url:
        ScriptCall("recordControl", {
            "url": options.record_url, "campus": options.campus, "layer": "violations",
            "kinds": options.labels.get("violation_kinds", "fire_lane,entrance,no_parking,zombie,other").split(","),
        }).add_to(m)
    if options.tools:
        ScriptCall("violationTools", options.tools).add_to(m)
    if options.patrol_tools:
        ScriptCall("patrolTools", options.patrol_tools).add_to(m)
    if options.patrol_shifts:
        ScriptCall("patrolShifts", options.patrol_shifts).add_to(m)
    if options.charger_tools:
        ScriptCall("chargerTools", options.charger_tools).add_to(m)
    if options.grid_tools:
        ScriptCall("gridTools", options.grid_tools).add_to(m)
    if options.edit_tools:
        ScriptCall("editTools", options.edit_tools).add_to(m)
    if options.bounds:
        x0, y0, x1, y1 = options.bounds
        m.fit_bounds([[y0, x0], [y1, x1]])
    return m


def _centre(bounds: BBox | None) -> list[float]:
    if bounds is None:
        return [0.0, 0.0]
    x0, y0, x1, y1 = bounds
    return [(y0 + y1) / 2, (x0 + x1) / 2]


@dataclass(frozen=True)
class MapParts:
    """The three pieces of a rendered map, for embedding in a page template."""

    header: str
    html: str
    script: str


def render_parts(m: folium.Map) -> MapParts:
    """Render a map into header (assets), body html and script, for a Jinja page of our own."""
    root = m.get_root()
    root.render()
    return MapParts(root.header.render(), root.html.render(), root.script.render())


def with_nonce(html: str, nonce: str) -> str:
    """Give every inline <script> of rendered map HTML the page's CSP nonce."""
    return html.replace("<script>", f'<script nonce="{escape(nonce)}">')
