"""Hazards in the database: report, move through the loop, list, delete, photos, scorecards and reminders.

No request objects: the web layer says who asks (a hazards.Actor and the audit name), what they
may see (a Viewer) and passes plain values. Every change writes its record in the same transaction:
a HazardEvent for each status (the loop's own, append-only log) and an AuditEntry on the "hazards"
layer for every create, move, delete and photo. Moves are guarded by the row's version, so two
people moving one hazard at once cannot both win.

Reminders (send_reminders, run by `flask hazards remind` from a timer) go to the app (Reminder rows
with channel "app:<user id>", one per person: the assignee, the zone's officer and the responsible
unit's users) and to the configured webhooks (channel = the webhook's name). A reminder row is
written (claimed) before the webhook is called, and the unique (hazard, kind, channel) key keeps
a second run, or a run beside it, from sending it again; a failed call is kept with ok=False and
its error, and retried by the next run while it still matters.
"""

from __future__ import annotations

import datetime as dt
import math
import urllib.error
import urllib.request
import uuid
import zoneinfo
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import shapely
from shapely.geometry import Point
from shapely.geometry.base import BaseGeometry
from sqlalchemy import Select, and_, func, not_, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from patrolmap.database import write_transaction
from patrolmap.errors import Conflict, NotFound, ValidationFailed
from patrolmap.evidence import Photo as CheckedPhoto
from patrolmap.evidence import PhotoStore
from patrolmap.hazards import (
    APP_CHANNEL,
    MAX_LEAD,
    OVERDUE_STATUSES,
    Actor,
    HazardState,
    ReminderMessage,
    TransitionRefused,
    Webhook,
    allowed_moves,
    check_transition,
    deadline_for,
    is_overdue,
    markdown_text,
    notice_number,
    notice_sequence,
    reminder_due,
    robot_error,
    webhook_request,
)
from patrolmap.models import (
    AuditEntry,
    Building,
    Campus,
    GridZone,
    Hazard,
    HazardEvent,
    HazardPhoto,
    PatrolRoute,
    Reminder,
    User,
    Violation,
    ViolationPhoto,
    utcnow,
)
from patrolmap.wording import N_, value_label

LAYER = "hazards"
# Scorecards: violations of the last 30 days, and patrol routes passing within 20 m of the zone's outline.
VIOLATION_DAYS = 30
ROUTE_NEAR_M = 20.0
METRES_PER_DEGREE = 111_320.0
# A webhook call claimed this long ago and never finished (the run died) may be tried again.
STALE_CLAIM = dt.timedelta(minutes=10)
SENDING = "sending"


def clock() -> dt.datetime:
    """Now, in UTC: the time of reports and moves (tests freeze it here)."""
    return utcnow()


@dataclass(frozen=True)
class Viewer:
    """Which hazards a caller may see: their campuses, and only their unit's if they are a responsible unit alone."""

    campus_ids: Collection[int] | None
    unit_only: bool = False
    unit: str | None = None

    def sees(self, hazard: Hazard) -> bool:
        if self.campus_ids is not None and hazard.campus_id not in self.campus_ids:
            return False
        return not self.unit_only or (bool(self.unit) and hazard.responsible_unit == self.unit)

    def limit(self, stmt: Select) -> Select:
        if self.campus_ids is not None:
            stmt = stmt.where(Hazard.campus_id.in_(sorted(self.campus_ids)))
        if self.unit_only:
            stmt = stmt.where(Hazard.responsible_unit == self.unit) if self.unit else stmt.where(False)
        return stmt


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, BaseGeometry):
        return value.wkt
    return value


# ---------------------------------------------------------------- reporting


@dataclass(frozen=True)
class Location:
    building_id: int | None
    zone_id: int | None
    point: Point


def _containing(candidates: Iterable[Any], point: Point) -> Any | None:
    """The smallest of the shapes that cover the point (a zone drawn inside another wins)."""
    hits = [c for c in candidates if c.geom is not None and c.geom.covers(point)]
    return min(hits, key=lambda c: (c.geom.area, c.id)) if hits else None


def locate(session: Session, campus_id: int, point: Point | None, building_id: int | None) -> Location:
    """The building and grid zone of a report: the zone holding the building, else the zone outline around the point.

    A report at a building without a point is placed at a point inside the building; a report at
    a point inside a building's footprint is counted as at that building.
    """
    building = None
    if building_id is not None:
        building = session.get(Building, building_id)
        if building is None or building.campus_id != campus_id:
            raise NotFound("unknown building %(id)s", id=building_id)
        if point is None:
            point = building.geom.point_on_surface()
    assert point is not None  # the API asks for a building or a point
    if building is None:
        near = select(Building).where(Building.campus_id == campus_id, Building.minx <= point.x,
                                      Building.maxx >= point.x, Building.miny <= point.y, Building.maxy >= point.y)
        building = _containing(session.scalars(near), point)
    zone_id = building.grid_zone_id if building is not None else None
    if zone_id is None:
        near = select(GridZone).where(GridZone.campus_id == campus_id, GridZone.minx <= point.x,
                                      GridZone.maxx >= point.x, GridZone.miny <= point.y, GridZone.maxy >= point.y)
        zone = _containing(session.scalars(near), point)
        zone_id = zone.id if zone is not None else None
    return Location(building.id if building is not None else None, zone_id, point)


