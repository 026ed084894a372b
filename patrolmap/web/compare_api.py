"""Before and after: how violations changed per hexagon and per marked hotspot between two periods.

Staff compare the weeks before a measure (a new duty post, a sign, a tow-away campaign)
with the weeks after it. Periods may differ in length, so each count also comes per day.
The grid is anchored at the campus's centre, so a cell is the same place in both periods.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from flask import Blueprint, Response, request

from patrolmap.analysis.timewindow import TimeFilter, select_violations
from patrolmap.errors import BadRequest
from patrolmap.extensions import db
from patrolmap.geojson import feature_collection
from patrolmap.hotspots import count_in_hotspots, hotspot_rows
from patrolmap.web.analysis_api import (
    DEFAULT_CELL_M,
    MAX_CELL_M,
    MIN_CELL_M,
    _calendar,
    _hotspots,
    _number,
    _one_campus,
    _time_filter,
    _violations,
)

bp = Blueprint("compare", __name__, url_prefix="/api")
PERIODS = ("before", "after")


def _period(name: str, calendar: Any) -> TimeFilter:
    """One period's filter: its own dates, the shared days, hours and kinds."""
    source = {key: request.args.get(key) for key in ("days", "hours", "kinds", "term")}
    source["from"] = request.args.get(f"{name}_from")
    source["to"] = request.args.get(f"{name}_to")
    if not source["from"] or not source["to"]:
        raise BadRequest("%(name)s_from and %(name)s_to are required (dates such as 2026-03-01)", name=name)
    return _time_filter(source, calendar)


def _days(flt: TimeFilter) -> int:
    assert flt.date_from is not None and flt.date_to is not None
    return (flt.date_to - flt.date_from).days + 1


def _rate(count: int, days: int) -> float:
    return round(count / days, 4)


@bp.get("/violations/compare")
def compare_periods() -> Response:
    """Hexagons with before/after counts and change, plus each marked hotspot's counts (member `marked`)."""
    calendar = _calendar()
    filters = {name: _period(name, calendar) for name in PERIODS}
    cell_m = _number("cell_m", request.args.get("cell_m"), default=DEFAULT_CELL_M, minimum=MIN_CELL_M,
                     maximum=MAX_CELL_M)
    campus = _one_campus(request.args.get("campus"))
    results = {}
    for name, flt in filters.items():
        table = _violations(campus.id, flt, calendar, ["lon", "lat", "local_hour"])
        results[name] = _hotspots(campus, table, cell_m)
    days = {name: _days(flt) for name, flt in filters.items()}
    cells: dict[str, dict[str, Any]] = {}
    for name, result in results.items():
        frame = result.cells
        for q, r, count, cls, geom in zip(frame["q"], frame["r"], frame["count"], frame["class"], frame.geometry,
                                          strict=True):
            cell = cells.setdefault(f"{q},{r}", {"geometry": geom, "before": 0, "after": 0,
                                                 "class_before": None, "class_after": None})
            cell[name] = int(count)
            cell[f"class_{name}"] = str(cls)
    ids, geoms, props = [], [], []
    for cell_id, cell in cells.items():
        if cell["before"] == 0 and cell["after"] == 0:
            continue
        before_rate, after_rate = _rate(cell["before"], days["before"]), _rate(cell["after"], days["after"])
        ids.append(cell_id)
        geoms.append(cell["geometry"])
        props.append({
            "before": cell["before"], "after": cell["after"], "change": cell["after"] - cell["before"],
            "before_per_day": before_rate, "after_per_day": after_rate,
            "change_per_day_pct": round(100 * (after_rate - before_rate) / before_rate, 1) if before_rate else None,
            "class_before": cell["class_before"], "class_after": cell["class_after"],
        })
    order = np.argsort([p["change"] for p in props], kind="stable")  # the biggest falls first
    members = {
        "campus": campus.slug, "cell_m": cell_m,
        "periods": {name: {"from": flt.date_from.isoformat() if flt.date_from else None,
                           "to": flt.date_to.isoformat() if flt.date_to else None,
                           "days": days[name], "violations": results[name].matched}
                    for name, flt in filters.items()},
        "marked": _marked(campus.id, filters, calendar, days),
        "numberMatched": len(ids), "numberReturned": len(ids),
    }
    body = feature_collection([ids[i] for i in order], [geoms[i] for i in order], [props[i] for i in order],
                              **members)
    return Response(body, mimetype="application/geo+json")


def _marked(campus_id: int, filters: dict[str, TimeFilter], calendar: Any, days: dict[str, int]) -> list[dict]:
    """Each live marked hotspot of the campus with its count in both periods."""
    rows = hotspot_rows(db.session, campus_ids=[campus_id], include_deleted=False)
    counts = {}
    for name, flt in filters.items():
        def mask(table: Any, flt: TimeFilter = flt) -> Any:
            return select_violations(table, flt.date_from, flt.date_to, flt.days, flt.hours, flt.kinds, calendar,
                                     term=flt.term)
        counts[name] = count_in_hotspots(db.session, rows, mask)
    out = []
    for row in rows:
        before, after = counts["before"].get(row["id"], 0), counts["after"].get(row["id"], 0)
        out.append({"id": row["id"], "name": row["name"], "kind": row["kind"], "before": before, "after": after,
                    "change": after - before, "before_per_day": _rate(before, days["before"]),
                    "after_per_day": _rate(after, days["after"])})
    return out


