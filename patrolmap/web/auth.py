"""Sign-in and sign-out pages, the session cookie, and the CSRF check for browser writes."""

from __future__ import annotations

import datetime as dt
import hmac

from flask import Blueprint, Flask, Response, current_app, g, jsonify, redirect, render_template, request, url_for

from patrolmap.auth.sessions import (
    LoginRefused,
    SessionPolicy,
    TooManyAttempts,
    current_session,
    end_session,
    sign_in,
    user_for_token,
)
from patrolmap.database import write_transaction
from patrolmap.errors import BadRequest, Forbidden, RateLimited, Unauthorized
from patrolmap.extensions import db
from patrolmap.i18n import LANG_COOKIE, LANGUAGES, normalise_language
from patrolmap.models import User

bp = Blueprint("auth", __name__)
COOKIE = "patrolmap_session"
# Load balancer probes (patrolmap/web/health.py), open to all.
PROBES = frozenset({"health.healthz", "health.readyz"})


def policy() -> SessionPolicy:
    config = current_app.config
    return SessionPolicy(
        idle=dt.timedelta(minutes=config["SESSION_IDLE_MINUTES"]),
        absolute=dt.timedelta(hours=config["SESSION_ABSOLUTE_HOURS"]),
        per_account=config["LOGIN_LIMIT_PER_ACCOUNT"],
        per_address=config["LOGIN_LIMIT_PER_ADDRESS"],
    )


def load_user() -> None:
    """Find who is calling (if anyone): a script by its API token, a browser by its session cookie."""
    g.token_user = False
    if request.endpoint in PROBES:
        g.user = g.login_session = None  # answered without looking anyone up: cheap, and up while the database is not
        return
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        g.login_session = None
        g.user = user_for_token(db.session, header[len("Bearer "):].strip())
        if g.user is None:
            raise Unauthorized("unknown or revoked API token")
        g.token_user = True
        return
    g.login_session = current_session(db.session, request.cookies.get(COOKIE), policy())
    g.user = db.session.get(User, g.login_session.user_id) if g.login_session else None


def require_csrf() -> None:
    """Refuse a browser write whose token (header or form field) does not match the session's."""
    row = g.get("login_session")
    if row is None:
        raise Unauthorized("sign in first")
    sent = request.headers.get("X-CSRF-Token") or request.form.get("csrf_token") or ""
    if not hmac.compare_digest(sent, row.csrf_token):
        raise Forbidden("missing or wrong CSRF token; reload the page")


def _wants_json() -> bool:
    return request.is_json or request.accept_mimetypes.best == "application/json"


@bp.get("/login")
def login_form() -> str:
    return render_template("login.html", error=None)


@bp.post("/login")
def login() -> Response | tuple[Response, int] | tuple[str, int]:
    data = request.get_json(silent=True) if request.is_json else request.form
    if request.is_json and data is not None and not isinstance(data, dict):
        raise BadRequest("the body must be a JSON object (Content-Type: application/json)")
    username = str((data or {}).get("username", ""))
    password = str((data or {}).get("password", ""))
    try:
        token, row = sign_in(db.session, username, password, request.remote_addr or "-", policy())
    except TooManyAttempts:
        error = RateLimited("too many failed sign-ins; wait a few minutes and try again")
        if _wants_json():
            raise error from None
        return render_template("login.html", error=error.translated()), 429
    except LoginRefused:
        error = Unauthorized("wrong user name or password")
        if _wants_json():
            raise error from None
        return render_template("login.html", error=error.translated()), 401
    target = request.args.get("next", "")
    if not target.startswith("/") or target.startswith("//"):
        target = url_for("pages.page_overview")  # only ever back into patrolmap
    response = jsonify({"username": username, "csrf_token": row.csrf_token}) if _wants_json() else redirect(target)
    response.set_cookie(COOKIE, token, httponly=True, samesite="Lax",
                        secure=current_app.config["SESSION_COOKIE_SECURE"],
                        max_age=int(policy().absolute.total_seconds()))
    return response


@bp.post("/logout")
def logout() -> Response:
    require_csrf()
    end_session(db.session, g.login_session.id)
    response = jsonify({"signed_out": True}) if _wants_json() else redirect(url_for("auth.login_form"))
    response.delete_cookie(COOKIE)
    return response


@bp.post("/language")
def set_language() -> Response:
    """Switch the interface language: kept on the person's account, and in a cookie for visitors."""
    body = request.get_json(silent=True)
    sent = request.form.get("language") or (body.get("language") if isinstance(body, dict) else None)
    choice = normalise_language(sent if isinstance(sent, str) else None)
    if choice is None:
        raise BadRequest("choose one of: %(choices)s", choices=", ".join(LANGUAGES))
    if g.get("user") is not None:
        require_csrf()
        with write_transaction(db.session):
            db.session.get(User, g.user.id).language = choice
    target = request.form.get("next", "")
    if not target.startswith("/") or target.startswith("//"):
        target = url_for("pages.page_overview")
    response = jsonify({"language": choice}) if _wants_json() else redirect(target)
    response.set_cookie(LANG_COOKIE, choice, httponly=True, samesite="Lax",
                        secure=current_app.config["SESSION_COOKIE_SECURE"], max_age=365 * 86400)
    return response


@bp.get("/api/me")
def me() -> Response:
    if g.user is None:
        raise Unauthorized("not signed in")
    session = g.get("login_session")
    return jsonify({"username": g.user.username, "roles": sorted(g.user.role_set),
                    "csrf_token": session.csrf_token if session else None})


def enforce_access() -> Response | None:
    """Apply the access table to this request: 401/redirect for strangers, 403 for the wrong role."""
    from patrolmap.access import PUBLIC, allowed, rule_for
    from patrolmap.scope import scope_for

    if request.endpoint is None:
        return None  # Flask answers 404/405 itself
    rule = rule_for(request.endpoint, request.method)
    if rule is None:
        raise Forbidden("%(method)s %(path)s is not open to anyone", method=request.method, path=request.path)
    user = g.get("user")
    public_view = bool(current_app.config["PUBLIC_VIEW"])
    if not allowed(rule, user.role_set if user else None, public_view=public_view):
        if user is None:
            if request.path.startswith("/api/") or _wants_json():
                raise Unauthorized("sign in first")
            return redirect(url_for("auth.login_form", next=request.full_path))
        raise Forbidden("your role may not do this")
    g.scope = scope_for(db.session, user, public_view=public_view)
    # A browser's cookie travels with forged cross-site requests; a token header never does.
    writes = request.method not in ("GET", "HEAD", "OPTIONS")
    if rule != PUBLIC and writes and request.endpoint != "auth.logout" and not g.get("token_user"):
        require_csrf()
    return None


def register_auth(app: Flask) -> None:
    app.before_request(load_user)
    app.before_request(enforce_access)
    app.register_blueprint(bp)
