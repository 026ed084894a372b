"""Leadership reports over a year of 1,000,000 violations: compute, charts, workbook, and the page end to end.

Run: .venv/bin/python benchmarks/reports.py [--n 1000000] [--stores sqlite,postgis] [--naive-month 2026-10]

For each store: the sample campus (geodata/cau-east) plus n synthetic violations spread over 2026
(benchmarks/synthetic.py), six marked hotspots, 300 hazards moved through their loop, and a patrol
route walked every day of the year. Then, for the year (2026-01-01..2026-12-31) and for one month:

1. patrolmap.reports.compute.build_report (every section: violations by kind, zone, hotspot, hour,
   weekday and day, the Gi* cells, hazards, patrols, duty posts, chargers), median of 3;
2. the eight charts (patrolmap.reports.charts) and the workbook (patrolmap.reports.workbook);
3. GET /reports and its eight chart images, and GET /api/reports.xlsx, as a browser asks for them;
4. the naive way for the month's violation tables alone: ORM objects for the month's rows, a pandas
   DataFrame, groupby per kind, hour, weekday and day, geopandas sjoin for zones and hotspots; and
   the same naive way extrapolated from the month to the year by rows (reading a year of ORM
   objects is not attempted).
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from synthetic import CAMPUS_BOX, fill_violations, fresh_database

ROOT = Path(__file__).resolve().parent.parent


def seconds(fn: Callable[[], object], repeat: int = 1) -> float:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def prepare(store: str, workdir: Path) -> str:
    return fresh_database(store, workdir, "patrolmap_bench_reports")


def add_the_rest(campus_id: int) -> None:
    """Marked hotspots, hazards through their loop, a route walked all year, chargers and posts of last year."""
    import numpy as np
    import shapely
    from sqlalchemy import select, update

    from patrolmap import hazardstore
    from patrolmap.extensions import db
    from patrolmap.hazards import Actor
    from patrolmap.models import Charger, Checkpoint, DutyPost, MarkedHotspot, PatrolCheckin, PatrolRoute

    rng = np.random.default_rng(7)
    x0, y0, x1, y1 = CAMPUS_BOX
    for n in range(6):
        cx, cy = rng.uniform(x0, x1), rng.uniform(y0, y1)
        geom = shapely.box(cx - 0.0006, cy - 0.0004, cx + 0.0006, cy + 0.0004)
        db.session.add(MarkedHotspot(campus_id=campus_id, source_id=f"bench-{n}", name=f"热点 {n}",
                                     kind="no_parking_watch", geom=geom))
    old = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    db.session.execute(update(Charger).where(Charger.campus_id == campus_id).values(created_at=old))
    db.session.execute(update(DutyPost).where(DutyPost.campus_id == campus_id).values(created_at=old))
    points = list(db.session.scalars(select(Checkpoint).where(Checkpoint.campus_id == campus_id)
                                     .order_by(Checkpoint.id)).all())[:6]
    order = [p.id for p in points]
    plan = {"routes": [{"team": 1, "order": order, "legs_m": [300.0] * (len(order) + 1)}]}
    route = PatrolRoute(campus_id=campus_id, name="夜巡", mode="walk", start_lon=points[0].geom.x,
                        start_lat=points[0].geom.y, checkpoint_ids=order, teams=1, speed_m_per_min=80.0, plan=plan,
                        length_m=300.0 * (len(order) + 1), shift_start="22:00", shift_end="02:00",
                        shift_days=[1, 2, 3, 4, 5, 6, 7], visits_per_shift=2, late_after_min=15.0,
                        created_by="bench", created_at=old)
    db.session.add(route)
    db.session.flush()
    zone = dt.timezone(dt.timedelta(hours=8))
    day = dt.date(2026, 1, 1)
    while day.year == 2026:
        start = dt.datetime.combine(day, dt.time(22), tzinfo=zone)
        for visit in (1, 2):
            for seq, cid in enumerate(order, start=1):
                if rng.random() < 0.85:
                    at = start + dt.timedelta(hours=2 * (visit - 1), minutes=4 * seq + int(rng.integers(0, 25)))
                    db.session.add(PatrolCheckin(campus_id=campus_id, route_id=route.id, checkpoint_id=cid, team=1,
                                                 shift_date=day, visit=visit, at=at, method="qr",
                                                 officer=f"officer-{day.toordinal() % 4}"))
        day += dt.timedelta(days=1)
    db.session.commit()
    clock = {"now": dt.datetime(2026, 1, 1, tzinfo=dt.UTC)}
    hazardstore.clock = lambda: clock["now"]  # a script: the clock moves as the loop is played
    admin, other = Actor("bench-a", frozenset({"admin"})), Actor("bench-b", frozenset({"admin"}))
    viewer = hazardstore.Viewer(None)
    for n in range(300):
        clock["now"] = dt.datetime(2026, 1, 1, tzinfo=dt.UTC) + dt.timedelta(hours=int(rng.integers(0, 364 * 24)))
        point = shapely.Point(rng.uniform(x0, x1), rng.uniform(y0, y1))
        hid = hazardstore.report_hazard(db.session, campus_id, category=str(rng.choice(["fire", "electrical", "lab"])),
                                        description="bench", urgency="normal", point=point, building_id=None,
                                        note=None, actor="bench")
        steps = int(rng.integers(0, 5))
        for to, who in [("notice_issued", admin), ("rectifying", admin), ("rectified", admin),
                        ("closed", other)][:steps]:
            clock["now"] += dt.timedelta(hours=int(rng.integers(1, 96)))
            hazardstore.transition_hazard(db.session, hid, to=to, actor=who, actor_name=who.username, viewer=viewer,
                                          unit="后勤处" if to == "notice_issued" else None)
        if n % 100 == 99:
            print(f"   hazards: {n + 1}", file=sys.stderr)


def naive_violations(campus_id: int, timezone: str, start: dt.date, end: dt.date) -> int:
    """The month's violation tables the straightforward way: ORM objects, pandas groupby, geopandas sjoin."""
    import geopandas as gpd
    import pandas as pd
    from sqlalchemy import select

    from patrolmap.extensions import db
    from patrolmap.models import GridZone, MarkedHotspot, Violation

    rows = db.session.scalars(select(Violation).where(
        Violation.campus_id == campus_id, Violation.deleted_at.is_(None), Violation.status != "void",
        Violation.local_date >= start, Violation.local_date <= end)).all()
    frame = pd.DataFrame({"kind": [r.kind for r in rows], "observed_at": [r.observed_at for r in rows],
                          "lon": [r.lon for r in rows], "lat": [r.lat for r in rows]})
    local = pd.to_datetime(frame["observed_at"], utc=True).dt.tz_convert(timezone)
    frame["hour"], frame["weekday"], frame["day"] = local.dt.hour, local.dt.day_of_week, local.dt.date
    tables = [frame.groupby("kind").size(), frame.groupby("hour").size(), frame.groupby("weekday").size(),
              frame.groupby("day").size(), frame.groupby(["weekday", "hour"]).size()]
    points = gpd.GeoDataFrame(frame, geometry=gpd.points_from_xy(frame["lon"], frame["lat"]), crs="EPSG:4326")
    for model in (GridZone, MarkedHotspot):
        shapes = db.session.scalars(select(model).where(model.campus_id == campus_id)).all()
        areas = gpd.GeoDataFrame({"id": [s.id for s in shapes]}, geometry=[s.geom for s in shapes], crs="EPSG:4326")
        tables.append(gpd.sjoin(points, areas, predicate="intersects").groupby("id").size())
    db.session.expunge_all()
    return len(rows)


