"""Crash, short: a random gunicorn worker SIGKILLed every 0.3-1 s for about 10 s while 16 clients record
violations, retrying failed requests under the same Idempotency-Key.

Afterwards, straight from the database: every acknowledged write is stored, no client marker twice,
and the integrity check passes. The 60 s run with figures is benchmarks/crash.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from . import loadkit
from .conftest import POSTGRES_URL

SECONDS = 10
WRITERS = 16


@pytest.mark.slow
def test_killed_workers_lose_nothing_and_retries_make_nothing_twice(store: str, tmp_path: Path) -> None:
    with loadkit.served(store, tmp_path, POSTGRES_URL, preload=True) as (server, seeded):
        figures = loadkit.run_clients(server, seeded, SECONDS, writers=WRITERS, readers=0, idempotent=True,
                                      kill_every=(0.3, 1.0))
        log = server.log_tail()
    stored = loadkit.check_stored(seeded.url, figures.acked)
    report = "\n".join(figures.lines() + stored.lines() + figures.failures[:10]) + "\n" + log
    # The run did what it says: workers were killed under requests, and the clients retried.
    assert figures.kills >= 5 and figures.faults > 0, report
    assert len(figures.acked) >= WRITERS, report
    # Every write was eventually answered 201 (never given up, never a 5xx).
    assert figures.failures == [] and figures.server_errors == 0, report
    assert stored.lost == [], report
    assert stored.duplicates == 0, report
    # A write stored without an acknowledgement would be a retry's twin; with keys there is none.
    assert stored.rows == len(figures.acked), report
    assert stored.integrity.startswith("ok"), report
