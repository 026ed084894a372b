"""patrolmap: campus security maps for patrol leads, traffic staff, planners and grid officers."""

from __future__ import annotations

import gc
from collections.abc import Mapping
from typing import Any

from flask import Flask

from patrolmap import config as config_module
from patrolmap.database import configure_engine
from patrolmap.degraded import register_degraded_handlers
from patrolmap.errors import register_error_handlers
from patrolmap.extensions import db, migrate
from patrolmap.hazards import parse_webhooks
from patrolmap.idempotency import register_idempotency
from patrolmap.layers import check_registry


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app: configuration, extensions, blueprints, errors, commands, first-run set-up."""
    app = Flask(__name__, static_folder="../static", template_folder="../templates")
    app.config.from_mapping(config_module.from_environment())
    if config:
        app.config.from_mapping(config)
    app.config["WEBHOOKS"] = parse_webhooks(app.config.get("WEBHOOKS"))  # also when given as a list
    url = config_module.normalise_database_url(app.config["SQLALCHEMY_DATABASE_URI"])
    app.config["SQLALCHEMY_DATABASE_URI"] = url
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {
        **config_module.engine_options(url), **app.config.get("SQLALCHEMY_ENGINE_OPTIONS", {}),
    }
    if app.config.get("PROXY_HOPS"):
        from werkzeug.middleware.proxy_fix import ProxyFix

        hops = int(app.config["PROXY_HOPS"])
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)  # type: ignore[method-assign]
    if app.config.get("EVIDENCE_STORE", "files") not in ("files", "database"):
        msg = f"PATROLMAP_EVIDENCE_STORE must be files or database, not {app.config['EVIDENCE_STORE']!r}"
        raise RuntimeError(msg)
    if app.config.get("UNSAFE_NO_ESCAPING_FOR_TESTS"):
        if not app.testing:
            msg = "UNSAFE_NO_ESCAPING_FOR_TESTS turns off HTML escaping and is only for tests (set TESTING)"
            raise RuntimeError(msg)
        app.jinja_env.autoescape = False
    register_extensions(app)
    register_blueprints(app)
    register_error_handlers(app)
    register_degraded_handlers(app)
    register_idempotency(app)  # after sign-in and the access check, which register_blueprints installs
    register_commands(app)
    check_registry()
    if app.config["AUTO_INIT_DB"]:
        from patrolmap.firstrun import first_run

        first_run(app)
    if app.config.get("GC_FREEZE", not app.testing):
        # Everything built so far (the app, pandas, shapely, SQLAlchemy) lives as long as the
        # process; freezing it spares every later collection a rescan, which otherwise made
        # a page of 1,000 features 2.5x slower.
        gc.freeze()
    return app


def register_extensions(app: Flask) -> None:
    import patrolmap.audit  # noqa: F401  (installs the guard that keeps the audit log append-only)
    from patrolmap.i18n import init_i18n

    db.init_app(app)
    init_i18n(app)
    migrate.init_app(app, db, directory=str(config_module.PROJECT_ROOT / "migrations"))
    with app.app_context():
        configure_engine(db.engine, busy_timeout_ms=app.config["SQLITE_BUSY_TIMEOUT_MS"])


def register_blueprints(app: Flask) -> None:
    from patrolmap.web import (
        admin,
        analysis_api,
        api,
        apidocs,
        chargers_api,
        compare_api,
        downloads,
        dutyposts_api,
        edit_api,
        evidence,
        grid_api,
        hazards_api,
        health,
        hotspots_api,
        import_api,
        ogcapi,
        pages,
        patrol_exec,
        patrol_select_api,
        reports_api,
        routes_api,
        saved_routes_api,
        tiles,
    )
    from patrolmap.web.auth import register_auth
    from patrolmap.web.converters import StoredId
    from patrolmap.web.inputs import register_inputs
    from patrolmap.web.security import register_security

    app.url_map.converters["int"] = StoredId  # before any rule: ids beyond the id columns answer 404, not a 500
    register_security(app)
    register_inputs(app)  # NUL in text is a 400 before anything reads the request
    register_auth(app)
    app.register_blueprint(api.bp)
    app.register_blueprint(pages.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(dutyposts_api.bp)
    app.register_blueprint(compare_api.bp)
    app.register_blueprint(routes_api.bp)
    app.register_blueprint(saved_routes_api.bp)
    app.register_blueprint(patrol_select_api.bp)
    app.register_blueprint(analysis_api.bp)
    app.register_blueprint(evidence.bp)
    app.register_blueprint(hotspots_api.bp)
    app.register_blueprint(tiles.bp)
    app.register_blueprint(patrol_exec.bp)
    app.register_blueprint(chargers_api.bp)
    app.register_blueprint(grid_api.bp)
    app.register_blueprint(hazards_api.bp)
    app.register_blueprint(ogcapi.bp)
    app.register_blueprint(downloads.bp)
    app.register_blueprint(edit_api.bp)
    app.register_blueprint(import_api.bp)
    app.register_blueprint(reports_api.bp)
    app.register_blueprint(health.bp)
    app.register_blueprint(apidocs.bp)


def register_commands(app: Flask) -> None:
    from patrolmap import cli

    cli.register(app)
