"""What Schemathesis found (tests/test_schemathesis.py), each pinned down: odd input is a 4xx, never a 500.

Ids beyond the 32-bit id columns (PostgreSQL refuses to compare them, SQLite past 64 bits cannot bind
them), NUL in text (PostgreSQL cannot hold it), dates at the ends of the calendar, a JSON body of the
wrong shape, a form part without a name, a point the campus's projection cannot place.
"""

from __future__ import annotations

import io

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from patrolmap.extensions import db
from patrolmap.models import Checkpoint
from patrolmap.web.converters import MAX_ID

HUGE = 2**40  # past PostgreSQL's INTEGER
PAST_64_BITS = 10**25


def status(response: object) -> int:
    return response.status_code  # type: ignore[attr-defined]


def test_ids_beyond_the_columns_name_nothing(client: FlaskClient, two_universities: dict[str, int]) -> None:
    for path in (f"/api/routes/{PAST_64_BITS}", f"/api/routes/{MAX_ID + 1}", f"/api/violations/{HUGE}"):
        for method in ("GET", "PUT", "DELETE"):
            response = client.open(path, method=method, json={})
            assert status(response) == 404 and response.is_json, (method, path, status(response))
    assert status(client.get(f"/api/routes/{MAX_ID}")) == 404  # the largest id still routes, and is unknown
    body = {"lon": 116.3502, "lat": 40.0004, "kind": "other"}
    assert status(client.post("/api/violations", json={**body, "campus": HUGE})) == 404
    assert status(client.post("/api/layers/paths/join", json={"ids": [HUGE, 1], "versions": [1, 1]})) == 404
    assert status(client.get(f"/ogcapi/collections/violations/items/{PAST_64_BITS}")) == 404
    assert status(client.get(f"/api/chargers/scenarios/compare?ids={HUGE}")) == 404
    assert status(client.get(f"/api/audit?feature_id={HUGE}")) == 400
    assert status(client.get(f"/ogcapi/collections/buildings/items?residents={HUGE}")) == 400
    assert status(client.post("/api/violations/1/transition", json={"to": "towed", "version": HUGE})) == 400


def test_nul_in_text_is_refused(client: FlaskClient, two_universities: dict[str, int]) -> None:
    assert status(client.get("/api/hotspots?campus=mi%00ni")) == 400
    assert status(client.get("/api/layers/violations?ids=1&x%00=1")) == 400
    refused = client.post("/api/violations", json={"campus": "mini", "lon": 116.3502, "lat": 40.0004,
                                                   "kind": "other", "note": "blocked\x00exit"})
    assert status(refused) == 400
    assert refused.get_json()["message"] == "note must not contain the NUL character (U+0000)"
    nested = client.post("/api/routes", json={"campus": "mini", "name": "r", "checkpoints": [{"name": "a\x00"}]})
    assert nested.get_json()["message"].startswith("checkpoints[0].name must not")
    assert "campus" in client.get("/api/hotspots?campus=mi%00ni").get_json()["message"]
    upload = client.post("/api/imports", data={"campus": "mi\x00ni", "file": (io.BytesIO(b"id,lon,lat\n"), "v.csv")},
                         content_type="multipart/form-data")
    assert status(upload) == 400 and "campus" in upload.get_json()["message"]


def test_bodies_and_forms_of_the_wrong_shape(app: Flask, client: FlaskClient,
                                             two_universities: dict[str, int]) -> None:
    assert status(client.post("/language", json={"language": {"zh": 1}})) == 400
    assert status(client.post("/language", json=["en"])) == 400
    assert client.post("/language", json={"language": "en"}).get_json() == {"language": "en"}
    nameless = (b"--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"v.csv\"\r\n\r\nid\r\n"
                b"--b\r\nContent-Disposition: form-data\r\n\r\nx\r\n--b--\r\n")
    response = client.post("/api/imports", data=nameless, content_type="multipart/form-data; boundary=b")
    assert status(response) == 400, response.get_json()


def test_dates_at_the_ends_of_the_calendar(client: FlaskClient, two_universities: dict[str, int]) -> None:
    for query in ("date=0001-01-01", "date=9999-12-31", "period=custom&from=0001-01-01&to=0001-01-31"):
        response = client.get(f"/api/reports?campus=mini&{query}")
        assert status(response) == 400 and response.is_json, (query, response.get_json())


def test_a_stop_the_projection_cannot_place_is_unreachable(client: FlaskClient,
                                                             two_universities: dict[str, int]) -> None:
    start = db.session.scalars(select(Checkpoint.id).order_by(Checkpoint.id)).first()
    response = client.post("/api/routes/plan", json={"campus": "mini", "checkpoints": [[0.0, 0.0]], "start": start})
    assert status(response) == 200, response.get_json()
    (unreachable,) = response.get_json()["unreachable"]
    assert unreachable["checkpoint"] == 0 and unreachable["distance_m"] is None


def test_digits_that_are_no_numbers(client: FlaskClient, two_universities: dict[str, int]) -> None:
    """"²".isdigit() is true, int("²") fails: such text is a name or a bad value, never a 500."""
    path_id = db.session.scalars(select(Checkpoint.id)).first()  # any id: the item is looked up first
    assert status(client.get("/api/patrol/missed?campus=%C2%B2")) == 404
    assert status(client.get("/api/violations/zombies?days=%C2%B2")) == 400
    assert status(client.delete(f"/api/layers/checkpoints/items/{path_id}?version=%C2%B2")) == 400
    assert status(client.post("/api/chargers/suggest", json={"campus": "mini", "exclude": ["²"]})) == 400


def test_bodies_and_dates_the_long_run_found(client: FlaskClient, two_universities: dict[str, int]) -> None:
    """benchmarks/schemathesis_long.py (1,000 cases per operation): a JSON array to /login, year 1 shifts."""
    assert status(client.post("/login", json=[{"username": "x"}])) == 400
    assert status(client.get("/api/patrol/missed?campus=mini&from=0001-01-01&to=0001-01-01")) == 400
    assert status(client.get("/api/patrol/missed?campus=mini&to=0001-01-03")) == 400
    assert status(client.get("/api/routes/1/shifts/0001-01-01")) == 400
