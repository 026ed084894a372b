"""Maps render to text: every layer with its style, data fetched not embedded, assets local, text escaped."""

from __future__ import annotations

import json
import re

import numpy as np
from flask.testing import FlaskClient

from patrolmap.assets import remote_urls
from patrolmap.extensions import db
from patrolmap.importing import load_geodata
from patrolmap.layers import LAYERS
from patrolmap.maps import LayerView, MapOptions, ScriptCall, build_map, legend_html, render_parts
from patrolmap.web.pages import PAGE_URLS

from .conftest import DATA
from .test_store import insert_random_violations


def views(show: set[str]) -> list[LayerView]:
    return [LayerView(layer, f"/api/layers/{layer.id}", f"/api/layers/{layer.id}/cells", show=layer.id in show)
            for layer in LAYERS.values()]


def test_map_holds_every_layer_with_its_style_and_no_data() -> None:
    parts = render_parts(build_map(views({"buildings"}), MapOptions(bounds=(116.34, 39.99, 116.36, 40.01))))
    for layer in LAYERS.values():
        assert f'"id": "{layer.id}"' in parts.script
        assert f'"title": "{layer.title}"' in parts.script
        assert f'"url": "/api/layers/{layer.id}"' in parts.script
        assert layer.style.color in parts.script
        for _, color in layer.style.colors:
            assert color in parts.script
    # Only the buildings layer is added to the map at first; the rest wait in the layer control.
    added = re.findall(r"(api_layer_\w+)\.addTo\(", parts.script)
    assert len(added) == 1
    assert '"type": "Feature"' not in parts.script
    assert remote_urls(parts.header) == []
    assert "fitBounds" in parts.script and "[[39.99, 116.34], [40.01, 116.36]]" in parts.script


def test_script_call_config_is_inert_in_jinja_and_html() -> None:
    """branca compiles the rendered script again as a template: user text must not be evaluated there."""
    hostile = "{{ 7*7 }} {% for x in range(3) %}x{% endfor %} {# c #} </script><b>it's</b> \\ \"q\""
    m = build_map(views(set()), MapOptions(bounds=None))
    ScriptCall("probe", {"name": hostile, "nested": {"list": [hostile]}}).add_to(m)
    script = render_parts(m).script
    call = re.search(r"patrolmap\.probe\(\w+, (.*)\);", script)
    assert call is not None
    assert json.loads(call.group(1)) == {"name": hostile, "nested": {"list": [hostile]}}
    assert "49" not in call.group(1) and "xxx" not in call.group(1) and "</script>" not in call.group(1)


def test_legend_escapes_text() -> None:
    html = legend_html([LAYERS["buildings"]], "<b>Legend</b>")
    assert "&lt;b&gt;Legend&lt;/b&gt;" in html
    assert html.count("pm-swatch") == len(LAYERS["buildings"].style.colors)


def test_page_size_does_not_grow_with_violations(client: FlaskClient) -> None:
    load_geodata(db.session, DATA / "minicampus")
    small = {url: len(client.get(url).data) for url in PAGE_URLS.values()}
    insert_random_violations(3000, np.random.default_rng(3))
    large = {url: len(client.get(url).data) for url in PAGE_URLS.values()}
    assert small == large
    assert max(large.values()) < 100_000


def test_pages_answer_and_unknown_campus_is_404(client: FlaskClient) -> None:
    load_geodata(db.session, DATA / "minicampus")
    for url in PAGE_URLS.values():
        response = client.get(url)
        assert response.status_code == 200, url
        assert b"patrolmap.apiLayer" in response.data
    assert client.get("/?campus=nowhere").status_code == 404


def test_campus_switcher_when_several_campuses(client: FlaskClient) -> None:
    from patrolmap.importing import CampusInfo

    load_geodata(db.session, DATA / "minicampus")
    load_geodata(db.session, DATA / "osm" / "tiny_points.osm", campus=CampusInfo(slug="second", name="第二校区"))
    page = client.get("/violations?campus=second").data.decode()
    assert '<select id="pm-campus-select" name="campus">' in page
    assert '<option value="second" selected>第二校区</option>' in page
    assert '"campus": "second"' in page
