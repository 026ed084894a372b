"""A campus's report for a period, as plain data, computed by the analysis code the maps use.

No Flask request, no rendering: the web layer, the workbook, the charts and the command line all
take what `build_report` returns. Every figure comes from the code that already answers the maps
and the other pages, so a report never disagrees with them:

- violations: patrolmap.store.violation_subset (the analysis API's reader: live ones only, void and
  deleted left out, local dates), grid zones counted as the zone scorecards count them (inside the
  outline, shapely), marked hotspots by patrolmap.hotspots.count_in_hotspots, the hotspot map by
  patrolmap.analysis.hotspots.compute_hotspots (Gi*, on the grid GET /api/violations/hotspots uses);
- hazards: patrolmap.hazards.is_overdue and deadline_for (the loop's own rules), with each hazard's
  status at the end of the period read from its HazardEvents;
- patrols: patrolmap.patrolshifts.build_schedule (what GET /api/routes/<id>/shifts/<date> shows),
  counting only rounds that are over, as the missed-stops report does;
- duty posts: their hours (patrolmap.analysis.timewindow) and the violations near them;
- chargers: patrolmap.chargers.placement_data and patrolmap.placement.coverage (GET /api/chargers/
  coverage), with the chargers of the period's start (by created_at) against those of its end.

Plates are never read here, so none can reach a report.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import statistics
import threading
import time
from collections import OrderedDict, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from patrolmap.analysis.errors import InputError
from patrolmap.analysis.hexgrid import LocalProjection
from patrolmap.analysis.hotspots import DEFAULT_CELL_M, HOT, MAX_CELLS, compute_hotspots
from patrolmap.analysis.timewindow import HourWindow, hours_mask, parse_hours
from patrolmap.analysis.workcalendar import WorkCalendar
from patrolmap.errors import PatrolmapError
from patrolmap.geo.schema import HAZARD_CATEGORIES, VIOLATION_KINDS
from patrolmap.hazards import deadline_for, is_overdue
from patrolmap.hotspots import hotspot_rows
from patrolmap.models import (
    Building,
    Campus,
    Charger,
    DutyPost,
    GridZone,
    Hazard,
    HazardEvent,
    MarkedHotspot,
    ParkingLot,
    PathSegment,
    PatrolCheckin,
    PatrolRoute,
    Violation,
    utcnow,
)
from patrolmap.patrolshifts import (
    CheckinRecord,
    ShiftError,
    counted_stops,
    make_shift,
    tours_from_plan,
)
from patrolmap.reports.period import Period, previous_period
from patrolmap.store import campus_extent, layer_frame, violation_subset

NUMBER_COLUMNS = ("lon", "lat", "local_date", "local_hour", "local_minute", "local_weekday")
# Where parking can happen: the cells the hotspot analysis covers (as GET /api/violations/hotspots does).
SUPPORT_PATH_KINDS = ("road", "service")
DUTY_POST_RADIUS_M = 100.0  # a post watches what happens within this distance (the duty-post suggestion's default)
TOP_CELLS = 10
CACHE_SIZE = 8
CACHE_SECONDS = 60.0  # what depends on the clock (rounds over, hazards overdue) may be this old


@dataclass
class ReportShapes:
    """What the small hotspot map draws; kept beside the report, never sent as JSON."""

    cells: gpd.GeoDataFrame | None = None  # the period's cells with violations or a Gi* class
    buildings: list[BaseGeometry] = field(default_factory=list)
    zones: list[BaseGeometry] = field(default_factory=list)
    hotspots: list[BaseGeometry] = field(default_factory=list)
    extent: tuple[float, float, float, float] | None = None


@dataclass
class Report:
    """The report's figures (`data`, plain JSON values) and the shapes its map is drawn from."""

    data: dict[str, Any]
    shapes: ReportShapes
    token: str = ""  # names the report while it is kept (patrolmap.reports.compute.cached_report)


# ---------------------------------------------------------------- small helpers


def _change(now: int, before: int) -> dict[str, Any]:
    return {"count": int(now), "previous": int(before), "change": int(now) - int(before),
            "change_pct": round(100.0 * (now - before) / before, 1) if before else None}


def _share(part: float, whole: float) -> float | None:
    return round(part / whole, 4) if whole else None


def _iso(value: dt.datetime | None) -> str | None:
    return value.astimezone(dt.UTC).isoformat(timespec="seconds") if value is not None else None


