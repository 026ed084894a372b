"""Reports for the department's leadership: the /reports page, the report as JSON, its workbook and its charts.

Thin: the period is parsed here (a bad one is a 400 with its reason), the figures come from
patrolmap.reports.compute (kept for a minute, so that the page's charts, fetched as images right
after it, reuse the report the page was made from), and rendering is patrolmap.reports.charts and
.workbook. Every answer is limited to the caller's campuses; a report holds no plate.
"""

from __future__ import annotations

import datetime as dt
import io
import zoneinfo
from typing import Any

from flask import Blueprint, Response, current_app, g, jsonify, render_template, request, send_file, url_for
from flask_babel import gettext

from patrolmap.access import allowed, rule_for
from patrolmap.analysis.errors import InputError
from patrolmap.analysis.hotspots import MAX_CELLS
from patrolmap.analysis.workcalendar import WorkCalendar
from patrolmap.errors import BadRequest, NotFound
from patrolmap.extensions import db
from patrolmap.models import Campus
from patrolmap.reports.charts import CHARTS, render_chart
from patrolmap.reports.compute import Report, cached_report, kept_report, utcnow
from patrolmap.reports.period import KINDS, Period, make_period, parse_period, previous_period
from patrolmap.reports.workbook import build_workbook
from patrolmap.store import list_campuses
from patrolmap.web.api import scoped_campus
from patrolmap.wording import N_, REPORTS_TITLE, value_labels

bp = Blueprint("reports_api", __name__)
PARAMS = ("campus", "period", "date", "from", "to")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# The charts of the page, in the order it shows them.
CHART_NAMES = tuple(CHARTS)
PERIOD_WORDS = {"week": N_("Week"), "month": N_("Month"), "term": N_("School term"), "custom": N_("Dates of my choice")}


def _campus(*, first: bool = False) -> Campus:
    """The campus asked for, or the caller's only campus (a report is of one campus).

    The page opens on the caller's first campus and offers the others; the API asks which.
    """
    key = request.args.get("campus")
    if key:
        return scoped_campus(key)
    campuses = list_campuses(db.session, g.scope.campus_ids)
    if not campuses:
        raise NotFound("there is no campus to report on")
    if len(campuses) != 1 and not first:
        raise BadRequest("campus is required when there are several campuses")
    return campuses[0]


def _calendar() -> WorkCalendar:
    return WorkCalendar.load(current_app.config.get("CALENDAR"))


def _today(campus: Campus) -> dt.date:
    return utcnow().astimezone(zoneinfo.ZoneInfo(campus.timezone)).date()


def _period(campus: Campus, calendar: WorkCalendar) -> Period:
    args = request.args
    for name in ("period", "date", "from", "to"):
        if len(args.getlist(name)) > 1:
            raise BadRequest("%(name)s may be given only once", name=name)
    try:
        return parse_period(args.get("period"), args.get("date"), args.get("from"), args.get("to"), campus.timezone,
                            today=_today(campus), calendar=calendar)
    except InputError as exc:
        raise BadRequest(exc.template, **exc.params) from None


def _report(*, kept: bool = False, first: bool = False) -> tuple[Campus, Period, Report]:
    """The report the request names; with `kept`, the one its `report` token names while it is kept."""
    campus = _campus(first=first)
    calendar = _calendar()
    period = _period(campus, calendar)
    report = kept_report(db.session, campus, period, request.args.get("report")) if kept else None
    if report is None:
        report = cached_report(db.session, campus, period, calendar=calendar,
                               max_cells=current_app.config.get("HOTSPOT_MAX_CELLS", MAX_CELLS))
    return campus, period, report


def _query(campus: Campus, period: Period) -> dict[str, str]:
    """The parameters that name this report again (for its downloads)."""
    out = {"campus": campus.slug, "period": period.kind}
    if period.kind == "custom":
        out.update({"from": period.start.isoformat(), "to": period.end.isoformat()})
    else:
        out["date"] = period.start.isoformat()
    return out


