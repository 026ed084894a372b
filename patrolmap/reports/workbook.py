"""The report as an Excel workbook: a summary sheet, then one sheet per table of the report.

Headers and coded values (kinds, categories, weekdays) are in the reader's language (the
`translate` given: gettext of the request, or of the language a command asks for); numbers stay
numbers (shares as numbers formatted as percentages, dates as dates), so the department can go on
calculating with them. Names people typed (zones, routes, hotspots, posts) are written as text
cells, so a name starting with "=" can never run as a formula. No plate is ever in a report.
"""

from __future__ import annotations

import datetime as dt
import io
import re
from collections.abc import Callable, Sequence
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from patrolmap.reports.charts import CLASS_WORDS, WEEKDAYS
from patrolmap.reports.compute import Report
from patrolmap.wording import N_, value_label

Translate = Callable[..., str]
PERCENT = "0.0%"
DATE = "yyyy-mm-dd"
HEADER_FILL = PatternFill("solid", fgColor="DDE6F0")
_SHEET_UNSAFE = re.compile(r"[\[\]:*?/\\]")

# Sheet titles, in order.
SHEETS = {
    "summary": N_("Summary"),
    "by_kind": N_("Violations by kind"),
    "by_zone": N_("Violations by grid zone"),
    "by_hotspot": N_("Violations by marked hotspot"),
    "by_hour": N_("Violations by hour"),
    "by_weekday": N_("Violations by weekday"),
    "hour_weekday": N_("Hour and weekday"),
    "daily": N_("Violations per day"),
    "hot_cells": N_("Hot cells"),
    "hazards_category": N_("Hazards by category"),
    "hazards_zone": N_("Hazards by grid zone"),
    "patrol_routes": N_("Patrols by route"),
    "patrol_officers": N_("Patrols by officer"),
    "duty_posts": N_("Duty posts"),
    "chargers": N_("Charger coverage"),
}


class Text(str):
    """A value to write as a text cell whatever it starts with (names people typed)."""


def _title(text: str, used: set[str]) -> str:
    """A legal, unique sheet title: at most 31 characters, none of []:*?/\\."""
    base = _SHEET_UNSAFE.sub(" ", text).strip()[:31] or "Sheet"
    title, n = base, 2
    while title.lower() in used:
        suffix = f" {n}"
        title, n = base[:31 - len(suffix)] + suffix, n + 1
    used.add(title.lower())
    return title


def _write(ws: Worksheet, headers: Sequence[str], rows: Sequence[Sequence[Any]],
           formats: dict[int, str] | None = None) -> None:
    """A header row, then the rows; column i gets formats[i] (number format) when given."""
    ws.append(list(headers))
    for cell in ws[1]:
        cell.font = Font(bold=True)
        cell.fill = HEADER_FILL
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    for row in rows:
        ws.append([str(v) if isinstance(v, Text) else v for v in row])
        written = ws[ws.max_row]
        for i, value in enumerate(row):
            if isinstance(value, Text):
                written[i].data_type = "s"  # never a formula, whatever the text starts with
            if formats and i in formats and value is not None:
                written[i].number_format = formats[i]
    ws.freeze_panes = "A2"
    for i, header in enumerate(headers, start=1):
        values = [len(str(header))] + [len(str(r[i - 1])) for r in rows[:200] if i - 1 < len(r)]
        ws.column_dimensions[get_column_letter(i)].width = min(max(values) + 2, 50)


def _pct(value: float | None) -> float | None:
    """A percentage figure (12.5) as the share Excel formats as a percentage (0.125)."""
    return None if value is None else round(value / 100, 6)


