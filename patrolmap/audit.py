"""The audit log: who changed what, when and why; append-only, filtered by scope, exportable.

Entries are written next to the change they describe, in the same transaction
(store, retention, cli), so a change and its record land or fail together.
The ORM refuses to change or delete an entry and the database refuses deletes
(migration 0003); the retention purge is the one writer that rewrites entries,
to anonymise plates inside them, and it records that it did.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event, func, or_, select
from sqlalchemy.orm import Session

from patrolmap.models import AuditEntry, Campus
from patrolmap.wording import AUDIT_REASONS

EXPORT_COLUMNS = ("id", "at", "actor", "action", "layer", "feature_id", "campus", "reason", "before", "after")


class AuditLogIsAppendOnly(RuntimeError):
    pass


@event.listens_for(Session, "before_flush")
def _refuse_audit_changes(session: Session, _context: Any, _instances: Any) -> None:
    for obj in (*session.dirty, *session.deleted):
        if isinstance(obj, AuditEntry) and (obj in session.deleted or session.is_modified(obj)):
            raise AuditLogIsAppendOnly("audit entries are never changed or deleted")


@dataclass(frozen=True)
class AuditFilter:
    """What an admin asks to see; campus_ids and deployment_wide come from their scope."""

    campus_ids: Collection[int] | None = None
    deployment_wide: bool = True
    layer: str | None = None
    actor: str | None = None
    action: str | None = None
    feature_id: int | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None


def _filtered(stmt: Any, f: AuditFilter) -> Any:
    if f.campus_ids is not None:
        in_scope = AuditEntry.campus_id.in_(sorted(f.campus_ids))
        stmt = stmt.where(or_(in_scope, AuditEntry.campus_id.is_(None)) if f.deployment_wide else in_scope)
    elif not f.deployment_wide:
        stmt = stmt.where(AuditEntry.campus_id.is_not(None))
    for column, value in ((AuditEntry.layer, f.layer), (AuditEntry.actor, f.actor), (AuditEntry.action, f.action),
                          (AuditEntry.feature_id, f.feature_id)):
        if value is not None:
            stmt = stmt.where(column == value)
    if f.since is not None:
        stmt = stmt.where(AuditEntry.at >= f.since)
    if f.until is not None:
        stmt = stmt.where(AuditEntry.at < f.until)
    return stmt


def query_audit(session: Session, f: AuditFilter, *, limit: int | None = 100, offset: int = 0) -> list[AuditEntry]:
    """Newest first."""
    stmt = _filtered(select(AuditEntry), f).order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).offset(offset)
    return list(session.scalars(stmt.limit(limit) if limit is not None else stmt))


def count_audit(session: Session, f: AuditFilter) -> int:
    return int(session.scalar(_filtered(select(func.count()).select_from(AuditEntry), f)) or 0)


def entry_dict(entry: AuditEntry, campus_slugs: dict[int, str]) -> dict[str, Any]:
    return {
        "id": entry.id, "at": entry.at.isoformat(), "actor": entry.actor, "action": entry.action,
        "layer": entry.layer, "feature_id": entry.feature_id,
        "campus": campus_slugs.get(entry.campus_id) if entry.campus_id is not None else None,
        "reason": entry.reason, "before": entry.before, "after": entry.after,
    }


def campus_slugs(session: Session) -> dict[int, str]:
    return dict(session.execute(select(Campus.id, Campus.slug)).tuples().all())


def audit_csv(entries: Iterable[dict[str, Any]]) -> str:
    """One row per entry; before/after as JSON text, so nothing is lost in a spreadsheet."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=EXPORT_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in entries:
        writer.writerow({**{k: _cell(v) for k, v in row.items()},
                         "before": _json(row["before"]), "after": _json(row["after"])})
    return out.getvalue()


def _cell(value: Any) -> Any:
    """Keep a spreadsheet from running user text as a formula (CSV injection)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def _json(value: Any) -> str:
    return "" if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True)


def _reason_pattern(template: str) -> re.Pattern[str]:
    parts = re.split(r"%\((\w+)\)s", template)
    return re.compile("".join(re.escape(part) if i % 2 == 0 else f"(?P<{part}>.+?)" for i, part in enumerate(parts)))


# Fixed reasons by their text; templates with placeholders tried longest first, so that
# "revert of audit entry 7: typo" is read with its reason, not as entry "7: typo".
_FIXED_REASONS = frozenset(r for r in AUDIT_REASONS if "%(" not in r)
_REASON_TEMPLATES = sorted(((r, _reason_pattern(r)) for r in AUDIT_REASONS if "%(" in r),
                           key=lambda pair: -len(re.sub(r"%\(\w+\)s", "", pair[0])))


def reason_label(reason: str | None, translate: Callable[[str], str]) -> str:
    """An audit reason in the reader's language: patrolmap's own words translated, the rest as written.

    What a person typed (and the values inside a template: paths, ids, file names) is left as it is.
    """
    if not reason:
        return ""
    if reason in _FIXED_REASONS:
        return translate(reason)
    for template, pattern in _REASON_TEMPLATES:
        found = pattern.fullmatch(reason)
        if found:
            return translate(template) % found.groupdict()
    return reason
