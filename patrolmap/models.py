"""Typed SQLAlchemy models: one definition for SQLite and PostGIS.

Every spatial table stores its geometry in EPSG:4326 plus the bounding box as
plain columns (``minx``..``maxy``; violations use ``lon``/``lat``), which the
SQLite R*Tree tables index; PostGIS indexes the geometry itself with GiST.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

from shapely.geometry.base import BaseGeometry
from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    event,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column

from patrolmap.geotypes import Geometry, UTCDateTime

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Campus(Base):
    """One site of a university; times are shown in its time zone."""

    __tablename__ = "campuses"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    university: Mapped[str | None] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Shanghai")
    boundary: Mapped[BaseGeometry | None] = mapped_column(Geometry("GEOMETRY"))
    # Who receives hazards reported outside every grid zone.
    duty_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Officer(Base):
    """A person the department assigns: grid officer, duty officer, patrol."""

    __tablename__ = "officers"
    __table_args__ = (UniqueConstraint("campus_id", "source_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campus_id: Mapped[int] = mapped_column(ForeignKey("campuses.id"), index=True)
    source_id: Mapped[str | None] = mapped_column(String(128))
    name: Mapped[str] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(32), default="grid_officer")


class Feature:
    """Columns every stored map feature shares."""

    # Which columns hold the bounding box, in R*Tree order (minx, maxx, miny, maxy).
    bbox_columns: ClassVar[tuple[str, str, str, str]] = ("minx", "maxx", "miny", "maxy")
    geometry_type: ClassVar[str] = "GEOMETRY"

    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[str | None] = mapped_column(String(128))
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    @declared_attr
    def campus_id(cls) -> Mapped[int]:  # noqa: N805
        return mapped_column(ForeignKey("campuses.id"), index=True)

    @declared_attr
    def __table_args__(cls) -> tuple[Any, ...]:  # noqa: N805
        return (UniqueConstraint("campus_id", "source_id"),)


class BoxedFeature(Feature):
    """A feature whose bounding box is kept in four plain columns for indexing."""

    minx: Mapped[float] = mapped_column(Float)
    miny: Mapped[float] = mapped_column(Float)
    maxx: Mapped[float] = mapped_column(Float)
    maxy: Mapped[float] = mapped_column(Float)


class Building(BoxedFeature, Base):
    __tablename__ = "buildings"
    geometry_type = "GEOMETRY"

    name: Mapped[str | None] = mapped_column(String(200))
    name_en: Mapped[str | None] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(32), default="other")
    residents: Mapped[int | None] = mapped_column(Integer)
    floors: Mapped[int | None] = mapped_column(Integer)
    college: Mapped[str | None] = mapped_column(String(200))
    # Opening hours ("06:00-23:00", several separated by commas): a gate closed at night, a canteen, a library.
    hours: Mapped[str | None] = mapped_column(String(200))
    grid_zone_id: Mapped[int | None] = mapped_column(ForeignKey("grid_zones.id"), index=True)
    geom: Mapped[BaseGeometry] = mapped_column(Geometry("GEOMETRY"))


class GridZone(BoxedFeature, Base):
    __tablename__ = "grid_zones"

    name: Mapped[str] = mapped_column(String(200))
    officer_id: Mapped[int | None] = mapped_column(ForeignKey("officers.id"))
    # The grid officer's user account: whose zone it is (sees it on /grid, gets its hazards).
    officer_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    geom: Mapped[BaseGeometry] = mapped_column(Geometry("GEOMETRY"))


class PathSegment(BoxedFeature, Base):
    __tablename__ = "path_segments"

    name: Mapped[str | None] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(32), default="footway")
    fire_lane: Mapped[bool] = mapped_column(Boolean, default=False)
    oneway: Mapped[bool] = mapped_column(Boolean, default=False)
    access: Mapped[str] = mapped_column(String(16), default="public")
    speed_limit_kmh: Mapped[float | None] = mapped_column(Float)
    geom: Mapped[BaseGeometry] = mapped_column(Geometry("LINESTRING"))


class Checkpoint(BoxedFeature, Base):
    __tablename__ = "checkpoints"

    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str | None] = mapped_column(String(32))
    building_id: Mapped[int | None] = mapped_column(ForeignKey("buildings.id"))
    geom: Mapped[BaseGeometry] = mapped_column(Geometry("POINT"))


class ParkingLot(BoxedFeature, Base):
    __tablename__ = "parking_lots"

    name: Mapped[str | None] = mapped_column(String(200))
    capacity: Mapped[int | None] = mapped_column(Integer)
    geom: Mapped[BaseGeometry] = mapped_column(Geometry("GEOMETRY"))


class Charger(BoxedFeature, Base):
    __tablename__ = "chargers"

    name: Mapped[str | None] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16), default="car")
    ports: Mapped[int | None] = mapped_column(Integer)
    power_kw: Mapped[float | None] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(16), default="existing")
    operator: Mapped[str | None] = mapped_column(String(200))
    geom: Mapped[BaseGeometry] = mapped_column(Geometry("POINT"))


class DutyPost(BoxedFeature, Base):
    __tablename__ = "duty_posts"

    name: Mapped[str] = mapped_column(String(200))
    hours: Mapped[str | None] = mapped_column(String(200))
    geom: Mapped[BaseGeometry] = mapped_column(Geometry("POINT"))


class Violation(Feature, Base):
    """A parking violation: enforcement evidence, so edits are audited and deletes are soft.

    Analysis reads the plain columns (lon, lat, local_hour, local_weekday,
    local_date, kind, campus_id) straight into numpy, never through ORM objects.
    """

    __tablename__ = "violations"
    bbox_columns = ("lon", "lon", "lat", "lat")

    observed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    kind: Mapped[str] = mapped_column(String(16))
    plate: Mapped[str | None] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default="open")
    note: Mapped[str | None] = mapped_column(Text)
    reporter: Mapped[str | None] = mapped_column(String(200))
    lon: Mapped[float] = mapped_column(Float)
    lat: Mapped[float] = mapped_column(Float)
    local_date: Mapped[dt.date] = mapped_column(Date)
    local_hour: Mapped[int] = mapped_column(SmallInteger)
    local_minute: Mapped[int] = mapped_column(SmallInteger)
    local_weekday: Mapped[int] = mapped_column(SmallInteger)
    near_fire_lane: Mapped[bool] = mapped_column(Boolean, default=False)
    deleted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    deleted_reason: Mapped[str | None] = mapped_column(Text)
    geom: Mapped[BaseGeometry] = mapped_column(Geometry("POINT"))

    @declared_attr
    def __table_args__(cls) -> tuple[Any, ...]:  # noqa: N805
        return (
            UniqueConstraint("campus_id", "source_id"),
            Index("ix_violations_campus_time", "campus_id", "observed_at"),
            Index("ix_violations_campus_hour", "campus_id", "local_hour", "local_weekday"),
        )


class MarkedHotspot(BoxedFeature, Base):
    """A hotspot traffic staff marked by hand (drawn, or a computed one confirmed): a layer of its own.

    Planning data, but edits are audited like evidence and deletes are soft.
    """

    __tablename__ = "marked_hotspots"

    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(32))
    hours: Mapped[str | None] = mapped_column(String(200))
    note: Mapped[str | None] = mapped_column(Text)
    deleted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    deleted_reason: Mapped[str | None] = mapped_column(Text)
    geom: Mapped[BaseGeometry] = mapped_column(Geometry("GEOMETRY"))


class EvidenceFile(Base):
    """A photo's bytes, when kept in the database (PATROLMAP_EVIDENCE_STORE=database) rather than in
    files: app servers need no shared directory, and every database backup holds the photos."""

    __tablename__ = "evidence_files"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    original: Mapped[bytes] = mapped_column(LargeBinary)
    display: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class ViolationPhoto(Base):
    """An evidence photo of a violation; the bytes live in files named by their SHA-256 (patrolmap.evidence).

    The original is kept byte for byte (its hash proves it unaltered); a display copy without
    EXIF/GPS is what people see. The retention purge deletes both files and keeps this row,
    with its hash, marked purged_at.
    """

    __tablename__ = "violation_photos"
    __table_args__ = (UniqueConstraint("violation_id", "sha256"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    violation_id: Mapped[int] = mapped_column(ForeignKey("violations.id"), index=True)
    campus_id: Mapped[int] = mapped_column(ForeignKey("campuses.id"), index=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    content_type: Mapped[str] = mapped_column(String(32))
    size: Mapped[int] = mapped_column(Integer)
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    display_sha256: Mapped[str] = mapped_column(String(64))
    display_size: Mapped[int] = mapped_column(Integer)
    uploaded_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    purged_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class PatrolRoute(Base):
    """A saved patrol plan: the request that made it, the tours it gave, and the shift it is walked on.

    Stops are stored checkpoints (a point picked freely on the map becomes a checkpoint when the
    route is saved), so every stop can carry a QR plaque and check-ins always name a checkpoint.
    `plan` keeps the planner's answer as it was: per team the visiting order (checkpoint ids),
    length, duration and legs, plus what was unreachable or did not fit. Deletes are soft because
    check-ins, the record of patrols done, point at the route.
    """

    __tablename__ = "patrol_routes"

    id: Mapped[int] = mapped_column(primary_key=True)
    campus_id: Mapped[int] = mapped_column(ForeignKey("campuses.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    mode: Mapped[str] = mapped_column(String(8), default="walk")
    start_lon: Mapped[float] = mapped_column(Float)
    start_lat: Mapped[float] = mapped_column(Float)
    start_checkpoint_id: Mapped[int | None] = mapped_column(ForeignKey("checkpoints.id"))
    checkpoint_ids: Mapped[list[int]] = mapped_column(JSON)
    teams: Mapped[int] = mapped_column(SmallInteger, default=1)
    max_minutes: Mapped[float | None] = mapped_column(Float)
    speed_m_per_min: Mapped[float] = mapped_column(Float)
    plan: Mapped[dict[str, Any]] = mapped_column(JSON)
    # Tours of all teams as one MULTILINESTRING (team order), for the map and exports.
    geom: Mapped[BaseGeometry | None] = mapped_column(Geometry("GEOMETRY"))
    length_m: Mapped[float] = mapped_column(Float, default=0.0)
    # The shift, in the campus's local time: "HH:MM" start and end (an end before the start runs
    # past midnight), ISO weekdays 1-7 it runs on, and how many rounds are walked per shift.
    shift_start: Mapped[str | None] = mapped_column(String(5))
    shift_end: Mapped[str | None] = mapped_column(String(5))
    shift_days: Mapped[list[int]] = mapped_column(JSON, default=list)
    visits_per_shift: Mapped[int] = mapped_column(SmallInteger, default=1)
    checkin_radius_m: Mapped[float] = mapped_column(Float, default=30.0)
    late_after_min: Mapped[float] = mapped_column(Float, default=15.0)
    note: Mapped[str | None] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    deleted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class CheckpointTag(Base):
    """The token on a checkpoint's printed QR plaque; scanning it shows the officer stood there.

    Kept in clear, unlike passwords and API tokens: it is printed on a plaque on a public wall and
    grants nothing by itself (a check-in also needs a signed-in officer on shift), and the sheet
    must be reprintable. Reissuing a tag (a plaque lost or copied) retires the old token.
    """

    __tablename__ = "checkpoint_tags"

    id: Mapped[int] = mapped_column(primary_key=True)
    checkpoint_id: Mapped[int] = mapped_column(ForeignKey("checkpoints.id"), index=True)
    campus_id: Mapped[int] = mapped_column(ForeignKey("campuses.id"), index=True)
    token: Mapped[str] = mapped_column(String(64), unique=True)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    retired_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class PatrolCheckin(Base):
    """An officer at a checkpoint on shift: the record of patrols done, so append-only.

    `shift_date` is the local date the shift started on (a night shift checked in after midnight
    still belongs to the evening before); `visit` is the round within the shift (1-based).
    """

    __tablename__ = "patrol_checkins"
    __table_args__ = (Index("ix_patrol_checkins_route_shift", "route_id", "shift_date"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campus_id: Mapped[int] = mapped_column(ForeignKey("campuses.id"), index=True)
    route_id: Mapped[int] = mapped_column(ForeignKey("patrol_routes.id"))
    checkpoint_id: Mapped[int] = mapped_column(ForeignKey("checkpoints.id"))
    team: Mapped[int] = mapped_column(SmallInteger, default=1)
    shift_date: Mapped[dt.date] = mapped_column(Date)
    visit: Mapped[int] = mapped_column(SmallInteger, default=1)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    method: Mapped[str] = mapped_column(String(8))
    lon: Mapped[float | None] = mapped_column(Float)
    lat: Mapped[float | None] = mapped_column(Float)
    accuracy_m: Mapped[float | None] = mapped_column(Float)
    distance_m: Mapped[float | None] = mapped_column(Float)
    officer: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class PatrolTrackPoint(Base):
    """A position a patrol phone shared while on shift, to show the track walked."""

    __tablename__ = "patrol_track_points"
    __table_args__ = (Index("ix_patrol_track_points_route_shift", "route_id", "shift_date", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campus_id: Mapped[int] = mapped_column(ForeignKey("campuses.id"), index=True)
    route_id: Mapped[int] = mapped_column(ForeignKey("patrol_routes.id"))
    shift_date: Mapped[dt.date] = mapped_column(Date)
    officer: Mapped[str] = mapped_column(String(200))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    lon: Mapped[float] = mapped_column(Float)
    lat: Mapped[float] = mapped_column(Float)
    accuracy_m: Mapped[float | None] = mapped_column(Float)


class ChargerScenario(Base):
    """A planner's saved charger scenario: new sites of one kind on top of the existing chargers.

    `sites` holds the new sites as given ({"lon", "lat", "name", "ports", "power_kw", "candidate"}),
    `excluded` the candidates marked unsuitable; `summary` is computed by the server at save time
    (sites, ports, covered share, covered and uncovered demand at `walk_m`), so that scenarios are
    compared as they were saved. Deletes are soft, like saved patrol routes.
    """

    __tablename__ = "charger_scenarios"

    id: Mapped[int] = mapped_column(primary_key=True)
    campus_id: Mapped[int] = mapped_column(ForeignKey("campuses.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))
    walk_m: Mapped[float] = mapped_column(Float)
    sites: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    excluded: Mapped[list[Any]] = mapped_column(JSON, default=list)
    note: Mapped[str | None] = mapped_column(Text)
    summary: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    deleted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class Hazard(BoxedFeature, Base):
    """A safety hazard found on campus and followed until it is fixed (the rectification loop).

    Evidence like a violation: every status move is a HazardEvent, edits are audited, deletes are
    soft. `zone_id`/`assignee_user_id` are found when it is reported (the zone holding it and that
    zone's officer, else the campus's duty officer); `deadline` comes from the urgency when the
    rectification notice is issued.
    """

    __tablename__ = "hazards"

    category: Mapped[str] = mapped_column(String(32))
    description: Mapped[str] = mapped_column(Text)
    urgency: Mapped[str] = mapped_column(String(16), default="normal")
    status: Mapped[str] = mapped_column(String(16), default="reported", index=True)
    building_id: Mapped[int | None] = mapped_column(ForeignKey("buildings.id"))
    zone_id: Mapped[int | None] = mapped_column(ForeignKey("grid_zones.id"), index=True)
    assignee_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reported_by: Mapped[str] = mapped_column(String(200))
    reported_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    notice_number: Mapped[str | None] = mapped_column(String(64))
    responsible_unit: Mapped[str | None] = mapped_column(String(200), index=True)
    deadline: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    rectified_by: Mapped[str | None] = mapped_column(String(200))
    closed_by: Mapped[str | None] = mapped_column(String(200))
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    escalated_reason: Mapped[str | None] = mapped_column(Text)
    deleted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    deleted_reason: Mapped[str | None] = mapped_column(Text)
    geom: Mapped[BaseGeometry] = mapped_column(Geometry("POINT"))


class HazardEvent(Base):
    """One step of a hazard's rectification loop: who moved it, when, from what to what, and why.

    Append-only (database triggers refuse UPDATE and DELETE): it is the record of the loop.
    """

    __tablename__ = "hazard_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    hazard_id: Mapped[int] = mapped_column(ForeignKey("hazards.id"), index=True)
    campus_id: Mapped[int] = mapped_column(ForeignKey("campuses.id"), index=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor: Mapped[str] = mapped_column(String(200))
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text)


class HazardPhoto(Base):
    """A photo of a hazard, stored like violation photos (patrolmap.evidence: SHA-256 named files)."""

    __tablename__ = "hazard_photos"
    __table_args__ = (UniqueConstraint("hazard_id", "sha256"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    hazard_id: Mapped[int] = mapped_column(ForeignKey("hazards.id"), index=True)
    campus_id: Mapped[int] = mapped_column(ForeignKey("campuses.id"), index=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    content_type: Mapped[str] = mapped_column(String(32))
    size: Mapped[int] = mapped_column(Integer)
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    display_sha256: Mapped[str] = mapped_column(String(64))
    display_size: Mapped[int] = mapped_column(Integer)
    uploaded_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Reminder(Base):
    """A deadline reminder sent (in the app, or to a webhook): kept so that none is sent twice.

    Once per hazard, kind, channel and notice: a hazard escalated and given a new notice (a new
    number and deadline) is reminded of the new deadline too.
    """

    __tablename__ = "reminders"
    __table_args__ = (UniqueConstraint("hazard_id", "kind", "channel", "notice"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    hazard_id: Mapped[int] = mapped_column(ForeignKey("hazards.id"), index=True)
    campus_id: Mapped[int] = mapped_column(ForeignKey("campuses.id"), index=True)
    # "before" (ahead of the deadline) or "due" (at the deadline, now overdue).
    kind: Mapped[str] = mapped_column(String(16))
    # "app" or the webhook's configured name.
    channel: Mapped[str] = mapped_column(String(64))
    # The notice number it is about; "" for one about no notice (a new hazard assigned).
    notice: Mapped[str] = mapped_column(String(64), default="", server_default="")
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    message: Mapped[str] = mapped_column(Text)
    sent_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    ok: Mapped[bool] = mapped_column(Boolean, default=True)
    error: Mapped[str | None] = mapped_column(Text)
    read_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


# patrol_officer: walks routes on shift and checks in at checkpoints (巡更).
ROLES = ("admin", "patrol_lead", "patrol_officer", "traffic_staff", "planner", "grid_officer", "responsible_unit",
         "viewer")


class User(Base):
    """A person who signs in; roles and campuses limit what they see and change."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str | None] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(255))
    # A person may hold several roles, e.g. "patrol_lead,traffic_staff".
    roles: Mapped[str] = mapped_column(String(255), default="viewer")
    university: Mapped[str | None] = mapped_column(String(200))
    # Campus slugs the user is limited to; empty means every campus of the university.
    campuses: Mapped[str] = mapped_column(String(1000), default="")
    # The responsible unit a "responsible_unit" user acts for (a college, the logistics department):
    # they see and update only the hazards assigned to that unit.
    unit: Mapped[str | None] = mapped_column(String(200))
    # The person's interface language (zh_CN or en); None follows the browser.
    language: Mapped[str | None] = mapped_column(String(16))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    password_changed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    @property
    def role_set(self) -> frozenset[str]:
        return frozenset(r for r in self.roles.split(",") if r)


