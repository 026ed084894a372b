"""Hazards and their rectification loop over HTTP: report, list, read, move, photos, delete, scorecards, notices.

The loop's rules are patrolmap.hazards (the state machine) and patrolmap.hazardstore (persistence);
this module reads requests and writes answers. Hazards outside the caller's campuses answer 404,
and so do, for a responsible unit alone (no other role), hazards whose notice names another unit.
Grid officers see every hazard of their campuses (a big matter crosses zones); `mine=true` keeps
those of the zones they are the officer of and those assigned to them.

Refusals of the state machine are 409 with `details` {code, status, allowed, version}, or 422 for
an escalation without a reason and a notice without a responsible unit.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
import uuid
import zoneinfo
from typing import Any

import shapely
from flask import Blueprint, Response, current_app, g, jsonify, render_template, request, url_for
from flask_babel import gettext

from patrolmap import hazardstore
from patrolmap.audit import _cell
from patrolmap.errors import BadRequest, Conflict, NotFound, UnsupportedMediaType, ValidationFailed
from patrolmap.evidence import PhotoError, inspect_photo
from patrolmap.extensions import db
from patrolmap.geo.validate import RawFeature, ValidationError, validate_layer
from patrolmap.geojson import feature_collection, feature_json
from patrolmap.hazards import (
    CATEGORIES,
    MAX_TEXT,
    OPEN_STATUSES,
    SEES_ALL_HAZARDS,
    STATUSES,
    Actor,
    check_notice_number,
    person,
)
from patrolmap.hazardstore import (
    HazardQuery,
    Viewer,
    add_hazard_photo,
    delete_hazard,
    describe,
    get_hazard,
    hazard_events,
    hazard_photos,
    list_hazards,
    mark_read,
    notification_text,
    notifications,
    photo_of_hazard,
    report_hazard,
    scorecards,
    transition_hazard,
)
from patrolmap.importing import as_http_error
from patrolmap.models import Building, Campus, GridZone, Hazard, HazardPhoto, User
from patrolmap.store import campus_extent, get_campus
from patrolmap.transitions import check_version
from patrolmap.web.api import _campus_for_write, _json_body, _LocalTimes, actor, one_campus, scoped_campus
from patrolmap.web.evidence import _photo_response, _read_upload, _store
from patrolmap.web.pages import visible_pages
from patrolmap.web.params import parse_int
from patrolmap.wording import VALUE_LABELS, value_label

bp = Blueprint("hazards_api", __name__)

REPORT_FIELDS = {"campus", "category", "description", "urgency", "lon", "lat", "building", "note"}
TRANSITION_FIELDS = {"to", "note", "notice", "reason", "version"}
NOTICE_FIELDS = {"responsible_unit", "number"}
DELETE_FIELDS = {"reason", "version"}
SCORECARD_COLUMNS = ("zone", "name", "officer", "buildings", "residents", "open_hazards", "overdue_hazards",
                     "violations_30d", "last_route", "last_route_name", "last_route_saved_at")


# ---------------------------------------------------------------- who asks


def _actor() -> Actor:
    user = g.user
    return Actor(username=user.username, roles=user.role_set, user_id=user.id, unit=user.unit)


def _viewer() -> Viewer:
    """The caller's campuses; a responsible unit alone (no other role) sees only its own unit's hazards."""
    user = g.user
    return Viewer(g.scope.campus_ids, unit_only=not (user.role_set & SEES_ALL_HAZARDS), unit=user.unit)


# ---------------------------------------------------------------- input


def _text(body: dict[str, Any], name: str, *, required: bool = False, limit: int = MAX_TEXT) -> str | None:
    value = body.get(name)
    if value is None:
        if required:
            raise BadRequest("%(name)s is required", name=name)
        return None
    if not isinstance(value, str):
        raise BadRequest("%(name)s must be a string", name=name)
    value = value.strip()
    if required and not value:
        raise BadRequest("%(name)s is required", name=name)
    if len(value) > limit:
        raise BadRequest("%(name)s is longer than %(max)s characters", name=name, max=limit)
    return value or None


def _number(body: dict[str, Any], name: str) -> float:
    value = body.get(name)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise BadRequest("%(name)s must be a number", name=name)
    return float(value)


def _flag(name: str) -> bool | None:
    text = request.args.get(name, "").strip().lower()
    if text == "":
        return None
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no"):
        return False
    raise BadRequest("%(name)s must be true or false, got %(text)s", name=name, text=repr(text))


def _choice(name: str, choices: tuple[str, ...]) -> str | None:
    value = request.args.get(name)
    if not value:
        return None
    if value not in choices:
        raise BadRequest("%(name)s must be one of %(choices)s, got %(value)s", name=name,
                         choices=", ".join(choices), value=repr(value))
    return value


# ---------------------------------------------------------------- output


def _local_value(value: Any, timezone: str) -> Any:
    return value.astimezone(zoneinfo.ZoneInfo(timezone)).isoformat() if isinstance(value, dt.datetime) else value


def _properties(info: dict[str, Any], local: _LocalTimes) -> dict[str, Any]:
    """A hazard's properties for the API: times in its campus's time zone, ISO 8601."""
    campus_id = info["campus_id"]
    props = {k: (local(v, campus_id) if isinstance(v, dt.datetime) else v) for k, v in info.items()
             if k not in ("geom", "campus_id", "id")}
    props["campus"] = campus_id
    return props


def _now() -> dt.datetime:
    return hazardstore.clock()  # looked up each time, so that tests can freeze it


def _hazard_feature(hazard_id: int, **members: Any) -> bytes:
    """One hazard as a Feature, with its loop so far (events) and its photos."""
    hazard = get_hazard(db.session, hazard_id, _viewer())
    info = describe(db.session, [hazard], now=_now(), actor=_actor())[0]
    local = _LocalTimes()
    props = _properties(info, local)
    props["events"] = [
        {"at": local(e.at, e.campus_id), "actor": e.actor, "from": e.from_status, "to": e.to_status, "note": e.note}
        for e in hazard_events(db.session, hazard_id)]
    props["photo_list"] = [_photo_json(p) for p in hazard_photos(db.session, [hazard_id])[hazard_id]]
    props["notice_url"] = url_for("hazards_api.notice", hazard_id=hazard_id) if info["notice_number"] else None
    return feature_json(hazard_id, info["geom"], props, **members)


def _geojson(body: bytes, status: int = 200, headers: dict[str, str] | None = None) -> tuple[Response, int]:
    return Response(body, mimetype="application/geo+json", headers=headers), status


def _photo_json(photo: HazardPhoto) -> dict[str, Any]:
    return {
        "id": photo.id, "hazard": photo.hazard_id, "sha256": photo.sha256, "content_type": photo.content_type,
        "size": photo.size, "width": photo.width, "height": photo.height, "uploaded_by": photo.uploaded_by,
        "created_at": photo.created_at.isoformat(),
        "url": url_for("hazards_api.hazard_photo", hazard_id=photo.hazard_id, sha256=photo.sha256),
    }


# ---------------------------------------------------------------- report, list, read


@bp.post("/api/hazards")
def report() -> tuple[Response, int]:
    """Report a hazard at a point ({"lon", "lat"}) or a building ({"building": id}); zone and assignee are found.

    The hazard goes to the zone holding the building (or whose outline holds the point) and to that
    zone's officer; outside every zone, to the campus's duty officer; with neither, it is unassigned.
    """
    body = _json_body(REPORT_FIELDS)
    campus = _campus_for_write(body)
    category = _text(body, "category", required=True, limit=32)
    description = _text(body, "description", required=True)
    urgency = _text(body, "urgency", limit=16) or "normal"
    note = _text(body, "note")
    building_id = body.get("building")
    if building_id is not None and (isinstance(building_id, bool) or not isinstance(building_id, int)):
        raise BadRequest("building must be a building id (a whole number)")
    has_point = body.get("lon") is not None or body.get("lat") is not None
    if not has_point and building_id is None:
        raise BadRequest("say where the hazard is: lon and lat, or a building id")
    point = shapely.Point(_number(body, "lon"), _number(body, "lat")) if has_point else None
    if point is None:
        building = db.session.get(Building, building_id)
        if building is None or building.campus_id != campus.id:
            raise NotFound("unknown building %(id)s", id=building_id)
        where = building.geom.point_on_surface()
    else:
        where = point
    props = {"category": category, "description": description, "urgency": urgency, "status": "reported",
             "reported_by": actor(), "reported_at": _now().isoformat()}
    try:
        validate_layer("hazards", [RawFeature(0, f"api:{uuid.uuid4().hex}", where, props)],
                       timezone=campus.timezone, reference=campus_extent(db.session, campus))
    except ValidationError as exc:
        raise as_http_error(exc, single=True) from None
    hazard_id = report_hazard(db.session, campus.id, category=str(category), description=str(description),
                              urgency=urgency, point=point, building_id=building_id, note=note, actor=actor())
    location = url_for("hazards_api.read_hazard", hazard_id=hazard_id)
    return _geojson(_hazard_feature(hazard_id), 201, {"Location": location})


def _query() -> HazardQuery:
    key = request.args.get("campus")
    campus_ids = frozenset({scoped_campus(key).id}) if key else None
    statuses = None
    text = request.args.get("status")
    if text:
        wanted: set[str] = set()
        for part in (p.strip() for p in text.split(",")):
            if part == "open":
                wanted.update(OPEN_STATUSES)
            elif part in STATUSES:
                wanted.add(part)
            else:
                raise BadRequest("status must be open or one of %(statuses)s (several separated by commas), "
                                 "got %(value)s", statuses=", ".join(STATUSES), value=repr(part))
        statuses = frozenset(wanted)
    zone_text = request.args.get("zone")
    zone, outside = None, False
    if zone_text == "none":
        outside = True
    elif zone_text:
        zone = parse_int("zone", zone_text, default=0, minimum=1, maximum=2**31 - 1)
    unit = request.args.get("unit") or None
    return HazardQuery(
        campus_ids=campus_ids, statuses=statuses, zone=zone, outside_zones=outside, overdue=_flag("overdue"),
        unit=unit, category=_choice("category", CATEGORIES), mine=g.user.id if _flag("mine") else None,
        include_deleted=bool(_flag("include_deleted")),
        limit=parse_int("limit", request.args.get("limit"), default=current_app.config["API_DEFAULT_LIMIT"],
                        minimum=1, maximum=current_app.config["API_MAX_LIMIT"]),
        offset=parse_int("offset", request.args.get("offset"), default=0, minimum=0, maximum=10**9),
    )


@bp.get("/api/hazards")
def list_hazards_api() -> tuple[Response, int]:
    """Hazards, newest first: ?campus=&status=open|reported,...&zone=<id>|none&overdue=true|false&unit=&category=
    &mine=true&include_deleted=true&limit=&offset=. Each Feature's properties say overdue and next_statuses."""
    query = _query()
    now = _now()
    rows, total = list_hazards(db.session, _viewer(), query, now=now)
    infos = describe(db.session, rows, now=now, actor=_actor())
    local = _LocalTimes()
    body = feature_collection([i["id"] for i in infos], [i["geom"] for i in infos],
                              [_properties(i, local) for i in infos], numberMatched=total, numberReturned=len(infos))
    return _geojson(body)


