"""Read pages of a collection's features, their counts and extents, within the caller's scope.

Layer collections go through the store's own bbox query (the spatial index, scope, plate
masking and local times of /api/layers); patrol routes are few, so they are filtered here.
A bbox keeps the features whose geometry meets it, as OGC API - Features requires: exact
for points in SQL, and for lines and polygons a shapely check of the index's candidates.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
from flask import g
from sqlalchemy import bindparam, func, select

from patrolmap.errors import NotFound
from patrolmap.extensions import db
from patrolmap.layers import LAYERS, Layer
from patrolmap.models import Campus, PatrolRoute
from patrolmap.ogcapi.collections import Collection
from patrolmap.ogcapi.paging import Paging
from patrolmap.ogcapi.params import ItemsQuery
from patrolmap.patrolroutes import list_routes
from patrolmap.store import AUDITED_MODELS, CampusFilter, count_features, list_campuses, query_features
from patrolmap.web.api import _LocalTimes, page_properties, scoped_campus


@dataclass
class Page:
    """Features ready to serialise, and how many match the whole query."""

    ids: list[int]
    geometries: list[Any]
    properties: list[dict[str, Any]]
    matched: int


@dataclass
class Summary:
    """What a collection's description says of its content."""

    count: int
    bbox: tuple[float, float, float, float] | None
    interval: tuple[dt.datetime | None, dt.datetime | None] | None


def campus_filter(query: ItemsQuery) -> CampusFilter:
    """The campus asked for (one the caller sees, else 404), or every campus the caller sees."""
    return scoped_campus(query.campus).id if query.campus else g.scope.campus_ids


def _bound(column: Any, value: Any) -> Any:
    """A parameter already in the driver's form (SQLite keeps times as text): the store reads pages on the raw
    driver cursor, which skips SQLAlchemy's type processing. Its type comes from the processed value, so the
    column's type is not applied a second time on the counting path."""
    dialect = db.session.get_bind().dialect
    processor = column.type.dialect_impl(dialect).bind_processor(dialect)
    return bindparam(None, processor(value) if processor else value, unique=True)


def conditions(collection: Collection, layer: Layer, query: ItemsQuery) -> list[Any]:
    """SQL conditions for the time interval and the property filters."""
    model = layer.model
    out = []
    interval = query.interval
    if interval is not None and collection.time_property is not None:
        column = getattr(model, collection.time_property)
        if interval.start is not None:
            out.append(column >= _bound(column, interval.start))
        if interval.end is not None:
            end = _bound(column, interval.end)
            out.append(column < end if interval.end_exclusive else column <= end)
    for name, value in query.filters.items():
        column = getattr(model, name)
        out.append(column == _bound(column, value))
    return out


def _campus_key(campus: CampusFilter) -> Hashable:
    return campus if campus is None or isinstance(campus, int) else frozenset(campus)


def _points_only(layer: Layer) -> bool:
    return layer.schema.geometry_types == ("Point",)


def _layer_page(collection: Collection, query: ItemsQuery) -> Page:
    layer = LAYERS[collection.layer_id or ""]
    where = conditions(collection, layer, query)
    campus = campus_filter(query)
    session = db.session
    if query.bbox is not None and not _points_only(layer):
        # The index finds features whose box meets the bbox; the shape itself must meet it too.
        rows = query_features(session, layer.id, campus_id=campus, bbox=query.bbox, where=where, ordered=True)
        if rows:
            hit = shapely.intersects(np.asarray([r["geom"] for r in rows], dtype=object), shapely.box(*query.bbox))
            rows = [r for r, keep in zip(rows, hit.tolist(), strict=True) if keep]
        matched = len(rows)
        rows = rows[query.offset:query.offset + query.limit]
    else:
        paging = Paging(session, layer, (_campus_key(campus), query.bbox, query.interval,
                                         tuple(sorted(query.filters.items()))))
        after = paging.after(query.offset)
        if after is None:  # the database walks `offset` rows first
            rows = query_features(session, layer.id, campus_id=campus, bbox=query.bbox, limit=query.limit,
                                  offset=query.offset, where=where, ordered=True)
        else:  # the page before ended at this id: the same rows, without the walk
            model = layer.model
            rows = query_features(session, layer.id, campus_id=campus, bbox=query.bbox, limit=query.limit,
                                  where=[*where, model.id > _bound(model.id, after)], ordered=True)
        if rows:
            paging.ended(query.offset + len(rows), rows[-1]["id"])
        if len(rows) < query.limit and (rows or query.offset == 0):
            matched = query.offset + len(rows)
        else:
            matched = paging.count(lambda: count_features(session, layer.id, campus_id=campus, bbox=query.bbox,
                                                          where=where))
    local = _LocalTimes()
    return Page([r["id"] for r in rows], [r["geom"] for r in rows], page_properties(rows, local), matched)


