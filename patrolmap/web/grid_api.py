"""Grid zones: read them, propose a split among N officers, apply a proposal, adjust a zone, list the officers.

A zone is its set of buildings (Building.grid_zone_id, authoritative) plus an outline drawn around
them (computed, or drawn by hand) and its grid officer (GridZone.officer_user_id, a user with the
grid_officer role who can see the campus). The split itself is patrolmap.zoning's: contiguous in the
buildings' neighbour graph, balanced by residents or building count, proven optimal when the
candidate zones can be listed.

- GET  /api/grid/zones?campus=&balance=residents|buildings  the campus's zones with buildings and workload
- POST /api/grid/propose   {"campus", "officers", "balance", "kinds"}   a proposal, not saved
- POST /api/grid/zones/apply {"campus", "zones": [{"name", "buildings", "officer"}], "reason"?}
                            replaces the campus's zones (outlines computed); hazards in the old zones are
                            placed again in the new ones (zone only; the assignee stays)
- PUT  /api/grid/zones/<id> {"version", "name"?, "officer"?, "buildings"?, "outline"?, "reason"?}
                            buildings named move here from their old zones (whose outlines are redrawn);
                            a hand-drawn outline is cut where it overlaps other zones
- GET  /api/grid/officers?campus=   grid officers who can see the campus, for assignment

Every write is audited (layer "grid-zones"); other campuses answer 404 as if they did not exist.
"""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import shapely
import shapely.geometry
from flask import Blueprint, Response, g, jsonify, request
from flask_babel import gettext
from shapely.geometry.base import BaseGeometry
from sqlalchemy import delete, select, update

from patrolmap.analysis.errors import InputError
from patrolmap.database import write_transaction
from patrolmap.errors import BadRequest, Conflict, NotFound
from patrolmap.extensions import db
from patrolmap.geo.kinds import KINDS
from patrolmap.geo.validate import RawFeature, ValidationError, validate_layer
from patrolmap.geojson import feature_collection, feature_json
from patrolmap.importing import as_http_error
from patrolmap.models import AuditEntry, Building, Campus, GridZone, Hazard, Officer, User
from patrolmap.scope import scope_for
from patrolmap.store import campus_extent
from patrolmap.transitions import check_reason, check_version
from patrolmap.web.api import _campus_for_write, _json_body, actor
from patrolmap.zoning import RESIDENTIAL_KINDS, balance_of, outlines_for, propose_zones

bp = Blueprint("grid_api", __name__, url_prefix="/api/grid")

LAYER = "grid-zones"
BALANCES = ("residents", "buildings")
MAX_OFFICERS = 200
MAX_ZONES = 200
MAX_NAME = 200
MAX_VERTICES = 10_000
GRID_OFFICER = "grid_officer"
PROPOSE_FIELDS = {"campus", "officers", "balance", "kinds"}
APPLY_FIELDS = {"campus", "zones", "reason"}
APPLY_ZONE_FIELDS = {"name", "buildings", "officer"}
UPDATE_FIELDS = {"version", "name", "officer", "buildings", "outline", "reason"}
SLIVER_M2 = 1.0  # a hand-drawn outline cut by less than this overlapped nothing worth a warning


# ---------------------------------------------------------------- reading


def _campus_arg() -> Campus:
    """?campus= (slug or id), or the caller's only campus."""
    key = request.args.get("campus")
    return _campus_for_write({} if key is None else {"campus": key})


def _balance(value: Any) -> str:
    value = "residents" if value is None else value
    if value not in BALANCES:
        raise BadRequest("balance must be one of %(choices)s, got %(value)s", choices=", ".join(BALANCES),
                         value=repr(value))
    return str(value)


def _workload(balance: str, residents: int | None) -> float:
    return 1.0 if balance == "buildings" else float(residents or 0)


def _user_ref(user: User | None) -> dict[str, Any] | None:
    return None if user is None else {"id": user.id, "username": user.username, "display_name": user.display_name}


def _users(ids: Iterable[int | None]) -> dict[int, User]:
    wanted = sorted({i for i in ids if i is not None})
    return {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(wanted)))} if wanted else {}


