"""HTML pages."""

from __future__ import annotations

from flask import Blueprint, render_template

from patrolmap.extensions import db
from patrolmap.layers import LAYERS
from patrolmap.store import count_features, list_campuses

bp = Blueprint("pages", __name__)


@bp.get("/")
def index() -> str:
    campuses = list_campuses(db.session)
    counts = {layer_id: count_features(db.session, layer_id) for layer_id in LAYERS}
    return render_template("index.html", campuses=campuses, layers=LAYERS, counts=counts)
