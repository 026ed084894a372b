"""The /import page and its API: upload a file, read the dry run's preview, then confirm or discard it.

Admins import any layer (a GeoJSON layer, a GeoPackage, an OSM extract, a zipped campus folder) and may
start a new campus; traffic staff import recorded violations only (CSV or GeoJSON). The work is done
by patrolmap.staging, over the same import code as the CLI.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, Response, current_app, g, jsonify, render_template, request, url_for
from flask_babel import gettext
from werkzeug.exceptions import RequestEntityTooLarge

from patrolmap import staging
from patrolmap.errors import BadRequest, Conflict, Forbidden, NotFound, PayloadTooLarge, ValidationFailed
from patrolmap.extensions import db
from patrolmap.geo.io import LAYER_IDS
from patrolmap.geo.validate import ValidationError
from patrolmap.models import StagedImport
from patrolmap.store import find_campus, list_campuses
from patrolmap.web.api import actor
from patrolmap.web.inputs import nul_in, nul_refused
from patrolmap.wording import FIELD_LABELS, LAYER_TITLES, N_

bp = Blueprint("import_api", __name__)

FORM_FIELDS = {"campus", "kind", "layer", "encoding", "name", "csrf_token"}
# The multipart envelope and the form's other fields, allowed on top of the file itself.
FORM_OVERHEAD = 64 * 1024
SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")

# The page's own words, keyed by their English; import.js asks for them by key.
IMPORT_TEXTS = (
    N_("Choose a file first."), N_("The file is larger than the import limit of %(mb)s MB."),
    N_("Uploading… %(done)s of %(total)s MB"), N_("Checking the file…"), N_("The upload failed: %(reason)s"),
    N_("Layer"), N_("New"), N_("Changed"), N_("Unchanged"), N_("Total"), N_("Feature"), N_("Field"),
    N_("Problem"), N_("whole file"), N_("Nothing can be written: fix these problems and upload again."),
    N_("%(count)s problems; the first %(shown)s are listed."), N_("Ready: confirm to write these changes."),
    N_("Nothing would change."), N_("Writing…"), N_("Written in %(seconds)s s."), N_("Discarded."),
    N_("%(count)s warnings"), N_("%(count)s features skipped at the extract's edge"),
    N_("name the new campus (letters a-z, digits and -)"),
)


def _may_import_geodata() -> bool:
    return "admin" in g.user.role_set


def _may_create_campus() -> bool:
    """Admins not limited to some campuses may start a new one (in their own university, if they have one)."""
    return _may_import_geodata() and not g.user.campuses


def _max_bytes() -> int:
    return int(float(current_app.config["MAX_IMPORT_MB"]) * 1024 * 1024)


def _too_large() -> PayloadTooLarge:
    return PayloadTooLarge("the file is larger than the import limit of %(mb)s MB",
                           mb=f"{current_app.config['MAX_IMPORT_MB']:g}")


def _texts() -> dict[str, str]:
    return {text: gettext(text) for text in IMPORT_TEXTS}


@bp.get("/import")
def import_page() -> str:
    from patrolmap.web.pages import visible_pages

    kinds = list(staging.KINDS) if _may_import_geodata() else ["violations"]
    config = {
        "uploadUrl": url_for("import_api.stage_import"), "importUrl": "/api/imports/{token}",
        "commitUrl": "/api/imports/{token}/commit", "maxBytes": _max_bytes(),
        "maxMb": f"{current_app.config['MAX_IMPORT_MB']:g}", "texts": _texts(),
        "layerTitles": {k: gettext(v) for k, v in LAYER_TITLES.items()},
        "fieldLabels": {k: gettext(v) for k, v in FIELD_LABELS.items()},
    }
    return render_template(
        "import.html", pages=visible_pages(), import_campuses=list_campuses(db.session, g.scope.campus_ids),
        kinds=kinds, layers=[(k, gettext(v)) for k, v in LAYER_TITLES.items()],
        can_create_campus=_may_create_campus(), encodings=staging.ENCODINGS, max_mb=config["maxMb"],
        page_config=config)


def _form_value(form: Any, name: str, allowed: tuple[str, ...] | None = None) -> str | None:
    value = (form.get(name) or "").strip() or None
    if value is not None and nul_in(value) is not None:
        raise nul_refused(name)
    if value is not None and allowed is not None and value not in allowed:
        raise BadRequest("%(name)s must be one of %(allowed)s, got %(value)s", name=name,
                         allowed=", ".join(allowed), value=repr(value))
    return value


def _target(form: Any, kind: str) -> tuple[int | None, dict[str, Any]]:
    """The campus a staged file goes to (an id, or None for a new one) and the options that say so."""
    key = _form_value(form, "campus")
    if key is None:
        campuses = list_campuses(db.session, g.scope.campus_ids)
        if len(campuses) != 1:
            raise BadRequest("campus is required when there are several campuses")
        return campuses[0].id, {"campus": campuses[0].slug}
    campus = find_campus(db.session, key)
    if campus is not None:
        if not g.scope.sees_campus(campus.id):
            raise NotFound("unknown campus %(campus)s", campus=repr(key))
        return campus.id, {"campus": campus.slug}
    if kind != "geodata" or not _may_create_campus():
        raise NotFound("unknown campus %(campus)s", campus=repr(key))
    if not SLUG.match(key):
        raise BadRequest("a new campus needs a name of letters a-z, digits and -, got %(campus)s", campus=repr(key))
    return None, {"campus": key, "new_campus": True, "name": _form_value(form, "name") or key,
                  "university": g.user.university, "timezone": current_app.config["DEFAULT_TIMEZONE"]}


@bp.post("/api/imports")
def stage_import() -> tuple[Response, int]:
    """Stage an upload (multipart/form-data: file, campus, kind, layer, encoding) and answer its preview."""
    limit = _max_bytes()
    request.max_content_length = limit + FORM_OVERHEAD
    if request.content_length is not None and request.content_length > limit + FORM_OVERHEAD:
        raise _too_large()
    try:
        upload, form = request.files.get("file"), request.form
    except RequestEntityTooLarge:
        raise _too_large() from None
    if upload is None or not upload.filename:
        raise BadRequest("send the file as multipart/form-data in the field 'file'")
    unknown = sorted(str(name) for name in set(form) - FORM_FIELDS)  # a part may come without a name
    if unknown:
        raise BadRequest("unknown field(s): %(unknown)s; accepted: %(accepted)s",
                         unknown=", ".join(unknown), accepted=", ".join(sorted(FORM_FIELDS - {"csrf_token"})))
    data = upload.read(limit + 1)
    if len(data) > limit:
        raise _too_large()
    if not data:
        raise BadRequest("the file is empty")
    filename = upload.filename.replace("\\", "/").rsplit("/", 1)[-1][:255]
    kind = _form_value(form, "kind", staging.KINDS) or staging.default_kind(filename)
    if kind != "violations" and not _may_import_geodata():
        raise Forbidden("your role may import recorded violations only")
    campus_id, options = _target(form, kind)
    options["layer"] = _form_value(form, "layer", LAYER_IDS)
    options["encoding"] = _form_value(form, "encoding", staging.ENCODINGS)
    view = staging.stage(db.session, data, filename=filename, kind=kind, campus_id=campus_id, options=options,
                         created_by=actor(), max_bytes=limit)
    return jsonify(view), 201


def _visible(token: str, *, with_data: bool = False) -> StagedImport:
    """A staged file of the caller's campuses (a new campus's only to its uploader); others answer 404."""
    row = staging.get_staged(db.session, token, with_data=with_data)
    seen = (row.created_by == actor() or g.scope.deployment_wide) if row.campus_id is None \
        else g.scope.sees_campus(row.campus_id)
    if not seen:
        raise NotFound("no staged import %(token)s (discarded, or older than a day)", token=token)
    if row.kind != "violations" and not _may_import_geodata():
        raise Forbidden("your role may import recorded violations only")
    return row


@bp.get("/api/imports/<token>")
def read_import(token: str) -> Response:
    row = _visible(token)
    return jsonify(staging.staged_dict(row, staging.campus_slug(db.session, row)))


@bp.post("/api/imports/<token>/commit")
def commit_import(token: str) -> Response:
    """Write the staged file (validated again); 409 if written already, 422 with its problems if it no longer fits."""
    row = _visible(token)
    if row.campus_id is None:
        taken = find_campus(db.session, row.options.get("campus", ""))
        if taken is not None and not g.scope.sees_campus(taken.id):
            raise Conflict("the campus %(campus)s was created meanwhile by someone else; upload again",
                           campus=taken.slug)
    try:
        result = staging.commit(db.session, token, actor=actor(), max_bytes=_max_bytes())
    except ValidationError as exc:
        problems = [staging.shown_problem(staging.problem_record(p)) for p in exc.problems[:staging.SHOWN]]
        raise ValidationFailed("%(count)s problem(s): nothing was written", count=len(exc.problems),
                               details=problems) from None
    return jsonify({"token": token, **result})


@bp.delete("/api/imports/<token>")
def discard_import(token: str) -> Response:
    _visible(token)
    staging.discard(db.session, token)
    return jsonify({"token": token, "discarded": True})
