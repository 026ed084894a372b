"""Patrol execution (巡更): QR plaques, check-ins by QR or GPS, shared tracks, planned-vs-done per shift.

A saved route (patrolmap.models.PatrolRoute, served by the saved-routes API) is walked in shifts; the
timing rules live in patrolmap.patrolshifts. Here:

- Plaques: each stop's checkpoint gets a CheckpointTag (a random token) the first time a QR sheet is
  printed, reused after; reissuing one retires the old token (a plaque lost or copied). The QR code
  holds the absolute URL of the check-in page, /patrol/checkin/<token>.
- Check-ins are accepted when the QR token is the checkpoint's current tag, or when the phone's GPS
  position is within the route's check-in radius; the time must fall in a round of the route's
  shift. They are append-only records (the database refuses UPDATE and DELETE); a second check-in
  for the same stop, team and round is kept, and the first one counts.
- Track points are shared positions of the officers' phones while on shift.
- Reports: one shift's planned visits with their status and tracks, and the missed stops over
  days, per day and officer.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
import secrets
import zoneinfo
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

import segno
from flask import Blueprint, Response, current_app, g, jsonify, render_template, request, url_for
from flask_babel import gettext
from sqlalchemy import select

from patrolmap.audit import _cell
from patrolmap.database import write_transaction
from patrolmap.errors import BadRequest, NotFound, ValidationFailed
from patrolmap.extensions import db
from patrolmap.geo.io import EXPORT_ENCODINGS
from patrolmap.models import AuditEntry, Campus, Checkpoint, CheckpointTag, PatrolCheckin, PatrolRoute, PatrolTrackPoint
from patrolmap.patrolshifts import (
    CheckinRecord,
    Schedule,
    Shift,
    ShiftError,
    ShiftWindow,
    Tour,
    build_schedule,
    counted_stops,
    distance_m,
    make_shift,
    next_shift,
    shift_at,
    tours_from_plan,
)
from patrolmap.timeutil import FIRST_DATE, LAST_DATE
from patrolmap.web.api import _json_body, actor, one_campus
from patrolmap.wording import N_

bp = Blueprint("patrol_exec", __name__)

# Roles that lead patrols: they see every officer's track; officers see their own.
LEADS = frozenset({"admin", "patrol_lead"})
CHECKIN_FIELDS = {"checkpoint", "team", "time", "position", "accuracy_m", "qr"}
FUTURE_SLACK = dt.timedelta(minutes=5)  # a phone's clock may run a little fast
MAX_AGE = dt.timedelta(hours=24)  # a phone that was offline may send late, but not days later
MAX_GPS_ACCURACY_M = 100.0
MAX_TRACK_POINTS = 2000
MAX_REPORT_DAYS = 93
TAG_LAYER = "checkpoint-tags"

# The words of the shift view (patrol_shifts.js), the walk page and the check-in page, keyed by their English.
STATUS_WORDS = {"on_time": N_("on time"), "late": N_("late"), "missed": N_("missed"), "pending": N_("pending")}
PATROL_TEXTS = (
    N_("on time"), N_("late"), N_("missed"), N_("pending"),
    N_("Round %(visit)s"), N_("Team %(team)s"), N_("No. %(seq)s"), N_("planned %(time)s"),
    N_("checked in %(time)s"), N_("by %(officer)s"), N_("QR code"), N_("GPS"),
    N_("%(on_time)s on time, %(late)s late, %(missed)s missed, %(pending)s pending"),
    N_("no saved routes on this campus"), N_("Choose a route"), N_("track of %(officer)s"),
    N_("Checked in: %(status)s"), N_("Finding your position…"), N_("Your position could not be found: %(reason)s"),
    N_("Check in here (GPS)"), N_("Checking in…"), N_("sent %(count)s positions"), N_("not on shift now"),
    N_("Check-in status"), N_("%(count)s check-ins"), N_("Stop"), N_("Status"), N_("Planned"), N_("Done"),
    N_("Officer"), N_("Checkpoint"), N_("Reissue this plaque? Its old QR code stops working at once."),
)


def now_utc() -> dt.datetime:
    """The current instant (a function, so tests can script a shift)."""
    return dt.datetime.now(dt.UTC)


def _texts() -> dict[str, str]:
    return {text: gettext(text) for text in PATROL_TEXTS}


def shift_tool_config(campus: Campus) -> dict[str, Any]:
    """The config patrol_shifts.js expects: `patrolmap.patrolShifts(map, shift_tool_config(campus))`."""
    return {
        "campus": campus.slug, "routesUrl": "/api/routes", "shiftUrl": "/api/routes/{id}/shifts/{date}",
        "missedUrl": url_for("patrol_exec.missed_report"), "qrUrl": "/patrol/routes/{id}/qr",
        "walkUrl": "/patrol/routes/{id}/walk", "timezone": campus.timezone,
        "today": now_utc().astimezone(zoneinfo.ZoneInfo(campus.timezone)).date().isoformat(),
        "texts": _texts(),
    }


# ---------------------------------------------------------------- routes, shifts, plaques


def _route(route_id: int, *, live: bool) -> PatrolRoute:
    """A route the caller may see; deleted ones only for reading (live=False). Others answer 404."""
    route = db.session.get(PatrolRoute, route_id)
    if route is None or not g.scope.sees_campus(route.campus_id) or (live and route.deleted_at is not None):
        raise NotFound("unknown patrol route %(id)s", id=route_id)
    return route


def _campus(route: PatrolRoute) -> Campus:
    return db.session.get(Campus, route.campus_id)  # type: ignore[return-value]


def _shift(route: PatrolRoute, campus: Campus) -> Shift:
    """The route's shift; a route without shift times has none, so nothing can be checked in on it."""
    try:
        shift = make_shift(route.shift_start, route.shift_end, route.shift_days, route.visits_per_shift,
                           route.late_after_min, campus.timezone)
    except ShiftError as exc:
        raise ValidationFailed("the shift of this route cannot be used: %(reason)s", reason=str(exc)) from None
    if shift is None:
        raise ValidationFailed("route %(name)s has no shift times, so it is never on shift", name=route.name)
    return shift


