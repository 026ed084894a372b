"""EV charger placement review (issue 8): the stored campus in, the documented answers out.

Why a module of its own: the analysis (`patrolmap.placement`) is pure and knows nothing of the
store; the web layer (`patrolmap.web.chargers_api`) only parses requests. This module loads the
demand, the chargers and the candidate sites of a campus and kind from the store, keeps the
walking-distance matrix between them cached, and turns the core's results into the answers,
saved scenarios, exports and imports the API documents. It never touches Flask's request.

Ids in answers (unique per campus and kind, so that one demand list can hold buildings and
parking lots): demand ``"building:<id>"`` or ``"parking-lot:<id>"`` (the layer's feature id),
chargers by their feature id (an integer), candidate sites by their parking-lot feature id or,
for a point the planner added, by its index in the request's ``candidates`` list (with
``"source": "point"`` and ``"id": "point:<index>"``).

Caching: the walking distances of a campus, kind and charger statuses are computed once per
cutoff bucket (`CUTOFFS`: 1,000 m serves every walking distance up to 1 km, 3,000 m the rest)
and kept while the campus's buildings, parking lots, chargers and paths are unchanged (a
signature of their counts, largest ids, last changes and versions, as the route planner does
for its networks); any shorter walking distance is then answered by ``within(walk_m)`` without
recomputing. Points a planner adds (candidates, a scenario's new sites) are measured on each
request and appended to the cached matrix.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
import math
import re
import threading
import zoneinfo
from collections import OrderedDict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import orjson
import shapely
from scipy import sparse
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from patrolmap.audit import _cell
from patrolmap.database import write_transaction
from patrolmap.errors import BadRequest, NotFound
from patrolmap.geo import io as geo_io
from patrolmap.geo.validate import FieldError, Problem, RawFeature, ValidationError, validate_layer
from patrolmap.geojson import feature_collection
from patrolmap.models import AuditEntry, Building, Campus, Charger, ChargerScenario, ParkingLot, PathSegment, utcnow
from patrolmap.patrolroutes import _distance_km, check_name
from patrolmap.placement import (
    Coverage,
    Suggestion,
    WalkingDistances,
    candidate_sites,
    charger_sites,
    coverage,
    demand_points,
    fewest_sites,
    isochrones,
    suggest_sites,
    walking_distances,
)
from patrolmap.placement.mclp import METHODS
from patrolmap.store import ImportSummary, campus_extent, get_campus, layer_frame, store_layers

if TYPE_CHECKING:
    from patrolmap.routing.network import RoutingNetwork

LAYER = "charger_scenarios"  # audit subject of scenario writes; imports are audited under "chargers"
KINDS = ("car", "ebike")
DEFAULT_KIND = "car"  # the first kind; e-bikes are asked for with kind=ebike
DEFAULT_WALK_M = 300.0
MIN_WALK_M, MAX_WALK_M = 10.0, 3000.0
CUTOFFS = (1000.0, MAX_WALK_M)  # walking-distance matrices are computed for these cutoffs only
MAX_K = 50
MAX_POINTS = 2000  # candidate points a planner may add, and entries of exclude
MAX_SCENARIO_SITES = 500
MAX_COMPARE = 20
MAX_WEIGHT = 1_000_000.0
NOTE_MAX = 2000
CACHE_SIZE = 16  # walking-distance matrices kept (campus x kind x statuses x cutoff)
ISOCHRONE_CACHE = 8  # walking distances whose isochrones are kept per matrix
# AFDC imports: nominal power when a row gives none (a DC fast charger is at least 50 kW; a Level 2
# EVSE in the US is 208-240 V at 30-32 A, about 7.2 kW; a Level 1 outlet 120 V at 16 A, about 1.9 kW).
DC_FAST_KW = 50.0
LEVEL2_KW = 7.2
LEVEL1_KW = 1.9
SCENARIO_SITE_FIELDS = {"lon", "lat", "name", "ports", "power_kw", "candidate"}
SCENARIO_FIELDS = {"campus", "name", "kind", "walk_m", "sites", "excluded", "note", "weights", "planned"}


# ---------------------------------------------------------------- small checks


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def check_kind(value: Any) -> str:
    """car or e-bike: every view is per kind, never both mixed."""
    if value is None or value == "":
        return DEFAULT_KIND
    if value not in KINDS:
        raise BadRequest("kind must be car or ebike, got %(value)s", value=repr(value))
    return str(value)


def check_walk_m(value: Any) -> float:
    """A walking distance in metres, 10 to 3000 (numbers or their text)."""
    if value is None or value == "":
        return DEFAULT_WALK_M
    number: float | None = None
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            number = None
    elif _is_number(value):
        number = float(value)
    if number is None or not math.isfinite(number) or not MIN_WALK_M <= number <= MAX_WALK_M:
        raise BadRequest("walk_m must be a number of metres from %(low)s to %(high)s, got %(value)s",
                         low=f"{MIN_WALK_M:g}", high=f"{MAX_WALK_M:g}", value=repr(value))
    return number


def _check_weight(value: Any, what: str) -> float:
    if not _is_number(value) or not 0 <= value <= MAX_WEIGHT:
        raise BadRequest("%(what)s must be a number from 0 to %(max)s", what=what, max=f"{MAX_WEIGHT:g}")
    return float(value)


def parse_weights_text(text: str | None) -> dict[str, float]:
    """``building:12:500,parking-lot:3:40`` (demand id, colon, weight) as a dict."""
    if not text:
        return {}
    out: dict[str, float] = {}
    for part in text.split(","):
        key, sep, number = part.strip().rpartition(":")
        try:
            value = float(number) if sep and key else None
        except ValueError:
            value = None
        if value is None:
            raise BadRequest("weights must be demand id:number pairs separated by commas "
                             "(e.g. building:12:500), got %(text)s", text=repr(part))
        out[key] = _check_weight(value, f"weight of {key}")
    return out


def check_weights(value: Any) -> dict[str, float]:
    """Weights sent in a JSON body: {"<demand id>": number}."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise BadRequest('weights must be an object {"<demand id>": number}')
    return {str(k): _check_weight(v, f"weight of {k}") for k, v in value.items()}


