"""The reports API, workbook, charts and command on both stores.

On the sample campus (geodata/cau-east) the figures of October 2026 are counted again from its
violations.csv with the csv module and zoneinfo, and the JSON, both workbooks (English and
Chinese) and the charts are checked against them and against each other.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import zoneinfo
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from flask_babel import force_locale, gettext
from openpyxl import load_workbook
from PIL import Image

from patrolmap.extensions import db
from patrolmap.importing import load_geodata
from patrolmap.reports.workbook import SHEETS
from patrolmap.store import ensure_campus, list_campuses
from patrolmap.wording import VALUE_LABELS

from .conftest import signed_in_client

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "geodata" / "cau-east"
SH = zoneinfo.ZoneInfo("Asia/Shanghai")
ZH = {"Accept-Language": "zh-CN"}
OCTOBER = "campus=cau-east&period=month&date=2026-10-15"


def _sample_counts() -> dict[str, Any]:
    """October 2026 and September 2026 of the sample's CSV, counted in plain Python (void ones left out)."""
    out: dict[str, Any] = {"kinds": Counter(), "hours": Counter(), "weekdays": Counter(), "days": Counter(),
                           "september": 0, "plates": set()}
    with (SAMPLE / "violations.csv").open(encoding="utf-8") as f:
        for row in csv.DictReader(f):
            out["plates"].add(row["plate"])
            if row["status"] == "void":
                continue
            at = dt.datetime.fromisoformat(row["observed_at"]).astimezone(SH)
            if (at.year, at.month) == (2026, 9):
                out["september"] += 1
            if (at.year, at.month) != (2026, 10):
                continue
            out["kinds"][row["kind"]] += 1
            out["hours"][at.hour] += 1
            out["weekdays"][at.weekday()] += 1
            out["days"][at.day] += 1
    out["plates"] -= {"", "无牌"}
    return out


def _sheet(book: Any, key: str, language: str) -> Any:
    with force_locale(language):
        title = gettext(SHEETS[key])
    return book[title[:31]]


def _rows(ws: Any) -> list[tuple[Any, ...]]:
    return list(ws.iter_rows(min_row=2, values_only=True))