def _campus_buildings(campus_id: int) -> list[Any]:
    """(id, kind, residents, grid_zone_id, geom) of every building of the campus, by id."""
    return list(db.session.execute(select(Building.id, Building.kind, Building.residents, Building.grid_zone_id,
                                          Building.geom).where(Building.campus_id == campus_id)
                                   .order_by(Building.id)))


def _zone_properties(zone: GridZone, members: Sequence[Any], balance: str, users: dict[int, User],
                     contacts: dict[int, Officer]) -> dict[str, Any]:
    contact = contacts.get(zone.officer_id) if zone.officer_id is not None else None
    return {
        "id": zone.id, "name": zone.name, "version": zone.version, "campus": zone.campus_id,
        "officer": _user_ref(users.get(zone.officer_user_id)) if zone.officer_user_id else None,
        "contact": {"name": contact.name, "phone": contact.phone} if contact else None,
        "buildings": [b.id for b in members], "building_count": len(members),
        "residents": sum(int(b.residents or 0) for b in members),
        "residents_unknown": sum(1 for b in members if b.residents is None),
        "workload": sum(_workload(balance, b.residents) for b in members),
    }


def _zones(campus: Campus, balance: str, zone_ids: Sequence[int] | None = None
           ) -> tuple[list[GridZone], list[dict[str, Any]], list[Any]]:
    """The campus's zones (or some), their properties, and the campus's buildings."""
    zones = list(db.session.scalars(select(GridZone).where(GridZone.campus_id == campus.id).order_by(GridZone.id)))
    buildings = _campus_buildings(campus.id)
    by_zone: dict[int, list[Any]] = {}
    for b in buildings:
        if b.grid_zone_id is not None:
            by_zone.setdefault(b.grid_zone_id, []).append(b)
    users = _users(z.officer_user_id for z in zones)
    contact_ids = sorted({z.officer_id for z in zones if z.officer_id is not None})
    contacts = ({o.id: o for o in db.session.scalars(select(Officer).where(Officer.id.in_(contact_ids)))}
                if contact_ids else {})
    if zone_ids is not None:
        zones = [z for z in zones if z.id in set(zone_ids)]
    props = [_zone_properties(z, by_zone.get(z.id, []), balance, users, contacts) for z in zones]
    return zones, props, buildings


def _geojson(body: bytes, status: int = 200) -> tuple[Response, int]:
    return Response(body, mimetype="application/geo+json"), status


def _zones_response(campus: Campus, balance: str, **members: Any) -> tuple[Response, int]:
    zones, props, buildings = _zones(campus, balance)
    assigned = {b.id for b in buildings if b.grid_zone_id is not None}
    unassigned = [b.id for b in buildings if b.kind in RESIDENTIAL_KINDS and b.id not in assigned]
    loads = [p["workload"] for p in props]
    body = feature_collection(
        [z.id for z in zones], [z.geom for z in zones], props, campus=campus.slug, balance_by=balance,
        balance=_balance_dict(loads), unassigned=unassigned, numberMatched=len(zones), numberReturned=len(zones),
        **members)
    return _geojson(body)


def _balance_dict(loads: Sequence[float]) -> dict[str, float] | None:
    if not loads:
        return None
    b = balance_of(loads)
    return {**b.as_dict(), "ratio": None if math.isnan(b.ratio) else round(b.ratio, 3)}


@bp.get("/zones")
def list_zones() -> tuple[Response, int]:
    """The campus's zones: outline, officer, buildings, residents and workload (by ?balance=), and the balance."""
    campus = _campus_arg()
    return _zones_response(campus, _balance(request.args.get("balance")))


@bp.get("/officers")
def list_officers() -> Response:
    """Active users with the grid_officer role who can see the campus, and the zones each has there."""
    campus = _campus_arg()
    users = [u for u in db.session.scalars(select(User).where(User.active.is_(True)).order_by(User.username))
             if GRID_OFFICER in u.role_set and scope_for(db.session, u).sees_campus(campus.id)]
    zones: dict[int, list[int]] = {}
    for zone_id, user_id in db.session.execute(select(GridZone.id, GridZone.officer_user_id).where(
            GridZone.campus_id == campus.id, GridZone.officer_user_id.is_not(None)).order_by(GridZone.id)):
        zones.setdefault(user_id, []).append(zone_id)
    return jsonify({"campus": campus.slug,
                    "officers": [{**(_user_ref(u) or {}), "zones": zones.get(u.id, [])} for u in users]})


