"""One deployment, several universities: each user sees and changes only their own campuses."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import func, select

from patrolmap.extensions import db
from patrolmap.importing import CampusInfo, load_geodata
from patrolmap.models import Building, Violation

from .conftest import DATA, signed_in_client

MINI_BBOX = "116.349,39.999,116.355,40.002"


def _count(model: type, campus_id: int) -> int:
    stmt = select(func.count()).select_from(model).where(model.campus_id == campus_id)
    if model is Violation:
        stmt = stmt.where(Violation.deleted_at.is_(None))
    return int(db.session.scalar(stmt))


def test_a_user_sees_only_their_universitys_campuses(app: Flask, two_universities: dict[str, int]) -> None:
    mini, other = two_universities["mini"], two_universities["other"]
    client = signed_in_client(app, "tu-staff", "traffic_staff", university="Test University")
    assert [c["slug"] for c in client.get("/api/campuses").get_json()] == ["mini"]
    buildings = client.get("/api/layers/buildings").get_json()
    assert buildings["numberMatched"] == _count(Building, mini) > 0
    assert {f["properties"]["campus"] for f in buildings["features"]} == {mini}
    violations = client.get("/api/layers/violations?limit=1").get_json()
    assert violations["numberMatched"] == _count(Violation, mini)
    cells = client.get(f"/api/layers/buildings/cells?bbox={MINI_BBOX}").get_json()
    assert cells["numberMatched"] == _count(Building, mini)
    # The other university's campus answers as unknown everywhere, ids included.
    assert client.get("/api/layers/buildings?campus=other").status_code == 404
    assert client.get(f"/api/layers/buildings/cells?bbox={MINI_BBOX}&campus={other}").status_code == 404
    assert client.get("/?campus=other").status_code == 404
    their_ids = db.session.scalars(select(Building.id).where(Building.campus_id == other)).all()
    by_ids = client.get("/api/layers/buildings?ids=" + ",".join(map(str, their_ids))).get_json()
    assert by_ids["features"] == [] and by_ids["numberMatched"] == 0


def test_writes_to_another_universitys_campus_are_refused(app: Flask, two_universities: dict[str, int]) -> None:
    other = two_universities["other"]
    client = signed_in_client(app, "tu-staff", "traffic_staff", university="Test University")
    before = _count(Violation, other)
    body = {"campus": "other", "lon": 116.3512, "lat": 40.0007, "kind": "other"}
    refused = client.post("/api/violations", json=body)
    assert refused.status_code == 404 and refused.get_json()["message"] == "unknown campus 'other'"
    assert client.post("/api/violations", json={**body, "campus": other}).status_code == 404
    assert _count(Violation, other) == before
    # With one campus in scope the campus may be left out, and the write lands there.
    mini_before = _count(Violation, two_universities["mini"])
    body.pop("campus")
    assert client.post("/api/violations", json=body).status_code == 201
    assert _count(Violation, two_universities["mini"]) == mini_before + 1
    assert _count(Violation, other) == before


def test_a_user_limited_to_some_campuses(app: Flask, two_universities: dict[str, int]) -> None:
    load_geodata(db.session, DATA / "minicampus", campus=CampusInfo("other-north", "North", None, "Other U"))
    db.session.commit()
    client = signed_in_client(app, "ou-viewer", "viewer", university="Other U", campuses="other-north")
    assert [c["slug"] for c in client.get("/api/campuses").get_json()] == ["other-north"]
    assert client.get("/api/layers/buildings?campus=other").status_code == 404
    # Without a campus limit the same university's campuses are all visible, and no other's.
    everyone = signed_in_client(app, "ou-viewer-2", "viewer", university="Other U")
    assert [c["slug"] for c in everyone.get("/api/campuses").get_json()] == ["other", "other-north"]


def test_a_deployment_admin_sees_every_university(app: Flask, two_universities: dict[str, int]) -> None:
    client = signed_in_client(app, "root", "admin")
    assert [c["slug"] for c in client.get("/api/campuses").get_json()] == ["mini", "other"]
    total = _count(Building, two_universities["mini"]) + _count(Building, two_universities["other"])
    assert client.get("/api/layers/buildings").get_json()["numberMatched"] == total


def test_the_campus_switcher_offers_only_campuses_in_scope(app: Flask, two_universities: dict[str, int]) -> None:
    root = signed_in_client(app, "root", "admin").get("/").get_data(as_text=True)
    assert 'value="other"' in root and 'value="mini"' in root
    assert "recordControl" in root  # admins may record violations from the map
    page = signed_in_client(app, "tu", "viewer", university="Test University").get("/").get_data(as_text=True)
    assert 'value="other"' not in page and "Other campus" not in page
    assert "recordControl" not in page  # a viewer is not offered a form the server would refuse


def test_public_view_is_off_by_default(app: Flask, two_universities: dict[str, int]) -> None:
    anon = app.test_client()
    assert anon.get("/").status_code == 302
    assert anon.get("/api/layers/buildings").status_code == 401


def test_public_view_shows_buildings_paths_and_chargers_only(app: Flask, two_universities: dict[str, int]) -> None:
    app.config["PUBLIC_VIEW"] = True
    anon = app.test_client()
    assert {layer["id"] for layer in anon.get("/api/layers").get_json()} == {"buildings", "paths", "chargers"}
    assert anon.get("/api/layers/chargers").status_code == 200
    for hidden in ("violations", "checkpoints", "grid-zones", "duty-posts", "parking-lots"):
        response = anon.get(f"/api/layers/{hidden}")
        assert response.status_code == 401, hidden
        assert anon.get(f"/api/layers/{hidden}/cells?bbox={MINI_BBOX}").status_code == 401
    html = anon.get("/").get_data(as_text=True)
    assert "/api/layers/buildings" in html and "/api/layers/violations" not in html
    assert 'href="/patrol"' not in html and "recordControl" not in html
    assert anon.get("/patrol").status_code == 302  # the job pages still need a sign-in
    assert anon.post("/api/violations", json={"lon": 116.35, "lat": 40.0}).status_code == 401
