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
    ParkingLot,
    PathSegment,
    Violation,
)


@dataclass(frozen=True)
class Layer:
    id: str
    model: type[Feature]
    title: str
    # Schema fields that are not plain columns of the model (the store resolves them).
    derived: tuple[str, ...] = ()

    @property
    def schema(self) -> LayerSchema:
        return SCHEMAS[self.id]

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(f for f in self.schema.field_names if f not in self.derived)


LAYERS: dict[str, Layer] = {
    layer.id: layer
    for layer in (
        Layer("buildings", Building, "Buildings"),
        Layer("grid-zones", GridZone, "Grid zones", derived=("officer", "officer_phone")),
        Layer("paths", PathSegment, "Path network"),
        Layer("checkpoints", Checkpoint, "Checkpoints"),
        Layer("parking-lots", ParkingLot, "Parking lots"),
        Layer("chargers", Charger, "EV chargers"),
        Layer("duty-posts", DutyPost, "Duty posts"),
        Layer("violations", Violation, "Parking violations"),
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
