"""Saving duty posts from the map: all or none, in scope, audited."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import func, select

from patrolmap.extensions import db
from patrolmap.importing import CampusInfo, load_geodata
from patrolmap.models import AuditEntry, DutyPost

from .conftest import DATA, signed_in_client


def _post(lon: float, lat: float, **props: object) -> dict:
    return {"type": "Feature", "geometry": {"type": "Point", "coordinates": [lon, lat]}, "properties": props}


def _count() -> int:
    return int(db.session.scalar(select(func.count()).select_from(DutyPost)))


def test_saving_suggested_posts(app: Flask) -> None:
    load_geodata(db.session, DATA / "minicampus")
    before = _count()
    staff = signed_in_client(app, "duty-li", "traffic_staff")
    body = {"campus": "mini", "type": "FeatureCollection",
            "features": [_post(116.3512, 40.0007, name="食堂北岗", hours="11:30-13:00"),
                         _post(116.3520, 40.0010, name="<b>西门</b>")]}
    response = staff.post("/api/duty-posts", json=body)
    assert response.status_code == 201, response.get_json()
    saved = response.get_json()["features"]
    assert [f["properties"]["name"] for f in saved] == ["食堂北岗", "<b>西门</b>"]
    assert saved[0]["geometry"]["coordinates"] == [116.3512, 40.0007]
    assert _count() == before + 2
    entries = db.session.scalars(select(AuditEntry).where(AuditEntry.layer == "duty-posts")).all()
    assert sorted(e.feature_id for e in entries) == sorted(f["id"] for f in saved)
    assert {e.actor for e in entries} == {"duty-li"}


def test_bad_posts_store_nothing(app: Flask) -> None:
    load_geodata(db.session, DATA / "minicampus")
    load_geodata(db.session, DATA / "minicampus", campus=CampusInfo("other", "Other", None, "Other U"))
    db.session.commit()
    before = _count()
    staff = signed_in_client(app, "duty-li", "traffic_staff", university="Test University")
    good = _post(116.3512, 40.0007, name="ok")
    cases = [
        ({"campus": "mini", "type": "FeatureCollection", "features": [good, _post(116.35, 40.0)]}, 422),  # no name
        ({"campus": "mini", "type": "FeatureCollection", "features": [good, _post(200, 40.0, name="x")]}, 422),
        ({"campus": "mini", "type": "FeatureCollection", "features": [good, _post(116.35, 40.0, name="x", id=3)]}, 400),
        ({"campus": "mini", "type": "FeatureCollection", "features": []}, 400),
        ({"campus": "mini", "type": "Feature"}, 400),
        ({"type": "FeatureCollection", "features": [good]}, 400),
        ({"campus": "other", "type": "FeatureCollection", "features": [good]}, 404),  # another university's
        ({"campus": "mini", "type": "FeatureCollection",
          "features": [{"type": "Feature", "geometry": {"type": "Point", "coordinates": ["a", 1]}}]}, 400),
    ]
    for body, status in cases:
        response = staff.post("/api/duty-posts", json=body)
        assert response.status_code == status, (body, response.get_json())
        assert response.get_json()["message"]
    assert _count() == before
    viewer = signed_in_client(app, "v", "viewer")
    assert viewer.post("/api/duty-posts", json=cases[0][0]).status_code == 403
