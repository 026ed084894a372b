"""Marked hotspots: polygons traffic staff draw (or confirm from the computed ones), and their counts.

Rows are written through the same validation as imports (the "hotspots" layer schema);
every create, edit and delete leaves an audit entry with before and after, deletes are
soft (deleted_at, deleted_reason), and edits are guarded by the row's version.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

import numpy as np
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from patrolmap.errors import Conflict, NotFound
from patrolmap.geo.validate import CheckedLayer
from patrolmap.layers import get_layer
from patrolmap.models import AuditEntry, Campus, MarkedHotspot, Violation, utcnow
from patrolmap.store import _plain_value, fetch_columns, frame_to_rows

LAYER = "hotspots"
FIELDS = ("name", "kind", "hours", "note")
COLUMNS = ("id", "campus_id", "source_id", *FIELDS, "version", "created_at", "updated_at", "deleted_at",
           "deleted_reason", "geom")
COUNT_COLUMNS = ("lon", "lat", "local_date", "local_hour", "local_minute", "local_weekday", "kind")


def hotspot_rows(
    session: Session, *, campus_ids: int | Collection[int] | None, ids: Sequence[int] | None = None,
    include_deleted: bool = False,
) -> list[dict[str, Any]]:
    """Hotspots as dicts (geometry as shapely), oldest first."""
    stmt = select(*(getattr(MarkedHotspot, c) for c in COLUMNS)).order_by(MarkedHotspot.id)
    if campus_ids is not None:
        stmt = stmt.where(MarkedHotspot.campus_id.in_([campus_ids] if isinstance(campus_ids, int)
                                                      else sorted(campus_ids)))
    if ids is not None:
        stmt = stmt.where(MarkedHotspot.id.in_(list(ids)))
    if not include_deleted:
        stmt = stmt.where(MarkedHotspot.deleted_at.is_(None))
    columns = fetch_columns(session, stmt)
    names = list(columns)
    return [dict(zip(names, values, strict=True)) for values in zip(*columns.values(), strict=True)]


def get_hotspot(session: Session, hotspot_id: int, campus_ids: Collection[int] | None) -> dict[str, Any]:
    """One hotspot the caller may see, deleted or not; NotFound for others, as if absent."""
    rows = hotspot_rows(session, campus_ids=campus_ids, ids=[hotspot_id], include_deleted=True)
    if not rows:
        raise NotFound("unknown hotspot %(id)s", id=hotspot_id)
    return rows[0]


def _audit_values(row: dict[str, Any]) -> dict[str, Any]:
    return {k: _plain_value(row[k]) for k in (*FIELDS, "geom") if k in row}


def create_hotspot(session: Session, campus: Campus, checked: CheckedLayer, *, actor: str) -> int:
    """Store one validated hotspot (inside the caller's transaction) and audit it."""
    row = frame_to_rows(session, get_layer(LAYER), campus, checked.frame)[0]
    hotspot = MarkedHotspot(campus_id=campus.id, **row)
    session.add(hotspot)
    session.flush()
    session.add(AuditEntry(actor=actor, action="create", layer=LAYER, feature_id=hotspot.id, campus_id=campus.id,
                           after=_audit_values(row), reason="marked on the map"))
    return hotspot.id


def _locked(session: Session, hotspot_id: int, campus_ids: Collection[int] | None, version: int | None,
            ) -> dict[str, Any]:
    """The live row to change, after the version check."""
    row = get_hotspot(session, hotspot_id, campus_ids)
    if row["deleted_at"] is not None:
        raise Conflict("hotspot %(id)s was deleted; it can no longer change", id=hotspot_id)
    if version is not None and version != row["version"]:
        raise Conflict("hotspot %(id)s has changed since you read it (version %(current)s, you sent %(sent)s); "
                       "reload it and try again", id=hotspot_id, current=row["version"], sent=version,
                       details={"version": row["version"]})
    return row


def _guarded_update(session: Session, row: dict[str, Any], values: dict[str, Any]) -> int:
    done = session.execute(update(MarkedHotspot).where(MarkedHotspot.id == row["id"],
                                                       MarkedHotspot.version == row["version"])
                           .values(**values, version=row["version"] + 1, updated_at=utcnow()))
    if done.rowcount != 1:
        raise Conflict("hotspot %(id)s was changed by someone else just now; reload it and try again",
                       id=row["id"])
    return row["version"] + 1


def update_hotspot(
    session: Session, hotspot_id: int, campus: Campus, checked: CheckedLayer, *, version: int, actor: str,
    reason: str | None, campus_ids: Collection[int] | None,
) -> int:
    """Replace a hotspot's geometry and fields (inside the caller's transaction); return the new version.

    Unchanged values are left alone (and out of the audit entry); an edit that changes
    nothing changes nothing, version included.
    """
    row = _locked(session, hotspot_id, campus_ids, version)
    new = frame_to_rows(session, get_layer(LAYER), campus, checked.frame)[0]
    new.pop("source_id")
    changed = {k: v for k, v in new.items() if not _same(row.get(k), v) and k not in ("minx", "miny", "maxx", "maxy")}
    if not changed:
        return row["version"]
    bounds = dict(zip(("minx", "miny", "maxx", "maxy"), new["geom"].bounds, strict=True))
    version_after = _guarded_update(session, row, {**changed, **bounds})
    session.add(AuditEntry(actor=actor, action="update", layer=LAYER, feature_id=hotspot_id,
                           campus_id=row["campus_id"], before=_audit_values({k: row[k] for k in changed}),
                           after=_audit_values(changed), reason=reason or "edited"))
    return version_after


def _same(old: Any, new: Any) -> bool:
    if isinstance(old, BaseGeometry) or isinstance(new, BaseGeometry):
        return old is not None and new is not None and shapely.equals_exact(old, new, tolerance=0)
    return old == new


def delete_hotspot(
    session: Session, hotspot_id: int, *, reason: str, version: int | None, actor: str,
    campus_ids: Collection[int] | None,
) -> int:
    """Soft-delete a hotspot (inside the caller's transaction): it leaves maps and lists, and stays stored."""
    row = _locked(session, hotspot_id, campus_ids, version)
    now = utcnow()
    version_after = _guarded_update(session, row, {"deleted_at": now, "deleted_reason": reason})
    session.add(AuditEntry(actor=actor, action="delete", layer=LAYER, feature_id=hotspot_id,
                           campus_id=row["campus_id"], before={"deleted_at": None},
                           after={"deleted_at": now.isoformat()}, reason=reason))
    return version_after


# ---------------------------------------------------------------- counts


def count_in_hotspots(
    session: Session, hotspots: Sequence[dict[str, Any]], select_mask: Any,
) -> dict[int, int]:
    """How many live violations of each hotspot's campus fall inside it (its boundary included).

    select_mask(table) -> bool array chooses the violations of the time window (dates, days,
    hours, kinds); it sees the columns of COUNT_COLUMNS. Void and deleted violations never count.
    """
    counts: dict[int, int] = {}
    by_campus: dict[int, list[dict[str, Any]]] = {}
    for h in hotspots:
        by_campus.setdefault(h["campus_id"], []).append(h)
    for campus_id, group in by_campus.items():
        x0, y0, x1, y1 = shapely.total_bounds(np.asarray([h["geom"] for h in group], dtype=object))
        stmt = select(*(getattr(Violation, c) for c in COUNT_COLUMNS)).where(
            Violation.campus_id == campus_id, Violation.deleted_at.is_(None), Violation.status != "void",
            Violation.lon >= x0, Violation.lon <= x1, Violation.lat >= y0, Violation.lat <= y1)
        table = pd.DataFrame(fetch_columns(session, stmt), columns=list(COUNT_COLUMNS))
        chosen = table[select_mask(table)] if len(table) else table
        lon = chosen["lon"].to_numpy(dtype=float)
        lat = chosen["lat"].to_numpy(dtype=float)
        for h in group:
            geom = h["geom"]
            shapely.prepare(geom)
            counts[h["id"]] = int(shapely.intersects_xy(geom, lon, lat).sum()) if len(lon) else 0
    return counts
