"""Fast RFC 7946 serialisation: shapely's vectorised to_geojson and orjson, no GeoDataFrame.to_json."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import orjson
import shapely


def _default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dt.date):
        return value.isoformat()
    raise TypeError


def feature_collection(
    ids: Sequence[Any],
    geometries: Sequence[Any],
    properties: Iterable[Mapping[str, Any]],
    **members: Any,
) -> bytes:
    """Serialise features; extra members (numberMatched, links...) go on the collection."""
    geojson = shapely.to_geojson(np.asarray(geometries, dtype=object)) if len(geometries) else []
    parts = [
        b'{"type":"Feature","id":' + orjson.dumps(fid) + b',"geometry":' + geom.encode()
        + b',"properties":' + orjson.dumps(props, default=_default) + b"}"
        for fid, geom, props in zip(ids, geojson, properties, strict=True)
    ]
    head = orjson.dumps({"type": "FeatureCollection", **members}, default=_default)[:-1]
    return head + b',"features":[' + b",".join(parts) + b"]}"
