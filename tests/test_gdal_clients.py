"""Real GIS clients against a live patrolmap: GDAL's OGC API - Features driver (Debian's gdal-bin).

`ogrinfo OAPIF:<base>/ogcapi` must list every collection, a spatial filter must give the features a
direct query of the store gives, an attribute filter must reach the server (GDAL reads the queryable
properties in the OpenAPI document), and `ogr2ogr` must copy every layer into a GeoPackage whose counts,
geometries and values are the store's. Debian's GDAL 3.6 pages by 10 unless told, so, as the README
says, the clients ask for PAGE_SIZE=1000, and authenticate with an API token in GDAL_HTTP_HEADERS.

The live server (the sample campus, 6,042 violations) is the browser tests' own, shared per store.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pyogrio
import pytest
import shapely
from sqlalchemy import select

from patrolmap.extensions import db
from patrolmap.layers import LAYERS
from patrolmap.models import PatrolRoute, User, Violation
from patrolmap.ogcapi.collections import COLLECTIONS
from patrolmap.store import AUDITED_MODELS

from .browser.conftest import LiveServer, shared_server
from .conftest import IN_CI, empty_database

pytestmark = pytest.mark.slow
_tokens: dict[str, str] = {}


def _gdal_tools() -> tuple[str, str]:
    ogrinfo, ogr2ogr = shutil.which("ogrinfo"), shutil.which("ogr2ogr")
    if ogrinfo is None or ogr2ogr is None:
        reason = "GDAL's ogrinfo and ogr2ogr (Debian's gdal-bin) are needed for the GIS client tests"
        if IN_CI:
            pytest.fail(reason)
        pytest.skip(reason)
    return ogrinfo, ogr2ogr


@pytest.fixture
def gis(store: str, tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    """The live server of this store, an admin's API token, and GDAL's tools."""
    ogrinfo, ogr2ogr = _gdal_tools()
    server = shared_server(
        store, lambda: LiveServer(empty_database(store, tmp_path_factory.mktemp(f"live-{store}"))))
    if store not in _tokens:
        from patrolmap.auth.sessions import create_api_token

        with server.app.app_context():
            user = db.session.scalars(select(User).where(User.username == LiveServer.USERNAME)).one()
            _tokens[store], _ = create_api_token(db.session, user, "GDAL tests")
            db.session.remove()
    return SimpleNamespace(server=server, source=f"OAPIF:{server.url}/ogcapi", ogrinfo=ogrinfo, ogr2ogr=ogr2ogr,
                           options=["--config", "GDAL_HTTP_HEADERS", f"Authorization: Bearer {_tokens[store]}",
                                    "-oo", "PAGE_SIZE=1000"])


def run(*args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}
    done = subprocess.run(args, capture_output=True, text=True, timeout=600, env=env, check=False)
    if ok:
        assert done.returncode == 0, (args, done.stdout[-2000:], done.stderr[-2000:])
    return done


def stored_geometries(server: LiveServer, collection_id: str) -> dict[int, Any]:
    """The store's live features of a collection, by id, read in the server's app."""
    with server.app.app_context():
        if collection_id == "patrol-routes":
            stmt = select(PatrolRoute.id, PatrolRoute.geom).where(PatrolRoute.deleted_at.is_(None))
        else:
            model = LAYERS[collection_id].model
            stmt = select(model.id, model.geom)
            if model in AUDITED_MODELS:
                stmt = stmt.where(model.deleted_at.is_(None))
        rows = dict(db.session.execute(stmt).tuples().all())
        db.session.remove()
    return rows


def test_ogrinfo_lists_every_collection_and_filters_on_the_server(gis: SimpleNamespace) -> None:
    listing = run(gis.ogrinfo, "-ro", *gis.options, gis.source).stdout
    assert re.findall(r"^\d+: (\S+) \(title: ", listing, re.MULTILINE) == list(COLLECTIONS)
    with gis.server.app.app_context():
        live = db.session.execute(select(Violation.id, Violation.lon, Violation.lat, Violation.kind)
                                  .where(Violation.deleted_at.is_(None))).all()
        db.session.remove()
    lons, lats = sorted(v.lon for v in live), sorted(v.lat for v in live)
    # The middle of the campus: a third of the violations' spread each way.
    x0, x1 = lons[len(lons) // 3], lons[2 * len(lons) // 3]
    y0, y1 = lats[len(lats) // 3], lats[2 * len(lats) // 3]
    spat = ["violations", "-spat", *(repr(v) for v in (x0, y0, x1, y1))]
    out = run(gis.ogrinfo, "-ro", "-q", "--debug", "on", *gis.options, gis.source, *spat,
              "-where", "kind = 'fire_lane'")
    fids = [int(f) for f in re.findall(r"^OGRFeature\(violations\):(\d+)$", out.stdout, re.MULTILINE)]
    direct = sorted(v.id for v in live if x0 <= v.lon <= x1 and y0 <= v.lat <= y1 and v.kind == "fire_lane")
    assert 0 < len(direct) < len(live) and sorted(fids) == direct and len(set(fids)) == len(fids)
    # Both filters reached the server (GDAL filters again on its side, so the answer alone cannot tell).
    fetched = re.findall(r"Fetch\((\S+/collections/violations/items\?\S+)\)", out.stderr)
    assert any("bbox=" in url and "kind=fire_lane" in url and "limit=1000" in url for url in fetched), fetched
    everything = run(gis.ogrinfo, "-ro", "-q", *gis.options, gis.source, *spat).stdout
    fids = [int(f) for f in re.findall(r"^OGRFeature\(violations\):(\d+)$", everything, re.MULTILINE)]
    assert sorted(fids) == sorted(v.id for v in live if x0 <= v.lon <= x1 and y0 <= v.lat <= y1)
    refused = run(gis.ogrinfo, "-ro", "-oo", "PAGE_SIZE=1000", gis.source, ok=False)
    assert refused.returncode != 0 and "401" in refused.stderr


def test_ogr2ogr_copies_every_layer_to_a_geopackage(gis: SimpleNamespace, tmp_path: Path) -> None:
    target = tmp_path / "patrolmap.gpkg"
    run(gis.ogr2ogr, "-f", "GPKG", "-preserve_fid", str(target), gis.source, *gis.options)
    assert sorted(name for name, _ in pyogrio.list_layers(target)) == sorted(COLLECTIONS)
    for collection_id in COLLECTIONS:
        expected = stored_geometries(gis.server, collection_id)
        frame = pyogrio.read_dataframe(target, layer=collection_id, fid_as_index=True, columns=[])
        assert sorted(frame.index) == sorted(expected), collection_id  # GDAL keeps the feature ids as FIDs
        for fid, geometry in zip(frame.index, frame.geometry, strict=True):
            assert shapely.equals_exact(geometry, expected[fid], tolerance=0), (collection_id, fid)
    # Times stay as patrolmap gives them, in the campus's time zone (GDAL warns that GeoPackage wants UTC).
    violations = pyogrio.read_dataframe(target, layer="violations", fid_as_index=True, columns=["kind"])
    with gis.server.app.app_context():
        kinds = dict(db.session.execute(select(Violation.id, Violation.kind)
                                        .where(Violation.deleted_at.is_(None))).tuples().all())
        db.session.remove()
    assert violations["kind"].to_dict() == kinds
