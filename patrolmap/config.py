"""Configuration: safe defaults for the embedded store, overridden by the environment."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

from patrolmap.hazards import parse_webhooks

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SQLITE_PATH = PROJECT_ROOT / "instance" / "patrolmap.sqlite3"


def normalise_database_url(url: str) -> str:
    """Pick the psycopg 3 driver for plain postgres URLs, as Heroku-style URLs omit it."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def engine_options(url: str) -> dict[str, Any]:
    """Pool options; psycopg must not prepare statements, or a bbox query gets a generic plan.

    With server-side prepared statements PostgreSQL plans a bbox query once for any bbox,
    and a whole-campus bbox then runs the plan meant for a city block (100 ms instead of 1).
    """
    options: dict[str, Any] = {"pool_pre_ping": True}
    if url.startswith(("postgres://", "postgresql")):
        # connect_timeout: a database host that does not answer at all makes a 503 in seconds, not a hung worker.
        options["connect_args"] = {"prepare_threshold": None, "connect_timeout": 10}
    return options


def tile_crs(value: str, variable: str) -> str:
    """A tile source's CRS name (wgs84 or gcj02; cgcs2000 is drawn as wgs84), or a clear error."""
    name = value.strip().lower().replace("-", "").replace("_", "")
    names = {"wgs84": "wgs84", "epsg4326": "wgs84", "epsg3857": "wgs84", "cgcs2000": "wgs84", "gcj02": "gcj02"}
    if name not in names:
        msg = f"{variable} must be wgs84 or gcj02, not {value!r}"
        raise ValueError(msg)
    return names[name]