def _problem(exc: Exception) -> dict[str, Any]:
    """Why a section could not be computed: the message, and its catalogue template for the page to translate."""
    template = getattr(exc, "template", None)
    params = {k: v if isinstance(v, (int, float)) else str(v) for k, v in getattr(exc, "params", {}).items()}
    return {"message": str(exc), "template": template, "params": params}


def _day_index(table: pd.DataFrame, period: Period) -> np.ndarray:
    dates = table["local_date"].to_numpy().astype("datetime64[D]")
    return (dates - np.datetime64(period.start, "D")).astype(np.int64)


# ---------------------------------------------------------------- violations


def violation_table(session: Session, campus_id: int, period: Period) -> pd.DataFrame:
    """The campus's live violations of the period's local days, as number columns (the analysis API's reader).

    Number columns only: the store then hands them over as packed arrays (on PostgreSQL one row of bytes
    per column), three times faster for a year of violations than a read that carries the kind as text.
    """
    return violation_subset(session, campus_id=campus_id, columns=NUMBER_COLUMNS, date_from=period.start,
                            date_to=period.end)


def kind_counts(session: Session, campus_id: int, period: Period) -> dict[str, int]:
    """Live violations of the period per kind, counted by the database under violation_subset's conditions.

    Not void, not deleted, of the campus, local date within the period: the rows violation_table reads.
    """
    v = Violation.__table__
    stmt = (select(v.c.kind, func.count()).where(
        v.c.campus_id == campus_id, v.c.deleted_at.is_(None), v.c.status != "void", v.c.local_date >= period.start,
        v.c.local_date <= period.end).group_by(v.c.kind))
    counts = dict.fromkeys(VIOLATION_KINDS, 0)
    for kind, n in session.execute(stmt):
        counts[str(kind)] = counts.get(str(kind), 0) + int(n)
    return counts


def _zone_masks(zones: list[tuple[int, str, BaseGeometry]], table: pd.DataFrame) -> list[np.ndarray]:
    """Which violations lie in each zone's outline (its boundary included), as the zone scorecards count them."""
    lon = table["lon"].to_numpy(float)
    lat = table["lat"].to_numpy(float)
    out = []
    for _, _, geom in zones:
        shapely.prepare(geom)
        out.append(shapely.intersects_xy(geom, lon, lat) if len(lon) else np.zeros(0, dtype=bool))
    return out


def _by_zone(zones: list[tuple[int, str, BaseGeometry]], table: pd.DataFrame,
             compared: pd.DataFrame) -> list[dict[str, Any]]:
    now_masks, before_masks = _zone_masks(zones, table), _zone_masks(zones, compared)
    rows = [{"zone": zid, "name": name, **_change(int(m.sum()), int(b.sum()))}
            for (zid, name, _), m, b in zip(zones, now_masks, before_masks, strict=True)]
    inside_now = np.logical_or.reduce(now_masks) if now_masks and len(table) else np.zeros(len(table), bool)
    inside_before = (np.logical_or.reduce(before_masks) if before_masks and len(compared)
                     else np.zeros(len(compared), bool))
    rows.sort(key=lambda r: (-r["count"], r["name"] or "", r["zone"]))
    rows.append({"zone": None, "name": None, **_change(int((~inside_now).sum()), int((~inside_before).sum()))})
    return rows


def _inside(geom: BaseGeometry, table: pd.DataFrame) -> int:
    """How many of the table's violations the shape holds, its boundary included (as count_in_hotspots counts)."""
    if not len(table):
        return 0
    shapely.prepare(geom)
    return int(shapely.intersects_xy(geom, table["lon"].to_numpy(float), table["lat"].to_numpy(float)).sum())


def _by_hotspot(rows: list[dict[str, Any]], table: pd.DataFrame, compared: pd.DataFrame) -> list[dict[str, Any]]:
    """Each live marked hotspot's violations in the period and in the one compared.

    The count of patrolmap.hotspots.count_in_hotspots (the hotspot's own count on the map), taken from
    the period's rows already read instead of reading every violation under the hotspots again.
    """
    out = [{"hotspot": r["id"], "name": r["name"], "kind": r["kind"], "hours": r["hours"],
            **_change(_inside(r["geom"], table), _inside(r["geom"], compared))} for r in rows]
    out.sort(key=lambda r: (-r["count"], r["name"] or "", r["hotspot"]))
    return out


