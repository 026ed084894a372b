"""Two real app servers (gunicorn, one worker each) on one PostGIS database, as behind a load balancer.

What one server learns, the other knows: a sign-in, a write, a sign-in limit, an idempotency key, a path
edit (the routing network each keeps in memory is rebuilt when the paths' version in the database moves),
an evidence photo (kept in the database: each server has an evidence directory of its own).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from patrolmap.auth.passwords import hash_password
from patrolmap.config import PROJECT_ROOT
from patrolmap.extensions import db
from patrolmap.importing import load_geodata
from patrolmap.models import User, Violation

from .conftest import DATA, signed_in_client
from .photo_samples import phone_jpeg

pytestmark = [pytest.mark.store("postgis"), pytest.mark.slow]

PASSWORD = "correct horse battery staple"
VIOLATION = {"campus": "mini", "lon": 116.3512, "lat": 40.00062, "kind": "fire_lane", "plate": "京A12345"}
# From the west gate (k1) to the north end of the footway p2, and back.
PLAN = {"campus": "mini", "start": [116.3495, 40.0006], "checkpoints": [[116.3508, 40.002]], "mode": "walk"}
SHORTCUT = {"type": "Feature", "geometry": {"type": "LineString", "coordinates": [[116.3495, 40.0006],
                                                                                   [116.3508, 40.002]]},
            "properties": {"name": "新小路", "kind": "footway"}, "campus": "mini"}


@dataclass
class Answer:
    status: int
    headers: Message
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Caller:
    """One person's HTTP client: their session cookie and CSRF token, whichever server they reach."""

    cookie: str | None = None
    csrf: str | None = None
    extra: dict[str, str] = field(default_factory=dict)

    def call(self, server: str, method: str, path: str, body: Any = None, *, raw: bytes | None = None,
             **headers: str) -> Answer:
        """A JSON request (or `raw` bytes with their Content_Type among the headers), as this person."""
        data = raw if raw is not None else None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(server + path, method=method, data=data)
        request.add_header("Accept", "application/json")
        if body is not None:
            request.add_header("Content-Type", "application/json")
        if self.cookie:
            request.add_header("Cookie", f"patrolmap_session={self.cookie}")
        if self.csrf:
            request.add_header("X-CSRF-Token", self.csrf)
        for name, value in headers.items():
            request.add_header(name.replace("_", "-"), value)
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return Answer(response.status, response.headers, response.read())
        except urllib.error.HTTPError as error:
            return Answer(error.code, error.headers, error.read())

    def upload(self, server: str, path: str, data: bytes) -> Answer:
        """POST one photo as multipart/form-data, field "file"."""
        boundary = "patrolmap-test-boundary"
        body = (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.jpg"\r\n'
                "Content-Type: image/jpeg\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
        return self.call(server, "POST", path, raw=body, Content_Type=f"multipart/form-data; boundary={boundary}")

    def sign_in(self, server: str, username: str, password: str) -> Answer:
        answer = self.call(server, "POST", "/login", {"username": username, "password": password})
        if answer.status == 200:
            cookie = next(c for c in answer.headers.get_all("Set-Cookie") if c.startswith("patrolmap_session="))
            self.cookie = cookie.split(";", 1)[0].split("=", 1)[1]
            self.csrf = answer.json()["csrf_token"]
        return answer


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(database_url: str, log: Path, evidence_dir: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    env = {**os.environ, "DATABASE_URL": database_url, "SECRET_KEY": "shared-by-every-server",
           "PATROLMAP_EVIDENCE_STORE": "database", "PATROLMAP_EVIDENCE_DIR": str(evidence_dir),
           "PATROLMAP_AUTO_INIT": "0", "PATROLMAP_BIND": f"127.0.0.1:{port}", "PATROLMAP_WORKERS": "1",
           "PATROLMAP_THREADS": "2", "PATROLMAP_LANGUAGE": "en"}
    with log.open("wb") as out:  # the child keeps its own copy of the file
        process = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "patrolmap/gunicorn_conf.py",
                                    "patrolmap:create_app()"], cwd=PROJECT_ROOT, env=env,
                                   stdout=out, stderr=subprocess.STDOUT)
    return process, f"http://127.0.0.1:{port}"