# ---------------------------------------------------------------- proposing


def _whole(value: Any, name: str, minimum: int, maximum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
        raise BadRequest("%(name)s must be a whole number from %(minimum)s to %(maximum)s, got %(value)s",
                         name=name, minimum=minimum, maximum=maximum, value=repr(value))
    return value


def _kinds(value: Any) -> list[str]:
    if value is None:
        return list(RESIDENTIAL_KINDS)
    if not isinstance(value, list) or not value or not all(isinstance(k, str) for k in value):
        raise BadRequest("kinds must be a non-empty list of building kinds")
    unknown = sorted(set(value) - set(KINDS))
    if unknown:
        raise BadRequest("unknown building kind(s): %(unknown)s; kinds are %(kinds)s", unknown=", ".join(unknown),
                         kinds=", ".join(KINDS))
    return list(dict.fromkeys(value))


@bp.post("/propose")
def propose() -> tuple[Response, int]:
    """Split the campus's buildings of `kinds` among `officers` contiguous zones balanced by `balance` (not saved)."""
    started = time.perf_counter()
    body = _json_body(PROPOSE_FIELDS)
    campus = _campus_for_write(body)
    if body.get("officers") is None:
        raise BadRequest("officers is required: how many grid officers (zones) to split the buildings among")
    officers = _whole(body.get("officers"), "officers", 1, MAX_OFFICERS)
    balance = _balance(body.get("balance"))
    kinds = _kinds(body.get("kinds"))
    rows = [b for b in _campus_buildings(campus.id) if b.kind in kinds]
    if not rows:
        raise BadRequest("campus %(campus)s has no buildings of kind %(kinds)s", campus=campus.slug,
                         kinds=", ".join(kinds))
    weights = np.array([_workload(balance, b.residents) for b in rows])
    warnings = []
    if balance == "residents":
        unknown = sum(1 for b in rows if b.residents is None)
        if weights.sum() <= 0:
            raise BadRequest("none of these buildings has residents recorded: balance by building count instead "
                             "(\"balance\": \"buildings\")")
        if unknown:
            warnings.append(gettext("%(count)s of %(total)s buildings have no residents recorded and count as 0",
                                    count=unknown, total=len(rows)))
    try:
        proposal = propose_zones([b.geom for b in rows], weights, officers)
    except InputError as exc:
        raise BadRequest(exc.template, **exc.params) from None
    props = []
    for number, members in enumerate(proposal.zones, start=1):
        chosen = [rows[i] for i in members]
        props.append({
            "zone": number, "name": gettext("Zone %(number)s", number=number), "officer": None,
            "buildings": [b.id for b in chosen], "building_count": len(chosen),
            "residents": sum(int(b.residents or 0) for b in chosen), "workload": proposal.workloads[number - 1],
        })
    split = proposal.split
    bound = split.lower_bound if math.isfinite(split.lower_bound) else None
    body_out = feature_collection(
        list(range(1, len(props) + 1)), proposal.outlines, props, campus=campus.slug, officers=officers,
        balance_by=balance, kinds=kinds, balance=_balance_dict(proposal.workloads), method=proposal.method,
        optimal=split.optimal, lower_bound=None if bound is None else round(bound, 3),
        neighbour_links=len(proposal.graph.edges), joining_links=len(proposal.graph.joined()),
        seconds=round(time.perf_counter() - started, 3), warnings=warnings)
    return _geojson(body_out)


# ---------------------------------------------------------------- writing helpers


def _name(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise BadRequest("a zone's name must be a non-empty string")
    if len(value.strip()) > MAX_NAME:
        raise BadRequest("a zone's name is longer than %(max)s characters", max=MAX_NAME)
    return value.strip()


def _officer(value: Any, campus: Campus) -> User | None:
    """The grid officer named by a user id, or None; anyone else is refused."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadRequest("officer must be a user id (a whole number) or null")
    user = db.session.get(User, value)
    if (user is None or not user.active or GRID_OFFICER not in user.role_set
            or not scope_for(db.session, user).sees_campus(campus.id)):
        raise BadRequest("user %(id)s is not a grid officer of campus %(campus)s", id=value, campus=campus.slug)
    return user


def _building_ids(value: Any, known: set[int], campus: Campus) -> list[int]:
    if not isinstance(value, list) or not value or not all(
            isinstance(i, int) and not isinstance(i, bool) for i in value):
        raise BadRequest("a zone's buildings must be a non-empty list of building ids")
    unknown = sorted(set(value) - known)
    if unknown:
        raise BadRequest("unknown building(s) on campus %(campus)s: %(ids)s", campus=campus.slug,
                         ids=", ".join(map(str, unknown[:20])))
    if len(set(value)) != len(value):
        raise BadRequest("a building is listed twice in one zone")
    return sorted(value)


def _locked_campus(campus_id: int) -> Campus:
    """The campus row, locked until the transaction ends: one change to a campus's zones at a time (PostgreSQL;
    SQLite's write transactions are serial already)."""
    campus = db.session.scalars(select(Campus).where(Campus.id == campus_id).with_for_update()).one()
    return campus


def _contact_id(user: User | None, campus_id: int) -> int | None:
    """The campus's Officer contact row for a grid officer (the grid-zones layer's popups name it)."""
    if user is None:
        return None
    name = user.display_name or user.username
    officer = db.session.scalars(select(Officer).where(Officer.campus_id == campus_id, Officer.name == name)).first()
    if officer is None:
        officer = Officer(campus_id=campus_id, name=name, role=GRID_OFFICER)
        db.session.add(officer)
        db.session.flush()
    return officer.id


def _computed_outlines(buildings: Sequence[Any], assignment: dict[int, int]) -> dict[int, BaseGeometry]:
    """patrolmap.zoning's outlines, by zone key, for an assignment of building id -> zone key."""
    members = [b for b in buildings if b.id in assignment]
    if not members:
        return {}
    zone_ids = sorted({assignment[b.id] for b in members})
    index = {z: i for i, z in enumerate(zone_ids)}
    outlines = outlines_for([b.geom for b in members], [index[assignment[b.id]] for b in members])
    return dict(zip(zone_ids, outlines, strict=True))


def _wkt(geom: BaseGeometry | None) -> str | None:
    return None if geom is None else shapely.to_wkt(geom, rounding_precision=7)


def _rezone_hazards(campus_id: int, hazards: Sequence[Any], assignment: dict[int, int],
                    zones: dict[int, BaseGeometry], who: str, reason: str) -> None:
    """Place hazards again after their zones changed, as reporting places them (patrolmap.hazardstore.locate):
    the zone holding their building, else the smallest zone outline around their point, else none."""
    for h in hazards:
        new = assignment.get(h.building_id) if h.building_id is not None else None
        if new is None:
            around = [(geom.area, zid) for zid, geom in zones.items() if geom is not None and geom.covers(h.geom)]
            new = min(around)[1] if around else None
        if new == h.zone_id:
            continue
        db.session.execute(update(Hazard).where(Hazard.id == h.id).values(zone_id=new, version=Hazard.version + 1))
        db.session.add(AuditEntry(actor=who, action="rezone", layer="hazards", feature_id=h.id, campus_id=campus_id,
                                  before={"zone": h.zone_id}, after={"zone": new}, reason=reason))


# ---------------------------------------------------------------- apply a proposal


def _apply_zones(value: Any, campus: Campus, known: set[int]) -> list[tuple[str, list[int], User | None]]:
    if not isinstance(value, list) or not value:
        raise BadRequest("zones must be a non-empty list of {\"name\", \"buildings\", \"officer\"}")
    if len(value) > MAX_ZONES:
        raise BadRequest("at most %(max)s zones at once", max=MAX_ZONES)
    out: list[tuple[str, list[int], User | None]] = []
    seen: dict[int, str] = {}
    for position, zone in enumerate(value, start=1):
        if not isinstance(zone, dict):
            raise BadRequest("zone %(position)s must be an object", position=position)
        unknown = sorted(set(zone) - APPLY_ZONE_FIELDS)
        if unknown:
            raise BadRequest("zone %(position)s: unknown field(s): %(unknown)s; accepted: %(accepted)s",
                             position=position, unknown=", ".join(unknown),
                             accepted=", ".join(sorted(APPLY_ZONE_FIELDS)))
        name = _name(zone.get("name"))
        buildings = _building_ids(zone.get("buildings"), known, campus)
        for b in buildings:
            if b in seen:
                raise BadRequest("building %(id)s is in two zones: %(first)s and %(second)s", id=b, first=seen[b],
                                 second=name)
            seen[b] = name
        out.append((name, buildings, _officer(zone.get("officer"), campus)))
    names = [name for name, _, _ in out]
    if len(set(names)) != len(names):
        raise BadRequest("two zones have the same name")
    return out


@bp.post("/zones/apply")
def apply_zones() -> tuple[Response, int]:
    """Replace the campus's zones by these (e.g. an accepted proposal); answered as GET /api/grid/zones."""
    body = _json_body(APPLY_FIELDS)
    campus = _campus_for_write(body)
    reason = check_reason(body.get("reason"), required=False) or "zones applied"
    campus_id, who = campus.id, actor()
    with write_transaction(db.session):
        campus = _locked_campus(campus_id)
        buildings = _campus_buildings(campus_id)
        wanted = _apply_zones(body.get("zones"), campus, {b.id for b in buildings})
        old_zones, old_props, _ = _zones(campus, "residents")
        old_ids = [z.id for z in old_zones]
        hazards = list(db.session.execute(select(Hazard.id, Hazard.building_id, Hazard.zone_id, Hazard.geom).where(
            Hazard.campus_id == campus_id, Hazard.zone_id.in_(old_ids)))) if old_ids else []
        if hazards:
            db.session.execute(update(Hazard).where(Hazard.id.in_([h.id for h in hazards])).values(zone_id=None))
        db.session.execute(update(Building).where(Building.campus_id == campus_id).values(grid_zone_id=None))
        for zone, props in zip(old_zones, old_props, strict=True):
            db.session.add(AuditEntry(actor=who, action="delete", layer=LAYER, feature_id=zone.id, campus_id=campus_id,
                                      before={k: props[k] for k in ("name", "buildings", "residents")}
                                      | {"officer": zone.officer_user_id, "outline": _wkt(zone.geom)},
                                      reason=reason))
        by_position = {b: position for position, (_, members, _) in enumerate(wanted) for b in members}
        drawn = _computed_outlines(buildings, by_position)
        residents = {b.id: int(b.residents or 0) for b in buildings}
        created = []
        for position, (name, _, officer) in enumerate(wanted):
            zone = GridZone(campus_id=campus_id, source_id=f"grid:{uuid.uuid4().hex}", name=name,
                            officer_user_id=officer.id if officer else None,
                            officer_id=_contact_id(officer, campus_id), geom=drawn[position])
            db.session.add(zone)
            created.append(zone)
        db.session.flush()
        # The old zones go after the new ones are in, so that no id is ever given again (SQLite reuses the
        # highest rowid once it is deleted) and the audit log's zone ids stay unambiguous.
        if old_ids:
            db.session.execute(delete(GridZone).where(GridZone.id.in_(old_ids)))
        for zone, (name, members, officer) in zip(created, wanted, strict=True):
            db.session.execute(update(Building).where(Building.id.in_(members)).values(grid_zone_id=zone.id))
            db.session.add(AuditEntry(actor=who, action="create", layer=LAYER, feature_id=zone.id, campus_id=campus_id,
                                      after={"name": name, "buildings": members, "officer": officer.id if officer
                                             else None, "residents": sum(residents[b] for b in members),
                                             "outline": _wkt(zone.geom)}, reason=reason))
        assignment = {b: created[position].id for b, position in by_position.items()}
        outlines = {created[position].id: geom for position, geom in drawn.items()}
        db.session.flush()
        _rezone_hazards(campus_id, hazards, assignment, outlines, who, reason)
    applied = db.session.get(Campus, campus_id)
    assert applied is not None
    return _zones_response(applied, "residents", applied=len(wanted), replaced=len(old_ids))


# ---------------------------------------------------------------- adjust one zone


def _hand_outline(value: Any, campus: Campus, name: str) -> tuple[BaseGeometry, list[str]]:
    """A Polygon or MultiPolygon drawn by hand, validated as imports are (repaired if it crosses itself)."""
    if not isinstance(value, dict) or not isinstance(value.get("type"), str):
        raise BadRequest("outline must be a GeoJSON Polygon or MultiPolygon")
    if value["type"] == "Feature":
        value = value.get("geometry")
        if not isinstance(value, dict):
            raise BadRequest("outline must be a GeoJSON Polygon or MultiPolygon")
    if value.get("type") not in ("Polygon", "MultiPolygon"):
        raise BadRequest("outline must be a GeoJSON Polygon or MultiPolygon, got %(type)s",
                         type=repr(value.get("type")))
    count = _positions(value.get("coordinates"), 2 if value["type"] == "Polygon" else 3)
    if count > MAX_VERTICES:
        raise BadRequest("the outline has more than %(max)s vertices", max=MAX_VERTICES)
    try:
        shape = shapely.geometry.shape(value)
    except Exception as exc:  # shapely raises several types for malformed GeoJSON
        raise BadRequest("the outline is not valid GeoJSON: %(reason)s", reason=str(exc) or type(exc).__name__
                         ) from None
    raw = RawFeature(0, f"api:{uuid.uuid4().hex}", shape, {"name": name})
    try:
        checked = validate_layer(LAYER, [raw], timezone=campus.timezone, reference=campus_extent(db.session, campus))
    except ValidationError as exc:
        raise as_http_error(exc, single=True) from None
    return checked.frame.geometry.iloc[0], list(checked.warnings)


def _positions(value: Any, depth: int) -> int:
    """Count the positions of a coordinates array nested `depth` lists deep (2 for a Polygon, 3 for a
    MultiPolygon), refusing anything else."""
    if not isinstance(value, list):
        raise BadRequest("the outline's coordinates must be nested arrays of [lon, lat] numbers")
    if depth == 0:
        if len(value) not in (2, 3) or not all(
                isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in value):
            raise BadRequest("the outline's coordinates must be nested arrays of [lon, lat] numbers")
        return 1
    return sum(_positions(v, depth - 1) for v in value)


def _metres_area(geom: BaseGeometry) -> float:
    lat = math.radians(geom.centroid.y) if not geom.is_empty else 0.0
    scale = 111_320.0
    return geom.area * scale * scale * math.cos(lat)


def _polygonal(geom: BaseGeometry) -> BaseGeometry:
    parts = [p for p in shapely.get_parts(shapely.make_valid(geom)) if p.geom_type in ("Polygon", "MultiPolygon")]
    return shapely.union_all(parts) if parts else shapely.Polygon()


def _zone(zone_id: int) -> GridZone:
    zone = db.session.get(GridZone, zone_id)
    if zone is None or not g.scope.sees_campus(zone.campus_id):
        raise NotFound("unknown grid zone %(id)s", id=zone_id)
    return zone


@bp.put("/zones/<int:zone_id>")
def update_zone(zone_id: int) -> tuple[Response, int]:
    """Rename a zone, assign its officer, set its buildings (moving them from other zones) or redraw its outline."""
    _zone(zone_id)
    body = _json_body(UPDATE_FIELDS)
    if body.get("version") is None:
        raise BadRequest("version is required: the version you read, so that no edit is lost")
    version = check_version(body["version"])
    reason = check_reason(body.get("reason"), required=False) or "zone adjusted"
    if not set(body) & {"name", "officer", "buildings", "outline"}:
        raise BadRequest("nothing to change: send name, officer, buildings or outline")
    who = actor()
    warnings: list[str] = []
    changed_others: list[int] = []
    with write_transaction(db.session):
        _locked_campus(_zone(zone_id).campus_id)
        zone = _zone(zone_id)
        if zone.version != version:
            raise Conflict("grid zone %(id)s has changed since you read it (version %(current)s, you sent %(sent)s); "
                           "reload it and try again", id=zone_id, current=zone.version, sent=version,
                           details={"version": zone.version})
        campus = db.session.get(Campus, zone.campus_id)
        assert campus is not None
        campus_id = campus.id
        before: dict[str, Any] = {}
        after: dict[str, Any] = {}
        if "name" in body:
            name = _name(body["name"])
            if name != zone.name:
                before["name"], after["name"] = zone.name, name
        if "officer" in body:
            officer = _officer(body["officer"], campus)
            new_officer = officer.id if officer else None
            if new_officer != zone.officer_user_id:
                before["officer"], after["officer"] = zone.officer_user_id, new_officer
        buildings = _campus_buildings(campus_id)
        assignment = {b.id: b.grid_zone_id for b in buildings if b.grid_zone_id is not None}
        old_members = sorted(b for b, z in assignment.items() if z == zone_id)
        donors: dict[int, list[int]] = {}
        moved: list[int] = []
        if "buildings" in body:
            members = _building_ids(body["buildings"], {b.id for b in buildings}, campus)
            added = [b for b in members if assignment.get(b) != zone_id]
            removed = [b for b in old_members if b not in set(members)]
            for b in added:
                if assignment.get(b) is not None:
                    donors.setdefault(assignment[b], []).append(b)
            names = dict(db.session.execute(select(GridZone.id, GridZone.name).where(
                GridZone.campus_id == campus_id)).tuples().all())
            for donor, taken in donors.items():
                if all(z != donor or b in taken for b, z in assignment.items()):
                    raise BadRequest("zone %(name)s would have no buildings left; give it another building first",
                                     name=names[donor])
            for b in removed:
                assignment.pop(b)
            for b in added:
                assignment[b] = zone_id
            moved = added + removed
            if moved:
                before["buildings"], after["buildings"] = old_members, members
            if not _connected_hint(buildings, members):
                warnings.append(gettext("the zone's buildings are not all neighbours of one another"))
        others = {z.id: z for z in db.session.scalars(select(GridZone).where(GridZone.campus_id == campus_id,
                                                                             GridZone.id != zone_id))}
        redraw = [zone_id] if moved else []
        redraw += sorted(donors)
        computed = _computed_outlines(buildings, assignment) if redraw else {}
        footprints = {b.id: b.geom for b in buildings}
        outlines: dict[int, BaseGeometry] = {}
        for zid in redraw:
            if zid == zone_id and "outline" in body:
                continue
            fixed = [o.geom for oid, o in others.items() if oid not in redraw]
            own = shapely.union_all([footprints[b] for b, z in assignment.items() if z == zid])
            geom = computed.get(zid, own)
            if fixed:
                geom = shapely.union(shapely.difference(geom, shapely.union_all(fixed)), own)
            outlines[zid] = _polygonal(geom)
        if "outline" in body:
            drawn, notes = _hand_outline(body["outline"], campus, after.get("name", zone.name))
            warnings += notes
            rest = [outlines.get(oid, o.geom) for oid, o in others.items()]
            clipped = _polygonal(shapely.difference(drawn, shapely.union_all(rest))) if rest else drawn
            if clipped.is_empty:
                raise BadRequest("the outline lies wholly inside other zones")
            if _metres_area(drawn) - _metres_area(clipped) > SLIVER_M2:
                warnings.append(gettext("the outline was cut where it overlapped other zones"))
            outside = [b for b, z in assignment.items() if z == zone_id and not clipped.covers(
                shapely.point_on_surface(footprints[b]))]
            if outside:
                warnings.append(gettext("buildings %(ids)s of this zone lie outside its outline",
                                        ids=", ".join(map(str, sorted(outside)))))
            outlines[zone_id] = clipped
        if zone_id in outlines and not shapely.equals_exact(outlines[zone_id], zone.geom, tolerance=0):
            before["outline"], after["outline"] = _wkt(zone.geom), _wkt(outlines[zone_id])
        if not after:
            return _zone_response(zone_id, warnings, [])
        values: dict[str, Any] = {}
        if "name" in after:
            values["name"] = after["name"]
        if "officer" in after:
            officer_user = db.session.get(User, after["officer"]) if after["officer"] else None
            values["officer_user_id"] = after["officer"]
            values["officer_id"] = _contact_id(officer_user, campus_id)
        if "buildings" in after:
            gone = [b for b in old_members if assignment.get(b) != zone_id]
            if gone:
                db.session.execute(update(Building).where(Building.id.in_(gone)).values(grid_zone_id=None))
            db.session.execute(update(Building).where(Building.id.in_(after["buildings"])).values(
                grid_zone_id=zone_id))
        if zone_id in outlines:
            geom = outlines[zone_id]
            values.update(geom=geom, minx=geom.bounds[0], miny=geom.bounds[1], maxx=geom.bounds[2],
                          maxy=geom.bounds[3])
        done = db.session.execute(update(GridZone).where(GridZone.id == zone_id, GridZone.version == version)
                                  .values(**values, version=version + 1))
        if done.rowcount != 1:
            raise Conflict("grid zone %(id)s was changed by someone else just now; reload it and try again",
                           id=zone_id)
        db.session.add(AuditEntry(actor=who, action="update", layer=LAYER, feature_id=zone_id, campus_id=campus_id,
                                  before=before, after=after, reason=reason))
        for donor, taken in sorted(donors.items()):
            geom = outlines[donor]
            remaining = sorted(b for b, z in assignment.items() if z == donor)
            db.session.execute(update(GridZone).where(GridZone.id == donor).values(
                geom=geom, minx=geom.bounds[0], miny=geom.bounds[1], maxx=geom.bounds[2], maxy=geom.bounds[3],
                version=GridZone.version + 1))
            db.session.add(AuditEntry(actor=who, action="update", layer=LAYER, feature_id=donor, campus_id=campus_id,
                                      before={"buildings": sorted(remaining + taken),
                                              "outline": _wkt(others[donor].geom)},
                                      after={"buildings": remaining, "outline": _wkt(geom)},
                                      reason=f"buildings {', '.join(map(str, sorted(taken)))} moved to zone {zone_id}"))
            changed_others.append(donor)
        if moved:
            hazards = list(db.session.execute(select(Hazard.id, Hazard.building_id, Hazard.zone_id, Hazard.geom).where(
                Hazard.campus_id == campus_id, Hazard.building_id.in_(moved))))
            zones_now = {oid: outlines.get(oid, o.geom) for oid, o in others.items()}
            zones_now[zone_id] = outlines.get(zone_id, zone.geom)
            _rezone_hazards(campus_id, hazards, assignment, zones_now, who, reason)
    return _zone_response(zone_id, warnings, changed_others)


def _connected_hint(buildings: Sequence[Any], members: Sequence[int]) -> bool:
    """Whether the zone's buildings are connected in their own neighbour graph (a hand-made zone may not be)."""
    from patrolmap.zoning import in_metres, neighbour_graph

    if len(members) <= 1:
        return True
    chosen = set(members)
    geoms = [b.geom for b in buildings if b.id in chosen and b.kind in RESIDENTIAL_KINDS]
    others = [b.geom for b in buildings if b.id not in chosen and b.kind in RESIDENTIAL_KINDS]
    mine = [b.geom for b in buildings if b.id in chosen]
    if len(geoms) != len(mine):
        return True  # not only residential buildings: no reference graph to judge by
    _, metric = in_metres(geoms + others)
    graph = neighbour_graph(metric)
    return graph.connected(range(len(geoms)))


def _zone_response(zone_id: int, warnings: list[str], changed: list[int]) -> tuple[Response, int]:
    zone = _zone(zone_id)
    campus = db.session.get(Campus, zone.campus_id)
    assert campus is not None
    zones, props, _ = _zones(campus, "residents", [zone_id])
    members: dict[str, Any] = {"changed": changed}
    if warnings:
        members["warnings"] = warnings
    return _geojson(feature_json(zone_id, zones[0].geom, props[0], **members))
