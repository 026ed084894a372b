"""Chinese and English: complete catalogues, the language chosen as people expect, translated errors."""

from __future__ import annotations

import html
import re
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po
from flask import Flask

from patrolmap.extensions import db
from patrolmap.geo.schema import SCHEMAS
from patrolmap.importing import load_geodata
from patrolmap.layers import LAYERS
from patrolmap.models import User
from patrolmap.web.pages import PAGE_URLS, PAGES
from patrolmap.wording import FIELD_LABELS, LAYER_TITLES, PAGE_TITLES, VALUE_LABELS

from .conftest import DATA, signed_in_client

ROOT = Path(__file__).resolve().parents[1]
CATALOGUE = ROOT / "patrolmap" / "translations" / "zh_Hans_CN" / "LC_MESSAGES"
ZH = {"Accept-Language": "zh-CN,zh;q=0.9"}
EN = {"Accept-Language": "en-US,en;q=0.9"}


def _entries(catalog: object) -> dict[str, object]:
    """msgid -> msgstr; plural entries by their singular, with their forms as a tuple."""
    return {m.id if isinstance(m.id, str) else m.id[0]: m.string if isinstance(m.string, str) else tuple(m.string)
            for m in catalog if m.id}  # type: ignore[attr-defined]


def _po() -> dict[str, object]:
    with (CATALOGUE / "messages.po").open("rb") as f:
        return _entries(read_po(f))


def test_every_message_is_translated_and_compiled() -> None:
    po = _po()
    untranslated = [k for k, v in po.items() if not v or (isinstance(v, tuple) and not all(v))]
    assert untranslated == []
    with (CATALOGUE / "messages.mo").open("rb") as f:
        mo = _entries(read_mo(f))
    assert mo == po, "the .mo is stale: run scripts/update_translations.py"


@pytest.mark.store("sqlite")
def test_the_catalogue_holds_every_message_in_the_code(tmp_path: Path) -> None:
    """Extract afresh: a message added to the code but not to the catalogue fails here."""
    from scripts.update_translations import KEYWORDS

    pot = tmp_path / "fresh.pot"
    keywords = [arg for k in KEYWORDS for arg in ("-k", k)]
    subprocess.run([sys.executable, "-m", "babel.messages.frontend", "extract", "-F", "babel.cfg", *keywords,
                    "--no-location", "-o", str(pot), "."], check=True, cwd=ROOT, capture_output=True)
    with pot.open("rb") as f:
        fresh = {m.id if isinstance(m.id, str) else m.id[0] for m in read_po(f) if m.id}
    assert fresh - set(_po()) == set(), "run scripts/update_translations.py and translate the new entries"


def test_every_shown_field_value_layer_and_page_has_words() -> None:
    for layer in LAYERS.values():
        assert layer.id in LAYER_TITLES
        assert set(layer.popup) <= set(FIELD_LABELS), layer.id
    for schema in SCHEMAS.values():
        for spec in schema.fields:
            assert set(spec.choices or ()) <= set(VALUE_LABELS), (schema, spec.name)
    assert set(PAGES) == set(PAGE_TITLES)


def _visible_text(page: str) -> str:
    """The text a person reads: tags, scripts and styles removed."""
    page = re.sub(r"(?s)<(script|style)\b.*?</\1>", " ", page)
    return html.unescape(re.sub(r"<[^>]+>", "\n", page))


def test_pages_in_chinese_show_no_english_message(app: Flask) -> None:
    load_geodata(db.session, DATA / "minicampus")
    client = signed_in_client(app, "root", "admin")
    po = _po()
    english = {k for k, v in po.items() if v != k and re.search("[A-Za-z]", k)}
    for url in [*PAGE_URLS.values(), "/admin/audit", "/login"]:
        response = client.get(url, headers=ZH)
        assert response.status_code == 200, url
        text = _visible_text(response.get_data(as_text=True))
        lines = {line.strip() for line in text.splitlines() if line.strip()}
        assert lines & english == set(), (url, lines & english)
        assert '<html lang="zh-CN">' in response.get_data(as_text=True)
    overview = client.get("/", headers=ZH).get_data(as_text=True)
    # Layer titles, legend and field labels travel inside the map's script: check them there.
    for chinese in ("建筑", "违停记录", "图例", "宿舍", "无底图", "登记违停"):
        assert chinese.encode("unicode_escape").decode() in overview or chinese in overview, chinese
    english_page = client.get("/", headers=EN).get_data(as_text=True)
    assert '<html lang="en">' in english_page and ">Overview<" in english_page
    # The same check finds the English words on the English page: it can fail.
    english_lines = {line.strip() for line in _visible_text(english_page).splitlines()}
    assert {"Overview", "Patrol", "Sign out", "Audit log"} <= english_lines & english