def _describe(shift: Shift) -> dict[str, Any]:
    return {"start": shift.start.strftime("%H:%M"), "end": shift.end.strftime("%H:%M"),
            "days": sorted(shift.days) or [1, 2, 3, 4, 5, 6, 7]}


def _local(value: dt.datetime | None, zone: zoneinfo.ZoneInfo) -> str | None:
    return None if value is None else value.astimezone(zone).isoformat(timespec="seconds")


def _checkpoints(campus_id: int, ids: Iterable[int]) -> dict[int, Checkpoint]:
    ids = sorted(set(ids))
    if not ids:
        return {}
    rows = db.session.scalars(select(Checkpoint).where(Checkpoint.campus_id == campus_id, Checkpoint.id.in_(ids)))
    return {c.id: c for c in rows}


def _stops(tours: Sequence[Tour]) -> list[tuple[int, int, int]]:
    """(team, seq, checkpoint) of every stop, in team order."""
    return [(t.team, seq, cid) for t in tours for seq, cid in enumerate(t.order, start=1)]


def _active_tags(ids: Iterable[int]) -> dict[int, CheckpointTag]:
    ids = sorted(set(ids))
    if not ids:
        return {}
    rows = db.session.scalars(select(CheckpointTag).where(CheckpointTag.checkpoint_id.in_(ids),
                                                          CheckpointTag.retired_at.is_(None))
                              .order_by(CheckpointTag.id))
    return {t.checkpoint_id: t for t in rows}


def _new_tag(checkpoint_id: int, campus_id: int, who: str, reason: str, *, retired: list[int] | None = None,
             action: str = "create") -> CheckpointTag:
    tag = CheckpointTag(checkpoint_id=checkpoint_id, campus_id=campus_id, token=secrets.token_urlsafe(24),
                        created_by=who)
    db.session.add(tag)
    db.session.flush()
    # The token is not written to the audit log: the log is read more widely than the plaques are printed.
    db.session.add(AuditEntry(actor=who, action=action, layer=TAG_LAYER, feature_id=checkpoint_id,
                              campus_id=campus_id, before={"tags": retired} if retired else None,
                              after={"tag": tag.id}, reason=reason))
    return tag


def _lock_checkpoints(ids: Sequence[int]) -> None:
    """Serialise tag writes per checkpoint on PostgreSQL (SQLite's write lock already does)."""
    db.session.execute(select(Checkpoint.id).where(Checkpoint.id.in_(sorted(ids))).with_for_update())


def ensure_tags(campus_id: int, checkpoint_ids: Sequence[int]) -> dict[int, str]:
    """Each checkpoint's current plaque token, made on first print and reused after."""
    tokens = {cid: t.token for cid, t in _active_tags(checkpoint_ids).items()}
    missing = [cid for cid in checkpoint_ids if cid not in tokens]
    if missing:
        who = actor()
        with write_transaction(db.session):
            _lock_checkpoints(missing)
            current = _active_tags(missing)  # again, under the lock: another print may have made some
            for cid in missing:
                tag = current.get(cid) or _new_tag(cid, campus_id, who, "QR plaque printed for the first time")
                tokens[cid] = tag.token
    return tokens


def _public_base() -> str:
    return (current_app.config.get("PUBLIC_URL") or request.host_url).rstrip("/")


def checkin_url(token: str) -> str:
    """The absolute address a plaque's QR code holds."""
    return _public_base() + url_for("patrol_exec.checkin_page", token=token)


