"""Export a layer to GeoJSON, GeoPackage or CSV in a form the importers read back unchanged."""

from __future__ import annotations

import csv
import zoneinfo
from pathlib import Path

import geopandas as gpd
import pandas as pd
from sqlalchemy.orm import Session

from patrolmap.geo.io import CHINESE_HEADERS, CHINESE_VALUES, EXPORT_ENCODINGS, ReadError
from patrolmap.geojson import feature_collection
from patrolmap.layers import get_layer
from patrolmap.models import Campus
from patrolmap.store import layer_frame

FORMATS = {".geojson": "geojson", ".json": "geojson", ".gpkg": "gpkg", ".csv": "csv"}


def export_frame(session: Session, layer_id: str, campus: Campus | None) -> gpd.GeoDataFrame:
    """The layer's exportable columns: the import schema's fields, with `id` holding the source id."""
    layer = get_layer(layer_id)
    frame = layer_frame(session, layer_id, campus_id=campus.id if campus else None)
    if "observed_at" in frame.columns and campus is not None:
        tz = zoneinfo.ZoneInfo(campus.timezone)
        frame["observed_at"] = [t.astimezone(tz).isoformat() for t in frame["observed_at"]]
    out = frame[["source_id", *layer.schema.field_names, "geometry"]].rename(columns={"source_id": "id"})
    return out


def export_layer(session: Session, layer_id: str, path: Path, *, campus: Campus | None,
                 encoding: str = "utf-8-sig", chinese: bool = False) -> int:
    """Write one layer to a file chosen by extension; return the number of features written.

    CSV only: `encoding` utf-8-sig (Excel reads Chinese), utf-8 or gbk (older office software);
    `chinese` writes Chinese headers and coded values (时间, 类型: 占用消防通道 ...), which the
    importers read back.
    """
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        msg = f"unsupported export format {path.suffix!r}; use {', '.join(FORMATS)}"
        raise ReadError(msg)
    frame = export_frame(session, layer_id, campus)
    write_frame(frame, path, layer_id, fmt=fmt, encoding=encoding, chinese=chinese)
    return len(frame)


def write_frame(frame: gpd.GeoDataFrame, path: Path, layer_id: str, *, fmt: str, encoding: str = "utf-8-sig",
                chinese: bool = False) -> None:
    """Write an export frame (an `id` column, fields, geometry) as geojson, gpkg or csv.

    Shared by the command line and the web downloads (patrolmap/web/downloads.py), which mask
    personal data in the frame first; the GeoPackage layer is named by id with _ for -, as
    read_geopackage reads it back.
    """
    if fmt == "geojson":
        props = frame.drop(columns=["geometry", "id"]).astype(object).where(frame.notna(), None)
        path.write_bytes(feature_collection(list(frame["id"]), list(frame.geometry),
                                            props.to_dict("records")))
    elif fmt == "gpkg":
        frame.to_file(path, layer=layer_id.replace("-", "_"), driver="GPKG", engine="pyogrio")
    elif fmt == "csv":
        _write_csv(frame, path, encoding=encoding, chinese=chinese)
    else:
        msg = f"unsupported export format {fmt!r}; use geojson, gpkg or csv"
        raise ReadError(msg)


def _write_csv(frame: gpd.GeoDataFrame, path: Path, *, encoding: str, chinese: bool) -> None:
    """Points as lon/lat, other shapes as WKT; the whole file is encoded before anything is written."""
    if encoding not in EXPORT_ENCODINGS:
        msg = f"unsupported encoding {encoding!r}; use {', '.join(EXPORT_ENCODINGS)}"
        raise ReadError(msg)
    table = pd.DataFrame(frame.drop(columns="geometry"))
    if len(frame) and (frame.geom_type == "Point").all():
        table.insert(1, "lon", frame.geometry.x)
        table.insert(2, "lat", frame.geometry.y)
    else:
        # Full precision (shapely rounds WKT to 6 decimals by default), so that a re-import changes nothing.
        table["wkt"] = frame.geometry.to_wkt(rounding_precision=-1)
    if chinese:
        for column, words in CHINESE_VALUES.items():
            if column in table:
                table[column] = table[column].map(lambda v, w=words: w.get(v, v))
        table = table.rename(columns=CHINESE_HEADERS)
    text = table.to_csv(index=False, quoting=csv.QUOTE_MINIMAL)
    try:
        data = text.encode(encoding)
    except UnicodeEncodeError as exc:
        bad = text[exc.start:exc.end]
        line = text.count("\n", 0, exc.start) + 1
        msg = f"line {line} holds {bad!r}, which {encoding} cannot write; export as utf-8-sig instead"
        raise ReadError(msg) from None
    path.write_bytes(data)