def _active(session: Session, user_id: int | None) -> int | None:
    if user_id is None:
        return None
    return user_id if session.scalar(select(User.active).where(User.id == user_id)) else None


def assignee_for(session: Session, campus: Campus, zone_id: int | None) -> int | None:
    """The zone's officer, else the campus's duty officer (for hazards outside every zone), else nobody."""
    if zone_id is not None:
        officer = _active(session, session.scalar(select(GridZone.officer_user_id).where(GridZone.id == zone_id)))
        if officer is not None:
            return officer
    return _active(session, campus.duty_user_id)


def report_hazard(
    session: Session, campus_id: int, *, category: str, description: str, urgency: str, point: Point | None,
    building_id: int | None, note: str | None, actor: str,
) -> int:
    """Store a newly reported hazard with its zone and assignee found; return its id (own transaction)."""
    with write_transaction(session):
        campus = session.get(Campus, campus_id)
        if campus is None:
            raise NotFound("unknown campus %(campus)s", campus=campus_id)
        where = locate(session, campus_id, point, building_id)
        assignee = assignee_for(session, campus, where.zone_id)
        now = clock()
        hazard = Hazard(
            campus_id=campus_id, source_id=f"api:{uuid.uuid4().hex}", category=category, description=description,
            urgency=urgency, status="reported", building_id=where.building_id, zone_id=where.zone_id,
            assignee_user_id=assignee, reported_by=actor, reported_at=now, geom=where.point, version=1,
            created_at=now, updated_at=now,
        )
        session.add(hazard)
        session.flush()
        session.add(HazardEvent(hazard_id=hazard.id, campus_id=campus_id, at=now, actor=actor, from_status=None,
                                to_status="reported", note=note))
        session.add(AuditEntry(
            actor=actor, action="create", layer=LAYER, feature_id=hazard.id, campus_id=campus_id,
            after={"category": category, "description": description, "urgency": urgency, "status": "reported",
                   "building": where.building_id, "zone": where.zone_id, "assignee": assignee,
                   "lon": where.point.x, "lat": where.point.y},
            reason=note or "hazard reported",
        ))
        hazard_id = hazard.id
        if assignee is not None:
            _notify(session, hazard, "assigned", [assignee])
    return hazard_id


# ---------------------------------------------------------------- the loop


def _visible(session: Session, hazard_id: int, viewer: Viewer) -> Hazard:
    hazard = session.get(Hazard, hazard_id)
    if hazard is None or not viewer.sees(hazard):
        raise NotFound("unknown hazard %(id)s", id=hazard_id)
    return hazard


def get_hazard(session: Session, hazard_id: int, viewer: Viewer) -> Hazard:
    """A hazard the caller may see (a deleted one too); NotFound for others, as if absent."""
    return _visible(session, hazard_id, viewer)


def zone_officer(session: Session, zone_id: int | None) -> int | None:
    if zone_id is None:
        return None
    return session.scalar(select(GridZone.officer_user_id).where(GridZone.id == zone_id))


def state_of(session: Session, hazard: Hazard) -> HazardState:
    return HazardState(status=hazard.status, responsible_unit=hazard.responsible_unit,
                       rectified_by=hazard.rectified_by, assignee_user_id=hazard.assignee_user_id,
                       zone_officer_user_id=zone_officer(session, hazard.zone_id))


def _check_version(hazard: Hazard, version: int | None) -> None:
    if version is not None and version != hazard.version:
        raise Conflict("hazard %(id)s has changed since you read it (version %(current)s, you sent %(sent)s); "
                       "reload it and try again", id=hazard.id, current=hazard.version, sent=version,
                       details={"version": hazard.version, "status": hazard.status})


def _next_notice_number(session: Session, campus: Campus, now: dt.datetime) -> str:
    """The next automatic number of the campus's year (local): one more than the highest so far."""
    year = now.astimezone(zoneinfo.ZoneInfo(campus.timezone)).year
    prefix = notice_number(year, campus.slug, 0)[:-4]
    numbers = session.scalars(select(Hazard.notice_number).where(
        Hazard.campus_id == campus.id, Hazard.notice_number.startswith(prefix, autoescape=True)))
    used = [n for n in (notice_sequence(number, year, campus.slug) for number in numbers) if n is not None]
    return notice_number(year, campus.slug, max(used, default=0) + 1)


