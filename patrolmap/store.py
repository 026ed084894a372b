"""The one place that turns stored rows into GeoDataFrames and validated frames into rows.

Writes go through Core bulk statements, not one ORM object per feature, so that a
year of violations imports in seconds; reads for analysis are column queries.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry
from sqlalchemy import (
    Boolean,
    Column,
    Date,
    Float,
    Integer,
    MetaData,
    Select,
    Table,
    and_,
    cast,
    func,
    insert,
    literal_column,
    select,
    update,
)
from sqlalchemy.orm import Session

from patrolmap.errors import NotFound
from patrolmap.geo.proximity import within_distance
from patrolmap.geo.validate import CheckedLayer
from patrolmap.geotypes import Geometry, UTCDateTime
from patrolmap.hazards import is_overdue, map_state
from patrolmap.layers import LAYERS, Layer, get_layer
from patrolmap.models import (
    AuditEntry,
    Building,
    Campus,
    GridZone,
    Hazard,
    MarkedHotspot,
    Officer,
    PathSegment,
    Violation,
    utcnow,
)
from patrolmap.timeutil import local_fields

BBox = tuple[float, float, float, float]
# Which campuses a query may touch: one id, a set of ids (a user's scope), or None for all.
CampusFilter = int | Collection[int] | None
Progress = Callable[[str, int, int], None]
# A violation this close to a fire-lane path is flagged, whatever kind it was recorded as.
FIRE_LANE_FLAG_M = 5.0
CHUNK = 5000
# Layers whose every change is audited and whose deletes are soft (deleted_at): evidence, marked hotspots, hazards.
AUDITED_MODELS = (Violation, MarkedHotspot, Hazard)

_rtree_meta = MetaData()


def _rtree(table: str) -> Table:
    """The SQLite R*Tree companion of a feature table (created by the migrations)."""
    name = f"rtree_{table}"
    if name not in _rtree_meta.tables:
        Table(name, _rtree_meta, Column("id", Integer, primary_key=True),
              *(Column(c, Float) for c in ("minx", "maxx", "miny", "maxy")))
    return _rtree_meta.tables[name]


@dataclass
class LayerCounts:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0

    @property
    def total(self) -> int:
        return self.inserted + self.updated + self.unchanged


@dataclass
class ImportSummary:
    campus: str
    layers: dict[str, LayerCounts] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    skipped: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0
    # Buildings of no grid zone put into the zone holding them (assign_unzoned_buildings).
    zoned_buildings: int = 0

    def lines(self) -> list[str]:
        out = [f"campus {self.campus}: {self.seconds:.2f} s"]
        for layer, c in self.layers.items():
            out.append(f"  {layer}: {c.inserted} new, {c.updated} updated, {c.unchanged} unchanged")
        if self.zoned_buildings:
            out.append(f"  buildings placed in their grid zone: {self.zoned_buildings}")
        if self.skipped:
            out.append(f"  skipped at the extract's edge: {len(self.skipped)}")
        if self.warnings:
            out.append(f"  warnings: {len(self.warnings)}")
        return out


# ---------------------------------------------------------------- campuses


# The largest id the id columns hold (INTEGER: 32 bits in PostgreSQL). The database refuses to compare a
# larger number (PostgreSQL: integer out of range; SQLite past 64 bits: OverflowError), so a lookup by one
# answers "not found" before it reaches the database.
MAX_ID = 2**31 - 1


def find_campus(session: Session, key: str | int) -> Campus | None:
    """The campus with this slug or id, if any."""
    if (isinstance(key, int) and not 0 <= key <= MAX_ID) or (isinstance(key, str) and "\x00" in key):
        return None  # no campus has it, and the database could not compare it
    stmt = select(Campus).where(Campus.id == key if isinstance(key, int) else Campus.slug == str(key))
    return session.scalars(stmt).first()


def get_campus(session: Session, key: str | int) -> Campus:
    """The campus with this slug or id; NotFound otherwise."""
    campus = find_campus(session, key)
    if campus is None:
        raise NotFound("unknown campus %(campus)s", campus=repr(key))
    return campus


def list_campuses(session: Session, campus_ids: CampusFilter = None) -> list[Campus]:
    stmt = select(Campus).order_by(Campus.id)
    return list(session.scalars(_where_campus(stmt, Campus.id, campus_ids)))


def _where_campus(stmt: Select, column: Any, campus_ids: CampusFilter) -> Select:
    if campus_ids is None:
        return stmt
    if isinstance(campus_ids, int):
        return stmt.where(column == campus_ids)
    return stmt.where(column.in_(sorted(campus_ids)))


def ensure_campus(
    session: Session,
    slug: str,
    *,
    name: str | None = None,
    timezone: str | None = None,
    university: str | None = None,
    boundary: BaseGeometry | None = None,
) -> Campus:
    """Return the campus with this slug, creating it (or filling in what is given) as needed."""
    campus = session.scalars(select(Campus).where(Campus.slug == slug)).first()
    if campus is None:
        campus = Campus(slug=slug, name=name or slug, timezone=timezone or "Asia/Shanghai")
        session.add(campus)
    elif name:
        campus.name = name
    if timezone:
        campus.timezone = timezone
    if university:
        campus.university = university
    if boundary is not None:
        campus.boundary = boundary
    session.flush()
    return campus


def campus_extent(session: Session, campus: Campus) -> BaseGeometry | None:
    """The campus's boundary or, lacking one, the box around its buildings and paths."""
    if campus.boundary is not None:
        return campus.boundary
    return built_extent(session, campus.id)


