"""The EV charger placement API (issue 8) on both stores: answers checked against the pure core, by hand and by
brute force; scenarios, exports, imports, roles and scope."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyproj
import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import func, select

from patrolmap import chargers
from patrolmap.extensions import db
from patrolmap.importing import load_geodata
from patrolmap.models import AuditEntry, Charger, ChargerScenario
from patrolmap.placement import candidate_sites, charger_sites, coverage, demand_points, walking_distances
from patrolmap.routing.network import build_network
from patrolmap.store import ensure_campus, layer_frame

from .conftest import DATA, signed_in_client

SAMPLE = Path(__file__).resolve().parents[1] / "geodata" / "cau-east"
AFDC = DATA / "chargers" / "afdc_college_campus_stations.geojson"
GEOD = pyproj.Geod(ellps="WGS84")


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    """Each test's database starts over with the same campus ids: never serve a matrix of another test."""
    chargers.clear_cache()
    yield
    chargers.clear_cache()


def _metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    return GEOD.inv(a[0], a[1], b[0], b[1])[2]


def _sample(app: Flask) -> FlaskClient:
    load_geodata(db.session, SAMPLE)
    db.session.commit()
    return signed_in_client(app, "planner-wang", "planner")


def _get(client: FlaskClient, url: str) -> dict[str, Any]:
    response = client.get(url)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def _post(client: FlaskClient, url: str, body: dict[str, Any], status: int = 200) -> dict[str, Any]:
    response = client.post(url, json=body)
    assert response.status_code == status, response.get_json()
    return response.get_json()


def _core(campus_id: int, kind: str, walk_m: float, statuses: tuple[str, ...] = ("existing",)) -> dict[str, Any]:
    """The pure core's answer on the stored frames, ids written as the API documents them."""
    def prefixed(layer: str, prefix: str) -> Any:
        frame = layer_frame(db.session, layer, campus_id=campus_id)
        frame["id"] = [f"{prefix}:{i}" for i in frame["id"]]
        return frame

    buildings, lots = prefixed("buildings", "building"), prefixed("parking-lots", "parking-lot")
    stored = prefixed("chargers", "charger")
    net = build_network(layer_frame(db.session, "paths", campus_id=campus_id), "walk")
    demand = demand_points(buildings, lots, kind)  # type: ignore[arg-type]
    sites = charger_sites(stored, kind, statuses=statuses)  # type: ignore[arg-type]
    dist = walking_distances(net, demand, sites, candidate_sites(lots), walk_m)
    cov = coverage(dist, demand["weight"])
    return {"demand": demand, "dist": dist, "cov": cov, "sites": sites, "lots": candidate_sites(lots)}


# ---------------------------------------------------------------- coverage


@pytest.mark.parametrize(("kind", "planned"), [("car", False), ("ebike", False), ("car", True)])
def test_coverage_on_the_sample_campus_equals_the_core(app: Flask, kind: str, planned: bool) -> None:
    client = _sample(app)
    campus_id = db.session.execute(select(Charger.campus_id)).scalars().first()
    answer = _get(client, f"/api/chargers/coverage?campus=cau-east&kind={kind}&walk_m=300&planned={planned}")
    core = _core(campus_id, kind, 300.0, ("existing", "planned") if planned else ("existing",))
    cov, dist, demand = core["cov"], core["dist"], core["demand"]
    assert answer["kind"] == kind and answer["walk_m"] == 300 and answer["chargers"] == len(core["sites"])
    assert answer["total_demand"] == pytest.approx(cov.total_weight)
    assert answer["covered_demand"] == pytest.approx(cov.covered_weight)
    assert answer["covered_share"] == pytest.approx(cov.share, abs=1e-6)
    features = {f["id"]: f for f in answer["demand"]["features"]}
    assert set(features) == set(demand["id"])
    for i, did in enumerate(demand["id"]):
        props = features[did]["properties"]
        assert props["covered"] == bool(cov.covered[i]), did
        assert props["weight"] == pytest.approx(float(demand["weight"].iloc[i]))
        nearest_m = dist.nearest_existing_m[i]
        assert props["walk_m_to_nearest"] == (pytest.approx(nearest_m, abs=0.06) if nearest_m < 1e9 else None)
        assert props["covered"] == (props["walk_m_to_nearest"] is not None and props["walk_m_to_nearest"] <= 300.05)
        assert props["source"] == ("parking_lot" if did.startswith("parking-lot:") else "building")
        near = dist.nearest_existing[i]
        assert props["nearest_charger"] == (int(dist.site_ids[near].split(":")[1]) if near >= 0 else None)
    # the uncovered list: every uncovered demand point, heaviest first
    uncovered = answer["uncovered"]
    assert {u["id"] for u in uncovered} == {d for i, d in enumerate(demand["id"]) if not cov.covered[i]}
    assert [u["weight"] for u in uncovered] == sorted((u["weight"] for u in uncovered), reverse=True)
    # one isochrone per charger on the network, each around its own charger
    rings = answer["isochrones"]["features"]
    assert sorted(r["properties"]["charger"] for r in rings) == sorted(int(s.split(":")[1]) for s in core["sites"]["id"])
    assert all(r["geometry"]["type"] in ("Polygon", "MultiPolygon") and r["properties"]["reach_m"] > 0 for r in rings)
    if kind == "car" and not planned:
        assert cov.share == pytest.approx(236 / 1480)  # the figure tests/placement pins for the sample campus


