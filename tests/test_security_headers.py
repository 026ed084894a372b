"""Every response carries the safety headers; pages allow only their own scripts and nonced inline ones."""

from __future__ import annotations

import re

from flask.testing import FlaskClient

from patrolmap.extensions import db
from patrolmap.importing import load_geodata
from patrolmap.web.pages import PAGE_URLS

from .conftest import DATA


def directives(header: str) -> dict[str, str]:
    return {part.split()[0]: " ".join(part.split()[1:]) for part in header.split("; ")}


def test_pages_have_a_strict_policy_and_nonced_inline_scripts(client: FlaskClient) -> None:
    load_geodata(db.session, DATA / "minicampus")
    nonces = set()
    for url in PAGE_URLS.values():
        response = client.get(url)
        policy = directives(response.headers["Content-Security-Policy"])
        script_src = policy["script-src"]
        assert "'unsafe-inline'" not in script_src and "'unsafe-eval'" not in script_src
        assert policy["object-src"] == "'none'" and policy["frame-ancestors"] == "'none'"
        assert policy["default-src"] == "'self'" and policy["connect-src"] == "'self'"
        nonce = re.search(r"'nonce-([^']+)'", script_src).group(1)
        nonces.add(nonce)
        html = response.data.decode()
        inline = re.findall(r"<script(?![^>]*\bsrc=)([^>]*)>", html)
        assert inline, url
        assert all(f'nonce="{nonce}"' in attrs for attrs in inline), (url, inline)
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "same-origin"
    assert len(nonces) == len(PAGE_URLS), "a fresh nonce for every response"


def test_api_responses_have_nosniff_and_no_page_policy(client: FlaskClient) -> None:
    response = client.get("/api/layers")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "Content-Security-Policy" not in response.headers


def test_huge_body_is_refused_with_413_json(app, client: FlaskClient) -> None:
    app.config["MAX_CONTENT_LENGTH"] = 1024
    response = client.post("/api/violations", data=b"{" + b" " * 4096 + b"}", content_type="application/json")
    assert response.status_code == 413
    assert response.get_json()["message"]