def _daily(table: pd.DataFrame, period: Period) -> list[int]:
    if not len(table):
        return [0] * period.days
    index = _day_index(table, period)
    index = index[(index >= 0) & (index < period.days)]
    return np.bincount(index, minlength=period.days).astype(int).tolist()


def hotspot_support(session: Session, campus: Campus) -> tuple[list[Any], gpd.GeoDataFrame, Any, Any]:
    """Where parking happens (roads, service roads, parking lots), the buildings, the study area, the grid anchor.

    The same inputs GET /api/violations/hotspots gives the analysis, so the report's cells are the map's cells.
    """
    paths = layer_frame(session, "paths", campus_id=campus.id)
    lots = layer_frame(session, "parking-lots", campus_id=campus.id)
    roads = paths.geometry[paths["kind"].isin(SUPPORT_PATH_KINDS)] if len(paths) else []
    buildings = layer_frame(session, "buildings", campus_id=campus.id)
    area = campus_extent(session, campus)
    origin = None
    if area is not None:
        x0, y0, x1, y1 = area.bounds
        origin = ((x0 + x1) / 2, (y0 + y1) / 2)
    return [*list(roads), *list(lots.geometry)], buildings, area, origin


def _hot_cells(session: Session, campus: Campus, table: pd.DataFrame, shapes: ReportShapes, *,
               cell_m: float, max_cells: int) -> dict[str, Any]:
    support, buildings, area, origin = hotspot_support(session, campus)
    shapes.buildings = list(buildings.geometry)
    if area is not None:
        shapes.extent = tuple(float(v) for v in area.bounds)  # type: ignore[assignment]
    if len(buildings):  # the map shows what is built, not the whole boundary
        shapes.extent = tuple(float(v) for v in buildings.total_bounds)  # type: ignore[assignment]
    try:
        result = compute_hotspots(table, support, cell_m, origin=origin, area=area, buildings=buildings,
                                  include_empty=False, max_cells=max_cells, top=TOP_CELLS)
    except InputError as exc:
        return {"cell_m": cell_m, "error": _problem(exc)}
    cells = result.cells
    shapes.cells = cells
    classes = cells["class"].to_numpy(dtype=str) if len(cells) else np.zeros(0, dtype=str)
    top = [{"id": f"{t['q']},{t['r']}", **{k: v for k, v in t.items() if k not in ("q", "r")}} for t in result.top]
    for t in top:
        t["gi_z"] = round(float(t["gi_z"]), 4)
        t["lon"], t["lat"] = round(float(t["lon"]), 6), round(float(t["lat"]), 6)
    return {"cell_m": cell_m, "matched": int(result.matched), "analysed": int(result.analysed),
            "hot": int(np.isin(classes, HOT).sum()), "cold": int(np.char.startswith(classes, "cold_").sum()),
            "with_violations": int((cells["count"] > 0).sum()) if len(cells) else 0, "top": top}


def violation_section(session: Session, campus: Campus, period: Period, compared: Period, shapes: ReportShapes,
                      *, cell_m: float, max_cells: int) -> tuple[dict[str, Any], pd.DataFrame]:
    """Counts by kind, zone, marked hotspot, hour and weekday, the daily trend, and the period's hot cells."""
    table = violation_table(session, campus.id, period)
    before = violation_table(session, campus.id, compared)
    kinds_now, kinds_before = kind_counts(session, campus.id, period), kind_counts(session, campus.id, compared)
    zones = [(zid, name, geom) for zid, name, geom in session.execute(
        select(GridZone.id, GridZone.name, GridZone.geom).where(GridZone.campus_id == campus.id)
        .order_by(GridZone.id))]
    shapes.zones = [geom for _, _, geom in zones]
    marked = hotspot_rows(session, campus_ids=[campus.id])
    shapes.hotspots = [r["geom"] for r in marked]
    hours = table["local_hour"].to_numpy(np.int64) if len(table) else np.zeros(0, np.int64)
    weekdays = table["local_weekday"].to_numpy(np.int64) if len(table) else np.zeros(0, np.int64)
    heat = np.bincount(weekdays * 24 + hours, minlength=7 * 24).reshape(7, 24)
    section = {
        **{k: v for k, v in _change(len(table), len(before)).items() if k != "count"}, "total": len(table),
        "by_kind": [{"kind": k, **_change(kinds_now.get(k, 0), kinds_before.get(k, 0))}
                    for k in dict.fromkeys([*kinds_now, *kinds_before])],
        "by_zone": _by_zone(zones, table, before),
        "by_hotspot": _by_hotspot(marked, table, before),
        "by_hour": np.bincount(hours, minlength=24).astype(int).tolist(),
        "by_weekday": np.bincount(weekdays, minlength=7).astype(int).tolist(),
        "hour_weekday": heat.astype(int).tolist(),
        "daily": _daily(table, period),
        "previous_daily": _daily(before, compared),
        "hot_cells": _hot_cells(session, campus, table, shapes, cell_m=cell_m, max_cells=max_cells),
    }
    return section, table