def test_walking_distance_changes_coverage_monotonically(app: Flask) -> None:
    client = _sample(app)
    previous_share, previous_covered = -1.0, set()
    for walk_m in (50, 150, 300, 450, 800, 1000, 1200, 2000, 3000):
        answer = _get(client, f"/api/chargers/coverage?campus=cau-east&kind=car&walk_m={walk_m}")
        covered = {f["id"] for f in answer["demand"]["features"] if f["properties"]["covered"]}
        assert answer["covered_share"] >= previous_share and covered >= previous_covered, walk_m
        previous_share, previous_covered = answer["covered_share"], covered
    assert previous_share > 0.9 and len(previous_covered) > 10  # 3 km walks reach nearly everything


def test_a_charger_at_a_known_walk_flips_coverage(app: Flask) -> None:
    """Mini campus: the walk network is the footway p2 (lon 116.3508) and the service road p3; dorms b1 and b2
    reach p2 at lat 40.0002 from their centroids. A new e-bike charger on p2 at lat 40.0010 is their walk away."""
    load_geodata(db.session, DATA / "minicampus")
    db.session.commit()
    client = signed_in_client(app, "planner-li", "planner")
    before = _get(client, "/api/chargers/coverage?campus=mini&kind=ebike&walk_m=200")
    assert before["chargers"] == 0 and before["covered_share"] == 0 and before["isochrones"]["features"] == []
    site = (116.3508, 40.0010)
    charger = {"type": "FeatureCollection", "features": [{"type": "Feature", "id": "ev-new",
               "geometry": {"type": "Point", "coordinates": list(site)},
               "properties": {"name": "新充电柜", "ports": 12, "power_kw": 0.5}}]}
    response = client.post("/api/chargers/import?campus=mini&format=geojson&kind=ebike", data=json.dumps(charger),
                           content_type="application/geo+json")
    assert response.status_code == 200, response.get_json()
    charger_id = db.session.scalar(select(Charger.id).where(Charger.source_id == "ev-new"))
    foot = (116.3508, 40.0002)
    along = _metres(foot, site)
    expected = {"b1": _metres((116.35025, 40.0002), foot) + along, "b2": _metres((116.35125, 40.0002), foot) + along}
    assert 120 < expected["b2"] < expected["b1"] - 6 < 150  # about 127 and 136 m

    def covered(walk_m: float) -> dict[str, dict[str, Any]]:
        answer = _get(client, f"/api/chargers/coverage?campus=mini&kind=ebike&walk_m={walk_m}")
        assert answer["chargers"] == 1  # c2 of the mini campus is only planned
        names = {"学生公寓1号楼": "b1", "学生公寓2号楼": "b2"}
        return {names[f["properties"]["name"]]: f["properties"] for f in answer["demand"]["features"]}

    for walk_m, wanted in ((expected["b2"] - 2, set()), (expected["b2"] + 2, {"b2"}), (expected["b1"] + 2, {"b1", "b2"})):
        demand = covered(walk_m)
        assert {k for k, p in demand.items() if p["covered"]} == wanted, walk_m
        for key, props in demand.items():
            assert props["walk_m_to_nearest"] == pytest.approx(expected[key], abs=0.5)
            assert props["nearest_charger"] == charger_id
    with_planned = _get(client, f"/api/chargers/coverage?campus=mini&kind=ebike&walk_m={expected['b2'] + 2}"
                                "&planned=true")
    assert with_planned["chargers"] == 2


