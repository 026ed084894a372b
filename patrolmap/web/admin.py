"""The admins' audit log viewer: a page to read it and an endpoint to export it (JSON or CSV)."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, g, jsonify, render_template, request
from flask_babel import gettext

from patrolmap.audit import AuditFilter, audit_csv, campus_slugs, count_audit, entry_dict, query_audit, reason_label
from patrolmap.errors import BadRequest
from patrolmap.extensions import db
from patrolmap.store import MAX_ID
from patrolmap.web.params import parse_int, parse_time
from patrolmap.wording import AUDIT_ACTIONS, AUDIT_SUBJECTS, LAYER_TITLES

bp = Blueprint("admin", __name__)
PAGE_SIZE = 100
EXPORT_MAX = 100_000


def _filter() -> AuditFilter:
    args = request.args
    feature = args.get("feature_id")
    return AuditFilter(
        campus_ids=g.scope.campus_ids, deployment_wide=g.scope.deployment_wide,
        layer=args.get("layer") or None, actor=args.get("actor") or None, action=args.get("action") or None,
        feature_id=parse_int("feature_id", feature, default=0, minimum=1, maximum=MAX_ID) if feature else None,
        since=parse_time("since", args.get("since")), until=parse_time("until", args.get("until")),
    )


@bp.get("/admin/audit")
def audit_page() -> str:
    f = _filter()
    offset = parse_int("offset", request.args.get("offset"), default=0, minimum=0, maximum=10**9)
    slugs = campus_slugs(db.session)
    entries = [entry_dict(e, slugs) for e in query_audit(db.session, f, limit=PAGE_SIZE, offset=offset)]
    return render_template("audit.html", entries=entries, total=count_audit(db.session, f), offset=offset,
                           page_size=PAGE_SIZE, args=request.args,
                           layer_titles={k: gettext(v) for k, v in {**LAYER_TITLES, **AUDIT_SUBJECTS}.items()},
                           actions={k: gettext(v) for k, v in AUDIT_ACTIONS.items()},
                           reason_label=lambda reason: reason_label(reason, gettext))


@bp.get("/api/audit")
def audit_entries() -> Response:
    """Entries newest first; format=csv exports every matching entry (up to EXPORT_MAX) as a file."""
    f = _filter()
    slugs = campus_slugs(db.session)
    if request.args.get("format", "json") == "csv":
        total = count_audit(db.session, f)
        if total > EXPORT_MAX:
            raise BadRequest("%(total)s entries match; narrow the export (since/until) to %(max)s or fewer",
                             total=total, max=EXPORT_MAX)
        rows = [entry_dict(e, slugs) for e in query_audit(db.session, f, limit=None)]
        return Response(audit_csv(rows), mimetype="text/csv",
                        headers={"Content-Disposition": "attachment; filename=patrolmap-audit.csv"})
    if request.args.get("format", "json") != "json":
        raise BadRequest("format must be json or csv")
    limit = parse_int("limit", request.args.get("limit"), default=PAGE_SIZE, minimum=1,
                      maximum=current_app.config["API_MAX_LIMIT"])
    offset = parse_int("offset", request.args.get("offset"), default=0, minimum=0, maximum=10**9)
    entries = [entry_dict(e, slugs) for e in query_audit(db.session, f, limit=limit, offset=offset)]
    return jsonify({"numberMatched": count_audit(db.session, f), "numberReturned": len(entries),
                    "entries": entries})