# ---------------------------------------------------------------- loading and caching


@dataclass
class PlacementData:
    """One campus, kind and charger statuses: demand, chargers, parking-lot candidates and their distances."""

    campus_id: int
    kind: str
    statuses: tuple[str, ...]
    demand: gpd.GeoDataFrame  # DEMAND_COLUMNS, ids "building:<id>" / "parking-lot:<id>", default weights
    chargers: gpd.GeoDataFrame  # the fixed sites: charger (int), id "charger:<id>", name, status, ports, ...
    lots: gpd.GeoDataFrame  # candidate parking lots: lot (int), id "parking-lot:<id>", name, geometry
    dist: WalkingDistances  # sites: chargers, then lots
    network: RoutingNetwork
    isochrones: OrderedDict[float, gpd.GeoDataFrame] = field(default_factory=OrderedDict)

    @property
    def lot_ids(self) -> dict[int, str]:
        return dict(zip(self.lots["lot"].tolist(), self.lots["id"].tolist(), strict=True))


_cache: OrderedDict[tuple[Any, ...], PlacementData] = OrderedDict()
_cache_lock = threading.Lock()


def data_signature(session: Session, campus_id: int) -> tuple[Any, ...]:
    """What changes whenever the demand, chargers, candidates or paths of a campus change."""
    out: list[Any] = []
    for model in (Building, ParkingLot, Charger, PathSegment):
        out.extend(session.execute(
            select(func.count(model.id), func.max(model.id), func.max(model.updated_at), func.sum(model.version))
            .where(model.campus_id == campus_id)).one())
    return tuple(out)


def _prefixed(frame: gpd.GeoDataFrame, prefix: str, keep: str) -> gpd.GeoDataFrame:
    out = frame.copy()
    out[keep] = [int(i) for i in out["id"]]
    out["id"] = [f"{prefix}:{int(i)}" for i in out["id"]]
    return out


def _load(session: Session, campus: Campus, kind: str, statuses: tuple[str, ...], cutoff: float) -> PlacementData:
    from patrolmap.web.routes_api import campus_network

    network = campus_network(campus, "walk")
    buildings = _prefixed(layer_frame(session, "buildings", campus_id=campus.id), "building", "feature_id")
    lots = _prefixed(layer_frame(session, "parking-lots", campus_id=campus.id), "parking-lot", "lot")
    stored = _prefixed(layer_frame(session, "chargers", campus_id=campus.id), "charger", "charger")
    demand = demand_points(buildings, lots, kind)  # type: ignore[arg-type]
    sites = charger_sites(stored, kind, statuses=statuses)  # type: ignore[arg-type]
    details = stored.set_index("id")
    for column in ("charger", "kind", "ports", "power_kw", "operator"):
        sites[column] = [details.at[i, column] for i in sites["id"]]
    candidates = candidate_sites(lots)
    candidates["lot"] = [int(i.split(":", 1)[1]) for i in candidates["id"]]
    dist = walking_distances(network, demand, sites, candidates, cutoff)
    return PlacementData(campus.id, kind, statuses, demand, sites, candidates, dist, network)


def placement_data(session: Session, campus: Campus, kind: str, walk_m: float, *,
                   planned: bool = False) -> PlacementData:
    """The campus's placement data for a kind, with distances reaching at least `walk_m` (cached)."""
    statuses = ("existing", "planned") if planned else ("existing",)
    signature = data_signature(session, campus.id)
    cutoff = next(c for c in CUTOFFS if c >= walk_m - 1e-9)
    with _cache_lock:
        for c in CUTOFFS:
            key = (campus.id, kind, statuses, c, signature)
            if c >= walk_m - 1e-9 and key in _cache:
                _cache.move_to_end(key)
                return _cache[key]
    data = _load(session, campus, kind, statuses, cutoff)
    with _cache_lock:
        for key in [k for k in _cache if k[0] == campus.id and k[4] != signature]:
            del _cache[key]  # the campus's data changed: its old matrices are of no use any more
        _cache[(campus.id, kind, statuses, cutoff, signature)] = data
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return data


def clear_cache() -> None:
    """Forget every cached matrix (tests; a deployment never needs it: signatures catch changes)."""
    with _cache_lock:
        _cache.clear()


def demand_weights(data: PlacementData, overrides: Mapping[str, float]) -> np.ndarray:
    """The demand weights with the planner's numbers applied; an id not in the demand is refused."""
    w = data.demand["weight"].to_numpy(dtype=float).copy()
    if overrides:
        index = {d: i for i, d in enumerate(data.demand["id"])}
        unknown = [k for k in overrides if k not in index]
        if unknown:
            raise BadRequest("unknown demand id(s) for this kind: %(ids)s", ids=", ".join(unknown[:20]))
        for key, value in overrides.items():
            w[index[key]] = value
    return w


def _weight_sources(data: PlacementData, overrides: Mapping[str, float]) -> list[str]:
    return ["override" if d in overrides else s for d, s in zip(data.demand["id"], data.demand["weight_source"],
                                                                 strict=True)]


def with_sites(data: PlacementData, points: Sequence[tuple[float, float]], ids: Sequence[str]) -> WalkingDistances:
    """The cached distances plus sites at `points` (lon/lat), measured now and appended as candidates.

    Each added point is snapped onto the original network on its own, so its walking distances
    are exactly those a full recomputation would give; the points get no isochrones.
    """
    base = data.dist
    if not points:
        return base
    frame = gpd.GeoDataFrame({"id": list(ids)}, geometry=list(shapely.points(np.asarray(points, dtype=float))),
                             crs="EPSG:4326")
    extra = walking_distances(data.network, data.demand, None, frame, base.walk_m)
    matrix = sparse.csr_array(sparse.vstack([base.matrix, extra.matrix], format="csr"))
    matrix.sort_indices()
    n = len(ids)
    net = dataclasses.replace(base.network, site_node=np.concatenate([base.network.site_node, np.full(n, -1)]),
                              site_leg_m=np.concatenate([base.network.site_leg_m, np.zeros(n)]))
    offset = len(base.site_ids) - base.n_fixed
    unreachable = [*base.unreachable, *(dataclasses.replace(u, index=u.index + offset)
                                        for u in extra.unreachable if u.role == "candidate")]
    return WalkingDistances(base.walk_m, base.demand_ids, [*base.site_ids, *ids],
                            np.concatenate([base.fixed, np.zeros(n, dtype=bool)]), matrix, base.nearest_existing_m,
                            base.nearest_existing, unreachable, net, {})