def test_weight_overrides(app: Flask) -> None:
    client = _sample(app)
    base = _get(client, "/api/chargers/coverage?campus=cau-east&kind=car&walk_m=300")
    first = base["uncovered"][0]
    answer = _get(client, f"/api/chargers/coverage?campus=cau-east&kind=car&walk_m=300&weights={first['id']}:0")
    assert answer["total_demand"] == pytest.approx(base["total_demand"] - first["weight"])
    props = next(f["properties"] for f in answer["demand"]["features"] if f["id"] == first["id"])
    assert props["weight"] == 0 and props["weight_source"] == "override"


# ---------------------------------------------------------------- suggestions


def _lot_points(campus_id: int) -> dict[int, tuple[float, float]]:
    lots = candidate_sites(layer_frame(db.session, "parking-lots", campus_id=campus_id))
    return {int(i): (g.x, g.y) for i, g in zip(lots["id"], lots.geometry, strict=True)}


def test_one_new_site_is_the_best_by_brute_force(app: Flask) -> None:
    """Each candidate's new coverage, measured one by one as a saved scenario, against the solver's pick."""
    client = _sample(app)
    campus_id = db.session.execute(select(Charger.campus_id)).scalars().first()
    baseline = _get(client, "/api/chargers/coverage?campus=cau-east&kind=car&walk_m=300")["covered_demand"]
    gains = {}
    for lot, (lon, lat) in _lot_points(campus_id).items():
        saved = _post(client, "/api/chargers/scenarios", {"campus": "cau-east", "name": f"lot {lot}", "kind": "car",
                                                          "walk_m": 300, "sites": [{"lon": lon, "lat": lat}]}, 201)
        gains[lot] = saved["summary"]["covered_demand"] - baseline
        assert saved["summary"]["newly_covered"][0] == pytest.approx(gains[lot])
    best = max(gains.values())
    assert best > 0
    answer = _post(client, "/api/chargers/suggest", {"campus": "cau-east", "kind": "car", "k": 1, "walk_m": 300})
    [site] = answer["sites"]
    assert site["source"] == "parking_lot" and gains[site["candidate"]] == pytest.approx(best)
    assert site["newly_covered"] == pytest.approx(best) and len(site["demand"]) >= 1
    assert answer["before"]["covered_demand"] == pytest.approx(baseline)
    assert answer["after"]["covered_demand"] == pytest.approx(baseline + best)
    assert answer["method"] == "exact" and answer["optimal"] and answer["gap"] == 0
    assert answer["solve_ms"] >= 0 and "target_reached" not in answer


def test_nothing_to_add_where_everything_is_covered(app: Flask) -> None:
    client = _sample(app)
    answer = _post(client, "/api/chargers/suggest", {"campus": "cau-east", "kind": "ebike", "k": 3})
    assert answer["before"]["covered_share"] == 1.0 and answer["sites"] == []
    assert answer["after"] == answer["before"]


def test_the_fewest_sites_for_a_target_share(app: Flask) -> None:
    client = _sample(app)
    body = {"campus": "cau-east", "kind": "car", "walk_m": 300}
    answer = _post(client, "/api/chargers/suggest", {**body, "target_share": 0.8})
    assert answer["question"] == "fewest_sites" and answer["target_reached"] is True
    assert answer["after"]["covered_share"] >= 0.8
    count = len(answer["sites"])
    assert count >= 2
    fewer = _post(client, "/api/chargers/suggest", {**body, "k": count - 1})  # the best with one site less
    assert fewer["optimal"] and fewer["after"]["covered_share"] < 0.8
    # car demand includes the parking lots, each a candidate covering itself: 100 % is within reach
    everything = _post(client, "/api/chargers/suggest", {**body, "target_share": 1.0})
    assert everything["target_reached"] is True and everything["after"]["covered_share"] == 1.0
    assert len(everything["sites"]) > count
    # with one candidate only, it is not: the answer is that candidate and says so
    lot = answer["sites"][0]["candidate"]
    alone = _post(client, "/api/chargers/suggest", {**body, "k": 1, "candidates": [lot]})["after"]["covered_share"]
    beyond = _post(client, "/api/chargers/suggest", {**body, "target_share": 1.0, "candidates": [lot]})
    assert alone < 1.0 and beyond["target_reached"] is False
    assert beyond["after"]["covered_share"] == pytest.approx(alone)
    assert [s["candidate"] for s in beyond["sites"]] == [lot] and "out of reach" in beyond["note"]


