"""Sign-in and sessions: cookies, logout that really ends a session, timeouts, rate limit, CSRF."""

from __future__ import annotations

import datetime as dt

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import update

from patrolmap.auth.passwords import hash_password
from patrolmap.extensions import db
from patrolmap.models import LoginSession, User

PASSWORD = "correct horse battery staple"


@pytest.fixture
def user(app: Flask) -> User:
    person = User(username="li.na", password_hash=hash_password(PASSWORD), roles="traffic_staff")
    db.session.add(person)
    db.session.commit()
    return person


def sign_in(anon_client: FlaskClient, password: str = PASSWORD, *, address: str = "10.0.0.1"):
    return anon_client.post("/login", json={"username": "li.na", "password": password},
                       environ_base={"REMOTE_ADDR": address})


def test_sign_in_sets_a_safe_cookie_and_me_answers(anon_client: FlaskClient, user: User) -> None:
    response = sign_in(anon_client)
    assert response.status_code == 200
    cookie = response.headers["Set-Cookie"]
    assert "patrolmap_session=" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # plain HTTP unless PATROLMAP_SECURE_COOKIES=1
    me = anon_client.get("/api/me").get_json()
    assert me["username"] == "li.na" and me["roles"] == ["traffic_staff"]
    assert me["csrf_token"] == response.get_json()["csrf_token"]


def test_secure_cookie_when_configured(app: Flask, anon_client: FlaskClient, user: User) -> None:
    app.config["SESSION_COOKIE_SECURE"] = True
    assert "Secure" in sign_in(anon_client).headers["Set-Cookie"]


def test_wrong_password_and_unknown_user_look_the_same(anon_client: FlaskClient, user: User) -> None:
    wrong = sign_in(anon_client, "wrong horse battery staple")
    unknown = anon_client.post("/login", json={"username": "nobody", "password": PASSWORD})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.get_json()["message"] == unknown.get_json()["message"] == "wrong user name or password"
    assert anon_client.get("/api/me").status_code == 401


def test_cookie_captured_before_logout_is_refused_after(anon_client: FlaskClient, user: User) -> None:
    csrf = sign_in(anon_client).get_json()["csrf_token"]
    token = anon_client.get_cookie("patrolmap_session").value
    # Without the CSRF token the logout is refused and the session lives on.
    assert anon_client.post("/logout", headers={"Accept": "application/json"}).status_code == 403
    assert anon_client.get("/api/me").status_code == 200
    assert anon_client.post("/logout", headers={"X-CSRF-Token": csrf, "Accept": "application/json"}).status_code == 200
    thief = anon_client.application.test_client()
    thief.set_cookie("patrolmap_session", token)
    assert thief.get("/api/me").status_code == 401


@pytest.mark.parametrize(("column", "age"), [("last_seen_at", dt.timedelta(minutes=31)),
                                             ("created_at", dt.timedelta(hours=12, minutes=1))])
def test_idle_and_absolute_timeouts_end_the_session(anon_client: FlaskClient, user: User, column: str,
                                                     age: dt.timedelta) -> None:
    sign_in(anon_client)
    assert anon_client.get("/api/me").status_code == 200
    past = dt.datetime.now(dt.UTC) - age
    db.session.execute(update(LoginSession).values({column: past, "last_seen_at": min(past, dt.datetime.now(dt.UTC))}))
    db.session.commit()
    assert anon_client.get("/api/me").status_code == 401
    assert db.session.scalars(db.select(LoginSession.ended_at)).one() is not None


def test_rate_limit_per_account_answers_429(anon_client: FlaskClient, user: User) -> None:
    for _ in range(5):
        assert sign_in(anon_client, "wrong horse battery staple").status_code == 401
    # Even the right password is refused while the account is locked out.
    response = sign_in(anon_client)
    assert response.status_code == 429
    assert "too many failed sign-ins" in response.get_json()["message"]


def test_rate_limit_per_address(anon_client: FlaskClient, user: User) -> None:
    for i in range(20):
        anon_client.post("/login", json={"username": f"guess{i}", "password": "x"}, environ_base={"REMOTE_ADDR": "10.9.9.9"})
    assert sign_in(anon_client, address="10.9.9.9").status_code == 429
    assert sign_in(anon_client, address="10.0.0.2").status_code == 200


def test_login_page_form_flow(anon_client: FlaskClient, user: User) -> None:
    page = anon_client.get("/login")
    assert page.status_code == 200 and b'name="password"' in page.data
    bad = anon_client.post("/login", data={"username": "li.na", "password": "nope"})
    assert bad.status_code == 401 and b"wrong user name or password" in bad.data
    good = anon_client.post("/login", data={"username": "li.na", "password": PASSWORD})
    assert good.status_code == 302
    home = anon_client.get("/").data
    assert b"Sign out" in home and b"li.na" in home
    assert b'<meta name="csrf-token"' in home
