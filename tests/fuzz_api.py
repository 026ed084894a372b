"""Run Schemathesis over every operation of /api/openapi.json in process, and collect what it finds.

Shared by tests/test_schemathesis.py (100 cases per operation on SQLite, 10 on PostGIS) and
benchmarks/schemathesis_long.py (1,000). The app is a throwaway one: the mini campus, an admin with
an API token, and one record of each kind that ids point at (a saved route, a hazard, a marked
hotspot, a charger scenario), so that generated ids find something. Schemathesis's pytest plugin is
not used (4.32 does not run under pytest 9): each operation's Hypothesis test is built and run here.
"""

from __future__ import annotations

import shutil
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import schemathesis
from flask import Flask
from schemathesis.config import SchemathesisConfig
from schemathesis.core.failures import FailureGroup
from schemathesis.generation.feedback import FeedbackSources
from schemathesis.pytest._test_builder import build_operation_test

from patrolmap import create_app
from patrolmap.extensions import db

DATA = Path(__file__).parent / "data"
SEED = 20260412
# Zero server errors, and every answer as the document says: its status, media type, body and headers.
CHECKS = ("not_a_server_error", "status_code_conformance", "content_type_conformance",
          "response_schema_conformance", "response_headers_conformance")
SQUARE = [[116.3500, 40.0000], [116.3505, 40.0000], [116.3505, 40.0004], [116.3500, 40.0000]]


def fuzz_config(cases: int, headers: dict[str, str], seed: int = SEED, *, shrink: bool = False
                ) -> SchemathesisConfig:
    """Valid and invalid input, derandomized with a fixed seed, no example database carried between runs."""
    return SchemathesisConfig.from_dict({
        "seed": seed, "headers": headers,
        "generation": {"mode": "all", "max-examples": cases, "deterministic": True, "database": "none",
                       "with-security-parameters": False, "no-shrink": not shrink},
        "phases": {"coverage": {"enabled": False}, "stateful": {"enabled": False}},
        "checks": {"enabled": False, **{name: {"enabled": True} for name in CHECKS}},
    })


def throwaway_app(url: str, evidence_dir: Path) -> Flask:
    return create_app({"SQLALCHEMY_DATABASE_URI": url, "AUTO_INIT_DB": False, "TESTING": True,
                       "SECRET_KEY": "fuzz-secret", "DEFAULT_LANGUAGE": "en", "EVIDENCE_DIR": str(evidence_dir)})


def sqlite_copy(template: Path, folder: Path) -> str:
    path = folder / "fuzz.sqlite3"
    shutil.copyfile(template, path)
    return f"sqlite:///{path}"


def seed_data(app: Flask) -> str:
    """The mini campus, an admin with an API token, and one of each kind of record; returns the token."""
    from patrolmap.auth.passwords import hash_password
    from patrolmap.auth.sessions import create_api_token
    from patrolmap.importing import load_geodata
    from patrolmap.models import Checkpoint, User

    with app.app_context():
        load_geodata(db.session, DATA / "minicampus")
        user = User(username="fuzz-admin", password_hash=hash_password("correct horse battery staple"),
                    roles="admin")
        db.session.add(user)
        db.session.commit()
        token, _ = create_api_token(db.session, user, "schemathesis")
        stops = [c.id for c in db.session.query(Checkpoint).order_by(Checkpoint.id)]
        db.session.remove()
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    for path, body in (
        ("/api/routes", {"name": "north loop", "checkpoints": stops[:3], "start": stops[0],
                         "shift": {"start": "00:00", "end": "23:59"}}),
        ("/api/hazards", {"category": "fire", "description": "extinguisher expired", "lon": 116.3502,
                          "lat": 40.0002}),
        ("/api/hotspots", {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [SQUARE]},
                           "properties": {"name": "gate", "kind": "no_parking_watch"}}),
        ("/api/chargers/scenarios", {"name": "two more", "sites": [{"lon": 116.3502, "lat": 40.0002}]}),
    ):
        response = client.post(path, json=body)
        if response.status_code != 201:
            raise RuntimeError(f"seeding {path}: {response.status_code} {response.get_data(as_text=True)[:500]}")
    return token