def built_extent(session: Session, campus_id: CampusFilter) -> BaseGeometry | None:
    """The box around the buildings and paths of some campuses (or of all, for None)."""
    boxes = []
    for model in (LAYERS["buildings"].model, PathSegment):
        stmt = select(func.min(model.minx), func.min(model.miny), func.max(model.maxx), func.max(model.maxy))
        row = session.execute(_where_campus(stmt, model.campus_id, campus_id)).one()
        if row[0] is not None:
            boxes.append(shapely.box(*row))
    return shapely.union_all(boxes).envelope if boxes else None


# ---------------------------------------------------------------- writing


def _bbox_values(geoms: Sequence[BaseGeometry]) -> np.ndarray:
    return shapely.bounds(np.asarray(geoms, dtype=object))


def _officer_ids(session: Session, campus: Campus, frame: gpd.GeoDataFrame) -> list[int | None]:
    """Resolve grid-zone officer names to officer rows, creating missing officers."""
    existing = {o.name: o for o in session.scalars(select(Officer).where(Officer.campus_id == campus.id))}
    ids: list[int | None] = []
    for name, phone in zip(frame["officer"], frame["officer_phone"], strict=True):
        if name is None:
            ids.append(None)
            continue
        officer = existing.get(name)
        if officer is None:
            officer = Officer(campus_id=campus.id, name=name, phone=phone, role="grid_officer")
            session.add(officer)
            session.flush()
            existing[name] = officer
        elif phone and officer.phone != phone:
            officer.phone = phone
        ids.append(officer.id)
    return ids


def _fire_lane_flags(session: Session, campus: Campus, points: gpd.GeoSeries) -> np.ndarray:
    lanes = session.scalars(
        select(PathSegment.geom).where(PathSegment.campus_id == campus.id, PathSegment.fire_lane.is_(True))
    ).all()
    return within_distance(points, gpd.GeoSeries(lanes, crs="EPSG:4326"), FIRE_LANE_FLAG_M)


