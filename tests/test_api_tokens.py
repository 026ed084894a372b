"""API tokens for scripts and handhelds: they work without cookies or CSRF, and revoking ends them."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import select

from patrolmap.extensions import db
from patrolmap.importing import load_geodata
from patrolmap.models import ApiToken

from .conftest import DATA, signed_in_client

BODY = {"campus": "mini", "lon": 116.3512, "lat": 40.0007, "kind": "other"}


def make_token(runner: FlaskCliRunner, username: str) -> tuple[int, str]:
    result = runner.invoke(args=["create-token", username, "--name", "gate handheld 3"])
    assert result.exit_code == 0, result.output
    token = result.output.split("token (shown once): ")[1].strip()
    token_id = int(result.output.split()[1])
    return token_id, token


def test_token_acts_as_its_user_and_revoking_ends_it(app: Flask, runner: FlaskCliRunner) -> None:
    load_geodata(db.session, DATA / "minicampus")
    signed_in_client(app, "handheld", "traffic_staff")
    token_id, token = make_token(runner, "handheld")
    assert db.session.scalars(select(ApiToken.token_hash)).one() != token, "only a hash is stored"
    script = app.test_client()
    auth = {"Authorization": f"Bearer {token}"}
    assert script.get("/api/me", headers=auth).get_json()["username"] == "handheld"
    # No cookie, so no CSRF token is needed: a forged cross-site request cannot carry the header.
    assert script.post("/api/violations", json=BODY, headers=auth).status_code == 201
    assert runner.invoke(args=["revoke-token", str(token_id)]).exit_code == 0
    refused = script.get("/api/layers/violations", headers=auth)
    assert refused.status_code == 401 and "revoked" in refused.get_json()["message"]
    assert runner.invoke(args=["revoke-token", str(token_id)]).exit_code != 0


def test_token_keeps_its_users_limits(app: Flask, runner: FlaskCliRunner) -> None:
    load_geodata(db.session, DATA / "minicampus")
    signed_in_client(app, "watcher", "viewer")
    _, token = make_token(runner, "watcher")
    auth = {"Authorization": f"Bearer {token}"}
    client = app.test_client()
    assert client.post("/api/violations", json=BODY, headers=auth).status_code == 403
    plates = {f["properties"]["plate"] for f in client.get("/api/layers/violations", headers=auth).get_json()["features"]}
    assert "京A12345" not in plates and "京A·***45" in plates


def test_bad_tokens_and_unknown_users(app: Flask, runner: FlaskCliRunner) -> None:
    client = app.test_client()
    assert client.get("/api/layers", headers={"Authorization": "Bearer nonsense"}).status_code == 401
    result = runner.invoke(args=["create-token", "nobody", "--name", "x"])
    assert result.exit_code != 0 and "unknown user" in result.output