def check_near_campus(session: Session, campus: Campus, points: Sequence[tuple[float, float]], what: str) -> None:
    """Refuse a point far from the campus (swapped axes, a typo): it could never serve its demand."""
    extent = campus_extent(session, campus)
    if extent is None:
        return
    for index, (lon, lat) in enumerate(points):
        km = _distance_km(lon, lat, extent)
        if km > 50:
            raise BadRequest("%(what)s[%(index)s] lies %(km)s km from the campus; check lon and lat", what=what,
                             index=index, km=f"{km:.0f}")


def _optional_name(value: Any, what: str) -> str | None:
    """A name that may be left out (null or blank); given, it follows the rules of every name."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return check_name(value, what)


def lonlat(value: Any, what: str) -> tuple[float, float]:
    """[lon, lat] within ±180 / ±90."""
    if (not isinstance(value, (list, tuple)) or len(value) != 2 or not all(_is_number(v) for v in value)
            or not (-180 <= value[0] <= 180 and -90 <= value[1] <= 90)):
        raise BadRequest("%(what)s must be [lon, lat] with lon within ±180 and lat within ±90", what=what)
    return float(value[0]), float(value[1])


# ---------------------------------------------------------------- answers


def _m(value: float) -> float | None:
    return round(float(value), 1) if math.isfinite(value) else None


def _plain(value: Any) -> Any:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return value.item() if hasattr(value, "item") else value


def _source(row_source: str) -> str:
    return "parking_lot" if row_source == "parking_lot" else "building"


def _share(covered: float, total: float) -> float:
    return round(covered / total, 6) if total > 0 else 0.0


def _totals(cov: Coverage) -> dict[str, Any]:
    total, covered = cov.total_weight, cov.covered_weight
    return {"total_demand": round(total, 3), "covered_demand": round(covered, 3),
            "uncovered_demand": round(total - covered, 3), "covered_share": _share(covered, total)}


def _unreachable(data: PlacementData, dist: WalkingDistances, roles: Collection[str]) -> list[dict[str, Any]]:
    names = dict(zip(data.demand["id"], data.demand["name"], strict=True))
    charger_of = dict(zip(data.chargers["id"], data.chargers["charger"], strict=True))
    names.update(zip(data.chargers["id"], data.chargers["name"], strict=True))
    out = []
    for u in dist.unreachable:
        if u.role not in roles:
            continue
        out.append({"role": u.role, "id": charger_of.get(u.id, u.id), "name": _plain(names.get(u.id)),
                    "reason": u.reason, "distance_m": None if u.distance_m is None else _m(u.distance_m)})
    return out


def _isochrones(data: PlacementData, walk_m: float) -> gpd.GeoDataFrame:
    key = round(walk_m, 3)
    with _cache_lock:
        if key in data.isochrones:
            data.isochrones.move_to_end(key)
            return data.isochrones[key]
    rings = isochrones(data.dist, walk_m=walk_m)
    with _cache_lock:
        data.isochrones[key] = rings
        while len(data.isochrones) > ISOCHRONE_CACHE:
            data.isochrones.popitem(last=False)
    return rings


def coverage_answer(session: Session, campus: Campus, kind: str, walk_m: float, *, planned: bool = False,
                    overrides: Mapping[str, float] | None = None) -> dict[str, Any]:
    """GET /api/chargers/coverage: which demand the chargers of a kind reach within `walk_m` on foot."""
    overrides = overrides or {}
    data = placement_data(session, campus, kind, walk_m, planned=planned)
    w = demand_weights(data, overrides)
    dist = data.dist
    cov = coverage(dist, w, walk_m=walk_m)
    sources = _weight_sources(data, overrides)
    charger_of = data.chargers["charger"].tolist()
    demand = data.demand
    props = []
    for i, (did, name, src) in enumerate(zip(demand["id"], demand["name"], demand["source"], strict=True)):
        near = int(dist.nearest_existing[i])
        props.append({
            "id": did, "feature_id": int(did.rsplit(":", 1)[1]), "name": _plain(name), "source": _source(src),
            "building_kind": None if src == "parking_lot" else src, "weight": float(w[i]),
            "weight_source": sources[i], "covered": bool(cov.covered[i]),
            "walk_m_to_nearest": _m(dist.nearest_existing_m[i]),
            "nearest_charger": int(charger_of[near]) if near >= 0 else None,
        })
    rings = _isochrones(data, walk_m)
    names = dict(zip(data.chargers["id"], data.chargers["name"], strict=True))
    ring_rows = [(sid, geom, reach) for sid, geom, reach in zip(rings["site_id"], rings.geometry, rings["reach_m"],
                                                               strict=True) if geom is not None]
    charger_ids = dict(zip(data.chargers["id"], data.chargers["charger"], strict=True))
    uncovered = [{k: props[i][k] for k in ("id", "name", "source", "weight", "walk_m_to_nearest")}
                 for i in cov.uncovered().tolist()]
    return {
        "campus": campus.slug, "kind": kind, "walk_m": walk_m, "planned": planned, **_totals(cov),
        "demand": orjson.loads(feature_collection(list(demand["id"]), list(demand.geometry), props)),
        "isochrones": orjson.loads(feature_collection(
            [int(charger_ids[s]) for s, _, _ in ring_rows], [g for _, g, _ in ring_rows],
            [{"charger": int(charger_ids[s]), "name": _plain(names[s]), "reach_m": round(float(r), 1)}
             for s, _, r in ring_rows])),
        "uncovered": uncovered,
        "unreachable": _unreachable(data, dist, ("demand", "charger")),
        "chargers": len(data.chargers),
    }


@dataclass
class Candidates:
    """The candidate sites of one suggestion request, resolved against the campus."""

    dist: WalkingDistances
    exclude: list[str]
    penalties: dict[str, float]
    points: list[tuple[float, float]]
    point_names: list[str | None]
    point_index: list[int]  # input index of each added point


def _site_key(value: Any, data: PlacementData, points: Mapping[int, str], what: str) -> str:
    """A site id from a parking-lot id (int or its text), "parking-lot:<id>" or "point:<index>"."""
    lots = data.lot_ids
    key: str | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        key = lots.get(value)
    elif isinstance(value, str):
        text = value.strip()
        if text.isascii() and text.isdigit():  # "²" is a digit to isdigit(), not to int()
            key = lots.get(int(text))
        elif text.startswith("point:") and text[6:].isascii() and text[6:].isdigit():
            key = points.get(int(text[6:]))
        elif text in lots.values():
            key = text
    if key is None:
        raise BadRequest("%(what)s: unknown candidate %(value)s; give a parking-lot id of this campus or "
                         "point:<index> of a candidate point", what=what, value=repr(value))
    return key


def resolve_candidates(session: Session, campus: Campus, data: PlacementData, candidates: Any, exclude: Any,
                       penalties: Any) -> Candidates:
    """Check `candidates`, `exclude` and `penalties` of a suggestion request and build its distances."""
    lots = data.lot_ids
    chosen_lots: set[str]
    points: list[tuple[float, float]] = []
    names: list[str | None] = []
    index: list[int] = []
    point_keys: dict[int, str] = {}
    if candidates is None:
        chosen_lots = set(lots.values())
    else:
        if not isinstance(candidates, list):
            raise BadRequest("candidates must be null (every parking lot) or a list of parking-lot ids and "
                             "[lon, lat] points")
        if len(candidates) > MAX_POINTS:
            raise BadRequest("at most %(max)s candidates, got %(count)s", max=MAX_POINTS, count=len(candidates))
        chosen_lots = set()
        for i, item in enumerate(candidates):
            if isinstance(item, int) and not isinstance(item, bool):
                if item not in lots:
                    raise BadRequest("candidates[%(index)s]: unknown parking-lot id %(id)s on this campus",
                                     index=i, id=item)
                chosen_lots.add(lots[item])
            elif isinstance(item, dict):
                unknown = sorted(set(item) - {"lon", "lat", "name"})
                if unknown:
                    raise BadRequest("unknown field(s): %(unknown)s; accepted: %(accepted)s",
                                     unknown=", ".join(f"candidates[{i}].{k}" for k in unknown),
                                     accepted="lat, lon, name")
                points.append(lonlat([item.get("lon"), item.get("lat")], f"candidates[{i}]"))
                names.append(_optional_name(item.get("name"), f"candidates[{i}].name"))
                index.append(i)
            else:
                points.append(lonlat(item, f"candidates[{i}]"))
                names.append(None)
                index.append(i)
        check_near_campus(session, campus, points, "candidates")
        point_keys = {i: f"point:{i}" for i in index}
    dist = with_sites(data, points, [point_keys[i] for i in index])
    excluded = [s for s in lots.values() if s not in chosen_lots]
    if exclude is not None:
        if not isinstance(exclude, list) or len(exclude) > MAX_POINTS:
            raise BadRequest("exclude must be a list of at most %(max)s parking-lot ids or point:<index> ids",
                             max=MAX_POINTS)
        excluded += [_site_key(v, data, point_keys, "exclude") for v in exclude]
    pen: dict[str, float] = {}
    if penalties is not None:
        if _is_number(penalties):
            value = _check_weight(penalties, "penalties")
            pen = {s: value for s in dist.candidate_ids}
        elif isinstance(penalties, dict):
            for k, v in penalties.items():
                pen[_site_key(k, data, point_keys, "penalties")] = _check_weight(v, f"penalties[{k}]")
        else:
            raise BadRequest('penalties must be an object {"<candidate id>": demand units} or one number')
    return Candidates(dist, sorted(set(excluded)), pen, points, names, index)


def suggest_answer(session: Session, campus: Campus, kind: str, walk_m: float, *, k: int | None,
                   target_share: float | None, candidates: Any = None, exclude: Any = None, penalties: Any = None,
                   method: str = "auto", planned: bool = False,
                   overrides: Mapping[str, float] | None = None) -> dict[str, Any]:
    """POST /api/chargers/suggest: K new sites covering most (MCLP), or the fewest reaching a target share."""
    if method not in METHODS:
        raise BadRequest("method must be one of %(methods)s", methods=", ".join(METHODS))
    data = placement_data(session, campus, kind, walk_m, planned=planned)
    w = demand_weights(data, overrides or {})
    cands = resolve_candidates(session, campus, data, candidates, exclude, penalties)
    dist = cands.dist
    options = {"walk_m": walk_m, "exclude": cands.exclude, "penalty": cands.penalties or None,
               "method": method}
    if target_share is not None:
        result = fewest_sites(dist, w, target_share, **options)  # type: ignore[arg-type]
    else:
        assert k is not None
        result = suggest_sites(dist, w, k, **options)  # type: ignore[arg-type]
    return _suggestion_dict(campus, kind, walk_m, data, cands, result)


def _suggestion_dict(campus: Campus, kind: str, walk_m: float, data: PlacementData, cands: Candidates,
                     result: Suggestion) -> dict[str, Any]:
    dist = cands.dist
    lots = data.lots.set_index("id")
    demand_ids = dist.demand_ids
    sites = []
    for chosen in result.chosen:
        sid = chosen.id
        if sid.startswith("point:"):
            i = int(sid[6:])
            j = cands.point_index.index(i)
            lon, lat = cands.points[j]
            site = {"candidate": i, "source": "point", "id": sid, "name": cands.point_names[j]}
        else:
            geom = lots.at[sid, "geometry"]
            lon, lat = geom.x, geom.y
            site = {"candidate": int(lots.at[sid, "lot"]), "source": "parking_lot", "id": sid,
                    "name": _plain(lots.at[sid, "name"])}
        sites.append({**site, "lon": round(lon, 7), "lat": round(lat, 7), "order": chosen.order,
                      "newly_covered": round(chosen.newly_covered_weight, 3),
                      "demand": [demand_ids[i] for i in chosen.newly_covered], "penalty": chosen.penalty})
    names = {**{s: _plain(n) for s, n in zip(data.lots["id"], data.lots["name"], strict=True)},
             **{f"point:{i}": n for i, n in zip(cands.point_index, cands.point_names, strict=True)}}
    out: dict[str, Any] = {
        "campus": campus.slug, "kind": kind, "walk_m": walk_m, "question": result.question, "sites": sites,
        "before": {**_totals(result.before), "sites": len(result.before.sites)},
        "after": {**_totals(result.after), "sites": len(result.after.sites)},
        "method": result.method, "optimal": bool(result.optimal),
        "gap": None if result.gap is None else round(float(result.gap), 6),
        "solve_ms": round(result.solve_s * 1000, 1), "note": result.note or None,
        "unreachable": [{"candidate": int(u.id.split(":", 1)[1]), "id": u.id, "name": names.get(u.id),
                         "reason": u.reason} for u in dist.unreachable if u.role == "candidate"],
    }
    if result.question == "fewest_sites":
        out["target_share"] = result.target_share
        out["target_reached"] = bool(result.target_reached)
    else:
        out["k"] = result.k
    return out


# ---------------------------------------------------------------- scenarios


@dataclass
class ScenarioInput:
    name: str
    kind: str
    walk_m: float
    sites: list[dict[str, Any]]
    excluded: list[Any]
    note: str | None
    weights: dict[str, float]
    planned: bool = False


def _scenario_site(item: Any, index: int) -> dict[str, Any]:
    what = f"sites[{index}]"
    if not isinstance(item, dict):
        raise BadRequest('%(field)s must be an object {"lon", "lat", "name", "ports", "power_kw", "candidate"}',
                         field=what)
    unknown = sorted(set(item) - SCENARIO_SITE_FIELDS)
    if unknown:
        raise BadRequest("unknown field(s): %(unknown)s; accepted: %(accepted)s",
                         unknown=", ".join(f"{what}.{k}" for k in unknown),
                         accepted=", ".join(sorted(SCENARIO_SITE_FIELDS)))
    lon, lat = lonlat([item.get("lon"), item.get("lat")], what)
    ports = item.get("ports")
    if ports is not None and (isinstance(ports, bool) or not isinstance(ports, int) or not 0 <= ports <= 10_000):
        raise BadRequest("%(field)s.ports must be a whole number from 0 to 10000, or null", field=what)
    power = item.get("power_kw")
    if power is not None and (not _is_number(power) or not 0 <= power <= 1000):
        raise BadRequest("%(field)s.power_kw must be a number of kW from 0 to 1000, or null", field=what)
    candidate = item.get("candidate")
    if candidate is not None and (isinstance(candidate, bool) or not isinstance(candidate, (int, str))
                                  or (isinstance(candidate, str) and len(candidate) > 64)):
        raise BadRequest("%(field)s.candidate must be a candidate id or index, or null", field=what)
    return {"lon": lon, "lat": lat, "name": _optional_name(item.get("name"), f"{what}.name"),
            "ports": ports, "power_kw": None if power is None else float(power), "candidate": candidate}


def parse_scenario(body: Mapping[str, Any]) -> ScenarioInput:
    """Check a scenario body (`SCENARIO_FIELDS`); the campus is resolved by the caller."""
    name = check_name(body.get("name"))
    sites = body.get("sites", [])
    if not isinstance(sites, list) or len(sites) > MAX_SCENARIO_SITES:
        raise BadRequest("sites must be a list of at most %(max)s new sites", max=MAX_SCENARIO_SITES)
    excluded = body.get("excluded", [])
    if (not isinstance(excluded, list) or len(excluded) > MAX_POINTS
            or not all((isinstance(v, (int, str)) and not isinstance(v, bool)) or isinstance(v, list)
                       for v in excluded)):
        raise BadRequest("excluded must be a list of at most %(max)s candidate ids or [lon, lat] points",
                         max=MAX_POINTS)
    for i, value in enumerate(excluded):
        if isinstance(value, list):
            lonlat(value, f"excluded[{i}]")
        elif isinstance(value, str) and len(value) > 64:
            raise BadRequest("excluded[%(index)s] is longer than 64 characters", index=i)
    note = body.get("note")
    if note is not None and not isinstance(note, str):
        raise BadRequest("note must be text or null")
    note = (note or "").strip() or None
    if note is not None and len(note) > NOTE_MAX:
        raise BadRequest("note is longer than %(max)s characters", max=NOTE_MAX)
    planned = body.get("planned", False)
    if not isinstance(planned, bool):
        raise BadRequest("planned must be true or false")
    return ScenarioInput(name, check_kind(body.get("kind")), check_walk_m(body.get("walk_m")),
                         [_scenario_site(s, i) for i, s in enumerate(sites)], list(excluded), note,
                         check_weights(body.get("weights")), planned)


@dataclass
class ScenarioResult:
    """A scenario measured on the campus as it is: existing chargers plus its new sites."""

    data: PlacementData
    dist: WalkingDistances
    weights: np.ndarray
    before: Coverage  # existing chargers alone
    after: Coverage  # existing chargers and the new sites
    new_sites: list[int]  # site indices of the new sites in dist
    newly_covered: list[float]  # per new site: demand it covers that no existing charger covers


def measure_scenario(session: Session, campus: Campus, kind: str, walk_m: float, sites: Sequence[Mapping[str, Any]],
                     overrides: Mapping[str, float], *, planned: bool = False) -> ScenarioResult:
    """Coverage by the fixed chargers (existing, and planned ones with `planned`) before and after the new sites."""
    data = placement_data(session, campus, kind, walk_m, planned=planned)
    w = demand_weights(data, overrides)
    points = [(float(s["lon"]), float(s["lat"])) for s in sites]
    dist = with_sites(data, points, [f"site:{i}" for i in range(len(points))])
    fixed = np.flatnonzero(dist.fixed).tolist()
    new = list(range(len(dist.site_ids) - len(points), len(dist.site_ids)))
    before = coverage(dist, w, fixed, walk_m)
    after = coverage(dist, w, [*fixed, *new], walk_m)
    within = dist.within(walk_m)
    gains = []
    for s in new:
        cols = within[[s]].indices
        gains.append(float(w[cols[~before.covered[cols]]].sum()))
    return ScenarioResult(data, dist, w, before, after, new, gains)


def _ports(values: Sequence[Any]) -> tuple[int, int]:
    known = [int(v) for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    return sum(known), len(values) - len(known)


def scenario_summary(result: ScenarioResult, sites: Sequence[Mapping[str, Any]], walk_m: float,
                     overrides: Mapping[str, float]) -> dict[str, Any]:
    """The numbers a comparison shows: sites, ports, covered share, covered and uncovered demand."""
    existing_ports, existing_unknown = _ports(list(result.data.chargers["ports"]))
    new_ports, new_unknown = _ports([s.get("ports") for s in sites])
    existing = len(result.data.chargers)
    return {
        "kind": result.data.kind, "walk_m": walk_m, "existing_sites": existing, "new_sites": len(sites),
        "sites": existing + len(sites), "existing_ports": existing_ports, "new_ports": new_ports,
        "ports": existing_ports + new_ports, "ports_unknown": existing_unknown + new_unknown,
        **_totals(result.after),
        "before": _totals(result.before),
        "demand_points": len(result.weights), "uncovered_points": int((~result.after.covered).sum()),
        "newly_covered": [round(g, 3) for g in result.newly_covered],
        "weights": dict(overrides), "planned": "planned" in result.data.statuses,
        "computed_at": utcnow().isoformat(),
    }


def _local(value: dt.datetime, campus: Campus) -> str:
    return value.astimezone(zoneinfo.ZoneInfo(campus.timezone)).isoformat()


def scenario_dict(scenario: ChargerScenario, campus: Campus) -> dict[str, Any]:
    return {"id": scenario.id, "campus": campus.slug, "name": scenario.name, "kind": scenario.kind,
            "walk_m": scenario.walk_m, "sites": scenario.sites, "excluded": scenario.excluded, "note": scenario.note,
            "summary": scenario.summary, "created_by": scenario.created_by,
            "created_at": _local(scenario.created_at, campus)}


def create_scenario(session: Session, campus_id: int, fields: ScenarioInput, summary: dict[str, Any], *,
                    actor: str) -> int:
    """Store a scenario (inside the caller's transaction) and audit it; return its id."""
    scenario = ChargerScenario(campus_id=campus_id, name=fields.name, kind=fields.kind, walk_m=fields.walk_m,
                               sites=fields.sites, excluded=fields.excluded, note=fields.note, summary=summary,
                               created_by=actor, created_at=utcnow())
    session.add(scenario)
    session.flush()
    session.add(AuditEntry(actor=actor, action="create", layer=LAYER, feature_id=scenario.id, campus_id=campus_id,
                           after={"name": fields.name, "kind": fields.kind, "walk_m": fields.walk_m,
                                  "sites": len(fields.sites), "covered_share": summary["covered_share"]},
                           reason="charger scenario saved"))
    return scenario.id


def get_scenario(session: Session, scenario_id: int, campus_ids: Collection[int] | None) -> ChargerScenario:
    """A live scenario the caller may see; deleted ones and other campuses' answer 404, as if absent."""
    scenario = session.get(ChargerScenario, scenario_id)
    if (scenario is None or scenario.deleted_at is not None
            or (campus_ids is not None and scenario.campus_id not in campus_ids)):
        raise NotFound("unknown charger scenario %(id)s", id=scenario_id)
    return scenario


def list_scenarios(session: Session, campus_ids: int | Collection[int] | None) -> list[ChargerScenario]:
    """Live scenarios of some campuses (all for None), oldest first."""
    stmt = select(ChargerScenario).where(ChargerScenario.deleted_at.is_(None)).order_by(ChargerScenario.id)
    if campus_ids is not None:
        ids = [campus_ids] if isinstance(campus_ids, int) else sorted(campus_ids)
        stmt = stmt.where(ChargerScenario.campus_id.in_(ids))
    return list(session.scalars(stmt))


def delete_scenario(session: Session, scenario_id: int, *, reason: str | None, actor: str,
                    campus_ids: Collection[int] | None) -> None:
    """Soft delete: the scenario leaves lists, reads and comparisons but stays stored."""
    scenario = get_scenario(session, scenario_id, campus_ids)
    now = utcnow()
    scenario.deleted_at = now
    session.add(AuditEntry(actor=actor, action="delete", layer=LAYER, feature_id=scenario_id,
                           campus_id=scenario.campus_id, before={"name": scenario.name, "deleted_at": None},
                           after={"name": scenario.name, "deleted_at": now.isoformat()}, reason=reason or None))


def saved_weights(scenario: ChargerScenario) -> dict[str, float]:
    """The demand weights the planner set when saving (kept in the summary)."""
    return dict((scenario.summary or {}).get("weights") or {})


def saved_planned(scenario: ChargerScenario) -> bool:
    """Whether the scenario counted planned chargers as built (kept in the summary)."""
    return bool((scenario.summary or {}).get("planned", False))


def compare_rows(scenarios: Sequence[ChargerScenario]) -> list[dict[str, Any]]:
    """Scenarios side by side, as saved: sites, ports, covered share, uncovered demand, new sites."""
    rows = []
    for s in scenarios:
        summary = s.summary or {}
        rows.append({"id": s.id, "name": s.name, "kind": s.kind, "walk_m": s.walk_m,
                     "sites": summary.get("sites"), "existing_sites": summary.get("existing_sites"),
                     "new_sites": s.sites, "new_site_count": len(s.sites), "ports": summary.get("ports"),
                     "covered_share": summary.get("covered_share"), "covered_demand": summary.get("covered_demand"),
                     "uncovered_demand": summary.get("uncovered_demand"),
                     "total_demand": summary.get("total_demand"), "note": s.note})
    return rows


def scenario_geojson(scenario: ChargerScenario, campus: Campus, result: ScenarioResult) -> bytes:
    """Existing chargers, the new sites and every demand point with its covered flag, measured now."""
    data, dist, after = result.data, result.dist, result.after
    ids: list[Any] = []
    geoms: list[Any] = []
    props: list[dict[str, Any]] = []
    for row in data.chargers.itertuples():
        ids.append(row.id)
        geoms.append(row.geometry)
        props.append({"role": "existing_charger", "charger": int(row.charger), "name": _plain(row.name),
                      "kind": row.kind, "status": row.status, "ports": _plain(row.ports),
                      "power_kw": _plain(row.power_kw), "operator": _plain(row.operator)})
    for i, (site, gain) in enumerate(zip(scenario.sites, result.newly_covered, strict=True)):
        ids.append(f"site:{i}")
        geoms.append(shapely.Point(site["lon"], site["lat"]))
        props.append({"role": "new_site", "index": i, "name": site.get("name"), "kind": scenario.kind,
                      "ports": site.get("ports"), "power_kw": site.get("power_kw"),
                      "candidate": site.get("candidate"), "newly_covered": round(gain, 3)})
    site_ids = dist.site_ids
    charger_of = dict(zip(data.chargers["id"], data.chargers["charger"], strict=True))
    for i, row in enumerate(data.demand.itertuples()):
        near = int(after.nearest_site[i])
        nearest = None if near < 0 else (int(charger_of[site_ids[near]]) if site_ids[near] in charger_of
                                         else site_ids[near])
        ids.append(row.id)
        geoms.append(row.geometry)
        props.append({"role": "demand", "name": _plain(row.name), "source": _source(row.source),
                      "weight": float(result.weights[i]), "covered": bool(after.covered[i]),
                      "walk_m_to_site": _m(after.nearest_m[i]) if after.covered[i] else None,
                      "covering_site": nearest})
    summary = scenario_summary(result, scenario.sites, scenario.walk_m, saved_weights(scenario))
    return feature_collection(ids, geoms, props, scenario=scenario_dict(scenario, campus), summary_now=summary)


CSV_COLUMNS = ("row", "name", "kind", "walk_m", "lon", "lat", "ports", "power_kw", "status", "operator",
               "candidate", "newly_covered", "sites", "covered_share", "covered_demand", "uncovered_demand",
               "total_demand", "note")


def scenario_csv(scenario: ChargerScenario, result: ScenarioResult) -> bytes:
    """A summary row, then one row per existing charger and per new site; UTF-8 with a BOM for Excel."""
    summary = scenario_summary(result, scenario.sites, scenario.walk_m, saved_weights(scenario))
    rows: list[dict[str, Any]] = [{
        "row": "summary", "name": scenario.name, "kind": scenario.kind, "walk_m": scenario.walk_m,
        "ports": summary["ports"], "sites": summary["sites"], "covered_share": summary["covered_share"],
        "covered_demand": summary["covered_demand"], "uncovered_demand": summary["uncovered_demand"],
        "total_demand": summary["total_demand"], "note": scenario.note,
    }]
    for row in result.data.chargers.itertuples():
        rows.append({"row": "existing", "name": _plain(row.name), "kind": row.kind, "lon": round(row.geometry.x, 7),
                     "lat": round(row.geometry.y, 7), "ports": _plain(row.ports), "power_kw": _plain(row.power_kw),
                     "status": row.status, "operator": _plain(row.operator)})
    for site, gain in zip(scenario.sites, result.newly_covered, strict=True):
        rows.append({"row": "new", "name": site.get("name"), "kind": scenario.kind, "lon": site["lon"],
                     "lat": site["lat"], "ports": site.get("ports"), "power_kw": site.get("power_kw"),
                     "status": "new", "candidate": site.get("candidate"), "newly_covered": round(gain, 3)})
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _cell(v) for k, v in row.items() if v is not None})
    return out.getvalue().encode("utf-8-sig")