def frame_to_rows(session: Session, layer: Layer, campus: Campus, frame: gpd.GeoDataFrame) -> list[dict[str, Any]]:
    """Column values for each feature of a validated frame, derived columns included."""
    geoms = list(frame.geometry)
    data: dict[str, Sequence[Any]] = {c: list(frame[c]) for c in layer.columns}
    data["source_id"] = list(frame["source_id"])
    data["geom"] = geoms
    if layer.id == "grid-zones":
        data["officer_id"] = _officer_ids(session, campus, frame)
    if layer.model is Hazard:
        # Imported hazards are placed as reported ones are: their building, zone and the zone's officer.
        from patrolmap.hazardstore import assignee_for, locate

        places = [locate(session, campus.id, point, None) for point in geoms]
        data["building_id"] = [p.building_id for p in places]
        data["zone_id"] = [p.zone_id for p in places]
        data["assignee_user_id"] = [assignee_for(session, campus, p.zone_id) for p in places]
    if layer.model is Violation:
        coords = shapely.get_coordinates(np.asarray(geoms, dtype=object))
        data["lon"], data["lat"] = coords[:, 0].tolist(), coords[:, 1].tolist()
        local = local_fields(frame["observed_at"], campus.timezone)
        for column in local.columns:
            data[column] = local[column].tolist()
        data["near_fire_lane"] = _fire_lane_flags(session, campus, frame.geometry).tolist()
    else:
        bounds = _bbox_values(geoms)
        for i, column in enumerate(("minx", "miny", "maxx", "maxy")):
            data[column] = bounds[:, i].tolist()
    names = list(data)
    return [dict(zip(names, values, strict=True)) for values in zip(*data.values(), strict=True)]


def _comparable(value: Any) -> Any:
    if isinstance(value, BaseGeometry):
        return shapely.to_wkb(value, output_dimension=2)
    if isinstance(value, float):
        return round(value, 9)
    if isinstance(value, (np.generic,)):
        return value.item()
    return value


def _plain_value(value: Any) -> Any:
    if isinstance(value, BaseGeometry):
        return value.wkt
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    return value


def upsert_layer(
    session: Session,
    layer: Layer,
    campus: Campus,
    frame: gpd.GeoDataFrame,
    *,
    actor: str,
    progress: Progress | None = None,
) -> LayerCounts:
    """Insert new features and update changed ones by source id; identical ones are left alone."""
    model = layer.model
    table = model.__table__
    rows = frame_to_rows(session, layer, campus, frame)
    compare = [c for c in rows[0] if c not in ("source_id",)] if rows else []
    existing = {
        r.source_id: r
        for r in session.execute(
            select(table.c.id, table.c.version, *(table.c[c] for c in ["source_id", *compare]))
            .where(table.c.campus_id == campus.id)
        )
    }
    counts = LayerCounts()
    inserts: list[dict[str, Any]] = []
    updates: list[tuple[Any, dict[str, Any]]] = []
    now = utcnow()
    for row in rows:
        old = existing.get(row["source_id"])
        if old is None:
            inserts.append({**row, "campus_id": campus.id, "version": 1, "created_at": now, "updated_at": now})
            continue
        changed = {c: row[c] for c in compare if _comparable(getattr(old, c)) != _comparable(row[c])}
        if changed:
            updates.append((old, changed))
        else:
            counts.unchanged += 1
    for start in range(0, len(inserts), CHUNK):
        chunk = inserts[start:start + CHUNK]
        session.execute(insert(table), chunk)
        counts.inserted += len(chunk)
        if progress:
            progress(layer.id, counts.inserted + counts.unchanged, len(rows))
    for old, changed in updates:
        session.execute(
            update(table).where(table.c.id == old.id)
            .values(**changed, version=old.version + 1, updated_at=now)
        )
        counts.updated += 1
        if model in AUDITED_MODELS:
            # Violations are evidence: every change keeps its before and after.
            session.add(AuditEntry(
                actor=actor, action="update", layer=layer.id, feature_id=old.id, campus_id=campus.id,
                before={c: _plain_value(getattr(old, c)) for c in changed},
                after={c: _plain_value(v) for c, v in changed.items()},
                reason="re-import changed the record",
            ))
    if progress and updates:
        progress(layer.id, len(rows), len(rows))
    return counts


IMPORT_ORDER = ("buildings", "grid-zones", "paths", "checkpoints", "parking-lots", "chargers", "duty-posts",
                "violations", "hotspots", "hazards")


