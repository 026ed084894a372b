"""EV charger placement review (issue 8): coverage, suggested sites, saved scenarios, exports and imports.

Thin adapters over `patrolmap.chargers`: parse and check the request, answer JSON (or a file).
Every view is per kind (``car`` by default, ``ebike``). Reads are open to every role, writes
(saving and deleting scenarios, imports) and suggestions to planners and admins
(`patrolmap.access`); other campuses' data answers 404.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, g, jsonify, request, url_for

from patrolmap import chargers
from patrolmap.database import write_transaction
from patrolmap.errors import BadRequest, NotFound
from patrolmap.extensions import db
from patrolmap.geo.io import ReadError
from patrolmap.geo.validate import ValidationError
from patrolmap.importing import as_http_error
from patrolmap.models import Campus, ChargerScenario
from patrolmap.store import list_campuses
from patrolmap.transitions import check_reason
from patrolmap.web.api import _campus_for_write, _campus_param, _json_body, actor
from patrolmap.web.converters import MAX_ID
from patrolmap.web.unreachable import reason_text

bp = Blueprint("chargers_api", __name__, url_prefix="/api/chargers")

SUGGEST_FIELDS = {"campus", "kind", "k", "walk_m", "candidates", "exclude", "penalties", "target_share", "method",
                  "planned", "weights"}
DELETE_FIELDS = {"reason"}


def _flag(name: str) -> bool:
    text = request.args.get(name, "").strip().lower()
    if text in ("", "false", "0", "no"):
        return False
    if text in ("true", "1", "yes"):
        return True
    raise BadRequest("%(name)s must be true or false, got %(text)s", name=name, text=repr(text))


def _campus_arg() -> Campus:
    """?campus=, or the caller's only campus."""
    key = request.args.get("campus")
    return _campus_for_write({} if not key else {"campus": key})


def _campus_of(scenario: ChargerScenario) -> Campus:
    campus = db.session.get(Campus, scenario.campus_id)
    assert campus is not None  # a foreign key
    return campus


def _download(body: bytes, mimetype: str, filename: str) -> Response:
    return Response(body, mimetype=mimetype, headers={"Content-Disposition": f'attachment; filename="{filename}"'})


# ---------------------------------------------------------------- coverage and suggestions


@bp.get("/coverage")
def coverage() -> Response:
    """Demand covered within walk_m of the chargers of a kind, isochrones, and the uncovered list."""
    campus = _campus_arg()
    kind = chargers.check_kind(request.args.get("kind"))
    walk_m = chargers.check_walk_m(request.args.get("walk_m"))
    answer = chargers.coverage_answer(db.session, campus, kind, walk_m, planned=_flag("planned"),
                                      overrides=chargers.parse_weights_text(request.args.get("weights")))
    return jsonify(_worded(answer))


