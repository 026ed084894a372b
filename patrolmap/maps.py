"""Folium maps for the pages: data layers are fetched by the browser from the GeoJSON API.

A page never embeds features: each layer is a small config that the browser turns
into requests limited to the view (``static/js/patrolmap.js``), so a page stays a few
KB however many violations are stored. Nothing here imports Flask or the database.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import folium
from branca.element import MacroElement
from folium.map import Layer as FoliumLayer
from folium.plugins import LocateControl
from folium.template import Template
from markupsafe import escape

from patrolmap.assets import offline_map
from patrolmap.layers import Layer

BBox = tuple[float, float, float, float]


@dataclass(frozen=True)
class Basemap:
    """A tile source the user may pick; `crs` says which coordinates its tiles use."""

    name: str
    url: str
    attribution: str
    max_zoom: int = 19
    crs: str = "wgs84"


OSM_BASEMAP = Basemap(
    "OpenStreetMap", "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
    '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors',
)


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
    labels: dict[str, str] = field(default_factory=dict)


class ApiLayer(FoliumLayer):
    """A layer whose features the browser fetches from the API for the current view."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
            var {{ this.get_name() }} = patrolmap.apiLayer({{ this.config|tojson }});
        {% endmacro %}
        """
    )

    def __init__(self, view: LayerView, *, campus: str | None, limit: int, labels: dict[str, str]) -> None:
        super().__init__(name=view.layer.title, overlay=True, control=True, show=view.show)
        self._name = "ApiLayer"
        style = view.layer.style
        self.config = {
            "id": view.layer.id,
            "title": view.layer.title,
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
            var {{ this.get_name() }} = L.layerGroup();
        {% endmacro %}
        """
    )

    def __init__(self, name: str) -> None:
        super().__init__(name=name, overlay=False, control=True, show=True)
        self._name = "BlankBasemap"


class ScriptCall(MacroElement):
    """A call into patrolmap.js with the map and a JSON config."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
            patrolmap.{{ this.function }}({{ this._parent.get_name() }}, {{ this.config|tojson }});
        {% endmacro %}
        """
    )

    def __init__(self, function: str, config: dict[str, Any]) -> None:
        super().__init__()
        self._name = "ScriptCall"
        self.function = function
        self.config = config


def legend_html(layers: Sequence[Layer], title: str) -> str:
    """A legend of every colour-coded layer; every text is escaped."""
    parts = [f'<div class="pm-legend-title">{escape(title)}</div>']
    for layer in layers:
        if not layer.style.colors:
            continue
        parts.append(f'<div class="pm-legend-layer">{escape(layer.title)}</div>')
        for value, color in layer.style.colors:
            parts.append(
                f'<div class="pm-legend-row"><span class="pm-swatch" style="background:{escape(color)}"></span>'
                f"{escape(value.replace('_', ' '))}</div>"
            )
    return "".join(parts)


def build_map(views: Sequence[LayerView], options: MapOptions) -> folium.Map:
    """A tile-less map with every layer toggleable, a legend, locate-me and (optionally) recording."""
    m = offline_map(static_url=options.static_url, zoom_start=16, location=_centre(options.bounds),
                    width="100%", height="100%", control_scale=True, prefer_canvas=False)
    BlankBasemap(options.labels.get("no_basemap", "No basemap")).add_to(m)
    for basemap in options.basemaps:
        folium.TileLayer(basemap.url, name=basemap.name, attr=basemap.attribution, max_zoom=basemap.max_zoom,
                         max_native_zoom=basemap.max_zoom, overlay=False, show=False).add_to(m)
    for view in views:
        ApiLayer(view, campus=options.campus, limit=options.limit, labels=options.labels).add_to(m)
    folium.LayerControl(collapsed=True, position="topright").add_to(m)
    LocateControl(strings={"title": options.labels.get("locate", "Show me where I am")},
                  locateOptions={"enableHighAccuracy": True}).add_to(m)
    legend = legend_html([v.layer for v in views], options.labels.get("legend", "Legend"))
    ScriptCall("legend", {"html": legend}).add_to(m)
    ScriptCall("status", {}).add_to(m)
    if options.record_url:
        ScriptCall("recordControl", {
            "url": options.record_url, "campus": options.campus, "layer": "violations",
            "kinds": options.labels.get("violation_kinds", "fire_lane,entrance,no_parking,zombie,other").split(","),
        }).add_to(m)
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
