"""A violation as evidence: read it, move its status, void it, and attach and show its photos.

Status moves follow patrolmap.transitions; photos patrolmap.evidence and patrolmap.photos.
A violation outside the caller's campuses answers 404, as if it did not exist.
"""

from __future__ import annotations

import base64
import logging
from typing import Any

from flask import Blueprint, Response, current_app, g, jsonify, request, url_for
from sqlalchemy import func, select

from patrolmap.errors import (
    BadRequest,
    NotFound,
    PatrolmapError,
    PayloadTooLarge,
    UnsupportedMediaType,
    ValidationFailed,
)
from patrolmap.evidence import AlteredEvidence, PhotoError, PhotoStore, inspect_photo
from patrolmap.extensions import db
from patrolmap.geojson import feature_json
from patrolmap.models import Violation, ViolationPhoto
from patrolmap.photos import add_photo, evidence_store, list_photos, photo_dict, photo_to_serve, visible_violation
from patrolmap.store import query_features
from patrolmap.transitions import TRANSITIONS, transition_violation
from patrolmap.web.api import _json_body, _LocalTimes, _properties, actor
from patrolmap.wording import N_

bp = Blueprint("evidence", __name__, url_prefix="/api")
log = logging.getLogger(__name__)

TRANSITION_FIELDS = {"to", "reason", "version"}
DELETE_FIELDS = {"reason", "version"}
# What a photo response may do in a browser: show itself, nothing else.
PHOTO_CSP = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox"


def _campus_ids() -> Any:
    return g.scope.campus_ids


def violation_feature(violation_id: int) -> bytes:
    """The violation as a GeoJSON Feature, void or not, with its version and photo count."""
    rows = query_features(db.session, "violations", ids=[violation_id], include_deleted=True,
                          campus_id=_campus_ids())
    if not rows:
        raise NotFound("unknown violation %(id)s", id=violation_id)
    row = rows[0]
    extra = db.session.execute(select(Violation.version, Violation.deleted_at, Violation.deleted_reason,
                                      Violation.updated_at).where(Violation.id == violation_id)).one()
    photos = db.session.scalar(select(func.count()).select_from(ViolationPhoto).where(
        ViolationPhoto.violation_id == violation_id, ViolationPhoto.purged_at.is_(None)))
    local = _LocalTimes()
    props = _properties(row, local)
    props.update(
        version=extra.version, updated_at=local(extra.updated_at, row["campus_id"]),
        deleted_at=local(extra.deleted_at, row["campus_id"]) if extra.deleted_at else None,
        deleted_reason=extra.deleted_reason, photos=int(photos or 0),
        next_statuses=list(TRANSITIONS.get(row["status"], ())),
    )
    return feature_json(violation_id, row["geom"], props)


def _geojson(body: bytes, status: int = 200) -> tuple[Response, int]:
    return Response(body, mimetype="application/geo+json"), status


@bp.get("/violations/<int:violation_id>")
def violation(violation_id: int) -> tuple[Response, int]:
    """One violation, void ones included (evidence stays retrievable)."""
    return _geojson(violation_feature(violation_id))


@bp.post("/violations/<int:violation_id>/transition")
def transition(violation_id: int) -> tuple[Response, int]:
    """Move a violation's status: {"to": "towed", "reason": "...", "version": 3}; void needs a reason."""
    body = _json_body(TRANSITION_FIELDS)
    if "to" not in body:
        raise BadRequest("to is required: the status to move to")
    transition_violation(db.session, violation_id, to=body["to"], reason=body.get("reason"),
                         version=body.get("version"), actor=actor(), campus_ids=_campus_ids())
    return _geojson(violation_feature(violation_id))


@bp.delete("/violations/<int:violation_id>")
def void_violation(violation_id: int) -> tuple[Response, int]:
    """DELETE is void with a reason (JSON {"reason", "version"} or ?reason=); nothing is erased."""
    body: dict[str, Any] = _json_body(DELETE_FIELDS) if request.get_data() else {}
    unknown = sorted(set(request.args) - DELETE_FIELDS)
    if unknown:
        raise BadRequest("unknown parameter(s): %(unknown)s; accepted: %(accepted)s",
                         unknown=", ".join(unknown), accepted=", ".join(sorted(DELETE_FIELDS)))
    reason = body.get("reason", request.args.get("reason"))
    version: Any = body.get("version")
    if version is None and request.args.get("version"):
        try:
            version = int(request.args["version"])
        except ValueError:
            raise BadRequest("version must be a whole number of at least 1, as read with the record") from None
    transition_violation(db.session, violation_id, to="void", reason=reason, version=version, actor=actor(),
                         campus_ids=_campus_ids(), action="delete")
    return _geojson(violation_feature(violation_id))


