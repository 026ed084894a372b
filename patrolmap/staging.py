"""Files uploaded on /import: staged in the database, previewed by a dry run of the real import, then written.

The web import and the CLI share one path (patrolmap.importing): the staged bytes are written to a
temporary file named so that read_source knows what it holds, read and validated by prepare_geodata or
prepare_violations, and written by write_prepared. The preview runs that very write in a transaction
that is always rolled back, so its counts (inserted / updated / unchanged) are what a commit would do;
the commit prepares again (the store may have changed since) and writes, all or nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import logging
import re
import secrets
import tempfile
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, defer, scoped_session

from patrolmap.database import WRITE_OPTION, in_request_transaction, write_transaction
from patrolmap.errors import Conflict, NotFound, PatrolmapError, UnsupportedMediaType, ValidationFailed
from patrolmap.geo.io import GEOJSON_SUFFIXES, LAYER_IDS, ReadError
from patrolmap.geo.validate import Problem, ValidationError
from patrolmap.importing import CampusInfo, PreparedImport, prepare_geodata, prepare_violations, write_prepared
from patrolmap.models import Campus, StagedImport, utcnow
from patrolmap.store import ImportSummary

log = logging.getLogger(__name__)

KINDS = ("geodata", "violations")
# What read_source tells apart by name; the longest first, so that .osm.pbf is not taken for .pbf.
SUFFIXES = (".osm.pbf", ".osm.xml", ".osm", ".pbf", ".gpkg", ".geojson", ".json", ".csv", ".zip")
LAYER_SUFFIXES = (*GEOJSON_SUFFIXES, ".csv")
ENCODINGS = ("utf-8", "utf-8-sig", "gbk", "gb18030")
STAGED_FOR = dt.timedelta(days=1)  # a staged file not confirmed within a day is purged
SHOWN = 50  # problems, warnings and skipped features a preview lists (it counts them all)
UNZIPPED_FACTOR = 10  # a zip may unpack to at most this many times the upload limit (GeoJSON packs ~10:1)


def suffix_of(filename: str) -> str | None:
    lower = filename.lower()
    return next((s for s in SUFFIXES if lower.endswith(s)), None)


def default_kind(filename: str) -> str:
    """A spreadsheet is violations; everything else is geodata."""
    return "violations" if filename.lower().endswith(".csv") else "geodata"


# ---------------------------------------------------------------- the file as read_source sees it


def _unzip(data: bytes, folder: Path, max_bytes: int) -> Path:
    """Unpack the layer files of a zipped campus folder (flat or in one folder); campus.json is ignored.

    The campus comes from the form, so a campus.json inside cannot rename a campus or move it to
    another university. Only files named <layer>.geojson/.json/.csv are written, under their bare
    names, so no member can escape the folder.
    """
    wanted = {f"{layer}{suffix}" for layer in LAYER_IDS for suffix in LAYER_SUFFIXES}
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        members = [m for m in archive.infolist()
                   if not m.is_dir() and PurePosixPath(m.filename).name.lower() in wanted
                   and not PurePosixPath(m.filename).name.startswith(".")]
        if not members:
            msg = f"the zip holds no layer file ({', '.join(f'{layer}.geojson' for layer in LAYER_IDS)})"
            raise ReadError(msg)
        if len({PurePosixPath(m.filename).parent for m in members}) > 1:
            msg = "the zip holds layer files in several folders; zip one campus folder"
            raise ReadError(msg)
        budget = max_bytes * UNZIPPED_FACTOR
        for member in members:
            with archive.open(member) as source:
                content = source.read(budget + 1)
            budget -= len(content)
            if budget < 0:
                msg = f"the zip unpacks to more than {max_bytes * UNZIPPED_FACTOR // 2**20} MB"
                raise ReadError(msg)
            (folder / PurePosixPath(member.filename).name.lower()).write_bytes(content)
    return folder


def source_path(folder: Path, data: bytes, *, filename: str, kind: str, layer: str | None, max_bytes: int) -> Path:
    """Write the upload where read_source will recognise it: <layer>.geojson, violations.csv, x.gpkg, a folder."""
    suffix = suffix_of(filename)
    accepted = LAYER_SUFFIXES if kind == "violations" else SUFFIXES
    if suffix not in accepted:
        raise UnsupportedMediaType("%(file)s is not a file the import reads; send %(types)s",
                                   file=filename, types=", ".join(accepted))
    if kind == "violations":
        stem = "violations"
    elif suffix == ".zip":
        (folder / "upload").mkdir()
        return _unzip(data, folder / "upload", max_bytes)
    elif suffix in LAYER_SUFFIXES:
        # A single layer: named by the form, else by the file's own name (checkpoints.geojson, grid_zones.json).
        stem = layer or PurePosixPath(filename).name.lower().split(".")[0].replace("_", "-")
        if stem not in LAYER_IDS:
            msg = (f"cannot tell which layer {filename} holds: choose the layer, or name the file after it "
                   f"({', '.join(LAYER_IDS)})")
            raise ReadError(msg)
    else:
        stem = "upload"  # a GeoPackage or OSM extract names its layers itself
    path = folder / f"{stem}{suffix}"
    path.write_bytes(data)
    return path


def prepare(session: Session, data: bytes, *, filename: str, kind: str, options: dict[str, Any],
            max_bytes: int) -> PreparedImport:
    """Read and validate a staged file against the store as it is now (ValidationError lists the problems).

    A file that cannot be read at all is a 422 naming why: the readers (GDAL, osmium, zipfile, JSON,
    CSV) raise many kinds of errors on a damaged file, and none of them may become a 500.
    """
    with tempfile.TemporaryDirectory(prefix="patrolmap-import-") as tmp:
        try:
            path = source_path(Path(tmp), data, filename=filename, kind=kind, layer=options.get("layer"),
                               max_bytes=max_bytes)
            if kind == "violations":
                prepared = prepare_violations(session, path, campus_slug=options["campus"],
                                              encoding=options.get("encoding"))
            else:
                info = CampusInfo(options["campus"], options.get("name"), options.get("timezone"),
                                  options.get("university"))
                prepared = prepare_geodata(session, path, campus=info, encoding=options.get("encoding"))
        except (ValidationError, PatrolmapError, SQLAlchemyError):
            raise
        except Exception as exc:
            if not isinstance(exc, ReadError):
                log.info("staged import %s unreadable", filename, exc_info=True)
            reason = _reason(exc, tmp, filename)
            raise ValidationFailed("%(file)s cannot be read: %(reason)s", file=filename, reason=reason,
                                   details=[{"layer": None, "feature": None, "id": None, "field": "file",
                                             "message": reason}]) from None
    prepared.source = filename
    return prepared


def _reason(exc: Exception, folder: str, filename: str) -> str:
    """A reader's complaint as the uploader can use it: their file's name, not the temporary one, and the
    web form's encoding field rather than the CLI's option."""
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    text = re.sub(re.escape(folder) + r"/[^\s:'\"]*", lambda _: filename, text)
    return text.replace("pass --encoding", "choose the encoding (utf-8, gbk or gb18030)")


# ---------------------------------------------------------------- preview


@contextmanager
def rolled_back(session: Session) -> Iterator[Session]:
    """A write transaction (holding the write lock, as a real write would) that is always rolled back."""
    if isinstance(session, scoped_session):
        session = session()
    if in_request_transaction(session):  # an idempotent request (patrolmap.idempotency): undo to a savepoint only
        savepoint = session.begin_nested()
        try:
            yield session
        finally:
            savepoint.rollback()
        return
    if session.in_transaction():
        session.rollback()
    session.connection(execution_options={WRITE_OPTION: True})
    try:
        yield session
    finally:
        session.rollback()


def dry_run(session: Session, prepared: PreparedImport) -> ImportSummary:
    """What writing this import would do, found by writing it and rolling back."""
    with rolled_back(session):
        return write_prepared(session, prepared, actor="preview")


def _plain(value: Any) -> Any:
    return value if value is None or isinstance(value, (str, int, float, bool)) else str(value)


def problem_record(problem: Problem) -> dict[str, Any]:
    """A problem as stored with the staged file: its feature's number counted from 1, its message's template."""
    return {"layer": problem.layer, "feature": None if problem.index is None else problem.index + 1,
            "id": problem.feature_id, "field": problem.field, "message": problem.message,
            "template": problem.template, "params": {k: _plain(v) for k, v in problem.params.items()}}


def shown_problem(record: dict[str, Any]) -> dict[str, Any]:
    """A stored problem in the language of this request."""
    from flask_babel import gettext

    template, params = record.get("template"), record.get("params") or {}
    message = (gettext(template, **params) if params else gettext(template)) if template else record["message"]
    return {"layer": record["layer"], "feature": record["feature"], "id": record["id"], "field": record["field"],
            "message": message}


def problems_preview(exc: ValidationError) -> dict[str, Any]:
    return {"ok": False, "layers": {}, "problems": [problem_record(p) for p in exc.problems[:SHOWN]],
            "problem_count": len(exc.problems), "warnings": [], "warning_count": 0, "skipped": []}


def summary_preview(summary: ImportSummary) -> dict[str, Any]:
    return {"ok": True, "layers": {k: vars(v).copy() for k, v in summary.layers.items()}, "problems": [],
            "problem_count": 0, "warnings": summary.warnings[:SHOWN], "warning_count": len(summary.warnings),
            "skipped": [{k: _plain(v) for k, v in item.items()} for item in summary.skipped[:SHOWN]]}


def shown_preview(preview: dict[str, Any] | None) -> dict[str, Any] | None:
    if preview is None:
        return None
    return {**preview, "problems": [shown_problem(p) for p in preview.get("problems", [])]}


# ---------------------------------------------------------------- staging, reading, committing, discarding


def staged_dict(row: StagedImport, campus_slug: str | None) -> dict[str, Any]:
    """The API's view of a staged file (never its bytes)."""
    return {
        "token": row.token, "filename": row.filename, "size": row.size, "kind": row.kind,
        "campus": campus_slug or row.options.get("campus"), "new_campus": bool(row.options.get("new_campus")),
        "created_by": row.created_by, "created_at": row.created_at.isoformat(),
        "committed_at": row.committed_at.isoformat() if row.committed_at else None,
        "preview": shown_preview(row.preview), "result": row.result,
    }