def _wait_ready(process: subprocess.Popen[bytes], server: str, log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"gunicorn at {server} exited:\n{log.read_text(errors='replace')[-3000:]}")
        try:
            with urllib.request.urlopen(server + "/readyz", timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    pytest.fail(f"gunicorn at {server} never got ready:\n{log.read_text(errors='replace')[-3000:]}")


@pytest.fixture
def servers(app: Flask, database_url: str, tmp_path: Path) -> Iterator[tuple[str, str]]:
    load_geodata(db.session, DATA / "minicampus")
    password = hash_password(PASSWORD)
    db.session.add_all([User(username="officer-li", password_hash=password, roles="admin"),
                        User(username="officer-he", password_hash=password, roles="traffic_staff")])
    db.session.commit()
    db.session.remove()
    started = [_start(database_url, tmp_path / f"gunicorn-{name}.log", tmp_path / f"evidence-{name}") for name in "ab"]
    try:
        for (process, server), name in zip(started, "ab", strict=True):
            _wait_ready(process, server, tmp_path / f"gunicorn-{name}.log")
        yield started[0][1], started[1][1]
    finally:
        for process, _ in started:
            process.terminate()
        for process, _ in started:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def test_two_servers_share_everything_that_matters(app: Flask, servers: tuple[str, str], tmp_path: Path) -> None:
    a, b = servers
    li = Caller()
    assert li.sign_in(a, "officer-li", PASSWORD).status == 200
    # Signed in on A, known on B.
    me = li.call(b, "GET", "/api/me")
    assert (me.status, me.json()["username"]) == (200, "officer-li")

    # Written on A, read on B.
    created = li.call(a, "POST", "/api/violations", VIOLATION)
    assert created.status == 201, created.body
    violation = created.json()
    read = li.call(b, "GET", f"/api/layers/violations?ids={violation['id']}").json()
    assert [(f["id"], f["properties"]["plate"]) for f in read["features"]] == [(violation["id"], "京A12345")]

    # An idempotency key used on A is known on B: the retry is answered from the stored answer.
    first = li.call(a, "POST", "/api/violations", VIOLATION, Idempotency_Key="handheld-7:1")
    retried = li.call(b, "POST", "/api/violations", VIOLATION, Idempotency_Key="handheld-7:1")
    assert (first.status, retried.status, retried.headers["Idempotent-Replayed"]) == (201, 201, "true")
    assert retried.body == first.body
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Violation).where(Violation.source_id.like("api:%"))) == 2

    # A photo taken as evidence on A is served by B, byte for byte; neither wrote a file.
    photo = phone_jpeg()
    uploaded = li.upload(a, f"/api/violations/{violation['id']}/photos", photo)
    assert uploaded.status == 201, uploaded.body
    original = li.call(b, "GET", f"/api/photos/{uploaded.json()['sha256']}/original")
    assert (original.status, original.body) == (200, photo)
    assert li.call(b, "GET", uploaded.json()["url"]).status == 200
    assert not [f for f in tmp_path.glob("evidence-*/**/*") if f.is_file()]

    # Failed sign-ins counted on A close the account on B too (the limit is 5 per account in 15 minutes).
    stranger = Caller()
    for _ in range(5):
        assert stranger.sign_in(a, "officer-he", "not the password").status == 401
    assert Caller().sign_in(b, "officer-he", PASSWORD).status == 429

    # B plans a route (and keeps the campus's network in memory); A adds a shortcut; B's next plan takes it.
    before = li.call(b, "POST", "/api/routes/plan", PLAN)
    assert before.status == 200, before.body
    added = li.call(a, "POST", "/api/layers/paths/items", SHORTCUT)
    assert added.status == 201, added.body
    after = li.call(b, "POST", "/api/routes/plan", PLAN)
    assert after.status == 200, after.body
    # What a process that never cached anything computes from the database now:
    fresh = signed_in_client(app, "fresh-eyes", "admin").post("/api/routes/plan", json=PLAN)
    assert fresh.status_code == 200
    # (The start, 110 m from the nearest walkable path before, now lies on the new one: the tour walks from there.)
    length = [_length(answer) for answer in (before.json(), after.json(), fresh.get_json())]
    assert length[1] == length[2] and abs(length[1] - length[0]) > 10, length
    assert after.json() == fresh.get_json()

    # Signed out on B, signed out on A.
    assert li.call(b, "POST", "/logout").status == 200
    assert li.call(a, "GET", "/api/me").status == 401


def _length(plan: dict[str, Any]) -> float:
    """The planned tour's length in metres, summed over its routes."""
    return sum(f["properties"]["length_m"] for f in plan["features"] if "length_m" in f["properties"])