def qr_svg(payload: str) -> str:
    """An inline SVG QR code (error correction M survives a scuffed plaque), drawn at any size by CSS."""
    return segno.make(payload, error="m", micro=False, boost_error=False).svg_inline(
        scale=4, border=4, omitsize=True, dark="#000", light="#fff")


@bp.get("/patrol/routes/<int:route_id>/qr")
def qr_sheet(route_id: int) -> str:
    """A printable sheet: one QR plaque per stop of the route, with the checkpoint's name and number."""
    route = _route(route_id, live=True)
    campus = _campus(route)
    tours = tours_from_plan(route.plan)
    stops = _stops(tours)
    points = _checkpoints(campus.id, [cid for _, _, cid in stops])
    route_name, campus_id = route.name, campus.id
    tokens = ensure_tags(campus_id, [cid for _, _, cid in stops if cid in points])
    plaques = []
    for team, seq, cid in stops:
        if cid not in points:
            continue
        url = checkin_url(tokens[cid])
        plaques.append({"team": team, "seq": seq, "checkpoint": cid, "name": points[cid].name, "url": url,
                        "svg": qr_svg(url)})
    return render_template("qr_sheet.html", route_name=route_name, route_id=route_id, plaques=plaques,
                           teams=len(tours), campus=db.session.get(Campus, campus_id),
                           page_config={"texts": _texts()})


@bp.post("/api/checkpoints/<int:checkpoint_id>/tag")
def reissue_tag(checkpoint_id: int) -> tuple[Response, int]:
    """Give a checkpoint a new plaque token and retire the old one (a plaque lost or copied); audited."""
    body = request.get_json(silent=True) if request.data else {}
    if not isinstance(body, dict) or set(body) - {"reason"}:
        raise BadRequest("send no body, or a JSON object with a reason and nothing else")
    reason = body.get("reason") or "plaque reissued"
    if not isinstance(reason, str) or len(reason) > 1000:
        raise BadRequest("reason must be a text of at most 1000 characters")
    checkpoint = db.session.get(Checkpoint, checkpoint_id)
    if checkpoint is None or not g.scope.sees_campus(checkpoint.campus_id):
        raise NotFound("unknown checkpoint %(id)s", id=checkpoint_id)
    campus_id, who = checkpoint.campus_id, actor()
    now = now_utc()
    with write_transaction(db.session):
        _lock_checkpoints([checkpoint_id])
        old = list(db.session.scalars(select(CheckpointTag).where(CheckpointTag.checkpoint_id == checkpoint_id,
                                                                  CheckpointTag.retired_at.is_(None))))
        for tag in old:
            tag.retired_at = now
        tag = _new_tag(checkpoint_id, campus_id, who, reason, retired=[t.id for t in old], action="reissue")
        answer = {"checkpoint": checkpoint_id, "tag": tag.id, "retired": [t.id for t in old],
                  "url": checkin_url(tag.token), "created_at": tag.created_at.isoformat()}
    return jsonify(answer), 201


# ---------------------------------------------------------------- phone pages


def _route_on_shift(route: PatrolRoute, campus: Campus, now: dt.datetime) -> tuple[ShiftWindow, int] | None:
    try:
        shift = make_shift(route.shift_start, route.shift_end, route.shift_days, route.visits_per_shift,
                           route.late_after_min, campus.timezone)
    except ShiftError:
        return None
    found = shift_at(shift, now) if shift else None
    return (found[0], found[1].visit) if found else None


@bp.get("/patrol/checkin/<token>")
def checkin_page(token: str) -> str:
    """Where a plaque's QR code leads: the checkpoint and the routes on shift now that stop there."""
    tag = db.session.scalars(select(CheckpointTag).where(CheckpointTag.token == token,
                                                         CheckpointTag.retired_at.is_(None))).first()
    if tag is None or not g.scope.sees_campus(tag.campus_id):
        raise NotFound("this QR code is unknown or has been replaced; ask your patrol lead for the new plaque")
    checkpoint = db.session.get(Checkpoint, tag.checkpoint_id)
    campus = db.session.get(Campus, tag.campus_id)
    zone = zoneinfo.ZoneInfo(campus.timezone)  # type: ignore[union-attr]
    now = now_utc()
    routes = db.session.scalars(select(PatrolRoute).where(PatrolRoute.campus_id == tag.campus_id,
                                                          PatrolRoute.deleted_at.is_(None))
                                .order_by(PatrolRoute.name, PatrolRoute.id))
    on_shift, off_shift = [], []
    for route in routes:
        tour = next((t for t in tours_from_plan(route.plan) if tag.checkpoint_id in t.order), None)
        if tour is None:
            continue
        found = _route_on_shift(route, campus, now)  # type: ignore[arg-type]
        item = {"id": route.id, "name": route.name, "team": tour.team, "seq": tour.order.index(tag.checkpoint_id) + 1,
                "walk_url": url_for("patrol_exec.walk_page", route_id=route.id, team=tour.team)}
        if found:
            item.update(shift_date=found[0].shift_date.isoformat(), visit=found[1],
                        end=found[0].end.astimezone(zone).strftime("%H:%M"))
            on_shift.append(item)
        else:
            off_shift.append(item)
    config = {"checkpoint": checkpoint.id, "qr": token, "checkinUrl": "/api/routes/{id}/checkins",  # type: ignore[union-attr]
              "texts": _texts()}
    return render_template("checkin.html", checkpoint=checkpoint, campus=campus, on_shift=on_shift,
                           off_shift=off_shift, page_config=config)