def stage(session: Session, data: bytes, *, filename: str, kind: str, campus_id: int | None,
          options: dict[str, Any], created_by: str, max_bytes: int) -> dict[str, Any]:
    """Keep an upload and its dry run; a file that does not validate is kept too, with its problems.

    Returns the staged file's API view, made before the commit so that its bytes are not read back.
    """
    purge(session)
    try:
        preview = summary_preview(dry_run(session, prepare(session, data, filename=filename, kind=kind,
                                                           options=options, max_bytes=max_bytes)))
    except ValidationError as exc:
        preview = problems_preview(exc)
    row = StagedImport(token=secrets.token_urlsafe(32), campus_id=campus_id, kind=kind, filename=filename,
                       size=len(data), sha256=hashlib.sha256(data).hexdigest(), data=data, options=options,
                       preview=preview, created_by=created_by)
    with write_transaction(session):
        session.add(row)
        session.flush()
        view = staged_dict(row, options.get("campus"))
    return view


def get_staged(session: Session, token: str, *, with_data: bool = False) -> StagedImport:
    """The staged file with this token (its bytes only when asked for); NotFound otherwise."""
    stmt = select(StagedImport).where(StagedImport.token == token)
    if not with_data:
        stmt = stmt.options(defer(StagedImport.data))
    row = session.scalars(stmt).first()
    if row is None:
        raise NotFound("no staged import %(token)s (discarded, or older than a day)", token=token)
    return row


