"""Leadership reports (patrolmap.reports): periods, and every figure against counts made independently.

The figures are checked two ways: against plain-Python counts over the rows the test itself wrote
(local times worked out with zoneinfo, zones and hotspots as the rectangles they are, a duty post's
reach by haversine), and against the endpoints the maps use for the same thing (a hotspot's count,
the Gi* cells, a shift's planned-against-done, charger coverage, the zone scorecards).
"""

from __future__ import annotations

import csv
import datetime as dt
import math
import random
import statistics
import zoneinfo
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import shapely
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update

from patrolmap import hazardstore
from patrolmap.analysis.errors import InputError
from patrolmap.analysis.workcalendar import Term, WorkCalendar
from patrolmap.extensions import db
from patrolmap.hazards import Actor
from patrolmap.importing import import_violations
from patrolmap.models import Campus, Charger, Checkpoint, DutyPost, GridZone, PatrolCheckin, PatrolRoute
from patrolmap.reports.compute import build_report
from patrolmap.reports.period import Period, make_period, parse_period, previous_period

SH = zoneinfo.ZoneInfo("Asia/Shanghai")
KINDS = ("fire_lane", "entrance", "no_parking", "zombie", "other")
# The mini campus's grid zones (tests/data/minicampus): axis-aligned rectangles lon0, lat0, lon1, lat1.
ZONES = {"一区": (116.3498, 39.9998, 116.3517, 40.0006), "二区": (116.3528, 39.9998, 116.3537, 40.0007)}
HOTSPOT = (116.3505, 40.0008, 116.3515, 40.0015)
POST = (116.3522, 40.0007)  # 食堂岗, 11:30-13:00 and 17:00-19:00
POST_WINDOWS = ((11 * 60 + 30, 13 * 60), (17 * 60, 19 * 60))
OCTOBER = make_period("month", dt.date(2026, 10, 10), "Asia/Shanghai")
AFTER = dt.datetime(2026, 11, 23, 4, 0, tzinfo=dt.UTC)  # "now" for the reports below


def local(y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0) -> dt.datetime:
    return dt.datetime(y, mo, d, h, mi, s, tzinfo=SH)