# ---------------------------------------------------------------- imports (AFDC-style inventories)

# Normalised header (lower case, "_" as space, spaces collapsed) -> our field.
FIELD_ALIASES = {
    "name": "name", "station name": "name", "名称": "name", "站点名称": "name", "充电站名称": "name",
    "kind": "kind", "类型": "kind", "充电类型": "kind",
    "ports": "ports", "端口数": "ports", "充电口数": "ports", "枪数": "ports", "插座数": "ports",
    "power kw": "power_kw", "功率": "power_kw", "功率kw": "power_kw", "功率(kw)": "power_kw",
    "status": "status", "状态": "status",
    "operator": "operator", "ev network": "operator", "运营商": "operator", "运营单位": "operator",
}
AFDC_FIELDS = ("ev level1 evse num", "ev level2 evse num", "ev dc fast count", "status code", "open date")
KIND_WORDS = {"汽车": "car", "电动汽车": "car", "小汽车": "car", "电动自行车": "ebike", "电瓶车": "ebike",
              "电单车": "ebike", "e-bike": "ebike"}
STATUS_WORDS = {"现有": "existing", "已建": "existing", "已建成": "existing", "在用": "existing",
                "运营中": "existing", "规划": "planned", "规划中": "planned", "拟建": "planned", "计划": "planned",
                "在建": "planned"}