# ---------------------------------------------------------------- hazards


@dataclass
class _HazardAt:
    id: int
    category: str
    zone: int | None
    reported_at: dt.datetime
    closed_at: dt.datetime | None
    status: str  # at the instant judged
    deadline: dt.datetime | None  # at the instant judged


def hazards_at(session: Session, campus_id: int, instant: dt.datetime) -> list[_HazardAt]:
    """Every live hazard reported before `instant`, with its status and deadline as they were then.

    The status is the last step of its loop (HazardEvent) at or before the instant; the deadline comes
    from the last notice issued by then, as the loop sets it (deadline_for its urgency). A hazard with no
    recorded steps (imported) is taken as stored.
    """
    rows = session.execute(select(Hazard.id, Hazard.category, Hazard.zone_id, Hazard.urgency, Hazard.status,
                                  Hazard.reported_at, Hazard.closed_at, Hazard.deadline).where(
        Hazard.campus_id == campus_id, Hazard.deleted_at.is_(None), Hazard.reported_at < instant)
        .order_by(Hazard.id)).all()
    if not rows:
        return []
    last: dict[int, str] = {}
    issued: dict[int, dt.datetime] = {}
    seen: set[int] = set()
    events = session.execute(select(HazardEvent.hazard_id, HazardEvent.at, HazardEvent.to_status).where(
        HazardEvent.campus_id == campus_id).order_by(HazardEvent.at, HazardEvent.id))
    for hazard_id, at, to_status in events:
        seen.add(hazard_id)
        if at > instant:
            continue
        last[hazard_id] = to_status
        if to_status == "notice_issued":
            issued[hazard_id] = at
    out = []
    for hid, category, zone, urgency, status, reported_at, closed_at, deadline in rows:
        if hid in seen:
            status = last.get(hid, "reported")
            deadline = deadline_for(urgency, issued[hid]) if hid in issued else None
            closed_at = closed_at if closed_at is not None and closed_at <= instant else None
        out.append(_HazardAt(hid, category, zone, reported_at, closed_at, status, deadline))
    return out


def _hazard_row(items: list[_HazardAt], start: dt.datetime, end: dt.datetime, instant: dt.datetime) -> dict[str, Any]:
    opened = [h for h in items if start <= h.reported_at < end]
    closed = [h for h in items if h.closed_at is not None and start <= h.closed_at < end]
    hours = [(h.closed_at - h.reported_at).total_seconds() / 3600 for h in closed]  # type: ignore[operator]
    return {"opened": len(opened), "closed": len(closed),
            "overdue": sum(is_overdue(h.status, h.deadline, instant) for h in items),
            "open_at_end": sum(h.status != "closed" for h in items),
            "median_hours_to_close": round(statistics.median(hours), 1) if hours else None}


def hazard_section(session: Session, campus: Campus, period: Period, as_of: dt.datetime) -> dict[str, Any]:
    """Opened, closed and overdue hazards, by category and zone, with the median time from report to close.

    Overdue and still open are judged at the period's end (now, while the period runs); the median is
    over the hazards closed within the period.
    """
    start, end = period.start_utc(), period.end_utc()
    items = hazards_at(session, campus.id, as_of)
    names = dict(session.execute(select(GridZone.id, GridZone.name).where(GridZone.campus_id == campus.id)).all())
    by_category = defaultdict(list)
    by_zone = defaultdict(list)
    for h in items:
        by_category[h.category].append(h)
        by_zone[h.zone].append(h)
    categories = list(dict.fromkeys([*HAZARD_CATEGORIES, *sorted(by_category)]))
    zones = sorted(by_zone, key=lambda z: (z is None, names.get(z, "") if z is not None else "", z or 0))
    return {
        "as_of": _iso(as_of), **_hazard_row(items, start, end, as_of),
        "by_category": [{"category": c, **_hazard_row(by_category.get(c, []), start, end, as_of)}
                        for c in categories],
        "by_zone": [{"zone": z, "name": names.get(z) if z is not None else None,
                     **_hazard_row(by_zone[z], start, end, as_of)} for z in zones],
    }