def bench_store(store: str, n: int, workdir: Path, month: str) -> dict[str, float]:
    from patrolmap import create_app
    from patrolmap.extensions import db
    from patrolmap.importing import load_geodata
    from patrolmap.reports import compute
    from patrolmap.reports.charts import CHARTS, render_chart
    from patrolmap.reports.period import make_period
    from patrolmap.reports.workbook import build_workbook
    from patrolmap.store import find_campus
    from tests.conftest import signed_in_client

    url = prepare(store, workdir)
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "AUTO_INIT_DB": False, "SECRET_KEY": "bench",
                      "GC_FREEZE": False})
    out: dict[str, float] = {}
    with app.app_context():
        from flask_babel import force_locale, gettext
        from flask_migrate import upgrade

        upgrade()
        load_geodata(db.session, ROOT / "geodata" / "cau-east")
        campus = find_campus(db.session, "cau-east")
        db.session.commit()
        out["fill_s"] = fill_violations(db.engine, campus.id, n)
        db.session.rollback()
        started = time.perf_counter()
        add_the_rest(campus.id)
        out["fill_rest_s"] = time.perf_counter() - started
        now = dt.datetime(2027, 1, 10, tzinfo=dt.UTC)
        first = dt.date.fromisoformat(f"{month}-01")
        periods = {"year": make_period("custom", None, campus.timezone, date_from=dt.date(2026, 1, 1),
                                       date_to=dt.date(2026, 12, 31)),
                   "month": make_period("month", first, campus.timezone)}
        compute.build_report(db.session, campus, periods["month"], now=now)  # warm: walking distances, networks
        for name, period in periods.items():
            report = compute.build_report(db.session, campus, period, now=now)
            out[f"{name}_violations"] = report.data["violations"]["total"]
            out[f"{name}_hazards_opened"] = report.data["hazards"]["opened"]
            out[f"{name}_patrol_visits_planned"] = report.data["patrols"]["totals"]["planned"]
            out[f"{name}_compute_s"] = seconds(lambda p=period: compute.build_report(db.session, campus, p, now=now), 3)
            with force_locale("zh_CN"):
                out[f"{name}_charts_s"] = seconds(lambda r=report: [render_chart(c, r, gettext) for c in CHARTS])
                out[f"{name}_workbook_s"] = seconds(lambda r=report: build_workbook(r, gettext))
            db.session.rollback()
        client = signed_in_client(app, "bench-admin", "admin")
        for name, query in (("year", "period=custom&from=2026-01-01&to=2026-12-31"),
                            ("month", f"period=month&date={month}-01")):
            compute.clear_cache()

            def page(q: str = query) -> None:
                html = client.get(f"/reports?campus=cau-east&{q}")
                assert html.status_code == 200, html.status_code
                for chart in CHARTS:
                    assert client.get(f"/api/reports/charts/{chart}.png?campus=cau-east&{q}").status_code == 200

            out[f"{name}_page_and_charts_s"] = seconds(page)
            out[f"{name}_xlsx_cached_s"] = seconds(
                lambda q=query: client.get(f"/api/reports.xlsx?campus=cau-east&{q}"))
            db.session.rollback()
        last = first.replace(day=28) + dt.timedelta(days=4)
        last -= dt.timedelta(days=last.day)
        rows: list[int] = []
        out["month_naive_violations_s"] = seconds(
            lambda: rows.append(naive_violations(campus.id, campus.timezone, first, last)))
        out["month_naive_rows"] = rows[-1]
        out["year_naive_estimate_s"] = out["month_naive_violations_s"] * out["year_violations"] / max(rows[-1], 1)
        db.session.remove()
        db.engine.dispose()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--stores", default="sqlite,postgis")
    parser.add_argument("--naive-month", default="2026-10", help="the month compared with the naive way")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        table = {store: bench_store(store, args.n, Path(tmp), args.naive_month) for store in args.stores.split(",")}
    print(f"\nReports over {args.n:,} synthetic violations in 2026 + the sample campus's (CAU East), "
          f"6 marked hotspots, 300 hazards, a route walked nightly")
    print(f"   {'measure':28}" + "".join(f"{s:>14}" for s in table))
    for key in next(iter(table.values())):
        print(f"   {key:28}" + "".join(f"{table[s][key]:14.2f}" for s in table))
    for store, r in table.items():
        print(f"\n   {store}: a year ({r['year_violations']:,.0f} violations): compute {r['year_compute_s']:.2f} s, "
              f"charts {r['year_charts_s']:.2f} s, workbook {r['year_workbook_s']:.2f} s; "
              f"/reports with its 8 charts {r['year_page_and_charts_s']:.2f} s")
        print(f"   {store}: a month ({r['month_violations']:,.0f}): compute {r['month_compute_s']:.2f} s; naive "
              f"violation tables alone (ORM + pandas groupby + sjoin) {r['month_naive_violations_s']:.2f} s, ratio "
              f"{r['month_naive_violations_s'] / r['month_compute_s']:.1f}x for the whole report against them")
        print(f"   {store}: the naive way for the year, by rows: about {r['year_naive_estimate_s']:.0f} s, "
              f"{r['year_naive_estimate_s'] / r['year_compute_s']:.0f}x the whole report's compute")


if __name__ == "__main__":
    main()
