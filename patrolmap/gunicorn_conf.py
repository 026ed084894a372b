"""gunicorn settings for production: ``gunicorn -c patrolmap/gunicorn_conf.py 'patrolmap:create_app()'``.

The environment chooses: PATROLMAP_BIND (address:port, default 127.0.0.1:8000), PATROLMAP_WORKERS
(processes, default 2) and PATROLMAP_THREADS (threads per process, default 4), PATROLMAP_TIMEOUT (seconds
a worker may stay silent before it is replaced, default 60), PATROLMAP_PRELOAD (1: load the app once in
the master and fork workers from it, so that a replaced worker is up in well under a second; default 1),
PATROLMAP_CONTROL_SOCKET (a path for gunicornc's control socket; none by default).

Preloading is safe because the app opens no database connection while it is built, except the first-run
set-up of the embedded default; whatever the master holds is forgotten in each new worker (post_fork)
so that no two processes ever share a connection. Every app server keeps nothing of its own that
matters (sessions, sign-in limits, idempotency keys and the data versions behind every cache live in the
database), so several of them may serve one PostGIS database behind a load balancer.
"""

from __future__ import annotations

import os
from typing import Any

bind = os.environ.get("PATROLMAP_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("PATROLMAP_WORKERS", "2"))
threads = int(os.environ.get("PATROLMAP_THREADS", "4"))
worker_class = "gthread"
preload_app = os.environ.get("PATROLMAP_PRELOAD", "1") == "1"
# A request may wait up to the SQLite busy timeout (30 s) for the write lock; leave it that time and more.
timeout = int(os.environ.get("PATROLMAP_TIMEOUT", "60"))
graceful_timeout = 30
keepalive = 5
accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("PATROLMAP_LOG_LEVEL", "info")
# gunicornc's control socket: only where PATROLMAP_CONTROL_SOCKET names one, as two servers on one host would
# otherwise both claim the default path ($XDG_RUNTIME_DIR or ~/.gunicorn/gunicorn.ctl).
control_socket = os.environ.get("PATROLMAP_CONTROL_SOCKET") or "gunicorn.ctl"
control_socket_disable = not os.environ.get("PATROLMAP_CONTROL_SOCKET")


def _engines(server: Any) -> list[Any]:
    """The database engine of the preloaded app (none when the app is loaded in each worker)."""
    app = getattr(server.app, "callable", None)
    if app is None or not hasattr(app, "app_context"):
        return []
    from patrolmap.extensions import db

    with app.app_context():
        return [db.engine]


def when_ready(server: Any) -> None:
    """The master serves no request: close what building the app opened (the first-run set-up)."""
    for engine in _engines(server):
        engine.dispose()


def post_fork(server: Any, _worker: Any) -> None:
    """A new worker forgets the master's pooled connections without closing them (they are not its own)."""
    for engine in _engines(server):
        engine.dispose(close=False)
