"""The /import page in a real Chromium, at desktop and phone size: a file with one bad feature is refused with
that feature's number and changes nothing; a good file shows its preview, is confirmed, and its new checkpoint
is then served by /api/layers/checkpoints.

The server holds the mini campus alone (tests/data), so the checkpoints added here touch no other test.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ..conftest import DATA, empty_database
from .conftest import LiveServer, shared_server, shot, wait_idle, watch

pytestmark = pytest.mark.browser
VIEWPORTS = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}


@pytest.fixture
def mini(store: str, tmp_path_factory: pytest.TempPathFactory) -> LiveServer:
    def make() -> LiveServer:
        url = empty_database(store, tmp_path_factory.mktemp(f"import-{store}"), "import")
        return LiveServer(url, config={"SAMPLE_GEODATA": str(DATA)})  # folders with a campus.json: the mini campus

    return shared_server(f"import-{store}", make)


def _checkpoints(context: Any, live: LiveServer) -> dict[str, str]:
    """The mini campus's checkpoints as the API serves them: source id -> name."""
    response = context.request.get(f"{live.url}/api/layers/checkpoints?campus=mini&limit=1000")
    assert response.ok, response.status
    return {f["properties"]["source_id"]: f["properties"]["name"] for f in response.json()["features"]}


def _file(path: Path, *points: tuple[str, float, float, str, str]) -> Path:
    features = [{"type": "Feature", "id": fid, "geometry": {"type": "Point", "coordinates": [lon, lat]},
                 "properties": {"name": name, "kind": kind}} for fid, lon, lat, name, kind in points]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False),
                    encoding="utf-8")
    return path


def _cells(row: Any) -> list[str]:
    return [c.strip() for c in row.locator("td").all_inner_texts()]


def _upload(page: Any, path: Path) -> None:
    page.set_input_files("[data-role=file]", str(path))
    with page.expect_response(lambda r: r.url.endswith("/api/imports") and r.request.method == "POST") as answer:
        page.click("[data-role=upload]")
    assert answer.value.status == 201, answer.value.text()
    page.wait_for_selector("[data-role=preview]:not([hidden])")
    wait_idle(page)
    assert page.evaluate("() => window.patrolmap.uploadProgress") == 1  # the progress bar saw the whole file go


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_refused_file_then_preview_confirm_and_result(browser: Any, mini: LiveServer, store: str, viewport: str,
                                                      tmp_path: Path) -> None:
    context = browser.new_context(viewport=VIEWPORTS[viewport], locale="en-US")
    try:
        mini.sign_in(context)
        page = context.new_page()
        trouble = watch(page)
        before = _checkpoints(context, mini)
        page.goto(f"{mini.url}/import", wait_until="networkidle")

        # One bad feature (the third: latitude 95): refused with its number, nothing written, no confirm offered.
        bad = _file(tmp_path / "checkpoints.geojson", (f"{viewport}-1", 116.3510, 40.0010, "图书馆北", "other"),
                    (f"{viewport}-2", 116.3515, 40.0012, "东门", "gate"), (f"{viewport}-3", 116.3512, 95.0, "北门", "gate"))
        _upload(page, bad)
        preview = page.locator("[data-role=preview]")
        assert "Nothing can be written" in preview.locator("[data-role=verdict]").inner_text()
        rows = preview.locator("[data-role=problems] tbody tr")
        assert rows.count() == 1
        layer, feature, field, message = _cells(rows.first)
        assert (layer, feature, field) == ("Checkpoints", "3", "geometry") and "latitude" in message
        assert not page.locator("[data-role=confirm]").is_visible()
        assert _checkpoints(context, mini) == before
        page.click("[data-role=cancel]")
        page.wait_for_selector("[data-role=preview]", state="hidden")
        wait_idle(page)

        # A good file: one new checkpoint, one as stored; the preview says so, Confirm writes it.
        good = _file(tmp_path / "gates.geojson", (f"{viewport}-new", 116.3517, 40.0011, "<b>东门</b>", "gate"),
                     ("k2", 116.3524, 40.0008, "食堂门口", "canteen"))  # k2 exactly as stored
        page.select_option("[data-role=layer]", "checkpoints")
        _upload(page, good)
        counts = page.locator("[data-role=counts] tbody tr")
        assert counts.count() == 1 and _cells(counts.first) == ["Checkpoints", "1", "0", "1"]
        assert "Ready" in page.locator("[data-role=verdict]").inner_text()
        shot(page, f"import-preview-{viewport}-{store}")
        confirm = page.locator("[data-role=confirm]")
        box = confirm.bounding_box()
        assert box is not None and box["x"] + box["width"] <= VIEWPORTS[viewport]["width"]
        with page.expect_response(lambda r: r.url.endswith("/commit")) as answer:
            confirm.click()
        assert answer.value.status == 200
        page.wait_for_selector("[data-role=result]:not([hidden])")
        wait_idle(page)
        assert _cells(page.locator("[data-role=written] tbody tr").first) == ["Checkpoints", "1", "0", "1"]
        assert "Written in" in page.locator("[data-role=result-note]").inner_text()
        shot(page, f"import-result-{viewport}-{store}")

        after = _checkpoints(context, mini)
        assert after == {**before, f"{viewport}-new": "<b>东门</b>"}
        # Nothing spills sideways on a phone: the tables scroll inside their own boxes.
        assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")
        assert not trouble.report(), trouble.report()
    finally:
        context.close()