@bp.get("/patrol/routes/<int:route_id>/walk")
def walk_page(route_id: int) -> str:
    """An officer's phone page for a route: one team's stops in order, their status this round, GPS check-ins."""
    route = _route(route_id, live=True)
    campus = _campus(route)
    zone = zoneinfo.ZoneInfo(campus.timezone)
    tours = tours_from_plan(route.plan)
    if not tours:
        raise ValidationFailed("route %(name)s has no planned tour to walk", name=route.name)
    team_text = request.args.get("team", "")
    teams = [t.team for t in tours]
    team = int(team_text) if team_text.isascii() and team_text.isdigit() and int(team_text) in teams else teams[0]
    tour = next(t for t in tours if t.team == team)
    points = _checkpoints(campus.id, tour.order)
    now = now_utc()
    found = _route_on_shift(route, campus, now)
    upcoming = None
    if found is None:
        try:
            shift = make_shift(route.shift_start, route.shift_end, route.shift_days, route.visits_per_shift,
                               route.late_after_min, campus.timezone)
        except ShiftError:
            shift = None
        window = next_shift(shift, now) if shift else None
        upcoming = window.start.astimezone(zone).strftime("%Y-%m-%d %H:%M") if window else None
    stops = [{"seq": seq, "checkpoint": cid, "name": points[cid].name if cid in points else str(cid),
              "lon": points[cid].geom.x if cid in points else None,
              "lat": points[cid].geom.y if cid in points else None}
             for seq, cid in enumerate(tour.order, start=1)]
    config = {
        "route": route.id, "team": team, "stops": stops, "radius_m": route.checkin_radius_m,
        "shiftDate": found[0].shift_date.isoformat() if found else None, "visit": found[1] if found else None,
        "shiftUrl": url_for("patrol_exec.shift_report", route_id=route.id, shift_date="DATE").replace("DATE", "{date}"),
        "checkinUrl": url_for("patrol_exec.create_checkin", route_id=route.id),
        "trackUrl": url_for("patrol_exec.post_track", route_id=route.id), "texts": _texts(),
    }
    return render_template("walk.html", route=route, campus=campus, team=team, teams=teams, stops=stops,
                           on_shift=found, upcoming=upcoming, visits=route.visits_per_shift, page_config=config)


# ---------------------------------------------------------------- check-ins and tracks


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise BadRequest("%(name)s must be a number", name=what)
    return float(value)


def _position(value: Any, what: str = "position") -> tuple[float, float]:
    if not isinstance(value, list) or len(value) != 2:
        raise BadRequest("%(name)s must be [lon, lat]", name=what)
    lon, lat = _number(value[0], what), _number(value[1], what)
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise BadRequest("%(name)s is out of range: [lon, lat] with lon within ±180 and lat within ±90", name=what)
    return lon, lat


def _accuracy(value: Any, what: str = "accuracy_m") -> float | None:
    if value is None:
        return None
    accuracy = _number(value, what)
    if accuracy < 0:
        raise BadRequest("%(name)s must be a number of metres >= 0", name=what)
    return accuracy


def _instant(value: Any, what: str, now: dt.datetime) -> dt.datetime:
    """An ISO 8601 time with its offset, neither in the future (beyond a phone's clock drift) nor days old."""
    if not isinstance(value, str):
        raise BadRequest("%(name)s must be an ISO 8601 time with its UTC offset, such as 2026-11-23T22:05:00+08:00",
                         name=what)
    try:
        instant = dt.datetime.fromisoformat(value)
    except ValueError:
        raise BadRequest("%(name)s must be an ISO 8601 time with its UTC offset, such as 2026-11-23T22:05:00+08:00",
                         name=what) from None
    if instant.tzinfo is None:
        raise BadRequest("%(name)s must carry its UTC offset (e.g. +08:00), got %(text)s", name=what, text=value)
    instant = instant.astimezone(dt.UTC)
    if instant > now + FUTURE_SLACK:
        raise ValidationFailed("%(name)s %(text)s is in the future (more than 5 minutes ahead of the server)",
                               name=what, text=value)
    if instant < now - MAX_AGE:
        raise ValidationFailed("%(name)s %(text)s is more than 24 hours ago; check-ins and tracks are sent on shift",
                               name=what, text=value)
    return instant


