"""The layer registry: one id per layer, used by the CLI, the API and the maps.

Adding a layer is one entry here; `check_registry` runs at start-up so that a
schema field without a column fails the app's start, not a user's import.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import inspect

from patrolmap.geo.schema import SCHEMAS, LayerSchema
from patrolmap.models import (
    Building,
    Charger,
    Checkpoint,
    DutyPost,
    Feature,
    GridZone,
    Hazard,
    MarkedHotspot,
    ParkingLot,
    PathSegment,
    Violation,
)


@dataclass(frozen=True)
class Style:
    """How a layer draws: one colour, or a colour per value of one property."""

    color: str
    by: str | None = None
    colors: tuple[tuple[str, str], ...] = ()
    weight: float = 2.0
    fill_opacity: float = 0.35
    radius: float = 6.0
    # A line or point drawn heavier when this boolean property is true (fire lanes).
    emphasis: str | None = None


@dataclass(frozen=True)
class Layer:
    id: str
    model: type[Feature]
    title: str
    style: Style
    # Properties shown in a popup, in order.
    popup: tuple[str, ...] = ("name",)
    # Schema fields that are not plain columns of the model (the store resolves them).
    derived: tuple[str, ...] = ()
    # Dense layers are shown as counted cells when a view holds more than the page limit.
    dense: bool = False

    @property
    def schema(self) -> LayerSchema:
        return SCHEMAS[self.id]

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(f for f in self.schema.field_names if f not in self.derived)


BUILDING_COLORS = (
    ("dorm", "#e6550d"), ("staff_apartment", "#fd8d3c"), ("canteen", "#d62728"), ("teaching", "#3182bd"),
    ("lab", "#756bb1"), ("library", "#31a354"), ("admin", "#636363"), ("gate", "#000000"),
    ("sports", "#17becf"), ("other", "#bdbdbd"),
)
VIOLATION_COLORS = (
    ("fire_lane", "#b10026"), ("entrance", "#fc4e2a"), ("no_parking", "#fd8d3c"), ("zombie", "#6a51a3"),
    ("other", "#969696"),
)
HOTSPOT_COLORS = (
    ("no_parking_watch", "#ff7f00"), ("fire_lane_watch", "#b10026"), ("peak_hour_post", "#283593"),
    ("tow_away_zone", "#6a51a3"),
)
# Hazards by status, and red over any status once overdue (the store adds the "state" property that says which).
HAZARD_COLORS = (
    ("reported", "#ff7f00"), ("notice_issued", "#fdae61"), ("rectifying", "#2c7bb6"), ("rectified", "#1a9850"),
    ("escalated", "#7b3294"), ("closed", "#969696"), ("overdue", "#d7191c"),
)

LAYERS: dict[str, Layer] = {
    layer.id: layer
    for layer in (
        Layer("buildings", Building, "Buildings", Style("#8c8c8c", by="kind", colors=BUILDING_COLORS),
              popup=("name", "kind", "residents", "floors", "college", "hours")),
        Layer("grid-zones", GridZone, "Grid zones", Style("#6a3d9a", weight=2, fill_opacity=0.08),
              popup=("name", "officer", "officer_phone"), derived=("officer", "officer_phone")),
        Layer("paths", PathSegment, "Path network", Style("#9e9e9e", weight=2, emphasis="fire_lane"),
              popup=("name", "kind", "fire_lane", "oneway", "access", "speed_limit_kmh")),
        Layer("checkpoints", Checkpoint, "Checkpoints", Style("#1f78b4", radius=6), popup=("name", "kind")),
        Layer("parking-lots", ParkingLot, "Parking lots", Style("#33a02c", fill_opacity=0.2),
              popup=("name", "capacity")),
        Layer("chargers", Charger, "EV chargers",
              Style("#00897b", by="status", colors=(("existing", "#00897b"), ("planned", "#ff9800")), radius=7),
              popup=("name", "kind", "status", "ports", "power_kw", "operator")),
        Layer("duty-posts", DutyPost, "Duty posts", Style("#283593", radius=8), popup=("name", "hours")),
        Layer("violations", Violation, "Parking violations",
              Style("#e31a1c", by="kind", colors=VIOLATION_COLORS, radius=5, emphasis="near_fire_lane"),
              popup=("kind", "observed_at", "plate", "status", "note", "reporter", "near_fire_lane"), dense=True),
        Layer("hotspots", MarkedHotspot, "Marked hotspots",
              Style("#ff7f00", by="kind", colors=HOTSPOT_COLORS, weight=3, fill_opacity=0.15),
              popup=("name", "kind", "hours", "note")),
        Layer("hazards", Hazard, "Hazards",
              Style("#ff7f00", by="state", colors=HAZARD_COLORS, radius=7, emphasis="overdue"),
              popup=("category", "status", "overdue", "urgency", "description", "notice_number", "responsible_unit",
                     "deadline", "reported_at")),
    )
}


class UnknownLayer(KeyError):
    pass


def get_layer(layer_id: str) -> Layer:
    try:
        return LAYERS[layer_id]
    except KeyError:
        msg = f"unknown layer {layer_id!r}; layers are {', '.join(LAYERS)}"
        raise UnknownLayer(msg) from None


def check_registry() -> None:
    """Fail fast when a layer's schema names a field its model does not store."""
    for layer in LAYERS.values():
        if layer.id not in SCHEMAS:
            msg = f"layer {layer.id} has no schema"
            raise RuntimeError(msg)
        names = {c.key for c in inspect(layer.model).column_attrs}
        missing = [f for f in layer.columns if f not in names]
        if missing or "geom" not in names:
            msg = f"layer {layer.id}: model {layer.model.__name__} lacks {missing or ['geom']}"
            raise RuntimeError(msg)
