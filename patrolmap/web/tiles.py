"""Raster basemap tiles from local MBTiles files, so that an intranet gets a real basemap too.

An MBTiles file is an SQLite database of web-mercator tiles (https://github.com/mapbox/mbtiles-spec):
a ``tiles`` table (or view) keyed by zoom, column and row, with rows counted from the south
(TMS), and a ``metadata`` table of name/value pairs (``format`` png or jpg, ``minzoom``,
``maxzoom``, ``name``, ``attribution``). patrolmap serves them at
``/tiles/<name>/<z>/<x>/<y>`` in the XYZ scheme Leaflet asks for, flipping the row.

Configured with ``PATROLMAP_MBTILES="name=path.mbtiles[,name=path...]"``. Tiles are taken to
be drawn in WGS84 (web mercator of WGS84, like OpenStreetMap's), unless
``PATROLMAP_MBTILES_CRS="name=gcj02"`` says otherwise or the file's metadata carries a ``crs``
row (patrolmap's own, not in the spec) saying ``gcj02``, as for tiles cut from a GCJ-02 source.

Files are opened read-only (an SQLite ``mode=ro`` URI), once per request: patrolmap never writes
to them and they may be replaced while it runs. A tile the file lacks is answered 204 No
Content, which Leaflet shows as an empty tile without a console error; an unknown tileset or a
z/x/y outside the tile grid is 404.
"""

from __future__ import annotations

import logging
import re
import sqlite3
from collections.abc import Mapping
from contextlib import closing
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from urllib.request import pathname2url

from flask import Blueprint, Response, current_app, request, url_for
from markupsafe import escape

from patrolmap.config import tile_crs

log = logging.getLogger(__name__)
bp = Blueprint("tiles", __name__)

NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
MAX_ZOOM = 30
MIMETYPES = {"png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg", "webp": "image/webp"}
# Tiles change only when the file is replaced; they are private because pages need a sign-in.
CACHE_CONTROL = "private, max-age=86400"


@dataclass(frozen=True)
class Tileset:
    """One configured MBTiles file, as its metadata describes it."""

    name: str
    path: Path
    # Both shown by Leaflet as HTML (layer control, attribution): the metadata's text, escaped.
    title: str
    attribution: str
    format: str | None
    min_zoom: int
    max_zoom: int
    crs: str

    @property
    def mimetype(self) -> str | None:
        return MIMETYPES.get(self.format or "")


def parse_pairs(value: str | Mapping[str, str] | None, variable: str) -> dict[str, str]:
    """Read "name=value[,name=value...]" (or take a mapping as it is)."""
    if not value:
        return {}
    if isinstance(value, Mapping):
        return {str(k): str(v) for k, v in value.items()}
    pairs = {}
    for item in value.split(","):
        if not item.strip():
            continue
        name, sep, rest = item.partition("=")
        if not sep or not name.strip() or not rest.strip():
            msg = f"{variable}: expected name=value, got {item.strip()!r}"
            raise ValueError(msg)
        pairs[name.strip()] = rest.strip()
    return pairs


def connect(path: Path) -> sqlite3.Connection:
    """Open an MBTiles file read-only: SQLite refuses any write, and a missing file is an error."""
    return sqlite3.connect(f"file:{pathname2url(str(path.resolve()))}?mode=ro", uri=True)