AFDC_STATUS = {"E": "existing", "T": "existing", "P": "planned"}  # available, temporarily unavailable, planned
UNKNOWN_OPERATORS = {"unknown", "non-networked", ""}
_DATE_FORMATS = ("%m/%d/%y", "%m/%d/%Y", "%Y-%m-%d", "%Y/%m/%d")


def _key(name: str) -> str:
    return re.sub(r"\s+", " ", str(name).replace("_", " ")).strip().lower()


def _count(value: Any) -> int:
    if value is None or (isinstance(value, str) and not value.strip()):
        return 0
    if isinstance(value, float) and math.isnan(value):
        return 0
    number = float(value)
    if not number.is_integer() or number < 0:
        raise FieldError("not a count: %(value)s", value=repr(value))
    return int(number)


def _date(value: Any) -> dt.date | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    text = str(value).strip()
    for fmt in _DATE_FORMATS:
        try:
            return dt.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    try:
        return dt.datetime.fromisoformat(text).date()
    except ValueError:
        raise FieldError("not a date: %(value)s (M/D/YY as AFDC writes it, or YYYY-MM-DD)", value=repr(value)) from None


def map_charger_row(props: Mapping[str, Any], *, kind: str,
                    today: dt.date) -> tuple[dict[str, Any], list[tuple[str, FieldError]], set[str]]:
    """One inventory row as our chargers fields, the problems found, and the columns left unused.

    AFDC: Station Name -> name; EV Level1 EVSE Num + EV Level2 EVSE Num + EV DC Fast Count -> ports;
    a DC fast count -> power_kw 50, else Level 2 -> 7.2, else Level 1 -> 1.9; EV Network -> operator
    ("Unknown" and "Non-Networked" -> none); Status Code P, or an Open Date after today -> planned,
    E and T (temporarily unavailable) -> existing. Our own field names (and Chinese headers) win.
    """
    by_key: dict[str, Any] = {}
    original: dict[str, str] = {}
    for name, value in props.items():
        by_key.setdefault(_key(name), value)
        original.setdefault(_key(name), str(name))
    out: dict[str, Any] = {}
    problems: list[tuple[str, FieldError]] = []
    used: set[str] = {"id"}
    for key, value in by_key.items():
        target = FIELD_ALIASES.get(key)
        if target is None or value is None or (isinstance(value, str) and not value.strip()):
            continue
        if target in out and key != target.replace("_", " "):
            continue  # our own field name wins over an alias
        out[target] = value
        used.add(key)
    if isinstance(out.get("operator"), str) and out["operator"].strip().lower() in UNKNOWN_OPERATORS:
        out["operator"] = None
    counts: dict[str, int] = {}
    for key in AFDC_FIELDS[:3]:
        if key in by_key:
            used.add(key)
            try:
                counts[key] = _count(by_key[key])
            except (FieldError, ValueError) as exc:
                problems.append((original[key], exc if isinstance(exc, FieldError) else
                                 FieldError("not a count: %(value)s", value=repr(by_key[key]))))
    l1, l2, dc = (counts.get(k, 0) for k in AFDC_FIELDS[:3])
    if "ports" not in out and counts:
        out["ports"] = l1 + l2 + dc
    if "power_kw" not in out and counts:
        out["power_kw"] = DC_FAST_KW if dc else LEVEL2_KW if l2 else LEVEL1_KW if l1 else None
    if "status" in out and isinstance(out["status"], str):
        out["status"] = STATUS_WORDS.get(out["status"].strip(), out["status"].strip())
    if "status" not in out:
        code = by_key.get("status code")
        if code is not None:
            used.add("status code")
        opened = None
        if "open date" in by_key:
            used.add("open date")
            try:
                opened = _date(by_key["open date"])
            except FieldError as exc:
                problems.append((original["open date"], exc))
        if isinstance(code, str) and code.strip().upper() in AFDC_STATUS:
            out["status"] = AFDC_STATUS[code.strip().upper()]
        if opened is not None and opened > today:
            out["status"] = "planned"
    if "kind" in out and isinstance(out["kind"], str):
        out["kind"] = KIND_WORDS.get(out["kind"].strip().lower(), KIND_WORDS.get(out["kind"].strip(),
                                                                                out["kind"].strip()))
    else:
        out["kind"] = kind
    return out, problems, {original[k] for k in by_key if k not in used}


