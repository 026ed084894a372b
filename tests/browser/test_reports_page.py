"""A department head opens /reports in a real browser, picks last month's sample data, reads it and downloads it.

In both languages: every chart image loads and has pixels, the tables hold the API's figures, the
print button is there (and its print stylesheet hides the controls), and the workbook downloads and
opens; no console error, no failed request, nothing fetched from off the machine.
"""

from __future__ import annotations

from typing import Any

import pytest
from openpyxl import load_workbook

from .conftest import LiveServer, shot, watch

OCTOBER = "/reports?campus=cau-east&period=month&date=2026-10-01"
FIRE_LANE = {"zh-CN": "占用消防通道", "en-US": "fire lane blocked"}


@pytest.mark.parametrize("language", ["en-US", "zh-CN"])
def test_a_department_head_reads_last_month_and_downloads_it(browser: Any, live: LiveServer, language: str,
                                                             tmp_path: Any) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale=language, accept_downloads=True)
    live.sign_in(context)
    page = context.new_page()
    trouble = watch(page)
    page.goto(live.url + "/reports", wait_until="networkidle")
    # From this month to October 2026 through the form, as a person would.
    page.select_option("select[name=period]", "month")
    page.fill("input[name=date]", "2026-10-01")
    page.click("#pm-report-form button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert "date=2026-10-01" in page.url and "period=month" in page.url
    chinese = language.startswith("zh")
    assert page.evaluate("() => document.documentElement.lang") == ("zh-CN" if chinese else "en")
    api = context.request.get(live.url + "/api/reports?campus=cau-east&period=month&date=2026-10-01").json()
    sizes = page.evaluate("() => Array.from(document.querySelectorAll('.pm-chart img'))"
                          ".map(i => [i.dataset.chart, i.complete, i.naturalWidth, i.naturalHeight])")
    assert len(sizes) == len(api["charts"]) and all(ok and w > 300 and h > 150 for _, ok, w, h in sizes), sizes
    row = page.locator("#pm-by-kind tr[data-kind=fire_lane]")
    fire = next(r for r in api["violations"]["by_kind"] if r["kind"] == "fire_lane")
    assert row.locator("td").nth(0).inner_text() == FIRE_LANE[language]
    assert row.locator("td").nth(1).inner_text() == f"{fire['count']:,}"
    assert f"{api['violations']['total']:,}" in page.locator(".pm-summary").inner_text()
    # Printing hides the controls and keeps the figures.
    page.emulate_media(media="print")
    assert not page.locator("#pm-report-form").is_visible() and not page.locator("#pm-print").is_visible()
    assert page.locator("#pm-by-kind").is_visible()
    page.emulate_media(media="screen")
    shot(page, f"reports-{language}")
    with page.expect_download() as info:
        page.click("#pm-xlsx")
    path = tmp_path / info.value.suggested_filename
    info.value.save_as(path)
    assert path.name == "patrolmap-report-cau-east-2026-10-01-2026-10-31.xlsx"
    book = load_workbook(path)
    summary = {r[0]: r[1] for r in book.worksheets[0].iter_rows(min_row=2, values_only=True)}
    assert api["violations"]["total"] in summary.values()
    assert not trouble.console_errors and not trouble.page_errors, trouble.report()
    assert not trouble.failed_requests and not trouble.blocked_requests, trouble.report()
    context.close()
