"""Write a small MBTiles file of plain chequered tiles over a bbox, to try patrolmap's tile serving.

The tiles are solid PNGs (encoded here with zlib, no imaging library) in two shades with a
darker edge, so the tile grid is visible on the map; each tile also differs slightly in colour
by its zoom, column and row, so tests can tell the tiles apart. Real basemaps come from a tile
renderer or a downloader that writes MBTiles; this is for checking the plumbing (and for the
tests)::

    .venv/bin/python scripts/make_mbtiles.py campus.mbtiles --bbox 116.343,39.996,116.362,40.008 --zooms 14-18
    PATROLMAP_MBTILES=campus=campus.mbtiles flask --app patrolmap run
"""

from __future__ import annotations

import argparse
import math
import sqlite3
import struct
import zlib
from collections.abc import Iterable, Iterator, Mapping
from contextlib import closing
from pathlib import Path

TILE_SIZE = 256


def png(width: int, height: int, fill: tuple[int, int, int], edge: tuple[int, int, int] | None = None) -> bytes:
    """An 8-bit RGB PNG of one colour, optionally with a one-pixel edge of another."""
    inner = bytes(fill)
    border = bytes(edge if edge is not None else fill)
    rows = []
    for row in range(height):
        if row in (0, height - 1):
            pixels = border * width
        else:
            pixels = border + inner * (width - 2) + border if width > 1 else border
        rows.append(b"\x00" + pixels)  # filter type 0 (none) before each row

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit depth, colour type 2 (RGB)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"".join(rows), 9))
            + chunk(b"IEND", b""))


def tile_xy(lon: float, lat: float, zoom: int) -> tuple[int, int]:
    """The XYZ (north-up) tile holding a lon/lat at a zoom, in web mercator."""
    n = 1 << zoom
    x = int((lon + 180.0) / 360.0 * n)
    y = int((1.0 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2.0 * n)
    return min(max(x, 0), n - 1), min(max(y, 0), n - 1)


def tiles_over(bbox: tuple[float, float, float, float], zooms: Iterable[int]) -> Iterator[tuple[int, int, int]]:
    """Every (z, x, y) XYZ tile that touches the bbox (minlon, minlat, maxlon, maxlat)."""
    x0, y0, x1, y1 = bbox
    for z in zooms:
        left, top = tile_xy(x0, y1, z)
        right, bottom = tile_xy(x1, y0, z)
        for x in range(left, right + 1):
            for y in range(top, bottom + 1):
                yield z, x, y


def chequered_tile(z: int, x: int, y: int) -> bytes:
    """A tile whose shade alternates like a chessboard and whose colour encodes its zoom, column and row."""
    base = 240 if (x + y) % 2 else 215
    return png(TILE_SIZE, TILE_SIZE, (base - x % 24, base - y % 24, base - z % 24), edge=(170, 170, 180))


def write_mbtiles(path: Path, tiles: Iterable[tuple[int, int, int, bytes]], metadata: Mapping[str, str]) -> int:
    """Write (z, x, y, data) tiles, given in the XYZ scheme, into a new MBTiles file; return how many."""
    path.unlink(missing_ok=True)
    count = 0
    with closing(sqlite3.connect(path)) as conn, conn:
        conn.execute("CREATE TABLE metadata (name TEXT, value TEXT)")
        conn.execute("CREATE TABLE tiles (zoom_level INTEGER, tile_column INTEGER, tile_row INTEGER, tile_data BLOB)")
        conn.execute("CREATE UNIQUE INDEX tile_index ON tiles (zoom_level, tile_column, tile_row)")
        conn.executemany("INSERT INTO metadata VALUES (?, ?)", list(metadata.items()))
        for z, x, y, data in tiles:
            # MBTiles rows count from the south (TMS).
            conn.execute("INSERT INTO tiles VALUES (?, ?, ?, ?)", (z, x, (1 << z) - 1 - y, data))
            count += 1
    return count


def make_chequered(path: Path, bbox: tuple[float, float, float, float], zooms: range, *, name: str = "Chequered",
                   crs: str | None = None) -> int:
    """A chequered MBTiles over bbox at zooms; `crs` adds patrolmap's own metadata row when given."""
    metadata = {"name": name, "format": "png", "type": "baselayer", "version": "1",
                "minzoom": str(zooms.start), "maxzoom": str(zooms.stop - 1),
                "bounds": ",".join(f"{v:.6f}" for v in bbox), "attribution": "patrolmap test tiles"}
    if crs:
        metadata["crs"] = crs
    return write_mbtiles(path, ((z, x, y, chequered_tile(z, x, y)) for z, x, y in tiles_over(bbox, zooms)), metadata)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--bbox", required=True, help="minlon,minlat,maxlon,maxlat (WGS84)")
    parser.add_argument("--zooms", default="14-18", help="first-last zoom, e.g. 14-18")
    parser.add_argument("--name", default="Chequered")
    parser.add_argument("--crs", choices=("wgs84", "gcj02"))
    args = parser.parse_args()
    bbox = tuple(float(v) for v in args.bbox.split(","))
    if len(bbox) != 4:
        parser.error("--bbox takes four numbers")
    first, _, last = args.zooms.partition("-")
    zooms = range(int(first), int(last or first) + 1)
    count = make_chequered(args.out, bbox, zooms, name=args.name, crs=args.crs)  # type: ignore[arg-type]
    print(f"{args.out}: {count} tiles, zooms {zooms.start}-{zooms.stop - 1}")


if __name__ == "__main__":
    main()