def read_charger_file(data: bytes, fmt: str, *, kind: str, today: dt.date,
                      encoding: str | None = None) -> tuple[list[RawFeature], list[Problem], list[str]]:
    """Raw charger features of a GeoJSON or CSV inventory, mapped; (features, problems, warnings).

    Raises `patrolmap.geo.io.ReadError` when the file cannot be read at all.
    """
    if fmt == "geojson":
        raws = geo_io.features_from_geojson(data)
    elif fmt == "csv":
        raws = geo_io.features_from_csv(data, encoding=encoding)
    else:
        msg = f"format must be geojson or csv, not {fmt!r}"
        raise geo_io.ReadError(msg)
    out: list[RawFeature] = []
    problems: list[Problem] = []
    unused: set[str] = set()
    for raw in raws:
        fid = raw.id
        if fid is None:
            key = next((k for k in raw.properties if _key(k) == "id"), None)
            fid = None if key is None or raw.properties[key] in (None, "") else str(raw.properties[key])
        props, row_problems, left = map_charger_row(raw.properties, kind=kind, today=today)
        unused |= left
        problems += [Problem.of("chargers", raw.index, fid, name, error) for name, error in row_problems]
        out.append(dataclasses.replace(raw, id=fid, properties=props))
    warnings = [f"chargers: columns not imported: {', '.join(sorted(unused))}"] if unused else []
    return out, problems, warnings


