"""Idempotency-Key: a write retried by a handheld on weak campus Wi-Fi is carried out once.

A POST, PUT, PATCH or DELETE from a signed-in caller (session or API token) that carries an
``Idempotency-Key`` header (1-255 printable ASCII characters, unique per caller) runs as ONE database
transaction. Its first statement inserts a row keyed by (user, key) holding the request's method, path
and body hash; the handler's writes follow (``write_transaction`` turns into savepoints inside such a
request, see patrolmap.database.REQUEST_TRANSACTION); an after_request hook puts the answer (status, the
headers that matter, body) into that row and commits everything at once, before the answer is sent. So:

* killed before the commit: neither the write nor the row exists. The client had no answer; its retry
  runs afresh. Nothing acknowledged is lost, nothing is made twice.
* killed after the commit, before the answer arrived: the retry finds the row and gets the stored answer
  (header ``Idempotent-Replayed: true``); the write is not repeated.
* a retry while the first is still running waits for the first's transaction — on SQLite for the write
  lock (up to the busy timeout), on PostgreSQL on the unique index (up to WAIT_SECONDS, then 409 "still
  being carried out") — and then gets the stored answer.
* the same key with another method, path or body: 422, nothing done.

Answers of 500 and above are not stored (their transaction is rolled back, so a retry runs again); 4xx
answers are, like any other. Sign-in and sign-out (cookie answers) and anonymous callers are not keyed.
Rows expire after 24 hours and are deleted lazily by later keyed writes.

The price: on SQLite a keyed request holds the write lock from its start (BEGIN IMMEDIATE), reads
included; unkeyed requests are unchanged.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import re
import time
from dataclasses import dataclass
from typing import Any

from flask import Flask, Response, current_app, g, request
from sqlalchemy import delete, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session

from patrolmap.database import REQUEST_TRANSACTION, WRITE_OPTION
from patrolmap.degraded import classify, degraded_response
from patrolmap.errors import BadRequest, Conflict, ValidationFailed
from patrolmap.extensions import db
from patrolmap.models import IdempotencyKey, utcnow

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
KEY = re.compile(r"[\x20-\x7e]{1,255}")
TTL = dt.timedelta(hours=24)
WAIT_SECONDS = 5.0  # PostgreSQL: how long a retry waits for the first request with its key
PRUNE_EVERY_SECONDS = 300.0
# What a replayed answer carries besides status and body; never a cookie.
KEPT_HEADERS = ("Content-Type", "Location", "Content-Disposition", "ETag", "Last-Modified")
# Answers that set the session cookie must never be stored or replayed.
NOT_KEYED = frozenset({"auth.login", "auth.logout", "static"})
CLAIM = "idempotency_claim"  # on flask.g: the id of this request's row

_pruned_at = -PRUNE_EVERY_SECONDS  # per process, and only to spare the DELETE; correctness never needs it


@dataclass(frozen=True)
class Stored:
    """An earlier request with the same key, read before its session is rolled back."""

    method: str
    path: str
    request_sha256: str
    status: int | None
    headers: dict[str, str] | None
    body: bytes | None


def _path() -> str:
    query = request.query_string.decode("latin-1")
    return f"{request.path}?{query}" if query else request.path


def _largest_body() -> int:
    """The largest body any endpoint accepts: /api/imports raises the app-wide limit for its uploads."""
    config = current_app.config
    return max(int(config["MAX_CONTENT_LENGTH"] or 0), int(float(config["MAX_IMPORT_MB"]) * 2**20) + 2**20)


def _body_sha256() -> str | None:
    """The body's SHA-256; None for a body larger than any endpoint takes (the endpoint answers 413)."""
    length = request.content_length
    limit = request.max_content_length
    if length is not None and limit is not None and length > limit:
        if length > _largest_body():
            return None
        request.max_content_length = length  # the endpoint applies its own limit again
    return hashlib.sha256(request.get_data(cache=True)).hexdigest()


def _prune(session: Session, now: dt.datetime) -> None:
    global _pruned_at
    if time.monotonic() - _pruned_at < PRUNE_EVERY_SECONDS:
        return
    _pruned_at = time.monotonic()
    # Rows another request is deleting right now are left to it (PostgreSQL; SQLite has one writer anyway).
    expired = select(IdempotencyKey.id).where(IdempotencyKey.created_at < now - TTL).with_for_update(skip_locked=True)
    session.execute(delete(IdempotencyKey).where(IdempotencyKey.id.in_(expired.scalar_subquery())))