def _date(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def _name(value: str | None, fallback: str) -> Text:
    return Text(value if value else fallback)


def build_workbook(report: Report, translate: Translate) -> bytes:
    """The whole report as .xlsx bytes, headers and coded values in the language of `translate`."""
    _ = translate
    data = report.data

    def word(code: str | None, field: str | None = None) -> str:
        words = value_label(code, field)
        return _(words) if words else (code or "")

    wb = Workbook()
    used: set[str] = set()
    sheets: dict[str, Worksheet] = {}
    for n, (key, title) in enumerate(SHEETS.items()):
        ws = wb.active if n == 0 else wb.create_sheet()
        ws.title = _title(_(title), used)
        sheets[key] = ws
    v, hz, pt, dp, ch = (data[k] for k in ("violations", "hazards", "patrols", "duty_posts", "chargers"))
    period, previous = data["period"], data["previous"]
    outside = _("outside every zone")
    change = [_("This period"), _("Previous period"), _("Change"), _("Change (%)")]

    # Summary: what a leader reads first.
    summary: list[list[Any]] = [
        [_("Campus"), Text(data["campus"]["name"]), None, None],
        [_("Period"), _date(period["from"]), _date(period["to"]), None],
        [_("Compared with"), _date(previous["compared_from"]), _date(previous["compared_to"]), None],
        [_("Days in the period"), period["days"], previous["compared_days"], None],
        [_("Violations"), v["total"], v["previous"], v["change"]],
        [_("Hazards opened"), hz["opened"], None, None],
        [_("Hazards closed"), hz["closed"], None, None],
        [_("Hazards overdue"), hz["overdue"], None, None],
        [_("Hazards still open"), hz["open_at_end"], None, None],
        [_("Median hours to close a hazard"), hz["median_hours_to_close"], None, None],
        [_("Patrol checkpoint visits planned"), pt["totals"]["planned"], None, None],
        [_("Patrol checkpoint visits on time"), pt["totals"]["on_time"], None, None],
        [_("Patrol completion"), pt["totals"]["completion"], None, None],
        [_("Duty posts staffed"), dp["totals"]["staffed"], dp["totals"]["posts"], None],
        [_("Duty post hours staffed"), dp["totals"]["staffed_hours"], None, None],
    ]
    completion = _("Patrol completion")
    percent_rows = {2 + next(i for i, r in enumerate(summary) if r[0] == completion)}  # sheet rows: header is 1
    for kind in ch["kinds"]:
        summary.append([_("Charger coverage, %(kind)s", kind=word(kind["kind"])), kind["end"]["covered_share"],
                        kind["start"]["covered_share"], kind["change_share"]])
        percent_rows.add(len(summary) + 1)
    _write(sheets["summary"], [_("Figure"), _("This period"), _("Previous period"), _("Change")], summary)
    ws = sheets["summary"]
    for row in (3, 4):  # the period and the one compared: from, to
        ws.cell(row, 2).number_format = ws.cell(row, 3).number_format = DATE
    for row in percent_rows:
        for column in (2, 3, 4):
            ws.cell(row, column).number_format = PERCENT

    _write(sheets["by_kind"], [_("Kind"), *change],
           [[word(r["kind"]), r["count"], r["previous"], r["change"], _pct(r["change_pct"])] for r in v["by_kind"]],
           {4: PERCENT})
    _write(sheets["by_zone"], [_("Grid zone"), *change],
           [[_name(r["name"], outside if r["zone"] is None else str(r["zone"])), r["count"], r["previous"],
             r["change"], _pct(r["change_pct"])] for r in v["by_zone"]], {4: PERCENT})
    _write(sheets["by_hotspot"], [_("Marked hotspot"), _("Kind"), _("Hours"), *change],
           [[_name(r["name"], str(r["hotspot"])), word(r["kind"]), Text(r["hours"] or ""), r["count"], r["previous"],
             r["change"], _pct(r["change_pct"])] for r in v["by_hotspot"]], {6: PERCENT})
    _write(sheets["by_hour"], [_("Hour"), _("Violations")],
           [[f"{h:02d}:00-{h + 1:02d}:00", n] for h, n in enumerate(v["by_hour"])])
    _write(sheets["by_weekday"], [_("Weekday"), _("Violations")],
           [[_(WEEKDAYS[d]), n] for d, n in enumerate(v["by_weekday"])])
    _write(sheets["hour_weekday"], [_("Weekday"), *[f"{h:02d}" for h in range(24)], _("Total")],
           [[_(WEEKDAYS[d]), *row, sum(row)] for d, row in enumerate(v["hour_weekday"])])
    start = _date(period["from"])
    before_start = _date(previous["compared_from"])
    daily = []
    for i, n in enumerate(v["daily"]):
        earlier = v["previous_daily"][i] if i < len(v["previous_daily"]) else None
        daily.append([start + dt.timedelta(days=i), n, before_start + dt.timedelta(days=i) if earlier is not None
                      else None, earlier])
    _write(sheets["daily"], [_("Date"), _("Violations"), _("Same day of the previous period"),
                             _("Violations then")], daily, {0: DATE, 2: DATE})
    cells = v["hot_cells"]
    _write(sheets["hot_cells"], [_("Rank"), _("Violations"), _("Class"), _("Gi* z-score"), _("Nearest building"),
                                 _("Distance (m)"), _("Busiest hours"), _("Longitude"), _("Latitude")],
           [[n, t["count"], _(CLASS_WORDS.get(t["class"], t["class"])), t["gi_z"], Text(t.get("building") or ""),
             t.get("building_distance_m"), ", ".join(p["hours"] for p in t.get("peak_hours", [])), t["lon"], t["lat"]]
            for n, t in enumerate(cells.get("top", []), start=1)])
    hazard_headers = [_("Opened"), _("Closed"), _("Overdue"), _("Still open"), _("Median hours to close")]

    def hazard_row(r: dict[str, Any]) -> list[Any]:
        return [r["opened"], r["closed"], r["overdue"], r["open_at_end"], r["median_hours_to_close"]]

    _write(sheets["hazards_category"], [_("Category"), *hazard_headers],
           [[word(r["category"], "category"), *hazard_row(r)] for r in hz["by_category"]])
    _write(sheets["hazards_zone"], [_("Grid zone"), *hazard_headers],
           [[_name(r["name"], outside if r["zone"] is None else str(r["zone"])), *hazard_row(r)]
            for r in hz["by_zone"]])
    patrol_headers = [_("Shifts"), _("Planned visits"), _("On time"), _("Late"), _("Missed"), _("Completion (on time)"),
                      _("Visited")]

    def patrol_row(r: dict[str, Any]) -> list[Any]:
        return [r["shifts"], r["planned"], r["on_time"], r["late"], r["missed"], r["completion"], r["visited"]]

    _write(sheets["patrol_routes"], [_("Route"), *patrol_headers],
           [[_name(r["name"], str(r["route"])), *patrol_row(r)] for r in pt["routes"]], {6: PERCENT, 7: PERCENT})
    _write(sheets["patrol_officers"], [_("Officer"), *patrol_headers],
           [[_name(r["officer"], _("(nobody checked in)")), *patrol_row(r)] for r in pt["officers"]],
           {6: PERCENT, 7: PERCENT})
    _write(sheets["duty_posts"], [_("Duty post"), _("Hours"), _("Hours per day"), _("Days"), _("Hours staffed"),
                                  _("Violations within %(radius)s m", radius=f"{dp['radius_m']:g}"),
                                  _("of them in its hours")],
           [[_name(r["name"], str(r["post"])), Text(r["hours"] or ""), r["hours_per_day"], r["days"],
             r["staffed_hours"], r["violations_nearby"], r["violations_in_hours"]] for r in dp["posts"]])
    _write(sheets["chargers"], [_("Charger kind"), _("Chargers at the start"), _("Covered share at the start"),
                                _("Chargers at the end"), _("Covered share at the end"), _("Change in covered share"),
                                _("Covered demand at the end"), _("Total demand")],
           [[word(r["kind"]), r["start"]["chargers"], r["start"]["covered_share"], r["end"]["chargers"],
             r["end"]["covered_share"], r["change_share"], r["end"]["covered_demand"], r["end"]["total_demand"]]
            for r in ch["kinds"]], {2: PERCENT, 4: PERCENT, 5: PERCENT})
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
