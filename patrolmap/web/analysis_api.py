"""Traffic analysis API: hotspots, repeat offenders, zombie cars, a plate's history, duty-post suggestions.

Thin: parameters are parsed here (every bad one is a 400 with its reason), violations are
read through patrolmap.store, and the work is done by patrolmap.analysis. Every answer
is limited to the caller's campuses (g.scope), and plates are masked for roles that do
not see personal data; anonymised plates are never shown as plates to anyone.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import numpy as np
import pandas as pd
import shapely
from flask import Blueprint, Response, current_app, g, jsonify, request

from patrolmap.access import mask_plate
from patrolmap.analysis.dutyposts import suggest_posts
from patrolmap.analysis.errors import InputError
from patrolmap.analysis.hotspots import (
    DEFAULT_CELL_M,
    MAX_CELL_M,
    MAX_CELLS,
    MIN_CELL_M,
    HotspotResult,
    compute_hotspots,
    nearest_buildings,
)
from patrolmap.analysis.offenders import repeat_offenders, zombie_candidates
from patrolmap.analysis.timewindow import TimeFilter
from patrolmap.analysis.workcalendar import WorkCalendar
from patrolmap.errors import BadRequest
from patrolmap.extensions import db
from patrolmap.geojson import feature_collection
from patrolmap.models import Campus
from patrolmap.store import (
    CampusFilter,
    campus_extent,
    layer_frame,
    plate_violation_ids,
    query_features,
    violation_subset,
)
from patrolmap.web.api import _campus_param, _json_body, _LocalTimes, _properties, one_campus
from patrolmap.web.params import parse_int

bp = Blueprint("analysis", __name__, url_prefix="/api")

T = TypeVar("T")
SUPPORT_PATH_KINDS = ("road", "service")
PREFERRED_BUILDING_KINDS = ("canteen", "teaching")
FILTER_FIELDS = ("from", "to", "days", "hours", "kinds", "term")
SUGGEST_FIELDS = {"campus", "k", "radius_m", "cell_m", "distance", *FILTER_FIELDS}
MAX_IDS = 1000  # as many as GET /api/layers/violations?ids= takes at once
MAX_POSTS = 20
MAX_BUSY_SITES = 200


# ---------------------------------------------------------------- parameters


def _checked(call: Callable[[], T]) -> T:
    """Run a parse or an analysis; its InputError becomes a 400 with the same (translatable) reason."""
    try:
        return call()
    except InputError as exc:
        raise BadRequest(exc.template, **exc.params) from None


def _calendar() -> WorkCalendar:
    return WorkCalendar.load(current_app.config.get("CALENDAR"))


def _time_filter(source: Mapping[str, Any], calendar: WorkCalendar) -> TimeFilter:
    for name in FILTER_FIELDS:
        value = source.get(name)
        if value is not None and not isinstance(value, str):
            raise BadRequest("%(name)s must be a string", name=name)
    return _checked(lambda: TimeFilter.parse(
        date_from=source.get("from"), date_to=source.get("to"), days=source.get("days"),
        hours=source.get("hours"), kinds=source.get("kinds"), term=source.get("term"), calendar=calendar))


def _number(name: str, value: Any, *, default: float, minimum: float, maximum: float) -> float:
    """A number from a query string or a JSON body, within bounds."""
    if value is None or value == "":
        return default
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            raise BadRequest("%(name)s must be a number", name=name) from None
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        number = float(value)
    else:
        raise BadRequest("%(name)s must be a number", name=name)
    if not math.isfinite(number) or not minimum <= number <= maximum:
        raise BadRequest("%(name)s must be between %(minimum)s and %(maximum)s, got %(value)s",
                         name=name, minimum=_plain(minimum), maximum=_plain(maximum), value=value)
    return number


def _whole(name: str, value: Any, *, default: int, minimum: int, maximum: int) -> int:
    if isinstance(value, str) or value is None:
        return parse_int(name, value, default=default, minimum=minimum, maximum=maximum)
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadRequest("%(name)s must be a whole number, got %(text)s", name=name, text=repr(value))
    return parse_int(name, str(value), default=default, minimum=minimum, maximum=maximum)


def _plain(value: float) -> float | int:
    return int(value) if float(value).is_integer() else value


def _one_campus(key: Any) -> Campus:
    """The campus asked for, or the caller's only campus: hotspots are drawn on one campus's grid."""
    return one_campus(key)


def _violations(campus_id: CampusFilter, flt: TimeFilter, calendar: WorkCalendar, columns: list[str],
                *, with_plate: bool = False) -> pd.DataFrame:
    """The live violations the filter selects: narrowed exactly in SQL, the rest selected here."""
    rest = flt.after_prefilter()
    table = violation_subset(
        db.session, campus_id=campus_id, columns=list(dict.fromkeys([*columns, *rest.columns()])),
        date_from=flt.date_from, date_to=flt.date_to, kinds=flt.kinds, local_hours=flt.prefilter_hours(),
        weekdays=flt.prefilter_weekdays(), with_plate=with_plate)
    if rest == TimeFilter():
        return table
    return table[rest.select(table, calendar)].reset_index(drop=True)


def _echo(flt: TimeFilter, source: Mapping[str, Any]) -> dict[str, Any]:
    """The filter as understood, so a client can label what it shows."""
    return {
        "from": flt.date_from.isoformat() if flt.date_from else None,
        "to": flt.date_to.isoformat() if flt.date_to else None,
        "days": source.get("days") or None,
        "hours": ",".join(str(w) for w in flt.hours) or None,
        "kinds": list(flt.kinds) if flt.kinds else None,
        "term": flt.term,
    }


def _warnings(flt: TimeFilter, calendar: WorkCalendar, table: pd.DataFrame) -> list[str]:
    """Said when workdays were decided without the calendar knowing the year."""
    from flask_babel import gettext

    if flt.days is None or not flt.days.needs_calendar:
        return []
    if flt.date_from and flt.date_to:
        years = calendar.unknown_years(flt.date_from, flt.date_to)
    elif len(table):
        dates = table["local_date"].to_numpy()
        first, last = (pd.Timestamp(dates.min()).date(), pd.Timestamp(dates.max()).date())
        years = calendar.unknown_years(first, last)
    else:
        years = []
    return [gettext("the workday calendar has no holidays for %(years)s: Monday to Friday were taken as workdays",
                    years=", ".join(str(y) for y in years))] if years else []


def _plate_shown(key: str, anonymised: bool) -> str | None:
    if anonymised:
        return None
    return key if g.scope.personal_data else mask_plate(key)


# ---------------------------------------------------------------- hotspots


def _campus_layers(campus: Campus) -> tuple[list[Any], Any]:
    """Where parking can happen (roads, service roads, parking lots), and the buildings."""
    paths = layer_frame(db.session, "paths", campus_id=campus.id)
    lots = layer_frame(db.session, "parking-lots", campus_id=campus.id)
    roads = paths.geometry[paths["kind"].isin(SUPPORT_PATH_KINDS)] if len(paths) else []
    support = [*list(roads), *list(lots.geometry)]
    buildings = layer_frame(db.session, "buildings", campus_id=campus.id)
    return support, buildings


def _hotspots(campus: Campus, table: pd.DataFrame, cell_m: float, *, include_empty: bool = False) -> HotspotResult:
    support, buildings = _campus_layers(campus)
    area = campus_extent(db.session, campus)
    origin = None
    if area is not None:
        # The grid is anchored at the campus's centre, whatever the filter, so cells stay put.
        x0, y0, x1, y1 = area.bounds
        origin = ((x0 + x1) / 2, (y0 + y1) / 2)
    max_cells = current_app.config.get("HOTSPOT_MAX_CELLS", MAX_CELLS)
    return _checked(lambda: compute_hotspots(table, support, cell_m, origin=origin, area=area, buildings=buildings,
                                             include_empty=include_empty, max_cells=max_cells))


@bp.get("/violations/hotspots")
def hotspots() -> Response:
    """Hexagon cells with counts and Gi* classes for the violations a time filter selects on one campus."""
    calendar = _calendar()
    flt = _time_filter(request.args, calendar)
    cell_m = _number("cell_m", request.args.get("cell_m"), default=DEFAULT_CELL_M, minimum=MIN_CELL_M,
                     maximum=MAX_CELL_M)
    campus = _one_campus(request.args.get("campus"))
    table = _violations(campus.id, flt, calendar, ["lon", "lat", "local_hour"])
    result = _hotspots(campus, table, cell_m)
    cells = result.cells
    props = [
        {"count": int(c), "gi_z": round(float(z), 4), "p_value": float(f"{p:.4g}"), "class": k}
        for c, z, p, k in zip(cells["count"], cells["gi_z"], cells["p_value"], cells["class"], strict=True)
    ]
    ids = [f"{q},{r}" for q, r in zip(cells["q"], cells["r"], strict=True)]
    top = [{**{k: v for k, v in t.items() if k not in ("q", "r")}, "id": f"{t['q']},{t['r']}",
            "gi_z": round(t["gi_z"], 4)} for t in result.top]
    members: dict[str, Any] = {
        "numberMatched": result.matched, "numberReturned": len(ids), "cellsAnalysed": result.analysed,
        "cell_m": _plain(cell_m), "campus": campus.slug, "filter": _echo(flt, request.args), "top": top,
    }
    warnings = _warnings(flt, calendar, table)
    if warnings:
        members["warnings"] = warnings
    body = feature_collection(ids, list(cells.geometry), props, **members)
    return Response(body, mimetype="application/geo+json")


# ---------------------------------------------------------------- plates


@bp.get("/violations/repeat")
def repeat() -> Response:
    """Plates with at least min_count violations in the period (and window), most first."""
    calendar = _calendar()
    flt = _time_filter(request.args, calendar)
    min_count = parse_int("min_count", request.args.get("min_count"), default=3, minimum=2, maximum=100_000)
    limit = parse_int("limit", request.args.get("limit"), default=100, minimum=1, maximum=1000)
    campus_id = _campus_param()
    table = _violations(campus_id, flt, calendar, ["id", "plate", "campus_id", "local_date", "kind"],
                        with_plate=True)
    groups = repeat_offenders(table, min_count)
    campus_of = dict(zip(table["id"], table["campus_id"], strict=True)) if len(table) else {}
    plates = []
    for group in groups[:limit]:
        ids = group["ids"]
        plates.append({
            "plate": _plate_shown(group["key"], group["anonymised"]), "anonymised": group["anonymised"],
            "count": group["count"], "days": group["days"], "first_date": group["first_date"],
            "last_date": group["last_date"], "kinds": group["kinds"],
            "campuses": sorted({int(campus_of[i]) for i in ids}),
            "ids": ids[-MAX_IDS:], "ids_complete": len(ids) <= MAX_IDS,
        })
    return jsonify({"numberMatched": len(groups), "numberReturned": len(plates), "min_count": min_count,
                    "filter": _echo(flt, request.args), "plates": plates})


@bp.get("/violations/zombies")
def zombies() -> Response:
    """Zombie-car candidates: one plate at about the same place on many days over a long span."""
    calendar = _calendar()
    flt = _time_filter(request.args, calendar)
    min_days = parse_int("min_days", request.args.get("min_days"), default=5, minimum=2, maximum=3660)
    min_span = parse_int("min_span_days", request.args.get("min_span_days"), default=14, minimum=0, maximum=3660)
    radius_m = _number("radius_m", request.args.get("radius_m"), default=30.0, minimum=1.0, maximum=1000.0)
    campus_id = _campus_param()
    table = _violations(campus_id, flt, calendar, ["id", "plate", "lon", "lat", "campus_id", "local_date"],
                        with_plate=True)
    found = zombie_candidates(table, min_days=min_days, radius_m=radius_m, min_span_days=min_span)
    campus_of = dict(zip(table["id"], table["campus_id"], strict=True)) if len(table) else {}
    props = []
    for item in found:
        ids = item["ids"]
        campuses = [int(campus_of[i]) for i in ids]
        props.append({
            "plate": _plate_shown(item["key"], item["anonymised"]), "anonymised": item["anonymised"],
            "days": item["days"], "span_days": item["span_days"], "first_date": item["first_date"],
            "last_date": item["last_date"], "count": item["count"], "total": item["total"],
            "campus": max(set(campuses), key=campuses.count), "ids": ids[-MAX_IDS:],
            "ids_complete": len(ids) <= MAX_IDS,
        })
    points = list(shapely.points([z["lon"] for z in found], [z["lat"] for z in found])) if found else []
    body = feature_collection(list(range(1, len(found) + 1)), points, props, numberMatched=len(found),
                              numberReturned=len(found), min_days=min_days, min_span_days=min_span,
                              radius_m=_plain(radius_m), filter=_echo(flt, request.args))
    return Response(body, mimetype="application/geo+json")


@bp.get("/violations/plate")
def plate_history() -> Response:
    """One car's violations, oldest first, as map points (for roles that see plates)."""
    plate = (request.args.get("plate") or "").strip()
    if not plate:
        raise BadRequest("plate is required")
    calendar = _calendar()
    flt = _time_filter({k: request.args.get(k) for k in ("from", "to")}, calendar)
    ids = plate_violation_ids(db.session, plate, campus_id=_campus_param(), date_from=flt.date_from,
                              date_to=flt.date_to)
    rows = query_features(db.session, "violations", ids=ids) if ids else []
    order = {fid: n for n, fid in enumerate(ids)}
    rows.sort(key=lambda r: order[r["id"]])
    local = _LocalTimes()
    body = feature_collection([r["id"] for r in rows], [r["geom"] for r in rows],
                              [_properties(r, local) for r in rows], numberMatched=len(rows),
                              numberReturned=len(rows))
    return Response(body, mimetype="application/geo+json")