def transition_hazard(
    session: Session, hazard_id: int, *, to: str, actor: Actor, actor_name: str, viewer: Viewer,
    note: str | None = None, reason: str | None = None, unit: str | None = None, number: str | None = None,
    version: int | None = None,
) -> int:
    """Move a hazard one step of the loop in its own write transaction; return its new version.

    Refusals: 404 for a hazard the caller cannot see; 409 for a move the machine does not allow
    (wrong status, role, zone or unit, or closing what one rectified oneself: details name the
    moves the caller may make), a deleted hazard, a stale version or a notice number in use; 422
    for an escalation without a reason or a notice without a responsible unit.
    """
    with write_transaction(session):
        hazard = _visible(session, hazard_id, viewer)
        if hazard.deleted_at is not None:
            raise Conflict("hazard %(id)s was deleted; it moves no more", id=hazard_id)
        _check_version(hazard, version)
        state = state_of(session, hazard)
        try:
            check_transition(state, to, actor, reason=reason, unit=unit)
        except TransitionRefused as exc:
            details = {"code": exc.code, "status": hazard.status, "allowed": list(allowed_moves(state, actor)),
                       "version": hazard.version}
            error = ValidationFailed if exc.code in ("needs_reason", "needs_unit") else Conflict
            raise error(exc.template, details=details, **exc.params) from None
        now = clock()
        values: dict[str, Any] = {"status": to}
        if to == "notice_issued":
            campus = session.scalars(select(Campus).where(Campus.id == hazard.campus_id).with_for_update()).one()
            if number is not None:
                taken = session.scalar(select(Hazard.id).where(Hazard.campus_id == hazard.campus_id,
                                                               Hazard.notice_number == number, Hazard.id != hazard_id))
                if taken is not None:
                    raise Conflict("notice number %(number)s is already used by hazard %(other)s",
                                   number=number, other=taken)
            values.update(responsible_unit=(unit or "").strip() or hazard.responsible_unit,
                          notice_number=number or _next_notice_number(session, campus, now),
                          deadline=deadline_for(hazard.urgency, now))
        elif to == "rectified":
            values["rectified_by"] = actor_name
        elif to == "rectifying" and hazard.status == "rectified":
            values["rectified_by"] = None  # the check failed: the next rectification is someone's again
        elif to == "closed":
            values.update(closed_by=actor_name, closed_at=now)
        elif to == "escalated":
            values["escalated_reason"] = reason.strip() if reason else None
        before = {k: _plain(getattr(hazard, k)) for k in values}
        old_status, old_version = hazard.status, hazard.version
        done = session.execute(update(Hazard).where(Hazard.id == hazard_id, Hazard.version == old_version)
                               .values(**values, version=old_version + 1, updated_at=now))
        if done.rowcount != 1:
            raise Conflict("hazard %(id)s was changed by someone else just now; reload it and try again",
                           id=hazard_id)
        text = "\n".join(t for t in (reason if to == "escalated" else None, note) if t) or None
        session.add(HazardEvent(hazard_id=hazard_id, campus_id=hazard.campus_id, at=now, actor=actor_name,
                                from_status=old_status, to_status=to, note=text))
        session.add(AuditEntry(
            actor=actor_name, action="transition", layer=LAYER, feature_id=hazard_id, campus_id=hazard.campus_id,
            before={**before, "version": old_version},
            after={**{k: _plain(v) for k, v in values.items()}, "version": old_version + 1}, reason=text,
        ))
        if to == "notice_issued":
            session.flush()
            session.refresh(hazard)
            _notify(session, hazard, "notice", unit_users(session, hazard.campus_id, hazard.responsible_unit))
    return old_version + 1


def delete_hazard(
    session: Session, hazard_id: int, *, reason: str, version: int | None, actor_name: str, viewer: Viewer,
) -> int:
    """Soft-delete (a duplicate, a mistaken report): it leaves lists, maps and counts, and stays stored."""
    with write_transaction(session):
        hazard = _visible(session, hazard_id, viewer)
        if hazard.deleted_at is not None:
            raise Conflict("hazard %(id)s is already deleted", id=hazard_id)
        _check_version(hazard, version)
        now = clock()
        old_version = hazard.version
        done = session.execute(update(Hazard).where(Hazard.id == hazard_id, Hazard.version == old_version)
                               .values(deleted_at=now, deleted_reason=reason, version=old_version + 1,
                                       updated_at=now))
        if done.rowcount != 1:
            raise Conflict("hazard %(id)s was changed by someone else just now; reload it and try again",
                           id=hazard_id)
        session.add(AuditEntry(actor=actor_name, action="delete", layer=LAYER, feature_id=hazard_id,
                               campus_id=hazard.campus_id, before={"deleted_at": None, "version": old_version},
                               after={"deleted_at": now.isoformat(), "version": old_version + 1}, reason=reason))
    return old_version + 1


# ---------------------------------------------------------------- photos


def hazard_photos(session: Session, hazard_ids: Sequence[int]) -> dict[int, list[HazardPhoto]]:
    out: dict[int, list[HazardPhoto]] = {i: [] for i in hazard_ids}
    if hazard_ids:
        for photo in session.scalars(select(HazardPhoto).where(HazardPhoto.hazard_id.in_(list(hazard_ids)))
                                     .order_by(HazardPhoto.id)):
            out[photo.hazard_id].append(photo)
    return out