def import_chargers(session: Session, campus: Campus, data: bytes, fmt: str, *, kind: str = DEFAULT_KIND,
                    actor: str, source: str, encoding: str | None = None,
                    today: dt.date | None = None) -> ImportSummary:
    """Import a charger inventory into a campus: every row or none, audited (layer "chargers").

    Raises ReadError (unreadable file) or ValidationError (every row's problems) before writing.
    Re-importing updates rows by id (AFDC's ID column, or our id) and adds nothing twice.
    """
    if today is None:
        today = dt.datetime.now(zoneinfo.ZoneInfo(campus.timezone)).date()
    raws, problems, warnings = read_charger_file(data, fmt, kind=kind, today=today, encoding=encoding)
    if not raws:
        msg = "the file holds no charger"
        raise geo_io.ReadError(msg)
    try:
        checked = validate_layer("chargers", raws, timezone=campus.timezone, reference=campus_extent(session, campus))
    except ValidationError as exc:
        raise ValidationError(problems + exc.problems) from None
    if problems:
        raise ValidationError(problems)
    checked.warnings = [w for w in checked.warnings if "ignored unknown properties" not in w] + warnings
    campus_id = campus.id
    with write_transaction(session):
        target = get_campus(session, campus_id)
        summary = store_layers(session, target, {"chargers": checked}, actor=actor, source=source)
    return summary