def test_language_comes_from_setting_then_browser_then_default(app: Flask) -> None:
    def lang(client, **headers):  # type: ignore[no-untyped-def]
        return re.search(r'<html lang="([^"]+)"', client.get("/login", headers=headers).get_data(as_text=True))[1]

    anon = app.test_client()
    assert lang(anon) == "en"  # the test app's default
    app.config["DEFAULT_LANGUAGE"] = "zh_CN"
    assert lang(anon) == "zh-CN"  # the demo's default
    assert lang(anon, **EN) == "en"  # the browser's wish beats the default
    assert lang(anon, **{"Accept-Language": "fr-FR, zh;q=0.5"}) == "zh-CN"
    # A visitor's own choice is kept in a cookie and beats the browser.
    assert anon.post("/language", data={"language": "zh_CN", "next": "/login"}).status_code == 302
    assert lang(anon, **EN) == "zh-CN"
    # A signed-in person's choice is kept on the account (and needs the CSRF token).
    client = signed_in_client(app, "li", "viewer")
    csrf = client.environ_base.pop("HTTP_X_CSRF_TOKEN")
    assert client.post("/language", data={"language": "en"}).status_code == 403
    assert client.post("/language", data={"language": "en", "csrf_token": csrf}).status_code == 302
    assert db.session.scalars(db.select(User).where(User.username == "li")).one().language == "en"
    client.delete_cookie("patrolmap_lang")
    assert lang(client, **ZH) == "en"
    assert client.post("/language", data={"language": "klingon", "csrf_token": csrf}).status_code == 400


def test_api_errors_follow_the_request(app: Flask) -> None:
    app.config["DEFAULT_LANGUAGE"] = "zh_CN"  # pages default to Chinese; the API still answers scripts in English
    client = signed_in_client(app, "root", "admin")
    assert client.get("/api/layers/nope").get_json()["message"].startswith("unknown layer 'nope'")
    assert client.get("/api/layers/nope", headers=ZH).get_json()["message"].startswith("未知图层 'nope'")
    load_geodata(db.session, DATA / "minicampus")
    body = {"campus": "mini", "lon": 116.3512, "lat": 40.0007, "kind": "bogus"}
    english = client.post("/api/violations", json=body).get_json()
    chinese = client.post("/api/violations", json=body, headers=ZH).get_json()
    assert english["message"].startswith("kind: unknown value 'bogus'")
    assert chinese["message"].startswith("kind: 未知取值 'bogus'")
    assert chinese["details"][0]["field"] == "kind"  # machine-readable parts stay English
    assert client.get("/api/layers?bbox=1", headers=ZH).status_code == 200
    bad = client.get("/api/layers/buildings?bbox=1,2,3", headers=ZH).get_json()
    assert bad["message"] == "bbox 格式应为 最小经度,最小纬度,最大经度,最大纬度" and bad["error"] == "BadRequest"


def test_pages_answer_errors_as_pages(app: Flask) -> None:
    client = signed_in_client(app, "root", "admin")
    response = client.get("/?campus=nowhere", headers=ZH)
    assert response.status_code == 404 and response.mimetype == "text/html"
    assert "未知校区 'nowhere'" in html.unescape(response.get_data(as_text=True))
    missing = client.get("/no/such/page", headers=EN)
    assert missing.status_code == 404 and "There is no such page or resource." in missing.get_data(as_text=True)


def test_every_unreachable_reason_is_worded() -> None:
    """Routing and placement say why a point is unreachable in English constants; each has its words."""
    from flask_babel import force_locale

    from patrolmap import create_app
    from patrolmap.placement import distances
    from patrolmap.routing import network
    from patrolmap.web.unreachable import reason_text

    constants = {name: getattr(m, name) for m in (network, distances) for name in dir(m) if name.startswith("REASON_")}
    assert len(constants) >= 6, constants
    samples = [text.format(snap=150, dist=212.4) for text in constants.values()]
    app = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://", "AUTO_INIT_DB": False, "GC_FREEZE": False})
    with app.test_request_context(), force_locale("zh_Hans_CN"):
        worded = {text: reason_text(text) for text in samples}
        untranslated = [text for text, words in worded.items() if words == text]
        assert not untranslated, untranslated
        assert worded[network.REASON_TOO_FAR.format(snap=150, dist=212.4)] == "距道路网络超过 150 米（212 米）"
        assert reason_text("something a person wrote") == "something a person wrote" and reason_text(None) == ""


def test_codes_read_by_their_field() -> None:
    """"lab" is a building kind and a hazard category: each field has its own words, in every output."""
    from flask_babel import force_locale, gettext

    from patrolmap import create_app
    from patrolmap.geo.schema import HAZARD_CATEGORIES, SCHEMAS
    from patrolmap.wording import FIELD_VALUE_LABELS, value_label, value_labels

    assert "lab" in HAZARD_CATEGORIES and "lab" in SCHEMAS["buildings"].field("kind").choices
    assert value_label("lab", "kind") == "lab" and value_label("lab", "category") == "laboratory safety"
    assert value_label("fire", "category") == "fire safety" and value_label("nonsense") is None
    for key in FIELD_VALUE_LABELS:  # every override names a real field's real code
        field, code = key.split(":")
        assert any(field in [f.name for f in schema.fields] and code in (schema.field(field).choices or ())
                   for schema in SCHEMAS.values()), key
    app = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://", "AUTO_INIT_DB": False, "GC_FREEZE": False})
    with app.test_request_context(), force_locale("zh_Hans_CN"):
        words = value_labels(gettext)
        assert (words["lab"], words["category:lab"]) == ("实验楼", "实验室安全")