def add_hazard_photo(
    session: Session, store: PhotoStore, hazard_id: int, photo: CheckedPhoto, *, actor_name: str,
    viewer: Viewer,
) -> tuple[HazardPhoto, bool]:
    """Attach a checked photo (as for violations: original kept, EXIF-free display copy); (row, is new)."""
    hazard = _visible(session, hazard_id, viewer)
    if hazard.deleted_at is not None:
        raise Conflict("hazard %(id)s was deleted; it takes no new photos", id=hazard_id)
    campus_id, digest = hazard.campus_id, photo.sha256
    existing = _photo(session, hazard_id, digest)
    if existing is not None:
        return existing, False
    store.save(photo)
    try:
        with write_transaction(session):
            row = HazardPhoto(hazard_id=hazard_id, campus_id=campus_id, sha256=digest,
                              content_type=photo.content_type, size=len(photo.original), width=photo.width,
                              height=photo.height, display_sha256=photo.display_sha256,
                              display_size=len(photo.display), uploaded_by=actor_name)
            session.add(row)
            session.flush()
            session.add(AuditEntry(actor=actor_name, action="photo", layer=LAYER, feature_id=hazard_id,
                                   campus_id=campus_id, reason="hazard photo added",
                                   after={"photo": row.id, "sha256": digest, "content_type": photo.content_type,
                                          "size": len(photo.original)}))
            photo_id = row.id
    except IntegrityError:
        existing = _photo(session, hazard_id, digest)  # sent twice at once: the other request stored it
        if existing is None:
            raise
        return existing, False
    except BaseException:
        if not _file_used(session, digest):
            store.delete(digest)
        raise
    return session.get(HazardPhoto, photo_id), True  # type: ignore[return-value]


def _photo(session: Session, hazard_id: int, digest: str) -> HazardPhoto | None:
    return session.scalars(select(HazardPhoto).where(HazardPhoto.hazard_id == hazard_id,
                                                     HazardPhoto.sha256 == digest)).first()


def _file_used(session: Session, digest: str) -> bool:
    """Whether any kept photo row (of a hazard or a violation) still names this file."""
    return bool(session.scalar(select(HazardPhoto.id).where(HazardPhoto.sha256 == digest).limit(1))
                or session.scalar(select(ViolationPhoto.id).where(ViolationPhoto.sha256 == digest,
                                                                  ViolationPhoto.purged_at.is_(None)).limit(1)))


def photo_of_hazard(session: Session, hazard_id: int, digest: str, viewer: Viewer) -> HazardPhoto:
    _visible(session, hazard_id, viewer)
    photo = _photo(session, hazard_id, digest)
    if photo is None:
        raise NotFound("unknown photo %(sha256)s", sha256=digest)
    return photo


# ---------------------------------------------------------------- reading


@dataclass(frozen=True)
class HazardQuery:
    """Filters of a hazard list; statuses None means every status."""

    campus_ids: Collection[int] | None = None
    statuses: Collection[str] | None = None
    zone: int | None = None
    outside_zones: bool = False
    overdue: bool | None = None
    unit: str | None = None
    category: str | None = None
    mine: int | None = None
    include_deleted: bool = False
    limit: int | None = None
    offset: int = 0


def _overdue_clause(now: dt.datetime) -> Any:
    return and_(Hazard.deadline.is_not(None), Hazard.deadline < now, Hazard.status.in_(sorted(OVERDUE_STATUSES)))


def _filtered(stmt: Select, viewer: Viewer, q: HazardQuery, now: dt.datetime) -> Select:
    stmt = viewer.limit(stmt)
    if q.campus_ids is not None:
        stmt = stmt.where(Hazard.campus_id.in_(sorted(q.campus_ids)))
    if not q.include_deleted:
        stmt = stmt.where(Hazard.deleted_at.is_(None))
    if q.statuses is not None:
        stmt = stmt.where(Hazard.status.in_(sorted(q.statuses)))
    if q.zone is not None:
        stmt = stmt.where(Hazard.zone_id == q.zone)
    if q.outside_zones:
        stmt = stmt.where(Hazard.zone_id.is_(None))
    if q.overdue is not None:
        stmt = stmt.where(_overdue_clause(now) if q.overdue else not_(_overdue_clause(now)))
    if q.unit is not None:
        stmt = stmt.where(Hazard.responsible_unit == q.unit)
    if q.category is not None:
        stmt = stmt.where(Hazard.category == q.category)
    if q.mine is not None:
        own_zones = select(GridZone.id).where(GridZone.officer_user_id == q.mine)
        stmt = stmt.where(or_(Hazard.assignee_user_id == q.mine, Hazard.zone_id.in_(own_zones)))
    return stmt


def list_hazards(session: Session, viewer: Viewer, q: HazardQuery, *, now: dt.datetime) -> tuple[list[Hazard], int]:
    """The hazards of a query, newest report first, and how many match in all."""
    stmt = _filtered(select(Hazard), viewer, q, now).order_by(Hazard.reported_at.desc(), Hazard.id.desc())
    if q.offset:
        stmt = stmt.offset(q.offset)
    if q.limit is not None:
        stmt = stmt.limit(q.limit)
    rows = list(session.scalars(stmt))
    total = session.scalar(_filtered(select(func.count()).select_from(Hazard), viewer, q, now))
    return rows, int(total or 0)


def _users(session: Session, ids: Iterable[int | None]) -> dict[int, User]:
    wanted = sorted({i for i in ids if i is not None})
    return {u.id: u for u in session.scalars(select(User).where(User.id.in_(wanted)))} if wanted else {}


def user_ref(user: User | None) -> dict[str, Any] | None:
    return None if user is None else {"id": user.id, "username": user.username, "display_name": user.display_name}