def campus_slug(session: Session, row: StagedImport) -> str | None:
    if row.campus_id is None:
        return row.options.get("campus")
    return session.scalar(select(Campus.slug).where(Campus.id == row.campus_id))


def commit(session: Session, token: str, *, actor: str, max_bytes: int) -> dict[str, Any]:
    """Write a staged file once, validated again against the store as it is now; all or nothing.

    The row is marked committed (and its bytes dropped) in the transaction that writes the import, by a
    guarded UPDATE, so two confirms racing write it once and the other gets 409.
    """
    row = get_staged(session, token, with_data=True)
    if row.committed_at is not None:
        raise Conflict("this import was confirmed already, at %(at)s", at=row.committed_at.isoformat())
    started = time.perf_counter()
    row_id, data, filename, kind, options = row.id, row.data, row.filename, row.kind, dict(row.options)
    prepared = prepare(session, data, filename=filename, kind=kind, options=options, max_bytes=max_bytes)
    with write_transaction(session):
        marked = session.execute(
            update(StagedImport).where(StagedImport.id == row_id, StagedImport.committed_at.is_(None))
            .values(committed_at=utcnow(), data=b"").execution_options(synchronize_session=False))
        if marked.rowcount != 1:
            raise Conflict("this import was confirmed already")
        summary = write_prepared(session, prepared, actor=actor)
        result = {"summary": {"layers": {k: vars(v).copy() for k, v in summary.layers.items()},
                              "warnings": summary.warnings[:SHOWN], "warning_count": len(summary.warnings),
                              "seconds": round(time.perf_counter() - started, 3)}}
        campus_id = session.scalar(select(Campus.id).where(Campus.slug == prepared.campus.slug))
        session.execute(update(StagedImport).where(StagedImport.id == row_id)
                        .values(result=result, campus_id=campus_id).execution_options(synchronize_session=False))
    return result


def discard(session: Session, token: str) -> None:
    with write_transaction(session):
        session.execute(delete(StagedImport).where(StagedImport.token == token))


def purge(session: Session, *, now: dt.datetime | None = None) -> int:
    """Delete staged files older than a day, and drop the bytes of confirmed ones; returns how many were deleted.

    A confirmed row stays (without its bytes) until then, so that a second confirm answers 409.
    """
    cutoff = (now or utcnow()) - STAGED_FOR
    with write_transaction(session):
        deleted = session.execute(delete(StagedImport).where(StagedImport.created_at < cutoff)
                                  .execution_options(synchronize_session=False)).rowcount
        session.execute(update(StagedImport)
                        .where(StagedImport.committed_at.is_not(None), func.length(StagedImport.data) > 0)
                        .values(data=b"").execution_options(synchronize_session=False))
    return int(deleted or 0)