def route_properties(route: PatrolRoute, zone: zoneinfo.ZoneInfo) -> dict[str, Any]:
    return {
        "name": route.name, "mode": route.mode, "teams": route.teams, "stops": len(route.checkpoint_ids),
        "length_m": route.length_m, "shift_start": route.shift_start, "shift_end": route.shift_end,
        "shift_days": ",".join(str(d) for d in route.shift_days or []), "visits_per_shift": route.visits_per_shift,
        "checkin_radius_m": route.checkin_radius_m, "late_after_min": route.late_after_min, "note": route.note,
        "version": route.version, "updated_at": route.updated_at.astimezone(zone).isoformat(),
        "campus": route.campus_id,
    }


def _zones(campus: CampusFilter) -> dict[int, zoneinfo.ZoneInfo]:
    return {c.id: zoneinfo.ZoneInfo(c.timezone) for c in list_campuses(db.session, campus)}


def routes(campus: CampusFilter) -> list[PatrolRoute]:
    """Live saved routes of these campuses, oldest first."""
    return list_routes(db.session, campus)


def _route_page(query: ItemsQuery) -> Page:
    campus = campus_filter(query)
    chosen = routes(campus)
    if query.bbox is not None:
        box = shapely.box(*query.bbox)
        chosen = [r for r in chosen if r.geom is not None and shapely.intersects(r.geom, box)]
    for name, value in query.filters.items():
        chosen = [r for r in chosen if getattr(r, name) == value]
    zones = _zones(campus)
    page = chosen[query.offset:query.offset + query.limit]
    return Page([r.id for r in page], [r.geom for r in page],
                [route_properties(r, zones[r.campus_id]) for r in page], len(chosen))


def read_page(collection: Collection, query: ItemsQuery) -> Page:
    """One page of a collection's features, with the number that match the whole query."""
    if collection.layer_id is None:
        return _route_page(query)
    return _layer_page(collection, query)


def read_item(collection: Collection, feature_id: int) -> Page:
    """One feature the caller may see; anything else answers 404, other campuses' features included."""
    campus = g.scope.campus_ids
    if collection.layer_id is None:
        found = [r for r in routes(campus) if r.id == feature_id]
        page = Page([r.id for r in found], [r.geom for r in found],
                    [route_properties(r, _zones(r.campus_id)[r.campus_id]) for r in found], len(found))
    else:
        rows = query_features(db.session, collection.layer_id, campus_id=campus, ids=[feature_id])
        local = _LocalTimes()
        page = Page([r["id"] for r in rows], [r["geom"] for r in rows], page_properties(rows, local),
                    len(rows))
    if not page.ids:
        raise NotFound("unknown feature %(id)s in %(collection)s", id=feature_id, collection=collection.id)
    return page


def _union_bounds(geometries: Sequence[Any]) -> tuple[float, float, float, float] | None:
    present = [geom for geom in geometries if geom is not None]
    if not present:
        return None
    bounds = shapely.bounds(np.asarray(present, dtype=object))
    return (float(bounds[:, 0].min()), float(bounds[:, 1].min()), float(bounds[:, 2].max()),
            float(bounds[:, 3].max()))


def summarize(collection: Collection) -> Summary:
    """The number of features the caller sees, their bbox and (violations, hazards) their time span."""
    campus = g.scope.campus_ids
    if collection.layer_id is None:
        chosen = routes(campus)
        return Summary(len(chosen), _union_bounds([r.geom for r in chosen]), None)
    model = LAYERS[collection.layer_id].model
    x0, x1, y0, y1 = (getattr(model, c) for c in model.bbox_columns)
    columns = [func.count(model.id), func.min(x0), func.min(y0), func.max(x1), func.max(y1)]
    if collection.time_property is not None:
        time = getattr(model, collection.time_property)
        columns += [func.min(time), func.max(time)]
    stmt = select(*columns)
    if campus is not None:
        stmt = stmt.where(model.campus_id.in_(sorted(campus)))
    if model in AUDITED_MODELS:
        stmt = stmt.where(model.deleted_at.is_(None))
    row = db.session.execute(stmt).one()
    bbox = None if row[1] is None else (float(row[1]), float(row[2]), float(row[3]), float(row[4]))
    interval = (row[5], row[6]) if collection.time_property is not None and row[0] else None
    return Summary(int(row[0]), bbox, interval)


def campuses_seen() -> list[Campus]:
    return list_campuses(db.session, g.scope.campus_ids)
