"""Imports: read, validate every layer, then write all of it in one transaction or nothing."""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import shapely
from shapely.geometry.base import BaseGeometry
from sqlalchemy.orm import Session

from patrolmap.database import write_transaction
from patrolmap.errors import ValidationFailed
from patrolmap.geo import io as geo_io
from patrolmap.geo.validate import CheckedLayer, Problem, RawFeature, ValidationError, validate_layer
from patrolmap.store import (
    ImportSummary,
    Progress,
    campus_extent,
    ensure_campus,
    find_campus,
    get_campus,
    store_layers,
)


@dataclass
class CampusInfo:
    slug: str
    name: str | None = None
    timezone: str | None = None
    university: str | None = None


def slugify(text: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug or "campus"


def read_source(path: Path, *, encoding: str | None = None) -> tuple[dict[str, list[RawFeature]], dict[str, Any]]:
    """Read any supported source into raw features per layer, plus what the source says of its campus."""
    meta: dict[str, Any] = {}
    if path.is_dir():
        campus_file = path / "campus.json"
        if campus_file.exists():
            meta = json.loads(campus_file.read_text(encoding="utf-8"))
        return geo_io.read_folder(path), meta
    name = path.name.lower()
    if name.endswith((".osm", ".osm.pbf", ".pbf", ".osm.xml")):
        from patrolmap.geo.osm import read_osm

        extract = read_osm(path)
        layers = {layer: geo_io.features_from_frame(frame) for layer, frame in extract.layers.items()}
        meta = {"skipped": extract.skipped, "warnings": extract.warnings, "universities": extract.universities}
        return layers, meta
    if name.endswith(".gpkg"):
        return geo_io.read_geopackage(path), meta
    stem = name.split(".")[0]
    if stem in geo_io.LAYER_IDS:
        return {stem: geo_io.read_layer_file(path, encoding=encoding)}, meta
    msg = (f"cannot tell what {path.name} holds: give a folder in patrolmap's layout, a .gpkg, an .osm extract, "
           f"or a file named after its layer ({', '.join(geo_io.LAYER_IDS)})")
    raise geo_io.ReadError(msg)


def validate_layers(
    raw: dict[str, list[RawFeature]], *, timezone: str, reference: BaseGeometry | None,
) -> dict[str, CheckedLayer]:
    """Validate every layer, gathering the problems of all layers before refusing."""
    checked: dict[str, CheckedLayer] = {}
    problems = []
    for layer, features in raw.items():
        try:
            checked[layer] = validate_layer(layer, features, timezone=timezone, reference=reference)
        except ValidationError as exc:
            problems.extend(exc.problems)
    if problems:
        raise ValidationError(problems)
    return checked


def clip_to_boundary(raw: dict[str, list[RawFeature]], boundary: BaseGeometry) -> dict[str, list[RawFeature]]:
    """Keep features that meet the boundary (polygons by their representative point)."""
    prepared = shapely.prepared.prep(boundary)
    kept: dict[str, list[RawFeature]] = {}
    for layer, features in raw.items():
        keep = []
        for f in features:
            if f.geometry is None:
                keep.append(f)
            elif f.geometry.geom_type.endswith("Polygon"):
                if prepared.contains(f.geometry.representative_point()):
                    keep.append(f)
            elif prepared.intersects(f.geometry):
                keep.append(f)
        kept[layer] = keep
    return kept


@dataclass
class PreparedImport:
    """A source read and validated against its campus as the store is now: all a write needs.

    Preparing takes no lock, so other writers wait only for the write itself; the web import also
    runs the write in a transaction it rolls back, to preview what a commit would do.
    """

    source: str
    campus: CampusInfo  # what the write gives the campus (slug, and name, time zone, university if known)
    checked: dict[str, CheckedLayer]
    boundary: BaseGeometry | None = None
    create_campus: bool = True  # geodata may create a campus; violations go into an existing one
    skipped: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def prepare_geodata(
    session: Session,
    path: Path,
    *,
    campus: CampusInfo | None = None,
    boundary: BaseGeometry | None = None,
    university_boundary: bool = False,
    encoding: str | None = None,
) -> PreparedImport:
    """Read and validate a folder, GeoPackage, OSM extract or single layer file for a campus."""
    raw, meta = read_source(path, encoding=encoding)
    if university_boundary:
        universities = meta.get("universities")
        if universities is None or len(universities) == 0:
            msg = "the source has no amenity=university polygon to use as boundary"
            raise geo_io.ReadError(msg)
        boundary = shapely.union_all(list(universities.geometry))
    if boundary is not None:
        raw = clip_to_boundary(raw, boundary)
    info = campus or CampusInfo(slug=meta.get("slug") or slugify(path.stem.split(".")[0]))
    existing = find_campus(session, info.slug)
    timezone = info.timezone or meta.get("timezone") or (existing.timezone if existing else "Asia/Shanghai")
    reference = campus_extent(session, existing) if existing else None
    checked = validate_layers(raw, timezone=timezone, reference=reference)
    target = CampusInfo(info.slug, info.name or meta.get("name"), timezone, info.university or meta.get("university"))
    return PreparedImport(path.name, target, checked, boundary, skipped=list(meta.get("skipped", [])),
                          warnings=list(meta.get("warnings", [])))


def prepare_violations(
    session: Session, path: Path, *, campus_slug: str, encoding: str | None = None,
) -> PreparedImport:
    """Read and validate recorded violations (CSV or GeoJSON) for an existing campus."""
    suffix = path.suffix.lower()
    if suffix not in (".csv", *geo_io.GEOJSON_SUFFIXES):
        msg = f"violations come as .csv or .geojson, not {suffix or 'a file without extension'}"
        raise geo_io.ReadError(msg)
    features = geo_io.read_layer_file(path, encoding=encoding)
    campus = get_campus(session, campus_slug)
    checked = validate_layers({"violations": features}, timezone=campus.timezone,
                              reference=campus_extent(session, campus))
    return PreparedImport(path.name, CampusInfo(campus.slug), checked, create_campus=False)


def write_prepared(
    session: Session, prepared: PreparedImport, *, actor: str, progress: Progress | None = None,
) -> ImportSummary:
    """Write a prepared import; the caller owns the transaction (write_transaction, or a dry run rolled back)."""
    info = prepared.campus
    if prepared.create_campus:
        target = ensure_campus(session, info.slug, name=info.name, timezone=info.timezone,
                               university=info.university, boundary=prepared.boundary)
    else:
        target = get_campus(session, info.slug)
    summary = store_layers(session, target, prepared.checked, actor=actor, source=prepared.source, progress=progress)
    summary.skipped = list(prepared.skipped)
    summary.warnings.extend(prepared.warnings)
    return summary


def load_geodata(
    session: Session,
    path: Path,
    *,
    campus: CampusInfo | None = None,
    boundary: BaseGeometry | None = None,
    university_boundary: bool = False,
    actor: str = "cli",
    progress: Progress | None = None,
    encoding: str | None = None,
) -> ImportSummary:
    """Import a folder, GeoPackage, OSM extract or single layer file into a campus."""
    started = time.perf_counter()
    # Validate before taking the write lock: other writers wait only for the write itself.
    prepared = prepare_geodata(session, path, campus=campus, boundary=boundary,
                               university_boundary=university_boundary, encoding=encoding)
    with write_transaction(session):
        summary = write_prepared(session, prepared, actor=actor, progress=progress)
    summary.seconds = time.perf_counter() - started
    return summary


def import_violations(
    session: Session,
    path: Path,
    *,
    campus_slug: str,
    encoding: str | None = None,
    actor: str = "cli",
    progress: Progress | None = None,
) -> ImportSummary:
    """Import recorded violations (CSV or GeoJSON) into an existing campus."""
    prepared = prepare_violations(session, path, campus_slug=campus_slug, encoding=encoding)
    with write_transaction(session):
        return write_prepared(session, prepared, actor=actor, progress=progress)


def translated(problem: Problem) -> str:
    """A problem's message in the language of the current request (English outside one)."""
    from flask_babel import gettext

    if problem.template is None:
        return problem.message
    return gettext(problem.template, **problem.params) if problem.params else gettext(problem.template)


def as_http_error(exc: ValidationError, *, single: bool = False) -> ValidationFailed:
    """A 422 whose message a person can read in a form: every problem, by field, in their language."""
    if single:
        message = "; ".join(f"{p.field}: {translated(p)}" for p in exc.problems)
    else:
        message = "; ".join(str(replace(p, message=translated(p))) for p in exc.problems[:5])
        message += " ..." if len(exc.problems) > 5 else ""
    details = [{**p.to_dict(), "message": translated(p)} for p in exc.problems]
    # The message is already in the reader's language: pass it through the catalogue unchanged.
    return ValidationFailed("%(problems)s", problems=message, details=details)