def haversine(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    r = 6_371_008.8
    p1, p2 = math.radians(lat1), math.radians(lat2)
    a = (math.sin((p2 - p1) / 2) ** 2
         + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2)
    return 2 * r * math.asin(math.sqrt(a))


def inside(box: tuple[float, float, float, float], lon: float, lat: float) -> bool:
    return box[0] <= lon <= box[2] and box[1] <= lat <= box[3]


def campus(slug: str = "mini") -> Campus:
    return db.session.scalars(select(Campus).where(Campus.slug == slug)).one()


# ---------------------------------------------------------------- periods (no store)


@pytest.mark.parametrize(("kind", "day", "start", "end", "before"), [
    ("week", "2026-10-07", "2026-10-05", "2026-10-11", ("2026-09-28", "2026-10-04")),  # Monday to Sunday
    ("week", "2026-10-05", "2026-10-05", "2026-10-11", ("2026-09-28", "2026-10-04")),
    ("month", "2026-10-31", "2026-10-01", "2026-10-31", ("2026-09-01", "2026-09-30")),
    ("month", "2026-03-15", "2026-03-01", "2026-03-31", ("2026-02-01", "2026-02-28")),
    ("month", "2028-03-01", "2028-03-01", "2028-03-31", ("2028-02-01", "2028-02-29")),  # a leap year
    ("month", "2026-01-20", "2026-01-01", "2026-01-31", ("2025-12-01", "2025-12-31")),
])
def test_weeks_and_months_and_the_period_before(kind: str, day: str, start: str, end: str,
                                                before: tuple[str, str]) -> None:
    period = make_period(kind, dt.date.fromisoformat(day), "Asia/Shanghai")
    assert (period.start.isoformat(), period.end.isoformat()) == (start, end)
    prev = previous_period(period)
    assert (prev.start.isoformat(), prev.end.isoformat()) == before


def test_custom_periods_instants_and_parsing() -> None:
    period = parse_period("custom", None, "2026-10-01", "2026-10-10", "Asia/Shanghai", today=dt.date(2026, 11, 1))
    assert period.days == 10
    assert (previous_period(period).start, previous_period(period).end) == (dt.date(2026, 9, 21), dt.date(2026, 9, 30))
    # Local days: the period starts at local midnight, 16:00 UTC the day before in Beijing.
    assert period.start_utc() == dt.datetime(2026, 9, 30, 16, 0, tzinfo=dt.UTC)
    assert period.end_utc() == dt.datetime(2026, 10, 10, 16, 0, tzinfo=dt.UTC)
    assert period.elapsed_days(local(2026, 10, 3, 23, 59)) == 3
    assert period.elapsed_days(local(2026, 9, 30, 23)) == 0
    assert period.elapsed_days(local(2027, 1, 1)) == 10
    assert period.head(3).end == dt.date(2026, 10, 3)
    # Left out: this month.
    assert parse_period(None, None, None, None, "UTC", today=dt.date(2026, 2, 14)).start == dt.date(2026, 2, 1)
    for args, words in [(("year", None, None, None), "period must be one of"),
                        (("month", "2026-13-01", None, None), "date must be a date"),
                        (("custom", None, "2026-10-01", None), "needs from and to"),
                        (("custom", None, "2026-10-05", "2026-10-01"), "is after"),
                        (("custom", None, "2025-01-01", "2026-12-31"), "at most 400 days"),
                        (("term", "2026-10-01", None, None), "no school terms")]:
        with pytest.raises(InputError, match=words):
            parse_period(*args, "Asia/Shanghai", today=dt.date(2026, 11, 1), calendar=WorkCalendar.load())


def test_terms_come_from_the_calendar() -> None:
    base = WorkCalendar.load()
    calendar = WorkCalendar(base.holiday_names, base.workday_reasons, base.years, [
        Term("2026 spring", dt.date(2026, 2, 23), dt.date(2026, 7, 10)),
        Term("2026 autumn", dt.date(2026, 9, 7), dt.date(2027, 1, 15))])
    term = make_period("term", dt.date(2026, 10, 1), "Asia/Shanghai", calendar=calendar)
    assert (term.start, term.end, term.name) == (dt.date(2026, 9, 7), dt.date(2027, 1, 15), "2026 autumn")
    before = previous_period(term, calendar)
    assert (before.start, before.end, before.name) == (dt.date(2026, 2, 23), dt.date(2026, 7, 10), "2026 spring")
    first = make_period("term", dt.date(2026, 3, 1), "Asia/Shanghai", calendar=calendar)
    assert previous_period(first, calendar).end == dt.date(2026, 2, 22)  # no earlier term: as many days before
    with pytest.raises(InputError, match="lies in no school term"):
        make_period("term", dt.date(2026, 8, 1), "Asia/Shanghai", calendar=calendar)


# ---------------------------------------------------------------- violations, hotspots, zones, duty posts


def _violation_rows(seed: int = 11) -> list[dict[str, Any]]:
    """About 400 violations from late August to early November, with edge cases at the month's ends."""
    rng = random.Random(seed)
    rows = []
    start = local(2026, 8, 25)
    span = (local(2026, 11, 5) - start).total_seconds()
    for n in range(400):
        lon, lat = rng.uniform(116.3490, 116.3546), rng.uniform(39.9995, 40.0020)
        if abs(haversine(lon, lat, *POST) - 100) < 2:
            continue  # too close to the post's reach to call without the app's own projection
        at = start + dt.timedelta(seconds=rng.uniform(0, span))
        status = rng.choices(["open", "notified", "resolved", "void"], [70, 10, 15, 5])[0]
        rows.append({"id": f"g{n}", "lon": round(lon, 6), "lat": round(lat, 6),
                     "observed_at": at.replace(microsecond=0).isoformat(), "kind": rng.choice(KINDS),
                     "plate": f"京A{10000 + n}", "status": status})
    for n, at in enumerate(["2026-10-01T00:00:00+08:00", "2026-09-30T23:59:59+08:00", "2026-10-31T16:00:00Z",
                            "2026-10-31T15:59:59Z"]):
        rows.append({"id": f"edge{n}", "lon": 116.3510, "lat": 40.0002, "observed_at": at, "kind": "fire_lane",
                     "plate": f"京B{20000 + n}", "status": "open"})
    return rows


def _import(rows: list[dict[str, Any]], path: Path) -> None:
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    import_violations(db.session, path, campus_slug="mini")


def _expected(rows: list[dict[str, Any]], voided: set[str], period: Period) -> dict[str, Any]:
    """The period's figures worked out in plain Python from the rows written."""
    live = []
    for r in rows:
        at = dt.datetime.fromisoformat(r["observed_at"].replace("Z", "+00:00")).astimezone(SH)
        if r["status"] != "void" and r["id"] not in voided and period.start <= at.date() <= period.end:
            live.append({**r, "at": at})
    minute = [v["at"].hour * 60 + v["at"].minute for v in live]
    near = [haversine(v["lon"], v["lat"], *POST) <= 100 for v in live]
    return {
        "total": len(live),
        "kinds": Counter(v["kind"] for v in live),
        "hours": Counter(v["at"].hour for v in live),
        "weekdays": Counter(v["at"].weekday() for v in live),
        "days": Counter(v["at"].date() for v in live),
        "zones": {name: sum(inside(box, v["lon"], v["lat"]) for v in live) for name, box in ZONES.items()},
        "outside": sum(not any(inside(box, v["lon"], v["lat"]) for box in ZONES.values()) for v in live),
        "hotspot": sum(inside(HOTSPOT, v["lon"], v["lat"]) for v in live),
        "near_post": sum(near),
        "near_post_in_hours": sum(n and any(a <= m < b for a, b in POST_WINDOWS) for n, m in zip(near, minute,
                                                                                                  strict=True)),
    }


def test_violation_figures_equal_independent_counts_and_the_maps(app: Flask, client: FlaskClient,
                                                                  two_universities: dict[str, int],
                                                                  tmp_path: Path) -> None:
    rows = _violation_rows()
    _import(rows, tmp_path / "violations.csv")
    db.session.commit()
    # Voided after the fact (soft delete): it leaves every count.
    from patrolmap.models import Violation
    october = [r for r in rows if r["status"] != "void" and r["observed_at"].startswith("2026-10-1")]
    target = db.session.scalars(select(Violation.id).where(Violation.source_id == october[0]["id"])).one()
    assert client.delete(f"/api/violations/{target}?reason=recorded twice").status_code == 200
    square = [[list(HOTSPOT[:2]), [HOTSPOT[2], HOTSPOT[1]], list(HOTSPOT[2:]), [HOTSPOT[0], HOTSPOT[3]],
               list(HOTSPOT[:2])]]
    created = client.post("/api/hotspots", json={"type": "Feature", "campus": "mini", "geometry": {
        "type": "Polygon", "coordinates": square}, "properties": {"name": "=HYPERLINK(\"x\")", "kind": "no_parking_watch"}})
    assert created.status_code == 201, created.get_json()
    hotspot_id = created.get_json()["id"]
    db.session.execute(update(DutyPost).values(created_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC)))
    db.session.add(DutyPost(campus_id=campus().id, source_id="late", name="北门岗", hours="07:00-09:00",
                            geom=shapely.Point(116.3500, 40.0015), created_at=local(2026, 10, 21, 9)))
    db.session.commit()

    mini = campus()
    report = build_report(db.session, mini, OCTOBER, now=AFTER).data
    v = report["violations"]
    want = _expected(rows, {october[0]["id"]}, OCTOBER)
    before = _expected(rows, {october[0]["id"]}, previous_period(OCTOBER))
    assert want["total"] > 100 and before["total"] > 100  # the data reaches both months
    assert v["total"] == want["total"] and v["previous"] == before["total"]
    assert v["change"] == want["total"] - before["total"]
    assert {r["kind"]: r["count"] for r in v["by_kind"]} == {k: want["kinds"][k] for k in KINDS}
    assert {r["kind"]: r["previous"] for r in v["by_kind"]} == {k: before["kinds"][k] for k in KINDS}
    assert v["by_hour"] == [want["hours"][h] for h in range(24)]
    assert v["by_weekday"] == [want["weekdays"][d] for d in range(7)]
    assert [sum(row) for row in v["hour_weekday"]] == v["by_weekday"]
    assert v["daily"] == [want["days"][OCTOBER.start + dt.timedelta(days=i)] for i in range(31)]
    assert v["daily"][0] >= 1 and v["daily"][30] >= 1  # local midnight at both ends (the edge rows)
    zones = {r["name"]: r for r in v["by_zone"]}
    assert {n: zones[n]["count"] for n in ZONES} == want["zones"]
    assert {n: zones[n]["previous"] for n in ZONES} == before["zones"]
    assert zones[None]["count"] == want["outside"]
    (marked,) = v["by_hotspot"]
    assert marked["count"] == want["hotspot"] and marked["previous"] == before["hotspot"]
    # The maps' own numbers for the same questions.
    counted = client.get(f"/api/hotspots/{hotspot_id}/count?from=2026-10-01&to=2026-10-31").get_json()
    assert counted["count"] == marked["count"]
    cells = client.get("/api/violations/hotspots?campus=mini&from=2026-10-01&to=2026-10-31&cell_m=50").get_json()
    assert cells["numberMatched"] == v["hot_cells"]["matched"] == want["total"]
    assert [(t["id"], t["count"], t["class"]) for t in cells["top"]] == [
        (t["id"], t["count"], t["class"]) for t in v["hot_cells"]["top"]]
    assert v["hot_cells"]["hot"] == sum(f["properties"]["class"].startswith("hot_") for f in cells["features"])
    # The duty post: 3.5 hours a day on October's 31 days, and the violations within its reach.
    posts = {p["name"]: p for p in report["duty_posts"]["posts"]}
    post = posts["食堂岗"]
    assert (post["hours_per_day"], post["days"], post["staffed_hours"]) == (3.5, 31, 108.5)
    assert (posts["北门岗"]["days"], posts["北门岗"]["staffed_hours"]) == (11, 22.0)  # placed on 21 October
    assert post["violations_nearby"] == want["near_post"] > 0
    assert post["violations_in_hours"] == want["near_post_in_hours"]
    # While October runs (the 25th), it is compared with September's first 25 days, and posts count days so far.
    running = build_report(db.session, mini, OCTOBER, now=local(2026, 10, 25, 12).astimezone(dt.UTC)).data
    assert running["period"]["partial"] and running["previous"]["compared_to"] == "2026-09-25"
    first_days = _expected(rows, {october[0]["id"]}, previous_period(OCTOBER).head(25))
    assert running["violations"]["previous"] == first_days["total"]
    assert {p["name"]: p["days"] for p in running["duty_posts"]["posts"]} == {"食堂岗": 25, "北门岗": 5}
    # No plate reaches a report.
    text = repr(report)
    assert not any(r["plate"] in text for r in rows)