def _png(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def test_the_sample_campus_report_agrees_with_its_csv_in_json_workbooks_and_charts(app: Flask,
                                                                                   client: FlaskClient) -> None:
    load_geodata(db.session, SAMPLE)
    db.session.commit()
    want = _sample_counts()
    response = client.get(f"/api/reports?{OCTOBER}")
    assert response.status_code == 200, response.get_json()
    report = response.get_json()
    v = report["violations"]
    assert report["period"]["from"] == "2026-10-01" and report["period"]["to"] == "2026-10-31"
    assert v["total"] == sum(want["kinds"].values()) > 1000
    assert v["previous"] == want["september"]
    assert {r["kind"]: r["count"] for r in v["by_kind"]} == {k: want["kinds"][k] for k in
                                                             (r["kind"] for r in v["by_kind"])}
    assert v["by_hour"] == [want["hours"][h] for h in range(24)]
    assert v["by_weekday"] == [want["weekdays"][d] for d in range(7)]
    assert v["daily"] == [want["days"][d] for d in range(1, 32)]
    assert v["hot_cells"]["hot"] > 0 and v["hot_cells"]["top"]
    text = response.get_data(as_text=True)
    assert not [p for p in want["plates"] if p in text]  # a plate is never in a report

    # The workbook in English: numbers are numbers, and they are the API's.
    book = load_workbook(io.BytesIO(client.get(report["workbook"], headers={"Accept-Language": "en"}).data))
    assert book.sheetnames[0] == "Summary" and len(book.sheetnames) == len(SHEETS)
    by_kind = {r[0]: r for r in _rows(_sheet(book, "by_kind", "en"))}
    for row in v["by_kind"]:
        _, count, previous, change, pct = by_kind[VALUE_LABELS[row["kind"]]]
        assert (count, previous, change) == (row["count"], row["previous"], row["change"])
        assert all(type(x) is int for x in (count, previous, change))
        assert pct == pytest.approx(row["change_pct"] / 100)
    ws = _sheet(book, "by_kind", "en")
    assert ws["E2"].number_format == "0.0%"
    assert [r[1] for r in _rows(_sheet(book, "by_hour", "en"))] == v["by_hour"]
    assert [list(r[1:25]) for r in _rows(_sheet(book, "hour_weekday", "en"))] == v["hour_weekday"]
    daily = _rows(_sheet(book, "daily", "en"))
    assert [r[1] for r in daily] == v["daily"]
    assert daily[0][0] == dt.datetime(2026, 10, 1) and daily[0][2] == dt.datetime(2026, 9, 1)
    summary = {r[0]: r for r in _rows(_sheet(book, "summary", "en"))}
    assert summary["Violations"][1:4] == (v["total"], v["previous"], v["change"])
    assert summary["Period"][1:3] == (dt.datetime(2026, 10, 1), dt.datetime(2026, 10, 31))
    cells = [c.value for ws in book.worksheets for row in ws.iter_rows() for c in row if isinstance(c.value, str)]
    assert not [p for p in want["plates"] if p in "\n".join(cells)]

    # In Chinese: Chinese headers and values, the same numbers.
    zh = load_workbook(io.BytesIO(client.get(report["workbook"], headers=ZH).data))
    kinds_zh = _sheet(zh, "by_kind", "zh_CN")
    assert kinds_zh["A1"].value == "类型"  # a header the catalogue already holds
    assert {r[0]: r[1] for r in _rows(kinds_zh)}["占用消防通道"] == want["kinds"]["fire_lane"]
    with force_locale("zh_CN"):
        assert _sheet(zh, "summary", "zh_CN")["B1"].value == gettext("This period")
    assert [r[1] for r in _rows(_sheet(zh, "by_hour", "zh_CN"))] == v["by_hour"]

    # Every chart is a PNG with something drawn on it (two of them in Chinese as well).
    for name, url in report["charts"].items():
        for headers in ({"Accept-Language": "en"}, ZH) if name in ("violations-by-kind", "hotspot-map") else (
                {"Accept-Language": "en"},):
            got = client.get(url, headers=headers)
            assert got.status_code == 200 and got.mimetype == "image/png", name
            image = _png(got.data)
            assert image.width >= 300 and image.height >= 150, name
            colours = image.convert("RGB").getcolors(maxcolors=1 << 16)
            assert colours is None or len(colours) > 20, name  # not a blank canvas
    download = client.get(report["charts"]["trend"] + "&download=1")
    assert "attachment" in download.headers["Content-Disposition"]

    # The page shows the same figures.
    page = client.get(f"/reports?{OCTOBER}", headers=ZH).get_data(as_text=True)
    assert '<html lang="zh-CN">' in page and f"{v['total']:,}" in page and "占用消防通道" in page
    assert page.count('<img src="/api/reports/charts/') == len(report["charts"])


BAD = [
    ("period=year", 400, "period must be one of"),
    ("period=month&date=2026-02-30", 400, "date must be a date"),
    ("period=custom&from=2026-03-01", 400, "needs from and to"),
    ("period=custom&from=2026-03-09&to=2026-03-01", 400, "is after"),
    ("period=custom&from=2025-01-01&to=2026-12-31", 400, "at most 400 days"),
    ("period=term&date=2026-03-01", 400, "no school terms"),
    ("period=month&period=week", 400, "only once"),
]


def test_bad_parameters_answer_400_json_and_other_campuses_404(app: Flask, client: FlaskClient,
                                                                two_universities: dict[str, int]) -> None:
    for query, status, words in BAD:
        for url in (f"/api/reports?campus=mini&{query}", f"/api/reports.xlsx?campus=mini&{query}",
                    f"/api/reports/charts/trend.png?campus=mini&{query}"):
            response = client.get(url)
            assert response.status_code == status, (url, response.status_code)
            assert words in response.get_json()["message"], (url, response.get_json())
    assert client.get("/reports?campus=mini&period=year").status_code == 400  # the page: an HTML error page
    assert "campus is required" in client.get("/api/reports?period=month").get_json()["message"]  # two campuses
    first = list_campuses(db.session, None)[0]
    opened = client.get("/reports?period=month&date=2026-03-05")  # the page opens on the first and offers the rest
    assert opened.status_code == 200 and f'value="{first.slug}" selected' in opened.get_data(as_text=True)
    assert client.get("/api/reports/charts/pie.png?campus=mini").status_code == 404
    assert client.get("/api/reports/charts/trend.png?campus=mini&report=made-up").status_code == 200  # recomputed
    assert client.get("/api/reports?campus=nowhere").status_code == 404
    assert client.get("/api/reports?campus=¹").status_code == 404  # a digit to str.isdigit, not to int()
    assert client.get("/api/reports?campus=99999999999999999999").status_code == 404
    staff = signed_in_client(app, "staff-of-test-u", "traffic_staff", university="Test University")
    assert staff.get("/api/reports?campus=other").status_code == 404  # another university's campus
    march = staff.get("/api/reports?period=month&date=2026-03-05")  # their only campus
    assert march.status_code == 200 and march.get_json()["violations"]["total"] == 4
    assert signed_in_client(app, "a-viewer", "viewer").get("/api/reports?campus=mini").status_code == 403
    # A campus with nothing in it yet: a report of zeros, the charger section saying why it has none.
    ensure_campus(db.session, "empty", name="空校区")
    db.session.commit()
    empty = client.get("/api/reports?campus=empty&period=week&date=2026-03-04").get_json()
    assert empty["period"]["from"] == "2026-03-02" and empty["violations"]["total"] == 0
    assert empty["chargers"]["kinds"] == [] and "no path network" in empty["chargers"]["error"]["message"]
    page = client.get("/reports?campus=empty&period=week&date=2026-03-04", headers=ZH).get_data(as_text=True)
    with force_locale("zh_CN"):
        assert gettext("campus %(campus)s has no path network to route on", campus="empty") in page
    for name, url in empty["charts"].items():
        assert _png(client.get(url).data).width >= 300, name


def test_terms_from_the_calendar_and_formula_like_names_stay_text(app: Flask, client: FlaskClient,
                                                                  two_universities: dict[str, int],
                                                                  tmp_path: Path) -> None:
    calendar = tmp_path / "calendar.json"
    calendar.write_text(json.dumps({"terms": [{"name": "2025 autumn", "from": "2025-09-01", "to": "2026-01-16"},
                                              {"name": "2026 spring", "from": "2026-02-23", "to": "2026-07-10"}]}))
    app.config["CALENDAR"] = str(calendar)
    square = [[[116.3505, 40.0005], [116.3515, 40.0005], [116.3515, 40.0012], [116.3505, 40.0012],
               [116.3505, 40.0005]]]
    assert client.post("/api/hotspots", json={"type": "Feature", "campus": "mini", "geometry": {
        "type": "Polygon", "coordinates": square}, "properties": {"name": '=HYPERLINK("http://x","y")',
                                                                 "kind": "no_parking_watch"}}).status_code == 201
    report = client.get("/api/reports?campus=mini&period=term&date=2026-03-05").get_json()
    assert (report["period"]["from"], report["period"]["to"], report["period"]["name"]) == (
        "2026-02-23", "2026-07-10", "2026 spring")
    assert (report["previous"]["from"], report["previous"]["name"]) == ("2025-09-01", "2025 autumn")
    assert report["violations"]["total"] == 4
    book = load_workbook(io.BytesIO(client.get(report["workbook"]).data))
    ws = _sheet(book, "by_hotspot", "en")
    assert ws["A2"].value == '=HYPERLINK("http://x","y")' and ws["A2"].data_type == "s"


def test_the_report_command_writes_the_workbook_or_json_and_refuses_bad_input(
        app: Flask, runner: FlaskCliRunner, client: FlaskClient, two_universities: dict[str, int],
        tmp_path: Path) -> None:
    xlsx, js = tmp_path / "march.xlsx", tmp_path / "march.json"
    done = runner.invoke(args=["report", "--campus", "mini", "--period", "month", "--date", "2026-03-01",
                               "--out", str(xlsx), "--language", "zh_CN"])
    assert done.exit_code == 0, done.output
    book = load_workbook(xlsx)
    kinds = {r[0]: r[1] for r in _rows(_sheet(book, "by_kind", "zh_CN"))}
    assert kinds["占用消防通道"] == 1 and sum(kinds.values()) == 4  # the mini campus's four March violations
    assert runner.invoke(args=["report", "--campus", "mini", "--date", "2026-03-01", "--out", str(js)]).exit_code == 0
    written = json.loads(js.read_text(encoding="utf-8"))
    api = client.get("/api/reports?campus=mini&period=month&date=2026-03-01").get_json()
    assert written["violations"] == api["violations"] and written["period"] == api["period"]
    for args, words in [(["--campus", "nowhere"], "unknown campus"), (["--campus", "mini", "--date", "2026-02-30"],
                                                                     "date must be a date"),
                        (["--campus", "mini", "--period", "custom"], "needs from and to"),
                        ([], "there are 2 campuses")]:
        out = tmp_path / "bad.xlsx"
        failed = runner.invoke(args=["report", *args, "--out", str(out)])
        assert failed.exit_code != 0 and words in failed.output, (args, failed.output)
        assert not out.exists()
    wrong = runner.invoke(args=["report", "--campus", "mini", "--out", str(tmp_path / "report.txt")])
    assert wrong.exit_code != 0 and ".xlsx or .json" in wrong.output