def store_layers(
    session: Session,
    campus: Campus,
    checked: dict[str, CheckedLayer],
    *,
    actor: str,
    source: str,
    progress: Progress | None = None,
) -> ImportSummary:
    """Write validated layers in dependency order; the caller owns the transaction."""
    started = time.perf_counter()
    summary = ImportSummary(campus=campus.slug)
    for layer_id in IMPORT_ORDER:
        if layer_id not in checked:
            continue
        item = checked[layer_id]
        summary.warnings.extend(item.warnings)
        counts = upsert_layer(session, get_layer(layer_id), campus, item.frame, actor=actor, progress=progress)
        summary.layers[layer_id] = counts
    if "grid-zones" in checked or "buildings" in checked:
        summary.zoned_buildings = assign_unzoned_buildings(session, campus)
    session.add(AuditEntry(
        actor=actor, action="import", campus_id=campus.id,
        layer=next(iter(summary.layers)) if len(summary.layers) == 1 else "*",
        after={k: vars(v) for k, v in summary.layers.items()}, reason=f"import of {source} into {campus.slug}",
    ))
    session.flush()
    summary.seconds = time.perf_counter() - started
    return summary


def assign_unzoned_buildings(session: Session, campus: Campus) -> int:
    """Put each building of no grid zone into the zone holding its representative point; return how many.

    Zones are sets of buildings (Building.grid_zone_id), but imported zones come as outlines only: without
    this, a freshly imported campus's zones would list no buildings until an admin applied a proposal.
    A building already in a zone keeps it (an admin's assignment wins over geometry).
    """
    zones = session.execute(select(GridZone.id, GridZone.geom).where(GridZone.campus_id == campus.id)
                            .order_by(GridZone.id)).all()
    if not zones:
        return 0
    loose = session.execute(select(Building.id, Building.geom).where(
        Building.campus_id == campus.id, Building.grid_zone_id.is_(None))).all()
    if not loose:
        return 0
    points = shapely.point_on_surface(np.asarray([b.geom for b in loose], dtype=object))
    zone_geoms = np.asarray([z.geom for z in zones], dtype=object)
    tree = shapely.STRtree(zone_geoms)
    point_idx, zone_idx = tree.query(points, predicate="within")
    chosen: dict[int, int] = {}
    for p, z in zip(point_idx.tolist(), zone_idx.tolist(), strict=True):
        chosen.setdefault(p, z)  # overlapping zones: the oldest zone wins, the same way every time
    by_zone: dict[int, list[int]] = {}
    for p, z in chosen.items():
        by_zone.setdefault(zones[z].id, []).append(loose[p].id)
    for zone_id, ids in by_zone.items():
        session.execute(update(Building).where(Building.id.in_(ids)).values(grid_zone_id=zone_id))
    return len(chosen)


# ---------------------------------------------------------------- reading


# On SQLite, beyond this share of the campus a bbox query scans the table instead of the R*Tree.
SCAN_SHARE = 0.3


def _bbox_filter(stmt: Select, layer: Layer, bbox: BBox, dialect: str, *, use_index: bool = True) -> Select:
    """Restrict a query to features whose bbox meets the given one, through the spatial index."""
    model = layer.model
    minx, miny, maxx, maxy = bbox
    cx0, cx1, cy0, cy1 = (getattr(model, c) for c in model.bbox_columns)
    exact = and_(cx1 >= minx, cx0 <= maxx, cy1 >= miny, cy0 <= maxy)
    if dialect == "postgresql":
        envelope = func.ST_MakeEnvelope(minx, miny, maxx, maxy, 4326)
        return stmt.where(model.geom.op("&&")(envelope), exact)
    if not use_index:
        return stmt.where(exact)
    rtree = _rtree(model.__tablename__)
    inside = and_(rtree.c.maxx >= minx, rtree.c.minx <= maxx, rtree.c.maxy >= miny, rtree.c.miny <= maxy)
    return stmt.join_from(rtree, model, rtree.c.id == model.id).where(inside, exact)


def _index_pays(session: Session, bbox: BBox, campus_id: CampusFilter) -> bool:
    """Tell whether the R*Tree beats a plain scan for this bbox on SQLite.

    Each R*Tree match costs a row lookup by id; for a view over most of a campus
    (the first view of a map) scanning the table is about 3x faster. PostgreSQL's
    planner makes this choice itself.
    """
    if session.get_bind().dialect.name != "sqlite":
        return True
    extent = built_extent(session, campus_id)
    if extent is None or extent.area == 0:
        return True
    return shapely.box(*bbox).intersection(extent).area / extent.area < SCAN_SHARE