def _records(route_id: int, shift_dates: Sequence[dt.date] | None = None, *, date_from: dt.date | None = None,
             date_to: dt.date | None = None) -> list[PatrolCheckin]:
    stmt = select(PatrolCheckin).where(PatrolCheckin.route_id == route_id)
    if shift_dates is not None:
        stmt = stmt.where(PatrolCheckin.shift_date.in_(list(shift_dates)))
    if date_from is not None:
        stmt = stmt.where(PatrolCheckin.shift_date >= date_from)
    if date_to is not None:
        stmt = stmt.where(PatrolCheckin.shift_date <= date_to)
    return list(db.session.scalars(stmt.order_by(PatrolCheckin.at, PatrolCheckin.id)))


def _as_record(c: PatrolCheckin) -> CheckinRecord:
    return CheckinRecord(c.checkpoint_id, c.team, c.visit, c.at, c.officer, c.method)


@bp.post("/api/routes/<int:route_id>/checkins")
def create_checkin(route_id: int) -> tuple[Response, int]:
    """Record that an officer stood at a stop: by the plaque's QR token or by a GPS position near it."""
    body = _json_body(CHECKIN_FIELDS)
    checkpoint_id = body.get("checkpoint")
    if isinstance(checkpoint_id, bool) or not isinstance(checkpoint_id, int):
        raise BadRequest("checkpoint must be a checkpoint id")
    route = _route(route_id, live=True)
    campus = _campus(route)
    zone = zoneinfo.ZoneInfo(campus.timezone)
    tours = tours_from_plan(route.plan)
    holders = [t.team for t in tours if checkpoint_id in t.order]
    if not holders:
        raise ValidationFailed("checkpoint %(checkpoint)s is not a stop of route %(name)s",
                               checkpoint=checkpoint_id, name=route.name)
    team = body.get("team", holders[0])
    if isinstance(team, bool) or not isinstance(team, int):
        raise BadRequest("team must be a whole number")
    if team not in holders:
        raise ValidationFailed("checkpoint %(checkpoint)s is on team %(holder)s's tour, not team %(team)s's",
                               checkpoint=checkpoint_id, holder=holders[0], team=team)
    now = now_utc()
    at = _instant(body["time"], "time", now) if body.get("time") is not None else now
    position = _position(body["position"]) if body.get("position") is not None else None
    accuracy = _accuracy(body.get("accuracy_m"))
    qr = body.get("qr")
    if qr is not None and (not isinstance(qr, str) or len(qr) > 64):
        raise BadRequest("qr must be the token of a checkpoint's QR code")
    shift = _shift(route, campus)
    found = shift_at(shift, at)
    if found is None:
        days = ",".join(map(str, _describe(shift)["days"]))
        raise ValidationFailed("%(time)s is outside every shift of route %(name)s (%(start)s-%(end)s, "
                               "ISO weekdays %(days)s)", time=_local(at, zone), name=route.name,
                               start=_describe(shift)["start"], end=_describe(shift)["end"], days=days)
    window, round_ = found
    checkpoint = db.session.get(Checkpoint, checkpoint_id)
    if checkpoint is None or checkpoint.campus_id != route.campus_id:
        raise NotFound("unknown checkpoint %(id)s", id=checkpoint_id)
    distance = distance_m(position[0], position[1], checkpoint.geom.x, checkpoint.geom.y) if position else None
    if qr is not None:
        tag = db.session.scalars(select(CheckpointTag).where(
            CheckpointTag.token == qr, CheckpointTag.checkpoint_id == checkpoint_id,
            CheckpointTag.retired_at.is_(None))).first()
        if tag is None:
            raise ValidationFailed("this QR code is not the current plaque of checkpoint %(name)s",
                                   name=checkpoint.name)
        method = "qr"
    elif position is not None:
        if accuracy is not None and accuracy > MAX_GPS_ACCURACY_M:
            raise ValidationFailed("the GPS position is too rough (±%(accuracy)s m, at most %(max)s m): wait for a "
                                   "better fix or scan the QR code", accuracy=round(accuracy), max=MAX_GPS_ACCURACY_M,
                                   details={"accuracy_m": accuracy, "max_accuracy_m": MAX_GPS_ACCURACY_M})
        if distance > route.checkin_radius_m:  # type: ignore[operator]
            raise ValidationFailed("you are %(distance)s m from checkpoint %(name)s; check in within %(radius)s m",
                                   distance=round(distance, 1), name=checkpoint.name,  # type: ignore[arg-type]
                                   radius=route.checkin_radius_m,
                                   details={"distance_m": round(distance, 1),  # type: ignore[arg-type]
                                            "radius_m": route.checkin_radius_m})
        method = "gps"
    else:
        raise ValidationFailed("scan the checkpoint's QR code or send your GPS position to check in")
    who = actor()
    values = {"campus_id": route.campus_id, "route_id": route.id, "checkpoint_id": checkpoint_id, "team": team,
              "shift_date": window.shift_date, "visit": round_.visit, "at": at, "method": method,
              "lon": position[0] if position else None, "lat": position[1] if position else None,
              "accuracy_m": accuracy, "distance_m": None if distance is None else round(distance, 2), "officer": who}
    with write_transaction(db.session):
        earlier = db.session.scalars(select(PatrolCheckin.id).where(
            PatrolCheckin.route_id == values["route_id"], PatrolCheckin.checkpoint_id == checkpoint_id,
            PatrolCheckin.team == team, PatrolCheckin.shift_date == window.shift_date,
            PatrolCheckin.visit == round_.visit)).first()
        row = PatrolCheckin(**values)
        db.session.add(row)
        db.session.flush()
        new_id = row.id
    route = _route(route_id, live=False)
    schedule = build_schedule(shift, tours, route.speed_m_per_min, window.shift_date,
                              [_as_record(c) for c in _records(route.id, [window.shift_date])], now_utc())
    stop = next(s for s in schedule.stops  # type: ignore[union-attr]
                if (s.visit, s.team, s.checkpoint) == (round_.visit, team, checkpoint_id))
    return jsonify({
        "id": new_id, "route": route.id, "checkpoint": checkpoint_id, "team": team,
        "shift_date": window.shift_date.isoformat(), "visit": round_.visit, "at": _local(at, zone),
        "method": method, "distance_m": values["distance_m"], "officer": who,
        "planned_at": _local(stop.planned_at, zone), "status": stop.status, "counted": earlier is None,
        "checked_in_at": _local(stop.checked_in_at, zone),
    }), 201