def test_exclusions_penalties_and_own_points(app: Flask) -> None:
    client = _sample(app)
    campus_id = db.session.execute(select(Charger.campus_id)).scalars().first()
    body = {"campus": "cau-east", "kind": "car", "k": 1, "walk_m": 300}
    best = _post(client, "/api/chargers/suggest", body)["sites"][0]
    lot = best["candidate"]
    for extra in ({"exclude": [lot]}, {"exclude": [f"parking-lot:{lot}"]}, {"penalties": {str(lot): 100000}}):
        other = _post(client, "/api/chargers/suggest", {**body, **extra})["sites"][0]
        assert other["candidate"] != lot and other["newly_covered"] <= best["newly_covered"], extra
    only = _post(client, "/api/chargers/suggest", {**body, "candidates": [lot]})["sites"]
    assert [s["candidate"] for s in only] == [lot]
    # the same place given as a point of the planner's covers the same demand
    lon, lat = _lot_points(campus_id)[lot]
    point = _post(client, "/api/chargers/suggest", {**body, "candidates": [[116.3, 40.0], [lon, lat]]})
    [site] = point["sites"]
    assert site["source"] == "point" and site["candidate"] == 1 and site["id"] == "point:1"
    assert site["newly_covered"] == pytest.approx(best["newly_covered"]) and site["demand"] == best["demand"]
    assert [u["candidate"] for u in point["unreachable"]] == [0]  # [116.3, 40.0] is kilometres from any path
    assert point["unreachable"][0]["reason"].startswith("farther than 150 m from the path network (")
    chinese = client.post("/api/chargers/suggest", json={**body, "candidates": [[116.3, 40.0], [lon, lat]]},
                          headers={"Accept-Language": "zh-CN"}).get_json()
    assert chinese["unreachable"][0]["reason"].startswith("距道路网络超过 150 米（")
    excluded = _post(client, "/api/chargers/suggest", {**body, "candidates": [[lon, lat]], "exclude": ["point:0"]})
    assert excluded["sites"] == []


@pytest.mark.parametrize(("body", "fragment"), [
    ({"k": 0}, "k must be"), ({"k": 51}, "k must be"), ({"k": "3"}, "k must be"), ({"k": True}, "k must be"),
    ({"walk_m": 0}, "walk_m"), ({"walk_m": 3001}, "walk_m"), ({"walk_m": "far"}, "walk_m"),
    ({"kind": "truck"}, "kind"), ({"target_share": 1.5}, "target_share"), ({"method": "magic"}, "method"),
    ({"candidates": [999999]}, "unknown parking-lot id"), ({"candidates": [[200, 40]]}, "lon within"),
    ({"candidates": [[116.35, 40.0]] * 2001}, "at most 2000"), ({"exclude": [999999]}, "unknown candidate"),
    ({"exclude": ["point:3"]}, "unknown candidate"), ({"penalties": {"999999": 5}}, "unknown candidate"),
    ({"penalties": {"1": -5}}, "must be a number"), ({"weights": {"building:999999": 5}}, "unknown demand id"),
    ({"candidates": [[120.0, 30.0]]}, "km from the campus"), ({"colour": "red"}, "unknown field"),
])
def test_bad_suggestions_are_refused(app: Flask, body: dict[str, Any], fragment: str) -> None:
    client = _sample(app)
    response = client.post("/api/chargers/suggest", json={"campus": "cau-east", "kind": "car", "k": 2, **body})
    assert response.status_code == 400, response.get_json()
    assert fragment in response.get_json()["message"]


@pytest.mark.parametrize(("query", "fragment"), [
    ("walk_m=5", "walk_m"), ("walk_m=3500", "walk_m"), ("walk_m=abc", "walk_m"), ("kind=bus", "kind"),
    ("planned=maybe", "planned"), ("weights=building:1:x", "weights"), ("weights=nosuch:3", "unknown demand id"),
])
def test_bad_coverage_queries_are_refused(app: Flask, query: str, fragment: str) -> None:
    client = _sample(app)
    response = client.get(f"/api/chargers/coverage?campus=cau-east&{query}")
    assert response.status_code == 400 and fragment in response.get_json()["message"]
    broken = client.post("/api/chargers/suggest", data="{not json", content_type="application/json")
    assert broken.status_code == 400 and "JSON" in broken.get_json()["message"]


# ---------------------------------------------------------------- scenarios