def cheap_dummy_hash() -> str:
    """An argon2 hash at the lowest cost, for patrolmap.auth.sessions._DUMMY_HASH while fuzzing: every refused
    sign-in verifies against it, and at the real cost 100 cases of POST /login would take 20 s."""
    from argon2 import PasswordHasher

    return PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash("patrolmap-dummy-password")


def load_schema(app: Flask, token: str, cases: int, seed: int = SEED, *, shrink: bool = False) -> Any:
    headers = {"Authorization": f"Bearer {token}"}
    return schemathesis.openapi.from_wsgi("/api/openapi.json", app, config=fuzz_config(cases, headers, seed,
                                                                                        shrink=shrink),
                                          headers=headers)


@dataclass
class Outcome:
    """What a run found: per operation its cases, statuses seen, seconds, and failures (first lines)."""

    cases: dict[str, int] = field(default_factory=dict)
    statuses: dict[str, set[int]] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)

    @property
    def total_cases(self) -> int:
        return sum(self.cases.values())


def _caller(outcome: Outcome, label: str) -> Callable[[Any], None]:
    def call(case: Any) -> None:
        outcome.cases[label] += 1
        try:
            response = case.call_and_validate()
        except FailureGroup:
            raise
        except Exception as exc:  # raised by the app: say which request
            exc.add_note(case.as_curl_command(headers={"Authorization": "Bearer [token]"}))
            raise
        outcome.statuses[label].add(response.status_code)

    return call


def run(schema: Any, *, only: Callable[[str], bool] | None = None) -> Outcome:
    """Every operation's generated cases, called and checked; failures are collected, not raised."""
    outcome = Outcome()
    feedback = FeedbackSources()
    for result in schema.get_all_operations():
        operation = result.ok()
        label = operation.label
        if only is not None and not only(label):
            continue
        outcome.cases[label] = 0
        outcome.statuses[label] = set()

        test = build_operation_test(config=schema.config, operation=operation, test_func=_caller(outcome, label),
                                    given_kwargs={}, feedback=feedback)
        started = time.perf_counter()
        try:
            test()
        except FailureGroup as exc:
            outcome.failures[label] = str(exc)
        except Exception as exc:  # raised by the app (TESTING propagates it: a 500 in production), or the run's own
            outcome.failures[label] = f"{type(exc).__name__}: {exc}\n{_where(exc)}"
        outcome.seconds[label] = time.perf_counter() - started
    return outcome


def _where(exc: BaseException) -> str:
    """The patrolmap frames of a traceback, innermost last: where a server error came from."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if "/patrolmap/" in f.filename]
    lines = [f"    {Path(f.filename).name}:{f.lineno} {f.name}: {f.line}" for f in frames[-4:]]
    return "\n".join([*lines, *(f"    {note[:2000]}" for note in getattr(exc, "__notes__", []))])


def report(outcome: Outcome, *, slowest: int = 8) -> str:
    """A summary to print: cases, time, the slowest operations and every failure."""
    lines = [f"{len(outcome.cases)} operations, {outcome.total_cases} cases, "
             f"{sum(outcome.seconds.values()):.1f} s, {len(outcome.failures)} failing"]
    for label, seconds in sorted(outcome.seconds.items(), key=lambda kv: -kv[1])[:slowest]:
        lines.append(f"  {seconds:6.2f} s  {outcome.cases[label]:5d} cases  {label}  "
                     f"{sorted(outcome.statuses[label])}")
    for label, text in outcome.failures.items():
        lines.append(f"FAILED {label}:\n{text[:3000]}")
    return "\n".join(lines)