def _base_query(
    layer: Layer, columns: Sequence[Any], *, campus_id: CampusFilter, include_deleted: bool,
    ids: Sequence[int] | None = None, where: Sequence[Any] = (),
) -> Select:
    model = layer.model
    stmt = _where_campus(select(*columns), model.campus_id, campus_id)
    if ids is not None:
        stmt = stmt.where(model.id.in_(list(ids)))
    if where:
        stmt = stmt.where(*where)
    if model in AUDITED_MODELS and not include_deleted:
        stmt = stmt.where(model.deleted_at.is_(None))
    return stmt


def feature_columns(layer: Layer) -> list[Any]:
    model = layer.model
    names = ["id", "source_id", "campus_id", *layer.columns]
    if model is Violation:
        # The point is rebuilt from lon/lat: much cheaper than parsing a WKB per row. The version lets
        # a status change from the map say which version it saw (optimistic locking).
        names += ["near_fire_lane", "version", "lon", "lat"]
    else:
        names += ["geom"]
    if model is GridZone:
        names += ["officer_id"]
    return [getattr(model, n) for n in names]


def query_features(
    session: Session,
    layer_id: str,
    *,
    campus_id: CampusFilter = None,
    bbox: BBox | None = None,
    limit: int | None = None,
    offset: int = 0,
    include_deleted: bool = False,
    ids: Sequence[int] | None = None,
    where: Sequence[Any] = (),
    ordered: bool = False,
) -> list[dict[str, Any]]:
    """Rows of a layer as dicts (geometry as shapely), limited to a bbox through the spatial index.

    `where` adds conditions (their values bound as the driver takes them: fetch_columns skips
    SQLAlchemy's type processing); `ordered` keeps id order in a bbox too, for clients that page.
    """
    layer = get_layer(layer_id)
    stmt = _base_query(layer, feature_columns(layer), campus_id=campus_id, include_deleted=include_deleted,
                       ids=ids, where=where)
    if bbox is not None:
        stmt = _bbox_filter(stmt, layer, bbox, session.get_bind().dialect.name,
                            use_index=limit is not None or _index_pays(session, bbox, campus_id))
        if ordered:
            stmt = stmt.order_by(layer.model.id)
    else:
        stmt = stmt.order_by(layer.model.id)
    if limit is not None:
        stmt = stmt.limit(limit)
    if offset:
        stmt = stmt.offset(offset)
    columns = fetch_columns(session, stmt)
    if "geom" not in columns:
        columns["geom"] = list(shapely.points(np.asarray(columns["lon"], dtype=float),
                                              np.asarray(columns["lat"], dtype=float)))
    if "officer_id" in columns:
        # A grid zone's popup names its officer: one lookup for the page, not one per zone.
        wanted = {i for i in columns["officer_id"] if i is not None}
        officers = {o.id: o for o in session.scalars(select(Officer).where(Officer.id.in_(wanted)))} if wanted else {}
        columns["officer"] = [officers[i].name if i in officers else None for i in columns["officer_id"]]
        columns["officer_phone"] = [officers[i].phone if i in officers else None for i in columns["officer_id"]]
    if layer.model is Hazard:
        # Overdue depends on the clock, so it is worked out as it is read (drawn red on the maps).
        now = utcnow()
        pairs = list(zip(columns["status"], columns["deadline"], strict=True))
        columns["overdue"] = [is_overdue(status, deadline, now) for status, deadline in pairs]
        columns["state"] = [map_state(status, deadline, now) for status, deadline in pairs]
    names = list(columns)
    return [dict(zip(names, values, strict=True)) for values in zip(*columns.values(), strict=True)]


def count_features(
    session: Session, layer_id: str, *, campus_id: CampusFilter = None, bbox: BBox | None = None,
    include_deleted: bool = False, ids: Sequence[int] | None = None, where: Sequence[Any] = (),
) -> int:
    layer = get_layer(layer_id)
    stmt = _base_query(layer, [func.count()], campus_id=campus_id, include_deleted=include_deleted, ids=ids,
                       where=where)
    if bbox is not None:
        stmt = _bbox_filter(stmt, layer, bbox, session.get_bind().dialect.name,
                            use_index=_index_pays(session, bbox, campus_id))
    else:
        stmt = stmt.select_from(layer.model)
    return int(session.execute(stmt).scalar_one())


