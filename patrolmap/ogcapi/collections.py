"""The collections the OGC API offers: one per layer, plus the saved patrol routes.

Who sees a collection follows the rest of patrolmap: a layer collection is visible when the
caller's scope shows the layer (the public view: buildings, paths and chargers), the patrol
routes when the access table lets the caller read saved routes. Properties are described once
here, for the OpenAPI document, the HTML tables and the simple property filters (queryables).
"""

from __future__ import annotations

from dataclasses import dataclass

from patrolmap.access import allowed, rule_for
from patrolmap.geo.schema import SCHEMAS, FieldSpec
from patrolmap.layers import LAYERS
from patrolmap.scope import Scope
from patrolmap.wording import LAYER_TITLES, N_

# Personal data: never offered as a filter to a caller who sees it masked (a filter would reveal it).
PERSONAL_FIELDS = frozenset({"plate", "reporter"})
ROUTE_MODES = ("walk", "drive")


@dataclass(frozen=True)
class Property:
    """One property of a collection's features, as JSON Schema names its type."""

    name: str
    type: str  # "string", "integer", "number", "boolean"
    format: str | None = None  # "date-time" for times
    enum: tuple[str, ...] | None = None
    queryable: bool = False  # offered as a simple filter: ?name=value

    def schema(self) -> dict[str, object]:
        out: dict[str, object] = {"type": self.type}
        if self.format:
            out["format"] = self.format
        if self.enum:
            out["enum"] = list(self.enum)
        return out


@dataclass(frozen=True)
class Collection:
    id: str
    title: str  # a catalogue message id (N_), translated when answered
    description: str
    layer_id: str | None = None  # the store layer; None for the patrol routes
    time_property: str | None = None  # what ?datetime= filters on, for collections that have a time

    @property
    def geometry_types(self) -> tuple[str, ...]:
        if self.layer_id is None:
            return ("MultiLineString",)
        return SCHEMAS[self.layer_id].geometry_types


_SCHEMA_TYPES = {"str": "string", "hours": "string", "int": "integer", "float": "number", "bool": "boolean",
                 "datetime": "string"}

DESCRIPTIONS = {
    "buildings": N_("Campus buildings by kind, with residents, floors and college."),
    "grid-zones": N_("Grid zones and their grid officers."),
    "paths": N_("The path network: roads, service roads, footways; fire lanes and one-way streets marked."),
    "checkpoints": N_("Patrol checkpoints."),
    "patrol-routes": N_("Saved patrol routes: one feature per route, the tours of all its teams."),
    "violations": N_("Recorded parking violations (voided ones left out); times in the campus's time zone."),
    "duty-posts": N_("Traffic duty posts and their hours."),
    "chargers": N_("EV chargers, existing and planned."),
    "parking-lots": N_("Parking lots and their capacity."),
    "hotspots": N_("Hotspots marked by traffic staff."),
    "hazards": N_("Reported safety hazards and their rectification."),
}
# The order of /collections: the list, marked hotspots before hazards.
ORDER = ("buildings", "grid-zones", "paths", "checkpoints", "patrol-routes", "violations", "duty-posts",
         "chargers", "parking-lots", "hotspots", "hazards")
TIME_PROPERTIES = {"violations": "observed_at", "hazards": "reported_at"}
PATROL_ROUTES_TITLE = N_("Patrol routes")


def _make(collection_id: str) -> Collection:
    if collection_id == "patrol-routes":
        return Collection(collection_id, PATROL_ROUTES_TITLE, DESCRIPTIONS[collection_id])
    return Collection(collection_id, LAYER_TITLES[collection_id], DESCRIPTIONS[collection_id],
                      layer_id=collection_id, time_property=TIME_PROPERTIES.get(collection_id))


COLLECTIONS: dict[str, Collection] = {cid: _make(cid) for cid in ORDER}
assert set(COLLECTIONS) - {"patrol-routes"} == set(LAYERS), "every layer is a collection"


def is_visible(collection: Collection, scope: Scope, roles: frozenset[str] | None, *, public_view: bool) -> bool:
    """Whether the caller may read this collection; others answer as if it did not exist."""
    if collection.layer_id is not None:
        return scope.sees_layer(collection.layer_id)
    rule = rule_for("saved_routes.list_saved_routes", "GET")
    return rule is not None and allowed(rule, roles, public_view=public_view)


def _field_property(spec: FieldSpec, derived: tuple[str, ...]) -> Property:
    kind = _SCHEMA_TYPES[spec.type]
    return Property(spec.name, kind, format="date-time" if spec.type == "datetime" else None,
                    enum=spec.choices, queryable=spec.type != "datetime" and spec.name not in derived)


def properties(collection: Collection, scope: Scope) -> list[Property]:
    """The properties each feature of the collection carries, in the order they are answered."""
    if collection.layer_id is None:
        return [
            Property("name", "string", queryable=True), Property("mode", "string", enum=ROUTE_MODES, queryable=True),
            Property("teams", "integer", queryable=True), Property("stops", "integer"),
            Property("length_m", "number"), Property("shift_start", "string"), Property("shift_end", "string"),
            Property("shift_days", "string"), Property("visits_per_shift", "integer"),
            Property("checkin_radius_m", "number"), Property("late_after_min", "number"), Property("note", "string"),
            Property("version", "integer"), Property("updated_at", "string", format="date-time"),
            Property("campus", "integer"),
        ]
    layer = LAYERS[collection.layer_id]
    out = [Property("source_id", "string", queryable=True)]
    for spec in layer.schema.fields:
        prop = _field_property(spec, layer.derived)
        if spec.name in PERSONAL_FIELDS and not scope.personal_data:
            if spec.name == "reporter":
                continue  # left out altogether, as the layer API does
            prop = Property(prop.name, prop.type)  # masked: shown, never a filter
        out.append(prop)
    if collection.layer_id == "violations":
        out += [Property("near_fire_lane", "boolean", queryable=True), Property("version", "integer")]
    if collection.layer_id == "grid-zones":
        out.append(Property("officer_id", "integer"))
    if collection.layer_id == "hazards":
        out += [Property("overdue", "boolean"), Property("state", "string")]
    out.append(Property("campus", "integer"))
    return out


def queryables(collection: Collection, scope: Scope) -> dict[str, Property]:
    return {p.name: p for p in properties(collection, scope) if p.queryable}