@bp.get("/api/hazards/<int:hazard_id>")
def read_hazard(hazard_id: int) -> tuple[Response, int]:
    """One hazard (a deleted one too), with its events in order and its photos."""
    return _geojson(_hazard_feature(hazard_id))


# ---------------------------------------------------------------- the loop


@bp.post("/api/hazards/<int:hazard_id>/transition")
def transition(hazard_id: int) -> tuple[Response, int]:
    """Move a hazard: {"to", "note"?, "reason"? (escalation), "notice"? {"responsible_unit", "number"?}, "version"?}.

    Issuing a notice sets its number (YYYY-campus-NNNN unless given) and the deadline from the urgency.
    """
    body = _json_body(TRANSITION_FIELDS)
    to = body.get("to")
    if not isinstance(to, str) or to not in STATUSES:
        raise BadRequest("to must be one of %(statuses)s", statuses=", ".join(STATUSES))
    notice = body.get("notice") or {}
    if not isinstance(notice, dict):
        raise BadRequest("notice must be an object: {\"responsible_unit\", \"number\"}")
    unknown = sorted(set(notice) - NOTICE_FIELDS)
    if unknown:
        raise BadRequest("unknown field(s): %(unknown)s; accepted: %(accepted)s",
                         unknown=", ".join(f"notice.{u}" for u in unknown), accepted="notice.number, "
                         "notice.responsible_unit")
    if notice and to != "notice_issued":
        raise BadRequest("notice is only for the move to notice_issued")
    unit = _text(notice, "responsible_unit", limit=200)
    try:
        number = check_notice_number(notice.get("number"))
    except ValueError as exc:
        raise BadRequest(str(exc)) from None
    transition_hazard(db.session, hazard_id, to=to, actor=_actor(), actor_name=actor(), viewer=_viewer(),
                      note=_text(body, "note"), reason=_text(body, "reason"), unit=unit, number=number,
                      version=check_version(body.get("version")))
    return _geojson(_hazard_feature(hazard_id))