def from_environment(env: os._Environ[str] | dict[str, str] | None = None) -> dict[str, Any]:
    """Build the configuration from the environment, with embedded defaults."""
    env = os.environ if env is None else env
    url = env.get("DATABASE_URL") or f"sqlite:///{DEFAULT_SQLITE_PATH}"
    embedded = "DATABASE_URL" not in env
    return {
        "SQLALCHEMY_DATABASE_URI": normalise_database_url(url),
        # A random key keeps a demo safe; deployments set SECRET_KEY so sessions survive restarts.
        "SECRET_KEY": env.get("SECRET_KEY") or secrets.token_hex(32),
        # The embedded default creates its schema and loads the sample campus on first run.
        "AUTO_INIT_DB": env.get("PATROLMAP_AUTO_INIT", "1" if embedded else "0") == "1",
        "SAMPLE_GEODATA": env.get("PATROLMAP_SAMPLE_GEODATA", str(PROJECT_ROOT / "geodata")),
        "DEFAULT_TIMEZONE": env.get("PATROLMAP_TIMEZONE", "Asia/Shanghai"),
        "SQLITE_BUSY_TIMEOUT_MS": int(env.get("PATROLMAP_SQLITE_BUSY_TIMEOUT_MS", "30000")),
        "MAX_CONTENT_LENGTH": int(env.get("PATROLMAP_MAX_CONTENT_LENGTH", str(16 * 1024 * 1024))),
        "SESSION_IDLE_MINUTES": int(env.get("PATROLMAP_SESSION_IDLE_MINUTES", "30")),
        "SESSION_ABSOLUTE_HOURS": int(env.get("PATROLMAP_SESSION_ABSOLUTE_HOURS", "12")),
        # Set to 1 when served over HTTPS, so that the session cookie never travels in clear.
        "SESSION_COOKIE_SECURE": env.get("PATROLMAP_SECURE_COOKIES", "0") == "1",
        # Plates and reporter names of older violations are anonymised by `purge-personal-data`.
        "RETENTION_DAYS": int(env.get("PATROLMAP_RETENTION_DAYS", "365")),
        # A JSON file laid over the built-in workday calendar (later years, school terms): see
        # patrolmap/analysis/calendar_cn.json for the format.
        "CALENDAR": env.get("PATROLMAP_CALENDAR") or None,
        # Evidence photos: originals and their EXIF-free display copies, in files named by SHA-256.
        "EVIDENCE_DIR": env.get("PATROLMAP_EVIDENCE_DIR", str(PROJECT_ROOT / "instance" / "evidence")),
        # ...or, with "database", in the database itself: app servers on several hosts need no shared
        # directory, and every database backup holds the photos.
        "EVIDENCE_STORE": env.get("PATROLMAP_EVIDENCE_STORE", "files"),
        "MAX_PHOTO_BYTES": int(env.get("PATROLMAP_MAX_PHOTO_BYTES", str(10 * 1024 * 1024))),
        # The largest file uploaded on /import, in MB (MiB); it may exceed MAX_CONTENT_LENGTH, which the import
        # endpoint raises for its own requests.
        "MAX_IMPORT_MB": float(env.get("PATROLMAP_MAX_IMPORT_MB", "50")),
        # The interface language when neither the person nor the browser names one: zh_CN or en.
        "DEFAULT_LANGUAGE": env.get("PATROLMAP_LANGUAGE", "zh_CN"),
        # Anonymous visitors may see buildings, paths and chargers on the overview map.
        "PUBLIC_VIEW": env.get("PATROLMAP_PUBLIC_VIEW", "0") == "1",
        # Patrol speeds for route durations: walking and vehicle patrols, metres per minute.
        "WALK_SPEED_M_PER_MIN": float(env.get("PATROLMAP_WALK_SPEED_M_PER_MIN", "80")),
        "DRIVE_SPEED_M_PER_MIN": float(env.get("PATROLMAP_DRIVE_SPEED_M_PER_MIN", "250")),
        # The address people reach patrolmap at (https://patrol.example.edu), for the URLs printed in QR
        # plaques; unset, the address of the request that prints them.
        "PUBLIC_URL": env.get("PATROLMAP_PUBLIC_URL") or None,
        # Proxies (load balancers) in front of the app servers whose X-Forwarded-For/-Proto/-Host are trusted: the
        # sign-in limit per address then counts the person's address, not the load balancer's.
        "PROXY_HOPS": int(env.get("PATROLMAP_PROXY_HOPS", "0")),
        "LOGIN_LIMIT_PER_ACCOUNT": 5,
        "LOGIN_LIMIT_PER_ADDRESS": 20,
        "API_DEFAULT_LIMIT": 1000,
        # Features a map layer draws one by one; beyond this the view shows counted cells.
        "MAP_FEATURE_LIMIT": 2000,
        # An extra basemap: an XYZ tile URL (an intranet tile server or patrolmap's own MBTiles).
        "TILE_URL": env.get("PATROLMAP_TILE_URL"),
        "TILE_NAME": env.get("PATROLMAP_TILE_NAME", "Local tiles"),
        "TILE_ATTRIBUTION": env.get("PATROLMAP_TILE_ATTRIBUTION", ""),
        "TILE_MAX_ZOOM": int(env.get("PATROLMAP_TILE_MAX_ZOOM", "19")),
        # The coordinates its tiles are drawn in: wgs84 (also CGCS2000) or gcj02 (the browser then
        # shifts every feature into GCJ-02 and converts clicks back).
        "TILE_CRS": tile_crs(env.get("PATROLMAP_TILE_CRS", "wgs84"), "PATROLMAP_TILE_CRS"),
        "TILE_SUBDOMAINS": env.get("PATROLMAP_TILE_SUBDOMAINS", "abc"),
        # A Tianditu browser key (tk) offers its street map and imagery; never commit one.
        "TIANDITU_KEY": env.get("PATROLMAP_TIANDITU_KEY") or None,
        # Local MBTiles files served at /tiles/<name>/z/x/y: "name=path[,name=path...]"; their CRS
        # comes from MBTILES_CRS ("name=gcj02[,...]"), else the file's metadata, else wgs84.
        "MBTILES": env.get("PATROLMAP_MBTILES", ""),
        "MBTILES_CRS": env.get("PATROLMAP_MBTILES_CRS", ""),
        "API_MAX_LIMIT": 10000,
        # Where hazard deadline reminders are posted besides the app: a JSON list of
        # {"name", "kind": "wecom"|"dingtalk"|"generic", "url", "secret"?}; checked here, so a bad one stops the start.
        "WEBHOOKS": parse_webhooks(env.get("PATROLMAP_WEBHOOKS")),
        # Seconds a webhook may take to answer before the reminder counts as failed (retried next run).
        "WEBHOOK_TIMEOUT": float(env.get("PATROLMAP_WEBHOOK_TIMEOUT", "5")),
        # Test-only: pages put stored strings in unescaped (Jinja autoescaping off, popups built
        # with innerHTML), to prove that the Content-Security-Policy alone stops injected script.
        # Never read from the environment; create_app refuses to start with it unless TESTING is on.
        "UNSAFE_NO_ESCAPING_FOR_TESTS": False,
    }
