"""Export a layer to GeoJSON, GeoPackage or CSV in a form the importers read back unchanged."""

from __future__ import annotations

import csv
import zoneinfo
from pathlib import Path

import geopandas as gpd
import pandas as pd
from sqlalchemy.orm import Session

from patrolmap.geo.io import ReadError
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


def export_layer(session: Session, layer_id: str, path: Path, *, campus: Campus | None) -> int:
    """Write one layer to a file chosen by extension; return the number of features written."""
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        msg = f"unsupported export format {path.suffix!r}; use {', '.join(FORMATS)}"
        raise ReadError(msg)
    frame = export_frame(session, layer_id, campus)
    if fmt == "geojson":
        props = frame.drop(columns=["geometry", "id"]).astype(object).where(frame.notna(), None)
        path.write_bytes(feature_collection(list(frame["id"]), list(frame.geometry),
                                            props.to_dict("records")))
    elif fmt == "gpkg":
        frame.to_file(path, layer=layer_id.replace("-", "_"), driver="GPKG", engine="pyogrio")
    else:
        _write_csv(frame, path)
    return len(frame)


def _write_csv(frame: gpd.GeoDataFrame, path: Path) -> None:
    """CSV with a BOM so that Excel reads Chinese; points as lon/lat, other shapes as WKT."""
    table = pd.DataFrame(frame.drop(columns="geometry"))
    if len(frame) and (frame.geom_type == "Point").all():
        table.insert(1, "lon", frame.geometry.x)
        table.insert(2, "lat", frame.geometry.y)
    else:
        table["wkt"] = frame.geometry.to_wkt()
    table.to_csv(path, index=False, encoding="utf-8-sig", quoting=csv.QUOTE_MINIMAL)
