"""Repeat offenders and zombie-car candidates, from each plate's history.

Plates are compared as people mean them (patrolmap.geo.plates.normalise_plate: no
separators, capitals), so "京A·12345" and "京a 12345" are one car. `无牌` (no plate) and
empty plates identify no car and are left out. Anonymised plates (`anon:…`, after the
retention purge) still group, since the keyed hash is the same for the same plate; the
result marks them `anonymised` so that no one is ever shown one as a plate.

Input tables carry id, plate, lon, lat and local_date (and kind for the kinds counted).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from patrolmap.analysis.hexgrid import LocalProjection
from patrolmap.analysis.workcalendar import as_dates
from patrolmap.geo.plates import NO_PLATE, normalise_plate

ANONYMISED_PREFIX = "anon:"


def plate_key(plate: Any) -> str | None:
    """The key a plate groups by, or None when it names no car."""
    if not isinstance(plate, str):
        return None
    plate = plate.strip()
    if not plate or plate == NO_PLATE:
        return None
    if plate.startswith(ANONYMISED_PREFIX):
        return plate
    key = normalise_plate(plate)
    return key or None


def _day(value: object) -> str:
    return str(np.datetime64(value, "D"))


def _keyed(table: pd.DataFrame) -> pd.DataFrame:
    """The rows with a usable plate, with a `key` column; plates repeat, so each distinct one is normalised once."""
    if table.empty:
        return table.assign(key=pd.Series(dtype=object))
    plates = table["plate"]
    distinct = pd.unique(plates.dropna())
    mapping = {p: plate_key(p) for p in distinct}
    keys = plates.map(mapping)
    keyed = table.assign(key=keys)
    return keyed[keyed["key"].notna()]


def repeat_offenders(table: pd.DataFrame, min_count: int) -> list[dict[str, Any]]:
    """Plates with at least min_count violations in the table, most violations first.

    Each: key, anonymised, count, days (distinct local dates), first_date, last_date, kinds
    ({kind: count}), ids (violation ids, oldest first).
    """
    keyed = _keyed(table)
    if keyed.empty:
        return []
    sizes = keyed.groupby("key", sort=False).size()
    wanted = sizes[sizes >= min_count].index
    if wanted.empty:
        return []
    rows = keyed[keyed["key"].isin(wanted)].copy()
    rows["_date"] = as_dates(rows["local_date"].to_numpy())
    out = []
    for key, group in rows.sort_values(["_date", "id"]).groupby("key", sort=False):
        dates = group["_date"].to_numpy()
        kinds = group["kind"].value_counts() if "kind" in group else pd.Series(dtype=int)
        out.append({
            "key": key,
            "anonymised": str(key).startswith(ANONYMISED_PREFIX),
            "count": len(group),
            "days": len(np.unique(dates)),
            "first_date": _day(dates.min()),
            "last_date": _day(dates.max()),
            "kinds": {str(k): int(v) for k, v in sorted(kinds.items())},
            "ids": [int(i) for i in group["id"]],
        })
    out.sort(key=lambda g: (-g["count"], -g["days"], g["last_date"], g["key"]))
    return out


def zombie_candidates(
    table: pd.DataFrame, *, min_days: int, radius_m: float, min_span_days: int = 0,
) -> list[dict[str, Any]]:
    """Plates seen within radius_m of their own median position on >= min_days distinct days
    spanning >= min_span_days (last such day minus first), most days first.

    Each: key, anonymised, lon, lat (the median position), days, span_days, first_date,
    last_date, count (sightings near the median), total (all sightings), ids (near ones).
    """
    keyed = _keyed(table)
    if keyed.empty:
        return []
    # Only plates seen on enough days at all can qualify: drop the rest before any geometry.
    keyed = keyed.assign(_date=as_dates(keyed["local_date"].to_numpy()))
    day_counts = keyed.groupby("key", sort=False)["_date"].nunique()
    keyed = keyed[keyed["key"].isin(day_counts[day_counts >= min_days].index)]
    if keyed.empty:
        return []
    lon, lat = keyed["lon"].to_numpy(float), keyed["lat"].to_numpy(float)
    projection = LocalProjection(float(np.median(lon)), float(np.median(lat)))
    x, y = projection.forward(lon, lat)
    keyed = keyed.assign(_x=x, _y=y)
    medians = keyed.groupby("key", sort=False)[["_x", "_y"]].median()
    centre = medians.loc[keyed["key"]].to_numpy()
    near = np.hypot(x - centre[:, 0], y - centre[:, 1]) <= radius_m
    totals = keyed.groupby("key", sort=False).size()
    out = []
    for key, group in keyed[near].sort_values(["_date", "id"]).groupby("key", sort=False):
        dates = np.unique(group["_date"].to_numpy())
        span = int((np.datetime64(dates.max(), "D") - np.datetime64(dates.min(), "D")).astype(int))
        if len(dates) < min_days or span < min_span_days:
            continue
        mx, my = medians.loc[key]
        mlon, mlat = projection.inverse(np.array([mx]), np.array([my]))
        out.append({
            "key": key,
            "anonymised": str(key).startswith(ANONYMISED_PREFIX),
            "lon": float(mlon[0]), "lat": float(mlat[0]),
            "days": len(dates), "span_days": span,
            "first_date": _day(dates.min()), "last_date": _day(dates.max()),
            "count": len(group), "total": int(totals[key]),
            "ids": [int(i) for i in group["id"]],
        })
    out.sort(key=lambda g: (-g["days"], -g["span_days"], g["key"]))
    return out
