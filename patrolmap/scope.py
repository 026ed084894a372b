"""What part of a deployment a caller may see: one university's campuses, maybe fewer, and which layers.

One deployment can serve several universities. Every query the web layer makes
passes through a Scope, so a user of one university never sees, counts or
changes another's data, and a user limited to some campuses sees only those.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from patrolmap.access import SEES_PERSONAL_DATA
from patrolmap.hazards import SEES_ALL_HAZARDS
from patrolmap.layers import LAYERS
from patrolmap.models import Campus, User

# The anonymous public view (off by default) shows the campus, never enforcement data.
PUBLIC_LAYERS = frozenset({"buildings", "paths", "chargers"})
# A responsible unit alone sees only its own unit's hazards (through /api/hazards), so not the whole layer.
UNIT_HIDDEN_LAYERS = frozenset({"hazards"})


@dataclass(frozen=True)
class Scope:
    campus_ids: frozenset[int] | None  # None: every campus of the deployment
    layers: frozenset[str] | None  # None: every layer
    personal_data: bool  # plates and reporter names in clear
    deployment_wide: bool  # may see changes that belong to no campus (users, retention runs)

    def sees_campus(self, campus_id: int) -> bool:
        return self.campus_ids is None or campus_id in self.campus_ids

    def sees_layer(self, layer_id: str) -> bool:
        return self.layers is None or layer_id in self.layers


NOTHING = Scope(frozenset(), frozenset(), personal_data=False, deployment_wide=False)


def scope_for(session: Session, user: User | None, *, public_view: bool = False) -> Scope:
    """The scope of a signed-in user, or of an anonymous caller (the public view, if it is on)."""
    if user is None:
        if not public_view:
            return NOTHING
        return Scope(None, PUBLIC_LAYERS, personal_data=False, deployment_wide=False)
    limited_to = {slug for slug in user.campuses.split(",") if slug}
    personal = bool(user.role_set & SEES_PERSONAL_DATA)
    layers = None
    if not user.role_set & SEES_ALL_HAZARDS:
        layers = frozenset(LAYERS) - UNIT_HIDDEN_LAYERS
    if user.university is None and not limited_to:
        return Scope(None, layers, personal_data=personal, deployment_wide=True)
    stmt = select(Campus.id, Campus.slug)
    if user.university is not None:
        stmt = stmt.where(Campus.university == user.university)
    ids = frozenset(cid for cid, slug in session.execute(stmt) if not limited_to or slug in limited_to)
    return Scope(ids, layers, personal_data=personal, deployment_wide=False)
