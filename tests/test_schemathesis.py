"""Schemathesis against /api/openapi.json: every operation, as an admin with an API token, in process (WSGI).

Zero server errors and zero answers that break the document (status codes, media types, response
schemas and headers), for generated valid and invalid input: 100 cases per operation on SQLite and
10 on PostGIS, derandomized with a fixed seed, so that a run is the same every time. Each store gets
its own throwaway database and app (writes are welcome: they reach deeper). The run is
tests/fuzz_api.py's; benchmarks/schemathesis_long.py runs it with 1,000 cases per operation.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from patrolmap.extensions import db

from . import fuzz_api
from .conftest import _truncate_all

CASES = {"sqlite": 100, "postgis": 10}


def _database(store: str, request: pytest.FixtureRequest, folder: Path) -> str:
    if store == "sqlite":
        return fuzz_api.sqlite_copy(request.getfixturevalue("sqlite_template"), folder)
    url = request.getfixturevalue("postgis_schema")
    _truncate_all(url)
    return url


def test_every_operation_holds_to_the_document(store: str, request: pytest.FixtureRequest, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("patrolmap.auth.sessions._DUMMY_HASH", fuzz_api.cheap_dummy_hash())
    app = fuzz_api.throwaway_app(_database(store, request, tmp_path), tmp_path / "evidence")
    token = fuzz_api.seed_data(app)
    # No app context held around the run: each request gets its own, and its own database session, as in
    # production (a request that fails must not leave its session to the next one).
    outcome = fuzz_api.run(fuzz_api.load_schema(app, token, CASES[store]))
    with app.app_context():
        db.engine.dispose()
    print(fuzz_api.report(outcome))
    assert len(outcome.cases) >= 100  # every operation, OGC API - Features included
    assert not outcome.failures, fuzz_api.report(outcome)