class LoginSession(Base):
    """A signed-in browser: kept on the server so that logout and timeouts really end it.

    The cookie holds a random token; only its SHA-256 is stored, so a copy of the
    database cannot be used to hijack sessions.
    """

    __tablename__ = "login_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    ended_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    address: Mapped[str | None] = mapped_column(String(64))


class ApiToken(Base):
    """A per-user token for scripts and handhelds; only its SHA-256 is stored, and an admin can revoke it."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class LoginAttempt(Base):
    """One sign-in attempt, for rate limiting per account and per address."""

    __tablename__ = "login_attempts"
    __table_args__ = (Index("ix_login_attempts_at", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    username: Mapped[str] = mapped_column(String(64), index=True)
    address: Mapped[str] = mapped_column(String(64), index=True)
    succeeded: Mapped[bool] = mapped_column(Boolean, default=False)


class StagedImport(Base):
    """A file uploaded on /import, kept between its preview and the confirm that writes it.

    The bytes live in the database (not on one app server's disk) so that the confirm may reach any
    server; `preview` is what the dry run found (per layer inserted/updated/unchanged, or the problems).
    A staged file is written at most once (`committed_at`), and old ones are purged.
    """

    __tablename__ = "staged_imports"

    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(String(64), unique=True)
    campus_id: Mapped[int | None] = mapped_column(ForeignKey("campuses.id"), index=True)
    # What the file is read as: "geodata" (GeoJSON layer, GeoPackage, OSM extract) or "violations" (CSV/GeoJSON).
    kind: Mapped[str] = mapped_column(String(16))
    filename: Mapped[str] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    preview: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    committed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class AuditEntry(Base):
    """Append-only record of who changed what: evidence must be traceable."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(32))
    layer: Mapped[str] = mapped_column(String(64), index=True)
    feature_id: Mapped[int | None] = mapped_column(Integer)
    # The campus the change belongs to, so that each university's admins see only their own;
    # None for deployment-wide changes (users, retention runs), seen by deployment admins.
    campus_id: Mapped[int | None] = mapped_column(ForeignKey("campuses.id"), index=True)
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    reason: Mapped[str | None] = mapped_column(Text)


class IdempotencyKey(Base):
    """A write sent with an Idempotency-Key header, and the answer it got (patrolmap.idempotency).

    Written in the very transaction of the write, so that both exist or neither: a handheld that
    retries after a lost answer gets the stored one, and nothing is created twice. Kept 24 hours.
    """

    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("user_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    key: Mapped[str] = mapped_column(String(255))
    method: Mapped[str] = mapped_column(String(8))
    path: Mapped[str] = mapped_column(Text)
    request_sha256: Mapped[str] = mapped_column(String(64))
    # The stored answer; None only inside the transaction that is still writing it.
    status: Mapped[int | None] = mapped_column(SmallInteger)
    headers: Mapped[dict[str, str] | None] = mapped_column(JSON)
    body: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


FEATURE_MODELS: tuple[type[Feature], ...] = (
    Building, GridZone, PathSegment, Checkpoint, ParkingLot, Charger, DutyPost, Violation, MarkedHotspot, Hazard,
)


@event.listens_for(BoxedFeature, "before_insert", propagate=True)
@event.listens_for(BoxedFeature, "before_update", propagate=True)
def _keep_bbox(_mapper: Any, _conn: Any, target: BoxedFeature) -> None:
    """Derive the bbox columns from the geometry so that they can never disagree."""
    target.minx, target.miny, target.maxx, target.maxy = target.geom.bounds
