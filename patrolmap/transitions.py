"""A violation's status: the moves allowed between states, each one audited, none erasing anything.

    open ──► notified ──► towed ──► resolved
      │  └──────────┼────────►│──────►  │
      └─────────────┴─────────┴─────────┴──► void (terminal; needs a reason)

Allowed moves (TRANSITIONS): open -> notified, towed, resolved or void; notified -> towed,
resolved or void; towed -> resolved or void; resolved -> void (a resolved record later found
wrong); void -> nothing. A status never moves back: a car that returns is a new violation,
and a record voided by mistake is recorded again (the void one stays, with its reason).

Voiding sets deleted_at and deleted_reason as well: a void violation leaves the maps,
counts and statistics (which read live rows only) but stays stored and retrievable, by id
(GET /api/violations/<id>) or with include_void=true on /api/layers/violations.

Every move checks the row's version when the caller sends one (optimistic locking) and is
written with a guarded UPDATE (WHERE version = the version read), so two people moving the
same violation at once cannot both win; the loser gets a 409.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from patrolmap.database import write_transaction
from patrolmap.errors import BadRequest, Conflict, NotFound
from patrolmap.geo.schema import VIOLATION_STATUSES
from patrolmap.models import AuditEntry, Violation, utcnow
from patrolmap.store import MAX_ID

TRANSITIONS: dict[str, tuple[str, ...]] = {
    "open": ("notified", "towed", "resolved", "void"),
    "notified": ("towed", "resolved", "void"),
    "towed": ("resolved", "void"),
    "resolved": ("void",),
    "void": (),
}
# Moves that must say why (the reason lands in deleted_reason and in the audit log).
NEEDS_REASON = frozenset({"void"})
MAX_REASON = 2000

if set(TRANSITIONS) != set(VIOLATION_STATUSES):  # pragma: no cover - a new status needs its moves here
    msg = "patrolmap.transitions.TRANSITIONS must name every violation status"
    raise RuntimeError(msg)


def check_reason(reason: Any, *, required: bool) -> str | None:
    """The reason as stored: stripped text, or None; refuse other types and empty required ones."""
    if reason is not None and not isinstance(reason, str):
        raise BadRequest("reason must be a string")
    reason = (reason or "").strip() or None
    if required and reason is None:
        raise BadRequest("a reason is required to void a violation")
    if reason is not None and len(reason) > MAX_REASON:
        raise BadRequest("reason is longer than %(max)s characters", max=MAX_REASON)
    return reason


def check_version(version: Any) -> int | None:
    if version is None:
        return None
    if isinstance(version, bool) or not isinstance(version, int) or not 1 <= version <= MAX_ID:
        raise BadRequest("version must be a whole number of at least 1, as read with the record")
    return version


def transition_violation(
    session: Session,
    violation_id: int,
    *,
    to: Any,
    reason: Any = None,
    version: Any = None,
    actor: str,
    campus_ids: Collection[int] | None = None,
    action: str = "transition",
) -> int:
    """Move a violation to a new status in its own write transaction; return its new version.

    campus_ids limits which violations the caller may touch (others are NotFound, as if absent).
    """
    if not isinstance(to, str) or to not in VIOLATION_STATUSES:
        raise BadRequest("to must be one of %(statuses)s", statuses=", ".join(VIOLATION_STATUSES))
    reason = check_reason(reason, required=to in NEEDS_REASON)
    version = check_version(version)
    with write_transaction(session):
        row = session.execute(select(Violation.campus_id, Violation.status, Violation.version,
                                     Violation.deleted_at).where(Violation.id == violation_id)).one_or_none()
        if row is None or (campus_ids is not None and row.campus_id not in campus_ids):
            raise NotFound("unknown violation %(id)s", id=violation_id)
        if version is not None and version != row.version:
            raise Conflict("violation %(id)s has changed since you read it (version %(current)s, you sent "
                           "%(sent)s); reload it and try again", id=violation_id, current=row.version, sent=version,
                           details={"version": row.version, "status": row.status})
        allowed = TRANSITIONS.get(row.status, ())
        if to not in allowed:
            raise Conflict("a violation that is %(status)s cannot become %(to)s; it may become: %(allowed)s",
                           status=row.status, to=to, allowed=", ".join(allowed) or "-",
                           details={"status": row.status, "allowed": list(allowed), "version": row.version})
        now = utcnow()
        values: dict[str, Any] = {"status": to, "version": row.version + 1, "updated_at": now}
        if to == "void" and row.deleted_at is None:
            values.update(deleted_at=now, deleted_reason=reason)
        done = session.execute(update(Violation).where(Violation.id == violation_id,
                                                       Violation.version == row.version).values(**values))
        if done.rowcount != 1:
            raise Conflict("violation %(id)s was changed by someone else just now; reload it and try again",
                           id=violation_id)
        before = {"status": row.status, "version": row.version}
        after = {"status": to, "version": row.version + 1}
        if "deleted_at" in values:
            before["deleted_at"] = None
            after["deleted_at"] = now.isoformat()
        session.add(AuditEntry(actor=actor, action=action, layer="violations", feature_id=violation_id,
                               campus_id=row.campus_id, before=before, after=after, reason=reason))
    return row.version + 1
