"""Evidence photos in the database: attach, list, find for serving, and purge under the retention rules.

Rows name their files by SHA-256 (patrolmap.evidence.EvidenceStore). One file may serve
several rows (the same photo attached to two violations); it is deleted only when no row
that still keeps its photo refers to it. A purged row stays, with its hash, marked purged_at.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from patrolmap.database import write_transaction
from patrolmap.errors import Conflict, Gone, NotFound
from patrolmap.evidence import EvidenceStore, Photo, PhotoStore, check_digest, checked_original, sha256
from patrolmap.models import AuditEntry, EvidenceFile, HazardPhoto, Violation, ViolationPhoto


class DatabaseEvidenceStore:
    """Photos' bytes in the evidence_files table, by the original's SHA-256 (one row per picture).

    Written in a transaction of its own before the photo's row, as files are, so the same code
    attaches, serves and purges photos whichever store holds them.
    """

    def __init__(self, session: Session) -> None:
        self.session = session

    def save(self, photo: Photo) -> None:
        if self.exists(photo.sha256):
            return
        try:
            with write_transaction(self.session):
                self.session.add(EvidenceFile(sha256=photo.sha256, original=photo.original, display=photo.display))
        except IntegrityError:
            pass  # stored just now by a request beside this one: the same bytes

    def _fetch(self, columns: str, digest: str) -> Any:
        """The row's `columns` (a fixed list of ours), or None. On PostgreSQL the bytes come in
        psycopg's binary format: as hex text (its default) a 2 MB photo took 14 ms instead of 1.9."""
        check_digest(digest)
        connection = self.session.connection()
        if connection.dialect.name == "postgresql":
            with connection.connection.driver_connection.cursor(binary=True) as cursor:
                cursor.execute(f"SELECT {columns} FROM evidence_files WHERE sha256 = %s", (digest,))
                return cursor.fetchone()
        return connection.execute(text(f"SELECT {columns} FROM evidence_files WHERE sha256 = :digest"),
                                  {"digest": digest}).one_or_none()

    def raw(self, digest: str) -> tuple[bytes | None, bytes | None]:
        row = self._fetch("original, display", digest)
        return (None, None) if row is None else (bytes(row[0]), bytes(row[1]))

    def _one(self, column: str, digest: str) -> bytes:
        """One of the two copies (a photo runs to megabytes: the other is not read)."""
        row = self._fetch(column, digest)
        if row is None:
            raise FileNotFoundError(digest)
        return bytes(row[0])

    def read_original(self, digest: str) -> bytes:
        return checked_original(digest, self._one("original", digest))

    def read_display(self, digest: str) -> bytes:
        return self._one("display", digest)

    def delete(self, digest: str) -> bool:
        with write_transaction(self.session):
            return self.session.execute(delete(EvidenceFile).where(EvidenceFile.sha256 == digest)).rowcount > 0

    def exists(self, digest: str) -> bool:
        check_digest(digest)
        return self.session.scalar(select(EvidenceFile.sha256).where(EvidenceFile.sha256 == digest)) is not None


def evidence_store(config: Any, session: Session) -> PhotoStore:
    """The store PATROLMAP_EVIDENCE_STORE names: files under EVIDENCE_DIR (the default) or the database."""
    if config.get("EVIDENCE_STORE", "files") == "database":
        return DatabaseEvidenceStore(session)
    return EvidenceStore(config["EVIDENCE_DIR"])


def visible_violation(session: Session, violation_id: int, campus_ids: Collection[int] | None) -> Any:
    """(campus_id, status) of a violation the caller may see; NotFound for others, as if absent."""
    row = session.execute(select(Violation.campus_id, Violation.status)
                          .where(Violation.id == violation_id)).one_or_none()
    if row is None or (campus_ids is not None and row.campus_id not in campus_ids):
        raise NotFound("unknown violation %(id)s", id=violation_id)
    return row


