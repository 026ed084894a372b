"""Pages of a large collection: numberMatched counted once per query, later pages read after the last id.

patrolmap.ogcapi.paging keeps, per data version, each query's count and where each page ended. The
pages must be exactly those of a plain OFFSET query (compared with ids read with the ORM), the count
must be taken once for a walk and again after any change (a new violation, a void one, an import),
and page_properties must give the same properties as the row-by-row _properties it replaces.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, g
from flask.testing import FlaskClient
from sqlalchemy import select

from patrolmap.extensions import db
from patrolmap.importing import CampusInfo, load_geodata
from patrolmap.models import Violation
from patrolmap.ogcapi import items
from patrolmap.scope import Scope
from patrolmap.store import query_features
from patrolmap.web.api import _LocalTimes, _properties, page_properties

from .conftest import signed_in_client
from .test_ogcapi import walk

N = 2345
ITEMS = "/ogcapi/collections/violations/items"


@pytest.fixture
def many(app: Flask, two_universities: dict[str, int], tmp_path: Path) -> FlaskClient:
    """N more violations on mini (a generated CSV), and an admin."""
    folder = tmp_path / "many"
    folder.mkdir()
    start = dt.datetime(2026, 3, 1, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    rows = ["id,lon,lat,observed_at,kind,plate,status"]
    rows += [f"m{i},{116.3500 + (i % 40) * 0.0001:.4f},{40.0002 + (i // 40) * 0.00002:.5f},"
             f"{(start + dt.timedelta(minutes=7 * i)).isoformat()},{('fire_lane', 'entrance', 'other')[i % 3]},"
             f"京B{10000 + i},open" for i in range(N)]
    (folder / "violations.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    load_geodata(db.session, folder, campus=CampusInfo("mini"))
    db.session.commit()
    return signed_in_client(app, "paging-admin", "admin")


def live_ids(**where: Any) -> list[int]:
    db.session.expire_all()
    stmt = select(Violation.id).where(Violation.deleted_at.is_(None)).order_by(Violation.id)
    for name, value in where.items():
        stmt = stmt.where(getattr(Violation, name) == value)
    return list(db.session.scalars(stmt))


def counting(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Record every count the items endpoint takes."""
    calls: list[int] = []
    real = items.count_features

    def count(*args: Any, **kwargs: Any) -> int:
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(items, "count_features", count)
    return calls


def walked(client: FlaskClient, url: str) -> tuple[list[int], set[int]]:
    pages = list(walk(client, url))
    return [f["id"] for p in pages for f in p["features"]], {p["numberMatched"] for p in pages}


def test_a_walk_counts_once_and_matches_plain_offsets(many: FlaskClient, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = counting(monkeypatch)
    expected = live_ids()
    ids, matched = walked(many, f"{ITEMS}?limit=1000")
    assert ids == expected and matched == {len(expected)} and len(expected) > 2 * 1000
    assert len(calls) == 1  # the first full page counted; the others were told
    # A page asked for directly (no page before it kept at this offset) walks the offset, and agrees.
    direct = many.get(f"{ITEMS}?limit=500&offset=1700").get_json()
    assert [f["id"] for f in direct["features"]] == expected[1700:2200]
    # A filter is its own query: counted once (the direct page above reused the first count), its pages its own.
    kinds = live_ids(kind="fire_lane")
    ids, matched = walked(many, f"{ITEMS}?limit=300&kind=fire_lane")
    assert ids == kinds and matched == {len(kinds)} and len(calls) == 2  # the direct page used the kept count


def test_a_change_is_counted_again(many: FlaskClient, monkeypatch: pytest.MonkeyPatch) -> None:
    walked(many, f"{ITEMS}?limit=1000")
    calls = counting(monkeypatch)
    first = many.get(f"{ITEMS}?limit=1000").get_json()
    assert calls == [] and first["numberMatched"] == len(live_ids())
    # A new violation (a new highest id) and a void one (an audit entry, no new id) each move the version.
    created = many.post("/api/violations", json={"campus": "mini", "lon": 116.3502, "lat": 40.0004,
                                                 "kind": "other"})
    assert created.status_code == 201, created.get_json()
    ids, matched = walked(many, f"{ITEMS}?limit=1000")
    assert ids == live_ids() and matched == {len(ids)} and len(calls) == 1
    victim = ids[1500]
    voided = many.delete(f"/api/violations/{victim}?reason=entered+twice")
    assert voided.status_code == 200, voided.get_json()
    ids, matched = walked(many, f"{ITEMS}?limit=1000")
    assert victim not in ids and ids == live_ids() and matched == {len(ids)} and len(calls) == 2
    # Following a next link kept from before the change gives the page as it is now.
    page = many.get(f"{ITEMS}?limit=1000&offset=1000").get_json()
    assert [f["id"] for f in page["features"]] == ids[1000:2000]


@pytest.mark.store("sqlite")
def test_page_properties_are_the_row_by_row_ones(app: Flask, two_universities: dict[str, int]) -> None:
    for personal in (True, False):  # an admin, and a viewer who sees plates masked and no reporters
        g.scope = Scope(None, None, personal_data=personal, deployment_wide=True)
        for layer in ("violations", "buildings", "paths", "chargers", "grid-zones", "parking-lots", "duty-posts",
                      "checkpoints"):
            rows = query_features(db.session, layer)
            assert rows, layer
            local = _LocalTimes()
            row_by_row = [_properties(r, local) for r in rows]
            assert page_properties(rows, local) == row_by_row, layer
            assert [list(p) for p in page_properties(rows, local)] == [list(p) for p in row_by_row], layer
    assert page_properties([], _LocalTimes()) == []