@bp.post("/api/routes/<int:route_id>/track")
def post_track(route_id: int) -> tuple[Response, int]:
    """Positions an officer's phone shared on shift; points outside every shift are skipped and counted."""
    body = _json_body({"points"})
    points = body.get("points")
    if not isinstance(points, list) or not points:
        raise BadRequest("points must be a non-empty list of [lon, lat, time, accuracy_m]")
    if len(points) > MAX_TRACK_POINTS:
        raise BadRequest("at most %(max)s points per request, got %(count)s", max=MAX_TRACK_POINTS,
                         count=len(points))
    route = _route(route_id, live=True)
    campus = _campus(route)
    shift = _shift(route, campus)
    now = now_utc()
    rows, skipped = [], 0
    for index, point in enumerate(points):
        what = f"points[{index}]"
        if not isinstance(point, list) or len(point) not in (3, 4):
            raise BadRequest("%(name)s must be [lon, lat, time] or [lon, lat, time, accuracy_m]", name=what)
        lon, lat = _position(point[:2], what)
        at = _instant(point[2], what, now)
        accuracy = _accuracy(point[3] if len(point) == 4 else None, what)
        found = shift_at(shift, at)
        if found is None:
            skipped += 1
            continue
        rows.append({"lon": lon, "lat": lat, "at": at, "accuracy_m": accuracy, "shift_date": found[0].shift_date})
    who, campus_id = actor(), route.campus_id
    if rows:
        with write_transaction(db.session):
            db.session.add_all(PatrolTrackPoint(campus_id=campus_id, route_id=route_id, officer=who, **r)
                               for r in rows)
    return jsonify({"stored": len(rows), "skipped_outside_shift": skipped,
                    "shift_dates": sorted({r["shift_date"].isoformat() for r in rows})}), 201 if rows else 200


# ---------------------------------------------------------------- reports


def _parse_date(text: str | None, what: str) -> dt.date:
    try:
        day = dt.date.fromisoformat(text or "")
    except ValueError:
        raise BadRequest("%(name)s must be a date YYYY-MM-DD, got %(text)s", name=what, text=repr(text)) from None
    if not FIRST_DATE <= day <= LAST_DATE:  # the shift's instants around it must stay within Python's dates
        raise BadRequest("%(name)s must be a date from %(first)s to %(last)s, got %(text)s", name=what,
                         first=FIRST_DATE.isoformat(), last=LAST_DATE.isoformat(), text=repr(text))
    return day