# ---------------------------------------------------------------- patrols


def _tally() -> dict[str, Any]:
    return {"shifts": 0, "planned": 0, "on_time": 0, "late": 0, "missed": 0}


def _rates(item: dict[str, Any]) -> dict[str, Any]:
    item["completion"] = _share(item["on_time"], item["planned"])  # checkpoints visited on time / planned
    item["visited"] = _share(item["on_time"] + item["late"], item["planned"])
    return item


def patrol_section(session: Session, campus: Campus, period: Period, now: dt.datetime) -> dict[str, Any]:
    """Planned stops against stops checked in on time, per route and officer, over the rounds that are over.

    Shifts are those starting on the period's local days. A round counts once it has ended, and only if
    it began after the route was saved and before it was deleted (as the missed-stops report counts).
    The officers of a team's shift are those who checked in on it; each is credited with the shift.
    """
    routes = list(session.scalars(select(PatrolRoute).where(PatrolRoute.campus_id == campus.id)
                                  .order_by(PatrolRoute.name, PatrolRoute.id)))
    start_utc, end_utc = period.start_utc(), period.end_utc()
    last_day = min(period.end, now.astimezone(period.zone).date())
    per_route: list[dict[str, Any]] = []
    per_officer: dict[str | None, dict[str, Any]] = {}
    for route in routes:
        if route.created_at >= end_utc or (route.deleted_at is not None and route.deleted_at <= start_utc):
            continue
        try:
            shift = make_shift(route.shift_start, route.shift_end, route.shift_days, route.visits_per_shift,
                               route.late_after_min, campus.timezone)
        except ShiftError:
            shift = None
        if shift is None:
            continue
        tours = tours_from_plan(route.plan)
        by_date: dict[dt.date, list[CheckinRecord]] = defaultdict(list)
        for c in session.scalars(select(PatrolCheckin).where(
                PatrolCheckin.route_id == route.id, PatrolCheckin.shift_date >= period.start,
                PatrolCheckin.shift_date <= period.end)):
            by_date[c.shift_date].append(CheckinRecord(c.checkpoint_id, c.team, c.visit, c.at, c.officer, c.method))
        item = {"route": route.id, "name": route.name, "deleted": route.deleted_at is not None, **_tally()}
        for day, tour, stops in counted_stops(shift, tours, route.speed_m_per_min, period.start, last_day, by_date,
                                              now, route.created_at, route.deleted_at):
            if not stops:
                continue
            tally = {"shifts": 1, "planned": len(stops),
                     **{k: sum(s.status == k for s in stops) for k in ("on_time", "late", "missed")}}
            for key, value in tally.items():
                item[key] += value
            officers = sorted({r.officer for r in by_date[day] if r.team == tour.team}) or [None]
            for officer in officers:
                mine = per_officer.setdefault(officer, {"officer": officer, **_tally()})
                for key, value in tally.items():
                    mine[key] += value
        if item["planned"] or not item["deleted"]:
            per_route.append(_rates(item))
    totals = _tally()
    for item in per_route:
        for key in totals:
            totals[key] += item[key]
    officers = sorted((_rates(o) for o in per_officer.values()),
                      key=lambda o: (o["officer"] is None, -(o["completion"] or 0), o["officer"] or ""))
    return {"routes": per_route, "officers": officers, "totals": _rates(totals)}


# ---------------------------------------------------------------- duty posts


def _window_minutes(windows: Iterable[HourWindow]) -> int:
    minutes = np.arange(24 * 60)
    return int(hours_mask(minutes, list(windows)).sum()) if windows else 0


