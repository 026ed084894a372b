"""Probes for a load balancer or orchestrator: /healthz (the process answers), /readyz (it can serve).

Both are open without sign-in and cheap: /healthz touches nothing, /readyz asks the database one
question (its alembic revision) and compares it with the migrations shipped with this code, so a
server pointed at a database that is down or not yet upgraded is taken out of rotation instead of
answering 503s to people.
"""

from __future__ import annotations

from functools import lru_cache

from alembic.script import ScriptDirectory
from flask import Blueprint, Response, jsonify
from flask_babel import gettext
from sqlalchemy import text
from sqlalchemy.exc import OperationalError, ProgrammingError, SQLAlchemyError

from patrolmap.config import PROJECT_ROOT
from patrolmap.degraded import FAILED, classify
from patrolmap.extensions import db
from patrolmap.wording import N_

bp = Blueprint("health", __name__)

NOT_MIGRATED = N_("The database schema is not at this version's migrations; run `flask --app patrolmap db upgrade`.")


@lru_cache(maxsize=1)
def code_revisions() -> frozenset[str]:
    """The head revisions of the migrations shipped with this code (they do not change while it runs)."""
    return frozenset(ScriptDirectory(str(PROJECT_ROOT / "migrations")).get_heads())


def database_revisions() -> list[str]:
    """The revisions the database is at; none if it was never migrated. Raises when it cannot be reached."""
    with db.engine.connect() as conn:
        try:
            return sorted(conn.execute(text("SELECT version_num FROM alembic_version")).scalars())
        except (OperationalError, ProgrammingError) as exc:
            if classify(exc) not in (None, FAILED):
                raise  # unreachable, locked, busy: not a question of the schema
            return []  # no alembic_version table


def _no_store(response: Response, status: int, retry_after: int | None = None) -> tuple[Response, int]:
    response.headers["Cache-Control"] = "no-store"
    if retry_after is not None:
        response.headers["Retry-After"] = str(retry_after)
    return response, status


@bp.get("/healthz")
def healthz() -> tuple[Response, int]:
    """200 while the process answers requests; says nothing about the database."""
    return _no_store(jsonify({"status": "ok"}), 200)


@bp.get("/readyz")
def readyz() -> tuple[Response, int]:
    """200 when the database answers and its schema is at this code's migrations, else 503 with the reason."""
    expected = sorted(code_revisions())
    try:
        current = database_revisions()
    except SQLAlchemyError as exc:
        reason = classify(exc) or FAILED
        body = {"status": "unavailable", "reason": reason.code, "message": gettext(reason.message),
                "expected_revision": expected}
        return _no_store(jsonify(body), 503, reason.retry_after)
    if current != expected:
        body = {"status": "unavailable", "reason": "schema_not_current", "message": gettext(NOT_MIGRATED),
                "database_revision": current, "expected_revision": expected}
        return _no_store(jsonify(body), 503, 30)
    return _no_store(jsonify({"status": "ready", "database": db.engine.dialect.name, "revision": current}), 200)