def _tracks(route_id: int, shift_date: dt.date, zone: zoneinfo.ZoneInfo, officer: str | None) -> dict[str, Any]:
    """One LineString per officer, in time order; an officer with a single position has no line yet."""
    stmt = select(PatrolTrackPoint).where(PatrolTrackPoint.route_id == route_id,
                                          PatrolTrackPoint.shift_date == shift_date)
    if officer is not None:
        stmt = stmt.where(PatrolTrackPoint.officer == officer)
    by_officer: dict[str, list[PatrolTrackPoint]] = defaultdict(list)
    for p in db.session.scalars(stmt.order_by(PatrolTrackPoint.officer, PatrolTrackPoint.at, PatrolTrackPoint.id)):
        by_officer[p.officer].append(p)
    features = []
    for index, (name, track) in enumerate(sorted(by_officer.items()), start=1):
        if len(track) < 2:
            continue
        features.append({"type": "Feature", "id": index,
                         "geometry": {"type": "LineString", "coordinates": [[p.lon, p.lat] for p in track]},
                         "properties": {"officer": name, "points": len(track), "start": _local(track[0].at, zone),
                                        "end": _local(track[-1].at, zone)}})
    return {"type": "FeatureCollection", "features": features}


def _stop_json(stop: Any, points: dict[int, Checkpoint], zone: zoneinfo.ZoneInfo) -> dict[str, Any]:
    point = points.get(stop.checkpoint)
    return {"seq": stop.seq, "checkpoint": stop.checkpoint, "name": point.name if point else None,
            "lon": point.geom.x if point else None, "lat": point.geom.y if point else None,
            "planned_at": _local(stop.planned_at, zone), "due_by": _local(stop.due_by, zone),
            "checked_in_at": _local(stop.checked_in_at, zone), "officer": stop.officer, "method": stop.method,
            "status": stop.status, "checkins": stop.checkins}


def _schedule_json(schedule: Schedule, tours: Sequence[Tour], points: dict[int, Checkpoint],
                   zone: zoneinfo.ZoneInfo, now: dt.datetime) -> list[dict[str, Any]]:
    rounds = []
    for round_ in schedule.window.rounds:
        teams = [{"team": tour.team, "stops": [_stop_json(s, points, zone) for s in schedule.stops
                                               if s.visit == round_.visit and s.team == tour.team]}
                 for tour in tours]
        rounds.append({"visit": round_.visit, "start": _local(round_.start, zone), "end": _local(round_.end, zone),
                       "over": now >= round_.end, "current": round_.contains(now),
                       "totals": schedule.round_totals(round_.visit), "teams": teams})
    return rounds


@bp.get("/api/routes/<int:route_id>/shifts/<shift_date>")
def shift_report(route_id: int, shift_date: str) -> Response:
    """One shift of a route, planned against done: rounds, every team's stops with their status, tracks.

    Patrol leads see every officer's track; an officer sees their own only.
    """
    day = _parse_date(shift_date, "the shift date")
    route = _route(route_id, live=False)
    campus = _campus(route)
    zone = zoneinfo.ZoneInfo(campus.timezone)
    shift = _shift(route, campus)
    tours = tours_from_plan(route.plan)
    now = now_utc()
    schedule = build_schedule(shift, tours, route.speed_m_per_min, day,
                              [_as_record(c) for c in _records(route.id, [day])], now)
    if schedule is None:
        raise ValidationFailed("route %(name)s has no shift on %(date)s: it runs on ISO weekdays %(days)s",
                               name=route.name, date=day.isoformat(),
                               days=",".join(map(str, _describe(shift)["days"])))
    points = _checkpoints(campus.id, [cid for t in tours for cid in t.order])
    lead = bool(g.user is not None and g.user.role_set & LEADS)
    return jsonify({
        "route": {"id": route.id, "name": route.name, "campus": campus.slug, "teams": route.teams,
                  "checkin_radius_m": route.checkin_radius_m, "late_after_min": route.late_after_min,
                  "speed_m_per_min": route.speed_m_per_min, "deleted": route.deleted_at is not None},
        "shift_date": day.isoformat(), "timezone": campus.timezone, "now": _local(now, zone),
        "shift": {**_describe(shift), "visits": shift.visits, "start_at": _local(schedule.window.start, zone),
                  "end_at": _local(schedule.window.end, zone)},
        "rounds": _schedule_json(schedule, tours, points, zone, now),
        "totals": schedule.totals,
        "tracks": _tracks(route.id, day, zone, None if lead else actor()),
    })


