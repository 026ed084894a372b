"""MBTiles basemaps: tiles served with the right bytes, row flip and headers; every bad request a quiet 404."""

from __future__ import annotations

import importlib.util
import sqlite3
from contextlib import closing
from pathlib import Path
from types import ModuleType

import pytest
from flask import Flask
from flask.testing import FlaskClient

from patrolmap.web.tiles import connect, read_tileset

pytestmark = pytest.mark.store("sqlite")  # tiles never touch the store

REPO = Path(__file__).resolve().parent.parent


def make_mbtiles_script() -> ModuleType:
    """Import scripts/make_mbtiles.py, which is not part of the package."""
    spec = importlib.util.spec_from_file_location("make_mbtiles", REPO / "scripts" / "make_mbtiles.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


MB = make_mbtiles_script()
# Two zooms over the sample campus: 1 tile at z=14, a 2 x 2 block at z=16.
BBOX = (116.343, 39.997, 116.361, 40.009)


@pytest.fixture
def mbtiles(tmp_path: Path) -> Path:
    path = tmp_path / "campus.mbtiles"
    MB.make_chequered(path, BBOX, range(14, 17), name="Campus <grid>")
    return path


@pytest.fixture
def tiles_client(app: Flask, client: FlaskClient, mbtiles: Path) -> FlaskClient:
    app.config["MBTILES"] = f"campus={mbtiles}"
    return client


def stored_tiles(path: Path) -> list[tuple[int, int, int, bytes]]:
    with closing(sqlite3.connect(path)) as conn:
        return list(conn.execute("SELECT zoom_level, tile_column, tile_row, tile_data FROM tiles"))


def test_png_is_well_formed() -> None:
    import struct
    import zlib

    data = MB.png(4, 3, (10, 20, 30), edge=(1, 2, 3))
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == (4, 3)
    length = struct.unpack(">I", data[33:37])[0]
    assert data[37:41] == b"IDAT"
    raw = zlib.decompress(data[41:41 + length])
    assert len(raw) == 3 * (1 + 4 * 3)
    assert raw[1 + 12 + 1 + 3: 1 + 12 + 1 + 6] == bytes((10, 20, 30))  # an inner pixel of the middle row


def test_every_tile_served_with_its_bytes_and_the_row_flipped(tiles_client: FlaskClient, mbtiles: Path) -> None:
    tiles = stored_tiles(mbtiles)
    assert len({t[3] for t in tiles}) == len(tiles) > 4  # every tile differs, so a wrong row shows
    for z, x, tms_row, data in tiles:
        y = (1 << z) - 1 - tms_row
        response = tiles_client.get(f"/tiles/campus/{z}/{x}/{y}")
        assert response.status_code == 200, (z, x, y)
        assert response.data == data, (z, x, y)
        assert response.mimetype == "image/png"
        assert response.headers["Cache-Control"] == "private, max-age=86400"


def test_flip_matches_the_xyz_tile_of_a_place(tiles_client: FlaskClient) -> None:
    # The XYZ tile holding the campus at z=16 (counted from the north, as Leaflet does).
    x, y = MB.tile_xy(116.3525, 40.0030, 16)
    assert tiles_client.get(f"/tiles/campus/16/{x}/{y}").data == MB.chequered_tile(16, x, y)


def test_etag_and_not_modified(tiles_client: FlaskClient) -> None:
    x, y = MB.tile_xy(116.3525, 40.0030, 16)
    first = tiles_client.get(f"/tiles/campus/16/{x}/{y}")
    etag = first.headers["ETag"]
    again = tiles_client.get(f"/tiles/campus/16/{x}/{y}", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""


@pytest.mark.parametrize("url", [
    "/tiles/nowhere/16/53945/24802",  # no such tileset
    "/tiles/campus/31/0/0",  # deeper than any tile grid
    "/tiles/campus/16/65536/0",  # column outside the grid
    "/tiles/campus/16/0/65536",  # row outside the grid
    "/tiles/campus/2/0/99999999999999999999999999",  # would overflow SQLite's integers
    "/tiles/campus/16/-1/0",
    "/tiles/campus/16/a/0",
    "/tiles/campus/16/1.5/0",
    "/tiles/campus/16/0",
])
def test_bad_requests_are_404_not_500(tiles_client: FlaskClient, url: str) -> None:
    response = tiles_client.get(url)
    assert response.status_code == 404, url


def test_missing_tile_is_no_content(tiles_client: FlaskClient) -> None:
    response = tiles_client.get("/tiles/campus/16/0/0")  # in the grid, not in the file
    assert response.status_code == 204 and response.data == b""
    assert tiles_client.get("/tiles/campus/0/0/0").status_code == 204


def test_jpeg_format_from_metadata(app: Flask, client: FlaskClient, tmp_path: Path) -> None:
    path = tmp_path / "photo.mbtiles"
    jpeg = b"\xff\xd8\xff\xe0" + b"\x00" * 20 + b"\xff\xd9"
    MB.write_mbtiles(path, [(1, 1, 0, jpeg)], {"name": "Photo", "format": "jpg", "minzoom": "0", "maxzoom": "1"})
    app.config["MBTILES"] = {"photo": str(path)}
    response = client.get("/tiles/photo/1/1/0")
    assert response.status_code == 200 and response.mimetype == "image/jpeg" and response.data == jpeg


def test_format_sniffed_when_metadata_has_none(app: Flask, client: FlaskClient, tmp_path: Path) -> None:
    path = tmp_path / "plain.mbtiles"
    MB.write_mbtiles(path, [(0, 0, 0, MB.png(2, 2, (0, 0, 0)))], {"name": "Plain"})
    app.config["MBTILES"] = {"plain": str(path)}
    assert read_tileset("plain", path).max_zoom == 0  # zooms from the tiles when metadata has none
    assert client.get("/tiles/plain/0/0/0").mimetype == "image/png"


def test_opened_read_only(mbtiles: Path) -> None:
    with closing(connect(mbtiles)) as conn, pytest.raises(sqlite3.OperationalError, match="readonly"):
        conn.execute("DELETE FROM tiles")
    with pytest.raises(sqlite3.OperationalError):
        connect(mbtiles.with_name("missing.mbtiles")).execute("SELECT 1")
    assert not mbtiles.with_name("missing.mbtiles").exists()  # mode=ro never creates a file


def test_metadata_read_and_escaped(mbtiles: Path) -> None:
    tileset = read_tileset("campus", mbtiles)
    assert (tileset.min_zoom, tileset.max_zoom, tileset.format, tileset.crs) == (14, 16, "png", "wgs84")
    assert tileset.title == "Campus &lt;grid&gt;"  # Leaflet shows layer names as HTML
    assert read_tileset("campus", mbtiles, crs="gcj02").crs == "gcj02"


def test_crs_from_metadata_and_override(app: Flask, client: FlaskClient, tmp_path: Path) -> None:
    gcj = tmp_path / "gcj.mbtiles"
    MB.make_chequered(gcj, BBOX, range(14, 15), name="GCJ tiles", crs="gcj02")
    plain = tmp_path / "plain.mbtiles"
    MB.make_chequered(plain, BBOX, range(14, 15), name="Plain tiles")
    assert read_tileset("gcj", gcj).crs == "gcj02"
    app.config["MBTILES"] = f"gcj={gcj},plain={plain}"
    app.config["MBTILES_CRS"] = "plain=gcj02"
    page = client.get("/").get_data(as_text=True)
    assert page.count('"crs": "gcj02"') == 3  # AMap, and both files
    assert "/tiles/gcj/{z}/{x}/{y}" in page and "/tiles/plain/{z}/{x}/{y}" in page


def test_vector_tiles_and_broken_files_are_not_offered(app: Flask, client: FlaskClient, tmp_path: Path,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    vector = tmp_path / "vector.mbtiles"
    MB.write_mbtiles(vector, [], {"name": "Vector", "format": "pbf"})
    broken = tmp_path / "broken.mbtiles"
    broken.write_bytes(b"not a database")
    app.config["MBTILES"] = f"vector={vector},broken={broken},gone={tmp_path / 'gone.mbtiles'},bad name={vector}"
    response = client.get("/")
    assert response.status_code == 200
    assert "/tiles/" not in response.get_data(as_text=True)
    assert client.get("/tiles/vector/0/0/0").status_code == 404
    logged = caplog.text
    for name in ("vector", "broken", "gone", "bad name"):
        assert name in logged