# ---------------------------------------------------------------- hazards


def test_hazard_figures_follow_the_loop_as_it_stood(app: Flask, two_universities: dict[str, int],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    mini = campus()
    clock = {"now": local(2026, 9, 20, 9)}
    monkeypatch.setattr(hazardstore, "clock", lambda: clock["now"].astimezone(dt.UTC))
    viewer = hazardstore.Viewer(None)
    a, b = Actor("lead-a", frozenset({"admin"})), Actor("lead-b", frozenset({"admin"}))
    zones = {z.name: z for z in db.session.scalars(select(GridZone).where(GridZone.campus_id == mini.id))}

    def at(when: dt.datetime) -> None:
        clock["now"] = when

    def report(when: dt.datetime, category: str, zone: str | None, urgency: str = "normal") -> int:
        at(when)
        point = zones[zone].geom.centroid if zone else shapely.Point(116.3522, 40.0012)
        return hazardstore.report_hazard(db.session, mini.id, category=category, description="d", urgency=urgency,
                                         point=point, building_id=None, note=None, actor="reporter")

    def move(hazard: int, when: dt.datetime, to: str, who: Actor = a, **extra: Any) -> None:
        at(when)
        hazardstore.transition_hazard(db.session, hazard, to=to, actor=who, actor_name=who.username, viewer=viewer,
                                      **extra)

    # H1: reported, noticed, rectified and closed within October: 57 hours from report to close.
    h1 = report(local(2026, 10, 2, 9), "fire", "一区")
    move(h1, local(2026, 10, 2, 10), "notice_issued", unit="后勤处")
    move(h1, local(2026, 10, 3, 9), "rectifying")
    move(h1, local(2026, 10, 4, 9), "rectified")
    move(h1, local(2026, 10, 4, 18), "closed", b)
    # H2: an urgent notice (2 h) on 10 October still unanswered at the month's end; closed in November.
    h2 = report(local(2026, 10, 10, 8), "electrical", "二区", "urgent")
    move(h2, local(2026, 10, 10, 9), "notice_issued", unit="电工班")
    move(h2, local(2026, 11, 2, 9), "rectifying")
    move(h2, local(2026, 11, 3, 9), "rectified")
    move(h2, local(2026, 11, 4, 9), "closed", b)
    # H3: reported in September outside the zones, closed on 15 October.
    h3 = report(local(2026, 9, 20, 9), "lab", None)
    move(h3, local(2026, 9, 20, 10), "notice_issued", unit="化学院")
    move(h3, local(2026, 10, 15, 9), "rectifying")
    move(h3, local(2026, 10, 15, 12), "rectified")
    move(h3, local(2026, 10, 15, 15), "closed", b)
    # H4: reported at the end of October, no notice yet: open, not overdue.
    report(local(2026, 10, 30, 9), "traffic", "一区")
    # H5: reported and deleted: never counts. H6: reported in November: not October's.
    h5 = report(local(2026, 10, 20, 9), "fire", "一区")
    at(local(2026, 10, 21, 9))
    hazardstore.delete_hazard(db.session, h5, reason="duplicate", version=None, actor_name="lead-a", viewer=viewer)
    h6 = report(local(2026, 11, 10, 8), "electrical", "二区", "urgent")
    move(h6, local(2026, 11, 10, 9), "notice_issued", unit="电工班")

    got = build_report(db.session, mini, OCTOBER, now=AFTER).data["hazards"]
    hours_h3 = (local(2026, 10, 15, 15) - local(2026, 9, 20, 9)).total_seconds() / 3600
    assert (got["opened"], got["closed"], got["overdue"], got["open_at_end"]) == (3, 2, 1, 2)
    assert got["median_hours_to_close"] == round(statistics.median([57.0, hours_h3]), 1)
    by_category = {r["category"]: r for r in got["by_category"]}
    assert (by_category["electrical"]["opened"], by_category["electrical"]["overdue"]) == (1, 1)
    assert (by_category["lab"]["opened"], by_category["lab"]["closed"]) == (0, 1)
    assert by_category["fire"]["median_hours_to_close"] == 57.0
    by_zone = {r["name"]: r for r in got["by_zone"]}
    assert (by_zone["一区"]["opened"], by_zone["一区"]["closed"], by_zone["一区"]["open_at_end"]) == (2, 1, 1)
    assert by_zone[None]["closed"] == 1
    # While November runs, overdue is judged now: what the zone scorecards say.
    november = make_period("month", dt.date(2026, 11, 1), "Asia/Shanghai")
    now = local(2026, 11, 23, 12).astimezone(dt.UTC)
    current = build_report(db.session, mini, november, now=now).data["hazards"]
    cards = hazardstore.scorecards(db.session, mini, viewer, now=now)
    assert current["overdue"] == sum(c["overdue_hazards"] for c in cards) == 1
    assert current["open_at_end"] == sum(c["open_hazards"] for c in cards) == 2  # H4 and H6, both in zones
    assert (current["opened"], current["closed"]) == (1, 1)


# ---------------------------------------------------------------- patrols and chargers


def test_patrol_completion_and_charger_coverage(app: Flask, client: FlaskClient,
                                                two_universities: dict[str, int]) -> None:
    mini = campus()
    k1, k2 = (db.session.scalars(select(Checkpoint.id).where(Checkpoint.campus_id == mini.id,
                                                            Checkpoint.source_id == s)).one() for s in ("k1", "k2"))
    plan = {"routes": [{"team": 1, "order": [k1, k2], "legs_m": [400.0, 800.0, 600.0]}]}
    route = PatrolRoute(campus_id=mini.id, name="早班 morning", mode="walk", start_lon=116.3495, start_lat=40.0006,
                        checkpoint_ids=[k1, k2], teams=1, speed_m_per_min=80.0, plan=plan, length_m=1800.0,
                        shift_start="08:00", shift_end="10:00", shift_days=[1, 2, 3, 4, 5, 6, 7],
                        visits_per_shift=1, late_after_min=15.0, created_by="lead",
                        created_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    db.session.add(route)
    db.session.flush()
    # Planned at 08:05 (k1) and 08:15 (k2), late after 08:20 and 08:30.
    for day, checkpoint, h, m, officer in [(1, k1, 8, 4, "王强"), (1, k2, 8, 40, "王强"), (2, k1, 8, 10, "李明"),
                                           (2, k1, 8, 50, "李明")]:
        db.session.add(PatrolCheckin(campus_id=mini.id, route_id=route.id, checkpoint_id=checkpoint, team=1,
                                     shift_date=dt.date(2026, 10, day), visit=1, at=local(2026, 10, day, h, m),
                                     method="qr", officer=officer))
    car = db.session.scalars(select(Charger).where(Charger.campus_id == mini.id, Charger.kind == "car")).one()
    car.created_at = local(2026, 10, 15)
    db.session.commit()

    report = build_report(db.session, mini, OCTOBER, now=AFTER).data
    (row,) = report["patrols"]["routes"]
    assert (row["shifts"], row["planned"], row["on_time"], row["late"], row["missed"]) == (31, 62, 2, 1, 59)
    assert row["completion"] == round(2 / 62, 4)
    officers = {o["officer"]: o for o in report["patrols"]["officers"]}
    assert (officers["王强"]["on_time"], officers["王强"]["late"], officers["王强"]["missed"]) == (1, 1, 0)
    assert (officers["李明"]["on_time"], officers["李明"]["missed"]) == (1, 1)
    assert (officers[None]["shifts"], officers[None]["missed"]) == (29, 58)
    # The shift report of the patrol page says the same of those days.
    for day in (1, 2, 3):
        totals = client.get(f"/api/routes/{route.id}/shifts/2026-10-0{day}").get_json()["totals"]
        assert totals == {"on_time": [1, 1, 0][day - 1], "late": [1, 0, 0][day - 1], "missed": [0, 1, 2][day - 1],
                          "pending": 0}
    # Chargers: the car charger came on 15 October; the e-bike one is only planned.
    car_row = next(k for k in report["chargers"]["kinds"] if k["kind"] == "car")
    assert (car_row["start"]["chargers"], car_row["end"]["chargers"], car_row["new_chargers"]) == (0, 1, 1)
    assert car_row["start"]["covered_share"] == 0.0
    coverage = client.get("/api/chargers/coverage?campus=mini&kind=car&walk_m=300").get_json()
    assert car_row["end"]["covered_share"] == coverage["covered_share"] > 0
    assert car_row["end"]["total_demand"] == coverage["total_demand"]
    ebike = next(k for k in report["chargers"]["kinds"] if k["kind"] == "ebike")
    assert ebike["end"]["chargers"] == 0
