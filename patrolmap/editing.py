"""Editing the campus's base layers feature by feature: the store logic behind patrolmap.web.edit_api.

A security department's map changes every week (a road turns one-way, a fire lane is repainted, a
checkpoint is added), so admins and, for their own layers, the roles of EDIT_ROLES keep it current
from the browser and from scripts through one API. Every write here:

* is validated by the layer's schema exactly as an import is (patrolmap.geo.validate.validate_layer,
  the campus's time zone, the campus's extent as reference);
* is guarded by the feature's version (UPDATE ... WHERE version = n), so that of two people editing
  the same feature the second is refused, never silently overwrites;
* leaves an audit entry ("create", "update", "delete" or "revert") whose before/after hold the
  schema's fields with the geometry as WKT under "geom", so that an admin can revert it.

Deletes are hard deletes (base layers are not evidence), with the whole feature kept in the audit
entry's "before" (fields, geom, source_id and the links of LINKS), from which a revert re-creates it.
A feature something else refers to (a checkpoint on a saved route, a building with hazards, a zone
with buildings) is not deleted: the refusal names what refers to it. Everything runs inside the
caller's transaction (patrolmap.database.write_transaction); functions take a Session.
"""

from __future__ import annotations

import datetime as dt
import math
import uuid
import zoneinfo
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shapely
from shapely.geometry import LineString, MultiLineString, Point
from shapely.geometry.base import BaseGeometry
from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session

from patrolmap.analysis.hexgrid import LocalProjection
from patrolmap.errors import N_, BadRequest, Conflict, NotFound
from patrolmap.geo.schema import SCHEMAS
from patrolmap.geo.validate import CheckedLayer, RawFeature, ValidationError, validate_layer
from patrolmap.importing import as_http_error
from patrolmap.layers import Layer, get_layer
from patrolmap.models import (
    AuditEntry,
    Building,
    Campus,
    Checkpoint,
    CheckpointTag,
    GridZone,
    Hazard,
    Officer,
    PatrolCheckin,
    PatrolRoute,
    User,
    utcnow,
)
from patrolmap.store import MAX_ID, _plain_value, campus_extent, fetch_columns, frame_to_rows

# Who edits which layer (admins everything; the others their own layers).
EDIT_ROLES: dict[str, frozenset[str]] = {
    "buildings": frozenset({"admin", "planner"}),
    "grid-zones": frozenset({"admin"}),
    "paths": frozenset({"admin", "patrol_lead", "traffic_staff"}),
    "checkpoints": frozenset({"admin", "patrol_lead"}),
    "parking-lots": frozenset({"admin", "traffic_staff", "planner"}),
    "chargers": frozenset({"admin", "planner"}),
    "duty-posts": frozenset({"admin", "traffic_staff"}),
}
# Everyone who edits some layer: the access table lets them in, the layer's own roles decide inside.
EDITORS: frozenset[str] = frozenset().union(*EDIT_ROLES.values())
# Columns outside the schema that a deleted feature's before-image keeps, with the table each points at:
# restored by a revert when that row still exists (on the same campus).
LINKS: dict[str, dict[str, type]] = {
    "buildings": {"grid_zone_id": GridZone},
    "grid-zones": {"officer_user_id": User},
    "checkpoints": {"building_id": Building},
}
REVERTABLE_ACTIONS = ("create", "update", "delete", "revert")
# A path is split where a click lands on it: no farther from it than this, and not at one of its ends.
SPLIT_MAX_DISTANCE_M = 10.0
SPLIT_MIN_PIECE_M = 0.5
# Two paths are joined only where an end of one is (within rounding) an end of the other.
JOIN_TOLERANCE_DEG = 1e-7
# Stored values and an audit entry's values are "the same" within these (floats, geometry in degrees).
MATCH_TOLERANCE = 1e-9
_BOX = ("minx", "miny", "maxx", "maxy")


@dataclass
class Written:
    """What a write did: the feature's id and version after it, its audit entry, and validation warnings."""

    id: int
    version: int
    audit_id: int | None
    warnings: list[str] = field(default_factory=list)


# ---------------------------------------------------------------- layers and reading