@bp.delete("/api/hazards/<int:hazard_id>")
def delete(hazard_id: int) -> tuple[Response, int]:
    """Soft-delete with a reason ({"reason", "version"?} or ?reason=): gone from lists, maps and counts, kept."""
    body: dict[str, Any] = _json_body(DELETE_FIELDS) if request.get_data() else {}
    reason = _text({"reason": body.get("reason", request.args.get("reason"))}, "reason")
    if reason is None:
        raise BadRequest("a reason is required to delete a hazard")
    version_arg = body.get("version", request.args.get("version"))
    if isinstance(version_arg, str):
        try:
            version_arg = int(version_arg)
        except ValueError:
            raise BadRequest("version must be a whole number of at least 1, as read with the record") from None
    delete_hazard(db.session, hazard_id, reason=reason, version=check_version(version_arg), actor_name=actor(),
                  viewer=_viewer())
    return _geojson(_hazard_feature(hazard_id))


# ---------------------------------------------------------------- photos


@bp.post("/api/hazards/<int:hazard_id>/photos")
def upload_photo(hazard_id: int) -> tuple[Response, int]:
    """Attach a photo (multipart field `file`, JPEG or PNG by content); 201 when new, 200 when already there."""
    get_hazard(db.session, hazard_id, _viewer())
    data = _read_upload()
    try:
        checked = inspect_photo(data)
    except PhotoError as exc:
        error = UnsupportedMediaType if exc.unsupported else ValidationFailed
        raise error(exc.template, **exc.params) from None
    photo, created = add_hazard_photo(db.session, _store(), hazard_id, checked, actor_name=actor(),
                                      viewer=_viewer())
    return jsonify({**_photo_json(photo), "duplicate": not created}), 201 if created else 200