def photo_dict(photo: ViolationPhoto) -> dict[str, Any]:
    return {
        "id": photo.id, "violation": photo.violation_id, "sha256": photo.sha256, "content_type": photo.content_type,
        "size": photo.size, "width": photo.width, "height": photo.height,
        "display_sha256": photo.display_sha256, "display_size": photo.display_size,
        "uploaded_by": photo.uploaded_by, "created_at": photo.created_at.isoformat(),
        "purged_at": photo.purged_at.isoformat() if photo.purged_at else None,
        "available": photo.purged_at is None,  # False once the retention purge deleted its files
    }


def list_photos(session: Session, violation_id: int) -> list[ViolationPhoto]:
    return list(session.scalars(select(ViolationPhoto).where(ViolationPhoto.violation_id == violation_id)
                                .order_by(ViolationPhoto.id)))


def add_photo(
    session: Session, store: PhotoStore, violation_id: int, photo: Photo, *, actor: str,
    campus_ids: Collection[int] | None,
) -> tuple[ViolationPhoto, bool]:
    """Attach a checked photo to a violation; return the row and whether it is new.

    The same photo twice on one violation is stored once (matched by SHA-256). Files are
    written first (named by their hash, so writing them again changes nothing), then the
    row and its audit entry in one transaction; if that fails, files no row uses are removed.
    """
    violation = visible_violation(session, violation_id, campus_ids)
    if violation.status == "void":
        raise Conflict("violation %(id)s is void; its evidence can no longer change", id=violation_id)
    digest = photo.sha256
    existing = _find(session, violation_id, digest)
    if existing is not None:
        return _existing(existing, violation_id), False
    store.save(photo)
    try:
        with write_transaction(session):
            row = ViolationPhoto(
                violation_id=violation_id, campus_id=violation.campus_id, sha256=digest,
                content_type=photo.content_type, size=len(photo.original), width=photo.width, height=photo.height,
                display_sha256=photo.display_sha256, display_size=len(photo.display), uploaded_by=actor,
            )
            session.add(row)
            session.flush()
            session.add(AuditEntry(
                actor=actor, action="photo", layer="violations", feature_id=violation_id,
                campus_id=violation.campus_id, reason="evidence photo added",
                after={"photo": row.id, "sha256": digest, "content_type": photo.content_type,
                       "size": len(photo.original), "display_sha256": photo.display_sha256},
            ))
            photo_id = row.id
    except IntegrityError:
        # Sent twice at once: the other request stored it.
        existing = _find(session, violation_id, digest)
        if existing is None:
            raise
        return _existing(existing, violation_id), False
    except BaseException:
        discard_unreferenced(session, store, [digest])
        raise
    return session.get(ViolationPhoto, photo_id), True  # type: ignore[return-value]


def _find(session: Session, violation_id: int, digest: str) -> ViolationPhoto | None:
    return session.scalars(select(ViolationPhoto).where(ViolationPhoto.violation_id == violation_id,
                                                        ViolationPhoto.sha256 == digest)).first()


def _existing(row: ViolationPhoto, violation_id: int) -> ViolationPhoto:
    if row.purged_at is not None:
        raise Conflict("this photo of violation %(id)s was removed under the retention rules and is not "
                       "taken again", id=violation_id)
    return row


def photo_to_serve(session: Session, digest: str, campus_ids: Collection[int] | None) -> ViolationPhoto:
    """A row of this photo on a violation the caller may see, whose files are kept.

    NotFound when the caller sees no violation with this photo; Gone when every such row was purged.
    """
    stmt = select(ViolationPhoto).where(ViolationPhoto.sha256 == digest).order_by(ViolationPhoto.id)
    rows = [r for r in session.scalars(stmt) if campus_ids is None or r.campus_id in campus_ids]
    if not rows:
        raise NotFound("unknown photo %(sha256)s", sha256=digest)
    kept = [r for r in rows if r.purged_at is None]
    if not kept:
        raise Gone("this photo was removed under the retention rules on %(date)s; its SHA-256 stays on record",
                   date=rows[0].purged_at.date().isoformat())  # type: ignore[union-attr]
    return kept[0]


