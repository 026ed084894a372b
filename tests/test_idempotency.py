"""Idempotency-Key: a retried write is carried out once, on both stores (patrolmap/idempotency.py)."""

from __future__ import annotations

import datetime as dt
import threading
import time
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select, text

from patrolmap import idempotency
from patrolmap.extensions import db
from patrolmap.importing import load_geodata
from patrolmap.models import AuditEntry, IdempotencyKey, Violation
from patrolmap.web import api

from .conftest import DATA, signed_in_client

VIOLATION = {"campus": "mini", "lon": 116.3512, "lat": 40.00062, "kind": "fire_lane",
             "observed_at": "2026-03-04T08:15:00+08:00", "plate": "京A12345"}


@pytest.fixture
def staff(app: Flask) -> FlaskClient:
    load_geodata(db.session, DATA / "minicampus")
    db.session.commit()
    return signed_in_client(app, "duty-wang", "traffic_staff")


def _count(model: type) -> int:
    db.session.rollback()  # a fresh read: requests write through their own transactions
    return db.session.scalar(select(func.count()).select_from(model))


def _post(client: FlaskClient, key: str | None, body: dict[str, Any] = VIOLATION, url: str = "/api/violations"):
    return client.post(url, json=body, headers={"Idempotency-Key": key} if key is not None else {})


def test_a_retry_creates_nothing_twice_and_gets_the_same_answer(staff: FlaskClient) -> None:
    violations, audit = _count(Violation), _count(AuditEntry)
    first = _post(staff, "handheld-3:2026-03-04T08:15:07:1")
    assert first.status_code == 201, first.get_json()
    assert "Idempotent-Replayed" not in first.headers
    again = _post(staff, "handheld-3:2026-03-04T08:15:07:1")
    assert again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.get_data() == first.get_data()
    assert (again.headers["Location"], again.mimetype) == (first.headers["Location"], "application/geo+json")
    assert (_count(Violation), _count(AuditEntry)) == (violations + 1, audit + 1)
    # Without a key every POST is a new violation, as before.
    assert _post(staff, None).status_code == 201 and _post(staff, None).status_code == 201
    assert _count(Violation) == violations + 3
    # A new key is a new request.
    assert _post(staff, "handheld-3:2").headers.get("Idempotent-Replayed") is None
    assert _count(Violation) == violations + 4
    stored = db.session.scalars(select(IdempotencyKey).where(IdempotencyKey.key == "handheld-3:2026-03-04T08:15:07:1"))
    row = stored.one()
    assert (row.method, row.path, row.status) == ("POST", "/api/violations", 201)


def test_the_same_key_for_another_request_is_refused(app: Flask, staff: FlaskClient) -> None:
    assert _post(staff, "k-1").status_code == 201
    before = _count(Violation)
    other = _post(staff, "k-1", {**VIOLATION, "plate": "京B54321"})
    assert other.status_code == 422 and "different request" in other.get_json()["message"]
    elsewhere = staff.post("/api/violations?x=1", json=VIOLATION, headers={"Idempotency-Key": "k-1"})
    assert elsewhere.status_code == 422
    assert _count(Violation) == before
    # Keys belong to their caller: another person's k-1 is theirs alone.
    colleague = signed_in_client(app, "duty-zhao", "traffic_staff")
    assert _post(colleague, "k-1", {**VIOLATION, "plate": "京B54321"}).status_code == 201
    assert _count(Violation) == before + 1


@pytest.mark.parametrize("key", ["", "x" * 256, "tab\there", "中文键"])
@pytest.mark.store("sqlite")
def test_malformed_keys_are_refused(staff: FlaskClient, key: str) -> None:
    before = _count(Violation)
    response = staff.post("/api/violations", json=VIOLATION, headers={"Idempotency-Key": key.encode().decode("latin-1")})
    assert response.status_code == 400 and "Idempotency-Key" in response.get_json()["message"]
    assert _count(Violation) == before
    assert _post(staff, "x" * 255).status_code == 201  # the longest key