@bp.get("/api/hazards/<int:hazard_id>/photos/<sha256>")
def hazard_photo(hazard_id: int, sha256: str) -> Response:
    """A photo's display copy (without EXIF/GPS), for those who may see the hazard."""
    digest = sha256.lower()
    photo = photo_of_hazard(db.session, hazard_id, digest, _viewer())
    try:
        data = _store().read_display(digest)
    except FileNotFoundError:
        raise NotFound("the file of photo %(sha256)s is missing from the evidence store", sha256=digest) from None
    return _photo_response(data, photo.content_type, digest, suffix="")


# ---------------------------------------------------------------- scorecards


def _zone(zone_id: int) -> GridZone:
    zone = db.session.get(GridZone, zone_id)
    if zone is None or not g.scope.sees_campus(zone.campus_id):
        raise NotFound("unknown grid zone %(id)s", id=zone_id)
    return zone


def _scorecard_json(card: dict[str, Any], campus: Campus) -> dict[str, Any]:
    last = card["last_route"]
    return {**card, "campus": campus.slug, "last_route": None if last is None else {
        **last, "saved_at": _local_value(last["saved_at"], campus.timezone)}}


@bp.get("/api/grid/zones/<int:zone_id>/scorecard")
def zone_scorecard(zone_id: int) -> Response:
    """One zone's scorecard: buildings, residents, officer, open/overdue hazards, violations (30 days), last route."""
    zone = _zone(zone_id)
    campus = get_campus(db.session, zone.campus_id)
    cards = scorecards(db.session, campus, _viewer(), now=_now(), zone_ids=[zone_id])
    return jsonify(_scorecard_json(cards[0], campus))