def _k(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= chargers.MAX_K:
        raise BadRequest("k must be a whole number from 1 to %(max)s", max=chargers.MAX_K)
    return value


def _target(value: Any) -> float | None:
    if value is None:
        return None
    if not chargers._is_number(value) or not 0 <= value <= 1:
        raise BadRequest("target_share must be a number from 0 to 1, or null")
    return float(value)


@bp.post("/suggest")
def suggest() -> Response:
    """K new sites covering the most uncovered demand (MCLP), or the fewest reaching target_share."""
    body = _json_body(SUGGEST_FIELDS)
    campus = _campus_for_write(body)
    kind = chargers.check_kind(body.get("kind"))
    walk_m = chargers.check_walk_m(body.get("walk_m"))
    target = _target(body.get("target_share"))
    k = None if target is not None else _k(body.get("k", 3))
    planned = body.get("planned", False)
    if not isinstance(planned, bool):
        raise BadRequest("planned must be true or false")
    method = body.get("method", "auto")
    if not isinstance(method, str):
        raise BadRequest("method must be one of %(methods)s", methods="auto, exact, heuristic, greedy")
    answer = chargers.suggest_answer(
        db.session, campus, kind, walk_m, k=k, target_share=target, candidates=body.get("candidates"),
        exclude=body.get("exclude"), penalties=body.get("penalties"), method=method, planned=planned,
        overrides=chargers.check_weights(body.get("weights")))
    return jsonify(_worded(answer))


def _worded(answer: dict[str, Any]) -> dict[str, Any]:
    """The answer with its unreachable points' reasons in the reader's language (a copy: answers are cached)."""
    return {**answer, "unreachable": [{**u, "reason": reason_text(u.get("reason"))}
                                      for u in answer.get("unreachable", [])]}


# ---------------------------------------------------------------- scenarios


def _scenario(scenario_id: int) -> ChargerScenario:
    if not 0 <= scenario_id <= MAX_ID:  # ?ids= can name any number; SQLite cannot compare one past 64 bits
        raise NotFound("unknown charger scenario %(id)s", id=scenario_id)
    return chargers.get_scenario(db.session, scenario_id, g.scope.campus_ids)


@bp.get("/scenarios")
def list_scenarios() -> Response:
    """Live scenarios of the caller's campuses (or ?campus=), oldest first, with their saved summaries."""
    campuses = {c.id: c for c in list_campuses(db.session, g.scope.campus_ids)}
    rows = chargers.list_scenarios(db.session, _campus_param())
    return jsonify({"scenarios": [chargers.scenario_dict(s, campuses[s.campus_id]) for s in rows]})


@bp.post("/scenarios")
def create_scenario() -> tuple[Response, int, dict[str, str]]:
    """Save a scenario; the server measures its coverage (existing chargers + its new sites) and keeps it."""
    body = _json_body(chargers.SCENARIO_FIELDS)
    campus = _campus_for_write(body)
    fields = chargers.parse_scenario(body)
    chargers.check_near_campus(db.session, campus, [(s["lon"], s["lat"]) for s in fields.sites], "sites")
    result = chargers.measure_scenario(db.session, campus, fields.kind, fields.walk_m, fields.sites, fields.weights,
                                       planned=fields.planned)
    summary = chargers.scenario_summary(result, fields.sites, fields.walk_m, fields.weights)
    campus_id, who = campus.id, actor()
    with write_transaction(db.session):
        new_id = chargers.create_scenario(db.session, campus_id, fields, summary, actor=who)
    scenario = _scenario(new_id)
    location = url_for("chargers_api.read_scenario", scenario_id=new_id)
    return jsonify(chargers.scenario_dict(scenario, _campus_of(scenario))), 201, {"Location": location}


@bp.get("/scenarios/<int:scenario_id>")
def read_scenario(scenario_id: int) -> Response:
    scenario = _scenario(scenario_id)
    return jsonify(chargers.scenario_dict(scenario, _campus_of(scenario)))


@bp.delete("/scenarios/<int:scenario_id>")
def delete_scenario(scenario_id: int) -> Response:
    """Soft delete ({"reason"} or ?reason=, optional): 204; the row stays stored, audited."""
    _scenario(scenario_id)
    body: dict[str, Any] = _json_body(DELETE_FIELDS) if request.get_data() else {}
    reason = check_reason(body.get("reason", request.args.get("reason")), required=False)
    who = actor()
    with write_transaction(db.session):
        chargers.delete_scenario(db.session, scenario_id, reason=reason, actor=who, campus_ids=g.scope.campus_ids)
    return Response(status=204)


@bp.get("/scenarios/compare")
def compare_scenarios() -> Response:
    """Saved scenarios side by side (?ids=1,2,...), in the order asked."""
    text = request.args.get("ids", "")
    try:
        ids = list(dict.fromkeys(int(part) for part in text.split(",") if part.strip()))
    except ValueError:
        raise BadRequest("ids must be whole numbers separated by commas, got %(text)s", text=repr(text)) from None
    if not 1 <= len(ids) <= chargers.MAX_COMPARE:
        raise BadRequest("ids must name from 1 to %(max)s scenarios", max=chargers.MAX_COMPARE)
    return jsonify({"scenarios": chargers.compare_rows([_scenario(i) for i in ids])})


def _measured(scenario: ChargerScenario) -> chargers.ScenarioResult:
    return chargers.measure_scenario(db.session, _campus_of(scenario), scenario.kind, scenario.walk_m,
                                     scenario.sites, chargers.saved_weights(scenario),
                                     planned=chargers.saved_planned(scenario))


@bp.get("/scenarios/<int:scenario_id>.geojson")
def scenario_geojson(scenario_id: int) -> Response:
    """Existing chargers, the new sites and every demand point with its covered flag, measured now."""
    scenario = _scenario(scenario_id)
    body = chargers.scenario_geojson(scenario, _campus_of(scenario), _measured(scenario))
    return _download(body, "application/geo+json", f"charger-scenario-{scenario_id}.geojson")


@bp.get("/scenarios/<int:scenario_id>.csv")
def scenario_csv(scenario_id: int) -> Response:
    """A summary row and one row per site; UTF-8 with a BOM, cells that look like formulas defused."""
    scenario = _scenario(scenario_id)
    body = chargers.scenario_csv(scenario, _measured(scenario))
    return _download(body, "text/csv; charset=utf-8", f"charger-scenario-{scenario_id}.csv")


# ---------------------------------------------------------------- imports


def _upload() -> tuple[bytes, str | None]:
    """The file sent: a multipart field "file", or the raw body."""
    upload = request.files.get("file")
    if upload is not None:
        return upload.read(), upload.filename
    return request.get_data(), None


@bp.post("/import")
def import_chargers() -> Response:
    """Import a charger inventory (GeoJSON or CSV, AFDC-style fields accepted): every row or none."""
    campus = _campus_arg()
    data, filename = _upload()
    fmt = (request.args.get("format") or "").strip().lower()
    if not fmt:
        name = (filename or "").lower()
        fmt = "csv" if name.endswith(".csv") else "geojson" if name.endswith((".geojson", ".json")) else (
            "geojson" if data.lstrip()[:1] == b"{" else "csv")
    if fmt not in ("geojson", "csv"):
        raise BadRequest("format must be geojson or csv, got %(value)s", value=repr(fmt))
    if not data.strip():
        raise BadRequest("send the file as the request body or as a multipart field named file")
    kind = chargers.check_kind(request.args.get("kind"))
    try:
        summary = chargers.import_chargers(db.session, campus, data, fmt, kind=kind, actor=actor(),
                                           source=filename or f"upload.{fmt}")
    except ReadError as exc:
        raise BadRequest("nothing was imported: the file cannot be read: %(reason)s", reason=str(exc)) from None
    except ValidationError as exc:
        raise as_http_error(exc) from None
    counts = summary.layers.get("chargers")
    return jsonify({"campus": campus.slug, "inserted": counts.inserted if counts else 0,
                    "updated": counts.updated if counts else 0, "unchanged": counts.unchanged if counts else 0,
                    "warnings": summary.warnings})