def layer_frame(
    session: Session, layer_id: str, *, campus_id: CampusFilter = None, bbox: BBox | None = None,
    include_deleted: bool = False,
) -> gpd.GeoDataFrame:
    """A whole layer (or a bbox of it) as a GeoDataFrame in EPSG:4326."""
    rows = query_features(session, layer_id, campus_id=campus_id, bbox=bbox, include_deleted=include_deleted)
    layer = get_layer(layer_id)
    columns = [c.key for c in feature_columns(layer)]
    columns += [] if "geom" in columns else ["geom"]
    columns += ["officer", "officer_phone"] if "officer_id" in columns else []
    frame = pd.DataFrame(rows, columns=columns)
    return gpd.GeoDataFrame(frame, geometry=list(frame.pop("geom")), crs="EPSG:4326")


VIOLATION_ANALYSIS_COLUMNS = ("id", "lon", "lat", "local_date", "local_hour", "local_minute", "local_weekday",
                              "kind", "near_fire_lane", "campus_id")


def violation_table(
    session: Session, *, campus_id: CampusFilter = None, columns: Sequence[str] = VIOLATION_ANALYSIS_COLUMNS,
) -> pd.DataFrame:
    """Live violations as plain columns, read straight from the cursor into pandas.

    Void ones are left out whether voided here (which also sets deleted_at) or imported as void.
    """
    table = Violation.__table__
    stmt = select(*(table.c[c] for c in columns)).where(table.c.deleted_at.is_(None), table.c.status != "void")
    return pd.DataFrame(fetch_columns(session, _where_campus(stmt, table.c.campus_id, campus_id)))


def fetch_columns(session: Session, stmt: Select) -> dict[str, list[Any]]:
    """Run a select on the raw driver and decode whole columns at once.

    SQLAlchemy's per-row type processing (a WKB parse and a datetime fix per value)
    costs more than the query itself for a page of features; here each column is
    decoded in one pass (one vectorised WKB parse for all geometries).
    """
    rows = session.connection().exec_driver_sql(*_compiled(session, stmt)).fetchall()
    out: dict[str, list[Any]] = {}
    for index, column in enumerate(stmt.selected_columns):
        values = [row[index] for row in rows]
        out[column.key] = _decode(column.type, values)
    return out


def _decode(type_: Any, values: list[Any]) -> list[Any]:
    if not values:
        return values
    if isinstance(type_, Geometry):
        return list(shapely.from_wkb(np.asarray(values, dtype=object)))
    if isinstance(type_, UTCDateTime):
        return [_utc(v) for v in values]
    if isinstance(type_, Date):
        return [dt.date.fromisoformat(v) if isinstance(v, str) else v for v in values]
    if isinstance(type_, Boolean):
        return [None if v is None else bool(v) for v in values]
    return values


def _utc(value: Any) -> dt.datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def _compiled(session: Session, stmt: Select) -> tuple[str, Any]:
    """Compile to the driver's SQL so that rows skip SQLAlchemy's per-row processing."""
    dialect = session.get_bind().dialect
    compiled = stmt.compile(dialect=dialect, compile_kwargs={"render_postcompile": True})
    params = compiled.construct_params()
    if dialect.paramstyle in ("named", "pyformat"):
        return str(compiled), params
    return str(compiled), tuple(params[k] for k in compiled.positiontup or ())


