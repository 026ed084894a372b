"""Personal-data retention (PIPL): after a set time, plates and reporter names stop being personal.

Plates become a keyed hash ("anon:…"), so counts, places, times and even repeat
offences of the same car still add up; reporter names are removed. Evidence photos of
those violations (they show plates) are deleted: both files go, the row stays with the
photo's SHA-256 and a purged_at mark. Each run leaves one audit entry.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from patrolmap.database import write_transaction
from patrolmap.evidence import PhotoStore
from patrolmap.models import AuditEntry, Violation, utcnow
from patrolmap.photos import mark_purged

ANON_PREFIX = "anon:"


def anonymise_plate(plate: str, key: str) -> str:
    digest = hmac.new(key.encode(), plate.encode(), hashlib.sha256).hexdigest()[:12]
    return ANON_PREFIX + digest


def purge_personal_data(session: Session, *, older_than: dt.timedelta, key: str, actor: str,
                        evidence: PhotoStore | None = None) -> int:
    """Anonymise violations observed before now - older_than; return how many were changed.

    With an evidence store, their photos are purged too (files deleted after the commit, so
    that a failed run never leaves rows whose files are gone; a later run finishes any
    deletion that failed).
    """
    cutoff = utcnow() - older_than
    unused: list[str] = []
    photo_counts: dict[str, int] = {}
    personal = or_(and_(Violation.plate.is_not(None), Violation.plate != "无牌",
                        Violation.plate.not_like(f"{ANON_PREFIX}%")),
                   Violation.reporter.is_not(None))
    with write_transaction(session):
        rows = session.execute(select(Violation.id, Violation.plate, Violation.version)
                               .where(Violation.observed_at < cutoff, personal)).all()
        now = utcnow()
        for row_id, plate, version in rows:
            keep = plate is None or plate == "无牌" or plate.startswith(ANON_PREFIX)
            session.execute(update(Violation).where(Violation.id == row_id).values(
                plate=plate if keep else anonymise_plate(plate, key), reporter=None,
                version=version + 1, updated_at=now))
        rewritten = _anonymise_audit(session, [r[0] for r in rows], key)
        if evidence is not None:
            marked, unused = mark_purged(session, evidence, observed_before=cutoff, now=now)
            photo_counts = {"photos_purged": marked, "photo_files_deleted": len(unused)}
        session.add(AuditEntry(actor=actor, action="purge", layer="violations",
                               after={"anonymised": len(rows), "audit_entries_anonymised": rewritten,
                                      **photo_counts, "observed_before": cutoff.isoformat()},
                               reason=f"personal data older than {older_than.days} days"))
    for digest in unused:
        evidence.delete(digest)  # type: ignore[union-attr]
    return len(rows)


def _anonymise_audit(session: Session, violation_ids: list[int], key: str) -> int:
    """Plates and reporters recorded in the audit log's before/after are personal data too.

    The one sanctioned rewrite of audit entries (a Core update: the ORM refuses it);
    the same keyed hash keeps entries comparable with the anonymised violations.
    """
    changed = 0
    for start in range(0, len(violation_ids), 500):
        chunk = violation_ids[start:start + 500]
        entries = session.execute(select(AuditEntry.id, AuditEntry.before, AuditEntry.after).where(
            AuditEntry.layer == "violations", AuditEntry.feature_id.in_(chunk))).all()
        for entry_id, before, after in entries:
            new_before, new_after = _scrub(before, key), _scrub(after, key)
            if (new_before, new_after) != (before, after):
                session.execute(update(AuditEntry).where(AuditEntry.id == entry_id)
                                .values(before=new_before, after=new_after))
                changed += 1
    return changed


def _scrub(values: dict[str, Any] | None, key: str) -> dict[str, Any] | None:
    if not values:
        return values
    out = dict(values)
    plate = out.get("plate")
    if isinstance(plate, str) and plate != "无牌" and not plate.startswith(ANON_PREFIX):
        out["plate"] = anonymise_plate(plate, key)
    if out.get("reporter") is not None:
        out["reporter"] = None
    return out