def duty_post_section(session: Session, campus: Campus, period: Period, table: pd.DataFrame,
                      now: dt.datetime) -> dict[str, Any]:
    """Each post's hours on the days it stood in the period, and the violations within reach in and out of them.

    patrolmap keeps no attendance record of duty posts: `staffed_hours` is the hours the posts were set to
    be staffed (their `hours`, on the period's days that have begun since the post was placed). A post
    without hours is not staffed.
    """
    posts = session.execute(select(DutyPost.id, DutyPost.name, DutyPost.hours, DutyPost.geom, DutyPost.created_at)
                            .where(DutyPost.campus_id == campus.id, DutyPost.created_at < period.end_utc())
                            .order_by(DutyPost.name, DutyPost.id)).all()
    elapsed = period.elapsed_days(now)
    minute = (table["local_hour"].to_numpy(np.int32) * 60 + table["local_minute"].to_numpy(np.int32)
              if len(table) else np.zeros(0, np.int32))
    rows = []
    # Metres on a projection centred on the campus's first post: exact enough within a campus.
    projection = LocalProjection(posts[0].geom.x, posts[0].geom.y) if posts else None
    tx, ty = (projection.forward(table["lon"].to_numpy(float), table["lat"].to_numpy(float))
              if projection is not None and len(table) else (np.zeros(0), np.zeros(0)))
    for post_id, name, hours, geom, created_at in posts:
        try:
            windows = parse_hours(hours)
        except InputError:
            windows = ()
        placed = (max(period.start, created_at.astimezone(period.zone).date()) - period.start).days
        days = max(0, elapsed - placed)  # the period's days begun so far, since the post was placed
        per_day = _window_minutes(windows) / 60
        px, py = projection.forward(np.array([geom.x]), np.array([geom.y]))  # type: ignore[union-attr]
        near = (tx - px[0]) ** 2 + (ty - py[0]) ** 2 <= DUTY_POST_RADIUS_M ** 2
        during = near & hours_mask(minute, windows) if windows else np.zeros(len(near), bool)
        rows.append({"post": post_id, "name": name, "hours": hours, "staffed": bool(windows),
                     "hours_per_day": round(per_day, 2), "days": days, "staffed_hours": round(per_day * days, 1),
                     "violations_nearby": int(near.sum()), "violations_in_hours": int(during.sum())})
    return {"radius_m": DUTY_POST_RADIUS_M, "posts": rows,
            "totals": {"posts": len(rows), "staffed": sum(r["staffed"] for r in rows),
                       "staffed_hours": round(sum(r["staffed_hours"] for r in rows), 1),
                       "violations_in_hours": sum(r["violations_in_hours"] for r in rows)}}


# ---------------------------------------------------------------- chargers


def charger_section(session: Session, campus: Campus, period: Period, as_of: dt.datetime,
                    walk_m: float | None = None) -> dict[str, Any]:
    """Walking coverage of each kind with the chargers standing at the period's start and at its end.

    Chargers count from their created_at (when they entered patrolmap); only existing ones count, as
    on /chargers. The end is now while the period runs.
    """
    from patrolmap.chargers import DEFAULT_WALK_M, KINDS, demand_weights, placement_data
    from patrolmap.placement import coverage

    walk = float(walk_m or DEFAULT_WALK_M)
    created = dict(session.execute(select(Charger.id, Charger.created_at).where(Charger.campus_id == campus.id))
                   .all())
    start = period.start_utc()
    kinds = []
    for kind in KINDS:
        try:
            data = placement_data(session, campus, kind, walk)
        except (PatrolmapError, ValueError) as exc:
            return {"walk_m": walk, "kinds": [], "error": _problem(exc)}
        weights = demand_weights(data, {})
        index = {sid: i for i, sid in enumerate(data.dist.site_ids)}
        sites = [(index[sid], created.get(int(cid))) for sid, cid in zip(data.chargers["id"], data.chargers["charger"],
                                                                        strict=True) if sid in index]
        item: dict[str, Any] = {"kind": kind}
        for name, instant in (("start", start), ("end", as_of)):
            chosen = [i for i, at in sites if at is not None and at < instant]
            cov = coverage(data.dist, weights, chosen, walk)
            item[name] = {"chargers": len(chosen), "total_demand": round(float(cov.total_weight), 3),
                          "covered_demand": round(float(cov.covered_weight), 3),
                          "covered_share": round(float(cov.covered_weight / cov.total_weight), 6)
                          if cov.total_weight > 0 else 0.0}
        item["new_chargers"] = item["end"]["chargers"] - item["start"]["chargers"]
        item["change_share"] = round(item["end"]["covered_share"] - item["start"]["covered_share"], 6)
        kinds.append(item)
    return {"walk_m": walk, "kinds": kinds, "error": None}