# ---------------------------------------------------------------- duty posts


@bp.post("/duty-posts/suggest")
def suggest_duty_posts() -> Response:
    """The K places where a post covers the most violations of a window within a walking radius."""
    body = _json_body(SUGGEST_FIELDS)
    calendar = _calendar()
    flt = _time_filter(body, calendar)
    k = _whole("k", body.get("k"), default=3, minimum=1, maximum=MAX_POSTS)
    radius_m = _number("radius_m", body.get("radius_m"), default=100.0, minimum=10.0, maximum=2000.0)
    cell_m = _number("cell_m", body.get("cell_m"), default=DEFAULT_CELL_M, minimum=MIN_CELL_M, maximum=MAX_CELL_M)
    distance = body.get("distance", "network")
    if distance not in ("network", "straight"):
        raise BadRequest("distance must be network or straight, got %(text)s", text=repr(distance))
    campus = _one_campus(body.get("campus"))
    table = _violations(campus.id, flt, calendar, ["lon", "lat"])
    result = _hotspots(campus, table, cell_m)
    hot = result.cells[result.cells["class"].str.startswith("hot_")]
    if hot.empty:
        # Nothing significant (few violations): the busiest cells are still worth a look.
        hot = result.cells[result.cells["count"] > 0].nlargest(MAX_BUSY_SITES, "count")
    hlon, hlat = result.grid.centres_lonlat(hot["q"].to_numpy(), hot["r"].to_numpy())
    paths = layer_frame(db.session, "paths", campus_id=campus.id)
    buildings = layer_frame(db.session, "buildings", campus_id=campus.id)
    preferred = buildings.geometry[buildings["kind"].isin(PREFERRED_BUILDING_KINDS)] if len(buildings) else []
    suggestion = suggest_posts(
        table["lon"].to_numpy(float) if len(table) else np.zeros(0),
        table["lat"].to_numpy(float) if len(table) else np.zeros(0),
        k, radius_m, projection=result.grid.projection, paths=list(paths.geometry), preferred_buildings=list(preferred),
        hotspot_sites=(hlon, hlat), use_network=distance == "network")
    posts = suggestion["posts"]
    points = list(shapely.points([p["lon"] for p in posts], [p["lat"] for p in posts])) if posts else []
    hours = ",".join(str(w) for w in flt.hours) or None
    near = _nearest(result, buildings, posts)
    props = [{"rank": n, "site": p["site"], "covered": p["covered"], "added": p["added"],
              "covered_weight": p["covered_weight"], "hours": hours, **near[n - 1]}
             for n, p in enumerate(posts, start=1)]
    out = feature_collection(
        list(range(1, len(posts) + 1)), points, props, numberMatched=suggestion["total"],
        numberReturned=len(posts), covered=suggestion["covered"], covered_weight=suggestion["covered_weight"],
        total_weight=suggestion["total_weight"], method=suggestion["method"], distance=suggestion["distance"],
        candidates=suggestion["candidates"], k=k, radius_m=_plain(radius_m), campus=campus.slug,
        filter=_echo(flt, body))
    return Response(out, mimetype="application/geo+json")


def _nearest(result: HotspotResult, buildings: Any, posts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if not posts:
        return []
    x, y = result.grid.projection.forward(np.array([p["lon"] for p in posts]), np.array([p["lat"] for p in posts]))
    return nearest_buildings(result.grid, buildings, x, y)
