"""What each layer's features may carry: the rules every import and write is checked against.

Pure data, shared by validation (here in ``geo``) and by the layer registry that
ties a layer id to its database model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

BUILDING_KINDS = (
    "dorm", "staff_apartment", "canteen", "teaching", "lab", "library", "admin", "gate", "sports", "other",
)
PATH_KINDS = ("road", "service", "footway", "steps", "cycleway", "track", "other")
ACCESS_KINDS = ("public", "private")
CHARGER_KINDS = ("car", "ebike")
CHARGER_STATUSES = ("existing", "planned")
VIOLATION_KINDS = ("fire_lane", "entrance", "no_parking", "zombie", "other")
VIOLATION_STATUSES = ("open", "notified", "towed", "resolved", "void")
# Marked hotspots: watched for no-parking, watched for fire lanes, a peak-hour post's area, a tow-away zone.
HOTSPOT_KINDS = ("no_parking_watch", "fire_lane_watch", "peak_hour_post", "tow_away_zone")
# Hazards: the vocabulary of patrolmap.hazards, which holds the rectification loop.
HAZARD_CATEGORIES = ("fire", "electrical", "ebike_indoor", "lab", "structural", "traffic", "other")
HAZARD_URGENCIES = ("urgent", "high", "normal")
HAZARD_STATUSES = ("reported", "notice_issued", "rectifying", "rectified", "closed", "escalated")
CHECKPOINT_KINDS = ("gate", "dorm", "lab", "canteen", "teaching", "office", "parking", "patrol_point", "other")

POLYGONAL = ("Polygon", "MultiPolygon")
LINEAR = ("LineString",)
PUNCTUAL = ("Point",)


@dataclass(frozen=True)
class FieldSpec:
    """One attribute: its type, whether it must be present, and its allowed values."""

    name: str
    type: str  # "str", "int", "float", "bool", "datetime", "hours" (e.g. "07:00-09:00,11:30-13:00")
    required: bool = False
    choices: tuple[str, ...] | None = None
    default: Any = None
    min: float | None = None
    max: float | None = None
    max_length: int = 200


@dataclass(frozen=True)
class LayerSchema:
    """A layer's geometry types and fields, in the order they are exported."""

    layer: str
    geometry_types: tuple[str, ...]
    fields: tuple[FieldSpec, ...] = field(default_factory=tuple)

    def field(self, name: str) -> FieldSpec:
        for spec in self.fields:
            if spec.name == name:
                return spec
        raise KeyError(name)

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(spec.name for spec in self.fields)


def _name(required: bool = False) -> FieldSpec:
    return FieldSpec("name", "str", required=required)


SCHEMAS: dict[str, LayerSchema] = {
    schema.layer: schema
    for schema in (
        LayerSchema("buildings", POLYGONAL, (
            _name(),
            FieldSpec("name_en", "str"),
            FieldSpec("kind", "str", choices=BUILDING_KINDS, default="other"),
            FieldSpec("residents", "int", min=0, max=100_000),
            FieldSpec("floors", "int", min=0, max=200),
            FieldSpec("college", "str"),
            FieldSpec("hours", "hours"),
        )),
        LayerSchema("grid-zones", POLYGONAL, (
            _name(required=True),
            FieldSpec("officer", "str"),
            FieldSpec("officer_phone", "str", max_length=64),
        )),
        LayerSchema("paths", LINEAR, (
            _name(),
            FieldSpec("kind", "str", choices=PATH_KINDS, default="footway"),
            FieldSpec("fire_lane", "bool", default=False),
            FieldSpec("oneway", "bool", default=False),
            FieldSpec("access", "str", choices=ACCESS_KINDS, default="public"),
            FieldSpec("speed_limit_kmh", "float", min=0, max=200),
        )),
        LayerSchema("checkpoints", PUNCTUAL, (
            _name(required=True),
            FieldSpec("kind", "str", choices=CHECKPOINT_KINDS, default="other"),
        )),
        LayerSchema("parking-lots", POLYGONAL + PUNCTUAL, (
            _name(),
            FieldSpec("capacity", "int", min=0, max=100_000),
        )),
        LayerSchema("chargers", PUNCTUAL, (
            _name(),
            FieldSpec("kind", "str", choices=CHARGER_KINDS, default="car"),
            FieldSpec("ports", "int", min=0, max=10_000),
            FieldSpec("power_kw", "float", min=0, max=1000),
            FieldSpec("status", "str", choices=CHARGER_STATUSES, default="existing"),
            FieldSpec("operator", "str"),
        )),
        LayerSchema("duty-posts", PUNCTUAL, (
            _name(required=True),
            FieldSpec("hours", "str"),
        )),
        LayerSchema("violations", PUNCTUAL, (
            FieldSpec("observed_at", "datetime", required=True),
            FieldSpec("kind", "str", required=True, choices=VIOLATION_KINDS),
            FieldSpec("plate", "str", max_length=32),
            FieldSpec("status", "str", choices=VIOLATION_STATUSES, default="open"),
            FieldSpec("note", "str", max_length=2000),
            FieldSpec("reporter", "str"),
        )),
        LayerSchema("hotspots", POLYGONAL, (
            _name(required=True),
            FieldSpec("kind", "str", required=True, choices=HOTSPOT_KINDS),
            FieldSpec("hours", "hours"),
            FieldSpec("note", "str", max_length=2000),
        )),
        # Hazards found on campus and followed until fixed; imports bring records from elsewhere (the loop's
        # later steps and their events are made through the API).
        LayerSchema("hazards", PUNCTUAL, (
            FieldSpec("category", "str", required=True, choices=HAZARD_CATEGORIES),
            FieldSpec("description", "str", required=True, max_length=2000),
            FieldSpec("urgency", "str", choices=HAZARD_URGENCIES, default="normal"),
            FieldSpec("status", "str", choices=HAZARD_STATUSES, default="reported"),
            FieldSpec("reported_by", "str", required=True),
            FieldSpec("reported_at", "datetime", required=True),
            FieldSpec("notice_number", "str", max_length=64),
            FieldSpec("responsible_unit", "str"),
            FieldSpec("deadline", "datetime"),
        )),
    )
}