def missed_rows(campus: Campus, date_from: dt.date, date_to: dt.date, now: dt.datetime) -> dict[str, Any]:
    """Stops missed in rounds that are over, per shift date, route, team and officer.

    The officers of a team's shift are those who checked in on that route and team that shift (a missed
    stop is listed under each of them); with nobody, officer is None. Rounds that began before the route
    was saved, or after it was deleted, are not counted.
    """
    zone = zoneinfo.ZoneInfo(campus.timezone)
    routes = list(db.session.scalars(select(PatrolRoute).where(PatrolRoute.campus_id == campus.id)
                                     .order_by(PatrolRoute.name, PatrolRoute.id)))
    rows: list[dict[str, Any]] = []
    planned_total = missed_total = 0
    for route in routes:
        try:
            shift = make_shift(route.shift_start, route.shift_end, route.shift_days, route.visits_per_shift,
                               route.late_after_min, campus.timezone)
        except ShiftError:
            continue
        if shift is None:
            continue
        tours = tours_from_plan(route.plan)
        points = _checkpoints(campus.id, [cid for t in tours for cid in t.order])
        by_date: dict[dt.date, list[CheckinRecord]] = defaultdict(list)
        for c in _records(route.id, date_from=date_from, date_to=date_to):
            by_date[c.shift_date].append(_as_record(c))
        for day, tour, stops in counted_stops(shift, tours, route.speed_m_per_min, date_from, date_to, by_date, now,
                                              route.created_at, route.deleted_at):
            missed = [s for s in stops if s.status == "missed"]
            planned_total += len(stops)
            missed_total += len(missed)
            if not missed:
                continue
            officers = sorted({r.officer for r in by_date[day] if r.team == tour.team}) or [None]
            listed = [{"visit": s.visit, "seq": s.seq, "checkpoint": s.checkpoint,
                       "name": points[s.checkpoint].name if s.checkpoint in points else None,
                       "planned_at": _local(s.planned_at, zone)} for s in missed]
            rows.extend({"shift_date": day.isoformat(), "route": route.id, "route_name": route.name,
                         "team": tour.team, "officer": officer, "missed": len(missed), "planned": len(stops),
                         "stops": listed} for officer in officers)
    rows.sort(key=lambda r: (r["shift_date"], r["route_name"], r["route"], r["team"], r["officer"] or ""))
    per_officer: dict[str | None, dict[str, Any]] = {}
    for row in rows:
        item = per_officer.setdefault(row["officer"], {"officer": row["officer"], "missed": 0, "shifts": 0})
        item["missed"] += row["missed"]
        item["shifts"] += 1
    return {"campus": campus.slug, "from": date_from.isoformat(), "to": date_to.isoformat(),
            "timezone": campus.timezone, "rows": rows,
            "officers": sorted(per_officer.values(), key=lambda i: (-i["missed"], i["officer"] or "")),
            "totals": {"planned": planned_total, "missed": missed_total}}


CSV_COLUMNS = ("shift_date", "route_id", "route", "team", "officer", "visit", "seq", "checkpoint_id", "checkpoint",
               "planned_at")


def missed_csv(report: dict[str, Any]) -> str:
    """One line per missed stop and officer; user text defused so a spreadsheet never runs it as a formula."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    nobody = gettext("(nobody checked in)")
    for row in report["rows"]:
        for stop in row["stops"]:
            writer.writerow([_cell(v) for v in (
                row["shift_date"], row["route"], row["route_name"], row["team"], row["officer"] or nobody,
                stop["visit"], stop["seq"], stop["checkpoint"], stop["name"], stop["planned_at"])])
    return out.getvalue()


@bp.get("/api/patrol/missed")
def missed_report() -> Response:
    """Missed stops of a campus's routes over local dates (at most 93 days), as JSON or CSV."""
    campus = one_campus(request.args.get("campus"))
    zone = zoneinfo.ZoneInfo(campus.timezone)
    now = now_utc()
    today = now.astimezone(zone).date()
    date_to = _parse_date(request.args["to"], "to") if request.args.get("to") else today
    date_from = (_parse_date(request.args["from"], "from") if request.args.get("from")
                 else date_to - dt.timedelta(days=6))
    if date_from > date_to:
        raise BadRequest("from (%(start)s) is after to (%(end)s)", start=date_from.isoformat(), end=date_to.isoformat())
    if (date_to - date_from).days + 1 > MAX_REPORT_DAYS:
        raise BadRequest("the report covers at most %(max)s days; narrow from/to", max=MAX_REPORT_DAYS)
    fmt = request.args.get("format", "json")
    if fmt not in ("json", "csv"):
        raise BadRequest("format must be json or csv")
    report = missed_rows(campus, date_from, date_to, now)
    if fmt == "json":
        return jsonify(report)
    encoding = request.args.get("encoding", "utf-8-sig")
    if encoding not in EXPORT_ENCODINGS:
        raise BadRequest("encoding must be one of %(encodings)s", encodings=", ".join(EXPORT_ENCODINGS))
    text = missed_csv(report)
    try:
        data = text.encode(encoding)
    except UnicodeEncodeError as exc:
        raise ValidationFailed("%(text)s cannot be written in %(encoding)s; export as utf-8-sig instead",
                               text=repr(text[exc.start:exc.end]), encoding=encoding) from None
    name = f"patrolmap-missed-{campus.slug}-{date_from.isoformat()}-{date_to.isoformat()}.csv"
    charset = "utf-8" if encoding == "utf-8-sig" else encoding
    return Response(data, content_type=f"text/csv; charset={charset}",
                    headers={"Content-Disposition": f"attachment; filename={name}"})

