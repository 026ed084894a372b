"""Read layer files (GeoJSON, GeoPackage, CSV, patrolmap's folder layout) into raw features.

Reading keeps each feature's position and id so that validation can point at
the exact feature that is wrong; it never drops a feature on its own.
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path
from typing import Any

import geopandas as gpd
import orjson
import pandas as pd
import shapely
from shapely.geometry import shape

from patrolmap.geo.schema import SCHEMAS
from patrolmap.geo.validate import RawFeature

LAYER_IDS = tuple(SCHEMAS)
GEOJSON_SUFFIXES = (".geojson", ".json")

# Spreadsheet headers as they arrive from Chinese departments, mapped to field names.
HEADER_ALIASES: dict[str, str] = {
    "lon": "lon", "lng": "lon", "long": "lon", "longitude": "lon", "x": "lon", "经度": "lon",
    "lat": "lat", "latitude": "lat", "y": "lat", "纬度": "lat",
    "id": "id", "编号": "id", "序号": "id",
    "observed_at": "observed_at", "time": "observed_at", "datetime": "observed_at",
    "时间": "observed_at", "违停时间": "observed_at", "发现时间": "observed_at",
    "kind": "kind", "type": "kind", "类型": "kind", "违停类型": "kind", "违法类型": "kind",
    "plate": "plate", "车牌": "plate", "车牌号": "plate", "车牌号码": "plate",
    "status": "status", "状态": "status", "处理状态": "status",
    "note": "note", "notes": "note", "备注": "note", "说明": "note",
    "reporter": "reporter", "上报人": "reporter", "记录人": "reporter",
    "name": "name", "名称": "name",
}
# Values in Chinese spreadsheets, mapped to the stored codes.
VALUE_ALIASES: dict[str, dict[str, str]] = {
    "kind": {
        "占用消防通道": "fire_lane", "消防通道": "fire_lane", "堵塞消防通道": "fire_lane",
        "堵塞出入口": "entrance", "占用出入口": "entrance", "出入口": "entrance",
        "禁停区域": "no_parking", "禁停区": "no_parking", "违停": "no_parking", "违规停车": "no_parking",
        "僵尸车": "zombie", "其他": "other", "其它": "other",
    },
    "status": {
        "待处理": "open", "未处理": "open", "已通知": "notified", "已拖移": "towed", "已拖车": "towed",
        "已处理": "resolved", "已解决": "resolved", "作废": "void", "已作废": "void", "无效": "void",
    },
}
# What a Chinese export writes: one header per field and one word per code, all read back by the aliases.
CHINESE_HEADERS = {"id": "编号", "lon": "经度", "lat": "纬度", "observed_at": "时间", "kind": "类型", "plate": "车牌",
                   "status": "状态", "note": "备注", "reporter": "上报人", "name": "名称"}
CHINESE_VALUES = {
    "kind": {"fire_lane": "占用消防通道", "entrance": "堵塞出入口", "no_parking": "禁停区域", "zombie": "僵尸车",
             "other": "其他"},
    "status": {"open": "待处理", "notified": "已通知", "towed": "已拖车", "resolved": "已处理", "void": "已作废"},
}
EXPORT_ENCODINGS = ("utf-8-sig", "utf-8", "gbk")
CSV_ENCODINGS = ("utf-8-sig", "gb18030")


class ReadError(ValueError):
    """The file cannot be read at all (syntax, encoding, unknown format)."""


def _geometry_of(obj: Any) -> tuple[Any, str | None]:
    if obj is None:
        return None, "missing geometry"
    try:
        geom = shape(obj)
    except Exception as exc:  # shapely raises several types for malformed GeoJSON geometry
        return None, f"malformed GeoJSON geometry: {exc}"
    return geom, None


def features_from_geojson(data: bytes) -> list[RawFeature]:
    """Parse a GeoJSON FeatureCollection (or one Feature) into raw features."""
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        msg = f"not valid JSON: {exc}"
        raise ReadError(msg) from None
    if isinstance(doc, dict) and doc.get("type") == "Feature":
        doc = {"type": "FeatureCollection", "features": [doc]}
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection" or not isinstance(
        doc.get("features"), list
    ):
        msg = "not a GeoJSON FeatureCollection (expected {'type': 'FeatureCollection', 'features': [...]})"
        raise ReadError(msg)
    crs = doc.get("crs")
    if isinstance(crs, dict):
        name = str((crs.get("properties") or {}).get("name", ""))
        if name and not name.endswith(("CRS84", "4326")):
            msg = f"the file declares CRS {name}; patrolmap reads WGS84 longitude/latitude (EPSG:4326) only"
            raise ReadError(msg)
    features = []
    for index, feat in enumerate(doc["features"]):
        if not isinstance(feat, dict) or feat.get("type") != "Feature":
            features.append(RawFeature(index, None, None, {}, "not a GeoJSON Feature object"))
            continue
        props = feat.get("properties") or {}
        if not isinstance(props, dict):
            props = {}
        fid = feat.get("id", props.get("id", props.get("source_id")))
        geom, error = _geometry_of(feat.get("geometry"))
        features.append(RawFeature(index, None if fid is None else str(fid), geom, props, error))
    return features


def decode_text(data: bytes, encoding: str | None = None) -> str:
    """Decode spreadsheet text: UTF-8 (with or without BOM) or GBK/GB18030, or as declared."""
    for candidate in (encoding,) if encoding else CSV_ENCODINGS:
        try:
            return data.decode(candidate)
        except (UnicodeDecodeError, LookupError):
            continue
    msg = f"cannot decode the file as {encoding or ' or '.join(CSV_ENCODINGS)}; pass --encoding"
    raise ReadError(msg)


def _canonical_header(name: str) -> str:
    key = name.strip().lower()
    return HEADER_ALIASES.get(key, HEADER_ALIASES.get(name.strip(), key))


def features_from_csv(data: bytes, *, encoding: str | None = None) -> list[RawFeature]:
    """Parse a CSV of points with lon/lat columns; headers may be Chinese (see HEADER_ALIASES)."""
    text = decode_text(data, encoding)
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        msg = "the CSV file is empty"
        raise ReadError(msg) from None
    except csv.Error as exc:
        msg = f"not a readable CSV: {exc}"
        raise ReadError(msg) from None
    columns = [_canonical_header(h) for h in header]
    # Points come as lon/lat; other shapes (and patrolmap's own exports of them) as a WKT column.
    shapes = "wkt" in columns and not ("lon" in columns and "lat" in columns)
    for needed in () if shapes else ("lon", "lat"):
        if needed not in columns:
            msg = (f"the CSV has no {needed} column (headers: {', '.join(header)}); "
                   "accepted names include lon/lng/longitude/经度 and lat/latitude/纬度, or a wkt column")
            raise ReadError(msg)
    features = []
    try:
        for index, values in enumerate(reader):
            if not any(v.strip() for v in values):
                continue
            record = dict(zip(columns, values, strict=False))
            if len(values) != len(columns):
                features.append(RawFeature(index, record.get("id") or None, None, record,
                                           f"row has {len(values)} values but the header has {len(columns)}"))
                continue
            for field, aliases in VALUE_ALIASES.items():
                if field in record:
                    record[field] = aliases.get(record[field].strip(), record[field])
            if shapes:
                geom, error = _shape_from(record.pop("wkt"))
            else:
                geom, error = _point_from(record.pop("lon"), record.pop("lat"))
            fid = record.pop("id", None) or None
            features.append(RawFeature(index, fid, geom, record, error))
    except csv.Error as exc:
        msg = f"not a readable CSV at line {reader.line_num}: {exc}"
        raise ReadError(msg) from None
    return features


def _point_from(lon: str, lat: str) -> tuple[Any, str | None]:
    try:
        x, y = float(lon), float(lat)
    except ValueError:
        return None, f"lon/lat must be numbers, got {lon!r}, {lat!r}"
    return shapely.Point(x, y), None


def _shape_from(text: str) -> tuple[Any, str | None]:
    if not text.strip():
        return None, "missing geometry"
    try:
        return shapely.from_wkt(text), None
    except shapely.errors.GEOSException as exc:
        return None, f"malformed WKT geometry: {exc}"


def features_from_frame(frame: gpd.GeoDataFrame) -> list[RawFeature]:
    """Turn a GeoDataFrame (from a GeoPackage) into raw features, reprojecting to WGS84."""
    if frame.crs is not None and not frame.crs.equals("EPSG:4326"):
        frame = frame.to_crs("EPSG:4326")
    id_column = next((c for c in ("source_id", "id") if c in frame.columns), None)
    props = frame.drop(columns=[frame.geometry.name])
    features = []
    for index, (geom, record) in enumerate(zip(frame.geometry, props.to_dict("records"), strict=True)):
        clean = {k: _plain(v) for k, v in record.items()}
        fid = clean.get(id_column) if id_column else None
        features.append(RawFeature(index, None if fid is None else str(fid), geom, clean))
    return features


def _plain(value: Any) -> Any:
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if hasattr(value, "item"):
        return value.item()
    if hasattr(value, "isoformat") and not isinstance(value, str):
        return value.isoformat()
    return value


def read_layer_file(path: Path, *, encoding: str | None = None) -> list[RawFeature]:
    """Read one layer's file by its extension."""
    suffix = path.suffix.lower()
    if suffix in GEOJSON_SUFFIXES:
        return features_from_geojson(path.read_bytes())
    if suffix == ".csv":
        return features_from_csv(path.read_bytes(), encoding=encoding)
    msg = f"unsupported file type {suffix!r}; use .geojson, .json, .csv or .gpkg"
    raise ReadError(msg)


