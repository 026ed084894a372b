"""The audit log: written with each change, append-only, scoped per university, readable and exportable."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import select

from patrolmap.audit import AuditLogIsAppendOnly
from patrolmap.extensions import db
from patrolmap.importing import CampusInfo, load_geodata
from patrolmap.models import AuditEntry, Campus

from .conftest import DATA, signed_in_client

RECORD = {"campus": "mini", "lon": 116.3512, "lat": 40.0007, "kind": "entrance", "plate": "京A12345"}


@pytest.fixture
def loaded(app: Flask) -> Flask:
    load_geodata(db.session, DATA / "minicampus")
    load_geodata(db.session, DATA / "minicampus", campus=CampusInfo("other", "Other campus", None, "Other U"))
    db.session.commit()
    return app


def test_recording_names_the_user_and_campus(loaded: Flask) -> None:
    staff = signed_in_client(loaded, "duty-li", "traffic_staff")
    created = staff.post("/api/violations", json=RECORD).get_json()
    admin = signed_in_client(loaded, "root", "admin")
    page = admin.get("/api/audit?layer=violations&action=create").get_json()
    assert page["numberMatched"] == page["numberReturned"] == 1
    entry = page["entries"][0]
    assert (entry["actor"], entry["campus"], entry["feature_id"]) == ("duty-li", "mini", created["id"])
    assert entry["after"]["plate"] == "京A12345" and entry["after"]["kind"] == "entrance"
    at = dt.datetime.fromisoformat(entry["at"])
    assert at.utcoffset() == dt.timedelta(0) and abs(dt.datetime.now(dt.UTC) - at) < dt.timedelta(minutes=5)


def test_filters_and_paging(loaded: Flask) -> None:
    admin = signed_in_client(loaded, "root", "admin")
    for _ in range(3):
        assert admin.post("/api/violations", json=RECORD).status_code == 201
    everything = admin.get("/api/audit").get_json()
    # Two imports (one entry each) and three recordings.
    assert everything["numberMatched"] == 5
    ids = [e["id"] for e in everything["entries"]]
    assert ids == sorted(ids, reverse=True)  # newest first
    second_page = admin.get("/api/audit?limit=2&offset=2").get_json()
    assert [e["id"] for e in second_page["entries"]] == ids[2:4]
    assert admin.get("/api/audit?actor=root").get_json()["numberMatched"] == 3
    tomorrow = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).date().isoformat()
    assert admin.get(f"/api/audit?since={tomorrow}").get_json()["numberMatched"] == 0
    assert admin.get(f"/api/audit?until={tomorrow}").get_json()["numberMatched"] == 5
    bad = admin.get("/api/audit?since=yesterday")
    assert bad.status_code == 400 and "ISO 8601" in bad.get_json()["message"]
    assert admin.get("/api/audit?format=xml").status_code == 400
    assert admin.get("/api/audit?feature_id=abc").status_code == 400


def test_csv_export_holds_what_the_json_says(loaded: Flask) -> None:
    admin = signed_in_client(loaded, "root", "admin")
    admin.post("/api/violations", json={**RECORD, "note": "=HYPERLINK(\"http://x\")"})
    db.session.add(AuditEntry(actor="=cmd|'/c calc'!A1", action="update", layer="violations",
                              reason="-2+3", campus_id=None))
    db.session.commit()
    as_json = admin.get("/api/audit").get_json()["entries"]
    response = admin.get("/api/audit?format=csv")
    assert response.mimetype == "text/csv" and "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert [int(r["id"]) for r in rows] == [e["id"] for e in as_json]
    for row, entry in zip(rows, as_json, strict=True):
        assert row["at"] == entry["at"] and row["layer"] == entry["layer"]
        assert (json.loads(row["after"]) if row["after"] else None) == entry["after"]
    # Text a spreadsheet would run as a formula is defused with a leading quote.
    assert rows[0]["actor"] == "'=cmd|'/c calc'!A1" and rows[0]["reason"] == "'-2+3"
    # The filters apply to exports too.
    only = admin.get("/api/audit?format=csv&action=import").get_data(as_text=True)
    assert len(list(csv.DictReader(io.StringIO(only)))) == 2


def test_each_university_sees_its_own_entries(loaded: Flask, runner: FlaskCliRunner) -> None:
    assert runner.invoke(args=["create-user", "someone", "--role", "viewer", "--generate-password"]).exit_code == 0
    campuses = {slug: cid for cid, slug in db.session.execute(select(Campus.id, Campus.slug))}
    tu_admin = signed_in_client(loaded, "tu-admin", "admin", university="Test University")
    seen = tu_admin.get("/api/audit").get_json()["entries"]
    assert [e["campus"] for e in seen] == ["mini"]  # its import; not the other's, not deployment-wide users
    root = signed_in_client(loaded, "root", "admin")
    everything = root.get("/api/audit").get_json()["entries"]
    assert sorted(str(e["campus"]) for e in everything) == ["None", "mini", "other"]
    users = [e for e in everything if e["layer"] == "users"]
    assert users[0]["after"]["username"] == "someone" and users[0]["actor"] == "cli"
    assert len(campuses) == 2


def test_the_log_is_append_only(loaded: Flask) -> None:
    entry = db.session.scalars(select(AuditEntry)).first()
    entry.reason = "rewritten"
    with pytest.raises(AuditLogIsAppendOnly):
        db.session.flush()
    db.session.rollback()
    db.session.delete(db.session.scalars(select(AuditEntry)).first())
    with pytest.raises(AuditLogIsAppendOnly):
        db.session.flush()
    db.session.rollback()
    # The database itself refuses deletes, whatever client connects.
    with pytest.raises(sa.exc.DBAPIError, match="append-only"):
        db.session.execute(sa.text("DELETE FROM audit_log"))
    db.session.rollback()
    assert db.session.scalar(select(sa.func.count()).select_from(AuditEntry)) == 2


def test_the_page_lists_entries_escaped(loaded: Flask) -> None:
    db.session.add(AuditEntry(actor="<script>alert(1)</script>", action="update", layer="violations",
                              reason="<img src=x onerror=alert(2)>"))
    db.session.commit()
    admin = signed_in_client(loaded, "root", "admin")
    html = admin.get("/admin/audit").get_data(as_text=True)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>alert(1)" not in html
    assert "&lt;img src=x onerror=alert(2)&gt;" in html
    assert "3 entries" in html and 'href="/admin/audit"' in html
    filtered = admin.get("/admin/audit?action=import").get_data(as_text=True)
    assert "2 entries" in filtered and "&lt;script&gt;" not in filtered
    assert signed_in_client(loaded, "v", "viewer").get("/admin/audit").status_code == 403


def _reasons_written_in_the_code() -> list[tuple[str, str]]:
    """Every literal audit reason in patrolmap's source (reason="..." or f"...", also after `reason or`),
    with its placeholders filled by sample values; (where, text)."""
    import ast
    from pathlib import Path

    def text_of(node: ast.expr) -> str | None:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return node.value
        if isinstance(node, ast.JoinedStr):
            return "".join(v.value if isinstance(v, ast.Constant) else "X9" for v in node.values)
        if isinstance(node, ast.BoolOp):
            return text_of(node.values[-1])
        if isinstance(node, ast.IfExp):
            return text_of(node.body) or text_of(node.orelse)
        return None

    found = []
    for path in sorted((Path(__file__).resolve().parent.parent / "patrolmap").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            for keyword in node.keywords:
                values = [keyword.value]
                if isinstance(keyword.value, ast.IfExp):
                    values = [keyword.value.body, keyword.value.orelse]
                for value in values:
                    text = text_of(value) if keyword.arg == "reason" else None
                    if text and text != "-":  # "-": a transition check's stand-in, not an entry's reason
                        found.append((f"{path.name}:{node.lineno}", text))
    return found


def test_every_reason_the_code_writes_is_translated() -> None:
    from flask_babel import force_locale, gettext

    from patrolmap import create_app
    from patrolmap.audit import reason_label
    from patrolmap.editing import revert_tag

    written = _reasons_written_in_the_code()
    texts = {text for _, text in written}
    assert {"recorded", "split at X9, X9", "joined into path X9", "re-planned", "edited"} <= texts, texts
    marked = [(where, text) for where, text in written if not reason_label(text, lambda t: "«" + t).startswith("«")]
    assert not marked, f"audit reasons missing from wording.AUDIT_REASONS: {marked}"
    app = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://", "AUTO_INIT_DB": False, "GC_FREEZE": False})
    with app.test_request_context(), force_locale("zh_Hans_CN"):
        assert reason_label("split at 116.3501000, 40.0002000", gettext) == "在 116.3501000, 40.0002000 处拆分"
        assert reason_label("recorded", gettext) == "登记"
        # A revert with the admin's own words: the template is translated, the words kept.
        assert reason_label(f"{revert_tag(7)}: 打错了 typo", gettext) == "撤销审计记录 7：打错了 typo"
        assert reason_label(revert_tag(12), gettext) == "撤销审计记录 12"
        # What a person typed stays as typed, even when it starts like one of ours.
        for typed in ("路面施工", "recorded twice", "split at the gate", None, ""):
            assert reason_label(typed, gettext) == (typed or "")


def test_the_page_shows_reasons_in_the_readers_language(loaded: Flask) -> None:
    staff = signed_in_client(loaded, "duty-li", "traffic_staff")
    assert staff.post("/api/violations", json=RECORD).status_code == 201
    admin = signed_in_client(loaded, "root", "admin")
    chinese = admin.get("/admin/audit?action=create", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert '<td title="recorded">登记</td>' in chinese
    english = admin.get("/admin/audit?action=create").get_data(as_text=True)
    assert "<td>recorded</td>" in english
    # The stored reason (the evidence) is unchanged: the API and the CSV give it as written.
    assert admin.get("/api/audit?action=create").get_json()["entries"][0]["reason"] == "recorded"