def describe(session: Session, hazards: Sequence[Hazard], *, now: dt.datetime,
             actor: Actor | None = None) -> list[dict[str, Any]]:
    """Plain values of hazards (times in UTC), with their building, zone, assignee and notice issue.

    With an actor, each also says the moves that actor may make now (`next_statuses`).
    """
    ids = [h.id for h in hazards]
    building_ids = sorted({h.building_id for h in hazards if h.building_id})
    zone_ids = sorted({h.zone_id for h in hazards if h.zone_id})
    buildings = {b.id: b for b in session.scalars(select(Building).where(Building.id.in_(building_ids)))
                 } if building_ids else {}
    zones = {z.id: z for z in session.scalars(select(GridZone).where(GridZone.id.in_(zone_ids)))} if zone_ids else {}
    users = _users(session, [h.assignee_user_id for h in hazards] + [z.officer_user_id for z in zones.values()])
    issued: dict[int, HazardEvent] = {}
    photos: dict[int, int] = {}
    if ids:
        for event in session.scalars(select(HazardEvent).where(HazardEvent.hazard_id.in_(ids),
                                                              HazardEvent.to_status == "notice_issued")
                                     .order_by(HazardEvent.id)):
            issued[event.hazard_id] = event
        photos = dict(session.execute(select(HazardPhoto.hazard_id, func.count()).where(
            HazardPhoto.hazard_id.in_(ids)).group_by(HazardPhoto.hazard_id)).tuples().all())
    out = []
    for h in hazards:
        building = buildings.get(h.building_id) if h.building_id else None
        zone = zones.get(h.zone_id) if h.zone_id else None
        notice = issued.get(h.id) if h.notice_number else None
        state = HazardState(status=h.status, responsible_unit=h.responsible_unit, rectified_by=h.rectified_by,
                            assignee_user_id=h.assignee_user_id,
                            zone_officer_user_id=zone.officer_user_id if zone else None)
        moves = list(allowed_moves(state, actor)) if actor is not None and h.deleted_at is None else []
        out.append({
            "id": h.id, "campus_id": h.campus_id, "geom": h.geom, "category": h.category,
            "description": h.description, "urgency": h.urgency, "status": h.status,
            "overdue": is_overdue(h.status, h.deadline, now),
            "building": h.building_id, "building_name": building.name if building else None,
            "zone": h.zone_id, "zone_name": zone.name if zone else None,
            "zone_officer": user_ref(users.get(zone.officer_user_id)) if zone and zone.officer_user_id else None,
            "assignee": user_ref(users.get(h.assignee_user_id)) if h.assignee_user_id else None,
            "unassigned": h.assignee_user_id is None,
            "reported_by": h.reported_by, "reported_at": h.reported_at, "notice_number": h.notice_number,
            "notice_issued_at": notice.at if notice else None, "notice_issued_by": notice.actor if notice else None,
            "responsible_unit": h.responsible_unit, "deadline": h.deadline, "rectified_by": h.rectified_by,
            "closed_by": h.closed_by, "closed_at": h.closed_at, "escalated_reason": h.escalated_reason,
            "deleted_at": h.deleted_at, "deleted_reason": h.deleted_reason, "version": h.version,
            "photos": int(photos.get(h.id, 0)), "created_at": h.created_at, "updated_at": h.updated_at,
            "next_statuses": moves,
        })
    return out


def hazard_events(session: Session, hazard_id: int) -> list[HazardEvent]:
    """The loop so far, in order."""
    return list(session.scalars(select(HazardEvent).where(HazardEvent.hazard_id == hazard_id)
                                .order_by(HazardEvent.at, HazardEvent.id)))


# ---------------------------------------------------------------- scorecards


def _metric(geom: BaseGeometry, lat0: float) -> BaseGeometry:
    """Degrees to metres around a latitude (equirectangular): good to a few parts in a thousand on a campus."""
    scale_x = METRES_PER_DEGREE * math.cos(math.radians(lat0))
    return shapely.transform(geom, lambda xy: xy * [scale_x, METRES_PER_DEGREE])


