"""`flask report`: the report of /reports written to a file, for a scheduled job (cron, a systemd timer).

The same figures as the page and GET /api/reports: an .xlsx workbook (headers in --language) or the
JSON. Every problem (unknown campus, bad period or date, an extension it cannot write) is a clear
message and a non-zero exit, and nothing is written.
"""

from __future__ import annotations

import json
import os
import tempfile
import zoneinfo
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from patrolmap.analysis.errors import InputError
from patrolmap.analysis.hotspots import MAX_CELLS
from patrolmap.analysis.workcalendar import WorkCalendar
from patrolmap.extensions import db
from patrolmap.i18n import LANGUAGES, normalise_language
from patrolmap.models import utcnow
from patrolmap.reports.compute import build_report
from patrolmap.reports.period import KINDS, parse_period
from patrolmap.store import find_campus, list_campuses

FORMATS = (".xlsx", ".json")


def _write_atomically(path: Path, data: bytes) -> None:
    """Write beside the target and rename, so a job never leaves half a file where the last report was."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


@click.command("report")
@click.option("--campus", "slug", help="Campus slug; may be left out when there is only one campus.")
@click.option("--period", "kind", type=click.Choice(KINDS), default="month", show_default=True,
              help="week (Monday to Sunday), month, term (from PATROLMAP_CALENDAR) or custom (--from/--to).")
@click.option("--date", "date_text", help="A day inside the period, YYYY-MM-DD (default: today, campus time).")
@click.option("--from", "date_from", help="custom: the first day, YYYY-MM-DD.")
@click.option("--to", "date_to", help="custom: the last day, YYYY-MM-DD.")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The file to write: .xlsx (the workbook) or .json (every figure).")
@click.option("--language", type=click.Choice(sorted(LANGUAGES)),
              help="Language of the workbook's headers (default: PATROLMAP_LANGUAGE).")
@with_appcontext
def report_command(slug: str | None, kind: str, date_text: str | None, date_from: str | None, date_to: str | None,
                   out: Path, language: str | None) -> None:
    """Write a campus's report for a period (the figures of /reports) to an .xlsx or .json file."""
    from flask_babel import force_locale, gettext

    from patrolmap.reports.workbook import build_workbook

    if out.suffix.lower() not in FORMATS:
        raise click.ClickException(f"--out must end in .xlsx or .json, got {out.name!r}")
    if not out.parent.is_dir():
        raise click.ClickException(f"the folder {str(out.parent)!r} does not exist")
    if slug:
        campus = find_campus(db.session, slug)
        if campus is None:
            raise click.ClickException(f"unknown campus {slug!r}")
    else:
        campuses = list_campuses(db.session)
        if len(campuses) != 1:
            raise click.ClickException(f"there are {len(campuses)} campuses: name one with --campus")
        campus = campuses[0]
    calendar = WorkCalendar.load(current_app.config.get("CALENDAR"))
    now = utcnow()
    today = now.astimezone(zoneinfo.ZoneInfo(campus.timezone)).date()
    try:
        period = parse_period(kind, date_text, date_from, date_to, campus.timezone, today=today, calendar=calendar)
    except InputError as exc:
        raise click.ClickException(str(exc)) from None
    report = build_report(db.session, campus, period, now=now, calendar=calendar,
                          max_cells=current_app.config.get("HOTSPOT_MAX_CELLS", MAX_CELLS))
    if out.suffix.lower() == ".json":
        data = json.dumps(report.data, ensure_ascii=False, indent=1).encode("utf-8")
    else:
        wanted = language or normalise_language(current_app.config.get("DEFAULT_LANGUAGE")) or "en"
        with force_locale(wanted):
            data = build_workbook(report, gettext)
    _write_atomically(out, data)
    v = report.data["violations"]
    click.echo(f"{campus.slug} {period.start.isoformat()}..{period.end.isoformat()}: {v['total']} violations, "
               f"{report.data['hazards']['opened']} hazards opened; written to {out}")