def feature_cells(
    session: Session,
    layer_id: str,
    *,
    bbox: BBox,
    nx: int,
    ny: int,
    campus_id: CampusFilter = None,
    include_deleted: bool = False,
) -> list[dict[str, Any]]:
    """Count a layer's features in an nx x ny grid over the bbox, for views too dense to draw."""
    layer = get_layer(layer_id)
    model = layer.model
    x0, y0, x1, y1 = bbox
    dx = (x1 - x0) / nx or 1e-12
    dy = (y1 - y0) / ny or 1e-12
    bx0, bx1, by0, by1 = (getattr(model, c) for c in model.bbox_columns)
    cx = bx0 if bx0 is bx1 else (bx0 + bx1) / 2
    cy = by0 if by0 is by1 else (by0 + by1) / 2
    postgres = session.get_bind().dialect.name == "postgresql"

    def index(expr: Any) -> Any:
        # PostgreSQL rounds when casting to integer; SQLite truncates, which is floor for the
        # non-negative offsets inside the bbox (and edge cases are clamped below).
        return func.floor(expr) if postgres else cast(expr, Integer)

    i, j = index((cx - x0) / dx).label("i"), index((cy - y0) / dy).label("j")
    columns = [i, j, func.count().label("n"), func.sum(cx).label("sx"), func.sum(cy).label("sy")]
    stmt = _base_query(layer, columns, campus_id=campus_id, include_deleted=include_deleted)
    stmt = _bbox_filter(stmt, layer, bbox, session.get_bind().dialect.name,
                        use_index=_index_pays(session, bbox, campus_id)).group_by("i", "j")
    merged: dict[tuple[int, int], list[float]] = {}
    for ci, cj, n, sx, sy in session.execute(stmt):
        key = (min(max(int(ci), 0), nx - 1), min(max(int(cj), 0), ny - 1))
        acc = merged.setdefault(key, [0, 0.0, 0.0])
        acc[0] += n
        acc[1] += sx
        acc[2] += sy
    return [
        {"count": int(n), "lon": sx / n, "lat": sy / n,
         "bounds": [x0 + ci * dx, y0 + cj * dy, x0 + (ci + 1) * dx, y0 + (cj + 1) * dy]}
        for (ci, cj), (n, sx, sy) in sorted(merged.items())
    ]


def create_violation(session: Session, campus: Campus, checked: CheckedLayer, *, actor: str) -> Violation:
    """Store one validated violation and record its creation in the audit log."""
    layer = get_layer("violations")
    row = frame_to_rows(session, layer, campus, checked.frame)[0]
    violation = Violation(campus_id=campus.id, **row)
    session.add(violation)
    session.flush()
    session.add(AuditEntry(
        actor=actor, action="create", layer=layer.id, feature_id=violation.id, campus_id=campus.id,
        after={k: _plain_value(v) for k, v in row.items()}, reason="recorded",
    ))
    return violation


# ---------------------------------------------------------------- reading for analysis (patrolmap.analysis)


def violation_subset(
    session: Session,
    *,
    campus_id: CampusFilter = None,
    columns: Sequence[str] = VIOLATION_ANALYSIS_COLUMNS,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    kinds: Sequence[str] | None = None,
    local_hours: Collection[int] | None = None,
    weekdays: Collection[int] | None = None,
    with_plate: bool = False,
) -> pd.DataFrame:
    """Live violations narrowed in SQL by local dates, kinds, local hours and weekdays, as numpy columns.

    The conditions are exact; patrolmap.analysis.timewindow makes the finer selection (minutes,
    calendar days) on what this returns. Read on the raw driver cursor, and when every column
    is a number (local_date travels as a day number) as one float array: a million rows in
    well under a second, where Row objects and a date object per row took seconds.
    """
    v = Violation.__table__
    dialect = session.get_bind().dialect.name
    sqlite = dialect == "sqlite"
    selected = [_day_number(v.c.local_date, sqlite).label("local_date") if c == "local_date" else v.c[c]
                for c in columns]
    stmt = select(*selected).where(v.c.deleted_at.is_(None), v.c.status != "void")
    stmt = _where_campus(stmt, v.c.campus_id, campus_id)
    # The raw driver gets the parameters as they are: SQLite stores dates as ISO text.
    if date_from is not None:
        stmt = stmt.where(v.c.local_date >= (date_from.isoformat() if sqlite else date_from))
    if date_to is not None:
        stmt = stmt.where(v.c.local_date <= (date_to.isoformat() if sqlite else date_to))
    if kinds is not None:
        stmt = stmt.where(v.c.kind.in_(list(kinds)))
    if local_hours is not None and len(local_hours) < 24:
        stmt = stmt.where(v.c.local_hour.in_(sorted(local_hours)))
    if weekdays is not None and len(weekdays) < 7:
        stmt = stmt.where(v.c.local_weekday.in_(sorted(weekdays)))
    if with_plate:
        stmt = stmt.where(v.c.plate.is_not(None), v.c.plate != "", v.c.plate != "无牌")
    numeric = all(c in _NUMERIC_COLUMNS for c in columns)
    if numeric and not sqlite:
        values: list[Any] = _packed_columns(session, stmt, columns)
    else:
        cursor = session.connection().connection.cursor()
        try:
            cursor.execute(*_compiled(session, stmt))
            rows = cursor.fetchall()
        finally:
            cursor.close()
        if numeric:
            matrix = np.array(rows, dtype=float).reshape(len(rows), len(columns))
            values = [matrix[:, i] for i in range(len(columns))]
        else:
            values = [np.array(c, dtype=object) for c in zip(*rows, strict=True)] if rows else [
                np.zeros(0, dtype=object) for _ in columns]
    out: dict[str, Any] = {}
    for name, column in zip(columns, values, strict=True):
        if name == "local_date":
            out[name] = np.asarray(column, dtype=float).astype(np.int64).astype("datetime64[D]")
        elif name in ("lon", "lat"):
            out[name] = np.asarray(column, dtype=float)
        elif name in _NUMERIC_COLUMNS:
            out[name] = np.asarray(column, dtype=float).astype(np.int64)
        else:
            out[name] = column
    return pd.DataFrame(out)


