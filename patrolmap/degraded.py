"""When the database cannot answer — locked, unreachable, out of disk — say so: 503, a reason, Retry-After.

One place classifies SQLAlchemy's database errors, so that every endpoint answers them alike. The
session is rolled back first (a failed write leaves nothing: write_transaction rolls its block back,
and an idempotent request's transaction is never committed). Recovery needs no restart: the engine
pings a pooled connection before using it (config.engine_options: pool_pre_ping), and SQLAlchemy
discards the whole pool when one of its connections is found broken, so the first request after the
database is back gets a fresh connection. Errors that are bugs (integrity, programming) are left alone
and stay 500s, logged.
"""

from __future__ import annotations

import logging
import sqlite3
from dataclasses import dataclass

import sqlalchemy as sa
from flask import Flask, Response, g, jsonify, request
from flask_babel import force_locale, gettext, refresh
from markupsafe import escape
from sqlalchemy import exc as sa_exc

from patrolmap.errors import wants_json
from patrolmap.extensions import db
from patrolmap.i18n import normalise_language
from patrolmap.wording import N_

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Reason:
    """What a client reads in a 503: a stable code, a sentence for people, and when to try again."""

    code: str
    message: str
    retry_after: int  # seconds


LOCKED = Reason("database_locked", N_("The database is busy with other writes, so the request was not carried "
                                      "out; try again in a moment."), 2)
UNAVAILABLE = Reason("database_unavailable", N_("The database cannot be reached, so the request was not carried "
                                                "out; try again shortly."), 10)
STORAGE_FULL = Reason("storage_full", N_("The database's disk is full, so nothing was saved; tell the "
                                         "administrator."), 60)
BUSY = Reason("database_busy", N_("The database has no free connection for this request; try again in a "
                                  "moment."), 2)
FAILED = Reason("database_error", N_("The database could not carry out the request, so nothing was saved; try "
                                     "again shortly."), 10)
REASONS = {r.code: r for r in (LOCKED, UNAVAILABLE, STORAGE_FULL, BUSY, FAILED)}

# SQLite's primary result codes (https://sqlite.org/rescode.html), the low byte of an extended code.
SQLITE_BUSY, SQLITE_LOCKED, SQLITE_IOERR, SQLITE_FULL, SQLITE_CANTOPEN = 5, 6, 10, 13, 14
# PostgreSQL SQLSTATEs: the server going away or refusing connections, resources, locks.
PG_UNAVAILABLE = {"57P01", "57P02", "57P03"}  # admin shutdown (pg_terminate_backend), crash, starting up
PG_LOCKED = {"55P03", "40P01", "40001"}  # lock timeout, deadlock, serialization failure
PG_BUSY = {"53300", "57014"}  # too many connections, statement timeout


def classify(exc: BaseException) -> Reason | None:
    """The reason a database error makes the service unavailable for now, or None for a bug.

    The error that surfaces may be a consequence (SQLite rolls a transaction back by itself when the disk is
    full, so rolling back to a savepoint then fails); the errors it arose from say more, so they are asked too.
    """
    reason, seen = _classify_one(exc), {id(exc)}
    cause = exc.__cause__ or exc.__context__
    while cause is not None and id(cause) not in seen and reason in (None, FAILED):
        seen.add(id(cause))
        reason = _classify_one(cause) or reason
        cause = cause.__cause__ or cause.__context__
    return reason


def _classify_one(exc: BaseException) -> Reason | None:
    if isinstance(exc, sa_exc.TimeoutError):  # every pooled connection is in use
        return BUSY
    if not isinstance(exc, sa_exc.DBAPIError):
        return None
    orig = exc.orig
    if isinstance(orig, sqlite3.Error):
        code = (getattr(orig, "sqlite_errorcode", 0) or 0) & 0xFF
        if code in (SQLITE_BUSY, SQLITE_LOCKED):
            return LOCKED
        if code == SQLITE_FULL:
            return STORAGE_FULL
        if code in (SQLITE_CANTOPEN, SQLITE_IOERR):
            return UNAVAILABLE
    sqlstate = getattr(orig, "sqlstate", None)
    if isinstance(sqlstate, str):
        if sqlstate.startswith("08") or sqlstate in PG_UNAVAILABLE:
            return UNAVAILABLE
        if sqlstate == "53100":
            return STORAGE_FULL
        if sqlstate in PG_LOCKED:
            return LOCKED
        if sqlstate in PG_BUSY:
            return BUSY
    if exc.connection_invalidated or isinstance(exc, sa_exc.InterfaceError):
        return UNAVAILABLE
    if isinstance(exc, sa_exc.OperationalError):
        # psycopg reports a refused or dropped connection without a SQLSTATE.
        return UNAVAILABLE if sqlstate is None and not isinstance(orig, sqlite3.Error) else FAILED
    return None


def _rollback_quietly() -> None:
    try:
        db.session.rollback()
    except sa_exc.SQLAlchemyError:  # the connection may be gone; the pool replaces it
        log.debug("rollback after a database error failed", exc_info=True)


def _translated(text: str) -> str:
    """The message in the caller's language, without asking the database (it is what just failed).

    The locale selector reads the signed-in person's language, which may need a query once the session
    has been rolled back; the person's language is taken only if it is still loaded.
    """
    user = g.get("user")
    if user is None:
        return gettext(text)
    language = normalise_language(sa.inspect(user).dict.get("language"))
    g.user = None  # the answer is an error page; nothing after this needs the person
    refresh()
    if language:
        with force_locale(language):
            return gettext(text)
    return gettext(text)


def degraded_response(reason: Reason) -> Response:
    """The 503 answer: JSON {"error", "message", "reason"} for the API, a short page for browsers."""
    _rollback_quietly()
    message = _translated(reason.message)
    if wants_json():
        response = jsonify({"error": "ServiceUnavailable", "message": message, "reason": reason.code})
    else:
        # No template: the page layout asks the database about the person (navigation), which is what failed.
        response = Response(f"<!doctype html><meta charset=utf-8><title>503 · patrolmap</title>"
                            f"<h1>503</h1><p role=alert>{escape(message)}</p>", mimetype="text/html")
    response.status_code = 503
    response.headers["Retry-After"] = str(reason.retry_after)
    response.headers["Cache-Control"] = "no-store"
    return response


def handle_database_error(exc: Exception) -> Response:
    reason = classify(exc)
    if reason is None:
        raise exc  # a bug: Flask logs it and answers 500
    log.warning("%s %s: %s (%s)", request.method, request.path, reason.code, str(exc).splitlines()[0])
    return degraded_response(reason)


def register_degraded_handlers(app: Flask) -> None:
    """Answer database outages with 503 wherever they happen (views, before_request hooks)."""
    app.register_error_handler(sa_exc.DBAPIError, handle_database_error)
    app.register_error_handler(sa_exc.TimeoutError, handle_database_error)
