"""Unbound extensions, bound to an app in the factory."""

from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy

from patrolmap.models import Base

db = SQLAlchemy(model_class=Base)
migrate = Migrate()
