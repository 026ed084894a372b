"""Flask commands for data work: every failure is a clear message and a non-zero exit."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click
import shapely
from flask import Flask
from flask.cli import with_appcontext

from patrolmap.errors import PatrolmapError
from patrolmap.extensions import db
from patrolmap.geo.io import ReadError
from patrolmap.geo.validate import ValidationError
from patrolmap.importing import CampusInfo, import_violations, load_geodata
from patrolmap.layers import LAYERS, UnknownLayer
from patrolmap.models import ROLES
from patrolmap.store import ImportSummary, get_campus


class Progress:
    """Print rows done and rate at most twice a second, so long imports show they are alive."""

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.last = 0.0

    def __call__(self, layer: str, done: int, total: int) -> None:
        now = time.perf_counter()
        if now - self.last < 0.5 and done < total:
            return
        self.last = now
        rate = done / max(now - self.started, 1e-9)
        click.echo(f"  {layer}: {done}/{total} rows ({rate:,.0f} rows/s)", err=True)


def _fail(message: str) -> None:
    raise click.ClickException(message)


def _report(summary: ImportSummary, verbose: bool) -> None:
    for line in summary.lines():
        click.echo(line)
    if summary.skipped:
        shown = summary.skipped if verbose else summary.skipped[:10]
        for item in shown:
            click.echo(f"    skipped {item.get('osm_id', item)}: {item.get('reason', '')}")
        if len(shown) < len(summary.skipped):
            click.echo(f"    ... {len(summary.skipped) - len(shown)} more (use --verbose)")
    warnings = summary.warnings if verbose else summary.warnings[:10]
    for warning in warnings:
        click.echo(f"    warning: {warning}")
    if len(warnings) < len(summary.warnings):
        click.echo(f"    ... {len(summary.warnings) - len(warnings)} more warnings (use --verbose)")


def _run_import(action) -> ImportSummary:
    try:
        return action()
    except ValidationError as exc:
        _fail(f"nothing was imported: {exc}")
    except (ReadError, PatrolmapError, ValueError) as exc:
        _fail(f"nothing was imported: {exc}")
    raise AssertionError  # pragma: no cover


@click.command("load-geodata")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option("--campus", "slug", help="Campus slug to load into (created if new); default from the source.")
@click.option("--name", help="Campus display name.")
@click.option("--timezone", help="Campus time zone, e.g. Asia/Shanghai.")
@click.option("--boundary", type=click.Path(exists=True, path_type=Path),
              help="Polygon file (GeoJSON): import only features inside it.")
@click.option("--university-boundary", is_flag=True,
              help="OSM only: import only features inside the extract's amenity=university polygons.")
@click.option("--verbose", is_flag=True, help="List every skipped feature and warning.")
@with_appcontext
def load_geodata_command(path: Path, slug: str | None, name: str | None, timezone: str | None,
                         boundary: Path | None, university_boundary: bool, verbose: bool) -> None:
    """Import a campus from a folder, a GeoPackage or an OpenStreetMap extract."""
    shape = _read_boundary(boundary) if boundary else None
    campus = CampusInfo(slug=slug, name=name, timezone=timezone) if slug else None
    if campus is None and (name or timezone):
        _fail("--name and --timezone need --campus")
    summary = _run_import(lambda: load_geodata(
        db.session, path, campus=campus, boundary=shape, university_boundary=university_boundary,
        progress=Progress(),
    ))
    _report(summary, verbose)


def _read_boundary(path: Path) -> shapely.Geometry:
    from patrolmap.geo.io import read_layer_file

    try:
        features = read_layer_file(path)
    except ReadError as exc:
        _fail(f"cannot read the boundary: {exc}")
    polygons = [f.geometry for f in features if f.geometry is not None and f.geometry.geom_type.endswith("Polygon")]
    if not polygons:
        _fail(f"{path} holds no polygon to use as boundary")
    return shapely.union_all(polygons)


@click.command("import-violations")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--campus", "slug", help="Campus slug; may be left out when there is only one campus.")
@click.option("--encoding", help="Text encoding of a CSV (default: UTF-8 with or without BOM, else GBK).")
@with_appcontext
def import_violations_command(file: Path, slug: str | None, encoding: str | None) -> None:
    """Import recorded parking violations from CSV (lon/lat columns) or GeoJSON."""
    slug = slug or _only_campus()
    summary = _run_import(lambda: import_violations(
        db.session, file, campus_slug=slug, encoding=encoding, progress=Progress(),
    ))
    _report(summary, verbose=False)


def _only_campus() -> str:
    from patrolmap.store import list_campuses

    campuses = list_campuses(db.session)
    if len(campuses) != 1:
        names = ", ".join(c.slug for c in campuses) or "none yet"
        _fail(f"choose a campus with --campus (campuses: {names})")
    return campuses[0].slug


@click.command("export")
@click.argument("layer")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--campus", "slug", help="Export one campus only (default: all).")
@click.option("--encoding", type=click.Choice(["utf-8-sig", "utf-8", "gbk"]), default="utf-8-sig", show_default=True,
              help="CSV only: utf-8-sig opens in Excel; gbk for older office software.")
@click.option("--chinese", is_flag=True, help="CSV only: Chinese headers and values (时间, 类型: 占用消防通道 ...).")
@with_appcontext
def export_command(layer: str, file: Path, slug: str | None, encoding: str, chinese: bool) -> None:
    """Export a layer to FILE; the format follows the extension (.geojson, .gpkg, .csv)."""
    from patrolmap.exporting import export_layer

    try:
        campus = get_campus(db.session, slug) if slug else None
        count = export_layer(db.session, layer, file, campus=campus, encoding=encoding, chinese=chinese)
    except UnknownLayer as exc:
        _fail(str(exc.args[0]))
    except (ReadError, PatrolmapError) as exc:
        _fail(str(exc))
    click.echo(f"wrote {count} {layer} to {file}")


@click.command("init-db")
@click.option("--sample/--no-sample", default=False, help="Also load the sample campus when the store is empty.")
@with_appcontext
def init_db_command(sample: bool) -> None:
    """Create or upgrade the schema (migrations), optionally loading the sample campus."""
    from flask import current_app
    from flask_migrate import upgrade

    upgrade()
    if sample:
        from patrolmap.firstrun import load_sample
        from patrolmap.store import list_campuses

        if not list_campuses(db.session):
            load_sample(current_app)
    click.echo("database ready")


@click.command("create-user")
@click.argument("username")
@click.option("--role", "roles", multiple=True, required=True, type=click.Choice(ROLES),
              help="A role of the user; repeat for several.")
@click.option("--name", "display_name", help="The person's name as shown in the interface.")
@click.option("--university", help="The university (tenant) the user belongs to.")
@click.option("--campus", "campuses", multiple=True, help="Limit the user to this campus slug; repeat for several.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input instead of prompting.")
@click.option("--generate-password", is_flag=True, help="Generate a password and print it once.")
@with_appcontext
def create_user_command(username: str, roles: tuple[str, ...], display_name: str | None, university: str | None,
                        campuses: tuple[str, ...], password_stdin: bool, generate_password: bool) -> None:
    """Create a user who signs in with a password (argon2id-hashed)."""
    from sqlalchemy import select

    from patrolmap.auth.passwords import PasswordRejected, check_password, hash_password
    from patrolmap.auth.passwords import generate_password as make_password
    from patrolmap.database import write_transaction
    from patrolmap.models import User

    if not 3 <= len(username) <= 64 or not username.replace("_", "").replace("-", "").replace(".", "").isalnum():
        _fail("the user name must be 3-64 letters, digits, '.', '_' or '-'")
    if db.session.scalar(select(User.id).where(User.username == username)) is not None:
        _fail(f"user {username!r} exists already")
    unknown = [slug for slug in campuses if not _campus_exists(slug)]
    if unknown:
        _fail(f"unknown campus {unknown[0]!r}")
    if generate_password:
        password = make_password()
    elif password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        check_password(password, username=username)
    except PasswordRejected as exc:
        _fail(str(exc))
    from patrolmap.models import AuditEntry

    with write_transaction(db.session):
        user = User(username=username, display_name=display_name, password_hash=hash_password(password),
                    roles=",".join(dict.fromkeys(roles)), university=university, campuses=",".join(campuses))
        db.session.add(user)
        db.session.flush()
        db.session.add(AuditEntry(actor="cli", action="create", layer="users", feature_id=user.id,
                                  after={"username": username, "roles": user.roles, "university": university,
                                         "campuses": user.campuses}, reason="user created"))
    click.echo(f"created user {username} with roles {', '.join(roles)}")
    if generate_password:
        click.echo(f"password (shown once): {password}")


@click.command("create-token")
@click.argument("username")
@click.option("--name", required=True, help="What the token is for, e.g. 'gate handheld 3'.")
@with_appcontext
def create_token_command(username: str, name: str) -> None:
    """Create an API token for a user (for scripts and handhelds); it is printed once."""
    from sqlalchemy import select

    from patrolmap.auth.sessions import create_api_token
    from patrolmap.models import User

    user = db.session.scalars(select(User).where(User.username == username)).first()
    if user is None:
        _fail(f"unknown user {username!r}")
    token, row = create_api_token(db.session, user, name)
    click.echo(f"token {row.id} for {username} ({name}); send it as 'Authorization: Bearer <token>'")
    click.echo(f"token (shown once): {token}")


@click.command("revoke-token")
@click.argument("token_id", type=int)
@with_appcontext
def revoke_token_command(token_id: int) -> None:
    """Revoke an API token by its number; requests with it are refused from now on."""
    from patrolmap.auth.sessions import revoke_api_token

    if not revoke_api_token(db.session, token_id):
        _fail(f"no live token {token_id}")
    click.echo(f"revoked token {token_id}")


@click.command("purge-personal-data")
@click.option("--days", type=click.IntRange(min=1), help="Keep plates and reporters this many days "
              "(default PATROLMAP_RETENTION_DAYS, 365).")
@with_appcontext
def purge_personal_data_command(days: int | None) -> None:
    """Anonymise plates and remove reporter names of old violations; fit for a daily timer."""
    import datetime as dt

    from flask import current_app

    from patrolmap.retention import purge_personal_data

    days = days or current_app.config["RETENTION_DAYS"]
    from patrolmap.photos import evidence_store

    count = purge_personal_data(db.session, older_than=dt.timedelta(days=days),
                                key=current_app.config["SECRET_KEY"], actor="cli",
                                evidence=evidence_store(current_app.config, db.session))
    click.echo(f"anonymised {count} violation(s) observed more than {days} days ago")


def _campus_exists(slug: str) -> bool:
    from patrolmap.store import find_campus

    return find_campus(db.session, slug) is not None


@click.group("chargers")
def chargers_group() -> None:
    """EV charger inventories (issue 8)."""


@chargers_group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--campus", "slug", help="Campus slug; may be left out when there is only one campus.")
@click.option("--kind", type=click.Choice(["car", "ebike"]), default="car", show_default=True,
              help="Kind of the chargers whose rows do not say.")
@click.option("--format", "fmt", type=click.Choice(["geojson", "csv"]), help="Default: from the file's extension.")
@click.option("--encoding", help="Text encoding of a CSV (default: UTF-8 with or without BOM, else GBK).")
@with_appcontext
def chargers_import_command(file: Path, slug: str | None, kind: str, fmt: str | None, encoding: str | None) -> None:
    """Import a charger inventory (GeoJSON or CSV; AFDC fields such as Station Name, EV Level2 EVSE Num)."""
    from patrolmap.chargers import import_chargers

    slug = slug or _only_campus()
    fmt = fmt or ("csv" if file.suffix.lower() == ".csv" else "geojson")
    summary = _run_import(lambda: import_chargers(db.session, get_campus(db.session, slug), file.read_bytes(), fmt,
                                                  kind=kind, actor="cli", source=file.name, encoding=encoding))
    _report(summary, verbose=False)


@click.group("hazards")
def hazards_group() -> None:
    """Hazards and their rectification loop (issue 9)."""


@hazards_group.command("remind")
@click.option("--now", "now_text", help="Act as if it were this time (ISO 8601; UTC without an offset).")
@with_appcontext
def hazards_remind_command(now_text: str | None) -> None:
    """Send the deadline reminders due ("before" and "due"), in the app and to PATROLMAP_WEBHOOKS; run it every
    few minutes from a timer. Each reminder goes once per hazard and channel; failed webhook calls are retried."""
    import datetime as dt

    from flask import current_app

    from patrolmap.hazardstore import run_reminders

    now = None
    if now_text:
        try:
            now = dt.datetime.fromisoformat(now_text)
        except ValueError:
            _fail(f"--now must be an ISO 8601 time such as 2026-11-23T08:00:00+08:00, not {now_text!r}")
        now = now.replace(tzinfo=dt.UTC) if now.tzinfo is None else now.astimezone(dt.UTC)  # type: ignore[union-attr]
    run = run_reminders(db.session, current_app.config, now=now)
    click.echo(f"in-app notifications: {run.app}; webhook calls: {run.sent} sent, {run.failed} failed "
               f"({run.retried} retries)")
    for error in run.errors:
        click.echo(f"  failed: {error}", err=True)
    if run.failed:
        _fail(f"{run.failed} webhook call(s) failed; they are tried again on the next run")


@click.command("backup")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@with_appcontext
def backup_command(file: Path) -> None:
    """Back the database up into FILE while the app keeps serving (SQLite online backup; PostgreSQL pg_dump -Fc);
    the copy is checked and its rows counted before it replaces FILE."""
    from flask import current_app

    from patrolmap.backup import BackupError, backup_database

    try:
        report = backup_database(current_app.config["SQLALCHEMY_DATABASE_URI"], file)
    except BackupError as exc:
        _fail(f"no backup was written: {exc}")
    for line in report.lines():
        click.echo(line)
    if current_app.config.get("EVIDENCE_STORE", "files") == "files":
        click.echo(f"evidence photos are files, not in this backup: copy {current_app.config['EVIDENCE_DIR']} too "
                   "(they are named by their hash and never change; `flask check-evidence` verifies them)")


@click.command("check-evidence")
@with_appcontext
def check_evidence_command() -> None:
    """Read back and hash every kept evidence photo (violations' and hazards'), from files or the database:
    after a restore, a move, or as a periodic check. Exits non-zero naming each file missing or altered."""
    from flask import current_app

    from patrolmap.photos import check_evidence, evidence_store

    check = check_evidence(db.session, evidence_store(current_app.config, db.session))
    for problem in check.problems:
        click.echo(problem, err=True)
    if check.problems:
        _fail(f"{len(check.problems)} of {check.files} evidence file(s) missing or altered "
              f"({check.photos} photo(s) on record)")
    click.echo(f"{check.photos} photo(s) on record, {check.files} file(s) read: all present and intact")


@click.command("restore")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Replace a database that holds data (everything in it is lost).")
@with_appcontext
def restore_command(file: Path, force: bool) -> None:
    """Restore a backup made by `backup` into this app's database (empty unless --force); stop the app servers
    first. Prints the restored rows per table."""
    from flask import current_app

    from patrolmap.backup import BackupError, restore_database

    db.session.remove()
    db.engine.dispose()  # no pooled connection of this process stands in the restore's way
    try:
        report = restore_database(current_app.config["SQLALCHEMY_DATABASE_URI"], file, force=force)
    except BackupError as exc:
        _fail(f"nothing was restored: {exc}")
    for line in report.lines():
        click.echo(line)


@click.command("layers")
def layers_command() -> None:
    """List the layer ids that every command and the API accept."""
    for layer in LAYERS.values():
        click.echo(f"{layer.id:14} {layer.title}")


def register(app: Flask) -> None:
    for command in (load_geodata_command, import_violations_command, export_command, init_db_command,
                    layers_command, create_user_command, create_token_command, revoke_token_command,
                    purge_personal_data_command, chargers_group, hazards_group, backup_command,
                    restore_command, check_evidence_command):
        app.cli.add_command(command)
    from patrolmap.reports.command import report_command  # matplotlib and openpyxl load only with it

    app.cli.add_command(report_command)
