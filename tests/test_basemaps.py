"""Basemap choices: no basemap first, then OSM, AMap (GCJ-02), Tianditu with a key, configured tiles; CSP follows."""

from __future__ import annotations

import json
import re

import pytest
from flask import Flask
from flask.testing import FlaskClient

from patrolmap.config import from_environment
from patrolmap.layers import LAYERS
from patrolmap.maps import Basemap, LayerView, MapOptions, amap_basemap, build_map, render_parts, tianditu_basemap

pytestmark = pytest.mark.store("sqlite")  # basemaps never touch the store


def basemap_configs(script: str) -> list[dict]:
    """The config of every patrolmap.basemap(...) call in a rendered map, in order."""
    return [json.loads(m) for m in re.findall(r"patrolmap\.basemap\((\{.*?\})\);", script)]


def base_layer_names(script: str) -> list[str]:
    block = re.search(r"base_layers : \{(.*?)\},\s*overlays", script, re.S)
    assert block
    return re.findall(r'"([^"]+)" :', block.group(1))


def test_map_offers_each_basemap_as_one_choice_with_its_crs() -> None:
    views = [LayerView(layer, f"/api/layers/{layer.id}", f"/api/layers/{layer.id}/cells") for layer in LAYERS.values()]
    basemaps = [amap_basemap("AMap"), tianditu_basemap("Tianditu", "k3y", "vec", "cva")]
    parts = render_parts(build_map(views, MapOptions(bounds=None, basemaps=basemaps)))
    assert base_layer_names(parts.script) == ["No basemap", "AMap", "Tianditu"]
    amap, tianditu = basemap_configs(parts.script)
    assert amap["crs"] == "gcj02" and len(amap["layers"]) == 1
    assert amap["layers"][0]["options"]["subdomains"] == "1234"
    assert amap["layers"][0]["options"]["maxNativeZoom"] == 18 and amap["layers"][0]["options"]["maxZoom"] >= 20
    assert "AutoNavi" in amap["layers"][0]["options"]["attribution"]
    # Tianditu: the map and its labels are one choice, drawn without offset.
    assert tianditu["crs"] == "wgs84"
    assert [layer["url"].split("/")[3] for layer in tianditu["layers"]] == ["vec_w", "cva_w"]
    assert all(layer["url"].endswith("&tk=k3y") for layer in tianditu["layers"])
    assert "Tianditu" in tianditu["layers"][0]["options"]["attribution"]
    # The blank default carries its CRS too, and the map follows the basemap picked.
    assert 'L.layerGroup([], {pmCrs: "wgs84"})' in parts.script
    assert "patrolmap.basemapCrs(" in parts.script


def test_crs_is_checked() -> None:
    with pytest.raises(ValueError, match="crs"):
        Basemap("x", "/t/{z}/{x}/{y}", "", crs="bd09")


def test_tianditu_key_is_url_encoded() -> None:
    assert tianditu_basemap("T", "a&b=c", "img", "cia").url.endswith("&tk=a%26b%3Dc")


def page_basemaps(client: FlaskClient) -> tuple[list[str], list[dict], str]:
    response = client.get("/")
    assert response.status_code == 200
    script = response.get_data(as_text=True)
    return base_layer_names(script), basemap_configs(script), response.headers["Content-Security-Policy"]


def test_default_choices(client: FlaskClient) -> None:
    names, configs, csp = page_basemaps(client)
    assert names == ["No basemap", "OpenStreetMap", "AMap / Gaode"]
    assert [c["crs"] for c in configs] == ["wgs84", "gcj02"]
    assert "tianditu" not in json.dumps(configs)
    img_src = next(d for d in csp.split("; ") if d.startswith("img-src"))
    assert "https://tile.openstreetmap.org" in img_src
    assert all(f"https://webrd0{s}.is.autonavi.com" in img_src for s in "1234")
    assert "tianditu" not in img_src


def test_tianditu_with_a_key(app: Flask, client: FlaskClient) -> None:
    app.config["TIANDITU_KEY"] = "0123abcd"
    names, configs, csp = page_basemaps(client)
    assert names == ["No basemap", "OpenStreetMap", "AMap / Gaode", "Tianditu", "Tianditu imagery"]
    imagery = configs[-1]
    assert [layer["url"].split("/")[3] for layer in imagery["layers"]] == ["img_w", "cia_w"]
    assert imagery["crs"] == "wgs84" and "tk=0123abcd" in imagery["layers"][1]["url"]
    assert all(f"https://t{s}.tianditu.gov.cn" in csp for s in range(8))


def test_configured_tile_source_declares_its_crs(app: Flask, client: FlaskClient) -> None:
    app.config.update(TILE_URL="https://tiles{s}.intranet.example/{z}/{x}/{y}.png", TILE_NAME="Intranet",
                      TILE_ATTRIBUTION="Survey office", TILE_CRS="gcj02", TILE_SUBDOMAINS="12")
    names, configs, csp = page_basemaps(client)
    assert names[-1] == "Intranet"
    assert configs[-1]["crs"] == "gcj02"
    assert configs[-1]["layers"][0]["options"]["attribution"] == "Survey office"
    assert "https://tiles1.intranet.example" in csp and "https://tiles2.intranet.example" in csp


def test_tile_crs_from_environment() -> None:
    assert from_environment({})["TILE_CRS"] == "wgs84"
    assert from_environment({"PATROLMAP_TILE_CRS": "GCJ-02"})["TILE_CRS"] == "gcj02"
    assert from_environment({"PATROLMAP_TILE_CRS": "CGCS2000"})["TILE_CRS"] == "wgs84"
    with pytest.raises(ValueError, match="PATROLMAP_TILE_CRS"):
        from_environment({"PATROLMAP_TILE_CRS": "bd09"})
    env = from_environment({"PATROLMAP_TIANDITU_KEY": "k", "PATROLMAP_MBTILES": "a=/x.mbtiles"})
    assert env["TIANDITU_KEY"] == "k" and env["MBTILES"] == "a=/x.mbtiles"
