"""First run of the embedded default: create the schema and load the sample campus."""

from __future__ import annotations

from pathlib import Path

from flask import Flask
from flask_migrate import upgrade
from sqlalchemy import inspect, make_url, select

from patrolmap.extensions import db
from patrolmap.models import Campus


def first_run(app: Flask) -> None:
    """Bring the schema up to date and, on an empty store, load the sample campus."""
    url = make_url(app.config["SQLALCHEMY_DATABASE_URI"])
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    with app.app_context():
        upgrade()
        if inspect(db.engine).has_table("campuses") and db.session.scalars(select(Campus)).first() is None:
            load_sample(app)
        ensure_demo_admin(app)
        db.session.remove()


def load_sample(app: Flask) -> None:
    """Load every campus folder under SAMPLE_GEODATA."""
    from patrolmap.importing import load_geodata

    root = Path(app.config["SAMPLE_GEODATA"])
    if not root.is_dir():
        return
    for folder in sorted(p for p in root.iterdir() if (p / "campus.json").exists()):
        summary = load_geodata(db.session, folder, actor="sample")
        app.logger.info("loaded sample campus %s", " ".join(summary.lines()))


def ensure_demo_admin(app: Flask) -> None:
    """On a store with no users, create `admin` with a fresh password and say it once on the console."""
    from patrolmap.auth.passwords import generate_password, hash_password
    from patrolmap.database import write_transaction
    from patrolmap.models import AuditEntry, User

    if db.session.scalars(select(User.id)).first() is not None:
        return
    password = generate_password()
    with write_transaction(db.session):
        db.session.add(User(username="admin", display_name="Administrator", roles="admin",
                            password_hash=hash_password(password)))
        db.session.add(AuditEntry(actor="first-run", action="create", layer="users",
                                  after={"username": "admin", "roles": "admin"}, reason="first run: demo admin"))
    message = (f"patrolmap: sign in as 'admin' with the password {password} (shown once; "
               "add people with `flask --app patrolmap create-user`)")
    print(message, flush=True)