def _scenario(client: FlaskClient, name: str, sites: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return _post(client, "/api/chargers/scenarios", {"campus": "cau-east", "name": name, "kind": "car",
                                                     "walk_m": 300, "sites": sites, **extra}, 201)


def test_scenarios_save_list_compare_export_and_delete(app: Flask) -> None:
    client = _sample(app)
    suggestion = _post(client, "/api/chargers/suggest", {"campus": "cau-east", "kind": "car", "k": 2})
    sites = [{"lon": s["lon"], "lat": s["lat"], "name": s["name"] or "=HYPERLINK(\"x\")", "ports": 6,
              "power_kw": 60, "candidate": s["candidate"]} for s in suggestion["sites"]]
    one = _scenario(client, "一个新站", sites[:1], note="+first try", excluded=[3, "point:0"])
    two = _scenario(client, "两个新站", sites)
    assert two["summary"]["covered_share"] == pytest.approx(suggestion["after"]["covered_share"], abs=1e-6)
    assert two["summary"]["covered_demand"] == pytest.approx(suggestion["after"]["covered_demand"])
    assert one["summary"]["covered_demand"] == pytest.approx(
        suggestion["before"]["covered_demand"] + suggestion["sites"][0]["newly_covered"])
    assert two["summary"]["sites"] == 6 + 2 and two["summary"]["ports"] == 30 + 12  # the sample's car ports: 30
    assert one["excluded"] == [3, "point:0"] and one["note"] == "+first try"
    listed = _get(client, "/api/chargers/scenarios?campus=cau-east")["scenarios"]
    assert [s["id"] for s in listed] == [one["id"], two["id"]]
    assert _get(client, f"/api/chargers/scenarios/{one['id']}") == one
    rows = _get(client, f"/api/chargers/scenarios/compare?ids={two['id']},{one['id']}")["scenarios"]
    assert [r["name"] for r in rows] == ["两个新站", "一个新站"]
    for row, saved in zip(rows, (two, one), strict=True):
        assert row["covered_share"] == saved["summary"]["covered_share"]
        assert row["uncovered_demand"] == saved["summary"]["uncovered_demand"]
        assert row["ports"] == saved["summary"]["ports"] and row["new_sites"] == saved["sites"]

    response = client.get(f"/api/chargers/scenarios/{two['id']}.csv")
    assert response.status_code == 200 and response.data.startswith(b"\xef\xbb\xbf")
    assert "attachment" in response.headers["Content-Disposition"]
    table = list(csv.DictReader(io.StringIO(response.data.decode("utf-8-sig"))))
    summary = table[0]
    assert summary["row"] == "summary" and summary["name"] == "两个新站"
    assert float(summary["covered_share"]) == pytest.approx(two["summary"]["covered_share"])
    assert int(summary["sites"]) == 8 and int(summary["ports"]) == 42
    assert [r["row"] for r in table[1:]] == ["existing"] * 6 + ["new"] * 2
    names = [r["name"] for r in table if r["row"] == "new"]
    assert all(not n.startswith("=") for n in names)
    assert any(n == "'" + sites[i]["name"] for i, n in enumerate(names) if sites[i]["name"].startswith("="))
    assert float(table[-1]["lon"]) == pytest.approx(sites[1]["lon"])
    assert sum(float(r["newly_covered"]) for r in table if r["row"] == "new") >= float(summary["covered_demand"]) - \
        suggestion["before"]["covered_demand"] - 1e-6  # the two sites may overlap, never fall short
    one_csv = client.get(f"/api/chargers/scenarios/{one['id']}.csv").data.decode("utf-8-sig")
    assert next(iter(csv.DictReader(io.StringIO(one_csv))))["note"] == "'+first try"

    exported = client.get(f"/api/chargers/scenarios/{two['id']}.geojson")
    assert exported.status_code == 200 and exported.mimetype == "application/geo+json"
    doc = json.loads(exported.data)
    roles: dict[str, list[dict[str, Any]]] = {}
    for feature in doc["features"]:
        roles.setdefault(feature["properties"]["role"], []).append(feature)
    assert len(roles["existing_charger"]) == 6 and len(roles["new_site"]) == 2
    assert [f["geometry"]["coordinates"] for f in roles["new_site"]] == [[s["lon"], s["lat"]] for s in sites]
    demand = roles["demand"]
    assert len(demand) == two["summary"]["demand_points"]
    covered = sum(f["properties"]["weight"] for f in demand if f["properties"]["covered"])
    assert covered == pytest.approx(two["summary"]["covered_demand"])
    assert doc["scenario"]["id"] == two["id"]

    assert client.delete(f"/api/chargers/scenarios/{one['id']}?reason=superseded").status_code == 204
    assert client.get(f"/api/chargers/scenarios/{one['id']}").status_code == 404
    assert client.get(f"/api/chargers/scenarios/{one['id']}.csv").status_code == 404
    assert client.get(f"/api/chargers/scenarios/compare?ids={one['id']},{two['id']}").status_code == 404
    assert [s["id"] for s in _get(client, "/api/chargers/scenarios")["scenarios"]] == [two["id"]]
    stored = db.session.get(ChargerScenario, one["id"])
    assert stored is not None and stored.deleted_at is not None  # soft: the row stays
    audit = db.session.execute(select(AuditEntry.action, AuditEntry.feature_id, AuditEntry.reason)
                               .where(AuditEntry.layer == "charger_scenarios").order_by(AuditEntry.id)).all()
    assert [tuple(a) for a in audit] == [("create", one["id"], "charger scenario saved"),
                                         ("create", two["id"], "charger scenario saved"),
                                         ("delete", one["id"], "superseded")]


def test_a_scenario_keeps_its_weights_and_planned_chargers(app: Flask) -> None:
    client = _sample(app)
    base = _get(client, "/api/chargers/coverage?campus=cau-east&kind=car&walk_m=400&planned=true")
    heavy = base["uncovered"][0]
    wanted = _get(client, f"/api/chargers/coverage?campus=cau-east&kind=car&walk_m=400&planned=true"
                          f"&weights={heavy['id']}:0")
    saved = _scenario(client, "as built", [], walk_m=400, planned=True, weights={heavy["id"]: 0})
    summary = saved["summary"]
    assert summary["planned"] is True and summary["weights"] == {heavy["id"]: 0}
    assert summary["existing_sites"] == base["chargers"] == 8 and summary["new_sites"] == 0
    for key in ("total_demand", "covered_demand", "uncovered_demand", "covered_share"):
        assert summary[key] == pytest.approx(wanted[key]), key
    table = list(csv.DictReader(io.StringIO(client.get(f"/api/chargers/scenarios/{saved['id']}.csv")
                                            .data.decode("utf-8-sig"))))
    assert float(table[0]["total_demand"]) == pytest.approx(wanted["total_demand"])
    assert [r["status"] for r in table[1:]].count("planned") == 2
    # a point without a name (blank from a form) is just unnamed
    best = _post(client, "/api/chargers/suggest", {"campus": "cau-east", "k": 1})["sites"][0]
    unnamed = _post(client, "/api/chargers/suggest", {"campus": "cau-east", "k": 1, "candidates": [
        {"lon": best["lon"], "lat": best["lat"], "name": " "}]})
    [site] = unnamed["sites"]
    assert site["name"] is None and site["candidate"] == 0


@pytest.mark.parametrize(("body", "fragment"), [
    ({"name": ""}, "name is required"), ({"sites": [{"lon": 116.35}]}, "lon within"),
    ({"sites": [{"lon": 120.0, "lat": 30.0}]}, "km from the campus"), ({"sites": [{"lon": 116.35, "lat": 40.0,
                                                                                 "ports": -1}]}, "ports"),
    ({"sites": "many"}, "sites must be a list"), ({"walk_m": 0}, "walk_m"), ({"note": 5}, "note"),
    ({"sites": [{"lon": 116.35, "lat": 40.0, "colour": "red"}]}, "unknown field"),
])
def test_bad_scenarios_are_refused(app: Flask, body: dict[str, Any], fragment: str) -> None:
    client = _sample(app)
    response = client.post("/api/chargers/scenarios", json={"campus": "cau-east", "name": "x", "kind": "car", **body})
    assert response.status_code == 400 and fragment in response.get_json()["message"], response.get_json()
    assert db.session.scalar(select(func.count()).select_from(ChargerScenario)) == 0
    bad_ids = client.get("/api/chargers/scenarios/compare?ids=1,x")
    assert bad_ids.status_code == 400


# ---------------------------------------------------------------- imports


def _us_campus() -> None:
    """An empty campus of Test University: nothing to measure the US stations' distance against."""
    ensure_campus(db.session, "us-colleges", name="US colleges", university="Test University", timezone="UTC")
    db.session.commit()


def _chargers() -> dict[str, Charger]:
    rows = db.session.scalars(select(Charger)).all()
    db.session.rollback()
    return {c.source_id: c for c in rows}


def test_afdc_geojson_import_maps_each_field(app: Flask) -> None:
    _us_campus()
    client = signed_in_client(app, "planner-zhao", "planner")
    data = AFDC.read_bytes()
    response = client.post("/api/chargers/import?campus=us-colleges&format=geojson", data=data,
                           content_type="application/geo+json")
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["inserted"] == 9
    assert any("Station Name" not in w and "EV Pricing" in w for w in response.get_json()["warnings"])
    stored = _chargers()
    source = {f["properties"]["ID"]: f for f in json.loads(data)["features"]}
    assert set(stored) == set(source)
    expected = {  # ID: (name, ports, power_kw, operator)
        "47017": ("Montreat College", 1, 7.2, None),  # Level 2 x1, network "Unknown"
        "61815": ("California State University - Fresno", 6, 50.0, None),  # Level 2 x4 + DC fast x2
        "114655": ("Brevard College - Appalachian Coffee Company - Tesla Destination", 1, 7.2, "Tesla Destination"),
        "87772": ("Georgia Institute of Technology - E40 Klaus Parking Deck", 10, 1.9, None),  # Level 1 x10
        "78343": ("St. Joseph's College", 2, 7.2, None),  # Level 1 + Level 2
        "66814": ("University of Cincinnati", 1, 50.0, None),  # DC fast only
        "65299": ("Jamestown Community College", 2, 7.2, "EV Connect"),
    }
    for station, (name, ports, power, operator) in expected.items():
        row = stored[station]
        assert (row.name, row.ports, row.power_kw, row.operator) == (name, ports, power, operator), station
        assert row.kind == "car" and row.status == "existing"  # all opened between 2015 and 2017
        assert (row.geom.x, row.geom.y) == tuple(source[station]["geometry"]["coordinates"])
    again = client.post("/api/chargers/import?campus=us-colleges", data=data, content_type="application/geo+json")
    assert again.get_json()["inserted"] == 0 and again.get_json()["unchanged"] == 9
    audit = db.session.scalars(select(AuditEntry).where(AuditEntry.layer == "chargers",
                                                        AuditEntry.action == "import")).all()
    assert len(audit) == 2 and audit[0].actor == "planner-zhao" and audit[0].after["chargers"]["inserted"] == 9


def test_csv_import_own_fields_chinese_headers_and_future_open_dates(app: Flask) -> None:
    _us_campus()
    client = signed_in_client(app, "planner-zhao", "planner")
    text = ("ID,Station Name,Latitude,Longitude,EV Level1 EVSE Num,EV Level2 EVSE Num,EV DC Fast Count,EV Network,"
            "Status Code,Open Date\n"
            "a1,North deck,39.3088,-76.6254,,2,,ChargePoint Network,E,1/12/15\n"
            "a2,South deck,39.3070,-76.6200,,,2,Unknown,,1/1/2099\n"
            "a3,East lot,39.3080,-76.6220,,4,,,P,\n")
    response = client.post("/api/chargers/import?campus=us-colleges&format=csv", data=text.encode(),
                           content_type="text/csv")
    assert response.status_code == 200, response.get_json()
    stored = _chargers()
    assert (stored["a1"].status, stored["a1"].ports, stored["a1"].power_kw, stored["a1"].operator) == \
        ("existing", 2, 7.2, "ChargePoint Network")
    assert (stored["a2"].status, stored["a2"].power_kw, stored["a2"].operator) == ("planned", 50.0, None)
    assert stored["a3"].status == "planned"  # Status Code P
    chinese = "编号,名称,经度,纬度,类型,端口数,功率,状态,运营商\nz1,3号楼充电柜,-76.6230,39.3075,电动自行车,20,1.5,规划中,校后勤\n"
    response = client.post("/api/chargers/import?campus=us-colleges&format=csv", data=chinese.encode("gbk"),
                           content_type="text/csv")
    assert response.status_code == 200, response.get_json()
    z1 = _chargers()["z1"]
    assert (z1.name, z1.kind, z1.ports, z1.power_kw, z1.status, z1.operator) == \
        ("3号楼充电柜", "ebike", 20, 1.5, "planned", "校后勤")
    # as a page uploads it: a multipart field "file", the format from its name
    upload = {"file": (io.BytesIO(b"id,name,lon,lat,ports\nm1,Form upload,-76.6210,39.3072,3\n"), "inventory.csv")}
    response = client.post("/api/chargers/import?campus=us-colleges&kind=ebike", data=upload,
                           content_type="multipart/form-data")
    assert response.status_code == 200 and response.get_json()["inserted"] == 1, response.get_json()
    m1 = _chargers()["m1"]
    assert (m1.name, m1.kind, m1.ports, m1.status) == ("Form upload", "ebike", 3, "existing")


@pytest.mark.parametrize(("data", "status", "fragment"), [
    (b"{not json", 400, "cannot be read"),
    (b'{"type": "FeatureCollection", "features": []}', 400, "no charger"),
    (b"name,lon\nx,1\n", 400, "no lat column"),
    (b"ID,Station Name,Latitude,Longitude,EV Level2 EVSE Num\nok,Fine,39.3,-76.6,2\nbad,Broken,39.3,-76.6,many\n",
     422, "EV Level2 EVSE Num"),
    (b"ID,Station Name,Latitude,Longitude,Open Date\nok,Fine,39.3,-76.6,someday\n", 422, "not a date"),
    (b"id,name,lon,lat,kind\nq,Q,-76.6,39.3,truck\n", 422, "truck"),
])
def test_a_bad_file_imports_nothing(app: Flask, data: bytes, status: int, fragment: str) -> None:
    _us_campus()
    client = signed_in_client(app, "planner-zhao", "planner")
    fmt = "geojson" if data.startswith(b"{") else "csv"
    response = client.post(f"/api/chargers/import?campus=us-colleges&format={fmt}", data=data,
                           content_type="application/octet-stream")
    assert response.status_code == status, response.get_json()
    assert fragment.lower() in response.get_json()["message"].lower()  # CSV headers are read in lower case
    assert _chargers() == {}
    assert db.session.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.layer == "chargers")) == 0