def editable_layer(layer_id: str) -> Layer:
    """The layer, if it is edited here; NotFound otherwise (violations, hotspots, hazards have their own APIs)."""
    if layer_id not in EDIT_ROLES:
        raise NotFound("unknown layer %(layer)s; the layers edited here are %(layers)s", layer=repr(layer_id),
                       layers=", ".join(EDIT_ROLES))
    return get_layer(layer_id)


def may_edit(roles: Collection[str], layer_id: str) -> bool:
    return bool(set(roles) & EDIT_ROLES.get(layer_id, frozenset()))


def fields(layer_id: str) -> tuple[str, ...]:
    """The layer's schema fields, in order: what an item carries and an edit may set."""
    return SCHEMAS[layer_id].field_names


def read_item(session: Session, layer_id: str, item_id: int, campus_ids: Collection[int] | None) -> dict[str, Any]:
    """One feature as a dict: id, source_id, campus_id, version, times, the schema's fields, links and geom.

    NotFound for an unknown id or another campus's feature, as if absent.
    """
    layer = editable_layer(layer_id)
    if not 0 <= item_id <= MAX_ID:  # a JSON body can name any number (join, split); SQLite cannot compare it
        raise NotFound("unknown %(layer)s item %(id)s", layer=layer_id, id=item_id)
    model = layer.model
    names = ["id", "source_id", "campus_id", "version", "created_at", "updated_at", *layer.columns,
             *LINKS.get(layer_id, {}), "geom"]
    if layer_id == "grid-zones":
        names.append("officer_id")
    stmt = select(*(getattr(model, n) for n in names)).where(model.id == item_id)
    if campus_ids is not None:
        stmt = stmt.where(model.campus_id.in_(sorted(campus_ids)))
    columns = fetch_columns(session, stmt)
    if not columns["id"]:
        raise NotFound("unknown %(layer)s item %(id)s", layer=layer_id, id=item_id)
    row = {name: values[0] for name, values in columns.items()}
    if layer_id == "grid-zones":
        officer = session.get(Officer, row["officer_id"]) if row["officer_id"] is not None else None
        row["officer"] = officer.name if officer else None
        row["officer_phone"] = officer.phone if officer else None
    return row


def item_properties(session: Session, layer_id: str, row: dict[str, Any]) -> dict[str, Any]:
    """An item's GeoJSON properties: the schema's fields, version, campus (slug), updated_at in local time."""
    campus = session.get(Campus, row["campus_id"])
    zone = zoneinfo.ZoneInfo(campus.timezone) if campus else dt.UTC
    props = {f: row[f] for f in fields(layer_id)}
    for key, value in props.items():
        if isinstance(value, float) and not math.isfinite(value):
            props[key] = None
    props.update(version=row["version"], campus=campus.slug if campus else None,
                 updated_at=row["updated_at"].astimezone(zone).isoformat())
    return props


def _image(layer_id: str, row: dict[str, Any]) -> dict[str, Any]:
    """A feature's values as the audit log keeps them: fields, geom as WKT, source_id and links (those in row)."""
    keys = [*fields(layer_id), "geom", "source_id", *LINKS.get(layer_id, {})]
    return {k: _plain_value(row[k]) for k in keys if k in row}


# ---------------------------------------------------------------- validation


def check_feature(
    session: Session, layer_id: str, campus: Campus, geometry: BaseGeometry | None, values: dict[str, Any],
    *, source_id: str | None = None,
) -> CheckedLayer:
    """Validate one feature as an import would (campus time zone and extent); 422 with the fields otherwise."""
    raw = RawFeature(0, source_id or f"edit:{uuid.uuid4().hex}", geometry, dict(values))
    try:
        return validate_layer(layer_id, [raw], timezone=campus.timezone, reference=campus_extent(session, campus))
    except ValidationError as exc:
        raise as_http_error(exc, single=True) from None


def _checked_values(layer_id: str, checked: CheckedLayer) -> dict[str, Any]:
    """The one validated feature's fields and geom, as plain Python values."""
    frame = checked.frame
    values = {f: _python(frame[f].iloc[0]) for f in fields(layer_id)}
    values["geom"] = frame.geometry.iloc[0]
    return values


