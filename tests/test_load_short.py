"""Load, short: gunicorn (2 workers x 4 threads), 16 writers and 4 readers for about 10 s per store.

Every 201 must match a stored row (its id, carrying the writer's unique note), nothing may be lost,
and no answer may be a 5xx or say "database is locked". The full-length run with figures is
benchmarks/load.py; speed is not asserted here.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from . import loadkit
from .conftest import POSTGRES_URL

SECONDS = 10
WRITERS = 16


@pytest.mark.slow
def test_writers_and_readers_under_gunicorn_lose_nothing(store: str, tmp_path: Path) -> None:
    with loadkit.served(store, tmp_path, POSTGRES_URL) as (server, seeded):
        figures = loadkit.run_clients(server, seeded, SECONDS, writers=WRITERS, readers=4)
        log = server.log_tail()
    stored = loadkit.check_stored(seeded.url, figures.acked)
    report = "\n".join(figures.lines() + stored.lines() + figures.failures[:10]) + "\n" + log
    assert figures.failures == [], report
    assert figures.server_errors == 0 and figures.locked == 0 and figures.faults == 0, report
    assert len(figures.acked) >= WRITERS and figures.reads >= 4, report
    assert set(figures.statuses) == {("write", 201), ("read", 200)}, report
    # Every acknowledged id holds the writer's own marker, and no write was stored unacknowledged.
    assert stored.lost == [] and stored.duplicates == 0, report
    assert stored.rows == len(figures.acked), report
    assert stored.integrity.startswith("ok"), report