# ---------------------------------------------------------------- the report


def build_report(session: Session, campus: Campus, period: Period, *, now: dt.datetime | None = None,
                 calendar: WorkCalendar | None = None, cell_m: float = DEFAULT_CELL_M,
                 max_cells: int = MAX_CELLS) -> Report:
    """Every section of the report of one campus and period, compared with the period before."""
    now = now or utcnow()
    previous = previous_period(period, calendar)
    elapsed = period.elapsed_days(now)
    partial = 0 < elapsed < period.days
    compared = previous.head(elapsed) if partial else previous
    as_of = min(period.end_utc(), now)
    shapes = ReportShapes()
    violations, table = violation_section(session, campus, period, compared, shapes, cell_m=cell_m,
                                          max_cells=max_cells)
    data = {
        "campus": {"slug": campus.slug, "name": campus.name, "timezone": campus.timezone},
        "period": {**period.as_dict(), "elapsed_days": elapsed, "partial": partial},
        "previous": {**previous.as_dict(), "compared_from": compared.start.isoformat(),
                     "compared_to": compared.end.isoformat(), "compared_days": compared.days},
        "generated_at": _iso(now),
        "as_of": _iso(as_of),
        "violations": violations,
        "hazards": hazard_section(session, campus, period, as_of),
        "patrols": patrol_section(session, campus, period, now),
        "duty_posts": duty_post_section(session, campus, period, table, now),
        "chargers": charger_section(session, campus, period, as_of),
    }
    return Report(data, shapes)


# ---------------------------------------------------------------- a short-lived cache


def data_signature(session: Session, campus_id: int) -> tuple[Any, ...]:
    """What changes whenever anything a campus's report reads changes (rows added, edited or removed)."""
    out: list[Any] = []
    for model in (Violation, Hazard, GridZone, MarkedHotspot, Charger, DutyPost, Building, PathSegment, ParkingLot,
                  PatrolRoute):
        out.extend(session.execute(select(func.count(model.id), func.max(model.id), func.max(model.updated_at))
                                   .where(model.campus_id == campus_id)).one())
    for model in (HazardEvent, PatrolCheckin):  # append-only
        out.extend(session.execute(select(func.count(model.id), func.max(model.id))
                                   .where(model.campus_id == campus_id)).one())
    return tuple(out)


@dataclass(frozen=True)
class _Kept:
    moment: float
    database: str
    campus_id: int
    period: Period
    report: Report


_cache: OrderedDict[str, _Kept] = OrderedDict()
_lock = threading.Lock()


def cached_report(session: Session, campus: Campus, period: Period, *, now: dt.datetime | None = None,
                  calendar: WorkCalendar | None = None, cell_m: float = DEFAULT_CELL_M, max_cells: int = MAX_CELLS,
                  ) -> Report:
    """build_report, kept for a minute while the campus's data is unchanged; `report.token` names it.

    A page shows its charts as images fetched right after it, each drawn from the same report: the
    page gives their URLs its report's token, and `kept_report` finds that report again without
    computing anything. The key holds the database, so two stores never mix.
    """
    database = str(session.get_bind().url)
    key = (database, campus.id, period, cell_m, max_cells, data_signature(session, campus.id))
    token = hashlib.sha256(repr(key).encode()).hexdigest()[:20]
    found = kept_report(session, campus, period, token)
    if found is not None:
        return found
    report = build_report(session, campus, period, now=now, calendar=calendar, cell_m=cell_m, max_cells=max_cells)
    report.token = token
    with _lock:
        _cache[token] = _Kept(time.monotonic(), database, campus.id, period, report)
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return report


def kept_report(session: Session, campus: Campus, period: Period, token: str | None) -> Report | None:
    """The report a token names, if it is still kept (a minute) and is of this store, campus and period."""
    if not token:
        return None
    with _lock:
        kept = _cache.get(token)
        if (kept is None or time.monotonic() - kept.moment >= CACHE_SECONDS or kept.campus_id != campus.id
                or kept.period != period or kept.database != str(session.get_bind().url)):
            return None
        _cache.move_to_end(token)
        return kept.report


def clear_cache() -> None:
    """Forget every kept report (tests)."""
    with _lock:
        _cache.clear()