def _python(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _same(old: Any, new: Any) -> bool:
    if isinstance(old, BaseGeometry) or isinstance(new, BaseGeometry):
        return old is not None and new is not None and shapely.equals_exact(old, new, tolerance=0)
    if isinstance(old, (int, float)) and isinstance(new, (int, float)) and not isinstance(old, bool) \
            and not isinstance(new, bool):
        return old == new
    return type(old) is type(new) and old == new


# ---------------------------------------------------------------- writing


def _locked(session: Session, layer_id: str, item_id: int, campus_ids: Collection[int] | None,
            version: int | None) -> dict[str, Any]:
    """The feature to change, after the version check (409 with the current version when it moved on)."""
    row = read_item(session, layer_id, item_id, campus_ids)
    if version is not None and version != row["version"]:
        raise Conflict("%(layer)s item %(id)s has changed since you read it (version %(current)s, you sent "
                       "%(sent)s); reload it and try again", layer=layer_id, id=item_id, current=row["version"],
                       sent=version, details={"version": row["version"]})
    return row


def _guarded_update(session: Session, layer: Layer, row: dict[str, Any], values: dict[str, Any]) -> int:
    model = layer.model
    done = session.execute(update(model).where(model.id == row["id"], model.version == row["version"])
                           .values(**values, version=row["version"] + 1, updated_at=utcnow()))
    if done.rowcount != 1:
        raise Conflict("%(layer)s item %(id)s was changed by someone else just now; reload it and try again",
                       layer=layer.id, id=row["id"])
    return row["version"] + 1


def _audit(session: Session, **values: Any) -> int:
    entry = AuditEntry(**values)
    session.add(entry)
    session.flush()
    return entry.id


def _fresh_id(session: Session, layer: Layer) -> int | None:
    """On SQLite, an id never given before in this layer (SQLite hands out a deleted highest rowid again,
    which would make the audit log's feature ids ambiguous); PostgreSQL's sequence never does."""
    if session.get_bind().dialect.name != "sqlite":
        return None
    model = layer.model
    top = session.scalar(select(func.max(model.id))) or 0
    audited = session.scalar(select(func.max(AuditEntry.feature_id)).where(AuditEntry.layer == layer.id)) or 0
    return max(top, audited) + 1


def _insert(session: Session, layer: Layer, campus: Campus, checked: CheckedLayer, *,
            item_id: int | None = None, links: dict[str, Any] | None = None) -> int:
    row = frame_to_rows(session, layer, campus, checked.frame)[0]
    feature = layer.model(campus_id=campus.id, version=1, **row, **(links or {}))
    feature.id = item_id if item_id is not None else _fresh_id(session, layer)
    session.add(feature)
    session.flush()
    return feature.id


def create_item(
    session: Session, layer_id: str, campus: Campus, geometry: BaseGeometry | None, values: dict[str, Any], *,
    actor: str, reason: str | None = None, source_id: str | None = None,
) -> Written:
    """Validate and store a new feature; audited as "create" with all its values."""
    layer = editable_layer(layer_id)
    checked = check_feature(session, layer_id, campus, geometry, values, source_id=source_id)
    new_id = _insert(session, layer, campus, checked)
    image = {**_checked_values(layer_id, checked), "source_id": checked.frame["source_id"].iloc[0]}
    audit_id = _audit(session, actor=actor, action="create", layer=layer_id, feature_id=new_id, campus_id=campus.id,
                      after=_image(layer_id, image), reason=reason)
    return Written(new_id, 1, audit_id, list(checked.warnings))


def replace_item(
    session: Session, layer_id: str, item_id: int, geometry: BaseGeometry | None, values: dict[str, Any], *,
    version: int, actor: str, reason: str | None, campus_ids: Collection[int] | None, action: str = "update",
) -> Written:
    """Replace a feature's geometry and fields (unset fields take their defaults).

    Only what changed is written and audited; an edit that changes nothing changes nothing, version included.
    """
    row = _locked(session, layer_id, item_id, campus_ids, version)
    campus = session.get(Campus, row["campus_id"])
    checked = check_feature(session, layer_id, campus, geometry, values)
    return _write_checked(session, layer_id, row, campus, checked, actor=actor, reason=reason, action=action)


def patch_item(
    session: Session, layer_id: str, item_id: int, geometry: BaseGeometry | None, values: dict[str, Any], *,
    version: int, actor: str, reason: str | None, campus_ids: Collection[int] | None,
) -> Written:
    """Change some fields and/or the geometry; the rest stays as stored. Validated whole, like a replacement."""
    row = _locked(session, layer_id, item_id, campus_ids, version)
    merged = {f: row[f] for f in fields(layer_id)} | values
    campus = session.get(Campus, row["campus_id"])
    checked = check_feature(session, layer_id, campus, row["geom"] if geometry is None else geometry, merged)
    return _write_checked(session, layer_id, row, campus, checked, actor=actor, reason=reason, action="update")


def _write_checked(session: Session, layer_id: str, row: dict[str, Any], campus: Campus, checked: CheckedLayer, *,
                   actor: str, reason: str | None, action: str) -> Written:
    layer = get_layer(layer_id)
    new = _checked_values(layer_id, checked)
    changed = [k for k in (*fields(layer_id), "geom") if not _same(row.get(k), new[k])]
    if not changed:
        return Written(row["id"], row["version"], None, list(checked.warnings))
    columns = frame_to_rows(session, layer, campus, checked.frame)[0]
    values = {k: columns[k] for k in changed if k in columns}
    if "geom" in changed:
        values.update(dict(zip(_BOX, new["geom"].bounds, strict=True)))
    if layer_id == "grid-zones" and ("officer" in changed or "officer_phone" in changed):
        values["officer_id"] = columns["officer_id"]
    version_after = _guarded_update(session, layer, row, values)
    audit_id = _audit(session, actor=actor, action=action, layer=layer_id, feature_id=row["id"],
                      campus_id=row["campus_id"], before={k: _plain_value(row[k]) for k in changed},
                      after={k: _plain_value(new[k]) for k in changed}, reason=reason)
    return Written(row["id"], version_after, audit_id, list(checked.warnings))


def delete_item(
    session: Session, layer_id: str, item_id: int, *, version: int | None, actor: str, reason: str | None,
    campus_ids: Collection[int] | None, action: str = "delete",
) -> int:
    """Delete a feature (hard) after checking nothing refers to it; return the audit entry's id.

    The entry's "before" keeps the whole feature (fields, geom, source_id, links), so that a revert
    can re-create it.
    """
    layer = editable_layer(layer_id)
    row = _locked(session, layer_id, item_id, campus_ids, version)
    check_unreferenced(session, layer_id, row)
    model = layer.model
    done = session.execute(delete(model).where(model.id == item_id, model.version == row["version"]))
    if done.rowcount != 1:
        raise Conflict("%(layer)s item %(id)s was changed by someone else just now; reload it and try again",
                       layer=layer_id, id=item_id)
    return _audit(session, actor=actor, action=action, layer=layer_id, feature_id=item_id,
                  campus_id=row["campus_id"], before=_image(layer_id, row), reason=reason)


def _names(values: Sequence[Any], limit: int = 5) -> str:
    shown = ", ".join(f'"{v}"' for v in values[:limit])
    return shown + (" ..." if len(values) > limit else "")


def check_unreferenced(session: Session, layer_id: str, row: dict[str, Any]) -> None:
    """409 when something refers to the feature, naming what; checked with queries, before any write.

    Checkpoints: stops or starts of live saved routes, check-ins, QR plaques, and starts of deleted routes
    (kept for their check-ins). Buildings: hazards and checkpoints placed at them. Grid zones: their buildings
    and hazards. The message names the first; details.references lists them all.
    """
    item_id = row["id"]
    found: list[tuple[str, str, list[str], int]] = []  # (template, what, names, count)
    if layer_id == "checkpoints":
        routes = session.execute(select(PatrolRoute.name, PatrolRoute.checkpoint_ids, PatrolRoute.start_checkpoint_id,
                                        PatrolRoute.deleted_at).where(PatrolRoute.campus_id == row["campus_id"])
                                 .order_by(PatrolRoute.id)).all()
        live = [r.name for r in routes if r.deleted_at is None
                and (item_id in (r.checkpoint_ids or []) or r.start_checkpoint_id == item_id)]
        dead = [r.name for r in routes if r.deleted_at is not None and r.start_checkpoint_id == item_id]
        found += [
            (N_("checkpoint %(id)s is a stop of saved route %(names)s; take it off the route first"), "saved_routes",
             live, len(live)),
            (N_("checkpoint %(id)s has %(count)s check-in(s) on record, which must keep it"), "checkins", [],
             _count(session, PatrolCheckin.checkpoint_id, item_id)),
            (N_("checkpoint %(id)s has %(count)s QR plaque(s) issued for it"), "tags", [],
             _count(session, CheckpointTag.checkpoint_id, item_id)),
            (N_("checkpoint %(id)s is the start of deleted saved route %(names)s, kept for its records"),
             "deleted_routes", dead, len(dead)),
        ]
    elif layer_id == "buildings":
        points = list(session.scalars(select(Checkpoint.name).where(Checkpoint.building_id == item_id)
                                      .order_by(Checkpoint.id)))
        found += [
            (N_("building %(id)s has %(count)s hazard(s) on record"), "hazards", [],
             _count(session, Hazard.building_id, item_id)),
            (N_("building %(id)s is the place of checkpoint %(names)s"), "checkpoints", points, len(points)),
        ]
    elif layer_id == "grid-zones":
        found += [
            (N_("grid zone %(id)s still holds %(count)s building(s); move them to another zone first"),
             "buildings", [], _count(session, Building.grid_zone_id, item_id)),
            (N_("grid zone %(id)s has %(count)s hazard(s) on record"), "hazards", [],
             _count(session, Hazard.zone_id, item_id)),
        ]
    found = [f for f in found if f[3]]
    if found:
        references = [{"kind": what, "count": count, "names": names,
                       "message": template % {"id": item_id, "names": _names(names), "count": count}}
                      for template, what, names, count in found]
        template, _, names, count = found[0]
        raise Conflict(template, id=item_id, names=_names(names), count=count, details={"references": references})


def _count(session: Session, column: Any, item_id: int) -> int:
    return int(session.scalar(select(func.count()).where(column == item_id)) or 0)


# ---------------------------------------------------------------- paths: split and join


def split_path(
    session: Session, item_id: int, at: tuple[float, float], *, version: int, actor: str, reason: str | None,
    campus_ids: Collection[int] | None,
) -> tuple[Written, Written]:
    """Cut a path in two where `at` (lon, lat) falls on it; both pieces keep its fields.

    `at` is snapped onto the line (measured in metres in a local projection): 400 if it is farther than
    SPLIT_MAX_DISTANCE_M from it or within SPLIT_MIN_PIECE_M of an end. The first piece keeps the id
    (audited as an update of its geometry), the second is new (audited as a create), with the source id
    "<old source id or 'edit'>:split:<8 hex>". The original vertices stay exactly as they were; the cut
    point is a vertex of both pieces.
    """
    row = _locked(session, "paths", item_id, campus_ids, version)
    first, second = split_line(row["geom"], at)
    values = {f: row[f] for f in fields("paths")}
    piece_a = replace_item(session, "paths", item_id, first, values, version=version, actor=actor,
                           reason=reason or f"split at {at[0]:.7f}, {at[1]:.7f}", campus_ids=campus_ids)
    campus = session.get(Campus, row["campus_id"])
    source = f"{row['source_id'] or 'edit'}:split:{uuid.uuid4().hex[:8]}"
    piece_b = create_item(session, "paths", campus, second, values, actor=actor, source_id=source,
                          reason=reason or f"split from path {item_id}")
    return piece_a, piece_b


def split_line(line: LineString, at: tuple[float, float]) -> tuple[LineString, LineString]:
    """The two pieces of `line` (lon/lat) cut at the point of it nearest `at`, measured in metres."""
    coords = np.asarray(line.coords)[:, :2]
    centre = line.centroid
    projection = LocalProjection(centre.x, centre.y)
    x, y = projection.forward(coords[:, 0], coords[:, 1])
    metric = LineString(np.column_stack([x, y]))
    px, py = projection.forward(np.array([at[0]]), np.array([at[1]]))
    point = Point(float(px[0]), float(py[0]))
    distance = metric.distance(point)
    if distance > SPLIT_MAX_DISTANCE_M:
        raise BadRequest("the point is %(distance)s m from the path; split it at a point within %(max)s m of it",
                         distance=f"{distance:.1f}", max=f"{SPLIT_MAX_DISTANCE_M:g}")
    along = float(shapely.line_locate_point(metric, point))
    if along < SPLIT_MIN_PIECE_M or along > metric.length - SPLIT_MIN_PIECE_M:
        raise BadRequest("the point is at an end of the path; split it somewhere between its ends")
    steps = np.hypot(np.diff(x), np.diff(y))
    cumulative = np.concatenate([[0.0], np.cumsum(steps)])
    nearest = int(np.argmin(np.abs(cumulative - along)))
    points = [tuple(c) for c in coords.tolist()]
    if abs(cumulative[nearest] - along) < 1e-6:  # at a vertex: cut there, exactly
        return LineString(points[:nearest + 1]), LineString(points[nearest:])
    k = int(np.searchsorted(cumulative, along, side="right")) - 1
    cut_m = shapely.line_interpolate_point(metric, along)
    lon, lat = projection.inverse(np.array([cut_m.x]), np.array([cut_m.y]))
    cut = (float(lon[0]), float(lat[0]))
    return LineString([*points[:k + 1], cut]), LineString([cut, *points[k + 1:]])


def join_paths(
    session: Session, ids: tuple[int, int], versions: tuple[int, int], *, actor: str, reason: str | None,
    campus_ids: Collection[int] | None,
) -> tuple[Written, int]:
    """Join path b onto path a where they share an end: a keeps its fields, id and direction; b is deleted.

    400 when they share no end (within JOIN_TOLERANCE_DEG), are the same path, lie on different campuses,
    or are both one-way in opposite directions. Audited as an update of a and a delete of b.
    """
    a_id, b_id = ids
    if a_id == b_id:
        raise BadRequest("a path cannot be joined with itself")
    a = _locked(session, "paths", a_id, campus_ids, versions[0])
    b = _locked(session, "paths", b_id, campus_ids, versions[1])
    if a["campus_id"] != b["campus_id"]:
        raise BadRequest("paths %(a)s and %(b)s are on different campuses", a=a_id, b=b_id)
    merged, b_reversed = join_lines(a["geom"], b["geom"])
    if b_reversed and a["oneway"] and b["oneway"]:
        raise BadRequest("paths %(a)s and %(b)s are one-way in opposite directions; they cannot be one path",
                         a=a_id, b=b_id)
    values = {f: a[f] for f in fields("paths")}
    written = replace_item(session, "paths", a_id, merged, values, version=versions[0], actor=actor,
                           reason=reason or f"joined with path {b_id}", campus_ids=campus_ids)
    audit_b = delete_item(session, "paths", b_id, version=versions[1], actor=actor,
                          reason=reason or f"joined into path {a_id}", campus_ids=campus_ids)
    return written, audit_b


def join_lines(a: LineString, b: LineString) -> tuple[LineString, bool]:
    """a and b merged into one line running a's way (shapely.line_merge), and whether b runs against it."""
    ca, cb = list(a.coords), list(b.coords)
    pairs = [(-1, 0), (-1, -1), (0, -1), (0, 0)]
    for ea, eb in pairs:
        if math.dist(ca[ea][:2], cb[eb][:2]) <= JOIN_TOLERANCE_DEG:
            break
    else:
        raise BadRequest("the paths do not share an end point; join paths that meet end to end")
    cb[eb] = ca[ea]  # the same point exactly, so that line_merge sees one vertex
    merged = shapely.line_merge(MultiLineString([ca, cb]))
    if merged.geom_type != "LineString":
        raise BadRequest("the paths do not share an end point; join paths that meet end to end")
    start, end = Point(ca[0]), Point(ca[-1])
    if merged.project(start) > merged.project(end):
        merged = merged.reverse()
    # b keeps its direction when it leaves a's end from its start, or reaches a's start at its end.
    b_reversed = (ea, eb) in ((-1, -1), (0, 0))
    return merged, b_reversed


# ---------------------------------------------------------------- revert


def revert_tag(entry_id: int) -> str:
    """How a revert's audit entry names the entry it reverts (the start of its reason)."""
    return f"revert of audit entry {entry_id}"


def revertable(entry: AuditEntry | dict[str, Any]) -> bool:
    """Whether an audit entry is of a kind revert_entry can undo (it may still refuse: changed since)."""
    get = entry.get if isinstance(entry, dict) else lambda k: getattr(entry, k)
    if get("layer") not in EDIT_ROLES or get("action") not in REVERTABLE_ACTIONS or get("feature_id") is None:
        return False
    before, after = get("before"), get("after")
    if before and after:
        return _plain_keys(get("layer"), before) and _plain_keys(get("layer"), after)
    if before:
        return "geom" in before and _plain_keys(get("layer"), before)
    return bool(after)


def _plain_keys(layer_id: str, values: dict[str, Any]) -> bool:
    """Values this module wrote: schema fields, geom, source_id, links (grid_api's entries hold other keys)."""
    allowed = {*fields(layer_id), "geom", "source_id", *LINKS.get(layer_id, {})}
    if not set(values) <= allowed:
        return False
    return not (layer_id == "grid-zones" and not isinstance(values.get("officer", ""), (str, type(None))))


def _matches(current: Any, stored: Any) -> bool:
    """Whether a stored value equals what an audit entry recorded (geometry as WKT; floats within tolerance)."""
    if isinstance(current, BaseGeometry):
        if not isinstance(stored, str):
            return False
        try:
            recorded = shapely.from_wkt(stored)
        except shapely.errors.GEOSException:
            return False
        return bool(shapely.equals_exact(current, recorded, tolerance=MATCH_TOLERANCE))
    if isinstance(current, dt.datetime):
        return current.isoformat() == stored
    numbers = (int, float)
    if (isinstance(current, numbers) and isinstance(stored, numbers) and not isinstance(current, bool)
            and not isinstance(stored, bool)):
        return math.isclose(current, stored, rel_tol=MATCH_TOLERANCE, abs_tol=MATCH_TOLERANCE)
    return current == stored and type(current) is type(stored)


def _changed_since(layer_id: str, row: dict[str, Any], recorded: dict[str, Any]) -> list[str]:
    keys = [k for k in recorded if k in (*fields(layer_id), "geom")
            and not (layer_id == "grid-zones" and k == "officer" and not isinstance(recorded[k], (str, type(None))))]
    return [k for k in keys if not _matches(row[k], recorded[k])]


def revert_entry(
    session: Session, entry_id: int, *, actor: str, reason: str | None, campus_ids: Collection[int] | None,
) -> tuple[int, str, int | None]:
    """Undo what an audit entry did; return (the revert's audit entry id, layer, the feature's id or None).

    An update is undone by writing its "before" values back (409 when the feature's values differ from the
    entry's "after": a later change must be reverted first), a create by deleting the feature (409 if it
    changed since, or something refers to it), a delete by re-creating the feature from "before" (with the
    same id when it is free, else a new one). A revert is reverted by the same rules, by what it did.
    Entries of other kinds (imports, sign-ins, violations, hazards, grid-page changes) are 400.
    """
    entry = session.get(AuditEntry, entry_id)
    if entry is None or (campus_ids is not None and entry.campus_id not in campus_ids):
        raise NotFound("unknown audit entry %(id)s", id=entry_id)
    if not revertable(entry):
        raise BadRequest("audit entry %(id)s (%(action)s, %(layer)s) cannot be reverted here: only creates, "
                         "changes and deletes of the edited layers made through the editing API can",
                         id=entry_id, action=entry.action, layer=entry.layer)
    tag = revert_tag(entry_id)
    done = session.scalar(select(AuditEntry.id).where(
        AuditEntry.action == "revert", AuditEntry.layer == entry.layer,
        or_(AuditEntry.reason == tag, AuditEntry.reason.like(tag + ": %"))).limit(1))
    if done is not None:
        raise Conflict("audit entry %(id)s was already reverted by entry %(by)s", id=entry_id, by=done)
    why = f"{tag}: {reason}" if reason else tag
    layer_id, feature_id = entry.layer, entry.feature_id
    before, after = entry.before, entry.after
    if before and after:
        return _revert_update(session, entry, why, actor=actor, campus_ids=campus_ids)
    if after:  # a create: delete what it made
        row = _current(session, layer_id, feature_id, campus_ids, entry_id)
        changed = _changed_since(layer_id, row, after)
        if changed:
            raise _changed_conflict(layer_id, feature_id, entry_id, changed, row)
        audit_id = delete_item(session, layer_id, feature_id, version=row["version"], actor=actor, reason=why,
                               campus_ids=campus_ids, action="revert")
        return audit_id, layer_id, None
    return _recreate(session, entry, why, actor=actor)


def _current(session: Session, layer_id: str, feature_id: int, campus_ids: Collection[int] | None,
             entry_id: int) -> dict[str, Any]:
    try:
        return read_item(session, layer_id, feature_id, campus_ids)
    except NotFound:
        raise Conflict("%(layer)s item %(id)s no longer exists, so audit entry %(entry)s cannot be reverted",
                       layer=layer_id, id=feature_id, entry=entry_id) from None


def _changed_conflict(layer_id: str, feature_id: int, entry_id: int, changed: list[str],
                      row: dict[str, Any]) -> Conflict:
    return Conflict("%(layer)s item %(id)s has changed since audit entry %(entry)s (%(fields)s); revert the later "
                    "change first", layer=layer_id, id=feature_id, entry=entry_id, fields=", ".join(changed),
                    details={"fields": changed, "version": row["version"]})


def _revert_update(session: Session, entry: AuditEntry, why: str, *, actor: str,
                   campus_ids: Collection[int] | None) -> tuple[int, str, int | None]:
    layer_id, feature_id = entry.layer, entry.feature_id
    row = _current(session, layer_id, feature_id, campus_ids, entry.id)
    changed = _changed_since(layer_id, row, entry.after)
    if changed:
        raise _changed_conflict(layer_id, feature_id, entry.id, changed, row)
    values = {f: row[f] for f in fields(layer_id)} | {k: v for k, v in entry.before.items() if k in fields(layer_id)}
    geometry = shapely.from_wkt(entry.before["geom"]) if "geom" in entry.before else row["geom"]
    written = replace_item(session, layer_id, feature_id, geometry, values, version=row["version"], actor=actor,
                           reason=why, campus_ids=campus_ids, action="revert")
    if written.audit_id is None:
        raise BadRequest("audit entry %(id)s changed nothing that could be put back", id=entry.id)
    return written.audit_id, layer_id, feature_id


def _recreate(session: Session, entry: AuditEntry, why: str, *, actor: str) -> tuple[int, str, int | None]:
    """Put a deleted feature back from the entry's before-image: its id if free, its source id if free."""
    layer_id, before = entry.layer, entry.before
    layer = get_layer(layer_id)
    model = layer.model
    campus = session.get(Campus, entry.campus_id)
    if campus is None:
        raise Conflict("the campus of audit entry %(id)s no longer exists", id=entry.id)
    source = before.get("source_id")
    if source is None or session.scalar(select(model.id).where(model.campus_id == campus.id,
                                                               model.source_id == source)) is not None:
        source = f"{source or 'edit'}:restored:{uuid.uuid4().hex[:8]}"
    values = {k: v for k, v in before.items() if k in fields(layer_id)}
    checked = check_feature(session, layer_id, campus, shapely.from_wkt(before["geom"]), values, source_id=source)
    free = session.get(model, entry.feature_id) is None
    links = {}
    for column, target in LINKS.get(layer_id, {}).items():
        linked = before.get(column)
        found = session.get(target, linked) if isinstance(linked, int) else None
        if found is not None and getattr(found, "campus_id", campus.id) == campus.id:
            links[column] = linked
    new_id = _insert(session, layer, campus, checked, item_id=entry.feature_id if free else None, links=links)
    image = {**_checked_values(layer_id, checked), "source_id": source, **links}
    audit_id = _audit(session, actor=actor, action="revert", layer=layer_id, feature_id=new_id,
                      campus_id=campus.id, after=_image(layer_id, image), reason=why)
    return audit_id, layer_id, new_id