def scorecards(session: Session, campus: Campus, viewer: Viewer, *, now: dt.datetime,
               zone_ids: Collection[int] | None = None) -> list[dict[str, Any]]:
    """Per zone: buildings, residents, officer, open and overdue hazards, violations of the last 30 days, last route.

    Open hazards are those not closed (deleted ones never count; a responsible unit alone counts only its
    own unit's); violations are the live ones (not void) inside the zone's outline; the last route is the
    most recently saved patrol route (not deleted) passing within 20 m of the outline.
    """
    stmt = select(GridZone).where(GridZone.campus_id == campus.id).order_by(GridZone.id)
    if zone_ids is not None:
        stmt = stmt.where(GridZone.id.in_(sorted(zone_ids)))
    zones = list(session.scalars(stmt))
    if not zones:
        return []
    ids = [z.id for z in zones]
    officers = _users(session, [z.officer_user_id for z in zones])
    buildings = {zid: (int(n), int(r or 0)) for zid, n, r in session.execute(
        select(Building.grid_zone_id, func.count(), func.sum(Building.residents))
        .where(Building.campus_id == campus.id, Building.grid_zone_id.in_(ids)).group_by(Building.grid_zone_id))}
    open_counts: dict[int, int] = dict.fromkeys(ids, 0)
    overdue_counts: dict[int, int] = dict.fromkeys(ids, 0)
    hazards = viewer.limit(select(Hazard.zone_id, Hazard.status, Hazard.deadline).where(
        Hazard.campus_id == campus.id, Hazard.zone_id.in_(ids), Hazard.deleted_at.is_(None),
        Hazard.status != "closed"))
    for zone_id, status, deadline in session.execute(hazards):
        open_counts[zone_id] += 1
        overdue_counts[zone_id] += is_overdue(status, deadline, now)
    since = now - dt.timedelta(days=VIOLATION_DAYS)
    points = session.execute(select(Violation.lon, Violation.lat).where(
        Violation.campus_id == campus.id, Violation.deleted_at.is_(None), Violation.status != "void",
        Violation.observed_at >= since, Violation.observed_at <= now)).all()
    lon = [p[0] for p in points]
    lat = [p[1] for p in points]
    routes = session.execute(select(PatrolRoute.id, PatrolRoute.name, PatrolRoute.geom, PatrolRoute.updated_at)
                             .where(PatrolRoute.campus_id == campus.id, PatrolRoute.deleted_at.is_(None),
                                    PatrolRoute.geom.is_not(None))).all()
    out = []
    for zone in zones:
        lat0 = zone.geom.centroid.y
        outline = _metric(zone.geom, lat0)
        passing = [r for r in routes if _metric(r.geom, lat0).distance(outline) <= ROUTE_NEAR_M]
        last = max(passing, key=lambda r: (r.updated_at, r.id)) if passing else None
        count, residents = buildings.get(zone.id, (0, 0))
        out.append({
            "zone": zone.id, "name": zone.name, "officer": user_ref(officers.get(zone.officer_user_id))
            if zone.officer_user_id else None,
            "buildings": count, "residents": residents, "open_hazards": open_counts[zone.id],
            "overdue_hazards": overdue_counts[zone.id],
            "violations_30d": int(shapely.intersects_xy(zone.geom, lon, lat).sum()) if lon else 0,
            "last_route": {"id": last.id, "name": last.name, "saved_at": last.updated_at} if last else None,
        })
    return out


# ---------------------------------------------------------------- notifications and reminders


def app_channel(user_id: int) -> str:
    """In-app notifications are one reminder row per person: channel "app:<user id>"."""
    return f"{APP_CHANNEL}:{user_id}"


def unit_users(session: Session, campus_id: int, unit: str | None) -> list[int]:
    """Active responsible-unit users of this unit who can see this campus."""
    if not unit:
        return []
    from patrolmap.scope import scope_for

    users = session.scalars(select(User).where(User.unit == unit, User.active.is_(True)))
    return [u.id for u in users if "responsible_unit" in u.role_set and scope_for(session, u).sees_campus(campus_id)]


def recipients(session: Session, hazard: Hazard) -> list[int]:
    """Who hears of a deadline in the app: the assignee, the zone's officer and the responsible unit's users."""
    ids = [hazard.assignee_user_id, zone_officer(session, hazard.zone_id),
           *unit_users(session, hazard.campus_id, hazard.responsible_unit)]
    return sorted({i for i in ids if i is not None and _active(session, i) is not None})


def _notice_of(hazard: Hazard) -> str:
    """What a reminder is about besides its hazard: the current notice ("" before any)."""
    return hazard.notice_number or ""


def _notify(session: Session, hazard: Hazard, kind: str, user_ids: Iterable[int], message: str | None = None) -> int:
    """In-app notifications inside the caller's transaction (once per hazard, kind and person); how many are new.

    The stored message is a record in the deployment's language; the API words it afresh for each reader.
    """
    added = 0
    for user_id in sorted(set(user_ids)):
        channel = app_channel(user_id)
        exists = session.scalar(select(Reminder.id).where(Reminder.hazard_id == hazard.id, Reminder.kind == kind,
                                                          Reminder.channel == channel,
                                                          Reminder.notice == _notice_of(hazard)))
        if exists is None:
            session.add(Reminder(hazard_id=hazard.id, campus_id=hazard.campus_id, kind=kind, channel=channel,
                                 notice=_notice_of(hazard), user_id=user_id, message=message or kind,
                                 sent_at=utcnow(), ok=True))
            added += 1
    return added


def _local(value: dt.datetime | None, timezone: str) -> str:
    return value.astimezone(zoneinfo.ZoneInfo(timezone)).strftime("%Y-%m-%d %H:%M") if value else "-"


# What each kind of notification says (plain text; {place} etc. filled in): translated when shown or sent.
NOTIFICATION_TEXTS = {
    "assigned": N_("New hazard to look after: %(category)s at %(place)s: %(description)s"),
    "notice": N_("Rectification notice %(number)s for %(unit)s, due %(deadline)s: %(category)s at %(place)s: "
                 "%(description)s"),
    "before": N_("Rectification notice %(number)s is due at %(deadline)s: %(category)s at %(place)s: "
                 "%(description)s"),
    "due": N_("Rectification notice %(number)s is overdue since %(deadline)s: %(category)s at %(place)s: "
              "%(description)s"),
}
NOTIFICATION_TITLES = {
    "assigned": N_("New hazard"), "notice": N_("Rectification notice"), "before": N_("Hazard deadline soon"),
    "due": N_("Hazard overdue"),
}