@bp.get("/api/grid/scorecards")
def all_scorecards() -> Response:
    """Every zone's scorecard of a campus (?campus=, needed when there are several): JSON, or ?format=csv."""
    campus = one_campus(request.args.get("campus"))
    fmt = request.args.get("format", "json")
    if fmt not in ("json", "csv"):
        raise BadRequest("format must be json or csv, got %(value)s", value=repr(fmt))
    cards = [_scorecard_json(c, campus) for c in scorecards(db.session, campus, _viewer(), now=_now())]
    if fmt == "json":
        return jsonify({"campus": campus.slug, "generated_at": _local_value(_now(), campus.timezone),
                        "zones": cards})
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(SCORECARD_COLUMNS)
    for c in cards:
        officer = c["officer"]
        last = c["last_route"] or {}
        writer.writerow([_cell(v) for v in (
            c["zone"], c["name"], (officer["display_name"] or officer["username"]) if officer else "",
            c["buildings"], c["residents"], c["open_hazards"], c["overdue_hazards"], c["violations_30d"],
            last.get("id", ""), last.get("name", ""), last.get("saved_at", ""))])
    # UTF-8 with a BOM, so that Excel shows the Chinese names.
    response = Response(out.getvalue().encode("utf-8-sig"), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="scorecards-{campus.id}.csv"'
    return response


# ---------------------------------------------------------------- the printable notice


@bp.get("/hazards/<int:hazard_id>/notice")
def notice(hazard_id: int) -> str:
    """The rectification notice to print and hand to the responsible unit (times in the campus's time zone)."""
    hazard = get_hazard(db.session, hazard_id, _viewer())
    if not hazard.notice_number:
        raise Conflict("no rectification notice has been issued for hazard %(id)s yet", id=hazard_id)
    info = describe(db.session, [hazard], now=_now())[0]
    campus = get_campus(db.session, hazard.campus_id)
    issuer_name = person(info["notice_issued_by"])
    issuer = db.session.query(User).filter(User.username == issuer_name).first() if issuer_name else None

    def local(value: dt.datetime | None) -> str:
        return value.astimezone(zoneinfo.ZoneInfo(campus.timezone)).strftime("%Y-%m-%d %H:%M") if value else ""

    return render_template(
        "hazard_notice.html", hazard=info, campus=campus, pages=visible_pages(), page_id="grid",
        category=gettext(value_label(info["category"], "category") or info["category"]),
        urgency=gettext(VALUE_LABELS.get(info["urgency"], info["urgency"])),
        deadline=local(info["deadline"]), issued_at=local(info["notice_issued_at"]),
        issued_by=(issuer.display_name or issuer.username) if issuer else (issuer_name or ""),
        reported_at=local(info["reported_at"]), timezone=campus.timezone,
        lon=f"{info['geom'].x:.6f}", lat=f"{info['geom'].y:.6f}",
    )


# ---------------------------------------------------------------- notifications


@bp.get("/api/notifications")
def list_notifications() -> Response:
    """The caller's in-app notifications, newest first (?unread=true for the unread only), and the unread count."""
    user = g.user
    rows, unread = notifications(db.session, user.id, g.scope.campus_ids, unread_only=bool(_flag("unread")),
                                 limit=parse_int("limit", request.args.get("limit"), default=100, minimum=1,
                                                 maximum=1000))
    hazards = [h for h in (db.session.get(Hazard, i) for i in sorted({r.hazard_id for r in rows})) if h is not None]
    infos = {i["id"]: i for i in describe(db.session, hazards, now=_now())}
    local = _LocalTimes()
    timezones = {c.id: c.timezone for c in db.session.query(Campus).filter(Campus.id.in_(
        sorted({r.campus_id for r in rows}) or [0]))}
    out = []
    for r in rows:
        info = infos.get(r.hazard_id)
        title, text = (notification_text(info, r.kind, timezones[r.campus_id], gettext) if info
                       else (r.kind, r.message))
        out.append({"id": r.id, "hazard": r.hazard_id, "kind": r.kind, "title": title, "message": text,
                    "sent_at": local(r.sent_at, r.campus_id), "read_at": local(r.read_at, r.campus_id)
                    if r.read_at else None,
                    "url": url_for("hazards_api.read_hazard", hazard_id=r.hazard_id)})
    return jsonify({"notifications": out, "unread": unread})


@bp.post("/api/notifications/<int:notification_id>/read")
def read_notification(notification_id: int) -> Response:
    """Mark one of the caller's notifications read."""
    row = mark_read(db.session, g.user.id, notification_id, g.scope.campus_ids)
    return jsonify({"id": row.id, "read_at": row.read_at.isoformat() if row.read_at else None})