def _chart_url(name: str, query: dict[str, str], report: Report, **extra: Any) -> str:
    """A chart of this very report: its token lets the image reuse the report instead of checking the data again."""
    return url_for("reports_api.report_chart", name=name, **query, report=report.token, **extra)


def _filename(campus: Campus, period: Period, extension: str) -> str:
    return f"patrolmap-report-{campus.slug}-{period.start.isoformat()}-{period.end.isoformat()}.{extension}"


@bp.get("/api/reports")
def report_json() -> Response:
    """The report as JSON: every figure of the page, the workbook and the charts."""
    campus, period, report = _report()
    query = _query(campus, period)
    return jsonify({**report.data,
                    "charts": {name: _chart_url(name, query, report) for name in CHART_NAMES},
                    "workbook": url_for("reports_api.report_xlsx", **query)})


@bp.get("/api/reports.xlsx")
def report_xlsx() -> Response:
    """The whole report as an Excel workbook, headers in the caller's language."""
    campus, period, report = _report()
    data = build_workbook(report, gettext)
    return send_file(io.BytesIO(data), mimetype=XLSX, as_attachment=True,
                     download_name=_filename(campus, period, "xlsx"), max_age=0)


@bp.get("/api/reports/charts/<name>.png")
def report_chart(name: str) -> Response:
    """One chart of the report as a PNG (download=1 to save it as a file)."""
    if name not in CHARTS:
        raise NotFound("unknown chart %(name)s; charts are %(names)s", name=repr(name), names=", ".join(CHART_NAMES))
    campus, period, report = _report(kept=True)
    png = render_chart(name, report, gettext)
    response = send_file(io.BytesIO(png), mimetype="image/png", as_attachment=request.args.get("download") == "1",
                         download_name=_filename(campus, period, f"{name}.png"), max_age=0)
    response.headers["Cache-Control"] = "private, max-age=60"
    return response


@bp.get("/reports")
def reports_page() -> str:
    """The report page: a period and a campus picked, the figures as tables and charts, downloads, print."""
    from patrolmap.web.pages import visible_pages

    campuses = list_campuses(db.session, g.scope.campus_ids)
    campus, period, report = _report(first=True)
    calendar = _calendar()
    query = _query(campus, period)
    today = _today(campus)
    this_week, this_month = make_period("week", today, campus.timezone), make_period("month", today, campus.timezone)
    quick = {gettext("This week"): this_week, gettext("Last week"): previous_period(this_week),
             gettext("This month"): this_month, gettext("Last month"): previous_period(this_month)}
    values = value_labels(gettext)
    return render_template(
        "reports.html", pages=visible_pages(), page_id=None, campus=campus, campuses=campuses,
        report=report.data, period=period, query=query, kinds=KINDS, terms=bool(calendar.terms),
        quick=[(label, _query(campus, p)) for label, p in quick.items()], values=values, title=gettext(REPORTS_TITLE),
        chart_url=lambda name, **extra: _chart_url(name, query, report, **extra),
        xlsx_url=url_for("reports_api.report_xlsx", **query), json_url=url_for("reports_api.report_json", **query),
        period_words={k: gettext(w) for k, w in PERIOD_WORDS.items()},
        as_of=_local(report.data["as_of"], period), generated=_local(report.data["generated_at"], period),
        problem=_problem,
    )


def _problem(error: dict[str, Any]) -> str:
    """A section's problem in the reader's language (its message as computed, when it has no template)."""
    if not error.get("template"):
        return str(error.get("message"))
    template = error["template"]
    return gettext(template, **error["params"]) if error["params"] else gettext(template)


def _local(instant: str, period: Period) -> str:
    """An instant of the report as local time, 24-hour, to the minute."""
    return dt.datetime.fromisoformat(instant).astimezone(period.zone).strftime("%Y-%m-%d %H:%M")


@bp.app_context_processor
def _reports_nav() -> dict[str, Any]:
    """Whether the navigation offers /reports to this caller (the access table decides)."""
    user = g.get("user")
    shown = user is not None and allowed(rule_for("reports_api.reports_page", "GET") or frozenset(), user.role_set)
    return {"reports_nav": shown, "reports_title": REPORTS_TITLE}