def read_tileset(name: str, path: Path, crs: str | None = None) -> Tileset:
    """Describe an MBTiles file from its metadata (zooms from the tiles when it has none)."""
    with closing(connect(path)) as conn:
        meta = {str(k).lower(): str(v) for k, v in conn.execute("SELECT name, value FROM metadata")}
        fmt = meta.get("format", "").strip().lower() or None
        if fmt in ("pbf", "mvt"):
            msg = f"{path}: vector tiles ({fmt}) cannot be drawn as a raster basemap"
            raise ValueError(msg)
        if fmt is not None and fmt not in MIMETYPES:
            msg = f"{path}: unknown tile format {fmt!r}"
            raise ValueError(msg)
        try:
            min_zoom, max_zoom = int(meta["minzoom"]), int(meta["maxzoom"])
        except (KeyError, ValueError):
            low, high = conn.execute("SELECT MIN(zoom_level), MAX(zoom_level) FROM tiles").fetchone()
            min_zoom, max_zoom = int(low or 0), int(high if high is not None else 18)
    if crs is None:
        crs = tile_crs(meta["crs"], f"{path} metadata crs") if meta.get("crs") else "wgs84"
    return Tileset(name=name, path=path, title=str(escape(meta.get("name") or name)),
                   attribution=str(escape(meta.get("attribution", ""))), format=fmt,
                   min_zoom=max(0, min_zoom), max_zoom=min(MAX_ZOOM, max_zoom), crs=crs)


@lru_cache(maxsize=64)
def _cached_tileset(name: str, path: str, crs: str | None, stamp: tuple[int, int]) -> Tileset | None:
    """read_tileset once per file version (stamp: mtime and size); a broken file is logged once."""
    try:
        return read_tileset(name, Path(path), crs)
    except (sqlite3.Error, ValueError, OSError) as exc:
        log.warning("MBTiles %s (%s) is not offered: %s", name, path, exc)
        return None


def configured_tilesets() -> dict[str, Tileset]:
    """The usable MBTiles files of the configuration, by name; unusable ones are logged and left out."""
    files = parse_pairs(current_app.config.get("MBTILES"), "PATROLMAP_MBTILES")
    overrides = parse_pairs(current_app.config.get("MBTILES_CRS"), "PATROLMAP_MBTILES_CRS")
    tilesets = {}
    for name, path in files.items():
        if not NAME.match(name):
            log.warning("MBTiles name %r is not offered: use letters, digits, - and _", name)
            continue
        try:
            stat = Path(path).expanduser().stat()
        except OSError as exc:
            log.warning("MBTiles %s (%s) is not offered: %s", name, path, exc)
            continue
        crs = tile_crs(overrides[name], "PATROLMAP_MBTILES_CRS") if name in overrides else None
        tileset = _cached_tileset(name, str(Path(path).expanduser()), crs, (stat.st_mtime_ns, stat.st_size))
        if tileset is not None:
            tilesets[name] = tileset
    return tilesets


def tile_url_template(name: str) -> str:
    """The XYZ template of a tileset for Leaflet: .../tiles/<name>/{z}/{x}/{y}."""
    url = url_for("tiles.tile", name=name, z=1, x=2, y=3)
    return url[: -len("1/2/3")] + "{z}/{x}/{y}"


def _sniff(data: bytes) -> str:
    if data.startswith(b"\x89PNG"):
        return "image/png"
    if data.startswith(b"\xff\xd8"):
        return "image/jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return "application/octet-stream"


@bp.get("/tiles/<name>/<int:z>/<int:x>/<int:y>")
def tile(name: str, z: int, x: int, y: int) -> Response:
    """One tile in the XYZ scheme; 204 where the file has none, 404 outside the grid or for no such tileset."""
    tileset = configured_tilesets().get(name)
    if tileset is None or z > MAX_ZOOM or x >= 1 << z or y >= 1 << z:
        return Response(status=404)
    with closing(connect(tileset.path)) as conn:
        found = conn.execute(
            "SELECT tile_data FROM tiles WHERE zoom_level = ? AND tile_column = ? AND tile_row = ?",
            (z, x, (1 << z) - 1 - y),  # MBTiles counts rows from the south (TMS), Leaflet from the north
        ).fetchone()
    if found is None or found[0] is None:
        response = Response(status=204)
        response.headers["Cache-Control"] = CACHE_CONTROL
        return response
    data = bytes(found[0])
    response = Response(data, mimetype=tileset.mimetype or _sniff(data))
    response.headers["Cache-Control"] = CACHE_CONTROL
    response.add_etag()
    return response.make_conditional(request)