def notification_text(info: dict[str, Any], kind: str, timezone: str, translate: Callable[..., str],
                      *, inert: Callable[[str], str] = lambda s: s) -> tuple[str, str]:
    """(title, text) of a notification about a hazard (describe()'s dict), in the language of `translate`.

    `inert` makes user text harmless where it goes (a robot's markdown).
    """
    place = info["building_name"] or info["zone_name"] or f"{info['geom'].x:.5f}, {info['geom'].y:.5f}"
    params = {
        "category": translate(value_label(info["category"], "category") or info["category"]), "place": inert(place),
        "description": inert(info["description"] if len(info["description"]) <= 200
                             else info["description"][:199] + "…"),
        "number": inert(info["notice_number"] or f"#{info['id']}"), "unit": inert(info["responsible_unit"] or "-"),
        "deadline": _local(info["deadline"], timezone),
    }
    template = NOTIFICATION_TEXTS.get(kind)
    if template is None:
        return kind, kind
    return translate(NOTIFICATION_TITLES[kind]), translate(template, **params)


@dataclass
class ReminderRun:
    """What one run did: in-app notifications written, webhook calls that worked, failed, and retried."""

    app: int = 0
    sent: int = 0
    failed: int = 0
    retried: int = 0
    errors: list[str] = field(default_factory=list)


Opener = Callable[..., Any]


def post_webhook(hook: Webhook, message: ReminderMessage, *, timeout: float, opener: Opener | None = None,
                 timestamp_ms: int | None = None) -> str | None:
    """POST one reminder to a webhook; None when it was taken, else why not (never naming the URL or secret)."""
    ts = timestamp_ms if timestamp_ms is not None else int(utcnow().timestamp() * 1000)
    req = webhook_request(hook, message, timestamp_ms=ts)
    request = urllib.request.Request(req.url, data=req.body, headers=dict(req.headers), method="POST")
    try:
        with (opener or urllib.request.urlopen)(request, timeout=timeout) as response:
            status = getattr(response, "status", 200)
            body = response.read(65536)
    except urllib.error.HTTPError as exc:
        return f"HTTP {exc.code} {exc.reason}"[:500]
    except urllib.error.URLError as exc:
        return f"could not reach the webhook: {exc.reason}"[:500]
    except (OSError, ValueError) as exc:  # timeouts, resets, a malformed answer
        return f"{type(exc).__name__}: {exc}"[:500]
    if not 200 <= status < 300:
        return f"HTTP {status}"
    return robot_error(hook.kind, body)


def _message(info: dict[str, Any], kind: str, campus: Campus, translate: Callable[..., str],
             public_url: str | None) -> ReminderMessage:
    title, text = notification_text(info, kind, campus.timezone, translate, inert=markdown_text)
    lines = [text, translate(N_("Campus: %(campus)s"), campus=markdown_text(campus.name))]
    if public_url:
        lines.append(f"{public_url.rstrip('/')}/hazards/{info['id']}/notice")
    data = {"kind": kind, "hazard": {
        "id": info["id"], "campus": campus.slug, "category": info["category"], "status": info["status"],
        "urgency": info["urgency"], "notice_number": info["notice_number"],
        "responsible_unit": info["responsible_unit"], "deadline": info["deadline"].isoformat(),
        "zone": info["zone"], "building": info["building"], "description": info["description"],
        "lon": info["geom"].x, "lat": info["geom"].y}}
    return ReminderMessage(title, lines, data)


def _reminder_candidates(session: Session, now: dt.datetime) -> list[Hazard]:
    """Hazards waiting on someone whose deadline is close enough for a reminder (or past)."""
    return list(session.scalars(select(Hazard).where(
        Hazard.deleted_at.is_(None), Hazard.deadline.is_not(None), Hazard.status.in_(sorted(OVERDUE_STATUSES)),
        Hazard.deadline <= now + MAX_LEAD).order_by(Hazard.id)))


def _claim_new(session: Session, hazard: Hazard, kind: str, channel: str, message: str) -> int | None:
    """Write the reminder row before calling the webhook; None if it exists already (sent, or being sent)."""
    try:
        with write_transaction(session):
            row = Reminder(hazard_id=hazard.id, campus_id=hazard.campus_id, kind=kind, channel=channel,
                           notice=_notice_of(hazard), message=message, sent_at=utcnow(), ok=False, error=SENDING)
            session.add(row)
            session.flush()
            return row.id
    except IntegrityError:
        return None


def _claim_retry(session: Session, reminder: Reminder) -> bool:
    """Take a failed reminder for one more try, unless another run took it first."""
    with write_transaction(session):
        done = session.execute(update(Reminder).where(Reminder.id == reminder.id, Reminder.ok.is_(False),
                                                      Reminder.sent_at == reminder.sent_at)
                               .values(sent_at=utcnow(), error=SENDING))
        return done.rowcount == 1


def _record(session: Session, reminder_id: int, error: str | None) -> None:
    with write_transaction(session):
        session.execute(update(Reminder).where(Reminder.id == reminder_id)
                        .values(ok=error is None, error=error, sent_at=utcnow()))