def _insert(session: Session, values: dict[str, Any], now: dt.datetime) -> int | None:
    """Insert the key's row (replacing an expired one), or nothing if the key is taken; the new row's id, or None."""
    mine = (IdempotencyKey.user_id == values["user_id"]) & (IdempotencyKey.key == values["key"])
    postgres = session.get_bind().dialect.name == "postgresql"
    dialect_insert = postgresql.insert if postgres else sqlite.insert
    stmt = dialect_insert(IdempotencyKey).values(**values).on_conflict_do_nothing(
        index_elements=["user_id", "key"]).returning(IdempotencyKey.id)
    if postgres:
        # A transaction holding the same key uncommitted makes these wait; not for ever.
        session.execute(text(f"SET LOCAL lock_timeout = '{int(WAIT_SECONDS * 1000)}ms'"))
    session.execute(delete(IdempotencyKey).where(mine, IdempotencyKey.created_at < now - TTL))
    new_id = session.scalar(stmt)
    if postgres:
        session.execute(text("SET LOCAL lock_timeout TO DEFAULT"))
    return new_id


def _replay(stored: Stored) -> Response:
    response = Response(stored.body or b"", status=stored.status)
    for name, value in (stored.headers or {}).items():
        response.headers[name] = value
    response.headers[REPLAYED_HEADER] = "true"
    return response


def claim_request() -> Response | None:
    """before_request: start the request's transaction with its key's row, or answer from the stored row."""
    key = request.headers.get(HEADER)
    if (key is None or request.method not in METHODS or request.endpoint is None or request.endpoint in NOT_KEYED
            or g.get("user") is None):
        return None
    if not KEY.fullmatch(key):
        raise BadRequest("the Idempotency-Key header must be 1 to 255 printable ASCII characters")
    digest = _body_sha256()
    if digest is None:
        return None
    user_id, path, now = g.user.id, _path(), utcnow()
    session = db.session()
    if session.in_transaction():
        session.rollback()  # end the reads of sign-in; the request's transaction takes the write lock first
    session.connection(execution_options={WRITE_OPTION: True})
    mine = (IdempotencyKey.user_id == user_id) & (IdempotencyKey.key == key)
    try:
        _prune(session, now)
        new_id = _insert(session, {"user_id": user_id, "key": key, "method": request.method, "path": path,
                                   "request_sha256": digest, "created_at": now}, now)
        if new_id is not None:
            session.info[REQUEST_TRANSACTION] = True
            setattr(g, CLAIM, new_id)
            return None
        row = session.scalars(select(IdempotencyKey).where(mine)).one()
        stored = Stored(row.method, row.path, row.request_sha256, row.status, row.headers, row.body)
    except OperationalError as exc:
        session.rollback()
        if getattr(exc.orig, "sqlstate", None) == "55P03":  # waited WAIT_SECONDS for the first request
            raise Conflict("a request with this Idempotency-Key is still being carried out; try again in a "
                           "moment") from None
        raise
    session.rollback()
    if (stored.method, stored.path, stored.request_sha256) != (request.method, path, digest):
        raise ValidationFailed("this Idempotency-Key was used for a different request (%(method)s %(path)s); "
                               "send a new key for a new request", method=stored.method, path=stored.path)
    if stored.status is None:
        raise Conflict("a request with this Idempotency-Key is still being carried out; try again in a moment")
    return _replay(stored)


def store_answer(response: Response) -> Response:
    """after_request: keep the answer in the key's row and commit it with the request's writes."""
    claim = g.pop(CLAIM, None)
    if claim is None:
        return response
    session = db.session()
    session.info.pop(REQUEST_TRANSACTION, None)
    if response.status_code >= 500:
        session.rollback()  # nothing of a failed request stays, its key included: a retry runs again
        return response
    response.direct_passthrough = False
    body = response.get_data()
    headers = {name: response.headers[name] for name in KEPT_HEADERS if name in response.headers}
    try:
        done = session.execute(update(IdempotencyKey).where(IdempotencyKey.id == claim)
                               .values(status=response.status_code, headers=headers, body=body))
        if done.rowcount != 1:
            session.rollback()
            msg = "the request's transaction ended before its answer was stored (a handler committed or rolled back)"
            raise RuntimeError(msg)
        session.commit()
    except SQLAlchemyError as exc:
        session.rollback()
        reason = classify(exc)
        if reason is None:
            raise
        return degraded_response(reason)
    return response


def end_request(_exc: BaseException | None) -> None:
    """teardown_request: a request that ended in an unhandled error leaves its transaction uncommitted."""
    claim = g.pop(CLAIM, None)
    session = db.session()
    if session.info.pop(REQUEST_TRANSACTION, None) or claim is not None:
        with contextlib.suppress(SQLAlchemyError):  # the connection may be gone; the pool replaces it
            session.rollback()


def register_idempotency(app: Flask) -> None:
    """Hook the key handling in after sign-in and the access check (register after register_auth)."""
    app.before_request(claim_request)
    app.after_request(store_answer)
    app.teardown_request(end_request)