def _unreferenced(session: Session, digests: Collection[str]) -> list[str]:
    """Those of the hashes that no row keeping its photo refers to."""
    wanted = sorted(set(digests))
    used: set[str] = set()
    for start in range(0, len(wanted), 500):
        chunk = wanted[start:start + 500]
        used.update(session.scalars(select(ViolationPhoto.sha256).where(
            ViolationPhoto.sha256.in_(chunk), ViolationPhoto.purged_at.is_(None))))
        # The same picture may also be a hazard's photo (one file per hash): that keeps it too.
        used.update(session.scalars(select(HazardPhoto.sha256).where(HazardPhoto.sha256.in_(chunk))))
    return [d for d in wanted if d not in used]


def discard_unreferenced(session: Session, store: PhotoStore, digests: Collection[str]) -> int:
    """Delete the files of hashes no kept row uses; return how many photos had files removed."""
    return sum(store.delete(d) for d in _unreferenced(session, digests))


def mark_purged(session: Session, store: PhotoStore, *, observed_before: dt.datetime,
                now: dt.datetime) -> tuple[int, list[str]]:
    """Inside the caller's transaction: mark the photos of violations observed before the cutoff purged.

    Returns how many rows were marked and the hashes whose files are still on disk but no
    longer used, for the caller to delete after commit (so that a rollback never leaves rows
    pointing to deleted files).
    """
    stmt = (select(ViolationPhoto.id, ViolationPhoto.sha256)
            .join(Violation, Violation.id == ViolationPhoto.violation_id)
            .where(Violation.observed_at < observed_before, ViolationPhoto.purged_at.is_(None)))
    rows = session.execute(stmt).all()
    ids = [r.id for r in rows]
    for start in range(0, len(ids), 500):
        session.execute(update(ViolationPhoto).where(ViolationPhoto.id.in_(ids[start:start + 500]))
                        .values(purged_at=now))
    # Files of rows purged earlier but still on disk (a deletion that failed) are swept up too.
    purged = set(session.scalars(select(ViolationPhoto.sha256).where(ViolationPhoto.purged_at.is_not(None))
                                 .distinct()))
    on_disk = [d for d in purged | {r.sha256 for r in rows} if store.exists(d)]
    return len(ids), _unreferenced(session, on_disk)


@dataclass
class EvidenceCheck:
    """What check_evidence found: rows whose files must be kept, files read, and each problem in words."""

    photos: int = 0
    files: int = 0
    problems: list[str] = field(default_factory=list)


def check_evidence(session: Session, store: PhotoStore) -> EvidenceCheck:
    """Read back every kept photo's two files and hash them: what a restore, a move or a disk lost or changed.

    The photos' rows hold their hashes; the bytes live in the evidence store (files outside any
    database backup, or the database). A problem names the violations and hazards whose evidence it touches.
    """
    owners: dict[tuple[str, str], list[str]] = {}
    kept = select(ViolationPhoto.id, ViolationPhoto.violation_id, ViolationPhoto.sha256,
                  ViolationPhoto.display_sha256).where(ViolationPhoto.purged_at.is_(None))
    for photo_id, violation_id, digest, display in session.execute(kept.order_by(ViolationPhoto.id)):
        owners.setdefault((digest, display), []).append(f"violation {violation_id} photo {photo_id}")
    hazards = select(HazardPhoto.id, HazardPhoto.hazard_id, HazardPhoto.sha256, HazardPhoto.display_sha256)
    for photo_id, hazard_id, digest, display in session.execute(hazards.order_by(HazardPhoto.id)):
        owners.setdefault((digest, display), []).append(f"hazard {hazard_id} photo {photo_id}")
    check = EvidenceCheck(photos=sum(len(o) for o in owners.values()))
    for (digest, display), names in sorted(owners.items()):
        whose = ", ".join(names)
        stored = store.raw(digest)
        for what, data, expected in (("original", stored[0], digest), ("display copy", stored[1], display)):
            check.files += 1
            if data is None:
                check.problems.append(f"{what} of {digest} is missing ({whose})")
            elif (found := sha256(data)) != expected:
                check.problems.append(f"{what} of {digest} was altered: it hashes to {found} ({whose})")
    return check