def send_reminders(
    session: Session, *, now: dt.datetime, webhooks: Sequence[Webhook], translate: Callable[..., str],
    timeout: float = 5.0, public_url: str | None = None, opener: Opener | None = None,
) -> ReminderRun:
    """Send the reminders due at `now` ("before" and "due"), in the app and to every webhook, each at most once.

    Failed webhook calls of earlier runs are tried again first, as long as the reminder still matters
    (the hazard still waits on someone, and a "before" one only until the deadline). `translate` is
    gettext in the language the messages go out in.
    """
    run = ReminderRun()
    campuses = {c.id: c for c in session.scalars(select(Campus))}
    names = {h.name: h for h in webhooks}
    retry_stmt = select(Reminder).where(Reminder.ok.is_(False), Reminder.channel.in_(sorted(names)))
    for reminder in list(session.scalars(retry_stmt.order_by(Reminder.id))) if names else []:
        hazard = session.get(Hazard, reminder.hazard_id)
        if (hazard is None or hazard.deleted_at is not None or hazard.deadline is None
                or hazard.status not in OVERDUE_STATUSES or (reminder.kind == "before" and now >= hazard.deadline)
                or reminder.notice != _notice_of(hazard)):  # about a notice since replaced
            continue
        if reminder.error == SENDING and reminder.sent_at > utcnow() - STALE_CLAIM:
            continue  # another run is calling it right now
        if not _claim_retry(session, reminder):
            continue
        message = _message(describe(session, [hazard], now=now)[0], reminder.kind, campuses[hazard.campus_id],
                           translate, public_url)
        error = post_webhook(names[reminder.channel], message, timeout=timeout, opener=opener)
        _record(session, reminder.id, error)
        run.retried += 1
        run.sent += error is None
        run.failed += error is not None
        if error:
            run.errors.append(f"hazard {reminder.hazard_id} {reminder.kind} -> {reminder.channel}: {error}")
    for hazard in _reminder_candidates(session, now):
        kind = reminder_due(now, hazard.deadline, hazard.urgency)  # type: ignore[arg-type]
        if kind is None:
            continue
        campus = campuses[hazard.campus_id]
        info = describe(session, [hazard], now=now)[0]
        message = _message(info, kind, campus, translate, public_url)
        people = recipients(session, hazard)
        hazard_id = hazard.id
        try:
            with write_transaction(session):
                hazard = session.get(Hazard, hazard_id)  # type: ignore[assignment]
                run.app += _notify(session, hazard, kind, people, message.text)
        except IntegrityError:
            pass  # a run beside this one wrote them
        for hook in webhooks:
            reminder_id = _claim_new(session, hazard, kind, hook.name, message.text)
            if reminder_id is None:
                continue
            error = post_webhook(hook, message, timeout=timeout, opener=opener)
            _record(session, reminder_id, error)
            run.sent += error is None
            run.failed += error is not None
            if error:
                run.errors.append(f"hazard {hazard_id} {kind} -> {hook.name}: {error}")
    return run


def notifications(session: Session, user_id: int, campus_ids: Collection[int] | None, *, unread_only: bool = False,
                  limit: int = 100) -> tuple[list[Reminder], int]:
    """A person's in-app notifications, newest first, and how many are unread."""
    stmt = select(Reminder).where(Reminder.user_id == user_id, Reminder.channel == app_channel(user_id))
    if campus_ids is not None:
        stmt = stmt.where(Reminder.campus_id.in_(sorted(campus_ids)))
    unread = session.scalar(select(func.count()).select_from(stmt.where(Reminder.read_at.is_(None)).subquery()))
    if unread_only:
        stmt = stmt.where(Reminder.read_at.is_(None))
    rows = list(session.scalars(stmt.order_by(Reminder.sent_at.desc(), Reminder.id.desc()).limit(limit)))
    return rows, int(unread or 0)


def mark_read(session: Session, user_id: int, reminder_id: int, campus_ids: Collection[int] | None) -> Reminder:
    """Mark one of the person's notifications read (again is fine); others are NotFound."""
    with write_transaction(session):
        row = session.get(Reminder, reminder_id)
        if (row is None or row.user_id != user_id or row.channel != app_channel(user_id)
                or (campus_ids is not None and row.campus_id not in campus_ids)):
            raise NotFound("unknown notification %(id)s", id=reminder_id)
        if row.read_at is None:
            row.read_at = utcnow()
    return session.get(Reminder, reminder_id)  # type: ignore[return-value]


def run_reminders(session: Session, config: Any, *, now: dt.datetime | None = None,
                  opener: Opener | None = None) -> ReminderRun:
    """send_reminders with the app's configuration: its webhooks, their timeout, its default language, its URL.

    Needs an app context (the messages are translated with Flask-Babel); `flask hazards remind` calls it.
    """
    from flask_babel import force_locale, gettext

    from patrolmap.hazards import parse_webhooks
    from patrolmap.i18n import normalise_language

    language = normalise_language(config.get("DEFAULT_LANGUAGE")) or "en"
    with force_locale(language):
        return send_reminders(session, now=now or utcnow(), webhooks=parse_webhooks(config.get("WEBHOOKS")),
                              translate=gettext, timeout=float(config.get("WEBHOOK_TIMEOUT", 5.0)),
                              public_url=config.get("PUBLIC_URL"), opener=opener)