# ---------------------------------------------------------------- photos


def _store() -> PhotoStore:
    return evidence_store(current_app.config, db.session)


def _photo_json(photo: ViolationPhoto) -> dict[str, Any]:
    out = photo_dict(photo)
    if not g.scope.personal_data:
        out.pop("uploaded_by")
    if photo.purged_at is None:
        out["url"] = url_for("evidence.photo", sha256=photo.sha256)
        out["original_url"] = url_for("evidence.photo_original", sha256=photo.sha256)
    return out


def _read_upload() -> bytes:
    """The bytes of the multipart field `file`, refused beyond MAX_PHOTO_BYTES."""
    limit = int(current_app.config["MAX_PHOTO_BYTES"])
    if not request.mimetype.startswith("multipart/form-data"):
        raise BadRequest("send the photo as multipart/form-data in a field named file")
    files = request.files.getlist("file")
    if len(files) != 1:
        raise BadRequest("send exactly one photo, in a field named file")
    data = files[0].stream.read(limit + 1)
    if len(data) > limit:
        raise PayloadTooLarge("the photo is larger than %(max)s bytes", max=limit)
    if not data:
        raise BadRequest("the photo is empty")
    return data


@bp.post("/violations/<int:violation_id>/photos")
def upload_photo(violation_id: int) -> tuple[Response, int]:
    """Attach an evidence photo (JPEG or PNG by content); 201 when new, 200 when already attached."""
    visible_violation(db.session, violation_id, _campus_ids())
    data = _read_upload()
    try:
        checked = inspect_photo(data)
    except PhotoError as exc:
        error = UnsupportedMediaType if exc.unsupported else ValidationFailed
        raise error(exc.template, **exc.params) from None
    photo, created = add_photo(db.session, _store(), violation_id, checked, actor=actor(),
                               campus_ids=_campus_ids())
    response = jsonify({**_photo_json(photo), "duplicate": not created})
    if created:
        response.headers["Location"] = url_for("evidence.photo", sha256=photo.sha256)
    return response, 201 if created else 200


@bp.get("/violations/<int:violation_id>/photos")
def list_violation_photos(violation_id: int) -> Response:
    """The violation's photos with their SHA-256, purged ones included (without files)."""
    visible_violation(db.session, violation_id, _campus_ids())
    photos = [_photo_json(p) for p in list_photos(db.session, violation_id)]
    return jsonify({"violation": violation_id, "photos": photos})


class EvidenceAltered(PatrolmapError):
    """A stored original that no longer hashes to its name: never served as evidence."""

    status = 500


def _digest(sha256: str) -> str:
    digest = sha256.lower()
    if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        raise NotFound("unknown photo %(sha256)s", sha256=sha256)
    return digest


def _photo_response(data: bytes, content_type: str, digest: str, *, suffix: str) -> Response:
    extension = "jpg" if content_type == "image/jpeg" else "png"
    response = Response(data, mimetype=content_type)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Disposition"] = f'inline; filename="{digest}{suffix}.{extension}"'
    response.headers["Content-Security-Policy"] = PHOTO_CSP
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.get("/photos/<sha256>")
def photo(sha256: str) -> Response:
    """The display copy: the same picture without EXIF/GPS, XMP or comments."""
    digest = _digest(sha256)
    row = photo_to_serve(db.session, digest, _campus_ids())
    try:
        data = _store().read_display(digest)
    except FileNotFoundError:
        raise NotFound("the file of photo %(sha256)s is missing from the evidence store", sha256=digest) from None
    return _photo_response(data, row.content_type, digest, suffix="")


@bp.get("/photos/<sha256>/original")
def photo_original(sha256: str) -> Response:
    """The original, byte for byte as uploaded (EXIF and GPS included), checked against its SHA-256."""
    digest = _digest(sha256)
    row = photo_to_serve(db.session, digest, _campus_ids())
    try:
        data = _store().read_original(digest)
    except FileNotFoundError:
        raise NotFound("the file of photo %(sha256)s is missing from the evidence store", sha256=digest) from None
    except AlteredEvidence:
        log.error("evidence file %s no longer matches its SHA-256", digest)
        raise EvidenceAltered(N_("the stored file of photo %(sha256)s no longer matches its SHA-256 and is not "
                                 "served; tell the administrator"), sha256=digest) from None
    response = _photo_response(data, row.content_type, digest, suffix="-original")
    response.headers["Repr-Digest"] = f"sha-256=:{base64.b64encode(bytes.fromhex(digest)).decode()}:"
    response.headers["ETag"] = f'"{digest}"'
    return response