def test_cli_imports_a_charger_file(app: Flask, runner: FlaskCliRunner, tmp_path: Path) -> None:
    _us_campus()
    result = runner.invoke(args=["chargers", "import", str(AFDC), "--campus", "us-colleges", "--kind", "ebike"])
    assert result.exit_code == 0, result.output
    assert "chargers: 9 new" in result.output
    assert {c.kind for c in _chargers().values()} == {"ebike"}
    bad = tmp_path / "bad.csv"
    bad.write_text("ID,Latitude,Longitude,EV DC Fast Count\nx,39.3,-76.6,lots\n", encoding="utf-8")
    failed = runner.invoke(args=["chargers", "import", str(bad), "--campus", "us-colleges"])
    assert failed.exit_code != 0 and "nothing was imported" in failed.output
    assert len(_chargers()) == 9


# ---------------------------------------------------------------- roles and scope


def test_roles_and_other_universities(app: Flask, two_universities: dict[str, int]) -> None:
    admin = signed_in_client(app, "root", "admin")
    theirs = _post(admin, "/api/chargers/scenarios", {"campus": "other", "name": "theirs", "kind": "ebike",
                                                      "sites": [{"lon": 116.3508, "lat": 40.0010}]}, 201)
    planner = signed_in_client(app, "planner-li", "planner", university="Test University")
    assert planner.get("/api/chargers/coverage?campus=other&kind=ebike").status_code == 404
    assert planner.get(f"/api/chargers/scenarios/{theirs['id']}").status_code == 404
    assert planner.get(f"/api/chargers/scenarios/{theirs['id']}.geojson").status_code == 404
    assert planner.delete(f"/api/chargers/scenarios/{theirs['id']}").status_code == 404
    assert planner.get("/api/chargers/scenarios").get_json() == {"scenarios": []}
    assert planner.post("/api/chargers/suggest", json={"campus": "other", "k": 1}).status_code == 404
    assert planner.post("/api/chargers/import?campus=other", data=AFDC.read_bytes()).status_code == 404
    ours = _post(planner, "/api/chargers/scenarios", {"campus": "mini", "name": "ours", "kind": "ebike", "sites": []},
                 201)
    assert planner.get(f"/api/chargers/scenarios/compare?ids={ours['id']},{theirs['id']}").status_code == 404
    viewer = signed_in_client(app, "viewer-chen", "viewer", university="Test University")
    answer = viewer.get("/api/chargers/coverage?kind=ebike")  # their only campus
    assert answer.status_code == 200 and answer.get_json()["campus"] == "mini"
    assert viewer.get(f"/api/chargers/scenarios/{ours['id']}.csv").status_code == 200
    for method, url, body in (("POST", "/api/chargers/suggest", {"campus": "mini", "k": 1}),
                              ("POST", "/api/chargers/scenarios", {"campus": "mini", "name": "v", "sites": []}),
                              ("POST", "/api/chargers/import?campus=mini", None),
                              ("DELETE", f"/api/chargers/scenarios/{ours['id']}", None)):
        assert viewer.open(url, method=method, json=body).status_code == 403, url
    assert db.session.get(ChargerScenario, ours["id"]).deleted_at is None