def read_geopackage(path: Path) -> dict[str, list[RawFeature]]:
    """Read every layer of a GeoPackage whose name is a patrolmap layer id (or uses _ for -)."""
    import pyogrio

    try:
        available = [name for name, _ in pyogrio.list_layers(path)]
    except Exception as exc:  # pyogrio raises DataSourceError and friends
        msg = f"not a readable GeoPackage: {exc}"
        raise ReadError(msg) from None
    layers: dict[str, list[RawFeature]] = {}
    for name in available:
        layer = name.replace("_", "-")
        if layer in LAYER_IDS:
            frame = gpd.read_file(path, layer=name, engine="pyogrio")
            layers[layer] = features_from_frame(frame)
    if not layers:
        msg = f"the GeoPackage has no layer named like a patrolmap layer ({', '.join(LAYER_IDS)}); found {available}"
        raise ReadError(msg)
    return layers


def read_folder(path: Path) -> dict[str, list[RawFeature]]:
    """Read patrolmap's folder layout: one <layer-id>.geojson (or .csv for points) per layer."""
    layers: dict[str, list[RawFeature]] = {}
    for file in sorted(path.iterdir()):
        layer = file.stem
        if layer in LAYER_IDS and file.suffix.lower() in (*GEOJSON_SUFFIXES, ".csv"):
            if layer in layers:
                msg = f"two files for layer {layer} in {path}"
                raise ReadError(msg)
            layers[layer] = read_layer_file(file)
    return layers