def test_refusals_are_answered_again_and_a_failure_leaves_nothing(staff: FlaskClient,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    bad = _post(staff, "bad-1", {**VIOLATION, "kind": "double_parking"})
    assert bad.status_code == 422, bad.get_json()
    replayed = _post(staff, "bad-1", {**VIOLATION, "kind": "double_parking"})
    assert replayed.headers["Idempotent-Replayed"] == "true" and replayed.get_json() == bad.get_json()
    # The handler fails after its write (here: while reading the new row back for the answer). Without a key the
    # violation would stay; with one, the write is part of the request's transaction, which is never committed.
    before, audit = _count(Violation), _count(AuditEntry)
    real = api.query_features

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("the worker died here")

    monkeypatch.setattr(api, "query_features", broken)
    staff.application.config["PROPAGATE_EXCEPTIONS"] = False
    failed = _post(staff, "crash-1")
    assert failed.status_code == 500
    assert (_count(Violation), _count(AuditEntry), _count(IdempotencyKey)) == (before, audit, 1)
    monkeypatch.setattr(api, "query_features", real)
    retried = _post(staff, "crash-1")
    assert retried.status_code == 201 and "Idempotent-Replayed" not in retried.headers
    assert (_count(Violation), _count(AuditEntry)) == (before + 1, audit + 1)


def test_keys_expire_after_a_day(staff: FlaskClient, monkeypatch: pytest.MonkeyPatch) -> None:
    assert _post(staff, "old").status_code == 201
    assert _post(staff, "older").status_code == 201
    before = _count(Violation)
    db.session.execute(text("UPDATE idempotency_keys SET created_at = :at"),
                       {"at": dt.datetime.now(dt.UTC) - dt.timedelta(hours=25)})
    db.session.commit()
    again = _post(staff, "old")
    assert again.status_code == 201 and "Idempotent-Replayed" not in again.headers
    assert _count(Violation) == before + 1
    monkeypatch.setattr(idempotency, "_pruned_at", -1e9)
    assert _post(staff, "new").status_code == 201
    keys = db.session.scalars(select(IdempotencyKey.key).order_by(IdempotencyKey.key)).all()
    assert keys == ["new", "old"]  # "older" was expired and pruned; "old" is the new request's


def test_other_methods_and_a_staged_import(staff: FlaskClient, client: FlaskClient) -> None:
    created = _post(staff, "v").get_json()
    url = f"/api/violations/{created['id']}/transition"
    body = {"to": "towed", "reason": "blocking the fire lane"}
    first = staff.post(url, json=body, headers={"Idempotency-Key": "t-1"})
    assert first.status_code == 200, first.get_json()
    again = staff.post(url, json=body, headers={"Idempotency-Key": "t-1"})
    assert again.status_code == 200 and again.get_data() == first.get_data()
    assert staff.post(url, json=body).status_code == 409  # unkeyed, the same move is refused: it happened once
    moves = db.session.scalars(select(AuditEntry).where(AuditEntry.feature_id == created["id"],
                                                         AuditEntry.action != "create")).all()
    assert len(moves) == 1
    # An upload's preview is a write that is rolled back; inside a keyed request it rolls back to a savepoint.
    # A retry sends the very bytes again (a new multipart boundary would be a different body).
    import io

    from werkzeug.datastructures import FileStorage, MultiDict
    from werkzeug.test import encode_multipart

    from .test_import_api import CHECKPOINTS

    boundary, form = encode_multipart(MultiDict({"file": FileStorage(io.BytesIO(CHECKPOINTS), "checkpoints.geojson"),
                                                 "campus": "mini"}))

    def upload() -> Any:
        return client.post("/api/imports", data=form, content_type=f"multipart/form-data; boundary={boundary}",
                           headers={"Idempotency-Key": "import-1"})

    staged = upload()
    assert staged.status_code == 201, staged.get_json()
    assert staged.get_json()["preview"]["layers"] == {"checkpoints": {"inserted": 2, "updated": 1, "unchanged": 1}}
    assert upload().get_json()["token"] == staged.get_json()["token"]
    assert db.session.execute(text("SELECT count(*) FROM staged_imports")).scalar_one() == 1
    assert db.session.execute(text("SELECT count(*) FROM checkpoints")).scalar_one() == 2


def test_a_retry_while_the_first_runs_waits_for_its_answer(app: Flask, staff: FlaskClient, store: str,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    real = api.query_features
    entered = threading.Event()
    delay = [1.0]

    def slow(*args: Any, **kwargs: Any) -> Any:
        entered.set()
        time.sleep(delay[0])  # after the write, before the answer: the first request is still running
        return real(*args, **kwargs)

    monkeypatch.setattr(api, "query_features", slow)
    before = _count(Violation)
    answers: list[Any] = []

    def send(key: str) -> None:
        with app.test_client() as client:  # its own app context, hence its own session, as in a server thread
            client.set_cookie("patrolmap_session", staff.get_cookie("patrolmap_session").value)
            client.environ_base.update(staff.environ_base)
            answers.append(_post(client, key))

    def race(key: str) -> Any:
        """The first request with `key` runs (slowly) in a thread; the same request again here, meanwhile."""
        monkeypatch.setattr(api, "query_features", slow)
        entered.clear()
        first = threading.Thread(target=send, args=(key,))
        first.start()
        assert entered.wait(10)
        monkeypatch.setattr(api, "query_features", real)
        second = _post(staff, key)
        first.join(10)
        assert answers[-1].status_code == 201, answers[-1].get_json()
        return second

    second = race("slow-1")
    assert second.status_code == 201 and second.headers["Idempotent-Replayed"] == "true"
    assert second.get_data() == answers[-1].get_data()
    assert _count(Violation) == before + 1
    if store == "postgis":
        # Kept waiting longer than WAIT_SECONDS, PostgreSQL answers that the first is still running (SQLite waits for
        # the write lock up to its busy timeout instead); the first still completes, once.
        monkeypatch.setattr(idempotency, "WAIT_SECONDS", 0.2)
        delay[0] = 2.5  # the retry surely arrives before the first is done, even on a busy machine
        busy = race("slow-2")
        assert busy.status_code == 409 and "still being carried out" in busy.get_json()["message"]
        assert _count(Violation) == before + 2
        assert _post(staff, "slow-2").headers["Idempotent-Replayed"] == "true"