_NUMERIC_COLUMNS = frozenset({"id", "campus_id", "lon", "lat", "local_date", "local_hour", "local_minute",
                              "local_weekday"})


# How PostgreSQL packs each numeric column into bytes (its binary send functions, big-endian).
_BINARY_TYPES = {"id": ("int4send", ">i4"), "campus_id": ("int4send", ">i4"), "lon": ("float8send", ">f8"),
                 "lat": ("float8send", ">f8"), "local_date": ("int4send", ">i4"),
                 "local_hour": ("int2send", ">i2"), "local_minute": ("int2send", ">i2"),
                 "local_weekday": ("int2send", ">i2")}


def _packed_columns(session: Session, stmt: Select, columns: Sequence[str]) -> list[np.ndarray]:
    """Numeric columns as one packed bytea each, unpacked by numpy (PostgreSQL).

    The server concatenates each column's binary values (all aggregates of one query see
    the rows in the same order), so a million rows cross as one row of a few bytea values
    instead of a million tuples: about four times faster.
    """
    sub = stmt.subquery()
    packed = [func.string_agg(getattr(func, _BINARY_TYPES[c][0])(sub.c[c]), literal_column("''::bytea"))
              for c in columns]
    cursor = session.connection().connection.cursor()
    try:
        cursor.execute(*_compiled(session, select(*packed)))
        row = cursor.fetchone()
    finally:
        cursor.close()
    return [np.frombuffer(bytes(value or b""), dtype=_BINARY_TYPES[c][1]).astype(float)
            for c, value in zip(columns, row, strict=True)]


def _day_number(column: Any, sqlite: bool) -> Any:
    """Days since 1970-01-01 of a date column, computed by the database."""
    if sqlite:
        return cast(func.julianday(column) - 2440587.5, Integer)
    return column - func.make_date(1970, 1, 1)


def plate_violation_ids(
    session: Session, plate: str, *, campus_id: CampusFilter = None, date_from: dt.date | None = None,
    date_to: dt.date | None = None,
) -> list[int]:
    """Ids of the live violations of one car, oldest first: plates compared without separators, in capitals."""
    from patrolmap.geo.plates import normalise_plate

    v = Violation.__table__
    wanted = normalise_plate(plate)
    bare: Any = v.c.plate
    for separator in (" ", "·", "•", ".", "-", "\t"):
        bare = func.replace(bare, separator, "")
    stmt = select(v.c.id, v.c.plate).where(v.c.deleted_at.is_(None), v.c.status != "void", func.upper(bare) == wanted)
    if date_from is not None:
        stmt = stmt.where(v.c.local_date >= date_from)
    if date_to is not None:
        stmt = stmt.where(v.c.local_date <= date_to)
    stmt = _where_campus(stmt, v.c.campus_id, campus_id).order_by(v.c.observed_at, v.c.id)
    # SQL's upper() may leave non-ASCII letters alone; the exact comparison is made here.
    return [i for i, p in session.execute(stmt) if p is not None and normalise_plate(p) == wanted]
