"""Repeat offenders and zombie-car candidates on hand-made histories."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from patrolmap.analysis.hexgrid import LocalProjection
from patrolmap.analysis.offenders import plate_key, repeat_offenders, zombie_candidates

ORIGIN = (116.352, 40.003)
PROJECTION = LocalProjection(*ORIGIN)


def history(*rows: tuple[str, str, float, float, str]) -> pd.DataFrame:
    """(plate, local date, metres east, metres north, kind) per violation."""
    x = np.array([r[2] for r in rows], dtype=float)
    y = np.array([r[3] for r in rows], dtype=float)
    lon, lat = PROJECTION.inverse(x, y)
    return pd.DataFrame({
        "id": np.arange(1, len(rows) + 1), "plate": [r[0] for r in rows], "lon": lon, "lat": lat,
        "local_date": [dt.date.fromisoformat(r[1]) for r in rows], "kind": [r[4] for r in rows],
    })


def test_plate_keys() -> None:
    assert plate_key("京A·12345") == plate_key("京a 12345") == "京A12345"
    assert plate_key("无牌") is None and plate_key("") is None and plate_key(None) is None
    assert plate_key("anon:3f2a") == "anon:3f2a"


def test_repeat_offenders_group_plates_as_people_mean_them() -> None:
    table = history(
        ("京A·12345", "2026-03-02", 0, 0, "no_parking"),
        ("京a12345", "2026-03-02", 5, 0, "fire_lane"),
        ("京A 12345", "2026-03-09", 300, 0, "no_parking"),
        ("京B23456", "2026-03-03", 0, 0, "entrance"),
        ("京B23456", "2026-03-04", 0, 0, "entrance"),
        ("无牌", "2026-03-02", 0, 0, "zombie"),
        ("无牌", "2026-03-03", 0, 0, "zombie"),
        ("无牌", "2026-03-04", 0, 0, "zombie"),
        ("anon:77ab", "2025-01-02", 0, 0, "other"),
        ("anon:77ab", "2025-01-05", 0, 0, "other"),
        ("anon:77ab", "2025-02-01", 0, 0, "other"),
    )
    groups = repeat_offenders(table, 3)
    assert [(g["key"], g["count"], g["anonymised"]) for g in groups] == [
        ("anon:77ab", 3, True), ("京A12345", 3, False)]  # 3 days beat 2 days at equal counts
    a = groups[1]
    assert a["days"] == 2 and a["first_date"] == "2026-03-02" and a["last_date"] == "2026-03-09"
    assert a["kinds"] == {"fire_lane": 1, "no_parking": 2} and a["ids"] == [1, 2, 3]
    assert [g["key"] for g in repeat_offenders(table, 2)] == ["anon:77ab", "京A12345", "京B23456"]
    assert repeat_offenders(table, 4) == []
    assert repeat_offenders(table.iloc[:0], 2) == []


def test_zombie_is_one_plate_at_one_place_on_many_days_over_a_long_span() -> None:
    rows = []
    # A car left by the library: 6 days over 3 weeks, within 10 m, and once moved across campus.
    for n, day in enumerate(["03-02", "03-05", "03-09", "03-12", "03-16", "03-20"]):
        rows.append(("京C34567", f"2026-{day}", 3.0 * n, -2.0 * n, "zombie"))
    rows.append(("京C34567", "2026-03-25", 600, 600, "no_parking"))
    # Seen often but always somewhere else: a commuter, not a zombie.
    for n, day in enumerate(["03-02", "03-05", "03-09", "03-12", "03-16", "03-20"]):
        rows.append(("京D45678", f"2026-{day}", 200.0 * n, 0, "no_parking"))
    # At one place every day of one week only: too short a span.
    for n in range(6):
        rows.append(("京E56789", f"2026-03-0{n + 2}", 0, 100, "no_parking"))
    # Many sightings at one place but on only two days.
    for n in range(8):
        rows.append(("京F67890", f"2026-03-{10 + 10 * (n % 2)}", 0, -100, "no_parking"))
    table = history(*rows)
    found = zombie_candidates(table, min_days=5, radius_m=30, min_span_days=14)
    assert [z["key"] for z in found] == ["京C34567"]
    zombie = found[0]
    assert zombie["days"] == 6 and zombie["span_days"] == 18 and zombie["count"] == 6 and zombie["total"] == 7
    assert zombie["first_date"] == "2026-03-02" and zombie["last_date"] == "2026-03-20"
    x, y = PROJECTION.forward(np.array([zombie["lon"]]), np.array([zombie["lat"]]))
    assert np.hypot(x[0] - 9, y[0] + 4) < 0.01  # the median of all 7 sightings, the far one included
    assert zombie["ids"] == [1, 2, 3, 4, 5, 6]
    # A looser rule takes the short-span car too; a tight radius loses the zombie's drift.
    assert {z["key"] for z in zombie_candidates(table, min_days=5, radius_m=30, min_span_days=0)} == {
        "京C34567", "京E56789"}
    assert zombie_candidates(table, min_days=5, radius_m=5, min_span_days=14) == []


def test_zombie_candidates_keep_anonymised_plates_marked() -> None:
    rows = [("anon:zz", f"2025-05-{d:02d}", 0, 0, "zombie") for d in (1, 6, 11, 16, 21)]
    (found,) = zombie_candidates(history(*rows), min_days=5, radius_m=10, min_span_days=14)
    assert found["anonymised"] and found["span_days"] == 20
    assert zombie_candidates(history(*rows).iloc[:0], min_days=2, radius_m=10) == []
